/*
 * wire_scan.h - structural pre-check of msgpack bytes, before msgpack-c sees them.
 *
 * msgpack-c's unpacker allocates `count * sizeof(msgpack_object)` as soon as
 * it reads an array or map header, before reading any element, so a 5-byte
 * input claiming 2^32 elements asks for ~100 GiB. This scan walks the headers
 * without allocating and rejects any container that claims more elements than
 * bytes remain, nesting deeper than a limit, or more objects in total than a
 * limit - so the unpack that follows allocates at most ~24 bytes per input byte.
 */
#ifndef PW_WIRE_SCAN_H
#define PW_WIRE_SCAN_H

#include <stddef.h>

#include "pw_err.h"

/*
 * Checks that buf holds exactly one msgpack object, with nesting at most
 * max_depth and at most max_objects objects. PW_OK, or PW_EPROTO/PW_ETOOBIG
 * with a sentence in errbuf.
 */
pw_err pw_wire_scan(const void *buf, size_t len, unsigned max_depth, size_t max_objects,
                    char *errbuf, size_t errlen);

#endif
