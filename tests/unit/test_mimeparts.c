/* test_mimeparts.c - unit tests of mimeparts.c: the part count made
 * before parsing against the tree GMime builds, the cut at a limit, and
 * the ways a boundary can be written (quoted, RFC 2231, folded, CRLF,
 * trailing white space) or hidden (a boundary line that is not one). */
#include "config.h"
#include "deliver/deliver.h"
#include "mimeparts.h"
#include <string.h>

/* scan_and_parse - the scan's count (no limit) and GMime's. */
static void
scan_and_parse(const char *text, gsize *scanned, gsize *built)
{
    MimePartsScan s;
    GMimeMessage *m = parse_message_bytes((const guint8 *) text, strlen(text));

    g_assert_true(mimeparts_scan((const guint8 *) text, strlen(text), 0, NULL, &s));
    g_assert_cmpuint(s.cut, ==, strlen(text));
    *scanned = s.parts;
    g_assert_nonnull(m);
    *built = mimeparts_count(g_mime_message_get_mime_part(m));
    g_object_unref(m);
}

static char *
multipart(const char *ct_params, const char *line, int n, const char *eol)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "From: a@example.org%sSubject: x%sMIME-Version: 1.0%s"
                              "Content-Type: multipart/mixed;%s%s",
                           eol, eol, eol, ct_params, eol);
    g_string_append(s, eol);
    for (int i = 0; i < n; i++)
        g_string_append_printf(s, "%s%sContent-Type: text/plain%s%spart %d%s", line, eol, eol, eol, i, eol);
    g_string_append_printf(s, "%s--%s", line, eol);
    return g_string_free(s, FALSE);
}

static void
test_exact(void)
{
    static const struct {
        const char *params, *line, *eol;
    } cases[] = {
        { " boundary=\"b1\"", "--b1", "\n" },
        { " boundary=b1", "--b1", "\r\n" },
        { " boundary=\"b1\"", "--b1 \t", "\n" },                    /* white space after the boundary */
        { "\n boundary=\"folded\"", "--folded", "\n" },             /* a folded header */
        { " boundary*0=\"sp\"; boundary*1=\"lit\"", "--split", "\n" },    /* RFC 2231 continuations */
        { " boundary*=utf-8''%41%42", "--AB", "\n" },               /* RFC 2231 encoding */
        { " boundary=\"fol\n ded\"", "--fol ded", "\n" },           /* folded inside the quotes */
        { " boundary=\"fol\r\n\tded\"", "--fol\tded", "\r\n" },
        { " boundary=\"a  b\"", "--a  b", "\n" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *text = multipart(cases[i].params, cases[i].line, 30, cases[i].eol);
        gsize scanned, built;
        scan_and_parse(text, &scanned, &built);
        g_assert_cmpuint(built, ==, 31);           /* the multipart and its 30 parts */
        g_assert_cmpuint(scanned, ==, 31);
        g_free(text);
    }
}

static void
test_not_boundaries(void)
{
    /* dash lines that are no boundary of the mail are not parts */
    const char *text = "From: a@example.org\nSubject: x\n\n-- \nsignature\n--b1\n---------\n--b1--\n";
    gsize scanned, built;
    scan_and_parse(text, &scanned, &built);
    g_assert_cmpuint(scanned, ==, 1);
    g_assert_cmpuint(built, ==, 1);
}

static void
test_messages(void)
{
    /* an attached message is two parts (the message part, its body) */
    const char *text = "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n"
                       "--o\nContent-Type: text/plain\n\nhi\n"
                       "--o\nContent-Type: message/rfc822\n\nFrom: b@example.org\nSubject: inner\n\ninner text\n"
                       "--o--\n";
    const char *digest = "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/digest; boundary=d\n\n"
                         "--d\n\nFrom: b@example.org\n\none\n--d\n\nFrom: c@example.org\n\ntwo\n--d--\n";
    gsize scanned, built;
    scan_and_parse(text, &scanned, &built);
    g_assert_cmpuint(built, ==, 4);
    g_assert_cmpuint(scanned, >=, 4);
    /* digest children are messages without a header: at least half */
    scan_and_parse(digest, &scanned, &built);
    g_assert_cmpuint(built, ==, 5);
    g_assert_cmpuint(2 * scanned + 1, >=, built);
}

static void
test_cut(void)
{
    char *text = multipart(" boundary=\"b1\"", "--b1", 5000, "\n");
    MimePartsScan s;
    GMimeMessage *m;
    gsize parts = 0;

    g_assert_false(mimeparts_scan((const guint8 *) text, strlen(text), 100, NULL, &s));
    g_assert_cmpuint(s.parts, ==, 5001);
    g_assert_cmpuint(s.cut, <, strlen(text));
    g_assert_true(strncmp(text + s.cut, "--b1\n", 5) == 0);       /* the cut is at a boundary line */
    m = parse_message_bounded((const guint8 *) text, strlen(text), 100, &parts);
    g_assert_nonnull(m);
    g_assert_cmpuint(parts, ==, 5001);
    g_assert_cmpuint(mimeparts_count(g_mime_message_get_mime_part(m)), ==, 100);
    g_assert_cmpstr(g_mime_message_get_subject(m), ==, "x");
    g_object_unref(m);
    /* under the limit: all of it */
    g_assert_true(mimeparts_scan((const guint8 *) text, strlen(text), 5001, NULL, &s));
    g_assert_cmpuint(s.cut, ==, strlen(text));
    g_free(text);
}

static void
test_many_boundaries(void)
{
    /* nested multiparts, each with its own boundary, count too, and the
     * scan stops remembering boundaries past the limit */
    GString *s = g_string_new("From: a@example.org\nMIME-Version: 1.0\n");
    MimePartsScan scan;
    for (int i = 0; i < 3000; i++)
        g_string_append_printf(s, "Content-Type: multipart/mixed; boundary=n%d\n\n--n%d\n", i, i);
    g_assert_false(mimeparts_scan((const guint8 *) s->str, s->len, 1000, NULL, &scan));
    g_assert_cmpuint(scan.parts, >, 1000);
    g_string_free(s, TRUE);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add_func("/mimeparts/exact", test_exact);
    g_test_add_func("/mimeparts/not-boundaries", test_not_boundaries);
    g_test_add_func("/mimeparts/messages", test_messages);
    g_test_add_func("/mimeparts/cut", test_cut);
    g_test_add_func("/mimeparts/many-boundaries", test_many_boundaries);
    return g_test_run();
}
