/*
 * report_job.c - the collector's monthly report archive thread (report_job.h).
 */
#include "report_job.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "report_archive.h"

#define RJ_CHECK_MS  (10 * 60000)    /* between passes */
#define RJ_RETRY_MS  (60 * 60000)    /* after a failure */
#define RJ_SETTLE_MS (60 * 60000)    /* after the month's end before archiving it */

struct pw_report_job {
    pw_report_job_opts o;
    pthread_t          thread;
    pthread_mutex_t    mu;
    pthread_cond_t     cv;
    bool               stopping;
    char               last_msg[512];   /* the failure last logged: each new one once */
};

/* Waits ms or until stop; true when stopping. */
static bool
rj_wait(pw_report_job *j, int64_t ms)
{
    struct timespec ts;
    bool            stop;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&j->mu);
    while (!j->stopping && pthread_cond_timedwait(&j->cv, &j->mu, &ts) != ETIMEDOUT)
        ;
    stop = j->stopping;
    pthread_mutex_unlock(&j->mu);
    return stop;
}

/* One pass; returns the wait before the next. first: log a month found archived already. */
static int64_t
rj_pass(pw_report_job *j, bool first)
{
    pw_report_period p;
    int64_t          now = pw_now_ms(), t0 = pw_mono_ms();
    int              y, m, d;
    bool             made = false;
    char             msg[512] = "";
    pw_err           e;

    pw_report_civil_from_days(pw_report_tz_day(j->o.tz, now), &y, &m, &d);
    pw_report_period_prev_month(j->o.tz, now, &p);
    if (d < j->o.archive_day || now < p.to_ms + RJ_SETTLE_MS)
        return RJ_CHECK_MS;
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

static void *
rj_main(void *arg)
{
    pw_report_job *j = arg;
    size_t         removed = 0;
    int64_t        wait;

    if (pw_report_archive_clean(j->o.data_dir, &removed) != PW_OK)
        pw_warn("reports: cannot clean %s/%s of unfinished archives", j->o.data_dir, PW_REPORT_ARCHIVE_SUBDIR);
    else if (removed > 0)
        pw_info("reports: removed %zu unfinished archive(s) an interrupted run left", removed);
    wait = rj_pass(j, true);
    while (!rj_wait(j, wait))
        wait = rj_pass(j, false);
    return NULL;
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
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    if (pthread_create(&j->thread, NULL, rj_main, j) != 0) {
        pthread_cond_destroy(&j->cv);
        pthread_mutex_destroy(&j->mu);
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
    pthread_mutex_lock(&j->mu);
    j->stopping = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}
