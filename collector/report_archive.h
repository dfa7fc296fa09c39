/*
 * report_archive.h - the monthly reports kept under DIR/reports/YYYY-MM/,
 * made by the collector on --report-archive-day of each month for the
 * month before (report_archive.c) and listed by `poolwatch report list`
 * and GET /api/v1/reports.
 *
 * An archive is immutable: it is written whole into a hidden directory
 * (DIR/reports/.tmp-YYYY-MM-<pid>), every file synced and made read-only
 * (0444), with SHA256SUMS (sha256sum's format: "<64 hex>  <file>"), then
 * renamed into place in one step; a month already archived is never
 * written again (delete the directory by hand to make it anew). Listing
 * checks every file against SHA256SUMS.
 *
 * Contents: the whole-cloud report and each using unit's own (units with a
 * VM in service that month), each in xlsx, csv, html and json (Chinese):
 *   poolwatch-monthly-2026-10.xlsx, ..., poolwatch-monthly-2026-10-<unit>.xlsx
 * <unit> is the unit's slug (pw_report_slug): one-to-one, so a unit's own
 * files are exactly those pw_report_archive_owned says, never the whole
 * cloud's nor another unit's.
 */
#ifndef PW_REPORT_ARCHIVE_H
#define PW_REPORT_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"
#include "report.h"

struct pw_inventory;
struct pw_alert_db;

#define PW_REPORT_ARCHIVE_SUBDIR "reports"

/*
 * Makes the archive of `period` (a month) under data_dir/reports unless it
 * exists (*made false then). store opened by the caller; alerts may be
 * NULL. PW_EIO / PW_ENOMEM / build errors with msg.
 */
pw_err pw_report_archive_month(const char *data_dir, pw_store *store, struct pw_inventory *inv,
                               struct pw_alert_db *alerts, const pw_report_tz *tz,
                               const pw_report_period *period, int64_t now, bool *made,
                               char *msg, size_t msglen);

/*
 * Removes what an archive interrupted by a crash left (DIR/reports/.tmp-*).
 * Only the collector archives, one per data directory, so at its start
 * none is in progress. *removed: how many. PW_OK when there is nothing.
 */
pw_err pw_report_archive_clean(const char *data_dir, size_t *removed);

/* Is file (a name in month's directory) that unit's own report? */
bool pw_report_archive_owned(const char *month, const char *file, const char *tenant);

/* One archived file as listed. */
typedef struct pw_report_archived {
    const char *month;      /* "2026-10" */
    const char *file;       /* file name */
    const char *sha256;     /* as listed in SHA256SUMS; "" if missing there */
    uint64_t    size;
    int64_t     mtime_ms;
    bool        intact;     /* the file's SHA-256 equals the listed one */
} pw_report_archived;

typedef int (*pw_report_archived_cb)(void *ctx, const pw_report_archived *a);

/*
 * Every archived file, by month then name, each checked against its
 * SHA256SUMS; tenant non-NULL lists only that unit's files (names ending
 * in "-<unit>.<ext>" for its own sanitised name). PW_OK with nothing when
 * there is no archive yet.
 */
pw_err pw_report_archive_list(const char *data_dir, const char *tenant, pw_report_archived_cb cb, void *ctx);

/*
 * Reads an archived file whole and checks it against SHA256SUMS: *data
 * (malloc'd, the caller's) and *len. PW_EINVAL: month or file is not a
 * plain name; PW_ENOENT: no such file (or not listed in SHA256SUMS);
 * PW_EPROTO: its SHA-256 no longer matches (it was changed); PW_ETOOBIG:
 * over max bytes; PW_EIO, PW_ENOMEM.
 */
pw_err pw_report_archive_load(const char *data_dir, const char *month, const char *file, size_t max,
                              char **data, size_t *len);

/* The path of an archived file for reading, after checking month and file name are plain. */
pw_err pw_report_archive_path(const char *data_dir, const char *month, const char *file, char *buf, size_t len);

#endif
