/*
 * alert_state.c - DIR/alerts.mdb: the alert engine's own LMDB environment
 * (alert.h, alert_int.h). Its own file rather than named databases in
 * data.mdb so that alert writes never wait for, nor delay, the ingest
 * writer's group commit, and so it can be copied or cleared on its own.
 *
 *   meta     "format" -> u32 BE (1);  "seq" -> u64 BE (next history/queue id);
 *            other keys -> i64 BE engine values (pw_alert_w_meta_*)
 *   active   rule name ++ 0x00 ++ fingerprint (16 hex) -> alert record (JSON)
 *   history  ts (i64, sign bit flipped, BE) ++ seq (u64 BE) -> history record (JSON)
 *   queue    seq (u64 BE) -> notification (JSON: receiver, type, url, body,
 *            attempts, next_ms, created_ms)
 *   silences seq (u64 BE) -> silence (JSON: id, matchers, starts_ms, ends_ms,
 *            author, comment, created_ms); kept after they end, as a record
 *
 * Records are JSON text (jansson): readable with mdb_dump, and new fields
 * can be added without a format change; readers ignore fields they do not
 * know. A map that fills doubles and the transaction is redone; another
 * process's growth is adopted (MDB_MAP_RESIZED).
 */
#include "alert_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "bytes.h"
#include "lmdb_env.h"

#define AS_FORMAT      1
#define AS_INITIAL_MAP (UINT64_C(64) << 20)
#define AS_GROW_TRIES  8

struct pw_alert_db {
    MDB_env         *env;
    MDB_dbi          meta, active, history, queue, silences;
    bool             rdonly;
    pthread_rwlock_t gate;      /* shared by txns, exclusive to resize the map */
    char             path[PATH_MAX];
};

struct pw_alert_wtxn {
    pw_alert_db *db;
    MDB_txn     *txn;
    int          rc;            /* the LMDB code behind a failure (MDB_MAP_FULL: grow) */
};

void
pw_alert_fingerprint(const json_t *labels, char out[17])
{
    const char *keys[64], *k;
    json_t     *v;
    size_t      n = 0;
    uint64_t    h = UINT64_C(14695981039346656037);

    json_object_foreach((json_t *) labels, k, v) {
        if (n < sizeof keys / sizeof keys[0])
            keys[n++] = k;
    }
    /* Sorted by name so the hash does not depend on insertion order. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];

            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        const char *val = json_string_value(json_object_get(labels, keys[i]));
        const char *parts[2] = { keys[i], val ? val : "" };

        for (int p = 0; p < 2; p++) {
            for (const unsigned char *c = (const unsigned char *) parts[p]; *c; c++) {
                h ^= *c;
                h *= UINT64_C(1099511628211);
            }
            h ^= 0xff;
            h *= UINT64_C(1099511628211);
        }
    }
    snprintf(out, 17, "%016llx", (unsigned long long) h);
}

static void
as_end(pw_alert_db *db, MDB_txn *txn, bool commit)
{
    if (commit)
        mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&db->gate);
}

pw_err
pw_alert_db_open(const char *dir, unsigned flags, pw_alert_db **out, char *msg, size_t msglen)
{
    bool          rdonly = (flags & PW_ALERT_DB_RDONLY) != 0;
    pw_alert_db  *db = calloc(1, sizeof *db);
    struct stat   st;
    pw_err        e = PW_OK;

    *out = NULL;
    if (db == NULL) {
        snprintf(msg, msglen, "out of memory");
        return PW_ENOMEM;
    }
    db->rdonly = rdonly;
    pw_lmdb_gate_init(&db->gate);
    if ((size_t) snprintf(db->path, sizeof db->path, "%s/alerts.mdb", dir) >= sizeof db->path) {
        snprintf(msg, msglen, "%s: path too long", dir);
        e = PW_EIO;
        goto out;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(msg, msglen, "data directory %s: %s", dir,
                 errno == ENOENT ? "does not exist" : "not a directory");
        e = PW_ENOENT;
        goto out;
    }
    if (rdonly && stat(db->path, &st) != 0) {
        snprintf(msg, msglen, "%s does not exist: the collector creates it when it evaluates alerts",
                 db->path);
        e = PW_ENOENT;
        goto out;
    }
    {
        static const char *const dbs[] = { "meta", "active", "history", "queue", "silences" };
        const pw_lmdb_opts       o = {
            .path = db->path, .rdonly = rdonly, .flags = (flags & PW_ALERT_DB_NOSYNC) ? MDB_NOSYNC : 0,
            .maxdbs = 8, .map_size = AS_INITIAL_MAP, .dbs = dbs, .ndbs = 5, .format = AS_FORMAT,
        };
        MDB_dbi                  dbi[5];

        if ((e = pw_lmdb_open(&o, &db->env, dbi, msg, msglen)) != PW_OK)
            goto out;
        db->meta = dbi[0];
        db->active = dbi[1];
        db->history = dbi[2];
        db->queue = dbi[3];
        db->silences = dbi[4];
    }
out:
    if (e != PW_OK) {
        pw_alert_db_close(db);
        return e;
    }
    *out = db;
    return PW_OK;
}

void
pw_alert_db_close(pw_alert_db *db)
{
    if (db == NULL)
        return;
    if (db->env != NULL)
        mdb_env_close(db->env);
    pthread_rwlock_destroy(&db->gate);
    free(db);
}

/* ---- records ------------------------------------------------------------ */

static json_t *
as_load(const MDB_val *v)
{
    return json_loadb(v->mv_data, v->mv_size, 0, NULL);
}

static int
as_put_json(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const json_t *rec)
{
    char   *s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    MDB_val v;
    int     rc;

    if (s == NULL)
        return ENOMEM;
    v.mv_size = strlen(s);
    v.mv_data = s;
    rc = mdb_put(txn, dbi, k, &v, 0);
    free(s);
    return rc;
}

/* Calls cb for each record of dbi with from <= key (by prefix), in order. */
static int
as_scan(MDB_txn *txn, MDB_dbi dbi, const MDB_val *from, const MDB_val *to, pw_alert_rec_cb cb,
        void *ctx)
{
    MDB_cursor *cur;
    MDB_val     k, v;
    int         rc;

    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return rc;
    if (from != NULL) {
        k = *from;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        json_t *rec;
        int     stop;

        if (to != NULL && mdb_cmp(txn, dbi, &k, to) > 0)
            break;
        if ((rec = as_load(&v)) == NULL)
            continue;                 /* a damaged record is skipped, not fatal */
        stop = cb(ctx, rec);
        json_decref(rec);
        if (stop)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

pw_err
pw_alert_db_active(pw_alert_db *db, pw_alert_rec_cb cb, void *ctx)
{
    MDB_txn *txn;
    int      rc;

    if ((rc = pw_lmdb_begin(db->env, &db->gate, MDB_RDONLY, &txn)) != 0)
        return pw_lmdb_err(rc);
    rc = as_scan(txn, db->active, NULL, NULL, cb, ctx);
    as_end(db, txn, false);
    return pw_lmdb_err(rc);
}

pw_err
pw_alert_db_history(pw_alert_db *db, int64_t from, int64_t to, pw_alert_rec_cb cb, void *ctx)
{
    unsigned char lo[16], hi[16];
    MDB_val       klo = { sizeof lo, lo }, khi = { sizeof hi, hi };
    MDB_txn      *txn;
    int           rc;

    pw_put_ts(lo, from);
    pw_put_be64(lo + 8, 0);
    pw_put_ts(hi, to);
    pw_put_be64(hi + 8, UINT64_MAX);
    if ((rc = pw_lmdb_begin(db->env, &db->gate, MDB_RDONLY, &txn)) != 0)
        return pw_lmdb_err(rc);
    rc = as_scan(txn, db->history, &klo, &khi, cb, ctx);
    as_end(db, txn, false);
    return pw_lmdb_err(rc);
}

pw_err
pw_alert_db_queue_count(pw_alert_db *db, size_t *n)
{
    MDB_txn *txn;
    MDB_stat st;
    int      rc;

    *n = 0;
    if ((rc = pw_lmdb_begin(db->env, &db->gate, MDB_RDONLY, &txn)) != 0)
        return pw_lmdb_err(rc);
    if ((rc = mdb_stat(txn, db->queue, &st)) == 0)
        *n = st.ms_entries;
    as_end(db, txn, false);
    return pw_lmdb_err(rc);
}

/* ---- writes ------------------------------------------------------------- */

pw_err
pw_alert_db_write(pw_alert_db *db, pw_alert_wbody body, void *ctx)
{
    pw_alert_wtxn w = { .db = db };
    pw_err        e;
    int           rc;

    if (db->rdonly)
        return PW_EINVAL;
    for (int tries = 0;; tries++) {
        w.rc = 0;
        if ((rc = pw_lmdb_begin(db->env, &db->gate, 0, &w.txn)) != 0)
            return pw_lmdb_err(rc);
        e = body(&w, ctx);
        if (e == PW_OK) {
            if ((rc = mdb_txn_commit(w.txn)) != 0) {
                w.rc = rc;
                e = pw_lmdb_err(rc);
            }
        } else {
            mdb_txn_abort(w.txn);
        }
        pthread_rwlock_unlock(&db->gate);
        if (w.rc != MDB_MAP_FULL || tries == AS_GROW_TRIES)
            return e;
        if (pw_lmdb_grow(db->env, &db->gate) != 0)
            return PW_EFULL;
    }
}

static pw_err
as_fail(pw_alert_wtxn *w, int rc)
{
    w->rc = rc;
    return pw_lmdb_err(rc);
}

pw_err
pw_alert_w_active(pw_alert_wtxn *w, pw_alert_rec_cb cb, void *ctx)
{
    int rc = as_scan(w->txn, w->db->active, NULL, NULL, cb, ctx);

    return rc != 0 ? as_fail(w, rc) : PW_OK;
}

pw_err
pw_alert_w_put_active(pw_alert_wtxn *w, const json_t *rec)
{
    const char   *rule = json_string_value(json_object_get(rec, "rule"));
    const char   *fp = json_string_value(json_object_get(rec, "fingerprint"));
    const char   *state = json_string_value(json_object_get(rec, "state"));
    unsigned char key[PW_ALERT_NAME_MAX + 1 + 16];
    MDB_val       k;
    size_t        rl;
    int           rc;

    if (rule == NULL || fp == NULL || state == NULL || (rl = strlen(rule)) >= PW_ALERT_NAME_MAX
        || strlen(fp) != 16)
        return PW_EINVAL;
    memcpy(key, rule, rl);
    key[rl] = 0;
    memcpy(key + rl + 1, fp, 16);
    k.mv_size = rl + 17;
    k.mv_data = key;
    if (strcmp(state, "pending") == 0 || strcmp(state, "firing") == 0)
        rc = as_put_json(w->txn, w->db->active, &k, rec);
    else if ((rc = mdb_del(w->txn, w->db->active, &k, NULL)) == MDB_NOTFOUND)
        rc = 0;
    return rc != 0 ? as_fail(w, rc) : PW_OK;
}

/* The next id for history and queue records. */
static int
as_seq(pw_alert_wtxn *w, uint64_t *seq)
{
    MDB_val       k = { 3, (void *) "seq" }, v;
    unsigned char b[8];
    int           rc = mdb_get(w->txn, w->db->meta, &k, &v);

    *seq = rc == 0 && v.mv_size == 8 ? pw_get_be64(v.mv_data) : 1;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    pw_put_be64(b, *seq + 1);
    v.mv_size = 8;
    v.mv_data = b;
    return mdb_put(w->txn, w->db->meta, &k, &v, 0);
}

pw_err
pw_alert_w_history(pw_alert_wtxn *w, const json_t *rec)
{
    unsigned char key[16];
    MDB_val       k = { sizeof key, key };
    uint64_t      seq;
    int           rc;

    if ((rc = as_seq(w, &seq)) != 0)
        return as_fail(w, rc);
    pw_put_ts(key, json_integer_value(json_object_get(rec, "time")));
    pw_put_be64(key + 8, seq);
    if ((rc = as_put_json(w->txn, w->db->history, &k, rec)) != 0)
        return as_fail(w, rc);
    return PW_OK;
}

pw_err
pw_alert_w_history_expire(pw_alert_wtxn *w, int64_t before_ms, size_t max)
{
    MDB_cursor *cur;
    MDB_val     k, v;
    size_t      n = 0;
    int         rc;

    if ((rc = mdb_cursor_open(w->txn, w->db->history, &cur)) != 0)
        return as_fail(w, rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 16 || pw_get_ts(k.mv_data) >= before_ms)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        n++;
    }
    mdb_cursor_close(cur);
    return rc != 0 && rc != MDB_NOTFOUND ? as_fail(w, rc) : PW_OK;
}

pw_err
pw_alert_w_enqueue(pw_alert_wtxn *w, const json_t *note, bool *dropped)
{
    unsigned char key[8];
    MDB_val       k = { sizeof key, key }, fk, fv;
    MDB_stat      st;
    MDB_cursor   *cur;
    uint64_t      seq;
    int           rc;

    *dropped = false;
    if ((rc = mdb_stat(w->txn, w->db->queue, &st)) != 0)
        return as_fail(w, rc);
    if (st.ms_entries >= PW_ALERT_QUEUE_MAX) {
        /* Bounded: the oldest goes, so a receiver down for long cannot fill the disk. */
        if ((rc = mdb_cursor_open(w->txn, w->db->queue, &cur)) != 0)
            return as_fail(w, rc);
        if ((rc = mdb_cursor_get(cur, &fk, &fv, MDB_FIRST)) == 0)
            rc = mdb_cursor_del(cur, 0);
        mdb_cursor_close(cur);
        if (rc != 0)
            return as_fail(w, rc);
        *dropped = true;
    }
    if ((rc = as_seq(w, &seq)) != 0)
        return as_fail(w, rc);
    pw_put_be64(key, seq);
    if ((rc = as_put_json(w->txn, w->db->queue, &k, note)) != 0)
        return as_fail(w, rc);
    return PW_OK;
}

pw_err
pw_alert_w_meta_get(pw_alert_wtxn *w, const char *key, int64_t *val)
{
    MDB_val k = { strlen(key), (void *) key }, v;
    int     rc = mdb_get(w->txn, w->db->meta, &k, &v);

    *val = 0;
    if (rc == MDB_NOTFOUND)
        return PW_OK;
    if (rc != 0)
        return as_fail(w, rc);
    if (v.mv_size == 8)
        *val = (int64_t) pw_get_be64(v.mv_data);
    return PW_OK;
}

pw_err
pw_alert_w_meta_put(pw_alert_wtxn *w, const char *key, int64_t val)
{
    unsigned char b[8];
    MDB_val       k = { strlen(key), (void *) key }, v = { 8, b };
    int           rc;

    pw_put_be64(b, (uint64_t) val);
    if ((rc = mdb_put(w->txn, w->db->meta, &k, &v, 0)) != 0)
        return as_fail(w, rc);
    return PW_OK;
}

/* ---- the sender's side of the queue ------------------------------------ */

pw_err
pw_alert_db_queue_due(pw_alert_db *db, int64_t now, uint64_t *id, json_t **note, int64_t *next_ms)
{
    MDB_txn    *txn;
    MDB_cursor *cur;
    MDB_val     k, v;
    pw_err      e = PW_ENOENT;
    int         rc;

    *note = NULL;
    *next_ms = INT64_MAX;
    if ((rc = pw_lmdb_begin(db->env, &db->gate, MDB_RDONLY, &txn)) != 0)
        return pw_lmdb_err(rc);
    if ((rc = mdb_cursor_open(txn, db->queue, &cur)) != 0) {
        as_end(db, txn, false);
        return pw_lmdb_err(rc);
    }
    /* The queue is short (bounded); a scan finds the first one due, in order. */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        json_t *n = as_load(&v);
        int64_t due;

        if (n == NULL || k.mv_size != 8)
            continue;
        due = json_integer_value(json_object_get(n, "next_ms"));
        if (due <= now) {
            *id = pw_get_be64(k.mv_data);
            *note = n;
            e = PW_OK;
            break;
        }
        if (due < *next_ms)
            *next_ms = due;
        json_decref(n);
    }
    mdb_cursor_close(cur);
    as_end(db, txn, false);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return pw_lmdb_err(rc);
    return e;
}

typedef struct as_qop {
    uint64_t      id;
    const json_t *note;    /* NULL: delete */
} as_qop;

static pw_err
as_qop_body(pw_alert_wtxn *w, void *ctx)
{
    as_qop       *op = ctx;
    unsigned char key[8];
    MDB_val       k = { sizeof key, key }, v;
    int           rc;

    pw_put_be64(key, op->id);
    if (op->note == NULL) {
        rc = mdb_del(w->txn, w->db->queue, &k, NULL);
        return rc == 0 || rc == MDB_NOTFOUND ? PW_OK : as_fail(w, rc);
    }
    /* Only if still queued (it may have been dropped as the oldest meanwhile). */
    if ((rc = mdb_get(w->txn, w->db->queue, &k, &v)) == MDB_NOTFOUND)
        return PW_OK;
    if (rc != 0 || (rc = as_put_json(w->txn, w->db->queue, &k, op->note)) != 0)
        return as_fail(w, rc);
    return PW_OK;
}

pw_err
pw_alert_db_queue_done(pw_alert_db *db, uint64_t id)
{
    as_qop op = { id, NULL };

    return pw_alert_db_write(db, as_qop_body, &op);
}

pw_err
pw_alert_db_queue_retry(pw_alert_db *db, uint64_t id, const json_t *note)
{
    as_qop op = { id, note };

    return pw_alert_db_write(db, as_qop_body, &op);
}

/* ---- silences ------------------------------------------------------------ */

pw_err
pw_alert_w_silences(pw_alert_wtxn *w, pw_alert_rec_cb cb, void *ctx)
{
    int rc = as_scan(w->txn, w->db->silences, NULL, NULL, cb, ctx);

    return rc != 0 ? as_fail(w, rc) : PW_OK;
}

pw_err
pw_alert_silences(pw_alert_db *db, pw_alert_rec_cb cb, void *ctx)
{
    MDB_txn *txn;
    int      rc;

    if ((rc = pw_lmdb_begin(db->env, &db->gate, MDB_RDONLY, &txn)) != 0)
        return pw_lmdb_err(rc);
    rc = as_scan(txn, db->silences, NULL, NULL, cb, ctx);
    as_end(db, txn, false);
    return pw_lmdb_err(rc);
}

typedef struct as_sil {
    json_t  *silence;      /* add: the new one (gets "id") */
    uint64_t id;           /* expire: which; add: the id given */
    int64_t  now;
} as_sil;

static pw_err
as_sil_add(pw_alert_wtxn *w, void *ctx)
{
    as_sil       *s = ctx;
    unsigned char key[8];
    MDB_val       k = { sizeof key, key };
    int           rc;

    if ((rc = as_seq(w, &s->id)) != 0)
        return as_fail(w, rc);
    pw_put_be64(key, s->id);
    json_object_set_new(s->silence, "id", json_integer((json_int_t) s->id));
    if ((rc = as_put_json(w->txn, w->db->silences, &k, s->silence)) != 0)
        return as_fail(w, rc);
    return PW_OK;
}

pw_err
pw_alert_silence_add(pw_alert_db *db, json_t *silence, uint64_t *id)
{
    as_sil s = { .silence = silence };
    pw_err e = pw_alert_db_write(db, as_sil_add, &s);

    *id = s.id;
    return e;
}

static pw_err
as_sil_expire(pw_alert_wtxn *w, void *ctx)
{
    as_sil       *s = ctx;
    unsigned char key[8];
    MDB_val       k = { sizeof key, key }, v;
    json_t       *rec;
    int           rc;

    pw_put_be64(key, s->id);
    if ((rc = mdb_get(w->txn, w->db->silences, &k, &v)) == MDB_NOTFOUND)
        return PW_ENOENT;
    if (rc != 0)
        return as_fail(w, rc);
    if ((rec = as_load(&v)) == NULL)
        return PW_EDB;
    if (json_integer_value(json_object_get(rec, "ends_ms")) > s->now)
        json_object_set_new(rec, "ends_ms", json_integer(s->now));
    rc = as_put_json(w->txn, w->db->silences, &k, rec);
    json_decref(rec);
    return rc != 0 ? as_fail(w, rc) : PW_OK;
}

pw_err
pw_alert_silence_expire(pw_alert_db *db, uint64_t id, int64_t now)
{
    as_sil s = { .id = id, .now = now };

    return pw_alert_db_write(db, as_sil_expire, &s);
}
