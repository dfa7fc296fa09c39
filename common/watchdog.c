/*
 * watchdog.c - a deadline for a program's shutdown; see watchdog.h.
 *
 * One thread waits on a condition variable (monotonic clock, so a clock step
 * during shutdown neither fires nor delays it) until pw_watchdog_stop says
 * shutdown is over or the deadline passes.
 */
#include "watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

struct pw_watchdog {
    pthread_mutex_t         mu;
    pthread_cond_t          cv;
    pthread_t               thread;
    bool                    done;      /* under mu: pw_watchdog_stop was called */
    bool                    fired;     /* under mu: the deadline passed */
    struct timespec         deadline;  /* CLOCK_MONOTONIC */
    int64_t                 deadline_ms;
    const char             *after;     /* what an early exit leaves behind, for the log */
    _Atomic(const char *)   stage;
    pw_watchdog_expire_fn   expire;
    void                   *arg;
};

static void
wd_default_expire(const char *stage, void *arg)
{
    (void) stage;
    (void) arg;
    /* Not exit(): atexit handlers and stdio flushing could meet the same
     * stuck lock. The log line is already written (unbuffered stderr). */
    _exit(0);
}

static void *
wd_main(void *arg)
{
    pw_watchdog *w = arg;
    bool         fire = false;

    pthread_mutex_lock(&w->mu);
    while (!w->done && !fire)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &w->deadline) != 0 && !w->done)
            fire = true;
    w->fired = fire;
    pthread_mutex_unlock(&w->mu);
    if (fire) {
        const char *stage = atomic_load(&w->stage);
        pw_warn("shutdown still %s after %lld ms: exiting without it%s%s",
                stage != NULL ? stage : "running", (long long) w->deadline_ms,
                w->after != NULL ? "; " : "", w->after != NULL ? w->after : "");
        w->expire(stage, w->arg);
    }
    return NULL;
}

pw_err
pw_watchdog_start(int64_t deadline_ms, const char *after, pw_watchdog_expire_fn expire, void *arg,
                  pw_watchdog **out)
{
    pw_watchdog       *w;
    pthread_condattr_t ca;
    pw_err             rc = PW_EIO;

    *out = NULL;
    if (deadline_ms <= 0)
        return PW_EINVAL;
    if ((w = calloc(1, sizeof *w)) == NULL)
        return PW_ENOMEM;
    w->deadline_ms = deadline_ms;
    w->after = after;
    w->expire = expire != NULL ? expire : wd_default_expire;
    w->arg = arg;
    w->deadline = pw_mono_deadline(deadline_ms);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, wd_main, w) != 0)
        goto fail;
    *out = w;
    return PW_OK;
fail:
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return rc;
}

void
pw_watchdog_stage(pw_watchdog *w, const char *stage)
{
    if (w != NULL)
        atomic_store(&w->stage, stage);
}

int
pw_watchdog_stop(pw_watchdog *w)
{
    int fired;

    if (w == NULL)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    fired = w->fired;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return fired;
}
