/* selector.c - Prometheus instant-vector selectors; see selector.h. */
#include "selector.h"
#include "bytes.h"

#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sel_matcher sel_matcher;
struct sel_matcher {
    char       *name;       /* owned */
    char       *value;      /* owned, unescaped */
    pw_match_op op;
    bool        has_re;     /* re compiled (op is RE or NRE) */
    regex_t     re;
};

struct pw_selector {
    size_t      n;
    const char *metric;     /* value of the first __name__= matcher, or NULL */
    sel_matcher m[PW_SELECTOR_MAX_MATCHERS];
};

typedef struct sel_parser sel_parser;
struct sel_parser {
    const char  *s;
    size_t       pos;
    pw_selector *sel;
    bool         named;     /* a metric name came before the braces */
    pw_err       err;
    size_t       errpos;
    char        *errbuf;
    size_t       errlen;
};

/* ---- errors ------------------------------------------------------------ */

/* Describes what sits at pos: `"x"`, `end of input`, `byte 0x07`. */
static const char *
sel_found(const sel_parser *p, size_t pos, char *buf, size_t len)
{
    unsigned char c = (unsigned char) p->s[pos];

    if (c == '\0')
        return "end of input";
    if (c < 0x20 || c == 0x7f)
        snprintf(buf, len, "byte 0x%02x", c);
    else if (c >= 0x80)
        snprintf(buf, len, "non-ASCII byte 0x%02x", c);
    else
        snprintf(buf, len, "\"%c\"", c);
    return buf;
}

/* Records the first error only: the deepest caller knows best. Returns false. */
__attribute__((format(printf, 4, 5)))
static bool
sel_fail(sel_parser *p, pw_err e, size_t pos, const char *fmt, ...)
{
    va_list ap;

    if (p->err != PW_OK)
        return false;
    p->err = e;
    p->errpos = pos;
    va_start(ap, fmt);
    pw_parse_errorv(p->errbuf, p->errlen, pos, fmt, ap);
    va_end(ap);
    return false;
}

void
pw_parse_errorv(char *errbuf, size_t errlen, size_t pos, const char *fmt, va_list ap)
{
    int n;

    if (errbuf == NULL || errlen == 0)
        return;
    n = snprintf(errbuf, errlen, "at position %zu: ", pos + 1);
    if (n > 0 && (size_t) n < errlen)
        vsnprintf(errbuf + n, errlen - (size_t) n, fmt, ap);
}

/* "expected X, found Y" at the current position. */
static bool
sel_expected(sel_parser *p, const char *what)
{
    char buf[32];

    return sel_fail(p, PW_EPROTO, p->pos, "expected %s, found %s", what,
        sel_found(p, p->pos, buf, sizeof buf));
}

/* ---- lexing ------------------------------------------------------------ */

static void
sel_skip_ws(sel_parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n'
           || p->s[p->pos] == '\r')
        p->pos++;
}

static bool
sel_is_name_start(char c, bool metric)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
}

static bool
sel_is_name_char(char c, bool metric)
{
    return sel_is_name_start(c, metric) || (c >= '0' && c <= '9');
}

/* Reads a metric or label name at pos into a new string (*out, caller frees). */
static bool
sel_name(sel_parser *p, bool metric, char **out)
{
    size_t start = p->pos, n;

    while (sel_is_name_char(p->s[p->pos], metric))
        p->pos++;
    n = p->pos - start;
    if (n > (metric ? PW_MAX_METRIC_LEN : PW_MAX_LABEL_NAME_LEN))
        return sel_fail(p, PW_ETOOBIG, start, "%s name longer than %d bytes",
            metric ? "metric" : "label", metric ? PW_MAX_METRIC_LEN : PW_MAX_LABEL_NAME_LEN);
    if ((*out = strndup(p->s + start, n)) == NULL)
        return sel_fail(p, PW_ENOMEM, start, "out of memory");
    return true;
}

static size_t
sel_utf8(uint32_t cp, char *w)
{
    if (cp < 0x80) {
        w[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        w[0] = (char) (0xC0 | cp >> 6);
        w[1] = (char) (0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        w[0] = (char) (0xE0 | cp >> 12);
        w[1] = (char) (0x80 | (cp >> 6 & 0x3F));
        w[2] = (char) (0x80 | (cp & 0x3F));
        return 3;
    }
    w[0] = (char) (0xF0 | cp >> 18);
    w[1] = (char) (0x80 | (cp >> 12 & 0x3F));
    w[2] = (char) (0x80 | (cp >> 6 & 0x3F));
    w[3] = (char) (0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Decodes the escape whose backslash is at p->pos into w (at most 4 bytes),
 * advancing past it. Go's rules: the quote escape must match the quote.
 */
static bool
sel_escape(sel_parser *p, char quote, char *w, size_t *n)
{
    size_t      at = p->pos;
    const char *e = p->s + at + 1;
    uint32_t    v = 0;
    int         digits = 0, base = 16;

    switch (*e) {
    case 'a': *w = '\a'; break;
    case 'b': *w = '\b'; break;
    case 'f': *w = '\f'; break;
    case 'n': *w = '\n'; break;
    case 'r': *w = '\r'; break;
    case 't': *w = '\t'; break;
    case 'v': *w = '\v'; break;
    case '\\': *w = '\\'; break;
    case '\'':
    case '"':
        if (*e != quote)
            return sel_fail(p, PW_EPROTO, at, "escape \\%c is not allowed in a %s-quoted string",
                *e, quote == '"' ? "double" : "single");
        *w = *e;
        break;
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        digits = 3;
        base = 8;
        break;
    case '\0':
        return sel_fail(p, PW_EPROTO, at, "unterminated escape sequence at end of input");
    default: {
        char buf[32];
        return sel_fail(p, PW_EPROTO, at, "unknown escape sequence: backslash followed by %s",
            sel_found(p, at + 1, buf, sizeof buf));
    }
    }
    if (digits == 0) {
        *n = 1;
        p->pos += 2;
        return true;
    }
    {
        /* Octal escapes start at the backslash's next char, the others after the letter. */
        const char *d = base == 8 ? e : e + 1;

        for (int i = 0; i < digits; i++) {
            int x = base == 8 ? (d[i] >= '0' && d[i] <= '7' ? d[i] - '0' : -1) : pw_hex_digit(d[i]);
            if (x < 0)
                return sel_fail(p, PW_EPROTO, at, "escape \\%c needs %d %s digits", *e,
                    base == 8 ? 3 : digits, base == 8 ? "octal" : "hex");
            v = v * (uint32_t) base + (uint32_t) x;
        }
        p->pos = (size_t) (d + digits - p->s);
    }
    if (base == 8 && v > 255)
        return sel_fail(p, PW_EPROTO, at, "octal escape value %u is over 255", v);
    if (*e == 'u' || *e == 'U') {
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return sel_fail(p, PW_EPROTO, at, "escape is not a valid Unicode code point");
        *n = sel_utf8(v, w);
    } else {
        *w = (char) (unsigned char) v;
        *n = 1;
    }
    return true;
}

/* Reads a quoted string at pos into a new unescaped string (*out, caller frees). */
static bool
sel_string(sel_parser *p, char **out)
{
    size_t start = p->pos, cap;
    char   quote = p->s[p->pos], *buf, *w;

    if (quote != '"' && quote != '\'' && quote != '`')
        return sel_expected(p, "a quoted string");
    /* Unescaping never grows a string: the rest of the input bounds it. */
    cap = strlen(p->s + start) + 1;
    if ((buf = malloc(cap)) == NULL)
        return sel_fail(p, PW_ENOMEM, start, "out of memory");
    w = buf;
    p->pos++;
    for (;;) {
        char c = p->s[p->pos];

        if (c == '\0' || (c == '\n' && quote != '`')) {
            free(buf);
            return sel_fail(p, PW_EPROTO, start, "unterminated string (opened here, no closing %c)",
                quote);
        }
        if (c == quote) {
            p->pos++;
            break;
        }
        if (c == '\\' && quote != '`') {
            size_t n = 0;

            if (!sel_escape(p, quote, w, &n)) {
                free(buf);
                return false;
            }
            if (memchr(w, '\0', n) != NULL) {
                free(buf);
                return sel_fail(p, PW_EPROTO, start, "a label value cannot contain NUL");
            }
            w += n;
            continue;
        }
        *w++ = c;
        p->pos++;
    }
    *w = '\0';
    *out = buf;
    return true;
}

/* ---- matchers ---------------------------------------------------------- */

static bool
sel_matcher_matches(const sel_matcher *m, const char *value)
{
    switch (m->op) {
    case PW_MATCH_EQ:  return strcmp(value, m->value) == 0;
    case PW_MATCH_NE:  return strcmp(value, m->value) != 0;
    case PW_MATCH_RE:  return regexec(&m->re, value, 0, NULL, 0) == 0;
    case PW_MATCH_NRE: return regexec(&m->re, value, 0, NULL, 0) != 0;
    }
    return false;
}

/* Adds a matcher, taking ownership of name and value (freed here on error). */
static bool
sel_add(sel_parser *p, size_t at, char *name, pw_match_op op, char *value)
{
    pw_selector *sel = p->sel;
    sel_matcher *m;

    if (sel->n == PW_SELECTOR_MAX_MATCHERS) {
        free(name);
        free(value);
        return sel_fail(p, PW_ETOOBIG, at, "more than %d matchers", PW_SELECTOR_MAX_MATCHERS);
    }
    m = &sel->m[sel->n++];
    m->name = name;
    m->value = value;
    m->op = op;
    if (op == PW_MATCH_RE || op == PW_MATCH_NRE) {
        size_t vlen = strlen(value);
        char  *anchored = malloc(vlen + 5);
        int    rc;

        if (anchored == NULL)
            return sel_fail(p, PW_ENOMEM, at, "out of memory");
        /* Prometheus anchors regexes at both ends. */
        snprintf(anchored, vlen + 5, "^(%s)$", value);
        rc = regcomp(&m->re, anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &m->re, msg, sizeof msg);
            return sel_fail(p, PW_EPROTO, at, "bad regular expression for label \"%s\": %s",
                name, msg);
        }
        m->has_re = true;
    }
    return true;
}

/* name op string, at pos. */
static bool
sel_matcher_parse(sel_parser *p)
{
    size_t      at = p->pos;
    char       *name = NULL, *value = NULL;
    pw_match_op op;
    const char *o;

    if (!sel_is_name_start(p->s[p->pos], false))
        return sel_expected(p, "a label name or \"}\"");
    if (!sel_name(p, false, &name))
        return false;
    if (p->named && strcmp(name, "__name__") == 0) {
        free(name);
        return sel_fail(p, PW_EPROTO, at, "metric name given twice: before the braces and "
            "as __name__");
    }
    sel_skip_ws(p);
    o = p->s + p->pos;
    if (o[0] == '=' && o[1] == '~')
        op = PW_MATCH_RE;
    else if (o[0] == '!' && o[1] == '=')
        op = PW_MATCH_NE;
    else if (o[0] == '!' && o[1] == '~')
        op = PW_MATCH_NRE;
    else if (o[0] == '=')
        op = PW_MATCH_EQ;
    else {
        char what[PW_MAX_LABEL_NAME_LEN + 64];
        snprintf(what, sizeof what, "\"=\", \"!=\", \"=~\" or \"!~\" after label name \"%s\"", name);
        free(name);
        return sel_expected(p, what);
    }
    p->pos += op == PW_MATCH_EQ ? 1 : 2;
    sel_skip_ws(p);
    if (!sel_string(p, &value)) {
        free(name);
        return false;
    }
    return sel_add(p, at, name, op, value);
}

static bool
sel_braces(sel_parser *p)
{
    p->pos++;                                   /* '{' */
    for (;;) {
        sel_skip_ws(p);
        if (p->s[p->pos] == '}') {
            p->pos++;
            return true;
        }
        if (!sel_matcher_parse(p))
            return false;
        sel_skip_ws(p);
        if (p->s[p->pos] == ',')
            p->pos++;
        else if (p->s[p->pos] != '}')
            return sel_expected(p, "\",\" or \"}\" after a matcher");
    }
}

static bool
sel_parse_all(sel_parser *p)
{
    sel_skip_ws(p);
    if (sel_is_name_start(p->s[p->pos], true)) {
        size_t at = p->pos;
        char  *name, *value;

        if (!sel_name(p, true, &name))
            return false;
        if ((value = strdup(name)) == NULL) {
            free(name);
            return sel_fail(p, PW_ENOMEM, at, "out of memory");
        }
        free(name);
        if ((name = strdup("__name__")) == NULL) {
            free(value);
            return sel_fail(p, PW_ENOMEM, at, "out of memory");
        }
        if (!sel_add(p, at, name, PW_MATCH_EQ, value))
            return false;
        p->named = true;
        sel_skip_ws(p);
        if (p->s[p->pos] == '\0')
            return true;
        if (p->s[p->pos] != '{')
            return sel_expected(p, "\"{\" or the end after the metric name");
    } else if (p->s[p->pos] != '{') {
        return sel_expected(p, "a metric name or \"{\"");
    }
    if (!sel_braces(p))
        return false;
    sel_skip_ws(p);
    if (p->s[p->pos] != '\0')
        return sel_expected(p, "the end of the selector after \"}\"");
    return true;
}

/* ---- API --------------------------------------------------------------- */

pw_err
pw_selector_parse(const char *s, pw_selector **out, size_t *errpos, char *errbuf, size_t errlen)
{
    sel_parser p = { .s = s, .errbuf = errbuf, .errlen = errlen };
    bool       nonempty = false;

    *out = NULL;
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if (strnlen(s, PW_SELECTOR_MAX_LEN + 1) > PW_SELECTOR_MAX_LEN) {
        sel_fail(&p, PW_ETOOBIG, PW_SELECTOR_MAX_LEN, "selector longer than %d bytes",
            PW_SELECTOR_MAX_LEN);
        goto out;
    }
    if ((p.sel = calloc(1, sizeof *p.sel)) == NULL) {
        sel_fail(&p, PW_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (!sel_parse_all(&p))
        goto out;
    for (size_t i = 0; i < p.sel->n; i++) {
        const sel_matcher *m = &p.sel->m[i];

        if (!sel_matcher_matches(m, ""))
            nonempty = true;
        if (p.sel->metric == NULL && m->op == PW_MATCH_EQ && strcmp(m->name, "__name__") == 0)
            p.sel->metric = m->value;
    }
    /* As Prometheus: a selector matching the empty string everywhere would select everything. */
    if (!nonempty)
        sel_fail(&p, PW_EPROTO, 0, "the selector needs a metric name or at least one matcher "
            "that does not match the empty string");
out:
    if (errpos != NULL)
        *errpos = p.errpos;
    if (p.err != PW_OK) {
        pw_selector_free(p.sel);
        return p.err;
    }
    *out = p.sel;
    return PW_OK;
}

void
pw_selector_free(pw_selector *sel)
{
    if (sel == NULL)
        return;
    for (size_t i = 0; i < sel->n; i++) {
        if (sel->m[i].has_re)
            regfree(&sel->m[i].re);
        free(sel->m[i].name);
        free(sel->m[i].value);
    }
    free(sel);
}

bool
pw_selector_match(const pw_selector *sel, const pw_series_view *v)
{
    for (size_t i = 0; i < sel->n; i++) {
        const sel_matcher *m = &sel->m[i];
        const char        *val = strcmp(m->name, "__name__") == 0
            ? v->metric : pw_series_view_label(v, m->name);

        if (!sel_matcher_matches(m, val != NULL ? val : ""))
            return false;
    }
    return true;
}

const char *
pw_selector_metric(const pw_selector *sel)
{
    return sel->metric;
}

size_t
pw_selector_count(const pw_selector *sel)
{
    return sel->n;
}

void
pw_selector_matcher(const pw_selector *sel, size_t i, const char **name, pw_match_op *op,
                    const char **value)
{
    *name = sel->m[i].name;
    *op = sel->m[i].op;
    *value = sel->m[i].value;
}

const char *
pw_match_op_str(pw_match_op op)
{
    switch (op) {
    case PW_MATCH_EQ:  return "=";
    case PW_MATCH_NE:  return "!=";
    case PW_MATCH_RE:  return "=~";
    case PW_MATCH_NRE: return "!~";
    }
    return "?";
}
