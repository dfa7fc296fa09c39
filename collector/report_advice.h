/*
 * report_advice.h - where the reports' optimization suggestions (优化建议)
 * come from: one ops table. The report asks it for each VM's rule after
 * the usage figures are known; the suggestions part, the recommendation
 * column and the efficiency bulletin's counts all follow from its answers.
 *
 * The one implementation today, pw_report_advisor_usage
 * (report_advice.c), derives the rule from the report's own usage figures
 * with the sizing defaults of the recommendations work (REQUIREMENTS R2),
 * checked in this order, the first that holds wins:
 *
 *   zombie      running (availability >= 50 %), CPU avg < 2 % and network
 *               < 1 MB/day (avg throughput x 86400 s)          -> reclaim (回收)
 *   idle        CPU p95 < 10 % and network < 5 MB/day           -> reclaim (回收)
 *   undersized  CPU p95 > 85 % or memory p95 > 85 %             -> expand (扩容)
 *   oversized   CPU p95 < 40 % or memory p95 < 40 %             -> downsize (降配)
 *
 * A VM without a CPU figure gets no rule. When the alert engine's
 * recommendations exist, an ops table reading them replaces this one in
 * report_build.c (the only caller) and nothing else changes.
 */
#ifndef PW_REPORT_ADVICE_H
#define PW_REPORT_ADVICE_H

#include "report.h"

typedef struct pw_report_advisor_ops {
    const char *name;
    /* The rule for vm in a report of period_days days; never fails. */
    pw_report_rule (*rule)(void *ctx, const pw_report_vm *vm, int64_t period_days);
} pw_report_advisor_ops;

extern const pw_report_advisor_ops pw_report_advisor_usage;

/* The thresholds above (ratios, bytes per day), for tests and the docs. */
#define PW_ADVICE_OVERSIZED   0.40
#define PW_ADVICE_UNDERSIZED  0.85
#define PW_ADVICE_IDLE_CPU    0.10
#define PW_ADVICE_IDLE_NET    5e6
#define PW_ADVICE_ZOMBIE_CPU  0.02
#define PW_ADVICE_ZOMBIE_NET  1e6
#define PW_ADVICE_RUNNING     0.50

#endif
