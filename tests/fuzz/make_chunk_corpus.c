/*
 * make_chunk_corpus.c - writes the seed corpus of fuzz_chunk into
 * corpus-chunk/ (committed output). Run from tests/fuzz:
 *
 *   cc -std=c11 -D_GNU_SOURCE -I../../collector -I../../common \
 *      make_chunk_corpus.c ../../collector/chunk.c -lm -o /tmp/mkc && /tmp/mkc corpus-chunk
 *
 * Seeds are real chunks, open and sealed, of each kind of series the codec
 * has a code for (runs, decimals and their scales, XOR, the timestamp
 * buckets), a few damaged ones, and point lists for fuzz_chunk's second
 * reading (first ts, then 4-byte delta + 8-byte value records). Deterministic:
 * the same files every run.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

#define MK_N 400

typedef struct mk_series mk_series;
struct mk_series {
    const char *name;
    size_t      n;
    int64_t     ts[MK_N];
    double      v[MK_N];
};

static void
mk_write(const char *dir, const char *name, const void *p, size_t len)
{
    char  path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* The chunks of s at version ver; names of an older version than the newest start with "vN_". */
static void
mk_chunks(const char *dir, const mk_series *s, unsigned ver)
{
    pw_chunk c;
    char     name[128], pre[8] = "";

    if (ver != PW_CHUNK_VERSION)
        snprintf(pre, sizeof pre, "v%u_", ver);
    pw_chunk_init(&c);
    if (pw_chunk_encode_version(&c, ver, s->ts, s->v, s->n) != PW_OK)
        exit(1);
    snprintf(name, sizeof name, "%sopen_%s", pre, s->name);
    mk_write(dir, name, c.data, c.len);
    if (pw_chunk_seal(&c) != PW_OK)
        exit(1);
    snprintf(name, sizeof name, "%ssealed_%s", pre, s->name);
    mk_write(dir, name, c.data, c.len);
    if (c.len > 4) {            /* cut in the middle, and one bit flipped */
        snprintf(name, sizeof name, "%scut_%s", pre, s->name);
        mk_write(dir, name, c.data, c.len / 2);
        c.data[c.len / 2] ^= 0x10;
        snprintf(name, sizeof name, "%sflip_%s", pre, s->name);
        mk_write(dir, name, c.data, c.len);
    }
    pw_chunk_free(&c);
}

/* The same points as fuzz_chunk's point list. */
static void
mk_points(const char *dir, const mk_series *s)
{
    uint8_t buf[8 + 12 * 64];
    size_t  len = 0;
    char    name[128];

    for (int i = 0; i < 8; i++)
        buf[len++] = (uint8_t) ((uint64_t) s->ts[0] >> (8 * i));
    for (size_t j = 0; j < s->n && j < 64; j++) {
        uint64_t d = j ? (uint64_t) (s->ts[j] - s->ts[j - 1]) : 0, b;

        if (d > 0x7fffffffu)
            d = 0x80000000u | (d >> 32);
        memcpy(&b, &s->v[j], sizeof b);
        for (int i = 0; i < 4; i++)
            buf[len++] = (uint8_t) (d >> (8 * i));
        for (int i = 0; i < 8; i++)
            buf[len++] = (uint8_t) (b >> (8 * i));
    }
    snprintf(name, sizeof name, "points_%s", s->name);
    mk_write(dir, name, buf, len);
}

int
main(int argc, char **argv)
{
    static const uint64_t special[] = {
        0x8000000000000000u, 0x7ff8000000000000u, 0x7ff0000000000001u, 0x7ff0000000000000u,
        0xfff0000000000000u, 0x7fefffffffffffffu, 0x0000000000000001u, 0x433fffffffffffffu,
        0x4340000000000001u, 0x3fd3333333333334u,
    };
    const char *dir = argc > 1 ? argv[1] : "corpus-chunk";
    mk_series  *s = calloc(1, sizeof *s);
    uint64_t    rng = 1;

    if (s == NULL)
        return 1;
    for (int kind = 0; kind < 13; kind++) {
        double x = 0;

        memset(s, 0, sizeof *s);
        s->n = MK_N;
        for (size_t i = 0; i < s->n; i++) {
            rng = rng * 6364136223846793005u + 1442695040888963407u;
            s->ts[i] = INT64_C(1795000000000) + 10000 * (int64_t) i;
            switch (kind) {
            case 0: s->name = "constant"; x = 42; break;
            case 1: s->name = "counter"; x += 1000 + (double) (rng >> 54); break;
            case 2: s->name = "counter_reset"; x = i % 97 == 0 ? 0 : x + 7; break;
            case 3: s->name = "gauge2"; x = (double) (12345 + (int64_t) (rng >> 58) - 32) / 100; break;
            case 4: s->name = "gauge_full"; x = sin((double) i / 7) * 3.7; break;
            case 5: s->name = "specials"; memcpy(&x, &special[i % 10], sizeof x); break;
            case 6: s->name = "alternate"; x = i % 2 ? (double) i * 0.1 : (double) i; break;
            case 7: s->name = "jitter"; x = i % 5 ? 1 : 2; s->ts[i] += (int64_t) (rng >> 62) - 1; break;
            case 8: s->name = "gaps"; x = (double) i; s->ts[i] = INT64_C(1795000000000) + (int64_t) (i * i * i) * 1000; break;
            case 9: s->name = "scales"; x = (double) (int64_t) (rng >> 20) / pow(10, (double) (i % 16)); break;
            /* version 3's direct codes: a moving counter with jitter (dod escapes),
             * exact steps (runs), new scales and NaNs (the other escapes) */
            case 10:
                s->name = "counter_jitter";
                x += i % 11 < 6 ? 4 : 3 + (double) (rng >> 61);
                s->ts[i] += i % 7 == 0 ? (int64_t) (rng >> 62) : 0;
                break;
            case 11:
                s->name = "counter_escapes";
                x = 100.0 + 9.0 * (double) i;
                x = i % 13 != 12 ? x + (double) (rng >> 61) : i % 26 == 25 ? NAN : x + 0.5;
                break;
            default: s->name = "one"; s->n = 1; x = 3.5; break;
            }
            s->v[i] = x;
            if (s->n == 1)
                break;
        }
        mk_chunks(dir, s, PW_CHUNK_VERSION);
        if (kind < 10)
            mk_chunks(dir, s, 2);
        mk_points(dir, s);
    }
    free(s);
    mk_write(dir, "empty", "", 0);
    mk_write(dir, "bad_version", "\x04\x00\x01\x00\x00\x00", 6);
    mk_write(dir, "header_only", "\x01\x01\x05\x80\xf8\xb2\xe5\xbd\x68\xf0\xa2\x04", 12);
    return 0;
}
