/*
 * https_client.h - poolwatch's HTTP(S) client requests, one function for
 * both callers (the CLI's --api, cli_api.c; the alert notifications,
 * notify_send.c), and the one way they check the server they talk to over
 * https. Callers keep their own messages and exit codes: the request says
 * at which stage it stopped and why.
 */
#ifndef PW_HTTPS_CLIENT_H
#define PW_HTTPS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

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

/* Where pw_http_call stopped (PW_HTTP_DONE: an answer was read). */
typedef enum pw_http_stage {
    PW_HTTP_SETUP,      /* building the request: an NNG error (NNG_ENOMEM) */
    PW_HTTP_TLS,        /* the https configuration (bad_ca: the CA file could not be used) */
    PW_HTTP_CONNECT,    /* connecting (refused, timed out, TLS handshake) */
    PW_HTTP_EXCHANGE,   /* writing the request or reading the answer's head */
    PW_HTTP_LENGTH,     /* the answer has no usable Content-Length (NNG_EPROTO) */
    PW_HTTP_TOO_BIG,    /* its Content-Length is over max_body (NNG_EMSGSIZE) */
    PW_HTTP_BODY,       /* reading the body */
    PW_HTTP_DONE,
} pw_http_stage;

/* One request. Everything borrowed for the call only. */
typedef struct pw_http_request {
    const char        *method;      /* "GET", "POST" */
    const nng_url     *url;         /* http:// or https:// */
    const char *const *headers;     /* name, value, name, value, ..., NULL; or NULL */
    const void        *body;        /* body_len bytes sent as is; NULL for none */
    size_t             body_len;
    const char        *ca_file;     /* https: PEM CA bundle; NULL: PW_HTTPS_SYSTEM_CA */
    int                connect_ms;  /* timeouts: connecting (TLS included), then each exchange */
    int                io_ms;
    bool               read_body;   /* false: the status is all the caller wants */
    size_t             max_body;    /* read_body: a larger Content-Length is PW_HTTP_TOO_BIG */
} pw_http_request;

typedef struct pw_http_answer {
    pw_http_stage      stage;       /* where it stopped */
    int                status;      /* HTTP status once the head was read, else 0 */
    char               reason[128]; /* its reason phrase */
    char              *body;        /* read_body and DONE: len bytes + NUL; malloc'd, caller frees */
    size_t             len;
    unsigned long long declared;    /* TOO_BIG: the Content-Length */
    bool               bad_ca;      /* TLS: it was the CA file */
} pw_http_answer;

/*
 * Sends r and reads the answer on a connection of its own (closed before
 * returning; "Connection: close" is the caller's header to send). Returns 0
 * when a whole answer was read (any status: a 4xx is an answer), else an
 * NNG error code with a->stage telling where. a->body is set only on 0 with
 * read_body; free it in every case (NULL otherwise).
 */
int pw_http_call(const pw_http_request *r, pw_http_answer *a);

#endif
