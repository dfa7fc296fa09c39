/*
 * alert_template.c - annotation templates (alert_int.h): the small part of
 * Prometheus' alert templates operators use: {{ $value }}, {{ $labels.x }}
 * and the humanize functions, so rules read the same as in Prometheus.
 */
#include "alert_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum tp_fn { TP_NONE, TP_HUMANIZE, TP_PERCENT, TP_DURATION } tp_fn;

typedef struct tp_action {
    bool  is_value;
    char  label[PW_ALERT_NAME_MAX];
    tp_fn fn;
} tp_action;

/* Growing output string. */
typedef struct tp_out {
    char  *p;
    size_t len, cap;
    bool   nomem;
} tp_out;

static void
tp_add(tp_out *o, const char *s, size_t n)
{
    if (o->nomem)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char  *p = realloc(o->p, cap);

        if (p == NULL) {
            o->nomem = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

/* Parses the inside of {{ }} (n bytes at s). false: not a supported action. */
static bool
tp_parse(const char *s, size_t n, tp_action *a)
{
    char        buf[256], *p, *bar, *end;
    const char *fn = NULL;

    memset(a, 0, sizeof *a);
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    p = buf;
    if ((bar = strchr(p, '|')) != NULL) {
        *bar = '\0';
        fn = bar + 1;
        while (isspace((unsigned char) *fn))
            fn++;
        end = (char *) fn + strlen(fn);
        while (end > fn && isspace((unsigned char) end[-1]))
            *--end = '\0';
        if (strcmp(fn, "humanize") == 0)
            a->fn = TP_HUMANIZE;
        else if (strcmp(fn, "humanizePercentage") == 0)
            a->fn = TP_PERCENT;
        else if (strcmp(fn, "humanizeDuration") == 0)
            a->fn = TP_DURATION;
        else
            return false;
    }
    while (isspace((unsigned char) *p))
        p++;
    end = p + strlen(p);
    while (end > p && isspace((unsigned char) end[-1]))
        *--end = '\0';
    if (strcmp(p, "$value") == 0 || strcmp(p, ".Value") == 0) {
        a->is_value = true;
        return true;
    }
    if (a->fn != TP_NONE)
        return false;          /* functions apply to numbers only */
    if (strncmp(p, "$labels.", 8) == 0)
        p += 8;
    else if (strncmp(p, ".Labels.", 8) == 0)
        p += 8;
    else
        return false;
    if (*p == '\0' || strlen(p) >= sizeof a->label)
        return false;
    for (const char *c = p; *c; c++)
        if (!(isalnum((unsigned char) *c) || *c == '_'))
            return false;
    snprintf(a->label, sizeof a->label, "%s", p);
    return true;
}

/* Go's %v of a float64 is the shortest text that reads back: the same here. */
static void
tp_number(double v, char *buf, size_t len)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void
tp_value(const tp_action *a, double v, char *buf, size_t len)
{
    static const char *si[] = { "", "k", "M", "G", "T", "P", "E" };

    if (!isfinite(v) || a->fn == TP_NONE) {
        tp_number(v, buf, len);
        return;
    }
    switch (a->fn) {
    case TP_PERCENT:
        snprintf(buf, len, "%.4g%%", v * 100);
        break;
    case TP_HUMANIZE: {
        size_t i = 0;

        while (fabs(v) >= 1000 && i + 1 < sizeof si / sizeof si[0]) {
            v /= 1000;
            i++;
        }
        snprintf(buf, len, "%.4g%s", v, si[i]);
        break;
    }
    case TP_DURATION: {
        long long s = (long long) llround(fabs(v));
        long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
        int       o = 0;

        buf[0] = '\0';
        if (v < 0)
            o += snprintf(buf + o, len - (size_t) o, "-");
        if (d > 0)
            o += snprintf(buf + o, len - (size_t) o, "%lldd ", d);
        if (d > 0 || h > 0)
            o += snprintf(buf + o, len - (size_t) o, "%lldh ", h);
        if (d > 0 || h > 0 || m > 0)
            o += snprintf(buf + o, len - (size_t) o, "%lldm ", m);
        snprintf(buf + o, len - (size_t) o, "%llds", sec);
        break;
    }
    case TP_NONE:
        break;
    }
}

pw_err
pw_alert_template_check(const char *tpl, char *msg, size_t len)
{
    const char *p = tpl, *open, *close;
    tp_action   a;

    while ((open = strstr(p, "{{")) != NULL) {
        if ((close = strstr(open + 2, "}}")) == NULL) {
            snprintf(msg, len, "\"{{\" at byte %zu is not closed by \"}}\"", (size_t) (open - tpl));
            return PW_EINVAL;
        }
        if (!tp_parse(open + 2, (size_t) (close - open - 2), &a)) {
            snprintf(msg, len, "\"%.*s\" is not supported: use {{ $value }}, {{ $labels.NAME }}, "
                "optionally | humanize, humanizePercentage or humanizeDuration",
                (int) (close - open + 2 > 80 ? 80 : close - open + 2), open);
            return PW_EINVAL;
        }
        p = close + 2;
    }
    return PW_OK;
}

char *
pw_alert_template_render(const char *tpl, const json_t *labels, double value)
{
    tp_out      o = { 0 };
    const char *p = tpl, *open, *close;
    tp_action   a;
    char        num[64];

    tp_add(&o, "", 0);
    while ((open = strstr(p, "{{")) != NULL && (close = strstr(open + 2, "}}")) != NULL) {
        tp_add(&o, p, (size_t) (open - p));
        if (tp_parse(open + 2, (size_t) (close - open - 2), &a)) {
            if (a.is_value) {
                tp_value(&a, value, num, sizeof num);
                tp_add(&o, num, strlen(num));
            } else {
                const char *v = json_string_value(json_object_get(labels, a.label));

                if (v != NULL)
                    tp_add(&o, v, strlen(v));
            }
        }
        p = close + 2;
    }
    tp_add(&o, p, strlen(p));
    if (o.nomem) {
        free(o.p);
        return NULL;
    }
    return o.p;
}
