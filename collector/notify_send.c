/*
 * notify_send.c - delivers the queued notifications (alert_state.c's queue
 * in alerts.mdb) with NNG's HTTP client: a webhook body is POSTed to the
 * receiver's URL, an Alertmanager body to URL/api/v2/alerts. A 2xx answer
 * removes the notification; anything else (refused, timeout, 4xx, 5xx)
 * retries with exponential backoff, 1 s doubling up to 5 min, and gives up
 * after PW_NOTIFY_MAX_ATTEMPTS (about a day), logged. The queue is in
 * LMDB, so a restart resends what was not delivered.
 */
#include "notify.h"
#include "https_client.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "alert_int.h"
#include "clock.h"
#include "job.h"
#include "log.h"

struct pw_notify {
    pw_alert_db    *db;
    pw_job         *job;
    uint64_t        sent, failed, dropped;
};


/* POSTs body to url; the HTTP status in *status (0: no answer). why says what failed. */
static int
ns_post(const char *url, const char *ca, const char *body, int *status, char *why, size_t len)
{
    static const char *const hdrs[] = { "Content-Type", "application/json",
                                        "User-Agent", "poolwatch-collector",
                                        "Connection", "close", NULL };
    pw_http_request req = {
        .method = "POST", .headers = hdrs, .body = body, .body_len = strlen(body),
        .ca_file = ca, .connect_ms = PW_NOTIFY_TIMEOUT_MS, .io_ms = PW_NOTIFY_TIMEOUT_MS,
    };
    pw_http_answer  ans;
    nng_url        *u = NULL;
    int             rv;

    *status = 0;
    if ((rv = nng_url_parse(&u, url)) != 0) {
        snprintf(why, len, "%s", nng_strerror(rv));
        return rv;
    }
    req.url = u;
    rv = pw_http_call(&req, &ans);
    switch (rv == 0 ? PW_HTTP_DONE : ans.stage) {
    case PW_HTTP_DONE:
        *status = ans.status;
        snprintf(why, len, "HTTP %d %s", ans.status, ans.reason);
        break;
    case PW_HTTP_TLS:
        snprintf(why, len, "TLS (CA file %s): %s", ca != NULL ? ca : PW_HTTPS_SYSTEM_CA, nng_strerror(rv));
        break;
    case PW_HTTP_CONNECT:
        snprintf(why, len, "cannot connect: %s", nng_strerror(rv));
        break;
    case PW_HTTP_EXCHANGE:
        snprintf(why, len, "no answer: %s", nng_strerror(rv));
        break;
    default:
        snprintf(why, len, "%s", nng_strerror(rv));
        break;
    }
    free(ans.body);
    nng_url_free(u);
    return rv;
}

/* Sends one due notification; false when none was due (*next_ms: when one is). */
static bool
ns_one(pw_notify *n, int64_t *next_ms)
{
    uint64_t    id;
    json_t     *note = NULL;
    const char *type, *url, *rcv;
    char       *body = NULL, target[2048], why[256];
    int         status, attempts;
    int64_t     now = pw_now_ms();

    if (pw_alert_db_queue_due(n->db, now, &id, &note, next_ms) != PW_OK)
        return false;
    type = json_string_value(json_object_get(note, "type"));
    url = json_string_value(json_object_get(note, "url"));
    rcv = json_string_value(json_object_get(note, "receiver"));
    attempts = (int) json_integer_value(json_object_get(note, "attempts"));
    if (type == NULL || url == NULL
        || (body = json_dumps(json_object_get(note, "body"), JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
        pw_warn("alerts: a queued notification is damaged; dropped");
        pw_alert_db_queue_done(n->db, id);
        goto out;
    }
    if (strcmp(type, "alertmanager") == 0) {
        size_t l = strlen(url);

        while (l > 0 && url[l - 1] == '/')
            l--;
        snprintf(target, sizeof target, "%.*s/api/v2/alerts", (int) l, url);
    } else {
        snprintf(target, sizeof target, "%s", url);
    }
    ns_post(target, json_string_value(json_object_get(note, "ca_file")), body, &status, why, sizeof why);
    if (status >= 200 && status <= 299) {
        n->sent++;
        pw_debug("alerts: notification to %s delivered (%s)", rcv ? rcv : "?", why);
        pw_alert_db_queue_done(n->db, id);
        goto out;
    }
    n->failed++;
    if (++attempts >= PW_NOTIFY_MAX_ATTEMPTS) {
        n->dropped++;
        pw_warn("alerts: giving up on a notification to %s after %d attempts (%s)", rcv ? rcv : "?",
                attempts, why);
        pw_alert_db_queue_done(n->db, id);
        goto out;
    }
    {
        int64_t delay = PW_NOTIFY_BACKOFF_MIN_MS;

        for (int i = 1; i < attempts && delay < PW_NOTIFY_BACKOFF_MAX_MS; i++)
            delay *= 2;
        if (delay > PW_NOTIFY_BACKOFF_MAX_MS)
            delay = PW_NOTIFY_BACKOFF_MAX_MS;
        if (attempts == 1)
            pw_warn("alerts: notification to %s failed (%s); retrying with backoff", rcv ? rcv : "?", why);
        json_object_set_new(note, "attempts", json_integer(attempts));
        json_object_set_new(note, "next_ms", json_integer(now + delay));
        json_object_set_new(note, "last_error", json_string(why));
        pw_alert_db_queue_retry(n->db, id, note);
    }
out:
    free(body);
    json_decref(note);
    *next_ms = now;
    return true;
}

/* The job's pass: sends what is due; sleeps until the next retry, a kick, or 10 s. */
static int64_t
ns_pass(pw_job *job, void *arg)
{
    pw_notify *n = arg;
    int64_t    next = INT64_MAX, now;

    while (ns_one(n, &next))
        if (pw_job_stopping(job))
            return 0;
    now = pw_now_ms();
    return next > now + 10000 ? 10000 : next - now;
}

pw_err
pw_notify_start(pw_alert_db *db, pw_notify **out)
{
    pw_notify *n = calloc(1, sizeof *n);

    *out = NULL;
    if (n == NULL)
        return PW_ENOMEM;
    n->db = db;
    if (pw_job_start(0, ns_pass, n, &n->job) != PW_OK) {
        free(n);
        return PW_ENOMEM;
    }
    *out = n;
    return PW_OK;
}

void
pw_notify_kick(pw_notify *n)
{
    if (n == NULL)
        return;
    pw_job_wake(n->job);
}

void
pw_notify_stop(pw_notify *n)
{
    if (n == NULL)
        return;
    pw_job_stop(n->job);
    free(n);
}
