/*
 * ingest.h - receives agent frames on NNG rep0 with many concurrent contexts.
 *
 * Each context loops: receive a frame, decode and validate it (on the NNG
 * thread that completed the receive), hand it to the writer, and send the
 * writer's ack back. A frame that does not decode is answered at once with
 * REJECTED (or UNSUPPORTED for a newer wire version) and counted; it never
 * reaches storage and never stops the collector.
 *
 * On tls+tcp:// every agent must present a certificate that chains to
 * --tls-ca, and each frame's agent id must equal that certificate's CN:
 * a frame claiming another agent is answered REJECTED ("identity
 * mismatch"), counted in frames_identity_rejected and logged, and never
 * stored. Plain tcp:// checks nothing, and says so at startup unless it
 * listens on loopback only.
 *
 * Memory: the decoded frames taken and not yet answered are bounded by
 * max_inflight_bytes (their decoded size, pw_frame's arrays and strings;
 * stats->inflight_bytes). A frame that would take the total over it is
 * answered RETRY with a retry hint and never stored, counted in
 * frames_over_budget (and frames_retry), and logged (rate-limited); agents
 * keep it spooled and send it again. A frame is always taken when nothing
 * else is in flight, so one bigger than the budget still gets through (the
 * wire limit bounds it). Its bytes are given back as its ack goes out.
 */
#ifndef PW_INGEST_H
#define PW_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"
#include "stats.h"
#include "writer.h"

typedef struct pw_ingest pw_ingest;

typedef struct pw_ingest_opts {
    const char *url;        /* tcp://127.0.0.1:7410, tls+tcp://0.0.0.0:7410 */
    size_t      contexts;   /* concurrent receive contexts */
    uint64_t    max_inflight_bytes;   /* decoded bytes of frames held at once (> 0) */
    /* PEM files, all three for tls+tcp:// and none for tcp:// (see common/tls.h). */
    const char *tls_ca, *tls_cert, *tls_key;
} pw_ingest_opts;

/*
 * Listens on opts->url with opts->contexts contexts feeding writer (both
 * writer and stats must outlive the ingest; opts is read during the call
 * only). *out owned by the caller: pw_ingest_stop.
 * Errors, with a sentence in errbuf: PW_EINVAL: bad URL, TLS files
 * missing or unusable, or given for a plain URL; PW_EIO: a TLS file cannot
 * be read; PW_EVERSION: TLS with an NNG other than 1.5 (common/tls.h);
 * PW_ENET: cannot listen.
 */
pw_err pw_ingest_start(const pw_ingest_opts *opts, pw_writer *writer, pw_collector_stats *stats,
                       pw_ingest **out, char *errbuf, size_t errlen);

/*
 * SIGHUP: reads the three TLS files of opts again (a renewed certificate, a
 * CA file with a new revocation list) and listens with them. Unusable files
 * change nothing (PW_EINVAL/PW_EIO/PW_EVERSION with the reason in errbuf).
 * NNG cannot swap a started listener's config, so the listener is closed and
 * opened again: open connections drop and agents redial with backoff, resend
 * the frame they had in flight (dedupe covers it), and a revoked agent is cut
 * off at once. PW_ENET if listening with the new files failed (errbuf says
 * whether the old ones listen again). PW_EINVAL on a plain tcp:// ingest.
 * Called from one thread at a time (the collector's main thread).
 */
pw_err pw_ingest_reload_tls(pw_ingest *in, const pw_ingest_opts *opts, char *errbuf, size_t errlen);

/*
 * Shutdown is two steps around pw_writer_stop, so that no frame is handed to
 * a writer that is gone and no ack is sent through a freed aio:
 *   pw_ingest_pause(in);   stop receiving; no more submits after it returns
 *   pw_writer_stop(w);     store what is queued
 *   pw_ingest_stop(in);    close the socket, free everything
 */
void pw_ingest_pause(pw_ingest *in);
void pw_ingest_stop(pw_ingest *in);

#endif
