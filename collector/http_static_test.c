/*
 * http_static_test.c - the dashboard's file serving (http_static.c): path
 * handling (no way out of the web directory, whatever the path), content
 * types, and whole calls against a temporary directory: a file, the index, a
 * symlink out, a directory, a hidden file, revalidation (304), a missing
 * directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"

static void
test_resolve(void **state)
{
    char out[256];
    static const char *bad[] = {
        "", "index.html", "/..", "/../etc/passwd", "/a/../../x", "/./index.html", "/a/./b",
        "/.git/config", "/.hidden", "/a//b", "//etc/passwd", "/a\\..\\b", "/a\x01", "/..\\x",
        "/a/..", "/a/.", "/js/.env",
    };

    (void) state;
    assert_int_equal(pw_http_static_resolve("/w", "/", out, sizeof out), PW_OK);
    assert_string_equal(out, "/w/index.html");
    assert_int_equal(pw_http_static_resolve("/w", "/app.js", out, sizeof out), PW_OK);
    assert_string_equal(out, "/w/app.js");
    assert_int_equal(pw_http_static_resolve("/w", "/vendor/uPlot.min.css", out, sizeof out), PW_OK);
    assert_string_equal(out, "/w/vendor/uPlot.min.css");
    assert_int_equal(pw_http_static_resolve("/w", "/i18n/", out, sizeof out), PW_OK);
    assert_string_equal(out, "/w/i18n/index.html");
    /* dots inside a name are fine: only a leading dot is refused */
    assert_int_equal(pw_http_static_resolve("/w", "/a..b/c.d.js", out, sizeof out), PW_OK);
    assert_string_equal(out, "/w/a..b/c.d.js");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pw_http_static_resolve("/w", bad[i], out, sizeof out) != PW_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(pw_http_static_resolve(NULL, "/", out, sizeof out), PW_EINVAL);
    assert_int_equal(pw_http_static_resolve("", "/", out, sizeof out), PW_EINVAL);
    assert_int_equal(pw_http_static_resolve("/w", "/a-rather-long-name.js", out, 10), PW_ETOOBIG);
}

static void
test_type(void **state)
{
    (void) state;
    assert_string_equal(pw_http_static_type("/w/index.html"), "text/html; charset=utf-8");
    assert_string_equal(pw_http_static_type("/w/app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(pw_http_static_type("/w/x.MJS"), "text/javascript; charset=utf-8");
    assert_string_equal(pw_http_static_type("/w/a.css"), "text/css; charset=utf-8");
    assert_string_equal(pw_http_static_type("/w/zh.json"), "application/json");
    assert_string_equal(pw_http_static_type("/w/logo.svg"), "image/svg+xml");
    assert_string_equal(pw_http_static_type("/w/README"), "application/octet-stream");
    assert_string_equal(pw_http_static_type("/w.d/README"), "application/octet-stream");
}

/* ---- whole calls ----------------------------------------------------------------- */

typedef struct fx {
    char dir[64], web[96], outside[96];
} fx;

static void
fx_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
fx_setup(void **state)
{
    fx  *x = calloc(1, sizeof *x);
    char p[160];

    snprintf(x->dir, sizeof x->dir, "/tmp/pw_static_XXXXXX");
    if (x == NULL || mkdtemp(x->dir) == NULL)
        return -1;
    snprintf(x->web, sizeof x->web, "%s/web", x->dir);
    snprintf(x->outside, sizeof x->outside, "%s/secret.txt", x->dir);
    mkdir(x->web, 0755);
    fx_write(x->outside, "secret\n");
    snprintf(p, sizeof p, "%s/index.html", x->web);
    fx_write(p, "<!doctype html><title>t</title>\n");
    snprintf(p, sizeof p, "%s/app.js", x->web);
    fx_write(p, "export const x = 1;\n");
    snprintf(p, sizeof p, "%s/.env", x->web);
    fx_write(p, "TOKEN=1\n");
    snprintf(p, sizeof p, "%s/sub", x->web);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/link.txt", x->web);
    if (symlink(x->outside, p) != 0)
        return -1;
    *state = x;
    return 0;
}

static int
fx_teardown(void **state)
{
    fx  *x = *state;
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    if (system(cmd) != 0)
        return -1;
    free(x);
    return 0;
}

/* One call of pw_http_static; the caller frees c->body. */
static void
call(pw_http_call *c, const char *web, const char *path, const char *inm)
{
    memset(c, 0, sizeof *c);
    c->method = "GET";
    c->path = path;
    c->web_dir = web;
    c->if_none_match = inm;
    c->status = 200;
    c->content_type = "application/json";
    pw_http_static(c);
}

static const char *
header(const pw_http_call *c, const char *name)
{
    for (size_t i = 0; i < 4; i++)
        if (c->headers[i].name != NULL && strcmp(c->headers[i].name, name) == 0)
            return c->headers[i].value;
    return NULL;
}

static void
test_serve(void **state)
{
    fx          *x = *state;
    pw_http_call c;
    char         etag[48];

    call(&c, x->web, "/", NULL);
    assert_int_equal(c.status, 200);
    assert_string_equal(c.content_type, "text/html; charset=utf-8");
    assert_non_null(strstr(c.body.p, "<title>t</title>"));
    assert_string_equal(header(&c, "Cache-Control"), "no-cache");
    assert_non_null(strstr(header(&c, "Content-Security-Policy"), "default-src 'self'"));
    pw_http_buf_free(&c.body);

    call(&c, x->web, "/app.js", NULL);
    assert_int_equal(c.status, 200);
    assert_string_equal(c.content_type, "text/javascript; charset=utf-8");
    assert_int_equal(c.body.len, strlen("export const x = 1;\n"));
    assert_null(header(&c, "Content-Security-Policy"));
    snprintf(etag, sizeof etag, "%s", header(&c, "ETag"));
    assert_true(etag[0] == '"');
    pw_http_buf_free(&c.body);

    /* unchanged: 304 without a body; another tag: the file again */
    call(&c, x->web, "/app.js", etag);
    assert_int_equal(c.status, 304);
    assert_int_equal(c.body.len, 0);
    pw_http_buf_free(&c.body);
    call(&c, x->web, "/app.js", "\"0-0\"");
    assert_int_equal(c.status, 200);
    pw_http_buf_free(&c.body);
}

static void
test_refused(void **state)
{
    fx          *x = *state;
    pw_http_call c;
    static const char *paths[] = {
        "/missing.js", "/sub", "/link.txt", "/.env", "/../secret.txt", "/sub/../../secret.txt",
        "/sub/",
    };

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        call(&c, x->web, paths[i], NULL);
        if (c.status != 404)
            fail_msg("%s: %d", paths[i], c.status);
        assert_string_equal(c.content_type, "text/html; charset=utf-8");
        assert_null(strstr(c.body.p, "secret"));
        assert_null(strstr(c.body.p, "TOKEN"));
        pw_http_buf_free(&c.body);
    }
}

static void
test_no_dir(void **state)
{
    fx          *x = *state;
    pw_http_call c;
    char         gone[160];

    snprintf(gone, sizeof gone, "%s/nothing", x->dir);
    call(&c, gone, "/", NULL);
    assert_int_equal(c.status, 404);
    assert_non_null(strstr(c.body.p, "npm ci --prefix dashboards/web"));
    assert_non_null(strstr(c.body.p, "--web-dir"));
    pw_http_buf_free(&c.body);
    call(&c, NULL, "/app.js", NULL);
    assert_int_equal(c.status, 404);
    pw_http_buf_free(&c.body);
    assert_false(pw_http_static_dir_ok(gone));
    assert_true(pw_http_static_dir_ok(x->web));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_type),
        cmocka_unit_test_setup_teardown(test_serve, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_dir, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
