/*
 * audit.h - the tamper-evident audit log (REQUIREMENTS R12).
 *
 * Append-only records in DIR/security.mdb (DB "audit"), keyed by a sequence
 * number. Each record carries the SHA-256 (libsodium) of the previous
 * record's bytes, so removing, reordering or altering a record breaks the
 * chain at that point, which pw_audit_verify finds and names. Expiry removes
 * the oldest records only, and keeps the hash of the last removed one as the
 * new anchor, so verification still works on what remains.
 *
 * Retention: default 400 days, never below 183 (R12: >= 6 months, >= 1 year
 * of operation logs); pw_audit_expire refuses a shorter one.
 * Threads: thread-safe; appends are serialized, and those arriving together
 * share one commit (group commit: one fsync for all of them).
 */
#ifndef PW_AUDIT_H
#define PW_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "pw_err.h"

#define PW_AUDIT_MIN_RETENTION_MS (183LL * 86400000)
#define PW_AUDIT_DEF_RETENTION_MS (400LL * 86400000)

typedef enum pw_audit_result {
    PW_AUDIT_OK = 0,
    PW_AUDIT_DENIED,          /* authenticated, not allowed */
    PW_AUDIT_UNAUTHENTICATED, /* no, bad, expired or revoked token */
    PW_AUDIT_FAILED,          /* allowed, but the action failed */
    PW_AUDIT_RESULT_COUNT_
} pw_audit_result;   /* stored as a number: never renumber, only add */

typedef struct pw_audit_rec {
    uint64_t        seq;            /* 1, 2, ... assigned by append */
    int64_t         ts_ms;
    pw_role         role;
    char            principal[PW_PRINCIPAL_MAX + 1];   /* token name or id, "cli", "system" */
    char            token_id[PW_TOKEN_ID_LEN + 1];
    char            tenant[PW_TENANT_MAX + 1];         /* principal's tenant, if any */
    char            source[64];     /* "127.0.0.1:53422", "cli", "agent:<id>" */
    char            action[64];     /* "GET /api/v1/query_range", "token.create", "config.reload" */
    char            object[256];    /* what was acted on: query text, token id, file name */
    pw_audit_result result;
    char            detail[256];    /* why it failed or was denied; "" otherwise */
} pw_audit_rec;

/*
 * Fills r for one action of `who` (NULL: unauthenticated): zeroes it, copies
 * role, token id, tenant, and as principal who's name, else its token id,
 * else "anonymous"; source, action and object as given (NULL: ""), cut to
 * their fields at a character boundary. Result PW_AUDIT_OK, ts 0 (now).
 */
void pw_audit_rec_init(pw_audit_rec *r, const pw_principal *who, const char *source,
                       const char *action, const char *object);

/*
 * Appends r: its seq is assigned and written back, and so is its time:
 * r->ts_ms, or now when 0, but never earlier than the previous record's
 * (records stay in time order when the clock steps back). Strings are
 * stored as given, except bytes that are not UTF-8, stored as '?'. One
 * commit (fsync) per record. PW_EFULL when out of space; PW_EINVAL for a
 * read-only handle or a role or result out of range.
 */
pw_err pw_audit_append(pw_security *s, pw_audit_rec *r);

/*
 * Calls cb for records with from <= ts <= to, in order (a binary search
 * finds the first: records are in time order). cb returning non-zero stops
 * the scan (PW_OK). PW_EPROTO if a record in the range cannot be read.
 */
typedef int (*pw_audit_cb)(void *ctx, const pw_audit_rec *r);
pw_err pw_audit_scan(pw_security *s, int64_t from, int64_t to, pw_audit_cb cb, void *ctx);

/*
 * Walks the whole chain, in one read transaction, from the anchor to the
 * recorded head. PW_OK: intact, *checked records. PW_EPROTO: broken at
 * *bad_seq (a record altered, removed, inserted or reordered; for an altered
 * record, the record whose bytes changed); msg says how. *checked counts the
 * records that were intact before it. Other codes: the database could not be read.
 */
pw_err pw_audit_verify(pw_security *s, uint64_t *checked, uint64_t *bad_seq, char *msg, size_t msglen);

/*
 * The SHA-256 of stored record `seq` (0: the newest), and its seq in
 * *seq_out: written down somewhere else, it lets a later check prove that
 * the log was not rewritten up to that record (a chain alone cannot: whoever
 * can write security.mdb can recompute every hash after a change).
 * PW_ENOENT if there is no such record (never written, or expired).
 */
pw_err pw_audit_hash(pw_security *s, uint64_t seq, uint64_t *seq_out, unsigned char hash[32]);

/*
 * Deletes records older than now - retention_ms (transactions of at most 256
 * records), oldest first, each one's hash becoming the anchor; then, if any
 * were removed, appends an "audit.expire" record (principal "system") saying
 * which. PW_EINVAL if retention_ms < PW_AUDIT_MIN_RETENTION_MS. PW_EPROTO if
 * a record to delete does not link to the anchor: expiry stops rather than
 * hide a broken chain (what it removed before stays removed, in *removed).
 */
pw_err pw_audit_expire(pw_security *s, int64_t now_ms, int64_t retention_ms, uint64_t *removed);

/*
 * Token administration that records itself: the change and its audit record
 * (action "token.create" / "token.revoke", object the token id and what it
 * grants) commit in one transaction, so no token exists without its record.
 * `by` says who acts (set it with pw_audit_rec_init; action, object, result
 * and detail are filled here); its seq and time come back in it. A refused
 * or failed change is recorded too (PW_AUDIT_FAILED, detail = why) and its
 * error returned. Otherwise as pw_token_create and pw_token_revoke.
 */
pw_err pw_token_create_audited(pw_security *s, pw_audit_rec *by, pw_role role, const char *tenant,
                               const char *name, int64_t expires_ms, char *token_out,
                               size_t token_len, pw_token_info *info);
pw_err pw_token_revoke_audited(pw_security *s, pw_audit_rec *by, const char *id, int64_t now_ms);

const char *pw_audit_result_name(pw_audit_result r);

#endif
