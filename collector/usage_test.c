/*
 * usage_test.c - usage.h: the quantile against a sort, and per-VM figures
 * from series written into a temporary store: averages, p95 and max of
 * bucket figures, availability, memory from the balloon or RSS, each bucket
 * compared with the allocation of the span it falls in (a resize), buckets
 * outside the spans left out, the UUID / name matching rule, and many VMs
 * (read on several threads) measured as each alone.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "store.h"
#include "test_fixture.h"
#include "usage.h"
#include "wire.h"

#define T0   INT64_C(1767225600000)    /* 2026-01-01T00:00:00Z */
#define STEP INT64_C(300000)           /* 5 minutes */
#define HOUR INT64_C(3600000)
#define GIB  1073741824.0

/* Debian 12's cmocka has no assert_double_equal. */
#define assert_near(a, b, eps) near_(a, b, eps, #a, __FILE__, __LINE__)

static void
near_(double a, double b, double eps, const char *what, const char *file, int line)
{
    if (!(fabs(a - b) <= eps)) {
        print_error("%s = %.17g, expected %.17g (within %g)\n", what, a, b, eps);
        _fail(file, line);
    }
}

/* ---- the quantile ------------------------------------------------------- */

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

/* Prometheus' quantile on a sorted copy: rank q (n - 1), linear between neighbours. */
static double
ref_quantile(const double *v, size_t n, double q)
{
    double *s = malloc(n * sizeof *s), rank, r;
    size_t  lo;

    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_d);
    rank = q * (double) (n - 1);
    lo = (size_t) floor(rank);
    r = lo + 1 < n ? s[lo] + (rank - (double) lo) * (s[lo + 1] - s[lo]) : s[lo];
    free(s);
    return r;
}

static void
test_quantile_against_sort(void **state)
{
    static const double qs[] = { 0, 0.05, 0.25, 0.5, 0.9, 0.95, 0.99, 1 };
    unsigned            seed = 7;

    (void) state;
    /* up to 9 000: a month of 5-minute buckets, where a high q takes the heap path */
    for (size_t n = 1; n <= 9000; n += (n < 20 ? 1 : n < 300 ? 37 : 1499)) {
        double *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w);

        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            v[i] = (double) (seed >> 8 & 0xffff) / 655.36 - (i % 5 == 0 ? 50 : 0);   /* duplicates, negatives */
        }
        for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
            memcpy(w, v, n * sizeof *w);
            assert_near(pw_usage_quantile(w, n, qs[k]), ref_quantile(v, n, qs[k]), 1e-9);
        }
        free(v);
        free(w);
    }
}

static void
test_quantile_edges(void **state)
{
    double one[] = { 3.5 }, two[] = { 10, 0 }, same[] = { 2, 2, 2, 2 };

    (void) state;
    assert_true(isnan(pw_usage_quantile(NULL, 0, 0.95)));
    assert_near(pw_usage_quantile(one, 1, 0.95), 3.5, 0);
    assert_near(pw_usage_quantile(two, 2, 0.95), 9.5, 1e-12);   /* 0 + 0.95 x 10 */
    assert_near(pw_usage_quantile(same, 4, 0.95), 2, 0);
    {
        double v[20];

        for (int i = 0; i < 20; i++)
            v[i] = 19 - i;              /* 0..19 reversed: p95 at rank 18.05 */
        assert_near(pw_usage_quantile(v, 20, 0.95), 18.05, 1e-12);
    }
}

/* ---- figures from a store ------------------------------------------------ */

typedef struct fx {
    char     *dir;
    pw_store *store;
} fx;

static int
fx_setup(void **state)
{
    fx  *f = calloc(1, sizeof *f);
    char msg[512];

    f->dir = tf_tmpdir();
    assert_int_equal(pw_store_open(f->dir, 0, &f->store, msg, sizeof msg), PW_OK);
    *state = f;
    return 0;
}

static int
fx_teardown(void **state)
{
    fx *f = *state;

    pw_store_close(f->store);
    tf_rmdir(f->dir);
    free(f);
    return 0;
}

/* Writes a batch in one transaction. */
static void
put_batch(fx *f, pw_batch *b)
{
    pw_frame_header hdr = { .ts_ms = T0, .seq = 1 };
    pw_frame        fr;
    pw_store_txn   *t;
    void           *buf;
    size_t          len;
    char            err[256];

    snprintf(hdr.agent_id, sizeof hdr.agent_id, "test");
    snprintf(hdr.host, sizeof hdr.host, "hv1");
    assert_int_equal(pw_wire_encode(&hdr, b, &buf, &len), PW_OK);
    assert_int_equal(pw_wire_decode(buf, len, &fr, err, sizeof err), PW_OK);
    free(buf);
    assert_int_equal(pw_store_write_begin(f->store, &t), PW_OK);
    assert_int_equal(pw_store_write_samples(t, &fr), PW_OK);
    assert_int_equal(pw_store_write_commit(t), PW_OK);
    pw_frame_release(&fr);
}

/*
 * One VM's series, a point every 5 minutes over [T0, T0 + hours) (a series'
 * newest bucket may still grow, so tests measure an hour less), each in
 * the bucket it names: cpu busy(h) CPUs in hour h (a counter), memory used
 * mem_gib (balloon available 8 GiB - unused) or RSS, network 1000 B/s,
 * running in hours where running(h).
 */
typedef struct vm_spec {
    const char *uuid, *name;
    int         hours;
    double    (*busy)(int h);
    double      mem_gib;
    bool        rss;            /* memory as RSS instead of the balloon */
    bool      (*running)(int h);
} vm_spec;

static void
put_vm(fx *f, const vm_spec *v)
{
    pw_batch *b = pw_batch_new();
    double    cpu = 0;

    assert_non_null(b);
    for (int64_t ts = T0; ts < T0 + v->hours * HOUR; ts += STEP) {
        int h = (int) ((ts - T0) / HOUR);

        assert_int_equal(pw_batch_group(b, ts), PW_OK);
        assert_int_equal(pw_batch_addl(b, "poolwatch_vm_cpu_seconds_total", cpu, "vm", v->uuid, "vm_name", v->name,
                                       NULL), PW_OK);
        cpu += v->busy(h) * (double) STEP / 1000;
        if (v->rss) {
            pw_batch_addl(b, "poolwatch_vm_balloon_rss_bytes", v->mem_gib * GIB, "vm", v->uuid, "vm_name", v->name,
                          NULL);
        } else {
            pw_batch_addl(b, "poolwatch_vm_balloon_available_bytes", 8 * GIB, "vm", v->uuid, "vm_name", v->name,
                          NULL);
            pw_batch_addl(b, "poolwatch_vm_balloon_unused_bytes", (8 - v->mem_gib) * GIB, "vm", v->uuid, "vm_name",
                          v->name, NULL);
        }
        pw_batch_addl(b, "poolwatch_vm_network_receive_bytes_total", 1000.0 * (double) (ts - T0) / 1000, "vm",
                      v->uuid, "vm_name", v->name, "device", "vnet0", NULL);
        pw_batch_addl(b, "poolwatch_vm_state", v->running(h) ? 1 : 5, "vm", v->uuid, "vm_name", v->name, NULL);
    }
    put_batch(f, b);
    pw_batch_free(b);
}

static double busy_one(int h) { (void) h; return 1.0; }
static double busy_ramp(int h) { return h < 12 ? 0.5 : 1.5; }
static bool   run_always(int h) { (void) h; return true; }
static bool   run_first_18(int h) { return h < 18; }

/* Measures vms[0..n) over the spans given, against known UUIDs. */
static void
collect(fx *f, const pw_usage_vm *vms, size_t n, const char *const *known, size_t nknown, pw_usage *out)
{
    pw_store_txn *t;
    char          msg[256] = "";

    assert_int_equal(pw_store_read_begin(f->store, &t), PW_OK);
    if (pw_usage_collect(t, vms, n, known, nknown, PW_RES_5M, out, msg, sizeof msg) != PW_OK)
        fail_msg("pw_usage_collect: %s", msg);
    pw_store_read_end(t);
}

static void
test_averages_and_availability(void **state)
{
    fx                 *f = *state;
    const vm_spec       spec = { "11111111-2222-3333-4444-555555555555", "web-1", 25, busy_ramp, 2.0, false,
                                 run_first_18 };
    /* from 01:00 so every bucket has the one before it for the counter's increase */
    const pw_usage_span span = { T0 + HOUR, T0 + 24 * HOUR, 2, 4 * GIB };
    const pw_usage_vm   vm = { "web-1", "11111111222233334444555555555555", &span, 1 };
    pw_usage            u;

    put_vm(f, &spec);
    collect(f, &vm, 1, NULL, 0, &u);
    assert_true(u.matched);
    assert_int_equal(u.buckets, 23 * 12);
    /* 0.5 CPUs of 2 (25 %) for hours 1-11, 1.5 (75 %) for 12-23. A 5-minute bucket holds
     * the point at its end (the store's rollups: (start, start + 5m]), so the bucket of
     * 11:55 has the 12:00 point and the 11:55-12:00 increase: 11 x 12 buckets at 25 % */
    {
        double lo = 0.25, hi = 0.75;
        size_t nlo = 11 * 12, nhi = 12 * 12;

        assert_int_equal(u.buckets_cpu, nlo + nhi);
        assert_near(u.cpu_avg, (lo * nlo + hi * nhi) / (double) (nlo + nhi), 1e-9);
        assert_near(u.cpu_p95, hi, 1e-9);
        assert_near(u.cpu_max, hi, 1e-9);
    }
    assert_near(u.mem_avg, 0.5, 1e-12);          /* 2 GiB of 4 */
    assert_near(u.mem_p95, 0.5, 1e-12);
    assert_near(u.net_avg, 1000, 1e-6);
    assert_near(u.net_p95, 1000, 1e-6);
    /* running until the 17:55 point: the buckets 01:00 ... 17:50 (the 17:55 one holds 18:00) */
    assert_near(u.availability, (17.0 * 12 - 1) / (23 * 12), 1e-12);
    assert_true(isnan(u.disk_used));                       /* no disk series */
}

static void
test_resize_buckets_take_their_span(void **state)
{
    fx                 *f = *state;
    const vm_spec       spec = { "aaaaaaaa-0000-0000-0000-000000000001", "app-1", 25, busy_one, 1.0, true,
                                 run_always };
    /* 2 vCPUs 01:00-12:00, then a gap (not in service) 12:00-13:00, then 4 vCPUs and more memory */
    const pw_usage_span spans[] = { { T0 + HOUR, T0 + 12 * HOUR, 2, 2 * GIB },
                                    { T0 + 13 * HOUR, T0 + 24 * HOUR, 4, 4 * GIB } };
    const pw_usage_vm   vm = { "app-1", "AAAAAAAA-0000-0000-0000-000000000001", spans, 2 };
    pw_usage            u;

    put_vm(f, &spec);
    collect(f, &vm, 1, NULL, 0, &u);
    assert_int_equal(u.buckets, 22 * 12);                 /* the hour between is not counted */
    assert_int_equal(u.buckets_cpu, 22 * 12);
    /* 1 CPU busy: 50 % of 2 for 11 hours, 25 % of 4 for 11 hours */
    assert_near(u.cpu_avg, 0.375, 1e-9);
    assert_near(u.cpu_max, 0.5, 1e-9);
    assert_near(u.cpu_p95, 0.5, 1e-9);
    /* memory from RSS: 1 GiB of 2, then of 4 */
    assert_near(u.mem_avg, 0.375, 1e-12);
    assert_near(u.mem_p95, 0.5, 1e-12);
    assert_near(u.availability, 1, 0);
}

static void
test_matching(void **state)
{
    fx                 *f = *state;
    const vm_spec       a = { "bbbbbbbb-0000-0000-0000-00000000000a", "db-1", 4, busy_one, 1.0, false, run_always };
    const vm_spec       b = { "bbbbbbbb-0000-0000-0000-00000000000b", "db-2", 4, busy_one, 1.0, false, run_always };
    const pw_usage_span span = { T0 + HOUR, T0 + 4 * HOUR, 1, 2 * GIB };
    /* db-1 by UUID; "db-2" has no UUID in the inventory: matched by name, unless its
     * series' UUID is another VM's in the inventory; "ghost" has nothing */
    const pw_usage_vm   vms[] = { { "db-1", "bbbbbbbb00000000000000000000000a", &span, 1 },
                                  { "db-2", "", &span, 1 },
                                  { "ghost", "cccccccc-0000-0000-0000-000000000000", &span, 1 } };
    const char *const   known[] = { "bbbbbbbb-0000-0000-0000-00000000000b" };
    pw_usage            u[3];

    put_vm(f, &a);
    put_vm(f, &b);
    collect(f, vms, 3, NULL, 0, u);
    assert_true(u[0].matched);
    assert_near(u[0].cpu_avg, 1, 1e-9);
    assert_true(u[1].matched);
    assert_near(u[1].cpu_avg, 1, 1e-9);
    assert_false(u[2].matched);
    assert_true(isnan(u[2].cpu_avg) && isnan(u[2].mem_avg) && isnan(u[2].availability));
    assert_int_equal(u[2].buckets, 3 * 12);
    /* the inventory knows db-2's series' UUID for some other VM: never matched by name */
    collect(f, vms, 3, known, 1, u);
    assert_true(u[0].matched);
    assert_false(u[1].matched);
    assert_true(isnan(u[1].cpu_avg));
}

/* Equal figures, NaN equal to NaN. */
static void
assert_same_usage(const pw_usage *a, const pw_usage *b, size_t i)
{
    const double x[] = { a->cpu_avg, a->cpu_p95, a->cpu_max, a->mem_avg, a->mem_p95, a->disk_used,
                         a->net_avg, a->net_p95, a->availability };
    const double y[] = { b->cpu_avg, b->cpu_p95, b->cpu_max, b->mem_avg, b->mem_p95, b->disk_used,
                         b->net_avg, b->net_p95, b->availability };

    for (size_t k = 0; k < sizeof x / sizeof x[0]; k++)
        if (!(x[k] == y[k] || (isnan(x[k]) && isnan(y[k]))))
            fail_msg("VM %zu, figure %zu: %.17g, one by one %.17g", i, k, x[k], y[k]);
    assert_int_equal(a->buckets, b->buckets);
    assert_int_equal(a->buckets_cpu, b->buckets_cpu);
    assert_int_equal(a->matched, b->matched);
}

/*
 * Enough VMs to be read on several threads (on a machine with several
 * cores) give each the figures it gets measured alone, before and after
 * the rollups are stored (stored blocks are read by column).
 */
static void
test_many_vms_as_one_by_one(void **state)
{
    enum { N = 160 };
    fx                  *f = *state;
    static char          uuid[N][40], name[N][16];
    static pw_usage_vm   vms[N];
    static pw_usage      all[N], one[N];
    const pw_usage_span  span = { T0 + HOUR, T0 + 6 * HOUR, 2, 4 * GIB };
    const int64_t        keep[PW_RES_COUNT_] = { 0 };

    for (size_t i = 0; i < N; i++) {
        vm_spec v = { uuid[i], name[i], 7, i % 2 ? busy_ramp : busy_one, 0.5 + (double) (i % 7) * 0.25,
                      i % 5 == 0, i % 3 ? run_always : run_first_18 };

        snprintf(uuid[i], sizeof uuid[i], "dddddddd-0000-0000-0000-%012zx", i);
        snprintf(name[i], sizeof name[i], "vm-%zu", i);
        if (i != 7)                                 /* one VM without any series */
            put_vm(f, &v);
        vms[i] = (pw_usage_vm) { name[i], uuid[i], &span, 1 };
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {                            /* store the rollups */
            bool more = true;

            while (more)
                assert_int_equal(pw_store_maintain(f->store, T0 + 30 * 24 * HOUR, keep, 100000, &more), PW_OK);
        }
        collect(f, vms, N, NULL, 0, all);
        for (size_t i = 0; i < N; i++)
            collect(f, &vms[i], 1, NULL, 0, &one[i]);
        for (size_t i = 0; i < N; i++)
            assert_same_usage(&all[i], &one[i], i);
        assert_true(all[0].matched && !all[7].matched && all[N - 1].matched);
        assert_near(all[0].cpu_avg, 0.5, 1e-9);     /* busy_one: 1 CPU of 2 */
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantile_against_sort),
        cmocka_unit_test(test_quantile_edges),
        cmocka_unit_test_setup_teardown(test_averages_and_availability, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_resize_buckets_take_their_span, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_matching, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_many_vms_as_one_by_one, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
