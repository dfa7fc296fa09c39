/*
 * http_ops.c - operations endpoints: /healthz (liveness and the store),
 * /metrics (the collector's own counters and process facts in Prometheus'
 * text format) and /api/v1/hosts (the agents, as `poolwatch hosts --format
 * json` lists them).
 */
#include "http.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"

/* ---- /healthz ------------------------------------------------------------------ */

void
pw_http_ops_healthz(pw_http_call *c)
{
    pw_store_txn *t;
    char          msg[256] = "";
    pw_err        e = pw_store_read_begin(c->store, &t);
    json_t       *j;

    if (e == PW_OK)
        pw_store_read_end(t);
    else
        pw_store_last_error(c->store, msg, sizeof msg);
    j = json_pack("{s:s, s:s, s:I, s:s}", "status", e == PW_OK ? "ok" : "error",
                  "version", PW_VERSION, "uptime_seconds", (json_int_t) (c->now_ms - c->started_ms) / 1000,
                  "store", e == PW_OK ? "ok" : msg[0] ? msg : pw_strerror(e));
    if (j == NULL || pw_http_buf_json(&c->body, j) != PW_OK)
        pw_http_error(c, 503, "unavailable", "out of memory");
    else
        c->status = e == PW_OK ? 200 : 503;
    json_decref(j);
}

/* ---- /metrics -------------------------------------------------------------------- */

/* Open file descriptors: entries of /proc/self/fd (minus ".", ".." and the one reading it). */
static long
ops_open_fds(void)
{
    DIR           *d = opendir("/proc/self/fd");
    struct dirent *de;
    long           n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

/* Resident and virtual size from /proc/self/statm (pages). */
static void
ops_memory(double *rss, double *vsz)
{
    FILE              *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, res = 0;
    long               page = sysconf(_SC_PAGESIZE);

    *rss = *vsz = -1;
    if (f == NULL)
        return;
    if (fscanf(f, "%llu %llu", &size, &res) == 2 && page > 0) {
        *vsz = (double) size * (double) page;
        *rss = (double) res * (double) page;
    }
    fclose(f);
}

#define OPS_COUNTER(field, name, help)                                                         \
    { offsetof(pw_collector_stats, field), "poolwatch_collector_" name, help, "counter" }
#define OPS_GAUGE(field, name, help)                                                           \
    { offsetof(pw_collector_stats, field), "poolwatch_collector_" name, help, "gauge" }

typedef struct ops_stat ops_stat;
struct ops_stat {
    size_t      off;
    const char *name, *help, *type;
};

/* The same names as the series the collector stores about itself (main.c). */
static const ops_stat ops_stats[] = {
    OPS_COUNTER(frames_received, "frames_received_total", "Frames received from agents."),
    OPS_COUNTER(bytes_received, "received_bytes_total", "Bytes of frames received."),
    OPS_COUNTER(frames_stored, "frames_stored_total", "Frames stored and acknowledged."),
    OPS_COUNTER(frames_duplicate, "frames_duplicate_total", "Frames received again, not stored twice."),
    OPS_COUNTER(frames_retry, "frames_retry_total",
                "Frames answered retry later (disk full, over --max-inflight-bytes)."),
    OPS_COUNTER(frames_over_budget, "frames_over_budget_total",
                "Frames answered retry later because frames in flight would pass --max-inflight-bytes."),
    OPS_GAUGE(inflight_bytes, "inflight_bytes", "Decoded bytes of frames received and not yet answered."),
    OPS_COUNTER(frames_rejected, "frames_rejected_total", "Malformed frames or over a limit."),
    OPS_COUNTER(frames_unsupported, "frames_unsupported_total", "Frames of a newer wire version."),
    OPS_COUNTER(frames_identity_rejected, "frames_identity_rejected_total",
                "Frames whose agent id is not their TLS certificate's CN."),
    OPS_COUNTER(samples_stored, "samples_stored_total", "Samples stored."),
    OPS_COUNTER(samples_nonfinite, "samples_nonfinite_total", "NaN or infinite samples skipped."),
    OPS_COUNTER(unknown_keys, "unknown_keys_total", "Unknown keys in frames."),
    OPS_COUNTER(commits, "commits_total", "Write transactions committed."),
    OPS_COUNTER(commit_errors, "commit_errors_total", "Write transactions that failed."),
    OPS_COUNTER(disk_full, "disk_full_total", "Commits refused for lack of space."),
    OPS_COUNTER(map_grows, "map_grows_total", "Times the database map was grown."),
    OPS_GAUGE(queue_depth, "writer_queue_frames", "Frames waiting for the writer."),
    OPS_COUNTER(maintenance_txns, "maintenance_txns_total", "Upkeep transactions run."),
    OPS_COUNTER(maintenance_errors, "maintenance_errors_total", "Upkeep transactions that failed."),
    OPS_COUNTER(dedupe_expired, "dedupe_expired_total", "Dedupe rows of old agent boots deleted."),
    OPS_COUNTER(reports_archived, "reports_archived_total", "Monthly report archives made."),
    OPS_COUNTER(report_errors, "report_errors_total", "Monthly report archives that failed (retried)."),
};

/* One metric with its HELP and TYPE lines; v with `decimals` digits after the point. */
static pw_err
ops_metric(pw_http_buf *b, const char *name, const char *help, const char *type, int decimals,
           double v)
{
    return pw_http_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.*f\n", name, help, name, type,
                            name, decimals, v);
}

void
pw_http_ops_metrics(pw_http_call *c)
{
    pw_http_buf  *b = &c->body;
    struct rusage ru;
    struct rlimit rl;
    double        rss, vsz;
    pw_err        e = PW_OK;

    pw_http_buf_reset(b);
    c->content_type = "text/plain; version=0.0.4; charset=utf-8";
    e = pw_http_buf_addf(b, "# HELP poolwatch_collector_info The collector's version.\n"
                            "# TYPE poolwatch_collector_info gauge\n"
                            "poolwatch_collector_info{version=\"%s\"} 1\n", PW_VERSION);
    if (e == PW_OK)
        e = ops_metric(b, "poolwatch_collector_uptime_seconds", "Seconds since the collector started.",
                       "gauge", 3, (double) (c->now_ms - c->started_ms) / 1000);
    for (size_t i = 0; c->stats != NULL && e == PW_OK && i < sizeof ops_stats / sizeof ops_stats[0]; i++) {
        atomic_uint_fast64_t *v = (atomic_uint_fast64_t *) (void *) ((char *) c->stats
                                                                     + ops_stats[i].off);

        e = ops_metric(b, ops_stats[i].name, ops_stats[i].help, ops_stats[i].type, 0,
                       (double) atomic_load(v));
    }
    if (c->stats != NULL && e == PW_OK)
        e = ops_metric(b, "poolwatch_collector_commit_seconds_total", "Time spent in commits.",
                       "counter", 6, (double) atomic_load(&c->stats->commit_us_total) / 1e6);
    if (e == PW_OK)
        e = ops_metric(b, "poolwatch_collector_store_map_bytes", "Size of the database map.",
                       "gauge", 0, (double) pw_store_map_size(c->store));
    if (e == PW_OK)
        e = pw_http_metrics_text(c->srv, b);
    /* Process facts, with the names Prometheus client libraries use. */
    if (e == PW_OK && getrusage(RUSAGE_SELF, &ru) == 0)
        e = ops_metric(b, "process_cpu_seconds_total", "User and system CPU time spent.", "counter",
                       6, (double) ru.ru_utime.tv_sec + (double) ru.ru_stime.tv_sec
                                   + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    ops_memory(&rss, &vsz);
    if (e == PW_OK && rss >= 0)
        e = ops_metric(b, "process_resident_memory_bytes", "Resident memory size.", "gauge", 0,
                       rss);
    if (e == PW_OK && vsz >= 0)
        e = ops_metric(b, "process_virtual_memory_bytes", "Virtual memory size.", "gauge", 0,
                       vsz);
    if (e == PW_OK && ops_open_fds() >= 0)
        e = ops_metric(b, "process_open_fds", "Open file descriptors.", "gauge", 0,
                       (double) ops_open_fds());
    if (e == PW_OK && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        e = ops_metric(b, "process_max_fds", "Limit of open file descriptors.", "gauge", 0,
                       (double) rl.rlim_cur);
    if (e == PW_OK)
        e = ops_metric(b, "process_start_time_seconds", "Start time since the Unix epoch.", "gauge",
                       3, (double) c->started_ms / 1000);
    if (e != PW_OK)
        pw_http_error(c, 503, "unavailable", "out of memory");
}

/* ---- /api/v1/hosts ----------------------------------------------------------------- */

void
pw_http_ops_hosts(pw_http_call *c)
{
    pw_agent_list l = { 0 };
    pw_store_txn *t;
    json_t       *arr = NULL;
    char          msg[256] = "";
    pw_err        e;

    if ((e = pw_store_read_begin(c->store, &t)) != PW_OK) {
        pw_store_last_error(c->store, msg, sizeof msg);
        pw_http_error(c, 503, "unavailable", "cannot read the store: %s", msg);
        return;
    }
    e = pw_store_agents(t, pw_agent_list_add, &l);
    pw_store_read_end(t);
    if (e != PW_OK || l.nomem) {
        pw_http_error(c, l.nomem ? 503 : 500, l.nomem ? "unavailable" : "internal",
                      "reading the agents: %s", l.nomem ? "out of memory" : pw_strerror(e));
        goto out;
    }
    pw_agent_list_sort(&l);
    if ((arr = json_array()) == NULL)
        goto nomem;
    for (size_t i = 0; i < l.n; i++) {
        const pw_agent_info *a = &l.a[i];
        char                 first[32], last[32], boot[2 * PW_WIRE_BOOT_ID_LEN + 1];
        json_t              *o;

        pw_time_format_iso(a->first_seen_ms, first, sizeof first);
        pw_time_format_iso(a->last_seen_ms, last, sizeof last);
        for (size_t k = 0; k < PW_WIRE_BOOT_ID_LEN; k++)
            snprintf(boot + 2 * k, 3, "%02x", a->boot_id[k]);
        o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:s, s:I}",
            "host", a->host, "agent_id", a->agent_id, "version", a->version,
            "first_seen", first, "first_seen_ms", (json_int_t) a->first_seen_ms,
            "last_seen", last, "last_seen_ms", (json_int_t) a->last_seen_ms,
            "age_ms", (json_int_t) (c->now_ms > a->last_seen_ms ? c->now_ms - a->last_seen_ms : 0),
            "frames", (json_int_t) a->frames, "samples", (json_int_t) a->samples,
            "boot_id", boot, "last_seq", (json_int_t) a->last_seq);
        if (o == NULL || json_array_append_new(arr, o) != 0)
            goto nomem;
    }
    pw_http_success(c, arr);
    arr = NULL;
    goto out;
nomem:
    pw_http_error(c, 503, "unavailable", "out of memory");
out:
    json_decref(arr);
    pw_agent_list_free(&l);
}
