/*
 * sampler_hypervisor.c - hypervisor mode: host capacity and every domain's
 * size and usage, from a source (hypervisor.h: libvirt, or a replay), as
 * series. Metric names and the reasons behind them: agent/README.md,
 * "Hypervisor mode".
 *
 * Why a worker thread. Every other sampler reads local files in
 * microseconds; libvirt calls go over a socket to libvirtd and block, for
 * seconds when libvirtd is busy, for ever when it hangs. The agent's round is
 * synchronous on its one loop, so a blocking call here would stop /proc
 * sampling and delivery with it. So the source runs on a thread of its own:
 * collect() asks it for a round and waits at most env->hypervisor_timeout_ms
 * (a fraction of the interval). An answer later than that is taken at the
 * start of the next round (figures one interval old, rather than none), and
 * a hung libvirtd costs each round only the wait, with
 * poolwatch_hypervisor_up 0. The loop thread owns everything that turns
 * answers into series (the previous round's domains, event counters, logs);
 * the worker owns the source; they share one mutex-guarded mailbox.
 *
 * Appear, disappear, resize. The previous round's domains are kept by UUID.
 * A domain in this round but not the last appeared; one in the last but not
 * this one disappeared; a known domain whose vCPU count, maximum memory or a
 * disk's capacity differs was resized: one sample of poolwatch_vm_resized
 * {what} with the new size at this round's time, a log line, a count. The
 * first successful round is the baseline and raises no events. Rounds that
 * failed are not compared (an outage is not 500 disappearances).
 */
#include "sampler.h"
#include "sort.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "hypervisor.h"
#include "log.h"
#include "procfs.h"

#define HV_BACKOFF_MIN_MS 1000
#define HV_BACKOFF_MAX_MS 60000
#define HV_MAX_DEVICES    128         /* disks or NICs per domain that get series */
#define HV_MAX_NICS       1024        /* host NICs that get a speed series */
#define HV_ERRLEN         512

typedef struct hv_result hv_result;
typedef struct hv_vm hv_vm;
typedef struct hv_dev hv_dev;
typedef struct hv_state hv_state;

/* What the worker hands over: one round, or why there is none. */
struct hv_result {
    pw_hv_round *round;        /* NULL if not connected */
    bool         node_ok, pools_ok, domains_ok;
    char         node_err[HV_ERRLEN], pools_err[HV_ERRLEN], domains_err[HV_ERRLEN];
    char         conn_err[HV_ERRLEN];   /* set when not connected or connection lost */
    bool         connected_now;         /* a (re)connection happened in this round */
};

/* The sizes of a domain that a resize event watches. */
struct hv_vm {
    char     uuid[40];
    char    *name;
    int64_t  vcpus, mem_max;   /* -1 = unknown */
    size_t   ndisks;
    struct { char dev[32]; uint64_t capacity; } *disks;
};

/* One disk or NIC of a domain while its parameters are read. */
struct hv_dev {
    const char *name;
    bool        have[8];
    uint64_t    v[8];
};

struct hv_state {
    const pw_hv_source_ops *ops;
    char                   *uri;
    int64_t                 timeout_ms;

    /* mailbox, under mu */
    pthread_t       thread;
    pthread_mutex_t mu;
    pthread_cond_t  cv;         /* CLOCK_MONOTONIC */
    bool            stop, requested, busy;
    bool            exited, orphaned;   /* the worker ended; hv_fini left it behind */
    hv_result      *pending;

    /* the worker's */
    pw_hv_source *src;
    int64_t       retry_at_ms, backoff_ms;

    /* the loop's */
    hv_vm   *prev;
    size_t   nprev;
    bool     have_prev;
    uint64_t appeared, disappeared, resized, dropped, timeouts;
    bool     up, down_logged, node_failing, pools_failing, domains_failing;
};

static const pw_hv_source_ops *const hv_sources[] = {
    &pw_hv_replay,              /* replay:// first: the libvirt source takes any URI */
    &pw_hv_libvirt,
    NULL,
};

/* --- the worker --- */

static void
hv_result_free(hv_result *res)
{
    if (res == NULL)
        return;
    pw_hv_round_free(res->round);
    free(res);
}

/* One round against the source, (re)connecting first if due. Blocks. */
static hv_result *
hv_work(hv_state *st)
{
    hv_result *res = calloc(1, sizeof *res);
    int64_t    now = pw_mono_ms();
    pw_err     rc;

    if (res == NULL)
        return NULL;
    if (st->src == NULL) {
        if (now < st->retry_at_ms) {
            snprintf(res->conn_err, sizeof res->conn_err, "not connected; next attempt in %lld ms",
                     (long long) (st->retry_at_ms - now));
            return res;
        }
        if (st->ops->open(st->uri, &st->src, res->conn_err, sizeof res->conn_err) != PW_OK) {
            st->backoff_ms = st->backoff_ms ? st->backoff_ms * 2 : HV_BACKOFF_MIN_MS;
            if (st->backoff_ms > HV_BACKOFF_MAX_MS)
                st->backoff_ms = HV_BACKOFF_MAX_MS;
            st->retry_at_ms = now + st->backoff_ms;
            return res;
        }
        res->connected_now = true;
    }
    if ((res->round = pw_hv_round_new()) == NULL)
        return res;
    rc = st->ops->node(st->src, &res->round->node, res->node_err, sizeof res->node_err);
    res->node_ok = res->round->have_node = rc == PW_OK;
    if (rc != PW_ENET) {
        rc = st->ops->pools(st->src, res->round, res->pools_err, sizeof res->pools_err);
        res->pools_ok = rc == PW_OK;
    }
    if (rc != PW_ENET) {
        rc = st->ops->domains(st->src, res->round, res->domains_err, sizeof res->domains_err);
        res->domains_ok = rc == PW_OK;
    }
    if (rc == PW_ENET) {
        /* Lost: reconnect at the next round, then back off if that fails. */
        snprintf(res->conn_err, sizeof res->conn_err, "connection lost: %.400s",
                 res->domains_err[0] ? res->domains_err
                 : res->pools_err[0] ? res->pools_err : res->node_err);
        st->ops->close(st->src);
        st->src = NULL;
        st->retry_at_ms = now;
        res->domains_ok = false;
    } else {
        st->backoff_ms = 0;
    }
    return res;
}

static void hv_state_free(hv_state *st);

static void *
hv_worker(void *arg)
{
    hv_state *st = arg;
    bool      orphaned;

    pthread_mutex_lock(&st->mu);
    for (;;) {
        hv_result *res;

        while (!st->requested && !st->stop)
            pthread_cond_wait(&st->cv, &st->mu);
        if (st->stop)
            break;
        st->requested = false;
        st->busy = true;
        pthread_mutex_unlock(&st->mu);
        res = hv_work(st);
        pthread_mutex_lock(&st->mu);
        hv_result_free(st->pending);        /* never taken: superseded */
        st->pending = res;
        st->busy = false;
        pthread_cond_broadcast(&st->cv);
    }
    /* Left behind by hv_fini: the state is ours to free. */
    st->exited = true;
    orphaned = st->orphaned;
    pthread_mutex_unlock(&st->mu);
    if (orphaned)
        hv_state_free(st);
    return NULL;
}

/* --- setup --- */

static void
hv_prev_free(hv_vm *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].disks);
    }
    free(v);
}

static void
hv_state_free(hv_state *st)
{
    hv_result_free(st->pending);
    if (st->src != NULL)
        st->ops->close(st->src);
    hv_prev_free(st->prev, st->nprev);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st->uri);
    free(st);
}

static pw_err
hv_init(const pw_sampler_env *env, void **state)
{
    hv_state          *st;
    pthread_condattr_t ca;

    *state = NULL;
    if (env->hypervisor_uri == NULL || env->hypervisor_uri[0] == '\0')
        return PW_EINVAL;
    if ((st = calloc(1, sizeof *st)) == NULL)
        return PW_ENOMEM;
    for (size_t i = 0; hv_sources[i] != NULL && st->ops == NULL; i++)
        if (hv_sources[i]->accepts(env->hypervisor_uri))
            st->ops = hv_sources[i];
    if (st->ops == NULL) {
        pw_error("--hypervisor %s: not a libvirt URI (qemu:///system, test:///default) "
                 "nor replay:///DIR", env->hypervisor_uri);
        free(st);
        return PW_EINVAL;
    }
    st->timeout_ms = env->hypervisor_timeout_ms > 0 ? env->hypervisor_timeout_ms : 5000;
    if ((st->uri = strdup(env->hypervisor_uri)) == NULL) {
        free(st);
        return PW_ENOMEM;
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&st->thread, NULL, hv_worker, st) != 0) {
        pw_error("hypervisor: cannot start its thread: %s", strerror(errno));
        hv_state_free(st);
        return PW_EIO;
    }
    *state = st;
    return PW_OK;
}

static void
hv_fini(void *state)
{
    hv_state       *st = state;
    struct timespec until;

    if (st == NULL)
        return;
    pthread_mutex_lock(&st->mu);
    st->stop = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    /* A worker stuck in a libvirt call must not hold up the agent's exit:
     * give it two seconds, then leave it (and the state it uses) behind. */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    if (pthread_timedjoin_np(st->thread, NULL, &until) != 0) {
        pthread_mutex_lock(&st->mu);
        if (!st->exited) {
            /* The worker frees the state when its call returns. */
            pw_warn("hypervisor: a call to %s is still running at exit; not waiting for it",
                    st->uri);
            st->orphaned = true;
            pthread_mutex_unlock(&st->mu);
            pthread_detach(st->thread);
            return;
        }
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->thread, NULL);
    }
    hv_state_free(st);
}

/* --- answers into series --- */

static void
hv_add(pw_batch *b, const char *metric, double v, pw_err *first, ...)
    __attribute__((sentinel));

/* pw_batch_addl that keeps the first error (a bad label value, a full frame). */
static void
hv_add(pw_batch *b, const char *metric, double v, pw_err *first, ...)
{
    pw_label labels[8];
    size_t   n = 0;
    va_list  ap;
    pw_err   rc;

    va_start(ap, first);
    for (const char *name; n < 8 && (name = va_arg(ap, const char *)) != NULL; n++) {
        labels[n].name = name;
        labels[n].value = va_arg(ap, const char *);
    }
    va_end(ap);
    rc = pw_batch_add(b, metric, v, n, labels);
    if (rc != PW_OK && *first == PW_OK)
        *first = rc;
}

static void
hv_host(const pw_hv_round *r, pw_batch *b, pw_err *first)
{
    const pw_hv_node *n = &r->node;

    if (r->have_node) {
        if (n->sockets)
            hv_add(b, "poolwatch_host_cpu_sockets", n->sockets, first, NULL);
        if (n->cores)
            hv_add(b, "poolwatch_host_cpu_cores", n->cores, first, NULL);
        if (n->threads)
            hv_add(b, "poolwatch_host_cpu_threads", n->threads, first, NULL);
        if (n->mhz)
            hv_add(b, "poolwatch_host_cpu_mhz", n->mhz, first, NULL);
        if (n->memory_bytes)
            hv_add(b, "poolwatch_host_memory_bytes", (double) n->memory_bytes, first, NULL);
    }
    for (size_t i = 0; i < r->npools; i++) {
        const pw_hv_pool *p = &r->pools[i];

        hv_add(b, "poolwatch_host_storage_pool_capacity_bytes", (double) p->capacity, first,
               "storage_pool", p->name, NULL);
        hv_add(b, "poolwatch_host_storage_pool_allocation_bytes", (double) p->allocation, first,
               "storage_pool", p->name, NULL);
        hv_add(b, "poolwatch_host_storage_pool_available_bytes", (double) p->available, first,
               "storage_pool", p->name, NULL);
    }
}

/*
 * Link speeds of the host's physical NICs: the interfaces in
 * sys_root/class/net that have a `device` (virtual ones - bridges, taps,
 * bonds, VLANs - have none). Read here rather than from libvirt, which has
 * no speed figure; the agent runs on the host, so its /sys is the host's.
 */
static void
hv_nics(const pw_sampler_env *env, pw_batch *b, pw_err *first)
{
    char           dir[4096], rel[512], buf[32];
    DIR           *d;
    struct dirent *e;
    struct stat    sb;
    size_t         len, n = 0;
    int64_t        mbps;

    if (pw_procfs_path(dir, sizeof dir, env->sys_root, "class/net") != PW_OK
        || (d = opendir(dir)) == NULL)
        return;                 /* no /sys (a container): no NIC speeds, no error */
    while ((e = readdir(d)) != NULL && n < HV_MAX_NICS) {
        char path[4096 + 300];

        if (e->d_name[0] == '.' || strlen(e->d_name) > 255)
            continue;
        snprintf(path, sizeof path, "%s/%s/device", dir, e->d_name);
        if (stat(path, &sb) != 0)
            continue;
        snprintf(rel, sizeof rel, "class/net/%s/speed", e->d_name);
        if (pw_procfs_read(env->sys_root, rel, buf, sizeof buf, &len) != PW_OK
            || !pw_procfs_complete(buf, len))
            continue;
        buf[len - 1] = '\0';
        /* -1: no link. Left out, never sent as 0 (as node_network_speed_bytes). */
        if (!pw_procfs_i64(buf, &mbps) || mbps < 0)
            continue;
        hv_add(b, "poolwatch_host_nic_speed_bytes", (double) mbps * 125000.0, first,
               "device", e->d_name, NULL);
        n++;
    }
    closedir(d);
}

/* Field "<prefix>.<n>.<rest>" → n and rest; false if not of that shape. */
static bool
hv_indexed(const char *field, const char *prefix, size_t *n, const char **rest)
{
    size_t plen = strlen(prefix);
    char  *end;

    if (strncmp(field, prefix, plen) != 0 || field[plen] != '.' || field[plen + 1] < '0'
        || field[plen + 1] > '9')
        return false;
    errno = 0;
    *n = strtoul(field + plen + 1, &end, 10);
    if (errno != 0 || *end != '.')
        return false;
    *rest = end + 1;
    return true;
}

static const char *const hv_block_fields[] = {
    "rd.bytes", "wr.bytes", "rd.reqs", "wr.reqs", "capacity", "allocation", "physical",
};
static const char *const hv_block_metrics[] = {
    "poolwatch_vm_disk_read_bytes_total", "poolwatch_vm_disk_written_bytes_total",
    "poolwatch_vm_disk_reads_completed_total", "poolwatch_vm_disk_writes_completed_total",
    "poolwatch_vm_disk_capacity_bytes", "poolwatch_vm_disk_allocation_bytes",
    "poolwatch_vm_disk_physical_bytes",
};
#define HV_BLOCK_CAPACITY 4
static const char *const hv_net_fields[] = {
    "rx.bytes", "tx.bytes", "rx.pkts", "tx.pkts", "rx.drop", "tx.drop",
};
static const char *const hv_net_metrics[] = {
    "poolwatch_vm_network_receive_bytes_total", "poolwatch_vm_network_transmit_bytes_total",
    "poolwatch_vm_network_receive_packets_total", "poolwatch_vm_network_transmit_packets_total",
    "poolwatch_vm_network_receive_drop_total", "poolwatch_vm_network_transmit_drop_total",
};
#define HV_COUNT(a) (sizeof (a) / sizeof (a)[0])

/* Everything read from one domain's parameters. */
typedef struct hv_dom {
    int64_t     state;                    /* -1 unknown */
    bool        have_cpu, have_cur, have_max, have_vcpus;
    uint64_t    cpu_ns, cur_kib, max_kib, vcpus;
    bool        have_bal[3];
    uint64_t    bal[3];                   /* unused, available, rss (KiB) */
    const char *title, *description;
    hv_dev      disks[HV_MAX_DEVICES], nics[HV_MAX_DEVICES];
    size_t      ndisks, nnics;            /* highest index seen + 1 */
} hv_dom;

/* A device's value from "<rest>" if rest is one of fields. */
static void
hv_dev_param(hv_dev *devs, size_t *ndevs, size_t i, const char *rest, const pw_hv_param *p,
             const char *const *fields, size_t nfields)
{
    hv_dev *d;

    if (i >= HV_MAX_DEVICES)
        return;
    d = &devs[i];
    if (i + 1 > *ndevs) {
        for (size_t k = *ndevs; k <= i; k++)
            memset(&devs[k], 0, sizeof devs[k]);
        *ndevs = i + 1;
    }
    if (strcmp(rest, "name") == 0 && p->type == PW_HV_STRING) {
        d->name = p->v.s;
        return;
    }
    for (size_t k = 0; k < nfields; k++)
        if (strcmp(rest, fields[k]) == 0)
            d->have[k] = pw_hv_param_u64(p, &d->v[k]);
}

static void
hv_dom_read(const pw_hv_round *r, size_t di, hv_dom *m)
{
    static const char *const bal[] = { "balloon.unused", "balloon.available", "balloon.rss" };
    const pw_hv_domain      *d = &r->domains[di];

    memset(m, 0, offsetof(hv_dom, disks));
    m->ndisks = m->nnics = 0;
    m->state = -1;
    for (size_t k = 0; k < d->nparams; k++) {
        const pw_hv_param *p = &r->params[d->first + k];
        const char        *f = p->field, *rest;
        uint64_t           u;
        size_t             i;

        if (strcmp(f, "state.state") == 0 && pw_hv_param_u64(p, &u))
            m->state = (int64_t) u;
        else if (strcmp(f, "cpu.time") == 0)
            m->have_cpu = pw_hv_param_u64(p, &m->cpu_ns);
        else if (strcmp(f, "balloon.current") == 0)
            m->have_cur = pw_hv_param_u64(p, &m->cur_kib);
        else if (strcmp(f, "balloon.maximum") == 0)
            m->have_max = pw_hv_param_u64(p, &m->max_kib);
        else if (strcmp(f, "vcpu.current") == 0)
            m->have_vcpus = pw_hv_param_u64(p, &m->vcpus);
        else if (strcmp(f, "meta.title") == 0 && p->type == PW_HV_STRING)
            m->title = p->v.s;
        else if (strcmp(f, "meta.description") == 0 && p->type == PW_HV_STRING)
            m->description = p->v.s;
        else if (hv_indexed(f, "block", &i, &rest))
            hv_dev_param(m->disks, &m->ndisks, i, rest, p, hv_block_fields,
                         HV_COUNT(hv_block_fields));
        else if (hv_indexed(f, "net", &i, &rest))
            hv_dev_param(m->nics, &m->nnics, i, rest, p, hv_net_fields, HV_COUNT(hv_net_fields));
        else
            for (size_t b = 0; b < 3; b++)
                if (strcmp(f, bal[b]) == 0)
                    m->have_bal[b] = pw_hv_param_u64(p, &m->bal[b]);
    }
}

/* A label value that the wire accepts: cut to fit at a UTF-8 boundary, NULL if unusable. */
static const char *
hv_label_text(const char *s, char *buf, size_t cap)
{
    size_t n;

    if (s == NULL || *s == '\0')
        return NULL;
    n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return pw_label_value_valid(buf, n) ? buf : NULL;
}

static const char *
hv_state_name(int64_t s)
{
    switch (s) {
    case 1: return "running";
    case 3: return "paused";
    case 5: return "shutoff";
    case 6: return "crashed";
    case 7: return "pmsuspended";
    default: return "other";       /* 0 nostate, 2 blocked, 4 shutting down */
    }
}

static void
hv_vm_series(const pw_hv_domain *d, const hv_dom *m, pw_batch *b, pw_err *first)
{
    const char *u = d->uuid, *nm = d->name;
    char        tbuf[256], dbuf[256];
    const char *title = hv_label_text(m->title, tbuf, sizeof tbuf);
    const char *desc = hv_label_text(m->description, dbuf, sizeof dbuf);
    pw_label    info[4] = { { "vm", u }, { "vm_name", nm } };
    size_t      ninfo = 2;
    pw_err      rc;

    if (title != NULL)
        info[ninfo++] = (pw_label) { "title", title };
    if (desc != NULL)
        info[ninfo++] = (pw_label) { "description", desc };
    if ((rc = pw_batch_add(b, "poolwatch_vm_info", 1, ninfo, info)) != PW_OK && *first == PW_OK)
        *first = rc;
    if (m->state >= 0)
        hv_add(b, "poolwatch_vm_state", (double) m->state, first, "vm", u, "vm_name", nm, NULL);
    if (m->have_vcpus)
        hv_add(b, "poolwatch_vm_vcpus", (double) m->vcpus, first, "vm", u, "vm_name", nm, NULL);
    if (m->have_max)
        hv_add(b, "poolwatch_vm_memory_max_bytes", (double) m->max_kib * 1024.0, first,
               "vm", u, "vm_name", nm, NULL);
    if (m->have_cur) {
        hv_add(b, "poolwatch_vm_memory_current_bytes", (double) m->cur_kib * 1024.0, first,
               "vm", u, "vm_name", nm, NULL);
        /* The balloon's size is what the guest is held to; a domain that is
         * off has no balloon, only a configured size. */
        if (m->state != 5)
            hv_add(b, "poolwatch_vm_balloon_actual_bytes", (double) m->cur_kib * 1024.0, first,
                   "vm", u, "vm_name", nm, NULL);
    }
    static const char *const bal[] = {
        "poolwatch_vm_balloon_unused_bytes", "poolwatch_vm_balloon_available_bytes",
        "poolwatch_vm_balloon_rss_bytes",
    };
    for (size_t k = 0; k < 3; k++)
        if (m->have_bal[k])
            hv_add(b, bal[k], (double) m->bal[k] * 1024.0, first, "vm", u, "vm_name", nm, NULL);
    if (m->have_cpu)
        hv_add(b, "poolwatch_vm_cpu_seconds_total", (double) m->cpu_ns / 1e9, first,
               "vm", u, "vm_name", nm, NULL);
    for (size_t i = 0; i < m->ndisks; i++)
        for (size_t k = 0; m->disks[i].name != NULL && k < HV_COUNT(hv_block_fields); k++)
            if (m->disks[i].have[k])
                hv_add(b, hv_block_metrics[k], (double) m->disks[i].v[k], first, "vm", u,
                       "vm_name", nm, "device", m->disks[i].name, NULL);
    for (size_t i = 0; i < m->nnics; i++)
        for (size_t k = 0; m->nics[i].name != NULL && k < HV_COUNT(hv_net_fields); k++)
            if (m->nics[i].have[k])
                hv_add(b, hv_net_metrics[k], (double) m->nics[i].v[k], first, "vm", u,
                       "vm_name", nm, "device", m->nics[i].name, NULL);
}

static int
hv_vm_cmp(const void *a, const void *b)
{
    return strcmp(((const hv_vm *) a)->uuid, ((const hv_vm *) b)->uuid);
}

/* This round's sizes of domain d (for the next round's comparison). */
static pw_err
hv_vm_make(const pw_hv_domain *d, const hv_dom *m, hv_vm *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->uuid, sizeof v->uuid, "%s", d->uuid);
    v->vcpus = m->have_vcpus ? (int64_t) m->vcpus : -1;
    v->mem_max = m->have_max ? (int64_t) m->max_kib * 1024 : -1;
    if ((v->name = strdup(d->name)) == NULL)
        return PW_ENOMEM;
    if (m->ndisks > 0 && (v->disks = calloc(m->ndisks, sizeof *v->disks)) == NULL)
        return PW_ENOMEM;
    for (size_t i = 0; i < m->ndisks; i++)
        if (m->disks[i].name != NULL && m->disks[i].have[HV_BLOCK_CAPACITY]) {
            snprintf(v->disks[v->ndisks].dev, sizeof v->disks[v->ndisks].dev, "%s",
                     m->disks[i].name);
            v->disks[v->ndisks++].capacity = m->disks[i].v[HV_BLOCK_CAPACITY];
        }
    return PW_OK;
}

static void
hv_resized(hv_state *st, const hv_vm *now, const char *what, double from, double to,
           const char *dev, pw_batch *b, pw_err *first)
{
    st->resized++;
    pw_info("hypervisor: domain %s (%s) resized: %s%s%s %.0f -> %.0f", now->name, now->uuid, what,
            dev ? " " : "", dev ? dev : "", from, to);
    if (dev != NULL)
        hv_add(b, "poolwatch_vm_resized", to, first, "vm", now->uuid, "vm_name", now->name,
               "what", what, "device", dev, NULL);
    else
        hv_add(b, "poolwatch_vm_resized", to, first, "vm", now->uuid, "vm_name", now->name,
               "what", what, NULL);
}

/* Compares this round's domains (sorted) with the last and counts events. */
static void
hv_events(hv_state *st, hv_vm *now, size_t nnow, pw_batch *b, pw_err *first)
{
    size_t i = 0, j = 0;

    if (!st->have_prev)
        return;
    while (i < nnow || j < st->nprev) {
        int c = i == nnow ? 1 : j == st->nprev ? -1 : strcmp(now[i].uuid, st->prev[j].uuid);

        if (c < 0) {
            st->appeared++;
            pw_info("hypervisor: domain %s (%s) appeared", now[i].name, now[i].uuid);
            i++;
        } else if (c > 0) {
            st->disappeared++;
            pw_info("hypervisor: domain %s (%s) disappeared", st->prev[j].name, st->prev[j].uuid);
            j++;
        } else {
            const hv_vm *o = &st->prev[j], *n = &now[i];

            if (o->vcpus >= 0 && n->vcpus >= 0 && o->vcpus != n->vcpus)
                hv_resized(st, n, "vcpus", (double) o->vcpus, (double) n->vcpus, NULL, b, first);
            if (o->mem_max >= 0 && n->mem_max >= 0 && o->mem_max != n->mem_max)
                hv_resized(st, n, "memory", (double) o->mem_max, (double) n->mem_max, NULL, b,
                           first);
            for (size_t k = 0; k < n->ndisks; k++)
                for (size_t l = 0; l < o->ndisks; l++)
                    if (strcmp(n->disks[k].dev, o->disks[l].dev) == 0
                        && n->disks[k].capacity != o->disks[l].capacity)
                        hv_resized(st, n, "disk", (double) o->disks[l].capacity,
                                   (double) n->disks[k].capacity, n->disks[k].dev, b, first);
            i++;
            j++;
        }
    }
}

static void
hv_domains(hv_state *st, const pw_hv_round *r, pw_batch *b, pw_err *first)
{
    static const char *const states[] = { "running", "paused", "shutoff", "crashed",
                                          "pmsuspended", "other" };
    uint64_t counts[6] = { 0 };
    hv_dom  *m = malloc(sizeof *m);
    hv_vm   *now = r->ndomains ? calloc(r->ndomains, sizeof *now) : NULL;
    size_t   nnow = 0;

    if (m == NULL || (r->ndomains && now == NULL)) {
        *first = PW_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->ndomains; i++) {
        const char *sn;

        hv_dom_read(r, i, m);
        hv_vm_series(&r->domains[i], m, b, first);
        sn = hv_state_name(m->state);
        for (size_t k = 0; k < 6; k++)
            if (strcmp(sn, states[k]) == 0)
                counts[k]++;
        if (hv_vm_make(&r->domains[i], m, &now[nnow++]) != PW_OK) {
            *first = PW_ENOMEM;
            goto out;
        }
    }
    for (size_t k = 0; k < 6; k++)
        hv_add(b, "poolwatch_hypervisor_domains", (double) counts[k], first, "state", states[k],
               NULL);
    pw_qsort(now, nnow, sizeof *now, hv_vm_cmp);
    if (!st->have_prev)
        pw_info("hypervisor %s: %zu domain(s); watching them for appear, disappear and resize",
                st->uri, nnow);
    hv_events(st, now, nnow, b, first);
    hv_prev_free(st->prev, st->nprev);
    st->prev = now;
    st->nprev = nnow;
    st->have_prev = true;
    now = NULL;
    nnow = 0;
out:
    hv_prev_free(now, nnow);
    free(m);
}

/* Logs a failing part once per streak and its recovery. */
static void
hv_streak(bool ok, bool *failing, const char *what, const char *uri, const char *err)
{
    if (!ok && !*failing)
        pw_warn("hypervisor %s: %s: %s (logged once until it recovers)", uri, what, err);
    else if (ok && *failing)
        pw_info("hypervisor %s: %s: recovered", uri, what);
    *failing = !ok;
}

/* Takes the worker's answer: waits up to the timeout for one. NULL if none. */
static hv_result *
hv_take(hv_state *st)
{
    struct timespec until = pw_mono_deadline(st->timeout_ms);
    hv_result      *res;

    pthread_mutex_lock(&st->mu);
    if (st->pending != NULL) {
        /* An answer that came after its round's wait: take it now, and ask
         * for the next one at once, so a hypervisor slower than the wait
         * still gives a figure every round, one interval late. */
        res = st->pending;
        st->pending = NULL;
        st->requested = true;
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
        return res;
    }
    if (!st->busy) {
        st->requested = true;
        pthread_cond_broadcast(&st->cv);
    }
    while (st->pending == NULL)
        if (pthread_cond_timedwait(&st->cv, &st->mu, &until) == ETIMEDOUT)
            break;
    res = st->pending;
    st->pending = NULL;
    pthread_mutex_unlock(&st->mu);
    return res;
}

static pw_err
hv_collect(void *state, const pw_sampler_env *env, pw_batch *b)
{
    hv_state  *st = state;
    hv_result *res = hv_take(st);
    pw_err     first = PW_OK, rc = PW_OK;
    bool       up;

    if (res == NULL) {
        st->timeouts++;
        up = false;
        rc = PW_ETIMEDOUT;
        if (!st->down_logged)
            pw_warn("hypervisor %s: no answer within %lld ms; the agent goes on without it "
                    "(logged once until it answers)", st->uri, (long long) st->timeout_ms);
        st->down_logged = true;
    } else if (res->round == NULL) {
        up = false;
        rc = PW_ENET;
        if (!st->down_logged)
            pw_warn("hypervisor %s: %s (logged once until it answers; retrying with backoff)",
                    st->uri, res->conn_err[0] ? res->conn_err : "out of memory");
        st->down_logged = true;
    } else {
        up = res->domains_ok;
        if (res->conn_err[0] != '\0') {
            if (!st->down_logged)
                pw_warn("hypervisor %s: %s (logged once until it answers; reconnecting)",
                        st->uri, res->conn_err);
            st->down_logged = true;
        } else if (st->down_logged || res->connected_now) {
            pw_info("hypervisor %s: connected (%s source)", st->uri, st->ops->name);
            st->down_logged = false;
        }
        if (res->conn_err[0] == '\0') {
            hv_streak(res->node_ok, &st->node_failing, "host info", st->uri, res->node_err);
            hv_streak(res->pools_ok, &st->pools_failing, "storage pools", st->uri,
                      res->pools_err);
            hv_streak(res->domains_ok, &st->domains_failing, "domains", st->uri,
                      res->domains_err);
        }
        hv_host(res->round, b, &first);
        if (res->domains_ok) {
            st->dropped += res->round->dropped_domains;
            if (res->round->dropped_domains > 0)
                pw_warn("hypervisor %s: %llu domain(s) past the limit of %u were left out",
                        st->uri, (unsigned long long) res->round->dropped_domains,
                        PW_HV_MAX_DOMAINS);
            hv_domains(st, res->round, b, &first);
        } else {
            rc = res->conn_err[0] ? PW_ENET : PW_EIO;
        }
        /* Host facts missing is an error of this sampler; storage pools
         * missing is not (a host without libvirt's storage driver has
         * none, every round): that is logged once and left there. */
        if (rc == PW_OK && !res->node_ok)
            rc = PW_EIO;
    }
    hv_nics(env, b, &first);
    hv_add(b, "poolwatch_hypervisor_up", up ? 1 : 0, &first, NULL);
    hv_add(b, "poolwatch_hypervisor_domain_events_total", (double) st->appeared, &first,
           "kind", "appeared", NULL);
    hv_add(b, "poolwatch_hypervisor_domain_events_total", (double) st->disappeared, &first,
           "kind", "disappeared", NULL);
    hv_add(b, "poolwatch_hypervisor_domain_events_total", (double) st->resized, &first,
           "kind", "resized", NULL);
    hv_add(b, "poolwatch_hypervisor_domains_dropped_total", (double) st->dropped, &first, NULL);
    hv_add(b, "poolwatch_hypervisor_timeouts_total", (double) st->timeouts, &first, NULL);
    st->up = up;
    hv_result_free(res);
    /* A label value the wire refuses is not the hypervisor's failure. */
    if (rc == PW_OK && first != PW_OK && first != PW_EINVAL)
        rc = first;
    return rc;
}

const pw_sampler_ops pw_sampler_hypervisor = {
    .name = "hypervisor",
    .init = hv_init,
    .collect = hv_collect,
    .fini = hv_fini,
};
