/*
 * forecast.h - days until a capacity ratio reaches a threshold, from the
 * trend of its daily maxima (pool capacity, collector/README.md "Pool
 * capacity").
 *
 * Input: one value per day, oldest first, the last being the latest day
 * (today so far); NaN marks a day without data. Method:
 *   - slope = the median of the day-to-day differences of consecutive days
 *     with data (a difference across a gap of g days counts as g equal
 *     differences of d / g each, so gaps neither inflate nor drop the trend);
 *   - days = (threshold - latest) / slope, counted from the latest day with
 *     data, minus the days since then (a stale latest value is projected to
 *     the last day of the input);
 *   - the latest value at or above the threshold: 0 days (a fact, not a
 *     forecast: needs just that value);
 *   - otherwise no forecast when fewer than PW_FORECAST_MIN_DAYS days have
 *     data or the slope is <= 0 (not growing: it never gets there).
 * A one-off step (a large VM delivered) is one difference among up to 29:
 * it moves the median by at most one rank, where a least-squares slope
 * would take a share of the whole step into the trend.
 *
 * Pure functions: no I/O, no allocation beyond the call, thread-safe.
 */
#ifndef PW_FORECAST_H
#define PW_FORECAST_H

#include <stdbool.h>
#include <stddef.h>

#include "pw_err.h"

/* Days with data needed for a trend. */
#define PW_FORECAST_MIN_DAYS 7
/* Days of input the collector uses (the last 30 days, today included). */
#define PW_FORECAST_DAYS     30
/* Longest input accepted. */
#define PW_FORECAST_MAX_DAYS 400

typedef struct pw_forecast {
    bool   has;          /* false: no forecast ("-"); days is then NaN */
    double days;         /* days from the last input day until threshold; 0 if reached */
    double slope;        /* per day (NaN when fewer than 2 days have data) */
    double latest;       /* the latest daily value (NaN if none) */
    size_t ndays;        /* days with data */
} pw_forecast;

/*
 * The median day-to-day difference of daily[0..n) as described above, into
 * *slope; PW_ENOENT when fewer than 2 days have data, PW_EINVAL for n above
 * PW_FORECAST_MAX_DAYS or daily NULL with n > 0.
 */
pw_err pw_forecast_slope(const double *daily, size_t n, double *slope);

/*
 * Forecast for threshold (a ratio, 0.7 for 70 %). Always fills *out;
 * returns PW_EINVAL (and no forecast) for a bad input as above or a
 * threshold that is not finite.
 */
pw_err pw_forecast_days(const double *daily, size_t n, double threshold, pw_forecast *out);

#endif
