/*
 * sheet_xlsx.c - the cells of one worksheet of an XLSX file (sheet.h), with
 * libzip for the container and expat for the XML parts.
 *
 * Parts read: xl/workbook.xml (sheet names -> relationship ids),
 * xl/_rels/workbook.xml.rels (ids -> part names), xl/sharedStrings.xml,
 * xl/styles.xml (which cell styles are dates) and the worksheet. Namespace
 * prefixes are ignored (elements are matched by local name): producers
 * differ in the prefixes they pick, never in the local names.
 */
#include "sheet.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>
#include <zip.h>

#define XLSX_MAX_SHEETS 256

/* A growing string. */
typedef struct xl_buf {
    char  *p;
    size_t len, cap;
} xl_buf;

static bool
xl_buf_add(xl_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char  *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > PW_SHEET_MAX_BYTES || (p = realloc(b->p, cap)) == NULL)
            return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

static char *
xl_buf_take(xl_buf *b)
{
    char *p = b->p;

    if (p == NULL)
        p = strdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

/* A list of strings. */
typedef struct xl_strs {
    char  **v;
    size_t  n, cap;
} xl_strs;

static bool
xl_strs_add(xl_strs *l, char *s)
{
    if (s == NULL)
        return false;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = cap > PW_SHEET_MAX_BYTES / sizeof *v ? NULL : realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            free(s);
            return false;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return true;
}

static void
xl_strs_free(xl_strs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static const char *
xl_local(const char *name)
{
    const char *c = strrchr(name, ':');
    return c != NULL ? c + 1 : name;
}

static const char *
xl_attr(const char **attrs, const char *local)
{
    for (size_t i = 0; attrs[i] != NULL; i += 2)
        if (strcmp(xl_local(attrs[i]), local) == 0)
            return attrs[i + 1];
    return NULL;
}

/* What every part's handlers share. */
typedef struct xl_ctx {
    bool     oom;
    /* workbook */
    xl_strs  sheet_names, sheet_ids;
    /* rels */
    xl_strs  rel_ids, rel_targets;
    /* shared strings */
    xl_strs  shared;
    xl_buf   text;
    int      in_t, in_rph, in_si, in_v, in_is;
    /* styles */
    xl_strs  fmt_ids, fmt_codes;
    int      in_cellxfs;
    unsigned char *xf_date;
    size_t   nxf, xfcap;
    /* sheet */
    pw_sheet *t;
    size_t   row_line, next_row;
    char   **cells;
    size_t   ncells;
    size_t   cell_col, next_col;
    char     cell_type[16];
    long     cell_style;
    pw_err   err;
    char    *msg;
    size_t   msglen;
} xl_ctx;

/* ---- reading parts ------------------------------------------------------ */

static pw_err
xl_read_entry(zip_t *z, const char *name, char **out, size_t *len, char *msg, size_t msglen)
{
    zip_stat_t st;
    zip_file_t *f;
    char      *buf;
    zip_int64_t n;

    *out = NULL;
    zip_stat_init(&st);
    if (zip_stat(z, name, 0, &st) != 0)
        return PW_ENOENT;
    if (!(st.valid & ZIP_STAT_SIZE) || st.size > PW_SHEET_MAX_BYTES) {
        snprintf(msg, msglen, "%s is larger than %zu MiB", name, PW_SHEET_MAX_BYTES >> 20);
        return PW_ETOOBIG;
    }
    if ((f = zip_fopen(z, name, 0)) == NULL) {
        snprintf(msg, msglen, "cannot read %s in the XLSX file: %s", name, zip_strerror(z));
        return PW_EPROTO;
    }
    if ((buf = malloc(st.size + 1)) == NULL) {
        zip_fclose(f);
        return PW_ENOMEM;
    }
    n = zip_fread(f, buf, st.size);
    zip_fclose(f);
    if (n < 0 || (zip_uint64_t) n != st.size) {
        free(buf);
        snprintf(msg, msglen, "cannot read %s in the XLSX file (damaged?)", name);
        return PW_EPROTO;
    }
    buf[n] = '\0';
    *out = buf;
    *len = (size_t) n;
    return PW_OK;
}

static pw_err
xl_parse(zip_t *z, const char *name, bool required, xl_ctx *c, XML_StartElementHandler start,
         XML_EndElementHandler end, XML_CharacterDataHandler text)
{
    XML_Parser p;
    char      *buf;
    size_t     len;
    pw_err     e;

    if ((e = xl_read_entry(z, name, &buf, &len, c->msg, c->msglen)) != PW_OK) {
        if (e == PW_ENOENT && !required)
            return PW_OK;
        if (e == PW_ENOENT)
            snprintf(c->msg, c->msglen, "not an XLSX workbook: %s is missing", name);
        return e == PW_ENOENT ? PW_EPROTO : e;
    }
    if ((p = XML_ParserCreate(NULL)) == NULL) {
        free(buf);
        return PW_ENOMEM;
    }
    XML_SetUserData(p, c);
    XML_SetElementHandler(p, start, end);
    XML_SetCharacterDataHandler(p, text);
    if (XML_Parse(p, buf, (int) len, 1) == XML_STATUS_ERROR) {
        if (c->err == PW_OK) {
            snprintf(c->msg, c->msglen, "%s in the XLSX file is not well-formed XML: %s (line %lu)",
                     name, XML_ErrorString(XML_GetErrorCode(p)), (unsigned long) XML_GetCurrentLineNumber(p));
            c->err = PW_EPROTO;
        }
    } else if (c->oom && c->err == PW_OK) {
        c->err = PW_ENOMEM;
    }
    e = c->err;
    XML_ParserFree(p);
    free(buf);
    return e;
}

static void
xl_stop(xl_ctx *c, pw_err e)
{
    if (c->err == PW_OK)
        c->err = e;
    c->oom = true;
}

/* ---- workbook and rels -------------------------------------------------- */

static void XMLCALL
xl_wb_start(void *ud, const char *el, const char **attrs)
{
    xl_ctx     *c = ud;
    const char *name, *id;

    if (strcmp(xl_local(el), "sheet") != 0)
        return;
    name = xl_attr(attrs, "name");
    id = xl_attr(attrs, "id");
    if (name == NULL || id == NULL || c->sheet_names.n >= XLSX_MAX_SHEETS)
        return;
    if (!xl_strs_add(&c->sheet_names, strdup(name)) || !xl_strs_add(&c->sheet_ids, strdup(id)))
        c->oom = true;
}

static void XMLCALL
xl_rel_start(void *ud, const char *el, const char **attrs)
{
    xl_ctx     *c = ud;
    const char *id, *target;

    if (strcmp(xl_local(el), "Relationship") != 0)
        return;
    id = xl_attr(attrs, "Id");
    target = xl_attr(attrs, "Target");
    if (id == NULL || target == NULL)
        return;
    if (!xl_strs_add(&c->rel_ids, strdup(id)) || !xl_strs_add(&c->rel_targets, strdup(target)))
        c->oom = true;
}

static void XMLCALL
xl_no_end(void *ud, const char *el)
{
    (void) ud;
    (void) el;
}

static void XMLCALL
xl_no_text(void *ud, const char *s, int len)
{
    (void) ud;
    (void) s;
    (void) len;
}

/* ---- shared strings ----------------------------------------------------- */

static void XMLCALL
xl_ss_start(void *ud, const char *el, const char **attrs)
{
    xl_ctx     *c = ud;
    const char *l = xl_local(el);

    (void) attrs;
    if (strcmp(l, "si") == 0) {
        c->in_si = 1;
        c->text.len = 0;
        if (c->text.p != NULL)
            c->text.p[0] = '\0';
    } else if (strcmp(l, "rPh") == 0) {
        c->in_rph++;      /* phonetic guide (furigana): not part of the value */
    } else if (strcmp(l, "t") == 0) {
        c->in_t++;
    }
}

static void XMLCALL
xl_ss_end(void *ud, const char *el)
{
    xl_ctx     *c = ud;
    const char *l = xl_local(el);

    if (strcmp(l, "si") == 0) {
        c->in_si = 0;
        if (!xl_strs_add(&c->shared, xl_buf_take(&c->text)))
            c->oom = true;
    } else if (strcmp(l, "rPh") == 0) {
        c->in_rph--;
    } else if (strcmp(l, "t") == 0) {
        c->in_t--;
    }
}

static void XMLCALL
xl_ss_text(void *ud, const char *s, int len)
{
    xl_ctx *c = ud;

    if (c->in_si && c->in_t > 0 && c->in_rph == 0 && !xl_buf_add(&c->text, s, (size_t) len))
        xl_stop(c, PW_ETOOBIG);
}

/* ---- styles ------------------------------------------------------------- */

/* Is a number format code a date? Letters d, m, y outside quotes and [...] (colors, locales). */
static bool
xl_fmt_is_date(const char *code)
{
    bool quoted = false;
    int  bracket = 0;

    for (const char *p = code; *p; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && *p == '[')
            bracket++;
        else if (!quoted && *p == ']' && bracket > 0)
            bracket--;
        else if (!quoted && bracket == 0 && strchr("dDmMyY", *p) != NULL)
            return true;
    }
    return false;
}

/* Built-in date formats: 14-22 everywhere, 27-36 and 50-58 in CJK locales, 45-47 times. */
static bool
xl_builtin_date(long id)
{
    return (id >= 14 && id <= 22) || (id >= 27 && id <= 36) || (id >= 45 && id <= 47) || (id >= 50 && id <= 58);
}

static void XMLCALL
xl_st_start(void *ud, const char *el, const char **attrs)
{
    xl_ctx     *c = ud;
    const char *l = xl_local(el), *id, *code;

    if (strcmp(l, "numFmt") == 0) {
        id = xl_attr(attrs, "numFmtId");
        code = xl_attr(attrs, "formatCode");
        if (id != NULL && code != NULL
            && (!xl_strs_add(&c->fmt_ids, strdup(id)) || !xl_strs_add(&c->fmt_codes, strdup(code))))
            c->oom = true;
    } else if (strcmp(l, "cellXfs") == 0) {
        c->in_cellxfs = 1;
    } else if (c->in_cellxfs && strcmp(l, "xf") == 0) {
        long fid = (id = xl_attr(attrs, "numFmtId")) != NULL ? strtol(id, NULL, 10) : 0;
        bool date = xl_builtin_date(fid);
        for (size_t i = 0; i < c->fmt_ids.n; i++)
            if (strtol(c->fmt_ids.v[i], NULL, 10) == fid)
                date = xl_fmt_is_date(c->fmt_codes.v[i]);
        if (c->nxf == c->xfcap) {
            size_t         cap = c->xfcap ? c->xfcap * 2 : 64;
            unsigned char *v = cap > PW_SHEET_MAX_BYTES ? NULL : realloc(c->xf_date, cap);
            if (v == NULL) {
                c->oom = true;
                return;
            }
            c->xf_date = v;
            c->xfcap = cap;
        }
        c->xf_date[c->nxf++] = date;
    }
}

static void XMLCALL
xl_st_end(void *ud, const char *el)
{
    xl_ctx *c = ud;

    if (strcmp(xl_local(el), "cellXfs") == 0)
        c->in_cellxfs = 0;
}

/* ---- the sheet ---------------------------------------------------------- */

/* "AB12" -> column 27 (0-based) and row 12; false if not a cell reference. */
static bool
xl_ref(const char *r, size_t *col, size_t *row)
{
    size_t c = 0, n = 0;
    const char *p = r;

    for (; *p >= 'A' && *p <= 'Z'; p++) {
        c = c * 26 + (size_t) (*p - 'A' + 1);
        if (c > 16384)
            return false;
    }
    if (p == r || c == 0)
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (size_t) (*p - '0');
        if (n > 1048576)
            return false;
    }
    if (*p != '\0')
        return false;
    *col = c - 1;
    *row = n;
    return true;
}

/* Days since 1970-01-01 -> civil date (Howard Hinnant's algorithm). */
static void
xl_civil(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t  era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t  yy = (int64_t) yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int) (yy + (*m <= 2));
}

/* An Excel serial date (1900 system) as text; NULL if out of range. */
static char *
xl_date_text(double serial)
{
    char     buf[48];
    double   days = floor(serial);
    long     secs = lround((serial - days) * 86400.0);
    int      y;
    unsigned m, d;

    if (!(serial >= 1 && serial < 2958466))     /* 1900-01-01 .. 9999-12-31 */
        return NULL;
    if (secs >= 86400) {
        days += 1;
        secs -= 86400;
    }
    /* Serial 60 is Excel's 1900-02-29, which never was; before it, serials are one day off. */
    xl_civil((int64_t) days - (days < 61 ? 25568 : 25569), &y, &m, &d);
    if (secs == 0)
        snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
    else
        snprintf(buf, sizeof buf, "%04d-%02u-%02u %02ld:%02ld:%02ld", y, m, d, secs / 3600, secs / 60 % 60, secs % 60);
    return strdup(buf);
}

/* A number as the shortest text that reads back the same. */
static char *
xl_number_text(const char *v)
{
    char   buf[64], *end;
    double d = strtod(v, &end);

    if (end == v || *end != '\0' || !isfinite(d))
        return strdup(v);
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return strdup(buf);
}

static void
xl_row_flush(xl_ctx *c)
{
    bool any = false;

    for (size_t i = 0; i < c->ncells; i++) {
        if (c->cells[i] == NULL && (c->cells[i] = strdup("")) == NULL)
            c->oom = true;
        else if (c->cells[i][0] != '\0')
            any = true;
    }
    if (c->oom || !any) {
        for (size_t i = 0; i < c->ncells; i++)
            free(c->cells[i]);
        free(c->cells);
    } else {
        pw_err e = pw_sheet_add_row(c->t, c->row_line, c->cells, c->ncells);
        if (e != PW_OK)
            xl_stop(c, e);
    }
    c->cells = NULL;
    c->ncells = 0;
}

static void XMLCALL
xl_sh_start(void *ud, const char *el, const char **attrs)
{
    xl_ctx     *c = ud;
    const char *l = xl_local(el), *r, *t, *s;
    size_t      col, row;

    if (c->oom)
        return;
    if (strcmp(l, "row") == 0) {
        r = xl_attr(attrs, "r");
        c->row_line = r != NULL ? strtoul(r, NULL, 10) : c->next_row;
        if (c->row_line == 0)
            c->row_line = c->next_row;
        c->next_row = c->row_line + 1;
        c->next_col = 0;
    } else if (strcmp(l, "c") == 0) {
        r = xl_attr(attrs, "r");
        t = xl_attr(attrs, "t");
        s = xl_attr(attrs, "s");
        c->cell_col = r != NULL && xl_ref(r, &col, &row) ? col : c->next_col;
        c->next_col = c->cell_col + 1;
        snprintf(c->cell_type, sizeof c->cell_type, "%s", t != NULL ? t : "n");
        c->cell_style = s != NULL ? strtol(s, NULL, 10) : 0;
        c->text.len = 0;
        if (c->text.p != NULL)
            c->text.p[0] = '\0';
        if (c->cell_col >= PW_SHEET_MAX_COLS)
            xl_stop(c, PW_ETOOBIG);
    } else if (strcmp(l, "v") == 0) {
        c->in_v = 1;
    } else if (strcmp(l, "is") == 0) {
        c->in_is = 1;
    } else if (strcmp(l, "t") == 0) {
        c->in_t++;
    } else if (strcmp(l, "rPh") == 0) {
        c->in_rph++;
    }
}

static void
xl_cell_end(xl_ctx *c)
{
    const char *v = c->text.p != NULL ? c->text.p : "";
    char       *out = NULL;

    if (strcmp(c->cell_type, "s") == 0) {
        char         *end;
        unsigned long i = strtoul(v, &end, 10);
        if (end == v || i >= c->shared.n) {
            snprintf(c->msg, c->msglen, "row %zu: a cell refers to shared string %s, which does not exist",
                     c->row_line, v);
            xl_stop(c, PW_EPROTO);
            return;
        }
        out = strdup(c->shared.v[i]);
    } else if (strcmp(c->cell_type, "b") == 0) {
        out = strdup(strcmp(v, "1") == 0 ? "TRUE" : "FALSE");
    } else if (strcmp(c->cell_type, "n") == 0 && *v != '\0') {
        bool date = c->cell_style >= 0 && (size_t) c->cell_style < c->nxf && c->xf_date[c->cell_style];
        out = date ? xl_date_text(strtod(v, NULL)) : NULL;
        if (out == NULL)
            out = xl_number_text(v);
    } else {
        out = strdup(v);       /* inlineStr, str (formula text), e (error), d (ISO date) */
    }
    if (out == NULL) {
        c->oom = true;
        return;
    }
    if (c->cell_col >= c->ncells) {
        char **cells = realloc(c->cells, (c->cell_col + 1) * sizeof *cells);
        if (cells == NULL) {
            free(out);
            c->oom = true;
            return;
        }
        for (size_t i = c->ncells; i <= c->cell_col; i++)
            cells[i] = NULL;
        c->cells = cells;
        c->ncells = c->cell_col + 1;
    }
    free(c->cells[c->cell_col]);
    c->cells[c->cell_col] = out;
}

static void XMLCALL
xl_sh_end(void *ud, const char *el)
{
    xl_ctx     *c = ud;
    const char *l = xl_local(el);

    if (c->oom)
        return;
    if (strcmp(l, "row") == 0)
        xl_row_flush(c);
    else if (strcmp(l, "c") == 0)
        xl_cell_end(c);
    else if (strcmp(l, "v") == 0)
        c->in_v = 0;
    else if (strcmp(l, "is") == 0)
        c->in_is = 0;
    else if (strcmp(l, "t") == 0)
        c->in_t--;
    else if (strcmp(l, "rPh") == 0)
        c->in_rph--;
}

static void XMLCALL
xl_sh_text(void *ud, const char *s, int len)
{
    xl_ctx *c = ud;

    if ((c->in_v || (c->in_is && c->in_t > 0 && c->in_rph == 0)) && !xl_buf_add(&c->text, s, (size_t) len))
        xl_stop(c, PW_ETOOBIG);
}

/* ---- the whole ---------------------------------------------------------- */

/* The part name of a relationship target (relative to xl/, or absolute from the root). */
static void
xl_target_path(const char *target, char *out, size_t len)
{
    if (target[0] == '/')
        snprintf(out, len, "%s", target + 1);
    else
        snprintf(out, len, "xl/%s", target);
}

pw_err
pw_sheet_read_xlsx(const char *path, const char *sheet, pw_sheet **out, char *msg, size_t msglen)
{
    xl_ctx  c;
    zip_t  *z;
    int     zerr;
    size_t  si = 0;
    char    part[1024], list[512];
    const char *target = NULL;
    pw_err  e;

    *out = NULL;
    msg[0] = '\0';
    memset(&c, 0, sizeof c);
    c.msg = msg;
    c.msglen = msglen;
    c.next_row = 1;
    if ((z = zip_open(path, ZIP_RDONLY, &zerr)) == NULL) {
        snprintf(msg, msglen, "%s is not a readable XLSX (zip) file", path);
        return PW_EPROTO;
    }
    if ((e = xl_parse(z, "xl/workbook.xml", true, &c, xl_wb_start, xl_no_end, xl_no_text)) != PW_OK
        || (e = xl_parse(z, "xl/_rels/workbook.xml.rels", true, &c, xl_rel_start, xl_no_end, xl_no_text)) != PW_OK
        || (e = xl_parse(z, "xl/sharedStrings.xml", false, &c, xl_ss_start, xl_ss_end, xl_ss_text)) != PW_OK
        || (e = xl_parse(z, "xl/styles.xml", false, &c, xl_st_start, xl_st_end, xl_no_text)) != PW_OK)
        goto out;
    if (c.sheet_names.n == 0) {
        snprintf(msg, msglen, "%s holds no worksheet", path);
        e = PW_EPROTO;
        goto out;
    }
    if (sheet != NULL) {
        for (si = 0; si < c.sheet_names.n && strcmp(c.sheet_names.v[si], sheet) != 0; si++)
            ;
        if (si == c.sheet_names.n) {
            size_t n = 0;
            list[0] = '\0';
            for (size_t i = 0; i < c.sheet_names.n && n < sizeof list; i++)
                n += (size_t) snprintf(list + n, sizeof list - n, "%s\"%s\"", i ? ", " : "", c.sheet_names.v[i]);
            snprintf(msg, msglen, "%s has no sheet \"%s\" (it has %s)", path, sheet, list);
            e = PW_ENOENT;
            goto out;
        }
    }
    for (size_t i = 0; i < c.rel_ids.n; i++)
        if (strcmp(c.rel_ids.v[i], c.sheet_ids.v[si]) == 0)
            target = c.rel_targets.v[i];
    if (target == NULL) {
        snprintf(msg, msglen, "%s: sheet \"%s\" has no part", path, c.sheet_names.v[si]);
        e = PW_EPROTO;
        goto out;
    }
    xl_target_path(target, part, sizeof part);
    if ((c.t = calloc(1, sizeof *c.t)) == NULL) {
        e = PW_ENOMEM;
        goto out;
    }
    c.in_t = c.in_rph = 0;
    e = xl_parse(z, part, true, &c, xl_sh_start, xl_sh_end, xl_sh_text);
out:
    if (e == PW_ETOOBIG && msg[0] == '\0')
        snprintf(msg, msglen, "%s: more than %d rows or %d columns, or a part over %zu MiB", path,
                 PW_SHEET_MAX_ROWS, PW_SHEET_MAX_COLS, PW_SHEET_MAX_BYTES >> 20);
    if (e == PW_ENOMEM && msg[0] == '\0')
        snprintf(msg, msglen, "%s: out of memory", path);
    for (size_t i = 0; i < c.ncells; i++)
        free(c.cells[i]);
    free(c.cells);
    free(c.text.p);
    free(c.xf_date);
    xl_strs_free(&c.sheet_names);
    xl_strs_free(&c.sheet_ids);
    xl_strs_free(&c.rel_ids);
    xl_strs_free(&c.rel_targets);
    xl_strs_free(&c.shared);
    xl_strs_free(&c.fmt_ids);
    xl_strs_free(&c.fmt_codes);
    zip_close(z);
    if (e != PW_OK) {
        pw_sheet_free(c.t);
        return e;
    }
    *out = c.t;
    return PW_OK;
}
