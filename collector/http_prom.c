/*
 * http_prom.c - Prometheus' query API: /api/v1/query, /api/v1/query_range,
 * /api/v1/series, /api/v1/labels, /api/v1/label/<name>/values and an empty
 * /api/v1/metadata, with Prometheus' parameters, response shapes, error
 * types and HTTP codes, so Grafana's Prometheus data source works unchanged.
 *
 * Every series comes from the store through the scoped evaluation source
 * (scope.h): this file never sees a series the caller may not, so it has no
 * tenant logic of its own - and must not grow any.
 */
#include "http.h"
#include "sort.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "expr.h"
#include "selector.h"
#include "hash.h"

#define PR_ALL_SERIES "{__name__=~\".+\"}"   /* every series: each has a metric name */

/* ---- reading the store ------------------------------------------------------- */

typedef struct pr_src pr_src;
struct pr_src {
    pw_store_txn        *t;
    pw_eval_store_scoped es;
    pw_eval_source       src;
};

/* Opens a read snapshot and the caller's scoped source; false (answered 503) if it cannot. */
static bool
pr_open(pw_http_call *c, pr_src *s)
{
    char   msg[256] = "";
    pw_err e = pw_store_read_begin(c->store, &s->t);

    if (e != PW_OK) {
        pw_store_last_error(c->store, msg, sizeof msg);
        pw_http_error(c, 503, "unavailable", "cannot read the store (%s): %s", pw_strerror(e), msg);
        return false;
    }
    pw_eval_store_source_scoped(&s->es, s->t, c->scope, &s->src);
    return true;
}

static void
pr_close(pr_src *s)
{
    if (s->t != NULL)
        pw_store_read_end(s->t);
    s->t = NULL;
}

/* ---- result writer (a pw_query_sink) ----------------------------------------------- */

typedef enum pr_kind { PR_MATRIX, PR_VECTOR, PR_SCALAR } pr_kind;

typedef struct pr_out pr_out;
struct pr_out {
    pw_http_call *c;
    pr_kind       kind;
    size_t        nseries;      /* series written (with at least one point) */
    size_t        start;        /* body length before the current series */
    size_t        npoints;      /* points of the current series */
    uint64_t      total;        /* points written, all series */
    uint64_t      max_total;    /* 0: no limit (eval has its own) */
    pw_err        err;          /* why the writer stopped the query */
    bool          have_scalar;
    int64_t       scalar_ts;
    double        scalar_v;
};

static pw_err
pr_fail(pr_out *o, pw_err e)
{
    if (o->err == PW_OK)
        o->err = e;
    return e;
}

/* {"__name__":"m","l":"v",...} as Prometheus' "metric" object. */
static pw_err
pr_labels(pw_http_buf *b, const pw_series_view *v)
{
    json_t *m = json_object();
    pw_err  e = PW_ENOMEM;

    if (m == NULL)
        return PW_ENOMEM;
    if (v->metric != NULL && v->metric[0] != '\0'
        && json_object_set_new(m, "__name__", json_string(v->metric)) != 0) {
        e = PW_EPROTO;
        goto out;
    }
    for (size_t i = 0; i < v->nlabels; i++)
        if (json_object_set_new(m, v->labels[i].name, json_string(v->labels[i].value)) != 0) {
            e = PW_EPROTO;          /* json_string refused a value that is not UTF-8 */
            goto out;
        }
    e = pw_http_buf_json(b, m);
out:
    json_decref(m);
    return e;
}

static pw_err
pr_series_begin(void *ctx, const char *key, size_t keylen, const pw_series_view *v)
{
    pr_out      *o = ctx;
    pw_http_buf *b = &o->c->body;
    pw_err       e;

    (void) key;
    (void) keylen;
    o->npoints = 0;
    if (o->kind == PR_SCALAR)
        return PW_OK;
    o->start = b->len;
    if ((e = pw_http_buf_adds(b, o->nseries > 0 ? ",{\"metric\":" : "{\"metric\":")) != PW_OK
        || (e = pr_labels(b, v)) != PW_OK
        || (e = pw_http_buf_adds(b, o->kind == PR_MATRIX ? ",\"values\":[" : ",\"value\":")) != PW_OK)
        return pr_fail(o, e);
    return PW_OK;
}

static pw_err
pr_point(void *ctx, int64_t ts_ms, double value)
{
    pr_out *o = ctx;
    char    ts[32], val[PW_PROM_VALUE_LEN];
    pw_err  e;

    if (o->max_total > 0 && o->total >= o->max_total)
        return pr_fail(o, PW_ETOOBIG);
    o->total++;
    if (o->kind == PR_SCALAR) {
        o->have_scalar = true;
        o->scalar_ts = ts_ms;
        o->scalar_v = value;
        return PW_OK;
    }
    if (o->kind == PR_VECTOR && o->npoints > 0)
        return PW_OK;               /* one step: cannot happen; keep the shape right anyway */
    pw_prom_ts(ts_ms, ts, sizeof ts);
    pw_prom_value(value, val, sizeof val);
    e = pw_http_buf_addf(&o->c->body, "%s[%s,\"%s\"]", o->npoints > 0 ? "," : "", ts, val);
    if (e != PW_OK)
        return pr_fail(o, e);
    o->npoints++;
    return PW_OK;
}

static pw_err
pr_series_end(void *ctx)
{
    pr_out      *o = ctx;
    pw_http_buf *b = &o->c->body;
    pw_err       e;

    if (o->kind == PR_SCALAR)
        return PW_OK;
    if (o->npoints == 0) {
        /* Prometheus leaves out series without a point; so does the CLI. */
        b->len = o->start;
        if (b->p != NULL)
            b->p[b->len] = '\0';
        return PW_OK;
    }
    if ((e = pw_http_buf_adds(b, o->kind == PR_MATRIX ? "]}" : "}")) != PW_OK)
        return pr_fail(o, e);
    o->nseries++;
    return PW_OK;
}

static const pw_query_sink pr_sink = { pr_series_begin, pr_point, pr_series_end };

/* ---- errors --------------------------------------------------------------------------- */

/* Answers for a failed evaluation, with Prometheus' types and codes. */
static void
pr_eval_failed(pw_http_call *c, const pr_out *o, pw_err e, const pw_eval_stats *st,
               const char *msg)
{
    if (o->err != PW_OK) {
        if (o->err == PW_ETOOBIG)
            pw_http_error(c, 422, "execution", "the result is larger than the response limit "
                          "(%zu MiB); use a larger step, a shorter range or a narrower selector",
                          c->body.max >> 20);
        else if (o->err == PW_EPROTO)
            pw_http_error(c, 500, "internal", "a label value of the result is not valid UTF-8");
        else
            pw_http_error(c, 503, "unavailable", "out of memory");
        return;
    }
    if (st != NULL && st->source_failed) {
        if (e == PW_EAGAIN)
            pw_http_error(c, 503, "unavailable", "the store is busy: %s", msg);
        else
            pw_http_error(c, 500, "internal", "reading the store: %s", msg[0] ? msg : pw_strerror(e));
        return;
    }
    switch (e) {
    case PW_ETOOBIG:
    case PW_EINVAL:
        /* A limit, clashing label sets, many-to-many matching: Prometheus' "execution". */
        pw_http_error(c, 422, "execution", "%s", msg[0] ? msg : pw_strerror(e));
        break;
    case PW_ENOMEM:
        pw_http_error(c, 503, "unavailable", "out of memory");
        break;
    default:
        pw_http_error(c, 500, "internal", "%s", msg[0] ? msg : pw_strerror(e));
        break;
    }
}

/* The "query" parameter, parsed; false when answered (400, 503). */
static bool
pr_parse_query(pw_http_call *c, pw_expr **out)
{
    const char *q = pw_http_get(&c->params, "query");
    char        msg[512] = "";
    pw_err      e;

    *out = NULL;
    if (q == NULL || q[0] == '\0') {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"query\": no expression found in input");
        return false;
    }
    if (strlen(q) > PW_EXPR_MAX_LEN) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"query\": longer than %d bytes",
                      PW_EXPR_MAX_LEN);
        return false;
    }
    if ((e = pw_expr_parse(q, out, NULL, msg, sizeof msg)) != PW_OK) {
        if (e == PW_ENOMEM)
            pw_http_error(c, 503, "unavailable", "out of memory");
        else
            pw_http_error(c, 400, "bad_data", "invalid parameter \"query\": %s", msg);
        return false;
    }
    return true;
}

/* A time parameter; def when absent (def_ok), else required. false when answered. */
static bool
pr_time(pw_http_call *c, const char *name, bool def_ok, int64_t def, int64_t *out)
{
    const char *s = pw_http_get(&c->params, name);

    if (s == NULL || s[0] == '\0') {
        if (def_ok) {
            *out = def;
            return true;
        }
        pw_http_error(c, 400, "bad_data", "invalid parameter \"%s\": cannot parse \"\" to a valid "
                      "timestamp", name);
        return false;
    }
    if (pw_prom_time_parse(s, out) != PW_OK) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"%s\": cannot parse \"%.100s\" to a "
                      "valid timestamp", name, s);
        return false;
    }
    return true;
}

/* ---- /api/v1/query_range ---------------------------------------------------------------- */

void
pw_http_prom_query_range(pw_http_call *c)
{
    pw_expr      *e = NULL;
    pw_eval_opts  opt = { 0 };
    pw_eval_stats st = { 0 };
    pr_src        s = { 0 };
    pr_out        o = { .c = c, .kind = PR_MATRIX };
    const char   *step_s = pw_http_get(&c->params, "step");
    char          msg[512] = "";
    pw_err        err;

    if (!pr_parse_query(c, &e) || !pr_time(c, "start", false, 0, &opt.start)
        || !pr_time(c, "end", false, 0, &opt.end))
        goto out;
    if (opt.end < opt.start) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"end\": end timestamp must not be "
                      "before start time");
        goto out;
    }
    if (step_s == NULL || pw_prom_duration_parse(step_s, &opt.step) != PW_OK) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"step\": cannot parse \"%.100s\" to "
                      "a valid duration", step_s ? step_s : "");
        goto out;
    }
    if (opt.step <= 0) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"step\": zero or negative query "
                      "resolution step widths are not accepted. Try a positive integer");
        goto out;
    }
    /* Prometheus' own guard, before any work; eval would refuse it too. */
    if ((opt.end - opt.start) / opt.step > PW_EVAL_MAX_STEPS) {
        pw_http_error(c, 400, "bad_data", "exceeded maximum resolution of 11,000 points per "
                      "timeseries. Try decreasing the query resolution (?step=XX)");
        goto out;
    }
    if (e->type == PW_TYPE_MATRIX) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"query\": invalid expression type "
                      "\"range vector\" for range query, must be Scalar or instant Vector");
        goto out;
    }
    opt.now = c->now_ms;
    if (!pr_open(c, &s))
        goto out;
    pw_http_buf_reset(&c->body);
    if (pw_http_buf_adds(&c->body, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
                                   "\"result\":[") != PW_OK) {
        pw_http_error(c, 503, "unavailable", "out of memory");
        goto out;
    }
    err = pw_eval_range(e, &opt, &s.src, &pr_sink, &o, &st, msg, sizeof msg);
    if (err == PW_OK && (err = pw_http_buf_adds(&c->body, "]}}")) != PW_OK)
        pr_fail(&o, err);
    if (err != PW_OK)
        pr_eval_failed(c, &o, err, &st, msg);
out:
    pr_close(&s);
    pw_expr_free(e);
}

/* ---- /api/v1/query ----------------------------------------------------------------------- */

typedef struct pr_raw pr_raw;
struct pr_raw {
    pr_out               *o;
    const pw_eval_source *src;
    int64_t               from, to;
    size_t                nseries;
    pw_err                err;       /* the source's, or a limit */
};

static int
pr_raw_point(void *ctx, int64_t ts_ms, double value)
{
    return pr_point(ctx, ts_ms, value) != PW_OK;
}

static int
pr_raw_series(void *ctx, uint64_t handle, const char *key, size_t keylen, const pw_series_view *v)
{
    pr_raw *r = ctx;
    pw_err  e;

    if (++r->nseries > PW_EVAL_MAX_SERIES) {
        r->err = PW_ETOOBIG;
        return 1;
    }
    if (pr_series_begin(r->o, key, keylen, v) != PW_OK)
        return 1;
    if ((e = r->src->ops->points(r->src->ctx, handle, r->from, r->to, pr_raw_point, r->o)) != PW_OK) {
        r->err = e;
        return 1;
    }
    if (r->o->err != PW_OK)
        return 1;
    return pr_series_end(r->o) != PW_OK;
}

/*
 * An instant query of a range selector, x[5m]: Prometheus answers with the
 * raw samples in (t - 5m, t] of every series, as a matrix. Raw points only
 * (past raw retention such a query finds nothing, as in Prometheus).
 */
static void
pr_instant_range(pw_http_call *c, const pw_expr *e, int64_t t, pr_src *s)
{
    pr_out o = { .c = c, .kind = PR_MATRIX, .max_total = PW_EVAL_MAX_POINTS };
    pr_raw r = { .o = &o, .src = &s->src, .from = t - e->range_ms + 1, .to = t };
    pw_err err;
    char   msg[256] = "";

    pw_http_buf_reset(&c->body);
    if (pw_http_buf_adds(&c->body, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
                                   "\"result\":[") != PW_OK) {
        pw_http_error(c, 503, "unavailable", "out of memory");
        return;
    }
    err = s->src.ops->series(s->src.ctx, e->sel, pr_raw_series, &r);
    if (err == PW_OK)
        err = r.err;
    if (err == PW_OK && o.err == PW_OK && (err = pw_http_buf_adds(&c->body, "]}}")) != PW_OK)
        pr_fail(&o, err);
    if (o.err == PW_ETOOBIG && o.total >= o.max_total) {
        pw_http_error(c, 422, "execution", "query processing would load too many samples into "
                      "memory (more than %d); use a shorter range or a narrower selector",
                      PW_EVAL_MAX_POINTS);
    } else if (o.err != PW_OK) {
        pr_eval_failed(c, &o, o.err, NULL, "");
    } else if (err == PW_ETOOBIG) {
        pw_http_error(c, 422, "execution", "the query reads more than %d series; use a narrower "
                      "selector", PW_EVAL_MAX_SERIES);
    } else if (err != PW_OK) {
        s->src.ops->last_error(s->src.ctx, msg, sizeof msg);
        pw_http_error(c, err == PW_EAGAIN ? 503 : 500, err == PW_EAGAIN ? "unavailable" : "internal",
                      "reading the store: %s", msg[0] ? msg : pw_strerror(err));
    }
}

void
pw_http_prom_query(pw_http_call *c)
{
    pw_expr      *e = NULL;
    pw_eval_opts  opt = { 0 };
    pw_eval_stats st = { 0 };
    pr_src        s = { 0 };
    pr_out        o = { .c = c, .kind = PR_VECTOR };
    int64_t       t;
    char          msg[512] = "", ts[32], val[PW_PROM_VALUE_LEN];
    pw_err        err;

    if (!pr_parse_query(c, &e) || !pr_time(c, "time", true, c->now_ms, &t) || !pr_open(c, &s))
        goto out;
    if (e->type == PW_TYPE_MATRIX) {
        if (e->kind == PW_EXPR_RANGE)
            pr_instant_range(c, e, t, &s);
        else
            pw_http_error(c, 400, "bad_data", "invalid parameter \"query\": a range vector here "
                          "is not supported");
        goto out;
    }
    opt.start = opt.end = t;
    opt.now = c->now_ms;
    if (e->type == PW_TYPE_SCALAR)
        o.kind = PR_SCALAR;
    pw_http_buf_reset(&c->body);
    if (o.kind == PR_VECTOR
        && pw_http_buf_adds(&c->body, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                                      "\"result\":[") != PW_OK) {
        pw_http_error(c, 503, "unavailable", "out of memory");
        goto out;
    }
    err = pw_eval_range(e, &opt, &s.src, &pr_sink, &o, &st, msg, sizeof msg);
    if (err == PW_OK && o.kind == PR_VECTOR)
        err = pr_fail(&o, pw_http_buf_adds(&c->body, "]}}"));
    if (err == PW_OK && o.kind == PR_SCALAR) {
        /* A scalar always has its value; NaN if the evaluation gave none. */
        pw_prom_ts(t, ts, sizeof ts);
        pw_prom_value(o.have_scalar ? o.scalar_v : e->number, val, sizeof val);
        err = pr_fail(&o, pw_http_buf_addf(&c->body, "{\"status\":\"success\",\"data\":{"
                                           "\"resultType\":\"scalar\",\"result\":[%s,\"%s\"]}}",
                                           ts, val));
    }
    if (err != PW_OK)
        pr_eval_failed(c, &o, err, &st, msg);
out:
    pr_close(&s);
    pw_expr_free(e);
}

/* ---- listings: series, labels, label values -------------------------------------------------- */

/* A set of strings (dedupe by hash), kept until the answer is written. */
typedef struct pr_strset pr_strset;
struct pr_strset {
    char  **slot;       /* open addressing; NULL = free */
    size_t  cap, n;
};

static uint64_t
pr_hash(const char *s, size_t len)
{
    return pw_fnv1a64(s, len);
}

/* Adds s (len bytes); PW_ETOOBIG past PW_HTTP_MAX_LIST distinct strings. */
static pw_err
pr_strset_add(pr_strset *set, const char *s, size_t len)
{
    size_t i;

    if (set->n * 2 >= set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 256;
        char **slot = calloc(cap, sizeof *slot);

        if (slot == NULL)
            return PW_ENOMEM;
        for (size_t k = 0; k < set->cap; k++) {
            if (set->slot[k] == NULL)
                continue;
            for (i = pr_hash(set->slot[k], strlen(set->slot[k])) & (cap - 1); slot[i] != NULL;
                 i = (i + 1) & (cap - 1))
                ;
            slot[i] = set->slot[k];
        }
        free(set->slot);
        set->slot = slot;
        set->cap = cap;
    }
    for (i = pr_hash(s, len) & (set->cap - 1); set->slot[i] != NULL; i = (i + 1) & (set->cap - 1))
        if (strncmp(set->slot[i], s, len) == 0 && set->slot[i][len] == '\0')
            return PW_OK;
    if (set->n >= PW_HTTP_MAX_LIST)
        return PW_ETOOBIG;
    if ((set->slot[i] = strndup(s, len)) == NULL)
        return PW_ENOMEM;
    set->n++;
    return PW_OK;
}

static int
pr_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The set as a sorted JSON array of strings (NULL on ENOMEM or a value jansson refuses). */
static json_t *
pr_strset_json(pr_strset *set)
{
    json_t *arr = json_array();
    size_t  n = 0;

    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < set->cap; i++)
        if (set->slot[i] != NULL)
            set->slot[n++] = set->slot[i];   /* compact to the front; the set is done */
    for (size_t i = n; i < set->cap; i++)
        set->slot[i] = NULL;                /* each string now lives once, below n */
    pw_qsort(set->slot, n, sizeof *set->slot, pr_strcmp);
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(arr, json_string(set->slot[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

static void
pr_strset_free(pr_strset *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slot[i]);
    free(set->slot);
    memset(set, 0, sizeof *set);
}

typedef enum pr_list_kind { PR_LIST_SERIES, PR_LIST_NAMES, PR_LIST_VALUES } pr_list_kind;

typedef struct pr_list pr_list;
struct pr_list {
    pr_list_kind          kind;
    const char           *label;      /* PR_LIST_VALUES */
    const pw_eval_source *src;
    bool                  ranged;     /* only series with data in [from, to] */
    int64_t               from, to;
    pr_strset             set;        /* keys (SERIES), names or values */
    pw_err                err;
};

static int
pr_found(void *ctx, int64_t ts_ms, double value)
{
    (void) ts_ms;
    (void) value;
    *(bool *) ctx = true;
    return 1;
}

static int
pr_found_rollup(void *ctx, const pw_rollup *r)
{
    (void) r;
    *(bool *) ctx = true;
    return 1;
}

/*
 * Has the series data in [from, to]? Raw points, else daily rollups (raw is
 * deleted only once every rollup exists, so raw + 1d sees all there is; a
 * day bucket that overlaps the range counts, so past raw retention the
 * answer is to the day, as Prometheus' is to its 2 h blocks).
 */
static pw_err
pr_has_data(const pr_list *l, uint64_t handle, bool *found)
{
    pw_err e;

    *found = false;
    if ((e = l->src->ops->points(l->src->ctx, handle, l->from, l->to, pr_found, found)) != PW_OK
        || *found || l->src->ops->rollups == NULL)
        return e;
    return l->src->ops->rollups(l->src->ctx, handle, PW_RES_1D,
                                l->from > INT64_MIN + 86400000 ? l->from - 86400000 + 1 : l->from,
                                l->to, pr_found_rollup, found);
}

static int
pr_list_series(void *ctx, uint64_t handle, const char *key, size_t keylen, const pw_series_view *v)
{
    pr_list *l = ctx;
    bool     found = true;
    pw_err   e = PW_OK;

    if (l->ranged && ((e = pr_has_data(l, handle, &found)) != PW_OK || !found)) {
        l->err = e;
        return e != PW_OK;
    }
    switch (l->kind) {
    case PR_LIST_SERIES:
        e = pr_strset_add(&l->set, key, keylen);
        break;
    case PR_LIST_NAMES:
        if (v->metric[0] != '\0')
            e = pr_strset_add(&l->set, "__name__", 8);
        for (size_t i = 0; i < v->nlabels && e == PW_OK; i++)
            e = pr_strset_add(&l->set, v->labels[i].name, strlen(v->labels[i].name));
        break;
    case PR_LIST_VALUES: {
        const char *val = strcmp(l->label, "__name__") == 0 ? v->metric
                        : pw_series_view_label(v, l->label);

        if (val != NULL && val[0] != '\0')
            e = pr_strset_add(&l->set, val, strlen(val));
        break;
    }
    }
    l->err = e;
    return e != PW_OK;
}

/*
 * Runs the listing over every match[] (or every series without one): the
 * series come through the scoped source, so a tenant lists its own only.
 * false when answered with an error.
 */
static bool
pr_list_run(pw_http_call *c, pr_list *l, bool need_match)
{
    size_t       n = pw_http_param_count(&c->params, "match[]");
    bool         have_start = pw_http_get(&c->params, "start") != NULL;
    bool         have_end = pw_http_get(&c->params, "end") != NULL;
    pr_src       s = { 0 };
    pw_selector *sel = NULL;
    char         msg[512] = "";
    pw_err       e = PW_OK;
    bool         ok = false;

    if (need_match && n == 0) {
        pw_http_error(c, 400, "bad_data", "no match[] parameter provided");
        return false;
    }
    if (!pr_time(c, "start", true, PW_PROM_MIN_TIME_MS, &l->from)
        || !pr_time(c, "end", true, PW_PROM_MAX_TIME_MS, &l->to))
        return false;
    if (l->to < l->from) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"end\": end timestamp must not be "
                      "before start time");
        return false;
    }
    l->ranged = have_start || have_end;
    if (!pr_open(c, &s))
        return false;
    l->src = &s.src;
    for (size_t i = 0; i < (n > 0 ? n : 1); i++) {
        const char *m = n > 0 ? pw_http_param_nth(&c->params, "match[]", i) : PR_ALL_SERIES;

        if ((e = pw_selector_parse(m, &sel, NULL, msg, sizeof msg)) != PW_OK) {
            if (e == PW_ENOMEM)
                pw_http_error(c, 503, "unavailable", "out of memory");
            else
                pw_http_error(c, 400, "bad_data", "invalid parameter \"match[]\": %s", msg);
            goto out;
        }
        e = s.src.ops->series(s.src.ctx, sel, pr_list_series, l);
        pw_selector_free(sel);
        if (e == PW_OK)
            e = l->err;
        if (e != PW_OK)
            break;
    }
    switch (e) {
    case PW_OK:
        ok = true;
        break;
    case PW_ETOOBIG:
        pw_http_error(c, 422, "execution", "more than %d %s match; narrow match[] or the time range",
                      PW_HTTP_MAX_LIST, l->kind == PR_LIST_SERIES ? "series" : "values");
        break;
    case PW_ENOMEM:
        pw_http_error(c, 503, "unavailable", "out of memory");
        break;
    default:
        s.src.ops->last_error(s.src.ctx, msg, sizeof msg);
        pw_http_error(c, e == PW_EAGAIN ? 503 : 500, e == PW_EAGAIN ? "unavailable" : "internal",
                      "reading the store: %s", msg[0] ? msg : pw_strerror(e));
        break;
    }
out:
    pr_close(&s);
    return ok;
}

/* Series keys as Prometheus' label objects, sorted by key. */
static json_t *
pr_series_json(pr_strset *set)
{
    json_t *keys = pr_strset_json(set), *arr = json_array();
    size_t  i;
    json_t *k;

    if (keys == NULL || arr == NULL)
        goto fail;
    json_array_foreach(keys, i, k) {
        pw_series_view v;
        json_t        *m = json_object();
        const char    *key = json_string_value(k);

        if (m == NULL || pw_series_key_parse(key, strlen(key), &v) != PW_OK) {
            json_decref(m);
            goto fail;
        }
        if (v.metric[0] != '\0')
            json_object_set_new(m, "__name__", json_string(v.metric));
        for (size_t l = 0; l < v.nlabels; l++)
            json_object_set_new(m, v.labels[l].name, json_string(v.labels[l].value));
        pw_series_view_free(&v);
        if (json_array_append_new(arr, m) != 0)
            goto fail;
    }
    json_decref(keys);
    return arr;
fail:
    json_decref(keys);
    json_decref(arr);
    return NULL;
}

void
pw_http_prom_series(pw_http_call *c)
{
    pr_list l = { .kind = PR_LIST_SERIES };
    json_t *data;

    if (pr_list_run(c, &l, true)) {
        if ((data = pr_series_json(&l.set)) == NULL)
            pw_http_error(c, 503, "unavailable", "out of memory");
        else
            pw_http_success(c, data);
    }
    pr_strset_free(&l.set);
}

void
pw_http_prom_labels(pw_http_call *c)
{
    pr_list l = { .kind = PR_LIST_NAMES };
    json_t *data;

    if (pr_list_run(c, &l, false)) {
        if ((data = pr_strset_json(&l.set)) == NULL)
            pw_http_error(c, 503, "unavailable", "out of memory");
        else
            pw_http_success(c, data);
    }
    pr_strset_free(&l.set);
}

void
pw_http_prom_label_values(pw_http_call *c)
{
    static const char suffix[] = "/values";
    size_t            n = strlen(c->tail);
    char              name[PW_MAX_LABEL_NAME_LEN + 1];
    pr_list           l = { .kind = PR_LIST_VALUES, .label = name };
    json_t           *data;

    if (n <= sizeof suffix - 1 || strcmp(c->tail + n - (sizeof suffix - 1), suffix) != 0) {
        pw_http_error(c, 404, "not_found", "no such endpoint (/api/v1/label/<name>/values)");
        return;
    }
    n -= sizeof suffix - 1;
    if (n > PW_MAX_LABEL_NAME_LEN || !pw_label_name_valid(c->tail, n)) {
        pw_http_error(c, 400, "bad_data", "invalid label name: \"%.*s\"",
                      (int) (n < 200 ? n : 200), c->tail);
        return;
    }
    memcpy(name, c->tail, n);
    name[n] = '\0';
    pw_http_set_object(c, name);
    if (pr_list_run(c, &l, false)) {
        if ((data = pr_strset_json(&l.set)) == NULL)
            pw_http_error(c, 503, "unavailable", "out of memory");
        else
            pw_http_success(c, data);
    }
    pr_strset_free(&l.set);
}

/* No metric metadata is kept (types, help, units): an empty answer, as Prometheus gives for none. */
void
pw_http_prom_metadata(pw_http_call *c)
{
    json_t *data = json_object();

    if (data == NULL)
        pw_http_error(c, 503, "unavailable", "out of memory");
    else
        pw_http_success(c, data);
}
