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
}

bool
pw_rollup_fold_add(pw_rollup_fold *f, int64_t ts, double v, pw_rollup *done)
{
    int64_t start = pw_bucket_start(ts, f->width);
    bool    finished = false;

    if (f->cur.count > 0 && f->cur.start != start) {
        *done = f->cur;
        finished = true;
        f->cur.count = 0;
    }
    if (f->cur.count == 0)
        f->cur = (pw_rollup) { .start = start, .min = v, .max = v };
    if (v < f->cur.min || isnan(f->cur.min))
        f->cur.min = v;
    if (v > f->cur.max || isnan(f->cur.max))
        f->cur.max = v;
    f->cur.sum += v;
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
    *done = f->cur;
    f->cur.count = 0;
    return true;
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
