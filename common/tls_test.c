/*
 * tls_test.c - URL classification and the errors of pw_tls_config_new that
 * need no certificate. Handshakes, identities and certificates are tested
 * end to end in tests/integration/test_tls.py (they need openssl's CA).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "tls.h"

static void
test_urls(void **state)
{
    static const char *const local[] = {
        "tcp://127.0.0.1:7410", "tcp://127.1.2.3:1", "tls+tcp://127.0.0.1:7410", "tcp://[::1]:7410",
        "tcp://localhost:7410", "tcp://[::ffff:127.0.0.1]:7410", "ipc:///tmp/pw.sock",
        "inproc://x",
    };
    static const char *const remote[] = {
        "tcp://0.0.0.0:7410", "tcp://*:7410", "tcp://:7410", "tcp://[::]:7410",
        "tcp://10.0.0.5:7410", "tcp://128.0.0.1:7410", "tcp://collector.example:7410",
        "tcp://localhost.example:7410", "tls+tcp://192.0.2.1:7410", "not a url",
    };

    (void) state;
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (!pw_url_is_local(local[i]))
            fail_msg("%s: not local", local[i]);
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++)
        if (pw_url_is_local(remote[i]))
            fail_msg("%s: local", remote[i]);
    assert_true(pw_tls_url("tls+tcp://h:1"));
    assert_true(pw_tls_url("tls+tcp6://h:1"));
    assert_false(pw_tls_url("tcp://h:1"));
    assert_false(pw_tls_url(NULL));
}

static void
test_config_errors(void **state)
{
    char            err[512], path[] = "/tmp/pwtlsXXXXXX";
    nng_tls_config *cfg = (nng_tls_config *) 1;
    pw_tls_files    none = { 0 }, missing = { .ca = "/nonexistent/ca.pem", .cert = "c", .key = "k" };
    pw_tls_files    junk = { .ca = path, .cert = path, .key = path };
    int             fd;

    (void) state;
    assert_int_equal(pw_tls_init(err, sizeof err), PW_OK);
    assert_int_equal(pw_tls_init(err, sizeof err), PW_OK);       /* once only */

    assert_int_equal(pw_tls_config_new(PW_TLS_SERVER, &none, NULL, &cfg, NULL, err, sizeof err),
                     PW_EINVAL);
    assert_null(cfg);
    assert_non_null(strstr(err, "missing: --tls-ca --tls-cert --tls-key"));

    assert_int_equal(pw_tls_config_new(PW_TLS_CLIENT, &missing, "h", &cfg, NULL, err, sizeof err),
                     PW_EIO);
    assert_non_null(strstr(err, "--tls-ca /nonexistent/ca.pem: cannot read: No such file"));

    assert_true((fd = mkstemp(path)) >= 0);
    assert_int_equal(write(fd, "not PEM\n", 8), 8);
    close(fd);
    assert_int_equal(pw_tls_config_new(PW_TLS_CLIENT, &junk, "h", &cfg, NULL, err, sizeof err),
                     PW_EINVAL);
    assert_non_null(strstr(err, "not a PEM CA certificate"));
    unlink(path);
}

static void
test_peer_of_no_pipe(void **state)
{
    char     cn[PW_TLS_MAX_CN + 1];
    nng_pipe none = NNG_PIPE_INITIALIZER;

    (void) state;
    assert_int_equal(pw_tls_peer_cn(none, cn, sizeof cn), PW_ENOENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_peer_of_no_pipe),
    };

    pw_log_init("tls_test", PW_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
