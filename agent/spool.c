/*
 * spool.c - LMDB-backed frame queue; see spool.h.
 *
 * Layout: DB "frames": key u64 big-endian (push order) -> u64 BE seq + frame.
 * DB "meta": name -> string. Counts and bytes are recomputed at open by one
 * cursor pass, so they can never drift from what is on disk.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "log.h"

struct pw_spool {
    MDB_env *env;
    MDB_dbi  frames;
    MDB_dbi  meta;
    int      lockfd;
    uint64_t max_bytes;
    uint64_t count;
    uint64_t bytes;
    uint64_t next_key;
};

static pw_err
spool_lmdb_err(int rc)
{
    if (rc == 0)
        return PW_OK;
    if (rc == MDB_MAP_FULL || rc == ENOSPC)
        return PW_EFULL;
    if (rc == MDB_NOTFOUND)
        return PW_ENOENT;
    return PW_EDB;
}

/* Recounts frames and bytes and finds the next key. */
static pw_err
spool_scan(pw_spool *s)
{
    MDB_txn    *txn;
    MDB_cursor *cur;
    MDB_val     k, v;
    int         rc;

    s->count = s->bytes = 0;
    s->next_key = 1;
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
        return PW_EDB;
    if ((rc = mdb_cursor_open(txn, s->frames, &cur)) != 0) {
        mdb_txn_abort(txn);
        return PW_EDB;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size == 8)
            s->next_key = pw_get_be64(k.mv_data) + 1;
        s->count++;
        s->bytes += v.mv_size > 8 ? v.mv_size - 8 : 0;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return PW_OK;
}

pw_err
pw_spool_open(const char *dir, uint64_t max_bytes, pw_spool **out, char *errbuf, size_t errlen)
{
    pw_spool *s;
    char      path[4096];
    MDB_txn  *txn = NULL;
    int       rc;
    pw_err    err = PW_EDB;

    *out = NULL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return PW_ENOMEM;
    s->lockfd = -1;
    s->max_bytes = max_bytes;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(errbuf, errlen, "spool %s: %s", dir, strerror(errno));
        err = PW_EIO;
        goto fail;
    }
    snprintf(path, sizeof path, "%s/lock", dir);
    if ((s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        snprintf(errbuf, errlen, "spool %s: %s", path, strerror(errno));
        err = PW_EIO;
        goto fail;
    }
    /* Two agents on one spool would both send its frames: refuse the second. */
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(errbuf, errlen, "spool %s is in use by another poolwatch-agent", dir);
        err = PW_EAGAIN;
        goto fail;
    }
    if ((rc = mdb_env_create(&s->env)) != 0
        || (rc = mdb_env_set_maxdbs(s->env, 2)) != 0
        /* Room for the frames plus LMDB's page and free-list overhead. */
        || (rc = mdb_env_set_mapsize(s->env, (size_t) (max_bytes * 2 + (8u << 20)))) != 0
        || (rc = mdb_env_open(s->env, dir, MDB_NOMETASYNC | MDB_NORDAHEAD | MDB_NOTLS, 0600)) != 0) {
        snprintf(errbuf, errlen, "spool %s: %s", dir, mdb_strerror(rc));
        err = rc == ENOENT || rc == EACCES ? PW_EIO : PW_EDB;
        goto fail;
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0
        || (rc = mdb_dbi_open(txn, "frames", MDB_CREATE, &s->frames)) != 0
        || (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0) {
        if (txn != NULL)
            mdb_txn_abort(txn);
        snprintf(errbuf, errlen, "spool %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    /* mdb_txn_commit frees the txn whatever it returns: never abort after it. */
    if ((rc = mdb_txn_commit(txn)) != 0) {
        snprintf(errbuf, errlen, "spool %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    if ((err = spool_scan(s)) != PW_OK) {
        snprintf(errbuf, errlen, "spool %s: cannot read frames", dir);
        goto fail;
    }
    *out = s;
    return PW_OK;
fail:
    pw_spool_close(s);
    return err;
}

void
pw_spool_close(pw_spool *s)
{
    if (s == NULL)
        return;
    if (s->env != NULL)
        mdb_env_close(s->env);
    if (s->lockfd >= 0)
        close(s->lockfd);
    free(s);
}

/* Deletes the oldest frame inside txn; adjusts counters. */
static int
spool_drop_oldest(pw_spool *s, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val     k, v;
    int         rc;

    if ((rc = mdb_cursor_open(txn, s->frames, &cur)) != 0)
        return rc;
    if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        size_t n = v.mv_size > 8 ? v.mv_size - 8 : 0;
        if ((rc = mdb_cursor_del(cur, 0)) == 0) {
            s->count--;
            s->bytes -= n;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

/*
 * One transaction: drop the oldest frames while the new one would pass the
 * limit, then append it. Returns an LMDB code; on failure the counters are
 * as before.
 */
static int
spool_try_push(pw_spool *s, uint64_t seq, const void *frame, size_t len, uint64_t *ndrop)
{
    uint64_t saved_count = s->count, saved_bytes = s->bytes;
    uint8_t  kb[8];
    MDB_val  k = { 8, kb }, v = { len + 8, NULL };
    MDB_txn *txn;
    int      rc;

    *ndrop = 0;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return rc;
    while (s->count > 0 && s->bytes + len > s->max_bytes) {
        if ((rc = spool_drop_oldest(s, txn)) != 0)
            goto fail;
        (*ndrop)++;
    }
    pw_put_be64(kb, s->next_key);
    if ((rc = mdb_put(txn, s->frames, &k, &v, MDB_RESERVE)) != 0)
        goto fail;
    pw_put_be64(v.mv_data, seq);
    memcpy((uint8_t *) v.mv_data + 8, frame, len);
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        goto fail;
    }
    s->next_key++;
    s->count++;
    s->bytes += len;
    return 0;
fail:
    if (txn != NULL)
        mdb_txn_abort(txn);
    s->count = saved_count;
    s->bytes = saved_bytes;
    *ndrop = 0;
    return rc;
}

pw_err
pw_spool_push(pw_spool *s, uint64_t seq, const void *frame, size_t len, uint64_t *dropped)
{
    uint64_t total = 0, n;
    MDB_txn *txn;
    int      rc;

    if (len > s->max_bytes)
        return PW_ETOOBIG;
    while ((rc = spool_try_push(s, seq, frame, len, &n)) == MDB_MAP_FULL && s->count > 0) {
        /* Full map despite the byte limit (LMDB overhead, fragmentation):
         * drop one more old frame for good and try again. */
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
            break;
        if ((rc = spool_drop_oldest(s, txn)) != 0)
            mdb_txn_abort(txn);
        else
            rc = mdb_txn_commit(txn);
        if (rc != 0) {
            spool_scan(s);      /* counters may be off after the failed txn */
            break;
        }
        total++;
    }
    if (dropped)
        *dropped = total + (rc == 0 ? n : 0);
    return spool_lmdb_err(rc);
}

pw_err
pw_spool_peek(pw_spool *s, uint64_t *key, uint64_t *seq, void **frame, size_t *len)
{
    MDB_txn    *txn;
    MDB_cursor *cur;
    MDB_val     k, v;
    int         rc;
    pw_err      err = PW_OK;

    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
        return spool_lmdb_err(rc);
    if ((rc = mdb_cursor_open(txn, s->frames, &cur)) != 0) {
        mdb_txn_abort(txn);
        return spool_lmdb_err(rc);
    }
    if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) != 0) {
        err = spool_lmdb_err(rc);
    } else if (k.mv_size != 8 || v.mv_size < 8) {
        err = PW_EDB;
    } else if ((*frame = malloc(v.mv_size - 8 ? v.mv_size - 8 : 1)) == NULL) {
        err = PW_ENOMEM;
    } else {
        *key = pw_get_be64(k.mv_data);
        *seq = pw_get_be64(v.mv_data);
        *len = v.mv_size - 8;
        memcpy(*frame, (uint8_t *) v.mv_data + 8, *len);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return err;
}

pw_err
pw_spool_remove(pw_spool *s, uint64_t key)
{
    uint8_t  kb[8];
    MDB_val  k = { 8, kb }, v;
    MDB_txn *txn;
    int      rc;
    size_t   n;

    pw_put_be64(kb, key);
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return spool_lmdb_err(rc);
    if ((rc = mdb_get(txn, s->frames, &k, &v)) != 0) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? PW_OK : spool_lmdb_err(rc);
    }
    n = v.mv_size > 8 ? v.mv_size - 8 : 0;
    if ((rc = mdb_del(txn, s->frames, &k, NULL)) != 0) {
        mdb_txn_abort(txn);
        return spool_lmdb_err(rc);
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return spool_lmdb_err(rc);
    s->count--;
    s->bytes -= n;
    return PW_OK;
}

uint64_t
pw_spool_count(const pw_spool *s)
{
    return s->count;
}

uint64_t
pw_spool_bytes(const pw_spool *s)
{
    return s->bytes;
}

pw_err
pw_spool_meta_get(pw_spool *s, const char *name, char *buf, size_t len)
{
    MDB_txn *txn;
    MDB_val  k = { strlen(name), (void *) name }, v;
    int      rc;
    pw_err   err = PW_OK;

    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
        return spool_lmdb_err(rc);
    if ((rc = mdb_get(txn, s->meta, &k, &v)) != 0)
        err = spool_lmdb_err(rc);
    else if (v.mv_size + 1 > len)
        err = PW_ETOOBIG;
    else {
        memcpy(buf, v.mv_data, v.mv_size);
        buf[v.mv_size] = '\0';
    }
    mdb_txn_abort(txn);
    return err;
}

pw_err
pw_spool_meta_set(pw_spool *s, const char *name, const char *value)
{
    MDB_txn *txn;
    MDB_val  k = { strlen(name), (void *) name }, v = { strlen(value), (void *) value };
    int      rc;

    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return spool_lmdb_err(rc);
    if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0) {
        mdb_txn_abort(txn);
        return spool_lmdb_err(rc);
    }
    return spool_lmdb_err(mdb_txn_commit(txn));
}
