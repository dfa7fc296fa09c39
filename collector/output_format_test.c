/*
 * output_format_test.c - display widths and aligned tables: Chinese, Hangul,
 * kana, fullwidth forms, a combining mark, an emoji and bytes that are not
 * UTF-8, all in the "C" locale (LC_ALL=C), as the CLI runs for a user
 * without LANG. Every row's column separators must land on the same terminal
 * column; an oracle of the test's own, which knows only the characters used
 * here, says where the columns are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output_format.h"
#include "utf8.h"

/* The CLI's situation: no UTF-8 locale anywhere, whatever the machine has. */
static int
setup_c_locale(void **state)
{
    (void) state;
    if (setenv("LC_ALL", "C", 1) != 0 || setlocale(LC_ALL, "") == NULL)
        return -1;
    return strcmp(setlocale(LC_CTYPE, NULL), "C") == 0 ? 0 : -1;
}

/*
 * Terminal columns of s by the Unicode ranges of the characters this test
 * uses (not glibc's tables, which pw_out_width reads): combining diacritics
 * and U+200B 0; Hangul, CJK, kana, fullwidth forms and emoji 2; a byte that
 * does not start a complete UTF-8 sequence 1; the rest 1.
 */
static size_t
oracle_width(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *) str;
    size_t               w = 0, i = 0;

    while (i < len) {
        unsigned long cp = 0;
        size_t        n = s[i] < 0x80 ? 1 : (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3
                        : (s[i] & 0xf8) == 0xf0 ? 4 : 0;
        bool          ok = n > 0 && i + n <= len && !(n == 2 && s[i] < 0xc2);

        for (size_t k = 1; ok && k < n; k++)
            ok = (s[i + k] & 0xc0) == 0x80;
        if (ok) {
            cp = n == 1 ? s[i] : s[i] & (0x7f >> n);
            for (size_t k = 1; k < n; k++)
                cp = cp << 6 | (s[i + k] & 0x3f);
            /* overlong, surrogate, past U+10FFFF */
            ok = !(n == 3 && cp < 0x800) && !(n == 4 && (cp < 0x10000 || cp > 0x10ffff))
                 && !(cp >= 0xd800 && cp <= 0xdfff);
        }
        if (!ok) {
            w++;
            i++;
            continue;
        }
        if ((cp >= 0x300 && cp <= 0x36f) || cp == 0x200b)
            ;
        else if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf)
                 || (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xff00 && cp <= 0xff60)
                 || (cp >= 0x1f300 && cp <= 0x1faff))
            w += 2;
        else
            w++;
        i += n;
    }
    return w;
}

static void
test_width(void **state)
{
    static const struct { const char *s; size_t w; } cases[] = {
        { "", 0 },
        { "pool-a 12", 9 },
        { "资源池-甲", 9 },
        { "办公厅", 6 },
        { "e\xcc\x81", 1 },                     /* e + U+0301 COMBINING ACUTE ACCENT */
        { "cafe\xcc\x81\xcc\x81", 4 },
        { "\xf0\x9f\x98\x80", 2 },              /* U+1F600 GRINNING FACE */
        { "\xef\xbc\xa1\xef\xbc\xa2", 4 },      /* fullwidth A, B */
        { "한국", 4 },
        { "カナ", 4 },
        { "ひら", 4 },
        { "，。「」", 8 },                      /* fullwidth comma, CJK punctuation */
        { "a\xe2\x80\x8b" "b", 2 },             /* U+200B ZERO WIDTH SPACE */
        /* not UTF-8: a column a byte */
        { "a\xff" "b", 3 },
        { "\xe8\xb5", 2 },                      /* 资 cut after two of its three bytes */
        { "\xc0\xaf", 2 },                      /* overlong '/' */
        { "\xed\xa0\x80", 3 },                  /* a surrogate */
        { "\x80\x80\x80", 3 },
        { "资\xff源", 5 },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].s);

        if (pw_out_width(cases[i].s, len) != cases[i].w || oracle_width(cases[i].s, len) != cases[i].w)
            fail_msg("case %zu \"%s\": pw_out_width %zu, oracle %zu, want %zu", i, cases[i].s,
                     pw_out_width(cases[i].s, len), oracle_width(cases[i].s, len), cases[i].w);
    }
    /* len bounds the text: the first character of "资源" only, or half of it */
    assert_int_equal(pw_out_width("资源", 3), 2);
    assert_int_equal(pw_out_width("资源", 4), 3);
    /* the caller's locale is left as it was */
    assert_true(uselocale((locale_t) 0) == LC_GLOBAL_LOCALE);
    assert_string_equal(setlocale(LC_CTYPE, NULL), "C");
}

/* What fn wrote to a memory stream; the caller frees it. */
static char *
capture(void (*fn)(FILE *, const void *), const void *arg)
{
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);

    assert_non_null(f);
    fn(f, arg);
    assert_int_equal(fclose(f), 0);
    assert_non_null(buf);
    return buf;
}

static void
pad_cases(FILE *f, const void *arg)
{
    (void) arg;
    pw_out_pad(f, "办公厅", 8, false);
    putc('|', f);
    pw_out_pad(f, "办公厅", 8, true);
    putc('|', f);
    pw_out_pad(f, "办公厅", 2, false);          /* too narrow: never cut */
    putc('|', f);
    pw_out_pad(f, "e\xcc\x81", 3, true);
    putc('|', f);
}

/* A string cut inside a character loses the cut character, nothing else. */
static void
test_utf8_cut(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "", "" }, { "abc", "abc" }, { "资源池", "资源池" },
        { "资源\xe6\xb1", "资源" }, { "资源\xe6", "资源" },       /* 3-byte character cut after 2, 1 */
        { "a\xf0\x9f\x98", "a" }, { "a\xf0\x9f\x98\x80", "a\xf0\x9f\x98\x80" },  /* emoji */
        { "\xc3", "" }, { "x\xc3\xa9", "x\xc3\xa9" },
    };
    char buf[32];

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, "%s", cases[i].in);
        assert_int_equal(pw_utf8_cut(buf), strlen(cases[i].out));
        assert_string_equal(buf, cases[i].out);
    }
    /* what snprintf leaves at a buffer's end */
    memcpy(buf, "办公厅办公厅", 7);                   /* 7 bytes kept: 2 characters and 1 byte */
    buf[7] = '\0';
    assert_int_equal(pw_utf8_cut(buf), 6);
    assert_string_equal(buf, "办公");
}

static void
test_pad(void **state)
{
    char *out;

    (void) state;
    out = capture(pad_cases, NULL);
    assert_string_equal(out, "办公厅  |  办公厅|办公厅|  e\xcc\x81|");
    free(out);
}

#define NCOLS 7

/* POOL | UNIT | SIZE (right) | NOTE; the "|" columns are the separators checked. */
static const char *const t_head[NCOLS] = { "POOL", "|", "UNIT", "|", "SIZE", "|", "NOTE" };
static const char *const t_rows[][NCOLS] = {
    { "资源池-甲", "|", "办公厅", "|", "12", "|", "ok" },
    { "pool-b", "|", "IT dept", "|", "1234", "|", "cafe\xcc\x81" },
    { "\xf0\x9f\x98\x80 emoji", "|", "e\xcc\x81\xcc\x81", "|", "七", "|", "x" },
    { "\xff" " bad", "|", "办", "|", "3", "|", "한국어" },
    { "ＡＢ", "|", "カナ。", "|", "１２", "|", "-" },
};
#define NROWS (sizeof t_rows / sizeof t_rows[0])

static void
table_print(FILE *f, const void *arg)
{
    pw_table *t = pw_table_new(NCOLS, t_head);

    (void) arg;
    assert_non_null(t);
    pw_table_right(t, 4);
    for (size_t r = 0; r < NROWS; r++)
        assert_int_equal(pw_table_add(t, t_rows[r]), PW_OK);
    pw_table_print(t, f);
    pw_table_free(t);
}

static void
test_table_columns(void **state)
{
    /* POOL is 9 columns wide ("资源池-甲"), UNIT 7 ("IT dept"), SIZE 4: two blanks between */
    static const size_t want[3] = { 9 + 2, 9 + 2 + 1 + 2 + 7 + 2, 9 + 2 + 1 + 2 + 7 + 2 + 1 + 2 + 4 + 2 };
    char   *out, *line, *save = NULL;
    size_t  nlines = 0;

    (void) state;
    out = capture(table_print, NULL);
    for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        size_t nbar = 0;

        for (const char *p = line; (p = strchr(p, '|')) != NULL; p++) {
            size_t col = oracle_width(line, (size_t) (p - line));

            assert_true(nbar < 3);
            if (col != want[nbar])
                fail_msg("line %zu \"%s\": separator %zu at column %zu, want %zu", nlines, line, nbar,
                         col, want[nbar]);
            nbar++;
        }
        assert_int_equal(nbar, 3);
        assert_true(line[strlen(line) - 1] != ' ');     /* no trailing blanks */
        nlines++;
    }
    assert_int_equal(nlines, 1 + NROWS);
    free(out);

    out = capture(table_print, NULL);
    assert_non_null(strstr(out, "POOL       |  UNIT     |  SIZE  |  NOTE\n"));
    assert_non_null(strstr(out, "\n资源池-甲  |  办公厅   |    12  |  ok\n"));
    assert_non_null(strstr(out, "\n\xf0\x9f\x98\x80 emoji   |  e\xcc\x81\xcc\x81        |    七  |  x\n"));
    assert_non_null(strstr(out, "\nＡＢ       |  カナ。   |  １２  |  -\n"));
    free(out);
}

static void
many_rows_print(FILE *f, const void *arg)
{
    static const char *const head[2] = { "N", "NAME" };
    pw_table *t = pw_table_new(2, head);
    char      n[16], name[32];

    (void) arg;
    assert_non_null(t);
    /* Past the first capacity (16 rows) several times: rows keep their cells. */
    for (int r = 0; r < 100; r++) {
        const char *cells[2] = { n, name };

        snprintf(n, sizeof n, "%d", r);
        snprintf(name, sizeof name, "row-%03d", r);
        assert_int_equal(pw_table_add(t, cells), PW_OK);
    }
    assert_int_equal(pw_table_rows(t), 100);
    pw_table_print(t, f);
    pw_table_free(t);
}

static void
test_table_many_rows(void **state)
{
    char  *out;
    size_t nlines = 0;

    (void) state;
    out = capture(many_rows_print, NULL);
    for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        nlines++;
    assert_int_equal(nlines, 101);
    assert_true(strncmp(out, "N   NAME\n0   row-000\n", strlen("N   NAME\n0   row-000\n")) == 0);
    assert_non_null(strstr(out, "\n16  row-016\n"));
    assert_non_null(strstr(out, "\n99  row-099\n"));
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_utf8_cut),
        cmocka_unit_test(test_table_columns),
        cmocka_unit_test(test_table_many_rows),
    };

    return cmocka_run_group_tests(tests, setup_c_locale, NULL);
}
