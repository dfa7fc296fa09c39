/*
 * alert_kind_underuse.c - rule kind `underuse` (REQUIREMENTS R2, R10):
 * sustained underuse of a VM or, with per: system, of a whole system; the
 * value is the number of idle days among the last `days` (recommend.h).
 *
 *   - name: VMUnderused
 *     kind: underuse
 *     per: vm                  # or system: every VM of it with data idle that day
 *     days: 14                 # the window
 *     cpu_p95: 10%             # a day is idle when CPU p95 < this ...
 *     network: 5MB             # ... and network < this many bytes that day
 *     threshold: 12            # idle days that fire the alert
 *     clear: 10
 *     every: 1h
 *     suspend_after_months: 2  # R3 (recommendations): earlier months warned
 */
#include "alert_int.h"

#include <stddef.h>

static const pw_alert_days_key ku_keys[] = {
    { "days", PW_ADK_DAYS, offsetof(pw_rec_rules, idle_days) },
    { "cpu_p95", PW_ADK_RATIO, offsetof(pw_rec_rules, idle_cpu_p95) },
    { "network", PW_ADK_BYTES, offsetof(pw_rec_rules, idle_net) },
    { "suspend_after_months", PW_ADK_DAYS, offsetof(pw_rec_rules, r3_months) },
    { "per", PW_ADK_PER, 0 },
    { NULL, PW_ADK_RATIO, 0 },
};

static pw_err
ku_option(pw_alert_rule *r, const char *key, struct fy_node *v, char *msg, size_t len)
{
    return pw_alert_days_option(r, key, v, ku_keys, msg, len);
}

static pw_err
ku_check(pw_alert_rule *r, char *msg, size_t len)
{
    return pw_alert_days_check(r, ((pw_alert_rec_kd *) r->kd)->rules.idle_days, msg, len);
}

static pw_err
ku_eval(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_alert_emit_fn emit, void *ctx,
        char *msg, size_t len)
{
    return pw_alert_days_eval(r, src, t, PW_REC_FIND_IDLE, emit, ctx, msg, len);
}

const pw_alert_kind_ops pw_alert_kind_underuse = {
    .name = "underuse",
    .keys = "per, days, cpu_p95, network, suspend_after_months",
    .init = pw_alert_days_init,
    .option = ku_option,
    .check = ku_check,
    .eval = ku_eval,
    .fini = pw_alert_days_fini,
};
