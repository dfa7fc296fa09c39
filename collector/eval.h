/*
 * eval.h - range evaluation of a parsed expression (expr.h) over
 * [start, end] every step, with Prometheus semantics. Used by `poolwatch
 * query` and meant for /api/v1/query_range (and /api/v1/query: start ==
 * end) unchanged.
 *
 * Data comes through a source (an ops table below), so the evaluator does
 * not know the store: eval_store.c adapts the store, tests use an array.
 * Results go to a pw_query_sink (query.h), one series at a time, series in
 * canonical-key order, points in time order, only steps with a value.
 *
 * Semantics (Prometheus 3):
 *   - Evaluation times t = start, start + step, ... <= end.
 *   - Instant selector: the latest sample in (t - 5m, t] (lookback, left-open).
 *   - Range selector x[r] at t: the samples in (t - r, t] (left-open).
 *   - rate / increase / delta: Prometheus' extrapolatedRate: counter resets
 *     add the value before the reset; the result is extrapolated to the
 *     window's edges when the first / last sample lies within 1.1 average
 *     sample intervals of them, else by half an interval; a counter is not
 *     extrapolated below zero; rate divides by r. Fewer than 2 samples: no
 *     value. irate: the last two samples (a decrease counts as a reset).
 *   - *_over_time as Prometheus (Kahan-compensated sums, NaN handling of
 *     min/max, quantile with linear interpolation; q < 0 gives -Inf, q > 1
 *     +Inf, NaN q NaN).
 *   - __name__ is dropped by every function but last_over_time, by
 *     aggregations (unless by (__name__)), arithmetic and unary minus; topk
 *     and bottomk keep the input series' labels.
 *   - Aggregations: by (l...) keeps only those labels, without (l...) drops
 *     them and __name__. sum / avg (Kahan; incremental mean on overflow),
 *     min / max (NaN only if all are NaN), count, topk / bottomk (k from the
 *     parameter, truncated; NaN sorts last for both; k < 1 gives nothing).
 *   - vector op scalar applies op to each sample; vector op vector matches
 *     series whose labels but __name__ are equal (one-to-one): a second match
 *     on either side at the same step is an error, as in Prometheus.
 *   - Series that end up with the same labels (after __name__ was dropped)
 *     are merged; if two of them have a value at the same step: "vector
 *     cannot contain metrics with the same labelset" (PW_EINVAL).
 *   - A scalar result is one series with no labels (key "{}") at every step.
 *   - A range vector is not a valid result (PW_EINVAL).
 *
 * Resolution: every selector reads either raw points or one rollup
 * resolution (store.h: pw_res, pw_rollup), chosen by pw_eval_pick_res below
 * unless forced by pw_eval_opts.force_res. A rollup bucket (s, s + w] (left-open
 * like PromQL windows, rollup.h) stands in for
 * its points as one sample at last_ts, the time of its latest point, carrying
 * last, min, max, sum and count; windows select buckets by last_ts exactly as
 * they select points by time. So a window (t - r, t] over rollups covers the
 * buckets whose latest point lies in it: at worst the first bucket reaches up
 * to w before t - r, and a point in the bucket holding t - r, or holding t, may
 * be counted on the wrong side of the edge. For t and r multiples of w (the CLI
 * aligns t for steps dividing a day) the buckets are exactly those inside
 * (t - r, t], holding exactly the window's points, also a point on t - r or t.
 * What each function takes from a bucket:
 *   instant selector    last of the latest bucket with last_ts in
 *                       (t - 5m - w, t]: the lookback grows by w, as the
 *                       bucket holding t is not complete before t
 *   last_over_time      last of the latest bucket (exact at bucket edges)
 *   avg_over_time       sum(sum) / sum(count)    (exact: the mean of the points)
 *   sum_ / count_ / min_ / max_over_time   sum of sums, of counts, min of mins,
 *                       max of maxes (exact over the buckets' points)
 *   rate / increase / delta   extrapolatedRate over the buckets' last values at
 *                       their last_ts; a counter reset is a bucket whose min is
 *                       below the previous bucket's last (this also sees resets
 *                       inside a bucket); then the increase of that bucket is
 *                       counted as its last value, so growth between the
 *                       previous bucket's last and the reset is missed: an
 *                       approximation that undercounts by at most one bucket's
 *                       growth per reset. Extrapolation at the edges works on
 *                       bucket spacing.
 *   irate               the last two buckets' last values (coarse; auto picks
 *                       raw whenever raw data exists)
 *   quantile_over_time  the quantile of the buckets' averages (sum / count):
 *                       over 5m rollups that is "the p95 of 5-minute averages"
 *                       the monthly reports define, over 1h rollups the yearly
 *                       one. Not Prometheus' quantile of samples: documented.
 */
#ifndef PW_EVAL_H
#define PW_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expr.h"
#include "pw_err.h"
#include "query.h"
#include "selector.h"
#include "series.h"
#include "store.h"

/* ---- sources ----------------------------------------------------------- */

/*
 * One matching series: handle is the source's name for it (the store's
 * series id), valid for the source's lifetime; key (keylen bytes, not
 * NUL-terminated) is its canonical key and v its parsed form, both valid
 * only during the call. Return 0 to go on, non-zero to stop.
 */
typedef int (*pw_eval_series_cb)(void *cbctx, uint64_t handle, const char *key, size_t keylen,
                                 const pw_series_view *v);

/*
 * Where data comes from. Each op returns PW_OK also when a callback stopped
 * it (non-zero return), or an error of its own (then last_error may say
 * more). The evaluator calls points and rollups from inside the series
 * callback, so a source must allow that nesting (the store does: one read
 * txn). Callbacks are the store's types (store.h), so the store's calls can
 * be passed straight through.
 */
typedef struct pw_eval_source_ops {
    /* Every series sel matches, each once, in any order. */
    pw_err (*series)(void *ctx, const pw_selector *sel, pw_eval_series_cb cb, void *cbctx);
    /* Raw points of handle with from <= ts <= to, in time order. */
    pw_err (*points)(void *ctx, uint64_t handle, int64_t from, int64_t to, pw_store_point_cb cb,
                     void *cbctx);
    /*
     * Rollup buckets of handle at res (never PW_RES_RAW) with from <= start
     * <= to, in time order. NULL if the source has none: then raw is read
     * always and a forced resolution other than raw is PW_EINVAL.
     */
    pw_err (*rollups)(void *ctx, uint64_t handle, pw_res res, int64_t from, int64_t to,
                      pw_store_rollup_cb cb, void *cbctx);
    /* Sentence for the latest failure of an op into buf (NULL: the code's name is used). */
    size_t (*last_error)(void *ctx, char *buf, size_t len);
} pw_eval_source_ops;

typedef struct pw_eval_source {
    const pw_eval_source_ops *ops;    /* borrowed */
    void                     *ctx;    /* borrowed, passed to every op */
} pw_eval_source;

/*
 * The store as a source (eval_store.c): series by pw_store_series_scan
 * (narrowed to the selector's metric name when it has one) and
 * pw_selector_match, then pw_store_points and pw_store_rollups. Fill a
 * pw_eval_store on the caller's stack with pw_eval_store_source; t (a read
 * txn, borrowed) must outlive every evaluation using *out.
 */
typedef struct pw_eval_store {
    pw_store_txn *t;
    char          err[256];   /* why the latest series scan failed, if not the store */
} pw_eval_store;

void pw_eval_store_source(pw_eval_store *s, pw_store_txn *t, pw_eval_source *out);

/* ---- resolution -------------------------------------------------------- */

/* What a selector's samples are used for: decides which resolutions can serve it. */
typedef enum pw_eval_use {
    PW_EVAL_USE_LATEST,     /* instant selector, last_over_time */
    PW_EVAL_USE_OVER_TIME,  /* avg_, min_, max_, sum_, count_over_time */
    PW_EVAL_USE_COUNTER,    /* rate, increase, delta */
    PW_EVAL_USE_IRATE,      /* irate */
    PW_EVAL_USE_QUANTILE,   /* quantile_over_time */
} pw_eval_use;

/* How long each resolution is kept (store.h), for the default retention table. */
#define PW_EVAL_RETENTION_RAW_MS (INT64_C(35) * 86400000)
#define PW_EVAL_RETENTION_5M_MS  (INT64_C(396) * 86400000)     /* 13 months */
#define PW_EVAL_RETENTION_1H_MS  (INT64_C(1827) * 86400000)    /* 5 years */
#define PW_EVAL_RETENTION_1D_MS  (INT64_C(1827) * 86400000)
/* quantile_over_time reads raw (quantile of samples) for windows up to this long. */
#define PW_EVAL_QUANTILE_RAW_MAX_MS  INT64_C(3600000)
/* ... and otherwise the finest rollup with at most this many buckets per window. */
#define PW_EVAL_QUANTILE_MAX_BUCKETS 10000
/* rate/increase/delta read rollups of width w only for ranges of at least this many w. */
#define PW_EVAL_COUNTER_MIN_BUCKETS  4

/*
 * The resolution a selector reads, as a pure function of its use, the
 * step, its range (lookback for instant selectors), the oldest time it
 * needs (start - range), now, and retention (ms per pw_res, 0 or a NULL
 * array = the defaults above). A resolution "covers" the query if oldest
 * >= now - its retention. Rules:
 *   1. latest / over_time / counter: the coarsest rollup of width w that
 *      covers the query with w <= step, and for over_time w <= range with
 *      range a multiple of w, for counter range >= 4 w; else raw.
 *   2. irate: raw.
 *   3. quantile: raw if raw covers the query and range <= 1h; else the
 *      finest covering rollup with range / w <= 10000 (5m up to ~34 days: a
 *      monthly p95 of 5-minute averages; 1h up to ~416 days: a yearly one).
 *   4. When the choice is raw but raw does not cover the query (older than
 *      35 days), the finest rollup that covers it; if none does, 1d.
 * One resolution serves the whole range of a selector: a range reaching
 * past raw retention reads rollups throughout, also for its recent part.
 */
pw_res pw_eval_pick_res(pw_eval_use use, int64_t step, int64_t range, int64_t oldest, int64_t now,
                        const int64_t *retention);

/*
 * Parses "auto" (*force = false) or "raw", "5m", "1h", "1d" (*force = true,
 * *res that one): pw_eval_opts' force_res and res. PW_EINVAL otherwise.
 */
pw_err pw_eval_res_parse(const char *s, bool *force, pw_res *res);

/* ---- evaluation -------------------------------------------------------- */

/* Defaults for the zero fields of pw_eval_opts. */
#define PW_EVAL_LOOKBACK_MS   INT64_C(300000)
#define PW_EVAL_MAX_STEPS     11000       /* as Prometheus' query_range */
#define PW_EVAL_MAX_SERIES    10000       /* series read from the source, whole query */
#define PW_EVAL_MAX_POINTS    10000000    /* stepped values held at once (~9 bytes each) */
#define PW_EVAL_MAX_WINDOW    1000000     /* samples held for one window of one series */

typedef struct pw_eval_opts {
    int64_t start, end;        /* ms, both inclusive, start <= end */
    int64_t step;              /* ms, > 0 (may be 0 when start == end) */
    int64_t now;               /* ms: the present, for retention (pw_now_ms()) */
    bool    force_res;         /* read res for every selector; false: pw_eval_pick_res */
    pw_res  res;
    int64_t lookback;          /* instant selectors' lookback; 0 = 5m */
    int64_t retention[PW_RES_COUNT_];   /* ms per resolution; 0 = the default */
    /* Limits; 0 = the default. Going past one is PW_ETOOBIG, with a sentence. */
    size_t  max_steps;         /* evaluation times */
    size_t  max_series;        /* series read from the source, over all selectors */
    size_t  max_points;        /* stepped values held at once: series (or groups) x steps */
    size_t  max_window;        /* raw points or buckets held for one window of one series */
} pw_eval_opts;

/* What an evaluation read; for logs, warnings and tests. */
typedef struct pw_eval_stats {
    size_t   series;     /* series read from the source */
    uint64_t samples;    /* raw points and rollup buckets read */
    unsigned res_used;   /* bit 1 << r for every resolution r read */
    size_t   out_series; /* series written to the sink */
    bool     source_failed;  /* the error returned came from the source, not the query */
} pw_eval_stats;

/*
 * Evaluates e over o's range, writing the result to sink (series_begin gets
 * the canonical key - metric{labels}, {labels} without a name, {} for no
 * labels - and a view whose metric is "" without a name; both valid until
 * series_end; the view's buf is NULL). The whole result is held until the
 * end (it is sorted and merged by labels), bounded by o->max_points. stats
 * may be NULL; errbuf (may be NULL) gets a sentence on failure.
 * Returns PW_OK, the first non-OK code of a sink callback, PW_EINVAL (bad
 * opts, a range vector result, an evaluation error such as duplicate
 * labelsets or many-to-many matching), PW_ETOOBIG (a limit), PW_ENOMEM, or a
 * source error. Thread-safe: e is only read.
 */
pw_err pw_eval_range(const pw_expr *e, const pw_eval_opts *o, const pw_eval_source *src,
                     const pw_query_sink *sink, void *sctx, pw_eval_stats *stats,
                     char *errbuf, size_t errlen);

#endif
