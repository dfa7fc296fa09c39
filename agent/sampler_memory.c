/*
 * sampler_memory.c - /proc/meminfo as node_memory_* plus two usage ratios.
 *
 * Every field becomes a series, named the way node_exporter's meminfo
 * collector names it, so the set follows the running kernel without a list
 * here: "Active(anon): 123 kB" is node_memory_Active_anon_bytes = 125952, and
 * fields without a unit (HugePages_Total) are counts, node_memory_HugePages_Total.
 * The ratios are what pool capacity alerts use (REQUIREMENTS R1), computed on
 * the agent because MemAvailable/MemTotal of one instant is exact here and
 * only approximate once the two series are stored and rolled up separately.
 */
#include "sampler.h"

#include <stdio.h>
#include <string.h>

#include "procfs.h"

#define MEM_PREFIX "node_memory_"

/* Fields the ratios need; have == false until the line is seen. */
typedef struct mem_field {
    const char *name;
    double      bytes;
    bool        have;
} mem_field;

enum { MEM_TOTAL, MEM_AVAILABLE, MEM_SWAP_TOTAL, MEM_SWAP_FREE, MEM_NFIELDS };

/*
 * Writes the metric name for meminfo key (without its ':') into out (cap
 * bytes): "(x)" becomes "_x" as node_exporter's `\((.*)\)` -> `_$1` does, and
 * "_bytes" is appended when the value has a unit. False if it does not fit.
 */
static bool
mem_metric_name(const char *key, size_t keylen, bool bytes, char *out, size_t cap)
{
    const char *lp = memchr(key, '(', keylen), *rp = NULL;
    int         n;

    for (const char *p = key + keylen; lp && p > lp; p--)   /* greedy: the last ')' */
        if (p[-1] == ')') {
            rp = p - 1;
            break;
        }
    if (lp && rp)
        n = snprintf(out, cap, MEM_PREFIX "%.*s_%.*s%.*s%s",
                     (int) (lp - key), key,
                     (int) (rp - lp - 1), lp + 1,
                     (int) (key + keylen - rp - 1), rp + 1,
                     bytes ? "_bytes" : "");
    else
        n = snprintf(out, cap, MEM_PREFIX "%.*s%s", (int) keylen, key, bytes ? "_bytes" : "");
    return n > 0 && (size_t) n < cap;
}

/* One "Key:  value [kB]" line; records the fields the ratios need. */
static pw_err
mem_line(pw_batch *b, char *line, mem_field *fields)
{
    char     metric[PW_MAX_METRIC_LEN + 1];
    char    *f[3];
    size_t   nf = pw_procfs_split(line, f, 3), keylen;
    uint64_t v;
    double   value;
    pw_err   rc;

    if (nf == 0)
        return PW_OK;                   /* some old kernels print an empty line */
    if (nf > 3 || nf < 2 || (keylen = strlen(f[0])) < 2 || f[0][keylen - 1] != ':')
        return PW_EPROTO;
    keylen--;
    if (!pw_procfs_u64(f[1], &v) || (nf == 3 && strcmp(f[2], "kB") != 0))
        return PW_EPROTO;
    value = nf == 3 ? (double) v * 1024.0 : (double) v;
    if (!mem_metric_name(f[0], keylen, nf == 3, metric, sizeof metric))
        return PW_EPROTO;
    for (size_t i = 0; i < MEM_NFIELDS; i++)
        if (strlen(fields[i].name) == keylen && memcmp(f[0], fields[i].name, keylen) == 0) {
            fields[i].bytes = value;
            fields[i].have = true;
        }
    /* A key that makes no valid metric name (PW_EINVAL) is malformed input. */
    rc = pw_batch_addl(b, metric, value, NULL);
    return rc == PW_EINVAL ? PW_EPROTO : rc;
}

static pw_err
mem_collect(void *state, const pw_sampler_env *env, pw_batch *b)
{
    char            buf[PW_PROCFS_LINE_BUF];
    char           *line;
    pw_procfs_lines r;
    pw_err          first = PW_OK, rc;
    mem_field       fields[MEM_NFIELDS] = {
        [MEM_TOTAL]      = { .name = "MemTotal" },
        [MEM_AVAILABLE]  = { .name = "MemAvailable" },
        [MEM_SWAP_TOTAL] = { .name = "SwapTotal" },
        [MEM_SWAP_FREE]  = { .name = "SwapFree" },
    };

    if ((rc = pw_procfs_lines_open(&r, env->proc_root, "meminfo", buf, sizeof buf)) != PW_OK)
        return rc;
    while ((line = pw_procfs_lines_next(&r, NULL)) != NULL)
        pw_procfs_keep_err(&first, r.truncated ? PW_EPROTO : mem_line(b, line, fields));
    pw_procfs_keep_err(&first, r.err);
    pw_procfs_lines_close(&r);

    /* MemAvailable is the kernel's own estimate (3.14+); without it there is no ratio. */
    if (fields[MEM_TOTAL].have && fields[MEM_AVAILABLE].have && fields[MEM_TOTAL].bytes > 0) {
        double used = 1.0 - fields[MEM_AVAILABLE].bytes / fields[MEM_TOTAL].bytes;

        pw_procfs_keep_err(&first, pw_batch_addl(b, "poolwatch_node_memory_used_ratio",
                                                 used < 0 ? 0 : used > 1 ? 1 : used, NULL));
    }
    if (fields[MEM_SWAP_TOTAL].have && fields[MEM_SWAP_FREE].have) {
        double used = fields[MEM_SWAP_TOTAL].bytes > 0
                      ? 1.0 - fields[MEM_SWAP_FREE].bytes / fields[MEM_SWAP_TOTAL].bytes : 0.0;

        pw_procfs_keep_err(&first, pw_batch_addl(b, "poolwatch_node_swap_used_ratio",
                                                 used < 0 ? 0 : used > 1 ? 1 : used, NULL));
    }
    if (!fields[MEM_TOTAL].have)
        pw_procfs_keep_err(&first, PW_EPROTO);  /* every meminfo starts with MemTotal */
    return first;
}

const pw_sampler_ops pw_sampler_memory = {
    .name = "memory",
    .init = NULL,
    .collect = mem_collect,
    .fini = NULL,
};
