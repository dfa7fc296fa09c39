/*
 * wire_decode.c - strict v1 frame and ack decoder.
 *
 * Order of defence: size limit, allocation-free structure scan (wire_scan.c),
 * msgpack-c unpack into a zone, then a walk that checks every type, count,
 * name and range before copying strings into the same zone. The zone is the
 * frame's arena: pw_frame_release frees everything in one call.
 */
#include "wire.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire_scan.h"

typedef struct dec dec;
struct dec {
    msgpack_zone *zone;
    char         *err;
    size_t        errlen;
};

static pw_err
dec_fail(dec *d, pw_err rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static pw_err
dec_fail(dec *d, pw_err rc, const char *fmt, ...)
{
    va_list ap;

    if (d->err != NULL && d->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(d->err, d->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int
dec_key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);

    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n
        && memcmp(k->via.str.ptr, name, n) == 0;
}

/* Copies a msgpack string into the arena, NUL-terminated. */
static char *
dec_strdup(dec *d, const msgpack_object *o)
{
    char *s = msgpack_zone_malloc(d->zone, o->via.str.size + 1);

    if (s != NULL) {
        memcpy(s, o->via.str.ptr, o->via.str.size);
        s[o->via.str.size] = '\0';
    }
    return s;
}

static int
dec_printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x21 || (unsigned char) s[i] > 0x7e)
            return 0;
    return 1;
}

static pw_err
dec_uint(dec *d, const msgpack_object *o, const char *what, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return dec_fail(d, PW_EPROTO, "%s: expected an unsigned integer", what);
    *out = o->via.u64;
    return PW_OK;
}

static pw_err
dec_ts(dec *d, const msgpack_object *o, const char *what, size_t idx, int64_t *out)
{
    int64_t v;

    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        v = (int64_t) o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = o->via.i64;
    else
        return dec_fail(d, PW_EPROTO, "%s[%zu]: timestamp is not an integer", what, idx);
    if (v < PW_WIRE_MIN_TS || v >= PW_WIRE_MAX_TS)
        return dec_fail(d, PW_EPROTO, "%s[%zu]: timestamp %lld ms is outside 2000..2200",
                        what, idx, (long long) v);
    *out = v;
    return PW_OK;
}

/* Header string into a fixed buffer, with length and charset checks. */
static pw_err
dec_hdr_str(dec *d, const msgpack_object *o, const char *what, char *dst, size_t max, int ascii)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return dec_fail(d, PW_EPROTO, "%s: expected a string", what);
    if (o->via.str.size > max)
        return dec_fail(d, PW_ETOOBIG, "%s: %u bytes, limit %zu", what, o->via.str.size, max);
    if (ascii ? !dec_printable(o->via.str.ptr, o->via.str.size)
              : (o->via.str.size > 0 && !pw_label_value_valid(o->via.str.ptr, o->via.str.size)))
        return dec_fail(d, PW_EPROTO, "%s: bad characters", what);
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return PW_OK;
}

static pw_err
dec_series(dec *d, const msgpack_object *o, pw_frame *f)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return dec_fail(d, PW_EPROTO, "series: expected an array");
    if (o->via.array.size > PW_WIRE_MAX_SERIES)
        return dec_fail(d, PW_ETOOBIG, "series: %u entries, limit %u", o->via.array.size,
                        PW_WIRE_MAX_SERIES);
    f->nseries = o->via.array.size;
    f->series = msgpack_zone_malloc(d->zone, (f->nseries ? f->nseries : 1) * sizeof *f->series);
    if (f->series == NULL)
        return dec_fail(d, PW_ENOMEM, "series: out of memory");
    for (size_t i = 0; i < f->nseries; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        pw_wire_series       *s = &f->series[i];
        size_t                nl;

        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size % 2 != 1)
            return dec_fail(d, PW_EPROTO,
                            "series[%zu]: expected [metric, name, value, ...] (odd-length array)", i);
        nl = e->via.array.size / 2;
        if (nl > PW_MAX_LABELS)
            return dec_fail(d, PW_ETOOBIG, "series[%zu]: %zu labels, limit %d", i, nl, PW_MAX_LABELS);
        for (size_t k = 0; k < e->via.array.size; k++)
            if (e->via.array.ptr[k].type != MSGPACK_OBJECT_STR)
                return dec_fail(d, PW_EPROTO, "series[%zu][%zu]: expected a string", i, k);
        {
            const msgpack_object_str *m = &e->via.array.ptr[0].via.str;
            if (!pw_metric_name_valid(m->ptr, m->size))
                return dec_fail(d, PW_EPROTO, "series[%zu]: invalid metric name", i);
        }
        s->nlabels = nl;
        s->labels = msgpack_zone_malloc(d->zone, (nl ? nl : 1) * sizeof *s->labels);
        if (s->labels == NULL || (s->metric = dec_strdup(d, &e->via.array.ptr[0])) == NULL)
            return dec_fail(d, PW_ENOMEM, "series[%zu]: out of memory", i);
        for (size_t k = 0; k < nl; k++) {
            const msgpack_object *n = &e->via.array.ptr[1 + 2 * k], *v = n + 1;

            if (!pw_label_name_valid(n->via.str.ptr, n->via.str.size))
                return dec_fail(d, PW_EPROTO, "series[%zu]: label %zu: invalid name", i, k);
            if (!pw_label_value_valid(v->via.str.ptr, v->via.str.size))
                return dec_fail(d, PW_EPROTO,
                                "series[%zu]: label %zu: value empty, over %d bytes or not UTF-8",
                                i, k, PW_MAX_LABEL_VALUE_LEN);
            s->labels[k].name = dec_strdup(d, n);
            s->labels[k].value = dec_strdup(d, v);
            if (s->labels[k].name == NULL || s->labels[k].value == NULL)
                return dec_fail(d, PW_ENOMEM, "series[%zu]: out of memory", i);
        }
        if (pw_labels_sort(s->labels, nl) != PW_OK)
            return dec_fail(d, PW_EPROTO, "series[%zu]: duplicate label name", i);
    }
    return PW_OK;
}

static pw_err
dec_samples(dec *d, const msgpack_object *o, pw_frame *f)
{
    size_t total = 0, n = 0;
    pw_err rc;

    if (o->type != MSGPACK_OBJECT_ARRAY)
        return dec_fail(d, PW_EPROTO, "samples: expected an array");
    if (o->via.array.size > PW_WIRE_MAX_GROUPS)
        return dec_fail(d, PW_ETOOBIG, "samples: %u groups, limit %u", o->via.array.size,
                        PW_WIRE_MAX_GROUPS);
    for (size_t g = 0; g < o->via.array.size; g++) {
        const msgpack_object *e = &o->via.array.ptr[g];

        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size % 2 != 1)
            return dec_fail(d, PW_EPROTO,
                            "samples[%zu]: expected [ts, sid, value, ...] (odd-length array)", g);
        total += e->via.array.size / 2;
        if (total > PW_WIRE_MAX_SAMPLES)
            return dec_fail(d, PW_ETOOBIG, "samples: more than %u", PW_WIRE_MAX_SAMPLES);
    }
    f->samples = msgpack_zone_malloc(d->zone, (total ? total : 1) * sizeof *f->samples);
    if (f->samples == NULL)
        return dec_fail(d, PW_ENOMEM, "samples: out of memory");
    for (size_t g = 0; g < o->via.array.size; g++) {
        const msgpack_object *e = &o->via.array.ptr[g];
        int64_t               ts;

        if ((rc = dec_ts(d, &e->via.array.ptr[0], "samples", g, &ts)) != PW_OK)
            return rc;
        for (size_t k = 1; k < e->via.array.size; k += 2) {
            const msgpack_object *sid = &e->via.array.ptr[k], *v = sid + 1;
            double                val;

            if (sid->type != MSGPACK_OBJECT_POSITIVE_INTEGER || sid->via.u64 >= f->nseries)
                return dec_fail(d, PW_EPROTO,
                                "samples[%zu][%zu]: series index is not an integer below %zu",
                                g, k, f->nseries);
            switch (v->type) {
            case MSGPACK_OBJECT_POSITIVE_INTEGER: val = (double) v->via.u64; break;
            case MSGPACK_OBJECT_NEGATIVE_INTEGER: val = (double) v->via.i64; break;
            case MSGPACK_OBJECT_FLOAT32:
            case MSGPACK_OBJECT_FLOAT64: val = v->via.f64; break;
            default:
                return dec_fail(d, PW_EPROTO, "samples[%zu][%zu]: value is not a number", g, k + 1);
            }
            /* One bad reading must not cost the frame: skip it and count it. */
            if (!isfinite(val)) {
                f->nonfinite++;
                continue;
            }
            f->samples[n++] = (pw_wire_sample) {
                .series = (uint32_t) sid->via.u64, .ts_ms = ts, .value = val,
            };
        }
    }
    f->nsamples = n;
    return PW_OK;
}

enum { K_V, K_AGENT, K_BOOT, K_SEQ, K_TS, K_HOST, K_VER, K_SERIES, K_SAMPLES, K_COUNT };
static const char *const dec_keys[K_COUNT] = {
    "v", "agent", "boot", "seq", "ts", "host", "ver", "series", "samples",
};

/* Validates the top-level map and returns its known keys' values in vals[]. */
static pw_err
dec_top(dec *d, const msgpack_object *root, const msgpack_object *vals[K_COUNT], uint32_t *unknown)
{
    const msgpack_object_map *m;

    if (root->type != MSGPACK_OBJECT_MAP)
        return dec_fail(d, PW_EPROTO, "frame is not a msgpack map");
    m = &root->via.map;
    if (m->size > PW_WIRE_MAX_KEYS)
        return dec_fail(d, PW_ETOOBIG, "frame has %u keys, limit %d", m->size, PW_WIRE_MAX_KEYS);
    for (size_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        int                   known = -1;

        if (k->type != MSGPACK_OBJECT_STR)
            return dec_fail(d, PW_EPROTO, "frame key %zu is not a string", i);
        for (int j = 0; j < K_COUNT; j++)
            if (dec_key_is(k, dec_keys[j]))
                known = j;
        if (known < 0) {
            (*unknown)++;
            continue;
        }
        if (vals[known] != NULL)
            return dec_fail(d, PW_EPROTO, "key \"%s\" appears twice", dec_keys[known]);
        vals[known] = &m->ptr[i].val;
    }
    return PW_OK;
}

static msgpack_unpacked *
dec_unpack(const void *buf, size_t len, dec *d, pw_err *rc)
{
    msgpack_unpacked *u;
    size_t            off = 0;

    if (len > PW_WIRE_MAX_FRAME) {
        *rc = dec_fail(d, PW_ETOOBIG, "frame of %zu bytes, limit %u", len, PW_WIRE_MAX_FRAME);
        return NULL;
    }
    if ((*rc = pw_wire_scan(buf, len, PW_WIRE_MAX_DEPTH, PW_WIRE_MAX_OBJECTS, d->err, d->errlen))
        != PW_OK)
        return NULL;
    if ((u = malloc(sizeof *u)) == NULL) {
        *rc = dec_fail(d, PW_ENOMEM, "out of memory");
        return NULL;
    }
    msgpack_unpacked_init(u);
    if (msgpack_unpack_next(u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(u);
        free(u);
        *rc = dec_fail(d, PW_EPROTO, "msgpack unpack failed");
        return NULL;
    }
    *rc = PW_OK;
    return u;
}

pw_err
pw_wire_decode(const void *buf, size_t len, pw_frame *out, char *errbuf, size_t errlen)
{
    dec                   d = { .err = errbuf, .errlen = errlen };
    const msgpack_object *v[K_COUNT] = { 0 };
    msgpack_unpacked     *u;
    uint64_t              ver = 0, seq = 0;
    pw_err                rc;

    memset(out, 0, sizeof *out);
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if ((u = dec_unpack(buf, len, &d, &rc)) == NULL)
        return rc;
    d.zone = u->zone;
    if ((rc = dec_top(&d, &u->data, v, &out->unknown_keys)) != PW_OK)
        goto fail;
    /* Version first: a newer frame may not have the v1 fields at all. */
    if (v[K_V] == NULL) {
        rc = dec_fail(&d, PW_EPROTO, "missing key \"v\"");
        goto fail;
    }
    if ((rc = dec_uint(&d, v[K_V], "v", &ver)) != PW_OK)
        goto fail;
    if (ver != PW_WIRE_VERSION) {
        rc = dec_fail(&d, PW_EVERSION, "frame version %llu, this collector speaks %d",
                      (unsigned long long) ver, PW_WIRE_VERSION);
        goto fail;
    }
    out->hdr.version = (uint32_t) ver;
    for (int k = 0; k < K_COUNT; k++)
        if (v[k] == NULL && k != K_VER) {
            rc = dec_fail(&d, PW_EPROTO, "missing key \"%s\"", dec_keys[k]);
            goto fail;
        }
    if ((rc = dec_uint(&d, v[K_SEQ], "seq", &seq)) != PW_OK)
        goto fail;
    if (seq == 0) {
        rc = dec_fail(&d, PW_EPROTO, "seq: must be 1 or more");
        goto fail;
    }
    out->hdr.seq = seq;
    if ((rc = dec_hdr_str(&d, v[K_AGENT], "agent", out->hdr.agent_id, PW_WIRE_MAX_AGENT_ID, 1)))
        goto fail;
    if ((rc = dec_hdr_str(&d, v[K_HOST], "host", out->hdr.host, PW_WIRE_MAX_HOST, 0)))
        goto fail;
    if (out->hdr.agent_id[0] == '\0' || out->hdr.host[0] == '\0') {
        rc = dec_fail(&d, PW_EPROTO, "agent and host must not be empty");
        goto fail;
    }
    if (v[K_VER] != NULL && (rc = dec_hdr_str(&d, v[K_VER], "ver", out->hdr.agent_version,
                                               PW_WIRE_MAX_AGENT_VERSION, 1)))
        goto fail;
    if (v[K_BOOT]->type != MSGPACK_OBJECT_BIN || v[K_BOOT]->via.bin.size != PW_WIRE_BOOT_ID_LEN) {
        rc = dec_fail(&d, PW_EPROTO, "boot: expected %d bytes of bin", PW_WIRE_BOOT_ID_LEN);
        goto fail;
    }
    memcpy(out->hdr.boot_id, v[K_BOOT]->via.bin.ptr, PW_WIRE_BOOT_ID_LEN);
    if ((rc = dec_ts(&d, v[K_TS], "ts", 0, &out->hdr.ts_ms)) != PW_OK)
        goto fail;
    if ((rc = dec_series(&d, v[K_SERIES], out)) != PW_OK)
        goto fail;
    if ((rc = dec_samples(&d, v[K_SAMPLES], out)) != PW_OK)
        goto fail;
    out->arena_ = u;
    return PW_OK;
fail:
    msgpack_unpacked_destroy(u);
    free(u);
    {
        /* Keep what an ack or a log line can still use. */
        uint32_t unknown = out->unknown_keys;
        uint64_t fseq = out->hdr.seq;
        memset(out, 0, sizeof *out);
        out->unknown_keys = unknown;
        out->hdr.seq = fseq;
    }
    return rc;
}

void
pw_frame_release(pw_frame *f)
{
    msgpack_unpacked *u = f->arena_;

    if (u != NULL) {
        msgpack_unpacked_destroy(u);
        free(u);
    }
    memset(f, 0, sizeof *f);
}

pw_err
pw_wire_decode_ack(const void *buf, size_t len, pw_ack *out)
{
    char              err[128];
    dec               d = { .err = err, .errlen = sizeof err };
    msgpack_unpacked *u;
    pw_err            rc;
    int               seen = 0;

    memset(out, 0, sizeof *out);
    if (len > 4096)
        return PW_EPROTO;
    if ((u = dec_unpack(buf, len, &d, &rc)) == NULL)
        return rc;
    rc = PW_EPROTO;
    if (u->data.type != MSGPACK_OBJECT_MAP)
        goto out;
    for (size_t i = 0; i < u->data.via.map.size; i++) {
        const msgpack_object *k = &u->data.via.map.ptr[i].key, *v = &u->data.via.map.ptr[i].val;

        if (dec_key_is(k, "v")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != PW_WIRE_VERSION)
                goto out;
            seen |= 1;
        } else if (dec_key_is(k, "seq")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                goto out;
            out->seq = v->via.u64;
            seen |= 2;
        } else if (dec_key_is(k, "status")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > PW_ACK_UNSUPPORTED)
                goto out;
            out->status = (pw_ack_status) v->via.u64;
            seen |= 4;
        } else if (dec_key_is(k, "retry_ms")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > UINT32_MAX)
                goto out;
            out->retry_ms = (uint32_t) v->via.u64;
        } else if (dec_key_is(k, "msg")) {
            size_t n;
            if (v->type != MSGPACK_OBJECT_STR)
                goto out;
            n = v->via.str.size < PW_WIRE_MAX_ACK_MSG ? v->via.str.size : PW_WIRE_MAX_ACK_MSG;
            memcpy(out->msg, v->via.str.ptr, n);
            out->msg[n] = '\0';
        }
    }
    rc = seen == 7 ? PW_OK : PW_EPROTO;
out:
    msgpack_unpacked_destroy(u);
    free(u);
    return rc;
}
