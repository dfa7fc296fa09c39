/*
 * points_chunk_test.c - the chunk engine through the store API: round trips
 * across seals, out-of-order and duplicate points, rollups against a
 * recomputation from raw points, retention, reopen, quiet series.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "bytes.h"
#include "rollup.h"
#include "store.h"
#include "test_fixture.h"

#define T0    INT64_C(1767225600000)        /* 2026-01-01T00:00:00Z */
#define DAY   INT64_C(86400000)

static const int64_t keep_all[PW_RES_COUNT_] = { 0, 0, 0, 0 };

typedef struct model model;
struct model {
    int64_t *ts;
    double  *v;
    size_t   n, cap;
};

/* Sets ts -> v, keeping the model sorted; the newest write wins. */
static void
model_put(model *m, int64_t ts, double v)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->ts[mid] < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->n && m->ts[lo] == ts) {
        m->v[lo] = v;
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->ts = realloc(m->ts, m->cap * sizeof *m->ts);
        m->v = realloc(m->v, m->cap * sizeof *m->v);
        assert_non_null(m->ts);
        assert_non_null(m->v);
    }
    memmove(m->ts + lo + 1, m->ts + lo, (m->n - lo) * sizeof *m->ts);
    memmove(m->v + lo + 1, m->v + lo, (m->n - lo) * sizeof *m->v);
    m->ts[lo] = ts;
    m->v[lo] = v;
    m->n++;
}

static void
model_free(model *m)
{
    free(m->ts);
    free(m->v);
}

typedef struct ctx ctx;
struct ctx {
    pw_store *s;
    char     *dir;
    uint64_t  seq;
    uint64_t  id;       /* series id of "m{host=h}" once written */
    unsigned  flags;    /* pw_store_open's: an older format */
};

static void
ctx_open(ctx *c)
{
    char err[256];

    assert_int_equal(pw_store_open(c->dir, c->flags, &c->s, err, sizeof err), PW_OK);
}

static void
ctx_init(ctx *c)
{
    memset(c, 0, sizeof *c);
    c->dir = tf_tmpdir();
    ctx_open(c);
}

static void
ctx_done(ctx *c)
{
    pw_store_close(c->s);
    tf_rmdir(c->dir);
}

/* Writes points (ts[i], v[i]) of series m{host="h"} in frames of up to 4000. */
static void
write_points(ctx *c, const int64_t *ts, const double *v, size_t n)
{
    static tf_frame t;

    for (size_t off = 0; off < n;) {
        pw_store_txn *txn;
        bool          dup;
        uint32_t      sid;
        size_t        k = n - off > 4000 ? 4000 : n - off;

        tf_init(&t, "a1", 1, ++c->seq, "h");
        sid = tf_series(&t, "m", NULL);
        for (size_t i = 0; i < k; i++)
            tf_sample(&t, sid, ts[off + i], v[off + i]);
        assert_int_equal(pw_store_write_begin(c->s, &txn), PW_OK);
        assert_int_equal(pw_store_write_frame(txn, &t.f, T0, &dup), PW_OK);
        assert_false(dup);
        assert_int_equal(pw_store_write_commit(txn), PW_OK);
        off += k;
    }
}

static int
find_id(void *arg, uint64_t id, const char *key, size_t keylen)
{
    (void) key;
    (void) keylen;
    *(uint64_t *) arg = id;
    return 1;
}

static uint64_t
series_id(ctx *c)
{
    pw_store_txn *t;
    uint64_t      id = 0;

    assert_int_equal(pw_store_read_begin(c->s, &t), PW_OK);
    assert_int_equal(pw_store_series_scan(t, "m", find_id, &id), PW_OK);
    pw_store_read_end(t);
    assert_true(id != 0);
    return id;
}

static int
collect_point(void *arg, int64_t ts, double v)
{
    model *m = arg;

    /* Append in order; any disorder shows up as a mismatch with the model. */
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->ts = realloc(m->ts, m->cap * sizeof *m->ts);
        m->v = realloc(m->v, m->cap * sizeof *m->v);
    }
    m->ts[m->n] = ts;
    m->v[m->n] = v;
    m->n++;
    return 0;
}

static void
read_points(ctx *c, int64_t from, int64_t to, model *out)
{
    pw_store_txn *t;

    memset(out, 0, sizeof *out);
    assert_int_equal(pw_store_read_begin(c->s, &t), PW_OK);
    assert_int_equal(pw_store_points(t, series_id(c), from, to, collect_point, out), PW_OK);
    pw_store_read_end(t);
}

static void
assert_same(const model *want, const model *got, int64_t from, int64_t to)
{
    size_t j = 0;

    for (size_t i = 0; i < want->n; i++) {
        if (want->ts[i] < from || want->ts[i] > to)
            continue;
        if (j >= got->n)
            fail_msg("missing point ts %lld", (long long) want->ts[i]);
        if (got->ts[j] != want->ts[i] || memcmp(&got->v[j], &want->v[i], sizeof(double)) != 0)
            fail_msg("point %zu: got (%lld, %.17g) want (%lld, %.17g)", j, (long long) got->ts[j],
                     got->v[j], (long long) want->ts[i], want->v[i]);
        j++;
    }
    assert_int_equal(j, got->n);
}

static void
maintain_all(ctx *c, int64_t now, const int64_t *ret)
{
    bool more = true;
    int  passes = 0;

    while (more) {
        assert_int_equal(pw_store_maintain(c->s, now, ret, 64, &more), PW_OK);
        assert_true(++passes < 100000);
    }
}

/* A node-like value: counter, gauge or constant by index. */
static double
gen_value(size_t i, int kind, unsigned *seed)
{
    switch (kind) {
    case 0: return 42;
    case 1: return (double) (i * 1000 + (size_t) (rand_r(seed) % 100));
    default: return round(sin((double) i / 50.0) * 10000.0) / 100.0 + (rand_r(seed) % 7) * 0.01;
    }
}

static void
test_round_trip_across_seals(void **state)
{
    ctx      c;
    model    want = { 0 }, got;
    size_t   n = 3000;
    int64_t *ts = malloc(n * sizeof *ts);
    double  *v = malloc(n * sizeof *v);
    unsigned seed = 7;

    (void) state;
    ctx_init(&c);
    for (size_t i = 0; i < n; i++) {
        ts[i] = T0 + (int64_t) i * 10000 + (i % 13 == 0 ? 1 : 0);
        v[i] = gen_value(i, (int) (i / 1000), &seed);
        model_put(&want, ts[i], v[i]);
    }
    v[5] = NAN;                          /* stored and returned as stored */
    want.v[5] = NAN;
    v[6] = -0.0;
    want.v[6] = -0.0;
    write_points(&c, ts, v, n);
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    assert_same(&want, &got, INT64_MIN, INT64_MAX);
    model_free(&got);
    /* both ends of a range are inclusive, also across chunk boundaries */
    read_points(&c, ts[719], ts[1441], &got);
    assert_int_equal(got.n, 1441 - 719 + 1);
    assert_same(&want, &got, ts[719], ts[1441]);
    model_free(&got);
    /* and after a reopen */
    pw_store_close(c.s);
    ctx_open(&c);
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    assert_same(&want, &got, INT64_MIN, INT64_MAX);
    model_free(&got);
    model_free(&want);
    free(ts);
    free(v);
    ctx_done(&c);
}

static void
test_out_of_order_and_duplicates(void **state)
{
    ctx      c;
    model    want = { 0 }, got;
    size_t   n = 2000;
    int64_t  ts[2000];
    double   v[2000];
    int64_t  late_ts[64];
    double   late_v[64];
    size_t   nl = 0;

    (void) state;
    ctx_init(&c);
    for (size_t i = 0; i < n; i++) {
        ts[i] = T0 + (int64_t) i * 10000;
        v[i] = (double) i;
        model_put(&want, ts[i], v[i]);
    }
    write_points(&c, ts, v, n);
    /* late points inside sealed chunks, in the open chunk, before everything,
     * and rewrites of existing times (the newest write wins) */
    for (int64_t off = 5000; off < 20000000; off += 997000) {
        late_ts[nl] = T0 + off;
        late_v[nl] = -(double) off;
        nl++;
    }
    late_ts[nl] = T0 - 60000;             late_v[nl++] = -1;
    late_ts[nl] = ts[100];                late_v[nl++] = 1e9;     /* sealed duplicate */
    late_ts[nl] = ts[1990];               late_v[nl++] = 2e9;     /* open-chunk duplicate */
    late_ts[nl] = ts[1990] + 3;           late_v[nl++] = 3e9;     /* inside the open chunk */
    for (size_t i = 0; i < nl; i++)
        model_put(&want, late_ts[i], late_v[i]);
    /* one frame each, in a scrambled order */
    for (size_t i = 0; i < nl; i++) {
        size_t j = (i * 7) % nl;
        write_points(&c, &late_ts[j], &late_v[j], 1);
    }
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    assert_same(&want, &got, INT64_MIN, INT64_MAX);
    model_free(&got);
    model_free(&want);
    ctx_done(&c);
}

typedef struct buckets buckets;
struct buckets {
    pw_rollup r[4096];
    size_t    n;
};

static int
collect_bucket(void *arg, const pw_rollup *r)
{
    buckets *b = arg;

    assert_true(b->n < 4096);
    b->r[b->n++] = *r;
    return 0;
}

/* The buckets a fold over the model gives for [from, to]. */
static void
expected_buckets(const model *m, pw_res res, int64_t from, int64_t to, buckets *b)
{
    pw_rollup_fold f;
    pw_rollup      done;
    int64_t        w = pw_res_ms(res);

    b->n = 0;
    pw_rollup_fold_init(&f, w);
    for (size_t i = 0; i < m->n; i++) {
        /* buckets starting in [floor(from), floor(to)]: points (floor(from), floor(to) + w] */
        if (m->ts[i] <= pw_time_floor(from, w) || m->ts[i] > pw_time_floor(to, w) + w)
            continue;
        if (pw_rollup_fold_add(&f, m->ts[i], m->v[i], &done))
            b->r[b->n++] = done;
    }
    if (pw_rollup_fold_end(&f, &done))
        b->r[b->n++] = done;
}

static void
assert_buckets(ctx *c, const model *m, pw_res res, int64_t from, int64_t to)
{
    static buckets want, got;
    pw_store_txn  *t;

    expected_buckets(m, res, from, to, &want);
    got.n = 0;
    assert_int_equal(pw_store_read_begin(c->s, &t), PW_OK);
    assert_int_equal(pw_store_rollups(t, series_id(c), res, from, to, collect_bucket, &got), PW_OK);
    pw_store_read_end(t);
    if (got.n != want.n)
        fail_msg("%s: %zu buckets, want %zu", pw_res_name(res), got.n, want.n);
    for (size_t i = 0; i < want.n; i++) {
        const pw_rollup *a = &got.r[i], *b = &want.r[i];
        if (a->start != b->start || a->count != b->count || a->min != b->min || a->max != b->max
            || fabs(a->sum - b->sum) > 1e-9 * fabs(b->sum) || a->last != b->last
            || a->last_ts != b->last_ts)
            fail_msg("%s bucket %zu (start %lld): got count %llu min %g max %g sum %.17g last %g; "
                     "want count %llu min %g max %g sum %.17g last %g", pw_res_name(res), i,
                     (long long) b->start, (unsigned long long) a->count, a->min, a->max, a->sum,
                     a->last, (unsigned long long) b->count, b->min, b->max, b->sum, b->last);
    }
}

/* Same bits (NaN payloads and -0.0 too). */
static bool
same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Runs (pw_store_rollups_runs) gathered bucket by bucket; the columns asked for set, the others NULL. */
typedef struct run_sink run_sink;
struct run_sink {
    buckets *b;
    unsigned cols;
    size_t   runs;
    size_t   stop_after;        /* runs; 0: never stop */
};

static int
collect_run(void *arg, const pw_rollup_run *r)
{
    run_sink     *k = arg;
    const double *col[6] = { r->min, r->max, r->sum, r->last, r->last_ts, r->count };

    assert_true(r->n > 0);
    assert_non_null(r->start);
    for (int j = 0; j < 6; j++)
        if ((col[j] != NULL) != ((k->cols & (1u << j)) != 0))
            fail_msg("cols %#x: column %d is %s", k->cols, j, col[j] != NULL ? "set" : "NULL");
    for (size_t i = 0; i < r->n; i++) {
        assert_true(k->b->n < 4096);
        pw_rollup_run_bucket(r, i, &k->b->r[k->b->n++]);
    }
    k->runs++;
    return k->stop_after > 0 && k->runs == k->stop_after;
}

/*
 * pw_store_rollups_cols for every subset of the fields: the buckets of a
 * full read, with the fields asked for equal to it and the others 0; and
 * pw_store_rollups_runs the very same buckets, cut into runs, stopping
 * after the first run when its callback says so.
 */
static void
assert_cols_match(ctx *c, pw_res res, int64_t from, int64_t to)
{
    static buckets full, sub;
    pw_store_txn  *t;

    assert_int_equal(pw_store_read_begin(c->s, &t), PW_OK);
    full.n = 0;
    assert_int_equal(pw_store_rollups(t, series_id(c), res, from, to, collect_bucket, &full), PW_OK);
    assert_true(full.n > 0);
    for (unsigned cols = 0; cols <= PW_ROLLUP_ALL; cols++) {
        sub.n = 0;
        assert_int_equal(pw_store_rollups_cols(t, series_id(c), res, from, to, cols, collect_bucket, &sub), PW_OK);
        if (sub.n != full.n)
            fail_msg("%s cols %#x: %zu buckets, a full read %zu", pw_res_name(res), cols, sub.n, full.n);
        for (size_t i = 0; i < full.n; i++) {
            const pw_rollup *a = &sub.r[i], *b = &full.r[i];
            bool ok = a->start == b->start
                && same_double(a->min, cols & PW_ROLLUP_MIN ? b->min : 0)
                && same_double(a->max, cols & PW_ROLLUP_MAX ? b->max : 0)
                && same_double(a->sum, cols & PW_ROLLUP_SUM ? b->sum : 0)
                && same_double(a->last, cols & PW_ROLLUP_LAST ? b->last : 0)
                && a->last_ts == (cols & PW_ROLLUP_LAST_TS ? b->last_ts : 0)
                && a->count == (cols & PW_ROLLUP_COUNT ? b->count : 0);

            if (!ok)
                fail_msg("%s cols %#x bucket %zu (start %lld) differs from a full read", pw_res_name(res), cols,
                         i, (long long) b->start);
        }
        {
            static buckets byrun;
            run_sink       k = { &byrun, cols, 0, 0 };
            size_t         first;

            byrun.n = 0;
            assert_int_equal(pw_store_rollups_runs(t, series_id(c), res, from, to, cols, collect_run, &k), PW_OK);
            if (byrun.n != sub.n)
                fail_msg("%s cols %#x: runs hold %zu buckets, by bucket %zu", pw_res_name(res), cols, byrun.n, sub.n);
            for (size_t i = 0; i < sub.n; i++)
                if (memcmp(&byrun.r[i], &sub.r[i], sizeof sub.r[i]) != 0)
                    fail_msg("%s cols %#x: bucket %zu of the runs differs from pw_store_rollups_cols'",
                             pw_res_name(res), cols, i);
            /* a callback that stops: no second run */
            byrun.n = 0;
            k = (run_sink) { &byrun, cols, 0, 1 };
            assert_int_equal(pw_store_rollups_runs(t, series_id(c), res, from, to, cols, collect_run, &k), PW_OK);
            assert_int_equal(k.runs, 1);
            first = byrun.n;
            assert_true(first > 0 && first <= sub.n);
        }
    }
    pw_store_read_end(t);
}

static void
test_rollups_equal_recomputation(void **state)
{
    ctx      c;
    model    want = { 0 };
    size_t   n = 3 * 1440 + 17;             /* 3 days at 60 s, a partial last bucket */
    int64_t *ts = malloc(n * sizeof *ts);
    double  *v = malloc(n * sizeof *v);
    unsigned seed = 3;
    int64_t  end;

    (void) state;
    ctx_init(&c);
    for (size_t i = 0; i < n; i++) {
        ts[i] = T0 + (int64_t) i * 60000;
        v[i] = gen_value(i, 1 + (int) (i / 2000) % 2, &seed);
        model_put(&want, ts[i], v[i]);
    }
    write_points(&c, ts, v, n);
    end = ts[n - 1];
    /* before any upkeep: every bucket computed from raw points */
    for (int r = PW_RES_5M; r < PW_RES_COUNT_; r++)
        assert_buckets(&c, &want, (pw_res) r, T0, end);
    assert_cols_match(&c, PW_RES_5M, T0, end);
    /* after upkeep: stored buckets plus the newest from raw */
    maintain_all(&c, end + 60000, keep_all);
    for (int r = PW_RES_5M; r < PW_RES_COUNT_; r++) {
        assert_buckets(&c, &want, (pw_res) r, T0, end);
        assert_buckets(&c, &want, (pw_res) r, T0 + DAY + 3600000, end - 7200000);
        /* and read by column: stored blocks, then the newest from raw */
        assert_cols_match(&c, (pw_res) r, T0, end);
        assert_cols_match(&c, (pw_res) r, T0 + DAY + 3600000, end - 7200000);
    }
    /* a late point in rolled-up time: buckets follow once upkeep ran */
    write_points(&c, (int64_t[]) { T0 + 90001 }, (double[]) { 1e6 }, 1);
    model_put(&want, T0 + 90001, 1e6);
    maintain_all(&c, end + 60000, keep_all);
    for (int r = PW_RES_5M; r < PW_RES_COUNT_; r++)
        assert_buckets(&c, &want, (pw_res) r, T0, end);
    /* and after a reopen */
    pw_store_close(c.s);
    ctx_open(&c);
    for (int r = PW_RES_5M; r < PW_RES_COUNT_; r++)
        assert_buckets(&c, &want, (pw_res) r, T0, end);
    model_free(&want);
    free(ts);
    free(v);
    ctx_done(&c);
}

static void
test_retention(void **state)
{
    ctx      c;
    model    want = { 0 }, got;
    size_t   n = 10 * 144;                  /* 10 days at 10 min */
    int64_t *ts = malloc(n * sizeof *ts);
    double  *v = malloc(n * sizeof *v);
    int64_t  now, cutoff, ret[PW_RES_COUNT_] = { 2 * DAY, 8 * DAY, 0, 0 };
    static buckets b;
    pw_store_txn *t;

    (void) state;
    ctx_init(&c);
    for (size_t i = 0; i < n; i++) {
        ts[i] = T0 + (int64_t) i * 600000;
        v[i] = (double) (i % 50);
        model_put(&want, ts[i], v[i]);
    }
    write_points(&c, ts, v, n);
    now = ts[n - 1] + 600000;
    cutoff = now - ret[PW_RES_RAW];
    maintain_all(&c, now, ret);
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    /* Raw points go chunk by chunk (720 points = 5 days here): none older
     * than the chunk that holds the cutoff, every one from the cutoff on. */
    assert_true(got.n > 0 && got.n < n);
    assert_true(got.ts[0] > cutoff - 720 * 600000LL);
    assert_same(&want, &got, got.ts[0], INT64_MAX);
    assert_true(got.ts[0] <= cutoff);
    model_free(&got);
    /* 1-day rollups are kept forever here and cover the expired raw points */
    assert_buckets(&c, &want, PW_RES_1D, T0, ts[n - 1]);
    /* 5-minute rollups: blocks (1 day each) that ended 8 days ago are gone */
    b.n = 0;
    assert_int_equal(pw_store_read_begin(c.s, &t), PW_OK);
    assert_int_equal(pw_store_rollups(t, series_id(&c), PW_RES_5M, T0, now, collect_bucket, &b), PW_OK);
    pw_store_read_end(t);
    assert_true(b.n > 0);
    assert_true(b.r[0].start >= pw_time_floor(now - ret[PW_RES_5M], DAY));
    model_free(&want);
    free(ts);
    free(v);
    ctx_done(&c);
}

static void
test_quiet_series_is_sealed_and_rolled_up(void **state)
{
    ctx     c;
    model   want = { 0 }, got;
    int64_t ts[30];
    double  v[30];

    (void) state;
    ctx_init(&c);
    for (int i = 0; i < 30; i++) {
        ts[i] = T0 + i * 10000;
        v[i] = i;
        model_put(&want, ts[i], v[i]);
    }
    write_points(&c, ts, v, 30);
    /* a day later the open chunk is sealed and its buckets stored */
    maintain_all(&c, T0 + DAY, keep_all);
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    assert_same(&want, &got, INT64_MIN, INT64_MAX);
    model_free(&got);
    for (int r = PW_RES_5M; r < PW_RES_COUNT_; r++)
        assert_buckets(&c, &want, (pw_res) r, T0, T0 + DAY);
    /* buckets are (s, s + w]: the point at T0 ends the bucket before T0 alone,
     * the next 5m bucket holds T0 + 10 s ... T0 + 300 s (30 points run to 290 s) */
    {
        static buckets b;
        pw_store_txn  *t;

        b.n = 0;
        assert_int_equal(pw_store_read_begin(c.s, &t), PW_OK);
        assert_int_equal(pw_store_rollups(t, series_id(&c), PW_RES_5M, T0 - 300000, T0 + DAY,
            collect_bucket, &b), PW_OK);
        pw_store_read_end(t);
        assert_int_equal(b.n, 2);
        assert_true(b.r[0].start == T0 - 300000 && b.r[0].count == 1 && b.r[0].last_ts == T0);
        assert_true(b.r[1].start == T0 && b.r[1].count == 29 && b.r[1].min == 1);
    }
    /* the series goes on: new points after the sealed ones */
    write_points(&c, (int64_t[]) { T0 + DAY }, (double[]) { 99 }, 1);
    model_put(&want, T0 + DAY, 99);
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    assert_same(&want, &got, INT64_MIN, INT64_MAX);
    model_free(&got);
    model_free(&want);
    ctx_done(&c);
}

static void
test_bytes_per_sample(void **state)
{
    /* Not the benchmark (tests/bench/storage is): a guard that the engine
     * compresses at all. 60 node-like series, 6 h at 10 s. */
    ctx         c;
    static tf_frame t;
    struct stat st;
    char        path[512];
    char        names[60][12];
    unsigned    seed = 11;
    size_t      samples = 0;

    (void) state;
    ctx_init(&c);
    for (int s = 0; s < 60; s++)
        snprintf(names[s], sizeof names[s], "s%d", s);
    for (int step = 0; step < 2160; step += 60) {
        pw_store_txn *txn;
        bool          dup;

        tf_init(&t, "a1", 1, ++c.seq, "h");
        for (int s = 0; s < 60; s++)
            tf_series(&t, "node_metric", "device", names[s], NULL);
        for (int k = 0; k < 60; k++)
            for (int s = 0; s < 60; s++) {
                size_t i = (size_t) (step + k);
                tf_sample(&t, (uint32_t) s, T0 + (int64_t) i * 10000, gen_value(i + (size_t) s * 7, s % 3, &seed));
                samples++;
            }
        assert_int_equal(pw_store_write_begin(c.s, &txn), PW_OK);
        assert_int_equal(pw_store_write_frame(txn, &t.f, T0, &dup), PW_OK);
        assert_int_equal(pw_store_write_commit(txn), PW_OK);
    }
    maintain_all(&c, T0 + DAY, keep_all);
    snprintf(path, sizeof path, "%s/data.mdb", c.dir);
    assert_int_equal(stat(path, &st), 0);
    print_message("      %zu samples, data.mdb %lld bytes: %.2f bytes/sample (small stores are "
                  "dominated by LMDB's fixed pages)\n", samples, (long long) st.st_size,
                  (double) st.st_size / (double) samples);
    /* raw float64 points would be 24 bytes each in the raw engine */
    assert_true((double) st.st_size / (double) samples < 8.0);
    ctx_done(&c);
}

/*
 * Storage format 3 packs sealed chunks several to a record: reads across and
 * inside packs, late points merged into a pack, and raw retention that drops
 * the older chunks of a pack and keeps the rest, chunk by chunk.
 */
static void
test_packs(void **state)
{
    ctx      c;
    model    want = { 0 }, got;
    size_t   n = 20 * 1440;                 /* 20 days at 1 min: 40 chunks */
    int64_t *ts = malloc(n * sizeof *ts);
    double  *v = malloc(n * sizeof *v);
    int64_t  now, cutoff, ret[PW_RES_COUNT_] = { 7 * DAY, 0, 0, 0 };
    unsigned seed = 3;

    (void) state;
    ctx_init(&c);
    for (size_t i = 0; i < n; i++) {
        ts[i] = T0 + (int64_t) i * 60000;
        v[i] = gen_value(i, 2, &seed);
        model_put(&want, ts[i], v[i]);
    }
    write_points(&c, ts, v, n);
    /* ranges starting and ending anywhere, also on chunk and pack edges */
    for (size_t a = 0; a < n; a += 719 * 7) {
        size_t b = a + 3001 < n ? a + 3001 : n - 1;
        read_points(&c, ts[a], ts[b], &got);
        assert_int_equal(got.n, b - a + 1);
        assert_same(&want, &got, ts[a], ts[b]);
        model_free(&got);
    }
    /* late points: inside a pack, on an existing time, between two points */
    {
        int64_t lts[3] = { ts[5000], ts[9000] + 1, ts[100] };
        double  lv[3] = { -1, -2, -3 };
        for (int i = 0; i < 3; i++) {
            write_points(&c, &lts[i], &lv[i], 1);
            model_put(&want, lts[i], lv[i]);
        }
    }
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    assert_same(&want, &got, INT64_MIN, INT64_MAX);
    model_free(&got);
    /* raw retention of 7 days: rollups first, then whole chunks before the cut-off go */
    now = ts[n - 1] + 60000;
    cutoff = now - ret[PW_RES_RAW];
    maintain_all(&c, now, ret);
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    assert_true(got.n > 0 && got.n < want.n);
    assert_true(got.ts[0] <= cutoff);
    assert_true(got.ts[0] > cutoff - 720 * 60000LL);
    assert_same(&want, &got, got.ts[0], INT64_MAX);
    model_free(&got);
    /* the same after a reopen, and a range inside what was trimmed is empty */
    pw_store_close(c.s);
    ctx_open(&c);
    read_points(&c, T0, cutoff - 720 * 60000LL, &got);
    assert_int_equal(got.n, 0);
    model_free(&got);
    read_points(&c, cutoff, INT64_MAX, &got);
    assert_same(&want, &got, cutoff, INT64_MAX);
    model_free(&got);
    model_free(&want);
    free(ts);
    free(v);
    ctx_done(&c);
}

/* A plain sealed chunk or a pack (0x80, then uvarint length + chunk each): its chunks' sizes. */
static size_t
rec_chunks(const unsigned char *v, size_t len, size_t *first_len)
{
    size_t i = 1, n = 0;

    if (len == 0 || v[0] != 0x80) {
        *first_len = len;
        return 1;
    }
    while (i < len) {
        size_t   clen = 0;
        unsigned shift = 0;
        do {
            assert_true(i < len);
            clen |= (size_t) (v[i] & 0x7f) << shift;
            shift += 7;
        } while (v[i++] & 0x80);
        assert_true(clen > 0 && clen <= len - i);
        assert_true(v[i] != 0 && v[i] != 0x80);     /* a chunk's version byte */
        if (n == 0)
            *first_len = clen;
        i += clen;
        n++;
    }
    assert_int_equal(i, len);
    return n;
}

/* Bytes a chunk of clen adds to a pack: its uvarint length and itself. */
static size_t
pack_cost(size_t clen)
{
    return pw_uvarint_len(clen) + clen;
}

/*
 * The sealed records of the store in dir (closed), checked against the
 * packing rules: no record exceeds what PACK_PAGES overflow pages hold
 * (psize * 8 - 16: LMDB puts only its page header there), and with full
 * set, each record was closed only because the next one's first chunk
 * did not fit (pack_fits). LMDB's overflow page count must be the sum over the records
 * too large for a leaf of ceil((size + 16) / psize): the sizing assumption.
 * Returns the records seen.
 */
#define PACK_PAGES 8

/* Opens database db of the store in dir (closed) for reading: *env and *txn to end by the caller. */
static void
peek_open(const char *dir, const char *db, MDB_env **env, MDB_txn **txn, MDB_dbi *dbi)
{
    assert_int_equal(mdb_env_create(env), 0);
    mdb_env_set_maxdbs(*env, 32);
    assert_int_equal(mdb_env_open(*env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, MDB_RDONLY, txn), 0);
    assert_int_equal(mdb_dbi_open(*txn, db, 0, dbi), 0);
}

/*
 * The engine's rule (pwc_pack_fits): a record of len bytes takes add more
 * within max, unless that crosses into a new overflow page while its last
 * page is at least 90 % full.
 */
static bool
pack_fits(size_t len, size_t add, size_t max, size_t psize)
{
    size_t pages = (len + 16 + psize - 1) / psize;

    if (len + add > max)
        return false;
    if (len <= psize / 2 || pages == (len + add + 16 + psize - 1) / psize)
        return true;
    return (len + 16 - (pages - 1) * psize) * 10 < psize * 9;
}

static size_t
check_pack_sizes(const char *dir, bool full)
{
    MDB_env    *env;
    MDB_txn    *txn;
    MDB_dbi     dbi;
    MDB_cursor *cur;
    MDB_stat    st;
    MDB_val     k, v;
    size_t      recs = 0, ovpages = 0, prev_len = 0, psize, nodemax, max;
    uint64_t    prev_id = 0;
    int         rc;

    peek_open(dir, "chunks", &env, &txn, &dbi);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    psize = st.ms_psize;
    max = psize * PACK_PAGES - 16;
    /* lmdb.c: me_nodemax, and a leaf node's 8-byte header */
    nodemax = (((psize - 16) / 2) & ~(size_t) 1) - 2;
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t id = 0;
        size_t   first_len = 0, packed;

        assert_int_equal(k.mv_size, 16);
        for (int i = 0; i < 8; i++)
            id = id << 8 | ((unsigned char *) k.mv_data)[i];
        rec_chunks(v.mv_data, v.mv_size, &first_len);
        if (v.mv_size > max)
            fail_msg("record %zu of series %llu: %zu bytes, more than %zu pages hold (%zu)", recs,
                     (unsigned long long) id, v.mv_size, (size_t) PACK_PAGES, max);
        /* as a pack: a plain record gains the magic and its length */
        packed = ((unsigned char *) v.mv_data)[0] == 0x80 ? v.mv_size : 1 + pack_cost(v.mv_size);
        if (full && recs > 0 && id == prev_id && pack_fits(prev_len, pack_cost(first_len), max, psize))
            fail_msg("record %zu of series %llu: its first chunk (%zu bytes) would fit in the record "
                     "before (%zu bytes)", recs, (unsigned long long) id, first_len, prev_len);
        if (8 + 16 + v.mv_size > nodemax)
            ovpages += (v.mv_size + 16 + psize - 1) / psize;
        prev_id = id;
        prev_len = packed;
        recs++;
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    assert_int_equal(st.ms_overflow_pages, ovpages);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return recs;
}

/*
 * Packs stop at a nearly full page: a day of a 2-decimal gauge at 10 s is
 * 12 sealed chunks of about 700 bytes; one pack of them took 3 pages (68 %
 * full), the rule makes it 2 pages of 11 chunks (over 90 % full) and a
 * record of the twelfth in a leaf. Every overflow record but a series'
 * last ends at least 90 % into its last page or at the 8-page limit, and
 * the data reads back whole.
 */
static void
test_pack_pages(void **state)
{
    ctx      c;
    model    want = { 0 }, got;
    size_t   n = 12 * 720;
    int64_t *ts = malloc(n * sizeof *ts);
    double  *v = malloc(n * sizeof *v);
    unsigned seed = 11;
    int64_t  k = 150;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi  dbi;
    MDB_stat st;

    (void) state;
    ctx_init(&c);
    for (size_t i = 0; i < n; i++) {
        k += rand_r(&seed) % 61 - 30;
        k = k < 0 ? -k : k;
        ts[i] = T0 + (int64_t) i * 10000;
        v[i] = (double) k / 100;
        model_put(&want, ts[i], v[i]);
    }
    write_points(&c, ts, v, n);
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    assert_same(&want, &got, INT64_MIN, INT64_MAX);
    model_free(&got);
    model_free(&want);
    pw_store_close(c.s);
    assert_int_equal(check_pack_sizes(c.dir, true), 2);
    peek_open(c.dir, "chunks", &env, &txn, &dbi);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    assert_int_equal(st.ms_entries, 2);
    assert_int_equal(st.ms_overflow_pages, 2);     /* one pack of 11 chunks, 12 before the rule */
    mdb_txn_abort(txn);
    mdb_env_close(env);
    tf_rmdir(c.dir);
    free(ts);
    free(v);
}

/*
 * Packs fill their pages: records never exceed what 8 overflow pages hold
 * and close only when the next chunk does not fit; late points re-encode
 * the one chunk they land in (also before the first chunk, and so many
 * that the chunk is split), reads stay whole and in order across packs,
 * and raw retention trims the new packs chunk by chunk.
 */
static void
test_pack_fill(void **state)
{
    ctx      c;
    model    want = { 0 }, got;
    size_t   n = 40 * 1440;                 /* 40 days at 1 min: 80 chunks of a busy gauge */
    int64_t *ts = malloc(n * sizeof *ts);
    double  *v = malloc(n * sizeof *v);
    int64_t  now, cutoff, ret[PW_RES_COUNT_] = { 20 * DAY, 0, 0, 0 };
    unsigned seed = 5;
    size_t   recs;

    (void) state;
    ctx_init(&c);
    for (size_t i = 0; i < n; i++) {
        ts[i] = T0 + (int64_t) i * 60000;
        /* full-precision values: chunks of 5-6 KB, several pages a pack */
        v[i] = sin((double) i / 30.0) * 1000.0 + (double) rand_r(&seed) / RAND_MAX;
        model_put(&want, ts[i], v[i]);
    }
    write_points(&c, ts, v, n);
    pw_store_close(c.s);
    recs = check_pack_sizes(c.dir, true);
    assert_true(recs >= 3);                 /* several packs, each full */
    ctx_open(&c);
    /* late points: before the first chunk, inside packs, on existing times */
    {
        int64_t lts[5] = { T0 - 60000, ts[5000] + 1, ts[30000], ts[n / 2] + 30000, ts[100] };
        double  lv[5] = { -1, -2, -3, -4, -5 };
        for (int i = 0; i < 5; i++) {
            write_points(&c, &lts[i], &lv[i], 1);
            model_put(&want, lts[i], lv[i]);
        }
    }
    /* 3400 late points into one chunk of 720: past 4096 it is split in chunks of 720 */
    {
        size_t   m = 3400;
        int64_t *lts = malloc(m * sizeof *lts);
        double  *lv = malloc(m * sizeof *lv);
        for (size_t i = 0; i < m; i++) {
            lts[i] = ts[20000 + i / 5] + 1 + (int64_t) (i % 5) * 1000;
            lv[i] = (double) i;
            model_put(&want, lts[i], lv[i]);
        }
        write_points(&c, lts, lv, m);
        free(lts);
        free(lv);
    }
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    assert_same(&want, &got, INT64_MIN, INT64_MAX);
    model_free(&got);
    for (size_t a = 0; a < n; a += 4099) {
        size_t b = a + 6007 < n ? a + 6007 : n - 1;
        read_points(&c, ts[a], ts[b], &got);
        assert_same(&want, &got, ts[a], ts[b]);
        model_free(&got);
    }
    pw_store_close(c.s);
    assert_true(check_pack_sizes(c.dir, false) >= recs);
    ctx_open(&c);
    /* raw retention: whole chunks before the cut-off go, packs are trimmed */
    now = ts[n - 1] + 60000;
    cutoff = now - ret[PW_RES_RAW];
    maintain_all(&c, now, ret);
    read_points(&c, INT64_MIN, INT64_MAX, &got);
    assert_true(got.n > 0 && got.ts[0] <= cutoff && got.ts[0] > cutoff - 720 * 60000LL);
    assert_same(&want, &got, got.ts[0], INT64_MAX);
    model_free(&got);
    assert_buckets(&c, &want, PW_RES_1H, T0 - DAY, ts[n - 1]);
    pw_store_close(c.s);
    check_pack_sizes(c.dir, false);
    ctx_open(&c);
    model_free(&want);
    free(ts);
    free(v);
    ctx_done(&c);
}

/* Folds v[0..n) into one 5-minute bucket and returns it. */
static pw_rollup
fold_one(const double *v, size_t n)
{
    pw_rollup_fold f;
    pw_rollup      r;

    pw_rollup_fold_init(&f, 300000);
    for (size_t i = 0; i < n; i++)
        assert_false(pw_rollup_fold_add(&f, T0 + 1000 * (int64_t) (i + 1), v[i], &r));
    assert_true(pw_rollup_fold_end(&f, &r));
    assert_int_equal(r.count, n);
    return r;
}

/*
 * A bucket's sum of decimals is their exact decimal sum (which the codec
 * stores in a few bits), not the doubles' running sum with its tail of
 * rounding bits; any other sum stays within the summation's error bound.
 */
static void
test_rollup_sum_is_decimal(void **state)
{
    double   v[64], naive, bound;
    unsigned seed = 3;
    int64_t  k;

    (void) state;
    for (int i = 0; i < 30; i++)
        v[i] = 0.1;
    naive = 0;
    for (int i = 0; i < 30; i++)
        naive += v[i];
    assert_true(naive != 3.0);                      /* what adding doubles gives */
    assert_true(fold_one(v, 30).sum == 3.0);
    /* 2-decimal gauges and 1/100 s counters near 10^6: k / 100 with k the sum of the ks */
    for (int round = 0; round < 200; round++) {
        int64_t base = round % 2 ? 100000000 : 0;

        k = 0;
        for (int i = 0; i < 30; i++) {
            int64_t ki = base + rand_r(&seed) % 1000 - (round % 3 == 0 ? 500 : 0);
            v[i] = (double) ki / 100;
            k += ki;
        }
        assert_true(fold_one(v, 30).sum == (double) k / 100);
    }
    /* full-precision values: within (n - 1) 2^-52 of the sum of magnitudes */
    for (int round = 0; round < 200; round++) {
        pw_rollup r;

        naive = bound = 0;
        for (int i = 0; i < 64; i++) {
            v[i] = (rand_r(&seed) / (double) RAND_MAX - 0.3) * 1e3 * (i + 1);
            naive += v[i];
            bound += fabs(v[i]);
        }
        r = fold_one(v, 64);
        assert_true(fabs(r.sum - naive) <= 63 * 0x1p-52 * bound);
    }
    /* one point keeps its bits; NaN and infinities stay what they are */
    v[0] = M_PI;
    assert_true(fold_one(v, 1).sum == M_PI);
    v[0] = 1.5;
    v[1] = NAN;
    assert_true(isnan(fold_one(v, 2).sum));
    v[1] = INFINITY;
    assert_true(isinf(fold_one(v, 2).sum));
}

/* ---- many series: open chunks per series (format 4) and grouped (5) ------ */

#define MS_HOSTS  3
#define MS_PER    50             /* series a host: ids 1-150, groups of 64 cut across hosts */

typedef struct ms_ids ms_ids;
struct ms_ids {
    uint64_t id[MS_HOSTS][MS_PER];
};

static int
ms_find(void *arg, uint64_t id, const char *key, size_t keylen)
{
    ms_ids *m = arg;
    int     h, k;

    (void) keylen;
    assert_int_equal(sscanf(key, "m{host=\"h%d\",k=\"%d\"}", &h, &k), 2);
    m->id[h][k] = id;
    return 0;
}

/* Every series of the store reads back as its model. */
static void
ms_check(ctx *c, model want[MS_HOSTS][MS_PER])
{
    pw_store_txn *t;
    ms_ids        ids = { 0 };

    assert_int_equal(pw_store_read_begin(c->s, &t), PW_OK);
    assert_int_equal(pw_store_series_scan(t, "m", ms_find, &ids), PW_OK);
    for (int h = 0; h < MS_HOSTS; h++) {
        for (int k = 0; k < MS_PER; k++) {
            model got = { 0 };

            assert_true(ids.id[h][k] != 0);
            assert_int_equal(pw_store_points(t, ids.id[h][k], INT64_MIN, INT64_MAX, collect_point,
                                             &got), PW_OK);
            assert_same(&want[h][k], &got, INT64_MIN, INT64_MAX);
            model_free(&got);
        }
    }
    pw_store_read_end(t);
}

/*
 * One txn: a frame per host with, for each of its series, the points of
 * steps [from, to), and per series k == extra_k one more point (ts, v).
 */
static void
ms_write(ctx *c, model want[MS_HOSTS][MS_PER], int from, int to, int extra_k, int64_t ets, double ev)
{
    static tf_frame t;
    static char     hosts[MS_HOSTS][8], kv[MS_PER][8];
    pw_store_txn   *txn;
    bool            dup;
    unsigned        seed = (unsigned) from;

    assert_int_equal(pw_store_write_begin(c->s, &txn), PW_OK);
    for (int h = 0; h < MS_HOSTS; h++) {
        snprintf(hosts[h], sizeof hosts[h], "h%d", h);
        tf_init(&t, hosts[h], 1, ++c->seq, hosts[h]);
        for (int k = 0; k < MS_PER; k++) {
            uint32_t sid;

            snprintf(kv[k], sizeof kv[k], "%d", k);
            sid = tf_series(&t, "m", "k", kv[k], NULL);
            for (int i = from; i < to; i++) {
                int64_t ts = T0 + (int64_t) i * 10000;
                double  v = gen_value((size_t) i, k % 3, &seed);

                tf_sample(&t, sid, ts, v);
                model_put(&want[h][k], ts, v);
            }
            if (k == extra_k) {
                tf_sample(&t, sid, ets, ev);
                model_put(&want[h][k], ets, ev);
            }
        }
        assert_int_equal(pw_store_write_frame(txn, &t.f, T0, &dup), PW_OK);
        assert_false(dup);
    }
    assert_int_equal(pw_store_write_commit(txn), PW_OK);
}

/* Records left in chunk_head (the store closed). */
static size_t
ms_head_records(const char *dir)
{
    MDB_env    *env;
    MDB_txn    *txn;
    MDB_dbi     dbi;
    MDB_cursor *cur;
    MDB_val     k, v;
    size_t      n = 0;

    peek_open(dir, "chunk_head", &env, &txn, &dbi);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
        n++;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

/*
 * 150 series of 3 hosts written a step at a time past their first seal,
 * with late points (sealed and open) and rewrites, then many steps in one
 * frame (runs that cross a seal), a reopen, and quiet series sealed by
 * maintenance: all read back as written, in both layouts of open chunks.
 */
static void
test_many_series(void **state)
{
    static model want[MS_HOSTS][MS_PER];

    (void) state;
    for (int f = 4; f <= 5; f++) {
        ctx c;

        memset(&c, 0, sizeof c);
        c.dir = tf_tmpdir();
        c.flags = f == 4 ? PW_STORE_FORMAT4 : 0;
        ctx_open(&c);
        memset(want, 0, sizeof want);
        for (int step = 0; step < 700; step++) {
            /* every 25 steps a late point: into sealed data, or into the open chunk */
            int     k = step % 25 == 24 ? (step / 25) % MS_PER : -1;
            int64_t late = step > 720 / 2 && step % 50 == 24 ? (step - 400) : (step - 3);

            ms_write(&c, want, step, step + 1, k, T0 + (late < 0 ? -late : late) * 10000 + 5000,
                     -(double) step);
            if (step % 100 == 99)           /* a rewrite of an existing time */
                ms_write(&c, want, step - 2, step - 1, -1, 0, 0);
        }
        ms_check(&c, want);
        ms_write(&c, want, 700, 760, 7, T0 + 10000 * 100, 1e6);  /* 60 steps: runs past the seal */
        ms_check(&c, want);
        pw_store_close(c.s);
        assert_int_equal(ms_head_records(c.dir), f == 5 ? 3 : MS_HOSTS * MS_PER);
        ctx_open(&c);
        ms_check(&c, want);
        /* a day later every open chunk is sealed by maintenance */
        maintain_all(&c, T0 + DAY, keep_all);
        ms_check(&c, want);
        pw_store_close(c.s);
        assert_int_equal(ms_head_records(c.dir), 0);
        ctx_open(&c);
        ms_write(&c, want, 8700, 8701, -1, 0, 0);             /* and new points after them */
        ms_check(&c, want);
        for (int h = 0; h < MS_HOSTS; h++)
            for (int k = 0; k < MS_PER; k++)
                model_free(&want[h][k]);
        ctx_done(&c);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_across_seals),
        cmocka_unit_test(test_out_of_order_and_duplicates),
        cmocka_unit_test(test_rollups_equal_recomputation),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_quiet_series_is_sealed_and_rolled_up),
        cmocka_unit_test(test_bytes_per_sample),
        cmocka_unit_test(test_packs),
        cmocka_unit_test(test_pack_fill),
        cmocka_unit_test(test_pack_pages),
        cmocka_unit_test(test_many_series),
        cmocka_unit_test(test_rollup_sum_is_decimal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
