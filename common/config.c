/* config.c - one option table for argv and YAML files; see config.h. */
#include "config.h"

#include <errno.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "wire.h"

static const pw_option *
cfg_find(const pw_option *opts, const char *name, size_t len)
{
    for (; opts->name != NULL; opts++)
        if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
            return opts;
    return NULL;
}

pw_err
pw_size_parse(const char *s, uint64_t *out)
{
    static const struct { const char *suffix; uint64_t mult; } units[] = {
        { "", 1 }, { "B", 1 },
        { "k", 1000 }, { "K", 1000 }, { "KB", 1000 }, { "KiB", 1024 },
        { "M", 1000000 }, { "MB", 1000000 }, { "MiB", 1048576 },
        { "G", 1000000000 }, { "GB", 1000000000 }, { "GiB", 1073741824 },
        { "T", 1000000000000 }, { "TB", 1000000000000 }, { "TiB", 1099511627776 },
    };
    char  *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno != 0 || v < 0)
        return PW_EINVAL;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suffix) == 0) {
            double bytes = v * (double) units[i].mult;
            if (bytes > 1.8e19)
                return PW_EINVAL;
            *out = (uint64_t) bytes;
            return PW_OK;
        }
    return PW_EINVAL;
}

/* 1-based line of a node, 0 if unknown. */
static int
cfg_line(struct fy_node *n)
{
    struct fy_token      *t = fy_node_get_scalar_token(n);
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;

    return m ? m->line + 1 : 0;
}

static char *
cfg_keep(pw_config *cfg, const char *s, size_t len)
{
    char **n = realloc(cfg->strings, (cfg->nstrings + 1) * sizeof *n);
    char  *copy;

    if (n == NULL)
        return NULL;
    cfg->strings = n;
    if ((copy = strndup(s, len)) == NULL)
        return NULL;
    cfg->strings[cfg->nstrings++] = copy;
    return copy;
}

static pw_err
cfg_set(const pw_option *o, pw_config *cfg, const char *value, char *errbuf, size_t errlen)
{
    char *end;

    switch (o->type) {
    case PW_OPT_STRING:
        if (cfg != NULL) {
            if ((value = cfg_keep(cfg, value, strlen(value))) == NULL)
                return PW_ENOMEM;
        }
        *(const char **) o->target = value;
        return PW_OK;
    case PW_OPT_DURATION:
        if (pw_duration_parse(value, o->target) == PW_OK)
            return PW_OK;
        snprintf(errbuf, errlen, "--%s: \"%s\" is not a duration (like 500ms, 10s, 5m)",
                 o->name, value);
        return PW_EINVAL;
    case PW_OPT_SIZE:
        if (pw_size_parse(value, o->target) == PW_OK)
            return PW_OK;
        snprintf(errbuf, errlen, "--%s: \"%s\" is not a size (like 4096, 512KiB, 64MiB)",
                 o->name, value);
        return PW_EINVAL;
    case PW_OPT_INT:
        errno = 0;
        *(long *) o->target = strtol(value, &end, 10);
        if (errno == 0 && end != value && *end == '\0')
            return PW_OK;
        snprintf(errbuf, errlen, "--%s: \"%s\" is not an integer", o->name, value);
        return PW_EINVAL;
    case PW_OPT_FLAG:
        if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0) {
            *(bool *) o->target = true;
            return PW_OK;
        }
        if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 || strcmp(value, "0") == 0) {
            *(bool *) o->target = false;
            return PW_OK;
        }
        snprintf(errbuf, errlen, "--%s: \"%s\" is not true or false", o->name, value);
        return PW_EINVAL;
    case PW_OPT_SECTION:
        snprintf(errbuf, errlen, "\"%s\" can only be given in a config file", o->name);
        return PW_EINVAL;
    }
    return PW_EINVAL;
}

pw_err
pw_option_set(const pw_option *opts, pw_config *cfg, const char *name, const char *value,
              char *errbuf, size_t errlen)
{
    const pw_option *o = cfg_find(opts, name, strlen(name));

    if (o == NULL) {
        snprintf(errbuf, errlen, "unknown option \"%s\"", name);
        return PW_EINVAL;
    }
    return cfg_set(o, cfg, value, errbuf, errlen);
}

pw_err
pw_config_load_file(const pw_option *opts, pw_config *cfg, const char *path,
                    char *errbuf, size_t errlen)
{
    struct fy_parse_cfg  pcfg = { .flags = FYPCF_QUIET };
    struct fy_document  *doc;
    struct fy_node      *root;
    struct fy_node_pair *pair;
    void                *iter = NULL;
    pw_err               rc = PW_OK;
    FILE                *probe;

    if ((probe = fopen(path, "r")) == NULL) {
        snprintf(errbuf, errlen, "config %s: %s", path, strerror(errno));
        return PW_EIO;
    }
    fclose(probe);
    if ((doc = fy_document_build_from_file(&pcfg, path)) == NULL) {
        snprintf(errbuf, errlen, "config %s: not valid YAML", path);
        return PW_EINVAL;
    }
    root = fy_document_root(doc);
    if (root == NULL) {
        goto out;                               /* empty file: no options */
    }
    if (!fy_node_is_mapping(root)) {
        snprintf(errbuf, errlen, "config %s: top level must be a mapping of option: value", path);
        rc = PW_EINVAL;
        goto out;
    }
    while ((pair = fy_node_mapping_iterate(root, &iter)) != NULL) {
        struct fy_node  *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const pw_option *o;
        const char      *ks, *vs;
        size_t           klen, vlen;
        char            *value, msg[256];
        int              line = cfg_line(k);

        if (!fy_node_is_scalar(k) || (ks = fy_node_get_scalar(k, &klen)) == NULL) {
            snprintf(errbuf, errlen, "config %s:%d: keys must be plain names", path, line);
            rc = PW_EINVAL;
            goto out;
        }
        if ((o = cfg_find(opts, ks, klen)) == NULL || strncmp(ks, "config", klen) == 0) {
            snprintf(errbuf, errlen, "config %s:%d: unknown option \"%.*s\"", path, line,
                     (int) klen, ks);
            rc = PW_EINVAL;
            goto out;
        }
        if (o->type == PW_OPT_SECTION) {
            *(bool *) o->target = true;         /* the program reads the value itself */
            continue;
        }
        if (v == NULL || !fy_node_is_scalar(v) || (vs = fy_node_get_scalar(v, &vlen)) == NULL) {
            snprintf(errbuf, errlen, "config %s:%d: \"%s\" needs a single value", path, line,
                     o->name);
            rc = PW_EINVAL;
            goto out;
        }
        if ((value = cfg_keep(cfg, vs, vlen)) == NULL) {
            rc = PW_ENOMEM;
            goto out;
        }
        /* value is already owned by cfg: pass NULL so strings are not copied twice. */
        if ((rc = cfg_set(o, NULL, value, msg, sizeof msg)) != PW_OK) {
            snprintf(errbuf, errlen, "config %s:%d: %s", path, line, msg);
            goto out;
        }
    }
out:
    fy_document_destroy(doc);
    return rc;
}

/*
 * Finds the last --config FILE before "--"; with take, also removes every
 * --config (and its FILE) from argv, closing the gaps. Without take, argv
 * is left as it is.
 */
static const char *
config_arg(int *argc, char **argv, bool take)
{
    const char *path = NULL;
    int         out = 1;

    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (take && i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < *argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        else if (take)
            argv[out++] = argv[i];
    }
    if (take) {
        argv[out] = NULL;
        *argc = out;
    }
    return path;
}

const char *
pw_config_arg(int argc, char **argv)
{
    return config_arg(&argc, argv, false);
}

const char *
pw_config_arg_take(int *argc, char **argv)
{
    return config_arg(argc, argv, true);
}

pw_err
pw_config_parse_args(const pw_option *opts, pw_config *cfg, int argc, char **argv,
                     int *npos, char *errbuf, size_t errlen)
{
    int    pos = 0;
    pw_err rc;

    /* The file first, so that anything on the command line overrides it. */
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        if (path != NULL && (rc = pw_config_load_file(opts, cfg, path, errbuf, errlen)) != PW_OK)
            return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char      *arg = argv[i], *eq, *value;
        const pw_option *o;
        size_t           nlen;

        if (strcmp(arg, "--") == 0) {
            while (++i < argc)
                argv[1 + pos++] = argv[i];
            break;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            argv[1 + pos++] = argv[i];
            continue;
        }
        arg += 2;
        eq = strchr(arg, '=');
        nlen = eq ? (size_t) (eq - arg) : strlen(arg);
        if (strncmp(arg, "config", nlen) == 0 && nlen == 6) {
            if (eq == NULL)
                i++;
            continue;
        }
        if ((o = cfg_find(opts, arg, nlen)) == NULL || o->type == PW_OPT_SECTION) {
            snprintf(errbuf, errlen, "unknown option --%.*s (see --help)", (int) nlen, arg);
            return PW_EINVAL;
        }
        if (o->type == PW_OPT_FLAG && eq == NULL) {
            *(bool *) o->target = true;
            continue;
        }
        if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(errbuf, errlen, "--%s needs a value", o->name);
            return PW_EINVAL;
        }
        if ((rc = cfg_set(o, NULL, value, errbuf, errlen)) != PW_OK)
            return rc;
    }
    *npos = pos;
    return PW_OK;
}

void
pw_config_usage(const pw_option *opts, void *file)
{
    FILE *f = file;

    for (; opts->name != NULL; opts++) {
        char left[64];

        if (opts->type == PW_OPT_SECTION)
            continue;
        snprintf(left, sizeof left, "--%s%s%s", opts->name, opts->meta ? " " : "",
                 opts->meta ? opts->meta : "");
        fprintf(f, "  %-26s %s\n", left, opts->help);
    }
    fprintf(f, "  %-26s %s\n", "--config FILE", "read options from a YAML file (name: value)");
}

void
pw_config_free(pw_config *cfg)
{
    for (size_t i = 0; i < cfg->nstrings; i++)
        free(cfg->strings[i]);
    free(cfg->strings);
    cfg->strings = NULL;
    cfg->nstrings = 0;
}

int
pw_program_start(pw_program *p, const pw_option *opts, pw_config *cfg, int argc, char **argv)
{
    char err[512];
    int  npos, level;

    if (pw_config_parse_args(opts, cfg, argc, argv, &npos, err, sizeof err) != PW_OK) {
        fprintf(stderr, "%s: %s\n", p->name, err);
        return 1;
    }
    if (p->help) {
        fputs(p->usage, stdout);
        pw_config_usage(opts, stdout);
        return 0;
    }
    if (p->version) {
        printf("%s %s (wire format v%d)\n", p->name, PW_VERSION, PW_WIRE_VERSION);
        return 0;
    }
    if (npos > 0) {
        fprintf(stderr, "%s: unexpected argument \"%s\" (see --help)\n", p->name, argv[1]);
        return 1;
    }
    if (p->log_level == NULL)
        p->log_level = "info";
    if ((level = pw_log_level_parse(p->log_level)) < 0) {
        fprintf(stderr, "%s: --log-level %s: use error, warn, info or debug\n", p->name,
                p->log_level);
        return 1;
    }
    pw_log_init(p->name, (pw_log_level) level);
    return -1;
}
