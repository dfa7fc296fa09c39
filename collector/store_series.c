/*
 * store_series.c - the series index: canonical key <-> series id.
 *
 * Format 4 (symbol-coded, store_symbols.c for the strings):
 *   series_hash key = symbol id of the metric name (u32 BE),
 *              MDB_DUPSORT|MDB_DUPFIXED values = u32 BE hash of the
 *              canonical key ++ series id (u64 BE), 12 bytes
 *   series_id  key = (id - 1) / 16 (u64 BE) -> the keys of ids 16k+1 ..
 *              16k+16 in id order, each a varint length ++ varint symbol
 *              ids: metric name, then each label pair in key order
 * Format 3 (hashed):
 *   series_hash key = fnv1a32(metric name) BE ++ fnv1a64(canonical key) BE
 *              (12 bytes), MDB_DUPSORT|MDB_DUPFIXED values = series id (u64 BE)
 * Formats 1 and 2:
 *   series     key = canonical key (first PWS_SERIES_TRUNC bytes if longer),
 *              MDB_DUPSORT|MDB_DUPFIXED values = series id (u64 BE)
 * Formats 1 to 3:
 *   series_id  key = series id (u64 BE) -> the full canonical key
 * Formats 1 to 3:
 *   meta       "next_series_id" -> u64 BE (formats 4 and 5: the last series_id
 *              record's first id + its entries)
 *
 * The hashed index keeps the canonical key once (in series_id) and its
 * records are a fixed 20 bytes, where the key-ordered one stored every key
 * twice. A hash is only a candidate: a lookup compares the full key from
 * series_id (formats 4 and 5: its symbol list, which is one-to-one with the key
 * since every string has one symbol), so colliding series are duplicates
 * of one record and never merge. In format 3 the metric-name hash leads so
 * that all series of a metric are one key range; a scan checks each
 * candidate's name and sorts by key, since the range is in hash order (and
 * may hold other metrics that collide). Format 4 keys that range by the
 * name's symbol, exact, and spells each key in ~8 bytes instead of ~100:
 * the strings are shared by many series (a host's label by all its
 * series). Its series_id records hold 16 series each and only the last
 * one grows, so its pages fill; series_hash's values sit in one LEAF2
 * sub-database per metric, 12 bytes each without per-entry headers.
 */
#include "store_int.h"
#include "sort.h"
#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- caches: per txn, and of committed series ---------------------------- */

/* FNV-1a: cheap, and good enough for a table that is only an accelerator. */
static uint64_t
sidx_hash(const char *k, size_t n)
{
    return pw_fnv1a64(k, n);
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

static void
sidx_cache_clear(pws_cache *c)
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
pws_cache_free(pws_cache *c)
{
    sidx_cache_clear(c);
    pws_symtab_free(&c->syms);
}

void
pws_cache_publish(pw_store *s, pws_cache *c)
{
    pthread_mutex_lock(&s->known_mu);
    pws_symtab_publish(&s->known.syms, &c->syms);
    if (c->slots == NULL) {
        pthread_mutex_unlock(&s->known_mu);
        return;
    }
    s->known.nslots = PWS_KNOWN_SLOTS;
    /* Full: start over rather than track what is used least (ids never go stale). */
    if (s->known.used + c->used > s->known.nslots / 4 * 3)
        sidx_cache_clear(&s->known);
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
sidx_hkey(const pw_store *s, unsigned char out[SIDX_HKEY], const char *k, size_t n,
          uint64_t fullhash)
{
    uint32_t mh = sidx_hash32(k, sidx_metric_len(k, n));

    pw_put_be32(out, s->hash_mask ? mh & s->hash_mask : mh);
    pw_put_be64(out + 4, s->hash_mask ? fullhash & s->hash_mask : fullhash);
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
        sidx_hkey(t->s, hk, k, n, h);
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

static int sidx_block_walk(const unsigned char *v, size_t n, size_t idx, MDB_val *ent,
                           size_t *count);

/*
 * Format 4: the id after the last series, from the last series_id record
 * (records are dense and never deleted, so that is the next id).
 */
static int
sidx_next_id4(pw_store_txn *t)
{
    MDB_cursor *cur;
    MDB_val     key, val;
    size_t      count;
    int         rc;

    if ((rc = mdb_cursor_open(t->txn, t->s->series_id, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    if (rc == MDB_NOTFOUND) {
        t->next_id = 1;
        rc = 0;
    } else if (rc == 0) {
        if (key.mv_size != 8)
            rc = MDB_CORRUPTED;
        else if ((rc = sidx_block_walk(val.mv_data, val.mv_size, PWS_SID_BLOCK, NULL,
                                       &count)) == 0)
            t->next_id = pw_get_be64(key.mv_data) * PWS_SID_BLOCK + count + 1;
    }
    mdb_cursor_close(cur);
    return rc;
}

/* *id = the id the next new series gets (read once per txn). */
static int
sidx_next_id(pw_store_txn *t, uint64_t *id)
{
    MDB_val mkey = { sizeof PWS_META_NEXT_ID - 1, (void *) PWS_META_NEXT_ID }, mval;
    int     rc;

    if (t->next_id == 0 && t->s->format >= PWS_FORMAT_SYMBOLS) {
        if ((rc = sidx_next_id4(t)) != 0)
            return rc;
    } else if (t->next_id == 0) {
        rc = mdb_get(t->txn, t->s->meta, &mkey, &mval);
        if (rc == MDB_NOTFOUND)
            t->next_id = 1;
        else if (rc != 0)
            return rc;
        else if (mval.mv_size != 8 || (t->next_id = pw_get_be64(mval.mv_data)) == 0)
            return MDB_CORRUPTED;
    }
    *id = t->next_id;
    return 0;
}

/* id (from sidx_next_id) is taken: the next series gets id + 1 (formats 1-3: meta). */
static int
sidx_take_id(pw_store_txn *t, uint64_t id)
{
    MDB_val       mkey = { sizeof PWS_META_NEXT_ID - 1, (void *) PWS_META_NEXT_ID }, mval;
    unsigned char nextb[8];
    int           rc;

    /* Format 4 needs no counter: series_id's last record says it. */
    if (t->s->format >= PWS_FORMAT_SYMBOLS) {
        t->next_id = id + 1;
        return 0;
    }
    pw_put_be64(nextb, id + 1);
    mval.mv_size = sizeof nextb;
    mval.mv_data = nextb;
    if ((rc = mdb_put(t->txn, t->s->meta, &mkey, &mval, 0)) != 0)
        return rc;
    t->next_id = id + 1;
    return 0;
}

static int
sidx_create(pw_store_txn *t, const char *k, size_t n, uint64_t h, uint64_t *id)
{
    unsigned char idb[8], hk[SIDX_HKEY];
    MDB_val       key, val;
    int           rc;

    if ((rc = sidx_next_id(t, id)) != 0)
        return rc;
    pw_put_be64(idb, *id);

    if (sidx_hashed(t)) {
        sidx_hkey(t->s, hk, k, n, h);
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
    return sidx_take_id(t, *id);
}

/* ---- format 4: symbol-coded keys (layout in collector/README.md) --------- */

/* A key's parts: its metric name, then each label pair as it is spelled. */
#define SIDX_MAXPARTS (1 + PW_MAX_LABELS)
/* Longest encoded key: every part a 5-byte varint. */
#define SIDX_MAXENC   (SIDX_MAXPARTS * 5)
/* series_hash values: u32 hash ++ u64 id. */
#define SIDX_HVAL     12

typedef struct sidx_part sidx_part;
struct sidx_part {
    const char *p;
    size_t      n;
};

/*
 * Splits canonical key k into `metric` and the pairs `name="value"` between
 * `{`, `,` and `}` (escapes kept, so the key is their concatenation). EINVAL
 * if k is not in that form.
 */
static int
sidx_split(const char *k, size_t n, sidx_part *parts, size_t *np)
{
    const char *brace = memchr(k, '{', n);
    size_t      i, end;

    parts[0].p = k;
    parts[0].n = brace != NULL ? (size_t) (brace - k) : n;
    *np = 1;
    if (brace == NULL)
        return 0;
    if (k[n - 1] != '}')
        return EINVAL;
    end = n - 1;
    for (i = parts[0].n + 1; i < end;) {
        size_t start = i;

        if (*np == SIDX_MAXPARTS)
            return EINVAL;
        while (i < end && k[i] != '=')
            i++;
        if (i + 1 >= end || k[i + 1] != '"')
            return EINVAL;
        for (i += 2; i < end && k[i] != '"'; i++)
            if (k[i] == '\\')
                i++;
        if (i >= end)
            return EINVAL;
        i++;
        parts[*np].p = k + start;
        parts[*np].n = i - start;
        (*np)++;
        if (i < end && (k[i] != ',' || ++i == end))
            return EINVAL;
    }
    return *np > 1 ? 0 : EINVAL;        /* `m{}` is not canonical */
}

#define sidx_put_varint(p, v) pw_uvarint_put((p), (v))

/* Bytes read, 0 if p (n bytes) does not start with a varint of at most 32 bits. */
static size_t
sidx_get_varint(const unsigned char *p, size_t n, uint32_t *v)
{
    size_t   pos = 0;
    uint64_t x;

    if (!pw_uvarint_get(p, n < 5 ? n : 5, &pos, &x) || x > UINT32_MAX)
        return 0;
    *v = (uint32_t) x;
    return pos;
}

static uint32_t
sidx_hash4(const pw_store *s, uint64_t h)
{
    uint32_t x = (uint32_t) (h ^ (h >> 32));

    return s->hash_mask ? x & s->hash_mask : x;
}

/*
 * k as symbol ids: enc (SIDX_MAXENC bytes) gets the varint list, *elen its
 * length, *m the metric's symbol; *fresh when a symbol was created (then
 * the series cannot exist yet). MDB_NOTFOUND if !create and a part has no
 * symbol.
 */
static int
sidx_encode(pw_store_txn *t, const char *k, size_t n, bool create, unsigned char *enc,
            size_t *elen, uint32_t *m, bool *fresh)
{
    sidx_part parts[SIDX_MAXPARTS];
    size_t    np;
    int       rc;

    *elen = 0;
    *fresh = false;
    if ((rc = sidx_split(k, n, parts, &np)) != 0)
        return rc;
    for (size_t i = 0; i < np; i++) {
        uint32_t sym;
        bool     created;

        if ((rc = pws_sym_intern(t, parts[i].p, parts[i].n, create, &sym, &created)) != 0)
            return rc;
        *fresh |= created;
        if (i == 0)
            *m = sym;
        *elen += sidx_put_varint(enc + *elen, sym);
    }
    return 0;
}

/*
 * Walks the entries of a series_id record (v, n bytes) up to entry idx:
 * *ent gets it. With idx == PWS_SID_BLOCK, counts them into *count instead
 * (ent untouched). MDB_CORRUPTED if the record is damaged or too short.
 */
static int
sidx_block_walk(const unsigned char *v, size_t n, size_t idx, MDB_val *ent, size_t *count)
{
    size_t off = 0, i;

    for (i = 0; off < n; i++) {
        uint32_t len;
        size_t   w = sidx_get_varint(v + off, n - off, &len);

        if (w == 0 || len > n - off - w || i == PWS_SID_BLOCK)
            return MDB_CORRUPTED;
        if (i == idx) {
            ent->mv_size = len;
            ent->mv_data = (void *) (v + off + w);
            return 0;
        }
        off += w + len;
    }
    if (idx < PWS_SID_BLOCK)
        return MDB_CORRUPTED;           /* every id below next_series_id has its entry */
    *count = i;
    return 0;
}

/* The encoded key of series id (valid until the next write in t). */
static int
sidx_entry(pw_store_txn *t, uint64_t id, MDB_val *ent)
{
    unsigned char blk[8];
    MDB_val       key = { sizeof blk, blk }, val;
    int           rc;

    if (id == 0)
        return MDB_CORRUPTED;
    pw_put_be64(blk, (id - 1) / PWS_SID_BLOCK);
    if ((rc = mdb_get(t->txn, t->s->series_id, &key, &val)) != 0)
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    return sidx_block_walk(val.mv_data, val.mv_size, (id - 1) % PWS_SID_BLOCK, ent, NULL);
}

/* Candidates of metric m with hash hv; the encoded key decides. */
static int
sidx_lookup4(pw_store_txn *t, const unsigned char *enc, size_t elen, uint32_t m, uint32_t hv,
             uint64_t *id)
{
    unsigned char mk[4], hval[SIDX_HVAL] = { 0 };
    MDB_val       key = { sizeof mk, mk }, val = { sizeof hval, hval }, ent;
    MDB_cursor   *cur;
    int           rc;

    pw_put_be32(mk, m);
    pw_put_be32(hval, hv);
    if ((rc = mdb_cursor_open(t->txn, t->s->series, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_GET_BOTH_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP)) {
        uint64_t cand;

        if (val.mv_size != SIDX_HVAL) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (pw_get_be32(val.mv_data) != hv) {
            rc = MDB_NOTFOUND;
            break;
        }
        cand = pw_get_be64((unsigned char *) val.mv_data + 4);
        if ((rc = sidx_entry(t, cand, &ent)) != 0)
            break;
        if (ent.mv_size == elen && memcmp(ent.mv_data, enc, elen) == 0) {
            *id = cand;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

static int
sidx_create4(pw_store_txn *t, const unsigned char *enc, size_t elen, uint32_t m, uint32_t hv,
             uint64_t *id)
{
    unsigned char mk[4], hval[SIDX_HVAL], blk[8];
    unsigned char rec[PWS_SID_BLOCK * (5 + SIDX_MAXENC)];
    MDB_val       key, val, last, old;
    MDB_cursor   *cur;
    size_t        idx, used, count;
    int           rc;

    if ((rc = sidx_next_id(t, id)) != 0)
        return rc;
    pw_put_be32(mk, m);
    pw_put_be32(hval, hv);
    pw_put_be64(hval + 4, *id);
    key.mv_size = sizeof mk;
    key.mv_data = mk;
    val.mv_size = sizeof hval;
    val.mv_data = hval;
    if ((rc = mdb_put(t->txn, t->s->series, &key, &val, MDB_NODUPDATA)) != 0)
        return rc;

    pw_put_be64(blk, (*id - 1) / PWS_SID_BLOCK);
    idx = (*id - 1) % PWS_SID_BLOCK;
    key.mv_size = sizeof blk;
    key.mv_data = blk;
    if (idx == 0) {
        /* A new record, after all others: an append (LMDB checks it). */
        used = sidx_put_varint(rec, (uint32_t) elen);
        memcpy(rec + used, enc, elen);
        val.mv_size = used + elen;
        val.mv_data = rec;
        if ((rc = mdb_put(t->txn, t->s->series_id, &key, &val, MDB_APPEND)) != 0)
            return rc;
        return sidx_take_id(t, *id);
    }
    /*
     * The last record grows by one entry, rewritten in place through a
     * cursor on it. It is the last on the last page: when it no longer fits,
     * LMDB splits that page at its end, so the pages before stay full.
     */
    if ((rc = mdb_cursor_open(t->txn, t->s->series_id, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &last, &old, MDB_LAST);
    if (rc == MDB_NOTFOUND
        || (rc == 0 && (last.mv_size != sizeof blk || memcmp(last.mv_data, blk, sizeof blk) != 0)))
        rc = MDB_CORRUPTED;
    if (rc == 0)
        rc = sidx_block_walk(old.mv_data, old.mv_size, PWS_SID_BLOCK, NULL, &count);
    if (rc == 0 && (count != idx || old.mv_size > sizeof rec - 5 - elen))
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        memcpy(rec, old.mv_data, old.mv_size);
        used = old.mv_size;
        used += sidx_put_varint(rec + used, (uint32_t) elen);
        memcpy(rec + used, enc, elen);
        val.mv_size = used + elen;
        val.mv_data = rec;
        /* key, not last: that points into the page the put rewrites. */
        rc = mdb_cursor_put(cur, &key, &val, MDB_CURRENT);
    }
    mdb_cursor_close(cur);
    if (rc != 0)
        return rc;
    return sidx_take_id(t, *id);
}

static int
sidx_resolve4(pw_store_txn *t, const char *k, size_t n, uint64_t h, uint64_t *id)
{
    unsigned char enc[SIDX_MAXENC];
    size_t        elen;
    uint32_t      m = 0, hv = sidx_hash4(t->s, h);
    bool          fresh;
    int           rc;

    if ((rc = sidx_encode(t, k, n, true, enc, &elen, &m, &fresh)) != 0)
        return rc;
    if (!fresh && (rc = sidx_lookup4(t, enc, elen, m, hv, id)) != MDB_NOTFOUND)
        return rc;
    return sidx_create4(t, enc, elen, m, hv, id);
}

/* The canonical key of an encoded one (ent) into dst (cap bytes): *len. */
static int
sidx_decode(pw_store_txn *t, const MDB_val *ent, char *dst, size_t cap, size_t *len)
{
    const unsigned char *p = ent->mv_data;
    size_t               n = ent->mv_size, off = 0, i;
    int                  rc;

    *len = 0;
    for (i = 0; off < n; i++) {
        uint32_t sym;
        size_t   w = sidx_get_varint(p + off, n - off, &sym);

        if (w == 0 || *len + 2 > cap)
            return MDB_CORRUPTED;
        off += w;
        if (i > 0)
            dst[(*len)++] = i == 1 ? '{' : ',';
        if ((rc = pws_sym_append(t, sym, dst, cap - 1, len)) != 0)
            return rc;
    }
    if (i == 0)
        return MDB_CORRUPTED;           /* an empty entry */
    if (i > 1)
        dst[(*len)++] = '}';
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
    if (t->s->format >= PWS_FORMAT_SYMBOLS) {
        rc = sidx_resolve4(t, key, keylen, h, id);
    } else {
        rc = sidx_lookup(t, key, keylen, h, id);
        if (rc == MDB_NOTFOUND)
            rc = sidx_create(t, key, keylen, h, id);
    }
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
        uint32_t mh = sidx_hash32(metric, mlen);

        pw_put_be32(pre, t->s->hash_mask ? mh & t->s->hash_mask : mh);
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

static int
sidx_id_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}

/*
 * Format 4: the series of metric (every series if NULL): the duplicates of
 * its symbol in series_hash, decoded from series_id, in key order.
 */
static int
sidx_scan_symbols(pw_store_txn *t, const char *metric, size_t mlen, pw_store_series_cb cb,
                  void *ctx)
{
    MDB_cursor   *cur = NULL;
    unsigned char mk[4], blk[8];
    MDB_val       key, val, rec = { 0, NULL }, ent;
    sidx_hits     h = { 0 };
    uint64_t     *ids = NULL, lastblk = UINT64_MAX;
    size_t        nids = 0, capids = 0, klen;
    char         *kb = NULL;
    uint32_t      m;
    int           rc;

    if ((kb = malloc(PW_MAX_SERIES_KEY_LEN + 1)) == NULL)
        return ENOMEM;
    if (metric == NULL) {
        /* Everything: series_id is the whole list, 16 series a record. */
        if ((rc = mdb_cursor_open(t->txn, t->s->series_id, &cur)) != 0)
            goto out;
        for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
            size_t count;

            if (key.mv_size != 8
                || (rc = sidx_block_walk(val.mv_data, val.mv_size, PWS_SID_BLOCK, NULL,
                                         &count)) != 0) {
                rc = MDB_CORRUPTED;
                break;
            }
            for (size_t i = 0; i < count && rc == 0; i++) {
                if ((rc = sidx_block_walk(val.mv_data, val.mv_size, i, &ent, NULL)) == 0
                    && (rc = sidx_decode(t, &ent, kb, PW_MAX_SERIES_KEY_LEN, &klen)) == 0)
                    rc = sidx_hits_add(&h, pw_get_be64(key.mv_data) * PWS_SID_BLOCK + i + 1,
                                       kb, klen);
            }
            if (rc != 0)
                break;
        }
        goto done;
    }
    /* No symbol: no series has that name. */
    if ((rc = pws_sym_intern(t, metric, mlen, false, &m, NULL)) != 0)
        goto done;
    pw_put_be32(mk, m);
    key.mv_size = sizeof mk;
    key.mv_data = mk;
    if ((rc = mdb_cursor_open(t->txn, t->s->series, &cur)) != 0)
        goto out;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP)) {
        if (val.mv_size != SIDX_HVAL) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (nids == capids) {
            size_t    ncap = capids ? capids * 2 : 256;
            uint64_t *nv = realloc(ids, ncap * sizeof *nv);
            if (nv == NULL) {
                rc = ENOMEM;
                break;
            }
            ids = nv;
            capids = ncap;
        }
        ids[nids++] = pw_get_be64((unsigned char *) val.mv_data + 4);
    }
    if (rc != MDB_NOTFOUND)
        goto done;
    /* In id order, so series of one series_id record are read with one get. */
    pw_qsort(ids, nids, sizeof *ids, sidx_id_cmp);
    rc = 0;
    for (size_t i = 0; i < nids && rc == 0; i++) {
        uint64_t b;

        if (ids[i] == 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        if ((b = (ids[i] - 1) / PWS_SID_BLOCK) != lastblk) {
            pw_put_be64(blk, b);
            key.mv_size = sizeof blk;
            key.mv_data = blk;
            if ((rc = mdb_get(t->txn, t->s->series_id, &key, &rec)) != 0) {
                if (rc == MDB_NOTFOUND)
                    rc = MDB_CORRUPTED;
                break;
            }
            lastblk = b;
        }
        if ((rc = sidx_block_walk(rec.mv_data, rec.mv_size, (ids[i] - 1) % PWS_SID_BLOCK,
                                  &ent, NULL)) == 0
            && (rc = sidx_decode(t, &ent, kb, PW_MAX_SERIES_KEY_LEN, &klen)) == 0)
            rc = sidx_hits_add(&h, ids[i], kb, klen);
    }
done:
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0) {
        if (h.n > 1)
            qsort_r(h.v, h.n, sizeof *h.v, sidx_hit_cmp, h.buf);
        for (size_t i = 0; i < h.n; i++)
            if (cb(ctx, h.v[i].id, h.buf + h.v[i].off, h.v[i].len) != 0)
                break;
    }
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    free(ids);
    free(kb);
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
    if (t->s->format >= PWS_FORMAT_SYMBOLS)
        return pws_fail(t->s, sidx_scan_symbols(t, metric, metric ? mlen : 0, cb, ctx),
                        "series scan");
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
