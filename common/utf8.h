/*
 * utf8.h - the one strict UTF-8 check: label values, API parameters, CSV
 * cells, token names and audit text all accept exactly the same bytes.
 * Header only; no state.
 */
#ifndef PW_UTF8_H
#define PW_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Length (1..4) of the well-formed UTF-8 character at p, n bytes available;
 * 0 if it is not one: a stray continuation byte, a sequence cut short, an
 * overlong form, a UTF-16 surrogate or a code point past U+10FFFF. NUL is a
 * character here (1); callers that refuse it check it themselves.
 */
static inline size_t
pw_utf8_char(const unsigned char *p, size_t n)
{
    unsigned char c;
    size_t        len;
    uint32_t      cp, min;

    if (n == 0)
        return 0;
    c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

/* True if all n bytes at p are well-formed UTF-8 (pw_utf8_char). */
static inline int
pw_utf8_valid(const unsigned char *p, size_t n)
{
    for (size_t i = 0, l; i < n; i += l)
        if ((l = pw_utf8_char(p + i, n - i)) == 0)
            return 0;
    return 1;
}

/*
 * Drops a character cut short from the end of the NUL-terminated s (what
 * snprintf leaves when text meets the end of its buffer), so a cut string
 * stays well-formed. Returns the new length. Bytes before the last
 * character are not looked at.
 */
static inline size_t
pw_utf8_cut(char *s)
{
    size_t n = strlen(s), i = n;

    /* back over up to 3 continuation bytes to the last character's first byte */
    while (i > 0 && n - i < 3 && ((unsigned char) s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i > 0 && ((unsigned char) s[i - 1] & 0x80)
        && pw_utf8_char((const unsigned char *) s + i - 1, n - i + 1) != n - i + 1) {
        s[i - 1] = '\0';
        return i - 1;
    }
    return n;
}

#endif
