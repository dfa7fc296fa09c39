/*
 * pool_config.h - pool definitions from the collector's YAML config file
 * (the `pools:` list), written into the inventory at start and on SIGHUP.
 *
 *   pools:
 *     - name: pool-a
 *       hosts: [hv1, hv2]          # as agents name themselves (the host label)
 *       cpu_overcommit: 2          # default 1
 *       memory_overcommit: 1.2     # default 1
 *       capacity:                  # optional: overrides of measured capacity
 *         cpu: 128                 # logical CPUs before overcommit
 *         memory: 512GiB           # bytes (sizes as 64MiB, 1T)
 *         storage: 20TiB
 *         network: 2500000000      # bytes/s (a size: 2.5G)
 *
 * The file is read whole and checked before anything is written: one bad
 * entry (message with file, line and key) changes nothing. Pools not in the
 * file are left alone (pools may also be set with `poolwatch pool set`);
 * a pool in the file replaces its definition each time the file is read
 * (pw_inventory_pool_set writes a new version only if something changed).
 */
#ifndef PW_POOL_CONFIG_H
#define PW_POOL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "inventory.h"
#include "pw_err.h"

/*
 * Reads path's `pools:` list and sets each pool in inv at now. *npools (may
 * be NULL) gets how many. A file without `pools:` sets nothing. PW_EIO: the
 * file cannot be read; PW_EINVAL: not YAML or a bad entry; PW_ENOMEM; an
 * inventory error. msg says which.
 */
pw_err pw_pool_config_apply(const char *path, pw_inventory *inv, int64_t now, size_t *npools,
                            char *msg, size_t msglen);

#endif
