/* clock_test.c - durations, time points, ISO formatting and monotonic deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"

static void
test_durations(void **state)
{
    static const struct { const char *s; int64_t ms; } ok[] = {
        { "500ms", 500 }, { "10s", 10000 }, { "1.5m", 90000 }, { "2h", 7200000 },
        { "7d", 604800000 }, { "1w", 604800000 }, { "1h30m", 5400000 }, { "10", 10000 },
        { "0.25s", 250 },
    };
    static const char *const bad[] = { "", "s", "10x", "-5s", "1h 2m", "10s5", "abc", "1e400s" };
    int64_t v;

    (void) state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(pw_duration_parse(ok[i].s, &v), PW_OK);
        assert_int_equal(v, ok[i].ms);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (pw_duration_parse(bad[i], &v) != PW_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_time_points(void **state)
{
    const int64_t now = INT64_C(1793000000000);
    int64_t       v;

    (void) state;
    assert_int_equal(pw_time_parse("now", now, &v), PW_OK);
    assert_int_equal(v, now);
    assert_int_equal(pw_time_parse("-1h", now, &v), PW_OK);
    assert_int_equal(v, now - 3600000);
    assert_int_equal(pw_time_parse("+30m", now, &v), PW_OK);
    assert_int_equal(v, now + 1800000);
    assert_int_equal(pw_time_parse("2026-11-01T00:00:00Z", now, &v), PW_OK);
    assert_int_equal(v, INT64_C(1793491200000));
    assert_int_equal(pw_time_parse("2026-11-01", now, &v), PW_OK);
    assert_int_equal(v, INT64_C(1793491200000));
    assert_int_equal(pw_time_parse("2026-11-01 08:30:15.5", now, &v), PW_OK);
    assert_int_equal(v, INT64_C(1793491200000) + 30615500);
    assert_int_equal(pw_time_parse("2000-02-29T00:00:00Z", now, &v), PW_OK);
    assert_int_equal(v, INT64_C(951782400000));
    assert_int_equal(pw_time_parse("1793491200", now, &v), PW_OK);       /* seconds */
    assert_int_equal(v, INT64_C(1793491200000));
    assert_int_equal(pw_time_parse("1793491200123", now, &v), PW_OK);    /* ms */
    assert_int_equal(v, INT64_C(1793491200123));
    assert_int_equal(pw_time_parse("2026-13-01", now, &v), PW_EINVAL);
    assert_int_equal(pw_time_parse("yesterday", now, &v), PW_EINVAL);
    assert_int_equal(pw_time_parse("-", now, &v), PW_EINVAL);
    assert_int_equal(pw_time_parse("2026-11-01T00:00:00+08:00", now, &v), PW_EINVAL);
}

static void
test_format(void **state)
{
    char buf[32];

    (void) state;
    assert_int_equal(pw_time_format_iso(INT64_C(1793491200123), buf, sizeof buf), 24);
    assert_string_equal(buf, "2026-11-01T00:00:00.123Z");
    assert_int_equal(pw_time_format_iso(0, buf, 10), 0);
    assert_true(pw_mono_ms() > 0 && pw_now_ms() > INT64_C(946684800000));
}

/* ns since an arbitrary origin, for comparing deadlines with the monotonic clock */
static int64_t
ts_ns(struct timespec t)
{
    return (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}

static void
test_mono_deadline(void **state)
{
    struct timespec now, d;
    const int64_t   ms[] = { 0, 1, 999, 1000, 1500, 86400001 };

    (void) state;
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        d = pw_mono_deadline(ms[i]);
        /* normalized, and ms after the clock read just before (no later than a second past it) */
        assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
        assert_true(ts_ns(d) - ts_ns(now) >= ms[i] * 1000000);
        assert_true(ts_ns(d) - ts_ns(now) < ms[i] * 1000000 + 1000000000);
    }
    /* a deadline in the past counts as now */
    clock_gettime(CLOCK_MONOTONIC, &now);
    d = pw_mono_deadline(-5000);
    assert_true(ts_ns(d) >= ts_ns(now) && ts_ns(d) - ts_ns(now) < 1000000000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_time_points),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_mono_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
