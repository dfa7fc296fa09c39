/*
 * capacity.h - pool capacity: per pool and resource (cpu, memory, storage,
 * network) the physical capacity, what VMs were allocated and what is
 * used, as ratios, with a forecast of the days until 70 % and 100 %.
 * Formulas, fallbacks and the stored series: collector/README.md, "Pool
 * capacity". In short:
 *
 *   allocated_ratio = allocated / (capacity x overcommit)   (cpu, memory;
 *                     storage has no overcommit; network has no allocation)
 *   used_ratio      = used / capacity
 *
 * capacity is always the physical figure (cpu: logical CPUs, i.e. threads;
 * memory and storage: bytes; network: link bytes/s), or the pool's own
 * override; the overcommit ratio applies to the allocated ratio only.
 *
 * Two layers:
 *   - pw_cap_pool_compute: pure arithmetic from per-host figures, tested
 *     alone (capacity_test.c);
 *   - pw_cap_report_build (capacity_measure.c): reads the per-host figures
 *     from the store through the evaluator (eval.h), the allocations from
 *     the observed domains or the inventory, and the forecasts from the
 *     stored ratio series, for every pool defined at a time. The collector's
 *     job (capacity_job.c), `poolwatch pools` and /api/v1/pools all call it,
 *     so they show the same numbers.
 */
#ifndef PW_CAPACITY_H
#define PW_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "forecast.h"
#include "inventory.h"
#include "pw_err.h"
#include "store.h"

/* Thresholds forecast (ratios) and the kinds of ratio. */
#define PW_CAP_NTHRESH 2
extern const double pw_cap_thresholds[PW_CAP_NTHRESH];     /* 0.7, 1.0 */
typedef enum pw_cap_kind { PW_CAP_ALLOCATED, PW_CAP_USED, PW_CAP_KIND_COUNT_ } pw_cap_kind;
const char *pw_cap_kind_name(pw_cap_kind k);                /* "allocated", "used" */

/* Bytes per GB of the inventory's memory_gb and disk columns (GiB, as hypervisors count). */
#define PW_CAP_GB 1073741824.0

/*
 * What one host has and uses at some time; NaN where it was not measured.
 * Units: cpu in logical CPUs (capacity) and CPUs busy (used); memory and
 * storage in bytes; network in bytes/s (used: p95 over 24 h of the 5-minute
 * rate of received + sent bytes on the NICs counted in capacity).
 * domains: libvirt domains observed on the host (any state), and
 * dom_alloc their summed vCPUs, maximum memory bytes and disk capacity
 * bytes (network: NaN, VMs have no bandwidth allocation).
 */
typedef struct pw_cap_host {
    const char *host;                            /* borrowed */
    double      capacity[PW_POOL_RES_COUNT_];
    double      used[PW_POOL_RES_COUNT_];
    size_t      domains;
    double      dom_alloc[PW_POOL_RES_COUNT_];
} pw_cap_host;

/* Sets every figure of h to NaN, domains to 0, and h->host to name. */
void pw_cap_host_init(pw_cap_host *h, const char *name);

/* Where the allocated figures came from. */
typedef enum pw_cap_alloc_src {
    PW_CAP_ALLOC_NONE,        /* no domain observed, no VM of the pool in the inventory: 0 */
    PW_CAP_ALLOC_DOMAINS,     /* the domains observed on the pool's hosts */
    PW_CAP_ALLOC_INVENTORY,   /* the inventory's VMs of the pool in service */
} pw_cap_alloc_src;
const char *pw_cap_alloc_src_name(pw_cap_alloc_src s);     /* "none", "domains", "inventory" */

/* The inventory's VMs of one pool in service at t, summed (pw_cap_report_build fills it). */
typedef struct pw_cap_inv_alloc {
    size_t vms;
    double alloc[PW_POOL_RES_COUNT_];   /* vCPUs, memory bytes, disk bytes, NaN */
} pw_cap_inv_alloc;

/* One resource of one pool. NaN: unknown or not applicable. */
typedef struct pw_cap_figures {
    double      capacity;          /* physical (or the override) */
    bool        capacity_override; /* from the pool definition, not measured */
    double      overcommit;        /* 1 for storage and network */
    double      allocated;         /* NaN for network */
    double      allocated_ratio;
    double      used;
    double      used_ratio;
    pw_forecast forecast[PW_CAP_KIND_COUNT_][PW_CAP_NTHRESH];   /* days to 0.7, 1.0 */
} pw_cap_figures;

/* One pool. Owns name (pw_cap_report_free). */
typedef struct pw_cap_pool {
    char            *name;
    size_t           hosts;          /* hosts in the definition */
    size_t           hosts_measured; /* of them, hosts with any capacity figure */
    pw_cap_alloc_src alloc_src;
    size_t           vms;            /* domains observed or inventory VMs counted */
    pw_cap_figures   res[PW_POOL_RES_COUNT_];
} pw_cap_pool;

/*
 * The figures of pool p from its hosts' figures: hosts[0..nhosts) sorted by
 * host name (strcmp), each pool host looked up there (a host without an
 * entry counts as unmeasured), inv its inventory allocation. Rules:
 *   capacity  = p->capacity[r] when > 0, else the sum over measured hosts
 *               (NaN if no host has the figure);
 *   used      = the sum over hosts with the figure (NaN if none);
 *   allocated = the domains' sums when any pool host has a domain, else
 *               inv's sums when inv->vms > 0, else 0; network: NaN;
 *   ratios    = as at the top of this file; NaN when a side is NaN or the
 *               denominator is not > 0.
 * Forecasts are left without a value (has = false). out->name is set to
 * NULL; the caller names it.
 */
void pw_cap_pool_compute(const pw_pool_def *p, const pw_cap_host *hosts, size_t nhosts,
                         const pw_cap_inv_alloc *inv, pw_cap_pool *out);

/* Every pool at one time. */
typedef struct pw_cap_report {
    int64_t      at;      /* ms */
    pw_cap_pool *pools;   /* by name */
    size_t       npools;
} pw_cap_report;

/*
 * Computes every pool defined in inv at `at` (ms) from the store (read txn
 * t, borrowed), with forecasts when `forecasts` is true: the daily maxima of
 * the stored poolwatch_pool_{allocated,used}_ratio series over the 30 days
 * up to `at` (pw_forecast_days). now is the present (for the evaluator's
 * choice of resolution). *out is owned by the caller (pw_cap_report_free)
 * also on failure. PW_ENOMEM, PW_ETOOBIG (an evaluator limit), or a store
 * or inventory error, with a sentence in msg.
 */
pw_err pw_cap_report_build(pw_store_txn *t, pw_inventory *inv, int64_t at, int64_t now, bool forecasts,
                           pw_cap_report *out, char *msg, size_t msglen);

void pw_cap_report_free(pw_cap_report *r);   /* frees what it holds; r itself is the caller's */

/*
 * The report as JSON (capacity_json.c), the shape of `poolwatch pools
 * --format json` and of /api/v1/pools' data; NaN figures and missing
 * forecasts are null:
 *   {"time":"2026-11-01T00:00:00Z","time_ms":N,"pools":[{"pool":"p","hosts":2,
 *    "hosts_measured":2,"allocation_source":"domains","vms":12,"resources":[
 *    {"resource":"cpu","capacity":96,"capacity_override":false,"overcommit":2,
 *     "allocated":144,"allocated_ratio":0.75,"used":24,"used_ratio":0.25,
 *     "days_to_threshold":{"allocated":{"0.7":0,"1":null},"used":{"0.7":null,"1":null}}},
 *    ...]}]}
 * New reference owned by the caller; NULL on ENOMEM or a name that is not UTF-8.
 */
json_t *pw_cap_report_json(const pw_cap_report *r);

/* Metric names of the stored series (a contract: alerts and dashboards read them). */
#define PW_CAP_M_CAPACITY        "poolwatch_pool_capacity"
#define PW_CAP_M_ALLOCATED       "poolwatch_pool_allocated"
#define PW_CAP_M_USED            "poolwatch_pool_used"
#define PW_CAP_M_ALLOCATED_RATIO "poolwatch_pool_allocated_ratio"
#define PW_CAP_M_USED_RATIO      "poolwatch_pool_used_ratio"
#define PW_CAP_M_DAYS            "poolwatch_pool_days_to_threshold"

#endif
