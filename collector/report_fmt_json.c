/*
 * report_fmt_json.c - a report as JSON (jansson): {"report": {kind, period,
 * from, to, days, timezone, tenant, generated, resolution}, "<part>": [rows
 * as objects keyed by the columns' keys]}. Percentages are ratios (0.4525),
 * dates YYYY-MM-DD, no figure null; texts in the language asked for.
 */
#include "report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

static json_t *
rj_time(int64_t ms)
{
    char      buf[32];
    time_t    t = (time_t) (ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static json_t *
rj_cell(pw_rcol_type t, const pw_rcell *c)
{
    char buf[16];

    if (t == PW_RCOL_TEXT)
        return json_string(c->s != NULL ? c->s : "");
    if (isnan(c->v) || isinf(c->v))
        return json_null();
    if (t == PW_RCOL_DATE) {
        pw_report_day_str((int64_t) c->v, buf, sizeof buf);
        return json_string(buf);
    }
    if (t == PW_RCOL_INT)
        return json_integer((json_int_t) c->v);
    return json_real(c->v);
}

static pw_err
rj_write(const pw_report *r, pw_report_lang lang, FILE *f, char *msg, size_t msglen)
{
    json_t  *root = json_object(), *meta = json_object();
    pw_rcell cells[PW_RPART_MAXCOLS];
    char     scratch[PW_RPART_MAXCOLS * PW_RCELL_TEXT], d0[16], d1[16], title[512];
    pw_err   e = PW_ENOMEM;

    if (root == NULL || meta == NULL)
        goto out;
    pw_report_day_str(r->period.day0, d0, sizeof d0);
    pw_report_day_str(r->period.day1 - 1, d1, sizeof d1);
    pw_report_title(r, lang, title, sizeof title);
    json_object_set_new(meta, "title", json_string(title));
    json_object_set_new(meta, "kind", json_string(pw_report_kind_name(r->period.kind)));
    json_object_set_new(meta, "period", json_string(r->period.label));
    json_object_set_new(meta, "first_day", json_string(d0));
    json_object_set_new(meta, "last_day", json_string(d1));
    json_object_set_new(meta, "days", json_integer(r->period_days));
    json_object_set_new(meta, "timezone", json_string(r->tz));
    json_object_set_new(meta, "from", rj_time(r->period.from_ms));
    json_object_set_new(meta, "to", rj_time(r->period.to_ms));
    json_object_set_new(meta, "tenant", r->tenant != NULL ? json_string(r->tenant) : json_null());
    json_object_set_new(meta, "generated", rj_time(r->generated_ms));
    json_object_set_new(meta, "resolution", json_string(pw_res_name(r->res)));
    json_object_set_new(meta, "lang", json_string(lang == PW_REPORT_EN ? "en" : "zh"));
    json_object_set_new(meta, "alerts_known", json_boolean(r->alerts_known));
    json_object_set_new(root, "report", meta);
    meta = NULL;
    for (int p = 0; p < PW_RPART_COUNT_; p++) {
        const pw_rpart *pt = &pw_rparts[p];
        json_t         *arr = json_array();

        if (arr == NULL || json_object_set_new(root, pt->key, arr) != 0)
            goto out;
        for (size_t i = 0; i < pt->nrows(r); i++) {
            json_t *o = json_object();

            if (o == NULL || json_array_append_new(arr, o) != 0)
                goto out;
            memset(cells, 0, sizeof cells);
            pt->row(r, i, lang, cells, scratch);
            for (size_t c = 0; c < pt->ncols; c++)
                json_object_set_new(o, pt->cols[c].key, rj_cell(pt->cols[c].type, &cells[c]));
        }
    }
    if (json_dumpf(root, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) != 0
        || fputc('\n', f) == EOF || fflush(f) != 0) {
        snprintf(msg, msglen, "cannot write the JSON (a name that is not UTF-8, or the output failed)");
        e = PW_EIO;
        goto out;
    }
    e = PW_OK;
out:
    if (e == PW_ENOMEM)
        snprintf(msg, msglen, "out of memory");
    json_decref(meta);
    json_decref(root);
    return e;
}

const pw_report_fmt_ops pw_report_fmt_json = { "json", "application/json", "json", rj_write };
