/*
 * report_advice.c - the suggestions rule derived from the report's own
 * usage figures (report_advice.h).
 */
#include "report_advice.h"

#include <math.h>

static const char *const ra_names[PW_RULE_COUNT_] = { "", "oversized", "undersized", "idle", "zombie",
                                                       "suspend_requests" };

const char *
pw_report_rule_name(pw_report_rule r)
{
    return (unsigned) r < PW_RULE_COUNT_ ? ra_names[r] : "";
}

static bool
ra_below(double v, double t)
{
    return !isnan(v) && v < t;
}

static bool
ra_above(double v, double t)
{
    return !isnan(v) && v > t;
}

static pw_report_rule
ra_rule(void *ctx, const pw_report_vm *vm, int64_t period_days)
{
    const pw_usage *u = &vm->use;
    double          net_day = isnan(u->net_avg) ? 0 : u->net_avg * 86400.0;

    (void) ctx;
    (void) period_days;
    if (isnan(u->cpu_p95))
        return PW_RULE_NONE;
    if (ra_above(u->availability, PW_ADVICE_RUNNING - 1e-12) && u->cpu_avg < PW_ADVICE_ZOMBIE_CPU
        && net_day < PW_ADVICE_ZOMBIE_NET)
        return PW_RULE_ZOMBIE;
    if (u->cpu_p95 < PW_ADVICE_IDLE_CPU && net_day < PW_ADVICE_IDLE_NET)
        return PW_RULE_IDLE;
    if (ra_above(u->cpu_p95, PW_ADVICE_UNDERSIZED) || ra_above(u->mem_p95, PW_ADVICE_UNDERSIZED))
        return PW_RULE_UNDERSIZED;
    if (ra_below(u->cpu_p95, PW_ADVICE_OVERSIZED) || ra_below(u->mem_p95, PW_ADVICE_OVERSIZED))
        return PW_RULE_OVERSIZED;
    return PW_RULE_NONE;
}

const pw_report_advisor_ops pw_report_advisor_usage = { "usage", ra_rule };
