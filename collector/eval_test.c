/*
 * eval_test.c - range evaluation against an in-memory source.
 *
 * Expected values come from Prometheus' own test data
 * (promql/promqltest/testdata/functions.test, Prometheus 3 semantics:
 * left-open windows) where noted, and each was derived again by hand in
 * the comment next to it; the rest are derived by hand as noted.
 * Data is loaded in Prometheus' "load" notation: `0+10x3` is 0 10 20 30,
 * `_` is a missing sample, the first sample is at t = 0.
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

#include "eval.h"
#include "test_fixture.h"

#define S(x) ((int64_t) (x) * 1000)
#define M(x) ((int64_t) (x) * 60000)
#define H(x) ((int64_t) (x) * 3600000)
#define D(x) ((int64_t) (x) * 86400000)

/* ---- an in-memory source --------------------------------------------------- */

#define MT_MAX_SERIES 16

typedef struct mt_series mt_series;
struct mt_series {
    char     key[256];
    size_t   n, cap;
    int64_t *ts;
    double  *v;
};

typedef struct mt_src mt_src;
struct mt_src {
    mt_series s[MT_MAX_SERIES];
    size_t    n;
    bool      rollups;      /* offer rollups (computed from the points) */
    int64_t   raw_since;    /* raw points before this are gone (retention) */
    pw_err    fail;         /* points and rollups fail with this when set */
    size_t    point_calls, rollup_calls;
};

static mt_series *
mt_find(mt_src *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->s[i].key, key) == 0)
            return &m->s[i];
    assert_true(m->n < MT_MAX_SERIES);
    snprintf(m->s[m->n].key, sizeof m->s[m->n].key, "%s", key);
    return &m->s[m->n++];
}

static void
mt_add(mt_src *m, const char *key, int64_t ts, double v)
{
    mt_series *s = mt_find(m, key);

    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->ts = realloc(s->ts, s->cap * sizeof *s->ts);
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        assert_non_null(s->ts);
        assert_non_null(s->v);
    }
    assert_true(s->n == 0 || s->ts[s->n - 1] < ts);
    s->ts[s->n] = ts;
    s->v[s->n] = v;
    s->n++;
}

/* Prometheus' load notation: "1 2 _ 4", "0+10x10", "5-1x3", "NaN", "-Inf". */
static void
mt_load(mt_src *m, const char *key, int64_t interval, const char *spec)
{
    const char *p = spec;
    int64_t     t = 0;

    (void) mt_find(m, key);
    while (*p != '\0') {
        char  *end;
        double a, b = 0;
        long   times = 0;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (*p == '_') {
            t += interval;
            p++;
            continue;
        }
        a = strtod(p, &end);
        assert_true(end != p);
        p = end;
        if ((*p == '+' || *p == '-') && p[1] != '\0') {
            b = strtod(p, &end);
            p = end;
        }
        if (*p == 'x') {
            times = strtol(p + 1, &end, 10);
            p = end;
        }
        for (long i = 0; i <= times; i++) {
            mt_add(m, key, t, a + (double) i * b);
            t += interval;
        }
    }
}

static void
mt_free(mt_src *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->s[i].ts);
        free(m->s[i].v);
    }
    free(m);
}

static mt_src *
mt_new(void)
{
    mt_src *m = calloc(1, sizeof *m);

    assert_non_null(m);
    m->raw_since = INT64_MIN;
    return m;
}

static pw_err
mt_series_op(void *ctx, const pw_selector *sel, pw_eval_series_cb cb, void *cbctx)
{
    mt_src *m = ctx;

    for (size_t i = 0; i < m->n; i++) {
        pw_series_view v;
        int            stop = 0;

        assert_int_equal(pw_series_key_parse(m->s[i].key, strlen(m->s[i].key), &v), PW_OK);
        if (pw_selector_match(sel, &v))
            stop = cb(cbctx, i, m->s[i].key, strlen(m->s[i].key), &v);
        pw_series_view_free(&v);
        if (stop)
            break;
    }
    return PW_OK;
}

static pw_err
mt_points_op(void *ctx, uint64_t h, int64_t from, int64_t to, pw_store_point_cb cb, void *cbctx)
{
    mt_src          *m = ctx;
    const mt_series *s = &m->s[h];

    m->point_calls++;
    if (m->fail != PW_OK)
        return m->fail;
    for (size_t i = 0; i < s->n; i++)
        if (s->ts[i] >= from && s->ts[i] <= to && s->ts[i] >= m->raw_since
            && cb(cbctx, s->ts[i], s->v[i]) != 0)
            break;
    return PW_OK;
}

static int64_t
mt_floor(int64_t t, int64_t w)
{
    /* start of the bucket (s, s + w] holding t, as the store's (rollup.h) */
    t--;
    return t >= 0 ? t / w * w : -((-t + w - 1) / w) * w;
}

/* Buckets as store.h defines them, computed from all points (rollups outlive raw). */
static pw_err
mt_rollups_op(void *ctx, uint64_t h, pw_res res, int64_t from, int64_t to, pw_store_rollup_cb cb,
              void *cbctx)
{
    static const int64_t width[] = { 0, M(5), H(1), D(1) };
    mt_src          *m = ctx;
    const mt_series *s = &m->s[h];
    int64_t          w = width[res];

    m->rollup_calls++;
    if (m->fail != PW_OK)
        return m->fail;
    assert_int_not_equal(res, PW_RES_RAW);
    for (size_t i = 0; i < s->n;) {
        pw_rollup b = { .start = mt_floor(s->ts[i], w), .min = INFINITY, .max = -INFINITY };

        for (; i < s->n && mt_floor(s->ts[i], w) == b.start; i++) {
            b.min = fmin(b.min, s->v[i]);
            b.max = fmax(b.max, s->v[i]);
            b.sum += s->v[i];
            b.last = s->v[i];
            b.last_ts = s->ts[i];
            b.count++;
        }
        if (b.start >= from && b.start <= to && cb(cbctx, &b) != 0)
            break;
    }
    return PW_OK;
}

static size_t
mt_last_error(void *ctx, char *buf, size_t len)
{
    (void) ctx;
    return (size_t) snprintf(buf, len, "the test source failed on purpose");
}

static const pw_eval_source_ops mt_ops_raw = { mt_series_op, mt_points_op, NULL, mt_last_error };
static const pw_eval_source_ops mt_ops_all = { mt_series_op, mt_points_op, mt_rollups_op,
                                               mt_last_error };

/* ---- a sink that writes text ------------------------------------------------ */

typedef struct mt_out mt_out;
struct mt_out {
    char   text[16384];
    size_t len;
    size_t nseries, npoints;
    double last;            /* the latest value written */
    char   metric[64];      /* the latest series' view metric */
    pw_err fail;            /* returned by series_begin when set */
};

static void mt_put(mt_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
mt_put(mt_out *o, const char *fmt, ...)
{
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(o->text + o->len, sizeof o->text - o->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t) n < sizeof o->text - o->len);
    o->len += (size_t) n;
}

static pw_err
mt_begin(void *ctx, const char *key, size_t keylen, const pw_series_view *v)
{
    mt_out *o = ctx;

    if (o->fail != PW_OK)
        return o->fail;
    assert_null(v->buf);
    snprintf(o->metric, sizeof o->metric, "%s", v->metric);
    mt_put(o, "%.*s", (int) keylen, key);
    o->nseries++;
    return PW_OK;
}

/* " <seconds>=<%g value>" per point. */
static pw_err
mt_point(void *ctx, int64_t ts, double v)
{
    mt_out *o = ctx;

    if (ts % 1000 == 0)
        mt_put(o, " %lld=%g", (long long) (ts / 1000), v);
    else
        mt_put(o, " %lldms=%g", (long long) ts, v);
    o->last = v;
    o->npoints++;
    return PW_OK;
}

static pw_err
mt_end(void *ctx)
{
    mt_put(ctx, "\n");
    return PW_OK;
}

static const pw_query_sink mt_sink = { mt_begin, mt_point, mt_end };

/* Evaluates q over [start, end] every step with base's other options (may be NULL). */
static pw_err
mt_run(mt_src *m, const char *q, int64_t start, int64_t end, int64_t step, const pw_eval_opts *base,
       mt_out *o, pw_eval_stats *st, char *msg, size_t msglen)
{
    pw_eval_opts   opt = { 0 };
    pw_eval_source src = { m->rollups ? &mt_ops_all : &mt_ops_raw, m };
    pw_expr       *e;
    char           perr[256];
    pw_err         rc;

    if (base != NULL)
        opt = *base;
    opt.start = start;
    opt.end = end;
    opt.step = step;
    if (opt.now == 0)
        opt.now = end;
    if (pw_expr_parse(q, &e, NULL, perr, sizeof perr) != PW_OK)
        fail_msg("parse `%s`: %s", q, perr);
    memset(o, 0, sizeof *o);
    rc = pw_eval_range(e, &opt, &src, &mt_sink, o, st, msg, msglen);
    pw_expr_free(e);
    return rc;
}

static void
mt_expect_opts(mt_src *m, const char *q, int64_t start, int64_t end, int64_t step,
               const pw_eval_opts *base, const char *want)
{
    mt_out *o = malloc(sizeof *o);
    char    msg[512] = "";
    pw_err  rc = mt_run(m, q, start, end, step, base, o, NULL, msg, sizeof msg);

    if (rc != PW_OK)
        fail_msg("`%s`: %s (%s)", q, pw_strerror(rc), msg);
    if (strcmp(o->text, want) != 0)
        fail_msg("`%s` [%lld, %lld] step %lld:\n--- got\n%s--- want\n%s", q, (long long) start,
            (long long) end, (long long) step, o->text, want);
    free(o);
}

static void
mt_expect(mt_src *m, const char *q, int64_t start, int64_t end, int64_t step, const char *want)
{
    mt_expect_opts(m, q, start, end, step, NULL, want);
}

/* An instant query at t. */
static void
mt_instant(mt_src *m, const char *q, int64_t t, const char *want)
{
    mt_expect(m, q, t, t, 0, want);
}

/* The single value of an instant query at t, compared to want within a relative 1e-12. */
static void
mt_value(mt_src *m, const char *q, int64_t t, const pw_eval_opts *base, double want)
{
    mt_out *o = malloc(sizeof *o);
    char    msg[512] = "";

    if (mt_run(m, q, t, t, 0, base, o, NULL, msg, sizeof msg) != PW_OK)
        fail_msg("`%s`: %s", q, msg);
    if (o->npoints != 1)
        fail_msg("`%s`: %zu points, want 1:\n%s", q, o->npoints, o->text);
    if (!(fabs(o->last - want) <= 1e-12 * fabs(want)) && !(isnan(want) && isnan(o->last)))
        fail_msg("`%s` at %lld: %.17g, want %.17g", q, (long long) t, o->last, want);
    free(o);
}

static void
mt_error(mt_src *m, const char *q, int64_t start, int64_t end, int64_t step,
         const pw_eval_opts *base, pw_err want, const char *msgpart)
{
    mt_out *o = malloc(sizeof *o);
    char    msg[512] = "";
    pw_err  rc = mt_run(m, q, start, end, step, base, o, NULL, msg, sizeof msg);

    if (rc != want)
        fail_msg("`%s`: %s, want %s (%s)", q, pw_strerror(rc), pw_strerror(want), msg);
    if (strstr(msg, msgpart) == NULL)
        fail_msg("`%s`: message \"%s\" lacks \"%s\"", q, msg, msgpart);
    free(o);
}

/* ---- rate, increase, irate, delta -------------------------------------------- */

static void
test_increase(void **state)
{
    mt_src *m = mt_new();

    (void) state;
    mt_load(m, "http_requests_total{path=\"/foo\"}", M(5), "0+10x10");
    mt_load(m, "http_requests_total{path=\"/bar\"}", M(5), "0+18x5 0+18x5");
    mt_load(m, "http_requests_total{path=\"/dings\"}", M(5), "10+10x10");
    mt_load(m, "http_requests_total{path=\"/bumms\"}", M(5), "1+10x10");
    /*
     * functions.test: increase(http_requests_total[50m]) at 50m.
     * Window (0, 50m]: 10 samples 5m..50m, sampled 2700 s, average interval
     * 300 s, threshold 330 s. /foo: 100 - 10 = 90; 300 s to the start (<
     * 330: full extrapolation; zero point 2700 * 10/90 = 300 s, not
     * shorter), 0 s to the end: 90 * 3000/2700 = 100. /bar: 90 - 18 + 90
     * (reset at 30m) = ... the window holds 18..90 then 0..72: 72 - 18 + 90
     * = 144, zero point 2700 * 18/144 = 337.5 s > 300: 144 * 3000/2700 =
     * 160. /dings: 110 - 20 = 90 -> 100. /bumms: 101 - 11 = 90 -> 100.
     */
    mt_instant(m, "increase(http_requests_total[50m])", M(50),
        "{path=\"/bar\"} 3000=160\n{path=\"/bumms\"} 3000=100\n{path=\"/dings\"} 3000=100\n"
        "{path=\"/foo\"} 3000=100\n");
    /*
     * increase(...[100m]) at 50m: all 11 samples from t = 0, 3000 s to the
     * start (>= 330: only half an interval, 150 s), then the zero point:
     * /foo starts at 0 (zero point 0 s): 100. /bar: 72 - 0 + 90 = 162.
     * /dings: 100, zero point 3000 * 10/100 = 300 s > 150: 100 * 3150/3000
     * = 105. /bumms: zero point 3000 * 1/100 = 30 s: 100 * 3030/3000 = 101.
     */
    mt_instant(m, "increase(http_requests_total[100m])", M(50),
        "{path=\"/bar\"} 3000=162\n{path=\"/bumms\"} 3000=101\n{path=\"/dings\"} 3000=105\n"
        "{path=\"/foo\"} 3000=100\n");
    mt_free(m);

    /*
     * functions.test: 0 1 2 3 2 3 4, increase([30m]) at 30m is 7. Window
     * (0, 30m]: 1 2 3 2 3 4: 4 - 1 + 3 (reset 3 -> 2) = 6; sampled 1500 s,
     * average 300; zero point 1500 * 1/6 = 250 s < 300: 6 * 1750/1500 = 7.
     */
    m = mt_new();
    mt_load(m, "http_requests_total{path=\"/foo\"}", M(5), "0 1 2 3 2 3 4");
    mt_instant(m, "increase(http_requests_total[30m])", M(30), "{path=\"/foo\"} 1800=7\n");
    mt_free(m);
}

static void
test_rate(void **state)
{
    mt_src *m = mt_new();

    (void) state;
    mt_load(m, "testcounter_reset_middle_total", M(5), "0+27x4 0+27x5");
    mt_load(m, "testcounter_reset_end_total", M(5), "0+10x9 0 10");
    mt_load(m, "calculate_rate_window_total", M(5), "0+80x10");
    /*
     * functions.test: 0.08. Window (0, 50m]: 27..108, 0..135: 135 - 27 +
     * 108 = 216; zero point 2700 * 27/216 = 337.5 > 300: 216 * 3000/2700 /
     * 3000 s = 0.08.
     */
    mt_value(m, "rate(testcounter_reset_middle_total[50m])", M(50), NULL, 0.08);
    /* A reset at the end: [5m] holds one sample (no value), [6m] 90 then 0: 0. */
    mt_instant(m, "rate(testcounter_reset_end_total[5m])", M(50), "");
    mt_instant(m, "rate(testcounter_reset_end_total[6m])", M(50), "{} 3000=0\n");
    /* 800 - 80 = 720, zero point 2700 * 80/720 = 300 (not shorter): 720 / 2700 s. */
    mt_value(m, "rate(calculate_rate_window_total[50m])", M(50), NULL, 0.26666666666666666);
    mt_free(m);

    /*
     * functions.test, zero cutoff: samples every 4m from t = 0, rate([20m])
     * at 10m sees 0, 4m, 8m: increase 480 over 480 s, 600 s to the start
     * (>= 264: half an interval, 120 s), 120 s to the end (< 264: full).
     * start="0m" (first 0): zero point 0 s: (480 + 0 + 120)/480 * 480/1200
     * = 0.5; "1m" (first 60): zero point 60 s: 660/1200 = 0.55; "2m" and
     * later: zero point >= 120 s: 720/1200 = 0.6. At 50m every one is 0.6.
     */
    m = mt_new();
    mt_load(m, "testcounter_zero_cutoff_total{start=\"0m\"}", M(4), "0+240x10");
    mt_load(m, "testcounter_zero_cutoff_total{start=\"1m\"}", M(4), "60+240x10");
    mt_load(m, "testcounter_zero_cutoff_total{start=\"2m\"}", M(4), "120+240x10");
    mt_load(m, "testcounter_zero_cutoff_total{start=\"5m\"}", M(4), "300+240x10");
    mt_instant(m, "rate(testcounter_zero_cutoff_total[20m])", M(10),
        "{start=\"0m\"} 600=0.5\n{start=\"1m\"} 600=0.55\n{start=\"2m\"} 600=0.6\n"
        "{start=\"5m\"} 600=0.6\n");
    mt_instant(m, "rate(testcounter_zero_cutoff_total[20m])", M(50),
        "{start=\"0m\"} 3000=0.6\n{start=\"1m\"} 3000=0.6\n{start=\"2m\"} 3000=0.6\n"
        "{start=\"5m\"} 3000=0.6\n");
    mt_free(m);
}

static void
test_irate_delta(void **state)
{
    mt_src *m = mt_new();

    (void) state;
    mt_load(m, "http_requests_total{path=\"/foo\"}", M(5), "0+10x10");
    mt_load(m, "http_requests_total{path=\"/bar\"}", M(5), "0+10x5 0+10x5");
    mt_load(m, "http_requests_nan", M(5), "1 NaN NaN 5 11");
    /*
     * functions.test: the last two samples, 10 apart over 300 s; /bar at 30m:
     * 50 -> 0 is a reset, so its increase is the new value: 0/300.
     */
    mt_instant(m, "irate(http_requests_total[50m])", M(50),
        "{path=\"/bar\"} 3000=0.0333333\n{path=\"/foo\"} 3000=0.0333333\n");
    mt_instant(m, "irate(http_requests_total[50m])", M(30),
        "{path=\"/bar\"} 1800=0\n{path=\"/foo\"} 1800=0.0333333\n");
    /* functions.test: range 0..20m step 5m: nothing (one sample), NaN, NaN, NaN, 6/300. */
    mt_expect(m, "irate(http_requests_nan[15m1s])", 0, M(20), M(5),
        "{} 300=nan 600=nan 900=nan 1200=0.02\n");
    mt_free(m);

    /*
     * functions.test: delta([20m]) at 20m: window (0, 20m] holds 50..200:
     * 150 over 900 s, 300 s to the start extrapolated: 150 * 1200/900 =
     * 200; no zero-point rule for gauges, so /bar goes to -200.
     */
    m = mt_new();
    mt_load(m, "http_requests{path=\"/foo\"}", M(5), "0 50 100 150 200");
    mt_load(m, "http_requests{path=\"/bar\"}", M(5), "200 150 100 50 0");
    mt_instant(m, "delta(http_requests[20m])", M(20),
        "{path=\"/bar\"} 1200=-200\n{path=\"/foo\"} 1200=200\n");
    mt_free(m);
}

/* ---- *_over_time ---------------------------------------------------------------- */

static void
test_over_time(void **state)
{
    mt_src      *m = mt_new();
    pw_eval_opts o = { 0 };

    (void) state;
    mt_load(m, "metric", S(10), "1 2 3 4 5");
    mt_load(m, "metric8", S(10), "9.988465674311579e+307 9.988465674311579e+307");
    mt_load(m, "metric10", S(10), "-9.988465674311579e+307 9.988465674311579e+307");
    mt_load(m, "metric11", S(10), "1 2 3 NaN NaN");
    mt_load(m, "nanfirst", S(10), "NaN 3 1 2");
    /* functions.test: nothing in (45 s, 55 s]; 5 alone in (35 s, 55 s]; all in (-5 s, 55 s]. */
    mt_instant(m, "avg_over_time(metric[10s])", S(55), "");
    mt_instant(m, "avg_over_time(metric[20s])", S(55), "{} 55=5\n");
    mt_instant(m, "avg_over_time(metric[1m])", S(55), "{} 55=3\n");
    mt_instant(m, "sum_over_time(metric[1m]) / count_over_time(metric[1m])", S(55), "{} 55=3\n");
    /* Left-open: (0, 40 s] leaves out the sample at 0; the sample at t itself is in. */
    mt_instant(m, "count_over_time(metric[40s])", S(40), "{} 40=4\n");
    mt_instant(m, "sum_over_time(metric[40s])", S(40), "{} 40=14\n");
    mt_instant(m, "min_over_time(metric[40s])", S(40), "{} 40=2\n");
    mt_instant(m, "max_over_time(metric[40s])", S(40), "{} 40=5\n");
    /* last_over_time keeps the metric name; the others drop it. */
    mt_instant(m, "last_over_time(metric[10s])", S(40), "metric 40=5\n");
    mt_instant(m, "last_over_time(metric[10s])", S(45), "metric 45=5\n");
    mt_instant(m, "last_over_time(metric[10s])", S(50), "");
    /* functions.test: the sum overflows, the mean does not (incremental mean). */
    mt_value(m, "avg_over_time(metric8[1m])", S(55), NULL, 9.988465674311579e+307);
    mt_instant(m, "sum_over_time(metric8[1m]) / count_over_time(metric8[1m])", S(55),
        "{} 55=inf\n");
    mt_instant(m, "avg_over_time(metric10[1m])", S(55), "{} 55=0\n");
    mt_instant(m, "avg_over_time(metric11[1m])", S(20), "{} 20=2\n");
    mt_instant(m, "avg_over_time(metric11[1m])", S(30), "{} 30=nan\n");
    /* min/max skip a NaN unless every value is NaN (Prometheus' compareOverTime). */
    mt_instant(m, "min_over_time(nanfirst[1m])", S(30), "{} 30=1\n");
    mt_instant(m, "max_over_time(nanfirst[1m])", S(30), "{} 30=3\n");
    mt_instant(m, "min_over_time(nanfirst[5s])", S(0), "{} 0=nan\n");
    /* A range query slides the window: (t - 20 s, t] at 0, 10, ..., 60 s. */
    mt_expect(m, "sum_over_time(metric[20s])", 0, S(60), S(10),
        "{} 0=1 10=3 20=5 30=7 40=9 50=5\n");
    /* Windows far apart are read one by one: same values. */
    mt_expect(m, "sum_over_time(metric[10s])", 0, S(60), S(30), "{} 0=1 30=4\n");
    /* The lookback option changes instant selectors only. */
    o.lookback = S(15);
    mt_expect_opts(m, "metric", S(40), S(70), S(10), &o, "metric 40=5 50=5\n");
    mt_free(m);
}

static void
test_quantile(void **state)
{
    mt_src *m = mt_new();

    (void) state;
    mt_load(m, "data{test=\"two samples\"}", S(10), "0 1");
    mt_load(m, "data{test=\"three samples\"}", S(10), "0 1 2");
    mt_load(m, "data{test=\"uneven samples\"}", S(10), "0 1 4");
    /*
     * functions.test, rank = q (n - 1) interpolated: for 0 1 4 and q = 0.75,
     * rank 1.5: 1 * 0.5 + 4 * 0.5 = 2.5; q = 0.8: rank 1.6: 1 * 0.4 + 4 *
     * 0.6 = 2.8. q < 0 is -Inf, q > 1 +Inf.
     */
    static const struct { const char *q; const char *want; } cases[] = {
        { "0", "0 0 0" }, { "0.5", "0.5 1 1" }, { "0.75", "0.75 1.5 2.5" },
        { "0.8", "0.8 1.6 2.8" }, { "1", "1 2 4" }, { "-1", "-inf -inf -inf" },
        { "2", "inf inf inf" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char   q[128], want[256];
        double a, b, c;
        char   sa[16], sb[16], sc[16];

        snprintf(q, sizeof q, "quantile_over_time(%s, data[2m])", cases[i].q);
        assert_int_equal(sscanf(cases[i].want, "%15s %15s %15s", sa, sb, sc), 3);
        a = strtod(sa, NULL);
        b = strtod(sb, NULL);
        c = strtod(sc, NULL);
        /* Keys sort: "three" < "two" < "uneven". */
        snprintf(want, sizeof want, "{test=\"three samples\"} 60=%g\n{test=\"two samples\"} 60=%g\n"
            "{test=\"uneven samples\"} 60=%g\n", b, a, c);
        mt_instant(m, q, M(1), want);
    }
    mt_instant(m, "quantile_over_time(NaN, data{test=\"two samples\"}[2m])", M(1),
        "{test=\"two samples\"} 60=nan\n");
    mt_free(m);
}

/* ---- instant selectors: lookback, staleness, gaps -------------------------------- */

static void
test_lookback(void **state)
{
    mt_src *m = mt_new();

    (void) state;
    /* Points at 0, 1m and 8m; the lookback (t - 5m, t] is left-open. */
    mt_load(m, "up{job=\"a\"}", M(1), "1 2 _ _ _ _ _ _ 9");
    mt_expect(m, "up", 0, M(10), M(1),
        "up{job=\"a\"} 0=1 60=2 120=2 180=2 240=2 300=2 480=9 540=9 600=9\n");
    /* Before the first point: nothing; the lookback never looks forward. */
    mt_expect(m, "up", -M(2), 0, M(1), "up{job=\"a\"} 0=1\n");
    /* No series matches: an empty result, not an error. */
    mt_expect(m, "down", 0, M(10), M(1), "");
    /* Steps that do not divide the range: the last time is <= end. */
    mt_expect(m, "up", 0, M(10), M(4), "up{job=\"a\"} 0=1 240=2 480=9\n");
    mt_free(m);
}

/* ---- aggregations ------------------------------------------------------------- */

static void
test_aggregations(void **state)
{
    mt_src *m = mt_new();

    (void) state;
    mt_load(m, "cpu{host=\"a\",mode=\"idle\"}", M(1), "1 2 3");
    mt_load(m, "cpu{host=\"a\",mode=\"user\"}", M(1), "10 20 30");
    mt_load(m, "cpu{host=\"b\",mode=\"idle\"}", M(1), "100 200");
    /* At 2m host b still shows 200 through the lookback. */
    mt_expect(m, "sum by (host) (cpu)", 0, M(2), M(1),
        "{host=\"a\"} 0=11 60=22 120=33\n{host=\"b\"} 0=100 60=200 120=200\n");
    mt_expect(m, "sum(cpu) by (host)", 0, M(2), M(1),
        "{host=\"a\"} 0=11 60=22 120=33\n{host=\"b\"} 0=100 60=200 120=200\n");
    mt_expect(m, "sum without (mode) (cpu)", 0, M(2), M(1),
        "{host=\"a\"} 0=11 60=22 120=33\n{host=\"b\"} 0=100 60=200 120=200\n");
    mt_expect(m, "sum without (host, mode) (cpu)", 0, M(2), M(1), "{} 0=111 60=222 120=233\n");
    mt_expect(m, "sum(cpu)", 0, M(2), M(1), "{} 0=111 60=222 120=233\n");
    mt_expect(m, "sum by (nosuch) (cpu)", 0, M(2), M(1), "{} 0=111 60=222 120=233\n");
    /* by (__name__) keeps the name. */
    mt_expect(m, "sum by (__name__) (cpu)", 0, M(2), M(1), "cpu 0=111 60=222 120=233\n");
    mt_expect(m, "avg by (mode) (cpu)", 0, M(2), M(1),
        "{mode=\"idle\"} 0=50.5 60=101 120=101.5\n{mode=\"user\"} 0=10 60=20 120=30\n");
    mt_expect(m, "count by (host) (cpu)", 0, M(2), M(1),
        "{host=\"a\"} 0=2 60=2 120=2\n{host=\"b\"} 0=1 60=1 120=1\n");
    mt_expect(m, "min(cpu)", 0, M(2), M(1), "{} 0=1 60=2 120=3\n");
    mt_expect(m, "max(cpu)", 0, M(2), M(1), "{} 0=100 60=200 120=200\n");
    /* Aggregating an aggregation, and arithmetic on it. */
    mt_expect(m, "max(sum by (host) (cpu)) - min(cpu)", 0, M(2), M(1), "{} 0=99 60=198 120=197\n");
    mt_expect(m, "count(count by (host) (cpu))", 0, 0, 0, "{} 0=2\n");
    mt_free(m);
}

static void
test_topk(void **state)
{
    mt_src *m = mt_new();

    (void) state;
    mt_load(m, "x{s=\"1\"}", M(1), "1 5 1");
    mt_load(m, "x{s=\"2\"}", M(1), "3 2 2");
    mt_load(m, "x{g=\"b\",s=\"3\"}", M(1), "NaN NaN NaN");
    /* The winners change over time; labels (and the name) are the input's. */
    mt_expect(m, "topk(1, x)", 0, M(2), M(1), "x{s=\"1\"} 60=5\nx{s=\"2\"} 0=3 120=2\n");
    mt_expect(m, "bottomk(1, x)", 0, M(2), M(1), "x{s=\"1\"} 0=1 120=1\nx{s=\"2\"} 60=2\n");
    /* NaN never beats a number, for either; with room for it, it comes too. */
    mt_expect(m, "topk(2.9, x)", 0, 0, 0, "x{s=\"1\"} 0=1\nx{s=\"2\"} 0=3\n");
    mt_expect(m, "bottomk(5, x)", 0, 0, 0,
        "x{g=\"b\",s=\"3\"} 0=nan\nx{s=\"1\"} 0=1\nx{s=\"2\"} 0=3\n");
    mt_expect(m, "topk(0, x)", 0, M(2), M(1), "");
    /* Per group: g="b" is its own group with only NaN. */
    mt_expect(m, "topk by (g) (1, x)", 0, 0, 0, "x{g=\"b\",s=\"3\"} 0=nan\nx{s=\"2\"} 0=3\n");
    mt_error(m, "topk(NaN, x)", 0, 0, 0, NULL, PW_EINVAL, "Parameter value is NaN");
    mt_error(m, "topk(1e300, x)", 0, 0, 0, NULL, PW_EINVAL, "overflows int64");
    mt_free(m);
}

/* ---- arithmetic ----------------------------------------------------------------- */

static void
test_binary(void **state)
{
    mt_src *m = mt_new();

    (void) state;
    mt_load(m, "a{h=\"1\"}", M(1), "10 20");
    mt_load(m, "a{h=\"3\"}", M(1), "7 7");
    mt_load(m, "b{h=\"1\"}", M(1), "2 4");
    mt_load(m, "b{h=\"2\"}", M(1), "1 1");
    mt_load(m, "c{h=\"1\"}", M(1), "_ 8");
    mt_load(m, "up", M(1), "1 0.5");
    mt_expect(m, "a * 2", 0, M(1), M(1), "{h=\"1\"} 0=20 60=40\n{h=\"3\"} 0=14 60=14\n");
    mt_expect(m, "100 * (1 - up)", 0, M(1), M(1), "{} 0=0 60=50\n");
    mt_expect(m, "1 / (up - 1)", 0, M(1), M(1), "{} 0=inf 60=-2\n");
    mt_expect(m, "-a", 0, 0, 0, "{h=\"1\"} 0=-10\n{h=\"3\"} 0=-7\n");
    mt_expect(m, "a % 3", 0, 0, 0, "{h=\"1\"} 0=1\n{h=\"3\"} 0=1\n");
    /* One-to-one on all labels but the name; unmatched series drop out. */
    mt_expect(m, "a / b", 0, M(1), M(1), "{h=\"1\"} 0=5 60=5\n");
    mt_expect(m, "a - a", 0, M(1), M(1), "{h=\"1\"} 0=0 60=0\n{h=\"3\"} 0=0 60=0\n");
    /* Only steps where both sides have a value: c{h="1"} starts at 1m. */
    mt_expect(m, "a + c", 0, M(1), M(1), "{h=\"1\"} 60=28\n");
    mt_expect(m, "sum(a) / count(a)", 0, 0, 0, "{} 0=8.5\n");
    /* A scalar result is one label-less series at every step. */
    mt_expect(m, "1 + 2", 0, M(2), M(1), "{} 0=3 60=3 120=3\n");
    /*
     * Prometheus' errors: two right-side series with one signature at the
     * same step (b and c at 1m); two left-side ones matching one right one.
     */
    mt_error(m, "a / {__name__=~\"b|c\"}", 0, M(1), M(1), NULL, PW_EINVAL,
        "found duplicate series for the match group {h=\"1\"} on the right hand-side");
    mt_error(m, "{__name__=~\"b|c\"} / a", 0, M(1), M(1), NULL, PW_EINVAL,
        "multiple matches for labels: many-to-one matching must be explicit");
    /* Not at the same step: no conflict (b and c overlap only at 1m). */
    mt_expect(m, "a / {__name__=~\"b|c\"}", 0, 0, 0, "{h=\"1\"} 0=5\n");
    mt_free(m);
}

static void
test_labelsets(void **state)
{
    mt_src *m = mt_new();

    (void) state;
    mt_load(m, "p{h=\"1\"}", M(1), "1 2");
    mt_load(m, "q{h=\"1\"}", M(1), "_ _ _ _ _ _ _ _ _ _ 5 6");
    mt_load(m, "r{h=\"1\"}", M(1), "7 8");
    /* p and q lose their names: one labelset; they never overlap, so they merge. */
    mt_expect(m, "-{__name__=~\"p|q\"}", 0, M(11), M(1),
        "{h=\"1\"} 0=-1 60=-2 120=-2 180=-2 240=-2 300=-2 600=-5 660=-6\n");
    /* p and r overlap: Prometheus' error. */
    mt_error(m, "rate({__name__=~\"p|r\"}[5m])", 0, M(1), M(1), NULL, PW_EINVAL,
        "vector cannot contain metrics with the same labelset");
    mt_error(m, "{__name__=~\"p|r\"} * 1", 0, M(1), M(1), NULL, PW_EINVAL,
        "vector cannot contain metrics with the same labelset");
    /* Keeping names keeps them apart. */
    mt_expect(m, "{__name__=~\"p|r\"}", 0, 0, 0, "p{h=\"1\"} 0=1\nr{h=\"1\"} 0=7\n");
    mt_free(m);
}

/* ---- errors and limits -------------------------------------------------------- */

static void
test_errors_and_limits(void **state)
{
    mt_src        *m = mt_new();
    pw_eval_opts   o = { 0 };
    mt_out        *out = malloc(sizeof *out);
    pw_eval_stats  st;
    char           msg[256];

    (void) state;
    mt_load(m, "cpu{host=\"a\",mode=\"idle\"}", M(1), "1 2 3");
    mt_load(m, "cpu{host=\"a\",mode=\"user\"}", M(1), "10 20 30");
    mt_load(m, "cpu{host=\"b\",mode=\"idle\"}", M(1), "100 200");
    mt_error(m, "cpu[5m]", 0, M(1), M(1), NULL, PW_EINVAL,
        "invalid expression type \"range vector\" for range query");
    mt_error(m, "cpu", M(2), M(1), M(1), NULL, PW_EINVAL, "starts after it ends");
    mt_error(m, "cpu", 0, M(1), 0, NULL, PW_EINVAL, "step must be positive");
    o.force_res = true;
    o.res = PW_RES_5M;
    mt_error(m, "cpu", 0, M(1), M(1), &o, PW_EINVAL, "no rollups");
    o.res = (pw_res) 7;
    mt_error(m, "cpu", 0, M(1), M(1), &o, PW_EINVAL, "unknown resolution");
    memset(&o, 0, sizeof o);

    /* Steps: 11000 is the most (as Prometheus), unless set. */
    mt_error(m, "cpu", 0, M(11000), M(1), NULL, PW_ETOOBIG, "exceeded maximum resolution of 11000");
    mt_expect(m, "count(cpu)", 0, M(10999), M(100000), "{} 0=3\n");
    o.max_steps = 2;
    mt_error(m, "cpu", 0, M(2), M(1), &o, PW_ETOOBIG, "maximum resolution of 2 points");
    memset(&o, 0, sizeof o);
    /* Series read. */
    o.max_series = 2;
    mt_error(m, "cpu", 0, M(2), M(1), &o, PW_ETOOBIG, "reads more than 2 series");
    o.max_series = 3;
    mt_expect_opts(m, "count(cpu)", 0, 0, 0, &o, "{} 0=3\n");
    memset(&o, 0, sizeof o);
    /* Points held: 3 series x 3 steps for the result, plus the one being read. */
    o.max_points = 8;
    mt_error(m, "cpu", 0, M(2), M(1), &o, PW_ETOOBIG, "more than 8 points in memory");
    /*
     * An aggregation holds its groups, not its inputs: sum() needs its sums
     * and their Kahan compensations (3 + 3) and the series being read (3).
     */
    o.max_points = 9;
    mt_expect_opts(m, "sum(cpu)", 0, M(2), M(1), &o, "{} 0=111 60=222 120=233\n");
    memset(&o, 0, sizeof o);
    /* Samples in one window. */
    o.max_window = 2;
    mt_error(m, "sum_over_time(cpu[10m])", M(2), M(2), 0, &o, PW_ETOOBIG,
        "more than 2 samples in one window");
    mt_expect_opts(m, "sum_over_time(cpu[90s])", M(2), M(2), 0, &o,
        "{host=\"a\",mode=\"idle\"} 120=5\n{host=\"a\",mode=\"user\"} 120=50\n"
        "{host=\"b\",mode=\"idle\"} 120=200\n");
    memset(&o, 0, sizeof o);

    /* The source's failure and its sentence. */
    m->fail = PW_EIO;
    mt_error(m, "cpu", 0, M(1), M(1), NULL, PW_EIO, "reading data: the test source failed");
    assert_int_equal(mt_run(m, "cpu", 0, M(1), M(1), NULL, out, &st, msg, sizeof msg), PW_EIO);
    assert_true(st.source_failed);
    m->fail = PW_OK;
    assert_int_equal(mt_run(m, "cpu[1m]", 0, M(1), M(1), NULL, out, &st, msg, sizeof msg),
        PW_EINVAL);
    assert_false(st.source_failed);
    /* The sink's code comes back as is. */
    {
        pw_eval_source src = { &mt_ops_raw, m };
        pw_expr       *e;
        pw_eval_opts   oo = { .start = 0, .end = M(1), .step = M(1), .now = M(1) };

        assert_int_equal(pw_expr_parse("cpu", &e, NULL, NULL, 0), PW_OK);
        memset(out, 0, sizeof *out);
        out->fail = PW_EIO;
        assert_int_equal(pw_eval_range(e, &oo, &src, &mt_sink, out, &st, msg, sizeof msg),
            PW_EIO);
        /* NULL stats and errbuf are fine. */
        out->fail = PW_OK;
        assert_int_equal(pw_eval_range(e, &oo, &src, &mt_sink, out, NULL, NULL, 0), PW_OK);
        pw_expr_free(e);
    }
    /* Stats. */
    assert_int_equal(mt_run(m, "sum(cpu) + max(cpu)", 0, M(2), M(1), NULL, out, &st, msg,
        sizeof msg), PW_OK);
    assert_int_equal(st.series, 6);
    assert_int_equal(st.samples, 16);
    assert_int_equal(st.res_used, 1u << PW_RES_RAW);
    assert_int_equal(st.out_series, 1);
    free(out);
    mt_free(m);
}

/* ---- resolution ------------------------------------------------------------------ */

static void
test_pick_res(void **state)
{
    const int64_t now = D(1000);
    static const struct {
        pw_eval_use use;
        int64_t     step, range, age;   /* age: now - oldest */
        pw_res      want;
    } cases[] = {
        /* latest: the coarsest width <= step */
        { PW_EVAL_USE_LATEST, M(1), M(5), H(1), PW_RES_RAW },
        { PW_EVAL_USE_LATEST, M(5), M(5), H(1), PW_RES_5M },
        { PW_EVAL_USE_LATEST, M(30), M(5), H(1), PW_RES_5M },
        { PW_EVAL_USE_LATEST, H(1), M(5), H(1), PW_RES_1H },
        { PW_EVAL_USE_LATEST, D(7), M(5), H(1), PW_RES_1D },
        { PW_EVAL_USE_LATEST, 0, M(5), H(1), PW_RES_RAW },     /* an instant query */
        /* over_time: also width <= range, range a multiple of it */
        { PW_EVAL_USE_OVER_TIME, H(1), H(1), H(2), PW_RES_1H },
        { PW_EVAL_USE_OVER_TIME, H(1), M(90), H(2), PW_RES_5M },
        { PW_EVAL_USE_OVER_TIME, H(1), M(1), H(2), PW_RES_RAW },
        { PW_EVAL_USE_OVER_TIME, M(1), D(1), D(2), PW_RES_RAW },
        { PW_EVAL_USE_OVER_TIME, D(1), D(30), D(31), PW_RES_1D },
        /* counter: range >= 4 widths */
        { PW_EVAL_USE_COUNTER, H(1), H(1), H(2), PW_RES_5M },
        { PW_EVAL_USE_COUNTER, H(1), H(4), H(5), PW_RES_1H },
        { PW_EVAL_USE_COUNTER, H(1), M(5), H(2), PW_RES_RAW },
        { PW_EVAL_USE_COUNTER, M(1), D(1), D(2), PW_RES_RAW },
        /* irate: raw while there is raw */
        { PW_EVAL_USE_IRATE, D(1), M(5), D(1), PW_RES_RAW },
        { PW_EVAL_USE_IRATE, D(1), M(5), D(40), PW_RES_5M },
        /* quantile: raw up to 1h windows, then averages with <= 10000 buckets */
        { PW_EVAL_USE_QUANTILE, M(1), H(1), H(2), PW_RES_RAW },
        { PW_EVAL_USE_QUANTILE, D(30), H(2), H(3), PW_RES_5M },
        { PW_EVAL_USE_QUANTILE, D(30), D(30), D(31), PW_RES_5M },    /* monthly p95 */
        { PW_EVAL_USE_QUANTILE, D(30), D(35), D(36), PW_RES_1H },
        { PW_EVAL_USE_QUANTILE, D(365), D(365), D(366), PW_RES_1H }, /* yearly p95 */
        { PW_EVAL_USE_QUANTILE, D(1), D(1826), D(1826), PW_RES_1D },
        { PW_EVAL_USE_QUANTILE, M(1), M(30), D(100), PW_RES_5M },    /* raw is gone */
        /* older than raw retention (35 d): the finest rollup that has it */
        { PW_EVAL_USE_LATEST, M(1), M(5), D(35), PW_RES_RAW },
        { PW_EVAL_USE_LATEST, M(1), M(5), D(35) + 1, PW_RES_5M },
        { PW_EVAL_USE_OVER_TIME, M(1), M(1), D(40), PW_RES_5M },
        { PW_EVAL_USE_LATEST, M(1), M(5), D(400), PW_RES_1H },
        { PW_EVAL_USE_LATEST, D(1), M(5), D(400), PW_RES_1D },       /* step still decides */
        { PW_EVAL_USE_LATEST, M(1), M(5), D(4000), PW_RES_1D },      /* nothing has it */
        /* the step prefers a rollup that does not have the range: the next one that does */
        { PW_EVAL_USE_LATEST, M(5), M(5), D(400), PW_RES_1H },
    };
    int64_t custom[PW_RES_COUNT_] = { D(1), 0, 0, 0 };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pw_res got = pw_eval_pick_res(cases[i].use, cases[i].step, cases[i].range,
            now - cases[i].age, now, NULL);

        if (got != cases[i].want)
            fail_msg("case %zu: got res %d, want %d", i, (int) got, (int) cases[i].want);
    }
    /* Retention can be set per resolution (0 = default). */
    assert_int_equal(pw_eval_pick_res(PW_EVAL_USE_LATEST, M(1), M(5), now - D(2), now, custom),
        PW_RES_5M);
    assert_int_equal(pw_eval_pick_res(PW_EVAL_USE_LATEST, M(1), M(5), now - H(2), now, custom),
        PW_RES_RAW);
}

static void
test_res_parse(void **state)
{
    static const struct { const char *s; bool force; pw_res res; } ok[] = {
        { "auto", false, PW_RES_RAW }, { "raw", true, PW_RES_RAW }, { "5m", true, PW_RES_5M },
        { "1h", true, PW_RES_1H }, { "1d", true, PW_RES_1D },
    };
    bool   force;
    pw_res res;

    (void) state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        force = !ok[i].force;
        res = PW_RES_COUNT_;
        assert_int_equal(pw_eval_res_parse(ok[i].s, &force, &res), PW_OK);
        assert_int_equal(force, ok[i].force);
        assert_int_equal(res, ok[i].res);
    }
    assert_int_equal(pw_eval_res_parse("10m", &force, &res), PW_EINVAL);
    assert_int_equal(pw_eval_res_parse("", &force, &res), PW_EINVAL);
    assert_int_equal(pw_eval_res_parse("RAW", &force, &res), PW_EINVAL);
}

/* Points every minute at 30 s past it: bucket edges never hold a point. */
static void
mt_gauge(mt_src *m, const char *key, int minutes)
{
    for (int i = 0; i < minutes; i++)
        mt_add(m, key, M(i) + S(30), (double) ((i * 7) % 13));
}

static void
test_rollups_match_raw(void **state)
{
    static const char *const fns[] = {
        "avg_over_time", "sum_over_time", "count_over_time", "min_over_time", "max_over_time",
        "last_over_time",
    };
    mt_src       *m = mt_new();
    pw_eval_opts  raw = { .force_res = true, .res = PW_RES_RAW };
    mt_out       *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    pw_eval_stats sa, sb;
    char          msg[256], q[128];

    (void) state;
    m->rollups = true;
    mt_gauge(m, "g", 360);
    /* "e": every point on a whole minute, so some lie exactly on window edges */
    for (int i = 0; i < 360; i++)
        mt_add(m, "e", M(i), (double) ((i * 5) % 11));
    /*
     * With t and r multiples of the width, the buckets whose last point is
     * in (t - r, t] are exactly those (s, s + w] inside it, which hold exactly
     * the window's points: every function over rollups equals raw, also for
     * points on the edges.
     */
    for (size_t f = 0; f < 2 * sizeof fns / sizeof fns[0]; f++) {
        /* last_over_time is a "latest" use: any width up to the step will do. */
        const char *fn = fns[f % (sizeof fns / sizeof fns[0])];
        const char *g = f < sizeof fns / sizeof fns[0] ? "g" : "e";
        bool latest = strcmp(fn, "last_over_time") == 0;
        static const struct { const char *range; int64_t step; pw_res res; } rs[] = {
            { "1h", H(1), PW_RES_1H }, { "30m", H(1), PW_RES_5M }, { "10m", M(5), PW_RES_5M },
        };

        for (size_t k = 0; k < sizeof rs / sizeof rs[0]; k++) {
            snprintf(q, sizeof q, "%s(%s[%s])", fn, g, rs[k].range);
            assert_int_equal(mt_run(m, q, H(1), H(6), rs[k].step, &raw, a, &sa, msg, sizeof msg),
                PW_OK);
            assert_int_equal(mt_run(m, q, H(1), H(6), rs[k].step, NULL, b, &sb, msg, sizeof msg),
                PW_OK);
            if (strcmp(a->text, b->text) != 0)
                fail_msg("`%s`: raw\n%s rollups\n%s", q, a->text, b->text);
            assert_int_equal(sa.res_used, 1u << PW_RES_RAW);
            assert_int_equal(sb.res_used, 1u << (latest ? (rs[k].step == H(1) ? PW_RES_1H
                : PW_RES_5M) : rs[k].res));
            assert_true(sb.samples < sa.samples);
        }
    }
    /* Instant selectors at aligned times: the last point of the bucket before t, as raw. */
    assert_int_equal(mt_run(m, "g", M(5), H(6), M(5), &raw, a, &sa, msg, sizeof msg), PW_OK);
    assert_int_equal(mt_run(m, "g", M(5), H(6), M(5), NULL, b, &sb, msg, sizeof msg), PW_OK);
    assert_string_equal(a->text, b->text);
    assert_int_equal(sb.res_used, 1u << PW_RES_5M);
    /* ... and a point exactly at t ends the bucket holding t: found in both */
    assert_int_equal(mt_run(m, "e", M(5), H(6), M(5), &raw, a, &sa, msg, sizeof msg), PW_OK);
    assert_int_equal(mt_run(m, "e", M(5), H(6), M(5), NULL, b, &sb, msg, sizeof msg), PW_OK);
    assert_string_equal(a->text, b->text);
    free(a);
    free(b);
    mt_free(m);
}

static void
test_rollup_semantics(void **state)
{
    mt_src      *m = mt_new();
    pw_eval_opts o = { .force_res = true, .res = PW_RES_5M };

    (void) state;
    m->rollups = true;
    /*
     * Per 5m bucket b (b = 0..23): four points of value b and one of b + 5,
     * so the bucket averages are 1..24 while the points are not.
     */
    for (int bkt = 0; bkt < 24; bkt++)
        for (int i = 0; i < 5; i++)
            mt_add(m, "lat", M(5 * bkt + i) + S(30), (double) (bkt + (i == 4 ? 5 : 0)));
    /*
     * quantile_over_time over 2h (> 1h): the quantile of the 5-minute
     * averages 1..24: median rank 11.5 -> 12.5; p95 rank 21.85 -> 22 * 0.15
     * + 23 * 0.85 = 22.85.
     */
    mt_value(m, "quantile_over_time(0.5, lat[2h])", H(2), NULL, 12.5);
    mt_value(m, "quantile_over_time(0.95, lat[2h])", H(2), NULL, 22.85);
    /*
     * Forced raw: the p95 of the 120 points (0..23 four times each, 5..28
     * once each): rank 0.95 * 119 = 113.05; 110 values are below 23 (4 x
     * 0..22 and 5..22) and five are 23 (sorted[110..114]), so 23.
     */
    {
        pw_eval_opts  r = { .force_res = true, .res = PW_RES_RAW };
        mt_out       *out = malloc(sizeof *out);
        pw_eval_stats st;
        char          msg[256];

        mt_value(m, "quantile_over_time(0.95, lat[2h])", H(2), &r, 23);
        /* Windows up to 1h read raw, longer ones 5m averages. */
        assert_int_equal(mt_run(m, "quantile_over_time(0.95, lat[1h])", H(1), H(1), 0, NULL, out,
            &st, msg, sizeof msg), PW_OK);
        assert_int_equal(st.res_used, 1u << PW_RES_RAW);
        assert_int_equal(mt_run(m, "quantile_over_time(0.95, lat[61m])", H(1), H(1), 0, NULL, out,
            &st, msg, sizeof msg), PW_OK);
        assert_int_equal(st.res_used, 1u << PW_RES_5M);
        free(out);
    }

    /*
     * An instant selector over rollups looks back 5m + w: after the last
     * point (119m30s, bucket [115m, 120m)), t = 125m still sees it (raw does
     * not), t = 130m does not.
     */
    mt_expect_opts(m, "lat", M(120), M(130), M(5), &o, "lat 7200=28 7500=28\n");
    mt_expect(m, "lat", M(120), M(130), M(5), "lat 7200=28 7500=28\n");   /* auto: 5m too */
    {
        pw_eval_opts r = { .force_res = true, .res = PW_RES_RAW };

        mt_expect_opts(m, "lat", M(120), M(130), M(5), &r, "lat 7200=28\n");
    }
    mt_free(m);
}

static void
test_rollup_counter(void **state)
{
    mt_src      *m = mt_new();
    pw_eval_opts r5 = { .force_res = true, .res = PW_RES_5M };
    pw_eval_opts raw = { .force_res = true, .res = PW_RES_RAW };

    (void) state;
    m->rollups = true;
    /*
     * A counter sampled at i minutes + 30 s: i up to 61, then a reset to 0
     * at 62m30s and 100 per minute after it. Bucket [60m, 65m) ends at 200,
     * above the previous bucket's last (59): only its min (0) shows the
     * reset.
     */
    for (int i = 0; i < 90; i++)
        mt_add(m, "c_total", M(i) + S(30), i <= 61 ? (double) i : (double) (i - 62) * 100);
    /*
     * Raw, increase([30m]) at 80m: samples 50m30s..79m30s, 50 .. 61, 0 ..
     * 1700: 1700 - 50 + 61 = 1711 over 1740 s; 30 s to each edge (< 66 s:
     * full; zero point 1740 * 50/1711 = 50.9 s > 30 s): 1711 * 1800/1740 =
     * 1770.
     */
    mt_value(m, "increase(c_total[30m])", M(80), &raw, 1770);
    /*
     * 5m rollups: buckets with their last point in (50m, 80m]: lasts 54,
     * 59, 200 (min 0 < 59: a reset, + 59), 700, 1200, 1700 at 54m30s ..
     * 79m30s: 1700 - 54 + 59 = 1705 over 1500 s; start 270 s away (< 330),
     * but the zero point is 1500 * 54/1705 = 47.507 s; end 30 s: 1705 *
     * (1500 + 47.507 + 30)/1500 = 1705 + 54 + 34.1 = 1793.1. (The growth
     * 59 -> 61 before the reset is lost; ignoring min, 200 > 59 would hide
     * the reset and give about 1646 * 1.05.)
     */
    mt_value(m, "increase(c_total[30m])", M(80), &r5, 1793.1);
    /* rate is increase / range. */
    mt_value(m, "rate(c_total[30m])", M(80), &r5, 1793.1 / 1800);
    /* irate over buckets: the last two lasts, 1200 -> 1700 over 300 s. */
    mt_value(m, "irate(c_total[30m])", M(80), &r5, 500.0 / 300);
    /* A reset inside the newest bucket: 59 -> 200, min 0: counts 200 from zero. */
    mt_value(m, "irate(c_total[10m])", M(65), &r5, 200.0 / 300);
    mt_free(m);
}

static void
test_old_data(void **state)
{
    mt_src       *m = mt_new();
    pw_eval_opts  o = { .now = D(100) };
    pw_eval_opts  raw = { .now = D(100), .force_res = true, .res = PW_RES_RAW };
    mt_out       *out = malloc(sizeof *out);
    pw_eval_stats st;
    char          msg[256];

    (void) state;
    m->rollups = true;
    mt_gauge(m, "g", 120);
    for (int i = 0; i < 120; i++)
        mt_add(m, "old", D(50) + M(i) + S(30), (double) i);
    /* Recent data reads raw. 7i mod 13 over i = 0..59: 4 x 78 + (0+7+1+8+2+9+3+10) = 352. */
    mt_value(m, "avg_over_time(g[1h])", H(1), NULL, 352.0 / 60);
    /* Data on day 50, queried on day 100: raw is gone (35 days), rollups are not. */
    m->raw_since = D(100) - D(35);
    /* The same shape 50 days ago: auto reads 5m rollups; forced raw finds nothing. */
    assert_int_equal(mt_run(m, "avg_over_time(old[1h])", D(50) + H(1), D(50) + H(1), 0, &o, out,
        &st, msg, sizeof msg), PW_OK);
    assert_string_equal(out->text, "{} 4323600=29.5\n");               /* mean of 0..59 */
    assert_int_equal(st.res_used, 1u << PW_RES_5M);
    assert_int_equal(mt_run(m, "avg_over_time(old[1h])", D(50) + H(1), D(50) + H(1), 0, &raw, out,
        &st, msg, sizeof msg), PW_OK);
    assert_string_equal(out->text, "");
    /* A range query at 1m steps over old data: instant selectors read 5m buckets. */
    mt_expect_opts(m, "old", D(50) + M(10), D(50) + M(12), M(1), &o,
        "old 4320600=9 4320660=9 4320720=9\n");
    free(out);
    mt_free(m);
}

static void
test_window_reads(void **state)
{
    mt_src       *m = mt_new();
    pw_eval_opts  raw = { .force_res = true, .res = PW_RES_RAW };
    mt_out       *out = malloc(sizeof *out);
    pw_eval_stats st;
    char          msg[256];

    (void) state;
    mt_gauge(m, "g", 24 * 60);
    /* Daily values of 5m windows: 25 steps of 5 points each, not the whole day. */
    assert_int_equal(mt_run(m, "avg_over_time(g[5m])", 0, H(24), H(1), &raw, out, &st, msg,
        sizeof msg), PW_OK);
    assert_int_equal(out->npoints, 24);
    assert_int_equal(st.samples, 24 * 5);
    assert_int_equal(m->point_calls, 25);
    /* Overlapping windows: one sweep. */
    m->point_calls = 0;
    assert_int_equal(mt_run(m, "avg_over_time(g[1h])", H(1), H(24), M(30), &raw, out, &st, msg,
        sizeof msg), PW_OK);
    assert_int_equal(m->point_calls, 1);
    assert_int_equal(st.samples, 24 * 60);
    free(out);
    mt_free(m);
}

/*
 * The store as a source (eval_store.c): the same data written through the
 * store and loaded into the in-memory source must give the same results,
 * raw and from the store's rollups.
 */
static void
test_store_source(void **state)
{
    static tf_frame t;
    static const char *const queries[] = {
        "sum by (host) (rate(node_cpu_seconds_total[30m]))",
        "increase(node_cpu_seconds_total{mode=\"user\"}[1h])",
        "node_cpu",                         /* must not pick up node_cpu_seconds_total */
        "{__name__=~\"node_cpu.*\",mode=\"idle\"} * 2",
        "max by (mode) (avg_over_time(node_cpu_seconds_total[30m]))",
        "quantile_over_time(0.9, node_cpu[2h])",
    };
    const int64_t  t0 = INT64_C(1767225600000);          /* 2026-01-01, a day boundary */
    char          *dir = tf_tmpdir(), msg[256];
    pw_store      *st;
    pw_store_txn  *tx;
    pw_eval_store  es;
    pw_eval_source src;
    mt_src        *m = mt_new();
    mt_out        *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    bool           dup;

    (void) state;
    m->rollups = true;
    assert_int_equal(pw_store_open(dir, 0, &st, msg, sizeof msg), PW_OK);
    for (int h = 1; h <= 2; h++) {
        const char *host = h == 1 ? "h1" : "h2";
        uint32_t    idle, user, cpu;
        char        k1[128], k2[128], k3[128];

        tf_init(&t, host, 1, 1, host);
        idle = tf_series(&t, "node_cpu_seconds_total", "mode", "idle", NULL);
        user = tf_series(&t, "node_cpu_seconds_total", "mode", "user", NULL);
        cpu = tf_series(&t, "node_cpu", NULL);
        snprintf(k1, sizeof k1, "node_cpu_seconds_total{host=\"%s\",mode=\"idle\"}", host);
        snprintf(k2, sizeof k2, "node_cpu_seconds_total{host=\"%s\",mode=\"user\"}", host);
        snprintf(k3, sizeof k3, "node_cpu{host=\"%s\"}", host);
        for (int i = 0; i < 180; i++) {
            int64_t ts = t0 + M(i) + S(30);
            double  vi = (double) (i * 10 * h), vu = (double) (i < 100 ? i : i - 100), vc = i % 7;

            tf_sample(&t, idle, ts, vi);
            tf_sample(&t, user, ts, vu);
            tf_sample(&t, cpu, ts, vc);
            mt_add(m, k1, ts, vi);
            mt_add(m, k2, ts, vu);
            mt_add(m, k3, ts, vc);
        }
        assert_int_equal(pw_store_write_begin(st, &tx), PW_OK);
        assert_int_equal(pw_store_write_frame(tx, &t.f, t0, &dup), PW_OK);
        assert_int_equal(pw_store_write_commit(tx), PW_OK);
    }
    assert_int_equal(pw_store_read_begin(st, &tx), PW_OK);
    pw_eval_store_source(&es, tx, &src);
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        for (int forced = 0; forced < 2; forced++) {
            pw_eval_opts o = { .start = t0 + H(1), .end = t0 + H(3), .step = M(15),
                               .now = t0 + H(3), .force_res = forced, .res = PW_RES_5M };
            pw_expr     *e;
            char         m1[256] = "", m2[256] = "";

            assert_int_equal(pw_expr_parse(queries[i], &e, NULL, NULL, 0), PW_OK);
            memset(a, 0, sizeof *a);
            memset(b, 0, sizeof *b);
            if (pw_eval_range(e, &o, &src, &mt_sink, a, NULL, m1, sizeof m1) != PW_OK)
                fail_msg("store: `%s`: %s", queries[i], m1);
            assert_int_equal(mt_run(m, queries[i], o.start, o.end, o.step, &o, b, NULL, m2,
                sizeof m2), PW_OK);
            if (strcmp(a->text, b->text) != 0 || a->npoints == 0)
                fail_msg("`%s`%s:\n--- store\n%s--- memory\n%s", queries[i],
                    forced ? " (5m rollups)" : "", a->text, b->text);
            pw_expr_free(e);
        }
    }
    pw_store_read_end(tx);
    pw_store_close(st);
    tf_rmdir(dir);
    free(a);
    free(b);
    mt_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_increase),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_irate_delta),
        cmocka_unit_test(test_over_time),
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_lookback),
        cmocka_unit_test(test_aggregations),
        cmocka_unit_test(test_topk),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_labelsets),
        cmocka_unit_test(test_errors_and_limits),
        cmocka_unit_test(test_pick_res),
        cmocka_unit_test(test_res_parse),
        cmocka_unit_test(test_rollups_match_raw),
        cmocka_unit_test(test_rollup_semantics),
        cmocka_unit_test(test_rollup_counter),
        cmocka_unit_test(test_old_data),
        cmocka_unit_test(test_window_reads),
        cmocka_unit_test(test_store_source),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
