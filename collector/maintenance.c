/* maintenance.c - background upkeep thread; see maintenance.h. */
#include "maintenance.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "log.h"

struct pw_maintenance {
    pw_store           *store;
    pw_collector_stats *stats;
    pw_maintenance_opts opts;
    pthread_t           thread;
    pthread_mutex_t     mu;
    pthread_cond_t      cv;
    bool                stopping;
    uint64_t            fail_streak;
};

/* Waits ms or until stop; returns true when stopping. */
static bool
maint_wait(pw_maintenance *m, int64_t ms)
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
    pthread_mutex_lock(&m->mu);
    while (!m->stopping && pthread_cond_timedwait(&m->cv, &m->mu, &ts) != ETIMEDOUT)
        ;
    stop = m->stopping;
    pthread_mutex_unlock(&m->mu);
    return stop;
}

static void *
maint_main(void *arg)
{
    pw_maintenance *m = arg;

    do {
        bool more = true;

        while (more) {
            pw_err rc = pw_store_maintain(m->store, pw_now_ms(), m->opts.retention, m->opts.budget,
                                          &more);
            atomic_fetch_add(&m->stats->maintenance_txns, 1);
            if (rc != PW_OK) {
                char why[256];
                pw_store_last_error(m->store, why, sizeof why);
                atomic_fetch_add(&m->stats->maintenance_errors, 1);
                if (m->fail_streak++ % 100 == 0)
                    pw_error("maintenance: %s (%s); retrying next pass", pw_strerror(rc), why);
                break;
            }
            if (m->fail_streak > 0)
                pw_info("maintenance: working again");
            m->fail_streak = 0;
            pthread_mutex_lock(&m->mu);
            more = more && !m->stopping;
            pthread_mutex_unlock(&m->mu);
        }
    } while (!maint_wait(m, m->opts.interval_ms));
    return NULL;
}

pw_err
pw_maintenance_start(pw_store *s, const pw_maintenance_opts *o, pw_collector_stats *stats,
                     pw_maintenance **out)
{
    pw_maintenance *m = calloc(1, sizeof *m);

    if (m == NULL)
        return PW_ENOMEM;
    m->store = s;
    m->stats = stats;
    m->opts = *o;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->thread, NULL, maint_main, m) != 0) {
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        free(m);
        return PW_ENOMEM;
    }
    *out = m;
    return PW_OK;
}

void
pw_maintenance_stop(pw_maintenance *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    m->stopping = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}
