/*
 * sampler_hypervisor_test.c - hypervisor mode's usage parsing, events and
 * robustness, on recorded KVM rounds (tests/fixtures/hypervisor/kvm, lost)
 * replayed through the source interface, and on recordings made here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "hypervisor.h"
#include "sampler.h"
#include "sampler_fixture.h"

#define GiB 1073741824.0
#define U(i) "0c8e9a10-5b2f-4c3d-9e7f-0000000000" #i

static char hv_uri[PATH_MAX + 16], hv_sys[PATH_MAX];

/* Environment for replay:///<fixtures>/hypervisor/<dir> (dir absolute if it starts with '/'). */
static pw_sampler_env
hv_env(const char *dir, int64_t timeout_ms)
{
    const char    *root = getenv("PW_FIXTURES");
    pw_sampler_env env = { .proc_root = "/nonexistent", .sys_root = hv_sys, .rootfs = "",
                           .hypervisor_uri = hv_uri, .hypervisor_timeout_ms = timeout_ms };

    if (root == NULL)
        fail_msg("PW_FIXTURES is not set: run the tests with meson test");
    if (dir[0] == '/')
        snprintf(hv_uri, sizeof hv_uri, "replay://%s", dir);
    else
        snprintf(hv_uri, sizeof hv_uri, "replay://%s/hypervisor/%s", root, dir);
    snprintf(hv_sys, sizeof hv_sys, "%s/hypervisor/sys", root);
    return env;
}

/* One round on an initialized sampler into a fresh batch (caller frees). */
static pw_err
hv_round(void *state, const pw_sampler_env *env, pw_batch **b)
{
    assert_non_null(*b = pw_batch_new());
    assert_int_equal(pw_batch_group(*b, pw_now_ms()), PW_OK);
    return pw_sampler_hypervisor.collect(state, env, *b);
}

static void *
hv_start(const pw_sampler_env *env)
{
    void *st = NULL;

    assert_int_equal(pw_sampler_hypervisor.init(env, &st), PW_OK);
    assert_non_null(st);
    return st;
}

static void
test_kvm_usage(void **unused)
{
    pw_sampler_env env = hv_env("kvm", 5000);
    void          *st = hv_start(&env);
    pw_batch      *b;

    assert_int_equal(hv_round(st, &env, &b), PW_OK);
    fx_expect(b, "poolwatch_hypervisor_up", 1);
    /* host */
    fx_expect(b, "poolwatch_host_cpu_sockets", 2);
    fx_expect(b, "poolwatch_host_cpu_cores", 48);
    fx_expect(b, "poolwatch_host_cpu_threads", 96);
    fx_expect(b, "poolwatch_host_cpu_mhz", 2900);
    fx_expect(b, "poolwatch_host_memory_bytes", 768 * GiB);
    fx_expect(b, "poolwatch_host_storage_pool_capacity_bytes{storage_pool=\"default\"}", 8000 * GiB);
    fx_expect(b, "poolwatch_host_storage_pool_allocation_bytes{storage_pool=\"default\"}", 3001 * GiB);
    fx_expect(b, "poolwatch_host_storage_pool_available_bytes{storage_pool=\"default\"}", 4999 * GiB);
    fx_expect(b, "poolwatch_host_storage_pool_capacity_bytes{storage_pool=\"ceph-rbd\"}", 100000 * GiB);
    /* physical NICs only; eno2 has no link (-1) */
    fx_expect(b, "poolwatch_host_nic_speed_bytes{device=\"eno1\"}", 1250000000.0);
    assert_int_equal(fx_count(b, "poolwatch_host_nic_speed_bytes"), 1);

    /* states: 9 running, vm-09 paused, vm-10 and vm-11 shut off */
    fx_expect(b, "poolwatch_hypervisor_domains{state=\"running\"}", 9);
    fx_expect(b, "poolwatch_hypervisor_domains{state=\"paused\"}", 1);
    fx_expect(b, "poolwatch_hypervisor_domains{state=\"shutoff\"}", 2);
    fx_expect(b, "poolwatch_hypervisor_domains{state=\"crashed\"}", 0);
    fx_expect(b, "poolwatch_hypervisor_domains{state=\"pmsuspended\"}", 0);
    fx_expect(b, "poolwatch_hypervisor_domains{state=\"other\"}", 0);
    assert_int_equal(fx_count(b, "poolwatch_vm_info"), 12);
    assert_int_equal(fx_count(b, "poolwatch_vm_state"), 12);

    /* vm-02, running: everything, in node_exporter units (bytes, seconds) */
#define V2 "{vm=\"" U(02) "\",vm_name=\"vm-02\"}"
#define D2(dev) "{device=\"" dev "\",vm=\"" U(02) "\",vm_name=\"vm-02\"}"
    fx_expect(b, "poolwatch_vm_info" V2, 1);
    fx_expect(b, "poolwatch_vm_state" V2, 1);
    fx_expect(b, "poolwatch_vm_vcpus" V2, 4);
    fx_expect(b, "poolwatch_vm_memory_max_bytes" V2, 8 * GiB);
    fx_expect(b, "poolwatch_vm_memory_current_bytes" V2, 8 * GiB);
    fx_expect(b, "poolwatch_vm_balloon_actual_bytes" V2, 8 * GiB);
    fx_expect(b, "poolwatch_vm_balloon_unused_bytes" V2, (8 * GiB / 1024 / 4 + 1) * 1024);
    fx_expect(b, "poolwatch_vm_balloon_available_bytes" V2, 8 * GiB - 4096 * 1024.0);
    fx_expect(b, "poolwatch_vm_balloon_rss_bytes" V2, 8 * GiB + (200000 + 1) * 1024.0);
    fx_expect(b, "poolwatch_vm_cpu_seconds_total" V2, 2010);
    fx_expect(b, "poolwatch_vm_disk_read_bytes_total" D2("vda"), 4096.0 * 2001);
    fx_expect(b, "poolwatch_vm_disk_written_bytes_total" D2("vda"), 4096.0 * 1001);
    fx_expect(b, "poolwatch_vm_disk_reads_completed_total" D2("vda"), 2001);
    fx_expect(b, "poolwatch_vm_disk_writes_completed_total" D2("vdb"), 1001);
    fx_expect(b, "poolwatch_vm_disk_capacity_bytes" D2("vda"), 50 * GiB);
    fx_expect(b, "poolwatch_vm_disk_capacity_bytes" D2("vdb"), 500 * GiB);
    fx_expect(b, "poolwatch_vm_disk_allocation_bytes" D2("vda"), 10 * GiB + 4096);
    fx_expect(b, "poolwatch_vm_disk_physical_bytes" D2("vda"), 10 * GiB + 65536);
    fx_expect(b, "poolwatch_vm_network_receive_bytes_total" D2("vnet1"), 200000000.0 + 1000);
    fx_expect(b, "poolwatch_vm_network_transmit_bytes_total" D2("vnet1"), 100000000.0 + 500);
    fx_expect(b, "poolwatch_vm_network_receive_packets_total" D2("vnet1"), 2000010);
    fx_expect(b, "poolwatch_vm_network_transmit_packets_total" D2("vnet1"), 1000005);
    fx_expect(b, "poolwatch_vm_network_receive_drop_total" D2("vnet1"), 3);
    fx_expect(b, "poolwatch_vm_network_transmit_drop_total" D2("vnet1"), 1);

    /* vm-09, paused: usage counters, no guest balloon statistics */
#define V9 "{vm=\"" U(09) "\",vm_name=\"vm-09\"}"
    fx_expect(b, "poolwatch_vm_state" V9, 3);
    fx_expect(b, "poolwatch_vm_cpu_seconds_total" V9, 9010);
    fx_expect(b, "poolwatch_vm_balloon_actual_bytes" V9, 8 * GiB);
    fx_absent(b, "poolwatch_vm_balloon_rss_bytes" V9);

    /* vm-10, shut off: sizes only */
#define V10 "{vm=\"" U(10) "\",vm_name=\"vm-10\"}"
    fx_expect(b, "poolwatch_vm_state" V10, 5);
    fx_expect(b, "poolwatch_vm_vcpus" V10, 8);
    fx_expect(b, "poolwatch_vm_memory_max_bytes" V10, 16 * GiB);
    fx_expect(b, "poolwatch_vm_disk_capacity_bytes{device=\"vda\",vm=\"" U(10) "\",vm_name=\"vm-10\"}",
              50 * GiB);
    fx_absent(b, "poolwatch_vm_cpu_seconds_total" V10);
    fx_absent(b, "poolwatch_vm_balloon_actual_bytes" V10);
    assert_int_equal(fx_count_label(b, "poolwatch_vm_network_receive_bytes_total", "vm_name",
                                    "vm-10"), 0);
    assert_int_equal(fx_count_label(b, "poolwatch_vm_disk_read_bytes_total", "vm_name", "vm-10"), 0);

    /* the first round is the baseline */
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"appeared\"}", 0);
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"disappeared\"}", 0);
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"resized\"}", 0);
    assert_int_equal(fx_count(b, "poolwatch_vm_resized"), 0);
    pw_batch_free(b);
    pw_sampler_hypervisor.fini(st);
}

static void
test_kvm_events(void **unused)
{
    pw_sampler_env env = hv_env("kvm", 5000);
    void          *st = hv_start(&env);
    pw_batch      *b;

    assert_int_equal(hv_round(st, &env, &b), PW_OK);
    pw_batch_free(b);
    /* round 2: vm-12 gone, vm-13 new, vm-03 4 -> 8 vCPUs and 8 -> 16 GiB, vm-05 vda 50 -> 80 GiB */
    assert_int_equal(hv_round(st, &env, &b), PW_OK);
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"appeared\"}", 1);
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"disappeared\"}", 1);
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"resized\"}", 3);
    fx_expect(b, "poolwatch_vm_resized{vm=\"" U(03) "\",vm_name=\"vm-03\",what=\"vcpus\"}", 8);
    fx_expect(b, "poolwatch_vm_resized{vm=\"" U(03) "\",vm_name=\"vm-03\",what=\"memory\"}", 16 * GiB);
    fx_expect(b, "poolwatch_vm_resized{device=\"vda\",vm=\"" U(05) "\",vm_name=\"vm-05\",what=\"disk\"}",
              80 * GiB);
    assert_int_equal(fx_count(b, "poolwatch_vm_resized"), 3);
    fx_expect(b, "poolwatch_vm_vcpus{vm=\"" U(03) "\",vm_name=\"vm-03\"}", 8);
    fx_expect(b, "poolwatch_vm_info{vm=\"" U(13) "\",vm_name=\"vm-13\"}", 1);
    fx_absent(b, "poolwatch_vm_info{vm=\"" U(12) "\",vm_name=\"vm-12\"}");
    /* counters moved on */
    fx_expect(b, "poolwatch_vm_cpu_seconds_total{vm=\"" U(02) "\",vm_name=\"vm-02\"}", 2020);
    pw_batch_free(b);
    /* round 3: nothing changes size; the counts stay, no resize sample */
    assert_int_equal(hv_round(st, &env, &b), PW_OK);
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"appeared\"}", 1);
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"resized\"}", 3);
    assert_int_equal(fx_count(b, "poolwatch_vm_resized"), 0);
    fx_expect(b, "poolwatch_vm_cpu_seconds_total{vm=\"" U(02) "\",vm_name=\"vm-02\"}", 2030);
    pw_batch_free(b);
    /* past the last recording the last is replayed: still nothing new */
    assert_int_equal(hv_round(st, &env, &b), PW_OK);
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"disappeared\"}", 1);
    pw_batch_free(b);
    pw_sampler_hypervisor.fini(st);
}

/* A lost connection: up 0 for that round, reconnected the next, no events. */
static void
test_connection_lost(void **unused)
{
    pw_sampler_env env = hv_env("lost", 5000);
    void          *st = hv_start(&env);
    pw_batch      *b;

    assert_int_equal(hv_round(st, &env, &b), PW_OK);
    fx_expect(b, "poolwatch_hypervisor_up", 1);
    pw_batch_free(b);
    assert_int_equal(hv_round(st, &env, &b), PW_ENET);
    fx_expect(b, "poolwatch_hypervisor_up", 0);
    assert_int_equal(fx_count(b, "poolwatch_vm_info"), 0);
    fx_expect(b, "poolwatch_host_cpu_threads", 96);     /* answered before the loss */
    pw_batch_free(b);
    /* reconnected: the replay starts over at r001, the same 12 domains */
    assert_int_equal(hv_round(st, &env, &b), PW_OK);
    fx_expect(b, "poolwatch_hypervisor_up", 1);
    assert_int_equal(fx_count(b, "poolwatch_vm_info"), 12);
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"appeared\"}", 0);
    fx_expect(b, "poolwatch_hypervisor_domain_events_total{kind=\"disappeared\"}", 0);
    pw_batch_free(b);
    pw_sampler_hypervisor.fini(st);
}

/* Nothing to connect to: up 0 every round, with backoff, never a crash. */
static void
test_unreachable(void **unused)
{
    pw_sampler_env env = hv_env("/nonexistent/poolwatch-hv", 5000);
    void          *st = hv_start(&env);
    pw_batch      *b;

    for (int i = 0; i < 3; i++) {
        assert_int_equal(hv_round(st, &env, &b), PW_ENET);
        fx_expect(b, "poolwatch_hypervisor_up", 0);
        /* the host's NICs are read from /sys whatever libvirt does */
        fx_expect(b, "poolwatch_host_nic_speed_bytes{device=\"eno1\"}", 1250000000.0);
        pw_batch_free(b);
    }
    pw_sampler_hypervisor.fini(st);

    /* not a URI of any source */
    env.hypervisor_uri = "qemu";
    void *none = NULL;
    assert_int_equal(pw_sampler_hypervisor.init(&env, &none), PW_EINVAL);
    assert_null(none);
    env.hypervisor_uri = NULL;
    assert_int_equal(pw_sampler_hypervisor.init(&env, &none), PW_EINVAL);
}

static char *
hv_tmpdir(void)
{
    char tmpl[] = "/tmp/pw-hv-test.XXXXXX";
    char *d = mkdtemp(tmpl);

    assert_non_null(d);
    return strdup(d);
}

static void
hv_write(const char *dir, const char *name, const char *text)
{
    char  path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_non_null(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
}

static void
hv_rmdir(char *dir)
{
    char cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* Bad recordings: a clear error, up 0, what parsed before still counts. */
static void
test_bad_recording(void **unused)
{
    char          *dir = hv_tmpdir();
    pw_sampler_env env;
    void          *st;
    pw_batch      *b;

    hv_write(dir, "r001.rec",
             "node threads 8\n"
             "domain 0c8e9a10-5b2f-4c3d-9e7f-000000000001 ok\n"
             "state.state int 1\n"
             "cpu.time ullong twelve\n");
    env = hv_env(dir, 5000);
    st = hv_start(&env);
    assert_int_equal(hv_round(st, &env, &b), PW_EIO);
    fx_expect(b, "poolwatch_hypervisor_up", 0);
    fx_expect(b, "poolwatch_host_cpu_threads", 8);
    assert_int_equal(fx_count(b, "poolwatch_vm_info"), 0);
    pw_batch_free(b);
    pw_sampler_hypervisor.fini(st);

    /* junk of every kind, each alone in a recording: an error, never a crash */
    static const struct {
        const char *text;
        bool        up;           /* the domains still read */
    } junk[] = {
        { "state.state int 1\n", false },                     /* parameter before any domain */
        { "domain short-uuid name\n", false },
        { "domain 0c8e9a10-5b2f-4c3d-9e7f-000000000001\n", false },      /* no name */
        { "domain 0c8e9a10-5b2f-4c3d-9e7f-000000000001 x\nstate.state quad 1\n", false },
        { "domain 0c8e9a10-5b2f-4c3d-9e7f-000000000001 x\nvcpu.current uint 99999999999\n", false },
        { "domain 0c8e9a10-5b2f-4c3d-9e7f-000000000001 x\nstate.state int\n", false },
        { "domain 0c8e9a10-5b2f-4c3d-9e7f-000000000001 x\nstate.state int 1 2\n", false },
        { "fail\n", false },
        { "node sockets -1\n", true },                        /* host facts alone fail */
        { "node volts 3\n", true },
        { "pool p 1 2\n", true },                             /* pools alone fail: no error */
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        pw_err rc;

        hv_write(dir, "r001.rec", junk[i].text);
        env = hv_env(dir, 5000);
        st = hv_start(&env);
        rc = hv_round(st, &env, &b);
        fx_expect(b, "poolwatch_hypervisor_up", junk[i].up ? 1 : 0);
        if (strncmp(junk[i].text, "pool", 4) == 0) {
            assert_int_equal(rc, PW_OK);
            assert_int_equal(fx_count(b, "poolwatch_host_storage_pool_capacity_bytes"), 0);
        } else {
            assert_int_not_equal(rc, PW_OK);
        }
        pw_batch_free(b);
        pw_sampler_hypervisor.fini(st);
    }
    hv_rmdir(dir);
}

/* Domains past the cap are counted, not kept; memory stays bounded. */
static void
test_domain_cap(void **unused)
{
    char          *dir = hv_tmpdir();
    char           path[PATH_MAX];
    FILE          *f;
    pw_sampler_env env;
    void          *st;
    pw_batch      *b;
    double         running;

    snprintf(path, sizeof path, "%s/r001.rec", dir);
    assert_non_null(f = fopen(path, "w"));
    for (unsigned i = 0; i < PW_HV_MAX_DOMAINS + 5; i++)
        fprintf(f, "domain 00000000-0000-4000-8000-%012u vm%u\nstate.state int 1\n", i, i);
    fclose(f);
    env = hv_env(dir, 30000);
    st = hv_start(&env);
    assert_int_equal(hv_round(st, &env, &b), PW_OK);
    assert_int_equal(pw_batch_find(b, "poolwatch_hypervisor_domains{state=\"running\"}", &running),
                     PW_OK);
    assert_true(running == PW_HV_MAX_DOMAINS);
    fx_expect(b, "poolwatch_hypervisor_domains_dropped_total", 5);
    pw_batch_free(b);
    pw_sampler_hypervisor.fini(st);
    hv_rmdir(dir);
}

typedef struct hv_feeder {
    const char *path;
    const char *text;
} hv_feeder;

static void *
hv_feed(void *arg)
{
    hv_feeder *f = arg;
    int        fd = open(f->path, O_WRONLY);   /* blocks until the reader opens */

    if (fd >= 0) {
        ssize_t n = write(fd, f->text, strlen(f->text));
        (void) n;
        close(fd);
    }
    return NULL;
}

/*
 * A hypervisor that does not answer (a FIFO nobody writes: the worker blocks
 * in open()) costs a round only the wait; the late answer arrives in the next.
 */
static void
test_slow_hypervisor(void **unused)
{
    char          *dir = hv_tmpdir();
    char           fifo[PATH_MAX];
    pw_sampler_env env;
    void          *st;
    pw_batch      *b;
    int64_t        t0;
    pthread_t      th;
    hv_feeder      feeder = { fifo, "node threads 4\n" };

    snprintf(fifo, sizeof fifo, "%s/r001.rec", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    env = hv_env(dir, 100);
    st = hv_start(&env);
    t0 = pw_mono_ms();
    assert_int_equal(hv_round(st, &env, &b), PW_ETIMEDOUT);
    assert_true(pw_mono_ms() - t0 < 2000);
    fx_expect(b, "poolwatch_hypervisor_up", 0);
    fx_expect(b, "poolwatch_hypervisor_timeouts_total", 1);
    pw_batch_free(b);
    /* the answer comes now; the next round takes it */
    assert_int_equal(pthread_create(&th, NULL, hv_feed, &feeder), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    for (int i = 0; i < 50; i++) {
        pw_err rc = hv_round(st, &env, &b);

        if (rc == PW_OK)
            break;
        pw_batch_free(b);
        b = NULL;
    }
    assert_non_null(b);
    fx_expect(b, "poolwatch_hypervisor_up", 1);
    fx_expect(b, "poolwatch_host_cpu_threads", 4);
    pw_batch_free(b);
    /* the worker blocks in open() again: a round costs only the wait, and
     * fini leaves the stuck worker behind (it frees its state when it returns) */
    assert_int_equal(hv_round(st, &env, &b), PW_ETIMEDOUT);
    pw_batch_free(b);
    t0 = pw_mono_ms();
    pw_sampler_hypervisor.fini(st);
    assert_true(pw_mono_ms() - t0 < 5000);
    /* unblock it: opening the FIFO for writing and closing it gives it EOF */
    for (int i = 0; i < 500; i++) {
        int fd = open(fifo, O_WRONLY | O_NONBLOCK);

        if (fd >= 0) {
            close(fd);
            break;
        }
        usleep(10000);
    }
    hv_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kvm_usage),
        cmocka_unit_test(test_kvm_events),
        cmocka_unit_test(test_connection_lost),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_bad_recording),
        cmocka_unit_test(test_domain_cap),
        cmocka_unit_test(test_slow_hypervisor),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
