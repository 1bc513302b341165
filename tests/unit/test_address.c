/* test_address.c - unit tests of address normalisation and checking. */
#include "config.h"
#include "address.h"
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
    return g_test_run();
}
