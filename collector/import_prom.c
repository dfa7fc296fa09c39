/*
 * import_prom.c - the Prometheus text exposition format, one sample a line:
 *
 *     metric{label="value",...} value [timestamp]
 *
 * as `promtool tsdb dump`, /federate, node_exporter's textfile files and
 * `poolwatch-agent --once --format prom` write it; see import.h for the
 * contract and collector/README.md ("poolwatch import") for the rules.
 * The metric name may instead come as label __name__ (`{__name__="up",
 * job="x"} 1 1767225600000`, which is how `promtool tsdb dump` writes
 * series), not both.
 *
 * Grammar, as Prometheus' own parser reads it: blanks (space, tab) around
 * tokens, `{}` may be empty or end in a comma, label values escape \\, \"
 * and \n (other escapes are errors). Values: decimal or exponent notation,
 * NaN, [+-]Inf, [+-]Infinity (any case). Timestamps: integer ms; a number
 * with a fraction is OpenMetrics' seconds (`promtool tsdb dump-openmetrics`)
 * and is rounded to the ms. Lines starting with `#` are comments; `# EOF`
 * (OpenMetrics) ends the input: anything but blank lines after it is bad. An
 * OpenMetrics exemplar (`... # {trace_id="x"} 1`) after the sample is
 * ignored. Samples without a timestamp take opts.default_ts_ms.
 *
 * Static helpers: prom_.
 */
#include "import.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* A value token longer than this is not a number anyone wrote. */
#define PROM_MAX_VALUE 128
/* Digits of a timestamp: 19 fit in int64; more is out of range anyway. */
#define PROM_MAX_TS_DIGITS 18

typedef struct prom_state prom_state;
struct prom_state {
    pw_import_opts opts;
    bool           eof;       /* `# EOF` seen */
    /*
     * NUL-terminated copies of the names and decoded values of one line.
     * Decoding never lengthens a token and each gets one NUL, so twice the
     * longest line is always enough.
     */
    char          *text;
    size_t         textlen;
    pw_label       labels[PW_MAX_LABELS];
};

/* A cursor over one line: pos is what column numbers in messages count. */
typedef struct prom_cur prom_cur;
struct prom_cur {
    const char *line, *p, *end;
    char       *err;
    size_t      errlen;
};

static pw_err prom_fail(prom_cur *c, pw_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static pw_err
prom_fail(prom_cur *c, pw_err e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return e;
}

/* 1-based column of the cursor, for messages. */
static size_t
prom_col(const prom_cur *c)
{
    return (size_t) (c->p - c->line) + 1;
}

/*
 * Writes s[0..n) into dst for a message: at most 40 bytes, bytes outside
 * printable ASCII as \xNN, "..." when cut.
 */
static const char *
prom_show(char *dst, size_t len, const char *s, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 8 < len; i++) {
        unsigned char ch = (unsigned char) s[i];

        if (i == 40) {
            o += (size_t) snprintf(dst + o, len - o, "...");
            break;
        }
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
            dst[o++] = (char) ch;
        else
            o += (size_t) snprintf(dst + o, len - o, "\\x%02x", ch);
    }
    dst[o] = '\0';
    return dst;
}

static bool
prom_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static void
prom_skip_blanks(prom_cur *c)
{
    while (c->p < c->end && prom_blank(*c->p))
        c->p++;
}

static bool
prom_name_char(char ch, bool colon)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
        || ch == '_' || (colon && ch == ':');
}

/* Copies s[0..n) and a NUL into the line's text area. */
static char *
prom_keep(prom_state *st, const char *s, size_t n)
{
    char *d = st->text + st->textlen;

    memcpy(d, s, n);
    d[n] = '\0';
    st->textlen += n + 1;
    return d;
}

static bool
prom_ieq(const char *s, size_t n, const char *lower)
{
    size_t m = strlen(lower);

    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (ch >= 'A' && ch <= 'Z')
            ch = (char) (ch - 'A' + 'a');
        if (ch != lower[i])
            return false;
    }
    return true;
}

/*
 * A value token: what Go's strconv.ParseFloat takes from Prometheus, minus
 * hex floats and digit separators, which no exporter writes.
 */
static pw_err
prom_value(prom_cur *c, const char *s, size_t n, double *out)
{
    char     buf[PROM_MAX_VALUE + 1], show[200];
    size_t   i = 0, digits = 0, frac = 0;
    uint64_t mant = 0;          /* the digits, exact while there are at most 19 */
    bool     neg = false, plain = true;
    char    *endp;

    if (prom_ieq(s, n, "nan")) {
        *out = NAN;
        return PW_OK;
    }
    if (prom_ieq(s, n, "inf") || prom_ieq(s, n, "+inf") || prom_ieq(s, n, "infinity")
        || prom_ieq(s, n, "+infinity")) {
        *out = INFINITY;
        return PW_OK;
    }
    if (prom_ieq(s, n, "-inf") || prom_ieq(s, n, "-infinity")) {
        *out = -INFINITY;
        return PW_OK;
    }
    if (n > PROM_MAX_VALUE)
        return prom_fail(c, PW_ETOOBIG, "value is longer than %d bytes", PROM_MAX_VALUE);
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
        mant = mant * 10 + (uint64_t) (s[i] - '0');
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++, frac++)
            mant = mant * 10 + (uint64_t) (s[i] - '0');
    if (digits > 0 && i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;

        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            exp_digits++;
        if (exp_digits == 0)
            digits = 0;
        plain = false;
    }
    if (digits == 0 || i != n)
        return prom_fail(c, PW_EPROTO, "value \"%s\" is not a number",
            prom_show(show, sizeof show, s, n));
    /*
     * Clinger's fast path: with at most 15 digits the mantissa is an exact
     * double, and so is 10^frac for frac <= 22; one correctly rounded
     * division then gives exactly what strtod gives.
     */
    if (plain && digits <= 15 && frac <= 22) {
        static const double exact10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
            1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

        *out = (double) mant / exact10[frac];
        if (neg)
            *out = -*out;
        return PW_OK;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    *out = strtod(buf, &endp);
    /* The C locale is in force (nothing calls setlocale), so '.' is the point. */
    if (endp != buf + n)
        return prom_fail(c, PW_EPROTO, "value \"%s\" is not a number",
            prom_show(show, sizeof show, s, n));
    if (errno == ERANGE && isinf(*out))
        return prom_fail(c, PW_EPROTO, "value \"%s\" is out of the range of a float64",
            prom_show(show, sizeof show, s, n));
    return PW_OK;
}

/* Checks a timestamp against the wire range, with a hint for seconds. */
static pw_err
prom_ts_range(prom_cur *c, int64_t ms, const char *s, size_t n)
{
    char show[200];

    if (ms >= PW_WIRE_MIN_TS && ms < PW_WIRE_MAX_TS)
        return PW_OK;
    if (ms >= PW_WIRE_MIN_TS / 1000 && ms < PW_WIRE_MAX_TS / 1000)
        return prom_fail(c, PW_EPROTO, "timestamp %s is before the year 2000 in milliseconds; "
            "it looks like seconds (the Prometheus text format counts milliseconds)",
            prom_show(show, sizeof show, s, n));
    return prom_fail(c, PW_EPROTO, "timestamp %s is outside 2000-01-01..2200-01-01 "
        "(milliseconds since the epoch)", prom_show(show, sizeof show, s, n));
}

/* Integer ms, or decimal seconds with a fraction (OpenMetrics). */
static pw_err
prom_timestamp(prom_cur *c, const char *s, size_t n, int64_t *out)
{
    char    show[200];
    size_t  i = 0, idigits = 0;
    bool    neg = false;
    int64_t v = 0, frac = 0;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, idigits++)
        if (idigits < PROM_MAX_TS_DIGITS)
            v = v * 10 + (s[i] - '0');
    if (idigits > PROM_MAX_TS_DIGITS)
        return prom_fail(c, PW_EPROTO, "timestamp %s is outside 2000-01-01..2200-01-01 "
            "(milliseconds since the epoch)", prom_show(show, sizeof show, s, n));
    if (i < n && s[i] == '.') {
        size_t fdigits = 0;

        /* Seconds: ms from the first three fraction digits, rounded by the fourth. */
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, fdigits++) {
            if (fdigits < 3)
                frac = frac * 10 + (s[i] - '0');
            else if (fdigits == 3 && s[i] >= '5')
                frac++;
        }
        for (; fdigits < 3; fdigits++)
            frac *= 10;
        if (idigits > 12)       /* 10^12 s is far past the year 2200 */
            return prom_fail(c, PW_EPROTO, "timestamp %s is outside 2000-01-01..2200-01-01",
                prom_show(show, sizeof show, s, n));
        v = v * 1000 + frac;
    }
    if (idigits == 0 || i != n)
        return prom_fail(c, PW_EPROTO, "timestamp \"%s\" is neither integer milliseconds nor "
            "decimal seconds", prom_show(show, sizeof show, s, n));
    *out = neg ? -v : v;
    return prom_ts_range(c, *out, s, n);
}

/* One `name="value"` pair; *kept is false for an empty value (no label). */
static pw_err
prom_label(prom_state *st, prom_cur *c, pw_label *l, bool *kept)
{
    char        show[200];
    const char *name = c->p;
    size_t      nlen, vlen;
    char       *v;

    while (c->p < c->end && prom_name_char(*c->p, false))
        c->p++;
    nlen = (size_t) (c->p - name);
    if (nlen == 0)
        return prom_fail(c, PW_EPROTO, "expected a label name at column %zu", prom_col(c));
    if (nlen > PW_MAX_LABEL_NAME_LEN)
        return prom_fail(c, PW_ETOOBIG, "label name %s... is longer than %d bytes",
            prom_show(show, sizeof show, name, 40), PW_MAX_LABEL_NAME_LEN);
    if (!pw_label_name_valid(name, nlen))
        return prom_fail(c, PW_EPROTO, "label name \"%s\" starts with a digit",
            prom_show(show, sizeof show, name, nlen));
    prom_skip_blanks(c);
    if (c->p == c->end || *c->p != '=')
        return prom_fail(c, PW_EPROTO, "expected \"=\" after label name \"%s\" at column %zu",
            prom_show(show, sizeof show, name, nlen), prom_col(c));
    c->p++;
    prom_skip_blanks(c);
    if (c->p == c->end || *c->p != '"')
        return prom_fail(c, PW_EPROTO, "expected a quoted value for label \"%s\" at column %zu",
            prom_show(show, sizeof show, name, nlen), prom_col(c));
    c->p++;
    l->name = prom_keep(st, name, nlen);
    v = st->text + st->textlen;
    for (vlen = 0;; c->p++) {
        if (c->p == c->end)
            return prom_fail(c, PW_EPROTO, "the value of label \"%s\" has no closing quote",
                l->name);
        if (*c->p == '"')
            break;
        if (*c->p == '\\') {
            if (++c->p == c->end)
                return prom_fail(c, PW_EPROTO, "the value of label \"%s\" has no closing quote",
                    l->name);
            switch (*c->p) {
            case '\\': v[vlen++] = '\\'; break;
            case '"':  v[vlen++] = '"';  break;
            case 'n':  v[vlen++] = '\n'; break;
            default:
                return prom_fail(c, PW_EPROTO, "unknown escape \"\\%s\" in the value of label "
                    "\"%s\" at column %zu (only \\\\, \\\" and \\n)",
                    prom_show(show, sizeof show, c->p, 1), l->name, prom_col(c) - 1);
            }
        } else {
            v[vlen++] = *c->p;
        }
    }
    c->p++;                                    /* the closing quote */
    v[vlen] = '\0';
    st->textlen += vlen + 1;
    l->value = v;
    *kept = vlen > 0;
    if (vlen > PW_MAX_LABEL_VALUE_LEN)
        return prom_fail(c, PW_ETOOBIG, "the value of label \"%s\" is longer than %d bytes",
            l->name, PW_MAX_LABEL_VALUE_LEN);
    if (vlen > 0 && !pw_label_value_valid(v, vlen))
        return prom_fail(c, PW_EPROTO, "the value of label \"%s\" is not valid UTF-8", l->name);
    return PW_OK;
}

/*
 * The metric name as label __name__ (`{__name__="up",job="x"}`, as
 * `promtool tsdb dump` writes series): *metric, NULL if none came before.
 */
static pw_err
prom_name_label(prom_cur *c, const pw_label *l, bool kept, const char **metric)
{
    char   show[200];
    size_t len = strlen(l->value);

    if (*metric != NULL)
        return prom_fail(c, PW_EPROTO, "the metric name is given twice (label __name__)");
    if (!kept)
        return prom_fail(c, PW_EPROTO, "label __name__ is empty");
    if (len > PW_MAX_METRIC_LEN)
        return prom_fail(c, PW_ETOOBIG, "metric name %s... is longer than %d bytes",
            prom_show(show, sizeof show, l->value, 40), PW_MAX_METRIC_LEN);
    if (!pw_metric_name_valid(l->value, len))
        return prom_fail(c, PW_EPROTO, "metric name \"%s\" is not valid "
            "([a-zA-Z_:][a-zA-Z0-9_:]*)", prom_show(show, sizeof show, l->value, len));
    *metric = l->value;
    return PW_OK;
}

/*
 * `{...}`, the cursor on the `{`. Labels end up sorted in st->labels; a
 * __name__ label sets *metric instead.
 */
static pw_err
prom_labels(prom_state *st, prom_cur *c, size_t *n, const char **metric)
{
    pw_label extra;
    pw_err   e;

    c->p++;
    *n = 0;
    for (;;) {
        /* Past the limit, parse into a spare: the next kept label fails. */
        pw_label *l = *n < PW_MAX_LABELS ? &st->labels[*n] : &extra;
        bool      kept = false;

        prom_skip_blanks(c);
        if (c->p == c->end)
            return prom_fail(c, PW_EPROTO, "the labels have no closing \"}\"");
        if (*c->p == '}')
            break;
        if ((e = prom_label(st, c, l, &kept)) != PW_OK)
            return e;
        if (strcmp(l->name, "__name__") == 0) {
            if ((e = prom_name_label(c, l, kept, metric)) != PW_OK)
                return e;
        } else if (kept && ++*n > PW_MAX_LABELS) {
            return prom_fail(c, PW_ETOOBIG, "more than %d labels", PW_MAX_LABELS);
        }
        prom_skip_blanks(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}')
            break;
        return prom_fail(c, PW_EPROTO, "expected \",\" or \"}\" after the value of label \"%s\" "
            "at column %zu", l->name, prom_col(c));
    }
    c->p++;
    /* Exporters write labels sorted: check that before paying for a sort. */
    for (size_t i = 1; i < *n; i++) {
        int cmp = strcmp(st->labels[i - 1].name, st->labels[i].name);

        if (cmp == 0)
            return prom_fail(c, PW_EPROTO, "label \"%s\" appears twice", st->labels[i].name);
        if (cmp > 0) {
            if (pw_labels_sort(st->labels, *n) == PW_OK)
                break;
            for (i = 1; i < *n; i++)
                if (strcmp(st->labels[i - 1].name, st->labels[i].name) == 0)
                    return prom_fail(c, PW_EPROTO, "label \"%s\" appears twice",
                        st->labels[i].name);
        }
    }
    return PW_OK;
}

/* One token up to the next blank or the end of the line. */
static void
prom_token(prom_cur *c, const char **s, size_t *n)
{
    *s = c->p;
    while (c->p < c->end && !prom_blank(*c->p))
        c->p++;
    *n = (size_t) (c->p - *s);
}

/* After the value or timestamp: nothing more, or an OpenMetrics exemplar. */
static bool
prom_at_end(prom_cur *c)
{
    prom_skip_blanks(c);
    return c->p == c->end || *c->p == '#';
}

static pw_err
prom_sample(prom_state *st, prom_cur *c, const pw_import_sink *sink)
{
    pw_import_series s = { .labels = st->labels };
    const char      *name = c->p, *tok, *after;
    char             show[200];
    size_t           nlen, tlen;
    int64_t          ts = st->opts.default_ts_ms;
    double           v;
    pw_err           e;

    while (c->p < c->end && prom_name_char(*c->p, true))
        c->p++;
    nlen = (size_t) (c->p - name);
    if (nlen == 0 && *c->p != '{')
        return prom_fail(c, PW_EPROTO, "expected a metric name at column %zu", prom_col(c));
    if (nlen > PW_MAX_METRIC_LEN)
        return prom_fail(c, PW_ETOOBIG, "metric name %s... is longer than %d bytes",
            prom_show(show, sizeof show, name, 40), PW_MAX_METRIC_LEN);
    if (nlen > 0 && !pw_metric_name_valid(name, nlen))
        return prom_fail(c, PW_EPROTO, "metric name \"%s\" starts with a digit",
            prom_show(show, sizeof show, name, nlen));
    s.metric = nlen > 0 ? prom_keep(st, name, nlen) : NULL;
    prom_skip_blanks(c);
    if (c->p < c->end && *c->p == '{') {
        if ((e = prom_labels(st, c, &s.nlabels, &s.metric)) != PW_OK)
            return e;
        after = c->p;
        prom_skip_blanks(c);
    } else {
        after = name + nlen;
    }
    if (s.metric == NULL)
        return prom_fail(c, PW_EPROTO, "no metric name, neither before \"{\" nor as label "
            "__name__");
    /* Name or labels run straight into something: "a-b 1", "a{} 1". */
    if (c->p == after && c->p < c->end)
        return prom_fail(c, PW_EPROTO, "unexpected \"%s\" at column %zu",
            prom_show(show, sizeof show, c->p, 1), prom_col(c));
    if (c->p == c->end)
        return prom_fail(c, PW_EPROTO, "no value after %s", s.metric);
    prom_token(c, &tok, &tlen);
    if ((e = prom_value(c, tok, tlen, &v)) != PW_OK)
        return e;
    if (!prom_at_end(c)) {
        prom_token(c, &tok, &tlen);
        if ((e = prom_timestamp(c, tok, tlen, &ts)) != PW_OK)
            return e;
        if (!prom_at_end(c))
            return prom_fail(c, PW_EPROTO, "unexpected text after the timestamp at column %zu",
                prom_col(c));
    }
    return sink->points(sink->ctx, &s, &ts, &v, 1);
}

static pw_err
prom_parse_line(void *state, const char *line, size_t len, const pw_import_sink *sink,
                char *err, size_t errlen)
{
    prom_state *st = state;
    prom_cur    c = { line, line, line + len, err, errlen };

    err[0] = '\0';
    if (len > PW_IMPORT_PROM_MAX_LINE)
        return prom_fail(&c, PW_ETOOBIG, "line is longer than %u bytes", PW_IMPORT_PROM_MAX_LINE);
    while (c.end > c.p && (prom_blank(c.end[-1]) || c.end[-1] == '\r'))
        c.end--;
    prom_skip_blanks(&c);
    if (c.p == c.end)
        return PW_OK;
    if (memchr(c.p, '\0', (size_t) (c.end - c.p)) != NULL)
        return prom_fail(&c, PW_EPROTO, "line holds a NUL byte");
    if (st->eof)
        return prom_fail(&c, PW_EPROTO, "text after \"# EOF\", which ends the input");
    if (*c.p == '#') {
        if (c.end - c.p == 5 && memcmp(c.p, "# EOF", 5) == 0)
            st->eof = true;
        return PW_OK;
    }
    st->textlen = 0;
    return prom_sample(st, &c, sink);
}

static int
prom_sniff(const char *line, size_t len)
{
    size_t i = 0;

    while (i < len && prom_blank(line[i]))
        i++;
    if (i == len)
        return 0;
    if (line[i] == '#' || prom_name_char(line[i], true))
        return 1;
    /* `{__name__="m"...`, but not JSON's `{"metric"...`. */
    if (line[i] == '{') {
        for (i++; i < len && prom_blank(line[i]); i++)
            ;
        return i < len && prom_name_char(line[i], false) ? 1 : 0;
    }
    return 0;
}

static pw_err
prom_open(const pw_import_opts *o, void **state)
{
    prom_state *st = calloc(1, sizeof *st);

    if (st == NULL || (st->text = malloc(2 * PW_IMPORT_PROM_MAX_LINE + 2)) == NULL) {
        free(st);
        return PW_ENOMEM;
    }
    st->opts = *o;
    *state = st;
    return PW_OK;
}

static void
prom_close(void *state)
{
    prom_state *st = state;

    if (st != NULL)
        free(st->text);
    free(st);
}

const pw_import_format pw_import_prom = {
    .name       = "prom",
    .summary    = "Prometheus text format: metric{label=\"v\"} value [timestamp_ms]",
    .max_line   = PW_IMPORT_PROM_MAX_LINE,
    .sniff      = prom_sniff,
    .open       = prom_open,
    .close      = prom_close,
    .parse_line = prom_parse_line,
};
