/*
 * auth_test.c - API tokens and roles: create, check, list, revoke, expiry,
 * last_used, malformed tokens, the key file's rules, read-only handles, map
 * growth under concurrent use, and the whole role x action table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "clock.h"
#include "security_int.h"
#include "test_fixture.h"

typedef struct at_state at_state;
struct at_state {
    char        *dir;
    pw_security *s;
};

static pw_security *
at_open(const char *dir)
{
    pw_security *s = NULL;
    char         msg[512];
    pw_err       e = pw_security_open(dir, false, &s, msg, sizeof msg);

    if (e != PW_OK)
        fail_msg("open %s: %s (%s)", dir, msg, pw_strerror(e));
    return s;
}

static int
at_setup(void **state)
{
    at_state *st = calloc(1, sizeof *st);

    st->dir = tf_tmpdir();
    st->s = at_open(st->dir);
    *state = st;
    return 0;
}

static int
at_teardown(void **state)
{
    at_state *st = *state;

    pw_security_close(st->s);
    tf_rmdir(st->dir);
    free(st);
    return 0;
}

static void
at_create(pw_security *s, pw_role role, const char *tenant, const char *name, int64_t expires,
          char *token, pw_token_info *info)
{
    pw_err e = pw_token_create(s, role, tenant, name, expires, token, PW_TOKEN_MAX, info);

    assert_int_equal(e, PW_OK);
}

/* ---- create, check, list ------------------------------------------------- */

static void
test_create_check(void **state)
{
    at_state     *st = *state;
    char          tok[PW_TOKEN_MAX], why[64];
    pw_token_info info;
    pw_principal  who;
    int64_t       before = pw_now_ms();

    at_create(st->s, PW_ROLE_OPERATOR, NULL, "ops-team", 0, tok, &info);
    assert_int_equal(strlen(tok), PW_TOKEN_LEN);
    assert_memory_equal(tok, "pwt_", 4);
    assert_memory_equal(tok + 4, info.id, PW_TOKEN_ID_LEN);
    assert_int_equal(tok[4 + PW_TOKEN_ID_LEN], '_');
    assert_int_equal(info.role, PW_ROLE_OPERATOR);
    assert_string_equal(info.name, "ops-team");
    assert_string_equal(info.tenant, "");
    assert_true(info.created_ms >= before && info.created_ms <= pw_now_ms());
    assert_int_equal(info.expires_ms, 0);
    assert_int_equal(info.revoked_ms, 0);
    assert_int_equal(info.last_used_ms, 0);

    assert_int_equal(pw_token_check(st->s, tok, pw_now_ms(), &who, why, sizeof why), PW_OK);
    assert_int_equal(who.role, PW_ROLE_OPERATOR);
    assert_string_equal(who.token_id, info.id);
    assert_string_equal(who.name, "ops-team");
    assert_string_equal(who.tenant, "");
    assert_string_equal(why, "");

    /* A tenant token carries its tenant into the principal. */
    at_create(st->s, PW_ROLE_TENANT, "unit-a", NULL, 0, tok, &info);
    assert_int_equal(pw_token_check(st->s, tok, pw_now_ms(), &who, NULL, 0), PW_OK);
    assert_int_equal(who.role, PW_ROLE_TENANT);
    assert_string_equal(who.tenant, "unit-a");
    assert_string_equal(who.name, "");
}

typedef struct at_list at_list;
struct at_list {
    size_t        n;
    pw_token_info t[16];
    size_t        stop_after;
};

static int
at_collect(void *ctx, const pw_token_info *t)
{
    at_list *l = ctx;

    l->t[l->n++] = *t;
    return l->n == l->stop_after || l->n == 16;
}

static void
test_list(void **state)
{
    at_state     *st = *state;
    char          tok[PW_TOKEN_MAX];
    pw_token_info a, b, c;
    at_list       l = { 0 };

    assert_int_equal(pw_token_list(st->s, at_collect, &l), PW_OK);
    assert_int_equal(l.n, 0);
    at_create(st->s, PW_ROLE_ADMIN, NULL, "root", 0, tok, &a);
    at_create(st->s, PW_ROLE_AUDITOR, NULL, "bureau", pw_now_ms() + 86400000, tok, &b);
    at_create(st->s, PW_ROLE_TENANT, "unit-b", "b", 0, tok, &c);
    assert_int_equal(pw_token_revoke(st->s, b.id, pw_now_ms()), PW_OK);
    assert_int_equal(pw_token_list(st->s, at_collect, &l), PW_OK);
    assert_int_equal(l.n, 3);
    /* By id, every kind listed; the revoked one too. */
    for (size_t i = 1; i < l.n; i++)
        assert_true(strcmp(l.t[i - 1].id, l.t[i].id) < 0);
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.t[i].id, b.id) == 0) {
            assert_int_equal(l.t[i].role, PW_ROLE_AUDITOR);
            assert_true(l.t[i].revoked_ms != 0);
            assert_int_equal(l.t[i].expires_ms, b.expires_ms);
        } else if (strcmp(l.t[i].id, c.id) == 0) {
            assert_string_equal(l.t[i].tenant, "unit-b");
        } else {
            assert_string_equal(l.t[i].id, a.id);
        }
    }
    /* A callback returning non-zero stops the walk. */
    memset(&l, 0, sizeof l);
    l.stop_after = 1;
    assert_int_equal(pw_token_list(st->s, at_collect, &l), PW_OK);
    assert_int_equal(l.n, 1);
}

/* ---- refusals --------------------------------------------------------------- */

static void
test_wrong_secret_unknown_id(void **state)
{
    at_state     *st = *state;
    char          tok[PW_TOKEN_MAX], bad[PW_TOKEN_MAX], why1[64], why2[64];
    pw_token_info info;
    pw_principal  who;

    at_create(st->s, PW_ROLE_ADMIN, NULL, NULL, 0, tok, &info);
    /* Another secret, same id. 'A' <-> 'B' in the middle keeps it valid base64url. */
    memcpy(bad, tok, sizeof bad);
    bad[30] = bad[30] == 'A' ? 'B' : 'A';
    assert_int_equal(pw_token_check(st->s, bad, pw_now_ms(), &who, why1, sizeof why1), PW_ENOENT);
    assert_string_equal(why1, "wrong secret");
    assert_int_equal(who.role, PW_ROLE_NONE);
    /* Another id, right secret. */
    memcpy(bad, tok, sizeof bad);
    bad[4] = bad[4] == 'a' ? 'b' : 'a';
    assert_int_equal(pw_token_check(st->s, bad, pw_now_ms(), &who, why2, sizeof why2), PW_ENOENT);
    assert_string_equal(why2, "unknown token id");
    assert_int_equal(who.role, PW_ROLE_NONE);
    /* The real one still works. */
    assert_int_equal(pw_token_check(st->s, tok, pw_now_ms(), &who, NULL, 0), PW_OK);
}

static void
test_malformed(void **state)
{
    at_state     *st = *state;
    char          tok[PW_TOKEN_MAX], why[64], bad[128];
    pw_token_info info;
    pw_principal  who;
    /* Each edit of a good token that must be refused as malformed, not looked up. */
    static const struct {
        size_t      pos;
        const char *with;     /* NULL: cut the token at pos */
    } edits[] = {
        { 0, "Pwt_" }, { 3, "-" }, { 4, "A" }, { 4, "g" }, { 15, "x" }, { 16, "-" },
        { 30, "+" }, { 30, "/" }, { 30, "=" }, { 30, " " }, { 59, "=" },
        { 59, NULL }, { 17, NULL }, { 4, NULL },
    };

    at_create(st->s, PW_ROLE_ADMIN, NULL, NULL, 0, tok, &info);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(bad, tok, PW_TOKEN_LEN + 1);
        if (edits[i].with == NULL)
            bad[edits[i].pos] = '\0';
        else
            memcpy(bad + edits[i].pos, edits[i].with, strlen(edits[i].with));
        assert_int_equal(pw_token_check(st->s, bad, pw_now_ms(), &who, why, sizeof why), PW_EINVAL);
        assert_string_equal(why, "malformed token");
    }
    /* Longer, surrounding space, empty, NULL. */
    snprintf(bad, sizeof bad, "%sA", tok);
    assert_int_equal(pw_token_check(st->s, bad, pw_now_ms(), &who, NULL, 0), PW_EINVAL);
    snprintf(bad, sizeof bad, " %s", tok);
    assert_int_equal(pw_token_check(st->s, bad, pw_now_ms(), &who, NULL, 0), PW_EINVAL);
    snprintf(bad, sizeof bad, "%s\n", tok);
    assert_int_equal(pw_token_check(st->s, bad, pw_now_ms(), &who, NULL, 0), PW_EINVAL);
    assert_int_equal(pw_token_check(st->s, "", pw_now_ms(), &who, NULL, 0), PW_EINVAL);
    assert_int_equal(pw_token_check(st->s, NULL, pw_now_ms(), &who, NULL, 0), PW_EINVAL);
    /*
     * The last base64url character of 32 bytes carries 4 bits of padding;
     * any other spelling of the same secret is refused, so each token has one.
     */
    memcpy(bad, tok, PW_TOKEN_LEN + 1);
    {
        static const char alpha[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *p = strchr(alpha, bad[PW_TOKEN_LEN - 1]);

        assert_non_null(p);
        assert_int_equal((p - alpha) & 3, 0);
        bad[PW_TOKEN_LEN - 1] = alpha[(p - alpha) + 1];
        assert_int_equal(pw_token_check(st->s, bad, pw_now_ms(), &who, NULL, 0), PW_EINVAL);
    }
}

static void
test_revoke(void **state)
{
    at_state     *st = *state;
    char          tok[PW_TOKEN_MAX], why[64];
    pw_token_info info;
    pw_principal  who;
    at_list       l = { 0 };
    int64_t       now = pw_now_ms();

    at_create(st->s, PW_ROLE_OPERATOR, NULL, NULL, 0, tok, &info);
    assert_int_equal(pw_token_revoke(st->s, info.id, now), PW_OK);
    assert_int_equal(pw_token_check(st->s, tok, now + 1, &who, why, sizeof why), PW_ENOENT);
    assert_string_equal(why, "token revoked");
    assert_int_equal(who.role, PW_ROLE_NONE);
    /* Idempotent: the first time stays. */
    assert_int_equal(pw_token_revoke(st->s, info.id, now + 5000), PW_OK);
    assert_int_equal(pw_token_list(st->s, at_collect, &l), PW_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.t[0].revoked_ms, now);
    assert_int_equal(pw_token_revoke(st->s, "0123456789ab", now), PW_ENOENT);
    assert_int_equal(pw_token_revoke(st->s, "0123456789AB", now), PW_EINVAL);
    assert_int_equal(pw_token_revoke(st->s, "0123456789a", now), PW_EINVAL);
    assert_int_equal(pw_token_revoke(st->s, "0123456789abc", now), PW_EINVAL);
    assert_int_equal(pw_token_revoke(st->s, NULL, now), PW_EINVAL);
}

static void
test_expiry(void **state)
{
    at_state     *st = *state;
    char          tok[PW_TOKEN_MAX], why[64];
    pw_token_info info;
    pw_principal  who;
    int64_t       now = pw_now_ms();

    at_create(st->s, PW_ROLE_AUDITOR, NULL, NULL, now + 1000, tok, &info);
    assert_int_equal(info.expires_ms, now + 1000);
    assert_int_equal(pw_token_check(st->s, tok, now + 999, &who, why, sizeof why), PW_OK);
    assert_int_equal(pw_token_check(st->s, tok, now + 1000, &who, why, sizeof why), PW_ENOENT);
    assert_string_equal(why, "token expired");
    assert_int_equal(pw_token_check(st->s, tok, now + 86400000, &who, why, sizeof why), PW_ENOENT);
    /* A revoked and expired token: the secret is still checked first. */
    assert_int_equal(pw_token_revoke(st->s, info.id, now), PW_OK);
    assert_int_equal(pw_token_check(st->s, tok, now + 2000, &who, why, sizeof why), PW_ENOENT);
    assert_string_equal(why, "token revoked");
}

static void
test_last_used(void **state)
{
    at_state     *st = *state;
    char          tok[PW_TOKEN_MAX];
    pw_token_info info;
    pw_principal  who;
    at_list       l = { 0 };
    int64_t       t0 = pw_now_ms();

    at_create(st->s, PW_ROLE_ADMIN, NULL, NULL, 0, tok, &info);
    assert_int_equal(pw_token_check(st->s, tok, t0, &who, NULL, 0), PW_OK);
    assert_int_equal(pw_token_list(st->s, at_collect, &l), PW_OK);
    assert_int_equal(l.t[0].last_used_ms, t0);
    /* Within a minute: no write. */
    assert_int_equal(pw_token_check(st->s, tok, t0 + 59999, &who, NULL, 0), PW_OK);
    l.n = 0;
    assert_int_equal(pw_token_list(st->s, at_collect, &l), PW_OK);
    assert_int_equal(l.t[0].last_used_ms, t0);
    assert_int_equal(pw_token_check(st->s, tok, t0 + 60000, &who, NULL, 0), PW_OK);
    l.n = 0;
    assert_int_equal(pw_token_list(st->s, at_collect, &l), PW_OK);
    assert_int_equal(l.t[0].last_used_ms, t0 + 60000);
    /* A failed check does not count as a use. */
    tok[30] = tok[30] == 'A' ? 'B' : 'A';
    assert_int_equal(pw_token_check(st->s, tok, t0 + 999999, &who, NULL, 0), PW_ENOENT);
    l.n = 0;
    assert_int_equal(pw_token_list(st->s, at_collect, &l), PW_OK);
    assert_int_equal(l.t[0].last_used_ms, t0 + 60000);
}

static void
test_create_invalid(void **state)
{
    at_state     *st = *state;
    char          tok[PW_TOKEN_MAX];
    char          long_name[PW_PRINCIPAL_MAX + 2], long_tenant[PW_TENANT_MAX + 2];
    pw_token_info info;
    at_list       l = { 0 };

    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    memset(long_tenant, 't', sizeof long_tenant - 1);
    long_tenant[sizeof long_tenant - 1] = '\0';
#define AT_BAD(role, tenant, name, exp, len) \
    assert_int_equal(pw_token_create(st->s, role, tenant, name, exp, tok, len, &info), PW_EINVAL)
    AT_BAD(PW_ROLE_TENANT, NULL, NULL, 0, sizeof tok);
    AT_BAD(PW_ROLE_TENANT, "", NULL, 0, sizeof tok);
    AT_BAD(PW_ROLE_TENANT, long_tenant, NULL, 0, sizeof tok);
    AT_BAD(PW_ROLE_TENANT, "a\nb", NULL, 0, sizeof tok);
    AT_BAD(PW_ROLE_TENANT, "caf\xc3", NULL, 0, sizeof tok);       /* cut UTF-8 */
    AT_BAD(PW_ROLE_ADMIN, "unit-a", NULL, 0, sizeof tok);
    AT_BAD(PW_ROLE_OPERATOR, "", NULL, 0, sizeof tok);
    AT_BAD(PW_ROLE_NONE, NULL, NULL, 0, sizeof tok);
    AT_BAD((pw_role) 99, NULL, NULL, 0, sizeof tok);
    AT_BAD(PW_ROLE_ADMIN, NULL, long_name, 0, sizeof tok);
    AT_BAD(PW_ROLE_ADMIN, NULL, "tab\there", 0, sizeof tok);
    AT_BAD(PW_ROLE_ADMIN, NULL, "\xc0\xaf", 0, sizeof tok);       /* overlong '/' */
    AT_BAD(PW_ROLE_ADMIN, NULL, "\xed\xa0\x80", 0, sizeof tok);   /* a surrogate */
    AT_BAD(PW_ROLE_ADMIN, NULL, NULL, -1, sizeof tok);
    AT_BAD(PW_ROLE_ADMIN, NULL, NULL, 0, PW_TOKEN_LEN);
#undef AT_BAD
    assert_int_equal(pw_token_list(st->s, at_collect, &l), PW_OK);
    assert_int_equal(l.n, 0);
    /* At the limits and in other scripts: fine. */
    long_name[PW_PRINCIPAL_MAX] = '\0';
    long_tenant[PW_TENANT_MAX] = '\0';
    at_create(st->s, PW_ROLE_TENANT, long_tenant, long_name, 0, tok, &info);
    assert_string_equal(info.tenant, long_tenant);
    assert_string_equal(info.name, long_name);
    at_create(st->s, PW_ROLE_TENANT, "税务局", "运维 ✓", 0, tok, &info);
    assert_string_equal(info.tenant, "税务局");
}

/* ---- the key file --------------------------------------------------------------- */

static char *
at_key_path(const char *dir)
{
    char *p;

    if (asprintf(&p, "%s/security.key", dir) < 0)
        abort();
    return p;
}

static void
test_key_file(void **state)
{
    at_state    *st = *state;
    char        *key = at_key_path(st->dir), msg[512], tok[PW_TOKEN_MAX];
    struct stat  sb;
    pw_security *s = NULL;
    pw_principal who;
    FILE        *f;
    int          c;
    static const mode_t refused[] = { 0640, 0604, 0620, 0602, 0610, 0601, 0644, 0660 };

    assert_int_equal(stat(key, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(sb.st_size, 32);
    at_create(st->s, PW_ROLE_ADMIN, NULL, NULL, 0, tok, NULL);
    pw_security_close(st->s);
    st->s = NULL;

    /* Group or others may read or write it: refused, with the reason. */
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(chmod(key, refused[i]), 0);
        msg[0] = '\0';
        assert_int_equal(pw_security_open(st->dir, false, &s, msg, sizeof msg), PW_EIO);
        assert_null(s);
        assert_non_null(strstr(msg, "group or others"));
    }
    /* A read-only handle never reads the key, so it still opens. */
    assert_int_equal(pw_security_open(st->dir, true, &s, msg, sizeof msg), PW_OK);
    pw_security_close(s);
    assert_int_equal(chmod(key, 0400), 0);
    st->s = at_open(st->dir);
    assert_int_equal(pw_token_check(st->s, tok, pw_now_ms(), &who, NULL, 0), PW_OK);
    pw_security_close(st->s);
    st->s = NULL;
    assert_int_equal(chmod(key, 0600), 0);

    /* Another key: every token would break, so the open is refused. */
    /* The seek between read and write is required by C; without it glibc
     * writes the flipped byte at offset 1, which is a no-op whenever the
     * second byte happens to equal it (1 run in 256). */
    assert_non_null(f = fopen(key, "r+"));
    c = fgetc(f);
    assert_int_not_equal(c, EOF);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    assert_int_equal(fputc(c ^ 1, f), c ^ 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(pw_security_open(st->dir, false, &s, msg, sizeof msg), PW_EIO);
    assert_non_null(strstr(msg, "not the key"));
    /* A damaged (short) key. */
    assert_int_equal(truncate(key, 16), 0);
    assert_int_equal(pw_security_open(st->dir, false, &s, msg, sizeof msg), PW_EIO);
    assert_non_null(strstr(msg, "16 bytes"));
    /* No key at all while the database has tokens: refused, not silently replaced. */
    assert_int_equal(unlink(key), 0);
    assert_int_equal(pw_security_open(st->dir, false, &s, msg, sizeof msg), PW_EIO);
    assert_non_null(strstr(msg, "missing"));
    assert_int_equal(stat(key, &sb), -1);
    /* A symlink in its place is not followed. */
    assert_int_equal(symlink("/dev/null", key), 0);
    assert_int_equal(pw_security_open(st->dir, false, &s, msg, sizeof msg), PW_EIO);
    free(key);
}

static void
test_open_errors(void **state)
{
    at_state    *st = *state;
    pw_security *s = NULL;
    char         msg[512], *missing, *fresh;

    if (asprintf(&missing, "%s/nope", st->dir) < 0)
        abort();
    assert_int_equal(pw_security_open(missing, false, &s, msg, sizeof msg), PW_ENOENT);
    assert_non_null(strstr(msg, "does not exist"));
    assert_int_equal(pw_security_open(missing, true, &s, msg, sizeof msg), PW_ENOENT);
    free(missing);
    /* Read-only on a directory without a security database: ENOENT, nothing created. */
    fresh = tf_tmpdir();
    assert_int_equal(pw_security_open(fresh, true, &s, msg, sizeof msg), PW_ENOENT);
    assert_non_null(strstr(msg, "no security database"));
    assert_int_equal(access(fresh, F_OK), 0);
    {
        char *p;

        if (asprintf(&p, "%s/security.mdb", fresh) < 0)
            abort();
        assert_int_equal(access(p, F_OK), -1);
        free(p);
    }
    tf_rmdir(fresh);
    /* NULL errbuf is allowed. */
    assert_int_equal(pw_security_open("/nonexistent/dir", false, &s, NULL, 0), PW_ENOENT);
}

static void
test_readonly(void **state)
{
    at_state     *st = *state;
    pw_security  *ro = NULL;
    char          tok[PW_TOKEN_MAX], msg[256];
    pw_token_info info;
    pw_principal  who;
    at_list       l = { 0 };

    at_create(st->s, PW_ROLE_OPERATOR, NULL, "x", 0, tok, &info);
    pw_security_close(st->s);
    st->s = NULL;
    assert_int_equal(pw_security_open(st->dir, true, &ro, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_token_list(ro, at_collect, &l), PW_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(pw_token_create(ro, PW_ROLE_ADMIN, NULL, NULL, 0, tok, sizeof tok, NULL),
        PW_EINVAL);
    assert_int_equal(pw_token_revoke(ro, info.id, pw_now_ms()), PW_EINVAL);
    assert_int_equal(pw_token_check(ro, tok, pw_now_ms(), &who, NULL, 0), PW_EINVAL);
    pw_security_close(ro);
    st->s = at_open(st->dir);
}

/* ---- map growth, threads ---------------------------------------------------------- */

static int
at_count(void *ctx, const pw_token_info *t)
{
    (void) t;
    (*(size_t *) ctx)++;
    return 0;
}

typedef struct at_thread at_thread;
struct at_thread {
    pw_security *s;
    const char  *tok;
    int          errors;
    bool         create;
};

static void *
at_worker(void *arg)
{
    at_thread    *t = arg;
    pw_principal  who;
    char          tok[PW_TOKEN_MAX];

    for (int i = 0; i < 300; i++) {
        pw_err e = t->create
            ? pw_token_create(t->s, PW_ROLE_TENANT, "unit-with-a-rather-long-name-to-fill-pages",
                  "thread", 0, tok, sizeof tok, NULL)
            : pw_token_check(t->s, t->tok, pw_now_ms() + i * 60000, &who, NULL, 0);

        if (e != PW_OK)
            t->errors++;
    }
    return NULL;
}

/* Creates from two threads and checks (with last_used writes) from two, on a tiny map. */
static void
test_growth_threads(void **state)
{
    at_state     *st = *state;
    pw_security  *s = NULL;
    char          msg[256], tok[PW_TOKEN_MAX], *dir = tf_tmpdir();
    pthread_t     th[4];
    at_thread     args[4];
    size_t        n = 0;
    MDB_envinfo   info;

    (void) st;
    assert_int_equal(pwsec_open_sized(dir, false, 64 << 10, &s, msg, sizeof msg), PW_OK);
    at_create(s, PW_ROLE_OPERATOR, NULL, NULL, 0, tok, NULL);
    for (int i = 0; i < 4; i++) {
        args[i] = (at_thread) { s, tok, 0, i < 2 };
        assert_int_equal(pthread_create(&th[i], NULL, at_worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
    }
    mdb_env_info(s->env, &info);
    assert_true(info.me_mapsize > (64 << 10));
    assert_int_equal(pw_token_list(s, at_count, &n), PW_OK);
    assert_int_equal(n, 1 + 2 * 300);
    pw_security_close(s);
    /* Reopened (read-only, at the size the file has), everything is there. */
    assert_int_equal(pw_security_open(dir, true, &s, msg, sizeof msg), PW_OK);
    n = 0;
    assert_int_equal(pw_token_list(s, at_count, &n), PW_OK);
    assert_int_equal(n, 1 + 2 * 300);
    pw_security_close(s);
    tf_rmdir(dir);
}

/* ---- roles and the policy table ----------------------------------------------------- */

static void
test_role_names(void **state)
{
    (void) state;
    for (pw_role r = PW_ROLE_ADMIN; r <= PW_ROLE_TENANT; r++)
        assert_int_equal(pw_role_parse(pw_role_name(r)), r);
    assert_string_equal(pw_role_name(PW_ROLE_ADMIN), "admin");
    assert_string_equal(pw_role_name(PW_ROLE_OPERATOR), "operator");
    assert_string_equal(pw_role_name(PW_ROLE_AUDITOR), "auditor");
    assert_string_equal(pw_role_name(PW_ROLE_TENANT), "tenant");
    assert_string_equal(pw_role_name(PW_ROLE_NONE), "none");
    assert_string_equal(pw_role_name((pw_role) 42), "unknown");
    assert_int_equal(pw_role_parse("none"), PW_ROLE_NONE);
    assert_int_equal(pw_role_parse("Admin"), PW_ROLE_NONE);
    assert_int_equal(pw_role_parse(""), PW_ROLE_NONE);
    assert_int_equal(pw_role_parse(NULL), PW_ROLE_NONE);
}

/*
 * The policy, written out again independently of auth.c: a change to either
 * must be a decision, made in both places (and in collector/README.md).
 *   columns: METRICS HOSTS INV INV_W POOLS ALERTS ALERTS_W REPORTS AUDIT TOKENS SELF WHOAMI RECS
 */
static const bool at_policy[PW_ROLE_TENANT + 1][PW_ACT_COUNT_] = {
    [PW_ROLE_NONE]     = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
    [PW_ROLE_ADMIN]    = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
    [PW_ROLE_OPERATOR] = { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1 },
    [PW_ROLE_AUDITOR]  = { 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1 },
    [PW_ROLE_TENANT]   = { 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1 },
};

static void
test_allows_matrix(void **state)
{
    pw_principal who;

    (void) state;
    /* The column comments above must match the enum. */
    assert_int_equal(PW_ACT_COUNT_, 13);
    assert_int_equal(PW_ACT_READ_AUDIT, 8);
    assert_int_equal(PW_ACT_READ_SELF_METRICS, 10);
    assert_int_equal(PW_ACT_WHOAMI, 11);
    assert_int_equal(PW_ACT_READ_RECOMMENDATIONS, 12);
    /* Every action has a name (whoami lists them), unknown ones none. */
    for (int a = 0; a < PW_ACT_COUNT_; a++)
        assert_non_null(pw_action_name((pw_action) a));
    assert_string_equal(pw_action_name(PW_ACT_READ_METRICS), "read_metrics");
    assert_null(pw_action_name(PW_ACT_COUNT_));
    for (pw_role r = PW_ROLE_NONE; r <= PW_ROLE_TENANT; r++) {
        memset(&who, 0, sizeof who);
        who.role = r;
        if (r == PW_ROLE_TENANT)
            snprintf(who.tenant, sizeof who.tenant, "unit-a");
        for (int a = 0; a < PW_ACT_COUNT_; a++) {
            if (pw_auth_allows(&who, (pw_action) a) != at_policy[r][a])
                fail_msg("role %s, action %d: got %d, policy says %d", pw_role_name(r), a,
                    !at_policy[r][a], at_policy[r][a]);
        }
        /* Unknown actions are denied for everyone. */
        assert_false(pw_auth_allows(&who, PW_ACT_COUNT_));
        assert_false(pw_auth_allows(&who, (pw_action) -1));
    }
    /* A tenant principal without its tenant cannot be scoped: nothing. */
    memset(&who, 0, sizeof who);
    who.role = PW_ROLE_TENANT;
    for (int a = 0; a < PW_ACT_COUNT_; a++)
        assert_false(pw_auth_allows(&who, (pw_action) a));
    who.role = (pw_role) 17;
    for (int a = 0; a < PW_ACT_COUNT_; a++)
        assert_false(pw_auth_allows(&who, (pw_action) a));
    assert_false(pw_auth_allows(NULL, PW_ACT_READ_METRICS));
}

/* End to end: a checked token's principal gets exactly its role's row. */
static void
test_check_then_allows(void **state)
{
    at_state    *st = *state;
    char         tok[PW_TOKEN_MAX];
    pw_principal who;

    for (pw_role r = PW_ROLE_ADMIN; r <= PW_ROLE_TENANT; r++) {
        at_create(st->s, r, r == PW_ROLE_TENANT ? "unit-z" : NULL, NULL, 0, tok, NULL);
        assert_int_equal(pw_token_check(st->s, tok, pw_now_ms(), &who, NULL, 0), PW_OK);
        for (int a = 0; a < PW_ACT_COUNT_; a++)
            assert_int_equal(pw_auth_allows(&who, (pw_action) a), at_policy[r][a]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_check, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_list, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_secret_unknown_id, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_malformed, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_revoke, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_expiry, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_last_used, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_create_invalid, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_key_file, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_readonly, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_growth_threads, at_setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_check_then_allows, at_setup, at_teardown),
        cmocka_unit_test(test_role_names),
        cmocka_unit_test(test_allows_matrix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
