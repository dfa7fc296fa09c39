/* https_client.c - poolwatch's HTTP(S) client requests and server checks; see https_client.h. */
#include "https_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/supplemental/tls/tls.h>

int
pw_https_verify(nng_http_client *cli, const char *host, const char *ca_file, bool *bad_ca)
{
    nng_tls_config *cfg = NULL;
    int             rv;

    *bad_ca = false;
    if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0)
        return rv;
    if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0
        || (rv = nng_tls_config_server_name(cfg, host)) != 0)
        goto out;
    if ((rv = nng_tls_config_ca_file(cfg, ca_file)) != 0) {
        *bad_ca = true;
        goto out;
    }
    rv = nng_http_client_set_tls(cli, cfg);
out:
    nng_tls_config_free(cfg);
    return rv;
}

/* Runs one operation on aio and waits for it; NNG's result code. */
#define HC_WAIT(aio, call) ((call), nng_aio_wait(aio), nng_aio_result(aio))

/* Reads the body the head announced, up to r->max_body. */
static int
hc_body(const pw_http_request *r, pw_http_answer *a, nng_http_conn *conn, nng_http_res *res,
        nng_aio *aio)
{
    const char        *clen = nng_http_res_get_header(res, "Content-Length");
    char              *end;
    unsigned long long len;
    int                rv;

    errno = 0;
    len = clen != NULL ? strtoull(clen, &end, 10) : 0;
    if (clen == NULL || errno != 0 || end == clen || *end != '\0') {
        a->stage = PW_HTTP_LENGTH;
        return NNG_EPROTO;
    }
    if (len > r->max_body) {
        a->stage = PW_HTTP_TOO_BIG;
        a->declared = len;
        return NNG_EMSGSIZE;
    }
    a->stage = PW_HTTP_BODY;
    if ((a->body = malloc((size_t) len + 1)) == NULL)
        return NNG_ENOMEM;
    if (len > 0) {
        nng_iov iov = { .iov_buf = a->body, .iov_len = (size_t) len };

        if ((rv = nng_aio_set_iov(aio, 1, &iov)) != 0
            || (rv = HC_WAIT(aio, nng_http_conn_read_all(conn, aio))) != 0)
            return rv;
    }
    a->body[len] = '\0';
    a->len = (size_t) len;
    return 0;
}

int
pw_http_call(const pw_http_request *r, pw_http_answer *a)
{
    nng_http_client *cli = NULL;
    nng_http_conn   *conn = NULL;
    nng_http_req    *req = NULL;
    nng_http_res    *res = NULL;
    nng_aio         *aio = NULL;
    int              rv;

    memset(a, 0, sizeof *a);
    a->stage = PW_HTTP_SETUP;
    if ((rv = nng_http_client_alloc(&cli, r->url)) != 0 || (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0
        || (rv = nng_http_req_alloc(&req, r->url)) != 0 || (rv = nng_http_res_alloc(&res)) != 0
        || (rv = nng_http_req_set_method(req, r->method)) != 0)
        goto out;
    for (size_t i = 0; r->headers != NULL && r->headers[i] != NULL; i += 2)
        if ((rv = nng_http_req_set_header(req, r->headers[i], r->headers[i + 1])) != 0)
            goto out;
    if (r->body != NULL && (rv = nng_http_req_copy_data(req, r->body, r->body_len)) != 0)
        goto out;
    if (strcmp(r->url->u_scheme, "https") == 0) {
        a->stage = PW_HTTP_TLS;
        if ((rv = pw_https_verify(cli, r->url->u_hostname,
                 r->ca_file != NULL ? r->ca_file : PW_HTTPS_SYSTEM_CA, &a->bad_ca)) != 0)
            goto out;
    }
    a->stage = PW_HTTP_CONNECT;
    nng_aio_set_timeout(aio, r->connect_ms);
    if ((rv = HC_WAIT(aio, nng_http_client_connect(cli, aio))) != 0)
        goto out;
    conn = nng_aio_get_output(aio, 0);
    a->stage = PW_HTTP_EXCHANGE;
    nng_aio_set_timeout(aio, r->io_ms);
    if ((rv = HC_WAIT(aio, nng_http_conn_write_req(conn, req, aio))) != 0
        || (rv = HC_WAIT(aio, nng_http_conn_read_res(conn, res, aio))) != 0)
        goto out;
    a->status = nng_http_res_get_status(res);
    snprintf(a->reason, sizeof a->reason, "%s", nng_http_res_get_reason(res));
    /* read_res reads the head only: the body, if wanted, is read here. */
    if (r->read_body && (rv = hc_body(r, a, conn, res, aio)) != 0)
        goto out;
    a->stage = PW_HTTP_DONE;
out:
    if (rv != 0) {
        free(a->body);
        a->body = NULL;
        a->len = 0;
    }
    /* NNG's free functions do not all take NULL. */
    if (conn != NULL)
        nng_http_conn_close(conn);
    if (res != NULL)
        nng_http_res_free(res);
    if (req != NULL)
        nng_http_req_free(req);
    if (aio != NULL)
        nng_aio_free(aio);
    if (cli != NULL)
        nng_http_client_free(cli);
    return rv;
}
