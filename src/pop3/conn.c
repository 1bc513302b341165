/* conn.c - one POP3 client connection: the shared socket layer
 * (lib/netconn.c: timeouts, buffered output flushed before each read so
 * a pipelining client (RFC 2449) gets its answers in few packets, STLS)
 * plus what POP3 adds: the client's address and whether it is loopback
 * (plaintext logins are allowed there), CRLF-terminated replies, and
 * over-long command lines consumed whole and reported once. */
#include "config.h"
#include "pop3.h"
#include "netlisten.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>


Pop3Conn *
pop3_conn_new(int fd, int timeout_ms)
{
    Pop3Conn *c = g_new0(Pop3Conn, 1);

    c->net = netconn_new(fd, timeout_ms);
    c->peer = netlisten_peer(fd, &c->loopback);
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
