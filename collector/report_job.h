/*
 * report_job.h - the collector's monthly report archive (REQUIREMENTS R5:
 * the reports are due by the 5th): on day --report-archive-day (default 1)
 * of each month in the report time zone, the month before is archived with
 * pw_report_archive_month (report_archive.h: the whole cloud and every
 * unit, every format, SHA256SUMS, immutable), once.
 *
 * When. A pass runs at start and every 10 minutes: if today (in the
 * report zone) is on or after the archive day and the previous month ended
 * at least an hour ago (late frames from agents' spools, the last 5-minute
 * rollups), and that month is not archived yet, it is archived now. So a
 * collector that was down on the archive day catches up when it starts;
 * only the previous month is made (older months missed: `poolwatch report
 * monthly` makes them on demand). A month in which the inventory has no VM
 * in service (a new installation) is not archived. At start, what a crash
 * left half-made (DIR/reports/.tmp-*) is removed first.
 *
 * Off the ingest path: a thread of its own, read transactions only. A
 * failure is logged (once per new message) and counted
 * (poolwatch_collector_report_errors_total), and tried again an hour later;
 * each archive made counts in poolwatch_collector_reports_archived_total.
 * Stopping waits for an archive under way (a kill leaves a .tmp- directory
 * that the next start removes).
 */
#ifndef PW_REPORT_JOB_H
#define PW_REPORT_JOB_H

#include "alert.h"
#include "inventory.h"
#include "pw_err.h"
#include "report.h"
#include "stats.h"
#include "store.h"

typedef struct pw_report_job pw_report_job;

typedef struct pw_report_job_opts {
    const char         *data_dir;     /* borrowed; outlives the job */
    pw_store           *store;        /* borrowed */
    pw_inventory       *inv;          /* borrowed */
    pw_alert_db        *alerts;       /* borrowed; NULL: no alert figures in the reports */
    const pw_report_tz *tz;           /* borrowed */
    int                 archive_day;  /* 1..28 */
    pw_collector_stats *stats;        /* borrowed; reports_archived, report_errors */
} pw_report_job_opts;

/* Starts the thread; *out owned by the caller (pw_report_job_stop). PW_ENOMEM, PW_EINVAL (day). */
pw_err pw_report_job_start(const pw_report_job_opts *o, pw_report_job **out);

/* Finishes the pass under way, joins the thread, frees j. NULL is fine. */
void pw_report_job_stop(pw_report_job *j);

#endif
