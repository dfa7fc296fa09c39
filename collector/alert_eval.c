/*
 * alert_eval.c - the alert engine (alert.h): one pass evaluates every rule
 * at t through its kind, then, in one write transaction of alerts.mdb,
 * moves each instance through pending -> firing -> resolved, appends the
 * history and queues the notifications.
 */
#include "alert_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct pw_alert_engine {
    pw_store              *store;
    pw_inventory          *inv;
    pw_alert_db           *db;
    const pw_alert_config *cfg;
    char                  *external_url;
    bool                   notify;
    pw_rec_cache          *days;       /* daily figures of complete days, for the day rules */
    json_t                *last_eval;  /* rule name -> t of its last evaluation (`every:`) */
};

/* One label set of one rule found at t. */
typedef struct ae_inst {
    size_t  rule;            /* index in cfg->rules */
    json_t *labels;          /* full: alertname, severity, rule labels, kind labels */
    double  value;
    char    fp[17];
    bool    matched;
} ae_inst;

typedef struct ae_pass {
    pw_alert_engine *e;
    int64_t          t;
    ae_inst         *in;
    size_t           nin, capin;
    bool            *failed;     /* per rule: its kind failed this pass */
    size_t           cur_rule;
    bool             nomem;
    /* write side */
    json_t          *active;     /* array of records at the start of the txn */
    json_t          *changed;    /* records that fired or resolved in this pass */
    json_t          *firing;     /* every firing record after the pass */
    json_t          *silences;   /* silences in force at t */
    pw_alert_pass    st;
} ae_pass;

pw_err
pw_alert_engine_new(const pw_alert_engine_opts *o, const pw_alert_config *cfg, pw_alert_engine **out)
{
    pw_alert_engine *e = calloc(1, sizeof *e);

    *out = NULL;
    if (e == NULL || (e->external_url = strdup(o->external_url ? o->external_url : "")) == NULL
        || (e->last_eval = json_object()) == NULL || pw_rec_cache_new(&e->days) != PW_OK) {
        if (e != NULL) {
            free(e->external_url);
            json_decref(e->last_eval);
        }
        free(e);
        return PW_ENOMEM;
    }
    e->store = o->store;
    e->inv = o->inv;
    e->db = o->db;
    e->cfg = cfg;
    e->notify = o->notify;
    *out = e;
    return PW_OK;
}

void
pw_alert_engine_set_config(pw_alert_engine *e, const pw_alert_config *cfg)
{
    e->cfg = cfg;
}

void
pw_alert_engine_free(pw_alert_engine *e)
{
    if (e == NULL)
        return;
    free(e->external_url);
    json_decref(e->last_eval);
    pw_rec_cache_free(e->days);
    free(e);
}

/* ---- evaluation ---------------------------------------------------------- */

static pw_err
ae_emit(void *ctx, json_t *labels, double value)
{
    ae_pass             *p = ctx;
    const pw_alert_rule *r = &p->e->cfg->rules[p->cur_rule];
    ae_inst             *in;
    const char          *k;
    json_t              *v;

    if (isnan(value)) {
        json_decref(labels);
        return PW_OK;
    }
    if (p->nin == p->capin) {
        size_t   cap = p->capin ? p->capin * 2 : 64;
        ae_inst *n = realloc(p->in, cap * sizeof *n);

        if (n == NULL) {
            json_decref(labels);
            return PW_ENOMEM;
        }
        p->in = n;
        p->capin = cap;
    }
    /* The rule's labels win over the series', as in Prometheus. */
    json_object_foreach(r->labels, k, v)
        json_object_set(labels, k, v);
    if (json_object_set_new(labels, "alertname", json_string(r->name)) != 0
        || json_object_set_new(labels, "severity", json_string(r->severity)) != 0) {
        json_decref(labels);
        return PW_ENOMEM;
    }
    in = &p->in[p->nin++];
    memset(in, 0, sizeof *in);
    in->rule = p->cur_rule;
    in->labels = labels;
    in->value = value;
    pw_alert_fingerprint(labels, in->fp);
    return PW_OK;
}

/* Every enabled rule at t, from one store snapshot. */
static pw_err
ae_evaluate(ae_pass *p, char *msg, size_t msglen)
{
    const pw_alert_config *c = p->e->cfg;
    pw_store_txn          *t;
    pw_alert_src           src;
    pw_err                 rc;

    if ((rc = pw_store_read_begin(p->e->store, &t)) != PW_OK) {
        pw_store_last_error(p->e->store, msg, msglen);
        return rc;
    }
    src.t = t;
    src.inv = p->e->inv;
    src.days = p->e->days;
    for (size_t i = 0; i < c->nrules; i++) {
        const pw_alert_rule *r = &c->rules[i];
        char                 why[400] = "";
        size_t               before = p->nin;

        if (!r->enabled)
            continue;
        if (r->every_ms > 0) {
            json_t *last = json_object_get(p->e->last_eval, r->name);

            /* Not due: its instances keep their states, as for a rule that failed. */
            if (last != NULL && p->t >= json_integer_value(last)
                && p->t - json_integer_value(last) < r->every_ms) {
                p->failed[i] = true;
                continue;
            }
        }
        p->cur_rule = i;
        if ((rc = r->kind->eval(r, &src, p->t, ae_emit, p, why, sizeof why)) != PW_OK) {
            if (rc == PW_ENOMEM)
                break;
            /* Its instances keep their states; the others go on. */
            for (size_t k = before; k < p->nin; k++)
                json_decref(p->in[k].labels);
            p->nin = before;
            p->failed[i] = true;
            if (p->st.rule_errors++ == 0)
                snprintf(msg, msglen, "rule %s: %s", r->name, why[0] ? why : pw_strerror(rc));
            rc = PW_OK;
        } else if (r->every_ms > 0 && json_object_set_new(p->e->last_eval, r->name, json_integer(p->t)) != 0) {
            rc = PW_ENOMEM;        /* a failed rule is retried next pass, not after `every` */
            break;
        }
    }
    pw_store_read_end(t);
    return rc;
}

/* ---- states ---------------------------------------------------------------- */

static int
ae_collect(void *ctx, json_t *rec)
{
    ae_pass *p = ctx;

    if (json_array_append(p->active, rec) != 0)
        p->nomem = true;
    return p->nomem;
}

static json_t *
ae_annotations(const pw_alert_rule *r, const json_t *labels, double value)
{
    json_t     *a = json_object(), *v;
    const char *k;

    if (a == NULL)
        return NULL;
    json_object_foreach(r->annotations, k, v) {
        char *s = pw_alert_template_render(json_string_value(v), labels, value);

        if (s == NULL) {
            json_decref(a);
            return NULL;
        }
        json_object_set_new(a, k, json_string(s));
        free(s);
    }
    return a;
}

/* Writes the history record of rec's move from `from` to rec's state. */
static pw_err
ae_transition(pw_alert_wtxn *w, ae_pass *p, json_t *rec, const char *from)
{
    json_t *h = json_deep_copy(rec);
    pw_err  rc;
    const char *to = json_string_value(json_object_get(rec, "state"));

    if (h == NULL)
        return PW_ENOMEM;
    json_object_set_new(h, "time", json_integer(p->t));
    json_object_set_new(h, "from", json_string(from));
    rc = pw_alert_w_history(w, h);
    json_decref(h);
    p->st.transitions++;
    if (rc == PW_OK && (strcmp(to, "firing") == 0 || strcmp(to, "resolved") == 0)
        && json_array_append(p->changed, rec) != 0)
        rc = PW_ENOMEM;
    return rc;
}

/* The index of the rule named name in cfg, or (size_t) -1. */
static size_t
ae_rule_index(const pw_alert_config *c, const char *name)
{
    for (size_t i = 0; name != NULL && i < c->nrules; i++)
        if (strcmp(c->rules[i].name, name) == 0)
            return i;
    return (size_t) -1;
}

static ae_inst *
ae_find_inst(ae_pass *p, size_t rule, const char *fp)
{
    for (size_t i = 0; i < p->nin; i++)
        if (p->in[i].rule == rule && strcmp(p->in[i].fp, fp) == 0)
            return &p->in[i];
    return NULL;
}

/* Applies one instance's value to its record (existing, or NULL) and writes what changed. */
static pw_err
ae_step(pw_alert_wtxn *w, ae_pass *p, const pw_alert_rule *r, ae_inst *in, json_t *old)
{
    bool        breach = r->below ? in->value <= r->threshold : in->value >= r->threshold;
    bool        cleared = r->below ? in->value > r->clear : in->value < r->clear;
    const char *state = old ? json_string_value(json_object_get(old, "state")) : "inactive";
    json_t     *rec, *ann;
    pw_err      rc = PW_OK;

    if (old == NULL && !breach)
        return PW_OK;
    rec = old ? json_deep_copy(old) : json_object();
    if (rec == NULL || (ann = ae_annotations(r, in->labels, in->value)) == NULL) {
        json_decref(rec);
        return PW_ENOMEM;
    }
    json_object_set_new(rec, "rule", json_string(r->name));
    json_object_set_new(rec, "fingerprint", json_string(in->fp));
    json_object_set(rec, "labels", in->labels);
    json_object_set_new(rec, "annotations", ann);
    /* JSON has no infinity: a ratio over a zero capacity is stored as null. */
    json_object_set_new(rec, "value", isfinite(in->value) ? json_real(in->value) : json_null());
    json_object_set_new(rec, "updated", json_integer(p->t));
    if (old == NULL) {
        json_object_set_new(rec, "active_since", json_integer(p->t));
        json_object_set_new(rec, "fired_at", json_integer(0));
        json_object_set_new(rec, "resolved_at", json_integer(0));
        json_object_set_new(rec, "state", json_string(r->for_ms == 0 ? "firing" : "pending"));
        if (r->for_ms == 0)
            json_object_set_new(rec, "fired_at", json_integer(p->t));
        rc = ae_transition(w, p, rec, "inactive");
    } else if (cleared) {
        bool was_firing = strcmp(state, "firing") == 0;

        json_object_set_new(rec, "state", json_string(was_firing ? "resolved" : "inactive"));
        if (was_firing)
            json_object_set_new(rec, "resolved_at", json_integer(p->t));
        rc = ae_transition(w, p, rec, state);
    } else if (strcmp(state, "pending") == 0
               && p->t - json_integer_value(json_object_get(rec, "active_since")) >= r->for_ms) {
        json_object_set_new(rec, "state", json_string("firing"));
        json_object_set_new(rec, "fired_at", json_integer(p->t));
        rc = ae_transition(w, p, rec, "pending");
    }
    if (rc == PW_OK)
        rc = pw_alert_w_put_active(w, rec);
    json_decref(rec);
    return rc;
}

/* A record with no instance this pass: its series is gone, or its rule is. */
static pw_err
ae_vanish(pw_alert_wtxn *w, ae_pass *p, json_t *old)
{
    const char *state = json_string_value(json_object_get(old, "state"));
    bool        firing = state != NULL && strcmp(state, "firing") == 0;
    json_t     *rec = json_deep_copy(old);
    pw_err      rc;

    if (rec == NULL)
        return PW_ENOMEM;
    json_object_set_new(rec, "state", json_string(firing ? "resolved" : "inactive"));
    json_object_set_new(rec, "updated", json_integer(p->t));
    if (firing)
        json_object_set_new(rec, "resolved_at", json_integer(p->t));
    if ((rc = ae_transition(w, p, rec, state ? state : "pending")) == PW_OK)
        rc = pw_alert_w_put_active(w, rec);
    json_decref(rec);
    return rc;
}

/* ---- notifications --------------------------------------------------------- */

/* The group key of rec for r: the group_by labels' values. */
static json_t *
ae_group_labels(const pw_alert_receiver *r, const json_t *rec)
{
    json_t *g = json_object(), *labels = json_object_get(rec, "labels"), *name;
    size_t  i;

    json_array_foreach(r->group_by, i, name) {
        json_t *v = json_object_get(labels, json_string_value(name));

        if (v != NULL)
            json_object_set(g, json_string_value(name), v);
    }
    return g;
}

static pw_err
ae_enqueue(pw_alert_wtxn *w, ae_pass *p, const pw_alert_receiver *r, json_t *body)
{
    json_t *note;
    bool    dropped;
    pw_err  rc;

    if (body == NULL)
        return PW_ENOMEM;
    note = json_pack("{s:s,s:s,s:s,s:o,s:i,s:I,s:I}", "receiver", r->name,
                     "type", r->type == PW_RCV_WEBHOOK ? "webhook" : "alertmanager", "url", r->url,
                     "body", body, "attempts", 0, "next_ms", (json_int_t) p->t,
                     "created_ms", (json_int_t) p->t);
    if (note == NULL)
        return PW_ENOMEM;
    if (r->ca_file != NULL)
        json_object_set_new(note, "ca_file", json_string(r->ca_file));
    rc = pw_alert_w_enqueue(w, note, &dropped);
    json_decref(note);
    if (rc == PW_OK) {
        p->st.notifications++;
        if (dropped)
            pw_warn("alerts: notification queue full (%d): the oldest was dropped", PW_ALERT_QUEUE_MAX);
    }
    return rc;
}

/* Webhook: one message per group in which something fired or resolved. */
static pw_err
ae_notify_webhook(pw_alert_wtxn *w, ae_pass *p, const pw_alert_receiver *r)
{
    json_t *done = json_array();
    size_t  i;
    json_t *ch;
    pw_err  rc = PW_OK;

    if (done == NULL)
        return PW_ENOMEM;
    json_array_foreach(p->changed, i, ch) {
        json_t *g = ae_group_labels(r, ch), *alerts, *x, *body;
        size_t  k;
        bool    seen = false;

        json_array_foreach(done, k, x)
            seen = seen || json_equal(x, g);
        if (seen) {
            json_decref(g);
            continue;
        }
        json_array_append(done, g);
        alerts = json_array();
        /* The group's alerts: every one firing, and those resolved in this pass. */
        json_array_foreach(p->firing, k, x) {
            json_t *gx = ae_group_labels(r, x);

            if (json_equal(gx, g))
                json_array_append(alerts, x);
            json_decref(gx);
        }
        json_array_foreach(p->changed, k, x) {
            json_t *gx = ae_group_labels(r, x);

            if (json_equal(gx, g) && strcmp(json_string_value(json_object_get(x, "state")), "resolved") == 0)
                json_array_append(alerts, x);
            json_decref(gx);
        }
        body = pw_notify_webhook_body(r, p->e->external_url, g, alerts, p->t);
        json_decref(alerts);
        json_decref(g);
        if ((rc = ae_enqueue(w, p, r, body)) != PW_OK)
            break;
    }
    json_decref(done);
    return rc;
}

/*
 * Alertmanager: every firing alert again every `resend` (Alertmanager ends
 * an alert that is not re-sent), and at once when something changed.
 */
static pw_err
ae_notify_am(pw_alert_wtxn *w, ae_pass *p, const pw_alert_receiver *r)
{
    char    key[PW_ALERT_NAME_MAX + 16];
    int64_t last;
    json_t *alerts, *x;
    size_t  i;
    pw_err  rc;

    snprintf(key, sizeof key, "am_last:%s", r->name);
    if ((rc = pw_alert_w_meta_get(w, key, &last)) != PW_OK)
        return rc;
    if (json_array_size(p->changed) == 0 && (json_array_size(p->firing) == 0 || p->t - last < r->resend_ms))
        return PW_OK;
    if ((alerts = json_array()) == NULL)
        return PW_ENOMEM;
    json_array_extend(alerts, p->firing);
    json_array_foreach(p->changed, i, x)
        if (strcmp(json_string_value(json_object_get(x, "state")), "resolved") == 0)
            json_array_append(alerts, x);
    rc = ae_enqueue(w, p, r, pw_notify_am_body(alerts, p->e->external_url,
                                               p->t + 4 * (r->resend_ms > 60000 ? r->resend_ms : 60000)));
    json_decref(alerts);
    return rc == PW_OK ? pw_alert_w_meta_put(w, key, p->t) : rc;
}

static int
ae_collect_firing(void *ctx, json_t *rec)
{
    ae_pass *p = ctx;

    if (strcmp(json_string_value(json_object_get(rec, "state")), "firing") == 0) {
        p->st.firing++;
        json_array_append(p->firing, rec);
    } else {
        p->st.pending++;
    }
    return 0;
}

static int
ae_collect_silence(void *ctx, json_t *s)
{
    ae_pass *p = ctx;

    if (json_integer_value(json_object_get(s, "starts_ms")) <= p->t
        && p->t < json_integer_value(json_object_get(s, "ends_ms")))
        json_array_append(p->silences, s);
    return 0;
}

static json_t *
ae_find_rec(const json_t *arr, const json_t *rec)
{
    json_t *x;
    size_t  i;

    json_array_foreach(arr, i, x)
        if (json_equal(json_object_get(x, "fingerprint"), json_object_get(rec, "fingerprint"))
            && json_equal(json_object_get(x, "rule"), json_object_get(rec, "rule")))
            return x;
    return NULL;
}

/* Kept from notification: silenced, or inhibited (as stored in the firing record). */
static bool
ae_suppressed(const json_t *rec)
{
    return json_array_size(json_object_get(rec, "silenced_by")) > 0
        || json_is_true(json_object_get(rec, "inhibited"));
}

/*
 * Marks every firing record with the silences and inhibitions in force
 * (stored, so lists show them), then leaves in p->firing and p->changed
 * only what may be notified.
 */
static pw_err
ae_suppress(pw_alert_wtxn *w, ae_pass *p)
{
    json_t *rec, *keep_f = json_array(), *keep_c = json_array();
    size_t  i;
    pw_err  rc = PW_OK;

    json_decref(p->silences);
    if ((p->silences = json_array()) == NULL || keep_f == NULL || keep_c == NULL
        || (rc = pw_alert_w_silences(w, ae_collect_silence, p)) != PW_OK) {
        json_decref(keep_f);
        json_decref(keep_c);
        return rc != PW_OK ? rc : PW_ENOMEM;
    }
    json_array_foreach(p->firing, i, rec) {
        json_t *ids = json_array(), *s, *labels = json_object_get(rec, "labels");
        json_t *old = json_object_get(rec, "silenced_by");
        size_t  k;
        bool    inh = pw_alert_inhibited(p->e->cfg, labels, p->firing);
        bool    was = ae_suppressed(rec);

        if (ids == NULL) {
            rc = PW_ENOMEM;
            break;
        }
        json_array_foreach(p->silences, k, s)
            if (pw_alert_matchers_match(json_object_get(s, "matchers"), labels))
                json_array_append(ids, json_object_get(s, "id"));
        if (!(old != NULL ? json_equal(old, ids) : json_array_size(ids) == 0)
            || inh != json_is_true(json_object_get(rec, "inhibited"))) {
            json_object_set(rec, "silenced_by", ids);
            json_object_set_new(rec, "inhibited", json_boolean(inh));
            rc = pw_alert_w_put_active(w, rec);
        }
        json_decref(ids);
        if (rc != PW_OK)
            break;
        if (!ae_suppressed(rec)) {
            json_array_append(keep_f, rec);
            /* No longer silenced or inhibited: notified as if it had just fired. */
            if (was && ae_find_rec(p->changed, rec) == NULL)
                json_array_append(p->changed, rec);
        }
    }
    json_array_foreach(p->changed, i, rec) {
        json_t *now = ae_find_rec(p->firing, rec);

        if (!ae_suppressed(now != NULL ? now : rec))
            json_array_append(keep_c, rec);
    }
    json_decref(p->firing);
    json_decref(p->changed);
    p->firing = keep_f;
    p->changed = keep_c;
    return rc;
}

/* The write transaction's body; may run again if the map had to grow. */
static pw_err
ae_write(pw_alert_wtxn *w, void *ctx)
{
    ae_pass               *p = ctx;
    const pw_alert_config *c = p->e->cfg;
    json_t                *rec;
    size_t                 i;
    pw_err                 rc;

    json_decref(p->active);
    json_decref(p->changed);
    json_decref(p->firing);
    p->active = json_array();
    p->changed = json_array();
    p->firing = json_array();
    p->st.transitions = p->st.notifications = p->st.pending = p->st.firing = 0;
    p->nomem = false;
    for (i = 0; i < p->nin; i++)
        p->in[i].matched = false;
    if (p->active == NULL || p->changed == NULL || p->firing == NULL)
        return PW_ENOMEM;
    if ((rc = pw_alert_w_active(w, ae_collect, p)) != PW_OK)
        return rc;
    if (p->nomem)
        return PW_ENOMEM;
    json_array_foreach(p->active, i, rec) {
        size_t   ri = ae_rule_index(c, json_string_value(json_object_get(rec, "rule")));
        ae_inst *in;

        if (ri != (size_t) -1 && c->rules[ri].enabled
            && (in = ae_find_inst(p, ri, json_string_value(json_object_get(rec, "fingerprint")))) != NULL) {
            in->matched = true;
            rc = ae_step(w, p, &c->rules[ri], in, rec);
        } else if (ri != (size_t) -1 && c->rules[ri].enabled && p->failed[ri]) {
            rc = PW_OK;           /* its rule could not be evaluated: keep the state */
        } else {
            rc = ae_vanish(w, p, rec);
        }
        if (rc != PW_OK)
            return rc;
    }
    for (i = 0; i < p->nin; i++)
        if (!p->in[i].matched && (rc = ae_step(w, p, &c->rules[p->in[i].rule], &p->in[i], NULL)) != PW_OK)
            return rc;
    if ((rc = pw_alert_w_active(w, ae_collect_firing, p)) != PW_OK
        || (rc = ae_suppress(w, p)) != PW_OK)
        return rc;
    if (p->e->notify)
        for (i = 0; i < c->nrcv; i++) {
            const pw_alert_receiver *r = &c->rcv[i];

            rc = r->type == PW_RCV_WEBHOOK ? (json_array_size(p->changed) ? ae_notify_webhook(w, p, r) : PW_OK)
                                           : ae_notify_am(w, p, r);
            if (rc != PW_OK)
                return rc;
        }
    return pw_alert_w_history_expire(w, p->t - PW_ALERT_HISTORY_RETENTION_MS, 1000);
}

pw_err
pw_alert_eval_at(pw_alert_engine *e, int64_t t, pw_alert_pass *pass, char *msg, size_t msglen)
{
    ae_pass p = { .e = e, .t = t };
    pw_err  rc;

    if (msglen > 0)
        msg[0] = '\0';
    if ((p.failed = calloc(e->cfg->nrules + 1, sizeof *p.failed)) == NULL) {
        rc = PW_ENOMEM;
        goto out;
    }
    if ((rc = ae_evaluate(&p, msg, msglen)) != PW_OK)
        goto out;
    p.st.instances = p.nin;
    if ((rc = pw_alert_db_write(e->db, ae_write, &p)) != PW_OK && msglen > 0 && msg[0] == '\0')
        snprintf(msg, msglen, "writing alerts.mdb: %s", pw_strerror(rc));
out:
    if (rc == PW_ENOMEM && msglen > 0)
        snprintf(msg, msglen, "out of memory");
    for (size_t i = 0; i < p.nin; i++)
        json_decref(p.in[i].labels);
    free(p.in);
    free(p.failed);
    json_decref(p.active);
    json_decref(p.changed);
    json_decref(p.firing);
    json_decref(p.silences);
    if (pass != NULL)
        *pass = p.st;
    return rc;
}
