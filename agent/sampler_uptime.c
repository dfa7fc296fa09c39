/*
 * sampler_uptime.c - poolwatch_node_uptime_seconds from /proc/uptime and the
 * node's wall clock as node_time_seconds.
 *
 * node_boot_time_seconds is not here: it is the btime line of /proc/stat,
 * which sampler_cpu.c already reads every round (and node_exporter's stat
 * collector owns it too). Uptime is the first field of /proc/uptime, time
 * since boot including suspend; the second (idle time summed over CPUs) is
 * left out, node_cpu_seconds_total{mode="idle"} says the same per CPU.
 * node_time_seconds lets a query compare the node's clock with the
 * collector's (clock skew shows up as its difference to the sample timestamp).
 */
#include "sampler.h"

#include <time.h>

#include "procfs.h"

static pw_err
uptime_collect(void *state, const pw_sampler_env *env, pw_batch *b)
{
    char            buf[128];
    char           *f[2];
    double          up;
    size_t          len;
    struct timespec now;
    pw_err          first = PW_OK, rc;

    /* The clock first: it is worth sending even when /proc/uptime is unreadable. */
    if (clock_gettime(CLOCK_REALTIME, &now) == 0)
        pw_procfs_keep_err(&first, pw_batch_addl(b, "node_time_seconds",
                                                 (double) now.tv_sec + (double) now.tv_nsec / 1e9,
                                                 NULL));
    rc = pw_procfs_read(env->proc_root, "uptime", buf, sizeof buf, &len);
    if (rc != PW_OK)
        return rc == PW_ETOOBIG ? PW_EPROTO : rc;
    if (!pw_procfs_complete(buf, len) || pw_procfs_split(buf, f, 2) < 1
        || !pw_procfs_double(f[0], &up) || up < 0)
        return PW_EPROTO;
    pw_procfs_keep_err(&first, pw_batch_addl(b, "poolwatch_node_uptime_seconds", up, NULL));
    return first;
}

const pw_sampler_ops pw_sampler_uptime = {
    .name = "uptime",
    .init = NULL,
    .collect = uptime_collect,
    .fini = NULL,
};
