/* sampler_loadavg_test.c - the loadavg sampler against tests/fixtures trees. */
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

static void
test_basic(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_loadavg, &env, &b), PW_OK);
    fx_expect(b, "node_load1", 0.52);
    fx_expect(b, "node_load5", 1.25);
    fx_expect(b, "node_load15", 2.5);
    assert_int_equal(pw_batch_nseries(b), 3);
    pw_batch_free(b);
}

static void
test_manycore(void **unused)
{
    pw_sampler_env env = fx_env("manycore");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_loadavg, &env, &b), PW_OK);
    fx_expect(b, "node_load1", 48);
    fx_expect(b, "node_load5", 40.25);
    fx_expect(b, "node_load15", 38.5);
    pw_batch_free(b);
}

static void
test_broken(void **unused)
{
    static const char *const trees[] = { "broken/truncated", "broken/garbage", "broken/empty" };

    /* Cut after two values, binary noise, nothing: no value at all, never a half set. */
    for (size_t i = 0; i < sizeof trees / sizeof trees[0]; i++) {
        pw_sampler_env env = fx_env(trees[i]);
        pw_batch      *b;

        assert_int_equal(fx_collect(&pw_sampler_loadavg, &env, &b), PW_EPROTO);
        assert_int_equal(pw_batch_nseries(b), 0);
        pw_batch_free(b);
    }
}

static void
test_missing(void **unused)
{
    assert_int_equal(fx_run(&pw_sampler_loadavg, "no-such-tree", PW_ENOENT), 0);
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
