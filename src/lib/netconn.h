/* netconn.h - a buffered, blocking socket with timeouts, plain or TLS
 * (OpenSSL): the connection layer of the relay's SMTP server and client
 * and of the POP3 and IMAP servers. */
#ifndef KAIRAN_NETCONN_H
#define KAIRAN_NETCONN_H

#include <glib.h>
#include <openssl/ssl.h>

typedef struct {
    int fd;
    SSL *ssl;               /* non-NULL once TLS is up */
    char rbuf[16384];
    size_t rpos, rlen;      /* unread input is rbuf[rpos..rlen) */
    GString *wbuf;          /* output not yet sent */
    gboolean failed;        /* a read or write failed: the peer is gone */
    gboolean crlf;          /* the last line read ended in CRLF */
} NetConn;

/* What netconn_read_line returns. */
enum {
    NETCONN_TIMEOUT = -2,   /* nothing came within the timeout */
    NETCONN_ERROR = -1,     /* the connection failed */
    NETCONN_EOF = 0,        /* the peer closed it */
    NETCONN_LINE = 1,       /* a whole line */
    NETCONN_PARTIAL = 2     /* max bytes of a longer line; the rest follows */
};

/* netconn_new - take over fd; every read and write times out after
 * timeout_ms (SO_RCVTIMEO/SO_SNDTIMEO); TCP_NODELAY is set. */
NetConn *netconn_new(int fd, int timeout_ms);
/* netconn_free - close (with a TLS close_notify unless it failed). */
void netconn_free(NetConn *c);
/* netconn_read_line - the next line without its CRLF or bare LF into
 * line; first sends what is buffered, so a reply never waits behind a
 * read.  One of the NETCONN_ values above. */
int netconn_read_line(NetConn *c, GString *line, size_t max);
/* netconn_read_bytes - exactly n more bytes appended to out (an IMAP
 * literal); NETCONN_LINE when all came, else NETCONN_EOF/ERROR/TIMEOUT. */
int netconn_read_bytes(NetConn *c, GString *out, size_t n);
/* netconn_wait_input - flush, then wait up to timeout_ms for input (IMAP
 * IDLE); TRUE when a read will not block (input, EOF or an error). */
gboolean netconn_wait_input(NetConn *c, int timeout_ms);
/* netconn_write, netconn_printf, netconn_vprintf - buffer output (sent
 * by netconn_flush, before the next read, or once 64 KB are waiting). */
void netconn_write(NetConn *c, const void *data, size_t len);
void netconn_printf(NetConn *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void netconn_vprintf(NetConn *c, const char *fmt, va_list ap) G_GNUC_PRINTF(2, 0);
/* netconn_flush - send the buffer; FALSE if the connection failed. */
gboolean netconn_flush(NetConn *c);
/* netconn_flush_if_full - flush only when 64 KB are waiting; FALSE if
 * the connection failed. */
gboolean netconn_flush_if_full(NetConn *c);
/* netconn_has_input - input already received but not read yet (a
 * pipelining client). */
gboolean netconn_has_input(const NetConn *c);
/* netconn_discard_input - forget input not read yet. */
void netconn_discard_input(NetConn *c);
/* netconn_tls_accept, netconn_tls_connect - the TLS handshake as server
 * or as client (sni: the host name to send, if it is one); plaintext
 * read before it is discarded, so none can be injected into the TLS
 * session (STARTTLS/STLS command injection). */
gboolean netconn_tls_accept(NetConn *c, SSL_CTX *ctx);
gboolean netconn_tls_connect(NetConn *c, SSL_CTX *ctx, const char *sni);
/* netconn_tls_connect_with - netconn_tls_connect; prepare (may be NULL)
 * is called with the new SSL before the handshake (the relay's DANE sets
 * the TLSA records there); its FALSE fails the handshake. */
gboolean netconn_tls_connect_with(NetConn *c, SSL_CTX *ctx, const char *sni, gboolean (*prepare)(SSL *, gpointer),
                                  gpointer data);
/* netconn_tls_version - "TLSv1.3" and so on, NULL without TLS. */
const char *netconn_tls_version(const NetConn *c);

#endif
