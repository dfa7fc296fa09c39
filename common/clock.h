/*
 * clock.h - time in poolwatch: int64 milliseconds since the Unix epoch, UTC.
 */
#ifndef PW_CLOCK_H
#define PW_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pw_err.h"

/* Wall clock, ms since epoch (CLOCK_REALTIME). */
int64_t pw_now_ms(void);
/* Monotonic clock in ms, for intervals and deadlines. */
int64_t pw_mono_ms(void);
/*
 * CLOCK_MONOTONIC now + ms (ms < 0 counts as 0), as pthread_cond_timedwait
 * wants it on a condition variable set to that clock.
 */
struct timespec pw_mono_deadline(int64_t ms);

/*
 * Parses a duration: an integer or decimal followed by a unit, "500ms", "10s",
 * "1.5m", "2h", "7d", "1w", or several concatenated ("1h30m"). A bare number
 * is seconds. Writes milliseconds to *out. PW_EINVAL on anything else.
 */
pw_err pw_duration_parse(const char *s, int64_t *out);

/*
 * Parses a point in time relative to `now`: "now", "-1h" / "+30m" (duration
 * from now), an RFC 3339 / ISO 8601 UTC time ("2026-11-01T00:00:00Z",
 * "2026-11-01 00:00:00", "2026-11-01"), or Unix seconds / milliseconds
 * (a number of 12 or more digits is taken as ms). PW_EINVAL on anything else.
 */
pw_err pw_time_parse(const char *s, int64_t now, int64_t *out);

/*
 * Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (needs 25 bytes). Returns the
 * length written (0 if buf is too small).
 */
size_t pw_time_format_iso(int64_t ms, char *buf, size_t len);

#endif
