/* https_client.c - server verification for poolwatch's HTTP clients; see https_client.h. */
#include "https_client.h"

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
