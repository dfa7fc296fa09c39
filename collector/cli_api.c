/*
 * cli_api.c - the `poolwatch` read commands against a collector's HTTP API
 * (cli_api.h): one HTTP(S) request per call over NNG's client, the JSON
 * answer (jansson) turned into the callbacks the local readers feed.
 */
#include "cli_api.h"
#include "https_client.h"
#include "sort.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "series.h"

#define API_TOKEN_MAX    4096
/* The server's audit page ceiling (http_audit.c): fewer round trips. */
#define API_AUDIT_PAGE   "10000"
/* Prometheus' earliest time; the server clamps to it, so it means "from the start". */
#define API_MIN_TIME_MS  INT64_C(-62135596800000)

int
pw_cli_local_only(const pw_cli *g, const char *what)
{
    if (g->api_url == NULL)
        return PW_CLI_OK;
    pw_cli_err("%s works on the data directory only: run it on the collector host with "
        "--data DIR, not with --api", what);
    return PW_CLI_USAGE;
}

/* ---- request ------------------------------------------------------------------ */

/* A form body being built (application/x-www-form-urlencoded). */
typedef struct api_form api_form;
struct api_form {
    char  *p;
    size_t len, cap;
    bool   nomem;
};

static void
api_form_raw(api_form *f, const char *s, size_t n)
{
    if (f->nomem)
        return;
    if (f->len + n + 1 > f->cap) {
        size_t cap = (f->len + n + 1) * 2;
        char  *p = realloc(f->p, cap);

        if (p == NULL) {
            f->nomem = true;
            return;
        }
        f->p = p;
        f->cap = cap;
    }
    memcpy(f->p + f->len, s, n);
    f->len += n;
    f->p[f->len] = '\0';
}

/* Appends name=value, the value percent-encoded (all but RFC 3986 unreserved bytes). */
static void
api_form_add(api_form *f, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";

    if (f->len > 0)
        api_form_raw(f, "&", 1);
    api_form_raw(f, name, strlen(name));
    api_form_raw(f, "=", 1);
    for (const unsigned char *s = (const unsigned char *) value; *s; s++) {
        char esc[3] = { '%', hex[*s >> 4], hex[*s & 15] };

        if (isalnum(*s) || strchr("-._~", *s) != NULL)
            api_form_raw(f, (const char *) s, 1);
        else
            api_form_raw(f, esc, 3);
    }
}

/* A time as the API takes it: Unix seconds with milliseconds ("-1.500" for -1500 ms). */
static void
api_secs(int64_t ms, char *buf, size_t len)
{
    uint64_t a = ms < 0 ? (uint64_t) 0 - (uint64_t) ms : (uint64_t) ms;

    snprintf(buf, len, "%s%" PRIu64 ".%03" PRIu64, ms < 0 ? "-" : "", a / 1000, a % 1000);
}

/*
 * The bearer token: --token-file wins over POOLWATCH_TOKEN. Blanks around
 * it (the newline an editor or `echo` adds) are dropped. The token goes into
 * a header line, so control bytes are refused rather than sent.
 */
static int
api_token(const pw_cli *g, char *tok, size_t len)
{
    const char *env = getenv("POOLWATCH_TOKEN");
    size_t      n = 0, b = 0;

    if (g->token_file != NULL) {
        FILE       *f = fopen(g->token_file, "r");
        struct stat st;

        if (f == NULL) {
            pw_cli_err("--token-file %s: %s", g->token_file, strerror(errno));
            return PW_CLI_USAGE;
        }
        /* A token others may read is a leaked token: say so, but it still works. */
        if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH) != 0)
            pw_cli_err("warning: %s is readable by every user (chmod 600 it)", g->token_file);
        n = fread(tok, 1, len - 1, f);
        if (ferror(f) || (n == len - 1 && fgetc(f) != EOF)) {
            pw_cli_err("--token-file %s: %s", g->token_file,
                ferror(f) ? "cannot be read" : "too long to be a token");
            fclose(f);
            return PW_CLI_USAGE;
        }
        fclose(f);
    } else if (env != NULL) {
        if ((n = strlen(env)) >= len) {
            pw_cli_err("POOLWATCH_TOKEN is too long to be a token");
            return PW_CLI_USAGE;
        }
        memcpy(tok, env, n);
    }
    tok[n] = '\0';
    while (n > 0 && isspace((unsigned char) tok[n - 1]))
        tok[--n] = '\0';
    while (isspace((unsigned char) tok[b]))
        b++;
    memmove(tok, tok + b, n - b + 1);
    if (tok[0] == '\0') {
        pw_cli_err("--api needs a token: --token-file FILE (from poolwatch token create on the "
            "collector host) or the environment variable POOLWATCH_TOKEN");
        return PW_CLI_USAGE;
    }
    for (const char *p = tok; *p; p++)
        if (iscntrl((unsigned char) *p) || *p == ' ') {
            pw_cli_err("the token holds blanks or control characters: %s",
                g->token_file != NULL ? g->token_file : "POOLWATCH_TOKEN");
            return PW_CLI_USAGE;
        }
    return PW_CLI_OK;
}

/* Why the connection failed, for people: exit 2 in every case (the collector is not reachable). */
static int
api_conn_failed(const char *url, const char *doing, int rv)
{
    const char *hint = "";

    if (rv == NNG_ECONNREFUSED)
        hint = " (is the collector running, with --http on that address?)";
    else if (rv == NNG_EPEERAUTH || rv == NNG_ECRYPTO)
        hint = " (TLS: is --api-ca the CA that signed the collector's certificate, and does "
            "the URL use a DNS name the certificate holds? IP addresses are not matched)";
    pw_cli_err("%s %s: %s%s", doing, url, nng_strerror(rv), hint);
    return PW_CLI_NODATA;
}

/* String member `name` of j; "" when missing or not a string. */
static const char *
api_str(const json_t *j, const char *name)
{
    const char *s = json_string_value(json_object_get(j, name));

    return s != NULL ? s : "";
}

/* The answer's error text, Prometheus' shape; NULL when it has none. */
static const char *
api_error_text(const json_t *j)
{
    const char *s = json_string_value(json_object_get(j, "error"));

    return s != NULL && s[0] != '\0' ? s : NULL;
}

/* A non-2xx answer as a message and an exit code. */
static int
api_status_failed(const char *what, int status, const char *reason, const json_t *j)
{
    const char *err = api_error_text(j);
    char        text[600];

    snprintf(text, sizeof text, "%s (HTTP %d)", err != NULL ? err : reason, status);
    if (status == 401) {
        pw_cli_err("%s: %s; check --token-file or POOLWATCH_TOKEN", what, text);
        return PW_CLI_USAGE;
    }
    if (status == 403) {
        pw_cli_err("%s: %s; this token's role may not", what, text);
        return PW_CLI_USAGE;
    }
    pw_cli_err("%s: %s", what, text);
    /* 5xx: the collector cannot read its data now - as a data dir that cannot be read. */
    return status >= 500 ? PW_CLI_NODATA : PW_CLI_USAGE;
}

/*
 * One call: `path` ("/api/v1/hosts") with the form as the query string
 * (GET) or the body (POST). On PW_CLI_OK, *data is the answer's "data"
 * (owned by the caller, json_decref). Anything else was printed.
 */
static int
api_call(const pw_cli *g, const char *what, const char *method, const char *path,
         const api_form *form, json_t **data)
{
    nng_url        *u = NULL;
    json_t         *j = NULL;
    json_error_t    jerr;
    pw_http_answer  ans = { .body = NULL };
    char            tok[API_TOKEN_MAX], *url = NULL, *authz = NULL;
    bool            post = strcmp(method, "POST") == 0;
    size_t          blen = strlen(g->api_url), n;
    int             rv, rc;

    *data = NULL;
    if ((rc = api_token(g, tok, sizeof tok)) != PW_CLI_OK)
        return rc;
    rc = PW_CLI_FAIL;
    /* A base URL may carry a path (behind a reverse proxy); one slash between it and ours. */
    while (blen > 0 && g->api_url[blen - 1] == '/')
        blen--;
    n = blen + strlen(path) + (post || form->len == 0 ? 0 : form->len + 1) + 1;
    if ((url = malloc(n)) == NULL || (authz = malloc(strlen(tok) + 8)) == NULL)
        goto nomem;
    snprintf(url, n, "%.*s%s%s%s", (int) blen, g->api_url, path,
        post || form->len == 0 ? "" : "?", post || form->len == 0 ? "" : form->p);
    snprintf(authz, strlen(tok) + 8, "Bearer %s", tok);
    if (nng_url_parse(&u, url) != 0
        || (strcmp(u->u_scheme, "http") != 0 && strcmp(u->u_scheme, "https") != 0)
        || u->u_hostname[0] == '\0') {
        pw_cli_err("--api \"%s\" is not an http:// or https:// URL (http://127.0.0.1:7480)",
            g->api_url);
        rc = PW_CLI_USAGE;
        goto out;
    }
    {
        const char *hdrs[] = { "Authorization", authz, "Accept", "application/json",
                               "Connection", "close",
                               post ? "Content-Type" : NULL, "application/x-www-form-urlencoded", NULL };
        pw_http_request req = {
            .method = method, .url = u, .headers = hdrs,
            .body = post ? form->p : NULL, .body_len = post ? form->len : 0,
            .ca_file = g->api_ca, .connect_ms = PW_CLI_API_CONNECT_MS, .io_ms = PW_CLI_API_IO_MS,
            .read_body = true, .max_body = PW_CLI_API_MAX_RESPONSE,
        };

        rv = pw_http_call(&req, &ans);
    }
    switch (rv == 0 ? PW_HTTP_DONE : ans.stage) {
    case PW_HTTP_DONE:
        break;
    case PW_HTTP_TLS:
        if (ans.bad_ca) {
            pw_cli_err("--api-ca %s: cannot use it as PEM CA certificates: %s",
                g->api_ca != NULL ? g->api_ca : PW_HTTPS_SYSTEM_CA, nng_strerror(rv));
            rc = PW_CLI_USAGE;
        } else {
            pw_cli_err("TLS: %s", nng_strerror(rv));
        }
        goto out;
    case PW_HTTP_CONNECT:
        rc = api_conn_failed(g->api_url, "cannot connect to", rv);
        goto out;
    case PW_HTTP_EXCHANGE:
        rc = api_conn_failed(g->api_url, "no answer from", rv);
        goto out;
    case PW_HTTP_BODY:
        if (rv == NNG_ENOMEM)
            goto nomem;
        rc = api_conn_failed(g->api_url, "reading the answer of", rv);
        goto out;
    case PW_HTTP_LENGTH:
        pw_cli_err("%s: the answer (HTTP %d) has no usable Content-Length; is %s a poolwatch "
            "collector?", what, ans.status, g->api_url);
        goto out;
    case PW_HTTP_TOO_BIG:
        pw_cli_err("%s: the answer is %llu bytes, over the limit of %u MiB: use a larger --step, "
            "a shorter range or a narrower selector", what, ans.declared, PW_CLI_API_MAX_RESPONSE >> 20);
        rc = PW_CLI_USAGE;
        goto out;
    case PW_HTTP_SETUP:
        if (rv == NNG_ENOMEM)
            goto nomem;
        pw_cli_err("%s: %s", what, nng_strerror(rv));
        goto out;
    }
    j = json_loadb(ans.body, ans.len, 0, &jerr);
    if (ans.status < 200 || ans.status > 299) {
        rc = api_status_failed(what, ans.status, ans.reason, j);
        goto out;
    }
    if (j == NULL || !json_is_object(j)
        || strcmp(api_str(j, "status"), "success") != 0
        || json_object_get(j, "data") == NULL) {
        pw_cli_err("%s: the answer is not the API's JSON (%s)", what,
            j == NULL ? jerr.text : "no \"status\":\"success\" and \"data\"");
        goto out;
    }
    *data = json_incref(json_object_get(j, "data"));
    rc = PW_CLI_OK;
    goto out;
nomem:
    pw_cli_err("out of memory");
    rc = PW_CLI_FAIL;
out:
    json_decref(j);
    free(ans.body);
    if (u != NULL)
        nng_url_free(u);
    free(url);
    if (authz != NULL)
        memset(authz, 0, strlen(authz));
    free(authz);
    memset(tok, 0, sizeof tok);
    return rc;
}

/* ---- query ------------------------------------------------------------------ */

/* One series of a matrix answer, with its canonical key for sorting. */
typedef struct api_series api_series;
struct api_series {
    char         *key;
    size_t        keylen;
    char         *metric;        /* "" after functions and aggregations */
    pw_label      labels[PW_MAX_LABELS];   /* point into the answer's JSON */
    size_t        nlabels;
    const json_t *values;
};

static int
api_series_cmp(const void *x, const void *y)
{
    const api_series *a = x, *b = y;

    return strcmp(a->key, b->key);    /* unsigned bytes: the store's key order */
}

/* Fills s from one {"metric":{...},"values":[...]}; PW_EPROTO if it is not that. */
static pw_err
api_series_load(api_series *s, const json_t *elem, char *keybuf, size_t keycap)
{
    const json_t *m = json_object_get(elem, "metric");
    const char   *name = NULL, *k;
    json_t       *v;
    size_t        len;

    s->values = json_object_get(elem, "values");
    if (!json_is_object(m) || !json_is_array(s->values))
        return PW_EPROTO;
    json_object_foreach((json_t *) m, k, v) {
        if (!json_is_string(v))
            return PW_EPROTO;
        if (strcmp(k, "__name__") == 0) {
            name = json_string_value(v);
            continue;
        }
        if (s->nlabels == PW_MAX_LABELS)
            return PW_EPROTO;
        s->labels[s->nlabels++] = (pw_label) { k, json_string_value(v) };
    }
    if (pw_labels_sort(s->labels, s->nlabels) != PW_OK)
        return PW_EPROTO;
    if ((s->metric = strdup(name != NULL ? name : "")) == NULL)
        return PW_ENOMEM;
    /* As the evaluator names a series with neither name nor labels. */
    if (s->metric[0] == '\0' && s->nlabels == 0)
        snprintf(keybuf, keycap, "{}");
    else if (pw_series_key_format(s->metric, s->labels, s->nlabels, keybuf, keycap, NULL) != PW_OK)
        return PW_EPROTO;
    len = strlen(keybuf);
    if ((s->key = malloc(len + 1)) == NULL)
        return PW_ENOMEM;
    memcpy(s->key, keybuf, len + 1);
    s->keylen = len;
    return PW_OK;
}

/* [ts_seconds, "value"] -> ms and the double; false if it is not that. */
static bool
api_point(const json_t *p, int64_t *ts, double *v)
{
    const json_t *t = json_array_get(p, 0);
    const char   *s = json_string_value(json_array_get(p, 1));
    char         *end;

    if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_number(t) || s == NULL)
        return false;
    /* Seconds with at most milliseconds: rounding undoes the binary fraction. */
    *ts = (int64_t) llround(json_number_value(t) * 1000.0);
    *v = strtod(s, &end);           /* also "NaN", "+Inf", "-Inf" */
    return end != s && *end == '\0';
}

/* Feeds the sorted series to the sink; PW_EPROTO for a malformed point. */
static pw_err
api_feed(api_series *ss, size_t n, const pw_query_sink *sink, void *ctx, pw_err *sink_err)
{
    for (size_t i = 0; i < n; i++) {
        pw_series_view v = { .buf = NULL, .metric = ss[i].metric, .nlabels = ss[i].nlabels };
        size_t         np = json_array_size(ss[i].values);
        pw_err         e;

        /* The local readers leave out series without a point in range; so does this. */
        if (np == 0)
            continue;
        memcpy(v.labels, ss[i].labels, ss[i].nlabels * sizeof v.labels[0]);
        if ((e = sink->series_begin(ctx, ss[i].key, ss[i].keylen, &v)) != PW_OK) {
            *sink_err = e;
            return e;
        }
        for (size_t k = 0; k < np; k++) {
            int64_t ts;
            double  val;

            if (!api_point(json_array_get(ss[i].values, k), &ts, &val))
                return PW_EPROTO;
            if ((e = sink->point(ctx, ts, val)) != PW_OK) {
                *sink_err = e;
                return e;
            }
        }
        if ((e = sink->series_end(ctx)) != PW_OK) {
            *sink_err = e;
            return e;
        }
    }
    return PW_OK;
}

int
pw_cli_api_query_run(const pw_cli *g, const pw_cli_api_query *q, const pw_query_sink *sink,
                     void *ctx, pw_err *sink_err)
{
    api_form    form = { 0 };
    json_t     *data = NULL;
    const json_t *result;
    api_series *ss = NULL;
    char       *keybuf = NULL, buf[48], *text = NULL;
    size_t      n = 0, tlen;
    int         rc = PW_CLI_FAIL;
    pw_err      e = PW_OK;

    *sink_err = PW_OK;
    if (q->raw) {
        /*
         * Stored points over the API: the range selector EXPR[r] evaluated at
         * `to` is the raw samples in (to - r, to]; r = to - from + 1 ms makes
         * that [from, to], the local command's range.
         */
        tlen = strlen(q->expr) + 48;
        if ((text = malloc(tlen)) == NULL)
            goto nomem;
        snprintf(text, tlen, "%s[%" PRId64 "ms]", q->expr, q->to - q->from + 1);
        api_form_add(&form, "query", text);
        api_secs(q->to, buf, sizeof buf);
        api_form_add(&form, "time", buf);
    } else {
        api_form_add(&form, "query", q->expr);
        api_secs(q->from, buf, sizeof buf);
        api_form_add(&form, "start", buf);
        api_secs(q->to, buf, sizeof buf);
        api_form_add(&form, "end", buf);
        api_secs(q->step, buf, sizeof buf);
        api_form_add(&form, "step", buf);
    }
    if (form.nomem)
        goto nomem;
    /* POST: the query in the body, no URL length limit to meet. */
    rc = api_call(g, "query", "POST", q->raw ? "/api/v1/query" : "/api/v1/query_range", &form,
        &data);
    if (rc != PW_CLI_OK)
        goto out;
    rc = PW_CLI_FAIL;
    result = json_object_get(data, "result");
    if (strcmp(api_str(data, "resultType"), "matrix") != 0
        || !json_is_array(result)) {
        pw_cli_err("query: the answer is not a matrix of series");
        goto out;
    }
    n = json_array_size(result);
    if ((n > 0 && (ss = calloc(n, sizeof *ss)) == NULL)
        || (keybuf = malloc(PW_MAX_SERIES_KEY_LEN + 1)) == NULL)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        if ((e = api_series_load(&ss[i], json_array_get(result, i), keybuf,
                 PW_MAX_SERIES_KEY_LEN + 1)) != PW_OK)
            break;
    if (e == PW_ENOMEM)
        goto nomem;
    if (e == PW_OK) {
        pw_qsort(ss, n, sizeof *ss, api_series_cmp);
        e = api_feed(ss, n, sink, ctx, sink_err);
    }
    if (*sink_err != PW_OK)
        goto out;                      /* the caller says why */
    if (e != PW_OK) {
        pw_cli_err("query: the answer holds a series or point that is not Prometheus' shape");
        goto out;
    }
    rc = PW_CLI_OK;
    goto out;
nomem:
    pw_cli_err("out of memory");
    rc = PW_CLI_FAIL;
out:
    for (size_t i = 0; ss != NULL && i < n; i++) {
        free(ss[i].key);
        free(ss[i].metric);
    }
    free(ss);
    free(keybuf);
    free(text);
    free(form.p);
    json_decref(data);
    return rc;
}

/* ---- hosts ------------------------------------------------------------------ */

/* Copies a string field into a fixed buffer; false if missing or too long. */
static bool
api_strfield(const json_t *o, const char *name, char *buf, size_t len)
{
    const char *s = json_string_value(json_object_get(o, name));

    if (s == NULL || strlen(s) >= len)
        return false;
    memcpy(buf, s, strlen(s) + 1);
    return true;
}

static bool
api_intfield(const json_t *o, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(o, name);

    if (!json_is_integer(v))
        return false;
    *out = (int64_t) json_integer_value(v);
    return true;
}

static bool
api_boot_id(const json_t *o, uint8_t *id)
{
    const char *s = json_string_value(json_object_get(o, "boot_id"));

    if (s == NULL || strlen(s) != 2 * PW_WIRE_BOOT_ID_LEN)
        return false;
    for (size_t i = 0; i < PW_WIRE_BOOT_ID_LEN; i++) {
        unsigned v;

        if (!isxdigit((unsigned char) s[2 * i]) || !isxdigit((unsigned char) s[2 * i + 1])
            || sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        id[i] = (uint8_t) v;
    }
    return true;
}

int
pw_cli_api_hosts(const pw_cli *g, pw_store_agent_cb cb, void *ctx)
{
    api_form form = { 0 };
    json_t  *data = NULL;
    int      rc = api_call(g, "hosts", "GET", "/api/v1/hosts", &form, &data);

    if (rc != PW_CLI_OK)
        return rc;
    if (!json_is_array(data)) {
        pw_cli_err("hosts: the answer is not a list of agents");
        rc = PW_CLI_FAIL;
    }
    for (size_t i = 0; rc == PW_CLI_OK && i < json_array_size(data); i++) {
        const json_t *o = json_array_get(data, i);
        pw_agent_info a = { 0 };
        int64_t       seq = 0, frames = 0, samples = 0;

        if (!api_strfield(o, "host", a.host, sizeof a.host)
            || !api_strfield(o, "agent_id", a.agent_id, sizeof a.agent_id)
            || !api_strfield(o, "version", a.version, sizeof a.version)
            || !api_intfield(o, "first_seen_ms", &a.first_seen_ms)
            || !api_intfield(o, "last_seen_ms", &a.last_seen_ms)
            || !api_intfield(o, "frames", &frames) || !api_intfield(o, "samples", &samples)
            || !api_intfield(o, "last_seq", &seq) || !api_boot_id(o, a.boot_id)) {
            pw_cli_err("hosts: agent %zu of the answer lacks a field or has a bad one", i + 1);
            rc = PW_CLI_FAIL;
            break;
        }
        a.frames = (uint64_t) frames;
        a.samples = (uint64_t) samples;
        a.last_seq = (uint64_t) seq;
        if (cb(ctx, &a) != 0)
            rc = PW_CLI_FAIL;
    }
    json_decref(data);
    return rc;
}

/* ---- audit ------------------------------------------------------------------ */

/* Role and result come as names; back to the enums the printers take. */
static bool
api_audit_rec(const json_t *o, pw_audit_rec *r)
{
    const char *role = json_string_value(json_object_get(o, "role"));
    const char *result = json_string_value(json_object_get(o, "result"));
    int64_t     seq;
    int         k;

    memset(r, 0, sizeof *r);
    if (role == NULL || result == NULL || !api_intfield(o, "seq", &seq) || seq <= 0
        || !api_intfield(o, "ts_ms", &r->ts_ms)
        || !api_strfield(o, "principal", r->principal, sizeof r->principal)
        || !api_strfield(o, "token_id", r->token_id, sizeof r->token_id)
        || !api_strfield(o, "tenant", r->tenant, sizeof r->tenant)
        || !api_strfield(o, "source", r->source, sizeof r->source)
        || !api_strfield(o, "action", r->action, sizeof r->action)
        || !api_strfield(o, "object", r->object, sizeof r->object)
        || !api_strfield(o, "detail", r->detail, sizeof r->detail))
        return false;
    r->seq = (uint64_t) seq;
    r->role = pw_role_parse(role);
    if (r->role == PW_ROLE_NONE && strcmp(role, pw_role_name(PW_ROLE_NONE)) != 0)
        return false;
    for (k = 0; k < PW_AUDIT_RESULT_COUNT_; k++)
        if (strcmp(result, pw_audit_result_name((pw_audit_result) k)) == 0)
            break;
    r->result = (pw_audit_result) k;
    return k < PW_AUDIT_RESULT_COUNT_;
}

int
pw_cli_api_audit(const pw_cli *g, int64_t from, int64_t to, bool has_to, pw_audit_cb cb,
                 void *ctx)
{
    uint64_t last_seq = 0;
    char     buf[48];
    int      rc = PW_CLI_OK;

    if (from < API_MIN_TIME_MS)
        from = API_MIN_TIME_MS;
    /*
     * The server sends at most a page of records and says when it cut.
     * The next page starts at the last record's time; records already seen
     * there (same millisecond) are skipped by seq.
     */
    for (;;) {
        api_form      form = { 0 };
        json_t       *data = NULL;
        const json_t *recs;
        bool          truncated, fresh = false;

        api_secs(from, buf, sizeof buf);
        api_form_add(&form, "from", buf);
        if (has_to) {
            api_secs(to, buf, sizeof buf);
            api_form_add(&form, "to", buf);
        }
        api_form_add(&form, "limit", API_AUDIT_PAGE);
        if (form.nomem) {
            free(form.p);
            pw_cli_err("out of memory");
            return PW_CLI_FAIL;
        }
        rc = api_call(g, "audit export", "GET", "/api/v1/audit", &form, &data);
        free(form.p);
        if (rc != PW_CLI_OK)
            return rc;
        recs = json_object_get(data, "records");
        truncated = json_is_true(json_object_get(data, "truncated"));
        if (!json_is_array(recs)) {
            pw_cli_err("audit export: the answer has no list of records");
            rc = PW_CLI_FAIL;
        }
        for (size_t i = 0; rc == PW_CLI_OK && i < json_array_size(recs); i++) {
            pw_audit_rec r;

            if (!api_audit_rec(json_array_get(recs, i), &r)) {
                pw_cli_err("audit export: record %zu of the answer lacks a field or has a bad one",
                    i + 1);
                rc = PW_CLI_FAIL;
            } else if (r.seq > last_seq) {
                fresh = true;
                last_seq = r.seq;
                from = r.ts_ms;
                if (cb(ctx, &r) != 0)
                    rc = PW_CLI_FAIL;
            }
        }
        json_decref(data);
        if (rc != PW_CLI_OK || !truncated)
            return rc;
        if (!fresh) {
            /* A whole page in one millisecond: paging by time cannot move on. */
            pw_cli_err("audit export: more than %s records share one millisecond; cannot page "
                "past them over the API (use poolwatch audit export on the collector host)",
                API_AUDIT_PAGE);
            return PW_CLI_FAIL;
        }
    }
}
