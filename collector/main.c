/*
 * main.c - poolwatch-collector: receive agent frames, store them in LMDB.
 *
 * Threads: NNG's (ingest contexts), the writer (group commit), and this one,
 * which only waits for signals and, every --self-interval, stores the
 * collector's own counters as series (host=<this host>, poolwatch_collector_*)
 * so they can be queried like any other metric.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "auth.h"
#include "batch.h"
#include "capacity_job.h"
#include "clock.h"
#include "config.h"
#include "http.h"
#include "ingest.h"
#include "inventory.h"
#include "audit.h"
#include "log.h"
#include "maintenance.h"
#include "pool_config.h"
#include "report.h"
#include "report_job.h"
#include "stats.h"
#include "store.h"
#include "tls.h"
#include "watchdog.h"
#include "wire.h"
#include "writer.h"

typedef struct collector collector;

struct collector {
    /* options */
    const char *listen, *data;
    const char *tls_ca, *tls_cert, *tls_key;
    long        contexts, max_batch;
    uint64_t    max_db_size;
    uint64_t    max_inflight_bytes;   /* decoded frames held by ingest at once (ingest.h) */
    int64_t     self_interval_ms;
    int64_t     audit_retention_ms;
    int64_t     stop_timeout_ms;      /* --stop-timeout: the shutdown's deadline */
    pw_maintenance_opts maint;
    const char *http_addr, *http_tls_cert, *http_tls_key;   /* --http off: no HTTP API */
    const char *web_dir;      /* --web-dir; NULL: pw_http_static_default_dir */
    int64_t     capacity_interval_ms;   /* 0: no pool capacity series */
    bool        has_pools;    /* the config file has a pools: list (pool_config.h) */
    int64_t     alert_interval_ms;      /* 0: no alert engine */
    bool        has_alerts;   /* the config file has an alerts: section (alert.h) */
    const char *config_path;  /* --config FILE, re-read for pools: on SIGHUP */
    const char *report_tz_name;     /* --report-timezone */
    long        report_archive_day; /* 0: no automatic archive */
    pw_program  prog;         /* --help, --version, --log-level */

    /* runtime */
    pw_collector_stats stats;
    pw_store          *store;
    pw_writer         *writer;
    pw_ingest         *ingest;
    pw_maintenance    *maintenance;
    pw_batch          *self_batch;
    pw_security       *sec;           /* tokens and audit log, for the HTTP API */
    int64_t            audit_next_expire_ms;
    pw_http           *http;
    pw_inventory      *inv;           /* DIR/inventory.mdb: pools and VMs */
    pw_capjob         *capjob;
    pw_alert_job      *alerts;        /* rules, states in DIR/alerts.mdb, notifications */
    pw_alert_config   *alert_cfg;     /* the rules now, shared by alerts and the HTTP API */
    pw_report_tz      *report_tz;     /* loaded in main, before any thread */
    pw_report_job     *report_job;    /* the monthly report archive */
    int64_t            started_ms;
    pw_frame_header    self_hdr;
    pw_write_req       self_req;
    atomic_bool        self_busy;     /* self_req is with the writer */
};

#define COLLECTOR_MAX_OPTS 40     /* entries of the option table, its NULL one included */

static const char *collector_usage_head =
    "usage: poolwatch-collector [options]\n"
    "Receives frames from poolwatch agents over NNG and stores them in LMDB.\n\noptions:\n";

static void
collector_options(collector *c, pw_option *opts)
{
    const pw_option table[] = {
        { "listen", PW_OPT_STRING, &c->listen, "NNG URL for agents (tcp://127.0.0.1:7410)", "URL" },
        { "tls-ca", PW_OPT_STRING, &c->tls_ca, "with tls+tcp://: CA that agents' certificates must chain to", "FILE" },
        { "tls-cert", PW_OPT_STRING, &c->tls_cert, "with tls+tcp://: the collector's certificate", "FILE" },
        { "tls-key", PW_OPT_STRING, &c->tls_key, "with tls+tcp://: its private key (mode 0600)", "FILE" },
        { "data", PW_OPT_STRING, &c->data, "data directory (./data)", "DIR" },
        { "contexts", PW_OPT_INT, &c->contexts, "concurrent receive contexts (1024)", "N" },
        { "max-inflight-bytes", PW_OPT_SIZE, &c->max_inflight_bytes, "decoded frames held at once, at least 64KiB; past it agents are told to retry (256MiB)", "SIZE" },
        { "max-batch", PW_OPT_INT, &c->max_batch, "frames per write transaction at most (1024)", "N" },
        { "max-db-size", PW_OPT_SIZE, &c->max_db_size, "ceiling for the database, at least 256KiB; 0 = the disk (0)", "SIZE" },
        { "self-interval", PW_OPT_DURATION, &c->self_interval_ms, "how often own counters are stored (10s)", "DURATION" },
        { "retention-raw", PW_OPT_DURATION, &c->maint.retention[PW_RES_RAW], "keep raw points (35d)", "DURATION" },
        { "retention-5m", PW_OPT_DURATION, &c->maint.retention[PW_RES_5M], "keep 5-minute rollups (396d, 13 months)", "DURATION" },
        { "retention-1h", PW_OPT_DURATION, &c->maint.retention[PW_RES_1H], "keep 1-hour rollups (1826d, 5 years)", "DURATION" },
        { "retention-1d", PW_OPT_DURATION, &c->maint.retention[PW_RES_1D], "keep 1-day rollups (1826d, 5 years)", "DURATION" },
        { "audit-retention", PW_OPT_DURATION, &c->audit_retention_ms, "keep audit records (400d; at least 183d)", "DURATION" },
        { "maintenance-interval", PW_OPT_DURATION, &c->maint.interval_ms, "pause between upkeep passes (5s)", "DURATION" },
        { "dedupe-keep", PW_OPT_DURATION, &c->maint.dedupe_keep_ms, "forget old agent boots unseen this long (35d; 0 never)", "DURATION" },
        { "stop-timeout", PW_OPT_DURATION, &c->stop_timeout_ms, "on SIGTERM, exit after this long even if a step of the shutdown hangs (30s)", "DURATION" },
        { "capacity-interval", PW_OPT_DURATION, &c->capacity_interval_ms, "how often pool capacity series are stored; 0 = off (1m)", "DURATION" },
        { "pools", PW_OPT_SECTION, &c->has_pools, NULL, NULL },
        { "alert-interval", PW_OPT_DURATION, &c->alert_interval_ms, "how often alert rules are evaluated; 0 = off (1m)", "DURATION" },
        { "alerts", PW_OPT_SECTION, &c->has_alerts, NULL, NULL },
        { "report-timezone", PW_OPT_STRING, &c->report_tz_name, "the zone of the reports' days (Asia/Shanghai)", "ZONE" },
        { "report-archive-day", PW_OPT_INT, &c->report_archive_day, "archive last month's reports on this day of the month, 1..28; 0 = off (1)", "N" },
        { "http", PW_OPT_STRING, &c->http_addr, "HTTP API address, or off (127.0.0.1:7480)", "ADDR" },
        { "http-tls-cert", PW_OPT_STRING, &c->http_tls_cert, "PEM certificate: serve the HTTP API over HTTPS", "FILE" },
        { "http-tls-key", PW_OPT_STRING, &c->http_tls_key, "PEM private key of --http-tls-cert", "FILE" },
        { "web-dir", PW_OPT_STRING, &c->web_dir, "the web dashboard's files, served at / (the build's or installed copy)", "DIR" },
        { "log-level", PW_OPT_STRING, &c->prog.log_level, "error, warn, info or debug (info)", "LEVEL" },
        { "help", PW_OPT_FLAG, &c->prog.help, "show this help", NULL },
        { "version", PW_OPT_FLAG, &c->prog.version, "show the version", NULL },
        { NULL, 0, NULL, NULL, NULL },
    };
    _Static_assert(sizeof table / sizeof table[0] <= COLLECTOR_MAX_OPTS, "raise COLLECTOR_MAX_OPTS");
    memcpy(opts, table, sizeof table);
}

static void
collector_self_done(pw_write_req *r)
{
    collector *c = r->arg;

    pw_frame_release(&r->frame);
    atomic_store(&c->self_busy, false);
}

#define SELF_COUNTER(name, field) \
    pw_batch_addl(b, "poolwatch_collector_" name, (double) atomic_load(&c->stats.field), NULL)

/* Stores the collector's counters through the normal write path. */
static void
collector_self_metrics(collector *c)
{
    pw_batch *b = c->self_batch;
    void     *buf;
    size_t    len;
    char      err[256];

    if (atomic_load(&c->self_busy))
        return;                         /* writer still busy with the last one */
    pw_batch_reset(b);
    c->self_hdr.ts_ms = pw_now_ms();
    c->self_hdr.seq++;
    pw_batch_group(b, c->self_hdr.ts_ms);
    pw_batch_addl(b, "poolwatch_collector_info", 1, "version", PW_VERSION, NULL);
    SELF_COUNTER("frames_received_total", frames_received);
    SELF_COUNTER("received_bytes_total", bytes_received);
    SELF_COUNTER("frames_stored_total", frames_stored);
    SELF_COUNTER("frames_duplicate_total", frames_duplicate);
    SELF_COUNTER("frames_retry_total", frames_retry);
    SELF_COUNTER("frames_over_budget_total", frames_over_budget);
    SELF_COUNTER("inflight_bytes", inflight_bytes);
    SELF_COUNTER("frames_rejected_total", frames_rejected);
    SELF_COUNTER("frames_unsupported_total", frames_unsupported);
    SELF_COUNTER("frames_identity_rejected_total", frames_identity_rejected);
    SELF_COUNTER("samples_stored_total", samples_stored);
    SELF_COUNTER("samples_nonfinite_total", samples_nonfinite);
    SELF_COUNTER("unknown_keys_total", unknown_keys);
    SELF_COUNTER("commits_total", commits);
    SELF_COUNTER("commit_errors_total", commit_errors);
    SELF_COUNTER("disk_full_total", disk_full);
    SELF_COUNTER("map_grows_total", map_grows);
    SELF_COUNTER("writer_queue_frames", queue_depth);
    SELF_COUNTER("maintenance_txns_total", maintenance_txns);
    SELF_COUNTER("maintenance_errors_total", maintenance_errors);
    SELF_COUNTER("dedupe_expired_total", dedupe_expired);
    SELF_COUNTER("reports_archived_total", reports_archived);
    SELF_COUNTER("report_errors_total", report_errors);
    pw_batch_addl(b, "poolwatch_collector_commit_seconds_total",
                  (double) atomic_load(&c->stats.commit_us_total) / 1e6, NULL);
    if (pw_wire_encode(&c->self_hdr, b, &buf, &len) != PW_OK)
        return;
    if (pw_wire_decode(buf, len, &c->self_req.frame, err, sizeof err) != PW_OK) {
        pw_error("own metrics frame does not decode: %s", err);
        free(buf);
        return;
    }
    free(buf);
    c->self_req.recv_ms = c->self_hdr.ts_ms;
    atomic_store(&c->self_busy, true);
    pw_writer_submit(c->writer, &c->self_req);
}

/* Records something the collector itself did (start, stop, reload) in the audit log. */
static void
collector_audit(collector *c, const char *action, const char *object)
{
    pw_principal sys = { .role = PW_ROLE_NONE };
    pw_audit_rec r;

    if (c->sec == NULL)
        return;
    snprintf(sys.name, sizeof sys.name, "system");
    pw_audit_rec_init(&r, &sys, "collector", action, object);
    if (pw_audit_append(c->sec, &r) != PW_OK)
        pw_warn("audit: cannot record %s", action);
}

/* Writes the config file's pools: into the inventory (start and SIGHUP); false on failure. */
static bool
collector_load_pools(collector *c)
{
    char   msg[512];
    size_t n = 0;

    if (c->config_path == NULL || c->inv == NULL)
        return true;
    if (pw_pool_config_apply(c->config_path, c->inv, pw_now_ms(), &n, msg, sizeof msg) != PW_OK) {
        pw_error("%s", msg);
        return false;
    }
    if (n > 0)
        pw_info("pools: %zu pool(s) from %s", n, c->config_path);
    return true;
}

/*
 * The alert rules: built-ins plus the config file's alerts: section. NULL
 * (logged) when the file is bad.
 */
static pw_alert_config *
collector_alert_config(collector *c)
{
    pw_alert_config *cfg = NULL;
    char             msg[512];

    if (pw_alert_config_load(c->config_path, &cfg, msg, sizeof msg) != PW_OK) {
        pw_error("%s", msg);
        return NULL;
    }
    return cfg;
}

/*
 * Loads the alert rules into c->alert_cfg: the alert engine and the HTTP
 * API's recommendations then judge by the one same set. A bad file stops
 * the start when the alert engine runs; without it, the recommendations
 * fall back on the built-in rules (logged).
 */
static bool
collector_load_alert_config(collector *c)
{
    if ((c->alert_cfg = collector_alert_config(c)) != NULL)
        return true;
    if (c->alert_interval_ms != 0)
        return false;
    pw_warn("alerts: the engine is off; /api/v1/recommendations judges by the built-in rules");
    return true;
}

/* Starts the alert engine's threads on c->alert_cfg; false on failure (logged). */
static bool
collector_start_alerts(collector *c)
{
    pw_alert_config  *cfg = c->alert_cfg;
    pw_alert_job_opts ao = {
        .store = c->store, .inv = c->inv, .data_dir = c->data, .interval_ms = c->alert_interval_ms,
    };
    char              msg[512], url[256];

    if (c->alert_interval_ms == 0)
        return true;
    /* generatorURL and externalURL point at this collector's API unless the file says otherwise. */
    snprintf(url, sizeof url, "%s://%s", c->http_tls_cert != NULL ? "https" : "http",
             c->http_addr != NULL && strcmp(c->http_addr, "off") != 0 ? c->http_addr : "127.0.0.1:7480");
    ao.external_url = url;
    pw_info("alerts: %zu rule(s), %zu receiver(s), every %lld ms", pw_alert_config_nrules(cfg),
            pw_alert_config_nreceivers(cfg), (long long) c->alert_interval_ms);
    if (pw_alert_job_start(&ao, pw_alert_config_ref(cfg), &c->alerts, msg, sizeof msg) != PW_OK) {
        pw_error("alerts: %s", msg);
        return false;
    }
    return true;
}

/* Audit records past --audit-retention go, at most once an hour (R12: >= 183 d). */
static void
collector_audit_expire(collector *c)
{
    int64_t  now = pw_now_ms();
    uint64_t removed = 0;

    if (c->sec == NULL || now < c->audit_next_expire_ms)
        return;
    c->audit_next_expire_ms = now + 3600000;
    if (pw_audit_expire(c->sec, now, c->audit_retention_ms, &removed) != PW_OK)
        pw_warn("audit: expiry failed; the log is kept whole");
    else if (removed > 0)
        pw_info("audit: %llu record(s) older than the retention removed",
                (unsigned long long) removed);
}

/* The ingest's options, at start and for a SIGHUP reload alike. */
static pw_ingest_opts
collector_ingest_opts(const collector *c)
{
    return (pw_ingest_opts) {
        .url = c->listen, .contexts = (size_t) c->contexts,
        .max_inflight_bytes = c->max_inflight_bytes,
        .tls_ca = c->tls_ca, .tls_cert = c->tls_cert, .tls_key = c->tls_key,
    };
}

/*
 * SIGHUP on tls+tcp://: the listener's TLS files again (a renewed
 * certificate, a CA file with a new revocation list), R11.
 */
static void
collector_reload_tls(collector *c)
{
    pw_ingest_opts io = collector_ingest_opts(c);
    char           err[768];

    if (!pw_tls_url(c->listen))
        return;
    if (pw_ingest_reload_tls(c->ingest, &io, err, sizeof err) != PW_OK) {
        pw_error("SIGHUP: keeping the current TLS files: %s", err);
        collector_audit(c, "config.reload", "SIGHUP: TLS files not reloaded");
        return;
    }
    pw_info("SIGHUP: TLS files reloaded; listening again on %s, agents reconnect", c->listen);
    collector_audit(c, "config.reload", "SIGHUP: TLS files reloaded");
}

static int
collector_run(collector *c, const sigset_t *sigs)
{
    char            err[512];
    pw_err          rc;
    struct timespec ts = {
        .tv_sec = c->self_interval_ms / 1000, .tv_nsec = (c->self_interval_ms % 1000) * 1000000,
    };

    /* A ceiling below the default 1 GiB start must hold from the first byte. */
    if ((rc = pw_store_open_sized(c->data, 0,
                                  c->max_db_size > 0 && c->max_db_size < (1u << 30) ? c->max_db_size : 0,
                                  &c->store, err, sizeof err)) != PW_OK) {
        pw_error("%s", err);
        return 2;
    }
    if (c->max_db_size > 0)
        pw_store_set_max_size(c->store, c->max_db_size);
    if (pw_writer_start(c->store, &c->stats, (size_t) c->max_batch, &c->writer) != PW_OK) {
        pw_error("cannot start the writer thread");
        return 1;
    }
    if (pw_maintenance_start(c->store, &c->maint, &c->stats, &c->maintenance) != PW_OK) {
        pw_error("cannot start the maintenance thread");
        return 1;
    }
    /* Pools from the config file before anything computes with them. */
    if ((rc = pw_inventory_open(c->data, false, &c->inv, err, sizeof err)) != PW_OK) {
        pw_error("%s", err);
        return 2;
    }
    if (!collector_load_pools(c))
        return 1;
    if (c->capacity_interval_ms > 0) {
        pw_capjob_opts co = {
            .store = c->store, .inv = c->inv, .interval_ms = c->capacity_interval_ms,
            .host = c->self_hdr.host,
        };

        if (pw_capjob_start(&co, &c->capjob) != PW_OK) {
            pw_error("cannot start the pool capacity thread");
            return 1;
        }
    }
    if (!collector_load_alert_config(c) || !collector_start_alerts(c))
        return 1;
    if (c->report_archive_day > 0) {
        pw_report_job_opts ro = {
            .data_dir = c->data, .store = c->store, .inv = c->inv, .alerts = pw_alert_job_db(c->alerts),
            .tz = c->report_tz, .archive_day = (int) c->report_archive_day, .stats = &c->stats,
        };

        if (pw_report_job_start(&ro, &c->report_job) != PW_OK) {
            pw_error("cannot start the report archive thread");
            return 1;
        }
    }
    pw_ingest_opts  io = collector_ingest_opts(c);
    if ((rc = pw_ingest_start(&io, c->writer, &c->stats, &c->ingest, err, sizeof err)) != PW_OK) {
        pw_error("%s", err);
        return 1;
    }
    /* After ingest, so its option errors come first; before the line that says we are up. */
    if (c->http_addr == NULL || strcmp(c->http_addr, "off") != 0) {
        pw_http_opts ho = {
            .addr = c->http_addr, .tls_cert = c->http_tls_cert, .tls_key = c->http_tls_key,
            .store = c->store, .inv = c->inv, .stats = &c->stats, .started_ms = c->started_ms,
            .alerts = pw_alert_job_db(c->alerts), .data_dir = c->data, .report_tz = c->report_tz,
            .alert_config = c->alert_cfg,
        };
        char url[192], web[4096];

        if (c->web_dir == NULL)
            pw_http_static_default_dir(web, sizeof web);
        ho.web_dir = c->web_dir != NULL ? c->web_dir : web;
        if ((rc = pw_security_open(c->data, false, &c->sec, err, sizeof err)) != PW_OK) {
            pw_error("%s", err);
            return 2;
        }
        ho.sec = c->sec;
        if (pw_http_start(&ho, &c->http, err, sizeof err) != PW_OK) {
            pw_error("http: %s", err);
            return 1;
        }
        pw_http_url(c->http, url, sizeof url);
        pw_info("HTTP API on %s", url);
        if (pw_http_static_dir_ok(ho.web_dir))
            pw_info("web dashboard on %s/ (files in %s)", url, ho.web_dir);
        else
            pw_warn("no web dashboard files in %s: / answers 404 (npm ci --prefix dashboards/web, "
                    "then build; or --web-dir DIR); the API works", ho.web_dir);
    }
    collector_audit(c, "collector.start", PW_VERSION);
    pw_info("listening on %s, data in %s (%ld contexts, at most %llu bytes of frames in flight)",
            c->listen, c->data, c->contexts, (unsigned long long) c->max_inflight_bytes);
    for (;;) {
        int sig = sigtimedwait(sigs, NULL, &ts);

        if (sig == SIGTERM || sig == SIGINT) {
            pw_info("signal %d: stopping", sig);
            break;
        }
        if (sig == SIGHUP) {
            /* Options stay as started; the pools: list is read again (a bad file changes nothing). */
            bool ok = collector_load_pools(c);

            pw_info("SIGHUP: %s", c->config_path == NULL ? "no --config file to reload"
                                  : ok ? "pools reloaded" : "pools not reloaded (see above)");
            collector_audit(c, "config.reload", c->config_path == NULL ? "SIGHUP: no config file"
                            : ok ? "SIGHUP: pools reloaded" : "SIGHUP: pools not reloaded: bad file");
            if (c->config_path != NULL) {
                /*
                 * Rules again, for the alerts and the recommendations alike; a bad
                 * file keeps the running ones. States are in alerts.mdb.
                 */
                pw_alert_config *acfg = collector_alert_config(c);

                if (acfg != NULL) {
                    if (c->alerts != NULL)
                        pw_alert_job_reload(c->alerts, pw_alert_config_ref(acfg));
                    pw_http_set_alert_config(c->http, acfg);
                    pw_alert_config_free(c->alert_cfg);
                    c->alert_cfg = acfg;
                }
                pw_info("SIGHUP: %s", acfg != NULL ? "alert rules reloaded"
                                                   : "alert rules not reloaded (see above)");
                collector_audit(c, "config.reload", acfg != NULL ? "SIGHUP: alert rules reloaded"
                                : "SIGHUP: alert rules not reloaded: bad file");
            }
            collector_reload_tls(c);
        } else {
            collector_self_metrics(c);
        }
        collector_audit_expire(c);
    }
    collector_audit(c, "collector.stop", "signal");
    return 0;
}

int
main(int argc, char **argv)
{
    collector c = {
        .listen = "tcp://127.0.0.1:7410", .data = "./data",
        .prog = { .name = "poolwatch-collector", .usage = collector_usage_head },
        .contexts = 1024, .max_batch = 1024, .self_interval_ms = 10000,
        .max_inflight_bytes = 256u << 20,
        .capacity_interval_ms = 60000, .alert_interval_ms = 60000,
        .report_tz_name = PW_REPORT_TZ_DEFAULT, .report_archive_day = 1,
        .audit_retention_ms = PW_AUDIT_DEF_RETENTION_MS, .stop_timeout_ms = 30000,
        .maint = {
            .retention = { [PW_RES_RAW] = 35 * 86400000LL, [PW_RES_5M] = 396 * 86400000LL,
                           [PW_RES_1H] = 1826 * 86400000LL, [PW_RES_1D] = 1826 * 86400000LL },
            .interval_ms = 5000, .budget = 256, .dedupe_keep_ms = 35 * 86400000LL,
        },
    };
    pw_option    opts[COLLECTOR_MAX_OPTS];
    pw_watchdog *watchdog = NULL;
    pw_config    cfg = { 0 };
    sigset_t     sigs;
    char         msg[512];
    int          rc;

    c.started_ms = pw_now_ms();
    collector_options(&c, opts);
    if ((rc = pw_program_start(&c.prog, opts, &cfg, argc, argv)) >= 0)
        goto out;
    rc = 1;
    if (c.contexts < 1 || c.contexts > 4096 || c.max_batch < 1 || c.max_batch > 65536
        || c.self_interval_ms < 10 || (c.max_db_size > 0 && c.max_db_size < (256u << 10))
        || c.stop_timeout_ms < 1
        || c.maint.interval_ms < 10 || c.audit_retention_ms < PW_AUDIT_MIN_RETENTION_MS
        || (c.capacity_interval_ms != 0 && c.capacity_interval_ms < 10)
        || (c.alert_interval_ms != 0 && c.alert_interval_ms < 10)) {
        fprintf(stderr, "poolwatch-collector: --contexts 1..4096, --max-batch 1..65536, "
                        "--self-interval and --maintenance-interval >= 10ms, "
                        "--capacity-interval and --alert-interval 0 or >= 10ms, "
                        "--max-db-size 0 or >= 256KiB, --audit-retention >= 183d (R12), "
                        "--stop-timeout > 0\n");
        goto out;
    }
    if (c.max_inflight_bytes < (64u << 10)) {
        fprintf(stderr, "poolwatch-collector: --max-inflight-bytes must be at least 64KiB "
                        "(it is %llu bytes; sizes take a unit: 256MiB)\n",
                (unsigned long long) c.max_inflight_bytes);
        goto out;
    }
    if (c.report_archive_day < 0 || c.report_archive_day > 28) {
        fprintf(stderr, "poolwatch-collector: --report-archive-day 1..28 (a day every month has), or 0 = off\n");
        goto out;
    }
    /* The zone table is made with TZ and mktime: only while this is the only thread (report.h). */
    if (pw_report_tz_load(c.report_tz_name, &c.report_tz, msg, sizeof msg) != PW_OK) {
        fprintf(stderr, "poolwatch-collector: --report-timezone: %s\n", msg);
        goto out;
    }

    /* Signals are taken synchronously by this thread; block them before any
     * other thread starts so NNG's and the writer inherit the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    snprintf(c.self_hdr.agent_id, sizeof c.self_hdr.agent_id, "poolwatch-collector");
    snprintf(c.self_hdr.agent_version, sizeof c.self_hdr.agent_version, "%s", PW_VERSION);
    if (gethostname(c.self_hdr.host, sizeof c.self_hdr.host - 1) != 0 || c.self_hdr.host[0] == '\0')
        snprintf(c.self_hdr.host, sizeof c.self_hdr.host, "localhost");
    if (getrandom(c.self_hdr.boot_id, sizeof c.self_hdr.boot_id, 0) < 0)
        goto out;
    c.self_req.done = collector_self_done;
    c.self_req.arg = &c;
    if ((c.self_batch = pw_batch_new()) == NULL)
        goto out;
    c.config_path = pw_config_arg(argc, argv);
    rc = collector_run(&c, &sigs);
out:
    /*
     * Bounded: the writer commits what it holds and the jobs finish their
     * pass, but a step that hangs (an NNG close, a stuck disk) must not keep
     * an init system or an upgrade waiting. Nothing acked is at risk when
     * the deadline cuts it short: acks follow commits, and LMDB is
     * crash-safe. Only once the store is open: before that nothing ran
     * that could hang (options, help, version).
     */
    if (c.store != NULL
        && pw_watchdog_start(c.stop_timeout_ms, "LMDB keeps every committed transaction, and "
                             "agents resend the frames not acked", NULL, NULL, &watchdog) != PW_OK)
        pw_warn("cannot start the shutdown watchdog: shutdown has no deadline");
    /* Order matters: see ingest.h. The HTTP API goes first: it reads the store. */
    pw_watchdog_stage(watchdog, "stopping the HTTP API");
    pw_http_stop(c.http);
    pw_watchdog_stage(watchdog, "storing the frames received");
    pw_ingest_pause(c.ingest);
    pw_writer_stop(c.writer);
    pw_watchdog_stage(watchdog, "closing the agents' socket");
    pw_ingest_stop(c.ingest);
    pw_watchdog_stage(watchdog, "ending the maintenance pass");
    pw_maintenance_stop(c.maintenance);
    pw_watchdog_stage(watchdog, "stopping the capacity, report and alert jobs");
    pw_capjob_stop(c.capjob);
    pw_report_job_stop(c.report_job);       /* reads alerts.mdb: before the alert engine goes */
    pw_alert_job_stop(c.alerts);
    pw_watchdog_stage(watchdog, "closing the databases");
    pw_alert_config_free(c.alert_cfg);
    pw_inventory_close(c.inv);
    pw_store_close(c.store);
    pw_security_close(c.sec);
    pw_batch_free(c.self_batch);
    pw_report_tz_free(c.report_tz);
    pw_config_free(&cfg);
    pw_watchdog_stop(watchdog);
    return rc;
}
