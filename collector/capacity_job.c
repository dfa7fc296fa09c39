/*
 * capacity_job.c - the collector's pool capacity thread (capacity_job.h).
 */
#include "capacity_job.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "capacity.h"
#include "clock.h"
#include "job.h"
#include "log.h"
#include "wire.h"

struct pw_capjob {
    pw_store        *store;
    pw_inventory    *inv;
    int64_t          interval_ms;
    char             host[PW_WIRE_MAX_HOST + 1];
    pw_batch        *batch;
    pw_job          *job;
    uint64_t         runs, errors, seq;
    char             last_msg[512];   /* the failure last logged: log each new one once */
};

/* Adds v unless it is NaN (no figure: no point). */
static pw_err
cj_add(pw_batch *b, const char *metric, double v, const char *pool, const char *res)
{
    if (!isfinite(v))
        return PW_OK;
    return pw_batch_addl(b, metric, v, "pool", pool, "resource", res, NULL);
}

static pw_err
cj_fill(pw_capjob *j, const pw_cap_report *rep)
{
    pw_batch *b = j->batch;
    pw_err    e = PW_OK;

    pw_batch_reset(b);
    pw_batch_group(b, rep->at);
    for (size_t i = 0; i < rep->npools && e == PW_OK; i++) {
        const pw_cap_pool *p = &rep->pools[i];

        for (int r = 0; r < PW_POOL_RES_COUNT_ && e == PW_OK; r++) {
            const pw_cap_figures *f = &p->res[r];
            const char           *rn = pw_pool_res_name((pw_pool_res) r);

            if ((e = cj_add(b, PW_CAP_M_CAPACITY, f->capacity, p->name, rn)) != PW_OK
                || (e = cj_add(b, PW_CAP_M_ALLOCATED, f->allocated, p->name, rn)) != PW_OK
                || (e = cj_add(b, PW_CAP_M_USED, f->used, p->name, rn)) != PW_OK
                || (e = cj_add(b, PW_CAP_M_ALLOCATED_RATIO, f->allocated_ratio, p->name, rn)) != PW_OK
                || (e = cj_add(b, PW_CAP_M_USED_RATIO, f->used_ratio, p->name, rn)) != PW_OK)
                break;
            for (int k = 0; k < PW_CAP_KIND_COUNT_ && e == PW_OK; k++)
                for (int t = 0; t < PW_CAP_NTHRESH && e == PW_OK; t++) {
                    const pw_forecast *fc = &f->forecast[k][t];

                    if (fc->has && isfinite(fc->days))
                        e = pw_batch_addl(b, PW_CAP_M_DAYS, fc->days, "pool", p->name, "resource", rn,
                                          "kind", pw_cap_kind_name((pw_cap_kind) k), "threshold",
                                          t == 0 ? "0.7" : "1", NULL);
                }
        }
    }
    return e;
}

/* Stores the batch in a write transaction of its own; grows the map once if full. */
static pw_err
cj_store(pw_capjob *j, char *msg, size_t msglen)
{
    pw_frame_header hdr = { .ts_ms = pw_now_ms(), .seq = ++j->seq };
    pw_frame        f;
    void           *buf = NULL;
    size_t          len;
    char            err[256];
    pw_err          e;

    snprintf(hdr.agent_id, sizeof hdr.agent_id, "poolwatch-collector-capacity");
    snprintf(hdr.host, sizeof hdr.host, "%s", j->host);
    if ((e = pw_wire_encode(&hdr, j->batch, &buf, &len)) != PW_OK) {
        snprintf(msg, msglen, "encoding the pool series: %s", pw_strerror(e));
        return e;
    }
    e = pw_wire_decode(buf, len, &f, err, sizeof err);
    free(buf);
    if (e != PW_OK) {
        snprintf(msg, msglen, "the pool series do not decode: %s", err);
        return e;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        pw_store_txn *t;

        if ((e = pw_store_write_begin(j->store, &t)) != PW_OK)
            break;
        if ((e = pw_store_write_samples(t, &f)) != PW_OK) {
            pw_store_write_abort(t);
        } else {
            e = pw_store_write_commit(t);
        }
        if (e != PW_EFULL || attempt > 0 || pw_store_grow(j->store) != PW_OK)
            break;
    }
    if (e != PW_OK) {
        pw_store_last_error(j->store, err, sizeof err);
        snprintf(msg, msglen, "storing the pool series: %s", err[0] ? err : pw_strerror(e));
    }
    pw_frame_release(&f);
    return e;
}

static int64_t
cj_pass(pw_job *job, void *arg)
{
    pw_capjob    *j = arg;
    pw_cap_report rep = { 0 };
    pw_store_txn *t = NULL;
    char          msg[512] = "";
    int64_t       now = pw_now_ms();
    pw_err        e;

    (void) job;
    if ((e = pw_store_read_begin(j->store, &t)) != PW_OK) {
        pw_store_last_error(j->store, msg, sizeof msg);
        goto out;
    }
    e = pw_cap_report_build(t, j->inv, now, now, true, &rep, msg, sizeof msg);
    pw_store_read_end(t);
    if (e != PW_OK)
        goto out;
    if ((e = cj_fill(j, &rep)) != PW_OK) {
        snprintf(msg, sizeof msg, "building the pool series: %s", pw_strerror(e));
        goto out;
    }
    pw_batch_addl(j->batch, "poolwatch_collector_capacity_runs_total", (double) (j->runs + 1),
                  "host", j->host, NULL);
    pw_batch_addl(j->batch, "poolwatch_collector_capacity_errors_total", (double) j->errors,
                  "host", j->host, NULL);
    e = cj_store(j, msg, sizeof msg);
out:
    pw_cap_report_free(&rep);
    if (e == PW_OK) {
        j->runs++;
        if (j->last_msg[0] != '\0')
            pw_info("pool capacity: computing again");
        j->last_msg[0] = '\0';
        return j->interval_ms;
    }
    j->errors++;
    if (msg[0] == '\0')
        snprintf(msg, sizeof msg, "%s", pw_strerror(e));
    if (strcmp(msg, j->last_msg) != 0)
        pw_warn("pool capacity: %s (retried every pass; logged once)", msg);
    snprintf(j->last_msg, sizeof j->last_msg, "%s", msg);
    return j->interval_ms;
}

pw_err
pw_capjob_start(const pw_capjob_opts *o, pw_capjob **out)
{
    pw_capjob *j = calloc(1, sizeof *j);

    *out = NULL;
    if (j == NULL)
        return PW_ENOMEM;
    j->store = o->store;
    j->inv = o->inv;
    j->interval_ms = o->interval_ms > 0 ? o->interval_ms : 60000;
    snprintf(j->host, sizeof j->host, "%s", o->host && o->host[0] ? o->host : "localhost");
    if ((j->batch = pw_batch_new()) == NULL)
        goto fail;
    /* the first pass one interval after the start, then every interval */
    if (pw_job_start(j->interval_ms, cj_pass, j, &j->job) != PW_OK)
        goto fail;
    *out = j;
    return PW_OK;
fail:
    pw_batch_free(j->batch);
    free(j);
    return PW_ENOMEM;
}

void
pw_capjob_stop(pw_capjob *j)
{
    if (j == NULL)
        return;
    pw_job_stop(j->job);
    pw_batch_free(j->batch);
    free(j);
}
