/* test_address.c - unit tests of address normalisation and checking. */
#include "config.h"
#include "address.h"
#include "addrfix.h"
#include "deliver/deliver.h"
#include <gmime/gmime.h>

static void
check_norm(const char *in, const char *want)
{
    const char *why = NULL;
    char *got = address_normalize(in, &why);
    if (want) {
        g_assert_nonnull(got);
        g_assert_cmpstr(got, ==, want);
    } else {
        g_assert_null(got);
        g_assert_nonnull(why);
    }
    g_free(got);
}

static void
test_normalize(void)
{
    check_norm("User@Example.ORG", "User@example.org");
    check_norm(" <a.b+tag@Sub.Example.com> ", "a.b+tag@sub.example.com");
    check_norm("\"odd local\"@example.org", "\"odd local\"@example.org");
    check_norm("x@[127.0.0.1]", "x@[127.0.0.1]");
}

static void
test_refused(void)
{
    check_norm("", NULL);
    check_norm("no-at-sign", NULL);
    check_norm("@example.org", NULL);
    check_norm("user@", NULL);
    check_norm("a@b@c", NULL);
    check_norm("user@exa mple.org", NULL);
    check_norm("user\r\nBcc: victim@example.org@example.org", NULL);
    check_norm("us\"er@example.org", NULL);
    check_norm("user@-bad.example", NULL);
    check_norm("user@bad..example", NULL);
    check_norm("a..b@example.org", NULL);
    check_norm("x'; DROP TABLE members; --@example.org", NULL);
}

static void
test_compare(void)
{
    char *a = address_normalize("Joe@EXAMPLE.org", NULL);
    char *b = address_normalize("Joe@example.ORG", NULL);
    char *c = address_normalize("joe@example.org", NULL);
    g_assert_true(address_equal(a, b));
    g_assert_false(address_equal(a, c));   /* local parts are exact (RFC 5321) */
    g_free(a);
    g_free(b);
    g_free(c);
}

static void
test_from_header(void)
{
    char *name = NULL;
    char *a = address_from_header("=?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <Taro@Example.JP>", &name);
    g_assert_cmpstr(a, ==, "Taro@example.jp");
    g_assert_nonnull(name);
    g_free(a);
    g_free(name);
    g_assert_null(address_from_header("undisclosed-recipients:;", NULL));
}

/* GMime 3.2.13 leaks the addr-spec of "u@[literal] (open comment": the
 * sanitizer build's LeakSanitizer and tests/valgrind.sh fail this test
 * if addrfix stops closing such comments. */
static void
test_open_comment(void)
{
    char *name = NULL;
    char *a = address_from_header("u@[192.0.2.1] (Taro", &name);
    g_assert_cmpstr(a, ==, "u@[192.0.2.1]");
    g_assert_cmpstr(name, ==, "Taro");
    g_free(a);
    g_free(name);
    a = address_from_header("u@[u@](", NULL);
    g_free(a);
    /* found by fuzz_address: an unbalanced quote before the literal */
    a = address_from_header("\"\"\",\xbd\xf3" "From: u@[192. ,@m 0.2.1] (x\\\r\n\t(y\r\nTo: a@b\r\n", NULL);
    g_free(a);
    a = address_from_header("u@[192.0.2.1] ((nested) \\", NULL);
    g_assert_cmpstr(a, ==, "u@[192.0.2.1]");
    g_free(a);
}

static void
check_fix_value(const char *in, const char *want)
{
    char *got = addrfix_value(in);
    g_assert_cmpstr(got, ==, want);
    g_free(got);
}

static void
test_addrfix_value(void)
{
    check_fix_value("Taro <taro@example.jp>", NULL);
    check_fix_value("taro@example.jp (Taro)", NULL);
    check_fix_value("Smile :( <taro@example.jp>", NULL);   /* not after a literal */
    check_fix_value("a@b (never closed", NULL);            /* GMime copes with this one */
    check_fix_value("u@[192.0.2.1] (x", "u@[192.0.2.1] (x)");
    check_fix_value("u@[192.0.2.1]\t\t(x", "u@[192.0.2.1]\t\t(x)");
    check_fix_value("u@[1.2.3.4] ((a) (b", "u@[1.2.3.4] ((a) (b))");
    check_fix_value("u@[1.2.3.4] (a) x (b", NULL);         /* closed; the second is no candidate */
    check_fix_value("u@[1.2.3.4] (a), v@[1.2.3.5] (b", "u@[1.2.3.4] (a), v@[1.2.3.5] (b)");
    check_fix_value("(((u@[x] (a", "(((u@[x] (a)");        /* earlier parentheses do not count */
    check_fix_value("u@[x] (x\\", "u@[x] (x\\ )");         /* a lone backslash at the end */
    check_fix_value("u@[x] (x\\\\", "u@[x] (x\\\\)");      /* an escaped backslash */
    check_fix_value("u@[x] (x\\\\\\", "u@[x] (x\\\\\\ )");
    check_fix_value("u@[x] (x \\) y", "u@[x] (x \\) y)");  /* an escaped ')' closes nothing */
    check_fix_value("\"q\"\"\"u@[x] (", "\"q\"\"\"u@[x] ()");   /* quotes prove nothing */
    check_fix_value("a@[(not a comment] x", NULL);
    check_fix_value(NULL, NULL);
}

static void
check_fix_message(const char *in, const char *want)
{
    size_t n = 0;
    guint8 *got = addrfix_message((const guint8 *) in, strlen(in), &n);
    if (!want) {
        g_assert_null(got);
        return;
    }
    g_assert_nonnull(got);
    g_assert_cmpmem(got, n, want, strlen(want));
    g_free(got);
}

static void
test_addrfix_message(void)
{
    check_fix_message("From: a@b\r\nSubject: u@[x] (x\r\n\r\nbody (\r\n", NULL);
    check_fix_message("From: u@[192.0.2.1] (x\r\nSubject: s\r\n\r\nb\r\n",
                      "From: u@[192.0.2.1] (x)\r\nSubject: s\r\n\r\nb\r\n");
    /* folded: closed at the end of the last line; LF-only; any case;
     * the blanks between ']' and '(' may be the fold itself */
    check_fix_message("cc : a@b,\n u@[1.2.3.4] (one\n\t(two)\nX: y\n",
                      "cc : a@b,\n u@[1.2.3.4] (one\n\t(two))\nX: y\n");
    check_fix_message("Bcc: u@[1.2.3.4]\r\n (x\r\n", "Bcc: u@[1.2.3.4]\r\n (x)\r\n");
    check_fix_message("RESENT-TO: u@[1.2.3.4] (", "RESENT-TO: u@[1.2.3.4] ()");
    /* an attached message's header block, two fields in one message */
    check_fix_message("To: v@[y] (\n\n--b\nContent-Type: message/rfc822\n\nReply-To: u@[x] (y\n\nz\n",
                      "To: v@[y] ()\n\n--b\nContent-Type: message/rfc822\n\nReply-To: u@[x] (y)\n\nz\n");
    /* a field name that only starts like one */
    check_fix_message("Fromage: u@[x] (\nToday: u@[x] (\n", NULL);
}

/* parsing a whole message with such a field: GMime parses address
 * fields as it reads the header block, so this is where the daemon
 * would leak. */
static void
test_parse_open_comment(void)
{
    static const char mail[] =
        "From: u@[192.0.2.1] (Taro\r\n"
        "To: list@example.org, x@[192.0.2.2] (\r\n"
        "Subject: s\r\n\r\n"
        "--b\r\n";
    GMimeMessage *msg = parse_message_bytes((const guint8 *) mail, sizeof mail - 1);
    InternetAddressList *from;
    g_assert_nonnull(msg);
    from = g_mime_message_get_from(msg);
    g_assert_cmpint(internet_address_list_length(from), ==, 1);
    g_assert_cmpstr(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(from, 0))),
                    ==, "u@[192.0.2.1]");
    g_assert_cmpint(internet_address_list_length(g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_TO)), ==, 2);
    g_object_unref(msg);
}

static void
test_daemon(void)
{
    g_assert_true(address_is_mailer_daemon(""));
    g_assert_true(address_is_mailer_daemon("MAILER-DAEMON@example.org"));
    g_assert_false(address_is_mailer_daemon("member@example.org"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add_func("/address/normalize", test_normalize);
    g_test_add_func("/address/refused", test_refused);
    g_test_add_func("/address/compare", test_compare);
    g_test_add_func("/address/from-header", test_from_header);
    g_test_add_func("/address/mailer-daemon", test_daemon);
    g_test_add_func("/address/open-comment", test_open_comment);
    g_test_add_func("/address/addrfix-value", test_addrfix_value);
    g_test_add_func("/address/addrfix-message", test_addrfix_message);
    g_test_add_func("/address/parse-open-comment", test_parse_open_comment);
    return g_test_run();
}
