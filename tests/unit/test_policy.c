/* test_policy.c - unit tests of post policy, loop checks, the MIME
 * attachment/HTML policies and the list footer. */
#include "config.h"
#include "deliver/deliver.h"
#include <string.h>

static GMimeMessage *
parse(const char *text)
{
    return parse_message_bytes((const guint8 *) text, strlen(text));
}

static void
test_post_policy(void)
{
    g_assert_cmpint(policy_post("members", TRUE, FALSE), ==, POLICY_ACCEPT);
    g_assert_cmpint(policy_post("members", FALSE, FALSE), ==, POLICY_REFUSE);
    g_assert_cmpint(policy_post("members", FALSE, TRUE), ==, POLICY_ACCEPT);
    g_assert_cmpint(policy_post("anyone", FALSE, FALSE), ==, POLICY_ACCEPT);
    g_assert_cmpint(policy_post("moderated", TRUE, FALSE), ==, POLICY_HOLD);
    g_assert_cmpint(policy_post("members-hold", FALSE, FALSE), ==, POLICY_HOLD);
    g_assert_cmpint(policy_post("members-hold", TRUE, FALSE), ==, POLICY_ACCEPT);
    g_assert_cmpint(policy_post("garbage", FALSE, FALSE), ==, POLICY_REFUSE);
}

static void
test_loops(void)
{
    GMimeMessage *m = parse("From: a@example.org\nX-ML-Name: team\nSubject: x\n\nbody\n");
    GString *many = g_string_new("From: a@example.org\n");
    g_assert_nonnull(loop_check(m, "team", "<team.example.test>", "a@example.org"));
    g_assert_null(loop_check(m, "other", "<other.example.test>", "a@example.org"));
    g_assert_nonnull(loop_check(m, "other", "<other.example.test>", ""));
    g_assert_nonnull(loop_check(m, "other", "<other.example.test>", "MAILER-DAEMON@example.org"));
    g_object_unref(m);
    m = parse("From: a@example.org\nList-Id: Team <team.example.test>\n\nbody\n");
    g_assert_nonnull(loop_check(m, "team", "<team.example.test>", "a@example.org"));
    g_object_unref(m);
    for (int i = 0; i < 31; i++)
        g_string_append_printf(many, "Received: from hop%d by hop%d\n", i, i + 1);
    g_string_append(many, "\nbody\n");
    m = parse(many->str);
    g_assert_nonnull(loop_check(m, "team", "<team.example.test>", "a@example.org"));
    g_object_unref(m);
    g_string_free(many, TRUE);
    /* X-BeenThere: one per list passed; ours (any case, <> or not) is a loop */
    m = parse("From: a@example.org\nX-BeenThere: other@example.test\nX-BeenThere: <Team@Example.TEST>\n"
              "X-ML-Name: other\n\nbody\n");
    g_assert_nonnull(loop_been_there(m, "team@example.test"));
    g_assert_nonnull(loop_been_there(m, "other@example.test"));
    g_assert_null(loop_been_there(m, "third@example.test"));
    g_assert_null(loop_been_there(m, "team@example.testx"));
    g_object_unref(m);
}

static const char *mixed =
    "From: a@example.org\nSubject: att\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=XX\n\n"
    "--XX\nContent-Type: text/plain\n\nhello\n"
    "--XX\nContent-Type: application/pdf; name=doc.pdf\nContent-Disposition: attachment; filename=doc.pdf\n"
    "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n"
    "--XX--\n";

static void
test_strip(void)
{
    GMimeMessage *m = parse(mixed);
    char *removed = NULL;
    GByteArray *out;
    g_assert_cmpint(filter_attachments(m, "strip", "text/plain multipart/*", &removed), ==, FILTER_OK);
    g_assert_nonnull(removed);
    g_assert_nonnull(strstr(removed, "application/pdf"));
    g_assert_nonnull(strstr(removed, "doc.pdf"));
    g_assert_cmpint(g_mime_multipart_get_count(GMIME_MULTIPART(g_mime_message_get_mime_part(m))), ==, 2);
    out = g_byte_array_new();
    {
        GMimeStream *s = g_mime_stream_mem_new();
        g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, s);
        GByteArray *b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
        g_byte_array_append(out, b->data, b->len);
        g_object_unref(s);
    }
    g_byte_array_append(out, (guint8 *) "", 1);
    g_assert_null(strstr((char *) out->data, "JVBERi0xLjQK"));
    g_assert_nonnull(strstr((char *) out->data, "hello"));
    g_byte_array_unref(out);
    g_free(removed);
    g_object_unref(m);
}

static void
test_reject_keep(void)
{
    GMimeMessage *m = parse(mixed);
    char *removed = NULL;
    g_assert_cmpint(filter_attachments(m, "reject", "text/plain", &removed), ==, FILTER_REJECT);
    g_free(removed);
    g_assert_cmpint(filter_attachments(m, "keep", "text/plain", &removed), ==, FILTER_OK);
    g_assert_null(removed);
    g_assert_cmpint(filter_attachments(m, "reject", "text/plain application/*", &removed), ==, FILTER_OK);
    g_object_unref(m);
}

static void
test_html_only(void)
{
    GMimeMessage *m = parse("From: a@example.org\nContent-Type: text/html\n\n<p>hi</p>\n");
    g_assert_true(message_is_html_only(m));
    g_object_unref(m);
    m = parse("From: a@example.org\nContent-Type: multipart/alternative; boundary=B\n\n"
              "--B\nContent-Type: text/plain\n\nhi\n--B\nContent-Type: text/html\n\n<p>hi</p>\n--B--\n");
    g_assert_false(message_is_html_only(m));
    g_object_unref(m);
    m = parse(mixed);
    g_assert_false(message_is_html_only(m));
    g_object_unref(m);
    g_assert_true(mime_type_allowed("image", "png", "text/plain image/*"));
    g_assert_false(mime_type_allowed("image", "png", "text/plain"));
}

/* serialise - the message as it would be archived and sent. */
static char *
serialise(GMimeMessage *msg)
{
    return g_mime_object_to_string(GMIME_OBJECT(msg), NULL);
}

/* text_of - the decoded UTF-8 text of a text part. */
static char *
text_of(GMimeObject *obj)
{
    g_assert_true(GMIME_IS_TEXT_PART(obj));
    return g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
}

static void
test_footer_plain(void)
{
    GMimeMessage *m = parse("From: a@example.org\nSubject: s\n\nhello");
    char *text;
    footer_apply(m, "-- \nteam list");
    text = text_of(g_mime_message_get_mime_part(m));
    g_assert_cmpstr(text, ==, "hello\n-- \nteam list\n");
    g_free(text);
    g_object_unref(m);
    /* nothing to add */
    m = parse("From: a@example.org\nSubject: s\n\nhello\n");
    footer_apply(m, "");
    text = text_of(g_mime_message_get_mime_part(m));
    g_assert_cmpstr(text, ==, "hello\n");
    g_free(text);
    g_object_unref(m);
}

static void
test_footer_charsets(void)
{
    /* ISO-2022-JP stays ISO-2022-JP (7 bit) when the footer fits in it */
    GMimeMessage *m = parse("From: a@example.org\nSubject: s\nMIME-Version: 1.0\n"
                            "Content-Type: text/plain; charset=ISO-2022-JP\n\n"
                            "\x1b$B$3$s$K$A$O\x1b(B\n");
    GMimeObject *body;
    char *text, *raw;
    footer_apply(m, "\xe3\x83\x95\xe3\x83\x83\xe3\x82\xbf\xe3\x83\xbc");   /* フッター */
    body = g_mime_message_get_mime_part(m);
    g_assert_cmpstr(g_mime_object_get_content_type_parameter(body, "charset"), ==, "ISO-2022-JP");
    text = text_of(body);
    g_assert_cmpstr(text, ==, "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf\n"
                    "\xe3\x83\x95\xe3\x83\x83\xe3\x82\xbf\xe3\x83\xbc\n");
    g_free(text);
    raw = serialise(m);
    for (const char *p = raw; *p; p++)
        g_assert_cmpint((unsigned char) *p, <, 0x80);
    g_free(raw);
    g_object_unref(m);

    /* a Japanese footer under a Latin-1 body: the body becomes UTF-8 */
    m = parse("From: a@example.org\nSubject: s\nMIME-Version: 1.0\n"
              "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
              "caf=E9\n");
    footer_apply(m, "\xe3\x83\x95\xe3\x83\x83\xe3\x82\xbf\xe3\x83\xbc");
    body = g_mime_message_get_mime_part(m);
    g_assert_cmpstr(g_mime_object_get_content_type_parameter(body, "charset"), ==, "utf-8");
    text = text_of(body);
    g_assert_cmpstr(text, ==, "caf\xc3\xa9\n\xe3\x83\x95\xe3\x83\x83\xe3\x82\xbf\xe3\x83\xbc\n");
    g_free(text);
    raw = serialise(m);
    for (const char *p = raw; *p; p++)
        g_assert_cmpint((unsigned char) *p, <, 0x80);     /* still 7-bit clean */
    g_free(raw);
    g_object_unref(m);
}

static void
test_footer_mixed(void)
{
    GMimeMessage *m = parse(mixed);
    GMimeMultipart *mp = GMIME_MULTIPART(g_mime_message_get_mime_part(m));
    int before = g_mime_multipart_get_count(mp);
    GMimeObject *last;
    char *text;
    footer_apply(m, "team list");
    g_assert_true(GMIME_MULTIPART(g_mime_message_get_mime_part(m)) == mp);
    g_assert_cmpint(g_mime_multipart_get_count(mp), ==, before + 1);
    last = g_mime_multipart_get_part(mp, before);
    text = text_of(last);
    g_assert_cmpstr(text, ==, "team list\n");
    g_free(text);
    g_assert_false(g_mime_content_disposition_is_attachment(g_mime_object_get_content_disposition(last)));
    g_object_unref(m);
}

static void
test_footer_wrapped(void)
{
    static const char signed_mail[] =
        "From: a@example.org\nSubject: s\nMIME-Version: 1.0\n"
        "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=\"S\"\n\n"
        "--S\nContent-Type: text/plain; charset=us-ascii\n\nsigned text\n"
        "--S\nContent-Type: application/pgp-signature\n\n-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n"
        "--S--\n";
    static const char *const shapes[] = {
        signed_mail,
        "From: a@example.org\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=A\n\n"
        "--A\nContent-Type: text/plain\n\nplain\n--A\nContent-Type: text/html\n\n<p>html</p>\n--A--\n",
        "From: a@example.org\nSubject: s\nMIME-Version: 1.0\nContent-Type: text/html\n\n<p>only html</p>\n",
        "From: a@example.org\nSubject: s\nMIME-Version: 1.0\nContent-Type: application/pdf\n"
        "Content-Disposition: attachment; filename=a.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(shapes); i++) {
        GMimeMessage *m = parse(shapes[i]);
        GMimeObject *orig = g_object_ref(g_mime_message_get_mime_part(m));
        char *orig_text = g_mime_object_to_string(orig, NULL), *text, *now;
        GMimeObject *top;
        footer_apply(m, "team list");
        top = g_mime_message_get_mime_part(m);
        g_assert_true(GMIME_IS_MULTIPART(top));
        g_assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(top), "multipart", "mixed"));
        g_assert_cmpint(g_mime_multipart_get_count(GMIME_MULTIPART(top)), ==, 2);
        g_assert_true(g_mime_multipart_get_part(GMIME_MULTIPART(top), 0) == orig);
        now = g_mime_object_to_string(orig, NULL);
        g_assert_cmpstr(now, ==, orig_text);          /* untouched: a signature stays valid */
        text = text_of(g_mime_multipart_get_part(GMIME_MULTIPART(top), 1));
        g_assert_cmpstr(text, ==, "team list\n");
        g_free(text);
        g_free(now);
        g_free(orig_text);
        g_object_unref(orig);
        g_object_unref(m);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add_func("/policy/post", test_post_policy);
    g_test_add_func("/policy/loops", test_loops);
    g_test_add_func("/mime/strip", test_strip);
    g_test_add_func("/mime/reject-keep", test_reject_keep);
    g_test_add_func("/mime/html-only", test_html_only);
    g_test_add_func("/footer/plain", test_footer_plain);
    g_test_add_func("/footer/charsets", test_footer_charsets);
    g_test_add_func("/footer/mixed", test_footer_mixed);
    g_test_add_func("/footer/wrapped", test_footer_wrapped);
    return g_test_run();
}
