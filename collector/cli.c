/*
 * cli.c - `poolwatch`, the admin and user CLI: global options and the
 * command table. Each command lives in its own cli_<name>.c.
 *
 *   poolwatch [--data DIR | --api URL [--token-file FILE] [--api-ca FILE]]
 *             [--config FILE] COMMAND [options] [args]
 *
 * Global options may come before or after the command: main hands --data
 * and --config on, and every command's option table (common/config.h)
 * includes them; the --api options main takes out of the arguments itself,
 * so commands never see them (only their g->api_url, cli_api.h).
 */
#include "cli.h"
#include "cli_api.h"
#include "import.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cli_command cli_command;
struct cli_command {
    const char *name;
    int       (*run)(pw_cli *g, int argc, char **argv);
    const char *summary;
    bool        api;        /* can work through --api; else the data directory only */
};

static const cli_command cli_commands[] = {
    { "hosts", pw_cli_hosts, "list the agents that have reported, with host and last contact", true },
    { "query", pw_cli_query, "evaluate a selector or expression (rate, *_over_time, sum by ...) over a range", true },
    { "pools", pw_cli_pools, "pool capacity: allocated and used % per resource, days to 70 % and 100 %", false },
    { "import", pw_cli_import, "store samples from a Prometheus text or VictoriaMetrics JSON file", false },
    { "inventory", pw_cli_inventory, "the VM inventory: import, export, list, history, reconcile", false },
    { "pool", pw_cli_pool, "pool definitions: hosts, overcommit, capacity overrides (set|list|delete|history)", false },
    { "alerts", pw_cli_alerts, "active alerts, their history, backtests of the rules (--history, backtest, rules)", false },
    { "recommendations", pw_cli_recommendations, "per system: reclaim, downsize or expand, with evidence; R3 flags (--tenant, --at)", false },
    { "report", pw_cli_report, "utilization reports: monthly, quarterly, annual, service-year (xlsx, csv, html, json); list the archive", false },
    { "token", pw_cli_token, "create, list or revoke API tokens (create|list|revoke)", false },
    /* export works through --api, verify does not: cli_audit.c decides */
    { "audit", pw_cli_audit, "verify the audit log's hash chain or export it (verify|export)", true },
};

#define CLI_NCOMMANDS (sizeof cli_commands / sizeof cli_commands[0])

void
pw_cli_err(const char *fmt, ...)
{
    va_list ap;

    fputs("poolwatch: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int
pw_cli_args(const char *cmd, const pw_option *opts, pw_config *cfg, int argc, char **argv, int *npos,
            const bool *help, pw_cli_usage_fn usage)
{
    char msg[512];

    if (pw_config_parse_args(opts, cfg, argc, argv, npos, msg, sizeof msg) != PW_OK) {
        pw_cli_err("%s: %s", cmd, msg);
        return PW_CLI_USAGE;
    }
    if (*help) {
        usage(stdout, opts);
        return PW_CLI_OK;
    }
    return PW_CLI_GO;
}

/* "a, b or c": the subcommands' names, for the messages. */
static void
cli_sub_names(const pw_cli_sub *subs, size_t nsubs, char *buf, size_t len)
{
    size_t at = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < nsubs && at < len; i++)
        at += (size_t) snprintf(buf + at, len - at, "%s%s", i == 0 ? "" : i + 1 == nsubs ? " or " : ", ",
                                subs[i].name);
}

int
pw_cli_dispatch(const char *cmd, const pw_cli_sub *subs, size_t nsubs, void *ctx, int npos, char **argv)
{
    char names[256];

    cli_sub_names(subs, nsubs, names, sizeof names);
    if (npos == 0) {
        pw_cli_err("%s: say %s (see poolwatch %s --help)", cmd, names, cmd);
        return PW_CLI_USAGE;
    }
    for (size_t i = 0; i < nsubs; i++) {
        const pw_cli_sub *s = &subs[i];

        if (strcmp(argv[1], s->name) != 0)
            continue;
        if (npos - 1 == s->nargs)
            return s->run(ctx, argv + 2);
        if (s->nargs_msg != NULL || npos - 1 < s->nargs)
            pw_cli_err("%s %s: %s", cmd, s->name, s->nargs_msg != NULL ? s->nargs_msg : "too few arguments");
        else
            pw_cli_err("%s %s: unexpected argument \"%s\"%s", cmd, s->name, argv[2 + s->nargs],
                       s->hint != NULL ? s->hint : "");
        return PW_CLI_USAGE;
    }
    pw_cli_err("%s: unknown subcommand \"%s\" (%s)", cmd, argv[1], names);
    return PW_CLI_USAGE;
}

int
pw_cli_open_store(const pw_cli *g, pw_store **out)
{
    char   msg[512];
    pw_err e = pw_store_open(g->data_dir, PW_STORE_RDONLY, out, msg, sizeof msg);

    if (e == PW_OK)
        return PW_CLI_OK;
    pw_cli_err("%s", msg);
    if (e == PW_ENOENT)
        pw_cli_err("(the collector creates it on first start; point --data at its data directory)");
    return e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
}

static void
cli_usage(FILE *f)
{
    fprintf(f,
        "usage: poolwatch [--data DIR | --api URL [--token-file FILE] [--api-ca FILE]]\n"
        "                 [--config FILE] COMMAND [options] [args]\n"
        "\n"
        "Reads the data of a poolwatch collector (read-only: safe while it runs);\n"
        "import writes to it (also safe while it runs); token and audit use\n"
        "DIR/security.mdb (tokens and the audit log). With --api, query, hosts and\n"
        "audit export ask the collector's HTTP API instead, as the token's role allows.\n"
        "\n"
        "global options:\n"
        "  --data DIR                 the collector's data directory (default %s)\n"
        "  --api URL                  the collector's HTTP API (http://127.0.0.1:7480)\n"
        "  --token-file FILE          with --api: file holding the API token\n"
        "                             (default: environment variable POOLWATCH_TOKEN)\n"
        "  --api-ca FILE              with an https URL: PEM CA certificate(s) to trust\n"
        "                             (default: the system's, %s)\n"
        "  --config FILE              read options from a YAML file (name: value)\n"
        "  --help                     this text; COMMAND --help for a command's own\n"
        "  --version                  print the version\n"
        "\n"
        "commands:\n", PW_CLI_DEFAULT_DATA, "/etc/ssl/certs/ca-certificates.crt");
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        fprintf(f, "  %-26s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(f,
        "\n"
        "exit status: 0 ok, 1 bad usage or selector (with --api also a refused token\n"
        "or role), 2 data directory missing or unreadable (with --api: the collector\n"
        "cannot be reached or cannot read its data), 3 other failure (output could\n"
        "not be written, out of memory), 4 import: some lines were bad, the others\n"
        "were stored, 5 audit: the audit log was altered, 6 inventory import: the\n"
        "file was refused (every problem is listed), nothing was stored.\n");
}

/* True if arg is a global option that takes the next argument as its value. */
static bool
cli_global_with_value(const char *arg)
{
    return strcmp(arg, "--data") == 0 || strcmp(arg, "--config") == 0;
}

/*
 * Takes the --api options (anywhere before a "--") out of argv, setting g;
 * argc shrinks. Done before the command's own parsing, so no command table
 * needs them. -1 (message printed) for one without its value.
 */
static int
cli_take_api(pw_cli *g, int *argc, char **argv)
{
    const struct { const char *name; const char **dst; } opts[] = {
        { "--api", &g->api_url },
        { "--token-file", &g->token_file },
        { "--api-ca", &g->api_ca },
    };
    int out = 1, i;

    for (i = 1; i < *argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i], *val = NULL;
        size_t      k, n = 0;

        for (k = 0; k < sizeof opts / sizeof opts[0]; k++) {
            n = strlen(opts[k].name);
            if (strncmp(a, opts[k].name, n) == 0 && (a[n] == '\0' || a[n] == '='))
                break;
        }
        if (k == sizeof opts / sizeof opts[0]) {
            argv[out++] = argv[i];
            continue;
        }
        if (a[n] == '=')
            val = a + n + 1;
        else if (i + 1 < *argc)
            val = argv[++i];
        if (val == NULL || val[0] == '\0') {
            pw_cli_err("%s needs a value", opts[k].name);
            return -1;
        }
        *opts[k].dst = val;
    }
    while (i < *argc)
        argv[out++] = argv[i++];
    argv[out] = NULL;
    *argc = out;
    if (g->api_url == NULL && (g->token_file != NULL || g->api_ca != NULL)) {
        pw_cli_err("--token-file and --api-ca go with --api URL");
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    pw_cli             g = { .data_dir = PW_CLI_DEFAULT_DATA };
    const cli_command *cmd = NULL;
    char             **args;
    int                ci = -1, n = 0, rc;

    if (cli_take_api(&g, &argc, argv) != 0)
        return PW_CLI_USAGE;
    /* Find the command word: the first argument that is neither an option nor its value. */
    for (int i = 1; i < argc && ci < 0; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_usage(stdout);
            return PW_CLI_OK;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("poolwatch %s\n", PW_VERSION);
            return PW_CLI_OK;
        }
        if (cli_global_with_value(a))
            i++;
        else if (strncmp(a, "--data=", 7) == 0 || strncmp(a, "--config=", 9) == 0)
            continue;
        else if (a[0] == '-') {
            pw_cli_err("unknown option %s before the command (see poolwatch --help)", a);
            return PW_CLI_USAGE;
        } else
            ci = i;
    }
    if (ci < 0) {
        cli_usage(stderr);
        return PW_CLI_USAGE;
    }
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        if (strcmp(argv[ci], cli_commands[i].name) == 0)
            cmd = &cli_commands[i];
    if (cmd == NULL) {
        pw_cli_err("unknown command \"%s\" (see poolwatch --help)", argv[ci]);
        return PW_CLI_USAGE;
    }
    if (!cmd->api && pw_cli_local_only(&g, cmd->name) != PW_CLI_OK)
        return PW_CLI_USAGE;
    /* The command sees its name first, then every other argument in order. */
    if ((args = calloc((size_t) argc + 1, sizeof *args)) == NULL) {
        pw_cli_err("out of memory");
        return PW_CLI_FAIL;
    }
    args[n++] = argv[ci];
    for (int i = 1; i < argc; i++)
        if (i != ci)
            args[n++] = argv[i];
    rc = cmd->run(&g, n, args);
    free(args);
    /* Buffered output is written now: a full disk or closed pipe must not pass as success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == PW_CLI_OK)
            pw_cli_err("cannot write the output");
        return rc == PW_CLI_OK ? PW_CLI_FAIL : rc;
    }
    return rc;
}
