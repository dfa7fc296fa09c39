/*
 * pw_err.h - the one error enum every poolwatch call returns.
 *
 * Functions return pw_err (PW_OK == 0 on success). Where a caller needs more
 * than the code (which field of a frame was wrong, which line of a file), the
 * function also takes a caller-owned `char *errbuf, size_t errlen` and writes a
 * NUL-terminated sentence there; the code alone is always enough to decide
 * what to do (retry, drop, abort).
 */
#ifndef PW_ERR_H
#define PW_ERR_H

typedef enum pw_err {
    PW_OK = 0,
    PW_ENOMEM,     /* allocation failed */
    PW_EINVAL,     /* bad argument, option or config value */
    PW_EIO,        /* read/write/system call failed (errno kept in the message) */
    PW_ENOENT,     /* file, key or series not found */
    PW_EPROTO,     /* malformed input: frame, selector, file format */
    PW_EVERSION,   /* well-formed input of a version this build does not speak */
    PW_ETOOBIG,    /* input over a hard limit */
    PW_EFULL,      /* no room: disk full, map full and cannot grow, spool full */
    PW_EDB,        /* LMDB error other than the ones above */
    PW_ENET,       /* transport error (NNG) */
    PW_ETIMEDOUT,  /* a deadline passed */
    PW_EAGAIN,     /* temporary condition: try again later */
    PW_EEXIST,     /* already there (duplicate frame, existing key) */
    PW_ERR_COUNT_
} pw_err;

/* Static English name of an error ("malformed input"); never NULL. */
const char *pw_strerror(pw_err e);

#endif
