/* wire_scan.c - allocation-free msgpack structure check; see wire_scan.h. */
#include "wire_scan.h"

#include <stdint.h>
#include <stdio.h>

#include "bytes.h"

#define scan_be(p, n) pw_get_ben((p), (n))

pw_err
pw_wire_scan(const void *buf, size_t len, unsigned max_depth, size_t max_objects,
             char *errbuf, size_t errlen)
{
    const uint8_t *p = buf;
    size_t         off = 0, objects = 0;
    uint64_t       pending[64];      /* elements still owed at each open level */
    unsigned       depth = 0;

    if (max_depth > sizeof pending / sizeof pending[0])
        max_depth = sizeof pending / sizeof pending[0];
    pending[0] = 1;                  /* the one top-level object */
    for (;;) {
        uint8_t  t;
        unsigned hdr = 1;            /* header bytes */
        uint64_t body = 0;           /* payload bytes after the header */
        uint64_t children = 0;       /* elements of a container (map: 2 per entry) */
        int      container = 0;

        while (pending[depth] == 0) {
            if (depth == 0) {
                if (off != len) {
                    snprintf(errbuf, errlen, "%zu trailing bytes after the frame", len - off);
                    return PW_EPROTO;
                }
                return PW_OK;
            }
            depth--;
        }
        if (off >= len) {
            snprintf(errbuf, errlen, "truncated at byte %zu", off);
            return PW_EPROTO;
        }
        if (++objects > max_objects) {
            snprintf(errbuf, errlen, "more than %zu msgpack objects", max_objects);
            return PW_ETOOBIG;
        }
        pending[depth]--;
        t = p[off];
        if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
            /* fixint, nil, bool: header only */
        } else if (t >= 0x80 && t <= 0x8f) {
            container = 1, children = 2u * (t & 0x0f);
        } else if (t >= 0x90 && t <= 0x9f) {
            container = 1, children = t & 0x0f;
        } else if (t >= 0xa0 && t <= 0xbf) {
            body = t & 0x1f;
        } else {
            static const struct { uint8_t hdr, kind; } ext[] = {
                /* kind: 0 fixed body in hdr table, 1 length-prefixed, 2 ext, 3 array, 4 map */
                [0xc4 - 0xc4] = { 1, 1 }, [0xc5 - 0xc4] = { 2, 1 }, [0xc6 - 0xc4] = { 4, 1 },
                [0xc7 - 0xc4] = { 1, 2 }, [0xc8 - 0xc4] = { 2, 2 }, [0xc9 - 0xc4] = { 4, 2 },
                [0xca - 0xc4] = { 4, 0 }, [0xcb - 0xc4] = { 8, 0 },
                [0xcc - 0xc4] = { 1, 0 }, [0xcd - 0xc4] = { 2, 0 }, [0xce - 0xc4] = { 4, 0 },
                [0xcf - 0xc4] = { 8, 0 }, [0xd0 - 0xc4] = { 1, 0 }, [0xd1 - 0xc4] = { 2, 0 },
                [0xd2 - 0xc4] = { 4, 0 }, [0xd3 - 0xc4] = { 8, 0 },
                [0xd4 - 0xc4] = { 2, 0 }, [0xd5 - 0xc4] = { 3, 0 }, [0xd6 - 0xc4] = { 5, 0 },
                [0xd7 - 0xc4] = { 9, 0 }, [0xd8 - 0xc4] = { 17, 0 },
                [0xd9 - 0xc4] = { 1, 1 }, [0xda - 0xc4] = { 2, 1 }, [0xdb - 0xc4] = { 4, 1 },
                [0xdc - 0xc4] = { 2, 3 }, [0xdd - 0xc4] = { 4, 3 },
                [0xde - 0xc4] = { 2, 4 }, [0xdf - 0xc4] = { 4, 4 },
            };
            unsigned n, kind;

            if (t < 0xc4) {            /* 0xc1: never used */
                snprintf(errbuf, errlen, "invalid msgpack type 0x%02x at byte %zu", t, off);
                return PW_EPROTO;
            }
            n = ext[t - 0xc4].hdr;
            kind = ext[t - 0xc4].kind;
            if (kind == 0) {
                body = n;              /* fixed-size scalar or fixext (type byte + data) */
            } else {
                uint64_t v;
                if (len - off - 1 < n) {
                    snprintf(errbuf, errlen, "truncated header at byte %zu", off);
                    return PW_EPROTO;
                }
                v = scan_be(p + off + 1, n);
                hdr += n;
                if (kind == 1)
                    body = v;
                else if (kind == 2)
                    body = v + 1;      /* ext type byte */
                else
                    container = 1, children = kind == 3 ? v : 2 * v;
            }
        }
        if ((uint64_t) hdr > len - off || body > len - off - hdr) {
            snprintf(errbuf, errlen, "object at byte %zu runs past the end", off);
            return PW_EPROTO;
        }
        off += hdr + (size_t) body;
        if (container && children > 0) {
            /* Every element takes at least one byte: a count above the bytes left is a lie. */
            if (children > len - off) {
                snprintf(errbuf, errlen, "container at byte %zu claims %llu elements, %zu bytes left",
                         off - hdr, (unsigned long long) children, len - off);
                return PW_EPROTO;
            }
            if (depth + 1 >= max_depth) {
                snprintf(errbuf, errlen, "nesting deeper than %u at byte %zu", max_depth, off - hdr);
                return PW_EPROTO;
            }
            pending[++depth] = children;
        }
    }
}
