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
 * Version 2 (written now; version 1 is still read and appended to) adds, in
 * the same coder with st->ver deciding: a residual factor (steps in pages,
 * 10^6 Hz), an adaptive Rice code for residuals, counters predicted from
 * their average step, prefixes that swap after a move, a joint ts + value
 * code on a regular grid, and a smaller trailer.
 *
 * The encoder and the decoder keep the same pw_chunk_state_ and change it
 * with the same helpers (chunk_step_*), so that they cannot drift apart.
 */
#include "chunk.h"

#include <float.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "grow.h"

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
/* v1: 10 + 8 + 4 + 8 + 8 + run 2 + 1; v2: 10 + 3 + 8 + 9 + 2 + 2 + 4 + 1; rounded up */
#define CHUNK_TRAILER_MAX 48u
/*
 * Stream bytes one append may add: a pending run's token (3 + 27 bits),
 * the ts code (2 + 6 + 64) and the value code (at most 4 + 12 + 64, or a
 * v2 residual 2 + 12 + 14 + 56), from mid-byte: 193 bits.
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

/*
 * Version 3: the residuals in a row after which value codes are direct
 * (chunk_v3_direct); at most 3, the trailer keeps the count in 2 bits.
 * Measured on the storage benchmark's series: 2 and 3 equal overall, 3
 * costs series that move at every other point (CPU frequencies) less.
 */
#define CHUNK_DIRECT_AFTER 3

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

/* The header's and trailer's varints (common/bytes.h). */
#define chunk_uvarint_put(p, v) pw_uvarint_put((p), (v))

static int
chunk_uvarint_get(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    return pw_uvarint_get(p, len, pos, v) ? 0 : -1;
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

/*
 * Version 2 residuals. r (never 0) is m * G, G = 2^b 5^d the factor the
 * state predicts (F = 2^fb 5^fd, the common part of the last two residuals:
 * steps of pages of 4096 bytes, of 10^6 Hz, of kB) when F >= 8:
 *   1                       r is a multiple of F: G = F
 *   0 b' d'                 it is not: G = 2^b' 5^d', b' <= fb in bitlen(fb)
 *                           bits, d' <= fd in bitlen(fd) bits, (b', d') != (fb, fd)
 * and no bit at all when F < 8 (most series: nothing to pay). Then m as
 * u = 2 (|m| - 1) + sign in an adaptive Rice code of parameter k (from the
 * smoothed bit length rl of the last u's, see chunk_rice_k):
 *   q = u >> k < 8          q ones, a zero, the low k bits of u
 *   else                    8 ones, nb = bitlen(u) in 6 bits, the low nb - 1 bits
 *   the chunk's first one   nb in 6 bits, the low nb - 1 bits (no k to go by yet)
 * Against version 1's relative bit length this is about 1.5 bits less on
 * a Gaussian residual (a bit length that wanders costs more than a Rice
 * quotient), and the factor saves 12 bits on every page-sized step.
 */
#define CHUNK_RICE_QMAX 8u
#define CHUNK_RL_UNSET  255u     /* no residual yet: the first is nb (6 bits) and its bits */
#define CHUNK_DEC_BIAS  16u      /* bits: see chunk_put_jump */
#define CHUNK_DEC_BIAS_SCALE 9u  /* up to this scale only */

static const uint64_t chunk_pow5[] = {
    UINT64_C(1), UINT64_C(5), UINT64_C(25), UINT64_C(125), UINT64_C(625), UINT64_C(3125),
    UINT64_C(15625), UINT64_C(78125), UINT64_C(390625), UINT64_C(1953125), UINT64_C(9765625),
    UINT64_C(48828125), UINT64_C(244140625), UINT64_C(1220703125), UINT64_C(6103515625),
    UINT64_C(30517578125), UINT64_C(152587890625), UINT64_C(762939453125),
    UINT64_C(3814697265625), UINT64_C(19073486328125), UINT64_C(95367431640625),
    UINT64_C(476837158203125), UINT64_C(2384185791015625), UINT64_C(11920928955078125),
};
#define CHUNK_MAX_FB 55u        /* |r| <= 2^55 */
#define CHUNK_MAX_FD 23u        /* 5^23 < 2^55 < 5^24 */

/* 2^b 5^d if it is at most 2^55, else 0 (never for valuations of a residual). */
static uint64_t
chunk_factor(unsigned b, unsigned d)
{
    if (b > CHUNK_MAX_FB || d > CHUNK_MAX_FD || chunk_pow5[d] > (UINT64_C(1) << (CHUNK_MAX_FB - b)))
        return 0;
    return chunk_pow5[d] << b;
}

/* Whether the factor is worth its flag bit: F >= 8. */
CHUNK_HOT bool
chunk_factor_on(const pw_chunk_state_ *st)
{
    return st->fb >= 3 || st->fd >= 2 || (st->fb >= 1 && st->fd >= 1);
}

/* k: the smoothed bit length of the last u's, rounded down (measured best). */
CHUNK_HOT unsigned
chunk_rice_k(const pw_chunk_state_ *st)
{
    return st->rl >> 2;
}

/* The valuations of u = |r| (> 0) in 2 and 5, capped. */
static void
chunk_valuations(uint64_t u, unsigned *b, unsigned *d)
{
    *b = (unsigned) __builtin_ctzll(u);
    u >>= *b;
    *d = 0;
    while (u % 5 == 0 && *d < CHUNK_MAX_FD) {
        u /= 5;
        (*d)++;
    }
}

/* After a version 2 residual r whose Rice number was u: the shared state update. */
CHUNK_HOT void
chunk_step_resid2(pw_chunk_state_ *st, int64_t r, uint64_t u)
{
    unsigned b, d, nb = chunk_bitlen(u);

    chunk_valuations((uint64_t) (r < 0 ? -r : r), &b, &d);
    st->fb = (uint8_t) (b < st->pb ? b : st->pb);
    st->fd = (uint8_t) (d < st->pd ? d : st->pd);
    st->pb = (uint8_t) b;
    st->pd = (uint8_t) d;
    st->rl = (uint8_t) (st->rl == CHUNK_RL_UNSET ? 4u * nb : (3u * st->rl + 4u * nb + 2u) >> 2);
}

/*
 * A version 2 residual r (!= 0). shift (version 3's direct codes): the code
 * also says "no residual", r == 0 being the number 0 and every other one
 * its version 2 number plus 1, so that a series that keeps moving pays no
 * prefix bit for "moved again" (r == 0 then changes no residual state).
 */
static void
chunk_put_resid2(chunk_bw *w, pw_chunk_state_ *st, int64_t r, unsigned shift)
{
    uint64_t g = 1, a = (uint64_t) (r < 0 ? -r : r), u, m;
    unsigned k = chunk_rice_k(st), q;

    if (chunk_factor_on(st)) {
        uint64_t f = chunk_factor(st->fb, st->fd);

        if (a % f == 0) {
            chunk_put(w, 1, 1);
            g = f;
        } else {
            unsigned b, d;

            chunk_valuations(a, &b, &d);
            b = b < st->fb ? b : st->fb;
            d = d < st->fd ? d : st->fd;
            chunk_put(w, 0, 1);
            chunk_put(w, b, chunk_bitlen(st->fb));
            chunk_put(w, d, chunk_bitlen(st->fd));
            g = chunk_factor(b, d);
        }
    }
    m = a / g;
    u = a == 0 ? 0 : 2 * (m - 1) + (r < 0) + shift;
    q = (u >> k) < CHUNK_RICE_QMAX ? (unsigned) (u >> k) : CHUNK_RICE_QMAX;
    if (st->rl == CHUNK_RL_UNSET) {
        unsigned nb = chunk_bitlen(u);

        chunk_put(w, nb, 6);
        if (nb > 1)
            chunk_put(w, u, nb - 1);
    } else if (q < CHUNK_RICE_QMAX) {
        chunk_put(w, chunk_mask(q) << 1, q + 1);
        chunk_put(w, u, k);
    } else {
        unsigned nb = chunk_bitlen(u);

        chunk_put(w, chunk_mask(CHUNK_RICE_QMAX), CHUNK_RICE_QMAX);
        chunk_put(w, nb, 6);
        chunk_put(w, u, nb - 1);
    }
    if (a != 0)
        chunk_step_resid2(st, r, u);
}

/*
 * Version 3, direct codes: what is not a residual. The residual code's
 * escape (factor flag 1 if the factor is on, 8 ones, a bit length of 0,
 * which no number has), then 0 new scale, 10 / 110 XOR last / new window,
 * 111 a dod code and then the point's value code (joint timestamps).
 */
enum { CHUNK_ESC_ABS, CHUNK_ESC_XOR_LAST, CHUNK_ESC_XOR_NEW, CHUNK_ESC_DOD };

static const uint8_t chunk_esc_code[] = { 0, 2, 6, 7 }, chunk_esc_len[] = { 1, 2, 3, 3 };

static void
chunk_put_esc3(chunk_bw *w, const pw_chunk_state_ *st, unsigned sel)
{
    if (chunk_factor_on(st))
        chunk_put(w, 1, 1);
    chunk_put(w, chunk_mask(CHUNK_RICE_QMAX), CHUNK_RICE_QMAX);
    chunk_put(w, 0, 6);
    chunk_put(w, chunk_esc_code[sel], chunk_esc_len[sel]);
}

/* Bits chunk_put_esc3 writes. */
static unsigned
chunk_esc3_bits(const pw_chunk_state_ *st, unsigned sel)
{
    return (chunk_factor_on(st) ? 1u : 0u) + CHUNK_RICE_QMAX + 6 + chunk_esc_len[sel];
}

/*
 * Reads what chunk_put_resid2 wrote: 0 and the residual in *res (shift: 0
 * for "as predicted"); with shift also 1 + the selector after an escape
 * (CHUNK_ESC_*, chunk_put_esc3); -1 for a bad code.
 */
CHUNK_HOT int
chunk_get_resid2(chunk_br *r, pw_chunk_state_ *st, int64_t *res, unsigned shift)
{
    uint64_t g = 1, u = 0, m, flag = 1;
    unsigned k = chunk_rice_k(st), q;

    /* Nearly always: no factor, a quotient under 8, all in the 64 bits at hand. */
    if (!chunk_factor_on(st) && st->rl != CHUNK_RL_UNSET) {
        uint64_t w = chunk_peek(r), avail = r->end - r->pos;
        unsigned ones = ~w == 0 ? 64 : (unsigned) __builtin_clzll(~w), need = ones + 1 + k;

        if (ones < CHUNK_RICE_QMAX && need <= 64 && need <= avail) {
            u = (uint64_t) ones << k | (k > 0 ? (w << (ones + 1)) >> (64 - k) : 0);
            r->pos += need;
            goto got;
        }
    }
    if (chunk_factor_on(st)) {
        if (chunk_get(r, 1, &flag) != 0)
            return -1;
        if (flag) {
            g = chunk_factor(st->fb, st->fd);
        } else {
            uint64_t b = 0, d = 0;

            if (chunk_get(r, chunk_bitlen(st->fb), &b) != 0 || chunk_get(r, chunk_bitlen(st->fd), &d) != 0
                || b > st->fb || d > st->fd || (b == st->fb && d == st->fd))
                return -1;
            g = chunk_factor((unsigned) b, (unsigned) d);
        }
        if (g == 0)
            return -1;
    }
    if (st->rl == CHUNK_RL_UNSET) {
        uint64_t nb;

        if (chunk_get(r, 6, &nb) != 0 || nb > 57 || (nb > 1 && chunk_get(r, (unsigned) nb - 1, &u) != 0))
            return -1;
        if (nb > 0)
            u |= UINT64_C(1) << (nb - 1);
    } else if (chunk_get_ones(r, CHUNK_RICE_QMAX, &q) != 0) {
        return -1;
    } else if (q < CHUNK_RICE_QMAX) {
        if (chunk_get(r, k, &u) != 0)
            return -1;
        u |= (uint64_t) q << k;
    } else {
        uint64_t nb;

        if (chunk_get(r, 6, &nb) != 0 || nb > 57)
            return -1;
        if (nb == 0) {
            /* version 3 direct codes: the escape (chunk_put_esc3) */
            if (!shift || !flag || chunk_get_ones(r, 3, &q) != 0)
                return -1;
            return 1 + (int) q;
        }
        if (chunk_get(r, (unsigned) nb - 1, &u) != 0)
            return -1;
        u |= UINT64_C(1) << (nb - 1);
    }
got:
    if (shift && u == 0) {
        /* "no residual": the encoder writes it with the factor's flag set */
        if (!flag)
            return -1;
        *res = 0;
        return 0;
    }
    /* |r| = m g <= 2^55, as the encoder's */
    m = ((u - shift) >> 1) + 1;
    if (m > (UINT64_C(1) << CHUNK_MAX_FB) / g)
        return -1;
    *res = ((u - shift) & 1) ? -(int64_t) (m * g) : (int64_t) (m * g);
    chunk_step_resid2(st, *res, u);
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
chunk_state_init(pw_chunk_state_ *st, int64_t ts, unsigned ver)
{
    /* The value "before" the first is 0 in decimal mode at scale 0, so the
     * first point needs no special code: an integer starts as a plain step. */
    memset(st, 0, sizeof *st);
    st->ts = ts;
    st->dec = 1;
    st->ver = (uint8_t) ver;
    st->jit = ver >= 2;     /* point 1's dod is its whole delta: no joint code for it */
    st->rl = ver >= 2 ? CHUNK_RL_UNSET : 0;
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
    st->jit = st->ver >= 2 && dod != 0;
    return 0;
}

/*
 * The step a trend predicts. Version 1: the last step (kdelta). Version 2:
 * the average of the steps since the trend began (kdelta holds 16 times
 * it), rounded to the residual factor's grid so that a counter counting in
 * pages keeps its residuals in pages; a counter whose step varies around a
 * mean misses the mean by less than it misses the last step (a residual of
 * variance about 1.15 sigma^2 instead of 2 sigma^2). |result| <= 2^54.
 */
CHUNK_HOT int64_t
chunk_trend_step(const pw_chunk_state_ *st)
{
    int64_t a = st->kdelta, den, q, ps;

    if (st->ver < 2)
        return a;
    /* |a| < 2^58, den <= 2^59; halves round away from 0 */
    if (!chunk_factor_on(st)) {
        ps = a < 0 ? -((-a + 8) >> 4) : (a + 8) >> 4;     /* the common case: no division */
    } else {
        den = 16 * (int64_t) chunk_factor(st->fb, st->fd);
        q = a < 0 ? -((-a + den / 2) / den) : (a + den / 2) / den;
        ps = q * (den / 16);
    }
    return ps > (INT64_C(1) << 54) || ps < -(INT64_C(1) << 54) ? 0 : ps;
}

/* The k decimal mode predicts: the last one plus, in a trend, a step. */
CHUNK_HOT int64_t
chunk_predict_k(const pw_chunk_state_ *st)
{
    /* |k| < 2^53 and |step| <= 2^54: no overflow. */
    return st->k + (st->trend ? chunk_trend_step(st) : 0);
}

/*
 * Decimal mode: k moves to the prediction plus resid, where a is the trend
 * step (chunk_trend_step) before the residual was coded (coding a version 2
 * residual moves the factor the step is rounded to). The next prediction
 * follows the trend only if that would have predicted this point better
 * than no step at all: a steady counter keeps its rate, while a gauge or a
 * counter that moves now and then predicts "unchanged" right after a move
 * instead of paying for the move twice. -1 if k leaves +-2^53.
 */
CHUNK_HOT int
chunk_step_dec_at(pw_chunk_state_ *st, int64_t a, int64_t resid)
{
    /* |resid| <= 2^55 (its length is at most 55 bits): no overflow either. */
    int64_t k = st->k + (st->trend ? a : 0) + resid, step, miss;

    if (k <= -CHUNK_INT_LIMIT || k >= CHUNK_INT_LIMIT)
        return -1;
    step = k - st->k;
    miss = step - a;
    if (st->ver < 2)
        st->kdelta = step;
    else if (st->trend)
        st->kdelta += (16 * step - st->kdelta) / 4;      /* |16 step| < 2^58: the average stays below */
    else
        st->kdelta = 16 * step;
    st->trend = (miss < 0 ? -miss : miss) < (step < 0 ? -step : step);
    if (st->ver >= 3)
        st->streak = resid == 0 ? 0 : st->streak < CHUNK_DIRECT_AFTER ? (uint8_t) (st->streak + 1) : st->streak;
    st->moved = st->ver >= 2 && resid != 0;
    /* vbits is always k / 10^scale in decimal mode: an unchanged k keeps it (runs of constants) */
    if (k != st->k)
        st->vbits = chunk_dec_bits(k, st->scale);
    st->k = k;
    return 0;
}

CHUNK_HOT int
chunk_step_dec(pw_chunk_state_ *st, int64_t resid)
{
    return chunk_step_dec_at(st, chunk_trend_step(st), resid);
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
    st->moved = 0;
    st->streak = 0;
    st->vbits = chunk_dec_bits(k, scale);
    return 0;
}

/* Leaves decimal mode (if in it): the value is the last one XOR x. */
CHUNK_HOT void
chunk_step_xor(pw_chunk_state_ *st, uint64_t x)
{
    st->dec = 0;
    st->trend = 0;
    st->moved = 0;
    st->streak = 0;
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

/*
 * Version 3, decimal mode after CHUNK_DIRECT_AFTER residual codes in a row
 * (the streak; "direct": counters, gauges that move every interval): the
 * value code is the residual code alone, its number 0 meaning "as
 * predicted"; the rest hides behind the residual code's escape
 * (chunk_put_esc3). A series that keeps moving so pays no prefix bit, one
 * that moves now and then keeps version 2's cheap "unchanged" (an exact
 * prediction costs the Rice parameter's bits here).
 */
CHUNK_HOT bool
chunk_v3_direct(const pw_chunk_state_ *st)
{
    return st->ver >= 3 && st->dec && st->streak >= CHUNK_DIRECT_AFTER;
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
 * Version 2 leans to decimal mode, up to scale 9: always when the last
 * value was decimal at that scale too (the first value counts as after 0),
 * else by CHUNK_DEC_BIAS bits. The values after it are residuals of a few
 * bits where XORs cost 15 to 50, and a large multiple of 4096, 2^33 + 7 or
 * 0.25 has an XOR against 0 (a first value) or its neighbour short enough
 * to win otherwise, and then the series stays in float mode (measured:
 * 4096-byte gauges 1.24 -> 1.10 B/sample). Not past scale 9: a
 * full-precision float is now and then exactly k / 10^15, that k costs
 * more than its XOR, and the next value jumps again.
 */
static void
chunk_put_jump(chunk_bw *w, pw_chunk_state_ *st, uint64_t v)
{
    uint64_t x = v ^ st->vbits;
    bool     reuse, lean;
    bool     direct = chunk_v3_direct(st);
    unsigned xbits = chunk_xor_plan(st, x, &reuse);
    int64_t  k, kp;
    int      scale;

    xbits += direct ? chunk_esc3_bits(st, reuse ? CHUNK_ESC_XOR_LAST : CHUNK_ESC_XOR_NEW)
                    : st->dec ? 4 : reuse ? 2 : 3;
    /* Back to the scale used last if v fits it: no churn between scales. */
    if (!st->dec && chunk_decimal(v, st->scale, &k))
        scale = st->scale;
    else
        scale = chunk_min_scale(v, &k);
    lean = st->ver >= 2 && scale >= 0 && scale <= (int) CHUNK_DEC_BIAS_SCALE;
    /* v2: the last value decimal at that scale too (or the first value):
     * decimal data, whatever one XOR would cost now */
    if (lean && chunk_decimal(st->vbits, (unsigned) scale, &kp))
        xbits = UINT_MAX - CHUNK_DEC_BIAS;
    if (scale >= 0
        && (direct ? chunk_esc3_bits(st, CHUNK_ESC_ABS) : 3) + 4 + chunk_k_bits(k)
               <= xbits + (lean ? CHUNK_DEC_BIAS : 0)) {
        if (direct)
            chunk_put_esc3(w, st, CHUNK_ESC_ABS);
        else
            chunk_put(w, st->dec ? 6 : 7, 3);
        chunk_put(w, (unsigned) scale, 4);
        chunk_put_k(w, k);
        (void) chunk_step_abs(st, (unsigned) scale, k);   /* |k| < 2^53: chunk_decimal said so */
        return;
    }
    if (direct)
        chunk_put_esc3(w, st, reuse ? CHUNK_ESC_XOR_LAST : CHUNK_ESC_XOR_NEW);
    else if (st->dec)
        chunk_put(w, reuse ? 14 : 15, 4);
    else if (reuse)
        chunk_put(w, 2, 2);
    else
        chunk_put(w, 6, 3);
    chunk_put_xor(w, st, x, reuse);
}

/*
 * The "predicted" value code: "0", or in version 2 after a residual
 * ("moved") "10", the residual taking the "0": a series that moved is
 * likely to move again (counters move every interval). Version 3 direct
 * codes: the residual 0. moved, direct: st's when the point (or the run it
 * starts) was coded; the residual state has not changed since.
 */
static void
chunk_put_pred(chunk_bw *w, pw_chunk_state_ *st, unsigned moved, unsigned direct)
{
    if (direct)
        chunk_put_resid2(w, st, 0, 1);
    else if (moved)
        chunk_put(w, 2, 2);
    else
        chunk_put(w, 0, 1);
}

/*
 * Codes value bits v after st. Decimal mode (the last value is k / 10^scale):
 *   0      k as predicted (chunk_step_dec): constants, steady counters
 *   10     k - predicted, integer code
 *   110    new scale (4 bits) and absolute k, integer code
 *   1110   XOR, last window               1111  XOR, new window
 * (v2 after a residual: chunk_put_pred; v3 direct codes: chunk_v3_direct.)
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
        chunk_put_pred(w, st, st->moved, chunk_v3_direct(st));
        if (st->dec)
            (void) chunk_step_dec(st, 0);
    } else if (st->dec && (v == st->vbits || chunk_decimal(v, st->scale, &k))) {
        /* not 0: k == prediction would mean v is predicted */
        int64_t a = chunk_trend_step(st), resid = k - (st->k + (st->trend ? a : 0));

        if (chunk_v3_direct(st)) {
            chunk_put_resid2(w, st, resid, 1);
        } else if (st->ver >= 2) {
            chunk_put(w, st->moved ? 0 : 2, st->moved ? 1 : 2);
            chunk_put_resid2(w, st, resid, 0);
        } else {
            chunk_put(w, 2, 2);
            chunk_put_resid(w, st, resid);
        }
        (void) chunk_step_dec_at(st, a, resid);     /* lands on k, within range */
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
    if (st->ver < 2 || st->rjit)
        chunk_put(w, 0, 1);     /* dod 0 */
    chunk_put_pred(w, st, st->rmoved, st->rdirect);
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
        if (st->run == 0) {
            st->rmoved = st->moved;
            st->rdirect = chunk_v3_direct(st);
            st->rjit = st->jit;
        }
        (void) chunk_step_predicted(st);        /* the caller checked ts > st->ts */
        st->run++;
        return;
    }
    chunk_flush_run(w, st);
    if (!st->jit && chunk_v3_direct(st)) {
        /* joint code, direct codes: the value code alone means dod 0 (none
         * begins with the escape's selector 111) */
        if (dod != 0) {
            chunk_put_esc3(w, st, CHUNK_ESC_DOD);
            chunk_put_dod(w, dod);
        }
        (void) chunk_step_ts(st, dod);
        chunk_put_value(w, st, v);
        return;
    }
    if (st->ver >= 2 && !st->jit) {
        /* joint code: the value code alone means dod 0, "11" escapes */
        uint8_t  tmp[CHUNK_POINT_MAX] = { 0 };
        chunk_bw t = { tmp, 0 };

        (void) chunk_step_ts(st, dod);
        chunk_put_value(&t, st, v);
        if (dod != 0 || tmp[0] >> 6 == 3) {
            chunk_put(w, 3, 2);
            chunk_put_dod(w, dod);
        }
        for (uint64_t i = 0; i < t.pos; i += 8) {
            unsigned take = t.pos - i < 8 ? (unsigned) (t.pos - i) : 8;

            chunk_put(w, (uint64_t) (tmp[i / 8] >> (8 - take)), take);
        }
        return;
    }
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
 * when the code was "0" (the predicted value), or -1; version 3 direct
 * codes: 2 for the escape that puts a dod code first (only the joint code
 * may have it; the value code follows the dod).
 */
CHUNK_HOT int
chunk_get_value(chunk_br *r, pw_chunk_state_ *st)
{
    unsigned ones;
    int64_t  resid, a;

    if (chunk_v3_direct(st)) {
        int got;

        a = chunk_trend_step(st);
        if ((got = chunk_get_resid2(r, st, &resid, 1)) < 0)
            return -1;
        switch (got) {
        case 0:
            if (chunk_step_dec_at(st, a, resid) != 0)
                return -1;
            return resid == 0 ? 1 : 0;
        case 1 + CHUNK_ESC_ABS:
            return chunk_get_abs(r, st);
        case 1 + CHUNK_ESC_XOR_LAST:
        case 1 + CHUNK_ESC_XOR_NEW:
            return chunk_get_xor(r, st, got == 1 + CHUNK_ESC_XOR_LAST);
        default:
            return 2;                   /* a dod code follows: chunk_iter_token */
        }
    }
    if (chunk_get_ones(r, st->dec ? 4 : 3, &ones) != 0)
        return -1;
    if (st->dec) {
        if (st->moved && ones < 2)
            ones ^= 1;
        switch (ones) {
        case 0:
            return chunk_step_dec(st, 0) == 0 ? 1 : -1;
        case 1:
            a = chunk_trend_step(st);
            if ((st->ver >= 2 ? chunk_get_resid2(r, st, &resid, 0) : chunk_get_resid(r, st, &resid)) != 0)
                return -1;
            return chunk_step_dec_at(st, a, resid);
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

/* The header's facts (chunk.h holds the type: a pw_chunk keeps one). */
typedef pw_chunk_hdr_ chunk_hdr;

static size_t
chunk_hdr_put(uint8_t *p, const chunk_hdr *h)
{
    size_t n = 0;

    p[n++] = h->ver;
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

    if (len < 2 || p[0] < PW_CHUNK_VERSION_MIN || p[0] > PW_CHUNK_VERSION || (p[1] & ~CHUNK_FLAG_OPEN) != 0)
        return PW_EPROTO;
    if (chunk_uvarint_get(p, len, &pos, &count) != 0 || chunk_uvarint_get(p, len, &pos, &first) != 0
        || chunk_uvarint_get(p, len, &pos, &span) != 0)
        return PW_EPROTO;
    h->ver = p[0];
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
 * The open form's trailer, after the stream, all byte-aligned. Rewritten
 * whole by every append, so it may use varints freely; it lives as long as
 * the open chunk (one per series), so every byte counts.
 *
 * Version 1:
 *   uvarint  last ts delta
 *   8 bytes  last value bits, big-endian
 *   1 byte   scale << 4 | unused bits in the last stream byte
 *   1 byte   residual bit length << 2 | trend << 1 | decimal mode
 *   1 byte   XOR window leading zeros;  1 byte  trailing zeros
 *   varint   k, zigzag;  varint  k's last step, zigzag
 *   uvarint  pending run: predicted points after the stream
 *   1 byte   trailer length, this byte included
 * Version 2 (the value bits follow from k in decimal mode, k from nothing
 * in float mode: only one of them is kept):
 *   uvarint  last ts delta
 *   1 byte   unused bits in the last stream byte << 5 | scale << 1 | decimal mode
 *   1 byte   run's jit << 5 | jit << 4 | run's moved << 3 | moved << 2 | trend << 1
 *   1 byte   rl
 *   decimal mode: varint k, zigzag; varint k's last step, zigzag
 *   float mode:   8 bytes last value bits, big-endian
 *   uvarint  XOR window: lead | trail << 6
 *   uvarint  pending run
 *   uvarint  residual factor: fb | fd << 6 | pb << 11 | pd << 17
 *   1 byte   trailer length, this byte included
 */
static size_t
chunk_trailer_put1(uint8_t *p, const pw_chunk_state_ *st, unsigned pad)
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

static size_t
chunk_trailer_put2(uint8_t *p, const pw_chunk_state_ *st, unsigned pad)
{
    size_t   n = chunk_uvarint_put(p, st->delta);
    unsigned inrun = st->run > 0;

    p[n++] = (uint8_t) (pad << 5 | st->scale << 1 | st->dec);
    p[n++] = (uint8_t) (st->streak << 6 | (st->rjit & inrun) << 5 | st->jit << 4 | (st->rmoved & inrun) << 3
                        | st->moved << 2 | st->trend << 1 | (st->rdirect & inrun));
    p[n++] = st->rl;
    if (st->dec) {
        n += chunk_uvarint_put(p + n, chunk_zigzag(st->k));
        n += chunk_uvarint_put(p + n, chunk_zigzag(st->kdelta));
    } else {
        for (int i = 7; i >= 0; i--)
            p[n++] = (uint8_t) (st->vbits >> (8 * i));
    }
    n += chunk_uvarint_put(p + n, (uint64_t) st->lead | (uint64_t) st->trail << 6);
    n += chunk_uvarint_put(p + n, st->run);
    n += chunk_uvarint_put(p + n, (uint64_t) st->fb | (uint64_t) st->fd << 6 | (uint64_t) st->pb << 11
                                      | (uint64_t) st->pd << 17);
    p[n] = (uint8_t) (n + 1);
    return n + 1;
}

static size_t
chunk_trailer_put(uint8_t *p, const pw_chunk_state_ *st, unsigned pad)
{
    return st->ver >= 2 ? chunk_trailer_put2(p, st, pad) : chunk_trailer_put1(p, st, pad);
}

/* The open form's trailer, parsed (chunk.h holds the type: a pw_chunk keeps one). */
typedef pw_chunk_open_ chunk_open;

/* Version 1's fields from p[pos..end) into o; the checks common to both versions follow. */
static pw_err
chunk_trailer_get1(const uint8_t *p, size_t pos, size_t end, chunk_open *o, uint64_t *run)
{
    pw_chunk_state_ *st = &o->st;
    uint64_t         k, kdelta;
    uint8_t          mode;

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
        || chunk_uvarint_get(p, end, &pos, run) != 0 || pos != end)
        return PW_EPROTO;
    st->k = chunk_unzigzag(k);
    st->kdelta = chunk_unzigzag(kdelta);
    if (st->rbits > CHUNK_RESID_BITS || (st->lead + st->trail > 63 && (st->lead | st->trail) != 0))
        return PW_EPROTO;
    if (st->dec) {
        if (st->k <= -CHUNK_INT_LIMIT || st->k >= CHUNK_INT_LIMIT || chunk_dec_bits(st->k, st->scale) != st->vbits)
            return PW_EPROTO;
    } else if (st->k != 0 || st->kdelta != 0 || st->trend) {
        return PW_EPROTO;
    }
    return PW_OK;
}

static pw_err
chunk_trailer_get2(const uint8_t *p, size_t pos, size_t end, chunk_open *o, uint64_t *run)
{
    pw_chunk_state_ *st = &o->st;
    uint64_t         k = 0, kdelta = 0, win, fac;
    uint8_t          mode;

    if (chunk_uvarint_get(p, end, &pos, &st->delta) != 0 || end - pos < 3)
        return PW_EPROTO;
    o->pad = p[pos] >> 5;
    st->scale = (p[pos] >> 1) & 15;
    st->dec = p[pos++] & 1;
    mode = p[pos++];
    st->trend = (mode >> 1) & 1;
    st->moved = (mode >> 2) & 1;
    st->rmoved = (mode >> 3) & 1;
    st->jit = (mode >> 4) & 1;
    st->rjit = (mode >> 5) & 1;
    st->streak = mode >> 6;
    st->rdirect = mode & 1;
    st->rl = p[pos++];
    if ((st->ver < 3 && (mode & 0xc1) != 0) || (st->rl > 4 * 57 && st->rl != CHUNK_RL_UNSET)
        || (!st->dec && (st->trend || st->moved)) || (st->rdirect && !st->rmoved))
        return PW_EPROTO;
    if (st->dec) {
        if (chunk_uvarint_get(p, end, &pos, &k) != 0 || chunk_uvarint_get(p, end, &pos, &kdelta) != 0)
            return PW_EPROTO;
        st->k = chunk_unzigzag(k);
        st->kdelta = chunk_unzigzag(kdelta);
        if (st->k <= -CHUNK_INT_LIMIT || st->k >= CHUNK_INT_LIMIT)
            return PW_EPROTO;
        st->vbits = chunk_dec_bits(st->k, st->scale);
    } else {
        if (end - pos < 8)
            return PW_EPROTO;
        for (int i = 0; i < 8; i++)
            st->vbits = st->vbits << 8 | p[pos++];
    }
    if (chunk_uvarint_get(p, end, &pos, &win) != 0 || chunk_uvarint_get(p, end, &pos, run) != 0
        || chunk_uvarint_get(p, end, &pos, &fac) != 0 || pos != end)
        return PW_EPROTO;
    if (win >> 12 != 0 || fac >> 22 != 0 || st->streak > CHUNK_DIRECT_AFTER)
        return PW_EPROTO;
    st->lead = (uint8_t) (win & 63);
    st->trail = (uint8_t) (win >> 6);
    st->fb = (uint8_t) (fac & 63);
    st->fd = (uint8_t) ((fac >> 6) & 31);
    st->pb = (uint8_t) ((fac >> 11) & 63);
    st->pd = (uint8_t) (fac >> 17);
    /* valuations of residuals (|r| <= 2^55); the factor is the common part of two */
    if ((st->lead + st->trail > 63 && (st->lead | st->trail) != 0) || st->pb > CHUNK_MAX_FB
        || st->pd > CHUNK_MAX_FD || st->fb > st->pb || st->fd > st->pd || chunk_factor(st->pb, st->pd) == 0
        || ((st->rmoved || st->rdirect || st->rjit) && *run == 0)
        || (st->ver >= 3 && st->moved != (st->streak > 0)) || (st->streak && st->rl == CHUNK_RL_UNSET))
        return PW_EPROTO;
    return PW_OK;
}

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
    size_t           tlen = p[len - 1];
    uint64_t         run;
    pw_err           e;

    /* At least one stream byte sits between header and trailer. */
    if (tlen < (h->ver >= 2 ? 10u : 17u) || tlen > len - h->len - 1)
        return PW_EPROTO;
    memset(st, 0, sizeof *st);
    st->ver = h->ver;
    e = h->ver >= 2 ? chunk_trailer_get2(p, len - tlen, len - 1, o, &run)
                    : chunk_trailer_get1(p, len - tlen, len - 1, o, &run);
    if (e != PW_OK)
        return e;
    st->ts = h->last;
    o->len = tlen;
    if (o->pad > 7)
        return PW_EPROTO;
    /* Points 0 and 1 are never predicted (the first delta is news). */
    if (run > (h->count < 2 ? 0 : h->count - 2))
        return PW_EPROTO;
    st->run = (uint32_t) run;
    if (h->count == 1 ? st->delta != 0
                      : st->delta == 0 || st->delta > (uint64_t) h->last - (uint64_t) h->first)
        return PW_EPROTO;
    /* kdelta: a step (version 1), 16 times an average step (version 2) */
    if (st->dec && (st->kdelta <= -(h->ver >= 2 ? 32 : 2) * CHUNK_INT_LIMIT
                    || st->kdelta >= (h->ver >= 2 ? 32 : 2) * CHUNK_INT_LIMIT))
        return PW_EPROTO;
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
    chunk_state_init(&it->st, h.first, h.ver);
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
    uint8_t  moved, direct, jit;

    moved = it->st.moved;
    direct = chunk_v3_direct(&it->st);
    jit = it->st.jit;
    if (it->left < it->count && !jit && direct) {
        /* joint code, direct codes: dod 0 unless the value code's escape says otherwise */
        if ((pred = chunk_get_value(&r, &it->st)) == 2) {
            if (chunk_get_dod(&r, &dod) != 0 || chunk_step_ts(&it->st, dod) != 0)
                return -1;
            pred = chunk_get_value(&r, &it->st);
        } else {
            dod = 0;
            if (chunk_step_ts(&it->st, 0) != 0)
                return -1;
        }
        if (pred < 0 || pred > 1)
            return -1;
        goto value;
    }
    if (it->left < it->count) {
        if (it->st.ver >= 2 && !jit) {
            /* joint code: "11" escapes to a dod code, anything else is dod 0 */
            if (chunk_peek(&r) >> 62 == 3) {
                r.pos += 2;
                if (chunk_get_dod(&r, &dod) != 0)
                    return -1;
            } else {
                dod = 0;
            }
        } else if (chunk_get_dod(&r, &dod) != 0) {
            return -1;
        }
        if (chunk_step_ts(&it->st, dod) != 0)
            return -1;
    }
    if ((pred = chunk_get_value(&r, &it->st)) < 0 || pred > 1)
        return -1;
value:
    it->run_len = 0;
    if (dod == 0 && pred == 1) {
        if (chunk_get_gamma(&r, &n) != 0 || n > it->left - it->pending)
            return -1;
        it->st.rmoved = moved;
        it->st.rdirect = direct;
        it->st.rjit = jit;
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
    c->parsed.data = NULL;
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
    return pw_grow((void **) &c->data, &c->cap, need, 1, 64) ? PW_OK : PW_ENOMEM;
}

/*
 * The state as the open trailer keeps it, i.e. what chunk_trailer_get
 * gives back for it: fields a version does not store, and the run's flags
 * without a run, read back as 0. An append from the kept parse must write
 * what an append from the parsed bytes writes (chunk_test checks both
 * ways against each other).
 */
static void
chunk_state_kept(pw_chunk_state_ *st, int64_t last)
{
    st->ts = last;
    if (st->ver >= 2) {
        st->rbits = 0;
        if (!st->dec)
            st->k = st->kdelta = 0;
        if (st->run == 0)
            st->rjit = st->rmoved = st->rdirect = 0;
    } else {
        st->moved = st->rmoved = st->streak = st->rdirect = st->jit = st->rjit = st->rl = 0;
        st->fb = st->fd = st->pb = st->pd = 0;
    }
}

/* Keeps h and o as the parse of c's bytes as they are now (open form). */
static void
chunk_parse_keep(pw_chunk *c, const chunk_hdr *h, const chunk_open *o)
{
    c->parsed.data = c->data;
    c->parsed.len = c->len;
    c->parsed.h = *h;
    c->parsed.o = *o;
}

/* The kept parse of c's bytes into h and o: true, or false when there is none. */
static bool
chunk_parse_kept(const pw_chunk *c, chunk_hdr *h, chunk_open *o)
{
    if (c->parsed.data == NULL || c->parsed.data != c->data || c->parsed.len != c->len || c->len == 0)
        return false;
    *h = c->parsed.h;
    *o = c->parsed.o;
    return true;
}

pw_err
pw_chunk_info_of(const pw_chunk *c, uint32_t *count, int64_t *first, int64_t *last)
{
    chunk_hdr  h;
    chunk_open o;

    if (!chunk_parse_kept(c, &h, &o))
        return pw_chunk_info(c->data, c->len, count, first, last);
    *count = h.count;
    *first = h.first;
    *last = h.last;
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
    uint8_t    hdr[CHUNK_HDR_MAX];
    size_t     hlen = chunk_hdr_put(hdr, h), sbytes = (size_t) ((nbits + 7) / 8);
    chunk_hdr  hk = *h;
    chunk_open o;

    if (hlen != old_hlen)
        memmove(c->data + hlen, c->data + old_hlen, sbytes);
    memcpy(c->data, hdr, hlen);
    c->len = hlen + sbytes;
    o.pad = (unsigned) (sbytes * 8 - nbits);
    o.len = chunk_trailer_put(c->data + c->len, st, o.pad);
    c->len += o.len;
    hk.len = hlen;
    o.st = *st;
    chunk_state_kept(&o.st, h->last);
    chunk_parse_keep(c, &hk, &o);
}

static pw_err
chunk_append_first(pw_chunk *c, unsigned ver, int64_t ts, uint64_t v)
{
    chunk_hdr       h = { (uint8_t) ver, CHUNK_FLAG_OPEN, 1, ts, ts, 0 };
    pw_chunk_state_ st;
    chunk_bw        w;
    pw_err          e;

    if ((e = chunk_reserve(c, CHUNK_HDR_MAX + CHUNK_POINT_MAX + CHUNK_TRAILER_MAX)) != PW_OK)
        return e;
    h.len = chunk_hdr_put(c->data, &h);
    memset(c->data + h.len, 0, CHUNK_POINT_MAX);
    w.buf = c->data + h.len;
    w.pos = 0;
    chunk_state_init(&st, ts, ver);
    /* Version 2 starts the Rice code from the second value: the first one,
     * whatever its size, is an absolute k (or an XOR), never a residual. */
    if (ver >= 2 && !chunk_is_predicted(&st, v))
        chunk_put_jump(&w, &st, v);
    else
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

    c->parsed.data = NULL;
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
    uintptr_t  at = (uintptr_t) data, own = (uintptr_t) c->data;
    bool       mine = c->data != NULL && at < own + c->cap && at + len > own;  /* c's own bytes */

    pw_chunk_init(&tmp);
    if (len > 0) {
        if ((e = chunk_hdr_get(data, len, &h)) != PW_OK)
            return e;
        if ((h.flags & CHUNK_FLAG_OPEN) && (e = chunk_trailer_get(data, len, &h, &o)) != PW_OK)
            return e;
        /* The usual case, an open chunk from elsewhere: into c's own buffer, parse kept. */
        if ((h.flags & CHUNK_FLAG_OPEN) && !mine) {
            c->parsed.data = NULL;
            if ((e = chunk_reserve(c, len)) != PW_OK)
                return e;
            memcpy(c->data, data, len);
            c->len = len;
            chunk_parse_keep(c, &h, &o);
            return PW_OK;
        }
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
    bool       kept;
    pw_err     e;

    if (c->len == 0)
        return chunk_append_first(c, PW_CHUNK_VERSION, ts, chunk_bits(v));
    /* The parse the last load or append kept, else the header from the bytes. */
    kept = chunk_parse_kept(c, &h, &o);
    if (!kept && (e = chunk_hdr_get(c->data, c->len, &h)) != PW_OK)
        return e;
    /* Refusals first: a refused append leaves the chunk as it was. */
    if (ts <= h.last)
        return PW_EINVAL;
    if (h.count >= PW_CHUNK_MAX_POINTS)
        return PW_ETOOBIG;
    /* All the room first (a reopened chunk grows by a trailer): c changes only on success. */
    if ((e = chunk_reserve(c, c->len + 2 * CHUNK_TRAILER_MAX + CHUNK_POINT_MAX + CHUNK_HDR_MAX)) != PW_OK)
        return e;
    if (!kept) {
        if (!(h.flags & CHUNK_FLAG_OPEN) && (e = chunk_reopen(c, &h)) != PW_OK)
            return e;
        if ((e = chunk_trailer_get(c->data, c->len, &h, &o)) != PW_OK)
            return e;
    }
    w = chunk_stream_end(c, &h, &o);
    chunk_put_point(&w, &o.st, ts, chunk_bits(v));
    h.count++;
    h.last = ts;
    chunk_finish(c, &h, h.len, &o.st, w.pos);
    return PW_OK;
}

pw_err
pw_chunk_encode_version(pw_chunk *c, unsigned version, const int64_t *ts, const double *v, size_t n)
{
    pw_err e = PW_OK;

    if (c->len != 0 || version < PW_CHUNK_VERSION_MIN || version > PW_CHUNK_VERSION)
        return PW_EINVAL;
    if (n > PW_CHUNK_MAX_POINTS)
        return PW_ETOOBIG;
    if (n > 0)
        e = chunk_append_first(c, version, ts[0], chunk_bits(v[0]));
    for (size_t i = 1; i < n && e == PW_OK; i++)
        e = pw_chunk_append(c, ts[i], v[i]);
    if (e != PW_OK)
        pw_chunk_free(c);
    return e;
}

pw_err
pw_chunk_encode(pw_chunk *c, const int64_t *ts, const double *v, size_t n)
{
    return pw_chunk_encode_version(c, PW_CHUNK_VERSION, ts, v, n);
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
    c->parsed.data = NULL;
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
