/*
 * http_test.c - the pure parts of the HTTP API: parameters, paths, bearer
 * tokens, Prometheus times, durations and number formats, answers, the
 * failed-authentication limiter, and the tenant scope - alone and through
 * the store-backed evaluation source every read goes through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eval.h"
#include "expr.h"
#include "http.h"
#include "scope.h"
#include "selector.h"
#include "store.h"
#include "test_fixture.h"

/* ---- parameters and paths ------------------------------------------------ */

static void
test_params(void **state)
{
    pw_http_params ps = { 0 };
    const char    *q = "query=sum+by+(host)+(x%7Bmode%3D%22idle%22%7D)&match[]=a&&match%5B%5D=b&"
                       "flag&empty=&plus=%2B";

    (void) state;
    assert_int_equal(pw_http_params_parse(&ps, q, strlen(q), NULL, 0), PW_OK);
    assert_string_equal(pw_http_get(&ps, "query"), "sum by (host) (x{mode=\"idle\"})");
    assert_int_equal(pw_http_param_count(&ps, "match[]"), 2);
    assert_string_equal(pw_http_param_nth(&ps, "match[]", 0), "a");
    assert_string_equal(pw_http_param_nth(&ps, "match[]", 1), "b");
    assert_null(pw_http_param_nth(&ps, "match[]", 2));
    assert_string_equal(pw_http_get(&ps, "flag"), "");
    assert_string_equal(pw_http_get(&ps, "empty"), "");
    assert_string_equal(pw_http_get(&ps, "plus"), "+");
    assert_int_equal(pw_http_params_parse(&ps, "cn=%E6%B1%89%E5%AD%97", 21, NULL, 0), PW_OK);
    assert_string_equal(pw_http_get(&ps, "cn"), "\xe6\xb1\x89\xe5\xad\x97");
    assert_null(pw_http_get(&ps, "nope"));
    /* A second source appends: the form body comes first, then the query string. */
    assert_int_equal(pw_http_params_parse(&ps, "query=second", 12, NULL, 0), PW_OK);
    assert_string_equal(pw_http_get(&ps, "query"), "sum by (host) (x{mode=\"idle\"})");
    pw_http_params_free(&ps);
    /* Not NUL-terminated input: only len bytes count. */
    assert_int_equal(pw_http_params_parse(&ps, "a=1&b=2", 3, NULL, 0), PW_OK);
    assert_int_equal(ps.n, 1);
    pw_http_params_free(&ps);
}

static void
test_params_bad(void **state)
{
    static const char *const bad[] = {
        "a=%", "a=%4", "a=%zz", "a%=1", "a=%00", "a=1;b=2", "%G0=1", "a=%FF", "%C0%80=1",
        "a=%ED%A0%80", "a=%F4%90%80%80", "a=%E6%B1",
    };
    pw_http_params           ps = { 0 };
    char                     msg[128];
    char                     many[PW_HTTP_MAX_PARAMS * 4 + 8] = "";

    (void) state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg[0] = '\0';
        assert_int_equal(pw_http_params_parse(&ps, bad[i], strlen(bad[i]), msg, sizeof msg),
                         PW_EPROTO);
        assert_true(msg[0] != '\0');
        pw_http_params_free(&ps);
    }
    for (int i = 0; i <= PW_HTTP_MAX_PARAMS; i++)
        strcat(many, "a=1&");
    assert_int_equal(pw_http_params_parse(&ps, many, strlen(many), NULL, 0), PW_ETOOBIG);
    pw_http_params_free(&ps);
}

static void
test_path_decode(void **state)
{
    char *p;

    (void) state;
    assert_int_equal(pw_http_path_decode("/api/v1/label/__name__/values", 29, &p), PW_OK);
    assert_string_equal(p, "/api/v1/label/__name__/values");
    free(p);
    assert_int_equal(pw_http_path_decode("/a%2Fb+c?x", 8, &p), PW_OK);
    assert_string_equal(p, "/a/b+c");
    free(p);
    assert_int_equal(pw_http_path_decode("/a%2", 4, &p), PW_EPROTO);
    assert_null(p);
    assert_int_equal(pw_http_path_decode("/a%00b", 6, &p), PW_EPROTO);
}

static void
test_bearer(void **state)
{
    size_t      n = 0;
    const char *t;
    char        longtok[PW_HTTP_MAX_TOKEN + 16];

    (void) state;
    t = pw_http_bearer("Bearer pwt_0123456789ab_secret", &n);
    assert_non_null(t);
    assert_int_equal(n, strlen("pwt_0123456789ab_secret"));
    assert_memory_equal(t, "pwt_0123456789ab_secret", n);
    assert_non_null(pw_http_bearer("bearer \t tok  ", &n));
    assert_int_equal(n, 3);
    assert_null(pw_http_bearer(NULL, &n));
    assert_null(pw_http_bearer("Basic dXNlcjpwYXNz", &n));
    assert_null(pw_http_bearer("Bearer", &n));
    assert_null(pw_http_bearer("Bearer ", &n));
    assert_null(pw_http_bearer("Bearertok", &n));
    assert_null(pw_http_bearer("Bearer a b", &n));
    assert_null(pw_http_bearer("Bearer a\x01", &n));
    memset(longtok, 'x', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = '\0';
    memcpy(longtok, "Bearer ", 7);
    assert_null(pw_http_bearer(longtok, &n));
}

/* ---- Prometheus times, durations, numbers ------------------------------------ */

static void
test_prom_time(void **state)
{
    static const struct {
        const char *s;
        int64_t     ms;
    } good[] = {
        { "1700000000", INT64_C(1700000000000) },
        { "1700000000.123", INT64_C(1700000000123) },
        { "1700000000.1236", INT64_C(1700000000124) },       /* rounded, as Prometheus */
        { "1.7e9", INT64_C(1700000000000) },
        { "-1.5", INT64_C(-1500) },
        { "0", 0 },
        { "+12", 12000 },
        { "2026-11-01T00:00:00Z", INT64_C(1793491200000) },
        { "2026-11-01T08:00:00+08:00", INT64_C(1793491200000) },
        { "2026-10-31T19:30:00-04:30", INT64_C(1793491200000) },
        { "2026-11-01T00:00:00.5Z", INT64_C(1793491200500) },
        { "2026-11-01T00:00:00.123999999Z", INT64_C(1793491200123) },   /* truncated */
        { "2024-02-29T00:00:00Z", INT64_C(1709164800000) },
        { "1970-01-01T00:00:00Z", 0 },
        { "-292273086-05-16T16:47:06Z", PW_PROM_MIN_TIME_MS },
        { "292277025-08-18T07:12:54.999999999Z", PW_PROM_MAX_TIME_MS },
        { "1e20", PW_PROM_MAX_TIME_MS },
        { "-1e20", PW_PROM_MIN_TIME_MS },
    };
    static const char *const bad[] = {
        "", "NaN", "Inf", "+Inf", "infinity", "0x10", "1_000", "abc", "2026-11-01",
        "2026-11-01 00:00:00Z", "2026-11-01T00:00:00", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z", "2026-11-01T24:00:00Z", "2026-11-01T00:60:00Z", "2026-11-01T00:00:60Z",
        "2026-11-01T00:00:00.Z", "2026-11-01T00:00:00+0800", "2026-11-01T00:00:00Zjunk", "1.2.3",
        "now", "-1h",
    };
    int64_t ms;

    (void) state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ms = 42;
        assert_int_equal(pw_prom_time_parse(good[i].s, &ms), PW_OK);
        if (ms != good[i].ms)
            fail_msg("%s: got %lld, want %lld", good[i].s, (long long) ms, (long long) good[i].ms);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (pw_prom_time_parse(bad[i], &ms) != PW_EINVAL)
            fail_msg("%s parsed as %lld", bad[i], (long long) ms);
    assert_int_equal(pw_prom_time_parse(NULL, &ms), PW_EINVAL);
}

static void
test_prom_duration(void **state)
{
    static const struct {
        const char *s;
        int64_t     ms;
    } good[] = {
        { "15", 15000 }, { "0.5", 500 }, { "0.0001", 0 }, { "1e3", 1000000 }, { "0", 0 },
        { "1h30m", 5400000 }, { "1m", 60000 }, { "1ms", 1 }, { "5m30s", 330000 },
        { "1y", INT64_C(31536000000) }, { "2w1d", INT64_C(1296000000) }, { "1s500ms", 1500 },
        { "90s", 90000 }, { "1d1h1m1s1ms", INT64_C(90061001) },
    };
    static const char *const bad[] = {
        "", "-5", "-1m", "5x", "1.5h", "30s1m", "1h1h", "1ms1s", "m", "1 m", "NaN", "Inf",
        "11y", "1e12", "1h-1m",
    };
    int64_t ms;

    (void) state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(pw_prom_duration_parse(good[i].s, &ms), PW_OK);
        if (ms != good[i].ms)
            fail_msg("%s: got %lld, want %lld", good[i].s, (long long) ms, (long long) good[i].ms);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (pw_prom_duration_parse(bad[i], &ms) != PW_EINVAL)
            fail_msg("%s parsed as %lld", bad[i], (long long) ms);
}

static void
test_prom_value(void **state)
{
    static const struct {
        double      v;
        const char *s;
    } cases[] = {
        { 0.1, "0.1" }, { 2, "2" }, { -2.5, "-2.5" }, { 1e20, "100000000000000000000" },
        { 1e-7, "0.0000001" }, { 123.456, "123.456" }, { 0, "0" }, { -0.0, "-0" },
        { 0.30000000000000004, "0.30000000000000004" }, { 1e21, "1000000000000000000000" },
        { 9007199254740993.0, "9007199254740992" }, { 1.5e-5, "0.000015" },
        { 100, "100" }, { 1234567.125, "1234567.125" },
    };
    char   buf[PW_PROM_VALUE_LEN];
    size_t n;

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pw_prom_value(cases[i].v, buf, sizeof buf);
        assert_string_equal(buf, cases[i].s);
    }
    pw_prom_value(0.0 / 0.0, buf, sizeof buf);
    assert_string_equal(buf, "NaN");
    pw_prom_value(1.0 / 0.0, buf, sizeof buf);
    assert_string_equal(buf, "+Inf");
    pw_prom_value(-1.0 / 0.0, buf, sizeof buf);
    assert_string_equal(buf, "-Inf");
    /* The extremes fit and read back exactly. */
    n = pw_prom_value(1.7976931348623157e308, buf, sizeof buf);
    assert_int_equal(n, 309);
    assert_true(strtod(buf, NULL) == 1.7976931348623157e308);
    n = pw_prom_value(4.9406564584124654e-324, buf, sizeof buf);
    assert_true(n > 320 && n < PW_PROM_VALUE_LEN);
    assert_true(strtod(buf, NULL) == 4.9406564584124654e-324);
    assert_int_equal(pw_prom_value(1, buf, 10), 0);      /* too small a buffer: nothing */
}

static void
test_prom_ts(void **state)
{
    char buf[32];

    (void) state;
    pw_prom_ts(1500, buf, sizeof buf);
    assert_string_equal(buf, "1.500");
    pw_prom_ts(1000, buf, sizeof buf);
    assert_string_equal(buf, "1");
    pw_prom_ts(1, buf, sizeof buf);
    assert_string_equal(buf, "0.001");
    pw_prom_ts(-1500, buf, sizeof buf);
    assert_string_equal(buf, "-1.500");
    pw_prom_ts(0, buf, sizeof buf);
    assert_string_equal(buf, "0");
    pw_prom_ts(INT64_C(1793491200123), buf, sizeof buf);
    assert_string_equal(buf, "1793491200.123");
}

/* ---- answers ----------------------------------------------------------------- */

static void
test_answers(void **state)
{
    pw_http_call c;
    json_t      *j;
    json_error_t je;

    (void) state;
    memset(&c, 0, sizeof c);
    pw_http_error(&c, 400, "bad_data", "invalid parameter \"%s\": %s", "query", "x\"y\n\xff");
    assert_int_equal(c.status, 400);
    /* Not UTF-8 in the message: still a valid JSON answer. */
    j = json_loads(c.body.p, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "error");
    assert_string_equal(json_string_value(json_object_get(j, "errorType")), "bad_data");
    json_decref(j);
    pw_http_error(&c, 422, "execution", "%s", "many-to-many \"matching\"");
    j = json_loads(c.body.p, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "many-to-many \"matching\"");
    assert_string_equal(c.detail, "many-to-many \"matching\"");
    json_decref(j);

    pw_http_success(&c, json_pack("[s,s]", "a", "b"));
    assert_int_equal(c.status, 200);
    assert_string_equal(c.body.p, "{\"status\":\"success\",\"data\":[\"a\",\"b\"]}");
    /* A ceiling on the body turns a big answer into 422. */
    c.body.max = 16;
    pw_http_success(&c, json_pack("[s,s]", "aaaaaaaaaa", "bbbbbbbbbbbb"));
    assert_int_equal(c.status, 422);
    pw_http_buf_free(&c.body);
}

static void
test_buf(void **state)
{
    pw_http_buf b = { .max = 10 };

    (void) state;
    assert_int_equal(pw_http_buf_adds(&b, "12345"), PW_OK);
    assert_int_equal(pw_http_buf_addf(&b, "%d", 6789), PW_OK);
    assert_string_equal(b.p, "123456789");
    assert_int_equal(pw_http_buf_adds(&b, "ab"), PW_ETOOBIG);
    assert_string_equal(b.p, "123456789");
    assert_int_equal(pw_http_buf_jstr(&b, "\xff", 1), PW_EPROTO);
    pw_http_buf_reset(&b);
    b.max = 0;
    assert_int_equal(pw_http_buf_jstr(&b, "a\"b\\c\n\xe6\xb1\x89", 9), PW_OK);
    assert_string_equal(b.p, "\"a\\\"b\\\\c\\n\xe6\xb1\x89\"");
    pw_http_buf_reset(&b);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(pw_http_buf_addf(&b, "%0600d", i), PW_OK);
    assert_int_equal(b.len, 2000 * 600);
    pw_http_buf_free(&b);
}

static void
test_object(void **state)
{
    pw_http_call c;
    char         big[600];

    (void) state;
    memset(&c, 0, sizeof c);
    pw_http_set_object(&c, "  \n rate(x[5m])\t ");
    assert_string_equal(c.object, "rate(x[5m])");
    pw_http_set_object(&c, "a\x01" "b\nc\xff");
    assert_string_equal(c.object, "a?b c?");
    /* 254 ASCII bytes, then a 3-byte character: it does not fit and is left out whole. */
    memset(big, 'x', 254);
    strcpy(big + 254, "\xe6\xb1\x89tail");
    pw_http_set_object(&c, big);
    assert_int_equal(strlen(c.object), 254);
    pw_http_set_object(&c, NULL);
    assert_string_equal(c.object, "");
}

/* ---- the failed-authentication limiter ------------------------------------------ */

static void
test_ratelimit(void **state)
{
    pw_http_rl *rl;
    int64_t     retry = 0;
    bool        first = false;

    (void) state;
    assert_int_equal(pw_http_rl_new(4, 3, 1000, &rl), PW_EINVAL);    /* fewer slots than a probe */
    assert_int_equal(pw_http_rl_new(64, 3, 1000, &rl), PW_OK);
    assert_true(pw_http_rl_allow(rl, "10.0.0.1", 0, &retry, &first));   /* unknown: allowed */
    for (int i = 0; i < 3; i++) {
        assert_true(pw_http_rl_allow(rl, "10.0.0.1", 0, &retry, &first));
        pw_http_rl_charge(rl, "10.0.0.1", 0);
    }
    assert_false(pw_http_rl_allow(rl, "10.0.0.1", 0, &retry, &first));
    assert_true(first);
    assert_true(retry > 0 && retry <= 1001);
    assert_false(pw_http_rl_allow(rl, "10.0.0.1", 500, &retry, &first));
    assert_false(first);                                  /* audited once per dry spell */
    assert_true(pw_http_rl_allow(rl, "10.0.0.2", 500, NULL, NULL));     /* others unaffected */
    assert_true(pw_http_rl_allow(rl, "10.0.0.1", 1000, &retry, &first)); /* one token back */
    pw_http_rl_charge(rl, "10.0.0.1", 1000);
    assert_false(pw_http_rl_allow(rl, "10.0.0.1", 1000, &retry, &first));
    assert_true(first);
    /* A flood of new addresses cannot grow the table, nor evict a limited one first. */
    for (int i = 0; i < 10000; i++) {
        char key[32];

        snprintf(key, sizeof key, "192.168.%d.%d", i / 256, i % 256);
        pw_http_rl_charge(rl, key, 1000);
    }
    pw_http_rl_free(rl);
    pw_http_rl_free(NULL);
}

/* ---- the tenant scope ------------------------------------------------------------------ */

static void
test_scope_rules(void **state)
{
    pw_principal   who;
    pw_scope       s;
    pw_series_view a, b, none;
    const char    *ka = "up{host=\"h1\",tenant=\"a\"}", *kb = "up{host=\"h1\",tenant=\"b\"}";
    const char    *kn = "up{host=\"h1\"}";

    (void) state;
    assert_int_equal(pw_series_key_parse(ka, strlen(ka), &a), PW_OK);
    assert_int_equal(pw_series_key_parse(kb, strlen(kb), &b), PW_OK);
    assert_int_equal(pw_series_key_parse(kn, strlen(kn), &none), PW_OK);

    memset(&s, 0, sizeof s);            /* the zero scope sees nothing */
    assert_false(pw_scope_allows(&s, &a));
    assert_false(pw_scope_allows(NULL, &a));

    memset(&who, 0, sizeof who);
    assert_int_equal(pw_scope_for(&who, &s), PW_EINVAL);
    assert_false(pw_scope_allows(&s, &none));
    who.role = PW_ROLE_AUDITOR;
    assert_int_equal(pw_scope_for(&who, &s), PW_OK);
    assert_true(pw_scope_is_all(&s));
    assert_true(pw_scope_allows(&s, &a) && pw_scope_allows(&s, &b) && pw_scope_allows(&s, &none));
    who.role = PW_ROLE_TENANT;
    assert_int_equal(pw_scope_for(&who, &s), PW_EINVAL);       /* a tenant token without tenant */
    assert_false(pw_scope_allows(&s, &none));
    snprintf(who.tenant, sizeof who.tenant, "a");
    assert_int_equal(pw_scope_for(&who, &s), PW_OK);
    assert_false(pw_scope_is_all(&s));
    assert_true(pw_scope_allows(&s, &a));
    assert_false(pw_scope_allows(&s, &b));
    assert_false(pw_scope_allows(&s, &none));
    who.role = (pw_role) 77;
    assert_int_equal(pw_scope_for(&who, &s), PW_EINVAL);
    pw_series_view_free(&a);
    pw_series_view_free(&b);
    pw_series_view_free(&none);
}

/* The inventory hook: tenant "a" owns the series of vm-a1, which carry no tenant label. */
static bool
scope_owns_vm(void *ctx, const char *tenant, const pw_series_view *v)
{
    const char *vm = pw_series_view_label(v, "vm");

    (*(int *) ctx)++;
    return strcmp(tenant, "a") == 0 && vm != NULL && strcmp(vm, "vm-a1") == 0;
}

static void
test_scope_hook(void **state)
{
    pw_scope       s = { .kind = PW_SCOPE_TENANT, .tenant = "a", .owns = scope_owns_vm };
    pw_series_view v, w, b;
    const char    *kv = "vm_cpu{host=\"hv1\",vm=\"vm-a1\"}", *kw = "vm_cpu{host=\"hv1\",vm=\"vm-b1\"}";
    const char    *kb = "up{tenant=\"b\",vm=\"vm-a1\"}";
    int            asked = 0;

    (void) state;
    s.owns_ctx = &asked;
    assert_int_equal(pw_series_key_parse(kv, strlen(kv), &v), PW_OK);
    assert_int_equal(pw_series_key_parse(kw, strlen(kw), &w), PW_OK);
    assert_int_equal(pw_series_key_parse(kb, strlen(kb), &b), PW_OK);
    assert_true(pw_scope_allows(&s, &v));
    assert_false(pw_scope_allows(&s, &w));
    assert_true(asked == 2);
    /* The hook only widens a tenant scope: ALL and NONE never ask it. */
    s.kind = PW_SCOPE_NONE;
    assert_false(pw_scope_allows(&s, &v));
    s.kind = PW_SCOPE_ALL;
    assert_true(pw_scope_allows(&s, &w));
    assert_int_equal(asked, 2);
    pw_series_view_free(&v);
    pw_series_view_free(&w);
    pw_series_view_free(&b);
}

/* A store with series of tenants a and b and without a tenant. */
typedef struct scope_fx scope_fx;
struct scope_fx {
    char     *dir;
    pw_store *st;
};

#define T0 INT64_C(1767225600000)

static int
scope_setup(void **state)
{
    scope_fx     *fx = calloc(1, sizeof *fx);
    tf_frame     *t = calloc(1, sizeof *t);
    pw_store_txn *w;
    uint32_t      s[5];

    fx->dir = tf_tmpdir();
    assert_int_equal(pw_store_open_sized(fx->dir, 0, 1u << 20, &fx->st, NULL, 0), PW_OK);
    tf_init(t, "imp", 1, 1, "");
    s[0] = tf_series(t, "up", "tenant", "a", "host", "h1", NULL);
    s[1] = tf_series(t, "up", "tenant", "a", "host", "h2", NULL);
    s[2] = tf_series(t, "up", "tenant", "b", "host", "h3", NULL);
    s[3] = tf_series(t, "up", "host", "shared", NULL);
    s[4] = tf_series(t, "secret_b", "tenant", "b", "owner", "bureau-b", NULL);
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 10; k++)
            tf_sample(t, s[i], T0 + k * 10000, i + 1);
    assert_int_equal(pw_store_write_begin(fx->st, &w), PW_OK);
    if (pw_store_write_samples(w, &t->f) != PW_OK) {
        char msg[256];

        pw_store_last_error(fx->st, msg, sizeof msg);
        fail_msg("write_samples: %s", msg);
    }
    assert_int_equal(pw_store_write_commit(w), PW_OK);
    free(t);
    *state = fx;
    return 0;
}

static int
scope_teardown(void **state)
{
    scope_fx *fx = *state;

    pw_store_close(fx->st);
    tf_rmdir(fx->dir);
    free(fx);
    return 0;
}

typedef struct scope_seen scope_seen;
struct scope_seen {
    char   keys[16][128];
    size_t n;
};

static int
scope_collect(void *ctx, uint64_t handle, const char *key, size_t keylen, const pw_series_view *v)
{
    scope_seen *s = ctx;

    (void) handle;
    (void) v;
    assert_true(s->n < 16 && keylen < 128);
    memcpy(s->keys[s->n], key, keylen);
    s->keys[s->n][keylen] = '\0';
    s->n++;
    return 0;
}

static size_t
scope_list(const pw_eval_source *src, const char *selector, scope_seen *seen)
{
    pw_selector *sel;

    memset(seen, 0, sizeof *seen);
    assert_int_equal(pw_selector_parse(selector, &sel, NULL, NULL, 0), PW_OK);
    assert_int_equal(src->ops->series(src->ctx, sel, scope_collect, seen), PW_OK);
    pw_selector_free(sel);
    return seen->n;
}

typedef struct scope_sum scope_sum;
struct scope_sum {
    size_t nseries;
    double last;
};

static pw_err
scope_sum_begin(void *ctx, const char *key, size_t keylen, const pw_series_view *v)
{
    (void) key;
    (void) keylen;
    (void) v;
    ((scope_sum *) ctx)->nseries++;
    return PW_OK;
}

static pw_err
scope_sum_point(void *ctx, int64_t ts, double v)
{
    (void) ts;
    ((scope_sum *) ctx)->last = v;
    return PW_OK;
}

static pw_err
scope_sum_end(void *ctx)
{
    (void) ctx;
    return PW_OK;
}

static void
test_scope_store(void **state)
{
    /* Selectors that try to widen themselves past the tenant. */
    static const char *const wide[] = {
        "{tenant=~\".*\",__name__=~\".+\"}", "{__name__=~\".+\"}", "up", "{tenant=\"b\"}",
        "{tenant!=\"a\",__name__=~\".*.\"}",
        "secret_b", "{owner=\"bureau-b\"}", "{tenant=~\"a|b\"}", "{host=~\".+\"}",
    };
    static const size_t want_a[] = { 2, 2, 2, 0, 0, 0, 0, 2, 2 };
    static const pw_query_sink sink = { scope_sum_begin, scope_sum_point, scope_sum_end };
    scope_fx            *fx = *state;
    pw_store_txn        *t;
    pw_eval_store_scoped es;
    pw_eval_store        plain;
    pw_eval_source       src;
    pw_scope             sc = { .kind = PW_SCOPE_TENANT, .tenant = "a" };
    scope_seen           seen;
    pw_expr             *e;
    pw_eval_opts         o = { .start = T0 + 90000, .end = T0 + 90000, .now = T0 + 100000 };
    scope_sum            sum = { 0 };

    assert_int_equal(pw_store_read_begin(fx->st, &t), PW_OK);
    pw_eval_store_source_scoped(&es, t, &sc, &src);
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        if (scope_list(&src, wide[i], &seen) != want_a[i])
            fail_msg("%s: %zu series for tenant a, want %zu", wide[i], seen.n, want_a[i]);
        for (size_t k = 0; k < seen.n; k++)
            assert_non_null(strstr(seen.keys[k], "tenant=\"a\""));
    }
    /* An evaluation counts only what the scope lets through. */
    assert_int_equal(pw_expr_parse("count({__name__=~\".+\"})", &e, NULL, NULL, 0), PW_OK);
    assert_int_equal(pw_eval_range(e, &o, &src, &sink, &sum, NULL, NULL, 0), PW_OK);
    assert_int_equal(sum.nseries, 1);
    assert_true(sum.last == 2);
    /* Tenant b sees its two; NONE sees nothing; the plain source (CLI) all five. */
    snprintf(sc.tenant, sizeof sc.tenant, "b");
    assert_int_equal(scope_list(&src, "{__name__=~\".+\"}", &seen), 2);
    sc.kind = PW_SCOPE_NONE;
    assert_int_equal(scope_list(&src, "{__name__=~\".+\"}", &seen), 0);
    sum.nseries = 0;
    assert_int_equal(pw_eval_range(e, &o, &src, &sink, &sum, NULL, NULL, 0), PW_OK);
    assert_int_equal(sum.nseries, 0);
    pw_eval_store_source(&plain, t, &src);
    assert_int_equal(scope_list(&src, "{__name__=~\".+\"}", &seen), 5);
    pw_expr_free(e);
    pw_store_read_end(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_params_bad),
        cmocka_unit_test(test_path_decode),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_prom_time),
        cmocka_unit_test(test_prom_duration),
        cmocka_unit_test(test_prom_value),
        cmocka_unit_test(test_prom_ts),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_object),
        cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_scope_rules),
        cmocka_unit_test(test_scope_hook),
        cmocka_unit_test_setup_teardown(test_scope_store, scope_setup, scope_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
