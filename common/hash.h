/*
 * hash.h - FNV-1a, 64 bits, over bytes: the one non-cryptographic hash of
 * poolwatch's in-memory tables, and of the series and symbol indexes on
 * disk (storage formats 3 and 4, collector/README.md), whose values must
 * never change: standard offset basis and prime.
 *
 * Not for anything an attacker may choose to collide with a purpose (tokens
 * use keyed BLAKE2b, collector/auth.c). Header only; no state.
 */
#ifndef PW_HASH_H
#define PW_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PW_FNV1A64_BASIS UINT64_C(14695981039346656037)

/* Continues hash h over n bytes at p (start with PW_FNV1A64_BASIS). */
static inline uint64_t
pw_fnv1a64_more(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* FNV-1a 64 of n bytes at p. */
static inline uint64_t
pw_fnv1a64(const void *p, size_t n)
{
    return pw_fnv1a64_more(PW_FNV1A64_BASIS, p, n);
}

#endif
