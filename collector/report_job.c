/*
 * report_job.c - the collector's monthly report archive thread (report_job.h).
 */
#include "report_job.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "job.h"
#include "log.h"
#include "report_archive.h"

#define RJ_CHECK_MS  (10 * 60000)    /* between passes */
#define RJ_RETRY_MS  (60 * 60000)    /* after a failure */
#define RJ_SETTLE_MS (60 * 60000)    /* after the month's end before archiving it */

struct pw_report_job {
    pw_report_job_opts o;
    pw_job            *job;
    bool               started;         /* the first pass is done */
    char               last_msg[512];   /* the failure last logged: each new one once */
};

static int
rj_any_cb(void *ctx, const pw_inv_vm *vm)
{
    (void) vm;
    *(bool *) ctx = true;
    return 1;                   /* one is enough */
}

/* One check; returns the wait before the next. first: log a month found archived already. */
static int64_t
rj_check(pw_report_job *j, bool first)
{
    pw_report_period p;
    int64_t          now = pw_now_ms(), t0 = pw_mono_ms();
    int              y, m, d;
    bool             made = false, any = false;
    char             msg[512] = "";
    pw_err           e;

    pw_report_civil_from_days(pw_report_tz_day(j->o.tz, now), &y, &m, &d);
    pw_report_period_prev_month(j->o.tz, now, &p);
    if (d < j->o.archive_day || now < p.to_ms + RJ_SETTLE_MS)
        return RJ_CHECK_MS;
    /* no VM in service that month (a new installation): nothing to report, nothing archived */
    if (pw_inventory_vms_in(j->o.inv, p.day0 * INT64_C(86400000), p.day1 * INT64_C(86400000), NULL, rj_any_cb,
                            &any) == PW_OK && !any) {
        if (first)
            pw_info("reports: no VM in service in %s: nothing to archive", p.label);
        return RJ_CHECK_MS;
    }
    e = pw_report_archive_month(j->o.data_dir, j->o.store, j->o.inv, j->o.alerts, j->o.tz, &p, now, &made, msg,
                                sizeof msg);
    if (e != PW_OK) {
        atomic_fetch_add(&j->o.stats->report_errors, 1);
        if (msg[0] == '\0')
            snprintf(msg, sizeof msg, "%s", pw_strerror(e));
        if (strcmp(msg, j->last_msg) != 0)
            pw_warn("reports: cannot archive %s: %s (tried again every hour; logged once)", p.label, msg);
        snprintf(j->last_msg, sizeof j->last_msg, "%s", msg);
        return RJ_RETRY_MS;
    }
    j->last_msg[0] = '\0';
    if (made) {
        atomic_fetch_add(&j->o.stats->reports_archived, 1);
        pw_info("reports: archived %s in %s/%s/%s (%.1f s)", p.label, j->o.data_dir, PW_REPORT_ARCHIVE_SUBDIR,
                p.label, (double) (pw_mono_ms() - t0) / 1000);
    } else if (first) {
        pw_info("reports: %s is archived already (%s/%s/%s), left as it is", p.label, j->o.data_dir,
                PW_REPORT_ARCHIVE_SUBDIR, p.label);
    }
    return RJ_CHECK_MS;
}

/* The job's pass: the first one removes what an interrupted run left, then checks. */
static int64_t
rj_pass(pw_job *job, void *arg)
{
    pw_report_job *j = arg;
    size_t         removed = 0;
    bool           first = !j->started;

    (void) job;
    j->started = true;
    if (first) {
        if (pw_report_archive_clean(j->o.data_dir, &removed) != PW_OK)
            pw_warn("reports: cannot clean %s/%s of unfinished archives", j->o.data_dir,
                    PW_REPORT_ARCHIVE_SUBDIR);
        else if (removed > 0)
            pw_info("reports: removed %zu unfinished archive(s) an interrupted run left", removed);
    }
    return rj_check(j, first);
}

pw_err
pw_report_job_start(const pw_report_job_opts *o, pw_report_job **out)
{
    pw_report_job *j;

    *out = NULL;
    if (o->archive_day < 1 || o->archive_day > 28 || o->tz == NULL || o->stats == NULL)
        return PW_EINVAL;
    if ((j = calloc(1, sizeof *j)) == NULL)
        return PW_ENOMEM;
    j->o = *o;
    if (pw_job_start(0, rj_pass, j, &j->job) != PW_OK) {
        free(j);
        return PW_ENOMEM;
    }
    *out = j;
    return PW_OK;
}

void
pw_report_job_stop(pw_report_job *j)
{
    if (j == NULL)
        return;
    pw_job_stop(j->job);
    free(j);
}
