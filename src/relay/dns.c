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
 * channel, so the worker threads never share one.
 * The MX question goes out with the AD bit (RFC 6840 section 5.7): the
 * answer's AD bit says whether a validating dns_resolver found it
 * DNSSEC-secure, which DANE (dane.c, RFC 7672 section 2.2) needs. */
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
    if (t->dane)
        dane_records_free(t->dane);
    g_free(t->tls_detail);
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

static void
raw_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    DnsAnswer *a = arg;
    (void) timeouts;
    a->status = status;
    if (status != ARES_SUCCESS || !abuf || alen < 12) {
        if (status == ARES_SUCCESS)
            a->status = ARES_EBADRESP;
        return;
    }
    a->buf = g_memdup2(abuf, (gsize) alen);
    a->len = (gsize) alen;
    a->rcode = abuf[3] & 0x0f;
    a->secure = (abuf[3] & 0x20) != 0;
    if (a->rcode == 3)
        a->status = ARES_ENOTFOUND;
    else if (a->rcode != 0)
        a->status = ARES_ESERVFAIL;
    else if (abuf[6] == 0 && abuf[7] == 0)
        a->status = ARES_ENODATA;
}

/* query_ad - one question with the AD bit set (RFC 6840 5.7: a
 * validating resolver then says in its answer's AD bit whether the
 * answer was DNSSEC-validated) and EDNS0, answered into *a. */
static void
query_ad(ares_channel ch, const char *name, int type, DnsAnswer *a)
{
    unsigned char *q = NULL;
    int qlen = 0;

    memset(a, 0, sizeof(*a));
    a->status = ARES_ENOTFOUND;
    if (ares_create_query(name, 1 /* C_IN */, type, 0, 1, &q, &qlen, 1232) != ARES_SUCCESS || qlen < 12) {
        a->status = ARES_EBADNAME;
        return;
    }
    q[3] |= 0x20;                       /* AD */
    ares_send(ch, q, qlen, raw_cb, a);
    ares_free_string(q);
    wait_channel(ch);
}

void
dns_query(Relay *r, const char *name, int type, DnsAnswer *a)
{
    ares_channel ch = new_channel(r);
    if (!ch) {
        memset(a, 0, sizeof(*a));
        a->status = ARES_ECONNREFUSED;
        return;
    }
    query_ad(ch, name, type, a);
    ares_destroy(ch);
}

void
dns_answer_clear(DnsAnswer *a)
{
    g_free(a->buf);
    a->buf = NULL;
    a->len = 0;
}

gboolean
dns_status_temporary(int status)
{
    return status != ARES_SUCCESS && status != ARES_ENOTFOUND && status != ARES_ENODATA;
}

typedef struct {
    int status;
    gboolean secure;
    struct ares_mx_reply *mx;
} MxResult;

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
lookup_addrs(ares_channel ch, const char *host, int port, gboolean secure, GPtrArray *out)
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
        t->name_secure = secure;
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
    MxResult m = { ARES_ENODATA, FALSE, NULL };

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
        DnsAnswer a;
        query_ad(ch, host, 15 /* T_MX */, &a);
        m.status = a.status;
        m.secure = a.secure;
        if (a.status == ARES_SUCCESS)
            m.status = ares_parse_mx_reply(a.buf, (int) a.len, &m.mx);
        dns_answer_clear(&a);
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
            status = lookup_addrs(ch, ((struct ares_mx_reply *) mxs->pdata[i])->host, port, m.secure, out);
            temp = temp || is_temp(status);
        }
        g_ptr_array_unref(mxs);
        if (out->len == 0) {
            g_set_error(error, KAIRAN_ERROR, temp ? 4 : 5, "%s no address for the MX hosts of %s",
                        temp ? "4.4.3" : "5.4.4", host);
            goto fail;
        }
    } else {
        /* no MX: the domain is its own MX host (secure when the MX
         * lookup's denial was), a route's host name is the operator's */
        status = lookup_addrs(ch, host, port, mx && !is_route ? m.secure : TRUE, out);
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
