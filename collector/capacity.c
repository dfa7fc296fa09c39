/*
 * capacity.c - the pure part of pool capacity (capacity.h): a pool's
 * figures from its hosts' figures. No I/O.
 */
#include "capacity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double pw_cap_thresholds[PW_CAP_NTHRESH] = { 0.7, 1.0 };

const char *
pw_cap_kind_name(pw_cap_kind k)
{
    return k == PW_CAP_ALLOCATED ? "allocated" : k == PW_CAP_USED ? "used" : "?";
}

const char *
pw_cap_alloc_src_name(pw_cap_alloc_src s)
{
    switch (s) {
    case PW_CAP_ALLOC_DOMAINS: return "domains";
    case PW_CAP_ALLOC_INVENTORY: return "inventory";
    case PW_CAP_ALLOC_NONE: break;
    }
    return "none";
}

void
pw_cap_host_init(pw_cap_host *h, const char *name)
{
    h->host = name;
    h->domains = 0;
    for (int r = 0; r < PW_POOL_RES_COUNT_; r++)
        h->capacity[r] = h->used[r] = h->dom_alloc[r] = NAN;
}

static int
cap_host_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const pw_cap_host *) elem)->host);
}

/* a + b where NaN means "no figure": NaN only if both are. */
static double
cap_add(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : a + b;
}

static double
cap_ratio(double num, double den)
{
    return isnan(num) || !(den > 0) ? NAN : num / den;
}

void
pw_cap_pool_compute(const pw_pool_def *p, const pw_cap_host *hosts, size_t nhosts,
                    const pw_cap_inv_alloc *inv, pw_cap_pool *out)
{
    double cap[PW_POOL_RES_COUNT_], used[PW_POOL_RES_COUNT_], dom[PW_POOL_RES_COUNT_];
    size_t domains = 0;

    memset(out, 0, sizeof *out);
    out->hosts = p->nhosts;
    for (int r = 0; r < PW_POOL_RES_COUNT_; r++)
        cap[r] = used[r] = dom[r] = NAN;
    for (size_t i = 0; i < p->nhosts; i++) {
        const pw_cap_host *h = nhosts == 0 ? NULL
            : bsearch(p->hosts[i], hosts, nhosts, sizeof *hosts, cap_host_cmp);
        bool measured = false;

        if (h == NULL)
            continue;
        for (int r = 0; r < PW_POOL_RES_COUNT_; r++) {
            measured |= !isnan(h->capacity[r]);
            cap[r] = cap_add(cap[r], h->capacity[r]);
            used[r] = cap_add(used[r], h->used[r]);
            dom[r] = cap_add(dom[r], h->dom_alloc[r]);
        }
        domains += h->domains;
        out->hosts_measured += measured;
    }
    if (domains > 0) {
        out->alloc_src = PW_CAP_ALLOC_DOMAINS;
        out->vms = domains;
    } else if (inv != NULL && inv->vms > 0) {
        out->alloc_src = PW_CAP_ALLOC_INVENTORY;
        out->vms = inv->vms;
    }
    for (int r = 0; r < PW_POOL_RES_COUNT_; r++) {
        pw_cap_figures *f = &out->res[r];

        f->capacity_override = p->capacity[r] > 0;
        f->capacity = f->capacity_override ? p->capacity[r] : cap[r];
        f->overcommit = r == PW_POOL_CPU ? p->cpu_overcommit
                      : r == PW_POOL_MEMORY ? p->memory_overcommit : 1;
        if (!(f->overcommit > 0))
            f->overcommit = 1;
        if (r == PW_POOL_NETWORK)
            f->allocated = NAN;
        else if (out->alloc_src == PW_CAP_ALLOC_DOMAINS)
            f->allocated = isnan(dom[r]) ? 0 : dom[r];
        else if (out->alloc_src == PW_CAP_ALLOC_INVENTORY)
            f->allocated = inv->alloc[r];
        else
            f->allocated = 0;
        f->allocated_ratio = cap_ratio(f->allocated, f->capacity * f->overcommit);
        f->used = used[r];
        f->used_ratio = cap_ratio(f->used, f->capacity);
        for (int k = 0; k < PW_CAP_KIND_COUNT_; k++)
            for (int j = 0; j < PW_CAP_NTHRESH; j++)
                f->forecast[k][j] = (pw_forecast) { .days = NAN, .slope = NAN, .latest = NAN };
    }
}

void
pw_cap_report_free(pw_cap_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->npools; i++)
        free(r->pools[i].name);
    free(r->pools);
    r->pools = NULL;
    r->npools = 0;
}
