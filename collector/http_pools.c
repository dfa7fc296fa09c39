/*
 * http_pools.c - GET /api/v1/pools: the pool capacity report (capacity.h)
 * at `time` (default now), the same figures and shape as `poolwatch pools
 * --format json`, in Prometheus' success envelope. Cloud-wide: the route
 * table lets admin, operator and auditor in, never a tenant (auth.c,
 * PW_ACT_READ_POOLS).
 */
#include "http.h"

#include "capacity.h"

void
pw_http_pools(pw_http_call *c)
{
    const char   *time_s = pw_http_get(&c->params, "time");
    int64_t       at = c->now_ms;
    pw_store_txn *t;
    pw_cap_report rep = { 0 };
    char          msg[512] = "";
    json_t       *data;
    pw_err        e;

    if (time_s != NULL && pw_prom_time_parse(time_s, &at) != PW_OK) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"time\": cannot parse \"%.100s\" to a "
                      "valid timestamp", time_s);
        return;
    }
    if (c->inv == NULL) {
        pw_http_error(c, 503, "unavailable", "the inventory is not open");
        return;
    }
    if ((e = pw_store_read_begin(c->store, &t)) != PW_OK) {
        pw_store_last_error(c->store, msg, sizeof msg);
        pw_http_error(c, 503, "unavailable", "reading the store: %s", msg[0] ? msg : pw_strerror(e));
        return;
    }
    e = pw_cap_report_build(t, c->inv, at, c->now_ms, true, &rep, msg, sizeof msg);
    pw_store_read_end(t);
    if (e != PW_OK) {
        pw_http_error(c, e == PW_ETOOBIG ? 422 : 503, e == PW_ETOOBIG ? "execution" : "unavailable",
                      "%s", msg[0] ? msg : pw_strerror(e));
        goto out;
    }
    if ((data = pw_cap_report_json(&rep)) == NULL) {
        pw_http_error(c, 503, "unavailable", "out of memory, or a pool name that is not UTF-8");
        goto out;
    }
    pw_http_success(c, data);
out:
    pw_cap_report_free(&rep);
}
