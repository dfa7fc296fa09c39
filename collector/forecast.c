/*
 * forecast.c - days until a threshold from the median daily difference
 * (forecast.h). No allocation: the input is bounded, so the differences fit
 * in an array on the stack (PW_FORECAST_MAX_DAYS doubles).
 */
#include "forecast.h"
#include "sort.h"

#include <math.h>
#include <stdlib.h>

static int
fc_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

pw_err
pw_forecast_slope(const double *daily, size_t n, double *slope)
{
    double d[PW_FORECAST_MAX_DAYS];
    size_t nd = 0, prev = 0;
    bool   have = false;

    *slope = NAN;
    if (n > PW_FORECAST_MAX_DAYS || (daily == NULL && n > 0))
        return PW_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(daily[i]))
            continue;
        if (have) {
            /* A gap of g days stands for g steps of the same size. */
            size_t g = i - prev;
            double step = (daily[i] - daily[prev]) / (double) g;

            for (size_t k = 0; k < g; k++)
                d[nd++] = step;
        }
        prev = i;
        have = true;
    }
    if (nd == 0)
        return PW_ENOENT;
    pw_qsort(d, nd, sizeof d[0], fc_cmp);
    *slope = nd % 2 ? d[nd / 2] : (d[nd / 2 - 1] + d[nd / 2]) / 2;
    return PW_OK;
}

pw_err
pw_forecast_days(const double *daily, size_t n, double threshold, pw_forecast *out)
{
    size_t last = 0;
    pw_err e;

    *out = (pw_forecast) { .has = false, .days = NAN, .slope = NAN, .latest = NAN };
    if (n > PW_FORECAST_MAX_DAYS || (daily == NULL && n > 0) || !isfinite(threshold))
        return PW_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (isfinite(daily[i])) {
            out->ndays++;
            last = i;
        }
    if (out->ndays == 0)
        return PW_OK;
    out->latest = daily[last];
    e = pw_forecast_slope(daily, n, &out->slope);
    if (e != PW_OK && e != PW_ENOENT)
        return e;
    if (out->latest >= threshold) {
        out->has = true;
        out->days = 0;
        return PW_OK;
    }
    if (out->ndays < PW_FORECAST_MIN_DAYS || !(out->slope > 0))
        return PW_OK;
    out->days = (threshold - out->latest) / out->slope - (double) (n - 1 - last);
    if (out->days < 0)
        out->days = 0;
    out->has = true;
    return PW_OK;
}
