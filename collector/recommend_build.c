/*
 * recommend_build.c - the recommendations (recommend.h, pw_rec_build): the
 * window's VMs judged by every rule, grouped per system, with the earlier
 * warnings of alerts.mdb's history and the R3 flag per tenant.
 */
#include "alert_int.h"
#include "sort.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_HISTORY_MS (INT64_C(400) * PW_REC_DAY_MS)

/* A VM's findings, in the order they win (reclaim before resizing). */
static const pw_rec_finding rb_order[] = {
    PW_REC_FIND_ZOMBIE, PW_REC_FIND_SHUTOFF, PW_REC_FIND_IDLE, PW_REC_FIND_UNDERSIZED, PW_REC_FIND_OVERSIZED,
};

/* One firing of a day rule, from the history. */
typedef struct rb_warn {
    char          *rule, *fp, *tenant, *system, *vm;
    pw_rec_finding kind;
    int64_t        fired, resolved;    /* resolved 0: still firing */
} rb_warn;

typedef struct rb_hist {
    const pw_alert_config *cfg;
    int64_t                at;
    rb_warn               *w;
    size_t                 n, cap;
    bool                   nomem;
} rb_hist;

static json_t *
rb_num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* Month label "YYYY-MM" (UTC) of ms. */
static void
rb_month(int64_t ms, char out[16])
{
    int64_t  z = (ms >= 0 ? ms / PW_REC_DAY_MS : -((-ms + PW_REC_DAY_MS - 1) / PW_REC_DAY_MS)) + 719468;
    int64_t  era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    int      m = (int) (mp < 10 ? mp + 3 : mp - 9);
    int64_t  y = (int64_t) yoe + era * 400 + (m <= 2);

    snprintf(out, 16, "%04d-%02d", (int) (y % 10000), m);
}

/* The months [a, b] touches, as labels appended to arr (no duplicates). */
static void
rb_months(json_t *arr, int64_t a, int64_t b)
{
    char last[16] = "";

    /* a day at a time is plenty: at most 400 days */
    for (int64_t t = a; t <= b + PW_REC_DAY_MS - 1; t += PW_REC_DAY_MS) {
        char   m[16];
        bool   seen = false;
        size_t i;
        json_t *x;

        rb_month(t > b ? b : t, m);
        if (strcmp(m, last) == 0)
            continue;
        snprintf(last, sizeof last, "%s", m);
        json_array_foreach(arr, i, x)
            seen = seen || strcmp(json_string_value(x), m) == 0;
        if (!seen)
            json_array_append_new(arr, json_string(m));
    }
}

static pw_rec_finding
rb_rule_kind(const pw_alert_config *c, const char *name)
{
    for (size_t i = 0; name != NULL && i < c->nrules; i++)
        if (strcmp(c->rules[i].name, name) == 0) {
            const pw_alert_kind_ops *k = c->rules[i].kind;

            return k == &pw_alert_kind_underuse ? PW_REC_FIND_IDLE : k == &pw_alert_kind_zombie ? PW_REC_FIND_ZOMBIE
                 : k == &pw_alert_kind_oversized ? PW_REC_FIND_OVERSIZED
                 : k == &pw_alert_kind_undersized ? PW_REC_FIND_UNDERSIZED : PW_REC_FIND_NONE;
        }
    return PW_REC_FIND_NONE;
}

static char *
rb_label(const json_t *rec, const char *k)
{
    const char *s = json_string_value(json_object_get(json_object_get(rec, "labels"), k));

    return strdup(s ? s : "");
}

static int
rb_hist_cb(void *ctx, json_t *rec)
{
    rb_hist       *h = ctx;
    const char    *rule = json_string_value(json_object_get(rec, "rule"));
    const char    *fp = json_string_value(json_object_get(rec, "fingerprint"));
    const char    *to = json_string_value(json_object_get(rec, "state"));
    int64_t        time = json_integer_value(json_object_get(rec, "time"));
    pw_rec_finding k = rb_rule_kind(h->cfg, rule);
    rb_warn       *w;

    if (k == PW_REC_FIND_NONE || fp == NULL || to == NULL)
        return 0;
    if (strcmp(to, "resolved") == 0) {
        for (size_t i = h->n; i-- > 0;)
            if (h->w[i].resolved == 0 && strcmp(h->w[i].rule, rule) == 0 && strcmp(h->w[i].fp, fp) == 0) {
                h->w[i].resolved = time;
                break;
            }
        return 0;
    }
    if (strcmp(to, "firing") != 0)
        return 0;
    if (h->n == h->cap) {
        size_t   cap = h->cap ? h->cap * 2 : 64;
        rb_warn *p = realloc(h->w, cap * sizeof *p);

        if (p == NULL) {
            h->nomem = true;
            return 1;
        }
        h->w = p;
        h->cap = cap;
    }
    w = &h->w[h->n++];
    *w = (rb_warn) { strdup(rule), strdup(fp), rb_label(rec, "tenant"), rb_label(rec, "system"),
                     rb_label(rec, "vm"), k, time, 0 };
    if (w->rule == NULL || w->fp == NULL || w->tenant == NULL || w->system == NULL || w->vm == NULL) {
        h->nomem = true;
        return 1;
    }
    return 0;
}

static void
rb_hist_free(rb_hist *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->w[i].rule);
        free(h->w[i].fp);
        free(h->w[i].tenant);
        free(h->w[i].system);
        free(h->w[i].vm);
    }
    free(h->w);
}

static json_t *
rb_verdict(const pw_rec_verdict *v)
{
    json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:i,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:f,s:f}",
        "finding", pw_rec_finding_name(v->finding), "action", pw_rec_action_name(v->action),
        "days", v->days, "of_days", v->of_days, "min_days", v->min_days,
        "from", (json_int_t) v->from_ms, "to", (json_int_t) v->to_ms,
        "cpu_p95", rb_num(v->cpu_p95), "cpu_avg", rb_num(v->cpu_avg), "mem_p95", rb_num(v->mem_p95),
        "net_mb_per_day", rb_num(v->net_per_day / 1e6), "disk_mb_per_day", rb_num(v->disk_per_day / 1e6),
        "vcpus", v->vcpus, "memory_gb", v->memory_gb);

    if (o != NULL && (v->action == PW_REC_DOWNSIZE || v->action == PW_REC_EXPAND))
        json_object_set_new(o, "target", json_pack("{s:f,s:f,s:b}", "vcpus", v->target_vcpus,
                                                   "memory_gb", v->target_memory_gb, "in_use", v->target_in_use));
    return o;
}

static int
rb_sys_cmp(const void *a, const void *b)
{
    const pw_rec_vm *x = *(const pw_rec_vm *const *) a, *y = *(const pw_rec_vm *const *) b;
    int              c = strcmp(x->tenant, y->tenant);

    if (c == 0)
        c = strcmp(x->system, y->system);
    return c != 0 ? c : strcmp(x->name, y->name);
}

static json_t *
rb_rules_json(const pw_rec_rules *r)
{
    return json_pack("{s:{s:f,s:f,s:i,s:i},s:{s:f,s:f,s:f,s:f,s:i,s:i},s:{s:f,s:i,s:i,s:f},"
                     "s:{s:f,s:i,s:i,s:f},s:i}",
        "idle", "cpu_p95", r->idle_cpu_p95, "net_bytes_per_day", r->idle_net, "days", r->idle_days,
                "min_days", r->idle_min_days,
        "zombie", "cpu_avg", r->zombie_cpu_avg, "net_bytes_per_day", r->zombie_net,
                  "disk_bytes_per_day", r->zombie_disk, "running", r->zombie_running,
                  "days", r->zombie_days, "min_days", r->zombie_min_days,
        "oversized", "p95", r->over_p95, "days", r->over_days, "min_days", r->over_min_days,
                     "headroom", r->headroom,
        "undersized", "p95", r->under_p95, "days", r->under_days, "min_days", r->under_min_days,
                      "headroom", r->headroom,
        "suspend_after_months", r->r3_months);
}

/* The tenants' R3 entries from the systems found and the warnings. */
static json_t *
rb_tenants(const rb_hist *h, json_t *systems, int64_t at, int r3, const char *only)
{
    json_t *out = json_array(), *names = json_array(), *s, *x;
    char    now_m[16];
    size_t  i, k;

    if (out == NULL || names == NULL) {
        json_decref(out);
        json_decref(names);
        return NULL;
    }
    rb_month(at, now_m);
    json_array_foreach(systems, i, s)
        json_array_append(names, json_object_get(s, "tenant"));
    for (i = 0; i < h->n; i++)
        if (h->w[i].tenant[0] && (only == NULL || strcmp(only, h->w[i].tenant) == 0))
            json_array_append_new(names, json_string(h->w[i].tenant));
    json_array_foreach(names, i, x) {
        const char *t = json_string_value(x);
        json_t     *months = json_array(), *m;
        bool        dup = false, low = false;
        size_t      nsys = 0, j, nearlier = 0;

        for (k = 0; k < i; k++)
            dup = dup || strcmp(json_string_value(json_array_get(names, k)), t) == 0;
        if (dup || months == NULL) {
            json_decref(months);
            continue;
        }
        json_array_foreach(systems, k, s) {
            const char *action;

            if (strcmp(json_string_value(json_object_get(s, "tenant")), t) != 0)
                continue;
            nsys++;
            action = json_string_value(json_object_get(s, "low"));
            low = low || (action != NULL && strcmp(action, "yes") == 0);
        }
        for (k = 0; k < h->n; k++) {
            const rb_warn *w = &h->w[k];

            if (strcmp(w->tenant, t) != 0 || (w->kind != PW_REC_FIND_IDLE && w->kind != PW_REC_FIND_ZOMBIE))
                continue;
            rb_months(months, w->fired, w->resolved ? w->resolved : at);
        }
        /* earlier months only: the current one is "still low", not a warning before it */
        for (j = json_array_size(months); j-- > 0;) {
            m = json_array_get(months, j);
            if (strcmp(json_string_value(m), now_m) >= 0)
                json_array_remove(months, j);
        }
        nearlier = json_array_size(months);
        json_array_append_new(out, json_pack("{s:s,s:i,s:o,s:b,s:b,s:i}", "tenant", t, "systems", (int) nsys,
                                             "warned_months", months, "still_low", low,
                                             "suspend_requests", low && (int) nearlier >= r3,
                                             "warned_months_needed", r3));
    }
    json_decref(names);
    return out;
}

pw_err
pw_rec_build(const pw_rec_opts *o, json_t **out, char *msg, size_t msglen)
{
    pw_alert_config *own = NULL;
    const pw_alert_config *cfg = o->cfg;
    pw_rec_rules     r;
    pw_rec_window   *w = NULL;
    const pw_rec_vm **v = NULL;
    rb_hist          h = { 0 };
    json_t          *res = NULL, *systems = NULL;
    size_t           n = 0, ndays;
    pw_err           e;

    *out = NULL;
    if (cfg == NULL) {
        if ((e = pw_alert_config_load(NULL, &own, msg, msglen)) != PW_OK)
            return e;
        cfg = own;
    }
    h.cfg = cfg;
    h.at = o->at;
    pw_rec_rules_from_config(cfg, &r);
    ndays = (size_t) r.idle_days;
    if ((size_t) r.zombie_days > ndays) ndays = (size_t) r.zombie_days;
    if ((size_t) r.over_days > ndays) ndays = (size_t) r.over_days;
    if ((size_t) r.under_days > ndays) ndays = (size_t) r.under_days;
    if ((e = pw_rec_window_collect(o->txn, o->inv, o->at, ndays, o->tenant, o->cache, &w, msg, msglen)) != PW_OK)
        goto out;
    if (o->alerts != NULL) {
        if ((e = pw_alert_db_history(o->alerts, o->at - RB_HISTORY_MS, o->at, rb_hist_cb, &h)) != PW_OK) {
            snprintf(msg, msglen, "recommendations: reading alerts.mdb: %s", pw_strerror(e));
            goto out;
        }
        if (h.nomem) {
            e = PW_ENOMEM;
            goto out;
        }
    }
    e = PW_ENOMEM;
    if ((v = calloc(w->nvms + 1, sizeof *v)) == NULL || (systems = json_array()) == NULL)
        goto out;
    for (size_t i = 0; i < w->nvms; i++)
        if (o->system == NULL || strcmp(o->system, w->vms[i].system) == 0)
            v[n++] = &w->vms[i];
    pw_qsort(v, n, sizeof *v, rb_sys_cmp);
    for (size_t i = 0, j; i < n; i = j) {
        json_t        *vms = json_array(), *warns = json_array(), *sys;
        pw_rec_verdict sv;
        unsigned       actions = 0;
        bool           low = false;

        for (j = i + 1; j < n && strcmp(v[i]->tenant, v[j]->tenant) == 0
                        && strcmp(v[i]->system, v[j]->system) == 0; j++)
            ;
        if (vms == NULL || warns == NULL) {
            json_decref(vms);
            json_decref(warns);
            goto out;
        }
        for (size_t k = i; k < j; k++) {
            for (size_t f = 0; f < sizeof rb_order / sizeof rb_order[0]; f++) {
                pw_rec_verdict vd;
                json_t        *x;

                pw_rec_judge(&r, w, v[k], rb_order[f], &vd);
                if (vd.finding == PW_REC_FIND_NONE)
                    continue;
                if ((x = rb_verdict(&vd)) != NULL) {
                    json_object_set_new(x, "vm", json_string(v[k]->name));
                    json_object_set_new(x, "subsystem", json_string(v[k]->subsystem));
                    json_object_set_new(x, "uuid", json_string(v[k]->uuid));
                    json_array_append_new(vms, x);
                }
                actions |= 1u << vd.action;
                low = low || vd.action == PW_REC_RECLAIM;
                break;
            }
        }
        pw_rec_judge_system(&r, w, v + i, j - i, &sv);
        if (sv.finding != PW_REC_FIND_NONE) {
            actions |= 1u << sv.action;
            low = true;
        }
        if (actions == 0) {
            json_decref(vms);
            json_decref(warns);
            continue;
        }
        for (size_t k = 0; k < h.n; k++) {
            const rb_warn *x = &h.w[k];
            json_t        *months;

            if (strcmp(x->tenant, v[i]->tenant) != 0 || strcmp(x->system, v[i]->system) != 0)
                continue;
            if ((months = json_array()) == NULL)
                continue;
            rb_months(months, x->fired, x->resolved ? x->resolved : o->at);
            json_array_append_new(warns, json_pack("{s:s,s:s,s:s,s:I,s:I,s:o}", "rule", x->rule,
                                  "kind", x->kind == PW_REC_FIND_IDLE ? "underuse" : pw_rec_finding_name(x->kind),
                                  "vm", x->vm, "fired_at", (json_int_t) x->fired,
                                  "resolved_at", (json_int_t) x->resolved, "months", months));
        }
        sys = json_pack("{s:s,s:s,s:s,s:o,s:o,s:s}", "tenant", v[i]->tenant, "system", v[i]->system,
                        "action", (actions & (actions - 1)) ? "mixed"
                                  : actions & (1u << PW_REC_RECLAIM) ? "reclaim"
                                  : actions & (1u << PW_REC_DOWNSIZE) ? "downsize" : "expand",
                        "vms", vms, "warnings", warns, "low", low ? "yes" : "no");
        if (sys == NULL)
            goto out;
        if (sv.finding != PW_REC_FIND_NONE)
            json_object_set_new(sys, "idle", rb_verdict(&sv));
        json_array_append_new(systems, sys);
    }
    res = json_pack("{s:I,s:I,s:I,s:o,s:o}", "at", (json_int_t) o->at, "from", (json_int_t) w->from_ms,
                    "to", (json_int_t) w->to_ms, "rules", rb_rules_json(&r), "systems", json_incref(systems));
    if (res == NULL)
        goto out;
    json_object_set_new(res, "tenants", rb_tenants(&h, systems, o->at, r.r3_months, o->tenant));
    /* "low" was for the tenants' pass only */
    {
        size_t  i;
        json_t *s;

        json_array_foreach(systems, i, s)
            json_object_del(s, "low");
    }
    *out = res;
    res = NULL;
    e = PW_OK;
out:
    if (e == PW_ENOMEM && msglen > 0)
        snprintf(msg, msglen, "recommendations: out of memory");
    json_decref(res);
    json_decref(systems);
    free(v);
    rb_hist_free(&h);
    pw_rec_window_free(w);
    pw_alert_config_free(own);
    return e;
}
