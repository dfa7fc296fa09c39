/*
 * cli_pools.c - `poolwatch pools`: every pool's capacity, allocated and used
 * ratios and forecasts at a time (capacity.h), computed from the data
 * directory as the collector computes the series it stores.
 */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "capacity.h"
#include "clock.h"
#include "config.h"
#include "inventory.h"
#include "output_format.h"

#define CP_NONE "-"     /* no figure, no forecast (ASCII: the table aligns bytes) */

/* A figure in its resource's unit, for people: "96 CPUs", "1.5 TiB", "10 Gbit/s". */
static void
cp_human(pw_pool_res r, double v, bool vcpus, char *buf, size_t len)
{
    static const char *const bin[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    int                      i = 0;

    if (!isfinite(v)) {
        snprintf(buf, len, "%s", CP_NONE);
        return;
    }
    switch (r) {
    case PW_POOL_CPU:
        snprintf(buf, len, "%.4g %s", v, vcpus ? "vCPUs" : "CPUs");
        return;
    case PW_POOL_NETWORK:
        v *= 8;                                 /* links are sold in bits */
        if (v >= 1e9)
            snprintf(buf, len, "%.4g Gbit/s", v / 1e9);
        else
            snprintf(buf, len, "%.4g Mbit/s", v / 1e6);
        return;
    default:
        while (fabs(v) >= 1024 && i < 6) {
            v /= 1024;
            i++;
        }
        snprintf(buf, len, "%.4g %s", v, bin[i]);
        return;
    }
}

static void
cp_pct(double ratio, char *buf, size_t len)
{
    if (isfinite(ratio))
        snprintf(buf, len, "%.1f %%", ratio * 100);
    else
        snprintf(buf, len, "%s", CP_NONE);
}

static void
cp_days(const pw_forecast *fc, char *buf, size_t len, bool table)
{
    if (fc->has && isfinite(fc->days))
        snprintf(buf, len, "%.0f", table ? floor(fc->days) : fc->days);
    else
        snprintf(buf, len, "%s", table ? CP_NONE : "");
}

static int
cp_table(const pw_cap_report *rep, FILE *f)
{
    static const char *const head[] = { "POOL", "RESOURCE", "CAPACITY", "ALLOCATED", "ALLOCATED %",
                                        "USED %", "DAYS TO 70 %", "DAYS TO 100 %" };
    pw_table *t = pw_table_new(8, head);
    int       rc = PW_CLI_FAIL;

    if (t == NULL)
        goto out;
    for (size_t c = 2; c < 8; c++)
        pw_table_right(t, c);
    for (size_t i = 0; i < rep->npools; i++) {
        const pw_cap_pool *p = &rep->pools[i];

        for (int r = 0; r < PW_POOL_RES_COUNT_; r++) {
            const pw_cap_figures *fg = &p->res[r];
            char cap[64], alloc[48], ap[32], up[32], d[2][80], a[32], u[32];
            const char *row[8] = { p->name, pw_pool_res_name((pw_pool_res) r), cap, alloc, ap, up,
                                   d[0], d[1] };

            cp_human((pw_pool_res) r, fg->capacity, false, cap, sizeof cap);
            if (fg->overcommit != 1 && isfinite(fg->capacity)) {
                size_t n = strlen(cap);

                snprintf(cap + n, sizeof cap - n, " x%g", fg->overcommit);
            }
            cp_human((pw_pool_res) r, fg->allocated, true, alloc, sizeof alloc);
            cp_pct(fg->allocated_ratio, ap, sizeof ap);
            cp_pct(fg->used_ratio, up, sizeof up);
            for (int j = 0; j < PW_CAP_NTHRESH; j++) {
                cp_days(&fg->forecast[PW_CAP_ALLOCATED][j], a, sizeof a, true);
                cp_days(&fg->forecast[PW_CAP_USED][j], u, sizeof u, true);
                snprintf(d[j], sizeof d[j], "%s / %s", r == PW_POOL_NETWORK ? CP_NONE : a, u);
            }
            if (pw_table_add(t, row) != PW_OK)
                goto out;
        }
    }
    if (pw_table_rows(t) == 0) {
        pw_cli_err("pools: no pool is defined (poolwatch pool set, or pools: in the collector's config)");
        rc = PW_CLI_OK;
        goto out;
    }
    pw_table_print(t, f);
    fprintf(f, "\ncapacity: physical (x overcommit for the allocated %%); days: allocated / used, "
               "from the daily maxima of the last 30 days; %s: no figure or no forecast\n", CP_NONE);
    rc = PW_CLI_OK;
out:
    pw_table_free(t);
    return rc;
}

static void
cp_csv_num(double v, char *buf, size_t len)
{
    if (isfinite(v))
        pw_out_value(v, buf, len);
    else
        buf[0] = '\0';
}

static int
cp_csv(const pw_cap_report *rep, FILE *f)
{
    static const char *const head[] = {
        "pool", "resource", "capacity", "capacity_override", "overcommit", "allocated",
        "allocated_ratio", "used", "used_ratio", "allocated_days_to_70", "allocated_days_to_100",
        "used_days_to_70", "used_days_to_100", "allocation_source", "hosts", "hosts_measured" };

    pw_out_csv_row(f, 16, head);
    for (size_t i = 0; i < rep->npools; i++) {
        const pw_cap_pool *p = &rep->pools[i];

        for (int r = 0; r < PW_POOL_RES_COUNT_; r++) {
            const pw_cap_figures *fg = &p->res[r];
            char v[9][PW_OUT_VALUE_LEN], d[4][PW_OUT_VALUE_LEN], h[2][24];
            const char *row[16] = { p->name, pw_pool_res_name((pw_pool_res) r), v[0],
                                    fg->capacity_override ? "true" : "false", v[1], v[2], v[3],
                                    v[4], v[5], d[0], d[1], d[2], d[3],
                                    pw_cap_alloc_src_name(p->alloc_src), h[0], h[1] };

            cp_csv_num(fg->capacity, v[0], sizeof v[0]);
            cp_csv_num(fg->overcommit, v[1], sizeof v[1]);
            cp_csv_num(fg->allocated, v[2], sizeof v[2]);
            cp_csv_num(fg->allocated_ratio, v[3], sizeof v[3]);
            cp_csv_num(fg->used, v[4], sizeof v[4]);
            cp_csv_num(fg->used_ratio, v[5], sizeof v[5]);
            for (int k = 0; k < PW_CAP_KIND_COUNT_; k++)
                for (int j = 0; j < PW_CAP_NTHRESH; j++) {
                    const pw_forecast *fc = &fg->forecast[k][j];

                    cp_csv_num(fc->has ? fc->days : NAN, d[k * 2 + j], sizeof d[0]);
                }
            snprintf(h[0], sizeof h[0], "%zu", p->hosts);
            snprintf(h[1], sizeof h[1], "%zu", p->hosts_measured);
            pw_out_csv_row(f, 16, row);
        }
    }
    return PW_CLI_OK;
}

static void
cp_usage(FILE *f, const pw_option *opts)
{
    fprintf(f, "usage: poolwatch [--data DIR] pools [--at TIME] [--format table|csv|json]\n\n"
        "Every pool's capacity per resource (cpu, memory, storage, network): the physical\n"
        "capacity, what VMs were allocated (allocated %% = allocated / (capacity x overcommit)),\n"
        "what is used (used %% = used / capacity; network: p95 of the last 24 h), and the days\n"
        "until 70 %% and 100 %% from the trend of the last 30 days. Pools are defined with\n"
        "`poolwatch pool set` or in the collector's config (pools:). See collector/README.md,\n"
        "\"Pool capacity\". TIME is now (default), -1d, 2026-11-01T00:00:00Z or Unix seconds.\n\n"
        "options:\n");
    pw_config_usage(opts, f);
}

int
pw_cli_pools(pw_cli *g, int argc, char **argv)
{
    const char     *format = "table", *at_s = "now";
    bool            help = false;
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the collector's data directory", "DIR" },
        { "at", PW_OPT_STRING, &at_s, "the time to compute for (default now)", "TIME" },
        { "format", PW_OPT_STRING, &format, "table (default), csv or json", "FMT" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    pw_config     cfg = { 0 };
    pw_out_format fmt;
    pw_store     *s = NULL;
    pw_store_txn *t = NULL;
    pw_inventory *inv = NULL;
    pw_cap_report rep = { 0 };
    json_t       *j = NULL;
    char          msg[512];
    int64_t       now = pw_now_ms(), at;
    int           npos, rc = PW_CLI_USAGE;
    pw_err        e;

    if ((rc = pw_cli_args("pools", opts, &cfg, argc, argv, &npos, &help, cp_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    if (npos != 0) {
        pw_cli_err("pools: no arguments expected, got \"%s\" (see poolwatch pools --help)", argv[1]);
        goto out;
    }
    if (pw_out_format_parse(format, &fmt) != PW_OK) {
        pw_cli_err("pools: --format must be table, csv or json, not \"%s\"", format);
        goto out;
    }
    if (pw_time_parse(at_s, now, &at) != PW_OK) {
        pw_cli_err("pools: --at \"%s\" is not a time (now, -1d, 2026-11-01T00:00:00Z, Unix seconds)",
                   at_s);
        goto out;
    }
    if (g->api_url != NULL) {
        pw_cli_err("pools: not available with --api yet; use GET /api/v1/pools, or run it "
                   "with --data on the collector host");
        goto out;
    }
    if ((rc = pw_cli_open_store(g, &s)) != PW_CLI_OK)
        goto out;
    rc = PW_CLI_NODATA;
    if ((e = pw_inventory_open(g->data_dir, true, &inv, msg, sizeof msg)) != PW_OK) {
        pw_cli_err("%s", msg);
        goto out;
    }
    if ((e = pw_store_read_begin(s, &t)) != PW_OK) {
        pw_store_last_error(s, msg, sizeof msg);
        pw_cli_err("reading %s: %s", g->data_dir, msg);
        goto out;
    }
    e = pw_cap_report_build(t, inv, at, now, true, &rep, msg, sizeof msg);
    pw_store_read_end(t);
    if (e != PW_OK) {
        pw_cli_err("pools: %s", msg[0] ? msg : pw_strerror(e));
        rc = e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    rc = PW_CLI_FAIL;
    switch (fmt) {
    case PW_OUT_TABLE:
        rc = cp_table(&rep, stdout);
        break;
    case PW_OUT_CSV:
        rc = cp_csv(&rep, stdout);
        break;
    case PW_OUT_JSON:
        if ((j = pw_cap_report_json(&rep)) == NULL
            || json_dumpf(j, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) != 0) {
            pw_cli_err("pools: cannot write the JSON (a pool name that is not UTF-8, or out of memory)");
            break;
        }
        putchar('\n');
        rc = PW_CLI_OK;
        break;
    }
    if (rc == PW_CLI_OK && (fflush(stdout) != 0 || ferror(stdout))) {
        pw_cli_err("cannot write the output");
        rc = PW_CLI_FAIL;
    }
out:
    json_decref(j);
    pw_cap_report_free(&rep);
    pw_inventory_close(inv);
    pw_store_close(s);
    pw_config_free(&cfg);
    return rc;
}
