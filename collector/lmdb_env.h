/*
 * lmdb_env.h - opening one of the collector's small LMDB files (inventory.mdb,
 * alerts.mdb): the environment, its named databases and the format check,
 * the same way for each, so a file a newer build wrote is refused alike
 * everywhere and a read-only opener racing the creating process is told to
 * try again.
 *
 * The store (store.c) and the security database (auth.c) open theirs
 * differently (map size ceilings, reader slots) and do not use this.
 *
 * Also the map-size gate that inventory.c, alert_state.c and auth.c put
 * around every transaction (below).
 */
#ifndef PW_LMDB_ENV_H
#define PW_LMDB_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <lmdb.h>

#include "pw_err.h"

typedef struct pw_lmdb_opts {
    const char        *path;      /* the file itself (MDB_NOSUBDIR); borrowed */
    bool               rdonly;    /* MDB_RDONLY: creates nothing, writes no format key */
    unsigned           flags;     /* more mdb_env_open flags (MDB_NOSYNC); MDB_NOTLS is always on */
    unsigned           maxdbs;    /* >= ndbs */
    size_t             map_size;  /* read-write: a new file's map (an existing larger file keeps its size) */
    const char *const *dbs;       /* ndbs names; dbs[0] is the one holding the "format" key */
    size_t             ndbs;
    uint32_t           format;    /* the format this build writes; a file with a larger one is refused */
} pw_lmdb_opts;

/*
 * Opens o->path: environment, the databases o->dbs (created when
 * read-write) with their handles in dbi[0..ndbs), and the format key in
 * dbs[0] (written as o->format into a new file). Read-write also clears
 * the reader slots of dead processes (they would pin old pages). *env
 * owned by the caller (mdb_env_close); NULL on failure. msg says which file
 * and why. PW_EPROTO: not an LMDB file; PW_EVERSION: a newer LMDB or
 * format; PW_EAGAIN: read-only and the databases are not created yet (the
 * creating process is between its create and its commit); PW_EFULL,
 * PW_ENOMEM, PW_EDB (another LMDB error), PW_EIO.
 */
pw_err pw_lmdb_open(const pw_lmdb_opts *o, MDB_env **env, MDB_dbi *dbi, char *msg, size_t msglen);

/* An LMDB (or errno) code as a pw_err: MAP_FULL/ENOSPC/EDQUOT PW_EFULL, NOTFOUND PW_ENOENT, ... */
pw_err pw_lmdb_err(int rc);

/*
 * The map-size gate: a process's rwlock around one environment. Every
 * transaction holds it shared; changing the map size takes it exclusive,
 * because LMDB allows mdb_env_set_mapsize only while the process has no
 * transaction open. It prefers writers, so a stream of readers cannot hold
 * a resize off. Init/destroy as pthread_rwlock_init/destroy.
 */
void pw_lmdb_gate_init(pthread_rwlock_t *gate);

/*
 * Begins a transaction (flags as mdb_txn_begin) holding the gate shared.
 * On 0 the caller ends the txn (commit or abort) and then unlocks the gate;
 * on an LMDB code nothing is held. MDB_MAP_RESIZED (another process grew
 * the file) is handled here by adopting the new size, a few times over.
 */
int pw_lmdb_begin(MDB_env *env, pthread_rwlock_t *gate, unsigned flags, MDB_txn **txn);

/*
 * Doubles the map (no transaction of this process may be open: takes the
 * gate exclusive). 0, MDB_MAP_FULL past SIZE_MAX / 2, or mdb_env_set_mapsize's
 * code.
 */
int pw_lmdb_grow(MDB_env *env, pthread_rwlock_t *gate);

/*
 * mdb_put(txn, dbi, k, v, 0), with MDB_APPEND when k sorts after every key
 * of dbi (LMDB's default memcmp order; one descent to the last key
 * decides). An ordinary insert that fills a leaf splits it in the middle,
 * leaving two half-full pages; an append splits at the end and leaves the
 * full page full, so records written in key order fill their leaves.
 * Not for MDB_DUPSORT databases. Returns mdb_cursor_put's code.
 */
int pw_lmdb_put_sorted(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v);

#endif
