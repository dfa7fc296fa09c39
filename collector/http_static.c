/*
 * http_static.c - the web dashboard's files (dashboards/web, copied by the
 * build) served at / by the collector's HTTP server.
 *
 * No token: the files hold no data (the page fetches data from /api/v1 with
 * the token the user types). GET and HEAD only (the route says so). A path
 * is taken apart segment by segment and refused unless every segment is a
 * plain name: no "..", no ".", no hidden files, no empty segments, no
 * backslashes - so no request can name a file outside the web directory,
 * whatever its escapes (the path arrives percent-decoded). The file itself is
 * opened with O_NOFOLLOW and must be a regular file.
 *
 * Caching: the file names carry no version, so every answer says
 * "no-cache" (the browser revalidates) with an ETag from size and mtime; an
 * unchanged file costs a 304 and no body.
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest file served: the dashboard's biggest (Tabulator) is ~450 KiB. */
#define HSF_MAX_FILE (16u << 20)

/* What the HTML may load and talk to: only this server (no CDN; tokens stay here). */
#define HSF_CSP "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " \
                "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "       \
                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

pw_err
pw_http_static_resolve(const char *root, const char *path, char *out, size_t len)
{
    const char *p, *seg;
    size_t      n;
    int         w;

    if (root == NULL || root[0] == '\0' || path == NULL || path[0] != '/')
        return PW_EINVAL;
    for (p = path + 1; *p != '\0'; p = seg + n + (seg[n] == '/')) {
        seg = p;
        n = strcspn(seg, "/");
        if (n == 0 || seg[0] == '.' || memchr(seg, '\\', n) != NULL)
            return PW_EINVAL;           /* "//", ".", "..", ".hidden", "a\b" */
        for (size_t i = 0; i < n; i++)
            if ((unsigned char) seg[i] < 0x20 || seg[i] == 0x7f)
                return PW_EINVAL;
    }
    n = strlen(path);
    w = snprintf(out, len, "%s%s%s", root, path, path[n - 1] == '/' ? "index.html" : "");
    if (w < 0 || (size_t) w >= len)
        return PW_ETOOBIG;
    return PW_OK;
}

const char *
pw_http_static_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".json", "application/json" },
        { ".map", "application/json" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
        { ".woff2", "font/woff2" },
        { ".txt", "text/plain; charset=utf-8" },
    };
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');

    if (dot != NULL && (slash == NULL || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* The page for a missing web directory or file: says what to do, in both languages. */
static void
hsf_not_found(pw_http_call *c, bool no_dir)
{
    c->status = 404;
    c->content_type = "text/html; charset=utf-8";
    pw_http_buf_reset(&c->body);
    if (pw_http_buf_adds(&c->body, "<!doctype html><html><head><meta charset=\"utf-8\">"
                                   "<title>poolwatch: not found</title></head><body>") != PW_OK)
        return;
    if (!no_dir) {
        pw_http_buf_adds(&c->body, "<h1>404: no such file</h1><p>未找到该文件。 "
                                   "<a href=\"/\">poolwatch dashboard</a></p></body></html>\n");
        return;
    }
    pw_http_buf_adds(&c->body,
                     "<h1>The web dashboard's files are not installed</h1>"
                     "<p>This collector serves the dashboard from a directory that does not exist"
                     " or is empty (<code>--web-dir</code>). Build the files from a clone of"
                     " poolwatch:</p><pre>npm ci --prefix dashboards/web\nninja -C build/default"
                     "</pre><p>or start the collector with <code>--web-dir DIR</code> pointing at"
                     " them. The HTTP API under <code>/api/v1</code> works without them.</p>"
                     "<p>网页控制台文件未安装：请先执行上面的命令构建，或用 <code>--web-dir</code>"
                     " 指定目录。<code>/api/v1</code> 接口不受影响。</p></body></html>\n");
}

void
pw_http_static(pw_http_call *c)
{
    char        file[4096];
    struct stat st;
    int         fd = -1;
    size_t      got = 0;

    snprintf(c->object, sizeof c->object, "%s", c->path);
    if (c->web_dir == NULL || stat(c->web_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        hsf_not_found(c, true);
        return;
    }
    if (pw_http_static_resolve(c->web_dir, c->path, file, sizeof file) != PW_OK
        || (fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0
        || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t) st.st_size > HSF_MAX_FILE) {
        /* The directory is there but has no index: not built completely. */
        hsf_not_found(c, strcmp(c->path, "/") == 0);
        goto out;
    }
    snprintf(c->etag, sizeof c->etag, "\"%llx-%llx\"", (unsigned long long) st.st_size,
             (unsigned long long) st.st_mtim.tv_sec * 1000000000ull
                 + (unsigned long long) st.st_mtim.tv_nsec);
    c->headers[0] = (pw_http_header) { "ETag", c->etag };
    c->headers[1] = (pw_http_header) { "Cache-Control", "no-cache" };
    c->content_type = pw_http_static_type(file);
    if (strncmp(c->content_type, "text/html", 9) == 0) {
        c->headers[2] = (pw_http_header) { "Content-Security-Policy", HSF_CSP };
        c->headers[3] = (pw_http_header) { "Referrer-Policy", "no-referrer" };
    }
    if (c->if_none_match != NULL && strstr(c->if_none_match, c->etag) != NULL) {
        c->status = 304;
        goto out;
    }
    while (got < (size_t) st.st_size) {
        char    chunk[65536];
        ssize_t r = read(fd, chunk, sizeof chunk);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto fail;
        if (pw_http_buf_add(&c->body, chunk, (size_t) r) != PW_OK)
            goto fail;
        got += (size_t) r;
    }
    goto out;
fail:
    c->headers[0] = c->headers[1] = c->headers[2] = c->headers[3] = (pw_http_header) { NULL, NULL };
    pw_http_buf_reset(&c->body);
    pw_http_error(c, 503, "unavailable", "cannot read %s", c->path);
out:
    if (fd >= 0)
        close(fd);
}

#ifndef PW_WEB_INSTALL_DIR
#define PW_WEB_INSTALL_DIR "/usr/local/share/poolwatch/web"
#endif

bool
pw_http_static_dir_ok(const char *dir)
{
    char        f[4096];
    struct stat st;
    int         w = snprintf(f, sizeof f, "%s/index.html", dir);

    return w > 0 && (size_t) w < sizeof f && stat(f, &st) == 0 && S_ISREG(st.st_mode);
}

void
pw_http_static_default_dir(char *out, size_t len)
{
    char    exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char   *slash;

    if (n > 0) {
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')) != NULL) {
            *slash = '\0';
            /* build/<dir>/collector/poolwatch-collector -> build/<dir>/dashboards/web */
            if ((slash = strrchr(exe, '/')) != NULL) {
                int w;

                *slash = '\0';
                w = snprintf(out, len, "%s/dashboards/web", exe);
                if (w > 0 && (size_t) w < len && pw_http_static_dir_ok(out))
                    return;
            }
        }
    }
    snprintf(out, len, "%s", PW_WEB_INSTALL_DIR);
}
