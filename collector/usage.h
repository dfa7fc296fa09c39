/*
 * usage.h - what each VM used over a period, from the stored hypervisor
 * series (agent/README.md, "Hypervisor mode"), for the reports (report.h).
 *
 * A VM is given as the spans it was in service, each with the allocation in
 * effect then (a VM resized on the 15th is two spans); percentages are of
 * the allocation of the span each bucket falls in, so a resize never makes
 * a VM look over- or under-used for the days before it.
 *
 * Figures come from rollup buckets of one resolution (the caller picks it:
 * the reports take pw_eval_pick_res for a quantile over the period, i.e. 5m
 * for a month, 1h for a quarter or a year - the same "p95 of 5-minute
 * averages" the evaluator defines, eval.h). Per bucket of a span:
 *
 *   cpu      increase of poolwatch_vm_cpu_seconds_total between the previous
 *            bucket's last value and this one's, over the time between them,
 *            / vCPUs of the span. A reset (a bucket whose min is below the
 *            previous last) counts the bucket's last value as the increase,
 *            as eval.h does.
 *   memory   (poolwatch_vm_balloon_available_bytes - _unused_bytes), bucket
 *            averages, / the span's memory (GB taken as GiB, as capacity.h
 *            does); a VM without guest balloon statistics:
 *            poolwatch_vm_balloon_rss_bytes / memory.
 *   network  the sum over devices of the receive and transmit counters'
 *            increases (as cpu), bytes/s.
 *   running  poolwatch_vm_state's last value in the bucket is 1.
 *
 * Then over the in-service buckets that have a value: avg (mean of the
 * buckets), p95 (linear interpolation between closest ranks, as
 * quantile_over_time), max (the highest bucket). availability = running
 * buckets / in-service buckets (a bucket without a state sample counts as
 * not running; NaN when the VM has no state series at all). disk_used = sum
 * of poolwatch_vm_disk_allocation_bytes / sum of _capacity_bytes over the
 * devices' last daily values in the spans. NaN wherever there is no data.
 *
 * Matching series to VMs is the tenant scope's rule (scope.h,
 * pw_scope_own_owns): the `vm` label (32 hex digits, dashes and case
 * ignored) is the inventory UUID; only a UUID the inventory does not know at
 * all may match by `vm_name`, and only a VM recorded without a UUID.
 */
#ifndef PW_USAGE_H
#define PW_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"
#include "store.h"

/* One span in service: [from, to) in ms, with its allocation. */
typedef struct pw_usage_span {
    int64_t from, to;
    double  vcpus;          /* 0: unknown (no cpu %) */
    double  memory_bytes;   /* 0: unknown (no memory %) */
} pw_usage_span;

/* One VM to measure; everything borrowed for the call. */
typedef struct pw_usage_vm {
    const char          *name;
    const char          *uuid;      /* "" when the inventory has none */
    const pw_usage_span *spans;     /* in time order, not overlapping */
    size_t               nspans;
} pw_usage_vm;

/* What a VM used; ratios 0..1 (may exceed 1), NaN = no data. */
typedef struct pw_usage {
    double   cpu_avg, cpu_p95, cpu_max;
    double   mem_avg, mem_p95;
    double   disk_used;
    double   net_avg, net_p95;      /* bytes/s */
    double   availability;
    size_t   buckets;               /* in-service buckets */
    size_t   buckets_cpu;           /* of them with a cpu figure */
    bool     matched;               /* some series of the VM was found */
} pw_usage;

/*
 * Fills out[i] for vms[i], i < n, reading rollups at res (PW_RES_5M,
 * PW_RES_1H or PW_RES_1D) in the read txn t. known_uuids (nknown, may be 0)
 * are the UUIDs of every other VM of the inventory: a series carrying one of
 * them is never matched by name. Bounded memory: one VM's buckets at a
 * time per thread. PW_EINVAL (bad res, a span over 400 days), PW_ENOMEM,
 * store errors (msg says which).
 *
 * Speed: only the bucket fields the figures need are decoded, and taken
 * a stored block at a time as column arrays (pw_store_rollups_runs, no
 * call per bucket), and from 128 VMs on the VMs are spread over the
 * cores (up to 4 threads, at least 64 VMs each), the first share on the
 * caller's thread in t, the others each in a read txn of its own begun with
 * pw_store_read_begin_beside(t) (so t must be a read txn for them; with a
 * write txn, or if such a txn cannot begin, everything is read in t). Those
 * snapshots may be newer than t's: for a period already over, the same
 * data. Every VM's figures depend only on its own buckets, so they are the
 * same however the VMs are split.
 */
pw_err pw_usage_collect(pw_store_txn *t, const pw_usage_vm *vms, size_t n,
                        const char *const *known_uuids, size_t nknown, pw_res res,
                        pw_usage *out, char *msg, size_t msglen);

/*
 * The q-quantile (0..1) of v[0..n) with linear interpolation between
 * closest ranks (Prometheus' quantile); reorders v. NaN for n == 0.
 */
double pw_usage_quantile(double *v, size_t n, double q);

#endif
