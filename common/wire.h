/*
 * wire.h - poolwatch wire format v1: frames (agent -> collector) and acks.
 *
 * The format is documented byte by byte in common/README.md. In short, a
 * frame is one msgpack map:
 *
 *   "v"       uint   protocol version (1)
 *   "agent"   str    agent id, stable across restarts
 *   "boot"    bin16  random per agent start
 *   "seq"     uint   1, 2, 3 ... per boot
 *   "ts"      int    agent wall clock, ms since epoch, when the frame was made
 *   "host"    str    hostname
 *   "ver"     str    agent version (optional)
 *   "series"  array  dictionary: [metric, name1, value1, name2, value2, ...] each
 *   "samples" array  groups: [ts_ms, sid, value, sid, value, ...] each
 *
 * and an ack is a map {"v":1, "seq":N, "status":S, "msg":str, "retry_ms":uint}.
 *
 * Compatibility: a decoder accepts any "v" it knows (1 for now) and answers
 * PW_EVERSION for a higher one, so a collector of a newer version keeps
 * serving v1 agents. Unknown top-level keys are skipped and counted so that
 * optional fields can be added to v1 without breaking older collectors.
 */
#ifndef PW_WIRE_H
#define PW_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "pw_err.h"
#include "series.h"

#define PW_WIRE_VERSION            1
#define PW_WIRE_MAX_FRAME          (16u << 20)   /* bytes */
#define PW_WIRE_MAX_SERIES         200000u
#define PW_WIRE_MAX_GROUPS         10000u
#define PW_WIRE_MAX_SAMPLES        1000000u
#define PW_WIRE_MAX_OBJECTS        4000000u      /* msgpack objects in one frame */
#define PW_WIRE_MAX_DEPTH          8             /* nesting, unknown keys included */
#define PW_WIRE_MAX_KEYS           64            /* top-level keys, unknown ones included */
#define PW_WIRE_MAX_AGENT_ID       128
#define PW_WIRE_MAX_HOST           255
#define PW_WIRE_MAX_AGENT_VERSION  64
#define PW_WIRE_MAX_ACK_MSG        255
#define PW_WIRE_BOOT_ID_LEN        16
/* Timestamps outside [2000-01-01, 2200-01-01) are rejected. */
#define PW_WIRE_MIN_TS             INT64_C(946684800000)
#define PW_WIRE_MAX_TS             INT64_C(7258118400000)

typedef struct pw_frame_header {
    uint32_t version;
    char     agent_id[PW_WIRE_MAX_AGENT_ID + 1];
    uint8_t  boot_id[PW_WIRE_BOOT_ID_LEN];
    uint64_t seq;
    int64_t  ts_ms;
    char     host[PW_WIRE_MAX_HOST + 1];
    char     agent_version[PW_WIRE_MAX_AGENT_VERSION + 1];   /* "" if absent */
} pw_frame_header;

/* One dictionary entry: labels sorted by name, unique, all strings NUL-terminated. */
typedef struct pw_wire_series {
    const char *metric;
    size_t      nlabels;
    pw_label   *labels;
} pw_wire_series;

typedef struct pw_wire_sample {
    uint32_t series;    /* index into pw_frame.series */
    int64_t  ts_ms;
    double   value;     /* always finite */
} pw_wire_sample;

/* A decoded frame. Everything it points to lives until pw_frame_release. */
typedef struct pw_frame {
    pw_frame_header hdr;
    size_t          nseries;
    pw_wire_series *series;
    size_t          nsamples;
    pw_wire_sample *samples;
    /*
     * The dictionary's strings, in one block of dict_len bytes in the arena:
     * per series its label count (one byte), then metric NUL and name NUL
     * value NUL per label, in wire order. The strings of series[] point into
     * it. Two frames whose blocks are equal byte for byte name the same series
     * in the same order, so a receiver may reuse what it worked out for one
     * (the collector's writer keeps each agent's series ids this way).
     */
    const char     *dict;
    size_t          dict_len;
    uint32_t        nonfinite;     /* samples skipped: value was NaN or +-Inf */
    uint32_t        unknown_keys;  /* top-level keys this version does not know */
    void           *arena_;        /* private */
} pw_frame;

/*
 * Encodes hdr + batch as a v1 frame. On PW_OK *buf is a malloc'd buffer of
 * *len bytes owned by the caller (free()). PW_EINVAL if the header is out of
 * the limits above, PW_ETOOBIG if the frame would exceed PW_WIRE_MAX_FRAME.
 */
pw_err pw_wire_encode(const pw_frame_header *hdr, const pw_batch *b, void **buf, size_t *len);

/*
 * Decodes and validates a frame of len bytes. Never reads outside buf and
 * never trusts a count before checking it against the bytes that remain.
 * On PW_OK the caller owns *out's contents and calls pw_frame_release.
 * On error nothing needs releasing, errbuf (if not NULL) says which field
 * was wrong and why, and out->hdr.seq still holds the frame's seq if it
 * could be read (0 otherwise) so the reject can name it. Errors: PW_EPROTO (malformed, wrong type, bad name),
 * PW_ETOOBIG (over a limit), PW_EVERSION (version this build does not speak),
 * PW_ENOMEM.
 */
pw_err pw_wire_decode(const void *buf, size_t len, pw_frame *out, char *errbuf, size_t errlen);
void   pw_frame_release(pw_frame *f);

/* What the collector says about one frame. */
typedef enum pw_ack_status {
    PW_ACK_STORED      = 0,  /* durable now: drop it from the spool */
    PW_ACK_DUPLICATE   = 1,  /* stored earlier (resend): drop it from the spool */
    PW_ACK_RETRY       = 2,  /* collector cannot store now (disk full, overload): keep, retry later */
    PW_ACK_REJECTED    = 3,  /* frame is malformed and never will be stored: drop and count */
    PW_ACK_UNSUPPORTED = 4,  /* collector does not speak this version: keep, retry much later */
} pw_ack_status;

typedef struct pw_ack {
    uint64_t      seq;
    pw_ack_status status;
    uint32_t      retry_ms;                     /* hint for RETRY/UNSUPPORTED, 0 = agent decides */
    char          msg[PW_WIRE_MAX_ACK_MSG + 1]; /* human-readable reason, "" when stored */
} pw_ack;

/* Encodes an ack into a malloc'd buffer owned by the caller (free()). */
pw_err pw_wire_encode_ack(const pw_ack *ack, void **buf, size_t *len);
/* Decodes an ack; PW_EPROTO if malformed. */
pw_err pw_wire_decode_ack(const void *buf, size_t len, pw_ack *out);

/* Name of an ack status ("stored", "duplicate", ...). */
const char *pw_ack_status_name(pw_ack_status s);

#endif
