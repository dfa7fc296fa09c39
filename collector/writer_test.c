/*
 * writer_test.c - the group-commit writer and its per-agent series id memo:
 * frames go through the real codec (pw_wire_encode, pw_wire_decode) into a
 * writer on a temporary store, and the points are read back by series key.
 * The memo must give the same store as resolving every frame afresh: the
 * same dictionary reuses ids, a changed dictionary or host does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "store.h"
#include "test_fixture.h"
#include "wire.h"
#include "writer.h"
#include "writer_memo.h"

#define T0 INT64_C(1700000000000)

/* ---- frames through the codec -------------------------------------------- */

typedef struct wt_series wt_series;
struct wt_series {
    const char *metric, *lname, *lvalue;   /* one label, or lname NULL */
    double      value;
};

/* Decodes a frame of agent/host/seq with series s[0..n) at ts into *f. */
static void
wt_frame(pw_frame *f, const char *agent, const char *host, uint64_t seq, int64_t ts,
         const wt_series *s, size_t n)
{
    pw_frame_header h = { .version = PW_WIRE_VERSION, .seq = seq, .ts_ms = ts };
    pw_batch       *b = pw_batch_new();
    void           *buf;
    size_t          len;
    char            err[256];

    assert_non_null(b);
    snprintf(h.agent_id, sizeof h.agent_id, "%s", agent);
    snprintf(h.host, sizeof h.host, "%s", host);
    memset(h.boot_id, 0x42, sizeof h.boot_id);
    assert_int_equal(pw_batch_group(b, ts), PW_OK);
    for (size_t i = 0; i < n; i++) {
        pw_label l = { .name = s[i].lname, .value = s[i].lvalue };

        assert_int_equal(pw_batch_add(b, s[i].metric, s[i].value, s[i].lname ? 1 : 0, &l), PW_OK);
    }
    assert_int_equal(pw_wire_encode(&h, b, &buf, &len), PW_OK);
    pw_batch_free(b);
    assert_int_equal(pw_wire_decode(buf, len, f, err, sizeof err), PW_OK);
    free(buf);
}

/* ---- the writer, waited on ------------------------------------------------ */

typedef struct wt_wait wt_wait;
struct wt_wait {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    size_t          done;
};

static void
wt_done(pw_write_req *r)
{
    wt_wait *w = r->arg;

    pw_frame_release(&r->frame);
    pthread_mutex_lock(&w->mu);
    w->done++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Submits reqs[0..n) (frames set) at once and waits for all their acks. */
static void
wt_submit(pw_writer *wr, wt_wait *w, pw_write_req *reqs, size_t n)
{
    size_t want;

    pthread_mutex_lock(&w->mu);
    want = w->done + n;
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++) {
        reqs[i].recv_ms = T0;
        reqs[i].done = wt_done;
        reqs[i].arg = w;
        pw_writer_submit(wr, &reqs[i]);
    }
    pthread_mutex_lock(&w->mu);
    while (w->done < want)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

/* ---- reading back ----------------------------------------------------------- */

typedef struct wt_find wt_find;
struct wt_find {
    const char *key;
    uint64_t    id;
    size_t      seen;
};

static int
wt_on_series(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    wt_find *f = ctx;

    f->seen++;
    if (strlen(f->key) == keylen && memcmp(f->key, key, keylen) == 0)
        f->id = id;
    return 0;
}

typedef struct wt_pts wt_pts;
struct wt_pts {
    size_t  n;
    int64_t ts[1024];
    double  v[1024];
};

static int
wt_on_point(void *ctx, int64_t ts, double v)
{
    wt_pts *p = ctx;

    if (p->n == 1024)
        return 1;
    p->ts[p->n] = ts;
    p->v[p->n] = v;
    p->n++;
    return 0;
}

/* The points of series key (metric first); fails if the series is absent. */
static void
wt_points(pw_store *s, const char *metric, const char *key, wt_pts *p)
{
    pw_store_txn *t;
    wt_find       f = { .key = key };

    memset(p, 0, sizeof *p);
    assert_int_equal(pw_store_read_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_series_scan(t, metric, wt_on_series, &f), PW_OK);
    if (f.id == 0)
        fail_msg("series %s not found", key);
    assert_int_equal(pw_store_points(t, f.id, INT64_MIN, INT64_MAX, wt_on_point, p), PW_OK);
    pw_store_read_end(t);
}

static size_t
wt_nseries(pw_store *s, const char *metric)
{
    pw_store_txn *t;
    wt_find       f = { .key = "" };

    assert_int_equal(pw_store_read_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_series_scan(t, metric, wt_on_series, &f), PW_OK);
    pw_store_read_end(t);
    return f.seen;
}

static pw_store *
wt_open(const char *dir)
{
    pw_store *s = NULL;
    char      msg[256];

    if (pw_store_open(dir, 0, &s, msg, sizeof msg) != PW_OK)
        fail_msg("open %s: %s", dir, msg);
    return s;
}

/* ---- writer ------------------------------------------------------------------ */

/*
 * Frames of one agent with the same dictionary, then a reordered one with a
 * new series, then another host: each value lands in its own series.
 */
static void
test_writer_memo_keeps_series_apart(void **state)
{
    char               *dir = tf_tmpdir();
    pw_store           *s = wt_open(dir);
    pw_collector_stats  stats;
    pw_writer          *wr;
    wt_wait             w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    pw_write_req        r[3];
    wt_pts              p;
    const wt_series     a1[] = { { "m", "x", "1", 1 }, { "m", "x", "2", 2 }, { "up", NULL, NULL, 1 } };
    const wt_series     a2[] = { { "m", "x", "1", 11 }, { "m", "x", "2", 12 }, { "up", NULL, NULL, 1 } };
    /* Reordered, and a new series in the middle: ids by position would mix them up. */
    const wt_series     a3[] = { { "m", "x", "2", 22 }, { "m", "x", "3", 23 }, { "m", "x", "1", 21 } };
    const wt_series     a4[] = { { "m", "x", "1", 31 }, { "m", "x", "2", 32 }, { "up", NULL, NULL, 1 } };

    (void) state;
    memset(&stats, 0, sizeof stats);
    assert_int_equal(pw_writer_start(s, &stats, 16, &wr), PW_OK);

    memset(r, 0, sizeof r);
    wt_frame(&r[0].frame, "a", "h1", 1, T0, a1, 3);
    wt_submit(wr, &w, r, 1);
    assert_int_equal(r[0].ack.status, PW_ACK_STORED);
    /* Same dictionary (memo hit) in one batch with a resend of itself: stored once. */
    memset(r, 0, sizeof r);
    wt_frame(&r[0].frame, "a", "h1", 2, T0 + 10000, a2, 3);
    wt_frame(&r[1].frame, "a", "h1", 2, T0 + 10000, a2, 3);
    wt_submit(wr, &w, r, 2);
    assert_int_equal(r[0].ack.status, PW_ACK_STORED);
    assert_int_equal(r[1].ack.status, PW_ACK_DUPLICATE);
    memset(r, 0, sizeof r);
    wt_frame(&r[0].frame, "a", "h1", 3, T0 + 20000, a3, 3);
    wt_submit(wr, &w, r, 1);
    assert_int_equal(r[0].ack.status, PW_ACK_STORED);
    /* The first dictionary again, from another host: new series (host=h2). */
    memset(r, 0, sizeof r);
    wt_frame(&r[0].frame, "a", "h2", 4, T0 + 30000, a4, 3);
    wt_submit(wr, &w, r, 1);
    assert_int_equal(r[0].ack.status, PW_ACK_STORED);
    pw_writer_stop(wr);

    wt_points(s, "m", "m{host=\"h1\",x=\"1\"}", &p);
    assert_int_equal(p.n, 3);
    assert_true(p.v[0] == 1 && p.v[1] == 11 && p.v[2] == 21);
    wt_points(s, "m", "m{host=\"h1\",x=\"2\"}", &p);
    assert_int_equal(p.n, 3);
    assert_true(p.v[0] == 2 && p.v[1] == 12 && p.v[2] == 22);
    assert_int_equal(p.ts[2], T0 + 20000);
    wt_points(s, "m", "m{host=\"h1\",x=\"3\"}", &p);
    assert_int_equal(p.n, 1);
    assert_true(p.v[0] == 23);
    wt_points(s, "m", "m{host=\"h2\",x=\"1\"}", &p);
    assert_int_equal(p.n, 1);
    assert_true(p.v[0] == 31);
    wt_points(s, "up", "up{host=\"h1\"}", &p);
    assert_int_equal(p.n, 2);
    assert_int_equal(wt_nseries(s, "m"), 5);
    assert_int_equal(atomic_load(&stats.frames_stored), 4);
    assert_int_equal(atomic_load(&stats.frames_duplicate), 1);
    pw_store_close(s);
    tf_rmdir(dir);
}

/* Two agents with equal dictionaries and hosts share series; the memo keys by agent. */
static void
test_writer_two_agents(void **state)
{
    char               *dir = tf_tmpdir();
    pw_store           *s = wt_open(dir);
    pw_collector_stats  stats;
    pw_writer          *wr;
    wt_wait             w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    pw_write_req        r[4];
    wt_pts              p;
    const wt_series     x[] = { { "m", "x", "1", 1 } }, y[] = { { "m", "x", "1", 2 } };

    (void) state;
    memset(&stats, 0, sizeof stats);
    assert_int_equal(pw_writer_start(s, &stats, 16, &wr), PW_OK);
    for (int round = 0; round < 2; round++) {
        memset(r, 0, sizeof r);
        wt_frame(&r[0].frame, "a", "h1", (uint64_t) round + 1, T0 + round * 10000, x, 1);
        wt_frame(&r[1].frame, "b", "h2", (uint64_t) round + 1, T0 + round * 10000, y, 1);
        wt_submit(wr, &w, r, 2);
        assert_int_equal(r[0].ack.status, PW_ACK_STORED);
        assert_int_equal(r[1].ack.status, PW_ACK_STORED);
    }
    pw_writer_stop(wr);
    wt_points(s, "m", "m{host=\"h1\",x=\"1\"}", &p);
    assert_int_equal(p.n, 2);
    assert_true(p.v[0] == 1 && p.v[1] == 1);
    wt_points(s, "m", "m{host=\"h2\",x=\"1\"}", &p);
    assert_int_equal(p.n, 2);
    assert_true(p.v[0] == 2 && p.v[1] == 2);
    pw_store_close(s);
    tf_rmdir(dir);
}

/*
 * The batch's points go to the engine sorted by series, one cursor for
 * the common case; every other case must come out as if written frame by
 * frame: past a chunk's seal (800 points of b, one a batch), two frames of
 * one agent in a batch (a, every 50th), a point older than the newest
 * (replaces), and a series that appears on the way.
 */
static void
test_writer_sorted_paths(void **state)
{
    char               *dir = tf_tmpdir();
    pw_store           *s = wt_open(dir);
    pw_collector_stats  stats;
    pw_writer          *wr;
    wt_wait             w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    pw_write_req        r[3];
    wt_pts              p;
    uint64_t            aseq = 0;
    enum { ROUNDS = 800 };

    (void) state;
    memset(&stats, 0, sizeof stats);
    assert_int_equal(pw_writer_start(s, &stats, 16, &wr), PW_OK);
    for (int k = 0; k < ROUNDS; k++) {
        wt_series b[3] = { { "m", "x", "1", 0 }, { "m", "x", "2", 0 }, { "m", "x", "3", 0 } };
        size_t    nb = k < 400 ? 2 : 3, n = 1;

        for (size_t i = 0; i < 3; i++)
            b[i].value = k * 10 + (double) i;
        memset(r, 0, sizeof r);
        wt_frame(&r[0].frame, "b", "hb", (uint64_t) k + 1, T0 + k * 10000, b, nb);
        if (k % 50 == 0) {
            const wt_series a1[] = { { "m", "x", "1", k } }, a2[] = { { "m", "x", "1", k + 1 } };

            aseq += 2;
            wt_frame(&r[1].frame, "a", "ha", aseq - 1, T0 + k * 10000, a1, 1);
            wt_frame(&r[2].frame, "a", "ha", aseq, T0 + k * 10000 + 5000, a2, 1);
            n = 3;
        }
        wt_submit(wr, &w, r, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(r[i].ack.status, PW_ACK_STORED);
    }
    /*
     * An older point of b (it replaces), and two frames of a with the same
     * timestamp in one batch: the later frame's value must win, so the sort
     * must keep a series' points in frame order.
     */
    {
        const wt_series old[] = { { "m", "x", "1", -1 } }, a1[] = { { "m", "x", "1", -3 } },
                        a2[] = { { "m", "x", "1", -2 } };

        memset(r, 0, sizeof r);
        wt_frame(&r[0].frame, "a", "ha", aseq + 1, T0 + ROUNDS * 10000, a1, 1);
        wt_frame(&r[1].frame, "b", "hb", ROUNDS + 1, T0 + 5 * 10000, old, 1);
        wt_frame(&r[2].frame, "a", "ha", aseq + 2, T0 + ROUNDS * 10000, a2, 1);
        wt_submit(wr, &w, r, 3);
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(r[i].ack.status, PW_ACK_STORED);
    }
    pw_writer_stop(wr);

    wt_points(s, "m", "m{host=\"hb\",x=\"1\"}", &p);
    assert_int_equal(p.n, ROUNDS);
    for (int k = 0; k < ROUNDS; k++) {
        assert_int_equal(p.ts[k], T0 + k * 10000);
        assert_true(p.v[k] == (k == 5 ? -1 : k * 10));
    }
    wt_points(s, "m", "m{host=\"hb\",x=\"3\"}", &p);
    assert_int_equal(p.n, ROUNDS - 400);
    assert_int_equal(p.ts[0], T0 + 400 * 10000);
    assert_true(p.v[0] == 4002 && p.v[p.n - 1] == (ROUNDS - 1) * 10 + 2);
    wt_points(s, "m", "m{host=\"ha\",x=\"1\"}", &p);
    assert_int_equal(p.n, ROUNDS / 50 * 2 + 1);
    for (int k = 0; k < ROUNDS / 50; k++) {
        assert_int_equal(p.ts[2 * k], T0 + k * 50 * 10000);
        assert_true(p.v[2 * k] == k * 50 && p.v[2 * k + 1] == k * 50 + 1);
    }
    assert_true(p.v[p.n - 1] == -2);
    pw_store_close(s);
    tf_rmdir(dir);
}

/* ---- memo -------------------------------------------------------------------- */

static void
test_memo_get_put(void **state)
{
    pw_writer_memo  *m = pw_writer_memo_new(1u << 20);
    pw_frame         f, g, h;
    const wt_series  a[] = { { "m", "x", "1", 1 }, { "m", "x", "2", 2 } };
    const wt_series  b[] = { { "m", "x", "1", 1 }, { "m", "x", "3", 2 } };
    const uint64_t   ids[2] = { 7, 9 }, ids2[2] = { 7, 10 };
    const uint64_t  *got;

    (void) state;
    assert_non_null(m);
    wt_frame(&f, "a", "h1", 1, T0, a, 2);
    assert_null(pw_writer_memo_get(m, &f));
    assert_int_equal(pw_writer_memo_put(m, &f, ids), PW_OK);
    assert_int_equal(pw_writer_memo_count(m), 1);
    /* Same dictionary, other values and seq: a hit. */
    wt_frame(&g, "a", "h1", 2, T0 + 10000, a, 2);
    assert_non_null(got = pw_writer_memo_get(m, &g));
    assert_true(got[0] == 7 && got[1] == 9);
    pw_frame_release(&g);
    /* Another host, another agent, another dictionary: misses. */
    wt_frame(&g, "a", "h2", 2, T0, a, 2);
    assert_null(pw_writer_memo_get(m, &g));
    pw_frame_release(&g);
    wt_frame(&g, "b", "h1", 2, T0, a, 2);
    assert_null(pw_writer_memo_get(m, &g));
    pw_frame_release(&g);
    wt_frame(&h, "a", "h1", 2, T0, b, 2);
    assert_null(pw_writer_memo_get(m, &h));
    /* A put replaces the agent's entry. */
    assert_int_equal(pw_writer_memo_put(m, &h, ids2), PW_OK);
    assert_int_equal(pw_writer_memo_count(m), 1);
    assert_null(pw_writer_memo_get(m, &f));
    assert_non_null(got = pw_writer_memo_get(m, &h));
    assert_true(got[1] == 10);
    /* A frame not from the decoder (no dictionary block) is never a hit. */
    {
        pw_frame bare = h;

        bare.dict = NULL;
        assert_null(pw_writer_memo_get(m, &bare));
    }
    pw_frame_release(&f);
    pw_frame_release(&h);
    pw_writer_memo_free(m);
}

/* Many agents: the table grows and finds all; past max_bytes it starts over. */
static void
test_memo_many_and_bound(void **state)
{
    pw_writer_memo  *m = pw_writer_memo_new(16u << 10);
    const wt_series  a[] = { { "m", "x", "1", 1 } };
    pw_frame         f[300];
    uint64_t         id;
    size_t           max_count = 0;

    (void) state;
    for (size_t i = 0; i < 300; i++) {
        char agent[32];

        snprintf(agent, sizeof agent, "agent-%zu", i);
        wt_frame(&f[i], agent, "h", 1, T0, a, 1);
        id = 1000 + i;
        assert_int_equal(pw_writer_memo_put(m, &f[i], &id), PW_OK);
        assert_true(pw_writer_memo_bytes(m) <= 16u << 10);
        if (pw_writer_memo_count(m) > max_count)
            max_count = pw_writer_memo_count(m);
    }
    /* About a hundred fit in 16 KiB, not all 300: it started over at least once. */
    assert_true(max_count > 50);
    assert_true(pw_writer_memo_count(m) < 300);
    /* The last agent put is there with its own id; every hit is right. */
    assert_non_null(pw_writer_memo_get(m, &f[299]));
    for (size_t i = 0; i < 300; i++) {
        const uint64_t *got = pw_writer_memo_get(m, &f[i]);

        if (got != NULL)
            assert_int_equal(got[0], 1000 + i);
        pw_frame_release(&f[i]);
    }
    pw_writer_memo_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_memo_keeps_series_apart),
        cmocka_unit_test(test_writer_two_agents),
        cmocka_unit_test(test_writer_sorted_paths),
        cmocka_unit_test(test_memo_get_put),
        cmocka_unit_test(test_memo_many_and_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
