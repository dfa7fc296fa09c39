/* job_test.c - the periodic worker (job.h): first delay, wake, stop during a long sleep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"
#include "job.h"

typedef struct jt_ctx {
    atomic_int runs;
    int64_t    next_ms;     /* what run returns */
} jt_ctx;

static int64_t
jt_run(pw_job *j, void *arg)
{
    jt_ctx *c = arg;

    (void) j;
    atomic_fetch_add(&c->runs, 1);
    return c->next_ms;
}

/* Waits (bounded) until c->runs reaches n; false on timeout. */
static bool
jt_wait_runs(jt_ctx *c, int n)
{
    int64_t         until = pw_mono_ms() + 5000;
    struct timespec ts = { 0, 1000000 };

    while (atomic_load(&c->runs) < n) {
        if (pw_mono_ms() > until)
            return false;
        nanosleep(&ts, NULL);
    }
    return true;
}

static void
test_first_at_once_then_wake(void **state)
{
    jt_ctx  c = { .next_ms = 3600000 };     /* an hour: only a wake brings the next run */
    pw_job *j;

    (void) state;
    assert_int_equal(pw_job_start(0, jt_run, &c, &j), PW_OK);
    assert_true(jt_wait_runs(&c, 1));
    pw_job_wake(j);
    assert_true(jt_wait_runs(&c, 2));
    pw_job_stop(j);         /* must not wait the hour */
    assert_int_equal(atomic_load(&c.runs), 2);
}

static void
test_stop_before_first(void **state)
{
    jt_ctx  c = { .next_ms = 10 };
    pw_job *j;
    int64_t t0 = pw_mono_ms();

    (void) state;
    assert_int_equal(pw_job_start(3600000, jt_run, &c, &j), PW_OK);
    pw_job_stop(j);
    assert_int_equal(atomic_load(&c.runs), 0);
    assert_true(pw_mono_ms() - t0 < 5000);
    pw_job_wake(NULL);
    pw_job_stop(NULL);
}

static void
test_periodic(void **state)
{
    jt_ctx  c = { .next_ms = 1 };
    pw_job *j;

    (void) state;
    assert_int_equal(pw_job_start(0, jt_run, &c, &j), PW_OK);
    assert_true(jt_wait_runs(&c, 5));
    pw_job_stop(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_at_once_then_wake),
        cmocka_unit_test(test_stop_before_first),
        cmocka_unit_test(test_periodic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
