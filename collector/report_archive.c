/*
 * report_archive.c - the immutable monthly archive (report_archive.h).
 */
#include "report_archive.h"
#include "sort.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "inventory.h"

#define RA_MAX_FILES 4096

/* a "/" b into buf; false (buf empty) when it does not fit: paths are never cut */
static bool
ra_join(char *buf, size_t len, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);

    if (na + 1 + nb + 1 > len) {
        if (len > 0)
            buf[0] = '\0';
        return false;
    }
    memcpy(buf, a, na);
    buf[na] = '/';
    memcpy(buf + na + 1, b, nb + 1);
    return true;
}

/* SHA-256 of a file as 64 hex digits. */
static pw_err
ra_sha256_file(const char *path, char hex[65], uint64_t *size)
{
    crypto_hash_sha256_state st;
    unsigned char            h[crypto_hash_sha256_BYTES], buf[65536];
    FILE                    *f = fopen(path, "rb");
    size_t                   n;

    if (f == NULL)
        return PW_EIO;
    *size = 0;
    crypto_hash_sha256_init(&st);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        crypto_hash_sha256_update(&st, buf, n);
        *size += n;
    }
    if (ferror(f)) {
        fclose(f);
        return PW_EIO;
    }
    fclose(f);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
    return PW_OK;
}

static pw_err
ra_sync_close(FILE *f)
{
    int rc = fflush(f) == 0 && fsync(fileno(f)) == 0;

    return fclose(f) == 0 && rc ? PW_OK : PW_EIO;
}

/* Writes one report file into dir and appends its line to sums. */
static pw_err
ra_write_one(const char *dir, const pw_report *r, const pw_report_fmt_ops *fmt, FILE *sums, char *msg,
             size_t msglen)
{
    char     name[512], path[4096], hex[65];
    FILE    *f;
    uint64_t size;
    pw_err   e;

    pw_report_filename(r, fmt, name, sizeof name);
    if (!ra_join(path, sizeof path, dir, name) || (f = fopen(path, "wbx")) == NULL) {
        snprintf(msg, msglen, "report archive: cannot create %s: %s", path, strerror(errno));
        return PW_EIO;
    }
    if ((e = fmt->write(r, PW_REPORT_ZH, f, msg, msglen)) != PW_OK) {
        fclose(f);
        return e;
    }
    if (ra_sync_close(f) != PW_OK || chmod(path, 0444) != 0 || ra_sha256_file(path, hex, &size) != PW_OK) {
        snprintf(msg, msglen, "report archive: cannot write %s: %s", path, strerror(errno));
        return PW_EIO;
    }
    fprintf(sums, "%s  %s\n", hex, name);
    return PW_OK;
}

typedef struct ra_tenants { char **t; size_t n, cap; pw_err err; } ra_tenants;

static int
ra_tenant_cb(void *ctx, const pw_inv_vm *vm)
{
    ra_tenants *c = ctx;

    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->t[i], vm->tenant) == 0)
            return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        char **p = realloc(c->t, cap * sizeof *p);

        if (p == NULL) {
            c->err = PW_ENOMEM;
            return 1;
        }
        c->t = p;
        c->cap = cap;
    }
    if ((c->t[c->n] = strdup(vm->tenant)) == NULL) {
        c->err = PW_ENOMEM;
        return 1;
    }
    c->n++;
    return 0;
}

static void
ra_rmdir(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *de;
    char           p[4096];

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            if (ra_join(p, sizeof p, dir, de->d_name))
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

pw_err
pw_report_archive_month(const char *data_dir, pw_store *store, struct pw_inventory *inv, struct pw_alert_db *alerts,
                        const pw_report_tz *tz, const pw_report_period *period, int64_t now, bool *made,
                        char *msg, size_t msglen)
{
    char                     base[4096], final[4096], tmp[4096], sp[4096], tn[64];
    struct stat              st;
    ra_tenants               ts = { 0 };
    FILE                    *sums = NULL;
    pw_store_txn            *t = NULL;
    pw_report                r = { 0 };
    pw_report_opts           o = { 0 };
    const pw_report_fmt_ops *all[] = { &pw_report_fmt_xlsx, &pw_report_fmt_csv, &pw_report_fmt_html,
                                       &pw_report_fmt_json };
    pw_err                   e = PW_EIO;

    *made = false;
    if (msglen > 0)
        msg[0] = '\0';
    snprintf(tn, sizeof tn, ".tmp-%s-%ld", period->label, (long) getpid());
    if (!ra_join(base, sizeof base, data_dir, PW_REPORT_ARCHIVE_SUBDIR) || !ra_join(final, sizeof final, base, period->label)
        || !ra_join(tmp, sizeof tmp, base, tn) || !ra_join(sp, sizeof sp, tmp, "SHA256SUMS")) {
        snprintf(msg, msglen, "report archive: the data directory's path is too long");
        return PW_EINVAL;
    }
    if (stat(final, &st) == 0)
        return PW_OK;                   /* archived already: never again */
    if ((mkdir(base, 0755) != 0 && errno != EEXIST)) {
        snprintf(msg, msglen, "report archive: cannot create %s: %s", base, strerror(errno));
        return PW_EIO;
    }
    ra_rmdir(tmp);                      /* a half-made one of a crash of this pid number */
    if (mkdir(tmp, 0755) != 0) {
        snprintf(msg, msglen, "report archive: cannot create %s: %s", tmp, strerror(errno));
        return PW_EIO;
    }
    if ((sums = fopen(sp, "wx")) == NULL) {
        snprintf(msg, msglen, "report archive: cannot create %s: %s", sp, strerror(errno));
        goto out;
    }
    if ((e = pw_inventory_vms_in(inv, period->day0 * INT64_C(86400000), period->day1 * INT64_C(86400000), NULL,
                                 ra_tenant_cb, &ts)) != PW_OK
        || (e = ts.err) != PW_OK) {
        snprintf(msg, msglen, "report archive: reading the inventory: %s", pw_strerror(e));
        goto out;
    }
    o.period = *period;
    o.tz = tz;
    o.now = now;
    o.inv = inv;
    o.alerts = alerts;
    for (size_t i = 0; i <= ts.n; i++) {
        /* i == 0: the whole cloud; then each unit's own; every format */
        if ((e = pw_store_read_begin(store, &t)) != PW_OK) {
            snprintf(msg, msglen, "report archive: reading the store: %s", pw_strerror(e));
            goto out;
        }
        o.txn = t;
        o.tenant = i == 0 ? NULL : ts.t[i - 1];
        e = pw_report_build(&o, &r, msg, msglen);
        pw_store_read_end(t);
        t = NULL;
        if (e != PW_OK)
            goto out;
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
            if (i > 0 && r.nvms == 0)
                break;      /* a unit with no VM in service that month: no report */
            if ((e = ra_write_one(tmp, &r, all[k], sums, msg, msglen)) != PW_OK)
                goto out;
        }
        pw_report_free(&r);
    }
    e = PW_EIO;
    if (ra_sync_close(sums) != PW_OK) {
        sums = NULL;
        snprintf(msg, msglen, "report archive: cannot write %s", sp);
        goto out;
    }
    sums = NULL;
    chmod(sp, 0444);
    if (rename(tmp, final) != 0) {
        snprintf(msg, msglen, "report archive: cannot rename %s to %s: %s", tmp, final, strerror(errno));
        goto out;
    }
    {
        int fd = open(base, O_RDONLY | O_DIRECTORY);

        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
    }
    *made = true;
    e = PW_OK;
out:
    pw_report_free(&r);
    if (sums != NULL)
        fclose(sums);
    if (e != PW_OK)
        ra_rmdir(tmp);
    for (size_t i = 0; i < ts.n; i++)
        free(ts.t[i]);
    free(ts.t);
    return e;
}

pw_err
pw_report_archive_clean(const char *data_dir, size_t *removed)
{
    char           base[4096], p[4096];
    DIR           *d;
    struct dirent *de;

    *removed = 0;
    if (!ra_join(base, sizeof base, data_dir, PW_REPORT_ARCHIVE_SUBDIR))
        return PW_ETOOBIG;
    if ((d = opendir(base)) == NULL)
        return errno == ENOENT ? PW_OK : PW_EIO;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".tmp-", 5) != 0 || !ra_join(p, sizeof p, base, de->d_name))
            continue;
        ra_rmdir(p);
        (*removed)++;
    }
    closedir(d);
    return PW_OK;
}

/* ---- listing ------------------------------------------------------------ */

static bool
ra_plain(const char *s)
{
    if (s[0] == '\0' || s[0] == '.' || strlen(s) > 255)
        return false;
    for (; *s != '\0'; s++)
        if (*s == '/' || *s == '\\')
            return false;
    return true;
}

pw_err
pw_report_archive_path(const char *data_dir, const char *month, const char *file, char *buf, size_t len)
{
    char a[4096], b[4096];

    if (!ra_plain(month) || !ra_plain(file) || strcmp(file, "SHA256SUMS") == 0)
        return PW_EINVAL;
    if (!ra_join(a, sizeof a, data_dir, PW_REPORT_ARCHIVE_SUBDIR) || !ra_join(b, sizeof b, a, month)
        || !ra_join(buf, len, b, file))
        return PW_ETOOBIG;
    return PW_OK;
}

/* The SHA-256 SHA256SUMS lists for file in dir, as 64 hex digits; false if none. */
static bool
ra_listed(const char *dir, const char *file, char hex[65])
{
    char   p[4096], line[1024];
    FILE  *f;
    size_t fn = strlen(file);
    bool   found = false;

    if (!ra_join(p, sizeof p, dir, "SHA256SUMS") || (f = fopen(p, "r")) == NULL)
        return false;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        size_t ln = strcspn(line, "\r\n");

        if (ln == 66 + fn && line[64] == ' ' && line[65] == ' ' && memcmp(line + 66, file, fn) == 0) {
            memcpy(hex, line, 64);
            hex[64] = '\0';
            found = true;
        }
    }
    fclose(f);
    return found;
}

pw_err
pw_report_archive_load(const char *data_dir, const char *month, const char *file, size_t max, char **data,
                       size_t *len)
{
    char          path[4096], dir[4096], a[4096], want[65], got[65];
    unsigned char h[crypto_hash_sha256_BYTES];
    struct stat   st;
    FILE         *f = NULL;
    char         *buf = NULL;
    pw_err        e;

    *data = NULL;
    *len = 0;
    if ((e = pw_report_archive_path(data_dir, month, file, path, sizeof path)) != PW_OK)
        return e;
    if (!ra_join(a, sizeof a, data_dir, PW_REPORT_ARCHIVE_SUBDIR) || !ra_join(dir, sizeof dir, a, month))
        return PW_ETOOBIG;
    if ((f = fopen(path, "rb")) == NULL)
        return errno == ENOENT || errno == ENOTDIR ? PW_ENOENT : PW_EIO;
    e = PW_EIO;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if ((uint64_t) st.st_size > max) {
        e = PW_ETOOBIG;
        goto out;
    }
    if ((buf = malloc((size_t) st.st_size + 1)) == NULL) {
        e = PW_ENOMEM;
        goto out;
    }
    if (fread(buf, 1, (size_t) st.st_size, f) != (size_t) st.st_size)
        goto out;
    if (!ra_listed(dir, file, want)) {
        e = PW_ENOENT;
        goto out;
    }
    crypto_hash_sha256(h, (const unsigned char *) buf, (unsigned long long) st.st_size);
    sodium_bin2hex(got, sizeof got, h, sizeof h);
    if (strcmp(got, want) != 0) {
        e = PW_EPROTO;
        goto out;
    }
    *data = buf;
    *len = (size_t) st.st_size;
    buf = NULL;
    e = PW_OK;
out:
    free(buf);
    fclose(f);
    return e;
}

static int
ra_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

bool
pw_report_archive_owned(const char *month, const char *file, const char *tenant)
{
    static const char *const exts[] = { "xlsx", "csv", "html", "json" };
    pw_report                r = { 0 };
    char                     name[512];

    r.period.kind = PW_REPORT_MONTHLY;
    snprintf(r.period.label, sizeof r.period.label, "%s", month);
    r.tenant = (char *) tenant;
    for (size_t i = 0; i < 4; i++) {
        pw_report_fmt_ops f = { 0 };

        f.ext = exts[i];
        pw_report_filename(&r, &f, name, sizeof name);
        if (strcmp(name, file) == 0)
            return true;
    }
    return false;
}

static pw_err
ra_list_month(const char *base, const char *month, const char *tenant, pw_report_archived_cb cb, void *ctx,
              bool *stop)
{
    char           dir[4096], p[4096], line[1024], hex[65];
    DIR           *d;
    struct dirent *de;
    char         **names = NULL, **sums = NULL;
    size_t         n = 0, ns = 0;
    FILE          *f;
    pw_err         e = PW_OK;

    if (!ra_join(dir, sizeof dir, base, month) || !ra_join(p, sizeof p, dir, "SHA256SUMS"))
        return PW_ETOOBIG;
    if ((sums = calloc(RA_MAX_FILES, sizeof *sums)) == NULL || (names = calloc(RA_MAX_FILES, sizeof *names)) == NULL) {
        e = PW_ENOMEM;
        goto out;
    }
    if ((f = fopen(p, "r")) != NULL) {
        while (ns < RA_MAX_FILES && fgets(line, sizeof line, f) != NULL)
            if ((sums[ns] = strdup(line)) != NULL)
                ns++;
        fclose(f);
    }
    if ((d = opendir(dir)) == NULL)
        goto out;
    while (n < RA_MAX_FILES && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "SHA256SUMS") == 0)
            continue;
        if (tenant != NULL && !pw_report_archive_owned(month, de->d_name, tenant))
            continue;
        if ((names[n] = strdup(de->d_name)) != NULL)
            n++;
    }
    closedir(d);
    pw_qsort(names, n, sizeof *names, ra_strcmp);
    for (size_t i = 0; i < n && !*stop; i++) {
        pw_report_archived a = { month, names[i], "", 0, 0, false };
        struct stat        st;
        const char        *listed = "";
        uint64_t           size = 0;

        for (size_t k = 0; k < ns; k++) {
            size_t ln = strlen(sums[k]), fn = strlen(names[i]);

            while (ln > 0 && (sums[k][ln - 1] == '\n' || sums[k][ln - 1] == '\r'))
                sums[k][--ln] = '\0';
            if (ln == 66 + fn && sums[k][64] == ' ' && sums[k][65] == ' ' && strcmp(sums[k] + 66, names[i]) == 0) {
                sums[k][64] = '\0';
                listed = sums[k];
                break;
            }
        }
        if (ra_join(p, sizeof p, dir, names[i]) && stat(p, &st) == 0)
            a.mtime_ms = (int64_t) st.st_mtime * 1000;
        a.sha256 = listed;
        a.intact = listed[0] != '\0' && ra_sha256_file(p, hex, &size) == PW_OK && strcmp(hex, listed) == 0;
        a.size = size;
        if (cb(ctx, &a) != 0)
            *stop = true;
    }
out:
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    for (size_t i = 0; sums != NULL && i < ns; i++)
        free(sums[i]);
    free(names);
    free(sums);
    return e;
}

pw_err
pw_report_archive_list(const char *data_dir, const char *tenant, pw_report_archived_cb cb, void *ctx)
{
    char           base[4096];
    DIR           *d;
    struct dirent *de;
    char         **months = NULL;
    size_t         n = 0, cap = 0;
    bool           stop = false;
    pw_err         e = PW_OK;

    if (!ra_join(base, sizeof base, data_dir, PW_REPORT_ARCHIVE_SUBDIR))
        return PW_ETOOBIG;
    if ((d = opendir(base)) == NULL)
        return errno == ENOENT ? PW_OK : PW_EIO;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **p = realloc(months, nc * sizeof *p);

            if (p == NULL) {
                e = PW_ENOMEM;
                break;
            }
            months = p;
            cap = nc;
        }
        if ((months[n] = strdup(de->d_name)) == NULL) {
            e = PW_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (e == PW_OK) {
        pw_qsort(months, n, sizeof *months, ra_strcmp);
        for (size_t i = 0; i < n && !stop && e == PW_OK; i++)
            e = ra_list_month(base, months[i], tenant, cb, ctx, &stop);
    }
    for (size_t i = 0; i < n; i++)
        free(months[i]);
    free(months);
    return e;
}
