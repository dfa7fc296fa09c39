/* expr_test.c - the PromQL subset's parser: trees it builds, errors and positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

/* Writes e as an S-expression-like text: the shape the tests compare. */
static void xt_put(char *buf, size_t len, size_t *o, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
xt_put(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(buf + *o, len - *o, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t) n < len - *o);
    *o += (size_t) n;
}

static void
xt_print(const pw_expr *e, char *buf, size_t len, size_t *o)
{
    switch (e->kind) {
    case PW_EXPR_NUMBER:
        xt_put(buf, len, o, "%g", e->number);
        return;
    case PW_EXPR_SELECTOR:
    case PW_EXPR_RANGE:
        xt_put(buf, len, o, "{");
        for (size_t i = 0; i < pw_selector_count(e->sel); i++) {
            const char *name, *value;
            pw_match_op op;

            pw_selector_matcher(e->sel, i, &name, &op, &value);
            xt_put(buf, len, o, "%s%s%s\"%s\"", i ? "," : "", name, pw_match_op_str(op), value);
        }
        xt_put(buf, len, o, "}");
        if (e->kind == PW_EXPR_RANGE)
            xt_put(buf, len, o, "[%lld]", (long long) e->range_ms);
        return;
    case PW_EXPR_CALL:
        xt_put(buf, len, o, "%s(", pw_expr_fn_name(e->fn));
        if (e->param != NULL) {
            xt_print(e->param, buf, len, o);
            xt_put(buf, len, o, ", ");
        }
        xt_print(e->arg, buf, len, o);
        xt_put(buf, len, o, ")");
        return;
    case PW_EXPR_AGG:
        xt_put(buf, len, o, "%s", pw_expr_agg_name(e->agg));
        if (e->ngrouping > 0 || e->without) {
            xt_put(buf, len, o, " %s(", e->without ? "without" : "by");
            for (size_t i = 0; i < e->ngrouping; i++)
                xt_put(buf, len, o, "%s%s", i ? "," : "", e->grouping[i]);
            xt_put(buf, len, o, ")");
        }
        xt_put(buf, len, o, "(");
        if (e->param != NULL) {
            xt_print(e->param, buf, len, o);
            xt_put(buf, len, o, ", ");
        }
        xt_print(e->arg, buf, len, o);
        xt_put(buf, len, o, ")");
        return;
    case PW_EXPR_BINARY:
        xt_put(buf, len, o, "(");
        xt_print(e->lhs, buf, len, o);
        xt_put(buf, len, o, " %s ", pw_expr_op_name(e->op));
        xt_print(e->rhs, buf, len, o);
        xt_put(buf, len, o, ")");
        return;
    case PW_EXPR_NEG:
        xt_put(buf, len, o, "-(");
        xt_print(e->arg, buf, len, o);
        xt_put(buf, len, o, ")");
        return;
    }
}

typedef struct xt_ok xt_ok;
struct xt_ok {
    const char  *in;
    const char  *tree;
    pw_expr_type type;
};

static void
test_accept(void **state)
{
    static const xt_ok cases[] = {
        { "node_load1", "{__name__=\"node_load1\"}", PW_TYPE_VECTOR },
        { "job:rate:5m", "{__name__=\"job:rate:5m\"}", PW_TYPE_VECTOR },
        { "foo {a=\"b\"}", "{__name__=\"foo\",a=\"b\"}", PW_TYPE_VECTOR },
        { "x{a=\"}\"}", "{__name__=\"x\",a=\"}\"}", PW_TYPE_VECTOR },
        { "{__name__=~\"node_.*\", host=\"a\"}", "{__name__=~\"node_.*\",host=\"a\"}",
          PW_TYPE_VECTOR },
        { "x[5m]", "{__name__=\"x\"}[300000]", PW_TYPE_MATRIX },
        { "x[1h30m]", "{__name__=\"x\"}[5400000]", PW_TYPE_MATRIX },
        { "x[300]", "{__name__=\"x\"}[300000]", PW_TYPE_MATRIX },
        { "x[1.5]", "{__name__=\"x\"}[1500]", PW_TYPE_MATRIX },
        { "x[500ms]", "{__name__=\"x\"}[500]", PW_TYPE_MATRIX },
        { "x[1y2w3d]", "{__name__=\"x\"}[33004800000]", PW_TYPE_MATRIX },
        { "x[15m1s]", "{__name__=\"x\"}[901000]", PW_TYPE_MATRIX },
        { "x{a=\"b\"} [ 5m ]", "{__name__=\"x\",a=\"b\"}[300000]", PW_TYPE_MATRIX },
        { "rate(node_cpu_seconds_total{mode=\"idle\"}[5m])",
          "rate({__name__=\"node_cpu_seconds_total\",mode=\"idle\"}[300000])", PW_TYPE_VECTOR },
        { "irate(x[1m])", "irate({__name__=\"x\"}[60000])", PW_TYPE_VECTOR },
        { "increase(x[1h])", "increase({__name__=\"x\"}[3600000])", PW_TYPE_VECTOR },
        { "delta(x[1h])", "delta({__name__=\"x\"}[3600000])", PW_TYPE_VECTOR },
        { "last_over_time(x[1h])", "last_over_time({__name__=\"x\"}[3600000])", PW_TYPE_VECTOR },
        { "count_over_time((x[1h]))", "count_over_time({__name__=\"x\"}[3600000])",
          PW_TYPE_VECTOR },
        { "quantile_over_time(0.95, x[30d])",
          "quantile_over_time(0.95, {__name__=\"x\"}[2592000000])", PW_TYPE_VECTOR },
        { "quantile_over_time(1 - 0.05, x[1h])",
          "quantile_over_time(0.95, {__name__=\"x\"}[3600000])", PW_TYPE_VECTOR },
        { "100 * (1 - avg_over_time(up[1d]))",
          "(100 * (1 - avg_over_time({__name__=\"up\"}[86400000])))", PW_TYPE_VECTOR },
        { "sum by (host) (rate(x[5m]))", "sum by(host)(rate({__name__=\"x\"}[300000]))",
          PW_TYPE_VECTOR },
        { "sum(rate(x[5m])) by (host)", "sum by(host)(rate({__name__=\"x\"}[300000]))",
          PW_TYPE_VECTOR },
        { "sum without (cpu, mode) (x)", "sum without(cpu,mode)({__name__=\"x\"})",
          PW_TYPE_VECTOR },
        { "sum without () (x)", "sum without()({__name__=\"x\"})", PW_TYPE_VECTOR },
        { "sum by (b, a, b,) (x)", "sum by(a,b)({__name__=\"x\"})", PW_TYPE_VECTOR },
        { " sum ( x ) by ( a ) ", "sum by(a)({__name__=\"x\"})", PW_TYPE_VECTOR },
        { "avg(x)", "avg({__name__=\"x\"})", PW_TYPE_VECTOR },
        { "min(x) by (on)", "min by(on)({__name__=\"x\"})", PW_TYPE_VECTOR },
        { "count(x) % 2", "(count({__name__=\"x\"}) % 2)", PW_TYPE_VECTOR },
        { "topk(3, x)", "topk(3, {__name__=\"x\"})", PW_TYPE_VECTOR },
        { "bottomk by (host) (2, x)", "bottomk by(host)(2, {__name__=\"x\"})", PW_TYPE_VECTOR },
        { "1 + 2 * 3", "7", PW_TYPE_SCALAR },
        { "(1 + 2) * 3", "9", PW_TYPE_SCALAR },
        { "- -1", "1", PW_TYPE_SCALAR },
        { "7 % 4 / 2", "1.5", PW_TYPE_SCALAR },
        { "Inf", "inf", PW_TYPE_SCALAR },
        { "-inf", "-inf", PW_TYPE_SCALAR },
        { "NaN", "nan", PW_TYPE_SCALAR },
        { "0x1f", "31", PW_TYPE_SCALAR },
        { "1e3", "1000", PW_TYPE_SCALAR },
        { ".5", "0.5", PW_TYPE_SCALAR },
        { "x + y * 2", "({__name__=\"x\"} + ({__name__=\"y\"} * 2))", PW_TYPE_VECTOR },
        { "x - y - z", "(({__name__=\"x\"} - {__name__=\"y\"}) - {__name__=\"z\"})",
          PW_TYPE_VECTOR },
        { "x / y", "({__name__=\"x\"} / {__name__=\"y\"})", PW_TYPE_VECTOR },
        { "-x", "-({__name__=\"x\"})", PW_TYPE_VECTOR },
        { "+x", "{__name__=\"x\"}", PW_TYPE_VECTOR },
        { "-x * 2", "(-({__name__=\"x\"}) * 2)", PW_TYPE_VECTOR },
        { "2 - -x", "(2 - -({__name__=\"x\"}))", PW_TYPE_VECTOR },
        { "rate", "{__name__=\"rate\"}", PW_TYPE_VECTOR },
        { "((((x))))", "{__name__=\"x\"}", PW_TYPE_VECTOR },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pw_expr *e = NULL;
        char     msg[256], tree[1024];
        size_t   pos = 99, o = 0;

        if (pw_expr_parse(cases[i].in, &e, &pos, msg, sizeof msg) != PW_OK)
            fail_msg("`%s` rejected: %s", cases[i].in, msg);
        xt_print(e, tree, sizeof tree, &o);
        if (strcmp(tree, cases[i].tree) != 0)
            fail_msg("`%s`:\n got  %s\n want %s", cases[i].in, tree, cases[i].tree);
        if (e->type != cases[i].type)
            fail_msg("`%s`: type %s, want %s", cases[i].in, pw_expr_type_name(e->type),
                pw_expr_type_name(cases[i].type));
        pw_expr_free(e);
    }
}

typedef struct xt_bad xt_bad;
struct xt_bad {
    const char *in;
    size_t      pos;     /* 0-based byte offset */
    const char *msg;     /* must occur in the message */
    pw_err      code;
};

static void
test_reject(void **state)
{
    static const xt_bad cases[] = {
        { "", 0, "no expression found in input", PW_EPROTO },
        { "   ", 3, "no expression found in input", PW_EPROTO },
        { "rate(x)", 5, "expected type range vector in call to function \"rate\", got instant "
          "vector", PW_EPROTO },
        { "rate(1)", 5, "expected type range vector in call to function \"rate\", got scalar",
          PW_EPROTO },
        { "rate(x[5m], y[5m])", 0, "expected 1 argument(s) in call to \"rate\", got 2",
          PW_EPROTO },
        { "rate()", 0, "expected 1 argument(s) in call to \"rate\", got 0", PW_EPROTO },
        { "rate(x[5m],)", 11, "trailing commas not allowed in function call args", PW_EPROTO },
        { "quantile_over_time(x, y[5m])", 19, "expected type scalar in call to function "
          "\"quantile_over_time\", got instant vector", PW_EPROTO },
        { "quantile_over_time(0.5)", 0, "expected 2 argument(s)", PW_EPROTO },
        { "sum(x[5m])", 4, "expected type instant vector in aggregation expression, got range "
          "vector", PW_EPROTO },
        { "sum(1)", 4, "expected type instant vector in aggregation expression, got scalar",
          PW_EPROTO },
        { "topk(x)", 0, "wrong number of arguments for aggregate expression provided, expected 2, "
          "got 1", PW_EPROTO },
        { "sum(x, y)", 0, "expected 1, got 2", PW_EPROTO },
        { "topk(x, y)", 5, "expected type scalar in aggregation parameter, got instant vector",
          PW_EPROTO },
        { "sum()", 0, "no arguments for aggregate expression provided", PW_EPROTO },
        { "sum", 3, "unexpected end of input in aggregation, expected \"(\"", PW_EPROTO },
        { "sum by (a) (x) by (b)", 15, "unexpected identifier \"by\" in aggregation", PW_EPROTO },
        { "sum by a (x)", 7, "unexpected identifier \"a\" in grouping opts, expected \"(\"",
          PW_EPROTO },
        { "sum by (a b) (x)", 10, "unexpected identifier \"b\" in grouping opts, expected \",\" "
          "or \")\"", PW_EPROTO },
        { "sum by (a:b) (x)", 8, "invalid label name for grouping: \"a:b\"", PW_EPROTO },
        { "sum by (1) (x)", 8, "in grouping opts, expected label", PW_EPROTO },
        { "abs(x)", 0, "not supported: function \"abs\"", PW_EPROTO },
        { "histogram_quantile(0.9, x)", 0, "not supported: function \"histogram_quantile\"",
          PW_EPROTO },
        { "foo_bar(x)", 0, "unknown function with name \"foo_bar\"", PW_EPROTO },
        { "quantile(0.9, x)", 0, "not supported: aggregation \"quantile\"", PW_EPROTO },
        { "stddev(x)", 0, "not supported: aggregation \"stddev\"", PW_EPROTO },
        { "x offset 5m", 2, "not supported: offset modifier", PW_EPROTO },
        { "rate(x[5m] offset 1h)", 11, "not supported: offset modifier", PW_EPROTO },
        { "x @ 100", 2, "not supported: @ modifier", PW_EPROTO },
        { "rate(x[5m:1m])", 6, "not supported: subqueries", PW_EPROTO },
        { "x > 1", 2, "not supported: comparison operator \">\"", PW_EPROTO },
        { "x == bool 1", 2, "not supported: comparison operator \"==\"", PW_EPROTO },
        { "x and y", 2, "not supported: set operator \"and\"", PW_EPROTO },
        { "x ^ 2", 2, "not supported: operator \"^\"", PW_EPROTO },
        { "x atan2 y", 2, "not supported: operator \"atan2\"", PW_EPROTO },
        { "x + on(a) y", 4, "not supported: vector matching modifier \"on\"", PW_EPROTO },
        { "x / ignoring(a) y", 4, "not supported: vector matching modifier \"ignoring\"",
          PW_EPROTO },
        { "'foo'", 0, "not supported: string literals", PW_EPROTO },
        { "sum(x)[5m]", 0, "ranges only allowed for vector selectors", PW_EPROTO },
        { "(x)[5m]", 0, "ranges only allowed for vector selectors", PW_EPROTO },
        { "x[5m][5m]", 0, "ranges only allowed for vector selectors", PW_EPROTO },
        { "x[0s]", 2, "duration must be greater than 0", PW_EPROTO },
        { "x[5x]", 2, "bad number or duration syntax: \"5x\"", PW_EPROTO },
        { "x[5m30h]", 2, "bad number or duration syntax: \"5m30h\"", PW_EPROTO },
        { "x[1.5m]", 2, "bad number or duration syntax", PW_EPROTO },
        { "x[1.2.3]", 2, "bad number or duration syntax", PW_EPROTO },
        { "x[m5]", 2, "unexpected identifier \"m5\" in range selector, expected a duration",
          PW_EPROTO },
        { "x[-5m]", 2, "unexpected \"-\" in range selector", PW_EPROTO },
        { "x[11y]", 2, "duration out of range", PW_EPROTO },
        { "x[5m", 4, "unexpected end of input in range selector, expected \"]\"", PW_EPROTO },
        { "(x", 0, "unclosed left parenthesis", PW_EPROTO },
        { "(x y)", 3, "unexpected identifier \"y\" in parenthesized expression", PW_EPROTO },
        { "x)", 1, "unexpected right parenthesis \")\"", PW_EPROTO },
        { ")", 0, "unexpected right parenthesis \")\"", PW_EPROTO },
        { "x y", 2, "unexpected identifier \"y\", expected an operator or the end of the "
          "expression", PW_EPROTO },
        { "x + ", 4, "unexpected end of input, expected an expression", PW_EPROTO },
        { "x + *", 4, "unexpected \"*\", expected an expression", PW_EPROTO },
        { "5m", 0, "bad number or duration syntax: \"5m\"", PW_EPROTO },
        { "by", 0, "unexpected identifier \"by\", expected an expression", PW_EPROTO },
        { "x # comment", 2, "unexpected \"#\"", PW_EPROTO },
        { "x[5m] + 1", 0, "binary expression must contain only scalar and instant vector types",
          PW_EPROTO },
        { "1 - x[5m]", 4, "binary expression must contain only scalar and instant vector types",
          PW_EPROTO },
        { "-x[5m]", 0, "unary expression only allowed on expressions of type scalar or instant "
          "vector", PW_EPROTO },
        /* Selector errors come from selector.h, positioned in the whole expression. */
        { "x{a=\"b\"", 7, "expected \",\" or \"}\" after a matcher, found end of input",
          PW_EPROTO },
        { "sum(x{host=~\"(\"})", 6, "bad regular expression for label \"host\"", PW_EPROTO },
        { "rate(x{a<\"b\"}[5m])", 8, "expected \"=\", \"!=\", \"=~\" or \"!~\" after label name "
          "\"a\"", PW_EPROTO },
        { "{}", 0, "the selector needs a metric name", PW_EPROTO },
        { "1 + {a=\"\"}", 4, "the selector needs a metric name", PW_EPROTO },
        { "x{__name__=\"y\"}", 2, "metric name given twice", PW_EPROTO },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pw_expr *e = (pw_expr *) 1;
        char     msg[512];
        size_t   pos = 9999;
        pw_err   rc = pw_expr_parse(cases[i].in, &e, &pos, msg, sizeof msg);
        char     at[32];

        if (rc == PW_OK)
            fail_msg("`%s` accepted", cases[i].in);
        assert_null(e);
        if (rc != cases[i].code)
            fail_msg("`%s`: code %s, want %s (%s)", cases[i].in, pw_strerror(rc),
                pw_strerror(cases[i].code), msg);
        if (pos != cases[i].pos)
            fail_msg("`%s`: error at %zu, want %zu (%s)", cases[i].in, pos, cases[i].pos, msg);
        if (strstr(msg, cases[i].msg) == NULL)
            fail_msg("`%s`: message \"%s\" lacks \"%s\"", cases[i].in, msg, cases[i].msg);
        /* Messages name the (1-based) position first, like selector.h's. */
        snprintf(at, sizeof at, "at position %zu: ", cases[i].pos + 1);
        if (strncmp(msg, at, strlen(at)) != 0)
            fail_msg("`%s`: message \"%s\" does not start with \"%s\"", cases[i].in, msg, at);
    }
}

static void
test_limits(void **state)
{
    char    *s = malloc(PW_EXPR_MAX_LEN + 64);
    pw_expr *e;
    char     msg[256];
    size_t   pos, n;

    (void) state;
    /* Length. */
    memset(s, 'x', PW_EXPR_MAX_LEN + 1);
    s[PW_EXPR_MAX_LEN + 1] = '\0';
    assert_int_equal(pw_expr_parse(s, &e, &pos, msg, sizeof msg), PW_ETOOBIG);
    assert_int_equal(pos, PW_EXPR_MAX_LEN);
    s[PW_EXPR_MAX_LEN] = '\0';      /* exactly the limit: a (long) metric name, too long */
    assert_int_equal(pw_expr_parse(s, &e, &pos, msg, sizeof msg), PW_ETOOBIG);

    /* Depth: 64 parentheses are fine, 65 are not. */
    for (int depth = 63; depth <= 64; depth++) {
        n = 0;
        for (int i = 0; i < depth; i++)
            s[n++] = '(';
        s[n++] = 'x';
        for (int i = 0; i < depth; i++)
            s[n++] = ')';
        s[n] = '\0';
        if (depth == 63) {
            assert_int_equal(pw_expr_parse(s, &e, &pos, msg, sizeof msg), PW_OK);
            pw_expr_free(e);
        } else {
            assert_int_equal(pw_expr_parse(s, &e, &pos, msg, sizeof msg), PW_ETOOBIG);
            assert_non_null(strstr(msg, "nests deeper than 64"));
            assert_int_equal(pos, 64);
        }
    }
    /* Unary chains count as nesting too. */
    n = 0;
    for (int i = 0; i < 200; i++)
        s[n++] = '-';
    memcpy(s + n, "x", 2);
    assert_int_equal(pw_expr_parse(s, &e, &pos, msg, sizeof msg), PW_ETOOBIG);

    /* Nodes: x + x + ... */
    n = 0;
    s[n++] = 'x';
    for (int i = 0; i < PW_EXPR_MAX_NODES; i++) {
        memcpy(s + n, "+x", 2);
        n += 2;
    }
    s[n] = '\0';
    assert_int_equal(pw_expr_parse(s, &e, &pos, msg, sizeof msg), PW_ETOOBIG);
    assert_non_null(strstr(msg, "more than 512 nodes"));
    /* Folded numbers do not count: 1+1+...+1 is one node. */
    n = 0;
    s[n++] = '1';
    for (int i = 0; i < 2 * PW_EXPR_MAX_NODES; i++) {
        memcpy(s + n, "+1", 2);
        n += 2;
    }
    s[n] = '\0';
    assert_int_equal(pw_expr_parse(s, &e, &pos, msg, sizeof msg), PW_OK);
    assert_int_equal(e->kind, PW_EXPR_NUMBER);
    assert_true(e->number == 2 * PW_EXPR_MAX_NODES + 1);
    pw_expr_free(e);
    free(s);
}

static void
test_spans_and_names(void **state)
{
    pw_expr *e;

    (void) state;
    assert_int_equal(pw_expr_parse("  sum(rate(x[5m])) by (h)", &e, NULL, NULL, 0), PW_OK);
    assert_int_equal(e->pos, 2);
    assert_int_equal(e->arg->pos, 6);
    assert_int_equal(e->arg->end, 17);
    assert_int_equal(e->arg->arg->pos, 11);
    assert_int_equal(e->arg->arg->end, 16);
    pw_expr_free(e);
    /* NULL errpos and errbuf are fine on errors too. */
    e = (pw_expr *) 1;
    assert_int_equal(pw_expr_parse("rate(", &e, NULL, NULL, 0), PW_EPROTO);
    assert_null(e);
    assert_string_equal(pw_expr_fn_name(PW_FN_QUANTILE_OVER_TIME), "quantile_over_time");
    assert_string_equal(pw_expr_agg_name(PW_AGG_BOTTOMK), "bottomk");
    assert_string_equal(pw_expr_op_name(PW_OP_MOD), "%");
    assert_string_equal(pw_expr_type_name(PW_TYPE_MATRIX), "range vector");
    assert_true(isinf(pw_expr_apply(PW_OP_DIV, 1, 0)));
    assert_true(isnan(pw_expr_apply(PW_OP_DIV, 0, 0)));
    assert_true(pw_expr_apply(PW_OP_MOD, -7, 3) == -1);    /* fmod: sign of the dividend, as Go */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_reject),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_spans_and_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
