/*
 * sampler_diskstats.c - block device I/O counters from /proc/diskstats.
 *
 * Names, units and the device filter are node_exporter's diskstats
 * collector's: sectors are always 512 bytes in this file (whatever the
 * device's own sector size) and times are milliseconds. Partitions, RAM disks
 * and loop devices are left out, as node_exporter's default
 * --collector.diskstats.device-exclude does, because partition counters only
 * repeat their disk's and loop/ram devices are noise on a hypervisor.
 */
#include "sampler.h"

#include <stdio.h>
#include <string.h>

#include "procfs.h"

/* Units of the columns, turned into node_exporter's: count, bytes, seconds. */
enum disk_unit { DISK_COUNT, DISK_SECTORS, DISK_MS };

/* What column i (after major, minor, name) of a diskstats line becomes. */
typedef struct disk_column {
    const char    *metric;
    enum disk_unit unit;
} disk_column;

static const disk_column disk_columns[] = {
    { "node_disk_reads_completed_total",             DISK_COUNT },
    { "node_disk_reads_merged_total",                DISK_COUNT },
    { "node_disk_read_bytes_total",                  DISK_SECTORS },
    { "node_disk_read_time_seconds_total",           DISK_MS },
    { "node_disk_writes_completed_total",            DISK_COUNT },
    { "node_disk_writes_merged_total",               DISK_COUNT },
    { "node_disk_written_bytes_total",               DISK_SECTORS },
    { "node_disk_write_time_seconds_total",          DISK_MS },
    { "node_disk_io_now",                            DISK_COUNT },
    { "node_disk_io_time_seconds_total",             DISK_MS },
    { "node_disk_io_time_weighted_seconds_total",    DISK_MS },
    /* Linux 4.18+ */
    { "node_disk_discards_completed_total",          DISK_COUNT },
    { "node_disk_discards_merged_total",             DISK_COUNT },
    { "node_disk_discarded_sectors_total",           DISK_COUNT },  /* sectors, as node_exporter */
    { "node_disk_discard_time_seconds_total",        DISK_MS },
    /* Linux 5.5+ */
    { "node_disk_flush_requests_total",              DISK_COUNT },
    { "node_disk_flush_requests_time_seconds_total", DISK_MS },
};
#define DISK_NCOLUMNS (sizeof disk_columns / sizeof disk_columns[0])
/* Columns that come and go together: the classic 11, then +4 discard, then +2 flush. */
#define DISK_BASE_COLUMNS 11

/* Skips one or more decimal digits; NULL if there are none. */
static const char *
disk_digits(const char *p)
{
    const char *s = p;

    while (*p >= '0' && *p <= '9')
        p++;
    return p > s ? p : NULL;
}

/*
 * node_exporter's default exclude pattern, ^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$,
 * by hand: no two alternatives start alike, so one look at the prefix decides.
 */
static bool
disk_excluded(const char *name)
{
    const char *p = name;

    if (strncmp(p, "ram", 3) == 0)
        p += 3;
    else if (strncmp(p, "loop", 4) == 0)
        p += 4;
    else if (strncmp(p, "fd", 2) == 0)
        p += 2;
    else if (strncmp(p, "xvd", 3) == 0 && p[3] >= 'a' && p[3] <= 'z')
        p += 4;
    else if ((p[0] == 'h' || p[0] == 's' || p[0] == 'v') && p[1] == 'd'
             && p[2] >= 'a' && p[2] <= 'z')
        p += 3;
    else if (strncmp(p, "nvme", 4) == 0) {
        if ((p = disk_digits(p + 4)) == NULL || *p != 'n' || (p = disk_digits(p + 1)) == NULL
            || *p != 'p')
            return false;
        p++;
    } else {
        return false;
    }
    p = disk_digits(p);
    return p != NULL && *p == '\0';
}

/* One line: "major minor name c1 c2 ... c11 [c12..c15 [c16 c17]]". */
static pw_err
disk_line(pw_batch *b, char *line)
{
    char    *f[3 + DISK_NCOLUMNS];
    uint64_t v[DISK_NCOLUMNS], id;
    size_t   nf = pw_procfs_split(line, f, 3 + DISK_NCOLUMNS), nv;
    pw_err   first = PW_OK;

    if (nf == 0)
        return PW_OK;
    /* More columns than this build knows: a newer kernel; sample the known ones. */
    if (nf > 3 + DISK_NCOLUMNS)
        nf = 3 + DISK_NCOLUMNS;
    nv = nf < 3 ? 0 : nf - 3;
    if (nv < DISK_BASE_COLUMNS || !pw_procfs_u64(f[0], &id) || !pw_procfs_u64(f[1], &id))
        return PW_EPROTO;
    for (size_t i = 0; i < nv; i++)
        if (!pw_procfs_u64(f[3 + i], &v[i]))
            return PW_EPROTO;           /* all or nothing: half a line is a cut file */
    if (disk_excluded(f[2]))
        return PW_OK;
    for (size_t i = 0; i < nv; i++) {
        double x = (double) v[i];
        pw_err rc;

        if (disk_columns[i].unit == DISK_SECTORS)
            x *= 512;
        else if (disk_columns[i].unit == DISK_MS)
            x /= 1000;                  /* not * 0.001: 1234 ms must be exactly 1.234 s */
        rc = pw_batch_addl(b, disk_columns[i].metric, x, "device", f[2], NULL);
        /* A device name that is no valid label value is the file's fault. */
        pw_procfs_keep_err(&first, rc == PW_EINVAL ? PW_EPROTO : rc);
    }
    return first;
}

static pw_err
disk_collect(void *state, const pw_sampler_env *env, pw_batch *b)
{
    char            buf[PW_PROCFS_LINE_BUF];
    char           *line;
    pw_procfs_lines r;
    pw_err          first = PW_OK, rc;

    if ((rc = pw_procfs_lines_open(&r, env->proc_root, "diskstats", buf, sizeof buf)) != PW_OK)
        return rc;
    while ((line = pw_procfs_lines_next(&r, NULL)) != NULL)
        pw_procfs_keep_err(&first, r.truncated ? PW_EPROTO : disk_line(b, line));
    pw_procfs_keep_err(&first, r.err);
    pw_procfs_lines_close(&r);
    return first;
}

const pw_sampler_ops pw_sampler_diskstats = {
    .name = "diskstats",
    .init = NULL,
    .collect = disk_collect,
    .fini = NULL,
};
