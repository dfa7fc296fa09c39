/* series_test.c - names, label sorting, canonical keys both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "series.h"

static void
test_names(void **state)
{
    (void) state;
    assert_true(pw_metric_name_valid("node_cpu_seconds_total", 22));
    assert_true(pw_metric_name_valid("job:rate5m", 10));
    assert_false(pw_metric_name_valid("9abc", 4));
    assert_false(pw_metric_name_valid("a-b", 3));
    assert_false(pw_metric_name_valid("", 0));
    assert_true(pw_label_name_valid("_x9", 3));
    assert_false(pw_label_name_valid("a:b", 3));
    assert_true(pw_label_value_valid("使用单位", strlen("使用单位")));
    assert_false(pw_label_value_valid("\xc0\xaf", 2));          /* overlong */
    assert_false(pw_label_value_valid("\xed\xa0\x80", 3));      /* surrogate */
    assert_false(pw_label_value_valid("\xe4\xbd", 2));          /* truncated */
    assert_false(pw_label_value_valid("a\0b", 3));
}

static void
test_key_round_trip(void **state)
{
    pw_label       l[] = { { "mode", "idle" }, { "cpu", "0" }, { "path", "C:\\x \"q\"\nz" } };
    char           buf[256];
    size_t         n;
    pw_series_view v;

    (void) state;
    assert_int_equal(pw_labels_sort(l, 3), PW_OK);
    assert_int_equal(pw_series_key_format("m", l, 3, buf, sizeof buf, &n), PW_OK);
    assert_string_equal(buf, "m{cpu=\"0\",mode=\"idle\",path=\"C:\\\\x \\\"q\\\"\\nz\"}");
    assert_int_equal(n, strlen(buf));
    assert_int_equal(pw_series_key_parse(buf, n, &v), PW_OK);
    assert_string_equal(v.metric, "m");
    assert_int_equal(v.nlabels, 3);
    assert_string_equal(pw_series_view_label(&v, "path"), "C:\\x \"q\"\nz");
    assert_null(pw_series_view_label(&v, "nope"));
    pw_series_view_free(&v);
    assert_int_equal(pw_series_key_format("m", NULL, 0, buf, sizeof buf, &n), PW_OK);
    assert_string_equal(buf, "m");
    assert_int_equal(pw_series_key_format("metric", l, 3, buf, 10, &n), PW_ETOOBIG);
}

static void
test_key_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "", "m{", "m{a=\"x\"", "m{a=x}", "m{a=\"x\"}junk", "9m", "m{a=\"x\\",
    };
    pw_series_view v;

    (void) state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (pw_series_key_parse(bad[i], strlen(bad[i]), &v) != PW_EPROTO)
            fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_duplicate_labels(void **state)
{
    pw_label l[] = { { "b", "1" }, { "a", "2" }, { "b", "3" } };

    (void) state;
    assert_int_equal(pw_labels_sort(l, 3), PW_EEXIST);
    assert_string_equal(l[0].name, "a");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_key_round_trip),
        cmocka_unit_test(test_key_parse_rejects),
        cmocka_unit_test(test_duplicate_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
