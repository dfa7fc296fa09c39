/*
 * alert.h - the alert engine: rules from the collector's config file
 * (`alerts:`), evaluated "as of time t" against the store, with states
 * pending -> firing -> resolved kept in DIR/alerts.mdb together with their
 * history and the queue of notifications waiting to be sent.
 *
 * Contracts (collector/README.md, "Alerts"):
 *   - pw_alert_eval_at(e, t) evaluates every rule at t, moves each alert
 *     instance through its states, and commits in ONE write transaction of
 *     alerts.mdb: the new states, one history record per transition, and
 *     the notifications those transitions cause. So a crash loses either
 *     the whole pass or nothing, and never a notification of a committed
 *     transition.
 *   - An instance is one label set of one rule: alertname (the rule's
 *     name), severity, the rule's labels and the labels its kind gives (pool,
 *     resource, measure; host; or the expression's series). Its fingerprint
 *     is a 64-bit FNV-1a hash of the sorted labels, as 16 hex digits.
 *   - Hysteresis: an instance becomes pending when its value reaches the
 *     threshold (>= for `above` rules, <= for `below`), and stays pending,
 *     then firing, until the value goes past the clear level (< clear, or >
 *     clear for `below`), or its series disappears. Pending turns firing
 *     after `for` has passed since it became pending.
 *   - Reloading rules (SIGHUP) keeps every state whose rule name is still
 *     there; instances of removed or disabled rules are resolved.
 *
 * Threads: an engine is used by one thread at a time (the collector's alert
 * thread, or a command); alerts.mdb may be read by other processes (the CLI)
 * meanwhile.
 */
#ifndef PW_ALERT_H
#define PW_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "inventory.h"
#include "pw_err.h"
#include "store.h"

typedef struct pw_alert_config pw_alert_config;   /* rules + receivers (alert_rules.c) */
typedef struct pw_alert_db pw_alert_db;           /* DIR/alerts.mdb (alert_state.c) */
typedef struct pw_alert_engine pw_alert_engine;

/* Kept at least a year (the issue asks >= 1 year); the engine deletes older history. */
#define PW_ALERT_HISTORY_RETENTION_MS (INT64_C(400) * 86400000)
/* Notifications waiting at most; past it the oldest is dropped (counted, logged). */
#define PW_ALERT_QUEUE_MAX 10000

/* ---- configuration (alert_rules.c) ------------------------------------- */

/*
 * The built-in rules, then path's `alerts:` section on top (path may be
 * NULL: the defaults alone). A rule of the file with a built-in's name
 * changes only the keys it gives; `enabled: false` turns one off. The
 * whole file is checked before anything is used: an error names file, line
 * and key. *out owned by the caller (pw_alert_config_free). PW_EIO (file),
 * PW_EINVAL (content), PW_ENOMEM.
 */
pw_err pw_alert_config_load(const char *path, pw_alert_config **out, char *msg, size_t msglen);
/* The same from YAML text (tests; name is used in messages). */
pw_err pw_alert_config_parse(const char *yaml, size_t len, const char *name,
                             pw_alert_config **out, char *msg, size_t msglen);
/*
 * A config is immutable once loaded, so threads may share it: _ref adds a
 * holder (returns c), _free drops one and frees with the last. This is how
 * the alert thread and the HTTP API judge by the same rules while SIGHUP
 * swaps them: each holds the one it started a pass or a request with.
 */
pw_alert_config *pw_alert_config_ref(pw_alert_config *c);
void   pw_alert_config_free(pw_alert_config *c);
/* Rules enabled, receivers configured. */
size_t pw_alert_config_nrules(const pw_alert_config *c);
size_t pw_alert_config_nreceivers(const pw_alert_config *c);
/* The file's alerts: external_url, or NULL. */
const char *pw_alert_config_external_url(const pw_alert_config *c);
/* Writes the rules as a JSON array (name, kind, threshold, ...); new reference. */
json_t *pw_alert_config_rules_json(const pw_alert_config *c);

/* ---- alerts.mdb (alert_state.c) --------------------------------------- */

#define PW_ALERT_DB_RDONLY 0x1u   /* read only (the CLI, also while the collector writes) */
#define PW_ALERT_DB_NOSYNC 0x2u   /* no fsync at commit: scratch databases of backtests only */

/*
 * Opens DIR/alerts.mdb (created unless PW_ALERT_DB_RDONLY). *out owned by
 * the caller (pw_alert_db_close). PW_ENOENT: read-only and missing; PW_EIO,
 * PW_EDB, PW_EVERSION, PW_ENOMEM; msg says which.
 */
pw_err pw_alert_db_open(const char *dir, unsigned flags, pw_alert_db **out, char *msg, size_t msglen);
void   pw_alert_db_close(pw_alert_db *db);

/*
 * An alert as stored and shown: the record is a JSON object
 *   {"rule","fingerprint","state":"pending|firing|resolved|inactive",
 *    "labels":{...},"annotations":{...},"value":N,
 *    "active_since":ms,"fired_at":ms|0,"resolved_at":ms|0,"updated":ms}
 * and a history record adds "time":ms and "from":state (to = "state").
 * cb gets a borrowed object; returns 0 to go on.
 */
typedef int (*pw_alert_rec_cb)(void *ctx, json_t *rec);

/* Every active (pending or firing) alert, by rule then fingerprint. */
pw_err pw_alert_db_active(pw_alert_db *db, pw_alert_rec_cb cb, void *ctx);
/* History records with from <= time <= to, oldest first. */
pw_err pw_alert_db_history(pw_alert_db *db, int64_t from, int64_t to, pw_alert_rec_cb cb, void *ctx);
/*
 * The alerts shown by `poolwatch alerts` and GET /api/v1/alerts
 * (alert_list.c): active ones (history false), or history records with
 * from <= time <= to, oldest first; tenant non-NULL keeps only those whose
 * label tenant equals it (alerts without one - pool alerts - are then left
 * out). At most limit (0: no limit; *truncated says whether more were
 * there). Each record gets "activeAt" (RFC 3339) and "value_text" too.
 * *out: a new array, owned by the caller.
 */
pw_err pw_alert_list(pw_alert_db *db, bool history, int64_t from, int64_t to, const char *tenant,
                     size_t limit, json_t **out, bool *truncated);
/*
 * Silences (alert_state.c, alert_silence.c): an alert whose labels match
 * every matcher of a silence in force (starts_ms <= t < ends_ms) changes
 * state and is kept in the history as any other, but is not notified.
 * A silence is a JSON object {"matchers":[{"name","op","value"}],
 * "starts_ms","ends_ms","author","comment","created_ms"}; ops =, !=, =~,
 * !~ (POSIX extended regexes, anchored, as Alertmanager's). add takes a
 * reference to nothing (silence is borrowed; gets "id"); expire ends it
 * now (PW_ENOENT for an unknown id); silences lists every one, oldest
 * first, also those that ended.
 */
pw_err pw_alert_silence_add(pw_alert_db *db, json_t *silence, uint64_t *id);
pw_err pw_alert_silence_expire(pw_alert_db *db, uint64_t id, int64_t now);
pw_err pw_alert_silences(pw_alert_db *db, pw_alert_rec_cb cb, void *ctx);
/*
 * Parses a matcher "name=value", "name!=value", "name=~regex",
 * "name!~regex" into a new object {"name","op","value"}. PW_EINVAL (msg).
 */
pw_err pw_alert_matcher_parse(const char *s, json_t **out, char *msg, size_t msglen);
/* True if labels satisfy every matcher of the array. */
bool   pw_alert_matchers_match(const json_t *matchers, const json_t *labels);

/* Notifications waiting in the queue. */
pw_err pw_alert_db_queue_count(pw_alert_db *db, size_t *n);

/* ---- engine (alert_eval.c) --------------------------------------------- */

typedef struct pw_alert_engine_opts {
    pw_store     *store;         /* borrowed; read snapshots only */
    pw_inventory *inv;           /* borrowed, may be NULL: no pool hosts for host_down */
    pw_alert_db  *db;            /* borrowed */
    const char   *external_url;  /* copied; for generatorURL and externalURL; NULL: "" */
    bool          notify;        /* enqueue notifications (false: backtests) */
} pw_alert_engine_opts;

/* cfg is borrowed until replaced or the engine is freed. PW_ENOMEM. */
pw_err pw_alert_engine_new(const pw_alert_engine_opts *o, const pw_alert_config *cfg,
                           pw_alert_engine **out);
/* Uses cfg from the next pass on (borrowed; the caller frees the old one after this). */
void   pw_alert_engine_set_config(pw_alert_engine *e, const pw_alert_config *cfg);
void   pw_alert_engine_free(pw_alert_engine *e);

/* What one pass did. */
typedef struct pw_alert_pass {
    size_t instances;      /* label sets evaluated */
    size_t pending, firing;/* active after the pass */
    size_t transitions;    /* history records written */
    size_t notifications;  /* queued */
    size_t rule_errors;    /* rules whose evaluation failed (msg: the first) */
} pw_alert_pass;

/*
 * Evaluates every rule at t (ms) and commits states, history and queued
 * notifications. A rule whose kind fails (a store error, a query limit) is
 * skipped - its instances keep their states - and counted; the pass goes
 * on. Errors returned: the store cannot be read, alerts.mdb cannot be
 * written (PW_EFULL, PW_EDB), PW_ENOMEM. msg gets the first problem.
 */
pw_err pw_alert_eval_at(pw_alert_engine *e, int64_t t, pw_alert_pass *pass, char *msg, size_t msglen);

/* ---- the collector's threads (alert_job.c) ----------------------------- */

typedef struct pw_alert_job pw_alert_job;

typedef struct pw_alert_job_opts {
    pw_store     *store;         /* borrowed */
    pw_inventory *inv;           /* borrowed, may be NULL */
    const char   *data_dir;      /* DIR/alerts.mdb */
    int64_t       interval_ms;   /* > 0 */
    const char   *external_url;  /* copied */
} pw_alert_job_opts;

/*
 * Opens alerts.mdb, starts the evaluation thread (every interval_ms, at
 * now) and the sender thread (notify.h). cfg is taken over. PW_ENOMEM,
 * alerts.mdb errors (msg).
 */
pw_err pw_alert_job_start(const pw_alert_job_opts *o, pw_alert_config *cfg, pw_alert_job **out,
                          char *msg, size_t msglen);
/* Swaps the rules (SIGHUP); cfg is taken over. States are kept. */
void   pw_alert_job_reload(pw_alert_job *j, pw_alert_config *cfg);
/* The database, for the HTTP API (borrowed; lives as long as the job). */
pw_alert_db *pw_alert_job_db(pw_alert_job *j);
/* Finishes the pass and send under way, joins the threads. NULL is fine. */
void   pw_alert_job_stop(pw_alert_job *j);

#endif
