/* clock.c - time helpers; see clock.h. */
#include "clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t
pw_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
pw_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec
pw_mono_deadline(int64_t ms)
{
    struct timespec t;

    if (ms < 0)
        ms = 0;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t) (ms / 1000);
    t.tv_nsec += (long) (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static int64_t
unit_ms(const char *u, size_t n)
{
    static const struct { const char *name; int64_t ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
        { "d", 86400000 }, { "w", 604800000 }, { "y", 31536000000 },
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == n && strncmp(units[i].name, u, n) == 0)
            return units[i].ms;
    return 0;
}

pw_err
pw_duration_parse(const char *s, int64_t *out)
{
    double total = 0;
    int    parts = 0;

    if (s == NULL || *s == '\0')
        return PW_EINVAL;
    while (*s != '\0') {
        char  *end;
        double v;
        size_t ulen = 0;
        int64_t mult;

        if (!isdigit((unsigned char) *s) && *s != '.')
            return PW_EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (end == s || errno != 0 || v < 0)
            return PW_EINVAL;
        while (isalpha((unsigned char) end[ulen]))
            ulen++;
        if (ulen == 0) {
            /* A bare number is seconds, and only as the whole string. */
            if (parts > 0 || end[0] != '\0')
                return PW_EINVAL;
            mult = 1000;
        } else if ((mult = unit_ms(end, ulen)) == 0) {
            return PW_EINVAL;
        }
        total += v * (double) mult;
        s = end + ulen;
        parts++;
    }
    if (total > 9.0e15)
        return PW_EINVAL;
    *out = (int64_t) total;
    return PW_OK;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t  era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned) (y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

static pw_err
parse_iso(const char *s, int64_t *out)
{
    int  y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, n = 0;
    char sep;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return PW_EINVAL;
    s += n;
    if (*s == 'T' || *s == ' ') {
        sep = *s++;
        (void) sep;
        if (sscanf(s, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
            return PW_EINVAL;
        s += n;
        if (*s == ':') {
            if (sscanf(s + 1, "%2d%n", &sec, &n) != 1 || n != 2)
                return PW_EINVAL;
            s += 3;
            if (*s == '.') {
                int digits = 0;
                s++;
                while (isdigit((unsigned char) *s)) {
                    if (digits < 3)
                        ms = ms * 10 + (*s - '0');
                    digits++;
                    s++;
                }
                if (digits == 0)
                    return PW_EINVAL;
                for (; digits < 3; digits++)
                    ms *= 10;
            }
        }
        if (*s == 'Z')
            s++;
    }
    if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return PW_EINVAL;
    *out = ((days_from_civil(y, (unsigned) mo, (unsigned) d) * 24 + h) * 60 + mi) * 60000
        + (int64_t) sec * 1000 + ms;
    return PW_OK;
}

pw_err
pw_time_parse(const char *s, int64_t now, int64_t *out)
{
    int64_t d;
    size_t  len;

    if (s == NULL || *s == '\0')
        return PW_EINVAL;
    if (strcmp(s, "now") == 0) {
        *out = now;
        return PW_OK;
    }
    if (s[0] == '-' || s[0] == '+') {
        if (pw_duration_parse(s + 1, &d) != PW_OK)
            return PW_EINVAL;
        *out = s[0] == '-' ? now - d : now + d;
        return PW_OK;
    }
    len = strspn(s, "0123456789");
    if (len == strlen(s) && len > 0 && len <= 16) {
        long long v = strtoll(s, NULL, 10);
        *out = len >= 12 ? (int64_t) v : (int64_t) v * 1000;
        return PW_OK;
    }
    return parse_iso(s, out);
}

size_t
pw_time_format_iso(int64_t ms, char *buf, size_t len)
{
    time_t    secs = (time_t) (ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int       frac = (int) (ms - (int64_t) secs * 1000);
    struct tm tm;
    int       n;

    if (len < 25 || gmtime_r(&secs, &tm) == NULL)
        return 0;
    n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return n > 0 && (size_t) n < len ? (size_t) n : 0;
}
