/* output_format.c - CLI output helpers; see output_format.h. */
#include "output_format.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define OUT_MAX_COLS 16

pw_err
pw_out_format_parse(const char *s, pw_out_format *out)
{
    if (strcmp(s, "table") == 0)
        *out = PW_OUT_TABLE;
    else if (strcmp(s, "csv") == 0)
        *out = PW_OUT_CSV;
    else if (strcmp(s, "json") == 0)
        *out = PW_OUT_JSON;
    else
        return PW_EINVAL;
    return PW_OK;
}

size_t
pw_out_value(double v, char *buf, size_t len)
{
    int n = 0;

    if (isnan(v))
        n = snprintf(buf, len, "NaN");
    else if (isinf(v))
        n = snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    else {
        /*
         * Any decimal of at most 15 digits survives a trip through a double
         * (DBL_DIG), so %.15g already is the shortest form when one that
         * short exists; 17 digits always read back exactly.
         */
        for (int prec = 15; prec <= 17; prec++) {
            n = snprintf(buf, len, "%.*g", prec, v);
            if (n < 0 || (size_t) n >= len || strtod(buf, NULL) == v)
                break;
        }
    }
    return n > 0 && (size_t) n < len ? (size_t) n : 0;
}

size_t
pw_out_time_s(int64_t ms, char *buf, size_t len)
{
    char   iso[32];
    size_t n = pw_time_format_iso(ms, iso, sizeof iso);

    /* "YYYY-MM-DDTHH:MM:SS.mmmZ" -> drop ".mmm" */
    if (n < 24 || len < 21)
        return 0;
    memcpy(buf, iso, 19);
    buf[19] = 'Z';
    buf[20] = '\0';
    return 20;
}

size_t
pw_out_age(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms > 0 ? ms / 1000 : 0;
    int     n;

    if (s < 60)
        n = snprintf(buf, len, "%llds", (long long) s);
    else if (s < 3600)
        n = snprintf(buf, len, "%lldm", (long long) (s / 60));
    else if (s < 86400)
        n = snprintf(buf, len, "%lldh%lldm", (long long) (s / 3600), (long long) (s % 3600 / 60));
    else
        n = snprintf(buf, len, "%lldd%lldh", (long long) (s / 86400), (long long) (s % 86400 / 3600));
    return n > 0 && (size_t) n < len ? (size_t) n : 0;
}

void
pw_out_csv_field(FILE *f, const char *s, size_t len)
{
    bool quote = false;

    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        fwrite(s, 1, len, f);
        return;
    }
    putc('"', f);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            putc('"', f);
        putc(s[i], f);
    }
    putc('"', f);
}

void
pw_out_csv_row(FILE *f, size_t n, const char *const *fields)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            putc(',', f);
        pw_out_csv_field(f, fields[i], strlen(fields[i]));
    }
    putc('\n', f);
}

/* ---- tables ------------------------------------------------------------ */

struct pw_table {
    size_t             ncols, nrows, cap;
    const char *const *headers;
    bool               right[OUT_MAX_COLS];
    char             **cells;       /* nrows * ncols, each owned */
};

pw_table *
pw_table_new(size_t ncols, const char *const *headers)
{
    pw_table *t;

    if (ncols == 0 || ncols > OUT_MAX_COLS || (t = calloc(1, sizeof *t)) == NULL)
        return NULL;
    t->ncols = ncols;
    t->headers = headers;
    return t;
}

void
pw_table_right(pw_table *t, size_t col)
{
    if (col < t->ncols)
        t->right[col] = true;
}

pw_err
pw_table_add(pw_table *t, const char *const *cells)
{
    char **row;

    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof *c);

        if (c == NULL)
            return PW_ENOMEM;
        t->cells = c;
        t->cap = cap;
    }
    row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        if ((row[i] = strdup(cells[i] != NULL ? cells[i] : "")) == NULL) {
            while (i > 0)
                free(row[--i]);
            return PW_ENOMEM;
        }
    }
    t->nrows++;
    return PW_OK;
}

size_t
pw_table_rows(const pw_table *t)
{
    return t->nrows;
}

static void
out_table_row(const pw_table *t, FILE *f, const char *const *cells, const size_t *w)
{
    for (size_t c = 0; c < t->ncols; c++) {
        int  width = (int) w[c];
        bool last = c + 1 == t->ncols;

        if (c > 0)
            fputs("  ", f);
        if (t->right[c])
            fprintf(f, "%*s", width, cells[c]);
        else if (last)
            fputs(cells[c], f);             /* no trailing blanks */
        else
            fprintf(f, "%-*s", width, cells[c]);
    }
    putc('\n', f);
}

void
pw_table_print(const pw_table *t, FILE *f)
{
    size_t w[OUT_MAX_COLS];

    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = strlen(t->headers[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t n = strlen(t->cells[r * t->ncols + c]);
            if (n > w[c])
                w[c] = n;
        }
    }
    out_table_row(t, f, t->headers, w);
    for (size_t r = 0; r < t->nrows; r++)
        out_table_row(t, f, (const char *const *) (t->cells + r * t->ncols), w);
}

void
pw_table_free(pw_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void
pw_out_listing(bool ok, pw_table *t, json_t *arr)
{
    if (ok && t != NULL)
        pw_table_print(t, stdout);
    if (ok && arr != NULL) {
        json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
    }
    pw_table_free(t);
    json_decref(arr);
}
