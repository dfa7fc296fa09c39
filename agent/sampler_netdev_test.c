/* sampler_netdev_test.c - the netdev sampler against tests/fixtures trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "sampler_fixture.h"

/* --- tests --- */

static void
test_basic(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_netdev, &env, &b), PW_OK);
    fx_expect(b, "node_network_receive_bytes_total{device=\"eth0\"}", 9876543210.0);
    fx_expect(b, "node_network_receive_packets_total{device=\"eth0\"}", 7654321);
    fx_expect(b, "node_network_receive_errs_total{device=\"eth0\"}", 1);
    fx_expect(b, "node_network_receive_drop_total{device=\"eth0\"}", 2);
    fx_expect(b, "node_network_receive_fifo_total{device=\"eth0\"}", 3);
    fx_expect(b, "node_network_receive_frame_total{device=\"eth0\"}", 4);
    fx_expect(b, "node_network_receive_compressed_total{device=\"eth0\"}", 5);
    fx_expect(b, "node_network_receive_multicast_total{device=\"eth0\"}", 3456);
    fx_expect(b, "node_network_transmit_bytes_total{device=\"eth0\"}", 1234567890);
    fx_expect(b, "node_network_transmit_packets_total{device=\"eth0\"}", 2345678);
    fx_expect(b, "node_network_transmit_errs_total{device=\"eth0\"}", 6);
    fx_expect(b, "node_network_transmit_drop_total{device=\"eth0\"}", 7);
    fx_expect(b, "node_network_transmit_fifo_total{device=\"eth0\"}", 8);
    fx_expect(b, "node_network_transmit_colls_total{device=\"eth0\"}", 9);
    fx_expect(b, "node_network_transmit_carrier_total{device=\"eth0\"}", 10);
    fx_expect(b, "node_network_transmit_compressed_total{device=\"eth0\"}", 11);
    fx_expect(b, "node_network_receive_bytes_total{device=\"lo\"}", 123456);
    fx_expect(b, "node_network_transmit_packets_total{device=\"tap0\"}", 8);
    assert_int_equal(fx_count(b, "node_network_receive_bytes_total"), 4);

    /* 10000 Mb/s = 1.25e9 bytes/s; no speed file (br0, lo) or -1 (tap0): no series. */
    fx_expect(b, "node_network_speed_bytes{device=\"eth0\"}", 1250000000.0);
    fx_absent(b, "node_network_speed_bytes{device=\"br0\"}");
    fx_absent(b, "node_network_speed_bytes{device=\"tap0\"}");
    fx_absent(b, "node_network_speed_bytes{device=\"lo\"}");
    fx_expect(b, "node_network_up{device=\"eth0\"}", 1);
    fx_expect(b, "node_network_up{device=\"br0\"}", 0);
    fx_expect(b, "node_network_up{device=\"lo\"}", 0);     /* "unknown", as node_exporter */
    fx_expect(b, "node_network_mtu_bytes{device=\"eth0\"}", 1500);
    fx_expect(b, "node_network_mtu_bytes{device=\"lo\"}", 65536);
    assert_int_equal(pw_batch_nseries(b), 4 * 16 + 1 + 4 + 4);
    pw_batch_free(b);
}

static void
test_manycore(void **unused)
{
    pw_sampler_env env = fx_env("manycore");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_netdev, &env, &b), PW_OK);
    assert_int_equal(fx_count(b, "node_network_receive_bytes_total"), 14 + 48);
    assert_int_equal(fx_count(b, "node_network_up"), 14 + 48);
    assert_int_equal(fx_count(b, "node_network_mtu_bytes"), 14 + 48);
    /* Not: lo, br-mgmt, br-vm, virbr0 (no file), eno2 (-1, link down). */
    assert_int_equal(fx_count(b, "node_network_speed_bytes"), 14 + 48 - 5);
    /* No space after the colon once counters are wide: still parsed. */
    fx_expect(b, "node_network_receive_bytes_total{device=\"ens1f0\"}", 1000000000003.0);
    fx_expect(b, "node_network_receive_multicast_total{device=\"ens1f0\"}", 300);
    fx_expect(b, "node_network_transmit_drop_total{device=\"ens1f0\"}", 9);
    fx_expect(b, "node_network_speed_bytes{device=\"ens1f0\"}", 3125000000.0);
    fx_expect(b, "node_network_speed_bytes{device=\"bond0\"}", 6250000000.0);
    fx_expect(b, "node_network_speed_bytes{device=\"bond0.100\"}", 6250000000.0);
    fx_expect(b, "node_network_speed_bytes{device=\"vnet47\"}", 1250000);
    fx_absent(b, "node_network_speed_bytes{device=\"eno2\"}");
    fx_expect(b, "node_network_up{device=\"eno2\"}", 0);
    fx_expect(b, "node_network_up{device=\"bond1\"}", 1);
    fx_expect(b, "node_network_mtu_bytes{device=\"br-vm\"}", 9000);
    pw_batch_free(b);
}

static void
test_no_sys(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    pw_batch      *b;

    /* A container without /sys: the counters alone, and no error. */
    env.sys_root = "/nonexistent/sys";
    assert_int_equal(fx_collect(&pw_sampler_netdev, &env, &b), PW_OK);
    assert_int_equal(pw_batch_nseries(b), 4 * 16);
    pw_batch_free(b);
}

static void
test_truncated(void **unused)
{
    pw_sampler_env env = fx_env("broken/truncated");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_netdev, &env, &b), PW_EPROTO);
    fx_expect(b, "node_network_receive_bytes_total{device=\"lo\"}", 100);
    /* 10 columns, no colon, a negative counter, a '/' in the name, cut at EOF. */
    assert_int_equal(fx_count(b, "node_network_receive_bytes_total"), 1);
    /* lo's /sys files are junk, empty and cut short: skipped, not sent as 0. */
    assert_int_equal(pw_batch_nseries(b), 16);
    pw_batch_free(b);
}

static void
test_garbage(void **unused)
{
    pw_sampler_env env = fx_env("broken/garbage");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_netdev, &env, &b), PW_EPROTO);
    pw_batch_free(b);

    assert_int_equal(fx_run(&pw_sampler_netdev, "broken/empty", PW_EPROTO), 0);
}

static void
test_missing(void **unused)
{
    assert_int_equal(fx_run(&pw_sampler_netdev, "no-such-tree", PW_ENOENT), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_manycore),
        cmocka_unit_test(test_no_sys),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_missing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
