/* rollup.c - bucket folding and resolutions; see rollup.h and store.h. */
#include "rollup.h"

#include <math.h>

static const int64_t rollup_width[PW_RES_COUNT_] = { 0, 300000, 3600000, 86400000 };
static const char *const rollup_names[PW_RES_COUNT_] = { "raw", "5m", "1h", "1d" };

int64_t
pw_res_ms(pw_res r)
{
    return (unsigned) r < PW_RES_COUNT_ ? rollup_width[r] : 0;
}

const char *
pw_res_name(pw_res r)
{
    return (unsigned) r < PW_RES_COUNT_ ? rollup_names[r] : "?";
}

int64_t
pw_time_floor(int64_t t, int64_t w)
{
    int64_t q = t / w;

    if (t % w < 0) {
        if (q <= INT64_MIN / w)
            return INT64_MIN;       /* the floor is below what int64 holds: saturate */
        q--;
    }
    return q * w;
}

int64_t
pw_bucket_start(int64_t ts, int64_t w)
{
    /* ts - 1 must not wrap; nothing is stored that early anyway */
    return pw_time_floor(ts == INT64_MIN ? ts : ts - 1, w);
}

void
pw_rollup_fold_init(pw_rollup_fold *f, int64_t width)
{
    f->width = width;
    f->cur.count = 0;
    f->sabs = 0;
}

/*
 * The bucket's sum as the shortest decimal within the summation's error
 * bound (rollup.h). The bound: adding n doubles in order errs by at most
 * (n - 1) u times the sum of their magnitudes (u = 2^-53); twice that is
 * allowed. k / 10^s is an IEEE division, correctly rounded, as the codec
 * computes decimals, so the value found is one the codec stores as a
 * decimal.
 */
static double
rollup_snap_sum(double sum, double sabs, uint64_t n)
{
    double tol = (double) (n - 1) * 0x1p-52 * sabs, p10 = 1;

    if (!isfinite(sum) || !isfinite(tol) || sum == 0)
        return sum;
    for (int s = 0; s <= 15; s++, p10 *= 10) {
        double scaled = sum * p10, k, cand;

        if (fabs(scaled) >= 0x1p53)
            break;
        k = nearbyint(scaled);
        cand = k / p10;
        if (fabs(cand - sum) <= tol)
            return cand == 0 ? 0 : cand;
    }
    return sum;
}

static void
rollup_finish(pw_rollup_fold *f, pw_rollup *done)
{
    *done = f->cur;
    done->sum = rollup_snap_sum(f->cur.sum, f->sabs, f->cur.count);
    f->cur.count = 0;
    f->sabs = 0;
}

bool
pw_rollup_fold_add(pw_rollup_fold *f, int64_t ts, double v, pw_rollup *done)
{
    int64_t start = pw_bucket_start(ts, f->width);
    bool    finished = false;

    if (f->cur.count > 0 && f->cur.start != start) {
        rollup_finish(f, done);
        finished = true;
    }
    if (f->cur.count == 0)
        f->cur = (pw_rollup) { .start = start, .min = v, .max = v };
    if (v < f->cur.min || isnan(f->cur.min))
        f->cur.min = v;
    if (v > f->cur.max || isnan(f->cur.max))
        f->cur.max = v;
    f->cur.sum += v;
    f->sabs += fabs(v);
    f->cur.last = v;
    f->cur.last_ts = ts;
    f->cur.count++;
    return finished;
}

bool
pw_rollup_fold_end(pw_rollup_fold *f, pw_rollup *done)
{
    if (f->cur.count == 0)
        return false;
    rollup_finish(f, done);
    return true;
}

void
pw_rollup_batch_init(pw_rollup_batch *b, unsigned cols, pw_store_rollup_run_cb cb, void *ctx)
{
    b->cols = cols & PW_ROLLUP_ALL;
    b->cb = cb;
    b->ctx = ctx;
    b->n = 0;
    b->stopped = 0;
}

int
pw_rollup_batch_flush(pw_rollup_batch *b)
{
    pw_rollup_run r;
    const double *c[6];

    if (b->n == 0 || b->stopped)
        return b->stopped;
    for (int k = 0; k < 6; k++)
        c[k] = b->cols & (1u << k) ? b->col[k] : NULL;
    r = (pw_rollup_run) { b->n, b->start, c[0], c[1], c[2], c[3], c[4], c[5] };
    b->n = 0;
    b->stopped = b->cb(b->ctx, &r) != 0;
    return b->stopped;
}

int
pw_rollup_batch_add(pw_rollup_batch *b, const pw_rollup *r)
{
    size_t i = b->n;

    if (b->stopped)
        return 1;
    b->start[i] = r->start;
    b->col[0][i] = r->min;
    b->col[1][i] = r->max;
    b->col[2][i] = r->sum;
    b->col[3][i] = r->last;
    b->col[4][i] = (double) r->last_ts;
    b->col[5][i] = (double) r->count;
    if (++b->n == PW_ROLLUP_BATCH)
        return pw_rollup_batch_flush(b);
    return 0;
}

void
pw_rollup_run_bucket(const pw_rollup_run *r, size_t i, pw_rollup *out)
{
    out->start = r->start[i];
    out->min = r->min != NULL ? r->min[i] : 0;
    out->max = r->max != NULL ? r->max[i] : 0;
    out->sum = r->sum != NULL ? r->sum[i] : 0;
    out->last = r->last != NULL ? r->last[i] : 0;
    out->last_ts = r->last_ts != NULL ? (int64_t) r->last_ts[i] : 0;
    out->count = r->count != NULL ? (uint64_t) r->count[i] : 0;
}

void
pw_rollup_mask(pw_rollup *r, unsigned cols)
{
    if (!(cols & PW_ROLLUP_MIN))
        r->min = 0;
    if (!(cols & PW_ROLLUP_MAX))
        r->max = 0;
    if (!(cols & PW_ROLLUP_SUM))
        r->sum = 0;
    if (!(cols & PW_ROLLUP_LAST))
        r->last = 0;
    if (!(cols & PW_ROLLUP_LAST_TS))
        r->last_ts = 0;
    if (!(cols & PW_ROLLUP_COUNT))
        r->count = 0;
}
