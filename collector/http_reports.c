/*
 * http_reports.c - the utilization reports over HTTP (report.h,
 * report_archive.h; collector/README.md "Reports"):
 *
 *   GET /api/v1/reports/monthly?month=2026-10        also quarterly?quarter=2026-Q4|SY2026-Q2,
 *                                                    annual?year=2026, service-year?year=2026
 *       tenant   one unit's report (default: the whole cloud)
 *       format   json (default), csv, xlsx, html
 *       lang     zh (default), en
 *       as_of    make it as it would have been made then (Unix seconds, RFC 3339, now, -1d)
 *     json: {"status":"success","data":<the report's JSON>}; csv, xlsx, html: the file
 *     itself with its Content-Type and Content-Disposition: attachment.
 *   GET /api/v1/reports[?tenant=T]
 *     the archived monthly reports: {"status":"success","data":[{"month","file","sha256",
 *     "size","time","intact","url"}]}, every file checked against SHA256SUMS.
 *   GET /api/v1/reports/archive/<YYYY-MM>/<file>
 *     one archived file, checked against SHA256SUMS first (a changed file is refused, 500).
 *
 * Tenant scope, applied here and nowhere else: a tenant token gets its own
 * unit's report (no `tenant`, or its own) and its own archived files (named
 * for its unit: pw_report_archive_owned). Asking for another unit, the
 * whole cloud's archived files or another unit's is answered 403 whatever
 * exists, so nothing can be learnt about other units.
 *
 * The report is built in the request (a read transaction of its own), in
 * the collector's report time zone (--report-timezone).
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "report.h"
#include "report_archive.h"

/* The unit a caller's report is for: *tenant NULL = the whole cloud. false: answered (403). */
static bool
hr_tenant(pw_http_call *c, const char *requested, const char **tenant)
{
    switch (c->scope->kind) {
    case PW_SCOPE_ALL:
        *tenant = requested;
        return true;
    case PW_SCOPE_TENANT:
        if (requested != NULL && strcmp(requested, c->scope->tenant) != 0) {
            pw_http_error(c, 403, "forbidden", "a tenant token gets its own unit's reports only");
            return false;
        }
        *tenant = c->scope->tenant;
        return true;
    case PW_SCOPE_NONE:
    default:
        pw_http_error(c, 403, "forbidden", "no reports for this caller");
        return false;
    }
}

/*
 * Content-Disposition: attachment with the name twice: filename="..." in
 * ASCII (other bytes as '_', for old clients) and filename*=UTF-8''... with
 * every byte outside RFC 5987's attr-char percent-encoded.
 */
static void
hr_disposition(pw_http_call *c, const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    char             *d = c->disposition;
    size_t            n = 0, cap = sizeof c->disposition;

    n += (size_t) snprintf(d, cap, "attachment; filename=\"");
    for (const char *p = name; *p != '\0' && n + 2 < cap; p++) {
        unsigned char ch = (unsigned char) *p;

        d[n++] = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char) ch : '_';
    }
    n += (size_t) snprintf(d + n, n < cap ? cap - n : 0, "\"; filename*=UTF-8''");
    for (const char *p = name; *p != '\0' && n + 4 < cap; p++) {
        unsigned char ch = (unsigned char) *p;

        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || strchr("!#$&+-.^_`|~", ch) != NULL) {
            d[n++] = (char) ch;
        } else {
            d[n++] = '%';
            d[n++] = hex[ch >> 4];
            d[n++] = hex[ch & 15];
        }
    }
    d[n < cap ? n : cap - 1] = '\0';
    c->headers[0] = (pw_http_header) { "Content-Disposition", c->disposition };
}

/* The period's parameter for a kind: month, quarter or year. */
static const char *
hr_period_param(pw_report_kind k)
{
    return k == PW_REPORT_MONTHLY ? "month" : k == PW_REPORT_QUARTERLY ? "quarter" : "year";
}

void
pw_http_report(pw_http_call *c)
{
    static const char *const names[] = { "month", "quarter", "year" };
    const char              *fmt_s = pw_http_get(&c->params, "format"), *lang_s = pw_http_get(&c->params, "lang");
    const char              *asof_s = pw_http_get(&c->params, "as_of"), *tenant = NULL, *arg;
    const pw_report_fmt_ops *fmt = &pw_report_fmt_json;
    pw_report_kind           kind = pw_report_kind_parse(c->tail);
    pw_report_lang           lang = PW_REPORT_ZH;
    pw_report_opts           o = { 0 };
    pw_report                r = { 0 };
    pw_store_txn            *t = NULL;
    char                     msg[512], obj[256], name[512];
    char                    *mem = NULL;
    size_t                   memlen = 0;
    FILE                    *f;
    pw_err                   e;

    if (kind == PW_REPORT_KIND_COUNT_) {
        pw_http_error(c, 404, "not_found", "no such report \"%.60s\" (monthly, quarterly, annual, service-year)",
                      c->tail);
        return;
    }
    arg = pw_http_get(&c->params, hr_period_param(kind));
    if (arg == NULL) {
        pw_http_error(c, 400, "bad_data", "parameter \"%s\" is required (%s)", hr_period_param(kind),
                      kind == PW_REPORT_MONTHLY ? "2026-10" : kind == PW_REPORT_QUARTERLY ? "2026-Q4 or SY2026-Q2"
                                                                                          : "2026");
        return;
    }
    for (size_t i = 0; i < 3; i++)
        if (strcmp(names[i], hr_period_param(kind)) != 0 && pw_http_get(&c->params, names[i]) != NULL) {
            pw_http_error(c, 400, "bad_data", "parameter \"%s\" does not apply to %s reports (give \"%s\")",
                          names[i], pw_report_kind_name(kind), hr_period_param(kind));
            return;
        }
    if (fmt_s != NULL && (fmt = pw_report_fmt_find(fmt_s)) == NULL) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"format\": json, csv, xlsx or html");
        return;
    }
    if (lang_s != NULL && pw_report_lang_parse(lang_s, &lang) != PW_OK) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"lang\": zh or en");
        return;
    }
    o.now = c->now_ms;
    if (asof_s != NULL && pw_prom_time_parse(asof_s, &o.now) != PW_OK
        && pw_time_parse(asof_s, c->now_ms, &o.now) != PW_OK) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"as_of\": cannot parse \"%.100s\" to a time",
                      asof_s);
        return;
    }
    {
        const char *req = pw_http_get(&c->params, "tenant");

        if (req != NULL && req[0] == '\0') {
            pw_http_error(c, 400, "bad_data", "invalid parameter \"tenant\": empty");
            return;
        }
        if (!hr_tenant(c, req, &tenant))
            return;
    }
    snprintf(obj, sizeof obj, "%s %s%s%s", pw_report_kind_name(kind), arg, tenant ? " " : "", tenant ? tenant : "");
    pw_http_set_object(c, obj);
    if (c->report_tz == NULL || c->inv == NULL) {
        pw_http_error(c, 503, "unavailable", "reports need the inventory and the report time zone");
        return;
    }
    if (pw_report_period_parse(kind, arg, c->report_tz, &o.period, msg, sizeof msg) != PW_OK) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"%s\": %s", hr_period_param(kind), msg);
        return;
    }
    if (pw_store_read_begin(c->store, &t) != PW_OK) {
        pw_http_error(c, 503, "unavailable", "the store cannot be read");
        return;
    }
    o.tz = c->report_tz;
    o.tenant = tenant;
    o.txn = t;
    o.inv = c->inv;
    o.alerts = c->alerts;
    e = pw_report_build(&o, &r, msg, sizeof msg);
    pw_store_read_end(t);
    if (e != PW_OK) {
        pw_http_error(c, e == PW_ENOMEM ? 503 : 500, e == PW_ENOMEM ? "unavailable" : "internal", "%s", msg);
        return;
    }
    if ((f = open_memstream(&mem, &memlen)) == NULL) {
        pw_http_error(c, 503, "unavailable", "out of memory");
        goto out;
    }
    e = fmt->write(&r, lang, f, msg, sizeof msg);
    if (fclose(f) != 0 && e == PW_OK) {
        e = PW_ENOMEM;
        snprintf(msg, sizeof msg, "out of memory");
    }
    if (e != PW_OK) {
        pw_http_error(c, 500, "internal", "writing the report: %s", msg);
        goto out;
    }
    pw_http_buf_reset(&c->body);
    if (fmt == &pw_report_fmt_json) {
        e = pw_http_buf_adds(&c->body, "{\"status\":\"success\",\"data\":");
        if (e == PW_OK)
            e = pw_http_buf_add(&c->body, mem, memlen);
        if (e == PW_OK)
            e = pw_http_buf_adds(&c->body, "}");
    } else {
        e = pw_http_buf_add(&c->body, mem, memlen);
        c->content_type = fmt->content_type;
        pw_report_filename(&r, fmt, name, sizeof name);
        hr_disposition(c, name);
    }
    if (e != PW_OK) {
        c->headers[0] = (pw_http_header) { NULL, NULL };
        c->content_type = "application/json";
        pw_http_error(c, e == PW_ETOOBIG ? 422 : 503, e == PW_ETOOBIG ? "execution" : "unavailable",
                      e == PW_ETOOBIG ? "the report is larger than the response limit" : "out of memory");
    }
out:
    free(mem);
    pw_report_free(&r);
}

/* ---- the archive ------------------------------------------------------------ */

typedef struct hr_list {
    json_t *arr;
    pw_err  e;
} hr_list;

static int
hr_list_cb(void *ctx, const pw_report_archived *a)
{
    hr_list  *l = ctx;
    char      when[32] = "", url[1024];
    time_t    s = (time_t) (a->mtime_ms / 1000);
    struct tm tm;
    json_t   *o;

    if (gmtime_r(&s, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(url, sizeof url, "/api/v1/reports/archive/%s/%s", a->month, a->file);
    o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:b,s:s}", "month", a->month, "file", a->file, "sha256", a->sha256,
                  "size", (json_int_t) a->size, "time", when, "intact", a->intact, "url", url);
    if (o == NULL || json_array_append_new(l->arr, o) != 0) {
        l->e = PW_ENOMEM;   /* also a file name that is not UTF-8: json_pack refuses it */
        return 1;
    }
    return 0;
}

void
pw_http_report_list(pw_http_call *c)
{
    const char *tenant = NULL, *req = pw_http_get(&c->params, "tenant");
    hr_list     l = { NULL, PW_OK };
    pw_err      e;

    if (req != NULL && req[0] == '\0') {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"tenant\": empty");
        return;
    }
    if (!hr_tenant(c, req, &tenant))
        return;
    if (c->data_dir == NULL) {
        pw_http_success(c, json_array());
        return;
    }
    if ((l.arr = json_array()) == NULL) {
        pw_http_error(c, 503, "unavailable", "out of memory");
        return;
    }
    e = pw_report_archive_list(c->data_dir, tenant, hr_list_cb, &l);
    if (e == PW_OK)
        e = l.e;
    if (e != PW_OK) {
        json_decref(l.arr);
        pw_http_error(c, 500, "internal", "reading the report archive: %s", pw_strerror(e));
        return;
    }
    pw_http_success(c, l.arr);
}

/* Content-Type of an archived file by its extension. */
static const char *
hr_type(const char *file)
{
    const char              *dot = strrchr(file, '.');
    const pw_report_fmt_ops *f = dot != NULL ? pw_report_fmt_find(dot + 1) : NULL;

    return f != NULL ? f->content_type : "application/octet-stream";
}

void
pw_http_report_archived(pw_http_call *c)
{
    const char *slash = strchr(c->tail, '/');
    char        month[64];
    char       *data = NULL;
    size_t      len = 0, n = slash != NULL ? (size_t) (slash - c->tail) : 0;
    pw_err      e;

    pw_http_set_object(c, c->tail);
    if (slash == NULL || n == 0 || n >= sizeof month || slash[1] == '\0' || strchr(slash + 1, '/') != NULL) {
        pw_http_error(c, 404, "not_found", "no such archived report: expected archive/<YYYY-MM>/<file>");
        return;
    }
    memcpy(month, c->tail, n);
    month[n] = '\0';
    if (c->scope->kind == PW_SCOPE_TENANT) {
        if (!pw_report_archive_owned(month, slash + 1, c->scope->tenant)) {
            pw_http_error(c, 403, "forbidden", "a tenant token gets its own unit's archived reports only");
            return;
        }
    } else if (c->scope->kind != PW_SCOPE_ALL) {
        pw_http_error(c, 403, "forbidden", "no reports for this caller");
        return;
    }
    if (c->data_dir == NULL) {
        pw_http_error(c, 404, "not_found", "no report archive");
        return;
    }
    e = pw_report_archive_load(c->data_dir, month, slash + 1, c->body.max ? c->body.max : SIZE_MAX, &data, &len);
    switch (e) {
    case PW_OK:
        break;
    case PW_EINVAL:
    case PW_ENOENT:
        pw_http_error(c, 404, "not_found", "no such archived report");
        return;
    case PW_EPROTO:
        pw_http_error(c, 500, "internal", "the archived file no longer matches its SHA-256 in SHA256SUMS: "
                      "it was changed after archiving");
        return;
    case PW_ETOOBIG:
        pw_http_error(c, 422, "execution", "the file is larger than the response limit");
        return;
    default:
        pw_http_error(c, e == PW_ENOMEM ? 503 : 500, e == PW_ENOMEM ? "unavailable" : "internal",
                      "reading the archived file: %s", pw_strerror(e));
        return;
    }
    pw_http_buf_reset(&c->body);
    if (pw_http_buf_add(&c->body, data, len) != PW_OK) {
        free(data);
        pw_http_error(c, 503, "unavailable", "out of memory");
        return;
    }
    free(data);
    c->content_type = hr_type(slash + 1);
    hr_disposition(c, slash + 1);
}
