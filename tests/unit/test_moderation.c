/* test_moderation.c - unit tests of src/lib/moderation.c: header_filters
 * rules (separators, the \; escape, errors naming the rule, matching of
 * decoded headers) and the Approved: password taken out of a post
 * (header, first body line, where it is not taken). */
#include "config.h"
#include "message.h"
#include "moderation.h"
#include <string.h>

static GMimeMessage *
parse(const char *text)
{
    return parse_message_bytes((const guint8 *) text, strlen(text));
}

static char *
serialise(GMimeMessage *m)
{
    return g_mime_object_to_string(GMIME_OBJECT(m), NULL);
}

static void
test_rules_parse(void)
{
    char *why = NULL;
    char *norm = moderation_rules_normalize("X-Spam-Flag: YES -> HOLD\n\n ; Subject: a\\;b -> reject;X: \\\\ -> discard",
                                            &why);
    GPtrArray *rules;

    g_assert_null(why);
    g_assert_cmpstr(norm, ==, "X-Spam-Flag: YES -> hold; Subject: a\\;b -> reject; X: \\\\ -> discard");
    rules = moderation_rules_parse(norm, &why);
    g_assert_nonnull(rules);
    g_assert_cmpuint(rules->len, ==, 3);
    g_assert_cmpstr(((ModerationRule *) rules->pdata[1])->pattern, ==, "a\\;b");
    g_ptr_array_unref(rules);
    g_free(norm);

    g_assert_null(moderation_rules_parse("X-A: ok -> hold; X-B: ( -> hold", &why));
    g_assert_nonnull(strstr(why, "rule 2"));
    g_assert_nonnull(strstr(why, "not a regular expression"));
    g_clear_pointer(&why, g_free);
    g_assert_null(moderation_rules_parse("X-A: ok", &why));
    g_assert_nonnull(strstr(why, "rule 1"));
    g_clear_pointer(&why, g_free);
    g_assert_null(moderation_rules_parse("X-A: ok -> bounce", &why));
    g_assert_nonnull(strstr(why, "unknown action"));
    g_clear_pointer(&why, g_free);
    g_assert_null(moderation_rules_parse("Bad Name: ok -> hold", &why));
    g_clear_pointer(&why, g_free);
    g_assert_null(moderation_rules_parse("X-A:  -> hold", &why));
    g_clear_pointer(&why, g_free);
    rules = moderation_rules_parse("", &why);
    g_assert_nonnull(rules);
    g_assert_cmpuint(rules->len, ==, 0);
    g_ptr_array_unref(rules);
}

static void
test_rules_match(void)
{
    char *why = NULL;
    GPtrArray *rules = moderation_rules_parse("X-Spam-Flag: ^yes$ -> hold; Subject: 迷惑 -> discard; "
                                              "Content-Type: html -> reject; X-Any: . -> accept", &why);
    const char *rule = NULL;
    GMimeMessage *m;

    g_assert_nonnull(rules);
    m = parse("From: a@example.org\nX-Spam-Flag: no\nX-Spam-Flag: YES\nSubject: hi\n\nbody\n");
    g_assert_cmpint(moderation_rules_match(m, rules, &rule), ==, MODERATION_HOLD);
    g_assert_cmpstr(rule, ==, "X-Spam-Flag: ^yes$ -> hold");
    g_object_unref(m);
    /* ISO-2022-JP encoded word: 迷惑 */
    m = parse("From: a@example.org\nSubject: =?ISO-2022-JP?B?GyRCTEJPRxsoQg==?=\n\nbody\n");
    g_assert_cmpint(moderation_rules_match(m, rules, &rule), ==, MODERATION_DISCARD);
    g_object_unref(m);
    m = parse("From: a@example.org\nMIME-Version: 1.0\nContent-Type: text/HTML\n\n<p>x</p>\n");
    g_assert_cmpint(moderation_rules_match(m, rules, &rule), ==, MODERATION_REJECT);
    g_object_unref(m);
    m = parse("From: a@example.org\nX-Spam-Flag: YESS\nSubject: fine\n\nbody\n");
    g_assert_cmpint(moderation_rules_match(m, rules, NULL), ==, MODERATION_NONE);
    g_object_unref(m);
    g_ptr_array_unref(rules);
}

static void
test_approved_header(void)
{
    GMimeMessage *m = parse("From: a@example.org\nApproved:  s3cret \nX-Approve: other\nSubject: x\n\n"
                            "Approved: not-this\nbody\n");
    char *pw = moderation_approved_take(m), *text = serialise(m);

    g_assert_cmpstr(pw, ==, "s3cret");
    g_assert_null(strstr(text, "s3cret"));
    g_assert_null(strstr(text, "other"));
    g_assert_nonnull(strstr(text, "Approved: not-this"));   /* the header wins; the body is not touched */
    g_free(pw);
    g_free(text);
    g_object_unref(m);
}

static void
test_approved_line(void)
{
    GMimeMessage *m = parse("From: a@example.org\nSubject: x\nMIME-Version: 1.0\n"
                            "Content-Type: text/plain; charset=us-ascii\n\n\n \nAPPROVE: pw1\n\nline one\nApproved: pw1 again\n");
    char *pw = moderation_approved_take(m), *text = serialise(m);

    g_assert_cmpstr(pw, ==, "pw1");
    g_assert_nonnull(strstr(text, "\n\nline one\n"));
    g_assert_null(strstr(text, "APPROVE"));
    g_assert_null(strstr(text, "pw1"));       /* every "Approved: pw1" goes */
    g_assert_nonnull(strstr(text, " again"));
    g_free(pw);
    g_free(text);
    g_object_unref(m);

    /* not the first non-blank line: nothing taken, nothing changed */
    m = parse("From: a@example.org\nSubject: x\n\nhello\nApproved: pw2\n");
    g_assert_null(moderation_approved_take(m));
    text = serialise(m);
    g_assert_nonnull(strstr(text, "Approved: pw2"));
    g_free(text);
    g_object_unref(m);

    /* a text/plain attachment is not the body */
    m = parse("From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
              "Content-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nApproved: pw3\n--b--\n");
    g_assert_null(moderation_approved_take(m));
    g_object_unref(m);

    /* the HTML half writes the password with entities */
    m = parse("From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n--b\n"
              "Content-Type: text/plain\n\nApproved: p&w<1\n\nhi\n--b\nContent-Type: text/html\n\n"
              "<p>Approved:&nbsp;<i>p&amp;w&lt;1</i></p><p>hi</p>\n--b--\n");
    pw = moderation_approved_take(m);
    g_assert_cmpstr(pw, ==, "p&w<1");
    text = serialise(m);
    g_assert_null(strstr(text, "p&amp;w"));
    g_assert_null(strstr(text, "p&w"));
    g_assert_nonnull(strstr(text, "<p></i></p><p>hi</p>"));     /* the tags between go with it */
    g_free(pw);
    g_free(text);
    g_object_unref(m);

    /* base64 stays base64 */
    m = parse("From: a@example.org\nMIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
              "QXBwcm92ZWQ6IHB3NApib2R5Cg==\n");
    pw = moderation_approved_take(m);
    g_assert_cmpstr(pw, ==, "pw4");
    text = serialise(m);
    g_assert_nonnull(strstr(text, "Content-Transfer-Encoding: base64"));
    g_assert_nonnull(strstr(text, "Ym9keQo="));                /* "body\n" */
    g_free(pw);
    g_free(text);
    g_object_unref(m);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add_func("/moderation/rules_parse", test_rules_parse);
    g_test_add_func("/moderation/rules_match", test_rules_match);
    g_test_add_func("/moderation/approved_header", test_approved_header);
    g_test_add_func("/moderation/approved_line", test_approved_line);
    return g_test_run();
}
