/*
 * inventory_cols.h - the columns of an inventory VM record (REQUIREMENTS R9
 * and the operational ones) as text: headers in Chinese and English, keys
 * for JSON and CSV listings, and each value as export writes it. Shared by
 * the CLI (list, export) and the HTTP API (GET /api/v1/inventory), so both
 * speak the same names.
 */
#ifndef PW_INVENTORY_COLS_H
#define PW_INVENTORY_COLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "inventory.h"

/* Columns, in export order. The numbers are not stored anywhere. */
typedef enum pw_inv_col {
    PW_INV_COL_ZONE, PW_INV_COL_TENANT, PW_INV_COL_DEVELOPER, PW_INV_COL_SYSTEM, PW_INV_COL_SUBSYSTEM,
    PW_INV_COL_NAME, PW_INV_COL_SERVER_TYPE, PW_INV_COL_BASTION_OWNER, PW_INV_COL_BASTION_EMAIL,
    PW_INV_COL_BASTION_PHONE, PW_INV_COL_VCPUS, PW_INV_COL_MEMORY, PW_INV_COL_SYS_DISK,
    PW_INV_COL_DATA_DISK, PW_INV_COL_OS, PW_INV_COL_CLUSTER, PW_INV_COL_CLUSTER_GROUP,
    PW_INV_COL_UUID, PW_INV_COL_IP, PW_INV_COL_POOL, PW_INV_COL_HOST, PW_INV_COL_REQUESTED,
    PW_INV_COL_DELIVERED, PW_INV_COL_TERMINATED, PW_INV_COL_STATE, PW_INV_COL_REMARKS,
    PW_INV_COL_COUNT_
} pw_inv_col;

typedef enum pw_inv_lang { PW_INV_LANG_ZH, PW_INV_LANG_EN } pw_inv_lang;

/* The header export writes ("内存(GB)" / "memory GB"); the key of listings ("memory_gb"). */
const char *pw_inv_col_header(pw_inv_col c, pw_inv_lang lang);
const char *pw_inv_col_key(pw_inv_col c);
bool        pw_inv_col_is_number(pw_inv_col c);

/* Where column c lives in vm; NULL if it is not of that kind. */
const char **pw_inv_col_str(pw_inv_vm *vm, pw_inv_col c);
double      *pw_inv_col_num(pw_inv_vm *vm, pw_inv_col c);
int64_t     *pw_inv_col_date(pw_inv_vm *vm, pw_inv_col c);

/*
 * The text of column c of vm as export writes it (and import reads back):
 * dates "YYYY-MM-DD" (with " HH:MM:SS" if not midnight UTC), numbers in the
 * shortest exact form, 0 and unknown as "", cluster 是/否 or yes/no.
 */
void pw_inv_cell(const pw_inv_vm *vm, pw_inv_col c, pw_inv_lang lang, char *buf, size_t len);

/*
 * vm as a JSON object keyed by pw_inv_col_key: strings, numbers, dates as
 * "YYYY-MM-DD" strings, cluster as true/false; null for unknown. With
 * validity, also "valid_from"/"valid_to" (ISO times, null for open ends)
 * and "recorded". New reference owned by the caller; NULL on ENOMEM.
 */
json_t *pw_inv_vm_json(const pw_inv_vm *vm, bool validity);

#endif
