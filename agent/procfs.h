/*
 * procfs.h - reading the kernel's text files (/proc, /sys) for the samplers.
 *
 * Every path is root + "/" + rel, where root is env->proc_root or
 * env->sys_root, so tests point the samplers at fixture trees.
 *
 * Ownership: nothing here allocates. The caller owns every buffer; a line
 * reader borrows the caller's buffer and owns only its file descriptor, which
 * pw_procfs_lines_close releases. Samplers keep that buffer on the stack of
 * collect(): they run one after another, so they all reuse the same few KiB
 * of stack instead of each holding a heap buffer for the agent's lifetime.
 *
 * Input is never trusted: a line is handed out NUL-terminated and bounded by
 * the buffer, whatever the file holds (binary garbage, NUL bytes, no newline,
 * lines longer than the buffer).
 */
#ifndef PW_PROCFS_H
#define PW_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"

/* Line buffer size the samplers use: every line they parse fits with room to spare. */
#define PW_PROCFS_LINE_BUF 4096

/* Writes root "/" rel into out (cap bytes). PW_ETOOBIG if it does not fit. */
pw_err pw_procfs_path(char *out, size_t cap, const char *root, const char *rel);

/*
 * Reads all of root/rel (a small file such as /sys/class/net/eth0/speed) into
 * buf, NUL-terminated, its length in *len (may be NULL). PW_ENOENT if the file
 * is missing, PW_EIO if open or read fails (sysfs answers EINVAL for the speed
 * of a link that is down), PW_ETOOBIG if it holds more than cap - 1 bytes (buf
 * then holds the first cap - 1).
 */
pw_err pw_procfs_read(const char *root, const char *rel, char *buf, size_t cap, size_t *len);

/* Reads a file line by line through a caller's buffer. */
typedef struct pw_procfs_lines {
    int    fd;
    char  *buf;
    size_t cap;
    size_t head, tail;   /* unread bytes are buf[head, tail) */
    bool   eof;
    bool   skip;         /* discarding the rest of an over-long line */
    /*
     * The line just returned did not fit the buffer (cap - 1 bytes or more):
     * it holds only the first cap - 1 bytes, the rest of the line is skipped.
     */
    bool   truncated;
    /*
     * PW_OK, or why the file did not read cleanly: PW_EIO on a read error,
     * PW_EPROTO if it ended in the middle of a line (that partial line is
     * dropped: it is what a truncated file looks like).
     */
    pw_err err;
} pw_procfs_lines;

/*
 * Opens root/rel for reading through buf (cap >= 2 bytes, owned by the caller,
 * must outlive the reader). PW_ENOENT if missing, PW_EIO if unreadable.
 */
pw_err pw_procfs_lines_open(pw_procfs_lines *r, const char *root, const char *rel,
                            char *buf, size_t cap);
/*
 * Next line without its newline, NUL-terminated, pointing into the buffer
 * (valid until the next call); its length in *len (may be NULL). NULL at the
 * end of the file or on a read error (see r->err).
 */
char  *pw_procfs_lines_next(pw_procfs_lines *r, size_t *len);
/* Closes the file; safe to call twice. */
void   pw_procfs_lines_close(pw_procfs_lines *r);

/*
 * Splits line in place at runs of spaces, tabs and newlines into at most max fields
 * (NUL-terminating each). Returns how many fields the line has, which may be
 * more than max (only the first max are stored).
 */
size_t pw_procfs_split(char *line, char **fields, size_t max);

/*
 * True if a whole small file read with pw_procfs_read is complete: the kernel
 * ends it with a newline, so a file without one was cut short.
 */
bool pw_procfs_complete(const char *buf, size_t len);

/*
 * Whole-string number parsers: true only if all of s is the number (no sign
 * for u64, no overflow, finite double).
 */
bool pw_procfs_u64(const char *s, uint64_t *out);
bool pw_procfs_i64(const char *s, int64_t *out);
bool pw_procfs_double(const char *s, double *out);

/*
 * Records rc in *first unless an earlier error is already there: a collect()
 * goes on after an error (it adds what it could read) and reports the first.
 */
static inline void
pw_procfs_keep_err(pw_err *first, pw_err rc)
{
    if (*first == PW_OK)
        *first = rc;
}

#endif
