/* conn.c - one POP3 client connection: a socket, optionally wrapped in
 * TLS after STLS, with a line reader and a buffered writer.
 *
 * Reads and writes use the socket's SO_RCVTIMEO/SO_SNDTIMEO, so a client
 * that stays silent (or stops reading) longer than the idle timeout ends
 * its session instead of holding a thread.  Output is buffered and
 * flushed when the reader would block, so a pipelining client (RFC 2449)
 * gets its answers in few packets.  SIGPIPE is ignored by the daemon; a
 * client that disappears only makes a write fail. */
#include "config.h"
#include "pop3.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/err.h>

#define FLUSH_AT 65536

static char *
peer_text(int fd, gboolean *loopback)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char buf[INET6_ADDRSTRLEN] = "unknown";

    *loopback = FALSE;
    if (getpeername(fd, (struct sockaddr *) &ss, &len) != 0)
        return g_strdup(buf);
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
        *loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            struct in_addr a;
            memcpy(&a, sin6->sin6_addr.s6_addr + 12, 4);
            inet_ntop(AF_INET, &a, buf, sizeof(buf));
            *loopback = (ntohl(a.s_addr) >> 24) == 127;
        } else {
            inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
            *loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
        }
    } else if (ss.ss_family == AF_UNIX) {
        g_strlcpy(buf, "local", sizeof(buf));
        *loopback = TRUE;
    }
    return g_strdup(buf);
}

Pop3Conn *
pop3_conn_new(int fd, int timeout_ms)
{
    Pop3Conn *c = g_new0(Pop3Conn, 1);
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

    c->fd = fd;
    c->timeout_ms = timeout_ms;
    c->out = g_string_sized_new(4096);
    c->peer = peer_text(fd, &c->loopback);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return c;
}

void
pop3_conn_free(Pop3Conn *c)
{
    if (!c)
        return;
    if (c->ssl) {
        if (!c->broken)
            SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    g_string_free(c->out, TRUE);
    g_free(c->peer);
    g_free(c);
}

/* raw_read - some bytes into buf; 0 on EOF or error, -1 on timeout. */
static ssize_t
raw_read(Pop3Conn *c, char *buf, size_t len)
{
    for (;;) {
        if (c->ssl) {
            int n = SSL_read(c->ssl, buf, (int) len);
            int err;
            if (n > 0)
                return n;
            err = SSL_get_error(c->ssl, n);
            if (err == SSL_ERROR_SYSCALL && errno == EINTR)
                continue;
            ERR_clear_error();
            if (err == SSL_ERROR_WANT_READ ||
                (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)))
                return -1;
            return 0;
        } else {
            ssize_t n = read(c->fd, buf, len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return -1;
            return n > 0 ? n : 0;
        }
    }
}

static gboolean
raw_write(Pop3Conn *c, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (c->ssl) {
            int r = SSL_write(c->ssl, p, (int) MIN(len, (size_t) G_MAXINT));
            if (r <= 0) {
                if (SSL_get_error(c->ssl, r) == SSL_ERROR_SYSCALL && errno == EINTR)
                    continue;
                ERR_clear_error();
                return FALSE;
            }
            n = r;
        } else {
            n = write(c->fd, p, len);
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
pop3_conn_flush(Pop3Conn *c)
{
    if (c->broken) {
        g_string_truncate(c->out, 0);
        return FALSE;
    }
    if (c->out->len > 0 && !raw_write(c, c->out->str, c->out->len))
        c->broken = TRUE;
    g_string_truncate(c->out, 0);
    return !c->broken;
}

gboolean
pop3_conn_maybe_flush(Pop3Conn *c)
{
    if (c->out->len >= FLUSH_AT)
        return pop3_conn_flush(c);
    return !c->broken;
}

gboolean
pop3_conn_pending_input(const Pop3Conn *c)
{
    return c->inlen > 0 || (c->ssl && SSL_pending(c->ssl) > 0);
}

void
pop3_conn_printf(Pop3Conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(c->out, fmt, ap);
    va_end(ap);
    g_string_append(c->out, "\r\n");
}

Pop3ReadStatus
pop3_conn_read_line(Pop3Conn *c, GString *line, size_t max)
{
    gboolean discarding = FALSE;

    g_string_truncate(line, 0);
    for (;;) {
        char *lf = c->inlen ? memchr(c->inbuf, '\n', c->inlen) : NULL;
        ssize_t n;

        if (lf) {
            size_t used = (size_t) (lf - c->inbuf) + 1;
            size_t len = used - 1;
            if (len > 0 && c->inbuf[len - 1] == '\r')
                len--;
            if (!discarding && len <= max)
                g_string_append_len(line, c->inbuf, (gssize) len);
            else
                discarding = TRUE;
            memmove(c->inbuf, c->inbuf + used, c->inlen - used);
            c->inlen -= used;
            return discarding ? POP3_READ_TOOLONG : POP3_READ_OK;
        }
        if (c->inlen > max + 1 || c->inlen == sizeof(c->inbuf)) {
            /* too long already: forget it, keep reading up to its LF */
            discarding = TRUE;
            c->inlen = 0;
        }
        if (!pop3_conn_flush(c))
            return POP3_READ_EOF;
        n = raw_read(c, c->inbuf + c->inlen, sizeof(c->inbuf) - c->inlen);
        if (n < 0)
            return POP3_READ_TIMEOUT;
        if (n == 0)
            return POP3_READ_EOF;
        c->inlen += (size_t) n;
    }
}

gboolean
pop3_conn_start_tls(Pop3Conn *c, SSL_CTX *ctx)
{
    if (!pop3_conn_flush(c))
        return FALSE;
    c->inlen = 0;                /* nothing sent before the handshake counts */
    c->ssl = SSL_new(ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_accept(c->ssl) != 1) {
        ERR_clear_error();
        c->broken = TRUE;
        return FALSE;
    }
    return TRUE;
}
