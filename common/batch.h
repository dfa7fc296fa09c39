/*
 * batch.h - the samples of one frame, as an agent builds them.
 *
 * A batch is a series dictionary (each distinct series once) plus timestamp
 * groups of (series index, value) samples. Samplers call pw_batch_add for
 * every value; the batch dedupes series so a frame names each one once, and
 * pw_wire_encode turns it into a v1 frame.
 *
 * Ownership: a batch owns copies of every string handed to it; callers keep
 * ownership of their own arguments. Not thread-safe.
 */
#ifndef PW_BATCH_H
#define PW_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"
#include "series.h"

typedef struct pw_batch pw_batch;

/* New empty batch, owned by the caller (pw_batch_free). NULL on ENOMEM. */
pw_batch *pw_batch_new(void);
void      pw_batch_free(pw_batch *b);
/* Empties the batch but keeps its memory for the next round. */
void      pw_batch_reset(pw_batch *b);

/*
 * Starts a timestamp group: the samples added next carry ts_ms. Adding a
 * sample before any group starts one at pw_now_ms().
 */
pw_err pw_batch_group(pw_batch *b, int64_t ts_ms);

/*
 * Adds one sample. Labels may come in any order; they are copied. Values are
 * stored as given: NaN/Inf are dropped here with PW_EINVAL (samplers must
 * skip values they cannot read rather than send garbage).
 * PW_EINVAL: bad metric/label name or value, duplicate label name.
 * PW_ETOOBIG: over the wire limits (labels, series, samples per frame).
 */
pw_err pw_batch_add(pw_batch *b, const char *metric, double value,
                    size_t nlabels, const pw_label *labels);

/* Convenience: labels as NULL-terminated name, value, name, value ... pairs. */
pw_err pw_batch_addl(pw_batch *b, const char *metric, double value, ...)
    __attribute__((sentinel));

size_t pw_batch_nseries(const pw_batch *b);
size_t pw_batch_nsamples(const pw_batch *b);

/* Series i (0 <= i < nseries): metric, sorted labels and canonical key, owned by the batch. */
const char     *pw_batch_series_metric(const pw_batch *b, size_t i);
const pw_label *pw_batch_series_labels(const pw_batch *b, size_t i, size_t *nlabels);
const char     *pw_batch_series_key(const pw_batch *b, size_t i);

/* Sample i (0 <= i < nsamples), in the order added. */
void pw_batch_sample(const pw_batch *b, size_t i, uint32_t *series, int64_t *ts_ms, double *value);

/*
 * Finds the last value added for a canonical key (see series.h), e.g.
 * `node_load1` or `node_cpu_seconds_total{cpu="0",mode="idle"}`.
 * PW_ENOENT if absent. Meant for tests and debugging.
 */
pw_err pw_batch_find(const pw_batch *b, const char *key, double *value);

#endif
