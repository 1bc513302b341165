/* test_japanese.c - unit tests of the Japanese decoding path (japanese.c,
 * message.c): byte strings as iPhone, Outlook, Thunderbird and the
 * carriers write them decode without loss, and the Subject encoder writes
 * ISO-2022-JP only when it fits, in encoded words of at most 75
 * characters on lines of at most 78. */
#include "config.h"
#include "japanese.h"
#include "message.h"
#include <string.h>

static void
decodes(const char *raw, const char *want)
{
    char *got = japanese_header_decode(raw);
    g_assert_cmpstr(got, ==, want);
    g_free(got);
}

static void
body(const char *charset, const char *bytes, const char *want)
{
    char *got = japanese_to_utf8(charset, bytes, strlen(bytes));
    g_assert_cmpstr(got, ==, want);
    g_free(got);
}

static void
test_iso2022jp_nec(void)
{
    /* iPhone (corpus jpmobile-iphone-circled-numbers-in-jis.eml) */
    decodes("=?iso-2022-jp?B?GyRCJUYlOSVILSEbKEI=?=", "テスト①");
    /* Outlook: NEC row 13 and a NEC-selected IBM extension */
    decodes("=?ISO-2022-JP?B?GyRCJUYlOSVILSF8ci1qGyhC?=", "テスト①ⅱ㈱");
    body("iso-2022-jp", "\x1b$BK\\J8-\"|r\x1b(B\n", "本文②ⅱ\n");
    /* Q instead of B, and an upper/lower-case charset name */
    decodes("=?iso-2022-jp?q?=1B$B$3$s=1B(B?=", "こん");
    /* a character split across two adjacent words */
    decodes("=?ISO-2022-JP?B?GyRCJUYlOQ==?= =?ISO-2022-JP?B?JUgbKEI=?=", "テスト");
}

static void
test_kana(void)
{
    decodes("=?ISO-2022-JP?B?GyhJNkA2RRsoQg==?=", "ｶﾀｶﾅ");
    decodes("=?ISO-2022-JP?B?KD0bKElfGyRCJlgbKElfGyhCKRsoSUkbKEI=?=", "(=ﾟωﾟ)ﾉ");
    body("iso-2022-jp", "\x0e\x36\x40\x36\x45\x0f ok", "ｶﾀｶﾅ ok");       /* SO/SI */
    body("iso-2022-jp", "\xb6\xc0", "ｶﾀ");                              /* 8-bit kana */
    decodes("\x1b(I6@6E\x1b(B raw", "ｶﾀｶﾅ raw");                         /* unencoded JIS */
}

static void
test_cp932(void)
{
    decodes("=?shift_jis?B?7uCLtIdAh4KHioLMjI8=?=", "髙橋①№㈱の件");
    decodes("=?x-sjis?B?7uCLtIdAh4KHioLMjI8=?=", "髙橋①№㈱の件");
    decodes("=?Windows-31J?B?7uCLtIdAh4KHioLMjI8=?=", "髙橋①№㈱の件");
    body("shift_jis", "\xee\xe0\x8b\xb4\x87@", "髙橋①");
}

static void
test_emoji(void)
{
    char *s;

    /* docomo (corpus jpmobile-docomo-emoji.eml): CP932's user area is
     * docomo's own private-use assignment */
    decodes("=?shift_jis?B?keiWvPjX?=", "題名\xee\x99\xb6");     /* U+E676 */
    body("shift_jis", "\xf8\x9f", "\xee\x98\xbe");                  /* U+E63E */
    /* au in ISO-2022-JP (corpus jpmobile-au-emoji.eml): no U+FFFD, no '?' */
    s = japanese_header_decode("=?iso-2022-jp?B?GyRCQmpMPnZeGyhC?=");
    g_assert_true(g_str_has_prefix(s, "題名"));
    g_assert_null(strstr(s, "\xef\xbf\xbd"));
    g_assert_null(strchr(s, '?'));
    g_assert_cmpuint(g_utf8_strlen(s, -1), ==, 3);
    g_assert_cmpuint(g_utf8_get_char(g_utf8_offset_to_pointer(s, 2)), >=, 0xe000);
    g_assert_cmpuint(g_utf8_get_char(g_utf8_offset_to_pointer(s, 2)), <=, 0xf8ff);
    g_free(s);
    /* SoftBank (corpus jpmobile-softbank-emoji.eml) */
    s = japanese_header_decode("=?shift_jis?B?keiWvPl8?=");
    g_assert_true(g_str_has_prefix(s, "題名"));
    g_assert_null(strstr(s, "\xef\xbf\xbd"));
    g_free(s);
}

static void
test_garbage(void)
{
    /* undecodable bytes: U+FFFD, the rest kept, never '?' */
    body("shift_jis", "a\x81\x20z", "a\xef\xbf\xbd z");
    body("iso-2022-jp", "\x1b$B\x21", "\xef\xbf\xbd");
    decodes("=?iso-2022-jp?B?GyRC?=", "");
    decodes("plain =?utf-8?q?caf=C3=A9?= text", "plain café text");
    decodes("=?bogus?B?SGk=?=", "Hi");
    /* other charsets by GMime's iconv names, as GMime decodes them */
    decodes("=?ks_c_5601-1987?B?x9Gx27bz?=", "한글라");
    decodes("=?latin1?Q?caf=E9?=", "café");
    g_assert_null(japanese_to_utf8("utf-8", "x", 1));
}

/* check_encoded - every encoded word at most 75 characters, every line
 * at most 78 with "Subject: ", and the value decodes (by japanese.c and
 * by GMime) to want. */
static void
check_encoded(const char *raw, const char *charset_word, const char *want)
{
    char **lines = g_strsplit(raw, "\n", -1);
    char *flat, *back;

    g_assert_true(g_str_has_suffix(raw, "\n"));
    for (int i = 0; lines[i]; i++) {
        gsize len = strlen(lines[i]) + (i == 0 ? strlen("Subject:") : 0);
        g_assert_cmpuint(len, <=, 78);
        for (char *w = strstr(lines[i], "=?"); w; w = strstr(w + 2, "=?")) {
            char *e = strstr(w + 2, "?=");
            g_assert_nonnull(e);
            while (e && e[2] && e[2] != ' ')        /* the ?= that ends the word */
                e = strstr(e + 1, "?=");
            g_assert_cmpuint((gsize) (e + 2 - w), <=, 75);
            g_assert_true(g_str_has_prefix(w, charset_word));
            w = e;
        }
    }
    g_strfreev(lines);
    back = japanese_header_decode(raw);
    g_assert_cmpstr(back, ==, want);
    g_free(back);
    flat = g_strdup(raw);                       /* unfolded: the line breaks go */
    {
        char *o = flat;
        for (const char *i = flat; *i; i++)
            if (*i != '\n')
                *o++ = *i;
        *o = '\0';
    }
    g_strstrip(flat);
    back = g_mime_utils_header_decode_text(NULL, flat);
    g_assert_cmpstr(back, ==, want);
    g_free(back);
    g_free(flat);
}

static void
test_encode(void)
{
    char *raw;
    const char *long_jp = "Re: [team:00042] 来週の定例会議の議題について皆様のご意見をお聞かせください。資料は添付の通りです";

    raw = japanese_header_encode("[team:00001] テスト", TRUE, 7);
    g_assert_true(g_str_has_prefix(raw, " [team:00001] =?ISO-2022-JP?B?"));
    check_encoded(raw, "=?ISO-2022-JP?B?", "[team:00001] テスト");
    g_free(raw);
    /* ① is no JIS X 0208: UTF-8 */
    raw = japanese_header_encode("[team:00001] テスト①", TRUE, 7);
    g_assert_null(strstr(raw, "ISO-2022-JP"));
    check_encoded(raw, "=?UTF-8?B?", "[team:00001] テスト①");
    g_free(raw);
    raw = japanese_header_encode("ｶﾀｶﾅ", TRUE, 7);
    check_encoded(raw, "=?UTF-8?B?", "ｶﾀｶﾅ");
    g_free(raw);
    raw = japanese_header_encode(long_jp, TRUE, 7);
    g_assert_true(g_str_has_prefix(raw, " Re: [team:00042]"));   /* tag and Re: readable */
    check_encoded(raw, "=?ISO-2022-JP?B?", long_jp);
    g_free(raw);
    raw = japanese_header_encode(long_jp, FALSE, 7);
    check_encoded(raw, "=?UTF-8?B?", long_jp);
    g_free(raw);
    raw = japanese_header_encode("plain ascii subject", TRUE, 7);
    g_assert_cmpstr(raw, ==, " plain ascii subject\n");
    g_free(raw);
    raw = japanese_header_encode("", FALSE, 7);
    g_assert_cmpstr(raw, ==, " \n");
    g_free(raw);
    g_assert_true(japanese_fits_jis("テスト"));
    g_assert_false(japanese_fits_jis("髙"));
    g_assert_false(japanese_fits_jis("①"));
}

static void
test_recode(void)
{
    char *r = japanese_header_recode("=?ISO-2022-JP?B?GyRCOWI2Ni0hGyhC?= <t@example.org>, "
                                     "=?shift_jis?B?7uA=?= =?shift_jis?B?i7Q=?= <u@example.org>, =?utf-8?q?x?= <v@x>");
    InternetAddressList *l = internet_address_list_parse(NULL, r);

    g_assert_nonnull(l);
    g_assert_cmpint(internet_address_list_length(l), ==, 3);
    g_assert_cmpstr(internet_address_get_name(internet_address_list_get_address(l, 0)), ==, "高橋①");
    g_assert_cmpstr(internet_address_get_name(internet_address_list_get_address(l, 1)), ==, "髙橋");
    g_assert_cmpstr(internet_address_get_name(internet_address_list_get_address(l, 2)), ==, "x");
    g_object_unref(l);
    g_free(r);
}

static void
test_message(void)
{
    static const char mail[] =
        "From: a@example.org\r\n"
        "Subject: =?ISO-2022-JP?B?GyRCJUYlOSVILSF8ci1qGyhC?=\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=ISO-2022-JP\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        "\x1b$BK\\J8-\"|r\x1b(B \x1b(I6@6E\x1b(B\r\n";
    GMimeMessage *msg = parse_message_bytes((const guint8 *) mail, sizeof mail - 1);
    char *text;

    g_assert_nonnull(msg);
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==, "テスト①ⅱ㈱");
    g_assert_true(message_subject_is_jis(msg));
    text = message_text_part_text(GMIME_TEXT_PART(g_mime_message_get_mime_part(msg)));
    g_assert_cmpstr(text, ==, "本文②ⅱ ｶﾀｶﾅ\r\n");
    g_free(text);
    g_object_unref(msg);
}

int
main(int argc, char **argv)
{
    g_mime_init();
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/japanese/iso-2022-jp-nec", test_iso2022jp_nec);
    g_test_add_func("/japanese/kana", test_kana);
    g_test_add_func("/japanese/cp932", test_cp932);
    g_test_add_func("/japanese/emoji", test_emoji);
    g_test_add_func("/japanese/garbage", test_garbage);
    g_test_add_func("/japanese/encode", test_encode);
    g_test_add_func("/japanese/recode", test_recode);
    g_test_add_func("/japanese/message", test_message);
    return g_test_run();
}
