/*
 * alert_silence.c - label matchers of silences (alert.h) and inhibition
 * (alert_int.h): which alerts are kept from notification.
 */
#include "alert_int.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pw_err
pw_alert_matcher_parse(const char *s, json_t **out, char *msg, size_t msglen)
{
    const char *ops[] = { "!~", "=~", "!=", "=" };
    const char *p = NULL, *op = NULL;
    char        name[PW_ALERT_NAME_MAX];
    size_t      n;

    *out = NULL;
    /* The name ends at the first operator character. */
    n = strcspn(s, "!=~");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0] && s[n] != '\0'; i++)
        if (strncmp(s + n, ops[i], strlen(ops[i])) == 0) {
            op = ops[i];
            p = s + n + strlen(ops[i]);
            break;
        }
    if (op == NULL || n == 0 || n >= sizeof name) {
        snprintf(msg, msglen, "matcher \"%s\" is not name=value, name!=value, name=~regex or "
                 "name!~regex", s);
        return PW_EINVAL;
    }
    memcpy(name, s, n);
    name[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') || name[i] == '_'
              || (i > 0 && name[i] >= '0' && name[i] <= '9'))) {
            snprintf(msg, msglen, "matcher \"%s\": \"%s\" is not a label name", s, name);
            return PW_EINVAL;
        }
    if (op[1] == '~') {
        regex_t re;
        char   *anch = malloc(strlen(p) + 5);
        int     rc;

        if (anch == NULL)
            return PW_ENOMEM;
        sprintf(anch, "^(%s)$", p);
        rc = regcomp(&re, anch, REG_EXTENDED | REG_NOSUB);
        free(anch);
        if (rc != 0) {
            snprintf(msg, msglen, "matcher \"%s\": not a regular expression", s);
            return PW_EINVAL;
        }
        regfree(&re);
    }
    if ((*out = json_pack("{s:s,s:s,s:s}", "name", name, "op", op, "value", p)) == NULL) {
        snprintf(msg, msglen, "matcher \"%s\": not UTF-8", s);
        return PW_EINVAL;
    }
    return PW_OK;
}

static bool
sl_match_one(const json_t *m, const json_t *labels)
{
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *op = json_string_value(json_object_get(m, "op"));
    const char *want = json_string_value(json_object_get(m, "value"));
    const char *have = name ? json_string_value(json_object_get(labels, name)) : NULL;
    bool        yes;

    if (name == NULL || op == NULL || want == NULL)
        return false;
    if (have == NULL)
        have = "";                       /* a missing label is the empty string, as in Alertmanager */
    if (op[1] == '~') {
        regex_t re;
        char   *anch = malloc(strlen(want) + 5);

        if (anch == NULL)
            return false;
        sprintf(anch, "^(%s)$", want);
        if (regcomp(&re, anch, REG_EXTENDED | REG_NOSUB) != 0) {
            free(anch);
            return false;
        }
        free(anch);
        yes = regexec(&re, have, 0, NULL, 0) == 0;
        regfree(&re);
    } else {
        yes = strcmp(have, want) == 0;
    }
    return op[0] == '!' ? !yes : yes;
}

bool
pw_alert_matchers_match(const json_t *matchers, const json_t *labels)
{
    json_t *m;
    size_t  i;

    if (json_array_size(matchers) == 0)
        return false;                    /* an empty silence silences nothing */
    json_array_foreach(matchers, i, m)
        if (!sl_match_one(m, labels))
            return false;
    return true;
}

/* Every label: value of want is in labels. */
static bool
sl_equal_map(const json_t *want, const json_t *labels)
{
    const char *k;
    json_t     *v;

    json_object_foreach((json_t *) want, k, v) {
        json_t *h = json_object_get(labels, k);

        if (h == NULL || !json_equal(h, v))
            return false;
    }
    return true;
}

bool
pw_alert_inhibited(const pw_alert_config *c, const json_t *labels, const json_t *firing)
{
    for (size_t i = 0; i < c->ninhibit; i++) {
        const pw_alert_inhibit *r = &c->inhibit[i];
        json_t                 *src;
        size_t                  k;

        if (!sl_equal_map(r->target, labels))
            continue;
        json_array_foreach(firing, k, src) {
            json_t *sl = json_object_get(src, "labels"), *name;
            size_t  e;
            bool    same = true;

            if (json_equal(sl, labels) || !sl_equal_map(r->source, sl))
                continue;
            json_array_foreach(r->equal, e, name) {
                json_t *a = json_object_get(sl, json_string_value(name));
                json_t *b = json_object_get(labels, json_string_value(name));

                if (a == NULL || b == NULL || !json_equal(a, b)) {
                    same = false;
                    break;
                }
            }
            if (same)
                return true;
        }
    }
    return false;
}
