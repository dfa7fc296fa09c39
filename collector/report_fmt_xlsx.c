/*
 * report_fmt_xlsx.c - a report as an XLSX workbook (libxlsxwriter): one
 * sheet per part, named in the language asked for (Chinese by default);
 * row 1 the header, frozen, with an autofilter; numbers as numbers with a
 * number format (percentages are ratios formatted 0.00%, so Excel sums and
 * sorts them), dates as dates, no figure an empty cell. The report's title
 * and period are in the workbook's properties.
 *
 * libxlsxwriter 1.1.4 (Debian 12) writes to a file name only, so the
 * workbook goes to a temporary file that is copied to the stream and removed.
 */
#include "report_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xlsxwriter.h>

static pw_err
rx_copy(const char *path, FILE *f, char *msg, size_t msglen)
{
    FILE  *in = fopen(path, "rb");
    char   buf[65536];
    size_t n;
    pw_err e = PW_OK;

    if (in == NULL) {
        snprintf(msg, msglen, "XLSX: cannot read back %s: %s", path, strerror(errno));
        return PW_EIO;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, f) != n) {
            e = PW_EIO;
            break;
        }
    if (ferror(in) || fflush(f) != 0 || ferror(f))
        e = PW_EIO;
    fclose(in);
    if (e != PW_OK)
        snprintf(msg, msglen, "cannot write the XLSX");
    return e;
}

static pw_err
rx_write(const pw_report *r, pw_report_lang lang, FILE *f, char *msg, size_t msglen)
{
    const char      *tmpdir = getenv("TMPDIR");
    char             path[4096], title[512];
    lxw_workbook    *wb = NULL;
    lxw_format      *head, *num, *intf, *pct, *date;
    pw_rcell         cells[PW_RPART_MAXCOLS];
    char             scratch[PW_RPART_MAXCOLS * PW_RCELL_TEXT];
    lxw_doc_properties props = { 0 };
    int              fd;
    pw_err           e = PW_EIO;

    snprintf(path, sizeof path, "%s/poolwatch-report-XXXXXX", tmpdir != NULL && tmpdir[0] ? tmpdir : "/tmp");
    if ((fd = mkstemp(path)) < 0) {
        snprintf(msg, msglen, "XLSX: cannot make a temporary file in %s: %s", path, strerror(errno));
        return PW_EIO;
    }
    close(fd);
    if ((wb = workbook_new(path)) == NULL) {
        snprintf(msg, msglen, "XLSX: cannot start the workbook");
        goto out;
    }
    pw_report_title(r, lang, title, sizeof title);
    props.title = title;
    props.subject = (char *) r->period.label;
    props.author = "poolwatch";
    workbook_set_properties(wb, &props);
    head = workbook_add_format(wb);
    format_set_bold(head);
    format_set_text_wrap(head);
    format_set_bg_color(head, 0xDDEBF7);
    format_set_border(head, LXW_BORDER_THIN);
    num = workbook_add_format(wb);
    format_set_num_format(num, "0.00");
    intf = workbook_add_format(wb);
    format_set_num_format(intf, "0");
    pct = workbook_add_format(wb);
    format_set_num_format(pct, "0.00%");
    date = workbook_add_format(wb);
    format_set_num_format(date, "yyyy-mm-dd");
    for (int p = 0; p < PW_RPART_COUNT_; p++) {
        const pw_rpart *pt = &pw_rparts[p];
        lxw_worksheet  *ws = workbook_add_worksheet(wb, pw_rname(lang, pt->zh, pt->en));
        size_t          n = pt->nrows(r);

        if (ws == NULL) {
            snprintf(msg, msglen, "XLSX: cannot add the sheet %s", pt->en);
            goto out;
        }
        for (size_t c = 0; c < pt->ncols; c++) {
            worksheet_write_string(ws, 0, (lxw_col_t) c, pw_rname(lang, pt->cols[c].zh, pt->cols[c].en), head);
            worksheet_set_column(ws, (lxw_col_t) c, (lxw_col_t) c, pt->cols[c].type == PW_RCOL_TEXT ? 18 : 12, NULL);
        }
        worksheet_freeze_panes(ws, 1, 0);
        if (n > 0)
            worksheet_autofilter(ws, 0, 0, (lxw_row_t) n, (lxw_col_t) (pt->ncols - 1));
        for (size_t i = 0; i < n; i++) {
            lxw_row_t row = (lxw_row_t) (i + 1);

            memset(cells, 0, sizeof cells);
            pt->row(r, i, lang, cells, scratch);
            for (size_t c = 0; c < pt->ncols; c++) {
                lxw_col_t col = (lxw_col_t) c;
                double    v = cells[c].v;

                switch (pt->cols[c].type) {
                case PW_RCOL_TEXT:
                    if (cells[c].s != NULL && cells[c].s[0] != '\0')
                        worksheet_write_string(ws, row, col, cells[c].s, NULL);
                    break;
                case PW_RCOL_DATE:
                    /* Excel's serial day: 1970-01-01 is 25569 */
                    if (isfinite(v))
                        worksheet_write_number(ws, row, col, v + 25569.0, date);
                    break;
                default:
                    if (isfinite(v))
                        worksheet_write_number(ws, row, col, v,
                                               pt->cols[c].type == PW_RCOL_PCT ? pct
                                               : pt->cols[c].type == PW_RCOL_INT ? intf : num);
                    break;
                }
            }
        }
    }
    {
        lxw_error le = workbook_close(wb);

        wb = NULL;
        if (le != LXW_NO_ERROR) {
            snprintf(msg, msglen, "XLSX: %s", lxw_strerror(le));
            goto out;
        }
    }
    e = rx_copy(path, f, msg, msglen);
out:
    if (wb != NULL)
        workbook_close(wb);
    unlink(path);
    return e;
}

const pw_report_fmt_ops pw_report_fmt_xlsx = {
    "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", rx_write };
