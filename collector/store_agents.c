/*
 * store_agents.c - the agent registry and the dedupe table.
 *
 *   agents  key = agent id (its bytes, no NUL) -> record (layout below)
 *   dedupe  key = agent id ++ 0x00 ++ boot id (16 bytes)
 *           value = last seq stored (u64 BE) ++ last seen, collector clock (i64 BE)
 *
 * Agent record, version 1, all integers big-endian, i64 as two's complement:
 *   off  0  u8    record version (1)
 *        1  16    boot id of the newest frame
 *       17  u64   last seq (newest frame)
 *       25  i64   first seen ms      33 i64 last seen ms
 *       41  i64   agent clock of the newest frame
 *       49  u64   frames             57 u64 samples
 *       65  u16   host length, host bytes, u16 version length, version bytes
 * A later version may only append fields: a reader takes the v1 prefix of
 * any version >= 1 and ignores what follows.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_REC_VERSION 1
#define AGENT_REC_FIXED   65
#define AGENT_REC_MAX     (AGENT_REC_FIXED + 2 + PW_WIRE_MAX_HOST + 2 + PW_WIRE_MAX_AGENT_VERSION)
#define DEDUPE_KEY_MAX    (PW_WIRE_MAX_AGENT_ID + 1 + PW_WIRE_BOOT_ID_LEN)

static size_t
agent_encode(const pw_agent_info *a, unsigned char *p)
{
    size_t hl = strlen(a->host), vl = strlen(a->version), o = AGENT_REC_FIXED;

    p[0] = AGENT_REC_VERSION;
    memcpy(p + 1, a->boot_id, PW_WIRE_BOOT_ID_LEN);
    pw_put_be64(p + 17, a->last_seq);
    pw_put_be64(p + 25, (uint64_t) a->first_seen_ms);
    pw_put_be64(p + 33, (uint64_t) a->last_seen_ms);
    pw_put_be64(p + 41, (uint64_t) a->last_agent_ts_ms);
    pw_put_be64(p + 49, a->frames);
    pw_put_be64(p + 57, a->samples);
    p[o++] = (unsigned char) (hl >> 8);
    p[o++] = (unsigned char) hl;
    memcpy(p + o, a->host, hl);
    o += hl;
    p[o++] = (unsigned char) (vl >> 8);
    p[o++] = (unsigned char) vl;
    memcpy(p + o, a->version, vl);
    return o + vl;
}

static int64_t
agent_i64(const unsigned char *p)
{
    uint64_t u = pw_get_be64(p);

    return u <= (uint64_t) INT64_MAX ? (int64_t) u : -(int64_t) (~u) - 1;
}

/* Reads a length-prefixed string into dst (cap bytes + NUL); false if it does not fit. */
static bool
agent_str(const unsigned char *p, size_t len, size_t *o, char *dst, size_t cap)
{
    size_t n;

    if (len - *o < 2)
        return false;
    n = (size_t) p[*o] << 8 | p[*o + 1];
    *o += 2;
    if (n > cap || len - *o < n)
        return false;
    memcpy(dst, p + *o, n);
    dst[n] = '\0';
    *o += n;
    return true;
}

static bool
agent_decode(const MDB_val *key, const MDB_val *val, pw_agent_info *a)
{
    const unsigned char *p = val->mv_data;
    size_t               o = AGENT_REC_FIXED;

    memset(a, 0, sizeof *a);
    if (key->mv_size == 0 || key->mv_size > PW_WIRE_MAX_AGENT_ID
        || val->mv_size < AGENT_REC_FIXED || p[0] < 1)
        return false;
    memcpy(a->agent_id, key->mv_data, key->mv_size);
    memcpy(a->boot_id, p + 1, PW_WIRE_BOOT_ID_LEN);
    a->last_seq = pw_get_be64(p + 17);
    a->first_seen_ms = agent_i64(p + 25);
    a->last_seen_ms = agent_i64(p + 33);
    a->last_agent_ts_ms = agent_i64(p + 41);
    a->frames = pw_get_be64(p + 49);
    a->samples = pw_get_be64(p + 57);
    return agent_str(p, val->mv_size, &o, a->host, PW_WIRE_MAX_HOST)
        && agent_str(p, val->mv_size, &o, a->version, PW_WIRE_MAX_AGENT_VERSION);
}

static size_t
agent_dedupe_key(unsigned char *k, const char *agent_id, const uint8_t *boot_id)
{
    size_t n = strlen(agent_id);

    memcpy(k, agent_id, n);
    k[n] = 0;
    memcpy(k + n + 1, boot_id, PW_WIRE_BOOT_ID_LEN);
    return n + 1 + PW_WIRE_BOOT_ID_LEN;
}

pw_err
pws_dedupe_get(pw_store_txn *t, const char *agent_id, const uint8_t *boot_id,
               bool *found, uint64_t *last_seq)
{
    unsigned char k[DEDUPE_KEY_MAX];
    MDB_val       key = { agent_dedupe_key(k, agent_id, boot_id), k }, val;
    int           rc = mdb_get(t->txn, t->s->dedupe, &key, &val);

    *found = false;
    if (rc == MDB_NOTFOUND)
        return PW_OK;
    if (rc == 0 && val.mv_size < 16)
        rc = MDB_CORRUPTED;
    if (rc != 0)
        return pws_fail(t->s, rc, "dedupe lookup");
    *found = true;
    *last_seq = pw_get_be64(val.mv_data);
    return PW_OK;
}

pw_err
pws_dedupe_put(pw_store_txn *t, const char *agent_id, const uint8_t *boot_id,
               uint64_t seq, int64_t seen_ms)
{
    unsigned char k[DEDUPE_KEY_MAX], v[16];
    MDB_val       key = { agent_dedupe_key(k, agent_id, boot_id), k }, val = { sizeof v, v };

    pw_put_be64(v, seq);
    pw_put_be64(v + 8, (uint64_t) seen_ms);
    return pws_fail(t->s, mdb_put(t->txn, t->s->dedupe, &key, &val, 0), "dedupe update");
}

pw_err
pws_agent_update(pw_store_txn *t, const pw_frame_header *h, int64_t recv_ms, uint64_t samples)
{
    unsigned char buf[AGENT_REC_MAX];
    pw_agent_info a;
    MDB_val       key = { strlen(h->agent_id), (void *) h->agent_id }, val;
    bool          newest;
    int           rc = mdb_get(t->txn, t->s->agents, &key, &val);

    if (rc == 0) {
        if (!agent_decode(&key, &val, &a))
            return pws_failf(t->s, PW_EDB, "agent record of %s is damaged", h->agent_id);
        newest = h->ts_ms >= a.last_agent_ts_ms;
    } else if (rc == MDB_NOTFOUND) {
        memset(&a, 0, sizeof a);
        a.first_seen_ms = a.last_seen_ms = recv_ms;
        newest = true;
    } else {
        return pws_fail(t->s, rc, "agent lookup");
    }
    /* A spool replay of an older boot must not make the agent look older. */
    if (newest) {
        memcpy(a.boot_id, h->boot_id, PW_WIRE_BOOT_ID_LEN);
        a.last_seq = h->seq;
        a.last_agent_ts_ms = h->ts_ms;
        snprintf(a.host, sizeof a.host, "%s", h->host);
        snprintf(a.version, sizeof a.version, "%s", h->agent_version);
    }
    if (recv_ms > a.last_seen_ms)
        a.last_seen_ms = recv_ms;
    a.frames++;
    a.samples += samples;
    val.mv_size = agent_encode(&a, buf);
    val.mv_data = buf;
    return pws_fail(t->s, mdb_put(t->txn, t->s->agents, &key, &val, 0), "agent update");
}

pw_err
pw_store_agents(pw_store_txn *t, pw_store_agent_cb cb, void *ctx)
{
    MDB_cursor   *cur;
    MDB_val       key, val;
    pw_agent_info a;
    pw_err        err = PW_OK;
    int           rc;

    if ((rc = mdb_cursor_open(t->txn, t->s->agents, &cur)) != 0)
        return pws_fail(t->s, rc, "agent scan");
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (!agent_decode(&key, &val, &a)) {
            err = pws_failf(t->s, PW_EDB, "an agent record is damaged");
            goto out;
        }
        if (cb(ctx, &a) != 0)
            goto out;
    }
    if (rc != MDB_NOTFOUND)
        err = pws_fail(t->s, rc, "agent scan");
out:
    mdb_cursor_close(cur);
    return err;
}

pw_err
pw_store_dedupe_expire(pw_store_txn *t, int64_t before_ms, uint64_t *removed)
{
    MDB_cursor   *cur = NULL;
    MDB_val       key, val;
    pw_agent_info a;
    char          agent[PW_WIRE_MAX_AGENT_ID + 1] = "";
    bool          have_agent = false;
    uint64_t      n = 0;
    pw_err        err = PW_OK;
    int           rc;

    if (!t->write)
        return pws_failf(t->s, PW_EINVAL, "dedupe expiry needs a write transaction");
    if ((rc = mdb_cursor_open(t->txn, t->s->dedupe, &cur)) != 0)
        goto fail;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        const unsigned char *k = key.mv_data;
        size_t               alen = key.mv_size - PW_WIRE_BOOT_ID_LEN - 1;

        if (key.mv_size < PW_WIRE_BOOT_ID_LEN + 2 || alen > PW_WIRE_MAX_AGENT_ID
            || k[alen] != 0 || val.mv_size < 16) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (agent_i64((const unsigned char *) val.mv_data + 8) >= before_ms)
            continue;
        /* Rows come grouped by agent: read its record once per agent. */
        if (strlen(agent) != alen || memcmp(agent, k, alen) != 0) {
            MDB_val akey = { alen, key.mv_data }, aval;

            memcpy(agent, k, alen);
            agent[alen] = '\0';
            rc = mdb_get(t->txn, t->s->agents, &akey, &aval);
            if (rc != 0 && rc != MDB_NOTFOUND)
                break;
            have_agent = rc == 0 && agent_decode(&akey, &aval, &a);
        }
        /* The newest boot stays: its agent may still resend. */
        if (have_agent && memcmp(a.boot_id, k + alen + 1, PW_WIRE_BOOT_ID_LEN) == 0)
            continue;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        n++;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
fail:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (rc != 0)
        err = pws_fail(t->s, rc, "dedupe expiry");
    if (removed != NULL)
        *removed = n;
    return err;
}

int
pw_agent_list_add(void *list, const pw_agent_info *a)
{
    pw_agent_list *l = list;

    if (l->n == l->cap) {
        size_t         cap = l->cap ? l->cap * 2 : 64;
        pw_agent_info *p = realloc(l->a, cap * sizeof *p);

        if (p == NULL) {
            l->nomem = true;
            return 1;
        }
        l->a = p;
        l->cap = cap;
    }
    l->a[l->n++] = *a;
    return 0;
}

/* By host, then agent id: what people look for first. */
static int
agents_cmp(const void *x, const void *y)
{
    const pw_agent_info *a = x, *b = y;
    int                  c = strcmp(a->host, b->host);

    return c != 0 ? c : strcmp(a->agent_id, b->agent_id);
}

void
pw_agent_list_sort(pw_agent_list *l)
{
    if (l->n > 1)                       /* qsort(NULL, 0) is undefined */
        qsort(l->a, l->n, sizeof *l->a, agents_cmp);
}

void
pw_agent_list_free(pw_agent_list *l)
{
    free(l->a);
    memset(l, 0, sizeof *l);
}
