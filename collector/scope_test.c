/*
 * scope_test.c - the tenant scope's ownership hook connected to the
 * inventory (scope.h, "Ownership hook"): UUID matches, the name fallback
 * for VMs recorded without a UUID, UUID precedence over names, another
 * tenant's VMs, host series, series with a tenant label, terminated and
 * reassigned VMs - through a real inventory (pw_scope_own_load) and through
 * the pure builder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "inventory.h"
#include "scope.h"
#include "test_fixture.h"
#include "test_inv_fixture.h"

#define DAY INT64_C(86400000)
#define D(n) (INT64_C(1793491200000) + (int64_t) ((n) - 1) * DAY)   /* 2026-11-n 00:00Z */

#define U_A1 "6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c"
#define U_B1 "11111111-2222-3333-4444-555555555555"
#define U_X  "99999999-2222-3333-4444-555555555555"   /* unknown to the inventory */

/* True if scope s lets its holder see the series with canonical key k. */
static bool
sees(const pw_scope *s, const char *k)
{
    pw_series_view v;
    bool           r;

    assert_int_equal(pw_series_key_parse(k, strlen(k), &v), PW_OK);
    r = pw_scope_allows(s, &v);
    pw_series_view_free(&v);
    return r;
}

static pw_inv_vm
vm(const char *name, const char *uuid, const char *tenant, int64_t terminated)
{
    pw_inv_vm v;

    memset(&v, 0, sizeof v);
    v.name = name;
    v.uuid = uuid;
    v.tenant = tenant;
    v.delivered_ms = D(1);
    v.terminated_ms = terminated;
    v.requested_ms = INT64_MIN;
    return v;
}

static void
tenant_scope(pw_scope *s, const char *tenant)
{
    pw_principal who;

    memset(&who, 0, sizeof who);
    who.role = PW_ROLE_TENANT;
    snprintf(who.tenant, sizeof who.tenant, "%s", tenant);
    assert_int_equal(pw_scope_for(&who, s), PW_OK);
}

static void
import(fx *f, int64_t effective, const pw_inv_vm *rows, size_t n)
{
    char msg[256] = "";

    if (pw_inventory_import(f->inv, effective, effective, rows, n, NULL, msg, sizeof msg) != PW_OK)
        fail_msg("import: %s", msg);
}

/* Tenant a: a1 (UUID), a2 (no UUID), a3 (terminated). Tenant b: b1 (UUID), b2 (no UUID). */
static void
test_inventory_rules(void **state)
{
    fx           *f = *state;
    pw_inv_vm     rows[] = {
        vm("a1", U_A1, "a", INT64_MAX),
        vm("a2", "", "a", INT64_MAX),
        vm("a3", "22222222-2222-3333-4444-555555555555", "a", D(5)),
        vm("b1", U_B1, "b", INT64_MAX),
        vm("b2", "", "b", INT64_MAX),
    };
    pw_scope      sa, sb;
    pw_scope_own *oa, *ob;
    size_t        nu, nn;

    (void) state;
    import(f, D(1), rows, 5);
    tenant_scope(&sa, "a");
    tenant_scope(&sb, "b");
    assert_int_equal(pw_scope_own_load(f->inv, "a", &oa), PW_OK);
    assert_int_equal(pw_scope_own_load(f->inv, "b", &ob), PW_OK);
    pw_scope_own_counts(oa, &nu, &nn);
    assert_int_equal(nu, 2);
    assert_int_equal(nn, 1);

    /* Without the hook: only the label rule. */
    assert_false(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_A1 "\",vm_name=\"a1\"}"));
    assert_int_equal(pw_scope_set_own(&sa, oa), PW_OK);
    assert_int_equal(pw_scope_set_own(&sb, ob), PW_OK);
    assert_int_equal(pw_scope_set_own(&sa, ob), PW_EINVAL);     /* another tenant's snapshot */

    /* UUID match, whatever the domain's name now (renamed in libvirt), any case or dashes. */
    assert_true(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_A1 "\",vm_name=\"a1\"}"));
    assert_true(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_A1 "\",vm_name=\"renamed\"}"));
    assert_true(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"6F1C2B3A0D4E4F5A8B6C7D8E9F0A1B2C\"}"));
    assert_false(sees(&sb, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_A1 "\",vm_name=\"a1\"}"));
    /* A terminated VM stays its owner's: history for reports. */
    assert_true(sees(&sa, "poolwatch_vm_info{host=\"hv2\",vm=\"22222222-2222-3333-4444-555555555555\","
                          "vm_name=\"a3\"}"));
    /* Name fallback: a2 has no UUID in the inventory. */
    assert_true(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_X "\",vm_name=\"a2\"}"));
    assert_false(sees(&sb, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_X "\",vm_name=\"a2\"}"));
    assert_true(sees(&sb, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_X "\",vm_name=\"b2\"}"));
    /* ... but not for a VM the inventory has a UUID for: a1 under another UUID is not a1. */
    assert_false(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_X "\",vm_name=\"a1\"}"));
    /* UUID precedence: b1's UUID named like a's VM without UUID is b's, not a's. */
    assert_false(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_B1 "\",vm_name=\"a2\"}"));
    assert_true(sees(&sb, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_B1 "\",vm_name=\"a2\"}"));
    /* Another tenant's VM, by UUID and by name. */
    assert_false(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_B1 "\",vm_name=\"b1\"}"));
    assert_false(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_X "\",vm_name=\"b2\"}"));
    /* Host series (no vm label) stay invisible, even named like an owned VM. */
    assert_false(sees(&sa, "poolwatch_host_memory_bytes{host=\"hv1\"}"));
    assert_false(sees(&sa, "node_load1{host=\"a1\"}"));
    assert_false(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm_name=\"a2\"}"));
    /* A series that names a tenant is that tenant's: the inventory is not asked. */
    assert_false(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",tenant=\"b\",vm=\"" U_A1 "\"}"));
    assert_true(sees(&sb, "poolwatch_vm_vcpus{host=\"hv1\",tenant=\"b\",vm=\"" U_A1 "\"}"));
    assert_true(sees(&sa, "up{tenant=\"a\"}"));
    /* A vm label that is no UUID: only the name can match. */
    assert_true(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"not-a-uuid\",vm_name=\"a2\"}"));
    assert_false(sees(&sa, "poolwatch_vm_vcpus{host=\"hv1\",vm=\"not-a-uuid\",vm_name=\"a1\"}"));

    pw_scope_own_free(oa);
    pw_scope_own_free(ob);
}

/* A VM reassigned from a to b: b sees it, history included; a loses it. */
static void
test_reassigned(void **state)
{
    fx           *f = *state;
    pw_inv_vm     r1 = vm("m1", U_A1, "a", INT64_MAX), r2 = vm("m2", "", "a", INT64_MAX);
    pw_scope      sa, sb;
    pw_scope_own *oa, *ob;
    const char   *k1 = "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_A1 "\",vm_name=\"m1\"}";
    const char   *k2 = "poolwatch_vm_vcpus{host=\"hv1\",vm=\"" U_X "\",vm_name=\"m2\"}";

    (void) state;
    import(f, D(1), &r1, 1);
    import(f, D(1), &r2, 1);
    r1.tenant = "b";
    r2.tenant = "b";
    import(f, D(10), &r1, 1);
    import(f, D(10), &r2, 1);
    tenant_scope(&sa, "a");
    tenant_scope(&sb, "b");
    assert_int_equal(pw_scope_own_load(f->inv, "a", &oa), PW_OK);
    assert_int_equal(pw_scope_own_load(f->inv, "b", &ob), PW_OK);
    assert_int_equal(pw_scope_set_own(&sa, oa), PW_OK);
    assert_int_equal(pw_scope_set_own(&sb, ob), PW_OK);
    assert_false(sees(&sa, k1));
    assert_false(sees(&sa, k2));
    assert_true(sees(&sb, k1));
    assert_true(sees(&sb, k2));
    pw_scope_own_free(oa);
    pw_scope_own_free(ob);
}

/* The pure builder: conflicts, limits, misuse; ALL and NONE never ask the hook. */
static void
test_builder(void **state)
{
    pw_scope_own *o;
    pw_scope      s;

    (void) state;
    assert_int_equal(pw_scope_own_new("", &o), PW_EINVAL);
    assert_null(o);
    assert_int_equal(pw_scope_own_new("a", &o), PW_OK);
    assert_int_equal(pw_scope_own_add(o, "x1", U_X, "a"), PW_OK);
    assert_int_equal(pw_scope_own_add(o, "y1", U_X, "b"), PW_OK);     /* the same UUID at b */
    assert_int_equal(pw_scope_own_add(o, "a2", "", "a"), PW_OK);
    assert_int_equal(pw_scope_own_add(o, NULL, "", "a"), PW_EINVAL);
    tenant_scope(&s, "a");
    assert_int_equal(pw_scope_set_own(&s, o), PW_EINVAL);            /* not sealed */
    pw_scope_own_seal(o);
    assert_int_equal(pw_scope_own_add(o, "late", "", "a"), PW_EINVAL);
    assert_int_equal(pw_scope_set_own(&s, o), PW_OK);
    /* A UUID listed for two tenants is nobody's. */
    assert_false(sees(&s, "poolwatch_vm_vcpus{host=\"h\",vm=\"" U_X "\",vm_name=\"x1\"}"));
    assert_true(sees(&s, "poolwatch_vm_vcpus{host=\"h\",vm=\"" U_A1 "\",vm_name=\"a2\"}"));
    /* The hook widens a tenant scope only. */
    s.kind = PW_SCOPE_NONE;
    assert_false(sees(&s, "poolwatch_vm_vcpus{host=\"h\",vm=\"" U_A1 "\",vm_name=\"a2\"}"));
    pw_scope_all(&s);
    assert_int_equal(pw_scope_set_own(&s, o), PW_EINVAL);
    pw_scope_own_free(o);
    pw_scope_own_free(NULL);

    /* Bounded. */
    assert_int_equal(pw_scope_own_new("a", &o), PW_OK);
    for (size_t i = 0; i < PW_SCOPE_OWN_MAX; i++)
        assert_int_equal(pw_scope_own_add(o, "n", "", "b"), PW_OK);
    assert_int_equal(pw_scope_own_add(o, "n", "", "b"), PW_ETOOBIG);
    pw_scope_own_free(o);
}

/* An empty (or not yet created) inventory: no VM is owned, nothing fails. */
static void
test_empty_inventory(void **state)
{
    fx           *f = *state;
    pw_scope_own *o;
    pw_scope      s;

    (void) state;
    assert_int_equal(pw_scope_own_load(f->inv, "a", &o), PW_OK);
    tenant_scope(&s, "a");
    assert_int_equal(pw_scope_set_own(&s, o), PW_OK);
    assert_false(sees(&s, "poolwatch_vm_vcpus{host=\"h\",vm=\"" U_A1 "\",vm_name=\"a1\"}"));
    assert_int_equal(pw_scope_own_load(NULL, "a", &o), PW_EINVAL);
    assert_int_equal(pw_scope_own_load(f->inv, "", &o), PW_EINVAL);
    pw_scope_own_free(s.owns_ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inventory_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reassigned, setup, teardown),
        cmocka_unit_test(test_builder),
        cmocka_unit_test_setup_teardown(test_empty_inventory, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
