/*
 * sheet_test.c - CSV and XLSX reading (sheet.h) and the request table's
 * validation and export (inventory_table.h), on tests/fixtures/inventory.
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

#include "inventory_table.h"
#include "sheet.h"

static char *
fixture(const char *name)
{
    const char *dir = getenv("PW_FIXTURES");
    char       *p;

    if (asprintf(&p, "%s/inventory/%s", dir != NULL ? dir : "tests/fixtures", name) < 0)
        abort();
    return p;
}

/* Reads a fixture into rows; returns the pw_err of whichever step failed, errors in *errs. */
static pw_err
load(const char *name, pw_sheet_enc enc, const char *sheet, pw_inv_rows **rows, char **errs)
{
    char     *path = fixture(name), msg[512];
    pw_sheet *t = NULL;
    pw_err    e;

    *rows = NULL;
    *errs = NULL;
    e = pw_sheet_read_file(path, enc, sheet, &t, msg, sizeof msg);
    free(path);
    if (e != PW_OK) {
        *errs = strdup(msg);
        return e;
    }
    e = pw_inv_table_rows(t, rows, errs);
    pw_sheet_free(t);
    return e;
}

static void
check_good(pw_inv_rows *r)
{
    assert_int_equal(r->n, 3);
    assert_string_equal(r->vms[0].name, "lz-rs-web-01");
    assert_string_equal(r->vms[0].tenant, "柳州市人社局");
    assert_string_equal(r->vms[0].uuid, "6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c");
    assert_int_equal(r->vms[0].cluster, PW_INV_CLUSTER_YES);
    assert_true(r->vms[0].vcpus == 4 && r->vms[0].memory_gb == 8 && r->vms[0].data_disk_gb == 200);
    assert_int_equal(r->vms[0].delivered_ms, INT64_C(1790812800000));     /* 2026-10-01 */
    assert_int_equal(r->vms[0].terminated_ms, INT64_MAX);
    assert_string_equal(r->vms[1].server_type, "DAT");                   /* 数据库 */
    assert_string_equal(r->vms[1].remarks, "主库,每日备份");
    assert_int_equal(r->vms[1].cluster, PW_INV_CLUSTER_NO);
    assert_int_equal(r->vms[2].delivered_ms, INT64_C(1791590400000));     /* 2026-10-10 */
    assert_int_equal(r->vms[2].terminated_ms, INT64_C(1792454400000));    /* 2026-10-20 */
    assert_int_equal(r->vms[2].requested_ms, INT64_C(1791158400000));     /* 2026-10-05 */
    assert_true(r->vms[2].data_disk_gb == 0);
}

static void
test_good_files(void **state)
{
    static const char *const files[] = {
        "good_zh.csv", "good_zh_bom.csv", "good_zh_gb18030.csv", "good_en.csv", "good_zh.xlsx",
        "good_en_inline.xlsx",
    };
    pw_inv_rows *r;
    char        *errs;

    (void) state;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        pw_err e = load(files[i], PW_SHEET_ENC_AUTO, NULL, &r, &errs);
        if (e != PW_OK)
            fail_msg("%s: %s", files[i], errs != NULL ? errs : "?");
        check_good(r);
        assert_string_equal(r->ignored, "");
        pw_inv_rows_free(r);
    }
    /* GB18030 forced on the GB18030 file works too; the title row of good_zh.xlsx is skipped. */
    assert_int_equal(load("good_zh_gb18030.csv", PW_SHEET_ENC_GB18030, NULL, &r, &errs), PW_OK);
    pw_inv_rows_free(r);
    assert_int_equal(load("good_zh.xlsx", PW_SHEET_ENC_AUTO, "申请表", &r, &errs), PW_OK);
    assert_int_equal(r->lines[0], 3);
    pw_inv_rows_free(r);
}

static void
expect_errors(const char *file, pw_sheet_enc enc, const char *sheet, pw_err want, const char *text)
{
    pw_inv_rows *r;
    char        *errs;
    pw_err       e = load(file, enc, sheet, &r, &errs);

    if (e != want || errs == NULL || strcmp(errs, text) != 0)
        fail_msg("%s: got %d \"%s\", want %d \"%s\"", file, e, errs != NULL ? errs : "", want, text);
    assert_null(r);
    free(errs);
}

static void
test_bad_files(void **state)
{
    (void) state;
    expect_errors("bad_missing_column.csv", PW_SHEET_ENC_AUTO, NULL, PW_EPROTO,
        "row 1: missing required column 使用单位 (unit)");
    expect_errors("bad_number.csv", PW_SHEET_ENC_AUTO, NULL, PW_EPROTO,
        "row 3, column 内存(GB), value \"八\": not a number");
    expect_errors("bad_negative.csv", PW_SHEET_ENC_AUTO, NULL, PW_EPROTO,
        "row 3, column 数据盘(GB), value \"-200\": must not be negative");
    expect_errors("bad_date.csv", PW_SHEET_ENC_AUTO, NULL, PW_EPROTO,
        "row 2, column 确认开通日期, value \"2026-02-30\": not a date (use 2026-10-10, 2026/10/10 or 2026年10月10日)");
    expect_errors("bad_server_type.csv", PW_SHEET_ENC_AUTO, NULL, PW_EPROTO,
        "row 2, column 服务器类型, value \"DBS\": unknown server type (APP, WEB, FTP, DAT, MID, TST or OTH)");
    expect_errors("bad_duplicate.csv", PW_SHEET_ENC_AUTO, NULL, PW_EPROTO,
        "row 4, column 虚拟机名称, value \"vm1\": the same VM name is in row 2");
    expect_errors("bad_terminated.csv", PW_SHEET_ENC_AUTO, NULL, PW_EPROTO,
        "row 2, column 终止日期, value \"2026-10-01\": before the delivered date 2026-10-10");
    expect_errors("bad_many.csv", PW_SHEET_ENC_AUTO, NULL, PW_EPROTO,
        "row 3, column 使用单位, value \"\": required\n"
        "row 3, column vCPU(核), value \"x\": not a number\n"
        "row 4, column 服务器类型, value \"XYZ\": unknown server type (APP, WEB, FTP, DAT, MID, TST or OTH)\n"
        "row 4, column 系统盘(GB), value \"-1\": must not be negative\n"
        "row 4, column 确认开通日期, value \"10/01/2026\": not a date (use 2026-10-10, 2026/10/10 or 2026年10月10日)");
    expect_errors("good_zh_gb18030.csv", PW_SHEET_ENC_UTF8, NULL, PW_EPROTO,
        "the text is not valid UTF-8 (row 1); if it is GB18030/GBK, use --encoding gb18030");
    expect_errors("bad_utf16.csv", PW_SHEET_ENC_AUTO, NULL, PW_EPROTO,
        "the file is UTF-16, which is not supported; save it as UTF-8 CSV (\"CSV UTF-8\" in Excel) or as XLSX");
    expect_errors("bad.xlsx", PW_SHEET_ENC_AUTO, NULL, PW_EPROTO,
        "row 3, column vCPU(核), value \"-4\": must not be negative\n"
        "row 5, column 服务器类型, value \"GPU\": unknown server type (APP, WEB, FTP, DAT, MID, TST or OTH)");
    expect_errors("good_zh.xlsx", PW_SHEET_ENC_AUTO, "说明", PW_EPROTO,
        "no header row found: none of the first 10 rows names the columns (e.g. 使用单位 / unit, 虚拟机名称 / VM name)");
}

static void
test_csv_corners(void **state)
{
    pw_inv_rows *r;
    char        *errs, msg[256];
    pw_sheet    *t;
    const char   unterminated[] = "a,b\r\n1,\"open\r\n2,3\r\n";

    (void) state;
    assert_int_equal(load("good_quoted.csv", PW_SHEET_ENC_AUTO, NULL, &r, &errs), PW_OK);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->vms[0].tenant, "Liuzhou \"Big Data\" Bureau");
    assert_string_equal(r->vms[0].remarks, "line one\r\nline two, with comma");
    assert_int_equal(r->lines[0], 2);
    assert_int_equal(r->lines[1], 4);      /* the blank line is an Excel row */
    pw_inv_rows_free(r);
    assert_int_equal(pw_sheet_parse_csv(unterminated, sizeof unterminated - 1, PW_SHEET_ENC_AUTO, &t,
                                        msg, sizeof msg), PW_EPROTO);
    assert_string_equal(msg, "row 2: a quoted field is not closed (a \" is missing)");
    /* Tab-separated, no final newline. */
    assert_int_equal(pw_sheet_parse_csv("x\ty\n1\t2", 8, PW_SHEET_ENC_AUTO, &t, msg, sizeof msg), PW_OK);
    assert_int_equal(t->nrows, 2);
    assert_int_equal(t->rows[1].ncells, 2);
    assert_string_equal(t->rows[1].cells[1], "2");
    pw_sheet_free(t);
}

static void
test_dates(void **state)
{
    int64_t ms;

    (void) state;
    assert_true(pw_inv_parse_date("2026-10-10", &ms));
    assert_int_equal(ms, INT64_C(1791590400000));
    assert_true(pw_inv_parse_date("2026/10/10", &ms));
    assert_int_equal(ms, INT64_C(1791590400000));
    assert_true(pw_inv_parse_date("2026年10月10日", &ms));
    assert_int_equal(ms, INT64_C(1791590400000));
    assert_true(pw_inv_parse_date("２０２６－１０－１０", &ms));   /* full-width */
    assert_int_equal(ms, INT64_C(1791590400000));
    assert_true(pw_inv_parse_date("2026-10-10 08:30", &ms));
    assert_int_equal(ms, INT64_C(1791590400000) + 30600000);
    assert_true(pw_inv_parse_date("2028-02-29", &ms));
    assert_false(pw_inv_parse_date("2026-02-29", &ms));
    assert_false(pw_inv_parse_date("2026-13-01", &ms));
    assert_false(pw_inv_parse_date("10/10/2026", &ms));
    assert_false(pw_inv_parse_date("2026-10-10x", &ms));
    assert_false(pw_inv_parse_date("", &ms));
}

/* Export then read back: the same rows (CSV and XLSX, both languages). */
static void
test_round_trip(void **state)
{
    pw_inv_rows   *r, *back;
    pw_inv_writer *w;
    char          *errs, msg[256], path[] = "/tmp/pw-inv-rt-XXXXXX";
    pw_sheet      *t;
    int            fd;

    (void) state;
    assert_int_equal(load("good_zh.csv", PW_SHEET_ENC_AUTO, NULL, &r, &errs), PW_OK);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (int xlsx = 0; xlsx <= 1; xlsx++)
        for (int lang = PW_INV_LANG_ZH; lang <= PW_INV_LANG_EN; lang++) {
            assert_int_equal(pw_inv_writer_open(path, xlsx, (pw_inv_lang) lang, &w, msg, sizeof msg), PW_OK);
            for (size_t i = 0; i < r->n; i++)
                assert_int_equal(pw_inv_writer_row(w, &r->vms[i]), PW_OK);
            assert_int_equal(pw_inv_writer_close(w, msg, sizeof msg), PW_OK);
            assert_int_equal(pw_sheet_read_file(path, PW_SHEET_ENC_AUTO, NULL, &t, msg, sizeof msg), PW_OK);
            if (pw_inv_table_rows(t, &back, &errs) != PW_OK)
                fail_msg("%s", errs);
            pw_sheet_free(t);
            check_good(back);
            for (size_t i = 0; i < r->n; i++)
                for (int c = 0; c < PW_INV_COL_COUNT_; c++) {
                    char a[2048], b[2048];
                    pw_inv_cell(&r->vms[i], (pw_inv_col) c, PW_INV_LANG_EN, a, sizeof a);
                    pw_inv_cell(&back->vms[i], (pw_inv_col) c, PW_INV_LANG_EN, b, sizeof b);
                    assert_string_equal(a, b);
                }
            pw_inv_rows_free(back);
        }
    unlink(path);
    pw_inv_rows_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_files),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_csv_corners),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
