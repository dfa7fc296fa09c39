/*
 * notify.h - the sender thread: delivers the notifications the alert
 * engine queues in alerts.mdb (webhook in Alertmanager's format, or
 * Alertmanager's /api/v2/alerts), retrying with bounded exponential
 * backoff. notify_send.c; the bodies are notify_payload.c's.
 */
#ifndef PW_NOTIFY_H
#define PW_NOTIFY_H

#include "alert.h"
#include "pw_err.h"

#define PW_NOTIFY_TIMEOUT_MS     5000      /* connect, send, read the answer: each */
#define PW_NOTIFY_BACKOFF_MIN_MS 1000      /* first retry after 1 s, then doubling */
#define PW_NOTIFY_BACKOFF_MAX_MS 300000    /* ... up to 5 min between tries */
#define PW_NOTIFY_MAX_ATTEMPTS   300       /* about a day at 5 min; then dropped, logged */

typedef struct pw_notify pw_notify;

/* Starts the thread on db (borrowed; outlives it). *out owned by the caller. PW_ENOMEM. */
pw_err pw_notify_start(pw_alert_db *db, pw_notify **out);
/* Something was queued: look now rather than at the next retry. NULL is fine. */
void   pw_notify_kick(pw_notify *n);
/* Finishes the delivery under way (at most its timeout) and joins. NULL is fine. */
void   pw_notify_stop(pw_notify *n);

#endif
