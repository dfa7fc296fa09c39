/*
 * http_alerts.c - GET /api/v1/alerts: the active alerts (pending and
 * firing), or with history=1 the transitions with from <= time <= to
 * (default the last 24 h), at most `limit` (1000, up to 10000):
 * {"status":"success","data":{"alerts":[...],"truncated":false}}, records
 * as `poolwatch alerts --format json`. Any role with PW_ACT_READ_ALERTS; a
 * tenant token sees only alerts whose tenant label is its own (pool alerts
 * carry no tenant, so a tenant never sees them); others may narrow with
 * `tenant`.
 */
#include "http.h"

#include <stdlib.h>
#include <string.h>

void
pw_http_alerts(pw_http_call *c)
{
    const char *hist_s = pw_http_get(&c->params, "history");
    const char *from_s = pw_http_get(&c->params, "from"), *to_s = pw_http_get(&c->params, "to");
    const char *limit_s = pw_http_get(&c->params, "limit");
    const char *tenant = pw_http_get(&c->params, "tenant");
    bool        history = hist_s != NULL && (strcmp(hist_s, "1") == 0 || strcmp(hist_s, "true") == 0);
    int64_t     from = c->now_ms - 86400000, to = c->now_ms;
    long        limit = 1000;
    json_t     *list = NULL;
    bool        truncated = false;
    char       *end;
    pw_err      e;

    if (hist_s != NULL && !history && strcmp(hist_s, "0") != 0 && strcmp(hist_s, "false") != 0) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"history\": 1 or 0");
        return;
    }
    if ((from_s != NULL && pw_prom_time_parse(from_s, &from) != PW_OK)
        || (to_s != NULL && pw_prom_time_parse(to_s, &to) != PW_OK)) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"from\" or \"to\": not a time");
        return;
    }
    if (limit_s != NULL && ((limit = strtol(limit_s, &end, 10)) < 1 || limit > 10000 || *end != '\0')) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"limit\": 1 to 10000");
        return;
    }
    if (c->scope->kind == PW_SCOPE_TENANT)
        tenant = c->scope->tenant;          /* a tenant cannot ask for another's */
    else if (c->scope->kind != PW_SCOPE_ALL) {
        pw_http_error(c, 403, "forbidden", "no alerts for this caller");
        return;
    }
    if (c->alerts == NULL) {
        pw_http_error(c, 503, "unavailable", "the alert engine is off (--alert-interval 0)");
        return;
    }
    pw_http_set_object(c, history ? "history" : "active");
    if ((e = pw_alert_list(c->alerts, history, from, to, tenant, (size_t) limit, &list,
                           &truncated)) != PW_OK) {
        pw_http_error(c, 503, "unavailable", "reading alerts.mdb: %s", pw_strerror(e));
        return;
    }
    pw_http_success(c, json_pack("{s:o,s:b}", "alerts", list, "truncated", truncated));
}
