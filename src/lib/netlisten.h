/* netlisten.h - the listening side of kairan's TCP daemons (POP3, IMAP):
 * "HOST:PORT" / "[V6]:PORT" to a listening socket, and the peer of an
 * accepted connection as text. */
#ifndef KAIRAN_NETLISTEN_H
#define KAIRAN_NETLISTEN_H

#include <glib.h>

/* netlisten_split - "host:port" or "[v6]:port" into host and port (both
 * newly allocated); FALSE if spec has no port. */
gboolean netlisten_split(const char *spec, char **host, char **port);
/* netlisten_open - a socket bound to spec and listening (backlog 128),
 * the first address of spec that works; -1 with error: EXIT_USAGE for a
 * spec without a port, EXIT_CONFIG for a name that does not resolve,
 * EXIT_TEMPFAIL when no address could be bound. */
int netlisten_open(const char *spec, GError **error);
/* netlisten_peer - the peer address of fd ("192.0.2.1", "2001:db8::1",
 * "local" for a Unix socket, "unknown"); *loopback says whether it is
 * 127/8, ::1 or a Unix socket.  A v4-mapped address is shown as IPv4. */
char *netlisten_peer(int fd, gboolean *loopback);

#endif
