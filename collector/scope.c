/*
 * scope.c - the tenant scope filter; see scope.h for the rules and why there
 * is only one.
 */
#include "scope.h"
#include "bytes.h"
#include "sort.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
pw_scope_all(pw_scope *s)
{
    memset(s, 0, sizeof *s);
    s->kind = PW_SCOPE_ALL;
}

pw_err
pw_scope_for(const pw_principal *who, pw_scope *out)
{
    memset(out, 0, sizeof *out);        /* PW_SCOPE_NONE until proven otherwise */
    if (who == NULL)
        return PW_EINVAL;
    switch (who->role) {
    case PW_ROLE_ADMIN:
    case PW_ROLE_OPERATOR:
    case PW_ROLE_AUDITOR:
        out->kind = PW_SCOPE_ALL;
        return PW_OK;
    case PW_ROLE_TENANT:
        /* A tenant principal without a tenant would match series without the
         * label (value ""): refuse it rather than guess. */
        if (who->tenant[0] == '\0' || memchr(who->tenant, '\0', sizeof who->tenant) == NULL)
            return PW_EINVAL;
        out->kind = PW_SCOPE_TENANT;
        snprintf(out->tenant, sizeof out->tenant, "%s", who->tenant);
        return PW_OK;
    case PW_ROLE_NONE:
    default:
        return PW_EINVAL;
    }
}

bool
pw_scope_allows(const pw_scope *s, const pw_series_view *v)
{
    const char *t;

    if (s == NULL)
        return false;
    switch (s->kind) {
    case PW_SCOPE_ALL:
        return true;
    case PW_SCOPE_TENANT:
        if (s->tenant[0] == '\0')
            return false;
        t = pw_series_view_label(v, PW_SCOPE_TENANT_LABEL);
        if (t != NULL && strcmp(t, s->tenant) == 0)
            return true;
        return s->owns != NULL && s->owns(s->owns_ctx, s->tenant, v);
    case PW_SCOPE_NONE:
    default:
        return false;
    }
}

bool
pw_scope_is_all(const pw_scope *s)
{
    return s != NULL && s->kind == PW_SCOPE_ALL;
}

/* ---- ownership from the inventory ------------------------------------------------- */

#define SO_UUID_LEN PW_UUID_LEN

typedef struct so_uuid {
    unsigned char b[SO_UUID_LEN];
} so_uuid;

/*
 * Sorted arrays and binary search: built once per request, read once per
 * listed series. UUIDs are kept as their 16 bytes, so "6F1C..." and
 * "6f1c-..." are one UUID and a compare is a memcmp.
 */
struct pw_scope_own {
    char     tenant[PW_TENANT_MAX + 1];
    so_uuid *mine, *other;       /* the tenant's VMs' UUIDs; every other tenant's */
    size_t   nmine, nother, capmine, capother;
    char   **names;              /* the tenant's VMs recorded without a UUID; owned */
    size_t   nnames, capnames;
    size_t   nvms;               /* added, for PW_SCOPE_OWN_MAX */
    bool     sealed;
};

static int
so_uuid_cmp(const void *a, const void *b)
{
    return memcmp(a, b, SO_UUID_LEN);
}

static int
so_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Appends one element of size sz to *arr (growing by doubling). */
static pw_err
so_push(void **arr, size_t *n, size_t *cap, const void *el, size_t sz)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        void  *p = realloc(*arr, nc * sz);

        if (p == NULL)
            return PW_ENOMEM;
        *arr = p;
        *cap = nc;
    }
    memcpy((char *) *arr + *n * sz, el, sz);
    (*n)++;
    return PW_OK;
}

pw_err
pw_scope_own_new(const char *tenant, pw_scope_own **out)
{
    pw_scope_own *o;

    *out = NULL;
    if (tenant == NULL || tenant[0] == '\0' || strlen(tenant) > PW_TENANT_MAX)
        return PW_EINVAL;
    if ((o = calloc(1, sizeof *o)) == NULL)
        return PW_ENOMEM;
    memcpy(o->tenant, tenant, strlen(tenant) + 1);
    *out = o;
    return PW_OK;
}

pw_err
pw_scope_own_add(pw_scope_own *o, const char *name, const char *uuid, const char *tenant)
{
    so_uuid u;
    bool    mine;
    char   *dup;
    pw_err  e;

    if (o == NULL || o->sealed || name == NULL || uuid == NULL || tenant == NULL)
        return PW_EINVAL;
    if (o->nvms >= PW_SCOPE_OWN_MAX)
        return PW_ETOOBIG;
    o->nvms++;
    mine = strcmp(tenant, o->tenant) == 0;
    /* A UUID the inventory holds in another form than 32 hex digits cannot be
     * compared with libvirt's: that VM counts as one without a UUID. */
    if (uuid[0] != '\0' && pw_uuid_parse(uuid, u.b))
        return mine ? so_push((void **) &o->mine, &o->nmine, &o->capmine, &u, sizeof u)
                    : so_push((void **) &o->other, &o->nother, &o->capother, &u, sizeof u);
    if (!mine || name[0] == '\0')
        return PW_OK;
    if ((dup = strdup(name)) == NULL)
        return PW_ENOMEM;
    if ((e = so_push((void **) &o->names, &o->nnames, &o->capnames, &dup, sizeof dup)) != PW_OK)
        free(dup);
    return e;
}

void
pw_scope_own_seal(pw_scope_own *o)
{
    if (o == NULL || o->sealed)
        return;
    pw_qsort(o->mine, o->nmine, sizeof *o->mine, so_uuid_cmp);
    pw_qsort(o->other, o->nother, sizeof *o->other, so_uuid_cmp);
    pw_qsort(o->names, o->nnames, sizeof *o->names, so_name_cmp);
    o->sealed = true;
}

void
pw_scope_own_free(pw_scope_own *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->nnames; i++)
        free(o->names[i]);
    free(o->names);
    free(o->mine);
    free(o->other);
    free(o);
}

bool
pw_scope_own_owns(void *ctx, const char *tenant, const pw_series_view *v)
{
    const pw_scope_own *o = ctx;
    const char         *vm, *name;
    so_uuid             u;

    if (o == NULL || !o->sealed || tenant == NULL || strcmp(tenant, o->tenant) != 0)
        return false;
    /* Only VM series that name no tenant: a tenant label is the owner's own word. */
    if ((vm = pw_series_view_label(v, "vm")) == NULL
        || pw_series_view_label(v, PW_SCOPE_TENANT_LABEL) != NULL)
        return false;
    if (pw_uuid_parse(vm, u.b)) {
        /* Another tenant's first: a UUID listed for two tenants is nobody's. */
        if (o->nother > 0 && bsearch(&u, o->other, o->nother, sizeof u, so_uuid_cmp) != NULL)
            return false;
        if (o->nmine > 0 && bsearch(&u, o->mine, o->nmine, sizeof u, so_uuid_cmp) != NULL)
            return true;
    }
    /* The inventory does not know this UUID: the name, for the tenant's VMs without one. */
    name = pw_series_view_label(v, "vm_name");
    return name != NULL && o->nnames > 0
        && bsearch(&name, o->names, o->nnames, sizeof name, so_name_cmp) != NULL;
}

void
pw_scope_own_counts(const pw_scope_own *o, size_t *by_uuid, size_t *by_name)
{
    *by_uuid = o != NULL ? o->nmine : 0;
    *by_name = o != NULL ? o->nnames : 0;
}

pw_err
pw_scope_set_own(pw_scope *s, const pw_scope_own *o)
{
    if (s == NULL || o == NULL || s->kind != PW_SCOPE_TENANT || !o->sealed
        || strcmp(s->tenant, o->tenant) != 0)
        return PW_EINVAL;
    s->owns = pw_scope_own_owns;
    s->owns_ctx = (void *) (uintptr_t) o;   /* the hook only reads it */
    return PW_OK;
}
