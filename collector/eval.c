/* eval.c - range evaluation of the PromQL subset; see eval.h. */
#include "eval.h"
#include "sort.h"
#include "hash.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * How it works. Every vector-valued node produces its output series one at
 * a time through an emit callback; a series is a label set plus one value
 * per evaluation step and a bitmap of the steps that have one. Selectors
 * read a series' samples from the source in time order through a sliding
 * window and compute each step's value when the first sample after that
 * step arrives, so raw data never sits in memory beyond one window.
 * Aggregations fold series into per-group accumulators as they come, so
 * sum(rate(x[5m])) holds one stepped series, not one per input. Only the
 * right side of a vector-vector operation and the final result are held
 * whole (the result to merge series with equal labels and sort them).
 */

/* ---- label sets -------------------------------------------------------- */

/* A label set: metric name ("" if none), labels sorted by name, canonical key. One allocation. */
typedef struct ev_lset ev_lset;
struct ev_lset {
    const char *metric;
    const char *key;        /* canonical key; "{}" for no name and no labels */
    size_t      keylen;
    size_t      n;
    pw_label    l[];        /* the strings live after the array */
};

/* A series of stepped values: v[i] is the value at step i where bit i of has is set. */
typedef struct ev_series ev_series;
struct ev_series {
    ev_lset  *ls;
    double   *v;
    uint64_t *has;
};

/* String -> index hash map (open addressing); keys are borrowed. */
typedef struct ev_map ev_map;
struct ev_map {
    struct ev_slot { const char *key; size_t len; uint64_t hash; size_t val; bool used; } *slot;
    size_t cap, n;
};

typedef struct ev_run ev_run;
struct ev_run {
    pw_eval_opts          o;         /* with defaults filled in */
    const pw_eval_source *src;
    size_t                n;         /* evaluation steps */
    size_t                words;     /* uint64_t words of a step bitmap */
    size_t                held;      /* stepped values allocated now */
    pw_eval_stats         st;
    pw_err                err;       /* first error; the evaluation stops at it */
    char                 *errbuf;
    size_t                errlen;
};

/* A node's output goes here; see ev_vector. */
typedef pw_err (*ev_emit_fn)(ev_run *r, void *arg, ev_series *s);

static pw_err ev_vector(ev_run *r, const pw_expr *e, ev_emit_fn emit, void *arg);

/* Records the first error (and its sentence) and returns the code in force. */
__attribute__((format(printf, 3, 4)))
static pw_err
ev_fail(ev_run *r, pw_err e, const char *fmt, ...)
{
    va_list ap;

    if (r->err != PW_OK)
        return r->err;
    r->err = e;
    if (r->errbuf != NULL && r->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(r->errbuf, r->errlen, fmt, ap);
        va_end(ap);
    }
    return e;
}

static pw_err
ev_nomem(ev_run *r)
{
    return ev_fail(r, PW_ENOMEM, "out of memory");
}

static int64_t
ev_res_ms(pw_res res)
{
    /* store.h's pw_res_ms lives in the store: keeping the widths here lets the
     * evaluator link (and be tested) without it. */
    switch (res) {
    case PW_RES_5M: return INT64_C(300000);
    case PW_RES_1H: return INT64_C(3600000);
    case PW_RES_1D: return INT64_C(86400000);
    default:        return 0;
    }
}

static size_t
ev_escaped_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += (*s == '\\' || *s == '"' || *s == '\n') ? 2 : 1;
    return n;
}

/* New label set from metric ("" for none) and n labels sorted by name; NULL on ENOMEM. */
static ev_lset *
ev_lset_new(const char *metric, const pw_label *l, size_t n)
{
    size_t   mlen = strlen(metric), strbytes = mlen + 1, keylen, size;
    ev_lset *ls;
    char    *w, *key;

    keylen = mlen;
    if (n > 0) {
        keylen += 2 + (n - 1);          /* braces and commas */
        for (size_t i = 0; i < n; i++) {
            keylen += strlen(l[i].name) + 3 + ev_escaped_len(l[i].value);
            strbytes += strlen(l[i].name) + strlen(l[i].value) + 2;
        }
    } else if (mlen == 0) {
        keylen = 2;                      /* "{}" */
    }
    size = sizeof *ls + n * sizeof ls->l[0] + strbytes + keylen + 1;
    if ((ls = malloc(size)) == NULL)
        return NULL;
    w = (char *) (ls->l + n);
    memcpy(w, metric, mlen + 1);
    ls->metric = w;
    w += mlen + 1;
    ls->n = n;
    for (size_t i = 0; i < n; i++) {
        size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;

        memcpy(w, l[i].name, a);
        ls->l[i].name = w;
        w += a;
        memcpy(w, l[i].value, b);
        ls->l[i].value = w;
        w += b;
    }
    key = w;
    if (n == 0 && mlen == 0)
        memcpy(key, "{}", 3);
    else
        pw_series_key_format(ls->metric, ls->l, n, key, keylen + 1, NULL);
    ls->key = key;
    ls->keylen = keylen;
    return ls;
}

static bool
ev_in_grouping(const pw_expr *agg, const char *name)
{
    size_t lo = 0, hi = agg->ngrouping;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int    c = strcmp(agg->grouping[mid], name);

        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/*
 * A derived label set: mode 0 drops the metric name; mode 1 keeps only the
 * labels named in agg's grouping (and the name if __name__ is one of them);
 * mode 2 drops those labels and the name. NULL on ENOMEM.
 */
static ev_lset *
ev_lset_derive(const ev_lset *ls, int mode, const pw_expr *agg)
{
    pw_label    keep[PW_MAX_LABELS];
    size_t      n = 0;
    const char *metric = "";

    for (size_t i = 0; i < ls->n && n < PW_MAX_LABELS; i++) {
        bool in = mode == 0 ? true : ev_in_grouping(agg, ls->l[i].name);

        if (mode == 0 || (mode == 1 && in) || (mode == 2 && !in))
            keep[n++] = ls->l[i];
    }
    if (mode == 1 && ev_in_grouping(agg, "__name__"))
        metric = ls->metric;
    return ev_lset_new(metric, keep, n);
}

/* ---- maps -------------------------------------------------------------- */

static uint64_t
ev_hash(const char *s, size_t len)
{
    return pw_fnv1a64(s, len);
}

/* Slot of key, or the empty slot where it would go. */
static struct ev_slot *
ev_map_slot(const ev_map *m, const char *key, size_t len, uint64_t h)
{
    size_t i = (size_t) h & (m->cap - 1);

    for (;; i = (i + 1) & (m->cap - 1)) {
        struct ev_slot *s = &m->slot[i];

        if (!s->used || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

/* Index stored for key, or SIZE_MAX. */
static size_t
ev_map_get(const ev_map *m, const char *key, size_t len)
{
    struct ev_slot *s;

    if (m->cap == 0)
        return SIZE_MAX;
    s = ev_map_slot(m, key, len, ev_hash(key, len));
    return s->used ? s->val : SIZE_MAX;
}

/* Adds key (borrowed: it must outlive the map) -> val; key must be new. */
static pw_err
ev_map_put(ev_map *m, const char *key, size_t len, size_t val)
{
    struct ev_slot *s;
    uint64_t        h = ev_hash(key, len);

    if (2 * (m->n + 1) > m->cap) {
        ev_map grown = { .cap = m->cap ? m->cap * 2 : 16 };

        if ((grown.slot = calloc(grown.cap, sizeof *grown.slot)) == NULL)
            return PW_ENOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slot[i].used)
                *ev_map_slot(&grown, m->slot[i].key, m->slot[i].len, m->slot[i].hash) = m->slot[i];
        grown.n = m->n;
        free(m->slot);
        *m = grown;
    }
    s = ev_map_slot(m, key, len, h);
    *s = (struct ev_slot) { key, len, h, val, true };
    m->n++;
    return PW_OK;
}

static void
ev_map_free(ev_map *m)
{
    free(m->slot);
    memset(m, 0, sizeof *m);
}

/* ---- stepped series ---------------------------------------------------- */

static bool
ev_has(const uint64_t *has, size_t i)
{
    return (has[i / 64] >> (i % 64)) & 1;
}

static void
ev_bit_set(uint64_t *has, size_t i)
{
    has[i / 64] |= UINT64_C(1) << (i % 64);
}

static bool
ev_any(const ev_run *r, const uint64_t *has)
{
    for (size_t w = 0; w < r->words; w++)
        if (has[w] != 0)
            return true;
    return false;
}

static int64_t
ev_time(const ev_run *r, size_t i)
{
    return r->o.start + (int64_t) i * r->o.step;
}

/* Accounts for `count` stepped values about to be allocated (limit check). */
static pw_err
ev_hold(ev_run *r, size_t count)
{
    if (count > r->o.max_points || r->held > r->o.max_points - count)
        return ev_fail(r, PW_ETOOBIG, "the query needs more than %zu points in memory at once "
            "(series times steps); use a larger step, a shorter range or a narrower selector",
            r->o.max_points);
    r->held += count;
    return PW_OK;
}

static void
ev_release(ev_run *r, size_t count)
{
    r->held -= count;
}

/* An array of n doubles (zeroed) counted against the points limit; NULL with r->err set. */
static double *
ev_steps_new(ev_run *r)
{
    double *v;

    if (ev_hold(r, r->n) != PW_OK)
        return NULL;
    if ((v = calloc(r->n, sizeof *v)) == NULL) {
        ev_release(r, r->n);
        ev_nomem(r);
    }
    return v;
}

static void
ev_steps_free(ev_run *r, double *v)
{
    if (v != NULL) {
        ev_release(r, r->n);
        free(v);
    }
}

/* Gives s value and bitmap arrays. */
static pw_err
ev_series_alloc(ev_run *r, ev_series *s)
{
    if ((s->v = ev_steps_new(r)) == NULL)
        return r->err;
    if ((s->has = calloc(r->words, sizeof *s->has)) == NULL)
        return ev_nomem(r);
    return PW_OK;
}

/* Frees whatever s still owns (a consumer may have taken parts). */
static void
ev_series_clear(ev_run *r, ev_series *s)
{
    free(s->ls);
    ev_steps_free(r, s->v);
    free(s->has);
    memset(s, 0, sizeof *s);
}

/* ---- collections of series: the result, and the right side of v op v ---- */

/*
 * Series by key. add merges a series into one with the same key; merged
 * series must not both have a value at one step (Prometheus' "vector
 * cannot contain metrics with the same labelset").
 */
typedef struct ev_set ev_set;
struct ev_set {
    ev_series *s;
    size_t     n, cap;
    ev_map     map;
};

static pw_err
ev_set_add(ev_run *r, void *arg, ev_series *in)
{
    ev_set *set = arg;
    size_t  at = ev_map_get(&set->map, in->ls->key, in->ls->keylen);

    if (at != SIZE_MAX) {
        ev_series *old = &set->s[at];

        for (size_t i = 0; i < r->n; i++) {
            if (!ev_has(in->has, i))
                continue;
            if (ev_has(old->has, i))
                return ev_fail(r, PW_EINVAL, "vector cannot contain metrics with the same "
                    "labelset: %s has two values at %lld", in->ls->key,
                    (long long) ev_time(r, i));
            old->v[i] = in->v[i];
            ev_bit_set(old->has, i);
        }
        return PW_OK;
    }
    if (set->n == set->cap) {
        size_t     cap = set->cap ? set->cap * 2 : 16;
        ev_series *s = realloc(set->s, cap * sizeof *s);

        if (s == NULL)
            return ev_nomem(r);
        set->s = s;
        set->cap = cap;
    }
    /* Take the whole series over: its values stay counted as held. */
    set->s[set->n] = *in;
    memset(in, 0, sizeof *in);
    if (ev_map_put(&set->map, set->s[set->n].ls->key, set->s[set->n].ls->keylen, set->n) != PW_OK) {
        *in = set->s[set->n];
        return ev_nomem(r);
    }
    set->n++;
    return PW_OK;
}

static void
ev_set_free(ev_run *r, ev_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        ev_series_clear(r, &set->s[i]);
    free(set->s);
    ev_map_free(&set->map);
    memset(set, 0, sizeof *set);
}

/* ---- selectors: windows over samples ------------------------------------ */

/* One sample in a window: a raw point (count 1) or a rollup bucket at its last_ts. */
typedef struct ev_item ev_item;
struct ev_item {
    int64_t ts;
    double  last, min, max, sum, count;
};

enum { EV_LATEST = -1 };   /* ev_leaf.fn for an instant selector; else a pw_expr_fn */

typedef struct ev_leaf ev_leaf;
struct ev_leaf {
    ev_run      *r;
    int          fn;          /* EV_LATEST or a pw_expr_fn */
    int64_t      range;       /* the window is (t - range, t] */
    int64_t      selrange;    /* the range selector's range (rate divides by it) */
    pw_res       res;
    int64_t      width;       /* rollup width, 0 for raw */
    double       q;           /* quantile_over_time */
    bool         drop_name;
    ev_emit_fn   emit;
    void        *arg;
    /* the series being read */
    ev_series    cur;
    size_t       step, step_end;  /* steps [step, step_end) are still to compute */
    ev_item     *buf;         /* the window: buf[head..tail) */
    size_t       head, tail, cap;
    double      *scratch;     /* quantile values */
    size_t       scratch_cap;
};

/* Neumaier's variant of Kahan summation, as Prometheus' kahansum.Inc. */
static void
ev_kahan(double inc, double *sum, double *c)
{
    double t = *sum + inc;

    if (isinf(t))
        *c = 0;
    else if (fabs(*sum) >= fabs(inc))
        *c += (*sum - t) + inc;
    else
        *c += (inc - t) + *sum;
    *sum = t;
}

/* Orders NaN first, then ascending, as Prometheus' vectorByValueHeap. */
static int
ev_cmp_nan_first(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    if (isnan(x))
        return isnan(y) ? 0 : -1;
    if (isnan(y))
        return 1;
    return x < y ? -1 : x > y;
}

/* Prometheus' quantile(): linear interpolation between the closest ranks. Sorts v. */
static double
ev_quantile(double q, double *v, size_t n)
{
    double rank, lo, hi, weight;

    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    pw_qsort(v, n, sizeof *v, ev_cmp_nan_first);
    rank = q * (double) (n - 1);
    lo = fmax(0, floor(rank));
    hi = fmin((double) (n - 1), lo + 1);
    weight = rank - floor(rank);
    return v[(size_t) lo] * (1 - weight) + v[(size_t) hi] * weight;
}

/*
 * Prometheus' extrapolatedRate over the window's samples (their last values
 * at ts). A reset is a sample whose min is below the previous last: for raw
 * points min == last, so this is Prometheus' "value decreased"; for rollup
 * buckets it also sees a reset inside the bucket.
 */
static bool
ev_rate(const ev_leaf *L, int64_t t, const ev_item *it, size_t k, bool counter, bool is_rate,
        double *out)
{
    double result, to_start, to_end, sampled, avg, threshold, factor;

    if (k < 2)
        return false;
    result = it[k - 1].last - it[0].last;
    if (counter)
        for (size_t i = 1; i < k; i++)
            if (it[i].min < it[i - 1].last)
                result += it[i - 1].last;
    to_start = (double) (it[0].ts - (t - L->selrange)) / 1000;
    to_end = (double) (t - it[k - 1].ts) / 1000;
    sampled = (double) (it[k - 1].ts - it[0].ts) / 1000;
    if (sampled <= 0)
        return false;
    avg = sampled / (double) (k - 1);
    threshold = avg * 1.1;
    if (to_start >= threshold)
        to_start = avg / 2;
    if (counter) {
        /* A counter cannot go below zero: do not extrapolate past its zero point. */
        double to_zero = to_start;

        if (result > 0 && it[0].last >= 0)
            to_zero = sampled * (it[0].last / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    if (to_end >= threshold)
        to_end = avg / 2;
    factor = (sampled + to_start + to_end) / sampled;
    if (is_rate)
        factor /= (double) L->selrange / 1000;
    *out = result * factor;
    return true;
}

/* The value of the window it[0..k) at time t, if it has one. */
static bool
ev_window(ev_leaf *L, int64_t t, const ev_item *it, size_t k, double *out)
{
    double sum = 0, c = 0, count = 0, m;

    if (k == 0)
        return false;
    switch (L->fn) {
    case EV_LATEST:
    case PW_FN_LAST_OVER_TIME:
        *out = it[k - 1].last;
        return true;
    case PW_FN_SUM_OVER_TIME:
        for (size_t i = 0; i < k; i++)
            ev_kahan(it[i].sum, &sum, &c);
        *out = isinf(sum) ? sum : sum + c;
        return true;
    case PW_FN_COUNT_OVER_TIME:
        for (size_t i = 0; i < k; i++)
            count += it[i].count;
        *out = count;
        return true;
    case PW_FN_AVG_OVER_TIME: {
        /* Kahan sum / count while the sum is finite, then an incremental mean (as Prometheus). */
        double mean = 0;
        bool   incremental = false;

        sum = it[0].sum;
        count = it[0].count;
        for (size_t i = 1; i < k; i++) {
            double n2 = count + it[i].count, q;

            if (!incremental) {
                double s2 = sum, c2 = c;

                ev_kahan(it[i].sum, &s2, &c2);
                if (!isinf(s2)) {
                    sum = s2;
                    c = c2;
                    count = n2;
                    continue;
                }
                incremental = true;
                mean = sum / count;
                c /= count;
            }
            q = count / n2;
            mean *= q;
            c *= q;
            ev_kahan(it[i].sum / n2, &mean, &c);
            count = n2;
        }
        *out = incremental ? mean + c : sum / count + c / count;
        return true;
    }
    case PW_FN_MIN_OVER_TIME:
        m = it[0].min;
        for (size_t i = 0; i < k; i++)
            if (it[i].min < m || isnan(m))
                m = it[i].min;
        *out = m;
        return true;
    case PW_FN_MAX_OVER_TIME:
        m = it[0].max;
        for (size_t i = 0; i < k; i++)
            if (it[i].max > m || isnan(m))
                m = it[i].max;
        *out = m;
        return true;
    case PW_FN_QUANTILE_OVER_TIME:
        if (k > L->scratch_cap) {
            double *s = realloc(L->scratch, k * sizeof *s);

            if (s == NULL) {
                ev_nomem(L->r);
                return false;
            }
            L->scratch = s;
            L->scratch_cap = k;
        }
        /* Raw points have sum == value and count 1; buckets give their average. */
        for (size_t i = 0; i < k; i++)
            L->scratch[i] = it[i].sum / it[i].count;
        *out = ev_quantile(L->q, L->scratch, k);
        return true;
    case PW_FN_RATE:
        return ev_rate(L, t, it, k, true, true, out);
    case PW_FN_INCREASE:
        return ev_rate(L, t, it, k, true, false, out);
    case PW_FN_DELTA:
        return ev_rate(L, t, it, k, false, false, out);
    case PW_FN_IRATE: {
        const ev_item *a, *b;

        if (k < 2)
            return false;
        a = &it[k - 2];
        b = &it[k - 1];
        if (b->ts == a->ts)
            return false;
        /* After a reset the counter counts from zero: its value is the increase. */
        *out = (b->min < a->last ? b->last : b->last - a->last) / ((double) (b->ts - a->ts) / 1000);
        return true;
    }
    default:
        return false;
    }
}

/* Computes step L->step from the window and moves on. */
static void
ev_leaf_finish(ev_leaf *L)
{
    int64_t t = ev_time(L->r, L->step);
    double  v;

    /* Left-open window: drop samples at or before t - range. */
    while (L->head < L->tail && L->buf[L->head].ts <= t - L->range)
        L->head++;
    if (ev_window(L, t, L->buf + L->head, L->tail - L->head, &v)) {
        L->cur.v[L->step] = v;
        ev_bit_set(L->cur.has, L->step);
    }
    L->step++;
}

/* A sample arrives (in time order). Returns non-zero to stop reading. */
static int
ev_leaf_add(ev_leaf *L, const ev_item *it)
{
    ev_run *r = L->r;

    while (L->step < L->step_end && ev_time(r, L->step) < it->ts)
        ev_leaf_finish(L);
    if (r->err != PW_OK)
        return 1;
    if (L->step == L->step_end)
        return 1;           /* past the last step being computed */
    if (L->tail == L->cap) {
        if (L->head > 0) {
            memmove(L->buf, L->buf + L->head, (L->tail - L->head) * sizeof *L->buf);
            L->tail -= L->head;
            L->head = 0;
        }
        if (L->tail == L->cap) {
            size_t   cap = L->cap ? L->cap * 2 : 64;
            ev_item *b;

            if (L->tail >= r->o.max_window) {
                ev_fail(r, PW_ETOOBIG, "more than %zu samples in one window of a selector; "
                    "use a shorter range or a coarser resolution", r->o.max_window);
                return 1;
            }
            if (cap > r->o.max_window)
                cap = r->o.max_window;
            if ((b = realloc(L->buf, cap * sizeof *b)) == NULL) {
                ev_nomem(r);
                return 1;
            }
            L->buf = b;
            L->cap = cap;
        }
    }
    L->buf[L->tail++] = *it;
    r->st.samples++;
    return 0;
}

static int
ev_leaf_point(void *ctx, int64_t ts, double value)
{
    ev_item it = { ts, value, value, value, value, 1 };

    return ev_leaf_add(ctx, &it);
}

static int
ev_leaf_rollup(void *ctx, const pw_rollup *b)
{
    ev_item it = { b->last_ts, b->last, b->min, b->max, b->sum, (double) b->count };

    if (b->count == 0)
        return 0;           /* store.h promises count > 0; an empty bucket is no sample */
    return ev_leaf_add(ctx, &it);
}

/* Reads the current series' samples for steps [first, end) and computes them. */
static pw_err
ev_leaf_read(ev_leaf *L, uint64_t handle, size_t first, size_t end)
{
    ev_run               *r = L->r;
    const pw_eval_source *src = r->src;
    /* A bucket whose last point is in the window may start up to a width before it. */
    int64_t               from = ev_time(r, first) - L->range - L->width + 1;
    int64_t               to = ev_time(r, end - 1);
    pw_err                e;

    L->head = L->tail = 0;
    L->step = first;
    L->step_end = end;
    if (L->res == PW_RES_RAW)
        e = src->ops->points(src->ctx, handle, from, to, ev_leaf_point, L);
    else
        e = src->ops->rollups(src->ctx, handle, L->res, from, to, ev_leaf_rollup, L);
    if (r->err != PW_OK)
        return r->err;
    if (e != PW_OK) {
        char msg[256] = "";

        if (src->ops->last_error != NULL)
            src->ops->last_error(src->ctx, msg, sizeof msg);
        r->st.source_failed = true;
        return ev_fail(r, e, "reading data: %s", msg[0] ? msg : pw_strerror(e));
    }
    while (L->step < L->step_end)
        ev_leaf_finish(L);
    return r->err;
}

static int
ev_leaf_series(void *ctx, uint64_t handle, const char *key, size_t keylen, const pw_series_view *v)
{
    ev_leaf *L = ctx;
    ev_run  *r = L->r;
    ev_lset *ls;

    (void) key;
    (void) keylen;
    if (r->st.series == r->o.max_series) {
        ev_fail(r, PW_ETOOBIG, "the query reads more than %zu series; use narrower selectors",
            r->o.max_series);
        return 1;
    }
    r->st.series++;
    if (ev_series_alloc(r, &L->cur) != PW_OK)
        goto out;
    /*
     * Windows far apart (step longer than the window) are read one by one,
     * so a daily value over 5m windows does not read the whole day; close or
     * overlapping ones in one sweep.
     */
    if (r->n > 1 && r->o.step > L->range + L->width) {
        for (size_t i = 0; i < r->n && r->err == PW_OK; i++)
            ev_leaf_read(L, handle, i, i + 1);
    } else {
        ev_leaf_read(L, handle, 0, r->n);
    }
    if (r->err != PW_OK || !ev_any(r, L->cur.has))
        goto out;
    ls = ev_lset_new(L->drop_name ? "" : v->metric, v->labels, v->nlabels);
    if (ls == NULL) {
        ev_nomem(r);
        goto out;
    }
    L->cur.ls = ls;
    L->emit(r, L->arg, &L->cur);
out:
    ev_series_clear(r, &L->cur);
    return r->err != PW_OK;
}

static pw_eval_use
ev_use_of(int fn)
{
    switch (fn) {
    case EV_LATEST:
    case PW_FN_LAST_OVER_TIME:     return PW_EVAL_USE_LATEST;
    case PW_FN_RATE:
    case PW_FN_INCREASE:
    case PW_FN_DELTA:              return PW_EVAL_USE_COUNTER;
    case PW_FN_IRATE:              return PW_EVAL_USE_IRATE;
    case PW_FN_QUANTILE_OVER_TIME: return PW_EVAL_USE_QUANTILE;
    default:                       return PW_EVAL_USE_OVER_TIME;
    }
}

/* An instant selector (call NULL) or a function of a range selector. */
static pw_err
ev_leaf_run(ev_run *r, const pw_expr *sel, const pw_expr *call, ev_emit_fn emit, void *arg)
{
    ev_leaf  L = { .r = r, .emit = emit, .arg = arg };
    int64_t  range;
    pw_err   e;

    L.fn = call != NULL ? (int) call->fn : EV_LATEST;
    range = call != NULL ? sel->range_ms : r->o.lookback;
    L.selrange = range;
    L.drop_name = call != NULL && call->fn != PW_FN_LAST_OVER_TIME;
    if (call != NULL && call->param != NULL)
        L.q = call->param->number;
    if (r->o.force_res)
        L.res = r->o.res;
    else if (r->src->ops->rollups == NULL)
        L.res = PW_RES_RAW;
    else
        L.res = pw_eval_pick_res(ev_use_of(L.fn), r->n > 1 ? r->o.step : 0, range,
            r->o.start - range, r->o.now, r->o.retention);
    L.width = ev_res_ms(L.res);
    /* An instant selector over rollups looks back a bucket further: see eval.h. */
    L.range = call == NULL ? range + L.width : range;
    r->st.res_used |= 1u << L.res;
    e = r->src->ops->series(r->src->ctx, sel->sel, ev_leaf_series, &L);
    if (e != PW_OK && r->err == PW_OK) {
        char msg[256] = "";

        if (r->src->ops->last_error != NULL)
            r->src->ops->last_error(r->src->ctx, msg, sizeof msg);
        r->st.source_failed = true;
        ev_fail(r, e, "listing series: %s", msg[0] ? msg : pw_strerror(e));
    }
    ev_series_clear(r, &L.cur);
    free(L.buf);
    free(L.scratch);
    return r->err;
}

/* ---- unary minus and vector op scalar ------------------------------------ */

typedef struct ev_map_ctx ev_map_ctx;
struct ev_map_ctx {
    ev_emit_fn emit;
    void      *arg;
    bool       neg;        /* unary minus; else op with scalar */
    pw_expr_op op;
    double     scalar;
    bool       scalar_left;
};

/* Applies the operation to every value, drops __name__, passes the series on. */
static pw_err
ev_map_emit(ev_run *r, void *arg, ev_series *s)
{
    ev_map_ctx *m = arg;
    ev_lset    *ls;

    for (size_t i = 0; i < r->n; i++) {
        if (!ev_has(s->has, i))
            continue;
        if (m->neg)
            s->v[i] = -s->v[i];
        else if (m->scalar_left)
            s->v[i] = pw_expr_apply(m->op, m->scalar, s->v[i]);
        else
            s->v[i] = pw_expr_apply(m->op, s->v[i], m->scalar);
    }
    if (s->ls->metric[0] != '\0') {
        if ((ls = ev_lset_derive(s->ls, 0, NULL)) == NULL)
            return ev_nomem(r);
        free(s->ls);
        s->ls = ls;
    }
    return m->emit(r, m->arg, s);
}

/* ---- vector op vector: one-to-one on all labels but __name__ -------------- */

typedef struct ev_vv ev_vv;
struct ev_vv {
    pw_expr_op op;
    ev_emit_fn emit;
    void      *arg;
    ev_set     rhs;        /* right side, keyed by its labels without __name__ */
    uint64_t **matched;    /* per rhs series: steps a left series matched already */
};

/* Right-side series: drop __name__ for matching, refuse two values at one step. */
static pw_err
ev_vv_rhs(ev_run *r, void *arg, ev_series *s)
{
    ev_vv   *vv = arg;
    ev_lset *sig, *orig = s->ls;
    size_t   at;

    if ((sig = ev_lset_derive(orig, 0, NULL)) == NULL)
        return ev_nomem(r);
    at = ev_map_get(&vv->rhs.map, sig->key, sig->keylen);
    if (at != SIZE_MAX) {
        for (size_t i = 0; i < r->n; i++)
            if (ev_has(s->has, i) && ev_has(vv->rhs.s[at].has, i)) {
                ev_fail(r, PW_EINVAL, "found duplicate series for the match group %s on the "
                    "right hand-side of the operation: [%s, ...];many-to-many matching not "
                    "allowed: matching labels must be unique on one side", sig->key, orig->key);
                free(sig);
                return r->err;
            }
    }
    s->ls = sig;
    free(orig);
    return ev_set_add(r, &vv->rhs, s);
}

static pw_err
ev_vv_lhs(ev_run *r, void *arg, ev_series *s)
{
    ev_vv   *vv = arg;
    ev_lset *sig;
    size_t   at;
    bool     any = false;
    ev_series *rs;
    uint64_t  *done;

    if ((sig = ev_lset_derive(s->ls, 0, NULL)) == NULL)
        return ev_nomem(r);
    at = ev_map_get(&vv->rhs.map, sig->key, sig->keylen);
    if (at == SIZE_MAX) {
        free(sig);
        return PW_OK;
    }
    rs = &vv->rhs.s[at];
    if (vv->matched[at] == NULL
        && (vv->matched[at] = calloc(r->words, sizeof (uint64_t))) == NULL) {
        free(sig);
        return ev_nomem(r);
    }
    done = vv->matched[at];
    for (size_t i = 0; i < r->n; i++) {
        bool both = ev_has(s->has, i) && ev_has(rs->has, i);

        if (both && ev_has(done, i)) {
            free(sig);
            return ev_fail(r, PW_EINVAL, "multiple matches for labels: many-to-one matching "
                "must be explicit (group_left/group_right)");
        }
        if (both) {
            s->v[i] = pw_expr_apply(vv->op, s->v[i], rs->v[i]);
            ev_bit_set(done, i);
            any = true;
        } else {
            s->has[i / 64] &= ~(UINT64_C(1) << (i % 64));
        }
    }
    if (!any) {
        free(sig);
        return PW_OK;
    }
    free(s->ls);
    s->ls = sig;
    return vv->emit(r, vv->arg, s);
}

/* ---- aggregations -------------------------------------------------------- */

/* One candidate of topk/bottomk at one step. */
typedef struct ev_kent ev_kent;
struct ev_kent {
    double v;
    size_t series;    /* index into ev_agg.in */
};

typedef struct ev_group ev_group;
struct ev_group {
    ev_lset  *ls;        /* output labels (by/without applied) */
    double   *v;         /* sum, mean, min, max */
    double   *c;         /* Kahan compensation (sum, avg) */
    double   *cnt;       /* count (count, avg) */
    uint64_t *has;
    uint64_t *incr;      /* avg: steps that switched to an incremental mean */
    /* topk/bottomk: per step a heap of up to kcap entries, hn[i] in use */
    ev_kent  *heap;
    uint32_t *hn;
    size_t    kcap;
    size_t    nin;       /* input series seen in this group */
};

typedef struct ev_agg ev_agg;
struct ev_agg {
    const pw_expr *e;
    size_t         k;        /* topk/bottomk */
    ev_group      *g;
    size_t         ng, capg;
    ev_map         map;      /* group key -> index */
    ev_lset      **in;       /* topk/bottomk: labels of every input series, by arrival */
    size_t         nin, capin;
};

/* True if a ranks before b for the aggregation: topk prefers larger, bottomk smaller, NaN last. */
static bool
ev_k_better(pw_expr_agg agg, double a, double b)
{
    if (isnan(b))
        return !isnan(a);
    if (isnan(a))
        return false;
    return agg == PW_AGG_TOPK ? a > b : a < b;
}

/* Restores the heap (worst candidate at [0]) after h[i] changed or was appended. */
static void
ev_k_sift_up(pw_expr_agg agg, ev_kent *h, size_t i)
{
    while (i > 0) {
        size_t  p = (i - 1) / 2;
        ev_kent t;

        if (!ev_k_better(agg, h[p].v, h[i].v))
            break;
        t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static void
ev_k_sift_down(pw_expr_agg agg, ev_kent *h, size_t n)
{
    size_t i = 0;

    for (;;) {
        size_t  l = 2 * i + 1, r = l + 1, w = i;
        ev_kent t;

        if (l < n && ev_k_better(agg, h[w].v, h[l].v))
            w = l;
        if (r < n && ev_k_better(agg, h[w].v, h[r].v))
            w = r;
        if (w == i)
            return;
        t = h[w];
        h[w] = h[i];
        h[i] = t;
        i = w;
    }
}

/* Grows a group's per-step heaps to hold min(k, inputs) entries. */
static pw_err
ev_k_grow(ev_run *r, ev_agg *a, ev_group *g)
{
    size_t   want = g->nin < a->k ? g->nin : a->k, cap;
    ev_kent *h;

    if (want <= g->kcap)
        return PW_OK;
    cap = g->kcap ? g->kcap * 2 : 1;
    if (cap > a->k)
        cap = a->k;
    if (cap < want)
        cap = want;
    if (ev_hold(r, r->n * (cap - g->kcap)) != PW_OK)
        return r->err;
    if ((h = calloc(r->n * cap, sizeof *h)) == NULL) {
        ev_release(r, r->n * (cap - g->kcap));
        return ev_nomem(r);
    }
    for (size_t i = 0; i < r->n && g->heap != NULL; i++)
        memcpy(h + i * cap, g->heap + i * g->kcap, g->hn[i] * sizeof *h);
    free(g->heap);
    g->heap = h;
    g->kcap = cap;
    return PW_OK;
}

static pw_err
ev_group_new(ev_run *r, ev_agg *a, ev_lset *ls, size_t *at)
{
    ev_group *g;
    pw_expr_agg op = a->e->agg;

    if (a->ng == a->capg) {
        size_t    cap = a->capg ? a->capg * 2 : 8;
        ev_group *ng = realloc(a->g, cap * sizeof *ng);

        if (ng == NULL)
            return ev_nomem(r);
        a->g = ng;
        a->capg = cap;
    }
    g = &a->g[a->ng];
    memset(g, 0, sizeof *g);
    g->ls = ls;
    if ((g->has = calloc(r->words, sizeof *g->has)) == NULL)
        return ev_nomem(r);
    a->ng++;            /* from here on the group is a's to free */
    if (op == PW_AGG_TOPK || op == PW_AGG_BOTTOMK) {
        if ((g->hn = calloc(r->n, sizeof *g->hn)) == NULL)
            return ev_nomem(r);
    } else {
        if ((g->v = ev_steps_new(r)) == NULL)
            return r->err;
        if ((op == PW_AGG_SUM || op == PW_AGG_AVG) && (g->c = ev_steps_new(r)) == NULL)
            return r->err;
        if ((op == PW_AGG_COUNT || op == PW_AGG_AVG) && (g->cnt = ev_steps_new(r)) == NULL)
            return r->err;
        if (op == PW_AGG_AVG && (g->incr = calloc(r->words, sizeof *g->incr)) == NULL)
            return ev_nomem(r);
    }
    if (ev_map_put(&a->map, ls->key, ls->keylen, a->ng - 1) != PW_OK)
        return ev_nomem(r);
    *at = a->ng - 1;
    return PW_OK;
}

/* One input series of the aggregation. */
static pw_err
ev_agg_add(ev_run *r, void *arg, ev_series *s)
{
    ev_agg     *a = arg;
    pw_expr_agg op = a->e->agg;
    ev_lset    *gl;
    ev_group   *g;
    size_t      at, me = 0;

    gl = ev_lset_derive(s->ls, a->e->without ? 2 : 1, a->e);
    if (gl == NULL)
        return ev_nomem(r);
    at = ev_map_get(&a->map, gl->key, gl->keylen);
    if (at == SIZE_MAX) {
        if (ev_group_new(r, a, gl, &at) != PW_OK) {
            if (a->ng == 0 || a->g[a->ng - 1].ls != gl)
                free(gl);
            return r->err;
        }
    } else {
        free(gl);
    }
    g = &a->g[at];
    if (op == PW_AGG_TOPK || op == PW_AGG_BOTTOMK) {
        /* The output keeps the input's labels: remember them. */
        if (a->nin == a->capin) {
            size_t    cap = a->capin ? a->capin * 2 : 16;
            ev_lset **in = realloc(a->in, cap * sizeof *in);

            if (in == NULL)
                return ev_nomem(r);
            a->in = in;
            a->capin = cap;
        }
        me = a->nin;
        a->in[a->nin++] = s->ls;
        s->ls = NULL;
        g->nin++;
        if (ev_k_grow(r, a, g) != PW_OK)
            return r->err;
    }
    for (size_t i = 0; i < r->n; i++) {
        double f;
        bool   first;

        if (!ev_has(s->has, i))
            continue;
        f = s->v[i];
        first = !ev_has(g->has, i);
        ev_bit_set(g->has, i);
        switch (op) {
        case PW_AGG_SUM:
            if (first)
                g->v[i] = f;
            else
                ev_kahan(f, &g->v[i], &g->c[i]);
            break;
        case PW_AGG_AVG:
            g->cnt[i] += 1;
            if (first) {
                g->v[i] = f;
            } else {
                double n = g->cnt[i], q;

                if (!ev_has(g->incr, i)) {
                    double s2 = g->v[i], c2 = g->c[i];

                    ev_kahan(f, &s2, &c2);
                    if (!isinf(s2)) {
                        g->v[i] = s2;
                        g->c[i] = c2;
                        break;
                    }
                    /* The sum would overflow: continue with an incremental mean. */
                    ev_bit_set(g->incr, i);
                    g->v[i] /= n - 1;
                    g->c[i] /= n - 1;
                }
                q = (n - 1) / n;
                g->v[i] *= q;
                g->c[i] *= q;
                ev_kahan(f / n, &g->v[i], &g->c[i]);
            }
            break;
        case PW_AGG_MIN:
            if (first || g->v[i] > f || isnan(g->v[i]))
                g->v[i] = f;
            break;
        case PW_AGG_MAX:
            if (first || g->v[i] < f || isnan(g->v[i]))
                g->v[i] = f;
            break;
        case PW_AGG_COUNT:
            g->cnt[i] += 1;
            break;
        case PW_AGG_TOPK:
        case PW_AGG_BOTTOMK: {
            ev_kent *h = g->heap + i * g->kcap;

            if (g->hn[i] < g->kcap) {
                h[g->hn[i]] = (ev_kent) { f, me };
                ev_k_sift_up(op, h, g->hn[i]++);
            } else if (ev_k_better(op, f, h[0].v)) {
                h[0] = (ev_kent) { f, me };
                ev_k_sift_down(op, h, g->hn[i]);
            }
            break;
        }
        default:
            break;
        }
    }
    return PW_OK;
}

/* Emits the groups (or, for topk/bottomk, the chosen input series). */
static pw_err
ev_agg_emit(ev_run *r, ev_agg *a, ev_emit_fn emit, void *arg)
{
    pw_expr_agg op = a->e->agg;

    if (op == PW_AGG_TOPK || op == PW_AGG_BOTTOMK) {
        ev_series *out = calloc(a->nin ? a->nin : 1, sizeof *out);
        pw_err     e = PW_OK;

        if (out == NULL)
            return ev_nomem(r);
        for (size_t gi = 0; gi < a->ng && e == PW_OK; gi++) {
            const ev_group *g = &a->g[gi];

            for (size_t i = 0; i < r->n && e == PW_OK; i++) {
                for (size_t j = 0; j < g->hn[i]; j++) {
                    const ev_kent *k = &g->heap[i * g->kcap + j];
                    ev_series     *o = &out[k->series];

                    if (o->v == NULL && (e = ev_series_alloc(r, o)) != PW_OK)
                        break;
                    o->v[i] = k->v;
                    ev_bit_set(o->has, i);
                }
            }
        }
        for (size_t si = 0; si < a->nin; si++) {
            if (e == PW_OK && out[si].v != NULL) {
                out[si].ls = a->in[si];
                a->in[si] = NULL;
                e = emit(r, arg, &out[si]);
            }
            ev_series_clear(r, &out[si]);
        }
        free(out);
        return e;
    }
    for (size_t gi = 0; gi < a->ng; gi++) {
        ev_group *g = &a->g[gi];
        ev_series s = { 0 };
        pw_err    e;

        if (!ev_any(r, g->has))
            continue;
        for (size_t i = 0; i < r->n; i++) {
            if (!ev_has(g->has, i))
                continue;
            if (op == PW_AGG_SUM)
                g->v[i] += g->c[i];
            else if (op == PW_AGG_COUNT)
                g->v[i] = g->cnt[i];
            else if (op == PW_AGG_AVG)
                g->v[i] = ev_has(g->incr, i) ? g->v[i] + g->c[i]
                                             : g->v[i] / g->cnt[i] + g->c[i] / g->cnt[i];
        }
        /* Hand the group's arrays over as a series. */
        s.ls = g->ls;
        s.v = g->v;
        s.has = g->has;
        g->ls = NULL;
        g->v = NULL;
        g->has = NULL;
        e = emit(r, arg, &s);
        ev_series_clear(r, &s);
        if (e != PW_OK)
            return e;
    }
    return PW_OK;
}

static void
ev_agg_free(ev_run *r, ev_agg *a)
{
    for (size_t i = 0; i < a->ng; i++) {
        ev_group *g = &a->g[i];

        free(g->ls);
        ev_steps_free(r, g->v);
        ev_steps_free(r, g->c);
        ev_steps_free(r, g->cnt);
        free(g->has);
        free(g->incr);
        if (g->heap != NULL)
            ev_release(r, r->n * g->kcap);
        free(g->heap);
        free(g->hn);
    }
    for (size_t i = 0; i < a->nin; i++)
        free(a->in[i]);
    free(a->in);
    free(a->g);
    ev_map_free(&a->map);
}

static pw_err
ev_aggregate(ev_run *r, const pw_expr *e, ev_emit_fn emit, void *arg)
{
    ev_agg a = { .e = e };
    pw_err rc;

    if (e->agg == PW_AGG_TOPK || e->agg == PW_AGG_BOTTOMK) {
        double k = e->param->number;

        if (isnan(k))
            return ev_fail(r, PW_EINVAL, "Parameter value is NaN");
        if (k >= 9.2233720368547758e18)
            return ev_fail(r, PW_EINVAL, "Scalar value %g overflows int64", k);
        if (k <= -9.2233720368547758e18)
            return ev_fail(r, PW_EINVAL, "Scalar value %g underflows int64", k);
        if (k < 1)
            return PW_OK;          /* as Prometheus: k < 1 selects nothing */
        /* No more candidates than series can exist: cap k by the series limit. */
        a.k = k > (double) r->o.max_series ? r->o.max_series : (size_t) k;
    }
    rc = ev_vector(r, e->arg, ev_agg_add, &a);
    if (rc == PW_OK)
        rc = ev_agg_emit(r, &a, emit, arg);
    ev_agg_free(r, &a);
    return rc;
}

/* ---- dispatch ---------------------------------------------------------- */

static pw_err
ev_binary(ev_run *r, const pw_expr *e, ev_emit_fn emit, void *arg)
{
    ev_vv  vv = { .op = e->op, .emit = emit, .arg = arg };
    pw_err rc;

    if (e->lhs->type == PW_TYPE_SCALAR || e->rhs->type == PW_TYPE_SCALAR) {
        bool       left = e->lhs->type == PW_TYPE_SCALAR;
        ev_map_ctx m = { .emit = emit, .arg = arg, .op = e->op, .scalar_left = left,
                         .scalar = (left ? e->lhs : e->rhs)->number };

        return ev_vector(r, left ? e->rhs : e->lhs, ev_map_emit, &m);
    }
    rc = ev_vector(r, e->rhs, ev_vv_rhs, &vv);
    if (rc == PW_OK && vv.rhs.n > 0) {
        if ((vv.matched = calloc(vv.rhs.n, sizeof *vv.matched)) == NULL)
            rc = ev_nomem(r);
        else
            rc = ev_vector(r, e->lhs, ev_vv_lhs, &vv);
    }
    for (size_t i = 0; vv.matched != NULL && i < vv.rhs.n; i++)
        free(vv.matched[i]);
    free(vv.matched);
    ev_set_free(r, &vv.rhs);
    return rc;
}

/*
 * Evaluates a vector-typed node: emit gets each output series (with a
 * value at one step or more). emit may take s->ls, s->v, s->has (setting
 * them NULL; v stays counted as held); the producer frees what is left.
 */
static pw_err
ev_vector(ev_run *r, const pw_expr *e, ev_emit_fn emit, void *arg)
{
    switch (e->kind) {
    case PW_EXPR_SELECTOR:
        return ev_leaf_run(r, e, NULL, emit, arg);
    case PW_EXPR_CALL:
        return ev_leaf_run(r, e->arg, e, emit, arg);
    case PW_EXPR_AGG:
        return ev_aggregate(r, e, emit, arg);
    case PW_EXPR_NEG: {
        ev_map_ctx m = { .emit = emit, .arg = arg, .neg = true };

        return ev_vector(r, e->arg, ev_map_emit, &m);
    }
    case PW_EXPR_BINARY:
        return ev_binary(r, e, emit, arg);
    default:
        return ev_fail(r, PW_EINVAL, "internal: a %s where an instant vector belongs",
            pw_expr_type_name(e->type));
    }
}

/* ---- resolution -------------------------------------------------------- */

pw_res
pw_eval_pick_res(pw_eval_use use, int64_t step, int64_t range, int64_t oldest, int64_t now,
                 const int64_t *retention)
{
    static const int64_t defaults[PW_RES_COUNT_] = {
        PW_EVAL_RETENTION_RAW_MS, PW_EVAL_RETENTION_5M_MS, PW_EVAL_RETENTION_1H_MS,
        PW_EVAL_RETENTION_1D_MS,
    };
    bool   covers[PW_RES_COUNT_];
    pw_res best = PW_RES_RAW;

    for (int i = 0; i < PW_RES_COUNT_; i++) {
        int64_t keep = retention != NULL && retention[i] > 0 ? retention[i] : defaults[i];

        covers[i] = oldest >= now - keep;
    }
    switch (use) {
    case PW_EVAL_USE_IRATE:
        break;
    case PW_EVAL_USE_QUANTILE:
        if (covers[PW_RES_RAW] && range <= PW_EVAL_QUANTILE_RAW_MAX_MS)
            return PW_RES_RAW;
        for (int i = PW_RES_5M; i < PW_RES_COUNT_; i++)
            if (covers[i] && range / ev_res_ms((pw_res) i) <= PW_EVAL_QUANTILE_MAX_BUCKETS)
                return (pw_res) i;
        best = PW_RES_1D;
        for (int i = PW_RES_COUNT_ - 1; i > PW_RES_RAW; i--)
            if (covers[i])
                best = (pw_res) i;
        return best;
    default:
        for (int i = PW_RES_5M; i < PW_RES_COUNT_; i++) {
            int64_t w = ev_res_ms((pw_res) i);

            if (step < w || !covers[i])
                continue;
            if (use == PW_EVAL_USE_OVER_TIME && (range < w || range % w != 0))
                continue;
            if (use == PW_EVAL_USE_COUNTER && range < PW_EVAL_COUNTER_MIN_BUCKETS * w)
                continue;
            best = (pw_res) i;
        }
        break;
    }
    if (best == PW_RES_RAW && !covers[PW_RES_RAW]) {
        /* Raw data is gone for this range: the finest rollup that still has it. */
        for (int i = PW_RES_5M; i < PW_RES_COUNT_; i++)
            if (covers[i])
                return (pw_res) i;
        return PW_RES_1D;
    }
    return best;
}

pw_err
pw_eval_res_parse(const char *s, bool *force, pw_res *res)
{
    static const char *const names[PW_RES_COUNT_] = { "raw", "5m", "1h", "1d" };

    if (strcmp(s, "auto") == 0) {
        *force = false;
        *res = PW_RES_RAW;
        return PW_OK;
    }
    for (int i = 0; i < PW_RES_COUNT_; i++)
        if (strcmp(s, names[i]) == 0) {
            *force = true;
            *res = (pw_res) i;
            return PW_OK;
        }
    return PW_EINVAL;
}

/* ---- the result ---------------------------------------------------------- */

static int
ev_cmp_series(const void *a, const void *b)
{
    const ev_series *x = a, *y = b;
    size_t           n = x->ls->keylen < y->ls->keylen ? x->ls->keylen : y->ls->keylen;
    int              c = memcmp(x->ls->key, y->ls->key, n);

    if (c != 0)
        return c;
    return x->ls->keylen < y->ls->keylen ? -1 : x->ls->keylen > y->ls->keylen;
}

static pw_err
ev_write(ev_run *r, const ev_series *s, const pw_query_sink *sink, void *sctx)
{
    pw_series_view v = { .buf = NULL, .metric = (char *) s->ls->metric, .nlabels = s->ls->n };
    pw_err         e;

    memcpy(v.labels, s->ls->l, s->ls->n * sizeof v.labels[0]);
    if ((e = sink->series_begin(sctx, s->ls->key, s->ls->keylen, &v)) != PW_OK)
        return e;
    for (size_t i = 0; i < r->n; i++)
        if (ev_has(s->has, i) && (e = sink->point(sctx, ev_time(r, i), s->v[i])) != PW_OK)
            return e;
    if ((e = sink->series_end(sctx)) != PW_OK)
        return e;
    r->st.out_series++;
    return PW_OK;
}

/* Fills o's zero fields with defaults and checks the range; sets r->n. */
static pw_err
ev_setup(ev_run *r, const pw_eval_opts *o)
{
    r->o = *o;
    if (r->o.lookback <= 0)
        r->o.lookback = PW_EVAL_LOOKBACK_MS;
    if (r->o.max_steps == 0)
        r->o.max_steps = PW_EVAL_MAX_STEPS;
    if (r->o.max_series == 0)
        r->o.max_series = PW_EVAL_MAX_SERIES;
    if (r->o.max_points == 0)
        r->o.max_points = PW_EVAL_MAX_POINTS;
    if (r->o.max_window == 0)
        r->o.max_window = PW_EVAL_MAX_WINDOW;
    if (o->start > o->end)
        return ev_fail(r, PW_EINVAL, "the range starts after it ends");
    if (o->force_res && ((unsigned) o->res >= PW_RES_COUNT_))
        return ev_fail(r, PW_EINVAL, "unknown resolution %d", (int) o->res);
    if (o->force_res && o->res != PW_RES_RAW && r->src->ops->rollups == NULL)
        return ev_fail(r, PW_EINVAL, "this data source has no rollups");
    if (o->start == o->end) {
        r->n = 1;
        if (r->o.step <= 0)
            r->o.step = 1;
    } else {
        uint64_t span = (uint64_t) o->end - (uint64_t) o->start;

        if (o->step <= 0)
            return ev_fail(r, PW_EINVAL, "the step must be positive");
        if (span / (uint64_t) o->step >= r->o.max_steps)
            return ev_fail(r, PW_ETOOBIG, "exceeded maximum resolution of %zu points per "
                "series; use a larger step", r->o.max_steps);
        r->n = (size_t) (span / (uint64_t) o->step) + 1;
    }
    r->words = (r->n + 63) / 64;
    return PW_OK;
}

pw_err
pw_eval_range(const pw_expr *e, const pw_eval_opts *o, const pw_eval_source *src,
              const pw_query_sink *sink, void *sctx, pw_eval_stats *stats, char *errbuf,
              size_t errlen)
{
    char   scratch[1];
    ev_run r = { .src = src, .errbuf = errbuf, .errlen = errlen };
    ev_set res = { 0 };

    if (errbuf == NULL || errlen == 0) {
        r.errbuf = scratch;
        r.errlen = sizeof scratch;
    }
    r.errbuf[0] = '\0';
    if (ev_setup(&r, o) != PW_OK)
        goto out;
    switch (e->type) {
    case PW_TYPE_MATRIX:
        ev_fail(&r, PW_EINVAL, "invalid expression type \"range vector\" for range query, "
            "must be Scalar or instant Vector");
        goto out;
    case PW_TYPE_SCALAR: {
        ev_series s = { 0 };

        if (ev_series_alloc(&r, &s) != PW_OK || (s.ls = ev_lset_new("", NULL, 0)) == NULL) {
            ev_series_clear(&r, &s);
            ev_nomem(&r);
            goto out;
        }
        for (size_t i = 0; i < r.n; i++) {
            s.v[i] = e->number;
            ev_bit_set(s.has, i);
        }
        ev_set_add(&r, &res, &s);
        ev_series_clear(&r, &s);
        break;
    }
    case PW_TYPE_VECTOR:
        ev_vector(&r, e, ev_set_add, &res);
        break;
    }
    if (r.err != PW_OK)
        goto out;
    /* Prometheus returns range results sorted by labels. */
    pw_qsort(res.s, res.n, sizeof *res.s, ev_cmp_series);
    for (size_t i = 0; i < res.n; i++) {
        pw_err rc = ev_write(&r, &res.s[i], sink, sctx);

        if (rc != PW_OK) {
            /* The sink's code comes back as is; its reason is the sink's to tell. */
            r.err = rc;
            break;
        }
    }
out:
    ev_set_free(&r, &res);
    if (stats != NULL)
        *stats = r.st;
    return r.err;
}
