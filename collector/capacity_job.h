/*
 * capacity_job.h - the collector's pool capacity thread: every
 * --capacity-interval it computes every pool's figures (capacity.h) and
 * stores them as series (collector/README.md, "Pool capacity"):
 *
 *   poolwatch_pool_capacity{pool,resource}          physical (or overridden)
 *   poolwatch_pool_allocated{pool,resource}         cpu, memory, storage
 *   poolwatch_pool_used{pool,resource}
 *   poolwatch_pool_allocated_ratio{pool,resource}   allocated / (capacity x overcommit)
 *   poolwatch_pool_used_ratio{pool,resource}        used / capacity
 *   poolwatch_pool_days_to_threshold{pool,resource,kind,threshold}   only with a forecast
 *   poolwatch_collector_capacity_runs_total{host}, ..._errors_total{host}
 *
 * Off the ingest path: its own thread, a read snapshot for the computation,
 * then one small write transaction of its own (pw_store_write_samples, as
 * maintenance writes: the pool series must not get the host label a frame
 * through the writer would add). A failure is logged (once per new message)
 * and counted, never fatal; the next pass tries again.
 */
#ifndef PW_CAPACITY_JOB_H
#define PW_CAPACITY_JOB_H

#include <stdint.h>

#include "inventory.h"
#include "pw_err.h"
#include "store.h"

typedef struct pw_capjob pw_capjob;

typedef struct pw_capjob_opts {
    pw_store     *store;        /* borrowed; outlives the job */
    pw_inventory *inv;          /* borrowed; outlives the job */
    int64_t       interval_ms;  /* > 0 */
    const char   *host;         /* the collector's host, for its own counters; copied */
} pw_capjob_opts;

/* Starts the thread; *out owned by the caller (pw_capjob_stop). PW_ENOMEM. */
pw_err pw_capjob_start(const pw_capjob_opts *o, pw_capjob **out);

/* Finishes the pass under way, joins the thread, frees j. NULL is fine. */
void pw_capjob_stop(pw_capjob *j);

#endif
