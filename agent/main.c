/*
 * main.c - poolwatch-agent: sample the node every --interval, spool, ship.
 *
 * One libuv loop runs everything: the sampling timer, signals, and (through
 * a uv_async_t) the shipper's NNG completions.
 *
 * With --collector tls+tcp://... the agent's identity is its certificate's
 * CN, and SIGHUP re-reads the three TLS files (certificate rotation).
 */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "batch.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "output.h"
#include "sampler.h"
#include "shipper.h"
#include "spool.h"
#include "tls.h"
#include "watchdog.h"
#include "wire.h"

#define AGENT_MAX_SAMPLERS 32
#define AGENT_MAX_OPTS     32   /* entries of the option table, its NULL one included */

typedef struct agent_sampler agent_sampler;
typedef struct agent agent;

struct agent_sampler {
    const pw_sampler_ops *ops;
    void                 *state;
    uint64_t              errors;
    bool                  failing;    /* last round failed: log only the first of a streak */
};

struct agent {
    /* options */
    const char *collector, *spool_dir, *agent_id, *hostname, *proc_root, *sys_root, *rootfs;
    const char *samplers_opt, *format;
    const char *hypervisor;   /* --hypervisor URI */
    pw_tls_files tls;         /* --tls-ca, --tls-cert, --tls-key */
    int64_t     interval_ms, timeout_ms, backoff_min_ms, backoff_max_ms;
    int64_t     statvfs_timeout_ms;   /* --statvfs-timeout */
    int64_t     stop_timeout_ms;      /* --stop-timeout */
    uint64_t    spool_max;
    bool        once;
    pw_program  prog;         /* --help, --version, --log-level */

    /* runtime */
    uv_loop_t      *loop;
    uv_timer_t      tick;
    uv_signal_t     sigterm, sigint, sighup;
    pw_batch       *batch;
    pw_spool       *spool;
    pw_shipper     *shipper;
    pw_watchdog    *watchdog;          /* armed by SIGTERM/SIGINT */
    pw_sampler_env  env;
    agent_sampler   samplers[AGENT_MAX_SAMPLERS];
    size_t          nsamplers;
    pw_frame_header hdr;
    char            boot_hex[2 * PW_WIRE_BOOT_ID_LEN + 1];
    uint64_t        dropped_total;      /* frames dropped because the spool was full */
    uint64_t        encode_errors;
    uint64_t        spool_errors;
    int64_t         last_collect_ms;
    int64_t         next_ts;            /* sample time the timer is armed for */
    char            tls_host[256];      /* the collector URL's host: its certificate's name */
};

static const char *agent_usage_head =
    "usage: poolwatch-agent [options]\n"
    "Samples this node's CPU, memory, filesystems, disks, network, load and uptime\n"
    "every --interval and ships them to a poolwatch collector. With --hypervisor it\n"
    "also reads the host's capacity and every VM's size and usage from libvirt.\n\noptions:\n";

static void
agent_options(agent *a, pw_option *opts)
{
    const pw_option table[] = {
        { "collector", PW_OPT_STRING, &a->collector, "collector URL (tcp://127.0.0.1:7410)", "URL" },
        { "interval", PW_OPT_DURATION, &a->interval_ms, "time between samples (10s)", "DURATION" },
        { "spool", PW_OPT_STRING, &a->spool_dir, "spool directory (./agent-spool)", "DIR" },
        { "spool-max", PW_OPT_SIZE, &a->spool_max, "spool size limit; oldest frames dropped past it (64MiB)", "SIZE" },
        { "agent-id", PW_OPT_STRING, &a->agent_id, "stable agent id (default: kept in the spool, from /etc/machine-id)", "ID" },
        { "hostname", PW_OPT_STRING, &a->hostname, "host name to report (default: gethostname)", "NAME" },
        { "samplers", PW_OPT_STRING, &a->samplers_opt, "comma-separated samplers to run (all)", "LIST" },
        { "proc-root", PW_OPT_STRING, &a->proc_root, "where /proc is (/proc)", "DIR" },
        { "sys-root", PW_OPT_STRING, &a->sys_root, "where /sys is (/sys)", "DIR" },
        { "rootfs", PW_OPT_STRING, &a->rootfs, "prefix for mount points, e.g. /host in a container", "DIR" },
        { "statvfs-timeout", PW_OPT_DURATION, &a->statvfs_timeout_ms, "how long a round waits for one mount's statvfs before marking the mount stuck; 0 = inline, no limit (5s)", "DURATION" },
        { "hypervisor", PW_OPT_STRING, &a->hypervisor, "hypervisor mode: libvirt URI to read host and VMs from, read-only (qemu:///system)", "URI" },
        { "stop-timeout", PW_OPT_DURATION, &a->stop_timeout_ms, "on SIGTERM, exit after this long even if closing the connection hangs (5s)", "DURATION" },
        { "timeout", PW_OPT_DURATION, &a->timeout_ms, "wait for a send or an ack (15s)", "DURATION" },
        { "backoff-min", PW_OPT_DURATION, &a->backoff_min_ms, "first retry delay (100ms)", "DURATION" },
        { "backoff-max", PW_OPT_DURATION, &a->backoff_max_ms, "longest retry delay (30s)", "DURATION" },
        { "tls-ca", PW_OPT_STRING, &a->tls.ca, "with tls+tcp://: CA certificate the collector's must chain to", "FILE" },
        { "tls-cert", PW_OPT_STRING, &a->tls.cert, "with tls+tcp://: this agent's certificate; its CN is the agent id", "FILE" },
        { "tls-key", PW_OPT_STRING, &a->tls.key, "with tls+tcp://: the certificate's private key (mode 0600)", "FILE" },
        { "once", PW_OPT_FLAG, &a->once, "sample once, print, exit (no spool, no collector)", NULL },
        { "format", PW_OPT_STRING, &a->format, "with --once: json or prom (json)", "FORMAT" },
        { "log-level", PW_OPT_STRING, &a->prog.log_level, "error, warn, info or debug (info)", "LEVEL" },
        { "help", PW_OPT_FLAG, &a->prog.help, "show this help", NULL },
        { "version", PW_OPT_FLAG, &a->prog.version, "show the version", NULL },
        { NULL, 0, NULL, NULL, NULL },
    };
    _Static_assert(sizeof table / sizeof table[0] <= AGENT_MAX_OPTS, "raise AGENT_MAX_OPTS");
    memcpy(opts, table, sizeof table);
}

static bool
agent_sampler_wanted(const char *list, const char *name)
{
    size_t n = strlen(name);

    if (list == NULL || *list == '\0' || strcmp(list, "all") == 0)
        return true;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}

/*
 * Hypervisor mode is a sampler like the others, present only in builds with
 * libvirt and run only with --hypervisor (then also --samplers may name it).
 */
static int
agent_samplers_init(agent *a)
{
    const pw_sampler_ops *all[AGENT_MAX_SAMPLERS];
    size_t                nall = 0;

    for (size_t i = 0; pw_samplers[i] != NULL && nall < AGENT_MAX_SAMPLERS - 1; i++)
        all[nall++] = pw_samplers[i];
    if (a->hypervisor != NULL) {
#ifdef PW_HAVE_HYPERVISOR
        all[nall++] = &pw_sampler_hypervisor;
#else
        pw_error("--hypervisor %s: this build has no hypervisor support (it needs libvirt: "
                 "use poolwatch-agent built with libvirt-dev installed, not poolwatch-agent-static)",
                 a->hypervisor);
        return -1;
#endif
    }
    for (size_t i = 0; i < nall && a->nsamplers < AGENT_MAX_SAMPLERS; i++) {
        const pw_sampler_ops *ops = all[i];
        agent_sampler        *s = &a->samplers[a->nsamplers];
        pw_err                rc;

        if (!agent_sampler_wanted(a->samplers_opt, ops->name)
            && !(a->hypervisor != NULL && strcmp(ops->name, "hypervisor") == 0))
            continue;
        s->ops = ops;
        s->state = NULL;
        if (ops->init != NULL && (rc = ops->init(&a->env, &s->state)) != PW_OK) {
            /* Asked for by name: a hypervisor agent without it is no use. */
            if (strcmp(ops->name, "hypervisor") == 0) {
                pw_error("--hypervisor %s: %s", a->hypervisor, pw_strerror(rc));
                return -1;
            }
            pw_warn("sampler %s disabled: %s", ops->name, pw_strerror(rc));
            continue;
        }
        a->nsamplers++;
    }
    if (a->nsamplers == 0) {
        pw_error("no sampler selected (--samplers %s)", a->samplers_opt ? a->samplers_opt : "");
        return -1;
    }
    return 0;
}

static void
agent_samplers_fini(agent *a)
{
    for (size_t i = 0; i < a->nsamplers; i++)
        if (a->samplers[i].ops->fini != NULL)
            a->samplers[i].ops->fini(a->samplers[i].state);
    a->nsamplers = 0;
}

/* The agent's own health, shipped with every frame. */
static void
agent_self_metrics(agent *a, int64_t collect_ms)
{
    pw_batch      *b = a->batch;
    struct rusage  ru;
    long           rss_pages = 0, page = sysconf(_SC_PAGESIZE);
    FILE          *f;

    pw_batch_addl(b, "poolwatch_agent_info", 1, "version", PW_VERSION, NULL);
    /* With the boot label, stored values show each frame stored exactly once. */
    pw_batch_addl(b, "poolwatch_agent_frame_seq", (double) a->hdr.seq, "boot", a->boot_hex, NULL);
    pw_batch_addl(b, "poolwatch_agent_collect_duration_seconds", (double) collect_ms / 1000.0, NULL);
    for (size_t i = 0; i < a->nsamplers; i++)
        pw_batch_addl(b, "poolwatch_agent_sampler_errors_total", (double) a->samplers[i].errors,
                      "sampler", a->samplers[i].ops->name, NULL);
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6
                   + (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
        pw_batch_addl(b, "poolwatch_agent_cpu_seconds_total", cpu, NULL);
        pw_batch_addl(b, "poolwatch_agent_max_resident_memory_bytes", (double) ru.ru_maxrss * 1024.0, NULL);
    }
    if ((f = fopen("/proc/self/statm", "r")) != NULL) {
        long size;
        if (fscanf(f, "%ld %ld", &size, &rss_pages) == 2)
            pw_batch_addl(b, "poolwatch_agent_resident_memory_bytes", (double) rss_pages * (double) page, NULL);
        fclose(f);
    }
    if (a->spool != NULL) {
        pw_batch_addl(b, "poolwatch_agent_spool_frames", (double) pw_spool_count(a->spool), NULL);
        pw_batch_addl(b, "poolwatch_agent_spool_bytes", (double) pw_spool_bytes(a->spool), NULL);
        pw_batch_addl(b, "poolwatch_agent_spool_limit_bytes", (double) a->spool_max, NULL);
        pw_batch_addl(b, "poolwatch_agent_spool_dropped_frames_total", (double) a->dropped_total, NULL);
        pw_batch_addl(b, "poolwatch_agent_spool_errors_total", (double) a->spool_errors, NULL);
    }
    if (a->shipper != NULL) {
        const pw_shipper_stats *st = pw_shipper_stats_get(a->shipper);
        pw_batch_addl(b, "poolwatch_agent_frames_total", (double) st->stored, "result", "stored", NULL);
        pw_batch_addl(b, "poolwatch_agent_frames_total", (double) st->duplicate, "result", "duplicate", NULL);
        pw_batch_addl(b, "poolwatch_agent_frames_total", (double) st->rejected, "result", "rejected", NULL);
        pw_batch_addl(b, "poolwatch_agent_frames_total", (double) st->retry, "result", "retry", NULL);
        pw_batch_addl(b, "poolwatch_agent_send_errors_total", (double) st->errors, NULL);
        pw_batch_addl(b, "poolwatch_agent_collector_up", st->up ? 1 : 0, NULL);
    }
    pw_batch_addl(b, "poolwatch_agent_encode_errors_total", (double) a->encode_errors, NULL);
}

/* One round: every sampler into a fresh batch. */
static void
agent_collect(agent *a, int64_t ts)
{
    int64_t t0 = pw_mono_ms();

    pw_batch_reset(a->batch);
    pw_batch_group(a->batch, ts);
    for (size_t i = 0; i < a->nsamplers; i++) {
        agent_sampler *s = &a->samplers[i];
        pw_err         rc = s->ops->collect(s->state, &a->env, a->batch);

        if (rc != PW_OK) {
            s->errors++;
            if (!s->failing)
                pw_warn("sampler %s: %s (logged once until it recovers)", s->ops->name,
                        pw_strerror(rc));
            s->failing = true;
        } else if (s->failing) {
            pw_info("sampler %s: recovered", s->ops->name);
            s->failing = false;
        }
    }
    a->last_collect_ms = pw_mono_ms() - t0;
}

static void
agent_round(agent *a, int64_t ts)
{
    void    *buf;
    size_t   len;
    uint64_t dropped = 0;
    pw_err   rc;

    a->hdr.seq++;
    a->hdr.ts_ms = ts;
    agent_collect(a, ts);
    agent_self_metrics(a, a->last_collect_ms);
    if ((rc = pw_wire_encode(&a->hdr, a->batch, &buf, &len)) != PW_OK) {
        a->encode_errors++;
        pw_error("cannot encode frame seq %llu: %s", (unsigned long long) a->hdr.seq,
                 pw_strerror(rc));
        return;
    }
    rc = pw_spool_push(a->spool, a->hdr.seq, buf, len, &dropped);
    free(buf);
    if (dropped > 0) {
        /* Once when dropping starts, then every 100 drops: a long outage must
         * not write a line per interval. */
        if (a->dropped_total == 0 || (a->dropped_total + dropped) / 100 > a->dropped_total / 100)
            pw_warn("spool full (%llu bytes limit): dropped the %llu oldest frame(s) to keep seq %llu, "
                    "%llu dropped in all", (unsigned long long) a->spool_max,
                    (unsigned long long) dropped, (unsigned long long) a->hdr.seq,
                    (unsigned long long) (a->dropped_total + dropped));
        a->dropped_total += dropped;
    }
    if (rc != PW_OK) {
        a->spool_errors++;
        pw_error("cannot spool frame seq %llu: %s", (unsigned long long) a->hdr.seq,
                 pw_strerror(rc));
        return;
    }
    pw_debug("frame seq %llu: %zu series, %zu samples, %zu bytes; %llu frame(s) spooled",
             (unsigned long long) a->hdr.seq, pw_batch_nseries(a->batch),
             pw_batch_nsamples(a->batch), len, (unsigned long long) pw_spool_count(a->spool));
    pw_shipper_kick(a->shipper);
}

/*
 * Arms the timer for the next multiple of the interval strictly after the
 * last sample time, so samples land on round times and no two rounds ever
 * share a timestamp (a timer that fires a millisecond early must not round
 * down onto the previous boundary: same series + same time = overwrite).
 */
static void agent_tick_cb(uv_timer_t *t);

static void
agent_schedule(agent *a)
{
    int64_t now = pw_now_ms(), next = (now / a->interval_ms + 1) * a->interval_ms;

    if (next <= a->next_ts)
        next = a->next_ts + a->interval_ms;
    a->next_ts = next;
    uv_timer_start(&a->tick, agent_tick_cb, (uint64_t) (next > now ? next - now : 0), 0);
}

static void
agent_tick_cb(uv_timer_t *t)
{
    agent *a = t->data;

    agent_round(a, a->next_ts);
    agent_schedule(a);
}

static void
agent_signal_cb(uv_signal_t *s, int signum)
{
    agent *a = s->data;

    pw_info("signal %d: stopping after seq %llu, %llu frame(s) stay spooled", signum,
            (unsigned long long) a->hdr.seq, (unsigned long long) pw_spool_count(a->spool));
    if (a->watchdog == NULL
        && pw_watchdog_start(a->stop_timeout_ms, "frames not acked stay spooled and are resent on "
                             "the next start", NULL, NULL, &a->watchdog) != PW_OK)
        pw_warn("cannot start the shutdown watchdog: shutdown has no deadline");
    pw_watchdog_stage(a->watchdog, "closing the collector connection");
    uv_timer_stop(&a->tick);
    uv_close((uv_handle_t *) &a->tick, NULL);
    uv_close((uv_handle_t *) &a->sigterm, NULL);
    uv_close((uv_handle_t *) &a->sigint, NULL);
    uv_close((uv_handle_t *) &a->sighup, NULL);
    pw_shipper_close(a->shipper);
    a->shipper = NULL;
    pw_watchdog_stage(a->watchdog, "closing the event loop");
}

/*
 * The TLS config from --tls-ca/--tls-cert/--tls-key, and what the
 * certificate says. Logs (after `when`) and returns -1 if the files are
 * unusable or the certificate has no CN that can be an agent id.
 */
static int
agent_tls_load(agent *a, nng_tls_config **cfg, pw_tls_cert_info *info, const char *when)
{
    char err[512];

    if (pw_tls_config_new(PW_TLS_CLIENT, &a->tls, a->tls_host, cfg, info, err, sizeof err) != PW_OK) {
        pw_error("%s%s", when, err);
        return -1;
    }
    if (info->cn[0] == '\0') {
        pw_error("%s--tls-cert %s: the certificate needs exactly one CN that is a valid agent id "
                 "(1-128 printable characters, no spaces); make it with deploy/pki.sh agent",
                 when, a->tls.cert);
        nng_tls_config_free(*cfg);
        *cfg = NULL;
        return -1;
    }
    return 0;
}

/*
 * Checks --collector against the TLS options. For tls+tcp:// builds *cfg
 * (caller frees) and fills *cert; for tcp:// leaves *cfg NULL and warns if
 * the collector is on another machine. -1 after logging a usage error.
 */
static int
agent_transport(agent *a, nng_tls_config **cfg, pw_tls_cert_info *cert)
{
    nng_url *u;

    *cfg = NULL;
    if (!pw_tls_url(a->collector)) {
        if (a->tls.ca != NULL || a->tls.cert != NULL || a->tls.key != NULL) {
            pw_error("--tls-ca, --tls-cert and --tls-key need --collector tls+tcp://HOST:PORT "
                     "(it is %s)", a->collector);
            return -1;
        }
        if (!pw_url_is_local(a->collector))
            pw_warn("--collector %s is plain tcp:// to another machine: frames travel unencrypted "
                    "and the collector cannot tell this agent from an impostor; use tls+tcp:// with "
                    "--tls-ca, --tls-cert and --tls-key (deploy/README.md)", a->collector);
        return 0;
    }
    /* The collector's certificate must name the host we dial (NNG strips
     * an IPv6 address of its brackets). */
    if (nng_url_parse(&u, a->collector) != 0) {
        pw_error("--collector %s: not a URL", a->collector);
        return -1;
    }
    snprintf(a->tls_host, sizeof a->tls_host, "%s", u->u_hostname != NULL ? u->u_hostname : "");
    nng_url_free(u);
    if (a->tls_host[0] == '\0') {
        pw_error("--collector %s: no host to check the collector's certificate against", a->collector);
        return -1;
    }
    return agent_tls_load(a, cfg, cert, "");
}

/* SIGHUP: certificate rotation. New files in place, then `kill -HUP`. */
static void
agent_sighup_cb(uv_signal_t *s, int signum)
{
    agent           *a = s->data;
    nng_tls_config  *cfg;
    pw_tls_cert_info cert;
    char             err[512];

    (void) signum;
    if (!pw_tls_url(a->collector)) {
        pw_info("SIGHUP: --collector is plain tcp://, no TLS files to reload");
        return;
    }
    if (agent_tls_load(a, &cfg, &cert, "SIGHUP: keeping the current certificate: ") != 0)
        return;
    /* Frames already spooled carry the id; the collector checks it against the CN. */
    if (strcmp(cert.cn, a->hdr.agent_id) != 0) {
        pw_error("SIGHUP: keeping the current certificate: the new %s is for CN=%s but this agent "
                 "is %s; an agent's id cannot change while it runs", a->tls.cert, cert.cn,
                 a->hdr.agent_id);
        nng_tls_config_free(cfg);
        return;
    }
    if (pw_shipper_reconnect(a->shipper, cfg, err, sizeof err) != PW_OK) {
        pw_error("SIGHUP: keeping the current connection: %s", err);
        nng_tls_config_free(cfg);
        return;
    }
    nng_tls_config_free(cfg);
    pw_info("SIGHUP: TLS files reloaded: certificate CN=%s serial %s valid until %s; reconnecting "
            "to %s, %llu frame(s) spooled", cert.cn, cert.serial, cert.not_after, a->collector,
            (unsigned long long) pw_spool_count(a->spool));
}

static void
agent_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/*
 * With TLS, the certificate's CN (cn); otherwise --agent-id, else the id
 * kept in the spool, else /etc/machine-id, else random; kept in the spool.
 */
static int
agent_identity(agent *a, const char *cn)
{
    char  id[PW_WIRE_MAX_AGENT_ID + 1] = "", kept[PW_WIRE_MAX_AGENT_ID + 1] = "";
    FILE *f;

    if (cn != NULL) {
        /* The collector refuses frames whose agent id is not the CN, so a
         * different --agent-id could only ever be rejected. */
        if (a->agent_id != NULL && strcmp(a->agent_id, cn) != 0) {
            pw_error("--agent-id %s differs from the CN of --tls-cert %s (%s): with TLS the agent id "
                     "is the certificate's CN; drop --agent-id or issue a certificate for %s",
                     a->agent_id, a->tls.cert, cn, a->agent_id);
            return -1;
        }
        snprintf(id, sizeof id, "%s", cn);
        if (pw_spool_meta_get(a->spool, "agent_id", kept, sizeof kept) == PW_OK
            && strcmp(kept, id) != 0 && pw_spool_count(a->spool) > 0)
            pw_warn("the spool holds %llu frame(s) of agent %s; the collector will reject them "
                    "(identity mismatch) now that this agent is %s", (unsigned long long)
                    pw_spool_count(a->spool), kept, id);
        if (strcmp(kept, id) != 0 && pw_spool_meta_set(a->spool, "agent_id", id) != PW_OK)
            pw_warn("cannot keep the agent id in the spool");
    } else if (a->agent_id != NULL) {
        snprintf(id, sizeof id, "%s", a->agent_id);
    } else if (pw_spool_meta_get(a->spool, "agent_id", id, sizeof id) != PW_OK) {
        if ((f = fopen("/etc/machine-id", "r")) != NULL) {
            if (fscanf(f, "%128s", id) != 1)
                id[0] = '\0';
            fclose(f);
        }
        if (id[0] == '\0') {
            uint8_t r[16];
            if (getrandom(r, sizeof r, 0) != (ssize_t) sizeof r)
                return -1;
            agent_hex(r, sizeof r, id);
        }
        if (pw_spool_meta_set(a->spool, "agent_id", id) != PW_OK)
            pw_warn("cannot keep the agent id in the spool");
    }
    if (id[0] == '\0' || strlen(id) > PW_WIRE_MAX_AGENT_ID || strpbrk(id, " \t\r\n") != NULL) {
        pw_error("agent id \"%s\" is empty, too long or has spaces", id);
        return -1;
    }
    snprintf(a->hdr.agent_id, sizeof a->hdr.agent_id, "%s", id);
    if (getrandom(a->hdr.boot_id, sizeof a->hdr.boot_id, 0) != (ssize_t) sizeof a->hdr.boot_id)
        return -1;
    agent_hex(a->hdr.boot_id, sizeof a->hdr.boot_id, a->boot_hex);
    return 0;
}

static int
agent_run_once(agent *a)
{
    pw_err rc;

    agent_collect(a, pw_now_ms());
    if ((rc = pw_output_batch(a->batch, a->format, stdout)) != PW_OK) {
        fprintf(stderr, "poolwatch-agent: --format %s: %s (json or prom)\n", a->format,
                pw_strerror(rc));
        return 1;
    }
    return 0;
}

/* Transport, spool, identity, shipper: everything that can refuse to start. */
static int
agent_start(agent *a)
{
    char             err[512];
    nng_tls_config  *tls = NULL;
    pw_tls_cert_info cert;
    int              rc = -1;
    pw_shipper_opts  so = {
        .url = a->collector, .timeout_ms = a->timeout_ms,
        .backoff_min_ms = a->backoff_min_ms, .backoff_max_ms = a->backoff_max_ms,
    };

    if (agent_transport(a, &tls, &cert) != 0)
        goto out;
    if (pw_spool_open(a->spool_dir, a->spool_max, &a->spool, err, sizeof err) != PW_OK) {
        pw_error("%s", err);
        goto out;
    }
    if (agent_identity(a, tls != NULL ? cert.cn : NULL) != 0)
        goto out;
    a->loop = uv_default_loop();
    so.tls = tls;
    if (pw_shipper_new(a->loop, a->spool, &so, &a->shipper, err, sizeof err) != PW_OK) {
        pw_error("%s", err);
        goto out;
    }
    if (tls != NULL)
        pw_info("TLS: this agent's certificate CN=%s serial %s valid until %s; the collector's must "
                "name %s and chain to %s; SIGHUP reloads them", cert.cn, cert.serial,
                cert.not_after, a->tls_host, a->tls.ca);
    rc = 0;
out:
    if (tls != NULL)
        nng_tls_config_free(tls);       /* the dialer holds its own reference */
    return rc;
}

static int
agent_run(agent *a)
{
    if (agent_start(a) != 0)
        return 1;
    pw_info("agent %s (boot %s) on %s: every %lld ms to %s, spool %s (%llu frame(s) waiting)",
            a->hdr.agent_id, a->boot_hex, a->hdr.host, (long long) a->interval_ms, a->collector,
            a->spool_dir, (unsigned long long) pw_spool_count(a->spool));
    uv_timer_init(a->loop, &a->tick);
    a->tick.data = a;
    uv_signal_init(a->loop, &a->sigterm);
    uv_signal_init(a->loop, &a->sigint);
    uv_signal_init(a->loop, &a->sighup);
    a->sigterm.data = a->sigint.data = a->sighup.data = a;
    uv_signal_start(&a->sigterm, agent_signal_cb, SIGTERM);
    uv_signal_start(&a->sigint, agent_signal_cb, SIGINT);
    uv_signal_start(&a->sighup, agent_sighup_cb, SIGHUP);
    /* Frames spooled by an earlier run go out first, oldest first. */
    pw_shipper_kick(a->shipper);
    agent_schedule(a);
    uv_run(a->loop, UV_RUN_DEFAULT);
    uv_loop_close(a->loop);
    return 0;
}

int
main(int argc, char **argv)
{
    agent     a = {
        .collector = "tcp://127.0.0.1:7410", .spool_dir = "./agent-spool",
        .proc_root = "/proc", .sys_root = "/sys", .rootfs = "", .format = "json",
        .prog = { .name = "poolwatch-agent", .usage = agent_usage_head }, .interval_ms = 10000, .timeout_ms = 15000,
        .statvfs_timeout_ms = 5000, .stop_timeout_ms = 5000,
        .backoff_min_ms = 100, .backoff_max_ms = 30000, .spool_max = 64u << 20,
    };
    pw_option opts[AGENT_MAX_OPTS];
    pw_config cfg = { 0 };
    int       rc;

    /* NNG runs a dozen threads; glibc would give each one that allocates its
     * own arena. The agent allocates little: one arena keeps it small. */
    mallopt(M_ARENA_MAX, 1);
    agent_options(&a, opts);
    if ((rc = pw_program_start(&a.prog, opts, &cfg, argc, argv)) >= 0)
        goto out;
    rc = 1;
    if (a.interval_ms < 10 || a.backoff_min_ms < 1 || a.backoff_max_ms < a.backoff_min_ms
        || a.timeout_ms < 10 || a.spool_max < 65536 || a.statvfs_timeout_ms < 0
        || a.stop_timeout_ms < 1) {
        fprintf(stderr, "poolwatch-agent: --interval >= 10ms, --timeout >= 10ms, "
                        "--backoff-max >= --backoff-min > 0, --spool-max >= 64KiB, "
                        "--statvfs-timeout >= 0, --stop-timeout > 0\n");
        goto out;
    }
    a.env = (pw_sampler_env) {
        .proc_root = a.proc_root, .sys_root = a.sys_root, .rootfs = a.rootfs, .statvfs_fn = statvfs,
        .statvfs_timeout_ms = a.statvfs_timeout_ms,
        /* A slow libvirtd may take half the interval, at most 5 s, before a
         * round goes on without it (sampler_hypervisor.c). */
        .hypervisor_uri = a.hypervisor,
        .hypervisor_timeout_ms = a.interval_ms / 2 < 5000 ? a.interval_ms / 2 : 5000,
    };
    snprintf(a.hdr.agent_version, sizeof a.hdr.agent_version, "%s", PW_VERSION);
    if (a.hostname != NULL)
        snprintf(a.hdr.host, sizeof a.hdr.host, "%s", a.hostname);
    else if (gethostname(a.hdr.host, sizeof a.hdr.host - 1) != 0 || a.hdr.host[0] == '\0')
        snprintf(a.hdr.host, sizeof a.hdr.host, "localhost");
    if ((a.batch = pw_batch_new()) == NULL || agent_samplers_init(&a) != 0)
        goto out;
    rc = a.once ? agent_run_once(&a) : agent_run(&a);
out:
    pw_watchdog_stage(a.watchdog, "stopping the samplers");
    agent_samplers_fini(&a);
    pw_shipper_close(a.shipper);
    pw_watchdog_stage(a.watchdog, "closing the spool");
    pw_spool_close(a.spool);
    pw_watchdog_stop(a.watchdog);
    pw_batch_free(a.batch);
    pw_config_free(&cfg);
    return rc;
}
