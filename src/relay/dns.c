/* dns.c - where the relay sends mail for a domain, with c-ares.
 *
 * A domain is looked up as RFC 5321 section 5.1 says: its MX records by
 * preference, each MX host's A/AAAA addresses; with no MX record the
 * domain's own A/AAAA ("implicit MX").  NXDOMAIN, a null MX (RFC 7505)
 * or no address at all is permanent; any other DNS failure temporary.
 * Route and smarthost values follow Postfix: "[host]:port" is used as is
 * (address lookup only), "host:port" gets an MX lookup first.
 * dns_resolver (host:port) points c-ares at a particular server, e.g. a
 * dnsmasq on a loopback port in the tests.  Each lookup uses its own
 * channel, so the worker threads never share one. */
#include "config.h"
#include "relay.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <ares.h>

void
dns_init(void)
{
    ares_library_init(ARES_LIB_INIT_ALL);
}

void
target_free(Target *t)
{
    if (!t)
        return;
    g_free(t->host);
    g_free(t->addr);
    g_free(t);
}

static ares_channel
new_channel(Relay *r)
{
    ares_channel ch = NULL;
    struct ares_options opts = { .timeout = 3000, .tries = 2 };

    if (ares_init_options(&ch, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS)
        return NULL;
    if (r->dns_resolver && ares_set_servers_ports_csv(ch, r->dns_resolver) != ARES_SUCCESS) {
        ares_destroy(ch);
        return NULL;
    }
    return ch;
}

static void
wait_channel(ares_channel ch)
{
    for (;;) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        struct pollfd pfd[ARES_GETSOCK_MAXNUM];
        /* the bits by hand: c-ares' own macros shift a signed 1 into bit 31 */
        unsigned bm = (unsigned) ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        int n = 0, rc;
        struct timeval tv, *tvp;

        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            gboolean rd = (bm & (1u << i)) != 0;
            gboolean wr = (bm & (1u << (i + ARES_GETSOCK_MAXNUM))) != 0;
            if (!rd && !wr)
                continue;
            pfd[n].fd = socks[i];
            pfd[n].events = (rd ? POLLIN : 0) | (wr ? POLLOUT : 0);
            pfd[n].revents = 0;
            n++;
        }
        if (n == 0)
            break;
        tvp = ares_timeout(ch, NULL, &tv);
        rc = poll(pfd, n, tvp ? (int) (tvp->tv_sec * 1000 + tvp->tv_usec / 1000) : 1000);
        if (rc <= 0) {
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            continue;
        }
        for (int i = 0; i < n; i++)
            ares_process_fd(ch, (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd : ARES_SOCKET_BAD,
                            (pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD);
    }
}

typedef struct {
    int status;
    struct ares_mx_reply *mx;
} MxResult;

static void
mx_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    MxResult *m = arg;
    (void) timeouts;
    m->status = status;
    if (status == ARES_SUCCESS)
        m->status = ares_parse_mx_reply(abuf, alen, &m->mx);
}

typedef struct {
    int status;
    GPtrArray *addrs;
} AddrResult;

static void
ai_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    AddrResult *a = arg;
    (void) timeouts;
    a->status = status;
    if (status != ARES_SUCCESS || !res)
        return;
    for (struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
        char buf[INET6_ADDRSTRLEN];
        const void *src = n->ai_family == AF_INET6
            ? (const void *) &((struct sockaddr_in6 *) n->ai_addr)->sin6_addr
            : (const void *) &((struct sockaddr_in *) n->ai_addr)->sin_addr;
        if (inet_ntop(n->ai_family, src, buf, sizeof(buf)))
            g_ptr_array_add(a->addrs, g_strdup(buf));
    }
    ares_freeaddrinfo(res);
}

/* lookup_addrs - numeric addresses of host into out (as Targets). */
static int
lookup_addrs(ares_channel ch, const char *host, int port, GPtrArray *out)
{
    AddrResult a = { ARES_ENOTFOUND, g_ptr_array_new_with_free_func(g_free) };
    struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };

    if (g_hostname_is_ip_address(host)) {
        g_ptr_array_add(a.addrs, g_strdup(host));
        a.status = ARES_SUCCESS;
    } else {
        ares_getaddrinfo(ch, host, NULL, &hints, ai_cb, &a);
        wait_channel(ch);
    }
    for (guint i = 0; i < a.addrs->len; i++) {
        Target *t = g_new0(Target, 1);
        t->host = g_strdup(host);
        t->addr = g_strdup(a.addrs->pdata[i]);
        t->port = port;
        g_ptr_array_add(out, t);
    }
    g_ptr_array_unref(a.addrs);
    return a.status;
}

static gint
mx_cmp(gconstpointer a, gconstpointer b)
{
    const struct ares_mx_reply *x = *(struct ares_mx_reply *const *) a;
    const struct ares_mx_reply *y = *(struct ares_mx_reply *const *) b;
    return (int) x->priority - (int) y->priority;
}

static gboolean
is_temp(int status)
{
    return status != ARES_SUCCESS && status != ARES_ENOTFOUND && status != ARES_ENODATA;
}

GPtrArray *
dns_targets(Relay *r, const char *dest, gboolean is_route, GError **error)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) target_free);
    ares_channel ch = new_channel(r);
    char *host = NULL;
    int port = r->mx_port, status;
    gboolean mx = TRUE;
    MxResult m = { ARES_ENODATA, NULL };

    if (!ch) {
        g_set_error(error, KAIRAN_ERROR, 4, "4.4.3 cannot initialise the DNS resolver");
        g_ptr_array_unref(out);
        return NULL;
    }
    if (is_route) {
        if (!split_hostport(dest, &host, &port, 25)) {
            g_set_error(error, KAIRAN_ERROR, 4, "4.3.5 bad route or smarthost %s", dest);
            goto fail;
        }
        mx = dest[0] != '[';
    } else {
        host = g_strdup(dest);
    }
    if (!g_str_is_ascii(host)) {
        /* an IDN: looked up in A-label form (RFC 5891) */
        char *alabel = g_hostname_to_ascii(host);
        if (!alabel) {
            g_set_error(error, KAIRAN_ERROR, 5, "5.1.2 %s is not a valid internationalised domain name", host);
            goto fail;
        }
        g_free(host);
        host = alabel;
    }
    if (mx && !g_hostname_is_ip_address(host)) {
        ares_query(ch, host, 1 /* C_IN */, 15 /* T_MX */, mx_cb, &m);
        wait_channel(ch);
        if (m.status == ARES_ENOTFOUND) {
            g_set_error(error, KAIRAN_ERROR, 5, "5.1.2 Host or domain name not found: %s", host);
            goto fail;
        }
        if (is_temp(m.status)) {
            g_set_error(error, KAIRAN_ERROR, 4, "4.4.3 DNS lookup of %s failed: %s", host, ares_strerror(m.status));
            goto fail;
        }
    }
    if (m.mx) {
        GPtrArray *mxs = g_ptr_array_new();
        gboolean temp = FALSE;
        for (struct ares_mx_reply *p = m.mx; p; p = p->next)
            g_ptr_array_add(mxs, p);
        g_ptr_array_sort(mxs, mx_cmp);
        if (mxs->len == 1 && (!((struct ares_mx_reply *) mxs->pdata[0])->host[0] ||
                              g_str_equal(((struct ares_mx_reply *) mxs->pdata[0])->host, "."))) {
            g_ptr_array_unref(mxs);
            g_set_error(error, KAIRAN_ERROR, 5, "5.1.10 %s does not accept mail (null MX)", host);
            goto fail;
        }
        for (guint i = 0; i < mxs->len && out->len < 16; i++) {
            status = lookup_addrs(ch, ((struct ares_mx_reply *) mxs->pdata[i])->host, port, out);
            temp = temp || is_temp(status);
        }
        g_ptr_array_unref(mxs);
        if (out->len == 0) {
            g_set_error(error, KAIRAN_ERROR, temp ? 4 : 5, "%s no address for the MX hosts of %s",
                        temp ? "4.4.3" : "5.4.4", host);
            goto fail;
        }
    } else {
        status = lookup_addrs(ch, host, port, out);
        if (out->len == 0) {
            g_set_error(error, KAIRAN_ERROR, is_temp(status) ? 4 : 5, "%s no MX and no address for %s",
                        is_temp(status) ? "4.4.3" : "5.4.4", host);
            goto fail;
        }
    }
    if (m.mx)
        ares_free_data(m.mx);
    ares_destroy(ch);
    g_free(host);
    return out;
fail:
    if (m.mx)
        ares_free_data(m.mx);
    ares_destroy(ch);
    g_free(host);
    g_ptr_array_unref(out);
    return NULL;
}
