/*
 * import_vm.c - VictoriaMetrics JSON lines, as /api/v1/export writes them
 * and /api/v1/import reads them, one series a line:
 *
 *   {"metric":{"__name__":"up","job":"node"},"values":[1,0.5],
 *    "timestamps":[1700000000000,1700000015000]}
 *
 * (on one line)
 *
 * See import.h for the contract and collector/README.md ("poolwatch
 * import") for the rules. Parsed with jansson, duplicate keys rejected.
 *
 * Values as VictoriaMetrics' own importer reads them: JSON numbers, and the
 * strings it writes for what JSON lacks, "Infinity" / "-Infinity" (also
 * "Inf", "inf", "infinity"). `null` and the strings "NaN", "nan", "null",
 * "Null" are NaN; VictoriaMetrics' storage drops every NaN except
 * Prometheus' staleness marker, so a NaN in an export *is* a staleness
 * marker, and that is what the sink gets (PW_IMPORT_STALE_NAN).
 * Timestamps: integer ms. Other top-level keys are ignored, as there.
 *
 * Static helpers: vm_.
 */
#include "import.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

typedef struct vm_state vm_state;
struct vm_state {
    int64_t  *ts;          /* one line's points, grown as lines need */
    double   *values;
    size_t    cap;
    pw_label  labels[PW_MAX_LABELS];
};

static pw_err vm_fail(char *err, size_t errlen, pw_err e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static pw_err
vm_fail(char *err, size_t errlen, pw_err e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return e;
}

/* The strings VictoriaMetrics' importer takes for non-finite values. */
static bool
vm_special(const char *s, double *out)
{
    static const char *const infs[] = { "infinity", "Infinity", "Inf", "inf" };
    static const char *const nans[] = { "null", "Null", "nan", "NaN" };
    bool                     neg = s[0] == '-';
    uint64_t                 stale = PW_IMPORT_STALE_NAN;

    /* VictoriaMetrics takes a '-' before any of them ("-NaN" too); '+' is taken here too. */
    if (s[0] == '-' || s[0] == '+')
        s++;
    for (size_t i = 0; i < sizeof infs / sizeof infs[0]; i++)
        if (strcmp(s, infs[i]) == 0) {
            *out = neg ? -INFINITY : INFINITY;
            return true;
        }
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++)
        if (strcmp(s, nans[i]) == 0) {
            memcpy(out, &stale, sizeof *out);
            return true;
        }
    return false;
}

/* "metric": name and labels into st->labels, sorted. */
static pw_err
vm_metric(vm_state *st, json_t *m, pw_import_series *s, char *err, size_t errlen)
{
    const char *key;
    json_t     *v;
    size_t      n = 0;

    if (!json_is_object(m))
        return vm_fail(err, errlen, PW_EPROTO, "\"metric\" is missing or not an object");
    s->metric = NULL;
    json_object_foreach(m, key, v) {
        const char *val = json_string_value(v);
        size_t      klen = strlen(key), vlen = json_string_length(v);

        if (val == NULL)
            return vm_fail(err, errlen, PW_EPROTO, "the value of label \"%.128s\" is not a string",
                key);
        if (strcmp(key, "__name__") == 0) {
            if (vlen > PW_MAX_METRIC_LEN)
                return vm_fail(err, errlen, PW_ETOOBIG, "metric name \"%.40s...\" is longer than "
                    "%d bytes", val, PW_MAX_METRIC_LEN);
            if (!pw_metric_name_valid(val, vlen))
                return vm_fail(err, errlen, PW_EPROTO, "metric name \"%s\" is not valid "
                    "([a-zA-Z_:][a-zA-Z0-9_:]*)", val);
            s->metric = val;
            continue;
        }
        if (klen > PW_MAX_LABEL_NAME_LEN)
            return vm_fail(err, errlen, PW_ETOOBIG, "label name \"%.40s...\" is longer than %d "
                "bytes", key, PW_MAX_LABEL_NAME_LEN);
        if (!pw_label_name_valid(key, klen))
            return vm_fail(err, errlen, PW_EPROTO, "label name \"%s\" is not valid "
                "([a-zA-Z_][a-zA-Z0-9_]*)", key);
        if (vlen > PW_MAX_LABEL_VALUE_LEN)
            return vm_fail(err, errlen, PW_ETOOBIG, "the value of label \"%s\" is longer than %d "
                "bytes", key, PW_MAX_LABEL_VALUE_LEN);
        if (vlen == 0)
            continue;                       /* empty means absent, as in Prometheus */
        if (n == PW_MAX_LABELS)
            return vm_fail(err, errlen, PW_ETOOBIG, "more than %d labels", PW_MAX_LABELS);
        /* jansson checked UTF-8 and refuses \u0000: the value is valid as it is. */
        st->labels[n].name = key;
        st->labels[n].value = val;
        n++;
    }
    if (s->metric == NULL)
        return vm_fail(err, errlen, PW_EPROTO, "\"metric\" has no \"__name__\"");
    /* Object keys are unique (JSON_REJECT_DUPLICATES), so sorting cannot fail. */
    pw_labels_sort(st->labels, n);
    s->labels = st->labels;
    s->nlabels = n;
    return PW_OK;
}

static pw_err
vm_grow(vm_state *st, size_t n)
{
    int64_t *ts;
    double  *values;
    size_t   cap = st->cap ? st->cap : 256;

    while (cap < n)
        cap *= 2;
    if (cap == st->cap)
        return PW_OK;
    if ((ts = realloc(st->ts, cap * sizeof *ts)) == NULL)
        return PW_ENOMEM;
    st->ts = ts;
    if ((values = realloc(st->values, cap * sizeof *values)) == NULL)
        return PW_ENOMEM;
    st->values = values;
    st->cap = cap;
    return PW_OK;
}

/* "values" and "timestamps" into st->values and st->ts. */
static pw_err
vm_points(vm_state *st, json_t *vals, json_t *tss, size_t *n, char *err, size_t errlen)
{
    size_t len;

    if (!json_is_array(vals) || json_array_size(vals) == 0)
        return vm_fail(err, errlen, PW_EPROTO, "\"values\" is missing, empty or not an array");
    if (!json_is_array(tss) || json_array_size(tss) == 0)
        return vm_fail(err, errlen, PW_EPROTO, "\"timestamps\" is missing, empty or not an array");
    len = json_array_size(vals);
    if (json_array_size(tss) != len)
        return vm_fail(err, errlen, PW_EPROTO, "%zu values but %zu timestamps", len,
            json_array_size(tss));
    if (vm_grow(st, len) != PW_OK)
        return PW_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        json_t     *v = json_array_get(vals, i), *t = json_array_get(tss, i);
        const char *str;
        double      d;

        if (json_is_number(v))
            st->values[i] = json_number_value(v);
        else if (json_is_null(v))
            vm_special("null", &st->values[i]);
        else if ((str = json_string_value(v)) == NULL || !vm_special(str, &st->values[i]))
            return vm_fail(err, errlen, PW_EPROTO, "values[%zu] is not a number, null, \"NaN\" "
                "or \"[-]Infinity\"", i);
        /* Integers arrive as reals (JSON_DECODE_INT_AS_REAL): whole and in range, or bad. */
        d = json_number_value(t);
        if (!json_is_number(t) || d != floor(d))
            return vm_fail(err, errlen, PW_EPROTO, "timestamps[%zu] is not an integer", i);
        if (d < (double) PW_WIRE_MIN_TS || d >= (double) PW_WIRE_MAX_TS)
            return vm_fail(err, errlen, PW_EPROTO, "timestamps[%zu] = %.0f is outside "
                "2000-01-01..2200-01-01 in milliseconds%s", i, d,
                d >= (double) (PW_WIRE_MIN_TS / 1000) && d < (double) (PW_WIRE_MAX_TS / 1000)
                ? " (seconds?)" : "");
        st->ts[i] = (int64_t) d;
    }
    *n = len;
    return PW_OK;
}

static pw_err
vm_parse_line(void *state, const char *line, size_t len, const pw_import_sink *sink,
              char *err, size_t errlen)
{
    vm_state        *st = state;
    const char      *start = line;
    pw_import_series s;
    json_error_t     jerr;
    json_t          *root;
    size_t           n = 0;
    pw_err           e;

    err[0] = '\0';
    if (len > PW_IMPORT_VM_MAX_LINE)
        return vm_fail(err, errlen, PW_ETOOBIG, "line is longer than %u bytes",
            PW_IMPORT_VM_MAX_LINE);
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        line++;
        len--;
    }
    if (len == 0)
        return PW_OK;
    /*
     * Integers as reals: values beyond int64 (big counters) still parse,
     * and timestamps are exact anyway (ms up to 2200 are far below 2^53).
     */
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    /* jansson's position counts the bytes it read: the last one is where it failed. */
    if (root == NULL)
        return vm_fail(err, errlen, PW_EPROTO, "not valid JSON at column %zu: %s",
            (size_t) (line - start) + (size_t) jerr.position, jerr.text);
    if (!json_is_object(root))
        e = vm_fail(err, errlen, PW_EPROTO, "not a JSON object");
    else if ((e = vm_metric(st, json_object_get(root, "metric"), &s, err, errlen)) == PW_OK
        && (e = vm_points(st, json_object_get(root, "values"), json_object_get(root, "timestamps"),
                &n, err, errlen)) == PW_OK)
        e = sink->points(sink->ctx, &s, st->ts, st->values, n);
    json_decref(root);
    return e;
}

static int
vm_sniff(const char *line, size_t len)
{
    size_t i = 0;

    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len || line[i] != '{')
        return 0;
    /* An object with a key: `{"metric"`; `{__name__=` is Prometheus text. */
    for (i++; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
        ;
    return i < len && line[i] == '"' ? 2 : 0;
}

static pw_err
vm_open(const pw_import_opts *o, void **state)
{
    vm_state *st = calloc(1, sizeof *st);

    (void) o;                   /* every point carries its timestamp */
    if (st == NULL)
        return PW_ENOMEM;
    *state = st;
    return PW_OK;
}

static void
vm_close(void *state)
{
    vm_state *st = state;

    if (st != NULL) {
        free(st->ts);
        free(st->values);
    }
    free(st);
}

const pw_import_format pw_import_vm = {
    .name       = "vm",
    .summary    = "VictoriaMetrics JSON lines, as /api/v1/export writes them",
    .max_line   = PW_IMPORT_VM_MAX_LINE,
    .sniff      = vm_sniff,
    .open       = vm_open,
    .close      = vm_close,
    .parse_line = vm_parse_line,
};
