/*
 * sampler.h - the agent's one plug-in point for reading a node.
 *
 * A sampler is one file (sampler_cpu.c, sampler_netdev.c, ...) that exports one
 * `const pw_sampler_ops` and nothing else; samplers.c lists them in one table.
 * Each round the agent starts a timestamp group in a batch and calls every
 * sampler's collect(); a sampler adds its values with pw_batch_add/addl.
 *
 * Samplers read counters only (files under /proc and /sys, statvfs), never
 * user data. They find those files through the environment, so tests point
 * them at fixture trees (tests/fixtures/...) instead of the live system.
 */
#ifndef PW_SAMPLER_H
#define PW_SAMPLER_H

#include <sys/statvfs.h>

#include "batch.h"
#include "pw_err.h"

typedef struct pw_sampler_env {
    const char *proc_root;   /* "/proc" unless --proc-root */
    const char *sys_root;    /* "/sys" unless --sys-root */
    const char *rootfs;      /* prefix for mount points given to statvfs; "" = live system */
    /* statvfs(3) unless a test injects a fake; never NULL. */
    int (*statvfs_fn)(const char *path, struct statvfs *out);
    /* --statvfs-timeout: how long a round waits for one statvfs before it
     * marks the mount stuck (sampler_filesystem.c); 0 = call it inline. */
    int64_t     statvfs_timeout_ms;
    /* Hypervisor mode (sampler_hypervisor.c): --hypervisor URI, NULL = off;
     * how long a round waits for the hypervisor before going on without it. */
    const char *hypervisor_uri;
    int64_t     hypervisor_timeout_ms;
} pw_sampler_env;

typedef struct pw_sampler_ops {
    const char *name;        /* "cpu", "memory", ... : used by --samplers and in logs */
    /*
     * Optional. Allocates the sampler's private state into *state (owned by
     * the sampler, released by fini). An error disables the sampler with a log
     * line; the agent keeps running.
     */
    pw_err (*init)(const pw_sampler_env *env, void **state);
    /*
     * Reads the node once and adds samples to b (in its current group). A
     * missing file is PW_ENOENT, unreadable content PW_EPROTO: the agent logs
     * it (once per streak) and counts it in poolwatch_agent_sampler_errors_total.
     * A sampler adds what it could read even when it returns an error.
     */
    pw_err (*collect)(void *state, const pw_sampler_env *env, pw_batch *b);
    /* Optional. Frees what init allocated. */
    void (*fini)(void *state);
} pw_sampler_ops;

/* NULL-terminated table of every sampler, in collection order (samplers.c). */
extern const pw_sampler_ops *const pw_samplers[];

extern const pw_sampler_ops pw_sampler_cpu;
extern const pw_sampler_ops pw_sampler_memory;
extern const pw_sampler_ops pw_sampler_filesystem;
extern const pw_sampler_ops pw_sampler_diskstats;
extern const pw_sampler_ops pw_sampler_netdev;
extern const pw_sampler_ops pw_sampler_loadavg;
extern const pw_sampler_ops pw_sampler_uptime;
/* Not in pw_samplers[]: only builds with libvirt have it, and the agent adds
 * it only with --hypervisor (PW_HAVE_HYPERVISOR, agent/meson.build). */
extern const pw_sampler_ops pw_sampler_hypervisor;

#endif
