/*
 * import_test.c - `poolwatch import`: the Prometheus text and
 * VictoriaMetrics JSON parsers (accept and reject tables with their exact
 * messages, escapes, timestamps, NaN/Inf and staleness, sniffing) and
 * pw_store_write_samples (no host label, no agent, history merged in, bad
 * series refused without spoiling the txn).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "import.h"
#include "store.h"
#include "test_fixture.h"

#define IT_T0      INT64_C(1767225600000)      /* 2026-01-01T00:00:00Z */
#define IT_DEFAULT INT64_C(1780000000000)      /* --default-time in these tests */

/* ---- a sink that keeps what it gets ----------------------------------- */

typedef struct it_point it_point;
struct it_point {
    char    key[256];          /* canonical key of the series */
    int64_t ts;
    double  v;
};

typedef struct it_sink it_sink;
struct it_sink {
    size_t   n, calls;
    it_point p[16];
    pw_err   fail;             /* returned by every call if set */
};

static pw_err
it_points(void *ctx, const pw_import_series *s, const int64_t *ts, const double *v, size_t n)
{
    it_sink *k = ctx;
    char     key[2048];
    size_t   klen;

    assert_true(n >= 1);
    /* The contract: labels sorted, unique, values non-empty. */
    for (size_t i = 0; i < s->nlabels; i++) {
        assert_true(s->labels[i].value[0] != '\0');
        if (i > 0)
            assert_true(strcmp(s->labels[i - 1].name, s->labels[i].name) < 0);
    }
    assert_int_equal(pw_series_key_format(s->metric, s->labels, s->nlabels, key, sizeof key,
        &klen), PW_OK);
    k->calls++;
    if (k->fail != PW_OK)
        return k->fail;
    for (size_t i = 0; i < n && k->n < 16; i++, k->n++) {
        /* Long keys (limit tests) are only checked for being accepted. */
        size_t m = klen < sizeof k->p[0].key ? klen : sizeof k->p[0].key - 1;

        memcpy(k->p[k->n].key, key, m);
        k->p[k->n].key[m] = '\0';
        k->p[k->n].ts = ts[i];
        k->p[k->n].v = v[i];
    }
    return PW_OK;
}

/* Parses one line (a C string) with a fresh state; err gets the message. */
static pw_err
it_parse(const pw_import_format *f, const char *line, it_sink *k, char *err, size_t errlen)
{
    pw_import_opts o = { .default_ts_ms = IT_DEFAULT };
    pw_import_sink sink = { it_points, k };
    void          *st = NULL;
    pw_err         e;

    memset(k, 0, sizeof *k);
    assert_int_equal(f->open(&o, &st), PW_OK);
    e = f->parse_line(st, line, strlen(line), &sink, err, errlen);
    f->close(st);
    return e;
}

static uint64_t
it_bits(double v)
{
    uint64_t b;

    memcpy(&b, &v, sizeof b);
    return b;
}

/* ---- accept tables ---------------------------------------------------- */

typedef struct it_ok it_ok;
struct it_ok {
    const char *line;
    const char *key;       /* NULL: the line gives no point */
    double      v;         /* compared bit for bit unless NaN */
    int64_t     ts;
};

static void
it_check_ok(const pw_import_format *f, const it_ok *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const it_ok *c = &cases[i];
        char         err[256] = "";
        it_sink      k;
        pw_err       e = it_parse(f, c->line, &k, err, sizeof err);

        if (e != PW_OK)
            fail_msg("%s: \"%s\" refused: %s (%s)", f->name, c->line, err, pw_strerror(e));
        if (c->key == NULL) {
            assert_int_equal(k.calls, 0);
            continue;
        }
        if (k.n != 1)
            fail_msg("%s: \"%s\" gave %zu points", f->name, c->line, k.n);
        assert_string_equal(k.p[0].key, c->key);
        assert_true(k.p[0].ts == c->ts);
        if (isnan(c->v))
            assert_true(isnan(k.p[0].v) && !pw_import_is_stale(k.p[0].v));
        else
            assert_true(it_bits(k.p[0].v) == it_bits(c->v));
    }
}

static void
test_prom_accept(void **state)
{
    static const it_ok cases[] = {
        { "node_load1 0.25 1767225600000", "node_load1", 0.25, IT_T0 },
        { "node_load1{host=\"h1\"} 0.5 1767225600000", "node_load1{host=\"h1\"}", 0.5, IT_T0 },
        /* labels sorted, blanks around tokens, trailing comma, CRLF */
        { "  m { b = \"2\" ,\ta=\"1\", }  7   1767225600000 \r", "m{a=\"1\",b=\"2\"}", 7, IT_T0 },
        { "m{} 1 1767225600000", "m", 1, IT_T0 },
        /* escapes: \\ \" \n come back escaped in the canonical key */
        { "m{p=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",r=\"a\\nb\"} 1 1767225600000",
          "m{p=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",r=\"a\\nb\"}", 1, IT_T0 },
        /* UTF-8 and braces inside values */
        { "m{city=\"Zürich}{,\"} 1 1767225600000", "m{city=\"Zürich}{,\"}", 1, IT_T0 },
        /* an empty value means no label */
        { "m{a=\"\",b=\"x\"} 1 1767225600000", "m{b=\"x\"}", 1, IT_T0 },
        /* numbers */
        { "m 1e3 1767225600000", "m", 1000, IT_T0 },
        { "m -2.5E-3 1767225600000", "m", -0.0025, IT_T0 },
        { "m .5 1767225600000", "m", 0.5, IT_T0 },
        { "m 5. 1767225600000", "m", 5, IT_T0 },
        { "m +17 1767225600000", "m", 17, IT_T0 },
        { "m 9007199254740993 1767225600000", "m", 9007199254740992.0, IT_T0 },
        { "m 0.1 1767225600000", "m", 0.1, IT_T0 },
        { "m -0 1767225600000", "m", -0.0, IT_T0 },
        { "m 1e-400 1767225600000", "m", 0, IT_T0 },
        { "m +Inf 1767225600000", "m", INFINITY, IT_T0 },
        { "m -Inf 1767225600000", "m", -INFINITY, IT_T0 },
        { "m inf 1767225600000", "m", INFINITY, IT_T0 },
        { "m Infinity 1767225600000", "m", INFINITY, IT_T0 },
        { "m -infinity 1767225600000", "m", -INFINITY, IT_T0 },
        { "m NaN 1767225600000", "m", NAN, IT_T0 },
        { "m nan 1767225600000", "m", NAN, IT_T0 },
        /* timestamps: none, ms, OpenMetrics seconds rounded to the ms */
        { "m 1", "m", 1, IT_DEFAULT },
        { "m 1   ", "m", 1, IT_DEFAULT },
        { "m 1 1767225600.5", "m", 1, IT_T0 + 500 },
        { "m 1 1767225600.123456", "m", 1, IT_T0 + 123 },
        { "m 1 1767225600.1235", "m", 1, IT_T0 + 124 },
        { "m 1 1767225600.", "m", 1, IT_T0 },
        { "m 1 1767225599.9995", "m", 1, IT_T0 },
        { "m 1 946684800000", "m", 1, INT64_C(946684800000) },        /* the first ms allowed */
        { "m 1 +1767225600000", "m", 1, IT_T0 },
        /* OpenMetrics exemplars are dropped */
        { "m_bucket{le=\"1\"} 3 # {trace_id=\"abc\"} 0.5 1767225600.1", "m_bucket{le=\"1\"}", 3,
          IT_DEFAULT },
        { "m_bucket{le=\"1\"} 3 1767225600000 # {trace_id=\"abc\"} 0.5", "m_bucket{le=\"1\"}", 3,
          IT_T0 },
        /* the name as label __name__, as `promtool tsdb dump` writes it */
        { "{__name__=\"up\", job=\"prometheus\", instance=\"localhost:9090\"} 1 1767225600000",
          "up{instance=\"localhost:9090\",job=\"prometheus\"}", 1, IT_T0 },
        { "{ job=\"x\", __name__=\"a:b\" } 1.5e+06 1767225600000", "a:b{job=\"x\"}", 1.5e6, IT_T0 },
        /* colons in metric names (recording rules), underscores first */
        { "job:rate5m:sum 2 1767225600000", "job:rate5m:sum", 2, IT_T0 },
        { "_x{_l=\"v\"} 2 1767225600000", "_x{_l=\"v\"}", 2, IT_T0 },
        /* lines without a point */
        { "", NULL, 0, 0 },
        { "   \t \r", NULL, 0, 0 },
        { "# HELP m Some help with \"quotes\" and \\ backslashes", NULL, 0, 0 },
        { "# TYPE m counter", NULL, 0, 0 },
        { "#", NULL, 0, 0 },
        { "  # indented comment", NULL, 0, 0 },
    };

    (void) state;
    it_check_ok(&pw_import_prom, cases, sizeof cases / sizeof cases[0]);
}

/* The parser's own decimal conversion reads every value exactly as strtod does. */
static void
test_prom_values_exact(void **state)
{
    pw_import_opts o = { .default_ts_ms = IT_DEFAULT };
    it_sink        k = { 0 };
    pw_import_sink sink = { it_points, &k };
    uint64_t       x = 88172645463325252u;        /* xorshift64: the same cases every run */
    char           line[64], err[256];
    void          *st;

    (void) state;
    assert_int_equal(pw_import_prom.open(&o, &st), PW_OK);
    for (int i = 0; i < 200000; i++) {
        char   num[40];
        int    ndig, point, o2 = 0;
        size_t len;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ndig = 1 + (int) (x % 19);                   /* up to 19 digits: past the fast path */
        point = (int) ((x >> 8) % (uint64_t) (ndig + 2)) - 1;   /* -1: no point */
        if ((x >> 20) & 1)
            num[o2++] = '-';
        for (int d = 0; d < ndig; d++) {
            if (d == point)
                num[o2++] = '.';
            num[o2++] = (char) ('0' + (x >> (24 + d * 2)) % 10);
        }
        num[o2] = '\0';
        len = (size_t) snprintf(line, sizeof line, "m %s", num);
        k.n = 0;
        assert_int_equal(pw_import_prom.parse_line(st, line, len, &sink, err, sizeof err), PW_OK);
        if (it_bits(k.p[0].v) != it_bits(strtod(num, NULL)))
            fail_msg("\"%s\" read as %.17g, strtod says %.17g", num, k.p[0].v,
                strtod(num, NULL));
    }
    pw_import_prom.close(st);
}

static void
test_vm_accept(void **state)
{
    static const it_ok cases[] = {
        { "{\"metric\":{\"__name__\":\"up\",\"job\":\"node\",\"instance\":\"h:9100\"},"
          "\"values\":[1],\"timestamps\":[1767225600000]}",
          "up{instance=\"h:9100\",job=\"node\"}", 1, IT_T0 },
        { " {\"timestamps\":[1767225600000],\"values\":[0.1],\"metric\":{\"__name__\":\"m\"}} \r",
          "m", 0.1, IT_T0 },
        /* escapes arrive decoded and are escaped again in the key */
        { "{\"metric\":{\"__name__\":\"m\",\"p\":\"a\\\\b\\\"c\\nd\\u00fc\"},\"values\":[2],"
          "\"timestamps\":[1767225600000]}", "m{p=\"a\\\\b\\\"c\\nd\xc3\xbc\"}", 2, IT_T0 },
        { "{\"metric\":{\"__name__\":\"m\",\"a\":\"\"},\"values\":[2],"
          "\"timestamps\":[1767225600000]}", "m", 2, IT_T0 },
        /* numbers: integers beyond int64 and exponents; the specials VM writes */
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[123456789012345678901234567890],"
          "\"timestamps\":[1767225600000]}", "m", 123456789012345678901234567890.0, IT_T0 },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[-1.5e-7],"
          "\"timestamps\":[1767225600000]}", "m", -1.5e-7, IT_T0 },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[\"Infinity\"],"
          "\"timestamps\":[1767225600000]}", "m", INFINITY, IT_T0 },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[\"-Infinity\"],"
          "\"timestamps\":[1767225600000]}", "m", -INFINITY, IT_T0 },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[\"inf\"],"
          "\"timestamps\":[1767225600000]}", "m", INFINITY, IT_T0 },
        /* timestamps as reals are fine when whole */
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[1],\"timestamps\":[1.7672256e12]}",
          "m", 1, IT_T0 },
        /* other keys are ignored, as VictoriaMetrics does */
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[1],\"timestamps\":[1767225600000],"
          "\"extra\":{\"x\":[1,2]}}", "m", 1, IT_T0 },
        { "", NULL, 0, 0 },
        { "  \r", NULL, 0, 0 },
    };

    (void) state;
    it_check_ok(&pw_import_vm, cases, sizeof cases / sizeof cases[0]);
}

/* A VM line of several points is one sink call; NaNs are staleness markers. */
static void
test_vm_points_and_staleness(void **state)
{
    char    err[256];
    it_sink k;

    (void) state;
    assert_int_equal(it_parse(&pw_import_vm,
        "{\"metric\":{\"__name__\":\"m\",\"host\":\"h1\"},"
        "\"values\":[1,null,\"NaN\",\"-nan\",\"Null\",2.5],"
        "\"timestamps\":[1767225600000,1767225601000,1767225602000,1767225603000,"
        "1767225604000,1767225599000]}", &k, err, sizeof err), PW_OK);
    assert_int_equal(k.calls, 1);
    assert_int_equal(k.n, 6);
    assert_true(k.p[0].v == 1 && k.p[0].ts == IT_T0);
    for (size_t i = 1; i <= 4; i++) {
        assert_true(pw_import_is_stale(k.p[i].v));
        assert_true(k.p[i].ts == IT_T0 + (int64_t) i * 1000);
    }
    /* order is kept as written: the store merges history */
    assert_true(k.p[5].v == 2.5 && k.p[5].ts == IT_T0 - 1000);
    assert_string_equal(k.p[5].key, "m{host=\"h1\"}");
}

static void
test_staleness_bits(void **state)
{
    uint64_t stale = PW_IMPORT_STALE_NAN;
    double   v;
    char     err[256];
    it_sink  k;

    (void) state;
    memcpy(&v, &stale, sizeof v);
    assert_true(isnan(v));
    assert_true(pw_import_is_stale(v));
    assert_false(pw_import_is_stale(NAN));
    assert_false(pw_import_is_stale(0.0));
    /* the text format has no way to write the marker: its NaN is a value */
    assert_int_equal(it_parse(&pw_import_prom, "m NaN 1767225600000", &k, err, sizeof err), PW_OK);
    assert_false(pw_import_is_stale(k.p[0].v));
}

/* ---- reject tables ---------------------------------------------------- */

typedef struct it_bad it_bad;
struct it_bad {
    const char *line;
    pw_err      e;
    const char *msg;       /* exact, unless it ends in '*': then a prefix */
};

static void
it_check_bad(const pw_import_format *f, const it_bad *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const it_bad *c = &cases[i];
        size_t        ml = strlen(c->msg);
        char          err[512];
        it_sink       k;
        pw_err        e = it_parse(f, c->line, &k, err, sizeof err);

        if (e != c->e)
            fail_msg("%s: \"%s\": %s (%s), expected %s", f->name, c->line, pw_strerror(e), err,
                pw_strerror(c->e));
        assert_int_equal(k.calls, 0);
        if (c->msg[ml - 1] == '*' ? strncmp(err, c->msg, ml - 1) != 0 : strcmp(err, c->msg) != 0)
            fail_msg("%s: \"%s\": message\n  \"%s\", expected\n  \"%s\"", f->name, c->line, err,
                c->msg);
    }
}

static void
test_prom_reject(void **state)
{
    static const it_bad cases[] = {
        { "{a=\"1\"} 1", PW_EPROTO, "no metric name, neither before \"{\" nor as label __name__" },
        { "m{__name__=\"x\"} 1", PW_EPROTO,
          "the metric name is given twice (label __name__)" },
        { "{__name__=\"x\",__name__=\"y\"} 1", PW_EPROTO,
          "the metric name is given twice (label __name__)" },
        { "{__name__=\"\"} 1", PW_EPROTO, "label __name__ is empty" },
        { "{__name__=\"a.b\"} 1", PW_EPROTO,
          "metric name \"a.b\" is not valid ([a-zA-Z_:][a-zA-Z0-9_:]*)" },
        { "0m 1", PW_EPROTO, "metric name \"0m\" starts with a digit" },
        { "-m 1", PW_EPROTO, "expected a metric name at column 1" },
        { "foo-bar 1", PW_EPROTO, "unexpected \"-\" at column 4" },
        { "m", PW_EPROTO, "no value after m" },
        { "m{a=\"1\"}", PW_EPROTO, "no value after m" },
        { "m{a=\"1\"}1", PW_EPROTO, "unexpected \"1\" at column 9" },
        { "m{a=\"1\" 1", PW_EPROTO,
          "expected \",\" or \"}\" after the value of label \"a\" at column 9" },
        { "m{a=\"1\",", PW_EPROTO, "the labels have no closing \"}\"" },
        { "m{a=\"1} 1", PW_EPROTO, "the value of label \"a\" has no closing quote" },
        { "m{a=\"1\\", PW_EPROTO, "the value of label \"a\" has no closing quote" },
        { "m{a 1", PW_EPROTO, "expected \"=\" after label name \"a\" at column 5" },
        { "m{a=1} 1", PW_EPROTO, "expected a quoted value for label \"a\" at column 5" },
        { "m{=\"1\"} 1", PW_EPROTO, "expected a label name at column 3" },
        { "m{1a=\"1\"} 1", PW_EPROTO, "label name \"1a\" starts with a digit" },
        { "m{a-b=\"1\"} 1", PW_EPROTO, "expected \"=\" after label name \"a\" at column 4" },
        { "m{a=\"1\",a=\"2\"} 1", PW_EPROTO, "label \"a\" appears twice" },
        { "m{a=\"x\\ty\"} 1", PW_EPROTO,
          "unknown escape \"\\t\" in the value of label \"a\" at column 7 "
          "(only \\\\, \\\" and \\n)" },
        { "m{a=\"\xff\"} 1", PW_EPROTO, "the value of label \"a\" is not valid UTF-8" },
        { "m abc", PW_EPROTO, "value \"abc\" is not a number" },
        { "m 0x10", PW_EPROTO, "value \"0x10\" is not a number" },
        { "m 1e", PW_EPROTO, "value \"1e\" is not a number" },
        { "m .", PW_EPROTO, "value \".\" is not a number" },
        { "m 1,5", PW_EPROTO, "value \"1,5\" is not a number" },
        { "m +NaN", PW_EPROTO, "value \"+NaN\" is not a number" },
        { "m 1e999", PW_EPROTO, "value \"1e999\" is out of the range of a float64" },
        { "m 1 1767225600", PW_EPROTO,
          "timestamp 1767225600 is before the year 2000 in milliseconds; it looks like seconds "
          "(the Prometheus text format counts milliseconds)" },
        { "m 1 0", PW_EPROTO,
          "timestamp 0 is outside 2000-01-01..2200-01-01 (milliseconds since the epoch)" },
        { "m 1 -1767225600000", PW_EPROTO,
          "timestamp -1767225600000 is outside 2000-01-01..2200-01-01 "
          "(milliseconds since the epoch)" },
        { "m 1 7258118400000", PW_EPROTO,
          "timestamp 7258118400000 is outside 2000-01-01..2200-01-01 "
          "(milliseconds since the epoch)" },
        { "m 1 99999999999999999999999", PW_EPROTO,
          "timestamp 99999999999999999999999 is outside 2000-01-01..2200-01-01 "
          "(milliseconds since the epoch)" },
        { "m 1 1767225600000.5", PW_EPROTO,
          "timestamp 1767225600000.5 is outside 2000-01-01..2200-01-01" },
        { "m 1 946684799.9994", PW_EPROTO,
          "timestamp 946684799.9994 is outside 2000-01-01..2200-01-01 "
          "(milliseconds since the epoch)" },
        { "m 1 1.7e12", PW_EPROTO,
          "timestamp \"1.7e12\" is neither integer milliseconds nor decimal seconds" },
        { "m 1 abc", PW_EPROTO,
          "timestamp \"abc\" is neither integer milliseconds nor decimal seconds" },
        { "m 1 1767225600000 5", PW_EPROTO, "unexpected text after the timestamp at column 19" },
    };
    static char line[PW_IMPORT_PROM_MAX_LINE + 16];
    char        err[512];
    size_t      n;
    it_sink     k;

    (void) state;
    it_check_bad(&pw_import_prom, cases, sizeof cases / sizeof cases[0]);

    /* A NUL byte inside the line (strlen above stops at it: pass the length). */
    {
        pw_import_opts o = { .default_ts_ms = IT_DEFAULT };
        pw_import_sink sink = { it_points, &k };
        void          *st;

        memset(&k, 0, sizeof k);
        assert_int_equal(pw_import_prom.open(&o, &st), PW_OK);
        assert_int_equal(pw_import_prom.parse_line(st, "m 1\0 2", 6, &sink, err, sizeof err),
            PW_EPROTO);
        assert_string_equal(err, "line holds a NUL byte");
        pw_import_prom.close(st);
    }

    /* Limits: name and value lengths, label count, line length. */
    memset(line, 'a', PW_MAX_METRIC_LEN + 1);
    strcpy(line + PW_MAX_METRIC_LEN + 1, " 1");
    assert_int_equal(it_parse(&pw_import_prom, line, &k, err, sizeof err), PW_ETOOBIG);
    assert_string_equal(err, "metric name aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa... is longer "
        "than 200 bytes");
    memset(line, 'a', PW_MAX_METRIC_LEN);
    strcpy(line + PW_MAX_METRIC_LEN, " 1");
    assert_int_equal(it_parse(&pw_import_prom, line, &k, err, sizeof err), PW_OK);

    n = (size_t) sprintf(line, "m{l=\"");
    memset(line + n, 'v', PW_MAX_LABEL_VALUE_LEN + 1);
    strcpy(line + n + PW_MAX_LABEL_VALUE_LEN + 1, "\"} 1");
    assert_int_equal(it_parse(&pw_import_prom, line, &k, err, sizeof err), PW_ETOOBIG);
    assert_string_equal(err, "the value of label \"l\" is longer than 1024 bytes");
    strcpy(line + n + PW_MAX_LABEL_VALUE_LEN, "\"} 1");
    assert_int_equal(it_parse(&pw_import_prom, line, &k, err, sizeof err), PW_OK);

    n = (size_t) sprintf(line, "m{");
    for (int i = 0; i < PW_MAX_LABELS; i++)
        n += (size_t) sprintf(line + n, "l%02d=\"v\",", i);
    strcpy(line + n, "} 1");
    assert_int_equal(it_parse(&pw_import_prom, line, &k, err, sizeof err), PW_OK);
    strcpy(line + n, "e=\"\",} 1");            /* empty values do not count */
    assert_int_equal(it_parse(&pw_import_prom, line, &k, err, sizeof err), PW_OK);
    strcpy(line + n, "x=\"1\"} 1");
    assert_int_equal(it_parse(&pw_import_prom, line, &k, err, sizeof err), PW_ETOOBIG);
    assert_string_equal(err, "more than 32 labels");

    memset(line, ' ', PW_IMPORT_PROM_MAX_LINE + 1);
    memcpy(line, "m 1", 3);
    line[PW_IMPORT_PROM_MAX_LINE + 1] = '\0';
    assert_int_equal(it_parse(&pw_import_prom, line, &k, err, sizeof err), PW_ETOOBIG);
    assert_string_equal(err, "line is longer than 65536 bytes");
    line[PW_IMPORT_PROM_MAX_LINE] = '\0';
    assert_int_equal(it_parse(&pw_import_prom, line, &k, err, sizeof err), PW_OK);
}

static void
test_vm_reject(void **state)
{
    static const it_bad cases[] = {
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[1],\"timestamps\":[1767225600000]",
          PW_EPROTO, "not valid JSON at column *" },
        { "[1,2]", PW_EPROTO, "not a JSON object" },
        { "{\"values\":[1],\"timestamps\":[1767225600000]}", PW_EPROTO,
          "\"metric\" is missing or not an object" },
        { "{\"metric\":{\"job\":\"x\"},\"values\":[1],\"timestamps\":[1767225600000]}", PW_EPROTO,
          "\"metric\" has no \"__name__\"" },
        { "{\"metric\":{\"__name__\":\"a.b\"},\"values\":[1],\"timestamps\":[1767225600000]}",
          PW_EPROTO, "metric name \"a.b\" is not valid ([a-zA-Z_:][a-zA-Z0-9_:]*)" },
        { "{\"metric\":{\"__name__\":\"m\",\"a-b\":\"1\"},\"values\":[1],"
          "\"timestamps\":[1767225600000]}", PW_EPROTO,
          "label name \"a-b\" is not valid ([a-zA-Z_][a-zA-Z0-9_]*)" },
        { "{\"metric\":{\"__name__\":\"m\",\"a\":1},\"values\":[1],\"timestamps\":[1767225600000]}",
          PW_EPROTO, "the value of label \"a\" is not a string" },
        { "{\"metric\":{\"__name__\":\"m\",\"a\":\"1\",\"a\":\"2\"},\"values\":[1],"
          "\"timestamps\":[1767225600000]}", PW_EPROTO, "not valid JSON at column *" },
        { "{\"metric\":{\"__name__\":\"m\"},\"timestamps\":[1767225600000]}", PW_EPROTO,
          "\"values\" is missing, empty or not an array" },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[],\"timestamps\":[]}", PW_EPROTO,
          "\"values\" is missing, empty or not an array" },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[1]}", PW_EPROTO,
          "\"timestamps\" is missing, empty or not an array" },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[1,2],\"timestamps\":[1767225600000]}",
          PW_EPROTO, "2 values but 1 timestamps" },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[1,true],"
          "\"timestamps\":[1767225600000,1767225601000]}", PW_EPROTO,
          "values[1] is not a number, null, \"NaN\" or \"[-]Infinity\"" },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[\"12\"],\"timestamps\":[1767225600000]}",
          PW_EPROTO, "values[0] is not a number, null, \"NaN\" or \"[-]Infinity\"" },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[1],\"timestamps\":[1767225600000.5]}",
          PW_EPROTO, "timestamps[0] is not an integer" },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[1],\"timestamps\":[\"1767225600000\"]}",
          PW_EPROTO, "timestamps[0] is not an integer" },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[1,2],"
          "\"timestamps\":[1767225600000,1767225600]}", PW_EPROTO,
          "timestamps[1] = 1767225600 is outside 2000-01-01..2200-01-01 in milliseconds "
          "(seconds?)" },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[1],\"timestamps\":[-5]}", PW_EPROTO,
          "timestamps[0] = -5 is outside 2000-01-01..2200-01-01 in milliseconds" },
        { "{\"metric\":{\"__name__\":\"m\",\"a\":\"\\u0000\"},\"values\":[1],"
          "\"timestamps\":[1767225600000]}", PW_EPROTO, "not valid JSON at column *" },
        { "{\"metric\":{\"__name__\":\"m\",\"a\":\"\xff\"},\"values\":[1],"
          "\"timestamps\":[1767225600000]}", PW_EPROTO, "not valid JSON at column *" },
        { "{\"metric\":{\"__name__\":\"m\"},\"values\":[NaN],\"timestamps\":[1767225600000]}",
          PW_EPROTO, "not valid JSON at column *" },
    };
    static char line[PW_IMPORT_VM_MAX_LINE + 64];
    char        err[512];
    size_t      n;
    it_sink     k;

    (void) state;
    it_check_bad(&pw_import_vm, cases, sizeof cases / sizeof cases[0]);

    n = (size_t) sprintf(line, "{\"metric\":{\"__name__\":\"m\"");
    for (int i = 0; i <= PW_MAX_LABELS; i++)
        n += (size_t) sprintf(line + n, ",\"l%02d\":\"v\"", i);
    strcpy(line + n, "},\"values\":[1],\"timestamps\":[1767225600000]}");
    assert_int_equal(it_parse(&pw_import_vm, line, &k, err, sizeof err), PW_ETOOBIG);
    assert_string_equal(err, "more than 32 labels");

    memset(line, ' ', PW_IMPORT_VM_MAX_LINE + 1);
    line[PW_IMPORT_VM_MAX_LINE + 1] = '\0';
    assert_int_equal(it_parse(&pw_import_vm, line, &k, err, sizeof err), PW_ETOOBIG);
    assert_string_equal(err, "line is longer than 1048576 bytes");
}

/* `# EOF` ends the input; the sink's own errors pass through unchanged. */
static void
test_prom_eof_and_sink_errors(void **state)
{
    static const char vm[] =
        "{\"metric\":{\"__name__\":\"m\"},\"values\":[1],\"timestamps\":[1767225600000]}";
    pw_import_opts    o = { .default_ts_ms = IT_DEFAULT };
    it_sink           k = { 0 };
    pw_import_sink    sink = { it_points, &k };
    char              err[256];
    void             *st;

    (void) state;
    assert_int_equal(pw_import_prom.open(&o, &st), PW_OK);
    assert_int_equal(pw_import_prom.parse_line(st, "m 1", 3, &sink, err, sizeof err), PW_OK);
    assert_int_equal(pw_import_prom.parse_line(st, "# EOF", 5, &sink, err, sizeof err), PW_OK);
    assert_int_equal(pw_import_prom.parse_line(st, "", 0, &sink, err, sizeof err), PW_OK);
    assert_int_equal(pw_import_prom.parse_line(st, "m 2", 3, &sink, err, sizeof err), PW_EPROTO);
    assert_string_equal(err, "text after \"# EOF\", which ends the input");
    assert_int_equal(pw_import_prom.parse_line(st, "# x", 3, &sink, err, sizeof err), PW_EPROTO);
    assert_int_equal(k.n, 1);
    pw_import_prom.close(st);

    /* "# EOFX" or "#EOF" are comments, not the end */
    assert_int_equal(pw_import_prom.open(&o, &st), PW_OK);
    assert_int_equal(pw_import_prom.parse_line(st, "#EOF", 4, &sink, err, sizeof err), PW_OK);
    assert_int_equal(pw_import_prom.parse_line(st, "# EOFX", 6, &sink, err, sizeof err), PW_OK);
    assert_int_equal(pw_import_prom.parse_line(st, "m 3", 3, &sink, err, sizeof err), PW_OK);
    pw_import_prom.close(st);

    k.fail = PW_EFULL;
    assert_int_equal(pw_import_prom.open(&o, &st), PW_OK);
    err[0] = 'x';
    assert_int_equal(pw_import_prom.parse_line(st, "m 1", 3, &sink, err, sizeof err), PW_EFULL);
    assert_string_equal(err, "");
    pw_import_prom.close(st);
    assert_int_equal(pw_import_vm.open(&o, &st), PW_OK);
    assert_int_equal(pw_import_vm.parse_line(st, vm, strlen(vm), &sink, err, sizeof err), PW_EFULL);
    assert_string_equal(err, "");
    pw_import_vm.close(st);
}

static void
test_sniff(void **state)
{
    static const struct {
        const char *line;
        int         prom, vm;
    } cases[] = {
        { "# HELP m help", 1, 0 },
        { "m 1", 1, 0 },
        { "  m{a=\"1\"} 1", 1, 0 },
        { ":m 1", 1, 0 },
        { "{\"metric\":{}}", 0, 2 },
        { "  { \"metric\":{}}", 0, 2 },
        { "{__name__=\"up\"} 1", 1, 0 },
        { "{ job=\"x\"} 1", 1, 0 },
        { "{", 0, 0 },
        { "{}", 0, 0 },
        { "[1]", 0, 0 },
        { "-1", 0, 0 },
        { "", 0, 0 },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].line);

        assert_int_equal(pw_import_prom.sniff(cases[i].line, len), cases[i].prom);
        assert_int_equal(pw_import_vm.sniff(cases[i].line, len), cases[i].vm);
    }
    assert_string_equal(pw_import_prom.name, "prom");
    assert_string_equal(pw_import_vm.name, "vm");
    assert_int_equal(pw_import_prom.max_line, PW_IMPORT_PROM_MAX_LINE);
    assert_int_equal(pw_import_vm.max_line, PW_IMPORT_VM_MAX_LINE);
}

/* ---- pw_store_write_samples ------------------------------------------- */

static int
it_setup(void **state)
{
    *state = tf_tmpdir();
    return 0;
}

static int
it_teardown(void **state)
{
    tf_rmdir(*state);
    return 0;
}

typedef struct it_keys it_keys;
struct it_keys {
    size_t   n;
    uint64_t ids[8];
    char     keys[8][512];
};

static int
it_on_series(void *ctx, uint64_t id, const char *key, size_t keylen)
{
    it_keys *l = ctx;

    if (l->n < 8 && keylen < 512) {
        l->ids[l->n] = id;
        memcpy(l->keys[l->n], key, keylen);
        l->keys[l->n][keylen] = '\0';
        l->n++;
    }
    return 0;
}

typedef struct it_pts it_pts;
struct it_pts {
    size_t  n;
    int64_t ts[16];
    double  v[16];
};

static int
it_on_point(void *ctx, int64_t ts, double v)
{
    it_pts *p = ctx;

    if (p->n < 16) {
        p->ts[p->n] = ts;
        p->v[p->n] = v;
        p->n++;
    }
    return 0;
}

static int
it_on_agent(void *ctx, const pw_agent_info *a)
{
    (void) a;
    (*(size_t *) ctx)++;
    return 0;
}

/*
 * pw_store_write_series creates the series the samples name, with no point,
 * and the same ids pw_store_write_samples then finds; a bad frame is refused
 * whole.
 */
static void
test_store_write_series(void **state)
{
    pw_store     *s;
    pw_store_txn *t;
    tf_frame      fr, bad;
    it_keys       keys = { 0 }, again = { 0 };
    it_pts        pts = { 0 };
    char          msg[256];

    assert_int_equal(pw_store_open(*state, 0, &s, msg, sizeof msg), PW_OK);
    tf_init(&fr, "", 0, 0, "");
    tf_sample(&fr, tf_series(&fr, "ser", "k", "a", NULL), IT_T0, 1);
    tf_sample(&fr, tf_series(&fr, "ser", "k", "b", NULL), IT_T0, 2);
    tf_series(&fr, "ser_unused", NULL);                 /* no sample: not created */
    tf_sample(&fr, 0, IT_T0 + 1000, 3);
    assert_int_equal(pw_store_write_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_write_series(t, &fr.f), PW_OK);
    tf_init(&bad, "", 0, 0, "");
    tf_sample(&bad, tf_series(&bad, "0bad", NULL), IT_T0, 1);
    assert_int_equal(pw_store_write_series(t, &bad.f), PW_EPROTO);
    assert_int_equal(pw_store_write_commit(t), PW_OK);

    assert_int_equal(pw_store_read_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_series_scan(t, NULL, it_on_series, &keys), PW_OK);
    assert_int_equal(keys.n, 2);
    assert_string_equal(keys.keys[0], "ser{k=\"a\"}");
    assert_string_equal(keys.keys[1], "ser{k=\"b\"}");
    assert_int_equal(pw_store_points(t, keys.ids[0], INT64_MIN, INT64_MAX, it_on_point, &pts), PW_OK);
    assert_int_equal(pts.n, 0);                         /* no point stored */
    pw_store_read_end(t);

    /* the points then go to the same series */
    assert_int_equal(pw_store_write_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_write_samples(t, &fr.f), PW_OK);
    assert_int_equal(pw_store_write_commit(t), PW_OK);
    assert_int_equal(pw_store_read_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_series_scan(t, NULL, it_on_series, &again), PW_OK);
    assert_int_equal(again.n, 2);
    assert_true(again.ids[0] == keys.ids[0] && again.ids[1] == keys.ids[1]);
    assert_int_equal(pw_store_points(t, keys.ids[0], INT64_MIN, INT64_MAX, it_on_point, &pts), PW_OK);
    assert_int_equal(pts.n, 2);
    pw_store_read_end(t);
    pw_store_close(s);
}

static void
test_store_write_samples(void **state)
{
    pw_store     *s;
    pw_store_txn *t;
    tf_frame      fr, bad, many, agent;
    it_keys       keys = { 0 };
    it_pts        pts = { 0 };
    size_t        agents = 0;
    char          msg[256], names[PW_MAX_LABELS + 1][8];
    bool          dup;
    uint32_t      a, b;

    assert_int_equal(pw_store_open(*state, 0, &s, msg, sizeof msg), PW_OK);

    /* Series as written: no host label, whatever the header says. */
    tf_init(&fr, "ignored", 1, 1, "hdrhost");
    a = tf_series(&fr, "imp", "job", "x", NULL);
    b = tf_series(&fr, "imp", "host", "h9", NULL);
    tf_series(&fr, "unused", NULL);                     /* no sample: not created */
    tf_sample(&fr, a, IT_T0 + 2000, 2);
    tf_sample(&fr, a, IT_T0 + 1000, 1);                 /* out of order within the frame */
    tf_sample(&fr, b, IT_T0, 0.5);
    assert_int_equal(pw_store_write_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_write_samples(t, &fr.f), PW_OK);
    assert_int_equal(pw_store_write_commit(t), PW_OK);

    /* History older than what the series holds is merged in; same ts replaces. */
    tf_init(&fr, "", 0, 0, "");
    a = tf_series(&fr, "imp", "job", "x", NULL);
    tf_sample(&fr, a, IT_T0 - 5000, -1);
    tf_sample(&fr, a, IT_T0 + 2000, 22);
    assert_int_equal(pw_store_write_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_write_samples(t, &fr.f), PW_OK);

    /* Unstorable samples: refused whole, and the txn goes on. */
    tf_init(&bad, "", 0, 0, "");
    tf_sample(&bad, tf_series(&bad, "ok", NULL), IT_T0, 1);
    tf_sample(&bad, 7, IT_T0, 1);
    assert_int_equal(pw_store_write_samples(t, &bad.f), PW_EPROTO);
    pw_store_last_error(s, msg, sizeof msg);
    assert_string_equal(msg, "samples: sample 1 names series 7 of 1");
    bad.f.nsamples = 1;
    bad.series[0].metric = "0bad";
    assert_int_equal(pw_store_write_samples(t, &bad.f), PW_EPROTO);
    pw_store_last_error(s, msg, sizeof msg);
    assert_string_equal(msg, "samples: series 0 has a bad metric name");

    /* PW_MAX_LABELS labels are fine (no host is added); one more is not. */
    tf_init(&many, "", 0, 0, "h");
    many.series[0].metric = "wide";
    many.series[0].labels = many.labels[0];
    for (int i = 0; i <= PW_MAX_LABELS; i++) {
        snprintf(names[i], sizeof names[i], "l%02d", i);
        many.labels[0][i].name = names[i];
        many.labels[0][i].value = "v";
    }
    many.series[0].nlabels = PW_MAX_LABELS + 1;
    many.f.nseries = 1;
    tf_sample(&many, 0, IT_T0, 1);
    assert_int_equal(pw_store_write_samples(t, &many.f), PW_ETOOBIG);
    pw_store_last_error(s, msg, sizeof msg);
    assert_string_equal(msg, "samples: series wide has more than 32 labels");
    many.series[0].nlabels = PW_MAX_LABELS;
    assert_int_equal(pw_store_write_samples(t, &many.f), PW_OK);
    assert_int_equal(pw_store_write_commit(t), PW_OK);

    /* An agent frame on the same txn path still gets its host label. */
    tf_init(&agent, "a1", 1, 1, "h1");
    tf_sample(&agent, tf_series(&agent, "imp", "job", "x", NULL), IT_T0, 3);
    assert_int_equal(pw_store_write_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_write_frame(t, &agent.f, IT_T0, &dup), PW_OK);
    assert_false(dup);
    assert_int_equal(pw_store_write_commit(t), PW_OK);

    assert_int_equal(pw_store_read_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_series_scan(t, NULL, it_on_series, &keys), PW_OK);
    assert_int_equal(keys.n, 4);
    assert_string_equal(keys.keys[0], "imp{host=\"h1\",job=\"x\"}");
    assert_string_equal(keys.keys[1], "imp{host=\"h9\"}");
    assert_string_equal(keys.keys[2], "imp{job=\"x\"}");
    assert_true(strncmp(keys.keys[3], "wide{l00=\"v\"", 12) == 0);
    assert_int_equal(pw_store_points(t, keys.ids[2], INT64_MIN, INT64_MAX, it_on_point, &pts),
        PW_OK);
    assert_int_equal(pts.n, 3);
    assert_true(pts.ts[0] == IT_T0 - 5000 && pts.v[0] == -1);
    assert_true(pts.ts[1] == IT_T0 + 1000 && pts.v[1] == 1);
    assert_true(pts.ts[2] == IT_T0 + 2000 && pts.v[2] == 22);
    /* Only the agent frame made an agent record. */
    assert_int_equal(pw_store_agents(t, it_on_agent, &agents), PW_OK);
    assert_int_equal(agents, 1);
    pw_store_read_end(t);
    pw_store_close(s);
}

/* Non-finite values are kept bit for bit: the store is not the place to judge them. */
static void
test_store_nonfinite(void **state)
{
    pw_store     *s;
    pw_store_txn *t;
    tf_frame      fr;
    it_pts        pts = { 0 };
    it_keys       keys = { 0 };

    assert_int_equal(pw_store_open(*state, 0, &s, NULL, 0), PW_OK);
    tf_init(&fr, "", 0, 0, "");
    tf_sample(&fr, tf_series(&fr, "nf", NULL), IT_T0, NAN);
    tf_sample(&fr, 0, IT_T0 + 1, INFINITY);
    tf_sample(&fr, 0, IT_T0 + 2, -INFINITY);
    assert_int_equal(pw_store_write_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_write_samples(t, &fr.f), PW_OK);
    assert_int_equal(pw_store_write_commit(t), PW_OK);
    assert_int_equal(pw_store_read_begin(s, &t), PW_OK);
    assert_int_equal(pw_store_series_scan(t, "nf", it_on_series, &keys), PW_OK);
    assert_int_equal(keys.n, 1);
    assert_int_equal(pw_store_points(t, keys.ids[0], INT64_MIN, INT64_MAX, it_on_point, &pts),
        PW_OK);
    pw_store_read_end(t);
    assert_int_equal(pts.n, 3);
    assert_true(isnan(pts.v[0]));
    assert_true(isinf(pts.v[1]) && pts.v[1] > 0);
    assert_true(isinf(pts.v[2]) && pts.v[2] < 0);
    pw_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_accept),
        cmocka_unit_test(test_prom_reject),
        cmocka_unit_test(test_prom_values_exact),
        cmocka_unit_test(test_prom_eof_and_sink_errors),
        cmocka_unit_test(test_vm_accept),
        cmocka_unit_test(test_vm_reject),
        cmocka_unit_test(test_vm_points_and_staleness),
        cmocka_unit_test(test_staleness_bits),
        cmocka_unit_test(test_sniff),
        cmocka_unit_test_setup_teardown(test_store_write_series, it_setup, it_teardown),
        cmocka_unit_test_setup_teardown(test_store_write_samples, it_setup, it_teardown),
        cmocka_unit_test_setup_teardown(test_store_nonfinite, it_setup, it_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
