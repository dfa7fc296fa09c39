/*
 * log.h - one-line log records to stderr.
 *
 * Format: "2026-11-26T06:56:51.123Z level program: message". The level and
 * program name are process-wide (a process has one log), set once at start.
 * Thread-safe: each record is written with a single write(2).
 */
#ifndef PW_LOG_H
#define PW_LOG_H

typedef enum pw_log_level {
    PW_LOG_ERROR = 0,
    PW_LOG_WARN,
    PW_LOG_INFO,
    PW_LOG_DEBUG,
} pw_log_level;

/* `program` must outlive the process (a string literal). */
void pw_log_init(const char *program, pw_log_level level);
/* Parses "error|warn|info|debug"; returns -1 if unknown. */
int  pw_log_level_parse(const char *s);
void pw_log(pw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define pw_error(...) pw_log(PW_LOG_ERROR, __VA_ARGS__)
#define pw_warn(...)  pw_log(PW_LOG_WARN, __VA_ARGS__)
#define pw_info(...)  pw_log(PW_LOG_INFO, __VA_ARGS__)
#define pw_debug(...) pw_log(PW_LOG_DEBUG, __VA_ARGS__)

#endif
