/*
 * writer_memo.c - per-agent series ids; see writer_memo.h.
 *
 * An open-addressing table of agent id -> entry, at most half full. An
 * entry is one allocation: the struct, its ids, then agent id, host and
 * dictionary bytes. Entries are only replaced, never removed one by one,
 * so probing needs no tombstones.
 */
#include "writer_memo.h"
#include "hash.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_MIN_SLOTS 64u

typedef struct memo_entry memo_entry;
struct memo_entry {
    uint64_t    hash;       /* of the agent id */
    const char *agent, *host, *dict;
    size_t      dict_len, nseries, size;
    uint64_t    ids[];      /* nseries, then the strings */
};

struct pw_writer_memo {
    memo_entry **slots;     /* nslots (a power of 2), NULL = empty */
    size_t       nslots, used, bytes, max_bytes;
};

/* FNV-1a: agent ids are short and the table is only an accelerator. */
static uint64_t
memo_hash(const char *s)
{
    return pw_fnv1a64(s, strlen(s));
}

/* The slot of agent (its entry, or the empty slot where it would go). */
static size_t
memo_slot(const pw_writer_memo *m, const char *agent, uint64_t h)
{
    size_t mask = m->nslots - 1, i;

    for (i = h & mask; m->slots[i] != NULL; i = (i + 1) & mask)
        if (m->slots[i]->hash == h && strcmp(m->slots[i]->agent, agent) == 0)
            break;
    return i;
}

static void
memo_clear(pw_writer_memo *m)
{
    for (size_t i = 0; i < m->nslots; i++) {
        free(m->slots[i]);
        m->slots[i] = NULL;
    }
    m->used = 0;
    m->bytes = 0;
}

/* Doubles the table; false on ENOMEM (the table is unchanged). */
static bool
memo_grow(pw_writer_memo *m)
{
    size_t       n = m->nslots * 2, mask = n - 1;
    memo_entry **s = calloc(n, sizeof *s);

    if (s == NULL)
        return false;
    for (size_t i = 0; i < m->nslots; i++) {
        memo_entry *e = m->slots[i];
        size_t      j;

        if (e == NULL)
            continue;
        for (j = e->hash & mask; s[j] != NULL; j = (j + 1) & mask)
            ;
        s[j] = e;
    }
    free(m->slots);
    m->slots = s;
    m->nslots = n;
    return true;
}

pw_writer_memo *
pw_writer_memo_new(size_t max_bytes)
{
    pw_writer_memo *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    m->nslots = MEMO_MIN_SLOTS;
    m->max_bytes = max_bytes;
    if ((m->slots = calloc(m->nslots, sizeof *m->slots)) == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void
pw_writer_memo_free(pw_writer_memo *m)
{
    if (m == NULL)
        return;
    memo_clear(m);
    free(m->slots);
    free(m);
}

const uint64_t *
pw_writer_memo_get(const pw_writer_memo *m, const pw_frame *f)
{
    const memo_entry *e;

    if (f->dict == NULL)
        return NULL;
    e = m->slots[memo_slot(m, f->hdr.agent_id, memo_hash(f->hdr.agent_id))];
    if (e == NULL || e->nseries != f->nseries || e->dict_len != f->dict_len
        || strcmp(e->host, f->hdr.host) != 0 || memcmp(e->dict, f->dict, f->dict_len) != 0)
        return NULL;
    return e->ids;
}

pw_err
pw_writer_memo_put(pw_writer_memo *m, const pw_frame *f, const uint64_t *ids)
{
    uint64_t    h = memo_hash(f->hdr.agent_id);
    size_t      i = memo_slot(m, f->hdr.agent_id, h);
    size_t      alen = strlen(f->hdr.agent_id) + 1, hlen = strlen(f->hdr.host) + 1, size;
    memo_entry *e = m->slots[i];
    char       *p;

    if (f->dict == NULL)
        return PW_OK;
    /* The same dictionary as remembered: only ids resolved since can be new. */
    if (e != NULL && e->nseries == f->nseries && e->dict_len == f->dict_len
        && strcmp(e->host, f->hdr.host) == 0 && memcmp(e->dict, f->dict, f->dict_len) == 0) {
        memcpy(e->ids, ids, f->nseries * sizeof *ids);
        return PW_OK;
    }
    size = sizeof *e + f->nseries * sizeof *ids + alen + hlen + f->dict_len;
    if (e != NULL) {
        m->bytes -= e->size;
        m->used--;
        free(e);
        m->slots[i] = NULL;
        /* The slot is free now, but a later entry of the same probe run may
         * sit past it: re-place the run so lookups still find everything. */
        for (size_t mask = m->nslots - 1, j = (i + 1) & mask; m->slots[j] != NULL;
             j = (j + 1) & mask) {
            memo_entry *r = m->slots[j];

            m->slots[j] = NULL;
            m->slots[memo_slot(m, r->agent, r->hash)] = r;
        }
        i = memo_slot(m, f->hdr.agent_id, h);
    }
    if (m->bytes + size > m->max_bytes) {
        memo_clear(m);
        if (size > m->max_bytes)
            return PW_OK;                   /* too big to remember at all */
        i = memo_slot(m, f->hdr.agent_id, h);
    }
    if ((m->used + 1) * 2 > m->nslots) {
        if (!memo_grow(m))
            return PW_ENOMEM;
        i = memo_slot(m, f->hdr.agent_id, h);
    }
    if ((e = malloc(size)) == NULL)
        return PW_ENOMEM;
    e->hash = h;
    e->nseries = f->nseries;
    e->dict_len = f->dict_len;
    e->size = size;
    memcpy(e->ids, ids, f->nseries * sizeof *ids);
    p = (char *) (e->ids + f->nseries);
    e->agent = memcpy(p, f->hdr.agent_id, alen);
    e->host = memcpy(p + alen, f->hdr.host, hlen);
    e->dict = memcpy(p + alen + hlen, f->dict, f->dict_len);
    m->slots[i] = e;
    m->used++;
    m->bytes += size;
    return PW_OK;
}

size_t
pw_writer_memo_count(const pw_writer_memo *m)
{
    return m->used;
}

size_t
pw_writer_memo_bytes(const pw_writer_memo *m)
{
    return m->bytes;
}
