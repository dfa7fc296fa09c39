/*
 * http_silences.c - silences over the HTTP API, in the shape of
 * Alertmanager's v2 API so its users read it without a manual:
 *
 *   GET    /api/v1/silences[?state=active|pending|expired][&limit=N]
 *          {"status":"success","data":{"silences":[S...],"truncated":false}}
 *          newest first; a tenant token sees only silences with a matcher
 *          tenant="<its tenant>" (others name pools and units it may not see).
 *   POST   /api/v1/silences   body (application/json):
 *          {"matchers":[{"name","value","isRegex":false,"isEqual":true}],
 *           "startsAt":"RFC 3339"?, "endsAt":"RFC 3339" | "duration":"2h",
 *           "comment":"..."?}
 *          -> {"status":"success","data":{"silenceID":N,"silence":S}}
 *   DELETE /api/v1/silence/<id>  expires it now -> {"silenceID":N,"silence":S}
 *
 *   S = {"id","matchers":[{"name","value","isRegex","isEqual"}],"startsAt",
 *        "endsAt","createdAt","createdBy","comment","status":{"state"}}
 *
 * The silences are those of `poolwatch alerts silence` (alert.h: stored in
 * DIR/alerts.mdb, applied by the engine at its next pass). createdBy is the
 * calling token's name, never what the body says. Roles: reading is
 * read_alerts, adding and expiring write_alerts (admin, operator; http.c's
 * route table). Every call is audited by http.c with the matchers or the id
 * as its object. Bad input is a 400 naming the field and why.
 */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"

#define HSL_MAX_MATCHERS 32
#define HSL_MAX_VALUE    1024                         /* bytes of a matcher's value */
#define HSL_MAX_COMMENT  1024                         /* bytes of the comment */
#define HSL_MAX_SPAN_MS  (INT64_C(366) * 86400000)    /* a silence lasts at most a year */

/* Alertmanager's form of a silence as stored (alert.h); a new object, or NULL. */
static json_t *
hsl_out(const json_t *s, int64_t now)
{
    json_t     *ms = json_array(), *m, *out;
    int64_t     st = json_integer_value(json_object_get(s, "starts_ms"));
    int64_t     en = json_integer_value(json_object_get(s, "ends_ms"));
    int64_t     cr = json_integer_value(json_object_get(s, "created_ms"));
    const char *author = json_string_value(json_object_get(s, "author"));
    const char *comment = json_string_value(json_object_get(s, "comment"));
    char        a[40], b[40], c[40];
    size_t      i;

    if (ms == NULL)
        return NULL;
    json_array_foreach(json_object_get(s, "matchers"), i, m) {
        const char *op = json_string_value(json_object_get(m, "op"));

        if (op == NULL)
            continue;
        if (json_array_append_new(ms, json_pack("{s:O,s:O,s:b,s:b}", "name", json_object_get(m, "name"),
                                                "value", json_object_get(m, "value"), "isRegex",
                                                op[1] == '~', "isEqual", op[0] != '!')) != 0) {
            json_decref(ms);
            return NULL;
        }
    }
    pw_time_format_iso(st, a, sizeof a);
    pw_time_format_iso(en, b, sizeof b);
    pw_time_format_iso(cr, c, sizeof c);
    out = json_pack("{s:O,s:o,s:s,s:s,s:s,s:s,s:s,s:{s:s}}", "id", json_object_get(s, "id"),
                    "matchers", ms, "startsAt", a, "endsAt", b, "createdAt", c,
                    "createdBy", author ? author : "", "comment", comment ? comment : "", "status",
                    "state", now < st ? "pending" : now < en ? "active" : "expired");
    return out;
}

typedef struct hsl_list {
    json_t     *arr;
    const char *tenant;      /* non-NULL: only silences naming it */
    bool        nomem;
} hsl_list;

/* Does the silence have the matcher tenant="<tenant>"? (Then it concerns that tenant only.) */
static bool
hsl_names_tenant(const json_t *s, const char *tenant)
{
    json_t *m;
    size_t  i;

    json_array_foreach(json_object_get(s, "matchers"), i, m) {
        const char *n = json_string_value(json_object_get(m, "name"));
        const char *op = json_string_value(json_object_get(m, "op"));
        const char *v = json_string_value(json_object_get(m, "value"));

        if (n != NULL && op != NULL && v != NULL && strcmp(n, "tenant") == 0 && strcmp(op, "=") == 0
            && strcmp(v, tenant) == 0)
            return true;
    }
    return false;
}

static int
hsl_collect(void *ctx, json_t *s)
{
    hsl_list *l = ctx;

    if (l->tenant != NULL && !hsl_names_tenant(s, l->tenant))
        return 0;
    if (json_array_append(l->arr, s) != 0) {
        l->nomem = true;
        return 1;
    }
    return 0;
}

/* The stored silence with this id (a new reference), or NULL. */
static json_t *
hsl_find(pw_alert_db *db, json_int_t id)
{
    hsl_list l = { .arr = json_array() };
    json_t  *s, *found = NULL;
    size_t   i;

    if (l.arr == NULL || pw_alert_silences(db, hsl_collect, &l) != PW_OK) {
        json_decref(l.arr);
        return NULL;
    }
    json_array_foreach(l.arr, i, s)
        if (json_integer_value(json_object_get(s, "id")) == id) {
            found = json_incref(s);
            break;
        }
    json_decref(l.arr);
    return found;
}

void
pw_http_silences_list(pw_http_call *c)
{
    const char *state = pw_http_get(&c->params, "state");
    const char *limit_s = pw_http_get(&c->params, "limit");
    hsl_list    l = { .arr = NULL };
    json_t     *out = NULL, *s;
    long        limit = 1000;
    char       *end;
    bool        truncated = false;
    pw_err      e;

    if (state != NULL && strcmp(state, "active") != 0 && strcmp(state, "pending") != 0
        && strcmp(state, "expired") != 0) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"state\": active, pending or expired");
        return;
    }
    if (limit_s != NULL && ((limit = strtol(limit_s, &end, 10)) < 1 || limit > 10000 || *end != '\0')) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"limit\": 1 to 10000");
        return;
    }
    if (c->scope->kind == PW_SCOPE_TENANT)
        l.tenant = c->scope->tenant;
    else if (c->scope->kind != PW_SCOPE_ALL) {
        pw_http_error(c, 403, "forbidden", "no silences for this caller");
        return;
    }
    if (c->alerts == NULL) {
        pw_http_error(c, 503, "unavailable", "the alert engine is off (--alert-interval 0)");
        return;
    }
    if ((l.arr = json_array()) == NULL || (out = json_array()) == NULL)
        goto nomem;
    if ((e = pw_alert_silences(c->alerts, hsl_collect, &l)) != PW_OK) {
        pw_http_error(c, 503, "unavailable", "reading alerts.mdb: %s", pw_strerror(e));
        goto done;
    }
    if (l.nomem)
        goto nomem;
    /* Newest first: the ones a person just made or is about to expire lead. */
    for (size_t i = json_array_size(l.arr); i-- > 0;) {
        json_t *o;

        s = json_array_get(l.arr, i);
        if ((o = hsl_out(s, c->now_ms)) == NULL)
            goto nomem;
        if (state != NULL
            && strcmp(json_string_value(json_object_get(json_object_get(o, "status"), "state")),
                      state) != 0) {
            json_decref(o);
            continue;
        }
        if (json_array_size(out) >= (size_t) limit) {
            json_decref(o);
            truncated = true;
            break;
        }
        if (json_array_append_new(out, o) != 0)
            goto nomem;
    }
    pw_http_success(c, json_pack("{s:O,s:b}", "silences", out, "truncated", truncated));
    goto done;
nomem:
    pw_http_error(c, 503, "unavailable", "out of memory");
done:
    json_decref(out);
    json_decref(l.arr);
}

/* A label name as Prometheus has them. */
static bool
hsl_label_name(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (size_t i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'
              || (i > 0 && s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/*
 * The body's matchers as stored ({"name","op","value"}) in *out (new), and
 * their text ("pool=a alertname=~X") for the audit object. PW_EINVAL with
 * the reason in msg.
 */
static pw_err
hsl_matchers(const json_t *in, json_t **out, char *text, size_t textlen, char *msg, size_t msglen)
{
    json_t *arr = NULL, *m, *parsed, *none = NULL;
    size_t  i, off = 0;
    bool    all_empty = true;
    pw_err  e = PW_EINVAL;

    *out = NULL;
    text[0] = '\0';
    if (!json_is_array(in) || json_array_size(in) == 0) {
        snprintf(msg, msglen, "\"matchers\" must be a non-empty array of {name, value, isRegex, isEqual}");
        return PW_EINVAL;
    }
    if (json_array_size(in) > HSL_MAX_MATCHERS) {
        snprintf(msg, msglen, "\"matchers\": at most %d, not %zu", HSL_MAX_MATCHERS, json_array_size(in));
        return PW_EINVAL;
    }
    if ((arr = json_array()) == NULL || (none = json_object()) == NULL) {
        e = PW_ENOMEM;
        goto out;
    }
    json_array_foreach(in, i, m) {
        json_t     *n = json_object_get(m, "name"), *v = json_object_get(m, "value");
        json_t     *re = json_object_get(m, "isRegex"), *eq = json_object_get(m, "isEqual");
        const char *op;
        char       *s, why[300];
        json_t     *one;

        if (!json_is_object(m) || !json_is_string(n) || !json_is_string(v)) {
            snprintf(msg, msglen, "matchers[%zu]: needs \"name\" and \"value\" (strings)", i);
            goto out;
        }
        if ((re != NULL && !json_is_boolean(re)) || (eq != NULL && !json_is_boolean(eq))) {
            snprintf(msg, msglen, "matchers[%zu]: \"isRegex\" and \"isEqual\" are true or false", i);
            goto out;
        }
        if (!hsl_label_name(json_string_value(n))) {
            snprintf(msg, msglen, "matchers[%zu]: \"%.100s\" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)",
                     i, json_string_value(n));
            goto out;
        }
        if (json_string_length(v) > HSL_MAX_VALUE) {
            snprintf(msg, msglen, "matchers[%zu]: the value is longer than %d bytes", i, HSL_MAX_VALUE);
            goto out;
        }
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            snprintf(msg, msglen, "matchers[%zu]: the value holds a NUL character", i);
            goto out;
        }
        op = json_is_true(re) ? (eq == NULL || json_is_true(eq) ? "=~" : "!~")
                              : (eq == NULL || json_is_true(eq) ? "=" : "!=");
        if ((s = malloc(json_string_length(n) + 3 + json_string_length(v))) == NULL) {
            e = PW_ENOMEM;
            goto out;
        }
        sprintf(s, "%s%s%s", json_string_value(n), op, json_string_value(v));
        /* The CLI's parser: the same checks (the regex compiles, anchored) as `alerts silence add`. */
        e = pw_alert_matcher_parse(s, &parsed, why, sizeof why);
        if (e == PW_OK && off < textlen)
            off += (size_t) snprintf(text + off, textlen - off, "%s%s", i > 0 ? " " : "", s);
        free(s);
        if (e == PW_ENOMEM)
            goto out;
        if (e != PW_OK) {
            snprintf(msg, msglen, "matchers[%zu]: %s", i, why);
            e = PW_EINVAL;
            goto out;
        }
        if ((one = json_pack("[O]", parsed)) == NULL) {
            json_decref(parsed);
            e = PW_ENOMEM;
            goto out;
        }
        /* Alertmanager's rule: a silence whose every matcher takes the empty label would silence all. */
        if (!pw_alert_matchers_match(one, none))
            all_empty = false;
        json_decref(one);
        if (json_array_append_new(arr, parsed) != 0) {
            e = PW_ENOMEM;
            goto out;
        }
    }
    if (all_empty) {
        snprintf(msg, msglen, "\"matchers\": at least one must not match the empty string, or the "
                 "silence would silence every alert");
        e = PW_EINVAL;
        goto out;
    }
    *out = arr;
    arr = NULL;
    e = PW_OK;
out:
    if (e == PW_ENOMEM)
        snprintf(msg, msglen, "out of memory");
    json_decref(arr);
    json_decref(none);
    return e;
}

/* A time field: RFC 3339 or Unix seconds (string or number). false if present and bad. */
static bool
hsl_time(const json_t *v, int64_t *ms)
{
    char buf[64];

    if (json_is_number(v)) {
        snprintf(buf, sizeof buf, "%.17g", json_number_value(v));
        return pw_prom_time_parse(buf, ms) == PW_OK;
    }
    return json_is_string(v) && pw_prom_time_parse(json_string_value(v), ms) == PW_OK;
}

void
pw_http_silences_add(pw_http_call *c)
{
    static const char *const known[] = { "matchers", "startsAt", "endsAt", "duration", "comment",
                                         "createdBy", "id" };
    json_t      *body = NULL, *matchers = NULL, *sil = NULL, *v, *out;
    json_error_t jerr;
    const char  *k, *comment = NULL, *ct = c->content_type_in;
    char         msg[512], text[sizeof c->object];
    int64_t      starts = c->now_ms, ends = 0, d;
    uint64_t     id;
    pw_err       e;

    if (ct != NULL && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        pw_http_error(c, 400, "bad_data", "the body must be JSON (Content-Type: application/json), "
                      "not a form");
        return;
    }
    if (c->req_body_len == 0) {
        pw_http_error(c, 400, "bad_data", "no body: send the silence as JSON (matchers, endsAt or "
                      "duration, comment)");
        return;
    }
    if ((body = json_loadb(c->req_body, c->req_body_len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
        pw_http_error(c, 400, "bad_data", "the body is not JSON: line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        return;
    }
    if (!json_is_object(body)) {
        pw_http_error(c, 400, "bad_data", "the body must be a JSON object");
        goto out;
    }
    json_object_foreach(body, k, v) {
        size_t i;

        for (i = 0; i < sizeof known / sizeof known[0] && strcmp(k, known[i]) != 0; i++)
            ;
        if (i == sizeof known / sizeof known[0]) {
            pw_http_error(c, 400, "bad_data", "unknown field \"%.100s\" (matchers, startsAt, endsAt, "
                          "duration, comment)", k);
            goto out;
        }
    }
    v = json_object_get(body, "id");
    if (v != NULL && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0)) {
        pw_http_error(c, 400, "bad_data", "\"id\": a silence cannot be changed; expire it "
                      "(DELETE /api/v1/silence/<id>) and create another");
        goto out;
    }
    if ((e = hsl_matchers(json_object_get(body, "matchers"), &matchers, text, sizeof text, msg,
                          sizeof msg)) != PW_OK) {
        pw_http_set_object(c, text);    /* the matchers read so far: what was tried */
        pw_http_error(c, e == PW_ENOMEM ? 503 : 400, e == PW_ENOMEM ? "unavailable" : "bad_data", "%s",
                      msg);
        goto out;
    }
    pw_http_set_object(c, text);
    if ((v = json_object_get(body, "startsAt")) != NULL && !json_is_null(v)) {
        if (!hsl_time(v, &starts)) {
            pw_http_error(c, 400, "bad_data", "\"startsAt\" is not a time (RFC 3339, e.g. "
                          "2026-05-01T08:00:00+08:00)");
            goto out;
        }
        if (starts < c->now_ms)
            starts = c->now_ms;         /* as Alertmanager: a silence cannot start in the past */
    }
    if ((json_object_get(body, "endsAt") == NULL) == (json_object_get(body, "duration") == NULL)) {
        pw_http_error(c, 400, "bad_data", "give \"endsAt\" or \"duration\" (one of them)");
        goto out;
    }
    if ((v = json_object_get(body, "duration")) != NULL) {
        char buf[64];

        if (json_is_number(v))
            snprintf(buf, sizeof buf, "%.17g", json_number_value(v));
        if ((!json_is_string(v) && !json_is_number(v))
            || pw_prom_duration_parse(json_is_string(v) ? json_string_value(v) : buf, &d) != PW_OK
            || d <= 0) {
            pw_http_error(c, 400, "bad_data", "\"duration\" is not a positive duration (\"2h\", "
                          "\"1d\", or seconds)");
            goto out;
        }
        ends = starts + d;
    } else if (!hsl_time(json_object_get(body, "endsAt"), &ends)) {
        pw_http_error(c, 400, "bad_data", "\"endsAt\" is not a time (RFC 3339, e.g. "
                      "2026-05-01T08:00:00+08:00)");
        goto out;
    } else if (ends <= c->now_ms) {
        pw_http_error(c, 400, "bad_data", "\"endsAt\" is in the past");
        goto out;
    } else if (ends <= starts) {
        pw_http_error(c, 400, "bad_data", "\"endsAt\" is not after \"startsAt\"");
        goto out;
    }
    if (ends - starts > HSL_MAX_SPAN_MS) {
        pw_http_error(c, 400, "bad_data", "the silence is too long: %lld days; at most 366",
                      (long long) ((ends - starts) / 86400000));
        goto out;
    }
    if ((v = json_object_get(body, "comment")) != NULL && !json_is_null(v)) {
        if (!json_is_string(v) || json_string_length(v) > HSL_MAX_COMMENT
            || strlen(json_string_value(v)) != json_string_length(v)) {
            pw_http_error(c, 400, "bad_data", "\"comment\" must be a string of at most %d bytes",
                          HSL_MAX_COMMENT);
            goto out;
        }
        comment = json_string_value(v);
    }
    if (c->alerts == NULL) {
        pw_http_error(c, 503, "unavailable", "the alert engine is off (--alert-interval 0)");
        goto out;
    }
    sil = json_pack("{s:O,s:I,s:I,s:s,s:s?,s:I,s:s}", "matchers", matchers, "starts_ms",
                    (json_int_t) starts, "ends_ms", (json_int_t) ends, "author",
                    c->who->name[0] ? c->who->name : c->who->token_id, "comment", comment,
                    "created_ms", (json_int_t) c->now_ms, "token_id", c->who->token_id);
    if (sil == NULL) {
        pw_http_error(c, 503, "unavailable", "out of memory");
        goto out;
    }
    if ((e = pw_alert_silence_add(c->alerts, sil, &id)) != PW_OK) {
        pw_http_error(c, 503, "unavailable", "writing alerts.mdb: %s", pw_strerror(e));
        goto out;
    }
    if ((out = hsl_out(sil, c->now_ms)) == NULL) {
        pw_http_error(c, 503, "unavailable", "out of memory");
        goto out;
    }
    pw_http_success(c, json_pack("{s:I,s:o}", "silenceID", (json_int_t) id, "silence", out));
out:
    json_decref(sil);
    json_decref(matchers);
    json_decref(body);
}

void
pw_http_silence_expire(pw_http_call *c)
{
    const char        *s = c->tail;
    char              *end;
    unsigned long long id;
    json_t            *rec, *out;
    pw_err             e;

    pw_http_set_object(c, s);
    errno = 0;
    id = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || id > (unsigned long long) INT64_MAX) {
        pw_http_error(c, 400, "bad_data", "\"%.40s\" is not a silence id (GET /api/v1/silences)", s);
        return;
    }
    if (c->alerts == NULL) {
        pw_http_error(c, 503, "unavailable", "the alert engine is off (--alert-interval 0)");
        return;
    }
    if ((e = pw_alert_silence_expire(c->alerts, (uint64_t) id, c->now_ms)) == PW_ENOENT) {
        pw_http_error(c, 404, "not_found", "no silence %llu", id);
        return;
    }
    if (e != PW_OK) {
        pw_http_error(c, 503, "unavailable", "writing alerts.mdb: %s", pw_strerror(e));
        return;
    }
    if ((rec = hsl_find(c->alerts, (json_int_t) id)) == NULL || (out = hsl_out(rec, c->now_ms)) == NULL) {
        json_decref(rec);
        pw_http_error(c, 503, "unavailable", "reading alerts.mdb failed");
        return;
    }
    json_decref(rec);
    pw_http_success(c, json_pack("{s:I,s:o}", "silenceID", (json_int_t) id, "silence", out));
}
