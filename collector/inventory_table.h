/*
 * inventory_table.h - the request table (REQUIREMENTS R9) as a spreadsheet:
 * which header means which column (Chinese or English, generous with
 * synonyms), validating every cell, and writing the inventory back in the
 * same form (CSV or XLSX) so that export -> import changes nothing.
 *
 * Headers are matched after normalising: full-width characters to their
 * ASCII forms, ASCII lower case, spaces, '_', '-', '.', '/', ':' and '*'
 * dropped, a parenthesised unit ("内存(GB)", "CPU(核)") set aside. The
 * header row is the first of the first 10 rows naming at least two known
 * columns (rows above it, such as a title, are skipped). Unknown columns
 * are ignored and reported. The list of names is in collector/README.md
 * ("Inventory").
 */
#ifndef PW_INVENTORY_TABLE_H
#define PW_INVENTORY_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "inventory.h"
#include "inventory_cols.h"
#include "sheet.h"

/* Rows read from a table; owns every string the vms point to. */
typedef struct pw_inv_rows pw_inv_rows;
struct pw_inv_rows {
    size_t     n;
    pw_inv_vm *vms;
    size_t    *lines;      /* the Excel row of each */
    char      *ignored;    /* "序号, foo": headers that mean nothing here; "" if none */
    /* private */
    char     **strs;
    size_t     nstrs, cstrs;
};

/*
 * Validates table t as a request table. PW_OK: *out (caller frees with
 * pw_inv_rows_free) holds one vm per non-blank row, delivered/terminated/
 * requested as INT64_MIN/INT64_MAX when empty. PW_EPROTO: *errors (malloc'd,
 * caller frees) lists every problem, one per line, each
 *   row N, column HEADER, value "V": why
 * (or a sentence about the header row), and *out is NULL. PW_ENOMEM.
 */
pw_err pw_inv_table_rows(const pw_sheet *t, pw_inv_rows **out, char **errors);
void   pw_inv_rows_free(pw_inv_rows *r);

/*
 * Parses a date as the table may hold it: 2026-10-10, 2026/10/10,
 * 2026.10.10, 2026年10月10日, each optionally followed by a time
 * HH:MM[:SS]; UTC. false if it is none of these or no such day.
 */
bool pw_inv_parse_date(const char *s, int64_t *ms);

/* Writes the table (header, then rows) as CSV (RFC 4180, UTF-8, CRLF) or XLSX. */
typedef struct pw_inv_writer pw_inv_writer;
/* path NULL: stdout (CSV only). PW_EINVAL: XLSX to stdout; PW_EIO with msg. */
pw_err pw_inv_writer_open(const char *path, bool xlsx, pw_inv_lang lang, pw_inv_writer **out,
                          char *msg, size_t msglen);
pw_err pw_inv_writer_row(pw_inv_writer *w, const pw_inv_vm *vm);
/* Finishes the file and frees w (also after a failed row); PW_EIO with msg. */
pw_err pw_inv_writer_close(pw_inv_writer *w, char *msg, size_t msglen);

#endif
