/* test_crypto.c - unit tests of src/lib/crypto.c: HMAC-SHA256 against the
 * RFC 4231 test vectors, PBKDF2-HMAC-SHA256 password hashes against known
 * answers, the stored-hash format and its refusals, constant-time
 * comparison and reading a password from a file descriptor. */
#include "config.h"
#include "crypto.h"

#include <string.h>
#include <unistd.h>

static void
check_hmac(const char *key, const void *data, size_t len, const char *want)
{
    char *got = hmac_sha256_hex(key, data, len);
    g_assert_nonnull(got);
    g_assert_cmpstr(got, ==, want);
    g_free(got);
}

/* RFC 4231 section 4: every case whose key has no NUL byte (the API
 * takes the key as a C string). */
static void
test_hmac_rfc4231(void)
{
    char key[132], data[200];
    char *got;

    memset(key, 0x0b, 20);
    key[20] = '\0';
    check_hmac(key, "Hi There", 8, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    check_hmac("Jefe", "what do ya want for nothing?", 28,
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, 20);
    key[20] = '\0';
    memset(data, 0xdd, 50);
    check_hmac(key, data, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (int i = 0; i < 25; i++)
        key[i] = (char) (i + 1);
    key[25] = '\0';
    memset(data, 0xcd, 50);
    check_hmac(key, data, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    /* case 5 gives the first 128 bits only */
    memset(key, 0x0c, 20);
    key[20] = '\0';
    got = hmac_sha256_hex(key, "Test With Truncation", 20);
    g_assert_nonnull(got);
    g_assert_cmpuint(strlen(got), ==, 64);
    g_assert_true(g_str_has_prefix(got, "a3b6167473100ee06e0c796c2955552b"));
    g_free(got);
    memset(key, 0xaa, 131);
    key[131] = '\0';
    check_hmac(key, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    {
        const char *d7 = "This is a test using a larger than block-size key and a larger than block-size data."
                         " The key needs to be hashed before being used by the HMAC algorithm.";
        check_hmac(key, d7, strlen(d7), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    }
}

/* Data is taken by length: a NUL inside it counts. */
static void
test_hmac_binary_data(void)
{
    char *a = hmac_sha256_hex("k", "ab\0cd", 5);
    char *b = hmac_sha256_hex("k", "ab\0ce", 5);
    char *c = hmac_sha256_hex("k", "ab", 2);
    g_assert_cmpstr(a, !=, b);
    g_assert_cmpstr(a, !=, c);
    g_free(a);
    g_free(b);
    g_free(c);
}

/* Known answers for the stored form: PBKDF2-HMAC-SHA256 with the 16-byte
 * salt "saltSALTsaltSALT", computed independently with Python's
 * hashlib.pbkdf2_hmac (RFC 7914's SHA-256 vectors use other salt sizes
 * and counts below 1000, which the format does not take). */
#define SALT_HEX "73616c7453414c5473616c7453414c54"
static const struct {
    const char *password;
    int iterations;
    const char *hash;
} pbkdf2_vectors[] = {
    { "password", 1000, "46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b" },
    { "password", 4096, "9150fa34ce258f3fa0f49507e456a9a71924f682d42f36482b2618848fd38e5a" },
    { "passwordPASSWORDpassword", 1000, "a7c595226d832ba4163c38af3630d5cf72a8eb295c8199405faf3c8a784f049a" },
    { "\xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89", 1000,
      "d89a368e1cc8e291ff17dca9088df894a95135c3412ef47c29271252db9e3713" },
    { "", 1000, "430eb7c7e0980728e4536dbe0eecee5e6ef07be9f74fd57b657f402424453d1e" },
};

static void
test_pbkdf2_known_answers(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(pbkdf2_vectors); i++) {
        char *stored = g_strdup_printf("pbkdf2-sha256$%d$%s$%s", pbkdf2_vectors[i].iterations, SALT_HEX,
                                       pbkdf2_vectors[i].hash);
        char *upper = g_ascii_strup(stored, -1);
        g_assert_true(password_verify(pbkdf2_vectors[i].password, stored));
        g_assert_false(password_verify("Password", stored));
        g_assert_false(password_verify("password ", stored));
        /* the hex case of salt and hash does not matter, the scheme's does */
        g_assert_false(password_verify(pbkdf2_vectors[i].password, upper));
        memcpy(upper, "pbkdf2-sha256", 13);
        g_assert_true(password_verify(pbkdf2_vectors[i].password, upper));
        g_free(upper);
        g_free(stored);
    }
}

static void
test_password_hash_format(void)
{
    char *h1 = password_hash("correct horse");
    char *h2 = password_hash("correct horse");
    char **parts;

    g_assert_nonnull(h1);
    g_assert_nonnull(h2);
    g_assert_cmpstr(h1, !=, h2);                 /* a new salt every time */
    g_assert_null(strstr(h1, "correct horse"));
    parts = g_strsplit(h1, "$", 0);
    g_assert_cmpuint(g_strv_length(parts), ==, 4);
    g_assert_cmpstr(parts[0], ==, "pbkdf2-sha256");
    g_assert_cmpint(atoi(parts[1]), >=, 10000);
    g_assert_cmpuint(strlen(parts[2]), ==, 32);
    g_assert_cmpuint(strspn(parts[2], "0123456789abcdef"), ==, 32);
    g_assert_cmpuint(strlen(parts[3]), ==, 64);
    g_assert_cmpuint(strspn(parts[3], "0123456789abcdef"), ==, 64);
    g_strfreev(parts);
    g_assert_true(password_verify("correct horse", h1));
    g_assert_true(password_verify("correct horse", h2));
    g_assert_false(password_verify("correct horsf", h1));
    g_assert_false(password_verify("", h1));
    g_free(h1);
    g_free(h2);
    h1 = password_hash("");
    g_assert_true(password_verify("", h1));
    g_assert_false(password_verify(" ", h1));
    g_free(h1);
}

/* Stored hashes that are not exactly the format never verify. */
static void
test_password_verify_refuses(void)
{
    const char *good = "pbkdf2-sha256$1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b";
    const char *bad[] = {
        "",
        "password",
        "pbkdf2-sha1$1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$999$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$0$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$-1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$1000x$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$ 1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$+1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$99999999999$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75",
        "pbkdf2-sha256$1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b00",
        "pbkdf2-sha256$1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75g",
        "pbkdf2-sha256$1000$73616c7453414c5473616c7453414c$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b$",
        "pbkdf2-sha256$$1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b",
        "pbkdf2-sha256$1000$" SALT_HEX "$46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75a",
    };
    g_assert_true(password_verify("password", good));
    g_assert_false(password_verify(NULL, good));
    g_assert_false(password_verify("password", NULL));
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        if (g_test_verbose())
            g_test_message("refused: %s", bad[i]);
        g_assert_false(password_verify("password", bad[i]));
    }
}

static void
test_const_time_equal(void)
{
    g_assert_true(const_time_equal("", ""));
    g_assert_true(const_time_equal("abc", "abc"));
    g_assert_false(const_time_equal("abc", "abd"));
    g_assert_false(const_time_equal("abc", "xbc"));
    g_assert_false(const_time_equal("abc", "abcd"));
    g_assert_false(const_time_equal("abcd", "abc"));
    g_assert_false(const_time_equal("ab", "abab"));    /* a repeated prefix */
    g_assert_false(const_time_equal("abab", "ab"));
    g_assert_false(const_time_equal("", "a"));
    g_assert_false(const_time_equal("a", ""));
    g_assert_false(const_time_equal(NULL, ""));
    g_assert_false(const_time_equal("", NULL));
    g_assert_false(const_time_equal(NULL, NULL));
}

static char *
read_from(const char *bytes, size_t len)
{
    int fds[2];
    char *s;
    g_assert_cmpint(pipe(fds), ==, 0);
    g_assert_cmpint(write(fds[1], bytes, len), ==, (ssize_t) len);
    close(fds[1]);
    s = read_password_fd(fds[0]);
    close(fds[0]);
    return s;
}

static void
test_read_password_fd(void)
{
    char *s = read_from("s3cret\nsecond line\n", 19);
    char big[3000];

    g_assert_cmpstr(s, ==, "s3cret");
    g_free(s);
    s = read_from("dos\r\n", 5);
    g_assert_cmpstr(s, ==, "dos");
    g_free(s);
    s = read_from("no newline", 10);
    g_assert_cmpstr(s, ==, "no newline");
    g_free(s);
    s = read_from("", 0);
    g_assert_cmpstr(s, ==, "");
    g_free(s);
    memset(big, 'x', sizeof(big));
    s = read_from(big, sizeof(big));
    g_assert_cmpuint(strlen(s), ==, 1024);              /* bounded */
    g_free(s);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/hmac-rfc4231", test_hmac_rfc4231);
    g_test_add_func("/crypto/hmac-binary-data", test_hmac_binary_data);
    g_test_add_func("/crypto/pbkdf2-known-answers", test_pbkdf2_known_answers);
    g_test_add_func("/crypto/password-hash-format", test_password_hash_format);
    g_test_add_func("/crypto/password-verify-refuses", test_password_verify_refuses);
    g_test_add_func("/crypto/const-time-equal", test_const_time_equal);
    g_test_add_func("/crypto/read-password-fd", test_read_password_fd);
    return g_test_run();
}
