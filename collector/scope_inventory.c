/*
 * scope_inventory.c - the tenant scope's ownership snapshot read from the
 * inventory (scope.h, "Ownership hook"). Apart from scope.c so that the
 * store library, which every reader links, does not need the inventory.
 */
#include "scope.h"

#include "inventory.h"

typedef struct si_load {
    pw_scope_own *o;
    pw_err        e;
} si_load;

static int
si_vm(void *ctx, const pw_inv_vm *vm)
{
    si_load *l = ctx;

    l->e = pw_scope_own_add(l->o, vm->name, vm->uuid, vm->tenant);
    return l->e != PW_OK;
}

pw_err
pw_scope_own_load(struct pw_inventory *inv, const char *tenant, pw_scope_own **out)
{
    si_load l = { NULL, PW_OK };
    pw_err  e;

    *out = NULL;
    if (inv == NULL)
        return PW_EINVAL;
    if ((e = pw_scope_own_new(tenant, &l.o)) != PW_OK)
        return e;
    /* Every tenant's VMs, not only this one's: another tenant's UUID must
     * outrank a name match (scope.h). */
    e = pw_inventory_vms_latest(inv, NULL, si_vm, &l);
    if (e == PW_OK)
        e = l.e;
    if (e != PW_OK) {
        pw_scope_own_free(l.o);
        return e;
    }
    pw_scope_own_seal(l.o);
    *out = l.o;
    return PW_OK;
}
