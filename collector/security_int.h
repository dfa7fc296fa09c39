/*
 * security_int.h - what auth.c and audit.c share: the pw_security handle,
 * transactions with map growth, and the audit append inside a caller's
 * transaction (so a token change and its audit record commit together).
 * Not for callers: they use auth.h and audit.h. The on-disk layout is in
 * collector/README.md ("Security: tokens, roles, audit log").
 */
#ifndef PW_SECURITY_INT_H
#define PW_SECURITY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "audit.h"
#include "auth.h"
#include "pw_err.h"

/* Format of DIR/security.mdb; meta["format"] (u32 BE). A newer one is refused. */
#define PWSEC_FORMAT       1

#define PWSEC_KEY_LEN      32   /* DIR/security.key, the BLAKE2b key for token hashes */
#define PWSEC_HASH_LEN     32   /* token hashes and audit chain hashes (SHA-256) */

/* A new security.mdb's map: sparse, so it costs no disk until used; doubled when full. */
#define PWSEC_INITIAL_MAP  ((uint64_t) 256 << 20)

/* meta keys */
#define PWSEC_META_FORMAT    "format"      /* u32 BE */
#define PWSEC_META_KEY_CHECK "key_check"   /* keyed BLAKE2b of a constant: is this the right key? */

/*
 * audit_meta keys. anchor: u64 seq ++ hash of the newest expired record
 * (absent: 0, zeros); head: u64 seq ++ hash ++ i64 ts of the newest record.
 */
#define PWSEC_AUDIT_ANCHOR "anchor"
#define PWSEC_AUDIT_HEAD   "head"

/* An append waiting for its group commit (audit.c). */
typedef struct pwsec_append pwsec_append;
struct pwsec_append {
    const pw_audit_rec *r;
    int64_t             now_ms;
    uint64_t            seq;        /* out */
    int64_t             ts;         /* out */
    pw_err              err;        /* out */
    bool                done;
    pwsec_append       *next;
};

struct pw_security {
    MDB_env         *env;
    MDB_dbi          meta, tokens, audit, audit_meta;
    bool             rdonly;
    bool             has_key;        /* false on read-only handles: they never read the key */
    /*
     * Every transaction of this process holds `gate` shared; a map resize
     * (mdb_env_set_mapsize, legal only with no txn open in the process)
     * takes it exclusive. Writer-preferring, so a resize is not starved by
     * a stream of readers; hence no thread may begin a txn while it holds
     * one (callbacks must not call back into the handle).
     */
    pthread_rwlock_t gate;
    /*
     * Group commit of audit appends: appenders queue here; one of them (the
     * leader) writes everything queued in one transaction and fsync, the
     * others wait for it. A commit costs milliseconds; one per API call
     * would cap the whole API at a few hundred calls a second.
     */
    pthread_mutex_t  append_lock;
    pthread_cond_t   append_done;
    pwsec_append    *append_head, *append_tail;
    bool             append_leader;
    unsigned char    key[PWSEC_KEY_LEN];
    char             dir[];
};

/* One transaction, and the LMDB (or errno) code behind its failure, if any. */
typedef struct pwsec_txn pwsec_txn;
struct pwsec_txn {
    MDB_txn *txn;
    int      rc;      /* set by pwsec_fail; MDB_MAP_FULL makes pwsec_write grow and rerun */
};

/*
 * A transaction body. Returns PW_OK to commit (write) or to end (read);
 * anything else aborts. LMDB failures go through pwsec_fail so the runner
 * sees the code. A write body may run more than once (after the map grew):
 * it must derive everything from the database and its ctx inputs again.
 */
typedef pw_err (*pwsec_body)(pw_security *s, pwsec_txn *t, void *ctx);

/* LMDB or errno code -> pw_err (MDB_MAP_FULL, ENOSPC -> PW_EFULL, ...). */
pw_err pwsec_map_err(int rc);
/* Records rc in t (for the runner) and returns its pw_err. rc 0 gives PW_OK. */
pw_err pwsec_fail(pwsec_txn *t, int rc);

/* Runs body in a read transaction. */
pw_err pwsec_read(pw_security *s, pwsec_body body, void *ctx);
/*
 * Runs body in a write transaction and commits it; on MDB_MAP_FULL grows the
 * map (doubling) and runs body again, a bounded number of times. PW_EINVAL
 * on a read-only handle. PW_EFULL when the map cannot grow or the disk is full.
 */
pw_err pwsec_write(pw_security *s, pwsec_body body, void *ctx);

/* pw_security_open with a chosen initial map size for a new file (tests: a tiny one). */
pw_err pwsec_open_sized(const char *dir, bool rdonly, uint64_t map_size, pw_security **out,
                        char *errbuf, size_t errlen);

/* Copies src into dst (dstlen bytes with the NUL), cut at a character boundary if long. */
void pwsec_copy(char *dst, size_t dstlen, const char *src);

/*
 * Appends r to the audit log inside t (audit.c): assigns the next seq and a
 * time (r->ts_ms, or now_ms when 0, never before the previous record's),
 * returned in *seq and *ts. r itself is not changed.
 */
pw_err pwsec_audit_put(pw_security *s, pwsec_txn *t, const pw_audit_rec *r, int64_t now_ms,
                       uint64_t *seq, int64_t *ts);

#endif
