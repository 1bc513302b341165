/* tlsctx.h - the OpenSSL contexts every kairan server and client uses: one
 * server context from [global] tls_cert and tls_key (the relay's STARTTLS,
 * POP3's STLS and POP3S, and the coming IMAP), and the relay's
 * opportunistic client context. */
#ifndef KAIRAN_TLSCTX_H
#define KAIRAN_TLSCTX_H

#include <glib.h>
#include <openssl/ssl.h>

/* tlsctx_server - a server context from PEM files (the certificate file
 * may hold the chain): TLS 1.2 or newer, no renegotiation, the library's
 * default ciphers.  Errors are EXIT_CONFIG naming the file. */
SSL_CTX *tlsctx_server(const char *cert, const char *key, GError **error);
/* tlsctx_client_opportunistic - a client context that encrypts without
 * checking certificates, as RFC 7435 describes for SMTP between MTAs. */
SSL_CTX *tlsctx_client_opportunistic(void);

#endif
