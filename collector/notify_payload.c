/*
 * notify_payload.c - notification bodies in Alertmanager's shapes
 * (alert_int.h), so anything that reads Alertmanager's webhooks, or
 * Alertmanager itself, takes poolwatch's alerts unchanged:
 *
 *   webhook (version "4"): {"version","groupKey","truncatedAlerts","status",
 *     "receiver","groupLabels","commonLabels","commonAnnotations",
 *     "externalURL","alerts":[{"status","labels","annotations","startsAt",
 *     "endsAt","generatorURL","fingerprint"}]}
 *   Alertmanager POST /api/v2/alerts: [{"labels","annotations","startsAt",
 *     "endsAt","generatorURL"}]
 *
 * Times are RFC 3339 UTC with milliseconds; a firing alert's endsAt in a
 * webhook is "0001-01-01T00:00:00Z", as Alertmanager sends it.
 */
#include "alert_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define NP_ZERO_TIME "0001-01-01T00:00:00Z"

static json_t *
np_time(int64_t ms)
{
    char buf[40];

    pw_time_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *
pw_notify_alert(const json_t *rec, const char *external_url, bool postable, int64_t ends_default)
{
    const char *state = json_string_value(json_object_get(rec, "state"));
    bool        resolved = state != NULL && strcmp(state, "resolved") == 0;
    int64_t     starts = json_integer_value(json_object_get(rec, "active_since"));
    int64_t     ends = json_integer_value(json_object_get(rec, "resolved_at"));
    json_t     *a = json_object();
    char        url[1024];

    if (a == NULL)
        return NULL;
    snprintf(url, sizeof url, "%s/api/v1/alerts?rule=%s", external_url ? external_url : "",
             json_string_value(json_object_get(rec, "rule")));
    json_object_set(a, "labels", json_object_get(rec, "labels"));
    json_object_set(a, "annotations", json_object_get(rec, "annotations"));
    json_object_set_new(a, "startsAt", np_time(starts));
    if (resolved)
        json_object_set_new(a, "endsAt", np_time(ends));
    else if (postable)
        json_object_set_new(a, "endsAt", np_time(ends_default));
    else
        json_object_set_new(a, "endsAt", json_string(NP_ZERO_TIME));
    json_object_set_new(a, "generatorURL", json_string(url));
    if (!postable) {
        json_object_set_new(a, "status", json_string(resolved ? "resolved" : "firing"));
        json_object_set(a, "fingerprint", json_object_get(rec, "fingerprint"));
    }
    return a;
}

/* The labels (or annotations) every alert shares with the same value. */
static json_t *
np_common(const json_t *alerts, const char *field)
{
    json_t     *common = NULL, *a, *v;
    const char *k;
    size_t      i;

    json_array_foreach(alerts, i, a) {
        json_t *m = json_object_get(a, field);

        if (common == NULL) {
            common = json_deep_copy(m ? m : json_object());
            continue;
        }
        {
            void *tmp;

            json_object_foreach_safe(common, tmp, k, v) {
                json_t *o = json_object_get(m, k);

                if (o == NULL || !json_equal(o, v))
                    json_object_del(common, k);
            }
        }
    }
    return common ? common : json_object();
}

json_t *
pw_notify_webhook_body(const pw_alert_receiver *r, const char *external_url,
                       const json_t *group_labels, const json_t *alerts, int64_t now)
{
    json_t     *list = json_array(), *a, *body;
    size_t      i;
    bool        firing = false;
    char       *gk;
    const char *k;
    json_t     *v;
    char        key[2048];
    size_t      o = 0;

    (void) now;
    if (list == NULL)
        return NULL;
    json_array_foreach(alerts, i, a) {
        json_t *x = pw_notify_alert(a, external_url, false, 0);

        if (x == NULL) {
            json_decref(list);
            return NULL;
        }
        firing = firing || strcmp(json_string_value(json_object_get(x, "status")), "firing") == 0;
        json_array_append_new(list, x);
    }
    /* groupKey as Alertmanager writes it: route path, then the group labels. */
    o += (size_t) snprintf(key + o, sizeof key - o, "{}:{");
    gk = json_dumps(group_labels, JSON_SORT_KEYS | JSON_COMPACT);
    json_object_foreach((json_t *) group_labels, k, v) {
        if (o < sizeof key)
            o += (size_t) snprintf(key + o, sizeof key - o, "%s%s=\"%s\"", o > 4 ? "," : "", k,
                                   json_string_value(v));
    }
    free(gk);
    if (o < sizeof key)
        snprintf(key + o, sizeof key - o, "}");
    body = json_pack("{s:s,s:s,s:i,s:s,s:s,s:O,s:o,s:o,s:s,s:o}",
                     "version", "4", "groupKey", key, "truncatedAlerts", 0,
                     "status", firing ? "firing" : "resolved", "receiver", r->name,
                     "groupLabels", group_labels,
                     "commonLabels", np_common(list, "labels"),
                     "commonAnnotations", np_common(list, "annotations"),
                     "externalURL", external_url ? external_url : "", "alerts", list);
    return body;
}

json_t *
pw_notify_am_body(const json_t *alerts, const char *external_url, int64_t ends_default)
{
    json_t *list = json_array(), *a;
    size_t  i;

    if (list == NULL)
        return NULL;
    json_array_foreach(alerts, i, a) {
        json_t *x = pw_notify_alert(a, external_url, true, ends_default);

        if (x == NULL) {
            json_decref(list);
            return NULL;
        }
        json_array_append_new(list, x);
    }
    return list;
}
