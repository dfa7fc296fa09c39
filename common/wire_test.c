/* wire_test.c - v1 frame and ack codec: round trips and every rejection path. */
#include <math.h>
#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "wire.h"

static pw_frame_header
test_hdr(void)
{
    pw_frame_header h = { .seq = 42, .ts_ms = INT64_C(1793000000000) };

    strcpy(h.agent_id, "agent-1");
    strcpy(h.host, "node01");
    strcpy(h.agent_version, "0.1.0");
    for (int i = 0; i < PW_WIRE_BOOT_ID_LEN; i++)
        h.boot_id[i] = (uint8_t) (i * 7);
    return h;
}

static void
test_round_trip(void **state)
{
    pw_frame_header h = test_hdr();
    pw_batch       *b = pw_batch_new();
    void           *buf;
    size_t          len;
    pw_frame        f;
    char            err[256];

    (void) state;
    assert_int_equal(pw_batch_group(b, h.ts_ms), PW_OK);
    assert_int_equal(pw_batch_addl(b, "node_cpu_seconds_total", 123.45, "mode", "idle", "cpu", "0", NULL), PW_OK);
    assert_int_equal(pw_batch_addl(b, "node_load1", 0.5, NULL), PW_OK);
    assert_int_equal(pw_batch_addl(b, "node_network_receive_bytes_total", 9007199254740992.0, "device", "eth0", NULL), PW_OK);
    assert_int_equal(pw_batch_addl(b, "neg", -17, "zh", "资源池", NULL), PW_OK);
    assert_int_equal(pw_batch_group(b, h.ts_ms + 1000), PW_OK);
    /* same series again in a second group: dictionary keeps one entry */
    assert_int_equal(pw_batch_addl(b, "node_load1", 1.0 / 3.0, NULL), PW_OK);
    assert_int_equal(pw_batch_nseries(b), 4);
    assert_int_equal(pw_batch_nsamples(b), 5);

    assert_int_equal(pw_wire_encode(&h, b, &buf, &len), PW_OK);
    assert_int_equal(pw_wire_decode(buf, len, &f, err, sizeof err), PW_OK);
    assert_int_equal(f.hdr.version, 1);
    assert_string_equal(f.hdr.agent_id, "agent-1");
    assert_string_equal(f.hdr.host, "node01");
    assert_string_equal(f.hdr.agent_version, "0.1.0");
    assert_memory_equal(f.hdr.boot_id, h.boot_id, PW_WIRE_BOOT_ID_LEN);
    assert_int_equal(f.hdr.seq, 42);
    assert_int_equal(f.hdr.ts_ms, h.ts_ms);
    assert_int_equal(f.nseries, 4);
    assert_int_equal(f.nsamples, 5);
    /* labels come back sorted */
    assert_string_equal(f.series[0].metric, "node_cpu_seconds_total");
    assert_int_equal(f.series[0].nlabels, 2);
    assert_string_equal(f.series[0].labels[0].name, "cpu");
    assert_string_equal(f.series[0].labels[1].value, "idle");
    assert_string_equal(f.series[3].labels[0].value, "资源池");
    assert_true(f.samples[0].value == 123.45);
    assert_true(f.samples[2].value == 9007199254740992.0);
    assert_true(f.samples[3].value == -17);
    assert_int_equal(f.samples[4].ts_ms, h.ts_ms + 1000);
    assert_int_equal(f.samples[4].series, 1);
    assert_true(f.samples[4].value == 1.0 / 3.0);
    assert_int_equal(f.nonfinite, 0);
    pw_frame_release(&f);
    free(buf);
    pw_batch_free(b);
}

static void
test_integers_pack_small(void **state)
{
    pw_frame_header h = test_hdr();
    pw_batch       *b = pw_batch_new();
    void           *buf1, *buf2;
    size_t          len1, len2;

    (void) state;
    pw_batch_group(b, h.ts_ms);
    pw_batch_addl(b, "m", 5, NULL);
    assert_int_equal(pw_wire_encode(&h, b, &buf1, &len1), PW_OK);
    pw_batch_reset(b);
    pw_batch_group(b, h.ts_ms);
    pw_batch_addl(b, "m", 5.1, NULL);
    assert_int_equal(pw_wire_encode(&h, b, &buf2, &len2), PW_OK);
    /* integer 5 is a 1-byte fixint, 5.1 a 9-byte float64 */
    assert_int_equal(len2 - len1, 8);
    free(buf1);
    free(buf2);
    pw_batch_free(b);
}

static void
test_batch_rejects(void **state)
{
    pw_batch *b = pw_batch_new();

    (void) state;
    assert_int_equal(pw_batch_addl(b, "bad-name", 1, NULL), PW_EINVAL);
    assert_int_equal(pw_batch_addl(b, "m", NAN, NULL), PW_EINVAL);
    assert_int_equal(pw_batch_addl(b, "m", INFINITY, NULL), PW_EINVAL);
    assert_int_equal(pw_batch_addl(b, "m", 1, "a", "x", "a", "y", NULL), PW_EINVAL);
    assert_int_equal(pw_batch_addl(b, "m", 1, "1a", "x", NULL), PW_EINVAL);
    assert_int_equal(pw_batch_addl(b, "m", 1, "a", "", NULL), PW_EINVAL);
    assert_int_equal(pw_batch_addl(b, "m", 1, "a", "\xff\xfe", NULL), PW_EINVAL);
    assert_int_equal(pw_batch_nsamples(b), 0);
    pw_batch_free(b);
}

/* ---- hand-made frames for rejection paths ---- */

typedef struct mk {
    msgpack_sbuffer sb;
    msgpack_packer  pk;
} mk;

static void
mk_init(mk *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void
mk_str(mk *m, const char *s)
{
    msgpack_pack_str(&m->pk, strlen(s));
    msgpack_pack_str_body(&m->pk, s, strlen(s));
}

/* Which field to spoil in mk_frame. */
enum spoil {
    OK_FRAME, NO_V, V2, V_STR, NO_AGENT, EMPTY_AGENT, AGENT_SPACE, BOOT_SHORT, SEQ_ZERO, SEQ_NEG,
    TS_OLD, HOST_BINARY, SERIES_NOT_ARRAY, SERIES_EVEN, METRIC_BAD, LABEL_NAME_BAD,
    LABEL_DUP, LABEL_EMPTY_VALUE, SID_OUT_OF_RANGE, VALUE_STR, GROUP_TS_BAD, DUP_KEY,
    UNKNOWN_KEY, NAN_VALUE, TOO_MANY_LABELS, NOT_MAP, LABELS_UNSORTED,
};

static void
mk_frame(mk *m, enum spoil sp)
{
    uint8_t boot[16] = { 1 };
    int     nkeys = 8 + (sp == DUP_KEY) + (sp == UNKNOWN_KEY) - (sp == NO_V) - (sp == NO_AGENT);

    mk_init(m);
    if (sp == NOT_MAP) {
        msgpack_pack_array(&m->pk, 0);
        return;
    }
    msgpack_pack_map(&m->pk, (size_t) nkeys);
    if (sp != NO_V) {
        mk_str(m, "v");
        if (sp == V_STR)
            mk_str(m, "1");
        else
            msgpack_pack_uint32(&m->pk, sp == V2 ? 2 : 1);
    }
    if (sp != NO_AGENT) {
        mk_str(m, "agent");
        mk_str(m, sp == EMPTY_AGENT ? "" : sp == AGENT_SPACE ? "a b" : "a1");
    }
    mk_str(m, "boot");
    msgpack_pack_bin(&m->pk, sp == BOOT_SHORT ? 8 : 16);
    msgpack_pack_bin_body(&m->pk, boot, sp == BOOT_SHORT ? 8 : 16);
    mk_str(m, "seq");
    if (sp == SEQ_NEG)
        msgpack_pack_int64(&m->pk, -1);
    else
        msgpack_pack_uint64(&m->pk, sp == SEQ_ZERO ? 0 : 7);
    mk_str(m, "ts");
    msgpack_pack_int64(&m->pk, sp == TS_OLD ? 1000 : INT64_C(1793000000000));
    mk_str(m, "host");
    if (sp == HOST_BINARY)
        mk_str(m, "h\xc0\x80");
    else
        mk_str(m, "h1");
    if (sp == DUP_KEY) {
        mk_str(m, "host");
        mk_str(m, "h2");
    }
    if (sp == UNKNOWN_KEY) {
        mk_str(m, "future_field");
        msgpack_pack_array(&m->pk, 2);
        msgpack_pack_int(&m->pk, 1);
        msgpack_pack_int(&m->pk, 2);
    }
    mk_str(m, "series");
    if (sp == SERIES_NOT_ARRAY) {
        mk_str(m, "x");
    } else {
        msgpack_pack_array(&m->pk, 1);
        if (sp == TOO_MANY_LABELS) {
            msgpack_pack_array(&m->pk, 1 + 2 * 33);
            mk_str(m, "m");
            for (int i = 0; i < 33; i++) {
                char n[8];
                snprintf(n, sizeof n, "l%d", i);
                mk_str(m, n);
                mk_str(m, "v");
            }
        } else {
            msgpack_pack_array(&m->pk, sp == SERIES_EVEN ? 2 : 5);
            mk_str(m, sp == METRIC_BAD ? "9m" : "m");
            if (sp == SERIES_EVEN) {
                mk_str(m, "a");
            } else {
                mk_str(m, sp == LABEL_NAME_BAD ? "a-b" : sp == LABELS_UNSORTED ? "b" : "a");
                mk_str(m, sp == LABELS_UNSORTED ? "y" : "x");
                mk_str(m, sp == LABEL_DUP ? "a" : sp == LABELS_UNSORTED ? "a" : "b");
                mk_str(m, sp == LABEL_EMPTY_VALUE ? "" : sp == LABELS_UNSORTED ? "x" : "y");
            }
        }
    }
    mk_str(m, "samples");
    msgpack_pack_array(&m->pk, 1);
    msgpack_pack_array(&m->pk, 5);
    if (sp == GROUP_TS_BAD)
        msgpack_pack_double(&m->pk, 1.5);
    else
        msgpack_pack_int64(&m->pk, INT64_C(1793000000000));
    msgpack_pack_uint32(&m->pk, sp == SID_OUT_OF_RANGE ? 1 : 0);
    if (sp == VALUE_STR)
        mk_str(m, "1");
    else
        msgpack_pack_double(&m->pk, sp == NAN_VALUE ? NAN : 2.5);
    msgpack_pack_uint32(&m->pk, 0);
    msgpack_pack_int(&m->pk, 3);
}

static pw_err
decode_spoiled(enum spoil sp, pw_frame *f, char *err, size_t errlen)
{
    mk     m;
    pw_err rc;

    mk_frame(&m, sp);
    rc = pw_wire_decode(m.sb.data, m.sb.size, f, err, errlen);
    msgpack_sbuffer_destroy(&m.sb);
    return rc;
}

static void
test_rejections(void **state)
{
    static const struct { enum spoil sp; pw_err rc; const char *needle; } cases[] = {
        { NO_V, PW_EPROTO, "missing key \"v\"" },
        { V2, PW_EVERSION, "version 2" },
        { V_STR, PW_EPROTO, "v: expected" },
        { NO_AGENT, PW_EPROTO, "missing key \"agent\"" },
        { EMPTY_AGENT, PW_EPROTO, "must not be empty" },
        { AGENT_SPACE, PW_EPROTO, "agent: bad characters" },
        { BOOT_SHORT, PW_EPROTO, "boot" },
        { SEQ_ZERO, PW_EPROTO, "seq: must be" },
        { SEQ_NEG, PW_EPROTO, "seq: expected" },
        { TS_OLD, PW_EPROTO, "outside 2000..2200" },
        { HOST_BINARY, PW_EPROTO, "host: bad characters" },
        { SERIES_NOT_ARRAY, PW_EPROTO, "series: expected an array" },
        { SERIES_EVEN, PW_EPROTO, "odd-length" },
        { METRIC_BAD, PW_EPROTO, "invalid metric name" },
        { LABEL_NAME_BAD, PW_EPROTO, "invalid name" },
        { LABEL_DUP, PW_EPROTO, "duplicate label" },
        { LABEL_EMPTY_VALUE, PW_EPROTO, "value empty" },
        { SID_OUT_OF_RANGE, PW_EPROTO, "series index" },
        { VALUE_STR, PW_EPROTO, "not a number" },
        { GROUP_TS_BAD, PW_EPROTO, "timestamp is not an integer" },
        { DUP_KEY, PW_EPROTO, "appears twice" },
        { TOO_MANY_LABELS, PW_ETOOBIG, "33 labels" },
        { NOT_MAP, PW_EPROTO, "not a msgpack map" },
    };
    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pw_frame f;
        char     err[256];
        pw_err   rc = decode_spoiled(cases[i].sp, &f, err, sizeof err);

        if (rc != cases[i].rc || strstr(err, cases[i].needle) == NULL)
            fail_msg("case %zu: got %d \"%s\", want %d containing \"%s\"", i, rc, err,
                     cases[i].rc, cases[i].needle);
        assert_null(f.arena_);
    }
}

/*
 * The dictionary block (pw_frame.dict): label count, then metric and label
 * strings in wire order, NUL after each; the series' strings point into it.
 * Labels sent out of order are sorted in series[] (the block keeps the
 * wire order), so the two frames below name the same series with
 * different blocks - a receiver comparing blocks only loses a shortcut.
 */
static void
test_dict_block(void **state)
{
    static const char sorted[] = "\x02m\0a\0x\0b\0y";     /* + the final NUL */
    static const char wire[] = "\x02m\0b\0y\0a\0x";
    pw_frame          f, g;
    char              err[256];

    (void) state;
    assert_int_equal(decode_spoiled(OK_FRAME, &f, err, sizeof err), PW_OK);
    assert_int_equal(f.dict_len, sizeof sorted);
    assert_memory_equal(f.dict, sorted, sizeof sorted);
    assert_ptr_equal(f.series[0].metric, f.dict + 1);
    assert_true(f.series[0].labels[1].value >= f.dict
                && f.series[0].labels[1].value < f.dict + f.dict_len);
    assert_int_equal(decode_spoiled(LABELS_UNSORTED, &g, err, sizeof err), PW_OK);
    assert_int_equal(g.dict_len, sizeof wire);
    assert_memory_equal(g.dict, wire, sizeof wire);
    assert_int_equal(g.series[0].nlabels, 2);
    assert_string_equal(g.series[0].labels[0].name, "a");
    assert_string_equal(g.series[0].labels[0].value, "x");
    assert_string_equal(g.series[0].labels[1].name, "b");
    assert_string_equal(g.series[0].labels[1].value, "y");
    pw_frame_release(&f);
    pw_frame_release(&g);
}

static void
test_seq_kept_on_reject(void **state)
{
    pw_frame f;
    char     err[256];

    (void) state;
    assert_int_equal(decode_spoiled(METRIC_BAD, &f, err, sizeof err), PW_EPROTO);
    assert_int_equal(f.hdr.seq, 7);
}

static void
test_unknown_key_and_nan(void **state)
{
    pw_frame f;
    char     err[256];

    (void) state;
    assert_int_equal(decode_spoiled(UNKNOWN_KEY, &f, err, sizeof err), PW_OK);
    assert_int_equal(f.unknown_keys, 1);
    assert_int_equal(f.nsamples, 2);
    pw_frame_release(&f);
    assert_int_equal(decode_spoiled(NAN_VALUE, &f, err, sizeof err), PW_OK);
    assert_int_equal(f.nonfinite, 1);
    assert_int_equal(f.nsamples, 1);
    assert_true(f.samples[0].value == 3);
    pw_frame_release(&f);
    assert_int_equal(decode_spoiled(OK_FRAME, &f, err, sizeof err), PW_OK);
    assert_int_equal(f.nsamples, 2);
    pw_frame_release(&f);
}

static void
test_structural_attacks(void **state)
{
    /* array32 claiming 2^32-1 elements: must not allocate, must not crash */
    static const uint8_t huge_array[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t huge_map[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'v' };
    static const uint8_t huge_str[] = { 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x' };
    static const uint8_t trailing[] = { 0x80, 0x00 };
    static const uint8_t reserved[] = { 0xc1 };
    static const uint8_t truncated[] = { 0xcb, 0x00, 0x00 };
    uint8_t              deep[64];
    pw_frame             f;
    char                 err[256];

    (void) state;
    assert_int_equal(pw_wire_decode(huge_array, sizeof huge_array, &f, err, sizeof err), PW_EPROTO);
    assert_non_null(strstr(err, "claims"));
    assert_int_equal(pw_wire_decode(huge_map, sizeof huge_map, &f, err, sizeof err), PW_EPROTO);
    assert_int_equal(pw_wire_decode(huge_str, sizeof huge_str, &f, err, sizeof err), PW_EPROTO);
    assert_int_equal(pw_wire_decode(trailing, sizeof trailing, &f, err, sizeof err), PW_EPROTO);
    assert_non_null(strstr(err, "trailing"));
    assert_int_equal(pw_wire_decode(reserved, sizeof reserved, &f, err, sizeof err), PW_EPROTO);
    assert_int_equal(pw_wire_decode(truncated, sizeof truncated, &f, err, sizeof err), PW_EPROTO);
    assert_int_equal(pw_wire_decode("", 0, &f, err, sizeof err), PW_EPROTO);
    memset(deep, 0x91, sizeof deep);    /* [[[[...]]]] */
    deep[sizeof deep - 1] = 0x01;
    assert_int_equal(pw_wire_decode(deep, sizeof deep, &f, err, sizeof err), PW_EPROTO);
    assert_non_null(strstr(err, "nesting"));
    assert_int_equal(pw_wire_decode(deep, PW_WIRE_MAX_FRAME + 1u, &f, err, sizeof err), PW_ETOOBIG);
}

static void
test_header_limits_on_encode(void **state)
{
    pw_frame_header h = test_hdr();
    pw_batch       *b = pw_batch_new();
    void           *buf;
    size_t          len;

    (void) state;
    h.seq = 0;
    assert_int_equal(pw_wire_encode(&h, b, &buf, &len), PW_EINVAL);
    h = test_hdr();
    h.agent_id[0] = '\0';
    assert_int_equal(pw_wire_encode(&h, b, &buf, &len), PW_EINVAL);
    h = test_hdr();
    h.ts_ms = 5;
    assert_int_equal(pw_wire_encode(&h, b, &buf, &len), PW_EINVAL);
    pw_batch_free(b);
}

static void
test_ack_round_trip(void **state)
{
    pw_ack in = { .seq = 99, .status = PW_ACK_RETRY, .retry_ms = 5000 }, out;
    void  *buf;
    size_t len;

    (void) state;
    strcpy(in.msg, "disk full");
    assert_int_equal(pw_wire_encode_ack(&in, &buf, &len), PW_OK);
    assert_int_equal(pw_wire_decode_ack(buf, len, &out), PW_OK);
    assert_int_equal(out.seq, 99);
    assert_int_equal(out.status, PW_ACK_RETRY);
    assert_int_equal(out.retry_ms, 5000);
    assert_string_equal(out.msg, "disk full");
    /* truncated ack */
    assert_int_equal(pw_wire_decode_ack(buf, len - 1, &out), PW_EPROTO);
    free(buf);
    assert_int_equal(pw_wire_decode_ack("\x80", 1, &out), PW_EPROTO);    /* {} */
    assert_string_equal(pw_ack_status_name(PW_ACK_DUPLICATE), "duplicate");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_integers_pack_small),
        cmocka_unit_test(test_batch_rejects),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_dict_block),
        cmocka_unit_test(test_seq_kept_on_reject),
        cmocka_unit_test(test_unknown_key_and_nan),
        cmocka_unit_test(test_structural_attacks),
        cmocka_unit_test(test_header_limits_on_encode),
        cmocka_unit_test(test_ack_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
