/*
 * capacity_test.c - a pool's figures from its hosts' figures
 * (pw_cap_pool_compute): sums, overcommit, overrides, domains against the
 * inventory, an empty pool, hosts without data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "capacity.h"

#define GIB 1073741824.0
#define EPS 1e-9

/* Two hosts (sorted by name): 64 threads / 256 GiB / 4 TiB / 2 x 10 Gb/s, and 32 / 128 GiB. */
static void
hosts2(pw_cap_host h[3])
{
    pw_cap_host_init(&h[0], "hv-a");
    h[0].capacity[PW_POOL_CPU] = 64;
    h[0].capacity[PW_POOL_MEMORY] = 256 * GIB;
    h[0].capacity[PW_POOL_STORAGE] = 4096 * GIB;
    h[0].capacity[PW_POOL_NETWORK] = 2 * 1.25e9;
    h[0].used[PW_POOL_CPU] = 16;
    h[0].used[PW_POOL_MEMORY] = 128 * GIB;
    h[0].used[PW_POOL_STORAGE] = 1024 * GIB;
    h[0].used[PW_POOL_NETWORK] = 0.5e9;
    pw_cap_host_init(&h[1], "hv-b");
    h[1].capacity[PW_POOL_CPU] = 32;
    h[1].capacity[PW_POOL_MEMORY] = 128 * GIB;
    h[1].used[PW_POOL_CPU] = 8;
    h[1].used[PW_POOL_MEMORY] = 64 * GIB;
    pw_cap_host_init(&h[2], "hv-c");            /* in the list, no figure at all */
}

static void
test_sums_and_overcommit(void **state)
{
    pw_cap_host       h[3];
    const char *const names[] = { "hv-b", "hv-a" };
    pw_pool_def       p = { .name = "p1", .hosts = names, .nhosts = 2, .cpu_overcommit = 2,
                            .memory_overcommit = 1.5 };
    pw_cap_pool       out;

    (void) state;
    hosts2(h);
    h[0].domains = 3;
    h[0].dom_alloc[PW_POOL_CPU] = 96;
    h[0].dom_alloc[PW_POOL_MEMORY] = 192 * GIB;
    h[0].dom_alloc[PW_POOL_STORAGE] = 2048 * GIB;
    h[1].domains = 1;
    h[1].dom_alloc[PW_POOL_CPU] = 48;
    h[1].dom_alloc[PW_POOL_MEMORY] = 96 * GIB;
    pw_cap_pool_compute(&p, h, 3, NULL, &out);
    assert_int_equal(out.hosts, 2);
    assert_int_equal(out.hosts_measured, 2);
    assert_int_equal(out.alloc_src, PW_CAP_ALLOC_DOMAINS);
    assert_int_equal(out.vms, 4);
    /* cpu: 96 threads physical; 144 vCPUs over 96 x 2 = 0.75; used 24 / 96 */
    assert_float_equal(out.res[PW_POOL_CPU].capacity, 96, EPS);
    assert_float_equal(out.res[PW_POOL_CPU].overcommit, 2, EPS);
    assert_float_equal(out.res[PW_POOL_CPU].allocated, 144, EPS);
    assert_float_equal(out.res[PW_POOL_CPU].allocated_ratio, 0.75, EPS);
    assert_float_equal(out.res[PW_POOL_CPU].used_ratio, 0.25, EPS);
    /* memory: 288 GiB over 384 x 1.5 = 0.5; used 192 / 384 */
    assert_float_equal(out.res[PW_POOL_MEMORY].allocated_ratio, 0.5, EPS);
    assert_float_equal(out.res[PW_POOL_MEMORY].used_ratio, 0.5, EPS);
    /* storage: only hv-a measured; no overcommit */
    assert_float_equal(out.res[PW_POOL_STORAGE].capacity, 4096 * GIB, 1);
    assert_float_equal(out.res[PW_POOL_STORAGE].overcommit, 1, EPS);
    assert_float_equal(out.res[PW_POOL_STORAGE].allocated_ratio, 0.5, EPS);
    assert_float_equal(out.res[PW_POOL_STORAGE].used_ratio, 0.25, EPS);
    /* network: no allocation */
    assert_true(isnan(out.res[PW_POOL_NETWORK].allocated));
    assert_true(isnan(out.res[PW_POOL_NETWORK].allocated_ratio));
    assert_float_equal(out.res[PW_POOL_NETWORK].used_ratio, 0.2, EPS);
    assert_false(out.res[PW_POOL_NETWORK].forecast[PW_CAP_USED][0].has);
}

static void
test_overrides(void **state)
{
    pw_cap_host       h[3];
    const char *const names[] = { "hv-a" };
    pw_pool_def       p = { .name = "p", .hosts = names, .nhosts = 1, .cpu_overcommit = 1,
                            .memory_overcommit = 1,
                            .capacity = { [PW_POOL_CPU] = 32, [PW_POOL_NETWORK] = 1.25e9 } };
    pw_cap_pool       out;

    (void) state;
    hosts2(h);
    pw_cap_pool_compute(&p, h, 3, NULL, &out);
    assert_true(out.res[PW_POOL_CPU].capacity_override);
    assert_float_equal(out.res[PW_POOL_CPU].capacity, 32, EPS);
    assert_float_equal(out.res[PW_POOL_CPU].used_ratio, 0.5, EPS);        /* 16 / 32 */
    assert_false(out.res[PW_POOL_MEMORY].capacity_override);
    assert_float_equal(out.res[PW_POOL_MEMORY].capacity, 256 * GIB, 1);
    assert_float_equal(out.res[PW_POOL_NETWORK].used_ratio, 0.4, EPS);    /* 0.5e9 / 1.25e9 */
    /* no domain, no inventory VM: nothing allocated */
    assert_int_equal(out.alloc_src, PW_CAP_ALLOC_NONE);
    assert_float_equal(out.res[PW_POOL_CPU].allocated, 0, 0);
    assert_float_equal(out.res[PW_POOL_CPU].allocated_ratio, 0, 0);
    /* a bad overcommit counts as 1 */
    p.cpu_overcommit = 0;
    pw_cap_pool_compute(&p, h, 3, NULL, &out);
    assert_float_equal(out.res[PW_POOL_CPU].overcommit, 1, 0);
}

static void
test_inventory_fallback(void **state)
{
    pw_cap_host       h[3];
    const char *const names[] = { "hv-a", "hv-b" };
    pw_pool_def       p = { .name = "p", .hosts = names, .nhosts = 2, .cpu_overcommit = 4,
                            .memory_overcommit = 1 };
    pw_cap_inv_alloc  inv = { .vms = 5, .alloc = { 96, 192 * GIB, 1000 * GIB, NAN } };
    pw_cap_pool       out;

    (void) state;
    hosts2(h);
    pw_cap_pool_compute(&p, h, 3, &inv, &out);
    assert_int_equal(out.alloc_src, PW_CAP_ALLOC_INVENTORY);
    assert_int_equal(out.vms, 5);
    assert_float_equal(out.res[PW_POOL_CPU].allocated_ratio, 96.0 / (96 * 4), EPS);
    assert_float_equal(out.res[PW_POOL_MEMORY].allocated_ratio, 0.5, EPS);
    /* one observed domain wins over the inventory, for the whole pool */
    h[1].domains = 1;
    h[1].dom_alloc[PW_POOL_CPU] = 8;
    pw_cap_pool_compute(&p, h, 3, &inv, &out);
    assert_int_equal(out.alloc_src, PW_CAP_ALLOC_DOMAINS);
    assert_float_equal(out.res[PW_POOL_CPU].allocated, 8, 0);
    assert_float_equal(out.res[PW_POOL_MEMORY].allocated, 0, 0);   /* no figure: 0 */
}

static void
test_empty_and_unmeasured(void **state)
{
    pw_cap_host       h[3];
    const char *const names[] = { "hv-c", "nowhere" };
    pw_pool_def       empty = { .name = "e", .cpu_overcommit = 1, .memory_overcommit = 1 };
    pw_pool_def       p = { .name = "p", .hosts = names, .nhosts = 2, .cpu_overcommit = 1,
                            .memory_overcommit = 1 };
    pw_cap_pool       out;

    (void) state;
    hosts2(h);
    pw_cap_pool_compute(&empty, h, 3, NULL, &out);
    assert_int_equal(out.hosts, 0);
    assert_true(isnan(out.res[PW_POOL_CPU].capacity));
    assert_true(isnan(out.res[PW_POOL_CPU].allocated_ratio));
    assert_true(isnan(out.res[PW_POOL_CPU].used_ratio));
    assert_float_equal(out.res[PW_POOL_CPU].allocated, 0, 0);
    /* hosts in the definition that never reported */
    pw_cap_pool_compute(&p, h, 3, NULL, &out);
    assert_int_equal(out.hosts, 2);
    assert_int_equal(out.hosts_measured, 0);
    assert_true(isnan(out.res[PW_POOL_MEMORY].capacity));
    assert_true(isnan(out.res[PW_POOL_MEMORY].used));
    /* no host table at all */
    pw_cap_pool_compute(&p, NULL, 0, NULL, &out);
    assert_int_equal(out.hosts_measured, 0);
    /* names */
    assert_string_equal(pw_cap_kind_name(PW_CAP_USED), "used");
    assert_string_equal(pw_cap_alloc_src_name(PW_CAP_ALLOC_INVENTORY), "inventory");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums_and_overcommit),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_inventory_fallback),
        cmocka_unit_test(test_empty_and_unmeasured),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
