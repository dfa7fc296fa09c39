/*
 * store_write.c - samples into a write txn: pw_store_write_frame (a decoded
 * agent frame) and pw_store_write_samples (poolwatch import, backfill).
 *
 * Both share one path: check every series before writing anything, so a
 * bad frame leaves the txn (and the other frames of a group commit) intact;
 * then resolve series ids and append points. Only an agent frame has the
 * parts around it: dedupe before, the agent record after, and the host
 * label added to its series. Imported samples name their series in full.
 *
 * The collector's writer uses pw_store_write_frame_ids: series ids it
 * remembers per agent skip the checks and lookups, and the points of all
 * frames of a group commit are held back (pw_store_pending) and stored
 * together, sorted by series, through the engine's append_sorted. The
 * other writers' points take the same way, a frame at a time.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Points held back for pw_store_write_pending, in the order the frames
 * gave them, and a second buffer of the same size for the sort.
 */
struct pw_store_pending {
    pw_store_point *items, *tmp;
    size_t          n, cap;
};

/*
 * Copies series s's labels into lab (room for PW_MAX_LABELS + 1), adds
 * host=<host> if host is not NULL or "" and s has no host label, sorts.
 */
static pw_err
write_labels(const pw_wire_series *s, const char *host, pw_label *lab, size_t *n)
{
    bool has_host = false;

    if (s->nlabels > PW_MAX_LABELS)
        return PW_ETOOBIG;
    for (size_t i = 0; i < s->nlabels; i++) {
        lab[i] = s->labels[i];
        if (strcmp(lab[i].name, "host") == 0)
            has_host = true;
    }
    *n = s->nlabels;
    if (!has_host && host != NULL && host[0] != '\0') {
        if (*n == PW_MAX_LABELS)
            return PW_ETOOBIG;
        lab[*n].name = "host";
        lab[*n].value = host;
        (*n)++;
    }
    /* The decoder sorts labels, but the key must not depend on that. */
    return pw_labels_sort(lab, *n) == PW_OK ? PW_OK : PW_EPROTO;
}

/*
 * Everything in f's series and samples that would make it unstorable,
 * checked before any write. host as write_labels; known skips the series
 * (ids from an earlier frame of the same dictionary); who starts each
 * message ("frame of agent a1", "samples").
 */
static pw_err
write_check_samples(pw_store *st, const pw_frame *f, const char *host, bool known,
                    const char *who)
{
    pw_label lab[PW_MAX_LABELS + 1];
    size_t   n;
    pw_err   e;

    if ((f->nseries > 0 && f->series == NULL) || (f->nsamples > 0 && f->samples == NULL))
        return pws_failf(st, PW_EPROTO, "%s: counts without arrays", who);
    /* known: the same dictionary and host passed these checks before (see store.h). */
    for (size_t i = 0; i < f->nseries && !known; i++) {
        const pw_wire_series *s = &f->series[i];

        if (s->metric == NULL || !pw_metric_name_valid(s->metric, strlen(s->metric))
            || (s->nlabels > 0 && s->labels == NULL))
            return pws_failf(st, PW_EPROTO, "%s: series %zu has a bad metric name", who, i);
        for (size_t j = 0; j < s->nlabels && j < PW_MAX_LABELS; j++) {
            const pw_label *l = &s->labels[j];

            if (l->name == NULL || l->value == NULL
                || !pw_label_name_valid(l->name, strlen(l->name))
                || !pw_label_value_valid(l->value, strlen(l->value)))
                return pws_failf(st, PW_EPROTO, "%s: series %s has a bad label", who, s->metric);
        }
        e = write_labels(s, host, lab, &n);
        if (e == PW_ETOOBIG)
            return pws_failf(st, e, "%s: series %s has more than %d labels%s", who, s->metric,
                PW_MAX_LABELS, host != NULL ? " with host added" : "");
        if (e != PW_OK)
            return pws_failf(st, e, "%s: series %s repeats a label name", who, s->metric);
    }
    for (size_t i = 0; i < f->nsamples; i++)
        if (f->samples[i].series >= f->nseries)
            return pws_failf(st, PW_EPROTO, "%s: sample %zu names series %u of %zu",
                who, i, (unsigned) f->samples[i].series, f->nseries);
    return PW_OK;
}

/* The header fields an agent frame must carry (imported samples have none). */
static pw_err
write_check_header(pw_store *st, const pw_frame_header *h)
{
    size_t alen = strnlen(h->agent_id, sizeof h->agent_id);

    if (alen == 0 || alen > PW_WIRE_MAX_AGENT_ID)
        return pws_failf(st, PW_EPROTO, "frame has no valid agent id");
    if (strnlen(h->host, sizeof h->host) > PW_WIRE_MAX_HOST
        || strnlen(h->agent_version, sizeof h->agent_version) > PW_WIRE_MAX_AGENT_VERSION)
        return pws_failf(st, PW_EPROTO, "frame of agent %s: host or version too long",
            h->agent_id);
    if (h->host[0] != '\0' && !pw_label_value_valid(h->host, strlen(h->host)))
        return pws_failf(st, PW_EPROTO, "frame of agent %s: host is not valid UTF-8", h->agent_id);
    return PW_OK;
}

/* The id of frame series i, resolving (and creating) it on first use. */
static pw_err
write_series_id(pw_store_txn *t, const pw_frame *f, const char *host, uint32_t i, uint64_t *ids)
{
    pw_label lab[PW_MAX_LABELS + 1];
    size_t   n, keylen;
    pw_err   e;

    if (ids[i] != 0)
        return PW_OK;
    if (t->keybuf == NULL && (t->keybuf = malloc(PW_MAX_SERIES_KEY_LEN + 1)) == NULL)
        return pws_failf(t->s, PW_ENOMEM, "series key: out of memory");
    /* Cannot fail after write_check_samples: the buffer holds the longest key there is. */
    if ((e = write_labels(&f->series[i], host, lab, &n)) != PW_OK
        || (e = pw_series_key_format(f->series[i].metric, lab, n, t->keybuf,
                PW_MAX_SERIES_KEY_LEN + 1, &keylen)) != PW_OK)
        return pws_failf(t->s, e, "series key of %s: %s", f->series[i].metric, pw_strerror(e));
    return pws_series_resolve(t, t->keybuf, keylen, &ids[i]);
}

/* Room for n more points in pp. */
static pw_err
pend_room(pw_store_pending *pp, size_t n)
{
    size_t          cap;
    pw_store_point *items, *tmp;

    if (pp->n + n <= pp->cap)
        return PW_OK;
    cap = (pp->n + n) + (pp->n + n) / 2;
    if ((items = realloc(pp->items, cap * sizeof *items)) == NULL)
        return PW_ENOMEM;
    pp->items = items;
    if ((tmp = realloc(pp->tmp, cap * sizeof *tmp)) == NULL)
        return PW_ENOMEM;
    pp->tmp = tmp;
    pp->cap = cap;
    return PW_OK;
}

/* Resolves the series ids of a checked frame and queues its points in pp (room made by the caller). */
static pw_err
write_pend(pw_store_txn *t, const pw_frame *f, const char *host, uint64_t *ids,
           pw_store_pending *pp)
{
    pw_err err;

    for (size_t i = 0; i < f->nsamples; i++) {
        const pw_wire_sample *sm = &f->samples[i];
        pw_store_point       *pt = &pp->items[pp->n];

        if ((err = write_series_id(t, f, host, sm->series, ids)) != PW_OK)
            return err;
        pt->series_id = ids[sm->series];
        pt->ts_ms = sm->ts_ms;
        pt->value = sm->value;
        pp->n++;
    }
    return PW_OK;
}

/*
 * The shared part: series ids and points of a checked frame, written now,
 * sorted by series as a group commit's are (pw_store_write_pending).
 * ids: one per series, 0 = not resolved yet; series that no sample names
 * are not created.
 */
static pw_err
write_points(pw_store_txn *t, const pw_frame *f, const char *host, uint64_t *ids)
{
    pw_store_pending pp = { 0 };
    pw_err           err;

    if (pend_room(&pp, f->nsamples) != PW_OK)
        err = pws_failf(t->s, PW_ENOMEM, "points: out of memory");
    else if ((err = write_pend(t, f, host, ids, &pp)) == PW_OK)
        err = pw_store_write_pending(t, &pp);
    free(pp.items);
    free(pp.tmp);
    return err;
}

pw_err
pw_store_write_frame_ids(pw_store_txn *t, const pw_frame *f, int64_t recv_ms, uint64_t *ids,
                         bool known, pw_store_pending *pend, bool *duplicate)
{
    char     who[sizeof "frame of agent " + PW_WIRE_MAX_AGENT_ID];
    uint64_t last_seq;
    bool     found;
    pw_err   err;

    *duplicate = false;
    if (!t->write)
        return pws_failf(t->s, PW_EINVAL, "writing a frame needs a write transaction");
    if ((err = write_check_header(t->s, &f->hdr)) != PW_OK)
        return err;
    snprintf(who, sizeof who, "frame of agent %s", f->hdr.agent_id);
    if ((err = write_check_samples(t->s, f, f->hdr.host, known, who)) != PW_OK)
        return err;
    if ((err = pws_dedupe_get(t, f->hdr.agent_id, f->hdr.boot_id, &found, &last_seq)) != PW_OK)
        return err;
    if (found && f->hdr.seq <= last_seq) {
        *duplicate = true;
        return PW_OK;
    }
    if (!known && f->nseries > 0)
        memset(ids, 0, f->nseries * sizeof *ids);
    if (pend != NULL) {
        size_t n0 = pend->n;

        if (pend_room(pend, f->nsamples) != PW_OK)
            return pws_failf(t->s, PW_ENOMEM, "%s: out of memory", who);
        if ((err = write_pend(t, f, f->hdr.host, ids, pend)) != PW_OK) {
            pend->n = n0;
            return err;
        }
    } else if ((err = write_points(t, f, f->hdr.host, ids)) != PW_OK) {
        return err;
    }
    if ((err = pws_dedupe_put(t, f->hdr.agent_id, f->hdr.boot_id, f->hdr.seq, recv_ms)) != PW_OK)
        return err;
    return pws_agent_update(t, &f->hdr, recv_ms, f->nsamples);
}

/* Series ids on the heap, for callers that do not keep them. */
static pw_err
write_frame_or_samples(pw_store_txn *t, const pw_frame *f, int64_t recv_ms, bool *duplicate)
{
    uint64_t *ids = NULL;
    pw_err    err;

    if (f->nseries > 0 && (ids = calloc(f->nseries, sizeof *ids)) == NULL)
        return pws_failf(t->s, PW_ENOMEM, "%s: out of memory",
                         duplicate != NULL ? "frame" : "samples");
    if (duplicate != NULL) {
        err = pw_store_write_frame_ids(t, f, recv_ms, ids, false, NULL, duplicate);
    } else if ((err = write_check_samples(t->s, f, NULL, false, "samples")) == PW_OK) {
        err = write_points(t, f, NULL, ids);
    }
    free(ids);
    return err;
}

pw_err
pw_store_write_frame(pw_store_txn *t, const pw_frame *f, int64_t recv_ms, bool *duplicate)
{
    *duplicate = false;
    return write_frame_or_samples(t, f, recv_ms, duplicate);
}

pw_err
pw_store_write_series(pw_store_txn *t, const pw_frame *f)
{
    uint64_t *ids = NULL;
    pw_err    err;

    if (!t->write)
        return pws_failf(t->s, PW_EINVAL, "writing series needs a write transaction");
    if ((err = write_check_samples(t->s, f, NULL, false, "samples")) != PW_OK)
        return err;
    if (f->nseries > 0 && (ids = calloc(f->nseries, sizeof *ids)) == NULL)
        return pws_failf(t->s, PW_ENOMEM, "series: out of memory");
    for (size_t i = 0; i < f->nsamples && err == PW_OK; i++)
        err = write_series_id(t, f, NULL, f->samples[i].series, ids);
    free(ids);
    return err;
}

pw_err
pw_store_write_samples(pw_store_txn *t, const pw_frame *f)
{
    if (!t->write)
        return pws_failf(t->s, PW_EINVAL, "writing samples needs a write transaction");
    return write_frame_or_samples(t, f, 0, NULL);
}

/* ---- pending points: a group commit's, stored in series order ------------ */

pw_store_pending *
pw_store_pending_new(void)
{
    return calloc(1, sizeof(pw_store_pending));
}

void
pw_store_pending_free(pw_store_pending *pp)
{
    if (pp == NULL)
        return;
    free(pp->items);
    free(pp->tmp);
    free(pp);
}

void
pw_store_pending_reset(pw_store_pending *pp)
{
    pp->n = 0;
}

#define PEND_RADIX_BITS 11

/*
 * Sorts pp's points by series id, stably (a series' points keep the
 * frames' order), and returns the buffer that holds them sorted. A least
 * significant digit radix sort, 11 bits a pass and only as many passes as
 * the largest id needs (two up to 4 million series): linear, where the
 * frames' ids interleave too much for anything cheaper to help.
 */
static pw_store_point *
pend_sort(pw_store_pending *pp)
{
    pw_store_point *src = pp->items, *dst = pp->tmp, *swap;
    uint64_t        max = 0;
    size_t          count[1u << PEND_RADIX_BITS];

    for (size_t i = 0; i < pp->n; i++)
        if (pp->items[i].series_id > max)
            max = pp->items[i].series_id;
    for (unsigned shift = 0; shift < 64 && (max >> shift) != 0; shift += PEND_RADIX_BITS) {
        const uint64_t mask = (1u << PEND_RADIX_BITS) - 1;
        size_t         sum = 0;

        memset(count, 0, sizeof count);
        for (size_t i = 0; i < pp->n; i++)
            count[(src[i].series_id >> shift) & mask]++;
        for (size_t d = 0; d <= mask; d++) {
            size_t c = count[d];

            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < pp->n; i++)
            dst[count[(src[i].series_id >> shift) & mask]++] = src[i];
        swap = src;
        src = dst;
        dst = swap;
    }
    return src;
}

pw_err
pw_store_write_pending(pw_store_txn *t, pw_store_pending *pp)
{
    const pw_points_ops *ops = t->s->points;
    size_t               n = pp->n;
    pw_store_point      *pt;
    int                  rc = 0;

    if (!t->write)
        return pws_failf(t->s, PW_EINVAL, "writing points needs a write transaction");
    if (n == 0)
        return PW_OK;
    pt = pend_sort(pp);
    pp->n = 0;
    if (ops->append_sorted != NULL)
        return pws_fail(t->s, ops->append_sorted(t->s->points_state, t->txn, pt, n), "store point");
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = ops->append(t->s->points_state, t->txn, pt[i].series_id, pt[i].ts_ms, pt[i].value);
    return pws_fail(t->s, rc, "store point");
}
