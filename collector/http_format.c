/*
 * http_format.c - writing responses: the bounded body buffer, JSON through
 * jansson, and numbers the way Prometheus' API writes them.
 *
 * Big results (a matrix of millions of points) are written straight into
 * the buffer, number by number: a jansson tree would cost ~100 bytes per
 * point. Strings - label names and values, messages - always go through
 * jansson, so escaping is never hand-made.
 */
#include "http.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- body buffer ------------------------------------------------------------ */

pw_err
pw_http_buf_add(pw_http_buf *b, const void *s, size_t n)
{
    if (b->max > 0 && n > b->max - b->len)
        return PW_ETOOBIG;
    if (n + 1 > b->cap - b->len || b->p == NULL) {
        size_t cap = b->cap ? b->cap : 4096;
        char  *p;

        while (cap - b->len < n + 1)
            cap *= 2;
        if ((p = realloc(b->p, cap)) == NULL)
            return PW_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return PW_OK;
}

pw_err
pw_http_buf_adds(pw_http_buf *b, const char *s)
{
    return pw_http_buf_add(b, s, strlen(s));
}

pw_err
pw_http_buf_addf(pw_http_buf *b, const char *fmt, ...)
{
    char    small[512], *big = NULL;
    va_list ap;
    int     n;
    pw_err  e;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PW_EINVAL;
    if ((size_t) n < sizeof small)
        return pw_http_buf_add(b, small, (size_t) n);
    if ((big = malloc((size_t) n + 1)) == NULL)
        return PW_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t) n + 1, fmt, ap);
    va_end(ap);
    e = pw_http_buf_add(b, big, (size_t) n);
    free(big);
    return e;
}

typedef struct hf_dump hf_dump;
struct hf_dump {
    pw_http_buf *b;
    pw_err       e;
};

static int
hf_dump_cb(const char *s, size_t n, void *ctx)
{
    hf_dump *d = ctx;

    if ((d->e = pw_http_buf_add(d->b, s, n)) != PW_OK)
        return -1;
    return 0;
}

pw_err
pw_http_buf_json(pw_http_buf *b, const json_t *j)
{
    hf_dump d = { .b = b, .e = PW_OK };
    size_t  len = b->len;

    if (json_dump_callback(j, hf_dump_cb, &d, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        b->len = len;           /* nothing half-written */
        if (b->p != NULL)
            b->p[len] = '\0';
        return d.e != PW_OK ? d.e : PW_EPROTO;
    }
    return PW_OK;
}

pw_err
pw_http_buf_jstr(pw_http_buf *b, const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    pw_err  e;

    if (j == NULL)
        return PW_EPROTO;       /* not UTF-8 (or no memory) */
    e = pw_http_buf_json(b, j);
    json_decref(j);
    return e;
}

void
pw_http_buf_reset(pw_http_buf *b)
{
    b->len = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

void
pw_http_buf_free(pw_http_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- Prometheus numbers -------------------------------------------------------- */

size_t
pw_prom_value(double v, char *buf, size_t len)
{
    char   e[40], digits[20];
    size_t nd = 0, o = 0;
    int    exp10, prec;
    char  *p;

    if (isnan(v))
        return (size_t) snprintf(buf, len, "NaN");
    if (isinf(v))
        return (size_t) snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    /* The shortest %e that reads back exactly: Go's shortest formatting. */
    for (prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e is "[-]d[.ddd]e[+-]xx": take the digits and the exponent apart. */
    p = e;
    if (*p == '-')
        p++;
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (len < PW_PROM_VALUE_LEN) {
        if (len > 0)
            buf[0] = '\0';
        return 0;
    }
    if (signbit(v))
        buf[o++] = '-';
    if (exp10 < 0) {            /* 0.000ddd */
        buf[o++] = '0';
        buf[o++] = '.';
        for (int i = -1; i > exp10; i--)
            buf[o++] = '0';
        memcpy(buf + o, digits, nd);
        o += nd;
    } else {
        for (size_t i = 0; i < nd || i <= (size_t) exp10; i++) {
            if (i == (size_t) exp10 + 1)
                buf[o++] = '.';
            buf[o++] = i < nd ? digits[i] : '0';
        }
    }
    buf[o] = '\0';
    return o;
}

size_t
pw_prom_ts(int64_t ms, char *buf, size_t len)
{
    /* Prometheus' jsonutil.MarshalTimestamp: integer seconds, ".mmm" if not whole. */
    const char *sign = ms < 0 ? "-" : "";
    uint64_t    a = ms < 0 ? (uint64_t) 0 - (uint64_t) ms : (uint64_t) ms;

    if (a % 1000 == 0)
        return (size_t) snprintf(buf, len, "%s%llu", sign, (unsigned long long) (a / 1000));
    return (size_t) snprintf(buf, len, "%s%llu.%03u", sign, (unsigned long long) (a / 1000),
                             (unsigned) (a % 1000));
}

/* ---- answers ----------------------------------------------------------------- */

void
pw_http_error(pw_http_call *c, int status, const char *type, const char *fmt, ...)
{
    char    msg[1024];
    va_list ap;
    json_t *j;
    size_t  n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->status = status;
    c->content_type = "application/json";
    n = strlen(msg) < sizeof c->detail ? strlen(msg) : sizeof c->detail - 1;
    memcpy(c->detail, msg, n);      /* cut; the audit log stores broken UTF-8 as '?' */
    c->detail[n] = '\0';
    pw_http_buf_reset(&c->body);
    /* The message may quote the caller's bytes: jansson refuses what is not UTF-8. */
    j = json_pack("{s:s, s:s, s:s}", "status", "error", "errorType", type, "error", msg);
    if (j == NULL)
        j = json_pack("{s:s, s:s, s:s}", "status", "error", "errorType", type, "error",
                      "(message not UTF-8)");
    c->body.max = 0;            /* an error always fits */
    if (j == NULL || pw_http_buf_json(&c->body, j) != PW_OK) {
        pw_http_buf_reset(&c->body);
        pw_http_buf_adds(&c->body, "{\"status\":\"error\",\"errorType\":\"internal\","
                                   "\"error\":\"out of memory\"}");
    }
    json_decref(j);
}

void
pw_http_success(pw_http_call *c, json_t *data)
{
    json_t *j = json_object();
    pw_err  e = PW_ENOMEM;

    if (j != NULL && data != NULL && json_object_set_new(j, "status", json_string("success")) == 0
        && json_object_set_new(j, "data", data) == 0) {
        data = NULL;
        pw_http_buf_reset(&c->body);
        e = pw_http_buf_json(&c->body, j);
    }
    json_decref(data);
    json_decref(j);
    if (e == PW_ETOOBIG)
        pw_http_error(c, 422, "execution", "the result is larger than the response limit "
                      "(%zu MiB); narrow the request", c->body.max >> 20);
    else if (e == PW_EPROTO)
        pw_http_error(c, 500, "internal", "a value of the result is not valid UTF-8");
    else if (e != PW_OK)
        pw_http_error(c, 503, "unavailable", "out of memory");
    else
        c->status = 200;
}

void
pw_http_set_object(pw_http_call *c, const char *s)
{
    size_t n, i = 0, o = 0, cap = sizeof c->object - 1;

    if (s == NULL) {
        c->object[0] = '\0';
        return;
    }
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    /* Copy whole UTF-8 characters only; control bytes and broken sequences become '?'. */
    while (i < n) {
        unsigned char ch = (unsigned char) s[i];
        size_t        l = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3
                          : (ch >> 3) == 30 ? 4 : 0;
        bool          ok = l > 0 && i + l <= n;

        for (size_t k = 1; ok && k < l; k++)
            ok = ((unsigned char) s[i + k] >> 6) == 2;
        if (!ok || (l == 1 && ch < 0x20)) {
            if (o + 1 > cap)
                break;
            c->object[o++] = ch == '\n' || ch == '\t' || ch == '\r' ? ' ' : '?';
            i += 1;
            continue;
        }
        if (o + l > cap)
            break;
        memcpy(c->object + o, s + i, l);
        o += l;
        i += l;
    }
    c->object[o] = '\0';
}
