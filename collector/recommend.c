/*
 * recommend.c - the day rules, the sizing arithmetic and the
 * recommendations (recommend.h). The daily figures come from
 * recommend_days.c; the warnings of earlier months from alerts.mdb.
 */
#include "alert_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RC_EPS 1e-9

/* ---- thresholds -------------------------------------------------------------- */

void
pw_rec_rules_default(pw_rec_rules *r)
{
    *r = (pw_rec_rules) {
        .idle_cpu_p95 = 0.10, .idle_net = 5e6, .idle_days = 14, .idle_min_days = 12,
        .zombie_cpu_avg = 0.02, .zombie_net = 1e6, .zombie_disk = 1e6, .zombie_running = 0.5,
        .zombie_days = 30, .zombie_min_days = 30,
        .over_p95 = 0.40, .over_days = 30, .over_min_days = 30,
        .under_p95 = 0.85, .under_days = 7, .under_min_days = 5,
        .headroom = 1.3, .r3_months = 2,
    };
}

/* The kind of rule r if it is a day rule, else NONE. */
static pw_rec_finding
rc_kind(const pw_alert_rule *r)
{
    if (r->kind == &pw_alert_kind_underuse)
        return PW_REC_FIND_IDLE;
    if (r->kind == &pw_alert_kind_zombie)
        return PW_REC_FIND_ZOMBIE;
    if (r->kind == &pw_alert_kind_oversized)
        return PW_REC_FIND_OVERSIZED;
    if (r->kind == &pw_alert_kind_undersized)
        return PW_REC_FIND_UNDERSIZED;
    return PW_REC_FIND_NONE;
}

void
pw_rec_rules_from_config(const pw_alert_config *cfg, pw_rec_rules *out)
{
    bool seen[PW_REC_FIND_COUNT_] = { false };

    pw_rec_rules_default(out);
    for (size_t i = 0; cfg != NULL && i < cfg->nrules; i++) {
        const pw_alert_rule   *r = &cfg->rules[i];
        const pw_alert_rec_kd *kd = r->kd;
        pw_rec_finding         k = rc_kind(r);
        int                    min = (int) ceil(r->threshold);

        if (!r->enabled || k == PW_REC_FIND_NONE || seen[k] || kd->per_system)
            continue;
        seen[k] = true;
        switch (k) {
        case PW_REC_FIND_IDLE:
            out->idle_cpu_p95 = kd->rules.idle_cpu_p95;
            out->idle_net = kd->rules.idle_net;
            out->idle_days = kd->rules.idle_days;
            out->idle_min_days = min;
            break;
        case PW_REC_FIND_ZOMBIE:
            out->zombie_cpu_avg = kd->rules.zombie_cpu_avg;
            out->zombie_net = kd->rules.zombie_net;
            out->zombie_disk = kd->rules.zombie_disk;
            out->zombie_running = kd->rules.zombie_running;
            out->zombie_days = kd->rules.zombie_days;
            out->zombie_min_days = min;
            break;
        case PW_REC_FIND_OVERSIZED:
            out->over_p95 = kd->rules.over_p95;
            out->over_days = kd->rules.over_days;
            out->over_min_days = min;
            out->headroom = kd->rules.headroom;
            break;
        case PW_REC_FIND_UNDERSIZED:
            out->under_p95 = kd->rules.under_p95;
            out->under_days = kd->rules.under_days;
            out->under_min_days = min;
            break;
        default:
            break;
        }
        /* R3's months: the underuse rule's, else the zombie rule's */
        if (k == PW_REC_FIND_IDLE || (k == PW_REC_FIND_ZOMBIE && !seen[PW_REC_FIND_IDLE]))
            out->r3_months = kd->rules.r3_months;
    }
}

const char *
pw_rec_finding_name(pw_rec_finding f)
{
    static const char *const n[] = { "", "idle", "zombie", "shutoff", "oversized", "undersized" };

    return f < PW_REC_FIND_COUNT_ ? n[f] : "";
}

const char *
pw_rec_action_name(pw_rec_action a)
{
    static const char *const n[] = { "", "reclaim", "downsize", "expand" };

    return (unsigned) a < 4 ? n[a] : "";
}

/* ---- day predicates ------------------------------------------------------------ */

bool
pw_rec_day_idle(const pw_rec_rules *r, const pw_rec_day *d)
{
    return !isnan(d->cpu_p95) && d->cpu_p95 < r->idle_cpu_p95 && !isnan(d->net) && d->net < r->idle_net;
}

bool
pw_rec_day_zombie(const pw_rec_rules *r, const pw_rec_day *d)
{
    /* running; disk I/O without a figure counts as none (many guests have no disk counters) */
    return !isnan(d->running) && d->running >= r->zombie_running && d->off != 1
        && !isnan(d->cpu_avg) && d->cpu_avg < r->zombie_cpu_avg
        && !isnan(d->net) && d->net < r->zombie_net
        && (isnan(d->disk) || d->disk < r->zombie_disk);
}

bool
pw_rec_day_shutoff(const pw_rec_rules *r, const pw_rec_day *d)
{
    (void) r;
    /* not running all day by its state samples, and in service (it holds its allocation) */
    return d->off == 1 && (d->vcpus > 0 || d->memory_gb > 0);
}

bool
pw_rec_day_oversized(const pw_rec_rules *r, const pw_rec_day *d)
{
    return (!isnan(d->cpu_p95) && d->cpu_p95 < r->over_p95) || (!isnan(d->mem_p95) && d->mem_p95 < r->over_p95);
}

bool
pw_rec_day_undersized(const pw_rec_rules *r, const pw_rec_day *d)
{
    return (!isnan(d->cpu_p95) && d->cpu_p95 > r->under_p95) || (!isnan(d->mem_p95) && d->mem_p95 > r->under_p95);
}

int
pw_rec_count_days(const pw_rec_rules *r, const pw_rec_day *d, size_t n, int days, pw_rec_day_pred keep)
{
    size_t first = days > 0 && (size_t) days < n ? n - (size_t) days : 0;
    int    c = 0;

    for (size_t i = first; i < n; i++)
        c += keep(r, &d[i]);
    return c;
}

/* ---- sizing ------------------------------------------------------------------------ */

bool
pw_rec_fit(const pw_rec_flavour *fl, size_t n, double cur_v, double cur_m, double need_v, double need_m,
           bool expand, pw_rec_flavour *out, bool *in_use)
{
    if (expand) {
        /* an expansion never shrinks the other resource */
        need_v = fmax(need_v, cur_v);
        need_m = fmax(need_m, cur_m);
    }
    *in_use = false;
    for (size_t i = 0; i < n; i++) {
        const pw_rec_flavour *f = &fl[i];
        bool                  same = fabs(f->vcpus - cur_v) < RC_EPS && fabs(f->memory_gb - cur_m) < RC_EPS;

        if (same || f->vcpus < need_v - RC_EPS || f->memory_gb < need_m - RC_EPS)
            continue;
        if (expand ? (f->vcpus < cur_v - RC_EPS || f->memory_gb < cur_m - RC_EPS)
                   : (f->vcpus > cur_v + RC_EPS || f->memory_gb > cur_m + RC_EPS))
            continue;
        *out = *f;            /* fl is smallest first: fewest vCPUs, then least memory */
        *in_use = true;
        return true;
    }
    if (expand) {
        /* nothing in use is big enough: the need itself, in whole vCPUs and GB */
        out->vcpus = fmax(cur_v, ceil(need_v - RC_EPS));
        out->memory_gb = fmax(cur_m, ceil(need_m - RC_EPS));
        return out->vcpus > cur_v + RC_EPS || out->memory_gb > cur_m + RC_EPS;
    }
    out->vcpus = cur_v;
    out->memory_gb = cur_m;
    return false;
}

/* ---- judgement ----------------------------------------------------------------------- */

static int
rc_rule_days(const pw_rec_rules *r, pw_rec_finding rule, int *min, pw_rec_day_pred *pred)
{
    switch (rule) {
    case PW_REC_FIND_IDLE:       *min = r->idle_min_days; *pred = pw_rec_day_idle; return r->idle_days;
    case PW_REC_FIND_ZOMBIE:     *min = r->zombie_min_days; *pred = pw_rec_day_zombie; return r->zombie_days;
    case PW_REC_FIND_SHUTOFF:    *min = r->zombie_min_days; *pred = pw_rec_day_shutoff; return r->zombie_days;
    case PW_REC_FIND_OVERSIZED:  *min = r->over_min_days; *pred = pw_rec_day_oversized; return r->over_days;
    case PW_REC_FIND_UNDERSIZED: *min = r->under_min_days; *pred = pw_rec_day_undersized; return r->under_days;
    default:                     *min = 1; *pred = NULL; return 0;
    }
}

/* The evidence of vm's days [first, n). */
static void
rc_evidence(const pw_rec_vm *vm, size_t first, size_t n, pw_rec_verdict *v)
{
    double cpu = 0, net = 0, disk = 0;
    size_t ncpu = 0, nnet = 0, ndisk = 0;

    v->cpu_p95 = v->mem_p95 = NAN;
    for (size_t i = first; i < n; i++) {
        const pw_rec_day *d = &vm->days[i];

        if (!isnan(d->cpu_p95) && (isnan(v->cpu_p95) || d->cpu_p95 > v->cpu_p95))
            v->cpu_p95 = d->cpu_p95;
        if (!isnan(d->mem_p95) && (isnan(v->mem_p95) || d->mem_p95 > v->mem_p95))
            v->mem_p95 = d->mem_p95;
        if (!isnan(d->cpu_avg)) {
            cpu += d->cpu_avg;
            ncpu++;
        }
        if (!isnan(d->net)) {
            net += d->net;
            nnet++;
        }
        if (!isnan(d->disk)) {
            disk += d->disk;
            ndisk++;
        }
    }
    v->cpu_avg = ncpu ? cpu / (double) ncpu : NAN;
    v->net_per_day = nnet ? net / (double) nnet : NAN;
    v->disk_per_day = ndisk ? disk / (double) ndisk : NAN;
}

void
pw_rec_judge(const pw_rec_rules *r, const pw_rec_window *w, const pw_rec_vm *vm, pw_rec_finding rule,
             pw_rec_verdict *v)
{
    pw_rec_day_pred pred;
    int             min, days = rc_rule_days(r, rule, &min, &pred);
    size_t          first = days > 0 && (size_t) days < w->ndays ? w->ndays - (size_t) days : 0;

    memset(v, 0, sizeof *v);
    v->of_days = (int) (w->ndays - first);
    v->min_days = min;
    v->from_ms = w->from_ms + (int64_t) first * PW_REC_DAY_MS;
    v->to_ms = w->to_ms;
    v->vcpus = vm->vcpus;
    v->memory_gb = vm->memory_gb;
    if (pred == NULL)
        return;
    v->days = pw_rec_count_days(r, vm->days, w->ndays, days, pred);
    rc_evidence(vm, first, w->ndays, v);
    if (rule == PW_REC_FIND_OVERSIZED || rule == PW_REC_FIND_UNDERSIZED) {
        bool           expand = rule == PW_REC_FIND_UNDERSIZED, ok;
        /* no figure for a resource: keep its size (need = current) */
        double         nv = isnan(v->cpu_p95) ? vm->vcpus : v->cpu_p95 * vm->vcpus * r->headroom;
        double         nm = isnan(v->mem_p95) ? vm->memory_gb : v->mem_p95 * vm->memory_gb * r->headroom;
        pw_rec_flavour t;

        if (!(vm->vcpus > 0 && vm->memory_gb > 0) || (isnan(v->cpu_p95) && isnan(v->mem_p95)))
            return;
        ok = pw_rec_fit(w->flavours, w->nflavours, vm->vcpus, vm->memory_gb, nv, nm, expand, &t,
                        &v->target_in_use);
        if (!ok)
            return;                         /* nothing smaller fits: not oversized in effect */
        v->target_vcpus = t.vcpus;
        v->target_memory_gb = t.memory_gb;
        if (v->days >= min) {
            v->finding = rule;
            v->action = expand ? PW_REC_EXPAND : PW_REC_DOWNSIZE;
        }
        return;
    }
    if (v->days >= min) {
        v->finding = rule;
        v->action = PW_REC_RECLAIM;
    }
}

void
pw_rec_judge_system(const pw_rec_rules *r, const pw_rec_window *w, const pw_rec_vm *const *vms, size_t nvms,
                    pw_rec_verdict *v)
{
    size_t first = r->idle_days > 0 && (size_t) r->idle_days < w->ndays ? w->ndays - (size_t) r->idle_days : 0;

    memset(v, 0, sizeof *v);
    v->of_days = (int) (w->ndays - first);
    v->min_days = r->idle_min_days;
    v->from_ms = w->from_ms + (int64_t) first * PW_REC_DAY_MS;
    v->to_ms = w->to_ms;
    v->cpu_p95 = v->mem_p95 = NAN;
    v->net_per_day = 0;
    for (size_t d = first; d < w->ndays; d++) {
        size_t with = 0, idle = 0;

        for (size_t k = 0; k < nvms; k++) {
            const pw_rec_day *x = &vms[k]->days[d];

            if (isnan(x->cpu_p95))
                continue;
            with++;
            idle += pw_rec_day_idle(r, x);
        }
        v->days += with > 0 && idle == with;
    }
    for (size_t k = 0; k < nvms; k++) {
        pw_rec_verdict one;

        memset(&one, 0, sizeof one);
        rc_evidence(vms[k], first, w->ndays, &one);
        if (!isnan(one.cpu_p95) && (isnan(v->cpu_p95) || one.cpu_p95 > v->cpu_p95))
            v->cpu_p95 = one.cpu_p95;
        if (!isnan(one.mem_p95) && (isnan(v->mem_p95) || one.mem_p95 > v->mem_p95))
            v->mem_p95 = one.mem_p95;
        if (!isnan(one.net_per_day))
            v->net_per_day += one.net_per_day;
        v->vcpus += vms[k]->vcpus;
        v->memory_gb += vms[k]->memory_gb;
    }
    if (v->days >= v->min_days) {
        v->finding = PW_REC_FIND_IDLE;
        v->action = PW_REC_RECLAIM;
    }
}

pw_rec_finding
pw_rec_judge_period(const pw_rec_rules *r, double cpu_avg, double cpu_p95, double mem_p95, double net_per_day,
                    double availability)
{
    if (isnan(cpu_p95))
        return PW_REC_FIND_NONE;
    if (!isnan(availability) && availability >= r->zombie_running && cpu_avg < r->zombie_cpu_avg
        && !isnan(net_per_day) && net_per_day < r->zombie_net)
        return PW_REC_FIND_ZOMBIE;
    if (cpu_p95 < r->idle_cpu_p95 && !isnan(net_per_day) && net_per_day < r->idle_net)
        return PW_REC_FIND_IDLE;
    if (cpu_p95 > r->under_p95 || (!isnan(mem_p95) && mem_p95 > r->under_p95))
        return PW_REC_FIND_UNDERSIZED;
    if (cpu_p95 < r->over_p95 || (!isnan(mem_p95) && mem_p95 < r->over_p95))
        return PW_REC_FIND_OVERSIZED;
    return PW_REC_FIND_NONE;
}
