/*
 * query.h - selector + time range -> a stream of series and their points.
 *
 * The query finds the series a selector matches (a prefix scan of the index
 * when the selector names its metric by equality, else a scan of every
 * series) and streams each one's points with from <= ts <= to through a
 * sink, one series at a time, in series key order. Nothing is buffered: the
 * memory a query needs does not grow with the number of series or points.
 *
 * This is the raw-points stage only. Functions over ranges (rate, increase,
 * *_over_time) and rollups come with the storage-engine work; they belong
 * between the store's point stream and the sink, chosen by a field of
 * pw_query (see `fn`), so callers and sinks stay as they are.
 */
#ifndef PW_QUERY_H
#define PW_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"
#include "selector.h"
#include "series.h"
#include "store.h"

/* What to compute per series. Only raw points for now. */
typedef enum pw_query_fn {
    PW_QUERY_RAW = 0,   /* every stored point in [from, to] */
} pw_query_fn;

typedef struct pw_query {
    const pw_selector *sel;         /* borrowed */
    int64_t            from, to;    /* ms, both inclusive */
    pw_query_fn        fn;
    size_t             max_series;  /* stop with PW_ETOOBIG past this many series; 0 = no limit */
} pw_query;

/*
 * Where results go. Each callback returns PW_OK to go on or any other
 * pw_err to stop the query, which then returns that code. Series without a
 * point in range are not reported at all.
 */
typedef struct pw_query_sink {
    /*
     * A series starts: key is its canonical key (keylen bytes, not
     * NUL-terminated), v its parsed form; both valid until series_end.
     */
    pw_err (*series_begin)(void *ctx, const char *key, size_t keylen, const pw_series_view *v);
    pw_err (*point)(void *ctx, int64_t ts_ms, double value);
    pw_err (*series_end)(void *ctx);
} pw_query_sink;

/*
 * Runs q inside the read (or write) txn t. Returns PW_OK, the first non-OK
 * code of a sink callback, PW_ETOOBIG (max_series passed; errbuf says so),
 * PW_EINVAL (from > to or an unknown fn), or a store error (errbuf gets the
 * store's sentence). errbuf may be NULL.
 */
pw_err pw_query_run(pw_store_txn *t, const pw_query *q, const pw_query_sink *sink, void *ctx,
                    char *errbuf, size_t errlen);

#endif
