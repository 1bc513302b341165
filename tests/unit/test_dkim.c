/* test_dkim.c - unit tests of DKIM relaxed body canonicalisation against
 * the examples of RFC 6376 (3.4.5) and RFC 8463 (Appendix A), and of the
 * shape of the DKIM-Signature field kairan writes (ed25519 key of RFC 8463
 * A.2: Ed25519 is deterministic, so the field is reproducible). */
#include "config.h"
#include "dkim.h"
#include <string.h>
#include <openssl/evp.h>

static char *
sha256_b64(const char *s)
{
    guint8 md[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    return g_base64_encode(md, n);
}

static void
check_body(const char *msg, const char *canonical)
{
    char *got = dkim_body_hash((const guint8 *) msg, strlen(msg));
    char *want = sha256_b64(canonical);
    g_assert_cmpstr(got, ==, want);
    g_free(got);
    g_free(want);
}

static void
test_rfc6376_example(void)
{
    /* RFC 6376 3.4.5: the body " C \r\nD \t E\r\n\r\n\r\n" is " C\r\nD E\r\n". */
    check_body("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
    /* the same with LF line ends, as kairan writes its files */
    check_body("A: X\nB : Y\t\n\tZ  \n\n C \nD \t E\n\n\n", " C\r\nD E\r\n");
}

static void
test_edge_bodies(void)
{
    check_body("Subject: x\n\n", "");                 /* empty body: empty string */
    check_body("Subject: x\n\n\n\n \t\n", "");        /* only blank lines */
    check_body("Subject: x\n", "");                   /* no body at all */
    check_body("Subject: x\n\nlast line", "last line\r\n");
    check_body("Subject: x\n\n\nafter blank\n", "\r\nafter blank\r\n");
}

static void
test_rfc8463_body_hash(void)
{
    const char *msg =
        "From: Joe SixPack <joe@football.example.com>\r\n"
        "To: Suzie Q <suzie@shopping.example.net>\r\n"
        "Subject: Is dinner ready?\r\n"
        "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
        "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
        "\r\n"
        "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
    char *bh = dkim_body_hash((const guint8 *) msg, strlen(msg));
    g_assert_cmpstr(bh, ==, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
    g_free(bh);
}

static void
test_signature_field(void)
{
    gsize n = 0;
    guchar *seed = g_base64_decode("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", &n);
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, n);
    const char *msg = "From: a@example.org\nFrom: b@example.org\nSubject: s\nX-Other: o\n\nbody\n";
    GError *error = NULL;
    char *sig, *sig2;

    g_assert_nonnull(key);
    sig = dkim_signature((const guint8 *) msg, strlen(msg), key, "example.org", "sel", 1528637909, &error);
    g_assert_no_error(error);
    g_assert_true(g_str_has_prefix(sig, "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;\n\ts=sel; t=1528637909;"));
    /* both From fields, bottom-up, plus one more (oversigned); unknown fields not signed */
    g_assert_nonnull(strstr(sig, "h=from:from:from:subject:subject;"));
    g_assert_null(strstr(sig, "x-other"));
    g_assert_true(g_str_has_suffix(sig, "\n"));
    for (const char *p = sig; *p; p++)
        if (*p == '\n')
            g_assert_true(p[1] == '\t' || p[1] == '\0');      /* folded, never a bare line */
    sig2 = dkim_signature((const guint8 *) msg, strlen(msg), key, "example.org", "sel", 1528637909, &error);
    g_assert_cmpstr(sig, ==, sig2);                          /* Ed25519: deterministic */
    g_free(sig);
    g_free(sig2);
    EVP_PKEY_free(key);
    g_free(seed);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dkim/rfc6376-body", test_rfc6376_example);
    g_test_add_func("/dkim/edge-bodies", test_edge_bodies);
    g_test_add_func("/dkim/rfc8463-body-hash", test_rfc8463_body_hash);
    g_test_add_func("/dkim/signature-field", test_signature_field);
    return g_test_run();
}
