/*
 * cli_api.h - `poolwatch --api URL`: the read commands (query, hosts,
 * audit export) against a collector's HTTP API instead of its data
 * directory. The answers are turned into the same callbacks the local
 * readers feed (pw_query_sink, pw_store_agent_cb, pw_audit_cb), so the
 * output of every format is produced by the same printers either way.
 *
 * One request per call over NNG's HTTP client (HTTPS with a CA file),
 * bearer token from --token-file or POOLWATCH_TOKEN, answers read only up
 * to PW_CLI_API_MAX_RESPONSE bytes. Errors are printed on stderr
 * (pw_cli_err) and returned as exit codes:
 *   PW_CLI_USAGE   no token, a bad URL, 4xx (401/403 with the server's
 *                  text, a bad query with Prometheus' error string), an
 *                  answer over the size limit
 *   PW_CLI_NODATA  the collector cannot be reached (refused, timed out,
 *                  TLS failed) or answered 5xx (its store is unreadable)
 *   PW_CLI_FAIL    out of memory, an answer that is not what the API sends
 */
#ifndef PW_CLI_API_H
#define PW_CLI_API_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "query.h"

/* Largest answer read: the server's own ceiling (PW_HTTP_MAX_RESPONSE). */
#define PW_CLI_API_MAX_RESPONSE (64u << 20)
#define PW_CLI_API_CONNECT_MS   10000     /* connect (and TLS handshake) */
#define PW_CLI_API_IO_MS        300000    /* each read or write; a long query may take minutes */

/* What `poolwatch query` asks for. */
typedef struct pw_cli_api_query {
    const char *expr;      /* the text as given */
    bool        raw;       /* a bare selector: its stored points with from <= ts <= to */
    int64_t     from, to;  /* ms; for a range query `from` is the first step, already aligned */
    int64_t     step;      /* ms, > 0; range queries only */
} pw_cli_api_query;

/*
 * Runs q on the server and feeds every series to sink, sorted by canonical
 * key as the local query writes them. The raw form is an instant query of
 * EXPR[to - from + 1ms] at `to`, which the server answers with the stored
 * points; a range query is /api/v1/query_range. When a sink callback fails,
 * stops, stores its code in *sink_err, prints nothing and returns
 * PW_CLI_FAIL (the caller says why); *sink_err is PW_OK otherwise.
 */
int pw_cli_api_query_run(const pw_cli *g, const pw_cli_api_query *q, const pw_query_sink *sink,
                         void *ctx, pw_err *sink_err);

/*
 * /api/v1/hosts: calls cb for every agent (the fields the API sends;
 * last_agent_ts_ms is 0). cb returning non-zero stops, and gives
 * PW_CLI_FAIL without a message.
 */
int pw_cli_api_hosts(const pw_cli *g, pw_store_agent_cb cb, void *ctx);

/*
 * /api/v1/audit with from <= time <= to (has_to false: up to the server's
 * now), page after page until the server says it has no more. cb as in
 * pw_audit_scan; returning non-zero stops, and gives PW_CLI_FAIL without a
 * message.
 */
int pw_cli_api_audit(const pw_cli *g, int64_t from, int64_t to, bool has_to, pw_audit_cb cb,
                     void *ctx);

/*
 * For the commands that need the data directory (token, import, audit
 * verify): when g->api_url is set, prints that `what` needs --data on the
 * collector host and returns PW_CLI_USAGE; PW_CLI_OK otherwise.
 */
int pw_cli_local_only(const pw_cli *g, const char *what);

#endif
