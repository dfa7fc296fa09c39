/*
 * audit.c - the hash-chained audit log in DIR/security.mdb (contracts:
 * audit.h; record layout: collector/README.md). Environment and
 * transactions are auth.c's (security_int.h).
 */
#include "security_int.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "clock.h"
#include "utf8.h"

/*
 * Record, version 1: everything the hash must cover, in a fixed order, so
 * the bytes (not a re-encoding) are what is chained.
 *   u8 version | u64 seq | i64 ts_ms | u8 role | u8 result | 32 prev hash |
 *   7 x (u16 length + bytes): principal token_id tenant source action object detail
 */
#define AUDIT_VERSION     1
#define AUDIT_OFF_SEQ     1
#define AUDIT_OFF_TS      9
#define AUDIT_OFF_ROLE    17
#define AUDIT_OFF_RESULT  18
#define AUDIT_OFF_PREV    19
#define AUDIT_FIXED       (AUDIT_OFF_PREV + PWSEC_HASH_LEN)
#define AUDIT_NSTR        7
#define AUDIT_MAX         (AUDIT_FIXED + 2 * AUDIT_NSTR + sizeof(pw_audit_rec))
#define AUDIT_EXPIRE_TXN  256   /* records deleted per transaction: short write locks */

/* The string fields, in their order on disk. */
static const struct {
    size_t off, size;
} audit_str[AUDIT_NSTR] = {
    { offsetof(pw_audit_rec, principal), sizeof ((pw_audit_rec *) 0)->principal },
    { offsetof(pw_audit_rec, token_id), sizeof ((pw_audit_rec *) 0)->token_id },
    { offsetof(pw_audit_rec, tenant), sizeof ((pw_audit_rec *) 0)->tenant },
    { offsetof(pw_audit_rec, source), sizeof ((pw_audit_rec *) 0)->source },
    { offsetof(pw_audit_rec, action), sizeof ((pw_audit_rec *) 0)->action },
    { offsetof(pw_audit_rec, object), sizeof ((pw_audit_rec *) 0)->object },
    { offsetof(pw_audit_rec, detail), sizeof ((pw_audit_rec *) 0)->detail },
};

static const char *const audit_result_names[] = {
    [PW_AUDIT_OK] = "ok",
    [PW_AUDIT_DENIED] = "denied",
    [PW_AUDIT_UNAUTHENTICATED] = "unauthenticated",
    [PW_AUDIT_FAILED] = "failed",
};

const char *
pw_audit_result_name(pw_audit_result r)
{
    return (unsigned) r < PW_AUDIT_RESULT_COUNT_ ? audit_result_names[r] : "unknown";
}

void
pw_audit_rec_init(pw_audit_rec *r, const pw_principal *who, const char *source,
                  const char *action, const char *object)
{
    memset(r, 0, sizeof *r);
    if (who != NULL) {
        r->role = who->role;
        pwsec_copy(r->token_id, sizeof r->token_id, who->token_id);
        pwsec_copy(r->tenant, sizeof r->tenant, who->tenant);
        pwsec_copy(r->principal, sizeof r->principal,
            who->name[0] ? who->name : who->token_id[0] ? who->token_id : "anonymous");
    } else {
        pwsec_copy(r->principal, sizeof r->principal, "anonymous");
    }
    pwsec_copy(r->source, sizeof r->source, source);
    pwsec_copy(r->action, sizeof r->action, action);
    pwsec_copy(r->object, sizeof r->object, object);
    r->result = PW_AUDIT_OK;
}

/* ---- encoding ----------------------------------------------------------- */

static size_t
audit_encode(const pw_audit_rec *r, uint64_t seq, int64_t ts, const unsigned char *prev,
             unsigned char *buf)
{
    size_t n = AUDIT_FIXED;

    buf[0] = AUDIT_VERSION;
    pw_put_be64(buf + AUDIT_OFF_SEQ, seq);
    pw_put_be64(buf + AUDIT_OFF_TS, (uint64_t) ts);
    buf[AUDIT_OFF_ROLE] = (unsigned char) r->role;
    buf[AUDIT_OFF_RESULT] = (unsigned char) r->result;
    memcpy(buf + AUDIT_OFF_PREV, prev, PWSEC_HASH_LEN);
    for (size_t i = 0; i < AUDIT_NSTR; i++) {
        const unsigned char *p = (const unsigned char *) r + audit_str[i].off;
        size_t               len = strnlen((const char *) p, audit_str[i].size - 1), step;
        unsigned char       *out = buf + n + 2;

        /* Not UTF-8 (a hostile query, a field cut mid-character): '?' per bad byte. */
        for (size_t j = 0; j < len; j += step) {
            if ((step = pw_utf8_char(p + j, len - j)) == 0) {
                out[j] = '?';
                step = 1;
            } else {
                memcpy(out + j, p + j, step);
            }
        }
        buf[n] = (unsigned char) (len >> 8);
        buf[n + 1] = (unsigned char) len;
        n += 2 + len;
    }
    return n;
}

/*
 * Decodes a record; any version >= 1 (later ones may only append). On
 * failure says why in a static string.
 */
static const char *
audit_decode(const unsigned char *p, size_t n, pw_audit_rec *r)
{
    size_t off = AUDIT_FIXED;

    memset(r, 0, sizeof *r);
    if (n < AUDIT_FIXED)
        return "too short";
    if (p[0] < AUDIT_VERSION)
        return "bad version";
    r->seq = pw_get_be64(p + AUDIT_OFF_SEQ);
    r->ts_ms = (int64_t) pw_get_be64(p + AUDIT_OFF_TS);
    r->role = (pw_role) p[AUDIT_OFF_ROLE];
    r->result = (pw_audit_result) p[AUDIT_OFF_RESULT];
    if (p[AUDIT_OFF_ROLE] > PW_ROLE_TENANT || p[AUDIT_OFF_RESULT] >= PW_AUDIT_RESULT_COUNT_)
        return "role or result out of range";
    for (size_t i = 0; i < AUDIT_NSTR; i++) {
        char  *dst = (char *) r + audit_str[i].off;
        size_t len;

        if (n - off < 2)
            return "truncated";
        len = (size_t) p[off] << 8 | p[off + 1];
        off += 2;
        if (len >= audit_str[i].size || n - off < len || memchr(p + off, '\0', len) != NULL)
            return "bad string length";
        memcpy(dst, p + off, len);
        dst[len] = '\0';
        off += len;
    }
    if (p[0] == AUDIT_VERSION && off != n)
        return "trailing bytes";
    return NULL;
}

static void
audit_sha256(const MDB_val *v, unsigned char *out)
{
    crypto_hash_sha256(out, v->mv_data, v->mv_size);
}

/* ---- anchor and head ----------------------------------------------------- */

/* A point of the chain: a seq, the hash of its record, its time (head only). */
typedef struct audit_link audit_link;
struct audit_link {
    uint64_t      seq;
    unsigned char hash[PWSEC_HASH_LEN];
    int64_t       ts;
};

/* Reads anchor and head; a missing anchor is (0, zeros), a missing head is the anchor. */
static pw_err
audit_links(pw_security *s, pwsec_txn *t, audit_link *anchor, audit_link *head)
{
    MDB_val ak = { sizeof PWSEC_AUDIT_ANCHOR - 1, (void *) PWSEC_AUDIT_ANCHOR };
    MDB_val hk = { sizeof PWSEC_AUDIT_HEAD - 1, (void *) PWSEC_AUDIT_HEAD }, v;
    int     rc;

    memset(anchor, 0, sizeof *anchor);
    anchor->ts = INT64_MIN;
    if ((rc = mdb_get(t->txn, s->audit_meta, &ak, &v)) == 0) {
        if (v.mv_size != 8 + PWSEC_HASH_LEN)
            return PW_EPROTO;
        anchor->seq = pw_get_be64(v.mv_data);
        memcpy(anchor->hash, (unsigned char *) v.mv_data + 8, PWSEC_HASH_LEN);
    } else if (rc != MDB_NOTFOUND) {
        return pwsec_fail(t, rc);
    }
    *head = *anchor;
    if ((rc = mdb_get(t->txn, s->audit_meta, &hk, &v)) == 0) {
        if (v.mv_size != 8 + PWSEC_HASH_LEN + 8)
            return PW_EPROTO;
        head->seq = pw_get_be64(v.mv_data);
        memcpy(head->hash, (unsigned char *) v.mv_data + 8, PWSEC_HASH_LEN);
        head->ts = (int64_t) pw_get_be64((unsigned char *) v.mv_data + 8 + PWSEC_HASH_LEN);
    } else if (rc != MDB_NOTFOUND) {
        return pwsec_fail(t, rc);
    }
    return PW_OK;
}

static pw_err
audit_put_link(pw_security *s, pwsec_txn *t, const char *name, const audit_link *l, bool with_ts)
{
    unsigned char buf[8 + PWSEC_HASH_LEN + 8];
    MDB_val       k = { strlen(name), (void *) name };
    MDB_val       v = { with_ts ? sizeof buf : sizeof buf - 8, buf };

    pw_put_be64(buf, l->seq);
    memcpy(buf + 8, l->hash, PWSEC_HASH_LEN);
    pw_put_be64(buf + 8 + PWSEC_HASH_LEN, (uint64_t) l->ts);
    return pwsec_fail(t, mdb_put(t->txn, s->audit_meta, &k, &v, 0));
}

/* ---- append ---------------------------------------------------------------- */

pw_err
pwsec_audit_put(pw_security *s, pwsec_txn *t, const pw_audit_rec *r, int64_t now_ms,
                uint64_t *seq, int64_t *ts)
{
    unsigned char buf[AUDIT_MAX], key[8];
    audit_link    anchor, head;
    MDB_val       k = { sizeof key, key }, v = { 0, buf };
    pw_err        e;
    int           rc;

    if ((unsigned) r->role > PW_ROLE_TENANT || (unsigned) r->result >= PW_AUDIT_RESULT_COUNT_)
        return PW_EINVAL;
    if ((e = audit_links(s, t, &anchor, &head)) != PW_OK)
        return e;
    *seq = head.seq + 1;
    *ts = r->ts_ms != 0 ? r->ts_ms : now_ms;
    /* Time order is what lets a scan binary-search; a clock stepping back must not break it. */
    if (*ts < head.ts)
        *ts = head.ts;
    v.mv_size = audit_encode(r, *seq, *ts, head.hash, buf);
    pw_put_be64(key, *seq);
    /* MDB_APPEND: keys only grow, so pages fill up; a key past the head (inserted) fails. */
    if ((rc = mdb_put(t->txn, s->audit, &k, &v, MDB_APPEND)) != 0)
        return pwsec_fail(t, rc);
    head.seq = *seq;
    head.ts = *ts;
    audit_sha256(&v, head.hash);
    return audit_put_link(s, t, PWSEC_AUDIT_HEAD, &head, true);
}

#define AUDIT_BATCH_MAX 1024    /* appends in one group commit at most */

/* Writes a batch of queued appends (a list) in one transaction. */
static pw_err
audit_batch_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    pw_err e = PW_OK;

    for (pwsec_append *a = ctx; a != NULL && e == PW_OK; a = a->next)
        e = pwsec_audit_put(s, t, a->r, a->now_ms, &a->seq, &a->ts);
    return e;
}

pw_err
pw_audit_append(pw_security *s, pw_audit_rec *r)
{
    pwsec_append me = { .r = r, .now_ms = pw_now_ms() };

    /* Checked before queueing: one bad record must not fail the others' commit. */
    if (s->rdonly || (unsigned) r->role > PW_ROLE_TENANT
        || (unsigned) r->result >= PW_AUDIT_RESULT_COUNT_)
        return PW_EINVAL;
    pthread_mutex_lock(&s->append_lock);
    if (s->append_tail != NULL)
        s->append_tail->next = &me;
    else
        s->append_head = &me;
    s->append_tail = &me;
    while (!me.done) {
        pwsec_append *batch, *last;
        size_t        n = 1;
        pw_err        e;

        if (s->append_leader) {
            pthread_cond_wait(&s->append_done, &s->append_lock);
            continue;
        }
        /* Lead: take what is queued (ours is among it, or was written by the last leader). */
        s->append_leader = true;
        batch = last = s->append_head;
        while (last->next != NULL && n < AUDIT_BATCH_MAX) {
            last = last->next;
            n++;
        }
        s->append_head = last->next;
        if (s->append_head == NULL)
            s->append_tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&s->append_lock);
        e = pwsec_write(s, audit_batch_body, batch);
        pthread_mutex_lock(&s->append_lock);
        for (pwsec_append *a = batch; a != NULL; a = a->next) {
            a->err = e;
            a->done = true;
        }
        s->append_leader = false;
        pthread_cond_broadcast(&s->append_done);
    }
    pthread_mutex_unlock(&s->append_lock);
    if (me.err == PW_OK) {
        r->seq = me.seq;
        r->ts_ms = me.ts;
    }
    return me.err;
}

/* ---- scan ---------------------------------------------------------------------- */

typedef struct audit_scan audit_scan;
struct audit_scan {
    int64_t     from, to;
    pw_audit_cb cb;
    void       *ctx;
};

/* Time of the first record at or after seq x, in *ts; *none if there is none. */
static pw_err
audit_ts_at(pwsec_txn *t, MDB_cursor *cur, uint64_t x, int64_t *ts, bool *none)
{
    unsigned char key[8];
    MDB_val       k = { sizeof key, key }, v;
    int           rc;

    pw_put_be64(key, x);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    *none = rc == MDB_NOTFOUND;
    if (rc == MDB_NOTFOUND)
        return PW_OK;
    if (rc != 0)
        return pwsec_fail(t, rc);
    if (v.mv_size < AUDIT_FIXED)
        return PW_EPROTO;
    *ts = (int64_t) pw_get_be64((unsigned char *) v.mv_data + AUDIT_OFF_TS);
    return PW_OK;
}

static pw_err
audit_scan_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    audit_scan  *sc = ctx;
    MDB_cursor  *cur;
    MDB_val      k, v;
    pw_audit_rec r;
    uint64_t     lo, hi;
    int64_t      ts = 0;
    bool         none;
    pw_err       e = PW_OK;
    int          rc;

    if ((rc = mdb_cursor_open(t->txn, s->audit, &cur)) != 0)
        return pwsec_fail(t, rc);
    if ((rc = mdb_cursor_get(cur, &k, &v, MDB_LAST)) != 0)
        goto out;
    if (k.mv_size != 8) {
        e = PW_EPROTO;
        goto out;
    }
    hi = pw_get_be64(k.mv_data) + 1;
    if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) != 0)
        goto out;
    if (k.mv_size != 8) {
        e = PW_EPROTO;
        goto out;
    }
    lo = pw_get_be64(k.mv_data);
    /* Smallest seq x whose record (the first at or after x) is not before `from`. */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;

        if ((e = audit_ts_at(t, cur, mid, &ts, &none)) != PW_OK)
            goto out;
        if (!none && ts < sc->from)
            lo = mid + 1;
        else
            hi = mid;
    }
    if ((e = audit_ts_at(t, cur, lo, &ts, &none)) != PW_OK || none)
        goto out;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (audit_decode(v.mv_data, v.mv_size, &r) != NULL) {
            e = PW_EPROTO;
            break;
        }
        if (r.ts_ms < sc->from)     /* only in a log whose times were altered */
            continue;
        if (r.ts_ms > sc->to || sc->cb(sc->ctx, &r) != 0)
            break;
    }
out:
    if (e == PW_OK && rc != 0 && rc != MDB_NOTFOUND)
        e = pwsec_fail(t, rc);
    mdb_cursor_close(cur);
    return e;
}

pw_err
pw_audit_scan(pw_security *s, int64_t from, int64_t to, pw_audit_cb cb, void *ctx)
{
    audit_scan sc = { from, to, cb, ctx };

    if (from > to)
        return PW_OK;
    return pwsec_read(s, audit_scan_body, &sc);
}

/* ---- verify ---------------------------------------------------------------------- */

typedef struct audit_verify audit_verify;
struct audit_verify {
    uint64_t checked, bad, anchor;
    char    *msg;
    size_t   msglen;
};

static pw_err audit_broken(audit_verify *av, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static pw_err
audit_broken(audit_verify *av, uint64_t seq, const char *fmt, ...)
{
    va_list ap;

    av->bad = seq;
    va_start(ap, fmt);
    vsnprintf(av->msg, av->msglen, fmt, ap);
    va_end(ap);
    return PW_EPROTO;
}

/*
 * Does hash (of the record stored as seq) match what the chain says next:
 * the prev hash of record seq + 1, or the head's hash when seq is the head?
 * Tells an altered record from an altered successor link.
 */
static bool
audit_links_forward(pw_security *s, pwsec_txn *t, uint64_t seq, const unsigned char *hash,
                    const audit_link *head)
{
    unsigned char key[8];
    MDB_val       k = { sizeof key, key }, v;

    pw_put_be64(key, seq + 1);
    if (mdb_get(t->txn, s->audit, &k, &v) == 0)
        return v.mv_size >= AUDIT_FIXED
            && memcmp((unsigned char *) v.mv_data + AUDIT_OFF_PREV, hash, PWSEC_HASH_LEN) == 0;
    return head->seq == seq && memcmp(head->hash, hash, PWSEC_HASH_LEN) == 0;
}

/* Checks the record stored under key k against the chain so far (prev = link to k - 1). */
static pw_err
audit_verify_one(pw_security *s, pwsec_txn *t, audit_verify *av, const audit_link *anchor,
                 const audit_link *head, uint64_t k, const MDB_val *v, audit_link *prev)
{
    const unsigned char *p = v->mv_data;
    unsigned char        h[PWSEC_HASH_LEN];
    pw_audit_rec         r;
    const char          *why;

    if ((why = audit_decode(p, v->mv_size, &r)) != NULL)
        return audit_broken(av, k, "record %llu cannot be read (%s): altered",
            (unsigned long long) k, why);
    if (r.seq != k)
        return audit_broken(av, k, "the record stored as seq %llu says it is seq %llu: records "
            "reordered or moved", (unsigned long long) k, (unsigned long long) r.seq);
    audit_sha256(v, h);
    if (memcmp(p + AUDIT_OFF_PREV, prev->hash, PWSEC_HASH_LEN) != 0) {
        bool intact = audit_links_forward(s, t, k, h, head);

        if (intact && k - 1 > anchor->seq)
            return audit_broken(av, k - 1, "record %llu was altered: its SHA-256 no longer "
                "matches the one record %llu holds", (unsigned long long) (k - 1),
                (unsigned long long) k);
        if (intact)
            return audit_broken(av, k, "record %llu does not link to the anchor (seq %llu): the "
                "anchor was altered or older records were removed", (unsigned long long) k,
                (unsigned long long) anchor->seq);
        return audit_broken(av, k, "record %llu was altered: it does not link to %s %llu",
            (unsigned long long) k, k - 1 > anchor->seq ? "record" : "the anchor, seq",
            (unsigned long long) (k - 1));
    }
    if (r.ts_ms < prev->ts)
        return audit_broken(av, k, "record %llu is older than record %llu: records reordered",
            (unsigned long long) k, (unsigned long long) (k - 1));
    prev->seq = k;
    prev->ts = r.ts_ms;
    memcpy(prev->hash, h, PWSEC_HASH_LEN);
    return PW_OK;
}

static pw_err
audit_verify_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    audit_verify *av = ctx;
    audit_link    anchor, head, prev;
    MDB_cursor   *cur;
    MDB_val       k, v;
    uint64_t      seq;
    pw_err        e;
    int           rc;

    av->checked = 0;
    av->bad = 0;
    if ((e = audit_links(s, t, &anchor, &head)) != PW_OK) {
        if (e == PW_EPROTO)
            return audit_broken(av, 0, "the anchor or head record in audit_meta is damaged");
        return e;
    }
    prev = anchor;
    av->anchor = anchor.seq;
    if ((rc = mdb_cursor_open(t->txn, s->audit, &cur)) != 0)
        return pwsec_fail(t, rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            e = audit_broken(av, prev.seq + 1, "a key of %zu bytes in the audit database: inserted",
                k.mv_size);
            break;
        }
        seq = pw_get_be64(k.mv_data);
        if (seq <= prev.seq) {   /* only before the first record: keys are sorted */
            e = audit_broken(av, seq, "record %llu lies at or before the anchor (seq %llu): "
                "inserted", (unsigned long long) seq, (unsigned long long) anchor.seq);
            break;
        }
        if (seq > prev.seq + 1) {
            if (seq == prev.seq + 2)
                e = audit_broken(av, prev.seq + 1, "record %llu is missing: removed",
                    (unsigned long long) (prev.seq + 1));
            else
                e = audit_broken(av, prev.seq + 1, "records %llu..%llu are missing: removed",
                    (unsigned long long) (prev.seq + 1), (unsigned long long) (seq - 1));
            break;
        }
        if ((e = audit_verify_one(s, t, av, &anchor, &head, seq, &v, &prev)) != PW_OK)
            break;
        av->checked++;
    }
    mdb_cursor_close(cur);
    if (e != PW_OK)
        return e;
    if (rc != MDB_NOTFOUND)
        return pwsec_fail(t, rc);
    if (prev.seq + 1 == head.seq)
        return audit_broken(av, head.seq, "record %llu, the newest, is missing: removed",
            (unsigned long long) head.seq);
    if (prev.seq < head.seq)
        return audit_broken(av, prev.seq + 1, "records %llu..%llu, the newest, are missing: "
            "removed", (unsigned long long) (prev.seq + 1), (unsigned long long) head.seq);
    if (prev.seq > head.seq)
        return audit_broken(av, head.seq + 1, "record %llu comes after the recorded head "
            "(seq %llu): inserted", (unsigned long long) (head.seq + 1),
            (unsigned long long) head.seq);
    if (memcmp(prev.hash, head.hash, PWSEC_HASH_LEN) != 0)
        return audit_broken(av, head.seq, "record %llu was altered: it does not match the "
            "recorded head hash", (unsigned long long) head.seq);
    return PW_OK;
}

pw_err
pw_audit_verify(pw_security *s, uint64_t *checked, uint64_t *bad_seq, char *msg, size_t msglen)
{
    char         scratch[1];
    audit_verify av = { 0, 0, 0, msg, msglen };
    pw_err       e;

    if (msg == NULL || msglen == 0) {
        av.msg = scratch;
        av.msglen = sizeof scratch;
    }
    av.msg[0] = '\0';
    e = pwsec_read(s, audit_verify_body, &av);
    /* An altered record is found by its successor's link: count only those before it. */
    if (e == PW_EPROTO)
        av.checked = av.bad > av.anchor ? av.bad - av.anchor - 1 : 0;
    if (checked != NULL)
        *checked = av.checked;
    if (bad_seq != NULL)
        *bad_seq = e == PW_EPROTO ? av.bad : 0;
    return e;
}

/* ---- hash of one record ------------------------------------------------------------ */

typedef struct audit_hash audit_hash;
struct audit_hash {
    uint64_t      seq;
    unsigned char hash[PWSEC_HASH_LEN];
};

static pw_err
audit_hash_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    audit_hash   *h = ctx;
    unsigned char key[8];
    MDB_val       k = { sizeof key, key }, v;
    MDB_cursor   *cur;
    int           rc;

    if ((rc = mdb_cursor_open(t->txn, s->audit, &cur)) != 0)
        return pwsec_fail(t, rc);
    pw_put_be64(key, h->seq);
    rc = mdb_cursor_get(cur, &k, &v, h->seq == 0 ? MDB_LAST : MDB_SET_KEY);
    if (rc == 0 && k.mv_size == 8) {
        h->seq = pw_get_be64(k.mv_data);
        audit_sha256(&v, h->hash);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && k.mv_size != 8)
        return PW_EPROTO;
    return rc == MDB_NOTFOUND ? PW_ENOENT : pwsec_fail(t, rc);
}

pw_err
pw_audit_hash(pw_security *s, uint64_t seq, uint64_t *seq_out, unsigned char hash[32])
{
    audit_hash h = { .seq = seq };
    pw_err     e = pwsec_read(s, audit_hash_body, &h);

    if (e == PW_OK) {
        if (seq_out != NULL)
            *seq_out = h.seq;
        memcpy(hash, h.hash, PWSEC_HASH_LEN);
    }
    return e;
}

/* ---- expire ------------------------------------------------------------------------- */

typedef struct audit_expire audit_expire;
struct audit_expire {
    int64_t  cut, now_ms;
    uint64_t total;          /* removed by committed transactions before this one */
    uint64_t first;          /* seq of the first record removed, 0 before any */
    uint64_t n;              /* removed by this transaction */
    bool     done;
};

/*
 * Deletes up to AUDIT_EXPIRE_TXN records older than cut, each of which must
 * link to the anchor (so expiry cannot launder an altered record into a new
 * anchor), and moves the anchor to the last one. When nothing older is left
 * and something was removed, appends the record of it in the same txn.
 */
static pw_err
audit_expire_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    audit_expire *x = ctx;
    audit_link    anchor, head;
    MDB_cursor   *cur;
    MDB_val       k, v;
    pw_audit_rec  r;
    pw_err        e;
    int           rc;

    x->n = 0;
    x->done = false;
    if ((e = audit_links(s, t, &anchor, &head)) != PW_OK)
        return e;
    if ((rc = mdb_cursor_open(t->txn, s->audit, &cur)) != 0)
        return pwsec_fail(t, rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && x->n < AUDIT_EXPIRE_TXN;
         rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) {
        const unsigned char *p = v.mv_data;

        if (v.mv_size < AUDIT_FIXED || (int64_t) pw_get_be64(p + AUDIT_OFF_TS) >= x->cut)
            break;
        if (k.mv_size != 8 || pw_get_be64(k.mv_data) != anchor.seq + 1
            || pw_get_be64(p + AUDIT_OFF_SEQ) != anchor.seq + 1
            || memcmp(p + AUDIT_OFF_PREV, anchor.hash, PWSEC_HASH_LEN) != 0) {
            mdb_cursor_close(cur);
            return PW_EPROTO;
        }
        anchor.seq++;
        audit_sha256(&v, anchor.hash);
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        if (x->total == 0 && x->n == 0)
            x->first = anchor.seq;
        x->n++;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return pwsec_fail(t, rc);
    x->done = x->n < AUDIT_EXPIRE_TXN;
    if (x->n > 0 && (e = audit_put_link(s, t, PWSEC_AUDIT_ANCHOR, &anchor, false)) != PW_OK)
        return e;
    if (x->done && x->total + x->n > 0) {
        char     cut[32];
        uint64_t seq;
        int64_t  ts;

        pw_time_format_iso(x->cut, cut, sizeof cut);
        pw_audit_rec_init(&r, NULL, "system", "audit.expire", NULL);
        pwsec_copy(r.principal, sizeof r.principal, "system");
        snprintf(r.object, sizeof r.object, "seq %llu..%llu: %llu records older than %s",
            (unsigned long long) x->first, (unsigned long long) anchor.seq,
            (unsigned long long) (x->total + x->n), cut);
        return pwsec_audit_put(s, t, &r, x->now_ms, &seq, &ts);
    }
    return PW_OK;
}

pw_err
pw_audit_expire(pw_security *s, int64_t now_ms, int64_t retention_ms, uint64_t *removed)
{
    audit_expire x = { 0 };
    pw_err       e = PW_OK;

    if (removed != NULL)
        *removed = 0;
    if (retention_ms < PW_AUDIT_MIN_RETENTION_MS || s->rdonly)
        return PW_EINVAL;
    x.now_ms = now_ms;
    x.cut = now_ms < INT64_MIN + retention_ms ? INT64_MIN : now_ms - retention_ms;
    while (!x.done) {
        if ((e = pwsec_write(s, audit_expire_body, &x)) != PW_OK)
            break;
        x.total += x.n;
    }
    if (removed != NULL)
        *removed = x.total;
    return e;
}
