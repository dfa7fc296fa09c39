/*
 * alert_kind_forecast.c - rule kind `pool_forecast`: days until a pool
 * ratio crosses a threshold, from poolwatch_pool_days_to_threshold (stored
 * by the capacity thread only when there is a forecast), one instance per
 * pool x resource x measure, labels pool, resource, measure. Meant with
 * `op: below` (fires when the days left are at most the threshold).
 *
 *   - name: PoolCapacityForecast
 *     kind: pool_forecast
 *     measure: [allocated, used]
 *     crosses: 0.7          # the series' threshold label: 0.7 or 1
 *     op: below
 *     threshold: 30         # days
 */
#include "alert_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"

typedef struct kf_data {
    unsigned measures;       /* PW_ALERT_MEASURE_* */
    char     crosses[16];
    int64_t  lookback;
    pw_expr *expr;
} kf_data;

typedef struct kf_emit {
    const kf_data   *d;
    pw_alert_emit_fn emit;
    void            *ctx;
} kf_emit;

static pw_err
kf_init(pw_alert_rule *r)
{
    kf_data *d = calloc(1, sizeof *d);

    if (d == NULL)
        return PW_ENOMEM;
    d->measures = PW_ALERT_MEASURE_ALLOCATED | PW_ALERT_MEASURE_USED;
    snprintf(d->crosses, sizeof d->crosses, "0.7");
    r->kd = d;
    r->below = true;
    return PW_OK;
}

static pw_err
kf_option(pw_alert_rule *r, const char *key, struct fy_node *v, char *msg, size_t len)
{
    kf_data    *d = r->kd;
    const char *s = pw_alert_yaml_str(v);

    if (strcmp(key, "measure") == 0) {
        d->measures = 0;
        if (!pw_alert_yaml_words(v, pw_alert_measure_names, 2, &d->measures) || d->measures == 0) {
            snprintf(msg, len, "measure must be allocated, used or a list of them");
            return PW_EINVAL;
        }
        return PW_OK;
    }
    if (strcmp(key, "crosses") == 0) {
        if (s == NULL || (strcmp(s, "0.7") != 0 && strcmp(s, "1") != 0)) {
            snprintf(msg, len, "crosses must be 0.7 or 1 (the forecasts the capacity thread stores)");
            return PW_EINVAL;
        }
        snprintf(d->crosses, sizeof d->crosses, "%s", s);
        return PW_OK;
    }
    if (strcmp(key, "lookback") == 0)
        return pw_alert_option_lookback(v, &d->lookback, msg, len);
    return PW_EINVAL;
}

static pw_err
kf_check(pw_alert_rule *r, char *msg, size_t len)
{
    kf_data *d = r->kd;
    char     text[128];
    size_t   pos;

    pw_expr_free(d->expr);
    d->expr = NULL;
    snprintf(text, sizeof text, "%s{threshold=\"%s\"}", PW_CAP_M_DAYS, d->crosses);
    return pw_expr_parse(text, &d->expr, &pos, msg, len) == PW_OK ? PW_OK : PW_ENOMEM;
}

static pw_err
kf_one(void *ctx, json_t *labels, double value)
{
    kf_emit    *k = ctx;
    const char *kind = json_string_value(json_object_get(labels, "kind"));
    json_t     *m;

    if (kind == NULL || json_object_get(labels, "pool") == NULL
        || !((strcmp(kind, "allocated") == 0 && (k->d->measures & PW_ALERT_MEASURE_ALLOCATED))
             || (strcmp(kind, "used") == 0 && (k->d->measures & PW_ALERT_MEASURE_USED)))) {
        json_decref(labels);
        return PW_OK;
    }
    /* The series' kind is the measure; its threshold label is the rule's `crosses`. */
    if ((m = json_string(kind)) == NULL || json_object_set_new(labels, "measure", m) != 0) {
        json_decref(labels);
        return PW_ENOMEM;
    }
    json_object_del(labels, "kind");
    json_object_del(labels, "threshold");
    return k->emit(k->ctx, labels, value);
}

static pw_err
kf_eval(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_alert_emit_fn emit,
        void *ctx, char *msg, size_t len)
{
    const kf_data *d = r->kd;
    kf_emit        k = { d, emit, ctx };

    return pw_alert_instant(src, d->expr, t, d->lookback, kf_one, &k, msg, len);
}

static void
kf_fini(pw_alert_rule *r)
{
    kf_data *d = r->kd;

    if (d == NULL)
        return;
    pw_expr_free(d->expr);
    free(d);
    r->kd = NULL;
}

const pw_alert_kind_ops pw_alert_kind_forecast = {
    .name = "pool_forecast",
    .keys = "measure, crosses, lookback",
    .init = kf_init,
    .option = kf_option,
    .check = kf_check,
    .eval = kf_eval,
    .fini = kf_fini,
};
