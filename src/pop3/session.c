/* session.c - the POP3 state machine of one client (RFC 1939 section 3):
 * AUTHORIZATION (CAPA, STLS, USER/PASS, APOP, AUTH PLAIN, QUIT), then
 * TRANSACTION (STAT, LIST, RETR, DELE, NOOP, RSET, TOP, UIDL, CAPA,
 * QUIT), then UPDATE at QUIT.
 *
 * Every answer that refuses a login is "-ERR [AUTH] ..." with the same
 * text whatever the reason, sent after the configured delay.  Before a
 * password is checked the session waits what the guessing guard asks
 * (lib/authguard.c: failures per client address and per account, shared
 * with the relay and the web); only this session's thread sleeps.  Plaintext
 * logins (USER/PASS, AUTH PLAIN) are only accepted where the policy
 * allows (pop3_plaintext_auth); elsewhere CAPA does not offer them. */
#include "config.h"
#include "pop3.h"
#include "auth_login.h"
#include "authguard.h"
#include "lists.h"
#include "log.h"
#include "util.h"
#include "popbeforesmtp.h"

#include <string.h>
#include <unistd.h>

typedef enum { STATE_AUTHORIZATION, STATE_TRANSACTION, STATE_DONE } State;

typedef struct {
    const Pop3Config *cfg;
    Pop3Conn *c;
    Instance *inst;
    State state;
    char *user;             /* from USER, waiting for PASS */
    char *banner;           /* APOP timestamp, NULL when APOP is off */
    Pop3Login login;
    Pop3Mailbox *mb;
    guint retrieved, deleted;
} Session;

#define AUTH_FAILED "-ERR [AUTH] Authentication failed"
#define NOT_NOW "-ERR command not valid in this state"
#define NO_SUCH "-ERR no such message"

static gboolean
plaintext_allowed(const Session *s)
{
    switch (s->cfg->plaintext) {
    case POP3_PLAIN_ANY:
        return TRUE;
    case POP3_PLAIN_TLS:
        return s->c->net->ssl != NULL;
    case POP3_PLAIN_LOOPBACK:
    default:
        return s->c->net->ssl != NULL || s->c->loopback;
    }
}

static void
send_capa(Session *s)
{
    Pop3Conn *c = s->c;
    pop3_conn_printf(c, "+OK Capability list follows");
    pop3_conn_printf(c, "TOP");
    pop3_conn_printf(c, "UIDL");
    if (s->state == STATE_AUTHORIZATION && plaintext_allowed(s)) {
        pop3_conn_printf(c, "USER");
        pop3_conn_printf(c, "SASL PLAIN");
    }
    pop3_conn_printf(c, "RESP-CODES");
    pop3_conn_printf(c, "AUTH-RESP-CODE");
    pop3_conn_printf(c, "PIPELINING");
    pop3_conn_printf(c, "EXPIRE NEVER");
    if (s->state == STATE_AUTHORIZATION && s->cfg->tls && !c->net->ssl)
        pop3_conn_printf(c, "STLS");
    pop3_conn_printf(c, "IMPLEMENTATION kairan-%s", PACKAGE_VERSION);
    pop3_conn_printf(c, ".");
}

/* guard_account - the account a user name names for the guard. */
static char *
guard_account(const char *who)
{
    return auth_login_account(who);
}

/* guard_wait - before checking a login of who: send what is pending,
 * then wait the guard's delay. */
static void
guard_wait(Session *s, const char *who)
{
    char *account = guard_account(who);

    if (pop3_conn_flush(s->c))
        (void) authguard_wait(s->inst, "pop3", s->c->peer, account);
    g_free(account);
}

/* login_done - after a checked login: open the mailbox or refuse.  who
 * is the user name tried (for the log and the guard; may be s->user). */
static void
login_done(Session *s, gboolean ok, const char *how, const char *who)
{
    GError *error = NULL;
    char *pending = s->user;    /* USER is used up by any attempt */
    char *account = guard_account(who);

    s->user = NULL;
    if (ok && !s->login.anonymous)      /* anonymous/LIST proves nothing */
        authguard_succeeded(s->inst, "pop3", s->c->peer, account);
    else
        authguard_failed(s->inst, "pop3", s->c->peer, account);
    g_free(account);
    if (!ok) {
        /* the log gets the user name (for fail2ban and the like), never the password */
        log_info("pop3: %s login failed for %s from %s", how, who ? who : "(none)", s->c->peer);
        g_free(pending);
        if (!pop3_conn_flush(s->c))
            return;
        if (s->cfg->fail_delay > 0)
            g_usleep((gulong) (s->cfg->fail_delay * G_USEC_PER_SEC));
        pop3_conn_printf(s->c, AUTH_FAILED);
        return;
    }
    g_free(pending);
    s->mb = pop3_mailbox_open(s->inst, &s->login, &error);
    if (!s->mb) {
        log_warn("pop3: cannot open the archive of %s: %s", s->login.list, error->message);
        g_clear_error(&error);
        pop3_login_clear(&s->login);
        pop3_conn_printf(s->c, "-ERR [SYS/TEMP] archive temporarily unavailable, try later");
        return;
    }
    s->state = STATE_TRANSACTION;
    if (!s->login.anonymous)
        popbeforesmtp_record_login(s->inst, s->c->peer, s->login.list, s->login.address);
    log_info("pop3: %s/%s logged in (%s) from %s%s, %u messages", s->login.address,
             s->login.list, how, s->c->peer, s->c->net->ssl ? " over TLS" : "", s->mb->count);
    pop3_conn_printf(s->c, "+OK %s has %u messages (%" G_GINT64_FORMAT " octets)",
                     s->login.list, s->mb->count, s->mb->total);
}

static void
refuse_plaintext(Session *s)
{
    pop3_conn_printf(s->c, "-ERR [AUTH] Plaintext authentication is not allowed without TLS (use STLS)");
}

static void
do_pass(Session *s, const char *password)
{
    if (!s->user) {
        pop3_conn_printf(s->c, "-ERR give USER first");
        return;
    }
    guard_wait(s, s->user);
    login_done(s, pop3_auth_password(s->inst, s->user, password, &s->login), "USER/PASS", s->user);
}

/* sasl_plain - decode "authzid NUL authcid NUL passwd" (RFC 4616) and
 * log in (pop3_sasl_plain_parse in command.c does the decoding). */
static void
sasl_plain(Session *s, const char *b64)
{
    gsize len = 0;
    guchar *raw = NULL;
    const char *authcid = NULL, *passwd = NULL;
    int rc = pop3_sasl_plain_parse(b64, &raw, &len, &authcid, &passwd);
    gboolean well_formed = rc == 0;

    if (rc == 1) {
        pop3_conn_printf(s->c, "-ERR invalid base64 in AUTH PLAIN");
        return;
    }
    if (!well_formed) {
        pop3_conn_printf(s->c, "-ERR malformed AUTH PLAIN response");
    } else {
        gboolean ok;
        guard_wait(s, authcid);
        ok = pop3_auth_password(s->inst, authcid, passwd, &s->login);
        login_done(s, ok, "AUTH PLAIN", authcid);
    }
    memset(raw, 0, len);
    g_free(raw);
}

static void
do_auth(Session *s, const Pop3Command *cmd)
{
    GString *line;

    if (cmd->argc == 0) {
        pop3_conn_printf(s->c, "+OK supported SASL mechanisms follow");
        if (plaintext_allowed(s))
            pop3_conn_printf(s->c, "PLAIN");
        pop3_conn_printf(s->c, ".");
        return;
    }
    if (g_ascii_strcasecmp(cmd->argv[0], "PLAIN") != 0) {
        pop3_conn_printf(s->c, "-ERR unsupported SASL mechanism");
        return;
    }
    if (!plaintext_allowed(s)) {
        refuse_plaintext(s);
        return;
    }
    if (cmd->argc == 2) {
        sasl_plain(s, g_str_equal(cmd->argv[1], "=") ? "" : cmd->argv[1]);
        return;
    }
    pop3_conn_printf(s->c, "+ ");
    line = g_string_new(NULL);
    switch (pop3_conn_read_line(s->c, line, POP3_MAX_SASL_LINE)) {
    case POP3_READ_EOF:
    case POP3_READ_TIMEOUT:
        s->state = STATE_DONE;
        break;
    case POP3_READ_TOOLONG:
        pop3_conn_printf(s->c, "-ERR line too long");
        break;
    case POP3_READ_OK:
        if (g_str_equal(line->str, "*"))
            pop3_conn_printf(s->c, "-ERR authentication cancelled");
        else
            sasl_plain(s, line->str);
        break;
    }
    memset(line->str, 0, line->len);
    g_string_free(line, TRUE);
}

static void
authorization(Session *s, const Pop3Command *cmd)
{
    Pop3Conn *c = s->c;

    switch (cmd->id) {
    case POP3_CMD_CAPA:
        send_capa(s);
        break;
    case POP3_CMD_QUIT:
        pop3_conn_printf(c, "+OK kairan POP3 server signing off");
        s->state = STATE_DONE;
        break;
    case POP3_CMD_STLS:
        if (!s->cfg->tls)
            pop3_conn_printf(c, "-ERR STLS is not available here");
        else if (c->net->ssl)
            pop3_conn_printf(c, "-ERR TLS is already active");
        else {
            pop3_conn_printf(c, "+OK Begin TLS negotiation");
            g_free(s->user);
            s->user = NULL;
            if (!pop3_conn_start_tls(c, s->cfg->tls)) {
                log_info("pop3: TLS handshake with %s failed", c->peer);
                s->state = STATE_DONE;
            }
        }
        break;
    case POP3_CMD_USER:
        if (!plaintext_allowed(s)) {
            refuse_plaintext(s);
            break;
        }
        g_free(s->user);
        s->user = g_strdup(cmd->argv[0]);
        pop3_conn_printf(c, "+OK send PASS");
        break;
    case POP3_CMD_PASS:
        if (!plaintext_allowed(s))
            refuse_plaintext(s);
        else
            do_pass(s, cmd->argv[0]);
        break;
    case POP3_CMD_APOP:
        if (!s->banner) {
            pop3_conn_printf(c, "-ERR APOP is not available here");
            break;
        }
        guard_wait(s, cmd->argv[0]);
        login_done(s, pop3_auth_apop(s->inst, cmd->argv[0], s->banner, cmd->argv[1], &s->login),
                   "APOP", cmd->argv[0]);
        break;
    case POP3_CMD_AUTH:
        do_auth(s, cmd);
        break;
    default:
        pop3_conn_printf(c, NOT_NOW);
        break;
    }
}

/* message_arg - the message number of argument i if it names a message. */
static guint64
message_arg(Session *s, const Pop3Command *cmd, int i)
{
    guint64 k = pop3_parse_msgnum(cmd->argv[i]);
    if (k >= 1 && k <= s->mb->nums->len && s->mb->deleted[k - 1]) {
        pop3_conn_printf(s->c, "-ERR message %" G_GUINT64_FORMAT " already deleted", k);
        return 0;
    }
    if (!pop3_mailbox_valid(s->mb, k)) {
        pop3_conn_printf(s->c, NO_SUCH);
        return 0;
    }
    return k;
}

static void
send_message(Session *s, guint64 k, gint64 lines)
{
    gboolean gone = FALSE;
    if (!pop3_mailbox_send(s->mb, k, lines, s->c, &gone))
        pop3_conn_printf(s->c, "-ERR [SYS/TEMP] message cannot be read now");
    else if (gone)
        s->state = STATE_DONE;
    else if (lines < 0)
        s->retrieved++;
}

static void
listing(Session *s, const Pop3Command *cmd, gboolean uidl)
{
    Pop3Mailbox *mb = s->mb;
    guint64 k;

    if (cmd->argc == 1) {
        if (!(k = message_arg(s, cmd, 0)))
            return;
        if (uidl)
            pop3_conn_printf(s->c, "+OK %" G_GUINT64_FORMAT " %s.%" G_GINT64_FORMAT, k, mb->list,
                             g_array_index(mb->nums, gint64, k - 1));
        else
            pop3_conn_printf(s->c, "+OK %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT, k,
                             g_array_index(mb->sizes, gint64, k - 1));
        return;
    }
    if (uidl)
        pop3_conn_printf(s->c, "+OK unique-id listing follows");
    else
        pop3_conn_printf(s->c, "+OK %u messages (%" G_GINT64_FORMAT " octets)", mb->count, mb->total);
    for (guint i = 0; i < mb->nums->len; i++) {
        if (mb->deleted[i])
            continue;
        if (uidl)
            g_string_append_printf(s->c->net->wbuf, "%u %s.%" G_GINT64_FORMAT "\r\n", i + 1, mb->list,
                                   g_array_index(mb->nums, gint64, i));
        else
            g_string_append_printf(s->c->net->wbuf, "%u %" G_GINT64_FORMAT "\r\n", i + 1,
                                   g_array_index(mb->sizes, gint64, i));
        if (!pop3_conn_maybe_flush(s->c)) {
            s->state = STATE_DONE;
            return;
        }
    }
    pop3_conn_printf(s->c, ".");
}

static void
update(Session *s)
{
    GError *error = NULL;
    guint marked = (guint) s->mb->nums->len - s->mb->count;

    if (!pop3_mailbox_commit(s->inst, s->mb, &error)) {
        log_warn("pop3: %s/%s: deletions not recorded: %s", s->login.address, s->login.list,
                 error->message);
        g_clear_error(&error);
        pop3_conn_printf(s->c, "-ERR [SYS/TEMP] some deleted messages not removed");
    } else {
        s->deleted = marked;
        pop3_conn_printf(s->c, "+OK kairan POP3 server signing off (%u messages left)", s->mb->count);
    }
    log_info("pop3: %s/%s logged out from %s, retrieved %u, deleted %u", s->login.address,
             s->login.list, s->c->peer, s->retrieved, s->deleted);
    s->state = STATE_DONE;
}

static void
transaction(Session *s, const Pop3Command *cmd)
{
    Pop3Conn *c = s->c;
    guint64 k;

    switch (cmd->id) {
    case POP3_CMD_CAPA:
        send_capa(s);
        break;
    case POP3_CMD_STAT:
        pop3_conn_printf(c, "+OK %u %" G_GINT64_FORMAT, s->mb->count, s->mb->total);
        break;
    case POP3_CMD_LIST:
        listing(s, cmd, FALSE);
        break;
    case POP3_CMD_UIDL:
        listing(s, cmd, TRUE);
        break;
    case POP3_CMD_RETR:
        if ((k = message_arg(s, cmd, 0)))
            send_message(s, k, -1);
        break;
    case POP3_CMD_TOP:
        if ((k = message_arg(s, cmd, 0)))
            send_message(s, k, (gint64) pop3_parse_msgnum(cmd->argv[1]));
        break;
    case POP3_CMD_DELE:
        if ((k = message_arg(s, cmd, 0))) {
            pop3_mailbox_delete(s->mb, k);
            pop3_conn_printf(c, "+OK message %" G_GUINT64_FORMAT " deleted", k);
        }
        break;
    case POP3_CMD_RSET:
        pop3_mailbox_reset(s->mb);
        pop3_conn_printf(c, "+OK %u messages (%" G_GINT64_FORMAT " octets)", s->mb->count, s->mb->total);
        break;
    case POP3_CMD_NOOP:
        pop3_conn_printf(c, "+OK");
        break;
    case POP3_CMD_QUIT:
        update(s);
        break;
    default:
        pop3_conn_printf(c, NOT_NOW);
        break;
    }
}

void
pop3_session_run(const Pop3Config *cfg, Pop3Conn *c)
{
    Session s = { .cfg = cfg, .c = c, .state = STATE_AUTHORIZATION };
    GError *error = NULL;
    GString *line = g_string_sized_new(POP3_MAX_COMMAND + 1);

    s.inst = instance_open(cfg->home, &error);
    if (!s.inst) {
        log_warn("pop3: cannot open the instance: %s", error->message);
        g_clear_error(&error);
        pop3_conn_printf(c, "-ERR [SYS/TEMP] service temporarily unavailable");
        pop3_conn_flush(c);
        g_string_free(line, TRUE);
        return;
    }
    if (pop3_apop_enabled(s.inst)) {
        char *rnd = random_hex(8);
        s.banner = g_strdup_printf("<%ld.%" G_GINT64_FORMAT ".%s@%s>", (long) getpid(),
                                   now_seconds(), rnd, cfg->hostname);
        g_free(rnd);
    }
    if (s.banner)
        pop3_conn_printf(c, "+OK kairan POP3 server ready %s", s.banner);
    else
        pop3_conn_printf(c, "+OK kairan POP3 server ready");

    while (s.state != STATE_DONE) {
        Pop3Command cmd;
        /* RFC 2449: 255 octets including CRLF */
        Pop3ReadStatus st = pop3_conn_read_line(c, line, POP3_MAX_COMMAND - 2);

        if (st == POP3_READ_EOF)
            break;
        if (st == POP3_READ_TIMEOUT) {
            /* RFC 1939 section 3: close without entering UPDATE */
            log_info("pop3: %s idle for too long, disconnected", c->peer);
            pop3_conn_printf(c, "-ERR [SYS/TEMP] disconnected for inactivity");
            break;
        }
        if (st == POP3_READ_TOOLONG) {
            pop3_conn_printf(c, "-ERR line too long");
            continue;
        }
        if (!pop3_parse_command(line->str, &cmd)) {
            pop3_conn_printf(c, "-ERR %s", cmd.error);
        } else if (s.state == STATE_AUTHORIZATION) {
            authorization(&s, &cmd);
        } else {
            transaction(&s, &cmd);
        }
        if (cmd.id == POP3_CMD_PASS && cmd.argv[0])
            memset(cmd.argv[0], 0, strlen(cmd.argv[0]));
        pop3_command_clear(&cmd);
        memset(line->str, 0, line->len);
        if (c->net->failed)
            break;
    }
    pop3_conn_flush(c);
    if (s.state != STATE_DONE && s.mb)
        log_info("pop3: %s/%s from %s went away without QUIT (no deletions applied)",
                 s.login.address, s.login.list, c->peer);
    pop3_mailbox_free(s.mb);
    pop3_login_clear(&s.login);
    g_free(s.user);
    g_free(s.banner);
    instance_free(s.inst);
    g_string_free(line, TRUE);
}
