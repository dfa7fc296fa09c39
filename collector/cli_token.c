/*
 * cli_token.c - `poolwatch token create|list|revoke`: API tokens in
 * DIR/security.mdb. Each operation is recorded in the audit log (principal
 * "cli", source "cli:<user>"); create and revoke in the same transaction
 * as the change itself.
 */
#include "cli.h"
#include "sort.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "output_format.h"

/* The options of every subcommand; each checks that it got only its own. */
typedef struct ct_opts ct_opts;
struct ct_opts {
    const char *role, *tenant, *expires, *name, *format;
};

/* ---- create ---------------------------------------------------------------- */

/*
 * --expires: "never" (or "0"), a duration from now ("90d", "12h"), or a
 * time (as --from elsewhere: "2027-01-01", "+90d"), which must be in the future.
 */
static bool
ct_parse_expires(const char *s, int64_t now, int64_t *out)
{
    int64_t d;

    if (s == NULL || strcmp(s, "never") == 0 || strcmp(s, "0") == 0) {
        *out = 0;
        return true;
    }
    if (pw_duration_parse(s, &d) == PW_OK) {
        if (d <= 0 || d > INT64_MAX - now)
            return false;
        *out = now + d;
        return true;
    }
    return pw_time_parse(s, now, out) == PW_OK && *out > now;
}

static void
ct_when(int64_t ms, const char *zero, char *buf, size_t len)
{
    if (ms == 0)
        snprintf(buf, len, "%s", zero);
    else
        pw_out_time_s(ms, buf, len);
}

static int
ct_create(pw_cli *g, const ct_opts *o)
{
    pw_role       role = pw_role_parse(o->role);
    pw_security  *s = NULL;
    pw_audit_rec  r;
    pw_token_info info;
    char          token[PW_TOKEN_MAX], exp[32];
    int64_t       expires;
    pw_err        e;
    int           rc;

    if (o->role == NULL || role == PW_ROLE_NONE) {
        pw_cli_err("token create: --role must be admin, operator, auditor or tenant%s%s%s",
            o->role ? " (not \"" : "", o->role ? o->role : "", o->role ? "\")" : "");
        return PW_CLI_USAGE;
    }
    if ((role == PW_ROLE_TENANT) != (o->tenant != NULL)) {
        pw_cli_err(role == PW_ROLE_TENANT ? "token create: a tenant token needs --tenant NAME"
            : "token create: --tenant is only for --role tenant");
        return PW_CLI_USAGE;
    }
    if (!ct_parse_expires(o->expires, pw_now_ms(), &expires)) {
        pw_cli_err("token create: --expires takes a duration (90d), a future time "
            "(2027-01-01) or never, not \"%s\"", o->expires);
        return PW_CLI_USAGE;
    }
    if ((rc = pw_cli_open_security(g, false, &s)) != PW_CLI_OK)
        return rc;
    pw_cli_audit_rec(&r, "token.create", NULL);
    e = pw_token_create_audited(s, &r, role, o->tenant, o->name, expires, token, sizeof token,
        &info);
    if (e != PW_OK) {
        pw_cli_err("token create: %s", r.detail[0] ? r.detail : pw_strerror(e));
        rc = e == PW_EINVAL ? PW_CLI_USAGE : e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    /* The secret goes to stdout alone, so `T=$(poolwatch token create ...)` captures just it. */
    printf("%s\n", token);
    ct_when(info.expires_ms, "never", exp, sizeof exp);
    pw_cli_err("created token %s: role %s%s%s, expires %s. It is shown only this once: "
        "store it now (revoke with: poolwatch token revoke %s)", info.id, pw_role_name(role),
        role == PW_ROLE_TENANT ? ", tenant " : "", role == PW_ROLE_TENANT ? info.tenant : "",
        exp, info.id);
out:
    memset(token, 0, sizeof token);
    pw_security_close(s);
    return rc;
}

/* ---- list -------------------------------------------------------------------- */

typedef struct ct_list ct_list;
struct ct_list {
    pw_token_info *t;
    size_t         n, cap;
    bool           nomem;
};

static int
ct_collect(void *ctx, const pw_token_info *t)
{
    ct_list *l = ctx;

    if (l->n == l->cap) {
        size_t         cap = l->cap ? l->cap * 2 : 32;
        pw_token_info *p = realloc(l->t, cap * sizeof *p);

        if (p == NULL) {
            l->nomem = true;
            return 1;
        }
        l->t = p;
        l->cap = cap;
    }
    l->t[l->n++] = *t;
    return 0;
}

/* Oldest first: the order they were made in (ids are random). */
static int
ct_cmp(const void *x, const void *y)
{
    const pw_token_info *a = x, *b = y;

    if (a->created_ms != b->created_ms)
        return a->created_ms < b->created_ms ? -1 : 1;
    return strcmp(a->id, b->id);
}

static const char *
ct_state(const pw_token_info *t, int64_t now)
{
    if (t->revoked_ms != 0)
        return "revoked";
    if (t->expires_ms != 0 && now >= t->expires_ms)
        return "expired";
    return "active";
}

static int
ct_table(const ct_list *l, int64_t now)
{
    static const char *const headers[] = {
        "ID", "ROLE", "TENANT", "NAME", "CREATED", "EXPIRES", "LAST USED", "STATE",
    };
    pw_table *t = pw_table_new(8, headers);

    if (t == NULL)
        return PW_CLI_FAIL;
    for (size_t i = 0; i < l->n; i++) {
        const pw_token_info *k = &l->t[i];
        char                 created[32], expires[32], used[32];
        const char          *cells[8] = {
            k->id, pw_role_name(k->role), k->tenant[0] ? k->tenant : "-",
            k->name[0] ? k->name : "-", created, expires, used, ct_state(k, now),
        };

        ct_when(k->created_ms, "-", created, sizeof created);
        ct_when(k->expires_ms, "never", expires, sizeof expires);
        ct_when(k->last_used_ms, "never", used, sizeof used);
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
ct_iso(int64_t ms, char *buf, size_t len)
{
    if (ms == 0)
        buf[0] = '\0';
    else
        pw_time_format_iso(ms, buf, len);
}

static void
ct_csv(const ct_list *l, int64_t now)
{
    static const char *const header[] = {
        "id", "role", "tenant", "name", "created", "expires", "revoked", "last_used", "state",
    };

    pw_out_csv_row(stdout, 9, header);
    for (size_t i = 0; i < l->n; i++) {
        const pw_token_info *k = &l->t[i];
        char                 c[32], e[32], r[32], u[32];
        const char          *row[9] = {
            k->id, pw_role_name(k->role), k->tenant, k->name, c, e, r, u, ct_state(k, now),
        };

        ct_iso(k->created_ms, c, sizeof c);
        ct_iso(k->expires_ms, e, sizeof e);
        ct_iso(k->revoked_ms, r, sizeof r);
        ct_iso(k->last_used_ms, u, sizeof u);
        pw_out_csv_row(stdout, 9, row);
    }
}

/* A time as an ISO string, or null when it is 0 (never). */
static json_t *
ct_json_time(int64_t ms)
{
    char buf[32];

    if (ms == 0)
        return json_null();
    pw_time_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

static int
ct_json(const ct_list *l, int64_t now)
{
    json_t *arr = json_array();
    int     rc = PW_CLI_FAIL;

    if (arr == NULL)
        return PW_CLI_FAIL;
    for (size_t i = 0; i < l->n; i++) {
        const pw_token_info *k = &l->t[i];
        json_t              *o = json_pack("{s:s, s:s, s:s?, s:s, s:o, s:I, s:o, s:I, s:o, s:I, "
            "s:o, s:I, s:s}",
            "id", k->id, "role", pw_role_name(k->role), "tenant", k->tenant[0] ? k->tenant : NULL,
            "name", k->name,
            "created", ct_json_time(k->created_ms), "created_ms", (json_int_t) k->created_ms,
            "expires", ct_json_time(k->expires_ms), "expires_ms", (json_int_t) k->expires_ms,
            "revoked", ct_json_time(k->revoked_ms), "revoked_ms", (json_int_t) k->revoked_ms,
            "last_used", ct_json_time(k->last_used_ms),
            "last_used_ms", (json_int_t) k->last_used_ms, "state", ct_state(k, now));

        if (o == NULL || json_array_append_new(arr, o) != 0) {
            pw_cli_err("cannot encode token %s as JSON", k->id);
            goto out;
        }
    }
    if (json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0) {
        putchar('\n');
        rc = PW_CLI_OK;
    }
out:
    json_decref(arr);
    return rc;
}

static int
ct_list_run(pw_cli *g, const ct_opts *o)
{
    pw_out_format fmt;
    pw_security  *s = NULL;
    pw_audit_rec  r;
    ct_list       l = { 0 };
    pw_err        e;
    int           rc;
    int64_t       now = pw_now_ms();

    if (pw_out_format_parse(o->format != NULL ? o->format : "table", &fmt) != PW_OK) {
        pw_cli_err("token list: --format must be table, csv or json, not \"%s\"", o->format);
        return PW_CLI_USAGE;
    }
    if ((rc = pw_cli_open_security(g, false, &s)) != PW_CLI_OK)
        return rc;
    /* Recorded before anything is shown. */
    pw_cli_audit_rec(&r, "token.list", NULL);
    if ((e = pw_audit_append(s, &r)) != PW_OK) {
        pw_cli_err("token list: cannot record the listing in the audit log: %s", pw_strerror(e));
        rc = PW_CLI_NODATA;
        goto out;
    }
    if ((e = pw_token_list(s, ct_collect, &l)) != PW_OK || l.nomem) {
        pw_cli_err("token list: %s", l.nomem ? "out of memory" : pw_strerror(e));
        rc = l.nomem ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    pw_qsort(l.t, l.n, sizeof *l.t, ct_cmp);
    switch (fmt) {
    case PW_OUT_TABLE:
        if (l.n == 0)
            pw_cli_err("no tokens yet (poolwatch token create --role ...)");
        else
            rc = ct_table(&l, now);
        break;
    case PW_OUT_CSV:
        ct_csv(&l, now);
        break;
    case PW_OUT_JSON:
        rc = ct_json(&l, now);
        break;
    }
out:
    free(l.t);
    pw_security_close(s);
    return rc;
}

/* ---- revoke -------------------------------------------------------------------- */

static int
ct_revoke(pw_cli *g, const char *arg)
{
    pw_security *s = NULL;
    pw_audit_rec r;
    char         id[PW_TOKEN_ID_LEN + 1];
    pw_err       e;
    int          rc;

    /* A whole token (found in a log, say) names its id: revoke it without retyping. */
    if (strncmp(arg, "pwt_", 4) == 0 && strlen(arg) > 4 + PW_TOKEN_ID_LEN)
        arg += 4;
    else if (strlen(arg) != PW_TOKEN_ID_LEN)
        arg = "";
    snprintf(id, sizeof id, "%.*s", PW_TOKEN_ID_LEN, arg);
    /* Checked here too, so a typo (or a pasted secret) never reaches the audit log. */
    if (strlen(id) != PW_TOKEN_ID_LEN || strspn(id, "0123456789abcdef") != PW_TOKEN_ID_LEN) {
        pw_cli_err("token revoke: that is not a token id (12 hex digits, as token list shows)");
        return PW_CLI_USAGE;
    }
    if ((rc = pw_cli_open_security(g, false, &s)) != PW_CLI_OK)
        return rc;
    pw_cli_audit_rec(&r, "token.revoke", NULL);
    e = pw_token_revoke_audited(s, &r, id, pw_now_ms());
    switch (e) {
    case PW_OK:
        pw_cli_err("token %s %s", id, strstr(r.object, "(already revoked)") ? "was already revoked"
            : "revoked");
        break;
    case PW_ENOENT:
        pw_cli_err("token revoke: no token has id %s (see poolwatch token list)", id);
        rc = PW_CLI_USAGE;
        break;
    default:
        pw_cli_err("token revoke: %s", pw_strerror(e));
        rc = e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
        break;
    }
    pw_security_close(s);
    return rc;
}

/* ---- the command ------------------------------------------------------------------ */

static void
ct_usage(FILE *f, const pw_option *opts)
{
    fprintf(f,
        "usage: poolwatch [--data DIR] token create --role ROLE [--tenant NAME] [--expires WHEN]\n"
        "                                           [--name TEXT]\n"
        "       poolwatch [--data DIR] token list [--format table|csv|json]\n"
        "       poolwatch [--data DIR] token revoke ID\n"
        "\n"
        "API tokens, kept in DIR/security.mdb (hashed with the key in DIR/security.key).\n"
        "create  prints a new token on stdout: the only time it is shown. ROLE is admin,\n"
        "        operator, auditor or tenant (then --tenant is required). WHEN: a\n"
        "        duration (90d), a future time (2027-01-01) or never (default).\n"
        "list    every token with its role, times and state; never the secret.\n"
        "revoke  by id (or the whole token); revoking again changes nothing.\n"
        "Each operation is recorded in the audit log.\n"
        "\noptions:\n");
    pw_config_usage(opts, f);
}

/* Refuses an option that the subcommand does not take. */
static bool
ct_only(const char *sub, const char *name, const char *value)
{
    if (value == NULL)
        return true;
    pw_cli_err("token %s takes no --%s", sub, name);
    return false;
}

/* What a subcommand runs with. */
typedef struct ct_call {
    pw_cli  *g;
    ct_opts *o;
} ct_call;

static int
ct_sub_create(void *ctx, char **args)
{
    ct_call *c = ctx;

    (void) args;
    return ct_only("create", "format", c->o->format) ? ct_create(c->g, c->o) : PW_CLI_USAGE;
}

static int
ct_sub_list(void *ctx, char **args)
{
    ct_call *c = ctx;

    (void) args;
    return ct_only("list", "role", c->o->role) && ct_only("list", "tenant", c->o->tenant)
                   && ct_only("list", "expires", c->o->expires) && ct_only("list", "name", c->o->name)
               ? ct_list_run(c->g, c->o) : PW_CLI_USAGE;
}

static int
ct_sub_revoke(void *ctx, char **args)
{
    ct_call *c = ctx;

    return ct_only("revoke", "role", c->o->role) && ct_only("revoke", "tenant", c->o->tenant)
                   && ct_only("revoke", "expires", c->o->expires) && ct_only("revoke", "name", c->o->name)
                   && ct_only("revoke", "format", c->o->format)
               ? ct_revoke(c->g, args[0]) : PW_CLI_USAGE;
}

static const pw_cli_sub ct_subs[] = {
    { "create", 0, NULL, NULL, ct_sub_create },
    { "list", 0, NULL, NULL, ct_sub_list },
    { "revoke", 1, "give one token id (see poolwatch token list)", NULL, ct_sub_revoke },
};

int
pw_cli_token(pw_cli *g, int argc, char **argv)
{
    ct_opts         o = { 0 };
    bool            help = false;
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the collector's data directory", "DIR" },
        { "role", PW_OPT_STRING, &o.role, "create: admin, operator, auditor or tenant", "ROLE" },
        { "tenant", PW_OPT_STRING, &o.tenant, "create: the tenant of a tenant token", "NAME" },
        { "expires", PW_OPT_STRING, &o.expires, "create: 90d, 2027-01-01 or never (default)",
          "WHEN" },
        { "name", PW_OPT_STRING, &o.name, "create: who or what it is for (shown in lists and "
          "the audit log)", "TEXT" },
        { "format", PW_OPT_STRING, &o.format, "list: table (default), csv or json", "FMT" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    pw_config       cfg = { 0 };
    int             npos, rc = PW_CLI_USAGE;

    if ((rc = pw_cli_args("token", opts, &cfg, argc, argv, &npos, &help, ct_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    {
        ct_call call = { g, &o };

        rc = pw_cli_dispatch("token", ct_subs, sizeof ct_subs / sizeof ct_subs[0], &call, npos, argv);
    }
out:
    pw_config_free(&cfg);
    return rc;
}
