/* expr.c - the PromQL subset's parser; see expr.h. */
#include "expr.h"
#include "sort.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tokens ------------------------------------------------------------ */

typedef enum ex_tok {
    EX_EOF,
    EX_NUM,
    EX_IDENT,
    EX_STR,
    EX_LPAREN, EX_RPAREN, EX_LBRACE, EX_RBRACE, EX_LBRACKET, EX_RBRACKET,
    EX_COMMA, EX_COLON,
    EX_ADD, EX_SUB, EX_MUL, EX_DIV, EX_MOD, EX_POW,
    EX_CMP,         /* == != < > <= >= */
    EX_AT,
    EX_BAD,         /* a character that starts no token, or a malformed number */
} ex_tok;

typedef struct ex_token ex_token;
struct ex_token {
    ex_tok kind;
    size_t start, end;   /* [start, end) in the text */
    double num;          /* EX_NUM */
};

typedef struct ex_parser ex_parser;
struct ex_parser {
    const char *s;
    size_t      pos;
    size_t      nodes;
    int         depth;
    pw_err      err;
    size_t      errpos;
    char       *errbuf;
    size_t      errlen;
};

/* ---- names ------------------------------------------------------------- */

static const char *const ex_fn_names[PW_FN_COUNT_] = {
    [PW_FN_RATE] = "rate",
    [PW_FN_IRATE] = "irate",
    [PW_FN_INCREASE] = "increase",
    [PW_FN_DELTA] = "delta",
    [PW_FN_AVG_OVER_TIME] = "avg_over_time",
    [PW_FN_MIN_OVER_TIME] = "min_over_time",
    [PW_FN_MAX_OVER_TIME] = "max_over_time",
    [PW_FN_SUM_OVER_TIME] = "sum_over_time",
    [PW_FN_COUNT_OVER_TIME] = "count_over_time",
    [PW_FN_LAST_OVER_TIME] = "last_over_time",
    [PW_FN_QUANTILE_OVER_TIME] = "quantile_over_time",
};

static const char *const ex_agg_names[PW_AGG_COUNT_] = {
    [PW_AGG_SUM] = "sum",
    [PW_AGG_AVG] = "avg",
    [PW_AGG_MIN] = "min",
    [PW_AGG_MAX] = "max",
    [PW_AGG_COUNT] = "count",
    [PW_AGG_TOPK] = "topk",
    [PW_AGG_BOTTOMK] = "bottomk",
};

/* PromQL has these; naming one gets "not supported" rather than "unknown". */
static const char *const ex_other_fns[] = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "days_in_month",
    "day_of_month", "day_of_week", "day_of_year", "deg", "deriv", "double_exponential_smoothing",
    "exp", "first_over_time", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum",
    "holt_winters", "hour", "idelta", "info", "label_join", "label_replace", "ln", "log10",
    "log2", "mad_over_time", "minute", "month", "pi", "predict_linear", "present_over_time",
    "rad", "resets", "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label",
    "sort_by_label_desc", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "tan",
    "tanh", "time", "timestamp", "ts_of_first_over_time", "ts_of_last_over_time",
    "ts_of_max_over_time", "ts_of_min_over_time", "vector", "year",
};

static const char *const ex_other_aggs[] = {
    "stddev", "stdvar", "quantile", "count_values", "group", "limitk", "limit_ratio",
};

/* Keywords that cannot start an expression (so cannot be metric names either). */
static const char *const ex_keywords[] = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "and", "or", "unless", "atan2",
};

#define EX_NELEM(a) (sizeof (a) / sizeof (a)[0])

const char *
pw_expr_fn_name(pw_expr_fn fn)
{
    return (unsigned) fn < PW_FN_COUNT_ ? ex_fn_names[fn] : "?";
}

const char *
pw_expr_agg_name(pw_expr_agg agg)
{
    return (unsigned) agg < PW_AGG_COUNT_ ? ex_agg_names[agg] : "?";
}

const char *
pw_expr_op_name(pw_expr_op op)
{
    switch (op) {
    case PW_OP_ADD: return "+";
    case PW_OP_SUB: return "-";
    case PW_OP_MUL: return "*";
    case PW_OP_DIV: return "/";
    case PW_OP_MOD: return "%";
    }
    return "?";
}

const char *
pw_expr_type_name(pw_expr_type t)
{
    switch (t) {
    case PW_TYPE_SCALAR: return "scalar";
    case PW_TYPE_VECTOR: return "instant vector";
    case PW_TYPE_MATRIX: return "range vector";
    }
    return "?";
}

double
pw_expr_apply(pw_expr_op op, double a, double b)
{
    switch (op) {
    case PW_OP_ADD: return a + b;
    case PW_OP_SUB: return a - b;
    case PW_OP_MUL: return a * b;
    case PW_OP_DIV: return a / b;
    case PW_OP_MOD: return fmod(a, b);
    }
    return NAN;
}

/* ---- errors ------------------------------------------------------------ */

/* Records the first error only: the deepest caller knows best. Returns NULL. */
__attribute__((format(printf, 4, 5)))
static void *
ex_fail(ex_parser *p, pw_err e, size_t pos, const char *fmt, ...)
{
    va_list ap;

    if (p->err != PW_OK)
        return NULL;
    p->err = e;
    p->errpos = pos;
    va_start(ap, fmt);
    pw_parse_errorv(p->errbuf, p->errlen, pos, fmt, ap);
    va_end(ap);
    return NULL;
}

/* Describes a token for a message: `end of input`, `"("`, `identifier "foo"`. */
static const char *
ex_desc(const ex_parser *p, const ex_token *t, char *buf, size_t len)
{
    unsigned char c = (unsigned char) p->s[t->start];
    int           n = (int) (t->end - t->start > 40 ? 40 : t->end - t->start);

    switch (t->kind) {
    case EX_EOF:
        return "end of input";
    case EX_NUM:
        snprintf(buf, len, "number \"%.*s\"", n, p->s + t->start);
        return buf;
    case EX_IDENT:
        snprintf(buf, len, "identifier \"%.*s\"", n, p->s + t->start);
        return buf;
    case EX_STR:
        return "string";
    case EX_BAD:
        if (c < 0x20 || c == 0x7f)
            snprintf(buf, len, "byte 0x%02x", c);
        else if (c >= 0x80)
            snprintf(buf, len, "non-ASCII byte 0x%02x", c);
        else
            snprintf(buf, len, "\"%.*s\"", n, p->s + t->start);
        return buf;
    default:
        snprintf(buf, len, "\"%.*s\"", n, p->s + t->start);
        return buf;
    }
}

/* "unexpected X[ in CONTEXT][, expected WHAT]" at t. */
static void *
ex_unexpected(ex_parser *p, const ex_token *t, const char *context, const char *what)
{
    char buf[64];

    return ex_fail(p, PW_EPROTO, t->start, "unexpected %s%s%s%s%s", ex_desc(p, t, buf, sizeof buf),
        context ? " in " : "", context ? context : "", what ? ", expected " : "",
        what ? what : "");
}

/* ---- lexing ------------------------------------------------------------ */

static bool
ex_is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool
ex_is_name_char(char c)
{
    return ex_is_name_start(c) || (c >= '0' && c <= '9');
}

static void
ex_skip_ws(ex_parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n'
           || p->s[p->pos] == '\r')
        p->pos++;
}

static bool
ex_ident_is(const ex_parser *p, const ex_token *t, const char *word)
{
    size_t n = strlen(word);

    return t->kind == EX_IDENT && t->end - t->start == n && memcmp(p->s + t->start, word, n) == 0;
}

static bool
ex_ident_in(const ex_parser *p, const ex_token *t, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ex_ident_is(p, t, words[i]))
            return true;
    return false;
}

/* A number at pos: decimal (1, 1.5, .5, 1e3) or hex (0x1f). */
static void
ex_lex_number(const ex_parser *p, ex_token *t)
{
    const char *s = p->s;
    size_t      i = t->start;
    char        tmp[64];

    if (s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X') && isxdigit((unsigned char) s[i + 2])) {
        i += 2;
        while (isxdigit((unsigned char) s[i]))
            i++;
    } else {
        while (isdigit((unsigned char) s[i]))
            i++;
        if (s[i] == '.') {
            i++;
            while (isdigit((unsigned char) s[i]))
                i++;
        }
        if ((s[i] == 'e' || s[i] == 'E')
            && (isdigit((unsigned char) s[i + 1])
                || ((s[i + 1] == '+' || s[i + 1] == '-') && isdigit((unsigned char) s[i + 2])))) {
            i += 2;
            while (isdigit((unsigned char) s[i]))
                i++;
        }
    }
    /* 5m outside a range selector, 1.2.3, 12abc: one bad token up to the next separator. */
    if (ex_is_name_char(s[i]) || s[i] == '.') {
        while (ex_is_name_char(s[i]) || s[i] == '.')
            i++;
        t->kind = EX_BAD;
        t->end = i;
        return;
    }
    t->end = i;
    if (i - t->start >= sizeof tmp) {
        t->kind = EX_BAD;
        return;
    }
    memcpy(tmp, s + t->start, i - t->start);
    tmp[i - t->start] = '\0';
    t->kind = EX_NUM;
    t->num = strtod(tmp, NULL);
}

/* The token at p->pos (after whitespace), without consuming it. */
static void
ex_peek(ex_parser *p, ex_token *t)
{
    const char *s;
    size_t      i;

    ex_skip_ws(p);
    s = p->s;
    i = p->pos;
    t->start = i;
    t->end = i + 1;
    t->num = 0;
    switch (s[i]) {
    case '\0': t->kind = EX_EOF; t->end = i; return;
    case '(': t->kind = EX_LPAREN; return;
    case ')': t->kind = EX_RPAREN; return;
    case '{': t->kind = EX_LBRACE; return;
    case '}': t->kind = EX_RBRACE; return;
    case '[': t->kind = EX_LBRACKET; return;
    case ']': t->kind = EX_RBRACKET; return;
    case ',': t->kind = EX_COMMA; return;
    case '+': t->kind = EX_ADD; return;
    case '-': t->kind = EX_SUB; return;
    case '*': t->kind = EX_MUL; return;
    case '/': t->kind = EX_DIV; return;
    case '%': t->kind = EX_MOD; return;
    case '^': t->kind = EX_POW; return;
    case '@': t->kind = EX_AT; return;
    case '=':
        t->kind = s[i + 1] == '=' ? EX_CMP : EX_BAD;
        t->end = s[i + 1] == '=' ? i + 2 : i + 1;
        return;
    case '!':
        t->kind = s[i + 1] == '=' ? EX_CMP : EX_BAD;
        t->end = s[i + 1] == '=' ? i + 2 : i + 1;
        return;
    case '<':
    case '>':
        t->kind = EX_CMP;
        t->end = s[i + 1] == '=' ? i + 2 : i + 1;
        return;
    case '"':
    case '\'':
    case '`': {
        char q = s[i];
        size_t k = i + 1;

        while (s[k] != '\0' && s[k] != q) {
            if (q != '`' && s[k] == '\\' && s[k + 1] != '\0')
                k++;
            k++;
        }
        t->kind = EX_STR;
        t->end = s[k] == q ? k + 1 : k;
        return;
    }
    default:
        break;
    }
    if (isdigit((unsigned char) s[i]) || (s[i] == '.' && isdigit((unsigned char) s[i + 1]))) {
        ex_lex_number(p, t);
        return;
    }
    if (s[i] == ':') {
        t->kind = EX_COLON;
        return;
    }
    if (ex_is_name_start(s[i])) {
        size_t k = i;

        while (ex_is_name_char(s[k]))
            k++;
        t->end = k;
        t->kind = EX_IDENT;
        /* As in Prometheus, Inf and NaN (any case) are numbers, not metric names. */
        if (k - i == 3
            && (strncasecmp(s + i, "inf", 3) == 0 || strncasecmp(s + i, "nan", 3) == 0)) {
            t->kind = EX_NUM;
            t->num = tolower((unsigned char) s[i]) == 'i' ? INFINITY : NAN;
        }
        return;
    }
    t->kind = EX_BAD;
}

/* Consumes a token of the given kind, or fails with "unexpected X in context, expected what". */
static bool
ex_expect(ex_parser *p, ex_tok kind, const char *context, const char *what)
{
    ex_token t;

    ex_peek(p, &t);
    if (t.kind != kind) {
        ex_unexpected(p, &t, context, what);
        return false;
    }
    p->pos = t.end;
    return true;
}

/* ---- nodes ------------------------------------------------------------- */

static pw_expr *
ex_node(ex_parser *p, pw_expr_kind kind, pw_expr_type type, size_t pos)
{
    pw_expr *e;

    if (p->nodes == PW_EXPR_MAX_NODES)
        return ex_fail(p, PW_ETOOBIG, pos, "the expression has more than %d nodes",
            PW_EXPR_MAX_NODES);
    if ((e = calloc(1, sizeof *e)) == NULL)
        return ex_fail(p, PW_ENOMEM, pos, "out of memory");
    p->nodes++;
    e->kind = kind;
    e->type = type;
    e->pos = pos;
    e->end = pos;
    return e;
}

void
pw_expr_free(pw_expr *e)
{
    if (e == NULL)
        return;
    pw_selector_free(e->sel);
    for (size_t i = 0; i < e->ngrouping; i++)
        free(e->grouping[i]);
    free(e->grouping);
    pw_expr_free(e->lhs);
    pw_expr_free(e->rhs);
    pw_expr_free(e->param);
    pw_expr_free(e->arg);
    free(e);
}

/* ---- selectors --------------------------------------------------------- */

/* End of a {...} block starting at i, skipping quoted strings; the NUL if unclosed. */
static size_t
ex_brace_end(const char *s, size_t i)
{
    for (i++; s[i] != '\0'; i++) {
        char q = s[i];

        if (q == '}')
            return i + 1;
        if (q == '"' || q == '\'' || q == '`') {
            for (i++; s[i] != '\0' && s[i] != q; i++)
                if (q != '`' && s[i] == '\\' && s[i + 1] != '\0')
                    i++;
            if (s[i] == '\0')
                return i;
        }
    }
    return i;
}

/*
 * An instant selector at p->pos: metric, metric{...} or {...}. Its text is
 * cut out and handed to selector.h, so both parsers agree on every detail;
 * the selector's error positions are moved into the whole expression.
 */
static pw_expr *
ex_selector(ex_parser *p)
{
    size_t       start = p->pos, end = start, epos = 0;
    char        *text, msg[256];
    const char  *m;
    pw_selector *sel = NULL;
    pw_expr     *e;
    pw_err       rc;

    while (ex_is_name_char(p->s[end]))
        end++;
    {
        size_t k = end;

        while (p->s[k] == ' ' || p->s[k] == '\t' || p->s[k] == '\n' || p->s[k] == '\r')
            k++;
        if (p->s[k] == '{')
            end = ex_brace_end(p->s, k);
    }
    if ((text = strndup(p->s + start, end - start)) == NULL)
        return ex_fail(p, PW_ENOMEM, start, "out of memory");
    rc = pw_selector_parse(text, &sel, &epos, msg, sizeof msg);
    free(text);
    if (rc != PW_OK) {
        /* selector.c's sentence starts with its own "at position N: "; ours replaces it. */
        m = msg;
        if (strncmp(m, "at position ", 12) == 0 && (m = strstr(m, ": ")) != NULL)
            m += 2;
        else
            m = msg;
        return ex_fail(p, rc, start + epos, "%s", m);
    }
    if ((e = ex_node(p, PW_EXPR_SELECTOR, PW_TYPE_VECTOR, start)) == NULL) {
        pw_selector_free(sel);
        return NULL;
    }
    e->sel = sel;
    e->end = end;
    p->pos = end;
    return e;
}

/*
 * A duration inside [...]: 5m, 1h30m, 2d, 500ms (units largest first, each
 * once), or a number of seconds (300, 1.5) as Prometheus 3 allows.
 */
static bool
ex_duration(ex_parser *p, int64_t *out)
{
    static const struct { const char *u; int64_t ms; } units[] = {
        { "y", INT64_C(365) * 86400000 }, { "w", INT64_C(7) * 86400000 },
        { "d", 86400000 }, { "h", 3600000 }, { "ms", 1 }, { "m", 60000 }, { "s", 1000 },
    };
    /* Order the units must come in (ms is checked before m when lexing, but is last). */
    static const int rank[] = { 0, 1, 2, 3, 6, 4, 5 };
    const char *s = p->s;
    size_t      start, i;
    int         last = -1;
    double      total = 0;
    ex_token    t;

    ex_peek(p, &t);
    start = i = p->pos;
    if (!isdigit((unsigned char) s[i]) && !(s[i] == '.' && isdigit((unsigned char) s[i + 1]))) {
        ex_unexpected(p, &t, "range selector", "a duration such as 5m");
        return false;
    }
    while (isdigit((unsigned char) s[i]) || s[i] == '.') {
        size_t numstart = i, u;
        double v;
        char   tmp[32];

        while (isdigit((unsigned char) s[i]) || s[i] == '.')
            i++;
        if (i - numstart >= sizeof tmp)
            goto bad;
        memcpy(tmp, s + numstart, i - numstart);
        tmp[i - numstart] = '\0';
        /* 1.2.3 is no number. */
        if (strchr(tmp, '.') != NULL && strchr(tmp, '.') != strrchr(tmp, '.'))
            goto bad;
        v = strtod(tmp, NULL);
        for (u = 0; u < EX_NELEM(units); u++) {
            size_t n = strlen(units[u].u);

            if (strncmp(s + i, units[u].u, n) == 0 && !isalpha((unsigned char) s[i + n]))
                break;
        }
        if (u == EX_NELEM(units)) {
            /* No unit: only a lone number of seconds is a duration. */
            if (last >= 0 || ex_is_name_char(s[i]))
                goto bad;
            total = v * 1000;
            break;
        }
        /* Prometheus units take integers and come largest first. */
        if (memchr(tmp, '.', strlen(tmp)) != NULL || rank[u] <= last)
            goto bad;
        last = rank[u];
        total += v * (double) units[u].ms;
        i += strlen(units[u].u);
    }
    if (ex_is_name_char(s[i]) || s[i] == '.')
        goto bad;
    p->pos = i;
    if (total > (double) PW_EXPR_MAX_RANGE_MS) {
        ex_fail(p, PW_EPROTO, start, "duration out of range (at most 10 years)");
        return false;
    }
    *out = (int64_t) llround(total);
    if (*out <= 0) {
        ex_fail(p, PW_EPROTO, start, "duration must be greater than 0");
        return false;
    }
    return true;
bad:
    while (ex_is_name_char(s[i]) || s[i] == '.')
        i++;
    ex_fail(p, PW_EPROTO, start, "bad number or duration syntax: \"%.*s\"",
        (int) (i - start > 40 ? 40 : i - start), s + start);
    return false;
}

/* ---- expressions ------------------------------------------------------- */

static pw_expr *ex_expr(ex_parser *p);

/* Comma-separated expressions up to ")" (consumed). At most max are kept; *n counts all. */
static bool
ex_args(ex_parser *p, const char *context, pw_expr **args, size_t max, size_t *n)
{
    ex_token t;

    *n = 0;
    ex_peek(p, &t);
    if (t.kind == EX_RPAREN) {
        p->pos = t.end;
        return true;
    }
    for (;;) {
        pw_expr *a = ex_expr(p);

        if (a == NULL)
            return false;
        if (*n < max)
            args[*n] = a;
        else
            pw_expr_free(a);
        (*n)++;
        ex_peek(p, &t);
        if (t.kind == EX_RPAREN) {
            p->pos = t.end;
            return true;
        }
        if (t.kind != EX_COMMA) {
            ex_unexpected(p, &t, context, "\",\" or \")\"");
            return false;
        }
        p->pos = t.end;
        ex_peek(p, &t);
        if (t.kind == EX_RPAREN) {
            ex_fail(p, PW_EPROTO, t.start, "trailing commas not allowed in function call args");
            return false;
        }
    }
}

static int
ex_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* by/without (l1, l2, ...) after the keyword: fills e's grouping. */
static bool
ex_grouping(ex_parser *p, pw_expr *e)
{
    ex_token t;
    size_t   cap = 0;

    if (!ex_expect(p, EX_LPAREN, "grouping opts", "\"(\""))
        return false;
    for (;;) {
        char *name;

        ex_peek(p, &t);
        if (t.kind == EX_RPAREN) {
            p->pos = t.end;
            break;
        }
        if (t.kind != EX_IDENT) {
            ex_unexpected(p, &t, "grouping opts", "label");
            return false;
        }
        if (memchr(p->s + t.start, ':', t.end - t.start) != NULL
            || t.end - t.start > PW_MAX_LABEL_NAME_LEN) {
            ex_fail(p, PW_EPROTO, t.start, "invalid label name for grouping: \"%.*s\"",
                (int) (t.end - t.start > 40 ? 40 : t.end - t.start), p->s + t.start);
            return false;
        }
        if (e->ngrouping == PW_MAX_LABELS * 2) {
            ex_fail(p, PW_ETOOBIG, t.start, "more than %d grouping labels", PW_MAX_LABELS * 2);
            return false;
        }
        if (e->ngrouping == cap) {
            char **g = realloc(e->grouping, (cap = cap ? cap * 2 : 4) * sizeof *g);

            if (g == NULL) {
                ex_fail(p, PW_ENOMEM, t.start, "out of memory");
                return false;
            }
            e->grouping = g;
        }
        if ((name = strndup(p->s + t.start, t.end - t.start)) == NULL) {
            ex_fail(p, PW_ENOMEM, t.start, "out of memory");
            return false;
        }
        e->grouping[e->ngrouping++] = name;
        p->pos = t.end;
        ex_peek(p, &t);
        if (t.kind == EX_COMMA) {
            p->pos = t.end;
        } else if (t.kind != EX_RPAREN) {
            ex_unexpected(p, &t, "grouping opts", "\",\" or \")\"");
            return false;
        }
    }
    /* Sorted and unique: the evaluator looks names up by binary search. */
    if (e->ngrouping > 1) {
        size_t w = 1;

        pw_qsort(e->grouping, e->ngrouping, sizeof *e->grouping, ex_strcmp);
        for (size_t r = 1; r < e->ngrouping; r++) {
            if (strcmp(e->grouping[r], e->grouping[w - 1]) == 0)
                free(e->grouping[r]);
            else
                e->grouping[w++] = e->grouping[r];
        }
        e->ngrouping = w;
    }
    return true;
}

/* Parses "by (...)" or "without (...)" if it comes next. */
static bool
ex_maybe_grouping(ex_parser *p, pw_expr *e, bool *seen)
{
    ex_token t;

    ex_peek(p, &t);
    if (!ex_ident_is(p, &t, "by") && !ex_ident_is(p, &t, "without"))
        return true;
    if (*seen) {
        ex_unexpected(p, &t, "aggregation", NULL);
        return false;
    }
    *seen = true;
    e->without = ex_ident_is(p, &t, "without");
    p->pos = t.end;
    return ex_grouping(p, e);
}

static pw_expr *
ex_aggregation(ex_parser *p, const ex_token *name, pw_expr_agg agg)
{
    pw_expr *e, *args[2] = { NULL, NULL };
    size_t   n = 0, want = agg == PW_AGG_TOPK || agg == PW_AGG_BOTTOMK ? 2 : 1;
    bool     grouped = false;
    ex_token t;

    if ((e = ex_node(p, PW_EXPR_AGG, PW_TYPE_VECTOR, name->start)) == NULL)
        return NULL;
    e->agg = agg;
    p->pos = name->end;
    if (!ex_maybe_grouping(p, e, &grouped))
        goto fail;
    ex_peek(p, &t);
    if (t.kind != EX_LPAREN) {
        ex_unexpected(p, &t, "aggregation", "\"(\"");
        goto fail;
    }
    p->pos = t.end;
    if (!ex_args(p, "aggregation", args, 2, &n))
        goto fail;
    e->end = p->pos;
    if (n == 0) {
        ex_fail(p, PW_EPROTO, e->pos, "no arguments for aggregate expression provided");
        goto fail;
    }
    if (n != want) {
        ex_fail(p, PW_EPROTO, e->pos, "wrong number of arguments for aggregate expression "
            "provided, expected %zu, got %zu", want, n);
        goto fail;
    }
    if (!ex_maybe_grouping(p, e, &grouped))
        goto fail;
    if (want == 2) {
        e->param = args[0];
        e->arg = args[1];
    } else {
        e->arg = args[0];
    }
    args[0] = args[1] = NULL;
    if (e->param != NULL && e->param->type != PW_TYPE_SCALAR) {
        ex_fail(p, PW_EPROTO, e->param->pos, "expected type scalar in aggregation parameter, "
            "got %s", pw_expr_type_name(e->param->type));
        goto fail;
    }
    if (e->arg->type != PW_TYPE_VECTOR) {
        ex_fail(p, PW_EPROTO, e->arg->pos, "expected type instant vector in aggregation "
            "expression, got %s", pw_expr_type_name(e->arg->type));
        goto fail;
    }
    return e;
fail:
    pw_expr_free(args[0]);
    pw_expr_free(args[1]);
    pw_expr_free(e);
    return NULL;
}

static pw_expr *
ex_call(ex_parser *p, const ex_token *name)
{
    pw_expr   *e, *args[2] = { NULL, NULL };
    size_t     n = 0, want;
    int        fn = -1;
    const char *fname;

    for (int i = 0; i < PW_FN_COUNT_; i++)
        if (ex_ident_is(p, name, ex_fn_names[i]))
            fn = i;
    if (fn < 0) {
        int len = (int) (name->end - name->start > 64 ? 64 : name->end - name->start);

        if (ex_ident_in(p, name, ex_other_fns, EX_NELEM(ex_other_fns)))
            return ex_fail(p, PW_EPROTO, name->start, "not supported: function \"%.*s\"", len,
                p->s + name->start);
        return ex_fail(p, PW_EPROTO, name->start, "unknown function with name \"%.*s\"", len,
            p->s + name->start);
    }
    fname = ex_fn_names[fn];
    want = fn == PW_FN_QUANTILE_OVER_TIME ? 2 : 1;
    if ((e = ex_node(p, PW_EXPR_CALL, PW_TYPE_VECTOR, name->start)) == NULL)
        return NULL;
    e->fn = (pw_expr_fn) fn;
    p->pos = name->end;
    if (!ex_expect(p, EX_LPAREN, "function call", "\"(\"")
        || !ex_args(p, "function call", args, 2, &n))
        goto fail;
    e->end = p->pos;
    if (n != want) {
        ex_fail(p, PW_EPROTO, e->pos, "expected %zu argument(s) in call to \"%s\", got %zu", want,
            fname, n);
        goto fail;
    }
    if (want == 2) {
        e->param = args[0];
        e->arg = args[1];
    } else {
        e->arg = args[0];
    }
    args[0] = args[1] = NULL;
    if (e->param != NULL && e->param->type != PW_TYPE_SCALAR) {
        ex_fail(p, PW_EPROTO, e->param->pos, "expected type scalar in call to function \"%s\", "
            "got %s", fname, pw_expr_type_name(e->param->type));
        goto fail;
    }
    if (e->arg->type != PW_TYPE_MATRIX) {
        ex_fail(p, PW_EPROTO, e->arg->pos, "expected type range vector in call to function "
            "\"%s\", got %s", fname, pw_expr_type_name(e->arg->type));
        goto fail;
    }
    return e;
fail:
    pw_expr_free(args[0]);
    pw_expr_free(args[1]);
    pw_expr_free(e);
    return NULL;
}

static pw_expr *
ex_primary(ex_parser *p)
{
    ex_token t;
    pw_expr *e;

    ex_peek(p, &t);
    switch (t.kind) {
    case EX_NUM:
        if ((e = ex_node(p, PW_EXPR_NUMBER, PW_TYPE_SCALAR, t.start)) == NULL)
            return NULL;
        e->number = t.num;
        e->end = p->pos = t.end;
        return e;
    case EX_LPAREN: {
        ex_token c;

        p->pos = t.end;
        if ((e = ex_expr(p)) == NULL)
            return NULL;
        ex_peek(p, &c);
        if (c.kind != EX_RPAREN) {
            if (c.kind == EX_EOF)
                ex_fail(p, PW_EPROTO, t.start, "unclosed left parenthesis");
            else
                ex_unexpected(p, &c, "parenthesized expression", "\")\" or an operator");
            pw_expr_free(e);
            return NULL;
        }
        p->pos = c.end;
        e->pos = t.start;
        e->end = c.end;
        return e;
    }
    case EX_LBRACE:
        return ex_selector(p);
    case EX_STR:
        return ex_fail(p, PW_EPROTO, t.start, "not supported: string literals");
    case EX_IDENT: {
        size_t k = t.end;

        for (int i = 0; i < PW_AGG_COUNT_; i++)
            if (ex_ident_is(p, &t, ex_agg_names[i]))
                return ex_aggregation(p, &t, (pw_expr_agg) i);
        if (ex_ident_in(p, &t, ex_other_aggs, EX_NELEM(ex_other_aggs)))
            return ex_fail(p, PW_EPROTO, t.start, "not supported: aggregation \"%.*s\"",
                (int) (t.end - t.start), p->s + t.start);
        if (ex_ident_in(p, &t, ex_keywords, EX_NELEM(ex_keywords)))
            return ex_unexpected(p, &t, NULL, "an expression");
        while (p->s[k] == ' ' || p->s[k] == '\t' || p->s[k] == '\n' || p->s[k] == '\r')
            k++;
        if (p->s[k] == '(')
            return ex_call(p, &t);
        return ex_selector(p);
    }
    case EX_EOF:
        if (p->s[strspn(p->s, " \t\r\n")] == '\0')
            return ex_fail(p, PW_EPROTO, t.start, "no expression found in input");
        return ex_unexpected(p, &t, NULL, "an expression");
    case EX_RPAREN:
        return ex_fail(p, PW_EPROTO, t.start, "unexpected right parenthesis \")\"");
    case EX_BAD:
        if (isdigit((unsigned char) p->s[t.start]) || p->s[t.start] == '.')
            return ex_fail(p, PW_EPROTO, t.start, "bad number or duration syntax: \"%.*s\"",
                (int) (t.end - t.start > 40 ? 40 : t.end - t.start), p->s + t.start);
        return ex_unexpected(p, &t, NULL, "an expression");
    default:
        return ex_unexpected(p, &t, NULL, "an expression");
    }
}

/* True if a "[" at t opens a subquery (a ":" before the closing "]"). */
static bool
ex_is_subquery(const ex_parser *p, const ex_token *t)
{
    for (size_t i = t->end; p->s[i] != '\0' && p->s[i] != ']'; i++)
        if (p->s[i] == ':')
            return true;
    return false;
}

/* A primary, then [range], then refusals for offset and @. */
static pw_expr *
ex_postfix(ex_parser *p)
{
    pw_expr *e;
    ex_token t;
    bool     paren;

    /* (x)[5m] is no range selector in PromQL, though (x) is a selector. */
    ex_peek(p, &t);
    paren = t.kind == EX_LPAREN;
    if ((e = ex_primary(p)) == NULL)
        return NULL;
    ex_peek(p, &t);
    if (t.kind == EX_LBRACKET) {
        if (ex_is_subquery(p, &t)) {
            ex_fail(p, PW_EPROTO, t.start, "not supported: subqueries");
            goto fail;
        }
        if (e->kind != PW_EXPR_SELECTOR || paren) {
            ex_fail(p, PW_EPROTO, e->pos, "ranges only allowed for vector selectors");
            goto fail;
        }
        p->pos = t.end;
        if (!ex_duration(p, &e->range_ms) || !ex_expect(p, EX_RBRACKET, "range selector", "\"]\""))
            goto fail;
        e->kind = PW_EXPR_RANGE;
        e->type = PW_TYPE_MATRIX;
        e->end = p->pos;
        ex_peek(p, &t);
        if (t.kind == EX_LBRACKET) {
            ex_fail(p, PW_EPROTO, e->pos, "ranges only allowed for vector selectors");
            goto fail;
        }
    }
    if (ex_ident_is(p, &t, "offset")) {
        ex_fail(p, PW_EPROTO, t.start, "not supported: offset modifier");
        goto fail;
    }
    if (t.kind == EX_AT) {
        ex_fail(p, PW_EPROTO, t.start, "not supported: @ modifier");
        goto fail;
    }
    return e;
fail:
    pw_expr_free(e);
    return NULL;
}

static pw_expr *
ex_unary(ex_parser *p)
{
    ex_token t;
    pw_expr *e, *n;

    if (p->depth >= PW_EXPR_MAX_DEPTH) {
        ex_peek(p, &t);
        return ex_fail(p, PW_ETOOBIG, t.start, "the expression nests deeper than %d levels",
            PW_EXPR_MAX_DEPTH);
    }
    p->depth++;
    ex_peek(p, &t);
    if (t.kind != EX_ADD && t.kind != EX_SUB) {
        e = ex_postfix(p);
        p->depth--;
        return e;
    }
    p->pos = t.end;
    e = ex_unary(p);
    p->depth--;
    if (e == NULL)
        return NULL;
    if (e->type == PW_TYPE_MATRIX) {
        ex_fail(p, PW_EPROTO, t.start, "unary expression only allowed on expressions of type "
            "scalar or instant vector, got \"range vector\"");
        pw_expr_free(e);
        return NULL;
    }
    if (t.kind == EX_ADD || e->kind == PW_EXPR_NUMBER) {
        if (t.kind == EX_SUB)
            e->number = -e->number;
        e->pos = t.start;
        return e;
    }
    if ((n = ex_node(p, PW_EXPR_NEG, PW_TYPE_VECTOR, t.start)) == NULL) {
        pw_expr_free(e);
        return NULL;
    }
    n->arg = e;
    n->end = e->end;
    return n;
}

/*
 * The binary operator at t: *op and its precedence (1: + -, 2: * / %).
 * Returns 0 if t is no operator, -1 (error set) if it is one PromQL has
 * and this subset does not.
 */
static int
ex_binop(ex_parser *p, const ex_token *t, pw_expr_op *op)
{
    int len = (int) (t->end - t->start);

    switch (t->kind) {
    case EX_ADD: *op = PW_OP_ADD; return 1;
    case EX_SUB: *op = PW_OP_SUB; return 1;
    case EX_MUL: *op = PW_OP_MUL; return 2;
    case EX_DIV: *op = PW_OP_DIV; return 2;
    case EX_MOD: *op = PW_OP_MOD; return 2;
    case EX_POW:
        ex_fail(p, PW_EPROTO, t->start, "not supported: operator \"^\"");
        return -1;
    case EX_CMP:
        ex_fail(p, PW_EPROTO, t->start, "not supported: comparison operator \"%.*s\"", len,
            p->s + t->start);
        return -1;
    case EX_IDENT:
        if (ex_ident_is(p, t, "and") || ex_ident_is(p, t, "or") || ex_ident_is(p, t, "unless")) {
            ex_fail(p, PW_EPROTO, t->start, "not supported: set operator \"%.*s\"", len,
                p->s + t->start);
            return -1;
        }
        if (ex_ident_is(p, t, "atan2")) {
            ex_fail(p, PW_EPROTO, t->start, "not supported: operator \"atan2\"");
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

static pw_expr *
ex_make_binary(ex_parser *p, pw_expr_op op, pw_expr *lhs, pw_expr *rhs)
{
    pw_expr *e;

    if (lhs->type == PW_TYPE_MATRIX || rhs->type == PW_TYPE_MATRIX) {
        ex_fail(p, PW_EPROTO, (lhs->type == PW_TYPE_MATRIX ? lhs : rhs)->pos,
            "binary expression must contain only scalar and instant vector types");
        goto fail;
    }
    if (lhs->type == PW_TYPE_SCALAR && rhs->type == PW_TYPE_SCALAR) {
        /* Both sides are numbers (scalars are always folded): fold this one too. */
        lhs->number = pw_expr_apply(op, lhs->number, rhs->number);
        lhs->end = rhs->end;
        pw_expr_free(rhs);
        p->nodes--;
        return lhs;
    }
    if ((e = ex_node(p, PW_EXPR_BINARY, PW_TYPE_VECTOR, lhs->pos)) == NULL)
        goto fail;
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    e->end = rhs->end;
    return e;
fail:
    pw_expr_free(lhs);
    pw_expr_free(rhs);
    return NULL;
}

/* Precedence climbing over + - (1) and * / % (2), all left-associative. */
static pw_expr *
ex_binary(ex_parser *p, int minprec)
{
    pw_expr *lhs = ex_unary(p);

    while (lhs != NULL) {
        ex_token   t, m;
        pw_expr_op op;
        pw_expr   *rhs;
        int        prec;

        ex_peek(p, &t);
        prec = ex_binop(p, &t, &op);
        if (prec < 0) {
            pw_expr_free(lhs);
            return NULL;
        }
        if (prec == 0 || prec < minprec)
            break;
        p->pos = t.end;
        ex_peek(p, &m);
        if (ex_ident_is(p, &m, "bool") || ex_ident_is(p, &m, "on") || ex_ident_is(p, &m, "ignoring")
            || ex_ident_is(p, &m, "group_left") || ex_ident_is(p, &m, "group_right")) {
            ex_fail(p, PW_EPROTO, m.start, "not supported: vector matching modifier \"%.*s\"",
                (int) (m.end - m.start), p->s + m.start);
            pw_expr_free(lhs);
            return NULL;
        }
        if ((rhs = ex_binary(p, prec + 1)) == NULL) {
            pw_expr_free(lhs);
            return NULL;
        }
        lhs = ex_make_binary(p, op, lhs, rhs);
    }
    return lhs;
}

static pw_expr *
ex_expr(ex_parser *p)
{
    return ex_binary(p, 1);
}

/* ---- API --------------------------------------------------------------- */

pw_err
pw_expr_parse(const char *s, pw_expr **out, size_t *errpos, char *errbuf, size_t errlen)
{
    ex_parser p = { .s = s, .errbuf = errbuf, .errlen = errlen };
    pw_expr  *e = NULL;
    ex_token  t;

    *out = NULL;
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if (strnlen(s, PW_EXPR_MAX_LEN + 1) > PW_EXPR_MAX_LEN) {
        ex_fail(&p, PW_ETOOBIG, PW_EXPR_MAX_LEN, "expression longer than %d bytes",
            PW_EXPR_MAX_LEN);
        goto out;
    }
    if ((e = ex_expr(&p)) == NULL)
        goto out;
    ex_peek(&p, &t);
    if (t.kind == EX_RPAREN)
        ex_fail(&p, PW_EPROTO, t.start, "unexpected right parenthesis \")\"");
    else if (t.kind != EX_EOF)
        ex_unexpected(&p, &t, NULL, "an operator or the end of the expression");
out:
    if (errpos != NULL)
        *errpos = p.errpos;
    if (p.err != PW_OK) {
        pw_expr_free(e);
        return p.err;
    }
    *out = e;
    return PW_OK;
}
