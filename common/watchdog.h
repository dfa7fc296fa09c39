/*
 * watchdog.h - a deadline for a program's shutdown (agent and collector).
 *
 * SIGTERM must stop a daemon in bounded time: an init system that waits on
 * it and then kills it would log a failure, and a package upgrade would
 * hang. Everything either program must keep is already safe when the
 * signal arrives (the agent commits each frame to its spool before it is
 * shipped and drops it only on an ack; the collector acks a frame only
 * after its LMDB commit), so what remains is closing: NNG sockets, LMDB
 * environments, threads. The NNG releases Debian ships can, rarely, block
 * forever in nng_close (upstream issues 1543/1813: a close racing a
 * connection being torn down). The watchdog turns such a hang into a logged,
 * clean exit: pw_watchdog_start when shutdown begins, pw_watchdog_stage as
 * it proceeds (the stage is what the log line names), pw_watchdog_stop when
 * it is done. If the deadline passes first, the watchdog's thread logs the
 * stage and calls the expire function (by default _exit(0): LMDB is
 * crash-safe, an open write transaction is simply not committed, and what
 * was not acked is resent by the agents and deduplicated).
 */
#ifndef PW_WATCHDOG_H
#define PW_WATCHDOG_H

#include <stdint.h>

#include "pw_err.h"

typedef struct pw_watchdog pw_watchdog;

/* Called on the watchdog's thread when the deadline passes; stage is the
 * last one set. The default (NULL to pw_watchdog_start) is _exit(0). */
typedef void (*pw_watchdog_expire_fn)(const char *stage, void *arg);

/*
 * Starts a thread that waits deadline_ms for pw_watchdog_stop. after says,
 * for the log line, what exiting early leaves behind (borrowed: a string
 * literal, or one that outlives w; NULL: nothing said). expire may be NULL
 * (_exit(0)). *out is owned by the caller: pw_watchdog_stop frees it.
 * PW_EINVAL: deadline_ms <= 0; PW_ENOMEM; PW_EIO: no thread.
 */
pw_err pw_watchdog_start(int64_t deadline_ms, const char *after, pw_watchdog_expire_fn expire,
                         void *arg, pw_watchdog **out);

/* Names what shutdown is doing now. stage must be a string literal (or
 * outlive the watchdog): it is read on the watchdog's thread. NULL w is a
 * no-op. */
void pw_watchdog_stage(pw_watchdog *w, const char *stage);

/*
 * Shutdown finished (or the expire function returned): joins the thread
 * and frees w. Returns 1 if the deadline had passed, 0 if not. NULL w: 0.
 */
int pw_watchdog_stop(pw_watchdog *w);

#endif /* PW_WATCHDOG_H */
