/* sampler_diskstats_test.c - the diskstats sampler against tests/fixtures trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sampler.h"
#include "sampler_fixture.h"

/* --- tests --- */

static void
test_basic(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_diskstats, &env, &b), PW_OK);
    fx_expect(b, "node_disk_reads_completed_total{device=\"vda\"}", 10000);
    fx_expect(b, "node_disk_reads_merged_total{device=\"vda\"}", 200);
    fx_expect(b, "node_disk_read_bytes_total{device=\"vda\"}", 800000.0 * 512);
    fx_expect(b, "node_disk_read_time_seconds_total{device=\"vda\"}", 5);
    fx_expect(b, "node_disk_writes_completed_total{device=\"vda\"}", 20000);
    fx_expect(b, "node_disk_writes_merged_total{device=\"vda\"}", 300);
    fx_expect(b, "node_disk_written_bytes_total{device=\"vda\"}", 1600000.0 * 512);
    fx_expect(b, "node_disk_write_time_seconds_total{device=\"vda\"}", 12.345);
    fx_expect(b, "node_disk_io_now{device=\"vda\"}", 2);
    fx_expect(b, "node_disk_io_time_seconds_total{device=\"vda\"}", 15);
    fx_expect(b, "node_disk_io_time_weighted_seconds_total{device=\"vda\"}", 17.345);
    fx_expect(b, "node_disk_discards_completed_total{device=\"vda\"}", 10);
    fx_expect(b, "node_disk_discards_merged_total{device=\"vda\"}", 1);
    fx_expect(b, "node_disk_discarded_sectors_total{device=\"vda\"}", 80);
    fx_expect(b, "node_disk_discard_time_seconds_total{device=\"vda\"}", 0.005);
    fx_expect(b, "node_disk_flush_requests_total{device=\"vda\"}", 500);
    fx_expect(b, "node_disk_flush_requests_time_seconds_total{device=\"vda\"}", 0.25);
    fx_expect(b, "node_disk_written_bytes_total{device=\"vdd\"}", 2400.0 * 512);
    /* Partitions, loop and ram devices are filtered; sr0 and whole disks are kept. */
    for (const char *const *d = (const char *const[]) { "vda1", "vda14", "vda15", "vdb1", "loop0",
                                                         "loop1", "ram0", NULL }; *d; d++)
        assert_int_equal(fx_count_label(b, "node_disk_reads_completed_total", "device", *d), 0);
    assert_int_equal(fx_count(b, "node_disk_reads_completed_total"), 5);
    fx_expect(b, "node_disk_reads_completed_total{device=\"sr0\"}", 24);
    assert_int_equal(pw_batch_nseries(b), 5 * 17);
    pw_batch_free(b);
}

static void
test_manycore(void **unused)
{
    pw_sampler_env env = fx_env("manycore");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_diskstats, &env, &b), PW_OK);
    /* sda..sdt (20), nvme0n1 nvme1n1 nvme1n2 nvme2n1 nvme3n1, dm-0..5, md0, md127, sr0. */
    assert_int_equal(fx_count(b, "node_disk_reads_completed_total"), 34);
    /* A 4.18 kernel: discard columns, no flush columns. */
    assert_int_equal(fx_count(b, "node_disk_discards_completed_total"), 34);
    assert_int_equal(fx_count(b, "node_disk_flush_requests_total"), 0);
    assert_int_equal(pw_batch_nseries(b), 34 * 15);
    fx_expect(b, "node_disk_reads_completed_total{device=\"dm-0\"}", 68000);
    fx_expect(b, "node_disk_read_bytes_total{device=\"dm-0\"}", 544000.0 * 512);
    fx_expect(b, "node_disk_io_time_weighted_seconds_total{device=\"dm-0\"}", 340);
    fx_expect(b, "node_disk_discarded_sectors_total{device=\"dm-0\"}", 536);
    fx_expect(b, "node_disk_reads_completed_total{device=\"nvme1n2\"}", 59000);
    fx_expect(b, "node_disk_reads_completed_total{device=\"md127\"}", 75000);
    fx_expect(b, "node_disk_reads_completed_total{device=\"sdt\"}", 51000);
    for (const char *const *d = (const char *const[]) { "sda1", "sda3", "sdt1", "nvme0n1p1",
                                                         "nvme1n2p2", "loop7", NULL }; *d; d++)
        assert_int_equal(fx_count_label(b, "node_disk_reads_completed_total", "device", *d), 0);
    pw_batch_free(b);
}

/*
 * The device filter is node_exporter's regex, ^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$,
 * to the letter: names near its edges, written to a scratch tree.
 */
static void
test_filter_edges(void **unused)
{
    static const char *const excluded[] = {
        "ram0", "ram15", "loop0", "loop12", "fd0", "hda1", "sdz9", "vdb12", "xvda1",
        "nvme0n1p1", "nvme12n3p45",
    };
    static const char *const kept[] = {
        "sda", "vda", "xvda", "nvme0n1", "nvme0n1p", "dm-0", "md127", "sr0", "zram0",
        "mmcblk0p1", "sdaa1", "loop", "ram", "sda1x", "nvme0p1", "nbd0", "rbd0", "xvd1",
    };
    char           dir[] = "/tmp/pw-diskstats-XXXXXX", path[PATH_MAX];
    pw_sampler_env env = { .proc_root = dir, .sys_root = dir, .rootfs = "", .statvfs_fn = statvfs };
    pw_batch      *b;
    FILE          *f;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/diskstats", dir);
    assert_non_null(f = fopen(path, "w"));
    for (size_t i = 0; i < sizeof excluded / sizeof excluded[0]; i++)
        fprintf(f, "8 %zu %s 1 0 0 0 0 0 0 0 0 0 0\n", i, excluded[i]);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        fprintf(f, "8 %zu %s 1 0 0 0 0 0 0 0 0 0 0\n", 100 + i, kept[i]);
    fclose(f);

    assert_int_equal(fx_collect(&pw_sampler_diskstats, &env, &b), PW_OK);
    unlink(path);
    rmdir(dir);
    for (size_t i = 0; i < sizeof excluded / sizeof excluded[0]; i++)
        if (fx_count_label(b, "node_disk_reads_completed_total", "device", excluded[i]) != 0)
            fail_msg("%s should be filtered", excluded[i]);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (fx_count_label(b, "node_disk_reads_completed_total", "device", kept[i]) != 1)
            fail_msg("%s should be kept", kept[i]);
    pw_batch_free(b);
}

static void
test_truncated(void **unused)
{
    pw_sampler_env env = fx_env("broken/truncated");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_diskstats, &env, &b), PW_EPROTO);
    /* sda: 11 columns (pre-4.18), all of them; no discard series made up. */
    fx_expect(b, "node_disk_reads_completed_total{device=\"sda\"}", 100);
    fx_expect(b, "node_disk_io_time_weighted_seconds_total{device=\"sda\"}", 0.03);
    fx_absent(b, "node_disk_discards_completed_total{device=\"sda\"}");
    fx_expect(b, "node_disk_read_bytes_total{device=\"sdd\"}", 40.0 * 512);
    /* Too few columns, a non-number, a bad major, cut at EOF: whole lines dropped. */
    for (const char *const *d = (const char *const[]) { "sdb", "sdc", "sde", "sdf", NULL }; *d; d++)
        assert_int_equal(fx_count_label(b, "node_disk_reads_completed_total", "device", *d), 0);
    assert_int_equal(pw_batch_nseries(b), 11 + 17);
    pw_batch_free(b);
}

static void
test_garbage(void **unused)
{
    pw_sampler_env env = fx_env("broken/garbage");
    pw_batch      *b;

    assert_int_equal(fx_collect(&pw_sampler_diskstats, &env, &b), PW_EPROTO);
    pw_batch_free(b);

    /* No block devices at all is a valid (if odd) answer. */
    assert_int_equal(fx_run(&pw_sampler_diskstats, "broken/empty", PW_OK), 0);
}

static void
test_missing(void **unused)
{
    assert_int_equal(fx_run(&pw_sampler_diskstats, "no-such-tree", PW_ENOENT), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_manycore),
        cmocka_unit_test(test_filter_edges),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_missing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
