/*
 * alert_kind_expr.c - rule kind `expr`: any expression of the query
 * language (expr.h), evaluated as an instant query at t; each series of the
 * result is an instance with its labels (the metric name dropped), its
 * value compared with the rule's threshold. Also pw_alert_instant, which
 * the pool kinds use for their own selectors.
 *
 *   - name: HighLoad
 *     kind: expr
 *     expr: 'avg_over_time(node_load1[15m])'
 *     lookback: 5m        # instant selectors' lookback (default 5m)
 *     threshold: 8
 */
#include "alert_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "eval.h"

typedef struct ke_data {
    char    *text;
    pw_expr *expr;
    int64_t  lookback;
} ke_data;

/* The sink: one instance per result series. */
typedef struct ke_sink {
    pw_alert_emit_fn emit;
    void            *ctx;
    json_t          *labels;
    double           value;
    bool             has;
} ke_sink;

static pw_err
ke_begin(void *ctx, const char *key, size_t keylen, const pw_series_view *v)
{
    ke_sink *s = ctx;

    (void) key;
    (void) keylen;
    if ((s->labels = json_object()) == NULL)
        return PW_ENOMEM;
    for (size_t i = 0; i < v->nlabels; i++) {
        json_t *str = json_string(v->labels[i].value);

        if (str == NULL)
            continue;             /* not UTF-8: cannot be shown; left out */
        if (json_object_set_new(s->labels, v->labels[i].name, str) != 0)
            return PW_ENOMEM;
    }
    s->has = false;
    return PW_OK;
}

static pw_err
ke_point(void *ctx, int64_t ts, double value)
{
    ke_sink *s = ctx;

    (void) ts;
    s->value = value;
    s->has = true;
    return PW_OK;
}

static pw_err
ke_end(void *ctx)
{
    ke_sink *s = ctx;
    json_t  *l = s->labels;

    s->labels = NULL;
    if (!s->has || isnan(s->value)) {
        json_decref(l);
        return PW_OK;
    }
    return s->emit(s->ctx, l, s->value);
}

pw_err
pw_alert_instant(const pw_alert_src *src, const pw_expr *e, int64_t t, int64_t lookback,
                 pw_alert_emit_fn emit, void *ctx, char *msg, size_t len)
{
    static const pw_query_sink sink = { ke_begin, ke_point, ke_end };
    pw_eval_opts   o = { .start = t, .end = t, .step = 60000, .now = pw_now_ms(),
                         .lookback = lookback };
    pw_eval_store  es;
    pw_eval_source s;
    ke_sink        ks = { .emit = emit, .ctx = ctx };
    pw_err         rc;

    if (o.now < t)
        o.now = t;              /* evaluating ahead of the clock: as of t */
    pw_eval_store_source(&es, src->t, &s);
    rc = pw_eval_range(e, &o, &s, &sink, &ks, NULL, msg, len);
    json_decref(ks.labels);
    return rc;
}

static pw_err
ke_init(pw_alert_rule *r)
{
    return (r->kd = calloc(1, sizeof(ke_data))) != NULL ? PW_OK : PW_ENOMEM;
}

static pw_err
ke_option(pw_alert_rule *r, const char *key, struct fy_node *v, char *msg, size_t len)
{
    ke_data    *d = r->kd;
    const char *s = pw_alert_yaml_str(v);

    if (strcmp(key, "expr") == 0) {
        if (s == NULL || s[0] == '\0') {
            snprintf(msg, len, "expr must be an expression");
            return PW_EINVAL;
        }
        free(d->text);
        return (d->text = strdup(s)) != NULL ? PW_OK : PW_ENOMEM;
    }
    if (strcmp(key, "lookback") == 0)
        return pw_alert_option_lookback(v, &d->lookback, msg, len);
    return PW_EINVAL;
}

static pw_err
ke_check(pw_alert_rule *r, char *msg, size_t len)
{
    ke_data *d = r->kd;
    char     why[256];
    size_t   pos;
    pw_err   rc;

    if (d->text == NULL) {
        snprintf(msg, len, "kind expr needs expr:");
        return PW_EINVAL;
    }
    pw_expr_free(d->expr);
    d->expr = NULL;
    if ((rc = pw_expr_parse(d->text, &d->expr, &pos, why, sizeof why)) != PW_OK) {
        snprintf(msg, len, "expr: %s", why);
        return rc == PW_ENOMEM ? rc : PW_EINVAL;
    }
    return PW_OK;
}

static pw_err
ke_eval(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_alert_emit_fn emit,
        void *ctx, char *msg, size_t len)
{
    const ke_data *d = r->kd;

    return pw_alert_instant(src, d->expr, t, d->lookback, emit, ctx, msg, len);
}

static void
ke_fini(pw_alert_rule *r)
{
    ke_data *d = r->kd;

    if (d == NULL)
        return;
    pw_expr_free(d->expr);
    free(d->text);
    free(d);
    r->kd = NULL;
}

const pw_alert_kind_ops pw_alert_kind_expr = {
    .name = "expr",
    .keys = "expr, lookback",
    .init = ke_init,
    .option = ke_option,
    .check = ke_check,
    .eval = ke_eval,
    .fini = ke_fini,
};
