/*
 * cli_inventory.h - what the inventory and pool commands share
 * (cli_inventory.c, cli_inventory_reconcile.c, cli_pool.c).
 */
#ifndef PW_CLI_INVENTORY_H
#define PW_CLI_INVENTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "inventory.h"

/*
 * Opens g->data_dir's inventory; on failure prints why and returns
 * PW_CLI_NODATA (PW_CLI_FAIL for ENOMEM). The caller owns *out.
 */
int pw_cli_open_inventory(const pw_cli *g, bool rdonly, pw_inventory **out);

/* A --at / --effective value: a table date (2026-10-10, 2026年10月10日) or any pw_time_parse form; NULL: now. */
bool pw_cli_inventory_time(const char *s, int64_t now, int64_t *out);

/* poolwatch inventory reconcile (cli_inventory_reconcile.c). */
int pw_cli_inventory_reconcile(pw_cli *g, const char *days, const char *at, const char *format);

#endif
