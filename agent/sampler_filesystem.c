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
 * sampled.
 *
 * Stuck mounts. A statvfs on a hard NFS mount whose server is gone does not
 * fail: it blocks, in the kernel, until the server comes back, and no signal
 * short of SIGKILL ends it. The agent's round runs on its one loop, so such a
 * call made inline would stop all sampling and delivery. So (as
 * node_exporter's --collector.filesystem.mount-timeout) each statvfs runs on
 * a worker thread and the round waits for it at most
 * env->statvfs_timeout_ms. A call that does not answer by then is left to
 * its worker, and its mount is *stuck*: device_error 1 this round, and in
 * later rounds device_error 1 at once, without a call, until that call
 * returns (then the worker clears the mark and ends, and the next round asks
 * again). One log line when a mount gets stuck, one when it recovers;
 * poolwatch_node_filesystem_statvfs_timeouts_total counts the calls that
 * timed out. A call cannot be cancelled, so each stuck mount holds one
 * blocked thread: at most FS_MAX_STUCK of them; past that, mounts are
 * reported with device_error 1 without a call until one returns. The wait
 * is per call: a round in which k mounts newly get stuck is k timeouts
 * longer, once; later rounds skip them.
 *
 * One worker serves the round's calls one after the other and lives from
 * round to round (no thread is made per call); a new one is started only
 * when the current one is left behind on a stuck mount. A left-behind worker
 * may outlive the round and the sampler: it owns its request (with its own
 * copy of the path) and itself, and holds a reference on the one structure
 * it shares with the sampler (fs_shared: the lock and the stuck set). fini
 * drops the sampler's reference and does not wait for it; the last one out
 * frees it. A process that exits leaves such a thread blocked in the kernel,
 * which is harmless. statvfs_timeout_ms 0 calls statvfs inline (no threads).
 *
 * State: the entries of one round's mount table, kept between rounds so the
 * two arrays grow to fit the host once and are then reused; the worker and
 * the shared stuck set.
 */
#include "sampler.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "procfs.h"

/* Bounds on one round's table: far above any real host, they cap a runaway file. */
#define FS_MAX_MOUNTS 16384
#define FS_MAX_ARENA  (2u << 20)

/* Workers left blocked in statvfs at once (one per stuck mount). */
#define FS_MAX_STUCK 8
/* A worker only calls statvfs (and logs once): a small stack keeps 8 blocked ones cheap. */
#define FS_WORKER_STACK (256u << 10)

typedef struct fs_req fs_req;
typedef struct fs_worker fs_worker;
typedef struct fs_shared fs_shared;

/*
 * One statvfs call handed to a worker. Allocated by the round, which frees it
 * once answered; if the round stops waiting, the worker owns it and frees it
 * when the call returns.
 */
struct fs_req {
    int          (*statvfs_fn)(const char *path, struct statvfs *out);
    struct statvfs sv;            /* written by the worker; read once done is set */
    int            rc;            /* statvfs_fn's return */
    bool           done;          /* under fs_shared.mu */
    int64_t        start_ms;      /* monotonic: how long a stuck call took, for the log */
    char           path[];        /* rootfs + mount point: the request's own copy */
};

/*
 * A worker thread. The sampler owns the current one (fs_state.worker) and
 * joins it in fini; one left behind on a stuck mount (abandoned) owns itself
 * and frees itself when its call returns. Every worker holds one reference on
 * its fs_shared for as long as its thread runs.
 */
struct fs_worker {
    fs_shared     *sh;
    pthread_t      thread;
    pthread_cond_t wake;          /* a request to run, or stop */
    fs_req        *req;           /* under sh->mu: the call to make; NULL when idle */
    bool           stop;          /* under sh->mu: end when idle (fini) */
    bool           abandoned;     /* under sh->mu: the round gave up waiting for req */
    fs_worker     *next;          /* under sh->mu: in sh->stuck while abandoned */
};

/*
 * What the sampler and its workers share: the lock, and the stuck set (the
 * abandoned workers, each blocked on one path). Reference counted: the
 * sampler's state holds one, each worker thread one; whoever drops the last
 * frees it, so fini never frees what a blocked worker will still touch.
 */
struct fs_shared {
    pthread_mutex_t mu;
    pthread_cond_t  done;         /* CLOCK_MONOTONIC: the current worker answered */
    unsigned        refs;         /* under mu */
    fs_worker      *stuck;        /* under mu */
    size_t          nstuck;       /* under mu: length of stuck, at most FS_MAX_STUCK */
};

/* How a mount's statvfs went. */
typedef enum fs_answer {
    FS_ANSWERED,                  /* the call returned (rc says how) */
    FS_TIMEDOUT,                  /* no answer within the timeout: the mount is now stuck */
    FS_STUCK,                     /* stuck since an earlier round: not asked */
    FS_BUSY,                      /* FS_MAX_STUCK calls blocked: not asked */
} fs_answer;

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
    uint64_t  statvfs_timeouts;         /* since the agent started */
    fs_shared *sh;                      /* one reference */
    fs_worker *worker;                  /* the current worker; NULL until needed */
    bool       busy_logged;             /* FS_BUSY logged: once until a round has none */
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

/* --- statvfs on a worker thread --- */

static fs_shared *
fs_shared_new(void)
{
    fs_shared         *sh = calloc(1, sizeof *sh);
    pthread_condattr_t ca;

    if (sh == NULL)
        return NULL;
    pthread_mutex_init(&sh->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sh->done, &ca);
    pthread_condattr_destroy(&ca);
    sh->refs = 1;
    return sh;
}

static void
fs_shared_unref(fs_shared *sh)
{
    bool last;

    if (sh == NULL)
        return;
    pthread_mutex_lock(&sh->mu);
    last = --sh->refs == 0;
    pthread_mutex_unlock(&sh->mu);
    if (!last)
        return;
    /* No reference left means no worker left: the stuck set is empty. */
    pthread_cond_destroy(&sh->done);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

/* True if a call on path is still blocked. Under sh->mu. */
static bool
fs_stuck_has(const fs_shared *sh, const char *path)
{
    for (const fs_worker *w = sh->stuck; w != NULL; w = w->next)
        if (strcmp(w->req->path, path) == 0)
            return true;
    return false;
}

/* Takes w out of the stuck set. Under sh->mu. */
static void
fs_stuck_remove(fs_shared *sh, fs_worker *w)
{
    for (fs_worker **p = &sh->stuck; *p != NULL; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            sh->nstuck--;
            return;
        }
}

static void *
fs_worker_main(void *arg)
{
    fs_worker *w = arg;
    fs_shared *sh = w->sh;
    fs_req    *left = NULL;             /* the request of an abandoned worker, now ours */

    pthread_mutex_lock(&sh->mu);
    for (;;) {
        fs_req *req;
        int     rc;

        while (w->req == NULL && !w->stop)
            pthread_cond_wait(&w->wake, &sh->mu);
        if (w->req == NULL)
            break;                      /* stop, idle */
        req = w->req;
        pthread_mutex_unlock(&sh->mu);
        rc = req->statvfs_fn(req->path, &req->sv);
        pthread_mutex_lock(&sh->mu);
        req->rc = rc;
        req->done = true;
        w->req = NULL;
        if (w->abandoned) {
            /* The round stopped waiting long ago: the mount is no longer stuck. */
            fs_stuck_remove(sh, w);
            left = req;
            break;
        }
        pthread_cond_signal(&sh->done);
    }
    pthread_mutex_unlock(&sh->mu);
    if (left != NULL) {
        pw_info("filesystem: statvfs on %s returned after %.1f s: no longer stuck, "
                "sampled again from the next round", left->path,
                (double) (pw_mono_ms() - left->start_ms) / 1000);
        free(left);
        pthread_cond_destroy(&w->wake);
        free(w);
    }
    fs_shared_unref(sh);
    return NULL;
}

/* Starts a worker as st->worker. */
static pw_err
fs_worker_start(fs_state *st)
{
    fs_worker     *w;
    pthread_attr_t attr;
    sigset_t       all, old;
    int            e;

    if ((w = calloc(1, sizeof *w)) == NULL)
        return PW_ENOMEM;
    w->sh = st->sh;
    pthread_cond_init(&w->wake, NULL);
    pthread_mutex_lock(&st->sh->mu);
    st->sh->refs++;                     /* the thread's */
    pthread_mutex_unlock(&st->sh->mu);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, FS_WORKER_STACK);
    /* The agent's signals (SIGTERM, SIGHUP) are for its loop thread, not for
     * one blocked in the kernel: the worker starts with all of them blocked. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&w->thread, &attr, fs_worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        pw_error("filesystem: cannot start a statvfs thread: %s", strerror(e));
        fs_shared_unref(st->sh);
        pthread_cond_destroy(&w->wake);
        free(w);
        return PW_EIO;
    }
    st->worker = w;
    return PW_OK;
}

/* Ends the current worker, which is idle between rounds, so this is prompt. */
static void
fs_worker_stop(fs_state *st)
{
    fs_worker *w = st->worker;

    if (w == NULL)
        return;
    pthread_mutex_lock(&st->sh->mu);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&st->sh->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    free(w);
    st->worker = NULL;
}

/*
 * statvfs(path) on the worker, waiting at most timeout_ms; *ans says how it
 * went, *sv and *rc hold the answer if FS_ANSWERED. An error if no worker or
 * request could be made (then nothing was asked).
 */
static pw_err
fs_ask(fs_state *st, const pw_sampler_env *env, const char *path, int64_t timeout_ms,
       fs_answer *ans, struct statvfs *sv, int *rc)
{
    fs_shared      *sh = st->sh;
    fs_worker      *w;
    fs_req         *req;
    size_t          n = strlen(path) + 1, nstuck;
    struct timespec until;
    pw_err          err;

    pthread_mutex_lock(&sh->mu);
    if (fs_stuck_has(sh, path))
        *ans = FS_STUCK;
    else if (sh->nstuck >= FS_MAX_STUCK)
        *ans = FS_BUSY;                 /* one more timeout would be one thread too many */
    else
        *ans = FS_ANSWERED;
    pthread_mutex_unlock(&sh->mu);
    if (*ans != FS_ANSWERED)
        return PW_OK;
    if (st->worker == NULL && (err = fs_worker_start(st)) != PW_OK)
        return err;
    if ((req = calloc(1, sizeof *req + n)) == NULL)
        return PW_ENOMEM;
    req->statvfs_fn = env->statvfs_fn;
    req->start_ms = pw_mono_ms();
    memcpy(req->path, path, n);
    w = st->worker;
    until = pw_mono_deadline(timeout_ms);
    pthread_mutex_lock(&sh->mu);
    w->req = req;
    pthread_cond_signal(&w->wake);
    while (!req->done)
        if (pthread_cond_timedwait(&sh->done, &sh->mu, &until) == ETIMEDOUT)
            break;
    if (req->done) {
        /* Answered, perhaps just as the wait ran out: a late answer still counts. */
        pthread_mutex_unlock(&sh->mu);
        *sv = req->sv;
        *rc = req->rc;
        free(req);
        return PW_OK;
    }
    /* From here the worker owns itself and req; it frees both when the call returns. */
    w->abandoned = true;
    w->next = sh->stuck;
    sh->stuck = w;
    nstuck = ++sh->nstuck;
    pthread_detach(w->thread);
    pthread_mutex_unlock(&sh->mu);
    st->worker = NULL;
    st->statvfs_timeouts++;
    *ans = FS_TIMEDOUT;
    pw_warn("filesystem: statvfs on %s has not answered in %lld ms (a hard NFS mount whose "
            "server is gone?): mount marked stuck, reported with node_filesystem_device_error 1 "
            "and not asked again until that call returns; %zu call(s) blocked", path,
            (long long) timeout_ms, nstuck);
    return PW_OK;
}

/* statvfs of mount m and its series. */
static pw_err
fs_sample(fs_state *st, const pw_sampler_env *env, pw_batch *b, const fs_mount *m, bool *busy)
{
    char           path[PATH_MAX];
    struct statvfs sv;
    int            n, rc = -1;
    double         frsize;
    fs_answer      ans = FS_ANSWERED;
    pw_err         first = PW_OK;

    n = snprintf(path, sizeof path, "%.*s%s", (int) fs_rootfs_len(env),
                 env->rootfs ? env->rootfs : "", st->arena + m->mountpoint);
    if (n < 0 || (size_t) n >= sizeof path) {
        st->statvfs_errors++;
        return fs_add(b, st, m, "node_filesystem_device_error", 1);
    }
    if (env->statvfs_timeout_ms <= 0)
        rc = env->statvfs_fn(path, &sv);
    else
        first = fs_ask(st, env, path, env->statvfs_timeout_ms, &ans, &sv, &rc);
    if (first != PW_OK || ans != FS_ANSWERED) {
        /* Not asked, or no answer in time: no figures to give, the flag says so. */
        if (ans == FS_BUSY && !st->busy_logged)
            pw_warn("filesystem: %d statvfs calls are blocked: %s and the mounts after it are "
                    "reported with node_filesystem_device_error 1 without a call until one "
                    "returns (logged once)", FS_MAX_STUCK, path);
        *busy |= ans == FS_BUSY;
        st->busy_logged |= ans == FS_BUSY;
        pw_procfs_keep_err(&first, fs_add(b, st, m, "node_filesystem_device_error", 1));
        return first;
    }
    if (rc != 0) {
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
    bool      busy = false;

    st->nmounts = 0;
    st->arena_used = 0;
    /* Whatever part of the table was read is sampled, even if the rest was bad. */
    first = fs_read_mounts(st, env);
    if (first != PW_OK && st->nmounts == 0)
        return first;
    for (size_t i = 0; i < st->nmounts; i++)
        if (!fs_overmounted(st, i))
            pw_procfs_keep_err(&first, fs_sample(st, env, b, &st->mounts[i], &busy));
    st->busy_logged &= busy;
    pw_procfs_keep_err(&first, pw_batch_addl(b, "poolwatch_node_filesystem_statvfs_errors_total",
                                             (double) st->statvfs_errors, NULL));
    pw_procfs_keep_err(&first, pw_batch_addl(b, "poolwatch_node_filesystem_statvfs_timeouts_total",
                                             (double) st->statvfs_timeouts, NULL));
    return first;
}

static pw_err
fs_init(const pw_sampler_env *env, void **state)
{
    fs_state *st;

    if ((st = calloc(1, sizeof *st)) == NULL)
        return PW_ENOMEM;
    if ((st->sh = fs_shared_new()) == NULL) {
        free(st);
        return PW_ENOMEM;
    }
    *state = st;
    return PW_OK;
}

static void
fs_fini(void *state)
{
    fs_state *st = state;

    if (st == NULL)
        return;
    /* Workers blocked on stuck mounts are not waited for: they hold their own
     * reference on st->sh and free what they own when their call returns. */
    fs_worker_stop(st);
    fs_shared_unref(st->sh);
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
