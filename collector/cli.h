/*
 * cli.h - what the `poolwatch` commands share: global options, exit codes,
 * and opening the store read-only. One file per command (cli_<name>.c).
 */
#ifndef PW_CLI_H
#define PW_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "audit.h"
#include "config.h"
#include "store.h"

#ifndef PW_VERSION
#define PW_VERSION "unknown"
#endif

/* Exit codes (a contract: scripts test them; see collector/README.md). */
#define PW_CLI_OK      0   /* done */
#define PW_CLI_USAGE   1   /* bad usage, option, time or selector */
#define PW_CLI_NODATA  2   /* data dir missing or unreadable, or reading it failed */
#define PW_CLI_FAIL    3   /* anything else: out of memory, output could not be written */
#define PW_CLI_BADLINES 4  /* import: some lines were bad, the rest were stored */
#define PW_CLI_TAMPERED 5  /* audit verify/export: the audit log was altered */
#define PW_CLI_BADINPUT 6  /* inventory import: the file was refused (every problem listed), nothing stored */

#define PW_CLI_DEFAULT_DATA "./data"

/* Options every command takes. Commands may set them too (`hosts --data DIR`). */
typedef struct pw_cli pw_cli;
struct pw_cli {
    const char *data_dir;   /* borrowed from argv or the default */
    /* --api URL: read through a collector's HTTP API instead (cli_api.h); NULL: local */
    const char *api_url;    /* borrowed from argv, as are the two below */
    const char *token_file; /* --token-file: the bearer token; NULL: env POOLWATCH_TOKEN */
    const char *api_ca;     /* --api-ca: PEM CA file for https; NULL: the system bundle */
};

/*
 * A command: argv[0] is the command's name, the rest its own arguments.
 * Returns an exit code. Messages go to stderr, results to stdout.
 */
int pw_cli_hosts(pw_cli *g, int argc, char **argv);
int pw_cli_query(pw_cli *g, int argc, char **argv);
/* poolwatch pools (cli_pools.c): the pool capacity report (capacity.h) at --at. */
int pw_cli_pools(pw_cli *g, int argc, char **argv);
/*
 * poolwatch import (cli_import.c): PW_CLI_BADLINES when some lines were bad
 * (reported on stderr) and the others stored; PW_CLI_USAGE for usage errors
 * and an input that cannot be opened; PW_CLI_NODATA when the data directory
 * cannot be opened or written; PW_CLI_FAIL otherwise (memory, read error).
 */
int pw_cli_import(pw_cli *g, int argc, char **argv);

/*
 * poolwatch token create|list|revoke (cli_token.c) and audit verify|export
 * (cli_audit.c): DIR/security.mdb. PW_CLI_USAGE also for an unknown token
 * id; PW_CLI_NODATA when the directory or its security database cannot be
 * opened (also a security.key others may read); PW_CLI_TAMPERED when audit
 * verify finds the chain broken or export meets a damaged record.
 */
int pw_cli_token(pw_cli *g, int argc, char **argv);
int pw_cli_audit(pw_cli *g, int argc, char **argv);

/*
 * poolwatch inventory import|export|list|history|reconcile (cli_inventory.c)
 * and pool set|list|delete|history (cli_pool.c): DIR/inventory.mdb
 * (inventory.h). PW_CLI_BADINPUT when an import file is refused;
 * PW_CLI_USAGE also for an unknown VM or pool name.
 */
int pw_cli_inventory(pw_cli *g, int argc, char **argv);
int pw_cli_pool(pw_cli *g, int argc, char **argv);

/*
 * poolwatch alerts [backtest|rules] (cli_alerts.c): DIR/alerts.mdb, read-only;
 * backtest reads the store and writes a scratch database only.
 * PW_CLI_NODATA when alerts.mdb (or the store) cannot be read.
 */
int pw_cli_alerts(pw_cli *g, int argc, char **argv);

/*
 * poolwatch recommendations (cli_recommendations.c): recommend.h over the
 * data directory, read-only. PW_CLI_NODATA when the store or the inventory
 * cannot be read.
 */
int pw_cli_recommendations(pw_cli *g, int argc, char **argv);

/*
 * poolwatch report monthly|quarterly|annual|service-year|list (cli_report.c):
 * the reports of report.h from the data directory, the archive's listing.
 * PW_CLI_NODATA when the store, inventory or archive cannot be read.
 */
int pw_cli_report(pw_cli *g, int argc, char **argv);

/*
 * Opens g->data_dir's security database (cli_audit.c); on failure prints
 * why on stderr and returns PW_CLI_NODATA (PW_CLI_FAIL for ENOMEM). The
 * caller owns *out (pw_security_close).
 */
int pw_cli_open_security(const pw_cli *g, bool rdonly, pw_security **out);

/*
 * Fills r for an action of the local CLI user (cli_audit.c): principal
 * "cli", role admin (whoever can write the data directory can do anything),
 * source "cli:<user name of the effective uid>".
 */
void pw_cli_audit_rec(pw_audit_rec *r, const char *action, const char *object);

/*
 * Appends such a record for a change or an export made by a command: result
 * ok, or failed with detail. A failure to record is reported on stderr, not
 * fatal: the change (in another database) is already made.
 */
void pw_cli_audit_append(const pw_cli *g, const char *action, const char *object, bool ok, const char *detail);

/*
 * Opens g->data_dir read-only; on failure prints why on stderr and returns
 * PW_CLI_NODATA (PW_CLI_FAIL for ENOMEM). The caller owns *out (pw_store_close).
 */
int pw_cli_open_store(const pw_cli *g, pw_store **out);

/* ---- what every command's start shares (cli.c) ---------------------------- */

/* pw_cli_args: the command goes on (any other value is its exit code). */
#define PW_CLI_GO (-1)

/* Prints a command's --help text to f; opts is the table it parsed with. */
typedef void (*pw_cli_usage_fn)(FILE *f, const pw_option *opts);

/*
 * How every command starts: parses argv[1..argc) by opts into cfg
 * (pw_config_parse_args: *npos positional arguments, moved to
 * argv[1..npos]). A bad option is said as "poolwatch: CMD: why" and gives
 * PW_CLI_USAGE; --help (the flag *help that opts sets) prints
 * usage(stdout, opts) and gives PW_CLI_OK; otherwise PW_CLI_GO. The
 * caller frees cfg (pw_config_free) whatever the result.
 */
int pw_cli_args(const char *cmd, const pw_option *opts, pw_config *cfg, int argc, char **argv, int *npos,
                const bool *help, pw_cli_usage_fn usage);

/*
 * A subcommand (`poolwatch token create ...`): its name, how many positional
 * arguments it takes after the name, and what runs it. A different number
 * is said as "poolwatch: CMD SUB: nargs_msg" or, without one, as
 * "poolwatch: CMD SUB: unexpected argument "X"" followed by hint (may be NULL).
 */
typedef struct pw_cli_sub {
    const char *name;
    int         nargs;
    const char *nargs_msg;   /* NULL: the unexpected-argument message */
    const char *hint;        /* appended to that message; NULL: none */
    int       (*run)(void *ctx, char **args);   /* args[0..nargs): the arguments; returns the exit code */
} pw_cli_sub;

/*
 * Runs the subcommand argv[1] names (npos positional arguments from
 * pw_cli_args) from subs[0..nsubs) with ctx. No subcommand:
 * "CMD: say A, B or C (see poolwatch CMD --help)"; an unknown one:
 * "CMD: unknown subcommand "X" (A, B or C)"; both PW_CLI_USAGE, as is a
 * wrong number of arguments.
 */
int pw_cli_dispatch(const char *cmd, const pw_cli_sub *subs, size_t nsubs, void *ctx, int npos, char **argv);

/* Prints "poolwatch: <message>\n" to stderr. */
void pw_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
