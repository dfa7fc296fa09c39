/*
 * scope.h - which series a caller may see: the tenant scope (REQUIREMENTS R11).
 *
 * One filter, pw_scope_allows, and one place that applies it: the store as an
 * evaluation source (eval_store.c) asks it about every series it lists, before
 * the caller sees the series' key, labels or points. Every read of series over
 * the HTTP API goes through that source - queries (instant and range), the raw
 * samples of a range selector, /api/v1/series, /api/v1/labels and
 * /api/v1/label/<name>/values - so a selector cannot widen itself past the
 * scope ({tenant=~".*"}, no tenant matcher, {__name__=~".+"}, another tenant's
 * name): the series it would add are never listed, so neither their values nor
 * their label names or values can show up anywhere, limits and counts included.
 *
 * Rules:
 *   - PW_SCOPE_ALL (admin, operator, auditor; the local CLI, which reads the
 *     data directory itself): every series.
 *   - PW_SCOPE_TENANT: a series whose label `tenant` equals the scope's tenant
 *     exactly (byte for byte); a series without a tenant label, or with
 *     another tenant's, is not seen - unless the ownership hook says yes.
 *   - PW_SCOPE_NONE (the zero value, an unauthenticated caller, an unknown
 *     role, a tenant token without a tenant): nothing. Deny by default.
 *
 * Ownership hook: VMs of a tenant's systems run on shared hosts, and their
 * hypervisor-side series carry no tenant label (poolwatch_vm_* labelled
 * vm=<libvirt UUID>, vm_name=<domain name>, host=...). `owns` is asked, for a
 * tenant scope only, about each series the label rule refused; it may only
 * widen a tenant's view, never narrow ALL nor open NONE. It runs once per
 * listed series inside a store read, so it must be fast and must not touch
 * the store's write side.
 *
 * It is connected to the inventory (inventory.h) by the HTTP layer: for a
 * tenant-scoped series read (http.c, routes of PW_ACT_READ_METRICS) it loads
 * a pw_scope_own - an in-memory snapshot of who owns which VM, taken once per
 * request from the newest version of every VM (pw_scope_own_load) - and sets
 * it as the hook (pw_scope_set_own); it is freed with the request, never
 * cached across requests, so an import is seen by the next request. The
 * rules of the snapshot (pw_scope_own_owns):
 *   - only series with a `vm` label and no `tenant` label can be owned: a
 *     series that names a tenant is that tenant's alone, and host series (no
 *     `vm` label) stay invisible to tenants;
 *   - the UUID decides when the inventory knows it: a series whose `vm` (read
 *     as 32 hex digits, dashes and case ignored) is the UUID of a VM whose
 *     newest version is the tenant's is owned; one whose UUID the inventory
 *     gives to another tenant's VM is not, whatever its vm_name says (a UUID
 *     listed for two tenants' VMs is nobody's: deny on doubt);
 *   - the name only when the inventory has no UUID for the VM: a series
 *     whose UUID the inventory does not know is owned if its `vm_name` is the
 *     name of a VM of the tenant recorded without a UUID;
 *   - the newest version decides, whatever its dates: a terminated VM stays
 *     its owner's (history for reports), and a VM moved to another tenant is
 *     entirely the new owner's - its whole history included; the old owner
 *     loses it, also before the change (the hook decides per series, not per
 *     point; cutting at the change date would need the evaluator to filter
 *     points by time).
 *
 * Threads: a pw_scope is read-only once made; share it freely. A sealed
 * pw_scope_own is read-only too.
 */
#ifndef PW_SCOPE_H
#define PW_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "eval.h"
#include "pw_err.h"
#include "series.h"
#include "store.h"

/* The label that names a series' tenant (using unit). */
#define PW_SCOPE_TENANT_LABEL "tenant"

typedef enum pw_scope_kind {
    PW_SCOPE_NONE = 0,    /* sees nothing: the zero value, so a forgotten scope denies */
    PW_SCOPE_ALL,
    PW_SCOPE_TENANT,
} pw_scope_kind;

/* Ownership hook, see above. tenant is the scope's; v the series' parsed key. */
typedef bool (*pw_scope_owns_fn)(void *ctx, const char *tenant, const pw_series_view *v);

typedef struct pw_scope {
    pw_scope_kind    kind;
    char             tenant[PW_TENANT_MAX + 1];   /* PW_SCOPE_TENANT: non-empty */
    pw_scope_owns_fn owns;                        /* NULL: the label rule alone */
    void            *owns_ctx;                    /* borrowed; must outlive the scope's use */
} pw_scope;

/* Sets *s to see every series. */
void pw_scope_all(pw_scope *s);

/*
 * The scope of an authenticated principal: ALL for admin, operator and
 * auditor; TENANT for a tenant principal with a non-empty tenant; NONE
 * otherwise, and then PW_EINVAL (a principal that should never exist: the
 * caller refuses the request). owns starts NULL.
 */
pw_err pw_scope_for(const pw_principal *who, pw_scope *out);

/* True if the scope lets its holder see series v. s NULL sees nothing. */
bool pw_scope_allows(const pw_scope *s, const pw_series_view *v);

/* True for a scope that sees everything (callers may skip work that only scoping needs). */
bool pw_scope_is_all(const pw_scope *s);

/* ---- ownership from the inventory (the hook above) --------------------------------- */

/* A snapshot of VM ownership for one tenant. Opaque; read-only once sealed. */
typedef struct pw_scope_own pw_scope_own;

/* VMs a snapshot takes at most (all tenants: another tenant's UUIDs count too). */
#define PW_SCOPE_OWN_MAX 200000

/*
 * Building one by hand (pw_scope_own_load does it from the inventory): new
 * for `tenant` (*out owned by the caller, pw_scope_own_free), one add per VM
 * (its newest version: name, uuid "" when unknown, tenant; strings copied),
 * then seal before the first pw_scope_own_owns. PW_EINVAL: an empty tenant,
 * a NULL string, an add after seal; PW_ETOOBIG past PW_SCOPE_OWN_MAX VMs;
 * PW_ENOMEM.
 */
pw_err pw_scope_own_new(const char *tenant, pw_scope_own **out);
pw_err pw_scope_own_add(pw_scope_own *o, const char *name, const char *uuid, const char *tenant);
void   pw_scope_own_seal(pw_scope_own *o);
void   pw_scope_own_free(pw_scope_own *o);      /* NULL ok */

/*
 * The snapshot of `inv` for tenant: every VM's newest version
 * (pw_inventory_vms_latest), added and sealed. *out owned by the caller.
 * Errors of the inventory read, PW_ETOOBIG past PW_SCOPE_OWN_MAX VMs,
 * PW_ENOMEM. Lives in scope_inventory.c (built with the inventory, so the
 * store library does not need it).
 */
struct pw_inventory;
pw_err pw_scope_own_load(struct pw_inventory *inv, const char *tenant, pw_scope_own **out);

/* The hook (a pw_scope_owns_fn, ctx a sealed pw_scope_own): the rules above. */
bool pw_scope_own_owns(void *ctx, const char *tenant, const pw_series_view *v);

/* VMs the snapshot gives its tenant (by UUID, by name): for logs and tests. */
void pw_scope_own_counts(const pw_scope_own *o, size_t *by_uuid, size_t *by_name);

/*
 * Connects a sealed snapshot to a tenant scope as its hook; o borrowed, must
 * outlive the scope's use. No effect on a scope that is not TENANT or whose
 * tenant is not the snapshot's (PW_EINVAL then).
 */
pw_err pw_scope_set_own(pw_scope *s, const pw_scope_own *o);

/*
 * The store as an evaluation source, restricted to a scope: what
 * pw_eval_store_source (eval.h) gives, with every series it lists passed
 * through pw_scope_allows first (eval_store.c). The plain
 * pw_eval_store_source is the same source with an ALL scope, for the local
 * CLI. Fill a pw_eval_store_scoped on the caller's stack; t and scope are
 * borrowed and must outlive every evaluation using *out.
 */
typedef struct pw_eval_store_scoped {
    pw_eval_store   st;       /* first: the source's ops find the scope from it */
    const pw_scope *scope;
} pw_eval_store_scoped;

void pw_eval_store_source_scoped(pw_eval_store_scoped *s, pw_store_txn *t, const pw_scope *scope,
                                 pw_eval_source *out);

#endif
