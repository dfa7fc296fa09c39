/*
 * watchdog.h - a deadline for the agent's shutdown.
 *
 * SIGTERM must stop the agent in bounded time: an init system that waits on
 * it and then kills it would log a failure, and a package upgrade would
 * hang. Everything the agent must keep is already safe when the signal
 * arrives (each frame is committed to the spool before it is shipped, and
 * leaves it only on an ack), so what remains is closing: the NNG socket,
 * the spool, the samplers. The NNG releases Debian ships can, rarely, block
 * forever in nng_close (upstream issues 1543/1813: a close racing a
 * connection being torn down). The watchdog turns such a hang into a logged,
 * clean exit: pw_watchdog_start when shutdown begins, pw_watchdog_stage as
 * it proceeds (the stage is what the log line names), pw_watchdog_stop when
 * it is done. If the deadline passes first, the watchdog's thread logs the
 * stage and calls the expire function (by default _exit(0): the spool's
 * committed frames are in the file, and frames not acked are resent and
 * deduplicated on the next start).
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
 * Starts a thread that waits deadline_ms for pw_watchdog_stop. expire may be
 * NULL (_exit(0)). *out is owned by the caller: pw_watchdog_stop frees it.
 * PW_EINVAL: deadline_ms <= 0; PW_ENOMEM; PW_EIO: no thread.
 */
pw_err pw_watchdog_start(int64_t deadline_ms, pw_watchdog_expire_fn expire, void *arg,
                         pw_watchdog **out);

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
