/*
 * inventory_cols.c - the columns of a VM record as text and JSON
 * (inventory_cols.h).
 */
#include "inventory_cols.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

typedef struct ic_col {
    const char *key, *zh, *en;
    bool        number;
} ic_col;

static const ic_col ic_cols[PW_INV_COL_COUNT_] = {
    [PW_INV_COL_ZONE] = { "zone", "网络区域", "network zone", false },
    [PW_INV_COL_TENANT] = { "tenant", "使用单位", "unit", false },
    [PW_INV_COL_DEVELOPER] = { "developer", "开发商", "developer", false },
    [PW_INV_COL_SYSTEM] = { "system", "系统名称", "system", false },
    [PW_INV_COL_SUBSYSTEM] = { "subsystem", "子系统名称", "subsystem", false },
    [PW_INV_COL_NAME] = { "name", "虚拟机名称", "VM name", false },
    [PW_INV_COL_SERVER_TYPE] = { "server_type", "服务器类型", "server type", false },
    [PW_INV_COL_BASTION_OWNER] = { "bastion_owner", "堡垒机账号责任人", "bastion owner", false },
    [PW_INV_COL_BASTION_EMAIL] = { "bastion_email", "邮箱", "e-mail", false },
    [PW_INV_COL_BASTION_PHONE] = { "bastion_phone", "电话", "phone", false },
    [PW_INV_COL_VCPUS] = { "vcpus", "vCPU(核)", "vCPU", true },
    [PW_INV_COL_MEMORY] = { "memory_gb", "内存(GB)", "memory GB", true },
    [PW_INV_COL_SYS_DISK] = { "sys_disk_gb", "系统盘(GB)", "system disk GB", true },
    [PW_INV_COL_DATA_DISK] = { "data_disk_gb", "数据盘(GB)", "data disk GB", true },
    [PW_INV_COL_OS] = { "os", "操作系统", "OS", false },
    [PW_INV_COL_CLUSTER] = { "cluster", "是否集群部署", "cluster", false },
    [PW_INV_COL_CLUSTER_GROUP] = { "cluster_group", "集群组", "cluster group", false },
    [PW_INV_COL_UUID] = { "uuid", "UUID", "UUID", false },
    [PW_INV_COL_IP] = { "ip", "IP", "IP", false },
    [PW_INV_COL_POOL] = { "pool", "资源池", "pool", false },
    [PW_INV_COL_HOST] = { "host", "宿主机", "host", false },
    [PW_INV_COL_REQUESTED] = { "requested", "申请日期", "requested", false },
    [PW_INV_COL_DELIVERED] = { "delivered", "确认开通日期", "delivered", false },
    [PW_INV_COL_TERMINATED] = { "terminated", "终止日期", "terminated", false },
    [PW_INV_COL_STATE] = { "state", "状态", "state", false },
    [PW_INV_COL_REMARKS] = { "remarks", "备注", "remarks", false },
};

const char *
pw_inv_col_header(pw_inv_col c, pw_inv_lang lang)
{
    if ((unsigned) c >= PW_INV_COL_COUNT_)
        return "?";
    return lang == PW_INV_LANG_EN ? ic_cols[c].en : ic_cols[c].zh;
}

const char *
pw_inv_col_key(pw_inv_col c)
{
    return (unsigned) c < PW_INV_COL_COUNT_ ? ic_cols[c].key : "?";
}

bool
pw_inv_col_is_number(pw_inv_col c)
{
    return (unsigned) c < PW_INV_COL_COUNT_ && ic_cols[c].number;
}

const char **
pw_inv_col_str(pw_inv_vm *vm, pw_inv_col c)
{
    switch (c) {
    case PW_INV_COL_ZONE:           return &vm->zone;
    case PW_INV_COL_TENANT:         return &vm->tenant;
    case PW_INV_COL_DEVELOPER:      return &vm->developer;
    case PW_INV_COL_SYSTEM:         return &vm->system;
    case PW_INV_COL_SUBSYSTEM:      return &vm->subsystem;
    case PW_INV_COL_NAME:           return &vm->name;
    case PW_INV_COL_SERVER_TYPE:    return &vm->server_type;
    case PW_INV_COL_BASTION_OWNER:  return &vm->bastion_owner;
    case PW_INV_COL_BASTION_EMAIL:  return &vm->bastion_email;
    case PW_INV_COL_BASTION_PHONE:  return &vm->bastion_phone;
    case PW_INV_COL_OS:             return &vm->os;
    case PW_INV_COL_CLUSTER_GROUP:  return &vm->cluster_group;
    case PW_INV_COL_UUID:           return &vm->uuid;
    case PW_INV_COL_IP:             return &vm->ip;
    case PW_INV_COL_POOL:           return &vm->pool;
    case PW_INV_COL_HOST:           return &vm->host;
    case PW_INV_COL_STATE:          return &vm->state;
    case PW_INV_COL_REMARKS:        return &vm->remarks;
    default:                        return NULL;
    }
}

double *
pw_inv_col_num(pw_inv_vm *vm, pw_inv_col c)
{
    switch (c) {
    case PW_INV_COL_VCPUS:      return &vm->vcpus;
    case PW_INV_COL_MEMORY:     return &vm->memory_gb;
    case PW_INV_COL_SYS_DISK:   return &vm->sys_disk_gb;
    case PW_INV_COL_DATA_DISK:  return &vm->data_disk_gb;
    default:                    return NULL;
    }
}

int64_t *
pw_inv_col_date(pw_inv_vm *vm, pw_inv_col c)
{
    switch (c) {
    case PW_INV_COL_REQUESTED:  return &vm->requested_ms;
    case PW_INV_COL_DELIVERED:  return &vm->delivered_ms;
    case PW_INV_COL_TERMINATED: return &vm->terminated_ms;
    default:                    return NULL;
    }
}

/* ms -> "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" (UTC), civil-from-days. */
static void
ic_date_text(int64_t ms, char *buf, size_t len)
{
    int64_t  days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t  secs = (ms - days * 86400000) / 1000;
    int64_t  z = days + 719468;
    int64_t  era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    long     y = (long) ((int64_t) yoe + era * 400 + (m <= 2));

    if (secs == 0)
        snprintf(buf, len, "%04ld-%02u-%02u", y, m, d);
    else
        snprintf(buf, len, "%04ld-%02u-%02u %02ld:%02ld:%02ld", y, m, d, (long) (secs / 3600),
                 (long) (secs / 60 % 60), (long) (secs % 60));
}

void
pw_inv_cell(const pw_inv_vm *vm, pw_inv_col c, pw_inv_lang lang, char *buf, size_t len)
{
    pw_inv_vm    v = *vm;      /* the getters point into a record; a copy keeps vm const */
    const char **s;
    double      *d;
    int64_t     *t;

    buf[0] = '\0';
    if ((s = pw_inv_col_str(&v, c)) != NULL) {
        snprintf(buf, len, "%s", *s != NULL ? *s : "");
    } else if ((d = pw_inv_col_num(&v, c)) != NULL) {
        if (*d != 0)
            for (int prec = 15; prec <= 17; prec++) {
                snprintf(buf, len, "%.*g", prec, *d);
                if (strtod(buf, NULL) == *d)
                    break;
            }
    } else if ((t = pw_inv_col_date(&v, c)) != NULL) {
        if (*t != INT64_MIN && *t != INT64_MAX)
            ic_date_text(*t, buf, len);
    } else if (c == PW_INV_COL_CLUSTER && vm->cluster != PW_INV_CLUSTER_UNKNOWN) {
        bool yes = vm->cluster == PW_INV_CLUSTER_YES;
        snprintf(buf, len, "%s", lang == PW_INV_LANG_EN ? (yes ? "yes" : "no") : (yes ? "是" : "否"));
    }
}

static json_t *
ic_time(int64_t ms)
{
    char buf[32];

    if (ms == INT64_MIN || ms == INT64_MAX)
        return json_null();
    pw_time_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *
pw_inv_vm_json(const pw_inv_vm *vm, bool validity)
{
    json_t   *o = json_object();
    pw_inv_vm v = *vm;

    if (o == NULL)
        return NULL;
    for (int c = 0; c < PW_INV_COL_COUNT_; c++) {
        char    buf[PW_INV_STR_MAX + 64];
        json_t *x;
        double *d = pw_inv_col_num(&v, (pw_inv_col) c);

        pw_inv_cell(vm, (pw_inv_col) c, PW_INV_LANG_EN, buf, sizeof buf);
        if (buf[0] == '\0')
            x = json_null();
        else if (d != NULL)
            x = json_real(*d);
        else if (c == PW_INV_COL_CLUSTER)
            x = json_boolean(vm->cluster == PW_INV_CLUSTER_YES);
        else
            x = json_string(buf);
        if (x == NULL || json_object_set_new(o, ic_cols[c].key, x) != 0)
            goto fail;
    }
    if (validity
        && (json_object_set_new(o, "valid_from", ic_time(vm->valid_from_ms)) != 0
            || json_object_set_new(o, "valid_to", ic_time(vm->valid_to_ms)) != 0
            || json_object_set_new(o, "recorded", ic_time(vm->recorded_ms ? vm->recorded_ms : INT64_MIN)) != 0))
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}
