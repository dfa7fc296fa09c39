/*
 * expr.h - a PromQL subset: parse an expression into a tree for eval.h.
 *
 * Supported, with Prometheus semantics and types:
 *
 *     node_load1                          instant selectors (selector.h)
 *     x[5m]  x[1h30m]  x[300]             range selectors (units ms s m h d w y,
 *                                         largest first; a bare number is seconds)
 *     rate irate increase delta           f(range vector)
 *     avg_ min_ max_ sum_ count_ last_over_time (range vector)
 *     quantile_over_time(scalar, range vector)
 *     sum avg min max count [by|without (l, ...)] (vector)
 *     topk bottomk (scalar, vector)       also with by/without
 *     sum by (l) (x)  or  sum(x) by (l)   grouping before or after the arguments
 *     1.5  -2  0x1f  1e3  Inf  NaN        number literals
 *     + - * / %                           between scalars, vector and scalar, and
 *                                         vector and vector (one-to-one matching on
 *                                         all labels but __name__)
 *     -x  +x  (x)                         unary sign, parentheses
 *
 * Precedence as in PromQL: * / % bind tighter than + -, all left-associative;
 * a unary sign binds tighter than both.
 *
 * Everything else PromQL has is refused with an error saying "not supported:
 * ...": offset and @ modifiers, subqueries x[1h:5m], comparison and set
 * operators, ^, atan2, bool / on / ignoring / group_left / group_right, string
 * literals, other functions and aggregations (stddev, quantile, count_values,
 * ...). Unknown function names are "unknown function with name ...".
 *
 * Expressions made only of numbers are folded to one number while parsing,
 * so a scalar-typed node is always PW_EXPR_NUMBER.
 *
 * Error messages follow Prometheus' wording ("unexpected X in Y, expected
 * Z", `expected type range vector in call to function "rate", got instant
 * vector`, "ranges only allowed for vector selectors") and start with "at
 * position N: " (1-based); *errpos gets the 0-based byte offset. Errors
 * inside a selector are selector.h's, positioned in the whole expression.
 */
#ifndef PW_EXPR_H
#define PW_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"
#include "selector.h"

/* Hard limits: beyond them parsing fails with PW_ETOOBIG. */
#define PW_EXPR_MAX_LEN   16384   /* bytes of text */
#define PW_EXPR_MAX_DEPTH 64      /* nesting of parentheses, calls, operators */
#define PW_EXPR_MAX_NODES 512     /* nodes in the tree */
/* Longest range a range selector may have: 10 years. */
#define PW_EXPR_MAX_RANGE_MS (INT64_C(3650) * 86400000)

typedef enum pw_expr_kind {
    PW_EXPR_NUMBER,     /* number */
    PW_EXPR_SELECTOR,   /* sel: an instant selector */
    PW_EXPR_RANGE,      /* sel + range_ms: a range selector */
    PW_EXPR_CALL,       /* fn (param) arg */
    PW_EXPR_AGG,        /* agg [by|without] (param) arg */
    PW_EXPR_BINARY,     /* lhs op rhs; never two scalars (folded) */
    PW_EXPR_NEG,        /* -arg, arg an instant vector (numbers are folded) */
} pw_expr_kind;

/* What an expression evaluates to. */
typedef enum pw_expr_type {
    PW_TYPE_SCALAR,
    PW_TYPE_VECTOR,     /* instant vector */
    PW_TYPE_MATRIX,     /* range vector */
} pw_expr_type;

typedef enum pw_expr_fn {
    PW_FN_RATE,
    PW_FN_IRATE,
    PW_FN_INCREASE,
    PW_FN_DELTA,
    PW_FN_AVG_OVER_TIME,
    PW_FN_MIN_OVER_TIME,
    PW_FN_MAX_OVER_TIME,
    PW_FN_SUM_OVER_TIME,
    PW_FN_COUNT_OVER_TIME,
    PW_FN_LAST_OVER_TIME,
    PW_FN_QUANTILE_OVER_TIME,
    PW_FN_COUNT_
} pw_expr_fn;

typedef enum pw_expr_agg {
    PW_AGG_SUM,
    PW_AGG_AVG,
    PW_AGG_MIN,
    PW_AGG_MAX,
    PW_AGG_COUNT,
    PW_AGG_TOPK,
    PW_AGG_BOTTOMK,
    PW_AGG_COUNT_
} pw_expr_agg;

typedef enum pw_expr_op {
    PW_OP_ADD,
    PW_OP_SUB,
    PW_OP_MUL,
    PW_OP_DIV,
    PW_OP_MOD,
} pw_expr_op;

typedef struct pw_expr pw_expr;

/*
 * One node. The tree owns everything it points to (children, selectors,
 * grouping names); free the root with pw_expr_free. Read-only after
 * parsing, so one tree may be evaluated by several threads at once.
 */
struct pw_expr {
    pw_expr_kind  kind;
    pw_expr_type  type;
    size_t        pos, end;       /* byte span [pos, end) in the parsed text */

    double        number;         /* NUMBER */
    pw_selector  *sel;            /* SELECTOR, RANGE */
    int64_t       range_ms;       /* RANGE: > 0 */
    pw_expr_fn    fn;             /* CALL */
    pw_expr_agg   agg;            /* AGG */
    int           without;        /* AGG: 1 = without (grouping), 0 = by (grouping) */
    char        **grouping;       /* AGG: label names, ngrouping of them, sorted, unique */
    size_t        ngrouping;
    pw_expr_op    op;             /* BINARY */
    pw_expr      *lhs, *rhs;      /* BINARY */
    pw_expr      *param;          /* CALL quantile_over_time, AGG topk/bottomk: a NUMBER */
    pw_expr      *arg;            /* CALL: a RANGE; AGG: a vector; NEG: a vector */
};

/*
 * Parses s (NUL-terminated). On PW_OK the caller owns *out (pw_expr_free).
 * On error *out is NULL, *errpos (may be NULL) gets the 0-based byte offset
 * of the problem and errbuf (may be NULL) a sentence. Errors: PW_EPROTO
 * (syntax, types, unsupported constructs), PW_ETOOBIG (a limit above),
 * PW_ENOMEM.
 */
pw_err pw_expr_parse(const char *s, pw_expr **out, size_t *errpos, char *errbuf, size_t errlen);
void   pw_expr_free(pw_expr *e);

/*
 * a op b as PromQL computes it on float samples: IEEE 754 (x/0 is ±Inf or
 * NaN), % is C's fmod (Go's math.Mod). Shared by constant folding and eval.
 */
double pw_expr_apply(pw_expr_op op, double a, double b);

/* "rate", "sum", "+", "instant vector": names as PromQL spells them. */
const char *pw_expr_fn_name(pw_expr_fn fn);
const char *pw_expr_agg_name(pw_expr_agg agg);
const char *pw_expr_op_name(pw_expr_op op);
const char *pw_expr_type_name(pw_expr_type t);

#endif
