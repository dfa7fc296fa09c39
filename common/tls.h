/*
 * tls.h - mutual TLS between agents and the collector (NNG tls+tcp://).
 *
 * Both ends present a certificate and verify the other's against one CA:
 * the agent checks the collector's certificate and its name (the host of
 * the --collector URL), the collector requires a client certificate whose
 * CN is the agent id, and refuses frames that claim another agent.
 *
 * Why this module carries its own TLS engine: NNG 1.5 (Debian 12) verifies
 * peers but cannot tell an application *who* the peer is (NNG_OPT_TLS_PEER_CN
 * arrived in 1.6), and its built-in mbed TLS engine keeps the certificate to
 * itself. So pw_tls_init registers an engine of ours with NNG - the same
 * mbed TLS library, the same settings as NNG's (TLS 1.2, mbed TLS default
 * suites), through NNG's public engine interface - which also records, for
 * each server-side connection that completed a verified handshake, the
 * certificate's CN under the connection's (local, remote) address pair.
 * pw_tls_peer_cn finds it again from a pipe's NNG_OPT_LOCADDR/REMADDR.
 * The engine also logs why a handshake failed (expired, unknown CA, wrong
 * name), which NNG 1.5 does not report anywhere.
 *
 * Process-wide: one engine, registered once, used by every TLS config made
 * after it. Thread-safe: engine callbacks run on NNG's threads.
 */
#ifndef PW_TLS_H
#define PW_TLS_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdbool.h>
#include <stddef.h>

#include "pw_err.h"

/* Longest CN we accept: an agent id (wire.h, PW_WIRE_MAX_AGENT_ID). */
#define PW_TLS_MAX_CN 128

typedef enum pw_tls_role {
    PW_TLS_CLIENT,   /* the agent: dials, verifies the server's name */
    PW_TLS_SERVER,   /* the collector: listens, requires client certificates */
} pw_tls_role;

/* PEM files, as given by --tls-ca, --tls-cert, --tls-key. */
typedef struct pw_tls_files {
    const char *ca;     /* CA certificate(s) peers must chain to; may hold a CRL too */
    const char *cert;   /* our certificate (chain) */
    const char *key;    /* its private key, unencrypted */
} pw_tls_files;

/* About our own certificate, for identity and log lines. */
typedef struct pw_tls_cert_info {
    char cn[PW_TLS_MAX_CN + 1];   /* subject CN; "" if it has none or not exactly one */
    char serial[80];              /* "3A:5F:..." */
    char not_after[24];           /* "2027-11-26T06:56:51Z" */
} pw_tls_cert_info;

/*
 * Registers poolwatch's TLS engine with NNG; call once before any TLS
 * config is made or any tls+tcp:// URL is dialed or listened on (later
 * calls do nothing). PW_EVERSION if the NNG library at run time is not the
 * 1.5 series this engine is written for (see above); errbuf says so.
 */
pw_err pw_tls_init(char *errbuf, size_t errlen);

/* True if url uses NNG's TLS transport (tls+tcp://, tls+tcp4://, tls+tcp6://). */
bool pw_tls_url(const char *url);

/*
 * True if url can only be reached from this machine: a loopback address
 * (127.0.0.0/8, ::1), "localhost", or a non-network transport (ipc://,
 * inproc://). False for wildcards (0.0.0.0, *, empty host), other
 * addresses and names. Plain tcp:// is only safe when this is true.
 */
bool pw_url_is_local(const char *url);

/*
 * Reads and checks the three files and builds an NNG TLS config for role:
 * peers must present a certificate that chains to files->ca (required for
 * clients too); server_name (clients only, NULL for servers) is the name
 * the server's certificate must carry - the URL's host. Errors name the
 * option and the file: missing or unreadable (PW_EIO), not PEM, key
 * encrypted, key not matching the certificate (PW_EINVAL). An expired or
 * not-yet-valid certificate, one that does not chain to the CA, or a key
 * file others can read are logged as warnings, not refused: an agent must
 * keep spooling until its certificate is renewed.
 * *out is owned by the caller: nng_tls_config_free once it has been set on
 * a dialer or listener (which take their own hold). info may be NULL.
 */
pw_err pw_tls_config_new(pw_tls_role role, const pw_tls_files *files, const char *server_name,
                         nng_tls_config **out, pw_tls_cert_info *info, char *errbuf,
                         size_t errlen);

/*
 * The verified certificate CN of the agent at the other end of pipe p (a
 * pipe of a listener whose TLS config came from pw_tls_config_new with
 * PW_TLS_SERVER). PW_ENOENT if the pipe is gone, is not TLS or has no
 * verified certificate on record.
 */
pw_err pw_tls_peer_cn(nng_pipe p, char *cn, size_t cnlen);

/* The remote address of pipe p ("10.0.0.5:43210", "[::1]:5000"), for log lines. */
void pw_tls_pipe_addr(nng_pipe p, char *buf, size_t len);

#endif
