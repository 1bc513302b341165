/* crypto.h - password hashing (PBKDF2-HMAC-SHA256 through OpenSSL EVP),
 * HMAC-SHA256, constant-time comparison. */
#ifndef KAIRAN_CRYPTO_H
#define KAIRAN_CRYPTO_H

#include <glib.h>

/* password_hash - "pbkdf2-sha256$ITER$SALTHEX$HASHHEX" for a new salt. */
char *password_hash(const char *password);
/* password_verify - TRUE if password matches the stored hash (constant
 * time in the hash comparison). */
gboolean password_verify(const char *password, const char *stored);
/* password_verify_dummy - spend the time of one password_verify against
 * a stored hash, for accounts that do not exist or have no password, so
 * that the answer takes as long as for a real one. */
void password_verify_dummy(const char *password);
/* hmac_sha256_hex - hex HMAC-SHA256 of data under key. */
char *hmac_sha256_hex(const char *key, const void *data, size_t len);
/* sha256_hex - hex SHA-256 of data (for secrets of high entropy, such
 * as API tokens, where a salted slow hash buys nothing). */
char *sha256_hex(const void *data, size_t len);
/* const_time_equal - compare two strings without early exit. */
gboolean const_time_equal(const char *a, const char *b);
/* read_password_fd - one line from fd (the trailing newline removed). */
char *read_password_fd(int fd);

#endif
