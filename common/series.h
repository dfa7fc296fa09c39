/*
 * series.h - metric names, labels and the canonical series key.
 *
 * A series is a metric name plus a set of labels. Its canonical key is the
 * Prometheus text form with labels sorted by name:
 *
 *     node_cpu_seconds_total{cpu="0",host="h1",mode="idle"}
 *
 * (just the metric name when there are no labels). Label values escape
 * backslash, double quote and newline as \\, \" and \n. The key is what the
 * collector indexes, so two frames naming the same series in a different label
 * order land on the same key.
 */
#ifndef PW_SERIES_H
#define PW_SERIES_H

#include <stdbool.h>
#include <stddef.h>

#include "pw_err.h"

/* Hard limits, shared by the wire decoder, the collector and the CLI. */
#define PW_MAX_METRIC_LEN       200
#define PW_MAX_LABEL_NAME_LEN   128
#define PW_MAX_LABEL_VALUE_LEN  1024
#define PW_MAX_LABELS           32
/* Longest canonical key: every label value fully escaped. */
#define PW_MAX_SERIES_KEY_LEN \
    (PW_MAX_METRIC_LEN + 2 + PW_MAX_LABELS * (PW_MAX_LABEL_NAME_LEN + 2 * PW_MAX_LABEL_VALUE_LEN + 4))

/* A label: both strings NUL-terminated; ownership stays with whoever made it. */
typedef struct pw_label {
    const char *name;
    const char *value;
} pw_label;

/* [a-zA-Z_:][a-zA-Z0-9_:]*, 1..PW_MAX_METRIC_LEN bytes. */
bool pw_metric_name_valid(const char *s, size_t len);
/* [a-zA-Z_][a-zA-Z0-9_]*, 1..PW_MAX_LABEL_NAME_LEN bytes. */
bool pw_label_name_valid(const char *s, size_t len);
/* Valid UTF-8, 1..PW_MAX_LABEL_VALUE_LEN bytes, no NUL. */
bool pw_label_value_valid(const char *s, size_t len);

/*
 * Sorts labels by name in place. Returns PW_EEXIST if two labels share a
 * name (the array is still sorted), PW_OK otherwise.
 */
pw_err pw_labels_sort(pw_label *labels, size_t n);

/*
 * Writes the canonical key of metric + labels (labels must already be sorted,
 * see pw_labels_sort) into buf as a NUL-terminated string and its length to
 * *outlen. PW_ETOOBIG if buf (len bytes) is too small.
 */
pw_err pw_series_key_format(const char *metric, const pw_label *labels, size_t n,
                            char *buf, size_t len, size_t *outlen);

/* A parsed key: metric and labels point into `buf`, which the view owns. */
typedef struct pw_series_view {
    char    *buf;
    char    *metric;
    size_t   nlabels;
    pw_label labels[PW_MAX_LABELS];
} pw_series_view;

/*
 * Parses a canonical key (len bytes, need not be NUL-terminated) into *out.
 * On PW_OK the caller owns out->buf and releases it with pw_series_view_free.
 * PW_EPROTO if the key is not in canonical form, PW_ENOMEM on allocation.
 */
pw_err pw_series_key_parse(const char *key, size_t len, pw_series_view *out);
void   pw_series_view_free(pw_series_view *v);
/* Value of label `name` in the view, or NULL. */
const char *pw_series_view_label(const pw_series_view *v, const char *name);

#endif
