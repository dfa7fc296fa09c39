/*
 * store_series.c - the series index: canonical key <-> series id.
 *
 *   series     key = canonical key (first PWS_SERIES_TRUNC bytes if longer),
 *              MDB_DUPSORT|MDB_DUPFIXED values = series id (u64 BE)
 *   series_id  key = series id (u64 BE) -> the full canonical key
 *   meta       "next_series_id" -> u64 BE
 *
 * Only keys that were truncated can share a `series` record, so a lookup is
 * one mdb_get for ordinary keys and a walk over the duplicates plus a
 * compare of the full key for very long ones.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- per-txn cache ----------------------------------------------------- */

/* FNV-1a: cheap, and good enough for a table that is only an accelerator. */
static uint64_t
sidx_hash(const char *k, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char) k[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static bool
sidx_cache_get(const pws_cache *c, const char *k, size_t n, uint64_t h, uint64_t *id)
{
    if (c->slots == NULL)
        return false;
    for (size_t i = h & (PWS_CACHE_SLOTS - 1);; i = (i + 1) & (PWS_CACHE_SLOTS - 1)) {
        const pws_cache_slot *sl = &c->slots[i];

        if (sl->id == 0)
            return false;
        if (sl->hash == h && sl->keylen == n && memcmp(sl->key, k, n) == 0) {
            *id = sl->id;
            return true;
        }
    }
}

/* Best effort: a full table or a failed allocation only means another lookup later. */
static void
sidx_cache_put(pws_cache *c, const char *k, size_t n, uint64_t h, uint64_t id)
{
    pws_cache_slot *sl;
    size_t          i;

    /* Three quarters full at most, so probes stay short and always end. */
    if (c->used >= PWS_CACHE_SLOTS / 4 * 3)
        return;
    if (c->slots == NULL && (c->slots = calloc(PWS_CACHE_SLOTS, sizeof *c->slots)) == NULL)
        return;
    for (i = h & (PWS_CACHE_SLOTS - 1); c->slots[i].id != 0; i = (i + 1) & (PWS_CACHE_SLOTS - 1))
        ;
    sl = &c->slots[i];
    if ((sl->key = malloc(n ? n : 1)) == NULL)
        return;
    memcpy(sl->key, k, n);
    sl->keylen = n;
    sl->hash = h;
    sl->id = id;
    c->used++;
}

void
pws_cache_free(pws_cache *c)
{
    if (c->slots != NULL) {
        for (size_t i = 0; i < PWS_CACHE_SLOTS; i++)
            free(c->slots[i].key);
        free(c->slots);
    }
    c->slots = NULL;
    c->used = 0;
}

/* ---- index ------------------------------------------------------------- */

static int
sidx_full_key(pw_store_txn *t, uint64_t id, MDB_val *full)
{
    unsigned char idk[8];
    MDB_val       key = { sizeof idk, idk };
    int           rc;

    pw_put_be64(idk, id);
    rc = mdb_get(t->txn, t->s->series_id, &key, full);
    /* Every id in `series` has its key in `series_id`: a miss is damage. */
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

/* 0 and *id, MDB_NOTFOUND, or an LMDB error. */
static int
sidx_lookup(pw_store_txn *t, const char *k, size_t n, uint64_t *id)
{
    MDB_val     key = { n < PWS_SERIES_TRUNC ? n : PWS_SERIES_TRUNC, (void *) k }, val, full;
    MDB_cursor *cur;
    int         rc;

    if (n < PWS_SERIES_TRUNC) {
        if ((rc = mdb_get(t->txn, t->s->series, &key, &val)) != 0)
            return rc;
        if (val.mv_size != 8)
            return MDB_CORRUPTED;
        *id = pw_get_be64(val.mv_data);
        return 0;
    }
    if ((rc = mdb_cursor_open(t->txn, t->s->series, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP)) {
        uint64_t cand;

        if (val.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        cand = pw_get_be64(val.mv_data);
        if ((rc = sidx_full_key(t, cand, &full)) != 0)
            break;
        if (full.mv_size == n && memcmp(full.mv_data, k, n) == 0) {
            *id = cand;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

static int
sidx_create(pw_store_txn *t, const char *k, size_t n, uint64_t *id)
{
    MDB_val       mkey = { sizeof PWS_META_NEXT_ID - 1, (void *) PWS_META_NEXT_ID }, mval;
    unsigned char idb[8], nextb[8];
    MDB_val       key, val;
    int           rc;

    if (t->next_id == 0) {
        rc = mdb_get(t->txn, t->s->meta, &mkey, &mval);
        if (rc == MDB_NOTFOUND)
            t->next_id = 1;
        else if (rc != 0)
            return rc;
        else if (mval.mv_size != 8 || (t->next_id = pw_get_be64(mval.mv_data)) == 0)
            return MDB_CORRUPTED;
    }
    *id = t->next_id;
    pw_put_be64(idb, *id);
    pw_put_be64(nextb, *id + 1);

    key.mv_size = n < PWS_SERIES_TRUNC ? n : PWS_SERIES_TRUNC;
    key.mv_data = (void *) k;
    val.mv_size = sizeof idb;
    val.mv_data = idb;
    if ((rc = mdb_put(t->txn, t->s->series, &key, &val, MDB_NODUPDATA)) != 0)
        return rc;
    key.mv_size = sizeof idb;
    key.mv_data = idb;
    val.mv_size = n;
    val.mv_data = (void *) k;
    /* Ids only grow, so this is an append; LMDB checks it (MDB_KEYEXIST if not). */
    if ((rc = mdb_put(t->txn, t->s->series_id, &key, &val, MDB_APPEND)) != 0)
        return rc;
    mval.mv_size = sizeof nextb;
    mval.mv_data = nextb;
    if ((rc = mdb_put(t->txn, t->s->meta, &mkey, &mval, 0)) != 0)
        return rc;
    t->next_id = *id + 1;
    return 0;
}

pw_err
pws_series_resolve(pw_store_txn *t, const char *key, size_t keylen, uint64_t *id)
{
    uint64_t h = sidx_hash(key, keylen);
    int      rc;

    if (sidx_cache_get(&t->cache, key, keylen, h, id))
        return PW_OK;
    rc = sidx_lookup(t, key, keylen, id);
    if (rc == MDB_NOTFOUND)
        rc = sidx_create(t, key, keylen, id);
    if (rc != 0)
        return pws_fail(t->s, rc, "series index");
    sidx_cache_put(&t->cache, key, keylen, h, *id);
    return PW_OK;
}

/* ---- scan -------------------------------------------------------------- */

/*
 * Calls cb for each record whose key starts with prefix (all records if
 * plen is 0; only the key equal to prefix if exact). *stopped when cb said so.
 */
static int
sidx_walk(pw_store_txn *t, MDB_cursor *cur, const char *prefix, size_t plen, bool exact,
          pw_store_series_cb cb, void *ctx, bool *stopped)
{
    MDB_val key = { plen, (void *) prefix }, val, full;
    int     rc;

    for (rc = mdb_cursor_get(cur, &key, &val, plen ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        uint64_t id;

        if (key.mv_size < plen || memcmp(key.mv_data, prefix, plen) != 0
            || (exact && key.mv_size != plen))
            return 0;
        if (val.mv_size != 8)
            return MDB_CORRUPTED;
        id = pw_get_be64(val.mv_data);
        full = key;
        if (key.mv_size >= PWS_SERIES_TRUNC && (rc = sidx_full_key(t, id, &full)) != 0)
            return rc;
        if (cb(ctx, id, full.mv_data, full.mv_size) != 0) {
            *stopped = true;
            return 0;
        }
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

pw_err
pw_store_series_scan(pw_store_txn *t, const char *metric, pw_store_series_cb cb, void *ctx)
{
    char        prefix[PW_MAX_METRIC_LEN + 2];
    size_t      mlen;
    MDB_cursor *cur;
    bool        stopped = false;
    int         rc;

    if (metric != NULL && ((mlen = strlen(metric)) == 0 || mlen > PW_MAX_METRIC_LEN))
        return PW_OK;                   /* no series can have that name */
    if ((rc = mdb_cursor_open(t->txn, t->s->series, &cur)) != 0)
        return pws_fail(t->s, rc, "series scan");
    if (metric == NULL) {
        rc = sidx_walk(t, cur, "", 0, false, cb, ctx, &stopped);
    } else {
        /*
         * Two seeks: the label-less series "m", then "m{...". One prefix walk
         * over "m" would also cross other metrics such as "m_total".
         */
        memcpy(prefix, metric, mlen);
        rc = sidx_walk(t, cur, prefix, mlen, true, cb, ctx, &stopped);
        if (rc == 0 && !stopped) {
            prefix[mlen] = '{';
            rc = sidx_walk(t, cur, prefix, mlen + 1, false, cb, ctx, &stopped);
        }
    }
    mdb_cursor_close(cur);
    return pws_fail(t->s, rc, "series scan");
}
