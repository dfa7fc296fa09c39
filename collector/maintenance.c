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
    int64_t             dedupe_due_ms;      /* next dedupe expiry (pw_now_ms clock) */
};

#define MAINT_DEDUPE_EVERY_MS 3600000   /* rows of old boots pile up one per agent restart */

/*
 * Deletes the dedupe rows of old agent boots (the store keeps each agent's
 * newest): they only grow, one per restart. A late resend of an expired boot
 * is then stored again, which rewrites the same points (store.h).
 */
static void
maint_dedupe(pw_maintenance *m, int64_t now)
{
    pw_store_txn *t = NULL;
    uint64_t      removed = 0;
    char          why[256];
    pw_err        rc;

    if (m->opts.dedupe_keep_ms <= 0 || now < m->dedupe_due_ms)
        return;
    /* Never wait longer than the keep time itself (short ones are for tests). */
    m->dedupe_due_ms = now + (m->opts.dedupe_keep_ms < MAINT_DEDUPE_EVERY_MS ? m->opts.dedupe_keep_ms
                                                                                : MAINT_DEDUPE_EVERY_MS);
    if ((rc = pw_store_write_begin(m->store, &t)) == PW_OK
        && (rc = pw_store_dedupe_expire(t, now - m->opts.dedupe_keep_ms, &removed)) == PW_OK)
        rc = pw_store_write_commit(t);
    else if (t != NULL)
        pw_store_write_abort(t);
    atomic_fetch_add(&m->stats->maintenance_txns, 1);
    if (rc != PW_OK) {
        pw_store_last_error(m->store, why, sizeof why);
        atomic_fetch_add(&m->stats->maintenance_errors, 1);
        pw_error("maintenance: dedupe expiry: %s (%s); retrying in an hour", pw_strerror(rc), why);
        return;
    }
    atomic_fetch_add(&m->stats->dedupe_expired, removed);
    if (removed > 0)
        pw_info("maintenance: %llu dedupe row(s) of old agent boots removed",
                (unsigned long long) removed);
}

/* One pass: maintenance transactions until nothing is left, a failure or a stop. */
static int64_t
maint_pass(pw_job *job, void *arg)
{
    pw_maintenance *m = arg;
    bool            more = true;

    maint_dedupe(m, pw_now_ms());
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
