/*
 * wire_decode.c - strict v1 frame and ack decoder.
 *
 * Order of defence: size limit, allocation-free structure scan (wire_scan.c)
 * that proves every object lies inside the buffer and every container's
 * count is honest, then a walk over the bytes that checks every type,
 * count, name and range before copying anything. A frame is read straight
 * from its msgpack bytes (no object tree): the top-level map once to find
 * the known keys, then the dictionary and the samples twice each, once to
 * check and count, once to copy into the frame's arena - two allocations
 * (dictionary, samples), freed by pw_frame_release. Types follow msgpack-c's
 * reading of the format: a signed encoding of a value >= 0 is an unsigned
 * integer, float32 is widened. Acks are small and rare: msgpack-c reads them.
 */
#include "wire.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "wire_scan.h"

typedef struct dec dec;
struct dec {
    char  *err;
    size_t errlen;
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

/* ---- reading msgpack bytes ---------------------------------------------- */

typedef enum rd_kind {
    RD_NIL, RD_BOOL, RD_POS, RD_NEG, RD_F32, RD_F64, RD_STR, RD_BIN, RD_EXT, RD_ARRAY, RD_MAP,
} rd_kind;

/* One object's header: scalars whole, str/bin/ext with their bytes, containers' counts. */
typedef struct rd_obj rd_obj;
struct rd_obj {
    rd_kind        kind;
    uint64_t       u;       /* RD_POS */
    int64_t        i;       /* RD_NEG */
    double         f;       /* RD_F32, RD_F64 */
    const uint8_t *ptr;     /* RD_STR, RD_BIN, RD_EXT */
    size_t         n;       /* bytes (RD_STR, RD_BIN, RD_EXT), elements (RD_ARRAY), pairs (RD_MAP) */
};

typedef struct rd rd;
struct rd {
    const uint8_t *b;
    size_t         len, off;
};

#define rd_be(p, n) pw_get_ben((p), (n))

/*
 * Reads the next object's header into *o and moves past it (and past the
 * bytes of a scalar, str, bin or ext; a container's elements follow).
 * false if it would run past the end, which pw_wire_scan already ruled out.
 */
static bool
rd_next(rd *r, rd_obj *o)
{
    const uint8_t *p;
    size_t         left = r->len - r->off;
    unsigned       t, w = 0;            /* w: bytes of a length or value after the type byte */

    if (left == 0)
        return false;
    p = r->b + r->off;
    t = p[0];
    if (t <= 0x7f) {
        o->kind = RD_POS, o->u = t;
    } else if (t >= 0xe0) {
        o->kind = RD_NEG, o->i = (int8_t) t;
    } else if (t <= 0x8f) {
        o->kind = RD_MAP, o->n = t & 0x0f;
    } else if (t <= 0x9f) {
        o->kind = RD_ARRAY, o->n = t & 0x0f;
    } else if (t <= 0xbf) {
        o->kind = RD_STR, o->n = t & 0x1f;
    } else {
        switch (t) {
        case 0xc0: o->kind = RD_NIL; break;
        case 0xc2: case 0xc3: o->kind = RD_BOOL; break;
        case 0xc4: case 0xc5: case 0xc6: o->kind = RD_BIN, w = 1u << (t - 0xc4); break;
        case 0xc7: case 0xc8: case 0xc9: o->kind = RD_EXT, w = 1u << (t - 0xc7); break;
        case 0xca: o->kind = RD_F32, w = 4; break;
        case 0xcb: o->kind = RD_F64, w = 8; break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf: o->kind = RD_POS, w = 1u << (t - 0xcc); break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: o->kind = RD_NEG, w = 1u << (t - 0xd0); break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            o->kind = RD_EXT, o->n = 1 + (1u << (t - 0xd4));   /* type byte + data */
            break;
        case 0xd9: case 0xda: case 0xdb: o->kind = RD_STR, w = 1u << (t - 0xd9); break;
        case 0xdc: case 0xdd: o->kind = RD_ARRAY, w = 2u << (t - 0xdc); break;
        case 0xde: case 0xdf: o->kind = RD_MAP, w = 2u << (t - 0xde); break;
        default: return false;                                  /* 0xc1: never used */
        }
    }
    if (left - 1 < w)
        return false;
    r->off++;
    switch (o->kind) {
    case RD_POS:
        if (w > 0)
            o->u = rd_be(p + 1, w);
        r->off += w;
        return true;
    case RD_NEG:
        if (w > 0) {
            uint64_t v = rd_be(p + 1, w);

            /* Sign-extend; msgpack-c calls a signed encoding of a value >= 0 positive. */
            if (w < 8 && (v >> (8 * w - 1)) != 0)
                v |= ~UINT64_C(0) << (8 * w);
            o->i = (int64_t) v;
            if (o->i >= 0)
                o->kind = RD_POS, o->u = v;
        }
        r->off += w;
        return true;
    case RD_F32: {
        uint32_t bits = (uint32_t) rd_be(p + 1, 4);
        float    fl;

        memcpy(&fl, &bits, sizeof fl);
        o->f = fl;
        r->off += 4;
        return true;
    }
    case RD_F64: {
        uint64_t bits = rd_be(p + 1, 8);

        memcpy(&o->f, &bits, sizeof o->f);
        r->off += 8;
        return true;
    }
    case RD_NIL:
    case RD_BOOL:
        return true;
    case RD_ARRAY:
    case RD_MAP:
        if (w > 0)
            o->n = (size_t) rd_be(p + 1, w);
        r->off += w;
        return true;
    default:                                                    /* str, bin, ext */
        if (w > 0)
            o->n = (size_t) rd_be(p + 1, w) + (o->kind == RD_EXT);
        r->off += w;
        if (o->n > r->len - r->off)
            return false;
        o->ptr = r->b + r->off;
        r->off += o->n;
        return true;
    }
}

/* Skips the elements of container o, just read (nothing for a scalar). */
static bool
rd_skip_in(rd *r, const rd_obj *o)
{
    uint64_t owed = o->kind == RD_ARRAY ? o->n : o->kind == RD_MAP ? 2 * (uint64_t) o->n : 0;
    rd_obj   e;

    while (owed > 0) {
        if (!rd_next(r, &e))
            return false;
        owed--;
        if (e.kind == RD_ARRAY)
            owed += e.n;
        else if (e.kind == RD_MAP)
            owed += 2 * (uint64_t) e.n;
    }
    return true;
}

/* Reads the object at off (a value found by the top-level walk). */
static rd
rd_at(const rd *r, size_t off, rd_obj *o, bool *ok)
{
    rd at = { .b = r->b, .len = r->len, .off = off };

    *ok = rd_next(&at, o);
    return at;
}

/* ---- frame fields --------------------------------------------------------- */

static bool
dec_str_is(const rd_obj *k, const char *name)
{
    size_t n = strlen(name);

    return k->kind == RD_STR && k->n == n && memcmp(k->ptr, name, n) == 0;
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
dec_uint(dec *d, const rd_obj *o, const char *what, uint64_t *out)
{
    if (o->kind != RD_POS)
        return dec_fail(d, PW_EPROTO, "%s: expected an unsigned integer", what);
    *out = o->u;
    return PW_OK;
}

static pw_err
dec_ts(dec *d, const rd_obj *o, const char *what, size_t idx, int64_t *out)
{
    int64_t v;

    if (o->kind == RD_POS && o->u <= INT64_MAX)
        v = (int64_t) o->u;
    else if (o->kind == RD_NEG)
        v = o->i;
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
dec_hdr_str(dec *d, const rd_obj *o, const char *what, char *dst, size_t max, int ascii)
{
    if (o->kind != RD_STR)
        return dec_fail(d, PW_EPROTO, "%s: expected a string", what);
    if (o->n > max)
        return dec_fail(d, PW_ETOOBIG, "%s: %zu bytes, limit %zu", what, o->n, max);
    if (ascii ? !dec_printable((const char *) o->ptr, o->n)
              : (o->n > 0 && !pw_label_value_valid((const char *) o->ptr, o->n)))
        return dec_fail(d, PW_EPROTO, "%s: bad characters", what);
    memcpy(dst, o->ptr, o->n);
    dst[o->n] = '\0';
    return PW_OK;
}

/*
 * The frame's memory: this header, then the dictionary's series, labels
 * and strings in the same block; the samples in a second one.
 */
typedef struct dec_arena dec_arena;
struct dec_arena {
    pw_wire_sample *samples;
};

/*
 * True if the names are strictly ascending: sorted and unique, as agents
 * send them (pw_batch sorts), so the sort can be skipped.
 */
static int
dec_labels_sorted(const pw_label *l, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(l[i - 1].name, l[i].name) >= 0)
            return 0;
    return 1;
}

/* Copies string o to *p in the dictionary block, NUL-terminated; returns it. */
static char *
dec_dict_str(char **p, const rd_obj *o)
{
    char *s = *p;

    memcpy(s, o->ptr, o->n);
    s[o->n] = '\0';
    *p += o->n + 1;
    return s;
}

/*
 * The dictionary at off: every entry's shape and names checked first, then
 * the arena allocated (*arena, owned by the caller) and all strings copied
 * into one block (f->dict, layout in wire.h), so that a receiver can
 * compare dictionaries with one memcmp.
 */
static pw_err
dec_series(dec *d, const rd *r, size_t off, pw_frame *f, dec_arena **arena)
{
    rd_obj  o, e, s[1 + 2 * PW_MAX_LABELS];
    rd      at, again;
    size_t  total = 0, nlabels = 0, size;
    char   *p;
    bool    ok;

    at = rd_at(r, off, &o, &ok);
    if (!ok)
        return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
    if (o.kind != RD_ARRAY)
        return dec_fail(d, PW_EPROTO, "series: expected an array");
    if (o.n > PW_WIRE_MAX_SERIES)
        return dec_fail(d, PW_ETOOBIG, "series: %zu entries, limit %u", o.n, PW_WIRE_MAX_SERIES);
    f->nseries = o.n;
    again = at;
    for (size_t i = 0; i < f->nseries; i++) {
        size_t nl;

        if (!rd_next(&at, &e))
            return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
        if (e.kind != RD_ARRAY || e.n % 2 != 1)
            return dec_fail(d, PW_EPROTO,
                            "series[%zu]: expected [metric, name, value, ...] (odd-length array)", i);
        nl = e.n / 2;
        if (nl > PW_MAX_LABELS)
            return dec_fail(d, PW_ETOOBIG, "series[%zu]: %zu labels, limit %d", i, nl, PW_MAX_LABELS);
        for (size_t k = 0; k < e.n; k++) {
            if (!rd_next(&at, &s[k]))
                return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
            if (s[k].kind != RD_STR)
                return dec_fail(d, PW_EPROTO, "series[%zu][%zu]: expected a string", i, k);
            total += s[k].n + 1;
        }
        if (!pw_metric_name_valid((const char *) s[0].ptr, s[0].n))
            return dec_fail(d, PW_EPROTO, "series[%zu]: invalid metric name", i);
        for (size_t k = 0; k < nl; k++) {
            const rd_obj *n = &s[1 + 2 * k], *v = &s[2 + 2 * k];

            if (!pw_label_name_valid((const char *) n->ptr, n->n))
                return dec_fail(d, PW_EPROTO, "series[%zu]: label %zu: invalid name", i, k);
            if (!pw_label_value_valid((const char *) v->ptr, v->n))
                return dec_fail(d, PW_EPROTO,
                                "series[%zu]: label %zu: value empty, over %d bytes or not UTF-8",
                                i, k, PW_MAX_LABEL_VALUE_LEN);
        }
        total++;                                  /* the label count */
        nlabels += nl;
    }
    size = sizeof **arena + f->nseries * sizeof *f->series + nlabels * sizeof(pw_label) + total;
    if ((*arena = malloc(size)) == NULL)
        return dec_fail(d, PW_ENOMEM, "series: out of memory");
    (*arena)->samples = NULL;
    f->series = (pw_wire_series *) (*arena + 1);
    {
        pw_label *lab = (pw_label *) (f->series + f->nseries);

        p = (char *) (lab + nlabels);
        f->dict = p;
        f->dict_len = total;
        for (size_t i = 0; i < f->nseries; i++) {
            pw_wire_series *sr = &f->series[i];

            (void) rd_next(&again, &e);           /* read once above: cannot fail */
            sr->nlabels = e.n / 2;
            sr->labels = lab;
            lab += sr->nlabels;
            *p++ = (char) sr->nlabels;
            (void) rd_next(&again, &s[0]);
            sr->metric = dec_dict_str(&p, &s[0]);
            for (size_t k = 0; k < sr->nlabels; k++) {
                (void) rd_next(&again, &s[1]);
                (void) rd_next(&again, &s[2]);
                sr->labels[k].name = dec_dict_str(&p, &s[1]);
                sr->labels[k].value = dec_dict_str(&p, &s[2]);
            }
            if (!dec_labels_sorted(sr->labels, sr->nlabels)
                && pw_labels_sort(sr->labels, sr->nlabels) != PW_OK)
                return dec_fail(d, PW_EPROTO, "series[%zu]: duplicate label name", i);
        }
    }
    return PW_OK;
}

static pw_err
dec_samples(dec *d, const rd *r, size_t off, pw_frame *f, dec_arena *arena)
{
    rd_obj o, e, sid, v;
    rd     at, again;
    size_t total = 0, n = 0;
    bool   ok;
    pw_err rc;

    at = rd_at(r, off, &o, &ok);
    if (!ok)
        return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
    if (o.kind != RD_ARRAY)
        return dec_fail(d, PW_EPROTO, "samples: expected an array");
    if (o.n > PW_WIRE_MAX_GROUPS)
        return dec_fail(d, PW_ETOOBIG, "samples: %zu groups, limit %u", o.n, PW_WIRE_MAX_GROUPS);
    again = at;
    for (size_t g = 0; g < o.n; g++) {
        if (!rd_next(&at, &e))
            return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
        if (e.kind != RD_ARRAY || e.n % 2 != 1)
            return dec_fail(d, PW_EPROTO,
                            "samples[%zu]: expected [ts, sid, value, ...] (odd-length array)", g);
        total += e.n / 2;
        if (total > PW_WIRE_MAX_SAMPLES)
            return dec_fail(d, PW_ETOOBIG, "samples: more than %u", PW_WIRE_MAX_SAMPLES);
        if (!rd_skip_in(&at, &e))
            return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
    }
    if ((arena->samples = malloc((total ? total : 1) * sizeof *f->samples)) == NULL)
        return dec_fail(d, PW_ENOMEM, "samples: out of memory");
    f->samples = arena->samples;
    for (size_t g = 0; g < o.n; g++) {
        int64_t ts;

        (void) rd_next(&again, &e);               /* checked above */
        if (!rd_next(&again, &v))
            return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
        if ((rc = dec_ts(d, &v, "samples", g, &ts)) != PW_OK)
            return rc;
        for (size_t k = 1; k < e.n; k += 2) {
            double val;

            if (!rd_next(&again, &sid))
                return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
            if (sid.kind != RD_POS || sid.u >= f->nseries)
                return dec_fail(d, PW_EPROTO,
                                "samples[%zu][%zu]: series index is not an integer below %zu",
                                g, k, f->nseries);
            if (!rd_next(&again, &v))
                return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
            switch (v.kind) {
            case RD_POS: val = (double) v.u; break;
            case RD_NEG: val = (double) v.i; break;
            case RD_F32:
            case RD_F64: val = v.f; break;
            default:
                return dec_fail(d, PW_EPROTO, "samples[%zu][%zu]: value is not a number", g, k + 1);
            }
            /* One bad reading must not cost the frame: skip it and count it. */
            if (!isfinite(val)) {
                f->nonfinite++;
                continue;
            }
            f->samples[n++] = (pw_wire_sample) {
                .series = (uint32_t) sid.u, .ts_ms = ts, .value = val,
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

/*
 * Validates the top-level map and returns where its known keys' values
 * start in off[] (0 = absent: offset 0 is the map itself).
 */
static pw_err
dec_top(dec *d, rd *r, size_t off[K_COUNT], uint32_t *unknown)
{
    rd_obj m, k, v;

    if (!rd_next(r, &m))
        return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
    if (m.kind != RD_MAP)
        return dec_fail(d, PW_EPROTO, "frame is not a msgpack map");
    if (m.n > PW_WIRE_MAX_KEYS)
        return dec_fail(d, PW_ETOOBIG, "frame has %zu keys, limit %d", m.n, PW_WIRE_MAX_KEYS);
    for (size_t i = 0; i < m.n; i++) {
        int    known = -1;
        size_t at;

        if (!rd_next(r, &k))
            return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
        if (k.kind != RD_STR)
            return dec_fail(d, PW_EPROTO, "frame key %zu is not a string", i);
        for (int j = 0; j < K_COUNT; j++)
            if (dec_str_is(&k, dec_keys[j]))
                known = j;
        at = r->off;
        if (!rd_next(r, &v) || !rd_skip_in(r, &v))
            return dec_fail(d, PW_EPROTO, "msgpack unpack failed");
        if (known < 0) {
            (*unknown)++;
            continue;
        }
        if (off[known] != 0)
            return dec_fail(d, PW_EPROTO, "key \"%s\" appears twice", dec_keys[known]);
        off[known] = at;
    }
    return PW_OK;
}

pw_err
pw_wire_decode(const void *buf, size_t len, pw_frame *out, char *errbuf, size_t errlen)
{
    dec        d = { .err = errbuf, .errlen = errlen };
    rd         r = { .b = buf, .len = len };
    size_t     off[K_COUNT] = { 0 };
    rd_obj     o;
    dec_arena *arena = NULL;
    uint64_t   ver = 0, seq = 0;
    bool       ok;
    pw_err     rc;

    memset(out, 0, sizeof *out);
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if (len > PW_WIRE_MAX_FRAME)
        return dec_fail(&d, PW_ETOOBIG, "frame of %zu bytes, limit %u", len, PW_WIRE_MAX_FRAME);
    if ((rc = pw_wire_scan(buf, len, PW_WIRE_MAX_DEPTH, PW_WIRE_MAX_OBJECTS, errbuf, errlen))
        != PW_OK)
        return rc;
    if ((rc = dec_top(&d, &r, off, &out->unknown_keys)) != PW_OK)
        goto fail;
    /* Version first: a newer frame may not have the v1 fields at all. */
    if (off[K_V] == 0) {
        rc = dec_fail(&d, PW_EPROTO, "missing key \"v\"");
        goto fail;
    }
    (void) rd_at(&r, off[K_V], &o, &ok);
    if ((rc = dec_uint(&d, &o, "v", &ver)) != PW_OK)
        goto fail;
    if (ver != PW_WIRE_VERSION) {
        rc = dec_fail(&d, PW_EVERSION, "frame version %llu, this collector speaks %d",
                      (unsigned long long) ver, PW_WIRE_VERSION);
        goto fail;
    }
    out->hdr.version = (uint32_t) ver;
    for (int k = 0; k < K_COUNT; k++)
        if (off[k] == 0 && k != K_VER) {
            rc = dec_fail(&d, PW_EPROTO, "missing key \"%s\"", dec_keys[k]);
            goto fail;
        }
    (void) rd_at(&r, off[K_SEQ], &o, &ok);
    if ((rc = dec_uint(&d, &o, "seq", &seq)) != PW_OK)
        goto fail;
    if (seq == 0) {
        rc = dec_fail(&d, PW_EPROTO, "seq: must be 1 or more");
        goto fail;
    }
    out->hdr.seq = seq;
    (void) rd_at(&r, off[K_AGENT], &o, &ok);
    if ((rc = dec_hdr_str(&d, &o, "agent", out->hdr.agent_id, PW_WIRE_MAX_AGENT_ID, 1)))
        goto fail;
    (void) rd_at(&r, off[K_HOST], &o, &ok);
    if ((rc = dec_hdr_str(&d, &o, "host", out->hdr.host, PW_WIRE_MAX_HOST, 0)))
        goto fail;
    if (out->hdr.agent_id[0] == '\0' || out->hdr.host[0] == '\0') {
        rc = dec_fail(&d, PW_EPROTO, "agent and host must not be empty");
        goto fail;
    }
    if (off[K_VER] != 0) {
        (void) rd_at(&r, off[K_VER], &o, &ok);
        if ((rc = dec_hdr_str(&d, &o, "ver", out->hdr.agent_version, PW_WIRE_MAX_AGENT_VERSION, 1)))
            goto fail;
    }
    (void) rd_at(&r, off[K_BOOT], &o, &ok);
    if (o.kind != RD_BIN || o.n != PW_WIRE_BOOT_ID_LEN) {
        rc = dec_fail(&d, PW_EPROTO, "boot: expected %d bytes of bin", PW_WIRE_BOOT_ID_LEN);
        goto fail;
    }
    memcpy(out->hdr.boot_id, o.ptr, PW_WIRE_BOOT_ID_LEN);
    (void) rd_at(&r, off[K_TS], &o, &ok);
    if ((rc = dec_ts(&d, &o, "ts", 0, &out->hdr.ts_ms)) != PW_OK)
        goto fail;
    if ((rc = dec_series(&d, &r, off[K_SERIES], out, &arena)) != PW_OK)
        goto fail;
    if ((rc = dec_samples(&d, &r, off[K_SAMPLES], out, arena)) != PW_OK)
        goto fail;
    out->arena_ = arena;
    return PW_OK;
fail:
    if (arena != NULL) {
        free(arena->samples);
        free(arena);
    }
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
    dec_arena *a = f->arena_;

    if (a != NULL) {
        free(a->samples);
        free(a);
    }
    memset(f, 0, sizeof *f);
}

/* ---- acks ------------------------------------------------------------------ */

/* msgpack-c's tree of a small buffer (an ack), after the structure scan. */
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

static int
dec_key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);

    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n
        && memcmp(k->via.str.ptr, name, n) == 0;
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
