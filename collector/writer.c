/*
 * writer.c - group-commit writer thread; see writer.h.
 *
 * The LMDB write transaction lives on this thread only (LMDB binds a write
 * txn to its thread). A full map is grown and the whole batch redone; a full
 * disk answers "retry later" to every frame of the batch: the agents keep
 * them spooled, so nothing accepted is lost.
 *
 * Per batch: each frame's series ids come from the per-agent memo
 * (writer_memo.h) when its dictionary is the one remembered; its points
 * are held back and stored for the whole batch at once, in series order
 * (pw_store_write_pending); the memo learns only committed ids.
 */
#include "writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "writer_memo.h"

#define WRITER_RETRY_MS 5000u    /* hint to agents when we cannot store */
/* Series ids remembered per agent (writer_memo.h): ~5 KiB an agent of 100 series. */
#define WRITER_MEMO_BYTES (64u << 20)

struct pw_writer {
    pw_store           *store;
    pw_collector_stats *stats;
    size_t              max_batch;
    pthread_t           thread;
    pthread_mutex_t     mu;
    pthread_cond_t      cv;
    pw_write_req       *head, *tail;
    bool                stopping;
    uint64_t            full_streak;    /* consecutive disk-full batches, for the log */
    pw_write_req      **reqs;           /* max_batch slots: the batch being written */
    pw_ack_status      *status;         /* max_batch slots: each frame's answer */
    pw_writer_memo     *memo;           /* each agent's series ids, writer thread only */
    pw_store_pending   *pend;           /* the batch's points, stored in series order */
    uint64_t           *ids;            /* the batch's series ids, frame after frame */
    size_t              ids_cap;
};

static void
writer_reply(pw_writer *w, pw_write_req *r, pw_ack_status status, const char *msg)
{
    r->ack.seq = r->frame.hdr.seq;
    r->ack.status = status;
    r->ack.retry_ms = status == PW_ACK_RETRY ? WRITER_RETRY_MS : 0;
    snprintf(r->ack.msg, sizeof r->ack.msg, "%s", msg);
    switch (status) {
    case PW_ACK_STORED:
        atomic_fetch_add(&w->stats->frames_stored, 1);
        atomic_fetch_add(&w->stats->samples_stored, r->frame.nsamples);
        break;
    case PW_ACK_DUPLICATE:
        atomic_fetch_add(&w->stats->frames_duplicate, 1);
        break;
    case PW_ACK_REJECTED:
        atomic_fetch_add(&w->stats->frames_rejected, 1);
        break;
    default:
        atomic_fetch_add(&w->stats->frames_retry, 1);
        break;
    }
}

/*
 * Stores reqs[0..n) in one transaction. On PW_OK st[] holds each frame's
 * answer (stored, duplicate, or rejected: a frame the store refuses as
 * malformed wrote nothing and does not spoil the others). Otherwise nothing
 * was stored.
 */
static pw_err
writer_txn(pw_writer *w, pw_write_req **reqs, size_t n, pw_ack_status *st)
{
    pw_store_txn *t;
    pw_err        rc;
    int64_t       t0;
    bool          grown_at_commit = false;

    for (;;) {
        if ((rc = pw_store_write_begin(w->store, &t)) != PW_OK)
            return rc;
        pw_store_pending_reset(w->pend);
        /* Ids are taken from the memo on every try: an aborted try may have
         * resolved some in w->ids that are not committed. */
        for (size_t i = 0, off = 0; i < n && rc == PW_OK; off += reqs[i]->frame.nseries, i++) {
            const pw_frame *f = &reqs[i]->frame;
            const uint64_t *known = pw_writer_memo_get(w->memo, f);
            bool            dup = false;

            if (known != NULL)
                memcpy(w->ids + off, known, f->nseries * sizeof *known);
            rc = pw_store_write_frame_ids(t, f, reqs[i]->recv_ms, w->ids + off, known != NULL,
                                          w->pend, &dup);
            st[i] = dup ? PW_ACK_DUPLICATE : PW_ACK_STORED;
            if (rc == PW_EPROTO || rc == PW_ETOOBIG) {
                st[i] = PW_ACK_REJECTED;
                pw_store_last_error(w->store, reqs[i]->ack.msg, sizeof reqs[i]->ack.msg);
                rc = PW_OK;
            }
        }
        /* All frames' points at once, in series order: one pass over the open chunks. */
        if (rc == PW_OK)
            rc = pw_store_write_pending(t, w->pend);
        if (rc != PW_OK) {
            pw_store_write_abort(t);
            /* Map full: grow it (no txn is open now) and redo the batch. */
            if (rc == PW_EFULL && pw_store_grow(w->store) == PW_OK) {
                atomic_fetch_add(&w->stats->map_grows, 1);
                continue;
            }
            return rc;
        }
        t0 = pw_mono_ms();
        rc = pw_store_write_commit(t);
        atomic_fetch_add(&w->stats->commit_us_total, (uint64_t) (pw_mono_ms() - t0) * 1000);
        if (rc == PW_OK) {
            /* Committed: these ids are for good. A failed put only forgets. */
            for (size_t i = 0, off = 0; i < n; off += reqs[i]->frame.nseries, i++)
                if (st[i] == PW_ACK_STORED)
                    (void) pw_writer_memo_put(w->memo, &reqs[i]->frame, w->ids + off);
        }
        /* LMDB may need pages at commit too. Growing helps a full map, not a
         * full disk: try once, then report. */
        if (rc == PW_EFULL && !grown_at_commit && pw_store_grow(w->store) == PW_OK) {
            atomic_fetch_add(&w->stats->map_grows, 1);
            grown_at_commit = true;
            continue;
        }
        return rc;
    }
}

/* Room in w->ids for every series of reqs[0..n). */
static pw_err
writer_ids_room(pw_writer *w, pw_write_req **reqs, size_t n)
{
    size_t    need = 0;
    uint64_t *ids;

    for (size_t i = 0; i < n; i++)
        need += reqs[i]->frame.nseries;
    if (need <= w->ids_cap)
        return PW_OK;
    need += need / 2;
    if ((ids = realloc(w->ids, need * sizeof *ids)) == NULL)
        return PW_ENOMEM;
    w->ids = ids;
    w->ids_cap = need;
    return PW_OK;
}

/* st: scratch of at least n entries. */
static void
writer_batch(pw_writer *w, pw_write_req **reqs, size_t n, pw_ack_status *st)
{
    pw_err rc = writer_ids_room(w, reqs, n);

    if (rc == PW_OK)
        rc = writer_txn(w, reqs, n, st);

    if (rc == PW_OK) {
        atomic_fetch_add(&w->stats->commits, 1);
        if (w->full_streak > 0)
            pw_info("storage writable again after %llu refused batch(es)",
                    (unsigned long long) w->full_streak);
        w->full_streak = 0;
        for (size_t i = 0; i < n; i++) {
            if (st[i] == PW_ACK_REJECTED) {
                char why[PW_WIRE_MAX_ACK_MSG + 1];
                snprintf(why, sizeof why, "%s", reqs[i]->ack.msg);
                pw_warn("frame seq %llu from %s not stored: %s",
                        (unsigned long long) reqs[i]->frame.hdr.seq, reqs[i]->frame.hdr.agent_id, why);
                writer_reply(w, reqs[i], st[i], why);
            } else {
                writer_reply(w, reqs[i], st[i], "");
            }
        }
    } else if (rc == PW_EFULL) {
        atomic_fetch_add(&w->stats->disk_full, 1);
        if (w->full_streak++ % 100 == 0)
            pw_error("storage full (disk or map ceiling): %zu frame(s) answered retry-later; "
                     "agents keep them spooled. Free space or raise --max-db-size.", n);
        for (size_t i = 0; i < n; i++)
            writer_reply(w, reqs[i], PW_ACK_RETRY, "collector storage is full");
    } else {
        char why[256];
        pw_store_last_error(w->store, why, sizeof why);
        atomic_fetch_add(&w->stats->commit_errors, 1);
        pw_error("storing %zu frame(s) failed: %s (%s); answered retry-later", n,
                 pw_strerror(rc), why);
        for (size_t i = 0; i < n; i++)
            writer_reply(w, reqs[i], PW_ACK_RETRY, pw_strerror(rc));
    }
    for (size_t i = 0; i < n; i++)
        reqs[i]->done(reqs[i]);
}

static void *
writer_main(void *arg)
{
    pw_writer     *w = arg;
    pw_write_req **reqs = w->reqs;

    for (;;) {
        size_t n = 0;
        bool   stop;

        pthread_mutex_lock(&w->mu);
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        while (w->head != NULL && n < w->max_batch) {
            reqs[n++] = w->head;
            w->head = w->head->next_;
        }
        if (w->head == NULL)
            w->tail = NULL;
        stop = w->stopping && w->head == NULL;
        atomic_fetch_sub(&w->stats->queue_depth, n);
        pthread_mutex_unlock(&w->mu);
        if (n > 0)
            writer_batch(w, reqs, n, w->status);
        if (stop && n == 0)
            break;
    }
    return NULL;
}

pw_err
pw_writer_start(pw_store *store, pw_collector_stats *stats, size_t max_batch, pw_writer **out)
{
    pw_writer *w;

    if ((w = calloc(1, sizeof *w)) == NULL)
        return PW_ENOMEM;
    w->store = store;
    w->stats = stats;
    w->max_batch = max_batch > 0 ? max_batch : 1;
    w->reqs = calloc(w->max_batch, sizeof *w->reqs);
    w->status = calloc(w->max_batch, sizeof *w->status);
    w->memo = pw_writer_memo_new(WRITER_MEMO_BYTES);
    w->pend = pw_store_pending_new();
    if (w->reqs == NULL || w->status == NULL || w->memo == NULL || w->pend == NULL)
        goto fail;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        goto fail;
    }
    /* top -H and the storage benchmark tell the writer from NNG's threads by it */
    pthread_setname_np(w->thread, "pw:writer");
    *out = w;
    return PW_OK;
fail:
    pw_store_pending_free(w->pend);
    pw_writer_memo_free(w->memo);
    free(w->reqs);
    free(w->status);
    free(w);
    return PW_ENOMEM;
}

void
pw_writer_submit(pw_writer *w, pw_write_req *req)
{
    req->next_ = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->tail != NULL)
        w->tail->next_ = req;
    else
        w->head = req;
    w->tail = req;
    atomic_fetch_add(&w->stats->queue_depth, 1);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void
pw_writer_stop(pw_writer *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pw_store_pending_free(w->pend);
    pw_writer_memo_free(w->memo);
    free(w->ids);
    free(w->reqs);
    free(w->status);
    free(w);
}
