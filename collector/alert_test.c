/*
 * alert_test.c - the alert engine on a real temporary store: rule config
 * (defaults, overrides, errors with lines), templates, hysteresis without
 * flapping, `for`, reload keeping state, silent agents, notification
 * bodies and the persisted queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alert_int.h"
#include "batch.h"
#include "test_fixture.h"
#include "wire.h"

#define T0  INT64_C(1767225600000)    /* 2026-01-01T00:00:00Z */
#define MIN INT64_C(60000)

typedef struct fx {
    char            *dir;
    pw_store        *store;
    pw_alert_db     *db;
    pw_alert_config *cfg;
    pw_alert_engine *eng;
} fx;

/* Stores one sample of metric{labels...} at ts. */
static void
put(fx *f, const char *metric, int64_t ts, double v, ...)
{
    pw_batch       *b = pw_batch_new();
    pw_frame_header hdr = { .ts_ms = ts, .seq = 1 };
    pw_frame        fr;
    pw_store_txn   *t;
    const char     *names[8], *vals[8];
    size_t          n = 0;
    void           *buf;
    size_t          len;
    char            err[256];
    va_list         ap;
    pw_label        labels[8];

    va_start(ap, v);
    while (n < 8 && (names[n] = va_arg(ap, const char *)) != NULL) {
        vals[n] = va_arg(ap, const char *);
        labels[n].name = names[n];
        labels[n].value = vals[n];
        n++;
    }
    va_end(ap);
    snprintf(hdr.agent_id, sizeof hdr.agent_id, "test");
    snprintf(hdr.host, sizeof hdr.host, "test");
    assert_non_null(b);
    assert_int_equal(pw_batch_group(b, ts), PW_OK);
    assert_int_equal(pw_batch_add(b, metric, v, n, labels), PW_OK);
    assert_int_equal(pw_wire_encode(&hdr, b, &buf, &len), PW_OK);
    assert_int_equal(pw_wire_decode(buf, len, &fr, err, sizeof err), PW_OK);
    free(buf);
    assert_int_equal(pw_store_write_begin(f->store, &t), PW_OK);
    assert_int_equal(pw_store_write_samples(t, &fr), PW_OK);
    assert_int_equal(pw_store_write_commit(t), PW_OK);
    pw_frame_release(&fr);
    pw_batch_free(b);
}

static void
fx_config(fx *f, const char *yaml)
{
    char msg[512];

    pw_alert_config_free(f->cfg);
    f->cfg = NULL;
    if (pw_alert_config_parse(yaml, yaml ? strlen(yaml) : 0, "test.yaml", &f->cfg, msg, sizeof msg) != PW_OK)
        fail_msg("config: %s", msg);
    if (f->eng != NULL)
        pw_alert_engine_set_config(f->eng, f->cfg);
}

static int
fx_setup(void **state)
{
    fx  *f = calloc(1, sizeof *f);
    char msg[512];
    pw_alert_engine_opts o = { 0 };

    f->dir = tf_tmpdir();
    assert_int_equal(pw_store_open(f->dir, 0, &f->store, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_alert_db_open(f->dir, 0, &f->db, msg, sizeof msg), PW_OK);
    fx_config(f, NULL);
    o.store = f->store;
    o.db = f->db;
    o.external_url = "http://pw.example";
    o.notify = true;
    assert_int_equal(pw_alert_engine_new(&o, f->cfg, &f->eng), PW_OK);
    *state = f;
    return 0;
}

static int
fx_teardown(void **state)
{
    fx *f = *state;

    pw_alert_engine_free(f->eng);
    pw_alert_config_free(f->cfg);
    pw_alert_db_close(f->db);
    pw_store_close(f->store);
    tf_rmdir(f->dir);
    free(f);
    return 0;
}

static void
step(fx *f, int64_t t)
{
    char          msg[512];
    pw_alert_pass p;

    if (pw_alert_eval_at(f->eng, t, &p, msg, sizeof msg) != PW_OK)
        fail_msg("eval at %lld: %s", (long long) t, msg);
    assert_int_equal(p.rule_errors, 0);
}

/* History of one rule, collected as "from>to@minute" strings. */
typedef struct hist {
    const char *rule;
    const char *measure;
    char        text[4096];
    size_t      n;
    json_t     *last;
} hist;

static int
hist_cb(void *ctx, json_t *rec)
{
    hist       *h = ctx;
    const char *m = json_string_value(json_object_get(json_object_get(rec, "labels"), "measure"));
    size_t      o = strlen(h->text);

    if (strcmp(json_string_value(json_object_get(rec, "rule")), h->rule) != 0
        || (h->measure != NULL && (m == NULL || strcmp(m, h->measure) != 0)))
        return 0;
    snprintf(h->text + o, sizeof h->text - o, "%s%s>%s@%lld", h->n ? " " : "",
             json_string_value(json_object_get(rec, "from")),
             json_string_value(json_object_get(rec, "state")),
             (long long) ((json_integer_value(json_object_get(rec, "time")) - T0) / MIN));
    h->n++;
    json_decref(h->last);
    h->last = json_incref(rec);
    return 0;
}

static void
history(fx *f, hist *h)
{
    h->text[0] = '\0';
    h->n = 0;
    assert_int_equal(pw_alert_db_history(f->db, INT64_MIN, INT64_MAX, hist_cb, h), PW_OK);
}

/* ---- config ---------------------------------------------------------- */

static void
test_defaults(void **state)
{
    fx          *f = *state;
    const char  *names[] = { "PoolCapacityWarning", "PoolCapacityCritical", "PoolCapacityForecast",
                             "AgentSilent", "HostDown", "VMUnderused", "SystemUnderused", "VMZombie",
                             "VMOversized", "VMUndersized" };

    assert_int_equal(f->cfg->nrules, 10);
    for (size_t i = 0; i < 10; i++)
        assert_string_equal(f->cfg->rules[i].name, names[i]);
    assert_true(f->cfg->rules[0].threshold == 0.7 && f->cfg->rules[0].clear == 0.65);
    assert_int_equal(f->cfg->rules[0].for_ms, 15 * MIN);
    assert_true(f->cfg->rules[1].threshold == 0.85);
    assert_true(f->cfg->rules[2].below && f->cfg->rules[2].threshold == 30);
    assert_int_equal(pw_alert_config_nreceivers(f->cfg), 0);
}

static void
test_override_and_errors(void **state)
{
    fx              *f = *state;
    pw_alert_config *c = NULL;
    char             msg[512];
    const char      *ok =
        "pools: []\n"
        "alerts:\n"
        "  rules:\n"
        "    - name: PoolCapacityWarning\n"
        "      threshold: 75%\n"
        "      labels: {team: ops}\n"
        "    - name: AgentSilent\n"
        "      enabled: false\n"
        "    - name: TenantLoad\n"
        "      kind: expr\n"
        "      expr: 'node_load1'\n"
        "      threshold: 4\n"
        "      annotations: {summary: 'load {{ $value }} on {{ $labels.host }}'}\n"
        "  receivers:\n"
        "    - {name: ops, type: webhook, url: 'http://127.0.0.1:9/hook'}\n";
    struct { const char *yaml, *want; } bad[] = {
        { "alerts:\n  rules:\n    - name: X\n      kind: expr\n      expr: up\n      threshold: 1\n      bogus: 2\n",
          "test.yaml:7: alerts: rule X: unknown key \"bogus\"" },
        { "alerts:\n  rules:\n    - name: X\n      kind: nope\n", "unknown kind \"nope\"" },
        { "alerts:\n  rules:\n    - name: X\n      kind: expr\n      expr: 'rate(up'\n      threshold: 1\n",
          "rule X: expr:" },
        { "alerts:\n  rules:\n    - name: PoolCapacityWarning\n      clear: 0.9\n", "clear (0.9) must be" },
        { "alerts:\n  rules:\n    - name: X\n      kind: expr\n      expr: up\n      threshold: 1\n"
          "      annotations: {a: '{{ $foo }}'}\n", "is not supported" },
        { "alerts:\n  receivers:\n    - {name: a, type: email, url: 'http://x'}\n", "type must be webhook" },
        { "alerts:\n  rules:\n    - name: PoolCapacityWarning\n      kind: expr\n", "its kind cannot change" },
        { "alerts:\n  rules:\n    - {name: AgentSilent, threshold: 4}\n    - {name: AgentSilent, threshold: 5}\n",
          "test.yaml:4: alerts: rules: \"AgentSilent\" is defined twice" },
        { "alerts:\n  inhibit:\n    - {source: {severity: critical}, equal: [pool]}\n",
          "inhibit: each entry needs source, target and equal" },
    };

    (void) f;
    if (pw_alert_config_parse(ok, strlen(ok), "test.yaml", &c, msg, sizeof msg) != PW_OK)
        fail_msg("%s", msg);
    assert_int_equal(c->nrules, 11);
    assert_true(c->rules[0].threshold == 0.75 && c->rules[0].clear == 0.65);
    assert_string_equal(json_string_value(json_object_get(c->rules[0].labels, "team")), "ops");
    assert_false(c->rules[3].enabled);
    assert_int_equal(pw_alert_config_nrules(c), 10);
    assert_int_equal(c->nrcv, 1);
    assert_int_equal(json_array_size(c->rcv[0].group_by), 2);
    pw_alert_config_free(c);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = NULL;
        msg[0] = '\0';
        assert_int_equal(pw_alert_config_parse(bad[i].yaml, strlen(bad[i].yaml), "test.yaml", &c, msg,
                                               sizeof msg), PW_EINVAL);
        assert_null(c);
        if (strstr(msg, bad[i].want) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, msg, bad[i].want);
    }
}

static void
test_template(void **state)
{
    json_t *l = json_pack("{s:s,s:s}", "pool", "p1", "resource", "cpu");
    char   *s;
    char    msg[256];

    (void) state;
    s = pw_alert_template_render("Pool {{ $labels.pool }} {{$labels.resource}} at "
                                 "{{ $value | humanizePercentage }} ({{ $value }}) {{ $labels.none }}.", l, 0.7234);
    assert_string_equal(s, "Pool p1 cpu at 72.34% (0.7234) .");
    free(s);
    s = pw_alert_template_render("{{ $value | humanize }} {{ $value | humanizeDuration }}", l, 93784);
    assert_string_equal(s, "93.78k 1d 2h 3m 4s");
    free(s);
    assert_int_equal(pw_alert_template_check("{{ $value | printf }}", msg, sizeof msg), PW_EINVAL);
    assert_int_equal(pw_alert_template_check("{{ $value", msg, sizeof msg), PW_EINVAL);
    assert_int_equal(pw_alert_template_check("plain {{ .Labels.pool }}", msg, sizeof msg), PW_OK);
    json_decref(l);
}

/* ---- hysteresis ------------------------------------------------------ */

/*
 * Allocated CPU ratio of pool p1 every minute: 0.5 for 10 min, then noise
 * between 0.66 and 0.75 crossing 70 % back and forth for 2 hours, then 0.6.
 * Fires once (15 min after first reaching 70 %), stays firing through the
 * noise, resolves at the first value below 65 %.
 */
static double
noisy(int m)
{
    static const double noise[] = { 0.72, 0.66, 0.75, 0.68, 0.71, 0.69, 0.74, 0.67, 0.70, 0.66 };

    if (m < 10)
        return 0.5;
    if (m < 130)
        return noise[m % 10];
    return 0.6;
}

static void
test_no_flapping(void **state)
{
    fx     *f = *state;
    hist    h = { .rule = "PoolCapacityWarning", .measure = "allocated" };
    hist    c = { .rule = "PoolCapacityCritical" };
    size_t  nq;

    fx_config(f, "alerts:\n  receivers:\n    - {name: ops, type: webhook, url: 'http://127.0.0.1:9/h'}\n");
    for (int m = 0; m <= 140; m++) {
        put(f, "poolwatch_pool_allocated_ratio", T0 + m * MIN, noisy(m), "pool", "p1", "resource", "cpu", NULL);
        put(f, "poolwatch_pool_used_ratio", T0 + m * MIN, 0.3, "pool", "p1", "resource", "cpu", NULL);
        step(f, T0 + m * MIN);
    }
    history(f, &h);
    /* m = 10 is 0.72 (pending), 15 min later firing, resolved at m = 130 (0.6). */
    assert_string_equal(h.text, "inactive>pending@10 pending>firing@25 firing>resolved@130");
    assert_true(json_real_value(json_object_get(h.last, "value")) == 0.6);
    assert_string_equal(json_string_value(json_object_get(json_object_get(h.last, "labels"), "severity")),
                        "warning");
    history(f, &c);
    assert_int_equal(c.n, 0);
    /* One webhook message when it fired, one when it resolved. */
    assert_int_equal(pw_alert_db_queue_count(f->db, &nq), PW_OK);
    assert_int_equal(nq, 2);
    json_decref(h.last);
    json_decref(c.last);
}

/* Pending that falls below the clear level before `for` ends never fires. */
static void
test_pending_cancelled(void **state)
{
    fx  *f = *state;
    hist h = { .rule = "PoolCapacityWarning", .measure = "used" };

    for (int m = 0; m <= 30; m++) {
        double v = m >= 5 && m < 12 ? 0.71 : 0.5;

        put(f, "poolwatch_pool_used_ratio", T0 + m * MIN, v, "pool", "p2", "resource", "memory", NULL);
        step(f, T0 + m * MIN);
    }
    history(f, &h);
    assert_string_equal(h.text, "inactive>pending@5 pending>inactive@12");
    json_decref(h.last);
}

/* SIGHUP: new rules, same names, the state goes on; a removed rule resolves. */
static void
test_reload_keeps_state(void **state)
{
    fx    *f = *state;
    hist   h = { .rule = "PoolCapacityCritical" };

    fx_config(f, "alerts:\n  rules:\n    - {name: PoolCapacityCritical, for: 0}\n");
    put(f, "poolwatch_pool_allocated_ratio", T0, 0.9, "pool", "p3", "resource", "cpu", NULL);
    step(f, T0);
    fx_config(f, "alerts:\n  rules:\n    - {name: PoolCapacityCritical, for: 0, labels: {x: y}}\n");
    put(f, "poolwatch_pool_allocated_ratio", T0 + MIN, 0.9, "pool", "p3", "resource", "cpu", NULL);
    step(f, T0 + MIN);
    history(f, &h);
    /* The label set changed (x=y): the old instance resolves, the new one fires. */
    assert_string_equal(h.text, "inactive>firing@0 firing>resolved@1 inactive>firing@1");
    fx_config(f, "alerts:\n  rules:\n    - {name: PoolCapacityCritical, for: 0, labels: {x: y}}\n");
    put(f, "poolwatch_pool_allocated_ratio", T0 + 2 * MIN, 0.9, "pool", "p3", "resource", "cpu", NULL);
    step(f, T0 + 2 * MIN);
    history(f, &h);
    assert_int_equal(h.n, 3);                   /* same rules again: nothing moves */
    fx_config(f, "alerts:\n  rules:\n    - {name: PoolCapacityCritical, enabled: false}\n");
    step(f, T0 + 3 * MIN);
    history(f, &h);
    assert_int_equal(h.n, 4);
    assert_string_equal(json_string_value(json_object_get(h.last, "state")), "resolved");
    json_decref(h.last);
}

/* An agent every 10 s that stops: silent for 3 intervals fires, data again resolves. */
static void
test_nodata(void **state)
{
    fx  *f = *state;
    hist h = { .rule = "AgentSilent" };
    int64_t stop = T0 + 10 * MIN;

    for (int64_t ts = T0; ts <= stop; ts += 10000)
        put(f, "poolwatch_agent_frame_seq", ts, (double) ts, "host", "h1", "boot", "b1", NULL);
    step(f, stop + 20000);         /* 2 intervals */
    history(f, &h);
    assert_int_equal(h.n, 0);
    step(f, stop + 31000);         /* 3.1 intervals */
    history(f, &h);
    assert_string_equal(h.text, "inactive>firing@10");
    assert_true(json_real_value(json_object_get(h.last, "value")) == 3.1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(h.last, "annotations"), "summary")),
                        "No data from host h1 for 3.1 of its intervals");
    step(f, stop + 2 * 3600000);   /* silent past the hour of raw samples: still firing */
    history(f, &h);
    assert_int_equal(h.n, 1);
    put(f, "poolwatch_agent_frame_seq", stop + 2 * 3600000 + 5000, 1, "host", "h1", "boot", "b2", NULL);
    step(f, stop + 2 * 3600000 + 6000);
    history(f, &h);
    assert_int_equal(h.n, 2);
    assert_string_equal(json_string_value(json_object_get(h.last, "state")), "resolved");
    json_decref(h.last);
}

static int
first_note(void *ctx, json_t *rec)
{
    (void) ctx;
    (void) rec;
    return 0;
}

/* The webhook body has Alertmanager's version 4 shape. */
static void
test_webhook_body(void **state)
{
    fx      *f = *state;
    uint64_t id;
    json_t  *note = NULL, *body, *a;
    int64_t  next;

    fx_config(f, "alerts:\n  rules:\n    - {name: PoolCapacityCritical, for: 0}\n"
                 "  receivers:\n    - {name: ops, type: webhook, url: 'http://127.0.0.1:9/h'}\n"
                 "    - {name: am, type: alertmanager, url: 'http://127.0.0.1:9'}\n");
    put(f, "poolwatch_pool_used_ratio", T0, 0.95, "pool", "p9", "resource", "storage", NULL);
    step(f, T0);
    assert_int_equal(pw_alert_db_queue_due(f->db, T0, &id, &note, &next), PW_OK);
    assert_string_equal(json_string_value(json_object_get(note, "receiver")), "ops");
    body = json_object_get(note, "body");
    assert_string_equal(json_string_value(json_object_get(body, "version")), "4");
    assert_string_equal(json_string_value(json_object_get(body, "status")), "firing");
    assert_string_equal(json_string_value(json_object_get(body, "groupKey")), "{}:{pool=\"p9\"}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "groupLabels"), "pool")), "p9");
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "commonLabels"), "alertname")),
                        "PoolCapacityCritical");
    assert_string_equal(json_string_value(json_object_get(body, "externalURL")), "http://pw.example");
    a = json_array_get(json_object_get(body, "alerts"), 0);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "firing");
    assert_string_equal(json_string_value(json_object_get(a, "startsAt")), "2026-01-01T00:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(a, "endsAt")), "0001-01-01T00:00:00Z");
    assert_int_equal(strlen(json_string_value(json_object_get(a, "fingerprint"))), 16);
    assert_non_null(json_object_get(a, "generatorURL"));
    assert_int_equal(pw_alert_db_queue_done(f->db, id), PW_OK);
    json_decref(note);
    /* Then Alertmanager's list of postable alerts. */
    assert_int_equal(pw_alert_db_queue_due(f->db, T0, &id, &note, &next), PW_OK);
    assert_string_equal(json_string_value(json_object_get(note, "type")), "alertmanager");
    body = json_object_get(note, "body");
    assert_true(json_is_array(body));
    a = json_array_get(body, 0);
    assert_null(json_object_get(a, "status"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "labels"), "pool")), "p9");
    /* A retry later: not due now. */
    json_object_set_new(note, "next_ms", json_integer(T0 + MIN));
    assert_int_equal(pw_alert_db_queue_retry(f->db, id, note), PW_OK);
    json_decref(note);
    assert_int_equal(pw_alert_db_queue_due(f->db, T0, &id, &note, &next), PW_ENOENT);
    assert_int_equal(next, T0 + MIN);
    assert_int_equal(pw_alert_db_active(f->db, first_note, NULL), PW_OK);
}


/* Count queued notifications, and the labels of the alerts in the newest one. */
typedef struct qseen {
    size_t n;
    json_t *last;
} qseen;

static void
queue_drain(fx *f, int64_t now, qseen *q)
{
    uint64_t id;
    json_t  *note;
    int64_t  next;

    while (pw_alert_db_queue_due(f->db, now, &id, &note, &next) == PW_OK) {
        q->n++;
        json_decref(q->last);
        q->last = json_incref(json_object_get(json_object_get(note, "body"), "alerts"));
        json_decref(note);
        assert_int_equal(pw_alert_db_queue_done(f->db, id), PW_OK);
    }
}

static int
find_active(void *ctx, json_t *rec)
{
    json_t *arr = ctx;

    json_array_append(arr, rec);
    return 0;
}

/* A critical of the same pool, resource and measure keeps the warning from notification. */
static void
test_inhibition(void **state)
{
    fx     *f = *state;
    qseen   q = { 0 };
    json_t *act = json_array(), *a;
    size_t  i, inhibited = 0;

    fx_config(f, "alerts:\n  rules:\n    - {name: PoolCapacityWarning, for: 0}\n"
                 "    - {name: PoolCapacityCritical, for: 0}\n"
                 "  receivers:\n    - {name: ops, type: webhook, url: 'http://127.0.0.1:9/h'}\n");
    put(f, "poolwatch_pool_allocated_ratio", T0, 0.9, "pool", "p5", "resource", "cpu", NULL);
    put(f, "poolwatch_pool_used_ratio", T0, 0.75, "pool", "p5", "resource", "cpu", NULL);
    step(f, T0);
    queue_drain(f, T0, &q);
    assert_int_equal(q.n, 1);
    /* allocated: critical only; used (0.75): its warning, nothing inhibits it. */
    assert_int_equal(json_array_size(q.last), 2);
    json_array_foreach(q.last, i, a) {
        json_t *l = json_object_get(a, "labels");

        assert_true(strcmp(json_string_value(json_object_get(l, "measure")), "used") == 0
                    ? strcmp(json_string_value(json_object_get(l, "severity")), "warning") == 0
                    : strcmp(json_string_value(json_object_get(l, "severity")), "critical") == 0);
    }
    assert_int_equal(pw_alert_db_active(f->db, find_active, act), PW_OK);
    assert_int_equal(json_array_size(act), 3);
    json_array_foreach(act, i, a)
        inhibited += json_is_true(json_object_get(a, "inhibited"));
    assert_int_equal(inhibited, 1);
    /* The critical resolves at 0.79 (clear 0.8): the warning is notified now. */
    put(f, "poolwatch_pool_allocated_ratio", T0 + MIN, 0.79, "pool", "p5", "resource", "cpu", NULL);
    put(f, "poolwatch_pool_used_ratio", T0 + MIN, 0.75, "pool", "p5", "resource", "cpu", NULL);
    step(f, T0 + MIN);
    queue_drain(f, T0 + MIN, &q);
    assert_int_equal(q.n, 2);
    json_array_foreach(q.last, i, a) {
        json_t *l = json_object_get(a, "labels");

        if (strcmp(json_string_value(json_object_get(l, "measure")), "allocated") == 0)
            assert_string_equal(json_string_value(json_object_get(a, "status")),
                                strcmp(json_string_value(json_object_get(l, "severity")), "critical") == 0
                                ? "resolved" : "firing");
    }
    assert_int_equal(json_array_size(q.last), 3);
    json_decref(q.last);
    json_decref(act);
}

/* A silence in force keeps an alert from notification; when it ends, it is notified. */
static void
test_silence(void **state)
{
    fx      *f = *state;
    qseen    q = { 0 };
    json_t  *m1 = NULL, *m2 = NULL, *sil, *act = json_array();
    char     msg[256];
    uint64_t id;

    fx_config(f, "alerts:\n  rules:\n    - {name: PoolCapacityCritical, for: 0}\n"
                 "  receivers:\n    - {name: ops, type: webhook, url: 'http://127.0.0.1:9/h'}\n");
    assert_int_equal(pw_alert_matcher_parse("pool=p6", &m1, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_alert_matcher_parse("alertname=~Pool.*Critical", &m2, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_alert_matcher_parse("=x", &sil, msg, sizeof msg), PW_EINVAL);
    assert_int_equal(pw_alert_matcher_parse("a=~(", &sil, msg, sizeof msg), PW_EINVAL);
    sil = json_pack("{s:[oo],s:I,s:I,s:s,s:s}", "matchers", m1, m2, "starts_ms", (json_int_t) T0,
                    "ends_ms", (json_int_t) (T0 + 10 * MIN), "author", "tester", "comment", "maintenance");
    assert_int_equal(pw_alert_silence_add(f->db, sil, &id), PW_OK);
    json_decref(sil);
    for (int m = 0; m <= 12; m++) {
        put(f, "poolwatch_pool_used_ratio", T0 + m * MIN, 0.9, "pool", "p6", "resource", "memory", NULL);
        put(f, "poolwatch_pool_used_ratio", T0 + m * MIN, 0.9, "pool", "p7", "resource", "memory", NULL);
        step(f, T0 + m * MIN);
        queue_drain(f, T0 + m * MIN, &q);
        if (m == 0) {
            /* p7 only (groups are per pool). */
            assert_int_equal(q.n, 1);
            assert_string_equal(json_string_value(json_object_get(json_object_get(
                json_array_get(q.last, 0), "labels"), "pool")), "p7");
        }
    }
    /* The silence ended at minute 10: p6 was notified then, once. */
    assert_int_equal(q.n, 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(
        json_array_get(q.last, 0), "labels"), "pool")), "p6");
    assert_int_equal(pw_alert_db_active(f->db, find_active, act), PW_OK);
    assert_int_equal(json_array_size(json_object_get(json_array_get(act, 0), "silenced_by")), 0);
    assert_int_equal(pw_alert_silence_expire(f->db, id, T0), PW_OK);
    assert_int_equal(pw_alert_silence_expire(f->db, id + 100, T0), PW_ENOENT);
    json_decref(q.last);
    json_decref(act);
}

/* HostDown: only the hosts of the inventory's pools, labelled with their pool. */
static void
test_host_down(void **state)
{
    fx           *f = *state;
    hist          h = { .rule = "HostDown" }, a = { .rule = "AgentSilent" };
    pw_inventory *inv = NULL;
    pw_alert_engine *eng = NULL;
    pw_alert_engine_opts o = { .store = f->store, .db = f->db, .notify = false };
    const char   *hosts[] = { "hv1", "hv-never" };
    pw_pool_def   def = { .name = "pool-a", .hosts = hosts, .nhosts = 2,
                          .cpu_overcommit = 1, .memory_overcommit = 1 };
    char          msg[512];
    pw_alert_pass p;
    int64_t       stop = T0 + 10 * MIN;

    assert_int_equal(pw_inventory_open(f->dir, false, &inv, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_inventory_pool_set(inv, T0 - MIN, &def), PW_OK);
    o.inv = inv;
    assert_int_equal(pw_alert_engine_new(&o, f->cfg, &eng), PW_OK);
    for (int64_t ts = T0; ts <= stop; ts += 10000) {
        put(f, "poolwatch_agent_frame_seq", ts, 1, "host", "hv1", "boot", "b", NULL);
        put(f, "poolwatch_agent_frame_seq", ts, 1, "host", "node9", "boot", "b", NULL);
    }
    assert_int_equal(pw_alert_eval_at(eng, stop + 40000, &p, msg, sizeof msg), PW_OK);
    history(f, &h);
    history(f, &a);
    assert_string_equal(h.text, "inactive>firing@10");
    assert_string_equal(json_string_value(json_object_get(json_object_get(h.last, "labels"), "pool")), "pool-a");
    assert_string_equal(json_string_value(json_object_get(json_object_get(h.last, "labels"), "host")), "hv1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(h.last, "labels"), "severity")),
                        "critical");
    /* Every silent agent is AgentSilent; a pool host that never reported is neither. */
    assert_int_equal(a.n, 2);
    pw_alert_engine_free(eng);
    pw_inventory_close(inv);
    json_decref(h.last);
    json_decref(a.last);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_override_and_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_template, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_flapping, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pending_cancelled, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_state, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_nodata, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_webhook_body, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_inhibition, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_silence, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_host_down, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
