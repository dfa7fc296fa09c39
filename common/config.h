/*
 * config.h - options from the command line and from a YAML config file.
 *
 * Each program describes its options once, as a table of pw_option. The same
 * table parses `--name value` / `--name=value` arguments and the top-level
 * keys of a YAML mapping (`name: value`), so every option can be given either
 * way; the command line wins over the file.
 */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"

typedef enum pw_opt_type {
    PW_OPT_STRING,    /* char **: points into argv or a copy owned by pw_config_free */
    PW_OPT_DURATION,  /* int64_t * ms, "10s", "500ms" */
    PW_OPT_SIZE,      /* uint64_t * bytes, "64MiB", "1G", "4096" */
    PW_OPT_INT,       /* long * */
    PW_OPT_FLAG,      /* bool *: no value on the command line; true/false in YAML */
    /*
     * bool *: a config-file key whose value (any YAML: lists, mappings) the
     * program reads itself (e.g. the collector's `pools:`); the loader only
     * sets *target to true when the key is present. Not an option on the
     * command line, not listed by --help.
     */
    PW_OPT_SECTION,
} pw_opt_type;

typedef struct pw_option {
    const char *name;     /* long name without dashes: "interval" */
    pw_opt_type type;
    void       *target;
    const char *help;     /* one line for --help */
    const char *meta;     /* value placeholder for --help: "URL", "DIR" */
} pw_option;

/* Strings copied from a config file; freed by pw_config_free. */
typedef struct pw_config {
    char  **strings;
    size_t  nstrings;
} pw_config;

/*
 * Sets one option from its text value. PW_EINVAL (with a sentence in errbuf)
 * if the name is unknown or the value does not parse.
 */
pw_err pw_option_set(const pw_option *opts, pw_config *cfg, const char *name, const char *value,
                     char *errbuf, size_t errlen);

/*
 * Loads a YAML file whose top level is a mapping of option names to scalars.
 * Unknown keys, non-scalar values and values that do not parse are errors
 * (PW_EINVAL, message names file, line and key); a missing or unreadable file
 * is PW_EIO.
 */
pw_err pw_config_load_file(const pw_option *opts, pw_config *cfg, const char *path,
                           char *errbuf, size_t errlen);

/*
 * The FILE of the last `--config FILE` or `--config=FILE` in argv before a
 * `--`, or NULL. Borrowed from argv. For programs that read other sections
 * of the same file themselves (the collector's pools: and alerts:).
 */
const char *pw_config_arg(int argc, char **argv);

/*
 * The same, and takes every --config (with its FILE) out of argv: *argc is
 * updated and argv[*argc] set to NULL. For commands that read the file for
 * another purpose than their own options.
 */
const char *pw_config_arg_take(int *argc, char **argv);

/*
 * Parses argv: options from opts (`--name VALUE`, `--name=VALUE`, flags as
 * `--name`), `--config FILE` (loaded first, so the command line wins), and
 * positional arguments, which are moved to the front of argv; *npos receives
 * their count. `--help` and `--version` are left for the caller as flags it
 * declares itself. PW_EINVAL with a message on a bad argument.
 */
pw_err pw_config_parse_args(const pw_option *opts, pw_config *cfg, int argc, char **argv,
                            int *npos, char *errbuf, size_t errlen);

/* Prints the options table as --help text. */
void pw_config_usage(const pw_option *opts, void *file);

/* Parses "64MiB", "1G", "512k", "4096" into bytes. */
pw_err pw_size_parse(const char *s, uint64_t *out);

void pw_config_free(pw_config *cfg);

/* What every daemon's command line has in common. */
typedef struct pw_program {
    const char *name;        /* "poolwatch-agent": log and message prefix */
    const char *usage;       /* head of --help, before the options */
    const char *log_level;   /* --log-level; default "info" if NULL */
    bool        help;        /* --help */
    bool        version;     /* --version */
} pw_program;

/*
 * The start of a daemon's main(): parses argv with opts (which bind "help",
 * "version" and "log-level" to p's fields), answers --help and --version,
 * refuses positional arguments, and initialises the log. Returns -1 to go
 * on, else the exit status to return now: 0 after --help/--version, 1 after
 * an error, which it has printed to stderr.
 */
int pw_program_start(pw_program *p, const pw_option *opts, pw_config *cfg, int argc, char **argv);

#endif
