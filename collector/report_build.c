/*
 * report_build.c - one report from the inventory's history, the stored
 * series and the alert history (report.h).
 *
 *   1. every VM version in service in the period (pw_inventory_vms_in),
 *      cut into days (report.h, "Days"): a VM's row takes its last version's
 *      columns; resource-days add up each version's days x its allocation;
 *   2. usage over the in-service spans (usage.h), at the rollup resolution
 *      the evaluator picks for a quantile over the period;
 *   3. the advisor's rule per VM (report_advice.h), the suggestions and the
 *      efficiency bulletin;
 *   4. operations: pool ratios at the period's start and end and the
 *      forecast at its end (the stored poolwatch_pool_* series), alerts
 *      raised and resolved (alerts.mdb), agent availability, inventory changes.
 */
#include "report.h"
#include "sort.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alert.h"
#include "eval.h"
#include "expr.h"
#include "inventory.h"
#include "recommend.h"
#include "report_advice.h"

#define RB_DAY_MS INT64_C(86400000)
#define RB_GIB    1073741824.0

/* A VM version, copied out of the inventory's callback. */
typedef struct rb_ver {
    char   *name, *uuid, *tenant, *system, *subsystem, *zone, *server_type, *pool;
    double  vcpus, memory_gb, sys_disk_gb, data_disk_gb;
    int64_t d0, d1;          /* its days in the period [d0, d1); d1 <= d0: none */
    int64_t delivered_day, terminated_day;   /* INT64_MIN / INT64_MAX: none */
} rb_ver;

typedef struct rb_vers {
    rb_ver *v;
    size_t  n, cap;
    int64_t day0, day1;
    pw_err  err;
} rb_vers;

static char *
rb_dup(const char *s)
{
    return strdup(s != NULL ? s : "");
}

/* ceil(ms / day) for inventory times; the INT64 extremes stay extreme. */
static int64_t
rb_day_ceil(int64_t ms)
{
    if (ms == INT64_MIN || ms == INT64_MAX)
        return ms;
    return ms >= 0 ? (ms + RB_DAY_MS - 1) / RB_DAY_MS : -((-ms) / RB_DAY_MS);
}

static int64_t
rb_max(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t
rb_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void
rb_ver_free(rb_ver *v)
{
    free(v->name);
    free(v->uuid);
    free(v->tenant);
    free(v->system);
    free(v->subsystem);
    free(v->zone);
    free(v->server_type);
    free(v->pool);
}

static int
rb_ver_cb(void *ctx, const pw_inv_vm *vm)
{
    rb_vers *c = ctx;
    rb_ver  *v;

    if (c->n == c->cap) {
        size_t  cap = c->cap ? c->cap * 2 : 256;
        rb_ver *p = realloc(c->v, cap * sizeof *p);

        if (p == NULL) {
            c->err = PW_ENOMEM;
            return 1;
        }
        c->v = p;
        c->cap = cap;
    }
    v = &c->v[c->n];
    memset(v, 0, sizeof *v);
    v->name = rb_dup(vm->name);
    v->uuid = rb_dup(vm->uuid);
    v->tenant = rb_dup(vm->tenant);
    v->system = rb_dup(vm->system);
    v->subsystem = rb_dup(vm->subsystem);
    v->zone = rb_dup(vm->zone);
    v->server_type = rb_dup(vm->server_type);
    v->pool = rb_dup(vm->pool);
    c->n++;
    if (!v->name || !v->uuid || !v->tenant || !v->system || !v->subsystem || !v->zone || !v->server_type
        || !v->pool) {
        c->err = PW_ENOMEM;
        return 1;
    }
    v->vcpus = vm->vcpus;
    v->memory_gb = vm->memory_gb;
    v->sys_disk_gb = vm->sys_disk_gb;
    v->data_disk_gb = vm->data_disk_gb;
    v->delivered_day = rb_day_ceil(vm->delivered_ms);
    v->terminated_day = rb_day_ceil(vm->terminated_ms);
    /* day d is this version's when valid_from <= d 00:00 < valid_to and delivered <= d < terminated */
    v->d0 = rb_max(rb_max(c->day0, rb_day_ceil(vm->valid_from_ms)), v->delivered_day);
    v->d1 = rb_min(rb_min(c->day1, rb_day_ceil(vm->valid_to_ms)), v->terminated_day);
    return 0;
}

/* Every inventory UUID (newest versions), so usage never matches one of them by name. */
typedef struct rb_uuids { char **u; size_t n, cap; pw_err err; } rb_uuids;

static int
rb_uuid_cb(void *ctx, const pw_inv_vm *vm)
{
    rb_uuids *c = ctx;

    if (vm->uuid[0] == '\0')
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        char **p = realloc(c->u, cap * sizeof *p);

        if (p == NULL) {
            c->err = PW_ENOMEM;
            return 1;
        }
        c->u = p;
        c->cap = cap;
    }
    if ((c->u[c->n] = strdup(vm->uuid)) == NULL) {
        c->err = PW_ENOMEM;
        return 1;
    }
    c->n++;
    return 0;
}

static int
rb_vm_cmp(const void *a, const void *b)
{
    const pw_report_vm *x = a, *y = b;
    int                 c;

    if ((c = strcmp(x->tenant, y->tenant)) != 0)
        return c;
    if ((c = strcmp(x->system, y->system)) != 0)
        return c;
    if ((c = strcmp(x->subsystem, y->subsystem)) != 0)
        return c;
    return strcmp(x->name, y->name);
}

static bool
rb_same_size(const rb_ver *a, const rb_ver *b)
{
    return a->vcpus == b->vcpus && a->memory_gb == b->memory_gb && a->sys_disk_gb == b->sys_disk_gb
           && a->data_disk_gb == b->data_disk_gb;
}

static void
rb_vm_free(pw_report_vm *v)
{
    free(v->tenant);
    free(v->system);
    free(v->subsystem);
    free(v->name);
    free(v->uuid);
    free(v->zone);
    free(v->server_type);
    free(v->pool);
}

void
pw_report_free(pw_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nvms; i++)
        rb_vm_free(&r->vms[i]);
    for (size_t i = 0; i < r->nadvice; i++) {
        free(r->advice[i].tenant);
        free(r->advice[i].system);
        free(r->advice[i].vm);
        free(r->advice[i].months);
    }
    for (size_t i = 0; i < r->nunits; i++)
        free(r->units[i].tenant);
    for (size_t i = 0; i < r->npools; i++) {
        free(r->pools[i].pool);
        free(r->pools[i].resource);
    }
    for (size_t i = 0; i < r->nalerts; i++)
        free(r->alerts[i].rule);
    for (size_t i = 0; i < r->nhosts; i++)
        free(r->hosts[i].host);
    for (size_t i = 0; i < r->nchanges; i++) {
        free(r->changes[i].tenant);
        free(r->changes[i].vm);
    }
    free(r->vms);
    free(r->advice);
    free(r->units);
    free(r->pools);
    free(r->alerts);
    free(r->hosts);
    free(r->changes);
    free(r->tz);
    free(r->tenant);
    memset(r, 0, sizeof *r);
}

/* ---- inventory changes -------------------------------------------------- */

static pw_err
rb_change_add(pw_report *r, size_t *cap, int64_t day, pw_report_change_kind k, const rb_ver *before,
              const rb_ver *v)
{
    pw_report_change *c;

    if (r->nchanges == *cap) {
        size_t            nc = *cap ? *cap * 2 : 64;
        pw_report_change *p = realloc(r->changes, nc * sizeof *p);

        if (p == NULL)
            return PW_ENOMEM;
        r->changes = p;
        *cap = nc;
    }
    c = &r->changes[r->nchanges];
    *c = (pw_report_change) { day, k, strdup(v->tenant), strdup(v->name),
                              before ? before->vcpus : v->vcpus, before ? before->memory_gb : v->memory_gb,
                              v->vcpus, v->memory_gb };
    if (c->tenant == NULL || c->vm == NULL) {
        free(c->tenant);
        free(c->vm);
        return PW_ENOMEM;
    }
    r->nchanges++;
    return PW_OK;
}

static int
rb_change_cmp(const void *a, const void *b)
{
    const pw_report_change *x = a, *y = b;
    int                     c;

    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if ((c = strcmp(x->vm, y->vm)) != 0)
        return c;
    return (int) x->kind - (int) y->kind;
}

/* ---- rows and usage ----------------------------------------------------- */

static pw_err
rb_rows(const pw_report_opts *o, pw_report *r, rb_vers *vs, char *msg, size_t msglen)
{
    pw_usage_vm   *uv = NULL;
    pw_usage_span *spans = NULL;
    pw_usage      *use = NULL;
    rb_uuids       known = { 0 };
    size_t         nspans = 0, chcap = 0, i, j;
    int64_t        sfrom, sto, now5 = o->now - o->now % 300000;   /* the last whole 5 minutes */
    pw_err         e = PW_ENOMEM;

    r->vms = calloc(vs->n + 1, sizeof *r->vms);
    uv = calloc(vs->n + 1, sizeof *uv);
    spans = calloc(vs->n + 1, sizeof *spans);
    if (r->vms == NULL || uv == NULL || spans == NULL)
        goto out;
    /* versions come by name, then time: one VM is a run of equal names */
    for (i = 0; i < vs->n; i = j) {
        const rb_ver *last = NULL, *prev = NULL;
        pw_report_vm *row;
        size_t        s0 = nspans;

        for (j = i; j < vs->n && strcmp(vs->v[j].name, vs->v[i].name) == 0; j++)
            if (vs->v[j].d1 > vs->v[j].d0)
                last = &vs->v[j];
        if (last == NULL || (o->tenant != NULL && strcmp(last->tenant, o->tenant) != 0))
            continue;
        row = &r->vms[r->nvms];
        row->tenant = strdup(last->tenant);
        row->system = strdup(last->system);
        row->subsystem = strdup(last->subsystem);
        row->name = strdup(last->name);
        row->uuid = strdup(vs->v[j - 1].uuid);          /* the newest version's, as the scope */
        row->zone = strdup(last->zone);
        row->server_type = strdup(last->server_type);
        row->pool = strdup(last->pool);
        r->nvms++;
        if (!row->tenant || !row->system || !row->subsystem || !row->name || !row->uuid || !row->zone
            || !row->server_type || !row->pool)
            goto out;
        row->vcpus = last->vcpus;
        row->memory_gb = last->memory_gb;
        row->sys_disk_gb = last->sys_disk_gb;
        row->data_disk_gb = last->data_disk_gb;
        for (size_t k = i; k < j; k++) {
            const rb_ver *v = &vs->v[k];
            double        d = (double) (v->d1 - v->d0);

            if (v->d1 <= v->d0)
                continue;
            row->days += d;
            row->vcpu_days += d * v->vcpus;
            row->memory_gb_days += d * v->memory_gb;
            row->disk_gb_days += d * (v->sys_disk_gb + v->data_disk_gb);
            if (prev != NULL && !rb_same_size(prev, v)) {
                row->resized = true;
                if ((e = rb_change_add(r, &chcap, v->d0, PW_CHANGE_RESIZED, prev, v)) != PW_OK)
                    goto out;
                e = PW_ENOMEM;
            }
            prev = v;
            /* usage: up to now only (a period not over yet has no data for its future) */
            sfrom = pw_report_tz_midnight(o->tz, v->d0);
            sto = rb_min(pw_report_tz_midnight(o->tz, v->d1), now5);
            if (sto <= sfrom)
                continue;
            if (nspans > s0 && spans[nspans - 1].to == sfrom && spans[nspans - 1].vcpus == v->vcpus
                && spans[nspans - 1].memory_bytes == v->memory_gb * RB_GIB)
                spans[nspans - 1].to = sto;
            else
                spans[nspans++] = (pw_usage_span) { sfrom, sto, v->vcpus, v->memory_gb * RB_GIB };
        }
        row->share = row->days / (double) r->period_days;
        if (last->delivered_day >= r->period.day0 && last->delivered_day < r->period.day1
            && (e = rb_change_add(r, &chcap, last->delivered_day, PW_CHANGE_DELIVERED, NULL, last)) != PW_OK)
            goto out;
        if (last->terminated_day >= r->period.day0 && last->terminated_day < r->period.day1
            && (e = rb_change_add(r, &chcap, last->terminated_day, PW_CHANGE_TERMINATED, NULL, last)) != PW_OK)
            goto out;
        e = PW_ENOMEM;
        uv[r->nvms - 1] = (pw_usage_vm) { row->name, row->uuid, spans + s0, nspans - s0 };
    }
    if (r->nvms > 0) {
        if ((use = calloc(r->nvms, sizeof *use)) == NULL)
            goto out;
        if ((e = pw_inventory_vms_latest(o->inv, NULL, rb_uuid_cb, &known)) != PW_OK || known.err != PW_OK) {
            e = e != PW_OK ? e : known.err;
            snprintf(msg, msglen, "reading the inventory: %s", pw_strerror(e));
            goto out;
        }
        if ((e = pw_usage_collect(o->txn, uv, r->nvms, (const char *const *) known.u, known.n, r->res, use, msg,
                                  msglen)) != PW_OK)
            goto out;
        for (i = 0; i < r->nvms; i++)
            r->vms[i].use = use[i];
    }
    /* sort the rows (uv points into them no more) */
    pw_qsort(r->vms, r->nvms, sizeof *r->vms, rb_vm_cmp);
    pw_qsort(r->changes, r->nchanges, sizeof *r->changes, rb_change_cmp);
    e = PW_OK;
out:
    for (i = 0; i < known.n; i++)
        free(known.u[i]);
    free(known.u);
    free(use);
    free(uv);
    free(spans);
    return e;
}

/* ---- suggestions and the efficiency bulletin ---------------------------- */

static int
rb_unit_cmp(const void *a, const void *b)
{
    const pw_report_unit *x = a, *y = b;

    if (isnan(x->score) != isnan(y->score))
        return isnan(x->score) ? 1 : -1;
    if (!isnan(x->score) && x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(x->tenant, y->tenant);
}

static pw_err
rb_advice(pw_report *r, const pw_report_advisor_ops *adv)
{
    size_t i;

    r->advice = calloc(r->nvms + 1, sizeof *r->advice);
    r->units = calloc(r->nvms + 1, sizeof *r->units);
    if (r->advice == NULL || r->units == NULL)
        return PW_ENOMEM;
    for (i = 0; i < r->nvms; i++) {
        pw_report_vm     *v = &r->vms[i];
        pw_report_unit   *u;
        pw_report_advice *a;
        double            wc, wm;

        v->rule = adv->rule(NULL, v, r->period_days);
        /* rows are sorted by tenant: a unit is a run */
        if (r->nunits == 0 || strcmp(r->units[r->nunits - 1].tenant, v->tenant) != 0) {
            u = &r->units[r->nunits];
            if ((u->tenant = strdup(v->tenant)) == NULL)
                return PW_ENOMEM;
            r->nunits++;
        }
        u = &r->units[r->nunits - 1];
        u->vms++;
        u->vcpu_days += v->vcpu_days;
        u->memory_gb_days += v->memory_gb_days;
        /* cpu_p95_w, mem_p95_w hold the weighted sums until they are divided below */
        wc = !isnan(v->use.cpu_p95) ? v->vcpu_days : 0;
        wm = !isnan(v->use.mem_p95) ? v->memory_gb_days : 0;
        if (wc > 0 || wm > 0)
            u->vms_measured++;
        if (wc > 0)
            u->cpu_p95_w += v->use.cpu_p95 * wc;
        if (wm > 0)
            u->mem_p95_w += v->use.mem_p95 * wm;
        if (v->rule == PW_RULE_NONE)
            continue;
        u->suggestions++;
        a = &r->advice[r->nadvice];
        a->tenant = strdup(v->tenant);
        a->system = strdup(v->system);
        a->vm = strdup(v->name);
        r->nadvice++;
        if (a->tenant == NULL || a->system == NULL || a->vm == NULL)
            return PW_ENOMEM;
        a->rule = v->rule;
        a->cpu_p95 = v->use.cpu_p95;
        a->mem_p95 = v->use.mem_p95;
        a->cpu_avg = v->use.cpu_avg;
        a->net_mb_per_day = isnan(v->use.net_avg) ? NAN : v->use.net_avg * 86400.0 / 1e6;
        a->vcpus = v->vcpus;
        a->memory_gb = v->memory_gb;
    }
    /* the weights: resource-days of the measured VMs of each unit */
    for (i = 0; i < r->nunits; i++) {
        pw_report_unit *u = &r->units[i];
        double          wc = 0, wm = 0;

        for (size_t k = 0; k < r->nvms; k++) {
            const pw_report_vm *v = &r->vms[k];

            if (strcmp(v->tenant, u->tenant) != 0)
                continue;
            if (!isnan(v->use.cpu_p95))
                wc += v->vcpu_days;
            if (!isnan(v->use.mem_p95))
                wm += v->memory_gb_days;
        }
        u->cpu_p95_w = wc > 0 ? u->cpu_p95_w / wc : NAN;
        u->mem_p95_w = wm > 0 ? u->mem_p95_w / wm : NAN;
        if (!isnan(u->cpu_p95_w) && !isnan(u->mem_p95_w))
            u->score = (u->cpu_p95_w + u->mem_p95_w) / 2;
        else
            u->score = !isnan(u->cpu_p95_w) ? u->cpu_p95_w : u->mem_p95_w;
        u->rank = 0;
    }
    pw_qsort(r->units, r->nunits, sizeof *r->units, rb_unit_cmp);
    for (i = 0; i < r->nunits; i++)
        if (!isnan(r->units[i].score))
            r->units[i].rank = i + 1;
    return PW_OK;
}

/*
 * R3: units to suspend further requests from, as the recommendations judge
 * them (recommend.h) at the period's end (or now, for a period not over):
 * idle or zombie warnings in at least two earlier months and a system still
 * idle. Each such unit is flagged in the bulletin and gets a row of its own
 * in the suggestions. Needs the alert history: without alerts.mdb nothing
 * is flagged.
 */
static pw_err
rb_r3(const pw_report_opts *o, pw_report *r, char *msg, size_t msglen)
{
    pw_rec_opts ro = { .txn = o->txn, .inv = o->inv, .alerts = o->alerts, .tenant = o->tenant,
                       .at = o->period.to_ms < o->now ? o->period.to_ms : o->now };
    json_t     *res = NULL, *t;
    size_t      i;
    pw_err      e;

    if ((e = pw_rec_build(&ro, &res, msg, msglen)) != PW_OK)
        return e;
    json_array_foreach(json_object_get(res, "tenants"), i, t) {
        const char       *name = json_string_value(json_object_get(t, "tenant"));
        json_t           *months = json_object_get(t, "warned_months"), *m;
        pw_report_unit   *u = NULL;
        pw_report_advice *a, *p;
        char              buf[512] = "";
        size_t            k, n = 0;

        if (name == NULL || !json_is_true(json_object_get(t, "suspend_requests")))
            continue;
        for (k = 0; k < r->nunits && u == NULL; k++)
            if (strcmp(r->units[k].tenant, name) == 0)
                u = &r->units[k];
        if (u == NULL)
            continue;           /* no VM in service in the period: not in this report */
        u->flagged = true;
        json_array_foreach(months, k, m)
            if (json_is_string(m) && n < sizeof buf)
                n += (size_t) snprintf(buf + n, sizeof buf - n, "%s%s", k > 0 ? ", " : "", json_string_value(m));
        if ((p = realloc(r->advice, (r->nadvice + 1) * sizeof *p)) == NULL) {
            e = PW_ENOMEM;
            break;
        }
        r->advice = p;
        a = &r->advice[r->nadvice];
        memset(a, 0, sizeof *a);
        r->nadvice++;
        a->rule = PW_RULE_SUSPEND;
        a->cpu_p95 = a->mem_p95 = a->cpu_avg = a->net_mb_per_day = a->vcpus = a->memory_gb = NAN;
        a->tenant = strdup(name);
        a->system = strdup("");
        a->vm = strdup("");
        a->months = strdup(buf);
        if (a->tenant == NULL || a->system == NULL || a->vm == NULL || a->months == NULL) {
            e = PW_ENOMEM;
            break;
        }
    }
    json_decref(res);
    if (e != PW_OK)
        snprintf(msg, msglen, "R3 flags: %s", pw_strerror(e));
    return e;
}

/* ---- operations: pools from the stored series --------------------------- */

typedef struct rb_pool_sink {
    pw_report *r;
    int        field;          /* 0 alloc, 1 used, 2 days alloc, 3 days used */
    bool       end;
    char       pool[256], res[32], kind[16];
    pw_err     err;
} rb_pool_sink;

static pw_err
rb_ps_begin(void *ctx, const char *key, size_t keylen, const pw_series_view *v)
{
    rb_pool_sink *s = ctx;
    const char   *p = pw_series_view_label(v, "pool"), *res = pw_series_view_label(v, "resource");
    const char   *k = pw_series_view_label(v, "kind");

    (void) key;
    (void) keylen;
    snprintf(s->pool, sizeof s->pool, "%s", p != NULL ? p : "");
    snprintf(s->res, sizeof s->res, "%s", res != NULL ? res : "");
    snprintf(s->kind, sizeof s->kind, "%s", k != NULL ? k : "");
    return PW_OK;
}

static pw_err
rb_ps_point(void *ctx, int64_t ts, double value)
{
    rb_pool_sink   *s = ctx;
    pw_report      *r = s->r;
    pw_report_pool *p = NULL;
    int             f = s->field;

    (void) ts;
    if (s->pool[0] == '\0' || s->res[0] == '\0')
        return PW_OK;
    for (size_t i = 0; i < r->npools; i++)
        if (strcmp(r->pools[i].pool, s->pool) == 0 && strcmp(r->pools[i].resource, s->res) == 0)
            p = &r->pools[i];
    if (p == NULL) {
        pw_report_pool *np = realloc(r->pools, (r->npools + 1) * sizeof *np);

        if (np == NULL)
            return PW_ENOMEM;
        r->pools = np;
        p = &r->pools[r->npools];
        *p = (pw_report_pool) { strdup(s->pool), strdup(s->res), NAN, NAN, NAN, NAN, NAN, NAN };
        r->npools++;
        if (p->pool == NULL || p->resource == NULL)
            return PW_ENOMEM;
    }
    if (f == 2)
        f = strcmp(s->kind, "used") == 0 ? 3 : 2;
    switch (f) {
    case 0: *(s->end ? &p->allocated_end : &p->allocated_start) = value; break;
    case 1: *(s->end ? &p->used_end : &p->used_start) = value; break;
    case 2: p->days_to_70_allocated = value; break;
    default: p->days_to_70_used = value; break;
    }
    return PW_OK;
}

static pw_err
rb_ps_end(void *ctx)
{
    (void) ctx;
    return PW_OK;
}

static const pw_query_sink rb_pool_sink_ops = { rb_ps_begin, rb_ps_point, rb_ps_end };

static int
rb_pool_cmp(const void *a, const void *b)
{
    const pw_report_pool *x = a, *y = b;
    int                   c = strcmp(x->pool, y->pool);

    return c != 0 ? c : strcmp(x->resource, y->resource);
}

/* One instant evaluation of expr at t into the sink. */
static pw_err
rb_eval_at(const pw_report_opts *o, const char *expr, int64_t t, const pw_query_sink *sink, void *sctx,
           char *msg, size_t msglen)
{
    pw_expr        *e = NULL;
    pw_eval_store   es;
    pw_eval_source  src;
    pw_eval_opts    eo = { 0 };
    size_t          pos;
    pw_err          err;

    if ((err = pw_expr_parse(expr, &e, &pos, msg, msglen)) != PW_OK)
        return err;
    pw_eval_store_source(&es, o->txn, &src);
    eo.start = eo.end = t;
    eo.step = 0;
    eo.now = o->now;
    err = pw_eval_range(e, &eo, &src, sink, sctx, NULL, msg, msglen);
    pw_expr_free(e);
    return err;
}

static pw_err
rb_pools(const pw_report_opts *o, pw_report *r, char *msg, size_t msglen)
{
    static const struct { const char *expr; int field; bool at_start; } q[] = {
        { "last_over_time(poolwatch_pool_allocated_ratio[1d])", 0, true },
        { "last_over_time(poolwatch_pool_allocated_ratio[1d])", 0, false },
        { "last_over_time(poolwatch_pool_used_ratio[1d])", 1, true },
        { "last_over_time(poolwatch_pool_used_ratio[1d])", 1, false },
        { "last_over_time(poolwatch_pool_days_to_threshold{threshold=\"0.7\"}[1d])", 2, false },
    };
    rb_pool_sink s = { .r = r };
    int64_t      end = o->period.to_ms < o->now ? o->period.to_ms : o->now;
    pw_err       e;

    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        s.field = q[i].field;
        s.end = !q[i].at_start;
        if ((e = rb_eval_at(o, q[i].expr, q[i].at_start ? o->period.from_ms : end, &rb_pool_sink_ops, &s, msg,
                            msglen)) != PW_OK)
            return e;
    }
    pw_qsort(r->pools, r->npools, sizeof *r->pools, rb_pool_cmp);
    return PW_OK;
}

/* ---- operations: agents' availability ----------------------------------- */

typedef struct rb_hosts {
    pw_report    *r;
    pw_store_txn *t;
    int64_t       from, to;
    uint64_t     *ids;   size_t nids, capids;
    char        **names;
    pw_err        err;
} rb_hosts;

static int
rb_host_series(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    rb_hosts      *h = ctx;
    pw_series_view v;
    const char    *host;

    if (pw_series_key_parse(key, keylen, &v) != PW_OK)
        return 0;
    host = pw_series_view_label(&v, "host");
    if (host != NULL) {
        if (h->nids == h->capids) {
            size_t    cap = h->capids ? h->capids * 2 : 64;
            uint64_t *p = realloc(h->ids, cap * sizeof *p);
            char    **q = realloc(h->names, cap * sizeof *q);

            if (p != NULL)
                h->ids = p;
            if (q != NULL)
                h->names = q;
            if (p == NULL || q == NULL) {
                h->err = PW_ENOMEM;
                pw_series_view_free(&v);
                return 1;
            }
            h->capids = cap;
        }
        if ((h->names[h->nids] = strdup(host)) == NULL) {
            h->err = PW_ENOMEM;
            pw_series_view_free(&v);
            return 1;
        }
        h->ids[h->nids++] = id;
    }
    pw_series_view_free(&v);
    return 0;
}

typedef struct rb_hours { int64_t from, to, last; size_t n; } rb_hours;

static int
rb_hour_cb(void *ctx, const pw_rollup *r)
{
    rb_hours *h = ctx;

    if (r->start >= h->from && r->start < h->to && r->start != h->last) {
        h->n++;
        h->last = r->start;
    }
    return 0;
}

static int
rb_host_cmp(const void *a, const void *b)
{
    return strcmp(((const pw_report_host *) a)->host, ((const pw_report_host *) b)->host);
}

/*
 * Availability of each agent: the hours of the period (up to now) with at
 * least one frame (poolwatch_agent_frame_seq, hourly rollups; an agent's
 * several boots count once per hour) over those hours.
 */
static pw_err
rb_hosts_avail(const pw_report_opts *o, pw_report *r)
{
    rb_hosts h = { .r = r, .t = o->txn };
    int64_t  end = o->period.to_ms < o->now ? o->period.to_ms : o->now;
    int64_t  hours = (end - o->period.from_ms) / 3600000;
    pw_err   e;

    if (hours <= 0)
        return PW_OK;
    if ((e = pw_store_series_scan(o->txn, "poolwatch_agent_frame_seq", rb_host_series, &h)) != PW_OK || h.err)
        goto out;
    for (size_t i = 0; i < h.nids; i++) {
        pw_report_host *p = NULL;
        rb_hours        c = { o->period.from_ms, end, INT64_MIN, 0 };

        for (size_t k = 0; k < r->nhosts; k++)
            if (strcmp(r->hosts[k].host, h.names[i]) == 0)
                p = &r->hosts[k];
        if ((e = pw_store_rollups(o->txn, h.ids[i], PW_RES_1H, o->period.from_ms, end - 1, rb_hour_cb, &c)) != PW_OK)
            goto out;
        if (p == NULL) {
            pw_report_host *np = realloc(r->hosts, (r->nhosts + 1) * sizeof *np);

            if (np == NULL) {
                e = PW_ENOMEM;
                goto out;
            }
            r->hosts = np;
            p = &r->hosts[r->nhosts++];
            p->host = h.names[i];
            h.names[i] = NULL;
            p->availability = 0;
        }
        /* boots of one host overlap little; cap at 1 */
        p->availability += (double) c.n / (double) hours;
        if (p->availability > 1)
            p->availability = 1;
    }
    pw_qsort(r->hosts, r->nhosts, sizeof *r->hosts, rb_host_cmp);
out:
    for (size_t i = 0; i < h.nids; i++)
        free(h.names[i]);
    free(h.names);
    free(h.ids);
    return e != PW_OK ? e : h.err;
}

/* ---- operations: alerts ------------------------------------------------- */

typedef struct rb_alerts { pw_report *r; const char *tenant; pw_err err; } rb_alerts;

static int
rb_alert_cb(void *ctx, json_t *rec)
{
    rb_alerts        *a = ctx;
    pw_report        *r = a->r;
    const char       *rule = json_string_value(json_object_get(rec, "rule"));
    const char       *state = json_string_value(json_object_get(rec, "state"));
    const char       *from = json_string_value(json_object_get(rec, "from"));
    pw_report_alerts *p = NULL;

    if (rule == NULL || state == NULL)
        return 0;
    if (a->tenant != NULL) {
        const char *t = json_string_value(json_object_get(json_object_get(rec, "labels"), "tenant"));

        if (t == NULL || strcmp(t, a->tenant) != 0)
            return 0;
    }
    if (strcmp(state, "firing") != 0 && strcmp(state, "resolved") != 0)
        return 0;
    if (strcmp(state, "resolved") == 0 && from != NULL && strcmp(from, "firing") != 0)
        return 0;       /* a pending one that cleared was never raised */
    for (size_t i = 0; i < r->nalerts; i++)
        if (strcmp(r->alerts[i].rule, rule) == 0)
            p = &r->alerts[i];
    if (p == NULL) {
        pw_report_alerts *np = realloc(r->alerts, (r->nalerts + 1) * sizeof *np);

        if (np == NULL) {
            a->err = PW_ENOMEM;
            return 1;
        }
        r->alerts = np;
        p = &r->alerts[r->nalerts];
        *p = (pw_report_alerts) { strdup(rule), 0, 0 };
        if (p->rule == NULL) {
            a->err = PW_ENOMEM;
            return 1;
        }
        r->nalerts++;
    }
    if (strcmp(state, "firing") == 0)
        p->raised++;
    else
        p->resolved++;
    return 0;
}

static int
rb_alerts_cmp(const void *a, const void *b)
{
    return strcmp(((const pw_report_alerts *) a)->rule, ((const pw_report_alerts *) b)->rule);
}

/* ---- the whole ---------------------------------------------------------- */

pw_err
pw_report_build(const pw_report_opts *o, pw_report *r, char *msg, size_t msglen)
{
    rb_vers vs = { 0 };
    pw_err  e = PW_ENOMEM;

    memset(r, 0, sizeof *r);
    if (msglen > 0)
        msg[0] = '\0';
    r->period = o->period;
    r->period_days = o->period.day1 - o->period.day0;
    r->generated_ms = o->now;
    if ((r->tz = strdup(pw_report_tz_name(o->tz))) == NULL
        || (o->tenant != NULL && (r->tenant = strdup(o->tenant)) == NULL))
        goto out;
    r->res = pw_eval_pick_res(PW_EVAL_USE_QUANTILE, o->period.to_ms - o->period.from_ms,
                              o->period.to_ms - o->period.from_ms, o->period.from_ms, o->now, NULL);
    if (r->res == PW_RES_RAW)
        r->res = PW_RES_5M;
    vs.day0 = o->period.day0;
    vs.day1 = o->period.day1;
    if ((e = pw_inventory_vms_in(o->inv, o->period.day0 * RB_DAY_MS, o->period.day1 * RB_DAY_MS, NULL,
                                 rb_ver_cb, &vs)) != PW_OK
        || (e = vs.err) != PW_OK) {
        snprintf(msg, msglen, "reading the inventory: %s", pw_strerror(e));
        goto out;
    }
    if ((e = rb_rows(o, r, &vs, msg, msglen)) != PW_OK)
        goto out;
    if ((e = rb_advice(r, &pw_report_advisor_usage)) != PW_OK)
        goto out;
    if (o->tenant == NULL) {
        /* cloud-wide figures show every tenant's load: the whole-cloud report only */
        if ((e = rb_pools(o, r, msg, msglen)) != PW_OK)
            goto out;
        if ((e = rb_hosts_avail(o, r)) != PW_OK) {
            snprintf(msg, msglen, "reading agent availability: %s", pw_strerror(e));
            goto out;
        }
    }
    if (o->alerts != NULL) {
        rb_alerts a = { r, o->tenant, PW_OK };

        if ((e = pw_alert_db_history(o->alerts, o->period.from_ms, o->period.to_ms - 1, rb_alert_cb, &a)) != PW_OK
            || (e = a.err) != PW_OK) {
            snprintf(msg, msglen, "reading the alert history: %s", pw_strerror(e));
            goto out;
        }
        pw_qsort(r->alerts, r->nalerts, sizeof *r->alerts, rb_alerts_cmp);
        r->alerts_known = true;
        if ((e = rb_r3(o, r, msg, msglen)) != PW_OK)
            goto out;
    }
    e = PW_OK;
out:
    for (size_t i = 0; i < vs.n; i++)
        rb_ver_free(&vs.v[i]);
    free(vs.v);
    if (e != PW_OK) {
        if (msglen > 0 && msg[0] == '\0')
            snprintf(msg, msglen, "building the report: %s", pw_strerror(e));
        pw_report_free(r);
    }
    return e;
}
