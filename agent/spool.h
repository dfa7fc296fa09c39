/*
 * spool.h - the agent's bounded, durable queue of encoded frames (LMDB).
 *
 * Every frame is pushed here before it is sent and removed only when the
 * collector acks it as stored (or duplicate, or rejected for good). Frames
 * are kept in push order, across agent restarts. When a push would take the
 * spool past its byte limit the oldest frames are dropped, and counted.
 *
 * One agent per spool directory: open takes an exclusive lock on DIR/lock
 * and fails with PW_EAGAIN if another process holds it.
 * Not thread-safe: the agent's loop thread is the only user.
 */
#ifndef PW_SPOOL_H
#define PW_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"

typedef struct pw_spool pw_spool;

/*
 * Opens or creates the spool in dir (created if missing, mode 0700) holding
 * at most max_bytes of frames. The caller owns *out (pw_spool_close).
 * PW_EIO: dir unusable; PW_EAGAIN: locked by another agent; PW_EDB: LMDB.
 */
pw_err pw_spool_open(const char *dir, uint64_t max_bytes, pw_spool **out, char *errbuf, size_t errlen);
void   pw_spool_close(pw_spool *s);

/*
 * Appends a frame with its sequence number (copied). Drops the oldest frames
 * first when needed to stay under max_bytes; *dropped (may be NULL) gets how
 * many. PW_ETOOBIG if the frame alone is larger than max_bytes.
 */
pw_err pw_spool_push(pw_spool *s, uint64_t seq, const void *frame, size_t len, uint64_t *dropped);

/*
 * The oldest frame: *key identifies it for pw_spool_remove, *seq is its
 * sequence number, *frame a malloc'd copy of *len bytes owned by the caller.
 * PW_ENOENT when the spool is empty.
 */
pw_err pw_spool_peek(pw_spool *s, uint64_t *key, uint64_t *seq, void **frame, size_t *len);

/* Removes the frame with this key (no error if already gone). */
pw_err pw_spool_remove(pw_spool *s, uint64_t key);

uint64_t pw_spool_count(const pw_spool *s);   /* frames held */
uint64_t pw_spool_bytes(const pw_spool *s);   /* frame bytes held */

/*
 * Small persistent strings kept with the spool (the generated agent id).
 * get: PW_ENOENT if unset; value NUL-terminated into buf (len bytes).
 */
pw_err pw_spool_meta_get(pw_spool *s, const char *name, char *buf, size_t len);
pw_err pw_spool_meta_set(pw_spool *s, const char *name, const char *value);

#endif
