/*
 * writer.h - the collector's single writer thread: group commit.
 *
 * Ingest contexts submit decoded frames; the writer takes everything queued,
 * stores it in one LMDB transaction, commits (fsync), and only then calls
 * each request's done() with its ack. One fsync covers many frames, and no
 * frame is acked before it is durable. Between batches it keeps each
 * agent's series ids (writer_memo.h, 64 MiB at most) and scratch sized by
 * the largest batch seen, all freed by pw_writer_stop.
 */
#ifndef PW_WRITER_H
#define PW_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"
#include "stats.h"
#include "store.h"
#include "wire.h"

typedef struct pw_writer pw_writer;
typedef struct pw_write_req pw_write_req;

/*
 * One frame to store. Owned by the submitter; the writer only reads frame,
 * fills ack and calls done(req) from the writer thread after the commit (or
 * the failure). The submitter may release the frame and reuse req in done().
 */
struct pw_write_req {
    pw_frame      frame;
    int64_t       recv_ms;
    pw_ack        ack;
    void        (*done)(pw_write_req *req);
    void         *arg;
    pw_write_req *next_;      /* private: queue link */
};

/*
 * Starts the writer thread on store (which must outlive it). max_batch bounds
 * the frames per transaction. *out owned by the caller: pw_writer_stop.
 */
pw_err pw_writer_start(pw_store *store, pw_collector_stats *stats, size_t max_batch, pw_writer **out);

/* Queues req; returns at once. */
void pw_writer_submit(pw_writer *w, pw_write_req *req);

/* Stores what is queued, then stops and joins the thread and frees w. */
void pw_writer_stop(pw_writer *w);

#endif
