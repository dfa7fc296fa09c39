/* spool_test.c - order, limits, persistence and locking of the frame spool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool.h"

static char *
tmpdir(void)
{
    char  tmpl[] = "/tmp/pwspoolXXXXXX";
    char *d = mkdtemp(tmpl);

    assert_non_null(d);
    return strdup(d);
}

static void
rmdir_all(const char *d)
{
    char cmd[256];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static void
test_fifo_and_persistence(void **state)
{
    char     *d = tmpdir();
    pw_spool *s;
    char      err[256], frame[64];
    uint64_t  key, seq, dropped;
    void     *buf;
    size_t    len;

    (void) state;
    assert_int_equal(pw_spool_open(d, 1 << 20, &s, err, sizeof err), PW_OK);
    assert_int_equal(pw_spool_peek(s, &key, &seq, &buf, &len), PW_ENOENT);
    for (int i = 1; i <= 3; i++) {
        snprintf(frame, sizeof frame, "frame-%d", i);
        assert_int_equal(pw_spool_push(s, (uint64_t) i * 10, frame, strlen(frame), &dropped), PW_OK);
        assert_int_equal(dropped, 0);
    }
    assert_int_equal(pw_spool_count(s), 3);
    assert_int_equal(pw_spool_bytes(s), 21);
    assert_int_equal(pw_spool_peek(s, &key, &seq, &buf, &len), PW_OK);
    assert_int_equal(seq, 10);
    assert_memory_equal(buf, "frame-1", 7);
    free(buf);
    assert_int_equal(pw_spool_remove(s, key), PW_OK);
    assert_int_equal(pw_spool_remove(s, key), PW_OK);          /* already gone: fine */
    assert_int_equal(pw_spool_meta_set(s, "agent_id", "abc"), PW_OK);
    pw_spool_close(s);

    /* reopen: frames 2 and 3 still there, in order; keys keep growing */
    assert_int_equal(pw_spool_open(d, 1 << 20, &s, err, sizeof err), PW_OK);
    assert_int_equal(pw_spool_count(s), 2);
    assert_int_equal(pw_spool_bytes(s), 14);
    assert_int_equal(pw_spool_meta_get(s, "agent_id", frame, sizeof frame), PW_OK);
    assert_string_equal(frame, "abc");
    assert_int_equal(pw_spool_meta_get(s, "nope", frame, sizeof frame), PW_ENOENT);
    assert_int_equal(pw_spool_push(s, 40, "frame-4", 7, NULL), PW_OK);
    assert_int_equal(pw_spool_peek(s, &key, &seq, &buf, &len), PW_OK);
    assert_int_equal(seq, 20);
    free(buf);
    pw_spool_remove(s, key);
    assert_int_equal(pw_spool_peek(s, &key, &seq, &buf, &len), PW_OK);
    assert_int_equal(seq, 30);
    free(buf);
    pw_spool_remove(s, key);
    assert_int_equal(pw_spool_peek(s, &key, &seq, &buf, &len), PW_OK);
    assert_int_equal(seq, 40);
    free(buf);
    pw_spool_close(s);
    rmdir_all(d);
    free(d);
}

static void
test_full_drops_oldest(void **state)
{
    char     *d = tmpdir();
    pw_spool *s;
    char      err[256];
    uint8_t  *frame = calloc(1, 10000);
    uint64_t  key, seq, dropped, total = 0;
    void     *buf;
    size_t    len;

    (void) state;
    assert_int_equal(pw_spool_open(d, 100000, &s, err, sizeof err), PW_OK);
    for (uint64_t i = 1; i <= 25; i++) {
        assert_int_equal(pw_spool_push(s, i, frame, 10000, &dropped), PW_OK);
        total += dropped;
        assert_true(pw_spool_bytes(s) <= 100000);
    }
    /* 10 frames fit; 15 were dropped, oldest first */
    assert_int_equal(pw_spool_count(s), 10);
    assert_int_equal(total, 15);
    assert_int_equal(pw_spool_peek(s, &key, &seq, &buf, &len), PW_OK);
    assert_int_equal(seq, 16);
    free(buf);
    assert_int_equal(pw_spool_push(s, 99, frame, 100001, &dropped), PW_ETOOBIG);
    pw_spool_close(s);
    free(frame);
    rmdir_all(d);
    free(d);
}

static void
test_exclusive_lock(void **state)
{
    char     *d = tmpdir();
    pw_spool *s1, *s2;
    char      err[256];

    (void) state;
    assert_int_equal(pw_spool_open(d, 1 << 20, &s1, err, sizeof err), PW_OK);
    assert_int_equal(pw_spool_open(d, 1 << 20, &s2, err, sizeof err), PW_EAGAIN);
    assert_non_null(strstr(err, "in use"));
    pw_spool_close(s1);
    assert_int_equal(pw_spool_open(d, 1 << 20, &s2, err, sizeof err), PW_OK);
    pw_spool_close(s2);
    rmdir_all(d);
    free(d);
}

static void
test_unusable_dir(void **state)
{
    pw_spool *s;
    char      err[256];

    (void) state;
    assert_int_equal(pw_spool_open("/proc/poolwatch-no/spool", 1 << 20, &s, err, sizeof err), PW_EIO);
    assert_non_null(strstr(err, "/proc/poolwatch-no/spool"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_persistence),
        cmocka_unit_test(test_full_drops_oldest),
        cmocka_unit_test(test_exclusive_lock),
        cmocka_unit_test(test_unusable_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
