/*
 * sheet.h - reading a spreadsheet (CSV or XLSX) into rows of UTF-8 text
 * cells, with the row numbers a user sees in Excel, so that validation
 * errors can point at the cell. What the cells mean is the caller's
 * business (inventory_table.c for the request table).
 *
 * CSV (sheet_csv.c): RFC 4180 - fields in double quotes may hold commas,
 * quotes ("") and line breaks; CRLF or LF. A record is one Excel row, blank
 * lines included. Encoding: UTF-8 (a BOM is skipped) or GB18030, detected
 * (valid UTF-8 is UTF-8, anything else is converted from GB18030 with
 * iconv) unless forced. UTF-16 (a UTF-16 BOM) is refused with a hint.
 *
 * XLSX (sheet_xlsx.c, libzip + expat): the first worksheet or a named one;
 * shared strings, inline strings, numbers (shortest text that reads back the
 * same), booleans, and numbers in date-formatted cells (styles.xml) as
 * "YYYY-MM-DD" (or "YYYY-MM-DD HH:MM:SS" when there is a time of day).
 * Formulas give their cached value.
 */
#ifndef PW_SHEET_H
#define PW_SHEET_H

#include <stddef.h>

#include "pw_err.h"

/* Limits against hostile files (zip bombs, endless lines). */
#define PW_SHEET_MAX_BYTES  ((size_t) 64 << 20)   /* a CSV file, or one part of an XLSX */
#define PW_SHEET_MAX_ROWS   100000
#define PW_SHEET_MAX_COLS   256

typedef struct pw_sheet_row {
    size_t  line;       /* the row number Excel shows (1 = first) */
    size_t  ncells;
    char  **cells;      /* ncells NUL-terminated UTF-8 strings; missing cells are "" */
} pw_sheet_row;

typedef struct pw_sheet {
    size_t        nrows;
    pw_sheet_row *rows;     /* only rows with at least one cell; ascending line */
    size_t        cap;      /* allocated rows (the readers' business) */
} pw_sheet;

typedef enum pw_sheet_enc { PW_SHEET_ENC_AUTO = 0, PW_SHEET_ENC_UTF8, PW_SHEET_ENC_GB18030 } pw_sheet_enc;

/* "auto", "utf-8"/"utf8", "gb18030"/"gbk"/"gb2312" (case-insensitive); -1 if unknown. */
int pw_sheet_enc_parse(const char *s);

/*
 * Parses CSV text (len bytes, any encoding per enc). *out owned by the caller
 * (pw_sheet_free). PW_EPROTO with a sentence in msg for text that is not in
 * the encoding (naming the row), an unterminated quote (naming the row it
 * opened on), a stray quote inside an unquoted field; PW_ETOOBIG over the
 * limits; PW_ENOMEM.
 */
pw_err pw_sheet_parse_csv(const char *buf, size_t len, pw_sheet_enc enc, pw_sheet **out,
                          char *msg, size_t msglen);

/*
 * Reads sheet `sheet` (NULL: the first) of the XLSX file at path. PW_ENOENT
 * (no such sheet: msg lists those there), PW_EPROTO (not an XLSX file or a
 * malformed part), PW_EIO, PW_ETOOBIG, PW_ENOMEM; msg says which.
 */
pw_err pw_sheet_read_xlsx(const char *path, const char *sheet, pw_sheet **out, char *msg, size_t msglen);

/*
 * Reads path as XLSX if it is a zip file (starts with "PK\3\4"), else as
 * CSV. Same errors as the two above, and PW_EIO if the file cannot be read.
 */
pw_err pw_sheet_read_file(const char *path, pw_sheet_enc enc, const char *sheet, pw_sheet **out,
                          char *msg, size_t msglen);

void pw_sheet_free(pw_sheet *t);    /* NULL ok */

/* For the readers: appends a row (takes ownership of cells, even on failure). */
pw_err pw_sheet_add_row(pw_sheet *t, size_t line, char **cells, size_t ncells);

#endif
