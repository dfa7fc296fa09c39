/*
 * eval_store.c - the store as an evaluation source (eval.h).
 *
 * The only file of the evaluator that calls the store, so the parser and
 * the evaluator build and test without it (eval_test.c uses an in-memory
 * source).
 *
 * Every series this source lists passes the scope filter (scope.h) right
 * after the selector: the one place every read path goes through, so a
 * series outside the caller's scope is never handed to an evaluation or a
 * listing. The plain source (the local CLI) has an ALL scope; the HTTP API
 * uses pw_eval_store_source_scoped.
 */
#include "eval.h"

#include <stdio.h>

#include "scope.h"

typedef struct evs_scan evs_scan;
struct evs_scan {
    pw_eval_store     *s;
    const pw_scope    *scope;
    const pw_selector *sel;
    pw_eval_series_cb  cb;
    void              *cbctx;
    pw_err             err;     /* a damaged key stopped the scan */
};

static int
evs_series_one(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    evs_scan      *sc = ctx;
    pw_series_view v;
    pw_err         e;
    int            stop = 0;

    if ((e = pw_series_key_parse(key, keylen, &v)) != PW_OK) {
        snprintf(sc->s->err, sizeof sc->s->err, "series %llu has a damaged key (%s)",
            (unsigned long long) id, pw_strerror(e));
        sc->err = e == PW_ENOMEM ? e : PW_EDB;
        return 1;
    }
    if (pw_selector_match(sc->sel, &v) && pw_scope_allows(sc->scope, &v))
        stop = sc->cb(sc->cbctx, id, key, keylen, &v);
    pw_series_view_free(&v);
    return stop;
}

static pw_err
evs_series_in(pw_eval_store *s, const pw_scope *scope, const pw_selector *sel,
              pw_eval_series_cb cb, void *cbctx)
{
    evs_scan sc = { .s = s, .scope = scope, .sel = sel, .cb = cb, .cbctx = cbctx };
    pw_err   e;

    sc.s->err[0] = '\0';
    /* An equality on the metric name narrows the scan to that name's keys. */
    e = pw_store_series_scan(sc.s->t, pw_selector_metric(sel), evs_series_one, &sc);
    return e != PW_OK ? e : sc.err;
}

/* The local CLI reads the data directory itself: it sees everything. */
static pw_err
evs_series(void *ctx, const pw_selector *sel, pw_eval_series_cb cb, void *cbctx)
{
    pw_scope all;

    pw_scope_all(&all);
    return evs_series_in(ctx, &all, sel, cb, cbctx);
}

static pw_err
evs_series_scoped(void *ctx, const pw_selector *sel, pw_eval_series_cb cb, void *cbctx)
{
    pw_eval_store_scoped *ss = ctx;

    return evs_series_in(&ss->st, ss->scope, sel, cb, cbctx);
}

static pw_err
evs_points(void *ctx, uint64_t handle, int64_t from, int64_t to, pw_store_point_cb cb,
           void *cbctx)
{
    pw_eval_store *s = ctx;

    s->err[0] = '\0';
    return pw_store_points(s->t, handle, from, to, cb, cbctx);
}

static pw_err
evs_rollups(void *ctx, uint64_t handle, pw_res res, int64_t from, int64_t to,
            pw_store_rollup_cb cb, void *cbctx)
{
    pw_eval_store *s = ctx;

    s->err[0] = '\0';
    return pw_store_rollups(s->t, handle, res, from, to, cb, cbctx);
}

static size_t
evs_last_error(void *ctx, char *buf, size_t len)
{
    pw_eval_store *s = ctx;

    if (s->err[0] != '\0')
        return (size_t) snprintf(buf, len, "%s", s->err);
    return pw_store_last_error(pw_store_txn_store(s->t), buf, len);
}

static const pw_eval_source_ops evs_ops = {
    .series = evs_series,
    .points = evs_points,
    .rollups = evs_rollups,
    .last_error = evs_last_error,
};

/* ctx is a pw_eval_store_scoped, whose first member is the pw_eval_store the other ops take. */
static const pw_eval_source_ops evs_scoped_ops = {
    .series = evs_series_scoped,
    .points = evs_points,
    .rollups = evs_rollups,
    .last_error = evs_last_error,
};

void
pw_eval_store_source(pw_eval_store *s, pw_store_txn *t, pw_eval_source *out)
{
    s->t = t;
    s->err[0] = '\0';
    out->ops = &evs_ops;
    out->ctx = s;
}

void
pw_eval_store_source_scoped(pw_eval_store_scoped *s, pw_store_txn *t, const pw_scope *scope,
                            pw_eval_source *out)
{
    s->st.t = t;
    s->st.err[0] = '\0';
    s->scope = scope;
    out->ops = &evs_scoped_ops;
    out->ctx = s;
}
