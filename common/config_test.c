/* config_test.c - one option table for argv and YAML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

typedef struct opts {
    const char *url;
    int64_t     interval;
    uint64_t    size;
    long        n;
    bool        once;
} opts;

static void
make_table(opts *o, pw_option *t)
{
    pw_option table[] = {
        { "url", PW_OPT_STRING, &o->url, "u", "URL" },
        { "interval", PW_OPT_DURATION, &o->interval, "i", "D" },
        { "spool-max", PW_OPT_SIZE, &o->size, "s", "SIZE" },
        { "n", PW_OPT_INT, &o->n, "n", "N" },
        { "once", PW_OPT_FLAG, &o->once, "o", NULL },
        { NULL, 0, NULL, NULL, NULL },
    };
    memcpy(t, table, sizeof table);
}

static char *
write_file(const char *text)
{
    static char path[64];
    int         fd;

    snprintf(path, sizeof path, "/tmp/pwcfgXXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

static void
test_args(void **state)
{
    opts      o = { 0 };
    pw_option t[6];
    pw_config c = { 0 };
    char      err[256];
    int       npos;
    char     *argv[] = { "prog", "--url", "tcp://x", "pos1", "--interval=500ms", "--once",
                         "--spool-max", "64MiB", "--n", "-3", "pos2", NULL };

    (void) state;
    make_table(&o, t);
    assert_int_equal(pw_config_parse_args(t, &c, 11, argv, &npos, err, sizeof err), PW_OK);
    assert_string_equal(o.url, "tcp://x");
    assert_int_equal(o.interval, 500);
    assert_int_equal(o.size, 64u << 20);
    assert_int_equal(o.n, -3);
    assert_true(o.once);
    assert_int_equal(npos, 2);
    assert_string_equal(argv[1], "pos1");
    assert_string_equal(argv[2], "pos2");
    pw_config_free(&c);
}

static void
test_arg_errors(void **state)
{
    opts      o = { 0 };
    pw_option t[6];
    pw_config c = { 0 };
    char      err[256];
    int       npos;
    char     *a1[] = { "prog", "--nope", NULL };
    char     *a2[] = { "prog", "--interval", "fast", NULL };
    char     *a3[] = { "prog", "--url", NULL };
    char     *a4[] = { "prog", "--config", "/nonexistent/poolwatch.yaml", NULL };

    (void) state;
    make_table(&o, t);
    assert_int_equal(pw_config_parse_args(t, &c, 2, a1, &npos, err, sizeof err), PW_EINVAL);
    assert_non_null(strstr(err, "unknown option --nope"));
    assert_int_equal(pw_config_parse_args(t, &c, 3, a2, &npos, err, sizeof err), PW_EINVAL);
    assert_non_null(strstr(err, "not a duration"));
    assert_int_equal(pw_config_parse_args(t, &c, 2, a3, &npos, err, sizeof err), PW_EINVAL);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_equal(pw_config_parse_args(t, &c, 3, a4, &npos, err, sizeof err), PW_EIO);
    pw_config_free(&c);
}

static void
test_yaml_and_precedence(void **state)
{
    opts      o = { 0 };
    pw_option t[6];
    pw_config c = { 0 };
    char      err[256];
    int       npos;
    char     *path = write_file("# agent config\nurl: tcp://from-file\ninterval: 2s\nonce: true\n");
    char     *argv[] = { "prog", "--config", path, "--interval", "3s", NULL };

    (void) state;
    make_table(&o, t);
    assert_int_equal(pw_config_parse_args(t, &c, 5, argv, &npos, err, sizeof err), PW_OK);
    assert_string_equal(o.url, "tcp://from-file");
    assert_int_equal(o.interval, 3000);      /* command line wins */
    assert_true(o.once);
    assert_int_equal(npos, 0);
    unlink(path);
    pw_config_free(&c);
}

static void
test_yaml_errors(void **state)
{
    static const struct { const char *text; const char *needle; } cases[] = {
        { "bogus: 1\n", "unknown option \"bogus\"" },
        { "url: [a, b]\n", "needs a single value" },
        { "interval: soon\n", ":1: --interval" },
        { "- a\n- b\n", "top level must be a mapping" },
        { "url: \"unterminated\n", "not valid YAML" },
        { "\nonce: maybe\n", ":2: --once" },
    };
    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        opts      o = { 0 };
        pw_option t[6];
        pw_config c = { 0 };
        char      err[256] = "";
        char     *path = write_file(cases[i].text);

        make_table(&o, t);
        assert_int_not_equal(pw_config_load_file(t, &c, path, err, sizeof err), PW_OK);
        if (strstr(err, cases[i].needle) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].needle);
        unlink(path);
        pw_config_free(&c);
    }
}

static void
test_sizes(void **state)
{
    uint64_t v;

    (void) state;
    assert_int_equal(pw_size_parse("4096", &v), PW_OK);
    assert_int_equal(v, 4096);
    assert_int_equal(pw_size_parse("1.5GiB", &v), PW_OK);
    assert_int_equal(v, 1610612736);
    assert_int_equal(pw_size_parse("10M", &v), PW_OK);
    assert_int_equal(v, 10000000);
    assert_int_equal(pw_size_parse("10 MiB", &v), PW_EINVAL);
    assert_int_equal(pw_size_parse("-1", &v), PW_EINVAL);
    assert_int_equal(pw_size_parse("lots", &v), PW_EINVAL);
}

static void
test_config_arg(void **state)
{
    char *a[] = { "prog", "--config", "a.yaml", "x", "--config=b.yaml", "--", "--config", "c", NULL };
    int   n = 8;

    (void) state;
    /* the last one before "--"; argv untouched */
    assert_string_equal(pw_config_arg(n, a), "b.yaml");
    assert_string_equal(a[1], "--config");
    assert_null(pw_config_arg(2, (char *[]) { "prog", "--config", NULL }));
    /* take: every --config before "--" goes, the rest stays in order */
    assert_string_equal(pw_config_arg_take(&n, a), "b.yaml");
    assert_int_equal(n, 5);
    assert_string_equal(a[1], "x");
    assert_string_equal(a[2], "--");
    assert_string_equal(a[3], "--config");
    assert_string_equal(a[4], "c");
    assert_null(a[5]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_arg_errors),
        cmocka_unit_test(test_yaml_and_precedence),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_config_arg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
