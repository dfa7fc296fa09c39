/*
 * store.c - the LMDB environment: open/close, transactions, map size,
 * error mapping. Series, agents and the write path live in store_series.c,
 * store_agents.c and store_write.c; points in the engine (points.h).
 */
#include "store_int.h"
#include "rollup.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* A new store's map, and the least a writer runs with (sparse on Linux). */
#define STORE_INITIAL_MAP ((uint64_t) 1 << 30)
#define STORE_LOW_SPACE   (16u << 20)   /* below this, a failed write means a full disk */
#define STORE_MAX_DBS     16    /* 7 of ours + the point engine's + room to grow */
#define STORE_MAX_READERS 256   /* concurrent read txns over all processes */
/* MDB_MAP_RESIZED can come back if the map keeps growing meanwhile; bounded. */
#define STORE_BEGIN_TRIES 5

/* ---- shared helpers (store_int.h) ------------------------------------- */

static pw_err
store_map_err(int rc)
{
    switch (rc) {
    case 0:                     return PW_OK;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:                return PW_EFULL;
    case MDB_NOTFOUND:
    case ENOENT:                return PW_ENOENT;
    case ENOMEM:                return PW_ENOMEM;
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:       return PW_EAGAIN;
    case MDB_VERSION_MISMATCH:  return PW_EVERSION;
    default:
        /* LMDB's own codes lie in [MDB_KEYEXIST, MDB_LAST_ERRCODE]; the rest are errno. */
        return rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE ? PW_EDB : PW_EIO;
    }
}

static void store_set_msg(pw_store *s, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
store_set_msg(pw_store *s, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&s->lock);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    pthread_mutex_unlock(&s->lock);
}

pw_err
pws_failf(pw_store *s, pw_err e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    store_set_msg(s, fmt, ap);
    va_end(ap);
    return e;
}

pw_err
pws_fail(pw_store *s, int rc, const char *what)
{
    if (rc == 0)
        return PW_OK;
    return pws_failf(s, store_map_err(rc), "%s: %s", what, mdb_strerror(rc));
}

size_t
pw_store_last_error(pw_store *s, char *buf, size_t len)
{
    size_t n;

    if (len == 0)
        return 0;
    pthread_mutex_lock(&s->lock);
    n = strlen(s->errmsg);
    if (n >= len)
        n = len - 1;
    memcpy(buf, s->errmsg, n);
    buf[n] = '\0';
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ---- the remap gate (see struct pw_store) ----------------------------- */

static void
store_gate_enter(pw_store *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->remapping)
        pthread_cond_wait(&s->cond, &s->lock);
    s->active++;
    pthread_mutex_unlock(&s->lock);
}

static void
store_gate_leave(pw_store *s)
{
    pthread_mutex_lock(&s->lock);
    if (--s->active == 0)
        pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/*
 * Sets the map size with no txn of this process open: 0 adopts the size
 * another process committed, grow doubles (up to max_size), else `size`.
 */
static int
store_remap(pw_store *s, bool grow, uint64_t size, uint64_t *newsize)
{
    MDB_envinfo info;
    int         rc = 0;

    pthread_mutex_lock(&s->lock);
    while (s->remapping)
        pthread_cond_wait(&s->cond, &s->lock);
    s->remapping = true;
    while (s->active > 0)
        pthread_cond_wait(&s->cond, &s->lock);
    if (grow) {
        mdb_env_info(s->env, &info);
        if (s->max_size != 0 && info.me_mapsize >= s->max_size) {
            rc = MDB_MAP_FULL;
            goto out;
        }
        size = info.me_mapsize > SIZE_MAX / 2 ? SIZE_MAX : (uint64_t) info.me_mapsize * 2;
        if (s->max_size != 0 && size > s->max_size)
            size = s->max_size;
    }
    if (size > SIZE_MAX) {
        rc = EINVAL;
        goto out;
    }
    rc = mdb_env_set_mapsize(s->env, (size_t) size);
    if (rc == 0 && newsize != NULL) {
        mdb_env_info(s->env, &info);
        *newsize = info.me_mapsize;
    }
out:
    s->remapping = false;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Begins an LMDB txn inside the gate; on 0 the caller leaves the gate at its end. */
static int
store_begin(pw_store *s, unsigned flags, MDB_txn **txn)
{
    int rc;

    for (int tries = 1;; tries++) {
        store_gate_enter(s);
        rc = mdb_txn_begin(s->env, NULL, flags, txn);
        if (rc == 0)
            return 0;
        store_gate_leave(s);
        /* Another process grew the map past ours: map its size and retry. */
        if (rc != MDB_MAP_RESIZED || tries == STORE_BEGIN_TRIES)
            return rc;
        if ((rc = store_remap(s, false, 0, NULL)) != 0)
            return rc;
    }
}

/* ---- open / close ------------------------------------------------------ */

/* mkdir -p: creates dir and its missing parents. */
static int
store_mkdirs(const char *dir)
{
    char   path[PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof path)
        return ENAMETOOLONG;
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

/* True if dir already holds an LMDB data file. */
static bool
store_has_data(const char *dir)
{
    char        path[PATH_MAX];
    struct stat st;

    return (size_t) snprintf(path, sizeof path, "%s/data.mdb", dir) < sizeof path
        && stat(path, &st) == 0;
}

pw_err
pw_data_path(const char *dir, const char *file, char *path, size_t len, char *errbuf, size_t errlen)
{
    struct stat st;

    if (stat(dir, &st) != 0) {
        int e = errno;
        snprintf(errbuf, errlen, "data directory %s %s", dir,
            e == ENOENT ? "does not exist" : strerror(e));
        return e == ENOENT ? PW_ENOENT : PW_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errlen, "data directory %s is not a directory", dir);
        return PW_EIO;
    }
    if ((size_t) snprintf(path, len, "%s/%s", dir, file) >= len) {
        snprintf(errbuf, errlen, "data directory %s: path too long", dir);
        return PW_EIO;
    }
    return PW_OK;
}

/* For a read-only open: says clearly whether dir and its data exist. */
static pw_err
store_check_dir(const char *dir, char *errbuf, size_t errlen)
{
    char        path[PATH_MAX];
    struct stat st;
    pw_err      err;

    if ((err = pw_data_path(dir, "data.mdb", path, sizeof path, errbuf, errlen)) != PW_OK)
        return err;
    if (stat(path, &st) != 0) {
        int e = errno;
        if (e == ENOENT)
            snprintf(errbuf, errlen, "data directory %s holds no poolwatch data yet (no data.mdb)", dir);
        else
            snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(e));
        return e == ENOENT ? PW_ENOENT : PW_EIO;
    }
    return PW_OK;
}

/* Opens (or creates) our databases and checks the format, inside txn. */
static pw_err
store_open_dbs(pw_store *s, MDB_txn *txn, char *errbuf, size_t errlen)
{
    bool          rdonly = s->flags & PW_STORE_RDONLY;
    unsigned      create = rdonly ? 0 : MDB_CREATE;
    unsigned char fmt[4];
    MDB_val       key = { sizeof PWS_META_FORMAT - 1, (void *) PWS_META_FORMAT }, val;
    const char   *what = "meta";
    int           rc;

    if ((rc = mdb_dbi_open(txn, "meta", create, &s->meta)) != 0)
        goto fail;
    rc = mdb_get(txn, s->meta, &key, &val);
    if (rc == MDB_NOTFOUND && !rdonly) {
        /* A new store: stamp the format before anything else exists. */
        s->format = (s->flags & PW_STORE_FORMAT2) ? PWS_FORMAT_CHUNK
                    : (s->flags & PW_STORE_FORMAT3) ? PWS_FORMAT_HASHED
                    : (s->flags & PW_STORE_FORMAT4) ? PWS_FORMAT_SYMBOLS : PWS_FORMAT;
        pw_put_be32(fmt, s->format);
        val.mv_size = sizeof fmt;
        val.mv_data = fmt;
        rc = mdb_put(txn, s->meta, &key, &val, 0);
        s->points = &pw_points_chunk;
    } else if (rc == MDB_NOTFOUND) {
        snprintf(errbuf, errlen, "%s/data.mdb is not a poolwatch store (no storage format record)",
            s->dir);
        return PW_EPROTO;
    } else if (rc == 0) {
        uint32_t v = val.mv_size == 4 ? pw_get_be32(val.mv_data) : 0;
        if (v > PWS_FORMAT) {
            snprintf(errbuf, errlen, "%s was written by a newer poolwatch (storage format %u; "
                "this build reads formats up to %u): upgrade poolwatch to read it",
                s->dir, v, PWS_FORMAT);
            return PW_EVERSION;
        }
        if (v == 0) {
            snprintf(errbuf, errlen, "%s: the storage format record is damaged", s->dir);
            return PW_EPROTO;
        }
        /* Older stores keep the engine and index they were written with. */
        s->format = v;
        s->points = v == PWS_FORMAT_RAW ? &pw_points_raw : &pw_points_chunk;
    }
    if (rc != 0)
        goto fail;
    /* Formats 3 and 4 index series by hash; 1 and 2 by the (truncated) key itself. */
    what = s->format >= PWS_FORMAT_HASHED ? "series_hash" : "series";
    if ((rc = mdb_dbi_open(txn, what, create | MDB_DUPSORT | MDB_DUPFIXED, &s->series)) != 0)
        goto fail;
    what = "series_id";
    if ((rc = mdb_dbi_open(txn, "series_id", create, &s->series_id)) != 0)
        goto fail;
    /* Format 4 spells keys with symbols (store_symbols.c). */
    if (s->format >= PWS_FORMAT_SYMBOLS) {
        what = "symbols";
        if ((rc = mdb_dbi_open(txn, "symbols", create, &s->symbols)) != 0)
            goto fail;
        what = "symbol_hash";
        if ((rc = mdb_dbi_open(txn, "symbol_hash", create | MDB_DUPSORT | MDB_DUPFIXED,
                               &s->symbol_hash)) != 0)
            goto fail;
    }
    what = "agents";
    if ((rc = mdb_dbi_open(txn, "agents", create, &s->agents)) != 0)
        goto fail;
    what = "dedupe";
    if ((rc = mdb_dbi_open(txn, "dedupe", create, &s->dedupe)) != 0)
        goto fail;
    what = s->points->name;
    rc = s->points->open(txn, (rdonly ? 0 : PW_POINTS_CREATE)
                              | (s->format >= PWS_FORMAT_HASHED ? PW_POINTS_PACK : 0)
                              | (s->format >= PWS_FORMAT_GROUPED ? PW_POINTS_GROUPED : 0),
                         &s->points_state);
    if (rc != 0)
        goto fail;
    return PW_OK;
fail:
    if (rc == MDB_NOTFOUND) {
        snprintf(errbuf, errlen, "%s/data.mdb is not a poolwatch store (no '%s' database)",
            s->dir, what);
        return PW_EPROTO;
    }
    snprintf(errbuf, errlen, "%s: cannot open the '%s' database: %s", s->dir, what,
        mdb_strerror(rc));
    return store_map_err(rc);
}

pw_err
pw_store_open(const char *dir, unsigned flags, pw_store **out, char *errbuf, size_t errlen)
{
    return pw_store_open_sized(dir, flags, 0, out, errbuf, errlen);
}

pw_err
pw_store_open_sized(const char *dir, unsigned flags, uint64_t map_size, pw_store **out,
                    char *errbuf, size_t errlen)
{
    char        scratch[1];
    pw_store   *s = NULL;
    MDB_txn    *txn = NULL;
    MDB_envinfo info;
    bool        rdonly = flags & PW_STORE_RDONLY;
    size_t      dlen = strlen(dir);
    pw_err      err = PW_OK;
    int         rc;

    if (errbuf == NULL || errlen == 0) {
        errbuf = scratch;
        errlen = sizeof scratch;
    }
    *out = NULL;
    if (rdonly) {
        if ((err = store_check_dir(dir, errbuf, errlen)) != PW_OK)
            return err;
    } else if ((rc = store_mkdirs(dir)) != 0) {
        snprintf(errbuf, errlen, "cannot create data directory %s: %s", dir, strerror(rc));
        return PW_EIO;
    }
    if ((s = calloc(1, sizeof *s + dlen + 1)) == NULL) {
        snprintf(errbuf, errlen, "opening %s: out of memory", dir);
        return PW_ENOMEM;
    }
    memcpy(s->dir, dir, dlen + 1);
    s->flags = flags;
    s->points = &pw_points_chunk;        /* store_open_dbs picks by format */
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_mutex_init(&s->known_mu, NULL);

    if ((rc = mdb_env_create(&s->env)) != 0
        || (rc = mdb_env_set_maxdbs(s->env, STORE_MAX_DBS)) != 0
        || (rc = mdb_env_set_maxreaders(s->env, STORE_MAX_READERS)) != 0) {
        snprintf(errbuf, errlen, "opening %s: %s", dir, mdb_strerror(rc));
        err = store_map_err(rc);
        goto out;
    }
    if (map_size == 0)
        map_size = STORE_INITIAL_MAP;
    if (map_size > SIZE_MAX)
        map_size = SIZE_MAX;
    /*
     * Only a new store gets its size before the open: LMDB would otherwise
     * map an existing one at our size instead of the (larger) one it has.
     */
    if (!rdonly && !store_has_data(dir)
        && (rc = mdb_env_set_mapsize(s->env, (size_t) map_size)) != 0) {
        snprintf(errbuf, errlen, "%s: cannot set the map size: %s", dir, mdb_strerror(rc));
        err = store_map_err(rc);
        goto out;
    }
    rc = mdb_env_open(s->env, dir, MDB_NOTLS | (rdonly ? MDB_RDONLY : 0), 0640);
    if (rc != 0) {
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
            snprintf(errbuf, errlen, "%s/data.mdb is not an LMDB file this build can read (%s)",
                dir, mdb_strerror(rc));
            err = rc == MDB_INVALID ? PW_EPROTO : PW_EVERSION;
        } else {
            snprintf(errbuf, errlen, "cannot open store in %s: %s", dir, mdb_strerror(rc));
            err = store_map_err(rc);
            if (err == PW_ENOENT)
                err = PW_EIO;
        }
        goto out;
    }
    if (!rdonly) {
        int dead;

        /* Slots of readers that died (a killed CLI) would pin old pages forever. */
        mdb_reader_check(s->env, &dead);
        mdb_env_info(s->env, &info);
        if (info.me_mapsize < map_size
            && (rc = mdb_env_set_mapsize(s->env, (size_t) map_size)) != 0) {
            snprintf(errbuf, errlen, "%s: cannot set the map size: %s", dir, mdb_strerror(rc));
            err = store_map_err(rc);
            goto out;
        }
    }
    if ((rc = store_begin(s, rdonly ? MDB_RDONLY : 0, &txn)) != 0) {
        snprintf(errbuf, errlen, "%s: cannot begin a transaction: %s", dir, mdb_strerror(rc));
        err = store_map_err(rc);
        goto out;
    }
    if ((err = store_open_dbs(s, txn, errbuf, errlen)) != PW_OK) {
        mdb_txn_abort(txn);
        store_gate_leave(s);
        goto out;
    }
    /* Commit even a read txn: aborting it would close the dbi handles it opened. */
    rc = mdb_txn_commit(txn);
    store_gate_leave(s);
    if (rc != 0) {
        snprintf(errbuf, errlen, "%s: cannot initialise the store: %s", dir, mdb_strerror(rc));
        err = store_map_err(rc);
        goto out;
    }
out:
    if (err != PW_OK) {
        pw_store_close(s);
        return err;
    }
    *out = s;
    return PW_OK;
}

void
pw_store_close(pw_store *s)
{
    if (s == NULL)
        return;
    if (s->points_state != NULL)
        s->points->close(s->points_state);
    if (s->env != NULL)
        mdb_env_close(s->env);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    pws_cache_free(&s->known);
    pthread_mutex_destroy(&s->known_mu);
    free(s);
}

/* ---- transactions ------------------------------------------------------ */

static pw_err
store_txn_new(pw_store *s, bool write, pw_store_txn **out)
{
    pw_store_txn *t;
    int           rc;

    *out = NULL;
    if (write && (s->flags & PW_STORE_RDONLY))
        return pws_failf(s, PW_EINVAL, "%s: the store is open read-only", s->dir);
    if ((t = calloc(1, sizeof *t)) == NULL)
        return pws_failf(s, PW_ENOMEM, "begin transaction: out of memory");
    t->s = s;
    t->write = write;
    if ((rc = store_begin(s, write ? 0 : MDB_RDONLY, &t->txn)) != 0) {
        free(t);
        return pws_fail(s, rc, write ? "begin write transaction" : "begin read transaction");
    }
    *out = t;
    return PW_OK;
}

static void
store_txn_free(pw_store_txn *t)
{
    pws_cache_free(&t->cache);
    free(t->keybuf);
    free(t);
}

pw_err
pw_store_write_begin(pw_store *s, pw_store_txn **out)
{
    return store_txn_new(s, true, out);
}

pw_err
pw_store_write_commit(pw_store_txn *t)
{
    pw_store      *s = t->s;
    int            rc = mdb_txn_commit(t->txn);      /* frees the LMDB txn, whatever rc */
    struct statvfs fs;

    store_gate_leave(s);
    if (rc == 0)
        pws_cache_publish(s, &t->cache);
    store_txn_free(t);
    /* LMDB reports a short write as EIO; on a full filesystem that is a full
     * disk, and callers must hear PW_EFULL (retry later), not an I/O fault. */
    if (rc == EIO && statvfs(s->dir, &fs) == 0
        && (uint64_t) fs.f_bavail * fs.f_frsize < STORE_LOW_SPACE)
        rc = ENOSPC;
    return pws_fail(s, rc, "commit");
}

void
pw_store_write_abort(pw_store_txn *t)
{
    if (t == NULL)
        return;
    mdb_txn_abort(t->txn);
    store_gate_leave(t->s);
    store_txn_free(t);
}

pw_err
pw_store_read_begin(pw_store *s, pw_store_txn **out)
{
    return store_txn_new(s, false, out);
}

void
pw_store_read_end(pw_store_txn *t)
{
    if (t == NULL)
        return;
    mdb_txn_abort(t->txn);
    store_gate_leave(t->s);
    store_txn_free(t);
}

pw_err
pw_store_read_begin_beside(pw_store_txn *held, pw_store_txn **out)
{
    pw_store     *s = held->s;
    pw_store_txn *t;
    int           rc;

    *out = NULL;
    if (held->write)
        return pws_failf(s, PW_EINVAL, "begin read transaction: beside a write transaction");
    if ((t = calloc(1, sizeof *t)) == NULL)
        return pws_failf(s, PW_ENOMEM, "begin read transaction: out of memory");
    t->s = s;
    /* The gate without waiting for a pending remap: held keeps active above 0,
     * so the remap cannot start before this txn ends too (store_remap). */
    pthread_mutex_lock(&s->lock);
    s->active++;
    pthread_mutex_unlock(&s->lock);
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t->txn)) != 0) {
        store_gate_leave(s);
        free(t);
        if (rc == MDB_MAP_RESIZED)
            return pws_failf(s, PW_EAGAIN, "begin read transaction: the map grew; not adopted while "
                             "another transaction is open");
        return pws_fail(s, rc, "begin read transaction");
    }
    *out = t;
    return PW_OK;
}

pw_store *
pw_store_txn_store(const pw_store_txn *t)
{
    return t->s;
}

/* ---- map size ---------------------------------------------------------- */

pw_err
pw_store_grow(pw_store *s)
{
    uint64_t before = pw_store_map_size(s), after = 0;
    int      dead, rc;

    if (s->flags & PW_STORE_RDONLY)
        return pws_failf(s, PW_EINVAL, "%s: cannot grow a read-only store", s->dir);
    mdb_reader_check(s->env, &dead);
    if ((rc = store_remap(s, true, 0, &after)) == MDB_MAP_FULL)
        return pws_failf(s, PW_EFULL, "%s: the store is full: its map is at the configured "
            "maximum of %llu bytes", s->dir, (unsigned long long) before);
    if (rc != 0)
        return pws_fail(s, rc, "grow the map");
    return PW_OK;
}

void
pw_store_set_max_size(pw_store *s, uint64_t bytes)
{
    pthread_mutex_lock(&s->lock);
    s->max_size = bytes;
    pthread_mutex_unlock(&s->lock);
}

uint64_t
pw_store_map_size(pw_store *s)
{
    MDB_envinfo info;

    mdb_env_info(s->env, &info);
    return info.me_mapsize;
}

/* ---- reads that only need the engine ----------------------------------- */

/* Buckets from raw points, for engines that keep no rollups. */
typedef struct store_fold store_fold;
struct store_fold {
    pw_rollup_fold     f;
    int64_t            to;
    unsigned           cols;
    pw_store_rollup_cb cb;
    void              *ctx;
    int                stopped;
};

static int
store_fold_point(void *ctx, int64_t ts, double v)
{
    store_fold *sf = ctx;
    pw_rollup   done;

    if (pw_rollup_fold_add(&sf->f, ts, v, &done) && done.start <= sf->to) {
        pw_rollup_mask(&done, sf->cols);
        sf->stopped = sf->cb(sf->ctx, &done) != 0;
    }
    return sf->stopped;
}

pw_err
pw_store_rollups_cols(pw_store_txn *t, uint64_t series_id, pw_res res, int64_t from, int64_t to,
                      unsigned cols, pw_store_rollup_cb cb, void *ctx)
{
    store_fold sf = { .to = to, .cols = cols & PW_ROLLUP_ALL, .cb = cb, .ctx = ctx };
    pw_rollup  done;
    int64_t    w = pw_res_ms(res);
    int        rc;

    if (w <= 0)
        return pws_failf(t->s, PW_EINVAL, "rollups: resolution %d is not a rollup", (int) res);
    if (t->s->points->rollups != NULL) {
        rc = t->s->points->rollups(t->s->points_state, t->txn, series_id, res, from, to, sf.cols, cb, ctx);
        return pws_fail(t->s, rc, "read rollups");
    }
    if (from > to)
        return PW_OK;
    pw_rollup_fold_init(&sf.f, w);
    /* buckets starting in [floor(from), floor(to)] hold the points after the first start
     * up to the end of the last bucket (rollup.h: buckets are (s, s + w]) */
    from = pw_time_floor(from, w);
    rc = t->s->points->range(t->s->points_state, t->txn, series_id, from + 1,
                             pw_time_floor(to, w) + w, store_fold_point, &sf);
    if (rc == 0 && !sf.stopped && pw_rollup_fold_end(&sf.f, &done) && done.start <= to) {
        pw_rollup_mask(&done, sf.cols);
        cb(ctx, &done);
    }
    return pws_fail(t->s, rc, "read points for rollups");
}

/* Buckets one by one into runs, for engines without rollup_runs. */
static int
store_batch_bucket(void *ctx, const pw_rollup *r)
{
    return pw_rollup_batch_add(ctx, r);
}

pw_err
pw_store_rollups_runs(pw_store_txn *t, uint64_t series_id, pw_res res, int64_t from, int64_t to,
                      unsigned cols, pw_store_rollup_run_cb cb, void *ctx)
{
    pw_rollup_batch *b;
    pw_err           e;
    int              rc;

    if (pw_res_ms(res) <= 0)
        return pws_failf(t->s, PW_EINVAL, "rollups: resolution %d is not a rollup", (int) res);
    if (t->s->points->rollups != NULL && t->s->points->rollup_runs != NULL) {
        rc = t->s->points->rollup_runs(t->s->points_state, t->txn, series_id, res, from, to,
                                       cols & PW_ROLLUP_ALL, cb, ctx);
        return pws_fail(t->s, rc, "read rollups");
    }
    if ((b = malloc(sizeof *b)) == NULL)
        return PW_ENOMEM;
    pw_rollup_batch_init(b, cols, cb, ctx);
    if ((e = pw_store_rollups_cols(t, series_id, res, from, to, cols, store_batch_bucket, b)) == PW_OK)
        pw_rollup_batch_flush(b);
    free(b);
    return e;
}

pw_err
pw_store_rollups(pw_store_txn *t, uint64_t series_id, pw_res res, int64_t from, int64_t to,
                 pw_store_rollup_cb cb, void *ctx)
{
    return pw_store_rollups_cols(t, series_id, res, from, to, PW_ROLLUP_ALL, cb, ctx);
}

pw_err
pw_store_maintain(pw_store *s, int64_t now, const int64_t retention[PW_RES_COUNT_],
                  unsigned budget, bool *more)
{
    pw_store_txn *t;
    pw_err        err;
    int           rc;

    *more = false;
    if (s->points->maintain == NULL)
        return PW_OK;
    for (;;) {
        if ((err = pw_store_write_begin(s, &t)) != PW_OK)
            return err;
        rc = s->points->maintain(s->points_state, t->txn, now, retention, budget, more);
        if (rc != 0) {
            err = pws_fail(s, rc, "maintenance");
            pw_store_write_abort(t);
            /* A full map is grown like ingest does; the work is redone. */
            if (err == PW_EFULL && pw_store_grow(s) == PW_OK)
                continue;
            return err;
        }
        return pw_store_write_commit(t);
    }
}

pw_err
pw_store_points(pw_store_txn *t, uint64_t series_id, int64_t from, int64_t to,
                pw_store_point_cb cb, void *ctx)
{
    int rc = t->s->points->range(t->s->points_state, t->txn, series_id, from, to, cb, ctx);

    return pws_fail(t->s, rc, "read points");
}
