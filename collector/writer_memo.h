/*
 * writer_memo.h - the writer's memory of each agent's series ids.
 *
 * An agent sends the same series dictionary frame after frame. Turning a
 * dictionary into series ids (labels, host label, canonical key, index
 * lookup) costs more than storing the points, so the writer remembers, per
 * agent id, the last stored frame's dictionary (pw_frame.dict, byte for
 * byte), host and ids. A frame whose dictionary and host are equal to the
 * remembered ones reuses the ids: see pw_store_write_frame_ids for the
 * contract (only ids of committed transactions may be put here).
 *
 * Memory is bounded by max_bytes (dictionaries, ids and keys): when a put
 * would pass it, everything is dropped and the memo starts over, which
 * only costs lookups. Not thread-safe: the writer thread owns it.
 */
#ifndef PW_WRITER_MEMO_H
#define PW_WRITER_MEMO_H

#include <stddef.h>
#include <stdint.h>

#include "pw_err.h"
#include "wire.h"

typedef struct pw_writer_memo pw_writer_memo;

/* New empty memo, owned by the caller (pw_writer_memo_free). NULL on ENOMEM. */
pw_writer_memo *pw_writer_memo_new(size_t max_bytes);
void            pw_writer_memo_free(pw_writer_memo *m);

/*
 * The ids (f->nseries of them) remembered for f's agent if its last put
 * had the same host and dictionary as f, else NULL. The array is the
 * memo's, good until the next put or free.
 */
const uint64_t *pw_writer_memo_get(const pw_writer_memo *m, const pw_frame *f);

/*
 * Remembers ids (f->nseries entries, copied) with f's host and dictionary
 * for f's agent, replacing what it had. PW_ENOMEM: the agent is forgotten
 * (the memo is only an accelerator). A frame without a dictionary block
 * (not from pw_wire_decode) is not remembered.
 */
pw_err pw_writer_memo_put(pw_writer_memo *m, const pw_frame *f, const uint64_t *ids);

/* Agents remembered, and bytes held (for tests). */
size_t pw_writer_memo_count(const pw_writer_memo *m);
size_t pw_writer_memo_bytes(const pw_writer_memo *m);

#endif
