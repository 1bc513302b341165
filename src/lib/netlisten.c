/* netlisten.c - listening sockets and peer names for the POP3 and IMAP
 * daemons (netlisten.h). */
#include "config.h"
#include "netlisten.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

gboolean
netlisten_split(const char *spec, char **host, char **port)
{
    const char *colon;

    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || !close[2])
            return FALSE;
        *host = g_strndup(spec + 1, (gsize) (close - spec - 1));
        *port = g_strdup(close + 2);
        return TRUE;
    }
    colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1])
        return FALSE;
    *host = g_strndup(spec, (gsize) (colon - spec));
    *port = g_strdup(colon + 1);
    return TRUE;
}

int
netlisten_open(const char *spec, GError **error)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    char *host = NULL, *port = NULL;
    int fd = -1, rc, one = 1;

    if (!netlisten_split(spec, &host, &port)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "%s: give HOST:PORT", spec);
        return -1;
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG, "%s: %s", spec, gai_strerror(rc));
        goto out;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
            break;
        g_clear_error(error);
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "cannot listen on %s: %s", spec, g_strerror(errno));
        close(fd);
        fd = -1;
    }
    if (fd >= 0)
        g_clear_error(error);
    else if (error && !*error)
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "cannot listen on %s: no usable address", spec);
out:
    if (res)
        freeaddrinfo(res);
    g_free(host);
    g_free(port);
    return fd;
}

char *
netlisten_peer(int fd, gboolean *loopback)
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
