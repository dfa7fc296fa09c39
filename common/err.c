/* err.c - names of pw_err codes. */
#include "pw_err.h"

static const char *const err_names[PW_ERR_COUNT_] = {
    [PW_OK]        = "ok",
    [PW_ENOMEM]    = "out of memory",
    [PW_EINVAL]    = "invalid argument",
    [PW_EIO]       = "I/O error",
    [PW_ENOENT]    = "not found",
    [PW_EPROTO]    = "malformed input",
    [PW_EVERSION]  = "unsupported version",
    [PW_ETOOBIG]   = "over a hard limit",
    [PW_EFULL]     = "no space left",
    [PW_EDB]       = "database error",
    [PW_ENET]      = "transport error",
    [PW_ETIMEDOUT] = "timed out",
    [PW_EAGAIN]    = "temporarily unavailable",
    [PW_EEXIST]    = "already exists",
};

const char *
pw_strerror(pw_err e)
{
    if ((unsigned) e >= PW_ERR_COUNT_ || err_names[e] == 0)
        return "unknown error";
    return err_names[e];
}
