/*
 * report.h - the utilization reports (REQUIREMENTS R5-R8, R13): periods,
 * the model of one report (its four parts), how it is built from the
 * inventory's history and the stored series, and the output formats.
 *
 * Days. A report's period is a range of calendar days [day0, day1) in the
 * report time zone (pw_report_tz, default Asia/Shanghai: the users' day);
 * its stored-data window is [from_ms, to_ms), the zone's midnights. The
 * inventory's dates (delivered, terminated, --effective) are calendar dates
 * (inventory.h: whole days, stored as UTC midnights) and are compared as
 * dates: day d is in service when delivered <= d < terminated, and belongs
 * to the VM version in effect at d's date (valid_from <= d 00:00 in the
 * inventory's encoding < valid_to; a change recorded during a day counts
 * from the next day). So "delivered on the 10th of a 30-day month" is 21
 * days, 21/30 of the month, whatever the zone.
 *
 * Regenerating a past period gives the same numbers: everything comes from
 * the inventory's versions and the stored series as of that period, never
 * from today's state (the only "now" is the evaluator's retention table,
 * which picks rollups that still hold the period).
 *
 * Ownership: every struct below owns its strings and arrays;
 * pw_report_free releases a whole report. Nothing is shared between
 * threads; builds are independent.
 */
#ifndef PW_REPORT_H
#define PW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pw_err.h"
#include "store.h"
#include "usage.h"

struct pw_inventory;
struct pw_alert_db;

/* ---- time zone (report_period.c) ------------------------------------- */

/*
 * The report time zone as an immutable table of the UTC offsets of local
 * midnights, 1970 to 2199. Loaded once (pw_report_tz_load), then read by any
 * thread: no TZ environment calls after loading.
 */
typedef struct pw_report_tz pw_report_tz;

#define PW_REPORT_TZ_DEFAULT "Asia/Shanghai"

/*
 * "UTC" (also "Etc/UTC", "Z", "") needs nothing. Any other name must be a
 * zone of the system's database (/usr/share/zoneinfo/NAME; glibc would
 * silently take an unknown name as UTC): its midnights are computed with
 * mktime under TZ=NAME, and TZ is put back. That touches the process's
 * environment, so call it only while the process has a single thread (at
 * start; the collector and CLI do). *out owned by the caller
 * (pw_report_tz_free). PW_EINVAL with msg for an unknown zone.
 */
pw_err pw_report_tz_load(const char *name, pw_report_tz **out, char *msg, size_t msglen);
void   pw_report_tz_free(pw_report_tz *tz);
const char *pw_report_tz_name(const pw_report_tz *tz);
/* The UTC ms of local midnight starting civil day d (days since 1970-01-01). */
int64_t pw_report_tz_midnight(const pw_report_tz *tz, int64_t day);
/* The civil day (days since 1970-01-01) holding ms in the zone. */
int64_t pw_report_tz_day(const pw_report_tz *tz, int64_t ms);

/* Days since 1970-01-01 of a civil date, and back. */
int64_t pw_report_days_from_civil(int y, int m, int d);
void    pw_report_civil_from_days(int64_t days, int *y, int *m, int *d);

/* ---- periods ----------------------------------------------------------- */

typedef enum pw_report_kind {
    PW_REPORT_MONTHLY, PW_REPORT_QUARTERLY, PW_REPORT_ANNUAL, PW_REPORT_SERVICE_YEAR, PW_REPORT_KIND_COUNT_
} pw_report_kind;

/* "monthly", "quarterly", "annual", "service-year"; parse: PW_REPORT_KIND_COUNT_ for unknown. */
const char    *pw_report_kind_name(pw_report_kind k);
pw_report_kind pw_report_kind_parse(const char *s);

typedef struct pw_report_period {
    pw_report_kind kind;
    int64_t        day0, day1;      /* civil days [day0, day1) */
    int64_t        from_ms, to_ms;  /* the zone's midnights of day0 and day1 */
    char           label[24];       /* "2026-10", "2026-Q4", "SY2026-Q2", "2026", "SY2026" */
} pw_report_period;

/*
 * Parses the period of a kind:
 *   monthly       "2026-10"
 *   quarterly     "2026-Q4" (Oct-Dec), or a service-year quarter "SY2026-Q2"
 *                 (service year 2026: Q1 Sep-Nov 2026, Q2 Dec 2026-Feb 2027,
 *                 Q3 Mar-May, Q4 Jun-Aug 2027): the quarter that spans a year end
 *   annual        "2026" (Jan 1 - Dec 31)
 *   service-year  "2026" = 2026-09-01 ... 2027-08-31 (R8: the service and
 *                 settlement cycle), labelled "SY2026"
 * Years 2000..2199. PW_EINVAL with msg otherwise.
 */
pw_err pw_report_period_parse(pw_report_kind k, const char *s, const pw_report_tz *tz,
                              pw_report_period *out, char *msg, size_t msglen);

/* The month before the one holding ms in the zone (the automatic archive's). */
void pw_report_period_prev_month(const pw_report_tz *tz, int64_t ms, pw_report_period *out);

/* ---- the model --------------------------------------------------------- */

/* What the report advises for a VM (optimization suggestions, report_advice.h). */
typedef enum pw_report_rule {
    PW_RULE_NONE, PW_RULE_OVERSIZED, PW_RULE_UNDERSIZED, PW_RULE_IDLE, PW_RULE_ZOMBIE,
    PW_RULE_SUSPEND,        /* a unit, not a VM: R3, suspend its further requests (recommend.h) */
    PW_RULE_COUNT_
} pw_report_rule;
/* "", "oversized", "undersized", "idle", "zombie", "suspend_requests" */
const char *pw_report_rule_name(pw_report_rule r);

/* One row of the resource utilization table (资源利用情况表): a VM. */
typedef struct pw_report_vm {
    char  *tenant, *system, *subsystem, *name, *uuid, *zone, *server_type, *pool;
    /* allocation on the VM's last day in service in the period */
    double vcpus, memory_gb, sys_disk_gb, data_disk_gb;
    double days;               /* days in service in the period */
    double share;              /* days / days of the period */
    double vcpu_days, memory_gb_days, disk_gb_days;    /* sums over its versions' days */
    bool   resized;            /* more than one allocation in the period */
    pw_usage use;
    pw_report_rule rule;
} pw_report_vm;

/* One optimization suggestion (优化建议): a VM's, or a unit's (PW_RULE_SUSPEND: system, vm ""). */
typedef struct pw_report_advice {
    char          *tenant, *system, *vm;
    char          *months;         /* PW_RULE_SUSPEND: the earlier months warned, "2026-08, 2026-09" */
    pw_report_rule rule;
    double         cpu_p95, mem_p95, cpu_avg, net_mb_per_day;   /* the evidence */
    double         vcpus, memory_gb;                             /* allocated */
} pw_report_advice;

/* A using unit in the efficiency bulletin. */
typedef struct pw_report_unit {
    char  *tenant;
    size_t vms, vms_measured, suggestions;
    double vcpu_days, memory_gb_days;
    double cpu_p95_w, mem_p95_w;   /* resource-day-weighted p95 of the measured VMs */
    double score;                  /* (cpu_p95_w + mem_p95_w) / 2, or the one known; NaN: none */
    size_t rank;                   /* 1 = most efficient; 0 = no score */
    bool   flagged;                /* R3: suspend further requests (recommend.h, pw_rec_build's
                                      tenants[].suspend_requests as of the period's end) */
} pw_report_unit;

/* Pool capacity at the start and end of the period (operations report). */
typedef struct pw_report_pool {
    char  *pool, *resource;
    double allocated_start, allocated_end, used_start, used_end;   /* ratios */
    double days_to_70_allocated, days_to_70_used;                   /* NaN: no forecast */
} pw_report_pool;

typedef struct pw_report_alerts {
    char  *rule;
    size_t raised, resolved;
} pw_report_alerts;

typedef struct pw_report_host {
    char  *host;
    double availability;     /* hours with data / hours of the period */
} pw_report_host;

typedef enum pw_report_change_kind { PW_CHANGE_DELIVERED, PW_CHANGE_RESIZED, PW_CHANGE_TERMINATED } pw_report_change_kind;

typedef struct pw_report_change {
    int64_t               day;     /* civil day */
    pw_report_change_kind kind;
    char                 *tenant, *vm;
    double                vcpus_before, memory_gb_before, vcpus, memory_gb;
} pw_report_change;

typedef struct pw_report {
    pw_report_period period;
    char            *tz;             /* the zone's name */
    char            *tenant;         /* NULL: the whole cloud */
    int64_t          generated_ms;
    pw_res           res;            /* rollups the usage came from */
    int64_t          period_days;

    pw_report_vm     *vms;      size_t nvms;       /* by tenant, system, subsystem, name */
    pw_report_advice *advice;   size_t nadvice;
    pw_report_unit   *units;    size_t nunits;     /* by rank, unscored last */
    pw_report_pool   *pools;    size_t npools;     /* whole-cloud reports only */
    pw_report_alerts *alerts;   size_t nalerts;
    pw_report_host   *hosts;    size_t nhosts;     /* whole-cloud reports only */
    pw_report_change *changes;  size_t nchanges;   /* by day, VM */
    bool              alerts_known;               /* alerts.mdb could be read */
} pw_report;

typedef struct pw_report_opts {
    pw_report_period           period;
    const pw_report_tz        *tz;          /* borrowed */
    const char                *tenant;      /* NULL: whole cloud */
    int64_t                    now;         /* ms: retention choices, generated_ms */
    pw_store_txn              *txn;         /* borrowed read txn */
    struct pw_inventory       *inv;         /* borrowed */
    struct pw_alert_db        *alerts;      /* borrowed; NULL: no alert figures */
    const char                *archive_dir; /* DIR/reports for R3 flags; NULL: none */
} pw_report_opts;

/* Builds the report (report_build.c). On error *r is empty and msg says why. */
pw_err pw_report_build(const pw_report_opts *o, pw_report *r, char *msg, size_t msglen);
void   pw_report_free(pw_report *r);          /* r itself is the caller's */

/* ---- formats (report_fmt_*.c): one ops table each ----------------------- */

typedef enum pw_report_lang { PW_REPORT_ZH, PW_REPORT_EN } pw_report_lang;

typedef struct pw_report_fmt_ops {
    const char *name;           /* "xlsx", "csv", "html", "json" */
    const char *content_type;
    const char *ext;            /* file extension, no dot */
    /* Writes r to f (binary). PW_EIO when writing failed, msg says why. */
    pw_err    (*write)(const pw_report *r, pw_report_lang lang, FILE *f, char *msg, size_t msglen);
} pw_report_fmt_ops;

extern const pw_report_fmt_ops pw_report_fmt_json, pw_report_fmt_csv, pw_report_fmt_xlsx, pw_report_fmt_html;

/* The format called name, or NULL. */
const pw_report_fmt_ops *pw_report_fmt_find(const char *name);

/* "zh" (default, also "zh-CN"), "en"; PW_EINVAL otherwise. */
pw_err pw_report_lang_parse(const char *s, pw_report_lang *out);

/*
 * A file name for r in format f: "poolwatch-monthly-2026-10[-UNIT].xlsx",
 * UNIT the unit's slug (pw_report_slug). Different units always get
 * different names, and no unit's name is the whole cloud's.
 */
void pw_report_filename(const pw_report *r, const pw_report_fmt_ops *f, char *buf, size_t len);

/*
 * A unit's name made safe for a file name and an HTTP header's quoted
 * string, and one-to-one: its bytes (UTF-8 kept readable), with '%', '~',
 * '/', '\\', '"', DEL and control bytes as "%XX"; past 120 bytes cut at a
 * character and ended with "~" + 16 hex digits of the name's SHA-256. At
 * most 140 bytes + NUL fit in any buf of len >= 141.
 */
void pw_report_slug(const char *tenant, char *buf, size_t len);

#endif
