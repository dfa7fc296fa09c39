/*
 * bytes.h - big-endian integers and LEB128 varints in byte buffers.
 *
 * Every on-disk key poolwatch writes to LMDB (spool, store) is big-endian,
 * so LMDB's memcmp key order is numeric order; lengths and ids inside
 * values are often varints. Callers own the buffers; the fixed-size
 * functions read or write exactly the bytes they name.
 */
#ifndef PW_BYTES_H
#define PW_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline void
pw_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static inline uint64_t
pw_get_be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void
pw_put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static inline uint32_t
pw_get_be32(const unsigned char *p)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v = (v << 8) | p[i];
    return v;
}

/* n (0..8) big-endian bytes at p (msgpack's integers, lengths). */
static inline uint64_t
pw_get_ben(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Longest LEB128 uvarint of a uint64_t. */
#define PW_UVARINT_MAX 10

/* Writes v as a LEB128 uvarint (7 bits a byte, low group first) at p; bytes written (1..10). */
static inline size_t
pw_uvarint_put(unsigned char *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (unsigned char) (v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char) v;
    return n;
}

/* Bytes pw_uvarint_put writes for v. */
static inline size_t
pw_uvarint_len(uint64_t v)
{
    size_t n = 1;

    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

/*
 * Reads a uvarint at p[*pos], bounded by len, advancing *pos. false if it is
 * cut short or over 64 bits (*pos is then somewhere inside it).
 */
static inline bool
pw_uvarint_get(const unsigned char *p, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t r = 0;

    for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
        unsigned char b = p[(*pos)++];

        if (shift == 63 && b > 1)
            return false;
        r |= (uint64_t) (b & 0x7f) << shift;
        if (b < 0x80) {
            *v = r;
            return true;
        }
    }
    return false;
}

/*
 * Timestamps in keys: flipping the sign bit maps INT64_MIN..INT64_MAX onto
 * 0..UINT64_MAX in order, so big-endian keys sort negative times first.
 */
static inline void
pw_put_ts(unsigned char *p, int64_t ts)
{
    pw_put_be64(p, (uint64_t) ts ^ (UINT64_C(1) << 63));
}

static inline int64_t
pw_get_ts(const unsigned char *p)
{
    uint64_t u = pw_get_be64(p) ^ (UINT64_C(1) << 63);

    /* Two's complement conversion without implementation-defined behaviour. */
    return u <= (uint64_t) INT64_MAX ? (int64_t) u : -(int64_t) (~u) - 1;
}

/* Value of the hex digit c (either case), -1 if c is none. */
static inline int
pw_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * A libvirt-style UUID as its 16 bytes: 32 hex digits (either case), dashes
 * anywhere ignored. False for anything else (*out is then undefined). This is
 * how the tenant scope and the reports compare a series' `vm` label with the
 * inventory's UUID, so both must read it the same way.
 */
#define PW_UUID_LEN 16
static inline bool
pw_uuid_parse(const char *s, unsigned char out[PW_UUID_LEN])
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        int h;

        if (*s == '-')
            continue;
        if ((h = pw_hex_digit((unsigned char) *s)) < 0 || n == 2 * PW_UUID_LEN)
            return false;
        if (n % 2 == 0)
            out[n / 2] = (unsigned char) (h << 4);
        else
            out[n / 2] |= (unsigned char) h;
        n++;
    }
    return n == 2 * PW_UUID_LEN;
}

#endif
