/*
 * batch.c - series dictionary + timestamp groups for one frame; see batch.h.
 *
 * Each distinct series is one allocation holding its canonical key, metric and
 * label strings, found again through an open-addressing hash table on the key.
 * Arrays keep their capacity across pw_batch_reset, so an agent that makes the
 * same few hundred series every round settles into a fixed footprint.
 */
#include "batch.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "wire.h"
#include "hash.h"

typedef struct batch_series batch_series;
typedef struct batch_sample batch_sample;

struct batch_series {
    void     *mem;        /* the one allocation holding everything below */
    char     *key;        /* canonical key */
    char     *metric;
    pw_label *labels;     /* sorted */
    size_t    nlabels;
    uint64_t  hash;
};

struct batch_sample {
    uint32_t series;
    uint32_t group;
    double   value;
};

struct pw_batch {
    batch_series *series;
    size_t        nseries, capseries;
    uint32_t     *slots;      /* hash table: series index + 1, 0 = empty */
    size_t        nslots;     /* power of two */
    batch_sample *samples;
    size_t        nsamples, capsamples;
    int64_t      *groups;     /* timestamp of each group */
    size_t        ngroups, capgroups;
    char         *keybuf;     /* scratch for formatting keys, PW_MAX_SERIES_KEY_LEN + 1 */
};

static uint64_t
batch_hash(const char *s, size_t n)
{
    return pw_fnv1a64(s, n);
}

static int
batch_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void  *p;

    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    if ((p = realloc(*arr, ncap * elem)) == NULL)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

pw_batch *
pw_batch_new(void)
{
    pw_batch *b = calloc(1, sizeof *b);

    if (b == NULL)
        return NULL;
    if ((b->keybuf = malloc(PW_MAX_SERIES_KEY_LEN + 1)) == NULL) {
        free(b);
        return NULL;
    }
    return b;
}

void
pw_batch_reset(pw_batch *b)
{
    for (size_t i = 0; i < b->nseries; i++)
        free(b->series[i].mem);
    b->nseries = 0;
    b->nsamples = 0;
    b->ngroups = 0;
    if (b->slots != NULL)
        memset(b->slots, 0, b->nslots * sizeof *b->slots);
}

void
pw_batch_free(pw_batch *b)
{
    if (b == NULL)
        return;
    pw_batch_reset(b);
    free(b->series);
    free(b->slots);
    free(b->samples);
    free(b->groups);
    free(b->keybuf);
    free(b);
}

pw_err
pw_batch_group(pw_batch *b, int64_t ts_ms)
{
    if (b->ngroups >= PW_WIRE_MAX_GROUPS)
        return PW_ETOOBIG;
    if (batch_grow((void **) &b->groups, &b->capgroups, b->ngroups + 1, sizeof *b->groups))
        return PW_ENOMEM;
    b->groups[b->ngroups++] = ts_ms;
    return PW_OK;
}

static int
batch_rehash(pw_batch *b, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof *slots);

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < b->nseries; i++) {
        size_t j = b->series[i].hash & (nslots - 1);
        while (slots[j] != 0)
            j = (j + 1) & (nslots - 1);
        slots[j] = (uint32_t) i + 1;
    }
    free(b->slots);
    b->slots = slots;
    b->nslots = nslots;
    return 0;
}

/*
 * Copies key, metric and sorted labels into one allocation, laid out as
 * [label array][key][metric][name, value, ...] so the array is malloc-aligned,
 * and indexes it.
 */
static pw_err
batch_new_series(pw_batch *b, const char *key, size_t keylen, uint64_t h, const char *metric,
                 const pw_label *labels, size_t n, uint32_t *idx)
{
    size_t        size = n * sizeof(pw_label) + keylen + 1 + strlen(metric) + 1;
    batch_series *s;
    char         *w;
    size_t        j;

    if (b->nseries >= PW_WIRE_MAX_SERIES)
        return PW_ETOOBIG;
    for (size_t i = 0; i < n; i++)
        size += strlen(labels[i].name) + strlen(labels[i].value) + 2;
    if (batch_grow((void **) &b->series, &b->capseries, b->nseries + 1, sizeof *b->series))
        return PW_ENOMEM;
    /* Keep the table at most half full so probes stay short. */
    if ((b->nseries + 1) * 2 > b->nslots && batch_rehash(b, b->nslots ? b->nslots * 2 : 256))
        return PW_ENOMEM;
    s = &b->series[b->nseries];
    if ((s->mem = malloc(size)) == NULL)
        return PW_ENOMEM;
    s->labels = s->mem;
    w = (char *) s->mem + n * sizeof(pw_label);
    s->key = memcpy(w, key, keylen + 1);
    w += keylen + 1;
    s->metric = w;
    w = stpcpy(w, metric) + 1;
    for (size_t i = 0; i < n; i++) {
        s->labels[i].name = w;
        w = stpcpy(w, labels[i].name) + 1;
        s->labels[i].value = w;
        w = stpcpy(w, labels[i].value) + 1;
    }
    s->nlabels = n;
    s->hash = h;
    for (j = h & (b->nslots - 1); b->slots[j] != 0; j = (j + 1) & (b->nslots - 1))
        ;
    b->slots[j] = (uint32_t) b->nseries + 1;
    *idx = (uint32_t) b->nseries++;
    return PW_OK;
}

static long
batch_lookup(const pw_batch *b, const char *key, size_t keylen, uint64_t h)
{
    if (b->nslots == 0)
        return -1;
    for (size_t j = h & (b->nslots - 1); b->slots[j] != 0; j = (j + 1) & (b->nslots - 1)) {
        const batch_series *s = &b->series[b->slots[j] - 1];
        if (s->hash == h && strncmp(s->key, key, keylen) == 0 && s->key[keylen] == '\0')
            return (long) b->slots[j] - 1;
    }
    return -1;
}

pw_err
pw_batch_add(pw_batch *b, const char *metric, double value, size_t nlabels, const pw_label *labels)
{
    pw_label sorted[PW_MAX_LABELS];
    size_t   keylen;
    uint64_t h;
    long     found;
    uint32_t idx;
    pw_err   rc;

    if (!isfinite(value) || metric == NULL || !pw_metric_name_valid(metric, strlen(metric)))
        return PW_EINVAL;
    if (nlabels > PW_MAX_LABELS)
        return PW_ETOOBIG;
    for (size_t i = 0; i < nlabels; i++) {
        if (labels[i].name == NULL || labels[i].value == NULL
            || !pw_label_name_valid(labels[i].name, strlen(labels[i].name))
            || !pw_label_value_valid(labels[i].value, strlen(labels[i].value)))
            return PW_EINVAL;
        sorted[i] = labels[i];
    }
    if (pw_labels_sort(sorted, nlabels) != PW_OK)
        return PW_EINVAL;
    if (b->nsamples >= PW_WIRE_MAX_SAMPLES)
        return PW_ETOOBIG;
    if (b->ngroups == 0 && (rc = pw_batch_group(b, pw_now_ms())) != PW_OK)
        return rc;
    if ((rc = pw_series_key_format(metric, sorted, nlabels, b->keybuf, PW_MAX_SERIES_KEY_LEN + 1,
                                   &keylen)) != PW_OK)
        return rc;
    h = batch_hash(b->keybuf, keylen);
    if ((found = batch_lookup(b, b->keybuf, keylen, h)) >= 0) {
        idx = (uint32_t) found;
    } else if ((rc = batch_new_series(b, b->keybuf, keylen, h, metric, sorted, nlabels, &idx))
               != PW_OK) {
        return rc;
    }
    if (batch_grow((void **) &b->samples, &b->capsamples, b->nsamples + 1, sizeof *b->samples))
        return PW_ENOMEM;
    b->samples[b->nsamples++] = (batch_sample) {
        .series = idx, .group = (uint32_t) b->ngroups - 1, .value = value,
    };
    return PW_OK;
}

pw_err
pw_batch_addl(pw_batch *b, const char *metric, double value, ...)
{
    pw_label    labels[PW_MAX_LABELS + 1];
    size_t      n = 0;
    const char *name;
    va_list     ap;

    va_start(ap, value);
    while ((name = va_arg(ap, const char *)) != NULL) {
        if (n == PW_MAX_LABELS + 1) {
            va_end(ap);
            return PW_ETOOBIG;
        }
        labels[n].name = name;
        labels[n].value = va_arg(ap, const char *);
        n++;
    }
    va_end(ap);
    return pw_batch_add(b, metric, value, n, labels);
}

size_t
pw_batch_nseries(const pw_batch *b)
{
    return b->nseries;
}

size_t
pw_batch_nsamples(const pw_batch *b)
{
    return b->nsamples;
}

const char *
pw_batch_series_metric(const pw_batch *b, size_t i)
{
    return b->series[i].metric;
}

const pw_label *
pw_batch_series_labels(const pw_batch *b, size_t i, size_t *nlabels)
{
    *nlabels = b->series[i].nlabels;
    return b->series[i].labels;
}

const char *
pw_batch_series_key(const pw_batch *b, size_t i)
{
    return b->series[i].key;
}

void
pw_batch_sample(const pw_batch *b, size_t i, uint32_t *series, int64_t *ts_ms, double *value)
{
    const batch_sample *s = &b->samples[i];

    *series = s->series;
    *ts_ms = b->groups[s->group];
    *value = s->value;
}

pw_err
pw_batch_find(const pw_batch *b, const char *key, double *value)
{
    long idx = batch_lookup(b, key, strlen(key), batch_hash(key, strlen(key)));

    if (idx < 0)
        return PW_ENOENT;
    for (size_t i = b->nsamples; i-- > 0;)
        if (b->samples[i].series == (uint32_t) idx) {
            *value = b->samples[i].value;
            return PW_OK;
        }
    return PW_ENOENT;
}
