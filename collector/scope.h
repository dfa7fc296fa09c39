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
 * Ownership hook (for the inventory, to come): VMs of a tenant's systems run on
 * shared hosts, and their series may carry no tenant label (hypervisor-side
 * samples labelled vm=..., host=...). `owns` is asked, for a tenant scope only,
 * about each series the label rule refused; it returns true when the inventory
 * says the tenant owns it. It runs once per listed series inside a store read,
 * so it must be fast and must not touch the store's write side (an in-memory
 * snapshot of the inventory, taken when the scope is made, is the intended
 * shape). It may only widen a tenant's view, never narrow ALL nor open NONE.
 *
 * Threads: a pw_scope is read-only once made; share it freely.
 */
#ifndef PW_SCOPE_H
#define PW_SCOPE_H

#include <stdbool.h>

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
