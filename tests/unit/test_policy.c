/* test_policy.c - unit tests of post policy, loop checks and the MIME
 * attachment/HTML policies. */
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
    return g_test_run();
}
