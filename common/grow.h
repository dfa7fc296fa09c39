/*
 * grow.h - room in a buffer that grows by doubling: the one "make room for
 * need elements" of the chunk codec, the chunk engine's packs and open
 * chunk groups, and the import's batches. Header only; no state.
 */
#ifndef PW_GROW_H
#define PW_GROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Makes *buf (*cap elements of size bytes, NULL when *cap is 0) hold at
 * least need elements, keeping its contents: the capacity doubles from
 * *cap, or from first when *cap is 0, until need fits, so appends cost
 * O(1) amortized. true on success; false, with *buf and *cap unchanged
 * (the caller still owns *buf), when realloc fails or the size would
 * overflow. size and first > 0.
 */
static inline bool
pw_grow(void **buf, size_t *cap, size_t need, size_t size, size_t first)
{
    size_t ncap = *cap ? *cap : first;
    void  *nb;

    if (need <= *cap)
        return true;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return false;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / size || (nb = realloc(*buf, ncap * size)) == NULL)
        return false;
    *buf = nb;
    *cap = ncap;
    return true;
}

#endif
