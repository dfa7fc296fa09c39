/* output_format.c - CLI output helpers; see output_format.h. */
#include "output_format.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "clock.h"
#include "grow.h"

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

/* ---- display width ----------------------------------------------------- */

/*
 * Widths come from glibc's wcwidth() (its Unicode tables follow each release)
 * in the C.UTF-8 locale, made the thread's locale with uselocale() for the
 * length of one call: the CLI never calls setlocale(), so it runs in the "C"
 * locale, where mbrtowc() takes no byte above 0x7f, and the user's LANG must
 * not change the output either. Debian's libc-bin, which is Essential, ships
 * C.UTF-8. Where it is missing each character counts one column: Chinese text
 * then misaligns, nothing worse.
 */
static pthread_once_t out_utf8_once = PTHREAD_ONCE_INIT;
static locale_t       out_utf8;     /* (locale_t) 0 without C.UTF-8; kept until exit */

static void
out_utf8_open(void)
{
    out_utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);
}

size_t
pw_out_width(const char *s, size_t len)
{
    size_t    i = 0, w;
    mbstate_t st;
    locale_t  old;

    /* ASCII, all of most tables, needs no locale: a column a byte. */
    while (i < len && (unsigned char) s[i] < 0x80)
        i++;
    w = i;
    if (i == len)
        return w;
    pthread_once(&out_utf8_once, out_utf8_open);
    if (out_utf8 == (locale_t) 0) {
        for (; i < len; i++)
            w += ((unsigned char) s[i] & 0xc0) != 0x80;     /* lead bytes: one per character */
        return w;
    }
    old = uselocale(out_utf8);
    memset(&st, 0, sizeof st);
    while (i < len) {
        wchar_t wc;
        size_t  n = mbrtowc(&wc, s + i, len - i, &st);
        int     cw;

        if (n == (size_t) -1 || n == (size_t) -2) {
            /* Not UTF-8, or cut short: a column a byte, as a terminal shows U+FFFD. */
            memset(&st, 0, sizeof st);
            n = 1;
            cw = 1;
        } else {
            cw = wcwidth(wc);
            if (cw < 0)                 /* a control character: counted like a bad byte */
                cw = 1;
            if (n == 0)                 /* a NUL within len */
                n = 1;
        }
        w += (size_t) cw;
        i += n;
    }
    uselocale(old);
    return w;
}

/* s, which is have columns wide, padded with spaces to width columns. */
static void
out_pad(FILE *f, const char *s, size_t have, size_t width, bool right)
{
    if (!right)
        fputs(s, f);
    for (; have < width; have++)
        putc(' ', f);
    if (right)
        fputs(s, f);
}

void
pw_out_pad(FILE *f, const char *s, size_t width, bool right)
{
    out_pad(f, s, pw_out_width(s, strlen(s)), width, right);
}

/* ---- tables ------------------------------------------------------------ */

typedef struct out_cell {
    char  *text;        /* owned */
    size_t width;       /* pw_out_width of text */
} out_cell;

struct pw_table {
    size_t             ncols, nrows, cap;
    const char *const *headers;
    bool               right[OUT_MAX_COLS];
    out_cell          *cells;       /* nrows * ncols */
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
    out_cell *row;

    /* cap counts rows: an element is a row of ncols cells */
    if (!pw_grow((void **) &t->cells, &t->cap, t->nrows + 1, t->ncols * sizeof *t->cells, 16))
        return PW_ENOMEM;
    row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        if ((row[i].text = strdup(cells[i] != NULL ? cells[i] : "")) == NULL) {
            while (i > 0)
                free(row[--i].text);
            return PW_ENOMEM;
        }
        row[i].width = pw_out_width(row[i].text, strlen(row[i].text));
    }
    t->nrows++;
    return PW_OK;
}

size_t
pw_table_rows(const pw_table *t)
{
    return t->nrows;
}

#define OUT_HEADER SIZE_MAX   /* the row number of the header row */

/* Row r (or the header); w: each column's width, hw: the headers' (terminal columns). */
static void
out_table_row(const pw_table *t, FILE *f, size_t r, const size_t *w, const size_t *hw)
{
    for (size_t c = 0; c < t->ncols; c++) {
        const out_cell *cell = r == OUT_HEADER ? NULL : &t->cells[r * t->ncols + c];
        const char     *text = cell != NULL ? cell->text : t->headers[c];

        if (c > 0)
            fputs("  ", f);
        if (c + 1 == t->ncols && !t->right[c])
            fputs(text, f);                 /* no trailing blanks */
        else
            out_pad(f, text, cell != NULL ? cell->width : hw[c], w[c], t->right[c]);
    }
    putc('\n', f);
}

void
pw_table_print(const pw_table *t, FILE *f)
{
    size_t w[OUT_MAX_COLS], hw[OUT_MAX_COLS];

    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = hw[c] = pw_out_width(t->headers[c], strlen(t->headers[c]));
        for (size_t r = 0; r < t->nrows; r++)
            if (t->cells[r * t->ncols + c].width > w[c])
                w[c] = t->cells[r * t->ncols + c].width;
    }
    out_table_row(t, f, OUT_HEADER, w, hw);
    for (size_t r = 0; r < t->nrows; r++)
        out_table_row(t, f, r, w, hw);
}

void
pw_table_free(pw_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i].text);
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
