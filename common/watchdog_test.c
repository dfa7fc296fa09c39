/* watchdog_test.c - the shutdown deadline fires only when shutdown is stuck. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "watchdog.h"

typedef struct expired {
    int         pipe[2];
    const char *stage;
    int         calls;
    ssize_t     wrote;      /* checked by the test's thread: cmocka asserts only there */
} expired;

/* Runs on the watchdog's thread; the pipe is how the test awaits it. */
static void
record_expire(const char *stage, void *arg)
{
    expired *e = arg;
    char     c = 'x';

    e->stage = stage;
    e->calls++;
    e->wrote = write(e->pipe[1], &c, 1);
}

static void
test_stop_in_time_does_not_fire(void **state)
{
    expired      e = { .calls = 0 };
    pw_watchdog *w;

    (void) state;
    assert_int_equal(pipe(e.pipe), 0);
    /* A minute: stop comes long before, and must wake the thread at once
     * (the test would take a minute otherwise). */
    assert_int_equal(pw_watchdog_start(60000, NULL, record_expire, &e, &w), PW_OK);
    pw_watchdog_stage(w, "closing the spool");
    assert_int_equal(pw_watchdog_stop(w), 0);
    assert_int_equal(e.calls, 0);
    close(e.pipe[0]);
    close(e.pipe[1]);
}

static void
test_stuck_shutdown_fires_with_its_stage(void **state)
{
    expired      e = { .calls = 0 };
    pw_watchdog *w;
    char         c;

    (void) state;
    assert_int_equal(pipe(e.pipe), 0);
    assert_int_equal(pw_watchdog_start(30, "test: nothing lost", record_expire, &e, &w), PW_OK);
    pw_watchdog_stage(w, "starting");
    pw_watchdog_stage(w, "closing the collector connection");
    /* "Stuck": never stop before the deadline; wait for the expire call. */
    assert_int_equal(read(e.pipe[0], &c, 1), 1);
    assert_int_equal(pw_watchdog_stop(w), 1);
    assert_int_equal(e.wrote, 1);
    assert_int_equal(e.calls, 1);
    assert_string_equal(e.stage, "closing the collector connection");
    close(e.pipe[0]);
    close(e.pipe[1]);
}

static void
test_bad_arguments(void **state)
{
    pw_watchdog *w = (pw_watchdog *) &w;

    (void) state;
    assert_int_equal(pw_watchdog_start(0, NULL, NULL, NULL, &w), PW_EINVAL);
    assert_null(w);
    assert_int_equal(pw_watchdog_start(-5, NULL, NULL, NULL, &w), PW_EINVAL);
    pw_watchdog_stage(NULL, "nothing");
    assert_int_equal(pw_watchdog_stop(NULL), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_in_time_does_not_fire),
        cmocka_unit_test(test_stuck_shutdown_fires_with_its_stage),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
