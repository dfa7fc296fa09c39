/*
 * sheet_csv.c - CSV (RFC 4180) into a pw_sheet (sheet.h), with encoding
 * detection.
 *
 * A small reader rather than libcsv: errors must name the row Excel shows,
 * and libcsv neither reports blank lines (which Excel counts as rows) nor,
 * outside strict mode, an unterminated quote. Tolerant where Excel is:
 * text after a closing quote is kept, a quote inside an unquoted field is
 * literal. A first line with tabs and no commas makes the file tab-separated
 * (what "Unicode text" export from Excel writes).
 */
#include "sheet.h"
#include "utf8.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Offset of the first byte that is not UTF-8, or len if all is. */
static size_t
csv_utf8_check(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *) buf;
    size_t               i = 0, l;

    while (i < len) {
        if ((l = pw_utf8_char(p + i, len - i)) == 0)
            return i;
        i += l;
    }
    return len;
}

/* The line (1-based) holding byte off: for encoding errors, before records exist. */
static size_t
csv_line_of(const char *buf, size_t off)
{
    size_t line = 1;

    for (size_t i = 0; i < off; i++)
        if (buf[i] == '\n')
            line++;
    return line;
}

/* GB18030 -> UTF-8; *out malloc'd. PW_EPROTO (naming the line) for bytes that are not GB18030. */
static pw_err
csv_from_gb18030(const char *buf, size_t len, char **out, size_t *outlen, char *msg, size_t msglen)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    char   *res = NULL, *in = (char *) buf, *o;
    size_t  inleft = len, cap = len * 2 + 16, oleft;
    pw_err  e = PW_OK;

    if (cd == (iconv_t) -1) {
        snprintf(msg, msglen, "cannot convert from GB18030: %s", strerror(errno));
        return PW_EIO;
    }
    if ((res = malloc(cap)) == NULL) {
        e = PW_ENOMEM;
        goto out;
    }
    o = res;
    oleft = cap;
    /* GB18030 takes 1 to 4 bytes for what UTF-8 writes in 1 to 4: twice the size is room enough. */
    if (iconv(cd, &in, &inleft, &o, &oleft) == (size_t) -1
        || iconv(cd, NULL, NULL, &o, &oleft) == (size_t) -1) {
        snprintf(msg, msglen, "the text is neither UTF-8 nor GB18030 (row %zu); save the file as "
                 "UTF-8 CSV or as XLSX", csv_line_of(buf, (size_t) (in - buf)));
        e = PW_EPROTO;
        goto out;
    }
    *outlen = cap - oleft;
out:
    iconv_close(cd);
    if (e != PW_OK) {
        free(res);
        res = NULL;
    }
    *out = res;
    return e;
}

/* A growing byte buffer for the current field and the current row's cells. */
typedef struct csv_state {
    char    *field;
    size_t   flen, fcap;
    char   **cells;
    size_t   ncells, ccap;
} csv_state;

static pw_err
csv_putc(csv_state *s, char c)
{
    if (s->flen + 1 >= s->fcap) {
        size_t cap = s->fcap ? s->fcap * 2 : 64;
        char  *f = realloc(s->field, cap);
        if (f == NULL)
            return PW_ENOMEM;
        s->field = f;
        s->fcap = cap;
    }
    s->field[s->flen++] = c;
    return PW_OK;
}

static pw_err
csv_end_field(csv_state *s)
{
    char *cell;

    if (s->ncells >= PW_SHEET_MAX_COLS)
        return PW_ETOOBIG;
    if (s->ncells == s->ccap) {
        size_t cap = s->ccap ? s->ccap * 2 : 16;
        char **c = realloc(s->cells, cap * sizeof *c);
        if (c == NULL)
            return PW_ENOMEM;
        s->cells = c;
        s->ccap = cap;
    }
    if ((cell = malloc(s->flen + 1)) == NULL)
        return PW_ENOMEM;
    memcpy(cell, s->field, s->flen);
    cell[s->flen] = '\0';
    s->cells[s->ncells++] = cell;
    s->flen = 0;
    return PW_OK;
}

/* Ends the row: a blank line (one empty field) is counted but not kept. */
static pw_err
csv_end_row(csv_state *s, pw_sheet *t, size_t line)
{
    pw_err e;

    if ((e = csv_end_field(s)) != PW_OK)
        return e;
    if (s->ncells == 1 && s->cells[0][0] == '\0') {
        free(s->cells[0]);
        s->ncells = 0;
        return PW_OK;
    }
    e = pw_sheet_add_row(t, line, s->cells, s->ncells);
    s->cells = NULL;
    s->ncells = s->ccap = 0;
    return e;
}

static pw_err
csv_parse(const char *p, size_t len, pw_sheet *t, char *msg, size_t msglen)
{
    csv_state s = { NULL, 0, 0, NULL, 0, 0 };
    size_t    line = 1, qline = 0, i = 0, nl;
    char      delim = ',';
    bool      quoted = false, at_start = true;
    pw_err    e = PW_OK;

    nl = memchr(p, '\n', len) != NULL ? (size_t) ((const char *) memchr(p, '\n', len) - p) : len;
    if (memchr(p, ',', nl) == NULL && memchr(p, '\t', nl) != NULL)
        delim = '\t';
    while (i < len && e == PW_OK) {
        char c = p[i];
        if (quoted) {
            if (c == '"' && i + 1 < len && p[i + 1] == '"') {
                e = csv_putc(&s, '"');
                i += 2;
                continue;
            }
            if (c == '"')
                quoted = false;
            else
                e = csv_putc(&s, c);
            /* A line break inside quotes stays in the cell: the same Excel row. */
            i++;
            continue;
        }
        if (c == '"' && at_start) {
            quoted = true;
            qline = line;
            at_start = false;
            i++;
            continue;
        }
        if (c == delim) {
            e = csv_end_field(&s);
            at_start = true;
            i++;
            continue;
        }
        if (c == '\r' || c == '\n') {
            e = csv_end_row(&s, t, line);
            line++;
            at_start = true;
            i += c == '\r' && i + 1 < len && p[i + 1] == '\n' ? 2 : 1;
            continue;
        }
        e = csv_putc(&s, c);
        at_start = false;
        i++;
    }
    if (e == PW_OK && quoted) {
        snprintf(msg, msglen, "row %zu: a quoted field is not closed (a \" is missing)", qline);
        e = PW_EPROTO;
    }
    if (e == PW_OK && (s.flen > 0 || s.ncells > 0))
        e = csv_end_row(&s, t, line);
    if (e == PW_ETOOBIG)
        snprintf(msg, msglen, "more than %d rows or %d columns", PW_SHEET_MAX_ROWS, PW_SHEET_MAX_COLS);
    for (size_t j = 0; j < s.ncells; j++)
        free(s.cells[j]);
    free(s.cells);
    free(s.field);
    return e;
}

pw_err
pw_sheet_parse_csv(const char *buf, size_t len, pw_sheet_enc enc, pw_sheet **out, char *msg, size_t msglen)
{
    const unsigned char *u = (const unsigned char *) buf;
    char                *conv = NULL;
    size_t               clen = 0, bad;
    pw_sheet            *t = NULL;
    pw_err               e = PW_OK;

    *out = NULL;
    msg[0] = '\0';
    if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff))) {
        snprintf(msg, msglen, "the file is UTF-16, which is not supported; save it as UTF-8 CSV "
                 "(\"CSV UTF-8\" in Excel) or as XLSX");
        return PW_EPROTO;
    }
    if (len >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) {
        buf += 3;
        len -= 3;
        if (enc == PW_SHEET_ENC_AUTO)
            enc = PW_SHEET_ENC_UTF8;    /* a BOM says so */
    }
    if (len > PW_SHEET_MAX_BYTES) {
        snprintf(msg, msglen, "larger than %zu MiB", PW_SHEET_MAX_BYTES >> 20);
        return PW_ETOOBIG;
    }
    bad = enc == PW_SHEET_ENC_GB18030 ? 0 : csv_utf8_check(buf, len);
    if (enc == PW_SHEET_ENC_UTF8 && bad < len) {
        snprintf(msg, msglen, "the text is not valid UTF-8 (row %zu); if it is GB18030/GBK, "
                 "use --encoding gb18030", csv_line_of(buf, bad));
        return PW_EPROTO;
    }
    if (enc == PW_SHEET_ENC_GB18030 || bad < len) {
        if ((e = csv_from_gb18030(buf, len, &conv, &clen, msg, msglen)) != PW_OK)
            return e;
        buf = conv;
        len = clen;
    }
    if ((t = calloc(1, sizeof *t)) == NULL) {
        e = PW_ENOMEM;
        goto out;
    }
    e = csv_parse(buf, len, t, msg, msglen);
out:
    if (e == PW_ENOMEM && msg[0] == '\0')
        snprintf(msg, msglen, "out of memory");
    free(conv);
    if (e != PW_OK) {
        pw_sheet_free(t);
        return e;
    }
    *out = t;
    return PW_OK;
}
