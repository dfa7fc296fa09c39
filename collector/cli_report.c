/*
 * cli_report.c - `poolwatch report`: the utilization reports (report.h)
 * from the data directory, and the monthly archive's listing.
 *
 *   poolwatch report monthly --month 2026-10 [--tenant X] [--format xlsx|csv|html|json] [-o FILE] [--lang zh|en]
 *   poolwatch report quarterly --quarter 2026-Q4 | SY2026-Q2 ...
 *   poolwatch report annual --year 2026 ...
 *   poolwatch report service-year --year 2026 ...       (2026-09-01 ... 2027-08-31)
 *   poolwatch report list [--tenant X] [--format table|csv|json]
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "alert.h"
#include "clock.h"
#include "config.h"
#include "inventory.h"
#include "output_format.h"
#include "report.h"
#include "report_archive.h"

static void
cr_usage(FILE *f, const pw_option *opts)
{
    fprintf(f,
        "usage: poolwatch [--data DIR] report monthly --month YYYY-MM [options]\n"
        "       poolwatch [--data DIR] report quarterly --quarter YYYY-Qn|SYYYYY-Qn [options]\n"
        "       poolwatch [--data DIR] report annual --year YYYY [options]\n"
        "       poolwatch [--data DIR] report service-year --year YYYY [options]\n"
        "       poolwatch [--data DIR] report list [--tenant UNIT] [--format table|csv|json]\n\n"
        "The resource utilization table, operations report, optimization suggestions and\n"
        "efficiency bulletin for a month, a quarter (calendar, or of the service year:\n"
        "SY2026-Q2 = Dec 2026 - Feb 2027), a year, or a service year (2026 = 2026-09-01 ...\n"
        "2027-08-31), for the whole cloud or one using unit (--tenant). Days are calendar\n"
        "days of --report-timezone (default Asia/Shanghai). The format follows -o's\n"
        "extension unless --format is given; without -o the report goes to stdout.\n"
        "`list` shows the archived monthly reports with their SHA-256 checks.\n"
        "See collector/README.md, \"Reports\".\n\noptions:\n");
    pw_config_usage(opts, f);
}

static const pw_report_fmt_ops *
cr_fmt_from_path(const char *path)
{
    const char *dot = path != NULL ? strrchr(path, '.') : NULL;

    return dot != NULL ? pw_report_fmt_find(dot + 1) : NULL;
}

typedef struct cr_lister { pw_out_format fmt; json_t *arr; pw_table *t; size_t n; } cr_lister;

static int
cr_list_cb(void *ctx, const pw_report_archived *a)
{
    cr_lister *l = ctx;
    char     size[32], when[40];

    snprintf(size, sizeof size, "%llu", (unsigned long long) a->size);
    pw_out_time_s(a->mtime_ms, when, sizeof when);
    l->n++;
    switch (l->fmt) {
    case PW_OUT_JSON:
        json_array_append_new(l->arr, json_pack("{s:s,s:s,s:s,s:I,s:s,s:b}", "month", a->month, "file", a->file,
                                                "sha256", a->sha256, "size", (json_int_t) a->size, "time", when,
                                                "intact", a->intact));
        break;
    case PW_OUT_CSV: {
        const char *row[6] = { a->month, a->file, a->sha256, size, when, a->intact ? "ok" : "MODIFIED" };

        pw_out_csv_row(stdout, 6, row);
        break;
    }
    default: {
        const char *row[5] = { a->month, a->file, size, a->intact ? "ok" : "MODIFIED", a->sha256 };

        pw_table_add(l->t, row);
        break;
    }
    }
    return 0;
}

static int
cr_list(pw_cli *g, const char *tenant, const char *format)
{
    static const char *const head[] = { "MONTH", "FILE", "SIZE", "CHECK", "SHA-256" };
    cr_lister                l = { 0 };
    pw_err                   e;
    int                      rc = PW_CLI_FAIL;

    if (pw_out_format_parse(format, &l.fmt) != PW_OK) {
        pw_cli_err("report list: --format must be table, csv or json, not \"%s\"", format);
        return PW_CLI_USAGE;
    }
    if (l.fmt == PW_OUT_JSON && (l.arr = json_array()) == NULL)
        return PW_CLI_FAIL;
    if (l.fmt == PW_OUT_TABLE && (l.t = pw_table_new(5, head)) == NULL)
        goto out;
    if (l.fmt == PW_OUT_CSV) {
        static const char *const h[] = { "month", "file", "sha256", "size", "time", "check" };

        pw_out_csv_row(stdout, 6, h);
    }
    if ((e = pw_report_archive_list(g->data_dir, tenant, cr_list_cb, &l)) != PW_OK) {
        pw_cli_err("report list: reading %s/reports: %s", g->data_dir, pw_strerror(e));
        rc = PW_CLI_NODATA;
        goto out;
    }
    if (l.fmt == PW_OUT_JSON) {
        json_dumpf(l.arr, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else if (l.fmt == PW_OUT_TABLE) {
        if (l.n == 0)
            pw_cli_err("report list: no archived report in %s/reports yet", g->data_dir);
        else
            pw_table_print(l.t, stdout);
    }
    rc = fflush(stdout) == 0 ? PW_CLI_OK : PW_CLI_FAIL;
out:
    json_decref(l.arr);
    pw_table_free(l.t);
    return rc;
}

int
pw_cli_report(pw_cli *g, int argc, char **argv)
{
    const char     *month = NULL, *quarter = NULL, *year = NULL, *tenant = NULL, *format = NULL, *output = NULL;
    const char     *lang_s = "zh", *tz_s = PW_REPORT_TZ_DEFAULT, *asof_s = "now";
    bool            help = false;
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the collector's data directory", "DIR" },
        { "month", PW_OPT_STRING, &month, "monthly: the month, 2026-10", "YYYY-MM" },
        { "quarter", PW_OPT_STRING, &quarter, "quarterly: 2026-Q4, or SY2026-Q2 (service year)", "Q" },
        { "year", PW_OPT_STRING, &year, "annual, service-year: 2026", "YYYY" },
        { "tenant", PW_OPT_STRING, &tenant, "one using unit's report only", "UNIT" },
        { "format", PW_OPT_STRING, &format, "xlsx, csv, html or json (default: -o's extension, else json); "
                                            "list: table, csv, json", "FMT" },
        { "output", PW_OPT_STRING, &output, "write to FILE (also -o); default stdout", "FILE" },
        { "lang", PW_OPT_STRING, &lang_s, "zh (default) or en: sheet, column and text language", "LANG" },
        { "report-timezone", PW_OPT_STRING, &tz_s, "the zone of the report's days (default Asia/Shanghai)", "ZONE" },
        { "as-of", PW_OPT_STRING, &asof_s, "make it as it would have been made at TIME: data after it is "
                                           "left out (default now)", "TIME" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    int64_t                  asof;
    pw_config                cfg = { 0 };
    const pw_report_fmt_ops *fmt = NULL;
    pw_report_lang           lang;
    pw_report_kind           kind;
    pw_report_tz            *tz = NULL;
    pw_report_opts           o = { 0 };
    pw_report                r = { 0 };
    pw_store                *s = NULL;
    pw_store_txn            *t = NULL;
    pw_inventory            *inv = NULL;
    pw_alert_db             *adb = NULL;
    FILE                    *out = NULL;
    char                     msg[1024], tmp[4200];
    const char              *arg;
    int                      npos, rc = PW_CLI_USAGE;
    pw_err                   e;

    for (int i = 1; i < argc; i++)      /* -o is the short form of --output */
        if (strcmp(argv[i], "-o") == 0)
            argv[i] = (char *) "--output";
    if ((rc = pw_cli_args("report", opts, &cfg, argc, argv, &npos, &help, cr_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    if (npos != 1) {
        pw_cli_err("report: expected one of monthly, quarterly, annual, service-year, list (see poolwatch report --help)");
        goto out;
    }
    if (g->api_url != NULL) {
        pw_cli_err("report: not available with --api yet; use GET /api/v1/reports/..., or run it with --data");
        goto out;
    }
    if (strcmp(argv[1], "list") == 0) {
        rc = cr_list(g, tenant, format != NULL ? format : "table");
        goto out;
    }
    if ((kind = pw_report_kind_parse(argv[1])) == PW_REPORT_KIND_COUNT_) {
        pw_cli_err("report: unknown report \"%s\" (monthly, quarterly, annual, service-year, list)", argv[1]);
        goto out;
    }
    arg = kind == PW_REPORT_MONTHLY ? month : kind == PW_REPORT_QUARTERLY ? quarter : year;
    if (arg == NULL) {
        pw_cli_err("report %s: %s is required", argv[1],
                   kind == PW_REPORT_MONTHLY ? "--month YYYY-MM" : kind == PW_REPORT_QUARTERLY ? "--quarter YYYY-Qn"
                                                                                          : "--year YYYY");
        goto out;
    }
    if ((kind == PW_REPORT_MONTHLY && (quarter || year)) || (kind == PW_REPORT_QUARTERLY && (month || year))
        || (kind >= PW_REPORT_ANNUAL && (month || quarter))) {
        pw_cli_err("report %s: give only %s", argv[1],
                   kind == PW_REPORT_MONTHLY ? "--month" : kind == PW_REPORT_QUARTERLY ? "--quarter" : "--year");
        goto out;
    }
    if (format != NULL ? (fmt = pw_report_fmt_find(format)) == NULL : false) {
        pw_cli_err("report: --format must be xlsx, csv, html or json, not \"%s\"", format);
        goto out;
    }
    if (fmt == NULL && (fmt = cr_fmt_from_path(output)) == NULL)
        fmt = &pw_report_fmt_json;
    if (pw_report_lang_parse(lang_s, &lang) != PW_OK) {
        pw_cli_err("report: --lang must be zh or en, not \"%s\"", lang_s);
        goto out;
    }
    if (tenant != NULL && tenant[0] == '\0') {
        pw_cli_err("report: --tenant must not be empty");
        goto out;
    }
    if (pw_time_parse(asof_s, pw_now_ms(), &asof) != PW_OK) {
        pw_cli_err("report: --as-of \"%s\" is not a time (now, -1d, 2026-11-01T00:00:00Z, Unix seconds)", asof_s);
        goto out;
    }
    if (pw_report_tz_load(tz_s, &tz, msg, sizeof msg) != PW_OK) {
        pw_cli_err("report: %s", msg);
        goto out;
    }
    if (pw_report_period_parse(kind, arg, tz, &o.period, msg, sizeof msg) != PW_OK) {
        pw_cli_err("report %s: %s", argv[1], msg);
        goto out;
    }
    if ((rc = pw_cli_open_store(g, &s)) != PW_CLI_OK)
        goto out;
    rc = PW_CLI_NODATA;
    if ((e = pw_inventory_open(g->data_dir, true, &inv, msg, sizeof msg)) != PW_OK) {
        pw_cli_err("%s", msg);
        goto out;
    }
    e = pw_alert_db_open(g->data_dir, PW_ALERT_DB_RDONLY, &adb, msg, sizeof msg);
    if (e != PW_OK && e != PW_ENOENT) {
        pw_cli_err("report: %s (the alert figures are left out)", msg);
        adb = NULL;
    }
    if ((e = pw_store_read_begin(s, &t)) != PW_OK) {
        pw_store_last_error(s, msg, sizeof msg);
        pw_cli_err("reading %s: %s", g->data_dir, msg);
        goto out;
    }
    o.tz = tz;
    o.tenant = tenant;
    o.now = asof;
    o.txn = t;
    o.inv = inv;
    o.alerts = adb;
    e = pw_report_build(&o, &r, msg, sizeof msg);
    pw_store_read_end(t);
    if (e != PW_OK) {
        pw_cli_err("report: %s", msg);
        rc = e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    rc = PW_CLI_FAIL;
    if (output != NULL && strcmp(output, "-") != 0) {
        /* written beside the target and renamed: a failed run leaves no half file */
        snprintf(tmp, sizeof tmp, "%s.tmp%ld", output, (long) getpid());
        if ((out = fopen(tmp, "wb")) == NULL) {
            pw_cli_err("report: cannot create %s: %s", tmp, strerror(errno));
            goto out;
        }
    }
    e = fmt->write(&r, lang, out != NULL ? out : stdout, msg, sizeof msg);
    if (out != NULL) {
        if (fclose(out) != 0 && e == PW_OK)
            e = PW_EIO;
        out = NULL;
        if (e == PW_OK && rename(tmp, output) != 0) {
            pw_cli_err("report: cannot write %s: %s", output, strerror(errno));
            remove(tmp);
            goto out;
        }
        if (e != PW_OK)
            remove(tmp);
    }
    if (e != PW_OK) {
        pw_cli_err("report: %s", msg);
        goto out;
    }
    if (output != NULL && strcmp(output, "-") != 0)
        fprintf(stderr, "poolwatch: report: wrote %s (%s, %zu VMs, %zu suggestions)\n", output, fmt->name, r.nvms,
                r.nadvice);
    rc = PW_CLI_OK;
out:
    pw_report_free(&r);
    pw_alert_db_close(adb);
    pw_inventory_close(inv);
    pw_store_close(s);
    pw_report_tz_free(tz);
    pw_config_free(&cfg);
    return rc;
}
