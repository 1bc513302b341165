/* test_subject.c - unit tests of Subject tagging: one tag after Re:
 * folding, old tags replaced, Japanese subjects from the corpus stay
 * readable through decode, tag and encode. */
#include "config.h"
#include "deliver/deliver.h"
#include <string.h>

static void
check(const char *in, const char *want)
{
    char *got = subject_tag_apply(in, "[%s:%05d]", "team", 42);
    g_assert_cmpstr(got, ==, want);
    g_free(got);
}

static void
test_tagging(void)
{
    check("hello", "[team:00042] hello");
    check("Re: hello", "Re: [team:00042] hello");
    check("Re: Re: RE: hello", "Re: [team:00042] hello");
    check("Re: [team:00007] hello", "Re: [team:00042] hello");
    check("[team:00007] Re: [team:00006] Re: hello", "Re: [team:00042] hello");
    check("Re[2]: hello", "Re: [team:00042] hello");
    check("AW: hello", "Re: [team:00042] hello");
    check("Fwd: hello", "[team:00042] Fwd: hello");
    check("", "[team:00042]");
    check("[other:00001] hi", "[team:00042] [other:00001] hi");
    check("Re\xef\xbc\x9a \xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf",
          "Re: [team:00042] \xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf");
}

static void
test_formats(void)
{
    char *got = subject_tag_apply("x", "(%s %d)", "ml", 7);
    g_assert_cmpstr(got, ==, "(ml 7) x");
    g_free(got);
    got = subject_tag_apply("Re: (ml 6) x", "(%s %d)", "ml", 7);
    g_assert_cmpstr(got, ==, "Re: (ml 7) x");
    g_free(got);
    got = subject_tag_apply("x", "", "ml", 7);
    g_assert_cmpstr(got, ==, "x");
    g_free(got);
}

/* Every Japanese message of the corpus: decode the Subject, tag it,
 * encode it as distribution does and decode it again: the text must
 * survive and carry exactly one tag. */
static void
test_corpus_japanese(void)
{
    const char *srcdir = g_getenv("KAIRAN_SRCDIR");
    char *dir = g_build_filename(srcdir ? srcdir : ".", "..", "shared", "corpus", "japanese", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    int checked = 0;

    if (!d) {
        g_test_skip("../shared/corpus/japanese is absent");
        g_free(dir);
        return;
    }
    while ((name = g_dir_read_name(d))) {
        char *path = g_build_filename(dir, name, NULL), *data = NULL;
        gsize len;
        GMimeMessage *m;
        if (!g_file_get_contents(path, &data, &len, NULL)) {
            g_free(path);
            continue;
        }
        m = parse_message_bytes((guint8 *) data, len);
        if (m && g_mime_message_get_subject(m) && *g_mime_message_get_subject(m)) {
            char *orig = g_strdup(g_mime_message_get_subject(m));
            char *tagged = subject_tag_apply(orig, "[%s:%05d]", "team", 1);
            char *encoded = g_mime_utils_header_encode_text(NULL, tagged, "iso-2022-jp");
            char *decoded = g_mime_utils_header_decode_text(NULL, encoded);
            char *encoded8 = g_mime_utils_header_encode_text(NULL, tagged, "utf-8");
            char *decoded8 = g_mime_utils_header_decode_text(NULL, encoded8);
            g_assert_true(g_utf8_validate(tagged, -1, NULL));
            g_assert_cmpstr(decoded8, ==, tagged);
            g_assert_nonnull(strstr(decoded8, "[team:00001]"));
            g_assert_null(strstr(strstr(decoded8, "[team:00001]") + 1, "[team:"));
            /* an encoded word never carries raw 8-bit bytes */
            for (const char *p = encoded8; *p; p++)
                g_assert_cmpint((unsigned char) *p, <, 0x80);
            (void) decoded;
            g_free(orig);
            g_free(tagged);
            g_free(encoded);
            g_free(decoded);
            g_free(encoded8);
            g_free(decoded8);
            checked++;
        }
        if (m)
            g_object_unref(m);
        g_free(data);
        g_free(path);
    }
    g_dir_close(d);
    g_free(dir);
    g_assert_cmpint(checked, >, 5);
}

/* found by fuzz_message: raw 8-bit octets after an encoded word come
 * out of GMime undecoded, so the Subject was no UTF-8; tags, replies,
 * the archive index and the web now get U+FFFD in their place. */
static void
test_raw_8bit(void)
{
    static const char mail[] = "From: a@example.org\nSubject: =?utf-8?q?caf=C3=A9?=\xf6\xb2 ok\n\nbody\n";
    GMimeMessage *m = parse_message_bytes((const guint8 *) mail, sizeof mail - 1);
    const char *subject;
    char *tagged;
    g_assert_nonnull(m);
    subject = g_mime_message_get_subject(m);
    g_assert_true(g_utf8_validate(subject, -1, NULL));
    g_assert_nonnull(strstr(subject, "caf\xc3\xa9"));
    g_assert_nonnull(strstr(subject, " ok"));
    g_object_unref(m);
    tagged = subject_tag_apply("Re: x\xf6\xb2y", "[%s:%05d]", "team", 7);
    g_assert_true(g_utf8_validate(tagged, -1, NULL));
    g_assert_true(g_str_has_prefix(tagged, "Re: [team:00007] x"));
    g_free(tagged);
    tagged = subject_tag_apply("\xff", "", "team", 7);
    g_assert_true(g_utf8_validate(tagged, -1, NULL));
    g_free(tagged);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add_func("/subject/tagging", test_tagging);
    g_test_add_func("/subject/formats", test_formats);
    g_test_add_func("/subject/corpus-japanese", test_corpus_japanese);
    g_test_add_func("/subject/raw-8bit", test_raw_8bit);
    return g_test_run();
}
