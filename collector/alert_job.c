/*
 * alert_job.c - the collector's alert thread (alert.h): every
 * --alert-interval it evaluates the rules at now, then wakes the sender
 * (notify.h) when something was queued. SIGHUP swaps the rules under a
 * mutex between passes; states live in alerts.mdb and so are kept.
 */
#include "alert.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "job.h"
#include "log.h"
#include "notify.h"

struct pw_alert_job {
    pw_alert_db     *db;
    pw_alert_engine *eng;
    pw_alert_config *cfg;        /* owned; swapped by reload */
    pw_notify       *sender;
    int64_t          interval_ms;
    pw_job          *job;
    pthread_mutex_t  mu;         /* cfg: a pass and a reload never overlap */
    char             last_msg[512];
};

static int64_t
aj_pass(pw_job *job, void *arg)
{
    pw_alert_job *j = arg;
    pw_alert_pass p;
    char          msg[512];
    pw_err        rc;

    (void) job;
    pthread_mutex_lock(&j->mu);
    rc = pw_alert_eval_at(j->eng, pw_now_ms(), &p, msg, sizeof msg);
    pthread_mutex_unlock(&j->mu);
    if (rc == PW_OK && p.rule_errors == 0) {
        if (j->last_msg[0] != '\0')
            pw_info("alerts: evaluating again");
        j->last_msg[0] = '\0';
    } else if (strcmp(msg, j->last_msg) != 0) {
        pw_warn("alerts: %s (retried every pass; logged once)", msg[0] ? msg : pw_strerror(rc));
        snprintf(j->last_msg, sizeof j->last_msg, "%s", msg);
    }
    if (p.transitions > 0)
        pw_info("alerts: %zu transition(s), %zu firing, %zu pending", p.transitions, p.firing, p.pending);
    if (p.notifications > 0)
        pw_notify_kick(j->sender);
    return j->interval_ms;
}

pw_err
pw_alert_job_start(const pw_alert_job_opts *o, pw_alert_config *cfg, pw_alert_job **out,
                   char *msg, size_t msglen)
{
    pw_alert_job        *j = calloc(1, sizeof *j);
    pw_alert_engine_opts eo = { .store = o->store, .inv = o->inv, .notify = true };
    pw_err               rc;

    *out = NULL;
    if (j == NULL) {
        snprintf(msg, msglen, "out of memory");
        pw_alert_config_free(cfg);
        return PW_ENOMEM;
    }
    j->cfg = cfg;
    j->interval_ms = o->interval_ms > 0 ? o->interval_ms : 60000;
    if ((rc = pw_alert_db_open(o->data_dir, 0, &j->db, msg, msglen)) != PW_OK)
        goto fail;
    eo.db = j->db;
    eo.external_url = pw_alert_config_external_url(cfg) != NULL ? pw_alert_config_external_url(cfg)
                                                                : o->external_url;
    if ((rc = pw_alert_engine_new(&eo, cfg, &j->eng)) != PW_OK
        || (rc = pw_notify_start(j->db, &j->sender)) != PW_OK) {
        snprintf(msg, msglen, "out of memory");
        goto fail;
    }
    pthread_mutex_init(&j->mu, NULL);
    if ((rc = pw_job_start(0, aj_pass, j, &j->job)) != PW_OK) {
        pthread_mutex_destroy(&j->mu);
        snprintf(msg, msglen, "cannot start the alert thread");
        goto fail;
    }
    *out = j;
    return PW_OK;
fail:
    pw_notify_stop(j->sender);
    pw_alert_engine_free(j->eng);
    pw_alert_db_close(j->db);
    pw_alert_config_free(j->cfg);
    free(j);
    return rc;
}

void
pw_alert_job_reload(pw_alert_job *j, pw_alert_config *cfg)
{
    pw_alert_config *old;

    pthread_mutex_lock(&j->mu);
    old = j->cfg;
    j->cfg = cfg;
    pw_alert_engine_set_config(j->eng, cfg);
    pthread_mutex_unlock(&j->mu);
    pw_alert_config_free(old);
}

pw_alert_db *
pw_alert_job_db(pw_alert_job *j)
{
    return j != NULL ? j->db : NULL;
}

void
pw_alert_job_stop(pw_alert_job *j)
{
    if (j == NULL)
        return;
    pw_job_stop(j->job);
    pw_notify_stop(j->sender);
    pthread_mutex_destroy(&j->mu);
    pw_alert_engine_free(j->eng);
    pw_alert_db_close(j->db);
    pw_alert_config_free(j->cfg);
    free(j);
}
