/*
 * alert_int.h - what the alert engine's files share: rules, the rule kinds'
 * ops table, templates, receivers and the alerts.mdb write side. Not for
 * other parts of the collector (they use alert.h).
 */
#ifndef PW_ALERT_INT_H
#define PW_ALERT_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libfyaml.h>

#include "alert.h"
#include "expr.h"
#include "recommend.h"

#define PW_ALERT_NAME_MAX  128
#define PW_ALERT_MAX_RULES 1024
#define PW_ALERT_MAX_RECEIVERS 64

typedef struct pw_alert_rule pw_alert_rule;
typedef struct pw_alert_kind_ops pw_alert_kind_ops;

/* What a kind reads: a store snapshot at the pass's time, the inventory. */
typedef struct pw_alert_src {
    pw_store_txn *t;      /* read snapshot */
    pw_inventory *inv;    /* may be NULL */
    pw_rec_cache *days;   /* the engine's cache of daily figures (recommend.h); may be NULL */
} pw_alert_src;

/*
 * A kind hands each instance it finds to emit: its own labels (a JSON
 * object of strings; stolen) and value. Returns PW_OK to go on.
 */
typedef pw_err (*pw_alert_emit_fn)(void *ctx, json_t *labels, double value);

/*
 * A rule kind: one file each (alert_kind_<name>.c), one ops table. The
 * engine does thresholds, hysteresis, `for`, labels and annotations; a kind
 * only says which instances exist at t and their values.
 */
struct pw_alert_kind_ops {
    const char *name;          /* `kind:` in the config */
    const char *keys;          /* its own keys, for error messages ("expr, lookback") */
    /* Allocates r->kd with the kind's defaults. PW_ENOMEM. */
    pw_err (*init)(pw_alert_rule *r);
    /* One key of the rule that is not a common key; PW_EINVAL (msg) if unknown or bad. */
    pw_err (*option)(pw_alert_rule *r, const char *key, struct fy_node *v, char *msg, size_t len);
    /* After every key: checks the whole (compiles an expression, ...). */
    pw_err (*check)(pw_alert_rule *r, char *msg, size_t len);
    /* Every instance at t. Errors: the source's, PW_ETOOBIG, PW_ENOMEM (msg). */
    pw_err (*eval)(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_alert_emit_fn emit,
                   void *ctx, char *msg, size_t len);
    /* Frees r->kd. */
    void   (*fini)(pw_alert_rule *r);
};

extern const pw_alert_kind_ops pw_alert_kind_expr;       /* alert_kind_expr.c */
extern const pw_alert_kind_ops pw_alert_kind_pool;       /* alert_kind_pool.c */
extern const pw_alert_kind_ops pw_alert_kind_forecast;   /* alert_kind_forecast.c */
extern const pw_alert_kind_ops pw_alert_kind_nodata;     /* alert_kind_nodata.c */
extern const pw_alert_kind_ops pw_alert_kind_underuse;   /* alert_kind_underuse.c */
extern const pw_alert_kind_ops pw_alert_kind_zombie;     /* alert_kind_zombie.c */
extern const pw_alert_kind_ops pw_alert_kind_oversized;  /* alert_kind_sizing.c */
extern const pw_alert_kind_ops pw_alert_kind_undersized; /* alert_kind_sizing.c */

/*
 * r->kd of the kinds underuse, zombie, oversized and undersized: the
 * thresholds of recommend.h (the rule's `threshold:` is its minimum days),
 * so recommend.c reads a rule's settings from the same place
 * (pw_rec_rules_from_config).
 */
typedef struct pw_alert_rec_kd {
    pw_rec_rules rules;
    bool         per_system;   /* underuse: one instance per system, not per VM */
} pw_alert_rec_kd;

/* What the day-rule kinds share (alert_kind_days.c). */
typedef enum pw_alert_days_type {
    PW_ADK_RATIO, PW_ADK_BYTES, PW_ADK_DAYS, PW_ADK_HEADROOM, PW_ADK_PER
} pw_alert_days_type;
/* One key of a kind: its name, how it reads, where in pw_rec_rules it goes. */
typedef struct pw_alert_days_key {
    const char        *name;
    pw_alert_days_type type;
    size_t             off;      /* offsetof(pw_rec_rules, field) */
} pw_alert_days_key;

pw_err pw_alert_days_init(pw_alert_rule *r);       /* defaults, every: 1h */
void   pw_alert_days_fini(pw_alert_rule *r);
/* keys: ends with {NULL}. PW_EINVAL with msg for a bad value, without for an unknown key. */
pw_err pw_alert_days_option(pw_alert_rule *r, const char *key, struct fy_node *v,
                            const pw_alert_days_key *keys, char *msg, size_t len);
/* threshold must be 1..days, op above. */
pw_err pw_alert_days_check(const pw_alert_rule *r, int days, char *msg, size_t len);
/* The evaluation of rule (IDLE, ZOMBIE, OVERSIZED or UNDERSIZED) at t. */
pw_err pw_alert_days_eval(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_rec_finding rule,
                          pw_alert_emit_fn emit, void *ctx, char *msg, size_t len);

struct pw_alert_rule {
    char                     name[PW_ALERT_NAME_MAX];   /* also the alertname label */
    const pw_alert_kind_ops *kind;
    void                    *kd;          /* the kind's data (init/fini) */
    bool                     enabled;
    bool                     below;       /* fires at value <= threshold ("op: below") */
    double                   threshold, clear;
    bool                     has_clear;   /* else clear = threshold */
    int64_t                  for_ms;
    int64_t                  every_ms;    /* evaluated at most this often (`every:`; 0: every pass) */
    char                     severity[32];
    json_t                  *labels;      /* object of strings, owned */
    json_t                  *annotations; /* object of template strings, owned */
};

struct pw_alert_receiver_s;

typedef enum pw_alert_rcv_type { PW_RCV_WEBHOOK, PW_RCV_ALERTMANAGER } pw_alert_rcv_type;

typedef struct pw_alert_receiver {
    char              name[PW_ALERT_NAME_MAX];
    pw_alert_rcv_type type;
    char             *url;          /* owned: webhook URL, or Alertmanager base URL */
    char             *ca_file;      /* owned, may be NULL: PEM CAs for https (default: the system's) */
    json_t           *group_by;     /* array of label names (webhook) */
    int64_t           resend_ms;    /* alertmanager: firing alerts re-sent this often */
} pw_alert_receiver;

/*
 * Inhibition, as Alertmanager's inhibit_rules: a firing alert matching
 * `target` is not notified while one matching `source` fires with the
 * same values of every `equal` label - present in both (a label missing on
 * either side never counts as equal, unlike Alertmanager, so a critical of
 * one pool cannot hide warnings that have no pool).
 */
typedef struct pw_alert_inhibit {
    json_t *source, *target;   /* objects of label: exact value */
    json_t *equal;             /* array of label names */
} pw_alert_inhibit;

struct pw_alert_config {
    pw_alert_rule     *rules;      /* nrules; disabled ones included */
    size_t             nrules;
    pw_alert_inhibit  *inhibit;    /* ninhibit */
    size_t             ninhibit;
    bool               has_inhibit;/* the file gave inhibit: (else the defaults) */
    pw_alert_receiver *rcv;
    size_t             nrcv;
    char              *external_url; /* owned, may be NULL */
    atomic_size_t      refs;       /* holders (pw_alert_config_ref); the last free frees */
};

/* Rule kinds by name, NULL if unknown (alert_rules.c). */
const pw_alert_kind_ops *pw_alert_kind_find(const char *name);

/* YAML helpers for kinds (alert_rules.c). */
int         pw_alert_yaml_line(struct fy_node *n);
const char *pw_alert_yaml_str(struct fy_node *v);   /* a scalar's text or NULL */
bool        pw_alert_yaml_number(struct fy_node *v, double *out);
bool        pw_alert_yaml_duration(struct fy_node *v, int64_t *ms);
/*
 * A word or a list of words (`measure: used`, `measure: [allocated, used]`)
 * as bits OR-ed into *bits: names[i] sets bit i. False for another word or
 * a node that is neither; an empty list is true and sets nothing.
 */
bool        pw_alert_yaml_words(struct fy_node *v, const char *const *names, size_t n, unsigned *bits);
/* The `lookback:` key the instant kinds share: a duration into *ms, else PW_EINVAL and msg. */
pw_err      pw_alert_option_lookback(struct fy_node *v, int64_t *ms, char *msg, size_t len);

/* The measures of the pool kinds (pool_capacity, pool_forecast), as pw_alert_yaml_words bits. */
#define PW_ALERT_MEASURE_ALLOCATED 0x1u
#define PW_ALERT_MEASURE_USED      0x2u
extern const char *const pw_alert_measure_names[2];   /* "allocated", "used" */

/*
 * Evaluates expression e at t (instant, lookback ms; 0 = 5m) and calls
 * emit for every series of the result with its labels (without __name__)
 * (alert_kind_expr.c).
 */
pw_err pw_alert_instant(const pw_alert_src *src, const pw_expr *e, int64_t t, int64_t lookback,
                        pw_alert_emit_fn emit, void *ctx, char *msg, size_t len);

/* ---- templates (alert_template.c) ------------------------------------- */

/*
 * Prometheus-like: text with {{ $value }}, {{ $labels.NAME }}, optionally
 * piped through humanize, humanizePercentage or humanizeDuration
 * ({{ $value | humanizePercentage }}). PW_EINVAL (msg) on anything else.
 */
pw_err pw_alert_template_check(const char *tpl, char *msg, size_t len);
/* Renders into a malloc'd string (NULL: no memory). labels: object of strings. */
char  *pw_alert_template_render(const char *tpl, const json_t *labels, double value);

/* ---- fingerprints, states (alert_state.c) ------------------------------ */

/* 16 hex digits of FNV-1a 64 over the sorted labels: name 0xff value 0xff ... */
void pw_alert_fingerprint(const json_t *labels, char out[17]);

typedef struct pw_alert_wtxn pw_alert_wtxn;

/* A write transaction on alerts.mdb; grows the map and redoes the body when full. */
typedef pw_err (*pw_alert_wbody)(pw_alert_wtxn *w, void *ctx);
pw_err pw_alert_db_write(pw_alert_db *db, pw_alert_wbody body, void *ctx);

/* Inside a write: every active record (borrowed during cb), as pw_alert_db_active. */
pw_err pw_alert_w_active(pw_alert_wtxn *w, pw_alert_rec_cb cb, void *ctx);
/* Puts (state pending/firing) or deletes (else) the active record of rec. */
pw_err pw_alert_w_put_active(pw_alert_wtxn *w, const json_t *rec);
/* Appends a history record (time = rec's "time"). */
pw_err pw_alert_w_history(pw_alert_wtxn *w, const json_t *rec);
/* Deletes history older than before_ms; at most max records per call. */
pw_err pw_alert_w_history_expire(pw_alert_wtxn *w, int64_t before_ms, size_t max);
/* Appends a notification (receiver, url, body, ...); drops the oldest past PW_ALERT_QUEUE_MAX. */
pw_err pw_alert_w_enqueue(pw_alert_wtxn *w, const json_t *note, bool *dropped);
/* Inside a write: every silence (borrowed during cb). */
pw_err pw_alert_w_silences(pw_alert_wtxn *w, pw_alert_rec_cb cb, void *ctx);
/* Reads and writes small engine values kept across restarts ("am_last_send"). */
pw_err pw_alert_w_meta_get(pw_alert_wtxn *w, const char *key, int64_t *v);
pw_err pw_alert_w_meta_put(pw_alert_wtxn *w, const char *key, int64_t v);

/*
 * The sender's side of the queue: the first notification due at now
 * (next_ms <= now), as a new reference with its id; PW_ENOENT if none is
 * due (*next_ms gets the earliest next_ms, or INT64_MAX).
 */
pw_err pw_alert_db_queue_due(pw_alert_db *db, int64_t now, uint64_t *id, json_t **note,
                             int64_t *next_ms);
/* Deletes a sent (or given up) notification. */
pw_err pw_alert_db_queue_done(pw_alert_db *db, uint64_t id);
/* Stores a retry: attempts and next_ms of id updated. */
pw_err pw_alert_db_queue_retry(pw_alert_db *db, uint64_t id, const json_t *note);

/* True if an inhibit rule of c keeps the alert with labels from notification (alert_silence.c). */
bool pw_alert_inhibited(const pw_alert_config *c, const json_t *labels, const json_t *firing);

/* ---- notification bodies (notify_payload.c) --------------------------- */

/*
 * Alertmanager's webhook body (version "4") for one group of alerts
 * (records as stored) of receiver r: status firing if any alert fires.
 */
json_t *pw_notify_webhook_body(const pw_alert_receiver *r, const char *external_url,
                               const json_t *group_labels, const json_t *alerts, int64_t now);
/* Alertmanager's POST /api/v2/alerts body: a list of postableAlerts. */
json_t *pw_notify_am_body(const json_t *alerts, const char *external_url, int64_t ends_default);
/* An alert record as Alertmanager's alert object (status, labels, ..., fingerprint). */
json_t *pw_notify_alert(const json_t *rec, const char *external_url, bool postable,
                        int64_t ends_default);

#endif
