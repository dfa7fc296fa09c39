/* sampler_fixture.c - shared sampler test helpers; see sampler_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_fixture.h"

/* A test process runs one test at a time: one pair of path buffers is enough. */
static char fx_proc[PATH_MAX], fx_sys[PATH_MAX];

pw_sampler_env
fx_env(const char *tree)
{
    const char    *root = getenv("PW_FIXTURES");
    pw_sampler_env env = { .proc_root = fx_proc, .sys_root = fx_sys, .rootfs = "", .statvfs_fn = statvfs };

    if (root == NULL)
        fail_msg("PW_FIXTURES is not set: run the tests with meson test");
    snprintf(fx_proc, sizeof fx_proc, "%s/%s/proc", root, tree);
    snprintf(fx_sys, sizeof fx_sys, "%s/%s/sys", root, tree);
    return env;
}

pw_err
fx_collect(const pw_sampler_ops *ops, const pw_sampler_env *env, pw_batch **b)
{
    void  *state = NULL;
    pw_err rc;

    assert_non_null(*b = pw_batch_new());
    if (ops->init)
        assert_int_equal(ops->init(env, &state), PW_OK);
    rc = ops->collect(state, env, *b);
    if (ops->fini)
        ops->fini(state);
    return rc;
}

size_t
fx_run(const pw_sampler_ops *ops, const char *tree, pw_err want)
{
    pw_sampler_env env = fx_env(tree);
    pw_batch      *b;
    size_t         n;

    assert_int_equal(fx_collect(ops, &env, &b), want);
    n = pw_batch_nseries(b);
    pw_batch_free(b);
    return n;
}

void
fx_expect(const pw_batch *b, const char *key, double want)
{
    double v;

    if (pw_batch_find(b, key, &v) != PW_OK)
        fail_msg("missing series %s", key);
    if (v != want)
        fail_msg("%s = %.17g, want %.17g", key, v, want);
}

void
fx_absent(const pw_batch *b, const char *key)
{
    double v;

    if (pw_batch_find(b, key, &v) == PW_OK)
        fail_msg("unexpected series %s = %g", key, v);
}

size_t
fx_count(const pw_batch *b, const char *metric)
{
    size_t n = 0;

    for (size_t i = 0; i < pw_batch_nseries(b); i++)
        n += strcmp(pw_batch_series_metric(b, i), metric) == 0;
    return n;
}

size_t
fx_count_label(const pw_batch *b, const char *metric, const char *name, const char *value)
{
    size_t n = 0;

    for (size_t i = 0; i < pw_batch_nseries(b); i++) {
        size_t          nl;
        const pw_label *l = pw_batch_series_labels(b, i, &nl);

        if (strcmp(pw_batch_series_metric(b, i), metric) != 0)
            continue;
        for (size_t j = 0; j < nl; j++)
            n += strcmp(l[j].name, name) == 0 && strcmp(l[j].value, value) == 0;
    }
    return n;
}
