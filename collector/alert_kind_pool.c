/*
 * alert_kind_pool.c - rule kind `pool_capacity`: the pool ratios the
 * capacity thread stores (capacity_job.h), one instance per pool x
 * resource x measure, labels pool, resource, measure ("allocated" reads
 * poolwatch_pool_allocated_ratio, "used" poolwatch_pool_used_ratio).
 *
 *   - name: PoolCapacityWarning
 *     kind: pool_capacity
 *     measure: [allocated, used]     # default both
 *     resources: [cpu, memory]       # default every resource
 *     lookback: 5m                   # newest sample at most this old (default 5m)
 */
#include "alert_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"

typedef struct kp_data {
    unsigned measures;
    unsigned resources;      /* bit per pw_pool_res; 0 = all */
    int64_t  lookback;
    pw_expr *expr[2];        /* allocated, used */
} kp_data;

typedef struct kp_emit {
    const kp_data   *d;
    const char      *measure;
    pw_alert_emit_fn emit;
    void            *ctx;
} kp_emit;

static pw_err
kp_init(pw_alert_rule *r)
{
    kp_data *d = calloc(1, sizeof *d);

    if (d == NULL)
        return PW_ENOMEM;
    d->measures = PW_ALERT_MEASURE_ALLOCATED | PW_ALERT_MEASURE_USED;
    r->kd = d;
    return PW_OK;
}

static pw_err
kp_option(pw_alert_rule *r, const char *key, struct fy_node *v, char *msg, size_t len)
{
    kp_data *d = r->kd;

    if (strcmp(key, "measure") == 0) {
        d->measures = 0;
        if (!pw_alert_yaml_words(v, pw_alert_measure_names, 2, &d->measures) || d->measures == 0) {
            snprintf(msg, len, "measure must be allocated, used or a list of them");
            return PW_EINVAL;
        }
        return PW_OK;
    }
    if (strcmp(key, "resources") == 0) {
        const char *names[PW_POOL_RES_COUNT_];

        for (int i = 0; i < PW_POOL_RES_COUNT_; i++)
            names[i] = pw_pool_res_name((pw_pool_res) i);
        d->resources = 0;
        if (!pw_alert_yaml_words(v, names, PW_POOL_RES_COUNT_, &d->resources)) {
            snprintf(msg, len, "resources must be a list of cpu, memory, storage, network");
            return PW_EINVAL;
        }
        return PW_OK;
    }
    if (strcmp(key, "lookback") == 0)
        return pw_alert_option_lookback(v, &d->lookback, msg, len);
    return PW_EINVAL;
}

static pw_err
kp_check(pw_alert_rule *r, char *msg, size_t len)
{
    kp_data    *d = r->kd;
    const char *text[2] = { PW_CAP_M_ALLOCATED_RATIO, PW_CAP_M_USED_RATIO };
    size_t      pos;

    for (int i = 0; i < 2; i++)
        if (d->expr[i] == NULL && pw_expr_parse(text[i], &d->expr[i], &pos, msg, len) != PW_OK)
            return PW_ENOMEM;
    return PW_OK;
}

static pw_err
kp_one(void *ctx, json_t *labels, double value)
{
    kp_emit    *k = ctx;
    const char *res = json_string_value(json_object_get(labels, "resource"));
    pw_pool_res r = res != NULL ? pw_pool_res_parse(res) : PW_POOL_RES_COUNT_;

    if (json_object_get(labels, "pool") == NULL
        || (k->d->resources != 0 && (r == PW_POOL_RES_COUNT_ || !(k->d->resources & (1u << r))))) {
        json_decref(labels);
        return PW_OK;
    }
    if (json_object_set_new(labels, "measure", json_string(k->measure)) != 0) {
        json_decref(labels);
        return PW_ENOMEM;
    }
    return k->emit(k->ctx, labels, value);
}

static pw_err
kp_eval(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_alert_emit_fn emit,
        void *ctx, char *msg, size_t len)
{
    const kp_data *d = r->kd;
    pw_err         rc = PW_OK;

    for (int i = 0; i < 2 && rc == PW_OK; i++) {
        kp_emit k = { d, i == 0 ? "allocated" : "used", emit, ctx };

        if (d->measures & (i == 0 ? PW_ALERT_MEASURE_ALLOCATED : PW_ALERT_MEASURE_USED))
            rc = pw_alert_instant(src, d->expr[i], t, d->lookback, kp_one, &k, msg, len);
    }
    return rc;
}

static void
kp_fini(pw_alert_rule *r)
{
    kp_data *d = r->kd;

    if (d == NULL)
        return;
    pw_expr_free(d->expr[0]);
    pw_expr_free(d->expr[1]);
    free(d);
    r->kd = NULL;
}

const pw_alert_kind_ops pw_alert_kind_pool = {
    .name = "pool_capacity",
    .keys = "measure, resources, lookback",
    .init = kp_init,
    .option = kp_option,
    .check = kp_check,
    .eval = kp_eval,
    .fini = kp_fini,
};
