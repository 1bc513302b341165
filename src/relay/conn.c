/* conn.c - a buffered socket, plain or TLS (OpenSSL), used by both the
 * SMTP server and the SMTP client of the relay.
 *
 * Sockets are blocking with SO_RCVTIMEO/SO_SNDTIMEO, so every read and
 * write has a timeout (the per-command timeout of the server, the reply
 * timeout of the client).  Output is collected in wbuf and written in
 * one send when the next read would block (or on conn_flush): whole
 * command batches leave in one segment, and TCP_NODELAY is set so that
 * Nagle never holds the last one back (see bench/README, mlmmj's stall). */
#include "config.h"
#include "relay.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/err.h>

Conn *
conn_new(int fd, int timeout_sec)
{
    Conn *c = g_new0(Conn, 1);
    struct timeval tv = { .tv_sec = timeout_sec, .tv_usec = 0 };
    int one = 1;

    c->fd = fd;
    c->wbuf = g_string_sized_new(4096);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return c;
}

void
conn_free(Conn *c)
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

static ssize_t
raw_read(Conn *c, void *buf, size_t len)
{
    if (c->ssl) {
        int n = SSL_read(c->ssl, buf, (int) len);
        if (n > 0)
            return n;
        if (SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN)
            return 0;
        ERR_clear_error();
        return -1;
    }
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return -2;
        return n;
    }
}

static gboolean
raw_write(Conn *c, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (c->ssl) {
            int k = SSL_write(c->ssl, p, (int) MIN(len, (size_t) G_MAXINT));
            if (k <= 0) {
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
conn_flush(Conn *c)
{
    if (c->failed)
        return FALSE;
    if (c->wbuf->len > 0) {
        gboolean ok = raw_write(c, c->wbuf->str, c->wbuf->len);
        g_string_truncate(c->wbuf, 0);
        if (!ok) {
            c->failed = TRUE;
            return FALSE;
        }
    }
    return TRUE;
}

void
conn_write(Conn *c, const void *data, size_t len)
{
    g_string_append_len(c->wbuf, data, (gssize) len);
    if (c->wbuf->len >= 65536)
        conn_flush(c);
}

void
conn_printf(Conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(c->wbuf, fmt, ap);
    va_end(ap);
}

gboolean
conn_has_input(Conn *c)
{
    return c->rpos < c->rlen || (c->ssl && SSL_pending(c->ssl) > 0);
}

void
conn_discard_input(Conn *c)
{
    c->rpos = c->rlen = 0;
}

int
conn_read_line(Conn *c, GString *line, size_t max)
{
    g_string_truncate(line, 0);
    for (;;) {
        while (c->rpos < c->rlen) {
            char ch = c->rbuf[c->rpos++];
            if (ch == '\n') {
                c->crlf = line->len > 0 && line->str[line->len - 1] == '\r';
                if (c->crlf)
                    g_string_truncate(line, line->len - 1);
                return 1;
            }
            g_string_append_c(line, ch);
            if (line->len >= max)
                return 2;
        }
        if (c->failed || !conn_flush(c))
            return -1;
        ssize_t n = raw_read(c, c->rbuf, sizeof(c->rbuf));
        if (n == 0)
            return 0;
        if (n == -2)
            return -2;
        if (n < 0) {
            c->failed = TRUE;
            return -1;
        }
        c->rpos = 0;
        c->rlen = (size_t) n;
    }
}

gboolean
conn_tls_server(Conn *c, SSL_CTX *ctx)
{
    if (!conn_flush(c))
        return FALSE;
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    conn_discard_input(c);              /* no plaintext may survive STARTTLS */
    if (SSL_accept(c->ssl) != 1) {
        ERR_clear_error();
        c->failed = TRUE;
        return FALSE;
    }
    return TRUE;
}

gboolean
conn_tls_client(Conn *c, SSL_CTX *ctx, const char *sni)
{
    if (!conn_flush(c))
        return FALSE;
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    if (sni && *sni && !g_hostname_is_ip_address(sni))
        SSL_set_tlsext_host_name(c->ssl, sni);
    conn_discard_input(c);
    if (SSL_connect(c->ssl) != 1) {
        ERR_clear_error();
        c->failed = TRUE;
        return FALSE;
    }
    return TRUE;
}

const char *
conn_tls_version(Conn *c)
{
    return c->ssl ? SSL_get_version(c->ssl) : NULL;
}
