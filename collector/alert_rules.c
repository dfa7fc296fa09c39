/*
 * alert_rules.c - the `alerts:` section of the collector's config file
 * (alert.h): the built-in rules, the file's rules on top, receivers. Read
 * with libfyaml; the built-ins are YAML text parsed by the same code, so a
 * default and a rule of the file are the same thing.
 */
#include "alert_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/*
 * The defaults (collector/README.md, "Alerts", table R1): pool capacity at
 * 70 % for 15 min (cleared below 65 %), 85 % critical, a forecast crossing
 * 70 % within 30 days, agents silent for 3 of their intervals, pool hosts
 * down; and (table R2-R4, R10) idle VMs and systems, zombies, oversized and
 * undersized VMs, judged on days (recommend.h) once an hour.
 */
static const char ar_defaults[] =
    "alerts:\n"
    "  rules:\n"
    "    - name: PoolCapacityWarning\n"
    "      kind: pool_capacity\n"
    "      measure: [allocated, used]\n"
    "      threshold: 0.7\n"
    "      clear: 0.65\n"
    "      for: 15m\n"
    "      severity: warning\n"
    "      annotations:\n"
    "        summary: \"Pool {{ $labels.pool }}: {{ $labels.resource }} {{ $labels.measure }} at {{ $value | humanizePercentage }} (70 % or more)\"\n"
    "        summary_zh: \"资源池 {{ $labels.pool }} 的 {{ $labels.resource }}（{{ $labels.measure }}）达到 {{ $value | humanizePercentage }}，不低于 70%\"\n"
    "        description: \"Allocated or used capacity of the pool has been at or above 70 % for 15 minutes; it clears below 65 %.\"\n"
    "        description_zh: \"资源池分配率或使用率持续 15 分钟不低于 70%，降至 65% 以下时解除。\"\n"
    "    - name: PoolCapacityCritical\n"
    "      kind: pool_capacity\n"
    "      measure: [allocated, used]\n"
    "      threshold: 0.85\n"
    "      clear: 0.8\n"
    "      for: 5m\n"
    "      severity: critical\n"
    "      annotations:\n"
    "        summary: \"Pool {{ $labels.pool }}: {{ $labels.resource }} {{ $labels.measure }} at {{ $value | humanizePercentage }} (85 % or more)\"\n"
    "        summary_zh: \"资源池 {{ $labels.pool }} 的 {{ $labels.resource }}（{{ $labels.measure }}）达到 {{ $value | humanizePercentage }}，不低于 85%\"\n"
    "    - name: PoolCapacityForecast\n"
    "      kind: pool_forecast\n"
    "      measure: [allocated, used]\n"
    "      crosses: 0.7\n"
    "      op: below\n"
    "      threshold: 30\n"
    "      clear: 35\n"
    "      for: 1h\n"
    "      severity: warning\n"
    "      annotations:\n"
    "        summary: \"Pool {{ $labels.pool }}: {{ $labels.resource }} {{ $labels.measure }} reaches 70 % in {{ $value }} days\"\n"
    "        summary_zh: \"资源池 {{ $labels.pool }} 的 {{ $labels.resource }}（{{ $labels.measure }}）预计 {{ $value }} 天内达到 70%\"\n"
    "    - name: AgentSilent\n"
    "      kind: nodata\n"
    "      threshold: 3\n"
    "      clear: 1\n"
    "      severity: warning\n"
    "      annotations:\n"
    "        summary: \"No data from host {{ $labels.host }} for {{ $value }} of its intervals\"\n"
    "        summary_zh: \"主机 {{ $labels.host }} 已有 {{ $value }} 个采集周期没有数据\"\n"
    "    - name: HostDown\n"
    "      kind: nodata\n"
    "      hosts: pools\n"
    "      threshold: 3\n"
    "      clear: 1\n"
    "      severity: critical\n"
    "      annotations:\n"
    "        summary: \"Host {{ $labels.host }} of pool {{ $labels.pool }} is down (silent for {{ $value }} intervals)\"\n"
    "        summary_zh: \"资源池 {{ $labels.pool }} 的主机 {{ $labels.host }} 宕机（{{ $value }} 个周期无数据）\"\n"
    "  inhibit:\n"
    "    - source: {severity: critical}\n"
    "      target: {severity: warning}\n"
    "      equal: [pool, resource, measure]\n"
    "    - source: {severity: critical}\n"
    "      target: {severity: warning}\n"
    "      equal: [host]\n";

/*
 * The day rules (table R2-R4, R10; recommend.h): threshold = the days the
 * condition must hold. A document of its own only because C99 bounds the
 * length of one string literal.
 */
static const char ar_defaults_days[] =
    "alerts:\n"
    "  rules:\n"
    "    - name: VMUnderused\n"
    "      kind: underuse\n"
    "      threshold: 12\n"
    "      clear: 10\n"
    "      severity: warning\n"
    "      annotations:\n"
    "        summary: \"VM {{ $labels.vm }} ({{ $labels.tenant }} / {{ $labels.system }}) idle on {{ $value }} of the last 14 days (CPU p95 < 10 %, network < 5 MB/day)\"\n"
    "        summary_zh: \"虚拟机 {{ $labels.vm }}（{{ $labels.tenant }} / {{ $labels.system }}）近 14 天中有 {{ $value }} 天闲置（CPU P95 < 10%，网络 < 5 MB/天）\"\n"
    "    - name: SystemUnderused\n"
    "      kind: underuse\n"
    "      per: system\n"
    "      threshold: 12\n"
    "      clear: 10\n"
    "      severity: warning\n"
    "      annotations:\n"
    "        summary: \"System {{ $labels.system }} of {{ $labels.tenant }} idle on {{ $value }} of the last 14 days\"\n"
    "        summary_zh: \"{{ $labels.tenant }} 的系统 {{ $labels.system }} 近 14 天中有 {{ $value }} 天闲置\"\n"
    "    - name: VMZombie\n"
    "      kind: zombie\n"
    "      threshold: 30\n"
    "      clear: 28\n"
    "      severity: warning\n"
    "      annotations:\n"
    "        summary: \"VM {{ $labels.vm }} ({{ $labels.tenant }} / {{ $labels.system }}) is a zombie ({{ $labels.state }}) on {{ $value }} of the last 30 days: reclaim it\"\n"
    "        summary_zh: \"虚拟机 {{ $labels.vm }}（{{ $labels.tenant }} / {{ $labels.system }}）近 30 天中有 {{ $value }} 天为僵尸状态（{{ $labels.state }}），建议回收\"\n"
    "    - name: VMOversized\n"
    "      kind: oversized\n"
    "      threshold: 30\n"
    "      clear: 27\n"
    "      severity: info\n"
    "      annotations:\n"
    "        summary: \"VM {{ $labels.vm }} ({{ $labels.tenant }} / {{ $labels.system }}) used under 40 % of its size on {{ $value }} of 30 days: downsize (poolwatch recommendations)\"\n"
    "        summary_zh: \"虚拟机 {{ $labels.vm }}（{{ $labels.tenant }} / {{ $labels.system }}）近 30 天中有 {{ $value }} 天使用率低于 40%，建议降配\"\n"
    "    - name: VMUndersized\n"
    "      kind: undersized\n"
    "      threshold: 5\n"
    "      clear: 3\n"
    "      severity: warning\n"
    "      annotations:\n"
    "        summary: \"VM {{ $labels.vm }} ({{ $labels.tenant }} / {{ $labels.system }}) above 85 % on {{ $value }} of the last 7 days: expand (poolwatch recommendations)\"\n"
    "        summary_zh: \"虚拟机 {{ $labels.vm }}（{{ $labels.tenant }} / {{ $labels.system }}）近 7 天中有 {{ $value }} 天使用率高于 85%，建议扩容\"\n"
;

static const pw_alert_kind_ops *const ar_kinds[] = {
    &pw_alert_kind_pool, &pw_alert_kind_forecast, &pw_alert_kind_nodata, &pw_alert_kind_expr,
    &pw_alert_kind_underuse, &pw_alert_kind_zombie, &pw_alert_kind_oversized, &pw_alert_kind_undersized,
};

#define AR_KIND_NAMES "pool_capacity, pool_forecast, nodata, expr, underuse, zombie, oversized, undersized"


typedef struct ar ar;
struct ar {
    const char *path;
    char       *msg;
    size_t      msglen;
    bool        touched[PW_ALERT_MAX_RULES];   /* rules the document being read named */
};

const pw_alert_kind_ops *
pw_alert_kind_find(const char *name)
{
    for (size_t i = 0; i < sizeof ar_kinds / sizeof ar_kinds[0]; i++)
        if (strcmp(ar_kinds[i]->name, name) == 0)
            return ar_kinds[i];
    return NULL;
}

int
pw_alert_yaml_line(struct fy_node *n)
{
    struct fy_token      *t;
    const struct fy_mark *m;
    void                 *it = NULL;

    /* Collections have no token of their own: the line of their first scalar. */
    if (n != NULL && fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);

        return p != NULL ? pw_alert_yaml_line(fy_node_pair_key(p)) : 0;
    }
    if (n != NULL && fy_node_is_sequence(n))
        return pw_alert_yaml_line(fy_node_sequence_iterate(n, &it));
    t = n ? fy_node_get_scalar_token(n) : NULL;
    m = t ? fy_token_start_mark(t) : NULL;
    return m ? m->line + 1 : 0;
}

const char *
pw_alert_yaml_str(struct fy_node *v)
{
    return v != NULL && fy_node_is_scalar(v) ? fy_node_get_scalar0(v) : NULL;
}

bool
pw_alert_yaml_number(struct fy_node *v, double *out)
{
    const char *s = pw_alert_yaml_str(v);
    char       *end;

    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    *out = strtod(s, &end);
    if (*end == '%' && end[1] == '\0') {      /* "70%" reads as 0.7 */
        *out /= 100;
        end++;
    }
    return errno == 0 && *end == '\0' && isfinite(*out);
}

bool
pw_alert_yaml_duration(struct fy_node *v, int64_t *ms)
{
    const char *s = pw_alert_yaml_str(v);

    if (s != NULL && strcmp(s, "0") == 0) {
        *ms = 0;
        return true;
    }
    return s != NULL && pw_duration_parse(s, ms) == PW_OK && *ms >= 0;
}

const char *const pw_alert_measure_names[2] = { "allocated", "used" };

bool
pw_alert_yaml_words(struct fy_node *v, const char *const *names, size_t n, unsigned *bits)
{
    const char     *s = pw_alert_yaml_str(v);
    struct fy_node *item;
    void           *it = NULL;

    if (s != NULL) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(s, names[i]) == 0) {
                *bits |= 1u << i;
                return true;
            }
        return false;
    }
    if (v == NULL || !fy_node_is_sequence(v))
        return false;
    while ((item = fy_node_sequence_iterate(v, &it)) != NULL)
        if (fy_node_is_sequence(item) || !pw_alert_yaml_words(item, names, n, bits))
            return false;
    return true;
}

pw_err
pw_alert_option_lookback(struct fy_node *v, int64_t *ms, char *msg, size_t len)
{
    if (!pw_alert_yaml_duration(v, ms)) {
        snprintf(msg, len, "lookback must be a duration (5m)");
        return PW_EINVAL;
    }
    return PW_OK;
}

static pw_err
ar_fail(ar *a, struct fy_node *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static pw_err
ar_fail(ar *a, struct fy_node *at, const char *fmt, ...)
{
    char    why[400];
    va_list ap;
    int     line = pw_alert_yaml_line(at);

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(a->msg, a->msglen, "config %s:%d: alerts: %s", a->path, line, why);
    else
        snprintf(a->msg, a->msglen, "config %s: alerts: %s", a->path, why);
    return PW_EINVAL;
}

static void
ar_rule_fini(pw_alert_rule *r)
{
    if (r->kind != NULL && r->kind->fini != NULL)
        r->kind->fini(r);
    json_decref(r->labels);
    json_decref(r->annotations);
    memset(r, 0, sizeof *r);
}

static void
ar_inhibit_free(pw_alert_config *c)
{
    for (size_t i = 0; i < c->ninhibit; i++) {
        json_decref(c->inhibit[i].source);
        json_decref(c->inhibit[i].target);
        json_decref(c->inhibit[i].equal);
    }
    c->ninhibit = 0;
}

pw_alert_config *
pw_alert_config_ref(pw_alert_config *c)
{
    if (c != NULL)
        atomic_fetch_add(&c->refs, 1);
    return c;
}

void
pw_alert_config_free(pw_alert_config *c)
{
    if (c == NULL || atomic_fetch_sub(&c->refs, 1) > 1)
        return;
    ar_inhibit_free(c);
    free(c->inhibit);
    for (size_t i = 0; i < c->nrules; i++)
        ar_rule_fini(&c->rules[i]);
    for (size_t i = 0; i < c->nrcv; i++) {
        free(c->rcv[i].url);
        free(c->rcv[i].ca_file);
        json_decref(c->rcv[i].group_by);
    }
    free(c->rules);
    free(c->rcv);
    free(c->external_url);
    free(c);
}

/* A mapping of label names to strings into *obj (created or updated). */
typedef enum ar_map { AR_LABELS, AR_TEMPLATES, AR_MATCH } ar_map;

static pw_err
ar_string_map(ar *a, struct fy_node *k, struct fy_node *v, ar_map mode, json_t **obj)
{
    struct fy_node_pair *pair;
    void                *it = NULL;
    bool                 templates = mode == AR_TEMPLATES;
    const char          *what = templates ? "annotations" : mode == AR_MATCH ? "inhibit" : "labels";

    if (v == NULL || !fy_node_is_mapping(v))
        return ar_fail(a, k, "%s must be a mapping of names to text", what);
    if (*obj == NULL && (*obj = json_object()) == NULL)
        return PW_ENOMEM;
    while ((pair = fy_node_mapping_iterate(v, &it)) != NULL) {
        const char *ks = pw_alert_yaml_str(fy_node_pair_key(pair));
        const char *vs = pw_alert_yaml_str(fy_node_pair_value(pair));
        char        why[300];

        if (ks == NULL || vs == NULL || ks[0] == '\0')
            return ar_fail(a, fy_node_pair_key(pair), "%s: each entry must be name: text", what);
        for (const char *c = ks; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_'
                  || (c > ks && *c >= '0' && *c <= '9')))
                return ar_fail(a, fy_node_pair_key(pair), "%s: \"%s\" is not a label name "
                               "([a-zA-Z_][a-zA-Z0-9_]*)", what, ks);
        if (mode == AR_LABELS && (strcmp(ks, "alertname") == 0 || strcmp(ks, "severity") == 0))
            return ar_fail(a, fy_node_pair_key(pair), "labels: \"%s\" is set by the rule itself "
                           "(name:, severity:)", ks);
        if (templates && pw_alert_template_check(vs, why, sizeof why) != PW_OK)
            return ar_fail(a, fy_node_pair_value(pair), "annotations: %s: %s", ks, why);
        if (json_object_set_new(*obj, ks, json_string(vs)) != 0)
            return ar_fail(a, fy_node_pair_value(pair), "%s: %s is not UTF-8 text", what, ks);
    }
    return PW_OK;
}

/* Applies the keys of mapping n to r (a new rule, or a built-in being changed). */
static pw_err
ar_rule_keys(ar *a, struct fy_node *n, pw_alert_rule *r)
{
    struct fy_node_pair *pair;
    void                *it = NULL;
    pw_err               rc;

    while ((pair = fy_node_mapping_iterate(n, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char     *ks = pw_alert_yaml_str(k), *vs = pw_alert_yaml_str(v);
        char            why[300] = "";

        if (ks == NULL)
            return ar_fail(a, k, "rule %s: keys must be plain names", r->name);
        if (strcmp(ks, "name") == 0 || strcmp(ks, "kind") == 0)
            continue;                                       /* taken by the caller */
        if (strcmp(ks, "enabled") == 0) {
            if (vs == NULL || (strcmp(vs, "true") != 0 && strcmp(vs, "false") != 0))
                return ar_fail(a, k, "rule %s: enabled must be true or false", r->name);
            r->enabled = vs[0] == 't';
        } else if (strcmp(ks, "threshold") == 0) {
            if (!pw_alert_yaml_number(v, &r->threshold))
                return ar_fail(a, k, "rule %s: threshold must be a number (0.7 or 70%%)", r->name);
        } else if (strcmp(ks, "clear") == 0) {
            if (!pw_alert_yaml_number(v, &r->clear))
                return ar_fail(a, k, "rule %s: clear must be a number (0.65 or 65%%)", r->name);
            r->has_clear = true;
        } else if (strcmp(ks, "op") == 0) {
            if (vs == NULL || (strcmp(vs, "above") != 0 && strcmp(vs, "below") != 0))
                return ar_fail(a, k, "rule %s: op must be above (value >= threshold fires) or "
                               "below (value <= threshold fires)", r->name);
            r->below = vs[0] == 'b';
        } else if (strcmp(ks, "for") == 0) {
            if (!pw_alert_yaml_duration(v, &r->for_ms))
                return ar_fail(a, k, "rule %s: for must be a duration (15m, 1h, 0)", r->name);
        } else if (strcmp(ks, "every") == 0) {
            if (!pw_alert_yaml_duration(v, &r->every_ms))
                return ar_fail(a, k, "rule %s: every must be a duration (1h; 0: every pass)", r->name);
        } else if (strcmp(ks, "severity") == 0) {
            if (vs == NULL || vs[0] == '\0' || strlen(vs) >= sizeof r->severity)
                return ar_fail(a, k, "rule %s: severity must be a short word (warning, critical)",
                               r->name);
            snprintf(r->severity, sizeof r->severity, "%s", vs);
        } else if (strcmp(ks, "labels") == 0) {
            if ((rc = ar_string_map(a, k, v, AR_LABELS, &r->labels)) != PW_OK)
                return rc;
        } else if (strcmp(ks, "annotations") == 0) {
            if ((rc = ar_string_map(a, k, v, AR_TEMPLATES, &r->annotations)) != PW_OK)
                return rc;
        } else if ((rc = r->kind->option(r, ks, v, why, sizeof why)) != PW_OK) {
            if (rc == PW_ENOMEM)
                return rc;
            if (why[0] == '\0')
                return ar_fail(a, k, "rule %s: unknown key \"%s\" (name, kind, enabled, threshold, "
                               "clear, op, for, every, severity, labels, annotations; for kind %s: %s)",
                               r->name, ks, r->kind->name, r->kind->keys);
            return ar_fail(a, k, "rule %s: %s", r->name, why);
        }
    }
    return PW_OK;
}

/* Finds or adds the rule named by entry n, then applies its keys. */
static pw_err
ar_rule(ar *a, pw_alert_config *c, struct fy_node *n)
{
    struct fy_node *nk, *kk;
    const char     *name, *kind;
    pw_alert_rule  *r = NULL;

    if (!fy_node_is_mapping(n))
        return ar_fail(a, n, "rules: each rule must be a mapping (name:, kind:, ...)");
    nk = fy_node_mapping_lookup_by_string(n, "name", -1);
    kk = fy_node_mapping_lookup_by_string(n, "kind", -1);
    name = pw_alert_yaml_str(nk);
    kind = pw_alert_yaml_str(kk);
    if (name == NULL || name[0] == '\0' || strlen(name) >= PW_ALERT_NAME_MAX)
        return ar_fail(a, n, "rules: a rule has no name (or one over %d bytes)", PW_ALERT_NAME_MAX - 1);
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':'
              || (p > name && *p >= '0' && *p <= '9')))
            return ar_fail(a, nk, "rules: name \"%s\" must be a metric-style name "
                           "([a-zA-Z_:][a-zA-Z0-9_:]*)", name);
    for (size_t i = 0; i < c->nrules; i++)
        if (strcmp(c->rules[i].name, name) == 0)
            r = &c->rules[i];
    if (r != NULL && a->touched[r - c->rules])
        return ar_fail(a, nk, "rules: \"%s\" is defined twice", name);
    if (r != NULL && kind != NULL && strcmp(kind, r->kind->name) != 0)
        return ar_fail(a, kk, "rules: %s is a built-in rule of kind %s; its kind cannot change "
                       "(set enabled: false and add a rule of another name)", name, r->kind->name);
    if (r == NULL) {
        const pw_alert_kind_ops *k;

        if (kind == NULL)
            return ar_fail(a, n, "rules: rule %s needs a kind (" AR_KIND_NAMES ")", name);
        if ((k = pw_alert_kind_find(kind)) == NULL)
            return ar_fail(a, kk, "rules: rule %s: unknown kind \"%s\" (" AR_KIND_NAMES ")", name, kind);
        if (c->nrules == PW_ALERT_MAX_RULES)
            return ar_fail(a, n, "rules: more than %d rules", PW_ALERT_MAX_RULES);
        r = &c->rules[c->nrules];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", name);
        r->kind = k;
        r->enabled = true;
        snprintf(r->severity, sizeof r->severity, "warning");
        /* before init: a kind may set its own default (the day rules: 1h) */
        if ((r->labels = json_object()) == NULL || (r->annotations = json_object()) == NULL
            || k->init(r) != PW_OK) {
            ar_rule_fini(r);
            return PW_ENOMEM;
        }
        r->threshold = NAN;
        c->nrules++;
    }
    a->touched[r - c->rules] = true;
    return ar_rule_keys(a, n, r);
}

static pw_err
ar_receiver(ar *a, pw_alert_config *c, struct fy_node *n)
{
    struct fy_node_pair *pair;
    void                *it = NULL;
    pw_alert_receiver   *r;
    bool                 has_type = false;

    if (!fy_node_is_mapping(n))
        return ar_fail(a, n, "receivers: each receiver must be a mapping (name:, type:, url:)");
    if (c->nrcv == PW_ALERT_MAX_RECEIVERS)
        return ar_fail(a, n, "receivers: more than %d", PW_ALERT_MAX_RECEIVERS);
    r = &c->rcv[c->nrcv++];
    memset(r, 0, sizeof *r);
    r->resend_ms = 60000;
    while ((pair = fy_node_mapping_iterate(n, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char     *ks = pw_alert_yaml_str(k), *vs = pw_alert_yaml_str(v);

        if (ks == NULL)
            return ar_fail(a, k, "receivers: keys must be plain names");
        if (strcmp(ks, "name") == 0) {
            if (vs == NULL || vs[0] == '\0' || strlen(vs) >= sizeof r->name)
                return ar_fail(a, k, "receivers: name must be a short non-empty text");
            snprintf(r->name, sizeof r->name, "%s", vs);
        } else if (strcmp(ks, "type") == 0) {
            if (vs != NULL && strcmp(vs, "webhook") == 0)
                r->type = PW_RCV_WEBHOOK;
            else if (vs != NULL && strcmp(vs, "alertmanager") == 0)
                r->type = PW_RCV_ALERTMANAGER;
            else
                return ar_fail(a, k, "receivers: type must be webhook or alertmanager");
            has_type = true;
        } else if (strcmp(ks, "url") == 0) {
            if (vs == NULL || (strncmp(vs, "http://", 7) != 0 && strncmp(vs, "https://", 8) != 0))
                return ar_fail(a, k, "receivers: url must be an http:// or https:// URL");
            free(r->url);
            if ((r->url = strdup(vs)) == NULL)
                return PW_ENOMEM;
        } else if (strcmp(ks, "ca_file") == 0) {
            if (vs == NULL || vs[0] == '\0')
                return ar_fail(a, k, "receivers: ca_file must be a file of PEM CA certificates");
            free(r->ca_file);
            if ((r->ca_file = strdup(vs)) == NULL)
                return PW_ENOMEM;
        } else if (strcmp(ks, "group_by") == 0) {
            struct fy_node *item;
            void           *iit = NULL;

            if (v == NULL || !fy_node_is_sequence(v))
                return ar_fail(a, k, "receivers: group_by must be a list of label names");
            json_decref(r->group_by);
            if ((r->group_by = json_array()) == NULL)
                return PW_ENOMEM;
            while ((item = fy_node_sequence_iterate(v, &iit)) != NULL) {
                const char *is = pw_alert_yaml_str(item);

                if (is == NULL || is[0] == '\0' || json_array_append_new(r->group_by, json_string(is)) != 0)
                    return ar_fail(a, item, "receivers: group_by: not a label name");
            }
        } else if (strcmp(ks, "resend") == 0) {
            if (!pw_alert_yaml_duration(v, &r->resend_ms) || r->resend_ms < 1000)
                return ar_fail(a, k, "receivers: resend must be a duration of at least 1s");
        } else {
            return ar_fail(a, k, "receivers: unknown key \"%s\" (name, type, url, ca_file, group_by, resend)", ks);
        }
    }
    if (r->name[0] == '\0' || !has_type || r->url == NULL)
        return ar_fail(a, n, "receivers: each receiver needs name, type and url");
    for (size_t i = 0; i + 1 < c->nrcv; i++)
        if (strcmp(c->rcv[i].name, r->name) == 0)
            return ar_fail(a, n, "receivers: \"%s\" is defined twice", r->name);
    if (r->group_by == NULL) {
        /* Alerts are grouped per pool, or per tenant, for notification. */
        if ((r->group_by = json_pack("[ss]", "pool", "tenant")) == NULL)
            return PW_ENOMEM;
    }
    return PW_OK;
}

/* inhibit: a list replacing the built-in one. */
static pw_err
ar_inhibit(ar *a, pw_alert_config *c, struct fy_node *k, struct fy_node *v)
{
    struct fy_node *n;
    void           *it = NULL;
    pw_err          rc;

    if (!fy_node_is_sequence(v))
        return ar_fail(a, k, "inhibit must be a list of {source:, target:, equal:}");
    ar_inhibit_free(c);
    while ((n = fy_node_sequence_iterate(v, &it)) != NULL) {
        pw_alert_inhibit    *r;
        struct fy_node_pair *pair;
        void                *pit = NULL;

        if (c->ninhibit == PW_ALERT_MAX_RECEIVERS)
            return ar_fail(a, n, "inhibit: more than %d rules", PW_ALERT_MAX_RECEIVERS);
        if (!fy_node_is_mapping(n))
            return ar_fail(a, n, "inhibit: each entry must be a mapping (source:, target:, equal:)");
        r = &c->inhibit[c->ninhibit++];
        memset(r, 0, sizeof *r);
        while ((pair = fy_node_mapping_iterate(n, &pit)) != NULL) {
            struct fy_node *pk = fy_node_pair_key(pair), *pv = fy_node_pair_value(pair);
            const char     *ks = pw_alert_yaml_str(pk);

            if (ks != NULL && (strcmp(ks, "source") == 0 || strcmp(ks, "target") == 0)) {
                if ((rc = ar_string_map(a, pk, pv, AR_MATCH, ks[0] == 's' ? &r->source : &r->target)) != PW_OK)
                    return rc;
            } else if (ks != NULL && strcmp(ks, "equal") == 0) {
                struct fy_node *item;
                void           *iit = NULL;

                if (pv == NULL || !fy_node_is_sequence(pv))
                    return ar_fail(a, pk, "inhibit: equal must be a list of label names");
                if ((r->equal = json_array()) == NULL)
                    return PW_ENOMEM;
                while ((item = fy_node_sequence_iterate(pv, &iit)) != NULL) {
                    const char *is = pw_alert_yaml_str(item);

                    if (is == NULL || is[0] == '\0' || json_array_append_new(r->equal, json_string(is)) != 0)
                        return ar_fail(a, item, "inhibit: equal: not a label name");
                }
            } else {
                return ar_fail(a, pk, "inhibit: unknown key \"%s\" (source, target, equal)", ks ? ks : "?");
            }
        }
        if (r->source == NULL || r->target == NULL || r->equal == NULL)
            return ar_fail(a, n, "inhibit: each entry needs source, target and equal");
    }
    return PW_OK;
}

/* Reads the alerts: section of doc into c (the built-ins' text, then the file). */
static pw_err
ar_section(ar *a, pw_alert_config *c, struct fy_document *doc)
{
    struct fy_node      *root = fy_document_root(doc), *sec, *rules;
    struct fy_node_pair *pair;
    void                *it = NULL;
    pw_err               rc;

    if (root == NULL || !fy_node_is_mapping(root)
        || (sec = fy_node_mapping_lookup_by_string(root, "alerts", -1)) == NULL)
        return PW_OK;
    if (!fy_node_is_mapping(sec))
        return ar_fail(a, sec, "must be a mapping (rules:, receivers:, external_url:)");
    while ((pair = fy_node_mapping_iterate(sec, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char     *ks = pw_alert_yaml_str(k);

        if (ks == NULL)
            return ar_fail(a, k, "keys must be plain names");
        if (v == NULL || (fy_node_is_scalar(v) && (pw_alert_yaml_str(v) == NULL
                          || strcmp(pw_alert_yaml_str(v), "") == 0
                          || strcmp(pw_alert_yaml_str(v), "~") == 0
                          || strcmp(pw_alert_yaml_str(v), "null") == 0)))
            continue;                                   /* "receivers:" with nothing under it */
        if (strcmp(ks, "rules") == 0) {
            struct fy_node *n;
            void           *rit = NULL;

            rules = v;
            if (rules == NULL || !fy_node_is_sequence(rules))
                return ar_fail(a, k, "rules must be a list");
            while ((n = fy_node_sequence_iterate(rules, &rit)) != NULL)
                if ((rc = ar_rule(a, c, n)) != PW_OK)
                    return rc;
        } else if (strcmp(ks, "receivers") == 0) {
            struct fy_node *n;
            void           *rit = NULL;

            if (v == NULL || !fy_node_is_sequence(v))
                return ar_fail(a, k, "receivers must be a list");
            while ((n = fy_node_sequence_iterate(v, &rit)) != NULL)
                if ((rc = ar_receiver(a, c, n)) != PW_OK)
                    return rc;
        } else if (strcmp(ks, "inhibit") == 0) {
            if ((rc = ar_inhibit(a, c, k, v)) != PW_OK)
                return rc;
        } else if (strcmp(ks, "external_url") == 0) {
            const char *vs = pw_alert_yaml_str(v);

            if (vs == NULL)
                return ar_fail(a, k, "external_url must be a URL");
            free(c->external_url);
            if ((c->external_url = strdup(vs)) == NULL)
                return PW_ENOMEM;
        } else {
            return ar_fail(a, k, "unknown key \"%s\" (rules, receivers, inhibit, external_url)", ks);
        }
    }
    return PW_OK;
}

/* Whole-rule checks once every key is in. */
static pw_err
ar_finish(ar *a, pw_alert_config *c)
{
    char   why[300] = "";
    pw_err rc;

    for (size_t i = 0; i < c->nrules; i++) {
        pw_alert_rule *r = &c->rules[i];

        if (isnan(r->threshold))
            return ar_fail(a, NULL, "rule %s has no threshold", r->name);
        if (!r->has_clear)
            r->clear = r->threshold;
        if (r->below ? r->clear < r->threshold : r->clear > r->threshold)
            return ar_fail(a, NULL, "rule %s: clear (%g) must be %s the threshold (%g): the alert "
                           "clears only past it", r->name, r->clear, r->below ? "at or above"
                           : "at or below", r->threshold);
        if ((rc = r->kind->check(r, why, sizeof why)) != PW_OK)
            return rc == PW_ENOMEM ? rc : ar_fail(a, NULL, "rule %s: %s", r->name, why);
    }
    return PW_OK;
}

static pw_err
ar_load(const char *yaml, size_t len, const char *path, bool is_file, pw_alert_config **out,
        char *msg, size_t msglen)
{
    struct fy_parse_cfg pcfg = { .flags = FYPCF_QUIET };
    struct fy_document *def = NULL, *doc = NULL;
    pw_alert_config    *c = calloc(1, sizeof *c);
    ar                 *a = calloc(1, sizeof *a);
    pw_err              rc = PW_ENOMEM;

    *out = NULL;
    if (c != NULL)
        atomic_init(&c->refs, 1);
    if (a == NULL || c == NULL || (c->rules = calloc(PW_ALERT_MAX_RULES, sizeof *c->rules)) == NULL
        || (c->rcv = calloc(PW_ALERT_MAX_RECEIVERS, sizeof *c->rcv)) == NULL
        || (c->inhibit = calloc(PW_ALERT_MAX_RECEIVERS, sizeof *c->inhibit)) == NULL)
        goto out;
    if ((def = fy_document_build_from_string(&pcfg, ar_defaults, sizeof ar_defaults - 1)) == NULL) {
        snprintf(msg, msglen, "the built-in alert rules do not parse");
        rc = PW_EINVAL;
        goto out;
    }
    a->path = "(built-in rules)";
    a->msg = msg;
    a->msglen = msglen;
    if ((rc = ar_section(a, c, def)) != PW_OK)
        goto out;
    fy_document_destroy(def);
    if ((def = fy_document_build_from_string(&pcfg, ar_defaults_days, sizeof ar_defaults_days - 1)) == NULL) {
        snprintf(msg, msglen, "the built-in alert rules do not parse");
        rc = PW_EINVAL;
        goto out;
    }
    if ((rc = ar_section(a, c, def)) != PW_OK)
        goto out;
    /* The file's rules: each may name a built-in once. */
    memset(a->touched, 0, sizeof a->touched);
    a->path = path;
    if (is_file) {
        FILE *probe = fopen(path, "r");

        if (probe == NULL) {
            snprintf(msg, msglen, "config %s: %s", path, strerror(errno));
            rc = PW_EIO;
            goto out;
        }
        fclose(probe);
        doc = fy_document_build_from_file(&pcfg, path);
    } else if (yaml != NULL) {
        doc = fy_document_build_from_string(&pcfg, yaml, len);
    }
    if ((is_file || yaml != NULL) && doc == NULL) {
        snprintf(msg, msglen, "config %s: not valid YAML", path);
        rc = PW_EINVAL;
        goto out;
    }
    if (doc != NULL && (rc = ar_section(a, c, doc)) != PW_OK)
        goto out;
    rc = ar_finish(a, c);
out:
    if (rc == PW_ENOMEM)
        snprintf(msg, msglen, "config %s: out of memory", path);
    free(a);
    fy_document_destroy(def);
    fy_document_destroy(doc);
    if (rc != PW_OK)
        pw_alert_config_free(c);
    else
        *out = c;
    return rc;
}

pw_err
pw_alert_config_load(const char *path, pw_alert_config **out, char *msg, size_t msglen)
{
    return ar_load(NULL, 0, path ? path : "(none)", path != NULL, out, msg, msglen);
}

pw_err
pw_alert_config_parse(const char *yaml, size_t len, const char *name, pw_alert_config **out,
                      char *msg, size_t msglen)
{
    return ar_load(yaml, len, name, false, out, msg, msglen);
}

size_t
pw_alert_config_nrules(const pw_alert_config *c)
{
    size_t n = 0;

    for (size_t i = 0; c != NULL && i < c->nrules; i++)
        n += c->rules[i].enabled;
    return n;
}

size_t
pw_alert_config_nreceivers(const pw_alert_config *c)
{
    return c != NULL ? c->nrcv : 0;
}

const char *
pw_alert_config_external_url(const pw_alert_config *c)
{
    return c != NULL ? c->external_url : NULL;
}

json_t *
pw_alert_config_rules_json(const pw_alert_config *c)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && c != NULL && i < c->nrules; i++) {
        const pw_alert_rule *r = &c->rules[i];

        json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:s,s:f,s:f,s:I,s:I,s:s,s:O,s:O}",
            "name", r->name, "kind", r->kind->name, "enabled", r->enabled,
            "op", r->below ? "below" : "above", "threshold", r->threshold, "clear", r->clear,
            "for_ms", (json_int_t) r->for_ms, "every_ms", (json_int_t) r->every_ms, "severity", r->severity,
            "labels", r->labels, "annotations", r->annotations));
    }
    return arr;
}
