/*
 * output_format.h - how the `poolwatch` CLI writes results: the format
 * switch, numbers that lose no precision, CSV fields, aligned tables.
 */
#ifndef PW_OUTPUT_FORMAT_H
#define PW_OUTPUT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "pw_err.h"

typedef enum pw_out_format {
    PW_OUT_TABLE,   /* aligned text for people */
    PW_OUT_CSV,     /* RFC 4180, with a header row */
    PW_OUT_JSON,    /* documented per command in collector/README.md */
} pw_out_format;

/* Parses "table", "csv" or "json". PW_EINVAL on anything else. */
pw_err pw_out_format_parse(const char *s, pw_out_format *out);

/* Enough for any pw_out_value result. */
#define PW_OUT_VALUE_LEN 32

/*
 * Writes the shortest decimal that reads back (strtod) as exactly v, using
 * at most 17 significant digits: "0.1", "42", "1e+20", "-0". Non-finite
 * values come out as Prometheus writes them: "NaN", "+Inf", "-Inf". buf
 * needs PW_OUT_VALUE_LEN bytes. Returns the length.
 */
size_t pw_out_value(double v, char *buf, size_t len);

/* Writes "YYYY-MM-DDTHH:MM:SSZ" (seconds precision; needs 21 bytes). Returns the length. */
size_t pw_out_time_s(int64_t ms, char *buf, size_t len);

/* Writes an age such as "45s", "12m", "3h5m", "2d4h" (negative ages as "0s"). */
size_t pw_out_age(int64_t ms, char *buf, size_t len);

/*
 * Writes len bytes of s as one CSV field: quoted, with quotes doubled,
 * when it holds a comma, quote, CR or LF (RFC 4180), as is otherwise.
 */
void pw_out_csv_field(FILE *f, const char *s, size_t len);
/* Writes a CSV row of n NUL-terminated fields and a newline (LF, not CRLF). */
void pw_out_csv_row(FILE *f, size_t n, const char *const *fields);

/*
 * Terminal columns that the first len bytes of UTF-8 text s take up: 2 for
 * each East Asian wide or fullwidth character (CJK ideographs and punctuation,
 * Hangul, kana, fullwidth forms, most emoji), 0 for combining marks and
 * zero-width characters, 1 for the others, and 1 for each byte that is not
 * part of a valid UTF-8 character (or is a control character). The same
 * whatever the process's locale (LANG, LC_ALL, setlocale).
 */
size_t pw_out_width(const char *s, size_t len);

/*
 * Writes s to f with spaces making it width terminal columns (pw_out_width)
 * wide: after s, or before it when right. Nothing is added to an s that is
 * that wide already, and s is never cut.
 */
void pw_out_pad(FILE *f, const char *s, size_t width, bool right);

/*
 * A table of text cells, printed with aligned columns. Holds every row until
 * printed, so it is for small results (the hosts list), not for points.
 */
typedef struct pw_table pw_table;

/*
 * New table with ncols columns (at most 16) and their headers (borrowed:
 * they must outlive the table, string literals in practice). Owned by the
 * caller (pw_table_free). NULL on ENOMEM or a bad ncols.
 */
pw_table *pw_table_new(size_t ncols, const char *const *headers);
/* Aligns column col to the right (numbers). */
void      pw_table_right(pw_table *t, size_t col);
/* Appends a row of ncols cells, copied. PW_ENOMEM. */
pw_err    pw_table_add(pw_table *t, const char *const *cells);
size_t    pw_table_rows(const pw_table *t);
/*
 * Prints header and rows to f, columns two spaces apart, each as wide as its
 * widest cell in terminal columns (pw_out_width), so that Chinese text lines up.
 */
void      pw_table_print(const pw_table *t, FILE *f);
void      pw_table_free(pw_table *t);

/*
 * The end of a listing command that built either a table or a JSON array
 * (the other NULL): prints it to stdout when ok, then frees both (takes
 * ownership of t and arr in every case).
 */
void      pw_out_listing(bool ok, pw_table *t, json_t *arr);

#endif
