/*
 * http_audit.c - GET /api/v1/audit?from=&to=&limit=: the audit log's
 * records in a time range, oldest first (audit.h). Reading the log is
 * itself audited, by the middleware, like every data call.
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define HA_DEFAULT_LIMIT 1000
#define HA_MAX_LIMIT     10000
#define HA_DEFAULT_SPAN  INT64_C(86400000)      /* from defaults to a day before to */

typedef struct ha_list ha_list;
struct ha_list {
    json_t *arr;
    size_t  limit;
    bool    truncated;
    bool    failed;     /* no memory, or a record jansson refused */
};

static int
ha_record(void *ctx, const pw_audit_rec *r)
{
    ha_list *l = ctx;
    char     iso[32];
    json_t  *o;

    if (json_array_size(l->arr) >= l->limit) {
        l->truncated = true;
        return 1;
    }
    pw_time_format_iso(r->ts_ms, iso, sizeof iso);
    o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                  "seq", (json_int_t) r->seq, "time", iso, "ts_ms", (json_int_t) r->ts_ms,
                  "role", pw_role_name(r->role) ? pw_role_name(r->role) : "",
                  "principal", r->principal, "token_id", r->token_id, "tenant", r->tenant,
                  "source", r->source, "action", r->action, "object", r->object,
                  "result", pw_audit_result_name(r->result) ? pw_audit_result_name(r->result) : "",
                  "detail", r->detail);
    if (o == NULL || json_array_append_new(l->arr, o) != 0) {
        l->failed = true;
        return 1;
    }
    return 0;
}

void
pw_http_audit_list(pw_http_call *c)
{
    const char *from_s = pw_http_get(&c->params, "from"), *to_s = pw_http_get(&c->params, "to");
    const char *limit_s = pw_http_get(&c->params, "limit");
    ha_list     l = { .limit = HA_DEFAULT_LIMIT };
    int64_t     from, to = c->now_ms;
    char        obj[128], *end;
    json_t     *data;
    pw_err      e;

    if (to_s != NULL && pw_prom_time_parse(to_s, &to) != PW_OK) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"to\": cannot parse \"%.100s\" to a "
                      "valid timestamp", to_s);
        return;
    }
    from = to - HA_DEFAULT_SPAN;
    if (from_s != NULL && pw_prom_time_parse(from_s, &from) != PW_OK) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"from\": cannot parse \"%.100s\" to a "
                      "valid timestamp", from_s);
        return;
    }
    if (to < from) {
        pw_http_error(c, 400, "bad_data", "invalid parameter \"to\": before \"from\"");
        return;
    }
    if (limit_s != NULL) {
        long v = strtol(limit_s, &end, 10);

        if (*limit_s == '\0' || *end != '\0' || v < 1 || v > HA_MAX_LIMIT) {
            pw_http_error(c, 400, "bad_data", "invalid parameter \"limit\": 1 to %d",
                          HA_MAX_LIMIT);
            return;
        }
        l.limit = (size_t) v;
    }
    snprintf(obj, sizeof obj, "from=%lld to=%lld", (long long) from, (long long) to);
    pw_http_set_object(c, obj);
    if ((l.arr = json_array()) == NULL) {
        pw_http_error(c, 503, "unavailable", "out of memory");
        return;
    }
    e = pw_audit_scan(c->sec, from, to, ha_record, &l);
    if (e != PW_OK || l.failed) {
        pw_http_error(c, e == PW_OK || e == PW_ENOMEM ? 503 : 500,
                      e == PW_OK || e == PW_ENOMEM ? "unavailable" : "internal",
                      "reading the audit log: %s", e == PW_OK ? "out of memory" : pw_strerror(e));
        json_decref(l.arr);
        return;
    }
    data = json_pack("{s:o, s:b}", "records", l.arr, "truncated", l.truncated);
    if (data == NULL) {
        pw_http_error(c, 503, "unavailable", "out of memory");
        return;
    }
    pw_http_success(c, data);
}
