/*
 * capacity_json.c - a pool capacity report as JSON (capacity.h,
 * pw_cap_report_json), shared by `poolwatch pools` and /api/v1/pools.
 */
#include "capacity.h"

#include <math.h>

#include "clock.h"

static json_t *
cj_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Whole numbers as integers ("capacity": 96, not 96.0), others as reals. */
static json_t *
cj_fig(double v)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t) v);
    return cj_num(v);
}

static json_t *
cj_days(const pw_cap_figures *f)
{
    json_t *o = json_object();

    for (int k = 0; k < PW_CAP_KIND_COUNT_ && o != NULL; k++) {
        json_t *t = json_object();

        for (int j = 0; j < PW_CAP_NTHRESH && t != NULL; j++) {
            const pw_forecast *fc = &f->forecast[k][j];

            json_object_set_new(t, j == 0 ? "0.7" : "1", fc->has ? cj_fig(fc->days) : json_null());
        }
        if (t == NULL || json_object_set_new(o, pw_cap_kind_name((pw_cap_kind) k), t) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

json_t *
pw_cap_report_json(const pw_cap_report *r)
{
    char    iso[32];
    json_t *pools = json_array(), *root;

    pw_time_format_iso(r->at, iso, sizeof iso);
    root = json_pack("{s:s, s:I, s:o}", "time", iso, "time_ms", (json_int_t) r->at, "pools", pools);
    if (root == NULL)
        return NULL;
    for (size_t i = 0; i < r->npools; i++) {
        const pw_cap_pool *p = &r->pools[i];
        json_t            *res = json_array();
        json_t            *po = json_pack("{s:s, s:I, s:I, s:s, s:I, s:o}", "pool", p->name,
                                          "hosts", (json_int_t) p->hosts,
                                          "hosts_measured", (json_int_t) p->hosts_measured,
                                          "allocation_source", pw_cap_alloc_src_name(p->alloc_src),
                                          "vms", (json_int_t) p->vms, "resources", res);

        if (po == NULL || json_array_append_new(pools, po) != 0)
            goto fail;
        for (int k = 0; k < PW_POOL_RES_COUNT_; k++) {
            const pw_cap_figures *f = &p->res[k];
            json_t *fo = json_pack("{s:s, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o}",
                "resource", pw_pool_res_name((pw_pool_res) k), "capacity", cj_fig(f->capacity),
                "capacity_override", f->capacity_override, "overcommit", cj_fig(f->overcommit),
                "allocated", cj_fig(f->allocated), "allocated_ratio", cj_num(f->allocated_ratio),
                "used", cj_fig(f->used), "used_ratio", cj_num(f->used_ratio),
                "days_to_threshold", cj_days(f));

            if (fo == NULL || json_array_append_new(res, fo) != 0)
                goto fail;
        }
    }
    return root;
fail:
    json_decref(root);
    return NULL;
}
