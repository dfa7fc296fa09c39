/*
 * shipper.c - spool -> NNG req0 -> ack -> spool; see shipper.h.
 *
 * States: IDLE (nothing in flight), SENDING, WAITING (for the reply),
 * BACKOFF (timer armed after a failure). Transitions happen on the loop
 * thread only: ship_aio_cb runs on an NNG thread and just wakes the loop.
 * The NNG side (socket, context, aio) is one ship_conn, so a reconnect can
 * build a new one before it lets go of the old.
 */
#include "shipper.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wire.h"

typedef enum ship_state { SHIP_IDLE, SHIP_SENDING, SHIP_WAITING, SHIP_BACKOFF, SHIP_CLOSED } ship_state;

typedef struct ship_conn {
    nng_socket sock;
    nng_ctx    ctx;
    nng_aio   *aio;
} ship_conn;

struct pw_shipper {
    uv_loop_t        *loop;
    pw_spool         *spool;
    pw_shipper_opts   opts;      /* opts.url points at url; opts.tls is not kept */
    ship_conn         conn;
    uv_async_t        wake;      /* NNG thread -> loop: the aio completed */
    uv_timer_t        timer;     /* backoff */
    int               handles;   /* loop handles still open, for close */
    atomic_int        done;      /* set by ship_aio_cb */
    ship_state        state;
    uint64_t          key;       /* spool key of the frame in flight */
    uint64_t          seq;
    int64_t           backoff_ms;
    uint64_t          fail_streak;
    pw_shipper_stats  stats;
    char              url[512];
};

static void ship_next(pw_shipper *sh);

/* Waits for a callback in progress: after this no NNG thread touches c. */
static void
ship_conn_close(ship_conn *c)
{
    if (c->aio != NULL) {
        nng_aio_stop(c->aio);
        nng_msg_free(nng_aio_get_msg(c->aio));
        nng_aio_free(c->aio);
        c->aio = NULL;
    }
    nng_close(c->sock);
}

static void
ship_aio_cb(void *arg)
{
    pw_shipper *sh = arg;

    atomic_store(&sh->done, 1);
    uv_async_send(&sh->wake);
}

static void
ship_backoff_cb(uv_timer_t *t)
{
    pw_shipper *sh = t->data;

    if (sh->state == SHIP_BACKOFF) {
        sh->state = SHIP_IDLE;
        ship_next(sh);
    }
}

/* Something failed: wait, then try the same frame again. */
static void
ship_fail(pw_shipper *sh, int64_t hint_ms, const char *why)
{
    int64_t wait = hint_ms > 0 ? hint_ms : sh->backoff_ms;

    /* Log the first failure of a streak, then only every 100th, so a long
     * outage does not flood the log. */
    if (sh->fail_streak++ % 100 == 0)
        pw_warn("collector %s: %s; %llu frame(s) spooled, retrying in %lld ms%s", sh->url, why,
                (unsigned long long) pw_spool_count(sh->spool), (long long) wait,
                sh->fail_streak > 1 ? " (repeated failures)" : "");
    sh->stats.up = 0;
    sh->backoff_ms = sh->backoff_ms * 2 > sh->opts.backoff_max_ms ? sh->opts.backoff_max_ms
                                                                  : sh->backoff_ms * 2;
    sh->state = SHIP_BACKOFF;
    uv_timer_start(&sh->timer, ship_backoff_cb, (uint64_t) wait, 0);
}

static void
ship_succeeded(pw_shipper *sh)
{
    if (sh->fail_streak > 0)
        pw_info("collector %s: delivering again after %llu failed attempt(s)", sh->url,
                (unsigned long long) sh->fail_streak);
    sh->fail_streak = 0;
    sh->stats.up = 1;
    sh->backoff_ms = sh->opts.backoff_min_ms;
}

static void
ship_handle_ack(pw_shipper *sh, nng_msg *msg)
{
    pw_ack ack;
    char   why[PW_WIRE_MAX_ACK_MSG + 64];

    if (pw_wire_decode_ack(nng_msg_body(msg), nng_msg_len(msg), &ack) != PW_OK) {
        sh->stats.errors++;
        ship_fail(sh, 0, "malformed ack");
        return;
    }
    /* A collector that could not read our frame may not know its seq (0);
     * req0 already matched the reply to our request. */
    if (ack.seq != sh->seq
        && !(ack.seq == 0 && (ack.status == PW_ACK_REJECTED || ack.status == PW_ACK_UNSUPPORTED))) {
        sh->stats.errors++;
        snprintf(why, sizeof why, "ack for seq %llu, expected %llu",
                 (unsigned long long) ack.seq, (unsigned long long) sh->seq);
        ship_fail(sh, 0, why);
        return;
    }
    switch (ack.status) {
    case PW_ACK_STORED:
    case PW_ACK_DUPLICATE:
        if (ack.status == PW_ACK_STORED)
            sh->stats.stored++;
        else
            sh->stats.duplicate++;
        pw_spool_remove(sh->spool, sh->key);
        ship_succeeded(sh);
        sh->state = SHIP_IDLE;
        ship_next(sh);
        return;
    case PW_ACK_REJECTED:
        /* The collector will never take this frame: keeping it would block
         * every frame behind it. Drop it, loudly. */
        sh->stats.rejected++;
        pw_error("collector rejected frame seq %llu for good: %s", (unsigned long long) sh->seq,
                 ack.msg);
        pw_spool_remove(sh->spool, sh->key);
        ship_succeeded(sh);
        sh->state = SHIP_IDLE;
        ship_next(sh);
        return;
    case PW_ACK_RETRY:
        sh->stats.retry++;
        snprintf(why, sizeof why, "collector asks to retry later: %s", ack.msg);
        ship_fail(sh, ack.retry_ms, why);
        return;
    case PW_ACK_UNSUPPORTED:
        sh->stats.unsupported++;
        snprintf(why, sizeof why, "collector does not accept this agent's wire version: %s",
                 ack.msg);
        ship_fail(sh, ack.retry_ms > 0 ? ack.retry_ms : sh->opts.backoff_max_ms, why);
        return;
    }
}

static void
ship_wake_cb(uv_async_t *a)
{
    pw_shipper *sh = a->data;
    int         rv;
    char        why[128];

    if (!atomic_exchange(&sh->done, 0) || sh->state == SHIP_CLOSED)
        return;
    rv = nng_aio_result(sh->conn.aio);
    if (sh->state == SHIP_SENDING) {
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(sh->conn.aio));
            nng_aio_set_msg(sh->conn.aio, NULL);
            sh->stats.errors++;
            snprintf(why, sizeof why, "send failed: %s", nng_strerror(rv));
            ship_fail(sh, 0, why);
            return;
        }
        sh->state = SHIP_WAITING;
        nng_ctx_recv(sh->conn.ctx, sh->conn.aio);
        return;
    }
    if (sh->state == SHIP_WAITING) {
        nng_msg *msg;

        if (rv != 0) {
            sh->stats.errors++;
            snprintf(why, sizeof why, "no ack: %s", nng_strerror(rv));
            ship_fail(sh, 0, why);
            return;
        }
        msg = nng_aio_get_msg(sh->conn.aio);
        nng_aio_set_msg(sh->conn.aio, NULL);
        ship_handle_ack(sh, msg);
        nng_msg_free(msg);
    }
}

/* If idle and the spool holds a frame, send the oldest. */
static void
ship_next(pw_shipper *sh)
{
    void    *frame;
    size_t   len;
    nng_msg *msg;
    pw_err   rc;
    int      rv;

    if (sh->state != SHIP_IDLE)
        return;
    rc = pw_spool_peek(sh->spool, &sh->key, &sh->seq, &frame, &len);
    if (rc == PW_ENOENT)
        return;
    if (rc != PW_OK) {
        sh->stats.errors++;
        ship_fail(sh, 0, "cannot read the spool");
        return;
    }
    rv = nng_msg_alloc(&msg, len);
    if (rv == 0)
        memcpy(nng_msg_body(msg), frame, len);
    free(frame);
    if (rv != 0) {
        ship_fail(sh, 0, "out of memory");
        return;
    }
    nng_aio_set_msg(sh->conn.aio, msg);
    sh->state = SHIP_SENDING;
    sh->stats.sent++;
    nng_ctx_send(sh->conn.ctx, sh->conn.aio);
}

void
pw_shipper_kick(pw_shipper *sh)
{
    ship_next(sh);
}

const pw_shipper_stats *
pw_shipper_stats_get(const pw_shipper *sh)
{
    return &sh->stats;
}

/* Socket, context, aio and a background dialer for sh->url. */
static pw_err
ship_conn_open(pw_shipper *sh, nng_tls_config *tls, ship_conn *c, char *errbuf, size_t errlen)
{
    nng_dialer d;
    int        rv;

    memset(c, 0, sizeof *c);
    if ((rv = nng_req0_open(&c->sock)) != 0)
        goto nng_fail;
    /* We resend ourselves after a timeout; NNG's own resend would put a second
     * copy in flight. (It still re-sends on a new pipe after a disconnect,
     * which the collector's dedupe makes harmless.) */
    nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, (nng_duration) sh->opts.backoff_min_ms);
    nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, (nng_duration) sh->opts.backoff_max_ms);
    nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, 65536);
    if ((rv = nng_ctx_open(&c->ctx, c->sock)) != 0)
        goto nng_fail;
    if ((rv = nng_aio_alloc(&c->aio, ship_aio_cb, sh)) != 0)
        goto nng_fail;
    nng_aio_set_timeout(c->aio, (nng_duration) sh->opts.timeout_ms);
    /* Non-blocking dial: a collector that is down now is just retried. */
    if ((rv = nng_dialer_create(&d, c->sock, sh->url)) != 0
        || (tls != NULL && (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls)) != 0)
        || (rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
        snprintf(errbuf, errlen, "collector URL %s: %s", sh->url, nng_strerror(rv));
        ship_conn_close(c);
        return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? PW_EINVAL : PW_ENET;
    }
    return PW_OK;
nng_fail:
    snprintf(errbuf, errlen, "NNG: %s", nng_strerror(rv));
    ship_conn_close(c);
    return PW_ENET;
}

pw_err
pw_shipper_new(uv_loop_t *loop, pw_spool *spool, const pw_shipper_opts *opts,
               pw_shipper **out, char *errbuf, size_t errlen)
{
    pw_shipper *sh;
    pw_err      rc;

    *out = NULL;
    if ((sh = calloc(1, sizeof *sh)) == NULL)
        return PW_ENOMEM;
    sh->loop = loop;
    sh->spool = spool;
    sh->opts = *opts;
    sh->opts.tls = NULL;
    sh->backoff_ms = opts->backoff_min_ms;
    snprintf(sh->url, sizeof sh->url, "%s", opts->url);
    sh->opts.url = sh->url;
    if ((rc = ship_conn_open(sh, opts->tls, &sh->conn, errbuf, errlen)) != PW_OK) {
        free(sh);
        return rc;
    }
    uv_async_init(loop, &sh->wake, ship_wake_cb);
    sh->wake.data = sh;
    uv_timer_init(loop, &sh->timer);
    sh->timer.data = sh;
    sh->handles = 2;
    sh->state = SHIP_IDLE;
    *out = sh;
    return PW_OK;
}

pw_err
pw_shipper_reconnect(pw_shipper *sh, nng_tls_config *tls, char *errbuf, size_t errlen)
{
    ship_conn fresh;
    pw_err    rc;

    if (sh->state == SHIP_CLOSED)
        return PW_EINVAL;
    if ((rc = ship_conn_open(sh, tls, &fresh, errbuf, errlen)) != PW_OK)
        return rc;
    /* After the close no NNG thread touches the old connection. A completion
     * it signalled already must not be read as the new aio's. */
    ship_conn_close(&sh->conn);
    atomic_store(&sh->done, 0);
    sh->conn = fresh;
    switch (sh->state) {
    case SHIP_SENDING:
    case SHIP_WAITING:
        /* Not acked, so still first in the spool: it goes out again. */
        pw_debug("frame seq %llu was in flight: resending it on the new connection",
                 (unsigned long long) sh->seq);
        sh->state = SHIP_IDLE;
        ship_next(sh);
        break;
    case SHIP_IDLE:
        ship_next(sh);
        break;
    case SHIP_BACKOFF:                  /* the timer retries */
    case SHIP_CLOSED:
        break;
    }
    return PW_OK;
}

static void
ship_closed_cb(uv_handle_t *h)
{
    pw_shipper *sh = h->data;

    if (--sh->handles == 0)
        free(sh);
}

void
pw_shipper_close(pw_shipper *sh)
{
    if (sh == NULL)
        return;
    sh->state = SHIP_CLOSED;
    ship_conn_close(&sh->conn);
    uv_timer_stop(&sh->timer);
    uv_close((uv_handle_t *) &sh->wake, ship_closed_cb);
    uv_close((uv_handle_t *) &sh->timer, ship_closed_cb);
}
