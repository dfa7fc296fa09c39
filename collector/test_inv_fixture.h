/*
 * test_inv_fixture.h - a cmocka fixture for the tests that need a fresh
 * inventory (inventory_test.c, scope_test.c): a temporary data directory
 * with DIR/inventory.mdb opened read-write.
 *
 * Header-only like test_fixture.h (static functions; include cmocka.h and
 * test_fixture.h first); not part of any library.
 */
#ifndef PW_TEST_INV_FIXTURE_H
#define PW_TEST_INV_FIXTURE_H

#include <stdlib.h>

#include "inventory.h"
#include "test_fixture.h"

typedef struct fx {
    char         *dir;     /* owned; removed by teardown */
    pw_inventory *inv;     /* owned; closed by teardown */
} fx;

/* cmocka setup: *state becomes an fx. */
static int
setup(void **state)
{
    fx  *f = calloc(1, sizeof *f);
    char msg[256];

    assert_non_null(f);
    f->dir = tf_tmpdir();
    assert_int_equal(pw_inventory_open(f->dir, false, &f->inv, msg, sizeof msg), PW_OK);
    *state = f;
    return 0;
}

/* cmocka teardown: closes the inventory, removes the directory, frees the fx. */
static int
teardown(void **state)
{
    fx *f = *state;

    pw_inventory_close(f->inv);
    tf_rmdir(f->dir);
    free(f);
    return 0;
}

#endif
