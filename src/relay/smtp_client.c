/* smtp_client.c - the relay's SMTP client: one connection to a
 * destination, reused for every batch sent there.
 *
 * Connects to the targets from dns.c in order (connect timeout
 * smtp_connect_timeout), EHLO (HELO if refused), STARTTLS when offered
 * (opportunistic: no certificate check; a failed handshake is retried
 * once on the same address without TLS).  A transaction with PIPELINING
 * goes out as one write: MAIL, every RCPT and DATA; then the replies are
 * read in order; the message follows in large writes ending in ".".
 * TCP_NODELAY is set (conn.c).  Every recipient gets its own result:
 * its RCPT reply if that failed, else the reply to DATA or to the final
 * dot.  A lost connection counts as 421 4.4.2 for whatever was open.
 *
 * Client AUTH (smarthost_auth_file): after STARTTLS and the second EHLO,
 * AUTH PLAIN (else LOGIN) with the credentials of that host.  Without
 * TLS the credentials are never sent: the connection counts as failed
 * (454 4.7.0), so a fleet moves on and the mail is deferred, not sent
 * unauthenticated.  A refused AUTH (535) defers too: wrong credentials
 * are the operator's mistake, not the recipients'. */
#include "config.h"
#include "relay.h"
#include "log.h"
#include "util.h"
#include "tlsrpt.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/x509v3.h>

struct SmtpClient {
    Relay *r;
    NetConn *c;
    char *relay;           /* host[addr]:port, for logs */
    gboolean pipelining, starttls, size, esmtp, eightbitmime;
    gboolean auth_plain, auth_login;
    gboolean dsn;          /* the server offers DSN (RFC 3461) */
    gboolean verified;     /* TLS with a verified certificate */
    gboolean smtputf8;     /* the server offers SMTPUTF8 (RFC 6531) */
    char *mail_dsn;        /* smtp_client_set_dsn */
    int txns;              /* transactions started on this connection */
    gboolean lost_early;   /* the last one lost the connection before any reply */
};

gboolean
smtp_client_retryable(SmtpClient *c)
{
    return c->lost_early && c->txns > 1;
}

const char *
smtp_client_relay(SmtpClient *c)
{
    return c->relay;
}

void
smtp_wire_append(GString *w, const char *data, gsize len)
{
    const char *p = data, *end = data + len;

    while (p < end) {
        const char *le = p;
        gsize n;

        /* a line ends at LF, CRLF, or a bare CR: a bare CR never goes
         * out as it is (a next hop may take it for a line end, or not),
         * it becomes a line break of its own */
        while (le < end && *le != '\n' && *le != '\r')
            le++;
        n = le - p;
        if (n > 0 && p[0] == '.')
            g_string_append_c(w, '.');
        g_string_append_len(w, p, n);
        g_string_append(w, "\r\n");
        if (le < end && *le == '\r' && le + 1 < end && le[1] == '\n')
            le++;
        p = le < end ? le + 1 : end;
    }
}

GBytes *
smtp_wire_form(const char *data, gsize len)
{
    GString *w = g_string_sized_new(len + len / 30 + 16);

    smtp_wire_append(w, data, len);
    g_string_append(w, ".\r\n");
    return g_string_free_to_bytes(w);
}

/* read_reply - a whole (multi-line) reply: its code, the text lines
 * joined by '\n' in text; -1 when the connection failed. */
static int
read_reply(NetConn *c, GString *text)
{
    GString *line = g_string_sized_new(256);
    int code = -1;

    g_string_truncate(text, 0);
    for (;;) {
        int rc = netconn_read_line(c, line, 2048);
        if (rc <= 0 || line->len < 3 || !g_ascii_isdigit(line->str[0]) ||
            !g_ascii_isdigit(line->str[1]) || !g_ascii_isdigit(line->str[2])) {
            code = -1;
            break;
        }
        if (text->len)
            g_string_append_c(text, '\n');
        g_string_append(text, line->str);
        if (line->len == 3 || line->str[3] != '-') {
            code = (int) g_ascii_strtoll(line->str, NULL, 10);
            break;
        }
    }
    g_string_free(line, TRUE);
    return code;
}

static char *
one_line(const GString *text)
{
    char *s = g_strdup(text->str);
    for (char *p = s; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return s;
}

static int
connect_to(const Target *t, int timeout, int *err)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char port[16];
    int fd, rc, soerr = 0;
    socklen_t slen = sizeof(soerr);
    struct pollfd pfd;

    g_snprintf(port, sizeof(port), "%d", t->port);
    if (getaddrinfo(t->addr, port, &hints, &res) != 0 || !res) {
        *err = EINVAL;
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *err = errno;
        freeaddrinfo(res);
        return -1;
    }
    rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0 && errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return -1;
    }
    if (rc < 0) {
        pfd.fd = fd;
        pfd.events = POLLOUT;
        rc = poll(&pfd, 1, timeout * 1000);
        if (rc <= 0) {
            *err = rc == 0 ? ETIMEDOUT : errno;
            close(fd);
            return -1;
        }
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen);
        if (soerr) {
            *err = soerr;
            close(fd);
            return -1;
        }
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static int
ehlo(SmtpClient *sc, GString *text)
{
    int code;
    netconn_printf(sc->c, "EHLO %s\r\n", sc->r->inst->hostname);
    code = read_reply(sc->c, text);
    if (code == 250) {
        char **lines = g_strsplit(text->str, "\n", -1);
        sc->esmtp = TRUE;
        sc->pipelining = sc->starttls = sc->size = sc->eightbitmime = FALSE;
        sc->auth_plain = sc->auth_login = sc->dsn = sc->smtputf8 = FALSE;
        for (char **l = lines; *l; l++) {
            const char *kw = strlen(*l) > 4 ? *l + 4 : "";
            if (g_ascii_strncasecmp(kw, "PIPELINING", 10) == 0)
                sc->pipelining = TRUE;
            else if (g_ascii_strncasecmp(kw, "STARTTLS", 8) == 0)
                sc->starttls = TRUE;
            else if (g_ascii_strncasecmp(kw, "SIZE", 4) == 0)
                sc->size = TRUE;
            else if (g_ascii_strncasecmp(kw, "8BITMIME", 8) == 0)
                sc->eightbitmime = TRUE;
            else if (g_ascii_strncasecmp(kw, "DSN", 3) == 0 && (kw[3] == '\0' || kw[3] == '\r'))
                sc->dsn = TRUE;
            else if (g_ascii_strncasecmp(kw, "SMTPUTF8", 8) == 0 && (kw[8] == '\0' || kw[8] == '\r'))
                sc->smtputf8 = TRUE;
            else if (g_ascii_strncasecmp(kw, "AUTH", 4) == 0 && (kw[4] == ' ' || kw[4] == '=')) {
                char **mechs = g_strsplit_set(kw + 5, " \r", -1);
                for (char **m = mechs; *m; m++) {
                    sc->auth_plain = sc->auth_plain || g_ascii_strcasecmp(*m, "PLAIN") == 0;
                    sc->auth_login = sc->auth_login || g_ascii_strcasecmp(*m, "LOGIN") == 0;
                }
                g_strfreev(mechs);
            }
        }
        g_strfreev(lines);
        return code;
    }
    if (code < 0)
        return code;
    netconn_printf(sc->c, "HELO %s\r\n", sc->r->inst->hostname);
    sc->esmtp = FALSE;
    return read_reply(sc->c, text);
}

/* client_auth - AUTH PLAIN or LOGIN over the TLS connection; 250 when
 * authenticated, else the server's code (-1 lost, -4 no mechanism). */
static int
client_auth(SmtpClient *sc, const SmtpCred *cred, GString *text)
{
    int code;
    char *b64;

    if (sc->auth_plain) {
        gsize ul = strlen(cred->user), pl = strlen(cred->pass);
        guchar *raw = g_malloc(ul + pl + 2);
        raw[0] = '\0';
        memcpy(raw + 1, cred->user, ul);
        raw[ul + 1] = '\0';
        memcpy(raw + ul + 2, cred->pass, pl);
        b64 = g_base64_encode(raw, ul + pl + 2);
        memset(raw, 0, ul + pl + 2);
        g_free(raw);
        netconn_printf(sc->c, "AUTH PLAIN %s\r\n", b64);
        g_free(b64);
        code = read_reply(sc->c, text);
        return code == 235 ? 250 : code;
    }
    if (!sc->auth_login)
        return -4;
    netconn_printf(sc->c, "AUTH LOGIN\r\n");
    if ((code = read_reply(sc->c, text)) != 334)
        return code;
    b64 = g_base64_encode((const guchar *) cred->user, strlen(cred->user));
    netconn_printf(sc->c, "%s\r\n", b64);
    g_free(b64);
    if ((code = read_reply(sc->c, text)) != 334)
        return code;
    b64 = g_base64_encode((const guchar *) cred->pass, strlen(cred->pass));
    netconn_printf(sc->c, "%s\r\n", b64);
    g_free(b64);
    code = read_reply(sc->c, text);
    return code == 235 ? 250 : code;
}

/* session - greeting, EHLO, STARTTLS on a connected socket; AUTH when
 * cred is given (-3: no TLS, so no credentials sent).  A target with
 * DANE records (dane.c) needs STARTTLS and a matching certificate like
 * verify does; *fail gets the TLS-RPT failure type of -5/-6. */
static int
session(SmtpClient *sc, Target *t, gboolean try_tls, const SmtpCred *cred, gboolean verify,
        GString *text, char **why, int *fail)
{
    int code = read_reply(sc->c, text);
    gboolean dane = t->dane != NULL;
    if (code != 220)
        return code;
    code = ehlo(sc, text);
    if (code == 250 && (verify || dane) && !sc->starttls) {
        *fail = TLSRPT_STARTTLS_NOT_SUPPORTED;
        return -5;
    }
    if (code == 250 && (try_tls || verify || dane) && sc->starttls) {
        netconn_printf(sc->c, "STARTTLS\r\n");
        code = read_reply(sc->c, text);
        if (code < 0)
            return code;
        if (code == 220 && dane) {
            *fail = TLSRPT_VALIDATION_FAILURE;
            if (!netconn_tls_connect_with(sc->c, sc->r->dane_tls, t->host, dane_prepare, t))
                return -6;
            if (!dane_check(sc->c->ssl, t, why))
                return -6;
            sc->verified = dane_usable_any(t->dane);
            *fail = 0;
            code = ehlo(sc, text);
        } else if (code == 220) {
            if (!netconn_tls_connect(sc->c, verify ? sc->r->verify_tls : sc->r->client_tls, t->host)) {
                *fail = TLSRPT_VALIDATION_FAILURE;
                return verify ? -6 : -2;
            }
            if (verify) {
                long v = SSL_get_verify_result(sc->c->ssl);
                X509 *peer = SSL_get1_peer_certificate(sc->c->ssl);
                gboolean named = peer && X509_check_host(peer, t->host, 0, 0, NULL) == 1;
                if (peer)
                    X509_free(peer);
                if (v != X509_V_OK || !named) {
                    *why = g_strdup(v != X509_V_OK ? X509_verify_cert_error_string(v)
                                                   : "the certificate is not for this host name");
                    *fail = v == X509_V_ERR_CERT_HAS_EXPIRED ? TLSRPT_CERTIFICATE_EXPIRED
                            : v != X509_V_OK                 ? TLSRPT_CERTIFICATE_NOT_TRUSTED
                                                             : TLSRPT_CERTIFICATE_HOST_MISMATCH;
                    return -6;
                }
                sc->verified = TRUE;
            }
            code = ehlo(sc, text);
        } else if (verify || dane) {
            *fail = TLSRPT_STARTTLS_NOT_SUPPORTED;
            return -5;
        } else {
            code = 250;                         /* go on in clear text */
        }
    }
    if (code != 250 || !cred)
        return code;
    if (!sc->c->ssl)
        return -3;
    return client_auth(sc, cred, text);
}

SmtpClient *
smtp_client_open(Relay *r, GPtrArray *targets, GError **error)
{
    return smtp_client_open_auth(r, targets, NULL, error);
}

SmtpClient *
smtp_client_open_auth(Relay *r, GPtrArray *targets, const SmtpCred *cred, GError **error)
{
    return smtp_client_open_tls(r, targets, cred, FALSE, error);
}

int
smtp_client_connect(const Target *t, int timeout, int *err)
{
    return connect_to(t, timeout, err);
}

SmtpClient *
smtp_client_open_tls(Relay *r, GPtrArray *targets, const SmtpCred *cred, gboolean verify, GError **error)
{
    SmtpClient *sc = g_new0(SmtpClient, 1);
    GString *text = g_string_new(NULL);
    int last_code = 421;
    char *last = g_strdup("4.4.1 no address to connect to");

    sc->r = r;
    for (guint i = 0; i < targets->len; i++) {
        Target *t = targets->pdata[i];
        for (int attempt = 0; attempt < 2; attempt++) {
            int err = 0, fd = connect_to(t, r->connect_timeout, &err), code;
            g_free(sc->relay);
            sc->relay = g_strdup_printf("%s[%s]:%d", t->host, t->addr, t->port);
            if (fd < 0) {
                g_free(last);
                last = g_strdup_printf("4.4.1 connect to %s: %s", sc->relay, g_strerror(err));
                last_code = 421;
                break;
            }
            sc->c = netconn_new(fd, r->smtp_timeout * 1000);
            char *why = NULL;
            int fail = 0;
            code = session(sc, t, attempt == 0, cred, verify, text, &why, &fail);
            if (code == -5 || code == -6) {
                t->tls_result = -fail;
                g_free(t->tls_detail);
                t->tls_detail = g_strdup(why ? why : code == -5 ? "no STARTTLS" : "TLS handshake failed");
            } else if (code == 250) {
                t->tls_result = sc->c->ssl ? 1 : 2;
            }
            if (code == 250) {
                g_string_free(text, TRUE);
                g_free(last);
                return sc;
            }
            g_free(last);
            if (code > 0) {
                char *l = one_line(text);
                last = g_strdup_printf("%s said: %s", sc->relay, l);
                last_code = cred && code / 100 == 5 && sc->c->ssl ? 454 : code;   /* AUTH refused: defer */
                g_free(l);
                netconn_printf(sc->c, "QUIT\r\n");
                netconn_flush(sc->c);
            } else if (code == -5 || code == -6) {
                const char *how = t->dane ? "DANE" : "tls_verify";
                last = code == -5 ? g_strdup_printf("4.7.5 %s offers no STARTTLS, and TLS is required (%s)", sc->relay, how)
                                  : g_strdup_printf("4.7.5 TLS with %s not verified%s: %s; not sent in clear", sc->relay,
                                                    t->dane ? " by DANE" : "", why ? why : "handshake failed");
                last_code = 421;
                if (code == -5) {
                    netconn_printf(sc->c, "QUIT\r\n");
                    netconn_flush(sc->c);
                }
            } else if (code == -3 || code == -4) {
                last = g_strdup_printf(code == -3 ? "4.7.0 %s offers no TLS: the credentials of smarthost_auth_file are not sent in clear"
                                                  : "4.7.0 %s offers neither AUTH PLAIN nor AUTH LOGIN", sc->relay);
                last_code = 454;
                netconn_printf(sc->c, "QUIT\r\n");
                netconn_flush(sc->c);
            } else {
                last = g_strdup_printf("4.4.2 lost connection with %s during the greeting%s", sc->relay,
                                       code == -2 ? " (TLS handshake failed)" : "");
                last_code = 421;
            }
            g_free(why);
            netconn_free(sc->c);
            sc->c = NULL;
            if (code != -2 || cred || verify)
                break;                       /* retry only after a failed TLS handshake,
                                                and never in clear with credentials */
        }
    }
    g_set_error(error, KAIRAN_ERROR, last_code, "%s", last);
    g_free(last);
    g_string_free(text, TRUE);
    g_free(sc->relay);
    g_free(sc);
    return NULL;
}

static void
set_result(RcptResult *x, int code, const char *relay, const GString *text)
{
    char *l = one_line(text);
    g_free(x->text);
    x->code = code;
    x->text = g_strdup_printf("%s said: %s", relay, l);
    g_free(l);
}

static void
set_lost(RcptResult *res, guint n, const char *relay, const char *when)
{
    for (guint i = 0; i < n; i++) {
        if (res[i].code != 0 && res[i].code / 100 != 2)
            continue;                 /* its own RCPT reply already failed */
        g_free(res[i].text);
        res[i].code = 421;
        res[i].text = g_strdup_printf("4.4.2 lost connection with %s while %s", relay, when);
    }
}

gboolean
smtp_client_send(SmtpClient *sc, const char *sender, RcptResult *res, guint n, GBytes *wire, gint64 size,
                 gboolean eightbit)
{
    return smtp_client_send2(sc, sender, res, n, NULL, wire, size, eightbit);
}

gboolean
smtp_client_send2(SmtpClient *sc, const char *sender, RcptResult *res, guint n, GBytes *head, GBytes *wire,
                  gint64 size, gboolean eightbit)
{
    NetConn *c = sc->c;
    GString *text = g_string_new(NULL);
    int code;
    guint accepted = 0;
    gboolean ok = TRUE;
    gsize wlen;
    const char *wdata;
    gboolean utf8;

    for (guint i = 0; i < n; i++)
        res[i].code = 0;
    utf8 = !g_str_is_ascii(sender);
    for (guint i = 0; i < n && !utf8; i++)
        utf8 = !g_str_is_ascii(res[i].rcpt);
    if (utf8 && !sc->smtputf8) {
        /* RFC 6531 3.2: an internationalised address is not sent to a
         * server without SMTPUTF8; it fails (5.6.7, a bounce), the ASCII
         * recipients go on (unless the sender itself is non-ASCII) */
        RcptResult *sub = g_new0(RcptResult, n);
        guint m = 0;
        gboolean sender_ascii = g_str_is_ascii(sender);
        for (guint i = 0; i < n; i++) {
            if (sender_ascii && g_str_is_ascii(res[i].rcpt)) {
                sub[m] = res[i];
                sub[m].text = NULL;
                m++;
            } else {
                g_free(res[i].text);
                res[i].code = 553;
                res[i].text = g_strdup_printf("5.6.7 %s does not support SMTPUTF8: the %s address is "
                                              "internationalised (RFC 6531)", sc->relay,
                                              sender_ascii ? "recipient" : "sender");
            }
        }
        if (m > 0)
            ok = smtp_client_send2(sc, sender, sub, m, head, wire, size, eightbit);
        for (guint i = 0, k = 0; i < n && k < m; i++) {
            if (res[i].code != 0)
                continue;
            res[i].code = sub[k].code;
            res[i].text = sub[k].text;
            k++;
        }
        g_free(sub);
        g_string_free(text, TRUE);
        return ok;
    }
    sc->txns++;
    sc->lost_early = FALSE;
    netconn_printf(c, "MAIL FROM:<%s>", sender);
    if (sc->size && size > 0)
        netconn_printf(c, " SIZE=%" G_GINT64_FORMAT, size);
    if (sc->eightbitmime && eightbit)
        netconn_printf(c, " BODY=8BITMIME");
    if (sc->dsn && sc->mail_dsn && *sc->mail_dsn)
        netconn_printf(c, " %s", sc->mail_dsn);
    if (utf8)
        netconn_printf(c, " SMTPUTF8");
    netconn_printf(c, "\r\n");
    if (!sc->pipelining) {
        code = read_reply(c, text);
        if (code < 0) {
            sc->lost_early = TRUE;
            goto lost;
        }
        if (code / 100 != 2) {
            for (guint i = 0; i < n; i++)
                set_result(&res[i], code, sc->relay, text);
            netconn_printf(c, "RSET\r\n");
            ok = read_reply(c, text) > 0;
            goto out;
        }
        for (guint i = 0; i < n; i++) {
            netconn_printf(c, "RCPT TO:<%s>%s%s\r\n", res[i].rcpt, sc->dsn && res[i].dsn && *res[i].dsn ? " " : "",
                           sc->dsn && res[i].dsn ? res[i].dsn : "");
            code = read_reply(c, text);
            if (code < 0)
                goto lost;
            if (code / 100 != 2)
                set_result(&res[i], code, sc->relay, text);
            else
                accepted++;
        }
        if (accepted == 0) {
            netconn_printf(c, "RSET\r\n");
            ok = read_reply(c, text) > 0;
            goto out;
        }
        netconn_printf(c, "DATA\r\n");
        code = read_reply(c, text);
    } else {
        int mail;
        for (guint i = 0; i < n; i++)
            netconn_printf(c, "RCPT TO:<%s>%s%s\r\n", res[i].rcpt, sc->dsn && res[i].dsn && *res[i].dsn ? " " : "",
                           sc->dsn && res[i].dsn ? res[i].dsn : "");
        netconn_printf(c, "DATA\r\n");
        mail = read_reply(c, text);
        if (mail < 0) {
            sc->lost_early = TRUE;
            goto lost;
        }
        if (mail / 100 != 2)
            for (guint i = 0; i < n; i++)
                set_result(&res[i], mail, sc->relay, text);
        for (guint i = 0; i < n; i++) {
            code = read_reply(c, text);
            if (code < 0)
                goto lost;
            if (mail / 100 != 2)
                continue;
            if (code / 100 != 2)
                set_result(&res[i], code, sc->relay, text);
            else
                accepted++;
        }
        code = read_reply(c, text);
        if (code < 0)
            goto lost;
    }
    if (code != 354) {
        for (guint i = 0; i < n; i++)
            if (res[i].code == 0)
                set_result(&res[i], code, sc->relay, text);
        netconn_printf(c, "RSET\r\n");
        ok = read_reply(c, text) > 0;
        goto out;
    }
    if (head) {
        const char *hdata = g_bytes_get_data(head, &wlen);
        netconn_write(c, hdata, wlen);       /* buffered: goes out with the body */
    }
    wdata = g_bytes_get_data(wire, &wlen);
    if (!netconn_flush(c) || !(netconn_write(c, wdata, wlen), netconn_flush(c))) {
        set_lost(res, n, sc->relay, "sending the message");
        ok = FALSE;
        goto out;
    }
    code = read_reply(c, text);
    if (code < 0) {
        set_lost(res, n, sc->relay, "sending the end of data");
        ok = FALSE;
        goto out;
    }
    for (guint i = 0; i < n; i++)
        if (res[i].code == 0)
            set_result(&res[i], code, sc->relay, text);
    goto out;
lost:
    set_lost(res, n, sc->relay, "sending the envelope");
    ok = FALSE;
out:
    g_string_free(text, TRUE);
    return ok;
}

void
smtp_client_set_dsn(SmtpClient *sc, const char *mail_dsn)
{
    g_free(sc->mail_dsn);
    sc->mail_dsn = g_strdup(mail_dsn);
}

gboolean
smtp_client_has_dsn(SmtpClient *sc)
{
    return sc->dsn;
}

void
smtp_client_close(SmtpClient *sc, gboolean quit)
{
    if (!sc)
        return;
    if (sc->c && quit && !sc->c->failed) {
        GString *text = g_string_new(NULL);
        netconn_printf(sc->c, "QUIT\r\n");
        read_reply(sc->c, text);
        g_string_free(text, TRUE);
    }
    netconn_free(sc->c);
    g_free(sc->relay);
    g_free(sc->mail_dsn);
    g_free(sc);
}
