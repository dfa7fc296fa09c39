/*
 * https_client.h - the one way poolwatch's HTTP clients (the CLI's --api,
 * cli_api.c; the alert notifications, notify_send.c) check the server they
 * talk to over https.
 */
#ifndef PW_HTTPS_CLIENT_H
#define PW_HTTPS_CLIENT_H

#include <stdbool.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

/* The CA bundle used when the user names none (Debian's ca-certificates). */
#define PW_HTTPS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

/*
 * Makes cli verify the server: its certificate must chain to ca_file (PEM)
 * and hold host as a DNS name (mbed TLS does not match IP addresses). Always
 * verified: a token or an alert sent to whoever answers is given away.
 * Returns 0 or an NNG error; *bad_ca tells whether it was ca_file that could
 * not be used (false otherwise). cli keeps its own reference to the config.
 */
int pw_https_verify(nng_http_client *cli, const char *host, const char *ca_file, bool *bad_ca);

#endif
