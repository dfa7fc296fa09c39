/* sampler_filesystem_test.c - the filesystem sampler against fixture trees and a fake statvfs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "sampler.h"
#include "sampler_fixture.h"

/*
 * --- a fake statvfs: known numbers per mount point, and a log of its calls ---
 *
 * The sampler calls it from its worker threads (statvfs_timeout_ms > 0), so
 * its state is under fx_mu. It can block on one path (or all, "*") until the
 * test calls fx_release, as statvfs on a hard NFS mount whose server is gone.
 * A thread that blocked is counted until it ends (a thread-specific value's
 * destructor runs after the thread's function has returned, so after the
 * worker freed what it owns): fx_wait_unblocked() awaits that.
 */

typedef struct fx_fs {
    const char   *mountpoint;
    unsigned long frsize, bsize;
    fsblkcnt_t    blocks, bfree, bavail;
    fsfilcnt_t    files, ffree;
} fx_fs;

/* The basic tree's filesystems; /mnt/nfs is missing, so its statvfs fails. */
static const fx_fs basic_fs[] = {
    { "/",              4096, 4096, 1000000, 400000, 350000, 65536, 60000 },
    { "/run",           4096, 4096, 100425, 100000, 100000, 100000, 99000 },
    { "/run/lock",      4096, 4096, 1280, 1280, 1280, 100000, 99990 },
    /* f_frsize 0: the block size is f_bsize. */
    { "/boot/efi",      0,    512,  213000, 200000, 200000, 0, 0 },
    { "/data",          4096, 4096, 2000000, 1500000, 1500000, 500000, 400000 },
    { "/srv/read only", 4096, 4096, 10, 0, 0, 5, 0 },
    { "/run/user/1000", 4096, 4096, 100424, 100424, 100424, 100424, 100400 },
};

static pthread_mutex_t fx_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  fx_cv = PTHREAD_COND_INITIALIZER;
static pthread_key_t   fx_blocked_key;    /* set in a thread that blocked in the fake */

static struct {
    const char    *prefix;      /* what env->rootfs should put before every mount point */
    const fx_fs *table;       /* NULL: every path answers with generic numbers ... */
    size_t         n;
    size_t         ncalls;
    char           calls[64][PATH_MAX];
    const char    *block;       /* statvfs of this path ("*": any) blocks until released */
    bool           released;
    size_t         blocked;     /* threads that blocked here and have not ended */
} fx_fake;

/* Only between tests that left no thread blocked (fx_wait_unblocked). */
static void
fx_fake_reset(const char *prefix, const fx_fs *table, size_t n)
{
    pthread_mutex_lock(&fx_mu);
    memset(&fx_fake, 0, sizeof fx_fake);
    fx_fake.prefix = prefix;
    fx_fake.table = table;
    fx_fake.n = n;
    pthread_mutex_unlock(&fx_mu);
}

static void
fx_block(const char *path)
{
    pthread_mutex_lock(&fx_mu);
    fx_fake.block = path;
    pthread_mutex_unlock(&fx_mu);
}

/* Lets every blocked call (and any later one) return. */
static void
fx_release(void)
{
    pthread_mutex_lock(&fx_mu);
    fx_fake.released = true;
    pthread_cond_broadcast(&fx_cv);
    pthread_mutex_unlock(&fx_mu);
}

static void
fx_thread_end(void *unused)
{
    (void) unused;
    pthread_mutex_lock(&fx_mu);
    fx_fake.blocked--;
    pthread_cond_broadcast(&fx_cv);
    pthread_mutex_unlock(&fx_mu);
}

/* Waits (10 s at most) until n threads are blocked in the fake. */
static void
fx_wait_blocked(size_t n)
{
    struct timespec until;
    bool            late = false;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&fx_mu);
    while (fx_fake.blocked < n && !late)
        late = pthread_cond_timedwait(&fx_cv, &fx_mu, &until) != 0;
    pthread_mutex_unlock(&fx_mu);
    if (late)
        fail_msg("%zu statvfs calls did not block within 10 s", n);
}

/* Waits (10 s at most) until every thread that blocked in the fake has ended. */
static void
fx_wait_unblocked(void)
{
    struct timespec until;
    bool            late = false;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&fx_mu);
    while (fx_fake.blocked > 0 && !late)
        late = pthread_cond_timedwait(&fx_cv, &fx_mu, &until) != 0;
    pthread_mutex_unlock(&fx_mu);
    if (late)
        fail_msg("a statvfs thread did not end within 10 s of its call's release");
}

static size_t
fx_ncalls(void)
{
    size_t n;

    pthread_mutex_lock(&fx_mu);
    n = fx_fake.ncalls;
    pthread_mutex_unlock(&fx_mu);
    return n;
}

static int
fx_statvfs(const char *path, struct statvfs *out)
{
    size_t      plen;
    const char *mp;
    int         rc = 0;

    pthread_mutex_lock(&fx_mu);
    plen = strlen(fx_fake.prefix);
    mp = path + plen;
    if (fx_fake.ncalls < 64)
        snprintf(fx_fake.calls[fx_fake.ncalls], PATH_MAX, "%s", path);
    fx_fake.ncalls++;
    if (fx_fake.block != NULL && !fx_fake.released
        && (strcmp(fx_fake.block, "*") == 0 || strcmp(fx_fake.block, path) == 0)) {
        if (pthread_getspecific(fx_blocked_key) == NULL) {
            pthread_setspecific(fx_blocked_key, &fx_fake);
            fx_fake.blocked++;
            pthread_cond_broadcast(&fx_cv);
        }
        while (!fx_fake.released)
            pthread_cond_wait(&fx_cv, &fx_mu);
    }
    if (strncmp(path, fx_fake.prefix, plen) != 0) {
        errno = ENOENT;
        rc = -1;
        goto out;
    }
    memset(out, 0, sizeof *out);
    if (fx_fake.table == NULL) {
        /* ... except a FUSE mount of another user and an NFS server that is gone. */
        if (strstr(mp, "gvfs") || strstr(mp, "backup")) {
            errno = strstr(mp, "gvfs") ? EACCES : EIO;
            rc = -1;
            goto out;
        }
        out->f_frsize = out->f_bsize = 4096;
        out->f_blocks = 1u << 20;
        out->f_bfree = 1u << 19;
        out->f_bavail = 1u << 18;
        out->f_files = 1000;
        out->f_ffree = 500;
        goto out;
    }
    for (size_t i = 0; i < fx_fake.n; i++)
        if (strcmp(mp, fx_fake.table[i].mountpoint) == 0) {
            out->f_frsize = fx_fake.table[i].frsize;
            out->f_bsize = fx_fake.table[i].bsize;
            out->f_blocks = fx_fake.table[i].blocks;
            out->f_bfree = fx_fake.table[i].bfree;
            out->f_bavail = fx_fake.table[i].bavail;
            out->f_files = fx_fake.table[i].files;
            out->f_ffree = fx_fake.table[i].ffree;
            goto out;
        }
    errno = EIO;
    rc = -1;
out:
    pthread_mutex_unlock(&fx_mu);
    return rc;
}

/* How many times statvfs was asked about path. */
static size_t
fx_statvfs_calls(const char *path)
{
    size_t n = 0;

    pthread_mutex_lock(&fx_mu);
    for (size_t i = 0; i < fx_fake.ncalls && i < 64; i++)
        n += strcmp(fx_fake.calls[i], path) == 0;
    pthread_mutex_unlock(&fx_mu);
    return n;
}

/* Number of series of metric whose label `name` starts with prefix. */
static size_t
fx_count_label_prefix(const pw_batch *b, const char *name, const char *prefix)
{
    size_t n = 0;

    for (size_t i = 0; i < pw_batch_nseries(b); i++) {
        size_t          nl;
        const pw_label *l = pw_batch_series_labels(b, i, &nl);

        for (size_t j = 0; j < nl; j++)
            n += strcmp(l[j].name, name) == 0 && strncmp(l[j].value, prefix, strlen(prefix)) == 0;
    }
    return n;
}

/* Canonical key of a node_filesystem_<metric> series (labels in sorted order). */
#define FS(metric, dev, type, mp) \
    "node_filesystem_" metric "{device=\"" dev "\",fstype=\"" type "\",mountpoint=\"" mp "\"}"

/* --- tests --- */

static void
fx_check_basic(const pw_batch *b)
{
    static const char *const excluded_types[] = {
        "sysfs", "proc", "devtmpfs", "devpts", "securityfs", "cgroup2", "pstore", "bpf",
        "autofs", "hugetlbfs", "mqueue", "debugfs", "tracefs", "fusectl", "configfs",
        "squashfs", "iso9660", "binfmt_misc",
    };

    fx_expect(b, FS("size_bytes", "/dev/vda1", "ext4", "/"), 4096000000.0);
    fx_expect(b, FS("free_bytes", "/dev/vda1", "ext4", "/"), 1638400000.0);
    fx_expect(b, FS("avail_bytes", "/dev/vda1", "ext4", "/"), 1433600000.0);
    fx_expect(b, FS("files", "/dev/vda1", "ext4", "/"), 65536);
    fx_expect(b, FS("files_free", "/dev/vda1", "ext4", "/"), 60000);
    fx_expect(b, FS("readonly", "/dev/vda1", "ext4", "/"), 0);
    fx_expect(b, FS("device_error", "/dev/vda1", "ext4", "/"), 0);
    fx_expect(b, FS("size_bytes", "/dev/vda15", "vfat", "/boot/efi"),
              213000.0 * 512);
    fx_expect(b, FS("size_bytes", "tmpfs", "tmpfs", "/run/lock"),
              1280.0 * 4096);
    /* \040 in the mount table is a space; "ro" in the options is read-only. */
    fx_expect(b, FS("readonly", "/dev/vdc", "ext4", "/srv/read only"), 1);
    fx_expect(b, FS("avail_bytes", "/dev/vdc", "ext4", "/srv/read only"), 0);
    /* /data is listed three times (twice vdb1, then vdd over it): the visible one only. */
    fx_expect(b, FS("size_bytes", "/dev/vdd", "ext4", "/data"),
              2000000.0 * 4096);
    assert_int_equal(fx_count_label(b, "node_filesystem_size_bytes", "mountpoint", "/data"), 1);
    assert_int_equal(fx_count_label(b, "node_filesystem_size_bytes", "device", "/dev/vdb1"), 0);
    /* statvfs failed: an error flag, no numbers, the rest still sampled. */
    fx_expect(b, FS("device_error", "nfs.example:/export", "nfs4", "/mnt/nfs"), 1);
    assert_int_equal(fx_count_label(b, "node_filesystem_size_bytes", "mountpoint", "/mnt/nfs"), 0);
    /* /run, /, /run/lock, /boot/efi, /data, /srv/read only, /mnt/nfs, /run/user/1000. */
    assert_int_equal(fx_count(b, "node_filesystem_device_error"), 8);
    assert_int_equal(fx_count(b, "node_filesystem_size_bytes"), 7);
    for (size_t i = 0; i < sizeof excluded_types / sizeof excluded_types[0]; i++)
        assert_int_equal(fx_count_label(b, "node_filesystem_device_error", "fstype",
                                        excluded_types[i]), 0);
    assert_int_equal(fx_count_label_prefix(b, "mountpoint", "/dev"), 0);
    assert_int_equal(fx_count_label_prefix(b, "mountpoint", "/sys"), 0);
    assert_int_equal(fx_count_label_prefix(b, "mountpoint", "/proc"), 0);
    assert_int_equal(pw_batch_nseries(b), 8 + 7 * 6 + 2);
}

static void
test_basic(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    pw_batch      *b;

    env.statvfs_fn = fx_statvfs;
    fx_fake_reset("", basic_fs, sizeof basic_fs / sizeof basic_fs[0]);
    assert_int_equal(fx_collect(&pw_sampler_filesystem, &env, &b), PW_OK);
    fx_check_basic(b);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_errors_total", 1);
    /* Inline (statvfs_timeout_ms 0): a call cannot time out. */
    fx_expect(b, "poolwatch_node_filesystem_statvfs_timeouts_total", 0);
    /* One statvfs per sampled mount point; excluded ones are never touched. */
    assert_int_equal(fx_ncalls(), 8);
    assert_int_equal(fx_statvfs_calls("/data"), 1);
    assert_int_equal(fx_statvfs_calls("/dev/shm"), 0);
    assert_int_equal(fx_statvfs_calls("/snap/core20/1974"), 0);
    pw_batch_free(b);
}

static void
test_rootfs(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    pw_batch      *b;

    /* In a container with the host's / at /host: statvfs there, labels as the host sees them. */
    env.statvfs_fn = fx_statvfs;
    env.rootfs = "/host";
    fx_fake_reset("/host", basic_fs, sizeof basic_fs / sizeof basic_fs[0]);
    assert_int_equal(fx_collect(&pw_sampler_filesystem, &env, &b), PW_OK);
    fx_check_basic(b);
    assert_int_equal(fx_statvfs_calls("/host/data"), 1);
    assert_int_equal(fx_statvfs_calls("/host/srv/read only"), 1);
    pw_batch_free(b);
}

static void
test_container_mounts(void **unused)
{
    pw_sampler_env env = fx_env("container");
    pw_batch      *b;

    /* No /proc/1/mounts: /proc/self/mounts, whose host paths start with the rootfs. */
    env.statvfs_fn = fx_statvfs;
    env.rootfs = "/host/";
    fx_fake_reset("/host", NULL, 0);
    assert_int_equal(fx_collect(&pw_sampler_filesystem, &env, &b), PW_OK);
    fx_expect(b, FS("readonly", "/dev/sda1", "ext4", "/"), 1);
    fx_expect(b, FS("size_bytes", "/dev/sdb1", "xfs", "/data"),
              4294967296.0);
    /* Only a whole path component is the prefix: /hostile stays. */
    fx_expect(b, FS("readonly", "/dev/sda1", "ext4", "/hostile"), 0);
    fx_expect(b, FS("readonly", "/dev/sda1", "ext4", "/etc/hosts"), 0);
    assert_int_equal(fx_count(b, "node_filesystem_device_error"), 4);
    assert_int_equal(fx_count_label_prefix(b, "mountpoint", "/host/"), 0);
    assert_int_equal(fx_count_label_prefix(b, "mountpoint", "/dev"), 0);
    assert_int_equal(fx_statvfs_calls("/host/data"), 1);
    pw_batch_free(b);
}

static void
test_error_counter(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    void          *state = NULL;
    pw_batch      *b;

    /* The statvfs error counter lives in the sampler's state and only grows. */
    env.statvfs_fn = fx_statvfs;
    fx_fake_reset("", basic_fs, sizeof basic_fs / sizeof basic_fs[0]);
    assert_int_equal(pw_sampler_filesystem.init(&env, &state), PW_OK);
    for (int round = 1; round <= 3; round++) {
        assert_non_null(b = pw_batch_new());
        assert_int_equal(pw_sampler_filesystem.collect(state, &env, b), PW_OK);
        fx_expect(b, "poolwatch_node_filesystem_statvfs_errors_total", round);
        fx_check_basic(b);
        pw_batch_free(b);
    }
    pw_sampler_filesystem.fini(state);
}

static void
test_manycore(void **unused)
{
    pw_sampler_env env = fx_env("manycore");
    pw_batch      *b;

    env.statvfs_fn = fx_statvfs;
    fx_fake_reset("", NULL, 0);
    /* The overlay lines (~7.7 KB) are longer than the line buffer; still read right. */
    assert_int_equal(fx_collect(&pw_sampler_filesystem, &env, &b), PW_OK);
    /*
     * /run / /boot /boot/efi /var /home /var/lib/libvirt/images
     * /var/lib/nova/instances "/data store" ".../tab and backslash" /srv/iso
     * "/mnt/backup (old)" /run/user/0 /run/user/1000/gvfs + 4 kubelet volumes.
     */
    assert_int_equal(fx_count(b, "node_filesystem_device_error"), 18);
    assert_int_equal(fx_count(b, "node_filesystem_size_bytes"), 16);
    fx_expect(b, FS("size_bytes", "/dev/mapper/vg0-root", "xfs", "/"),
              4294967296.0);
    fx_expect(b, FS("avail_bytes", "/dev/nvme1n1p1", "ext4", "/data store"),
              1073741824.0);
    /* \011 and \134 unescaped; the key escapes the backslash again. */
    fx_expect(b, FS("files", "/dev/nvme1n2p1", "ext4", "/data store/tab\tand\\\\backslash"), 1000);
    fx_expect(b, FS("readonly", "/dev/nvme2n1p1", "ext4", "/srv/iso"), 1);
    fx_expect(b, FS("device_error", "backup.example:/vol/backup", "nfs4", "/mnt/backup (old)"), 1);
    fx_expect(b, FS("device_error", "gvfsd-fuse", "fuse.gvfsd-fuse", "/run/user/1000/gvfs"), 1);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_errors_total", 2);
    /* Mounted over: md0 hides md127; /var listed twice counts once. */
    fx_expect(b, FS("device_error", "/dev/md0", "ext4", "/var/lib/libvirt/images"), 0);
    assert_int_equal(fx_count_label(b, "node_filesystem_device_error", "mountpoint",
                                    "/var/lib/libvirt/images"), 1);
    assert_int_equal(fx_count_label(b, "node_filesystem_device_error", "mountpoint", "/var"), 1);
    assert_int_equal(fx_count_label(b, "node_filesystem_device_error", "fstype", "tmpfs"), 2 + 4);
    assert_int_equal(fx_count_label_prefix(b, "mountpoint", "/var/lib/docker"), 0);
    assert_int_equal(fx_count_label_prefix(b, "mountpoint", "/run/credentials"), 0);
    assert_int_equal(fx_count_label_prefix(b, "mountpoint", "/sys"), 0);
    assert_int_equal(fx_count_label(b, "node_filesystem_device_error", "fstype", "overlay"), 0);
    assert_int_equal(fx_count_label(b, "node_filesystem_device_error", "fstype", "rpc_pipefs"), 0);
    pw_batch_free(b);
}

static void
test_truncated(void **unused)
{
    pw_sampler_env env = fx_env("broken/truncated");
    pw_batch      *b;

    env.statvfs_fn = fx_statvfs;
    fx_fake_reset("", NULL, 0);
    /* Only /proc/self/mounts there; a two-field line and a cut last line are skipped. */
    assert_int_equal(fx_collect(&pw_sampler_filesystem, &env, &b), PW_EPROTO);
    fx_expect(b, FS("readonly", "/dev/sda1", "ext4", "/"), 0);
    fx_expect(b, FS("readonly", "/dev/sdb1", "xfs", "/srv"), 1);
    assert_int_equal(fx_count(b, "node_filesystem_device_error"), 2);
    assert_int_equal(fx_ncalls(), 2);
    pw_batch_free(b);
}

static void
test_garbage(void **unused)
{
    pw_sampler_env env = fx_env("broken/garbage");
    pw_batch      *b;

    env.statvfs_fn = fx_statvfs;
    fx_fake_reset("", NULL, 0);
    assert_int_equal(fx_collect(&pw_sampler_filesystem, &env, &b), PW_EPROTO);
    pw_batch_free(b);

    env = fx_env("broken/empty");
    env.statvfs_fn = fx_statvfs;
    assert_int_equal(fx_collect(&pw_sampler_filesystem, &env, &b), PW_OK);
    assert_int_equal(fx_count(b, "node_filesystem_device_error"), 0);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_errors_total", 0);
    pw_batch_free(b);
}

static void
test_missing(void **unused)
{
    pw_sampler_env env = fx_env("no-such-tree");
    pw_batch      *b;

    env.statvfs_fn = fx_statvfs;
    fx_fake_reset("", NULL, 0);
    assert_int_equal(fx_collect(&pw_sampler_filesystem, &env, &b), PW_ENOENT);
    assert_int_equal(pw_batch_nseries(b), 0);
    assert_int_equal(fx_ncalls(), 0);
    pw_batch_free(b);
}

/* --- statvfs on worker threads (env.statvfs_timeout_ms > 0) --- */

/* Runs one round of the sampler's state into a new batch (the caller's). */
static pw_batch *
fx_round(void *state, const pw_sampler_env *env)
{
    pw_batch *b;

    assert_non_null(b = pw_batch_new());
    assert_int_equal(pw_sampler_filesystem.collect(state, env, b), PW_OK);
    return b;
}

static void
test_threaded(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    void          *state = NULL;
    pw_batch      *b;

    /* Nothing blocks: the same series as inline, one call per mount, round after round. */
    env.statvfs_fn = fx_statvfs;
    env.statvfs_timeout_ms = 5000;
    fx_fake_reset("", basic_fs, sizeof basic_fs / sizeof basic_fs[0]);
    assert_int_equal(pw_sampler_filesystem.init(&env, &state), PW_OK);
    for (int round = 1; round <= 3; round++) {
        b = fx_round(state, &env);
        fx_check_basic(b);
        fx_expect(b, "poolwatch_node_filesystem_statvfs_errors_total", round);
        fx_expect(b, "poolwatch_node_filesystem_statvfs_timeouts_total", 0);
        assert_int_equal(fx_ncalls(), 8 * (size_t) round);
        pw_batch_free(b);
    }
    pw_sampler_filesystem.fini(state);
}

/* The basic tree's figures for every mount but /data and /mnt/nfs. */
static void
fx_check_basic_but_data(const pw_batch *b)
{
    fx_expect(b, FS("size_bytes", "/dev/vda1", "ext4", "/"), 4096000000.0);
    fx_expect(b, FS("device_error", "/dev/vda1", "ext4", "/"), 0);
    fx_expect(b, FS("size_bytes", "/dev/vda15", "vfat", "/boot/efi"), 213000.0 * 512);
    fx_expect(b, FS("size_bytes", "tmpfs", "tmpfs", "/run/lock"), 1280.0 * 4096);
    fx_expect(b, FS("readonly", "/dev/vdc", "ext4", "/srv/read only"), 1);
    fx_expect(b, FS("device_error", "nfs.example:/export", "nfs4", "/mnt/nfs"), 1);
    assert_int_equal(fx_count(b, "node_filesystem_device_error"), 8);
    assert_int_equal(fx_count(b, "node_filesystem_size_bytes"), 6);
}

static void
test_stuck_mount(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    void          *state = NULL;
    pw_batch      *b;
    size_t         calls;

    env.statvfs_fn = fx_statvfs;
    env.statvfs_timeout_ms = 200;
    fx_fake_reset("", basic_fs, sizeof basic_fs / sizeof basic_fs[0]);
    fx_block("/data");
    assert_int_equal(pw_sampler_filesystem.init(&env, &state), PW_OK);

    /* Round 1: /data does not answer within 200 ms: flagged, the rest sampled. */
    b = fx_round(state, &env);
    fx_wait_blocked(1);
    fx_expect(b, FS("device_error", "/dev/vdd", "ext4", "/data"), 1);
    assert_int_equal(fx_count_label(b, "node_filesystem_size_bytes", "mountpoint", "/data"), 0);
    fx_check_basic_but_data(b);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_timeouts_total", 1);
    /* A timeout is not a failed call. */
    fx_expect(b, "poolwatch_node_filesystem_statvfs_errors_total", 1);
    assert_int_equal(fx_statvfs_calls("/data"), 1);
    assert_int_equal(fx_ncalls(), 8);
    pw_batch_free(b);

    /* Round 2: /data is stuck: flagged without a call (and without waiting). */
    b = fx_round(state, &env);
    fx_expect(b, FS("device_error", "/dev/vdd", "ext4", "/data"), 1);
    fx_check_basic_but_data(b);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_timeouts_total", 1);
    assert_int_equal(fx_statvfs_calls("/data"), 1);
    assert_int_equal(fx_ncalls(), 8 + 7);
    pw_batch_free(b);

    /* The call returns: its worker clears the mark and ends; the next round asks again. */
    fx_release();
    fx_wait_unblocked();
    env.statvfs_timeout_ms = 5000;     /* nothing blocks now: no room for a slow machine to fail */
    calls = fx_ncalls();
    b = fx_round(state, &env);
    fx_expect(b, FS("device_error", "/dev/vdd", "ext4", "/data"), 0);
    fx_expect(b, FS("size_bytes", "/dev/vdd", "ext4", "/data"), 2000000.0 * 4096);
    fx_check_basic(b);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_timeouts_total", 1);
    assert_int_equal(fx_statvfs_calls("/data"), 2);
    assert_int_equal(fx_ncalls(), calls + 8);
    pw_batch_free(b);
    pw_sampler_filesystem.fini(state);
}

static void
test_thread_bound(void **unused)
{
    pw_sampler_env env = fx_env("manycore");
    void          *state = NULL;
    pw_batch      *b;

    /* Every mount blocks: 8 calls are left blocked, the other 10 mounts are not asked. */
    env.statvfs_fn = fx_statvfs;
    env.statvfs_timeout_ms = 20;
    fx_fake_reset("", NULL, 0);
    fx_block("*");
    assert_int_equal(pw_sampler_filesystem.init(&env, &state), PW_OK);
    b = fx_round(state, &env);
    /* A worker may reach the fake after its round gave up on it: await all 8. */
    fx_wait_blocked(8);
    assert_int_equal(fx_count(b, "node_filesystem_device_error"), 18);
    assert_int_equal(fx_count(b, "node_filesystem_size_bytes"), 0);
    fx_expect(b, FS("device_error", "/dev/mapper/vg0-root", "xfs", "/"), 1);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_timeouts_total", 8);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_errors_total", 0);
    assert_int_equal(fx_ncalls(), 8);
    pw_batch_free(b);

    /* Still 8 blocked: no call at all, no new thread. */
    b = fx_round(state, &env);
    assert_int_equal(fx_count(b, "node_filesystem_device_error"), 18);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_timeouts_total", 8);
    assert_int_equal(fx_ncalls(), 8);
    pw_batch_free(b);

    /* All return: every mount is asked again and answers. */
    fx_release();
    fx_wait_unblocked();
    env.statvfs_timeout_ms = 5000;
    b = fx_round(state, &env);
    assert_int_equal(fx_count(b, "node_filesystem_device_error"), 18);
    assert_int_equal(fx_count(b, "node_filesystem_size_bytes"), 16);
    fx_expect(b, FS("size_bytes", "/dev/mapper/vg0-root", "xfs", "/"), 4294967296.0);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_timeouts_total", 8);
    fx_expect(b, "poolwatch_node_filesystem_statvfs_errors_total", 2);
    assert_int_equal(fx_ncalls(), 8 + 18);
    pw_batch_free(b);
    pw_sampler_filesystem.fini(state);
}

static void
test_fini_while_stuck(void **unused)
{
    pw_sampler_env env = fx_env("basic");
    void          *state = NULL;
    pw_batch      *b;

    /* fini does not wait for a blocked call; the worker frees what it owns when
     * the call returns, after the sampler is gone (ASan: no use after free, no leak). */
    env.statvfs_fn = fx_statvfs;
    env.statvfs_timeout_ms = 200;
    fx_fake_reset("", basic_fs, sizeof basic_fs / sizeof basic_fs[0]);
    fx_block("/run/lock");
    assert_int_equal(pw_sampler_filesystem.init(&env, &state), PW_OK);
    b = fx_round(state, &env);
    fx_wait_blocked(1);
    fx_expect(b, FS("device_error", "tmpfs", "tmpfs", "/run/lock"), 1);
    fx_expect(b, FS("size_bytes", "/dev/vdd", "ext4", "/data"), 2000000.0 * 4096);
    pw_batch_free(b);
    pw_sampler_filesystem.fini(state);
    fx_release();
    fx_wait_unblocked();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_rootfs),
        cmocka_unit_test(test_container_mounts),
        cmocka_unit_test(test_error_counter),
        cmocka_unit_test(test_manycore),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_threaded),
        cmocka_unit_test(test_stuck_mount),
        cmocka_unit_test(test_thread_bound),
        cmocka_unit_test(test_fini_while_stuck),
    };

    if (pthread_key_create(&fx_blocked_key, fx_thread_end) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
