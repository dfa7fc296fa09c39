/*
 * alert_list.c - the alerts as `poolwatch alerts` and GET /api/v1/alerts
 * show them (alert.h): active ones or the history, filtered by tenant, in
 * one function so both show the same thing.
 */
#include "alert_int.h"

#include <string.h>

#include "clock.h"

typedef struct al {
    json_t     *arr;
    const char *tenant;
    size_t      limit;
    bool        truncated, nomem;
} al;

static int
al_add(void *ctx, json_t *rec)
{
    al         *a = ctx;
    const char *t = json_string_value(json_object_get(json_object_get(rec, "labels"), "tenant"));
    char        iso[40], val[64];

    /* A tenant sees its own alerts only; an alert without a tenant label is nobody's. */
    if (a->tenant != NULL && (t == NULL || strcmp(t, a->tenant) != 0))
        return 0;
    if (json_array_size(a->arr) >= a->limit) {
        a->truncated = true;
        return 1;
    }
    /* Prometheus' /api/v1/alerts fields next to ours, so its clients read the list. */
    pw_time_format_iso(json_integer_value(json_object_get(rec, "active_since")), iso, sizeof iso);
    snprintf(val, sizeof val, "%.17g", json_number_value(json_object_get(rec, "value")));
    if (json_object_set_new(rec, "activeAt", json_string(iso)) != 0
        || json_object_set_new(rec, "value_text", json_string(val)) != 0
        || json_array_append(a->arr, rec) != 0) {
        a->nomem = true;
        return 1;
    }
    return 0;
}

pw_err
pw_alert_list(pw_alert_db *db, bool history, int64_t from, int64_t to, const char *tenant,
              size_t limit, json_t **out, bool *truncated)
{
    al     a = { .arr = json_array(), .tenant = tenant, .limit = limit ? limit : SIZE_MAX };
    pw_err rc;

    *out = NULL;
    *truncated = false;
    if (a.arr == NULL)
        return PW_ENOMEM;
    rc = history ? pw_alert_db_history(db, from, to, al_add, &a) : pw_alert_db_active(db, al_add, &a);
    if (rc == PW_OK && a.nomem)
        rc = PW_ENOMEM;
    if (rc != PW_OK) {
        json_decref(a.arr);
        return rc;
    }
    *out = a.arr;
    *truncated = a.truncated;
    return PW_OK;
}
