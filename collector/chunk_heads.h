/*
 * chunk_heads.h - the chunk engine's table of open chunks (`chunk_head`):
 * one series' open chunk got, put, deleted or walked to by series id, in
 * either of the table's two layouts. Only points_chunk.c uses it.
 *
 * Per series (storage formats 2 to 4): key u64 series id, value the open
 * chunk (chunk.h, open form).
 *
 * Grouped (format 5): key u64 (id - 1) / PWH_GROUP, value the open chunks
 * of the series with ids PWH_GROUP g + 1 .. PWH_GROUP g + PWH_GROUP that
 * have one: [PWH_VERSION], then per series in id order a u8 slot
 * ((id - 1) % PWH_GROUP), a uvarint length (>= 1) and the open chunk. A
 * group with no open chunk has no record.
 *
 * Why groups: an open chunk grows with every append. As one record a
 * series, ~100-byte records that all grow at the same pace make whole
 * leaves split together and run about half full (59 % page fill on the
 * storage benchmark), and each pays 18 bytes of LMDB node, key and slot.
 * A group is a few to tens of KB in overflow pages it mostly fills, with
 * 2-3 bytes per series beside each chunk. An agent's series have
 * consecutive ids, so its frame rewrites about as many bytes as the
 * leaves of its series' records took before.
 *
 * A pwh is one engine call's view of the table inside one transaction of
 * the caller's. A write view edits one group at a time in memory and
 * writes it back when the call moves on to another group, walks (pwh_next)
 * or ends (pwh_end): a run of series of one group costs one read and one
 * write of its record. Because of that, an engine call must end its view
 * before anything else in the same transaction reads the table (another
 * view included). Per series, a write view walks one cursor (the next
 * series is usually the next record) and writes where it stands.
 *
 * Errors are LMDB codes (0, MDB_NOTFOUND, MDB_CORRUPTED for a malformed
 * group record, ENOMEM, any mdb_* code), as the engine's are.
 */
#ifndef PW_CHUNK_HEADS_H
#define PW_CHUNK_HEADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#define PWH_GROUP   64       /* series per group record (format 5); part of the format */
#define PWH_VERSION 1        /* first byte of a group record */

/* The table, as opened once per store (read-only after pwh_table_open). */
typedef struct pwh_table pwh_table;
struct pwh_table {
    MDB_dbi dbi;
    bool    grouped;         /* format 5 */
    size_t  inline_max;      /* largest value LMDB keeps in a leaf with an 8-byte key */
};

/*
 * Opens `chunk_head` in txn (creating it with MDB_CREATE in create) for
 * the layout grouped says. 0 or an mdb_dbi_open / mdb_env_stat code.
 */
int pwh_table_open(MDB_txn *txn, unsigned create, bool grouped, pwh_table *t);

/* One call's view. Lives on the caller's stack; fields are private. */
typedef struct pwh pwh;
struct pwh {
    const pwh_table *t;
    MDB_txn         *txn;
    bool             write;      /* edits allowed; grouped: groups are loaded to be read */
    MDB_cursor      *cur;        /* opened on first use */
    unsigned char    key[8];
    uint64_t         at;         /* per series: the id the cursor stands on, 0 = none */
    /* grouped: the group in memory */
    bool             loaded, dirty, existed;
    uint64_t         gid;
    size_t           oldlen;     /* its record's size in the table (existed) */
    uint32_t         off[PWH_GROUP], len[PWH_GROUP];    /* len 0: no open chunk */
    unsigned char   *buf;        /* the slots' bytes; replaced ones stay until compacted */
    size_t           used, live, cap;
    unsigned char   *out;        /* the record being written */
    size_t           outcap;
};

/*
 * Starts a view of t in txn: write for a call that puts or deletes (txn a
 * write txn), else read only. Allocates nothing until used.
 */
void pwh_begin(pwh *h, const pwh_table *t, MDB_txn *txn, bool write);

/*
 * The open chunk of id (>= 1) in *v: 0, or MDB_NOTFOUND when the series
 * has none. v->mv_data is borrowed from LMDB or from h, valid until the
 * next pwh_put, pwh_del, pwh_next or pwh_end on h and any write to the
 * table, whichever comes first.
 */
int pwh_get(pwh *h, uint64_t id, MDB_val *v);

/*
 * The first series with id >= from that has an open chunk: its id in *id,
 * its chunk in *v (as pwh_get's), or MDB_NOTFOUND when none is left.
 * Writes an edited group back first.
 */
int pwh_next(pwh *h, uint64_t from, uint64_t *id, MDB_val *v);

/* Sets id's open chunk to data[0..len), len >= 1 (copied). Write views only. */
int pwh_put(pwh *h, uint64_t id, const void *data, size_t len);

/* Removes id's open chunk: 0, or MDB_NOTFOUND when it had none. Write views only. */
int pwh_del(pwh *h, uint64_t id);

/*
 * Ends the view: when rc is 0, writes the group being edited back and
 * returns that write's code; otherwise writes nothing (the caller's txn is
 * failing) and returns rc. Always releases what h holds.
 */
int pwh_end(pwh *h, int rc);

#endif
