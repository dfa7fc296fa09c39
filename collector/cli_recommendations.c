/*
 * cli_recommendations.c - `poolwatch recommendations`: per system, what to
 * reclaim, downsize or expand, with the evidence and the earlier warnings,
 * and the tenants flagged "suspend further requests" (R3); recommend.h.
 * Reads the data directory (store, inventory.mdb, alerts.mdb) read-only,
 * also while the collector runs.
 *
 *   poolwatch [--data DIR] [--config FILE] recommendations [--tenant T] [--system S]
 *             [--at TIME] [--format table|csv|json]
 */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alert.h"
#include "clock.h"
#include "config.h"
#include "output_format.h"
#include "recommend.h"

static void
cr_usage(FILE *f, const pw_option *opts)
{
    (void) opts;
    fprintf(f,
        "usage: poolwatch [--data DIR] [--config FILE] recommendations [--tenant T] [--system S]\n"
        "                 [--at TIME] [--format table|csv|json]\n\n"
        "Per system: the VMs to reclaim (idle, zombie, shut off), downsize (oversized, with the\n"
        "target flavour) or expand (undersized), judged on the daily figures of the last days\n"
        "before --at (default now) by the rules of the alert engine (built-in, plus the\n"
        "--config file's alerts:), with the earlier warnings from alerts.mdb. A tenant whose\n"
        "systems are still low after warnings in suspend_after_months (2) earlier months is\n"
        "flagged \"suspend further requests\" (R3). TIME: now, -1d, 2026-11-01 or Unix seconds.\n");
}

static void
cr_pct(const json_t *o, const char *k, char *buf, size_t len)
{
    const json_t *v = json_object_get(o, k);

    if (json_is_number(v))
        snprintf(buf, len, "%.1f%%", json_number_value(v) * 100);
    else
        snprintf(buf, len, "-");
}

static void
cr_num(const json_t *o, const char *k, char *buf, size_t len)
{
    const json_t *v = json_object_get(o, k);

    if (json_is_number(v))
        snprintf(buf, len, "%.2f", json_number_value(v));
    else
        snprintf(buf, len, "-");
}

/* "2026-08 2026-09" of an array of month labels. */
static void
cr_months(const json_t *arr, char *buf, size_t len)
{
    size_t  i, o = 0;
    json_t *m;

    buf[0] = '\0';
    json_array_foreach((json_t *) arr, i, m)
        if (o < len)
            o += (size_t) snprintf(buf + o, len - o, "%s%s", i ? " " : "", json_string_value(m));
}

static const json_t *
cr_tenant(const json_t *res, const char *tenant)
{
    size_t  i;
    json_t *t;

    json_array_foreach(json_object_get(res, "tenants"), i, t)
        if (strcmp(json_string_value(json_object_get(t, "tenant")), tenant) == 0)
            return t;
    return NULL;
}

static int
cr_print(const json_t *res, pw_out_format fmt)
{
    const char *th[] = { "TENANT", "SYSTEM", "VM", "FINDING", "ACTION", "DAYS", "CPU P95", "MEM P95",
                         "NET MB/D", "SIZE", "TARGET", "WARNED" };
    const char *ch[] = { "tenant", "system", "vm", "finding", "action", "days", "of_days", "from", "to",
                         "cpu_p95", "cpu_avg", "mem_p95", "net_mb_per_day", "disk_mb_per_day", "vcpus",
                         "memory_gb", "target_vcpus", "target_memory_gb", "target_in_use", "warnings",
                         "suspend_requests", "warned_months" };
    pw_table   *t = NULL;
    json_t     *sys, *x;
    size_t      i, k;

    if (fmt == PW_OUT_JSON) {
        json_dumpf(res, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        return ferror(stdout) ? PW_CLI_FAIL : PW_CLI_OK;
    }
    if (fmt == PW_OUT_CSV)
        pw_out_csv_row(stdout, sizeof ch / sizeof ch[0], ch);
    else if ((t = pw_table_new(sizeof th / sizeof th[0], th)) == NULL) {
        pw_cli_err("out of memory");
        return PW_CLI_FAIL;
    }
    json_array_foreach(json_object_get(res, "systems"), i, sys) {
        const char   *tenant = json_string_value(json_object_get(sys, "tenant"));
        const char   *system = json_string_value(json_object_get(sys, "system"));
        const json_t *tn = cr_tenant(res, tenant);
        json_t       *rows = json_array();
        char          nwarn[16], months[256];

        snprintf(nwarn, sizeof nwarn, "%zu", json_array_size(json_object_get(sys, "warnings")));
        cr_months(json_object_get(tn, "warned_months"), months, sizeof months);
        /* the system as a whole first, when it is idle, then its VMs */
        if (json_object_get(sys, "idle") != NULL) {
            json_t *s = json_deep_copy(json_object_get(sys, "idle"));

            json_object_set_new(s, "vm", json_string("(whole system)"));
            json_array_append_new(rows, s);
        }
        json_array_extend(rows, json_object_get(sys, "vms"));
        json_array_foreach(rows, k, x) {
            char days[32], ofd[16], from[32], to[32], cp[16], ca[16], mp[16], net[32], disk[32], vc[16],
                 mem[16], tv[16] = "", tm[16] = "", size[48], target[64] = "-";
            const json_t *tg = json_object_get(x, "target");

            snprintf(days, sizeof days, "%lld/%lld", (long long) json_integer_value(json_object_get(x, "days")),
                     (long long) json_integer_value(json_object_get(x, "of_days")));
            snprintf(ofd, sizeof ofd, "%lld", (long long) json_integer_value(json_object_get(x, "of_days")));
            pw_out_time_s(json_integer_value(json_object_get(x, "from")), from, sizeof from);
            pw_out_time_s(json_integer_value(json_object_get(x, "to")), to, sizeof to);
            cr_pct(x, "cpu_p95", cp, sizeof cp);
            cr_pct(x, "cpu_avg", ca, sizeof ca);
            cr_pct(x, "mem_p95", mp, sizeof mp);
            cr_num(x, "net_mb_per_day", net, sizeof net);
            cr_num(x, "disk_mb_per_day", disk, sizeof disk);
            snprintf(vc, sizeof vc, "%g", json_number_value(json_object_get(x, "vcpus")));
            snprintf(mem, sizeof mem, "%g", json_number_value(json_object_get(x, "memory_gb")));
            snprintf(size, sizeof size, "%s vCPU / %s GB", vc, mem);
            if (tg != NULL) {
                snprintf(tv, sizeof tv, "%g", json_number_value(json_object_get(tg, "vcpus")));
                snprintf(tm, sizeof tm, "%g", json_number_value(json_object_get(tg, "memory_gb")));
                snprintf(target, sizeof target, "%s vCPU / %s GB%s", tv, tm,
                         json_is_true(json_object_get(tg, "in_use")) ? "" : " (new size)");
            }
            if (fmt == PW_OUT_CSV) {
                char d1[16];
                const char *row[] = { tenant, system, json_string_value(json_object_get(x, "vm")),
                    json_string_value(json_object_get(x, "finding")), json_string_value(json_object_get(x, "action")),
                    d1, ofd, from, to, cp, ca, mp, net, disk, vc, mem, tv, tm,
                    tg == NULL ? "" : json_is_true(json_object_get(tg, "in_use")) ? "true" : "false",
                    nwarn, json_is_true(json_object_get(tn, "suspend_requests")) ? "true" : "false", months };

                snprintf(d1, sizeof d1, "%lld", (long long) json_integer_value(json_object_get(x, "days")));
                pw_out_csv_row(stdout, sizeof row / sizeof row[0], row);
            } else {
                const char *row[] = { tenant, system, json_string_value(json_object_get(x, "vm")),
                    json_string_value(json_object_get(x, "finding")), json_string_value(json_object_get(x, "action")),
                    days, cp, mp, net, size, target, nwarn };

                pw_table_add(t, row);
            }
        }
        json_decref(rows);
    }
    if (t != NULL) {
        if (pw_table_rows(t) == 0)
            fprintf(stderr, "no recommendations\n");
        else
            pw_table_print(t, stdout);
        pw_table_free(t);
        /* R3 below the table: the tenants to stop giving more until they use what they have */
        json_array_foreach(json_object_get(res, "tenants"), i, x) {
            char months[256];

            if (!json_is_true(json_object_get(x, "suspend_requests")))
                continue;
            cr_months(json_object_get(x, "warned_months"), months, sizeof months);
            printf("\nR3: %s: suspend further requests (暂停受理新增资源申请) - still low after warnings in %s\n",
                   json_string_value(json_object_get(x, "tenant")), months);
        }
    }
    return ferror(stdout) ? PW_CLI_FAIL : PW_CLI_OK;
}

int
pw_cli_recommendations(pw_cli *g, int argc, char **argv)
{
    const char     *format = "table", *tenant = NULL, *system = NULL, *at_s = NULL, *config = NULL;
    bool            help = false;
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the collector's data directory", "DIR" },
        { "tenant", PW_OPT_STRING, &tenant, "only this tenant's systems", "T" },
        { "system", PW_OPT_STRING, &system, "only this system", "S" },
        { "at", PW_OPT_STRING, &at_s, "as of this time (default now)", "TIME" },
        { "format", PW_OPT_STRING, &format, "table (default), csv or json", "FMT" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    pw_config        cfg = { 0 };
    pw_out_format    fmt;
    pw_alert_config *ac = NULL;
    pw_store        *s = NULL;
    pw_store_txn    *txn = NULL;
    pw_inventory    *inv = NULL;
    pw_alert_db     *db = NULL;
    json_t          *res = NULL;
    char             msg[512];
    int64_t          at = pw_now_ms();
    int              npos, rc = PW_CLI_USAGE;
    pw_err           e;

    /* the collector's file, read for its alerts: section, not for this command's options */
    config = pw_config_arg_take(&argc, argv);
    if ((rc = pw_cli_args("recommendations", opts, &cfg, argc, argv, &npos, &help, cr_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    if (npos > 0) {
        pw_cli_err("recommendations: no arguments expected (\"%s\"); see --help", argv[1]);
        goto out;
    }
    if (g->api_url != NULL) {
        pw_cli_err("recommendations: reads the data directory (--data); over the API use "
                   "GET /api/v1/recommendations");
        goto out;
    }
    if (pw_out_format_parse(format, &fmt) != PW_OK) {
        pw_cli_err("recommendations: --format must be table, csv or json, not \"%s\"", format);
        goto out;
    }
    if (at_s != NULL && pw_time_parse(at_s, at, &at) != PW_OK) {
        pw_cli_err("recommendations: --at \"%s\" is not a time (now, -1d, 2026-11-01, Unix seconds)", at_s);
        goto out;
    }
    if (pw_alert_config_load(config, &ac, msg, sizeof msg) != PW_OK) {
        pw_cli_err("%s", msg);
        goto out;
    }
    if ((rc = pw_cli_open_store(g, &s)) != PW_CLI_OK)
        goto out;
    rc = PW_CLI_NODATA;
    if ((e = pw_inventory_open(g->data_dir, true, &inv, msg, sizeof msg)) != PW_OK) {
        pw_cli_err("recommendations: %s", msg);
        goto out;
    }
    if (pw_alert_db_open(g->data_dir, PW_ALERT_DB_RDONLY, &db, msg, sizeof msg) != PW_OK)
        db = NULL;                  /* no alerts.mdb yet: no earlier warnings */
    if (pw_store_read_begin(s, &txn) != PW_OK) {
        pw_cli_err("recommendations: cannot read the store");
        goto out;
    }
    {
        pw_rec_opts o = { .txn = txn, .inv = inv, .alerts = db, .cfg = ac, .at = at, .tenant = tenant,
                          .system = system };

        if ((e = pw_rec_build(&o, &res, msg, sizeof msg)) != PW_OK) {
            pw_cli_err("%s", msg);
            rc = e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
            goto out;
        }
    }
    rc = cr_print(res, fmt);
out:
    json_decref(res);
    if (txn != NULL)
        pw_store_read_end(txn);
    pw_alert_db_close(db);
    pw_inventory_close(inv);
    pw_store_close(s);
    pw_alert_config_free(ac);
    pw_config_free(&cfg);
    return rc;
}
