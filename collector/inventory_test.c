/*
 * inventory_test.c - versioned VM records and pool definitions (inventory.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "inventory.h"
#include "test_fixture.h"
#include "test_inv_fixture.h"

#define DAY   INT64_C(86400000)
#define D(n)  (INT64_C(1793491200000) + (int64_t) ((n) - 1) * DAY)   /* 2026-11-n 00:00Z */

typedef struct seen {
    size_t  n;
    char    names[16][64];
    double  vcpus[16];
    int64_t from[16], to[16];
} seen;

static int
seen_cb(void *ctx, const pw_inv_vm *vm)
{
    seen *s = ctx;

    if (s->n < 16) {
        snprintf(s->names[s->n], sizeof s->names[0], "%s", vm->name);
        s->vcpus[s->n] = vm->vcpus;
        s->from[s->n] = vm->valid_from_ms;
        s->to[s->n] = vm->valid_to_ms;
    }
    s->n++;
    return 0;
}

static pw_inv_vm
vm(const char *name, const char *tenant, double vcpus, int64_t delivered, int64_t terminated)
{
    pw_inv_vm v;

    memset(&v, 0, sizeof v);
    v.name = name;
    v.tenant = tenant;
    v.system = "sys";
    v.vcpus = vcpus;
    v.memory_gb = 8;
    v.delivered_ms = delivered;
    v.terminated_ms = terminated;
    v.requested_ms = INT64_MIN;
    return v;
}

static void
test_lifecycle_window(void **state)
{
    fx                  *f = *state;
    pw_inv_vm            rows[2] = { vm("a", "t1", 4, D(10), D(20)), vm("b", "t2", 2, D(1), INT64_MAX) };
    pw_inv_import_stats  st;
    seen                 s;
    char                 msg[256];

    /* Imported after the fact (the 25th): the VM still counts from the 10th. */
    assert_int_equal(pw_inventory_import(f->inv, D(25), D(25), rows, 2, &st, msg, sizeof msg), PW_OK);
    assert_int_equal(st.added, 2);
    for (int d = 1; d <= 30; d++) {
        memset(&s, 0, sizeof s);
        assert_int_equal(pw_inventory_vms_at(f->inv, D(d) + 3600000, "t1", seen_cb, &s), PW_OK);
        assert_int_equal(s.n, d >= 10 && d < 20 ? 1 : 0);
    }
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vms_at(f->inv, D(15), NULL, seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.names[0], "a");
    assert_string_equal(s.names[1], "b");
    /* Same rows again: nothing written. */
    assert_int_equal(pw_inventory_import(f->inv, D(26), D(26), rows, 2, &st, msg, sizeof msg), PW_OK);
    assert_int_equal(st.added + st.changed, 0);
    assert_int_equal(st.unchanged, 2);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vm_history(f->inv, "a", seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.from[0], INT64_MIN);
    assert_int_equal(pw_inventory_vm_history(f->inv, "zz", seen_cb, &s), PW_ENOENT);
}

static void
test_resize_history(void **state)
{
    fx                  *f = *state;
    pw_inv_vm            r = vm("a", "t1", 4, D(1), INT64_MAX);
    pw_inv_import_stats  st;
    seen                 s;
    char                 msg[256];

    assert_int_equal(pw_inventory_import(f->inv, D(1), D(1), &r, 1, &st, msg, sizeof msg), PW_OK);
    r.vcpus = 8;
    assert_int_equal(pw_inventory_import(f->inv, D(15), D(15), &r, 1, &st, msg, sizeof msg), PW_OK);
    assert_int_equal(st.changed, 1);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vms_at(f->inv, D(14), NULL, seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 1);
    assert_true(s.vcpus[0] == 4);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vms_at(f->inv, D(15), NULL, seen_cb, &s), PW_OK);
    assert_true(s.vcpus[0] == 8);
    /* The month: both versions, each with its own validity. */
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vms_in(f->inv, D(1), D(31), NULL, seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.from[0], INT64_MIN);
    assert_int_equal(s.to[0], D(15));
    assert_int_equal(s.from[1], D(15));
    assert_int_equal(s.to[1], INT64_MAX);
    /* Only the first half: the old version only. */
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vms_in(f->inv, D(1), D(10), NULL, seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 1);
    assert_true(s.vcpus[0] == 4);
    /* A termination imported late applies to the past too. */
    r.terminated_ms = D(20);
    assert_int_equal(pw_inventory_import(f->inv, D(25), D(25), &r, 1, &st, msg, sizeof msg), PW_OK);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vms_at(f->inv, D(22), NULL, seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vms_in(f->inv, D(21), D(31), NULL, seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vm_history(f->inv, "a", seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 3);
}

static void
test_import_rejects(void **state)
{
    fx        *f = *state;
    pw_inv_vm  rows[2] = { vm("a", "t1", 4, D(1), INT64_MAX), vm("a", "t1", 2, D(1), INT64_MAX) };
    seen       s;
    char       msg[256];

    assert_int_equal(pw_inventory_import(f->inv, D(1), D(1), rows, 2, NULL, msg, sizeof msg), PW_EINVAL);
    assert_string_equal(msg, "VM a is listed twice");
    rows[1].name = "b";
    rows[1].tenant = "";
    assert_int_equal(pw_inventory_import(f->inv, D(1), D(1), rows, 2, NULL, msg, sizeof msg), PW_EINVAL);
    assert_string_equal(msg, "VM b: no tenant (using unit)");
    rows[1].tenant = "t";
    rows[1].vcpus = -1;
    assert_int_equal(pw_inventory_import(f->inv, D(1), D(1), rows, 2, NULL, msg, sizeof msg), PW_EINVAL);
    rows[1].vcpus = 1;
    rows[1].terminated_ms = 0;
    assert_int_equal(pw_inventory_import(f->inv, D(1), D(1), rows, 2, NULL, msg, sizeof msg), PW_EINVAL);
    assert_string_equal(msg, "VM b: terminated before it was delivered");
    rows[1].terminated_ms = INT64_MAX;
    rows[1].remarks = "\xff\xfe";
    assert_int_equal(pw_inventory_import(f->inv, D(1), D(1), rows, 2, NULL, msg, sizeof msg), PW_EINVAL);
    /* All or nothing: "a" was not written by any of these. */
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vms_latest(f->inv, NULL, seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 0);
}

static void
test_readonly_late_file(void **state)
{
    fx           *f = *state;
    char         *dir = tf_tmpdir();
    pw_inventory *ro, *rw;
    pw_inv_vm     r = vm("a", "t1", 4, D(1), INT64_MAX);
    seen          s;
    char          msg[256];

    (void) f;
    assert_int_equal(pw_inventory_open(dir, true, &ro, msg, sizeof msg), PW_OK);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vms_latest(ro, NULL, seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(pw_inventory_import(ro, D(1), D(1), &r, 1, NULL, msg, sizeof msg), PW_EINVAL);
    assert_int_equal(pw_inventory_open(dir, false, &rw, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_inventory_import(rw, D(1), D(1), &r, 1, NULL, msg, sizeof msg), PW_OK);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_vms_latest(ro, NULL, seen_cb, &s), PW_OK);
    assert_int_equal(s.n, 1);
    pw_inventory_close(rw);
    pw_inventory_close(ro);
    tf_rmdir(dir);
    assert_int_equal(pw_inventory_open("/nonexistent-pw-dir", true, &ro, msg, sizeof msg), PW_ENOENT);
}

typedef struct pseen {
    size_t n;
    char   name[64];
    size_t nhosts;
    double cpu_oc, cap_mem;
} pseen;

static int
pool_cb(void *ctx, const pw_pool_def *p)
{
    pseen *s = ctx;

    s->n++;
    snprintf(s->name, sizeof s->name, "%s", p->name);
    s->nhosts = p->nhosts;
    s->cpu_oc = p->cpu_overcommit;
    s->cap_mem = p->capacity[PW_POOL_MEMORY];
    return 0;
}

static int
pool_hist_cb(void *ctx, int64_t from, int64_t rec, bool deleted, const pw_pool_def *p)
{
    size_t *n = ctx;

    (void) from;
    (void) rec;
    (void) deleted;
    (void) p;
    (*n)++;
    return 0;
}

static void
test_pools(void **state)
{
    fx          *f = *state;
    const char  *hosts[] = { "h1", "h2" }, *dup[] = { "h1", "h1" };
    pw_pool_def  p = { "p1", hosts, 2, 4, 1.5, { 0, 0, 0, 0 } };
    pseen        s;
    size_t       n = 0;

    assert_int_equal(pw_inventory_pool_set(f->inv, D(1), &p), PW_OK);
    assert_int_equal(pw_inventory_pool_set(f->inv, D(2), &p), PW_OK);   /* no change: no version */
    p.capacity[PW_POOL_MEMORY] = 1e12;
    p.nhosts = 1;
    assert_int_equal(pw_inventory_pool_set(f->inv, D(10), &p), PW_OK);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_pools(f->inv, D(5), pool_cb, &s), PW_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.nhosts, 2);
    assert_true(s.cap_mem == 0);
    assert_true(s.cpu_oc == 4);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_pools(f->inv, INT64_MAX, pool_cb, &s), PW_OK);
    assert_int_equal(s.nhosts, 1);
    assert_true(s.cap_mem == 1e12);
    assert_int_equal(pw_inventory_pool_delete(f->inv, D(20), "p1"), PW_OK);
    assert_int_equal(pw_inventory_pool_delete(f->inv, D(21), "p1"), PW_ENOENT);
    assert_int_equal(pw_inventory_pool_delete(f->inv, D(21), "nope"), PW_ENOENT);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_pools(f->inv, INT64_MAX, pool_cb, &s), PW_OK);
    assert_int_equal(s.n, 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_inventory_pools(f->inv, D(15), pool_cb, &s), PW_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(pw_inventory_pool_history(f->inv, "p1", pool_hist_cb, &n), PW_OK);
    assert_int_equal(n, 3);
    /* Bad definitions. */
    p.hosts = dup;
    p.nhosts = 2;
    assert_int_equal(pw_inventory_pool_set(f->inv, D(22), &p), PW_EINVAL);
    p.hosts = hosts;
    p.cpu_overcommit = 0;
    assert_int_equal(pw_inventory_pool_set(f->inv, D(22), &p), PW_EINVAL);
    p.cpu_overcommit = 1;
    p.capacity[PW_POOL_CPU] = -1;
    assert_int_equal(pw_inventory_pool_set(f->inv, D(22), &p), PW_EINVAL);
    p.capacity[PW_POOL_CPU] = 0;
    p.name = "";
    assert_int_equal(pw_inventory_pool_set(f->inv, D(22), &p), PW_EINVAL);
    assert_int_equal(pw_pool_res_parse("memory"), PW_POOL_MEMORY);
    assert_int_equal(pw_pool_res_parse("disk"), PW_POOL_RES_COUNT_);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_late_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pools, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
