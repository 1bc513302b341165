/* session.c - the IMAP state machine of one client (RFC 3501 section 3,
 * RFC 9051): not authenticated (STARTTLS, LOGIN, AUTHENTICATE PLAIN),
 * authenticated (SELECT, EXAMINE, LIST, LSUB, STATUS, NAMESPACE,
 * ENABLE), selected (FETCH, STORE, SEARCH, SORT, THREAD, EXPUNGE, UID
 * ..., CLOSE, UNSELECT, IDLE), and in every state CAPABILITY, NOOP, ID,
 * LOGOUT.  The one mailbox is INBOX, the list's archive; it cannot be
 * written: APPEND, CREATE, DELETE, RENAME, COPY and MOVE answer NO.
 *
 * Commands are read whole (lines and literals) before they are parsed:
 * a line is at most IMAP_MAX_LINE octets, a literal IMAP_MAX_LITERAL; a
 * larger synchronising literal is refused before its data is asked for,
 * a larger non-synchronising one (LITERAL+) ends the session, as the
 * data that follows could not be told apart from commands.  Every parse
 * error is answered BAD.  A failed login waits imap_login_delay before
 * its NO; after three in one connection the connection is closed.
 *
 * The archive changes under a session: new posts (EXISTS), posts that
 * leave it (archive_expire, the member's EXPUNGE in another session or
 * DELE in POP3) and the list itself (kairan rmlist).  mailbox_sync looks
 * when SQLite's data_version says another connection wrote kairan.db:
 * at the start of every command, after it, and four times a second in
 * IDLE.  Posts that left are announced with * N EXPUNGE (highest first)
 * where RFC 3501 7.4.1 allows it: not during FETCH, STORE, SEARCH, SORT
 * or THREAD (their UID forms are fine); until then they keep their
 * numbers, are skipped by those commands and make FETCH and STORE answer
 * NO [EXPUNGEISSUED] (RFC 5530).  A removed list ends the session with
 * * BYE. */
#include "config.h"
#include "imap.h"
#include "archive.h"
#include "auth_login.h"
#include "authguard.h"
#include "popbeforesmtp.h"
#include "db.h"
#include "log.h"
#include "netlisten.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef enum { STATE_NOAUTH, STATE_AUTH, STATE_SELECTED, STATE_LOGOUT } State;

typedef struct {
    const ImapConfig *cfg;
    NetConn *net;
    char *peer;
    gboolean loopback;
    Instance *inst;
    State state;
    AuthLogin login;
    int failures;
    ImapMailbox *mb;
    gint64 list_stamp;      /* lists.created + 1 at login; 0: the list is gone */
    gint64 data_version;    /* PRAGMA data_version at the last mailbox_sync */
    gint64 next_look;       /* IDLE: monotonic time of the next look for posts that left */
} Session;

#define MAX_LOGIN_FAILURES 3

static const char *
caps(const Session *s, GString *out)
{
    g_string_assign(out, "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS"
                         " CHILDREN ESEARCH SORT THREAD=REFERENCES BINARY");
    if (s->state == STATE_NOAUTH) {
        gboolean plain = s->cfg->plaintext == IMAP_PLAIN_ANY || s->net->ssl ||
                         (s->cfg->plaintext == IMAP_PLAIN_LOOPBACK && s->loopback);
        if (s->cfg->tls && !s->net->ssl)
            g_string_append(out, " STARTTLS");
        g_string_append(out, plain ? " AUTH=PLAIN" : " LOGINDISABLED");
    }
    return out->str;
}

static gboolean
plaintext_allowed(const Session *s)
{
    switch (s->cfg->plaintext) {
    case IMAP_PLAIN_ANY:
        return TRUE;
    case IMAP_PLAIN_TLS:
        return s->net->ssl != NULL;
    case IMAP_PLAIN_LOOPBACK:
    default:
        return s->net->ssl != NULL || s->loopback;
    }
}

static void
reply(Session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void
reply(Session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    netconn_vprintf(s->net, fmt, ap);
    va_end(ap);
    netconn_write(s->net, "\r\n", 2);
}


/* ---- reading a command --------------------------------------------- */

enum { READ_OK, READ_AGAIN, READ_END };

/* first_word - the tag of a partly read command, for a BAD answer. */
static char *
first_word(const GString *buf)
{
    gsize n = 0;
    while (n < buf->len && n < 64 && buf->str[n] != ' ' && (unsigned char) buf->str[n] > 0x20 &&
           (unsigned char) buf->str[n] < 0x7f)
        n++;
    return n ? g_strndup(buf->str, n) : g_strdup("*");
}

static int
read_command(Session *s, GString *buf)
{
    GString *line = g_string_new(NULL);
    int result = READ_END;

    g_string_truncate(buf, 0);
    for (;;) {
        int rc = netconn_read_line(s->net, line, IMAP_MAX_LINE + 1);
        gboolean nonsync;
        gint64 n;

        if (rc == NETCONN_PARTIAL) {
            while ((rc = netconn_read_line(s->net, line, IMAP_MAX_LINE + 1)) == NETCONN_PARTIAL)
                ;
            if (rc != NETCONN_LINE)
                break;
            n = imap_line_literal(line->str, line->len, &nonsync);
            if (n >= 0 && nonsync) {
                reply(s, "* BYE command line too long");
                break;
            }
            reply(s, "* BAD command line too long");
            result = READ_AGAIN;
            break;
        }
        if (rc == NETCONN_TIMEOUT) {
            reply(s, "* BYE idle for too long");
            netconn_flush(s->net);
            break;
        }
        if (rc != NETCONN_LINE)
            break;
        g_string_append_len(buf, line->str, (gssize) line->len);
        n = imap_line_literal(line->str, line->len, &nonsync);
        if (n == -1) {
            result = buf->len > IMAP_MAX_COMMAND ? READ_AGAIN : READ_OK;
            if (result == READ_AGAIN) {
                char *tag = first_word(buf);
                reply(s, "%s BAD command too long", tag);
                g_free(tag);
            }
            break;
        }
        if (n < 0 || n > IMAP_MAX_LITERAL || buf->len + (gsize) n > IMAP_MAX_COMMAND) {
            char *tag = first_word(buf);
            if (nonsync) {
                reply(s, "* BYE [TOOBIG] literal too large (at most %d octets)", IMAP_MAX_LITERAL);
            } else {
                reply(s, "%s BAD [TOOBIG] literal too large (at most %d octets)", tag, IMAP_MAX_LITERAL);
                result = READ_AGAIN;
            }
            g_free(tag);
            break;
        }
        if (!nonsync) {
            reply(s, "+ Ready for literal data");
            if (!netconn_flush(s->net))
                break;
        }
        g_string_append(buf, "\r\n");
        if (netconn_read_bytes(s->net, buf, (size_t) n) != NETCONN_LINE)
            break;
    }
    g_string_free(line, TRUE);
    return result;
}

/* ---- the mailbox ---------------------------------------------------- */

static void
mailbox_free(ImapMailbox *mb)
{
    if (!mb)
        return;
    g_free(mb->list);
    g_free(mb->address);
    if (mb->uids)
        g_array_free(mb->uids, TRUE);
    if (mb->flags)
        g_hash_table_destroy(mb->flags);
    if (mb->sizes)
        g_hash_table_destroy(mb->sizes);
    if (mb->gone)
        g_hash_table_destroy(mb->gone);
    g_free(mb);
}

gboolean
imap_mailbox_gone(const ImapMailbox *mb, gint64 num)
{
    return mb->gone && g_hash_table_contains(mb->gone, &num);
}

void
imap_mailbox_set_gone(ImapMailbox *mb, gint64 num)
{
    gint64 *k = g_new(gint64, 1);
    *k = num;
    g_hash_table_add(mb->gone, k);
}

/* data_version - changes whenever another connection (kairan maintain,
 * rmlist, deliver, another session) committed to kairan.db. */
static gint64
data_version(Session *s)
{
    return db_int64(s->inst->db, "PRAGMA data_version", NULL);
}

/* list_stamp - lists.created + 1, 0 when the list is not there (a list
 * removed and made again has another stamp), -1 when kairan.db cannot
 * be read now (not a reason to end a session). */
static gint64
list_stamp(Session *s)
{
    sqlite3_stmt *st = db_prepare(s->inst->db, "SELECT COALESCE(created, 0) + 1 FROM lists WHERE name = ?1");
    gint64 stamp = -1;
    int rc;

    sqlite3_bind_text(st, 1, s->login.list, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        stamp = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        stamp = 0;
    sqlite3_finalize(st);
    return stamp;
}

static gint64
list_seq(Session *s)
{
    return db_int64(s->inst->db, "SELECT seq FROM lists WHERE name = ?1", s->login.list);
}

static ImapMailbox *
mailbox_open(Session *s, gboolean read_only, GError **error)
{
    ImapMailbox *mb = g_new0(ImapMailbox, 1);
    const char *who = s->login.anonymous ? "" : s->login.address;

    mb->list = g_strdup(s->login.list);
    mb->address = g_strdup(who);
    mb->read_only = read_only || s->login.anonymous;
    mb->uids = archive_numbers_visible(s->inst, mb->list, who, error);
    mb->flags = s->login.anonymous ? g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free)
                                   : imap_flags_load(s->inst, mb->list, who, error);
    mb->sizes = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    mb->gone = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    mb->uidvalidity = db_int64(s->inst->db, "SELECT created FROM lists WHERE name = ?1", mb->list);
    if (mb->uidvalidity <= 0)
        mb->uidvalidity = 1;
    mb->uidnext = list_seq(s) + 1;
    if (!mb->uids || !mb->flags) {
        mailbox_free(mb);
        return NULL;
    }
    return mb;
}

typedef enum {
    SYNC_LIST,      /* only whether the list is still there (SELECT, CLOSE, LOGOUT...) */
    SYNC_KEEP,      /* new posts, and mark the ones that left (FETCH, STORE, SEARCH) */
    SYNC_ALL,       /* and announce those with EXPUNGE */
    SYNC_IDLE       /* the same, looking for posts that left at most once a second */
} SyncMode;

/* shape - what changes whenever the posts a member sees change: posts
 * only leave (expiry: count down) or come with higher numbers (max up),
 * hidden rows only come (EXPUNGE, DELE: count up) or go with their posts.
 * A few index lookups instead of reading every number (kairan.db changes
 * for many other reasons).  FALSE if kairan.db cannot be read now. */
static gboolean
shape(Session *s, gint64 out[5])
{
    sqlite3_stmt *st = db_prepare(s->inst->db,
        "SELECT (SELECT count(*) FROM archive WHERE list = ?1), (SELECT min(num) FROM archive WHERE list = ?1),"
        " (SELECT max(num) FROM archive WHERE list = ?1),"
        " (SELECT count(*) FROM pop_hidden WHERE list = ?1 AND address = ?2),"
        " (SELECT max(num) FROM pop_hidden WHERE list = ?1 AND address = ?2)");
    gboolean ok;

    sqlite3_bind_text(st, 1, s->mb->list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->mb->address, -1, SQLITE_STATIC);
    ok = sqlite3_step(st) == SQLITE_ROW;
    for (int i = 0; ok && i < 5; i++)
        out[i] = sqlite3_column_int64(st, i);
    sqlite3_finalize(st);
    return ok;
}

/* refresh - compare the session's messages with the archive: posts no
 * longer visible are marked gone, posts above the last one are appended;
 * how many were appended. */
static guint
refresh(Session *s)
{
    ImapMailbox *mb = s->mb;
    GArray *now;
    GHashTable *there;
    gint64 last, sh[5];
    guint before = mb->uids->len;

    if (!shape(s, sh)) {
        s->data_version = 0;            /* look again next time */
        return 0;
    }
    if (memcmp(sh, mb->shape, sizeof sh) == 0)
        return 0;
    now = archive_numbers_visible(s->inst, mb->list, mb->address, NULL);
    if (!now) {
        s->data_version = 0;            /* look again next time */
        return 0;
    }
    there = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < now->len; i++)
        g_hash_table_add(there, &g_array_index(now, gint64, i));
    for (guint k = 0; k < mb->uids->len; k++) {
        gint64 num = g_array_index(mb->uids, gint64, k);
        if (!g_hash_table_contains(there, &num) && !imap_mailbox_gone(mb, num))
            imap_mailbox_set_gone(mb, num);
    }
    last = mb->uids->len ? g_array_index(mb->uids, gint64, mb->uids->len - 1) : 0;
    for (guint i = 0; i < now->len; i++)
        if (g_array_index(now, gint64, i) > last)
            g_array_append_val(mb->uids, g_array_index(now, gint64, i));
    g_hash_table_destroy(there);
    g_array_free(now, TRUE);
    memcpy(mb->shape, sh, sizeof sh);
    mb->uidnext = MAX(mb->uidnext, list_seq(s) + 1);
    return mb->uids->len - before;
}

/* announce_gone - * N EXPUNGE for every gone message, highest number
 * first so that each number is still the client's; then renumbered. */
static void
announce_gone(Session *s)
{
    ImapMailbox *mb = s->mb;

    if (g_hash_table_size(mb->gone) == 0)
        return;
    for (guint k = mb->uids->len; k >= 1; k--) {
        gint64 num = g_array_index(mb->uids, gint64, k - 1);
        if (!imap_mailbox_gone(mb, num))
            continue;
        g_hash_table_remove(mb->flags, &num);
        g_hash_table_remove(mb->sizes, &num);
        g_array_remove_index(mb->uids, k - 1);
        reply(s, "* %u EXPUNGE", k);
    }
    g_hash_table_remove_all(mb->gone);
}

/* mailbox_sync - what changed since the last look (see the top of the
 * file); FALSE when the list was removed: * BYE sent, the session ends. */
static gboolean
mailbox_sync(Session *s, SyncMode mode)
{
    gint64 version = data_version(s);
    guint added = 0;

    if (version != s->data_version) {
        gint64 stamp = list_stamp(s), now = g_get_monotonic_time();
        s->data_version = stamp < 0 ? 0 : version;
        if (s->list_stamp < 0)
            s->list_stamp = stamp;          /* unreadable at login */
        if (stamp >= 0 && stamp != s->list_stamp) {
            log_info("imap: %s/%s: the list was removed, session ended", s->login.address, s->login.list);
            reply(s, "* BYE the list %s was removed", s->login.list);
            s->state = STATE_LOGOUT;
            return FALSE;
        }
        if (s->mb && mode == SYNC_IDLE && now < s->next_look && list_seq(s) < s->mb->uidnext)
            s->data_version = 0;        /* no new post: the rest at the next look */
        else if (s->mb && mode != SYNC_LIST) {
            added = refresh(s);
            s->next_look = now + G_USEC_PER_SEC;
        } else if (s->mb)
            s->data_version = 0;        /* not looked at: look next time */
    }
    if (!s->mb || mode == SYNC_LIST)
        return TRUE;
    if (mode == SYNC_ALL || mode == SYNC_IDLE)
        announce_gone(s);
    if (added)
        reply(s, "* %u EXISTS", s->mb->uids->len);
    return TRUE;
}

static guint
count_unseen(const ImapMailbox *mb, guint *first)
{
    guint n = 0;
    *first = 0;
    for (guint k = 1; k <= mb->uids->len; k++) {
        gint64 num = g_array_index(mb->uids, gint64, k - 1);
        if (!imap_flags_has(g_hash_table_lookup(mb->flags, &num), "\\Seen")) {
            if (!*first)
                *first = k;
            n++;
        }
    }
    return n;
}

static gboolean
is_inbox(const ImapArg *a)
{
    const char *name = imap_arg_string(a);
    return name && g_ascii_strcasecmp(name, "INBOX") == 0;
}

/* ---- logging in ----------------------------------------------------- */

/* login - the one login path of imapd (LOGIN and AUTHENTICATE PLAIN). */
static void
login(Session *s, const char *tag, const char *user, const char *password, const char *how)
{
    char *account = auth_login_account(user);
    gboolean ok;

    /* the one guessing guard of every login (lib/authguard.c): wait its
     * delay (this session's thread only), then check */
    if (netconn_flush(s->net))
        (void) authguard_wait(s->inst, "imap", s->peer, account);
    ok = auth_login_password(s->inst, user, password, &s->login);
    if (ok && !s->login.anonymous)          /* anonymous/LIST proves nothing */
        authguard_succeeded(s->inst, "imap", s->peer, account);
    else if (!ok)
        authguard_failed(s->inst, "imap", s->peer, account);
    g_free(account);
    if (ok) {
        s->state = STATE_AUTH;
        s->list_stamp = list_stamp(s);
        s->data_version = data_version(s);
        if (!s->login.anonymous)
            popbeforesmtp_record_login(s->inst, s->peer, s->login.list, s->login.address);
        log_info("imap: %s/%s logged in (%s) from %s%s", s->login.address, s->login.list, how, s->peer,
                 s->net->ssl ? " over TLS" : "");
        {
            GString *c = g_string_new(NULL);
            reply(s, "%s OK [CAPABILITY %s] logged in", tag, caps(s, c));
            g_string_free(c, TRUE);
        }
        return;
    }
    s->failures++;
    log_info("imap: %s login failed for %s from %s", how, user, s->peer);
    if (!netconn_flush(s->net))
        return;
    if (s->cfg->fail_delay > 0)
        g_usleep((gulong) (s->cfg->fail_delay * G_USEC_PER_SEC));
    reply(s, "%s NO [AUTHENTICATIONFAILED] Authentication failed", tag);
    if (s->failures >= MAX_LOGIN_FAILURES) {
        reply(s, "* BYE too many failed logins");
        s->state = STATE_LOGOUT;
    }
}

static void
sasl_plain(Session *s, const char *tag, const char *b64)
{
    gsize len = 0;
    guchar *raw;
    const char *authzid, *authcid, *passwd, *end;

    if (g_str_equal(b64, "*")) {
        reply(s, "%s BAD authentication cancelled", tag);
        return;
    }
    for (const char *p = b64; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '+' && *p != '/' && *p != '=') {
            reply(s, "%s BAD invalid base64", tag);
            return;
        }
    raw = g_base64_decode(*b64 && !g_str_equal(b64, "=") ? b64 : "", &len);
    raw = g_realloc(raw, len + 1);
    raw[len] = '\0';
    end = (const char *) raw + len;
    authzid = (const char *) raw;
    authcid = memchr(authzid, '\0', len) ? authzid + strlen(authzid) + 1 : NULL;
    passwd = authcid && authcid < end && memchr(authcid, '\0', (size_t) (end - authcid))
                 ? authcid + strlen(authcid) + 1 : NULL;
    if (!passwd || passwd > end || memchr(passwd, '\0', (size_t) (end - passwd)) ||
        (*authzid && strcmp(authzid, authcid) != 0))
        reply(s, "%s BAD malformed AUTHENTICATE PLAIN response", tag);
    else
        login(s, tag, authcid, passwd, "AUTHENTICATE PLAIN");
    memset(raw, 0, len);
    g_free(raw);
}

static void
do_authenticate(Session *s, const ImapCommand *cmd)
{
    const char *mech = cmd->args->len >= 1 ? imap_arg_string(cmd->args->pdata[0]) : NULL;
    GString *line;
    int rc;

    if (!mech || cmd->args->len > 2 || (cmd->args->len == 2 && !imap_arg_string(cmd->args->pdata[1]))) {
        reply(s, "%s BAD AUTHENTICATE wants a mechanism", cmd->tag);
        return;
    }
    if (g_ascii_strcasecmp(mech, "PLAIN") != 0) {
        reply(s, "%s NO unsupported authentication mechanism", cmd->tag);
        return;
    }
    if (!plaintext_allowed(s)) {
        reply(s, "%s NO [PRIVACYREQUIRED] plaintext authentication needs TLS (use STARTTLS)", cmd->tag);
        return;
    }
    if (cmd->args->len == 2) {
        sasl_plain(s, cmd->tag, imap_arg_string(cmd->args->pdata[1]));
        return;
    }
    reply(s, "+ ");
    line = g_string_new(NULL);
    rc = netconn_read_line(s->net, line, 8192);
    if (rc == NETCONN_LINE)
        sasl_plain(s, cmd->tag, line->str);
    else if (rc == NETCONN_PARTIAL) {
        while ((rc = netconn_read_line(s->net, line, 8192)) == NETCONN_PARTIAL)
            ;
        reply(s, "%s BAD line too long", cmd->tag);
    }
    if (rc != NETCONN_LINE)
        s->state = STATE_LOGOUT;
    memset(line->str, 0, line->len);
    g_string_free(line, TRUE);
}

/* ---- commands ------------------------------------------------------- */

static gboolean
want_args(Session *s, const ImapCommand *cmd, guint min, guint max)
{
    if (cmd->args->len < min || cmd->args->len > max) {
        reply(s, "%s BAD wrong number of arguments for %s", cmd->tag, cmd->name);
        return FALSE;
    }
    return TRUE;
}

/* match - IMAP LIST wildcards: * anything, % anything but the delimiter. */
static gboolean
match(const char *pat, const char *name)
{
    if (!*pat)
        return !*name;
    if (*pat == '*' || *pat == '%') {
        for (const char *n = name;; n++) {
            if (match(pat + 1, n))
                return TRUE;
            if (!*n || (*pat == '%' && *n == '/'))
                return FALSE;
        }
    }
    return *name && g_ascii_toupper(*pat) == g_ascii_toupper(*name) && match(pat + 1, name + 1);
}

static void
do_list(Session *s, const ImapCommand *cmd, gboolean lsub)
{
    const char *ref, *pat;
    guint i = 0;
    char *full;

    /* LIST-EXTENDED: a selection list first and RETURN (...) last are accepted and ignored */
    if (!lsub && cmd->args->len > 0 && ((ImapArg *) cmd->args->pdata[0])->type == IMAP_ARG_LIST)
        i = 1;
    if (cmd->args->len < i + 2 || !(ref = imap_arg_string(cmd->args->pdata[i])) ||
        !imap_arg_string(cmd->args->pdata[i + 1])) {
        reply(s, "%s BAD %s wants a reference and a mailbox pattern", cmd->tag, cmd->name);
        return;
    }
    pat = imap_arg_string(cmd->args->pdata[i + 1]);
    if (!*pat) {
        if (!lsub)
            reply(s, "* LIST (\\Noselect) \"/\" \"\"");
    } else {
        full = g_strconcat(ref, pat, NULL);
        if (match(full, "INBOX"))
            reply(s, "* %s (\\HasNoChildren) \"/\" INBOX", lsub ? "LSUB" : "LIST");
        g_free(full);
    }
    reply(s, "%s OK %s completed", cmd->tag, cmd->name);
}

static void
do_status(Session *s, const ImapCommand *cmd)
{
    const ImapArg *items;
    ImapMailbox *mb;
    GError *error = NULL;
    GString *out;
    guint first;

    if (!want_args(s, cmd, 2, 2))
        return;
    items = cmd->args->pdata[1];
    if (items->type != IMAP_ARG_LIST || items->list->len == 0) {
        reply(s, "%s BAD STATUS wants a list of items", cmd->tag);
        return;
    }
    if (!is_inbox(cmd->args->pdata[0])) {
        reply(s, "%s NO [NONEXISTENT] only INBOX exists here", cmd->tag);
        return;
    }
    mb = s->mb ? s->mb : mailbox_open(s, TRUE, &error);
    if (!mb) {
        reply(s, "%s NO [UNAVAILABLE] archive temporarily unavailable", cmd->tag);
        log_warn("imap: %s", error ? error->message : "cannot open the archive");
        g_clear_error(&error);
        return;
    }
    out = g_string_new("* STATUS INBOX (");
    for (guint i = 0; i < items->list->len; i++) {
        const ImapArg *a = items->list->pdata[i];
        if (i)
            g_string_append_c(out, ' ');
        if (imap_arg_is_atom(a, "MESSAGES"))
            g_string_append_printf(out, "MESSAGES %u", mb->uids->len);
        else if (imap_arg_is_atom(a, "UIDNEXT"))
            g_string_append_printf(out, "UIDNEXT %" G_GINT64_FORMAT, mb->uidnext);
        else if (imap_arg_is_atom(a, "UIDVALIDITY"))
            g_string_append_printf(out, "UIDVALIDITY %" G_GINT64_FORMAT, mb->uidvalidity);
        else if (imap_arg_is_atom(a, "UNSEEN"))
            g_string_append_printf(out, "UNSEEN %u", count_unseen(mb, &first));
        else if (imap_arg_is_atom(a, "RECENT"))
            g_string_append(out, "RECENT 0");
        else if (imap_arg_is_atom(a, "DELETED")) {
            guint n = 0;
            for (guint k = 0; k < mb->uids->len; k++)
                n += imap_flags_has(g_hash_table_lookup(mb->flags, &g_array_index(mb->uids, gint64, k)), "\\Deleted");
            g_string_append_printf(out, "DELETED %u", n);
        } else if (imap_arg_is_atom(a, "SIZE")) {
            gint64 total = 0;
            for (guint k = 0; k < mb->uids->len; k++) {
                ArchivePost *p = archive_get(s->inst, mb->list, g_array_index(mb->uids, gint64, k));
                total += p ? p->size : 0;
                if (p)
                    archive_post_free(p);
            }
            g_string_append_printf(out, "SIZE %" G_GINT64_FORMAT, total);
        } else {
            reply(s, "%s BAD unknown STATUS item", cmd->tag);
            g_string_free(out, TRUE);
            if (mb != s->mb)
                mailbox_free(mb);
            return;
        }
    }
    g_string_append_c(out, ')');
    reply(s, "%s", out->str);
    reply(s, "%s OK STATUS completed", cmd->tag);
    g_string_free(out, TRUE);
    if (mb != s->mb)
        mailbox_free(mb);
}

static void
do_select(Session *s, const ImapCommand *cmd, gboolean examine)
{
    GError *error = NULL;
    ImapMailbox *mb;
    guint first = 0;
    gint64 version;

    if (!want_args(s, cmd, 1, 2))
        return;
    if (s->mb) {
        mailbox_free(s->mb);
        s->mb = NULL;
        s->state = STATE_AUTH;
        reply(s, "* OK [CLOSED] previous mailbox closed");
    }
    if (!is_inbox(cmd->args->pdata[0])) {
        reply(s, "%s NO [NONEXISTENT] only INBOX exists here", cmd->tag);
        return;
    }
    version = data_version(s);       /* before reading: a change meanwhile is seen later */
    mb = mailbox_open(s, examine, &error);
    if (!mb) {
        log_warn("imap: cannot open the archive of %s: %s", s->login.list, error ? error->message : "?");
        g_clear_error(&error);
        reply(s, "%s NO [UNAVAILABLE] archive temporarily unavailable, try later", cmd->tag);
        return;
    }
    s->mb = mb;
    s->state = STATE_SELECTED;
    s->data_version = version;
    reply(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
    reply(s, "* OK [PERMANENTFLAGS (%s)] %s", mb->read_only ? "" : "\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*",
          mb->read_only ? "no flags can be changed" : "flags are kept for you");
    reply(s, "* %u EXISTS", mb->uids->len);
    reply(s, "* 0 RECENT");
    count_unseen(mb, &first);
    if (first)
        reply(s, "* OK [UNSEEN %u] first unseen", first);
    reply(s, "* OK [UIDVALIDITY %" G_GINT64_FORMAT "] UIDs valid", mb->uidvalidity);
    reply(s, "* OK [UIDNEXT %" G_GINT64_FORMAT "] predicted next UID", mb->uidnext);
    reply(s, "%s OK [%s] %s completed", cmd->tag, mb->read_only ? "READ-ONLY" : "READ-WRITE", cmd->name);
}

/* parse_set_arg - a sequence set argument; for sequence numbers every
 * number must name a message (* always does). */
static GArray *
parse_set_arg(Session *s, const ImapCommand *cmd, guint i, gboolean uid)
{
    const char *text = i < cmd->args->len ? imap_arg_string(cmd->args->pdata[i]) : NULL;
    GArray *set = text && ((ImapArg *) cmd->args->pdata[i])->type == IMAP_ARG_ATOM ? imap_parse_set(text) : NULL;

    if (!set) {
        reply(s, "%s BAD invalid sequence set", cmd->tag);
        return NULL;
    }
    if (!uid) {
        for (guint k = 0; k < set->len; k++) {
            ImapRange *r = &g_array_index(set, ImapRange, k);
            if ((r->lo != G_MAXUINT64 && r->lo > s->mb->uids->len) ||
                (r->hi != G_MAXUINT64 && r->hi > s->mb->uids->len) ||
                (s->mb->uids->len == 0)) {
                reply(s, "%s BAD message sequence number out of range (%u messages)", cmd->tag,
                      s->mb->uids->len);
                g_array_free(set, TRUE);
                return NULL;
            }
        }
    }
    return set;
}

static void
do_store(Session *s, const ImapCommand *cmd, gboolean uid, guint base)
{
    const char *what = base + 1 < cmd->args->len ? imap_arg_string(cmd->args->pdata[base + 1]) : NULL;
    char mode = '=';
    gboolean silent = FALSE;
    GPtrArray *change;
    GArray *set;
    ImapMailbox *mb = s->mb;
    guint64 max;
    gboolean expunged = FALSE;

    if (cmd->args->len < base + 3 || !what) {
        reply(s, "%s BAD STORE wants a set, an item and flags", cmd->tag);
        return;
    }
    if (*what == '+' || *what == '-')
        mode = *what++;
    if (g_ascii_strcasecmp(what, "FLAGS.SILENT") == 0)
        silent = TRUE;
    else if (g_ascii_strcasecmp(what, "FLAGS") != 0) {
        reply(s, "%s BAD STORE item must be FLAGS, +FLAGS or -FLAGS", cmd->tag);
        return;
    }
    change = g_ptr_array_new();
    for (guint i = base + 2; i < cmd->args->len; i++) {
        const ImapArg *a = cmd->args->pdata[i];
        GPtrArray *items = a->type == IMAP_ARG_LIST ? a->list : NULL;
        if (a->type == IMAP_ARG_LIST && cmd->args->len != base + 3)
            items = NULL, a = NULL;
        if (!a) {
            g_ptr_array_free(change, TRUE);
            reply(s, "%s BAD malformed flag list", cmd->tag);
            return;
        }
        for (guint k = 0; items ? k < items->len : k < 1; k++) {
            const ImapArg *f = items ? items->pdata[k] : a;
            if (f->type != IMAP_ARG_ATOM || !imap_flags_valid(f->str)) {
                g_ptr_array_free(change, TRUE);
                reply(s, "%s BAD invalid flag", cmd->tag);
                return;
            }
            g_ptr_array_add(change, f->str);
        }
    }
    g_ptr_array_add(change, NULL);
    if (!(set = parse_set_arg(s, cmd, base, uid))) {
        g_ptr_array_free(change, TRUE);
        return;
    }
    if (mb->read_only) {
        reply(s, "%s NO [READ-ONLY] mailbox is read-only", cmd->tag);
        g_ptr_array_free(change, TRUE);
        g_array_free(set, TRUE);
        return;
    }
    max = uid ? (mb->uids->len ? (guint64) g_array_index(mb->uids, gint64, mb->uids->len - 1) : 0) : mb->uids->len;
    for (guint k = 1; k <= mb->uids->len; k++) {
        gint64 num = g_array_index(mb->uids, gint64, k - 1);
        const char *old;
        char *nf;
        GError *error = NULL;
        gint64 *key;

        if (!imap_set_contains(set, uid ? (guint64) num : k, max))
            continue;
        if (imap_mailbox_gone(mb, num)) {
            expunged = TRUE;
            continue;
        }
        old = g_hash_table_lookup(mb->flags, &num);
        nf = imap_flags_change(old, mode, (char **) change->pdata);
        if (g_strcmp0(old ? old : "", nf) != 0) {
            if (!imap_flags_save(s->inst, mb->list, mb->address, num, nf, &error)) {
                log_warn("imap: cannot save flags: %s", error->message);
                g_clear_error(&error);
                g_free(nf);
                reply(s, "%s NO [UNAVAILABLE] flags cannot be saved now", cmd->tag);
                g_ptr_array_free(change, TRUE);
                g_array_free(set, TRUE);
                return;
            }
            key = g_new(gint64, 1);
            *key = num;
            if (*nf)
                g_hash_table_replace(mb->flags, key, g_strdup(nf));
            else {
                g_hash_table_remove(mb->flags, &num);
                g_free(key);
            }
        }
        if (!silent) {
            if (uid)
                reply(s, "* %u FETCH (UID %" G_GINT64_FORMAT " FLAGS (%s))", k, num, nf);
            else
                reply(s, "* %u FETCH (FLAGS (%s))", k, nf);
        }
        g_free(nf);
    }
    g_ptr_array_free(change, TRUE);
    g_array_free(set, TRUE);
    if (expunged)
        reply(s, "%s NO [EXPUNGEISSUED] some of the messages no longer exist (the others are stored)", cmd->tag);
    else
        reply(s, "%s OK STORE completed", cmd->tag);
}

/* expunge - hide the \Deleted messages (of set, if given); silent for CLOSE. */
static gboolean
expunge(Session *s, const GArray *set, gboolean silent)
{
    ImapMailbox *mb = s->mb;
    guint64 max = mb->uids->len ? (guint64) g_array_index(mb->uids, gint64, mb->uids->len - 1) : 0;

    for (guint k = mb->uids->len; k >= 1; k--) {
        gint64 num = g_array_index(mb->uids, gint64, k - 1);
        GError *error = NULL;
        if (!imap_flags_has(g_hash_table_lookup(mb->flags, &num), "\\Deleted"))
            continue;
        if (set && !imap_set_contains(set, (guint64) num, max))
            continue;
        if (!imap_flags_hide(s->inst, mb->list, mb->address, num, &error)) {
            log_warn("imap: cannot expunge: %s", error->message);
            g_clear_error(&error);
            return FALSE;
        }
        g_hash_table_remove(mb->flags, &num);
        g_array_remove_index(mb->uids, k - 1);
        if (!silent)
            reply(s, "* %u EXPUNGE", k);
    }
    return TRUE;
}

static void
do_expunge(Session *s, const ImapCommand *cmd, gboolean uid, guint base)
{
    GArray *set = NULL;

    if (uid && !(set = parse_set_arg(s, cmd, base, TRUE)))
        return;
    if (s->mb->read_only)
        reply(s, "%s NO [READ-ONLY] mailbox is read-only", cmd->tag);
    else if (!expunge(s, set, FALSE))
        reply(s, "%s NO [UNAVAILABLE] cannot expunge now", cmd->tag);
    else
        reply(s, "%s OK EXPUNGE completed", cmd->tag);
    if (set)
        g_array_free(set, TRUE);
}

static void
do_fetch(Session *s, const ImapCommand *cmd, gboolean uid, guint base)
{
    GArray *set = parse_set_arg(s, cmd, base, uid);
    const char *why = NULL;
    gboolean expunged = FALSE;

    if (!set)
        return;
    if (!imap_fetch(s->inst, s->mb, s->net, set, uid, cmd->args, base + 1, &why, &expunged))
        reply(s, "%s BAD %s", cmd->tag, why);
    else if (expunged)
        reply(s, "%s NO [EXPUNGEISSUED] some of the requested messages no longer exist", cmd->tag);
    else
        reply(s, "%s OK %sFETCH completed", cmd->tag, uid ? "UID " : "");
    g_array_free(set, TRUE);
}

static void
do_search(Session *s, const ImapCommand *cmd, const char *what, gboolean uid, guint base)
{
    const char *why = NULL;
    gboolean no = FALSE;
    GPtrArray *rest = g_ptr_array_new();

    for (guint i = base; i < cmd->args->len; i++)
        g_ptr_array_add(rest, cmd->args->pdata[i]);
    if (!imap_search(s->inst, s->mb, s->net, what, uid, rest, &why, &no))
        reply(s, "%s %s %s", cmd->tag, no ? "NO" : "BAD", why);
    else
        reply(s, "%s OK %s%s completed", cmd->tag, uid ? "UID " : "", what);
    g_ptr_array_free(rest, TRUE);
}

static void
do_idle(Session *s, const ImapCommand *cmd)
{
    GString *line = g_string_new(NULL);
    gint64 started = g_get_monotonic_time();

    reply(s, "+ idling");
    for (;;) {
        int rc;
        if (!mailbox_sync(s, SYNC_IDLE))
            break;
        if (!netconn_wait_input(s->net, 250)) {
            if (g_get_monotonic_time() - started > (gint64) s->cfg->timeout_ms * 1000) {
                reply(s, "* BYE idle for too long");
                s->state = STATE_LOGOUT;
                break;
            }
            continue;
        }
        rc = netconn_read_line(s->net, line, 1024);
        if (rc == NETCONN_LINE && g_ascii_strcasecmp(line->str, "DONE") == 0) {
            reply(s, "%s OK IDLE terminated", cmd->tag);
            break;
        }
        if (rc == NETCONN_LINE || rc == NETCONN_PARTIAL) {
            reply(s, "%s BAD expected DONE", cmd->tag);
            break;
        }
        s->state = STATE_LOGOUT;
        break;
    }
    g_string_free(line, TRUE);
}

static const char *const refused[] = { "APPEND", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", NULL };

static gboolean
in_list(const char *name, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (g_str_equal(name, names[i]))
            return TRUE;
    return FALSE;
}

static void
selected_command(Session *s, const ImapCommand *cmd)
{
    const char *name = cmd->name;
    gboolean uid = FALSE;
    guint base = 0;

    if (g_str_equal(name, "UID")) {
        const char *sub = cmd->args->len ? imap_arg_string(cmd->args->pdata[0]) : NULL;
        if (!sub || ((ImapArg *) cmd->args->pdata[0])->type != IMAP_ARG_ATOM) {
            reply(s, "%s BAD UID wants a command", cmd->tag);
            return;
        }
        uid = TRUE;
        base = 1;
        name = sub;
    }
    if (g_ascii_strcasecmp(name, "FETCH") == 0)
        do_fetch(s, cmd, uid, base);
    else if (g_ascii_strcasecmp(name, "STORE") == 0)
        do_store(s, cmd, uid, base);
    else if (g_ascii_strcasecmp(name, "SEARCH") == 0 || g_ascii_strcasecmp(name, "SORT") == 0 ||
             g_ascii_strcasecmp(name, "THREAD") == 0) {
        char *up = g_ascii_strup(name, -1);
        do_search(s, cmd, up, uid, base);
        g_free(up);
    } else if (g_ascii_strcasecmp(name, "EXPUNGE") == 0)
        do_expunge(s, cmd, uid, base);
    else if (g_ascii_strcasecmp(name, "COPY") == 0 || g_ascii_strcasecmp(name, "MOVE") == 0)
        reply(s, "%s NO [CANNOT] the archive is read-only: nothing can be copied or moved", cmd->tag);
    else if (uid)
        reply(s, "%s BAD unknown UID command", cmd->tag);
    else if (g_str_equal(name, "CLOSE") || g_str_equal(name, "UNSELECT")) {
        if (g_str_equal(name, "CLOSE") && !s->mb->read_only)
            expunge(s, NULL, TRUE);
        mailbox_free(s->mb);
        s->mb = NULL;
        s->state = STATE_AUTH;
        reply(s, "%s OK %s completed", cmd->tag, name);
    } else if (g_str_equal(name, "CHECK"))
        reply(s, "%s OK CHECK completed", cmd->tag);
    else
        reply(s, "%s BAD unknown command", cmd->tag);
}

/* sync_mode - how far a command may hear of changes before its own
 * answer (RFC 3501 7.4.1: no EXPUNGE during FETCH, STORE, SEARCH; RFC
 * 5256 SORT and THREAD are searches; their UID forms may have it). */
static SyncMode
sync_mode(const ImapCommand *cmd)
{
    static const char *const keep[] = { "FETCH", "STORE", "SEARCH", "SORT", "THREAD", NULL };
    static const char *const list_only[] = { "SELECT", "EXAMINE", "CLOSE", "UNSELECT", "LOGOUT", NULL };

    if (in_list(cmd->name, keep))
        return SYNC_KEEP;
    if (in_list(cmd->name, list_only))
        return SYNC_LIST;
    return SYNC_ALL;
}

static void
command(Session *s, const ImapCommand *cmd)
{
    const char *name = cmd->name;
    GString *c;

    if (s->state != STATE_NOAUTH && !mailbox_sync(s, sync_mode(cmd)))
        return;
    if (g_str_equal(name, "CAPABILITY")) {
        c = g_string_new(NULL);
        reply(s, "* CAPABILITY %s", caps(s, c));
        g_string_free(c, TRUE);
        reply(s, "%s OK CAPABILITY completed", cmd->tag);
    } else if (g_str_equal(name, "NOOP")) {
        reply(s, "%s OK NOOP completed", cmd->tag);
    } else if (g_str_equal(name, "LOGOUT")) {
        reply(s, "* BYE kairan IMAP server signing off");
        reply(s, "%s OK LOGOUT completed", cmd->tag);
        s->state = STATE_LOGOUT;
    } else if (g_str_equal(name, "ID")) {
        reply(s, "* ID (\"name\" \"kairan\" \"version\" \"%s\")", PACKAGE_VERSION);
        reply(s, "%s OK ID completed", cmd->tag);
    } else if (s->state == STATE_NOAUTH) {
        if (g_str_equal(name, "STARTTLS")) {
            if (!s->cfg->tls || s->net->ssl) {
                reply(s, "%s BAD STARTTLS is not available%s", cmd->tag, s->net->ssl ? " (TLS is active)" : "");
                return;
            }
            reply(s, "%s OK Begin TLS negotiation now", cmd->tag);
            if (!netconn_tls_accept(s->net, s->cfg->tls)) {
                log_info("imap: TLS handshake with %s failed", s->peer);
                s->state = STATE_LOGOUT;
            }
        } else if (g_str_equal(name, "LOGIN")) {
            const char *user, *pass;
            if (!want_args(s, cmd, 2, 2))
                return;
            user = imap_arg_string(cmd->args->pdata[0]);
            pass = imap_arg_string(cmd->args->pdata[1]);
            if (!user || !pass)
                reply(s, "%s BAD LOGIN wants a user name and a password", cmd->tag);
            else if (!plaintext_allowed(s))
                reply(s, "%s NO [PRIVACYREQUIRED] plaintext login needs TLS (use STARTTLS)", cmd->tag);
            else
                login(s, cmd->tag, user, pass, "LOGIN");
        } else if (g_str_equal(name, "AUTHENTICATE")) {
            do_authenticate(s, cmd);
        } else if (in_list(name, refused) || g_str_equal(name, "SELECT") || g_str_equal(name, "EXAMINE") ||
                   g_str_equal(name, "LIST") || g_str_equal(name, "FETCH") || g_str_equal(name, "UID")) {
            reply(s, "%s BAD log in first", cmd->tag);
        } else {
            reply(s, "%s BAD unknown command", cmd->tag);
        }
        return;
    } else if (g_str_equal(name, "STARTTLS") || g_str_equal(name, "LOGIN") || g_str_equal(name, "AUTHENTICATE")) {
        reply(s, "%s BAD already logged in", cmd->tag);
    } else if (g_str_equal(name, "SELECT") || g_str_equal(name, "EXAMINE")) {
        do_select(s, cmd, g_str_equal(name, "EXAMINE"));
    } else if (g_str_equal(name, "LIST") || g_str_equal(name, "LSUB")) {
        do_list(s, cmd, g_str_equal(name, "LSUB"));
    } else if (g_str_equal(name, "NAMESPACE")) {
        reply(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
        reply(s, "%s OK NAMESPACE completed", cmd->tag);
    } else if (g_str_equal(name, "ENABLE")) {
        reply(s, "* ENABLED");
        reply(s, "%s OK ENABLE completed", cmd->tag);
    } else if (g_str_equal(name, "STATUS")) {
        do_status(s, cmd);
    } else if (g_str_equal(name, "IDLE")) {
        do_idle(s, cmd);
    } else if (g_str_equal(name, "SUBSCRIBE") && cmd->args->len == 1 && is_inbox(cmd->args->pdata[0])) {
        reply(s, "%s OK INBOX is always subscribed", cmd->tag);
    } else if (in_list(name, refused)) {
        reply(s, "%s NO [CANNOT] the archive is read-only: %s is not possible here", cmd->tag, name);
    } else if (s->state == STATE_SELECTED) {
        selected_command(s, cmd);
    } else if (g_str_equal(name, "FETCH") || g_str_equal(name, "STORE") || g_str_equal(name, "SEARCH") ||
               g_str_equal(name, "UID") || g_str_equal(name, "EXPUNGE") || g_str_equal(name, "CLOSE") ||
               g_str_equal(name, "UNSELECT") || g_str_equal(name, "SORT") || g_str_equal(name, "THREAD") ||
               g_str_equal(name, "COPY") || g_str_equal(name, "MOVE") || g_str_equal(name, "CHECK")) {
        reply(s, "%s BAD select a mailbox first", cmd->tag);
    } else {
        reply(s, "%s BAD unknown command", cmd->tag);
    }
}

void
imap_session_run(const ImapConfig *cfg, int fd, gboolean implicit_tls)
{
    Session s = { 0 };
    GError *error = NULL;
    GString *buf;
    GString *c;

    s.cfg = cfg;
    s.net = netconn_new(fd, cfg->timeout_ms);
    s.peer = netlisten_peer(fd, &s.loopback);
    if (implicit_tls && !netconn_tls_accept(s.net, cfg->tls)) {
        log_info("imap: TLS handshake with %s failed on the IMAPS port", s.peer);
        goto out;
    }
    s.inst = instance_open(cfg->home, &error);
    if (!s.inst) {
        reply(&s, "* BYE [UNAVAILABLE] server temporarily unavailable");
        netconn_flush(s.net);
        log_warn("imap: %s", error->message);
        g_clear_error(&error);
        goto out;
    }
    c = g_string_new(NULL);
    reply(&s, "* OK [CAPABILITY %s] kairan IMAP server ready", caps(&s, c));
    g_string_free(c, TRUE);
    buf = g_string_new(NULL);
    while (s.state != STATE_LOGOUT) {
        ImapCommand cmd;
        const char *why;
        int rc = read_command(&s, buf);

        if (rc == READ_END)
            break;
        if (rc == READ_AGAIN)
            continue;
        if (!imap_parse_command(buf->str, buf->len, &cmd, &why))
            reply(&s, "%s BAD %s", cmd.tag ? cmd.tag : "*", why);
        else
            command(&s, &cmd);
        /* new posts may be told between commands; EXPUNGE may not */
        if (s.state == STATE_SELECTED && !g_str_equal(cmd.name ? cmd.name : "", "IDLE") &&
            !netconn_has_input(s.net))
            mailbox_sync(&s, SYNC_KEEP);
        imap_command_clear(&cmd);
        /* LOGIN passwords may sit in the buffer */
        memset(buf->str, 0, buf->len);
    }
    netconn_flush(s.net);
    g_string_free(buf, TRUE);
    mailbox_free(s.mb);
    auth_login_clear(&s.login);
    instance_free(s.inst);
out:
    netconn_free(s.net);
    g_free(s.peer);
}
