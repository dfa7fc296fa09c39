/* lmdb_env.c - opening a small LMDB file; see lmdb_env.h. */
#include "lmdb_env.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"

pw_err
pw_lmdb_err(int rc)
{
    switch (rc) {
    case 0:                    return PW_OK;
    case ENOMEM:               return PW_ENOMEM;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:               return PW_EFULL;
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:      return PW_EAGAIN;
    case MDB_NOTFOUND:         return PW_ENOENT;
    case MDB_VERSION_MISMATCH: return PW_EVERSION;
    default:
        return rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE ? PW_EDB : PW_EIO;
    }
}

pw_err
pw_lmdb_open(const pw_lmdb_opts *o, MDB_env **out, MDB_dbi *dbi, char *msg, size_t msglen)
{
    MDB_env      *env = NULL;
    MDB_txn      *txn = NULL;
    MDB_val       k = { 6, (void *) "format" }, v;
    unsigned      create = o->rdonly ? 0 : MDB_CREATE;
    unsigned char fmt[4];
    pw_err        e = PW_OK;
    int           rc;

    *out = NULL;
    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, o->maxdbs)) != 0
        || (!o->rdonly && (rc = mdb_env_set_mapsize(env, o->map_size)) != 0)) {
        snprintf(msg, msglen, "cannot open %s: %s", o->path, mdb_strerror(rc));
        e = pw_lmdb_err(rc);
        goto out;
    }
    /* An existing file larger than map_size keeps its size: LMDB takes the larger. */
    rc = mdb_env_open(env, o->path, MDB_NOSUBDIR | MDB_NOTLS | o->flags | (o->rdonly ? MDB_RDONLY : 0), 0640);
    if (rc != 0) {
        snprintf(msg, msglen, "cannot open %s: %s", o->path, mdb_strerror(rc));
        e = rc == MDB_INVALID ? PW_EPROTO : rc == MDB_VERSION_MISMATCH ? PW_EVERSION
          : pw_lmdb_err(rc) == PW_EDB ? PW_EDB : PW_EIO;
        goto out;
    }
    if (!o->rdonly) {
        int dead;

        mdb_reader_check(env, &dead);
    }
    rc = mdb_txn_begin(env, NULL, o->rdonly ? MDB_RDONLY : 0, &txn);
    for (size_t i = 0; rc == 0 && i < o->ndbs; i++)
        rc = mdb_dbi_open(txn, o->dbs[i], create, &dbi[i]);
    if (rc != 0) {
        /* A read-only open racing the creating process: the dbs are not there yet. */
        snprintf(msg, msglen, "cannot initialise %s: %s", o->path, mdb_strerror(rc));
        e = rc == MDB_NOTFOUND ? PW_EAGAIN : pw_lmdb_err(rc);
        goto out;
    }
    rc = mdb_get(txn, dbi[0], &k, &v);
    if (rc == MDB_NOTFOUND && !o->rdonly) {
        pw_put_be32(fmt, o->format);
        v.mv_size = sizeof fmt;
        v.mv_data = fmt;
        rc = mdb_put(txn, dbi[0], &k, &v, 0);
    } else if (rc == 0 && (v.mv_size != 4 || pw_get_be32(v.mv_data) > o->format)) {
        snprintf(msg, msglen, "%s is of a newer format than this build reads", o->path);
        e = PW_EVERSION;
        goto out;
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    /* Commit, not abort: the dbi handles opened here must stay. */
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    txn = NULL;
    if (rc != 0) {
        snprintf(msg, msglen, "cannot initialise %s: %s", o->path, mdb_strerror(rc));
        e = pw_lmdb_err(rc);
    }
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (e != PW_OK) {
        if (env != NULL)
            mdb_env_close(env);
        return e;
    }
    *out = env;
    return PW_OK;
}

/* ---- the map-size gate -------------------------------------------------- */

#define LMDB_BEGIN_TRIES 5     /* MDB_MAP_RESIZED again while another process keeps growing */

void
pw_lmdb_gate_init(pthread_rwlock_t *gate)
{
    pthread_rwlockattr_t attr;

    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(gate, &attr);
    pthread_rwlockattr_destroy(&attr);
}

int
pw_lmdb_begin(MDB_env *env, pthread_rwlock_t *gate, unsigned flags, MDB_txn **txn)
{
    int rc;

    for (int tries = 1;; tries++) {
        pthread_rwlock_rdlock(gate);
        if ((rc = mdb_txn_begin(env, NULL, flags, txn)) == 0)
            return 0;
        pthread_rwlock_unlock(gate);
        if (rc != MDB_MAP_RESIZED || tries == LMDB_BEGIN_TRIES)
            return rc;
        /* Another process grew the map past ours: adopt its size (needs no txn open here). */
        pthread_rwlock_wrlock(gate);
        rc = mdb_env_set_mapsize(env, 0);
        pthread_rwlock_unlock(gate);
        if (rc != 0)
            return rc;
    }
}

int
pw_lmdb_grow(MDB_env *env, pthread_rwlock_t *gate)
{
    MDB_envinfo info;
    int         rc;

    pthread_rwlock_wrlock(gate);
    mdb_env_info(env, &info);
    rc = info.me_mapsize > SIZE_MAX / 2 ? MDB_MAP_FULL : mdb_env_set_mapsize(env, info.me_mapsize * 2);
    pthread_rwlock_unlock(gate);
    return rc;
}

/* LMDB's default key order: memcmp, then the shorter key first. */
static int
lmdb_key_cmp(const MDB_val *a, const MDB_val *b)
{
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int    c = memcmp(a->mv_data, b->mv_data, n);

    return c != 0 ? c : (a->mv_size > b->mv_size) - (a->mv_size < b->mv_size);
}

int
pw_lmdb_put_sorted(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    MDB_cursor *cur;
    MDB_val     lk, lv;
    int         rc;

    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &lk, &lv, MDB_LAST);
    if (rc == MDB_NOTFOUND || (rc == 0 && lmdb_key_cmp(k, &lk) > 0))
        rc = mdb_cursor_put(cur, k, v, MDB_APPEND);
    else if (rc == 0)
        rc = mdb_cursor_put(cur, k, v, 0);
    mdb_cursor_close(cur);
    return rc;
}
