/*
 * wire_encode.c - v1 frames and acks, written with msgpack-c's packer.
 *
 * Values go out in the smallest exact msgpack form: most node metrics are
 * integer counters or gauges, which pack as 1-9 byte ints instead of a 9-byte
 * float64; a value a float32 holds exactly packs in 5 bytes.
 */
#include "wire.h"

#include <math.h>
#include <msgpack.h>
#include <string.h>

static void
enc_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);

    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void
enc_key(msgpack_packer *pk, const char *k)
{
    enc_str(pk, k);
}

static void
enc_value(msgpack_packer *pk, double v)
{
    /* 2^63 is exactly representable; anything at or past it is not an int64. */
    if (v == floor(v) && fabs(v) < 9223372036854775808.0)
        msgpack_pack_int64(pk, (int64_t) v);
    else if ((double) (float) v == v)
        msgpack_pack_float(pk, (float) v);
    else
        msgpack_pack_double(pk, v);
}

/* Index one past the last sample of the group that starts at sample i. */
static size_t
enc_group_end(const pw_batch *b, size_t i, size_t n)
{
    uint32_t sid;
    int64_t  ts, ts2;
    double   v;

    pw_batch_sample(b, i, &sid, &ts, &v);
    for (i++; i < n; i++) {
        pw_batch_sample(b, i, &sid, &ts2, &v);
        if (ts2 != ts)
            break;
    }
    return i;
}

static int
enc_header_valid(const pw_frame_header *h)
{
    size_t alen = strlen(h->agent_id), hlen = strlen(h->host);

    return alen > 0 && alen <= PW_WIRE_MAX_AGENT_ID && hlen > 0 && hlen <= PW_WIRE_MAX_HOST
        && strlen(h->agent_version) <= PW_WIRE_MAX_AGENT_VERSION && h->seq > 0
        && h->ts_ms >= PW_WIRE_MIN_TS && h->ts_ms < PW_WIRE_MAX_TS;
}

pw_err
pw_wire_encode(const pw_frame_header *hdr, const pw_batch *b, void **buf, size_t *len)
{
    msgpack_sbuffer sbuf;
    msgpack_packer  pk;
    size_t          nseries = pw_batch_nseries(b), nsamples = pw_batch_nsamples(b);
    size_t          ngroups = 0, i, j;
    int             has_ver = hdr->agent_version[0] != '\0';

    if (!enc_header_valid(hdr))
        return PW_EINVAL;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);

    msgpack_pack_map(&pk, has_ver ? 9 : 8);
    enc_key(&pk, "v");
    msgpack_pack_uint32(&pk, PW_WIRE_VERSION);
    enc_key(&pk, "agent");
    enc_str(&pk, hdr->agent_id);
    enc_key(&pk, "boot");
    msgpack_pack_bin(&pk, PW_WIRE_BOOT_ID_LEN);
    msgpack_pack_bin_body(&pk, hdr->boot_id, PW_WIRE_BOOT_ID_LEN);
    enc_key(&pk, "seq");
    msgpack_pack_uint64(&pk, hdr->seq);
    enc_key(&pk, "ts");
    msgpack_pack_int64(&pk, hdr->ts_ms);
    enc_key(&pk, "host");
    enc_str(&pk, hdr->host);
    if (has_ver) {
        enc_key(&pk, "ver");
        enc_str(&pk, hdr->agent_version);
    }

    enc_key(&pk, "series");
    msgpack_pack_array(&pk, nseries);
    for (i = 0; i < nseries; i++) {
        size_t          nl;
        const pw_label *l = pw_batch_series_labels(b, i, &nl);

        msgpack_pack_array(&pk, 1 + 2 * nl);
        enc_str(&pk, pw_batch_series_metric(b, i));
        for (j = 0; j < nl; j++) {
            enc_str(&pk, l[j].name);
            enc_str(&pk, l[j].value);
        }
    }

    /* Samples were added group by group, so each group is a contiguous run. */
    enc_key(&pk, "samples");
    for (i = 0; i < nsamples; i = enc_group_end(b, i, nsamples))
        ngroups++;
    msgpack_pack_array(&pk, ngroups);
    for (i = 0; i < nsamples; i = j) {
        uint32_t sid;
        int64_t  ts;
        double   v;

        j = enc_group_end(b, i, nsamples);
        pw_batch_sample(b, i, &sid, &ts, &v);
        msgpack_pack_array(&pk, 1 + 2 * (j - i));
        msgpack_pack_int64(&pk, ts);
        for (size_t k = i; k < j; k++) {
            pw_batch_sample(b, k, &sid, &ts, &v);
            msgpack_pack_uint32(&pk, sid);
            enc_value(&pk, v);
        }
    }

    if (sbuf.size > PW_WIRE_MAX_FRAME) {
        msgpack_sbuffer_destroy(&sbuf);
        return PW_ETOOBIG;
    }
    if (sbuf.data == NULL) {
        msgpack_sbuffer_destroy(&sbuf);
        return PW_ENOMEM;
    }
    *len = sbuf.size;
    *buf = msgpack_sbuffer_release(&sbuf);
    return PW_OK;
}

pw_err
pw_wire_encode_ack(const pw_ack *ack, void **buf, size_t *len)
{
    msgpack_sbuffer sbuf;
    msgpack_packer  pk;
    size_t          mlen = strnlen(ack->msg, PW_WIRE_MAX_ACK_MSG);

    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    enc_key(&pk, "v");
    msgpack_pack_uint32(&pk, PW_WIRE_VERSION);
    enc_key(&pk, "seq");
    msgpack_pack_uint64(&pk, ack->seq);
    enc_key(&pk, "status");
    msgpack_pack_uint32(&pk, (uint32_t) ack->status);
    enc_key(&pk, "retry_ms");
    msgpack_pack_uint32(&pk, ack->retry_ms);
    enc_key(&pk, "msg");
    msgpack_pack_str(&pk, mlen);
    msgpack_pack_str_body(&pk, ack->msg, mlen);
    if (sbuf.data == NULL) {
        msgpack_sbuffer_destroy(&sbuf);
        return PW_ENOMEM;
    }
    *len = sbuf.size;
    *buf = msgpack_sbuffer_release(&sbuf);
    return PW_OK;
}

const char *
pw_ack_status_name(pw_ack_status s)
{
    switch (s) {
    case PW_ACK_STORED: return "stored";
    case PW_ACK_DUPLICATE: return "duplicate";
    case PW_ACK_RETRY: return "retry";
    case PW_ACK_REJECTED: return "rejected";
    case PW_ACK_UNSUPPORTED: return "unsupported";
    }
    return "unknown";
}
