/*
 * fuzz_heads.c - libFuzzer target for the grouped open chunks table
 * (collector/chunk_heads.h, storage format 5): the input is stored as the
 * record of group 0 in a scratch LMDB environment, then read through the
 * table's views.
 *
 * Besides "no crash, no out-of-bounds read" (ASan/UBSan) it checks what the
 * view promises: every call answers 0, MDB_NOTFOUND or MDB_CORRUPTED; the
 * bytes a read hands out lie inside the record; a walk gives increasing
 * ids, each the same bytes a get gives; and when the record reads whole, a
 * write view that puts one chunk back as it was and adds another leaves
 * every other chunk as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "chunk_heads.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static MDB_env  *fz_env;
static pwh_table fz_t;
static char      fz_dir[] = "/tmp/pw-fuzz-heads.XXXXXX";

static void
fz_cleanup(void)
{
    char path[sizeof fz_dir + 16];

    mdb_env_close(fz_env);
    snprintf(path, sizeof path, "%s/data.mdb", fz_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", fz_dir);
    unlink(path);
    rmdir(fz_dir);
}

/* One environment for the whole run: every input lives in a txn that is aborted. */
static void
fz_init(void)
{
    MDB_txn *txn;

    if (fz_env != NULL)
        return;
    if (mkdtemp(fz_dir) == NULL || mdb_env_create(&fz_env) != 0
        || mdb_env_set_maxdbs(fz_env, 2) != 0 || mdb_env_set_mapsize(fz_env, 64u << 20) != 0
        || mdb_env_open(fz_env, fz_dir, MDB_NOSYNC, 0600) != 0
        || mdb_txn_begin(fz_env, NULL, 0, &txn) != 0)
        abort();
    if (pwh_table_open(txn, MDB_CREATE, true, &fz_t) != 0 || mdb_txn_commit(txn) != 0)
        abort();
    atexit(fz_cleanup);
}

static void
fz_rc(int rc)
{
    if (rc != 0 && rc != MDB_NOTFOUND && rc != MDB_CORRUPTED)
        abort();
}

/* The chunk of each id 1..PWH_GROUP (len 0: none); -1 if the record is damaged. */
static int
fz_read(MDB_txn *txn, const MDB_val *rec, MDB_val got[PWH_GROUP + 1])
{
    pwh      h;
    MDB_val  v;
    uint64_t id, from = 1;
    int      rc, bad = 0;

    pwh_begin(&h, &fz_t, txn, false);
    for (uint64_t i = 1; i <= PWH_GROUP; i++) {
        got[i].mv_size = 0;
        rc = pwh_get(&h, i, &v);
        fz_rc(rc);
        if (rc == MDB_CORRUPTED) {
            bad = 1;
            continue;
        }
        if (rc == 0) {
            if (rec != NULL && ((const char *) v.mv_data < (const char *) rec->mv_data
                                || (const char *) v.mv_data + v.mv_size
                                       > (const char *) rec->mv_data + rec->mv_size))
                abort();                /* handed out bytes outside the record */
            if (v.mv_size == 0)
                abort();
            got[i] = v;
        }
    }
    while ((rc = pwh_next(&h, from, &id, &v)) == 0) {
        if (id < from || id > PWH_GROUP || got[id].mv_size != v.mv_size || v.mv_size == 0
            || memcmp(got[id].mv_data, v.mv_data, v.mv_size) != 0)
            abort();                    /* the walk and get disagree */
        from = id + 1;
    }
    fz_rc(rc);
    if (pwh_end(&h, 0) != 0)
        abort();
    return bad || rc == MDB_CORRUPTED ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char copy[PWH_GROUP + 1][4096];
    MDB_val       k, v, rec, got[PWH_GROUP + 1], after[PWH_GROUP + 1];
    MDB_txn      *txn;
    unsigned char kb[8] = { 0 };
    pwh           h;
    uint64_t      keep = 0;
    int           rc;

    fz_init();
    if (mdb_txn_begin(fz_env, NULL, 0, &txn) != 0)
        abort();
    k.mv_size = 8;
    k.mv_data = kb;
    v.mv_size = size;
    v.mv_data = (void *) data;
    if (mdb_put(txn, fz_t.dbi, &k, &v, 0) != 0 || mdb_get(txn, fz_t.dbi, &k, &rec) != 0)
        abort();
    if (fz_read(txn, &rec, got) == 0) {
        /* whole: keep copies, then put the first chunk back and add id 64 */
        for (uint64_t i = 1; i <= PWH_GROUP; i++) {
            if (got[i].mv_size > sizeof copy[i])
                goto out;
            if (got[i].mv_size > 0)
                memcpy(copy[i], got[i].mv_data, got[i].mv_size);
            got[i].mv_data = copy[i];
            if (keep == 0 && got[i].mv_size > 0)
                keep = i;
        }
        pwh_begin(&h, &fz_t, txn, true);
        rc = 0;
        if (keep != 0 && (rc = pwh_get(&h, keep, &v)) == 0)
            rc = pwh_put(&h, keep, v.mv_data, v.mv_size);
        if (rc == 0)
            rc = pwh_put(&h, PWH_GROUP, "new", 3);
        /*
         * Bytes after the entry of slot 63 can only be damage, and only a
         * write view's full parse meets them (a read stops at the slot it
         * wants): then the edit is refused, which is all it may do.
         */
        fz_rc(rc);
        if ((rc = pwh_end(&h, rc)) == MDB_CORRUPTED)
            goto out;
        if (rc != 0)
            abort();
        if (fz_read(txn, NULL, after) != 0)
            abort();                    /* what the view wrote must read whole */
        for (uint64_t i = 1; i < PWH_GROUP; i++)
            if (after[i].mv_size != got[i].mv_size
                || (got[i].mv_size > 0 && memcmp(after[i].mv_data, got[i].mv_data, got[i].mv_size) != 0))
                abort();
        if (after[PWH_GROUP].mv_size != 3 || memcmp(after[PWH_GROUP].mv_data, "new", 3) != 0)
            abort();
    } else {
        /* damaged: a write view refuses to edit it */
        pwh_begin(&h, &fz_t, txn, true);
        if (pwh_put(&h, 1, "x", 1) != MDB_CORRUPTED)
            abort();
        pwh_end(&h, MDB_CORRUPTED);
    }
out:
    mdb_txn_abort(txn);
    return 0;
}
