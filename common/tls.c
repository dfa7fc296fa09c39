/*
 * tls.c - poolwatch's TLS engine for NNG, the table of verified peers, and
 * TLS configs built from PEM files with clear errors; see tls.h.
 *
 * The engine follows NNG 1.5.2's own mbed TLS engine
 * (src/supplemental/tls/mbedtls/tls.c, MIT) closely - same library, same
 * protocol versions and defaults - so replacing it changes nothing on the
 * wire. What it adds: the peer's CN recorded at the end of a server-side
 * handshake, and a log line saying why a handshake failed.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/supplemental/tls/engine.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <mbedtls/version.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "log.h"

/*
 * Two things below hold for NNG 1.5 only: its engine interface (version 1),
 * and that the context pointer NNG hands an engine connection is NNG's TLS
 * stream itself (tls_common.c: tls_start passes the tls_conn, whose first
 * member is its nng_stream). From NNG 1.6 on, NNG_OPT_TLS_PEER_CN gives the
 * peer's CN directly and this engine should go.
 */
#if NNG_MAJOR_VERSION != 1 || NNG_MINOR_VERSION != 5
#error "common/tls.c is written for NNG 1.5 (Debian 12); newer NNG: use NNG_OPT_TLS_PEER_CN"
#endif
#if MBEDTLS_VERSION_MAJOR != 2
#error "common/tls.c is written for mbed TLS 2.x, the version NNG 1.5 uses (Debian 12: 2.28)"
#endif

#define TLS_MAX_PEM        (1u << 20)     /* a CA bundle with a CRL, generously */
#define TLS_PEER_BUCKETS   1024
#define TLS_LOG_FIRST      20             /* handshake failures logged in full ... */
#define TLS_LOG_EVERY      1000           /* ... then one in this many */

/* ---- the engine ------------------------------------------------------ */

typedef struct tls_pair tls_pair;

/* An own certificate and its key; a server may have several. */
struct tls_pair {
    mbedtls_x509_crt   crt;
    mbedtls_pk_context key;
    tls_pair          *next;
};

struct nng_tls_engine_config {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt   ca;
    mbedtls_x509_crl   crl;
    tls_pair          *pairs;
    char              *server_name;    /* client: name the server's certificate must carry */
    bool               server;
};

struct nng_tls_engine_conn {
    void               *tls;           /* NNG's connection: for nng_tls_engine_send/recv */
    mbedtls_ssl_context ssl;
    char                server_name[256];  /* client: the name it checks, for log lines */
    int                 hs_err;        /* NNG error of a failed handshake, 0 before */
    bool                server;
    bool                have_addrs;    /* loc and rem are known */
    bool                listed;        /* in the peer table */
    nng_sockaddr        loc, rem;
};

static atomic_uint_fast64_t tls_failures;     /* handshakes that failed, for the log's rate limit */

/* The verified peers of server-side connections, by (local, remote) address. */
typedef struct tls_peer tls_peer;

struct tls_peer {
    const nng_tls_engine_conn *owner;
    nng_sockaddr               loc, rem;
    char                       cn[PW_TLS_MAX_CN + 1];
    tls_peer                  *next;
};

static pthread_mutex_t tls_peers_lock = PTHREAD_MUTEX_INITIALIZER;
static tls_peer       *tls_peers[TLS_PEER_BUCKETS];

static bool
tls_addr_eq(const nng_sockaddr *a, const nng_sockaddr *b)
{
    if (a->s_family != b->s_family)
        return false;
    switch (a->s_family) {
    case NNG_AF_INET:
        return a->s_in.sa_port == b->s_in.sa_port && a->s_in.sa_addr == b->s_in.sa_addr;
    case NNG_AF_INET6:
        return a->s_in6.sa_port == b->s_in6.sa_port && a->s_in6.sa_scope == b->s_in6.sa_scope
               && memcmp(a->s_in6.sa_addr, b->s_in6.sa_addr, sizeof a->s_in6.sa_addr) == 0;
    default:
        return false;                   /* TLS runs over TCP only */
    }
}

/* The remote address's bucket: FNV-1a of its port and address. */
static size_t
tls_addr_bucket(const nng_sockaddr *rem)
{
    uint32_t h = 2166136261u;
    uint16_t port = rem->s_family == NNG_AF_INET6 ? rem->s_in6.sa_port : rem->s_in.sa_port;
    const uint8_t *p = rem->s_family == NNG_AF_INET6 ? rem->s_in6.sa_addr
                                                     : (const uint8_t *) &rem->s_in.sa_addr;
    size_t n = rem->s_family == NNG_AF_INET6 ? 16 : 4;

    h = (h ^ (port & 0xff)) * 16777619u;
    h = (h ^ (port >> 8)) * 16777619u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h % TLS_PEER_BUCKETS;
}

static void
tls_addr_format(const nng_sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];

    if (sa->s_family == NNG_AF_INET && inet_ntop(AF_INET, &sa->s_in.sa_addr, ip, sizeof ip))
        snprintf(buf, len, "%s:%u", ip, (unsigned) ntohs(sa->s_in.sa_port));
    else if (sa->s_family == NNG_AF_INET6 && inet_ntop(AF_INET6, sa->s_in6.sa_addr, ip, sizeof ip))
        snprintf(buf, len, "[%s]:%u", ip, (unsigned) ntohs(sa->s_in6.sa_port));
    else
        snprintf(buf, len, "(unknown address)");
}

/* Newest first, so a stale entry for a reused address pair is never found first. */
static void
tls_peers_add(nng_tls_engine_conn *ec, const char *cn)
{
    tls_peer *p = calloc(1, sizeof *p);
    size_t    b;

    if (p == NULL)
        return;                         /* its frames are refused as "identity unknown" */
    p->owner = ec;
    p->loc = ec->loc;
    p->rem = ec->rem;
    snprintf(p->cn, sizeof p->cn, "%s", cn);
    b = tls_addr_bucket(&ec->rem);
    pthread_mutex_lock(&tls_peers_lock);
    p->next = tls_peers[b];
    tls_peers[b] = p;
    pthread_mutex_unlock(&tls_peers_lock);
    ec->listed = true;
}

static void
tls_peers_remove(nng_tls_engine_conn *ec)
{
    tls_peer **pp, *p = NULL;

    if (!ec->listed)
        return;
    pthread_mutex_lock(&tls_peers_lock);
    for (pp = &tls_peers[tls_addr_bucket(&ec->rem)]; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->owner == ec) {
            p = *pp;
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&tls_peers_lock);
    free(p);
    ec->listed = false;
}

/*
 * The subject's CN if it has exactly one and it is a valid agent id
 * (1..128 printable ASCII bytes, no spaces; common/wire.h).
 */
static bool
tls_cert_cn(const mbedtls_x509_crt *crt, char *cn, size_t cnlen)
{
    const mbedtls_x509_buf *found = NULL;

    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next) {
        if (n->oid.p == NULL || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
            continue;
        if (found != NULL)
            return false;               /* two CNs: neither is the identity */
        found = &n->val;
    }
    if (found == NULL || found->len == 0 || found->len > PW_TLS_MAX_CN || found->len >= cnlen)
        return false;
    for (size_t i = 0; i < found->len; i++)
        if (found->p[i] < 0x21 || found->p[i] > 0x7e)
            return false;
    memcpy(cn, found->p, found->len);
    cn[found->len] = '\0';
    return true;
}

/* mbed TLS's verify flags as one line: "a; b". */
static void
tls_verify_text(uint32_t flags, char *buf, size_t len)
{
    char  *p;
    size_t n;

    if (mbedtls_x509_crt_verify_info(buf, len, "", flags) < 0 || buf[0] == '\0') {
        snprintf(buf, len, "certificate verification failed (flags 0x%x)", (unsigned) flags);
        return;
    }
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    while ((p = strchr(buf, '\n')) != NULL)
        *p = ';';
}

static void
tls_log_failure(nng_tls_engine_conn *ec, int rv)
{
    uint64_t n = atomic_fetch_add(&tls_failures, 1);
    uint32_t flags = mbedtls_ssl_get_verify_result(&ec->ssl);
    char     peer[64], why[400];
    const char *hint = "";

    if (n >= TLS_LOG_FIRST && n % TLS_LOG_EVERY != 0)
        return;
    if (ec->have_addrs)
        tls_addr_format(&ec->rem, peer, sizeof peer);
    else
        snprintf(peer, sizeof peer, "(unknown address)");
    /* (uint32_t) -1: no certificate was checked (none sent, or failed before). */
    if (flags != 0 && flags != (uint32_t) -1)
        tls_verify_text(flags, why, sizeof why);
    else
        mbedtls_strerror(rv, why, sizeof why);
    if (rv == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
        hint = ec->server ? " (the agent refused this collector's certificate: see its log)"
                          : " (the collector refused this agent's certificate: see its log)";
    else if (!ec->server && flags != (uint32_t) -1 && (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH))
        /* mbed TLS 2.28 matches the name as text against every SAN: an IP
         * address must be in the certificate as a DNS entry as well. */
        hint = " (its subjectAltNames must include the host of --collector as a DNS entry, also "
               "when it is an IP address: deploy/pki.sh collector --dns/--ip adds them)";
    else if (rv == MBEDTLS_ERR_NET_RECV_FAILED || rv == MBEDTLS_ERR_NET_SEND_FAILED)
        hint = " (connection closed during the handshake)";
    pw_warn("TLS handshake with %s %s%s%s failed: %s%s [%llu so far]",
            ec->server ? "agent" : "collector", ec->server_name, ec->server_name[0] ? " at " : "",
            peer, why, hint, (unsigned long long) n + 1);
}

/* mbed TLS's random source: the kernel's. */
static int
tls_random(void *arg, unsigned char *buf, size_t len)
{
    (void) arg;
    while (len > 0) {
        ssize_t r = getrandom(buf, len, 0);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
        }
        buf += r;
        len -= (size_t) r;
    }
    return 0;
}

/* mbed TLS error -> NNG error, as NNG's own engine maps them. */
static int
tls_nng_err(int rv)
{
    switch (rv) {
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
    case MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED:
    case MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED:
    case MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
        return NNG_EPEERAUTH;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        return NNG_ECONNREFUSED;
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        return NNG_ENOMEM;
    case MBEDTLS_ERR_SSL_TIMEOUT:
        return NNG_ETIMEDOUT;
    case MBEDTLS_ERR_SSL_CONN_EOF:
        return NNG_ECLOSED;
    default:
        return NNG_ECRYPTO;
    }
}

static int
tls_bio_send(void *tls, const unsigned char *buf, size_t len)
{
    size_t sz = len;

    switch (nng_tls_engine_send(tls, buf, &sz)) {
    case 0:
        return (int) sz;
    case NNG_EAGAIN:
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    default:
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

static int
tls_bio_recv(void *tls, unsigned char *buf, size_t len)
{
    size_t sz = len;

    switch (nng_tls_engine_recv(tls, buf, &sz)) {
    case 0:
        return (int) sz;
    case NNG_EAGAIN:
        return MBEDTLS_ERR_SSL_WANT_READ;
    default:
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

static int
tls_conn_init(nng_tls_engine_conn *ec, void *tls, nng_tls_engine_config *cfg)
{
    /* NNG 1.5's context pointer is its TLS nng_stream (see the top of this
     * file); option requests it does not know go down to the TCP stream. */
    nng_stream *s = tls;
    int         rv;

    ec->tls = tls;
    ec->server = cfg->server;
    if (cfg->server_name != NULL)
        snprintf(ec->server_name, sizeof ec->server_name, "%s", cfg->server_name);
    mbedtls_ssl_init(&ec->ssl);
    mbedtls_ssl_set_bio(&ec->ssl, tls, tls_bio_send, tls_bio_recv, NULL);
    if ((rv = mbedtls_ssl_setup(&ec->ssl, &cfg->conf)) != 0)
        return tls_nng_err(rv);
    if (cfg->server_name != NULL && (rv = mbedtls_ssl_set_hostname(&ec->ssl, cfg->server_name)) != 0)
        return tls_nng_err(rv);
    ec->have_addrs = nng_stream_get_addr(s, NNG_OPT_LOCADDR, &ec->loc) == 0
                     && nng_stream_get_addr(s, NNG_OPT_REMADDR, &ec->rem) == 0;
    return 0;
}

static void
tls_conn_fini(nng_tls_engine_conn *ec)
{
    tls_peers_remove(ec);
    mbedtls_ssl_free(&ec->ssl);
}

static void
tls_conn_close(nng_tls_engine_conn *ec)
{
    /* Off the table as soon as the connection closes, not when NNG reaps it
     * later: a new connection may reuse the address pair before that. */
    tls_peers_remove(ec);
    (void) mbedtls_ssl_close_notify(&ec->ssl);
}

static int
tls_conn_handshake(nng_tls_engine_conn *ec)
{
    char cn[PW_TLS_MAX_CN + 1], peer[64];
    int  rv;
    const mbedtls_x509_crt *crt;

    /* NNG asks again from its send and its receive side: answer, log once. */
    if (ec->hs_err != 0)
        return ec->hs_err;
    rv = mbedtls_ssl_handshake(&ec->ssl);
    if (rv == MBEDTLS_ERR_SSL_WANT_READ || rv == MBEDTLS_ERR_SSL_WANT_WRITE)
        return NNG_EAGAIN;
    if (rv != 0) {
        tls_log_failure(ec, rv);
        return ec->hs_err = tls_nng_err(rv);
    }
    if (!ec->server)
        return 0;
    /* Server side: with client authentication required, mbed TLS has verified
     * the chain; the CN is the agent id its frames must carry. */
    crt = mbedtls_ssl_get_peer_cert(&ec->ssl);
    if (ec->have_addrs)
        tls_addr_format(&ec->rem, peer, sizeof peer);
    else
        snprintf(peer, sizeof peer, "(unknown address)");
    if (crt == NULL || mbedtls_ssl_get_verify_result(&ec->ssl) != 0) {
        /* Only with client authentication off; poolwatch never turns it off. */
        pw_debug("TLS: %s connected without a verified certificate", peer);
        return 0;
    }
    if (!tls_cert_cn(crt, cn, sizeof cn)) {
        uint64_t n = atomic_fetch_add(&tls_failures, 1);

        if (n < TLS_LOG_FIRST || n % TLS_LOG_EVERY == 0)
            pw_warn("TLS handshake with agent %s refused: its certificate has no single CN that "
                    "is a valid agent id (1-128 printable characters, no spaces) [%llu so far]",
                    peer, (unsigned long long) n + 1);
        return ec->hs_err = NNG_EPEERAUTH;
    }
    if (ec->have_addrs)
        tls_peers_add(ec, cn);
    pw_debug("TLS: agent CN=%s connected from %s", cn, peer);
    return 0;
}

static int
tls_conn_recv(nng_tls_engine_conn *ec, uint8_t *buf, size_t *szp)
{
    int rv = mbedtls_ssl_read(&ec->ssl, buf, *szp);

    if (rv == MBEDTLS_ERR_SSL_WANT_READ || rv == MBEDTLS_ERR_SSL_WANT_WRITE)
        return NNG_EAGAIN;
    if (rv < 0)
        return tls_nng_err(rv);
    *szp = (size_t) rv;
    return 0;
}

static int
tls_conn_send(nng_tls_engine_conn *ec, const uint8_t *buf, size_t *szp)
{
    int rv = mbedtls_ssl_write(&ec->ssl, buf, *szp);

    if (rv == MBEDTLS_ERR_SSL_WANT_READ || rv == MBEDTLS_ERR_SSL_WANT_WRITE)
        return NNG_EAGAIN;
    if (rv < 0)
        return tls_nng_err(rv);
    *szp = (size_t) rv;
    return 0;
}

static bool
tls_conn_verified(nng_tls_engine_conn *ec)
{
    return mbedtls_ssl_get_verify_result(&ec->ssl) == 0;
}

static void
tls_config_fini(nng_tls_engine_config *cfg)
{
    tls_pair *p;

    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_x509_crt_free(&cfg->ca);
    mbedtls_x509_crl_free(&cfg->crl);
    free(cfg->server_name);
    while ((p = cfg->pairs) != NULL) {
        cfg->pairs = p->next;
        mbedtls_x509_crt_free(&p->crt);
        mbedtls_pk_free(&p->key);
        free(p);
    }
}

static int
tls_config_init(nng_tls_engine_config *cfg, nng_tls_mode mode)
{
    int rv;

    cfg->server = mode == NNG_TLS_MODE_SERVER;
    mbedtls_ssl_config_init(&cfg->conf);
    mbedtls_x509_crt_init(&cfg->ca);
    mbedtls_x509_crl_init(&cfg->crl);
    rv = mbedtls_ssl_config_defaults(&cfg->conf,
                                     cfg->server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                     MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rv != 0) {
        tls_config_fini(cfg);
        return tls_nng_err(rv);
    }
    /* NNG's defaults: clients verify, servers do not unless told to. */
    mbedtls_ssl_conf_authmode(&cfg->conf, cfg->server ? MBEDTLS_SSL_VERIFY_NONE
                                                      : MBEDTLS_SSL_VERIFY_REQUIRED);
    /* TLS 1.2 only, as NNG 1.5: mbed TLS 2.28's 1.3 is experimental. */
    mbedtls_ssl_conf_min_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_rng(&cfg->conf, tls_random, NULL);
    return 0;
}

static int
tls_config_server(nng_tls_engine_config *cfg, const char *name)
{
    char *dup = strdup(name);

    if (dup == NULL)
        return NNG_ENOMEM;
    free(cfg->server_name);
    cfg->server_name = dup;
    return 0;
}

static int
tls_config_auth(nng_tls_engine_config *cfg, nng_tls_auth_mode mode)
{
    switch (mode) {
    case NNG_TLS_AUTH_MODE_NONE:
        mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
        return 0;
    case NNG_TLS_AUTH_MODE_OPTIONAL:
        mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
        return 0;
    case NNG_TLS_AUTH_MODE_REQUIRED:
        mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        return 0;
    }
    return NNG_EINVAL;
}

static int
tls_config_ca_chain(nng_tls_engine_config *cfg, const char *certs, const char *crl)
{
    int rv;

    if ((rv = mbedtls_x509_crt_parse(&cfg->ca, (const unsigned char *) certs, strlen(certs) + 1)) != 0)
        return tls_nng_err(rv);
    if (crl != NULL
        && (rv = mbedtls_x509_crl_parse(&cfg->crl, (const unsigned char *) crl, strlen(crl) + 1)) != 0)
        return tls_nng_err(rv);
    mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, crl != NULL ? &cfg->crl : NULL);
    return 0;
}

static int
tls_config_own_cert(nng_tls_engine_config *cfg, const char *cert, const char *key, const char *pass)
{
    tls_pair *p = calloc(1, sizeof *p);
    int       rv;

    if (p == NULL)
        return NNG_ENOMEM;
    mbedtls_x509_crt_init(&p->crt);
    mbedtls_pk_init(&p->key);
    if ((rv = mbedtls_x509_crt_parse(&p->crt, (const unsigned char *) cert, strlen(cert) + 1)) != 0
        || (rv = mbedtls_pk_parse_key(&p->key, (const unsigned char *) key, strlen(key) + 1,
                                      (const unsigned char *) pass, pass ? strlen(pass) : 0)) != 0
        || (rv = mbedtls_ssl_conf_own_cert(&cfg->conf, &p->crt, &p->key)) != 0) {
        mbedtls_x509_crt_free(&p->crt);
        mbedtls_pk_free(&p->key);
        free(p);
        return tls_nng_err(rv);
    }
    p->next = cfg->pairs;
    cfg->pairs = p;
    return 0;
}

static int
tls_config_version(nng_tls_engine_config *cfg, nng_tls_version lo, nng_tls_version hi)
{
    (void) cfg;
    /* TLS 1.2 is all this engine speaks; 1.3 asked for as a maximum is 1.2. */
    if (lo > hi || lo > NNG_TLS_1_2 || hi < NNG_TLS_1_2)
        return NNG_ENOTSUP;
    return 0;
}

static nng_tls_engine_config_ops tls_config_ops = {
    .size = sizeof(nng_tls_engine_config),
    .init = tls_config_init,
    .fini = tls_config_fini,
    .server = tls_config_server,
    .auth = tls_config_auth,
    .ca_chain = tls_config_ca_chain,
    .own_cert = tls_config_own_cert,
    .version = tls_config_version,
};

static nng_tls_engine_conn_ops tls_conn_ops = {
    .size = sizeof(nng_tls_engine_conn),
    .init = tls_conn_init,
    .fini = tls_conn_fini,
    .close = tls_conn_close,
    .handshake = tls_conn_handshake,
    .recv = tls_conn_recv,
    .send = tls_conn_send,
    .verified = tls_conn_verified,
};

static const nng_tls_engine tls_engine = {
    .version = NNG_TLS_ENGINE_VERSION,
    .config_ops = &tls_config_ops,
    .conn_ops = &tls_conn_ops,
    .name = "poolwatch-mbed",
    .description = "poolwatch engine on " MBEDTLS_VERSION_STRING_FULL,
    .fips_mode = false,
};

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int            tls_init_rv;           /* 0, an NNG error, or -1: wrong NNG version */

static void
tls_init_once(void)
{
    /* The library is what runs, whatever the headers said at build time. */
    if (strncmp(nng_version(), "1.5.", 4) != 0) {
        tls_init_rv = -1;
        return;
    }
    /* NNG initialises itself on first use and registers its own engine then;
     * make that happen first so ours replaces it, not the other way round. */
    (void) nng_tls_engine_name();
    tls_init_rv = nng_tls_engine_register(&tls_engine);
}

pw_err
pw_tls_init(char *errbuf, size_t errlen)
{
    pthread_once(&tls_once, tls_init_once);
    if (tls_init_rv == -1) {
        snprintf(errbuf, errlen, "TLS needs NNG 1.5 (this is NNG %s): see common/tls.h",
                 nng_version());
        return PW_EVERSION;
    }
    if (tls_init_rv != 0) {
        snprintf(errbuf, errlen, "NNG refused poolwatch's TLS engine: %s", nng_strerror(tls_init_rv));
        return PW_ENET;
    }
    return PW_OK;
}

/* ---- URLs ------------------------------------------------------------ */

bool
pw_tls_url(const char *url)
{
    return url != NULL && strncmp(url, "tls+", 4) == 0;
}

bool
pw_url_is_local(const char *url)
{
    nng_url        *u;
    char            host[256];
    struct in_addr  a4;
    struct in6_addr a6;
    bool            local = false;

    if (nng_url_parse(&u, url) != 0)
        return false;
    if (strcmp(u->u_scheme, "ipc") == 0 || strcmp(u->u_scheme, "inproc") == 0
        || strcmp(u->u_scheme, "abstract") == 0) {
        nng_url_free(u);
        return true;
    }
    /* NNG gives "::1" for "[::1]", and "" for a wildcard ("*", none). */
    snprintf(host, sizeof host, "%s", u->u_hostname != NULL ? u->u_hostname : "");
    nng_url_free(u);
    if (strcmp(host, "localhost") == 0)
        local = true;
    else if (inet_pton(AF_INET, host, &a4) == 1)
        local = (ntohl(a4.s_addr) >> 24) == 127;
    else if (inet_pton(AF_INET6, host, &a6) == 1)
        local = IN6_IS_ADDR_LOOPBACK(&a6)
                || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return local;
}

/* ---- configs from files ---------------------------------------------- */

/* Reads path whole, NUL-terminated, into *out (caller frees). */
static pw_err
tls_read_file(const char *opt, const char *path, char **out, char *errbuf, size_t errlen)
{
    FILE  *f;
    char  *buf;
    size_t n;
    bool   failed;

    *out = NULL;
    if ((f = fopen(path, "rb")) == NULL) {
        snprintf(errbuf, errlen, "--%s %s: cannot read: %s", opt, path, strerror(errno));
        return PW_EIO;
    }
    if ((buf = malloc(TLS_MAX_PEM + 1)) == NULL) {
        fclose(f);
        return PW_ENOMEM;
    }
    n = fread(buf, 1, TLS_MAX_PEM + 1, f);
    failed = ferror(f) != 0;
    fclose(f);
    if (failed || n > TLS_MAX_PEM) {
        snprintf(errbuf, errlen, "--%s %s: %s", opt, path,
                 failed ? "read error" : "larger than 1 MiB, not a PEM certificate or key");
        free(buf);
        return failed ? PW_EIO : PW_EINVAL;
    }
    buf[n] = '\0';
    *out = buf;
    return PW_OK;
}

static void
tls_time_text(const mbedtls_x509_time *t, char *buf, size_t len)
{
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", t->year, t->mon, t->day, t->hour, t->min,
             t->sec);
}

/* Things that are worth a warning but must not stop an agent from spooling. */
static void
tls_check_own(pw_tls_role role, const pw_tls_files *files, mbedtls_x509_crt *crt,
              mbedtls_x509_crt *ca, mbedtls_x509_crl *crl)
{
    char        when[24], why[300];
    uint32_t    flags = 0;
    struct stat st;

    if (mbedtls_x509_time_is_past(&crt->valid_to)) {
        tls_time_text(&crt->valid_to, when, sizeof when);
        pw_warn("--tls-cert %s expired on %s: %s will refuse it until it is renewed", files->cert,
                when, role == PW_TLS_CLIENT ? "the collector" : "agents");
    } else if (mbedtls_x509_time_is_future(&crt->valid_from)) {
        tls_time_text(&crt->valid_from, when, sizeof when);
        pw_warn("--tls-cert %s is valid only from %s (check this machine's clock)", files->cert, when);
    }
    if (mbedtls_x509_crt_verify(crt, ca, crl, NULL, &flags, NULL, NULL) != 0
        && (flags & (MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_REVOKED)) != 0) {
        tls_verify_text(flags & (MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_REVOKED),
                        why, sizeof why);
        pw_warn("--tls-cert %s against --tls-ca %s: %s; peers trusting that CA will refuse it",
                files->cert, files->ca, why);
    }
    if (stat(files->key, &st) == 0 && (st.st_mode & 0007) != 0)
        pw_warn("--tls-key %s can be read by any user (mode %04o): chmod 0600 (or 0640 and a "
                "group of its own)", files->key, (unsigned) (st.st_mode & 07777));
}

pw_err
pw_tls_config_new(pw_tls_role role, const pw_tls_files *files, const char *server_name,
                  nng_tls_config **out, pw_tls_cert_info *info, char *errbuf, size_t errlen)
{
    char              *ca_pem = NULL, *cert_pem = NULL, *key_pem = NULL, why[200];
    /* The extendedKeyUsage our end needs. */
    const char        *eku = role == PW_TLS_SERVER ? MBEDTLS_OID_SERVER_AUTH : MBEDTLS_OID_CLIENT_AUTH;
    size_t             eku_len = role == PW_TLS_SERVER ? MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)
                                                       : MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH);
    bool               has_crl;
    mbedtls_x509_crt   ca, crt;
    mbedtls_x509_crl   crl;
    mbedtls_pk_context key;
    nng_tls_config    *cfg = NULL;
    pw_tls_cert_info   inf = { .cn = "" };
    pw_err             rc;
    int                rv;

    *out = NULL;
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&crt);
    mbedtls_x509_crl_init(&crl);
    mbedtls_pk_init(&key);
    if ((rc = pw_tls_init(errbuf, errlen)) != PW_OK)
        goto done;
    rc = PW_EINVAL;
    if (files->ca == NULL || files->cert == NULL || files->key == NULL || !files->ca[0]
        || !files->cert[0] || !files->key[0]) {
        snprintf(errbuf, errlen, "tls+tcp:// needs --tls-ca, --tls-cert and --tls-key (missing:%s%s%s)",
                 files->ca && files->ca[0] ? "" : " --tls-ca",
                 files->cert && files->cert[0] ? "" : " --tls-cert",
                 files->key && files->key[0] ? "" : " --tls-key");
        goto done;
    }
    if ((rc = tls_read_file("tls-ca", files->ca, &ca_pem, errbuf, errlen)) != PW_OK
        || (rc = tls_read_file("tls-cert", files->cert, &cert_pem, errbuf, errlen)) != PW_OK
        || (rc = tls_read_file("tls-key", files->key, &key_pem, errbuf, errlen)) != PW_OK)
        goto done;
    rc = PW_EINVAL;
    if ((rv = mbedtls_x509_crt_parse(&ca, (unsigned char *) ca_pem, strlen(ca_pem) + 1)) != 0) {
        mbedtls_strerror(rv, why, sizeof why);
        snprintf(errbuf, errlen, "--tls-ca %s: not a PEM CA certificate: %s", files->ca, why);
        goto done;
    }
    /* A CRL may ride in the CA file (as NNG's own nng_tls_config_ca_file allows). */
    has_crl = strstr(ca_pem, "-----BEGIN X509 CRL-----") != NULL;
    if (has_crl && (rv = mbedtls_x509_crl_parse(&crl, (unsigned char *) ca_pem, strlen(ca_pem) + 1)) != 0) {
        mbedtls_strerror(rv, why, sizeof why);
        snprintf(errbuf, errlen, "--tls-ca %s: bad CRL: %s", files->ca, why);
        goto done;
    }
    if ((rv = mbedtls_x509_crt_parse(&crt, (unsigned char *) cert_pem, strlen(cert_pem) + 1)) != 0) {
        mbedtls_strerror(rv, why, sizeof why);
        snprintf(errbuf, errlen, "--tls-cert %s: not a PEM certificate: %s", files->cert, why);
        goto done;
    }
    rv = mbedtls_pk_parse_key(&key, (unsigned char *) key_pem, strlen(key_pem) + 1, NULL, 0);
    if (rv == MBEDTLS_ERR_PK_PASSWORD_REQUIRED) {
        snprintf(errbuf, errlen, "--tls-key %s is encrypted: poolwatch needs an unencrypted key "
                 "(protect it with its file mode, 0600)", files->key);
        goto done;
    }
    if (rv != 0) {
        mbedtls_strerror(rv, why, sizeof why);
        snprintf(errbuf, errlen, "--tls-key %s: not a PEM private key: %s", files->key, why);
        goto done;
    }
    if (mbedtls_pk_check_pair(&crt.pk, &key) != 0) {
        snprintf(errbuf, errlen, "--tls-key %s is not the key of the certificate in --tls-cert %s",
                 files->key, files->cert);
        goto done;
    }
    /* A certificate made for the other end can never work: say so now
     * rather than as a handshake failure on the peer. */
    if (mbedtls_x509_crt_check_extended_key_usage(&crt, eku, eku_len) != 0) {
        snprintf(errbuf, errlen, "--tls-cert %s is not a TLS %s certificate (its extendedKeyUsage "
                 "lacks %s): make it with deploy/pki.sh %s", files->cert,
                 role == PW_TLS_SERVER ? "server" : "client",
                 role == PW_TLS_SERVER ? "serverAuth" : "clientAuth",
                 role == PW_TLS_SERVER ? "collector" : "agent");
        goto done;
    }
    if (!tls_cert_cn(&crt, inf.cn, sizeof inf.cn))
        inf.cn[0] = '\0';
    if (mbedtls_x509_serial_gets(inf.serial, sizeof inf.serial, &crt.serial) < 0)
        inf.serial[0] = '\0';
    tls_time_text(&crt.valid_to, inf.not_after, sizeof inf.not_after);
    tls_check_own(role, files, &crt, &ca, has_crl ? &crl : NULL);

    rc = PW_ENET;
    if ((rv = nng_tls_config_alloc(&cfg, role == PW_TLS_SERVER ? NNG_TLS_MODE_SERVER
                                                               : NNG_TLS_MODE_CLIENT)) != 0
        || (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0
        || (rv = nng_tls_config_ca_chain(cfg, ca_pem, has_crl ? ca_pem : NULL)) != 0
        || (rv = nng_tls_config_own_cert(cfg, cert_pem, key_pem, NULL)) != 0
        || (role == PW_TLS_CLIENT && server_name != NULL
            && (rv = nng_tls_config_server_name(cfg, server_name)) != 0)) {
        snprintf(errbuf, errlen, "TLS configuration from %s, %s, %s: %s", files->ca, files->cert,
                 files->key, nng_strerror(rv));
        goto done;
    }
    if (info != NULL)
        *info = inf;
    *out = cfg;
    cfg = NULL;
    rc = PW_OK;
done:
    if (cfg != NULL)
        nng_tls_config_free(cfg);
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crl_free(&crl);
    mbedtls_pk_free(&key);
    if (key_pem != NULL) {
        mbedtls_platform_zeroize(key_pem, strlen(key_pem));
        free(key_pem);
    }
    free(cert_pem);
    free(ca_pem);
    return rc;
}

/* ---- who is at the other end ----------------------------------------- */

pw_err
pw_tls_peer_cn(nng_pipe p, char *cn, size_t cnlen)
{
    nng_sockaddr loc, rem;
    bool         verified = false;
    pw_err       rc = PW_ENOENT;

    memset(&loc, 0, sizeof loc);
    memset(&rem, 0, sizeof rem);
    /* Fails for a pipe that is gone, and for plain tcp:// (no such option). */
    if (nng_pipe_get_bool(p, NNG_OPT_TLS_VERIFIED, &verified) != 0 || !verified
        || nng_pipe_get_addr(p, NNG_OPT_LOCADDR, &loc) != 0
        || nng_pipe_get_addr(p, NNG_OPT_REMADDR, &rem) != 0)
        return PW_ENOENT;
    pthread_mutex_lock(&tls_peers_lock);
    for (tls_peer *e = tls_peers[tls_addr_bucket(&rem)]; e != NULL; e = e->next)
        if (tls_addr_eq(&e->rem, &rem) && tls_addr_eq(&e->loc, &loc)) {
            snprintf(cn, cnlen, "%s", e->cn);
            rc = PW_OK;
            break;
        }
    pthread_mutex_unlock(&tls_peers_lock);
    return rc;
}

void
pw_tls_pipe_addr(nng_pipe p, char *buf, size_t len)
{
    nng_sockaddr rem;

    memset(&rem, 0, sizeof rem);
    if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &rem) != 0)
        rem.s_family = NNG_AF_UNSPEC;
    tls_addr_format(&rem, buf, len);
}
