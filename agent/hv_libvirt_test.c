/*
 * hv_libvirt_test.c - the libvirt source against libvirt's test driver, in
 * process: test:///default and tests/fixtures/hypervisor/host.xml (20
 * domains of different sizes and states, two storage pools).
 *
 * libvirt 9.0's test driver answers bulk stats with state.* only, so these
 * tests also prove the gap filling of hv_libvirt.c (vCPUs and memory from
 * virDomainGetInfo, disks and their sizes from the definition and its
 * storage volumes, title and description).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hypervisor.h"
#include "sampler.h"
#include "sampler_fixture.h"

#define GiB 1073741824.0
#define MiB 1048576.0
#define U(i) "6a3c1f00-0000-4000-8000-0000000000" #i

static char hv_uri[PATH_MAX + 16], hv_sys[PATH_MAX];

static pw_sampler_env
hv_env(const char *uri)
{
    const char    *root = getenv("PW_FIXTURES");
    pw_sampler_env env = { .proc_root = "/nonexistent", .sys_root = hv_sys, .rootfs = "",
                           .hypervisor_uri = hv_uri, .hypervisor_timeout_ms = 10000 };

    if (root == NULL)
        fail_msg("PW_FIXTURES is not set: run the tests with meson test");
    if (uri != NULL)
        snprintf(hv_uri, sizeof hv_uri, "%s", uri);
    else
        snprintf(hv_uri, sizeof hv_uri, "test://%s/hypervisor/host.xml", root);
    snprintf(hv_sys, sizeof hv_sys, "%s/hypervisor/sys", root);
    return env;
}

static size_t
hv_find_domain(const pw_hv_round *r, const char *name)
{
    for (size_t i = 0; i < r->ndomains; i++)
        if (strcmp(r->domains[i].name, name) == 0)
            return i;
    fail_msg("no domain %s", name);
    return 0;
}

static uint64_t
hv_u64(const pw_hv_round *r, size_t i, const char *field)
{
    uint64_t v = 0;

    if (!pw_hv_param_u64(pw_hv_domain_param(r, i, field), &v))
        fail_msg("domain %s: no numeric %s", r->domains[i].name, field);
    return v;
}

/* The source itself on test:///default: what the test driver is known to hold. */
static void
test_default(void **unused)
{
    pw_hv_source      *s;
    pw_hv_round       *r = pw_hv_round_new();
    char               err[512] = "";
    const pw_hv_param *p;
    size_t             i;

    assert_non_null(r);
    assert_true(pw_hv_libvirt.accepts("test:///default"));
    assert_true(pw_hv_libvirt.accepts("qemu+ssh://host/system"));
    assert_int_equal(pw_hv_libvirt.open("test:///default", &s, err, sizeof err), PW_OK);
    assert_int_equal(pw_hv_libvirt.node(s, &r->node, err, sizeof err), PW_OK);
    /* 2 NUMA nodes x 2 sockets x 2 cores x 2 threads */
    assert_int_equal(r->node.sockets, 4);
    assert_int_equal(r->node.cores, 8);
    assert_int_equal(r->node.threads, 16);
    assert_int_equal(r->node.mhz, 1400);
    assert_true(r->node.memory_bytes == 3145728ull * 1024);
    assert_int_equal(pw_hv_libvirt.pools(s, r, err, sizeof err), PW_OK);
    assert_int_equal(r->npools, 1);
    assert_string_equal(r->pools[0].name, "default-pool");
    assert_true(r->pools[0].capacity == 107374182400ull);
    assert_int_equal(pw_hv_libvirt.domains(s, r, err, sizeof err), PW_OK);
    assert_int_equal(r->ndomains, 1);
    i = hv_find_domain(r, "test");
    assert_string_equal(r->domains[i].uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f");
    assert_true(hv_u64(r, i, "state.state") == 1);
    assert_true(hv_u64(r, i, "vcpu.current") == 2);
    assert_true(hv_u64(r, i, "balloon.maximum") == 8388608);
    assert_true(hv_u64(r, i, "balloon.current") == 2097152);
    assert_true(hv_u64(r, i, "block.count") == 1);
    assert_non_null(p = pw_hv_domain_param(r, i, "block.0.name"));
    assert_string_equal(p->v.s, "vda");
    /* /guest/diskimage1 is in no pool: no size rather than a made-up one */
    assert_null(pw_hv_domain_param(r, i, "block.0.capacity"));
    /* the driver's bulk stats carry no cpu time: none is invented */
    assert_null(pw_hv_domain_param(r, i, "cpu.time"));
    pw_hv_libvirt.close(s);
    pw_hv_round_free(r);
}

static void
test_bad_uri(void **unused)
{
    pw_hv_source *s = NULL;
    char          err[512] = "";

    assert_int_equal(pw_hv_libvirt.open("test:///nonexistent/host.xml", &s, err, sizeof err),
                     PW_ENET);
    assert_null(s);
    assert_non_null(strstr(err, "test:///nonexistent/host.xml"));
}

/* The whole sampler on the fixture host: 20 domains, values from the XML. */
static void
test_host_xml(void **unused)
{
    pw_sampler_env env = hv_env(NULL);
    void          *st = NULL;
    pw_batch      *b;

    assert_int_equal(pw_sampler_hypervisor.init(&env, &st), PW_OK);
    for (int round = 0; round < 2; round++) {
        assert_non_null(b = pw_batch_new());
        pw_batch_group(b, pw_now_ms());
        assert_int_equal(pw_sampler_hypervisor.collect(st, &env, b), PW_OK);
        fx_expect(b, "poolwatch_hypervisor_up", 1);
        fx_expect(b, "poolwatch_host_cpu_sockets", 2);
        fx_expect(b, "poolwatch_host_cpu_cores", 32);
        fx_expect(b, "poolwatch_host_cpu_threads", 64);
        fx_expect(b, "poolwatch_host_cpu_mhz", 2600);
        fx_expect(b, "poolwatch_host_memory_bytes", 1024 * GiB);
        /* the test driver fixes a pool's capacity at 100 GiB and adds up its volumes */
        fx_expect(b, "poolwatch_host_storage_pool_capacity_bytes{storage_pool=\"images\"}", 100 * GiB);
        fx_expect(b, "poolwatch_host_storage_pool_allocation_bytes{storage_pool=\"images\"}",
                  3230 * 10 * MiB);
        fx_expect(b, "poolwatch_host_storage_pool_available_bytes{storage_pool=\"ssd\"}",
                  100 * GiB - 8400 * 10 * MiB);
        assert_int_equal(fx_count(b, "poolwatch_vm_info"), 20);
        fx_expect(b, "poolwatch_hypervisor_domains{state=\"running\"}", 12);
        fx_expect(b, "poolwatch_hypervisor_domains{state=\"paused\"}", 2);
        fx_expect(b, "poolwatch_hypervisor_domains{state=\"shutoff\"}", 3);
        fx_expect(b, "poolwatch_hypervisor_domains{state=\"crashed\"}", 1);
        fx_expect(b, "poolwatch_hypervisor_domains{state=\"pmsuspended\"}", 1);
        fx_expect(b, "poolwatch_hypervisor_domains{state=\"other\"}", 1);

        /* app-01: sizes, title in Chinese, disks by path and by pool/volume */
#define A1 "{vm=\"" U(04) "\",vm_name=\"app-01\"}"
#define A1D(dev) "{device=\"" dev "\",vm=\"" U(04) "\",vm_name=\"app-01\"}"
        fx_expect(b, "poolwatch_vm_info{description=\"应用服务器 1, vm 4 of the fixture\","
                     "title=\"应用服务器 1\",vm=\"" U(04) "\",vm_name=\"app-01\"}", 1);
        fx_expect(b, "poolwatch_vm_state" A1, 1);
        fx_expect(b, "poolwatch_vm_vcpus" A1, 4);
        fx_expect(b, "poolwatch_vm_memory_max_bytes" A1, 16 * GiB);
        fx_expect(b, "poolwatch_vm_memory_current_bytes" A1, 12 * GiB);
        fx_expect(b, "poolwatch_vm_disk_capacity_bytes" A1D("vda"), 60 * GiB);
        fx_expect(b, "poolwatch_vm_disk_allocation_bytes" A1D("vda"), 600 * MiB);
        fx_expect(b, "poolwatch_vm_disk_capacity_bytes" A1D("vdb"), 200 * GiB);
        fx_absent(b, "poolwatch_vm_disk_capacity_bytes" A1D("sda"));     /* the cdrom */
        /* big-01 and a shut-off and a crashed one */
        fx_expect(b, "poolwatch_vm_vcpus{vm=\"" U(20) "\",vm_name=\"big-01\"}", 64);
        fx_expect(b, "poolwatch_vm_memory_max_bytes{vm=\"" U(20) "\",vm_name=\"big-01\"}", 512 * GiB);
        fx_expect(b, "poolwatch_vm_disk_capacity_bytes{device=\"vdb\",vm=\"" U(20)
                     "\",vm_name=\"big-01\"}", 4000 * GiB);
        fx_expect(b, "poolwatch_vm_state{vm=\"" U(09) "\",vm_name=\"batch-01\"}", 5);
        fx_absent(b, "poolwatch_vm_balloon_actual_bytes{vm=\"" U(09) "\",vm_name=\"batch-01\"}");
        fx_expect(b, "poolwatch_vm_state{vm=\"" U(12) "\",vm_name=\"test-02\"}", 6);
        fx_expect(b, "poolwatch_vm_info{vm=\"" U(03) "\",vm_name=\"web-03\"}", 1);  /* no title */
        /* no cpu, balloon statistics, block or net counters from this driver */
        assert_int_equal(fx_count(b, "poolwatch_vm_cpu_seconds_total"), 0);
        assert_int_equal(fx_count(b, "poolwatch_vm_network_receive_bytes_total"), 0);
        /* nothing changes between rounds */
        fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"resized\"}", 0);
        fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"appeared\"}", 0);
        pw_batch_free(b);
    }
    pw_sampler_hypervisor.fini(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_bad_uri),
        cmocka_unit_test(test_host_xml),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
