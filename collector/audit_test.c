/*
 * audit_test.c - the audit log: append, scan, verify; tampering through raw
 * LMDB (altered bytes, removed, swapped and inserted records) found at the
 * right seq; expiry that keeps the chain verifiable and will not launder a
 * broken one; audited token changes; concurrent appends on a growing map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "bytes.h"
#include "clock.h"
#include "security_int.h"
#include "test_fixture.h"

#define AU_DAY INT64_C(86400000)

typedef struct au_state au_state;
struct au_state {
    char        *dir;
    pw_security *s;
    int64_t      t0;
};

static pw_security *
au_open(const char *dir)
{
    pw_security *s = NULL;
    char         msg[512];
    pw_err       e = pw_security_open(dir, false, &s, msg, sizeof msg);

    if (e != PW_OK)
        fail_msg("open %s: %s (%s)", dir, msg, pw_strerror(e));
    return s;
}

static int
au_setup(void **state)
{
    au_state *st = calloc(1, sizeof *st);

    st->dir = tf_tmpdir();
    st->s = au_open(st->dir);
    st->t0 = INT64_C(1767225600000);   /* 2026-01-01 */
    *state = st;
    return 0;
}

static int
au_teardown(void **state)
{
    au_state *st = *state;

    pw_security_close(st->s);
    tf_rmdir(st->dir);
    free(st);
    return 0;
}

/* Appends a record at time ts whose object is "obj <i>"; returns its seq. */
static uint64_t
au_append(pw_security *s, int64_t ts, int i)
{
    pw_audit_rec r;
    char         obj[32];
    pw_principal who = { .role = PW_ROLE_OPERATOR, .token_id = "0123456789ab", .name = "ops" };

    snprintf(obj, sizeof obj, "obj %d", i);
    pw_audit_rec_init(&r, &who, "127.0.0.1:5000", "GET /api/v1/query_range", obj);
    r.ts_ms = ts;
    assert_int_equal(pw_audit_append(s, &r), PW_OK);
    return r.seq;
}

/* Ten records, one a second from t0. */
static void
au_fill(au_state *st, int n)
{
    for (int i = 1; i <= n; i++)
        assert_int_equal(au_append(st->s, st->t0 + i * 1000, i), (uint64_t) i);
}

typedef struct au_list au_list;
struct au_list {
    size_t       n, stop;
    pw_audit_rec r[64];
};

static int
au_collect(void *ctx, const pw_audit_rec *r)
{
    au_list *l = ctx;

    if (l->n < 64)
        l->r[l->n] = *r;
    l->n++;
    return l->stop != 0 && l->n == l->stop;
}

static void
au_expect_intact(pw_security *s, uint64_t want_checked)
{
    uint64_t checked = 99, bad = 99;
    char     msg[256];
    pw_err   e = pw_audit_verify(s, &checked, &bad, msg, sizeof msg);

    if (e != PW_OK)
        fail_msg("verify: %s (seq %llu: %s)", pw_strerror(e), (unsigned long long) bad, msg);
    assert_int_equal(checked, want_checked);
    assert_int_equal(bad, 0);
}

/* Verify must fail at seq `want` with a message containing `word`. */
static void
au_expect_broken(pw_security *s, uint64_t want, const char *word)
{
    uint64_t checked = 0, bad = 0;
    char     msg[256];
    pw_err   e = pw_audit_verify(s, &checked, &bad, msg, sizeof msg);

    if (e != PW_EPROTO || bad != want || strstr(msg, word) == NULL)
        fail_msg("verify: %s, bad seq %llu (want %llu): \"%s\" (want \"%s\")", pw_strerror(e),
            (unsigned long long) bad, (unsigned long long) want, msg, word);
}

/* ---- raw LMDB, as an intruder with write access to security.mdb -------------- */

typedef struct au_raw au_raw;
struct au_raw {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi  audit, meta;
};

/* Closes the handle (one LMDB env per file and process) and opens the file raw. */
static void
au_raw_begin(au_state *st, au_raw *raw)
{
    char path[512];

    pw_security_close(st->s);
    st->s = NULL;
    snprintf(path, sizeof path, "%s/security.mdb", st->dir);
    assert_int_equal(mdb_env_create(&raw->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(raw->env, 8), 0);
    assert_int_equal(mdb_env_open(raw->env, path, MDB_NOSUBDIR, 0640), 0);
    assert_int_equal(mdb_txn_begin(raw->env, NULL, 0, &raw->txn), 0);
    assert_int_equal(mdb_dbi_open(raw->txn, "audit", 0, &raw->audit), 0);
    assert_int_equal(mdb_dbi_open(raw->txn, "audit_meta", 0, &raw->meta), 0);
}

static void
au_raw_end(au_state *st, au_raw *raw)
{
    assert_int_equal(mdb_txn_commit(raw->txn), 0);
    mdb_env_close(raw->env);
    st->s = au_open(st->dir);
}

/* A copy of record seq's bytes (malloc'd; *len its size). */
static unsigned char *
au_raw_get(au_raw *raw, uint64_t seq, size_t *len)
{
    unsigned char  key[8], *copy;
    MDB_val        k = { 8, key }, v;

    pw_put_be64(key, seq);
    assert_int_equal(mdb_get(raw->txn, raw->audit, &k, &v), 0);
    copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return copy;
}

static void
au_raw_put(au_raw *raw, uint64_t seq, const unsigned char *val, size_t len)
{
    unsigned char key[8];
    MDB_val       k = { 8, key }, v = { len, (void *) val };

    pw_put_be64(key, seq);
    assert_int_equal(mdb_put(raw->txn, raw->audit, &k, &v, 0), 0);
}

static void
au_raw_del(au_raw *raw, uint64_t seq)
{
    unsigned char key[8];
    MDB_val       k = { 8, key };

    pw_put_be64(key, seq);
    assert_int_equal(mdb_del(raw->txn, raw->audit, &k, NULL), 0);
}

/* Flips one bit of the byte at off (negative: from the end) of record seq. */
static void
au_flip(au_state *st, uint64_t seq, long off)
{
    au_raw         raw;
    size_t         len;
    unsigned char *v;

    au_raw_begin(st, &raw);
    v = au_raw_get(&raw, seq, &len);
    v[off < 0 ? (long) len + off : off] ^= 0x04;
    au_raw_put(&raw, seq, v, len);
    free(v);
    au_raw_end(st, &raw);
}

/* ---- append, scan, verify ----------------------------------------------------- */

static void
test_append_scan(void **state)
{
    au_state    *st = *state;
    au_list      l = { 0 };
    pw_audit_rec r;

    au_fill(st, 10);
    assert_int_equal(pw_audit_scan(st->s, st->t0 + 3000, st->t0 + 6000, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 4);
    for (size_t i = 0; i < l.n; i++) {
        char want[32];

        assert_int_equal(l.r[i].seq, 3 + i);
        assert_int_equal(l.r[i].ts_ms, st->t0 + (int64_t) (3 + i) * 1000);
        snprintf(want, sizeof want, "obj %zu", 3 + i);
        assert_string_equal(l.r[i].object, want);
        assert_string_equal(l.r[i].principal, "ops");
        assert_string_equal(l.r[i].token_id, "0123456789ab");
        assert_string_equal(l.r[i].source, "127.0.0.1:5000");
        assert_string_equal(l.r[i].action, "GET /api/v1/query_range");
        assert_int_equal(l.r[i].role, PW_ROLE_OPERATOR);
        assert_int_equal(l.r[i].result, PW_AUDIT_OK);
    }
    /* Bounds between records, everything, nothing, a reversed range. */
    memset(&l, 0, sizeof l);
    assert_int_equal(pw_audit_scan(st->s, st->t0 + 2500, st->t0 + 2600, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(pw_audit_scan(st->s, INT64_MIN, INT64_MAX, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 10);
    memset(&l, 0, sizeof l);
    assert_int_equal(pw_audit_scan(st->s, st->t0 + 10001, INT64_MAX, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(pw_audit_scan(st->s, st->t0 + 5000, st->t0 + 4000, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 0);
    /* Stopped by the callback. */
    l.stop = 2;
    assert_int_equal(pw_audit_scan(st->s, INT64_MIN, INT64_MAX, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 2);

    /* A clock that steps back does not put records out of time order. */
    assert_int_equal(au_append(st->s, st->t0, 11), 11);
    memset(&l, 0, sizeof l);
    assert_int_equal(pw_audit_scan(st->s, st->t0 + 10000, st->t0 + 10000, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.r[1].seq, 11);
    /* ts 0 means now. */
    pw_audit_rec_init(&r, NULL, "cli", "x", NULL);
    assert_int_equal(pw_audit_append(st->s, &r), PW_OK);
    assert_int_equal(r.seq, 12);
    assert_true(r.ts_ms >= pw_now_ms() - 60000);
    au_expect_intact(st->s, 12);
}

static void
test_append_checks(void **state)
{
    au_state    *st = *state;
    pw_audit_rec r;
    au_list      l = { 0 };

    pw_audit_rec_init(&r, NULL, "cli", "x", NULL);
    r.role = (pw_role) 9;
    assert_int_equal(pw_audit_append(st->s, &r), PW_EINVAL);
    r.role = PW_ROLE_NONE;
    r.result = PW_AUDIT_RESULT_COUNT_;
    assert_int_equal(pw_audit_append(st->s, &r), PW_EINVAL);
    /* Not UTF-8 (a hostile query): stored with '?' for each bad byte, nothing lost around it. */
    r.result = PW_AUDIT_DENIED;
    snprintf(r.object, sizeof r.object, "a\xff\xfe b \xc3\xa9 \xe2\x82 c\n\"q\"");
    snprintf(r.detail, sizeof r.detail, "role tenant may not call it");
    /* A field without its NUL is cut at its size. */
    memset(r.source, 'x', sizeof r.source);
    assert_int_equal(pw_audit_append(st->s, &r), PW_OK);
    assert_int_equal(r.seq, 1);
    assert_int_equal(pw_audit_scan(st->s, INT64_MIN, INT64_MAX, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.r[0].object, "a?? b \xc3\xa9 ?? c\n\"q\"");
    assert_string_equal(l.r[0].detail, "role tenant may not call it");
    assert_int_equal(strlen(l.r[0].source), sizeof r.source - 1);
    assert_int_equal(l.r[0].result, PW_AUDIT_DENIED);
    assert_string_equal(l.r[0].principal, "anonymous");
    au_expect_intact(st->s, 1);
    assert_string_equal(pw_audit_result_name(PW_AUDIT_OK), "ok");
    assert_string_equal(pw_audit_result_name(PW_AUDIT_DENIED), "denied");
    assert_string_equal(pw_audit_result_name(PW_AUDIT_UNAUTHENTICATED), "unauthenticated");
    assert_string_equal(pw_audit_result_name(PW_AUDIT_FAILED), "failed");
    assert_string_equal(pw_audit_result_name((pw_audit_result) 77), "unknown");
}

static void
test_rec_init(void **state)
{
    pw_audit_rec r;
    pw_principal who = { .role = PW_ROLE_TENANT, .token_id = "00112233aabb", .tenant = "unit-a" };
    char         longobj[400];

    (void) state;
    pw_audit_rec_init(&r, &who, "10.0.0.1:1", "GET /x", "q");
    assert_string_equal(r.principal, "00112233aabb");   /* no name: the id */
    assert_string_equal(r.tenant, "unit-a");
    assert_int_equal(r.role, PW_ROLE_TENANT);
    assert_int_equal(r.seq, 0);
    assert_int_equal(r.ts_ms, 0);
    snprintf(who.name, sizeof who.name, "dash");
    pw_audit_rec_init(&r, &who, NULL, NULL, NULL);
    assert_string_equal(r.principal, "dash");
    assert_string_equal(r.source, "");
    /* Long text is cut at a character boundary: 2-byte characters, odd field room. */
    for (size_t i = 0; i + 2 < sizeof longobj; i += 2)
        memcpy(longobj + i, "\xc3\xa9", 2);
    longobj[sizeof longobj - 2] = '\0';
    pw_audit_rec_init(&r, NULL, NULL, NULL, longobj);
    assert_int_equal(strlen(r.object), sizeof r.object - 2);
}

static void
test_verify_empty_and_intact(void **state)
{
    au_state     *st = *state;
    unsigned char h[32], h2[32];
    uint64_t      seq = 0;

    au_expect_intact(st->s, 0);
    assert_int_equal(pw_audit_hash(st->s, 0, &seq, h), PW_ENOENT);
    au_fill(st, 10);
    au_expect_intact(st->s, 10);
    assert_int_equal(pw_audit_hash(st->s, 0, &seq, h), PW_OK);
    assert_int_equal(seq, 10);
    assert_int_equal(pw_audit_hash(st->s, 10, &seq, h2), PW_OK);
    assert_memory_equal(h, h2, 32);
    assert_int_equal(pw_audit_hash(st->s, 3, &seq, h2), PW_OK);
    assert_int_equal(seq, 3);
    assert_memory_not_equal(h, h2, 32);
    assert_int_equal(pw_audit_hash(st->s, 11, &seq, h2), PW_ENOENT);
    /* Reopened, and read-only: the same. */
    pw_security_close(st->s);
    assert_int_equal(pw_security_open(st->dir, true, &st->s, NULL, 0), PW_OK);
    au_expect_intact(st->s, 10);
    {
        pw_audit_rec r;

        pw_audit_rec_init(&r, NULL, NULL, "x", NULL);
        assert_int_equal(pw_audit_append(st->s, &r), PW_EINVAL);
        assert_int_equal(pw_audit_expire(st->s, pw_now_ms(), PW_AUDIT_DEF_RETENTION_MS, NULL),
            PW_EINVAL);
    }
}

/* ---- tampering ------------------------------------------------------------------- */

static void
test_tamper_alter(void **state)
{
    au_state     *st = *state;
    unsigned char before[32], after[32];

    au_fill(st, 10);
    assert_int_equal(pw_audit_hash(st->s, 5, NULL, before), PW_OK);
    /* The last character of record 5's object (after it: the empty detail's length). */
    au_flip(st, 5, -3);
    au_expect_broken(st->s, 5, "record 5 was altered");
    {
        uint64_t checked = 0, bad = 0;

        /* Found through record 6's link, but only the 4 before record 5 count as intact. */
        assert_int_equal(pw_audit_verify(st->s, &checked, &bad, NULL, 0), PW_EPROTO);
        assert_int_equal(bad, 5);
        assert_int_equal(checked, 4);
    }
    /* Its hash changed too: what --expect checks. */
    assert_int_equal(pw_audit_hash(st->s, 5, NULL, after), PW_OK);
    assert_memory_not_equal(before, after, 32);
    au_flip(st, 5, -3);
    au_expect_intact(st->s, 10);

    /* The chain link (prev hash) inside record 5. */
    au_flip(st, 5, 19 + 7);
    au_expect_broken(st->s, 5, "record 5 was altered");
    au_flip(st, 5, 19 + 7);
    /* Its timestamp, its role, its seq field, its version. */
    au_flip(st, 5, 9 + 6);
    au_expect_broken(st->s, 5, "record 5 was altered");
    au_flip(st, 5, 9 + 6);
    au_flip(st, 5, 17);
    au_expect_broken(st->s, 5, "record 5");
    au_flip(st, 5, 17);
    au_flip(st, 5, 8);
    au_expect_broken(st->s, 5, "says it is seq");
    au_flip(st, 5, 8);
    au_flip(st, 5, 0);      /* version 5: read as a newer record, caught by its hash */
    au_expect_broken(st->s, 5, "record 5 was altered");
    au_flip(st, 5, 0);
    au_expect_intact(st->s, 10);

    /* The first record (linked to the zero anchor) and the last (only the head hash knows it). */
    au_flip(st, 1, -3);
    au_expect_broken(st->s, 1, "record 1 was altered");
    au_flip(st, 1, -3);
    au_flip(st, 1, 19);
    au_expect_broken(st->s, 1, "record 1 was altered");
    au_flip(st, 1, 19);
    au_flip(st, 10, -3);
    au_expect_broken(st->s, 10, "record 10 was altered");
    au_flip(st, 10, -3);
    au_flip(st, 10, 30);
    au_expect_broken(st->s, 10, "record 10 was altered");
    au_flip(st, 10, 30);
    au_expect_intact(st->s, 10);
}

static void
test_tamper_truncate(void **state)
{
    au_state      *st = *state;
    au_raw         raw;
    size_t         len;
    unsigned char *v;
    au_list        l = { 0 };

    au_fill(st, 10);
    au_raw_begin(st, &raw);
    v = au_raw_get(&raw, 7, &len);
    au_raw_put(&raw, 7, v, len - 1);
    free(v);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 7, "cannot be read");
    /* A scan over the damage says so instead of skipping it. */
    assert_int_equal(pw_audit_scan(st->s, INT64_MIN, INT64_MAX, au_collect, &l), PW_EPROTO);
    assert_int_equal(l.n, 6);
}

static void
test_tamper_delete(void **state)
{
    au_state *st = *state;
    au_raw    raw;

    au_fill(st, 10);
    au_raw_begin(st, &raw);
    au_raw_del(&raw, 5);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 5, "record 5 is missing");
    {
        uint64_t checked = 0, bad = 0;

        assert_int_equal(pw_audit_verify(st->s, &checked, &bad, NULL, 0), PW_EPROTO);
        assert_int_equal(bad, 5);
        assert_int_equal(checked, 4);
    }

    au_raw_begin(st, &raw);
    au_raw_del(&raw, 6);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 5, "records 5..6 are missing");
}

static void
test_tamper_delete_ends(void **state)
{
    au_state *st = *state;
    au_raw    raw;

    au_fill(st, 10);
    au_raw_begin(st, &raw);
    au_raw_del(&raw, 10);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 10, "record 10, the newest, is missing");
    au_raw_begin(st, &raw);
    au_raw_del(&raw, 9);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 9, "records 9..10, the newest, are missing");
    au_raw_begin(st, &raw);
    au_raw_del(&raw, 1);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 1, "record 1 is missing");
}

/* An empty log whose head says there were records. */
static void
test_tamper_delete_all(void **state)
{
    au_state *st = *state;
    au_raw    raw;

    au_fill(st, 3);
    au_raw_begin(st, &raw);
    for (uint64_t i = 1; i <= 3; i++)
        au_raw_del(&raw, i);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 1, "records 1..3, the newest, are missing");
}

static void
test_tamper_swap(void **state)
{
    au_state      *st = *state;
    au_raw         raw;
    size_t         l5, l6;
    unsigned char *v5, *v6;

    au_fill(st, 10);
    au_raw_begin(st, &raw);
    v5 = au_raw_get(&raw, 5, &l5);
    v6 = au_raw_get(&raw, 6, &l6);
    au_raw_put(&raw, 5, v6, l6);
    au_raw_put(&raw, 6, v5, l5);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 5, "reordered");

    /* Swapped again, with each seq field rewritten to fit its new place. */
    au_raw_begin(st, &raw);
    pw_put_be64(v6 + 1, 5);
    pw_put_be64(v5 + 1, 6);
    au_raw_put(&raw, 5, v6, l6);
    au_raw_put(&raw, 6, v5, l5);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 5, "record 5 was altered");
    free(v5);
    free(v6);
}

static void
test_tamper_insert(void **state)
{
    au_state      *st = *state;
    au_raw         raw;
    size_t         len;
    unsigned char *v, key[8];
    MDB_val        k = { 8, key }, val;

    au_fill(st, 10);
    /* A well-formed record 11 that links to record 10, but the head was not moved. */
    au_raw_begin(st, &raw);
    v = au_raw_get(&raw, 10, &len);
    pw_put_be64(key, 10);
    assert_int_equal(mdb_get(raw.txn, raw.audit, &k, &val), 0);
    crypto_hash_sha256(v + 19, val.mv_data, val.mv_size);
    pw_put_be64(v + 1, 11);
    au_raw_put(&raw, 11, v, len);
    free(v);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 11, "after the recorded head");
    /* And appends refuse to write over it (MDB_APPEND: the key exists). */
    {
        pw_audit_rec r;

        pw_audit_rec_init(&r, NULL, NULL, "x", NULL);
        assert_int_not_equal(pw_audit_append(st->s, &r), PW_OK);
    }

    /* A record slipped in before the first one (key 0). */
    au_raw_begin(st, &raw);
    au_raw_del(&raw, 11);
    v = au_raw_get(&raw, 1, &len);
    au_raw_put(&raw, 0, v, len);
    free(v);
    au_raw_end(st, &raw);
    au_expect_broken(st->s, 0, "before the anchor");
}

/* An intruder who rewrites the chain from a record on: only a hash kept elsewhere shows it. */
static void
test_rewrite_needs_expect(void **state)
{
    au_state      *st = *state;
    au_raw         raw;
    unsigned char  kept[32], now[32], prev[32], head[8 + 32 + 8];
    unsigned char  hk_name[] = "head";
    MDB_val        hk = { 4, hk_name }, hv;

    au_fill(st, 10);
    assert_int_equal(pw_audit_hash(st->s, 7, NULL, kept), PW_OK);
    au_raw_begin(st, &raw);
    for (uint64_t seq = 5; seq <= 10; seq++) {
        size_t         len;
        unsigned char *v = au_raw_get(&raw, seq, &len);

        if (seq == 5)
            v[len - 3] ^= 1;    /* the change: a character of the object */
        else
            memcpy(v + 19, prev, 32);
        crypto_hash_sha256(prev, v, len);
        au_raw_put(&raw, seq, v, len);
        free(v);
    }
    assert_int_equal(mdb_get(raw.txn, raw.meta, &hk, &hv), 0);
    memcpy(head, hv.mv_data, sizeof head);
    memcpy(head + 8, prev, 32);
    hv.mv_data = head;
    hv.mv_size = sizeof head;
    assert_int_equal(mdb_put(raw.txn, raw.meta, &hk, &hv, 0), 0);
    au_raw_end(st, &raw);
    au_expect_intact(st->s, 10);
    assert_int_equal(pw_audit_hash(st->s, 7, NULL, now), PW_OK);
    assert_memory_not_equal(kept, now, 32);
}

/* ---- expiry ------------------------------------------------------------------------ */

static void
test_expire(void **state)
{
    au_state *st = *state;
    int64_t   now = st->t0 + 400 * AU_DAY;
    uint64_t  removed = 99;
    au_list   l = { 0 };

    /* 20 records, 20 days apart, the newest now. */
    for (int i = 0; i < 20; i++)
        au_append(st->s, now - (19 - i) * 20 * AU_DAY, i);
    assert_int_equal(pw_audit_expire(st->s, now, 182 * AU_DAY, &removed), PW_EINVAL);
    assert_int_equal(removed, 0);
    assert_int_equal(pw_audit_expire(st->s, now, PW_AUDIT_MIN_RETENTION_MS - 1, NULL), PW_EINVAL);
    au_expect_intact(st->s, 20);
    /* Older than 200 days: 9 records (the one at exactly 200 days stays). */
    assert_int_equal(pw_audit_expire(st->s, now, 200 * AU_DAY, &removed), PW_OK);
    assert_int_equal(removed, 9);
    au_expect_intact(st->s, 12);    /* 11 left + the expiry's own record */
    assert_int_equal(pw_audit_scan(st->s, INT64_MIN, INT64_MAX, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 12);
    assert_int_equal(l.r[0].seq, 10);
    assert_int_equal(l.r[11].seq, 21);
    assert_string_equal(l.r[11].action, "audit.expire");
    assert_string_equal(l.r[11].principal, "system");
    assert_non_null(strstr(l.r[11].object, "seq 1..9: 9 records older than"));
    /* Nothing more to do: nothing removed, nothing recorded. */
    assert_int_equal(pw_audit_expire(st->s, now, 200 * AU_DAY, &removed), PW_OK);
    assert_int_equal(removed, 0);
    au_expect_intact(st->s, 12);
    /* The minimum is allowed. */
    assert_int_equal(pw_audit_expire(st->s, now, PW_AUDIT_MIN_RETENTION_MS, &removed), PW_OK);
    assert_int_equal(removed, 1);   /* the one at 200 days */
    au_expect_intact(st->s, 12);

    /* The anchor itself altered: the first record no longer links to it. */
    {
        au_raw        raw;
        unsigned char name[] = "anchor", val[40];
        MDB_val       k = { 6, name }, v;

        au_raw_begin(st, &raw);
        assert_int_equal(mdb_get(raw.txn, raw.meta, &k, &v), 0);
        assert_int_equal(v.mv_size, 40);
        assert_int_equal(pw_get_be64(v.mv_data), 10);
        memcpy(val, v.mv_data, 40);
        val[20] ^= 1;
        v.mv_data = val;
        assert_int_equal(mdb_put(raw.txn, raw.meta, &k, &v, 0), 0);
        au_raw_end(st, &raw);
        au_expect_broken(st->s, 11, "does not link to the anchor");
        au_raw_begin(st, &raw);
        val[20] ^= 1;
        assert_int_equal(mdb_put(raw.txn, raw.meta, &k, &v, 0), 0);
        au_raw_end(st, &raw);
        au_expect_intact(st->s, 12);
    }

    /* After expiry, tampering at the new start is still found. */
    {
        au_raw raw;

        au_raw_begin(st, &raw);
        au_raw_del(&raw, 11);
        au_raw_end(st, &raw);
        au_expect_broken(st->s, 11, "record 11 is missing");
    }
}

static void
test_expire_everything_many_txns(void **state)
{
    au_state *st = *state;
    int64_t   now = st->t0 + 1000 * AU_DAY;
    uint64_t  removed = 0;
    au_list   l = { 0 };

    for (int i = 0; i < 700; i++)
        au_append(st->s, st->t0 + i, i);
    assert_int_equal(pw_audit_expire(st->s, now, PW_AUDIT_DEF_RETENTION_MS, &removed), PW_OK);
    assert_int_equal(removed, 700);
    au_expect_intact(st->s, 1);
    assert_int_equal(pw_audit_scan(st->s, INT64_MIN, INT64_MAX, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.r[0].seq, 701);
    assert_non_null(strstr(l.r[0].object, "seq 1..700: 700 records"));
    /* New records go on from there. */
    assert_int_equal(au_append(st->s, now, 1), 702);
    au_expect_intact(st->s, 2);
    /* Even the expiry record itself expires in time; the anchor keeps the chain. */
    assert_int_equal(pw_audit_expire(st->s, now + 500 * AU_DAY, PW_AUDIT_DEF_RETENTION_MS,
        &removed), PW_OK);
    assert_int_equal(removed, 2);
    au_expect_intact(st->s, 1);
}

/* Expiry must not turn an altered old record into the new anchor. */
static void
test_expire_no_laundering(void **state)
{
    au_state *st = *state;
    int64_t   now = st->t0 + 400 * AU_DAY;
    uint64_t  removed = 99;

    for (int i = 1; i <= 10; i++)
        au_append(st->s, st->t0 + i, i);
    au_append(st->s, now, 11);
    au_flip(st, 3, -3);
    au_expect_broken(st->s, 3, "record 3 was altered");
    assert_int_equal(pw_audit_expire(st->s, now, PW_AUDIT_MIN_RETENTION_MS, &removed), PW_EPROTO);
    assert_int_equal(removed, 0);
    au_expect_broken(st->s, 3, "record 3 was altered");

    /* Removed records: expiry stops at the gap too. */
    au_flip(st, 3, -3);
    {
        au_raw raw;

        au_raw_begin(st, &raw);
        au_raw_del(&raw, 2);
        au_raw_end(st, &raw);
    }
    assert_int_equal(pw_audit_expire(st->s, now, PW_AUDIT_MIN_RETENTION_MS, &removed), PW_EPROTO);
    au_expect_broken(st->s, 2, "record 2 is missing");
}

/* ---- audited token changes ------------------------------------------------------------ */

static void
test_audited_tokens(void **state)
{
    au_state     *st = *state;
    pw_audit_rec  by;
    pw_principal  admin = { .role = PW_ROLE_ADMIN, .token_id = "aaaaaaaaaaaa", .name = "root" };
    pw_token_info info;
    char          tok[PW_TOKEN_MAX];
    au_list       l = { 0 };

    pw_audit_rec_init(&by, &admin, "10.1.1.1:4000", NULL, NULL);
    assert_int_equal(pw_token_create_audited(st->s, &by, PW_ROLE_TENANT, "unit-a", "dash", 0,
        tok, sizeof tok, &info), PW_OK);
    assert_int_equal(by.seq, 1);
    assert_string_equal(by.action, "token.create");
    pw_audit_rec_init(&by, &admin, "10.1.1.1:4000", NULL, NULL);
    assert_int_equal(pw_token_create_audited(st->s, &by, PW_ROLE_ADMIN, "unit-a", NULL, 0,
        tok, sizeof tok, NULL), PW_EINVAL);
    assert_int_equal(by.seq, 2);
    pw_audit_rec_init(&by, &admin, "10.1.1.1:4000", NULL, NULL);
    assert_int_equal(pw_token_revoke_audited(st->s, &by, info.id, pw_now_ms()), PW_OK);
    assert_int_equal(by.seq, 3);
    pw_audit_rec_init(&by, &admin, "10.1.1.1:4000", NULL, NULL);
    assert_int_equal(pw_token_revoke_audited(st->s, &by, "ffffffffffff", pw_now_ms()), PW_ENOENT);
    pw_audit_rec_init(&by, &admin, "10.1.1.1:4000", NULL, NULL);
    assert_int_equal(pw_token_revoke_audited(st->s, &by, info.id, pw_now_ms()), PW_OK);

    assert_int_equal(pw_audit_scan(st->s, INT64_MIN, INT64_MAX, au_collect, &l), PW_OK);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.r[0].action, "token.create");
    assert_int_equal(l.r[0].result, PW_AUDIT_OK);
    assert_string_equal(l.r[0].principal, "root");
    assert_string_equal(l.r[0].token_id, "aaaaaaaaaaaa");
    assert_string_equal(l.r[0].source, "10.1.1.1:4000");
    assert_memory_equal(l.r[0].object, info.id, PW_TOKEN_ID_LEN);
    assert_non_null(strstr(l.r[0].object, "role=tenant tenant=unit-a"));
    assert_non_null(strstr(l.r[0].object, "name=dash"));
    assert_null(strstr(l.r[0].object, tok + 17));   /* never the secret */
    assert_int_equal(l.r[1].result, PW_AUDIT_FAILED);
    assert_non_null(strstr(l.r[1].detail, "only tenant tokens have a tenant"));
    assert_string_equal(l.r[2].action, "token.revoke");
    assert_int_equal(l.r[2].result, PW_AUDIT_OK);
    assert_int_equal(l.r[3].result, PW_AUDIT_FAILED);
    assert_string_equal(l.r[3].detail, "no such token");
    assert_non_null(strstr(l.r[4].object, "already revoked"));
    au_expect_intact(st->s, 5);
}

/* ---- concurrency and map growth -------------------------------------------------------- */

typedef struct au_thread au_thread;
struct au_thread {
    pw_security *s;
    int          id, errors;
};

static void *
au_worker(void *arg)
{
    au_thread *t = arg;

    for (int i = 0; i < 250; i++) {
        pw_audit_rec r;
        char         obj[64];

        snprintf(obj, sizeof obj, "thread %d record %d with some text to fill pages", t->id, i);
        pw_audit_rec_init(&r, NULL, "test", "append", obj);
        if (pw_audit_append(t->s, &r) != PW_OK)
            t->errors++;
        if (i % 50 == 0) {
            uint64_t checked;

            if (pw_audit_verify(t->s, &checked, NULL, NULL, 0) != PW_OK)
                t->errors++;
        }
    }
    return NULL;
}

static void
test_concurrent_growth(void **state)
{
    pw_security *s = NULL;
    char        *dir = tf_tmpdir(), msg[256];
    pthread_t    th[4];
    au_thread    args[4];
    MDB_envinfo  info;

    (void) state;
    assert_int_equal(pwsec_open_sized(dir, false, 64 << 10, &s, msg, sizeof msg), PW_OK);
    for (int i = 0; i < 4; i++) {
        args[i] = (au_thread) { s, i, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, au_worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
    }
    mdb_env_info(s->env, &info);
    assert_true(info.me_mapsize > (64 << 10));
    au_expect_intact(s, 1000);
    pw_security_close(s);
    tf_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_scan, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_append_checks, au_setup, au_teardown),
        cmocka_unit_test(test_rec_init),
        cmocka_unit_test_setup_teardown(test_verify_empty_and_intact, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_alter, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_truncate, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_ends, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_all, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_swap, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_insert, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_needs_expect, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_expire, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_expire_everything_many_txns, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_expire_no_laundering, au_setup, au_teardown),
        cmocka_unit_test_setup_teardown(test_audited_tokens, au_setup, au_teardown),
        cmocka_unit_test(test_concurrent_growth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
