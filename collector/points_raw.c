/*
 * points_raw.c - the raw point engine: one LMDB record per point.
 *
 * Database "points":
 *   key   = series id (u64 big-endian) ++ ts_ms (i64 big-endian, sign bit flipped)
 *   value = the float64 value, IEEE 754 bits as u64 big-endian
 * Big-endian with the sign bit flipped makes memcmp (LMDB's default key
 * order) sort by series, then by time, negative times included, so a range
 * is one cursor seek plus a forward walk.
 *
 * This file is the only one that knows this layout (see points.h).
 */
#include "points.h"

#include "bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RAW_DB      "points"
#define RAW_KEY_LEN 16

typedef struct raw_state raw_state;
struct raw_state {
    MDB_dbi dbi;
};

static void
raw_key(unsigned char *k, uint64_t id, int64_t ts)
{
    pw_put_be64(k, id);
    pw_put_ts(k + 8, ts);
}

static int
raw_open(MDB_txn *txn, unsigned flags, void **state)
{
    raw_state *st;
    int        rc;

    if ((st = calloc(1, sizeof *st)) == NULL)
        return ENOMEM;
    rc = mdb_dbi_open(txn, RAW_DB, (flags & PW_POINTS_CREATE) ? MDB_CREATE : 0, &st->dbi);
    if (rc != 0) {
        free(st);
        return rc;
    }
    *state = st;
    return 0;
}

static void
raw_close(void *state)
{
    free(state);
}

static int
raw_append(void *state, MDB_txn *txn, uint64_t series_id, int64_t ts_ms, double value)
{
    const raw_state *st = state;
    unsigned char    k[RAW_KEY_LEN], v[8];
    uint64_t         bits;
    MDB_val          key = { sizeof k, k }, val = { sizeof v, v };

    memcpy(&bits, &value, sizeof bits);
    raw_key(k, series_id, ts_ms);
    pw_put_be64(v, bits);
    return mdb_put(txn, st->dbi, &key, &val, 0);
}

static int
raw_range(void *state, MDB_txn *txn, uint64_t series_id, int64_t from, int64_t to,
          pw_points_cb cb, void *ctx)
{
    const raw_state *st = state;
    unsigned char    k[RAW_KEY_LEN];
    MDB_val          key = { sizeof k, k }, val;
    MDB_cursor      *cur;
    int              rc;

    if (from > to)
        return 0;
    if ((rc = mdb_cursor_open(txn, st->dbi, &cur)) != 0)
        return rc;
    raw_key(k, series_id, from);
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        const unsigned char *kp = key.mv_data;
        int64_t              ts;
        uint64_t             bits;
        double               value;

        /* A record of another size is not ours to read: stop rather than guess. */
        if (key.mv_size != RAW_KEY_LEN || val.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        ts = pw_get_ts(kp + 8);
        if (pw_get_be64(kp) != series_id || ts > to) {
            rc = MDB_NOTFOUND;          /* past the range: done */
            break;
        }
        bits = pw_get_be64(val.mv_data);
        memcpy(&value, &bits, sizeof value);
        if (cb(ctx, ts, value) != 0) {
            rc = MDB_NOTFOUND;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

const pw_points_ops pw_points_raw = {
    .name   = "raw",
    .open   = raw_open,
    .close  = raw_close,
    .append = raw_append,
    .range  = raw_range,
};
