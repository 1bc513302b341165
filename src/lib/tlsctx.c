/* tlsctx.c - the one OpenSSL server context of kairan's servers (built
 * from [global] tls_cert and tls_key: PEM files, the certificate file may
 * hold the chain; TLS 1.2 or newer, no renegotiation, the library's
 * default ciphers) and the relay's opportunistic client context. */
#include "config.h"
#include "tlsctx.h"
#include "util.h"
#include "log.h"

#include <openssl/err.h>

static void
set_ssl_error(GError **error, const char *what, const char *path)
{
    char buf[256] = "";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG, "%s %s: %s", what, path, buf);
}

SSL_CTX *
tlsctx_server(const char *cert, const char *key, GError **error)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (!ctx) {
        set_ssl_error(error, "TLS", "context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        set_ssl_error(error, "cannot load tls_cert", cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        set_ssl_error(error, "cannot load tls_key", key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        set_ssl_error(error, "tls_key does not match tls_cert", key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *
tlsctx_client_opportunistic(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}
