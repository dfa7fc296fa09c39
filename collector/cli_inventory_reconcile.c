/*
 * cli_inventory_reconcile.c - `poolwatch inventory reconcile`: the inventory
 * against what the hypervisors report.
 *
 * Observed domains are the series poolwatch_vm_info{vm=<uuid>,
 * vm_name=<name>, host=...} (agent hypervisor mode) with a point in
 * [at - days, at]; the last point (from the 1-hour rollups, which include
 * the points not rolled up yet) is the domain's "last seen". Each VM in
 * service at `at` is matched to a domain by UUID, else by name, else by IP
 * (when a series carries an `ip` label). What is left over:
 *   unowned     a domain no inventory VM accounts for (resources nobody pays for)
 *   terminated  a domain matching a VM the inventory says was terminated (reclaim it)
 *   undelivered a domain matching a VM not delivered yet at `at`
 *   stale       a VM in service in the inventory, not seen for `days` (reclaim
 *               candidate, or a stale record)
 */
#include "cli_inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "inventory.h"
#include "output_format.h"
#include "series.h"
#include "store.h"

#define CR_DAY_MS INT64_C(86400000)

typedef struct cr_dom {
    char   *uuid, *name, *host, *ip;
    int64_t last_seen;
    bool    matched;
    size_t  vm;          /* the VM it matched, when matched */
} cr_dom;

typedef struct cr_vm {
    char   *name, *uuid, *ip, *tenant, *host;
    int64_t terminated;
    bool    matched;
} cr_vm;

typedef struct cr_ctx {
    pw_store_txn *t;
    int64_t       from, to;
    cr_dom       *d;
    size_t        nd, cd;
    cr_vm        *v;
    size_t        nv, cv;
    bool          nomem;
    int64_t       last;      /* rollup scan result */
} cr_ctx;

static char *
cr_dup(const char *s)
{
    return strdup(s != NULL ? s : "");
}

static int
cr_rollup(void *ctx, const pw_rollup *r)
{
    cr_ctx *c = ctx;

    if (r->last_ts > c->last)
        c->last = r->last_ts;
    return 0;
}

static int
cr_series(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    cr_ctx        *c = ctx;
    pw_series_view v;
    const char    *uuid, *name;
    cr_dom        *d = NULL;

    c->last = INT64_MIN;
    if (pw_store_rollups(c->t, id, PW_RES_1H, c->from - pw_res_ms(PW_RES_1H), c->to, cr_rollup, c) != PW_OK
        || c->last < c->from || c->last > c->to)
        return 0;
    if (pw_series_key_parse(key, keylen, &v) != PW_OK)
        return 0;
    uuid = pw_series_view_label(&v, "vm");
    name = pw_series_view_label(&v, "vm_name");
    if (uuid == NULL && name == NULL)
        goto out;
    /* One domain may have several series (a migration changes host, a new title): merge by UUID. */
    for (size_t i = 0; uuid != NULL && i < c->nd; i++)
        if (strcmp(c->d[i].uuid, uuid) == 0)
            d = &c->d[i];
    if (d == NULL) {
        if (c->nd == c->cd) {
            size_t  cap = c->cd ? c->cd * 2 : 64;
            cr_dom *nd = realloc(c->d, cap * sizeof *nd);
            if (nd == NULL)
                goto nomem;
            c->d = nd;
            c->cd = cap;
        }
        d = &c->d[c->nd];
        memset(d, 0, sizeof *d);
        d->last_seen = INT64_MIN;
        if ((d->uuid = cr_dup(uuid)) == NULL || (d->name = cr_dup(name)) == NULL
            || (d->host = cr_dup(pw_series_view_label(&v, "host"))) == NULL
            || (d->ip = cr_dup(pw_series_view_label(&v, "ip"))) == NULL) {
            free(d->uuid);
            free(d->name);
            free(d->host);
            goto nomem;
        }
        c->nd++;
    }
    if (c->last > d->last_seen) {
        char *host = cr_dup(pw_series_view_label(&v, "host")), *nm = cr_dup(name);
        if (host == NULL || nm == NULL) {
            free(host);
            free(nm);
            goto nomem;
        }
        free(d->host);
        free(d->name);
        d->host = host;
        d->name = nm;
        d->last_seen = c->last;
    }
out:
    pw_series_view_free(&v);
    return 0;
nomem:
    pw_series_view_free(&v);
    c->nomem = true;
    return 1;
}

static int
cr_add_vm(void *ctx, const pw_inv_vm *vm)
{
    cr_ctx *c = ctx;
    cr_vm  *v;

    if (c->nv == c->cv) {
        size_t cap = c->cv ? c->cv * 2 : 64;
        cr_vm *nv = realloc(c->v, cap * sizeof *nv);
        if (nv == NULL) {
            c->nomem = true;
            return 1;
        }
        c->v = nv;
        c->cv = cap;
    }
    v = &c->v[c->nv];
    memset(v, 0, sizeof *v);
    v->terminated = vm->terminated_ms;
    if ((v->name = cr_dup(vm->name)) == NULL || (v->uuid = cr_dup(vm->uuid)) == NULL
        || (v->ip = cr_dup(vm->ip)) == NULL || (v->tenant = cr_dup(vm->tenant)) == NULL
        || (v->host = cr_dup(vm->host)) == NULL) {
        free(v->name);
        free(v->uuid);
        free(v->ip);
        free(v->tenant);
        c->nomem = true;
        return 1;
    }
    c->nv++;
    return 0;
}

/* Is ip (one address) among the comma-separated list? */
static bool
cr_ip_in(const char *list, const char *ip)
{
    size_t n = strlen(ip);

    if (n == 0)
        return false;
    for (const char *p = list; p != NULL && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, ip, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

/* Matches the VMs [first, nv) to unmatched domains: UUID, then name, then IP. */
static void
cr_match(cr_ctx *c, size_t first)
{
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = first; i < c->nv; i++) {
            cr_vm *v = &c->v[i];
            if (v->matched)
                continue;
            for (size_t j = 0; j < c->nd && !v->matched; j++) {
                cr_dom *d = &c->d[j];
                if (d->matched)
                    continue;
                if ((pass == 0 && v->uuid[0] != '\0' && strcmp(v->uuid, d->uuid) == 0)
                    || (pass == 1 && strcmp(v->name, d->name) == 0)
                    || (pass == 2 && v->ip[0] != '\0' && cr_ip_in(v->ip, d->ip)))
                {
                    v->matched = d->matched = true;
                    d->vm = i;
                }
            }
        }
}

static void
cr_free(cr_ctx *c)
{
    for (size_t i = 0; i < c->nd; i++) {
        free(c->d[i].uuid);
        free(c->d[i].name);
        free(c->d[i].host);
        free(c->d[i].ip);
    }
    for (size_t i = 0; i < c->nv; i++) {
        free(c->v[i].name);
        free(c->v[i].uuid);
        free(c->v[i].ip);
        free(c->v[i].tenant);
        free(c->v[i].host);
    }
    free(c->d);
    free(c->v);
}

/* One line of the report. */
typedef struct cr_row {
    const char *kind, *name, *uuid, *tenant, *host;
    int64_t     last_seen;
} cr_row;

static int
cr_print(const cr_row *rows, size_t n, pw_out_format fmt)
{
    static const char *const th[] = { "KIND", "NAME", "UUID", "TENANT", "HOST", "LAST SEEN" };
    static const char *const ch[] = { "kind", "name", "uuid", "tenant", "host", "last_seen" };
    pw_table *t = NULL;
    json_t   *arr = NULL;
    int       rc = PW_CLI_OK;

    if (fmt == PW_OUT_TABLE && (t = pw_table_new(6, th)) == NULL)
        return PW_CLI_FAIL;
    if (fmt == PW_OUT_JSON && (arr = json_array()) == NULL)
        return PW_CLI_FAIL;
    if (fmt == PW_OUT_CSV)
        pw_out_csv_row(stdout, 6, ch);
    for (size_t i = 0; i < n && rc == PW_CLI_OK; i++) {
        const cr_row *r = &rows[i];
        char          seen[32] = "";
        if (r->last_seen != INT64_MIN)
            pw_time_format_iso(r->last_seen, seen, sizeof seen);
        if (fmt == PW_OUT_TABLE) {
            const char *cells[6] = { r->kind, r->name[0] ? r->name : "-", r->uuid[0] ? r->uuid : "-",
                                     r->tenant[0] ? r->tenant : "-", r->host[0] ? r->host : "-",
                                     seen[0] ? seen : "never" };
            if (pw_table_add(t, cells) != PW_OK)
                rc = PW_CLI_FAIL;
        } else if (fmt == PW_OUT_CSV) {
            const char *cells[6] = { r->kind, r->name, r->uuid, r->tenant, r->host, seen };
            pw_out_csv_row(stdout, 6, cells);
        } else {
            json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "kind", r->kind, "name", r->name,
                                  "uuid", r->uuid, "tenant", r->tenant, "host", r->host, "last_seen",
                                  seen[0] ? json_string(seen) : json_null());
            if (o == NULL || json_array_append_new(arr, o) != 0)
                rc = PW_CLI_FAIL;
        }
    }
    pw_out_listing(rc == PW_CLI_OK, t, arr);
    return rc;
}

int
pw_cli_inventory_reconcile(pw_cli *g, const char *days_s, const char *at_s, const char *format)
{
    pw_store     *s = NULL;
    pw_inventory *inv = NULL;
    cr_ctx        c = { 0 };
    cr_row       *rows = NULL;
    bool         *was = NULL;
    pw_out_format fmt;
    size_t        n = 0, in_service, matched = 0;
    long          days = 7;
    char         *end;
    int64_t       at;
    pw_err        e;
    int           rc;

    if (days_s != NULL && ((days = strtol(days_s, &end, 10)) < 1 || days > 3650 || *end != '\0' || end == days_s)) {
        pw_cli_err("inventory reconcile: --days takes a whole number of days, 1 to 3650, not \"%s\"", days_s);
        return PW_CLI_USAGE;
    }
    if (!pw_cli_inventory_time(at_s, pw_now_ms(), &at)) {
        pw_cli_err("inventory reconcile: --at takes a date (2026-10-15) or time, not \"%s\"", at_s);
        return PW_CLI_USAGE;
    }
    if (pw_out_format_parse(format != NULL ? format : "table", &fmt) != PW_OK) {
        pw_cli_err("inventory reconcile: --format must be table, csv or json, not \"%s\"", format);
        return PW_CLI_USAGE;
    }
    c.from = at - days * CR_DAY_MS;
    c.to = at;
    if ((rc = pw_cli_open_store(g, &s)) != PW_CLI_OK)
        return rc;
    if ((rc = pw_cli_open_inventory(g, true, &inv)) != PW_CLI_OK)
        goto out;
    if ((e = pw_store_read_begin(s, &c.t)) != PW_OK) {
        pw_cli_err("inventory reconcile: reading the store: %s", pw_strerror(e));
        rc = PW_CLI_NODATA;
        goto out;
    }
    e = pw_store_series_scan(c.t, "poolwatch_vm_info", cr_series, &c);
    pw_store_read_end(c.t);
    if (e == PW_OK && !c.nomem)
        e = pw_inventory_vms_at(inv, at, NULL, cr_add_vm, &c);
    if (e != PW_OK || c.nomem) {
        pw_cli_err("inventory reconcile: %s", c.nomem ? "out of memory" : pw_strerror(e));
        rc = c.nomem ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    in_service = c.nv;
    cr_match(&c, 0);
    for (size_t i = 0; i < in_service; i++)
        matched += c.v[i].matched;
    /* Domains left over: does a VM terminated (or not yet delivered) by then account for them? */
    if ((e = pw_inventory_vms_latest(inv, NULL, cr_add_vm, &c)) != PW_OK || c.nomem) {
        pw_cli_err("inventory reconcile: %s", c.nomem ? "out of memory" : pw_strerror(e));
        rc = c.nomem ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    /* The newest record of a VM in service is that VM again: out of the second round. */
    for (size_t i = in_service; i < c.nv; i++)
        for (size_t j = 0; j < in_service && !c.v[i].matched; j++)
            if (strcmp(c.v[i].name, c.v[j].name) == 0)
                c.v[i].matched = true;
    if ((was = calloc(c.nd + 1, sizeof *was)) == NULL
        || (rows = calloc(c.nd + in_service + 1, sizeof *rows)) == NULL) {
        rc = PW_CLI_FAIL;
        goto out;
    }
    for (size_t j = 0; j < c.nd; j++)
        was[j] = c.d[j].matched;
    cr_match(&c, in_service);
    for (size_t j = 0; j < c.nd; j++) {
        const cr_dom *d = &c.d[j];
        const cr_vm  *v = d->matched ? &c.v[d->vm] : NULL;
        if (was[j])
            continue;
        rows[n++] = (cr_row) { v == NULL ? "unowned" : v->terminated <= at ? "terminated" : "undelivered",
                               d->name, d->uuid, v != NULL ? v->tenant : "", d->host, d->last_seen };
    }
    for (size_t i = 0; i < in_service; i++)
        if (!c.v[i].matched)
            rows[n++] = (cr_row) { "stale", c.v[i].name, c.v[i].uuid, c.v[i].tenant, c.v[i].host, INT64_MIN };
    pw_cli_err("reconcile: %zu domains seen in the %ld days to %s, %zu VMs in service, %zu matched, "
               "%zu to look at", c.nd, days, at_s != NULL ? at_s : "now", in_service, matched, n);
    rc = cr_print(rows, n, fmt);
out:
    free(was);
    free(rows);
    cr_free(&c);
    pw_inventory_close(inv);
    pw_store_close(s);
    return rc;
}
