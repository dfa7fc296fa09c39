/*
 * capacity_measure.c - pool capacity from the store (capacity.h,
 * pw_cap_report_build): per-host figures through the evaluator (eval.h),
 * allocations from observed domains or the inventory, forecasts from the
 * stored ratio series.
 *
 * Every figure is one expression evaluated once for all hosts of all pools
 * (a host regex narrows each selector), its result taken apart by the host
 * label. Fallbacks run only when some host still lacks the figure and fill
 * only those hosts, so a hypervisor's own figures win over the node ones.
 */
#include "capacity.h"
#include "sort.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "expr.h"

#define CM_DAY_MS     INT64_C(86400000)
#define CM_NET_RANGE  INT64_C(86400000)    /* network p95 over the last 24 h ... */
#define CM_NET_STEP   INT64_C(300000)      /* ... of the 5-minute rate, every 5 minutes */
#define CM_NET_STEPS  ((size_t) (CM_NET_RANGE / CM_NET_STEP) + 1)
#define CM_NET_Q      0.95

/* File systems that hold no local capacity: memory, network, images, containers. */
#define CM_FS_EXCLUDE "tmpfs|ramfs|nfs|nfs4|cifs|smb3|smbfs|ceph|glusterfs|fuse\\\\..*|iso9660|squashfs|overlay|autofs"
/* Interfaces that are not physical links (a VM's tap, bridges, containers, loopback). */
#define CM_NIC_EXCLUDE "lo|tap.*|vnet.*|veth.*|virbr.*|br.*|docker.*|tun.*|macvtap.*|dummy.*"

/* One pool definition, copied out of the inventory's callback. */
typedef struct cm_pool cm_pool;
struct cm_pool {
    char            *name;
    char           **hosts;
    size_t           nhosts;
    pw_pool_def      def;          /* its pointers point into the fields above */
    pw_cap_inv_alloc inv;
};

/* A NIC counted in a host's network capacity, and its traffic per step. */
typedef struct cm_nic cm_nic;
struct cm_nic {
    size_t  host;                  /* index into cm->hosts */
    char   *device;
    double *traffic;               /* CM_NET_STEPS values, NaN = none; NULL until seen */
};

typedef struct cm cm;
struct cm {
    pw_store_txn   *t;
    int64_t         at, now;
    pw_eval_store   es;
    pw_eval_source  src;
    cm_pool        *pools;
    size_t          npools, cap_pools;
    pw_cap_host    *hosts;         /* sorted by name, unique; names owned by hostnames */
    char          **hostnames;
    size_t          nhosts;
    char           *host_re;       /* selector text: host=~"..." */
    cm_nic         *nics;
    size_t          nnics, cap_nics;
    char           *msg;
    size_t          msglen;
    pw_err          err;           /* set by callbacks */
};

static pw_err cm_fail(cm *m, pw_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static pw_err
cm_fail(cm *m, pw_err e, const char *fmt, ...)
{
    va_list ap;

    if (m->msg != NULL && m->msglen > 0) {
        va_start(ap, fmt);
        vsnprintf(m->msg, m->msglen, fmt, ap);
        va_end(ap);
    }
    return e;
}

/* a + b where NaN means "no figure yet". */
static double
cm_add(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : a + b;
}

/* ---- pools and hosts ------------------------------------------------------------ */

static int
cm_pool_cb(void *ctx, const pw_pool_def *p)
{
    cm      *m = ctx;
    cm_pool *cp;

    if (m->npools == m->cap_pools) {
        size_t   n = m->cap_pools ? m->cap_pools * 2 : 8;
        cm_pool *v = realloc(m->pools, n * sizeof *v);

        if (v == NULL)
            goto nomem;
        m->pools = v;
        m->cap_pools = n;
    }
    cp = &m->pools[m->npools];
    memset(cp, 0, sizeof *cp);
    m->npools++;
    if ((cp->name = strdup(p->name)) == NULL
        || (p->nhosts > 0 && (cp->hosts = calloc(p->nhosts, sizeof *cp->hosts)) == NULL))
        goto nomem;
    for (size_t i = 0; i < p->nhosts; i++) {
        if ((cp->hosts[i] = strdup(p->hosts[i])) == NULL)
            goto nomem;
        cp->nhosts++;
    }
    cp->def = *p;
    cp->def.name = cp->name;
    cp->def.hosts = (const char *const *) cp->hosts;
    cp->def.nhosts = cp->nhosts;
    return 0;
nomem:
    m->err = PW_ENOMEM;
    return 1;
}

static cm_pool *
cm_pool_find(cm *m, const char *name)
{
    for (size_t i = 0; i < m->npools; i++)
        if (strcmp(m->pools[i].name, name) == 0)
            return &m->pools[i];
    return NULL;
}

static int
cm_vm_cb(void *ctx, const pw_inv_vm *vm)
{
    cm      *m = ctx;
    cm_pool *p = vm->pool[0] ? cm_pool_find(m, vm->pool) : NULL;

    if (p == NULL)
        return 0;
    if (p->inv.vms++ == 0)
        for (int r = 0; r < PW_POOL_RES_COUNT_; r++)
            p->inv.alloc[r] = r == PW_POOL_NETWORK ? NAN : 0;
    p->inv.alloc[PW_POOL_CPU] += vm->vcpus;
    p->inv.alloc[PW_POOL_MEMORY] += vm->memory_gb * PW_CAP_GB;
    p->inv.alloc[PW_POOL_STORAGE] += (vm->sys_disk_gb + vm->data_disk_gb) * PW_CAP_GB;
    return 0;
}

static int
cm_strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Appends s to a malloc'd buffer *b (length *n). */
static bool
cm_append(char **b, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n + len + 1 > *cap) {
        size_t c = (*n + len + 1) * 2;
        char  *v = realloc(*b, c);

        if (v == NULL)
            return false;
        *b = v;
        *cap = c;
    }
    memcpy(*b + *n, s, len);
    *n += len;
    (*b)[*n] = '\0';
    return true;
}

/*
 * host=~"h1|h\\.2" for every pool host: each name escaped for a POSIX ERE,
 * then for the double-quoted string it sits in.
 */
static pw_err
cm_host_re(cm *m)
{
    size_t n = 0, cap = 0;
    char  *b = NULL;

    if (!cm_append(&b, &n, &cap, "host=~\"", 7))
        goto nomem;
    for (size_t i = 0; i < m->nhosts; i++) {
        if (i > 0 && !cm_append(&b, &n, &cap, "|", 1))
            goto nomem;
        for (const char *s = m->hostnames[i]; *s; s++) {
            if (strchr(".[]()*+?{}|^$\\", *s) != NULL && !cm_append(&b, &n, &cap, "\\\\", 2))
                goto nomem;
            if (*s == '"' && !cm_append(&b, &n, &cap, "\\", 1))
                goto nomem;
            if (!cm_append(&b, &n, &cap, s, 1))
                goto nomem;
        }
    }
    if (!cm_append(&b, &n, &cap, "\"", 1))
        goto nomem;
    m->host_re = b;
    return PW_OK;
nomem:
    free(b);
    return PW_ENOMEM;
}

static pw_err
cm_hosts(cm *m)
{
    size_t total = 0, k = 0;

    for (size_t i = 0; i < m->npools; i++)
        total += m->pools[i].nhosts;
    if (total == 0)
        return PW_OK;
    if ((m->hostnames = malloc(total * sizeof *m->hostnames)) == NULL)
        return PW_ENOMEM;
    for (size_t i = 0; i < m->npools; i++)
        for (size_t j = 0; j < m->pools[i].nhosts; j++)
            m->hostnames[k++] = m->pools[i].hosts[j];     /* borrowed from the pools */
    pw_qsort(m->hostnames, total, sizeof *m->hostnames, cm_strp_cmp);
    for (size_t i = 0; i < total; i++)
        if (m->nhosts == 0 || strcmp(m->hostnames[m->nhosts - 1], m->hostnames[i]) != 0)
            m->hostnames[m->nhosts++] = m->hostnames[i];
    if ((m->hosts = calloc(m->nhosts, sizeof *m->hosts)) == NULL)
        return PW_ENOMEM;
    for (size_t i = 0; i < m->nhosts; i++)
        pw_cap_host_init(&m->hosts[i], m->hostnames[i]);
    return cm_host_re(m);
}

static pw_cap_host *
cm_host(cm *m, const pw_series_view *v, size_t *idx)
{
    const char *h = pw_series_view_label(v, "host");
    size_t      lo = 0, hi = m->nhosts;

    if (h == NULL)
        return NULL;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int    c = strcmp(h, m->hostnames[mid]);

        if (c == 0) {
            if (idx != NULL)
                *idx = mid;
            return &m->hosts[mid];
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* ---- evaluation ------------------------------------------------------------------ */

/* What a sink does with each value of a series. */
typedef void (*cm_take_fn)(cm *m, void *arg, const pw_series_view *v, int64_t ts, double val);

typedef struct cm_sink cm_sink;
struct cm_sink {
    cm                   *m;
    cm_take_fn            take;
    void                 *arg;
    const pw_series_view *v;
};

static pw_err
cm_sink_begin(void *ctx, const char *key, size_t keylen, const pw_series_view *v)
{
    (void) key;
    (void) keylen;
    ((cm_sink *) ctx)->v = v;
    return PW_OK;
}

static pw_err
cm_sink_point(void *ctx, int64_t ts, double value)
{
    cm_sink *s = ctx;

    s->take(s->m, s->arg, s->v, ts, value);
    return s->m->err;
}

static pw_err
cm_sink_end(void *ctx)
{
    ((cm_sink *) ctx)->v = NULL;
    return PW_OK;
}

static const pw_query_sink cm_sink_ops = { cm_sink_begin, cm_sink_point, cm_sink_end };

/*
 * Evaluates the expression (printf-style; %s may take m->host_re) over
 * [start, end] every step, handing every value to take.
 */
static pw_err
cm_eval(cm *m, int64_t start, int64_t end, int64_t step, cm_take_fn take, void *arg,
        const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static pw_err
cm_eval(cm *m, int64_t start, int64_t end, int64_t step, cm_take_fn take, void *arg,
        const char *fmt, ...)
{
    char         text[4096], *big = NULL, err[512] = "";
    const char  *q = text;
    va_list      ap;
    int          len;
    pw_expr     *e = NULL;
    size_t       pos;
    pw_eval_opts o = { .start = start, .end = end, .step = step, .now = m->now };
    cm_sink      s = { .m = m, .take = take, .arg = arg };
    pw_err       rc;

    va_start(ap, fmt);
    len = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (len < 0)
        return PW_EINVAL;
    if ((size_t) len >= sizeof text) {
        if ((big = malloc((size_t) len + 1)) == NULL)
            return PW_ENOMEM;
        va_start(ap, fmt);
        vsnprintf(big, (size_t) len + 1, fmt, ap);
        va_end(ap);
        q = big;
    }
    if ((rc = pw_expr_parse(q, &e, &pos, err, sizeof err)) != PW_OK) {
        rc = cm_fail(m, rc, "capacity query does not parse (%s): %.200s", err, q);
        goto out;
    }
    m->err = PW_OK;
    rc = pw_eval_range(e, &o, &m->src, &cm_sink_ops, &s, NULL, err, sizeof err);
    if (rc == PW_OK)
        rc = m->err;
    if (rc != PW_OK)
        cm_fail(m, rc, "capacity query %.120s: %s", q, err[0] ? err : pw_strerror(rc));
out:
    pw_expr_free(e);
    free(big);
    return rc;
}

/* Instant value at m->at. */
#define CM_AT(m) (m)->at, (m)->at, 0

/* A figure slot of a host, by offset: set only where still NaN (fallbacks fill gaps). */
typedef struct cm_slot cm_slot;
struct cm_slot {
    bool capacity;      /* else used, or dom_alloc with dom */
    bool dom;
    int  res;
};

static void
cm_take_slot(cm *m, void *arg, const pw_series_view *v, int64_t ts, double val)
{
    const cm_slot *sl = arg;
    pw_cap_host   *h = cm_host(m, v, NULL);
    double        *p;

    (void) ts;
    if (h == NULL || !isfinite(val))
        return;
    p = sl->dom ? &h->dom_alloc[sl->res] : sl->capacity ? &h->capacity[sl->res] : &h->used[sl->res];
    if (isnan(*p))
        *p = val;
}

static void
cm_take_domains(cm *m, void *arg, const pw_series_view *v, int64_t ts, double val)
{
    pw_cap_host *h = cm_host(m, v, NULL);

    (void) arg;
    (void) ts;
    if (h != NULL && val > 0)
        h->domains = (size_t) val;
}

/* Does any host still lack this figure? */
static bool
cm_missing(const cm *m, const cm_slot *sl)
{
    for (size_t i = 0; i < m->nhosts; i++) {
        const pw_cap_host *h = &m->hosts[i];

        if (isnan(sl->capacity ? h->capacity[sl->res] : h->used[sl->res]))
            return true;
    }
    return false;
}

/* ---- network: capacity and traffic per NIC -------------------------------------- */

typedef struct cm_nic_pass cm_nic_pass;
struct cm_nic_pass {
    bool *host_done;    /* hosts whose NICs an earlier (preferred) metric listed */
    bool *host_now;     /* hosts this pass listed */
};

static cm_nic *
cm_nic_find(cm *m, size_t host, const char *device)
{
    for (size_t i = 0; i < m->nnics; i++)
        if (m->nics[i].host == host && strcmp(m->nics[i].device, device) == 0)
            return &m->nics[i];
    return NULL;
}

static void
cm_take_speed(cm *m, void *arg, const pw_series_view *v, int64_t ts, double val)
{
    cm_nic_pass *np = arg;
    const char  *dev = pw_series_view_label(v, "device");
    size_t       idx;
    pw_cap_host *h = cm_host(m, v, &idx);

    (void) ts;
    if (h == NULL || dev == NULL || !(val > 0) || !isfinite(val) || np->host_done[idx]
        || cm_nic_find(m, idx, dev) != NULL)
        return;
    if (m->nnics == m->cap_nics) {
        size_t  n = m->cap_nics ? m->cap_nics * 2 : 16;
        cm_nic *nv = realloc(m->nics, n * sizeof *nv);

        if (nv == NULL) {
            m->err = PW_ENOMEM;
            return;
        }
        m->nics = nv;
        m->cap_nics = n;
    }
    if ((m->nics[m->nnics].device = strdup(dev)) == NULL) {
        m->err = PW_ENOMEM;
        return;
    }
    m->nics[m->nnics].host = idx;
    m->nics[m->nnics].traffic = NULL;
    m->nnics++;
    np->host_now[idx] = true;
    h->capacity[PW_POOL_NETWORK] = cm_add(h->capacity[PW_POOL_NETWORK], val);
}

static void
cm_take_traffic(cm *m, void *arg, const pw_series_view *v, int64_t ts, double val)
{
    const int64_t *start = arg;
    const char    *dev = pw_series_view_label(v, "device");
    size_t         idx, step;
    cm_nic        *n;

    if (cm_host(m, v, &idx) == NULL || dev == NULL || (n = cm_nic_find(m, idx, dev)) == NULL
        || !isfinite(val) || ts < *start)
        return;
    step = (size_t) ((ts - *start) / CM_NET_STEP);
    if (step >= CM_NET_STEPS)
        return;
    if (n->traffic == NULL) {
        if ((n->traffic = malloc(CM_NET_STEPS * sizeof *n->traffic)) == NULL) {
            m->err = PW_ENOMEM;
            return;
        }
        for (size_t i = 0; i < CM_NET_STEPS; i++)
            n->traffic[i] = NAN;
    }
    n->traffic[step] = val;
}

static int
cm_dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

/* Quantile q of v[0..n) with linear interpolation, as Prometheus' quantile_over_time. */
static double
cm_quantile(double q, double *v, size_t n)
{
    double rank, w;
    size_t lo, hi;

    if (n == 0)
        return NAN;
    pw_qsort(v, n, sizeof *v, cm_dbl_cmp);
    rank = q * (double) (n - 1);
    lo = (size_t) floor(rank);
    hi = lo + 1 < n ? lo + 1 : lo;
    w = rank - (double) lo;
    return v[lo] * (1 - w) + v[hi] * w;
}

/*
 * Network: the NICs with a link speed (the hypervisor's list first, else the
 * node's physical-looking interfaces), their speeds summed as capacity; their
 * received + sent bytes as a 5-minute rate every 5 minutes over 24 h, summed
 * per host at each step, and the p95 of those sums as used.
 */
static pw_err
cm_network(cm *m)
{
    bool       *done = calloc(m->nhosts, sizeof *done), *now = calloc(m->nhosts, sizeof *now);
    cm_nic_pass np = { done, now };
    int64_t     start = m->at - CM_NET_RANGE;
    double     *sum = malloc(CM_NET_STEPS * sizeof *sum);
    pw_err      rc = PW_ENOMEM;

    if (done == NULL || now == NULL || sum == NULL)
        goto out;
    if ((rc = cm_eval(m, CM_AT(m), cm_take_speed, &np, "poolwatch_host_nic_speed_bytes{%s}",
                      m->host_re)) != PW_OK)
        goto out;
    memcpy(done, now, m->nhosts * sizeof *done);
    if ((rc = cm_eval(m, CM_AT(m), cm_take_speed, &np,
                      "node_network_speed_bytes{%s,device!~\"" CM_NIC_EXCLUDE "\"}", m->host_re)) != PW_OK)
        goto out;
    if (m->nnics == 0)
        goto out;
    if ((rc = cm_eval(m, start, m->at, CM_NET_STEP, cm_take_traffic, &start,
                      "rate(node_network_receive_bytes_total{%s,device!=\"lo\"}[5m])"
                      " + rate(node_network_transmit_bytes_total{%s,device!=\"lo\"}[5m])",
                      m->host_re, m->host_re)) != PW_OK)
        goto out;
    for (size_t h = 0; h < m->nhosts; h++) {
        size_t n = 0;

        for (size_t i = 0; i < CM_NET_STEPS; i++) {
            double s = NAN;

            for (size_t k = 0; k < m->nnics; k++)
                if (m->nics[k].host == h && m->nics[k].traffic != NULL)
                    s = cm_add(s, m->nics[k].traffic[i]);
            if (!isnan(s))
                sum[n++] = s;
        }
        if (n > 0)
            m->hosts[h].used[PW_POOL_NETWORK] = cm_quantile(CM_NET_Q, sum, n);
    }
out:
    free(done);
    free(now);
    free(sum);
    return rc;
}

/* ---- the figures ------------------------------------------------------------------ */

/* One figure: expressions in order of preference, each filling the hosts still without it. */
typedef struct cm_figure cm_figure;
struct cm_figure {
    cm_slot     slot;
    const char *expr[3];     /* with one %s for the host matcher; NULL ends */
};

#define CM_FS "fstype!~\"" CM_FS_EXCLUDE "\""

static const cm_figure cm_figures[] = {
    { { true, false, PW_POOL_CPU }, {
        "sum by (host) (poolwatch_host_cpu_threads{%s})",
        "sum by (host) (poolwatch_node_cpus{%s})",
        "count by (host) (node_cpu_seconds_total{%s,mode=\"idle\"})" } },
    { { true, false, PW_POOL_MEMORY }, {
        "sum by (host) (poolwatch_host_memory_bytes{%s})",
        "sum by (host) (node_memory_MemTotal_bytes{%s})" } },
    { { true, false, PW_POOL_STORAGE }, {
        "sum by (host) (poolwatch_host_storage_pool_capacity_bytes{%s})",
        /* one device mounted at several places counts once */
        "sum by (host) (max by (host, device) (node_filesystem_size_bytes{%s," CM_FS "}))" } },
    { { false, false, PW_POOL_CPU }, {
        "sum by (host) (rate(poolwatch_node_cpu_seconds_total{%s,mode!~\"idle|iowait\"}[5m]))",
        "sum by (host) (rate(node_cpu_seconds_total{%s,mode!~\"idle|iowait\"}[5m]))" } },
    { { false, false, PW_POOL_MEMORY }, {
        "sum by (host) (node_memory_MemTotal_bytes{%1$s} - node_memory_MemAvailable_bytes{%1$s})" } },
    { { false, false, PW_POOL_STORAGE }, {
        "sum by (host) (poolwatch_host_storage_pool_allocation_bytes{%s})",
        "sum by (host) (max by (host, device) (node_filesystem_size_bytes{%1$s," CM_FS "}"
        " - node_filesystem_avail_bytes{%1$s," CM_FS "}))" } },
    { { false, true, PW_POOL_CPU }, { "sum by (host) (poolwatch_vm_vcpus{%s})" } },
    { { false, true, PW_POOL_MEMORY }, { "sum by (host) (poolwatch_vm_memory_max_bytes{%s})" } },
    { { false, true, PW_POOL_STORAGE }, { "sum by (host) (poolwatch_vm_disk_capacity_bytes{%s})" } },
};

static pw_err
cm_measure(cm *m)
{
    pw_err rc;

    for (size_t i = 0; i < sizeof cm_figures / sizeof cm_figures[0]; i++) {
        const cm_figure *f = &cm_figures[i];

        for (size_t k = 0; k < 3 && f->expr[k] != NULL; k++) {
            if (k > 0 && !cm_missing(m, &f->slot))
                break;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            rc = cm_eval(m, CM_AT(m), cm_take_slot, (void *) &f->slot, f->expr[k], m->host_re);
#pragma GCC diagnostic pop
            if (rc != PW_OK)
                return rc;
        }
    }
    if ((rc = cm_eval(m, CM_AT(m), cm_take_domains, NULL, "count by (host) (poolwatch_vm_vcpus{%s})",
                      m->host_re)) != PW_OK)
        return rc;
    return cm_network(m);
}

/* ---- forecasts ------------------------------------------------------------------- */

typedef struct cm_daily cm_daily;
struct cm_daily {
    int64_t        start;
    pw_cap_kind    kind;
    pw_cap_report *rep;
    double       (*days)[PW_POOL_RES_COUNT_][PW_FORECAST_DAYS];  /* per pool of rep */
};

static void
cm_take_daily(cm *m, void *arg, const pw_series_view *v, int64_t ts, double val)
{
    cm_daily   *d = arg;
    const char *pool = pw_series_view_label(v, "pool"), *res = pw_series_view_label(v, "resource");
    pw_pool_res r;
    size_t      i = (size_t) ((ts - d->start) / CM_DAY_MS);

    (void) m;
    if (pool == NULL || res == NULL || (r = pw_pool_res_parse(res)) == PW_POOL_RES_COUNT_
        || ts < d->start || i >= PW_FORECAST_DAYS)
        return;
    for (size_t p = 0; p < d->rep->npools; p++)
        if (strcmp(d->rep->pools[p].name, pool) == 0) {
            d->days[p][r][i] = val;
            return;
        }
}

/*
 * Daily maxima of the stored ratios, for the 30 days ending at `at` (each
 * window (at - (k+1) d, at - k d]), then a forecast per threshold.
 */
static pw_err
cm_forecasts(cm *m, pw_cap_report *rep)
{
    cm_daily d = { .start = m->at - (PW_FORECAST_DAYS - 1) * CM_DAY_MS, .rep = rep };
    pw_err   rc = PW_OK;

    if (rep->npools == 0)
        return PW_OK;
    if ((d.days = malloc(rep->npools * sizeof *d.days)) == NULL)
        return PW_ENOMEM;
    for (int k = 0; k < PW_CAP_KIND_COUNT_; k++) {
        d.kind = (pw_cap_kind) k;
        for (size_t p = 0; p < rep->npools; p++)
            for (int r = 0; r < PW_POOL_RES_COUNT_; r++)
                for (size_t i = 0; i < PW_FORECAST_DAYS; i++)
                    d.days[p][r][i] = NAN;
        if ((rc = cm_eval(m, d.start, m->at, CM_DAY_MS, cm_take_daily, &d, "max_over_time(%s[1d])",
                          k == PW_CAP_ALLOCATED ? PW_CAP_M_ALLOCATED_RATIO : PW_CAP_M_USED_RATIO)) != PW_OK)
            break;
        for (size_t p = 0; p < rep->npools; p++)
            for (int r = 0; r < PW_POOL_RES_COUNT_; r++)
                for (int j = 0; j < PW_CAP_NTHRESH; j++)
                    pw_forecast_days(d.days[p][r], PW_FORECAST_DAYS, pw_cap_thresholds[j],
                                     &rep->pools[p].res[r].forecast[k][j]);
    }
    free(d.days);
    return rc;
}

/* ---- the report ------------------------------------------------------------------- */

static int
cm_pool_cmp(const void *a, const void *b)
{
    return strcmp(((const cm_pool *) a)->name, ((const cm_pool *) b)->name);
}

pw_err
pw_cap_report_build(pw_store_txn *t, pw_inventory *inv, int64_t at, int64_t now, bool forecasts,
                    pw_cap_report *out, char *msg, size_t msglen)
{
    cm     m = { .t = t, .at = at, .now = now, .msg = msg, .msglen = msglen };
    pw_err rc;

    memset(out, 0, sizeof *out);
    out->at = at;
    if (msg != NULL && msglen > 0)
        msg[0] = '\0';
    pw_eval_store_source(&m.es, t, &m.src);
    if ((rc = pw_inventory_pools(inv, at, cm_pool_cb, &m)) != PW_OK || (rc = m.err) != PW_OK) {
        cm_fail(&m, rc, "reading the pool definitions: %s", pw_strerror(rc));
        goto out;
    }
    if (m.npools == 0)
        goto out;
    pw_qsort(m.pools, m.npools, sizeof *m.pools, cm_pool_cmp);
    if ((rc = pw_inventory_vms_at(inv, at, NULL, cm_vm_cb, &m)) != PW_OK || (rc = m.err) != PW_OK) {
        cm_fail(&m, rc, "reading the inventory's VMs: %s", pw_strerror(rc));
        goto out;
    }
    if ((rc = cm_hosts(&m)) != PW_OK)
        goto out;
    if (m.nhosts > 0 && (rc = cm_measure(&m)) != PW_OK)
        goto out;
    if ((out->pools = calloc(m.npools, sizeof *out->pools)) == NULL) {
        rc = PW_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < m.npools; i++) {
        pw_cap_pool_compute(&m.pools[i].def, m.hosts, m.nhosts, &m.pools[i].inv, &out->pools[i]);
        out->npools++;
        if ((out->pools[i].name = strdup(m.pools[i].name)) == NULL) {
            rc = PW_ENOMEM;
            goto out;
        }
    }
    if (forecasts)
        rc = cm_forecasts(&m, out);
out:
    if (rc == PW_ENOMEM)
        cm_fail(&m, rc, "out of memory");
    for (size_t i = 0; i < m.npools; i++) {
        for (size_t j = 0; j < m.pools[i].nhosts; j++)
            free(m.pools[i].hosts[j]);
        free(m.pools[i].hosts);
        free(m.pools[i].name);
    }
    free(m.pools);
    for (size_t i = 0; i < m.nnics; i++) {
        free(m.nics[i].device);
        free(m.nics[i].traffic);
    }
    free(m.nics);
    free(m.hosts);
    free(m.hostnames);
    free(m.host_re);
    return rc;
}
