/* sampler_uptime_test.c - the uptime sampler against tests/fixtures trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "sampler_fixture.h"

/* --- tests --- */

/* node_time_seconds is the live wall clock: any time after 2020 will do. */
static void
fx_expect_clock(const pw_batch *b)
{
    double v;

    assert_int_equal(pw_batch_find(b, "node_time_seconds", &v), PW_OK);
    assert_true(v > 1577836800.0);
}

static void
test_basic(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_uptime, &env, &b), PW_OK);
    fx_expect(b, "poolwatch_node_uptime_seconds", 12345.67);
    fx_expect_clock(b);
    /* Boot time is the cpu sampler's (/proc/stat btime): no duplicate here. */
    fx_absent(b, "node_boot_time_seconds");
    assert_int_equal(pw_batch_nseries(b), 2);
    pw_batch_free(b);
}

static void
test_manycore(void **unused)
{
    pw_sampler_env env = fx_env("manycore");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_uptime, &env, &b), PW_OK);
    fx_expect(b, "poolwatch_node_uptime_seconds", 3456789.01);
    pw_batch_free(b);
}

static void
test_broken(void **unused)
{
    static const char *const trees[] = { "broken/truncated", "broken/garbage", "broken/empty" };

    /* The clock is still sent when /proc/uptime is unreadable. */
    for (size_t i = 0; i < sizeof trees / sizeof trees[0]; i++) {
        pw_sampler_env env = fx_env(trees[i]);
        pw_batch      *b;

        assert_int_equal(fx_collect(&pw_sampler_uptime, &env, &b), PW_EPROTO);
        fx_absent(b, "poolwatch_node_uptime_seconds");
        fx_expect_clock(b);
        pw_batch_free(b);
    }
}

static void
test_missing(void **unused)
{
    pw_sampler_env env = fx_env("no-such-tree");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_uptime, &env, &b), PW_ENOENT);
    fx_absent(b, "poolwatch_node_uptime_seconds");
    fx_expect_clock(b);
    pw_batch_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_manycore),
        cmocka_unit_test(test_broken),
        cmocka_unit_test(test_missing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
