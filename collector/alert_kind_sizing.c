/*
 * alert_kind_sizing.c - rule kinds `oversized` and `undersized`
 * (REQUIREMENTS R2, R10): a VM whose daily CPU or memory p95 stays below
 * (above) `p95` of its allocation; the value is the number of such days
 * among the last `days`. An oversized VM is emitted only when a smaller
 * flavour in use fits p95 x headroom, an undersized one always (the target
 * may be a size not in use yet); the target itself is in the
 * recommendations (recommend.h, "Sizing").
 *
 *   - name: VMOversized
 *     kind: oversized
 *     days: 30
 *     p95: 40%
 *     headroom: 1.3
 *     threshold: 30
 *   - name: VMUndersized
 *     kind: undersized
 *     days: 7
 *     p95: 85%
 *     threshold: 5
 */
#include "alert_int.h"

#include <stddef.h>

static const pw_alert_days_key ko_keys[] = {
    { "days", PW_ADK_DAYS, offsetof(pw_rec_rules, over_days) },
    { "p95", PW_ADK_RATIO, offsetof(pw_rec_rules, over_p95) },
    { "headroom", PW_ADK_HEADROOM, offsetof(pw_rec_rules, headroom) },
    { NULL, PW_ADK_RATIO, 0 },
};

static const pw_alert_days_key kb_keys[] = {
    { "days", PW_ADK_DAYS, offsetof(pw_rec_rules, under_days) },
    { "p95", PW_ADK_RATIO, offsetof(pw_rec_rules, under_p95) },
    { "headroom", PW_ADK_HEADROOM, offsetof(pw_rec_rules, headroom) },
    { NULL, PW_ADK_RATIO, 0 },
};

static pw_err
ko_option(pw_alert_rule *r, const char *key, struct fy_node *v, char *msg, size_t len)
{
    return pw_alert_days_option(r, key, v, ko_keys, msg, len);
}

static pw_err
kb_option(pw_alert_rule *r, const char *key, struct fy_node *v, char *msg, size_t len)
{
    return pw_alert_days_option(r, key, v, kb_keys, msg, len);
}

static pw_err
ko_check(pw_alert_rule *r, char *msg, size_t len)
{
    return pw_alert_days_check(r, ((pw_alert_rec_kd *) r->kd)->rules.over_days, msg, len);
}

static pw_err
kb_check(pw_alert_rule *r, char *msg, size_t len)
{
    return pw_alert_days_check(r, ((pw_alert_rec_kd *) r->kd)->rules.under_days, msg, len);
}

static pw_err
ko_eval(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_alert_emit_fn emit, void *ctx,
        char *msg, size_t len)
{
    return pw_alert_days_eval(r, src, t, PW_REC_FIND_OVERSIZED, emit, ctx, msg, len);
}

static pw_err
kb_eval(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_alert_emit_fn emit, void *ctx,
        char *msg, size_t len)
{
    return pw_alert_days_eval(r, src, t, PW_REC_FIND_UNDERSIZED, emit, ctx, msg, len);
}

const pw_alert_kind_ops pw_alert_kind_oversized = {
    .name = "oversized",
    .keys = "days, p95, headroom",
    .init = pw_alert_days_init,
    .option = ko_option,
    .check = ko_check,
    .eval = ko_eval,
    .fini = pw_alert_days_fini,
};

const pw_alert_kind_ops pw_alert_kind_undersized = {
    .name = "undersized",
    .keys = "days, p95, headroom",
    .init = pw_alert_days_init,
    .option = kb_option,
    .check = kb_check,
    .eval = kb_eval,
    .fini = pw_alert_days_fini,
};
