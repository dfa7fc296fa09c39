/* selector_test.c - selector parsing (accept/reject with positions) and matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"

typedef struct st_accept st_accept;
struct st_accept {
    const char *in;
    const char *metric;     /* pw_selector_metric, NULL if none */
    size_t      count;
    const char *last_value; /* value of the last matcher, unescaped */
};

static void
test_accept(void **state)
{
    static const st_accept cases[] = {
        { "up", "up", 1, "up" },
        { "  up \t\n", "up", 1, "up" },
        { "up{}", "up", 1, "up" },
        { "node_cpu_seconds_total{mode=\"idle\"}", "node_cpu_seconds_total", 2, "idle" },
        { "m{a=\"1\",b!=\"2\",c=~\"x|y\",d!~\"z.*\"}", "m", 5, "z.*" },
        { "m{a=\"1\",}", "m", 2, "1" },
        { "m:rule:sum { a = \"b\" , c != \"d\" }", "m:rule:sum", 3, "d" },
        { "{__name__=\"m\"}", "m", 1, "m" },
        { "{__name__=~\"m.*\"}", NULL, 1, "m.*" },
        { "{__name__!=\"x\", job=\"j\"}", NULL, 2, "j" },
        { "{job=\"x\"}", NULL, 1, "x" },
        { "{a=\"\",b=\"x\"}", NULL, 2, "x" },
        { "{a=~\".+\"}", NULL, 1, ".+" },
        { "m{a='single \"q\"'}", "m", 2, "single \"q\"" },
        { "m{a=`raw\\n\"'`}", "m", 2, "raw\\n\"'" },
        { "m{a=\"\\x41\\101\\u00e9\\U0001F600\\t\\\"\\\\\"}", "m", 2,
          "AA\xc3\xa9\xf0\x9f\x98\x80\t\"\\" },
        { "m{a='\\''}", "m", 2, "'" },
        { "m{a=\"\\a\\b\\f\\n\\r\\v\"}", "m", 2, "\a\b\f\n\r\v" },
        { "m{a=\"caf\xc3\xa9\"}", "m", 2, "caf\xc3\xa9" },
        { "_m{_l=\"v\"}", "_m", 2, "v" },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pw_selector *sel = NULL;
        char         msg[256];
        size_t       pos = 99, n;
        const char  *name, *value;
        pw_match_op  op;
        pw_err       e = pw_selector_parse(cases[i].in, &sel, &pos, msg, sizeof msg);

        if (e != PW_OK)
            fail_msg("case %zu `%s`: %s", i, cases[i].in, msg);
        n = pw_selector_count(sel);
        assert_int_equal(n, cases[i].count);
        if (cases[i].metric == NULL)
            assert_null(pw_selector_metric(sel));
        else
            assert_string_equal(pw_selector_metric(sel), cases[i].metric);
        pw_selector_matcher(sel, n - 1, &name, &op, &value);
        assert_string_equal(value, cases[i].last_value);
        pw_selector_free(sel);
    }
}

typedef struct st_reject st_reject;
struct st_reject {
    const char *in;
    pw_err      err;
    size_t      pos;        /* 0-based byte offset */
    const char *msg;        /* substring of the message */
};

static void
test_reject(void **state)
{
    static const st_reject cases[] = {
        { "", PW_EPROTO, 0, "expected a metric name or \"{\", found end of input" },
        { "   ", PW_EPROTO, 3, "found end of input" },
        { "{}", PW_EPROTO, 0, "at least one matcher that does not match the empty string" },
        { "{a=\"\"}", PW_EPROTO, 0, "does not match the empty string" },
        { "{a=~\".*\",b!=\"x\"}", PW_EPROTO, 0, "does not match the empty string" },
        { "m{a}", PW_EPROTO, 3,
          "expected \"=\", \"!=\", \"=~\" or \"!~\" after label name \"a\", found \"}\"" },
        { "m{a<\"x\"}", PW_EPROTO, 3, "after label name \"a\", found \"<\"" },
        { "m{a=\"x\"", PW_EPROTO, 7, "expected \",\" or \"}\" after a matcher, found end of input" },
        { "m{a=\"x\" b=\"y\"}", PW_EPROTO, 8, "expected \",\" or \"}\" after a matcher, found \"b\"" },
        { "m{a=\"x}", PW_EPROTO, 4, "unterminated string" },
        { "m{a=\"x\ny\"}", PW_EPROTO, 4, "unterminated string" },
        { "m{a=x}", PW_EPROTO, 4, "expected a quoted string, found \"x\"" },
        { "m{1a=\"x\"}", PW_EPROTO, 2, "expected a label name or \"}\", found \"1\"" },
        { "m{a=\"x\",,}", PW_EPROTO, 8, "expected a label name" },
        { "m a", PW_EPROTO, 2, "expected \"{\" or the end after the metric name, found \"a\"" },
        { "m{a=\"x\"} b", PW_EPROTO, 9, "expected the end of the selector after \"}\"" },
        { "1m", PW_EPROTO, 0, "expected a metric name or \"{\", found \"1\"" },
        { "m{__name__=\"n\"}", PW_EPROTO, 2, "metric name given twice" },
        { "m{a=\"\\q\"}", PW_EPROTO, 5, "unknown escape sequence" },
        { "m{a=\"\\'\"}", PW_EPROTO, 5, "not allowed in a double-quoted string" },
        { "m{a='\\\"'}", PW_EPROTO, 5, "not allowed in a single-quoted string" },
        { "m{a=\"\\x4\"}", PW_EPROTO, 5, "needs 2 hex digits" },
        { "m{a=\"\\400\"}", PW_EPROTO, 5, "over 255" },
        { "m{a=\"\\19\"}", PW_EPROTO, 5, "needs 3 octal digits" },
        { "m{a=\"\\uD800\"}", PW_EPROTO, 5, "not a valid Unicode code point" },
        { "m{a=\"\\x00\"}", PW_EPROTO, 4, "cannot contain NUL" },
        { "m{a=\"\\", PW_EPROTO, 5, "unterminated escape" },
        { "m{a=~\"(\"}", PW_EPROTO, 2, "bad regular expression for label \"a\"" },
        { "m{a=\"x\"}\x01", PW_EPROTO, 8, "found byte 0x01" },
        { "m{a.b=\"x\"}", PW_EPROTO, 3, "found \".\"" },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pw_selector *sel = (pw_selector *) 1;
        char         msg[256];
        size_t       pos = 999;
        pw_err       e = pw_selector_parse(cases[i].in, &sel, &pos, msg, sizeof msg);

        if (e != cases[i].err || pos != cases[i].pos || strstr(msg, cases[i].msg) == NULL)
            fail_msg("case %zu `%s`: got %s at %zu: \"%s\"; want %s at %zu: \"%s\"", i,
                cases[i].in, pw_strerror(e), pos, msg, pw_strerror(cases[i].err), cases[i].pos,
                cases[i].msg);
        assert_null(sel);
    }
}

static void
test_error_message_exact(void **state)
{
    pw_selector *sel;
    char         msg[256];
    size_t       pos;

    (void) state;
    assert_int_equal(pw_selector_parse("node_cpu{mode<\"idle\"}", &sel, &pos, msg, sizeof msg),
        PW_EPROTO);
    assert_int_equal(pos, 13);
    assert_string_equal(msg, "at position 14: expected \"=\", \"!=\", \"=~\" or \"!~\" after "
        "label name \"mode\", found \"<\"");
    /* errbuf and errpos are optional. */
    assert_int_equal(pw_selector_parse("m{", &sel, NULL, NULL, 0), PW_EPROTO);
}

static void
test_limits(void **state)
{
    static char  buf[PW_SELECTOR_MAX_LEN + 64];
    pw_selector *sel;
    char         msg[256];
    size_t       pos, o;

    (void) state;
    /* Too long. */
    memset(buf, 'a', PW_SELECTOR_MAX_LEN + 1);
    buf[PW_SELECTOR_MAX_LEN + 1] = '\0';
    assert_int_equal(pw_selector_parse(buf, &sel, &pos, msg, sizeof msg), PW_ETOOBIG);
    assert_int_equal(pos, PW_SELECTOR_MAX_LEN);

    /* Metric name over PW_MAX_METRIC_LEN. */
    memset(buf, 'a', PW_MAX_METRIC_LEN + 1);
    buf[PW_MAX_METRIC_LEN + 1] = '\0';
    assert_int_equal(pw_selector_parse(buf, &sel, &pos, msg, sizeof msg), PW_ETOOBIG);
    assert_int_equal(pos, 0);

    /* Exactly the most matchers is fine, one more is not. */
    o = (size_t) snprintf(buf, sizeof buf, "m{");
    for (int i = 1; i < PW_SELECTOR_MAX_MATCHERS; i++)
        o += (size_t) snprintf(buf + o, sizeof buf - o, "l%d=\"v\",", i);
    snprintf(buf + o, sizeof buf - o, "}");
    assert_int_equal(pw_selector_parse(buf, &sel, &pos, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_selector_count(sel), PW_SELECTOR_MAX_MATCHERS);
    pw_selector_free(sel);
    snprintf(buf + o, sizeof buf - o, "x=\"y\"}");
    assert_int_equal(pw_selector_parse(buf, &sel, &pos, msg, sizeof msg), PW_ETOOBIG);
    assert_int_equal(pos, o);
    assert_non_null(strstr(msg, "more than"));
}

/* Does selector `s` match canonical key `key`? */
static bool
st_match(const char *s, const char *key)
{
    pw_selector   *sel;
    pw_series_view v;
    char           msg[256];
    bool           r;

    if (pw_selector_parse(s, &sel, NULL, msg, sizeof msg) != PW_OK)
        fail_msg("parse `%s`: %s", s, msg);
    assert_int_equal(pw_series_key_parse(key, strlen(key), &v), PW_OK);
    r = pw_selector_match(sel, &v);
    pw_series_view_free(&v);
    pw_selector_free(sel);
    return r;
}

static void
test_match(void **state)
{
    (void) state;
    assert_true(st_match("m", "m"));
    assert_true(st_match("m", "m{a=\"1\"}"));
    assert_false(st_match("m", "mm{a=\"1\"}"));
    assert_true(st_match("m{a=\"1\"}", "m{a=\"1\",b=\"2\"}"));
    assert_false(st_match("m{a=\"1\"}", "m{a=\"2\"}"));
    assert_false(st_match("m{a=\"1\"}", "n{a=\"1\"}"));
    /* A missing label is "". */
    assert_true(st_match("m{b=\"\"}", "m{a=\"1\"}"));
    assert_false(st_match("m{b=\"\"}", "m{b=\"x\"}"));
    assert_true(st_match("m{b!=\"x\"}", "m{a=\"1\"}"));
    assert_false(st_match("m{b!=\"x\"}", "m{b=\"x\"}"));
    assert_true(st_match("m{b!~\"x.*\"}", "m"));
    /* Regexes are anchored at both ends, alternation included. */
    assert_true(st_match("m{a=~\"1|2\"}", "m{a=\"2\"}"));
    assert_false(st_match("m{a=~\"1|2\"}", "m{a=\"12\"}"));
    assert_false(st_match("m{a=~\"1\"}", "m{a=\"01\"}"));
    assert_true(st_match("m{a=~\"web[0-9]+\"}", "m{a=\"web12\"}"));
    assert_false(st_match("m{a!~\"web[0-9]+\"}", "m{a=\"web12\"}"));
    assert_true(st_match("{__name__=~\"node_.*\"}", "node_load1{host=\"h\"}"));
    assert_false(st_match("{__name__=~\"node_.*\"}", "xnode_load1"));
    assert_true(st_match("{__name__!=\"a\",host=\"h\"}", "b{host=\"h\"}"));
    /* Escaped values compare unescaped. */
    assert_true(st_match("m{v=\"q\\\"b\\\\n\\n\"}", "m{v=\"q\\\"b\\\\n\\n\"}"));
    assert_true(st_match("m{v=`a\\b`}", "m{v=\"a\\\\b\"}"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_reject),
        cmocka_unit_test(test_error_message_exact),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_match),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
