/* procfs.c - bounded readers for /proc and /sys text files; see procfs.h. */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pw_err
pw_procfs_path(char *out, size_t cap, const char *root, const char *rel)
{
    int n = snprintf(out, cap, "%s/%s", root, rel);

    return n < 0 || (size_t) n >= cap ? PW_ETOOBIG : PW_OK;
}

static pw_err
procfs_open(const char *root, const char *rel, int *fd)
{
    char   path[PATH_MAX];
    pw_err rc = pw_procfs_path(path, sizeof path, root, rel);

    if (rc != PW_OK)
        return rc;
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd >= 0)
        return PW_OK;
    /* ENOTDIR: a fixture or container tree with a file where a directory should be. */
    return errno == ENOENT || errno == ENOTDIR ? PW_ENOENT : PW_EIO;
}

/* read(2) that retries on EINTR; -1 on error. */
static ssize_t
procfs_read_some(int fd, char *buf, size_t n)
{
    ssize_t r;

    do
        r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

pw_err
pw_procfs_read(const char *root, const char *rel, char *buf, size_t cap, size_t *len)
{
    size_t  n = 0;
    ssize_t r = 0;
    char    extra;
    int     fd;
    pw_err  rc;

    if (cap == 0)
        return PW_EINVAL;
    buf[0] = '\0';
    if (len)
        *len = 0;
    if ((rc = procfs_open(root, rel, &fd)) != PW_OK)
        return rc;
    while (n < cap - 1 && (r = procfs_read_some(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t) r;
    if (n < cap - 1)
        rc = r < 0 ? PW_EIO : PW_OK;
    else                                /* full: find out whether there was more */
        rc = (r = procfs_read_some(fd, &extra, 1)) < 0 ? PW_EIO : r > 0 ? PW_ETOOBIG : PW_OK;
    close(fd);
    buf[n] = '\0';
    if (len)
        *len = n;
    return rc;
}

pw_err
pw_procfs_lines_open(pw_procfs_lines *r, const char *root, const char *rel, char *buf, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->buf = buf;
    r->cap = cap;
    if (cap < 2)
        return PW_EINVAL;
    return procfs_open(root, rel, &r->fd);
}

/* Reads more bytes after buf[tail]; false at EOF or on error (sets eof/err). */
static bool
procfs_fill(pw_procfs_lines *r)
{
    ssize_t n;

    if (r->head > 0) {                  /* compact: keep the unread part at the start */
        memmove(r->buf, r->buf + r->head, r->tail - r->head);
        r->tail -= r->head;
        r->head = 0;
    }
    /* One byte stays free for the NUL after a line that fills the buffer. */
    n = procfs_read_some(r->fd, r->buf + r->tail, r->cap - 1 - r->tail);
    if (n <= 0) {
        r->eof = true;
        if (n < 0)
            r->err = PW_EIO;
        return false;
    }
    r->tail += (size_t) n;
    return true;
}

char *
pw_procfs_lines_next(pw_procfs_lines *r, size_t *len)
{
    char *line, *nl;

    r->truncated = false;
    if (r->fd < 0)
        return NULL;
    for (;;) {
        nl = memchr(r->buf + r->head, '\n', r->tail - r->head);
        if (r->skip) {                  /* drop the tail of an over-long line */
            if (nl) {
                r->head = (size_t) (nl - r->buf) + 1;
                r->skip = false;
                continue;
            }
            r->head = r->tail = 0;
            if (r->eof || !procfs_fill(r)) {
                if (r->err == PW_OK)    /* that long line was the last, cut short */
                    r->err = PW_EPROTO;
                return NULL;
            }
            continue;
        }
        if (nl) {
            line = r->buf + r->head;
            *nl = '\0';
            r->head = (size_t) (nl - r->buf) + 1;
            if (len)
                *len = (size_t) (nl - line);
            return line;
        }
        if (r->head == 0 && r->tail == r->cap - 1) {
            /* No newline in a full buffer: hand out the start of the line. */
            r->buf[r->tail] = '\0';
            if (len)
                *len = r->tail;
            r->head = r->tail = 0;
            r->skip = true;
            r->truncated = true;
            return r->buf;
        }
        if (r->eof || !procfs_fill(r)) {
            /* Kernel files end every line with '\n'; a partial last line is a cut file. */
            if (r->tail > r->head && r->err == PW_OK)
                r->err = PW_EPROTO;
            r->head = r->tail = 0;
            return NULL;
        }
    }
}

void
pw_procfs_lines_close(pw_procfs_lines *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

size_t
pw_procfs_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char  *p = line;

    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (*p == '\0')
            return n;
        if (n < max)
            fields[n] = p;
        n++;
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        if (*p == '\0')
            return n;
        *p++ = '\0';
    }
}

bool
pw_procfs_complete(const char *buf, size_t len)
{
    return len > 0 && buf[len - 1] == '\n';
}

bool
pw_procfs_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (*s < '0' || *s > '9')
        return false;
    for (; *s; s++) {
        unsigned d = (unsigned) (*s - '0');

        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool
pw_procfs_i64(const char *s, int64_t *out)
{
    bool     neg = *s == '-';
    uint64_t u;

    if (!pw_procfs_u64(s + neg, &u))
        return false;
    if (u > (uint64_t) INT64_MAX + neg)
        return false;
    /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
    *out = neg ? (int64_t) (0 - u) : (int64_t) u;
    return true;
}

bool
pw_procfs_double(const char *s, double *out)
{
    char  *end;
    double v;

    /* strtod accepts "inf", "nan" and hex floats; the kernel writes plain decimals only. */
    if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
        return false;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}
