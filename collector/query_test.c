/* query_test.c - selector + range over a real store in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "query.h"
#include "test_fixture.h"

/* The sink writes "key\n" per series and " ts=value\n" per point into a buffer. */
typedef struct qt_out qt_out;
struct qt_out {
    char   buf[8192];
    size_t len;
    size_t nseries, npoints, nend;
    pw_err fail_at_point;   /* returned by the point callback when not PW_OK */
};

static void qt_put(qt_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
qt_put(qt_out *o, const char *fmt, ...)
{
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t) n < sizeof o->buf - o->len);
    o->len += (size_t) n;
}

static pw_err
qt_begin(void *ctx, const char *key, size_t keylen, const pw_series_view *v)
{
    qt_out *o = ctx;

    /* The view is the parsed key. */
    assert_non_null(v->metric);
    assert_int_equal(strncmp(key, v->metric, strlen(v->metric)), 0);
    qt_put(o, "%.*s\n", (int) keylen, key);
    o->nseries++;
    return PW_OK;
}

static pw_err
qt_point(void *ctx, int64_t ts, double v)
{
    qt_out *o = ctx;

    if (o->fail_at_point != PW_OK)
        return o->fail_at_point;
    qt_put(o, " %lld=%g\n", (long long) ts, v);
    o->npoints++;
    return PW_OK;
}

static pw_err
qt_end(void *ctx)
{
    ((qt_out *) ctx)->nend++;
    return PW_OK;
}

static const pw_query_sink qt_sink = { qt_begin, qt_point, qt_end };

typedef struct qt_env qt_env;
struct qt_env {
    char     *dir;
    pw_store *s;
};

/* Two hosts, cpu per mode, load, a metric whose name prefixes another. */
static int
qt_setup(void **state)
{
    static tf_frame t;
    qt_env         *env = calloc(1, sizeof *env);
    pw_store_txn   *tx;
    char            msg[256];
    bool            dup;

    env->dir = tf_tmpdir();
    if (pw_store_open(env->dir, 0, &env->s, msg, sizeof msg) != PW_OK)
        fail_msg("open: %s", msg);
    assert_int_equal(pw_store_write_begin(env->s, &tx), PW_OK);
    for (int h = 1; h <= 2; h++) {
        uint32_t idle, user, sys, load, cpu;

        tf_init(&t, h == 1 ? "agent-1" : "agent-2", 1, 1, h == 1 ? "h1" : "h2");
        idle = tf_series(&t, "node_cpu_seconds_total", "cpu", "0", "mode", "idle", NULL);
        user = tf_series(&t, "node_cpu_seconds_total", "cpu", "0", "mode", "user", NULL);
        sys = tf_series(&t, "node_cpu_seconds_total", "cpu", "0", "mode", "system", NULL);
        load = tf_series(&t, "node_load1", NULL);
        cpu = tf_series(&t, "node_cpu", NULL);
        tf_series(&t, "node_unused", NULL);     /* in the dictionary, never sampled */
        for (int64_t ts = 1000; ts <= 3000; ts += 1000) {
            tf_sample(&t, idle, ts, (double) (h * 100 + ts / 1000));
            tf_sample(&t, user, ts, 1);
            tf_sample(&t, sys, ts, 2);
            tf_sample(&t, load, ts, 0.25 * (double) h);
            tf_sample(&t, cpu, ts, 7);
        }
        assert_int_equal(pw_store_write_frame(tx, &t.f, 1, &dup), PW_OK);
    }
    /* A series with points only outside the ranges queried below. */
    tf_init(&t, "agent-1", 1, 2, "h1");
    tf_sample(&t, tf_series(&t, "node_load1", "extra", "old", NULL), 10, 1);
    assert_int_equal(pw_store_write_frame(tx, &t.f, 1, &dup), PW_OK);
    assert_int_equal(pw_store_write_commit(tx), PW_OK);
    *state = env;
    return 0;
}

static int
qt_teardown(void **state)
{
    qt_env *env = *state;

    pw_store_close(env->s);
    tf_rmdir(env->dir);
    free(env);
    return 0;
}

/* Runs selector over [from, to] into o; returns the query's code. */
static pw_err
qt_run(qt_env *env, const char *selector, int64_t from, int64_t to, size_t max_series, qt_out *o,
       char *msg, size_t msglen)
{
    pw_selector  *sel;
    pw_store_txn *tx;
    pw_query      q = { .from = from, .to = to, .max_series = max_series };
    char          perr[256];
    pw_err        e;

    if (pw_selector_parse(selector, &sel, NULL, perr, sizeof perr) != PW_OK)
        fail_msg("parse `%s`: %s", selector, perr);
    q.sel = sel;
    assert_int_equal(pw_store_read_begin(env->s, &tx), PW_OK);
    e = pw_query_run(tx, &q, &qt_sink, o, msg, msglen);
    pw_store_read_end(tx);
    pw_selector_free(sel);
    return e;
}

static void
qt_expect(qt_env *env, const char *selector, int64_t from, int64_t to, const char *want)
{
    qt_out *o = calloc(1, sizeof *o);
    char    msg[256];

    assert_int_equal(qt_run(env, selector, from, to, 0, o, msg, sizeof msg), PW_OK);
    if (strcmp(o->buf, want) != 0)
        fail_msg("`%s` [%lld, %lld]:\n--- got\n%s--- want\n%s", selector, (long long) from,
            (long long) to, o->buf, want);
    assert_int_equal(o->nseries, o->nend);
    free(o);
}

static void
test_metric_equality(void **state)
{
    qt_expect(*state, "node_load1", 1000, 5000,
        "node_load1{host=\"h1\"}\n 1000=0.25\n 2000=0.25\n 3000=0.25\n"
        "node_load1{host=\"h2\"}\n 1000=0.5\n 2000=0.5\n 3000=0.5\n");
    /* node_cpu must not pick up node_cpu_seconds_total. */
    qt_expect(*state, "node_cpu", 2000, 2000, "node_cpu{host=\"h1\"}\n 2000=7\nnode_cpu{host=\"h2\"}\n 2000=7\n");
    qt_expect(*state, "{__name__=\"node_load1\",host=\"h2\"}", 3000, 3000,
        "node_load1{host=\"h2\"}\n 3000=0.5\n");
}

static void
test_label_matchers(void **state)
{
    qt_expect(*state, "node_cpu_seconds_total{mode=\"idle\"}", 1000, 2000,
        "node_cpu_seconds_total{cpu=\"0\",host=\"h1\",mode=\"idle\"}\n 1000=101\n 2000=102\n"
        "node_cpu_seconds_total{cpu=\"0\",host=\"h2\",mode=\"idle\"}\n 1000=201\n 2000=202\n");
    qt_expect(*state, "node_cpu_seconds_total{mode!~\"idle|user\",host=\"h1\"}", 1000, 1000,
        "node_cpu_seconds_total{cpu=\"0\",host=\"h1\",mode=\"system\"}\n 1000=2\n");
    /* No metric equality: a full scan. */
    qt_expect(*state, "{__name__=~\"node_cpu.*\",host=\"h2\",mode=~\"u.*\"}", 3000, 3000,
        "node_cpu_seconds_total{cpu=\"0\",host=\"h2\",mode=\"user\"}\n 3000=1\n");
    qt_expect(*state, "{host=\"h2\",__name__=~\"node_cpu|node_load1\"}", 1000, 1000,
        "node_cpu{host=\"h2\"}\n 1000=7\nnode_load1{host=\"h2\"}\n 1000=0.5\n");
}

static void
test_empty_results(void **state)
{
    /* Series without points in range are not reported at all. */
    qt_expect(*state, "node_load1{extra=\"old\"}", 1000, 3000, "");
    qt_expect(*state, "node_load1{extra=\"old\"}", 10, 10, "node_load1{extra=\"old\",host=\"h1\"}\n 10=1\n");
    qt_expect(*state, "node_unused", INT64_MIN, INT64_MAX, "");
    qt_expect(*state, "no_such_metric", INT64_MIN, INT64_MAX, "");
    qt_expect(*state, "node_load1", 3001, 9000, "");
}

static void
test_limits_and_errors(void **state)
{
    qt_out *o = calloc(1, sizeof *o);
    char    msg[256];

    /* max_series counts series with data. */
    assert_int_equal(qt_run(*state, "node_cpu_seconds_total", 0, 5000, 6, o, msg, sizeof msg), PW_OK);
    assert_int_equal(o->nseries, 6);
    memset(o, 0, sizeof *o);
    assert_int_equal(qt_run(*state, "node_cpu_seconds_total", 0, 5000, 5, o, msg, sizeof msg),
        PW_ETOOBIG);
    assert_non_null(strstr(msg, "more than 5 series"));
    assert_int_equal(o->nseries, 5);

    /* A sink's error stops the query and comes back as is. */
    memset(o, 0, sizeof *o);
    o->fail_at_point = PW_EIO;
    assert_int_equal(qt_run(*state, "node_load1", 0, 5000, 0, o, msg, sizeof msg), PW_EIO);
    assert_int_equal(o->nseries, 1);
    assert_int_equal(o->nend, 0);

    /* from > to is refused. */
    memset(o, 0, sizeof *o);
    assert_int_equal(qt_run(*state, "node_load1", 5, 4, 0, o, msg, sizeof msg), PW_EINVAL);
    free(o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metric_equality),
        cmocka_unit_test(test_label_matchers),
        cmocka_unit_test(test_empty_results),
        cmocka_unit_test(test_limits_and_errors),
    };

    return cmocka_run_group_tests(tests, qt_setup, qt_teardown);
}
