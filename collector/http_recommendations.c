/*
 * http_recommendations.c - GET /api/v1/recommendations[?tenant=T][&system=S][&time=T]:
 * {"status":"success","data":<recommend.h's object>}, as
 * `poolwatch recommendations --format json`. PW_ACT_READ_RECOMMENDATIONS; a
 * tenant token gets its own tenant's systems whatever `tenant` says. The
 * thresholds are the alert engine's: the built-in rules with the collector's
 * --config file's alerts: on top, as the collector loaded them at start or at
 * the last SIGHUP (pw_http_alert_config), so an answer agrees with the alerts
 * and with `poolwatch recommendations --config` on the same file.
 * Computed per request from the daily figures (recommend.h): a month of
 * 5-minute rollups for every VM asked about, so ask per tenant where you can.
 */
#include "http.h"

#include <string.h>

#include "recommend.h"

void
pw_http_recommendations(pw_http_call *c)
{
    const char   *tenant = pw_http_get(&c->params, "tenant"), *system = pw_http_get(&c->params, "system");
    const char   *time_s = pw_http_get(&c->params, "time");
    int64_t       at = c->now_ms;
    pw_store_txn *t = NULL;
    json_t       *res = NULL;
    char          msg[512];
    pw_err        e;

    if (time_s != NULL && pw_prom_time_parse(time_s, &at) != PW_OK) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"time\": not a time");
        return;
    }
    if (c->scope->kind == PW_SCOPE_TENANT)
        tenant = c->scope->tenant;          /* a tenant cannot ask for another's */
    else if (c->scope->kind != PW_SCOPE_ALL) {
        pw_http_error(c, 403, "forbidden", "no recommendations for this caller");
        return;
    }
    if (c->inv == NULL) {
        pw_http_error(c, 503, "unavailable", "no inventory: recommendations need the VMs and their sizes");
        return;
    }
    pw_http_set_object(c, tenant != NULL ? tenant : "all");
    if (pw_store_read_begin(c->store, &t) != PW_OK) {
        pw_http_error(c, 503, "unavailable", "the store cannot be read");
        return;
    }
    {
        pw_alert_config *cfg = pw_http_alert_config(c);
        pw_rec_opts      o = { .txn = t, .inv = c->inv, .alerts = c->alerts, .cfg = cfg, .at = at,
                               .tenant = tenant, .system = system };

        e = pw_rec_build(&o, &res, msg, sizeof msg);
        pw_alert_config_free(cfg);
    }
    pw_store_read_end(t);
    if (e != PW_OK) {
        pw_http_error(c, e == PW_ENOMEM ? 500 : 503, e == PW_ENOMEM ? "internal" : "unavailable", "%s", msg);
        return;
    }
    pw_http_success(c, res);
}
