/*
 * alert_kind_days.c - what the day-rule kinds (underuse, zombie, oversized,
 * undersized; recommend.h) share: their data (pw_alert_rec_kd), their keys,
 * and one evaluation: collect the window's daily figures through the
 * engine's cache, judge every VM (or system) by the rule, and emit the
 * number of days the condition held as the value - so `threshold:` is the
 * minimum days ("12 of the last 14") and `clear:` gives the hysteresis.
 *
 * Instances: labels tenant, system, subsystem, vm (per: system: tenant,
 * system); the zombie kind adds state=running|shutoff. A VM whose count is
 * 0 (or, oversized, with no smaller flavour to go to) is not emitted, so
 * its alert resolves.
 */
#include "alert_int.h"
#include "sort.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KD_EVERY_DEFAULT INT64_C(3600000)     /* daily figures change slowly */

pw_err
pw_alert_days_init(pw_alert_rule *r)
{
    pw_alert_rec_kd *kd = calloc(1, sizeof *kd);

    if (kd == NULL)
        return PW_ENOMEM;
    pw_rec_rules_default(&kd->rules);
    r->kd = kd;
    r->every_ms = KD_EVERY_DEFAULT;
    return PW_OK;
}

void
pw_alert_days_fini(pw_alert_rule *r)
{
    free(r->kd);
    r->kd = NULL;
}

/* A number with an optional decimal byte unit: 5e6, 5MB, 500KB, 1GB. */
static bool
kd_bytes(struct fy_node *v, double *out)
{
    const char *s = pw_alert_yaml_str(v);
    char       *end;
    double      mul = 1;

    if (s == NULL || *s == '\0')
        return false;
    *out = strtod(s, &end);
    if (strcmp(end, "KB") == 0 || strcmp(end, "kB") == 0)
        mul = 1e3;
    else if (strcmp(end, "MB") == 0)
        mul = 1e6;
    else if (strcmp(end, "GB") == 0)
        mul = 1e9;
    else if (*end != '\0')
        return false;
    *out *= mul;
    return isfinite(*out) && *out >= 0;
}

pw_err
pw_alert_days_option(pw_alert_rule *r, const char *key, struct fy_node *v, const pw_alert_days_key *keys,
                     char *msg, size_t len)
{
    pw_alert_rec_kd *kd = r->kd;

    for (const pw_alert_days_key *k = keys; k->name != NULL; k++) {
        double x;

        if (strcmp(k->name, key) != 0)
            continue;
        switch (k->type) {
        case PW_ADK_RATIO:
            if (!pw_alert_yaml_number(v, &x) || x < 0 || x > 10) {
                snprintf(msg, len, "%s must be a ratio (0.1 or 10%%)", key);
                return PW_EINVAL;
            }
            *(double *) ((char *) &kd->rules + k->off) = x;
            return PW_OK;
        case PW_ADK_BYTES:
            if (!kd_bytes(v, &x)) {
                snprintf(msg, len, "%s must be bytes per day (5e6, 5MB, 500KB)", key);
                return PW_EINVAL;
            }
            *(double *) ((char *) &kd->rules + k->off) = x;
            return PW_OK;
        case PW_ADK_DAYS:
            if (!pw_alert_yaml_number(v, &x) || x != floor(x) || x < 1 || x > PW_REC_MAX_DAYS) {
                snprintf(msg, len, "%s must be a whole number of days, 1 to %d", key, PW_REC_MAX_DAYS);
                return PW_EINVAL;
            }
            *(int *) ((char *) &kd->rules + k->off) = (int) x;
            return PW_OK;
        case PW_ADK_HEADROOM:
            if (!pw_alert_yaml_number(v, &x) || x < 1 || x > 10) {
                snprintf(msg, len, "%s must be a factor of at least 1 (1.3)", key);
                return PW_EINVAL;
            }
            *(double *) ((char *) &kd->rules + k->off) = x;
            return PW_OK;
        case PW_ADK_PER: {
            const char *s = pw_alert_yaml_str(v);

            if (s == NULL || (strcmp(s, "vm") != 0 && strcmp(s, "system") != 0)) {
                snprintf(msg, len, "per must be vm or system");
                return PW_EINVAL;
            }
            kd->per_system = s[0] == 's';
            return PW_OK;
        }
        }
    }
    return PW_EINVAL;
}

pw_err
pw_alert_days_check(const pw_alert_rule *r, int days, char *msg, size_t len)
{
    if (!isnan(r->threshold) && (r->threshold < 1 || r->threshold > days || r->below)) {
        snprintf(msg, len, "threshold is the number of days (1 to days: %d) the condition must hold, "
                 "op above", days);
        return PW_EINVAL;
    }
    return PW_OK;
}

/* Labels of a VM (or of its system); empty values are left out, as Prometheus does. */
static json_t *
kd_labels(const pw_rec_vm *vm, bool system_only)
{
    json_t *l = json_object();

    if (l == NULL)
        return NULL;
    if (vm->tenant[0])
        json_object_set_new(l, "tenant", json_string(vm->tenant));
    if (vm->system[0])
        json_object_set_new(l, "system", json_string(vm->system));
    if (!system_only) {
        if (vm->subsystem[0])
            json_object_set_new(l, "subsystem", json_string(vm->subsystem));
        json_object_set_new(l, "vm", json_string(vm->name));
    }
    return l;
}

static int
kd_sys_cmp(const void *a, const void *b)
{
    const pw_rec_vm *x = *(const pw_rec_vm *const *) a, *y = *(const pw_rec_vm *const *) b;
    int              c = strcmp(x->tenant, y->tenant);

    return c != 0 ? c : strcmp(x->system, y->system);
}

/* per: system - one instance per (tenant, system) with a name. */
static pw_err
kd_systems(const pw_rec_rules *rr, const pw_rec_window *w, pw_alert_emit_fn emit, void *ctx)
{
    const pw_rec_vm **v = calloc(w->nvms + 1, sizeof *v);
    size_t            n = 0;
    pw_err            e = PW_OK;

    if (v == NULL)
        return PW_ENOMEM;
    for (size_t i = 0; i < w->nvms; i++)
        if (w->vms[i].system[0] != '\0')
            v[n++] = &w->vms[i];
    pw_qsort(v, n, sizeof *v, kd_sys_cmp);
    for (size_t i = 0, j; i < n && e == PW_OK; i = j) {
        pw_rec_verdict vd;
        json_t        *l;

        for (j = i + 1; j < n && kd_sys_cmp(&v[i], &v[j]) == 0; j++)
            ;
        pw_rec_judge_system(rr, w, v + i, j - i, &vd);
        if (vd.days == 0)
            continue;
        if ((l = kd_labels(v[i], true)) == NULL)
            e = PW_ENOMEM;
        else
            e = emit(ctx, l, vd.days);
    }
    free(v);
    return e;
}

/*
 * A VM to reclaim is not also one to shrink, and a zombie is not also
 * "idle": the recommendations list one finding per VM (reclaim first), and
 * the alerts say the same, judged with this rule's own (default unless set)
 * thresholds of the stronger findings.
 */
static bool
kd_stronger(const pw_rec_rules *rr, const pw_rec_window *w, const pw_rec_vm *vm, pw_rec_finding rule)
{
    pw_rec_finding s[] = { PW_REC_FIND_ZOMBIE, PW_REC_FIND_SHUTOFF, PW_REC_FIND_IDLE };
    size_t         n = rule == PW_REC_FIND_OVERSIZED ? 3 : rule == PW_REC_FIND_IDLE ? 2 : 0;

    for (size_t i = 0; i < n; i++) {
        pw_rec_verdict v;

        pw_rec_judge(rr, w, vm, s[i], &v);
        if (v.finding != PW_REC_FIND_NONE)
            return true;
    }
    return false;
}

pw_err
pw_alert_days_eval(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_rec_finding rule,
                   pw_alert_emit_fn emit, void *ctx, char *msg, size_t len)
{
    const pw_alert_rec_kd *kd = r->kd;
    pw_rec_rules           rr = kd->rules;
    pw_rec_window         *w = NULL;
    int                    min = (int) ceil(r->threshold), days;
    pw_err                 e;

    if (src->inv == NULL)
        return PW_OK;                   /* no inventory: no VMs to judge */
    switch (rule) {
    case PW_REC_FIND_IDLE:      rr.idle_min_days = min; days = rr.idle_days; break;
    case PW_REC_FIND_ZOMBIE:    rr.zombie_min_days = min; days = rr.zombie_days; break;
    case PW_REC_FIND_OVERSIZED: rr.over_min_days = min; days = rr.over_days; break;
    default:                    rr.under_min_days = min; days = rr.under_days; break;
    }
    /* idle and oversized VMs are first checked for the stronger findings (below) */
    if (rule == PW_REC_FIND_IDLE || rule == PW_REC_FIND_OVERSIZED) {
        days = days > rr.zombie_days ? days : rr.zombie_days;
        days = days > rr.idle_days ? days : rr.idle_days;
    }
    if ((e = pw_rec_window_collect(src->t, src->inv, t, (size_t) days, NULL, src->days, &w, msg, len)) != PW_OK)
        return e;
    if (rule == PW_REC_FIND_IDLE && kd->per_system) {
        e = kd_systems(&rr, w, emit, ctx);
        goto out;
    }
    for (size_t i = 0; i < w->nvms && e == PW_OK; i++) {
        const pw_rec_vm *vm = &w->vms[i];
        pw_rec_finding   each[2] = { rule, PW_REC_FIND_NONE };

        if (rule == PW_REC_FIND_ZOMBIE)
            each[1] = PW_REC_FIND_SHUTOFF;
        else if (kd_stronger(&rr, w, vm, rule))
            continue;
        for (int k = 0; k < 2 && each[k] != PW_REC_FIND_NONE && e == PW_OK; k++) {
            pw_rec_verdict vd;
            json_t        *l;

            pw_rec_judge(&rr, w, vm, each[k], &vd);
            if (vd.days == 0)
                continue;
            if ((rule == PW_REC_FIND_OVERSIZED || rule == PW_REC_FIND_UNDERSIZED) && vd.target_vcpus == 0)
                continue;                           /* no proposal: nothing to say */
            if ((l = kd_labels(vm, false)) == NULL) {
                e = PW_ENOMEM;
                break;
            }
            if (rule == PW_REC_FIND_ZOMBIE)
                json_object_set_new(l, "state", json_string(k == 0 ? "running" : "shutoff"));
            e = emit(ctx, l, vd.days);
        }
    }
out:
    pw_rec_window_free(w);
    return e;
}
