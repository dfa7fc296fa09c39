/*
 * fuzz_chunk.c - libFuzzer target for the chunk codec (collector/chunk.h).
 *
 * Every input is read two ways:
 *
 *  - as chunk bytes. Besides "no crash, no out-of-bounds read" (ASan/UBSan)
 *    it checks what the decoder promises: time strictly increases, never
 *    more points than the header's count, and a sealed chunk that decodes
 *    loads, takes one more point and decodes to its points plus that one.
 *    An open chunk is only loaded and appended to: its state is trusted,
 *    not checked against the stream (that would make appends O(n)).
 *
 *  - as points to encode: 8 bytes of first timestamp, then records of a
 *    4-byte delta (top bit set: << 32; 0 means 1) and 8 bytes of value bits.
 *    They must come back bit for bit, open and sealed, and encoding the
 *    first half, sealing, loading and appending the rest must give the
 *    bytes of one encode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

#define FZ_MAX_POINTS 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
fz_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static uint64_t
fz_bits(double v)
{
    uint64_t b;

    memcpy(&b, &v, sizeof b);
    return b;
}

/* Decodes data/len into ts/v (room for cap); the count, or -1 if damaged. */
static long
fz_decode(const uint8_t *data, size_t len, int64_t *ts, double *v, size_t cap)
{
    pw_chunk_iter it;
    int64_t       t, prev = 0;
    double        x;
    long          n = 0;
    int           r;

    if (pw_chunk_iter_init(&it, data, len) != PW_OK) {
        if (pw_chunk_iter_next(&it, &t, &x) != -1)
            abort();            /* a refused chunk yields nothing */
        return -1;
    }
    while ((r = pw_chunk_iter_next(&it, &t, &x)) == 1) {
        if (n > 0 && t <= prev)
            abort();
        prev = t;
        if ((size_t) n < cap) {
            ts[n] = t;
            v[n] = x;
        }
        n++;
    }
    if (n > (long) pw_chunk_count(data, len))
        abort();
    return r == 0 ? n : -1;
}

/*
 * Two appends to the chunk in data: from the parse a chunk keeps (load, then
 * the first append's state) and from its bytes parsed anew before each
 * (reloading a chunk's own bytes keeps no parse) must write the same bytes,
 * whatever valid state the trailer holds.
 */
static void
fz_kept_vs_parsed(const uint8_t *data, size_t size)
{
    static const double vals[2] = { 0.25, 1e300 };
    pw_chunk kept, parsed;
    uint32_t count;
    int64_t  first, last;
    pw_err   e1, e2;

    pw_chunk_init(&kept);
    pw_chunk_init(&parsed);
    if (pw_chunk_load(&kept, data, size) != PW_OK || kept.len == 0
        || pw_chunk_info(kept.data, kept.len, &count, &first, &last) != PW_OK
        || last > INT64_MAX - 20 || count + 2 > PW_CHUNK_MAX_POINTS)
        goto out;
    if (pw_chunk_load(&parsed, data, size) != PW_OK)
        abort();
    for (int i = 0; i < 2; i++) {
        if (pw_chunk_load(&parsed, parsed.data, parsed.len) != PW_OK)
            abort();
        e1 = pw_chunk_append(&kept, last + 10 * (i + 1) + i, vals[i]);
        e2 = pw_chunk_append(&parsed, last + 10 * (i + 1) + i, vals[i]);
        if (e1 != e2 || kept.len != parsed.len || memcmp(kept.data, parsed.data, kept.len) != 0)
            abort();
    }
out:
    pw_chunk_free(&kept);
    pw_chunk_free(&parsed);
}

/* ts, v, ts2, v2: room for PW_CHUNK_MAX_POINTS + 1 points each. */
static void
fz_as_chunk(const uint8_t *data, size_t size, int64_t *ts, double *v, int64_t *ts2, double *v2)
{
    long     n = fz_decode(data, size, ts, v, PW_CHUNK_MAX_POINTS);
    pw_chunk c;
    int      sealed = size > 1 && !(data[1] & 1);
    int64_t  last;

    pw_chunk_init(&c);
    if (pw_chunk_load(&c, data, size) != PW_OK) {
        if (sealed && n > 0)
            abort();            /* a sealed chunk that decodes must load */
        return;
    }
    last = pw_chunk_last_ts(c.data, c.len);
    if (c.len > 0 && last < INT64_MAX && pw_chunk_count(c.data, c.len) < PW_CHUNK_MAX_POINTS) {
        pw_err e = pw_chunk_append(&c, last + 1, 0.25);

        if (sealed && n > 0) {
            long m;

            if (e != PW_OK)
                abort();
            m = fz_decode(c.data, c.len, ts2, v2, PW_CHUNK_MAX_POINTS + 1);
            if (m != n + 1 || ts2[n] != last + 1 || v2[n] != 0.25
                || memcmp(ts, ts2, (size_t) n * sizeof *ts) != 0
                || memcmp(v, v2, (size_t) n * sizeof *v) != 0)
                abort();
            if (pw_chunk_seal(&c) != PW_OK || fz_decode(c.data, c.len, ts2, v2, PW_CHUNK_MAX_POINTS + 1) != m)
                abort();
        } else {
            (void) fz_decode(c.data, c.len, ts2, v2, PW_CHUNK_MAX_POINTS + 1);
        }
    }
    pw_chunk_free(&c);
    fz_kept_vs_parsed(data, size);
}

/* ts, v, dts, dv: room for FZ_MAX_POINTS points each. */
static void
fz_as_points(const uint8_t *data, size_t size, int64_t *ts, double *v, int64_t *dts, double *dv)
{
    pw_chunk whole, part;
    size_t   n = 0, m, dn;
    int64_t  t;

    if (size < 8)
        return;
    t = (int64_t) fz_le(data, 8);
    for (size_t off = 8; off + 12 <= size && n < FZ_MAX_POINTS; off += 12) {
        uint64_t d = fz_le(data + off, 4);

        d = (d & 0x80000000u) ? (d & 0x7fffffffu) << 32 : d;
        if (n > 0) {
            if (d == 0)
                d = 1;
            if (t > INT64_MAX - (int64_t) d)
                break;
            t += (int64_t) d;
        }
        ts[n] = t;
        v[n] = 0;
        memcpy(&v[n], data + off + 4, 8);
        n++;
    }
    pw_chunk_init(&whole);
    pw_chunk_init(&part);
    if (pw_chunk_encode(&whole, ts, v, n) != PW_OK)
        abort();
    if (pw_chunk_decode(whole.data, whole.len, dts, dv, n, &dn) != PW_OK || dn != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (dts[i] != ts[i] || fz_bits(dv[i]) != fz_bits(v[i]))
            abort();
    m = n / 2;
    if (pw_chunk_encode(&part, ts, v, m) != PW_OK || pw_chunk_seal(&part) != PW_OK)
        abort();
    {
        pw_chunk again;

        pw_chunk_init(&again);
        if (pw_chunk_load(&again, part.data, part.len) != PW_OK)
            abort();
        for (size_t i = m; i < n; i++)
            if (pw_chunk_append(&again, ts[i], v[i]) != PW_OK)
                abort();
        if (again.len != whole.len || (n > 0 && memcmp(again.data, whole.data, whole.len) != 0))
            abort();
        pw_chunk_free(&again);
    }
    if (pw_chunk_seal(&whole) != PW_OK || pw_chunk_decode(whole.data, whole.len, dts, dv, n, &dn) != PW_OK
        || dn != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (dts[i] != ts[i] || fz_bits(dv[i]) != fz_bits(v[i]))
            abort();
    pw_chunk_free(&whole);
    pw_chunk_free(&part);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t   room = PW_CHUNK_MAX_POINTS + 1;
    int64_t *ts = malloc(2 * room * sizeof *ts);
    double  *v = malloc(2 * room * sizeof *v);

    if (ts == NULL || v == NULL)
        abort();
    fz_as_chunk(data, size, ts, v, ts + room, v + room);
    fz_as_points(data, size, ts, v, ts + room, v + room);
    free(ts);
    free(v);
    return 0;
}
