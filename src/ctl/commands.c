/* commands.c - the member commands of command mail: help, guide,
 * subscribe, confirm, unsubscribe (bye, signoff), chaddr, get, mget,
 * index, members, actives, status, summary, digest, nomail, mail,
 * password, set (the per-member options of lib/memberopts.c: set OPTION
 * on|off, set vacation until YYYY-MM-DD, set vacation off; confirmed by
 * the member's own address like digest, token action "member-option",
 * extra "OPTION=VALUE").  members and actives leave out the members with
 * hide_address, except for owners.
 *
 * chaddr OLD NEW is confirmed by both mailboxes: a token goes to OLD
 * (so a forged From: cannot move anybody's subscription); its `confirm`
 * sends a second token to NEW (so nobody can subscribe a mailbox that
 * did not ask); the change happens when that one is confirmed.  The
 * member keeps its settings (digest, nomail, POP3 password).
 *
 * From: proves nothing (security issue #12): every command that changes
 * a member's state or secret only mails a token to the member's own
 * address and acts when it comes back.  digest on|off, nomail and mail
 * send "confirm_change" (token action "member-flag", extra
 * "FLAG=on|off"); password never takes a password from the mail: it
 * sends "password_request" with the token of the web page
 * WEB_URL/password/TOKEN (action "pop-password", page_password.c) and,
 * for mail-only setups, `confirm TOKEN`, which stores a fresh random
 * password and mails it ("password_new") to the member's address only.
 *
 * Who may use what: members and actives follow commands_access
 * (members|anyone); get, mget and index follow archive_access
 * (public: anyone, members: members - or anyone when commands_access is
 * anyone -, owners: owners only).  Owners may always. */
#include "config.h"
#include "ctl.h"
#include "domains.h"
#include "ratelimit.h"
#include "address.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "memberopts.h"
#include "notices.h"
#include "notify.h"
#include "settings.h"
#include "subscription.h"
#include "template.h"
#include "template_override.h"
#include "token.h"
#include "util.h"

#include <string.h>
#include <time.h>

#define MGET_MAX_POSTS 1000
#define INDEX_MAX_LINES 1000
/* the token action of page_password.c: one token serves the web page and mail */
#define PASSWORD_ACTION "pop-password"

gboolean
ctl_archive_allowed(CtlSession *s)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    gboolean ok;
    char *access;

    if (s->is_owner)
        return TRUE;
    access = list_setting(inst, list, "archive_access");
    if (g_str_equal(access, "public"))
        ok = TRUE;
    else if (g_str_equal(access, "members"))
        ok = s->is_member || list_setting_is(inst, list, "commands_access", "anyone");
    else
        ok = FALSE;
    g_free(access);
    return ok;
}

static gboolean
members_allowed(CtlSession *s)
{
    return s->is_owner || s->is_member ||
           list_setting_is(s->in->inst, s->in->list, "commands_access", "anyone");
}

static void
say_error(CtlSession *s, GError *error)
{
    ctl_reply_say(s->reply, "error", "reason", error ? error->message : "", NULL);
    log_error("%s: command failed: %s", s->in->list, error ? error->message : "");
}

/* text_template - a body-only template (help, guide) expanded for the list. */
static char *
text_template(CtlSession *s, const char *name)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    char *tmpl = template_load_for(inst, list, s->reply->lang, name, NULL);   /* owners' own texts first */
    GHashTable *vars = template_vars_new();
    char *a = list_address(inst, list, NULL), *c = list_address(inst, list, "-ctl"),
         *ad = list_address(inst, list, "-admin"), *desc = list_setting(inst, list, "description");
    char *out;

    template_var(vars, "list", list);
    template_var(vars, "list_address", a);
    template_var(vars, "ctl_address", c);
    template_var(vars, "admin_address", ad);
    template_var(vars, "description", desc);
    out = template_expand(tmpl ? tmpl : name, vars);
    g_hash_table_unref(vars);
    g_free(a);
    g_free(c);
    g_free(ad);
    g_free(desc);
    g_free(tmpl);
    return out;
}

static void
say_subresult(CtlSession *s, SubResult r, const char *action, const char *address, GError *error)
{
    const char *key = NULL;
    switch (r) {
    case SUB_DONE: key = g_str_equal(action, "subscribe") ? "subscribed" : "unsubscribed"; break;
    case SUB_CONFIRM_SENT: key = g_str_equal(action, "subscribe") ? "confirm_sent" : "confirm_sent_unsub"; break;
    case SUB_PENDING_APPROVAL: key = "pending_approval"; break;
    case SUB_ALREADY: key = g_str_equal(action, "subscribe") ? "already_member" : "not_member_addr"; break;
    case SUB_REFUSED: key = error ? NULL : "closed"; break;
    case SUB_BANNED: key = "banned"; break;
    case SUB_BAD_TOKEN: key = "token_unknown"; break;
    }
    if (key)
        ctl_reply_say(s->reply, key, "address", address, NULL);
    else
        say_error(s, error);
}

/* confirm_allowed - may one more confirmation request go to `to` this
 * hour (confirm_limit)?  Counts it; says why not in the reply otherwise.
 * A forged From: must not turn the list into a mail bomb for `to`. */
static gboolean
confirm_allowed(CtlSession *s, const char *to)
{
    if (ratelimit_take(s->in->inst, s->in->list, RATE_CONFIRM, to) == RATE_OK)
        return TRUE;
    ctl_reply_say(s->reply, "confirm_limited", "address", to, NULL);
    return FALSE;
}

/* request_confirmed - subscription_request under confirm_limit: the slot
 * taken is given back when no confirmation mail was sent after all. */
static void
request_confirmed(CtlSession *s, const char *action, const char *name)
{
    GError *error = NULL;
    SubResult r;

    if (g_str_equal(action, "subscribe") && list_address_refused(s->in->inst, s->sender, &error)) {
        log_info("%s: subscribe from the list address <%s> refused", s->in->list, s->sender);
        ctl_reply_say(s->reply, "list_address", "address", s->sender, NULL);
        g_clear_error(&error);
        return;
    }
    if (!confirm_allowed(s, s->sender))
        return;
    r = subscription_request(s->in->inst, s->in->list, action, s->sender, name, NULL, &error);
    if (r != SUB_CONFIRM_SENT)
        ratelimit_give_back(s->in->inst, s->in->list, RATE_CONFIRM, s->sender);
    say_subresult(s, r, action, s->sender, error);
    g_clear_error(&error);
}

static void
cmd_subscribe(CtlSession *s, char **argv, int argc)
{
    char *name = argc > 1 ? g_strjoinv(" ", argv + 1) : g_strdup(s->in->from_name);
    request_confirmed(s, "subscribe", name && *name ? name : NULL);
    g_free(name);
}

static void
cmd_unsubscribe(CtlSession *s)
{
    request_confirmed(s, "unsubscribe", NULL);
}

gboolean
ctl_chaddr_apply(Instance *inst, const char *list, const char *old_addr,
                 const char *new_addr, GError **error)
{
    sqlite3_stmt *st;
    if (member_is(inst, list, new_addr)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "%s is already a member of %s", new_addr, list);
        return FALSE;
    }
    if (list_is_banned(inst, list, new_addr)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s is banned from %s (setting banned)", new_addr, list);
        return FALSE;
    }
    if (list_address_refused(inst, new_addr, error))
        return FALSE;
    if (!db_begin_immediate(inst->db, error))
        return FALSE;
    st = db_prepare(inst->db, "UPDATE members SET address = ? WHERE list = ? AND address = ?");
    sqlite3_bind_text(st, 1, new_addr, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, old_addr, -1, SQLITE_STATIC);
    if (!db_step_done(st, error)) {
        db_rollback(inst->db);
        return FALSE;
    }
    if (sqlite3_changes(inst->db) == 0) {
        db_rollback(inst->db);
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "%s is not a member of %s", old_addr, list);
        return FALSE;
    }
    /* the messages the member DELE'd over POP3 stay hidden */
    st = db_prepare(inst->db, "UPDATE OR IGNORE pop_hidden SET address = ? WHERE list = ? AND address = ?");
    sqlite3_bind_text(st, 1, new_addr, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, old_addr, -1, SQLITE_STATIC);
    if (!db_step_done(st, error) || !db_commit(inst->db, error)) {
        db_rollback(inst->db);
        return FALSE;
    }
    log_info("%s: member <%s> changed address to <%s>", list, old_addr, new_addr);
    notices_membership(inst, list, "chaddr", old_addr, new_addr);
    return TRUE;
}

/* send_chaddr_token - mail a chaddr confirmation (step 1 to OLD, step 2
 * to NEW). */
static gboolean
send_chaddr_token(CtlSession *s, const char *action, const char *to, const char *old_addr,
                  const char *new_addr, GError **error)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    gint64 lifetime = list_setting_int(inst, list, "confirm_expiry");
    char *token = token_create(inst, list, action, old_addr, new_addr, lifetime, error);
    char *ctl = list_address(inst, list, "-ctl");
    GHashTable *vars;
    GMimeMessage *msg;
    gboolean ok;

    if (!token) {
        g_free(ctl);
        return FALSE;
    }
    vars = template_vars_new();
    template_var(vars, "token", token);
    template_var(vars, "old", old_addr);
    template_var(vars, "new", new_addr);
    msg = notify_build(inst, list, g_str_equal(action, "chaddr-old") ? "confirm_chaddr_old" : "confirm_chaddr_new",
                       vars, ctl, to, NULL, NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "Reply-To", ctl, NULL);
    {
        const char *rcpts[] = { to };
        ok = notify_queue(inst, list, msg, rcpts, 1, error);
    }
    g_object_unref(msg);
    g_hash_table_unref(vars);
    g_free(token);
    g_free(ctl);
    return ok;
}

static void
cmd_chaddr(CtlSession *s, char **argv, int argc)
{
    Instance *inst = s->in->inst;
    char *old_addr, *new_addr;
    GError *error = NULL;

    if (argc != 3) {
        ctl_reply_say(s->reply, "usage", "usage", "chaddr OLD-ADDRESS NEW-ADDRESS", NULL);
        return;
    }
    old_addr = address_normalize(argv[1], NULL);
    new_addr = address_normalize(argv[2], NULL);
    if (!old_addr || !new_addr)
        ctl_reply_say(s->reply, "bad_address", "address", !old_addr ? argv[1] : argv[2], NULL);
    else if (!member_is(inst, s->in->list, old_addr))
        ctl_reply_say(s->reply, "not_member_addr", "address", old_addr, NULL);
    else if (member_is(inst, s->in->list, new_addr))
        ctl_reply_say(s->reply, "already_member", "address", new_addr, NULL);
    else if (list_address_refused(inst, new_addr, &error)) {
        ctl_reply_say(s->reply, "list_address", "address", new_addr, NULL);
        g_clear_error(&error);
    } else if (!confirm_allowed(s, old_addr))
        ;   /* said why */
    else if (!send_chaddr_token(s, "chaddr-old", old_addr, old_addr, new_addr, &error))
        say_error(s, error);
    else
        ctl_reply_say(s->reply, "chaddr_sent_old", "old", old_addr, "new", new_addr, NULL);
    g_clear_error(&error);
    g_free(old_addr);
    g_free(new_addr);
}

static void
reset_bounces(Instance *inst, const char *list, const char *addr)
{
    sqlite3_stmt *st = db_prepare(inst->db, "UPDATE members SET bounce_score = 0, bounce_last = NULL,"
                                            " disabled_reason = NULL WHERE list = ? AND address = ?");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
    db_step_done(st, NULL);
}

static void confirm_flag(CtlSession *s, const char *address, const char *extra);
static void confirm_option(CtlSession *s, const char *address, const char *extra);
static void confirm_password(CtlSession *s, const char *address);

static void
cmd_confirm(CtlSession *s, char **argv, int argc)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    char *tlist = NULL, *action = NULL, *address = NULL, *extra = NULL, *token;
    TokenStatus ts;
    GError *error = NULL;

    if (argc < 2) {     /* words after the token (a Subject) are ignored */
        ctl_reply_say(s->reply, "usage", "usage", "confirm TOKEN", NULL);
        return;
    }
    token = g_ascii_strdown(argv[1], -1);
    ts = token_peek(inst, token, &tlist, &action, &address, &extra);
    if (ts == TOKEN_OK && !g_str_equal(tlist, list))
        ts = TOKEN_UNKNOWN;
    if (ts != TOKEN_OK) {
        ctl_reply_say(s->reply, ts == TOKEN_EXPIRED ? "token_expired" : ts == TOKEN_USED ? "token_used"
                                                                                        : "token_unknown", NULL);
        log_info("%s: confirm from <%s> refused: %s", list, s->sender, token_status_text(ts));
        goto out;
    }
    if (g_str_equal(action, "subscribe") || g_str_equal(action, "unsubscribe")) {
        SubResult r = subscription_confirm(inst, token, NULL, NULL, &error);
        say_subresult(s, r, action, address, error);
        goto out;
    }
    if (token_consume(inst, token, NULL, NULL, NULL, NULL) != TOKEN_OK) {
        ctl_reply_say(s->reply, "token_used", NULL);
        goto out;
    }
    if (g_str_equal(action, "chaddr-old")) {
        if (!send_chaddr_token(s, "chaddr-new", extra, address, extra, &error))
            say_error(s, error);
        else
            ctl_reply_say(s->reply, "chaddr_sent_new", "old", address, "new", extra, NULL);
    } else if (g_str_equal(action, "chaddr-new")) {
        if (!ctl_chaddr_apply(inst, list, address, extra, &error))
            say_error(s, error);
        else
            ctl_reply_say(s->reply, "chaddr_done", "old", address, "new", extra, NULL);
    } else if (g_str_equal(action, "member-flag")) {
        confirm_flag(s, address, extra);
    } else if (g_str_equal(action, "member-option")) {
        confirm_option(s, address, extra);
    } else if (g_str_equal(action, PASSWORD_ACTION)) {
        confirm_password(s, address);
    } else if (g_str_equal(action, "reenable")) {
        if (!member_set_flag(inst, list, address, "nomail", FALSE, &error))
            say_error(s, error);
        else {
            reset_bounces(inst, list, address);
            log_info("%s: delivery to <%s> re-enabled by confirmation", list, address);
            ctl_reply_say(s->reply, "mail_on", "address", address, NULL);
        }
    } else {
        ctl_reply_say(s->reply, "token_unknown", NULL);
    }
out:
    g_clear_error(&error);
    g_free(token);
    g_free(tlist);
    g_free(action);
    g_free(address);
    g_free(extra);
}

static GMimeMessage *
load_post(Instance *inst, const char *list, gint64 num)
{
    return archive_parse(inst, list, num, NULL);
}

/* ---- get and mget: each post once a mail, within the send limit ------
 * Whatever get and mget commands one mail holds, every post goes to the
 * sender at most once (s->archive_sent).  Each mget mail and each get
 * attachment is counted against send_limit_mails / send_limit_bytes
 * (ratelimit_take_send); the first one refused stops get and mget for the
 * rest of the mail, and the reply names what was sent and what was not. */

static gboolean
archive_was_sent(CtlSession *s, gint64 num)
{
    return s->archive_sent && g_hash_table_contains(s->archive_sent, &num);
}

static void
archive_mark_sent(CtlSession *s, const gint64 *nums, guint n)
{
    if (!s->archive_sent)
        s->archive_sent = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    for (guint i = 0; i < n; i++)
        g_hash_table_add(s->archive_sent, g_memdup2(&nums[i], sizeof(gint64)));
}

/* say_not_sent - the reply line for posts the send limit kept back. */
static void
say_not_sent(CtlSession *s, const gint64 *nums, guint n)
{
    char *posts = digest_format_nums(nums, n);
    char *limit = g_strdup_printf("%" G_GINT64_FORMAT,
                                  list_setting_int(s->in->inst, s->in->list, s->send_stopped));
    ctl_reply_say(s->reply, "send_limit", "posts", posts, "address", s->sender,
                  "setting", s->send_stopped, "limit", limit, NULL);
    g_free(posts);
    g_free(limit);
}

/* say_too_big - the reply line for posts larger than the whole budget. */
static void
say_too_big(CtlSession *s, const gint64 *nums, guint n)
{
    char *posts = digest_format_nums(nums, n);
    char *limit = g_strdup_printf("%" G_GINT64_FORMAT,
                                  list_setting_int(s->in->inst, s->in->list, "send_limit_bytes"));
    ctl_reply_say(s->reply, "send_too_big", "posts", posts, "limit", limit, NULL);
    g_free(posts);
    g_free(limit);
}

typedef enum {
    SEND_OK,          /* counted: send it */
    SEND_STOPPED,     /* the limit is reached: get/mget stop for this mail */
    SEND_TOO_BIG,     /* larger than send_limit_bytes itself: never sent, nothing counted */
} SendCheck;

/* send_check - may mails mails of bytes bytes go to the sender now?
 * Counts them if so; else stops get/mget for this mail, unless this one
 * alone is over send_limit_bytes (the next, smaller one may still go). */
static SendCheck
send_check(CtlSession *s, gint64 mails, gint64 bytes)
{
    const char *which = NULL;
    gint64 lim_b;

    if (s->send_stopped)
        return SEND_STOPPED;
    lim_b = list_setting_int(s->in->inst, s->in->list, "send_limit_bytes");
    if (lim_b > 0 && bytes > lim_b)
        return SEND_TOO_BIG;
    if (ratelimit_take_send(s->in->inst, s->in->list, s->sender, mails, bytes, &which) == RATE_OK)
        return SEND_OK;
    s->send_stopped = which;
    log_info("%s: get/mget for <%s> stopped at %s", s->in->list, s->sender, which);
    return SEND_STOPPED;
}

static gint64
message_size(GMimeMessage *msg)
{
    GMimeStream *null = g_mime_stream_null_new();
    ssize_t n = g_mime_object_write_to_stream(GMIME_OBJECT(msg), NULL, null);
    g_object_unref(null);
    return n < 0 ? 0 : (gint64) n;
}

static void
cmd_get(CtlSession *s, char **argv, int argc)
{
    gint64 num;
    char *end;
    GMimeMessage *msg;

    if (argc != 2) {
        ctl_reply_say(s->reply, "usage", "usage", "get NUMBER", NULL);
        return;
    }
    if (!ctl_archive_allowed(s)) {
        ctl_reply_say(s->reply, "not_allowed", NULL);
        return;
    }
    num = g_ascii_strtoll(argv[1], &end, 10);
    msg = (*end || num <= 0) ? NULL : load_post(s->in->inst, s->in->list, num);
    if (!msg) {
        ctl_reply_say(s->reply, "no_such_post", "num", argv[1], NULL);
        return;
    }
    if (archive_was_sent(s, num)) {
        ctl_reply_say(s->reply, "get_dup", "num", argv[1], NULL);
        g_object_unref(msg);
        return;
    }
    switch (s->send_stopped ? SEND_STOPPED : send_check(s, 0, message_size(msg))) {
    case SEND_OK:
        break;
    case SEND_STOPPED:
        say_not_sent(s, &num, 1);
        g_object_unref(msg);
        return;
    case SEND_TOO_BIG:
        say_too_big(s, &num, 1);
        g_object_unref(msg);
        return;
    }
    {
        GMimeMessagePart *part = g_mime_message_part_new_with_message("rfc822", msg);
        ctl_reply_attach(s->reply, GMIME_OBJECT(part));
        g_object_unref(part);
    }
    archive_mark_sent(s, &num, 1);
    ctl_reply_say(s->reply, "get_attached", "num", argv[1], NULL);
    g_object_unref(msg);
}

static void
cmd_mget(CtlSession *s, char **argv, int argc)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    const char *why = NULL;
    gboolean plain = FALSE;
    GArray *nums, *fresh, *dup, *held, *big;
    GPtrArray *mails, *chunk_nums;
    GError *error = NULL;
    char *subject;
    guint queued = 0, sent_posts = 0;

    if (argc < 2 || argc > 3) {
        ctl_reply_say(s->reply, "usage", "usage", "mget RANGE [mime|plain]   (e.g. mget 1-10, mget last:5)", NULL);
        return;
    }
    if (argc == 3) {
        char *f = g_ascii_strdown(argv[2], -1);
        if (g_str_equal(f, "plain") || g_str_equal(f, "rfc1153") || g_str_equal(f, "text"))
            plain = TRUE;
        else if (!(g_str_equal(f, "mime") || g_str_equal(f, "mp") || g_str_equal(f, "digest"))) {
            ctl_reply_say(s->reply, "usage", "usage", "mget RANGE [mime|plain]", NULL);
            g_free(f);
            return;
        }
        g_free(f);
    }
    if (!ctl_archive_allowed(s)) {
        ctl_reply_say(s->reply, "not_allowed", NULL);
        return;
    }
    nums = digest_parse_range(argv[1], list_last_number(inst, list), MGET_MAX_POSTS, &why);
    if (!nums) {
        ctl_reply_say(s->reply, "bad_range", "range", argv[1], "reason", why, NULL);
        return;
    }
    if (nums->len == 0) {
        ctl_reply_say(s->reply, "no_such_post", "num", argv[1], NULL);
        g_array_unref(nums);
        return;
    }
    /* posts an earlier get/mget of this mail sent are not sent again */
    fresh = g_array_new(FALSE, FALSE, sizeof(gint64));
    dup = g_array_new(FALSE, FALSE, sizeof(gint64));
    held = g_array_new(FALSE, FALSE, sizeof(gint64));
    big = g_array_new(FALSE, FALSE, sizeof(gint64));
    for (guint i = 0; i < nums->len; i++) {
        gint64 n = g_array_index(nums, gint64, i);
        g_array_append_val(archive_was_sent(s, n) ? dup : fresh, n);
    }
    if (dup->len) {
        char *posts = digest_format_nums((gint64 *) (void *) dup->data, dup->len);
        ctl_reply_say(s->reply, "mget_dup", "posts", posts, "range", argv[1], NULL);
        g_free(posts);
    }
    if (fresh->len == 0)
        goto out;
    if (s->send_stopped) {
        say_not_sent(s, (gint64 *) (void *) fresh->data, fresh->len);
        goto out;
    }
    subject = g_strdup_printf("%s: mget %s", list, argv[1]);
    chunk_nums = g_ptr_array_new_with_free_func((GDestroyNotify) g_array_unref);
    {
        /* a mail must fit in send_limit_bytes too (a tenth left for the
         * headers and the table of contents) */
        gint64 split = list_setting_int(inst, list, "mget_max_size");
        gint64 lim_b = list_setting_int(inst, list, "send_limit_bytes");
        if (lim_b > 0 && (split <= 0 || split > lim_b - lim_b / 10))
            split = MAX(lim_b - lim_b / 10, 1);
        mails = digest_build_chunks_nums(inst, list, fresh, plain, subject, s->sender,
                                         (gsize) split, chunk_nums);
    }
    for (guint i = 0; i < mails->len; i++) {
        const char *rcpts[] = { s->sender };
        GArray *cn = chunk_nums->pdata[i];
        SendCheck c = s->send_stopped ? SEND_STOPPED : send_check(s, 1, message_size(mails->pdata[i]));
        if (c != SEND_OK) {
            /* too big: this one is skipped; stopped: it and the rest are held back */
            g_array_append_vals(c == SEND_TOO_BIG ? big : held, cn->data, cn->len);
            continue;
        }
        if (!notify_queue(inst, list, mails->pdata[i], rcpts, 1, &error))
            break;
        archive_mark_sent(s, (gint64 *) (void *) cn->data, cn->len);
        sent_posts += cn->len;
        queued++;
    }
    if (error)
        say_error(s, error);
    else if (queued > 0 || (held->len == 0 && big->len == 0)) {
        char *n = g_strdup_printf("%u", sent_posts), *m = g_strdup_printf("%u", queued);
        ctl_reply_say(s->reply, "mget_sent", "range", argv[1], "count", n, "mails", m, NULL);
        g_free(n);
        g_free(m);
    }
    if (big->len)
        say_too_big(s, (gint64 *) (void *) big->data, big->len);
    if (held->len)
        say_not_sent(s, (gint64 *) (void *) held->data, held->len);
    g_clear_error(&error);
    g_free(subject);
    g_ptr_array_unref(mails);
    g_ptr_array_unref(chunk_nums);
out:
    g_array_unref(fresh);
    g_array_unref(dup);
    g_array_unref(held);
    g_array_unref(big);
    g_array_unref(nums);
}

static void
format_date(gint64 t, char *buf, size_t n)
{
    time_t tt = (time_t) t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M", &tm);
}

/* append_index_line - one archive post as index shows it: number, date,
 * sender, size, subject. */
static void
append_index_line(GString *out, const ArchivePost *p)
{
    char when[32];
    char *dec = g_mime_utils_header_decode_text(NULL, p->subject);

    g_strdelimit(dec, "\r\n\t", ' ');
    format_date(p->date, when, sizeof(when));
    g_string_append_printf(out, "%6lld  %s  %-28s %7lld  %s\n", (long long) p->num,
                           when, p->from_addr ? p->from_addr : "", (long long) p->size, dec);
    g_free(dec);
}

static void
cmd_index(CtlSession *s)
{
    Instance *inst = s->in->inst;
    GString *out;
    GPtrArray *posts;
    guint n;

    if (!ctl_archive_allowed(s)) {
        ctl_reply_say(s->reply, "not_allowed", NULL);
        return;
    }
    out = g_string_new(NULL);
    posts = archive_list(inst, s->in->list, 0, INDEX_MAX_LINES, TRUE);   /* the newest, shown oldest first */
    n = posts->len;
    for (guint i = n; i > 0; i--)
        append_index_line(out, posts->pdata[i - 1]);
    g_ptr_array_unref(posts);
    if (n == 0)
        ctl_reply_say(s->reply, "archive_empty", NULL);
    else
        ctl_reply_raw(s->reply, out->str);
    g_string_free(out, TRUE);
}

/* cmd_search - search WORDS: the posts holding every word (subject,
 * author or text; archive_search.c), newest first, as index shows them. */
static void
cmd_search(CtlSession *s, char **argv, int argc)
{
    Instance *inst = s->in->inst;
    char *words;
    GArray *nums;
    GString *out;

    if (!ctl_archive_allowed(s)) {
        ctl_reply_say(s->reply, "not_allowed", NULL);
        return;
    }
    if (argc < 2) {
        ctl_reply_say(s->reply, "usage", "usage", "search WORD [WORD...]", NULL);
        return;
    }
    words = g_strjoinv(" ", argv + 1);
    archive_search_update(inst, s->in->list, 5000);    /* posts since the last search */
    nums = archive_search(inst, s->in->list, words, INDEX_MAX_LINES);
    out = g_string_new(NULL);
    for (guint i = 0; i < nums->len; i++) {
        ArchivePost *p = archive_get(inst, s->in->list, g_array_index(nums, gint64, i));
        if (p)
            append_index_line(out, p);
        archive_post_free(p);
    }
    if (out->len == 0)
        ctl_reply_say(s->reply, "search_none", "words", words, NULL);
    else
        ctl_reply_raw(s->reply, out->str);
    g_string_free(out, TRUE);
    g_array_unref(nums);
    g_free(words);
}

static void
cmd_members(CtlSession *s, gboolean actives_only)
{
    GPtrArray *m;
    GString *out;
    char *count;
    guint shown = 0;

    if (!members_allowed(s)) {
        ctl_reply_say(s->reply, "not_allowed", NULL);
        return;
    }
    m = member_list(s->in->inst, s->in->list);
    out = g_string_new(NULL);
    for (guint i = 0; i < m->len; i++) {
        Member *x = m->pdata[i];
        if (actives_only && (x->nomail || x->post_only))
            continue;
        if (x->hide_address && !s->is_owner)     /* hide_address: owners still see it */
            continue;
        g_string_append_printf(out, "  %s%s%s%s\n", x->address, x->digest ? " (digest)" : "",
                               !actives_only && x->nomail ? " (nomail)" : "",
                               !actives_only && x->post_only ? " (post only)" : "");
        shown++;
    }
    count = g_strdup_printf("%u", shown);
    ctl_reply_say(s->reply, actives_only ? "actives_count" : "members_count", "count", count, NULL);
    ctl_reply_raw(s->reply, out->str);
    g_free(count);
    g_string_free(out, TRUE);
    g_ptr_array_unref(m);
}

static void
cmd_status(CtlSession *s)
{
    Member *m = member_get(s->in->inst, s->in->list, s->sender);
    char since[32], *score;

    if (!m) {
        ctl_reply_say(s->reply, "not_member_addr", "address", s->sender, NULL);
        return;
    }
    format_date(m->since, since, sizeof(since));
    score = g_strdup_printf("%.1f", m->bounce_score);
    ctl_reply_say(s->reply, "status", "address", m->address, "name", m->name ? m->name : "",
                  "since", since, "mail", m->nomail ? "off" : "on", "digest", m->digest ? "on" : "off",
                  "reason", m->disabled_reason ? m->disabled_reason : "-", "bounce_score", score, NULL);
    g_free(score);
    {
        size_t n = 0;
        const MemberOptDef *defs = memberopts_table(&n);
        GString *o = g_string_new(NULL);
        for (size_t i = 0; i < n; i++) {
            char *v;
            if (g_str_equal(defs[i].name, "digest"))
                continue;           /* in the status text already */
            v = memberopts_value(m, &defs[i]);
            g_string_append_printf(o, "  %s %s\n", defs[i].name, v);
            g_free(v);
        }
        ctl_reply_say(s->reply, "status_options", NULL);
        ctl_reply_raw(s->reply, o->str);
        g_string_free(o, TRUE);
    }
    member_free(m);
}

static void
cmd_summary(CtlSession *s)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    char *members = g_strdup_printf("%" G_GINT64_FORMAT, member_count(inst, list));
    char *posts = g_strdup_printf("%" G_GINT64_FORMAT, list_last_number(inst, list));
    char *desc = list_setting(inst, list, "description");
    char *sp = list_setting(inst, list, "subscribe_policy"), *pp = list_setting(inst, list, "post_policy");
    char *addr = list_address(inst, list, NULL);

    ctl_reply_say(s->reply, "summary", "address", addr, "description", desc, "members", members,
                  "posts", posts, "subscribe_policy", sp, "post_policy", pp, NULL);
    g_free(members);
    g_free(posts);
    g_free(desc);
    g_free(sp);
    g_free(pp);
    g_free(addr);
}

static gboolean
need_member(CtlSession *s)
{
    if (member_is(s->in->inst, s->in->list, s->sender))
        return TRUE;
    ctl_reply_say(s->reply, "not_member_addr", "address", s->sender, NULL);
    return FALSE;
}

/* flag_key - the reply text of a member flag now set. */
static const char *
flag_key(const char *flag, gboolean on)
{
    if (g_str_equal(flag, "digest"))
        return on ? "digest_on" : "digest_off";
    return on ? "mail_off" : "mail_on";     /* nomail on = no mail */
}

/* send_member_token - mail the member's own address a token for action
 * (extra kept with it) through template tmpl; vars may add {{change}}. */
static gboolean
send_member_token(CtlSession *s, const char *action, const char *extra, const char *tmpl,
                  const char *change, GError **error)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    gint64 lifetime = list_setting_int(inst, list, "confirm_expiry");
    char *token = token_create(inst, list, action, s->sender, extra, lifetime, error);
    char *ctl, *hours, *url = NULL, *web, *hint;
    GHashTable *vars;
    GMimeMessage *msg;
    gboolean ok;

    if (!token)
        return FALSE;
    if (g_str_equal(action, PASSWORD_ACTION) && (web = list_web_url(inst, list))) {
        url = g_strdup_printf("%s%spassword/%s", web, g_str_has_suffix(web, "/") ? "" : "/", token);
        g_free(web);
    }
    ctl = list_address(inst, list, "-ctl");
    hours = g_strdup_printf("%" G_GINT64_FORMAT, lifetime / 3600);
    vars = template_vars_new();
    template_var(vars, "address", s->sender);
    template_var(vars, "token", token);
    template_var(vars, "hours", hours);
    template_var(vars, "change", change ? change : "");
    hint = url ? ctl_text(s->reply, "password_web_hint", "url", url, NULL) : g_strdup("");
    template_var(vars, "url", url ? url : "");
    template_var(vars, "web_hint", hint);
    msg = notify_build(inst, list, tmpl, vars, ctl, s->sender, NULL, NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "Reply-To", ctl, NULL);
    {
        const char *rcpts[] = { s->sender };
        ok = notify_queue(inst, list, msg, rcpts, 1, error);
    }
    if (ok)
        log_info("%s: %s confirmation sent to <%s>", list, action, s->sender);
    g_object_unref(msg);
    g_hash_table_unref(vars);
    g_free(token);
    g_free(url);
    g_free(hint);
    g_free(ctl);
    g_free(hours);
    return ok;
}

/* request_change - mail the member's own address a token for action
 * (extra says what it changes, change in words) and say so; a mail that
 * could not be queued gives its rate-limit count back. */
static void
request_change(CtlSession *s, const char *action, const char *extra, const char *change)
{
    GError *error = NULL;

    if (!send_member_token(s, action, extra, "confirm_change", change, &error)) {
        ratelimit_give_back(s->in->inst, s->in->list, RATE_CONFIRM, s->sender);
        say_error(s, error);
        g_clear_error(&error);
    } else {
        ctl_reply_say(s->reply, "change_confirm_sent", "address", s->sender, NULL);
    }
}

/* cmd_flag - digest on|off, nomail, mail: nothing changes until the
 * member's own address answers the confirmation request. */
static void
cmd_flag(CtlSession *s, const char *flag, gboolean on)
{
    char *extra, *change;

    if (!need_member(s) || !confirm_allowed(s, s->sender))
        return;
    extra = g_strdup_printf("%s=%s", flag, on ? "on" : "off");
    {
        char *key = g_strdup_printf("change_%s_%s", flag, on ? "on" : "off");
        change = ctl_text(s->reply, key, "address", s->sender, NULL);
        g_free(key);
    }
    request_change(s, "member-flag", extra, change);
    g_free(extra);
    g_free(change);
}

/* confirm_flag - the member answered a member-flag token: apply it. */
static void
confirm_flag(CtlSession *s, const char *address, const char *extra)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    GError *error = NULL;
    const char *eq = extra ? strchr(extra, '=') : NULL;
    char *flag = eq ? g_strndup(extra, eq - extra) : NULL;
    gboolean on = eq && g_str_equal(eq + 1, "on");

    if (!flag || !(g_str_equal(flag, "digest") || g_str_equal(flag, "nomail"))) {
        ctl_reply_say(s->reply, "token_unknown", NULL);
    } else if (!member_is(inst, list, address)) {
        ctl_reply_say(s->reply, "not_member_addr", "address", address, NULL);
    } else if (!member_set_flag(inst, list, address, flag, on, &error)) {
        say_error(s, error);
        g_clear_error(&error);
    } else {
        if (g_str_equal(flag, "nomail") && !on)
            reset_bounces(inst, list, address);
        log_info("%s: <%s> set %s %s (confirmed)", list, address, flag, on ? "on" : "off");
        ctl_reply_say(s->reply, flag_key(flag, on), "address", address, NULL);
    }
    g_free(flag);
}

/* cmd_set - set OPTION VALUE (memberopts.c): checked now, changed only
 * when the member's own address answers the confirmation request. */
static void
cmd_set(CtlSession *s, char **argv, int argc)
{
    const MemberOptDef *def = argc >= 2 ? memberopts_find(argv[1]) : NULL;
    GError *error = NULL;
    char *value, *norm, *extra, *change;

    if (argc < 3 || !def || !def->member_may) {
        char *names = memberopts_names(TRUE);
        char *usage = g_strdup_printf("set OPTION on|off, set vacation until YYYY-MM-DD, set vacation off"
                                      " (options: %s)", names);
        ctl_reply_say(s->reply, "usage", "usage", usage, NULL);
        g_free(usage);
        g_free(names);
        return;
    }
    value = g_strjoinv(" ", argv + 2);
    norm = memberopts_normalize(def, value, &error);
    g_free(value);
    if (!norm) {
        say_error(s, error);
        g_clear_error(&error);
        return;
    }
    if (!need_member(s) || !confirm_allowed(s, s->sender)) {
        g_free(norm);
        return;
    }
    extra = g_strdup_printf("%s=%s", def->name, norm);
    {
        char *shown = def->type == MEMBEROPT_DATE && !g_str_equal(norm, "off") ? g_strdup_printf("until %s", norm)
                                                                               : g_strdup(norm);
        change = ctl_text(s->reply, "change_option", "option", def->name, "value", shown, "address", s->sender,
                          NULL);
        g_free(shown);
    }
    request_change(s, "member-option", extra, change);
    g_free(extra);
    g_free(change);
    g_free(norm);
}

/* confirm_option - the member answered a member-option token: apply it. */
static void
confirm_option(CtlSession *s, const char *address, const char *extra)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    GError *error = NULL;
    const char *eq = extra ? strchr(extra, '=') : NULL;
    char *name = eq ? g_strndup(extra, eq - extra) : NULL;
    const MemberOptDef *def = memberopts_find(name);

    if (!def || !def->member_may) {
        ctl_reply_say(s->reply, "token_unknown", NULL);
    } else if (!member_is(inst, list, address)) {
        ctl_reply_say(s->reply, "not_member_addr", "address", address, NULL);
    } else if (!memberopts_set(inst, list, address, def->name, eq + 1, &error)) {
        say_error(s, error);
        g_clear_error(&error);
    } else {
        Member *m = member_get(inst, list, address);
        char *v = m ? memberopts_value(m, def) : g_strdup(eq + 1);
        log_info("%s: <%s> set %s %s (confirmed)", list, address, def->name, eq + 1);
        ctl_reply_say(s->reply, "option_set", "option", def->name, "value", v, "address", address, NULL);
        g_free(v);
        member_free(m);
    }
    g_free(name);
}

/* cmd_password - never takes a password from the mail: mails the
 * member's own address a single-use way to set one (web link and/or
 * `confirm TOKEN`).  `password NEW` only says so. */
static void
cmd_password(CtlSession *s, int argc)
{
    GError *error = NULL;

    if (argc > 1)
        ctl_reply_say(s->reply, "password_not_from_mail", NULL);
    if (!need_member(s) || !confirm_allowed(s, s->sender))
        return;
    if (!send_member_token(s, PASSWORD_ACTION, NULL, "password_request", NULL, &error)) {
        ratelimit_give_back(s->in->inst, s->in->list, RATE_CONFIRM, s->sender);
        say_error(s, error);
        g_clear_error(&error);
        return;
    }
    ctl_reply_say(s->reply, "password_request_sent", "address", s->sender, NULL);
}

/* new_password - a random password of 16 characters from 32 without
 * look-alikes (no 0, 1, l, o): 80 bits, evenly distributed. */
static char *
new_password(void)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
    char *hex = random_hex(16);
    char *out = g_malloc(17);

    G_STATIC_ASSERT(sizeof(alphabet) - 1 == 32);
    for (int i = 0; i < 16; i++) {
        unsigned v = (unsigned) g_ascii_xdigit_value(hex[2 * i]) * 16u +
                     (unsigned) g_ascii_xdigit_value(hex[2 * i + 1]);
        out[i] = alphabet[v & 31u];
    }
    out[16] = '\0';
    memset(hex, 0, strlen(hex));
    g_free(hex);
    return out;
}

/* confirm_password - the member answered a pop-password token by mail:
 * a fresh random password is stored and mailed to address, the token's
 * own (member) address, never to whoever sent the confirm. */
static void
confirm_password(CtlSession *s, const char *address)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    GError *error = NULL;
    GHashTable *vars;
    char *pw;
    gboolean ok;

    if (!member_is(inst, list, address)) {
        ctl_reply_say(s->reply, "not_member_addr", "address", address, NULL);
        return;
    }
    pw = new_password();
    ok = member_set_pop_password(inst, list, address, pw, &error);
    if (ok) {
        vars = template_vars_new();
        template_var(vars, "address", address);
        template_var(vars, "password", pw);
        ok = notify_send(inst, list, "password_new", vars, address, NULL, NULL, &error);
        g_hash_table_unref(vars);
    }
    memset(pw, 0, strlen(pw));
    g_free(pw);
    if (!ok) {
        say_error(s, error);
        g_clear_error(&error);
        return;
    }
    log_info("%s: POP3 password of <%s> set by confirmation (mailed to the member)", list, address);
    ctl_reply_say(s->reply, "password_mailed", "address", address, NULL);
}

void
ctl_member_command(CtlSession *s, char **argv, int argc)
{
    const char *c = argv[0];

    if (g_str_equal(c, "help") || g_str_equal(c, "guide")) {
        char *t = text_template(s, c);
        ctl_reply_raw(s->reply, t);
        g_free(t);
    } else if (g_str_equal(c, "subscribe")) {
        cmd_subscribe(s, argv, argc);
    } else if (g_str_equal(c, "confirm")) {
        cmd_confirm(s, argv, argc);
    } else if (g_str_equal(c, "unsubscribe") || g_str_equal(c, "bye") || g_str_equal(c, "signoff")) {
        cmd_unsubscribe(s);
    } else if (g_str_equal(c, "chaddr")) {
        cmd_chaddr(s, argv, argc);
    } else if (g_str_equal(c, "get")) {
        cmd_get(s, argv, argc);
    } else if (g_str_equal(c, "mget")) {
        cmd_mget(s, argv, argc);
    } else if (g_str_equal(c, "index")) {
        cmd_index(s);
    } else if (g_str_equal(c, "search")) {
        cmd_search(s, argv, argc);
    } else if (g_str_equal(c, "members")) {
        cmd_members(s, FALSE);
    } else if (g_str_equal(c, "actives")) {
        cmd_members(s, TRUE);
    } else if (g_str_equal(c, "status")) {
        cmd_status(s);
    } else if (g_str_equal(c, "summary")) {
        cmd_summary(s);
    } else if (g_str_equal(c, "digest")) {
        if (argc == 2 && g_ascii_strcasecmp(argv[1], "on") == 0)
            cmd_flag(s, "digest", TRUE);
        else if (argc == 2 && g_ascii_strcasecmp(argv[1], "off") == 0)
            cmd_flag(s, "digest", FALSE);
        else
            ctl_reply_say(s->reply, "usage", "usage", "digest on|off", NULL);
    } else if (g_str_equal(c, "nomail")) {
        cmd_flag(s, "nomail", TRUE);
    } else if (g_str_equal(c, "mail")) {
        cmd_flag(s, "nomail", FALSE);
    } else if (g_str_equal(c, "password") || g_str_equal(c, "passwd")) {
        cmd_password(s, argc);
    } else if (g_str_equal(c, "set")) {
        cmd_set(s, argv, argc);
    } else {
        ctl_reply_say(s->reply, "unknown_command", NULL);
    }
}
