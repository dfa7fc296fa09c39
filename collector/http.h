/*
 * http.h - the collector's HTTP API on NNG's HTTP server (NNG 1.5).
 *
 * Endpoints, roles, limits and what they cover: collector/README.md, "HTTP
 * API". In short: JSON under /api/v1 with Prometheus' query API
 * (query, query_range, series, labels, label/<name>/values) so Grafana's
 * Prometheus data source works, /api/v1/hosts, /api/v1/audit, /metrics
 * (Prometheus text) and /healthz.
 *
 * Request path, in one place (http.c):
 *   NNG thread: route by path and method (404, 405), /healthz answered at
 *     once; anything else is queued for a worker, or answered 503 when
 *     workers and queue are full (the concurrency limit).
 *   worker: failed-auth rate limit per source address (429), bearer token
 *     (401), pw_auth_allows for the route's action (403), the tenant scope
 *     (scope.h), the endpoint, then the audit record (audit.h) - and only
 *     then the response: a call whose audit record cannot be written is
 *     answered 503 instead of with data.
 * Endpoint files (http_prom.c, http_ops.c, http_audit.c) see a pw_http_call
 * with the request parsed and the caller authenticated; they never check
 * roles or tenants themselves.
 *
 * Threads: handlers run on the server's worker threads, never on NNG's, so
 * a slow query cannot stall agent ingest (which shares NNG's threads).
 */
#ifndef PW_HTTP_H
#define PW_HTTP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "alert.h"
#include "audit.h"
#include "auth.h"
#include "inventory.h"
#include "pw_err.h"
#include "scope.h"
#include "stats.h"
#include "store.h"

typedef struct pw_http pw_http;
struct pw_report_tz;

#define PW_HTTP_DEFAULT_ADDR "127.0.0.1:7480"

/* Defaults for the zero fields of pw_http_opts. */
#define PW_HTTP_WORKERS      4              /* requests handled at once */
#define PW_HTTP_QUEUE        32             /* requests waiting for a worker; past it 503 */
#define PW_HTTP_MAX_BODY     (1u << 20)     /* request body; NNG answers 400 past it */
#define PW_HTTP_MAX_RESPONSE (64u << 20)    /* response body; past it 422 */
#define PW_HTTP_AUTH_BURST   10             /* failed authentications a source may make at once */
#define PW_HTTP_AUTH_REFILL_MS 6000         /* ... then one more every 6 s (10 a minute) */
#define PW_HTTP_RATE_SOURCES 4096           /* source addresses the rate limiter tracks */

/* Fixed limits. */
#define PW_HTTP_MAX_PARAMS   256            /* name=value pairs in query string + form body */
#define PW_HTTP_MAX_TOKEN    256            /* bytes of a bearer token */
#define PW_HTTP_MAX_LIST     200000         /* series of /series, values of /labels, /label/../values */

typedef struct pw_http_opts {
    const char         *addr;       /* "HOST:PORT" ("127.0.0.1:7480", "[::1]:7480"); port 0 picks one */
    const char         *tls_cert;   /* PEM certificate (chain) file: serve HTTPS; NULL: plain HTTP */
    const char         *tls_key;    /* PEM private key file; with tls_cert only */
    pw_store           *store;      /* borrowed; outlives the server */
    pw_security        *sec;        /* borrowed; tokens and audit log */
    pw_inventory       *inv;        /* borrowed; pools and VMs (NULL: /api/v1/pools answers 503) */
    pw_alert_db        *alerts;     /* borrowed; DIR/alerts.mdb (NULL: /api/v1/alerts answers 503) */
    pw_collector_stats *stats;      /* borrowed; for /metrics */
    int64_t             started_ms; /* process start (wall clock), for uptime */
    size_t              workers, queue, max_body, max_response;   /* 0 = the defaults above */
    const char         *web_dir;    /* borrowed; the dashboard's files served at / (http_static.c);
                                       NULL or missing: / answers a 404 page saying how to build them */
    const char         *data_dir;   /* borrowed; DIR/reports (http_reports.c); NULL: no archive */
    const struct pw_report_tz *report_tz; /* borrowed; the reports' days (NULL: /api/v1/reports/... 503) */
    pw_alert_config    *alert_config; /* the rules /api/v1/recommendations judges by (the alert
                                         engine's: built-ins + the config file's alerts:); the
                                         server takes a reference of its own; NULL: built-ins */
} pw_http_opts;

/*
 * Starts listening. *out owned by the caller (pw_http_stop). PW_EINVAL: bad
 * address or option combination; PW_EIO: a TLS file cannot be read or used;
 * PW_ENET: cannot listen (address in use, ...); PW_ENOMEM. errbuf says why.
 */
pw_err pw_http_start(const pw_http_opts *o, pw_http **out, char *errbuf, size_t errlen);

/*
 * Replaces the rules the recommendations judge by (SIGHUP). The server takes
 * a reference of its own (pw_alert_config_ref) and drops the old one's;
 * requests under way finish with the rules they started with. NULL: the
 * built-in rules.
 */
void pw_http_set_alert_config(pw_http *h, pw_alert_config *cfg);

/* The URL the server listens on ("http://127.0.0.1:7480"), with the port bound. */
size_t pw_http_url(const pw_http *h, char *buf, size_t len);

/*
 * Stops: new requests get 503, connections are closed (requests being
 * handled finish first), workers are joined, everything is freed. Call
 * before closing the store and the security handle. NULL is fine.
 */
void pw_http_stop(pw_http *h);

/* ==== for the endpoint files (http_*.c) and http_test.c ================= */

/* A growing byte buffer with a ceiling: the response body. */
typedef struct pw_http_buf {
    char  *p;
    size_t len, cap;
    size_t max;          /* ceiling; 0 = none */
} pw_http_buf;

/* Appends; PW_ETOOBIG past max (nothing appended), PW_ENOMEM. */
pw_err pw_http_buf_add(pw_http_buf *b, const void *s, size_t n);
pw_err pw_http_buf_adds(pw_http_buf *b, const char *s);
pw_err pw_http_buf_addf(pw_http_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends j as compact JSON (any value); PW_EPROTO if jansson refuses it. */
pw_err pw_http_buf_json(pw_http_buf *b, const json_t *j);
/* Appends s (n bytes) as a JSON string; PW_EPROTO if it is not UTF-8. */
pw_err pw_http_buf_jstr(pw_http_buf *b, const char *s, size_t n);
void   pw_http_buf_reset(pw_http_buf *b);
void   pw_http_buf_free(pw_http_buf *b);

/* Query-string and form parameters, in order, decoded. */
typedef struct pw_http_param {
    char *name, *value;
} pw_http_param;

typedef struct pw_http_params {
    pw_http_param *v;
    size_t         n, cap;
} pw_http_params;

/*
 * Parses application/x-www-form-urlencoded text (a query string or a POST
 * body, len bytes) as Go's url.ParseQuery does, appending the pairs: '&'
 * separates pairs, '+' is a space, %XX an escaped byte, a pair without '='
 * has the value "". PW_EPROTO: a bad %-escape, a ';' (Go refuses it), a
 * NUL byte; PW_ETOOBIG: more than PW_HTTP_MAX_PARAMS pairs; PW_ENOMEM.
 * errbuf (may be NULL) says which.
 */
pw_err pw_http_params_parse(pw_http_params *ps, const char *s, size_t len, char *errbuf,
                            size_t errlen);
/* The first value of name, or NULL. */
const char *pw_http_get(const pw_http_params *ps, const char *name);
/* Number of values of name, and the i-th of them (NULL past the end). */
size_t      pw_http_param_count(const pw_http_params *ps, const char *name);
const char *pw_http_param_nth(const pw_http_params *ps, const char *name, size_t i);
void        pw_http_params_free(pw_http_params *ps);

/*
 * Percent-decodes a URL path (len bytes) into out (a NUL-terminated
 * malloc'd string; '+' stays '+'). PW_EPROTO on a bad escape or a NUL.
 */
pw_err pw_http_path_decode(const char *s, size_t len, char **out);

/* Times as Prometheus' HTTP API takes them; earliest and latest accepted. */
#define PW_PROM_MIN_TIME_MS (INT64_C(-62135596800000))    /* 0001-01-01T00:00:00Z */
#define PW_PROM_MAX_TIME_MS (INT64_C(253402300799999))    /* 9999-12-31T23:59:59.999Z */

/*
 * A timestamp: Unix seconds with an optional fraction ("1700000000",
 * "1700000000.123", "1.7e9"; rounded to the millisecond), or RFC 3339 with
 * any offset and fraction ("2026-11-01T00:00:00Z", "2026-11-01T08:00:00.5+08:00").
 * Prometheus' own "no bound" strings (its minimum and maximum times, sent by
 * some clients) give PW_PROM_MIN_TIME_MS / PW_PROM_MAX_TIME_MS; times beyond
 * those are clamped to them. PW_EINVAL otherwise (NaN, Inf, garbage).
 */
pw_err pw_prom_time_parse(const char *s, int64_t *ms);

/*
 * A duration: seconds with an optional fraction ("15", "0.5") or
 * Prometheus' duration ("1h30m", units y w d h m s ms, integers, largest
 * unit first, each at most once). Rounded to the millisecond. PW_EINVAL
 * otherwise, also for negative or absurd (> 10 years) values.
 */
pw_err pw_prom_duration_parse(const char *s, int64_t *ms);

/* Room for any pw_prom_value (the largest doubles have 309 digits in 'f' form). */
#define PW_PROM_VALUE_LEN 400

/*
 * A sample value as Prometheus writes it (Go's FormatFloat(v, 'f', -1, 64):
 * the fewest digits that read back exactly, never an exponent): "0.1",
 * "100000000000000000000", "-0", "NaN", "+Inf", "-Inf". Returns the length.
 */
size_t pw_prom_value(double v, char *buf, size_t len);

/* A timestamp as Prometheus writes it: seconds, then ".mmm" unless whole ("1.5" -> "1.500"). */
size_t pw_prom_ts(int64_t ms, char *buf, size_t len);

/*
 * The token of an Authorization header value "Bearer <token>" (scheme in
 * any case, blanks around the token skipped): a pointer into hdr and its
 * length in *len. NULL if hdr is NULL, not Bearer, or the token is empty,
 * longer than PW_HTTP_MAX_TOKEN or holds a blank or control byte.
 */
const char *pw_http_bearer(const char *hdr, size_t *len);

/*
 * The failed-authentication limiter: a token bucket per source address
 * (burst, then one more every refill_ms), in a fixed table of `slots`
 * addresses (a new address replaces the quietest one, so memory is fixed
 * whatever an attacker sends from). Thread-safe.
 */
typedef struct pw_http_rl pw_http_rl;

pw_err pw_http_rl_new(size_t slots, unsigned burst, int64_t refill_ms, pw_http_rl **out);
void   pw_http_rl_free(pw_http_rl *rl);
/*
 * May key try to authenticate now? false: no - *retry_ms (may be NULL) gets
 * the wait until it may, and *first (may be NULL) says whether this is the
 * first refusal since the bucket ran dry (callers audit only that one).
 */
bool   pw_http_rl_allow(pw_http_rl *rl, const char *key, int64_t now_ms, int64_t *retry_ms,
                        bool *first);
/* key failed to authenticate: take one from its bucket. */
void   pw_http_rl_charge(pw_http_rl *rl, const char *key, int64_t now_ms);

/* An extra response header; name and value are static or live in the call (pw_http_call.etag). */
typedef struct pw_http_header {
    const char *name, *value;
} pw_http_header;

/* One request as an endpoint sees it. */
typedef struct pw_http_call pw_http_call;
struct pw_http_call {
    /* request: read-only for endpoints */
    pw_http            *srv;
    const char         *method;      /* "GET", "POST", "DELETE" (HEAD arrives as "GET") */
    const char         *path;        /* decoded, without the query string */
    const char         *tail;        /* routes ending in '/': the rest of the path */
    pw_http_params      params;      /* form body (POST) first, then the query string */
    const char         *source;      /* "127.0.0.1:53422", or "unknown" */
    bool                loopback;    /* the peer is this machine (127/8, ::1) */
    int64_t             now_ms;      /* wall clock when the worker took the request */
    const pw_principal *who;         /* the caller; NULL on routes without authentication */
    const pw_scope     *scope;       /* what the caller may see; never NULL */
    pw_store           *store;
    pw_security        *sec;
    pw_inventory       *inv;         /* may be NULL */
    pw_alert_db        *alerts;      /* may be NULL: the alert engine is off */
    pw_collector_stats *stats;
    int64_t             started_ms;
    const char         *web_dir;      /* pw_http_opts.web_dir; may be NULL */
    const char         *data_dir;     /* pw_http_opts.data_dir; may be NULL */
    const struct pw_report_tz *report_tz; /* pw_http_opts.report_tz; may be NULL */
    const char         *if_none_match;/* the request's If-None-Match header, or NULL */
    const char         *content_type_in; /* the request's Content-Type header, or NULL */
    const char         *req_body;     /* the request body as received (not NUL-terminated) */
    size_t              req_body_len;

    /* response: written by the endpoint */
    int                 status;       /* 200 unless set */
    const char         *content_type; /* static string; "application/json" unless set */
    pw_http_buf         body;
    pw_http_header      headers[4];   /* extra headers (name NULL: unused); Cache-Control replaces no-store */
    char                etag[48];     /* room for an ETag value named in headers */
    char                disposition[1024]; /* room for a Content-Disposition value (http_reports.c) */

    /* audit: what was acted on (set by the route, refined by the endpoint), why it failed */
    char                object[256];
    char                detail[256];
};

typedef void (*pw_http_endpoint)(pw_http_call *c);

/*
 * The server's alert rules now (pw_http_set_alert_config): a reference the
 * caller drops with pw_alert_config_free, so a SIGHUP during the request
 * cannot free them. NULL: the built-in rules.
 */
pw_alert_config *pw_http_alert_config(pw_http_call *c);

/*
 * Answers with Prometheus' error shape:
 * {"status":"error","errorType":"<type>","error":"<message>"} and status;
 * the message also becomes the audit detail. Types used: bad_data (400),
 * execution (422), unavailable (503), internal (500), and for the server's
 * own refusals unauthorized (401), forbidden (403), not_found (404),
 * method_not_allowed (405), too_many_requests (429).
 */
void pw_http_error(pw_http_call *c, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answers 200 {"status":"success","data":<data>} (data: a reference is stolen). */
void pw_http_success(pw_http_call *c, json_t *data);

/* Sets c->object to s, cut to fit at a UTF-8 boundary, blanks around it trimmed. */
void pw_http_set_object(pw_http_call *c, const char *s);

/* Appends the HTTP server's own counters (Prometheus text) for /metrics. */
pw_err pw_http_metrics_text(const pw_http *h, pw_http_buf *b);

/* Endpoints (http_prom.c, http_ops.c, http_audit.c). */
void pw_http_prom_query(pw_http_call *c);
void pw_http_prom_query_range(pw_http_call *c);
void pw_http_prom_series(pw_http_call *c);
void pw_http_prom_labels(pw_http_call *c);
void pw_http_prom_label_values(pw_http_call *c);   /* tail: "<name>/values" */
void pw_http_prom_metadata(pw_http_call *c);
void pw_http_ops_healthz(pw_http_call *c);
void pw_http_ops_metrics(pw_http_call *c);
void pw_http_ops_hosts(pw_http_call *c);
void pw_http_audit_list(pw_http_call *c);
void pw_http_pools(pw_http_call *c);                /* http_pools.c: GET /api/v1/pools */
void pw_http_alerts(pw_http_call *c);               /* http_alerts.c: GET /api/v1/alerts */
void pw_http_recommendations(pw_http_call *c);      /* http_recommendations.c: GET /api/v1/recommendations */
void pw_http_inventory(pw_http_call *c);            /* http_inventory.c: GET /api/v1/inventory */
void pw_http_whoami(pw_http_call *c);               /* http_whoami.c: GET /api/v1/whoami */
/* http_reports.c: GET /api/v1/reports/<kind>, /api/v1/reports (the archive), /api/v1/reports/archive/<month>/<file> */
void pw_http_report(pw_http_call *c);               /* tail: "monthly", "quarterly", "annual", "service-year" */
void pw_http_report_list(pw_http_call *c);
void pw_http_report_archived(pw_http_call *c);      /* tail: "<YYYY-MM>/<file>" */
/* http_silences.c: GET and POST /api/v1/silences, DELETE /api/v1/silence/<id> */
void pw_http_silences_list(pw_http_call *c);
void pw_http_silences_add(pw_http_call *c);
void pw_http_silence_expire(pw_http_call *c);       /* tail: "<id>" */

/*
 * http_static.c: the dashboard's files at / (any path outside /api/ that no
 * other route has). No token; GET and HEAD; ETag + "Cache-Control: no-cache".
 */
void pw_http_static(pw_http_call *c);
/*
 * The file under root that URL path (decoded, starting with '/') names, in
 * out: a path ending in '/' names its index.html. PW_EINVAL for a path that
 * could leave root or name a hidden file: a segment that is empty, starts
 * with '.' ("..", "."), or holds a backslash or a control byte; PW_ETOOBIG
 * if it does not fit in len.
 */
pw_err      pw_http_static_resolve(const char *root, const char *path, char *out, size_t len);
/* The Content-Type for a file name by its extension; application/octet-stream if unknown. */
const char *pw_http_static_type(const char *path);
/*
 * The web directory to use without --web-dir: beside the running binary in a
 * build tree (<exe dir>/../dashboards/web, what the build copies), else the
 * installed copy (PW_WEB_INSTALL_DIR, <datadir>/poolwatch/web) - the first
 * holding an index.html, or the installed path if none does. Never fails.
 */
void        pw_http_static_default_dir(char *out, size_t len);
/* Does dir hold an index.html? */
bool        pw_http_static_dir_ok(const char *dir);

#endif
