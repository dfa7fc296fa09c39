/* series.c - names, labels and canonical series keys; see series.h. */
#include "series.h"
#include "sort.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool
is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool
pw_metric_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > PW_MAX_METRIC_LEN || !(is_alpha_(s[0]) || s[0] == ':'))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!is_alpha_(s[i]) && !is_digit(s[i]) && s[i] != ':')
            return false;
    return true;
}

bool
pw_label_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > PW_MAX_LABEL_NAME_LEN || !is_alpha_(s[0]))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!is_alpha_(s[i]) && !is_digit(s[i]))
            return false;
    return true;
}

bool
pw_label_value_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s, *end = p + len;

    if (len == 0 || len > PW_MAX_LABEL_VALUE_LEN)
        return false;
    while (p < end) {
        size_t l = pw_utf8_char(p, (size_t) (end - p));

        if (l == 0 || *p == 0)
            return false;
        p += l;
    }
    return true;
}

static int
label_cmp(const void *a, const void *b)
{
    return strcmp(((const pw_label *) a)->name, ((const pw_label *) b)->name);
}

pw_err
pw_labels_sort(pw_label *labels, size_t n)
{
    pw_qsort(labels, n, sizeof *labels, label_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(labels[i - 1].name, labels[i].name) == 0)
            return PW_EEXIST;
    return PW_OK;
}

pw_err
pw_series_key_format(const char *metric, const pw_label *labels, size_t n,
                     char *buf, size_t len, size_t *outlen)
{
    size_t o = 0;

#define PUT(c) do { if (o + 1 >= len) return PW_ETOOBIG; buf[o++] = (c); } while (0)
    for (const char *p = metric; *p; p++)
        PUT(*p);
    if (n > 0) {
        PUT('{');
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                PUT(',');
            for (const char *p = labels[i].name; *p; p++)
                PUT(*p);
            PUT('=');
            PUT('"');
            for (const char *p = labels[i].value; *p; p++) {
                if (*p == '\\' || *p == '"') {
                    PUT('\\');
                    PUT(*p);
                } else if (*p == '\n') {
                    PUT('\\');
                    PUT('n');
                } else {
                    PUT(*p);
                }
            }
            PUT('"');
        }
        PUT('}');
    }
#undef PUT
    buf[o] = '\0';
    if (outlen)
        *outlen = o;
    return PW_OK;
}

pw_err
pw_series_key_parse(const char *key, size_t len, pw_series_view *out)
{
    const char *p = key, *end = key + len;
    char       *w;
    pw_err      rc = PW_EPROTO;

    memset(out, 0, sizeof *out);
    /* Unescaping never makes a string longer, so len + 1 bytes hold it all. */
    if ((out->buf = malloc(len + 1)) == NULL)
        return PW_ENOMEM;
    w = out->buf;
    out->metric = w;
    while (p < end && *p != '{')
        *w++ = *p++;
    *w++ = '\0';
    if (!pw_metric_name_valid(out->metric, strlen(out->metric)))
        goto fail;
    if (p == end)
        return PW_OK;
    p++;                                        /* '{' */
    while (p < end && *p != '}') {
        pw_label *l;

        if (out->nlabels == PW_MAX_LABELS)
            goto fail;
        l = &out->labels[out->nlabels++];
        l->name = w;
        while (p < end && *p != '=')
            *w++ = *p++;
        *w++ = '\0';
        if (p + 1 >= end || p[1] != '"')
            goto fail;
        p += 2;
        l->value = w;
        while (p < end && *p != '"') {
            if (*p == '\\') {
                if (++p == end)
                    goto fail;
                *w++ = *p == 'n' ? '\n' : *p;
                p++;
            } else {
                *w++ = *p++;
            }
        }
        *w++ = '\0';
        if (p == end)
            goto fail;
        p++;                                    /* closing quote */
        if (p < end && *p == ',')
            p++;
    }
    if (p + 1 != end || *p != '}')
        goto fail;
    return PW_OK;
fail:
    pw_series_view_free(out);
    return rc;
}

void
pw_series_view_free(pw_series_view *v)
{
    free(v->buf);
    memset(v, 0, sizeof *v);
}

const char *
pw_series_view_label(const pw_series_view *v, const char *name)
{
    for (size_t i = 0; i < v->nlabels; i++)
        if (strcmp(v->labels[i].name, name) == 0)
            return v->labels[i].value;
    return NULL;
}
