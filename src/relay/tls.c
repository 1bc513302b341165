/* tls.c - OpenSSL contexts of the relay: the server's (tls_cert and
 * tls_key of kairan.conf, offered as STARTTLS) and the client's
 * (opportunistic STARTTLS: encryption without certificate checks, as
 * RFC 7435 describes for SMTP between MTAs). */
#include "config.h"
#include "relay.h"
#include "util.h"
#include "log.h"

#include <openssl/err.h>

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, GError **error)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    char buf[256];

    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG, "TLS certificate %s / key %s: %s", cert, key, buf);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *
tls_client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}
