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
} pw_rollup_fold;

/* A fold with buckets (s, s + width] of width ms (> 0), s a multiple of width (UTC). */
void pw_rollup_fold_init(pw_rollup_fold *f, int64_t width);

/*
 * Adds a point (ts not before the previous one). Returns true, with the
 * finished bucket in *done, when the point starts a new bucket.
 * NaN never becomes min or max while a number is there.
 */
bool pw_rollup_fold_add(pw_rollup_fold *f, int64_t ts, double v, pw_rollup *done);

/* Returns true with the last, possibly partial, bucket in *done (once). */
bool pw_rollup_fold_end(pw_rollup_fold *f, pw_rollup *done);

/* Sets the fields of r outside cols (PW_ROLLUP_*, store.h) to 0, start kept. */
void pw_rollup_mask(pw_rollup *r, unsigned cols);

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
