/* autorespond.c - auto-responses (RFC 3834) to mail for a list.
 *
 * autorespond_posts, autorespond_admin, autorespond_ctl (yes|no) each
 * with a text (autorespond_posts_text, ...): the response is template
 * "autoresponse" with that text, sent to the envelope sender of the mail
 * answered (RFC 3834 section 4), never to automatic mail
 * (notify_is_automatic: Auto-Submitted, Precedence bulk/junk/list, null
 * sender, MAILER-DAEMON) and never to an address of a list here.  One
 * response per (list, kind, sender) per autorespond_grace (Mailman's
 * autoresponse_grace_period; 0 = every mail): the time of the last one is
 * kept in the autoresponses table. */
#include "config.h"
#include "autorespond.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "template.h"
#include "util.h"

#include <string.h>

gboolean
autorespond_wanted(Instance *inst, const char *list, const char *kind, GMimeMessage *msg,
                   const char *envelope_sender)
{
    char *key = g_strdup_printf("autorespond_%s", kind);
    gboolean on = list_setting_bool(inst, list, key);
    g_free(key);
    return on && !notify_is_automatic(msg, envelope_sender);
}

/* claim - TRUE if no response went to `to` within the grace period;
 * records now as the time of the response (in one statement: two mails
 * at once get one response). */
static gboolean
claim(Instance *inst, const char *list, const char *kind, const char *to)
{
    gint64 grace = list_setting_int(inst, list, "autorespond_grace");
    gint64 now = now_seconds();
    sqlite3_stmt *st = db_prepare(inst->db,
        "INSERT INTO autoresponses(list, kind, address, sent) VALUES(?1, ?2, ?3, ?4)"
        " ON CONFLICT(list, kind, address) DO UPDATE SET sent = ?4 WHERE ?5 <= 0 OR sent <= ?4 - ?5"
        " OR sent > ?4");
    GError *e = NULL;
    gboolean ok;

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, grace);
    ok = db_step_done(st, &e);
    if (!ok) {
        log_warn("%s: auto-response to <%s> not sent: %s", list, to, e->message);
        g_error_free(e);
        return FALSE;
    }
    return sqlite3_changes(inst->db) > 0;
}

void
autorespond_send(Instance *inst, const char *list, const char *kind, const char *to, const char *subject,
                 const char *message_id)
{
    char *key, *text, *l;
    GHashTable *vars;
    GError *e = NULL;

    if (!to || !*to)
        return;
    if ((l = list_of_address(inst, to))) {
        g_free(l);
        return;
    }
    if (!claim(inst, list, kind, to)) {
        log_info("%s: no auto-response (%s) to <%s>: one was sent within autorespond_grace", list, kind, to);
        return;
    }
    key = g_strdup_printf("autorespond_%s_text", kind);
    text = list_setting(inst, list, key);
    vars = template_vars_new();
    template_var(vars, "text", text);
    template_var(vars, "subject", subject ? subject : "");
    template_var(vars, "address", to);
    if (!notify_send(inst, list, "autoresponse", vars, to, message_id, NULL, &e)) {
        log_warn("%s: auto-response (%s) to <%s> not queued: %s", list, kind, to, e->message);
        g_error_free(e);
    }
    g_hash_table_unref(vars);
    g_free(text);
    g_free(key);
}
