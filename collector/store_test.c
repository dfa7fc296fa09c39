/* store_test.c - the LMDB store: round trips, dedupe, series ids, map growth, readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "store_int.h"      /* hash_mask: collisions on demand */
#include "test_fixture.h"

/* ---- helpers ----------------------------------------------------------- */

typedef struct ts_series_list ts_series_list;
struct ts_series_list {
    size_t   n;
    uint64_t ids[128];
    char    *keys[128];
};

typedef struct ts_points ts_points;
struct ts_points {
    size_t  n;
    int64_t ts[32768];
    double  v[32768];
};

static int
ts_on_series(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    ts_series_list *l = ctx;

    if (l->n == 128)
        return 1;
    l->ids[l->n] = id;
    l->keys[l->n] = strndup(key, keylen);
    l->n++;
    return 0;
}

static void
ts_series_free(ts_series_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    l->n = 0;
}

static int
ts_on_point(void *ctx, int64_t ts, double v)
{
    ts_points *p = ctx;

    if (p->n == 32768)
        return 1;
    p->ts[p->n] = ts;
    p->v[p->n] = v;
    p->n++;
    return 0;
}

static pw_store *
ts_open(const char *dir)
{
    pw_store *s = NULL;
    char      msg[256];
    pw_err    e = pw_store_open(dir, 0, &s, msg, sizeof msg);

    if (e != PW_OK)
        fail_msg("open %s: %s (%s)", dir, msg, pw_strerror(e));
    return s;
}

/* Writes one frame in its own txn; returns *duplicate. */
static bool
ts_write(pw_store *s, const tf_frame *t)
{
    pw_store_txn *tx;
    bool          dup = true;

    assert_int_equal(pw_store_write_begin(s, &tx), PW_OK);
    assert_int_equal(pw_store_write_frame(tx, &t->f, 1000, &dup), PW_OK);
    assert_int_equal(pw_store_write_commit(tx), PW_OK);
    return dup;
}

static void
ts_scan(pw_store *s, const char *metric, ts_series_list *l)
{
    pw_store_txn *tx;

    memset(l, 0, sizeof *l);
    assert_int_equal(pw_store_read_begin(s, &tx), PW_OK);
    assert_int_equal(pw_store_series_scan(tx, metric, ts_on_series, l), PW_OK);
    pw_store_read_end(tx);
}

/* Id of a canonical key, 0 if absent. */
static uint64_t
ts_id(pw_store *s, const char *key)
{
    ts_series_list l;
    uint64_t       id = 0;

    ts_scan(s, NULL, &l);
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.keys[i], key) == 0)
            id = l.ids[i];
    ts_series_free(&l);
    return id;
}

static void
ts_range(pw_store *s, uint64_t id, int64_t from, int64_t to, ts_points *p)
{
    pw_store_txn *tx;

    p->n = 0;
    assert_int_equal(pw_store_read_begin(s, &tx), PW_OK);
    assert_int_equal(pw_store_points(tx, id, from, to, ts_on_point, p), PW_OK);
    pw_store_read_end(tx);
}

typedef struct ts_agents ts_agents;
struct ts_agents {
    size_t        n;
    pw_agent_info a[8];
};

static int
ts_on_agent(void *ctx, const pw_agent_info *a)
{
    ts_agents *l = ctx;

    if (l->n < 8)
        l->a[l->n++] = *a;
    return 0;
}

static void
ts_agents_read(pw_store *s, ts_agents *l)
{
    pw_store_txn *tx;

    memset(l, 0, sizeof *l);
    assert_int_equal(pw_store_read_begin(s, &tx), PW_OK);
    assert_int_equal(pw_store_agents(tx, ts_on_agent, l), PW_OK);
    pw_store_read_end(tx);
}

static int
ts_setup(void **state)
{
    *state = tf_tmpdir();
    return 0;
}

static int
ts_teardown(void **state)
{
    tf_rmdir(*state);
    return 0;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_round_trip(void **state)
{
    const char    *dir = *state;
    pw_store      *s = ts_open(dir);
    static tf_frame t;
    ts_series_list l;
    ts_points     *p = malloc(sizeof *p);
    uint32_t       a, b;

    tf_init(&t, "agent-1", 1, 1, "h1");
    a = tf_series(&t, "node_load1", NULL);
    b = tf_series(&t, "node_cpu_seconds_total", "cpu", "0", "mode", "idle", NULL);
    tf_sample(&t, a, 1000, 0.5);
    tf_sample(&t, b, 1000, 12345.25);
    tf_sample(&t, a, 2000, 0.1 + 0.2);
    assert_false(ts_write(s, &t));

    ts_scan(s, "node_load1", &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0], "node_load1{host=\"h1\"}");
    ts_range(s, l.ids[0], INT64_MIN, INT64_MAX, p);
    assert_int_equal(p->n, 2);
    assert_int_equal(p->ts[0], 1000);
    assert_true(p->v[0] == 0.5);
    assert_int_equal(p->ts[1], 2000);
    assert_true(p->v[1] == 0.1 + 0.2);       /* bit-exact */
    ts_series_free(&l);

    ts_scan(s, "node_cpu_seconds_total", &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0], "node_cpu_seconds_total{cpu=\"0\",host=\"h1\",mode=\"idle\"}");
    ts_series_free(&l);

    /* Unknown metric, prefix of a known one: nothing. */
    ts_scan(s, "node_load", &l);
    assert_int_equal(l.n, 0);
    ts_scan(s, NULL, &l);
    assert_int_equal(l.n, 2);
    ts_series_free(&l);

    free(p);
    pw_store_close(s);
}

static void
test_dedupe(void **state)
{
    pw_store       *s = ts_open(*state);
    static tf_frame t;
    ts_agents       ag;
    pw_store_txn   *tx;
    bool            dup;
    uint64_t        removed = 99;
    uint32_t        a;

    tf_init(&t, "agent-1", 7, 5, "h1");
    a = tf_series(&t, "up", NULL);
    tf_sample(&t, a, 1000, 1);
    assert_false(ts_write(s, &t));
    assert_true(ts_write(s, &t));                  /* same seq again */
    t.f.hdr.seq = 4;
    assert_true(ts_write(s, &t));                  /* lower seq */
    t.f.hdr.seq = 6;
    assert_false(ts_write(s, &t));                 /* next seq */

    /* A new boot starts again at 1 and is stored. */
    memset(t.f.hdr.boot_id, 8, sizeof t.f.hdr.boot_id);
    t.f.hdr.seq = 1;
    assert_false(ts_write(s, &t));

    /* The same seq twice in one txn: the second is a duplicate. */
    t.f.hdr.seq = 2;
    assert_int_equal(pw_store_write_begin(s, &tx), PW_OK);
    assert_int_equal(pw_store_write_frame(tx, &t.f, 2000, &dup), PW_OK);
    assert_false(dup);
    assert_int_equal(pw_store_write_frame(tx, &t.f, 2000, &dup), PW_OK);
    assert_true(dup);
    assert_int_equal(pw_store_write_commit(tx), PW_OK);

    /* Also across a reopen. */
    pw_store_close(s);
    s = ts_open(*state);
    assert_true(ts_write(s, &t));

    ts_agents_read(s, &ag);
    assert_int_equal(ag.n, 1);
    assert_int_equal(ag.a[0].frames, 4);           /* duplicates do not count */
    assert_int_equal(ag.a[0].samples, 4);
    assert_int_equal(ag.a[0].last_seq, 2);
    assert_int_equal(ag.a[0].boot_id[0], 8);

    /* Expiry drops the old boot's row but keeps the newest boot's. */
    assert_int_equal(pw_store_write_begin(s, &tx), PW_OK);
    assert_int_equal(pw_store_dedupe_expire(tx, INT64_MAX, &removed), PW_OK);
    assert_int_equal(pw_store_write_commit(tx), PW_OK);
    assert_int_equal(removed, 1);
    assert_true(ts_write(s, &t));                  /* newest boot still deduped */
    memset(t.f.hdr.boot_id, 7, sizeof t.f.hdr.boot_id);
    t.f.hdr.seq = 5;
    assert_false(ts_write(s, &t));                 /* old boot forgotten: stored again */
    pw_store_close(s);
}

static void
test_host_label(void **state)
{
    pw_store       *s = ts_open(*state);
    static tf_frame t;
    ts_series_list  l;

    tf_init(&t, "agent-1", 1, 1, "node-7");
    tf_sample(&t, tf_series(&t, "m", "zone", "b", "app", "x", NULL), 1, 1);
    tf_sample(&t, tf_series(&t, "m", "host", "vm-3", NULL), 1, 2);    /* keeps its own */
    tf_sample(&t, tf_series(&t, "m", "value", "quote\" back\\ nl\n", NULL), 1, 3);
    assert_false(ts_write(s, &t));
    ts_scan(s, "m", &l);
    assert_int_equal(l.n, 3);
    /* key order: by bytes */
    assert_string_equal(l.keys[0], "m{app=\"x\",host=\"node-7\",zone=\"b\"}");
    assert_string_equal(l.keys[1], "m{host=\"node-7\",value=\"quote\\\" back\\\\ nl\\n\"}");
    assert_string_equal(l.keys[2], "m{host=\"vm-3\"}");
    ts_series_free(&l);

    /* No host in the frame header: nothing to add. */
    tf_init(&t, "agent-2", 1, 1, "");
    tf_sample(&t, tf_series(&t, "n", NULL), 1, 1);
    assert_false(ts_write(s, &t));
    ts_scan(s, "n", &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0], "n");
    ts_series_free(&l);
    pw_store_close(s);
}

static void
test_series_id_reuse(void **state)
{
    pw_store       *s = ts_open(*state);
    static tf_frame t;
    uint64_t        id1, id2, id3;
    ts_points      *p = malloc(sizeof *p);

    tf_init(&t, "a", 1, 1, "h");
    tf_sample(&t, tf_series(&t, "x", "k", "1", NULL), 10, 1);
    ts_write(s, &t);
    id1 = ts_id(s, "x{host=\"h\",k=\"1\"}");
    assert_int_not_equal(id1, 0);

    /* Another txn, labels given in another order: same series. */
    tf_init(&t, "a", 1, 2, "h");
    tf_sample(&t, tf_series(&t, "x", "k", "1", "host", "h", NULL), 20, 2);
    ts_write(s, &t);
    assert_int_equal(ts_id(s, "x{host=\"h\",k=\"1\"}"), id1);

    pw_store_close(s);
    s = ts_open(*state);
    tf_init(&t, "a", 1, 3, "h");
    tf_sample(&t, tf_series(&t, "x", "k", "1", NULL), 30, 3);
    tf_sample(&t, tf_series(&t, "x", "k", "2", NULL), 30, 4);
    ts_write(s, &t);
    assert_int_equal(ts_id(s, "x{host=\"h\",k=\"1\"}"), id1);
    id2 = ts_id(s, "x{host=\"h\",k=\"2\"}");
    assert_int_equal(id2, id1 + 1);
    ts_range(s, id1, INT64_MIN, INT64_MAX, p);
    assert_int_equal(p->n, 3);

    /* An aborted txn's ids are not taken: the counter rolls back with it. */
    {
        pw_store_txn *tx;
        bool          dup;

        tf_init(&t, "a", 1, 4, "h");
        tf_sample(&t, tf_series(&t, "x", "k", "3", NULL), 40, 5);
        assert_int_equal(pw_store_write_begin(s, &tx), PW_OK);
        assert_int_equal(pw_store_write_frame(tx, &t.f, 1, &dup), PW_OK);
        pw_store_write_abort(tx);
        assert_int_equal(ts_id(s, "x{host=\"h\",k=\"3\"}"), 0);
        ts_write(s, &t);
        id3 = ts_id(s, "x{host=\"h\",k=\"3\"}");
        assert_int_equal(id3, id2 + 1);
    }
    free(p);
    pw_store_close(s);
}

static void
test_long_keys(void **state)
{
    pw_store       *s = ts_open(*state);
    static tf_frame t;
    static char     v1[1001], v2[1001], v3[1001];
    ts_series_list  l;
    uint64_t        ids[3];

    /* Three keys far over LMDB's 511-byte limit, sharing their first 1000+ bytes. */
    memset(v1, 'a', 1000);
    memcpy(v2, v1, 1000);
    memcpy(v3, v1, 1000);
    v2[999] = 'b';
    v3[999] = 'c';
    tf_init(&t, "a", 1, 1, "h");
    tf_sample(&t, tf_series(&t, "long", "v", v1, NULL), 1, 1);
    tf_sample(&t, tf_series(&t, "long", "v", v2, NULL), 1, 2);
    ts_write(s, &t);
    tf_init(&t, "a", 1, 2, "h");
    tf_sample(&t, tf_series(&t, "long", "v", v3, NULL), 1, 3);
    tf_sample(&t, tf_series(&t, "long", "v", v1, NULL), 2, 1);
    ts_write(s, &t);

    ts_scan(s, "long", &l);
    assert_int_equal(l.n, 3);
    for (size_t i = 0; i < 3; i++) {
        const char *want = i == 0 ? v1 : i == 1 ? v2 : v3;
        assert_int_equal(strlen(l.keys[i]), strlen("long{host=\"h\",v=\"\"}") + 1000);
        assert_non_null(strstr(l.keys[i], want));
        ids[i] = l.ids[i];
    }
    assert_int_not_equal(ids[0], ids[1]);
    assert_int_not_equal(ids[1], ids[2]);
    ts_series_free(&l);

    /* After a reopen (no cache) the same keys resolve to the same ids. */
    pw_store_close(s);
    s = ts_open(*state);
    tf_init(&t, "a", 1, 3, "h");
    tf_sample(&t, tf_series(&t, "long", "v", v2, NULL), 5, 5);
    ts_write(s, &t);
    ts_scan(s, "long", &l);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.ids[1], ids[1]);
    ts_series_free(&l);
    pw_store_close(s);
}

static void
test_range_bounds(void **state)
{
    pw_store       *s = ts_open(*state);
    static tf_frame t;
    ts_points      *p = malloc(sizeof *p);
    uint64_t        id, other;
    uint32_t        a, b;

    tf_init(&t, "a", 1, 1, "h");
    a = tf_series(&t, "r", NULL);
    b = tf_series(&t, "r", "x", "1", NULL);
    tf_sample(&t, a, 10, 1);
    tf_sample(&t, a, 20, 2);
    tf_sample(&t, a, 30, 3);
    tf_sample(&t, b, 15, 9);    /* the neighbour series must never leak in */
    tf_sample(&t, b, 25, 9);
    ts_write(s, &t);
    id = ts_id(s, "r{host=\"h\"}");
    other = ts_id(s, "r{host=\"h\",x=\"1\"}");
    assert_int_not_equal(id, 0);
    assert_int_not_equal(other, 0);

    ts_range(s, id, 10, 30, p);
    assert_int_equal(p->n, 3);
    ts_range(s, id, 11, 29, p);
    assert_int_equal(p->n, 1);
    assert_int_equal(p->ts[0], 20);
    ts_range(s, id, 20, 20, p);
    assert_int_equal(p->n, 1);
    ts_range(s, id, 30, 40, p);
    assert_int_equal(p->n, 1);
    ts_range(s, id, 31, INT64_MAX, p);
    assert_int_equal(p->n, 0);
    ts_range(s, id, 0, 9, p);
    assert_int_equal(p->n, 0);
    ts_range(s, id, 30, 10, p);                /* from > to */
    assert_int_equal(p->n, 0);
    ts_range(s, 999, INT64_MIN, INT64_MAX, p); /* unknown id */
    assert_int_equal(p->n, 0);
    ts_range(s, other, INT64_MIN, INT64_MAX, p);
    assert_int_equal(p->n, 2);

    /* Same series and time again: replaced, not doubled. */
    tf_init(&t, "a", 1, 2, "h");
    tf_sample(&t, tf_series(&t, "r", NULL), 20, 22);
    ts_write(s, &t);
    ts_range(s, id, INT64_MIN, INT64_MAX, p);
    assert_int_equal(p->n, 3);
    assert_true(p->v[1] == 22);
    free(p);
    pw_store_close(s);
}

static void
test_ts_order_negative(void **state)
{
    static const int64_t in[] = { 5, INT64_MAX, -1, 0, INT64_MIN, -1000, 1, -2, INT64_MIN + 1 };
    static const int64_t want[] = { INT64_MIN, INT64_MIN + 1, -1000, -2, -1, 0, 1, 5, INT64_MAX };
    pw_store       *s = ts_open(*state);
    static tf_frame t;
    ts_points      *p = malloc(sizeof *p);
    uint32_t        a;

    tf_init(&t, "a", 1, 1, "h");
    a = tf_series(&t, "o", NULL);
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        tf_sample(&t, a, in[i], (double) in[i]);
    ts_write(s, &t);
    ts_range(s, ts_id(s, "o{host=\"h\"}"), INT64_MIN, INT64_MAX, p);
    assert_int_equal(p->n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < p->n; i++) {
        assert_int_equal(p->ts[i], want[i]);
        assert_true(p->v[i] == (double) want[i]);
    }
    ts_range(s, ts_id(s, "o{host=\"h\"}"), -1000, -1, p);
    assert_int_equal(p->n, 3);
    free(p);
    pw_store_close(s);
}

static void
test_bad_frames_leave_txn_usable(void **state)
{
    pw_store       *s = ts_open(*state);
    static tf_frame bad, good, many;
    pw_store_txn   *tx;
    ts_series_list  l;
    char            msg[256];
    static char     names[PW_MAX_LABELS][8];
    bool            dup;

    tf_init(&bad, "a", 1, 1, "h");
    tf_sample(&bad, tf_series(&bad, "ok", NULL), 1, 1);
    tf_sample(&bad, 5, 1, 1);                          /* no series 5 */
    tf_init(&good, "a", 1, 2, "h");
    tf_sample(&good, tf_series(&good, "ok", NULL), 1, 1);

    /* PW_MAX_LABELS labels, none is host: one too many with host added. */
    tf_init(&many, "a", 1, 3, "h");
    {
        pw_wire_series *ws = &many.series[0];
        ws->metric = "wide";
        ws->labels = many.labels[0];
        for (int i = 0; i < PW_MAX_LABELS; i++) {
            snprintf(names[i], sizeof names[i], "l%02d", i);
            ws->labels[i].name = names[i];
            ws->labels[i].value = "v";
        }
        ws->nlabels = PW_MAX_LABELS;
        many.f.nseries = 1;
        tf_sample(&many, 0, 1, 1);
    }

    assert_int_equal(pw_store_write_begin(s, &tx), PW_OK);
    assert_int_equal(pw_store_write_frame(tx, &bad.f, 1, &dup), PW_EPROTO);
    assert_false(dup);
    pw_store_last_error(s, msg, sizeof msg);
    assert_non_null(strstr(msg, "sample 1"));
    assert_int_equal(pw_store_write_frame(tx, &many.f, 1, &dup), PW_ETOOBIG);
    bad.series[0].metric = "0bad";
    assert_int_equal(pw_store_write_frame(tx, &bad.f, 1, &dup), PW_EPROTO);
    assert_int_equal(pw_store_write_frame(tx, &good.f, 1, &dup), PW_OK);
    assert_int_equal(pw_store_write_commit(tx), PW_OK);
    ts_scan(s, NULL, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0], "ok{host=\"h\"}");
    ts_series_free(&l);
    pw_store_close(s);
}

static void
test_agents(void **state)
{
    pw_store       *s = ts_open(*state);
    static tf_frame t;
    pw_store_txn   *tx;
    ts_agents       ag;
    bool            dup;

    tf_init(&t, "b-agent", 1, 1, "hostb");
    tf_sample(&t, tf_series(&t, "u", NULL), 1, 1);
    tf_sample(&t, 0, 2, 1);
    assert_int_equal(pw_store_write_begin(s, &tx), PW_OK);
    assert_int_equal(pw_store_write_frame(tx, &t.f, 5000, &dup), PW_OK);
    t.f.hdr.seq = 2;
    t.f.hdr.ts_ms += 1000;
    snprintf(t.f.hdr.agent_version, sizeof t.f.hdr.agent_version, "0.2.0");
    assert_int_equal(pw_store_write_frame(tx, &t.f, 7000, &dup), PW_OK);
    tf_init(&t, "a-agent", 2, 1, "hosta");
    snprintf(t.f.hdr.agent_version, sizeof t.f.hdr.agent_version, "%s", "");
    assert_int_equal(pw_store_write_frame(tx, &t.f, 6000, &dup), PW_OK);
    assert_int_equal(pw_store_write_commit(tx), PW_OK);

    ts_agents_read(s, &ag);
    assert_int_equal(ag.n, 2);
    assert_string_equal(ag.a[0].agent_id, "a-agent");   /* agent id order */
    assert_string_equal(ag.a[0].host, "hosta");
    assert_string_equal(ag.a[0].version, "");
    assert_int_equal(ag.a[0].frames, 1);
    assert_int_equal(ag.a[0].samples, 0);
    assert_string_equal(ag.a[1].agent_id, "b-agent");
    assert_string_equal(ag.a[1].version, "0.2.0");
    assert_int_equal(ag.a[1].first_seen_ms, 5000);
    assert_int_equal(ag.a[1].last_seen_ms, 7000);
    assert_int_equal(ag.a[1].frames, 2);
    assert_int_equal(ag.a[1].samples, 4);
    assert_int_equal(ag.a[1].last_seq, 2);
    pw_store_close(s);
}

/* Writes `frames` frames of 100 points from seq `first`, growing the map whenever it fills. */
static unsigned
ts_fill(pw_store *s, uint64_t first, unsigned frames)
{
    static tf_frame t;
    unsigned        grows = 0;

    for (uint64_t seq = first; seq < first + frames; seq++) {
        tf_init(&t, "filler", 1, seq, "h");
        uint32_t a = tf_series(&t, "fill", NULL);
        /* Values that do not compress (a xorshift stream), so the map fills. */
        for (int i = 0; i < 100; i++) {
            uint64_t x = seq * 1000003u + (uint64_t) i * 7919u + 1;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            tf_sample(&t, a, (int64_t) seq * 1000 + i, (double) (x >> 11) * 0x1.0p-53);
        }
        for (;;) {
            pw_store_txn *tx;
            bool          dup;
            pw_err        e;

            assert_int_equal(pw_store_write_begin(s, &tx), PW_OK);
            e = pw_store_write_frame(tx, &t.f, 1, &dup);
            if (e == PW_OK)
                e = pw_store_write_commit(tx);
            else
                pw_store_write_abort(tx);
            if (e == PW_OK) {
                assert_false(dup);
                break;
            }
            assert_int_equal(e, PW_EFULL);
            assert_int_equal(pw_store_grow(s), PW_OK);
            grows++;
        }
    }
    return grows;
}

static void
test_map_full_grow(void **state)
{
    pw_store  *s = NULL;
    ts_points *p = malloc(sizeof *p);
    uint64_t   before, grown, id;
    char       msg[256];
    unsigned   grows;

    assert_int_equal(pw_store_open_sized(*state, 0, 256 * 1024, &s, msg, sizeof msg), PW_OK);
    before = pw_store_map_size(s);
    assert_true(before == 256 * 1024);
    grows = ts_fill(s, 1, 300);                 /* 30000 points, ~250 KiB compressed */
    assert_true(grows >= 1);
    assert_true(pw_store_map_size(s) >= before * 2);

    /* Every point is there, none twice. */
    id = ts_id(s, "fill{host=\"h\"}");
    ts_range(s, id, INT64_MIN, INT64_MAX, p);
    assert_int_equal(p->n, 30000);

    /* A ceiling stops growth with PW_EFULL and says so. */
    pw_store_set_max_size(s, pw_store_map_size(s));
    assert_int_equal(pw_store_grow(s), PW_EFULL);
    pw_store_last_error(s, msg, sizeof msg);
    assert_non_null(strstr(msg, "maximum"));

    /* A reopen keeps the grown size; the default open raises it to 1 GiB. */
    grown = pw_store_map_size(s);
    pw_store_close(s);
    assert_int_equal(pw_store_open_sized(*state, 0, 256 * 1024, &s, msg, sizeof msg), PW_OK);
    assert_true(pw_store_map_size(s) == grown);
    pw_store_close(s);
    s = ts_open(*state);
    assert_true(pw_store_map_size(s) == (UINT64_C(1) << 30));
    free(p);
    pw_store_close(s);
}

static void
test_open_errors(void **state)
{
    char        path[1024], msg[512];
    pw_store   *s = (pw_store *) 1;
    MDB_env    *env;
    MDB_txn    *txn;
    MDB_dbi     dbi;
    MDB_val     k = { 6, "format" }, v;
    unsigned char two[4] = { 0, 0, 0, 99 };     /* a format from the future */

    /* Read-only, directory missing. */
    snprintf(path, sizeof path, "%s/missing", (char *) *state);
    assert_int_equal(pw_store_open(path, PW_STORE_RDONLY, &s, msg, sizeof msg), PW_ENOENT);
    assert_null(s);
    assert_non_null(strstr(msg, "does not exist"));
    assert_non_null(strstr(msg, path));

    /* Read-only, directory there but empty. */
    mkdir(path, 0700);
    assert_int_equal(pw_store_open(path, PW_STORE_RDONLY, &s, msg, sizeof msg), PW_ENOENT);
    assert_non_null(strstr(msg, "no poolwatch data"));

    /* A writer creates missing parents. */
    snprintf(path, sizeof path, "%s/a/b/c", (char *) *state);
    assert_int_equal(pw_store_open(path, 0, &s, msg, sizeof msg), PW_OK);
    /* ... and a read-only store refuses writes. */
    pw_store_close(s);
    assert_int_equal(pw_store_open(path, PW_STORE_RDONLY, &s, msg, sizeof msg), PW_OK);
    {
        pw_store_txn *tx = (pw_store_txn *) 1;
        assert_int_equal(pw_store_write_begin(s, &tx), PW_EINVAL);
        assert_null(tx);
        assert_int_equal(pw_store_grow(s), PW_EINVAL);
    }
    pw_store_close(s);

    /* A newer storage format is refused, by writers and readers. */
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    assert_int_equal(mdb_env_open(env, path, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    v.mv_size = 4;
    v.mv_data = two;
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(pw_store_open(path, 0, &s, msg, sizeof msg), PW_EVERSION);
    assert_non_null(strstr(msg, "newer"));
    assert_int_equal(pw_store_open(path, PW_STORE_RDONLY, &s, msg, sizeof msg), PW_EVERSION);

    /* Not a directory. */
    snprintf(path, sizeof path, "%s/a/file", (char *) *state);
    fclose(fopen(path, "w"));
    assert_int_equal(pw_store_open(path, PW_STORE_RDONLY, &s, msg, sizeof msg), PW_EIO);
    assert_int_equal(pw_store_open(path, 0, &s, msg, sizeof msg), PW_EIO);
}

/* ---- storage formats ----------------------------------------------------- */

/* Opens dir's data.mdb directly (the store closed); runs f on a read txn. */
typedef struct ts_peek ts_peek;
struct ts_peek {
    uint32_t format;
    bool     has_series, has_hash, has_symbols;
    size_t   chunk_records, packs;
    size_t   head_records;       /* chunk_head */
    uint64_t head_first_key;     /* its first key (UINT64_MAX: none) */
};

static void
ts_peek_dir(const char *dir, ts_peek *pk)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi  dbi;
    MDB_val  k = { 6, "format" }, v;

    memset(pk, 0, sizeof *pk);
    pk->head_first_key = UINT64_MAX;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_int_equal(v.mv_size, 4);
    pk->format = (uint32_t) ((unsigned char *) v.mv_data)[3];
    pk->has_series = mdb_dbi_open(txn, "series", 0, &dbi) == 0;
    pk->has_hash = mdb_dbi_open(txn, "series_hash", 0, &dbi) == 0;
    pk->has_symbols = mdb_dbi_open(txn, "symbols", 0, &dbi) == 0
                      && mdb_dbi_open(txn, "symbol_hash", 0, &dbi) == 0;
    if (mdb_dbi_open(txn, "chunks", 0, &dbi) == 0) {
        MDB_cursor *cur;
        assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
            pk->chunk_records++;
            if (v.mv_size > 0 && ((unsigned char *) v.mv_data)[0] == 0x80)
                pk->packs++;
        }
        mdb_cursor_close(cur);
    }
    if (mdb_dbi_open(txn, "chunk_head", 0, &dbi) == 0) {
        MDB_cursor *cur;
        assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
            assert_int_equal(k.mv_size, 8);
            if (pk->head_records++ == 0)
                pk->head_first_key = pw_get_be64(k.mv_data);
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/*
 * Writes, per step, one point of the series x{host="h",k="0".."nk-1"} and of
 * x_total{host="h"} (a name that x's prefix must not pick up), steps [from, to).
 */
static void
ts_write_steps(pw_store *s, uint64_t *seq, int nk, int from, int to)
{
    static tf_frame t;
    static char     kv[32][16];          /* the frame points at label values */

    assert_true(nk <= 32);
    for (int step = from; step < to; step += 100) {
        tf_init(&t, "a", 1, ++*seq, "h");
        for (int k = 0; k < nk; k++) {
            uint32_t sid;
            snprintf(kv[k], sizeof kv[k], "%d", k);
            sid = tf_series(&t, "x", "k", kv[k], NULL);
            for (int i = step; i < step + 100 && i < to; i++)
                tf_sample(&t, sid, 1000000 + (int64_t) i * 10000, (double) (i * (k + 1)) / 100.0);
        }
        {
            uint32_t tot = tf_series(&t, "x_total", NULL);
            for (int i = step; i < step + 100 && i < to; i++)
                tf_sample(&t, tot, 1000000 + (int64_t) i * 10000, i);
        }
        ts_write(s, &t);
    }
}

/* Every series of x: in key order, with all n points of each. */
static void
ts_check_steps(pw_store *s, int nk, int n)
{
    ts_series_list l;
    ts_points     *p = malloc(sizeof *p);

    ts_scan(s, "x", &l);
    assert_int_equal(l.n, (size_t) nk);
    for (size_t i = 0; i < l.n; i++) {
        int k = atoi(strstr(l.keys[i], "k=\"") + 3);
        if (i > 0)
            assert_true(strcmp(l.keys[i - 1], l.keys[i]) < 0);
        ts_range(s, l.ids[i], INT64_MIN, INT64_MAX, p);
        assert_int_equal(p->n, (size_t) n);
        for (int j = 0; j < n; j++) {
            assert_int_equal(p->ts[j], 1000000 + (int64_t) j * 10000);
            assert_true(p->v[j] == (double) (j * (k + 1)) / 100.0);
        }
    }
    ts_series_free(&l);
    ts_scan(s, "x_total", &l);
    assert_int_equal(l.n, 1);
    ts_series_free(&l);
    ts_scan(s, NULL, &l);
    assert_int_equal(l.n, (size_t) nk + 1);
    for (size_t i = 1; i < l.n; i++)
        assert_true(strcmp(l.keys[i - 1], l.keys[i]) < 0);
    ts_series_free(&l);
    free(p);
}

/*
 * A store made in format 2 stays format 2 (keyed index, one chunk a record),
 * one made in format 3 stays format 3 (hashed index, keys whole in
 * series_id): both are read and written by this build. A new store is
 * format 4 (symbol-coded keys) stays format 4 (an open chunk a record); a
 * new store is format 5 (open chunks grouped) and reads back the same.
 */
static void
test_formats(void **state)
{
    char      dir[1024], msg[256];
    pw_store *s;
    ts_peek   pk;
    uint64_t  seq = 0;

    for (int f = 2; f <= 5; f++) {
        unsigned flags = f == 2 ? PW_STORE_FORMAT2 : f == 3 ? PW_STORE_FORMAT3
                         : f == 4 ? PW_STORE_FORMAT4 : 0;

        snprintf(dir, sizeof dir, "%s/f%d", (char *) *state, f);
        seq = 0;
        assert_int_equal(pw_store_open(dir, flags, &s, msg, sizeof msg), PW_OK);
        ts_write_steps(s, &seq, 12, 0, 5000);          /* 6 sealed chunks a series */
        ts_check_steps(s, 12, 5000);
        pw_store_close(s);
        /* reopened without the flag: the store keeps its format */
        s = ts_open(dir);
        ts_check_steps(s, 12, 5000);                   /* read back, caches empty */
        ts_write_steps(s, &seq, 12, 5000, 9000);
        ts_check_steps(s, 12, 9000);
        pw_store_close(s);
        ts_peek_dir(dir, &pk);
        assert_int_equal(pk.format, (uint32_t) f);
        assert_int_equal(pk.has_series, f == 2);
        assert_int_equal(pk.has_hash, f >= 3);
        assert_int_equal(pk.has_symbols, f >= 4);
        /* open chunks: one record a series, or the 13 series' (ids 1-13) in group 0 */
        if (f == 5) {
            assert_int_equal(pk.head_records, 1);
            assert_int_equal(pk.head_first_key, 0);
        } else {
            assert_int_equal(pk.head_records, 13);
            assert_int_equal(pk.head_first_key, 1);
        }
        if (f == 2) {
            assert_int_equal(pk.packs, 0);
            assert_int_equal(pk.chunk_records, 13 * 12);   /* 9000 / 720 sealed, 13 series */
        } else {
            assert_true(pk.packs > 0);
            assert_true(pk.chunk_records < 13 * 12 / 4);
        }
        /* and read-only, as the CLI opens it */
        assert_int_equal(pw_store_open(dir, PW_STORE_RDONLY, &s, msg, sizeof msg), PW_OK);
        ts_check_steps(s, 12, 9000);
        pw_store_close(s);
    }
}

/* Opens dir with every index hash cut to its lowest bit: all series and symbols collide. */
static pw_store *
ts_open_colliding(const char *dir, unsigned flags)
{
    pw_store *s = NULL;
    char      msg[256];

    if (pw_store_open(dir, flags, &s, msg, sizeof msg) != PW_OK)
        fail_msg("open %s: %s", dir, msg);
    s->hash_mask = 1;
    return s;
}

/*
 * Hashes are candidates only: with (nearly) every hash equal, series and
 * symbols stay apart, keep their ids, and list in key order, in format 4
 * (symbols and series_hash) and format 3 (series_hash). Label values with
 * the characters that canonical keys escape or that delimit pairs come back
 * byte for byte.
 */
static void
test_hash_collisions(void **state)
{
    static const char *vals[] = {
        "0", "1", "10", "a,b", "x=\"y\"", "}", "{", "back\\slash", "new\nline", "=", "\"",
        "host-0001", "",
    };
    enum { NV = sizeof vals / sizeof vals[0] };
    static tf_frame    t;
    char               dir[1024];
    uint64_t           seq = 0;

    for (int f = 3; f <= 4; f++) {
        pw_store      *s;
        ts_series_list l, l2;
        uint64_t       ids[NV];
        int            nv = 0;

        snprintf(dir, sizeof dir, "%s/c%d", (char *) *state, f);
        s = ts_open_colliding(dir, f == 3 ? PW_STORE_FORMAT3 : 0);
        tf_init(&t, "a", 1, ++seq, "h");
        for (int i = 0; i < NV; i++) {
            if (vals[i][0] == '\0')
                continue;                       /* empty values are not labels */
            tf_sample(&t, tf_series(&t, "m", "k", vals[i], NULL), 1000, i);
            tf_sample(&t, tf_series(&t, "m2", "k", vals[i], "z", vals[(i + 1) % NV][0] ? vals[(i + 1) % NV] : "e", NULL), 1000, i);
            nv++;
        }
        tf_sample(&t, tf_series(&t, "m", NULL), 1000, -1);     /* no labels but host */
        ts_write(s, &t);
        ts_scan(s, "m", &l);
        assert_int_equal(l.n, (size_t) nv + 1);
        for (size_t i = 0; i < l.n; i++) {
            ids[i] = l.ids[i];
            for (size_t j = 0; j < i; j++)
                assert_int_not_equal(ids[i], ids[j]);
            if (i > 0)
                assert_true(strcmp(l.keys[i - 1], l.keys[i]) < 0);
        }
        /* the escapes as the canonical key spells them */
        assert_int_equal(ts_id(s, "m{host=\"h\",k=\"x=\\\"y\\\"\"}") != 0, 1);
        assert_int_equal(ts_id(s, "m{host=\"h\",k=\"back\\\\slash\"}") != 0, 1);
        assert_int_equal(ts_id(s, "m{host=\"h\",k=\"new\\nline\"}") != 0, 1);
        assert_int_equal(ts_id(s, "m{host=\"h\",k=\"a,b\"}") != 0, 1);
        assert_int_equal(ts_id(s, "m{host=\"h\"}") != 0, 1);
        ts_scan(s, "m2", &l2);
        assert_int_equal(l2.n, (size_t) nv);
        ts_series_free(&l2);
        ts_scan(s, "k", &l2);                   /* a label name is no metric */
        assert_int_equal(l2.n, 0);
        ts_scan(s, "k=\"0\"", &l2);             /* nor is a label pair */
        assert_int_equal(l2.n, 0);
        pw_store_close(s);

        /* Reopened (caches empty): the same series resolve to the same ids, nothing new. */
        s = ts_open_colliding(dir, 0);
        tf_init(&t, "a", 1, ++seq, "h");
        for (int i = NV - 1; i >= 0; i--)
            if (vals[i][0] != '\0')
                tf_sample(&t, tf_series(&t, "m", "k", vals[i], NULL), 2000, i);
        ts_write(s, &t);
        ts_scan(s, "m", &l2);
        assert_int_equal(l2.n, l.n);
        for (size_t i = 0; i < l.n; i++) {
            assert_int_equal(l2.ids[i], l.ids[i]);
            assert_string_equal(l2.keys[i], l.keys[i]);
        }
        ts_series_free(&l2);
        ts_scan(s, NULL, &l2);
        assert_int_equal(l2.n, 2 * (size_t) nv + 1);
        ts_series_free(&l2);
        ts_series_free(&l);
        pw_store_close(s);
    }
}

/*
 * Format 4: a write txn sees the symbols it created (a scan inside it);
 * after an abort their ids go to other strings, and no reader or later
 * txn takes the aborted strings for them.
 */
static void
test_symbols_abort(void **state)
{
    pw_store       *s = ts_open(*state);
    static tf_frame t;
    pw_store_txn   *tx;
    ts_series_list  l;
    bool            dup;

    tf_init(&t, "a", 1, 1, "h");
    tf_sample(&t, tf_series(&t, "base", NULL), 10, 1);
    ts_write(s, &t);
    ts_scan(s, "base", &l);                     /* readers cache committed symbols */
    assert_int_equal(l.n, 1);
    ts_series_free(&l);

    tf_init(&t, "a", 1, 2, "h2");
    tf_sample(&t, tf_series(&t, "gone", "k", "v1", NULL), 10, 1);
    assert_int_equal(pw_store_write_begin(s, &tx), PW_OK);
    assert_int_equal(pw_store_write_frame(tx, &t.f, 1, &dup), PW_OK);
    memset(&l, 0, sizeof l);
    assert_int_equal(pw_store_series_scan(tx, "gone", ts_on_series, &l), PW_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0], "gone{host=\"h2\",k=\"v1\"}");
    ts_series_free(&l);
    pw_store_write_abort(tx);

    ts_scan(s, "gone", &l);
    assert_int_equal(l.n, 0);
    /* The same symbol ids, other strings. */
    tf_init(&t, "a", 1, 2, "h3");
    tf_sample(&t, tf_series(&t, "kept", "k", "v2", NULL), 10, 2);
    ts_write(s, &t);
    ts_scan(s, NULL, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.keys[0], "base{host=\"h\"}");
    assert_string_equal(l.keys[1], "kept{host=\"h3\",k=\"v2\"}");
    ts_series_free(&l);
    pw_store_close(s);
    s = ts_open(*state);
    ts_scan(s, NULL, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.keys[1], "kept{host=\"h3\",k=\"v2\"}");
    ts_series_free(&l);
    pw_store_close(s);
}

/*
 * Series a write txn created are remembered across txns only once committed:
 * after an abort, the id it had handed out goes to another series, and the
 * aborted key gets a fresh one.
 */
static void
test_series_cache_abort(void **state)
{
    pw_store       *s = ts_open(*state);
    static tf_frame t;
    pw_store_txn   *tx;
    bool            dup;
    uint64_t        a, b, c;

    tf_init(&t, "a", 1, 1, "h");
    tf_sample(&t, tf_series(&t, "c", "k", "base", NULL), 10, 1);
    ts_write(s, &t);
    a = ts_id(s, "c{host=\"h\",k=\"base\"}");
    tf_init(&t, "a", 1, 2, "h");
    tf_sample(&t, tf_series(&t, "c", "k", "gone", NULL), 10, 1);
    assert_int_equal(pw_store_write_begin(s, &tx), PW_OK);
    assert_int_equal(pw_store_write_frame(tx, &t.f, 1, &dup), PW_OK);
    pw_store_write_abort(tx);
    tf_init(&t, "a", 1, 2, "h");
    tf_sample(&t, tf_series(&t, "c", "k", "other", NULL), 10, 2);
    ts_write(s, &t);
    b = ts_id(s, "c{host=\"h\",k=\"other\"}");
    assert_int_equal(b, a + 1);                     /* the aborted txn's id */
    tf_init(&t, "a", 1, 3, "h");
    tf_sample(&t, tf_series(&t, "c", "k", "gone", NULL), 20, 3);
    tf_sample(&t, tf_series(&t, "c", "k", "base", NULL), 20, 4);   /* from the cache */
    ts_write(s, &t);
    c = ts_id(s, "c{host=\"h\",k=\"gone\"}");
    assert_int_equal(c, b + 1);
    assert_int_equal(ts_id(s, "c{host=\"h\",k=\"base\"}"), a);
    {
        ts_points *p = malloc(sizeof *p);
        ts_range(s, a, INT64_MIN, INT64_MAX, p);
        assert_int_equal(p->n, 2);
        ts_range(s, b, INT64_MIN, INT64_MAX, p);
        assert_int_equal(p->n, 1);
        assert_true(p->v[0] == 2);
        ts_range(s, c, INT64_MIN, INT64_MAX, p);
        assert_int_equal(p->n, 1);
        assert_true(p->v[0] == 3);
        free(p);
    }
    pw_store_close(s);
}

/* ---- a reader in another process --------------------------------------- */

static int
ts_count_points(void *ctx, int64_t ts, double v)
{
    (void) ts;
    (void) v;
    (*(uint64_t *) ctx)++;
    return 0;
}

static int
ts_child_series(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    (void) key;
    (void) keylen;
    *(uint64_t *) ctx = id;
    return 1;
}

/* How many points of fill{host="h"} a fresh snapshot sees; UINT64_MAX on error. */
static uint64_t
ts_child_count(pw_store *s, pw_store_txn *tx)
{
    uint64_t id = 0, n = 0;

    if (pw_store_series_scan(tx, "fill", ts_child_series, &id) != PW_OK || id == 0)
        return UINT64_MAX;
    if (pw_store_points(tx, id, INT64_MIN, INT64_MAX, ts_count_points, &n) != PW_OK)
        return UINT64_MAX;
    (void) s;
    return n;
}

/*
 * The child: opens its own read-only env on the same directory while the
 * parent's writer stays open, checks snapshot isolation, then reads data
 * the parent wrote after growing the map past the child's mapping
 * (MDB_MAP_RESIZED). Exit status 0 = all good, else the failed step.
 */
static int
ts_child(const char *dir, int rfd, int wfd)
{
    pw_store     *s;
    pw_store_txn *old, *fresh;
    uint64_t      want;
    char          msg[256], c = 'a';

    if (pw_store_open(dir, PW_STORE_RDONLY, &s, msg, sizeof msg) != PW_OK)
        return 10;
    if (pw_store_read_begin(s, &old) != PW_OK)
        return 11;
    if (ts_child_count(s, old) != 100)
        return 12;
    if (write(wfd, &c, 1) != 1)
        return 13;
    if (read(rfd, &want, sizeof want) != sizeof want)
        return 14;
    if (ts_child_count(s, old) != 100)          /* the old snapshot does not move */
        return 15;
    pw_store_read_end(old);
    if (pw_store_read_begin(s, &fresh) != PW_OK)
        return 16;
    if (ts_child_count(s, fresh) != want)
        return 17;
    pw_store_read_end(fresh);
    pw_store_close(s);
    return 0;
}

static void
test_reader_other_process(void **state)
{
    const char *dir = *state;
    pw_store   *s = NULL;
    int         p2c[2], c2p[2], status;
    uint64_t    total;
    pid_t       pid;
    char        c;

    /* A small map, so that the parent soon writes past the child's mapping. */
    assert_int_equal(pw_store_open_sized(dir, 0, 256 * 1024, &s, NULL, 0), PW_OK);
    ts_fill(s, 1, 1);
    assert_int_equal(pipe(p2c), 0);
    assert_int_equal(pipe(c2p), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p2c[1]);
        close(c2p[0]);
        _exit(ts_child(dir, p2c[0], c2p[1]));
    }
    close(p2c[0]);
    close(c2p[1]);
    assert_int_equal(read(c2p[0], &c, 1), 1);   /* the child holds a snapshot now */
    assert_true(ts_fill(s, 2, 80) >= 1);        /* grows past the child's mapping */
    assert_true(pw_store_map_size(s) > 256 * 1024);
    total = 81 * 100;
    assert_int_equal(write(p2c[1], &total, sizeof total), (ssize_t) sizeof total);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(p2c[1]);
    close(c2p[0]);
    pw_store_close(s);
}

static void *
ts_grow_main(void *arg)
{
    return (void *) (intptr_t) pw_store_grow(arg);
}

/*
 * pw_store_read_begin_beside: a snapshot of its own (the newest, not the
 * held one's), refused beside a write txn, and no wait for a map resize
 * that is itself waiting for the held txn (pw_store_read_begin could hang
 * there when the grower gets in first).
 */
static void
test_read_beside(void **state)
{
    const char   *dir = *state;
    pw_store     *s = NULL;
    pw_store_txn *held, *b, *w;
    pthread_t     grower;
    void         *res;

    assert_int_equal(pw_store_open(dir, 0, &s, NULL, 0), PW_OK);
    ts_fill(s, 1, 1);
    assert_int_equal(pw_store_read_begin(s, &held), PW_OK);
    ts_fill(s, 2, 1);
    assert_int_equal(pw_store_read_begin_beside(held, &b), PW_OK);
    assert_int_equal(ts_child_count(s, held), 100);
    assert_int_equal(ts_child_count(s, b), 200);
    pw_store_read_end(b);
    /* a resize waits for held; a txn beside it must not wait for the resize */
    assert_int_equal(pthread_create(&grower, NULL, ts_grow_main, s), 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(pw_store_read_begin_beside(held, &b), PW_OK);
        assert_int_equal(ts_child_count(s, b), 200);
        pw_store_read_end(b);
    }
    pw_store_read_end(held);
    assert_int_equal(pthread_join(grower, &res), 0);
    assert_int_equal((intptr_t) res, PW_OK);
    /* beside a write txn: refused */
    assert_int_equal(pw_store_write_begin(s, &w), PW_OK);
    assert_int_equal(pw_store_read_begin_beside(w, &b), PW_EINVAL);
    assert_null(b);
    pw_store_write_abort(w);
    pw_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_dedupe, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_host_label, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_series_id_reuse, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_long_keys, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_range_bounds, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_ts_order_negative, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_bad_frames_leave_txn_usable, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_agents, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_map_full_grow, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_reader_other_process, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_formats, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_hash_collisions, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_symbols_abort, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_series_cache_abort, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_read_beside, ts_setup, ts_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
