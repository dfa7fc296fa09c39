/*
 * points_chunk.c - the compressed-chunk point engine (storage formats 2 and 3).
 *
 * Raw points of a series go into its open chunk (`chunk_head`, one record per
 * series, appended in place: every commit holds them, so a kill -9 loses
 * nothing acked). At PWC_SEAL_POINTS points the open chunk moves, bytes
 * unchanged, to `chunks` under (series, first ts) - no re-encoding on the
 * ingest path. Points older than the open chunk (history, late resends) are
 * merged into the sealed chunk that covers them by re-encoding that chunk.
 *
 * Rollups are never computed on the ingest path. A seal or a merge records
 * the time range it touched as dirty; maintain() recomputes the buckets of
 * dirty ranges from raw points and stores them as compressed column blocks
 * (`rollups`), and advances a per-series mark up to which stored buckets are
 * complete. Queries take stored buckets below the mark and compute the rest
 * from raw points, so recent data is never missing from a rollup query.
 *
 * Layout (all integers big-endian, timestamps with the sign bit flipped so
 * memcmp orders them; documented in collector/README.md, "Storage layout"):
 *   chunk_head  id                      -> open chunk
 *   chunks      id ++ first_ts          -> sealed record: one sealed chunk, or
 *                                          (format 3) a pack of several (below)
 *   rollups     id ++ res ++ block      -> rollup block (below)
 *   rollup_mark id ++ res               -> i64 end of the stored, complete buckets
 *   rollup_todo id ++ res               -> i64 lo ++ i64 hi: raw range to roll up
 *   rollup_wait id ++ res               -> i64 lo ++ i64 hi: same, waiting for a bucket to end
 */
#include "points.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "chunk.h"
#include "chunk_heads.h"
#include "grow.h"
#include "lmdb_env.h"
#include "rollup.h"

#define PWC_SEAL_POINTS   720        /* 2 h at 10 s: long enough to compress well */
#define PWC_MERGE_SPLIT   4096       /* a merged chunk past this is split in two */
#define PWC_STALE_MS      (6 * 3600000LL)   /* an open chunk idle this long is sealed */
#define PWC_SCAN_EVERY    60000             /* full scans (quiet heads, expiry) at most this often */
#define PWC_BLOCK_VERSION 1
#define PWC_ROLLUP_CHUNK_VERSION 1   /* rollup columns: the faster chunk decoder (pwc_encode_v) */
/*
 * A pack (format 3 only) is [PWC_PACK_MAGIC] then, per sealed chunk in time
 * order, a uvarint length and the chunk. A plain sealed chunk starts with its
 * version byte (1), so the first byte tells the two apart. Packs exist because
 * a sealed chunk (~1 KB) is a poor fit for LMDB pages: B-tree leaves of 1 KB
 * values split half empty, while a value of a few pages sits in overflow
 * pages that it fills.
 */
#define PWC_PACK_MAGIC    0x80
/*
 * A pack grows up to this many overflow pages (N pages hold N * psize - 16
 * bytes: LMDB keeps only the page header there, the key stays in the leaf).
 * A full pack wastes less than one chunk in its last page, so the larger
 * the limit the less the waste; but the newest pack of a series is
 * rewritten whole at each seal. On the bench data (tests/bench/storage/
 * fill.sh) 4 pages left 1.0 % more overflow pages than 8, and 16 only
 * 0.1 % fewer than 8: 8 pages, about 30 sealed chunks of a 10 s gauge.
 */
#define PWC_PACK_PAGES    8
#define PWC_NCOLS         6          /* min, max, sum, last, last_ts, count */

/* Rollup blocks: how much time one record covers, per resolution. */
static const int64_t pwc_block[PW_RES_COUNT_] = { 0, 86400000, 7 * 86400000LL, 256 * 86400000LL };

typedef struct pwc pwc;
struct pwc {
    pwh_table       heads;       /* chunk_head: open chunks (chunk_heads.h) */
    MDB_dbi         chunks, rollups, mark, todo, wait;
    size_t          pack_max;    /* bytes a pack may reach; 0 = no packs (format 2) */
    size_t          psize;       /* LMDB page size (packs) */
    pthread_mutex_t mu;          /* guards the maintenance scan positions */
    uint64_t        scan_head;   /* next series id for the stale-head scan */
    uint64_t        scan_expire; /* next series id for the expiry scan */
    uint64_t        scan_rollup; /* next series id for the rollup expiry scan */
    int64_t         next_scan;   /* no full scan before this time */
};

/* ---- keys ----------------------------------------------------------------- */

static void
pwc_key_ts(unsigned char k[16], uint64_t id, int64_t ts)
{
    pw_put_be64(k, id);
    pw_put_ts(k + 8, ts);
}

static void
pwc_key_res(unsigned char k[9], uint64_t id, pw_res res)
{
    pw_put_be64(k, id);
    k[8] = (unsigned char) res;
}

static void
pwc_key_block(unsigned char k[17], uint64_t id, pw_res res, int64_t block)
{
    pwc_key_res(k, id, res);
    pw_put_ts(k + 9, block);
}

/* ---- open / close --------------------------------------------------------- */

static int
pwc_open(MDB_txn *txn, unsigned flags, void **state)
{
    unsigned create = (flags & PW_POINTS_CREATE) ? MDB_CREATE : 0;
    pwc     *p = calloc(1, sizeof *p);
    int      rc;

    if (p == NULL)
        return ENOMEM;
    if ((rc = pwh_table_open(txn, create, (flags & PW_POINTS_GROUPED) != 0, &p->heads)) != 0
        || (rc = mdb_dbi_open(txn, "chunks", create, &p->chunks)) != 0
        || (rc = mdb_dbi_open(txn, "rollups", create, &p->rollups)) != 0
        || (rc = mdb_dbi_open(txn, "rollup_mark", create, &p->mark)) != 0
        || (rc = mdb_dbi_open(txn, "rollup_todo", create, &p->todo)) != 0
        || (rc = mdb_dbi_open(txn, "rollup_wait", create, &p->wait)) != 0) {
        free(p);
        return rc;
    }
    if (flags & PW_POINTS_PACK) {
        MDB_stat st;
        /* Fill whole overflow pages: a page holds psize bytes less its 16-byte header. */
        if ((rc = mdb_env_stat(mdb_txn_env(txn), &st)) != 0) {
            free(p);
            return rc;
        }
        p->pack_max = (size_t) st.ms_psize * PWC_PACK_PAGES - 16;
        p->psize = st.ms_psize;
    }
    pthread_mutex_init(&p->mu, NULL);
    *state = p;
    return 0;
}

static void
pwc_close(void *state)
{
    pwc *p = state;

    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* ---- sealed records: one chunk or a pack ------------------------------------ */

/* Walks the sealed chunks of one record value. */
typedef struct pwc_sub pwc_sub;
struct pwc_sub {
    const unsigned char *p, *end;
    bool                 plain;      /* the record is one chunk, handed out once */
    const void          *data;       /* the current chunk */
    size_t               len;
};

static void
pwc_sub_init(pwc_sub *s, const void *data, size_t len)
{
    s->p = data;
    s->end = s->p + len;
    s->plain = len == 0 || s->p[0] != PWC_PACK_MAGIC;
    if (!s->plain)
        s->p++;
    s->data = NULL;
    s->len = 0;
}

/* 1 and the next chunk in s->data / s->len, 0 at the end, -1 on a damaged pack. */
static int
pwc_sub_next(pwc_sub *s)
{
    uint64_t n = 0;
    unsigned shift = 0;

    if (s->p >= s->end)
        return 0;
    if (s->plain) {
        s->data = s->p;
        s->len = (size_t) (s->end - s->p);
        s->p = s->end;
        return 1;
    }
    for (;;) {
        if (s->p >= s->end || shift > 28)
            return -1;
        n |= (uint64_t) (*s->p & 0x7f) << shift;
        shift += 7;
        if (!(*s->p++ & 0x80))
            break;
    }
    if (n == 0 || n > (uint64_t) (s->end - s->p))
        return -1;
    s->data = s->p;
    s->len = (size_t) n;
    s->p += n;
    return 1;
}

/* Last timestamp of a sealed record (INT64_MIN if it is damaged). */
static int64_t
pwc_rec_last_ts(const void *data, size_t len)
{
    pwc_sub s;
    int64_t last = INT64_MIN;

    pwc_sub_init(&s, data, len);
    while (pwc_sub_next(&s) == 1)
        last = pw_chunk_last_ts(s.data, s.len);
    return last;
}

/* Bytes a chunk of clen adds to a pack (its length prefix included). */
static size_t
pwc_pack_cost(size_t clen)
{
    return pw_uvarint_len(clen) + clen;
}

/* Appends chunk c to the pack being built in buf (the pack's magic first). */
static int
pwc_pack_add(unsigned char **buf, size_t *len, size_t *cap, const void *c, size_t clen)
{
    if (!pw_grow((void **) buf, cap, *len + 1 + pwc_pack_cost(clen), 1, 4096))
        return ENOMEM;
    if (*len == 0)
        (*buf)[(*len)++] = PWC_PACK_MAGIC;
    *len += pw_uvarint_put(*buf + *len, clen);
    memcpy(*buf + *len, c, clen);
    *len += clen;
    return 0;
}

/* ---- decoded point arrays -------------------------------------------------- */

typedef struct pwc_pts pwc_pts;
struct pwc_pts {
    int64_t *ts;
    double  *v;
    size_t   n, cap;
};

static int
pwc_pts_push(pwc_pts *a, int64_t ts, double v)
{
    if (a->n == a->cap) {
        size_t   ncap = a->cap ? a->cap * 2 : 1024;
        int64_t *nts = realloc(a->ts, ncap * sizeof *nts);
        double  *nv;

        if (nts == NULL)
            return ENOMEM;
        a->ts = nts;
        if ((nv = realloc(a->v, ncap * sizeof *nv)) == NULL)
            return ENOMEM;
        a->v = nv;
        a->cap = ncap;
    }
    a->ts[a->n] = ts;
    a->v[a->n] = v;
    a->n++;
    return 0;
}

static void
pwc_pts_free(pwc_pts *a)
{
    free(a->ts);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/*
 * Appends the points of a chunk, or of every chunk of a sealed record, to a;
 * MDB_CORRUPTED if it does not decode.
 */
static int
pwc_pts_decode(pwc_pts *a, const void *data, size_t len)
{
    pwc_sub       sub;
    pw_chunk_iter it;
    int64_t       ts;
    double        v;
    int           r, rc, more;

    pwc_sub_init(&sub, data, len);
    while ((more = pwc_sub_next(&sub)) == 1) {
        if (pw_chunk_iter_init(&it, sub.data, sub.len) != PW_OK)
            return MDB_CORRUPTED;
        while ((r = pw_chunk_iter_next(&it, &ts, &v)) == 1)
            if ((rc = pwc_pts_push(a, ts, v)) != 0)
                return rc;
        if (r != 0)
            return MDB_CORRUPTED;
    }
    return more == 0 ? 0 : MDB_CORRUPTED;
}

/* Inserts (ts, v) in order; an equal timestamp has its value replaced. */
static int
pwc_pts_insert(pwc_pts *a, int64_t ts, double v)
{
    size_t lo = 0, hi = a->n;
    int    rc;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->ts[mid] < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < a->n && a->ts[lo] == ts) {
        a->v[lo] = v;
        return 0;
    }
    if ((rc = pwc_pts_push(a, 0, 0)) != 0)
        return rc;
    memmove(a->ts + lo + 1, a->ts + lo, (a->n - 1 - lo) * sizeof *a->ts);
    memmove(a->v + lo + 1, a->v + lo, (a->n - 1 - lo) * sizeof *a->v);
    a->ts[lo] = ts;
    a->v[lo] = v;
    return 0;
}

/*
 * Encodes n points into c (chunk version `version`, 0 = the newest). Rollup
 * blocks stay at version 1: reports decode months of them per request and
 * version 1 decodes about a third faster, for a few percent more bytes on a
 * small share of the store.
 */
static int
pwc_encode_v(pw_chunk *c, unsigned version, const int64_t *ts, const double *v, size_t n, int seal)
{
    pw_err e;

    pw_chunk_init(c);
    e = version == 0 ? pw_chunk_encode(c, ts, v, n) : pw_chunk_encode_version(c, version, ts, v, n);
    if (e == PW_OK && seal)
        e = pw_chunk_seal(c);
    if (e != PW_OK) {
        pw_chunk_free(c);
        return e == PW_ENOMEM ? ENOMEM : MDB_CORRUPTED;
    }
    return 0;
}

static int
pwc_encode(pw_chunk *c, const int64_t *ts, const double *v, size_t n, int seal)
{
    return pwc_encode_v(c, 0, ts, v, n, seal);
}

/* ---- dirty ranges ---------------------------------------------------------- */

/* Widens the range stored under key in dbi to cover [lo, hi]. */
static int
pwc_range_merge(MDB_txn *txn, MDB_dbi dbi, const unsigned char key[9], int64_t lo, int64_t hi)
{
    MDB_val       k = { 9, (void *) key }, v;
    unsigned char buf[16];
    int           rc = mdb_get(txn, dbi, &k, &v);

    if (rc == 0 && v.mv_size == 16) {
        int64_t olo = (int64_t) pw_get_be64(v.mv_data), ohi = (int64_t) pw_get_be64((unsigned char *) v.mv_data + 8);
        if (olo <= lo && ohi >= hi)
            return 0;
        lo = olo < lo ? olo : lo;
        hi = ohi > hi ? ohi : hi;
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    pw_put_be64(buf, (uint64_t) lo);
    pw_put_be64(buf + 8, (uint64_t) hi);
    v.mv_size = 16;
    v.mv_data = buf;
    return pw_lmdb_put_sorted(txn, dbi, &k, &v);
}

/*
 * Raw points in [lo, hi] changed: their buckets must be rolled up again.
 * A range that was waiting for its bucket to end comes back to the to-do
 * list with it, since new points may be what it waited for.
 */
static int
pwc_mark_dirty(pwc *p, MDB_txn *txn, uint64_t id, int64_t lo, int64_t hi)
{
    unsigned char key[9];
    MDB_val       k = { 9, key }, v;
    int           rc;

    for (int r = PW_RES_5M; r < PW_RES_COUNT_; r++) {
        pwc_key_res(key, id, (pw_res) r);
        rc = mdb_get(txn, p->wait, &k, &v);
        if (rc == 0 && v.mv_size == 16) {
            int64_t wlo = (int64_t) pw_get_be64(v.mv_data), whi = (int64_t) pw_get_be64((unsigned char *) v.mv_data + 8);
            if ((rc = mdb_del(txn, p->wait, &k, NULL)) != 0
                || (rc = pwc_range_merge(txn, p->todo, key, wlo, whi)) != 0)
                return rc;
        } else if (rc != MDB_NOTFOUND && rc != 0) {
            return rc;
        }
        if ((rc = pwc_range_merge(txn, p->todo, key, lo, hi)) != 0)
            return rc;
    }
    return 0;
}

/*
 * Positions cur on the sealed chunk of id that may hold ts: the last one
 * starting at or before ts, else the first one after it. The caller checks
 * that the key found belongs to id (it may be the next series).
 */
static int
pwc_seek(MDB_cursor *cur, uint64_t id, int64_t ts, MDB_val *k, MDB_val *v)
{
    unsigned char ck[16];
    int           rc, back;

    pwc_key_ts(ck, id, ts);
    k->mv_size = 16;
    k->mv_data = ck;
    rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (rc == 0 && memcmp(k->mv_data, ck, 16) == 0)
        return 0;
    back = mdb_cursor_get(cur, k, v, rc == 0 ? MDB_PREV : MDB_LAST);
    if (back == 0 && k->mv_size == 16 && pw_get_be64(k->mv_data) == id)
        return 0;
    if (rc != 0)
        return rc;
    k->mv_size = 16;
    k->mv_data = ck;
    return mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
}

static int
pwc_is_of(const MDB_val *k, uint64_t id)
{
    return k->mv_size == 16 && pw_get_be64(k->mv_data) == id;
}

/* Overflow pages a value of len bytes takes: LMDB's 16-byte page header, then the value. */
static size_t
pwc_pages(const pwc *p, size_t len)
{
    return (16 + len + p->psize - 1) / p->psize;
}

/*
 * Whether a record of len bytes may take add more (a chunk and its length
 * prefix): within pack_max, and not past a page boundary once its last
 * overflow page is nearly full. A record ends with what its last page does
 * not use, so one that stops at 90 % of a page instead of growing into a
 * new one that the next seals may not fill keeps every record's waste under
 * a tenth of a page: a series of 12 sealed chunks of about 700 bytes (a day
 * at 10 s) took 3 pages in one pack, 68 % full; now 2 pages of 11 chunks
 * and the twelfth in a leaf. Values up to about half a page stay in a leaf
 * (LMDB's limit), where this does not apply.
 */
static bool
pwc_pack_fits(const pwc *p, size_t len, size_t add)
{
    size_t pages = pwc_pages(p, len);

    if (len + add > p->pack_max)
        return false;
    if (len <= p->psize / 2 || pwc_pages(p, len + add) == pages)
        return true;
    /* bytes used in the last page, against 90 % of it */
    return (16 + len - (pages - 1) * p->psize) * 10 < p->psize * 9;
}

/* ---- append ---------------------------------------------------------------- */

/*
 * Format 3: a newly sealed chunk (its first point at first, after every
 * sealed one) joins the series' last record while that stays within
 * pack_max and its pages well filled (pwc_pack_fits), else starts a
 * record of its own (a plain chunk; it becomes a pack when the next one
 * joins it).
 */
static int
pwc_seal_packed(pwc *p, MDB_txn *txn, uint64_t id, int64_t first, const void *c, size_t clen)
{
    MDB_cursor    *cur;
    MDB_val        k, v;
    unsigned char  ck[16];
    unsigned char *buf = NULL;
    size_t         len = 0, cap = 0;
    pwc_sub        sub;
    int            rc, more;

    if ((rc = mdb_cursor_open(txn, p->chunks, &cur)) != 0)
        return rc;
    rc = pwc_seek(cur, id, INT64_MAX, &k, &v);
    /* a plain record grows by a magic byte and its own length prefix when packed */
    if (rc == 0 && pwc_is_of(&k, id)
        && pwc_pack_fits(p, ((unsigned char *) v.mv_data)[0] == PWC_PACK_MAGIC ? v.mv_size
                                : 1 + pwc_pack_cost(v.mv_size), pwc_pack_cost(clen))) {
        memcpy(ck, k.mv_data, sizeof ck);
        pwc_sub_init(&sub, v.mv_data, v.mv_size);
        while ((more = pwc_sub_next(&sub)) == 1)
            if ((rc = pwc_pack_add(&buf, &len, &cap, sub.data, sub.len)) != 0)
                goto out;
        if (more != 0) {
            rc = MDB_CORRUPTED;
            goto out;
        }
    } else if (rc == 0 || rc == MDB_NOTFOUND) {
        /* A record of its own, stored plain. */
        pwc_key_ts(ck, id, first);
        k.mv_size = sizeof ck;
        k.mv_data = ck;
        v.mv_size = clen;
        v.mv_data = (void *) c;
        rc = pw_lmdb_put_sorted(txn, p->chunks, &k, &v);
        goto out;
    } else {
        goto out;
    }
    if ((rc = pwc_pack_add(&buf, &len, &cap, c, clen)) != 0)
        goto out;
    /*
     * Deleted and added again, not replaced: a record that grows out of its
     * leaf into overflow pages leaves a hole in the leaf, and only a delete
     * makes LMDB merge a leaf that fell under a quarter full with its
     * neighbour. Replaced in place, leaves that held the series' first
     * chunks inline end up holding a few overflow references each.
     */
    if ((rc = mdb_cursor_del(cur, 0)) != 0)
        goto out;
    k.mv_size = sizeof ck;
    k.mv_data = ck;
    v.mv_size = len;
    v.mv_data = buf;
    rc = pw_lmdb_put_sorted(txn, p->chunks, &k, &v);
out:
    mdb_cursor_close(cur);
    free(buf);
    return rc;
}

/* Moves the open chunk of id (h's) to the sealed table, unchanged but for its state. */
static int
pwc_seal_head(pwc *p, pwh *h, MDB_txn *txn, uint64_t id, const void *data, size_t len)
{
    unsigned char ck[16];
    MDB_val       k = { 16, ck }, v;
    pw_chunk      c;
    int64_t       first = pw_chunk_first_ts(data, len), last = pw_chunk_last_ts(data, len);
    int           rc;

    pw_chunk_init(&c);
    if (pw_chunk_load(&c, data, len) != PW_OK || pw_chunk_seal(&c) != PW_OK) {
        pw_chunk_free(&c);
        return MDB_CORRUPTED;
    }
    if (p->pack_max > 0) {
        rc = pwc_seal_packed(p, txn, id, first, c.data, c.len);
    } else {
        pwc_key_ts(ck, id, first);
        v.mv_size = c.len;
        v.mv_data = c.data;
        rc = pw_lmdb_put_sorted(txn, p->chunks, &k, &v);
    }
    pw_chunk_free(&c);
    if (rc == 0)
        rc = pwh_del(h, id);
    if (rc == 0)
        rc = pwc_mark_dirty(p, txn, id, first, last);
    return rc;
}

/*
 * Format 3: sealed chunks of one series, in time order, into records of at
 * most pack_max bytes, each as full as the chunks allow: a chunk joins the
 * record being built while pwc_pack_fits, else the record is
 * written (plain when it holds one chunk) and a new one starts.
 */
typedef struct pwc_packer pwc_packer;
struct pwc_packer {
    unsigned char *buf;          /* the record being built: a pack, magic first */
    size_t         len, cap;
    size_t         nchunks;      /* chunks in buf */
    int64_t        first;        /* first time of its first chunk: the key */
};

static int
pwc_packer_flush(pwc *p, MDB_txn *txn, uint64_t id, pwc_packer *pk)
{
    unsigned char ck[16];
    MDB_val       k = { 16, ck }, v = { pk->len, pk->buf };
    pwc_sub       sub;
    int           rc;

    if (pk->nchunks == 0)
        return 0;
    if (pk->nchunks == 1) {
        /* one chunk is stored plain, as a seal stores it */
        pwc_sub_init(&sub, pk->buf, pk->len);
        if (pwc_sub_next(&sub) != 1)
            return MDB_CORRUPTED;
        v.mv_size = sub.len;
        v.mv_data = (void *) sub.data;
    }
    pwc_key_ts(ck, id, pk->first);
    rc = pw_lmdb_put_sorted(txn, p->chunks, &k, &v);
    pk->len = 0;
    pk->nchunks = 0;
    return rc;
}

static int
pwc_packer_add(pwc *p, MDB_txn *txn, uint64_t id, pwc_packer *pk, const void *c, size_t clen)
{
    int rc;

    if (pk->nchunks > 0 && !pwc_pack_fits(p, pk->len, pwc_pack_cost(clen))
        && (rc = pwc_packer_flush(p, txn, id, pk)) != 0)
        return rc;
    if (pk->nchunks == 0)
        pk->first = pw_chunk_first_ts(c, clen);
    if ((rc = pwc_pack_add(&pk->buf, &pk->len, &pk->cap, c, clen)) != 0)
        return rc;
    pk->nchunks++;
    return 0;
}

/*
 * Format 3: rebuilds a sealed record (old[0..olen), already deleted, its
 * bytes the caller's) with (ts, val) merged into the one chunk that covers
 * ts - the last starting at or before it, else the first. Only that chunk
 * is re-encoded (split into chunks of PWC_SEAL_POINTS past
 * PWC_MERGE_SPLIT); the others keep their bytes. The record is packed again
 * and may become two when the chunk grew past pack_max.
 */
static int
pwc_repack_merge(pwc *p, MDB_txn *txn, uint64_t id, const void *old, size_t olen, int64_t ts,
                 double val)
{
    pwc_packer pk = { 0 };
    pwc_pts    a = { 0 };
    pwc_sub    sub;
    size_t     i = 0, at = 0;
    int        rc = 0, more;

    pwc_sub_init(&sub, old, olen);
    while ((more = pwc_sub_next(&sub)) == 1) {
        if (pw_chunk_first_ts(sub.data, sub.len) <= ts)
            at = i;
        i++;
    }
    if (more != 0 || i == 0)
        return MDB_CORRUPTED;
    pwc_sub_init(&sub, old, olen);
    for (i = 0; rc == 0 && (more = pwc_sub_next(&sub)) == 1; i++) {
        if (i != at) {
            rc = pwc_packer_add(p, txn, id, &pk, sub.data, sub.len);
            continue;
        }
        if ((rc = pwc_pts_decode(&a, sub.data, sub.len)) != 0
            || (rc = pwc_pts_insert(&a, ts, val)) != 0)
            break;
        for (size_t off = 0; off < a.n && rc == 0;) {
            size_t   n = a.n - off;
            pw_chunk c;

            if (a.n > PWC_MERGE_SPLIT && n > PWC_SEAL_POINTS)
                n = PWC_SEAL_POINTS;
            if ((rc = pwc_encode(&c, a.ts + off, a.v + off, n, 1)) != 0)
                break;
            rc = pwc_packer_add(p, txn, id, &pk, c.data, c.len);
            pw_chunk_free(&c);
            off += n;
        }
    }
    if (rc == 0 && more < 0)
        rc = MDB_CORRUPTED;
    if (rc == 0)
        rc = pwc_packer_flush(p, txn, id, &pk);
    free(pk.buf);
    pwc_pts_free(&a);
    return rc;
}

/* Format 2: points a[0..n) as sealed chunks of id, one a record, split past PWC_MERGE_SPLIT. */
static int
pwc_put_sealed(pwc *p, MDB_txn *txn, uint64_t id, const pwc_pts *a)
{
    for (size_t off = 0; off < a->n;) {
        size_t        n = a->n - off;
        unsigned char ck[16];
        MDB_val       k = { 16, ck }, v;
        pw_chunk      c;
        int           rc;

        if (n > PWC_MERGE_SPLIT)
            n = PWC_MERGE_SPLIT / 2;
        if ((rc = pwc_encode(&c, a->ts + off, a->v + off, n, 1)) != 0)
            return rc;
        pwc_key_ts(ck, id, a->ts[off]);
        v.mv_size = c.len;
        v.mv_data = c.data;
        rc = pw_lmdb_put_sorted(txn, p->chunks, &k, &v);
        pw_chunk_free(&c);
        if (rc != 0)
            return rc;
        off += n;
    }
    return 0;
}

/*
 * A point older than the open chunk: merge it into the sealed chunk that
 * covers its time (or the next one), re-encoding that chunk, or make it a
 * chunk of its own when the series has none. Chunks never overlap.
 */
static int
pwc_merge_sealed(pwc *p, MDB_txn *txn, uint64_t id, int64_t ts, double val)
{
    MDB_cursor *cur;
    MDB_val     k, v;
    pwc_pts     a = { 0 };
    void       *old = NULL;
    size_t      olen = 0;
    int         rc;

    if ((rc = mdb_cursor_open(txn, p->chunks, &cur)) != 0)
        return rc;
    rc = pwc_seek(cur, id, ts, &k, &v);
    if (rc == 0 && pwc_is_of(&k, id)) {
        if (p->pack_max > 0) {
            /* format 3: the record's bytes, copied out (the delete frees their pages) */
            olen = v.mv_size;
            if ((old = malloc(olen ? olen : 1)) == NULL)
                rc = ENOMEM;
            else
                memcpy(old, v.mv_data, olen);
        } else {
            rc = pwc_pts_decode(&a, v.mv_data, v.mv_size);
        }
        if (rc == 0)
            rc = mdb_cursor_del(cur, 0);
    } else if (rc == MDB_NOTFOUND || rc == 0) {
        rc = 0;
    }
    mdb_cursor_close(cur);
    if (rc == 0 && old != NULL) {
        rc = pwc_repack_merge(p, txn, id, old, olen, ts, val);
    } else if (rc == 0) {
        if ((rc = pwc_pts_insert(&a, ts, val)) == 0)
            rc = pwc_put_sealed(p, txn, id, &a);
    }
    if (rc == 0)
        rc = pwc_mark_dirty(p, txn, id, ts, ts);
    free(old);
    pwc_pts_free(&a);
    return rc;
}

/* Last timestamp of id's sealed chunks, or INT64_MIN when it has none. */
static int
pwc_sealed_last(pwc *p, MDB_txn *txn, uint64_t id, int64_t *last)
{
    MDB_cursor *cur;
    MDB_val     k, v;
    int         rc;

    *last = INT64_MIN;
    if ((rc = mdb_cursor_open(txn, p->chunks, &cur)) != 0)
        return rc;
    rc = pwc_seek(cur, id, INT64_MAX, &k, &v);
    if (rc == 0 && pwc_is_of(&k, id))
        *last = pwc_rec_last_ts(v.mv_data, v.mv_size);
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Rewrites id's open chunk old with a point inserted or replaced inside it. */
static int
pwc_rewrite_head(pwh *h, uint64_t id, const MDB_val *old, int64_t ts, double val)
{
    pwc_pts  a = { 0 };
    pw_chunk c;
    int      rc;

    if ((rc = pwc_pts_decode(&a, old->mv_data, old->mv_size)) == 0
        && (rc = pwc_pts_insert(&a, ts, val)) == 0
        && (rc = pwc_encode(&c, a.ts, a.v, a.n, 0)) == 0) {
        rc = pwh_put(h, id, c.data, c.len);
        pw_chunk_free(&c);
    }
    pwc_pts_free(&a);
    return rc;
}

/* Puts the grown open chunk c of id back (copied), or seals it when it is full. */
static int
pwc_head_store(pwc *p, pwh *h, MDB_txn *txn, uint64_t id, const pw_chunk *c, bool full)
{
    return full ? pwc_seal_head(p, h, txn, id, c->data, c->len) : pwh_put(h, id, c->data, c->len);
}

/* One point of id, through h: appended, inserted, merged into sealed data or a new open chunk. */
static int
pwc_append_one(pwc *p, pwh *h, MDB_txn *txn, uint64_t id, int64_t ts, double val)
{
    MDB_val  v;
    pw_chunk c;
    int64_t  first, last;
    uint32_t count;
    int      rc;

    rc = pwh_get(h, id, &v);
    if (rc == MDB_NOTFOUND) {
        /* A new open chunk must start after the sealed data, or they would overlap. */
        if ((rc = pwc_sealed_last(p, txn, id, &last)) != 0)
            return rc;
        if (ts <= last)
            return pwc_merge_sealed(p, txn, id, ts, val);
        if ((rc = pwc_encode(&c, &ts, &val, 1, 0)) != 0)
            return rc;
        rc = pwh_put(h, id, c.data, c.len);
        pw_chunk_free(&c);
        return rc;
    }
    if (rc != 0)
        return rc;
    if (pw_chunk_info(v.mv_data, v.mv_size, &count, &first, &last) != PW_OK)
        return MDB_CORRUPTED;
    if (ts < first)
        return pwc_merge_sealed(p, txn, id, ts, val);
    if (ts <= last)
        return pwc_rewrite_head(h, id, &v, ts, val);
    pw_chunk_init(&c);
    if (pw_chunk_load(&c, v.mv_data, v.mv_size) != PW_OK || pw_chunk_append(&c, ts, val) != PW_OK)
        rc = MDB_CORRUPTED;
    else
        rc = pwc_head_store(p, h, txn, id, &c, count + 1 >= PWC_SEAL_POINTS);
    pw_chunk_free(&c);
    return rc;
}

static int
pwc_append(void *state, MDB_txn *txn, uint64_t id, int64_t ts, double val)
{
    pwc *p = state;
    pwh  h;

    pwh_begin(&h, &p->heads, txn, true);
    return pwh_end(&h, pwc_append_one(p, &h, txn, id, ts, val));
}

/*
 * Points pt[0..n) of one series: those after the open chunk's last point
 * are appended to one load of it into c (the caller's, reused from series
 * to series: no allocation per series), written back once (or sealed on
 * the way); any other point, and the first one of a series with no open
 * chunk, takes pwc_append_one. Same result as n pwc_append calls.
 */
static int
pwc_append_series(pwc *p, pwh *h, MDB_txn *txn, const pw_store_point *pt, size_t n, pw_chunk *c)
{
    uint64_t id = pt[0].series_id;
    MDB_val  v;
    int64_t  first, last;
    uint32_t count;
    size_t   i = 0;
    int      rc;

    while (i < n) {
        bool sealed = false;

        /* Loaded first: the load's parse also gives count and last. */
        rc = pwh_get(h, id, &v);
        if (rc == 0 && (pw_chunk_load(c, v.mv_data, v.mv_size) != PW_OK
                        || pw_chunk_info_of(c, &count, &first, &last) != PW_OK))
            return MDB_CORRUPTED;
        if (rc == MDB_NOTFOUND || (rc == 0 && pt[i].ts_ms <= last)) {
            if ((rc = pwc_append_one(p, h, txn, id, pt[i].ts_ms, pt[i].value)) != 0)
                return rc;
            i++;
            continue;
        }
        if (rc != 0)
            return rc;
        for (; i < n && pt[i].ts_ms > last; i++) {
            if (pw_chunk_append(c, pt[i].ts_ms, pt[i].value) != PW_OK)
                return MDB_CORRUPTED;
            last = pt[i].ts_ms;
            if (++count >= PWC_SEAL_POINTS) {
                i++;
                sealed = true;
                break;
            }
        }
        if ((rc = pwc_head_store(p, h, txn, id, c, sealed)) != 0)
            return rc;
    }
    return 0;
}

/*
 * Points of many series, sorted by series (points.h), through one view of
 * the open chunks: the series of one group (format 5) share one read and
 * one write of its record; per series, one cursor walks the records in key
 * order (an agent's series have consecutive ids) and writes each back
 * where it stands.
 */
static int
pwc_append_sorted(void *state, MDB_txn *txn, const pw_store_point *pt, size_t n)
{
    pwc     *p = state;
    pwh      h;
    pw_chunk c;
    size_t   j;
    int      rc = 0;

    pwh_begin(&h, &p->heads, txn, true);
    pw_chunk_init(&c);
    for (size_t i = 0; i < n && rc == 0; i = j) {
        for (j = i + 1; j < n && pt[j].series_id == pt[i].series_id; j++)
            ;
        rc = pwc_append_series(p, &h, txn, pt + i, j - i, &c);
    }
    pw_chunk_free(&c);
    return pwh_end(&h, rc);
}

/* ---- range ----------------------------------------------------------------- */

/*
 * Emits the points of one chunk or sealed record within [from, to]; *stop
 * when cb asked. Chunks of a pack that end before from are skipped by their
 * header alone.
 */
static int
pwc_emit(const MDB_val *v, int64_t from, int64_t to, pw_points_cb cb, void *ctx, int *stop)
{
    pwc_sub       sub;
    pw_chunk_iter it;
    int64_t       ts;
    double        val;
    int           r, more;

    pwc_sub_init(&sub, v->mv_data, v->mv_size);
    while ((more = pwc_sub_next(&sub)) == 1) {
        if (pw_chunk_last_ts(sub.data, sub.len) < from)
            continue;
        if (pw_chunk_iter_init(&it, sub.data, sub.len) != PW_OK)
            return MDB_CORRUPTED;
        while ((r = pw_chunk_iter_next(&it, &ts, &val)) == 1) {
            if (ts < from)
                continue;
            if (ts > to)
                return 0;
            if (cb(ctx, ts, val) != 0) {
                *stop = 1;
                return 0;
            }
        }
        if (r != 0)
            return MDB_CORRUPTED;
    }
    return more == 0 ? 0 : MDB_CORRUPTED;
}

static int
pwc_range(void *state, MDB_txn *txn, uint64_t id, int64_t from, int64_t to, pw_points_cb cb,
          void *ctx)
{
    pwc        *p = state;
    MDB_cursor *cur;
    MDB_val     k, v;
    pwh         h;
    int         rc, stop = 0;

    if (from > to)
        return 0;
    if ((rc = mdb_cursor_open(txn, p->chunks, &cur)) != 0)
        return rc;
    for (rc = pwc_seek(cur, id, from, &k, &v); rc == 0 && !stop && pwc_is_of(&k, id);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (pw_get_ts((unsigned char *) k.mv_data + 8) > to)
            break;
        if (pwc_rec_last_ts(v.mv_data, v.mv_size) < from)
            continue;
        if ((rc = pwc_emit(&v, from, to, cb, ctx, &stop)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (stop)
        return 0;
    pwh_begin(&h, &p->heads, txn, false);
    rc = pwh_get(&h, id, &v);
    if (rc == 0)
        rc = pwc_emit(&v, from, to, cb, ctx, &stop);
    return pwh_end(&h, rc == MDB_NOTFOUND ? 0 : rc);
}

/* ---- rollup buckets ---------------------------------------------------------- */

/* Buckets computed from raw points, collected in an array. */
typedef struct pwc_fold pwc_fold;
struct pwc_fold {
    pw_rollup_fold f;
    pw_rollup     *out;          /* finished buckets, malloc'd */
    size_t         n, cap;
    int            err;
};

static void
pwc_fold_keep(pwc_fold *f, const pw_rollup *r)
{
    if (f->n == f->cap) {
        size_t     ncap = f->cap ? f->cap * 2 : 64;
        pw_rollup *no = realloc(f->out, ncap * sizeof *no);
        if (no == NULL) {
            f->err = ENOMEM;
            return;
        }
        f->out = no;
        f->cap = ncap;
    }
    f->out[f->n++] = *r;
}

static int
pwc_fold_point(void *ctx, int64_t ts, double v)
{
    pwc_fold *f = ctx;
    pw_rollup done;

    if (pw_rollup_fold_add(&f->f, ts, v, &done))
        pwc_fold_keep(f, &done);
    return f->err;
}

/* Buckets of id at res computed from raw points in [from, to); f->out is the caller's. */
static int
pwc_fold_range(pwc *p, MDB_txn *txn, uint64_t id, pw_res res, int64_t from, int64_t to, pwc_fold *f)
{
    pw_rollup done;
    int       rc;

    memset(f, 0, sizeof *f);
    pw_rollup_fold_init(&f->f, pw_res_ms(res));
    /* buckets starting in [from, to) hold the points from + 1 ... to (rollup.h) */
    rc = pwc_range(p, txn, id, from + 1, to, pwc_fold_point, f);
    if (rc == 0 && pw_rollup_fold_end(&f->f, &done))
        pwc_fold_keep(f, &done);
    return rc != 0 ? rc : f->err;
}

/* ---- rollup blocks ------------------------------------------------------------- */
/*
 * A block is [version][ncols] then for each column a u32 length and a sealed
 * chunk whose timestamps are the bucket starts and whose values are, in
 * order: min, max, sum, last, last_ts, count. Columns compress well apart:
 * count is nearly constant, last_ts nearly regular.
 */

/* The decoded columns of one block; reused from block to block of a read. */
typedef struct pwc_cols pwc_cols;
struct pwc_cols {
    size_t   cap, n;                /* buckets room, buckets decoded */
    int64_t *ts, *ts2;              /* bucket starts; a later column's, to check */
    double  *buf[PWC_NCOLS];        /* column k, when decoded */
    double  *v[PWC_NCOLS];          /* column k: buf[k], or zero if not asked for */
    double  *zero;                  /* cap zeros: the fields not asked for */
    double  *spare;                 /* a column decoded for its starts alone */
};

static void
pwc_cols_free(pwc_cols *c)
{
    free(c->ts);
    free(c->ts2);
    free(c->zero);
    free(c->spare);
    for (int k = 0; k < PWC_NCOLS; k++)
        free(c->buf[k]);
    memset(c, 0, sizeof *c);
}

static int
pwc_cols_grow(pwc_cols *c, size_t n)
{
    size_t cap = c->cap ? c->cap : 512;

    if (n <= c->cap)
        return 0;
    while (cap < n)
        cap *= 2;
    pwc_cols_free(c);
    c->ts = malloc(cap * sizeof *c->ts);
    c->ts2 = malloc(cap * sizeof *c->ts2);
    c->zero = calloc(cap, sizeof *c->zero);
    c->spare = malloc(cap * sizeof *c->spare);
    if (c->ts == NULL || c->ts2 == NULL || c->zero == NULL || c->spare == NULL)
        goto nomem;
    for (int k = 0; k < PWC_NCOLS; k++)
        if ((c->buf[k] = malloc(cap * sizeof *c->buf[k])) == NULL)
            goto nomem;
    c->cap = cap;
    return 0;
nomem:
    pwc_cols_free(c);
    return ENOMEM;
}

/*
 * Decodes the columns in cols (bit k: column k, as PW_ROLLUP_*) of block v
 * into c: c->ts the bucket starts, c->v[k] the column or zeros, c->n the
 * buckets. The others are skipped by their length alone, undecoded: that
 * is the point of storing columns apart. With cols 0 the starts come from
 * the count column, the cheapest (nearly constant).
 */
static int
pwc_cols_decode(const MDB_val *v, unsigned cols, pwc_cols *c)
{
    const unsigned char *p = v->mv_data, *end = p + v->mv_size;
    unsigned             want = cols != 0 ? cols : PW_ROLLUP_COUNT;
    bool                 first = true;
    int                  rc;

    c->n = 0;
    if (v->mv_size < 2 || p[0] != PWC_BLOCK_VERSION || p[1] != PWC_NCOLS)
        return MDB_CORRUPTED;
    p += 2;
    for (int col = 0; col < PWC_NCOLS; col++) {
        uint32_t len, cnt;
        size_t   got;
        double  *dst;

        if (end - p < 4)
            return MDB_CORRUPTED;
        len = pw_get_be32(p);
        p += 4;
        if ((size_t) (end - p) < len)
            return MDB_CORRUPTED;
        if (!(want & (1u << col))) {
            p += len;
            continue;
        }
        cnt = pw_chunk_count(p, len);
        if (first && (rc = pwc_cols_grow(c, cnt)) != 0)
            return rc;
        if (!first && cnt != c->n)
            return MDB_CORRUPTED;
        dst = cols & (1u << col) ? c->buf[col] : c->spare;
        if (pw_chunk_decode(p, len, first ? c->ts : c->ts2, dst, c->cap, &got) != PW_OK || got != cnt)
            return MDB_CORRUPTED;
        /* every column carries the same starts */
        if (!first && cnt > 0 && memcmp(c->ts, c->ts2, cnt * sizeof *c->ts) != 0)
            return MDB_CORRUPTED;
        c->n = cnt;
        first = false;
        p += len;
    }
    for (int col = 0; col < PWC_NCOLS; col++)
        c->v[col] = cols & (1u << col) ? c->buf[col] : c->zero;
    return 0;
}

/* Bucket i of decoded columns c. */
static void
pwc_cols_bucket(const pwc_cols *c, size_t i, pw_rollup *r)
{
    r->start = c->ts[i];
    r->min = c->v[0][i];
    r->max = c->v[1][i];
    r->sum = c->v[2][i];
    r->last = c->v[3][i];
    r->last_ts = (int64_t) c->v[4][i];
    r->count = (uint64_t) c->v[5][i];
}

/* Every bucket of block v into *out (malloc'd, the caller's; NULL when *n is 0). */
static int
pwc_block_decode(const MDB_val *v, pw_rollup **out, size_t *n)
{
    pwc_cols c = { 0 };
    int      rc = pwc_cols_decode(v, PW_ROLLUP_ALL, &c);

    *out = NULL;
    *n = 0;
    if (rc == 0 && c.n > 0 && (*out = malloc(c.n * sizeof **out)) == NULL)
        rc = ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < c.n; i++)
            pwc_cols_bucket(&c, i, &(*out)[i]);
        *n = c.n;
    }
    pwc_cols_free(&c);
    return rc;
}

static int
pwc_block_put(pwc *p, MDB_txn *txn, const unsigned char key[17], const pw_rollup *r, size_t n)
{
    pw_chunk       cols[PWC_NCOLS];
    int64_t       *ts = malloc((n ? n : 1) * sizeof *ts);
    double        *val = malloc((n ? n : 1) * sizeof *val);
    size_t         total = 2;
    unsigned char *buf = NULL, *w;
    MDB_val        k = { 17, (void *) key }, v;
    int            rc = 0, made = 0;

    if (ts == NULL || val == NULL) {
        rc = ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        ts[i] = r[i].start;
    for (; made < PWC_NCOLS; made++) {
        for (size_t i = 0; i < n; i++) {
            switch (made) {
            case 0: val[i] = r[i].min; break;
            case 1: val[i] = r[i].max; break;
            case 2: val[i] = r[i].sum; break;
            case 3: val[i] = r[i].last; break;
            case 4: val[i] = (double) r[i].last_ts; break;
            default: val[i] = (double) r[i].count; break;
            }
        }
        if ((rc = pwc_encode_v(&cols[made], PWC_ROLLUP_CHUNK_VERSION, ts, val, n, 1)) != 0)
            goto out;
        total += 4 + cols[made].len;
    }
    if ((buf = malloc(total)) == NULL) {
        rc = ENOMEM;
        goto out;
    }
    w = buf;
    *w++ = PWC_BLOCK_VERSION;
    *w++ = PWC_NCOLS;
    for (int c = 0; c < PWC_NCOLS; c++) {
        pw_put_be32(w, (uint32_t) cols[c].len);
        memcpy(w + 4, cols[c].data, cols[c].len);
        w += 4 + cols[c].len;
    }
    v.mv_size = total;
    v.mv_data = buf;
    rc = pw_lmdb_put_sorted(txn, p->rollups, &k, &v);
out:
    while (made-- > 0)
        pw_chunk_free(&cols[made]);
    free(buf);
    free(ts);
    free(val);
    return rc;
}

/* Replaces or adds buckets nb[0..nn) (sorted, same block) in their block. */
static int
pwc_block_merge(pwc *p, MDB_txn *txn, uint64_t id, pw_res res, const pw_rollup *nb, size_t nn)
{
    unsigned char key[17];
    MDB_val       k = { 17, key }, v;
    pw_rollup    *old = NULL, *all = NULL;
    size_t        no = 0, na = 0, i = 0, j = 0;
    int           rc;

    pwc_key_block(key, id, res, pw_time_floor(nb[0].start, pwc_block[res]));
    rc = mdb_get(txn, p->rollups, &k, &v);
    if (rc == 0)
        rc = pwc_block_decode(&v, &old, &no);
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc != 0)
        return rc;
    if ((all = malloc((no + nn) * sizeof *all)) == NULL) {
        free(old);
        return ENOMEM;
    }
    while (i < no || j < nn) {
        if (j == nn || (i < no && old[i].start < nb[j].start))
            all[na++] = old[i++];
        else {
            if (i < no && old[i].start == nb[j].start)
                i++;                        /* recomputed: the new bucket wins */
            all[na++] = nb[j++];
        }
    }
    rc = pwc_block_put(p, txn, key, all, na);
    free(old);
    free(all);
    return rc;
}

/* ---- rollups (query) ----------------------------------------------------------- */

static int
pwc_get_i64(MDB_txn *txn, MDB_dbi dbi, const unsigned char *key, size_t klen, int64_t *out)
{
    MDB_val k = { klen, (void *) key }, v;
    int     rc = mdb_get(txn, dbi, &k, &v);

    if (rc == 0 && v.mv_size >= 8)
        *out = (int64_t) pw_get_be64(v.mv_data);
    return rc;
}

/* The run of decoded columns c in [i0, i1), the columns outside cols NULL. */
static pw_rollup_run
pwc_cols_run(const pwc_cols *c, unsigned cols, size_t i0, size_t i1)
{
    const double *v[PWC_NCOLS];

    for (int k = 0; k < PWC_NCOLS; k++)
        v[k] = cols & (1u << k) ? c->buf[k] + i0 : NULL;
    return (pw_rollup_run) { i1 - i0, c->ts + i0, v[0], v[1], v[2], v[3], v[4], v[5] };
}

/*
 * The buckets of [from, to] in runs: each stored block's buckets below the
 * mark straight from its decoded columns, then the rest folded from raw
 * points, gathered into runs.
 */
static int
pwc_rollup_runs(void *state, MDB_txn *txn, uint64_t id, pw_res res, int64_t from, int64_t to,
                unsigned cols, pw_store_rollup_run_cb cb, void *ctx)
{
    pwc            *p = state;
    unsigned char   mk[9], bk[17];
    int64_t         mark = INT64_MIN, w = pw_res_ms(res);
    MDB_cursor     *cur;
    MDB_val         k = { 17, bk }, v;
    pwc_fold        f;
    pwc_cols        c = { 0 };
    pw_rollup_batch *b;
    int             rc, stop = 0;

    if (res <= PW_RES_RAW || res >= PW_RES_COUNT_ || from > to)
        return res <= PW_RES_RAW || res >= PW_RES_COUNT_ ? EINVAL : 0;
    cols &= PW_ROLLUP_ALL;
    from = pw_time_floor(from, w);
    pwc_key_res(mk, id, res);
    rc = pwc_get_i64(txn, p->mark, mk, 9, &mark);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    /* Stored buckets below the mark: the blocks of [from, to] in one cursor pass. */
    if (mark > from) {
        if ((rc = mdb_cursor_open(txn, p->rollups, &cur)) != 0)
            return rc;
        pwc_key_block(bk, id, res, pw_time_floor(from, pwc_block[res]));
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && !stop;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            size_t i0 = 0, i1;

            if (k.mv_size != 17 || memcmp(k.mv_data, mk, 9) != 0)
                break;
            if (pw_get_ts((unsigned char *) k.mv_data + 9) > to)
                break;
            if ((rc = pwc_cols_decode(&v, cols, &c)) != 0)
                break;
            /* starts ascend in a block: [i0, i1) is what lies in [from, min(to, mark - 1)];
             * most blocks lie inside it whole */
            if (c.n > 0 && c.ts[0] < from)
                while (i0 < c.n && c.ts[i0] < from)
                    i0++;
            if (c.n > 0 && c.ts[c.n - 1] < mark && c.ts[c.n - 1] <= to)
                i1 = c.n;
            else
                for (i1 = i0; i1 < c.n && c.ts[i1] < mark && c.ts[i1] <= to; i1++)
                    ;
            if (i1 > i0) {
                pw_rollup_run r = pwc_cols_run(&c, cols, i0, i1);

                stop = cb(ctx, &r) != 0;
            }
        }
        mdb_cursor_close(cur);
        pwc_cols_free(&c);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
        if (stop)
            return 0;
        from = mark;
    }
    /* The rest from raw points (raw points give every field; the runs carry cols'). */
    if ((rc = pwc_fold_range(p, txn, id, res, from, to + w, &f)) == 0 && f.n > 0) {
        if ((b = malloc(sizeof *b)) == NULL)
            rc = ENOMEM;
        else {
            pw_rollup_batch_init(b, cols, cb, ctx);
            for (size_t i = 0; i < f.n && !stop; i++)
                if (f.out[i].start <= to)
                    stop = pw_rollup_batch_add(b, &f.out[i]);
            pw_rollup_batch_flush(b);
            free(b);
        }
    }
    free(f.out);
    return rc;
}

/* Per bucket, for pw_store_rollups: the runs bucket by bucket. */
typedef struct pwc_each pwc_each;
struct pwc_each {
    pw_store_rollup_cb cb;
    void              *ctx;
};

static int
pwc_each_run(void *ctx, const pw_rollup_run *r)
{
    pwc_each *e = ctx;
    pw_rollup b;

    for (size_t i = 0; i < r->n; i++) {
        pw_rollup_run_bucket(r, i, &b);
        if (e->cb(e->ctx, &b) != 0)
            return 1;
    }
    return 0;
}

static int
pwc_rollups(void *state, MDB_txn *txn, uint64_t id, pw_res res, int64_t from, int64_t to,
            unsigned cols, pw_store_rollup_cb cb, void *ctx)
{
    pwc_each e = { cb, ctx };

    return pwc_rollup_runs(state, txn, id, res, from, to, cols, pwc_each_run, &e);
}

/* ---- maintenance --------------------------------------------------------------- */

/*
 * End of the time whose raw points are final: where the open chunk starts,
 * or, with no open chunk (the last one was just sealed, or the series went
 * quiet), just after the last sealed point - a later point can only come
 * after it (a late one is merged and marks its range dirty again).
 */
static int
pwc_sealed_until(pwc *p, MDB_txn *txn, uint64_t id, int64_t *until)
{
    MDB_val v;
    int64_t last;
    pwh     h;
    int     rc;

    *until = INT64_MIN;
    pwh_begin(&h, &p->heads, txn, false);
    rc = pwh_get(&h, id, &v);
    if (rc == 0)
        *until = pw_chunk_first_ts(v.mv_data, v.mv_size);
    if ((rc = pwh_end(&h, rc)) != MDB_NOTFOUND)
        return rc;
    if ((rc = pwc_sealed_last(p, txn, id, &last)) != 0)
        return rc;
    *until = last == INT64_MIN ? INT64_MIN : last + 1;
    return 0;
}

/*
 * Rolls up one to-do range: every bucket overlapping [lo, hi] that has ended
 * (see pwc_sealed_until) is recomputed from raw points and stored;
 * what has not ended goes to the waiting list. Returns the work units spent.
 */
static int
pwc_rollup_range(pwc *p, MDB_txn *txn, uint64_t id, pw_res res, int64_t lo, int64_t hi,
                 unsigned *spent)
{
    unsigned char key[9];
    MDB_val       k = { 9, key };
    int64_t       w = pw_res_ms(res), until, from = pw_bucket_start(lo, w), to, mark = INT64_MIN;
    pwc_fold      f;
    int           rc;

    pwc_key_res(key, id, res);
    if ((rc = mdb_del(txn, p->todo, &k, NULL)) != 0 && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = pwc_sealed_until(p, txn, id, &until)) != 0)
        return rc;
    /* [from, to) are bucket starts; a bucket (s, s + w] has ended once s + w < until */
    to = pw_bucket_start(hi, w) + w;               /* just after the bucket holding hi */
    if (to > pw_bucket_start(until, w))
        to = pw_bucket_start(until, w);            /* only buckets that have ended */
    if (to > from) {
        if ((rc = pwc_fold_range(p, txn, id, res, from, to, &f)) != 0) {
            free(f.out);
            return rc;
        }
        /* Store block by block. */
        for (size_t i = 0; i < f.n && rc == 0;) {
            size_t j = i;
            int64_t blk = pw_time_floor(f.out[i].start, pwc_block[res]);
            while (j < f.n && pw_time_floor(f.out[j].start, pwc_block[res]) == blk)
                j++;
            rc = pwc_block_merge(p, txn, id, res, f.out + i, j - i);
            (*spent)++;
            i = j;
        }
        free(f.out);
        if (rc != 0)
            return rc;
        /* Advance the mark over what is now complete and contiguous. */
        rc = pwc_get_i64(txn, p->mark, key, 9, &mark);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
        if (rc == MDB_NOTFOUND || to > mark) {
            unsigned char mv[8];
            MDB_val       v = { 8, mv };
            pw_put_be64(mv, (uint64_t) to);
            if ((rc = pw_lmdb_put_sorted(txn, p->mark, &k, &v)) != 0)
                return rc;
        }
    }
    /* points after to belong to buckets not rolled up yet */
    if (hi > to)
        return pwc_range_merge(txn, p->wait, key, to >= lo ? to + 1 : lo, hi);
    return 0;
}

/* Seals open chunks that stopped growing, a few per call (round robin). */
static int
pwc_seal_stale(pwc *p, MDB_txn *txn, int64_t now, unsigned budget, unsigned *spent, bool *more)
{
    MDB_val  v;
    pwh      h;
    uint64_t id;
    unsigned looked = 0;
    int      rc = 0;

    pthread_mutex_lock(&p->mu);
    id = p->scan_head;
    pthread_mutex_unlock(&p->mu);
    pwh_begin(&h, &p->heads, txn, true);
    while (*spent < budget && looked < 4096 && (rc = pwh_next(&h, id, &id, &v)) == 0) {
        looked++;
        if (pw_chunk_last_ts(v.mv_data, v.mv_size) < now - PWC_STALE_MS) {
            /* Copy out: the seal deletes the bytes v points at. */
            void  *copy = malloc(v.mv_size);
            size_t len = v.mv_size;
            if (copy == NULL) {
                rc = ENOMEM;
                break;
            }
            memcpy(copy, v.mv_data, len);
            rc = pwc_seal_head(p, &h, txn, id, copy, len);
            free(copy);
            (*spent)++;
            if (rc != 0)
                break;
        }
        id++;
    }
    pthread_mutex_lock(&p->mu);
    if (rc == MDB_NOTFOUND) {
        p->scan_head = 0;               /* wrapped: start over next time */
    } else if (rc == 0) {
        p->scan_head = id;
        *more = true;
    }
    pthread_mutex_unlock(&p->mu);
    return pwh_end(&h, rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * Deletes rollup blocks past their resolution's retention, resuming where the
 * last call stopped. Blocks of one (series, resolution) are in time order, so
 * the first block that stays ends the look at that pair.
 */
static int
pwc_expire_rollups(pwc *p, MDB_txn *txn, int64_t now, const int64_t ret[PW_RES_COUNT_],
                   unsigned budget, unsigned *spent, bool *more)
{
    MDB_cursor   *cur;
    unsigned char bk[17];
    MDB_val       k = { 17, bk }, v;
    uint64_t      id = 0;
    int           rc;

    pthread_mutex_lock(&p->mu);
    pwc_key_block(bk, p->scan_rollup, PW_RES_RAW, INT64_MIN);
    pthread_mutex_unlock(&p->mu);
    if ((rc = mdb_cursor_open(txn, p->rollups, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && *spent < budget) {
        pw_res  r;
        int64_t blk;

        if (k.mv_size != 17) {
            rc = MDB_CORRUPTED;
            break;
        }
        id = pw_get_be64(k.mv_data);
        r = (pw_res) ((unsigned char *) k.mv_data)[8];
        blk = pw_get_ts((unsigned char *) k.mv_data + 9);
        (*spent)++;
        if (r > PW_RES_RAW && r < PW_RES_COUNT_ && ret[r] > 0
            && blk + pwc_block[r] <= now - ret[r]) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
            if (rc == EINVAL)
                rc = MDB_NOTFOUND;
            continue;
        }
        pwc_key_block(bk, id, (pw_res) (r + 1), INT64_MIN);
        k.mv_size = 17;
        k.mv_data = bk;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    pthread_mutex_lock(&p->mu);
    p->scan_rollup = rc == 0 ? id : 0;
    pthread_mutex_unlock(&p->mu);
    if (rc == 0)
        *more = true;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Drops the chunks of the pack at cur (record v of id) that end before cut
 * and stores the rest under the first time they hold. Called only when the
 * first chunk goes and the last stays.
 */
static int
pwc_trim_pack(pwc *p, MDB_txn *txn, MDB_cursor *cur, uint64_t id, const MDB_val *v, int64_t cut)
{
    unsigned char *buf = NULL, ck[16];
    size_t         len = 0, cap = 0;
    int64_t        first = INT64_MIN;
    MDB_val        k = { 16, ck }, nv;
    pwc_sub        sub;
    int            rc = 0, more;

    pwc_sub_init(&sub, v->mv_data, v->mv_size);
    while ((more = pwc_sub_next(&sub)) == 1 && rc == 0) {
        if (pw_chunk_last_ts(sub.data, sub.len) < cut)
            continue;
        if (len == 0)
            first = pw_chunk_first_ts(sub.data, sub.len);
        rc = pwc_pack_add(&buf, &len, &cap, sub.data, sub.len);
    }
    if (rc == 0 && (more != 0 || len == 0))
        rc = MDB_CORRUPTED;
    /* the record's bytes live in the map: copied out above before the delete */
    if (rc == 0)
        rc = mdb_cursor_del(cur, 0);
    if (rc == 0) {
        pwc_key_ts(ck, id, first);
        nv.mv_size = len;
        nv.mv_data = buf;
        rc = pw_lmdb_put_sorted(txn, p->chunks, &k, &nv);
    }
    free(buf);
    return rc;
}

/*
 * Deletes sealed chunks past the raw retention whose buckets are rolled up
 * at every resolution (whole records, or the older chunks of a pack), and
 * rollup blocks past their own retention.
 */
static int
pwc_expire(pwc *p, MDB_txn *txn, int64_t now, const int64_t ret[PW_RES_COUNT_], unsigned budget,
           unsigned *spent, bool *more)
{
    MDB_cursor   *cur;
    unsigned char ck[17];
    MDB_val       k = { 16, ck }, v;
    uint64_t      start;
    int           rc;

    pthread_mutex_lock(&p->mu);
    start = p->scan_expire;
    pthread_mutex_unlock(&p->mu);
    /* raw chunks */
    if (ret[PW_RES_RAW] > 0) {
        if ((rc = mdb_cursor_open(txn, p->chunks, &cur)) != 0)
            return rc;
        pwc_key_ts(ck, start, INT64_MIN);
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && *spent < budget;) {
            uint64_t id = pw_get_be64(k.mv_data);
            int64_t  last = pwc_rec_last_ts(v.mv_data, v.mv_size), rolled = INT64_MAX;
            int64_t  cut = now - ret[PW_RES_RAW];
            pwc_sub  sub;
            (*spent)++;
            pwc_sub_init(&sub, v.mv_data, v.mv_size);
            /* the record's first chunk (all of it when plain) is past the cut-off */
            if (pwc_sub_next(&sub) == 1 && pw_chunk_last_ts(sub.data, sub.len) < cut) {
                for (int r = PW_RES_5M; r < PW_RES_COUNT_; r++) {
                    unsigned char mk[9];
                    int64_t       m = INT64_MIN;
                    pwc_key_res(mk, id, (pw_res) r);
                    if (pwc_get_i64(txn, p->mark, mk, 9, &m) != 0)
                        m = INT64_MIN;
                    rolled = m < rolled ? m : rolled;
                }
                if (cut > rolled)
                    cut = rolled;       /* raw data never goes before its rollups exist */
                if (last < cut) {
                    if ((rc = mdb_cursor_del(cur, 0)) != 0)
                        break;
                    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
                    if (rc == EINVAL)       /* deleted the last record */
                        rc = MDB_NOTFOUND;
                    continue;
                }
                if (pw_chunk_last_ts(sub.data, sub.len) < cut
                    && (rc = pwc_trim_pack(p, txn, cur, id, &v, cut)) != 0)
                    break;
            }
            /* Chunks of a series are in time order: skip to the next series. */
            pwc_key_ts(ck, id + 1, INT64_MIN);
            k.mv_size = 16;
            k.mv_data = ck;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            start = id + 1;
        }
        mdb_cursor_close(cur);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
        if (rc == 0)
            *more = true;
    }
    pthread_mutex_lock(&p->mu);
    p->scan_expire = *more ? start : 0;
    pthread_mutex_unlock(&p->mu);
    if (*spent >= budget)
        return 0;
    return pwc_expire_rollups(p, txn, now, ret, budget, spent, more);
}

static int
pwc_maintain(void *state, MDB_txn *txn, int64_t now, const int64_t retention[PW_RES_COUNT_],
             unsigned budget, bool *more)
{
    pwc          *p = state;
    MDB_cursor   *cur;
    MDB_val       k, v;
    unsigned      spent = 0;
    int           rc;

    *more = false;
    /* 1. roll up what changed */
    while (spent < budget) {
        uint64_t id;
        pw_res   res;
        int64_t  lo, hi;

        if ((rc = mdb_cursor_open(txn, p->todo, &cur)) != 0)
            return rc;
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc == 0 && (k.mv_size != 9 || v.mv_size != 16))
            rc = MDB_CORRUPTED;
        if (rc == 0) {
            id = pw_get_be64(k.mv_data);
            res = (pw_res) ((unsigned char *) k.mv_data)[8];
            lo = (int64_t) pw_get_be64(v.mv_data);
            hi = (int64_t) pw_get_be64((unsigned char *) v.mv_data + 8);
        }
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND)
            break;
        if (rc != 0)
            return rc;
        if (res <= PW_RES_RAW || res >= PW_RES_COUNT_)
            return MDB_CORRUPTED;
        if ((rc = pwc_rollup_range(p, txn, id, res, lo, hi, &spent)) != 0)
            return rc;
        spent++;
    }
    if (spent >= budget) {
        *more = true;
        return 0;
    }
    /* 2 and 3 walk every series: at most once per PWC_SCAN_EVERY. */
    pthread_mutex_lock(&p->mu);
    if (now < p->next_scan) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    pthread_mutex_unlock(&p->mu);
    /* 2. seal open chunks of series that went quiet; their rollups are new work */
    {
        unsigned before = spent;
        if ((rc = pwc_seal_stale(p, txn, now, budget, &spent, more)) != 0)
            return rc;
        if (spent > before || spent >= budget) {
            *more = true;
            return 0;
        }
    }
    /* 3. expire */
    if ((rc = pwc_expire(p, txn, now, retention, budget, &spent, more)) != 0)
        return rc;
    if (!*more) {
        pthread_mutex_lock(&p->mu);
        p->next_scan = now + PWC_SCAN_EVERY;
        pthread_mutex_unlock(&p->mu);
    }
    return 0;
}

const pw_points_ops pw_points_chunk = {
    .name     = "chunk",
    .open     = pwc_open,
    .close    = pwc_close,
    .append   = pwc_append,
    .append_sorted = pwc_append_sorted,
    .range    = pwc_range,
    .rollups  = pwc_rollups,
    .rollup_runs = pwc_rollup_runs,
    .maintain = pwc_maintain,
};
