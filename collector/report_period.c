/*
 * report_period.c - the report time zone and periods (report.h).
 *
 * Why a table: glibc's only zone API is the process-wide TZ variable
 * (setenv + tzset + mktime), which races with any other thread using it.
 * The zone is loaded once at start into the UTC offsets of every local
 * midnight from 1970 to 2199, kept as runs (a zone changes its offset a
 * few dozen times at most), and everything after reads that table alone.
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RP_DAY_MS INT64_C(86400000)
#define RP_FIRST_YEAR 1970
#define RP_LAST_YEAR  2199

typedef struct rp_run { int64_t day; int64_t offset_ms; } rp_run;   /* from day on: local = utc + offset */

struct pw_report_tz {
    char    name[64];
    rp_run *runs;
    size_t  nruns;
};

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
int64_t
pw_report_days_from_civil(int y, int m, int d)
{
    int64_t  yy = y - (m <= 2);
    int64_t  era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned) (yy - era * 400);
    unsigned doy = (unsigned) ((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t) doe - 719468;
}

void
pw_report_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t  era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned) (z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = (int) ((int64_t) yoe + era * 400 + (*m <= 2));
}

static bool
rp_is_utc(const char *n)
{
    return n[0] == '\0' || strcmp(n, "UTC") == 0 || strcmp(n, "Etc/UTC") == 0 || strcmp(n, "Z") == 0
           || strcmp(n, "UTC0") == 0 || strcmp(n, "GMT") == 0;
}

pw_err
pw_report_tz_load(const char *name, pw_report_tz **out, char *msg, size_t msglen)
{
    pw_report_tz *tz = NULL;
    char          path[512], *old = NULL;
    const char   *prev;
    int64_t       d0 = pw_report_days_from_civil(RP_FIRST_YEAR, 1, 1);
    int64_t       d1 = pw_report_days_from_civil(RP_LAST_YEAR + 1, 1, 1);
    pw_err        e = PW_ENOMEM;
    size_t        cap = 0;

    *out = NULL;
    if (name == NULL)
        name = PW_REPORT_TZ_DEFAULT;
    if (strlen(name) >= sizeof tz->name || strstr(name, "..") != NULL || name[0] == '/') {
        snprintf(msg, msglen, "report_timezone \"%s\": not a zone name (Asia/Shanghai, UTC)", name);
        return PW_EINVAL;
    }
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    if (!rp_is_utc(name) && access(path, R_OK) != 0) {
        snprintf(msg, msglen, "report_timezone \"%s\": no such zone in /usr/share/zoneinfo "
                 "(install tzdata, or use e.g. Asia/Shanghai or UTC)", name);
        return PW_EINVAL;
    }
    if ((tz = calloc(1, sizeof *tz)) == NULL)
        goto out;
    snprintf(tz->name, sizeof tz->name, "%s", rp_is_utc(name) ? "UTC" : name);
    if (rp_is_utc(name)) {
        if ((tz->runs = calloc(1, sizeof *tz->runs)) == NULL)
            goto out;
        tz->runs[0] = (rp_run) { d0, 0 };
        tz->nruns = 1;
        *out = tz;
        return PW_OK;
    }
    prev = getenv("TZ");
    if (prev != NULL && (old = strdup(prev)) == NULL)
        goto out;
    setenv("TZ", name, 1);
    tzset();
    for (int64_t d = d0; d < d1; d++) {
        struct tm tm = { 0 };
        int       y, m, dd;
        time_t    t;
        int64_t   off;

        pw_report_civil_from_days(d, &y, &m, &dd);
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = dd;
        tm.tm_isdst = -1;
        t = mktime(&tm);
        off = d * RP_DAY_MS - (int64_t) t * 1000;
        if (tz->nruns == 0 || tz->runs[tz->nruns - 1].offset_ms != off) {
            if (tz->nruns == cap) {
                size_t  nc = cap ? cap * 2 : 16;
                rp_run *p = realloc(tz->runs, nc * sizeof *p);

                if (p == NULL) {
                    e = PW_ENOMEM;
                    break;
                }
                tz->runs = p;
                cap = nc;
            }
            tz->runs[tz->nruns++] = (rp_run) { d, off };
        }
    }
    if (old != NULL)
        setenv("TZ", old, 1);
    else
        unsetenv("TZ");
    tzset();
    if (tz->nruns == 0)
        goto out;
    *out = tz;
    tz = NULL;
    e = PW_OK;
out:
    free(old);
    pw_report_tz_free(tz);
    if (e == PW_ENOMEM)
        snprintf(msg, msglen, "report_timezone: out of memory");
    return e;
}

void
pw_report_tz_free(pw_report_tz *tz)
{
    if (tz == NULL)
        return;
    free(tz->runs);
    free(tz);
}

const char *
pw_report_tz_name(const pw_report_tz *tz)
{
    return tz->name;
}

static int64_t
rp_offset_of_day(const pw_report_tz *tz, int64_t day)
{
    size_t lo = 0, hi = tz->nruns;

    while (hi - lo > 1) {               /* the last run starting at or before day */
        size_t mid = (lo + hi) / 2;

        if (tz->runs[mid].day <= day)
            lo = mid;
        else
            hi = mid;
    }
    return tz->runs[lo].offset_ms;
}

int64_t
pw_report_tz_midnight(const pw_report_tz *tz, int64_t day)
{
    return day * RP_DAY_MS - rp_offset_of_day(tz, day);
}

int64_t
pw_report_tz_day(const pw_report_tz *tz, int64_t ms)
{
    int64_t d = ms >= 0 ? ms / RP_DAY_MS : -((-ms + RP_DAY_MS - 1) / RP_DAY_MS);

    /* the local day is d - 1, d or d + 1: the one whose midnight is the last <= ms */
    if (pw_report_tz_midnight(tz, d + 1) <= ms)
        return d + 1;
    if (pw_report_tz_midnight(tz, d) <= ms)
        return d;
    return d - 1;
}

static const char *const rp_kind[PW_REPORT_KIND_COUNT_] = { "monthly", "quarterly", "annual", "service-year" };

const char *
pw_report_kind_name(pw_report_kind k)
{
    return (unsigned) k < PW_REPORT_KIND_COUNT_ ? rp_kind[k] : "?";
}

pw_report_kind
pw_report_kind_parse(const char *s)
{
    for (int k = 0; k < PW_REPORT_KIND_COUNT_; k++)
        if (strcmp(s, rp_kind[k]) == 0)
            return (pw_report_kind) k;
    if (strcmp(s, "service_year") == 0 || strcmp(s, "serviceyear") == 0)
        return PW_REPORT_SERVICE_YEAR;
    return PW_REPORT_KIND_COUNT_;
}

static bool
rp_int(const char *s, size_t n, int *out)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return n > 0;
}

static void
rp_fill(pw_report_period *p, pw_report_kind k, int y0, int m0, int months, const pw_report_tz *tz)
{
    int y1 = y0 + (m0 - 1 + months) / 12, m1 = (m0 - 1 + months) % 12 + 1;

    p->kind = k;
    p->day0 = pw_report_days_from_civil(y0, m0, 1);
    p->day1 = pw_report_days_from_civil(y1, m1, 1);
    p->from_ms = pw_report_tz_midnight(tz, p->day0);
    p->to_ms = pw_report_tz_midnight(tz, p->day1);
}

pw_err
pw_report_period_parse(pw_report_kind k, const char *s, const pw_report_tz *tz, pw_report_period *out,
                       char *msg, size_t msglen)
{
    size_t n = strlen(s);
    int    y = 0, m = 0, q = 0;

    memset(out, 0, sizeof *out);
    switch (k) {
    case PW_REPORT_MONTHLY:
        if (n == 7 && s[4] == '-' && rp_int(s, 4, &y) && rp_int(s + 5, 2, &m) && m >= 1 && m <= 12
            && y >= 2000 && y <= 2199) {
            rp_fill(out, k, y, m, 1, tz);
            snprintf(out->label, sizeof out->label, "%04d-%02d", y, m);
            return PW_OK;
        }
        snprintf(msg, msglen, "--month \"%s\": expected YYYY-MM, e.g. 2026-10", s);
        return PW_EINVAL;
    case PW_REPORT_QUARTERLY:
        if (n == 7 && s[4] == '-' && (s[5] == 'Q' || s[5] == 'q') && rp_int(s, 4, &y) && rp_int(s + 6, 1, &q)
            && q >= 1 && q <= 4 && y >= 2000 && y <= 2199) {
            rp_fill(out, k, y, 3 * (q - 1) + 1, 3, tz);
            snprintf(out->label, sizeof out->label, "%04d-Q%d", y, q);
            return PW_OK;
        }
        if (n == 9 && (s[0] == 'S' || s[0] == 's') && (s[1] == 'Y' || s[1] == 'y') && s[6] == '-'
            && (s[7] == 'Q' || s[7] == 'q') && rp_int(s + 2, 4, &y) && rp_int(s + 8, 1, &q) && q >= 1 && q <= 4
            && y >= 2000 && y <= 2198) {
            m = 9 + 3 * (q - 1);
            rp_fill(out, k, y + (m - 1) / 12, (m - 1) % 12 + 1, 3, tz);
            snprintf(out->label, sizeof out->label, "SY%04d-Q%d", y, q);
            return PW_OK;
        }
        snprintf(msg, msglen, "--quarter \"%s\": expected YYYY-Qn (calendar, 2026-Q4 = Oct-Dec) or "
                 "SYYYYY-Qn (service year, SY2026-Q2 = Dec 2026-Feb 2027)", s);
        return PW_EINVAL;
    case PW_REPORT_ANNUAL:
    case PW_REPORT_SERVICE_YEAR:
        if (n == 4 && rp_int(s, 4, &y) && y >= 2000 && y <= 2198) {
            if (k == PW_REPORT_ANNUAL) {
                rp_fill(out, k, y, 1, 12, tz);
                snprintf(out->label, sizeof out->label, "%04d", y);
            } else {
                rp_fill(out, k, y, 9, 12, tz);
                snprintf(out->label, sizeof out->label, "SY%04d", y);
            }
            return PW_OK;
        }
        snprintf(msg, msglen, "--year \"%s\": expected YYYY, e.g. 2026%s", s,
                 k == PW_REPORT_SERVICE_YEAR ? " (the service year 2026-09-01 ... 2027-08-31)" : "");
        return PW_EINVAL;
    default:
        snprintf(msg, msglen, "unknown report kind");
        return PW_EINVAL;
    }
}

void
pw_report_period_prev_month(const pw_report_tz *tz, int64_t ms, pw_report_period *out)
{
    int y, m, d;

    pw_report_civil_from_days(pw_report_tz_day(tz, ms), &y, &m, &d);
    if (--m == 0) {
        m = 12;
        y--;
    }
    memset(out, 0, sizeof *out);
    rp_fill(out, PW_REPORT_MONTHLY, y, m, 1, tz);
    snprintf(out->label, sizeof out->label, "%04d-%02d", y, m);
}
