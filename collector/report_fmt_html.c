/*
 * report_fmt_html.c - a report as one printable HTML page: inline CSS, the
 * charts as inline SVG drawn here, no script and no external file, so it
 * opens offline, prints as it shows (A4 landscape, tables repeat their
 * header on each page) and passes the dashboard's CSP unchanged. Why SVG
 * from C rather than uPlot inlined: the charts are static bars, uPlot
 * needs a script and a canvas that prints blurred, and SVG text takes the
 * page's CJK fonts.
 *
 * Charts: the efficiency score of each unit (bars, ranked), and each pool's
 * allocated and used ratio at the period's end against the 70 % line.
 */
#include "report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void
rh_esc(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f); break;
        }
    }
}

static void
rh_cell(FILE *f, pw_rcol_type t, const pw_rcell *c)
{
    char buf[32];

    if (t == PW_RCOL_TEXT) {
        fputs("<td>", f);
        rh_esc(f, c->s != NULL ? c->s : "");
        fputs("</td>", f);
        return;
    }
    if (!isfinite(c->v)) {
        fputs("<td class=n>–</td>", f);
        return;
    }
    switch (t) {
    case PW_RCOL_INT:  snprintf(buf, sizeof buf, "%.0f", c->v); break;
    case PW_RCOL_PCT:  snprintf(buf, sizeof buf, "%.1f%%", c->v * 100.0); break;
    case PW_RCOL_DATE: pw_report_day_str((int64_t) c->v, buf, sizeof buf); break;
    default:           snprintf(buf, sizeof buf, "%.2f", c->v); break;
    }
    fprintf(f, "<td class=n>%s</td>", buf);
}

/* Horizontal bars, value 0..1 (clipped at 1.2), a dashed line at mark (<0: none). */
static void
rh_bars(FILE *f, size_t n, const char *const *labels, const double *v, const double *v2, double mark,
        const char *legend1, const char *legend2)
{
    const int lw = 220, bw = 480, rowh = v2 != NULL ? 30 : 20, top = 24;
    int       h = top + (int) n * rowh + 10;

    fprintf(f, "<svg class=chart xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
               "viewBox='0 0 %d %d' role='img'>\n", lw + bw + 70, h, lw + bw + 70, h);
    fprintf(f, "<rect x='%d' y='4' width='12' height='10' fill='#4472c4'/><text x='%d' y='13' font-size='11'>",
            lw, lw + 16);
    rh_esc(f, legend1);
    fputs("</text>", f);
    if (v2 != NULL) {
        fprintf(f, "<rect x='%d' y='4' width='12' height='10' fill='#ed7d31'/><text x='%d' y='13' font-size='11'>",
                lw + 160, lw + 176);
        rh_esc(f, legend2);
        fputs("</text>", f);
    }
    for (size_t i = 0; i < n; i++) {
        int    y = top + (int) i * rowh;
        double a = isfinite(v[i]) ? fmin(v[i], 1.2) : 0;

        fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='end'>", lw - 6, y + 12);
        rh_esc(f, labels[i]);
        fputs("</text>", f);
        fprintf(f, "<rect x='%d' y='%d' width='%.1f' height='12' fill='#4472c4'/>", lw, y + 2, a / 1.2 * bw);
        if (isfinite(v[i]))
            fprintf(f, "<text x='%.1f' y='%d' font-size='10'>%.1f%%</text>", lw + a / 1.2 * bw + 4, y + 12,
                    v[i] * 100);
        if (v2 != NULL) {
            double b = isfinite(v2[i]) ? fmin(v2[i], 1.2) : 0;

            fprintf(f, "<rect x='%d' y='%d' width='%.1f' height='12' fill='#ed7d31'/>", lw, y + 15, b / 1.2 * bw);
            if (isfinite(v2[i]))
                fprintf(f, "<text x='%.1f' y='%d' font-size='10'>%.1f%%</text>", lw + b / 1.2 * bw + 4, y + 25,
                        v2[i] * 100);
        }
    }
    if (mark >= 0) {
        double x = lw + mark / 1.2 * bw;

        fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#c00000' stroke-dasharray='4 3'/>"
                   "<text x='%.1f' y='%d' font-size='10' fill='#c00000'>%.0f%%</text>",
                x, top - 4, x, h - 6, x + 3, top + 6, mark * 100);
    }
    fputs("</svg>\n", f);
}

static pw_err
rh_charts(const pw_report *r, pw_report_lang lang, FILE *f)
{
    size_t       n = r->nunits > 40 ? 40 : r->nunits;
    const char  *lab[64];
    double       v[64], v2[64];
    char         pl[64][80];

    if (n > 0) {
        fprintf(f, "<h3>%s</h3>\n", pw_rname(lang, "使用单位效率得分（前40名）", "Units' efficiency score (top 40)"));
        for (size_t i = 0; i < n; i++) {
            lab[i] = r->units[i].tenant;
            v[i] = r->units[i].score;
        }
        rh_bars(f, n, lab, v, NULL, -1, pw_rname(lang, "效率得分", "efficiency score"), "");
    }
    n = 0;
    for (size_t i = 0; i < r->npools && n < 64; i++) {
        snprintf(pl[n], sizeof pl[n], "%s / %s", r->pools[i].pool, r->pools[i].resource);
        lab[n] = pl[n];
        v[n] = r->pools[i].allocated_end;
        v2[n] = r->pools[i].used_end;
        n++;
    }
    if (n > 0) {
        fprintf(f, "<h3>%s</h3>\n", pw_rname(lang, "资源池期末分配率与使用率", "Pools at the period's end"));
        rh_bars(f, n, lab, v, v2, 0.7, pw_rname(lang, "分配率", "allocated"), pw_rname(lang, "使用率", "used"));
    }
    return PW_OK;
}

static pw_err
rh_write(const pw_report *r, pw_report_lang lang, FILE *f, char *msg, size_t msglen)
{
    pw_rcell cells[PW_RPART_MAXCOLS];
    char     scratch[PW_RPART_MAXCOLS * PW_RCELL_TEXT], title[512];

    pw_report_title(r, lang, title, sizeof title);
    fprintf(f, "<!DOCTYPE html>\n<html lang='%s'>\n<head>\n<meta charset='utf-8'>\n<title>",
            lang == PW_REPORT_EN ? "en" : "zh-CN");
    rh_esc(f, title);
    fputs("</title>\n<style>\n"
          "body{font-family:'Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Micro Hei','Microsoft YaHei',"
          "'PingFang SC',sans-serif;font-size:12px;margin:16px;color:#222}\n"
          "h1{font-size:18px}h2{font-size:15px;margin-top:24px;border-bottom:2px solid #4472c4}"
          "h3{font-size:13px}\n"
          "table{border-collapse:collapse;margin:6px 0 12px}th,td{border:1px solid #bbb;padding:2px 5px}"
          "th{background:#ddebf7;font-weight:bold}td.n{text-align:right;white-space:nowrap}\n"
          "thead{display:table-header-group}tr{page-break-inside:avoid}svg text{font-family:inherit}\n"
          "@page{size:A4 landscape;margin:10mm}@media print{body{margin:0}h2{page-break-before:auto}}\n"
          "</style>\n</head>\n<body>\n<h1>", f);
    rh_esc(f, title);
    fputs("</h1>\n", f);
    rh_charts(r, lang, f);
    for (int p = 0; p < PW_RPART_COUNT_; p++) {
        const pw_rpart *pt = &pw_rparts[p];
        size_t          n = pt->nrows(r);

        fprintf(f, "<h2 id='%s'>", pt->key);
        rh_esc(f, pw_rname(lang, pt->zh, pt->en));
        fputs("</h2>\n", f);
        if (n == 0) {
            fprintf(f, "<p>%s</p>\n", pw_rname(lang, "无。", "None."));
            continue;
        }
        fputs("<table>\n<thead><tr>", f);
        for (size_t c = 0; c < pt->ncols; c++) {
            fputs("<th>", f);
            rh_esc(f, pw_rname(lang, pt->cols[c].zh, pt->cols[c].en));
            fputs("</th>", f);
        }
        fputs("</tr></thead>\n<tbody>\n", f);
        for (size_t i = 0; i < n; i++) {
            memset(cells, 0, sizeof cells);
            pt->row(r, i, lang, cells, scratch);
            fputs("<tr>", f);
            for (size_t c = 0; c < pt->ncols; c++)
                rh_cell(f, pt->cols[c].type, &cells[c]);
            fputs("</tr>\n", f);
        }
        fputs("</tbody>\n</table>\n", f);
    }
    fprintf(f, "<p>%s</p>\n</body>\n</html>\n",
            pw_rname(lang, "利用率为所选时段内5分钟（季度、年度为1小时）平均值的均值、P95与峰值；建议规则与效率得分定义见 poolwatch 文档“报表”。",
                     "Use is the mean, p95 and maximum of 5-minute averages (hourly for quarters and years); "
                     "the suggestion rules and the efficiency score are defined in poolwatch's documentation, \"Reports\"."));
    if (fflush(f) != 0 || ferror(f)) {
        snprintf(msg, msglen, "cannot write the HTML");
        return PW_EIO;
    }
    return PW_OK;
}

const pw_report_fmt_ops pw_report_fmt_html = { "html", "text/html; charset=utf-8", "html", rh_write };
