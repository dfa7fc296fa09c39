/*
 * store_series.c - the series index: canonical key <-> series id.
 *
 * Format 3 (hashed):
 *   series_hash key = fnv1a32(metric name) BE ++ fnv1a64(canonical key) BE
 *              (12 bytes), MDB_DUPSORT|MDB_DUPFIXED values = series id (u64 BE)
 * Formats 1 and 2:
 *   series     key = canonical key (first PWS_SERIES_TRUNC bytes if longer),
 *              MDB_DUPSORT|MDB_DUPFIXED values = series id (u64 BE)
 * Both:
 *   series_id  key = series id (u64 BE) -> the full canonical key
 *   meta       "next_series_id" -> u64 BE
 *
 * The hashed index keeps the canonical key once (in series_id) and its
 * records are a fixed 20 bytes, where the key-ordered one stored every key
 * twice. A hash is only a candidate: a lookup compares the full key from
 * series_id, so colliding series are duplicates of one record and never
 * merge. The metric-name hash leads so that all series of a metric are one
 * key range; a scan checks each candidate's name and sorts by key, since
 * the range is in hash order (and may hold other metrics that collide).
 */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- caches: per txn, and of committed series ---------------------------- */

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
    size_t mask = c->nslots - 1;

    if (c->slots == NULL)
        return false;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const pws_cache_slot *sl = &c->slots[i];

        if (sl->id == 0)
            return false;
        if (sl->hash == h && sl->keylen == n && memcmp(sl->key, k, n) == 0) {
            *id = sl->id;
            return true;
        }
    }
}

/*
 * Takes key (malloc'd, n bytes) into c: the cache owns it from here, also
 * when it is dropped. Best effort: a full table (nslots defaults to
 * PWS_CACHE_SLOTS) or a failed allocation only means another lookup later.
 */
static void
sidx_cache_take(pws_cache *c, char *key, size_t n, uint64_t h, uint64_t id)
{
    pws_cache_slot *sl;
    size_t          i, mask;

    if (c->nslots == 0)
        c->nslots = PWS_CACHE_SLOTS;
    mask = c->nslots - 1;
    /* Three quarters full at most, so probes stay short and always end. */
    if (c->used >= c->nslots / 4 * 3
        || (c->slots == NULL && (c->slots = calloc(c->nslots, sizeof *c->slots)) == NULL)) {
        free(key);
        return;
    }
    for (i = h & mask; c->slots[i].id != 0; i = (i + 1) & mask)
        ;
    sl = &c->slots[i];
    sl->key = key;
    sl->keylen = n;
    sl->hash = h;
    sl->id = id;
    c->used++;
}

static void
sidx_cache_put(pws_cache *c, const char *k, size_t n, uint64_t h, uint64_t id)
{
    char *key = malloc(n ? n : 1);

    if (key == NULL)
        return;
    memcpy(key, k, n);
    sidx_cache_take(c, key, n, h, id);
}

void
pws_cache_free(pws_cache *c)
{
    if (c->slots != NULL) {
        for (size_t i = 0; i < c->nslots; i++)
            free(c->slots[i].key);
        free(c->slots);
    }
    c->slots = NULL;
    c->used = 0;
}

void
pws_cache_publish(pw_store *s, pws_cache *c)
{
    if (c->slots == NULL)
        return;
    pthread_mutex_lock(&s->known_mu);
    s->known.nslots = PWS_KNOWN_SLOTS;
    /* Full: start over rather than track what is used least (ids never go stale). */
    if (s->known.used + c->used > s->known.nslots / 4 * 3)
        pws_cache_free(&s->known);
    for (size_t i = 0; i < c->nslots; i++) {
        pws_cache_slot *sl = &c->slots[i];

        if (sl->id == 0)
            continue;
        sidx_cache_take(&s->known, sl->key, sl->keylen, sl->hash, sl->id);
        sl->key = NULL;
        sl->id = 0;
    }
    c->used = 0;
    pthread_mutex_unlock(&s->known_mu);
}

/* ---- index ------------------------------------------------------------- */

/* The format-3 index key of a canonical key (layout in collector/README.md). */
#define SIDX_HKEY 12

static uint32_t
sidx_hash32(const char *k, size_t n)
{
    uint32_t h = UINT32_C(2166136261);

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char) k[i];
        h *= UINT32_C(16777619);
    }
    return h;
}

/* Length of the metric name that starts canonical key k. */
static size_t
sidx_metric_len(const char *k, size_t n)
{
    const char *brace = memchr(k, '{', n);

    return brace != NULL ? (size_t) (brace - k) : n;
}

static void
sidx_hkey(unsigned char out[SIDX_HKEY], const char *k, size_t n, uint64_t fullhash)
{
    pw_put_be32(out, sidx_hash32(k, sidx_metric_len(k, n)));
    pw_put_be64(out + 4, fullhash);
}

static bool
sidx_hashed(const pw_store_txn *t)
{
    return t->s->format >= PWS_FORMAT_HASHED;
}

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

/* 0 and *id, MDB_NOTFOUND, or an LMDB error. h is sidx_hash(k, n). */
static int
sidx_lookup(pw_store_txn *t, const char *k, size_t n, uint64_t h, uint64_t *id)
{
    MDB_val       key = { n < PWS_SERIES_TRUNC ? n : PWS_SERIES_TRUNC, (void *) k }, val, full;
    MDB_cursor   *cur;
    unsigned char hk[SIDX_HKEY];
    int           rc;

    if (sidx_hashed(t)) {
        /* Every duplicate is a candidate; the full key decides. */
        sidx_hkey(hk, k, n, h);
        key.mv_size = sizeof hk;
        key.mv_data = hk;
    } else if (n < PWS_SERIES_TRUNC) {
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
sidx_create(pw_store_txn *t, const char *k, size_t n, uint64_t h, uint64_t *id)
{
    MDB_val       mkey = { sizeof PWS_META_NEXT_ID - 1, (void *) PWS_META_NEXT_ID }, mval;
    unsigned char idb[8], nextb[8], hk[SIDX_HKEY];
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

    if (sidx_hashed(t)) {
        sidx_hkey(hk, k, n, h);
        key.mv_size = sizeof hk;
        key.mv_data = hk;
    } else {
        key.mv_size = n < PWS_SERIES_TRUNC ? n : PWS_SERIES_TRUNC;
        key.mv_data = (void *) k;
    }
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

    bool     known;

    if (sidx_cache_get(&t->cache, key, keylen, h, id))
        return PW_OK;
    pthread_mutex_lock(&t->s->known_mu);
    known = sidx_cache_get(&t->s->known, key, keylen, h, id);
    pthread_mutex_unlock(&t->s->known_mu);
    if (known)
        return PW_OK;
    rc = sidx_lookup(t, key, keylen, h, id);
    if (rc == MDB_NOTFOUND)
        rc = sidx_create(t, key, keylen, h, id);
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

/* Series found by a hashed scan, copied out so callbacks may write. */
typedef struct sidx_hit sidx_hit;
struct sidx_hit {
    uint64_t id;
    size_t   off, len;           /* the key in sidx_hits.buf */
};

typedef struct sidx_hits sidx_hits;
struct sidx_hits {
    sidx_hit *v;
    size_t    n, cap;
    char     *buf;
    size_t    used, size;
};

static int
sidx_hits_add(sidx_hits *h, uint64_t id, const void *key, size_t len)
{
    if (h->n == h->cap) {
        size_t    ncap = h->cap ? h->cap * 2 : 64;
        sidx_hit *nv = realloc(h->v, ncap * sizeof *nv);
        if (nv == NULL)
            return ENOMEM;
        h->v = nv;
        h->cap = ncap;
    }
    if (h->size - h->used < len) {
        size_t nsize = h->size ? h->size : 4096;
        char  *nb;
        while (nsize - h->used < len)
            nsize *= 2;
        if ((nb = realloc(h->buf, nsize)) == NULL)
            return ENOMEM;
        h->buf = nb;
        h->size = nsize;
    }
    memcpy(h->buf + h->used, key, len);
    h->v[h->n].id = id;
    h->v[h->n].off = h->used;
    h->v[h->n].len = len;
    h->n++;
    h->used += len;
    return 0;
}

/* Sorting needs the keys' buffer; qsort has no context argument, qsort_r does. */
static int
sidx_hit_cmp(const void *a, const void *b, void *buf)
{
    const sidx_hit *x = a, *y = b;
    size_t          n = x->len < y->len ? x->len : y->len;
    int             c = memcmp((char *) buf + x->off, (char *) buf + y->off, n);

    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/*
 * Format 3: the candidates of metric (every series if NULL) from the hash
 * range of its name, checked against their full key, in key order.
 */
static int
sidx_scan_hashed(pw_store_txn *t, const char *metric, size_t mlen, pw_store_series_cb cb,
                 void *ctx)
{
    MDB_cursor   *cur = NULL;
    unsigned char pre[4];
    MDB_val       key, val, full;
    sidx_hits     h = { 0 };
    int           rc;

    if (metric == NULL) {
        /* Everything: series_id is the whole list. */
        if ((rc = mdb_cursor_open(t->txn, t->s->series_id, &cur)) != 0)
            return rc;
        for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
            if (key.mv_size != 8) {
                rc = MDB_CORRUPTED;
                break;
            }
            if ((rc = sidx_hits_add(&h, pw_get_be64(key.mv_data), val.mv_data, val.mv_size)) != 0)
                break;
        }
    } else {
        pw_put_be32(pre, sidx_hash32(metric, mlen));
        key.mv_size = sizeof pre;
        key.mv_data = pre;
        if ((rc = mdb_cursor_open(t->txn, t->s->series, &cur)) != 0)
            return rc;
        for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
            uint64_t id;

            if (key.mv_size != SIDX_HKEY || memcmp(key.mv_data, pre, sizeof pre) != 0)
                break;
            if (val.mv_size != 8) {
                rc = MDB_CORRUPTED;
                break;
            }
            id = pw_get_be64(val.mv_data);
            if ((rc = sidx_full_key(t, id, &full)) != 0)
                break;
            /* Another metric whose name has the same 32-bit hash: not ours. */
            if (sidx_metric_len(full.mv_data, full.mv_size) != mlen
                || memcmp(full.mv_data, metric, mlen) != 0)
                continue;
            if ((rc = sidx_hits_add(&h, id, full.mv_data, full.mv_size)) != 0)
                break;
        }
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0) {
        if (h.n > 1)
            qsort_r(h.v, h.n, sizeof *h.v, sidx_hit_cmp, h.buf);
        for (size_t i = 0; i < h.n; i++)
            if (cb(ctx, h.v[i].id, h.buf + h.v[i].off, h.v[i].len) != 0)
                break;
    }
    free(h.v);
    free(h.buf);
    return rc;
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
    if (sidx_hashed(t))
        return pws_fail(t->s, sidx_scan_hashed(t, metric, metric ? mlen : 0, cb, ctx),
                        "series scan");
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
