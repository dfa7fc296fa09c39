/*
 * sampler_fixture.h - helpers shared by the sampler tests (sampler_*_test.c).
 *
 * Each test runs a sampler against a tree under $PW_FIXTURES (see
 * tests/fixtures/README.md) and checks series in the resulting batch. A
 * failed check ends the test through cmocka's fail_msg.
 */
#ifndef PW_SAMPLER_FIXTURE_H
#define PW_SAMPLER_FIXTURE_H

#include <stddef.h>

#include "batch.h"
#include "sampler.h"

/* Environment for fixture tree `tree` (e.g. "basic"); paths live until the next call. */
pw_sampler_env fx_env(const char *tree);

/* One round of ops on env into a new batch; *b is the caller's (pw_batch_free). */
pw_err fx_collect(const pw_sampler_ops *ops, const pw_sampler_env *env, pw_batch **b);

/*
 * One round of ops on fixture tree `tree` that must return `want`; returns
 * how many series it added all the same (the batch is freed).
 */
size_t fx_run(const pw_sampler_ops *ops, const char *tree, pw_err want);

/* The series with canonical key `key` has exactly `want`. */
void fx_expect(const pw_batch *b, const char *key, double want);
/* No series has canonical key `key`. */
void fx_absent(const pw_batch *b, const char *key);
/* Series of `metric`, any labels. */
size_t fx_count(const pw_batch *b, const char *metric);
/* Series of `metric` with label name="value". */
size_t fx_count_label(const pw_batch *b, const char *metric, const char *name, const char *value);

#endif
