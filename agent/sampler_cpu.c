/*
 * sampler_cpu.c - CPU time and kernel activity counters from /proc/stat.
 *
 * Emits what node_exporter's cpu and stat collectors do (node_cpu_*,
 * node_context_switches_total, node_intr_total, node_forks_total,
 * node_procs_*, node_boot_time_seconds) plus the machine-wide "cpu " line as
 * poolwatch_node_cpu_seconds_total and the number of CPUs as
 * poolwatch_node_cpus. Boot time lives here rather than in the uptime
 * sampler because it is a /proc/stat line: /proc/stat is the costliest file
 * the agent reads on a big host (the kernel sums every IRQ over every CPU to
 * make it), so it is read once per round.
 */
#include "sampler.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

/* Column order of the cpu lines; guest and guest_nice follow these eight. */
static const char *const cpu_modes[] = {
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
};
#define CPU_NMODES (sizeof cpu_modes / sizeof cpu_modes[0])
/*
 * "cpuN" + 10 counters. Older kernels have fewer (never fewer than 4); a
 * newer one may add columns, which are ignored rather than refused.
 */
#define CPU_MAX_FIELDS 11
#define CPU_MIN_FIELDS 5

/* The single-counter lines of /proc/stat and what node_exporter calls them. */
static const struct {
    const char *key;
    const char *metric;
} cpu_counters[] = {
    { "ctxt",          "node_context_switches_total" },
    { "intr",          "node_intr_total" },
    { "processes",     "node_forks_total" },
    { "procs_running", "node_procs_running" },
    { "procs_blocked", "node_procs_blocked" },
    { "btime",         "node_boot_time_seconds" },
};

/* "cpu" (aggregate, cpu == NULL) or "cpuN" (per core) with its counters. */
static pw_err
cpu_line(pw_batch *b, const char *cpu, char **f, size_t nf, double hz)
{
    uint64_t v[CPU_MAX_FIELDS - 1];
    size_t   nv = nf - 1;
    pw_err   first = PW_OK;

    if (nf < CPU_MIN_FIELDS)
        return PW_EPROTO;
    for (size_t i = 0; i < nv; i++)
        if (!pw_procfs_u64(f[i + 1], &v[i]))
            return PW_EPROTO;           /* all or nothing: a half-read line is a cut file */
    for (size_t i = 0; i < nv && i < CPU_NMODES; i++) {
        double s = (double) v[i] / hz;

        pw_procfs_keep_err(&first, cpu
            ? pw_batch_addl(b, "node_cpu_seconds_total", s, "cpu", cpu, "mode", cpu_modes[i], NULL)
            : pw_batch_addl(b, "poolwatch_node_cpu_seconds_total", s, "mode", cpu_modes[i], NULL));
    }
    /* guest and guest_nice are already inside user and nice, as node_exporter leaves them. */
    if (cpu && nv > CPU_NMODES)
        pw_procfs_keep_err(&first, pw_batch_addl(b, "node_cpu_guest_seconds_total",
                                                 (double) v[CPU_NMODES] / hz,
                                                 "cpu", cpu, "mode", "user", NULL));
    if (cpu && nv > CPU_NMODES + 1)
        pw_procfs_keep_err(&first, pw_batch_addl(b, "node_cpu_guest_seconds_total",
                                                 (double) v[CPU_NMODES + 1] / hz,
                                                 "cpu", cpu, "mode", "nice", NULL));
    return first;
}

/* "ctxt 123" and the like: the first number after the key. */
static pw_err
cpu_counter(pw_batch *b, const char *metric, char **f, size_t nf, bool truncated)
{
    /* intr has a count per IRQ after its total (~17 KB on a big host); the others one number. */
    bool     intr = strcmp(f[0], "intr") == 0;
    uint64_t v;

    if (nf < 2 || (!intr && nf != 2))
        return PW_EPROTO;
    /* A line cut by the buffer may end mid-number: only a field before the last is whole. */
    if (truncated && nf < 3)
        return PW_EPROTO;
    if (!pw_procfs_u64(f[1], &v))
        return PW_EPROTO;
    return pw_batch_addl(b, metric, (double) v, NULL);
}

static pw_err
cpu_collect(void *state, const pw_sampler_env *env, pw_batch *b)
{
    char            buf[PW_PROCFS_LINE_BUF];
    char           *line, *f[CPU_MAX_FIELDS];
    pw_procfs_lines r;
    long            tck = sysconf(_SC_CLK_TCK);
    /* USER_HZ is 100 on every Linux ABI; sysconf only fails on a broken libc. */
    double          hz = tck > 0 ? (double) tck : 100.0;
    unsigned        ncpus = 0;
    bool            aggregate = false;
    pw_err          first = PW_OK, rc;

    if ((rc = pw_procfs_lines_open(&r, env->proc_root, "stat", buf, sizeof buf)) != PW_OK)
        return rc;
    while ((line = pw_procfs_lines_next(&r, NULL)) != NULL) {
        bool   truncated = r.truncated;
        size_t nf = pw_procfs_split(line, f, CPU_MAX_FIELDS);

        if (nf == 0)
            continue;
        if (nf > CPU_MAX_FIELDS)
            nf = CPU_MAX_FIELDS;
        if (strncmp(f[0], "cpu", 3) == 0) {
            const char *id = f[0] + 3;
            uint64_t    n;

            if (truncated) {
                rc = PW_EPROTO;
            } else if (*id == '\0') {
                rc = cpu_line(b, NULL, f, nf, hz);
                aggregate = rc == PW_OK;
            } else if (pw_procfs_u64(id, &n)) {
                rc = cpu_line(b, id, f, nf, hz);
                ncpus += rc == PW_OK;
            } else {
                rc = PW_EPROTO;
            }
            pw_procfs_keep_err(&first, rc);
            continue;
        }
        for (size_t i = 0; i < sizeof cpu_counters / sizeof cpu_counters[0]; i++)
            if (strcmp(f[0], cpu_counters[i].key) == 0)
                pw_procfs_keep_err(&first, cpu_counter(b, cpu_counters[i].metric, f, nf,
                                                       truncated));
        /* Other lines (softirq, page/swap on old kernels) are not sampled. */
    }
    pw_procfs_keep_err(&first, r.err);
    pw_procfs_lines_close(&r);
    if (ncpus > 0)
        pw_procfs_keep_err(&first, pw_batch_addl(b, "poolwatch_node_cpus", (double) ncpus, NULL));
    /* Every kernel writes the aggregate line first: without it this is not /proc/stat. */
    if (!aggregate)
        pw_procfs_keep_err(&first, PW_EPROTO);
    return first;
}

const pw_sampler_ops pw_sampler_cpu = {
    .name = "cpu",
    .init = NULL,
    .collect = cpu_collect,
    .fini = NULL,
};
