/*
 * store_int.h - what the store's own files (store*.c) share. Not for callers:
 * they use store.h. The on-disk layout is documented in collector/README.md
 * ("Storage layout"); the constants below are that layout.
 */
#ifndef PW_STORE_INT_H
#define PW_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "points.h"
#include "bytes.h"
#include "store.h"

/*
 * Storage format this build writes for new stores and the newest it reads.
 * 1: raw points (points_raw.c), still read and written for stores made by it;
 * 2: compressed chunks and rollups (points_chunk.c);
 * 3: as 2, but the series index is hashed (`series_hash`, the canonical key
 *    kept once, in `series_id`) and sealed chunks are packed several to a
 *    record;
 * 4: as 3, but keys are symbol-coded: the strings of keys (metric names and
 *    `name="value"` label pairs) are kept once in `symbols`, `series_id`
 *    holds short lists of symbol ids, 16 series a record, and `series_hash`
 *    is keyed by the metric's symbol;
 * 5: as 4, but the open chunks of 64 consecutive series ids share one
 *    `chunk_head` record (chunk_heads.h).
 * Stores keep the format they were created with.
 */
#define PWS_FORMAT         5
#define PWS_FORMAT_RAW     1
#define PWS_FORMAT_CHUNK   2
#define PWS_FORMAT_HASHED  3
#define PWS_FORMAT_SYMBOLS 4
#define PWS_FORMAT_GROUPED 5

/* meta keys */
#define PWS_META_FORMAT  "format"          /* u32 BE */
#define PWS_META_NEXT_ID "next_series_id"  /* u64 BE, the id the next new series gets (formats 1-3) */

/* Format 4: series a `series_id` record holds (ids (id - 1) / this, in order). */
#define PWS_SID_BLOCK 16

/*
 * LMDB keys are at most 511 bytes (mdb_env_get_maxkeysize) while canonical
 * keys may be far longer. Keys shorter than PWS_SERIES_TRUNC bytes are stored
 * whole in `series`; longer ones as their first PWS_SERIES_TRUNC bytes, and
 * the full key is compared through `series_id`. A stored key of exactly this
 * length therefore always means "truncated". Fixed here (not taken from the
 * LMDB build) so the layout does not depend on how LMDB was compiled.
 */
#define PWS_SERIES_TRUNC 480

/* A write txn resolves at most 3/4 this many distinct series through its cache. */
#define PWS_CACHE_SLOTS 16384u
/*
 * Series known to be committed, kept across txns (3/4 of this many at most;
 * when it is full it starts over). Ids never change once committed, so an
 * entry can only go stale by being dropped. About 40 bytes a slot plus the
 * keys: ~30 MiB for 200 000 series of 100-byte keys.
 */
#define PWS_KNOWN_SLOTS (1u << 18)

typedef struct pws_cache_slot pws_cache_slot;
struct pws_cache_slot {
    uint64_t hash;
    uint64_t id;        /* 0 = empty slot (ids start at 1) */
    char    *key;       /* malloc'd copy, owned by the cache */
    size_t   keylen;
};

/*
 * Format 4: symbols (strings of keys) by id and by string, in memory. Two
 * uses: the symbols a write txn created (all of them: a symbol not in it was
 * committed before the txn began), and, per store, committed symbols (ids
 * never change once committed; capped at PWS_SYMS_MAX entries or
 * PWS_SYMS_BYTES bytes of strings, then it stops growing).
 */
typedef struct pws_sym pws_sym;
struct pws_sym {
    uint64_t hash;      /* pws_sym_hash of the string */
    uint32_t id;
    uint32_t len;
    size_t   off;       /* the string in pws_symtab.arena */
};

typedef struct pws_symtab pws_symtab;
struct pws_symtab {
    pws_sym  *v;        /* n entries, cap allocated; owned */
    size_t    n, cap;
    char     *arena;    /* the strings, used of size bytes; owned */
    size_t    used, size;
    uint32_t *by_str;   /* nslots each: index into v + 1, 0 = empty; owned */
    uint32_t *by_id;
    size_t    nslots;   /* a power of 2, or 0 before first use */
};

#define PWS_SYMS_MAX   (1u << 20)
#define PWS_SYMS_BYTES ((size_t) 64 << 20)

/*
 * Canonical key -> id: the series a write txn resolved, or those committed.
 * syms: the symbols the txn created, or the committed ones (formats 4 and 5).
 */
typedef struct pws_cache pws_cache;
struct pws_cache {
    pws_cache_slot *slots;   /* nslots entries (a power of 2), allocated on first use */
    size_t          nslots;
    size_t          used;
    pws_symtab      syms;
};

struct pw_store {
    MDB_env             *env;
    unsigned             flags;          /* PW_STORE_* given to open */
    MDB_dbi              meta, series, series_id, agents, dedupe;
    MDB_dbi              symbols, symbol_hash;   /* format 4 */
    uint32_t             format;         /* storage format of this store (PWS_FORMAT_*) */
    const pw_points_ops *points;
    void                *points_state;   /* owned, points->close */

    /*
     * The remap gate. mdb_env_set_mapsize (to grow, or to adopt a map grown
     * by another process after MDB_MAP_RESIZED) is only legal while no
     * transaction of this process is open, so every txn counts itself in
     * `active` and a remap waits for zero while holding new txns back.
     */
    pthread_mutex_t      lock;
    pthread_cond_t       cond;
    unsigned             active;
    bool                 remapping;
    uint64_t             max_size;       /* 0 = no ceiling; under lock */
    char                 errmsg[512];    /* last failure, under lock */
    pthread_mutex_t      known_mu;       /* guards known: write txns of several threads */
    pws_cache            known;          /* committed series (PWS_KNOWN_SLOTS) and symbols */
    /*
     * 0: full hashes. Tests set a few bits to make the hashes of the series
     * and symbol indexes (formats 4 and 5) collide; only ever set on a new store.
     */
    uint32_t             hash_mask;
    char                 dir[];
};

struct pw_store_txn {
    pw_store *s;
    MDB_txn  *txn;
    bool      write;
    uint64_t  next_id;       /* write: next series id, 0 = not read from meta yet */
    uint32_t  next_sym;      /* write, formats 4 and 5: next symbol id, 0 = not read yet */
    char     *keybuf;        /* write: PW_MAX_SERIES_KEY_LEN + 1 bytes, owned */
    pws_cache cache;         /* write: resolved series, dies with the txn */
};

/*
 * Maps an LMDB return code (MDB_* or errno) to pw_err and, for rc != 0,
 * records "<what>: <cause>" as the store's last error. Returns PW_OK for 0.
 */
pw_err pws_fail(pw_store *s, int rc, const char *what);
/* Records a message without an LMDB code; returns e. */
pw_err pws_failf(pw_store *s, pw_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


/* --- store_series.c --- */

/*
 * Finds the id of a canonical key in a write txn, creating the series when
 * it is new. The key must be valid canonical form. Errors as pws_fail.
 */
pw_err pws_series_resolve(pw_store_txn *t, const char *key, size_t keylen, uint64_t *id);
void   pws_cache_free(pws_cache *c);
/*
 * After a commit: moves what the txn's cache holds (series it looked up or
 * created, now committed) into s->known, so later txns skip the index.
 */
void   pws_cache_publish(pw_store *s, pws_cache *c);

/* --- store_symbols.c (formats 4 and 5) --- */

uint64_t pws_sym_hash(const pw_store *s, const char *str, size_t n);
/*
 * The id of string str (n bytes) in t: 0, or MDB_NOTFOUND when there is none
 * and !create (create: a write txn makes one, and *created says so), or an
 * LMDB error / ENOMEM.
 */
int  pws_sym_intern(pw_store_txn *t, const char *str, size_t n, bool create, uint32_t *id,
                    bool *created);
/*
 * Appends the string of symbol id to dst (cap bytes, *len of them used):
 * 0, MDB_CORRUPTED (no such symbol, or no room: keys are bounded), LMDB errors.
 */
int  pws_sym_append(pw_store_txn *t, uint32_t id, char *dst, size_t cap, size_t *len);
void pws_symtab_free(pws_symtab *st);
/* Moves the entries of from (a committed txn's symbols) into to; from is emptied. */
void pws_symtab_publish(pws_symtab *to, pws_symtab *from);

/* --- store_agents.c --- */

/*
 * Dedupe: *last_seq gets the last seq stored for (agent, boot), *found
 * whether there is one.
 */
pw_err pws_dedupe_get(pw_store_txn *t, const char *agent_id, const uint8_t *boot_id,
                      bool *found, uint64_t *last_seq);
pw_err pws_dedupe_put(pw_store_txn *t, const char *agent_id, const uint8_t *boot_id,
                      uint64_t seq, int64_t seen_ms);
/* Folds a stored frame into its agent's record (creating it). */
pw_err pws_agent_update(pw_store_txn *t, const pw_frame_header *h, int64_t recv_ms,
                        uint64_t samples);

#endif
