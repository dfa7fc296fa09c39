/*
 * http.c - the HTTP server: NNG's server for the sockets and the HTTP/1.1
 * framing, and here routing, the worker pool (the concurrency limit), the
 * authentication and authorization middleware, the audit of every call and
 * the answers. See http.h for the request path and collector/README.md,
 * "HTTP API", for what callers see.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* ---- routes ------------------------------------------------------------------ */

#define HS_GET    0x1u  /* HEAD too: NNG strips the body */
#define HS_POST   0x2u
#define HS_DELETE 0x4u

typedef enum hs_auth {
    HS_AUTH_NONE,          /* no token; answers nothing about stored data */
    HS_AUTH_TOKEN,         /* a bearer token whose role allows the route's action */
    HS_AUTH_LOCAL_OR_TOKEN,/* no token from this machine, else as HS_AUTH_TOKEN */
} hs_auth;

typedef struct hs_route hs_route;
struct hs_route {
    const char      *path;          /* exact, or a prefix when it ends in '/' */
    unsigned         methods;
    hs_auth          auth;
    pw_action        action;        /* HS_AUTH_TOKEN, HS_AUTH_LOCAL_OR_TOKEN */
    bool             audit;         /* audit every call, not only refused ones */
    bool             on_nng;        /* answered on NNG's thread (cheap, no data) */
    const char      *audit_path;    /* the action as the audit log names it */
    const char      *object_param;  /* parameter whose values are the audit object */
    pw_http_endpoint fn;
};

/*
 * Every endpoint and who may call it, in one table. Roles per action are
 * pw_auth_allows' business (auth.c); the tenant scope is applied below the
 * endpoints, in the evaluation source (scope.h).
 */
static const hs_route hs_routes[] = {
    { "/healthz", HS_GET, HS_AUTH_NONE, PW_ACT_COUNT_, false, true, "/healthz", NULL,
      pw_http_ops_healthz },
    /* Own health figures, no stored data: a local scraper needs no token, and a
     * successful scrape every 15 s is not audited (it would drown the log). */
    { "/metrics", HS_GET, HS_AUTH_LOCAL_OR_TOKEN, PW_ACT_READ_SELF_METRICS, false, false,
      "/metrics", NULL, pw_http_ops_metrics },
    { "/api/v1/query", HS_GET | HS_POST, HS_AUTH_TOKEN, PW_ACT_READ_METRICS, true, false,
      "/api/v1/query", "query", pw_http_prom_query },
    { "/api/v1/query_range", HS_GET | HS_POST, HS_AUTH_TOKEN, PW_ACT_READ_METRICS, true, false,
      "/api/v1/query_range", "query", pw_http_prom_query_range },
    { "/api/v1/series", HS_GET | HS_POST, HS_AUTH_TOKEN, PW_ACT_READ_METRICS, true, false,
      "/api/v1/series", "match[]", pw_http_prom_series },
    { "/api/v1/labels", HS_GET | HS_POST, HS_AUTH_TOKEN, PW_ACT_READ_METRICS, true, false,
      "/api/v1/labels", "match[]", pw_http_prom_labels },
    { "/api/v1/label/", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_METRICS, true, false,
      "/api/v1/label/:name/values", NULL, pw_http_prom_label_values },
    { "/api/v1/metadata", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_METRICS, true, false,
      "/api/v1/metadata", "metric", pw_http_prom_metadata },
    { "/api/v1/hosts", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_HOSTS, true, false,
      "/api/v1/hosts", NULL, pw_http_ops_hosts },
    { "/api/v1/audit", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_AUDIT, true, false,
      "/api/v1/audit", NULL, pw_http_audit_list },
    /* Cloud-wide figures: they would show other tenants' usage, so no tenant role. */
    { "/api/v1/pools", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_POOLS, true, false,
      "/api/v1/pools", "time", pw_http_pools },
    /* Tenants see the alerts whose tenant label is theirs (http_alerts.c); pool alerts have none. */
    { "/api/v1/alerts", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_ALERTS, true, false,
      "/api/v1/alerts", NULL, pw_http_alerts },
    /* A tenant token sees its own tenant's VMs only: http_inventory.c applies the scope. */
    { "/api/v1/inventory", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_INVENTORY, true, false,
      "/api/v1/inventory", NULL, pw_http_inventory },
    /* Who the token is and what it may do (http_whoami.c): the dashboard asks instead of probing. */
    { "/api/v1/whoami", HS_GET, HS_AUTH_TOKEN, PW_ACT_WHOAMI, true, false,
      "/api/v1/whoami", NULL, pw_http_whoami },
    /* Silences (http_silences.c): one path, an action per method - reading is
     * read_alerts (a tenant sees those naming its tenant), changing write_alerts. */
    { "/api/v1/silences", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_ALERTS, true, false,
      "/api/v1/silences", NULL, pw_http_silences_list },
    { "/api/v1/silences", HS_POST, HS_AUTH_TOKEN, PW_ACT_WRITE_ALERTS, true, false,
      "/api/v1/silences", NULL, pw_http_silences_add },
    { "/api/v1/silence/", HS_DELETE, HS_AUTH_TOKEN, PW_ACT_WRITE_ALERTS, true, false,
      "/api/v1/silence/:id", NULL, pw_http_silence_expire },
    /* Recommendations (http_recommendations.c): a tenant token gets its own systems only. */
    { "/api/v1/recommendations", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_RECOMMENDATIONS, true, false,
      "/api/v1/recommendations", NULL, pw_http_recommendations },
    /* Reports (http_reports.c): a tenant token gets its own unit's report and archived files
     * only. The archive's prefix route comes before the reports' own (first match wins). */
    { "/api/v1/reports", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_REPORTS, true, false,
      "/api/v1/reports", "tenant", pw_http_report_list },
    { "/api/v1/reports/archive/", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_REPORTS, true, false,
      "/api/v1/reports/archive/:month/:file", NULL, pw_http_report_archived },
    { "/api/v1/reports/", HS_GET, HS_AUTH_TOKEN, PW_ACT_READ_REPORTS, true, false,
      "/api/v1/reports/:kind", NULL, pw_http_report },
    /* The dashboard's files (http_static.c): every path outside /api/ no route above has.
     * Must stay last. No token: the files hold no data; the page sends the token to /api. */
    { "/", HS_GET, HS_AUTH_NONE, PW_ACT_COUNT_, false, false, "/", NULL, pw_http_static },
};

/*
 * The route for path and method m, and in *tail what a prefix route leaves;
 * NULL if no route has the path. A path may have one route per method (each
 * with its own action): when none takes m, the first with the path is
 * returned (the caller answers 405) and *allowed has every method it takes.
 */
static const hs_route *
hs_route_find(const char *path, unsigned m, const char **tail, unsigned *allowed)
{
    const hs_route *found = NULL;

    *allowed = 0;
    for (size_t i = 0; i < sizeof hs_routes / sizeof hs_routes[0]; i++) {
        const hs_route *r = &hs_routes[i];
        size_t          n = strlen(r->path);

        if (n == 1) {           /* "/", the static files: unknown /api/ paths stay JSON 404s */
            if (found != NULL || strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0)
                break;
            *tail = path + 1;
            *allowed = r->methods;
            return r;
        }
        if (r->path[n - 1] == '/' ? strncmp(path, r->path, n) == 0 && path[n] != '\0'
                                  : strcmp(path, r->path) == 0) {
            *tail = path + (r->path[n - 1] == '/' ? n : strlen(path));
            *allowed |= r->methods;
            if (found == NULL)
                found = r;
            if (r->methods & m)
                return r;       /* *allowed may miss later routes: it is read on a 405 only */
        }
    }
    return found;
}

/* ---- server ------------------------------------------------------------------- */

/* A request waiting for, or being handled by, a worker. */
typedef struct hs_job hs_job;
struct hs_job {
    nng_aio        *aio;
    nng_http_req   *req;
    const hs_route *route;
    char           *path;        /* decoded; owned */
    const char     *tail;        /* into path */
    char            source[64];  /* "ip:port" */
    char            ip[48];      /* the rate limiter's key */
    bool            loopback;
};

struct pw_http {
    nng_http_server    *srv;
    char                url[160];
    pw_store           *store;
    pw_security        *sec;
    pw_inventory       *inv;
    pw_alert_db        *alerts;
    pw_collector_stats *stats;
    int64_t             started_ms;
    size_t              max_response;
    char               *web_dir;     /* owned copy of pw_http_opts.web_dir; may be NULL */
    const char         *data_dir;    /* borrowed: pw_http_opts.data_dir */
    const struct pw_report_tz *report_tz; /* borrowed */
    pthread_mutex_t     cfg_mu;      /* alert_config: swapped by SIGHUP while requests read it */
    pw_alert_config    *alert_config;/* a reference of our own; NULL: the built-in rules */
    pw_http_rl         *rl;
    bool                started;     /* nng_http_server_start succeeded */

    /* the work queue: a ring of jobs, bounded - its size is the concurrency limit */
    pthread_mutex_t     mu;
    pthread_cond_t      cv;
    hs_job             *ring;
    size_t              cap, head, count;
    bool                quit;
    pthread_t          *workers;
    size_t              nworkers;
    atomic_bool         stopping;

    /* counters for /metrics */
    atomic_uint_fast64_t by_class[6];      /* responses by status / 100 */
    atomic_uint_fast64_t busy;             /* 503: workers and queue full */
    atomic_uint_fast64_t auth_failed;      /* 401 */
    atomic_uint_fast64_t denied;           /* 403 */
    atomic_uint_fast64_t rate_limited;     /* 429 */
    atomic_uint_fast64_t audit_errors;     /* audit records that could not be written */
    atomic_uint_fast64_t in_flight;        /* queued or being handled */
    atomic_uint_fast64_t handle_us;        /* time workers spent on requests */
    atomic_int_fast64_t  audit_err_logged; /* rate limit for that log line (mono ms) */
};

/* ---- answers -------------------------------------------------------------------- */

typedef struct hs_header hs_header;
struct hs_header {
    const char *name, *value;
};

/* Sends an answer through the handler's aio (any thread); the connection closes if it cannot. */
static void
hs_finish(pw_http *h, nng_aio *aio, int status, const char *ctype, const char *body, size_t len,
          const hs_header *hdrs, size_t nhdrs)
{
    nng_http_res *res;

    atomic_fetch_add(&h->by_class[status / 100 < 6 ? status / 100 : 5], 1);
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    if (nng_http_res_set_status(res, (uint16_t) status) != 0
        || nng_http_res_set_header(res, "Content-Type", ctype) != 0
        || nng_http_res_set_header(res, "Cache-Control", "no-store") != 0
        || nng_http_res_set_header(res, "X-Content-Type-Options", "nosniff") != 0
        || nng_http_res_copy_data(res, body, len) != 0)
        goto fail;
    for (size_t i = 0; i < nhdrs; i++)
        if (hdrs[i].name != NULL && nng_http_res_set_header(res, hdrs[i].name, hdrs[i].value) != 0)
            goto fail;
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
    return;
fail:
    nng_http_res_free(res);
    nng_aio_finish(aio, NNG_ENOMEM);
}

/* A short JSON error from the NNG thread or the middleware, before any endpoint ran. */
static void
hs_finish_error(pw_http *h, nng_aio *aio, int status, const char *type, const char *msg,
                const hs_header *hdrs, size_t nhdrs)
{
    pw_http_call c = { .status = status };

    pw_http_error(&c, status, type, "%s", msg);
    hs_finish(h, aio, status, "application/json", c.body.p, c.body.len, hdrs, nhdrs);
    pw_http_buf_free(&c.body);
}

/* ---- the peer -------------------------------------------------------------------- */

/*
 * NNG 1.x has no public call for the peer of an HTTP connection. Every 1.x
 * release from 1.3 to 1.10 starts struct nng_http_conn with the
 * connection's nng_stream pointer (src/supplemental/http/http_conn.c), and
 * the stream answers NNG_OPT_REMADDR (TLS passes it to TCP). The
 * connection lives until the handler's aio finishes, so reading it here is
 * safe. Other versions: the source is "unknown" (and is never loopback).
 */
static void
hs_peer(nng_http_conn *conn, hs_job *j)
{
    snprintf(j->source, sizeof j->source, "unknown");
    snprintf(j->ip, sizeof j->ip, "unknown");
    j->loopback = false;
#if NNG_MAJOR_VERSION == 1 && NNG_MINOR_VERSION >= 3 && NNG_MINOR_VERSION <= 10
    {
        nng_stream  *st = conn != NULL ? *(nng_stream **) (void *) conn : NULL;
        nng_sockaddr sa;

        if (st == NULL || nng_stream_get_addr(st, NNG_OPT_REMADDR, &sa) != 0)
            return;
        if (sa.s_family == NNG_AF_INET) {
            uint32_t a = ntohl(sa.s_in.sa_addr);

            inet_ntop(AF_INET, &sa.s_in.sa_addr, j->ip, sizeof j->ip);
            snprintf(j->source, sizeof j->source, "%s:%u", j->ip, ntohs(sa.s_in.sa_port));
            j->loopback = (a >> 24) == 127;
        } else if (sa.s_family == NNG_AF_INET6) {
            static const uint8_t lo6[16] = { [15] = 1 };
            static const uint8_t v4m[12] = { [10] = 0xff, [11] = 0xff };
            const uint8_t       *b = sa.s_in6.sa_addr;

            inet_ntop(AF_INET6, b, j->ip, sizeof j->ip);
            snprintf(j->source, sizeof j->source, "[%s]:%u", j->ip, ntohs(sa.s_in6.sa_port));
            j->loopback = memcmp(b, lo6, 16) == 0 || (memcmp(b, v4m, 12) == 0 && b[12] == 127);
        }
    }
#else
    (void) conn;
#endif
}

/* ---- the middleware ------------------------------------------------------------------ */

static bool
hs_is_form(nng_http_req *req)
{
    const char *ct = nng_http_req_get_header(req, "Content-Type");

    return ct != NULL && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0
        && (ct[33] == '\0' || ct[33] == ';' || ct[33] == ' ');
}

/* Form body first, then the query string: Go's r.Form order, so FormValue agrees. */
static pw_err
hs_params(hs_job *j, pw_http_params *ps, char *msg, size_t msglen)
{
    const char *uri = nng_http_req_get_uri(j->req), *q = strchr(uri, '?');
    void       *body;
    size_t      blen;
    pw_err      e;

    if (strcmp(nng_http_req_get_method(j->req), "POST") == 0 && hs_is_form(j->req)) {
        nng_http_req_get_data(j->req, &body, &blen);
        if (blen > 0 && (e = pw_http_params_parse(ps, body, blen, msg, msglen)) != PW_OK)
            return e;
    }
    if (q != NULL) {
        const char *end = strchr(q, '#');

        return pw_http_params_parse(ps, q + 1, end != NULL ? (size_t) (end - q - 1) : strlen(q + 1),
                                    msg, msglen);
    }
    return PW_OK;
}

/* The audit object a route names: its parameter's values, space-separated. */
static void
hs_object(pw_http_call *c, const hs_route *r)
{
    char   buf[sizeof c->object * 2];
    size_t n = pw_http_param_count(&c->params, r->object_param), o = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && o < sizeof buf - 1; i++)
        o += (size_t) snprintf(buf + o, sizeof buf - o, "%s%s", i > 0 ? " " : "",
                               pw_http_param_nth(&c->params, r->object_param, i));
    pw_http_set_object(c, buf);
}

/* "pwt_<id>_..." -> the id, public and useful in the audit log; the secret never is. */
static void
hs_claimed_id(const char *tok, size_t len, char *out)
{
    out[0] = '\0';
    if (len > 4 + PW_TOKEN_ID_LEN && strncmp(tok, "pwt_", 4) == 0 && tok[4 + PW_TOKEN_ID_LEN] == '_'
        && strspn(tok + 4, "0123456789abcdef") == PW_TOKEN_ID_LEN) {
        memcpy(out, tok + 4, PW_TOKEN_ID_LEN);
        out[PW_TOKEN_ID_LEN] = '\0';
    }
}

static pw_audit_result
hs_audit_result(int status)
{
    switch (status) {
    case 401:
    case 429:
        return PW_AUDIT_UNAUTHENTICATED;
    case 403:
        return PW_AUDIT_DENIED;
    default:
        return status < 400 ? PW_AUDIT_OK : PW_AUDIT_FAILED;
    }
}

/* Writes the call's audit record. PW_OK, or why it could not be written. */
static pw_err
hs_audit(pw_http *h, const pw_http_call *c, const hs_job *j, const pw_principal *who,
         const char *claimed_id)
{
    pw_audit_rec r;
    char         action[sizeof r.action];
    pw_err       e;

    snprintf(action, sizeof action, "%s %s", c->method, j->route->audit_path);
    pw_audit_rec_init(&r, who, j->source, action, c->object);
    r.ts_ms = c->now_ms;
    if (who == NULL)        /* the id a refused token claimed: which one is being tried */
        snprintf(r.token_id, sizeof r.token_id, "%s", claimed_id);
    r.result = hs_audit_result(c->status);
    if (r.result != PW_AUDIT_OK)
        snprintf(r.detail, sizeof r.detail, "%s", c->detail);
    if ((e = pw_audit_append(h->sec, &r)) != PW_OK) {
        int64_t now = pw_mono_ms(), last = atomic_load(&h->audit_err_logged);

        atomic_fetch_add(&h->audit_errors, 1);
        if (now - last > 10000 && atomic_compare_exchange_strong(&h->audit_err_logged, &last, now))
            pw_error("http: cannot write the audit log (%s); data calls are refused until it works",
                     pw_strerror(e));
    }
    return e;
}

/*
 * Handles one request on a worker (or, for on_nng routes, on NNG's
 * thread): parameters, rate limit, token, role, scope, endpoint, audit,
 * answer.
 */
static void
hs_serve(pw_http *h, hs_job *j)
{
    pw_http_call c;
    pw_principal who;
    pw_scope     scope;
    pw_scope_own *own = NULL;         /* the tenant scope's inventory snapshot; this request's */
    hs_header    hdrs[6] = { { NULL, NULL }, { NULL, NULL } };
    char         perr[256] = "", why[256] = "", claimed[PW_TOKEN_ID_LEN + 1] = "", retry[24];
    const char  *authz = nng_http_req_get_header(j->req, "Authorization");
    const char  *method = nng_http_req_get_method(j->req);
    const char  *tok;
    size_t       toklen = 0;
    bool         authed = false, audit = j->route->audit, first = false;
    pw_err       pe;
    int64_t      t0 = pw_mono_ms(), retry_ms = 0;

    memset(&c, 0, sizeof c);
    memset(&who, 0, sizeof who);
    memset(&scope, 0, sizeof scope);        /* PW_SCOPE_NONE */
    c.srv = h;
    c.method = strcmp(method, "HEAD") == 0 ? "GET" : method;
    c.path = j->path;
    c.tail = j->tail;
    c.source = j->source;
    c.loopback = j->loopback;
    c.now_ms = pw_now_ms();
    c.scope = &scope;
    c.store = h->store;
    c.sec = h->sec;
    c.inv = h->inv;
    c.alerts = h->alerts;
    c.stats = h->stats;
    c.started_ms = h->started_ms;
    c.web_dir = h->web_dir;
    c.data_dir = h->data_dir;
    c.report_tz = h->report_tz;
    c.if_none_match = nng_http_req_get_header(j->req, "If-None-Match");
    c.content_type_in = nng_http_req_get_header(j->req, "Content-Type");
    {
        void  *data = NULL;
        size_t dlen = 0;

        nng_http_req_get_data(j->req, &data, &dlen);
        c.req_body = data;
        c.req_body_len = data != NULL ? dlen : 0;
    }
    c.status = 200;
    c.content_type = "application/json";
    c.body.max = h->max_response;

    pe = hs_params(j, &c.params, perr, sizeof perr);
    if (j->route->object_param != NULL)
        hs_object(&c, j->route);

    if (atomic_load(&h->stopping)) {
        pw_http_error(&c, 503, "unavailable", "the collector is shutting down");
        audit = false;
        goto answer;
    }
    if (j->route->auth == HS_AUTH_NONE || (j->route->auth == HS_AUTH_LOCAL_OR_TOKEN && j->loopback
                                           && authz == NULL)) {
        goto run;                   /* these routes read no series: the scope stays NONE */
    }
    if (!pw_http_rl_allow(h->rl, j->ip, c.now_ms, &retry_ms, &first)) {
        /* Only the first refusal is audited: a flood must not fill the log. */
        audit = first;
        atomic_fetch_add(&h->rate_limited, 1);
        snprintf(retry, sizeof retry, "%lld", (long long) (retry_ms + 999) / 1000);
        hdrs[0] = (hs_header) { "Retry-After", retry };
        pw_http_error(&c, 429, "too_many_requests",
                      "too many failed authentications from %s; retry in %s s", j->ip, retry);
        goto answer;
    }
    if ((tok = pw_http_bearer(authz, &toklen)) == NULL) {
        pw_http_error(&c, 401, "unauthorized", authz == NULL
                      ? "authentication required: send Authorization: Bearer <token>"
                      : "the Authorization header is not a usable Bearer token");
        hdrs[0] = (hs_header) { "WWW-Authenticate", authz == NULL ? "Bearer realm=\"poolwatch\""
                                : "Bearer realm=\"poolwatch\", error=\"invalid_request\"" };
    } else {
        char buf[PW_HTTP_MAX_TOKEN + 1];

        memcpy(buf, tok, toklen);
        buf[toklen] = '\0';
        hs_claimed_id(buf, toklen, claimed);
        if (pw_token_check(h->sec, buf, c.now_ms, &who, why, sizeof why) == PW_OK) {
            authed = true;
        } else {
            /* One answer whatever the cause; the audit detail says which. */
            pw_http_error(&c, 401, "unauthorized", "invalid, expired or revoked token");
            snprintf(c.detail, sizeof c.detail, "%s", why[0] ? why : "token refused");
            hdrs[0] = (hs_header) { "WWW-Authenticate",
                                    "Bearer realm=\"poolwatch\", error=\"invalid_token\"" };
        }
        explicit_bzero(buf, sizeof buf);
    }
    if (!authed) {
        atomic_fetch_add(&h->auth_failed, 1);
        pw_http_rl_charge(h->rl, j->ip, c.now_ms);
        audit = true;
        goto answer;
    }
    audit = true;           /* from here on every outcome is audited, or refused ones at least */
    if (!pw_auth_allows(&who, j->route->action)) {
        atomic_fetch_add(&h->denied, 1);
        pw_http_error(&c, 403, "forbidden", "role %s may not call %s", pw_role_name(who.role),
                      j->route->audit_path);
        goto answer;
    }
    if (pw_scope_for(&who, &scope) != PW_OK) {
        atomic_fetch_add(&h->denied, 1);
        pw_http_error(&c, 403, "forbidden", "the token has no usable scope");
        goto answer;
    }
    /* A tenant's series reads also see its VMs' hypervisor series: the
     * inventory's ownership, snapshotted once for this request (scope.h). */
    if (scope.kind == PW_SCOPE_TENANT && j->route->action == PW_ACT_READ_METRICS && h->inv != NULL) {
        pw_err oe = pw_scope_own_load(h->inv, scope.tenant, &own);

        if (oe == PW_OK)
            oe = pw_scope_set_own(&scope, own);
        if (oe != PW_OK) {
            pw_http_error(&c, 503, "unavailable", "cannot read the inventory for the tenant scope: %s",
                          pw_strerror(oe));
            goto answer;
        }
    }
    audit = j->route->audit;
    c.who = &who;
run:
    if (pe != PW_OK) {
        pw_http_error(&c, pe == PW_ENOMEM ? 503 : 400, pe == PW_ENOMEM ? "unavailable" : "bad_data",
                      "error parsing form values: %s", perr);
    } else {
        j->route->fn(&c);
    }
    if (c.status == 401 || c.status == 403)
        audit = true;
answer:
    if (audit && h->sec != NULL
        && hs_audit(h, &c, j, authed ? &who : NULL, claimed) != PW_OK && c.status < 400) {
        /* Fail closed: no data leaves without its audit record. */
        pw_http_error(&c, 503, "unavailable", "the audit log cannot be written; try again later");
        hdrs[0] = (hs_header) { "Retry-After", "5" };
    }
    pw_debug("http: %s %s %s -> %d (%lld ms)", j->source, c.method, j->route->audit_path, c.status,
             (long long) (pw_mono_ms() - t0));
    atomic_fetch_add(&h->handle_us, (uint64_t) (pw_mono_ms() - t0) * 1000);
    for (size_t i = 0; i < 4; i++)      /* the endpoint's own headers */
        hdrs[2 + i] = (hs_header) { c.headers[i].name, c.headers[i].value };
    hs_finish(h, j->aio, c.status, c.content_type, c.body.p != NULL ? c.body.p : "",
              c.body.len, hdrs, 6);
    pw_http_buf_free(&c.body);
    pw_http_params_free(&c.params);
    explicit_bzero(&who, sizeof who);
    pw_scope_own_free(own);
}

/* ---- threads ------------------------------------------------------------------------ */

static void *
hs_worker(void *arg)
{
    pw_http *h = arg;
    hs_job   j;

    for (;;) {
        pthread_mutex_lock(&h->mu);
        while (h->count == 0 && !h->quit)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->count == 0) {
            pthread_mutex_unlock(&h->mu);
            return NULL;
        }
        j = h->ring[h->head];
        h->head = (h->head + 1) % h->cap;
        h->count--;
        pthread_mutex_unlock(&h->mu);
        hs_serve(h, &j);
        free(j.path);
        atomic_fetch_sub(&h->in_flight, 1);
    }
}

/* NNG's thread: route, then queue for a worker (or answer at once). Must not block. */
static void
hs_on_request(nng_aio *aio)
{
    nng_http_req     *req = nng_aio_get_input(aio, 0);
    nng_http_handler *hd = nng_aio_get_input(aio, 1);
    nng_http_conn    *conn = nng_aio_get_input(aio, 2);
    pw_http          *h = nng_http_handler_get_data(hd);
    const char       *uri = nng_http_req_get_uri(req), *method = nng_http_req_get_method(req);
    hs_job            j = { .aio = aio, .req = req };
    unsigned          m = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ? HS_GET
                        : strcmp(method, "POST") == 0 ? HS_POST
                        : strcmp(method, "DELETE") == 0 ? HS_DELETE : 0;
    unsigned          allowed = 0;
    bool              queued = false;

    hs_peer(conn, &j);
    if (pw_http_path_decode(uri, strcspn(uri, "?#"), &j.path) != PW_OK) {
        hs_finish_error(h, aio, 400, "bad_data", "the path is not a valid URL path", NULL, 0);
        return;
    }
    if ((j.route = hs_route_find(j.path, m, &j.tail, &allowed)) == NULL) {
        hs_finish_error(h, aio, 404, "not_found", "no such endpoint", NULL, 0);
        free(j.path);
        return;
    }
    if ((j.route->methods & m) == 0) {
        char      list[40];
        hs_header allow = { "Allow", list };

        snprintf(list, sizeof list, "%s%s%s", (allowed & HS_GET) ? "GET, HEAD" : "",
                 (allowed & HS_POST) ? ((allowed & HS_GET) ? ", POST" : "POST") : "",
                 (allowed & HS_DELETE) ? ((allowed & (HS_GET | HS_POST)) ? ", DELETE" : "DELETE") : "");
        hs_finish_error(h, aio, 405, "method_not_allowed", "method not allowed", &allow, 1);
        free(j.path);
        return;
    }
    if (j.route->on_nng) {
        hs_serve(h, &j);
        free(j.path);
        return;
    }
    pthread_mutex_lock(&h->mu);
    if (!h->quit && !atomic_load(&h->stopping) && h->count < h->cap) {
        h->ring[(h->head + h->count) % h->cap] = j;
        h->count++;
        queued = true;
        atomic_fetch_add(&h->in_flight, 1);
        pthread_cond_signal(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    if (!queued) {
        hs_header ra = { "Retry-After", "1" };

        atomic_fetch_add(&h->busy, 1);
        hs_finish_error(h, aio, 503, "unavailable",
                        "too many requests in progress; try again shortly", &ra, 1);
        free(j.path);
    }
}

/* ---- start and stop --------------------------------------------------------------------- */

/* Reads a whole (small) file as a NUL-terminated string. */
static pw_err
hs_read_file(const char *path, char **out, char *errbuf, size_t errlen)
{
    FILE  *f = fopen(path, "rb");
    char  *buf = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    if (f == NULL) {
        snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(errno));
        return PW_EIO;
    }
    for (;;) {
        size_t got;

        if (cap - n < 4096) {
            char *p;

            cap = cap ? cap * 2 : 8192;
            if (cap > (1u << 20) || (p = realloc(buf, cap)) == NULL) {
                snprintf(errbuf, errlen, "%s is too large for a PEM file", path);
                free(buf);
                fclose(f);
                return PW_EIO;
            }
            buf = p;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(errbuf, errlen, "cannot read %s", path);
        free(buf);
        fclose(f);
        return PW_EIO;
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    return PW_OK;
}

static pw_err
hs_tls(pw_http *h, const pw_http_opts *o, char *errbuf, size_t errlen)
{
    nng_tls_config *cfg = NULL;
    char           *cert = NULL, *key = NULL;
    pw_err          e;
    int             rv;

    if ((e = hs_read_file(o->tls_cert, &cert, errbuf, errlen)) != PW_OK
        || (e = hs_read_file(o->tls_key, &key, errbuf, errlen)) != PW_OK)
        goto out;
    e = PW_EIO;
    if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0) {
        snprintf(errbuf, errlen, "TLS is not available: %s", nng_strerror(rv));
        goto out;
    }
    if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
        snprintf(errbuf, errlen, "cannot use %s with %s: %s", o->tls_cert, o->tls_key,
                 nng_strerror(rv));
        goto out;
    }
    if ((rv = nng_http_server_set_tls(h->srv, cfg)) != 0) {
        snprintf(errbuf, errlen, "cannot set up HTTPS: %s", nng_strerror(rv));
        goto out;
    }
    e = PW_OK;
out:
    if (cfg != NULL)
        nng_tls_config_free(cfg);       /* the server holds its own reference */
    if (key != NULL)
        explicit_bzero(key, strlen(key));
    free(cert);
    free(key);
    return e;
}

/* "HOST:PORT" -> "http[s]://HOST:PORT"; PW_EINVAL for anything else. */
static pw_err
hs_url(const char *addr, bool tls, char *url, size_t len)
{
    const char *colon = strrchr(addr, ':');
    char       *end;
    long        port;

    if (colon == NULL || colon == addr || colon[1] == '\0' || strlen(addr) > 100)
        return PW_EINVAL;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535 || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return PW_EINVAL;
    /* An IPv6 address must be bracketed, or its colons read as the port's. */
    if (memchr(addr, ':', (size_t) (colon - addr)) != NULL
        && (addr[0] != '[' || colon[-1] != ']'))
        return PW_EINVAL;
    if (strpbrk(addr, "/?#@ ") != NULL)
        return PW_EINVAL;
    snprintf(url, len, "%s://%s", tls ? "https" : "http", addr);
    return PW_OK;
}

pw_err
pw_http_start(const pw_http_opts *o, pw_http **out, char *errbuf, size_t errlen)
{
    pw_http          *h;
    nng_url          *u = NULL;
    nng_http_handler *hd = NULL;
    nng_sockaddr      sa;
    bool              tls = o->tls_cert != NULL || o->tls_key != NULL;
    size_t            workers = o->workers ? o->workers : PW_HTTP_WORKERS;
    int               rv;
    pw_err            e;

    *out = NULL;
    if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
        snprintf(errbuf, errlen, "HTTPS needs both a certificate and a key file");
        return PW_EINVAL;
    }
    if (o->store == NULL || o->sec == NULL) {
        snprintf(errbuf, errlen, "the HTTP API needs the store and the security database");
        return PW_EINVAL;
    }
    if ((h = calloc(1, sizeof *h)) == NULL)
        return PW_ENOMEM;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    pthread_mutex_init(&h->cfg_mu, NULL);
    h->alert_config = pw_alert_config_ref(o->alert_config);
    h->store = o->store;
    h->sec = o->sec;
    h->inv = o->inv;
    h->alerts = o->alerts;
    h->stats = o->stats;
    h->started_ms = o->started_ms ? o->started_ms : pw_now_ms();
    h->max_response = o->max_response ? o->max_response : PW_HTTP_MAX_RESPONSE;
    h->data_dir = o->data_dir;
    h->report_tz = o->report_tz;
    if (o->web_dir != NULL && (h->web_dir = strdup(o->web_dir)) == NULL) {
        e = PW_ENOMEM;
        goto fail;
    }
    h->cap = o->queue ? o->queue : PW_HTTP_QUEUE;
    if ((e = hs_url(o->addr ? o->addr : PW_HTTP_DEFAULT_ADDR, tls, h->url, sizeof h->url)) != PW_OK) {
        snprintf(errbuf, errlen, "--http \"%s\" is not HOST:PORT (127.0.0.1:7480, [::1]:7480)",
                 o->addr ? o->addr : "");
        goto fail;
    }
    e = PW_ENOMEM;
    if ((h->ring = calloc(h->cap, sizeof *h->ring)) == NULL
        || (h->workers = calloc(workers, sizeof *h->workers)) == NULL
        || pw_http_rl_new(PW_HTTP_RATE_SOURCES, PW_HTTP_AUTH_BURST, PW_HTTP_AUTH_REFILL_MS,
                          &h->rl) != PW_OK)
        goto fail;
    e = PW_ENET;
    if ((rv = nng_url_parse(&u, h->url)) != 0 || (rv = nng_http_server_hold(&h->srv, u)) != 0) {
        snprintf(errbuf, errlen, "cannot serve %s: %s", h->url, nng_strerror(rv));
        e = PW_EINVAL;
        goto fail;
    }
    if (tls && (e = hs_tls(h, o, errbuf, errlen)) != PW_OK)
        goto fail;
    e = PW_ENOMEM;
    if ((rv = nng_http_handler_alloc(&hd, "/", hs_on_request)) != 0
        || (rv = nng_http_handler_set_tree(hd)) != 0
        || (rv = nng_http_handler_set_method(hd, NULL)) != 0      /* every method: 405 is ours */
        || (rv = nng_http_handler_collect_body(hd, true, o->max_body ? o->max_body
                                                                      : PW_HTTP_MAX_BODY)) != 0
        || (rv = nng_http_handler_set_data(hd, h, NULL)) != 0
        || (rv = nng_http_server_add_handler(h->srv, hd)) != 0) {
        snprintf(errbuf, errlen, "cannot set up the HTTP handler: %s", nng_strerror(rv));
        if (hd != NULL)
            nng_http_handler_free(hd);
        goto fail;
    }
    for (; h->nworkers < workers; h->nworkers++)
        if (pthread_create(&h->workers[h->nworkers], NULL, hs_worker, h) != 0) {
            snprintf(errbuf, errlen, "cannot start HTTP worker threads");
            goto fail;
        }
    if ((rv = nng_http_server_start(h->srv)) != 0) {
        snprintf(errbuf, errlen, "cannot listen on %s: %s", h->url, nng_strerror(rv));
        e = PW_ENET;
        goto fail;
    }
    h->started = true;
    /* Port 0 asked for any port: say which one. */
    if (nng_http_server_get_addr(h->srv, &sa) == 0) {
        unsigned port = sa.s_family == NNG_AF_INET ? ntohs(sa.s_in.sa_port)
                      : sa.s_family == NNG_AF_INET6 ? ntohs(sa.s_in6.sa_port) : 0;
        char    *colon = strrchr(h->url, ':');

        if (port != 0 && colon != NULL)
            snprintf(colon + 1, sizeof h->url - (size_t) (colon + 1 - h->url), "%u", port);
    }
    nng_url_free(u);
    *out = h;
    return PW_OK;
fail:
    if (u != NULL)
        nng_url_free(u);
    pw_http_stop(h);
    return e;
}

size_t
pw_http_url(const pw_http *h, char *buf, size_t len)
{
    return (size_t) snprintf(buf, len, "%s", h->url);
}

void
pw_http_stop(pw_http *h)
{
    if (h == NULL)
        return;
    atomic_store(&h->stopping, true);
    /*
     * NNG closes every connection and waits for handlers in flight to
     * finish their aio: the workers must still run (queued requests are
     * answered 503 at once, see hs_serve), so they are joined after.
     */
    if (h->srv != NULL) {
        if (h->started)
            nng_http_server_stop(h->srv);
        nng_http_server_release(h->srv);
        h->srv = NULL;
    }
    pthread_mutex_lock(&h->mu);
    h->quit = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < h->nworkers; i++)
        pthread_join(h->workers[i], NULL);
    pw_http_rl_free(h->rl);
    free(h->web_dir);
    free(h->workers);
    free(h->ring);
    pw_alert_config_free(h->alert_config);
    pthread_mutex_destroy(&h->cfg_mu);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void
pw_http_set_alert_config(pw_http *h, pw_alert_config *cfg)
{
    pw_alert_config *old;

    if (h == NULL)
        return;
    pw_alert_config_ref(cfg);
    pthread_mutex_lock(&h->cfg_mu);
    old = h->alert_config;
    h->alert_config = cfg;
    pthread_mutex_unlock(&h->cfg_mu);
    pw_alert_config_free(old);      /* freed here only if no request still holds it */
}

pw_alert_config *
pw_http_alert_config(pw_http_call *c)
{
    pw_alert_config *cfg;

    pthread_mutex_lock(&c->srv->cfg_mu);
    cfg = pw_alert_config_ref(c->srv->alert_config);
    pthread_mutex_unlock(&c->srv->cfg_mu);
    return cfg;
}

/* ---- own counters ---------------------------------------------------------------------------- */

pw_err
pw_http_metrics_text(const pw_http *h, pw_http_buf *b)
{
    pw_http *m = (pw_http *) h;     /* atomics are read through non-const pointers */
    pw_err   e = PW_OK;

    e = pw_http_buf_adds(b, "# HELP poolwatch_http_responses_total HTTP API responses by status class.\n"
                            "# TYPE poolwatch_http_responses_total counter\n");
    for (int i = 1; i < 6 && e == PW_OK; i++)
        e = pw_http_buf_addf(b, "poolwatch_http_responses_total{code=\"%dxx\"} %llu\n", i,
                             (unsigned long long) atomic_load(&m->by_class[i]));
#define HS_COUNTER(name, help, field)                                                            \
    if (e == PW_OK)                                                                              \
        e = pw_http_buf_addf(b, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n", \
                             (unsigned long long) atomic_load(&m->field))
    HS_COUNTER("poolwatch_http_busy_total", "Requests refused with 503: workers and queue full.", busy);
    HS_COUNTER("poolwatch_http_auth_failures_total", "Requests refused with 401.", auth_failed);
    HS_COUNTER("poolwatch_http_denied_total", "Requests refused with 403.", denied);
    HS_COUNTER("poolwatch_http_rate_limited_total", "Requests refused with 429.", rate_limited);
    HS_COUNTER("poolwatch_http_audit_errors_total", "Audit records that could not be written.",
               audit_errors);
#undef HS_COUNTER
    if (e == PW_OK)
        e = pw_http_buf_addf(b, "# HELP poolwatch_http_handle_seconds_total Time workers spent on requests.\n"
                                "# TYPE poolwatch_http_handle_seconds_total counter\n"
                                "poolwatch_http_handle_seconds_total %.6f\n"
                                "# HELP poolwatch_http_requests_in_flight Requests queued or being handled.\n"
                                "# TYPE poolwatch_http_requests_in_flight gauge\n"
                                "poolwatch_http_requests_in_flight %llu\n",
                             (double) atomic_load(&m->handle_us) / 1e6,
                             (unsigned long long) atomic_load(&m->in_flight));
    return e;
}
