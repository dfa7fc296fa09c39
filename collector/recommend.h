/*
 * recommend.h - sustained underuse, zombies, oversized and undersized VMs
 * (REQUIREMENTS R2, R3, R4, R10): the daily figures they are judged on, the
 * judgement itself, the sizing arithmetic, and the recommendations built from
 * them (GET /api/v1/recommendations, `poolwatch recommendations`). The alert
 * rule kinds underuse, zombie, oversized and undersized (alert_kind_*.c) and
 * the recommendations call the same functions here, so a VM the alerts
 * warn about is the VM the recommendations list, with the same numbers.
 *
 * Days. Every rule counts days: the last `days` complete UTC days before the
 * time of evaluation ("at"), day d = [d * 86400 s, (d + 1) * 86400 s). For
 * each VM in service on a day, the day's figures come from usage.h
 * (pw_usage_collect over that day, 5-minute rollups: p95 = the 95th
 * percentile of the day's 5-minute averages, as quantile_over_time over 1d
 * windows would give), plus the disk I/O of the day (the increase of
 * poolwatch_vm_disk_{read,written}_bytes_total, summed over devices, from
 * the daily rollups; here, as usage.h has no disk I/O). A day without data
 * never counts for a rule (no data is not evidence of idleness).
 *
 * The rules (defaults; each configurable in the alert rule of its kind, see
 * collector/README.md "Alerts"):
 *
 *   idle (underuse)  CPU p95 < 10 % and network < 5 MB/day, on at least
 *                    12 of the last 14 days. Per system: a day counts when
 *                    every VM of the system with data that day is idle.
 *   zombie           running (>= 50 % of the day's buckets), CPU avg < 2 %,
 *                    network < 1 MB/day and disk I/O < 1 MB/day, on 30 of
 *                    the last 30 days; or ("shut off") not running at all
 *                    on 30 of 30 days while the inventory still has it in
 *                    service (it holds its allocation).
 *   oversized        CPU p95 < 40 % (or memory p95 < 40 %) on 30 of 30 days,
 *                    and a smaller flavour in use fits: downsize.
 *   undersized       CPU p95 > 85 % (or memory p95 > 85 %) on 5 of the last
 *                    7 days: expand.
 *
 * Sizing. need = peak daily p95 x allocation x headroom (1.3), for vCPUs
 * and memory (GB); the peak is the highest daily p95 of the window, so the
 * target also fits the busiest day. The flavours in use are the distinct
 * (vCPUs, memory GB) of the VMs in service at "at" (the whole inventory,
 * whoever asks). Target = the smallest flavour (fewest vCPUs, then least
 * memory) with vcpus >= need_vcpus and memory >= need_memory that is, for a
 * downsize, no larger than the current size in either and smaller in one,
 * for an expansion, no smaller in either and larger in one; an expansion
 * with no such flavour proposes the need rounded up to whole vCPUs and GB
 * (in_use false).
 *
 * Threads: nothing is shared; every call works on what it is given.
 * Ownership: what a function returns through an out pointer is the
 * caller's, freed with the matching _free; everything passed in is
 * borrowed for the call.
 */
#ifndef PW_RECOMMEND_H
#define PW_RECOMMEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "alert.h"
#include "inventory.h"
#include "pw_err.h"
#include "store.h"

#define PW_REC_DAY_MS   INT64_C(86400000)
#define PW_REC_MAX_DAYS 90            /* longest window a rule may ask for */

/* ---- thresholds ----------------------------------------------------------- */

/* Every threshold of the four rules: ratios 0..1, bytes per day, days. */
typedef struct pw_rec_rules {
    double idle_cpu_p95;       /* 0.10 */
    double idle_net;           /* 5e6 bytes/day */
    int    idle_days;          /* 14 */
    int    idle_min_days;      /* 12 */
    double zombie_cpu_avg;     /* 0.02 */
    double zombie_net;         /* 1e6 bytes/day */
    double zombie_disk;        /* 1e6 bytes/day ("near zero") */
    double zombie_running;     /* 0.5: share of the day's buckets running to be "running" */
    int    zombie_days;        /* 30 */
    int    zombie_min_days;    /* 30 */
    double over_p95;           /* 0.40 */
    int    over_days;          /* 30 */
    int    over_min_days;      /* 30 */
    double under_p95;          /* 0.85 */
    int    under_days;         /* 7 */
    int    under_min_days;     /* 5 */
    double headroom;           /* 1.3 */
    int    r3_months;          /* 2: earlier months warned before "suspend further requests" */
} pw_rec_rules;

/* The defaults above. */
void pw_rec_rules_default(pw_rec_rules *r);

/*
 * The defaults with the first enabled rule of each kind of cfg on top (its
 * thresholds and its `threshold:` = the minimum days), so the
 * recommendations judge as the alerts do. cfg NULL: the defaults.
 */
void pw_rec_rules_from_config(const pw_alert_config *cfg, pw_rec_rules *r);

/* ---- daily figures --------------------------------------------------------- */

/* One VM on one day; NaN where there was no data. */
typedef struct pw_rec_day {
    double cpu_avg, cpu_p95;   /* of the day's allocation */
    double mem_p95;
    double net;                /* bytes that day (receive + transmit) */
    double disk;               /* bytes read + written that day */
    double running;            /* share of the day's buckets with the VM running (usage.h) */
    double off;                /* 1: state samples that day, none running; 0: some running */
    double vcpus, memory_gb;   /* allocation that day; 0: not in service */
} pw_rec_day;

/* One VM of the inventory with its days (ndays of the window, oldest first). */
typedef struct pw_rec_vm {
    char       *name, *uuid, *tenant, *system, *subsystem;   /* owned */
    double      vcpus, memory_gb;      /* allocation at "at" (the window's end) */
    pw_rec_day *days;                  /* owned, ndays */
} pw_rec_vm;

/* A flavour in use: a distinct (vCPUs, memory GB). */
typedef struct pw_rec_flavour { double vcpus, memory_gb; } pw_rec_flavour;

/* The figures of every VM in service at the end of a window of ndays days. */
typedef struct pw_rec_window {
    int64_t         day0;          /* first day (days since 1970-01-01, UTC) */
    size_t          ndays;
    int64_t         from_ms, to_ms;/* [day0 midnight, day0 + ndays midnight) */
    pw_rec_vm      *vms;           /* nvms, by name */
    size_t          nvms;
    pw_rec_flavour *flavours;      /* nflavours, smallest first */
    size_t          nflavours;
} pw_rec_window;

/*
 * A cache of complete days' figures (a day is final 2 h after its end), so
 * a rule evaluated every hour computes each day once. Keyed by VM name,
 * UUID and the day's allocation, so an inventory change recomputes. Used by
 * one thread at a time; owned by whoever made it (the alert engine).
 */
typedef struct pw_rec_cache pw_rec_cache;
pw_err pw_rec_cache_new(pw_rec_cache **out);
void   pw_rec_cache_free(pw_rec_cache *c);          /* NULL ok */

/*
 * The last ndays (1..PW_REC_MAX_DAYS) complete days before at: every VM in
 * service at `at - 1 ms` (tenant non-NULL: only its VMs), with the figures
 * of each day it was in service. cache may be NULL. *out owned by the
 * caller (pw_rec_window_free). Store errors, PW_EINVAL (ndays), PW_ENOMEM;
 * msg says which.
 */
pw_err pw_rec_window_collect(pw_store_txn *t, pw_inventory *inv, int64_t at, size_t ndays,
                             const char *tenant, pw_rec_cache *cache, pw_rec_window **out,
                             char *msg, size_t msglen);
void   pw_rec_window_free(pw_rec_window *w);        /* NULL ok */

/* ---- judgement (pure functions; recommend_test.c) ------------------------- */

typedef enum pw_rec_finding {
    PW_REC_FIND_NONE, PW_REC_FIND_IDLE, PW_REC_FIND_ZOMBIE, PW_REC_FIND_SHUTOFF,
    PW_REC_FIND_OVERSIZED, PW_REC_FIND_UNDERSIZED, PW_REC_FIND_COUNT_
} pw_rec_finding;
/* "", "idle", "zombie", "shutoff", "oversized", "undersized" */
const char *pw_rec_finding_name(pw_rec_finding f);

typedef enum pw_rec_action { PW_REC_NONE, PW_REC_RECLAIM, PW_REC_DOWNSIZE, PW_REC_EXPAND } pw_rec_action;
/* "", "reclaim", "downsize", "expand" */
const char *pw_rec_action_name(pw_rec_action a);

/* What one rule found for a VM, with its evidence. */
typedef struct pw_rec_verdict {
    pw_rec_finding finding;          /* NONE: the rule does not hold */
    pw_rec_action  action;
    int            days;             /* days the condition held ... */
    int            of_days;          /* ... of this many (the rule's window) */
    int            min_days;         /* needed */
    int64_t        from_ms, to_ms;   /* the rule's window */
    /* over the days with data in the rule's window: */
    double         cpu_p95, mem_p95; /* highest daily p95 (the peak the sizing uses) */
    double         cpu_avg;          /* mean of the daily averages */
    double         net_per_day, disk_per_day;   /* mean bytes/day */
    double         vcpus, memory_gb; /* allocation now */
    double         target_vcpus, target_memory_gb;   /* downsize/expand; 0 otherwise */
    bool           target_in_use;    /* the target is a flavour in use */
} pw_rec_verdict;

/*
 * Counts the days among the last `days` of d[0..n) (fewer if n < days) for
 * which keep(ctx, day) holds; days without data are the predicate's to
 * refuse. The "12 of the last 14 days" rule is pw_rec_count_days(...) >= 12.
 */
typedef bool (*pw_rec_day_pred)(const pw_rec_rules *r, const pw_rec_day *d);
int pw_rec_count_days(const pw_rec_rules *r, const pw_rec_day *d, size_t n, int days,
                      pw_rec_day_pred keep);

/* The day predicates of the rules. */
bool pw_rec_day_idle(const pw_rec_rules *r, const pw_rec_day *d);
bool pw_rec_day_zombie(const pw_rec_rules *r, const pw_rec_day *d);
bool pw_rec_day_shutoff(const pw_rec_rules *r, const pw_rec_day *d);
bool pw_rec_day_oversized(const pw_rec_rules *r, const pw_rec_day *d);
bool pw_rec_day_undersized(const pw_rec_rules *r, const pw_rec_day *d);

/*
 * The target flavour (sizing arithmetic above): expand true for an
 * expansion. need_* = peak p95 x allocation x headroom, computed by the
 * caller. Returns false when there is no proposal (a downsize with no
 * smaller flavour that fits); *out then is the current size.
 */
bool pw_rec_fit(const pw_rec_flavour *fl, size_t n, double cur_vcpus, double cur_memory_gb,
                double need_vcpus, double need_memory_gb, bool expand, pw_rec_flavour *out,
                bool *in_use);

/*
 * Judges one VM of w by one rule: finding IDLE, ZOMBIE (also SHUTOFF), or
 * OVERSIZED or UNDERSIZED (those two also compute the target; a VM that
 * meets the days but has no smaller flavour to go to is not oversized).
 * v->finding is NONE when the rule does not hold (the evidence is filled
 * anyway, with days < min_days).
 */
void pw_rec_judge(const pw_rec_rules *r, const pw_rec_window *w, const pw_rec_vm *vm,
                  pw_rec_finding rule, pw_rec_verdict *v);
/* Per system (idle only): the days on which every VM of the system with data was idle. */
void pw_rec_judge_system(const pw_rec_rules *r, const pw_rec_window *w, const pw_rec_vm *const *vms,
                         size_t nvms, pw_rec_verdict *v);

/* ---- recommendations -------------------------------------------------------- */

typedef struct pw_rec_opts {
    pw_store_txn          *txn;      /* borrowed read txn */
    pw_inventory          *inv;      /* borrowed */
    pw_alert_db           *alerts;   /* borrowed; NULL: no warning history, no R3 */
    const pw_alert_config *cfg;      /* borrowed; NULL: the built-in rules */
    int64_t                at;       /* ms: the recommendations as of then */
    const char            *tenant;   /* NULL: all */
    const char            *system;   /* NULL: all */
    pw_rec_cache          *cache;    /* borrowed, may be NULL */
} pw_rec_opts;

/*
 * The recommendations as JSON (*out, a new reference):
 *
 *   {"at":ms, "rules":{thresholds},
 *    "systems":[{"tenant","system","action":"reclaim|downsize|expand|mixed",
 *                "idle":{verdict} (the system as a whole, when it holds),
 *                "vms":[{"vm","subsystem","uuid","finding","action","days","of_days",
 *                        "from","to","cpu_p95","cpu_avg","mem_p95","net_mb_per_day",
 *                        "disk_mb_per_day","vcpus","memory_gb",
 *                        "target":{"vcpus","memory_gb","in_use"} (downsize/expand)}],
 *                "warnings":[{"rule","kind","vm","fired_at","resolved_at","months":[..]}]}],
 *    "tenants":[{"tenant","systems":N,"suspend_requests":bool,
 *                "warned_months":["2026-08",...],"still_low":bool}]}
 *
 * A VM gets the first finding that holds, in the order zombie, shutoff,
 * idle, undersized, oversized (reclaim before resizing). Systems with no
 * finding are left out. warnings: the earlier firings of underuse, zombie,
 * oversized and undersized rules (by the rule's kind in cfg) for the
 * system's VMs, from alerts.mdb's history (the last 400 days before at).
 * R3: a tenant is flagged suspend_requests when an underuse or zombie rule
 * fired for it in at least r3_months calendar months (UTC) before the month
 * of at, and some system of it is idle, zombie or shut off now.
 * Errors: the store's, alerts.mdb's, PW_ENOMEM; msg says which.
 */
pw_err pw_rec_build(const pw_rec_opts *o, json_t **out, char *msg, size_t msglen);

/*
 * For the reports (report_advice.h): the finding for one VM judged on
 * period-wide figures (a pw_usage over the report's period, no day
 * counting): zombie, idle, undersized, oversized in that order, with r's
 * thresholds; NONE without a CPU figure. Lets an advisor built on these
 * thresholds stay in step with the alert rules.
 */
pw_rec_finding pw_rec_judge_period(const pw_rec_rules *r, double cpu_avg, double cpu_p95,
                                   double mem_p95, double net_bytes_per_day, double availability);

#endif
