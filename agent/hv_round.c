/*
 * hv_round.c - one round of hypervisor answers (hypervisor.h): growing
 * arrays plus an arena for strings, freed in one go.
 *
 * A round with 500 domains holds ~100 000 short strings (parameter names
 * repeat across domains); an arena of 64 KiB blocks makes that a few dozen
 * allocations instead of 100 000, and freeing the round is one walk.
 */
#include "hypervisor.h"

#include <stdlib.h>
#include <string.h>

#define HV_ARENA_BLOCK (64u << 10)

struct pw_hv_arena {
    pw_hv_arena *next;
    size_t       used, cap;
    char         data[];
};

pw_hv_round *
pw_hv_round_new(void)
{
    return calloc(1, sizeof(pw_hv_round));
}

void
pw_hv_round_free(pw_hv_round *r)
{
    pw_hv_arena *a, *next;

    if (r == NULL)
        return;
    for (a = r->arena; a != NULL; a = next) {
        next = a->next;
        free(a);
    }
    free(r->pools);
    free(r->domains);
    free(r->params);
    free(r);
}

const char *
pw_hv_round_strndup(pw_hv_round *r, const char *s, size_t n)
{
    pw_hv_arena *a = r->arena;
    char        *p;

    if (a == NULL || a->cap - a->used < n + 1) {
        size_t cap = n + 1 > HV_ARENA_BLOCK ? n + 1 : HV_ARENA_BLOCK;

        if ((a = malloc(sizeof *a + cap)) == NULL)
            return NULL;
        a->used = 0;
        a->cap = cap;
        a->next = r->arena;
        r->arena = a;
    }
    p = a->data + a->used;
    memcpy(p, s, n);
    p[n] = '\0';
    a->used += n + 1;
    return p;
}

/* Makes room for one more element in *v (n used of *cap). */
static pw_err
hv_grow(void **v, size_t n, size_t *cap, size_t size)
{
    size_t ncap;
    void  *p;

    if (n < *cap)
        return PW_OK;
    ncap = *cap ? *cap * 2 : 16;
    if ((p = realloc(*v, ncap * size)) == NULL)
        return PW_ENOMEM;
    *v = p;
    *cap = ncap;
    return PW_OK;
}

pw_err
pw_hv_round_add_pool(pw_hv_round *r, const char *name, uint64_t capacity, uint64_t allocation,
                     uint64_t available)
{
    pw_hv_pool *p;

    if (hv_grow((void **) &r->pools, r->npools, &r->pools_cap, sizeof *r->pools) != PW_OK)
        return PW_ENOMEM;
    p = &r->pools[r->npools];
    if ((p->name = pw_hv_round_strndup(r, name, strlen(name))) == NULL)
        return PW_ENOMEM;
    p->capacity = capacity;
    p->allocation = allocation;
    p->available = available;
    r->npools++;
    return PW_OK;
}

pw_err
pw_hv_round_add_domain(pw_hv_round *r, const char *uuid, const char *name)
{
    pw_hv_domain *d;

    if (r->ndomains >= PW_HV_MAX_DOMAINS) {
        r->dropped_domains++;
        r->skipping = true;
        return PW_ETOOBIG;
    }
    r->skipping = false;
    if (hv_grow((void **) &r->domains, r->ndomains, &r->domains_cap, sizeof *r->domains) != PW_OK)
        return PW_ENOMEM;
    d = &r->domains[r->ndomains];
    d->uuid = pw_hv_round_strndup(r, uuid, strlen(uuid));
    d->name = pw_hv_round_strndup(r, name, strlen(name));
    if (d->uuid == NULL || d->name == NULL)
        return PW_ENOMEM;
    d->first = r->nparams;
    d->nparams = 0;
    r->ndomains++;
    return PW_OK;
}

pw_err
pw_hv_round_add_param(pw_hv_round *r, const pw_hv_param *p)
{
    pw_hv_domain *d;
    pw_hv_param  *q;

    if (r->skipping || r->ndomains == 0)
        return PW_ETOOBIG;
    d = &r->domains[r->ndomains - 1];
    if (d->nparams >= PW_HV_MAX_PARAMS) {
        r->dropped_params++;
        return PW_ETOOBIG;
    }
    if (hv_grow((void **) &r->params, r->nparams, &r->params_cap, sizeof *r->params) != PW_OK)
        return PW_ENOMEM;
    q = &r->params[r->nparams];
    *q = *p;
    if ((q->field = pw_hv_round_strndup(r, p->field, strlen(p->field))) == NULL)
        return PW_ENOMEM;
    if (p->type == PW_HV_STRING
        && (q->v.s = pw_hv_round_strndup(r, p->v.s, strlen(p->v.s))) == NULL)
        return PW_ENOMEM;
    r->nparams++;
    d->nparams++;
    return PW_OK;
}

pw_err
pw_hv_round_add_u64(pw_hv_round *r, const char *field, pw_hv_type type, uint64_t v)
{
    pw_hv_param p = { .field = field, .type = type, .v.u = v };

    return pw_hv_round_add_param(r, &p);
}

pw_err
pw_hv_round_add_str(pw_hv_round *r, const char *field, const char *v)
{
    pw_hv_param p = { .field = field, .type = PW_HV_STRING, .v.s = v };

    return pw_hv_round_add_param(r, &p);
}

const pw_hv_param *
pw_hv_domain_param(const pw_hv_round *r, size_t i, const char *field)
{
    const pw_hv_domain *d = &r->domains[i];

    for (size_t k = 0; k < d->nparams; k++)
        if (strcmp(r->params[d->first + k].field, field) == 0)
            return &r->params[d->first + k];
    return NULL;
}

bool
pw_hv_param_u64(const pw_hv_param *p, uint64_t *out)
{
    if (p == NULL)
        return false;
    switch (p->type) {
    case PW_HV_UINT:
    case PW_HV_ULLONG:
        *out = p->v.u;
        return true;
    case PW_HV_INT:
    case PW_HV_LLONG:
    case PW_HV_BOOLEAN:
        if (p->v.i < 0)
            return false;
        *out = (uint64_t) p->v.i;
        return true;
    case PW_HV_DOUBLE:
        if (!(p->v.d >= 0 && p->v.d < 1.8e19))
            return false;
        *out = (uint64_t) p->v.d;
        return true;
    default:
        return false;
    }
}
