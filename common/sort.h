/*
 * sort.h - qsort for arrays that may be empty.
 *
 * qsort's first argument is declared nonnull in glibc, so qsort(NULL, 0, ...)
 * - an empty array that was never allocated - is undefined behaviour that
 * UndefinedBehaviorSanitizer reports. pw_qsort does nothing for fewer than
 * two elements; otherwise it is qsort.
 */
#ifndef PW_SORT_H
#define PW_SORT_H

#include <stdlib.h>

static inline void
pw_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

#endif
