/*
 * tests/bench/codec/codec_bench.c - bytes per sample and CPU cost of the
 * chunk codec (collector/chunk.c) on the storage benchmark's data, per kind
 * of series, for every chunk version, next to zstd references.
 *
 *   gen prom ... --order series --out - | codec_bench [--points N] [--open N]
 *
 * Reads Prometheus text in series order (each series' points together, as
 * tests/bench/storage/gen.c writes it with --order series), keeps the last
 * --points (720) points of every series and reports, per kind and in all:
 *   - sealed chunks of --points points (header included);
 *   - open chunks of --open (90) points, trailer included (what chunk_head
 *     holds between frames);
 * for each chunk version; then zstd over the sealed chunks (one at a time,
 * and packs of one series' consecutive chunks from its whole history), and a
 * VictoriaMetrics-like block (values as decimal mantissas with the block's
 * common exponent, delta or delta-of-delta, zigzag varints; timestamps the
 * same; zstd per block) as a reference. See README.md beside this file.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zstd.h>

#include "bytes.h"
#include "chunk.h"

#define CB_NKINDS 10

static const char *const cb_kind_names[CB_NKINDS] = {
    "cpu ticks counters", "byte counters (1 B)", "byte counters (4096 B)", "packet/IO counters",
    "load gauges (2 dec)", "4096-byte gauges", "Hz gauges (10^6)", "decimal gauges (1,4,6 dec)",
    "integer gauges", "constants",
};

/* The kind of a series from its metric name (the generator's SPECS). */
static int
cb_kind(const char *key)
{
    if (strncmp(key, "node_cpu_seconds_total", 22) == 0)
        return 0;
    if (strncmp(key, "node_network_", 13) == 0 && strstr(key, "_bytes_total"))
        return 1;
    if (strncmp(key, "node_disk_", 10) == 0 && strstr(key, "_bytes_total"))
        return 2;
    if (strstr(key, "_total{"))
        return 3;
    if (strncmp(key, "node_load", 9) == 0)
        return 4;
    if (strncmp(key, "node_memory_", 12) == 0 && !strstr(key, "Total"))
        return 5;
    if (strncmp(key, "node_filesystem_avail", 21) == 0 || strncmp(key, "node_filesystem_free", 20) == 0)
        return 5;
    if (strncmp(key, "node_cpu_scaling_frequency", 26) == 0)
        return 6;
    if (strstr(key, "ratio") || strstr(key, "timex_offset") || strstr(key, "hwmon_temp"))
        return 7;
    if (strstr(key, "procs_") || strstr(key, "sockstat") || strstr(key, "netstat") || strstr(key, "entropy_available"))
        return 8;
    return 9;
}

typedef struct cb_acc cb_acc;
struct cb_acc {
    double points, sealed[PW_CHUNK_VERSION + 1], open[PW_CHUNK_VERSION + 1], zstd_chunk, vm;
    long   series;
};


static double
cb_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

static void
cb_die(const char *what)
{
    fprintf(stderr, "codec_bench: %s\n", what);
    exit(1);
}

/* Sealed chunk of n points at version ver into c (initialized, empty). */
static void
cb_encode(pw_chunk *c, unsigned ver, const int64_t *ts, const double *v, size_t n, bool seal)
{
    if (pw_chunk_encode_version(c, ver, ts, v, n) != PW_OK || (seal && pw_chunk_seal(c) != PW_OK))
        cb_die("encode failed");
}

/* Round trip check: the chunk gives back exactly the points. */
static void
cb_verify(const pw_chunk *c, const int64_t *ts, const double *v, size_t n, int64_t *dts, double *dv)
{
    size_t m;

    if (pw_chunk_decode(c->data, c->len, dts, dv, n, &m) != PW_OK || m != n)
        cb_die("decode failed");
    for (size_t i = 0; i < n; i++)
        if (dts[i] != ts[i] || memcmp(&dv[i], &v[i], sizeof v[i]) != 0)
            cb_die("round trip differs");
}

/* ---- VictoriaMetrics-like reference block ---------------------------------- */

static uint64_t
cb_zz(int64_t v)
{
    return ((uint64_t) v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

/* v as m * 10^e with the fewest digits (|m| < 2^53), or false. */
static bool
cb_decimal(double v, int64_t *m, int *e)
{
    char  buf[40];
    char *dot, *exp;
    int   ex = 0, frac = 0;
    char  digits[40];
    int   nd = 0;

    if (!isfinite(v))
        return false;
    snprintf(buf, sizeof buf, "%.17g", v);
    for (int p = 1; p <= 17; p++) {       /* the shortest that reads back */
        snprintf(buf, sizeof buf, "%.*e", p - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    exp = strchr(buf, 'e');
    ex = atoi(exp + 1);
    *exp = '\0';
    dot = strchr(buf, '.');
    for (char *q = buf; *q; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    digits[nd] = '\0';
    frac = dot ? (int) strlen(dot + 1) : 0;
    *m = strtoll(digits, NULL, 10) * (buf[0] == '-' ? -1 : 1);
    *e = ex - frac;
    while (*m != 0 && *m % 10 == 0) {
        *m /= 10;
        (*e)++;
    }
    return true;
}

/* Bytes of n int64s as zigzag varints of their deltas (order 1 or 2). */
static size_t
cb_deltas(uint8_t *out, const int64_t *x, size_t n, int order)
{
    size_t  len = 0;
    int64_t prev = 0, pdelta = 0;

    for (size_t i = 0; i < n; i++) {
        int64_t d = x[i] - prev;

        len += pw_uvarint_put(out + len, cb_zz(order == 1 || i < 2 ? (i == 0 ? x[i] : d) : d - pdelta));
        pdelta = d;
        prev = x[i];
    }
    return len;
}

static size_t
cb_zstd(const void *src, size_t n, int level)
{
    size_t cap = ZSTD_compressBound(n), r;
    void  *dst = malloc(cap);

    if (!dst)
        cb_die("out of memory");
    r = ZSTD_compress(dst, cap, src, n, level);
    free(dst);
    if (ZSTD_isError(r))
        cb_die("zstd failed");
    return r;
}

/*
 * A VictoriaMetrics-like block: values as mantissas at the block's smallest
 * exponent, then delta or delta-of-delta (whichever is smaller), zigzag
 * varints, zstd; timestamps the same. Block headers are not counted.
 */
static size_t
cb_vm_block(const int64_t *ts, const double *v, size_t n, int level)
{
    int64_t *m = malloc(n * sizeof *m);
    int     *e = malloc(n * sizeof *e);
    uint8_t *b1 = malloc(n * 10 + 16), *b2 = malloc(n * 10 + 16);
    size_t   bytes, l1, l2;
    int      emin = 1000;
    bool     dec = true;

    if (!m || !e || !b1 || !b2)
        cb_die("out of memory");
    for (size_t i = 0; i < n && dec; i++) {
        dec = cb_decimal(v[i], &m[i], &e[i]);
        if (dec && m[i] != 0 && e[i] < emin)
            emin = e[i];
    }
    if (emin == 1000)
        emin = 0;
    for (size_t i = 0; i < n && dec; i++) {
        for (int k = e[i]; k > emin && m[i] != 0; k--) {
            if (m[i] > INT64_MAX / 10 || m[i] < INT64_MIN / 10) {
                dec = false;
                break;
            }
            m[i] *= 10;
        }
    }
    if (!dec)       /* raw float bits instead */
        for (size_t i = 0; i < n; i++)
            memcpy(&m[i], &v[i], sizeof m[i]);
    l1 = cb_deltas(b1, m, n, 1);
    l2 = cb_deltas(b2, m, n, 2);
    bytes = cb_zstd(l1 <= l2 ? b1 : b2, l1 <= l2 ? l1 : l2, level) + 1;     /* + exponent */
    l1 = cb_deltas(b1, ts, n, 2);
    bytes += cb_zstd(b1, l1, level);
    free(m);
    free(e);
    free(b1);
    free(b2);
    return bytes;
}

/* ---- input ----------------------------------------------------------------- */

typedef struct cb_series cb_series;
struct cb_series {
    char    *key;
    int64_t *ts;
    double  *v;
    size_t   n, cap;
};

static void
cb_push(cb_series *s, int64_t t, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->ts = realloc(s->ts, s->cap * sizeof *s->ts);
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->ts || !s->v)
            cb_die("out of memory");
    }
    s->ts[s->n] = t;
    s->v[s->n++] = x;
}

/* ---- one series ------------------------------------------------------------ */

typedef struct cb_run cb_run;
struct cb_run {
    size_t  points, open;
    cb_acc  acc[CB_NKINDS];
    /* every series' last points, kept for the CPU timing at the end */
    int64_t *all_ts;
    double  *all_v;
    size_t   all_n, all_cap;
    double  pack_points, pack_bytes[PW_CHUNK_VERSION + 1], pack_zstd[PW_CHUNK_VERSION + 1];
    double  long_points, long_sealed[PW_CHUNK_VERSION + 1], long_vm;
    int     level;
};

static void
cb_series_done(cb_run *r, cb_series *s)
{
    size_t   n = s->n < r->points ? s->n : r->points;
    int64_t *ts = s->ts + (s->n - n), *dts;
    double  *v = s->v + (s->n - n), *dv;
    cb_acc  *a = &r->acc[cb_kind(s->key)];

    if (n == 0)
        return;
    dts = malloc(s->n * sizeof *dts);
    dv = malloc(s->n * sizeof *dv);
    if (!dts || !dv)
        cb_die("out of memory");
    a->series++;
    a->points += (double) n;
    if (n == r->points) {
        if (r->all_n + n > r->all_cap) {
            r->all_cap = r->all_cap ? 2 * r->all_cap : 1 << 20;
            r->all_ts = realloc(r->all_ts, r->all_cap * sizeof *r->all_ts);
            r->all_v = realloc(r->all_v, r->all_cap * sizeof *r->all_v);
            if (!r->all_ts || !r->all_v)
                cb_die("out of memory");
        }
        memcpy(r->all_ts + r->all_n, ts, n * sizeof *ts);
        memcpy(r->all_v + r->all_n, v, n * sizeof *v);
        r->all_n += n;
    }
    for (unsigned ver = PW_CHUNK_VERSION_MIN; ver <= PW_CHUNK_VERSION; ver++) {
        pw_chunk c;

        pw_chunk_init(&c);
        cb_encode(&c, ver, ts, v, n, true);
        cb_verify(&c, ts, v, n, dts, dv);
        a->sealed[ver] += (double) c.len;
        if (ver == PW_CHUNK_VERSION)
            a->zstd_chunk += (double) cb_zstd(c.data, c.len, r->level);
        pw_chunk_free(&c);
        for (size_t at = 0; at < n; at += r->open) {
            size_t m = n - at < r->open ? n - at : r->open;

            cb_encode(&c, ver, ts + at, v + at, m, false);
            cb_verify(&c, ts + at, v + at, m, dts, dv);
            a->open[ver] += (double) c.len;
            pw_chunk_free(&c);
        }
    }
    a->vm += (double) cb_vm_block(ts, v, n, r->level);
    /* A long history (node_load1 of the long hosts): sealed chunks and packs of them. */
    if (s->n >= 20 * r->points) {
        size_t whole = s->n / r->points * r->points;

        r->long_points += (double) whole;
        for (unsigned ver = PW_CHUNK_VERSION_MIN; ver <= PW_CHUNK_VERSION; ver++) {
            uint8_t *pack = malloc(16384 + 4096);
            size_t   plen = 0;

            if (!pack)
                cb_die("out of memory");
            for (size_t at = 0; at < whole; at += r->points) {
                pw_chunk c;

                pw_chunk_init(&c);
                cb_encode(&c, ver, s->ts + at, s->v + at, r->points, true);
                r->long_sealed[ver] += (double) c.len;
                /* packs of up to 4 pages, as points_chunk.c builds them */
                if (plen + c.len + 2 > 16368 && plen > 0) {
                    r->pack_bytes[ver] += (double) plen;
                    r->pack_zstd[ver] += (double) cb_zstd(pack, plen, r->level);
                    plen = 0;
                }
                memcpy(pack + plen, c.data, c.len);
                plen += c.len + 2;      /* its length prefix, about */
                pw_chunk_free(&c);
            }
            if (plen > 0) {
                r->pack_bytes[ver] += (double) plen;
                r->pack_zstd[ver] += (double) cb_zstd(pack, plen, r->level);
            }
            free(pack);
        }
        for (size_t at = 0; at < whole; at += r->points)
            r->long_vm += (double) cb_vm_block(s->ts + at, s->v + at, r->points, r->level);
        r->pack_points += (double) whole;
    }
    free(dts);
    free(dv);
}

/*
 * CPU per million points, the best of 3 rounds over all the kept series:
 * encode = pw_chunk_encode_version (appends) + seal, decode = pw_chunk_decode
 * of the sealed chunks; and one append to an open chunk of 90 points as the
 * engine does it (pw_chunk_load of the open bytes + append).
 */
static void
cb_cpu_report(const cb_run *r)
{
    size_t    nch = r->all_n / r->points;
    pw_chunk *ch = calloc(nch ? nch : 1, sizeof *ch);
    int64_t  *dts = malloc(r->points * sizeof *dts);
    double   *dv = malloc(r->points * sizeof *dv);

    if (!ch || !dts || !dv)
        cb_die("out of memory");
    printf("\nCPU s per million points, best of 3 (%zu chunks of %zu points; encode = appends + seal, "
           "decode = pw_chunk_decode of the sealed chunk, append = pw_chunk_load of an open chunk + "
           "pw_chunk_append, as the engine does per point):\n", nch, r->points);
    for (unsigned ver = PW_CHUNK_VERSION_MIN; ver <= PW_CHUNK_VERSION; ver++) {
        double enc = 1e9, dec = 1e9, app = 1e9;
        size_t m;

        for (int round = 0; round < 3; round++) {
            double t0 = cb_now(), t1, t2, t3;

            for (size_t i = 0; i < nch; i++) {
                pw_chunk_free(&ch[i]);
                cb_encode(&ch[i], ver, r->all_ts + i * r->points, r->all_v + i * r->points, r->points, true);
            }
            t1 = cb_now();
            for (size_t i = 0; i < nch; i++)
                if (pw_chunk_decode(ch[i].data, ch[i].len, dts, dv, r->points, &m) != PW_OK)
                    cb_die("decode failed");
            t2 = cb_now();
            /* the engine's append: load the open chunk's bytes, append, (store) */
            for (size_t i = 0; i < nch; i += 16) {
                const int64_t *ts = r->all_ts + i * r->points;
                const double  *v = r->all_v + i * r->points;
                pw_chunk       open, c;

                pw_chunk_init(&open);
                pw_chunk_init(&c);
                cb_encode(&open, ver, ts, v, 1, false);
                for (size_t j = 1; j < r->open && j < r->points; j++) {
                    if (pw_chunk_load(&c, open.data, open.len) != PW_OK || pw_chunk_append(&c, ts[j], v[j]) != PW_OK)
                        cb_die("append failed");
                    pw_chunk_free(&open);
                    open = c;
                    pw_chunk_init(&c);
                }
                pw_chunk_free(&open);
            }
            t3 = cb_now();
            enc = t1 - t0 < enc ? t1 - t0 : enc;
            dec = t2 - t1 < dec ? t2 - t1 : dec;
            app = t3 - t2 < app ? t3 - t2 : app;
        }
        printf("  v%u: encode %.3f, decode %.3f, load + append %.3f\n", ver, enc / (double) r->all_n * 1e6,
               dec / (double) r->all_n * 1e6,
               app / ((double) ((nch + 15) / 16) * (double) (r->open - 1)) * 1e6);
    }
    for (size_t i = 0; i < nch; i++)
        pw_chunk_free(&ch[i]);
    free(ch);
    free(dts);
    free(dv);
}

int
main(int argc, char **argv)
{
    cb_run    r = { .points = 720, .open = 90, .level = 3 };
    cb_series s = { 0 };
    char     *line = NULL;
    size_t    lcap = 0;
    ssize_t   len;
    cb_acc    all = { 0 };

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--points") == 0)
            r.points = (size_t) atol(argv[i + 1]);
        else if (strcmp(argv[i], "--open") == 0)
            r.open = (size_t) atol(argv[i + 1]);
        else if (strcmp(argv[i], "--zstd-level") == 0)
            r.level = atoi(argv[i + 1]);
        else
            cb_die("usage: codec_bench [--points N] [--open N] [--zstd-level L] < prom-text");
    }
    if (r.points < 2 || r.points > PW_CHUNK_MAX_POINTS || r.open < 1 || r.open > r.points)
        cb_die("--points 2..8192, --open 1..points");
    while ((len = getline(&line, &lcap, stdin)) > 0) {
        char   *sp2, *sp1;
        int64_t t;
        double  x;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[len - 1] = line[len - 1] == '\n' ? '\0' : line[len - 1];
        if (!(sp2 = strrchr(line, ' ')))
            cb_die("bad line");
        *sp2 = '\0';
        if (!(sp1 = strrchr(line, ' ')))
            cb_die("bad line");
        *sp1 = '\0';
        x = strtod(sp1 + 1, NULL);
        t = strtoll(sp2 + 1, NULL, 10);
        if (!s.key || strcmp(s.key, line) != 0) {
            if (s.key)
                cb_series_done(&r, &s);
            free(s.key);
            s.key = strdup(line);
            s.n = 0;
        }
        cb_push(&s, t, x);
    }
    if (s.key)
        cb_series_done(&r, &s);

    printf("%zu-point sealed chunks and %zu-point open chunks, last %zu points of every series; "
           "bytes per sample\n\n", r.points, r.open, r.points);
    printf("| kind | series |");
    for (int v = 1; v <= PW_CHUNK_VERSION; v++)
        printf(" sealed v%d |", v);
    for (int v = 1; v <= PW_CHUNK_VERSION; v++)
        printf(" open v%d |", v);
    printf(" zstd(sealed v%d) | VM-like + zstd |\n|---|---:|", PW_CHUNK_VERSION);
    for (int v = 1; v <= 2 * PW_CHUNK_VERSION + 2; v++)
        printf("---:|");
    printf("\n");
    for (int k = 0; k <= CB_NKINDS; k++) {
        cb_acc *a = k < CB_NKINDS ? &r.acc[k] : &all;

        if (a->points == 0)
            continue;
        printf("| %s%s%s | %ld |", k < CB_NKINDS ? "" : "**", k < CB_NKINDS ? cb_kind_names[k] : "all",
               k < CB_NKINDS ? "" : "**", a->series);
        for (int v = 1; v <= PW_CHUNK_VERSION; v++)
            printf(" %.3f |", a->sealed[v] / a->points);
        for (int v = 1; v <= PW_CHUNK_VERSION; v++)
            printf(" %.3f |", a->open[v] / a->points);
        printf(" %.3f | %.3f |\n", a->zstd_chunk / a->points, a->vm / a->points);
        if (k < CB_NKINDS) {
            all.series += a->series;
            all.points += a->points;
            for (int v = 1; v <= PW_CHUNK_VERSION; v++) {
                all.sealed[v] += a->sealed[v];
                all.open[v] += a->open[v];
            }
            all.zstd_chunk += a->zstd_chunk;
            all.vm += a->vm;
        }
    }
    if (r.pack_points > 0) {
        printf("\nlong histories (%.0f points), B/sample by version (v1 / v2 / ...): sealed", r.pack_points);
        for (int v = 1; v <= PW_CHUNK_VERSION; v++)
            printf("%s%.3f", v > 1 ? " / " : " ", r.long_sealed[v] / r.pack_points);
        printf("; in packs of <= 16 KiB");
        for (int v = 1; v <= PW_CHUNK_VERSION; v++)
            printf("%s%.3f", v > 1 ? " / " : " ", r.pack_bytes[v] / r.pack_points);
        printf(", zstd over each pack");
        for (int v = 1; v <= PW_CHUNK_VERSION; v++)
            printf("%s%.3f", v > 1 ? " / " : " ", r.pack_zstd[v] / r.pack_points);
        printf("; VM-like blocks of %zu %.3f\n", r.points, r.long_vm / r.pack_points);
    }
    cb_cpu_report(&r);
    free(line);
    free(r.all_ts);
    free(r.all_v);
    free(s.key);
    free(s.ts);
    free(s.v);
    return 0;
}
