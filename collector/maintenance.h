/*
 * maintenance.h - the collector's background upkeep thread.
 *
 * Every --maintenance-interval it asks the store to roll up what changed,
 * seal quiet series and expire old data (pw_store_maintain), in small
 * transactions, so ingest never waits long for the LMDB write lock. At most
 * once an hour it also deletes the dedupe rows of agent boots not seen for
 * --dedupe-keep (pw_store_dedupe_expire; each agent's newest boot stays).
 */
#ifndef PW_MAINTENANCE_H
#define PW_MAINTENANCE_H

#include "pw_err.h"
#include "stats.h"
#include "store.h"

typedef struct pw_maintenance pw_maintenance;

typedef struct pw_maintenance_opts {
    int64_t  retention[PW_RES_COUNT_];   /* ms per resolution, 0 = forever */
    int64_t  interval_ms;                /* pause between passes */
    unsigned budget;                     /* work units per transaction */
    int64_t  dedupe_keep_ms;             /* old boots' dedupe rows unseen this long go; 0: never */
} pw_maintenance_opts;

/*
 * Starts the thread on s (which, like stats, must outlive it). *out owned by
 * the caller: pw_maintenance_stop. PW_ENOMEM if the thread cannot start.
 */
pw_err pw_maintenance_start(pw_store *s, const pw_maintenance_opts *o, pw_collector_stats *stats,
                            pw_maintenance **out);

/* Finishes the transaction under way, stops and joins the thread, frees m. */
void pw_maintenance_stop(pw_maintenance *m);

#endif
