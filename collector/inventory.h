/*
 * inventory.h - the resource inventory (REQUIREMENTS R9): who owns which VM,
 * of what size, since when, and the pool definitions capacity is computed
 * from. Every change is kept with its time, so any past month can be
 * reported as it was.
 *
 * Model:
 *   pool -> host -> VM                        (where a VM runs)
 *   tenant (using unit) -> system -> subsystem -> VM   (who owns it)
 *
 * Identity: a VM is its name (虚拟机名称), unique across the whole inventory
 * (not per tenant: the support center names VMs, and one name must not mean
 * two machines in reports). The libvirt UUID is an attribute, used by
 * reconciliation, not the key: it is often unknown when a request is filed.
 *
 * History: each VM and each pool is a list of versions; a version holds every
 * column and is in effect from its valid_from time until the next version's.
 * The oldest version of a VM or pool is taken to have been in effect since
 * forever (its valid_from_ms reads INT64_MIN): inventories are typically
 * imported after the fact, and a VM delivered on the 10th and first imported
 * on the 25th must still count from the 10th. The lifecycle dates (requested,
 * delivered, terminated) are facts about the VM rather than about a version:
 * every version reports the newest version's dates, so a termination date
 * imported late applies to the whole past. A VM is in service at t when
 * delivered_ms <= t < terminated_ms.
 *
 * Storage: DIR/inventory.mdb, its own LMDB environment (like security.mdb),
 * layout in collector/README.md ("Inventory"). Several processes may have it
 * open at once (the collector read-only, the CLI read-write).
 *
 * Threads: a handle is shared; every call is thread-safe. Callbacks run
 * inside a read transaction and must not call back into the handle. Strings
 * handed to callbacks are borrowed for the call only, never NULL ("" when
 * unknown).
 */
#ifndef PW_INVENTORY_H
#define PW_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"

typedef struct pw_inventory pw_inventory;

/* Longest accepted string column, in bytes (names, remarks, ...). */
#define PW_INV_STR_MAX 1024

/*
 * Opens (creating unless rdonly) DIR/inventory.mdb. *out owned by the caller
 * (pw_inventory_close). PW_ENOENT if DIR does not exist; PW_EIO, PW_EPROTO
 * (not an LMDB file) or PW_EVERSION (newer format) with a sentence in msg.
 * A read-only open of a DIR that holds no inventory.mdb yet succeeds: the
 * handle reads as empty until some other process creates the file, and then
 * sees it (so the collector need not be restarted after the first import).
 * Write calls on a read-only handle: PW_EINVAL.
 */
pw_err pw_inventory_open(const char *dir, bool rdonly, pw_inventory **out, char *msg, size_t msglen);
void   pw_inventory_close(pw_inventory *inv);      /* NULL ok */

/* ---- VMs ---------------------------------------------------------------- */

/* Tri-state for 是否集群部署 (cluster deployment). */
typedef enum pw_inv_cluster { PW_INV_CLUSTER_UNKNOWN = 0, PW_INV_CLUSTER_NO, PW_INV_CLUSTER_YES } pw_inv_cluster;

/* One VM as of some time; strings "" when unknown. */
typedef struct pw_inv_vm pw_inv_vm;
struct pw_inv_vm {
    const char *name, *uuid, *ip;
    const char *tenant, *system, *subsystem;
    const char *pool, *host, *zone, *server_type, *os, *state;
    double      vcpus, memory_gb, sys_disk_gb, data_disk_gb;   /* 0: unknown */
    int64_t     delivered_ms;     /* INT64_MIN: not delivered */
    int64_t     terminated_ms;    /* INT64_MAX: still in service */
    /* The other R9 columns. */
    const char *developer;
    const char *bastion_owner, *bastion_email, *bastion_phone;
    pw_inv_cluster cluster;
    const char *cluster_group, *remarks;
    int64_t     requested_ms;     /* INT64_MIN: unknown */
    /* This version (ignored by pw_inventory_import on input). */
    int64_t     valid_from_ms;    /* INT64_MIN for a VM's oldest version */
    int64_t     valid_to_ms;      /* INT64_MAX for its newest */
    int64_t     recorded_ms;      /* when the version was written */
};

/* Return non-zero to stop the walk (the call then returns PW_OK). */
typedef int (*pw_inv_vm_cb)(void *ctx, const pw_inv_vm *vm);

/*
 * Every VM whose version in effect at time t exists and is in service at t
 * (delivered_ms <= t < terminated_ms); tenant NULL = all, else exact match.
 * By name.
 */
pw_err pw_inventory_vms_at(pw_inventory *inv, int64_t t, const char *tenant, pw_inv_vm_cb cb, void *ctx);

/*
 * Every VM version in service at some time in [from, to): each version once,
 * with its own validity (valid_from_ms, valid_to_ms); the span it counts for
 * is [max(valid_from, delivered), min(valid_to, terminated)) clipped to
 * [from, to). By name, then time.
 */
pw_err pw_inventory_vms_in(pw_inventory *inv, int64_t from, int64_t to, const char *tenant,
                           pw_inv_vm_cb cb, void *ctx);

/* Every VM's newest version, whatever its lifecycle (export). By name. */
pw_err pw_inventory_vms_latest(pw_inventory *inv, const char *tenant, pw_inv_vm_cb cb, void *ctx);

/* Every version of one VM, oldest first. PW_ENOENT if there is no such VM. */
pw_err pw_inventory_vm_history(pw_inventory *inv, const char *name, pw_inv_vm_cb cb, void *ctx);

/* What an import did. */
typedef struct pw_inv_import_stats {
    size_t added;       /* VMs new to the inventory */
    size_t changed;     /* VMs given a new version */
    size_t unchanged;   /* rows equal to the version in effect: nothing written */
} pw_inv_import_stats;

/*
 * Upserts n rows in one transaction (all or nothing). Each row's name is its
 * key; rows must have distinct names, a name and a tenant (PW_EINVAL with
 * msg otherwise; pw_inv_table validates files before this). A row equal in
 * every column to the version in effect at `effective` writes nothing; else it
 * becomes a version valid from `effective` (replacing a version valid from
 * exactly then), recorded at now; a VM's first version is valid since
 * forever, whatever `effective` says. Versions after `effective` are kept
 * (a backdated change does not undo later ones).
 * VMs not among the rows are untouched. stats may be NULL.
 */
pw_err pw_inventory_import(pw_inventory *inv, int64_t now, int64_t effective, const pw_inv_vm *rows,
                           size_t n, pw_inv_import_stats *stats, char *msg, size_t msglen);

/* ---- pools -------------------------------------------------------------- */

typedef enum pw_pool_res { PW_POOL_CPU, PW_POOL_MEMORY, PW_POOL_STORAGE, PW_POOL_NETWORK, PW_POOL_RES_COUNT_ } pw_pool_res;

/* "cpu", "memory", "storage", "network"; parse returns PW_POOL_RES_COUNT_ for unknown. */
const char *pw_pool_res_name(pw_pool_res r);
pw_pool_res pw_pool_res_parse(const char *s);

/*
 * A pool definition; borrowed for the callback only. capacity units: CPU in
 * vCPUs (or cores: whatever the operator means, before overcommit), memory
 * and storage in bytes, network in bytes/s.
 */
typedef struct pw_pool_def pw_pool_def;
struct pw_pool_def {
    const char        *name;
    const char *const *hosts;   size_t nhosts;                /* as agents label them (host) */
    double             cpu_overcommit, memory_overcommit;     /* >= 1 typically; default 1 */
    double             capacity[PW_POOL_RES_COUNT_];           /* 0: measured */
};
typedef int (*pw_pool_cb)(void *ctx, const pw_pool_def *p);

/*
 * Every pool defined (and not deleted) as of t (INT64_MAX: now), by name.
 * A pool's oldest definition counts since forever, as for VMs.
 */
pw_err pw_inventory_pools(pw_inventory *inv, int64_t t, pw_pool_cb cb, void *ctx);

/*
 * Replaces the definition of p->name from `now` on (a new version; none if
 * nothing changed). PW_EINVAL: empty or over-long or non-UTF-8 name or host,
 * a host listed twice, overcommit <= 0 or not finite, a negative or
 * non-finite capacity. overcommit 0 is not "default": callers pass 1.
 */
pw_err pw_inventory_pool_set(pw_inventory *inv, int64_t now, const pw_pool_def *p);

/* Deletes a pool from `now` on (its history stays). PW_ENOENT if not defined now. */
pw_err pw_inventory_pool_delete(pw_inventory *inv, int64_t now, const char *name);

/*
 * Every version of one pool, oldest first: valid_from_ms (INT64_MIN for the
 * oldest), when it was recorded, and whether it is a deletion (then p has
 * the name, no hosts, overcommit 1, capacities 0). PW_ENOENT if the name was
 * never defined.
 */
typedef int (*pw_pool_hist_cb)(void *ctx, int64_t valid_from_ms, int64_t recorded_ms, bool deleted,
                               const pw_pool_def *p);
pw_err pw_inventory_pool_history(pw_inventory *inv, const char *name, pw_pool_hist_cb cb, void *ctx);

#endif
