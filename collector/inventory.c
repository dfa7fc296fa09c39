/*
 * inventory.c - DIR/inventory.mdb: versioned VM records and pool definitions
 * (inventory.h).
 *
 * Layout (collector/README.md, "Inventory"):
 *   meta  "format" -> u32 BE
 *   vm    name ++ 0x00 ++ ts(valid_from) -> JSON object of the columns + "rec"
 *   pool  name ++ 0x00 ++ ts(valid_from) -> JSON {hosts, cpu_oc, mem_oc, cap[4], rec, del}
 * ts is pw_put_ts (sign-flipped big-endian) so versions sort by time after
 * their name; names hold no NUL, so one name's versions are contiguous.
 * Values are JSON: a few hundred bytes per version, read rarely, and new
 * columns can be added without a format change.
 */
#include "inventory.h"
#include "sort.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <lmdb.h>

#include "bytes.h"
#include "lmdb_env.h"
#include "store.h"

#define INV_FORMAT       1
#define INV_INITIAL_MAP  ((size_t) 64 << 20)   /* sparse; doubled when full */
#define INV_MAX_DBS      4
#define INV_GROW_TRIES   8
#define INV_KEY_MAX      (PW_INV_STR_MAX + 1 + 8)

struct pw_inventory {
    MDB_env         *env;           /* NULL: read-only handle, file not there yet */
    MDB_dbi          meta, vm, pool;
    bool             rdonly;
    pthread_mutex_t  open_lock;     /* the late open of a read-only handle */
    /* Every txn holds gate shared; a map resize takes it exclusive (see security_int.h). */
    pthread_rwlock_t gate;
    char             path[];
};

/* ---- errors ------------------------------------------------------------- */

static pw_err
inv_map_err(int rc)
{
    switch (rc) {
    case 0:                     return PW_OK;
    case MDB_MAP_FULL:
    case ENOSPC:                return PW_EFULL;
    case ENOMEM:                return PW_ENOMEM;
    case MDB_NOTFOUND:          return PW_ENOENT;
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:       return PW_EAGAIN;
    case MDB_VERSION_MISMATCH:  return PW_EVERSION;
    default:
        return rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE ? PW_EDB : PW_EIO;
    }
}

static void inv_msg(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
inv_msg(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;

    if (msg == NULL || msglen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
}

/* ---- open --------------------------------------------------------------- */

/* Opens the environment; called with open_lock held (or before the handle is shared). */
static pw_err
inv_env_open(pw_inventory *inv, char *msg, size_t msglen)
{
    static const char *const dbs[] = { "meta", "vm", "pool" };
    const pw_lmdb_opts       o = {
        .path = inv->path, .rdonly = inv->rdonly, .maxdbs = INV_MAX_DBS, .map_size = INV_INITIAL_MAP,
        .dbs = dbs, .ndbs = 3, .format = INV_FORMAT,
    };
    MDB_dbi                  dbi[3];
    pw_err                   e;

    if ((e = pw_lmdb_open(&o, &inv->env, dbi, msg, msglen)) != PW_OK)
        return e;
    inv->meta = dbi[0];
    inv->vm = dbi[1];
    inv->pool = dbi[2];
    return PW_OK;
}

pw_err
pw_inventory_open(const char *dir, bool rdonly, pw_inventory **out, char *msg, size_t msglen)
{
    char                path[4096], dummy[8];
    struct stat         st;
    pw_inventory       *inv;
    size_t              plen;
    pw_err              e;

    if (msg == NULL || msglen == 0) {
        msg = dummy;
        msglen = sizeof dummy;
    }
    msg[0] = '\0';
    *out = NULL;
    if ((e = pw_data_path(dir, "inventory.mdb", path, sizeof path, msg, msglen)) != PW_OK)
        return e;
    plen = strlen(path);
    if ((inv = calloc(1, sizeof *inv + plen + 1)) == NULL) {
        inv_msg(msg, msglen, "opening %s: out of memory", path);
        return PW_ENOMEM;
    }
    memcpy(inv->path, path, plen + 1);
    inv->rdonly = rdonly;
    pthread_mutex_init(&inv->open_lock, NULL);
    pw_lmdb_gate_init(&inv->gate);
    if (rdonly && stat(path, &st) != 0 && errno == ENOENT) {
        *out = inv;            /* empty until the file appears (inventory.h) */
        return PW_OK;
    }
    if ((e = inv_env_open(inv, msg, msglen)) != PW_OK) {
        pw_inventory_close(inv);
        return e;
    }
    *out = inv;
    return PW_OK;
}

void
pw_inventory_close(pw_inventory *inv)
{
    if (inv == NULL)
        return;
    if (inv->env != NULL)
        mdb_env_close(inv->env);
    pthread_mutex_destroy(&inv->open_lock);
    pthread_rwlock_destroy(&inv->gate);
    free(inv);
}

/* ---- transactions ------------------------------------------------------- */

/* true if the handle has an environment (opening a late file now if needed). */
static bool
inv_ready(pw_inventory *inv)
{
    struct stat st;
    bool        ok;
    char        msg[8];

    pthread_mutex_lock(&inv->open_lock);
    if (inv->env == NULL && stat(inv->path, &st) == 0)
        (void) inv_env_open(inv, msg, sizeof msg);
    ok = inv->env != NULL;
    pthread_mutex_unlock(&inv->open_lock);
    return ok;
}

/* A transaction body; returns PW_OK to commit. *rc: the LMDB code of a failure. */
typedef pw_err (*inv_body)(pw_inventory *inv, MDB_txn *txn, int *rc, void *ctx);

static pw_err
inv_read(pw_inventory *inv, inv_body body, void *ctx)
{
    MDB_txn *txn;
    pw_err   e;
    int      rc = 0;

    if (!inv_ready(inv))
        return PW_OK;          /* no file yet: empty */
    if ((rc = pw_lmdb_begin(inv->env, &inv->gate, MDB_RDONLY, &txn)) != 0)
        return inv_map_err(rc);
    e = body(inv, txn, &rc, ctx);
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&inv->gate);
    return e;
}

static pw_err
inv_write(pw_inventory *inv, inv_body body, void *ctx)
{
    MDB_txn *txn;
    pw_err   e;
    int      rc;

    if (inv->rdonly || inv->env == NULL)
        return PW_EINVAL;
    for (int tries = 0;; tries++) {
        rc = 0;
        if ((rc = pw_lmdb_begin(inv->env, &inv->gate, 0, &txn)) != 0)
            return inv_map_err(rc);
        e = body(inv, txn, &rc, ctx);
        if (e == PW_OK) {
            if ((rc = mdb_txn_commit(txn)) != 0)
                e = inv_map_err(rc);
        } else {
            mdb_txn_abort(txn);
        }
        pthread_rwlock_unlock(&inv->gate);
        if (rc != MDB_MAP_FULL || tries == INV_GROW_TRIES)
            return e;
        if (pw_lmdb_grow(inv->env, &inv->gate) != 0)
            return PW_EFULL;
    }
}

/* ---- keys --------------------------------------------------------------- */

static size_t
inv_key(unsigned char *buf, const char *name, int64_t ts)
{
    size_t n = strlen(name);

    memcpy(buf, name, n);
    buf[n] = 0;
    pw_put_ts(buf + n + 1, ts);
    return n + 9;
}

/* The name part of a key (NUL-terminated in the key itself) and its time. */
static bool
inv_key_split(const MDB_val *k, const char **name, size_t *nlen, int64_t *ts)
{
    const unsigned char *p = k->mv_data;

    if (k->mv_size < 9 || p[k->mv_size - 9] != 0)
        return false;
    *name = (const char *) p;
    *nlen = k->mv_size - 9;
    *ts = pw_get_ts(p + k->mv_size - 8);
    return true;
}

/* ---- versions ------------------------------------------------------------ */

/*
 * The version of `name` in dbi (a VM's or a pool's) in effect at `at`: the
 * newest dated at or before it, else the oldest. *old gets it decoded,
 * without its "rec" member (when it was recorded), or NULL when name has no
 * version; the caller owns it. PW_EPROTO for a stored value that is not
 * JSON; an LMDB failure is PW_EDB with its code in *rc (else *rc is 0).
 */
static pw_err
inv_version_at(MDB_txn *txn, MDB_dbi dbi, const char *name, int64_t at, json_t **old, int *rc)
{
    unsigned char sb[INV_KEY_MAX];
    MDB_cursor   *cur;
    MDB_val       k = { inv_key(sb, name, INT64_MIN), sb }, v, cv = { 0, NULL };
    const char   *kname;
    size_t        nlen, klen = strlen(name);
    int64_t       ts;
    bool          found = false;

    *old = NULL;
    if ((*rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return PW_EDB;
    for (*rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); *rc == 0;
         *rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!inv_key_split(&k, &kname, &nlen, &ts) || nlen != klen || memcmp(kname, name, nlen) != 0)
            break;
        if (!found || ts <= at) {
            cv = v;
            found = true;
        }
        if (ts > at)
            break;
    }
    /* cv points into the map: decode it before the cursor (and its txn's view) moves on */
    if (*rc == 0 || *rc == MDB_NOTFOUND) {
        *rc = 0;
        if (found && (*old = json_loadb(cv.mv_data, cv.mv_size, 0, NULL)) == NULL) {
            mdb_cursor_close(cur);
            return PW_EPROTO;
        }
    }
    mdb_cursor_close(cur);
    if (*rc != 0)
        return PW_EDB;
    if (*old != NULL)
        json_object_del(*old, "rec");
    return PW_OK;
}

/*
 * Writes nj, stamped "rec": now, as the version of `name` dated ts. PW_ENOMEM,
 * or PW_EDB with the LMDB code in *rc.
 */
static pw_err
inv_version_put(MDB_txn *txn, MDB_dbi dbi, const char *name, int64_t ts, json_t *nj, int64_t now,
                int *rc)
{
    unsigned char kb[INV_KEY_MAX];
    MDB_val       k = { inv_key(kb, name, ts), kb }, v;
    char         *dump;

    *rc = 0;
    if (json_object_set_new(nj, "rec", json_integer(now)) != 0
        || (dump = json_dumps(nj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        return PW_ENOMEM;
    v.mv_size = strlen(dump);
    v.mv_data = dump;
    *rc = mdb_put(txn, dbi, &k, &v, 0);
    free(dump);
    return *rc != 0 ? PW_EDB : PW_OK;
}

/* ---- VM records ---------------------------------------------------------- */

/* String columns: struct offset and JSON key. The key names are stored: never rename. */
typedef struct inv_strcol { size_t off; const char *key; } inv_strcol;
#define INV_S(f) { offsetof(pw_inv_vm, f), #f }
static const inv_strcol inv_strcols[] = {
    INV_S(uuid), INV_S(ip), INV_S(tenant), INV_S(system), INV_S(subsystem), INV_S(pool),
    INV_S(host), INV_S(zone), INV_S(server_type), INV_S(os), INV_S(state), INV_S(developer),
    INV_S(bastion_owner), INV_S(bastion_email), INV_S(bastion_phone), INV_S(cluster_group),
    INV_S(remarks),
};
#define INV_NSTR (sizeof inv_strcols / sizeof inv_strcols[0])

typedef struct inv_numcol { size_t off; const char *key; } inv_numcol;
static const inv_numcol inv_numcols[] = {
    INV_S(vcpus), INV_S(memory_gb), INV_S(sys_disk_gb), INV_S(data_disk_gb),
};
#define INV_NNUM (sizeof inv_numcols / sizeof inv_numcols[0])

static const char *
inv_str(const pw_inv_vm *vm, size_t i)
{
    const char *s = *(const char *const *) ((const char *) vm + inv_strcols[i].off);
    return s != NULL ? s : "";
}

static double
inv_num(const pw_inv_vm *vm, size_t i)
{
    return *(const double *) ((const char *) vm + inv_numcols[i].off);
}

/* The columns of vm as a JSON object (no "rec"); NULL: out of memory or a string not UTF-8. */
static json_t *
inv_vm_json(const pw_inv_vm *vm)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < INV_NSTR; i++) {
        const char *s = inv_str(vm, i);
        if (*s != '\0' && json_object_set_new(o, inv_strcols[i].key, json_string(s)) != 0)
            goto fail;
    }
    for (size_t i = 0; i < INV_NNUM; i++) {
        double d = inv_num(vm, i);
        if (d != 0 && json_object_set_new(o, inv_numcols[i].key, json_real(d)) != 0)
            goto fail;
    }
    if ((vm->cluster != PW_INV_CLUSTER_UNKNOWN
         && json_object_set_new(o, "cluster", json_boolean(vm->cluster == PW_INV_CLUSTER_YES)) != 0)
        || (vm->delivered_ms != INT64_MIN
            && json_object_set_new(o, "delivered", json_integer(vm->delivered_ms)) != 0)
        || (vm->terminated_ms != INT64_MAX
            && json_object_set_new(o, "terminated", json_integer(vm->terminated_ms)) != 0)
        || (vm->requested_ms != INT64_MIN
            && json_object_set_new(o, "requested", json_integer(vm->requested_ms)) != 0))
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

/* A decoded version: vm points into name (the key, copied) and into o. */
typedef struct inv_ver {
    json_t   *o;
    char      name[PW_INV_STR_MAX + 1];
    pw_inv_vm vm;
} inv_ver;

static pw_err
inv_ver_decode(const MDB_val *k, const MDB_val *v, inv_ver *out)
{
    const char *name;
    size_t      nlen;
    int64_t     ts;
    json_t     *x;

    memset(&out->vm, 0, sizeof out->vm);
    out->o = NULL;
    if (!inv_key_split(k, &name, &nlen, &ts) || nlen > PW_INV_STR_MAX)
        return PW_EPROTO;
    memcpy(out->name, name, nlen);
    out->name[nlen] = '\0';
    if ((out->o = json_loadb(v->mv_data, v->mv_size, JSON_REJECT_DUPLICATES, NULL)) == NULL
        || !json_is_object(out->o)) {
        json_decref(out->o);
        out->o = NULL;
        return PW_EPROTO;
    }
    out->vm.name = out->name;
    for (size_t i = 0; i < INV_NSTR; i++) {
        const char *s = json_string_value(json_object_get(out->o, inv_strcols[i].key));
        *(const char **) ((char *) &out->vm + inv_strcols[i].off) = s != NULL ? s : "";
    }
    for (size_t i = 0; i < INV_NNUM; i++)
        *(double *) ((char *) &out->vm + inv_numcols[i].off)
            = json_number_value(json_object_get(out->o, inv_numcols[i].key));
    x = json_object_get(out->o, "cluster");
    out->vm.cluster = x == NULL ? PW_INV_CLUSTER_UNKNOWN
                    : json_is_true(x) ? PW_INV_CLUSTER_YES : PW_INV_CLUSTER_NO;
    x = json_object_get(out->o, "delivered");
    out->vm.delivered_ms = json_is_integer(x) ? json_integer_value(x) : INT64_MIN;
    x = json_object_get(out->o, "terminated");
    out->vm.terminated_ms = json_is_integer(x) ? json_integer_value(x) : INT64_MAX;
    x = json_object_get(out->o, "requested");
    out->vm.requested_ms = json_is_integer(x) ? json_integer_value(x) : INT64_MIN;
    x = json_object_get(out->o, "rec");
    out->vm.recorded_ms = json_is_integer(x) ? json_integer_value(x) : 0;
    out->vm.valid_from_ms = ts;
    out->vm.valid_to_ms = INT64_MAX;
    return PW_OK;
}

static void
inv_ver_free(inv_ver *v)
{
    json_decref(v->o);
    v->o = NULL;
}

/*
 * Walks the versions of every name in db (or of one name): hands each name's
 * versions, oldest first, to fn. The MDB_vals point into the map, valid for
 * the txn.
 */
typedef struct inv_group {
    MDB_val *k, *v;
    size_t   n, cap;
} inv_group;

typedef pw_err (*inv_group_fn)(inv_group *g, void *ctx, bool *stop);

static pw_err
inv_walk(MDB_txn *txn, MDB_dbi dbi, const char *only, inv_group_fn fn, void *ctx, int *rcp)
{
    MDB_cursor   *cur = NULL;
    MDB_val       k, v;
    inv_group     g = { NULL, NULL, 0, 0 };
    unsigned char start[INV_KEY_MAX];
    const char   *name = NULL, *gname = NULL;
    size_t        nlen = 0, gnlen = 0, onlen = only != NULL ? strlen(only) : 0;
    int64_t       ts;
    bool          stop = false;
    pw_err        e = PW_OK;
    int           rc;

    if (only != NULL && onlen > PW_INV_STR_MAX)
        return PW_ENOENT;
    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
        *rcp = rc;
        return inv_map_err(rc);
    }
    if (only != NULL) {
        k.mv_size = inv_key(start, only, INT64_MIN);
        k.mv_data = start;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    for (;; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        bool end = rc == MDB_NOTFOUND;
        if (rc != 0 && !end) {
            *rcp = rc;
            e = inv_map_err(rc);
            goto out;
        }
        if (!end && !inv_key_split(&k, &name, &nlen, &ts)) {
            e = PW_EPROTO;
            goto out;
        }
        if (!end && only != NULL && (nlen != onlen || memcmp(name, only, nlen) != 0))
            end = true;
        if (g.n > 0 && (end || nlen != gnlen || memcmp(name, gname, nlen) != 0)) {
            if ((e = fn(&g, ctx, &stop)) != PW_OK || stop)
                goto out;
            g.n = 0;
        }
        if (end)
            break;
        if (g.n == g.cap) {
            size_t   cap = g.cap ? g.cap * 2 : 16;
            MDB_val *nk = realloc(g.k, cap * sizeof *nk), *nv;
            if (nk == NULL) {
                e = PW_ENOMEM;
                goto out;
            }
            g.k = nk;
            if ((nv = realloc(g.v, cap * sizeof *nv)) == NULL) {
                e = PW_ENOMEM;
                goto out;
            }
            g.v = nv;
            g.cap = cap;
        }
        g.k[g.n] = k;
        g.v[g.n++] = v;
        gname = name;
        gnlen = nlen;
    }
out:
    free(g.k);
    free(g.v);
    mdb_cursor_close(cur);
    return e;
}

/* Which version of a group is in effect at t: the newest with valid_from <= t, else the oldest. */
static size_t
inv_group_at(const inv_group *g, int64_t t)
{
    size_t at = 0;

    for (size_t i = 0; i < g->n; i++) {
        const char *name;
        size_t      nlen;
        int64_t     ts;
        inv_key_split(&g->k[i], &name, &nlen, &ts);
        if (ts <= t)
            at = i;
    }
    return at;
}

static int64_t
inv_group_ts(const inv_group *g, size_t i)
{
    const char *name;
    size_t      nlen;
    int64_t     ts = 0;

    inv_key_split(&g->k[i], &name, &nlen, &ts);
    return ts;
}

/* What the VM walks share. */
typedef enum inv_vm_mode { INV_AT, INV_IN, INV_LATEST, INV_HISTORY } inv_vm_mode;
typedef struct inv_vm_walk {
    inv_vm_mode  mode;
    int64_t      from, to;         /* INV_AT: from = t */
    const char  *tenant, *only;
    pw_inv_vm_cb cb;
    void        *ctx;
    size_t       seen;
} inv_vm_walk;

/* Decodes version i of g with its validity and the lifecycle of `life`. */
static pw_err
inv_group_ver(const inv_group *g, size_t i, const inv_ver *life, inv_ver *out)
{
    pw_err e = inv_ver_decode(&g->k[i], &g->v[i], out);

    if (e != PW_OK)
        return e;
    out->vm.valid_from_ms = i == 0 ? INT64_MIN : inv_group_ts(g, i);
    out->vm.valid_to_ms = i + 1 == g->n ? INT64_MAX : inv_group_ts(g, i + 1);
    if (life != NULL) {
        out->vm.delivered_ms = life->vm.delivered_ms;
        out->vm.terminated_ms = life->vm.terminated_ms;
        out->vm.requested_ms = life->vm.requested_ms;
    }
    return PW_OK;
}

static bool
inv_tenant_ok(const inv_vm_walk *w, const pw_inv_vm *vm)
{
    return w->tenant == NULL || strcmp(w->tenant, vm->tenant) == 0;
}

static pw_err
inv_vm_group(inv_group *g, void *ctx, bool *stop)
{
    inv_vm_walk *w = ctx;
    inv_ver      life, ver;
    pw_err       e;

    w->seen++;
    if ((e = inv_group_ver(g, g->n - 1, NULL, &life)) != PW_OK)
        return e;
    switch (w->mode) {
    case INV_LATEST:
        if (inv_tenant_ok(w, &life.vm) && w->cb(w->ctx, &life.vm) != 0)
            *stop = true;
        break;
    case INV_AT: {
        size_t i = inv_group_at(g, w->from);
        if (w->from < life.vm.delivered_ms || w->from >= life.vm.terminated_ms)
            break;
        if ((e = inv_group_ver(g, i, &life, &ver)) != PW_OK)
            break;
        if (inv_tenant_ok(w, &ver.vm) && w->cb(w->ctx, &ver.vm) != 0)
            *stop = true;
        inv_ver_free(&ver);
        break;
    }
    case INV_IN:
    case INV_HISTORY:
        for (size_t i = 0; i < g->n && !*stop; i++) {
            if ((e = inv_group_ver(g, i, &life, &ver)) != PW_OK)
                break;
            if (w->mode == INV_IN) {
                int64_t a = ver.vm.valid_from_ms > ver.vm.delivered_ms ? ver.vm.valid_from_ms
                                                                      : ver.vm.delivered_ms;
                int64_t b = ver.vm.valid_to_ms < ver.vm.terminated_ms ? ver.vm.valid_to_ms
                                                                     : ver.vm.terminated_ms;
                if (a < w->from)
                    a = w->from;
                if (b > w->to)
                    b = w->to;
                if (a < b && inv_tenant_ok(w, &ver.vm) && w->cb(w->ctx, &ver.vm) != 0)
                    *stop = true;
            } else {
                /* History shows each version's own recorded dates, not the newest ones. */
                inv_ver own;
                if ((e = inv_group_ver(g, i, NULL, &own)) == PW_OK) {
                    if (w->cb(w->ctx, &own.vm) != 0)
                        *stop = true;
                    inv_ver_free(&own);
                }
            }
            inv_ver_free(&ver);
        }
        break;
    }
    inv_ver_free(&life);
    return e;
}

static pw_err
inv_vm_walk_body(pw_inventory *inv, MDB_txn *txn, int *rc, void *ctx)
{
    inv_vm_walk *w = ctx;
    return inv_walk(txn, inv->vm, w->only, inv_vm_group, w, rc);
}

static pw_err
inv_vm_run(pw_inventory *inv, inv_vm_walk *w)
{
    if (inv == NULL || w->cb == NULL)
        return PW_EINVAL;
    return inv_read(inv, inv_vm_walk_body, w);
}

pw_err
pw_inventory_vms_at(pw_inventory *inv, int64_t t, const char *tenant, pw_inv_vm_cb cb, void *ctx)
{
    inv_vm_walk w = { INV_AT, t, t, tenant, NULL, cb, ctx, 0 };
    return inv_vm_run(inv, &w);
}

pw_err
pw_inventory_vms_in(pw_inventory *inv, int64_t from, int64_t to, const char *tenant,
                    pw_inv_vm_cb cb, void *ctx)
{
    inv_vm_walk w = { INV_IN, from, to, tenant, NULL, cb, ctx, 0 };
    if (from >= to)
        return PW_OK;
    return inv_vm_run(inv, &w);
}

pw_err
pw_inventory_vms_latest(pw_inventory *inv, const char *tenant, pw_inv_vm_cb cb, void *ctx)
{
    inv_vm_walk w = { INV_LATEST, 0, 0, tenant, NULL, cb, ctx, 0 };
    return inv_vm_run(inv, &w);
}

pw_err
pw_inventory_vm_history(pw_inventory *inv, const char *name, pw_inv_vm_cb cb, void *ctx)
{
    inv_vm_walk w = { INV_HISTORY, 0, 0, NULL, name, cb, ctx, 0 };
    pw_err      e;

    if (name == NULL || *name == '\0')
        return PW_EINVAL;
    if ((e = inv_vm_run(inv, &w)) != PW_OK)
        return e;
    return w.seen == 0 ? PW_ENOENT : PW_OK;
}

/* ---- import ------------------------------------------------------------- */

typedef struct inv_import {
    int64_t              now, effective;
    const pw_inv_vm     *rows;
    size_t               n;
    pw_inv_import_stats  st;
    char                *msg;
    size_t               msglen;
} inv_import;

static int
inv_cmp_name(const void *a, const void *b)
{
    return strcmp((*(const pw_inv_vm *const *) a)->name, (*(const pw_inv_vm *const *) b)->name);
}

/* Imports one row: compares with the version in effect at effective, writes if different. */
static pw_err
inv_import_row(pw_inventory *inv, MDB_txn *txn, int *rcp, inv_import *im, const pw_inv_vm *row)
{
    json_t *nj = NULL, *old = NULL;
    pw_err  e;
    int     rc;

    if ((nj = inv_vm_json(row)) == NULL) {
        inv_msg(im->msg, im->msglen, "VM %s: a column is not valid UTF-8", row->name);
        return PW_EINVAL;
    }
    if ((e = inv_version_at(txn, inv->vm, row->name, im->effective, &old, &rc)) != PW_OK)
        goto out;
    if (old != NULL) {
        if (json_equal(old, nj)) {
            im->st.unchanged++;
            goto out;
        }
        im->st.changed++;
    } else {
        im->st.added++;
    }
    /* A VM's first version holds since forever (inventory.h): a change dated before it then lands after it. */
    e = inv_version_put(txn, inv->vm, row->name, old != NULL ? im->effective : INT64_MIN, nj,
        im->now, &rc);
out:
    if (rc != 0) {
        *rcp = rc;
        e = inv_map_err(rc);
        inv_msg(im->msg, im->msglen, "writing the inventory: %s", mdb_strerror(rc));
    }
    json_decref(nj);
    json_decref(old);
    return e;
}

static pw_err
inv_import_body(pw_inventory *inv, MDB_txn *txn, int *rc, void *ctx)
{
    inv_import *im = ctx;
    pw_err      e;

    memset(&im->st, 0, sizeof im->st);
    for (size_t i = 0; i < im->n; i++)
        if ((e = inv_import_row(inv, txn, rc, im, &im->rows[i])) != PW_OK)
            return e;
    return PW_OK;
}

pw_err
pw_inventory_import(pw_inventory *inv, int64_t now, int64_t effective, const pw_inv_vm *rows,
                    size_t n, pw_inv_import_stats *stats, char *msg, size_t msglen)
{
    inv_import          im = { now, effective, rows, n, { 0, 0, 0 }, msg, msglen };
    const pw_inv_vm   **sorted = NULL;
    pw_err              e = PW_OK;

    if (msg != NULL && msglen > 0)
        msg[0] = '\0';
    if (inv == NULL || (rows == NULL && n > 0) || effective == INT64_MIN) {
        inv_msg(msg, msglen, "bad arguments");
        return PW_EINVAL;
    }
    if (inv->rdonly) {
        inv_msg(msg, msglen, "%s is open read-only", inv->path);
        return PW_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const pw_inv_vm *r = &rows[i];
        if (r->name == NULL || *r->name == '\0' || strlen(r->name) > PW_INV_STR_MAX) {
            inv_msg(msg, msglen, "a row has an empty or too long VM name");
            return PW_EINVAL;
        }
        if (r->tenant == NULL || *r->tenant == '\0') {
            inv_msg(msg, msglen, "VM %s: no tenant (using unit)", r->name);
            return PW_EINVAL;
        }
        for (size_t c = 0; c < INV_NSTR; c++)
            if (strlen(inv_str(r, c)) > PW_INV_STR_MAX) {
                inv_msg(msg, msglen, "VM %s: %s is too long", r->name, inv_strcols[c].key);
                return PW_EINVAL;
            }
        for (size_t c = 0; c < INV_NNUM; c++)
            if (!isfinite(inv_num(r, c)) || inv_num(r, c) < 0) {
                inv_msg(msg, msglen, "VM %s: %s must be a number >= 0", r->name, inv_numcols[c].key);
                return PW_EINVAL;
            }
        if (r->delivered_ms != INT64_MIN && r->terminated_ms < r->delivered_ms) {
            inv_msg(msg, msglen, "VM %s: terminated before it was delivered", r->name);
            return PW_EINVAL;
        }
    }
    if (n > 0) {
        if ((sorted = malloc(n * sizeof *sorted)) == NULL)
            return PW_ENOMEM;
        for (size_t i = 0; i < n; i++)
            sorted[i] = &rows[i];
        pw_qsort(sorted, n, sizeof *sorted, inv_cmp_name);
        for (size_t i = 1; i < n; i++)
            if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
                inv_msg(msg, msglen, "VM %s is listed twice", sorted[i]->name);
                e = PW_EINVAL;
                goto out;
            }
    }
    if (!inv_ready(inv)) {
        e = PW_EINVAL;
        goto out;
    }
    e = inv_write(inv, inv_import_body, &im);
    if (e == PW_OK && stats != NULL)
        *stats = im.st;
    if (e != PW_OK && msg != NULL && msglen > 0 && msg[0] == '\0')
        snprintf(msg, msglen, "writing %s: %s", inv->path, pw_strerror(e));
out:
    free(sorted);
    return e;
}

/* ---- pools -------------------------------------------------------------- */

static const char *const inv_res_names[PW_POOL_RES_COUNT_] = { "cpu", "memory", "storage", "network" };

const char *
pw_pool_res_name(pw_pool_res r)
{
    return (unsigned) r < PW_POOL_RES_COUNT_ ? inv_res_names[r] : "?";
}

pw_pool_res
pw_pool_res_parse(const char *s)
{
    for (unsigned i = 0; s != NULL && i < PW_POOL_RES_COUNT_; i++)
        if (strcmp(s, inv_res_names[i]) == 0)
            return (pw_pool_res) i;
    return PW_POOL_RES_COUNT_;
}

/* A decoded pool version: def points into o and hosts. */
typedef struct inv_pool {
    json_t      *o;
    char         name[PW_INV_STR_MAX + 1];
    const char **hosts;
    bool         deleted;
    int64_t      recorded_ms;
    pw_pool_def  def;
} inv_pool;

static void
inv_pool_free(inv_pool *p)
{
    json_decref(p->o);
    free(p->hosts);
    p->o = NULL;
    p->hosts = NULL;
}

static pw_err
inv_pool_decode(const MDB_val *k, const MDB_val *v, inv_pool *p)
{
    const char *name;
    size_t      nlen, i;
    int64_t     ts;
    json_t     *h, *cap, *x;

    memset(p, 0, sizeof *p);
    if (!inv_key_split(k, &name, &nlen, &ts) || nlen > PW_INV_STR_MAX)
        return PW_EPROTO;
    memcpy(p->name, name, nlen);
    p->name[nlen] = '\0';
    if ((p->o = json_loadb(v->mv_data, v->mv_size, 0, NULL)) == NULL || !json_is_object(p->o))
        goto bad;
    h = json_object_get(p->o, "hosts");
    if (h != NULL && !json_is_array(h))
        goto bad;
    if ((p->hosts = calloc(json_array_size(h) + 1, sizeof *p->hosts)) == NULL) {
        inv_pool_free(p);
        return PW_ENOMEM;
    }
    json_array_foreach(h, i, x) {
        if (!json_is_string(x))
            goto bad;
        p->hosts[i] = json_string_value(x);
    }
    p->def.name = p->name;
    p->def.hosts = p->hosts;
    p->def.nhosts = json_array_size(h);
    x = json_object_get(p->o, "cpu_oc");
    p->def.cpu_overcommit = json_is_number(x) ? json_number_value(x) : 1;
    x = json_object_get(p->o, "mem_oc");
    p->def.memory_overcommit = json_is_number(x) ? json_number_value(x) : 1;
    cap = json_object_get(p->o, "cap");
    for (unsigned r = 0; r < PW_POOL_RES_COUNT_; r++)
        p->def.capacity[r] = json_number_value(json_object_get(cap, inv_res_names[r]));
    p->deleted = json_is_true(json_object_get(p->o, "del"));
    x = json_object_get(p->o, "rec");
    p->recorded_ms = json_is_integer(x) ? json_integer_value(x) : 0;
    return PW_OK;
bad:
    inv_pool_free(p);
    return PW_EPROTO;
}

/* The JSON of a definition (no "rec"); NULL: out of memory or not UTF-8. */
static json_t *
inv_pool_json(const pw_pool_def *p, bool deleted)
{
    json_t *o = json_object(), *h = json_array(), *cap = json_object();

    if (o == NULL || h == NULL || cap == NULL)
        goto fail;
    if (deleted) {
        json_decref(h);
        json_decref(cap);
        if (json_object_set_new(o, "del", json_true()) != 0)
            goto fail_o;
        return o;
    }
    for (size_t i = 0; i < p->nhosts; i++)
        if (json_array_append_new(h, json_string(p->hosts[i])) != 0)
            goto fail;
    for (unsigned r = 0; r < PW_POOL_RES_COUNT_; r++)
        if (p->capacity[r] != 0 && json_object_set_new(cap, inv_res_names[r], json_real(p->capacity[r])) != 0)
            goto fail;
    if (json_object_set_new(o, "hosts", h) != 0) {
        h = NULL;
        goto fail;
    }
    h = NULL;
    if (json_object_set_new(o, "cap", cap) != 0) {
        cap = NULL;
        goto fail;
    }
    cap = NULL;
    if (json_object_set_new(o, "cpu_oc", json_real(p->cpu_overcommit)) != 0
        || json_object_set_new(o, "mem_oc", json_real(p->memory_overcommit)) != 0)
        goto fail;
    return o;
fail:
    json_decref(h);
    json_decref(cap);
fail_o:
    json_decref(o);
    return NULL;
}

typedef struct inv_pool_walk {
    int64_t         t;
    pw_pool_cb      cb;
    pw_pool_hist_cb hcb;
    void           *ctx;
    size_t          seen;
} inv_pool_walk;

static pw_err
inv_pool_group(inv_group *g, void *ctx, bool *stop)
{
    inv_pool_walk *w = ctx;
    inv_pool       p;
    pw_err         e = PW_OK;

    w->seen++;
    if (w->hcb != NULL) {
        for (size_t i = 0; i < g->n && !*stop; i++) {
            if ((e = inv_pool_decode(&g->k[i], &g->v[i], &p)) != PW_OK)
                return e;
            if (w->hcb(w->ctx, i == 0 ? INT64_MIN : inv_group_ts(g, i), p.recorded_ms, p.deleted, &p.def) != 0)
                *stop = true;
            inv_pool_free(&p);
        }
        return PW_OK;
    }
    size_t i = inv_group_at(g, w->t);
    if ((e = inv_pool_decode(&g->k[i], &g->v[i], &p)) != PW_OK)
        return e;
    /* Before its first definition a pool deleted at once never existed: the oldest rule holds. */
    if (!p.deleted && w->cb(w->ctx, &p.def) != 0)
        *stop = true;
    inv_pool_free(&p);
    return PW_OK;
}

static pw_err
inv_pool_walk_body(pw_inventory *inv, MDB_txn *txn, int *rc, void *ctx)
{
    return inv_walk(txn, inv->pool, NULL, inv_pool_group, ctx, rc);
}

pw_err
pw_inventory_pools(pw_inventory *inv, int64_t t, pw_pool_cb cb, void *ctx)
{
    inv_pool_walk w = { t, cb, NULL, ctx, 0 };

    if (inv == NULL || cb == NULL)
        return PW_EINVAL;
    return inv_read(inv, inv_pool_walk_body, &w);
}

typedef struct inv_pool_hist {
    const char    *name;
    inv_pool_walk  w;
} inv_pool_hist;

static pw_err
inv_pool_hist_body(pw_inventory *inv, MDB_txn *txn, int *rc, void *ctx)
{
    inv_pool_hist *h = ctx;
    return inv_walk(txn, inv->pool, h->name, inv_pool_group, &h->w, rc);
}

pw_err
pw_inventory_pool_history(pw_inventory *inv, const char *name, pw_pool_hist_cb cb, void *ctx)
{
    inv_pool_hist h = { name, { 0, NULL, cb, ctx, 0 } };
    pw_err        e;

    if (inv == NULL || cb == NULL || name == NULL || *name == '\0')
        return PW_EINVAL;
    if ((e = inv_read(inv, inv_pool_hist_body, &h)) != PW_OK)
        return e;
    return h.w.seen == 0 ? PW_ENOENT : PW_OK;
}

typedef struct inv_pool_put {
    int64_t            now;
    const pw_pool_def *def;
    const char        *name;
    bool               deleted;
} inv_pool_put;

static pw_err
inv_pool_put_body(pw_inventory *inv, MDB_txn *txn, int *rcp, void *ctx)
{
    inv_pool_put *pp = ctx;
    json_t       *nj = NULL, *old = NULL;
    pw_err        e;
    int           rc;

    if ((nj = inv_pool_json(pp->def, pp->deleted)) == NULL)
        return PW_EINVAL;
    if ((e = inv_version_at(txn, inv->pool, pp->name, pp->now, &old, &rc)) != PW_OK)
        goto out;
    if (pp->deleted && (old == NULL || json_is_true(json_object_get(old, "del")))) {
        e = PW_ENOENT;
        goto out;
    }
    if (old != NULL && json_equal(old, nj))
        goto out;
    e = inv_version_put(txn, inv->pool, pp->name, old != NULL ? pp->now : INT64_MIN, nj, pp->now,
        &rc);    /* dated as for VMs */
out:
    if (rc != 0) {
        *rcp = rc;
        e = inv_map_err(rc);
    }
    json_decref(nj);
    json_decref(old);
    return e;
}

static bool
inv_name_ok(const char *s)
{
    json_t *j;

    if (s == NULL || *s == '\0' || strlen(s) > PW_INV_STR_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *) s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    if ((j = json_string(s)) == NULL)     /* NULL: not UTF-8 */
        return false;
    json_decref(j);
    return true;
}

pw_err
pw_inventory_pool_set(pw_inventory *inv, int64_t now, const pw_pool_def *p)
{
    inv_pool_put pp = { now, p, NULL, false };

    if (inv == NULL || p == NULL || !inv_name_ok(p->name) || (p->hosts == NULL && p->nhosts > 0))
        return PW_EINVAL;
    for (size_t i = 0; i < p->nhosts; i++) {
        if (!inv_name_ok(p->hosts[i]))
            return PW_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->hosts[i], p->hosts[j]) == 0)
                return PW_EINVAL;
    }
    if (!isfinite(p->cpu_overcommit) || p->cpu_overcommit <= 0
        || !isfinite(p->memory_overcommit) || p->memory_overcommit <= 0)
        return PW_EINVAL;
    for (unsigned r = 0; r < PW_POOL_RES_COUNT_; r++)
        if (!isfinite(p->capacity[r]) || p->capacity[r] < 0)
            return PW_EINVAL;
    pp.name = p->name;
    return inv_write(inv, inv_pool_put_body, &pp);
}

pw_err
pw_inventory_pool_delete(pw_inventory *inv, int64_t now, const char *name)
{
    inv_pool_put pp = { now, NULL, name, true };

    if (inv == NULL || !inv_name_ok(name))
        return PW_EINVAL;
    return inv_write(inv, inv_pool_put_body, &pp);
}
