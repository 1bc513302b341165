/* smtp_server.c - the ESMTP server of `kairan relay` (RFC 5321).
 *
 * One thread per client connection, blocking I/O with a timeout on every
 * read (smtpd_timeout).  Limits: smtpd_max_connections in total and
 * smtpd_max_per_client per client address (421 beyond), command lines of
 * 1000 octets (500 5.5.2 beyond), smtpd_max_recipients per transaction
 * (452 4.5.3), message_size_limit during DATA (552 5.3.4, announced with
 * SIZE), smtpd_max_errors errors per session (then 421 and disconnect).
 * A bare LF ends a line just like CRLF in commands and message text (the
 * queue stores LF anyway), but only <CRLF>.<CRLF> ends DATA: a "." line
 * next to a bare LF is kept as text, so no message can be smuggled past
 * an upstream MTA that reads the data differently (CVE-2023-51764 kind).
 * A bare CR (one not followed by LF) is refused: in a command line with
 * 501 5.5.2, in the message text with 554 5.6.0 after the final dot, so
 * nothing CR-separated reaches a next hop or our Received: line (servers
 * that end lines at a CR would read it differently).  Replies are buffered and written when
 * the next read would block, so PIPELINING clients get them in batches.
 *
 * A recipient given twice in one transaction (RCPT TO in any case of a
 * list address, or of the domain) is accepted once: one delivery per
 * distinct recipient, however often the client repeats it.
 *
 * Relay control: RCPT to LIST, LIST-ctl, LIST-admin @domain is taken from
 * anyone (any other local part of our domain: 550 5.1.1); other domains
 * only from mynetworks or after AUTH (PLAIN/LOGIN, offered only after
 * STARTTLS), else 550 5.7.1 Relaying denied.  AUTH user names: `LIST`
 * with the list owner's password, or `ADDRESS/LIST` with that member's
 * POP3 password (the POP3 user name).  A member's login allows relaying
 * only with [global] relay_members = yes (default no: 550 5.7.1 at RCPT
 * saying so), since a member password is a weaker secret than an owner's.
 * Failed AUTH is slowed down by the guessing guard shared with every
 * other login (lib/authguard.c).
 *
 * After the final dot the message (with a Received: line, dot-unstuffed,
 * LF line ends) is in queue/tmp, fsynced.  The first list recipient gets
 * it synchronously through `kairan deliver` (local.c) and its status is
 * the reply when it fails; every other recipient is then committed to the
 * queue (queue_submit_file, fsynced) before 250.  Any failure before that
 * answers 451, so the client keeps the mail. */
#define _GNU_SOURCE 1
#include "config.h"
#include "relay.h"
#include "domains.h"
#include "address.h"
#include "auth_login.h"
#include "authguard.h"
#include "crypto.h"
#include "db.h"
#include "lists.h"
#include "popbeforesmtp.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CMD_MAX 1000

typedef struct {
    char *rcpt, *list;
    const char *mode;
    char *key;               /* the canonical form duplicates are found by */
    char *dsn;               /* NOTIFY/ORCPT (dsn.c canonical form) or NULL */
} Rcpt;

typedef struct {
    Relay *r;
    NetConn *c;
    char *peer;
    char *helo;
    gboolean esmtp, authed, relay_ok;
    char *auth_user;
    char *sender;            /* NULL: no MAIL yet */
    char *dsn_mail;          /* RET/ENVID of this MAIL, "" when none */
    gboolean smtputf8;       /* this MAIL had SMTPUTF8 (RFC 6531) */
    GPtrArray *rcpts;        /* Rcpt* */
    int errors;
    gboolean quit;
} Session;

static GMutex conn_lock;
static int conn_total;
static GHashTable *conn_per_client;

static void
rcpt_free(gpointer p)
{
    Rcpt *x = p;
    g_free(x->rcpt);
    g_free(x->list);
    g_free(x->key);
    g_free(x->dsn);
    g_free(x);
}

static void
reply(Session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
reply(Session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(s->c->wbuf, fmt, ap);
    va_end(ap);
    g_string_append(s->c->wbuf, "\r\n");
}

static void
error_reply(Session *s, const char *text)
{
    s->errors++;
    reply(s, "%s", text);
}

static void
reset_txn(Session *s)
{
    g_clear_pointer(&s->sender, g_free);
    g_clear_pointer(&s->dsn_mail, g_free);
    s->smtputf8 = FALSE;
    g_ptr_array_set_size(s->rcpts, 0);
}

/* smtp_path_arg - "<addr> PARAMS" after FROM:/TO:; returns the address
 * inside the brackets (allocated) and *params, or NULL on bad syntax. */
char *
smtp_path_arg(const char *arg, const char **params)
{
    const char *p = arg, *end;
    while (*p == ' ')
        p++;
    if (*p != '<')
        return NULL;
    end = strchr(p, '>');
    if (!end)
        return NULL;
    *params = end + 1;
    while (**params == ' ')
        (*params)++;
    if (memchr(p + 1, ' ', end - p - 1))
        return NULL;
    return g_strndup(p + 1, end - p - 1);
}

/* smtp_mail_params - check the ESMTP parameters of MAIL FROM; NULL when
 * they are fine, else the error reply. */
const char *
smtp_mail_params(const char *params, gint64 max_size)
{
    char **words = g_strsplit(params, " ", -1);
    const char *err = NULL;

    for (char **w = words; *w && !err; w++) {
        if (!**w)
            continue;
        if (g_ascii_strncasecmp(*w, "SIZE=", 5) == 0) {
            gint64 sz = g_ascii_strtoll(*w + 5, NULL, 10);
            if (max_size > 0 && sz > max_size)
                err = "552 5.3.4 Message size exceeds fixed limit";
        } else if (g_ascii_strncasecmp(*w, "BODY=", 5) == 0) {
            if (g_ascii_strcasecmp(*w + 5, "7BIT") != 0 && g_ascii_strcasecmp(*w + 5, "8BITMIME") != 0)
                err = "501 5.5.4 Unknown BODY type";
        } else if (g_ascii_strncasecmp(*w, "AUTH=", 5) == 0) {
            /* RFC 4954 AUTH= parameter: accepted and ignored */
        } else if (g_ascii_strcasecmp(*w, "SMTPUTF8") == 0) {
            /* RFC 6531: UTF-8 addresses and headers in this transaction */
        } else if (g_ascii_strncasecmp(*w, "RET=", 4) == 0 || g_ascii_strncasecmp(*w, "ENVID=", 6) == 0) {
            /* DSN (RFC 3461): checked by dsn_mail_params */
        } else {
            err = "555 5.5.4 Unsupported MAIL parameter";
        }
    }
    g_strfreev(words);
    return err;
}

gboolean
smtp_params_have(const char *params, const char *word)
{
    char **words = g_strsplit(params ? params : "", " ", -1);
    gboolean found = FALSE;
    for (char **w = words; *w && !found; w++)
        found = g_ascii_strcasecmp(*w, word) == 0;
    g_strfreev(words);
    return found;
}

/* smtp_auth_plain_split - the decoded AUTH PLAIN response
 * "authzid NUL user NUL pass" -> *user and *pass (allocated); FALSE
 * when it does not have that form. */
gboolean
smtp_auth_plain_split(const char *buf, gsize len, char **user, char **pass)
{
    const char *z1 = memchr(buf, '\0', len);
    const char *z2 = z1 ? memchr(z1 + 1, '\0', len - (gsize) (z1 + 1 - buf)) : NULL;

    if (!z1 || !z2)
        return FALSE;
    *user = g_strndup(z1 + 1, z2 - z1 - 1);
    *pass = g_strndup(z2 + 1, len - (gsize) (z2 + 1 - buf));
    return TRUE;
}

/* smtp_data_line - one line of DATA text as conn_read_line returned it
 * (rc 1: a whole line, ended by CRLF when crlf; rc 2: a piece of a longer
 * line).  TRUE when it is the final dot; otherwise *p and *len are the
 * text to store (dot-unstuffed), followed by a LF when rc is 1.  Sets
 * d->bare_cr at a CR that is not the CR of a CRLF. */
gboolean
smtp_data_line(SmtpData *d, int rc, gboolean crlf, const char **p, gsize *len)
{
    gboolean end = FALSE;

    /* bare CR: a CR in the text; a piece ending in CR is a bare CR unless
     * the next piece is the LF alone (CRLF split between two pieces) */
    if (d->pending_cr && !(rc == 1 && *len == 0 && !crlf))
        d->bare_cr = TRUE;
    d->pending_cr = FALSE;
    for (gsize i = 0; i < *len; i++)
        if ((*p)[i] == '\r') {
            if (rc == 2 && i == *len - 1)
                d->pending_cr = TRUE;
            else
                d->bare_cr = TRUE;
        }
    if (d->at_start && rc == 1 && *len == 1 && (*p)[0] == '.') {
        if (d->prev_crlf && crlf)
            end = TRUE;
        /* "." with a bare LF before or after it is text, never the end:
         * no SMTP smuggling through us (only CRLF.CRLF ends DATA). */
    } else if (d->at_start && *len > 0 && (*p)[0] == '.') {
        (*p)++;
        (*len)--;
    }
    if (rc == 1)
        d->prev_crlf = crlf;
    d->at_start = rc == 1;
    return end;
}

/* smtp_rcpt_key - the form two RCPT addresses are the same recipient in:
 * the domain in lower case (address_normalize), and for a list address
 * of ours the local part too (list names are lower case). */
char *
smtp_rcpt_key(const char *norm, gboolean is_list)
{
    const char *at = strrchr(norm, '@');

    if (is_list || !at)
        return g_ascii_strdown(norm, -1);
    {
        char *domain = g_ascii_strdown(at + 1, -1);
        char *key = g_strdup_printf("%.*s@%s", (int) (at - norm), norm, domain);
        g_free(domain);
        return key;
    }
}

/* smtp_line_has_bare_cr - a CR in a command line (conn_read_line has
 * taken the CR of the CRLF off already). */
gboolean
smtp_line_has_bare_cr(const char *line, gsize len)
{
    return memchr(line, '\r', len) != NULL;
}

static void
cmd_mail(Session *s, const char *arg)
{
    const char *params = NULL, *err;
    char *addr, *dsn = NULL;
    gboolean utf8;

    if (!s->helo) {
        error_reply(s, "503 5.5.1 Send HELO/EHLO first");
        return;
    }
    if (s->sender) {
        error_reply(s, "503 5.5.1 Nested MAIL command");
        return;
    }
    if (g_ascii_strncasecmp(arg, "FROM:", 5) != 0 || !(addr = smtp_path_arg(arg + 5, &params))) {
        error_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    utf8 = smtp_params_have(params, "SMTPUTF8");
    if (!utf8 && !g_str_is_ascii(addr)) {
        /* RFC 6531 3.4: an 8-bit envelope needs the SMTPUTF8 parameter */
        g_free(addr);
        error_reply(s, "553 5.6.7 Non-ASCII sender address without SMTPUTF8");
        return;
    }
    if (*addr) {
        const char *why;
        char *n = address_normalize(addr, &why);
        g_free(addr);
        if (!n) {
            error_reply(s, "553 5.1.7 Bad sender address syntax");
            return;
        }
        addr = n;
    }
    err = smtp_mail_params(params, s->r->max_size);
    if (!err)
        dsn = dsn_mail_params(params, &err);
    if (err) {
        error_reply(s, err);
        g_free(addr);
        return;
    }
    s->sender = addr;
    s->dsn_mail = dsn;
    s->smtputf8 = utf8;
    reply(s, "250 2.1.0 Ok");
}

/* pop_before_smtp_ok - may this client relay by POP-before-SMTP? Once
 * TRUE it holds for the rest of the session. */
static gboolean
pop_before_smtp_ok(Session *s)
{
    gboolean ok;
    if (s->r->pop_before_smtp <= 0)
        return FALSE;
    g_mutex_lock(&s->r->db_lock);
    ok = popbeforesmtp_allowed(s->r->inst, s->peer);
    g_mutex_unlock(&s->r->db_lock);
    if (ok) {
        s->relay_ok = TRUE;
        log_info("smtpd: %s may relay: POP-before-SMTP window open", s->peer);
    }
    return ok;
}

static void
cmd_rcpt(Session *s, const char *arg)
{
    const char *params = NULL, *why, *mode;
    char *addr, *norm, *list = NULL, *key, *dsn = NULL;
    Rcpt *x;

    if (!s->sender) {
        error_reply(s, "503 5.5.1 Need MAIL before RCPT");
        return;
    }
    if (g_ascii_strncasecmp(arg, "TO:", 3) != 0 || !(addr = smtp_path_arg(arg + 3, &params))) {
        error_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    if (!s->smtputf8 && !g_str_is_ascii(addr)) {
        g_free(addr);
        error_reply(s, "553 5.6.7 Non-ASCII recipient address without SMTPUTF8");
        return;
    }
    if (!(dsn = dsn_rcpt_params(params, &why))) {
        g_free(addr);
        error_reply(s, why);
        return;
    }
    norm = address_normalize(addr, &why);
    g_free(addr);
    if (!norm) {
        error_reply(s, "501 5.1.3 Bad recipient address syntax");
        g_free(dsn);
        return;
    }
    if ((int) s->rcpts->len >= s->r->smtpd_max_rcpt) {
        g_free(norm);
        reply(s, "452 4.5.3 Too many recipients");
        g_free(dsn);
        return;
    }
    if (relay_local_target(s->r, norm, &list, &mode)) {
        if (!list) {
            log_info("reject: RCPT from %s: <%s>: no such list", s->peer, norm);
            g_free(norm);
            error_reply(s, "550 5.1.1 No such list here");
            g_free(dsn);
            return;
        }
    } else if (!s->relay_ok && !s->authed && pop_before_smtp_ok(s)) {
        /* POP-before-SMTP: this IP logged in to POP3/IMAP lately */
    } else if (!s->relay_ok && !s->authed) {
        log_info("reject: RCPT from %s: <%s>: Relaying denied; from=<%s>", s->peer, norm, s->sender);
        g_free(norm);
        error_reply(s, "550 5.7.1 Relaying denied");
        g_free(dsn);
        return;
    } else if (!s->relay_ok && !s->r->relay_members && strchr(s->auth_user, '/')) {
        /* sec-ctl: a member login (ADDRESS/LIST) is no right to relay */
        log_info("reject: RCPT from %s: <%s>: Relaying denied to member login %s (relay_members = no);"
                 " from=<%s>", s->peer, norm, s->auth_user, s->sender);
        g_free(norm);
        error_reply(s, "550 5.7.1 Relaying denied: a list member's login does not allow relaying here");
        g_free(dsn);
        return;
    }
    key = smtp_rcpt_key(norm, list != NULL);
    for (guint i = 0; i < s->rcpts->len; i++)
        if (g_str_equal(((Rcpt *) s->rcpts->pdata[i])->key, key)) {
            /* the same recipient again: one delivery, not one per RCPT */
            log_info("smtpd: from %s: <%s>: duplicate recipient, delivered once", s->peer, norm);
            g_free(key);
            g_free(norm);
            g_free(list);
            reply(s, "250 2.1.5 Ok (duplicate recipient, delivered once)");
            g_free(dsn);
            return;
        }
    x = g_new0(Rcpt, 1);
    x->rcpt = norm;
    x->list = list;
    x->mode = mode;
    x->key = key;
    x->dsn = *dsn ? dsn : (g_free(dsn), NULL);
    g_ptr_array_add(s->rcpts, x);
    reply(s, "250 2.1.5 Ok");
}

/* read_data - the DATA text into fp; FALSE when the connection failed.
 * *size gets the stored size; stops storing once over the limit or at a
 * bare CR (*bare_cr). */
static gboolean
read_data(Session *s, FILE *fp, gint64 *size, gboolean *too_big, gboolean *bare_cr)
{
    GString *line = g_string_sized_new(1024);
    SmtpData d = { TRUE, TRUE, FALSE, FALSE };
    gboolean ok = FALSE;

    *too_big = FALSE;
    *bare_cr = FALSE;
    for (;;) {
        int rc = netconn_read_line(s->c, line, 65536);
        const char *p = line->str;
        gsize len = line->len;

        if (rc <= 0)
            break;
        if (smtp_data_line(&d, rc, s->c->crlf, &p, &len)) {
            ok = TRUE;
            break;
        }
        *size += (gint64) len + (rc == 1);
        if (s->r->max_size > 0 && *size > s->r->max_size)
            *too_big = TRUE;
        if (d.bare_cr)
            *bare_cr = TRUE;   /* refused after the dot: nothing more is stored */
        if (!*too_big && !*bare_cr) {
            fwrite(p, 1, len, fp);
            if (rc == 1)
                fputc('\n', fp);
        }
    }
    g_string_free(line, TRUE);
    return ok;
}

static void
cmd_data(Session *s)
{
    Relay *r = s->r;
    char *tmpdir, *rnd, *path = NULL, *helo, *date;
    FILE *fp = NULL;
    gint64 size = 0;
    gboolean too_big = FALSE, bare_cr = FALSE, complete;
    GError *error = NULL;
    time_t now = time(NULL);
    int fd;
    guint first_local = G_MAXUINT;

    if (!s->sender) {
        error_reply(s, "503 5.5.1 Need MAIL command");
        return;
    }
    if (s->rcpts->len == 0) {
        error_reply(s, "554 5.5.1 No valid recipients");
        return;
    }
    tmpdir = instance_path(r->inst, "queue", "tmp", NULL);
    mkdir_p(tmpdir, 0750, NULL);
    rnd = random_hex(8);
    path = g_strdup_printf("%s/smtpd.%s", tmpdir, rnd);
    g_free(rnd);
    g_free(tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0 || !(fp = fdopen(fd, "w+"))) {
        log_error("cannot create %s: %s", path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        reply(s, "451 4.3.0 Local error: cannot store the message");
        g_free(path);
        return;
    }
    reply(s, "354 End data with <CR><LF>.<CR><LF>");
    /* the EHLO name in our Received: line: printable ASCII only */
    helo = g_strdup(s->helo);
    for (char *q = helo; *q; q++)
        if ((unsigned char) *q < 0x21 || (unsigned char) *q > 0x7e)
            *q = '?';
    date = format_rfc5322_date(now);
    fprintf(fp, "Received: from %s ([%s])\n\tby %s (kairan) with %s%s%s%s;\n\t%s\n",
            helo, s->peer, r->inst->hostname, s->smtputf8 ? "UTF8" : "", s->esmtp ? "ESMTP" : "SMTP",
            s->c->ssl ? "S" : "", s->authed ? "A" : "", date);
    g_free(date);
    g_free(helo);
    complete = read_data(s, fp, &size, &too_big, &bare_cr);
    if (!complete) {
        fclose(fp);
        unlink(path);
        g_free(path);
        s->quit = TRUE;
        return;
    }
    if (too_big) {
        fclose(fp);
        unlink(path);
        g_free(path);
        reset_txn(s);
        error_reply(s, "552 5.3.4 Message size exceeds fixed limit");
        return;
    }
    if (bare_cr) {
        fclose(fp);
        unlink(path);
        g_free(path);
        log_info("reject: DATA from %s: bare CR in the message text; from=<%s>", s->peer, s->sender);
        reset_txn(s);
        error_reply(s, "554 5.6.0 Message refused: bare CR in the message text (every CR must be followed by LF)");
        return;
    }
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        fclose(fp);
        unlink(path);
        g_free(path);
        reset_txn(s);
        reply(s, "451 4.3.0 Local error: cannot store the message");
        return;
    }
    for (guint i = 0; i < s->rcpts->len && first_local == G_MAXUINT; i++)
        if (((Rcpt *) s->rcpts->pdata[i])->list)
            first_local = i;
    if (first_local != G_MAXUINT) {
        Rcpt *x = s->rcpts->pdata[first_local];
        const char *text;
        char *why = NULL;
        int status, code;

        lseek(fileno(fp), 0, SEEK_SET);
        status = local_deliver(r, x->list, x->mode, s->sender, x->rcpt, fileno(fp), &why);
        code = local_status(status, &text);
        log_info("smtpd: from=<%s> to=<%s>, client=%s, deliver %s%s%s exit %d%s%s", s->sender, x->rcpt,
                 s->peer, x->mode, *x->mode ? " " : "", x->list, status, why ? ": " : "", why ? why : "");
        g_free(why);
        if (code != 250) {
            fclose(fp);
            unlink(path);
            g_free(path);
            reset_txn(s);
            reply(s, "%d %s", code, text);
            return;
        }
    }
    if (s->rcpts->len > (first_local != G_MAXUINT ? 1u : 0u)) {
        GPtrArray *rest = g_ptr_array_new(), *rest_dsn = g_ptr_array_new();
        char *qid;
        for (guint i = 0; i < s->rcpts->len; i++)
            if (i != first_local) {
                g_ptr_array_add(rest, ((Rcpt *) s->rcpts->pdata[i])->rcpt);
                g_ptr_array_add(rest_dsn, ((Rcpt *) s->rcpts->pdata[i])->dsn);
            }
        qid = queue_submit_file_dsn(r->inst, s->sender, (const char *const *) rest->pdata,
                                    (const char *const *) rest_dsn->pdata, rest->len, s->dsn_mail, path, &error);
        g_ptr_array_unref(rest);
        g_ptr_array_unref(rest_dsn);
        if (!qid) {
            log_error("smtpd: cannot queue: %s", error->message);
            g_clear_error(&error);
            fclose(fp);
            unlink(path);
            g_free(path);
            reset_txn(s);
            reply(s, "451 4.3.0 Local error: cannot queue the message");
            return;
        }
        log_info("%s: client=%s, from=<%s>, size=%" G_GINT64_FORMAT "%s%s", qid, s->peer, s->sender, size,
                 s->c->ssl ? ", tls=" : "", s->c->ssl ? netconn_tls_version(s->c) : "");
        reply(s, "250 2.0.0 Ok: queued as %s", qid);
        g_free(qid);
    } else {
        reply(s, "250 2.0.0 Ok: delivered");
    }
    fclose(fp);
    unlink(path);
    g_free(path);
    reset_txn(s);
}

/* auth_check - the password of user (LIST: the list password; ADDRESS/LIST:
 * that member's POP3 password), after the guessing guard's delay
 * (lib/authguard.c: this thread sleeps, the other sessions go on).  An
 * unknown user or one without a password costs one PBKDF2 run like a
 * known one. */
static gboolean
auth_check(Session *s, const char *user, const char *pass)
{
    Relay *r = s->r;
    const char *slash = strrchr(user, '/');
    char *hash = NULL, *account = NULL;
    gboolean ok = FALSE;
    gint64 wait;

    g_mutex_lock(&r->db_lock);
    if (slash) {
        char *addr = g_strndup(user, slash - user);
        const char *why;
        char *norm = address_normalize(addr, &why);
        gboolean is_member;
        char *id = norm ? list_resolve(r->inst, slash + 1, NULL) : NULL;   /* NAME or NAME@DOMAIN */
        if (id)
            hash = auth_login_member_hash(r->inst, id, norm, &is_member);
        g_free(id);
        account = norm ? g_strconcat(norm, slash, NULL) : g_strdup(user);
        g_free(norm);
        g_free(addr);
    } else {
        char *id = list_resolve(r->inst, user, NULL);
        if (id)
            hash = list_password_hash(r->inst, id);
        g_free(id);
        account = g_strdup(user);
    }
    wait = authguard_delay(r->inst, "smtp", s->peer, account);
    g_mutex_unlock(&r->db_lock);
    if (wait > 0)
        g_usleep((gulong) wait * 1000);
    if (hash && *hash)
        ok = password_verify(pass, hash);
    else
        password_verify_dummy(pass);
    g_mutex_lock(&r->db_lock);
    if (ok)
        authguard_succeeded(r->inst, "smtp", s->peer, account);
    else
        authguard_failed(r->inst, "smtp", s->peer, account);
    g_mutex_unlock(&r->db_lock);
    g_free(account);
    g_free(hash);
    return ok;
}

/* auth_response - send a 334 prompt, read the base64 answer and decode
 * it; NULL when the client cancels ("*") or the line is bad. */
static char *
auth_response(Session *s, const char *prompt, gsize *len)
{
    GString *line = g_string_new(NULL);
    char *out = NULL;

    reply(s, "334 %s", prompt);
    if (netconn_read_line(s->c, line, CMD_MAX) == 1 && !g_str_equal(line->str, "*")) {
        out = (char *) g_base64_decode(line->str, len);
    }
    g_string_free(line, TRUE);
    return out;
}

static void
cmd_auth(Session *s, const char *arg)
{
    char **w = g_strsplit(arg, " ", 2);
    char *user = NULL, *pass = NULL, *buf = NULL;
    gsize len = 0;

    if (!s->c->ssl) {
        error_reply(s, "538 5.7.11 Encryption required for requested authentication mechanism");
        goto out;
    }
    if (s->authed || s->sender) {
        error_reply(s, "503 5.5.1 AUTH not allowed now");
        goto out;
    }
    if (!w[0]) {
        error_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
        goto out;
    }
    if (g_ascii_strcasecmp(w[0], "PLAIN") == 0) {
        if (w[1] && !g_str_equal(w[1], "="))
            buf = (char *) g_base64_decode(w[1], &len);
        else
            buf = auth_response(s, "", &len);
        if (buf)
            (void) smtp_auth_plain_split(buf, len, &user, &pass);
    } else if (g_ascii_strcasecmp(w[0], "LOGIN") == 0) {
        char *u = w[1] ? (char *) g_base64_decode(w[1], &len) : auth_response(s, "VXNlcm5hbWU6", &len);
        if (u) {
            user = g_strndup(u, len);
            g_free(u);
            u = auth_response(s, "UGFzc3dvcmQ6", &len);
            if (u)
                pass = g_strndup(u, len);
            g_free(u);
        }
    } else {
        error_reply(s, "504 5.5.4 Unrecognized authentication type");
        goto out;
    }
    if (!user || !pass) {
        error_reply(s, "501 5.5.2 Authentication cancelled or malformed");
        goto out;
    }
    if (auth_check(s, user, pass)) {
        s->authed = TRUE;
        s->auth_user = g_strdup(user);
        log_info("smtpd: client=%s, sasl_username=%s", s->peer, user);
        reply(s, "235 2.7.0 Authentication successful");
    } else {
        log_warn("smtpd: client=%s: authentication failed for %s", s->peer, user);
        error_reply(s, "535 5.7.8 Authentication credentials invalid");
    }
out:
    if (pass)
        memset(pass, 0, strlen(pass));
    if (buf)
        memset(buf, 0, len);
    g_free(user);
    g_free(pass);
    g_free(buf);
    g_strfreev(w);
}

static void
cmd_ehlo(Session *s, const char *arg, gboolean esmtp)
{
    Relay *r = s->r;
    if (!*arg) {
        error_reply(s, "501 5.5.4 Syntax: EHLO hostname");
        return;
    }
    reset_txn(s);
    g_free(s->helo);
    s->helo = g_strdup(arg);
    s->esmtp = esmtp;
    if (!esmtp) {
        reply(s, "250 %s", r->inst->hostname);
        return;
    }
    reply(s, "250-%s", r->inst->hostname);
    reply(s, "250-PIPELINING");
    reply(s, "250-SIZE %" G_GINT64_FORMAT, r->max_size);
    reply(s, "250-8BITMIME");
    reply(s, "250-ENHANCEDSTATUSCODES");
    reply(s, "250-DSN");
    reply(s, "250-SMTPUTF8");
    if (r->server_tls && !s->c->ssl)
        reply(s, "250-STARTTLS");
    if (s->c->ssl)
        reply(s, "250-AUTH PLAIN LOGIN");
    reply(s, "250 HELP");
}

static void
session_run(Session *s)
{
    GString *line = g_string_sized_new(256);
    Relay *r = s->r;

    reply(s, "220 %s ESMTP kairan", r->inst->hostname);
    while (!s->quit) {
        int rc = netconn_read_line(s->c, line, CMD_MAX);
        char *cmd, *arg;

        if (rc == -2) {
            reply(s, "421 4.4.2 %s Error: timeout exceeded", r->inst->hostname);
            log_info("smtpd: timeout after %d s from %s", r->smtpd_timeout, s->peer);
            break;
        }
        if (rc <= 0)
            break;
        if (rc == 2) {
            while ((rc = netconn_read_line(s->c, line, CMD_MAX)) == 2)
                ;
            if (rc <= 0)
                break;
            error_reply(s, "500 5.5.2 Line too long");
        } else if (smtp_line_has_bare_cr(line->str, line->len)) {
            log_info("reject: from %s: bare CR in a command line", s->peer);
            error_reply(s, "501 5.5.2 Syntax error: bare CR in the command line (only CRLF ends a line)");
        } else {
            cmd = line->str;
            arg = strchr(cmd, ' ');
            if (arg)
                *arg++ = '\0';
            else
                arg = (char *) "";
            if (g_ascii_strcasecmp(cmd, "EHLO") == 0)
                cmd_ehlo(s, g_strstrip(arg), TRUE);
            else if (g_ascii_strcasecmp(cmd, "HELO") == 0)
                cmd_ehlo(s, g_strstrip(arg), FALSE);
            else if (g_ascii_strcasecmp(cmd, "MAIL") == 0)
                cmd_mail(s, arg);
            else if (g_ascii_strcasecmp(cmd, "RCPT") == 0)
                cmd_rcpt(s, arg);
            else if (g_ascii_strcasecmp(cmd, "DATA") == 0)
                cmd_data(s);
            else if (g_ascii_strcasecmp(cmd, "RSET") == 0) {
                reset_txn(s);
                reply(s, "250 2.0.0 Ok");
            } else if (g_ascii_strcasecmp(cmd, "NOOP") == 0)
                reply(s, "250 2.0.0 Ok");
            else if (g_ascii_strcasecmp(cmd, "QUIT") == 0) {
                reply(s, "221 2.0.0 Bye");
                s->quit = TRUE;
            } else if (g_ascii_strcasecmp(cmd, "HELP") == 0)
                reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY STARTTLS AUTH");
            else if (g_ascii_strcasecmp(cmd, "VRFY") == 0)
                reply(s, "252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery");
            else if (g_ascii_strcasecmp(cmd, "EXPN") == 0)
                error_reply(s, "502 5.5.1 EXPN not available");
            else if (g_ascii_strcasecmp(cmd, "STARTTLS") == 0) {
                if (!r->server_tls || s->c->ssl)
                    error_reply(s, "454 4.7.0 TLS not available");
                else {
                    reply(s, "220 2.0.0 Ready to start TLS");
                    if (!netconn_tls_accept(s->c, r->server_tls))
                        break;
                    reset_txn(s);
                    g_clear_pointer(&s->helo, g_free);
                }
            } else if (g_ascii_strcasecmp(cmd, "AUTH") == 0)
                cmd_auth(s, arg);
            else
                error_reply(s, "500 5.5.2 Command unrecognized");
        }
        if (s->errors >= r->smtpd_max_errors) {
            reply(s, "421 4.7.0 %s Too many errors, closing connection", r->inst->hostname);
            break;
        }
    }
    netconn_flush(s->c);
    g_string_free(line, TRUE);
}

static gpointer
session_thread(gpointer data)
{
    Session *s = data;
    int *count;

    session_run(s);
    netconn_free(s->c);
    g_mutex_lock(&conn_lock);
    conn_total--;
    count = g_hash_table_lookup(conn_per_client, s->peer);
    if (count && --*count == 0)
        g_hash_table_remove(conn_per_client, s->peer);
    g_mutex_unlock(&conn_lock);
    reset_txn(s);
    g_ptr_array_unref(s->rcpts);
    g_free(s->peer);
    g_free(s->helo);
    g_free(s->auth_user);
    g_free(s);
    return NULL;
}

typedef struct {
    Relay *r;
    int fd;
} Listener;

static gpointer
listen_thread(gpointer data)
{
    Listener *l = data;
    Relay *r = l->r;

    for (;;) {
        struct sockaddr_storage sa;
        socklen_t salen = sizeof(sa);
        char host[NI_MAXHOST];
        int fd = accept4(l->fd, (struct sockaddr *) &sa, &salen, SOCK_CLOEXEC);
        int *count;
        gboolean over;

        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED)
                g_usleep(10000);
            continue;
        }
        if (getnameinfo((struct sockaddr *) &sa, salen, host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
            g_strlcpy(host, "unknown", sizeof(host));
        if (g_str_has_prefix(host, "::ffff:"))
            memmove(host, host + 7, strlen(host + 7) + 1);
        g_mutex_lock(&conn_lock);
        count = g_hash_table_lookup(conn_per_client, host);
        over = conn_total >= r->smtpd_max_conn || (count && *count >= r->smtpd_max_per_client);
        if (!over) {
            conn_total++;
            if (!count) {
                count = g_new0(int, 1);
                g_hash_table_insert(conn_per_client, g_strdup(host), count);
            }
            (*count)++;
        }
        g_mutex_unlock(&conn_lock);
        if (over) {
            static const char busy[] = "421 4.7.0 Too many connections, try again later\r\n";
            ssize_t n = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
            (void) n;
            log_warn("smtpd: connection limit reached, refused %s", host);
            close(fd);
            continue;
        }
        Session *s = g_new0(Session, 1);
        s->r = r;
        s->c = netconn_new(fd, r->smtpd_timeout * 1000);
        s->peer = g_strdup(host);
        s->relay_ok = relay_client_allowed(r, host);
        s->rcpts = g_ptr_array_new_with_free_func(rcpt_free);
        g_thread_unref(g_thread_new("smtpd", session_thread, s));
    }
    return NULL;
}

gboolean
split_hostport(const char *s, char **host, int *port, int dflt)
{
    const char *colon;
    *port = dflt;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end)
            return FALSE;
        *host = g_strndup(s + 1, end - s - 1);
        colon = end[1] == ':' ? end + 1 : NULL;
    } else {
        colon = strrchr(s, ':');
        if (colon && strchr(s, ':') != colon)
            colon = NULL;                   /* a bare IPv6 address */
        *host = colon ? g_strndup(s, colon - s) : g_strdup(s);
    }
    if (colon) {
        *port = (int) g_ascii_strtoll(colon + 1, NULL, 10);
        if (*port <= 0 || *port > 65535) {
            g_free(*host);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
smtp_server_start(Relay *r, const char *listen_on, GError **error)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char *host, portstr[16];
    int port, fd = -1, one = 1;

    if (!split_hostport(listen_on, &host, &port, 25)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG, "bad listen address %s", listen_on);
        return FALSE;
    }
    g_snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(*host ? host : NULL, portstr, &hints, &res) != 0 || !res) {
        g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG, "cannot resolve listen address %s", listen_on);
        g_free(host);
        return FALSE;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "cannot listen on %s: %s", listen_on, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        g_free(host);
        return FALSE;
    }
    freeaddrinfo(res);
    g_free(host);
    conn_per_client = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    Listener *l = g_new0(Listener, 1);
    l->r = r;
    l->fd = fd;
    g_thread_unref(g_thread_new("listen", listen_thread, l));
    return TRUE;
}
