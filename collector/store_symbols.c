/*
 * store_symbols.c - formats 4 and 5: the strings series keys are made of, kept once.
 *
 *   symbols      key = symbol id (u32 BE, from 1) -> the string's bytes
 *   symbol_hash  key = FNV-1a-64 of the string (u64 BE), MDB_DUPSORT|MDB_DUPFIXED
 *                values = symbol id (u32 BE; duplicates: colliding strings)
 *
 * The next id follows the last key of `symbols` (no counter in meta).
 *
 * A symbol is a metric name or one label pair as the canonical key spells
 * it (`host="h1"`, escapes kept), so a key is rebuilt by concatenation. Many
 * series share each string (every series of a host its host label, every
 * series of a metric its name), which is what makes `series_id` small.
 *
 * Symbols are never deleted and their ids never change once committed, so
 * every process keeps those it met (s->known.syms, under known_mu) and reads
 * `symbols` at most once per symbol. A write txn keeps all the symbols it
 * created apart (t->cache.syms) until its commit publishes them: the ids of
 * an aborted txn are handed out again.
 */
#include "store_int.h"
#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t
pws_sym_hash(const pw_store *s, const char *str, size_t n)
{
    uint64_t h = pw_fnv1a64(str, n);

    return s->hash_mask ? h & s->hash_mask : h;
}

/* ---- in memory ----------------------------------------------------------- */

static size_t
ssym_idslot(uint32_t id, size_t mask)
{
    return (size_t) ((uint64_t) id * UINT64_C(0x9E3779B97F4A7C15) >> 32) & mask;
}

/* (Re)builds both tables at nslots. */
static int
ssym_rehash(pws_symtab *st, size_t nslots)
{
    uint32_t *bs = calloc(nslots, sizeof *bs), *bi = calloc(nslots, sizeof *bi);
    size_t    mask = nslots - 1;

    if (bs == NULL || bi == NULL) {
        free(bs);
        free(bi);
        return ENOMEM;
    }
    for (size_t e = 0; e < st->n; e++) {
        size_t i;

        for (i = st->v[e].hash & mask; bs[i] != 0; i = (i + 1) & mask)
            ;
        bs[i] = (uint32_t) e + 1;
        for (i = ssym_idslot(st->v[e].id, mask); bi[i] != 0; i = (i + 1) & mask)
            ;
        bi[i] = (uint32_t) e + 1;
    }
    free(st->by_str);
    free(st->by_id);
    st->by_str = bs;
    st->by_id = bi;
    st->nslots = nslots;
    return 0;
}

static const pws_sym *
ssym_by_str(const pws_symtab *st, const char *str, size_t n, uint64_t h)
{
    size_t mask = st->nslots - 1;

    if (st->nslots == 0)
        return NULL;
    for (size_t i = h & mask; st->by_str[i] != 0; i = (i + 1) & mask) {
        const pws_sym *e = &st->v[st->by_str[i] - 1];

        if (e->hash == h && e->len == n && memcmp(st->arena + e->off, str, n) == 0)
            return e;
    }
    return NULL;
}

static const pws_sym *
ssym_by_id(const pws_symtab *st, uint32_t id)
{
    size_t mask = st->nslots - 1;

    if (st->nslots == 0)
        return NULL;
    for (size_t i = ssym_idslot(id, mask); st->by_id[i] != 0; i = (i + 1) & mask)
        if (st->v[st->by_id[i] - 1].id == id)
            return &st->v[st->by_id[i] - 1];
    return NULL;
}

/* Adds (id, str); the caller checked it is not there. 0 or ENOMEM. */
static int
ssym_add(pws_symtab *st, uint32_t id, const char *str, size_t n, uint64_t h)
{
    pws_sym *e;

    if ((st->n + 1) * 4 > st->nslots * 3) {
        int rc = ssym_rehash(st, st->nslots ? st->nslots * 2 : 256);
        if (rc != 0)
            return rc;
    }
    if (st->n == st->cap) {
        size_t   ncap = st->cap ? st->cap * 2 : 64;
        pws_sym *nv = realloc(st->v, ncap * sizeof *nv);
        if (nv == NULL)
            return ENOMEM;
        st->v = nv;
        st->cap = ncap;
    }
    if (st->size - st->used < n) {
        size_t nsize = st->size ? st->size : 4096;
        char  *na;
        while (nsize - st->used < n)
            nsize *= 2;
        if ((na = realloc(st->arena, nsize)) == NULL)
            return ENOMEM;
        st->arena = na;
        st->size = nsize;
    }
    memcpy(st->arena + st->used, str, n);
    e = &st->v[st->n];
    e->hash = h;
    e->id = id;
    e->len = (uint32_t) n;
    e->off = st->used;
    st->used += n;
    st->n++;

    size_t mask = st->nslots - 1, i;
    for (i = h & mask; st->by_str[i] != 0; i = (i + 1) & mask)
        ;
    st->by_str[i] = (uint32_t) st->n;
    for (i = ssym_idslot(id, mask); st->by_id[i] != 0; i = (i + 1) & mask)
        ;
    st->by_id[i] = (uint32_t) st->n;
    return 0;
}

/* Into the store's committed symbols, unless that table is full (then only later lookups cost). */
static void
ssym_remember(pw_store *s, uint32_t id, const char *str, size_t n, uint64_t h)
{
    pws_symtab *st = &s->known.syms;

    pthread_mutex_lock(&s->known_mu);
    if (st->n < PWS_SYMS_MAX && st->used + n <= PWS_SYMS_BYTES && ssym_by_id(st, id) == NULL)
        (void) ssym_add(st, id, str, n, h);
    pthread_mutex_unlock(&s->known_mu);
}

void
pws_symtab_free(pws_symtab *st)
{
    free(st->v);
    free(st->arena);
    free(st->by_str);
    free(st->by_id);
    memset(st, 0, sizeof *st);
}

void
pws_symtab_publish(pws_symtab *to, pws_symtab *from)
{
    for (size_t e = 0; e < from->n; e++) {
        const pws_sym *y = &from->v[e];

        if (to->n >= PWS_SYMS_MAX || to->used + y->len > PWS_SYMS_BYTES)
            break;
        if (ssym_by_id(to, y->id) == NULL
            && ssym_add(to, y->id, from->arena + y->off, y->len, y->hash) != 0)
            break;
    }
    pws_symtab_free(from);
}

/* ---- in LMDB ------------------------------------------------------------- */

/* The string of symbol id from `symbols`: 0, MDB_CORRUPTED if there is none. */
static int
ssym_read(pw_store_txn *t, uint32_t id, MDB_val *str)
{
    unsigned char k[4];
    MDB_val       key = { sizeof k, k };
    int           rc;

    pw_put_be32(k, id);
    rc = mdb_get(t->txn, t->s->symbols, &key, str);
    /* Every id a series or symbol_hash names is in `symbols`: a miss is damage. */
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

/* Looks str up in symbol_hash: 0 and *id, MDB_NOTFOUND, or an LMDB error. */
static int
ssym_find(pw_store_txn *t, const char *str, size_t n, uint64_t h, uint32_t *id)
{
    unsigned char hk[8];
    MDB_val       key = { sizeof hk, hk }, val, s;
    MDB_cursor   *cur;
    int           rc;

    pw_put_be64(hk, h);
    if ((rc = mdb_cursor_open(t->txn, t->s->symbol_hash, &cur)) != 0)
        return rc;
    /* Every duplicate is a candidate; the string decides. */
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP)) {
        uint32_t cand;

        if (val.mv_size != 4) {
            rc = MDB_CORRUPTED;
            break;
        }
        cand = pw_get_be32(val.mv_data);
        if ((rc = ssym_read(t, cand, &s)) != 0)
            break;
        if (s.mv_size == n && memcmp(s.mv_data, str, n) == 0) {
            *id = cand;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

/* The id after the last symbol (symbols are never deleted): once per txn. */
static int
ssym_next_id(pw_store_txn *t)
{
    MDB_cursor *cur;
    MDB_val     key, val;
    int         rc;

    if ((rc = mdb_cursor_open(t->txn, t->s->symbols, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    if (rc == MDB_NOTFOUND) {
        t->next_sym = 1;
        rc = 0;
    } else if (rc == 0) {
        if (key.mv_size != 4 || pw_get_be32(key.mv_data) == 0)
            rc = MDB_CORRUPTED;
        else
            t->next_sym = pw_get_be32(key.mv_data) + 1;     /* 0 after UINT32_MAX */
    }
    mdb_cursor_close(cur);
    return rc;
}

static int
ssym_create(pw_store_txn *t, const char *str, size_t n, uint64_t h, uint32_t *id)
{
    unsigned char idb[4], hk[8];
    MDB_val       key, val;
    int           rc;

    if (t->next_sym == 0 && (rc = ssym_next_id(t)) != 0)
        return rc;
    if (t->next_sym == 0)
        return MDB_MAP_FULL;            /* 4 billion strings: no id left */
    *id = t->next_sym;
    pw_put_be32(idb, *id);
    key.mv_size = sizeof idb;
    key.mv_data = idb;
    val.mv_size = n;
    val.mv_data = (void *) str;
    /* Ids only grow: an append (LMDB checks it), which keeps the pages full. */
    if ((rc = mdb_put(t->txn, t->s->symbols, &key, &val, MDB_APPEND)) != 0)
        return rc;
    pw_put_be64(hk, h);
    key.mv_size = sizeof hk;
    key.mv_data = hk;
    val.mv_size = sizeof idb;
    val.mv_data = idb;
    if ((rc = mdb_put(t->txn, t->s->symbol_hash, &key, &val, MDB_NODUPDATA)) != 0)
        return rc;
    t->next_sym = *id + 1;
    return ssym_add(&t->cache.syms, *id, str, n, h);
}

int
pws_sym_intern(pw_store_txn *t, const char *str, size_t n, bool create, uint32_t *id,
               bool *created)
{
    pw_store      *s = t->s;
    uint64_t       h = pws_sym_hash(s, str, n);
    const pws_sym *e;
    bool           hit = false;
    int            rc;

    if (created != NULL)
        *created = false;
    if (t->write && (e = ssym_by_str(&t->cache.syms, str, n, h)) != NULL) {
        *id = e->id;
        return 0;
    }
    pthread_mutex_lock(&s->known_mu);
    if ((e = ssym_by_str(&s->known.syms, str, n, h)) != NULL) {
        *id = e->id;
        hit = true;
    }
    pthread_mutex_unlock(&s->known_mu);
    if (hit)
        return 0;
    rc = ssym_find(t, str, n, h, id);
    if (rc == 0) {
        /* Not created by this txn (it keeps all of those): committed. */
        ssym_remember(s, *id, str, n, h);
        return 0;
    }
    if (rc != MDB_NOTFOUND || !create || !t->write)
        return rc;
    if ((rc = ssym_create(t, str, n, h, id)) == 0 && created != NULL)
        *created = true;
    return rc;
}

int
pws_sym_append(pw_store_txn *t, uint32_t id, char *dst, size_t cap, size_t *len)
{
    pw_store      *s = t->s;
    const pws_sym *e;
    MDB_val        str;
    int            rc = -1;

    if (t->write && (e = ssym_by_id(&t->cache.syms, id)) != NULL) {
        if (cap - *len < e->len)
            return MDB_CORRUPTED;
        memcpy(dst + *len, t->cache.syms.arena + e->off, e->len);
        *len += e->len;
        return 0;
    }
    pthread_mutex_lock(&s->known_mu);
    if ((e = ssym_by_id(&s->known.syms, id)) != NULL) {
        if (cap - *len < e->len) {
            rc = MDB_CORRUPTED;
        } else {
            memcpy(dst + *len, s->known.syms.arena + e->off, e->len);
            *len += e->len;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&s->known_mu);
    if (rc >= 0)
        return rc;
    if ((rc = ssym_read(t, id, &str)) != 0)
        return rc;
    if (cap - *len < str.mv_size)
        return MDB_CORRUPTED;
    memcpy(dst + *len, str.mv_data, str.mv_size);
    *len += str.mv_size;
    ssym_remember(s, id, str.mv_data, str.mv_size, pws_sym_hash(s, str.mv_data, str.mv_size));
    return 0;
}
