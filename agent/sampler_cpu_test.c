/* sampler_cpu_test.c - the cpu sampler against tests/fixtures trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "procfs.h"
#include "sampler.h"
#include "sampler_fixture.h"

/* --- tests --- */

static void
test_basic(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_cpu, &env, &b), PW_OK);
    /* USER_HZ is 100: 12345 jiffies are 123.45 s. */
    fx_expect(b, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}", 123.45);
    fx_expect(b, "node_cpu_seconds_total{cpu=\"0\",mode=\"nice\"}", 2.5);
    fx_expect(b, "node_cpu_seconds_total{cpu=\"0\",mode=\"system\"}", 50);
    fx_expect(b, "node_cpu_seconds_total{cpu=\"3\",mode=\"idle\"}", 4000);
    fx_expect(b, "node_cpu_seconds_total{cpu=\"2\",mode=\"iowait\"}", 7.5);
    fx_expect(b, "node_cpu_seconds_total{cpu=\"1\",mode=\"irq\"}", 0);
    fx_expect(b, "node_cpu_seconds_total{cpu=\"0\",mode=\"softirq\"}", 3);
    fx_expect(b, "node_cpu_seconds_total{cpu=\"1\",mode=\"steal\"}", 0.4);
    fx_expect(b, "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"user\"}", 1);
    fx_expect(b, "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"}", 0.07);
    assert_int_equal(fx_count(b, "node_cpu_seconds_total"), 4 * 8);
    assert_int_equal(fx_count(b, "node_cpu_guest_seconds_total"), 4 * 2);

    /* The "cpu " line: all cores, its own metric so sums over cores do not double. */
    fx_expect(b, "poolwatch_node_cpu_seconds_total{mode=\"user\"}", 493.8);
    fx_expect(b, "poolwatch_node_cpu_seconds_total{mode=\"idle\"}", 16000);
    fx_expect(b, "poolwatch_node_cpu_seconds_total{mode=\"steal\"}", 1.5);
    assert_int_equal(fx_count(b, "poolwatch_node_cpu_seconds_total"), 8);
    assert_int_equal(fx_count_label(b, "node_cpu_seconds_total", "cpu", ""), 0);
    fx_expect(b, "poolwatch_node_cpus", 4);

    fx_expect(b, "node_context_switches_total", 55555555);
    fx_expect(b, "node_intr_total", 987654);
    fx_expect(b, "node_forks_total", 123456);
    fx_expect(b, "node_procs_running", 3);
    fx_expect(b, "node_procs_blocked", 1);
    fx_expect(b, "node_boot_time_seconds", 1700000000);
    /* 32 + 8 + 8 + cpus + six single counters; softirq is not sampled. */
    assert_int_equal(pw_batch_nseries(b), 32 + 8 + 8 + 1 + 6);
    pw_batch_free(b);
}

static void
test_manycore(void **unused)
{
    pw_sampler_env env = fx_env("manycore");
    pw_batch      *b;

    /* The intr line (~17 KB) is longer than the line buffer: its total still counts. */
    assert_int_equal(fx_collect(&pw_sampler_cpu, &env, &b), PW_OK);
    assert_int_equal(fx_count(b, "node_cpu_seconds_total"), 128 * 8);
    assert_int_equal(fx_count(b, "node_cpu_guest_seconds_total"), 128 * 2);
    fx_expect(b, "poolwatch_node_cpus", 128);
    fx_expect(b, "node_cpu_seconds_total{cpu=\"127\",mode=\"user\"}", 1127);
    fx_expect(b, "node_cpu_seconds_total{cpu=\"64\",mode=\"steal\"}", 1.28);
    fx_expect(b, "node_cpu_guest_seconds_total{cpu=\"100\",mode=\"nice\"}", 0.01);
    fx_expect(b, "poolwatch_node_cpu_seconds_total{mode=\"user\"}", 136128);
    fx_expect(b, "node_intr_total", 9876543210.0);
    fx_expect(b, "node_context_switches_total", 123456789012.0);
    fx_expect(b, "node_procs_running", 64);
    fx_expect(b, "node_boot_time_seconds", 1690000000);
    pw_batch_free(b);
}

static void
test_truncated(void **unused)
{
    pw_sampler_env env = fx_env("broken/truncated");
    pw_batch      *b;

    /* Bad lines are skipped whole, good ones kept, and the file is reported. */
    assert_int_equal(fx_collect(&pw_sampler_cpu, &env, &b), PW_EPROTO);
    fx_expect(b, "poolwatch_node_cpu_seconds_total{mode=\"user\"}", 4);
    fx_expect(b, "node_cpu_seconds_total{cpu=\"2\",mode=\"system\"}", 3);
    assert_int_equal(fx_count(b, "node_cpu_seconds_total"), 8);     /* cpu2 only */
    assert_int_equal(fx_count(b, "node_cpu_guest_seconds_total"), 0);
    fx_absent(b, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}");
    fx_absent(b, "node_cpu_seconds_total{cpu=\"1\",mode=\"user\"}");
    fx_absent(b, "node_cpu_seconds_total{cpu=\"3\",mode=\"user\"}");  /* cut off at EOF */
    fx_absent(b, "node_context_switches_total");
    fx_absent(b, "node_forks_total");
    fx_expect(b, "node_boot_time_seconds", 1700000000);
    fx_expect(b, "poolwatch_node_cpus", 1);
    pw_batch_free(b);
}

static void
test_garbage(void **unused)
{
    pw_sampler_env env = fx_env("broken/garbage");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_cpu, &env, &b), PW_EPROTO);
    assert_int_equal(fx_count(b, "node_cpu_seconds_total"), 0);
    pw_batch_free(b);

    assert_int_equal(fx_run(&pw_sampler_cpu, "broken/empty", PW_EPROTO), 0);
}

static void
test_missing(void **unused)
{
    assert_int_equal(fx_run(&pw_sampler_cpu, "no-such-tree", PW_ENOENT), 0);
}

/*
 * procfs.c's line reader, which every sampler's parsing rests on, against a
 * plain model of it: random files of a few bytes (with NULs, runs of
 * newlines, no final newline) read through buffers from 2 bytes up.
 */
static void
fx_check_lines(const char *dir, const char *data, size_t n, size_t cap)
{
    char            path[PATH_MAX], buf[64], *line;
    pw_procfs_lines r;
    size_t          pos = 0, len;
    FILE           *f;

    snprintf(path, sizeof path, "%s/lines", dir);
    assert_non_null(f = fopen(path, "wb"));
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    assert_int_equal(pw_procfs_lines_open(&r, dir, "lines", buf, cap), PW_OK);
    while (pos < n) {
        const char *nl = memchr(data + pos, '\n', n - pos);
        size_t      l = nl ? (size_t) (nl - (data + pos)) : n - pos;

        if (l >= cap - 1) {             /* does not fit: its first cap - 1 bytes, flagged */
            assert_non_null(line = pw_procfs_lines_next(&r, &len));
            assert_true(r.truncated);
            assert_int_equal(len, cap - 1);
            assert_memory_equal(line, data + pos, cap - 1);
        } else if (nl) {
            assert_non_null(line = pw_procfs_lines_next(&r, &len));
            assert_false(r.truncated);
            assert_int_equal(len, l);
            assert_memory_equal(line, data + pos, l);
            assert_int_equal(line[l], '\0');
        }
        if (!nl) {                      /* cut last line: dropped and reported */
            assert_null(pw_procfs_lines_next(&r, &len));
            assert_int_equal(r.err, PW_EPROTO);
            break;
        }
        pos += l + 1;
    }
    if (pos >= n) {
        assert_null(pw_procfs_lines_next(&r, &len));
        assert_int_equal(r.err, PW_OK);
    }
    assert_null(pw_procfs_lines_next(&r, &len));    /* stays at the end */
    pw_procfs_lines_close(&r);
    pw_procfs_lines_close(&r);
    unlink(path);
}

static void
test_procfs_lines(void **unused)
{
    static const char alphabet[] = { 'a', 'b', ' ', '\n', '\n', '\0', '\t', '\xff' };
    static const size_t caps[] = { 2, 3, 4, 5, 8, 13, 64 };
    char     dir[] = "/tmp/pw-procfs-XXXXXX", data[300];
    uint32_t x = 12345;

    assert_non_null(mkdtemp(dir));
    for (int iter = 0; iter < 600; iter++) {
        size_t n;

        x = x * 1103515245u + 12345u;
        n = (x >> 16) % sizeof data;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            data[i] = alphabet[(x >> 16) % sizeof alphabet];
        }
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
            fx_check_lines(dir, data, n, caps[c]);
    }
    rmdir(dir);
}

static void
test_procfs_parsers(void **unused)
{
    char     line[] = "  a\tbb  ccc \n", *f[2];
    uint64_t u;
    int64_t  i;
    double   d;

    assert_int_equal(pw_procfs_split(line, f, 2), 3);
    assert_string_equal(f[0], "a");
    assert_string_equal(f[1], "bb");
    assert_true(pw_procfs_u64("18446744073709551615", &u) && u == UINT64_MAX);
    assert_false(pw_procfs_u64("18446744073709551616", &u));
    assert_false(pw_procfs_u64("", &u));
    assert_false(pw_procfs_u64("-1", &u));
    assert_false(pw_procfs_u64("12x", &u));
    assert_true(pw_procfs_i64("-1", &i) && i == -1);
    assert_true(pw_procfs_i64("-9223372036854775808", &i) && i == INT64_MIN);
    assert_false(pw_procfs_i64("9223372036854775808", &i));
    assert_false(pw_procfs_i64("-", &i));
    assert_true(pw_procfs_double("0.52", &d) && d == 0.52);
    assert_false(pw_procfs_double("inf", &d));
    assert_false(pw_procfs_double("nan", &d));
    assert_false(pw_procfs_double("1e999", &d));
    assert_false(pw_procfs_double("1.5x", &d));
    assert_false(pw_procfs_double("", &d));
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
        cmocka_unit_test(test_procfs_lines),
        cmocka_unit_test(test_procfs_parsers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
