/*
 * chunk.c - the compressed chunk codec behind chunk.h.
 *
 * The byte layout and every bit code are specified in collector/README.md,
 * "Chunk format"; this file is the only one that knows them. In short:
 *
 *   header   version, flags, count, first ts, last ts - first ts (varints)
 *   stream   point 0: its value; then per point a ts delta-of-delta and a
 *            value code, except that a run of points that are exactly
 *            what the coder predicts (same interval, value as predicted:
 *            constants, steady counters) is one token for the whole run
 *   trailer  (open form only) the coder state, so append needs no decoding
 *
 * The encoder and the decoder keep the same pw_chunk_state_ and change it
 * with the same helpers (chunk_step_*), so that they cannot drift apart.
 */
#include "chunk.h"

#include <float.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Decimal mode stores k and decodes k / 10^scale; the chunk may be decoded
 * on another machine than the one that verified that division, so both must
 * round it the IEEE way. x87 excess precision would not (FLT_EVAL_METHOD 2).
 */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "chunk.c needs FLT_EVAL_METHOD == 0 (SSE2 or any plain IEEE 754 double unit)"
#endif

/*
 * The decoder's small steps, inlined into its loop whatever the compiler
 * would judge alone: decoding is what reports over months of buckets spend
 * their time on, and a call per bit field costs more than the field.
 */
#define CHUNK_HOT static inline __attribute__((always_inline))

#define CHUNK_FLAG_OPEN   0x01u
#define CHUNK_MAX_SCALE   15u                   /* 10^15 is exact; fits 4 bits */
#define CHUNK_INT_LIMIT   (INT64_C(1) << 53)    /* |k| below this: exact in a double */
#define CHUNK_HDR_MAX     24u                   /* 2 + count 2 + first ts 10 + span 10 */
#define CHUNK_TRAILER_MAX 48u                   /* 10 + 8 + 4 + 8 + 8 + run 2 + 1, rounded up */
/*
 * Stream bytes one append may add: a pending run's token (2 + 27 bits),
 * the ts code (6 + 64) and the value code (at most 4 + 12 + 64), from
 * mid-byte: 186 bits.
 */
#define CHUNK_POINT_MAX   32u

/*
 * Integer codes: a unary bucket number (i ones, then a zero unless i is the
 * last bucket), then the number in the bucket's width as two's complement.
 * Timestamps: a regular interval is dod 0 (one bit); +-1 ms of jitter 4
 * bits; a missed 10 s scrape or the first delta of a 10 s series 20 bits.
 */
static const uint8_t chunk_ts_widths[] = { 0, 2, 5, 9, 15, 24, 64 };
#define CHUNK_NTS (sizeof chunk_ts_widths / sizeof chunk_ts_widths[0])

/* Bit length of a decimal-mode residual's magnitude - 1: |resid| <= 2^55. */
#define CHUNK_RESID_BITS 55u

static const double chunk_pow10[CHUNK_MAX_SCALE + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
};

/* ---- small conversions --------------------------------------------------- */

static uint64_t
chunk_bits(double v)
{
    uint64_t b;

    memcpy(&b, &v, sizeof b);
    return b;
}

CHUNK_HOT double
chunk_dbl(uint64_t b)
{
    double v;

    memcpy(&v, &b, sizeof v);
    return v;
}

/* Two's complement without implementation-defined conversions. */
CHUNK_HOT int64_t
chunk_i64(uint64_t u)
{
    return u <= (uint64_t) INT64_MAX ? (int64_t) u : -(int64_t) (~u) - 1;
}

static uint64_t
chunk_mask(unsigned n)
{
    return n >= 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1;
}

/* k / 10^scale, correctly rounded: the same bits on every IEEE machine. */
CHUNK_HOT uint64_t
chunk_dec_bits(int64_t k, unsigned scale)
{
    /* scale 0 (integers): the division by 1 is exact, skip it */
    return chunk_bits(scale == 0 ? (double) k : (double) k / chunk_pow10[scale]);
}

/*
 * True, with *k, when bits is exactly k / 10^scale for some |k| < 2^53. The
 * candidate k comes from a rounded multiplication and is only a guess; the
 * division decides, so a wrong guess costs compression, never correctness.
 */
static bool
chunk_decimal(uint64_t bits, unsigned scale, int64_t *k)
{
    double  x = chunk_dbl(bits) * chunk_pow10[scale];
    int64_t kk;

    if (!(x > -0x1p53 && x < 0x1p53))       /* also NaN and the infinities */
        return false;
    kk = (int64_t) (x < 0 ? x - 0.5 : x + 0.5);
    if (kk <= -CHUNK_INT_LIMIT || kk >= CHUNK_INT_LIMIT || chunk_dec_bits(kk, scale) != bits)
        return false;
    *k = kk;
    return true;
}

/* The smallest scale at which bits is decimal, or -1. -0.0 never is. */
static int
chunk_min_scale(uint64_t bits, int64_t *k)
{
    for (unsigned s = 0; s <= CHUNK_MAX_SCALE; s++)
        if (chunk_decimal(bits, s, k))
            return (int) s;
    return -1;
}

/* ---- varints (header and trailer) ---------------------------------------- */

static size_t
chunk_uvarint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t) v;
    return n;
}

/* Reads a varint at p[*pos], bounded by len; -1 if cut short or over 64 bits. */
static int
chunk_uvarint_get(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t r = 0;

    for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = p[(*pos)++];
        if (shift == 63 && b > 1)
            return -1;
        r |= (uint64_t) (b & 0x7f) << shift;
        if (b < 0x80) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

static uint64_t
chunk_zigzag(int64_t v)
{
    return ((uint64_t) v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

static int64_t
chunk_unzigzag(uint64_t u)
{
    return chunk_i64((u >> 1) ^ (0 - (u & 1)));
}

/* ---- bit writer and reader (most significant bit first) ------------------ */

typedef struct chunk_bw chunk_bw;
struct chunk_bw {
    uint8_t *buf;       /* bytes past pos are zero: bits are OR'ed in */
    uint64_t pos;       /* bits written */
};

/* Writes the low n (<= 64) bits of v. */
static void
chunk_put(chunk_bw *w, uint64_t v, unsigned n)
{
    while (n > 0) {
        unsigned room = 8 - (unsigned) (w->pos & 7);
        unsigned take = n < room ? n : room;

        w->buf[w->pos >> 3] |= (uint8_t) (((v >> (n - take)) & chunk_mask(take)) << (room - take));
        w->pos += take;
        n -= take;
    }
}

typedef struct chunk_br chunk_br;
struct chunk_br {
    const uint8_t *buf;
    uint64_t       pos, end;    /* bits; pos <= end always */
};

/* 8 bytes big-endian (one load and a byte swap, as compilers see it). */
CHUNK_HOT uint64_t
chunk_load_aligned(const uint8_t *p)
{
    return (uint64_t) p[0] << 56 | (uint64_t) p[1] << 48 | (uint64_t) p[2] << 40 | (uint64_t) p[3] << 32
           | (uint64_t) p[4] << 24 | (uint64_t) p[5] << 16 | (uint64_t) p[6] << 8 | p[7];
}

/* 64 bits from bit sh (< 8) of p[0]: 9 bytes are read when sh != 0. */
CHUNK_HOT uint64_t
chunk_load(const uint8_t *p, unsigned sh)
{
    uint64_t w = chunk_load_aligned(p);

    return sh != 0 ? w << sh | p[8] >> (8 - sh) : w;
}

/*
 * The stream's last bytes: the 8 that end it, shifted (what lies past the
 * end shifts in as zeros); a stream under 8 bytes is copied and padded.
 */
static __attribute__((noinline)) uint64_t
chunk_peek_tail(const chunk_br *r)
{
    uint64_t byte = r->pos >> 3, nbytes = (r->end + 7) >> 3;
    uint8_t  tail[9] = { 0 };

    if (byte >= nbytes)
        return 0;
    if (nbytes >= 8 && byte >= nbytes - 8) {
        uint64_t rel = r->pos - (nbytes - 8) * 8;        /* < 64 */

        return chunk_load_aligned(r->buf + nbytes - 8) << rel;
    }
    for (uint64_t i = 0; byte + i < nbytes; i++)
        tail[i] = r->buf[byte + i];
    return chunk_load(tail, (unsigned) (r->pos & 7));
}

/*
 * The next 64 bits of the stream from pos, most significant first, with
 * every bit at or past end read as 0; one load instead of a loop per bit
 * (decoding is what queries over months spend their time on). Bytes past
 * the stream's last one are never read.
 */
CHUNK_HOT uint64_t
chunk_peek(const chunk_br *r)
{
    uint64_t avail = r->end - r->pos, w;

    if ((r->pos >> 3) + 9 <= (r->end + 7) >> 3)
        w = chunk_load(r->buf + (r->pos >> 3), (unsigned) (r->pos & 7));
    else
        w = chunk_peek_tail(r);
    if (avail < 64)
        w &= avail == 0 ? 0 : ~(UINT64_MAX >> avail);
    return w;
}

/* Reads n (<= 64) bits into *v; -1 past the end of the stream. */
CHUNK_HOT int
chunk_get(chunk_br *r, unsigned n, uint64_t *v)
{
    if (n > r->end - r->pos)
        return -1;
    *v = n == 0 ? 0 : chunk_peek(r) >> (64 - n);
    r->pos += n;
    return 0;
}

/* Reads up to max (< 64) one-bits, stopping after a zero; -1 past the end. */
CHUNK_HOT int
chunk_get_ones(chunk_br *r, unsigned max, unsigned *ones)
{
    uint64_t avail = r->end - r->pos, w = ~chunk_peek(r);
    unsigned n = w == 0 ? 64 : (unsigned) __builtin_clzll(w);

    if (n >= max) {
        if (avail < max)
            return -1;
        *ones = max;
        r->pos += max;
        return 0;
    }
    if (n >= avail)             /* the zero would lie past the end */
        return -1;
    *ones = n;
    r->pos += n + 1;
    return 0;
}

static bool
chunk_fits(int64_t v, unsigned width)
{
    if (width >= 64)
        return true;
    if (width == 0)
        return v == 0;
    return v >= -(INT64_C(1) << (width - 1)) && v < (INT64_C(1) << (width - 1));
}

/* A timestamp delta of delta; the last bucket, 64 bits, takes any. */
static void
chunk_put_dod(chunk_bw *w, int64_t v)
{
    unsigned i = 0;

    while (i + 1 < CHUNK_NTS && !chunk_fits(v, chunk_ts_widths[i]))
        i++;
    if (i + 1 < CHUNK_NTS)
        chunk_put(w, chunk_mask(i) << 1, i + 1);    /* i ones and a zero */
    else
        chunk_put(w, chunk_mask(i), i);
    chunk_put(w, (uint64_t) v & chunk_mask(chunk_ts_widths[i]), chunk_ts_widths[i]);
}

CHUNK_HOT int
chunk_get_dod(chunk_br *r, int64_t *v)
{
    unsigned i, width;
    uint64_t u;

    /* A regular interval, nearly every point: one 0 bit, no peek. */
    if (r->pos < r->end && !((r->buf[r->pos >> 3] >> (7 - (r->pos & 7))) & 1)) {
        r->pos++;
        *v = 0;
        return 0;
    }
    if (chunk_get_ones(r, CHUNK_NTS - 1, &i) != 0)
        return -1;
    width = chunk_ts_widths[i];
    if (chunk_get(r, width, &u) != 0)
        return -1;
    if (width > 0 && width < 64)                    /* sign-extend */
        u = (u ^ (UINT64_C(1) << (width - 1))) - (UINT64_C(1) << (width - 1));
    *v = chunk_i64(u);
    return 0;
}

static unsigned
chunk_bitlen(uint64_t u)
{
    return u ? 64 - (unsigned) __builtin_clzll(u) : 0;
}

/*
 * Elias gamma, for small numbers of unknown size: n >= 1 as (bit length of
 * n) - 1 zeros, then n in binary. 1 is "1", 2 and 3 are "01x". A run of 719
 * points (a constant over 2 h at 10 s) is 19 bits.
 */
static void
chunk_put_gamma(chunk_bw *w, uint32_t n)
{
    unsigned nb = chunk_bitlen(n);

    chunk_put(w, 0, nb - 1);
    chunk_put(w, n, nb);
}

static unsigned
chunk_gamma_bits(uint32_t n)
{
    return 2 * chunk_bitlen(n) - 1;
}

/* Callers check the range of *n; this only keeps it within 32 bits. */
CHUNK_HOT int
chunk_get_gamma(chunk_br *r, uint32_t *n)
{
    uint64_t w = chunk_peek(r), rest;
    unsigned zeros = w == 0 ? 64 : (unsigned) __builtin_clzll(w);

    /* the one ending the zeros must lie inside the stream (bits past it read as 0) */
    if (zeros >= 32 || zeros >= r->end - r->pos)
        return -1;
    r->pos += zeros + 1;
    if (chunk_get(r, zeros, &rest) != 0)
        return -1;
    *n = (uint32_t) (UINT64_C(1) << zeros | rest);
    return 0;
}

/*
 * Decimal mode's integers, sign and magnitude with the magnitude's bit
 * length nb in front (its top bit then goes without saying):
 *   residual (never 0)  gamma(zigzag(nb - last nb) + 1), the low nb - 1
 *                       bits of |r| - 1, sign (1: negative)
 *   absolute k          gamma(nb + 1), the low nb - 1 bits of |k|, sign if k != 0
 * Residuals of a series tend to keep their size, so a length relative to
 * the last one costs 1 bit while it stays and 3 when it moves by one: on
 * counters and gauges 10-20% less than a fixed bucket ladder like the
 * timestamps' (measured), whose bucket prefix and unused width cost more.
 */
static uint32_t
chunk_zigzag32(int v)
{
    return v < 0 ? (uint32_t) (-2 * v - 1) : (uint32_t) (2 * v);
}

static void
chunk_put_resid(chunk_bw *w, pw_chunk_state_ *st, int64_t r)
{
    uint64_t u = (uint64_t) (r < 0 ? -r : r) - 1;
    unsigned nb = chunk_bitlen(u);

    chunk_put_gamma(w, chunk_zigzag32((int) nb - st->rbits) + 1);
    if (nb > 1)
        chunk_put(w, u, nb - 1);
    chunk_put(w, r < 0, 1);
    st->rbits = (uint8_t) nb;
}

CHUNK_HOT int
chunk_get_resid(chunk_br *r, pw_chunk_state_ *st, int64_t *res)
{
    uint32_t z;
    uint64_t u = 0, neg, w = chunk_peek(r), avail = r->end - r->pos;
    unsigned zeros = w == 0 ? 64 : (unsigned) __builtin_clzll(w);
    int      nb;

    /* The whole code in the 64 bits at hand (nearly always): parsed from them at once. */
    if (zeros < 32 && 2 * zeros + 1 <= avail) {
        unsigned glen = 2 * zeros + 1, need;
        uint64_t rest = w << glen;                  /* glen <= 63 */

        z = (uint32_t) (w >> (64 - glen));          /* the gamma code is the number itself */
        if (z > 2 * CHUNK_RESID_BITS + 1)
            return -1;
        z--;
        nb = st->rbits + (z & 1 ? -(int) (z / 2) - 1 : (int) (z / 2));
        if (nb < 0 || nb > (int) CHUNK_RESID_BITS)
            return -1;
        need = glen + (nb > 1 ? (unsigned) nb - 1 : 0) + 1;
        if (need <= 64 && need <= avail) {
            if (nb > 1) {
                u = rest >> (64 - (nb - 1));
                rest <<= nb - 1;
            }
            if (nb > 0)
                u |= UINT64_C(1) << (nb - 1);
            neg = rest >> 63;
            r->pos += need;
            st->rbits = (uint8_t) nb;
            *res = neg ? -(int64_t) u - 1 : (int64_t) u + 1;
            return 0;
        }
    }
    if (chunk_get_gamma(r, &z) != 0 || z > 2 * CHUNK_RESID_BITS + 1)
        return -1;
    z--;
    nb = st->rbits + (z & 1 ? -(int) (z / 2) - 1 : (int) (z / 2));
    if (nb < 0 || nb > (int) CHUNK_RESID_BITS)
        return -1;
    if (nb > 1 && chunk_get(r, (unsigned) nb - 1, &u) != 0)
        return -1;
    if (nb > 0)
        u |= UINT64_C(1) << (nb - 1);
    if (chunk_get(r, 1, &neg) != 0)
        return -1;
    st->rbits = (uint8_t) nb;
    *res = neg ? -(int64_t) u - 1 : (int64_t) u + 1;
    return 0;
}

/* |k| < 2^53 */
static void
chunk_put_k(chunk_bw *w, int64_t k)
{
    uint64_t u = (uint64_t) (k < 0 ? -k : k);
    unsigned nb = chunk_bitlen(u);

    chunk_put_gamma(w, nb + 1);
    if (nb > 1)
        chunk_put(w, u, nb - 1);
    if (nb > 0)
        chunk_put(w, k < 0, 1);
}

static unsigned
chunk_k_bits(int64_t k)
{
    unsigned nb = chunk_bitlen((uint64_t) (k < 0 ? -k : k));

    return chunk_gamma_bits(nb + 1) + (nb > 0 ? nb : 0);
}

CHUNK_HOT int
chunk_get_k(chunk_br *r, int64_t *k)
{
    uint32_t nb;
    uint64_t u = 0, neg = 0;

    if (chunk_get_gamma(r, &nb) != 0 || --nb > 53)
        return -1;
    if (nb > 1 && chunk_get(r, nb - 1, &u) != 0)
        return -1;
    if (nb > 0) {
        u |= UINT64_C(1) << (nb - 1);
        if (chunk_get(r, 1, &neg) != 0)
            return -1;
    }
    *k = neg ? -(int64_t) u : (int64_t) u;
    return 0;
}

/* ---- coder state transitions (shared by encoder and decoder) ------------- */

static void
chunk_state_init(pw_chunk_state_ *st, int64_t ts)
{
    /* The value "before" the first is 0 in decimal mode at scale 0, so the
     * first point needs no special code: an integer starts as a plain step. */
    memset(st, 0, sizeof *st);
    st->ts = ts;
    st->dec = 1;
}

/* Next point's delta of delta; -1 unless time strictly increases. */
CHUNK_HOT int
chunk_step_ts(pw_chunk_state_ *st, int64_t dod)
{
    uint64_t delta = st->delta + (uint64_t) dod;
    int64_t  ts = chunk_i64((uint64_t) st->ts + delta);

    if (ts <= st->ts)       /* also a sum past INT64_MAX, which wraps */
        return -1;
    st->ts = ts;
    st->delta = delta;
    return 0;
}

/* The k decimal mode predicts: the last one plus, in a trend, the last step. */
CHUNK_HOT int64_t
chunk_predict_k(const pw_chunk_state_ *st)
{
    /* |k| < 2^53 and |kdelta| < 2^54: no overflow. */
    return st->k + (st->trend ? st->kdelta : 0);
}

/*
 * Decimal mode: k moves to the prediction plus resid. The next prediction
 * follows the trend (repeats this step) only if that would have predicted
 * this point better than no step at all: a steady counter keeps its rate,
 * while a gauge or a counter that moves now and then predicts "unchanged"
 * right after a move instead of paying for the move twice.
 * -1 if k leaves +-2^53.
 */
CHUNK_HOT int
chunk_step_dec(pw_chunk_state_ *st, int64_t resid)
{
    /* |resid| <= 2^55 (its length is at most 55 bits): no overflow either. */
    int64_t k = chunk_predict_k(st) + resid, step, miss;

    if (k <= -CHUNK_INT_LIMIT || k >= CHUNK_INT_LIMIT)
        return -1;
    step = k - st->k;
    miss = step - st->kdelta;
    st->trend = (miss < 0 ? -miss : miss) < (step < 0 ? -step : step);
    st->kdelta = step;
    /* vbits is always k / 10^scale in decimal mode: an unchanged k keeps it (runs of constants) */
    if (k != st->k)
        st->vbits = chunk_dec_bits(k, st->scale);
    st->k = k;
    return 0;
}

/* Enters decimal mode at scale with value k; no trend yet. */
CHUNK_HOT int
chunk_step_abs(pw_chunk_state_ *st, unsigned scale, int64_t k)
{
    if (k <= -CHUNK_INT_LIMIT || k >= CHUNK_INT_LIMIT)
        return -1;
    st->dec = 1;
    st->scale = (uint8_t) scale;
    st->k = k;
    st->kdelta = 0;
    st->trend = 0;
    st->vbits = chunk_dec_bits(k, scale);
    return 0;
}

/* Leaves decimal mode (if in it): the value is the last one XOR x. */
CHUNK_HOT void
chunk_step_xor(pw_chunk_state_ *st, uint64_t x)
{
    st->dec = 0;
    st->trend = 0;
    st->k = 0;
    st->kdelta = 0;
    st->vbits ^= x;
}

/* One point of a run: the same interval, the predicted value. */
CHUNK_HOT int
chunk_step_predicted(pw_chunk_state_ *st)
{
    if (chunk_step_ts(st, 0) != 0)
        return -1;
    return st->dec ? chunk_step_dec(st, 0) : 0;
}

/* ---- point encoder --------------------------------------------------------- */

/* Whether value bits v are what the value code "0" would give. */
static bool
chunk_is_predicted(const pw_chunk_state_ *st, uint64_t v)
{
    int64_t k;

    if (!st->dec)
        return v == st->vbits;
    k = chunk_predict_k(st);
    return k > -CHUNK_INT_LIMIT && k < CHUNK_INT_LIMIT && chunk_dec_bits(k, st->scale) == v;
}

/*
 * XOR of the value bits with the previous ones, Gorilla style: reuse the
 * last window of meaningful bits when it covers them and is not dearer
 * than describing a new one (6 bits leading zeros, 6 bits length - 1).
 * x != 0: equal values never take this path. Returns the bits it needs.
 */
static unsigned
chunk_xor_plan(const pw_chunk_state_ *st, uint64_t x, bool *reuse)
{
    unsigned lead = (unsigned) __builtin_clzll(x), trail = (unsigned) __builtin_ctzll(x);
    unsigned wide = 64u - st->lead - st->trail, fresh = 12 + (64 - lead - trail);

    *reuse = lead >= st->lead && trail >= st->trail && wide <= fresh;
    return *reuse ? wide : fresh;
}

/* The XOR after its prefix, which said whether the window is reused. */
static void
chunk_put_xor(chunk_bw *w, pw_chunk_state_ *st, uint64_t x, bool reuse)
{
    if (!reuse) {
        unsigned lead = (unsigned) __builtin_clzll(x), trail = (unsigned) __builtin_ctzll(x);

        chunk_put(w, lead, 6);
        chunk_put(w, 63 - lead - trail, 6);     /* meaningful bits - 1 */
        st->lead = (uint8_t) lead;
        st->trail = (uint8_t) trail;
    }
    chunk_put(w, x >> st->trail, 64u - st->lead - st->trail);
    chunk_step_xor(st, x);
}

/*
 * v does not continue the series' decimals: code it as a new scale and
 * absolute k, or as an XOR, whichever is shorter now. Greedy on purpose: a
 * value that merely happens to be k / 10^15 would pay 60-odd bits for k.
 */
static void
chunk_put_jump(chunk_bw *w, pw_chunk_state_ *st, uint64_t v)
{
    uint64_t x = v ^ st->vbits;
    bool     reuse;
    unsigned xbits = chunk_xor_plan(st, x, &reuse) + (st->dec ? 4 : reuse ? 2 : 3);
    int64_t  k;
    int      scale;

    /* Back to the scale used last if v fits it: no churn between scales. */
    if (!st->dec && chunk_decimal(v, st->scale, &k))
        scale = st->scale;
    else
        scale = chunk_min_scale(v, &k);
    if (scale >= 0 && 3 + 4 + chunk_k_bits(k) <= xbits) {
        chunk_put(w, st->dec ? 6 : 7, 3);
        chunk_put(w, (unsigned) scale, 4);
        chunk_put_k(w, k);
        (void) chunk_step_abs(st, (unsigned) scale, k);   /* |k| < 2^53: chunk_decimal said so */
        return;
    }
    if (st->dec)
        chunk_put(w, reuse ? 14 : 15, 4);
    else if (reuse)
        chunk_put(w, 2, 2);
    else
        chunk_put(w, 6, 3);
    chunk_put_xor(w, st, x, reuse);
}

/*
 * Codes value bits v after st. Decimal mode (the last value is k / 10^scale):
 *   0      k as predicted (chunk_step_dec): constants, steady counters
 *   10     k - predicted, integer code
 *   110    new scale (4 bits) and absolute k, integer code
 *   1110   XOR, last window               1111  XOR, new window
 * The last two leave decimal mode for float mode:
 *   0      same bits as the last value
 *   10     XOR, last window               110   XOR, new window
 *   111    new scale and absolute k (back to decimal mode)
 */
static void
chunk_put_value(chunk_bw *w, pw_chunk_state_ *st, uint64_t v)
{
    int64_t k = st->k;

    if (chunk_is_predicted(st, v)) {
        chunk_put(w, 0, 1);
        if (st->dec)
            (void) chunk_step_dec(st, 0);
    } else if (st->dec && (v == st->vbits || chunk_decimal(v, st->scale, &k))) {
        /* not 0: k == prediction would mean v is predicted */
        int64_t resid = k - chunk_predict_k(st);

        chunk_put(w, 2, 2);
        chunk_put_resid(w, st, resid);
        (void) chunk_step_dec(st, resid);       /* lands on k, within range */
    } else {
        chunk_put_jump(w, st, v);
    }
}

/* A pending run goes into the stream as the point codes "0" "0", then its length. */
static void
chunk_flush_run(chunk_bw *w, pw_chunk_state_ *st)
{
    if (st->run == 0)
        return;
    chunk_put(w, 0, 2);
    chunk_put_gamma(w, st->run);
    st->run = 0;
}

/*
 * Codes point (ts, v) after the first. A predicted point only counts into
 * the pending run: its token is written when the run ends (or at seal), so
 * that a run costs its length's bits, not a bit or two per point.
 */
static void
chunk_put_point(chunk_bw *w, pw_chunk_state_ *st, int64_t ts, uint64_t v)
{
    uint64_t delta = (uint64_t) ts - (uint64_t) st->ts;
    int64_t  dod = chunk_i64(delta - st->delta);

    if (dod == 0 && chunk_is_predicted(st, v)) {
        (void) chunk_step_predicted(st);        /* the caller checked ts > st->ts */
        st->run++;
        return;
    }
    chunk_flush_run(w, st);
    chunk_put_dod(w, dod);
    (void) chunk_step_ts(st, dod);
    chunk_put_value(w, st, v);
}

/* ---- point decoder --------------------------------------------------------- */

CHUNK_HOT int
chunk_get_xor(chunk_br *r, pw_chunk_state_ *st, bool reuse)
{
    uint64_t lead, sig, x;

    if (!reuse) {
        if (chunk_get(r, 6, &lead) != 0 || chunk_get(r, 6, &sig) != 0)
            return -1;
        if (lead + sig + 1 > 64)
            return -1;
        st->lead = (uint8_t) lead;
        st->trail = (uint8_t) (63 - lead - sig);
    }
    if (chunk_get(r, 64u - st->lead - st->trail, &x) != 0)
        return -1;
    chunk_step_xor(st, x << st->trail);
    return 0;
}

CHUNK_HOT int
chunk_get_abs(chunk_br *r, pw_chunk_state_ *st)
{
    uint64_t scale;
    int64_t  k;

    if (chunk_get(r, 4, &scale) != 0 || chunk_get_k(r, &k) != 0)
        return -1;
    return chunk_step_abs(st, (unsigned) scale, k);
}

/*
 * The inverse of chunk_put_value (the prefixes are runs of ones): 0, or 1
 * when the code was "0" (the predicted value), or -1.
 */
CHUNK_HOT int
chunk_get_value(chunk_br *r, pw_chunk_state_ *st)
{
    unsigned ones;
    int64_t  resid;

    if (chunk_get_ones(r, st->dec ? 4 : 3, &ones) != 0)
        return -1;
    if (st->dec) {
        switch (ones) {
        case 0:
            return chunk_step_dec(st, 0) == 0 ? 1 : -1;
        case 1:
            if (chunk_get_resid(r, st, &resid) != 0)
                return -1;
            return chunk_step_dec(st, resid);
        case 2:
            return chunk_get_abs(r, st);
        default:
            return chunk_get_xor(r, st, ones == 3);
        }
    }
    switch (ones) {
    case 0:
        return 1;                       /* same value */
    case 1:
    case 2:
        return chunk_get_xor(r, st, ones == 1);
    default:
        return chunk_get_abs(r, st);
    }
}

/* ---- header and trailer ------------------------------------------------------ */

typedef struct chunk_hdr chunk_hdr;
struct chunk_hdr {
    uint8_t  flags;
    uint32_t count;
    int64_t  first, last;
    size_t   len;           /* bytes */
};

static size_t
chunk_hdr_put(uint8_t *p, const chunk_hdr *h)
{
    size_t n = 0;

    p[n++] = PW_CHUNK_VERSION;
    p[n++] = h->flags;
    n += chunk_uvarint_put(p + n, h->count);
    n += chunk_uvarint_put(p + n, chunk_zigzag(h->first));
    n += chunk_uvarint_put(p + n, (uint64_t) h->last - (uint64_t) h->first);
    return n;
}

/* Parses and checks the header of a non-empty chunk. */
static pw_err
chunk_hdr_get(const uint8_t *p, size_t len, chunk_hdr *h)
{
    uint64_t count, first, span;
    size_t   pos = 2;

    if (len < 2 || p[0] != PW_CHUNK_VERSION || (p[1] & ~CHUNK_FLAG_OPEN) != 0)
        return PW_EPROTO;
    if (chunk_uvarint_get(p, len, &pos, &count) != 0 || chunk_uvarint_get(p, len, &pos, &first) != 0
        || chunk_uvarint_get(p, len, &pos, &span) != 0)
        return PW_EPROTO;
    h->flags = p[1];
    h->first = chunk_unzigzag(first);
    h->last = chunk_i64((uint64_t) h->first + span);
    /* n strictly increasing timestamps span at least n - 1 ms, and no wrap. */
    if (count == 0 || count > PW_CHUNK_MAX_POINTS || h->last < h->first || span < count - 1
        || (count == 1 && span != 0))
        return PW_EPROTO;
    h->count = (uint32_t) count;
    h->len = pos;
    return pos < len ? PW_OK : PW_EPROTO;   /* the first value takes a bit at least */
}

/*
 * The open form's trailer, after the stream, all byte-aligned:
 *   uvarint  last ts delta
 *   8 bytes  last value bits, big-endian
 *   1 byte   scale << 4 | unused bits in the last stream byte
 *   1 byte   residual bit length << 2 | trend << 1 | decimal mode
 *   1 byte   XOR window leading zeros;  1 byte  trailing zeros
 *   varint   k, zigzag;  varint  k's last step, zigzag
 *   uvarint  pending run: predicted points after the stream
 *   1 byte   trailer length, this byte included
 * Rewritten whole by every append, so it may use varints freely.
 */
static size_t
chunk_trailer_put(uint8_t *p, const pw_chunk_state_ *st, unsigned pad)
{
    size_t n = chunk_uvarint_put(p, st->delta);

    for (int i = 7; i >= 0; i--)
        p[n++] = (uint8_t) (st->vbits >> (8 * i));
    p[n++] = (uint8_t) (st->scale << 4 | pad);
    p[n++] = (uint8_t) (st->rbits << 2 | st->trend << 1 | st->dec);
    p[n++] = st->lead;
    p[n++] = st->trail;
    n += chunk_uvarint_put(p + n, chunk_zigzag(st->k));
    n += chunk_uvarint_put(p + n, chunk_zigzag(st->kdelta));
    n += chunk_uvarint_put(p + n, st->run);
    p[n] = (uint8_t) (n + 1);
    return n + 1;
}

typedef struct chunk_open chunk_open;
struct chunk_open {
    pw_chunk_state_ st;
    unsigned        pad;        /* unused low bits of the last stream byte */
    size_t          len;        /* trailer bytes */
};

/*
 * Parses the trailer of the open chunk p/len with header h and checks that
 * the state could have come from an encoder: the stream itself is not
 * decoded (that would make append O(n)), so a damaged stream behind a sane
 * trailer is found by the iterator, not here.
 */
static pw_err
chunk_trailer_get(const uint8_t *p, size_t len, const chunk_hdr *h, chunk_open *o)
{
    pw_chunk_state_ *st = &o->st;
    size_t           tlen, pos, end;
    uint64_t         k, kdelta, run;
    uint8_t          mode;

    tlen = p[len - 1];
    /* At least one stream byte sits between header and trailer. */
    if (tlen < 17 || tlen > len - h->len - 1)
        return PW_EPROTO;
    pos = len - tlen;
    end = len - 1;
    memset(st, 0, sizeof *st);
    if (chunk_uvarint_get(p, end, &pos, &st->delta) != 0 || end - pos < 12)
        return PW_EPROTO;
    for (int i = 0; i < 8; i++)
        st->vbits = st->vbits << 8 | p[pos++];
    st->scale = p[pos] >> 4;
    o->pad = p[pos++] & 15;
    mode = p[pos++];
    st->dec = mode & 1;
    st->trend = (mode >> 1) & 1;
    st->rbits = mode >> 2;
    st->lead = p[pos++];
    st->trail = p[pos++];
    if (chunk_uvarint_get(p, end, &pos, &k) != 0 || chunk_uvarint_get(p, end, &pos, &kdelta) != 0
        || chunk_uvarint_get(p, end, &pos, &run) != 0 || pos != end)
        return PW_EPROTO;
    st->k = chunk_unzigzag(k);
    st->kdelta = chunk_unzigzag(kdelta);
    st->ts = h->last;
    o->len = tlen;
    if (o->pad > 7 || st->rbits > CHUNK_RESID_BITS || (st->lead + st->trail > 63 && (st->lead | st->trail) != 0))
        return PW_EPROTO;
    /* Points 0 and 1 are never predicted (the first delta is news). */
    if (run > (h->count < 2 ? 0 : h->count - 2))
        return PW_EPROTO;
    st->run = (uint32_t) run;
    if (h->count == 1 ? st->delta != 0
                      : st->delta == 0 || st->delta > (uint64_t) h->last - (uint64_t) h->first)
        return PW_EPROTO;
    if (st->dec) {
        if (st->k <= -CHUNK_INT_LIMIT || st->k >= CHUNK_INT_LIMIT
            || st->kdelta <= -2 * CHUNK_INT_LIMIT || st->kdelta >= 2 * CHUNK_INT_LIMIT
            || chunk_dec_bits(st->k, st->scale) != st->vbits)
            return PW_EPROTO;
    } else if (st->k != 0 || st->kdelta != 0 || st->trend) {
        return PW_EPROTO;
    }
    /* Appended bits are OR'ed into the last byte: its unused bits must be 0. */
    return (p[len - tlen - 1] & chunk_mask(o->pad)) == 0 ? PW_OK : PW_EPROTO;
}

/* ---- iterator ------------------------------------------------------------------ */

pw_err
pw_chunk_iter_init(pw_chunk_iter *it, const void *data, size_t len)
{
    chunk_hdr  h;
    chunk_open o;
    pw_err     e;

    memset(it, 0, sizeof *it);
    it->data = data;
    it->len = len;
    if (len == 0)
        return PW_OK;
    if ((e = chunk_hdr_get(data, len, &h)) == PW_OK && (h.flags & CHUNK_FLAG_OPEN))
        e = chunk_trailer_get(data, len, &h, &o);
    if (e != PW_OK) {
        it->err = 1;
        return e;
    }
    it->bitpos = (uint64_t) h.len * 8;
    if (h.flags & CHUNK_FLAG_OPEN) {
        it->nbits = (uint64_t) (len - o.len) * 8 - o.pad;
        it->pending = o.st.run;
    } else {
        it->nbits = (uint64_t) len * 8;
    }
    it->left = it->count = h.count;
    it->last_ts = h.last;
    chunk_state_init(&it->st, h.first);
    return PW_OK;
}

/* Reads the next token of the stream: one point, or the first of a run. */
CHUNK_HOT int
chunk_iter_token(pw_chunk_iter *it)
{
    chunk_br r = { it->data, it->bitpos, it->nbits };
    uint64_t start = r.pos, rest;
    int64_t  dod = 1;
    uint32_t n = 1;
    int      pred;

    if (it->left < it->count
        && (chunk_get_dod(&r, &dod) != 0 || chunk_step_ts(&it->st, dod) != 0))
        return -1;
    if ((pred = chunk_get_value(&r, &it->st)) < 0)
        return -1;
    it->run_len = 0;
    if (dod == 0 && pred == 1) {
        if (chunk_get_gamma(&r, &n) != 0 || n > it->left - it->pending)
            return -1;
        it->st.run = n - 1;
        it->run_at = start;
        it->run_len = n;
    }
    it->bitpos = r.pos;
    /* The stream's last token is followed by zero padding only. */
    if (n == it->left - it->pending
        && (r.end - r.pos >= 8 || chunk_get(&r, (unsigned) (r.end - r.pos), &rest) != 0 || rest != 0))
        return -1;
    return 0;
}

CHUNK_HOT int
chunk_iter_step(pw_chunk_iter *it, int64_t *ts, double *v)
{
    if (it->err)
        return -1;
    if (it->left == 0)
        return 0;
    if (it->st.run == 0 && it->left == it->pending) {
        /* open form: the trailer's run follows the stream */
        it->st.run = it->pending;
        it->pending = 0;
        if (it->bitpos != it->nbits)
            goto corrupt;
    }
    if (it->st.run > 0) {
        it->st.run--;
        if (chunk_step_predicted(&it->st) != 0)
            goto corrupt;
    } else if (chunk_iter_token(it) != 0) {
        goto corrupt;
    }
    if (it->st.ts > it->last_ts || (it->left == 1 && it->st.ts != it->last_ts))
        goto corrupt;
    it->left--;
    *ts = it->st.ts;
    *v = chunk_dbl(it->st.vbits);
    return 1;

corrupt:
    it->err = 1;
    return -1;
}

int
pw_chunk_iter_next(pw_chunk_iter *it, int64_t *ts, double *v)
{
    return chunk_iter_step(it, ts, v);
}

pw_err
pw_chunk_decode(const void *data, size_t len, int64_t *ts, double *v, size_t cap, size_t *n)
{
    pw_chunk_iter it, loc;
    size_t        m = 0;
    int64_t       t;
    double        x;
    pw_err        e;
    int           r;

    *n = 0;
    if ((e = pw_chunk_iter_init(&it, data, len)) != PW_OK)
        return e;
    if (it.count > cap)
        return PW_ETOOBIG;
    /* A copy whose address goes nowhere and a local count: the compiler may
     * keep the coder state in registers though ts[] and *n could alias it. */
    loc = it;
    while ((r = chunk_iter_step(&loc, &t, &x)) == 1) {
        ts[m] = t;
        v[m] = x;
        m++;
    }
    *n = m;
    return r == 0 ? PW_OK : PW_EPROTO;
}

/* ---- header accessors ---------------------------------------------------------- */

pw_err
pw_chunk_info(const void *data, size_t len, uint32_t *count, int64_t *first, int64_t *last)
{
    chunk_hdr h;

    *count = 0;
    *first = *last = 0;
    if (len == 0)
        return PW_OK;
    if (chunk_hdr_get(data, len, &h) != PW_OK)
        return PW_EPROTO;
    *count = h.count;
    *first = h.first;
    *last = h.last;
    return PW_OK;
}

uint32_t
pw_chunk_count(const void *data, size_t len)
{
    chunk_hdr h;

    return len > 0 && chunk_hdr_get(data, len, &h) == PW_OK ? h.count : 0;
}

int64_t
pw_chunk_first_ts(const void *data, size_t len)
{
    chunk_hdr h;

    return len > 0 && chunk_hdr_get(data, len, &h) == PW_OK ? h.first : 0;
}

int64_t
pw_chunk_last_ts(const void *data, size_t len)
{
    chunk_hdr h;

    return len > 0 && chunk_hdr_get(data, len, &h) == PW_OK ? h.last : 0;
}

/* ---- chunk ------------------------------------------------------------------------ */

void
pw_chunk_init(pw_chunk *c)
{
    c->data = NULL;
    c->len = 0;
    c->cap = 0;
}

void
pw_chunk_free(pw_chunk *c)
{
    free(c->data);
    pw_chunk_init(c);
}

/* Room for need bytes; doubling keeps a chunk's appends O(1) amortized. */
static pw_err
chunk_reserve(pw_chunk *c, size_t need)
{
    size_t   cap = c->cap ? c->cap : 64;
    uint8_t *p;

    if (need <= c->cap)
        return PW_OK;
    while (cap < need)
        cap *= 2;
    if ((p = realloc(c->data, cap)) == NULL)
        return PW_ENOMEM;
    c->data = p;
    c->cap = cap;
    return PW_OK;
}

/*
 * Opens the stream of c (header h, trailer o) for writing at its end: the
 * trailer's bytes become stream, cleared since bits are OR'ed in. Room for
 * a point was reserved.
 */
static chunk_bw
chunk_stream_end(pw_chunk *c, const chunk_hdr *h, const chunk_open *o)
{
    size_t   send = c->len - o->len;
    chunk_bw w = { c->data + h->len, (uint64_t) (send - h->len) * 8 - o->pad };

    memset(c->data + send, 0, CHUNK_POINT_MAX);
    return w;
}

/*
 * After the stream became nbits long behind a header of old_hlen bytes:
 * rewrites the header for h (moving the stream when a varint grew, a few
 * times in a chunk's life) and the trailer for st. Room was reserved.
 */
static void
chunk_finish(pw_chunk *c, const chunk_hdr *h, size_t old_hlen, const pw_chunk_state_ *st,
             uint64_t nbits)
{
    uint8_t hdr[CHUNK_HDR_MAX];
    size_t  hlen = chunk_hdr_put(hdr, h), sbytes = (size_t) ((nbits + 7) / 8);

    if (hlen != old_hlen)
        memmove(c->data + hlen, c->data + old_hlen, sbytes);
    memcpy(c->data, hdr, hlen);
    c->len = hlen + sbytes;
    c->len += chunk_trailer_put(c->data + c->len, st, (unsigned) (sbytes * 8 - nbits));
}

static pw_err
chunk_append_first(pw_chunk *c, int64_t ts, uint64_t v)
{
    chunk_hdr       h = { CHUNK_FLAG_OPEN, 1, ts, ts, 0 };
    pw_chunk_state_ st;
    chunk_bw        w;
    pw_err          e;

    if ((e = chunk_reserve(c, CHUNK_HDR_MAX + CHUNK_POINT_MAX + CHUNK_TRAILER_MAX)) != PW_OK)
        return e;
    h.len = chunk_hdr_put(c->data, &h);
    memset(c->data + h.len, 0, CHUNK_POINT_MAX);
    w.buf = c->data + h.len;
    w.pos = 0;
    chunk_state_init(&st, ts);
    chunk_put_value(&w, &st, v);
    chunk_finish(c, &h, h.len, &st, w.pos);
    return PW_OK;
}

/*
 * Gives a sealed chunk (header h) its trailer back by decoding it once: the
 * iterator ends with the state the encoder had (same transitions). A run
 * that ends the stream goes back to pending, as it was before the seal, so
 * that appending to the reopened chunk writes what one encode would.
 */
static pw_err
chunk_reopen(pw_chunk *c, chunk_hdr *h)
{
    pw_chunk_iter it;
    int64_t       ts;
    double        x;
    uint64_t      end;
    int           r;
    pw_err        e;

    if ((e = chunk_reserve(c, c->len + CHUNK_TRAILER_MAX)) != PW_OK)
        return e;
    if (pw_chunk_iter_init(&it, c->data, c->len) != PW_OK)
        return PW_EPROTO;
    while ((r = pw_chunk_iter_next(&it, &ts, &x)) == 1)
        ;
    if (r != 0)
        return PW_EPROTO;
    end = it.bitpos;
    if (it.run_len > 0) {
        end = it.run_at;
        it.st.run = it.run_len;
    }
    c->len = (size_t) ((end + 7) / 8);
    if (end % 8)
        c->data[end / 8] &= (uint8_t) ~chunk_mask(8 - end % 8);
    h->flags |= CHUNK_FLAG_OPEN;
    c->data[1] = h->flags;
    c->len += chunk_trailer_put(c->data + c->len, &it.st, (unsigned) (c->len * 8 - end));
    return PW_OK;
}

pw_err
pw_chunk_load(pw_chunk *c, const void *data, size_t len)
{
    pw_chunk   tmp;
    chunk_hdr  h;
    chunk_open o;
    pw_err     e;

    pw_chunk_init(&tmp);
    if (len > 0) {
        if ((e = chunk_hdr_get(data, len, &h)) != PW_OK)
            return e;
        if ((h.flags & CHUNK_FLAG_OPEN) && (e = chunk_trailer_get(data, len, &h, &o)) != PW_OK)
            return e;
        if ((e = chunk_reserve(&tmp, len)) != PW_OK)
            return e;
        memcpy(tmp.data, data, len);
        tmp.len = len;
        if (!(h.flags & CHUNK_FLAG_OPEN) && (e = chunk_reopen(&tmp, &h)) != PW_OK) {
            pw_chunk_free(&tmp);
            return e;
        }
    }
    pw_chunk_free(c);
    *c = tmp;
    return PW_OK;
}

pw_err
pw_chunk_append(pw_chunk *c, int64_t ts, double v)
{
    chunk_hdr  h;
    chunk_open o;
    chunk_bw   w;
    pw_err     e;

    if (c->len == 0)
        return chunk_append_first(c, ts, chunk_bits(v));
    if ((e = chunk_hdr_get(c->data, c->len, &h)) != PW_OK)
        return e;
    /* Refusals first: a refused append leaves the chunk as it was. */
    if (ts <= h.last)
        return PW_EINVAL;
    if (h.count >= PW_CHUNK_MAX_POINTS)
        return PW_ETOOBIG;
    /* All the room first (a reopened chunk grows by a trailer): c changes only on success. */
    if ((e = chunk_reserve(c, c->len + 2 * CHUNK_TRAILER_MAX + CHUNK_POINT_MAX + CHUNK_HDR_MAX)) != PW_OK)
        return e;
    if (!(h.flags & CHUNK_FLAG_OPEN) && (e = chunk_reopen(c, &h)) != PW_OK)
        return e;
    if ((e = chunk_trailer_get(c->data, c->len, &h, &o)) != PW_OK)
        return e;
    w = chunk_stream_end(c, &h, &o);
    chunk_put_point(&w, &o.st, ts, chunk_bits(v));
    h.count++;
    h.last = ts;
    chunk_finish(c, &h, h.len, &o.st, w.pos);
    return PW_OK;
}

pw_err
pw_chunk_encode(pw_chunk *c, const int64_t *ts, const double *v, size_t n)
{
    pw_err e = PW_OK;

    if (c->len != 0)
        return PW_EINVAL;
    if (n > PW_CHUNK_MAX_POINTS)
        return PW_ETOOBIG;
    for (size_t i = 0; i < n && e == PW_OK; i++)
        e = pw_chunk_append(c, ts[i], v[i]);
    if (e != PW_OK)
        pw_chunk_free(c);
    return e;
}

pw_err
pw_chunk_seal(pw_chunk *c)
{
    chunk_hdr  h;
    chunk_open o;
    chunk_bw   w;
    pw_err     e;

    if (c->len == 0)
        return PW_OK;
    if ((e = chunk_hdr_get(c->data, c->len, &h)) != PW_OK)
        return e;
    if (!(h.flags & CHUNK_FLAG_OPEN))
        return PW_OK;
    if ((e = chunk_trailer_get(c->data, c->len, &h, &o)) != PW_OK
        || (e = chunk_reserve(c, c->len + CHUNK_POINT_MAX)) != PW_OK)
        return e;
    /* The pending run becomes the stream's last token; the state goes. */
    w = chunk_stream_end(c, &h, &o);
    chunk_flush_run(&w, &o.st);
    c->len = h.len + (size_t) ((w.pos + 7) / 8);
    c->data[1] = h.flags & (uint8_t) ~CHUNK_FLAG_OPEN;
    return PW_OK;
}
