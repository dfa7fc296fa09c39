/*
 * tests/bench/storage/gen.c - the storage benchmark's data: deterministic,
 * node_exporter-like samples at a 10 s interval, written as a Prometheus text
 * file or sent live to a poolwatch-collector by many simulated agents.
 *
 *   gen plan  [data options]                   the data set as JSON (nothing written)
 *   gen prom  [data options] --out FILE        Prometheus text, ms timestamps
 *   gen send  [data options] --url URL [--timeout S] [--first-step K]
 *                                             one NNG req socket per host, stop-and-wait
 *
 * Data options (same values give the same samples, bit for bit, in every mode):
 *   --hosts N       hosts (1000); labels host="host-0000".., pool="pool-00".."pool-09"
 *   --samples N     total samples, at least (20000000)
 *   --seed N        (1)
 *   --end MS        end of the data, exclusive, a multiple of 10 s (required)
 *   --order time|series   prom only: scraper order (every series at t, then t+10s)
 *                         or dump order (each series' points together)   (time)
 *   --timestamps aligned|scraped   aligned: multiples of 10 s, as poolwatch-agent
 *                         stamps its rounds; scraped: a per-host phase in the 10 s
 *                         plus 0-3 ms of jitter per round, as a Prometheus scrape   (aligned)
 *
 * Every host has the same 100 series (40 counters, 30 gauges, 30 constants; see
 * SPECS). They all run over the last P steps (the "main block"; P is chosen so
 * that the total reaches --samples); node_load1 runs further back: one day for
 * every host, 30 days for the first 10 hosts ("long hosts").
 *
 * `send` sends only the main block: one frame per host and step (~100 samples,
 * one timestamp group, host from the frame header as poolwatch-agent does), in
 * time order per host, each host waiting for the ack of its frame before the
 * next. It prints a JSON summary with the samples acked and the time taken.
 *
 * Built by tests/bench/storage/run.sh against build/default's libpwcommon.a.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "batch.h"
#include "wire.h"

#define STEP_MS       10000
#define DAY_STEPS     8640
#define MONTH_STEPS   (30 * DAY_STEPS)
#define NSERIES       100
#define NPOOLS        10
#define LONG_HOSTS    10
#define LOAD1_IDX     40
#define MAX_TLABELS   4

/* ------------------------------------------------------------------ specs */

enum kind {
    K_TICKS,    /* counter, scale 2: node_cpu_seconds_total in 1/100 s */
    K_BYTES,    /* counter, scale 0, bytes (multiple of `unit`) */
    K_COUNT,    /* counter, scale 0: packets, I/Os */
    K_LOAD1,    /* gauge, scale 2: 1-minute load average (EMA of runnable tasks) */
    K_WALK,     /* gauge: bounded random walk */
    K_CONST,    /* constant per host */
    K_BOOT,     /* constant but for a reboot */
};

typedef struct spec {
    const char *metric;
    const char *l[2 * MAX_TLABELS];   /* name, value pairs; NULL ends */
    int         kind;
    int         scale;                /* decimals */
    /* K_TICKS: share of the CPU (per mille); K_BYTES/K_COUNT: mean per second;
       K_WALK: lo, hi, sigma (units), p_change (percent), unit; K_CONST: value */
    double      a, b, c, d;
    int64_t     unit;
} spec;

#define FS(mp, dev) "device", dev, "fstype", "ext4", "mountpoint", mp
#define CPU(n, mode, share) { "node_cpu_seconds_total", { "cpu", #n, "mode", mode }, K_TICKS, 2, share, 0, 0, 0, 1 }
#define CPUS(n) CPU(n, "idle", 780), CPU(n, "user", 120), CPU(n, "system", 50), CPU(n, "iowait", 25), \
                CPU(n, "irq", 2), CPU(n, "softirq", 8), CPU(n, "steal", 1), CPU(n, "nice", 0.3)

static const spec SPECS[NSERIES] = {
    /* 0..39: counters */
    CPUS(0), CPUS(1), CPUS(2), CPUS(3),
    { "node_network_receive_bytes_total", { "device", "eth0" }, K_BYTES, 0, 400000, 0, 0, 0, 1 },
    { "node_network_transmit_bytes_total", { "device", "eth0" }, K_BYTES, 0, 250000, 0, 0, 0, 1 },
    { "node_network_receive_packets_total", { "device", "eth0" }, K_COUNT, 0, 450, 0, 0, 0, 1 },
    { "node_network_transmit_packets_total", { "device", "eth0" }, K_COUNT, 0, 380, 0, 0, 0, 1 },
    { "node_disk_read_bytes_total", { "device", "vda" }, K_BYTES, 0, 150000, 0, 0, 0, 4096 },
    { "node_disk_written_bytes_total", { "device", "vda" }, K_BYTES, 0, 300000, 0, 0, 0, 4096 },
    { "node_disk_reads_completed_total", { "device", "vda" }, K_COUNT, 0, 12, 0, 0, 0, 1 },
    { "node_disk_writes_completed_total", { "device", "vda" }, K_COUNT, 0, 30, 0, 0, 0, 1 },
    /* 40..69: gauges; a, b = lo, hi as a fraction of the host's memory or disk
       size when unit is 4096, else in units of 10^-scale */
    { "node_load1", { NULL }, K_LOAD1, 2, 0, 0, 0, 0, 1 },
    { "node_load5", { NULL }, K_WALK, 2, 0, 1600, 3, 100, 1 },
    { "node_load15", { NULL }, K_WALK, 2, 0, 1600, 1.2, 100, 1 },
    { "node_memory_MemAvailable_bytes", { NULL }, K_WALK, 0, 0.2, 0.8, 400, 100, 4096 },
    { "node_memory_MemFree_bytes", { NULL }, K_WALK, 0, 0.02, 0.3, 300, 100, 4096 },
    { "node_memory_Cached_bytes", { NULL }, K_WALK, 0, 0.1, 0.6, 150, 90, 4096 },
    { "node_memory_Buffers_bytes", { NULL }, K_WALK, 0, 0.005, 0.03, 10, 60, 4096 },
    { "node_memory_Active_bytes", { NULL }, K_WALK, 0, 0.1, 0.6, 250, 100, 4096 },
    { "node_memory_Inactive_bytes", { NULL }, K_WALK, 0, 0.05, 0.4, 120, 100, 4096 },
    { "node_memory_Dirty_bytes", { NULL }, K_WALK, 0, 0.0, 0.01, 60, 100, 4096 },
    { "node_memory_SwapFree_bytes", { NULL }, K_WALK, 0, 0.01, 0.125, 5, 2, 4096 },
    { "poolwatch_node_memory_used_ratio", { NULL }, K_WALK, 4, 1500, 9500, 25, 100, 1 },
    { "node_filesystem_avail_bytes", { FS("/", "/dev/vda1") }, K_WALK, 0, 0.3, 0.7, 40, 40, 4096 },
    { "node_filesystem_avail_bytes", { FS("/var", "/dev/vda2") }, K_WALK, 0, 0.2, 0.8, 200, 80, 4096 },
    { "node_filesystem_avail_bytes", { FS("/home", "/dev/vdb1") }, K_WALK, 0, 0.1, 0.9, 20, 10, 4096 },
    { "node_filesystem_free_bytes", { FS("/", "/dev/vda1") }, K_WALK, 0, 0.35, 0.75, 40, 40, 4096 },
    { "node_filesystem_free_bytes", { FS("/var", "/dev/vda2") }, K_WALK, 0, 0.25, 0.85, 200, 80, 4096 },
    { "node_filesystem_free_bytes", { FS("/home", "/dev/vdb1") }, K_WALK, 0, 0.15, 0.95, 20, 10, 4096 },
    { "node_procs_running", { NULL }, K_WALK, 0, 1, 16, 1.5, 100, 1 },
    { "node_procs_blocked", { NULL }, K_WALK, 0, 0, 4, 0.6, 30, 1 },
    { "node_sockstat_TCP_inuse", { NULL }, K_WALK, 0, 20, 3000, 6, 90, 1 },
    { "node_netstat_Tcp_CurrEstab", { NULL }, K_WALK, 0, 10, 2500, 5, 90, 1 },
    { "node_entropy_available_bits", { NULL }, K_WALK, 0, 3000, 4096, 30, 70, 1 },
    { "node_timex_offset_seconds", { NULL }, K_WALK, 6, -5000, 5000, 120, 100, 1 },
    { "node_hwmon_temp_celsius", { "chip", "platform_coretemp_0", "sensor", "temp1" }, K_WALK, 1, 350, 850, 4, 100, 1 },
    { "node_hwmon_temp_celsius", { "chip", "platform_coretemp_0", "sensor", "temp2" }, K_WALK, 1, 350, 850, 4, 100, 1 },
    { "node_cpu_scaling_frequency_hertz", { "cpu", "0" }, K_WALK, 0, 800, 3500, 150, 60, 1000000 },
    { "node_cpu_scaling_frequency_hertz", { "cpu", "1" }, K_WALK, 0, 800, 3500, 150, 60, 1000000 },
    { "node_cpu_scaling_frequency_hertz", { "cpu", "2" }, K_WALK, 0, 800, 3500, 150, 60, 1000000 },
    { "node_cpu_scaling_frequency_hertz", { "cpu", "3" }, K_WALK, 0, 800, 3500, 150, 60, 1000000 },
    /* 70..99: constants (a = value; 0 = from the host's sizes, see const_value) */
    { "node_memory_MemTotal_bytes", { NULL }, K_CONST, 0, 0, 0, 0, 0, 1 },
    { "node_memory_SwapTotal_bytes", { NULL }, K_CONST, 0, 0, 0, 0, 0, 1 },
    { "node_filesystem_size_bytes", { FS("/", "/dev/vda1") }, K_CONST, 0, 0, 0, 0, 0, 1 },
    { "node_filesystem_size_bytes", { FS("/var", "/dev/vda2") }, K_CONST, 0, 0, 0, 0, 0, 1 },
    { "node_filesystem_size_bytes", { FS("/home", "/dev/vdb1") }, K_CONST, 0, 0, 0, 0, 0, 1 },
    { "node_filesystem_files", { FS("/", "/dev/vda1") }, K_CONST, 0, 0, 0, 0, 0, 1 },
    { "node_filesystem_files", { FS("/var", "/dev/vda2") }, K_CONST, 0, 0, 0, 0, 0, 1 },
    { "node_filesystem_files", { FS("/home", "/dev/vdb1") }, K_CONST, 0, 0, 0, 0, 0, 1 },
    { "node_network_speed_bytes", { "device", "eth0" }, K_CONST, 0, 1250000000, 0, 0, 0, 1 },
    { "node_network_mtu_bytes", { "device", "eth0" }, K_CONST, 0, 1500, 0, 0, 0, 1 },
    { "node_uname_info", { "machine", "x86_64", "release", "6.1.0-28-amd64", "sysname", "Linux",
                           "version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)" }, K_CONST, 0, 1, 0, 0, 0, 1 },
    { "node_os_info", { "id", "debian", "name", "Debian GNU/Linux", "version_id", "12" }, K_CONST, 0, 1, 0, 0, 0, 1 },
    { "node_cpu_info", { "cpu", "0", "model_name", "Hygon C86 7285 32-core Processor" }, K_CONST, 0, 1, 0, 0, 0, 1 },
    { "node_cpu_info", { "cpu", "1", "model_name", "Hygon C86 7285 32-core Processor" }, K_CONST, 0, 1, 0, 0, 0, 1 },
    { "node_cpu_info", { "cpu", "2", "model_name", "Hygon C86 7285 32-core Processor" }, K_CONST, 0, 1, 0, 0, 0, 1 },
    { "node_cpu_info", { "cpu", "3", "model_name", "Hygon C86 7285 32-core Processor" }, K_CONST, 0, 1, 0, 0, 0, 1 },
    { "node_boot_time_seconds", { NULL }, K_BOOT, 0, 0, 0, 0, 0, 1 },
    { "node_network_info", { "device", "eth0", "duplex", "full", "operstate", "up" }, K_CONST, 0, 1, 0, 0, 0, 1 },
    { "node_filesystem_readonly", { FS("/", "/dev/vda1") }, K_CONST, 0, 0.5, 0, 0, 0, 1 },
    { "node_filesystem_readonly", { FS("/var", "/dev/vda2") }, K_CONST, 0, 0.5, 0, 0, 0, 1 },
    { "node_filesystem_readonly", { FS("/home", "/dev/vdb1") }, K_CONST, 0, 0.5, 0, 0, 0, 1 },
    { "node_filesystem_device_error", { FS("/", "/dev/vda1") }, K_CONST, 0, 0.5, 0, 0, 0, 1 },
    { "node_filesystem_device_error", { FS("/var", "/dev/vda2") }, K_CONST, 0, 0.5, 0, 0, 0, 1 },
    { "node_filesystem_device_error", { FS("/home", "/dev/vdb1") }, K_CONST, 0, 0.5, 0, 0, 0, 1 },
    { "node_dmi_info", { "product_name", "KVM", "sys_vendor", "QEMU" }, K_CONST, 0, 1, 0, 0, 0, 1 },
    { "node_time_zone_offset_seconds", { "time_zone", "CST" }, K_CONST, 0, 28800, 0, 0, 0, 1 },
    { "node_network_up", { "device", "eth0" }, K_CONST, 0, 1, 0, 0, 0, 1 },
    { "node_nf_conntrack_entries_limit", { NULL }, K_CONST, 0, 262144, 0, 0, 0, 1 },
    { "node_entropy_pool_size_bits", { NULL }, K_CONST, 0, 256, 0, 0, 0, 1 },
    { "node_exporter_build_info", { "goversion", "go1.19.8", "version", "1.5.0" }, K_CONST, 0, 1, 0, 0, 0, 1 },
};
/* node_filesystem_readonly / device_error: 0.5 above means "0"; see const_value. */

static int
spec_nlabels(const spec *p)
{
    int n = 0;

    while (n < MAX_TLABELS && p->l[2 * n])
        n++;
    return n;
}

/* ------------------------------------------------------------------ random */

static uint64_t
mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t g_seed = 1;

static uint64_t
hash3(uint64_t a, uint64_t b, uint64_t c)
{
    return mix64(mix64(mix64(g_seed ^ 0x5eed) ^ a) ^ (b * 0x100000001b3ULL)) ^ mix64(c + 0x632be5ab);
}

static uint64_t
rng_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    return mix64(*s);
}

static double
rng_unit(uint64_t *s)   /* [0, 1) */
{
    return (double) (rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double
rng_gauss(uint64_t *s)  /* about N(0, 1) */
{
    double u = rng_unit(s) + rng_unit(s) + rng_unit(s) + rng_unit(s);
    return (u - 2.0) * 1.7320508075688772;
}

static double
unit_of(uint64_t h)
{
    return (double) (h >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------ data set */

typedef struct plan {
    int      hosts;
    int64_t  target;
    int64_t  end_ms;          /* exclusive; step S-1 is the last */
    int64_t  base_ms;         /* time of global step 0 = end - 30 d */
    int64_t  S;               /* steps in 30 days */
    int64_t  P;               /* main block steps */
    int64_t  main_start;      /* first step of the main block */
    int64_t  day_start;       /* first node_load1 step of ordinary hosts */
    int64_t  long_start;      /* first node_load1 step of long hosts */
    int      long_hosts;
    int64_t  total;
    bool     scraped;
    int      hostw;
} plan;

static int64_t
load1_start(const plan *pl, int h)
{
    return h < pl->long_hosts ? pl->long_start : pl->day_start;
}

static int64_t
series_start(const plan *pl, int h, int idx)
{
    return idx == LOAD1_IDX ? load1_start(pl, h) : pl->main_start;
}

static int64_t
plan_total(const plan *pl, int64_t P)
{
    int64_t ms = pl->S - P;
    int64_t day = pl->S - DAY_STEPS < ms ? pl->S - DAY_STEPS : ms;
    int64_t lng = 0 < ms ? 0 : ms;
    int     L = pl->long_hosts;

    return (int64_t) pl->hosts * (NSERIES - 1) * P + (int64_t) (pl->hosts - L) * (pl->S - day)
           + (int64_t) L * (pl->S - lng);
}

static int
plan_make(plan *pl)
{
    int64_t lo = 1, hi;

    pl->S = MONTH_STEPS;
    pl->base_ms = pl->end_ms - pl->S * STEP_MS;
    pl->long_hosts = pl->hosts < LONG_HOSTS ? pl->hosts : LONG_HOSTS;
    hi = pl->S;
    if (plan_total(pl, hi) < pl->target) {
        fprintf(stderr, "gen: --samples %" PRId64 " needs more than 30 days of %d hosts\n", pl->target, pl->hosts);
        return -1;
    }
    while (lo < hi) {     /* smallest P whose total reaches the target */
        int64_t mid = lo + (hi - lo) / 2;

        if (plan_total(pl, mid) >= pl->target)
            hi = mid;
        else
            lo = mid + 1;
    }
    pl->P = lo;
    pl->main_start = pl->S - pl->P;
    pl->day_start = pl->S - DAY_STEPS < pl->main_start ? pl->S - DAY_STEPS : pl->main_start;
    pl->long_start = 0 < pl->main_start ? 0 : pl->main_start;
    pl->total = plan_total(pl, pl->P);
    pl->hostw = pl->hosts <= 10000 ? 4 : 6;
    return 0;
}

static int64_t
step_ts(const plan *pl, int h, int64_t s)
{
    int64_t t = pl->base_ms + s * STEP_MS;

    if (pl->scraped)
        t += (int64_t) (hash3(h, 0, 0x9a5e) % 9000) + (int64_t) (hash3(h, s, 0x7177) % 4);
    return t;
}

/* Host-level facts. */
static int64_t
host_mem_bytes(int h)
{
    static const int64_t gib[] = { 8, 16, 32, 64, 128 };
    return gib[hash3(h, 1, 0x3e3) % 5] << 30;
}

static int64_t
host_disk_bytes(int h, int which)
{
    static const int64_t gib[] = { 40, 100, 200, 500, 1000 };
    return (gib[hash3(h, which, 0xd15c) % 5] << 30) - (int64_t) (hash3(h, which, 0xd15d) % 64) * 4096 * 1024;
}

/* Reboot step of host h in the main block, or -1: about 2 % of the hosts. */
static int64_t
host_reboot(const plan *pl, int h)
{
    if (hash3(h, 2, 0xb007) % 50 != 0 || pl->P < 4)
        return -1;
    return pl->main_start + 1 + (int64_t) (hash3(h, 3, 0xb007) % (uint64_t) (pl->P - 2));
}

typedef struct sstate {
    uint64_t rng;
    int64_t  k;          /* current value as k / 10^scale */
    int64_t  lo, hi;     /* K_WALK bounds (in k) */
    double   x;          /* K_LOAD1: the EMA; K_BYTES/K_COUNT/K_TICKS: per-step mean */
    double   y;          /* K_LOAD1: base load; K_WALK: sigma */
    double   z;          /* K_LOAD1: amplitude; K_WALK: change probability */
    int64_t  reboot;     /* step of the reboot or -1 */
    int64_t  center;
} sstate;

static const int64_t POW10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000 };

static void
state_init(const plan *pl, sstate *st, int h, int idx, int64_t s0)
{
    const spec *p = &SPECS[idx];
    uint64_t    hv = hash3(h, idx, 0x1417);

    memset(st, 0, sizeof *st);
    st->rng = hash3(h, idx, 0x5eed);
    st->reboot = host_reboot(pl, h);
    switch (p->kind) {
    case K_TICKS: {
        /* up 2..200 days, 100 ticks/s over 10 s = 1000 ticks a step at full share */
        double up = (2 + unit_of(hv) * 198) * 86400.0;
        double share = p->a / 1000.0 * (0.8 + 0.4 * unit_of(hash3(h, idx, 0x51a)));

        st->x = 1000.0 * share;
        st->k = (int64_t) (up * 100.0 * share);
        break;
    }
    case K_BYTES:
    case K_COUNT: {
        double up = (2 + unit_of(hv) * 198) * 86400.0;
        double rate = p->a * exp(1.5 * (unit_of(hash3(h, idx, 0xb1)) - 0.5) * 2);   /* per host */

        st->x = rate * 10.0 / (double) p->unit;
        st->k = (int64_t) (up * rate * 0.6 / (double) p->unit) * p->unit;
        break;
    }
    case K_LOAD1:
        st->y = 0.2 + unit_of(hv) * 3.0;                      /* base runnable tasks */
        st->z = 0.3 + unit_of(hash3(h, idx, 0xa)) * 4.0;       /* daily amplitude */
        st->x = st->y;
        st->k = (int64_t) llround(st->x * 100.0);
        break;
    case K_WALK: {
        double lo = p->a, hi = p->b;

        if (p->unit == 4096) {   /* fractions of the host's memory or disk */
            int64_t size = strstr(p->metric, "filesystem")
                               ? host_disk_bytes(h, p->l[5][1] == '\0' ? 0 : (p->l[5][1] == 'v' ? 1 : 2))
                               : strstr(p->metric, "Swap") ? host_mem_bytes(h) / 8 : host_mem_bytes(h);
            st->lo = (int64_t) (lo * (double) size) / 4096;
            st->hi = (int64_t) (hi * (double) size) / 4096;
        } else {
            st->lo = (int64_t) lo;
            st->hi = (int64_t) hi;
        }
        st->center = st->lo + (int64_t) ((double) (st->hi - st->lo) * (0.2 + 0.6 * unit_of(hv)));
        st->k = st->center;
        st->y = p->c * (0.5 + unit_of(hash3(h, idx, 0x519)));
        st->z = p->d / 100.0;
        break;
    }
    case K_CONST:
        if (p->a == 0) {
            if (strcmp(p->metric, "node_memory_MemTotal_bytes") == 0)
                st->k = host_mem_bytes(h);
            else if (strcmp(p->metric, "node_memory_SwapTotal_bytes") == 0)
                st->k = host_mem_bytes(h) / 8;
            else {
                int     which = p->l[5][1] == '\0' ? 0 : (p->l[5][1] == 'v' ? 1 : 2);
                int64_t size = host_disk_bytes(h, which);

                st->k = strcmp(p->metric, "node_filesystem_files") == 0 ? size / 16384 : size;
            }
        } else if (p->a == 0.5) {
            st->k = 0;
        } else {
            st->k = (int64_t) p->a;
        }
        break;
    case K_BOOT:
        st->k = (pl->base_ms + pl->main_start * STEP_MS) / 1000 - 86400 * (int64_t) (2 + hv % 198);
        break;
    }
    (void) s0;
}

/* The value at step s (steps are visited in order, each once, from the start). */
static void
state_next(const plan *pl, sstate *st, int h, int idx, int64_t s)
{
    const spec *p = &SPECS[idx];

    switch (p->kind) {
    case K_TICKS: {
        double inc = st->x * (1.0 + 0.35 * rng_gauss(&st->rng));
        int64_t d = inc <= 0 ? 0 : (int64_t) llround(inc);

        st->k = s == st->reboot ? d : st->k + d;
        break;
    }
    case K_BYTES:
    case K_COUNT: {
        double inc = st->x * exp(0.6 * rng_gauss(&st->rng));
        int64_t d = (int64_t) llround(inc) * p->unit;

        st->k = s == st->reboot ? d : st->k + d;
        break;
    }
    case K_LOAD1: {
        double t = (double) (pl->base_ms + s * STEP_MS) / 86400000.0;
        double phase = unit_of(hash3(h, 0, 0x10ad)) * 0.25;
        double lambda = st->y + st->z * 0.5 * (1.0 + sin(2 * M_PI * (t + phase)));
        double n = lambda + sqrt(lambda) * rng_gauss(&st->rng);

        n = n < 0 ? 0 : floor(n + 0.5);
        st->x = st->x * 0.8464817248906141 + n * (1.0 - 0.8464817248906141);   /* exp(-10/60) */
        st->k = (int64_t) llround(st->x * 100.0);
        break;
    }
    case K_WALK:
        if (rng_unit(&st->rng) < st->z) {
            double  d = st->y * rng_gauss(&st->rng) + (double) (st->center - st->k) * 0.02;
            int64_t k = st->k + (int64_t) llround(d);

            st->k = k < st->lo ? st->lo : k > st->hi ? st->hi : k;
        }
        break;
    case K_CONST:
        break;
    case K_BOOT:
        if (s == st->reboot)
            st->k = (pl->base_ms + s * STEP_MS) / 1000 - 40;
        break;
    }
}

static int64_t
state_k(const sstate *st, int idx)
{
    return SPECS[idx].kind == K_WALK ? st->k * SPECS[idx].unit : st->k;   /* walks count in units */
}

static double
value_of(int64_t k, int scale)
{
    return scale == 0 ? (double) k : (double) k / (double) POW10[scale];
}

/* k / 10^scale as the shortest decimal: "123.45", "0.5", "-0.0012", "7". */
static char *
fmt_dec(char *o, int64_t k, int scale)
{
    char     tmp[32];
    int      n = 0;
    uint64_t u = k < 0 ? (uint64_t) 0 - (uint64_t) k : (uint64_t) k;

    if (k < 0)
        *o++ = '-';
    do {
        tmp[n++] = (char) ('0' + u % 10);
        u /= 10;
    } while (u);
    while (n <= scale)
        tmp[n++] = '0';
    /* tmp holds digits least significant first; the last `scale` of them are decimals */
    int lastnz = 0;   /* decimals to keep */
    for (int i = 0; i < scale; i++)
        if (tmp[i] != '0') {
            lastnz = scale - i;
            break;
        }
    for (int i = n - 1; i >= scale; i--)
        *o++ = tmp[i];
    if (lastnz) {
        *o++ = '.';
        for (int i = scale - 1; i >= scale - lastnz; i--)
            *o++ = tmp[i];
    }
    return o;
}

static char *
fmt_i64(char *o, int64_t v)
{
    return fmt_dec(o, v, 0);
}

static void
host_name(const plan *pl, int h, char *buf, size_t len)
{
    snprintf(buf, len, "host-%0*d", pl->hostw, h);
}

static void
pool_name(int h, char *buf, size_t len)
{
    snprintf(buf, len, "pool-%02d", h % NPOOLS);
}

/* ------------------------------------------------------------------ options */

typedef struct opts {
    plan        pl;
    const char *out, *url, *order;
    double      timeout_s;
} opts;

static void
usage(void)
{
    fputs("usage: gen plan|prom|send --end MS [--hosts N] [--samples N] [--seed N]\n"
          "           [--order time|series] [--timestamps aligned|scraped] [--out FILE]\n"
          "           [--url URL] [--timeout S]\n", stderr);
    exit(2);
}

static void
parse(opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->pl.hosts = 1000;
    o->pl.target = 20000000;
    o->pl.end_ms = -1;
    o->order = "time";
    o->timeout_s = 600;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!v)
            usage();
        i++;
        if (strcmp(a, "--hosts") == 0)
            o->pl.hosts = atoi(v);
        else if (strcmp(a, "--samples") == 0)
            o->pl.target = strtoll(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0)
            g_seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--end") == 0)
            o->pl.end_ms = strtoll(v, NULL, 10);
        else if (strcmp(a, "--order") == 0)
            o->order = v;
        else if (strcmp(a, "--timestamps") == 0)
            o->pl.scraped = strcmp(v, "scraped") == 0;
        else if (strcmp(a, "--out") == 0)
            o->out = v;
        else if (strcmp(a, "--url") == 0)
            o->url = v;
        else if (strcmp(a, "--timeout") == 0)
            o->timeout_s = atof(v);
        else
            usage();
    }
    if (o->pl.hosts < 1 || o->pl.hosts > 100000 || o->pl.target < 1 || o->pl.end_ms <= 0
        || o->pl.end_ms % STEP_MS != 0) {
        fprintf(stderr, "gen: need --hosts 1..100000, --samples >= 1, --end a multiple of 10000 ms\n");
        exit(2);
    }
    if (plan_make(&o->pl) != 0)
        exit(2);
}

static void
print_plan(FILE *f, const plan *pl, const char *order)
{
    int64_t counters = 0, gauges = 0, consts = 0;

    for (int i = 0; i < NSERIES; i++) {
        int k = SPECS[i].kind;
        if (k == K_TICKS || k == K_BYTES || k == K_COUNT)
            counters++;
        else if (k == K_LOAD1 || k == K_WALK)
            gauges++;
        else
            consts++;
    }
    fprintf(f,
            "{\"hosts\": %d, \"series_per_host\": %d, \"counters_per_host\": %" PRId64
            ", \"gauges_per_host\": %" PRId64 ", \"constants_per_host\": %" PRId64
            ", \"series\": %d, \"pools\": %d, \"step_ms\": %d, \"target_samples\": %" PRId64
            ", \"samples\": %" PRId64 ", \"main_steps\": %" PRId64 ", \"main_samples\": %" PRId64
            ", \"end_ms\": %" PRId64 ", \"main_start_ms\": %" PRId64 ", \"day_start_ms\": %" PRId64
            ", \"long_start_ms\": %" PRId64 ", \"long_hosts\": %d, \"seed\": %" PRIu64
            ", \"order\": \"%s\", \"timestamps\": \"%s\", \"reboots\": %d}\n",
            pl->hosts, NSERIES, counters, gauges, consts, pl->hosts * NSERIES, NPOOLS, STEP_MS, pl->target,
            pl->total, pl->P, (int64_t) pl->hosts * NSERIES * pl->P, pl->end_ms,
            pl->base_ms + pl->main_start * STEP_MS, pl->base_ms + pl->day_start * STEP_MS,
            pl->base_ms + pl->long_start * STEP_MS, pl->long_hosts, g_seed, order,
            pl->scraped ? "scraped" : "aligned", ({
                int r = 0;
                for (int h = 0; h < pl->hosts; h++)
                    r += host_reboot(pl, h) >= 0;
                r;
            }));
}

/* ------------------------------------------------------------------ prom */

typedef struct wbuf {
    FILE  *f;
    char  *buf;
    size_t len, cap;
    int64_t lines, bytes;
} wbuf;

static void
wb_flush(wbuf *w)
{
    if (w->len && fwrite(w->buf, 1, w->len, w->f) != w->len) {
        perror("gen: write");
        exit(1);
    }
    w->bytes += (int64_t) w->len;
    w->len = 0;
}

static char **g_prefix;       /* per spec: `metric{a="x",` (labels of the spec) */
static size_t *g_prefix_len;

static void
build_prefixes(void)
{
    g_prefix = calloc(NSERIES, sizeof *g_prefix);
    g_prefix_len = calloc(NSERIES, sizeof *g_prefix_len);
    for (int i = 0; i < NSERIES; i++) {
        char b[512];
        int  n = snprintf(b, sizeof b, "%s{", SPECS[i].metric);

        for (int j = 0; j < spec_nlabels(&SPECS[i]); j++)
            n += snprintf(b + n, sizeof b - (size_t) n, "%s=\"%s\",", SPECS[i].l[2 * j], SPECS[i].l[2 * j + 1]);
        g_prefix[i] = strdup(b);
        g_prefix_len[i] = (size_t) n;
    }
}

static void
emit(wbuf *w, int idx, const char *hostpart, size_t hostlen, int64_t k, int64_t ts)
{
    if (w->cap - w->len < 2048)
        wb_flush(w);
    char *o = w->buf + w->len;

    memcpy(o, g_prefix[idx], g_prefix_len[idx]);
    o += g_prefix_len[idx];
    memcpy(o, hostpart, hostlen);
    o += hostlen;
    o = fmt_dec(o, k, SPECS[idx].scale);
    *o++ = ' ';
    o = fmt_i64(o, ts);
    *o++ = '\n';
    w->len = (size_t) (o - w->buf);
    w->lines++;
}

static int
cmd_prom(opts *o)
{
    plan   *pl = &o->pl;
    wbuf    w = { 0 };
    int     H = pl->hosts;
    char  **hostpart = calloc((size_t) H, sizeof *hostpart);
    size_t *hostlen = calloc((size_t) H, sizeof *hostlen);
    sstate *st = calloc((size_t) H * NSERIES, sizeof *st);
    bool    series_major = strcmp(o->order, "series") == 0;

    if (!o->out || !hostpart || !hostlen || !st)
        usage();
    w.f = strcmp(o->out, "-") == 0 ? stdout : fopen(o->out, "w");
    if (!w.f) {
        fprintf(stderr, "gen: %s: %s\n", o->out, strerror(errno));
        return 1;
    }
    w.cap = 1 << 20;
    w.buf = malloc(w.cap);
    build_prefixes();
    for (int h = 0; h < H; h++) {
        char hn[32], pn[32], b[128];

        host_name(pl, h, hn, sizeof hn);
        pool_name(h, pn, sizeof pn);
        hostlen[h] = (size_t) snprintf(b, sizeof b, "host=\"%s\",pool=\"%s\"} ", hn, pn);
        hostpart[h] = strdup(b);
        for (int i = 0; i < NSERIES; i++)
            state_init(pl, &st[(size_t) h * NSERIES + (size_t) i], h, i, series_start(pl, h, i));
    }
    if (series_major) {
        for (int h = 0; h < H; h++)
            for (int i = 0; i < NSERIES; i++) {
                sstate *x = &st[(size_t) h * NSERIES + (size_t) i];

                for (int64_t s = series_start(pl, h, i); s < pl->S; s++) {
                    state_next(pl, x, h, i, s);
                    emit(&w, i, hostpart[h], hostlen[h], state_k(x, i), step_ts(pl, h, s));
                }
            }
    } else {
        for (int64_t s = pl->long_start; s < pl->S; s++) {
            int hmax = s < pl->day_start ? pl->long_hosts : H;

            for (int h = 0; h < hmax; h++) {
                int64_t ts = step_ts(pl, h, s);

                if (s < pl->main_start) {
                    sstate *x = &st[(size_t) h * NSERIES + LOAD1_IDX];

                    if (s < load1_start(pl, h))
                        continue;
                    state_next(pl, x, h, LOAD1_IDX, s);
                    emit(&w, LOAD1_IDX, hostpart[h], hostlen[h], state_k(x, LOAD1_IDX), ts);
                    continue;
                }
                for (int i = 0; i < NSERIES; i++) {
                    sstate *x = &st[(size_t) h * NSERIES + (size_t) i];

                    state_next(pl, x, h, i, s);
                    emit(&w, i, hostpart[h], hostlen[h], state_k(x, i), ts);
                }
            }
        }
    }
    wb_flush(&w);
    if (w.f != stdout && fclose(w.f) != 0) {
        perror("gen: close");
        return 1;
    }
    if (w.lines != pl->total) {
        fprintf(stderr, "gen: wrote %" PRId64 " lines, planned %" PRId64 "\n", w.lines, pl->total);
        return 1;
    }
    fprintf(stderr, "gen: %" PRId64 " samples, %" PRId64 " bytes\n", w.lines, w.bytes);
    print_plan(stdout == w.f ? stderr : stdout, pl, o->order);
    return 0;
}

/* ------------------------------------------------------------------ send */

enum { A_SEND, A_RECV, A_SLEEP, A_DONE };

typedef struct agent {
    int              h;
    nng_socket       sock;
    nng_aio         *aio;
    int              state;
    int64_t          step;       /* step of the frame in flight */
    uint64_t         seq;
    void            *frame;      /* the frame of step (points into frames) */
    size_t           flen, nsamples;
    void           **frames;     /* every step's frame, encoded before the clock starts */
    size_t          *flens, *nsamps;
    struct timespec  sent;
    sstate           st[NSERIES];
    pw_batch        *b;
    pw_frame_header  hdr;
    char             pool[16];
} agent;

static struct {
    plan              *pl;
    agent             *agents;
    int                nagents;
    atomic_long        acked_samples, acked_frames, dup_frames, retry_frames, rejected_frames, errors;
    atomic_int         done;
    atomic_bool        stop;
    atomic_llong       last_ack_ns;
    float             *lat_ms;
    atomic_long        nlat;
    long               maxlat;
    pthread_mutex_t    mu;
    pthread_cond_t     cv;
    char               first_reject[300];
} G = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static int64_t
now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}

static void
agent_finish(agent *a)
{
    a->state = A_DONE;
    pthread_mutex_lock(&G.mu);
    G.done++;
    pthread_cond_signal(&G.cv);
    pthread_mutex_unlock(&G.mu);
}

/* Builds the frame of a->step into a->frame. */
static int
agent_make(agent *a)
{
    const plan *pl = G.pl;
    pw_label    lab[MAX_TLABELS + 1];
    pw_err      e;

    pw_batch_reset(a->b);
    pw_batch_group(a->b, step_ts(pl, a->h, a->step));
    for (int i = 0; i < NSERIES; i++) {
        const spec *p = &SPECS[i];
        int         n = spec_nlabels(p);

        state_next(pl, &a->st[i], a->h, i, a->step);
        for (int j = 0; j < n; j++)
            lab[j] = (pw_label) { p->l[2 * j], p->l[2 * j + 1] };
        lab[n] = (pw_label) { "pool", a->pool };
        e = pw_batch_add(a->b, p->metric, value_of(state_k(&a->st[i], i), p->scale), (size_t) n + 1, lab);
        if (e != PW_OK) {
            fprintf(stderr, "gen: pw_batch_add %s: %s\n", p->metric, pw_strerror(e));
            return -1;
        }
    }
    a->hdr.seq = (uint64_t) (a->step - pl->main_start) + 1;
    a->hdr.ts_ms = step_ts(pl, a->h, a->step);
    if ((e = pw_wire_encode(&a->hdr, a->b, &a->frames[a->step - pl->main_start],
                            &a->flens[a->step - pl->main_start])) != PW_OK) {
        fprintf(stderr, "gen: pw_wire_encode: %s\n", pw_strerror(e));
        return -1;
    }
    a->nsamps[a->step - pl->main_start] = pw_batch_nsamples(a->b);
    return 0;
}

/*
 * Makes a->step's frame current. Frames are encoded before the clock starts:
 * real agents encode on their own machines, and here their CPU would be
 * taken from the collector's two cores.
 */
static void
agent_pick(agent *a)
{
    int64_t i = a->step - G.pl->main_start;

    a->frame = a->frames[i];
    a->flen = a->flens[i];
    a->nsamples = a->nsamps[i];
    a->seq = (uint64_t) i + 1;
}

static void
agent_send(agent *a)
{
    nng_msg *m;

    if (atomic_load(&G.stop)) {
        agent_finish(a);
        return;
    }
    if (nng_msg_alloc(&m, a->flen) != 0) {
        fprintf(stderr, "gen: out of memory\n");
        exit(1);
    }
    memcpy(nng_msg_body(m), a->frame, a->flen);
    nng_aio_set_msg(a->aio, m);
    a->state = A_SEND;
    clock_gettime(CLOCK_MONOTONIC, &a->sent);
    nng_send_aio(a->sock, a->aio);
}

static void
agent_sleep(agent *a, unsigned ms)
{
    a->state = A_SLEEP;
    nng_sleep_aio(ms, a->aio);
}

static void
agent_cb(void *arg)
{
    agent *a = arg;
    int    rv = nng_aio_result(a->aio);

    switch (a->state) {
    case A_SEND:
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(a->aio));
            nng_aio_set_msg(a->aio, NULL);
            atomic_fetch_add(&G.errors, 1);
            if (rv == NNG_ECLOSED || rv == NNG_ECANCELED || atomic_load(&G.stop)) {
                agent_finish(a);
                return;
            }
            agent_sleep(a, 100);
            return;
        }
        a->state = A_RECV;
        nng_recv_aio(a->sock, a->aio);
        return;
    case A_RECV: {
        nng_msg *m;
        pw_ack   ack;

        if (rv != 0) {
            atomic_fetch_add(&G.errors, 1);
            if (rv == NNG_ECLOSED || rv == NNG_ECANCELED || atomic_load(&G.stop)) {
                agent_finish(a);
                return;
            }
            agent_sleep(a, 100);
            return;
        }
        m = nng_aio_get_msg(a->aio);
        nng_aio_set_msg(a->aio, NULL);
        if (pw_wire_decode_ack(nng_msg_body(m), nng_msg_len(m), &ack) != PW_OK || ack.seq != a->seq) {
            nng_msg_free(m);
            atomic_fetch_add(&G.errors, 1);
            agent_sleep(a, 100);
            return;
        }
        nng_msg_free(m);
        switch (ack.status) {
        case PW_ACK_STORED:
        case PW_ACK_DUPLICATE: {
            struct timespec t;
            int64_t         ns;
            long            i;

            clock_gettime(CLOCK_MONOTONIC, &t);
            ns = (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
            i = atomic_fetch_add(&G.nlat, 1);
            if (i < G.maxlat)
                G.lat_ms[i] = (float) ((double) (ns - ((int64_t) a->sent.tv_sec * 1000000000 + a->sent.tv_nsec)) / 1e6);
            if (ack.status == PW_ACK_STORED) {
                atomic_fetch_add(&G.acked_samples, (long) a->nsamples);
                atomic_fetch_add(&G.acked_frames, 1);
            } else {
                atomic_fetch_add(&G.dup_frames, 1);
            }
            long long prev = atomic_load(&G.last_ack_ns);
            while (prev < ns && !atomic_compare_exchange_weak(&G.last_ack_ns, &prev, ns))
                ;
            break;
        }
        case PW_ACK_RETRY:
            atomic_fetch_add(&G.retry_frames, 1);
            agent_sleep(a, ack.retry_ms ? ack.retry_ms : 100);
            return;
        case PW_ACK_REJECTED:
            if (atomic_fetch_add(&G.rejected_frames, 1) == 0)
                snprintf(G.first_reject, sizeof G.first_reject, "%s", ack.msg);
            break;
        default:
            fprintf(stderr, "gen: collector answered %s: %s\n", pw_ack_status_name(ack.status), ack.msg);
            atomic_store(&G.stop, true);
            agent_finish(a);
            return;
        }
        if (++a->step >= G.pl->S) {
            agent_finish(a);
            return;
        }
        agent_pick(a);
        agent_send(a);
        return;
    }
    case A_SLEEP:
        agent_send(a);
        return;
    default:
        return;
    }
}

static int
cmp_float(const void *x, const void *y)
{
    float a = *(const float *) x, b = *(const float *) y;
    return a < b ? -1 : a > b;
}

static int
cmd_send(opts *o)
{
    plan          *pl = &o->pl;
    struct rusage  r0, r1;
    int64_t        t0, t1, deadline;
    int            rv, H = pl->hosts;

    if (!o->url)
        usage();
    G.pl = pl;
    G.nagents = H;
    G.agents = calloc((size_t) H, sizeof *G.agents);
    G.maxlat = (long) H * (long) pl->P;
    G.lat_ms = calloc((size_t) G.maxlat + 1, sizeof *G.lat_ms);
    if (!G.agents || !G.lat_ms)
        return 1;
    for (int h = 0; h < H; h++) {
        agent *a = &G.agents[h];

        a->h = h;
        a->step = pl->main_start;
        pool_name(h, a->pool, sizeof a->pool);
        a->b = pw_batch_new();
        a->hdr.version = PW_WIRE_VERSION;
        snprintf(a->hdr.agent_id, sizeof a->hdr.agent_id, "storage-bench-%0*d", pl->hostw, h);
        host_name(pl, h, a->hdr.host, sizeof a->hdr.host);
        snprintf(a->hdr.agent_version, sizeof a->hdr.agent_version, "storage-bench");
        for (int j = 0; j < PW_WIRE_BOOT_ID_LEN; j++)
            a->hdr.boot_id[j] = (uint8_t) (hash3(h, (uint64_t) j, 0xb0) & 0xff);
        for (int i = 0; i < NSERIES; i++) {
            int64_t s0 = series_start(pl, h, i);

            state_init(pl, &a->st[i], h, i, s0);
            for (int64_t s = s0; s < pl->main_start; s++)   /* node_load1's history, not sent */
                state_next(pl, &a->st[i], h, i, s);
        }
        if ((rv = nng_req0_open(&a->sock)) != 0 ||
            (rv = nng_socket_set_ms(a->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
            (rv = nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ, 65536)) != 0 ||
            (rv = nng_aio_alloc(&a->aio, agent_cb, a)) != 0) {
            fprintf(stderr, "gen: nng: %s\n", nng_strerror(rv));
            return 1;
        }
        nng_aio_set_timeout(a->aio, 120000);
        if ((rv = nng_dial(a->sock, o->url, NULL, 0)) != 0) {
            fprintf(stderr, "gen: dial %s (agent %d): %s\n", o->url, h, nng_strerror(rv));
            return 1;
        }
        a->frames = calloc((size_t) pl->P, sizeof *a->frames);
        a->flens = calloc((size_t) pl->P, sizeof *a->flens);
        a->nsamps = calloc((size_t) pl->P, sizeof *a->nsamps);
        if (!a->frames || !a->flens || !a->nsamps)
            return 1;
        for (a->step = pl->main_start; a->step < pl->S; a->step++)
            if (agent_make(a) != 0)
                return 1;
        a->step = pl->main_start;
        agent_pick(a);
    }
    getrusage(RUSAGE_SELF, &r0);
    t0 = now_ns();
    deadline = t0 + (int64_t) (o->timeout_s * 1e9);
    for (int h = 0; h < H; h++)
        agent_send(&G.agents[h]);
    pthread_mutex_lock(&G.mu);
    while (G.done < H) {
        struct timespec ts;
        int64_t         n = now_ns();

        if (n >= deadline) {
            atomic_store(&G.stop, true);
            break;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&G.cv, &G.mu, &ts);
    }
    pthread_mutex_unlock(&G.mu);
    t1 = now_ns();
    bool timed_out = atomic_load(&G.stop) && G.done < H;
    getrusage(RUSAGE_SELF, &r1);
    for (int h = 0; h < H; h++)
        nng_aio_stop(G.agents[h].aio);
    for (int h = 0; h < H; h++)
        nng_close(G.agents[h].sock);

    long    nlat = atomic_load(&G.nlat);
    int64_t last = atomic_load(&G.last_ack_ns);
    double  elapsed = (double) ((timed_out || last == 0 ? t1 : last) - t0) / 1e9;
    double  cpu = (double) (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec)
                 + (double) (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;

    if (nlat > G.maxlat)
        nlat = G.maxlat;
    qsort(G.lat_ms, (size_t) nlat, sizeof *G.lat_ms, cmp_float);
#define PCT(q) (nlat ? (double) G.lat_ms[(size_t) ((double) (nlat - 1) * (q) + 0.5)] : 0.0)
    printf("{\"agents\": %d, \"frames_planned\": %" PRId64 ", \"samples_planned\": %" PRId64
           ", \"frames_stored\": %ld, \"frames_duplicate\": %ld, \"frames_retry\": %ld, \"frames_rejected\": %ld"
           ", \"errors\": %ld, \"samples_acked\": %ld, \"elapsed_s\": %.3f, \"timed_out\": %s"
           ", \"generator_cpu_s\": %.3f, \"ack_ms_p50\": %.3f, \"ack_ms_p99\": %.3f, \"ack_ms_max\": %.3f"
           ", \"first_reject\": \"%s\"}\n",
           H, (int64_t) H * pl->P, (int64_t) H * pl->P * NSERIES, atomic_load(&G.acked_frames),
           atomic_load(&G.dup_frames), atomic_load(&G.retry_frames), atomic_load(&G.rejected_frames),
           atomic_load(&G.errors), atomic_load(&G.acked_samples), elapsed, timed_out ? "true" : "false", cpu,
           PCT(0.5), PCT(0.99), nlat ? (double) G.lat_ms[nlat - 1] : 0.0, G.first_reject);
    return timed_out ? 3 : 0;
}

int
main(int argc, char **argv)
{
    opts o;

    if (argc < 2)
        usage();
    parse(&o, argc, argv);
    if (strcmp(argv[1], "plan") == 0) {
        print_plan(stdout, &o.pl, o.order);
        return 0;
    }
    if (strcmp(argv[1], "prom") == 0)
        return cmd_prom(&o);
    if (strcmp(argv[1], "send") == 0)
        return cmd_send(&o);
    usage();
    return 2;
}
