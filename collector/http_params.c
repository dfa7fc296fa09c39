/*
 * http_params.c - the pure parts of reading a request: form and query-string
 * parameters, URL paths, bearer tokens, and times and durations the way
 * Prometheus' HTTP API reads them (web/api/v1: parseTime, parseDuration), so
 * Grafana and other Prometheus clients get the answers they expect.
 */
#include "http.h"
#include "bytes.h"
#include "utf8.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ----------------------------------------------------------- */

/*
 * Decodes s (len bytes) into a new string: %XX escapes, and '+' as a space
 * when plus_space (forms; not paths). PW_EPROTO on a bad escape or a NUL.
 */
static pw_err
hp_unescape(const char *s, size_t len, bool plus_space, char **out)
{
    char  *d = malloc(len + 1);
    size_t j = 0;

    *out = NULL;
    if (d == NULL)
        return PW_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == '%') {
            int hi, lo;

            /* two hex digits must follow */
            if (i + 2 >= len || (hi = pw_hex_digit(s[i + 1])) < 0 || (lo = pw_hex_digit(s[i + 2])) < 0) {
                free(d);
                return PW_EPROTO;
            }
            c = (char) (hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0') {
            free(d);
            return PW_EPROTO;
        }
        d[j++] = c;
    }
    d[j] = '\0';
    *out = d;
    return PW_OK;
}

static pw_err
hp_params_push(pw_http_params *ps, char *name, char *value)
{
    if (ps->n == ps->cap) {
        size_t         cap = ps->cap ? ps->cap * 2 : 8;
        pw_http_param *v = realloc(ps->v, cap * sizeof *v);

        if (v == NULL)
            return PW_ENOMEM;
        ps->v = v;
        ps->cap = cap;
    }
    ps->v[ps->n].name = name;
    ps->v[ps->n].value = value;
    ps->n++;
    return PW_OK;
}

pw_err
pw_http_params_parse(pw_http_params *ps, const char *s, size_t len, char *errbuf, size_t errlen)
{
    size_t i = 0;

    while (i < len) {
        const char *pair = s + i, *amp = memchr(pair, '&', len - i), *eq;
        size_t      plen = amp != NULL ? (size_t) (amp - pair) : len - i;
        char       *name = NULL, *value = NULL;
        pw_err      e;

        i += plen + (amp != NULL);
        if (memchr(pair, ';', plen) != NULL) {
            /* Go (1.17+) refuses ';' as a separator; so does Prometheus. */
            if (errbuf != NULL)
                snprintf(errbuf, errlen, "invalid semicolon separator in query");
            return PW_EPROTO;
        }
        if (plen == 0)
            continue;
        if (ps->n >= PW_HTTP_MAX_PARAMS) {
            if (errbuf != NULL)
                snprintf(errbuf, errlen, "more than %d parameters", PW_HTTP_MAX_PARAMS);
            return PW_ETOOBIG;
        }
        eq = memchr(pair, '=', plen);
        if ((e = hp_unescape(pair, eq != NULL ? (size_t) (eq - pair) : plen, true, &name)) != PW_OK
            || (e = eq != NULL ? hp_unescape(eq + 1, plen - (size_t) (eq + 1 - pair), true, &value)
                               : hp_unescape("", 0, true, &value)) != PW_OK) {
            free(name);
            if (errbuf != NULL)
                snprintf(errbuf, errlen, "%s", e == PW_ENOMEM ? "out of memory"
                         : "invalid URL escape (a '%' must be followed by two hex digits; no %00)");
            return e;
        }
        /* Names and values are text: series hold UTF-8 only, and messages echo them. */
        if (!pw_utf8_valid((const unsigned char *) name, strlen(name))
            || !pw_utf8_valid((const unsigned char *) value, strlen(value))) {
            if (errbuf != NULL)
                snprintf(errbuf, errlen, "parameter is not valid UTF-8");
            free(name);
            free(value);
            return PW_EPROTO;
        }
        if ((e = hp_params_push(ps, name, value)) != PW_OK) {
            free(name);
            free(value);
            if (errbuf != NULL)
                snprintf(errbuf, errlen, "out of memory");
            return e;
        }
    }
    return PW_OK;
}

const char *
pw_http_get(const pw_http_params *ps, const char *name)
{
    return pw_http_param_nth(ps, name, 0);
}

size_t
pw_http_param_count(const pw_http_params *ps, const char *name)
{
    size_t n = 0;

    for (size_t i = 0; i < ps->n; i++)
        n += strcmp(ps->v[i].name, name) == 0;
    return n;
}

const char *
pw_http_param_nth(const pw_http_params *ps, const char *name, size_t nth)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->v[i].name, name) == 0 && nth-- == 0)
            return ps->v[i].value;
    return NULL;
}

void
pw_http_params_free(pw_http_params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].name);
        free(ps->v[i].value);
    }
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

pw_err
pw_http_path_decode(const char *s, size_t len, char **out)
{
    return hp_unescape(s, len, false, out);
}

/* ---- bearer token ------------------------------------------------------------ */

const char *
pw_http_bearer(const char *hdr, size_t *len)
{
    const char *tok;
    size_t      n = 0;

    if (hdr == NULL || strncasecmp(hdr, "Bearer", 6) != 0 || (hdr[6] != ' ' && hdr[6] != '\t'))
        return NULL;
    tok = hdr + 6;
    while (*tok == ' ' || *tok == '\t')
        tok++;
    while (tok[n] > 0x20 && tok[n] < 0x7f)
        n++;
    for (const char *p = tok + n; *p != '\0'; p++)
        if (*p != ' ' && *p != '\t')
            return NULL;        /* a blank inside the token, or a control byte */
    if (n == 0 || n > PW_HTTP_MAX_TOKEN)
        return NULL;
    *len = n;
    return tok;
}

/* ---- Prometheus times and durations ----------------------------------------- */

/* What Prometheus formats its minimum and maximum times as (clients send them back). */
#define HP_PROM_MIN_TIME "-292273086-05-16T16:47:06Z"
#define HP_PROM_MAX_TIME "292277025-08-18T07:12:54.999999999Z"

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t
hp_days_from_civil(int64_t y, int m, int d)
{
    int64_t  era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (unsigned) ((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

static bool
hp_digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* RFC 3339 as Go's time.Parse(time.RFC3339Nano) takes it; ms truncated like Prometheus. */
static pw_err
hp_rfc3339(const char *s, int64_t *ms)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int              y, mo, d, h, mi, sec, frac_ms = 0, oh = 0, om = 0, sign = 0, dim;
    const char      *p;

    if (strlen(s) < 20 || !hp_digits(s, 4, &y) || s[4] != '-' || !hp_digits(s + 5, 2, &mo)
        || s[7] != '-' || !hp_digits(s + 8, 2, &d) || s[10] != 'T' || !hp_digits(s + 11, 2, &h)
        || s[13] != ':' || !hp_digits(s + 14, 2, &mi) || s[16] != ':'
        || !hp_digits(s + 17, 2, &sec))
        return PW_EINVAL;
    if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
        return PW_EINVAL;
    dim = mdays[mo - 1] + (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    if (d < 1 || d > dim)
        return PW_EINVAL;
    p = s + 19;
    if (*p == '.') {
        int n = 0;

        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
        if (n == 0)
            return PW_EINVAL;
        for (; n < 3; n++)
            frac_ms *= 10;
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (!hp_digits(p + 1, 2, &oh) || p[3] != ':' || !hp_digits(p + 4, 2, &om) || oh > 23
            || om > 59)
            return PW_EINVAL;
        p += 6;
    } else {
        return PW_EINVAL;
    }
    if (*p != '\0')
        return PW_EINVAL;
    *ms = ((hp_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
            - sign * (oh * 3600 + om * 60)) * 1000) + frac_ms;
    return PW_OK;
}

/* A decimal number as strconv.ParseFloat reads it, minus hex, Inf and NaN. */
static bool
hp_float(const char *s, double *out)
{
    char *end;

    if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
        return false;
    errno = 0;
    *out = strtod(s, &end);
    return *end == '\0' && end != s && isfinite(*out);
}

pw_err
pw_prom_time_parse(const char *s, int64_t *ms)
{
    double v;

    if (s == NULL)
        return PW_EINVAL;
    if (hp_float(s, &v)) {
        double whole, frac = modf(v, &whole);

        if (whole <= (double) PW_PROM_MIN_TIME_MS / 1000)
            *ms = PW_PROM_MIN_TIME_MS;
        else if (whole >= (double) PW_PROM_MAX_TIME_MS / 1000)
            *ms = PW_PROM_MAX_TIME_MS;
        else    /* as Prometheus: the fraction rounded to the millisecond */
            *ms = (int64_t) whole * 1000 + (int64_t) llround(frac * 1000);
        return PW_OK;
    }
    if (strcmp(s, HP_PROM_MIN_TIME) == 0) {
        *ms = PW_PROM_MIN_TIME_MS;
        return PW_OK;
    }
    if (strcmp(s, HP_PROM_MAX_TIME) == 0) {
        *ms = PW_PROM_MAX_TIME_MS;
        return PW_OK;
    }
    return hp_rfc3339(s, ms);
}

/* Prometheus' model.ParseDuration: [0-9]+ then a unit, units largest first, each once. */
static pw_err
hp_prom_duration(const char *s, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t     ms;
    } units[] = {
        { "y", INT64_C(31536000000) }, { "w", INT64_C(604800000) }, { "d", INT64_C(86400000) },
        { "h", INT64_C(3600000) }, { "ms", 1 }, { "m", INT64_C(60000) }, { "s", 1000 },
    };
    /* Order in which units may appear: y w d h m s ms. */
    static const int rank[] = { 0, 1, 2, 3, 6, 4, 5 };
    const char      *p = s;
    int64_t          total = 0;
    int              last = -1;

    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return PW_OK;
    }
    if (*p == '\0')
        return PW_EINVAL;
    while (*p != '\0') {
        int64_t n = 0;
        size_t  u;

        if (*p < '0' || *p > '9')
            return PW_EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (n > INT64_C(100000000000))
                return PW_EINVAL;
            n = n * 10 + (*p - '0');
        }
        for (u = 0; u < sizeof units / sizeof units[0]; u++)
            if (strncmp(p, units[u].unit, strlen(units[u].unit)) == 0)
                break;
        if (u == sizeof units / sizeof units[0] || rank[u] <= last)
            return PW_EINVAL;
        last = rank[u];
        p += strlen(units[u].unit);
        if (n > PW_EXPR_MAX_RANGE_MS / units[u].ms)
            return PW_EINVAL;
        total += n * units[u].ms;
        if (total > PW_EXPR_MAX_RANGE_MS)
            return PW_EINVAL;
    }
    *ms = total;
    return PW_OK;
}

pw_err
pw_prom_duration_parse(const char *s, int64_t *ms)
{
    double v;

    if (s == NULL)
        return PW_EINVAL;
    if (hp_float(s, &v)) {
        if (v < 0 || v * 1000 > (double) PW_EXPR_MAX_RANGE_MS)
            return PW_EINVAL;
        *ms = (int64_t) (v * 1000);      /* truncated, as Prometheus' Duration / Millisecond */
        return PW_OK;
    }
    return hp_prom_duration(s, ms);
}
