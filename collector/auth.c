/*
 * auth.c - DIR/security.mdb and DIR/security.key (the environment shared
 * with audit.c: open, transactions, map growth), API tokens, and the role x
 * action table. Contracts: auth.h; layout: collector/README.md.
 */
#include "security_int.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "clock.h"
#include "lmdb_env.h"
#include "utf8.h"

#define AUTH_MAX_DBS      8     /* meta, tokens, audit, audit_meta + room */
#define AUTH_MAX_READERS  256   /* concurrent read txns over all processes */
#define AUTH_GROW_TRIES   16    /* doublings of the map for one write */
#define AUTH_ID_BYTES     6     /* PW_TOKEN_ID_LEN / 2 */
#define AUTH_SECRET_BYTES 32    /* 256 bits: too many to guess, so a fast keyed hash suffices */
#define AUTH_SECRET_B64   43    /* base64url of 32 bytes, no padding */
#define AUTH_TOUCH_MS     60000 /* last_used is refreshed at most this often */
#define AUTH_TOKEN_PREFIX "pwt_"

/* Token record: version 1, then fields at fixed offsets, then two strings. */
#define AUTH_TOK_VERSION  1
#define AUTH_TOK_FIXED    (1 + 1 + 4 * 8 + PWSEC_HASH_LEN)
#define AUTH_TOK_MAX      (AUTH_TOK_FIXED + 2 + PW_TENANT_MAX + 2 + PW_PRINCIPAL_MAX)

/* The constant hashed with the key into meta["key_check"]. */
static const char auth_key_check_msg[] = "poolwatch security.key check v1";

/* ---- errors ------------------------------------------------------------ */

pw_err
pwsec_map_err(int rc)
{
    switch (rc) {
    case 0:                     return PW_OK;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:                return PW_EFULL;
    case MDB_NOTFOUND:
    case ENOENT:                return PW_ENOENT;
    case ENOMEM:                return PW_ENOMEM;
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:       return PW_EAGAIN;
    case MDB_VERSION_MISMATCH:  return PW_EVERSION;
    case MDB_KEYEXIST:          return PW_EEXIST;
    default:
        /* LMDB's own codes lie in [MDB_KEYEXIST, MDB_LAST_ERRCODE]; the rest are errno. */
        return rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE ? PW_EDB : PW_EIO;
    }
}

pw_err
pwsec_fail(pwsec_txn *t, int rc)
{
    t->rc = rc;
    return pwsec_map_err(rc);
}

/* ---- text helpers ---------------------------------------------------- */

void
pwsec_copy(char *dst, size_t dstlen, const char *src)
{
    size_t n;

    if (dstlen == 0)
        return;
    n = src != NULL ? strlen(src) : 0;
    if (n >= dstlen) {
        n = dstlen - 1;
        /* Never leave half a character: back up over continuation bytes. */
        while (n > 0 && ((unsigned char) src[n] & 0xc0) == 0x80)
            n--;
    }
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* True if s is 1..max bytes of UTF-8 without control characters (names people read). */
static bool
auth_text_ok(const char *s, size_t max, bool empty_ok)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t               n = strlen(s), len;

    if (n > max || (n == 0 && !empty_ok))
        return false;
    for (size_t i = 0; i < n; i += len) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
        if ((len = pw_utf8_char(p + i, n - i)) == 0)
            return false;
    }
    return true;
}

/* ---- transactions and map growth ------------------------------------- */

pw_err
pwsec_read(pw_security *s, pwsec_body body, void *ctx)
{
    pwsec_txn t = { NULL, 0 };
    pw_err    e;
    int       rc;

    if ((rc = pw_lmdb_begin(s->env, &s->gate, MDB_RDONLY, &t.txn)) != 0)
        return pwsec_map_err(rc);
    e = body(s, &t, ctx);
    /* Commit, not abort: aborting would close dbi handles opened inside (at open). */
    if (e == PW_OK && (rc = mdb_txn_commit(t.txn)) != 0)
        e = pwsec_map_err(rc);
    else if (e != PW_OK)
        mdb_txn_abort(t.txn);
    pthread_rwlock_unlock(&s->gate);
    return e;
}

pw_err
pwsec_write(pw_security *s, pwsec_body body, void *ctx)
{
    pwsec_txn t;
    pw_err    e;
    int       rc;

    if (s->rdonly)
        return PW_EINVAL;
    for (int tries = 0;; tries++) {
        t.txn = NULL;
        t.rc = 0;
        if ((rc = pw_lmdb_begin(s->env, &s->gate, 0, &t.txn)) != 0)
            return pwsec_map_err(rc);
        e = body(s, &t, ctx);
        if (e == PW_OK) {
            if ((rc = mdb_txn_commit(t.txn)) != 0)
                e = pwsec_fail(&t, rc);
        } else {
            mdb_txn_abort(t.txn);
        }
        pthread_rwlock_unlock(&s->gate);
        if (t.rc != MDB_MAP_FULL || tries == AUTH_GROW_TRIES)
            return e;
        if (pw_lmdb_grow(s->env, &s->gate) != 0)
            return PW_EFULL;
    }
}

/* ---- security.key ------------------------------------------------------ */

/*
 * Reads the key. PW_ENOENT if the file does not exist; PW_EIO (with why) if
 * it is not a regular file of exactly PWSEC_KEY_LEN bytes or group or others
 * may read or write it: whoever reads it can mint tokens by writing hashes
 * into security.mdb, whoever writes it can lock every token out.
 */
static pw_err
auth_key_load(const char *path, unsigned char *key, char *errbuf, size_t errlen)
{
    struct stat st;
    ssize_t     n;
    pw_err      e = PW_EIO;
    int         fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT)
            return PW_ENOENT;
        snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(errno));
        return PW_EIO;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(errbuf, errlen, "cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "%s is not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(errbuf, errlen, "%s has mode %04o: group or others may access it, which would "
            "let them forge token hashes; refused (chmod 600 it, and check who read it)",
            path, (unsigned) (st.st_mode & 07777));
        goto out;
    }
    if (st.st_size != PWSEC_KEY_LEN) {
        snprintf(errbuf, errlen, "%s holds %lld bytes, not %d: damaged", path,
            (long long) st.st_size, PWSEC_KEY_LEN);
        goto out;
    }
    n = read(fd, key, PWSEC_KEY_LEN);
    if (n != PWSEC_KEY_LEN) {
        snprintf(errbuf, errlen, "cannot read %s: %s", path,
            n < 0 ? strerror(errno) : "short read");
        goto out;
    }
    e = PW_OK;
out:
    close(fd);
    return e;
}

/*
 * Makes a new key file: written whole to a private temporary name (O_EXCL,
 * 0600) and linked into place, so nobody ever sees half a key, and a
 * concurrent creator's key wins cleanly (link fails with EEXIST; we read
 * theirs). Only called inside the write txn that stamps key_check.
 */
static pw_err
auth_key_create(const char *dir, const char *path, unsigned char *key, char *errbuf, size_t errlen)
{
    char    tmp[PATH_MAX];
    pw_err  e = PW_EIO;
    int     fd, dfd;

    if ((size_t) snprintf(tmp, sizeof tmp, "%s/.security.key.%ld", dir, (long) getpid())
        >= sizeof tmp) {
        snprintf(errbuf, errlen, "%s: path too long", dir);
        return PW_EIO;
    }
    unlink(tmp);    /* a leftover of a crashed process with our pid */
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
        snprintf(errbuf, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return PW_EIO;
    }
    randombytes_buf(key, PWSEC_KEY_LEN);
    if (write(fd, key, PWSEC_KEY_LEN) != PWSEC_KEY_LEN || fsync(fd) != 0) {
        snprintf(errbuf, errlen, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        goto out;
    }
    close(fd);
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            e = auth_key_load(path, key, errbuf, errlen);
            goto out;
        }
        snprintf(errbuf, errlen, "cannot create %s: %s", path, strerror(errno));
        goto out;
    }
    /* The new name must survive a crash as surely as the tokens hashed with it. */
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(dfd);
        close(dfd);
    }
    e = PW_OK;
out:
    unlink(tmp);
    return e;
}

/* ---- open / close ------------------------------------------------------ */

typedef struct auth_open_ctx auth_open_ctx;
struct auth_open_ctx {
    char  *errbuf;
    size_t errlen;
};

static pw_err
auth_open_dbs(pw_security *s, pwsec_txn *t, auth_open_ctx *c)
{
    unsigned      create = s->rdonly ? 0 : MDB_CREATE;
    unsigned char fmt[4];
    MDB_val       k = { sizeof PWSEC_META_FORMAT - 1, (void *) PWSEC_META_FORMAT }, v;
    const char   *what = "meta";
    int           rc;

    if ((rc = mdb_dbi_open(t->txn, "meta", create, &s->meta)) != 0)
        goto fail;
    rc = mdb_get(t->txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND && !s->rdonly) {
        pw_put_be32(fmt, PWSEC_FORMAT);
        v.mv_size = sizeof fmt;
        v.mv_data = fmt;
        if ((rc = mdb_put(t->txn, s->meta, &k, &v, 0)) != 0)
            goto fail;
    } else if (rc == 0) {
        uint32_t f = v.mv_size == 4 ? pw_get_be32(v.mv_data) : 0;

        if (f > PWSEC_FORMAT) {
            snprintf(c->errbuf, c->errlen, "%s/security.mdb was written by a newer poolwatch "
                "(format %u; this build reads up to %u)", s->dir, f, PWSEC_FORMAT);
            return PW_EVERSION;
        }
        if (f == 0) {
            snprintf(c->errbuf, c->errlen, "%s/security.mdb: the format record is damaged", s->dir);
            return PW_EPROTO;
        }
    } else {
        goto fail;
    }
    what = "tokens";
    if ((rc = mdb_dbi_open(t->txn, "tokens", create, &s->tokens)) != 0)
        goto fail;
    what = "audit";
    if ((rc = mdb_dbi_open(t->txn, "audit", create, &s->audit)) != 0)
        goto fail;
    what = "audit_meta";
    if ((rc = mdb_dbi_open(t->txn, "audit_meta", create, &s->audit_meta)) != 0)
        goto fail;
    return PW_OK;
fail:
    if (rc == MDB_NOTFOUND) {
        snprintf(c->errbuf, c->errlen, "%s/security.mdb is not a poolwatch security database "
            "(no '%s')", s->dir, what);
        return PW_EPROTO;
    }
    snprintf(c->errbuf, c->errlen, "%s/security.mdb: cannot open '%s': %s", s->dir, what,
        mdb_strerror(rc));
    return pwsec_fail(t, rc);
}

static pw_err
auth_open_ro_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    return auth_open_dbs(s, t, ctx);
}

/*
 * The key and the database belong together: meta["key_check"] is the keyed
 * hash of a constant. A database without it gets the key file (made if
 * missing); one with it must find exactly that key, else every token would
 * silently stop working (or a planted key would be accepted).
 */
static pw_err
auth_open_rw_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    auth_open_ctx *c = ctx;
    char           path[PATH_MAX];
    unsigned char  check[PWSEC_HASH_LEN];
    MDB_val        k = { sizeof PWSEC_META_KEY_CHECK - 1, (void *) PWSEC_META_KEY_CHECK }, v;
    pw_err         e;
    int            rc;

    if ((e = auth_open_dbs(s, t, c)) != PW_OK)
        return e;
    snprintf(path, sizeof path, "%s/security.key", s->dir);
    rc = mdb_get(t->txn, s->meta, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        snprintf(c->errbuf, c->errlen, "%s/security.mdb: %s", s->dir, mdb_strerror(rc));
        return pwsec_fail(t, rc);
    }
    e = auth_key_load(path, s->key, c->errbuf, c->errlen);
    if (e == PW_ENOENT && rc == MDB_NOTFOUND)
        e = auth_key_create(s->dir, path, s->key, c->errbuf, c->errlen);
    else if (e == PW_ENOENT) {
        snprintf(c->errbuf, c->errlen, "%s is missing, but %s/security.mdb holds tokens hashed "
            "with it: restore it from a backup (a new key would invalidate every token)",
            path, s->dir);
        e = PW_EIO;
    }
    if (e != PW_OK)
        return e;
    crypto_generichash(check, sizeof check, (const unsigned char *) auth_key_check_msg,
        sizeof auth_key_check_msg - 1, s->key, PWSEC_KEY_LEN);
    if (rc == 0) {
        if (v.mv_size != sizeof check || sodium_memcmp(v.mv_data, check, sizeof check) != 0) {
            snprintf(c->errbuf, c->errlen, "%s is not the key %s/security.mdb was made with: "
                "refused (restore the right one from a backup)", path, s->dir);
            return PW_EIO;
        }
    } else {
        v.mv_size = sizeof check;
        v.mv_data = check;
        if ((rc = mdb_put(t->txn, s->meta, &k, &v, 0)) != 0) {
            snprintf(c->errbuf, c->errlen, "%s/security.mdb: %s", s->dir, mdb_strerror(rc));
            return pwsec_fail(t, rc);
        }
    }
    s->has_key = true;
    return PW_OK;
}

pw_err
pwsec_open_sized(const char *dir, bool rdonly, uint64_t map_size, pw_security **out,
                 char *errbuf, size_t errlen)
{
    char                 scratch[1], path[PATH_MAX];
    struct stat          st;
    pw_security         *s = NULL;
    auth_open_ctx        c;
    size_t               dlen = strlen(dir);
    bool                 exists;
    pw_err               e = PW_OK;
    int                  rc, dead;

    if (errbuf == NULL || errlen == 0) {
        errbuf = scratch;
        errlen = sizeof scratch;
    }
    errbuf[0] = '\0';
    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(errbuf, errlen, "libsodium cannot initialise");
        return PW_EIO;
    }
    if ((e = pw_data_path(dir, "security.mdb", path, sizeof path, errbuf, errlen)) != PW_OK)
        return e;
    exists = stat(path, &st) == 0;
    if (rdonly && !exists) {
        snprintf(errbuf, errlen, "%s holds no security database yet (security.mdb; the first "
            "token or audit record makes it)", dir);
        return PW_ENOENT;
    }
    if ((s = calloc(1, sizeof *s + dlen + 1)) == NULL) {
        snprintf(errbuf, errlen, "opening %s: out of memory", path);
        return PW_ENOMEM;
    }
    memcpy(s->dir, dir, dlen + 1);
    s->rdonly = rdonly;
    pw_lmdb_gate_init(&s->gate);
    pthread_mutex_init(&s->append_lock, NULL);
    pthread_cond_init(&s->append_done, NULL);
    if ((rc = mdb_env_create(&s->env)) != 0
        || (rc = mdb_env_set_maxdbs(s->env, AUTH_MAX_DBS)) != 0
        || (rc = mdb_env_set_maxreaders(s->env, AUTH_MAX_READERS)) != 0
        /* Only a new file gets our size: an existing one keeps the (larger) size it has. */
        || (!rdonly && !exists && map_size <= SIZE_MAX
            && (rc = mdb_env_set_mapsize(s->env, (size_t) map_size)) != 0)) {
        snprintf(errbuf, errlen, "opening %s: %s", path, mdb_strerror(rc));
        e = pwsec_map_err(rc);
        goto out;
    }
    rc = mdb_env_open(s->env, path, MDB_NOSUBDIR | MDB_NOTLS | (rdonly ? MDB_RDONLY : 0), 0640);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot open %s: %s", path, mdb_strerror(rc));
        e = rc == MDB_INVALID ? PW_EPROTO : rc == MDB_VERSION_MISMATCH ? PW_EVERSION : PW_EIO;
        goto out;
    }
    if (!rdonly)
        mdb_reader_check(s->env, &dead);   /* slots of dead processes would pin old pages */
    c.errbuf = errbuf;
    c.errlen = errlen;
    e = rdonly ? pwsec_read(s, auth_open_ro_body, &c) : pwsec_write(s, auth_open_rw_body, &c);
    if (e != PW_OK && errbuf[0] == '\0')
        snprintf(errbuf, errlen, "cannot initialise %s: %s", path, pw_strerror(e));
out:
    if (e != PW_OK) {
        pw_security_close(s);
        return e;
    }
    *out = s;
    return PW_OK;
}

pw_err
pw_security_open(const char *dir, bool rdonly, pw_security **out, char *errbuf, size_t errlen)
{
    return pwsec_open_sized(dir, rdonly, PWSEC_INITIAL_MAP, out, errbuf, errlen);
}

void
pw_security_close(pw_security *s)
{
    if (s == NULL)
        return;
    if (s->env != NULL)
        mdb_env_close(s->env);
    pthread_rwlock_destroy(&s->gate);
    pthread_mutex_destroy(&s->append_lock);
    pthread_cond_destroy(&s->append_done);
    sodium_memzero(s->key, sizeof s->key);
    free(s);
}

/* ---- roles and what they may do ---------------------------------------- */

static const char *const auth_role_names[] = {
    [PW_ROLE_NONE] = "none",
    [PW_ROLE_ADMIN] = "admin",
    [PW_ROLE_OPERATOR] = "operator",
    [PW_ROLE_AUDITOR] = "auditor",
    [PW_ROLE_TENANT] = "tenant",
};

#define AUTH_NROLES (sizeof auth_role_names / sizeof auth_role_names[0])

const char *
pw_role_name(pw_role r)
{
    return (unsigned) r < AUTH_NROLES ? auth_role_names[r] : "unknown";
}

pw_role
pw_role_parse(const char *s)
{
    for (size_t i = PW_ROLE_ADMIN; s != NULL && i < AUTH_NROLES; i++)
        if (strcmp(s, auth_role_names[i]) == 0)
            return (pw_role) i;
    return PW_ROLE_NONE;
}

/*
 * The whole policy (collector/README.md has the same table). Whatever is not
 * listed is denied, PW_ROLE_NONE gets nothing. Operators (the support
 * center) run the platform but do not read the audit log that records their
 * own actions; the bureau (auditor) and admins do. Tenants' reads are
 * further scoped to their tenant by the code that serves them.
 */
static const bool auth_table[AUTH_NROLES][PW_ACT_COUNT_] = {
    [PW_ROLE_ADMIN] = {
        [PW_ACT_READ_METRICS] = true, [PW_ACT_READ_HOSTS] = true,
        [PW_ACT_READ_INVENTORY] = true, [PW_ACT_WRITE_INVENTORY] = true,
        [PW_ACT_READ_POOLS] = true, [PW_ACT_READ_ALERTS] = true, [PW_ACT_WRITE_ALERTS] = true,
        [PW_ACT_READ_REPORTS] = true, [PW_ACT_READ_AUDIT] = true, [PW_ACT_ADMIN_TOKENS] = true,
        [PW_ACT_READ_SELF_METRICS] = true, [PW_ACT_WHOAMI] = true, [PW_ACT_READ_RECOMMENDATIONS] = true,
    },
    [PW_ROLE_OPERATOR] = {
        [PW_ACT_READ_METRICS] = true, [PW_ACT_READ_HOSTS] = true,
        [PW_ACT_READ_INVENTORY] = true, [PW_ACT_WRITE_INVENTORY] = true,
        [PW_ACT_READ_POOLS] = true, [PW_ACT_READ_ALERTS] = true, [PW_ACT_WRITE_ALERTS] = true,
        [PW_ACT_READ_REPORTS] = true, [PW_ACT_READ_SELF_METRICS] = true, [PW_ACT_WHOAMI] = true,
        [PW_ACT_READ_RECOMMENDATIONS] = true,
    },
    [PW_ROLE_AUDITOR] = {
        [PW_ACT_READ_METRICS] = true, [PW_ACT_READ_HOSTS] = true,
        [PW_ACT_READ_INVENTORY] = true, [PW_ACT_READ_POOLS] = true,
        [PW_ACT_READ_ALERTS] = true, [PW_ACT_READ_REPORTS] = true,
        [PW_ACT_READ_AUDIT] = true, [PW_ACT_READ_SELF_METRICS] = true, [PW_ACT_WHOAMI] = true,
        [PW_ACT_READ_RECOMMENDATIONS] = true,
    },
    [PW_ROLE_TENANT] = {
        [PW_ACT_READ_METRICS] = true, [PW_ACT_READ_INVENTORY] = true,
        [PW_ACT_READ_ALERTS] = true, [PW_ACT_READ_REPORTS] = true, [PW_ACT_WHOAMI] = true,
        [PW_ACT_READ_RECOMMENDATIONS] = true,
    },
};

/* For /api/v1/whoami's list of what a token may do; a new action needs a name here. */
static const char *const auth_action_names[PW_ACT_COUNT_] = {
    [PW_ACT_READ_METRICS] = "read_metrics",     [PW_ACT_READ_HOSTS] = "read_hosts",
    [PW_ACT_READ_INVENTORY] = "read_inventory", [PW_ACT_WRITE_INVENTORY] = "write_inventory",
    [PW_ACT_READ_POOLS] = "read_pools",         [PW_ACT_READ_ALERTS] = "read_alerts",
    [PW_ACT_WRITE_ALERTS] = "write_alerts",     [PW_ACT_READ_REPORTS] = "read_reports",
    [PW_ACT_READ_AUDIT] = "read_audit",         [PW_ACT_ADMIN_TOKENS] = "admin_tokens",
    [PW_ACT_READ_SELF_METRICS] = "read_self_metrics", [PW_ACT_WHOAMI] = "whoami",
    [PW_ACT_READ_RECOMMENDATIONS] = "read_recommendations",
};

const char *
pw_action_name(pw_action a)
{
    return (unsigned) a < PW_ACT_COUNT_ ? auth_action_names[a] : NULL;
}

bool
pw_auth_allows(const pw_principal *who, pw_action a)
{
    if (who == NULL || (unsigned) who->role >= AUTH_NROLES || (unsigned) a >= PW_ACT_COUNT_)
        return false;
    /* A tenant principal without its tenant could not be scoped: nothing. */
    if (who->role == PW_ROLE_TENANT && who->tenant[0] == '\0')
        return false;
    return auth_table[who->role][a];
}

/* ---- token records ------------------------------------------------------ */

typedef struct auth_tok auth_tok;
struct auth_tok {
    pw_token_info info;
    unsigned char hash[PWSEC_HASH_LEN];
};

static size_t
auth_tok_encode(const auth_tok *t, unsigned char *buf)
{
    size_t tl = strlen(t->info.tenant), nl = strlen(t->info.name), n = 0;

    buf[n++] = AUTH_TOK_VERSION;
    buf[n++] = (unsigned char) t->info.role;
    pw_put_be64(buf + n, (uint64_t) t->info.created_ms);
    pw_put_be64(buf + n + 8, (uint64_t) t->info.expires_ms);
    pw_put_be64(buf + n + 16, (uint64_t) t->info.revoked_ms);
    pw_put_be64(buf + n + 24, (uint64_t) t->info.last_used_ms);
    n += 32;
    memcpy(buf + n, t->hash, PWSEC_HASH_LEN);
    n += PWSEC_HASH_LEN;
    buf[n++] = (unsigned char) (tl >> 8);
    buf[n++] = (unsigned char) tl;
    memcpy(buf + n, t->info.tenant, tl);
    n += tl;
    buf[n++] = (unsigned char) (nl >> 8);
    buf[n++] = (unsigned char) nl;
    memcpy(buf + n, t->info.name, nl);
    return n + nl;
}

/* Reads one length-prefixed string into dst (cap bytes with the NUL). */
static bool
auth_get_str(const unsigned char *p, size_t n, size_t *off, char *dst, size_t cap)
{
    size_t len;

    if (n - *off < 2)
        return false;
    len = (size_t) p[*off] << 8 | p[*off + 1];
    *off += 2;
    if (len >= cap || n - *off < len || memchr(p + *off, '\0', len) != NULL)
        return false;
    memcpy(dst, p + *off, len);
    dst[len] = '\0';
    *off += len;
    return true;
}

/* Decodes a record of any version >= 1 (later versions only append fields). */
static bool
auth_tok_decode(const MDB_val *k, const MDB_val *v, auth_tok *t)
{
    const unsigned char *p = v->mv_data;
    size_t               off = AUTH_TOK_FIXED;

    memset(t, 0, sizeof *t);
    if (k->mv_size != PW_TOKEN_ID_LEN || v->mv_size < AUTH_TOK_FIXED || p[0] < AUTH_TOK_VERSION)
        return false;
    memcpy(t->info.id, k->mv_data, PW_TOKEN_ID_LEN);
    t->info.role = (pw_role) p[1];
    t->info.created_ms = (int64_t) pw_get_be64(p + 2);
    t->info.expires_ms = (int64_t) pw_get_be64(p + 10);
    t->info.revoked_ms = (int64_t) pw_get_be64(p + 18);
    t->info.last_used_ms = (int64_t) pw_get_be64(p + 26);
    memcpy(t->hash, p + 34, PWSEC_HASH_LEN);
    return auth_get_str(p, v->mv_size, &off, t->info.tenant, sizeof t->info.tenant)
        && auth_get_str(p, v->mv_size, &off, t->info.name, sizeof t->info.name);
}

static pw_err
auth_tok_put(pw_security *s, pwsec_txn *t, const auth_tok *tok, unsigned flags)
{
    unsigned char buf[AUTH_TOK_MAX];
    MDB_val       k = { PW_TOKEN_ID_LEN, (void *) tok->info.id };
    MDB_val       v = { auth_tok_encode(tok, buf), buf };

    return pwsec_fail(t, mdb_put(t->txn, s->tokens, &k, &v, flags));
}

/* PW_ENOENT if there is no record under id; PW_EPROTO if it cannot be read. */
static pw_err
auth_tok_get(pw_security *s, pwsec_txn *t, const char *id, auth_tok *tok)
{
    MDB_val k = { PW_TOKEN_ID_LEN, (void *) id }, v;
    int     rc = mdb_get(t->txn, s->tokens, &k, &v);

    if (rc == MDB_NOTFOUND)
        return PW_ENOENT;
    if (rc != 0)
        return pwsec_fail(t, rc);
    return auth_tok_decode(&k, &v, tok) ? PW_OK : PW_EPROTO;
}

/* ---- token text ---------------------------------------------------------- */

static bool
auth_id_ok(const char *id)
{
    for (size_t i = 0; i < PW_TOKEN_ID_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return id[PW_TOKEN_ID_LEN] == '\0';
}

/*
 * "pwt_" 12 lowercase hex "_" 43 base64url: exactly, nothing else (no
 * whitespace, no padding). libsodium refuses non-zero trailing bits, so each
 * secret has one spelling. Fills id (PW_TOKEN_ID_LEN + 1) and secret.
 */
static bool
auth_parse(const char *tok, char *id, unsigned char *secret)
{
    const size_t pre = sizeof AUTH_TOKEN_PREFIX - 1;
    size_t       binlen = 0;
    const char  *end = NULL;

    if (tok == NULL || strnlen(tok, PW_TOKEN_LEN + 1) != PW_TOKEN_LEN
        || memcmp(tok, AUTH_TOKEN_PREFIX, pre) != 0 || tok[pre + PW_TOKEN_ID_LEN] != '_')
        return false;
    memcpy(id, tok + pre, PW_TOKEN_ID_LEN);
    id[PW_TOKEN_ID_LEN] = '\0';
    if (!auth_id_ok(id))
        return false;
    tok += pre + PW_TOKEN_ID_LEN + 1;
    return sodium_base642bin(secret, AUTH_SECRET_BYTES, tok, AUTH_SECRET_B64, NULL, &binlen, &end,
               sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0
        && binlen == AUTH_SECRET_BYTES && end == tok + AUTH_SECRET_B64;
}

static void
auth_hash(const pw_security *s, const unsigned char *secret, unsigned char *hash)
{
    crypto_generichash(hash, PWSEC_HASH_LEN, secret, AUTH_SECRET_BYTES, s->key, PWSEC_KEY_LEN);
}

/* ---- create ---------------------------------------------------------------- */

typedef struct auth_create auth_create;
struct auth_create {
    /* in */
    pw_role             role;
    const char         *tenant, *name;
    int64_t             expires_ms, now_ms;
    const pw_audit_rec *by;          /* NULL: not audited */
    /* out */
    auth_tok            tok;
    char                token[PW_TOKEN_MAX];
    uint64_t            seq;
    int64_t             ts;
};

/* "<id> role=R tenant=T name=N expires=TIME": what a token grants, for its audit record. */
static void
auth_describe(const pw_token_info *i, char *buf, size_t len)
{
    char exp[32] = "never", all[PW_TENANT_MAX + PW_PRINCIPAL_MAX + 128];

    if (i->expires_ms != 0)
        pw_time_format_iso(i->expires_ms, exp, sizeof exp);
    snprintf(all, sizeof all, "%s role=%s%s%s expires=%s%s%s", i->id, pw_role_name(i->role),
        i->tenant[0] ? " tenant=" : "", i->tenant, exp, i->name[0] ? " name=" : "", i->name);
    /* A long tenant and name may not both fit the audit field: cut at a character. */
    pwsec_copy(buf, len, all);
}

static pw_err
auth_create_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    auth_create  *c = ctx;
    unsigned char idb[AUTH_ID_BYTES], secret[AUTH_SECRET_BYTES];
    pw_err        e = PW_EEXIST;

    memset(&c->tok, 0, sizeof c->tok);
    c->tok.info.role = c->role;
    pwsec_copy(c->tok.info.tenant, sizeof c->tok.info.tenant, c->tenant);
    pwsec_copy(c->tok.info.name, sizeof c->tok.info.name, c->name);
    c->tok.info.created_ms = c->now_ms;
    c->tok.info.expires_ms = c->expires_ms;
    /* 48-bit random ids: a collision is rare, and then we simply draw again. */
    for (int tries = 0; tries < 8 && e == PW_EEXIST; tries++) {
        randombytes_buf(idb, sizeof idb);
        randombytes_buf(secret, sizeof secret);
        sodium_bin2hex(c->tok.info.id, sizeof c->tok.info.id, idb, sizeof idb);
        auth_hash(s, secret, c->tok.hash);
        e = auth_tok_put(s, t, &c->tok, MDB_NOOVERWRITE);
    }
    if (e == PW_OK) {
        memcpy(c->token, AUTH_TOKEN_PREFIX, sizeof AUTH_TOKEN_PREFIX - 1);
        memcpy(c->token + 4, c->tok.info.id, PW_TOKEN_ID_LEN);
        c->token[4 + PW_TOKEN_ID_LEN] = '_';
        sodium_bin2base64(c->token + 5 + PW_TOKEN_ID_LEN, sizeof c->token - 5 - PW_TOKEN_ID_LEN,
            secret, sizeof secret, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    }
    sodium_memzero(secret, sizeof secret);
    if (e == PW_OK && c->by != NULL) {
        pw_audit_rec r = *c->by;

        pwsec_copy(r.action, sizeof r.action, "token.create");
        auth_describe(&c->tok.info, r.object, sizeof r.object);
        r.result = PW_AUDIT_OK;
        r.detail[0] = '\0';
        e = pwsec_audit_put(s, t, &r, c->now_ms, &c->seq, &c->ts);
    }
    return e;
}

/* PW_EINVAL with why for what pw_token_create refuses before touching the database. */
static pw_err
auth_create_check(pw_security *s, pw_role role, const char *tenant, const char *name,
                  int64_t expires_ms, size_t token_len, char *why, size_t whylen)
{
    if (!s->has_key)
        snprintf(why, whylen, "the security database is open read-only");
    else if (role <= PW_ROLE_NONE || (unsigned) role >= AUTH_NROLES)
        snprintf(why, whylen, "unknown role %d", (int) role);
    else if (role == PW_ROLE_TENANT
             && (tenant == NULL || !auth_text_ok(tenant, PW_TENANT_MAX, false)))
        snprintf(why, whylen, "a tenant token needs a tenant: 1 to %d bytes of UTF-8 without "
            "control characters", PW_TENANT_MAX);
    else if (role != PW_ROLE_TENANT && tenant != NULL)
        snprintf(why, whylen, "only tenant tokens have a tenant");
    else if (name != NULL && !auth_text_ok(name, PW_PRINCIPAL_MAX, true))
        snprintf(why, whylen, "the name must be at most %d bytes of UTF-8 without control "
            "characters", PW_PRINCIPAL_MAX);
    else if (expires_ms < 0)
        snprintf(why, whylen, "negative expiry time");
    else if (token_len < PW_TOKEN_LEN + 1)
        snprintf(why, whylen, "token buffer too small");
    else
        return PW_OK;
    return PW_EINVAL;
}

/* Records a refused or failed token change in its own transaction. */
static void
auth_audit_failure(pw_security *s, const pw_audit_rec *by, const char *action, const char *object,
                   const char *detail, pw_audit_rec *out)
{
    *out = *by;
    pwsec_copy(out->action, sizeof out->action, action);
    pwsec_copy(out->object, sizeof out->object, object);
    pwsec_copy(out->detail, sizeof out->detail, detail);
    out->result = PW_AUDIT_FAILED;
    pw_audit_append(s, out);
}

static pw_err
auth_create_run(pw_security *s, pw_audit_rec *by, pw_role role, const char *tenant,
                const char *name, int64_t expires_ms, char *token_out, size_t token_len,
                pw_token_info *info)
{
    auth_create c = { 0 };
    char        why[160];
    pw_err      e;

    if (token_out != NULL && token_len > 0)
        token_out[0] = '\0';
    e = auth_create_check(s, role, tenant, name, expires_ms, token_out != NULL ? token_len : 0,
        why, sizeof why);
    if (e == PW_OK) {
        c.role = role;
        c.tenant = tenant;
        c.name = name;
        c.expires_ms = expires_ms;
        c.now_ms = pw_now_ms();
        c.by = by;
        if ((e = pwsec_write(s, auth_create_body, &c)) != PW_OK)
            snprintf(why, sizeof why, "%s", pw_strerror(e));
    }
    if (e != PW_OK) {
        if (by != NULL && !s->rdonly) {
            char obj[64];

            snprintf(obj, sizeof obj, "role=%s", pw_role_name(role));
            auth_audit_failure(s, by, "token.create", obj, why, by);
        }
        goto out;
    }
    memcpy(token_out, c.token, PW_TOKEN_LEN + 1);
    if (info != NULL)
        *info = c.tok.info;
    if (by != NULL) {
        pwsec_copy(by->action, sizeof by->action, "token.create");
        auth_describe(&c.tok.info, by->object, sizeof by->object);
        by->result = PW_AUDIT_OK;
        by->detail[0] = '\0';
        by->seq = c.seq;
        by->ts_ms = c.ts;
    }
out:
    sodium_memzero(c.token, sizeof c.token);
    return e;
}

pw_err
pw_token_create(pw_security *s, pw_role role, const char *tenant, const char *name,
                int64_t expires_ms, char *token_out, size_t token_len, pw_token_info *info)
{
    return auth_create_run(s, NULL, role, tenant, name, expires_ms, token_out, token_len, info);
}

pw_err
pw_token_create_audited(pw_security *s, pw_audit_rec *by, pw_role role, const char *tenant,
                        const char *name, int64_t expires_ms, char *token_out, size_t token_len,
                        pw_token_info *info)
{
    return auth_create_run(s, by, role, tenant, name, expires_ms, token_out, token_len, info);
}

/* ---- list ------------------------------------------------------------------ */

typedef struct auth_list auth_list;
struct auth_list {
    pw_token_cb cb;
    void       *ctx;
};

static pw_err
auth_list_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    auth_list  *l = ctx;
    MDB_cursor *cur;
    MDB_val     k, v;
    auth_tok    tok;
    pw_err      e = PW_OK;
    int         rc;

    if ((rc = mdb_cursor_open(t->txn, s->tokens, &cur)) != 0)
        return pwsec_fail(t, rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!auth_tok_decode(&k, &v, &tok)) {
            e = PW_EPROTO;
            break;
        }
        if (l->cb(l->ctx, &tok.info) != 0)
            break;
    }
    if (e == PW_OK && rc != 0 && rc != MDB_NOTFOUND)
        e = pwsec_fail(t, rc);
    mdb_cursor_close(cur);
    return e;
}

pw_err
pw_token_list(pw_security *s, pw_token_cb cb, void *ctx)
{
    auth_list l = { cb, ctx };

    return pwsec_read(s, auth_list_body, &l);
}

/* ---- revoke ----------------------------------------------------------------- */

typedef struct auth_revoke auth_revoke;
struct auth_revoke {
    const char         *id;
    int64_t             now_ms;
    const pw_audit_rec *by;
    bool                already;
    char                object[256];
    uint64_t            seq;
    int64_t             ts;
};

static pw_err
auth_revoke_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    auth_revoke *c = ctx;
    auth_tok     tok;
    pw_err       e;

    if ((e = auth_tok_get(s, t, c->id, &tok)) != PW_OK)
        return e;
    c->already = tok.info.revoked_ms != 0;
    if (!c->already) {
        tok.info.revoked_ms = c->now_ms;
        if ((e = auth_tok_put(s, t, &tok, 0)) != PW_OK)
            return e;
    }
    auth_describe(&tok.info, c->object, sizeof c->object);
    if (c->already) {
        size_t n = strlen(c->object);
        snprintf(c->object + n, sizeof c->object - n, " (already revoked)");
    }
    if (c->by != NULL) {
        pw_audit_rec r = *c->by;

        pwsec_copy(r.action, sizeof r.action, "token.revoke");
        pwsec_copy(r.object, sizeof r.object, c->object);
        r.result = PW_AUDIT_OK;
        r.detail[0] = '\0';
        e = pwsec_audit_put(s, t, &r, c->now_ms, &c->seq, &c->ts);
    }
    return e;
}

static pw_err
auth_revoke_run(pw_security *s, pw_audit_rec *by, const char *id, int64_t now_ms)
{
    auth_revoke c = { .id = id, .now_ms = now_ms, .by = by };
    pw_err      e;

    if (id == NULL || strnlen(id, PW_TOKEN_ID_LEN + 1) != PW_TOKEN_ID_LEN || !auth_id_ok(id))
        e = PW_EINVAL;
    else if (s->rdonly)
        e = PW_EINVAL;
    else
        e = pwsec_write(s, auth_revoke_body, &c);
    if (by == NULL || s->rdonly)
        return e;
    if (e != PW_OK) {
        char obj[PW_TOKEN_ID_LEN + 16];

        snprintf(obj, sizeof obj, "%.*s", PW_TOKEN_ID_LEN + 8, id != NULL ? id : "");
        auth_audit_failure(s, by, "token.revoke", obj,
            e == PW_ENOENT ? "no such token" : e == PW_EINVAL ? "not a token id" : pw_strerror(e),
            by);
        return e;
    }
    pwsec_copy(by->action, sizeof by->action, "token.revoke");
    pwsec_copy(by->object, sizeof by->object, c.object);
    by->result = PW_AUDIT_OK;
    by->detail[0] = '\0';
    by->seq = c.seq;
    by->ts_ms = c.ts;
    return PW_OK;
}

pw_err
pw_token_revoke(pw_security *s, const char *id, int64_t now_ms)
{
    return auth_revoke_run(s, NULL, id, now_ms);
}

pw_err
pw_token_revoke_audited(pw_security *s, pw_audit_rec *by, const char *id, int64_t now_ms)
{
    return auth_revoke_run(s, by, id, now_ms);
}

/* ---- check ------------------------------------------------------------------ */

typedef struct auth_check auth_check;
struct auth_check {
    const char   *id;
    unsigned char hash[PWSEC_HASH_LEN];
    int64_t       now_ms;
    bool          found;
    auth_tok      tok;
};

static pw_err
auth_check_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    auth_check *c = ctx;
    pw_err      e = auth_tok_get(s, t, c->id, &c->tok);

    c->found = e == PW_OK;
    return e == PW_ENOENT ? PW_OK : e;
}

/* Refreshes last_used if it is still older than a minute (another thread may have done it). */
static pw_err
auth_touch_body(pw_security *s, pwsec_txn *t, void *ctx)
{
    auth_check *c = ctx;
    auth_tok    tok;
    pw_err      e;

    if ((e = auth_tok_get(s, t, c->id, &tok)) != PW_OK)
        return e;
    if (c->now_ms - tok.info.last_used_ms < AUTH_TOUCH_MS)
        return PW_EEXIST;   /* nothing to write: abort */
    tok.info.last_used_ms = c->now_ms;
    return auth_tok_put(s, t, &tok, 0);
}

pw_err
pw_token_check(pw_security *s, const char *token, int64_t now_ms, pw_principal *who,
               char *why, size_t whylen)
{
    static const unsigned char nothing[PWSEC_HASH_LEN];
    auth_check                 c = { .now_ms = now_ms };
    unsigned char              secret[AUTH_SECRET_BYTES];
    char                       id[PW_TOKEN_ID_LEN + 1];
    const char                *reason = NULL;
    pw_err                     e;

    memset(who, 0, sizeof *who);
    if (!s->has_key) {
        reason = "the security database is open read-only";
        e = PW_EINVAL;
        goto out;
    }
    if (!auth_parse(token, id, secret)) {
        sodium_memzero(secret, sizeof secret);
        reason = "malformed token";
        e = PW_EINVAL;
        goto out;
    }
    auth_hash(s, secret, c.hash);
    sodium_memzero(secret, sizeof secret);
    c.id = id;
    if ((e = pwsec_read(s, auth_check_body, &c)) != PW_OK) {
        reason = "cannot read the token database";
        goto out;
    }
    e = PW_ENOENT;
    /* Same work whether or not the id exists: timing tells nothing either way. */
    if (sodium_memcmp(c.found ? c.tok.hash : nothing, c.hash, PWSEC_HASH_LEN) != 0 || !c.found)
        reason = c.found ? "wrong secret" : "unknown token id";
    else if (c.tok.info.revoked_ms != 0)
        reason = "token revoked";
    else if (c.tok.info.expires_ms != 0 && now_ms >= c.tok.info.expires_ms)
        reason = "token expired";
    else
        e = PW_OK;
    if (e != PW_OK)
        goto out;
    who->role = c.tok.info.role;
    memcpy(who->token_id, id, sizeof who->token_id);
    if (c.tok.info.role == PW_ROLE_TENANT)
        pwsec_copy(who->tenant, sizeof who->tenant, c.tok.info.tenant);
    pwsec_copy(who->name, sizeof who->name, c.tok.info.name);
    /*
     * One write a minute per token instead of one per API call; losing it
     * (disk full) must not lock anybody out, so its result is ignored.
     */
    if (now_ms - c.tok.info.last_used_ms >= AUTH_TOUCH_MS)
        (void) pwsec_write(s, auth_touch_body, &c);
out:
    if (why != NULL && whylen > 0)
        snprintf(why, whylen, "%s", reason != NULL ? reason : "");
    return e;
}
