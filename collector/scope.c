/*
 * scope.c - the tenant scope filter; see scope.h for the rules and why there
 * is only one.
 */
#include "scope.h"

#include <stdio.h>
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
