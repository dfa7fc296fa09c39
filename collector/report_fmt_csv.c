/*
 * report_fmt_csv.c - a report as one CSV file (UTF-8 with a BOM, so Excel
 * reads the Chinese; CRLF; RFC 4180 quoting). Every part in turn: a line
 * with its name alone, its header, its rows, an empty line. Percentages
 * are written as percent numbers with two decimals (45.25 for 45.25 %),
 * the header saying "%"; other numbers with up to two decimals; empty for
 * no figure.
 */
#include "report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void
rc_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void
rc_num(FILE *f, pw_rcol_type t, double v)
{
    char buf[64];

    if (isnan(v) || isinf(v))
        return;
    switch (t) {
    case PW_RCOL_INT:
        snprintf(buf, sizeof buf, "%.0f", v);
        break;
    case PW_RCOL_PCT:
        snprintf(buf, sizeof buf, "%.2f", v * 100.0);
        break;
    case PW_RCOL_DATE:
        pw_report_day_str((int64_t) v, buf, sizeof buf);
        break;
    default:
        snprintf(buf, sizeof buf, "%.2f", v);
        break;
    }
    if (strcmp(buf, "-0.00") == 0)
        strcpy(buf, "0.00");
    fputs(buf, f);
}

static pw_err
rc_write(const pw_report *r, pw_report_lang lang, FILE *f, char *msg, size_t msglen)
{
    pw_rcell cells[PW_RPART_MAXCOLS];
    char     scratch[PW_RPART_MAXCOLS * PW_RCELL_TEXT], title[512];

    fputs("\xEF\xBB\xBF", f);
    pw_report_title(r, lang, title, sizeof title);
    rc_field(f, title);
    fputs("\r\n\r\n", f);
    for (int p = 0; p < PW_RPART_COUNT_; p++) {
        const pw_rpart *pt = &pw_rparts[p];
        size_t          n = pt->nrows(r);

        rc_field(f, pw_rname(lang, pt->zh, pt->en));
        fputs("\r\n", f);
        for (size_t c = 0; c < pt->ncols; c++) {
            char h[128];

            snprintf(h, sizeof h, "%s%s", pw_rname(lang, pt->cols[c].zh, pt->cols[c].en),
                     pt->cols[c].type == PW_RCOL_PCT ? " (%)" : "");
            if (c > 0)
                fputc(',', f);
            rc_field(f, h);
        }
        fputs("\r\n", f);
        for (size_t i = 0; i < n; i++) {
            memset(cells, 0, sizeof cells);
            pt->row(r, i, lang, cells, scratch);
            for (size_t c = 0; c < pt->ncols; c++) {
                if (c > 0)
                    fputc(',', f);
                if (pt->cols[c].type == PW_RCOL_TEXT)
                    rc_field(f, cells[c].s != NULL ? cells[c].s : "");
                else
                    rc_num(f, pt->cols[c].type, cells[c].v);
            }
            fputs("\r\n", f);
        }
        fputs("\r\n", f);
    }
    if (fflush(f) != 0 || ferror(f)) {
        snprintf(msg, msglen, "cannot write the CSV");
        return PW_EIO;
    }
    return PW_OK;
}

const pw_report_fmt_ops pw_report_fmt_csv = { "csv", "text/csv; charset=utf-8", "csv", rc_write };
