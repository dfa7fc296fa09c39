/* sampler_memory_test.c - the memory sampler against tests/fixtures trees. */
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

    assert_int_equal(fx_collect(&pw_sampler_memory, &env, &b), PW_OK);
    fx_expect(b, "node_memory_MemTotal_bytes", 4096000000.0);
    fx_expect(b, "node_memory_MemAvailable_bytes", 1024000000.0);
    /* Parentheses as node_exporter: Active(anon) -> Active_anon. */
    fx_expect(b, "node_memory_Active_anon_bytes", 1536000000.0);
    fx_expect(b, "node_memory_Inactive_file_bytes", 819200000.0);
    fx_expect(b, "node_memory_VmallocTotal_bytes", 35184372087808.0);
    /* No unit: a count, no _bytes. */
    fx_expect(b, "node_memory_HugePages_Total", 8);
    fx_expect(b, "node_memory_HugePages_Free", 6);
    fx_absent(b, "node_memory_HugePages_Total_bytes");
    fx_expect(b, "node_memory_Hugepagesize_bytes", 2097152);
    fx_expect(b, "node_memory_Committed_AS_bytes", 5120000000.0);
    fx_expect(b, "poolwatch_node_memory_used_ratio", 0.75);
    fx_expect(b, "poolwatch_node_swap_used_ratio", 0.25);
    /* One series per meminfo line (54) plus the two ratios. */
    assert_int_equal(pw_batch_nseries(b), 54 + 2);
    pw_batch_free(b);
}

static void
test_manycore(void **unused)
{
    pw_sampler_env env = fx_env("manycore");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_memory, &env, &b), PW_OK);
    fx_expect(b, "node_memory_MemTotal_bytes", 1081794560000.0);
    fx_expect(b, "node_memory_HugePages_Total", 256);
    fx_expect(b, "node_memory_Hugepagesize_bytes", 1073741824.0);
    fx_expect(b, "node_memory_SecPageTables_bytes", 819200000.0);
    fx_expect(b, "poolwatch_node_memory_used_ratio", 0.75);
    /* No swap configured: 0, not a division by zero. */
    fx_expect(b, "poolwatch_node_swap_used_ratio", 0);
    fx_expect(b, "node_memory_SwapTotal_bytes", 0);
    assert_int_equal(pw_batch_nseries(b), 57 + 2);
    pw_batch_free(b);
}

static void
test_truncated(void **unused)
{
    pw_sampler_env env = fx_env("broken/truncated");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_memory, &env, &b), PW_EPROTO);
    fx_expect(b, "node_memory_MemTotal_bytes", 2048000000.0);
    fx_expect(b, "node_memory_Cached_bytes", 307200000.0);
    fx_expect(b, "poolwatch_node_memory_used_ratio", 0.75);
    /* Bad value, extra field, unknown unit, no colon, bad name, cut at EOF: all skipped. */
    fx_absent(b, "node_memory_Bogus_bytes");
    fx_absent(b, "node_memory_Extra_bytes");
    fx_absent(b, "node_memory_Megabytes_bytes");
    fx_absent(b, "node_memory_SwapTotal_bytes");
    fx_absent(b, "node_memory_SwapTotal");
    fx_absent(b, "poolwatch_node_swap_used_ratio");
    assert_int_equal(pw_batch_nseries(b), 4 + 1);
    pw_batch_free(b);
}

static void
test_garbage(void **unused)
{
    pw_sampler_env env = fx_env("broken/garbage");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_memory, &env, &b), PW_EPROTO);
    fx_absent(b, "poolwatch_node_memory_used_ratio");
    pw_batch_free(b);

    assert_int_equal(fx_run(&pw_sampler_memory, "broken/empty", PW_EPROTO), 0);
}

static void
test_missing(void **unused)
{
    assert_int_equal(fx_run(&pw_sampler_memory, "no-such-tree", PW_ENOENT), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_manycore),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_missing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
