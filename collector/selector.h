/*
 * selector.h - Prometheus instant-vector selectors: parse and match.
 *
 *     metric
 *     metric{label="v", label!="v", label=~"re", label!~"re"}
 *     {__name__="metric", ...}
 *
 * As in Prometheus: strings are "double", 'single' or `raw` quoted with Go
 * escapes (\a \b \f \n \r \t \v \\ \' or \" \xHH \ooo \uHHHH \UHHHHHHHH;
 * none in raw strings); whitespace may sit between tokens; a trailing comma
 * is allowed; a regex must match the whole value (it is anchored); a label
 * a series lacks has the value "", so l!="v" matches series without l and
 * l="" matches only those; the selector needs at least one matcher that
 * does not match the empty string; the metric name may be given before the
 * braces or by __name__ matchers, not both. A value may not contain NUL
 * (\x00) nor, unless raw, a newline.
 *
 * Regexes are POSIX extended (regex.h, compiled as ^(re)$), not RE2: most
 * Prometheus regexes (alternation, bracket classes, repetition) work; Perl
 * forms such as \d, (?:...), (?i) or non-greedy *? are not POSIX and are
 * parse errors or mean something else, so write [0-9] and plain (...).
 */
#ifndef PW_SELECTOR_H
#define PW_SELECTOR_H

#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>

#include "pw_err.h"
#include "series.h"

/* Hard limits: longer selectors or more matchers are parse errors (PW_ETOOBIG). */
#define PW_SELECTOR_MAX_LEN      4096
#define PW_SELECTOR_MAX_MATCHERS 64

typedef enum pw_match_op {
    PW_MATCH_EQ,    /* =  */
    PW_MATCH_NE,    /* != */
    PW_MATCH_RE,    /* =~ */
    PW_MATCH_NRE,   /* !~ */
} pw_match_op;

typedef struct pw_selector pw_selector;

/*
 * Parses a selector (NUL-terminated). On PW_OK the caller owns *out and
 * releases it with pw_selector_free. On error *out is NULL, *errpos (may be
 * NULL) gets the byte offset (0-based) in s where parsing failed, and
 * errbuf (may be NULL) a sentence saying what was found and what was
 * expected there, e.g. `expected "=", "!=", "=~" or "!~" after label name
 * "mode", found "<"`. Errors: PW_EPROTO (syntax, bad escape, bad regex, no
 * non-empty matcher), PW_ETOOBIG (over a limit above), PW_ENOMEM.
 */
pw_err pw_selector_parse(const char *s, pw_selector **out, size_t *errpos,
                         char *errbuf, size_t errlen);
void   pw_selector_free(pw_selector *sel);

/* True if the series matches every matcher. Thread-safe on a shared selector. */
bool pw_selector_match(const pw_selector *sel, const pw_series_view *v);

/*
 * The metric name the selector requires by equality (metric{...} or
 * __name__="m"), or NULL: then a query must scan every series. Owned by sel.
 */
const char *pw_selector_metric(const pw_selector *sel);

/* Matcher i (0 <= i < pw_selector_count): name and unescaped value, owned by sel. */
size_t pw_selector_count(const pw_selector *sel);
void   pw_selector_matcher(const pw_selector *sel, size_t i, const char **name,
                           pw_match_op *op, const char **value);

/* "=", "!=", "=~" or "!~". */
const char *pw_match_op_str(pw_match_op op);

/*
 * Writes a parse error as "at position N: <message>" (N 1-based) into errbuf,
 * the form every poolwatch query parser reports. errbuf may be NULL.
 */
void pw_parse_errorv(char *errbuf, size_t errlen, size_t pos, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
