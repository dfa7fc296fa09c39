/*
 * report_fmt.c - the parts of a report as tables (report_int.h), and what
 * every format needs: names, titles, file names, the format table.
 */
#include "report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "report_advice.h"

const char *
pw_rname(pw_report_lang lang, const char *zh, const char *en)
{
    return lang == PW_REPORT_EN ? en : zh;
}

void
pw_report_day_str(int64_t day, char *buf, size_t len)
{
    int y, m, d;

    pw_report_civil_from_days(day, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}

static const char *
rf_kind(pw_report_kind k, pw_report_lang lang)
{
    static const char *const zh[] = { "月度", "季度", "年度", "服务年度" };
    static const char *const en[] = { "Monthly", "Quarterly", "Annual", "Service-year" };

    if ((unsigned) k >= PW_REPORT_KIND_COUNT_)
        return "";
    return lang == PW_REPORT_EN ? en[k] : zh[k];
}

void
pw_report_title(const pw_report *r, pw_report_lang lang, char *buf, size_t len)
{
    char a[16], b[16];

    pw_report_day_str(r->period.day0, a, sizeof a);
    pw_report_day_str(r->period.day1 - 1, b, sizeof b);
    if (lang == PW_REPORT_EN)
        snprintf(buf, len, "%s utilization report %s (%s to %s, %s): %s", rf_kind(r->period.kind, lang),
                 r->period.label, a, b, r->tz, r->tenant != NULL ? r->tenant : "all units");
    else
        snprintf(buf, len, "%s资源使用报告 %s（%s 至 %s，%s）：%s", rf_kind(r->period.kind, lang),
                 r->period.label, a, b, r->tz, r->tenant != NULL ? r->tenant : "全部使用单位");
}

static const char *
rf_rule_text(pw_report_rule rule, pw_report_lang lang)
{
    static const char *const zh[PW_RULE_COUNT_] = { "", "配置过高", "配置不足", "长期空闲", "僵尸主机",
                                                    "多次预警仍低效" };
    static const char *const en[PW_RULE_COUNT_] = { "", "oversized", "undersized", "idle", "zombie",
                                                    "repeatedly warned, still underused" };

    if ((unsigned) rule >= PW_RULE_COUNT_)
        return "";
    return lang == PW_REPORT_EN ? en[rule] : zh[rule];
}

static const char *
rf_action_text(pw_report_rule rule, pw_report_lang lang)
{
    static const char *const zh[PW_RULE_COUNT_] = { "", "降配", "扩容", "回收", "回收", "暂停新增资源申请" };
    static const char *const en[PW_RULE_COUNT_] = { "", "downsize", "expand", "reclaim", "reclaim",
                                                    "suspend further requests" };

    if ((unsigned) rule >= PW_RULE_COUNT_)
        return "";
    return lang == PW_REPORT_EN ? en[rule] : zh[rule];
}

static const char *
rf_res_text(const char *res, pw_report_lang lang)
{
    static const struct { const char *key, *zh; } t[] = {
        { "cpu", "计算" }, { "memory", "内存" }, { "storage", "存储" }, { "network", "网络" } };

    if (lang == PW_REPORT_EN)
        return res;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].key, res) == 0)
            return t[i].zh;
    return res;
}

/* ---- utilization -------------------------------------------------------- */

static const pw_rcol rf_util_cols[] = {
    { "tenant", "使用单位", "unit", PW_RCOL_TEXT },
    { "system", "系统名称", "system", PW_RCOL_TEXT },
    { "subsystem", "子系统名称", "subsystem", PW_RCOL_TEXT },
    { "name", "虚拟机名称", "VM name", PW_RCOL_TEXT },
    { "zone", "网络区域", "network zone", PW_RCOL_TEXT },
    { "server_type", "服务器类型", "server type", PW_RCOL_TEXT },
    { "vcpus", "vCPU(核)", "vCPU", PW_RCOL_NUM },
    { "memory_gb", "内存(GB)", "memory GB", PW_RCOL_NUM },
    { "sys_disk_gb", "系统盘(GB)", "system disk GB", PW_RCOL_NUM },
    { "data_disk_gb", "数据盘(GB)", "data disk GB", PW_RCOL_NUM },
    { "days", "在用天数", "days in service", PW_RCOL_INT },
    { "share", "计费比例", "share of period", PW_RCOL_PCT },
    { "vcpu_days", "vCPU·天", "vCPU-days", PW_RCOL_NUM },
    { "memory_gb_days", "内存GB·天", "memory GB-days", PW_RCOL_NUM },
    { "disk_gb_days", "磁盘GB·天", "disk GB-days", PW_RCOL_NUM },
    { "cpu_avg", "CPU平均利用率", "CPU avg", PW_RCOL_PCT },
    { "cpu_p95", "CPU P95利用率", "CPU p95", PW_RCOL_PCT },
    { "cpu_max", "CPU峰值利用率", "CPU max", PW_RCOL_PCT },
    { "mem_avg", "内存平均利用率", "memory avg", PW_RCOL_PCT },
    { "mem_p95", "内存P95利用率", "memory p95", PW_RCOL_PCT },
    { "disk_used", "磁盘使用率", "disk used", PW_RCOL_PCT },
    { "net_avg_mbps", "网络平均吞吐(Mbit/s)", "network avg Mbit/s", PW_RCOL_NUM },
    { "net_p95_mbps", "网络P95吞吐(Mbit/s)", "network p95 Mbit/s", PW_RCOL_NUM },
    { "availability", "可用率", "availability", PW_RCOL_PCT },
    { "recommendation", "建议", "recommendation", PW_RCOL_TEXT },
};

static size_t rf_util_n(const pw_report *r) { return r->nvms; }

static double
rf_mbps(double bytes_per_s)
{
    return isnan(bytes_per_s) ? NAN : bytes_per_s * 8.0 / 1e6;
}

static void
rf_util_row(const pw_report *r, size_t i, pw_report_lang lang, pw_rcell *c, char *scratch)
{
    const pw_report_vm *v = &r->vms[i];
    const pw_usage     *u = &v->use;
    char               *rec = scratch;

    if (v->rule != PW_RULE_NONE)
        snprintf(rec, PW_RCELL_TEXT, "%s（%s）", rf_action_text(v->rule, lang), rf_rule_text(v->rule, lang));
    else
        rec[0] = '\0';
    if (lang == PW_REPORT_EN && v->rule != PW_RULE_NONE)
        snprintf(rec, PW_RCELL_TEXT, "%s (%s)", rf_action_text(v->rule, lang), rf_rule_text(v->rule, lang));
    c[0].s = v->tenant;  c[1].s = v->system;  c[2].s = v->subsystem;  c[3].s = v->name;
    c[4].s = v->zone;    c[5].s = v->server_type;
    c[6].v = v->vcpus;   c[7].v = v->memory_gb;  c[8].v = v->sys_disk_gb;  c[9].v = v->data_disk_gb;
    c[10].v = v->days;   c[11].v = v->share;
    c[12].v = v->vcpu_days;  c[13].v = v->memory_gb_days;  c[14].v = v->disk_gb_days;
    c[15].v = u->cpu_avg;    c[16].v = u->cpu_p95;  c[17].v = u->cpu_max;
    c[18].v = u->mem_avg;    c[19].v = u->mem_p95;  c[20].v = u->disk_used;
    c[21].v = rf_mbps(u->net_avg);  c[22].v = rf_mbps(u->net_p95);
    c[23].v = u->availability;
    c[24].s = rec;
}

/* ---- operations --------------------------------------------------------- */

static const pw_rcol rf_pool_cols[] = {
    { "pool", "资源池", "pool", PW_RCOL_TEXT },
    { "resource", "资源", "resource", PW_RCOL_TEXT },
    { "allocated_start", "期初分配率", "allocated at start", PW_RCOL_PCT },
    { "allocated_end", "期末分配率", "allocated at end", PW_RCOL_PCT },
    { "allocated_change", "分配率变化", "allocated change", PW_RCOL_PCT },
    { "used_start", "期初使用率", "used at start", PW_RCOL_PCT },
    { "used_end", "期末使用率", "used at end", PW_RCOL_PCT },
    { "used_change", "使用率变化", "used change", PW_RCOL_PCT },
    { "days_to_70_allocated", "分配率达70%预计天数", "days to 70% allocated", PW_RCOL_NUM },
    { "days_to_70_used", "使用率达70%预计天数", "days to 70% used", PW_RCOL_NUM },
};

static size_t rf_pool_n(const pw_report *r) { return r->npools; }

static void
rf_pool_row(const pw_report *r, size_t i, pw_report_lang lang, pw_rcell *c, char *scratch)
{
    const pw_report_pool *p = &r->pools[i];

    (void) scratch;
    c[0].s = p->pool;
    c[1].s = rf_res_text(p->resource, lang);
    c[2].v = p->allocated_start;
    c[3].v = p->allocated_end;
    c[4].v = p->allocated_end - p->allocated_start;
    c[5].v = p->used_start;
    c[6].v = p->used_end;
    c[7].v = p->used_end - p->used_start;
    c[8].v = p->days_to_70_allocated;
    c[9].v = p->days_to_70_used;
}

static const pw_rcol rf_alert_cols[] = {
    { "rule", "告警规则", "alert rule", PW_RCOL_TEXT },
    { "raised", "触发次数", "raised", PW_RCOL_INT },
    { "resolved", "恢复次数", "resolved", PW_RCOL_INT },
};

static size_t rf_alert_n(const pw_report *r) { return r->nalerts; }

static void
rf_alert_row(const pw_report *r, size_t i, pw_report_lang lang, pw_rcell *c, char *scratch)
{
    (void) lang;
    (void) scratch;
    c[0].s = r->alerts[i].rule;
    c[1].v = (double) r->alerts[i].raised;
    c[2].v = (double) r->alerts[i].resolved;
}

static const pw_rcol rf_host_cols[] = {
    { "host", "主机", "host", PW_RCOL_TEXT },
    { "availability", "采集可用率", "agent availability", PW_RCOL_PCT },
};

static size_t rf_host_n(const pw_report *r) { return r->nhosts; }

static void
rf_host_row(const pw_report *r, size_t i, pw_report_lang lang, pw_rcell *c, char *scratch)
{
    (void) lang;
    (void) scratch;
    c[0].s = r->hosts[i].host;
    c[1].v = r->hosts[i].availability;
}

static const pw_rcol rf_change_cols[] = {
    { "date", "日期", "date", PW_RCOL_DATE },
    { "change", "变更", "change", PW_RCOL_TEXT },
    { "tenant", "使用单位", "unit", PW_RCOL_TEXT },
    { "vm", "虚拟机名称", "VM name", PW_RCOL_TEXT },
    { "vcpus_before", "变更前vCPU", "vCPU before", PW_RCOL_NUM },
    { "memory_gb_before", "变更前内存(GB)", "memory GB before", PW_RCOL_NUM },
    { "vcpus", "vCPU(核)", "vCPU", PW_RCOL_NUM },
    { "memory_gb", "内存(GB)", "memory GB", PW_RCOL_NUM },
};

static size_t rf_change_n(const pw_report *r) { return r->nchanges; }

static void
rf_change_row(const pw_report *r, size_t i, pw_report_lang lang, pw_rcell *c, char *scratch)
{
    static const char *const zh[] = { "开通", "变配", "终止" }, *const en[] = { "delivered", "resized", "terminated" };
    const pw_report_change  *ch = &r->changes[i];
    bool                     rs = ch->kind == PW_CHANGE_RESIZED;

    (void) scratch;
    c[0].v = (double) ch->day;
    c[1].s = lang == PW_REPORT_EN ? en[ch->kind] : zh[ch->kind];
    c[2].s = ch->tenant;
    c[3].s = ch->vm;
    c[4].v = rs ? ch->vcpus_before : NAN;
    c[5].v = rs ? ch->memory_gb_before : NAN;
    c[6].v = ch->vcpus;
    c[7].v = ch->memory_gb;
}

#define RF_N(a) (sizeof a / sizeof a[0])

/* ---- suggestions and bulletin ------------------------------------------- */

static const pw_rcol rf_advice_cols[] = {
    { "tenant", "使用单位", "unit", PW_RCOL_TEXT },
    { "system", "系统名称", "system", PW_RCOL_TEXT },
    { "vm", "虚拟机名称", "VM name", PW_RCOL_TEXT },
    { "rule", "问题", "finding", PW_RCOL_TEXT },
    { "action", "建议措施", "action", PW_RCOL_TEXT },
    { "vcpus", "vCPU(核)", "vCPU", PW_RCOL_NUM },
    { "memory_gb", "内存(GB)", "memory GB", PW_RCOL_NUM },
    { "cpu_avg", "CPU平均利用率", "CPU avg", PW_RCOL_PCT },
    { "cpu_p95", "CPU P95利用率", "CPU p95", PW_RCOL_PCT },
    { "mem_p95", "内存P95利用率", "memory p95", PW_RCOL_PCT },
    { "net_mb_per_day", "日均网络流量(MB)", "network MB/day", PW_RCOL_NUM },
    { "evidence", "依据", "evidence", PW_RCOL_TEXT },
};

static size_t rf_advice_n(const pw_report *r) { return r->nadvice; }

static void
rf_advice_row(const pw_report *r, size_t i, pw_report_lang lang, pw_rcell *c, char *scratch)
{
    static const char *const zh[PW_RULE_COUNT_] = {
        "", "P95利用率 < 40%", "P95利用率 > 85%", "CPU P95 < 10% 且网络 < 5 MB/天",
        "运行中，CPU平均 < 2% 且网络 < 1 MB/天", "" };
    static const char *const en[PW_RULE_COUNT_] = {
        "", "p95 use < 40%", "p95 use > 85%", "CPU p95 < 10% and network < 5 MB/day",
        "running, CPU avg < 2% and network < 1 MB/day", "" };
    const pw_report_advice *a = &r->advice[i];

    c[0].s = a->tenant;
    c[1].s = a->system;
    c[2].s = a->vm;
    c[3].s = rf_rule_text(a->rule, lang);
    c[4].s = rf_action_text(a->rule, lang);
    c[5].v = a->vcpus;
    c[6].v = a->memory_gb;
    c[7].v = a->cpu_avg;
    c[8].v = a->cpu_p95;
    c[9].v = a->mem_p95;
    c[10].v = a->net_mb_per_day;
    c[11].s = (unsigned) a->rule < PW_RULE_COUNT_ ? (lang == PW_REPORT_EN ? en[a->rule] : zh[a->rule]) : "";
    if (a->rule == PW_RULE_SUSPEND) {
        /* the whole row's scratch: this row makes up no other text */
        snprintf(scratch, RF_N(rf_advice_cols) * PW_RCELL_TEXT,
                 lang == PW_REPORT_EN ? "R3: idle or zombie warnings in %s, and systems still idle at the period's end"
                                      : "R3：%s 已预警（长期空闲或僵尸主机），期末仍有系统低效运行",
                 a->months != NULL ? a->months : "");
        c[11].s = scratch;
    }
}

static const pw_rcol rf_unit_cols[] = {
    { "rank", "排名", "rank", PW_RCOL_INT },
    { "tenant", "使用单位", "unit", PW_RCOL_TEXT },
    { "score", "效率得分", "efficiency score", PW_RCOL_PCT },
    { "cpu_p95_weighted", "加权CPU P95", "weighted CPU p95", PW_RCOL_PCT },
    { "mem_p95_weighted", "加权内存P95", "weighted memory p95", PW_RCOL_PCT },
    { "vms", "虚拟机数", "VMs", PW_RCOL_INT },
    { "vms_measured", "有监测数据虚拟机数", "VMs measured", PW_RCOL_INT },
    { "vcpu_days", "vCPU·天", "vCPU-days", PW_RCOL_NUM },
    { "memory_gb_days", "内存GB·天", "memory GB-days", PW_RCOL_NUM },
    { "suggestions", "优化建议数", "suggestions", PW_RCOL_INT },
    { "suspend_requests", "暂停新增申请(R3)", "suspend requests (R3)", PW_RCOL_TEXT },
};

static size_t rf_unit_n(const pw_report *r) { return r->nunits; }

static void
rf_unit_row(const pw_report *r, size_t i, pw_report_lang lang, pw_rcell *c, char *scratch)
{
    const pw_report_unit *u = &r->units[i];

    (void) scratch;
    c[0].v = u->rank > 0 ? (double) u->rank : NAN;
    c[1].s = u->tenant;
    c[2].v = u->score;
    c[3].v = u->cpu_p95_w;
    c[4].v = u->mem_p95_w;
    c[5].v = (double) u->vms;
    c[6].v = (double) u->vms_measured;
    c[7].v = u->vcpu_days;
    c[8].v = u->memory_gb_days;
    c[9].v = (double) u->suggestions;
    c[10].s = u->flagged ? (lang == PW_REPORT_EN ? "yes" : "是") : "";
}

const pw_rpart pw_rparts[PW_RPART_COUNT_] = {
    { "utilization", "资源利用情况表", "Resource utilization", rf_util_cols, RF_N(rf_util_cols), rf_util_n, rf_util_row },
    { "pools", "运行维护-资源池容量", "Operations - pools", rf_pool_cols, RF_N(rf_pool_cols), rf_pool_n, rf_pool_row },
    { "alerts", "运行维护-告警", "Operations - alerts", rf_alert_cols, RF_N(rf_alert_cols), rf_alert_n, rf_alert_row },
    { "hosts", "运行维护-主机可用性", "Operations - hosts", rf_host_cols, RF_N(rf_host_cols), rf_host_n, rf_host_row },
    { "changes", "运行维护-资源变更", "Operations - changes", rf_change_cols, RF_N(rf_change_cols), rf_change_n, rf_change_row },
    { "suggestions", "优化建议", "Optimization suggestions", rf_advice_cols, RF_N(rf_advice_cols), rf_advice_n, rf_advice_row },
    { "efficiency", "使用效率通报", "Efficiency bulletin", rf_unit_cols, RF_N(rf_unit_cols), rf_unit_n, rf_unit_row },
};

/* ---- formats ------------------------------------------------------------ */

const pw_report_fmt_ops *
pw_report_fmt_find(const char *name)
{
    const pw_report_fmt_ops *t[] = { &pw_report_fmt_xlsx, &pw_report_fmt_csv, &pw_report_fmt_html, &pw_report_fmt_json };

    for (size_t i = 0; i < RF_N(t); i++)
        if (strcmp(t[i]->name, name) == 0)
            return t[i];
    return NULL;
}

pw_err
pw_report_lang_parse(const char *s, pw_report_lang *out)
{
    if (strcmp(s, "zh") == 0 || strcmp(s, "zh-CN") == 0 || strcmp(s, "zh_CN") == 0) {
        *out = PW_REPORT_ZH;
        return PW_OK;
    }
    if (strcmp(s, "en") == 0 || strcmp(s, "en-US") == 0) {
        *out = PW_REPORT_EN;
        return PW_OK;
    }
    return PW_EINVAL;
}

/*
 * The unit's part of a file name: its bytes where they are harmless, "%XX"
 * for '%', '~', '/', '\\', '"', DEL and control bytes, so two units never
 * get the same name (the archive lets a unit fetch the files named for it
 * and nothing else: report_archive.c). A name longer than RF_SLUG_KEEP
 * bytes is cut at a UTF-8 boundary and ends in "~" and 16 hex digits of
 * its SHA-256: a bare '~' appears in no plain slug ('~' is escaped there),
 * so that form cannot be another unit's plain name either.
 */
#define RF_SLUG_KEEP 120

void
pw_report_slug(const char *tenant, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t            n = 0;
    const char       *p = tenant;

    if (len == 0)
        return;
    for (; *p != '\0' && n + 4 < len && n < RF_SLUG_KEEP; p++) {
        unsigned char ch = (unsigned char) *p;

        if (ch == '%' || ch == '~' || ch == '/' || ch == '\\' || ch == '"' || ch < 0x20 || ch == 0x7f) {
            buf[n++] = '%';
            buf[n++] = hex[ch >> 4];
            buf[n++] = hex[ch & 15];
        } else {
            buf[n++] = (char) ch;
        }
    }
    if (*p != '\0') {
        unsigned char h[crypto_hash_sha256_BYTES];

        size_t lead = n;

        while (lead > 0 && ((unsigned char) buf[lead - 1] & 0xC0) == 0x80)
            lead--;                     /* back to the start of the last character */
        if (lead > 0 && ((unsigned char) buf[lead - 1] & 0x80) != 0) {
            unsigned char c0 = (unsigned char) buf[lead - 1];
            size_t        need = c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : 2;

            if (n - (lead - 1) < need)
                n = lead - 1;           /* cut in the middle: drop it */
        }
        crypto_hash_sha256(h, (const unsigned char *) tenant, strlen(tenant));
        if (n + 18 > len)
            n = len > 18 ? len - 18 : 0;
        buf[n++] = '~';
        for (size_t i = 0; i < 8 && n + 2 < len; i++) {
            buf[n++] = hex[h[i] >> 4];
            buf[n++] = hex[h[i] & 15];
        }
    }
    buf[n] = '\0';
}

void
pw_report_filename(const pw_report *r, const pw_report_fmt_ops *f, char *buf, size_t len)
{
    char t[200] = "";

    if (r->tenant != NULL) {
        t[0] = '-';
        pw_report_slug(r->tenant, t + 1, sizeof t - 1);
    }
    snprintf(buf, len, "poolwatch-%s-%s%s.%s", pw_report_kind_name(r->period.kind), r->period.label, t, f->ext);
}
