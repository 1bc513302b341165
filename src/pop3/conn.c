/* conn.c - one POP3 client connection: the shared socket layer
 * (lib/netconn.c: timeouts, buffered output flushed before each read so
 * a pipelining client (RFC 2449) gets its answers in few packets, STLS)
 * plus what POP3 adds: the client's address and whether it is loopback
 * (plaintext logins are allowed there), CRLF-terminated replies, and
 * over-long command lines consumed whole and reported once. */
#include "config.h"
#include "pop3.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>

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

    c->net = netconn_new(fd, timeout_ms);
    c->peer = peer_text(fd, &c->loopback);
    return c;
}

void
pop3_conn_free(Pop3Conn *c)
{
    if (!c)
        return;
    netconn_free(c->net);
    g_free(c->peer);
    g_free(c);
}

gboolean
pop3_conn_flush(Pop3Conn *c)
{
    return netconn_flush(c->net);
}

gboolean
pop3_conn_maybe_flush(Pop3Conn *c)
{
    return netconn_flush_if_full(c->net);
}

gboolean
pop3_conn_pending_input(const Pop3Conn *c)
{
    return netconn_has_input(c->net);
}

void
pop3_conn_printf(Pop3Conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    netconn_vprintf(c->net, fmt, ap);
    va_end(ap);
    netconn_write(c->net, "\r\n", 2);
}

static Pop3ReadStatus
read_status(int rc)
{
    return rc == NETCONN_TIMEOUT ? POP3_READ_TIMEOUT : POP3_READ_EOF;
}

Pop3ReadStatus
pop3_conn_read_line(Pop3Conn *c, GString *line, size_t max)
{
    int rc = netconn_read_line(c->net, line, max + 1);

    if (rc == NETCONN_LINE)
        return POP3_READ_OK;
    if (rc != NETCONN_PARTIAL)
        return read_status(rc);
    /* longer than max: read on to its LF, keeping nothing */
    while ((rc = netconn_read_line(c->net, line, max + 1)) == NETCONN_PARTIAL)
        ;
    g_string_truncate(line, 0);
    return rc == NETCONN_LINE ? POP3_READ_TOOLONG : read_status(rc);
}

gboolean
pop3_conn_start_tls(Pop3Conn *c, SSL_CTX *ctx)
{
    return netconn_tls_accept(c->net, ctx);
}
