/*
 * inventory_table.c - the request table's columns, validation and export
 * (inventory_table.h).
 */
#include "inventory_table.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xlsxwriter.h>

#define IT_HEADER_SCAN  10      /* rows searched for the header row */
#define IT_MAX_ERRORS   200     /* listed; the rest are counted */

typedef enum it_kind { IT_STR, IT_NUM, IT_DATE, IT_TYPE, IT_BOOL, IT_UUID, IT_IP, IT_EMAIL } it_kind;

typedef struct it_col {
    it_kind     kind;
    bool        required;
    const char *names;         /* normalised synonyms, '|'-separated */
} it_col;

/* Synonyms are written normalised (see it_norm): lower case, no spaces or punctuation, no (unit). */
static const it_col it_cols[PW_INV_COL_COUNT_] = {
    [PW_INV_COL_ZONE] = { IT_STR, false,
        "网络区域|区域|网络|所属区域|网络分区|zone|networkzone|network|networkarea" },
    [PW_INV_COL_TENANT] = { IT_STR, true,
        "使用单位|单位|用户单位|申请单位|单位名称|使用单位名称|租户|tenant|unit|usingunit|department|organization|organisation" },
    [PW_INV_COL_DEVELOPER] = { IT_STR, false,
        "开发商|开发单位|开发厂商|承建单位|承建商|开发公司|developer|vendor|contractor" },
    [PW_INV_COL_SYSTEM] = { IT_STR, false,
        "系统名称|信息系统|信息系统名称|系统|业务系统|业务系统名称|system|systemname|informationsystem" },
    [PW_INV_COL_SUBSYSTEM] = { IT_STR, false,
        "子系统名称|子系统|子系统名|subsystem|subsystemname" },
    [PW_INV_COL_NAME] = { IT_STR, true,
        "虚拟机名称|虚拟机名|虚拟机|云主机名称|云主机|主机名|主机名称|服务器名称|vm|vmname|virtualmachine|virtualmachinename|name|hostname|servername" },
    [PW_INV_COL_SERVER_TYPE] = { IT_TYPE, false,
        "服务器类型|服务器用途|类型|用途|servertype|type|role|usage" },
    [PW_INV_COL_BASTION_OWNER] = { IT_STR, false,
        "堡垒机账号责任人|堡垒机账号负责人|堡垒机责任人|堡垒机负责人|账号责任人|账号负责人|责任人|负责人|bastionowner|bastionaccountowner|owner|accountowner" },
    [PW_INV_COL_BASTION_EMAIL] = { IT_EMAIL, false,
        "邮箱|电子邮箱|邮件|电子邮件|责任人邮箱|email|mail|bastionemail|owneremail" },
    [PW_INV_COL_BASTION_PHONE] = { IT_STR, false,
        "电话|联系电话|手机|手机号|手机号码|电话号码|责任人电话|phone|telephone|mobile|tel|bastionphone|ownerphone" },
    [PW_INV_COL_VCPUS] = { IT_NUM, false,
        "vcpu|vcpus|cpu|cpus|cpu核数|核数|vcpu数|cpu数|cpu数量|处理器|cores|vcpu核" },
    [PW_INV_COL_MEMORY] = { IT_NUM, false,
        "内存|内存大小|memory|mem|memorygb|memgb|ram|ramgb" },
    [PW_INV_COL_SYS_DISK] = { IT_NUM, false,
        "系统盘|系统盘大小|系统盘容量|systemdisk|systemdiskgb|sysdisk|sysdiskgb|osdisk|osdiskgb|rootdisk" },
    [PW_INV_COL_DATA_DISK] = { IT_NUM, false,
        "数据盘|数据盘大小|数据盘容量|datadisk|datadiskgb|disk|diskgb" },
    [PW_INV_COL_OS] = { IT_STR, false,
        "操作系统|操作系统版本|系统版本|os|operatingsystem|osversion" },
    [PW_INV_COL_CLUSTER] = { IT_BOOL, false,
        "是否集群部署|集群部署|是否集群|是否为集群|cluster|clustered|clusterdeployment|iscluster" },
    [PW_INV_COL_CLUSTER_GROUP] = { IT_STR, false,
        "集群组|集群分组|集群名称|集群组名|clustergroup|clustername|group" },
    [PW_INV_COL_UUID] = { IT_UUID, false,
        "uuid|虚拟机uuid|vmuuid|domainuuid" },
    [PW_INV_COL_IP] = { IT_IP, false,
        "ip|ip地址|业务ip|管理ip|ipaddress|ipaddr|address|地址" },
    [PW_INV_COL_POOL] = { IT_STR, false,
        "资源池|所属资源池|资源池名称|pool|resourcepool|poolname" },
    [PW_INV_COL_HOST] = { IT_STR, false,
        "宿主机|宿主机名称|宿主机名|物理机|物理主机|计算节点|host|hypervisor|node|physicalhost" },
    [PW_INV_COL_REQUESTED] = { IT_DATE, false,
        "申请日期|申请时间|requested|requestdate|requesteddate|requestedon" },
    [PW_INV_COL_DELIVERED] = { IT_DATE, false,
        "确认开通日期|开通日期|确认开通时间|开通时间|交付日期|delivered|delivereddate|deliverydate|start|startdate|confirmed" },
    [PW_INV_COL_TERMINATED] = { IT_DATE, false,
        "终止日期|终止时间|停用日期|回收日期|释放日期|terminated|terminationdate|terminateddate|end|enddate" },
    [PW_INV_COL_STATE] = { IT_STR, false,
        "状态|运行状态|虚拟机状态|state|status" },
    [PW_INV_COL_REMARKS] = { IT_STR, false,
        "备注|说明|备注说明|remarks|remark|notes|note|comment|comments" },
};

/* ---- text helpers ------------------------------------------------------- */

/* Decodes one UTF-8 character at *p (well-formed input: the readers checked). */
static uint32_t
it_utf8_next(const char **p)
{
    const unsigned char *s = (const unsigned char *) *p;
    uint32_t             c;
    int                  n;

    if (s[0] < 0x80) {
        *p += 1;
        return s[0];
    }
    n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    c = s[0] & (0x3f >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *p += i;
            return 0xfffd;
        }
        c = c << 6 | (s[i] & 0x3f);
    }
    *p += n;
    return c;
}

static size_t
it_utf8_put(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char) c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char) (0xc0 | c >> 6);
        out[1] = (char) (0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char) (0xe0 | c >> 12);
        out[1] = (char) (0x80 | (c >> 6 & 0x3f));
        out[2] = (char) (0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char) (0xf0 | c >> 18);
    out[1] = (char) (0x80 | (c >> 12 & 0x3f));
    out[2] = (char) (0x80 | (c >> 6 & 0x3f));
    out[3] = (char) (0x80 | (c & 0x3f));
    return 4;
}

/* Full-width forms to ASCII, ideographic space to space, 、to ','. */
static uint32_t
it_fold(uint32_t c)
{
    if (c >= 0xff01 && c <= 0xff5e)
        return c - 0xfee0;
    if (c == 0x3000 || c == 0xa0)
        return ' ';
    if (c == 0x3001)
        return ',';
    if (c == 0x3010)
        return '[';
    if (c == 0x3011)
        return ']';
    return c;
}

/*
 * A header normalised for lookup into out (len bytes); the text of a
 * parenthesised part, also folded and lowered, into unit.
 */
static void
it_norm(const char *s, char *out, size_t len, char *unit, size_t ulen)
{
    size_t o = 0, u = 0;
    int    depth = 0;

    while (*s != '\0') {
        uint32_t c = it_fold(it_utf8_next(&s));
        char     tmp[4];
        size_t   n;
        if (c == '(' || c == '[') {
            depth++;
            continue;
        }
        if ((c == ')' || c == ']') && depth > 0) {
            depth--;
            continue;
        }
        if (c < 0x80 && (isspace((int) c) || strchr("_-./:*", (int) c) != NULL))
            continue;
        if (c < 0x80)
            c = (uint32_t) tolower((int) c);
        n = it_utf8_put(tmp, c);
        if (depth > 0) {
            if (u + n < ulen) {
                memcpy(unit + u, tmp, n);
                u += n;
            }
        } else if (o + n < len) {
            memcpy(out + o, tmp, n);
            o += n;
        }
    }
    out[o] = '\0';
    if (ulen > 0)
        unit[u < ulen ? u : ulen - 1] = '\0';
}

/* The column a normalised header names, or -1. */
static int
it_lookup(const char *norm)
{
    size_t n = strlen(norm);

    if (n == 0)
        return -1;
    for (int c = 0; c < PW_INV_COL_COUNT_; c++) {
        const char *p = it_cols[c].names;
        while (p != NULL && *p != '\0') {
            const char *bar = strchr(p, '|');
            size_t      len = bar != NULL ? (size_t) (bar - p) : strlen(p);
            if (len == n && memcmp(p, norm, n) == 0)
                return c;
            p = bar != NULL ? bar + 1 : NULL;
        }
    }
    return -1;
}

/* A cell's value trimmed of ASCII and ideographic blanks; malloc'd. */
static char *
it_trim(const char *s)
{
    const char *end;

    for (;;) {
        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
            s++;
        else if (strncmp(s, "\xe3\x80\x80", 3) == 0)
            s += 3;
        else
            break;
    }
    end = s + strlen(s);
    for (;;) {
        if (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
            end--;
        else if (end - s >= 3 && memcmp(end - 3, "\xe3\x80\x80", 3) == 0)
            end -= 3;
        else
            break;
    }
    return strndup(s, (size_t) (end - s));
}

/* Folds full-width ASCII to ASCII (numbers and dates are often typed full-width). */
static void
it_fold_ascii(const char *s, char *out, size_t len)
{
    size_t o = 0;

    while (*s != '\0' && o + 4 < len) {
        uint32_t c = it_fold(it_utf8_next(&s));
        o += it_utf8_put(out + o, c);
    }
    out[o] = '\0';
}

/* ---- values ------------------------------------------------------------- */

static int64_t
it_days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t  era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned) (y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

bool
pw_inv_parse_date(const char *s, int64_t *ms)
{
    char     buf[128], *p;
    long     y, m, d, hh = 0, mm = 0, ss = 0;
    unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    it_fold_ascii(s, buf, sizeof buf);
    p = buf;
    if (!isdigit((unsigned char) *p))
        return false;
    y = strtol(p, &p, 10);
    if (*p == '-' || *p == '/' || *p == '.')
        p++;
    else if (strncmp(p, "年", 3) == 0)
        p += 3;
    else
        return false;
    if (!isdigit((unsigned char) *p))
        return false;
    m = strtol(p, &p, 10);
    if (*p == '-' || *p == '/' || *p == '.')
        p++;
    else if (strncmp(p, "月", 3) == 0)
        p += 3;
    else
        return false;
    if (!isdigit((unsigned char) *p))
        return false;
    d = strtol(p, &p, 10);
    if (strncmp(p, "日", 3) == 0 || strncmp(p, "号", 3) == 0)
        p += 3;
    if (*p == 'T' || *p == ' ') {
        while (*p == 'T' || *p == ' ')
            p++;
        if (*p != '\0') {
            if (!isdigit((unsigned char) *p))
                return false;
            hh = strtol(p, &p, 10);
            if (*p++ != ':' || !isdigit((unsigned char) *p))
                return false;
            mm = strtol(p, &p, 10);
            if (*p == ':') {
                p++;
                if (!isdigit((unsigned char) *p))
                    return false;
                ss = strtol(p, &p, 10);
            }
            if (*p == 'Z')
                p++;
        }
    }
    if (*p != '\0' || y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || hh > 23 || mm > 59 || ss > 59)
        return false;
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        mdays[1] = 29;
    if ((unsigned long) d > mdays[m - 1])
        return false;
    *ms = (it_days_from_civil((int) y, (unsigned) m, (unsigned) d) * 86400 + hh * 3600 + mm * 60 + ss) * 1000;
    return true;
}

/* A size or count, units allowed after the number ("8G", "4核"); why on failure. */
static bool
it_parse_num(const char *s, double *out, const char **why)
{
    char   buf[128], *end;
    double d;

    it_fold_ascii(s, buf, sizeof buf);
    errno = 0;
    d = strtod(buf, &end);
    if (end == buf) {
        *why = "not a number";
        return false;
    }
    while (*end == ' ')
        end++;
    if (*end != '\0') {
        static const char *const units[] = { "gb", "g", "gib", "核", "c", "vcpu", "vcpus", "个", "core", "cores" };
        bool ok = false;
        for (size_t i = 0; i < sizeof units / sizeof units[0] && !ok; i++)
            ok = strcasecmp(end, units[i]) == 0;
        if (!ok) {
            *why = "not a number";
            return false;
        }
    }
    if (!isfinite(d) || errno == ERANGE) {
        *why = "not a finite number";
        return false;
    }
    if (d < 0) {
        *why = "must not be negative";
        return false;
    }
    if (d > 1e9) {
        *why = "too large";
        return false;
    }
    *out = d;
    return true;
}

static const char *
it_server_type(const char *s)
{
    static const char *const map[][2] = {
        { "APP", "APP" }, { "WEB", "WEB" }, { "FTP", "FTP" }, { "DAT", "DAT" }, { "MID", "MID" },
        { "TST", "TST" }, { "OTH", "OTH" }, { "应用", "APP" }, { "应用服务器", "APP" },
        { "DB", "DAT" }, { "数据库", "DAT" }, { "数据库服务器", "DAT" }, { "DATA", "DAT" },
        { "WEB服务器", "WEB" }, { "前端", "WEB" }, { "文件", "FTP" }, { "文件服务器", "FTP" },
        { "中间件", "MID" }, { "中间件服务器", "MID" }, { "MIDDLEWARE", "MID" }, { "测试", "TST" },
        { "TEST", "TST" }, { "测试服务器", "TST" }, { "其他", "OTH" }, { "其它", "OTH" },
        { "OTHER", "OTH" },
    };
    char buf[64];
    size_t i;

    it_fold_ascii(s, buf, sizeof buf);
    for (i = 0; buf[i] != '\0'; i++)
        buf[i] = (char) toupper((unsigned char) buf[i]);
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(buf, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static int
it_bool(const char *s)
{
    static const char *const yes[] = { "是", "yes", "y", "true", "1", "集群" };
    static const char *const no[] = { "否", "no", "n", "false", "0", "单机", "非集群" };
    char buf[64];

    it_fold_ascii(s, buf, sizeof buf);
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcasecmp(buf, yes[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcasecmp(buf, no[i]) == 0)
            return 0;
    return -1;
}

/* 32 hex digits, with or without the 8-4-4-4-12 dashes -> lower case with dashes. */
static bool
it_uuid(const char *s, char out[37])
{
    size_t n = 0;

    for (const char *p = s; *p; p++) {
        if (*p == '-')
            continue;
        if (!isxdigit((unsigned char) *p) || n == 32)
            return false;
        out[n + (n >= 8) + (n >= 12) + (n >= 16) + (n >= 20)] = (char) tolower((unsigned char) *p);
        n++;
    }
    if (n != 32)
        return false;
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
    return true;
}

/* One or more addresses separated by , ; / or blanks -> "a,b"; malloc'd, NULL if any is bad. */
static char *
it_ips(const char *s, const char **why)
{
    char  buf[PW_INV_STR_MAX + 1], *save = NULL, *tok, *out;
    size_t o = 0;
    unsigned char addr[16];

    it_fold_ascii(s, buf, sizeof buf);
    if ((out = malloc(strlen(buf) + 1)) == NULL) {
        *why = "out of memory";
        return NULL;
    }
    out[0] = '\0';
    for (tok = strtok_r(buf, ",;/ \t\r\n", &save); tok != NULL; tok = strtok_r(NULL, ",;/ \t\r\n", &save)) {
        if (inet_pton(AF_INET, tok, addr) != 1 && inet_pton(AF_INET6, tok, addr) != 1) {
            *why = "not an IP address";
            free(out);
            return NULL;
        }
        o += (size_t) sprintf(out + o, "%s%s", o ? "," : "", tok);
    }
    return out;
}

/* ---- rows --------------------------------------------------------------- */

void
pw_inv_rows_free(pw_inv_rows *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nstrs; i++)
        free(r->strs[i]);
    free(r->strs);
    free(r->vms);
    free(r->lines);
    free(r->ignored);
    free(r);
}

/* Keeps s (malloc'd) in r; NULL on failure (s freed). */
static const char *
it_keep(pw_inv_rows *r, char *s)
{
    if (s == NULL)
        return NULL;
    if (r->nstrs == r->cstrs) {
        size_t cap = r->cstrs ? r->cstrs * 2 : 256;
        char **v = realloc(r->strs, cap * sizeof *v);
        if (v == NULL) {
            free(s);
            return NULL;
        }
        r->strs = v;
        r->cstrs = cap;
    }
    r->strs[r->nstrs++] = s;
    return s;
}

/* The error list. */
typedef struct it_errs {
    char  *p;
    size_t len, cap, count;
    bool   oom;
} it_errs;

static void it_err(it_errs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
it_err(it_errs *e, const char *fmt, ...)
{
    va_list ap;
    int     n;

    if (e->count++ >= IT_MAX_ERRORS || e->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(e->p != NULL ? e->p + e->len : NULL, e->p != NULL ? e->cap - e->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            e->oom = true;
            return;
        }
        if (e->p != NULL && e->len + (size_t) n + 2 <= e->cap) {
            e->len += (size_t) n;
            e->p[e->len++] = '\n';
            e->p[e->len] = '\0';
            return;
        }
        size_t cap = e->cap ? e->cap * 2 : 1024;
        while (cap < e->len + (size_t) n + 2)
            cap *= 2;
        char *p = realloc(e->p, cap);
        if (p == NULL) {
            e->oom = true;
            return;
        }
        e->p = p;
        e->cap = cap;
    }
}

/* A value shown in an error: cut long, so one bad remark does not flood the message. */
static const char *
it_show(const char *v, char *buf, size_t len)
{
    size_t n = strlen(v);

    if (n < len)
        return v;
    n = len - 4;
    while (n > 0 && ((unsigned char) v[n] & 0xc0) == 0x80)
        n--;
    snprintf(buf, len, "%.*s...", (int) n, v);
    return buf;
}

/* Finds the header row; fills map (column -> index in the row, or -1). */
static bool
it_header(const pw_sheet *t, size_t *hrow, int map[PW_INV_COL_COUNT_])
{
    for (size_t r = 0; r < t->nrows && r < IT_HEADER_SCAN; r++) {
        const pw_sheet_row *row = &t->rows[r];
        int known = 0;
        for (size_t j = 0; j < row->ncells; j++) {
            char norm[256], unit[64];
            it_norm(row->cells[j], norm, sizeof norm, unit, sizeof unit);
            if (it_lookup(norm) >= 0)
                known++;
        }
        if (known >= 2) {
            *hrow = r;
            for (int c = 0; c < PW_INV_COL_COUNT_; c++)
                map[c] = -1;
            return true;
        }
    }
    return false;
}

pw_err
pw_inv_table_rows(const pw_sheet *t, pw_inv_rows **out, char **errors)
{
    pw_inv_rows *r = NULL;
    it_errs      errs = { NULL, 0, 0, 0, false };
    int          map[PW_INV_COL_COUNT_];
    size_t       hrow = 0, ilen = 0;
    const pw_sheet_row *h;
    char         show[80];
    pw_err       e = PW_OK;

    *out = NULL;
    *errors = NULL;
    if ((r = calloc(1, sizeof *r)) == NULL || (r->ignored = calloc(1, 1)) == NULL)
        goto oom;
    if (t->nrows == 0) {
        it_err(&errs, "the table is empty");
        goto done;
    }
    if (!it_header(t, &hrow, map)) {
        it_err(&errs, "no header row found: none of the first %d rows names the columns "
               "(e.g. 使用单位 / unit, 虚拟机名称 / VM name)", IT_HEADER_SCAN);
        goto done;
    }
    h = &t->rows[hrow];
    for (size_t j = 0; j < h->ncells; j++) {
        char norm[256], unit[64];
        int  c;
        if (h->cells[j][0] == '\0')
            continue;
        it_norm(h->cells[j], norm, sizeof norm, unit, sizeof unit);
        if ((c = it_lookup(norm)) < 0) {
            char  *ig;
            size_t add = strlen(h->cells[j]) + 2;
            if ((ig = realloc(r->ignored, ilen + add + 1)) == NULL)
                goto oom;
            r->ignored = ig;
            ilen += (size_t) sprintf(ig + ilen, "%s%s", ilen ? ", " : "", h->cells[j]);
            continue;
        }
        if (map[c] >= 0) {
            it_err(&errs, "row %zu: columns %s and %s both mean %s", h->line,
                   t->rows[hrow].cells[map[c]], h->cells[j], pw_inv_col_header((pw_inv_col) c, PW_INV_LANG_EN));
            continue;
        }
        if (it_cols[c].kind == IT_NUM && (strcmp(unit, "mb") == 0 || strcmp(unit, "tb") == 0
                                          || strcmp(unit, "m") == 0 || strcmp(unit, "t") == 0)) {
            it_err(&errs, "row %zu, column %s: sizes must be in GB", h->line, h->cells[j]);
            continue;
        }
        map[c] = (int) j;
    }
    for (int c = 0; c < PW_INV_COL_COUNT_; c++)
        if (it_cols[c].required && map[c] < 0)
            it_err(&errs, "row %zu: missing required column %s (%s)", h->line, pw_inv_col_header((pw_inv_col) c, PW_INV_LANG_ZH), pw_inv_col_header((pw_inv_col) c, PW_INV_LANG_EN));
    if (errs.count > 0)
        goto done;
    if ((r->vms = calloc(t->nrows, sizeof *r->vms)) == NULL || (r->lines = calloc(t->nrows, sizeof *r->lines)) == NULL)
        goto oom;
    for (size_t i = hrow + 1; i < t->nrows; i++) {
        const pw_sheet_row *row = &t->rows[i];
        pw_inv_vm          *vm = &r->vms[r->n];
        const char         *vals[PW_INV_COL_COUNT_];
        bool                blank = true;

        memset(vm, 0, sizeof *vm);
        vm->delivered_ms = vm->requested_ms = INT64_MIN;
        vm->terminated_ms = INT64_MAX;
        for (int c = 0; c < PW_INV_COL_COUNT_; c++) {
            char *v = map[c] >= 0 && (size_t) map[c] < row->ncells ? it_trim(row->cells[map[c]]) : strdup("");
            if ((vals[c] = it_keep(r, v)) == NULL)
                goto oom;
            if (*vals[c] != '\0')
                blank = false;
            if (pw_inv_col_str(vm, (pw_inv_col) c) != NULL)
                *pw_inv_col_str(vm, (pw_inv_col) c) = vals[c];
        }
        if (blank)
            continue;
        for (int c = 0; c < PW_INV_COL_COUNT_; c++) {
            const char *v = vals[c], *why = NULL, *hd = map[c] >= 0 ? h->cells[map[c]] : pw_inv_col_header((pw_inv_col) c, PW_INV_LANG_ZH);
            char        uuid[37];
            if (*v == '\0') {
                if (it_cols[c].required)
                    it_err(&errs, "row %zu, column %s, value \"\": required", row->line, hd);
                continue;
            }
            if (strlen(v) > PW_INV_STR_MAX) {
                it_err(&errs, "row %zu, column %s, value \"%s\": longer than %d bytes", row->line, hd,
                       it_show(v, show, sizeof show), PW_INV_STR_MAX);
                continue;
            }
            switch (it_cols[c].kind) {
            case IT_STR:
                for (const unsigned char *p = (const unsigned char *) v; *p && why == NULL; p++)
                    if ((*p < 0x20 && *p != '\n' && *p != '\r' && *p != '\t') || *p == 0x7f)
                        why = "holds control characters";
                break;
            case IT_NUM:
                it_parse_num(v, pw_inv_col_num(vm, (pw_inv_col) c), &why);
                break;
            case IT_DATE:
                if (!pw_inv_parse_date(v, pw_inv_col_date(vm, (pw_inv_col) c)))
                    why = "not a date (use 2026-10-10, 2026/10/10 or 2026年10月10日)";
                break;
            case IT_TYPE:
                if ((*pw_inv_col_str(vm, (pw_inv_col) c) = it_server_type(v)) == NULL)
                    why = "unknown server type (APP, WEB, FTP, DAT, MID, TST or OTH)";
                break;
            case IT_BOOL: {
                int b = it_bool(v);
                if (b < 0)
                    why = "not yes or no (是/否)";
                else
                    vm->cluster = b ? PW_INV_CLUSTER_YES : PW_INV_CLUSTER_NO;
                break;
            }
            case IT_UUID:
                if (!it_uuid(v, uuid))
                    why = "not a UUID (32 hex digits, e.g. 4b1f0c9e-0d6a-4c1e-9a43-2f6f7c1d8e20)";
                else if ((*pw_inv_col_str(vm, (pw_inv_col) c) = it_keep(r, strdup(uuid))) == NULL)
                    goto oom;
                break;
            case IT_IP: {
                char *ips = it_ips(v, &why);
                if (ips != NULL && (*pw_inv_col_str(vm, (pw_inv_col) c) = it_keep(r, ips)) == NULL)
                    goto oom;
                break;
            }
            case IT_EMAIL: {
                const char *at = strchr(v, '@');
                if (at == NULL || at == v || at[1] == '\0')
                    why = "not an e-mail address";
                break;
            }
            }
            if (why != NULL)
                it_err(&errs, "row %zu, column %s, value \"%s\": %s", row->line, hd,
                       it_show(v, show, sizeof show), why);
        }
        if (vm->delivered_ms != INT64_MIN && vm->terminated_ms != INT64_MAX && vm->terminated_ms < vm->delivered_ms)
            it_err(&errs, "row %zu, column %s, value \"%s\": before the delivered date %s", row->line,
                   h->cells[map[PW_INV_COL_TERMINATED]], vals[PW_INV_COL_TERMINATED], vals[PW_INV_COL_DELIVERED]);
        if (*vm->name != '\0')
            for (size_t k = 0; k < r->n; k++)
                if (strcmp(r->vms[k].name, vm->name) == 0) {
                    it_err(&errs, "row %zu, column %s, value \"%s\": the same VM name is in row %zu",
                           row->line, h->cells[map[PW_INV_COL_NAME]], it_show(vm->name, show, sizeof show),
                           r->lines[k]);
                    break;
                }
        r->lines[r->n++] = row->line;
    }
    if (r->n == 0 && errs.count == 0)
        it_err(&errs, "no rows below the header row (row %zu)", h->line);
done:
    if (errs.oom)
        goto oom;
    if (errs.count > 0) {
        if (errs.count > IT_MAX_ERRORS)
            it_err(&errs, "... and %zu more", errs.count - IT_MAX_ERRORS);
        if (errs.len > 0 && errs.p[errs.len - 1] == '\n')
            errs.p[--errs.len] = '\0';
        *errors = errs.p;
        pw_inv_rows_free(r);
        return PW_EPROTO;
    }
    *out = r;
    return PW_OK;
oom:
    free(errs.p);
    pw_inv_rows_free(r);
    e = PW_ENOMEM;
    return e;
}

/* ---- export ------------------------------------------------------------- */

struct pw_inv_writer {
    pw_inv_lang  lang;
    FILE        *f;            /* CSV */
    bool         own_f;
    lxw_workbook *wb;          /* XLSX */
    lxw_worksheet *ws;
    lxw_format  *bold;
    lxw_row_t    row;
    bool         failed;
};

static void
it_csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL && s[0] != ' ' && (s[0] == '\0' || s[strlen(s) - 1] != ' ')) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

pw_err
pw_inv_writer_open(const char *path, bool xlsx, pw_inv_lang lang, pw_inv_writer **out, char *msg, size_t msglen)
{
    pw_inv_writer *w;

    *out = NULL;
    if (xlsx && path == NULL) {
        snprintf(msg, msglen, "XLSX needs an output file (-o FILE)");
        return PW_EINVAL;
    }
    if ((w = calloc(1, sizeof *w)) == NULL)
        return PW_ENOMEM;
    w->lang = lang;
    if (xlsx) {
        if ((w->wb = workbook_new(path)) == NULL || (w->ws = workbook_add_worksheet(w->wb, NULL)) == NULL) {
            snprintf(msg, msglen, "cannot create %s", path);
            if (w->wb != NULL)
                workbook_close(w->wb);
            free(w);
            return PW_EIO;
        }
        w->bold = workbook_add_format(w->wb);
        format_set_bold(w->bold);
        for (int c = 0; c < PW_INV_COL_COUNT_; c++)
            worksheet_write_string(w->ws, 0, (lxw_col_t) c, pw_inv_col_header((pw_inv_col) c, lang), w->bold);
        worksheet_freeze_panes(w->ws, 1, 0);
    } else {
        if (path == NULL) {
            w->f = stdout;
        } else if ((w->f = fopen(path, "w")) == NULL) {
            snprintf(msg, msglen, "cannot create %s: %s", path, strerror(errno));
            free(w);
            return PW_EIO;
        } else {
            w->own_f = true;
        }
        for (int c = 0; c < PW_INV_COL_COUNT_; c++) {
            if (c > 0)
                fputc(',', w->f);
            it_csv_field(w->f, pw_inv_col_header((pw_inv_col) c, lang));
        }
        fputs("\r\n", w->f);
    }
    w->row = 1;
    *out = w;
    return PW_OK;
}

pw_err
pw_inv_writer_row(pw_inv_writer *w, const pw_inv_vm *vm)
{
    char buf[PW_INV_STR_MAX + 64];

    for (int c = 0; c < PW_INV_COL_COUNT_; c++) {
        pw_inv_cell(vm, (pw_inv_col) c, w->lang, buf, sizeof buf);
        if (w->wb != NULL) {
            lxw_error le = LXW_NO_ERROR;
            if (buf[0] == '\0')
                continue;
            if (it_cols[c].kind == IT_NUM)
                le = worksheet_write_number(w->ws, w->row, (lxw_col_t) c, strtod(buf, NULL), NULL);
            else
                le = worksheet_write_string(w->ws, w->row, (lxw_col_t) c, buf, NULL);
            if (le != LXW_NO_ERROR)
                w->failed = true;
        } else {
            if (c > 0)
                fputc(',', w->f);
            it_csv_field(w->f, buf);
        }
    }
    if (w->f != NULL)
        fputs("\r\n", w->f);
    w->row++;
    return w->failed ? PW_EIO : PW_OK;
}

pw_err
pw_inv_writer_close(pw_inv_writer *w, char *msg, size_t msglen)
{
    pw_err e = PW_OK;

    if (w == NULL)
        return PW_OK;
    if (w->wb != NULL) {
        lxw_error le = workbook_close(w->wb);
        if (le != LXW_NO_ERROR || w->failed) {
            snprintf(msg, msglen, "cannot write the XLSX file: %s", lxw_strerror(le));
            e = PW_EIO;
        }
    } else {
        if (fflush(w->f) != 0 || ferror(w->f)) {
            snprintf(msg, msglen, "cannot write: %s", strerror(errno));
            e = PW_EIO;
        }
        if (w->own_f && fclose(w->f) != 0 && e == PW_OK) {
            snprintf(msg, msglen, "cannot write: %s", strerror(errno));
            e = PW_EIO;
        }
    }
    free(w);
    return e;
}
