/*
 * cli_audit.c - `poolwatch audit verify|export`: check the audit log's hash
 * chain, write its records out as CSV or JSON. Also what the security
 * commands share (cli.h): opening DIR/security.mdb, the CLI's audit record.
 */
#include "cli.h"
#include "bytes.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli_api.h"
#include "clock.h"
#include "config.h"
#include "output_format.h"

#define AUDIT_HASH_LEN 32

/* ---- shared by the security commands (cli.h) ----------------------------- */

int
pw_cli_open_security(const pw_cli *g, bool rdonly, pw_security **out)
{
    char   msg[512];
    pw_err e = pw_security_open(g->data_dir, rdonly, out, msg, sizeof msg);

    if (e == PW_OK)
        return PW_CLI_OK;
    pw_cli_err("%s", msg);
    if (e == PW_ENOENT && !rdonly)
        pw_cli_err("(point --data at the collector's data directory)");
    return e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
}

void
pw_cli_audit_rec(pw_audit_rec *r, const char *action, const char *object)
{
    const struct passwd *pw = getpwuid(geteuid());
    char                 source[64];
    pw_principal         cli = { .role = PW_ROLE_ADMIN };

    snprintf(cli.name, sizeof cli.name, "cli");
    if (pw != NULL && pw->pw_name != NULL)
        snprintf(source, sizeof source, "cli:%s", pw->pw_name);
    else
        snprintf(source, sizeof source, "cli:uid %lu", (unsigned long) geteuid());
    pw_audit_rec_init(r, &cli, source, action, object);
}

void
pw_cli_audit_append(const pw_cli *g, const char *action, const char *object, bool ok, const char *detail)
{
    pw_security *s = NULL;
    pw_audit_rec r;
    pw_err       e;

    if (pw_cli_open_security(g, false, &s) != PW_CLI_OK) {
        pw_cli_err("%s: could not be recorded in the audit log", action);
        return;
    }
    pw_cli_audit_rec(&r, action, object);
    if (!ok) {
        r.result = PW_AUDIT_FAILED;
        snprintf(r.detail, sizeof r.detail, "%s", detail != NULL ? detail : "");
    }
    if ((e = pw_audit_append(s, &r)) != PW_OK)
        pw_cli_err("%s: could not be recorded in the audit log: %s", action, pw_strerror(e));
    pw_security_close(s);
}

/* ---- verify ----------------------------------------------------------------- */

static void
ca_hex(const unsigned char *h, char *out)
{
    for (size_t i = 0; i < AUDIT_HASH_LEN; i++)
        sprintf(out + 2 * i, "%02x", h[i]);
}

/* "SEQ:HEX" (64 hex digits) as written down from an earlier verify. */
static bool
ca_parse_expect(const char *s, uint64_t *seq, unsigned char *hash)
{
    char              *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != ':' || v == 0 || strlen(end + 1) != 2 * AUDIT_HASH_LEN)
        return false;
    *seq = v;
    for (size_t i = 0; i < AUDIT_HASH_LEN; i++) {
        int hi = pw_hex_digit(end[1 + 2 * i]), lo = pw_hex_digit(end[2 + 2 * i]);

        if (hi < 0 || lo < 0)
            return false;
        hash[i] = (unsigned char) (hi << 4 | lo);
    }
    return true;
}

/* Checks that record seq still has the hash `want` written down earlier. */
static int
ca_check_expect(pw_security *s, uint64_t seq, const unsigned char *want, uint64_t first,
                uint64_t head)
{
    unsigned char got[AUDIT_HASH_LEN];
    pw_err        e;

    if (seq > head) {
        printf("audit log REWRITTEN: record %" PRIu64 " was written down earlier, but the log "
            "now ends at seq %" PRIu64 "\n", seq, head);
        return PW_CLI_TAMPERED;
    }
    if (seq < first) {
        pw_cli_err("audit verify: record %" PRIu64 " has expired (the log starts at seq %" PRIu64
            "); choose a newer one to check", seq, first);
        return PW_CLI_USAGE;
    }
    if ((e = pw_audit_hash(s, seq, NULL, got)) != PW_OK) {
        pw_cli_err("audit verify: cannot read record %" PRIu64 ": %s", seq, pw_strerror(e));
        return PW_CLI_NODATA;
    }
    if (memcmp(want, got, sizeof got) != 0) {
        printf("audit log REWRITTEN: record %" PRIu64 " no longer has the SHA-256 written down "
            "earlier\n", seq);
        return PW_CLI_TAMPERED;
    }
    printf("record %" PRIu64 " matches the hash written down earlier\n", seq);
    return PW_CLI_OK;
}

static int
ca_verify(pw_cli *g, const char *expect)
{
    pw_security  *s = NULL;
    char          msg[512], hex[2 * AUDIT_HASH_LEN + 1];
    unsigned char head_hash[AUDIT_HASH_LEN], want[AUDIT_HASH_LEN];
    uint64_t      checked = 0, bad = 0, head = 0, want_seq = 0;
    pw_err        e;
    int           rc;

    if (expect != NULL && !ca_parse_expect(expect, &want_seq, want)) {
        pw_cli_err("audit verify: --expect takes SEQ:SHA256 (64 hex digits), as printed by an "
            "earlier verify, not \"%s\"", expect);
        return PW_CLI_USAGE;
    }
    /* Read-only: also works on a copy, and for a user who may read but not write it. */
    if ((rc = pw_cli_open_security(g, true, &s)) != PW_CLI_OK)
        return rc;
    e = pw_audit_verify(s, &checked, &bad, msg, sizeof msg);
    if (e == PW_EPROTO) {
        printf("audit log BROKEN at seq %" PRIu64 ": %s (%" PRIu64 " records before it are "
            "intact)\n", bad, msg, checked);
        rc = PW_CLI_TAMPERED;
        goto out;
    }
    if (e != PW_OK) {
        pw_cli_err("audit verify: cannot read %s/security.mdb: %s", g->data_dir, pw_strerror(e));
        rc = PW_CLI_NODATA;
        goto out;
    }
    e = pw_audit_hash(s, 0, &head, head_hash);
    if (e == PW_ENOENT) {
        printf("audit log intact: %" PRIu64 " records checked (the log is empty)\n", checked);
        rc = expect != NULL ? ca_check_expect(s, want_seq, want, 1, 0) : PW_CLI_OK;
        goto out;
    }
    if (e != PW_OK) {
        pw_cli_err("audit verify: cannot read %s/security.mdb: %s", g->data_dir, pw_strerror(e));
        rc = PW_CLI_NODATA;
        goto out;
    }
    ca_hex(head_hash, hex);
    printf("audit log intact: %" PRIu64 " records checked (seq %" PRIu64 " to %" PRIu64 ")\n",
        checked, head - checked + 1, head);
    /* Written down elsewhere, this proves later that nothing up to it was rewritten. */
    printf("head: %" PRIu64 ":%s\n", head, hex);
    rc = expect != NULL ? ca_check_expect(s, want_seq, want, head - checked + 1, head)
        : PW_CLI_OK;
out:
    pw_security_close(s);
    return rc;
}

/* ---- export --------------------------------------------------------------------- */

typedef struct ca_export ca_export;
struct ca_export {
    pw_out_format fmt;
    uint64_t      n;
    bool          failed;    /* a record could not be encoded (JSON) */
};

static int
ca_export_csv(void *ctx, const pw_audit_rec *r)
{
    ca_export  *x = ctx;
    char        seq[24], time[32], ts[24];
    const char *row[12] = {
        seq, time, ts, pw_role_name(r->role), r->principal, r->token_id, r->tenant, r->source,
        r->action, r->object, pw_audit_result_name(r->result), r->detail,
    };

    snprintf(seq, sizeof seq, "%" PRIu64, r->seq);
    pw_time_format_iso(r->ts_ms, time, sizeof time);
    snprintf(ts, sizeof ts, "%" PRId64, r->ts_ms);
    pw_out_csv_row(stdout, 12, row);
    x->n++;
    return ferror(stdout) ? 1 : 0;
}

static int
ca_export_json(void *ctx, const pw_audit_rec *r)
{
    ca_export *x = ctx;
    char       time[32];
    json_t    *o;

    pw_time_format_iso(r->ts_ms, time, sizeof time);
    o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
        "seq", (json_int_t) r->seq, "time", time, "ts_ms", (json_int_t) r->ts_ms,
        "role", pw_role_name(r->role), "principal", r->principal, "token_id", r->token_id,
        "tenant", r->tenant, "source", r->source, "action", r->action, "object", r->object,
        "result", pw_audit_result_name(r->result), "detail", r->detail);
    /* Records are stored as UTF-8 (append replaces anything else), so this fails only on damage. */
    if (o == NULL) {
        pw_cli_err("audit export: record %" PRIu64 " cannot be written as JSON", r->seq);
        x->failed = true;
        return 1;
    }
    fputs(x->n == 0 ? "[\n  " : ",\n  ", stdout);
    json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    x->n++;
    return ferror(stdout) ? 1 : 0;
}

static int
ca_export_run(pw_cli *g, const char *from_s, const char *to_s, const char *format)
{
    static const char *const header[12] = {
        "seq", "time", "ts_ms", "role", "principal", "token_id", "tenant", "source", "action",
        "object", "result", "detail",
    };
    ca_export    x = { .fmt = PW_OUT_CSV };
    pw_audit_rec r;
    pw_security *s = NULL;
    char         object[256], from_iso[32] = "start", to_iso[32];
    int64_t      now = pw_now_ms(), from = INT64_MIN, to = now;
    pw_err       e;
    int          rc;

    if (pw_out_format_parse(format, &x.fmt) != PW_OK || x.fmt == PW_OUT_TABLE) {
        pw_cli_err("audit export: --format must be csv or json, not \"%s\"", format);
        return PW_CLI_USAGE;
    }
    if (from_s != NULL && pw_time_parse(from_s, now, &from) != PW_OK) {
        pw_cli_err("audit export: bad --from time \"%s\"", from_s);
        return PW_CLI_USAGE;
    }
    if (to_s != NULL && pw_time_parse(to_s, now, &to) != PW_OK) {
        pw_cli_err("audit export: bad --to time \"%s\"", to_s);
        return PW_CLI_USAGE;
    }
    if (g->api_url != NULL) {
        /* The server records the call itself (its audit middleware), as the token's principal. */
        if (x.fmt == PW_OUT_CSV)
            pw_out_csv_row(stdout, 12, header);
        rc = pw_cli_api_audit(g, from, to, to_s != NULL,
            x.fmt == PW_OUT_CSV ? ca_export_csv : ca_export_json, &x);
        if (x.fmt == PW_OUT_JSON)
            fputs(x.n == 0 ? "[]\n" : "\n]\n", stdout);
        if (x.failed)
            rc = PW_CLI_FAIL;
        else if (rc == PW_CLI_FAIL && ferror(stdout))
            pw_cli_err("cannot write the output");     /* why the printer stopped the export */
        return rc;
    }
    if ((rc = pw_cli_open_security(g, false, &s)) != PW_CLI_OK)
        return rc;
    if (from != INT64_MIN)
        pw_time_format_iso(from, from_iso, sizeof from_iso);
    if (to_s != NULL)
        pw_time_format_iso(to, to_iso, sizeof to_iso);
    else
        snprintf(to_iso, sizeof to_iso, "now");
    snprintf(object, sizeof object, "from %s to %s, %s", from_iso, to_iso, format);
    /* Recorded before anything is shown: an export nobody can see in the log does not happen. */
    pw_cli_audit_rec(&r, "audit.export", object);
    if ((e = pw_audit_append(s, &r)) != PW_OK) {
        pw_cli_err("audit export: cannot record the export in the audit log: %s", pw_strerror(e));
        rc = PW_CLI_NODATA;
        goto out;
    }
    /* Without --to, up to and with the export's own record. */
    if (to_s == NULL)
        to = r.ts_ms;
    if (x.fmt == PW_OUT_CSV)
        pw_out_csv_row(stdout, 12, header);
    e = pw_audit_scan(s, from, to, x.fmt == PW_OUT_CSV ? ca_export_csv : ca_export_json, &x);
    if (x.fmt == PW_OUT_JSON)
        fputs(x.n == 0 ? "[]\n" : "\n]\n", stdout);
    if (e == PW_EPROTO || x.failed) {
        pw_cli_err("audit export: a record in the range is damaged; run poolwatch audit verify");
        rc = PW_CLI_TAMPERED;
    } else if (e != PW_OK) {
        pw_cli_err("audit export: cannot read %s/security.mdb: %s", g->data_dir, pw_strerror(e));
        rc = PW_CLI_NODATA;
    }
    if (rc != PW_CLI_OK) {
        pw_audit_rec f = r;

        f.ts_ms = 0;
        f.result = PW_AUDIT_FAILED;
        snprintf(f.detail, sizeof f.detail, "after %" PRIu64 " records: %s", x.n, pw_strerror(e));
        pw_audit_append(s, &f);
    }
out:
    pw_security_close(s);
    return rc;
}

/* ---- the command ----------------------------------------------------------------- */

static void
ca_usage(FILE *f, const pw_option *opts)
{
    fprintf(f,
        "usage: poolwatch [--data DIR] audit verify [--expect SEQ:SHA256]\n"
        "       poolwatch [--data DIR | --api URL] audit export [--from TIME] [--to TIME]\n"
        "                 [--format csv|json]\n"
        "\n"
        "verify  walks the hash chain of DIR/security.mdb's audit log (read-only) and\n"
        "        prints how many records are intact and the newest one's SEQ:SHA256;\n"
        "        write that down elsewhere and check it later with --expect: a chain\n"
        "        alone cannot show a log rewritten by someone who can write the file.\n"
        "        Exit 5 when the chain is broken, naming the first bad seq.\n"
        "export  writes the records with from <= time <= to (default: all up to now),\n"
        "        CSV (default) or JSON; the export itself is recorded first. With --api:\n"
        "        GET /api/v1/audit (admin or auditor token), up to the server's now.\n"
        "\noptions:\n");
    pw_config_usage(opts, f);
}

/* What a subcommand runs with: the options. */
typedef struct ca_call {
    pw_cli     *g;
    const char *from, *to, *format, *expect;
} ca_call;

static int
ca_sub_verify(void *ctx, char **args)
{
    ca_call *c = ctx;
    int      rc;

    (void) args;
    /* The chain is checked on the database itself: a server's word for it proves nothing. */
    if ((rc = pw_cli_local_only(c->g, "audit verify")) != PW_CLI_OK)
        return rc;
    if (c->from != NULL || c->to != NULL || c->format != NULL) {
        pw_cli_err("audit verify takes no --from, --to or --format");
        return PW_CLI_USAGE;
    }
    return ca_verify(c->g, c->expect);
}

static int
ca_sub_export(void *ctx, char **args)
{
    ca_call *c = ctx;

    (void) args;
    if (c->expect != NULL) {
        pw_cli_err("audit export takes no --expect");
        return PW_CLI_USAGE;
    }
    return ca_export_run(c->g, c->from, c->to, c->format != NULL ? c->format : "csv");
}

static const pw_cli_sub ca_subs[] = {
    { "verify", 0, NULL, NULL, ca_sub_verify },
    { "export", 0, NULL, NULL, ca_sub_export },
};

int
pw_cli_audit(pw_cli *g, int argc, char **argv)
{
    const char     *from = NULL, *to = NULL, *format = NULL, *expect = NULL;
    bool            help = false;
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the collector's data directory", "DIR" },
        { "from", PW_OPT_STRING, &from, "export: first time (default: the oldest record)", "TIME" },
        { "to", PW_OPT_STRING, &to, "export: last time (default now)", "TIME" },
        { "format", PW_OPT_STRING, &format, "export: csv (default) or json", "FMT" },
        { "expect", PW_OPT_STRING, &expect, "verify: check that record SEQ still has this hash",
          "SEQ:SHA256" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    pw_config       cfg = { 0 };
    int             npos, rc = PW_CLI_USAGE;

    if ((rc = pw_cli_args("audit", opts, &cfg, argc, argv, &npos, &help, ca_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    {
        ca_call call = { g, from, to, format, expect };

        rc = pw_cli_dispatch("audit", ca_subs, sizeof ca_subs / sizeof ca_subs[0], &call, npos, argv);
    }
out:
    pw_config_free(&cfg);
    return rc;
}
