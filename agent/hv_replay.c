/*
 * hv_replay.c - the recorded hypervisor source: `replay:///DIR`.
 *
 * DIR holds recordings, one file per round, named *.rec and replayed in name
 * order (r001.rec, r002.rec, ...); after the last, the last is replayed again.
 * A recording is what a host answered in one round, as text, one fact per line:
 *
 *   # comment
 *   node sockets 2                       node: sockets cores threads mhz memory_bytes
 *   pool NAME CAPACITY ALLOCATION AVAILABLE      bytes
 *   domain UUID NAME                     the lines after it are its parameters
 *   FIELD TYPE VALUE                     virConnectGetAllDomainStats' names and types:
 *                                        int uint llong ullong double boolean string
 *   fail node|pools|domains MESSAGE      that call fails as a lost connection
 *
 * A string VALUE (and a domain NAME) is the rest of the line. A round starts
 * at node(), which reads the next file; pools() and domains() read the same
 * file. Tests and the integration tests use it to run the whole usage path
 * with the figures of a real KVM host (tests/fixtures/hypervisor/README.md).
 */
#include "hypervisor.h"
#include "sort.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_SCHEME    "replay://"
#define REPLAY_MAX_FILES 10000u
#define REPLAY_MAX_BYTES (64u << 20)

struct pw_hv_source {
    char  **files;        /* sorted paths, owned */
    size_t  nfiles, next; /* next: index of the file node() reads next */
    char   *text;         /* the current recording, NUL-terminated, owned */
    char   *current;      /* its path (points into files) */
};

static bool
replay_accepts(const char *uri)
{
    return strncmp(uri, REPLAY_SCHEME, strlen(REPLAY_SCHEME)) == 0;
}

static int
replay_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
replay_close(pw_hv_source *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    free(s->text);
    free(s);
}

static pw_err
replay_open(const char *uri, pw_hv_source **out, char *err, size_t errlen)
{
    const char    *dir = uri + strlen(REPLAY_SCHEME);
    pw_hv_source  *s;
    DIR           *d = NULL;
    struct dirent *e;
    pw_err         rc = PW_ENOMEM;

    *out = NULL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return PW_ENOMEM;
    if (*dir != '/') {
        snprintf(err, errlen, "%s: want replay:///ABSOLUTE/DIR", uri);
        rc = PW_EINVAL;
        goto out;
    }
    if ((d = opendir(dir)) == NULL) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        rc = PW_ENOENT;
        goto out;
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char **f;

        if (n < 5 || strcmp(e->d_name + n - 4, ".rec") != 0)
            continue;
        if (s->nfiles >= REPLAY_MAX_FILES) {
            snprintf(err, errlen, "%s: more than %u recordings", dir, REPLAY_MAX_FILES);
            rc = PW_ETOOBIG;
            goto out;
        }
        if ((f = realloc(s->files, (s->nfiles + 1) * sizeof *f)) == NULL)
            goto out;
        s->files = f;
        if ((f[s->nfiles] = malloc(strlen(dir) + n + 2)) == NULL)
            goto out;
        sprintf(f[s->nfiles++], "%s/%s", dir, e->d_name);
    }
    if (s->nfiles == 0) {
        snprintf(err, errlen, "%s: no *.rec recordings", dir);
        rc = PW_ENOENT;
        goto out;
    }
    pw_qsort(s->files, s->nfiles, sizeof *s->files, replay_cmp);
    *out = s;
    s = NULL;
    rc = PW_OK;
out:
    if (d != NULL)
        closedir(d);
    replay_close(s);
    return rc;
}

/*
 * Reads path whole into a new NUL-terminated buffer (*text, caller frees).
 * Read to EOF rather than by its size: a FIFO stands in for a hypervisor
 * that takes its time (sampler_hypervisor_test.c).
 */
static pw_err
replay_read(const char *path, char **text, char *err, size_t errlen)
{
    FILE  *f = fopen(path, "r");
    size_t len = 0, cap = 0, n;
    char  *buf = NULL, *p;
    pw_err rc = PW_OK;

    *text = NULL;
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return PW_ENOENT;
    }
    do {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 65536;
            if (cap > REPLAY_MAX_BYTES + 1) {
                snprintf(err, errlen, "%s: larger than %u bytes", path, REPLAY_MAX_BYTES);
                rc = PW_ETOOBIG;
                goto out;
            }
            if ((p = realloc(buf, cap)) == NULL) {
                rc = PW_ENOMEM;
                goto out;
            }
            buf = p;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = PW_EIO;
        goto out;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len) != NULL) {
        snprintf(err, errlen, "%s: has NUL bytes; not a recording", path);
        rc = PW_EPROTO;
        goto out;
    }
    *text = buf;
    buf = NULL;
out:
    fclose(f);
    free(buf);
    return rc;
}

/*
 * Line iteration over the current recording: calls fn for every line that is
 * not blank or a comment, with words split off: *word is the first word,
 * *rest what follows it (spaces skipped). Stops at the first error.
 */
typedef pw_err (*replay_line_fn)(pw_hv_source *s, void *arg, unsigned lineno, char *word,
                                 char *rest, char *err, size_t errlen);

static pw_err
replay_lines(pw_hv_source *s, replay_line_fn fn, void *arg, char *err, size_t errlen)
{
    char    *p = s->text, *line, *rest;
    unsigned lineno = 0;
    pw_err   rc;

    while (p != NULL && *p != '\0') {
        char  *nl = strchr(p, '\n');
        size_t len = nl ? (size_t) (nl - p) : strlen(p);
        char   buf[4096];

        lineno++;
        line = p;
        p = nl ? nl + 1 : NULL;
        if (len >= sizeof buf) {
            snprintf(err, errlen, "%s:%u: line longer than %zu bytes", s->current, lineno,
                     sizeof buf - 1);
            return PW_EPROTO;
        }
        memcpy(buf, line, len);
        buf[len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
            buf[len - 1] = '\0';
        line = buf + strspn(buf, " \t");
        if (*line == '\0' || *line == '#')
            continue;
        rest = line + strcspn(line, " \t");
        if (*rest != '\0')
            *rest++ = '\0';
        rest += strspn(rest, " \t");
        if ((rc = fn(s, arg, lineno, line, rest, err, errlen)) != PW_OK)
            return rc;
    }
    return PW_OK;
}

static bool
replay_u64(const char *s, uint64_t *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && (*end == '\0' || *end == ' ' || *end == '\t');
}

/* Splits the next word off *rest; NULL if none. */
static char *
replay_word(char **rest)
{
    char *w = *rest, *e;

    if (*w == '\0')
        return NULL;
    e = w + strcspn(w, " \t");
    if (*e != '\0')
        *e++ = '\0';
    *rest = e + strspn(e, " \t");
    return w;
}

/* "fail OP MESSAGE" for the op being asked: PW_ENET with MESSAGE. */
static pw_err
replay_fail(pw_hv_source *s, unsigned lineno, const char *op, char *word, char *rest, char *err,
            size_t errlen)
{
    char *what;

    if (strcmp(word, "fail") != 0)
        return PW_OK;
    if ((what = replay_word(&rest)) == NULL) {
        snprintf(err, errlen, "%s:%u: fail needs node, pools or domains", s->current, lineno);
        return PW_EPROTO;
    }
    if (strcmp(what, op) != 0)
        return PW_OK;
    snprintf(err, errlen, "%s", *rest ? rest : "recorded failure");
    return PW_ENET;
}

static pw_err
replay_node_line(pw_hv_source *s, void *arg, unsigned lineno, char *word, char *rest, char *err,
                 size_t errlen)
{
    pw_hv_node *n = arg;
    char       *key, *val;
    uint64_t    v;
    pw_err      rc;

    if ((rc = replay_fail(s, lineno, "node", word, rest, err, errlen)) != PW_OK)
        return rc;
    if (strcmp(word, "node") != 0)
        return PW_OK;
    key = replay_word(&rest);
    val = replay_word(&rest);
    if (key == NULL || val == NULL || !replay_u64(val, &v)) {
        snprintf(err, errlen, "%s:%u: want `node KEY NUMBER`", s->current, lineno);
        return PW_EPROTO;
    }
    if (strcmp(key, "memory_bytes") == 0)
        n->memory_bytes = v;
    else if (v > UINT32_MAX)
        goto bad;
    else if (strcmp(key, "sockets") == 0)
        n->sockets = (uint32_t) v;
    else if (strcmp(key, "cores") == 0)
        n->cores = (uint32_t) v;
    else if (strcmp(key, "threads") == 0)
        n->threads = (uint32_t) v;
    else if (strcmp(key, "mhz") == 0)
        n->mhz = (uint32_t) v;
    else
        goto bad;
    return PW_OK;
bad:
    snprintf(err, errlen, "%s:%u: node %s: unknown key or value out of range (sockets, cores, "
             "threads, mhz, memory_bytes)", s->current, lineno, key);
    return PW_EPROTO;
}

static pw_err
replay_node(pw_hv_source *s, pw_hv_node *out, char *err, size_t errlen)
{
    char  *text;
    pw_err rc;

    memset(out, 0, sizeof *out);
    if ((rc = replay_read(s->files[s->next], &text, err, errlen)) != PW_OK)
        return rc;
    free(s->text);
    s->text = text;
    s->current = s->files[s->next];
    if (s->next + 1 < s->nfiles)
        s->next++;
    return replay_lines(s, replay_node_line, out, err, errlen);
}

static pw_err
replay_pool_line(pw_hv_source *s, void *arg, unsigned lineno, char *word, char *rest, char *err,
                 size_t errlen)
{
    pw_hv_round *r = arg;
    char        *name, *w[3];
    uint64_t     v[3];
    pw_err       rc;

    if ((rc = replay_fail(s, lineno, "pools", word, rest, err, errlen)) != PW_OK)
        return rc;
    if (strcmp(word, "pool") != 0)
        return PW_OK;
    name = replay_word(&rest);
    for (int i = 0; i < 3; i++)
        if ((w[i] = replay_word(&rest)) == NULL || !replay_u64(w[i], &v[i]))
            name = NULL;
    if (name == NULL || *rest != '\0') {
        snprintf(err, errlen, "%s:%u: want `pool NAME CAPACITY ALLOCATION AVAILABLE` (bytes)",
                 s->current, lineno);
        return PW_EPROTO;
    }
    return pw_hv_round_add_pool(r, name, v[0], v[1], v[2]);
}

static pw_err
replay_pools(pw_hv_source *s, pw_hv_round *r, char *err, size_t errlen)
{
    if (s->text == NULL) {
        snprintf(err, errlen, "pools() before node()");
        return PW_EINVAL;
    }
    return replay_lines(s, replay_pool_line, r, err, errlen);
}

static const struct {
    const char *name;
    pw_hv_type  type;
} replay_types[] = {
    { "int", PW_HV_INT }, { "uint", PW_HV_UINT }, { "llong", PW_HV_LLONG },
    { "ullong", PW_HV_ULLONG }, { "double", PW_HV_DOUBLE }, { "boolean", PW_HV_BOOLEAN },
    { "string", PW_HV_STRING },
};

/* One "FIELD TYPE VALUE" line into p (strings point into rest). */
static bool
replay_param(char *field, char *rest, pw_hv_param *p)
{
    char *type = replay_word(&rest), *end;
    bool  ok = false;

    if (type == NULL)
        return false;
    p->field = field;
    for (size_t i = 0; i < sizeof replay_types / sizeof replay_types[0]; i++)
        if (strcmp(type, replay_types[i].name) == 0) {
            p->type = replay_types[i].type;
            ok = true;
        }
    if (!ok)
        return false;
    errno = 0;
    switch (p->type) {
    case PW_HV_STRING:
        p->v.s = rest;
        return true;
    case PW_HV_UINT:
    case PW_HV_ULLONG:
        return replay_u64(rest, &p->v.u) && (p->type == PW_HV_ULLONG || p->v.u <= UINT32_MAX);
    case PW_HV_DOUBLE:
        p->v.d = strtod(rest, &end);
        return end != rest && *end == '\0' && errno == 0;
    default:
        p->v.i = strtoll(rest, &end, 10);
        if (end == rest || *end != '\0' || errno != 0)
            return false;
        if (p->type == PW_HV_BOOLEAN)
            return p->v.i == 0 || p->v.i == 1;
        return p->type == PW_HV_LLONG || (p->v.i >= INT32_MIN && p->v.i <= INT32_MAX);
    }
}

static pw_err
replay_domain_line(pw_hv_source *s, void *arg, unsigned lineno, char *word, char *rest, char *err,
                   size_t errlen)
{
    pw_hv_round *r = arg;
    pw_hv_param  p;
    char        *uuid;
    pw_err       rc;

    if ((rc = replay_fail(s, lineno, "domains", word, rest, err, errlen)) != PW_OK)
        return rc;
    if (strcmp(word, "node") == 0 || strcmp(word, "pool") == 0 || strcmp(word, "fail") == 0)
        return PW_OK;
    if (strcmp(word, "domain") == 0) {
        uuid = replay_word(&rest);
        if (uuid == NULL || strlen(uuid) != 36 || *rest == '\0') {
            snprintf(err, errlen, "%s:%u: want `domain UUID NAME` (UUID in 36 characters)",
                     s->current, lineno);
            return PW_EPROTO;
        }
        rc = pw_hv_round_add_domain(r, uuid, rest);
        return rc == PW_ETOOBIG ? PW_OK : rc;
    }
    if (r->ndomains == 0 && !r->skipping) {
        snprintf(err, errlen, "%s:%u: parameter %s before any `domain` line", s->current, lineno,
                 word);
        return PW_EPROTO;
    }
    if (!replay_param(word, rest, &p)) {
        snprintf(err, errlen, "%s:%u: %s: want `FIELD TYPE VALUE`, TYPE one of int uint llong "
                 "ullong double boolean string, VALUE of that type", s->current, lineno, word);
        return PW_EPROTO;
    }
    rc = pw_hv_round_add_param(r, &p);
    return rc == PW_ETOOBIG ? PW_OK : rc;
}

static pw_err
replay_domains(pw_hv_source *s, pw_hv_round *r, char *err, size_t errlen)
{
    if (s->text == NULL) {
        snprintf(err, errlen, "domains() before node()");
        return PW_EINVAL;
    }
    return replay_lines(s, replay_domain_line, r, err, errlen);
}

const pw_hv_source_ops pw_hv_replay = {
    .name = "replay",
    .accepts = replay_accepts,
    .open = replay_open,
    .close = replay_close,
    .node = replay_node,
    .pools = replay_pools,
    .domains = replay_domains,
};
