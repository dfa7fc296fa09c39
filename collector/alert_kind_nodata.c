/*
 * alert_kind_nodata.c - rule kind `nodata`: agents that went silent. The
 * value is how many of its intervals a host has been silent: (t - last
 * contact) / interval, to one decimal. Every agent ships
 * poolwatch_agent_frame_seq{host,boot} with every frame, so:
 *
 *   - the hosts are the host labels of that series;
 *   - last contact at t is its newest sample at or before t (agent clock),
 *     or the agent registry's last contact (collector clock) when that is
 *     not after t - so the live pass sees the registry, a backtest the data;
 *   - the interval is the median spacing of its samples in the hour before
 *     t (agents do not send their --interval), else `default_interval`.
 *
 * With `hosts: pools` only the hosts of the inventory's pools (as of t) are
 * looked at, one instance per pool and host (label pool): the hypervisors,
 * where a silent agent means VMs nobody watches ("host down").
 *
 *   - name: AgentSilent
 *     kind: nodata
 *     threshold: 3              # intervals
 *     default_interval: 10s
 *     hosts: all                # or pools
 */
#include "alert_int.h"
#include "sort.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series.h"

#define KN_METRIC "poolwatch_agent_frame_seq"
#define KN_RECENT_MS INT64_C(3600000)
#define KN_MAX_POINTS 4096           /* samples kept per host for the spacing */
#define KN_MAX_HOSTS 100000

typedef struct kn_data {
    int64_t default_interval;
    bool    pools_only;
} kn_data;

typedef struct kn_host {
    char     *host;
    char     *pool;        /* hosts: pools */
    uint64_t *ids;
    size_t    nids;
    int64_t   last;        /* INT64_MIN: never */
    int64_t   interval;
} kn_host;

typedef struct kn_scan {
    kn_host *h;
    size_t   n, cap;
    bool     nomem;
    int64_t *ts;           /* spacing samples of the host being read */
    size_t   nts;
    int64_t  t;
} kn_scan;

static int
kn_cmp_host(const void *a, const void *b)
{
    const kn_host *x = a, *y = b;
    int            c = strcmp(x->host, y->host);

    return c != 0 ? c : strcmp(x->pool ? x->pool : "", y->pool ? y->pool : "");
}

static kn_host *
kn_find(kn_scan *s, const char *host)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->h[i].host, host) == 0)
            return &s->h[i];
    return NULL;
}

static kn_host *
kn_add(kn_scan *s, const char *host)
{
    kn_host *h;

    if (s->n == s->cap) {
        size_t   cap = s->cap ? s->cap * 2 : 16;
        kn_host *p = s->n < KN_MAX_HOSTS ? realloc(s->h, cap * sizeof *p) : NULL;

        if (p == NULL) {
            s->nomem = true;
            return NULL;
        }
        s->h = p;
        s->cap = cap;
    }
    h = &s->h[s->n];
    memset(h, 0, sizeof *h);
    h->last = INT64_MIN;
    if ((h->host = strdup(host)) == NULL) {
        s->nomem = true;
        return NULL;
    }
    s->n++;
    return h;
}

static int
kn_series(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    kn_scan       *s = ctx;
    pw_series_view v;
    const char    *host;
    kn_host       *h;
    uint64_t      *ids;

    if (pw_series_key_parse(key, keylen, &v) != PW_OK)
        return 0;                           /* not ours to judge: skip */
    host = pw_series_view_label(&v, "host");
    if (host != NULL && (h = kn_find(s, host)) == NULL)
        h = kn_add(s, host);
    pw_series_view_free(&v);
    if (host == NULL)
        return 0;
    if (h == NULL)
        return 1;
    if ((ids = realloc(h->ids, (h->nids + 1) * sizeof *ids)) == NULL) {
        s->nomem = true;
        return 1;
    }
    h->ids = ids;
    h->ids[h->nids++] = id;
    return 0;
}

static int
kn_point(void *ctx, int64_t ts, double v)
{
    kn_scan *s = ctx;

    (void) v;
    if (s->nts < KN_MAX_POINTS)
        s->ts[s->nts++] = ts;
    else {
        memmove(s->ts, s->ts + 1, (KN_MAX_POINTS - 1) * sizeof *s->ts);
        s->ts[KN_MAX_POINTS - 1] = ts;
    }
    return 0;
}

static int
kn_rollup(void *ctx, const pw_rollup *r)
{
    int64_t *last = ctx;

    if (r->last_ts > *last)
        *last = r->last_ts;
    return 0;
}

static int
kn_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

/* Last contact and interval of h from the data, as of s->t. */
static pw_err
kn_measure(kn_scan *s, pw_store_txn *t, kn_host *h, int64_t def_interval)
{
    int64_t diffs[KN_MAX_POINTS];
    size_t  nd = 0;
    pw_err  rc;

    s->nts = 0;
    for (size_t i = 0; i < h->nids; i++)
        if ((rc = pw_store_points(t, h->ids[i], s->t - KN_RECENT_MS + 1, s->t, kn_point, s)) != PW_OK)
            return rc;
    h->interval = def_interval;
    if (s->nts > 0) {
        pw_qsort(s->ts, s->nts, sizeof *s->ts, kn_cmp_i64);
        h->last = s->ts[s->nts - 1];
        for (size_t i = 1; i < s->nts; i++)
            if (s->ts[i] > s->ts[i - 1])
                diffs[nd++] = s->ts[i] - s->ts[i - 1];
        if (nd > 0) {
            pw_qsort(diffs, nd, sizeof *diffs, kn_cmp_i64);
            h->interval = diffs[nd / 2];
        }
        return PW_OK;
    }
    /* Silent for the whole hour: when was it last heard of? Hour buckets ending by t. */
    for (size_t i = 0; i < h->nids; i++)
        if ((rc = pw_store_rollups(t, h->ids[i], PW_RES_1H, s->t - INT64_C(400) * 86400000,
                                   s->t - KN_RECENT_MS, kn_rollup, &h->last)) != PW_OK)
            return rc;
    return PW_OK;
}

typedef struct kn_reg {
    kn_scan *s;
    int64_t  t;
} kn_reg;

static int
kn_agent(void *ctx, const pw_agent_info *a)
{
    kn_reg  *r = ctx;
    kn_host *h;

    /* The collector's own writers are in the registry too; they are not agents. */
    if (strncmp(a->agent_id, "poolwatch-collector", 19) == 0)
        return 0;
    if ((h = kn_find(r->s, a->host)) != NULL && a->last_seen_ms <= r->t && a->last_seen_ms > h->last)
        h->last = a->last_seen_ms;
    return 0;
}

typedef struct kn_pools {
    kn_scan *all;
    kn_scan *out;
} kn_pools;

static int
kn_pool(void *ctx, const pw_pool_def *p)
{
    kn_pools *kp = ctx;

    for (size_t i = 0; i < p->nhosts; i++) {
        kn_host *src = kn_find(kp->all, p->hosts[i]), *h;

        if (src == NULL || src->last == INT64_MIN)
            continue;                 /* never reported: nothing to say it is down */
        if ((h = kn_add(kp->out, p->hosts[i])) == NULL)
            return 1;
        h->last = src->last;
        h->interval = src->interval;
        if ((h->pool = strdup(p->name)) == NULL) {
            kp->out->nomem = true;
            return 1;
        }
    }
    return 0;
}

static void
kn_free(kn_scan *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->h[i].host);
        free(s->h[i].pool);
        free(s->h[i].ids);
    }
    free(s->h);
    free(s->ts);
}

static pw_err
kn_eval(const pw_alert_rule *r, const pw_alert_src *src, int64_t t, pw_alert_emit_fn emit,
        void *ctx, char *msg, size_t len)
{
    const kn_data *d = r->kd;
    kn_scan        s = { .t = t }, pools = { .t = t }, *use = &s;
    kn_reg         reg = { &s, t };
    pw_err         rc;

    if ((s.ts = malloc(KN_MAX_POINTS * sizeof *s.ts)) == NULL) {
        rc = PW_ENOMEM;
        goto out;
    }
    if ((rc = pw_store_series_scan(src->t, KN_METRIC, kn_series, &s)) != PW_OK)
        goto out;
    if (s.nomem) {
        rc = PW_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < s.n; i++)
        if ((rc = kn_measure(&s, src->t, &s.h[i], d->default_interval)) != PW_OK)
            goto out;
    if ((rc = pw_store_agents(src->t, kn_agent, &reg)) != PW_OK)
        goto out;
    if (d->pools_only) {
        kn_pools kp = { &s, &pools };

        if (src->inv != NULL && (rc = pw_inventory_pools(src->inv, t, kn_pool, &kp)) != PW_OK) {
            snprintf(msg, len, "reading the pools: %s", pw_strerror(rc));
            goto out;
        }
        if (pools.nomem) {
            rc = PW_ENOMEM;
            goto out;
        }
        use = &pools;
    }
    pw_qsort(use->h, use->n, sizeof *use->h, kn_cmp_host);
    for (size_t i = 0; i < use->n; i++) {
        kn_host *h = &use->h[i];
        json_t  *labels;
        double   silent;

        if (h->last == INT64_MIN)
            continue;
        silent = h->last >= t ? 0 : floor((double) (t - h->last) / (double) h->interval * 10) / 10;
        labels = h->pool != NULL ? json_pack("{s:s,s:s}", "host", h->host, "pool", h->pool)
                                 : json_pack("{s:s}", "host", h->host);
        if (labels == NULL) {
            /* A host name that is not UTF-8 cannot be shown: left out. */
            continue;
        }
        if ((rc = emit(ctx, labels, silent)) != PW_OK)
            goto out;
    }
out:
    if (rc != PW_OK && msg[0] == '\0' && rc != PW_ENOMEM)
        snprintf(msg, len, "reading the agents' series: %s", pw_strerror(rc));
    kn_free(&s);
    kn_free(&pools);
    return rc;
}

static pw_err
kn_init(pw_alert_rule *r)
{
    kn_data *d = calloc(1, sizeof *d);

    if (d == NULL)
        return PW_ENOMEM;
    d->default_interval = 10000;
    r->kd = d;
    return PW_OK;
}

static pw_err
kn_option(pw_alert_rule *r, const char *key, struct fy_node *v, char *msg, size_t len)
{
    kn_data    *d = r->kd;
    const char *s = pw_alert_yaml_str(v);

    if (strcmp(key, "default_interval") == 0) {
        if (!pw_alert_yaml_duration(v, &d->default_interval) || d->default_interval < 1000) {
            snprintf(msg, len, "default_interval must be a duration of at least 1s");
            return PW_EINVAL;
        }
        return PW_OK;
    }
    if (strcmp(key, "hosts") == 0) {
        if (s == NULL || (strcmp(s, "all") != 0 && strcmp(s, "pools") != 0)) {
            snprintf(msg, len, "hosts must be all (every agent) or pools (the pools' hosts)");
            return PW_EINVAL;
        }
        d->pools_only = s[0] == 'p';
        return PW_OK;
    }
    return PW_EINVAL;
}

static pw_err
kn_check(pw_alert_rule *r, char *msg, size_t len)
{
    (void) r;
    (void) msg;
    (void) len;
    return PW_OK;
}

static void
kn_fini(pw_alert_rule *r)
{
    free(r->kd);
    r->kd = NULL;
}

const pw_alert_kind_ops pw_alert_kind_nodata = {
    .name = "nodata",
    .keys = "default_interval, hosts",
    .init = kn_init,
    .option = kn_option,
    .check = kn_check,
    .eval = kn_eval,
    .fini = kn_fini,
};
