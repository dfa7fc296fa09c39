/*
 * test_fixture.h - shared by the collector's storage tests: temporary data
 * directories and frames built by hand (no wire codec needed).
 *
 * Header-only on purpose (static functions, included once per test
 * program); not part of any library.
 */
#ifndef PW_TEST_FIXTURE_H
#define PW_TEST_FIXTURE_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

#define TF_MAX_SERIES  64
#define TF_MAX_LABELS  (PW_MAX_LABELS + 1)
#define TF_MAX_SAMPLES 4096

/* A frame with room for its arrays; tf.f is what the store sees. */
typedef struct tf_frame tf_frame;
struct tf_frame {
    pw_frame       f;
    pw_wire_series series[TF_MAX_SERIES];
    pw_label       labels[TF_MAX_SERIES][TF_MAX_LABELS];
    pw_wire_sample samples[TF_MAX_SAMPLES];
};

/* Makes a fresh directory under $TMPDIR (or /tmp); returns a malloc'd path. */
static inline char *
tf_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char       *path;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if (asprintf(&path, "%s/pwstore-test-XXXXXX", base) < 0)
        abort();
    if (mkdtemp(path) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

static inline int
tf_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

/* Removes dir and everything in it, then frees the path. */
static inline void
tf_rmdir(char *dir)
{
    if (dir == NULL)
        return;
    nftw(dir, tf_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* A frame of agent `agent`, boot id filled with `boot`, the given seq and host. */
static inline void
tf_init(tf_frame *t, const char *agent, unsigned char boot, uint64_t seq, const char *host)
{
    memset(t, 0, sizeof *t);
    t->f.hdr.version = PW_WIRE_VERSION;
    snprintf(t->f.hdr.agent_id, sizeof t->f.hdr.agent_id, "%s", agent);
    memset(t->f.hdr.boot_id, boot, sizeof t->f.hdr.boot_id);
    t->f.hdr.seq = seq;
    t->f.hdr.ts_ms = INT64_C(1767225600000) + (int64_t) seq * 1000;   /* 2026-01-01 + seq s */
    snprintf(t->f.hdr.host, sizeof t->f.hdr.host, "%s", host);
    snprintf(t->f.hdr.agent_version, sizeof t->f.hdr.agent_version, "0.1.0-test");
    t->f.series = t->series;
    t->f.samples = t->samples;
}

/* Adds a series: labels as name, value, ... NULL (strings must outlive the frame). */
static inline uint32_t tf_series(tf_frame *t, const char *metric, ...) __attribute__((sentinel));

static inline uint32_t
tf_series(tf_frame *t, const char *metric, ...)
{
    pw_wire_series *s = &t->series[t->f.nseries];
    va_list         ap;
    const char     *name;

    if (t->f.nseries == TF_MAX_SERIES)
        abort();
    s->metric = metric;
    s->labels = t->labels[t->f.nseries];
    va_start(ap, metric);
    while ((name = va_arg(ap, const char *)) != NULL) {
        if (s->nlabels == TF_MAX_LABELS)
            abort();
        s->labels[s->nlabels].name = name;
        s->labels[s->nlabels].value = va_arg(ap, const char *);
        s->nlabels++;
    }
    va_end(ap);
    pw_labels_sort(s->labels, s->nlabels);
    return (uint32_t) t->f.nseries++;
}

static inline void
tf_sample(tf_frame *t, uint32_t series, int64_t ts_ms, double value)
{
    if (t->f.nsamples == TF_MAX_SAMPLES)
        abort();
    t->samples[t->f.nsamples].series = series;
    t->samples[t->f.nsamples].ts_ms = ts_ms;
    t->samples[t->f.nsamples].value = value;
    t->f.nsamples++;
}

#endif
