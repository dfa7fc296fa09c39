/* maintenance.c - background upkeep thread; see maintenance.h. */
#include "maintenance.h"

#include <stdbool.h>
#include <stdlib.h>

#include "clock.h"
#include "job.h"
#include "log.h"

struct pw_maintenance {
    pw_store           *store;
    pw_collector_stats *stats;
    pw_maintenance_opts opts;
    pw_job             *job;
    uint64_t            fail_streak;
};

/* One pass: maintenance transactions until nothing is left, a failure or a stop. */
static int64_t
maint_pass(pw_job *job, void *arg)
{
    pw_maintenance *m = arg;
    bool            more = true;

    while (more) {
        pw_err rc = pw_store_maintain(m->store, pw_now_ms(), m->opts.retention, m->opts.budget, &more);

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
        more = more && !pw_job_stopping(job);
    }
    return m->opts.interval_ms;
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
    if (pw_job_start(0, maint_pass, m, &m->job) != PW_OK) {
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
    pw_job_stop(m->job);
    free(m);
}
