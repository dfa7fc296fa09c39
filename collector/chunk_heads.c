/*
 * chunk_heads.c - the table of open chunks, per series or in groups; see
 * chunk_heads.h.
 */
#include "chunk_heads.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "grow.h"
#include "lmdb_env.h"

/* A group's buffer is compacted when its dead bytes pass both of these. */
#define PWH_COMPACT_MIN (64 * 1024)

int
pwh_table_open(MDB_txn *txn, unsigned create, bool grouped, pwh_table *t)
{
    MDB_stat st;
    int      rc;

    memset(t, 0, sizeof *t);
    if ((rc = mdb_dbi_open(txn, "chunk_head", create, &t->dbi)) != 0)
        return rc;
    if ((rc = mdb_env_stat(mdb_txn_env(txn), &st)) != 0)
        return rc;
    t->grouped = grouped;
    /*
     * LMDB's nodemax: half a page's room, even, less a slot; a leaf node
     * is an 8-byte header, the key and the value. Larger values go to
     * overflow pages.
     */
    t->inline_max = (((st.ms_psize - 16) / 2) & ~(size_t) 1) - 2 - 8 - 8;
    return 0;
}

void
pwh_begin(pwh *h, const pwh_table *t, MDB_txn *txn, bool write)
{
    h->t = t;
    h->txn = txn;
    h->write = write;
    h->cur = NULL;
    h->at = 0;
    h->loaded = h->dirty = h->existed = false;
    h->gid = 0;
    h->oldlen = 0;
    h->buf = h->out = NULL;
    h->used = h->live = h->cap = h->outcap = 0;
}

static int
pwh_cursor(pwh *h)
{
    return h->cur != NULL ? 0 : mdb_cursor_open(h->txn, h->t->dbi, &h->cur);
}

/* ---- group records ------------------------------------------------------------ */

/* Walks the entries of a group record. */
typedef struct pwh_it pwh_it;
struct pwh_it {
    const unsigned char *b;
    size_t               n, pos;
    int                  last;       /* slot of the previous entry, -1 before the first */
};

static int
pwh_it_init(pwh_it *it, const void *b, size_t n)
{
    it->b = b;
    it->n = n;
    it->pos = 1;
    it->last = -1;
    return n >= 1 && it->b[0] == PWH_VERSION ? 0 : MDB_CORRUPTED;
}

/* 1 with the next entry's slot and bytes, 0 at the end, -1 on a malformed record. */
static int
pwh_it_next(pwh_it *it, unsigned *slot, size_t *off, size_t *len)
{
    uint64_t l;

    if (it->pos == it->n)
        return 0;
    *slot = it->b[it->pos++];
    /* slots strictly increasing and in range, lengths >= 1 and inside the record */
    if (*slot >= PWH_GROUP || (int) *slot <= it->last
        || !pw_uvarint_get(it->b, it->n, &it->pos, &l) || l == 0 || l > it->n - it->pos)
        return -1;
    it->last = (int) *slot;
    *off = it->pos;
    *len = (size_t) l;
    it->pos += (size_t) l;
    return 1;
}

static uint64_t
pwh_gid(uint64_t id)
{
    return (id - 1) / PWH_GROUP;
}

static unsigned
pwh_slot(uint64_t id)
{
    return (unsigned) ((id - 1) % PWH_GROUP);
}

/* Writes the group in memory to the table (or deletes its record when it is empty). */
static int
pwh_flush(pwh *h)
{
    MDB_val       k = { 8, h->key }, v;
    size_t        n = 1;
    unsigned char *o;
    int           rc;

    if (!h->dirty)
        return 0;
    pw_put_be64(h->key, h->gid);
    for (unsigned s = 0; s < PWH_GROUP; s++)
        if (h->len[s] != 0)
            n += 1 + pw_uvarint_len(h->len[s]) + h->len[s];
    if (n == 1) {
        if (h->existed && (rc = mdb_del(h->txn, h->t->dbi, &k, NULL)) != 0)
            return rc;
        h->existed = false;
        h->dirty = false;
        return 0;
    }
    if (!pw_grow((void **) &h->out, &h->outcap, n, 1, 4096))
        return ENOMEM;
    o = h->out;
    *o++ = PWH_VERSION;
    for (unsigned s = 0; s < PWH_GROUP; s++) {
        if (h->len[s] == 0)
            continue;
        *o++ = (unsigned char) s;
        o += pw_uvarint_put(o, h->len[s]);
        memcpy(o, h->buf + h->off[s], h->len[s]);
        o += h->len[s];
    }
    v.mv_size = n;
    v.mv_data = h->out;
    if (h->existed && (h->oldlen > h->t->inline_max || n <= h->t->inline_max)) {
        rc = mdb_put(h->txn, h->t->dbi, &k, &v, 0);
    } else {
        /*
         * New, or moving out of its leaf into overflow pages: delete and
         * add, since a replace in place leaves the leaf's hole unmerged
         * (only a delete makes LMDB merge a leaf under a quarter full), and
         * add in key order where it is the last group.
         */
        if (h->existed && (rc = mdb_del(h->txn, h->t->dbi, &k, NULL)) != 0)
            return rc;
        rc = pw_lmdb_put_sorted(h->txn, h->t->dbi, &k, &v);
    }
    if (rc != 0)
        return rc;
    h->existed = true;
    h->oldlen = n;
    h->dirty = false;
    return 0;
}

/* Makes gid the group in memory, writing back the one there before. */
static int
pwh_load(pwh *h, uint64_t gid)
{
    MDB_val  k = { 8, h->key }, v;
    pwh_it   it;
    unsigned s;
    size_t   off, len;
    int      rc, r;

    if (h->loaded && h->gid == gid)
        return 0;
    if (h->loaded && (rc = pwh_flush(h)) != 0)
        return rc;
    h->loaded = false;
    memset(h->len, 0, sizeof h->len);
    h->used = h->live = 0;
    pw_put_be64(h->key, gid);
    rc = mdb_get(h->txn, h->t->dbi, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    h->existed = rc == 0;
    h->oldlen = rc == 0 ? v.mv_size : 0;
    if (rc == 0) {
        /* A copy: LMDB's bytes may move with the next write. */
        if (v.mv_size == 0)
            return MDB_CORRUPTED;
        if (!pw_grow((void **) &h->buf, &h->cap, v.mv_size, 1, 4096))
            return ENOMEM;
        memcpy(h->buf, v.mv_data, v.mv_size);
        h->used = v.mv_size;
        if ((rc = pwh_it_init(&it, h->buf, h->used)) != 0)
            return rc;
        while ((r = pwh_it_next(&it, &s, &off, &len)) == 1) {
            h->off[s] = (uint32_t) off;
            h->len[s] = (uint32_t) len;
            h->live += len;
        }
        if (r != 0)
            return MDB_CORRUPTED;
    }
    h->gid = gid;
    h->loaded = true;
    h->dirty = false;
    return 0;
}

/* Drops the bytes of replaced chunks from the group in memory. */
static int
pwh_compact(pwh *h)
{
    unsigned char *nb = malloc(h->live ? h->live : 1);
    size_t         n = 0;

    if (nb == NULL)
        return ENOMEM;
    for (unsigned s = 0; s < PWH_GROUP; s++) {
        if (h->len[s] == 0)
            continue;
        memcpy(nb + n, h->buf + h->off[s], h->len[s]);
        h->off[s] = (uint32_t) n;
        n += h->len[s];
    }
    free(h->buf);
    h->buf = nb;
    h->cap = h->live ? h->live : 1;
    h->used = n;
    return 0;
}

/* id's chunk in a group record b[0..n): 0, MDB_NOTFOUND or MDB_CORRUPTED. */
static int
pwh_find(const unsigned char *b, size_t n, unsigned slot, MDB_val *v)
{
    pwh_it   it;
    unsigned s;
    size_t   off, len;
    int      r;

    if (pwh_it_init(&it, b, n) != 0)
        return MDB_CORRUPTED;
    while ((r = pwh_it_next(&it, &s, &off, &len)) == 1) {
        if (s < slot)
            continue;
        if (s > slot)
            return MDB_NOTFOUND;
        v->mv_data = (void *) (b + off);
        v->mv_size = len;
        return 0;
    }
    return r == 0 ? MDB_NOTFOUND : MDB_CORRUPTED;
}

/* ---- the view ----------------------------------------------------------------- */

int
pwh_get(pwh *h, uint64_t id, MDB_val *v)
{
    MDB_val k;
    int     rc;

    if (id == 0)
        return MDB_NOTFOUND;
    if (!h->t->grouped) {
        if ((rc = pwh_cursor(h)) != 0)
            return rc;
        pw_put_be64(h->key, id);
        /* An agent's series have consecutive ids: the next record is likely the one. */
        if (h->at != 0 && h->at < id && mdb_cursor_get(h->cur, &k, v, MDB_NEXT) == 0
            && k.mv_size == 8 && memcmp(k.mv_data, h->key, 8) == 0) {
            h->at = id;
            return 0;
        }
        k.mv_size = 8;
        k.mv_data = h->key;
        rc = mdb_cursor_get(h->cur, &k, v, MDB_SET_KEY);
        h->at = rc == 0 ? id : 0;
        return rc;
    }
    if (h->write || (h->loaded && h->gid == pwh_gid(id))) {
        unsigned s = pwh_slot(id);

        if ((rc = pwh_load(h, pwh_gid(id))) != 0)
            return rc;
        if (h->len[s] == 0)
            return MDB_NOTFOUND;
        v->mv_data = h->buf + h->off[s];
        v->mv_size = h->len[s];
        return 0;
    }
    pw_put_be64(h->key, pwh_gid(id));
    k.mv_size = 8;
    k.mv_data = h->key;
    if ((rc = mdb_get(h->txn, h->t->dbi, &k, v)) != 0)
        return rc;
    return pwh_find(v->mv_data, v->mv_size, pwh_slot(id), v);
}

int
pwh_next(pwh *h, uint64_t from, uint64_t *id, MDB_val *v)
{
    MDB_val k;
    int     rc;

    if (from == 0)
        from = 1;
    if ((rc = pwh_cursor(h)) != 0)
        return rc;
    if (!h->t->grouped) {
        pw_put_be64(h->key, from);
        k.mv_size = 8;
        k.mv_data = h->key;
        rc = mdb_cursor_get(h->cur, &k, v, MDB_SET_RANGE);
        h->at = 0;
        if (rc != 0)
            return rc;
        if (k.mv_size != 8)
            return MDB_CORRUPTED;
        *id = h->at = pw_get_be64(k.mv_data);
        return 0;
    }
    /* Read from the table itself, so write back what is edited first. */
    if ((rc = pwh_flush(h)) != 0)
        return rc;
    pw_put_be64(h->key, pwh_gid(from));
    k.mv_size = 8;
    k.mv_data = h->key;
    for (rc = mdb_cursor_get(h->cur, &k, v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(h->cur, &k, v, MDB_NEXT)) {
        uint64_t g;
        unsigned s, first;
        size_t   off, len;
        pwh_it   it;
        int      r;

        if (k.mv_size != 8 || pwh_it_init(&it, v->mv_data, v->mv_size) != 0)
            return MDB_CORRUPTED;
        g = pw_get_be64(k.mv_data);
        first = g == pwh_gid(from) ? pwh_slot(from) : 0;
        while ((r = pwh_it_next(&it, &s, &off, &len)) == 1) {
            if (s < first)
                continue;
            *id = g * PWH_GROUP + s + 1;
            v->mv_data = (unsigned char *) v->mv_data + off;
            v->mv_size = len;
            return 0;
        }
        if (r != 0)
            return MDB_CORRUPTED;
    }
    return rc;
}

int
pwh_put(pwh *h, uint64_t id, const void *data, size_t len)
{
    MDB_val  k, v = { len, (void *) data };
    unsigned s;
    size_t   src = SIZE_MAX;
    int      rc;

    if (!h->write || id == 0 || len == 0 || len > UINT32_MAX)
        return EINVAL;
    if (!h->t->grouped) {
        if ((rc = pwh_cursor(h)) != 0)
            return rc;
        pw_put_be64(h->key, id);
        k.mv_size = 8;
        k.mv_data = h->key;
        /* Our own key bytes: the cursor's point into the page the put rewrites. */
        rc = mdb_cursor_put(h->cur, &k, &v, h->at == id ? MDB_CURRENT : 0);
        h->at = rc == 0 ? id : 0;
        return rc;
    }
    if ((rc = pwh_load(h, pwh_gid(id))) != 0)
        return rc;
    s = pwh_slot(id);
    /* data may be a chunk of this very group (pwh_get's): keep its place across a realloc */
    if (h->buf != NULL && (const unsigned char *) data >= h->buf
        && (const unsigned char *) data < h->buf + h->used)
        src = (size_t) ((const unsigned char *) data - h->buf);
    h->live -= h->len[s];
    h->len[s] = 0;
    if (src == SIZE_MAX && h->used - h->live > h->live && h->used > PWH_COMPACT_MIN
        && (rc = pwh_compact(h)) != 0)
        return rc;
    if (!pw_grow((void **) &h->buf, &h->cap, h->used + len, 1, 4096))
        return ENOMEM;
    memmove(h->buf + h->used, src == SIZE_MAX ? data : h->buf + src, len);
    h->off[s] = (uint32_t) h->used;
    h->len[s] = (uint32_t) len;
    h->used += len;
    h->live += len;
    h->dirty = true;
    return 0;
}

int
pwh_del(pwh *h, uint64_t id)
{
    MDB_val  k, v;
    unsigned s;
    int      rc;

    if (!h->write || id == 0)
        return EINVAL;
    if (!h->t->grouped) {
        if ((rc = pwh_cursor(h)) != 0)
            return rc;
        if (h->at != id) {
            pw_put_be64(h->key, id);
            k.mv_size = 8;
            k.mv_data = h->key;
            if ((rc = mdb_cursor_get(h->cur, &k, &v, MDB_SET_KEY)) != 0)
                return rc;
        }
        h->at = 0;
        return mdb_cursor_del(h->cur, 0);
    }
    if ((rc = pwh_load(h, pwh_gid(id))) != 0)
        return rc;
    s = pwh_slot(id);
    if (h->len[s] == 0)
        return MDB_NOTFOUND;
    h->live -= h->len[s];
    h->len[s] = 0;
    h->dirty = true;
    return 0;
}

int
pwh_end(pwh *h, int rc)
{
    if (rc == 0 && h->loaded)
        rc = pwh_flush(h);
    if (h->cur != NULL)
        mdb_cursor_close(h->cur);
    free(h->buf);
    free(h->out);
    pwh_begin(h, h->t, h->txn, h->write);
    return rc;
}
