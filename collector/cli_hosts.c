/*
 * cli_hosts.c - `poolwatch hosts`: the agents that have reported, with
 * their host, version, first and last contact and how much they sent.
 */
#include "cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli_api.h"
#include "clock.h"
#include "config.h"
#include "output_format.h"

static void
hosts_boot_hex(const pw_agent_info *a, char *buf)
{
    for (size_t i = 0; i < PW_WIRE_BOOT_ID_LEN; i++)
        sprintf(buf + 2 * i, "%02x", a->boot_id[i]);
}

static int
hosts_table(const pw_agent_list *l, int64_t now)
{
    static const char *const headers[] = {
        "HOST", "AGENT", "VERSION", "FIRST SEEN", "LAST SEEN", "AGE", "FRAMES", "SAMPLES",
    };
    pw_table *t = pw_table_new(8, headers);

    if (t == NULL)
        return PW_CLI_FAIL;
    for (size_t c = 5; c < 8; c++)
        pw_table_right(t, c);
    for (size_t i = 0; i < l->n; i++) {
        const pw_agent_info *a = &l->a[i];
        char                 first[32], last[32], age[32], frames[24], samples[24];
        const char          *cells[8] = {
            a->host, a->agent_id, a->version[0] ? a->version : "-", first, last, age, frames, samples,
        };

        pw_out_time_s(a->first_seen_ms, first, sizeof first);
        pw_out_time_s(a->last_seen_ms, last, sizeof last);
        pw_out_age(now - a->last_seen_ms, age, sizeof age);
        snprintf(frames, sizeof frames, "%llu", (unsigned long long) a->frames);
        snprintf(samples, sizeof samples, "%llu", (unsigned long long) a->samples);
        if (pw_table_add(t, cells) != PW_OK) {
            pw_table_free(t);
            return PW_CLI_FAIL;
        }
    }
    pw_table_print(t, stdout);
    pw_table_free(t);
    return PW_CLI_OK;
}

static void
hosts_csv(const pw_agent_list *l, int64_t now)
{
    static const char *const header[] = {
        "host", "agent_id", "version", "first_seen", "last_seen", "age_s", "frames", "samples",
        "boot_id", "last_seq",
    };

    pw_out_csv_row(stdout, 10, header);
    for (size_t i = 0; i < l->n; i++) {
        const pw_agent_info *a = &l->a[i];
        char                 first[32], last[32], age[24], frames[24], samples[24], boot[40], seq[24];
        const char          *row[10] = {
            a->host, a->agent_id, a->version, first, last, age, frames, samples, boot, seq,
        };

        pw_time_format_iso(a->first_seen_ms, first, sizeof first);
        pw_time_format_iso(a->last_seen_ms, last, sizeof last);
        snprintf(age, sizeof age, "%lld",
            (long long) (now > a->last_seen_ms ? (now - a->last_seen_ms) / 1000 : 0));
        snprintf(frames, sizeof frames, "%llu", (unsigned long long) a->frames);
        snprintf(samples, sizeof samples, "%llu", (unsigned long long) a->samples);
        hosts_boot_hex(a, boot);
        snprintf(seq, sizeof seq, "%llu", (unsigned long long) a->last_seq);
        pw_out_csv_row(stdout, 10, row);
    }
}

/* A small list: built as one jansson tree, then dumped. */
static int
hosts_json(const pw_agent_list *l, int64_t now)
{
    json_t *arr = json_array();
    int     rc = PW_CLI_FAIL;

    if (arr == NULL)
        return PW_CLI_FAIL;
    for (size_t i = 0; i < l->n; i++) {
        const pw_agent_info *a = &l->a[i];
        char                 first[32], last[32], boot[40];
        json_t              *o;

        pw_time_format_iso(a->first_seen_ms, first, sizeof first);
        pw_time_format_iso(a->last_seen_ms, last, sizeof last);
        hosts_boot_hex(a, boot);
        o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:s, s:I}",
            "host", a->host, "agent_id", a->agent_id, "version", a->version,
            "first_seen", first, "first_seen_ms", (json_int_t) a->first_seen_ms,
            "last_seen", last, "last_seen_ms", (json_int_t) a->last_seen_ms,
            "age_ms", (json_int_t) (now > a->last_seen_ms ? now - a->last_seen_ms : 0),
            "frames", (json_int_t) a->frames, "samples", (json_int_t) a->samples,
            "boot_id", boot, "last_seq", (json_int_t) a->last_seq);
        /* json_pack fails on strings that are not UTF-8; the wire format only lets UTF-8 in. */
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            pw_cli_err("cannot encode agent %s as JSON", a->agent_id);
            goto out;
        }
    }
    if (json_dumpf(arr, stdout, JSON_INDENT(2)) == 0) {
        putchar('\n');
        rc = PW_CLI_OK;
    }
out:
    json_decref(arr);
    return rc;
}

static void
hosts_usage(FILE *f, const pw_option *opts)
{
    fprintf(f, "usage: poolwatch [--data DIR | --api URL] hosts [--format table|csv|json]\n\n"
        "Lists every agent that has reported: host, agent id, version, first and last\n"
        "contact (UTC), time since the last one, frames and samples stored.\n\noptions:\n");
    pw_config_usage(opts, f);
}

int
pw_cli_hosts(pw_cli *g, int argc, char **argv)
{
    const char     *format = "table";
    bool            help = false;
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the collector's data directory", "DIR" },
        { "format", PW_OPT_STRING, &format, "table (default), csv or json", "FMT" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    pw_config      cfg = { 0 };
    pw_out_format  fmt;
    pw_agent_list  l = { 0 };
    pw_store      *s = NULL;
    pw_store_txn  *t = NULL;
    char           msg[512];
    int            npos, rc = PW_CLI_USAGE;
    pw_err         e = PW_OK;
    int64_t        now;

    if ((rc = pw_cli_args("hosts", opts, &cfg, argc, argv, &npos, &help, hosts_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    if (npos > 0) {
        pw_cli_err("hosts: unexpected argument \"%s\"", argv[1]);
        goto out;
    }
    if (pw_out_format_parse(format, &fmt) != PW_OK) {
        pw_cli_err("hosts: --format must be table, csv or json, not \"%s\"", format);
        goto out;
    }
    if (g->api_url != NULL) {
        /* The same list, from the server: sorted and printed below as a local one. */
        if ((rc = pw_cli_api_hosts(g, pw_agent_list_add, &l)) != PW_CLI_OK && !l.nomem)
            goto out;
    } else {
        if ((rc = pw_cli_open_store(g, &s)) != PW_CLI_OK)
            goto out;
        rc = PW_CLI_NODATA;
        if ((e = pw_store_read_begin(s, &t)) == PW_OK) {
            e = pw_store_agents(t, pw_agent_list_add, &l);
            pw_store_read_end(t);
        }
    }
    if (e != PW_OK) {
        pw_store_last_error(s, msg, sizeof msg);
        pw_cli_err("reading %s: %s", g->data_dir, msg);
        goto out;
    }
    if (l.nomem) {
        pw_cli_err("out of memory");
        rc = PW_CLI_FAIL;
        goto out;
    }
    pw_agent_list_sort(&l);
    now = pw_now_ms();
    switch (fmt) {
    case PW_OUT_TABLE:
        if (l.n == 0) {
            pw_cli_err("no agent has reported to %s yet", g->api_url ? g->api_url : g->data_dir);
            rc = PW_CLI_OK;
        } else {
            rc = hosts_table(&l, now);
        }
        break;
    case PW_OUT_CSV:
        hosts_csv(&l, now);
        rc = PW_CLI_OK;
        break;
    case PW_OUT_JSON:
        rc = hosts_json(&l, now);
        break;
    }
out:
    pw_agent_list_free(&l);
    pw_store_close(s);
    pw_config_free(&cfg);
    return rc;
}
