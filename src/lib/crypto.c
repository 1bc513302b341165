/* crypto.c - password hashes, HMAC and constant-time comparison.
 *
 * Owner and member passwords are never stored: only a PBKDF2-HMAC-SHA256
 * hash with a random 16-byte salt and the iteration count, in the text
 * form "pbkdf2-sha256$ITER$SALT$HASH" (hex), so that the count can grow
 * later without breaking stored hashes. */
#include "config.h"
#include "crypto.h"
#include "util.h"

#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define PBKDF2_ITERATIONS 60000
#define HASH_BYTES 32

static char *
hex_encode(const unsigned char *raw, size_t len)
{
    GString *s = g_string_sized_new(len * 2 + 1);
    for (size_t i = 0; i < len; i++)
        g_string_append_printf(s, "%02x", raw[i]);
    return g_string_free(s, FALSE);
}

static gboolean
hex_decode(const char *hex, unsigned char *out, size_t outlen)
{
    if (strlen(hex) != outlen * 2)
        return FALSE;
    for (size_t i = 0; i < outlen; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]);
        int lo = g_ascii_xdigit_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return FALSE;
        out[i] = (unsigned char) (hi * 16 + lo);
    }
    return TRUE;
}

static gboolean
derive(const char *password, const unsigned char *salt, size_t saltlen,
       int iterations, unsigned char *out)
{
    return PKCS5_PBKDF2_HMAC(password, (int) strlen(password), salt, (int) saltlen,
                             iterations, EVP_sha256(), HASH_BYTES, out) == 1;
}

char *
password_hash(const char *password)
{
    unsigned char salt[16], hash[HASH_BYTES];
    char *salthex = random_hex(sizeof(salt));
    char *hashhex, *result;

    hex_decode(salthex, salt, sizeof(salt));
    if (!derive(password, salt, sizeof(salt), PBKDF2_ITERATIONS, hash)) {
        g_free(salthex);
        return NULL;
    }
    hashhex = hex_encode(hash, sizeof(hash));
    result = g_strdup_printf("pbkdf2-sha256$%d$%s$%s", PBKDF2_ITERATIONS, salthex, hashhex);
    OPENSSL_cleanse(hash, sizeof(hash));
    g_free(salthex);
    g_free(hashhex);
    return result;
}

gboolean
password_verify(const char *password, const char *stored)
{
    char **parts;
    unsigned char salt[16], want[HASH_BYTES], got[HASH_BYTES];
    gboolean ok = FALSE;
    guint64 iterations;

    if (!password || !stored)
        return FALSE;
    parts = g_strsplit(stored, "$", 0);
    if (g_strv_length(parts) != 4 || strcmp(parts[0], "pbkdf2-sha256") != 0)
        goto out;
    /* decimal digits only: "1000x", " 1000", "+1000" are no hash we wrote */
    if (!g_ascii_isdigit(parts[1][0]) ||
        !g_ascii_string_to_unsigned(parts[1], 10, 1000, 10000000, &iterations, NULL))
        goto out;
    if (!hex_decode(parts[2], salt, sizeof(salt)) || !hex_decode(parts[3], want, sizeof(want)))
        goto out;
    if (!derive(password, salt, sizeof(salt), (int) iterations, got))
        goto out;
    ok = CRYPTO_memcmp(got, want, HASH_BYTES) == 0;
    OPENSSL_cleanse(got, sizeof(got));
out:
    g_strfreev(parts);
    return ok;
}

void
password_verify_dummy(const char *password)
{
    static gsize once;
    static char *dummy;

    if (g_once_init_enter(&once)) {
        /* a fixed salt: the cost is what matters, not the secrecy */
        unsigned char salt[16] = "kairan-no-user!";
        unsigned char hash[HASH_BYTES];
        char *salthex = hex_encode(salt, sizeof(salt)), *hashhex;
        if (!derive("kairan-dummy-password", salt, sizeof(salt), PBKDF2_ITERATIONS, hash))
            memset(hash, 0, sizeof(hash));
        hashhex = hex_encode(hash, sizeof(hash));
        dummy = g_strdup_printf("pbkdf2-sha256$%d$%s$%s", PBKDF2_ITERATIONS, salthex, hashhex);
        g_free(salthex);
        g_free(hashhex);
        g_once_init_leave(&once, 1);
    }
    (void) password_verify(password ? password : "", dummy);
}

char *
hmac_sha256_hex(const char *key, const void *data, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;

    if (!HMAC(EVP_sha256(), key, (int) strlen(key), data, len, mac, &maclen))
        return NULL;
    return hex_encode(mac, maclen);
}

gboolean
const_time_equal(const char *a, const char *b)
{
    size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
    unsigned char diff = (unsigned char) (la != lb);

    if (!a || !b)
        return FALSE;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char) (a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

char *
read_password_fd(int fd)
{
    GString *s = g_string_new(NULL);
    char c;

    while (s->len < 1024) {
        ssize_t n = read(fd, &c, 1);
        if (n <= 0 || c == '\n')
            break;
        g_string_append_c(s, c);
    }
    if (s->len && s->str[s->len - 1] == '\r')
        g_string_truncate(s, s->len - 1);
    return g_string_free(s, FALSE);
}

char *
sha256_hex(const void *data, size_t len)
{
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
}
