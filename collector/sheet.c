/*
 * sheet.c - the row container of sheet.h and the format switch.
 */
#include "sheet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
pw_sheet_free(pw_sheet *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows; i++) {
        for (size_t j = 0; j < t->rows[i].ncells; j++)
            free(t->rows[i].cells[j]);
        free(t->rows[i].cells);
    }
    free(t->rows);
    free(t);
}

pw_err
pw_sheet_add_row(pw_sheet *t, size_t line, char **cells, size_t ncells)
{
    pw_sheet_row *rows;

    if (t->nrows >= PW_SHEET_MAX_ROWS || ncells > PW_SHEET_MAX_COLS) {
        for (size_t j = 0; j < ncells; j++)
            free(cells[j]);
        free(cells);
        return PW_ETOOBIG;
    }
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        if ((rows = realloc(t->rows, cap * sizeof *rows)) == NULL) {
            for (size_t j = 0; j < ncells; j++)
                free(cells[j]);
            free(cells);
            return PW_ENOMEM;
        }
        t->rows = rows;
        t->cap = cap;
    }
    t->rows[t->nrows].line = line;
    t->rows[t->nrows].ncells = ncells;
    t->rows[t->nrows].cells = cells;
    t->nrows++;
    return PW_OK;
}

int
pw_sheet_enc_parse(const char *s)
{
    if (s == NULL || strcasecmp(s, "auto") == 0)
        return PW_SHEET_ENC_AUTO;
    if (strcasecmp(s, "utf-8") == 0 || strcasecmp(s, "utf8") == 0)
        return PW_SHEET_ENC_UTF8;
    if (strcasecmp(s, "gb18030") == 0 || strcasecmp(s, "gbk") == 0 || strcasecmp(s, "gb2312") == 0)
        return PW_SHEET_ENC_GB18030;
    return -1;
}

pw_err
pw_sheet_read_file(const char *path, pw_sheet_enc enc, const char *sheet, pw_sheet **out,
                   char *msg, size_t msglen)
{
    FILE  *f;
    char  *buf = NULL;
    size_t len = 0, cap = 0, n;
    pw_err e = PW_OK;

    *out = NULL;
    if ((f = fopen(path, "rb")) == NULL) {
        snprintf(msg, msglen, "cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? PW_ENOENT : PW_EIO;
    }
    for (;;) {
        if (len == cap) {
            char *nb;
            if (cap >= PW_SHEET_MAX_BYTES) {
                snprintf(msg, msglen, "%s: larger than %zu MiB", path, PW_SHEET_MAX_BYTES >> 20);
                e = PW_ETOOBIG;
                goto out;
            }
            cap = cap ? cap * 2 : 65536;
            if ((nb = realloc(buf, cap)) == NULL) {
                e = PW_ENOMEM;
                goto out;
            }
            buf = nb;
        }
        if ((n = fread(buf + len, 1, cap - len, f)) == 0)
            break;
        len += n;
    }
    if (ferror(f)) {
        snprintf(msg, msglen, "cannot read %s: %s", path, strerror(errno));
        e = PW_EIO;
        goto out;
    }
    if (len >= 4 && memcmp(buf, "PK\3\4", 4) == 0)
        e = pw_sheet_read_xlsx(path, sheet, out, msg, msglen);
    else
        e = pw_sheet_parse_csv(buf, len, enc, out, msg, msglen);
out:
    if (e == PW_ENOMEM)
        snprintf(msg, msglen, "%s: out of memory", path);
    free(buf);
    fclose(f);
    return e;
}
