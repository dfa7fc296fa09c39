/*
 * chunk_heads_test.c - the open chunks table in both layouts against an
 * in-memory model: random puts, deletes, gets and walks over many series,
 * across transactions (committed and aborted) and a reopen; the group
 * record's bytes; malformed records refused, not crashed on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "bytes.h"
#include "chunk_heads.h"
#include "test_fixture.h"

#define NS 300                  /* series ids 1..NS: several groups, a partial last one */

typedef struct th th;
struct th {
    char      *dir;
    MDB_env   *env;
    pwh_table  t;
    bool       grouped;
    /* the model: each id's bytes, len 0 = none */
    unsigned char *val[NS + 1];
    size_t         len[NS + 1];
};

static void
th_open(th *c)
{
    MDB_txn *txn;

    assert_int_equal(mdb_env_create(&c->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(c->env, 4), 0);
    assert_int_equal(mdb_env_set_mapsize(c->env, 256u << 20), 0);
    assert_int_equal(mdb_env_open(c->env, c->dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(c->env, NULL, 0, &txn), 0);
    assert_int_equal(pwh_table_open(txn, MDB_CREATE, c->grouped, &c->t), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void
th_init(th *c, bool grouped)
{
    memset(c, 0, sizeof *c);
    c->dir = tf_tmpdir();
    c->grouped = grouped;
    th_open(c);
}

static void
th_done(th *c)
{
    mdb_env_close(c->env);
    for (int i = 0; i <= NS; i++)
        free(c->val[i]);
    tf_rmdir(c->dir);
}

/* Bytes of size n for id, version v: every byte says which. */
static void
th_bytes(unsigned char *b, size_t n, uint64_t id, unsigned v)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char) (id * 31 + v * 7 + i);
}

/* Every id reads back as the model says, by get and by a walk from 0. */
static void
th_check(th *c, MDB_txn *txn)
{
    pwh      h;
    MDB_val  v;
    uint64_t id, from = 0;
    size_t   walked = 0, want = 0;
    int      rc;

    pwh_begin(&h, &c->t, txn, false);
    for (uint64_t i = 1; i <= NS; i++) {
        rc = pwh_get(&h, i, &v);
        if (c->len[i] == 0) {
            assert_int_equal(rc, MDB_NOTFOUND);
            continue;
        }
        want++;
        assert_int_equal(rc, 0);
        assert_int_equal(v.mv_size, c->len[i]);
        assert_memory_equal(v.mv_data, c->val[i], c->len[i]);
    }
    assert_int_equal(pwh_get(&h, NS + 1000, &v), MDB_NOTFOUND);
    while ((rc = pwh_next(&h, from, &id, &v)) == 0) {
        assert_true(id >= from && id <= NS);
        for (uint64_t i = from ? from : 1; i < id; i++)
            assert_int_equal(c->len[i], 0);     /* the walk skipped nothing */
        assert_int_equal(v.mv_size, c->len[id]);
        assert_memory_equal(v.mv_data, c->val[id], c->len[id]);
        walked++;
        from = id + 1;
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    assert_int_equal(walked, want);
    assert_int_equal(pwh_end(&h, 0), 0);
}

/* n random edits in one write txn, committed (keep) or aborted. */
static void
th_edit(th *c, unsigned *seed, int n, size_t maxlen, bool keep)
{
    static unsigned char buf[70000];
    unsigned char       *saved[NS + 1];
    size_t               savedlen[NS + 1];
    MDB_txn             *txn;
    pwh                  h;
    MDB_val              v;
    uint64_t             id = 1;

    for (int i = 0; i <= NS; i++) {
        savedlen[i] = c->len[i];
        saved[i] = c->len[i] ? malloc(c->len[i]) : NULL;
        if (saved[i] != NULL)
            memcpy(saved[i], c->val[i], c->len[i]);
    }
    assert_int_equal(mdb_txn_begin(c->env, NULL, 0, &txn), 0);
    pwh_begin(&h, &c->t, txn, true);
    for (int i = 0; i < n; i++) {
        unsigned r = (unsigned) rand_r(seed);

        /* mostly runs of consecutive ids, as a sorted batch has them; now and then a jump */
        id = (r % 8 == 0) ? 1 + (uint64_t) (rand_r(seed) % NS) : id % NS + 1;
        switch (r % 5) {
        case 0:                                            /* delete */
            assert_int_equal(pwh_del(&h, id), c->len[id] ? 0 : MDB_NOTFOUND);
            c->len[id] = 0;
            break;
        case 1:                                            /* read, then put it back longer */
            if (c->len[id] && pwh_get(&h, id, &v) == 0) {
                assert_int_equal(v.mv_size, c->len[id]);
                assert_memory_equal(v.mv_data, c->val[id], c->len[id]);
                /* the view's own bytes as the source */
                assert_int_equal(pwh_put(&h, id, v.mv_data, v.mv_size), 0);
                break;
            }
            /* fall through */
        default: {                                         /* put new bytes */
            size_t   len = 1 + (size_t) rand_r(seed) % maxlen;
            unsigned ver = (unsigned) rand_r(seed);

            th_bytes(buf, len, id, ver);
            assert_int_equal(pwh_put(&h, id, buf, len), 0);
            c->val[id] = realloc(c->val[id], len);
            memcpy(c->val[id], buf, len);
            c->len[id] = len;
        }
        }
    }
    assert_int_equal(pwh_end(&h, 0), 0);
    th_check(c, txn);                  /* the same txn sees its own writes */
    if (keep) {
        assert_int_equal(mdb_txn_commit(txn), 0);
    } else {
        mdb_txn_abort(txn);
        for (int i = 0; i <= NS; i++) {
            free(c->val[i]);
            c->val[i] = saved[i];
            c->len[i] = savedlen[i];
            saved[i] = NULL;
        }
    }
    for (int i = 0; i <= NS; i++)
        free(saved[i]);
}

static void
th_check_committed(th *c)
{
    MDB_txn *txn;

    assert_int_equal(mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn), 0);
    th_check(c, txn);
    mdb_txn_abort(txn);
}

static void
run_model(bool grouped)
{
    th       c;
    unsigned seed = grouped ? 7 : 11;

    th_init(&c, grouped);
    th_check_committed(&c);                             /* empty */
    for (int round = 0; round < 40; round++) {
        /* small chunks (records in leaves), then chunks that push groups into overflow pages */
        size_t maxlen = round < 10 ? 40 : round < 30 ? 400 : 3000;

        th_edit(&c, &seed, 200, maxlen, round % 7 != 3);
        th_check_committed(&c);
    }
    mdb_env_close(c.env);
    th_open(&c);                                        /* read back after a reopen */
    th_check_committed(&c);
    th_done(&c);
}

static void
test_model_per_series(void **state)
{
    (void) state;
    run_model(false);
}

static void
test_model_grouped(void **state)
{
    (void) state;
    run_model(true);
}

/* The group record's bytes are the documented ones; an empty group has no record. */
static void
test_group_record_bytes(void **state)
{
    th       c;
    MDB_txn *txn;
    pwh      h;
    MDB_val  k, v;
    unsigned char kb[8], want[] = { PWH_VERSION, 0, 2, 'a', 'b', 63, 1, 'z' };

    (void) state;
    th_init(&c, true);
    assert_int_equal(mdb_txn_begin(c.env, NULL, 0, &txn), 0);
    pwh_begin(&h, &c.t, txn, true);
    assert_int_equal(pwh_put(&h, PWH_GROUP + 1, "ab", 2), 0);       /* group 1, slot 0 */
    assert_int_equal(pwh_put(&h, 2 * PWH_GROUP, "z", 1), 0);        /* group 1, slot 63 */
    assert_int_equal(pwh_put(&h, 5, "q", 1), 0);                    /* group 0, then emptied */
    assert_int_equal(pwh_del(&h, 5), 0);
    assert_int_equal(pwh_put(&h, 1, "x", 0), EINVAL);               /* chunks are never empty */
    assert_int_equal(pwh_end(&h, 0), 0);
    pw_put_be64(kb, 1);
    k.mv_size = 8;
    k.mv_data = kb;
    assert_int_equal(mdb_get(txn, c.t.dbi, &k, &v), 0);
    assert_int_equal(v.mv_size, sizeof want);
    assert_memory_equal(v.mv_data, want, sizeof want);
    pw_put_be64(kb, 0);
    assert_int_equal(mdb_get(txn, c.t.dbi, &k, &v), MDB_NOTFOUND);
    /* a failing call writes nothing */
    pwh_begin(&h, &c.t, txn, true);
    assert_int_equal(pwh_put(&h, 3, "w", 1), 0);
    assert_int_equal(pwh_end(&h, MDB_MAP_FULL), MDB_MAP_FULL);
    assert_int_equal(mdb_get(txn, c.t.dbi, &k, &v), MDB_NOTFOUND);
    mdb_txn_abort(txn);
    th_done(&c);
}

/* Malformed group records give MDB_CORRUPTED to every call, never a crash or a wrong read. */
static void
test_malformed_groups(void **state)
{
    static const struct {
        const char *bytes;
        size_t      len;
    } bad[] = {
        { "", 0 },                      /* empty */
        { "\x02\x00\x01x", 4 },         /* unknown version */
        { "\x01\x40\x01x", 4 },         /* slot 64 */
        { "\x01\x03\x01x\x03\x01y", 7 },  /* slot repeated */
        { "\x01\x05\x01x\x02\x01y", 7 },  /* slots out of order */
        { "\x01\x00\x00", 3 },          /* zero length */
        { "\x01\x00\x05xy", 5 },        /* length past the end */
        { "\x01\x00\xff", 3 },          /* length cut short */
        { "\x01\x00", 2 },              /* slot without a length */
    };
    (void) state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        th       c;
        MDB_txn *txn;
        pwh      h;
        MDB_val  k, v;
        uint64_t id;
        unsigned char kb[8];

        th_init(&c, true);
        assert_int_equal(mdb_txn_begin(c.env, NULL, 0, &txn), 0);
        pw_put_be64(kb, 0);
        k.mv_size = 8;
        k.mv_data = kb;
        v.mv_size = bad[i].len;
        v.mv_data = (void *) bad[i].bytes;
        assert_int_equal(mdb_put(txn, c.t.dbi, &k, &v, 0), 0);
        pwh_begin(&h, &c.t, txn, false);
        /* slot 7 lies after every entry of these records: each is read to its end */
        assert_int_equal(pwh_get(&h, 8, &v), MDB_CORRUPTED);
        assert_int_equal(pwh_next(&h, 8, &id, &v), MDB_CORRUPTED);
        assert_int_equal(pwh_end(&h, 0), 0);
        pwh_begin(&h, &c.t, txn, true);
        assert_int_equal(pwh_put(&h, 8, "x", 1), MDB_CORRUPTED);
        assert_int_equal(pwh_end(&h, MDB_CORRUPTED), MDB_CORRUPTED);
        mdb_txn_abort(txn);
        th_done(&c);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_per_series),
        cmocka_unit_test(test_model_grouped),
        cmocka_unit_test(test_group_record_bytes),
        cmocka_unit_test(test_malformed_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
