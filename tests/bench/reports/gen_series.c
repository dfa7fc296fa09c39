/* tests/bench/reports/gen_series.c - gen.py series, fast enough for 10 000 VMs.
 *
 *   gen_series VMS FROM_S TO_S STEP_S [FIRST]
 *
 * Prometheus text on stdout for VMs FIRST..VMS-1: the hypervisor series the
 * monthly report reads (collector/usage.h), one point per STEP_S seconds in
 * [FROM_S, TO_S) -- cpu seconds, balloon available/unused, network rx/tx,
 * state -- plus disk capacity/allocation once a day. The same series, labels
 * and shapes as gen.py series (which run.sh passes the month's bounds from);
 * the per-VM rates come from a fixed-seed generator of its own, so the values
 * differ from gen.py's but are as repeatable. Written in C because at full
 * density 10 000 VMs are 520 million samples: Python formats about a million
 * lines a second, slower than `poolwatch import` parses them.
 *
 * Built by run.sh with the system C compiler; only libc. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GS_GIB 1073741824.0

typedef struct gs_out gs_out;
struct gs_out {
    char buf[1 << 20];
    size_t len;
};

static int gs_flush(gs_out *o)
{
    if (o->len && fwrite(o->buf, 1, o->len, stdout) != o->len)
        return -1;
    o->len = 0;
    return 0;
}

/* Appends one formatted line; flushes first when the buffer is nearly full
 * (a call writes well under 4 KiB). */
static int gs_line(gs_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int gs_line(gs_out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (sizeof o->buf - o->len < 4096 && gs_flush(o) != 0)
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof o->buf - o->len)
        return -1;
    o->len += (size_t)n;
    return 0;
}

/* splitmix64: a repeatable stream of per-VM rates from the VM's number. */
static double gs_uniform(uint64_t *s, double lo, double hi)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv)
{
    static gs_out o;
    long vms, first = 0;
    long long from, to, step;

    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: gen_series VMS FROM_S TO_S STEP_S [FIRST]\n");
        return 2;
    }
    vms = strtol(argv[1], NULL, 10);
    from = strtoll(argv[2], NULL, 10);
    to = strtoll(argv[3], NULL, 10);
    step = strtoll(argv[4], NULL, 10);
    if (argc == 6)
        first = strtol(argv[5], NULL, 10);
    if (vms < 0 || step <= 0 || to < from || first < 0) {
        fprintf(stderr, "gen_series: bad arguments\n");
        return 2;
    }
    for (long i = first; i < vms; i++) {
        char lab[160];
        uint64_t seed = (uint64_t)i * 0x2545f4914f6cdd1dULL + 2;
        double cpu = gs_uniform(&seed, 0.05, 3.0);      /* CPUs busy on average */
        double mem = gs_uniform(&seed, 0.5, 6.0);       /* GiB used */
        double net = gs_uniform(&seed, 0, 200000.0);    /* bytes/s */
        long long k = 0;

        snprintf(lab, sizeof lab, "host=\"hv%03ld\",vm=\"%08lx-0000-4000-8000-%012lx\",vm_name=\"vm-%05ld\"",
                 i % 300, 0x5eed0000L + i / 1000000, i, i);
        for (long long ts = from; ts < to; ts += step, k++) {
            double sec = (double)(k * step);
            double wig = 1.0 + 0.5 * (double)((k * 7919 + i) % 13 - 6) / 6.0;  /* busy and quiet buckets */

            if (gs_line(&o,
                        "poolwatch_vm_cpu_seconds_total{%s} %.1f %lld000\n"
                        "poolwatch_vm_balloon_available_bytes{%s} %lld %lld000\n"
                        "poolwatch_vm_balloon_unused_bytes{%s} %lld %lld000\n"
                        "poolwatch_vm_network_receive_bytes_total{%s,device=\"vnet0\"} %.0f %lld000\n"
                        "poolwatch_vm_network_transmit_bytes_total{%s,device=\"vnet0\"} %.0f %lld000\n"
                        "poolwatch_vm_state{%s} 1 %lld000\n",
                        lab, cpu * sec, ts, lab, (long long)(16 * GS_GIB), ts,
                        lab, (long long)((16 - mem * wig) * GS_GIB), ts,
                        lab, net * sec, ts, lab, net * sec / 4, ts, lab, ts) != 0)
                goto fail;
        }
        for (long long ts = from; ts < to; ts += 86400)
            if (gs_line(&o,
                        "poolwatch_vm_disk_capacity_bytes{%s,device=\"vda\"} %lld %lld000\n"
                        "poolwatch_vm_disk_allocation_bytes{%s,device=\"vda\"} %lld %lld000\n",
                        lab, (long long)(140 * GS_GIB), ts, lab, (long long)(60 * GS_GIB), ts) != 0)
                goto fail;
    }
    if (gs_flush(&o) != 0 || fflush(stdout) != 0)
        goto fail;
    return 0;
fail:
    /* A closed pipe (import failed) ends the run; run.sh reports the import's error. */
    fprintf(stderr, "gen_series: writing stdout failed\n");
    return 1;
}
