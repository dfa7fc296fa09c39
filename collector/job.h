/*
 * job.h - a periodic worker: one thread that calls run(), sleeps for the
 * delay run() returns, and calls it again, until stopped. The collector's
 * background threads (maintenance, pool capacity, alerts, notifications,
 * report archive) are each one job; what differs between them is only
 * their run() and its state.
 *
 * Contract:
 *   - run(j, arg) is called on the job's thread only, never twice at once.
 *     It gets j as its parameter because the first call may come before
 *     pw_job_start has stored *out.
 *     It returns the delay in ms before the next call (clamped to >= 0).
 *     It may call pw_job_stopping(j) to end a long pass early.
 *   - The sleep ends early on pw_job_wake (the next call comes at once; a
 *     wake while run() is under way is remembered, not lost) or on
 *     pw_job_stop (no further call).
 *   - pw_job_stop waits for the call under way to return, then joins the
 *     thread. arg is borrowed: the caller frees it after pw_job_stop.
 *   - The sleep is measured on the monotonic clock, so setting the system
 *     time neither stalls nor hurries the job.
 */
#ifndef PW_JOB_H
#define PW_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "pw_err.h"

typedef struct pw_job pw_job;

/* One pass; returns ms to sleep before the next. */
typedef int64_t (*pw_job_run_fn)(pw_job *j, void *arg);

/*
 * Starts the thread: the first call to run comes after first_ms (0: at
 * once). *out owned by the caller (pw_job_stop). PW_ENOMEM if the thread
 * cannot start (*out NULL then).
 */
pw_err pw_job_start(int64_t first_ms, pw_job_run_fn run, void *arg, pw_job **out);

/* Cuts the current sleep short: run is called again now. NULL is fine. */
void pw_job_wake(pw_job *j);

/* True once pw_job_stop was called: run should return soon. */
bool pw_job_stopping(pw_job *j);

/* Stops: waits for the pass under way, joins the thread, frees j. NULL is fine. */
void pw_job_stop(pw_job *j);

#endif
