/*
 * forecast_test.c - the forecast on synthetic daily series with known
 * answers: linear growth, flat, decreasing, linear plus one big step,
 * noise, gaps, too few days, already above the threshold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "forecast.h"

#define EPS 1e-9

/* 30 days of a + b * i. */
static void
linear(double *d, size_t n, double a, double b)
{
    for (size_t i = 0; i < n; i++)
        d[i] = a + b * (double) i;
}

static void
test_linear(void **state)
{
    double      d[30];
    pw_forecast f;

    (void) state;
    linear(d, 30, 0.30, 0.01);              /* latest 0.59 */
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_true(f.has);
    assert_float_equal(f.slope, 0.01, EPS);
    assert_float_equal(f.latest, 0.59, EPS);
    assert_float_equal(f.days, 11, 1e-6);   /* (0.70 - 0.59) / 0.01 */
    assert_int_equal(f.ndays, 30);
    assert_int_equal(pw_forecast_days(d, 30, 1.0, &f), PW_OK);
    assert_true(f.has);
    assert_float_equal(f.days, 41, 1e-6);   /* (1.00 - 0.59) / 0.01 */
}

static void
test_flat_and_decreasing(void **state)
{
    double      d[30];
    pw_forecast f;

    (void) state;
    linear(d, 30, 0.5, 0);
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_false(f.has);
    assert_true(isnan(f.days));
    assert_float_equal(f.slope, 0, EPS);
    linear(d, 30, 0.6, -0.005);
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_false(f.has);
    assert_true(f.slope < 0);
}

/* Least-squares slope, to show what a regression would make of the step. */
static double
ls_slope(const double *d, size_t n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;

    for (size_t i = 0; i < n; i++) {
        sx += (double) i;
        sy += d[i];
        sxx += (double) i * (double) i;
        sxy += (double) i * d[i];
    }
    return ((double) n * sxy - sx * sy) / ((double) n * sxx - sx * sx);
}

static void
test_step(void **state)
{
    double      d[30];
    pw_forecast f;

    (void) state;
    /* 0.2 + 0.005 / day, and a VM of 20 % delivered on day 15. */
    linear(d, 30, 0.2, 0.005);
    for (size_t i = 15; i < 30; i++)
        d[i] += 0.2;
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_true(f.has);
    assert_float_equal(f.slope, 0.005, EPS);          /* the step does not move the median */
    assert_float_equal(f.latest, 0.545, EPS);
    assert_float_equal(f.days, 31, 1e-6);              /* (0.7 - 0.545) / 0.005 */
    /* A least-squares line would read the step as trend: about 4x the slope. */
    assert_true(ls_slope(d, 30) > 3 * 0.005);
    assert_int_equal(pw_forecast_days(d, 30, 1.0, &f), PW_OK);
    assert_float_equal(f.days, 91, 1e-6);
    /* The step as the latest day: the value jumps, the slope stays. */
    linear(d, 30, 0.2, 0.005);
    d[29] += 0.3;
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_float_equal(f.slope, 0.005, EPS);
    assert_float_equal(f.days, (0.7 - (0.2 + 0.145 + 0.3)) / 0.005, 1e-6);
}

static void
test_noisy(void **state)
{
    double      d[30];
    pw_forecast f;
    uint32_t    x = 12345;

    (void) state;
    /* 0.01 / day with up to +-0.004 of noise (a fixed LCG: repeatable). */
    for (size_t i = 0; i < 30; i++) {
        x = x * 1103515245u + 12345u;
        d[i] = 0.3 + 0.01 * (double) i + ((double) (x >> 16 & 0x7fff) / 32767.0 - 0.5) * 0.008;
    }
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_true(f.has);
    assert_true(fabs(f.slope - 0.01) < 0.004);
    /* (0.7 - ~0.59) / ~0.01: about 11 days; noise moves it a few. */
    assert_true(f.days > 6 && f.days < 20);
}

static void
test_gaps(void **state)
{
    double      d[30];
    pw_forecast f;

    (void) state;
    linear(d, 30, 0.30, 0.01);
    for (size_t i = 3; i < 12; i++)
        d[i] = NAN;                          /* an outage of 9 days */
    d[20] = NAN;
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_true(f.has);
    assert_float_equal(f.slope, 0.01, EPS);
    assert_float_equal(f.days, 11, 1e-6);
    assert_int_equal(f.ndays, 20);
    /* The last 3 days missing: the latest value (day 26, 0.56) is projected to day 29. */
    linear(d, 30, 0.30, 0.01);
    d[27] = d[28] = d[29] = NAN;
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_float_equal(f.latest, 0.56, EPS);
    assert_float_equal(f.days, 14 - 3, 1e-6);
}

static void
test_few_days_and_above(void **state)
{
    double      d[30];
    pw_forecast f;

    (void) state;
    for (size_t i = 0; i < 30; i++)
        d[i] = NAN;
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_false(f.has);
    assert_int_equal(f.ndays, 0);
    assert_true(isnan(f.latest));
    /* 6 days of steady growth: not enough for a trend. */
    for (size_t i = 24; i < 30; i++)
        d[i] = 0.3 + 0.05 * (double) (i - 24);
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_false(f.has);
    assert_int_equal(f.ndays, 6);
    d[23] = 0.25;                               /* the 7th */
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_true(f.has);
    assert_float_equal(f.days, (0.7 - 0.55) / 0.05, 1e-6);
    /* Above the threshold: 0 days, even falling, even with one day. */
    linear(d, 30, 0.9, -0.001);
    assert_int_equal(pw_forecast_days(d, 30, 0.7, &f), PW_OK);
    assert_true(f.has);
    assert_float_equal(f.days, 0, 0);
    assert_int_equal(pw_forecast_days((double[]) { 1.2 }, 1, 1.0, &f), PW_OK);
    assert_true(f.has);
    assert_float_equal(f.days, 0, 0);
    assert_true(isnan(f.slope));
}

static void
test_bad_input(void **state)
{
    double      d[2] = { 0.1, 0.2 }, s;
    pw_forecast f;

    (void) state;
    assert_int_equal(pw_forecast_days(d, 2, NAN, &f), PW_EINVAL);
    assert_false(f.has);
    assert_int_equal(pw_forecast_days(NULL, 3, 0.7, &f), PW_EINVAL);
    assert_int_equal(pw_forecast_days(d, PW_FORECAST_MAX_DAYS + 1, 0.7, &f), PW_EINVAL);
    assert_int_equal(pw_forecast_days(NULL, 0, 0.7, &f), PW_OK);
    assert_false(f.has);
    assert_int_equal(pw_forecast_slope(d, 1, &s), PW_ENOENT);
    assert_int_equal(pw_forecast_slope(d, 2, &s), PW_OK);
    assert_float_equal(s, 0.1, EPS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_flat_and_decreasing),
        cmocka_unit_test(test_step),
        cmocka_unit_test(test_noisy),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_few_days_and_above),
        cmocka_unit_test(test_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
