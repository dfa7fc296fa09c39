/* job.c - a periodic worker thread; see job.h. */
#include "job.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"

struct pw_job {
    pw_job_run_fn   run;
    void           *arg;
    int64_t         first_ms;
    pthread_t       thread;
    pthread_mutex_t mu;        /* stopping, woken */
    pthread_cond_t  cv;        /* on the monotonic clock */
    bool            stopping;
    bool            woken;     /* a wake not yet consumed by a sleep */
};

/* Sleeps ms, until a wake or a stop; true when stopping. */
static bool
job_sleep(pw_job *j, int64_t ms)
{
    struct timespec ts = pw_mono_deadline(ms);
    bool            stop;

    pthread_mutex_lock(&j->mu);
    while (!j->stopping && !j->woken && pthread_cond_timedwait(&j->cv, &j->mu, &ts) != ETIMEDOUT)
        ;
    j->woken = false;
    stop = j->stopping;
    pthread_mutex_unlock(&j->mu);
    return stop;
}

static void *
job_main(void *arg)
{
    pw_job *j = arg;
    int64_t wait = j->first_ms;

    while (!job_sleep(j, wait))
        wait = j->run(j, j->arg);
    return NULL;
}

pw_err
pw_job_start(int64_t first_ms, pw_job_run_fn run, void *arg, pw_job **out)
{
    pw_job            *j;
    pthread_condattr_t ca;
    int                rv;

    *out = NULL;
    if ((j = calloc(1, sizeof *j)) == NULL)
        return PW_ENOMEM;
    j->run = run;
    j->arg = arg;
    j->first_ms = first_ms;
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rv = pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rv != 0) {
        pthread_mutex_destroy(&j->mu);
        free(j);
        return PW_ENOMEM;
    }
    if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        pthread_cond_destroy(&j->cv);
        pthread_mutex_destroy(&j->mu);
        free(j);
        return PW_ENOMEM;
    }
    *out = j;
    return PW_OK;
}

void
pw_job_wake(pw_job *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->mu);
    j->woken = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

bool
pw_job_stopping(pw_job *j)
{
    bool stop;

    pthread_mutex_lock(&j->mu);
    stop = j->stopping;
    pthread_mutex_unlock(&j->mu);
    return stop;
}

void
pw_job_stop(pw_job *j)
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
