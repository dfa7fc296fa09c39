/*
 * recommend_days.c - the daily figures of a window (recommend.h): the
 * inventory's VMs and their allocation per day, usage.h for each day (CPU,
 * memory, network, running), and, read here because usage.h has neither,
 * each day's disk I/O and whether the VM was shut off all day, from the
 * daily rollups (cheap: one bucket per series per day). Days whose figures
 * are final go into the cache, so an hourly rule computes a day once.
 */
#include "recommend.h"
#include "sort.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series.h"
#include "usage.h"

#define RD_SETTLE_MS  INT64_C(7200000)   /* a day is final this long after its end */
#define RD_UUID_LEN   16

/* ---- cache ---------------------------------------------------------------- */

typedef struct rd_entry {
    int64_t    day;
    char      *name, *uuid;
    pw_rec_day fig;            /* usage part: cpu_avg, cpu_p95, mem_p95, net, running, alloc */
} rd_entry;

struct pw_rec_cache {
    rd_entry *e;
    size_t    n, cap;
    size_t    sorted;          /* e[0..sorted) is in (day, name) order */
};

pw_err
pw_rec_cache_new(pw_rec_cache **out)
{
    *out = calloc(1, sizeof **out);
    return *out != NULL ? PW_OK : PW_ENOMEM;
}

static void
rd_entry_free(rd_entry *e)
{
    free(e->name);
    free(e->uuid);
}

void
pw_rec_cache_free(pw_rec_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        rd_entry_free(&c->e[i]);
    free(c->e);
    free(c);
}

static int
rd_entry_cmp(const void *a, const void *b)
{
    const rd_entry *x = a, *y = b;

    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return strcmp(x->name, y->name);
}

static const rd_entry *
rd_cache_find(const pw_rec_cache *c, int64_t day, const char *name)
{
    rd_entry key = { .day = day, .name = (char *) name };

    if (c == NULL || c->sorted == 0)
        return NULL;
    return bsearch(&key, c->e, c->sorted, sizeof key, rd_entry_cmp);
}

static pw_err
rd_cache_put(pw_rec_cache *c, int64_t day, const char *name, const char *uuid, const pw_rec_day *fig)
{
    rd_entry *e;

    if (c->n == c->cap) {
        size_t    cap = c->cap ? c->cap * 2 : 1024;
        rd_entry *p = realloc(c->e, cap * sizeof *p);

        if (p == NULL)
            return PW_ENOMEM;
        c->e = p;
        c->cap = cap;
    }
    e = &c->e[c->n];
    e->day = day;
    e->fig = *fig;
    if ((e->name = strdup(name)) == NULL || (e->uuid = strdup(uuid)) == NULL) {
        free(e->name);
        return PW_ENOMEM;
    }
    c->n++;
    return PW_OK;
}

/* Drops days before `keep_from` and stale duplicates, sorts. */
static void
rd_cache_tidy(pw_rec_cache *c, int64_t keep_from)
{
    size_t o = 0;

    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i].day < keep_from)
            rd_entry_free(&c->e[i]);
        else
            c->e[o++] = c->e[i];
    }
    c->n = o;
    pw_qsort(c->e, c->n, sizeof *c->e, rd_entry_cmp);
    /* A recomputed entry (allocation or UUID changed) replaces the older one. */
    o = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (o > 0 && rd_entry_cmp(&c->e[o - 1], &c->e[i]) == 0) {
            rd_entry_free(&c->e[o - 1]);
            c->e[o - 1] = c->e[i];
        } else {
            c->e[o++] = c->e[i];
        }
    }
    c->n = c->sorted = o;
}

/* ---- the inventory's VMs -------------------------------------------------- */

typedef struct rd_inv {
    pw_rec_window *w;
    size_t         cap;
    char         **known;       /* every UUID of the inventory */
    size_t         nknown, capknown;
    pw_rec_flavour *fl;
    size_t         nfl, capfl;
    pw_err         err;
} rd_inv;

static int
rd_vm_cb(void *ctx, const pw_inv_vm *v)
{
    rd_inv    *a = ctx;
    pw_rec_vm *m;

    if (a->w->nvms == a->cap) {
        size_t     cap = a->cap ? a->cap * 2 : 256;
        pw_rec_vm *p = realloc(a->w->vms, cap * sizeof *p);

        if (p == NULL)
            goto nomem;
        a->w->vms = p;
        a->cap = cap;
    }
    m = &a->w->vms[a->w->nvms];
    memset(m, 0, sizeof *m);
    m->vcpus = v->vcpus;
    m->memory_gb = v->memory_gb;
    a->w->nvms++;
    if ((m->name = strdup(v->name)) == NULL || (m->uuid = strdup(v->uuid)) == NULL
        || (m->tenant = strdup(v->tenant)) == NULL || (m->system = strdup(v->system)) == NULL
        || (m->subsystem = strdup(v->subsystem)) == NULL
        || (m->days = calloc(a->w->ndays, sizeof *m->days)) == NULL)
        goto nomem;
    for (size_t d = 0; d < a->w->ndays; d++)
        m->days[d] = (pw_rec_day) { NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, 0 };
    return 0;
nomem:
    a->err = PW_ENOMEM;
    return 1;
}

static int
rd_known_cb(void *ctx, const pw_inv_vm *v)
{
    rd_inv *a = ctx;

    if (v->uuid[0] == '\0')
        return 0;
    if (a->nknown == a->capknown) {
        size_t cap = a->capknown ? a->capknown * 2 : 256;
        char **p = realloc(a->known, cap * sizeof *p);

        if (p == NULL) {
            a->err = PW_ENOMEM;
            return 1;
        }
        a->known = p;
        a->capknown = cap;
    }
    if ((a->known[a->nknown] = strdup(v->uuid)) == NULL) {
        a->err = PW_ENOMEM;
        return 1;
    }
    a->nknown++;
    return 0;
}

static int
rd_flavour_cb(void *ctx, const pw_inv_vm *v)
{
    rd_inv *a = ctx;

    if (!(v->vcpus > 0 && v->memory_gb > 0))
        return 0;
    for (size_t i = 0; i < a->nfl; i++)
        if (a->fl[i].vcpus == v->vcpus && a->fl[i].memory_gb == v->memory_gb)
            return 0;
    if (a->nfl == a->capfl) {
        size_t          cap = a->capfl ? a->capfl * 2 : 32;
        pw_rec_flavour *p = realloc(a->fl, cap * sizeof *p);

        if (p == NULL) {
            a->err = PW_ENOMEM;
            return 1;
        }
        a->fl = p;
        a->capfl = cap;
    }
    a->fl[a->nfl++] = (pw_rec_flavour) { v->vcpus, v->memory_gb };
    return 0;
}

static int
rd_flavour_cmp(const void *a, const void *b)
{
    const pw_rec_flavour *x = a, *y = b;

    if (x->vcpus != y->vcpus)
        return x->vcpus < y->vcpus ? -1 : 1;
    return x->memory_gb < y->memory_gb ? -1 : x->memory_gb > y->memory_gb;
}

static int
rd_vm_name_cmp(const void *a, const void *b)
{
    return strcmp(((const pw_rec_vm *) a)->name, ((const pw_rec_vm *) b)->name);
}

/* Each version's allocation onto the days it was in effect at their midnight. */
static int
rd_alloc_cb(void *ctx, const pw_inv_vm *v)
{
    rd_inv        *a = ctx;
    pw_rec_window *w = a->w;
    pw_rec_vm      key = { .name = (char *) v->name }, *m;

    m = w->nvms > 0 ? bsearch(&key, w->vms, w->nvms, sizeof key, rd_vm_name_cmp) : NULL;
    if (m == NULL)
        return 0;
    for (size_t d = 0; d < w->ndays; d++) {
        int64_t t = (w->day0 + (int64_t) d) * PW_REC_DAY_MS;

        if (v->valid_from_ms <= t && t < v->valid_to_ms && v->delivered_ms != INT64_MIN
            && v->delivered_ms <= t && t < v->terminated_ms) {
            m->days[d].vcpus = v->vcpus;
            m->days[d].memory_gb = v->memory_gb;
        }
    }
    return 0;
}

/* ---- disk I/O and "off all day", from daily rollups ----------------------- */

typedef struct rd_key { unsigned char b[RD_UUID_LEN]; size_t vm; } rd_key;

typedef struct rd_scan {
    pw_rec_window *w;
    pw_store_txn  *t;
    rd_key        *uuids;   size_t nuuids;
    rd_key        *known;   size_t nknown;
    bool           state;   /* reading poolwatch_vm_state, else a disk counter */
    pw_err         err;
} rd_scan;

static int
rd_hex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* scope.h's reading of a UUID: 32 hex digits, dashes and case ignored. */
static bool
rd_uuid(const char *s, unsigned char *b)
{
    size_t n = 0;

    for (; *s; s++) {
        int h;

        if (*s == '-')
            continue;
        if ((h = rd_hex((unsigned char) *s)) < 0 || n == 2 * RD_UUID_LEN)
            return false;
        b[n / 2] = n % 2 ? (unsigned char) (b[n / 2] | h) : (unsigned char) (h << 4);
        n++;
    }
    return n == 2 * RD_UUID_LEN;
}

static int
rd_key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, RD_UUID_LEN);
}

/* The VM of a series by usage.h's rule (UUID, else name for VMs without one), or SIZE_MAX. */
static size_t
rd_match(const rd_scan *s, const pw_series_view *v)
{
    const char *vm = pw_series_view_label(v, "vm"), *name = pw_series_view_label(v, "vm_name");
    rd_key      k;
    pw_rec_vm   key, *m;

    if (vm != NULL && rd_uuid(vm, k.b)) {
        rd_key *h = s->nuuids ? bsearch(&k, s->uuids, s->nuuids, sizeof k, rd_key_cmp) : NULL;

        if (h != NULL)
            return h->vm;
        if (s->nknown && bsearch(&k, s->known, s->nknown, sizeof k, rd_key_cmp) != NULL)
            return SIZE_MAX;
    }
    if (name == NULL || s->w->nvms == 0)
        return SIZE_MAX;
    key.name = (char *) name;
    m = bsearch(&key, s->w->vms, s->w->nvms, sizeof key, rd_vm_name_cmp);
    return m != NULL && m->uuid[0] == '\0' ? (size_t) (m - s->w->vms) : SIZE_MAX;
}

typedef struct rd_read {
    rd_scan   *s;
    pw_rec_vm *m;
    bool       have_prev;
    double     prev_last;
} rd_read;

static int
rd_rollup_cb(void *ctx, const pw_rollup *r)
{
    rd_read       *rd = ctx;
    pw_rec_window *w = rd->s->w;
    int64_t        d = r->start / PW_REC_DAY_MS - w->day0;

    if (rd->s->state) {
        if (d >= 0 && d < (int64_t) w->ndays && r->count > 0) {
            /* states 1..7, 1 = running: off all day when no sample was 1 */
            bool    off = r->min > 1.5 || r->max < 0.5;
            double *o = &rd->m->days[d].off;

            *o = isnan(*o) ? (off ? 1 : 0) : (*o == 1 && off ? 1 : 0);
        }
        return 0;
    }
    if (d >= 0 && d < (int64_t) w->ndays) {
        double inc = !rd->have_prev ? r->last - r->min : r->min < rd->prev_last ? r->last
                   : r->last - rd->prev_last;
        double *disk = &rd->m->days[d].disk;

        *disk = isnan(*disk) ? inc : *disk + inc;
    }
    rd->have_prev = true;
    rd->prev_last = r->last;
    return 0;
}

static int
rd_series_cb(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    rd_scan       *s = ctx;
    pw_series_view v;
    size_t         vm;
    rd_read        rd = { .s = s };

    if (pw_series_key_parse(key, keylen, &v) != PW_OK)
        return 0;
    vm = rd_match(s, &v);
    pw_series_view_free(&v);
    if (vm == SIZE_MAX)
        return 0;
    rd.m = &s->w->vms[vm];
    /* From the day before, for the first day's increase; bucket d holds (d, d + 1]. */
    if ((s->err = pw_store_rollups(s->t, id, PW_RES_1D, s->w->from_ms - PW_REC_DAY_MS, s->w->to_ms - 1,
                                   rd_rollup_cb, &rd)) != PW_OK)
        return 1;
    return 0;
}

static pw_err
rd_daily(pw_store_txn *t, pw_rec_window *w, char *const *known, size_t nknown, bool disk)
{
    rd_scan     s = { .w = w, .t = t };
    const char *metrics[] = { "poolwatch_vm_disk_read_bytes_total", "poolwatch_vm_disk_written_bytes_total" };
    pw_err      e = PW_ENOMEM;

    if ((s.uuids = calloc(w->nvms + 1, sizeof *s.uuids)) == NULL
        || (s.known = calloc(nknown + 1, sizeof *s.known)) == NULL)
        goto out;
    for (size_t i = 0; i < w->nvms; i++)
        if (rd_uuid(w->vms[i].uuid, s.uuids[s.nuuids].b))
            s.uuids[s.nuuids++].vm = i;
    for (size_t i = 0; i < nknown; i++)
        if (rd_uuid(known[i], s.known[s.nknown].b))
            s.nknown++;
    pw_qsort(s.uuids, s.nuuids, sizeof *s.uuids, rd_key_cmp);
    pw_qsort(s.known, s.nknown, sizeof *s.known, rd_key_cmp);
    if (disk) {
        for (size_t k = 0; k < 2; k++)
            if ((e = pw_store_series_scan(t, metrics[k], rd_series_cb, &s)) != PW_OK || s.err != PW_OK)
                goto out;
    } else {
        s.state = true;
        if ((e = pw_store_series_scan(t, "poolwatch_vm_state", rd_series_cb, &s)) != PW_OK || s.err != PW_OK)
            goto out;
    }
    e = PW_OK;
out:
    if (e == PW_OK && s.err != PW_OK)
        e = s.err;
    free(s.uuids);
    free(s.known);
    return e;
}

/* ---- usage per day ---------------------------------------------------------- */

static pw_err
rd_usage_day(pw_store_txn *t, pw_rec_window *w, size_t d, int64_t at, pw_rec_cache *cache,
             char *const *known, size_t nknown, char *msg, size_t msglen)
{
    int64_t        day = w->day0 + (int64_t) d, from = day * PW_REC_DAY_MS, to = from + PW_REC_DAY_MS;
    bool           final = at >= to + RD_SETTLE_MS;
    pw_usage_vm   *uv = calloc(w->nvms + 1, sizeof *uv);
    pw_usage_span *sp = calloc(w->nvms + 1, sizeof *sp);
    pw_usage      *out = calloc(w->nvms + 1, sizeof *out);
    size_t        *idx = calloc(w->nvms + 1, sizeof *idx), n = 0;
    pw_err         e = PW_ENOMEM;

    if (uv == NULL || sp == NULL || out == NULL || idx == NULL)
        goto out;
    for (size_t i = 0; i < w->nvms; i++) {
        pw_rec_vm      *m = &w->vms[i];
        pw_rec_day     *f = &m->days[d];
        const rd_entry *c;

        if (f->vcpus <= 0 && f->memory_gb <= 0)
            continue;                                  /* not in service that day */
        c = rd_cache_find(cache, day, m->name);
        if (c != NULL && strcmp(c->uuid, m->uuid) == 0 && c->fig.vcpus == f->vcpus
            && c->fig.memory_gb == f->memory_gb) {
            *f = c->fig;
            continue;
        }
        sp[n] = (pw_usage_span) { from, to, f->vcpus, f->memory_gb * 1073741824.0 };
        uv[n] = (pw_usage_vm) { m->name, m->uuid, &sp[n], 1 };
        idx[n++] = i;
    }
    if (n == 0) {
        e = PW_OK;
        goto out;
    }
    if ((e = pw_usage_collect(t, uv, n, (const char *const *) known, nknown, PW_RES_5M, out, msg,
                              msglen)) != PW_OK)
        goto out;
    for (size_t k = 0; k < n; k++) {
        pw_rec_day *f = &w->vms[idx[k]].days[d];

        f->cpu_avg = out[k].cpu_avg;
        f->cpu_p95 = out[k].cpu_p95;
        f->mem_p95 = out[k].mem_p95;
        /* mean throughput over the day's buckets with data, as bytes per day */
        f->net = out[k].net_avg * 86400.0;
        f->running = out[k].availability;
        if (final && cache != NULL && (e = rd_cache_put(cache, day, w->vms[idx[k]].name,
                                                        w->vms[idx[k]].uuid, f)) != PW_OK)
            goto out;
    }
    e = PW_OK;
out:
    free(uv);
    free(sp);
    free(out);
    free(idx);
    return e;
}

void
pw_rec_window_free(pw_rec_window *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->nvms; i++) {
        free(w->vms[i].name);
        free(w->vms[i].uuid);
        free(w->vms[i].tenant);
        free(w->vms[i].system);
        free(w->vms[i].subsystem);
        free(w->vms[i].days);
    }
    free(w->vms);
    free(w->flavours);
    free(w);
}

pw_err
pw_rec_window_collect(pw_store_txn *t, pw_inventory *inv, int64_t at, size_t ndays, const char *tenant,
                      pw_rec_cache *cache, pw_rec_window **out, char *msg, size_t msglen)
{
    pw_rec_window *w = calloc(1, sizeof *w);
    rd_inv         a = { .w = w };
    pw_err         e = PW_ENOMEM;

    *out = NULL;
    if (msglen > 0)
        msg[0] = '\0';
    if (ndays < 1 || ndays > PW_REC_MAX_DAYS) {
        free(w);
        snprintf(msg, msglen, "recommendations: a window of %zu days (1 to %d)", ndays, PW_REC_MAX_DAYS);
        return PW_EINVAL;
    }
    if (w == NULL)
        goto out;
    /* the last ndays complete days before at */
    w->ndays = ndays;
    w->day0 = (at >= 0 ? at / PW_REC_DAY_MS : -((-at + PW_REC_DAY_MS - 1) / PW_REC_DAY_MS)) - (int64_t) ndays;
    w->from_ms = w->day0 * PW_REC_DAY_MS;
    w->to_ms = w->from_ms + (int64_t) ndays * PW_REC_DAY_MS;
    if ((e = pw_inventory_vms_at(inv, at - 1, tenant, rd_vm_cb, &a)) != PW_OK || a.err != PW_OK
        || (e = pw_inventory_vms_at(inv, at - 1, NULL, rd_flavour_cb, &a)) != PW_OK || a.err != PW_OK
        || (e = pw_inventory_vms_latest(inv, NULL, rd_known_cb, &a)) != PW_OK || a.err != PW_OK) {
        e = e != PW_OK ? e : a.err;
        snprintf(msg, msglen, "recommendations: reading the inventory: %s", pw_strerror(e));
        goto out;
    }
    pw_qsort(w->vms, w->nvms, sizeof *w->vms, rd_vm_name_cmp);
    pw_qsort(a.fl, a.nfl, sizeof *a.fl, rd_flavour_cmp);
    w->flavours = a.fl;
    w->nflavours = a.nfl;
    a.fl = NULL;
    if ((e = pw_inventory_vms_in(inv, w->from_ms, w->to_ms, tenant, rd_alloc_cb, &a)) != PW_OK) {
        snprintf(msg, msglen, "recommendations: reading the inventory: %s", pw_strerror(e));
        goto out;
    }
    for (size_t d = 0; d < ndays; d++)
        if ((e = rd_usage_day(t, w, d, at, cache, a.known, a.nknown, msg, msglen)) != PW_OK)
            goto out;
    if ((e = rd_daily(t, w, a.known, a.nknown, true)) != PW_OK
        || (e = rd_daily(t, w, a.known, a.nknown, false)) != PW_OK) {
        if (msglen > 0 && msg[0] == '\0')
            snprintf(msg, msglen, "recommendations: reading disk and state series: %s", pw_strerror(e));
        goto out;
    }
    rd_cache_tidy(cache, w->day0 - PW_REC_MAX_DAYS);
    *out = w;
    w = NULL;
out:
    if (e == PW_ENOMEM && msglen > 0)
        snprintf(msg, msglen, "recommendations: out of memory");
    for (size_t i = 0; i < a.nknown; i++)
        free(a.known[i]);
    free(a.known);
    free(a.fl);
    pw_rec_window_free(w);
    return e;
}
