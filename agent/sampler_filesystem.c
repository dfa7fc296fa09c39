/*
 * sampler_filesystem.c - size and free space of mounted filesystems, from the
 * mount table (/proc/1/mounts) and statvfs(3) on each mount point.
 *
 * Names, labels and the default exclusions are node_exporter's filesystem
 * collector's: pseudo filesystems (proc, sysfs, cgroup, overlay, ...) and
 * mount points under /dev, /proc, /sys and container storage say nothing
 * about disk capacity. tmpfs is kept, as node_exporter keeps it: it is RAM a
 * tenant can fill.
 *
 * The mount table is pid 1's, so an agent in a container with the host's /proc
 * sees the host's mounts; /proc/self/mounts is the fallback where pid 1 is
 * hidden (hidepid). When the same mount point appears twice (something was
 * mounted over it), only the last entry is sampled: statvfs reports the top
 * mount, so the earlier ones would repeat its numbers under another device.
 *
 * statvfs runs on rootfs + mount point, so an agent in a container with the
 * host's / at /host reaches the host's filesystems. A statvfs that fails (a
 * FUSE mount of another user, a dead NFS server that answers with an error)
 * marks that mount with node_filesystem_device_error = 1 and counts in
 * poolwatch_node_filesystem_statvfs_errors_total; the others are still
 * sampled. A statvfs that blocks (hard NFS mount, server gone) blocks the
 * round: known limitation, see agent/README.md.
 *
 * State: the entries of one round's mount table, kept between rounds so the
 * two arrays grow to fit the host once and are then reused.
 */
#include "sampler.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

/* Bounds on one round's table: far above any real host, they cap a runaway file. */
#define FS_MAX_MOUNTS 16384
#define FS_MAX_ARENA  (2u << 20)

/* One kept mount; the strings are offsets into fs_state.arena (it moves when it grows). */
typedef struct fs_mount {
    size_t   device, mountpoint, fstype;
    uint32_t hash;                      /* of the mount point, to find duplicates fast */
    bool     ro;
} fs_mount;

typedef struct fs_state {
    fs_mount *mounts;
    size_t    nmounts, mounts_cap;
    char     *arena;
    size_t    arena_used, arena_cap;
    uint64_t  statvfs_errors;           /* since the agent started */
} fs_state;

/* node_exporter 1.5 --collector.filesystem.fs-types-exclude, as a list. */
static const char *const fs_excluded_types[] = {
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay", "proc",
    "procfs", "pstore", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs",
    "tracefs",
};

static bool
fs_type_excluded(const char *type)
{
    for (size_t i = 0; i < sizeof fs_excluded_types / sizeof fs_excluded_types[0]; i++)
        if (strcmp(type, fs_excluded_types[i]) == 0)
            return true;
    return false;
}

/*
 * node_exporter 1.5 --collector.filesystem.mount-points-exclude,
 * ^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/),
 * by hand: "dev", "proc", "sys" as a whole path component, the others as a
 * directory with anything below it.
 */
static bool
fs_mountpoint_excluded(const char *mp)
{
    static const char *const whole[] = { "/dev", "/proc", "/sys" };
    static const char *const below[] = {
        "/run/credentials/", "/var/lib/docker/", "/var/lib/containers/storage/",
    };

    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        size_t n = strlen(whole[i]);

        if (strncmp(mp, whole[i], n) == 0 && (mp[n] == '\0' || mp[n] == '/'))
            return true;
    }
    for (size_t i = 0; i < sizeof below / sizeof below[0]; i++) {
        size_t n = strlen(below[i]);

        if (strncmp(mp, below[i], n) == 0 && mp[n] != '\0')
            return true;
    }
    return false;
}

/*
 * Undoes the kernel's escaping of mount table fields in place: space, tab,
 * newline and backslash are written as \040, \011, \012, \134. Any other
 * backslash is left as it is.
 */
static void
fs_unescape(char *s)
{
    char *w = s;

    for (const char *p = s; *p; ) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7'
            && p[3] >= '0' && p[3] <= '7' && (p[1] != '0' || p[2] != '0' || p[3] != '0')) {
            *w++ = (char) ((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
            p += 4;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
}

/* True if the comma-separated options hold "ro" (skipping a last, cut-off option). */
static bool
fs_readonly(const char *opts, bool cut)
{
    for (const char *p = opts; ; ) {
        const char *comma = strchr(p, ',');
        size_t      n = comma ? (size_t) (comma - p) : strlen(p);

        if (comma == NULL && cut)
            return false;
        if (n == 2 && p[0] == 'r' && p[1] == 'o')
            return true;
        if (comma == NULL)
            return false;
        p = comma + 1;
    }
}

/* FNV-1a: only a quick "maybe equal" before strcmp. */
static uint32_t
fs_hash(const char *s)
{
    uint32_t h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char) *s++) * 16777619u;
    return h;
}

/* Copies s into the arena; its offset in *off. */
static pw_err
fs_store(fs_state *st, const char *s, size_t *off)
{
    size_t n = strlen(s) + 1;

    if (st->arena_cap - st->arena_used < n) {
        size_t cap = st->arena_cap ? st->arena_cap : 4096;
        char  *a;

        while (cap - st->arena_used < n)
            cap *= 2;
        if (cap > FS_MAX_ARENA)
            return PW_ETOOBIG;
        if ((a = realloc(st->arena, cap)) == NULL)
            return PW_ENOMEM;
        st->arena = a;
        st->arena_cap = cap;
    }
    memcpy(st->arena + st->arena_used, s, n);
    *off = st->arena_used;
    st->arena_used += n;
    return PW_OK;
}

static pw_err
fs_add_mount(fs_state *st, const char *device, const char *mp, const char *type, bool ro)
{
    fs_mount *m;
    pw_err    rc;

    if (st->nmounts == st->mounts_cap) {
        size_t    cap = st->mounts_cap ? st->mounts_cap * 2 : 32;
        fs_mount *a;

        if (cap > FS_MAX_MOUNTS)
            return PW_ETOOBIG;
        if ((a = realloc(st->mounts, cap * sizeof *a)) == NULL)
            return PW_ENOMEM;
        st->mounts = a;
        st->mounts_cap = cap;
    }
    m = &st->mounts[st->nmounts];
    if ((rc = fs_store(st, device, &m->device)) != PW_OK
        || (rc = fs_store(st, mp, &m->mountpoint)) != PW_OK
        || (rc = fs_store(st, type, &m->fstype)) != PW_OK)
        return rc;
    m->hash = fs_hash(mp);
    m->ro = ro;
    st->nmounts++;
    return PW_OK;
}

/* Length of rootfs without trailing slashes: "/host/" and "/host" are one prefix, "/" none. */
static size_t
fs_rootfs_len(const pw_sampler_env *env)
{
    size_t n = env->rootfs ? strlen(env->rootfs) : 0;

    while (n > 0 && env->rootfs[n - 1] == '/')
        n--;
    return n;
}

/* "device mountpoint fstype options dump pass": keeps it unless excluded. */
static pw_err
fs_line(fs_state *st, const pw_sampler_env *env, char *line, bool cut)
{
    char  *f[4], *mp;
    size_t n = fs_rootfs_len(env);

    /*
     * A line longer than the buffer (overlay's lowerdir= options run to pages)
     * still has its first three fields whole if a fourth one started.
     */
    if (pw_procfs_split(line, f, 4) < 4)
        return PW_EPROTO;
    if (fs_type_excluded(f[2]))
        return PW_OK;
    fs_unescape(f[0]);
    fs_unescape(f[1]);
    mp = f[1];
    /* Seen through /proc/self/mounts in a container, host paths carry the rootfs prefix. */
    if (n > 0 && strncmp(mp, env->rootfs, n) == 0 && (mp[n] == '/' || mp[n] == '\0'))
        mp = mp[n] ? mp + n : "/";
    if (fs_mountpoint_excluded(mp))
        return PW_OK;
    /* Labels must be UTF-8; a mount point that is not cannot be named in a series. */
    if (!pw_label_value_valid(f[0], strlen(f[0])) || !pw_label_value_valid(mp, strlen(mp))
        || !pw_label_value_valid(f[2], strlen(f[2])))
        return PW_OK;
    return fs_add_mount(st, f[0], mp, f[2], fs_readonly(f[3], cut));
}

static pw_err
fs_read_mounts(fs_state *st, const pw_sampler_env *env)
{
    char            buf[PW_PROCFS_LINE_BUF];
    char           *line;
    pw_procfs_lines r;
    pw_err          first = PW_OK, rc;

    rc = pw_procfs_lines_open(&r, env->proc_root, "1/mounts", buf, sizeof buf);
    if (rc == PW_ENOENT)
        rc = pw_procfs_lines_open(&r, env->proc_root, "self/mounts", buf, sizeof buf);
    if (rc != PW_OK)
        return rc;
    while ((line = pw_procfs_lines_next(&r, NULL)) != NULL) {
        rc = fs_line(st, env, line, r.truncated);
        pw_procfs_keep_err(&first, rc);
        if (rc == PW_ETOOBIG || rc == PW_ENOMEM)
            break;                      /* sample the mounts kept so far */
    }
    pw_procfs_keep_err(&first, r.err);
    pw_procfs_lines_close(&r);
    return first;
}

/* Adds one series of mount m. */
static pw_err
fs_add(pw_batch *b, const fs_state *st, const fs_mount *m, const char *metric, double v)
{
    return pw_batch_addl(b, metric, v, "device", st->arena + m->device,
                         "fstype", st->arena + m->fstype,
                         "mountpoint", st->arena + m->mountpoint, NULL);
}

/* statvfs of mount m and its series. */
static pw_err
fs_sample(fs_state *st, const pw_sampler_env *env, pw_batch *b, const fs_mount *m)
{
    char           path[PATH_MAX];
    struct statvfs sv;
    int            n;
    double         frsize;
    pw_err         first = PW_OK;

    n = snprintf(path, sizeof path, "%.*s%s", (int) fs_rootfs_len(env),
                 env->rootfs ? env->rootfs : "", st->arena + m->mountpoint);
    if (n < 0 || (size_t) n >= sizeof path || env->statvfs_fn(path, &sv) != 0) {
        st->statvfs_errors++;
        return fs_add(b, st, m, "node_filesystem_device_error", 1);
    }
    /* Block counts are in f_frsize units; some filesystems leave it 0 and mean f_bsize. */
    frsize = (double) (sv.f_frsize ? sv.f_frsize : sv.f_bsize);
    pw_procfs_keep_err(&first, fs_add(b, st, m, "node_filesystem_device_error", 0));
    pw_procfs_keep_err(&first, fs_add(b, st, m, "node_filesystem_size_bytes",
                                      (double) sv.f_blocks * frsize));
    pw_procfs_keep_err(&first, fs_add(b, st, m, "node_filesystem_free_bytes",
                                      (double) sv.f_bfree * frsize));
    pw_procfs_keep_err(&first, fs_add(b, st, m, "node_filesystem_avail_bytes",
                                      (double) sv.f_bavail * frsize));
    pw_procfs_keep_err(&first, fs_add(b, st, m, "node_filesystem_files", (double) sv.f_files));
    pw_procfs_keep_err(&first, fs_add(b, st, m, "node_filesystem_files_free",
                                      (double) sv.f_ffree));
    pw_procfs_keep_err(&first, fs_add(b, st, m, "node_filesystem_readonly", m->ro ? 1 : 0));
    return first;
}

/* True if a later entry of the table has the same mount point (and hides this one). */
static bool
fs_overmounted(const fs_state *st, size_t i)
{
    const fs_mount *m = &st->mounts[i];

    for (size_t j = i + 1; j < st->nmounts; j++)
        if (st->mounts[j].hash == m->hash
            && strcmp(st->arena + st->mounts[j].mountpoint, st->arena + m->mountpoint) == 0)
            return true;
    return false;
}

static pw_err
fs_collect(void *state, const pw_sampler_env *env, pw_batch *b)
{
    fs_state *st = state;
    pw_err    first;

    st->nmounts = 0;
    st->arena_used = 0;
    /* Whatever part of the table was read is sampled, even if the rest was bad. */
    first = fs_read_mounts(st, env);
    if (first != PW_OK && st->nmounts == 0)
        return first;
    for (size_t i = 0; i < st->nmounts; i++)
        if (!fs_overmounted(st, i))
            pw_procfs_keep_err(&first, fs_sample(st, env, b, &st->mounts[i]));
    pw_procfs_keep_err(&first, pw_batch_addl(b, "poolwatch_node_filesystem_statvfs_errors_total",
                                             (double) st->statvfs_errors, NULL));
    return first;
}

static pw_err
fs_init(const pw_sampler_env *env, void **state)
{
    if ((*state = calloc(1, sizeof(fs_state))) == NULL)
        return PW_ENOMEM;
    return PW_OK;
}

static void
fs_fini(void *state)
{
    fs_state *st = state;

    if (st == NULL)
        return;
    free(st->mounts);
    free(st->arena);
    free(st);
}

const pw_sampler_ops pw_sampler_filesystem = {
    .name = "filesystem",
    .init = fs_init,
    .collect = fs_collect,
    .fini = fs_fini,
};
