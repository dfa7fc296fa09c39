/*
 * report_int.h - what the report formats share (report_fmt.c): every part
 * of a report as a table of typed columns with Chinese and English names,
 * so XLSX, CSV, HTML and JSON show the same cells in the same order.
 */
#ifndef PW_REPORT_INT_H
#define PW_REPORT_INT_H

#include "report.h"

typedef enum pw_rcol_type {
    PW_RCOL_TEXT,   /* string */
    PW_RCOL_INT,    /* whole number */
    PW_RCOL_NUM,    /* number, 2 decimals shown */
    PW_RCOL_PCT,    /* ratio 0..1, shown as a percentage */
    PW_RCOL_DATE,   /* civil day (days since 1970-01-01), shown YYYY-MM-DD */
} pw_rcol_type;

typedef struct pw_rcol {
    const char  *key;      /* JSON key, ASCII */
    const char  *zh, *en;  /* column headers */
    pw_rcol_type type;
} pw_rcol;

/* One cell: s for text (never NULL), v for the rest (NaN: empty). */
typedef struct pw_rcell {
    const char *s;
    double      v;
} pw_rcell;

#define PW_RCELL_TEXT 64    /* scratch bytes per cell for texts a part makes up */

typedef enum pw_rpart_id {
    PW_RPART_UTIL, PW_RPART_POOLS, PW_RPART_ALERTS, PW_RPART_HOSTS, PW_RPART_CHANGES, PW_RPART_ADVICE,
    PW_RPART_UNITS, PW_RPART_COUNT_
} pw_rpart_id;

typedef struct pw_rpart {
    const char    *key, *zh, *en;     /* JSON key; sheet and section names (<= 31 chars for sheets) */
    const pw_rcol *cols;
    size_t         ncols;
    /* rows of r in this part */
    size_t       (*nrows)(const pw_report *r);
    /* fills cells[0..ncols) of row i; scratch holds ncols x PW_RCELL_TEXT bytes */
    void         (*row)(const pw_report *r, size_t i, pw_report_lang lang, pw_rcell *cells, char *scratch);
} pw_rpart;

extern const pw_rpart pw_rparts[PW_RPART_COUNT_];

/* Header / sheet name in lang. */
const char *pw_rname(pw_report_lang lang, const char *zh, const char *en);

/* The report's title: "资源使用报告 2026-10 (全部单位)" / "Utilization report 2026-10 (all units)". */
void pw_report_title(const pw_report *r, pw_report_lang lang, char *buf, size_t len);

/* A civil day as YYYY-MM-DD. */
void pw_report_day_str(int64_t day, char *buf, size_t len);

/* Most columns a part has (scratch sizing). */
#define PW_RPART_MAXCOLS 32

#endif
