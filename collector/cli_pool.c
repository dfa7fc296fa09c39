/*
 * cli_pool.c - `poolwatch pool set|list|delete|history`: pool definitions in
 * DIR/inventory.mdb (inventory.h): member hosts, overcommit ratios and
 * capacity overrides. Changes are versioned with their time and recorded in
 * the audit log.
 */
#include "cli.h"
#include "cli_inventory.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "inventory.h"
#include "output_format.h"
#include "utf8.h"

#define CP_MAX_HOSTS 4096

typedef struct cp_opts {
    const char *hosts, *cpu_oc, *mem_oc, *cap[PW_POOL_RES_COUNT_], *format, *at;
} cp_opts;

/* A pool definition with its own storage (the callbacks' are borrowed). */
typedef struct cp_pool {
    char    *name;
    char   **hosts;
    size_t   nhosts;
    double   cpu_oc, mem_oc, cap[PW_POOL_RES_COUNT_];
    int64_t  from, recorded;
    bool     deleted;
} cp_pool;

typedef struct cp_list {
    cp_pool *p;
    size_t   n, cap;
    bool     nomem;
} cp_list;

static void
cp_list_free(cp_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        for (size_t j = 0; j < l->p[i].nhosts; j++)
            free(l->p[i].hosts[j]);
        free(l->p[i].hosts);
        free(l->p[i].name);
    }
    free(l->p);
}

static int
cp_add(cp_list *l, int64_t from, int64_t rec, bool deleted, const pw_pool_def *d)
{
    cp_pool *p;

    if (l->n == l->cap) {
        size_t   cap = l->cap ? l->cap * 2 : 16;
        cp_pool *np = realloc(l->p, cap * sizeof *np);
        if (np == NULL)
            goto nomem;
        l->p = np;
        l->cap = cap;
    }
    p = &l->p[l->n];
    memset(p, 0, sizeof *p);
    if ((p->name = strdup(d->name)) == NULL || (p->hosts = calloc(d->nhosts + 1, sizeof *p->hosts)) == NULL) {
        free(p->name);
        goto nomem;
    }
    l->n++;
    for (size_t i = 0; i < d->nhosts; i++) {
        if ((p->hosts[i] = strdup(d->hosts[i])) == NULL)
            goto nomem;
        p->nhosts++;
    }
    p->cpu_oc = d->cpu_overcommit;
    p->mem_oc = d->memory_overcommit;
    memcpy(p->cap, d->capacity, sizeof p->cap);
    p->from = from;
    p->recorded = rec;
    p->deleted = deleted;
    return 0;
nomem:
    l->nomem = true;
    return 1;
}

static int
cp_collect(void *ctx, const pw_pool_def *d)
{
    return cp_add(ctx, 0, 0, false, d);
}

static int
cp_collect_hist(void *ctx, int64_t from, int64_t rec, bool deleted, const pw_pool_def *d)
{
    return cp_add(ctx, from, rec, deleted, d);
}

/* ---- set ---------------------------------------------------------------------- */

static bool
cp_number(const char *s, double *out)
{
    char *end;

    *out = strtod(s, &end);
    return end != s && *end == '\0' && isfinite(*out);
}

/* "a,b,c" -> hosts (malloc'd copy of s in *buf); blanks around names dropped. */
static bool
cp_hosts(const char *s, char **buf, const char ***hosts, size_t *n, char *why, size_t whylen)
{
    char *save = NULL, *tok;

    *n = 0;
    if ((*buf = strdup(s)) == NULL || (*hosts = calloc(CP_MAX_HOSTS, sizeof **hosts)) == NULL) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    for (tok = strtok_r(*buf, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
        for (size_t i = 0; i < *n; i++)
            if (strcmp((*hosts)[i], tok) == 0) {
                snprintf(why, whylen, "host %s is listed twice", tok);
                return false;
            }
        if (*n == CP_MAX_HOSTS) {
            snprintf(why, whylen, "more than %d hosts", CP_MAX_HOSTS);
            return false;
        }
        (*hosts)[(*n)++] = tok;
    }
    return true;
}

static int
cp_set(pw_cli *g, const cp_opts *o, const char *name)
{
    static const char *const opt_names[PW_POOL_RES_COUNT_] = {
        "capacity-cpu", "capacity-memory", "capacity-storage", "capacity-network",
    };
    pw_inventory *inv = NULL;
    cp_list       cur = { 0 };
    pw_pool_def   d = { name, NULL, 0, 1, 1, { 0, 0, 0, 0 } };
    const char  **hosts = NULL;
    char         *hbuf = NULL, why[256], object[256];
    int64_t       now = pw_now_ms();
    pw_err        e;
    int           rc;

    if ((rc = pw_cli_open_inventory(g, false, &inv)) != PW_CLI_OK)
        return rc;
    /* Options not given keep the pool's current values. */
    if ((e = pw_inventory_pools(inv, now, cp_collect, &cur)) != PW_OK || cur.nomem) {
        pw_cli_err("pool set: %s", cur.nomem ? "out of memory" : pw_strerror(e));
        rc = cur.nomem ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    for (size_t i = 0; i < cur.n; i++)
        if (strcmp(cur.p[i].name, name) == 0) {
            d.hosts = (const char *const *) cur.p[i].hosts;
            d.nhosts = cur.p[i].nhosts;
            d.cpu_overcommit = cur.p[i].cpu_oc;
            d.memory_overcommit = cur.p[i].mem_oc;
            memcpy(d.capacity, cur.p[i].cap, sizeof d.capacity);
        }
    rc = PW_CLI_USAGE;
    if (o->hosts != NULL) {
        if (!cp_hosts(o->hosts, &hbuf, &hosts, &d.nhosts, why, sizeof why)) {
            pw_cli_err("pool set: --hosts: %s", why);
            goto out;
        }
        d.hosts = hosts;
    }
    if (o->cpu_oc != NULL && (!cp_number(o->cpu_oc, &d.cpu_overcommit) || d.cpu_overcommit <= 0)) {
        pw_cli_err("pool set: --cpu-overcommit must be a number above 0 (1 = none; 2-4 is usual for vCPUs), "
                   "not \"%s\"", o->cpu_oc);
        goto out;
    }
    if (o->mem_oc != NULL && (!cp_number(o->mem_oc, &d.memory_overcommit) || d.memory_overcommit <= 0)) {
        pw_cli_err("pool set: --memory-overcommit must be a number above 0 (1 = none; at most 1.5 is usual), "
                   "not \"%s\"", o->mem_oc);
        goto out;
    }
    for (unsigned r = 0; r < PW_POOL_RES_COUNT_; r++) {
        uint64_t sz;
        if (o->cap[r] == NULL)
            continue;
        if (r == PW_POOL_CPU ? !cp_number(o->cap[r], &d.capacity[r]) || d.capacity[r] < 0
                             : pw_size_parse(o->cap[r], &sz) != PW_OK) {
            pw_cli_err("pool set: --%s takes %s (0 = measured), not \"%s\"", opt_names[r],
                       r == PW_POOL_CPU ? "a number of vCPUs or cores" : "a size such as 512GiB or 10T",
                       o->cap[r]);
            goto out;
        }
        if (r != PW_POOL_CPU)
            d.capacity[r] = (double) sz;
    }
    snprintf(object, sizeof object, "%s (%zu hosts, overcommit cpu %g memory %g)", name, d.nhosts,
             d.cpu_overcommit, d.memory_overcommit);
    if ((e = pw_inventory_pool_set(inv, now, &d)) != PW_OK) {
        pw_cli_err("pool set %s: %s", name, e == PW_EINVAL ? "invalid name or host name (empty, too long, "
                   "control characters or not UTF-8)" : pw_strerror(e));
        rc = e == PW_EINVAL ? PW_CLI_USAGE : e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    rc = PW_CLI_OK;
    pw_cli_audit_append(g, "pool.set", object, true, NULL);
    pw_cli_err("pool %s set: %s", name, object + strlen(name) + 1);
out:
    free(hosts);
    free(hbuf);
    cp_list_free(&cur);
    pw_inventory_close(inv);
    return rc;
}

static int
cp_delete(pw_cli *g, const char *name)
{
    pw_inventory *inv = NULL;
    pw_err        e;
    int           rc;

    if ((rc = pw_cli_open_inventory(g, false, &inv)) != PW_CLI_OK)
        return rc;
    e = pw_inventory_pool_delete(inv, pw_now_ms(), name);
    if (e == PW_ENOENT || e == PW_EINVAL) {
        pw_cli_err("pool delete: no pool is named \"%s\" (see poolwatch pool list)", name);
        rc = PW_CLI_USAGE;
    } else if (e != PW_OK) {
        pw_cli_err("pool delete %s: %s", name, pw_strerror(e));
        rc = e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
    } else {
        pw_cli_audit_append(g, "pool.delete", name, true, NULL);
        pw_cli_err("pool %s deleted (its history stays)", name);
    }
    pw_inventory_close(inv);
    return rc;
}

/* ---- list and history ------------------------------------------------------------ */

static void
cp_cap_text(const cp_pool *p, unsigned r, char *buf, size_t len)
{
    if (p->cap[r] == 0)
        snprintf(buf, len, "measured");
    else
        pw_out_value(p->cap[r], buf, len);
}

static void
cp_hosts_text(const cp_pool *p, char *buf, size_t len)
{
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < p->nhosts && o < len; i++)
        o += (size_t) snprintf(buf + o, len - o, "%s%s", i ? "," : "", p->hosts[i]);
    pw_utf8_cut(buf);               /* cut at the buffer's end: not inside a character */
}

static int
cp_print(const cp_list *l, const char *format, bool history)
{
    static const char *const th[] = {
        "POOL", "HOSTS", "CPU OC", "MEM OC", "CPU", "MEMORY B", "STORAGE B", "NETWORK B/S",
    };
    static const char *const hh[] = {
        "VALID FROM", "RECORDED", "POOL", "HOSTS", "CPU OC", "MEM OC", "CPU", "MEMORY B", "STORAGE B",
        "NETWORK B/S",
    };
    pw_out_format fmt;
    pw_table     *t = NULL;
    json_t       *arr = NULL;
    int           rc = PW_CLI_OK;

    if (pw_out_format_parse(format != NULL ? format : "table", &fmt) != PW_OK) {
        pw_cli_err("pool: --format must be table, csv or json, not \"%s\"", format);
        return PW_CLI_USAGE;
    }
    if (fmt == PW_OUT_TABLE && (t = history ? pw_table_new(10, hh) : pw_table_new(8, th)) == NULL)
        return PW_CLI_FAIL;
    if (fmt == PW_OUT_JSON && (arr = json_array()) == NULL)
        return PW_CLI_FAIL;
    if (fmt == PW_OUT_CSV) {
        static const char *const ch[] = {
            "valid_from", "recorded", "deleted", "pool", "hosts", "cpu_overcommit", "memory_overcommit",
            "capacity_cpu", "capacity_memory", "capacity_storage", "capacity_network",
        };
        pw_out_csv_row(stdout, history ? 11 : 8, history ? ch : ch + 3);
    }
    for (size_t i = 0; i < l->n && rc == PW_CLI_OK; i++) {
        const cp_pool *p = &l->p[i];
        char           hosts[8192], from[32], rec[32], oc[2][32], cap[PW_POOL_RES_COUNT_][32];

        cp_hosts_text(p, hosts, sizeof hosts);
        if (p->from == INT64_MIN)
            snprintf(from, sizeof from, "-");
        else
            pw_out_time_s(p->from, from, sizeof from);
        pw_out_time_s(p->recorded, rec, sizeof rec);
        pw_out_value(p->cpu_oc, oc[0], sizeof oc[0]);
        pw_out_value(p->mem_oc, oc[1], sizeof oc[1]);
        for (unsigned r = 0; r < PW_POOL_RES_COUNT_; r++)
            cp_cap_text(p, r, cap[r], sizeof cap[r]);
        if (fmt == PW_OUT_TABLE) {
            const char *cells[10] = {
                from, rec, p->name, p->deleted ? "(deleted)" : p->nhosts ? hosts : "-", oc[0], oc[1],
                cap[0], cap[1], cap[2], cap[3],
            };
            if (pw_table_add(t, history ? cells : cells + 2) != PW_OK)
                rc = PW_CLI_FAIL;
        } else if (fmt == PW_OUT_CSV) {
            const char *cells[11] = {
                strcmp(from, "-") ? from : "", rec, p->deleted ? "true" : "false", p->name, hosts, oc[0], oc[1],
                p->cap[0] ? cap[0] : "0", p->cap[1] ? cap[1] : "0", p->cap[2] ? cap[2] : "0",
                p->cap[3] ? cap[3] : "0",
            };
            pw_out_csv_row(stdout, history ? 11 : 8, history ? cells : cells + 3);
        } else {
            json_t *h = json_array(), *o;
            for (size_t j = 0; h != NULL && j < p->nhosts; j++)
                json_array_append_new(h, json_string(p->hosts[j]));
            o = json_pack("{s:s, s:o, s:f, s:f, s:{s:f, s:f, s:f, s:f}}", "name", p->name, "hosts",
                          h != NULL ? h : json_null(), "cpu_overcommit", p->cpu_oc, "memory_overcommit",
                          p->mem_oc, "capacity", "cpu", p->cap[0], "memory", p->cap[1], "storage", p->cap[2],
                          "network", p->cap[3]);
            if (o != NULL && history) {
                json_object_set_new(o, "valid_from", p->from == INT64_MIN ? json_null() : json_integer(p->from));
                json_object_set_new(o, "recorded", json_integer(p->recorded));
                json_object_set_new(o, "deleted", json_boolean(p->deleted));
            }
            if (o == NULL || json_array_append_new(arr, o) != 0)
                rc = PW_CLI_FAIL;
        }
    }
    pw_out_listing(rc == PW_CLI_OK, t, arr);
    return rc;
}

static int
cp_list_run(pw_cli *g, const cp_opts *o, const char *hist_name)
{
    pw_inventory *inv = NULL;
    cp_list       l = { 0 };
    int64_t       at;
    pw_err        e;
    int           rc;

    if (!pw_cli_inventory_time(o->at, pw_now_ms(), &at)) {
        pw_cli_err("pool list: --at takes a date (2026-10-15) or time, not \"%s\"", o->at);
        return PW_CLI_USAGE;
    }
    if ((rc = pw_cli_open_inventory(g, true, &inv)) != PW_CLI_OK)
        return rc;
    e = hist_name != NULL ? pw_inventory_pool_history(inv, hist_name, cp_collect_hist, &l)
                          : pw_inventory_pools(inv, at, cp_collect, &l);
    if (e == PW_ENOENT || (e == PW_EINVAL && hist_name != NULL)) {
        pw_cli_err("pool history: no pool was ever named \"%s\"", hist_name);
        rc = PW_CLI_USAGE;
    } else if (e != PW_OK || l.nomem) {
        pw_cli_err("pool: %s", l.nomem ? "out of memory" : pw_strerror(e));
        rc = l.nomem ? PW_CLI_FAIL : PW_CLI_NODATA;
    } else if (l.n == 0 && (o->format == NULL || strcmp(o->format, "table") == 0)) {
        pw_cli_err("no pools defined (poolwatch pool set NAME --hosts a,b,c)");
    } else {
        rc = cp_print(&l, o->format, hist_name != NULL);
    }
    cp_list_free(&l);
    pw_inventory_close(inv);
    return rc;
}

/* ---- the command ------------------------------------------------------------------ */

static void
cp_usage(FILE *f, const pw_option *opts)
{
    fprintf(f,
        "usage: poolwatch [--data DIR] pool set NAME [--hosts a,b,c] [--cpu-overcommit X]\n"
        "                 [--memory-overcommit X] [--capacity-cpu N] [--capacity-memory SIZE]\n"
        "                 [--capacity-storage SIZE] [--capacity-network BYTES_PER_S]\n"
        "       poolwatch [--data DIR] pool list [--at DATE] [--format table|csv|json]\n"
        "       poolwatch [--data DIR] pool delete NAME\n"
        "       poolwatch [--data DIR] pool history NAME [--format table|csv|json]\n"
        "\n"
        "Resource pools (DIR/inventory.mdb): which hosts (as agents name them) form\n"
        "a pool, how far vCPUs and memory may be overcommitted, and capacity figures\n"
        "that replace the measured ones (0 = measured). set creates a pool or\n"
        "changes the options given (the others keep their values; a new pool has\n"
        "overcommit 1 and measured capacity). Every change is kept with its time\n"
        "and recorded in the audit log. Typical overcommit: vCPU 2 to 4 for general\n"
        "workloads (1 for databases and latency-critical systems); memory 1 (at most\n"
        "1.2 to 1.5 with ballooning).\n"
        "\noptions:\n");
    pw_config_usage(opts, f);
}

/* What a subcommand runs with. */
typedef struct cp_call {
    pw_cli  *g;
    cp_opts *o;
} cp_call;

static int
cp_sub_set(void *ctx, char **args)
{
    cp_call *c = ctx;

    return cp_set(c->g, c->o, args[0]);
}

static int
cp_sub_list(void *ctx, char **args)
{
    cp_call *c = ctx;

    (void) args;
    return cp_list_run(c->g, c->o, NULL);
}

static int
cp_sub_delete(void *ctx, char **args)
{
    cp_call *c = ctx;

    return cp_delete(c->g, args[0]);
}

static int
cp_sub_history(void *ctx, char **args)
{
    cp_call *c = ctx;

    return cp_list_run(c->g, c->o, args[0]);
}

static const pw_cli_sub cp_subs[] = {
    { "set", 1, "give one pool name", NULL, cp_sub_set },
    { "list", 0, NULL, NULL, cp_sub_list },
    { "delete", 1, "give one pool name", NULL, cp_sub_delete },
    { "history", 1, "give one pool name", NULL, cp_sub_history },
};

int
pw_cli_pool(pw_cli *g, int argc, char **argv)
{
    cp_opts         o = { 0 };
    bool            help = false;
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the collector's data directory", "DIR" },
        { "hosts", PW_OPT_STRING, &o.hosts, "set: the member hosts, comma-separated (\"\" for none)", "LIST" },
        { "cpu-overcommit", PW_OPT_STRING, &o.cpu_oc, "set: vCPUs allowed per core (default 1)", "X" },
        { "memory-overcommit", PW_OPT_STRING, &o.mem_oc, "set: memory allowed per byte (default 1)", "X" },
        { "capacity-cpu", PW_OPT_STRING, &o.cap[PW_POOL_CPU], "set: CPU capacity in vCPUs or cores (0 = measured)", "N" },
        { "capacity-memory", PW_OPT_STRING, &o.cap[PW_POOL_MEMORY], "set: memory capacity (0 = measured)", "SIZE" },
        { "capacity-storage", PW_OPT_STRING, &o.cap[PW_POOL_STORAGE], "set: storage capacity (0 = measured)", "SIZE" },
        { "capacity-network", PW_OPT_STRING, &o.cap[PW_POOL_NETWORK], "set: network capacity, bytes/s (0 = measured)", "RATE" },
        { "at", PW_OPT_STRING, &o.at, "list: as of this date or time (default now)", "DATE" },
        { "format", PW_OPT_STRING, &o.format, "list, history: table (default), csv or json", "FMT" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    pw_config       cfg = { 0 };
    int             npos, rc = PW_CLI_USAGE;

    if ((rc = pw_cli_args("pool", opts, &cfg, argc, argv, &npos, &help, cp_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    {
        cp_call call = { g, &o };

        rc = pw_cli_dispatch("pool", cp_subs, sizeof cp_subs / sizeof cp_subs[0], &call, npos, argv);
    }
out:
    pw_config_free(&cfg);
    return rc;
}
