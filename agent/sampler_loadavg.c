/*
 * sampler_loadavg.c - /proc/loadavg as node_load1, node_load5, node_load15.
 *
 * The file is one line, "0.52 0.58 0.59 1/345 12345"; only the three averages
 * are sampled (running and blocked task counts come from /proc/stat, see
 * sampler_cpu.c).
 */
#include "sampler.h"

#include "procfs.h"

static pw_err
load_collect(void *state, const pw_sampler_env *env, pw_batch *b)
{
    static const char *const metrics[3] = { "node_load1", "node_load5", "node_load15" };
    char   buf[128];
    char  *f[3];
    double v[3];
    size_t len;
    pw_err rc = pw_procfs_read(env->proc_root, "loadavg", buf, sizeof buf, &len), first = PW_OK;

    if (rc != PW_OK)
        return rc == PW_ETOOBIG ? PW_EPROTO : rc;   /* far longer than loadavg ever is */
    if (!pw_procfs_complete(buf, len) || pw_procfs_split(buf, f, 3) < 3)
        return PW_EPROTO;
    for (size_t i = 0; i < 3; i++)
        if (!pw_procfs_double(f[i], &v[i]) || v[i] < 0)
            return PW_EPROTO;           /* all three or none: they describe one instant */
    for (size_t i = 0; i < 3; i++)
        pw_procfs_keep_err(&first, pw_batch_addl(b, metrics[i], v[i], NULL));
    return first;
}

const pw_sampler_ops pw_sampler_loadavg = {
    .name = "loadavg",
    .init = NULL,
    .collect = load_collect,
    .fini = NULL,
};
