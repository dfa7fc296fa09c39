/*
 * auth.h - API tokens, roles and tenant scope (REQUIREMENTS R11).
 *
 * A token is a bearer secret "pwt_<id>_<secret>" shown once at creation. The
 * store keeps only its id (public, used to list and revoke) and a keyed
 * BLAKE2b hash of the secret (libsodium crypto_generichash with a 32-byte key
 * generated at first use and kept in DIR/security.key, mode 0600): a stolen
 * security database does not reveal usable tokens, and checking a token on
 * every API call costs microseconds. Tokens are 256-bit random, so a slow
 * password KDF would add latency without adding safety.
 *
 * Roles (what each may do is decided in one place, pw_auth_allows):
 *   admin    - everything, including token administration
 *   operator - support center: all data, alerts, inventory changes; no tokens
 *   auditor  - bureau: read-only, all data, reports, audit log
 *   tenant   - read-only, and only what belongs to its tenant (using unit)
 *
 * Storage: tokens live in DIR/security.mdb (LMDB, its own environment, shared
 * with the audit log), not in the time-series store. Layout: collector/README.md,
 * "Security: tokens, roles, audit log".
 * Threads: a pw_security handle is shared; every call is thread-safe. A
 * callback (pw_token_cb, pw_audit_cb) runs inside a read transaction and must
 * not call back into the handle.
 */
#ifndef PW_AUTH_H
#define PW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"

typedef struct pw_security pw_security;

/*
 * Opens (creating unless rdonly) DIR/security.mdb and DIR/security.key.
 * *out owned by the caller (pw_security_close). DIR itself must exist.
 * PW_EIO with a sentence in errbuf if the files cannot be created or opened,
 * if security.key is readable or writable by group or others (refused: it
 * would let them forge hashes), or if it is missing or is not the key the
 * database was made with (tokens could no longer be checked). PW_ENOENT if DIR
 * does not exist, or (rdonly) holds no security.mdb yet. PW_EVERSION for a
 * database of a newer format.
 * A read-only handle never reads the key: it can list tokens and read and
 * verify the audit log; creating, revoking and checking tokens, appending
 * and expiring need a read-write one (PW_EINVAL otherwise).
 */
pw_err pw_security_open(const char *dir, bool rdonly, pw_security **out, char *errbuf, size_t errlen);
void   pw_security_close(pw_security *s);

/* The numbers are stored (token and audit records): never renumber, only add. */
typedef enum pw_role {
    PW_ROLE_NONE = 0,     /* unauthenticated */
    PW_ROLE_ADMIN,
    PW_ROLE_OPERATOR,
    PW_ROLE_AUDITOR,
    PW_ROLE_TENANT,
} pw_role;

/* "admin", ... ; parse returns PW_ROLE_NONE for an unknown name. */
const char *pw_role_name(pw_role r);
pw_role     pw_role_parse(const char *s);

#define PW_TOKEN_ID_LEN      12     /* hex chars of the public id */
#define PW_TOKEN_LEN         60     /* "pwt_" + 12 hex + "_" + 43 base64url chars */
#define PW_TOKEN_MAX         96     /* a token_out buffer: the token, its NUL, room to grow */
#define PW_TENANT_MAX        128
#define PW_PRINCIPAL_MAX     128

/* Who is calling, after authentication. */
typedef struct pw_principal {
    pw_role role;
    char    token_id[PW_TOKEN_ID_LEN + 1];   /* "" for local CLI use on the data dir */
    char    tenant[PW_TENANT_MAX + 1];       /* set iff role == PW_ROLE_TENANT */
    char    name[PW_PRINCIPAL_MAX + 1];      /* free text given at creation ("ops-team") */
} pw_principal;

typedef struct pw_token_info {
    char    id[PW_TOKEN_ID_LEN + 1];
    pw_role role;
    char    tenant[PW_TENANT_MAX + 1];
    char    name[PW_PRINCIPAL_MAX + 1];
    int64_t created_ms, expires_ms;          /* expires 0 = never */
    int64_t revoked_ms;                      /* 0 = active */
    int64_t last_used_ms;                    /* 0 = never; updated at most once a minute */
} pw_token_info;

/*
 * Creates a token. tenant is required for PW_ROLE_TENANT and must be NULL
 * otherwise; expires_ms 0 = never. On PW_OK the full token (the only time it
 * exists in clear) is written to token_out (at least PW_TOKEN_MAX bytes) and
 * its record to *info (may be NULL). PW_EINVAL for a bad role/tenant
 * combination, a tenant or name that is empty (tenant), too long, not UTF-8
 * or holds control characters, a negative expires_ms, a short token_out.
 * name may be NULL (""). See pw_token_create_audited (audit.h) for the
 * variant that records itself in the audit log in the same transaction.
 */
pw_err pw_token_create(pw_security *s, pw_role role, const char *tenant, const char *name,
                       int64_t expires_ms, char *token_out, size_t token_len, pw_token_info *info);

/* Calls cb for every token (active, expired and revoked), by id. */
typedef int (*pw_token_cb)(void *ctx, const pw_token_info *t);
pw_err pw_token_list(pw_security *s, pw_token_cb cb, void *ctx);

/*
 * Revokes by id. PW_ENOENT if there is no such token, PW_EINVAL if id is not
 * 12 lowercase hex digits. Idempotent: revoking again keeps the first time.
 */
pw_err pw_token_revoke(pw_security *s, const char *id, int64_t now_ms);

/*
 * Checks a bearer token (the full "pwt_..." string). PW_OK fills *who.
 * PW_EINVAL: malformed. PW_ENOENT: unknown id, wrong secret (compared in
 * constant time), expired (now_ms >= expires) or revoked - one answer for the
 * caller, while `why` (may be NULL) says which, for the audit log only.
 * Writes only to refresh last_used, at most once a minute per token; a
 * failure of that write does not fail the check. Needs a read-write handle.
 */
pw_err pw_token_check(pw_security *s, const char *token, int64_t now_ms, pw_principal *who,
                      char *why, size_t whylen);

/*
 * What a principal may do. Deny by default: a new action must be added here.
 * The table is in auth.c and in collector/README.md. NULL, PW_ROLE_NONE, an
 * unknown role or action, and a tenant principal without a tenant: false.
 */
typedef enum pw_action {
    PW_ACT_READ_METRICS,      /* series, labels, query, query_range (tenant: scoped) */
    PW_ACT_READ_HOSTS,        /* agents and hosts (tenant: denied) */
    PW_ACT_READ_INVENTORY,    /* tenant: scoped */
    PW_ACT_WRITE_INVENTORY,   /* import, pool set */
    PW_ACT_READ_POOLS,        /* pool-wide figures (tenant: denied) */
    PW_ACT_READ_ALERTS,       /* tenant: scoped */
    PW_ACT_WRITE_ALERTS,      /* silences */
    PW_ACT_READ_REPORTS,      /* tenant: its own reports only */
    PW_ACT_READ_AUDIT,
    PW_ACT_ADMIN_TOKENS,
    PW_ACT_READ_SELF_METRICS, /* /metrics */
    PW_ACT_WHOAMI,            /* /api/v1/whoami: the caller's own token (every role) */
    PW_ACT_READ_RECOMMENDATIONS, /* /api/v1/recommendations (tenant: its own systems) */
    PW_ACT_COUNT_
} pw_action;

bool pw_auth_allows(const pw_principal *who, pw_action a);

/* "read_metrics", "read_hosts", ... (the enum's name in lower case); NULL for an unknown action. */
const char *pw_action_name(pw_action a);

#endif
