/*
 * rollup.h - folding points into time buckets (pw_rollup, see store.h).
 *
 * One fold per series and resolution: feed points in time order, collect
 * each bucket as it completes. Used by the chunk engine to compute the
 * rollups it stores and by the store to compute buckets from raw points
 * (engines without rollups, and the newest buckets of any engine).
 */
#ifndef PW_ROLLUP_H
#define PW_ROLLUP_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

typedef struct pw_rollup_fold {
    int64_t   width;     /* bucket width, ms */
    pw_rollup cur;       /* bucket being filled; cur.count == 0: none */
    double    sabs;      /* sum of |v| of cur's points: bounds the error of cur.sum */
} pw_rollup_fold;

/* A fold with buckets (s, s + width] of width ms (> 0), s a multiple of width (UTC). */
void pw_rollup_fold_init(pw_rollup_fold *f, int64_t width);

/*
 * Adds a point (ts not before the previous one). Returns true, with the
 * finished bucket in *done, when the point starts a new bucket.
 * NaN never becomes min or max while a number is there.
 *
 * A finished bucket's sum is the decimal with the fewest digits (k / 10^s,
 * s <= 15, |k| < 2^53, as the chunk codec's decimal mode has it) within
 * the float summation's error bound ((n - 1) 2^-52 times the sum of |v|,
 * twice the bound proper) of the summed doubles, or the summed doubles
 * when there is none (one point: its value as it is). For points
 * that are decimals (what agents send: ticks / 100, "0.52") that is their
 * exact decimal sum, where adding doubles leaves a tail of rounding bits
 * that no codec compresses (a 5-minute sum cost 5.6 bytes a bucket, the
 * other five columns 1.6 or less); for any other points it is a value the
 * summation could equally have given.
 */
bool pw_rollup_fold_add(pw_rollup_fold *f, int64_t ts, double v, pw_rollup *done);

/* Returns true with the last, possibly partial, bucket in *done (once). */
bool pw_rollup_fold_end(pw_rollup_fold *f, pw_rollup *done);

/* Sets the fields of r outside cols (PW_ROLLUP_*, store.h) to 0, start kept. */
void pw_rollup_mask(pw_rollup *r, unsigned cols);

/*
 * Buckets gathered into runs (pw_rollup_run, store.h) for callers that get
 * them one at a time (buckets folded from raw points): add them in time
 * order, flush at the end. Runs hold up to PW_ROLLUP_BATCH buckets. About
 * 14 KiB: keep one on the stack or in a struct, not per bucket.
 */
#define PW_ROLLUP_BATCH 256

typedef struct pw_rollup_batch {
    unsigned               cols;      /* PW_ROLLUP_*: the columns the runs carry */
    pw_store_rollup_run_cb cb;
    void                  *ctx;
    size_t                 n;
    int                    stopped;   /* cb returned non-zero: later adds do nothing */
    int64_t                start[PW_ROLLUP_BATCH];
    double                 col[6][PW_ROLLUP_BATCH];  /* min, max, sum, last, last_ts, count */
} pw_rollup_batch;

void pw_rollup_batch_init(pw_rollup_batch *b, unsigned cols, pw_store_rollup_run_cb cb, void *ctx);

/* Adds bucket r (after the previous one); hands over a full run. Returns b->stopped. */
int pw_rollup_batch_add(pw_rollup_batch *b, const pw_rollup *r);

/* Hands over what is gathered, if anything. Returns b->stopped. */
int pw_rollup_batch_flush(pw_rollup_batch *b);

/* Bucket i of run r into *out, the columns r lacks 0 (as pw_rollup_mask). */
void pw_rollup_run_bucket(const pw_rollup_run *r, size_t i, pw_rollup *out);

/* floor(t / w) * w for any sign of t. */
int64_t pw_time_floor(int64_t t, int64_t w);

/*
 * Start s of the bucket of width w holding a point at ts. Buckets are
 * left-open, right-closed, (s, s + w], as PromQL windows (t - r, t] are: a
 * point exactly on a multiple of w ends a bucket rather than starting one,
 * so for t and r multiples of w a window's buckets hold exactly its points.
 * The bucket starting at s therefore holds the points s + 1 ... s + w.
 */
int64_t pw_bucket_start(int64_t ts, int64_t w);

#endif
