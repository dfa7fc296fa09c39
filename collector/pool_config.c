/*
 * pool_config.c - the `pools:` list of the collector's config file
 * (pool_config.h), read with libfyaml.
 */
#include "pool_config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "config.h"

#define PC_MAX_POOLS 4096
#define PC_MAX_HOSTS 4096

typedef struct pc_pool pc_pool;
struct pc_pool {
    pw_pool_def  def;
    const char **hosts;     /* point into the document */
};

typedef struct pc pc;
struct pc {
    const char *path;
    char       *msg;
    size_t      msglen;
};

static int
pc_line(struct fy_node *n)
{
    struct fy_token      *t = n ? fy_node_get_scalar_token(n) : NULL;
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;

    return m ? m->line + 1 : 0;
}

static pw_err
pc_fail(pc *c, struct fy_node *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static pw_err
pc_fail(pc *c, struct fy_node *at, const char *fmt, ...)
{
    char    why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (pc_line(at) > 0)
        snprintf(c->msg, c->msglen, "config %s:%d: pools: %s", c->path, pc_line(at), why);
    else
        snprintf(c->msg, c->msglen, "config %s: pools: %s", c->path, why);
    return PW_EINVAL;
}

/* A number > 0 (overcommit, cpu capacity), or a size with a unit (bytes). */
static bool
pc_number(struct fy_node *v, bool size, double *out)
{
    const char *s = fy_node_is_scalar(v) ? fy_node_get_scalar0(v) : NULL;
    char       *end;
    uint64_t    b;

    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    *out = strtod(s, &end);
    if (errno == 0 && *end == '\0' && isfinite(*out))
        return true;
    if (size && pw_size_parse(s, &b) == PW_OK) {
        *out = (double) b;
        return true;
    }
    return false;
}

static pw_err
pc_capacity(pc *c, struct fy_node *key, struct fy_node *map, pw_pool_def *d)
{
    struct fy_node_pair *pair;
    void                *it = NULL;

    if (!fy_node_is_mapping(map))
        return pc_fail(c, key, "capacity must be a mapping of cpu, memory, storage, network");
    while ((pair = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char     *ks = fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
        pw_pool_res     r = ks ? pw_pool_res_parse(ks) : PW_POOL_RES_COUNT_;

        if (r == PW_POOL_RES_COUNT_)
            return pc_fail(c, k, "capacity: unknown resource \"%s\" (cpu, memory, storage, network)",
                           ks ? ks : "?");
        if (v == NULL || !pc_number(v, r != PW_POOL_CPU, &d->capacity[r]) || d->capacity[r] < 0)
            return pc_fail(c, k, "capacity: %s must be a number >= 0%s", ks,
                           r != PW_POOL_CPU ? " or a size such as 512GiB" : "");
    }
    return PW_OK;
}

static pw_err
pc_entry(pc *c, struct fy_node *n, pc_pool *p)
{
    struct fy_node_pair *pair;
    void                *it = NULL;
    struct fy_node      *first = NULL;

    p->def.cpu_overcommit = p->def.memory_overcommit = 1;
    if (!fy_node_is_mapping(n))
        return pc_fail(c, NULL, "each entry must be a mapping (name:, hosts:, ...)");
    while ((pair = fy_node_mapping_iterate(n, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char     *ks = fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
        pw_err          rc;

        if (first == NULL)
            first = k;
        if (ks == NULL)
            return pc_fail(c, k, "keys must be plain names");
        if (strcmp(ks, "name") == 0) {
            if (v == NULL || !fy_node_is_scalar(v) || (p->def.name = fy_node_get_scalar0(v)) == NULL
                || p->def.name[0] == '\0')
                return pc_fail(c, k, "name must be a non-empty string");
        } else if (strcmp(ks, "hosts") == 0) {
            struct fy_node *h;
            void           *hit = NULL;
            int             nh;

            if (v == NULL || !fy_node_is_sequence(v) || (nh = fy_node_sequence_item_count(v)) < 0
                || nh > PC_MAX_HOSTS)
                return pc_fail(c, k, "hosts must be a list of host names (at most %d)", PC_MAX_HOSTS);
            if (nh > 0 && (p->hosts = calloc((size_t) nh, sizeof *p->hosts)) == NULL)
                return PW_ENOMEM;
            while ((h = fy_node_sequence_iterate(v, &hit)) != NULL) {
                const char *hs = fy_node_is_scalar(h) ? fy_node_get_scalar0(h) : NULL;

                if (hs == NULL || hs[0] == '\0')
                    return pc_fail(c, k, "hosts: item %zu is not a host name", p->def.nhosts + 1);
                p->hosts[p->def.nhosts++] = hs;
            }
            p->def.hosts = p->hosts;
        } else if (strcmp(ks, "cpu_overcommit") == 0 || strcmp(ks, "memory_overcommit") == 0) {
            double *o = ks[0] == 'c' ? &p->def.cpu_overcommit : &p->def.memory_overcommit;

            if (v == NULL || !pc_number(v, false, o) || !(*o > 0))
                return pc_fail(c, k, "%s must be a number > 0 (2 means twice the physical)", ks);
        } else if (strcmp(ks, "capacity") == 0) {
            if ((rc = pc_capacity(c, k, v, &p->def)) != PW_OK)
                return rc;
        } else {
            return pc_fail(c, k, "unknown key \"%s\" (name, hosts, cpu_overcommit, "
                           "memory_overcommit, capacity)", ks);
        }
    }
    if (p->def.name == NULL)
        return pc_fail(c, first, "an entry has no name");
    return PW_OK;
}

pw_err
pw_pool_config_apply(const char *path, pw_inventory *inv, int64_t now, size_t *npools,
                     char *msg, size_t msglen)
{
    struct fy_parse_cfg pcfg = { .flags = FYPCF_QUIET };
    struct fy_document *doc = NULL;
    struct fy_node     *root, *list, *n;
    pc                  c = { .path = path, .msg = msg, .msglen = msglen };
    pc_pool            *pools = NULL;
    size_t              np = 0;
    void               *it = NULL;
    int                 count;
    pw_err              rc = PW_OK;
    FILE               *probe;

    if (npools != NULL)
        *npools = 0;
    if ((probe = fopen(path, "r")) == NULL) {
        snprintf(msg, msglen, "config %s: %s", path, strerror(errno));
        return PW_EIO;
    }
    fclose(probe);
    if ((doc = fy_document_build_from_file(&pcfg, path)) == NULL) {
        snprintf(msg, msglen, "config %s: not valid YAML", path);
        return PW_EINVAL;
    }
    root = fy_document_root(doc);
    if (root == NULL || !fy_node_is_mapping(root)
        || (list = fy_node_mapping_lookup_by_string(root, "pools", -1)) == NULL)
        goto out;                                   /* no pools: nothing to set */
    if (!fy_node_is_sequence(list) || (count = fy_node_sequence_item_count(list)) < 0
        || count > PC_MAX_POOLS) {
        rc = pc_fail(&c, NULL, "must be a list of pools (at most %d)", PC_MAX_POOLS);
        goto out;
    }
    if (count > 0 && (pools = calloc((size_t) count, sizeof *pools)) == NULL) {
        rc = PW_ENOMEM;
        goto out;
    }
    while ((n = fy_node_sequence_iterate(list, &it)) != NULL) {
        if ((rc = pc_entry(&c, n, &pools[np++])) != PW_OK)
            goto out;
        for (size_t i = 0; i + 1 < np; i++)
            if (strcmp(pools[i].def.name, pools[np - 1].def.name) == 0) {
                rc = pc_fail(&c, NULL, "pool \"%s\" is defined twice", pools[i].def.name);
                goto out;
            }
    }
    /* Everything checked: now write. */
    for (size_t i = 0; i < np; i++)
        if ((rc = pw_inventory_pool_set(inv, now, &pools[i].def)) != PW_OK) {
            snprintf(msg, msglen, "config %s: pools: pool \"%s\": %s", path, pools[i].def.name,
                     rc == PW_EINVAL ? "refused (a host listed twice, or a name or host too long "
                                       "or not UTF-8)" : pw_strerror(rc));
            goto out;
        }
    if (npools != NULL)
        *npools = np;
out:
    if (rc == PW_ENOMEM)
        snprintf(msg, msglen, "config %s: out of memory", path);
    for (size_t i = 0; i < np; i++)
        free(pools[i].hosts);
    free(pools);
    fy_document_destroy(doc);
    return rc;
}
