/*
 * http_inventory.c - GET /api/v1/inventory: the VMs in service at a time
 * (inventory.h), as JSON or CSV.
 *
 *   tenant   only this tenant (using unit); default all the caller may see
 *   at       a time (Unix seconds or RFC 3339, as the query API) or a date
 *            (2026-10-10); default now
 *   all      "true": every VM's newest record, whatever its dates
 *   format   json (default: {"status":"success","data":[{...}, ...]}) or csv
 *            (header of column keys, then one row per VM)
 *
 * The tenant scope is applied here, in hi_tenant and nowhere else: a tenant
 * token sees its own tenant's VMs only, whatever `tenant` it asks for (another
 * tenant's name gives an empty list, not an error: no way to probe which
 * tenants exist).
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "inventory_cols.h"

typedef struct hi_list {
    pw_http_call *c;
    bool          csv;
    json_t       *arr;
    size_t        n;
    pw_err        e;
} hi_list;

/*
 * The tenant filter for a caller: *tenant NULL = all. false: the caller may
 * see no VM at all (a scope of none).
 */
static bool
hi_tenant(const pw_scope *s, const char *requested, const char **tenant, bool *empty)
{
    *empty = false;
    switch (s->kind) {
    case PW_SCOPE_ALL:
        *tenant = requested;
        return true;
    case PW_SCOPE_TENANT:
        *tenant = s->tenant;
        *empty = requested != NULL && strcmp(requested, s->tenant) != 0;
        return true;
    case PW_SCOPE_NONE:
    default:
        return false;
    }
}

static void
hi_csv_field(pw_http_buf *b, const char *s, pw_err *e)
{
    if (*e != PW_OK)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        *e = pw_http_buf_adds(b, s);
        return;
    }
    *e = pw_http_buf_adds(b, "\"");
    for (const char *p = s; *e == PW_OK && *p; p++)
        *e = *p == '"' ? pw_http_buf_adds(b, "\"\"") : pw_http_buf_add(b, p, 1);
    if (*e == PW_OK)
        *e = pw_http_buf_adds(b, "\"");
}

static int
hi_row(void *ctx, const pw_inv_vm *vm)
{
    hi_list *l = ctx;

    l->n++;
    if (l->csv) {
        char buf[PW_INV_STR_MAX + 64];
        for (int col = 0; col < PW_INV_COL_COUNT_ && l->e == PW_OK; col++) {
            pw_inv_cell(vm, (pw_inv_col) col, PW_INV_LANG_EN, buf, sizeof buf);
            if (col > 0)
                l->e = pw_http_buf_adds(&l->c->body, ",");
            hi_csv_field(&l->c->body, buf, &l->e);
        }
        if (l->e == PW_OK)
            l->e = pw_http_buf_adds(&l->c->body, "\r\n");
    } else {
        json_t *o = pw_inv_vm_json(vm, false);
        if (o == NULL || json_array_append_new(l->arr, o) != 0)
            l->e = PW_ENOMEM;
    }
    return l->e != PW_OK;
}

void
pw_http_inventory(pw_http_call *c)
{
    const char *req = pw_http_get(&c->params, "tenant"), *at_s = pw_http_get(&c->params, "at");
    const char *fmt = pw_http_get(&c->params, "format"), *all_s = pw_http_get(&c->params, "all");
    const char *tenant = NULL;
    hi_list     l = { c, false, NULL, 0, PW_OK };
    bool        empty, all = all_s != NULL && strcmp(all_s, "true") == 0;
    int64_t     at = c->now_ms;
    char        obj[256];
    pw_err      e = PW_OK;

    if (fmt != NULL && strcmp(fmt, "json") != 0 && strcmp(fmt, "csv") != 0) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"format\": json or csv");
        return;
    }
    l.csv = fmt != NULL && strcmp(fmt, "csv") == 0;
    if (at_s != NULL && pw_prom_time_parse(at_s, &at) != PW_OK && pw_time_parse(at_s, c->now_ms, &at) != PW_OK) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"at\": cannot parse \"%.100s\" to a "
                      "valid timestamp", at_s);
        return;
    }
    if (req != NULL && (req[0] == '\0' || strlen(req) > PW_INV_STR_MAX)) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"tenant\"");
        return;
    }
    if (!hi_tenant(c->scope, req, &tenant, &empty)) {
        pw_http_error(c, 403, "forbidden", "this token may see no inventory");
        return;
    }
    snprintf(obj, sizeof obj, "tenant=%.100s at=%lld%s", tenant != NULL ? tenant : "*", (long long) at,
             all ? " all" : "");
    pw_http_set_object(c, obj);
    if (c->inv == NULL) {
        pw_http_error(c, 503, "unavailable", "the inventory is not open");
        return;
    }
    if (l.csv) {
        c->content_type = "text/csv; charset=utf-8";
        for (int col = 0; col < PW_INV_COL_COUNT_ && e == PW_OK; col++)
            e = pw_http_buf_addf(&c->body, "%s%s", col ? "," : "", pw_inv_col_key((pw_inv_col) col));
        if (e == PW_OK)
            e = pw_http_buf_adds(&c->body, "\r\n");
    } else if ((l.arr = json_array()) == NULL) {
        e = PW_ENOMEM;
    }
    if (e == PW_OK && !empty)
        e = all ? pw_inventory_vms_latest(c->inv, tenant, hi_row, &l)
                : pw_inventory_vms_at(c->inv, at, tenant, hi_row, &l);
    if (e == PW_OK)
        e = l.e;
    if (e != PW_OK) {
        json_decref(l.arr);
        pw_http_buf_reset(&c->body);
        c->content_type = "application/json";
        pw_http_error(c, e == PW_ETOOBIG ? 422 : 503, e == PW_ETOOBIG ? "execution" : "unavailable",
                      "reading the inventory: %s", pw_strerror(e));
        return;
    }
    if (!l.csv)
        pw_http_success(c, l.arr);
}
