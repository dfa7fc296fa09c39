/*
 * import.h - input formats of `poolwatch import`, as ops tables.
 *
 * A format turns one line of input into points of one series and hands
 * them to a sink; it knows nothing of files, batches or the store. One .c
 * file per format, each exporting one pw_import_format:
 *
 *   pw_import_prom  Prometheus text exposition format (import_prom.c)
 *   pw_import_vm    VictoriaMetrics JSON lines, /api/v1/export (import_vm.c)
 *
 * Calling sequence: open -> parse_line for every line, in order -> close.
 * The caller reads the input and splits lines; it strips the '\n' but
 * leaves a '\r' for the format to drop. The caller also counts lines: the
 * messages a format writes never hold a line number.
 *
 * Lines are the unit of failure. parse_line either hands every point of
 * the line to the sink or, when the line is bad, none of them; so a bad
 * line never leaves half of itself behind.
 *
 * Errors of parse_line:
 *   PW_OK       the line was good (a comment or a blank line is good and
 *               gives no points)
 *   PW_EPROTO   the line is malformed; err holds why (one sentence, no
 *               line number, no trailing newline), nothing went to the sink
 *   PW_ETOOBIG  the line is over a hard limit (length, labels, name or
 *               value length); err and the sink as for PW_EPROTO
 *   other       fatal, the import must stop: PW_ENOMEM, or whatever the
 *               sink returned, passed on unchanged (err is then "")
 *
 * Values: kept as parsed, NaN and +-Inf included. Prometheus marks stale
 * series with one NaN bit pattern (PW_IMPORT_STALE_NAN); a format that can
 * carry staleness markers hands them to the sink as that exact pattern, and
 * the sink decides (poolwatch import skips and counts them). Timestamps are
 * ms since the epoch and always within [PW_WIRE_MIN_TS, PW_WIRE_MAX_TS): a
 * point outside is a bad line, since it nearly always means seconds where
 * ms were meant.
 *
 * Series: the sink gets a valid metric name (series.h), at most
 * PW_MAX_LABELS labels sorted by name with unique, valid names and
 * non-empty valid values. An empty label value means "no such label", as
 * in Prometheus, and is dropped; `__name__` is never a label.
 *
 * Ownership: the caller owns a state (open/close) and the line and err
 * buffers; a state owns its scratch memory; what the sink gets is lent
 * for the call only.
 *
 * Threads: a state belongs to one thread at a time; the tables are const.
 */
#ifndef PW_IMPORT_H
#define PW_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"
#include "pw_err.h"
#include "series.h"
#include "wire.h"

/* Prometheus' staleness marker: a NaN no arithmetic produces (value.StaleNaN). */
#define PW_IMPORT_STALE_NAN UINT64_C(0x7ff0000000000002)

/* Longest line a format takes, '\r' included (longer lines are bad lines). */
#define PW_IMPORT_PROM_MAX_LINE (64u << 10)
#define PW_IMPORT_VM_MAX_LINE   (1u << 20)

/* True if v is the staleness marker (bit for bit: other NaNs are values). */
static inline bool
pw_import_is_stale(double v)
{
    uint64_t bits;

    memcpy(&bits, &v, sizeof bits);
    return bits == PW_IMPORT_STALE_NAN;
}

/* One series as a format hands it over; see "Series" above. */
typedef struct pw_import_series {
    const char     *metric;     /* NUL-terminated */
    size_t          nlabels;
    const pw_label *labels;
} pw_import_series;

/* Where a format puts what it parsed. */
typedef struct pw_import_sink {
    /*
     * n >= 1 points of series s: ts_ms[i] and values[i]. Nothing passed is
     * valid after the call returns: the sink copies what it keeps. Returns
     * PW_OK, or an error that stops the import (parse_line returns it).
     */
    pw_err (*points)(void *ctx, const pw_import_series *s, const int64_t *ts_ms,
                     const double *values, size_t n);
    void   *ctx;
} pw_import_sink;

/* What a format needs to know about the import. */
typedef struct pw_import_opts {
    /* Time of a point whose line gives none (prom), ms; within the wire range. */
    int64_t default_ts_ms;
} pw_import_opts;

typedef struct pw_import_format {
    /* --format name: "prom", "vm". */
    const char *name;
    /* One line for --help. */
    const char *summary;
    /* Longest line this format takes, in bytes. */
    size_t      max_line;

    /*
     * How sure the format is that the input whose first non-blank line is
     * line[0..len) is its own: 0 = not mine, higher = surer. For
     * --format auto, which takes the surest format above 0.
     */
    int    (*sniff)(const char *line, size_t len);

    /*
     * New parser state, owned by the caller (close). o is copied.
     * PW_ENOMEM.
     */
    pw_err (*open)(const pw_import_opts *o, void **state);
    /* Releases state (NULL is fine). */
    void   (*close)(void *state);

    /*
     * Parses line[0..len) (not NUL-terminated; may hold NUL bytes, which
     * make it bad) and gives its points to sink. err (errlen > 0) gets why
     * a line is bad. Errors: see the top of this file.
     */
    pw_err (*parse_line)(void *state, const char *line, size_t len, const pw_import_sink *sink,
                         char *err, size_t errlen);
} pw_import_format;

extern const pw_import_format pw_import_prom;
extern const pw_import_format pw_import_vm;

#endif
