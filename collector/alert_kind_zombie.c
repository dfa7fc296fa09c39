/*
 * alert_kind_zombie.c - rule kind `zombie` (REQUIREMENTS R2, R4): VMs that
 * run but do nothing (state=running: CPU avg, network and disk I/O all near
 * zero), and VMs shut off all day that the inventory still has in service,
 * holding their allocation (state=shutoff); the value is the number of such
 * days among the last `days` (recommend.h).
 *
 *   - name: VMZombie
 *     kind: zombie
 *     days: 30
 *     cpu_avg: 2%              # running zombie day: CPU avg < this,
 *     network: 1MB             #   network < this many bytes,
 *     disk: 1MB                #   disk read + written < this many bytes,
 *     running: 50%             #   and running at least this share of the day
 *     threshold: 30            # days that fire the alert
 *     clear: 28
 *     every: 1h
 */
#include "alert_int.h"

#include <stddef.h>

static const pw_alert_days_key kz_keys[] = {
    { "days", PW_ADK_DAYS, offsetof(pw_rec_rules, zombie_days) },
    { "cpu_avg", PW_ADK_RATIO, offsetof(pw_rec_rules, zombie_cpu_avg) },
    { "network", PW_ADK_BYTES, offsetof(pw_rec_rules, zombie_net) },
    { "disk", PW_ADK_BYTES, offsetof(pw_rec_rules, zombie_disk) },
    { "running", PW_ADK_RATIO, offsetof(pw_rec_rules, zombie_running) },
    { "suspend_after_months", PW_ADK_DAYS, offsetof(pw_rec_rules, r3_months) },
    { NULL, PW_ADK_RATIO, 0 },
};

static pw_err
kz_option(pw_alert_rule *r, const char *key, struct fy_node *v, char *msg, size_t len)
{
    return pw_alert_days_option(r, key, v, kz_keys, msg, len);
}

static pw_err
kz_check(pw_alert_rule *r, char *msg, size_t len)
{
    return pw_alert_days_check(r, ((pw_alert_rec_kd *) r->kd)->rules.zombie_days, msg, len);
}

static pw_err
kz_eval(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_alert_emit_fn emit, void *ctx,
        char *msg, size_t len)
{
    return pw_alert_days_eval(r, src, t, PW_REC_FIND_ZOMBIE, emit, ctx, msg, len);
}

const pw_alert_kind_ops pw_alert_kind_zombie = {
    .name = "zombie",
    .keys = "days, cpu_avg, network, disk, running, suspend_after_months",
    .init = pw_alert_days_init,
    .option = kz_option,
    .check = kz_check,
    .eval = kz_eval,
    .fini = pw_alert_days_fini,
};
