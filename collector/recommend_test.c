/*
 * recommend_test.c - the pure parts of recommend.h: the day-counting rule
 * (12 of the last 14 days, days without data never count), the sizing
 * arithmetic (p95 x headroom rounded to the flavours in use, downsize and
 * expand), the judgement of a VM over a window, and the rules read from an
 * alert config.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alert_int.h"

static pw_rec_day
day(double cpu_p95, double net)
{
    return (pw_rec_day) { cpu_p95 / 2, cpu_p95, 0.5, net, 0, 1, 0, 4, 8 };
}

static void
test_count_12_of_14(void **state)
{
    pw_rec_rules r;
    pw_rec_day   d[20];

    (void) state;
    pw_rec_rules_default(&r);
    for (size_t i = 0; i < 20; i++)
        d[i] = day(0.05, 1e6);
    /* 20 idle days: only the last 14 count */
    assert_int_equal(pw_rec_count_days(&r, d, 20, 14, pw_rec_day_idle), 14);
    /* two busy days among the last 14: 12, still enough */
    d[10] = day(0.5, 1e6);
    d[19] = day(0.05, 6e6);              /* network 6 MB that day: not idle */
    assert_int_equal(pw_rec_count_days(&r, d, 20, 14, pw_rec_day_idle), 12);
    assert_true(pw_rec_count_days(&r, d, 20, 14, pw_rec_day_idle) >= r.idle_min_days);
    /* a day without data never counts: 11 */
    d[15].cpu_p95 = NAN;
    assert_int_equal(pw_rec_count_days(&r, d, 20, 14, pw_rec_day_idle), 11);
    /* busy days before the window do not matter */
    d[0] = day(0.9, 1e9);
    assert_int_equal(pw_rec_count_days(&r, d, 20, 14, pw_rec_day_idle), 11);
    /* thresholds are strict: 10 % exactly is not idle */
    d[16] = day(0.10, 0);
    assert_int_equal(pw_rec_count_days(&r, d, 20, 14, pw_rec_day_idle), 10);
    /* fewer days than the window: all of them */
    assert_int_equal(pw_rec_count_days(&r, d + 17, 3, 14, pw_rec_day_idle), 2);
}

static void
test_zombie_and_shutoff_days(void **state)
{
    pw_rec_rules r;
    pw_rec_day   d = { 0.01, 0.015, 0.2, 5e5, NAN, 1, 0, 2, 4 };

    (void) state;
    pw_rec_rules_default(&r);
    assert_true(pw_rec_day_zombie(&r, &d));          /* no disk figure counts as none */
    d.disk = 2e6;
    assert_false(pw_rec_day_zombie(&r, &d));
    d.disk = 0;
    d.running = 0.3;                                 /* mostly not running: not a running zombie */
    assert_false(pw_rec_day_zombie(&r, &d));
    d = (pw_rec_day) { NAN, NAN, NAN, NAN, NAN, 0, 1, 2, 4 };
    assert_true(pw_rec_day_shutoff(&r, &d));
    d.vcpus = d.memory_gb = 0;                       /* not in service: holds nothing */
    assert_false(pw_rec_day_shutoff(&r, &d));
    d = (pw_rec_day) { NAN, NAN, NAN, NAN, NAN, 0, NAN, 2, 4 };   /* no state samples */
    assert_false(pw_rec_day_shutoff(&r, &d));
}

static const pw_rec_flavour fl[] = { { 1, 2 }, { 2, 4 }, { 2, 8 }, { 4, 8 }, { 8, 16 }, { 16, 32 } };
#define NFL (sizeof fl / sizeof fl[0])

static void
test_fit(void **state)
{
    pw_rec_flavour out;
    bool           in_use;

    (void) state;
    /* 8/16 at CPU p95 22 %, memory 25 %, headroom 1.3: 2.29 vCPU, 5.2 GB -> 4/8 (2/8 has too few vCPUs) */
    assert_true(pw_rec_fit(fl, NFL, 8, 16, 0.22 * 8 * 1.3, 0.25 * 16 * 1.3, false, &out, &in_use));
    assert_true(out.vcpus == 4 && out.memory_gb == 8 && in_use);
    /* exactly on a flavour: 2 vCPU and 4 GB needed -> 2/4 */
    assert_true(pw_rec_fit(fl, NFL, 8, 16, 2.0, 4.0, false, &out, &in_use));
    assert_true(out.vcpus == 2 && out.memory_gb == 4);
    /* memory still needed: 1.5 vCPU and 7 GB -> 2/8, never more memory than now */
    assert_true(pw_rec_fit(fl, NFL, 4, 8, 1.5, 7, false, &out, &in_use));
    assert_true(out.vcpus == 2 && out.memory_gb == 8);
    /* nothing smaller fits: no proposal */
    assert_false(pw_rec_fit(fl, NFL, 2, 4, 1.9, 3.9, false, &out, &in_use));
    assert_true(out.vcpus == 2 && out.memory_gb == 4);
    /* expand: 4/8 at p95 104.5 % x 1.3 = 5.43 vCPU -> 8/16, memory never shrinks */
    assert_true(pw_rec_fit(fl, NFL, 4, 8, 1.045 * 4 * 1.3, 0.5 * 8 * 1.3, true, &out, &in_use));
    assert_true(out.vcpus == 8 && out.memory_gb == 16 && in_use);
    /* expand memory only: 2/4 at memory p95 90 % -> 4.68 GB -> 2/8 (same vCPUs, more memory) */
    assert_true(pw_rec_fit(fl, NFL, 2, 4, 0.5 * 2 * 1.3, 0.9 * 4 * 1.3, true, &out, &in_use));
    assert_true(out.vcpus == 2 && out.memory_gb == 8);
    /* beyond the largest flavour in use: the need rounded up, not in use */
    assert_true(pw_rec_fit(fl, NFL, 16, 32, 0.95 * 16 * 1.3, 0.5 * 32 * 1.3, true, &out, &in_use));
    assert_true(out.vcpus == 20 && out.memory_gb == 32 && !in_use);
}

static void
test_judge_window(void **state)
{
    pw_rec_rules   r;
    pw_rec_day     d[30];
    pw_rec_vm      vm = { "v", "", "t", "s", "", 8, 16, d };
    pw_rec_window  w = { .day0 = 20000, .ndays = 30, .from_ms = 20000 * PW_REC_DAY_MS,
                         .to_ms = 20030 * PW_REC_DAY_MS, .vms = &vm, .nvms = 1,
                         .flavours = (pw_rec_flavour *) fl, .nflavours = NFL };
    pw_rec_verdict v;

    (void) state;
    pw_rec_rules_default(&r);
    for (size_t i = 0; i < 30; i++)
        d[i] = (pw_rec_day) { 0.15, 0.20, 0.25, 5e8, 1e8, 1, 0, 8, 16 };
    d[7].cpu_p95 = 0.22;                      /* the peak day decides the target */
    pw_rec_judge(&r, &w, &vm, PW_REC_FIND_OVERSIZED, &v);
    assert_int_equal(v.finding, PW_REC_FIND_OVERSIZED);
    assert_int_equal(v.action, PW_REC_DOWNSIZE);
    assert_int_equal(v.days, 30);
    assert_int_equal(v.of_days, 30);
    assert_true(fabs(v.cpu_p95 - 0.22) < 1e-12);
    assert_true(v.target_vcpus == 4 && v.target_memory_gb == 8 && v.target_in_use);
    assert_true(v.from_ms == w.from_ms && v.to_ms == w.to_ms);
    /* one day at 45 %: 29 of 30, not enough */
    d[3].cpu_p95 = 0.45;
    d[3].mem_p95 = 0.45;
    pw_rec_judge(&r, &w, &vm, PW_REC_FIND_OVERSIZED, &v);
    assert_int_equal(v.finding, PW_REC_FIND_NONE);
    assert_int_equal(v.days, 29);
    /* undersized looks at the last 7 days only */
    for (size_t i = 23; i < 28; i++)
        d[i].cpu_p95 = 0.9;
    pw_rec_judge(&r, &w, &vm, PW_REC_FIND_UNDERSIZED, &v);
    assert_int_equal(v.of_days, 7);
    assert_int_equal(v.days, 5);
    assert_int_equal(v.finding, PW_REC_FIND_UNDERSIZED);
    assert_true(v.target_vcpus == 16 && v.target_memory_gb == 32);    /* 0.9 x 8 x 1.3 = 9.4 */
    assert_true(v.from_ms == w.from_ms + 23 * PW_REC_DAY_MS);
}

static void
test_rules_from_config(void **state)
{
    const char      *yaml = "alerts:\n  rules:\n"
                            "    - {name: VMUnderused, days: 7, cpu_p95: 5%, network: 2MB, threshold: 6, clear: 5,"
                            " suspend_after_months: 3}\n"
                            "    - {name: VMOversized, headroom: 1.5}\n";
    const char      *bad = "alerts:\n  rules:\n    - {name: VMUnderused, threshold: 20}\n";
    pw_alert_config *c = NULL;
    pw_rec_rules     r;
    char             msg[512];

    (void) state;
    if (pw_alert_config_parse(yaml, strlen(yaml), "t.yaml", &c, msg, sizeof msg) != PW_OK)
        fail_msg("%s", msg);
    pw_rec_rules_from_config(c, &r);
    assert_int_equal(r.idle_days, 7);
    assert_int_equal(r.idle_min_days, 6);
    assert_true(r.idle_cpu_p95 == 0.05 && r.idle_net == 2e6);
    assert_true(r.headroom == 1.5);
    assert_int_equal(r.r3_months, 3);
    assert_int_equal(r.zombie_min_days, 30);          /* untouched: the default */
    assert_int_equal(c->rules[5].every_ms, 3600000);   /* the day rules run hourly */
    pw_alert_config_free(c);
    c = NULL;
    assert_int_equal(pw_alert_config_parse(bad, strlen(bad), "t.yaml", &c, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "threshold is the number of days"));
    assert_null(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_12_of_14),
        cmocka_unit_test(test_zombie_and_shutoff_days),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_judge_window),
        cmocka_unit_test(test_rules_from_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
