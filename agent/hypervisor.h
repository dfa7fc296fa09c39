/*
 * hypervisor.h - where hypervisor mode gets its figures: the source interface.
 *
 * A source answers three questions per round: what the host is (node), what
 * its storage pools hold (pools), and what every domain is doing (domains).
 * sampler_hypervisor.c turns the answers into series; it never talks to
 * libvirt itself. Two sources exist, each one file exporting one ops table:
 *
 *   hv_libvirt.c  pw_hv_libvirt  any libvirt URI: qemu:///system, test:///...
 *   hv_replay.c   pw_hv_replay   replay:///DIR: recorded rounds from text files
 *
 * Domain figures travel as libvirt's bulk-stats typed parameters, unchanged
 * ("state.state", "cpu.time", "balloon.rss", "block.0.capacity", ...: see
 * virConnectGetAllDomainStats), so a recording of a real KVM host replays
 * through exactly the parsing a live host gets. What a driver leaves out of
 * bulk stats (the test driver answers with state only) the libvirt source
 * fills in under the same names from other calls; see hv_libvirt.c.
 *
 * Threads: a source is used by one thread at a time (the sampler's worker),
 * never concurrently. Calls may block (a slow libvirtd); that is why the
 * sampler runs them off the agent's loop.
 *
 * Ownership: a pw_hv_round owns every string and array it hands out; they
 * live until pw_hv_round_free. A source owns its own handle until close.
 */
#ifndef PW_HYPERVISOR_H
#define PW_HYPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"

/* Domains kept per round; the rest are counted in pw_hv_round.dropped. */
#define PW_HV_MAX_DOMAINS 10000u
/* Typed parameters kept per domain (a KVM guest with 8 disks, 8 NICs and
 * 64 vCPUs has ~400); the rest are dropped. */
#define PW_HV_MAX_PARAMS  4096u

/* The values of libvirt's virTypedParameterType, so both map 1:1. */
typedef enum pw_hv_type {
    PW_HV_INT = 1,
    PW_HV_UINT = 2,
    PW_HV_LLONG = 3,
    PW_HV_ULLONG = 4,
    PW_HV_DOUBLE = 5,
    PW_HV_BOOLEAN = 6,
    PW_HV_STRING = 7,
} pw_hv_type;

/* One typed parameter: "net.0.rx.bytes" ULLONG 123. */
typedef struct pw_hv_param {
    const char *field;
    pw_hv_type  type;
    union {
        int64_t     i;   /* INT, LLONG, BOOLEAN */
        uint64_t    u;   /* UINT, ULLONG */
        double      d;   /* DOUBLE */
        const char *s;   /* STRING */
    } v;
} pw_hv_param;

/* One domain: identity and its parameters (params[0..nparams)). */
typedef struct pw_hv_domain {
    const char  *uuid;      /* "6695eb01-f6a4-8304-79aa-97f2502e193f" */
    const char  *name;
    size_t       first;     /* index of its first parameter in the round */
    size_t       nparams;
} pw_hv_domain;

/* Host capacity. Totals, not per NUMA node. Zero = unknown. */
typedef struct pw_hv_node {
    uint32_t sockets;       /* CPU sockets */
    uint32_t cores;         /* physical cores in all sockets */
    uint32_t threads;       /* logical CPUs */
    uint32_t mhz;
    uint64_t memory_bytes;
} pw_hv_node;

typedef struct pw_hv_pool {
    const char *name;
    uint64_t    capacity, allocation, available;   /* bytes */
} pw_hv_pool;

typedef struct pw_hv_arena pw_hv_arena;

/*
 * One round's answers. Built with the pw_hv_round_* calls below by a source,
 * read by the sampler. Arrays grow as needed; strings live in an arena.
 */
typedef struct pw_hv_round {
    pw_hv_node    node;
    bool          have_node;
    pw_hv_pool   *pools;
    size_t        npools, pools_cap;
    pw_hv_domain *domains;
    size_t        ndomains, domains_cap;
    pw_hv_param  *params;           /* every domain's, in domain order */
    size_t        nparams, params_cap;
    uint64_t      dropped_domains;  /* over PW_HV_MAX_DOMAINS */
    uint64_t      dropped_params;   /* over PW_HV_MAX_PARAMS in some domain */
    bool          skipping;         /* the current domain was dropped: ignore its params */
    pw_hv_arena  *arena;
} pw_hv_round;

/* New empty round, owned by the caller (pw_hv_round_free). NULL on ENOMEM. */
pw_hv_round *pw_hv_round_new(void);
void         pw_hv_round_free(pw_hv_round *r);

/* A copy of s (n bytes, NUL added) in the round's arena; NULL on ENOMEM. */
const char *pw_hv_round_strndup(pw_hv_round *r, const char *s, size_t n);

pw_err pw_hv_round_add_pool(pw_hv_round *r, const char *name, uint64_t capacity,
                            uint64_t allocation, uint64_t available);
/*
 * Starts a domain; the parameters added next belong to it. PW_ETOOBIG past
 * PW_HV_MAX_DOMAINS (counted in dropped_domains; its parameters are then
 * ignored until the next domain starts).
 */
pw_err pw_hv_round_add_domain(pw_hv_round *r, const char *uuid, const char *name);
/* Adds a parameter to the current domain (strings are copied). */
pw_err pw_hv_round_add_param(pw_hv_round *r, const pw_hv_param *p);
pw_err pw_hv_round_add_u64(pw_hv_round *r, const char *field, pw_hv_type type, uint64_t v);
pw_err pw_hv_round_add_str(pw_hv_round *r, const char *field, const char *v);

/* Domain i's parameter named field, or NULL. */
const pw_hv_param *pw_hv_domain_param(const pw_hv_round *r, size_t i, const char *field);
/* A numeric parameter as uint64 (negative = absent); false if absent or a string. */
bool pw_hv_param_u64(const pw_hv_param *p, uint64_t *out);

typedef struct pw_hv_source pw_hv_source;

/*
 * The source interface. A round is node(), pools(), domains(), in that order;
 * each may fail on its own (a host without a storage driver still has
 * domains). Errors: PW_ENET when the connection is gone (the sampler closes
 * and reopens with backoff), PW_ENOENT/PW_EIO/PW_EPROTO otherwise; err gets
 * a sentence.
 */
typedef struct pw_hv_source_ops {
    const char *name;                       /* "libvirt", "replay": for logs */
    /* True if this source serves uri (by its scheme). */
    bool   (*accepts)(const char *uri);
    /* Connects (read-only where the source has the notion). */
    pw_err (*open)(const char *uri, pw_hv_source **out, char *err, size_t errlen);
    void   (*close)(pw_hv_source *s);
    pw_err (*node)(pw_hv_source *s, pw_hv_node *out, char *err, size_t errlen);
    /* Adds every active storage pool to r. */
    pw_err (*pools)(pw_hv_source *s, pw_hv_round *r, char *err, size_t errlen);
    /* Adds every domain (up to PW_HV_MAX_DOMAINS) with its parameters to r. */
    pw_err (*domains)(pw_hv_source *s, pw_hv_round *r, char *err, size_t errlen);
} pw_hv_source_ops;

extern const pw_hv_source_ops pw_hv_replay;
extern const pw_hv_source_ops pw_hv_libvirt;

#endif
