/* netconn.c - a buffered socket, plain or TLS (OpenSSL), shared by the
 * relay's SMTP server and client and by the POP3 server.
 *
 * Sockets are blocking with SO_RCVTIMEO/SO_SNDTIMEO, so every read and
 * write has a timeout (a server's idle timeout, a client's reply
 * timeout) and a silent peer ends its session instead of holding a
 * thread.  Output is collected in wbuf and sent in one go before the
 * next read: a pipelining peer gets a whole batch of answers in one
 * segment, and TCP_NODELAY is set so that Nagle never holds the last one
 * back (see bench/README, mlmmj's stall).  Writes use MSG_NOSIGNAL: a
 * peer that disappears makes a write fail, never a SIGPIPE. */
#include "config.h"
#include "netconn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/err.h>

#define FLUSH_AT 65536

NetConn *
netconn_new(int fd, int timeout_ms)
{
    NetConn *c = g_new0(NetConn, 1);
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    int one = 1;

    c->fd = fd;
    c->wbuf = g_string_sized_new(4096);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));   /* fails harmlessly off TCP */
    return c;
}

void
netconn_free(NetConn *c)
{
    if (!c)
        return;
    if (c->ssl) {
        if (!c->failed)
            SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    g_string_free(c->wbuf, TRUE);
    g_free(c);
}

/* raw_read - some bytes into buf: their count, 0 at EOF, NETCONN_TIMEOUT
 * or NETCONN_ERROR. */
static ssize_t
raw_read(NetConn *c, void *buf, size_t len)
{
    for (;;) {
        if (c->ssl) {
            int n = SSL_read(c->ssl, buf, (int) MIN(len, (size_t) G_MAXINT));
            int err;
            if (n > 0)
                return n;
            err = SSL_get_error(c->ssl, n);
            if (err == SSL_ERROR_SYSCALL && errno == EINTR)
                continue;
            ERR_clear_error();
            if (err == SSL_ERROR_ZERO_RETURN)
                return 0;
            if (err == SSL_ERROR_WANT_READ ||
                (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)))
                return NETCONN_TIMEOUT;
            return NETCONN_ERROR;
        } else {
            ssize_t n = recv(c->fd, buf, len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return NETCONN_TIMEOUT;
            return n < 0 ? NETCONN_ERROR : n;
        }
    }
}

static gboolean
raw_write(NetConn *c, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (c->ssl) {
            int k = SSL_write(c->ssl, p, (int) MIN(len, (size_t) G_MAXINT));
            if (k <= 0) {
                if (SSL_get_error(c->ssl, k) == SSL_ERROR_SYSCALL && errno == EINTR)
                    continue;
                ERR_clear_error();
                return FALSE;
            }
            n = k;
        } else {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return FALSE;
        }
        p += n;
        len -= (size_t) n;
    }
    return TRUE;
}

gboolean
netconn_flush(NetConn *c)
{
    if (!c->failed && c->wbuf->len > 0 && !raw_write(c, c->wbuf->str, c->wbuf->len))
        c->failed = TRUE;
    g_string_truncate(c->wbuf, 0);
    return !c->failed;
}

gboolean
netconn_flush_if_full(NetConn *c)
{
    return c->wbuf->len >= FLUSH_AT ? netconn_flush(c) : !c->failed;
}

void
netconn_write(NetConn *c, const void *data, size_t len)
{
    g_string_append_len(c->wbuf, data, (gssize) len);
    netconn_flush_if_full(c);
}

void
netconn_vprintf(NetConn *c, const char *fmt, va_list ap)
{
    g_string_append_vprintf(c->wbuf, fmt, ap);
}

void
netconn_printf(NetConn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    netconn_vprintf(c, fmt, ap);
    va_end(ap);
}

gboolean
netconn_has_input(const NetConn *c)
{
    return c->rpos < c->rlen || (c->ssl && SSL_pending(c->ssl) > 0);
}

void
netconn_discard_input(NetConn *c)
{
    c->rpos = c->rlen = 0;
}

int
netconn_read_line(NetConn *c, GString *line, size_t max)
{
    g_string_truncate(line, 0);
    for (;;) {
        ssize_t n;
        if (c->rpos < c->rlen) {
            const char *start = c->rbuf + c->rpos;
            size_t avail = MIN(c->rlen - c->rpos, max - line->len);
            const char *lf = memchr(start, '\n', avail);
            size_t take = lf ? (size_t) (lf - start) : avail;
            g_string_append_len(line, start, (gssize) take);
            c->rpos += take;
            if (lf) {
                c->rpos++;                          /* the LF itself */
                c->crlf = line->len > 0 && line->str[line->len - 1] == '\r';
                if (c->crlf)
                    g_string_truncate(line, line->len - 1);
                return NETCONN_LINE;
            }
            if (line->len >= max)
                return NETCONN_PARTIAL;
            continue;
        }
        if (!netconn_flush(c))
            return NETCONN_ERROR;
        n = raw_read(c, c->rbuf, sizeof(c->rbuf));
        if (n == 0)
            return NETCONN_EOF;
        if (n == NETCONN_TIMEOUT)
            return NETCONN_TIMEOUT;
        if (n < 0) {
            c->failed = TRUE;
            return NETCONN_ERROR;
        }
        c->rpos = 0;
        c->rlen = (size_t) n;
    }
}

static gboolean
handshake_with(NetConn *c, SSL_CTX *ctx, const char *sni, gboolean server, gboolean (*prepare)(SSL *, gpointer),
               gpointer data)
{
    if (!netconn_flush(c))
        return FALSE;
    netconn_discard_input(c);           /* no plaintext may survive STARTTLS */
    c->ssl = SSL_new(ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        ERR_clear_error();
        c->failed = TRUE;
        return FALSE;
    }
    if (sni && *sni && !g_hostname_is_ip_address(sni))
        SSL_set_tlsext_host_name(c->ssl, sni);
    if (prepare && !prepare(c->ssl, data)) {
        ERR_clear_error();
        c->failed = TRUE;
        return FALSE;
    }
    if ((server ? SSL_accept(c->ssl) : SSL_connect(c->ssl)) != 1) {
        ERR_clear_error();
        c->failed = TRUE;
        return FALSE;
    }
    return TRUE;
}

static gboolean
handshake(NetConn *c, SSL_CTX *ctx, const char *sni, gboolean server)
{
    return handshake_with(c, ctx, sni, server, NULL, NULL);
}

gboolean
netconn_tls_connect_with(NetConn *c, SSL_CTX *ctx, const char *sni, gboolean (*prepare)(SSL *, gpointer),
                         gpointer data)
{
    return handshake_with(c, ctx, sni, FALSE, prepare, data);
}

gboolean
netconn_tls_accept(NetConn *c, SSL_CTX *ctx)
{
    return handshake(c, ctx, NULL, TRUE);
}

gboolean
netconn_tls_connect(NetConn *c, SSL_CTX *ctx, const char *sni)
{
    return handshake(c, ctx, sni, FALSE);
}

const char *
netconn_tls_version(const NetConn *c)
{
    return c->ssl ? SSL_get_version(c->ssl) : NULL;
}

int
netconn_read_bytes(NetConn *c, GString *out, size_t n)
{
    while (n > 0) {
        ssize_t got;
        if (c->rpos < c->rlen) {
            size_t take = MIN(n, c->rlen - c->rpos);
            g_string_append_len(out, c->rbuf + c->rpos, (gssize) take);
            c->rpos += take;
            n -= take;
            continue;
        }
        if (!netconn_flush(c))
            return NETCONN_ERROR;
        got = raw_read(c, c->rbuf, sizeof(c->rbuf));
        if (got == 0)
            return NETCONN_EOF;
        if (got == NETCONN_TIMEOUT)
            return NETCONN_TIMEOUT;
        if (got < 0) {
            c->failed = TRUE;
            return NETCONN_ERROR;
        }
        c->rpos = 0;
        c->rlen = (size_t) got;
    }
    return NETCONN_LINE;
}

gboolean
netconn_wait_input(NetConn *c, int timeout_ms)
{
    struct pollfd p = { c->fd, POLLIN, 0 };

    if (netconn_has_input(c))
        return TRUE;
    if (!netconn_flush(c))
        return TRUE;            /* the next read reports the failure */
    return poll(&p, 1, timeout_ms) != 0;
}
