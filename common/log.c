/* log.c - stderr logger; see log.h. */
#include "log.h"
#include "clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A process has one log: these two are set once by pw_log_init. */
static const char  *log_program = "poolwatch";
static pw_log_level log_level = PW_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
pw_log_init(const char *program, pw_log_level level)
{
    log_program = program;
    log_level = level;
}

int
pw_log_level_parse(const char *s)
{
    for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcmp(s, level_names[i]) == 0)
            return (int) i;
    return -1;
}

void
pw_log(pw_log_level level, const char *fmt, ...)
{
    char    line[1024];
    size_t  n;
    va_list ap;
    int     r;

    if (level > log_level)
        return;
    n = pw_time_format_iso(pw_now_ms(), line, sizeof line);
    r = snprintf(line + n, sizeof line - n, " %s %s: ", level_names[level], log_program);
    if (r > 0)
        n += (size_t) r;
    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (r > 0)
        n += (size_t) r;
    if (n >= sizeof line - 1)
        n = sizeof line - 2;            /* truncated: keep the newline */
    line[n++] = '\n';
    /* One write per record so lines of different threads never interleave. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}
