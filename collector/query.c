/* query.c - selector + range -> series and points; see query.h. */
#include "query.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct query_run query_run;
struct query_run {
    pw_store_txn        *t;
    const pw_query      *q;
    const pw_query_sink *sink;
    void                *sctx;
    /* the series being read */
    const char           *key;
    size_t                keylen;
    const pw_series_view *view;
    bool                  begun;     /* series_begin called for it */
    size_t                nseries;   /* series reported so far */
    pw_err                err;       /* why the scan stopped, PW_OK if it did not */
    char                 *errbuf;
    size_t                errlen;
};

/* The series is only announced with its first point, so empty ones never show. */
static int
query_point(void *ctx, int64_t ts_ms, double value)
{
    query_run *r = ctx;

    if (!r->begun) {
        if (r->q->max_series != 0 && r->nseries == r->q->max_series) {
            snprintf(r->errbuf, r->errlen, "the selector matches more than %zu series with data",
                r->q->max_series);
            r->err = PW_ETOOBIG;
            return 1;
        }
        r->nseries++;
        r->begun = true;
        if ((r->err = r->sink->series_begin(r->sctx, r->key, r->keylen, r->view)) != PW_OK)
            return 1;
    }
    /* Later functions (rate, rollups) would transform the stream here, per r->q->fn. */
    r->err = r->sink->point(r->sctx, ts_ms, value);
    return r->err != PW_OK;
}

static int
query_series(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    query_run     *r = ctx;
    pw_series_view v;
    pw_err         e;

    if ((e = pw_series_key_parse(key, keylen, &v)) != PW_OK) {
        snprintf(r->errbuf, r->errlen, "series %llu has a damaged key (%s)",
            (unsigned long long) id, pw_strerror(e));
        r->err = e == PW_ENOMEM ? e : PW_EDB;
        return 1;
    }
    if (pw_selector_match(r->q->sel, &v)) {
        r->key = key;
        r->keylen = keylen;
        r->view = &v;
        r->begun = false;
        e = pw_store_points(r->t, id, r->q->from, r->q->to, query_point, r);
        if (e != PW_OK && r->err == PW_OK) {
            pw_store_last_error(pw_store_txn_store(r->t), r->errbuf, r->errlen);
            r->err = e;
        }
        if (r->err == PW_OK && r->begun)
            r->err = r->sink->series_end(r->sctx);
        r->view = NULL;
    }
    pw_series_view_free(&v);
    return r->err != PW_OK;
}

pw_err
pw_query_run(pw_store_txn *t, const pw_query *q, const pw_query_sink *sink, void *ctx,
             char *errbuf, size_t errlen)
{
    char      scratch[1];
    query_run r = { .t = t, .q = q, .sink = sink, .sctx = ctx, .errbuf = errbuf, .errlen = errlen };
    pw_err    e;

    if (errbuf == NULL || errlen == 0) {
        r.errbuf = scratch;
        r.errlen = sizeof scratch;
    }
    r.errbuf[0] = '\0';
    if (q->fn != PW_QUERY_RAW) {
        snprintf(r.errbuf, r.errlen, "unknown query function %d", (int) q->fn);
        return PW_EINVAL;
    }
    if (q->from > q->to) {
        snprintf(r.errbuf, r.errlen, "the range starts after it ends");
        return PW_EINVAL;
    }
    /* An equality on the metric name narrows the scan to that name's keys. */
    e = pw_store_series_scan(t, pw_selector_metric(q->sel), query_series, &r);
    if (e != PW_OK) {
        pw_store_last_error(pw_store_txn_store(t), r.errbuf, r.errlen);
        return e;
    }
    return r.err;
}
