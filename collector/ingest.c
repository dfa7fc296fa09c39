/*
 * ingest.c - NNG rep0 server with a pool of contexts; see ingest.h.
 *
 * Modelled on NNG's async server demo: each context owns one aio and moves
 * through RECV -> (WRITE) -> SEND -> RECV. While a frame sits with the writer
 * its context is busy, so the number of contexts bounds the frames in memory,
 * and a byte budget bounds their size (see ingest.h): after decode (the
 * ack needs the frame's seq, and the decoded frame is what stays in memory
 * while the writer has it) and the identity check, a frame is taken only if
 * its decoded bytes fit next to those already in flight; else it is freed
 * at once and answered RETRY. On TLS the identity check sits between decode
 * and write: a frame reaches the writer only if its agent id is its
 * connection's certificate CN.
 */
#include "ingest.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "tls.h"

typedef enum ingest_state { INGEST_RECV, INGEST_WRITE, INGEST_SEND } ingest_state;

/*
 * Retry hint for a frame over the budget: the budget frees as soon as the
 * writer's next commit returns, so a second or two, spread over another
 * second so that agents refused together do not all come back together.
 */
#define INGEST_BUDGET_RETRY_MS     1000u
#define INGEST_BUDGET_RETRY_SPREAD 1000u

typedef struct ingest_ctx ingest_ctx;

struct ingest_ctx {
    pw_ingest   *in;
    nng_ctx      ctx;
    nng_aio     *aio;
    ingest_state state;
    pw_write_req req;
    uint64_t     charged;   /* bytes of the budget req.frame holds; written by whoever owns req */
};

struct pw_ingest {
    nng_socket          sock;
    pw_writer          *writer;
    pw_collector_stats *stats;
    ingest_ctx         *ctxs;
    size_t              nctxs;
    atomic_uint_fast64_t reject_logged;   /* rate limit for reject log lines */
    atomic_uint_fast64_t identity_logged; /* the same for identity rejects */
    atomic_uint_fast64_t budget_logged;   /* the same for frames over the budget */
    uint64_t             budget;          /* max_inflight_bytes; in flight: stats->inflight_bytes */
    bool                 tls;             /* listening on tls+tcp://: check identities */
    nng_listener         listener;
    nng_tls_config      *tls_cfg;         /* our hold on the listener's config; NULL on tcp:// */
    char                 url[512];
    /*
     * Set by pw_ingest_pause under mu. A send started on an aio that
     * nng_aio_stop has already stopped never completes, so its message would
     * be nobody's: the writer thread checks this under mu before each send,
     * and pause stops the aios only after setting it.
     */
    pthread_mutex_t      mu;
    bool                 paused;
};

static void ingest_cb(void *arg);

static void
ingest_send_ack(ingest_ctx *c, const pw_ack *ack)
{
    void    *buf;
    size_t   len;
    nng_msg *msg;

    if (pw_wire_encode_ack(ack, &buf, &len) != PW_OK)
        goto fail;
    if (nng_msg_alloc(&msg, len) != 0) {
        free(buf);
        goto fail;
    }
    memcpy(nng_msg_body(msg), buf, len);
    free(buf);
    pthread_mutex_lock(&c->in->mu);
    if (c->in->paused) {
        /* Shutting down: nobody will receive; the agent resends to the next run. */
        pthread_mutex_unlock(&c->in->mu);
        nng_msg_free(msg);
        return;
    }
    nng_aio_set_msg(c->aio, msg);
    c->state = INGEST_SEND;
    nng_ctx_send(c->ctx, c->aio);
    pthread_mutex_unlock(&c->in->mu);
    return;
fail:
    /* No memory for a reply: the agent times out and resends, which is safe. */
    c->state = INGEST_RECV;
    nng_ctx_recv(c->ctx, c->aio);
}

/* Writer thread: the frame is durable (or refused); answer the agent. */
static void
ingest_written(pw_write_req *r)
{
    ingest_ctx *c = r->arg;

    pw_frame_release(&r->frame);
    /* Given back before the ack leaves: an agent that sends its next frame
     * as soon as it reads the ack must not find these bytes still counted. */
    atomic_fetch_sub(&c->in->stats->inflight_bytes, c->charged);
    c->charged = 0;
    ingest_send_ack(c, &r->ack);
}

/*
 * The memory a decoded frame holds until it is answered: its series,
 * labels, dictionary strings and samples (wire_decode.c allocates exactly
 * these, in two blocks). At least 1, so that "nothing in flight" means no frame.
 */
static uint64_t
ingest_frame_bytes(const pw_frame *f)
{
    uint64_t n = f->dict_len + (uint64_t) f->nseries * sizeof *f->series
                 + (uint64_t) f->nsamples * sizeof *f->samples;

    for (size_t i = 0; i < f->nseries; i++)
        n += (uint64_t) f->series[i].nlabels * sizeof(pw_label);
    return n > 0 ? n : 1;
}

/*
 * Takes bytes from the budget: true if they fit next to what is in flight,
 * or if nothing is (one frame always passes, however big). Lock-free: NNG
 * threads take, the writer thread gives back.
 */
static bool
ingest_budget_take(pw_ingest *in, uint64_t bytes)
{
    atomic_uint_fast64_t *inflight = &in->stats->inflight_bytes;
    uint_fast64_t         cur = atomic_load(inflight);

    do {
        if (cur > 0 && (cur >= in->budget || bytes > in->budget - cur))
            return false;
    } while (!atomic_compare_exchange_weak(inflight, &cur, cur + bytes));
    return true;
}

/* The frame does not fit in the budget: free it now and ask the agent to send it again later. */
static void
ingest_over_budget(ingest_ctx *c, uint64_t bytes)
{
    pw_ingest *in = c->in;
    pw_ack     ack = { .seq = c->req.frame.hdr.seq, .status = PW_ACK_RETRY };
    uint64_t   inflight = atomic_load(&in->stats->inflight_bytes);
    uint64_t   n = atomic_fetch_add(&in->budget_logged, 1);

    ack.retry_ms = INGEST_BUDGET_RETRY_MS + (uint32_t) (n * 7919u % INGEST_BUDGET_RETRY_SPREAD);
    snprintf(ack.msg, sizeof ack.msg, "collector busy: frames in flight over --max-inflight-bytes");
    atomic_fetch_add(&in->stats->frames_over_budget, 1);
    atomic_fetch_add(&in->stats->frames_retry, 1);
    /* First 20, then every 1000th: an overload must not flood the log as well. */
    if (n < 20 || n % 1000 == 0)
        pw_warn("frame seq %llu from %s answered retry-later: its %llu bytes decoded do not fit "
                "next to the %llu in flight (--max-inflight-bytes %llu); the agent keeps it "
                "spooled [%llu so far]", (unsigned long long) ack.seq, c->req.frame.hdr.agent_id,
                (unsigned long long) bytes, (unsigned long long) inflight,
                (unsigned long long) in->budget, (unsigned long long) n + 1);
    pw_frame_release(&c->req.frame);
    ingest_send_ack(c, &ack);
}

static void
ingest_reject(ingest_ctx *c, pw_err rc, const char *why)
{
    pw_ingest *in = c->in;
    pw_ack     ack = { .seq = c->req.frame.hdr.seq };

    if (rc == PW_EVERSION) {
        ack.status = PW_ACK_UNSUPPORTED;
        ack.retry_ms = 600000;
        atomic_fetch_add(&in->stats->frames_unsupported, 1);
    } else {
        ack.status = PW_ACK_REJECTED;
        atomic_fetch_add(&in->stats->frames_rejected, 1);
    }
    snprintf(ack.msg, sizeof ack.msg, "%s", why);
    /* First 20 rejects, then every 1000th: a flood must not flood the log. */
    {
        uint64_t n = atomic_fetch_add(&in->reject_logged, 1);
        if (n < 20 || n % 1000 == 0)
            pw_warn("frame %s (%s): %s [%llu so far]", rc == PW_EVERSION ? "unsupported" : "rejected",
                    pw_strerror(rc), why, (unsigned long long) n + 1);
    }
    ingest_send_ack(c, &ack);
}

/*
 * On TLS: true if the decoded frame's agent id is the CN of the certificate
 * its connection was verified with. Otherwise answers REJECTED, releases the
 * frame and returns false. A frame whose connection has no certificate on
 * record (closed meanwhile) is refused too: identity is never assumed.
 */
static bool
ingest_identity_ok(ingest_ctx *c, nng_pipe pipe)
{
    pw_ingest  *in = c->in;
    const char *agent = c->req.frame.hdr.agent_id;
    char        cn[PW_TLS_MAX_CN + 1], peer[64];
    pw_ack      ack = { .seq = c->req.frame.hdr.seq, .status = PW_ACK_REJECTED };
    uint64_t    n;

    if (pw_tls_peer_cn(pipe, cn, sizeof cn) == PW_OK) {
        if (strcmp(cn, agent) == 0)
            return true;
        /* Both ids may be 128 bytes; cut to fit the ack's 255. */
        snprintf(ack.msg, sizeof ack.msg,
                 "identity mismatch: certificate CN=%.100s, frame agent=%.100s", cn, agent);
    } else {
        snprintf(ack.msg, sizeof ack.msg, "identity unknown: no verified certificate on record for "
                 "this connection, frame agent=%s", agent);
    }
    atomic_fetch_add(&in->stats->frames_identity_rejected, 1);
    atomic_fetch_add(&in->stats->frames_rejected, 1);
    /* First 20, then every 1000th: an impostor must not flood the log. */
    n = atomic_fetch_add(&in->identity_logged, 1);
    if (n < 20 || n % 1000 == 0) {
        pw_tls_pipe_addr(pipe, peer, sizeof peer);
        pw_warn("frame seq %llu from %s rejected: %s [%llu so far]",
                (unsigned long long) ack.seq, peer, ack.msg, (unsigned long long) n + 1);
    }
    pw_frame_release(&c->req.frame);
    ingest_send_ack(c, &ack);
    return false;
}

static void
ingest_received(ingest_ctx *c)
{
    pw_ingest *in = c->in;
    nng_msg   *msg = nng_aio_get_msg(c->aio);
    nng_pipe   pipe = nng_msg_get_pipe(msg);
    char       err[256];
    uint64_t   bytes;
    pw_err     rc;

    nng_aio_set_msg(c->aio, NULL);
    atomic_fetch_add(&in->stats->frames_received, 1);
    atomic_fetch_add(&in->stats->bytes_received, nng_msg_len(msg));
    rc = pw_wire_decode(nng_msg_body(msg), nng_msg_len(msg), &c->req.frame, err, sizeof err);
    nng_msg_free(msg);
    if (rc != PW_OK) {
        ingest_reject(c, rc, err);
        return;
    }
    if (in->tls && !ingest_identity_ok(c, pipe))
        return;
    bytes = ingest_frame_bytes(&c->req.frame);
    if (!ingest_budget_take(in, bytes)) {
        ingest_over_budget(c, bytes);
        return;
    }
    c->charged = bytes;
    if (c->req.frame.nonfinite > 0)
        atomic_fetch_add(&in->stats->samples_nonfinite, c->req.frame.nonfinite);
    if (c->req.frame.unknown_keys > 0)
        atomic_fetch_add(&in->stats->unknown_keys, c->req.frame.unknown_keys);
    c->req.recv_ms = pw_now_ms();
    c->state = INGEST_WRITE;
    pw_writer_submit(in->writer, &c->req);
}

static void
ingest_cb(void *arg)
{
    ingest_ctx *c = arg;
    int         rv = nng_aio_result(c->aio);

    switch (c->state) {
    case INGEST_RECV:
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            return;                               /* shutting down */
        if (rv != 0) {
            nng_ctx_recv(c->ctx, c->aio);
            return;
        }
        ingest_received(c);
        return;
    case INGEST_SEND:
        if (rv != 0) {
            /* Peer gone: nobody to answer, and the frame is already handled. */
            nng_msg_free(nng_aio_get_msg(c->aio));
            nng_aio_set_msg(c->aio, NULL);
        }
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            return;
        c->state = INGEST_RECV;
        nng_ctx_recv(c->ctx, c->aio);
        return;
    case INGEST_WRITE:
        return;                                   /* the writer calls ingest_written */
    }
}

/* On TLS: the listener's config from the three files (caller frees *cfg). */
static pw_err
ingest_tls_config(const pw_ingest_opts *opts, nng_tls_config **cfg, char *errbuf, size_t errlen)
{
    pw_tls_files     files = { .ca = opts->tls_ca, .cert = opts->tls_cert, .key = opts->tls_key };
    pw_tls_cert_info cert;
    pw_err           rc;

    *cfg = NULL;
    if (!pw_tls_url(opts->url)) {
        if (opts->tls_ca != NULL || opts->tls_cert != NULL || opts->tls_key != NULL) {
            snprintf(errbuf, errlen, "--tls-ca, --tls-cert and --tls-key need --listen "
                     "tls+tcp://ADDRESS:PORT (it is %s)", opts->url);
            return PW_EINVAL;
        }
        if (!pw_url_is_local(opts->url))
            pw_warn("listening on %s without TLS: frames travel unencrypted and any client can claim "
                    "to be any agent; use tls+tcp:// with --tls-ca, --tls-cert and --tls-key "
                    "(deploy/README.md)", opts->url);
        return PW_OK;
    }
    if ((rc = pw_tls_config_new(PW_TLS_SERVER, &files, NULL, cfg, &cert, errbuf, errlen)) != PW_OK)
        return rc;
    pw_info("TLS: collector certificate CN=%s serial %s valid until %s; agents must present a "
            "certificate from %s whose CN is their agent id", cert.cn[0] ? cert.cn : "(none)",
            cert.serial, cert.not_after, opts->tls_ca);
    return PW_OK;
}

/* A listener on in->url with tls (NULL on tcp://), started. 0 or an NNG code. */
static int
ingest_listen(pw_ingest *in, nng_tls_config *tls, nng_listener *out)
{
    nng_listener l;
    int          rv;

    /* The listener takes its own hold on the TLS config. */
    if ((rv = nng_listener_create(&l, in->sock, in->url)) != 0)
        return rv;
    if ((tls != NULL && (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls)) != 0)
        || (rv = nng_listener_start(l, 0)) != 0) {
        nng_listener_close(l);
        return rv;
    }
    *out = l;
    return 0;
}

pw_err
pw_ingest_reload_tls(pw_ingest *in, const pw_ingest_opts *opts, char *errbuf, size_t errlen)
{
    nng_tls_config *tls = NULL;
    nng_listener    l;
    pw_err          rc;
    int             rv;

    if (!in->tls) {
        snprintf(errbuf, errlen, "listening on plain %s: no TLS files to reload", in->url);
        return PW_EINVAL;
    }
    /* Files first: unusable ones change nothing. */
    if ((rc = ingest_tls_config(opts, &tls, errbuf, errlen)) != PW_OK)
        return rc;
    /*
     * NNG cannot change a started listener's TLS config: close it (its
     * connections go with it, so revoked agents are cut off too) and listen
     * again. Agents redial by themselves and resend the frame they had in
     * flight; dedupe drops a copy that was stored. The contexts belong to
     * the socket and keep receiving.
     */
    nng_listener_close(in->listener);
    if ((rv = ingest_listen(in, tls, &l)) != 0) {
        int again = ingest_listen(in, in->tls_cfg, &l);

        snprintf(errbuf, errlen, "cannot listen on %s with the new files: %s; %s", in->url,
                 nng_strerror(rv), again == 0 ? "listening with the old ones again"
                                              : "NOT LISTENING: restart the collector");
        nng_tls_config_free(tls);
        if (again == 0)
            in->listener = l;
        return PW_ENET;
    }
    in->listener = l;
    nng_tls_config_free(in->tls_cfg);
    in->tls_cfg = tls;
    return PW_OK;
}

pw_err
pw_ingest_start(const pw_ingest_opts *opts, pw_writer *writer, pw_collector_stats *stats,
                pw_ingest **out, char *errbuf, size_t errlen)
{
    pw_ingest      *in;
    nng_tls_config *tls = NULL;
    nng_listener    l;
    pw_err          rc;
    int             rv;

    *out = NULL;
    if ((rc = ingest_tls_config(opts, &tls, errbuf, errlen)) != PW_OK)
        return rc;
    rc = PW_ENOMEM;
    if ((in = calloc(1, sizeof *in)) == NULL)
        goto fail;
    pthread_mutex_init(&in->mu, NULL);
    in->writer = writer;
    in->stats = stats;
    in->budget = opts->max_inflight_bytes > 0 ? opts->max_inflight_bytes : 1;
    in->tls = tls != NULL;
    if ((rv = nng_rep0_open(&in->sock)) != 0) {
        snprintf(errbuf, errlen, "NNG: %s", nng_strerror(rv));
        rc = PW_ENET;
        goto fail;
    }
    /* Frames up to the wire limit; NNG's 1 MiB default would cut big hypervisors. */
    nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, PW_WIRE_MAX_FRAME);
    if ((in->ctxs = calloc(opts->contexts, sizeof *in->ctxs)) == NULL)
        goto fail;
    for (size_t i = 0; i < opts->contexts; i++) {
        ingest_ctx *c = &in->ctxs[i];

        c->in = in;
        c->req.done = ingest_written;
        c->req.arg = c;
        in->nctxs = i + 1;
        if ((rv = nng_aio_alloc(&c->aio, ingest_cb, c)) != 0
            || (rv = nng_ctx_open(&c->ctx, in->sock)) != 0) {
            snprintf(errbuf, errlen, "NNG: %s", nng_strerror(rv));
            rc = PW_ENET;
            goto fail;
        }
    }
    snprintf(in->url, sizeof in->url, "%s", opts->url);
    if ((rv = ingest_listen(in, tls, &l)) != 0) {
        snprintf(errbuf, errlen, "cannot listen on %s: %s", opts->url, nng_strerror(rv));
        rc = rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? PW_EINVAL : PW_ENET;
        goto fail;
    }
    in->listener = l;
    in->tls_cfg = tls;                  /* our hold, kept for a reload that fails */
    tls = NULL;
    for (size_t i = 0; i < in->nctxs; i++) {
        in->ctxs[i].state = INGEST_RECV;
        nng_ctx_recv(in->ctxs[i].ctx, in->ctxs[i].aio);
    }
    *out = in;
    return PW_OK;
fail:
    pw_ingest_stop(in);                 /* copes with any step above undone */
    if (tls != NULL)
        nng_tls_config_free(tls);
    return rc;
}

void
pw_ingest_pause(pw_ingest *in)
{
    if (in == NULL)
        return;
    pthread_mutex_lock(&in->mu);
    in->paused = true;
    pthread_mutex_unlock(&in->mu);
    /* Cancels pending receives and waits for callbacks in progress. Contexts
     * whose frame sits with the writer are idle here; their later send fails
     * with NNG_ECANCELED, and the agent, unanswered, resends (a duplicate). */
    for (size_t i = 0; i < in->nctxs; i++)
        if (in->ctxs[i].aio != NULL)
            nng_aio_stop(in->ctxs[i].aio);
}

void
pw_ingest_stop(pw_ingest *in)
{
    if (in == NULL)
        return;
    pw_ingest_pause(in);
    nng_close(in->sock);
    if (in->tls_cfg != NULL)
        nng_tls_config_free(in->tls_cfg);
    for (size_t i = 0; i < in->nctxs; i++)
        if (in->ctxs[i].aio != NULL)
            nng_aio_free(in->ctxs[i].aio);
    free(in->ctxs);
    pthread_mutex_destroy(&in->mu);
    free(in);
}
