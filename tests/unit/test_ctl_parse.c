/* test_ctl_parse.c - unit tests of the command-mail line parser, the
 * password masking and mget ranges (src/ctl/parse.c, digest.c). */
#include "config.h"
#include "ctl/ctl.h"

static GPtrArray *
extract(const char *subject, const char *body, guint max, gboolean *cut)
{
    gboolean dummy;
    return ctl_extract_commands(subject, body, max, cut ? cut : &dummy);
}

static void
test_subject_reply(void)
{
    GPtrArray *l = extract("Re: RE: Fwd: confirm 0123abcd", NULL, 20, NULL);
    g_assert_cmpuint(l->len, ==, 1);
    g_assert_cmpstr(l->pdata[0], ==, "confirm 0123abcd");
    g_ptr_array_unref(l);
    l = extract("hello there", "help\n", 20, NULL);
    g_assert_cmpuint(l->len, ==, 1);
    g_assert_cmpstr(l->pdata[0], ==, "help");
    g_ptr_array_unref(l);
}

static void
test_body_rules(void)
{
    gboolean cut = TRUE;
    GPtrArray *l = extract(NULL, "\n  # subscribe  Taro   Yamada \n> quoted\n\nindex\r\nend\nmembers\n", 20, &cut);
    g_assert_false(cut);
    g_assert_cmpuint(l->len, ==, 2);
    g_assert_cmpstr(l->pdata[0], ==, "subscribe Taro Yamada");
    g_assert_cmpstr(l->pdata[1], ==, "index");
    g_ptr_array_unref(l);
    l = extract(NULL, "status\n-- \nmembers\n", 20, NULL);
    g_assert_cmpuint(l->len, ==, 1);
    g_ptr_array_unref(l);
    l = extract("confirm abc", "confirm abc\nquit\nhelp\n", 20, NULL);
    g_assert_cmpuint(l->len, ==, 1);        /* duplicates once */
    g_ptr_array_unref(l);
}

/* found by fuzz_ctl: a bare CR inside a body line, or a CR/LF in a
 * decoded Subject, stayed inside the command line (and so in the reply,
 * unmasked: "subscribe\nadmin pass X" was not seen as `admin pass`). */
static void
test_line_ends_inside(void)
{
    GPtrArray *l = extract("subscribe\nadmin pass secret", "help\rme\n", 20, NULL);
    g_assert_cmpuint(l->len, ==, 2);
    g_assert_cmpstr(l->pdata[0], ==, "subscribe admin pass secret");
    g_assert_cmpstr(l->pdata[1], ==, "help me");
    g_ptr_array_unref(l);
    /* a line of only VT/FF (not stripped by g_strstrip) is blank, never an
     * empty command line (argv[0] NULL in run_line) */
    l = extract("\v", "\v\n\f \v\nhelp\n", 20, NULL);
    g_assert_cmpuint(l->len, ==, 1);
    g_assert_cmpstr(l->pdata[0], ==, "help");
    g_ptr_array_unref(l);
}

static void
test_max(void)
{
    GString *body = g_string_new(NULL);
    gboolean cut = FALSE;
    GPtrArray *l;
    for (int i = 0; i < 10000; i++)
        g_string_append_printf(body, "get %d\n", i);
    l = extract(NULL, body->str, 20, &cut);
    g_assert_true(cut);
    g_assert_cmpuint(l->len, ==, 20);
    g_ptr_array_unref(l);
    g_string_free(body, TRUE);
}

static void
test_mask(void)
{
    char *m = ctl_mask_command("admin pass s3cret");
    g_assert_cmpstr(m, ==, "admin pass ********");
    g_free(m);
    m = ctl_mask_command("approve s3cret add a@b.example");
    g_assert_cmpstr(m, ==, "approve ******** add a@b.example");
    g_free(m);
    m = ctl_mask_command("approve s3cret admin passwd newpw");
    g_assert_cmpstr(m, ==, "approve ******** admin passwd ********");
    g_free(m);
    m = ctl_mask_command("password hunter2");
    g_assert_cmpstr(m, ==, "password ********");
    g_free(m);
    m = ctl_mask_command("admin add a@b.example");
    g_assert_cmpstr(m, ==, "admin add a@b.example");
    g_free(m);
}

static void
test_range(void)
{
    const char *why = NULL;
    GArray *a;

    /* found by fuzz_ctl: posts past the last one give an empty range,
     * which was qsort()ed with a NULL base (UBSan) */
    a = digest_parse_range("12-15", 10, 100, &why);
    g_assert_nonnull(a);
    g_assert_cmpuint(a->len, ==, 0);
    g_array_unref(a);
    a = digest_parse_range("1-3,7,last:2", 10, 100, &why);
    g_assert_nonnull(a);
    g_assert_cmpuint(a->len, ==, 6);
    g_assert_cmpint(g_array_index(a, gint64, 0), ==, 1);
    g_assert_cmpint(g_array_index(a, gint64, 3), ==, 7);
    g_assert_cmpint(g_array_index(a, gint64, 5), ==, 10);
    g_array_unref(a);
    g_assert_null(digest_parse_range("5-2", 10, 100, &why));
    g_assert_nonnull(why);
    g_assert_null(digest_parse_range("x", 10, 100, &why));
    a = digest_parse_range("8-20", 10, 100, &why);
    g_assert_cmpuint(a->len, ==, 3);
    g_array_unref(a);
}

static void
test_verp(void)
{
    char *a = bounce_verp_decode("team-admin+Taro.Y=Example.JP@lists.example.test", "team");
    g_assert_cmpstr(a, ==, "Taro.Y@example.jp");
    g_free(a);
    g_assert_null(bounce_verp_decode("team-admin@lists.example.test", "team"));
    g_assert_null(bounce_verp_decode("other-admin+a=b.example@lists.example.test", "team"));
    g_assert_null(bounce_verp_decode(NULL, "team"));
}

static void
test_dsn(void)
{
    static const char dsn[] =
        "From: MAILER-DAEMON@mx.example\nSubject: Undelivered\nMIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\nfailed\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
        "Original-Recipient: rfc822;Member@Example.ORG\nFinal-Recipient: rfc822; m@mail.example.org\n"
        "Action: failed\nStatus: 5.1.1\n\n"
        "Final-Recipient: rfc822; late@example.org\nAction: delayed\nStatus: 4.4.1\n\n"
        "--b\nContent-Type: message/rfc822\n\nFrom: poster@example.org\nSubject: x\n\nhi\n--b--\n";
    GMimeMessage *msg = parse_message_bytes((const guint8 *) dsn, sizeof(dsn) - 1);
    GPtrArray *f = bounce_failed_recipients(msg, "", NULL);
    g_assert_nonnull(f);
    g_assert_cmpuint(f->len, ==, 1);
    g_assert_cmpstr(((BounceRcpt *) f->pdata[0])->address, ==, "Member@example.org");
    g_assert_cmpstr(((BounceRcpt *) f->pdata[0])->alt, ==, "m@mail.example.org");
    g_assert_true(((BounceRcpt *) f->pdata[0])->hard);
    g_ptr_array_unref(f);
    g_object_unref(msg);
}

/* found by fuzz_ctl: an empty delivery-status part (or an embedded
 * message that did not parse) gave part_text NULL, and parse_dsn_fields
 * then crashed in g_strsplit(NULL) - kairan deliver died on such a bounce */
static void
test_dsn_empty(void)
{
    static const char dsn[] =
        "From: MAILER-DAEMON@mx.example\nSubject: Undelivered\nMIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\nfailed\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "--b\nContent-Type: message/global-delivery-status\n"
        "--b--\n";
    GMimeMessage *msg = parse_message_bytes((const guint8 *) dsn, sizeof(dsn) - 1);
    GPtrArray *f = bounce_failed_recipients(msg, "", NULL);
    g_assert_nonnull(f);
    g_assert_cmpuint(f->len, ==, 0);
    g_ptr_array_unref(f);
    g_object_unref(msg);
}

/* sec-mget: the reply's post lists, and the Message-IDs a bounce returns */
static void
test_format_nums(void)
{
    const gint64 a[] = { 1, 2, 3, 5, 7, 8, 10 };
    const gint64 b[] = { 42 };
    char *s = digest_format_nums(a, G_N_ELEMENTS(a));
    g_assert_cmpstr(s, ==, "1-3,5,7-8,10");
    g_free(s);
    s = digest_format_nums(b, 1);
    g_assert_cmpstr(s, ==, "42");
    g_free(s);
    s = digest_format_nums(NULL, 0);
    g_assert_cmpstr(s, ==, "");
    g_free(s);
}

static void
test_returned_ids(void)
{
    static const char dsn[] =
        "From: MAILER-DAEMON@mx.example\nMessage-ID: <own@mx.example>\n\n"
        "--b\nContent-Type: text/rfc822-headers\n\n"
        "Message-Id:\n <post.1@example.org>\nSubject: x\n"
        "> Message-ID: <quoted@example.org>\n"
        "MESSAGE-ID: <post.1@example.org>\n"
        "Message-ID: no angle brackets here\n"
        "X-Message-ID: <not-this@example.org>\n";
    GPtrArray *ids = bounce_returned_ids(dsn, sizeof(dsn) - 1, 10);
    g_assert_cmpuint(ids->len, >=, 2);
    g_assert_cmpstr(ids->pdata[0], ==, "post.1@example.org");
    g_assert_cmpstr(ids->pdata[1], ==, "quoted@example.org");
    for (guint i = 0; i < ids->len; i++) {
        g_assert_cmpstr(ids->pdata[i], !=, "own@mx.example");
        g_assert_cmpstr(ids->pdata[i], !=, "not-this@example.org");
    }
    g_ptr_array_unref(ids);
    ids = bounce_returned_ids(dsn, sizeof(dsn) - 1, 1);
    g_assert_cmpuint(ids->len, ==, 1);
    g_ptr_array_unref(ids);
    {
        static const char crlf[] = "Subject: b\r\n\r\nMessage-ID: <crlf@example.org>\r\n";
        ids = bounce_returned_ids(crlf, sizeof(crlf) - 1, 10);
    }
    g_assert_cmpuint(ids->len, ==, 1);
    g_assert_cmpstr(ids->pdata[0], ==, "crlf@example.org");
    g_ptr_array_unref(ids);
    ids = bounce_returned_ids("", 0, 10);
    g_assert_cmpuint(ids->len, ==, 0);
    g_ptr_array_unref(ids);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add_func("/ctl/subject_reply", test_subject_reply);
    g_test_add_func("/ctl/body_rules", test_body_rules);
    g_test_add_func("/ctl/line_ends_inside", test_line_ends_inside);
    g_test_add_func("/ctl/max_commands", test_max);
    g_test_add_func("/ctl/mask", test_mask);
    g_test_add_func("/ctl/range", test_range);
    g_test_add_func("/ctl/verp", test_verp);
    g_test_add_func("/ctl/dsn", test_dsn);
    g_test_add_func("/ctl/dsn_empty", test_dsn_empty);
    g_test_add_func("/ctl/format_nums", test_format_nums);
    g_test_add_func("/ctl/returned_ids", test_returned_ids);
    return g_test_run();
}
