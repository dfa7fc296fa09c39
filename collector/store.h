/*
 * store.h - the collector's storage: one LMDB environment under --data DIR.
 *
 * Holds the series index (canonical key <-> id), the points, the agent
 * registry and the dedupe table. Point storage sits behind points.h so the
 * compressed-chunk engine can replace the raw one without touching callers.
 *
 * Threads: one writer at a time (the ingest writer thread, or an import);
 * any number of readers, in this process or others (the CLI reads while the
 * collector runs). A pw_store is shared by all threads; a transaction belongs
 * to the thread that began it.
 *
 * Durability: pw_store_write_commit returns PW_OK only once the data is on
 * disk (LMDB's fsync at commit). Only then may ingest ack.
 *
 * Transactions: the environment is opened with MDB_NOTLS, so a read txn is
 * not bound to the thread that began it (it may be ended elsewhere) and one
 * thread may hold several. A write txn must stay on its thread (LMDB's
 * writer lock is a thread's). Resizing the map needs every txn of this
 * process closed; the store waits for that internally (see pw_store_grow),
 * which is why a thread must not begin a txn while it already holds one if
 * a resize may be pending: end the first one before beginning the next.
 *
 * Errors: every LMDB failure is mapped to a pw_err: a full map, ENOSPC or
 * EDQUOT -> PW_EFULL, a full reader table -> PW_EAGAIN, another system
 * error -> PW_EIO (PW_ENOMEM for ENOMEM), LMDB's own codes and damaged
 * records -> PW_EDB. The sentence behind the latest failure is kept, see
 * pw_store_last_error.
 *
 * On-disk layout and format version: collector/README.md, "Storage layout".
 */
#ifndef PW_STORE_H
#define PW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"
#include "series.h"
#include "wire.h"

typedef struct pw_store pw_store;
typedef struct pw_store_txn pw_store_txn;
typedef struct pw_store_pending pw_store_pending;

/* One point of one series, as the write path hands points to the engine. */
typedef struct pw_store_point {
    uint64_t series_id;
    int64_t  ts_ms;
    double   value;
} pw_store_point;

#define PW_STORE_RDONLY 0x1u
/*
 * Creates a new store in an older storage format (2, 3 or 4) instead of
 * the current one; ignored for an existing store. Only for tests that
 * check older stores stay readable and writable, and benchmarks that
 * compare formats.
 */
#define PW_STORE_FORMAT2 0x2u
#define PW_STORE_FORMAT3 0x4u
#define PW_STORE_FORMAT4 0x8u

/*
 * Opens (creating if needed, unless PW_STORE_RDONLY) the store in dir. The
 * caller owns *out (pw_store_close). A new store's map starts at 1 GiB; an
 * existing one keeps its size (at least 1 GiB when opened for writing).
 * PW_STORE_RDONLY opens for reading only, and works while another process
 * (the collector) writes. Errors: PW_ENOENT (PW_STORE_RDONLY and dir, or
 * the data in it, does not exist), PW_EIO (dir cannot be created or
 * opened, e.g. permissions), PW_EVERSION (data written by a newer storage
 * format, or by an incompatible LMDB), PW_EPROTO (dir holds an LMDB file
 * that is not a poolwatch store), PW_ENOMEM, PW_EDB. errbuf (may be NULL)
 * gets a sentence naming the path and the cause.
 */
pw_err pw_store_open(const char *dir, unsigned flags, pw_store **out, char *errbuf, size_t errlen);
/*
 * pw_store_open with the map size a new store starts with, which is also
 * the least a writer runs with (0 = the default, 1 GiB). An existing store
 * keeps a larger size. For tests of the full-map path (a tiny map) and for
 * small installations; ignored with PW_STORE_RDONLY.
 */
pw_err pw_store_open_sized(const char *dir, unsigned flags, uint64_t map_size, pw_store **out,
                           char *errbuf, size_t errlen);

/* Closes s (NULL is fine). Every txn on s must have ended. */
void   pw_store_close(pw_store *s);

/*
 * Writes DIR/file into path (len bytes) after checking that the data
 * directory exists and is a directory, for every file the collector keeps
 * there (data.mdb, security.mdb). PW_ENOENT: dir does not exist; PW_EIO:
 * not a directory, cannot be read, or the path is too long. errbuf (which
 * must not be NULL) says which, naming the directory.
 */
pw_err pw_data_path(const char *dir, const char *file, char *path, size_t len,
                    char *errbuf, size_t errlen);

/*
 * Copies the sentence describing the latest failure of any call on s (in
 * any thread: the latest wins) into buf, NUL-terminated, "" if none yet.
 * Returns its length.
 */
size_t pw_store_last_error(pw_store *s, char *buf, size_t len);

/* --- write path (one writer) ------------------------------------------- */

/*
 * Begins the write transaction; *out belongs to this thread until
 * commit/abort. Blocks while another write txn (of any process) is open.
 * PW_EINVAL on a PW_STORE_RDONLY store; PW_ENOMEM, PW_EDB.
 */
pw_err pw_store_write_begin(pw_store *s, pw_store_txn **out);

/*
 * Stores one decoded frame inside the write transaction: dedupe on
 * (agent id, boot id, seq) - a seq at or below the last one stored for that
 * (agent, boot) sets *duplicate and writes nothing else -, then series ids
 * (adding label host=<frame host> to series without a host label), points,
 * and the agent registry (first/last seen, version, host, frames).
 * Frames are trusted to be decoded by pw_wire_decode but are checked again
 * (names, label count, sample indexes) before anything is written:
 * PW_EPROTO (malformed) or PW_ETOOBIG (a series would have more than
 * PW_MAX_LABELS labels once host is added) means nothing of this frame was
 * written and t is still good for other frames. *duplicate is set on every
 * return (false unless a duplicate).
 * PW_EFULL: the LMDB map is full; abort, call pw_store_grow and redo the
 * whole transaction. Other errors (PW_ENOMEM, PW_EIO, PW_EDB): t is only
 * good for pw_store_write_abort.
 */
pw_err pw_store_write_frame(pw_store_txn *t, const pw_frame *f, int64_t recv_ms, bool *duplicate);

/*
 * As pw_store_write_frame, for a caller that remembers series ids between
 * frames (the collector's writer, per agent). ids has f->nseries entries,
 * owned by the caller. known false: ids is filled in, each series' id or 0
 * for a series no sample names (and left undefined on error). known true:
 * ids holds what an earlier call filled in for a frame with the same
 * dictionary (pw_frame.dict, byte for byte) and the same host, in a
 * transaction that committed; that frame's checks passed, so this one's
 * series are not checked or looked up again (an entry 0 is resolved).
 * Ids of an aborted transaction must not be remembered: they may be given
 * to other series later. pend: NULL to write the points now, or see
 * pw_store_pending below.
 */
pw_err pw_store_write_frame_ids(pw_store_txn *t, const pw_frame *f, int64_t recv_ms,
                                uint64_t *ids, bool known, pw_store_pending *pend,
                                bool *duplicate);

/*
 * Points held back from several pw_store_write_frame_ids calls (pend not
 * NULL: everything of the frame is written but its points, which go to
 * pend), to be stored together by pw_store_write_pending before the
 * commit. A group commit's frames then touch each series' open chunk in
 * series order, one pass for the whole batch. Owned by the caller; one
 * thread at a time.
 */
pw_store_pending *pw_store_pending_new(void);
void              pw_store_pending_free(pw_store_pending *pp);
/* Forgets what pp holds (after an aborted txn), keeping its memory. */
void              pw_store_pending_reset(pw_store_pending *pp);
/*
 * Stores pp's points in t, exactly as writing each frame's points in the
 * order the frames came would, and empties pp. Errors as
 * pw_store_write_frame (never PW_EPROTO: the frames were checked).
 */
pw_err            pw_store_write_pending(pw_store_txn *t, pw_store_pending *pp);

/*
 * Commits and releases t (whatever the result). PW_EFULL on ENOSPC or a full
 * map (pw_store_last_error says which: growing the map does not help a full
 * disk), PW_EIO/PW_EDB on other failures: then nothing of the txn is stored.
 */
pw_err pw_store_write_commit(pw_store_txn *t);
/* Aborts and releases t. */
void   pw_store_write_abort(pw_store_txn *t);

/*
 * Grows the LMDB map (doubling, up to the configured maximum) and clears
 * reader slots left by dead processes. mdb_env_set_mapsize is only legal
 * with no transaction open in this process: this waits until every txn of
 * this process has ended and holds new ones back meanwhile, so the calling
 * thread must hold none (it would wait for itself). Other processes adopt
 * the new size on their own (MDB_MAP_RESIZED, handled by the store). The
 * new size is written to disk with the next commit. PW_EFULL when it cannot
 * grow further, PW_EINVAL on a read-only store, PW_EDB.
 */
pw_err pw_store_grow(pw_store *s);

/* Sets the map size ceiling in bytes (0 = no ceiling beyond the disk). */
void   pw_store_set_max_size(pw_store *s, uint64_t bytes);

/* Current map size of this process's mapping, in bytes. */
uint64_t pw_store_map_size(pw_store *s);

/* --- read path ---------------------------------------------------------- */

/*
 * Begins a read snapshot: it sees every txn committed before, none after.
 * Release with pw_store_read_end (from any thread). Handles MDB_MAP_RESIZED
 * (the map was grown by another process) by adopting the new size. Keep
 * snapshots short: pages they see cannot be reused by the writer.
 * PW_EAGAIN when LMDB's reader table is full; PW_ENOMEM, PW_EDB.
 */
pw_err pw_store_read_begin(pw_store *s, pw_store_txn **out);
void   pw_store_read_end(pw_store_txn *t);

/*
 * Begins another read snapshot while the caller holds `held`, an open read
 * txn of this process: for worker threads of a reader that already has
 * one. pw_store_read_begin would risk a deadlock there: it waits while a
 * map resize is pending, and the resize waits for every txn, `held` too,
 * to end. This one never waits: no resize can start while `held` is open.
 * The snapshot is the newest committed, which may be newer than `held`'s.
 * Release with pw_store_read_end, before `held` ends. PW_EAGAIN: another
 * process grew the map since `held` began (a new size cannot be adopted
 * while `held` is open) or LMDB's reader table is full: go on with `held`
 * alone. PW_EINVAL if `held` is a write txn; PW_ENOMEM, PW_EDB.
 */
pw_err pw_store_read_begin_beside(pw_store_txn *held, pw_store_txn **out);

/* The store t belongs to (for pw_store_last_error). */
pw_store *pw_store_txn_store(const pw_store_txn *t);

/*
 * Calls cb for every series whose metric name equals `metric` (every series
 * if metric is NULL), in key order (in stores of format 2 and older, series
 * whose keys share their first 480 bytes come in id order). In formats 3
 * and 4 the matches are collected (keys copied) and sorted before the first call, so
 * cb may write in the same txn. key is the canonical key, not NUL-terminated,
 * valid only during the call. cb returns 0 to go on, non-zero to stop; the
 * call then returns PW_OK. Works in read and write txns. PW_EDB on a
 * damaged index.
 */
typedef int (*pw_store_series_cb)(void *ctx, uint64_t id, const char *key, size_t keylen);
pw_err pw_store_series_scan(pw_store_txn *t, const char *metric, pw_store_series_cb cb, void *ctx);

/*
 * Points of one series with from <= ts <= to (both inclusive), in time
 * order; nothing if from > to or the id is unknown. cb as above.
 */
typedef int (*pw_store_point_cb)(void *ctx, int64_t ts_ms, double value);
pw_err pw_store_points(pw_store_txn *t, uint64_t series_id, int64_t from, int64_t to,
                       pw_store_point_cb cb, void *ctx);

/*
 * Resolutions. Raw points are kept --retention-raw (35 d); rollups are
 * aggregates per series over fixed, UTC-aligned buckets, kept longer
 * (5 min: 13 months, 1 h and 1 d: 5 years). A monthly p95 is the p95 of the
 * month's 5-minute averages; a yearly one uses the 1-hour averages.
 */
typedef enum pw_res {
    PW_RES_RAW = 0,
    PW_RES_5M,
    PW_RES_1H,
    PW_RES_1D,
    PW_RES_COUNT_
} pw_res;

/* Bucket width in ms (0 for PW_RES_RAW). */
int64_t pw_res_ms(pw_res r);
/* "raw", "5m", "1h", "1d". */
const char *pw_res_name(pw_res r);

/* One bucket of one series: points (start, start + width], see rollup.h. count > 0 always. */
typedef struct pw_rollup {
    int64_t  start;    /* bucket start, ms, a multiple of the width: points (start, start + w] */
    double   min, max, sum;
    double   last;     /* value of the latest point in the bucket */
    int64_t  last_ts;  /* its time */
    uint64_t count;    /* points aggregated */
} pw_rollup;

/*
 * Calls cb for each bucket of series_id at resolution res (not PW_RES_RAW)
 * with from <= start <= to, in time order, in any txn. The latest buckets
 * may still grow as points arrive; they are computed from the points not yet
 * rolled up, so a query never misses recent data. cb returns 0 to go on.
 * PW_EINVAL for PW_RES_RAW.
 */
typedef int (*pw_store_rollup_cb)(void *ctx, const pw_rollup *r);
pw_err pw_store_rollups(pw_store_txn *t, uint64_t series_id, pw_res res, int64_t from, int64_t to,
                        pw_store_rollup_cb cb, void *ctx);

/* The fields of a pw_rollup besides start, for pw_store_rollups_cols. */
#define PW_ROLLUP_MIN     0x01u
#define PW_ROLLUP_MAX     0x02u
#define PW_ROLLUP_SUM     0x04u
#define PW_ROLLUP_LAST    0x08u
#define PW_ROLLUP_LAST_TS 0x10u
#define PW_ROLLUP_COUNT   0x20u
#define PW_ROLLUP_ALL     0x3fu

/*
 * pw_store_rollups for callers that need only some fields: the same buckets
 * with the same values in start and the fields in cols (PW_ROLLUP_*), and 0
 * in the others (count too: a bucket is still never empty). Cheaper because
 * the chunk engine keeps each field of its stored buckets in a column of
 * its own and decodes only the columns asked for: a month of 5-minute
 * buckets read for an average (SUM | COUNT) costs a third of all six.
 * cols 0 reads nothing but start. PW_EINVAL as pw_store_rollups.
 */
pw_err pw_store_rollups_cols(pw_store_txn *t, uint64_t series_id, pw_res res, int64_t from, int64_t to,
                             unsigned cols, pw_store_rollup_cb cb, void *ctx);

/*
 * A run of consecutive buckets of one series, a column per field
 * (pw_store_rollups_runs): bucket i is start[i], min[i], ... count[i].
 * Only the columns asked for are set, the others NULL; last_ts and count
 * are whole numbers held as doubles (as the chunk engine stores them,
 * exact below 2^53). Borrowed: valid during the callback only.
 */
typedef struct pw_rollup_run {
    size_t         n;                  /* buckets, > 0 */
    const int64_t *start;
    const double  *min, *max, *sum, *last, *last_ts, *count;
} pw_rollup_run;

/* Return non-zero to stop the read (the call then returns PW_OK). */
typedef int (*pw_store_rollup_run_cb)(void *ctx, const pw_rollup_run *r);

/*
 * pw_store_rollups_cols handing over buckets in runs rather than one call
 * per bucket: the same buckets, in the same order, with the same values in
 * the columns of cols, cut into runs however the engine holds them (the
 * chunk engine: one stored block, a day of 5-minute buckets, per run).
 * For callers that work on whole arrays - the reports read every bucket of
 * a month for every VM, and a call and a pw_rollup copy per bucket was a
 * quarter of that time. PW_EINVAL as pw_store_rollups.
 */
pw_err pw_store_rollups_runs(pw_store_txn *t, uint64_t series_id, pw_res res, int64_t from, int64_t to,
                             unsigned cols, pw_store_rollup_run_cb cb, void *ctx);

/*
 * Background upkeep of the point engine, in one write txn of its own (call
 * from the thread that may hold the write lock briefly, never inside another
 * txn): rolls up what changed, seals open chunks of series that went quiet,
 * and deletes what is past its retention (ms per resolution, 0 = keep
 * forever; raw points stay until their rollups exist). Does about `budget`
 * units of work and sets *more when work remains: call again. PW_OK with
 * nothing done for engines without upkeep (raw). Errors as commit.
 */
pw_err pw_store_maintain(pw_store *s, int64_t now, const int64_t retention[PW_RES_COUNT_],
                         unsigned budget, bool *more);

/*
 * Stores samples that do not come from an agent (poolwatch import,
 * backfill): series and samples as in a frame, but no dedupe, no agent
 * record and no host label added; the header is ignored. Points may be
 * older than what the series holds (history is merged in). PW_EPROTO /
 * PW_ETOOBIG: f is not storable and nothing of it was written (t stays
 * usable); PW_EFULL and others as pw_store_write_frame.
 */
pw_err pw_store_write_samples(pw_store_txn *t, const pw_frame *f);

/*
 * Resolves, creating those that do not exist, the series f's samples name,
 * as pw_store_write_samples would, without storing any point. For an
 * import: creating a window's series in one transaction writes the series
 * index once, where creating them across the transactions of its points
 * rewrites the index pages (random hash order) in every one of them, and
 * the file keeps room for those copies. Errors as pw_store_write_samples.
 */
pw_err pw_store_write_series(pw_store_txn *t, const pw_frame *f);

typedef struct pw_agent_info {
    char     agent_id[PW_WIRE_MAX_AGENT_ID + 1];
    char     host[PW_WIRE_MAX_HOST + 1];
    char     version[PW_WIRE_MAX_AGENT_VERSION + 1];
    uint8_t  boot_id[PW_WIRE_BOOT_ID_LEN];     /* of the newest frame */
    uint64_t last_seq;                         /* of the newest frame */
    int64_t  first_seen_ms;                    /* collector clock */
    int64_t  last_seen_ms;
    int64_t  last_agent_ts_ms;                 /* agent clock in the newest frame */
    uint64_t frames;                           /* frames stored (not duplicates) */
    uint64_t samples;                          /* samples stored */
} pw_agent_info;

/*
 * Calls cb for every known agent, in agent id order. *a is valid only during
 * the call. cb as above. PW_EDB if a record is damaged.
 */
typedef int (*pw_store_agent_cb)(void *ctx, const pw_agent_info *a);
pw_err pw_store_agents(pw_store_txn *t, pw_store_agent_cb cb, void *ctx);

/*
 * A list of agents for display: fill it with pw_agent_list_add as the
 * pw_store_agent_cb of pw_store_agents (or from any other source), then
 * pw_agent_list_sort orders it by host, then agent id. The list owns `a`
 * (pw_agent_list_free). On allocation failure add sets nomem and stops.
 */
typedef struct pw_agent_list {
    pw_agent_info *a;
    size_t         n, cap;
    bool           nomem;
} pw_agent_list;

int  pw_agent_list_add(void *list, const pw_agent_info *a);
void pw_agent_list_sort(pw_agent_list *l);
void pw_agent_list_free(pw_agent_list *l);

/*
 * Housekeeping, in a write txn: deletes the dedupe rows of boots last seen
 * before before_ms, except each agent's newest boot. Safe because a resent
 * frame of an expired boot would only rewrite the same points (a point is
 * keyed by series and time) and count once more in the agent's frames.
 * *removed (may be NULL) gets the number of rows deleted. Errors as
 * pw_store_write_frame.
 */
pw_err pw_store_dedupe_expire(pw_store_txn *t, int64_t before_ms, uint64_t *removed);

#endif
