/*
 * chunk.h - compressed, appendable chunks of one series' points.
 *
 * A chunk is a byte string: a small header and a bit stream of points in
 * strictly increasing time order. Timestamps are delta-of-delta coded (a
 * regular 10 s series costs about one bit per point); values are coded per
 * point as the predicted value (same as before, or a steady counter's next
 * step), a residual of a decimal k / 10^scale (integers, counters, "12.34"),
 * or a Gorilla-style XOR of the float64 bits. A run of points that are
 * exactly as predicted (constants) is one token; a series that moves at
 * every point pays no prefix bit for it (version 3's direct codes). Every
 * value round-trips bit for bit, -0.0, NaN payloads and +-Inf included. The
 * format is in collector/README.md, "Chunk format".
 *
 * Two forms of the same bytes:
 *   open   - a trailer also keeps the appender's state, so a point can be
 *            appended to the bytes alone in O(1) (the open chunk of each
 *            series lives in LMDB between frames, so a kill -9 loses nothing);
 *   sealed - pw_chunk_seal drops that state (about 20 bytes) once no more
 *            points will come. Both forms iterate the same way.
 * A version byte leads the header; decoders refuse versions they do not know.
 *
 * Ordering policy: a chunk never holds two points with the same timestamp
 * nor points out of order; pw_chunk_append refuses them (PW_EINVAL) and the
 * storage engine decides (replace, merge by re-encoding, or drop).
 *
 * Ownership: a pw_chunk owns its buffer (pw_chunk_free). Iterators borrow
 * the bytes they are given, which must outlive them. No global state.
 */
#ifndef PW_CHUNK_H
#define PW_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"

#define PW_CHUNK_VERSION    3         /* what new chunks are written as */
#define PW_CHUNK_VERSION_MIN 1        /* the oldest version still read (and appended to) */
#define PW_CHUNK_MAX_POINTS 8192u      /* hard cap; engines seal well before */

/*
 * Coder state after a point, the same for the appender (kept in the open
 * form's trailer) and the iterator: private, here only so that an iterator
 * can live on the stack.
 */
typedef struct pw_chunk_state_ {
    int64_t  ts;            /* last timestamp */
    uint64_t delta;         /* last timestamp delta (mod 2^64; 0 before the 2nd point) */
    uint64_t vbits;         /* last value, IEEE 754 bits */
    int64_t  k, kdelta;     /* decimal mode: last value == k / 10^scale; last step of k (v2: 16 x the average step) */
    uint32_t run;           /* predicted points: pending (appender), still to return (iterator) */
    uint8_t  dec, scale;    /* decimal mode on; its scale (0..15) */
    uint8_t  trend;         /* decimal mode: next k predicted as k + kdelta (else k) */
    uint8_t  rbits;         /* v1, decimal mode: bit length of the last residual's |r| - 1 */
    uint8_t  lead, trail;   /* XOR window: leading / trailing zero bits */
    /* version 2 only (v1 leaves them 0) */
    uint8_t  ver;           /* the chunk's version: which codes apply */
    uint8_t  moved;         /* the last value code was a residual (prefixes swap) */
    uint8_t  rmoved;        /* moved when the pending / last run started */
    uint8_t  streak;        /* v3: residual codes in a row, up to 3 (at 3: direct codes) */
    uint8_t  rdirect;       /* v3: direct codes when the pending / last run started */
    uint8_t  jit, rjit;     /* the last dod was not 0 (separate ts code); jit when the run started */
    uint8_t  rl;            /* 4 x the residuals' smoothed bit length: the Rice parameter */
    uint8_t  fb, fd;        /* residual factor 2^fb * 5^fd: min of the last two residuals' */
    uint8_t  pb, pd;        /* the last residual's 2-adic and 5-adic valuations */
} pw_chunk_state_;

/*
 * The appender's parse of an open chunk's header and trailer: private. The
 * calls that write a chunk keep it, so that appending to a chunk that was
 * just loaded or appended to parses neither again (the engine appends one
 * point per series per frame). It describes data[0..len) only while both
 * are the ones it names.
 */
typedef struct pw_chunk_hdr_ {
    uint8_t  ver;
    uint8_t  flags;
    uint32_t count;
    int64_t  first, last;
    size_t   len;               /* header bytes */
} pw_chunk_hdr_;

typedef struct pw_chunk_open_ {
    pw_chunk_state_ st;         /* as the trailer keeps it */
    unsigned        pad;        /* unused low bits of the last stream byte */
    size_t          len;        /* trailer bytes */
} pw_chunk_open_;

typedef struct pw_chunk_parse_ {
    const uint8_t  *data;       /* the chunk it describes, NULL: none */
    size_t          len;
    pw_chunk_hdr_   h;
    pw_chunk_open_  o;
} pw_chunk_parse_;

/*
 * data, len and cap are read-only outside chunk.c: a chunk's bytes change
 * only through these calls (which keep `parsed` in step).
 */
typedef struct pw_chunk {
    uint8_t        *data;       /* header + bit stream; malloc'd, owned */
    size_t          len;        /* bytes in use */
    size_t          cap;        /* bytes allocated */
    pw_chunk_parse_ parsed;     /* private */
} pw_chunk;

/* An empty open chunk (no allocation until the first append). */
void   pw_chunk_init(pw_chunk *c);
void   pw_chunk_free(pw_chunk *c);

/*
 * Makes c (initialized; its buffer is reused, grown when too small) a copy
 * of the open or sealed chunk in data/len, validating its header and, for an open
 * chunk, its appender state (the stream is not decoded: that would make
 * appends O(n)). A sealed chunk is decoded once to rebuild that state, so c
 * comes out in open form; pw_chunk_seal gives back the same bytes.
 * len 0 loads the empty chunk. PW_EPROTO: not a chunk, unknown version,
 * inconsistent header or state, or (sealed) a stream that does not decode;
 * c is then unchanged.
 */
pw_err pw_chunk_load(pw_chunk *c, const void *data, size_t len);

/*
 * Appends one point, O(1) amortized on an open chunk (a sealed one is
 * reopened first, decoding it once). PW_EINVAL if ts <= the last timestamp;
 * PW_ETOOBIG if the chunk holds PW_CHUNK_MAX_POINTS already; PW_ENOMEM;
 * PW_EPROTO if c's bytes are not a valid chunk. On any error c is unchanged.
 */
pw_err pw_chunk_append(pw_chunk *c, int64_t ts, double v);

/*
 * Encodes n points (ts strictly increasing) into an empty c, in open form
 * (the same bytes as n appends). Errors as append (PW_EINVAL also if c is
 * not empty); on error c is left empty.
 */
pw_err pw_chunk_encode(pw_chunk *c, const int64_t *ts, const double *v, size_t n);

/*
 * pw_chunk_encode at a given version (PW_CHUNK_VERSION_MIN..PW_CHUNK_VERSION):
 * the tests and the codec benchmark make old-version chunks with it. A chunk
 * keeps its version for life: appends to a version 1 chunk write version 1
 * codes (no re-encoding, appends stay O(1)). PW_EINVAL for another version.
 */
pw_err pw_chunk_encode_version(pw_chunk *c, unsigned version, const int64_t *ts, const double *v,
                               size_t n);

/* Turns an open chunk into its sealed form in place (smaller). Idempotent. */
pw_err pw_chunk_seal(pw_chunk *c);

/* Header facts, read without decoding the stream (0 for an empty or invalid chunk). */
/*
 * All three header facts in one parse (the engine needs them per appended
 * point). PW_EPROTO for an invalid header; an empty chunk (len 0) is PW_OK
 * with count 0.
 */
pw_err   pw_chunk_info(const void *data, size_t len, uint32_t *count, int64_t *first, int64_t *last);
/* pw_chunk_info of c's bytes, from the parse c keeps when it has one. */
pw_err   pw_chunk_info_of(const pw_chunk *c, uint32_t *count, int64_t *first, int64_t *last);
uint32_t pw_chunk_count(const void *data, size_t len);
int64_t  pw_chunk_first_ts(const void *data, size_t len);
int64_t  pw_chunk_last_ts(const void *data, size_t len);

typedef struct pw_chunk_iter {
    const uint8_t  *data;
    size_t          len;
    /* decoder state: private */
    uint64_t        bitpos, nbits;  /* bit offsets into data: next bit, end of stream */
    uint64_t        run_at;         /* where the last run token starts, if run_len */
    uint32_t        run_len;        /* points of the last token if it was a run, else 0 */
    uint32_t        left, count;    /* points not yet returned; in the chunk */
    uint32_t        pending;        /* open form: the trailer's run, after the stream */
    int64_t         last_ts;        /* the header's, checked against the stream */
    pw_chunk_state_ st;
    int             err;
} pw_chunk_iter;

/*
 * Starts iterating the chunk in data/len (borrowed). PW_EPROTO if the header
 * is not valid; then pw_chunk_iter_next returns -1 at once.
 */
pw_err pw_chunk_iter_init(pw_chunk_iter *it, const void *data, size_t len);

/*
 * 1: the next point is in *ts and *v; 0: no more points; -1: corrupt stream.
 * Checks include strictly increasing time, the header's count and last
 * timestamp, and nothing but zero padding after the last point; damage
 * that passes them yields wrong points, never an out-of-bounds read.
 */
int    pw_chunk_iter_next(pw_chunk_iter *it, int64_t *ts, double *v);

/*
 * Decodes a whole chunk into ts[0..*n) and v[0..*n). PW_ETOOBIG if cap <
 * pw_chunk_count; PW_EPROTO on a bad header or stream (*n points decoded).
 */
pw_err pw_chunk_decode(const void *data, size_t len, int64_t *ts, double *v, size_t cap,
                       size_t *n);

#endif
