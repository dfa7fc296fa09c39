/*
 * sampler_netdev.c - interface counters from /proc/net/dev and link facts
 * (speed, operational state, MTU) from /sys/class/net/<device>/.
 *
 * Counter names are node_exporter's netdev collector's, the /sys ones its
 * netclass collector's. Every interface is sampled, lo and bridges included,
 * as node_exporter does by default: pool network usage sums physical NICs,
 * and that choice of devices belongs in queries, not in the agent.
 *
 * The /sys files are read every round rather than cached: speed changes when
 * a link renegotiates or a bond loses a member, and three small reads per
 * interface cost nothing next to the round interval.
 */
#include "sampler.h"

#include <stdio.h>
#include <string.h>

#include "procfs.h"

/* The 16 columns after "name:", receive then transmit. */
static const char *const net_columns[] = {
    "node_network_receive_bytes_total",
    "node_network_receive_packets_total",
    "node_network_receive_errs_total",
    "node_network_receive_drop_total",
    "node_network_receive_fifo_total",
    "node_network_receive_frame_total",
    "node_network_receive_compressed_total",
    "node_network_receive_multicast_total",
    "node_network_transmit_bytes_total",
    "node_network_transmit_packets_total",
    "node_network_transmit_errs_total",
    "node_network_transmit_drop_total",
    "node_network_transmit_fifo_total",
    "node_network_transmit_colls_total",
    "node_network_transmit_carrier_total",
    "node_network_transmit_compressed_total",
};
#define NET_NCOLUMNS (sizeof net_columns / sizeof net_columns[0])

/* Reads sys_root/class/net/<dev>/<attr> into buf; false if missing or unreadable. */
static bool
net_sys_attr(const pw_sampler_env *env, const char *dev, const char *attr, char *buf, size_t cap)
{
    char   rel[128];
    int    n = snprintf(rel, sizeof rel, "class/net/%s/%s", dev, attr);
    size_t len;

    if (n < 0 || (size_t) n >= sizeof rel)
        return false;
    if (pw_procfs_read(env->sys_root, rel, buf, cap, &len) != PW_OK
        || !pw_procfs_complete(buf, len))
        return false;
    buf[len - 1] = '\0';                /* the newline */
    return true;
}

/*
 * The /sys facts of one interface. A missing file is no error: virtual
 * devices have no speed, containers may not mount /sys at all.
 */
static pw_err
net_sys(const pw_sampler_env *env, pw_batch *b, const char *dev)
{
    char     buf[32];
    int64_t  mbps;
    uint64_t mtu;
    pw_err   first = PW_OK;

    /* -1 (unknown, e.g. a NIC with no link) and junk are skipped, not sent as 0. */
    if (net_sys_attr(env, dev, "speed", buf, sizeof buf) && pw_procfs_i64(buf, &mbps) && mbps >= 0)
        pw_procfs_keep_err(&first, pw_batch_addl(b, "node_network_speed_bytes",
                                                 (double) mbps * 125000.0, "device", dev, NULL));
    if (net_sys_attr(env, dev, "operstate", buf, sizeof buf))
        pw_procfs_keep_err(&first, pw_batch_addl(b, "node_network_up",
                                                 strcmp(buf, "up") == 0 ? 1.0 : 0.0,
                                                 "device", dev, NULL));
    if (net_sys_attr(env, dev, "mtu", buf, sizeof buf) && pw_procfs_u64(buf, &mtu))
        pw_procfs_keep_err(&first, pw_batch_addl(b, "node_network_mtu_bytes", (double) mtu,
                                                 "device", dev, NULL));
    return first;
}

/* One "  eth0: 123 456 ..." line. */
static pw_err
net_line(const pw_sampler_env *env, pw_batch *b, char *line)
{
    char    *colon = strchr(line, ':'), *dev = line, *f[NET_NCOLUMNS];
    uint64_t v[NET_NCOLUMNS];
    pw_err   first = PW_OK;

    if (colon == NULL)
        return PW_EPROTO;
    *colon = '\0';
    while (*dev == ' ' || *dev == '\t')
        dev++;
    /* Interface names have no spaces, '/' or ':'; anything else is not this file. */
    if (*dev == '\0' || strpbrk(dev, " \t/") != NULL || strcmp(dev, ".") == 0
        || strcmp(dev, "..") == 0)
        return PW_EPROTO;
    /* Newer kernels may add columns: sample the known ones. */
    if (pw_procfs_split(colon + 1, f, NET_NCOLUMNS) < NET_NCOLUMNS)
        return PW_EPROTO;
    for (size_t i = 0; i < NET_NCOLUMNS; i++)
        if (!pw_procfs_u64(f[i], &v[i]))
            return PW_EPROTO;           /* all or nothing: half a line is a cut file */
    for (size_t i = 0; i < NET_NCOLUMNS; i++) {
        pw_err rc = pw_batch_addl(b, net_columns[i], (double) v[i], "device", dev, NULL);

        /* A device name that is no valid label value is the file's fault. */
        if (rc == PW_EINVAL)
            return PW_EPROTO;
        pw_procfs_keep_err(&first, rc);
    }
    pw_procfs_keep_err(&first, net_sys(env, b, dev));
    return first;
}

static pw_err
net_collect(void *state, const pw_sampler_env *env, pw_batch *b)
{
    char            buf[PW_PROCFS_LINE_BUF];
    char           *line;
    pw_procfs_lines r;
    pw_err          first = PW_OK, rc;
    unsigned        lineno = 0;

    if ((rc = pw_procfs_lines_open(&r, env->proc_root, "net/dev", buf, sizeof buf)) != PW_OK)
        return rc;
    while ((line = pw_procfs_lines_next(&r, NULL)) != NULL) {
        /* Two header lines: "Inter-|   Receive ..." and " face |bytes ...". */
        if (++lineno <= 2) {
            if (strchr(line, '|') == NULL)
                pw_procfs_keep_err(&first, PW_EPROTO);
            continue;
        }
        pw_procfs_keep_err(&first, r.truncated ? PW_EPROTO : net_line(env, b, line));
    }
    pw_procfs_keep_err(&first, r.err);
    pw_procfs_lines_close(&r);
    if (lineno < 2)
        pw_procfs_keep_err(&first, PW_EPROTO);
    return first;
}

const pw_sampler_ops pw_sampler_netdev = {
    .name = "netdev",
    .init = NULL,
    .collect = net_collect,
    .fini = NULL,
};
