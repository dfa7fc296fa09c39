/*
 * shipper.h - sends spooled frames to the collector over NNG req0.
 *
 * Stop-and-wait: one frame in flight, oldest first, so the collector can
 * dedupe on "seq <= last stored seq for this (agent, boot)". A frame leaves
 * the spool only on an ack saying stored or duplicate (or rejected for good).
 * Failures back off exponentially (--backoff-min .. --backoff-max); NNG
 * redials on its own, also with backoff.
 *
 * NNG completes its aios on its own threads; the shipper hands each
 * completion to the libuv loop through a uv_async_t, so all shipper state is
 * touched by the loop thread only.
 *
 * With a tls+tcp:// URL the dialer uses the TLS config given (common/tls.h):
 * the collector's certificate and name are verified, ours is presented.
 * pw_shipper_reconnect swaps in a new config (certificate rotation) by
 * replacing the socket; the spool is untouched, so nothing is lost.
 */
#ifndef PW_SHIPPER_H
#define PW_SHIPPER_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdint.h>
#include <uv.h>

#include "pw_err.h"
#include "spool.h"

typedef struct pw_shipper pw_shipper;

typedef struct pw_shipper_opts {
    const char *url;           /* tcp://127.0.0.1:7410 or tls+tcp://collector:7410 */
    nng_tls_config *tls;       /* for tls+tcp://, else NULL; borrowed (the dialer takes a hold) */
    int64_t     timeout_ms;    /* per send and per reply wait */
    int64_t     backoff_min_ms;
    int64_t     backoff_max_ms;
} pw_shipper_opts;

typedef struct pw_shipper_stats {
    uint64_t sent;             /* frames handed to NNG */
    uint64_t stored;           /* acked stored */
    uint64_t duplicate;        /* acked duplicate */
    uint64_t rejected;         /* acked rejected: dropped for good */
    uint64_t retry;            /* acked retry-later (collector disk full, ...) */
    uint64_t unsupported;      /* collector does not speak our version */
    uint64_t errors;           /* timeouts, transport errors, bad acks */
    int      up;               /* last exchange succeeded */
} pw_shipper_stats;

/*
 * Creates the shipper on loop, dialing opts->url in the background (a
 * collector that is down is not an error). spool stays owned by the caller
 * and must outlive the shipper. *out is owned by the caller: pw_shipper_close.
 * PW_EINVAL: bad URL; PW_ENET: NNG failure.
 */
pw_err pw_shipper_new(uv_loop_t *loop, pw_spool *spool, const pw_shipper_opts *opts,
                      pw_shipper **out, char *errbuf, size_t errlen);

/*
 * Closes the connection and dials again with tls (borrowed, as in
 * pw_shipper_opts; NULL keeps plain tcp://). A frame in flight is resent
 * on the new connection (the collector's dedupe makes a second copy
 * harmless); a pending backoff is kept. Builds the new socket before
 * dropping the old one: on failure (PW_ENET, errbuf says why) the old
 * connection stays in use.
 */
pw_err pw_shipper_reconnect(pw_shipper *sh, nng_tls_config *tls, char *errbuf, size_t errlen);

/* The spool has something new: send it if nothing is in flight. */
void pw_shipper_kick(pw_shipper *sh);

const pw_shipper_stats *pw_shipper_stats_get(const pw_shipper *sh);

/*
 * Stops sending, waits for the in-flight NNG operation to finish, closes the
 * socket and the loop handles; frees sh once the loop has closed them.
 * Unacked frames stay in the spool.
 */
void pw_shipper_close(pw_shipper *sh);

#endif
