/*
 * points.h - the point storage engine behind the store, as an ops table.
 *
 * The store keeps the series index, agents and dedupe itself and hands the
 * points of each series to one engine through this table, so that the
 * compressed-chunk engine can replace the raw one without any caller (or
 * any other file of the store) knowing how points sit on disk. Only the
 * engine's own .c file knows its layout; collector/README.md documents it.
 *
 * Every function works inside an LMDB transaction the store owns and
 * returns an LMDB return code (0, MDB_* or an errno value), which the store
 * maps to pw_err: engines are LMDB engines by contract. A function that
 * fails inside a write transaction leaves it fit only for mdb_txn_abort.
 *
 * Threads: `state` is read-only after open, so any number of transactions
 * in any threads may use it at once.
 */
#ifndef PW_POINTS_H
#define PW_POINTS_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "store.h"

/* Called for each point, in time order; returns 0 to go on, non-zero to stop. */
typedef int (*pw_points_cb)(void *ctx, int64_t ts_ms, double value);

/* Flags of pw_points_ops.open. */
#define PW_POINTS_CREATE 0x1u   /* create the engine's databases if missing */
#define PW_POINTS_PACK   0x2u   /* storage format 3: the engine may write its packed layout */
#define PW_POINTS_GROUPED 0x4u  /* storage format 5: open chunks grouped (chunk_heads.h) */

typedef struct pw_points_ops {
    /* Short name for messages ("raw"). */
    const char *name;

    /*
     * Opens the engine's named databases inside txn (a write txn when
     * PW_POINTS_CREATE is set). The handles stay valid after txn commits,
     * as LMDB dbi handles do. On 0, *state is owned by the caller and
     * released with close(); on error nothing needs releasing. MDB_NOTFOUND:
     * a database is missing and PW_POINTS_CREATE was not given.
     */
    int  (*open)(MDB_txn *txn, unsigned flags, void **state);
    /* Releases state (NULL is fine). The dbi handles die with the env. */
    void (*close)(void *state);

    /*
     * Stores one point in a write txn. A point with the same series and
     * timestamp is replaced, so storing a point twice is harmless.
     */
    int  (*append)(void *state, MDB_txn *txn, uint64_t series_id, int64_t ts_ms, double value);

    /*
     * Optional (NULL: the store calls append for each point):
     * stores p[0..n) of many series, sorted by series id and each series'
     * points in the order to store them, exactly as append for each point
     * in that order would. Every write of points goes through it (a group
     * commit's frames, an import batch), so the engine can walk its
     * records in key order once.
     */
    int  (*append_sorted)(void *state, MDB_txn *txn, const pw_store_point *p, size_t n);

    /*
     * Calls cb for each point of series_id with from <= ts <= to, in time
     * order, in any txn. Returns 0 both when done and when cb stopped it.
     */
    int  (*range)(void *state, MDB_txn *txn, uint64_t series_id, int64_t from, int64_t to,
                  pw_points_cb cb, void *ctx);

    /*
     * Optional (NULL: the engine keeps no rollups and the store computes
     * buckets from raw points). Calls cb for each bucket of series_id at
     * res with from <= start <= to, in time order, complete up to the
     * newest point stored, with start and the fields in cols (PW_ROLLUP_*,
     * store.h) filled and the others 0. Returns an LMDB code like range.
     */
    int  (*rollups)(void *state, MDB_txn *txn, uint64_t series_id, pw_res res, int64_t from,
                    int64_t to, unsigned cols, pw_store_rollup_cb cb, void *ctx);

    /*
     * Optional, only with rollups (NULL: the store cuts rollups' buckets
     * into runs itself): the same buckets as rollups, handed over in runs
     * (pw_store_rollups_runs), the columns not in cols NULL.
     */
    int  (*rollup_runs)(void *state, MDB_txn *txn, uint64_t series_id, pw_res res, int64_t from,
                        int64_t to, unsigned cols, pw_store_rollup_run_cb cb, void *ctx);

    /*
     * Optional background work in a write txn: roll up, merge, expire. Does
     * at most about `budget` units of work (a unit is one chunk or one
     * rollup block read or written) so ingest never waits long behind it,
     * and sets *more when work remains. now and the retentions (ms per
     * pw_res, 0 = keep forever) decide what expires.
     */
    int  (*maintain)(void *state, MDB_txn *txn, int64_t now, const int64_t retention[PW_RES_COUNT_],
                     unsigned budget, bool *more);
} pw_points_ops;

/* The raw engine (points_raw.c): one LMDB record per point (storage format 1). */
extern const pw_points_ops pw_points_raw;
/* The chunk engine (points_chunk.c): compressed chunks and rollups (storage formats 2 to 5). */
extern const pw_points_ops pw_points_chunk;

#endif
