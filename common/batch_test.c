/* batch_test.c - series dictionary, groups, reuse across rounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "batch.h"
#include "wire.h"

static void
test_dedupe_and_find(void **state)
{
    pw_batch *b = pw_batch_new();
    pw_label  l[2] = { { "mode", "user" }, { "cpu", "1" } };
    double    v;
    uint32_t  sid;
    int64_t   ts;

    (void) state;
    pw_batch_group(b, 1000);
    assert_int_equal(pw_batch_add(b, "node_cpu_seconds_total", 1, 2, l), PW_OK);
    assert_int_equal(pw_batch_addl(b, "node_cpu_seconds_total", 2, "cpu", "1", "mode", "user", NULL), PW_OK);
    assert_int_equal(pw_batch_nseries(b), 1);
    assert_int_equal(pw_batch_nsamples(b), 2);
    assert_int_equal(pw_batch_find(b, "node_cpu_seconds_total{cpu=\"1\",mode=\"user\"}", &v), PW_OK);
    assert_true(v == 2);
    assert_int_equal(pw_batch_find(b, "node_cpu_seconds_total", &v), PW_ENOENT);
    pw_batch_group(b, 2000);
    pw_batch_addl(b, "x", 3, NULL);
    pw_batch_sample(b, 2, &sid, &ts, &v);
    assert_int_equal(sid, 1);
    assert_int_equal(ts, 2000);
    assert_string_equal(pw_batch_series_key(b, 1), "x");
    pw_batch_free(b);
}

static void
test_many_series_and_reset(void **state)
{
    pw_batch *b = pw_batch_new();
    char      dev[32];
    double    v;

    (void) state;
    for (int round = 0; round < 3; round++) {
        pw_batch_reset(b);
        pw_batch_group(b, 1000 + round);
        for (int i = 0; i < 5000; i++) {
            snprintf(dev, sizeof dev, "sd%d", i);
            assert_int_equal(pw_batch_addl(b, "node_disk_io_now", i + round, "device", dev, NULL), PW_OK);
        }
        assert_int_equal(pw_batch_nseries(b), 5000);
        assert_int_equal(pw_batch_find(b, "node_disk_io_now{device=\"sd4321\"}", &v), PW_OK);
        assert_true(v == 4321 + round);
    }
    pw_batch_free(b);
}

static void
test_label_limit(void **state)
{
    pw_batch *b = pw_batch_new();
    pw_label  l[PW_MAX_LABELS + 1];
    char      names[PW_MAX_LABELS + 1][8];

    (void) state;
    for (int i = 0; i <= PW_MAX_LABELS; i++) {
        snprintf(names[i], sizeof names[i], "l%d", i);
        l[i].name = names[i];
        l[i].value = "v";
    }
    assert_int_equal(pw_batch_add(b, "m", 1, PW_MAX_LABELS + 1, l), PW_ETOOBIG);
    assert_int_equal(pw_batch_add(b, "m", 1, PW_MAX_LABELS, l), PW_OK);
    pw_batch_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedupe_and_find),
        cmocka_unit_test(test_many_series_and_reset),
        cmocka_unit_test(test_label_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
