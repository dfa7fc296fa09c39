/*
 * cli_inventory.c - `poolwatch inventory import|export|list|history|reconcile`:
 * the resource inventory in DIR/inventory.mdb (inventory.h). Changes
 * (import) and exports (which carry owners' phone numbers and e-mail
 * addresses) are recorded in the audit log, principal "cli".
 */
#include "cli.h"
#include "cli_inventory.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "inventory.h"
#include "inventory_cols.h"
#include "inventory_table.h"
#include "output_format.h"
#include "sheet.h"

typedef struct ci_opts {
    const char *encoding, *sheet, *effective, *format, *output, *lang, *tenant, *at, *days;
    bool        all, dry_run;
} ci_opts;

int
pw_cli_open_inventory(const pw_cli *g, bool rdonly, pw_inventory **out)
{
    char   msg[512];
    pw_err e = pw_inventory_open(g->data_dir, rdonly, out, msg, sizeof msg);

    if (e == PW_OK)
        return PW_CLI_OK;
    pw_cli_err("%s", msg[0] ? msg : pw_strerror(e));
    return e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
}

bool
pw_cli_inventory_time(const char *s, int64_t now, int64_t *out)
{
    if (s == NULL) {
        *out = now;
        return true;
    }
    return pw_inv_parse_date(s, out) || pw_time_parse(s, now, out) == PW_OK;
}

/* ---- import ------------------------------------------------------------------- */

static int
ci_import(pw_cli *g, const ci_opts *o, const char *path)
{
    pw_inventory        *inv = NULL;
    pw_sheet            *sh = NULL;
    pw_inv_rows         *rows = NULL;
    pw_inv_import_stats  st = { 0, 0, 0 };
    char                 msg[1024], object[256], *errs = NULL;
    int                  enc = pw_sheet_enc_parse(o->encoding);
    int64_t              now = pw_now_ms(), effective;
    pw_err               e;
    int                  rc = PW_CLI_OK;

    if (enc < 0) {
        pw_cli_err("inventory import: --encoding must be auto, utf-8 or gb18030, not \"%s\"", o->encoding);
        return PW_CLI_USAGE;
    }
    if (!pw_cli_inventory_time(o->effective, now, &effective)) {
        pw_cli_err("inventory import: --effective takes a date (2026-10-15) or time, not \"%s\"", o->effective);
        return PW_CLI_USAGE;
    }
    if ((e = pw_sheet_read_file(path, (pw_sheet_enc) enc, o->sheet, &sh, msg, sizeof msg)) != PW_OK) {
        pw_cli_err("inventory import %s: %s", path, msg);
        rc = e == PW_ENOMEM ? PW_CLI_FAIL : e == PW_EIO || e == PW_ENOENT ? PW_CLI_USAGE : PW_CLI_BADINPUT;
        snprintf(object, sizeof object, "%s", path);
        if (!o->dry_run)
            pw_cli_audit_append(g, "inventory.import", object, false, msg);
        goto out;
    }
    if ((e = pw_inv_table_rows(sh, &rows, &errs)) != PW_OK) {
        size_t n = 0;
        if (e == PW_ENOMEM) {
            pw_cli_err("inventory import %s: out of memory", path);
            rc = PW_CLI_FAIL;
            goto out;
        }
        for (const char *p = errs; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
            n++;
        pw_cli_err("inventory import %s: %zu problem%s, nothing imported:", path, n, n == 1 ? "" : "s");
        fprintf(stderr, "%s\n", errs);
        snprintf(object, sizeof object, "%s", path);
        snprintf(msg, sizeof msg, "%zu problem%s in the file", n, n == 1 ? "" : "s");
        if (!o->dry_run)
            pw_cli_audit_append(g, "inventory.import", object, false, msg);
        rc = PW_CLI_BADINPUT;
        goto out;
    }
    if (rows->ignored[0] != '\0')
        pw_cli_err("inventory import %s: ignored columns: %s", path, rows->ignored);
    if (o->dry_run) {
        pw_cli_err("inventory import %s: %zu rows are valid (--dry-run: nothing stored)", path, rows->n);
        goto out;
    }
    if ((rc = pw_cli_open_inventory(g, false, &inv)) != PW_CLI_OK)
        goto out;
    e = pw_inventory_import(inv, now, effective, rows->vms, rows->n, &st, msg, sizeof msg);
    snprintf(object, sizeof object, "%s (%zu rows: %zu added, %zu changed, %zu unchanged)", path, rows->n,
             st.added, st.changed, st.unchanged);
    if (e != PW_OK) {
        pw_cli_err("inventory import %s: %s", path, msg[0] ? msg : pw_strerror(e));
        pw_cli_audit_append(g, "inventory.import", path, false, msg[0] ? msg : pw_strerror(e));
        rc = e == PW_EINVAL ? PW_CLI_BADINPUT : e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    pw_cli_audit_append(g, "inventory.import", object, true, NULL);
    pw_cli_err("imported %s", object);
out:
    free(errs);
    pw_inv_rows_free(rows);
    pw_sheet_free(sh);
    pw_inventory_close(inv);
    return rc;
}

/* ---- export ------------------------------------------------------------------- */

typedef struct ci_export {
    pw_inv_writer *w;
    size_t         n;
    pw_err         e;
} ci_export;

static int
ci_export_row(void *ctx, const pw_inv_vm *vm)
{
    ci_export *x = ctx;

    if ((x->e = pw_inv_writer_row(x->w, vm)) != PW_OK)
        return 1;
    x->n++;
    return 0;
}

static bool
ci_lang(const char *s, pw_inv_lang *out)
{
    if (s == NULL || strcmp(s, "zh") == 0)
        *out = PW_INV_LANG_ZH;
    else if (strcmp(s, "en") == 0)
        *out = PW_INV_LANG_EN;
    else
        return false;
    return true;
}

static int
ci_export_run(pw_cli *g, const ci_opts *o)
{
    pw_inventory *inv = NULL;
    ci_export     x = { NULL, 0, PW_OK };
    pw_inv_lang   lang;
    bool          xlsx;
    char          msg[512], object[256];
    size_t        olen = o->output != NULL ? strlen(o->output) : 0;
    pw_err        e;
    int           rc;

    if (!ci_lang(o->lang, &lang)) {
        pw_cli_err("inventory export: --lang must be zh or en, not \"%s\"", o->lang);
        return PW_CLI_USAGE;
    }
    if (o->format != NULL && strcmp(o->format, "csv") != 0 && strcmp(o->format, "xlsx") != 0) {
        pw_cli_err("inventory export: --format must be csv or xlsx, not \"%s\"", o->format);
        return PW_CLI_USAGE;
    }
    /* Without --format, the file name decides. */
    xlsx = o->format != NULL ? strcmp(o->format, "xlsx") == 0
         : olen > 5 && strcasecmp(o->output + olen - 5, ".xlsx") == 0;
    if (xlsx && o->output == NULL) {
        pw_cli_err("inventory export: XLSX needs -o FILE");
        return PW_CLI_USAGE;
    }
    if ((rc = pw_cli_open_inventory(g, true, &inv)) != PW_CLI_OK)
        return rc;
    snprintf(object, sizeof object, "%s%s%s", o->output != NULL ? o->output : "stdout",
             o->tenant != NULL ? " tenant " : "", o->tenant != NULL ? o->tenant : "");
    pw_cli_audit_append(g, "inventory.export", object, true, NULL);
    if ((e = pw_inv_writer_open(o->output, xlsx, lang, &x.w, msg, sizeof msg)) != PW_OK) {
        pw_cli_err("inventory export: %s", msg);
        rc = PW_CLI_FAIL;
        goto out;
    }
    e = pw_inventory_vms_latest(inv, o->tenant, ci_export_row, &x);
    if (e == PW_OK)
        e = x.e;
    if (e != PW_OK) {
        pw_cli_err("inventory export: %s", pw_strerror(e));
        rc = e == PW_EIO ? PW_CLI_FAIL : PW_CLI_NODATA;
    }
    if (pw_inv_writer_close(x.w, msg, sizeof msg) != PW_OK) {
        pw_cli_err("inventory export: %s", msg);
        rc = PW_CLI_FAIL;
    }
    if (rc == PW_CLI_OK && o->output != NULL)
        pw_cli_err("exported %zu VMs to %s", x.n, o->output);
out:
    pw_inventory_close(inv);
    return rc;
}

/* ---- list and history ---------------------------------------------------------- */

/* The columns of the table view (all of them would not fit a terminal). */
static const pw_inv_col ci_table_cols[] = {
    PW_INV_COL_NAME, PW_INV_COL_TENANT, PW_INV_COL_SYSTEM, PW_INV_COL_SERVER_TYPE, PW_INV_COL_VCPUS,
    PW_INV_COL_MEMORY, PW_INV_COL_SYS_DISK, PW_INV_COL_DATA_DISK, PW_INV_COL_POOL, PW_INV_COL_HOST,
    PW_INV_COL_DELIVERED, PW_INV_COL_TERMINATED, PW_INV_COL_STATE,
};
#define CI_NTABLE (sizeof ci_table_cols / sizeof ci_table_cols[0])

typedef struct ci_list {
    pw_out_format fmt;
    bool          history;
    pw_table     *t;
    json_t       *arr;
    size_t        n;
    bool          failed;
} ci_list;

static void
ci_when(int64_t ms, char *buf, size_t len)
{
    if (ms == INT64_MIN || ms == INT64_MAX || ms == 0)
        snprintf(buf, len, "-");
    else
        pw_out_time_s(ms, buf, len);
}

static int
ci_list_row(void *ctx, const pw_inv_vm *vm)
{
    ci_list *l = ctx;
    char     cells[CI_NTABLE + 3][PW_INV_STR_MAX + 64];

    l->n++;
    switch (l->fmt) {
    case PW_OUT_TABLE: {
        const char *p[CI_NTABLE + 3];
        size_t      k = 0;
        if (l->history) {
            ci_when(vm->valid_from_ms, cells[k], sizeof cells[k]);
            p[k] = cells[k];
            k++;
            ci_when(vm->recorded_ms, cells[k], sizeof cells[k]);
            p[k] = cells[k];
            k++;
        }
        for (size_t i = 0; i < CI_NTABLE; i++, k++) {
            pw_inv_cell(vm, ci_table_cols[i], PW_INV_LANG_EN, cells[k], sizeof cells[k]);
            if (cells[k][0] == '\0')
                snprintf(cells[k], sizeof cells[k], "-");
            p[k] = cells[k];
        }
        if (pw_table_add(l->t, p) != PW_OK)
            l->failed = true;
        break;
    }
    case PW_OUT_CSV: {
        const char *p[PW_INV_COL_COUNT_ + 2];
        size_t      k = 0;
        if (l->history) {
            ci_when(vm->valid_from_ms, cells[0], sizeof cells[0]);
            ci_when(vm->recorded_ms, cells[1], sizeof cells[1]);
            p[k++] = strcmp(cells[0], "-") ? cells[0] : "";
            p[k++] = cells[1];
        }
        char (*all)[PW_INV_STR_MAX + 64] = malloc(PW_INV_COL_COUNT_ * sizeof *all);
        if (all == NULL) {
            l->failed = true;
            return 1;
        }
        for (int c = 0; c < PW_INV_COL_COUNT_; c++) {
            pw_inv_cell(vm, (pw_inv_col) c, PW_INV_LANG_EN, all[c], sizeof all[c]);
            p[k++] = all[c];
        }
        pw_out_csv_row(stdout, k, p);
        free(all);
        break;
    }
    case PW_OUT_JSON: {
        json_t *o = pw_inv_vm_json(vm, l->history);
        if (o == NULL || json_array_append_new(l->arr, o) != 0)
            l->failed = true;
        break;
    }
    }
    return l->failed;
}

static int
ci_list_start(ci_list *l, const char *format)
{
    if (pw_out_format_parse(format != NULL ? format : "table", &l->fmt) != PW_OK) {
        pw_cli_err("inventory: --format must be table, csv or json, not \"%s\"", format);
        return PW_CLI_USAGE;
    }
    if (l->fmt == PW_OUT_TABLE) {
        /* Borrowed by the table until it is freed: static. Same order as ci_table_cols. */
        static const char *const list_h[] = {
            "NAME", "TENANT", "SYSTEM", "TYPE", "VCPU", "MEM GB", "SYS GB", "DATA GB", "POOL", "HOST",
            "DELIVERED", "TERMINATED", "STATE",
        };
        static const char *const hist_h[] = {
            "VALID FROM", "RECORDED", "NAME", "TENANT", "SYSTEM", "TYPE", "VCPU", "MEM GB", "SYS GB",
            "DATA GB", "POOL", "HOST", "DELIVERED", "TERMINATED", "STATE",
        };
        if ((l->t = l->history ? pw_table_new(CI_NTABLE + 2, hist_h) : pw_table_new(CI_NTABLE, list_h)) == NULL)
            return PW_CLI_FAIL;
        for (size_t i = 4; i < 8; i++)
            pw_table_right(l->t, i + (l->history ? 2 : 0));
    } else if (l->fmt == PW_OUT_CSV) {
        const char *h[PW_INV_COL_COUNT_ + 2];
        size_t      k = 0;
        if (l->history) {
            h[k++] = "valid_from";
            h[k++] = "recorded";
        }
        for (int c = 0; c < PW_INV_COL_COUNT_; c++)
            h[k++] = pw_inv_col_key((pw_inv_col) c);
        pw_out_csv_row(stdout, k, h);
    } else if ((l->arr = json_array()) == NULL) {
        return PW_CLI_FAIL;
    }
    return PW_CLI_OK;
}

static int
ci_list_end(ci_list *l, int rc)
{
    if (rc == PW_CLI_OK && l->failed)
        rc = PW_CLI_FAIL;
    if (rc == PW_CLI_OK && l->t != NULL)
        pw_table_print(l->t, stdout);
    if (rc == PW_CLI_OK && l->arr != NULL) {
        if (json_dumpf(l->arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
            rc = PW_CLI_FAIL;
        else
            putchar('\n');
    }
    if (fflush(stdout) != 0)
        rc = PW_CLI_FAIL;
    pw_table_free(l->t);
    json_decref(l->arr);
    return rc;
}

static int
ci_list_run(pw_cli *g, const ci_opts *o)
{
    pw_inventory *inv = NULL;
    ci_list       l = { 0 };
    int64_t       at;
    pw_err        e;
    int           rc;

    if (!pw_cli_inventory_time(o->at, pw_now_ms(), &at)) {
        pw_cli_err("inventory list: --at takes a date (2026-10-15) or time, not \"%s\"", o->at);
        return PW_CLI_USAGE;
    }
    if ((rc = ci_list_start(&l, o->format)) != PW_CLI_OK)
        return ci_list_end(&l, rc);
    if ((rc = pw_cli_open_inventory(g, true, &inv)) != PW_CLI_OK)
        return ci_list_end(&l, rc);
    e = o->all ? pw_inventory_vms_latest(inv, o->tenant, ci_list_row, &l)
               : pw_inventory_vms_at(inv, at, o->tenant, ci_list_row, &l);
    if (e != PW_OK) {
        pw_cli_err("inventory list: %s", pw_strerror(e));
        rc = PW_CLI_NODATA;
    }
    pw_inventory_close(inv);
    if (rc == PW_CLI_OK && l.n == 0 && l.fmt == PW_OUT_TABLE)
        pw_cli_err("no VMs in service%s%s (poolwatch inventory import FILE adds them)",
                   o->tenant ? " for tenant " : "", o->tenant ? o->tenant : "");
    return ci_list_end(&l, rc);
}

static int
ci_history_run(pw_cli *g, const ci_opts *o, const char *name)
{
    pw_inventory *inv = NULL;
    ci_list       l = { .history = true };
    pw_err        e;
    int           rc;

    if ((rc = ci_list_start(&l, o->format)) != PW_CLI_OK)
        return ci_list_end(&l, rc);
    if ((rc = pw_cli_open_inventory(g, true, &inv)) != PW_CLI_OK)
        return ci_list_end(&l, rc);
    e = pw_inventory_vm_history(inv, name, ci_list_row, &l);
    if (e == PW_ENOENT) {
        pw_cli_err("inventory history: no VM is named \"%s\"", name);
        rc = PW_CLI_USAGE;
    } else if (e != PW_OK) {
        pw_cli_err("inventory history: %s", pw_strerror(e));
        rc = PW_CLI_NODATA;
    }
    pw_inventory_close(inv);
    return ci_list_end(&l, rc);
}

/* ---- the command ------------------------------------------------------------------ */

static void
ci_usage(FILE *f, const pw_option *opts)
{
    fprintf(f,
        "usage: poolwatch [--data DIR] inventory import FILE [--encoding auto|utf-8|gb18030]\n"
        "                                       [--sheet NAME] [--effective DATE] [--dry-run]\n"
        "       poolwatch [--data DIR] inventory export [--format csv|xlsx] [-o FILE] [--lang zh|en]\n"
        "                                       [--tenant NAME]\n"
        "       poolwatch [--data DIR] inventory list [--tenant NAME] [--at DATE] [--all]\n"
        "                                       [--format table|csv|json]\n"
        "       poolwatch [--data DIR] inventory history VM [--format table|csv|json]\n"
        "       poolwatch [--data DIR] inventory reconcile [--days N] [--at DATE] [--format ...]\n"
        "\n"
        "The resource inventory (DIR/inventory.mdb): one record per VM, every change\n"
        "kept with its time.\n"
        "import    the request table (CSV or XLSX; Chinese or English headers) as an\n"
        "          upsert: rows are keyed by VM name; VMs not in the file are left alone\n"
        "          (a VM ends with its 终止日期/terminated date). All or nothing: any bad\n"
        "          cell refuses the whole file, listing every problem. Importing the\n"
        "          same file again changes nothing. --effective: when the changes took\n"
        "          effect (default now), e.g. the day of a resize.\n"
        "export    the newest record of every VM, in the import format.\n"
        "list      the VMs in service at --at (default now); --all: every VM's newest record.\n"
        "history   every version of one VM.\n"
        "reconcile VMs running but not in the inventory, and in the inventory but not\n"
        "          seen for --days (default 7), from the agents' poolwatch_vm_info series.\n"
        "Imports and exports are recorded in the audit log.\n"
        "\noptions:\n");
    pw_config_usage(opts, f);
}

/* What a subcommand runs with. */
typedef struct ci_call {
    pw_cli  *g;
    ci_opts *o;
} ci_call;

static int
ci_sub_import(void *ctx, char **args)
{
    ci_call *c = ctx;

    return ci_import(c->g, c->o, args[0]);
}

static int
ci_sub_export(void *ctx, char **args)
{
    ci_call *c = ctx;

    (void) args;
    return ci_export_run(c->g, c->o);
}

static int
ci_sub_list(void *ctx, char **args)
{
    ci_call *c = ctx;

    (void) args;
    return ci_list_run(c->g, c->o);
}

static int
ci_sub_history(void *ctx, char **args)
{
    ci_call *c = ctx;

    return ci_history_run(c->g, c->o, args[0]);
}

static int
ci_sub_reconcile(void *ctx, char **args)
{
    ci_call *c = ctx;

    (void) args;
    return pw_cli_inventory_reconcile(c->g, c->o->days, c->o->at, c->o->format);
}

static const pw_cli_sub ci_subs[] = {
    { "import", 1, "give one file", NULL, ci_sub_import },
    { "export", 0, NULL, " (the file goes after -o)", ci_sub_export },
    { "list", 0, NULL, NULL, ci_sub_list },
    { "history", 1, "give one VM name", NULL, ci_sub_history },
    { "reconcile", 0, NULL, NULL, ci_sub_reconcile },
};

int
pw_cli_inventory(pw_cli *g, int argc, char **argv)
{
    ci_opts         o = { 0 };
    bool            help = false;
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the collector's data directory", "DIR" },
        { "encoding", PW_OPT_STRING, &o.encoding, "import: auto (default: UTF-8 if valid, else GB18030), "
          "utf-8 or gb18030", "ENC" },
        { "sheet", PW_OPT_STRING, &o.sheet, "import: the XLSX sheet (default the first)", "NAME" },
        { "effective", PW_OPT_STRING, &o.effective, "import: when the changes took effect (default now)",
          "DATE" },
        { "dry-run", PW_OPT_FLAG, &o.dry_run, "import: check the file, store nothing", NULL },
        { "format", PW_OPT_STRING, &o.format, "export: csv or xlsx; list, history: table, csv or json", "FMT" },
        { "output", PW_OPT_STRING, &o.output, "export: the file to write (-o; default stdout, CSV)", "FILE" },
        { "lang", PW_OPT_STRING, &o.lang, "export: header language, zh (default) or en", "LANG" },
        { "tenant", PW_OPT_STRING, &o.tenant, "export, list: only this tenant (using unit)", "NAME" },
        { "at", PW_OPT_STRING, &o.at, "list, reconcile: as of this date or time (default now)", "DATE" },
        { "all", PW_OPT_FLAG, &o.all, "list: every VM's newest record, whatever its dates", NULL },
        { "days", PW_OPT_STRING, &o.days, "reconcile: not seen for this many days (default 7)", "N" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    pw_config       cfg = { 0 };
    int             npos, rc = PW_CLI_USAGE;

    for (int i = 1; i < argc; i++)     /* -o is export's short form of --output */
        if (strcmp(argv[i], "-o") == 0)
            argv[i] = (char *) "--output";
    if ((rc = pw_cli_args("inventory", opts, &cfg, argc, argv, &npos, &help, ci_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    {
        ci_call call = { g, &o };

        rc = pw_cli_dispatch("inventory", ci_subs, sizeof ci_subs / sizeof ci_subs[0], &call, npos, argv);
    }
out:
    pw_config_free(&cfg);
    return rc;
}
