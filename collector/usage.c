/*
 * usage.c - per-VM usage over spans from rollup buckets (usage.h).
 *
 * Two passes: the series index is scanned once per metric and every series
 * matched to a VM is noted (VM, metric, series id); the notes are sorted by
 * VM, and each VM's buckets are then read into arrays sized for its spans,
 * reused from VM to VM, so memory is one VM's buckets whatever n is (per
 * thread: the second pass splits the VMs over the cores). Reading the
 * buckets is nearly all the time of a monthly report, so only the fields
 * used are decoded (us_read_cols), and they come a stored block at a time
 * as column arrays (us_run_cb).
 */
#include "usage.h"
#include "bytes.h"
#include "sort.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "series.h"

#define US_UUID_LEN PW_UUID_LEN
#define US_DAY_MS   INT64_C(86400000)
#define US_MAX_SPAN (INT64_C(400) * US_DAY_MS)
#define US_MAX_THREADS 4        /* VMs are read on up to this many threads (the cores) */
#define US_MIN_SHARE   64       /* and no thread for fewer VMs than this */

enum {
    US_M_CPU, US_M_AVAIL, US_M_UNUSED, US_M_RSS, US_M_RX, US_M_TX, US_M_DCAP, US_M_DALLOC, US_M_STATE,
    US_M_COUNT_
};

static const char *const us_metric[US_M_COUNT_] = {
    "poolwatch_vm_cpu_seconds_total", "poolwatch_vm_balloon_available_bytes",
    "poolwatch_vm_balloon_unused_bytes", "poolwatch_vm_balloon_rss_bytes",
    "poolwatch_vm_network_receive_bytes_total", "poolwatch_vm_network_transmit_bytes_total",
    "poolwatch_vm_disk_capacity_bytes", "poolwatch_vm_disk_allocation_bytes", "poolwatch_vm_state",
};

typedef struct us_uuid { unsigned char b[US_UUID_LEN]; size_t vm; } us_uuid;
typedef struct us_name { const char *name; size_t vm; } us_name;
typedef struct us_note { size_t vm; uint64_t id; int metric; } us_note;

/* Per-VM bucket arrays, one slot per bucket of [from, from + nslots * w). */
typedef struct us_slots {
    size_t  cap, n;
    int64_t from, w;
    double *cpu, *avail, *unused, *rss, *net, *state, *tmp;
    const pw_usage_span **span;     /* the span of each slot, NULL between spans */
    double  dcap, dalloc;           /* disk: sums of the newest daily values */
    int64_t dlast;                  /* time of those values */
} us_slots;

typedef struct us_ctx {
    us_uuid       *uuids;  size_t nuuids;    /* report VMs with a UUID, sorted */
    us_uuid       *known;  size_t nknown;    /* every UUID the inventory has, sorted */
    us_name       *names;  size_t nnames;    /* report VMs without a UUID, sorted */
    us_note       *notes;  size_t nnotes, capnotes;
    int            metric;
    pw_err         err;
} us_ctx;

static int
us_uuid_cmp(const void *a, const void *b)
{
    return memcmp(a, b, US_UUID_LEN);
}

static int
us_name_cmp(const void *a, const void *b)
{
    return strcmp(((const us_name *) a)->name, ((const us_name *) b)->name);
}

static int
us_note_cmp(const void *a, const void *b)
{
    const us_note *x = a, *y = b;

    if (x->vm != y->vm)
        return x->vm < y->vm ? -1 : 1;
    if (x->metric != y->metric)
        return x->metric < y->metric ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The VM a series belongs to (scope.h's rule), or SIZE_MAX. */
static size_t
us_match(const us_ctx *c, const pw_series_view *v)
{
    const char *vm = pw_series_view_label(v, "vm"), *name = pw_series_view_label(v, "vm_name");
    us_uuid     u;
    us_name     key, *hit;

    if (vm != NULL && pw_uuid_parse(vm, u.b)) {
        us_uuid *h = c->nuuids > 0 ? bsearch(&u, c->uuids, c->nuuids, sizeof u, us_uuid_cmp) : NULL;

        if (h != NULL)
            return h->vm;
        if (c->nknown > 0 && bsearch(&u, c->known, c->nknown, sizeof u, us_uuid_cmp) != NULL)
            return SIZE_MAX;
    }
    if (name == NULL || c->nnames == 0)
        return SIZE_MAX;
    key.name = name;
    hit = bsearch(&key, c->names, c->nnames, sizeof key, us_name_cmp);
    return hit != NULL ? hit->vm : SIZE_MAX;
}

static int
us_series_cb(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    us_ctx        *c = ctx;
    pw_series_view v;
    size_t         vm;

    if (pw_series_key_parse(key, keylen, &v) != PW_OK)
        return 0;                       /* not ours to judge: skip it */
    vm = us_match(c, &v);
    pw_series_view_free(&v);
    if (vm == SIZE_MAX)
        return 0;
    if (c->nnotes == c->capnotes) {
        size_t   cap = c->capnotes ? c->capnotes * 2 : 1024;
        us_note *p = realloc(c->notes, cap * sizeof *p);

        if (p == NULL) {
            c->err = PW_ENOMEM;
            return 1;
        }
        c->notes = p;
        c->capnotes = cap;
    }
    c->notes[c->nnotes++] = (us_note) { vm, id, c->metric };
    return 0;
}

/* ---- quantile ----------------------------------------------------------- */

static void
us_swap(double *a, double *b)
{
    double t = *a;

    *a = *b;
    *b = t;
}

/* Moves the k-th smallest of v[0..n) to v[k], smaller ones before (quickselect). */
static void
us_select(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;

    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2, i, j;
        double p;

        if (v[mid] < v[lo])
            us_swap(&v[mid], &v[lo]);
        if (v[hi] < v[lo])
            us_swap(&v[hi], &v[lo]);
        if (v[hi] < v[mid])
            us_swap(&v[hi], &v[mid]);
        p = v[mid];
        i = lo;
        j = hi;
        while (i <= j) {
            while (v[i] < p)
                i++;
            while (v[j] > p)
                j--;
            if (i <= j) {
                us_swap(&v[i], &v[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

double
pw_usage_quantile(double *v, size_t n, double q)
{
    double rank, lo, hi;
    size_t k;

    if (n == 0)
        return NAN;
    if (q <= 0) q = 0;
    if (q >= 1) q = 1;
    rank = q * (double) (n - 1);
    k = (size_t) floor(rank);
    us_select(v, n, k);
    lo = v[k];
    if (k + 1 >= n)
        return lo;
    hi = v[k + 1];
    for (size_t i = k + 2; i < n; i++)      /* the smallest above rank k */
        if (v[i] < hi)
            hi = v[i];
    return lo + (hi - lo) * (rank - (double) k);
}

/* ---- one VM ------------------------------------------------------------- */

typedef struct us_read {
    us_slots *s;
    double   *dst;          /* gauges: bucket average into dst; counters: rate added to dst */
    bool      counter, last;
    bool      have_prev;
    double    prev_last;
    int64_t   prev_ts;
    int64_t   next_off, next_slot;  /* the slot of the bucket after the last one */
} us_read;

/* One bucket: into its slot (a gauge's average or last), or a counter's rate added to it. */
static void
us_bucket(us_read *rd, int64_t start, const pw_rollup_run *r, size_t k)
{
    us_slots *s = rd->s;
    int64_t   off = start - s->from;
    /* buckets come in time order, mostly one after the other: no division for those */
    int64_t   slot = off == rd->next_off ? rd->next_slot : off >= 0 ? off / s->w : -1;
    bool      in = slot >= 0 && slot < (int64_t) s->n;
    size_t    i = in ? (size_t) slot : 0;

    if (slot >= 0) {
        rd->next_slot = slot + 1;
        rd->next_off = off + s->w;
    }
    if (rd->counter) {
        double  last = r->last[k];
        int64_t last_ts = (int64_t) r->last_ts[k];

        if (rd->have_prev && in && last_ts > rd->prev_ts) {
            double inc = r->min[k] < rd->prev_last ? last : last - rd->prev_last;
            double rate = inc / ((double) (last_ts - rd->prev_ts) / 1000.0);

            rd->dst[i] = isnan(rd->dst[i]) ? rate : rd->dst[i] + rate;
        }
        rd->have_prev = true;
        rd->prev_last = last;
        rd->prev_ts = last_ts;
        return;
    }
    if (in)
        rd->dst[i] = rd->last ? r->last[k] : r->sum[k] / r->count[k];
}

/*
 * A run of buckets (pw_store_rollups_runs). The usual run - a stored day of
 * buckets one after the other, all inside the VM's slots - goes through
 * loops over the columns with no slot arithmetic per bucket; anything else
 * bucket by bucket. Both do the same arithmetic in the same order.
 */
static int
us_run_cb(void *ctx, const pw_rollup_run *r)
{
    us_read  *rd = ctx;
    us_slots *s = rd->s;
    int64_t   off = r->start[0] - s->from, slot;
    size_t    n = r->n, j;
    double   *dst;

    if (off < 0 || off % s->w != 0 || r->start[n - 1] - r->start[0] != (int64_t) (n - 1) * s->w
        || (slot = off / s->w) + (int64_t) n > (int64_t) s->n) {
        for (size_t k = 0; k < n; k++)
            us_bucket(rd, r->start[k], r, k);
        return 0;
    }
    j = (size_t) slot;
    dst = rd->dst + j;
    rd->next_slot = slot + (int64_t) n;
    rd->next_off = off + (int64_t) n * s->w;
    if (rd->counter) {
        const double *mn = r->min, *la = r->last, *lt = r->last_ts;
        bool          have = rd->have_prev;
        double        prev = rd->prev_last;
        int64_t       pts = rd->prev_ts;

        for (size_t k = 0; k < n; k++) {
            int64_t ts = (int64_t) lt[k];

            if (have && ts > pts) {
                double inc = mn[k] < prev ? la[k] : la[k] - prev;
                double rate = inc / ((double) (ts - pts) / 1000.0);

                dst[k] = isnan(dst[k]) ? rate : dst[k] + rate;
            }
            have = true;
            prev = la[k];
            pts = ts;
        }
        rd->have_prev = have;
        rd->prev_last = prev;
        rd->prev_ts = pts;
    } else if (rd->last) {
        memcpy(dst, r->last, n * sizeof *dst);
    } else {
        const double *sum = r->sum, *cnt = r->count;

        for (size_t k = 0; k < n; k++)
            dst[k] = sum[k] / cnt[k];
    }
    return 0;
}

/*
 * The bucket fields us_run_cb reads, the only ones decoded (a month of
 * 5-minute buckets is most of a report's time): counters their last value,
 * its time and min (a reset), gauges their average, the state its last.
 */
static unsigned
us_read_cols(const us_read *rd)
{
    if (rd->counter)
        return PW_ROLLUP_MIN | PW_ROLLUP_LAST | PW_ROLLUP_LAST_TS;
    return rd->last ? PW_ROLLUP_LAST : PW_ROLLUP_SUM | PW_ROLLUP_COUNT;
}

/* Disk: the newest daily value of each device series; a newer day restarts the sums. */
typedef struct us_disk { double v; int64_t ts; } us_disk;

static int
us_disk_cb(void *ctx, const pw_rollup *r)
{
    us_disk *d = ctx;

    if (r->last_ts >= d->ts) {
        d->v = r->last;
        d->ts = r->last_ts;
    }
    return 0;
}

static pw_err
us_grow(us_slots *s, size_t n)
{
    double              **arr[] = { &s->cpu, &s->avail, &s->unused, &s->rss, &s->net, &s->state, &s->tmp };
    const pw_usage_span **sp;

    if (n <= s->cap)
        return PW_OK;
    for (size_t k = 0; k < sizeof arr / sizeof arr[0]; k++) {
        double *p = realloc(*arr[k], n * sizeof *p);

        if (p == NULL)
            return PW_ENOMEM;
        *arr[k] = p;
    }
    if ((sp = realloc(s->span, n * sizeof *sp)) == NULL)
        return PW_ENOMEM;
    s->span = sp;
    s->cap = n;
    return PW_OK;
}

static void
us_slots_free(us_slots *s)
{
    free(s->cpu);
    free(s->avail);
    free(s->unused);
    free(s->rss);
    free(s->net);
    free(s->state);
    free(s->tmp);
    free(s->span);
}

/*
 * s->span[i]: the span holding slot i's start, NULL in a gap between spans
 * (the first that holds it, should spans overlap: they are set in reverse
 * order, so an earlier span's slots are written last). Once per VM rather
 * than a search of the spans per slot in each of the three passes.
 */
static void
us_spans(const pw_usage_vm *vm, us_slots *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->span[i] = NULL;
    for (size_t k = vm->nspans; k-- > 0;) {
        const pw_usage_span *sp = &vm->spans[k];
        /* slots i with from + i w in [sp->from, sp->to): i from ceil((sp->from - from) / w) */
        int64_t a = sp->from - s->from, b = sp->to - s->from, i0, i1;

        if (b <= 0 || b <= a)
            continue;
        i0 = a <= 0 ? 0 : (a + s->w - 1) / s->w;
        i1 = (b + s->w - 1) / s->w;
        if (i1 > (int64_t) s->n)
            i1 = (int64_t) s->n;
        for (int64_t i = i0; i < i1; i++)
            s->span[i] = sp;
    }
}

/* avg, p95, max of the n values in s->tmp (reordered). */
static void
us_stats(us_slots *s, size_t n, double *avg, double *p95, double *max)
{
    double sum = 0, mx = -INFINITY;

    if (n == 0) {
        *avg = *p95 = NAN;
        if (max != NULL)
            *max = NAN;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sum += s->tmp[i];
        if (s->tmp[i] > mx)
            mx = s->tmp[i];
    }
    *avg = sum / (double) n;
    if (max != NULL)
        *max = mx;
    *p95 = pw_usage_quantile(s->tmp, n, 0.95);
}

static pw_err
us_one(pw_store_txn *t, const pw_usage_vm *vm, const us_note *notes, size_t nn, pw_res res,
       us_slots *s, pw_usage *u)
{
    int64_t w = pw_res_ms(res), from, to;
    double  dsum[2] = { 0, 0 };
    int64_t dts[2] = { INT64_MIN, INT64_MIN };
    bool    has_state = false;
    size_t  n, k;
    pw_err  e;

    *u = (pw_usage) { NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, 0, nn > 0 };
    if (vm->nspans == 0)
        return PW_OK;
    from = vm->spans[0].from - ((vm->spans[0].from % w) + w) % w;      /* floor to w */
    to = vm->spans[vm->nspans - 1].to;
    if (to <= from || to - from > US_MAX_SPAN)
        return PW_EINVAL;
    n = (size_t) ((to - from + w - 1) / w);
    if ((e = us_grow(s, n)) != PW_OK)
        return e;
    s->n = n;
    s->from = from;
    s->w = w;
    for (size_t i = 0; i < n; i++)
        s->cpu[i] = s->avail[i] = s->unused[i] = s->rss[i] = s->net[i] = s->state[i] = NAN;
    us_spans(vm, s);
    for (k = 0; k < nn; k++) {
        const us_note *no = &notes[k];
        us_read        rd = { .s = s, .next_off = -1 };
        us_disk        dk = { NAN, INT64_MIN };

        switch (no->metric) {
        case US_M_CPU:    rd.dst = s->cpu; rd.counter = true; break;
        case US_M_RX:
        case US_M_TX:     rd.dst = s->net; rd.counter = true; break;
        case US_M_AVAIL:  rd.dst = s->avail; break;
        case US_M_UNUSED: rd.dst = s->unused; break;
        case US_M_RSS:    rd.dst = s->rss; break;
        case US_M_STATE:  rd.dst = s->state; rd.last = true; has_state = true; break;
        default:
            /* disk: daily last values, enough for "used at the end" and cheap */
            if ((e = pw_store_rollups_cols(t, no->id, PW_RES_1D, from - US_DAY_MS, to - 1,
                                           PW_ROLLUP_LAST | PW_ROLLUP_LAST_TS, us_disk_cb, &dk)) != PW_OK)
                return e;
            if (dk.ts != INT64_MIN) {
                int j = no->metric == US_M_DCAP ? 0 : 1;

                if (dk.ts / US_DAY_MS > dts[j] / US_DAY_MS) {      /* a newer day: restart */
                    dts[j] = dk.ts;
                    dsum[j] = 0;
                }
                if (dk.ts / US_DAY_MS == dts[j] / US_DAY_MS)
                    dsum[j] += dk.v;
            }
            continue;
        }
        /* counters need the bucket before the first one for its first increase */
        if ((e = pw_store_rollups_runs(t, no->id, res, rd.counter ? from - w : from, to - 1,
                                       us_read_cols(&rd), us_run_cb, &rd)) != PW_OK)
            return e;
    }
    /* cpu % */
    {
        size_t m = 0, nb = 0, run = 0;

        for (size_t i = 0; i < n; i++) {
            const pw_usage_span *sp = s->span[i];

            if (sp == NULL)
                continue;
            nb++;
            if (s->state[i] == 1)
                run++;
            if (!isnan(s->cpu[i]) && sp->vcpus > 0)
                s->tmp[m++] = s->cpu[i] / sp->vcpus;
        }
        u->buckets = nb;
        u->buckets_cpu = m;
        us_stats(s, m, &u->cpu_avg, &u->cpu_p95, &u->cpu_max);
        if (has_state && nb > 0)
            u->availability = (double) run / (double) nb;
    }
    /* memory % */
    {
        size_t m = 0;

        for (size_t i = 0; i < n; i++) {
            const pw_usage_span *sp = s->span[i];
            double               used;

            if (sp == NULL || sp->memory_bytes <= 0)
                continue;
            if (!isnan(s->avail[i]) && !isnan(s->unused[i]))
                used = s->avail[i] - s->unused[i];
            else if (!isnan(s->rss[i]))
                used = s->rss[i];
            else
                continue;
            s->tmp[m++] = used / sp->memory_bytes;
        }
        us_stats(s, m, &u->mem_avg, &u->mem_p95, NULL);
    }
    /* network */
    {
        size_t m = 0;

        for (size_t i = 0; i < n; i++)
            if (!isnan(s->net[i]) && s->span[i] != NULL)
                s->tmp[m++] = s->net[i];
        us_stats(s, m, &u->net_avg, &u->net_p95, NULL);
    }
    if (dts[0] != INT64_MIN && dts[1] != INT64_MIN && dsum[0] > 0)
        u->disk_used = dsum[1] / dsum[0];
    return PW_OK;
}

/* ---- VMs over threads ----------------------------------------------------- */

/* One thread's share: VMs [lo, hi) with their notes, in its own read txn. */
typedef struct us_work {
    pw_store_txn      *t;          /* NULL: not begun (the caller's thread does the share) */
    const pw_usage_vm *vms;
    const us_note     *notes;      /* from the share's first VM on, sorted by VM */
    size_t             nnotes;
    size_t             lo, hi;
    pw_res             res;
    pw_usage          *out;
    pw_err             e;
    size_t             bad;        /* the VM e is about */
    pthread_t          th;
    bool               started;
} us_work;

static void
us_work_do(us_work *w, pw_store_txn *t)
{
    us_slots s = { 0 };
    size_t   k = 0;

    w->e = PW_OK;
    for (size_t i = w->lo; i < w->hi; i++) {
        size_t k0 = k;

        while (k < w->nnotes && w->notes[k].vm == i)
            k++;
        if ((w->e = us_one(t, &w->vms[i], w->notes + k0, k - k0, w->res, &s, &w->out[i])) != PW_OK) {
            w->bad = i;
            break;
        }
    }
    us_slots_free(&s);
}

static void *
us_work_main(void *arg)
{
    us_work *w = arg;

    us_work_do(w, w->t);
    return NULL;
}

/* Threads for n VMs: the cores, but no thread for fewer than US_MIN_SHARE VMs. */
static size_t
us_nthreads(size_t n)
{
    long   cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t k = cores < 1 ? 1 : (size_t) cores;

    if (k > US_MAX_THREADS)
        k = US_MAX_THREADS;
    if (k > n / US_MIN_SHARE)
        k = n / US_MIN_SHARE;
    return k < 1 ? 1 : k;
}

pw_err
pw_usage_collect(pw_store_txn *t, const pw_usage_vm *vms, size_t n, const char *const *known_uuids,
                 size_t nknown, pw_res res, pw_usage *out, char *msg, size_t msglen)
{
    us_ctx   c = { 0 };
    us_work  w[US_MAX_THREADS];
    size_t   i, nw = 0;
    pw_err   e = PW_OK;

    if (msglen > 0)
        msg[0] = '\0';
    if (res != PW_RES_5M && res != PW_RES_1H && res != PW_RES_1D) {
        snprintf(msg, msglen, "usage: resolution must be 5m, 1h or 1d");
        return PW_EINVAL;
    }
    if (n == 0)
        return PW_OK;
    c.uuids = calloc(n, sizeof *c.uuids);
    c.names = calloc(n, sizeof *c.names);
    c.known = calloc(nknown + 1, sizeof *c.known);
    if (c.uuids == NULL || c.names == NULL || c.known == NULL) {
        e = PW_ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (vms[i].uuid != NULL && vms[i].uuid[0] != '\0' && pw_uuid_parse(vms[i].uuid, c.uuids[c.nuuids].b))
            c.uuids[c.nuuids++].vm = i;
        else
            c.names[c.nnames++] = (us_name) { vms[i].name, i };
    }
    for (i = 0; i < nknown; i++)
        if (known_uuids[i] != NULL && pw_uuid_parse(known_uuids[i], c.known[c.nknown].b))
            c.nknown++;
    pw_qsort(c.uuids, c.nuuids, sizeof *c.uuids, us_uuid_cmp);
    pw_qsort(c.known, c.nknown, sizeof *c.known, us_uuid_cmp);
    pw_qsort(c.names, c.nnames, sizeof *c.names, us_name_cmp);
    for (c.metric = 0; c.metric < US_M_COUNT_; c.metric++) {
        if ((e = pw_store_series_scan(t, us_metric[c.metric], us_series_cb, &c)) != PW_OK || c.err != PW_OK) {
            e = e != PW_OK ? e : c.err;
            snprintf(msg, msglen, "usage: reading the series index: %s", pw_strerror(e));
            goto out;
        }
    }
    pw_qsort(c.notes, c.nnotes, sizeof *c.notes, us_note_cmp);
    /*
     * The VMs in contiguous shares, one per thread, each thread in a read txn
     * of its own (pw_store_read_begin_beside), the first share in the
     * caller's. Every VM's figures depend on its own buckets only, so the
     * result is the same whatever the split; a share whose txn cannot begin
     * is done here afterwards.
     */
    nw = us_nthreads(n);
    for (i = 0; i < nw; i++) {
        size_t lo = n * i / nw, k = 0;

        while (k < c.nnotes && c.notes[k].vm < lo)     /* notes are few per VM: fine */
            k++;
        w[i] = (us_work) { .vms = vms, .notes = c.notes + k, .nnotes = c.nnotes - k, .lo = lo,
                           .hi = n * (i + 1) / nw, .res = res, .out = out };
    }
    for (i = 1; i < nw; i++) {
        if (pw_store_read_begin_beside(t, &w[i].t) != PW_OK)
            continue;
        if (pthread_create(&w[i].th, NULL, us_work_main, &w[i]) != 0) {
            pw_store_read_end(w[i].t);
            w[i].t = NULL;
            continue;
        }
        w[i].started = true;
    }
    us_work_do(&w[0], t);
    for (i = 1; i < nw; i++) {
        if (w[i].started) {
            pthread_join(w[i].th, NULL);
            pw_store_read_end(w[i].t);
        } else if (w[0].e == PW_OK) {
            us_work_do(&w[i], t);
        }
    }
    for (i = 0; i < nw; i++) {
        if ((e = w[i].e) != PW_OK) {
            snprintf(msg, msglen, "usage of VM %s: %s", vms[w[i].bad].name,
                     e == PW_EINVAL ? "its spans are out of order or longer than 400 days" : pw_strerror(e));
            goto out;
        }
    }
out:
    free(c.uuids);
    free(c.names);
    free(c.known);
    free(c.notes);
    return e;
}
