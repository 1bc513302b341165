/* held.c - posts held for the moderators: the mail as received is kept
 * in spool/LIST/held/ID (written atomically) with a row in the held
 * table; the moderators get a notice with the post attached.  approve
 * sends it through distribute_post (no second policy check), an
 * Approved: header or line taken out first (moderation.c); reject
 * drops it and, if asked, tells the sender why.  The subcommands held,
 * approve and reject are src/cli/held.c.  Retention (maintain.c's tasks):
 * held_expire discards posts older than max_days_to_hold, held_remind
 * mails the moderators the list of what waits. */
#include "config.h"
#include "held.h"
#include "distribute.h"
#include "message.h"
#include "moderation.h"
#include "address.h"
#include "db.h"
#include "lists.h"
#include "domains.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "template.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *
held_path(const Instance *inst, const char *list, const char *id)
{
    return instance_path(inst, "spool", list, "held", id, NULL);
}

char *
held_store(Instance *inst, const char *list, Incoming *in, const char *reason, GError **error)
{
    char *id = random_hex(4);
    char *path = held_path(inst, list, id);
    char *tmpdir = instance_path(inst, "spool", list, "held", NULL);
    const char *subject = g_mime_message_get_subject(in->msg);
    const char *sender = in->from_addr ? in->from_addr : in->envelope_sender;
    sqlite3_stmt *st;
    char **moderators;

    /* the post as received, unless an Approved: password was taken out of it */
    const GByteArray *bytes = in->stored ? in->stored : in->raw;

    if (!mkdir_p(tmpdir, 0750, error) ||
        !write_file_atomic(path, tmpdir, bytes->data, bytes->len, error))
        goto fail;
    st = db_prepare(inst->db, "INSERT INTO held(list, id, created, sender, subject, reason, size)"
                              " VALUES(?, ?, ?, ?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_seconds());
    sqlite3_bind_text(st, 4, sender, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, subject ? subject : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, bytes->len);
    if (!db_step_done(st, error)) {
        unlink(path);
        goto fail;
    }
    log_info("%s: post from <%s> held as %s: %s", list, sender, id, reason);

    moderators = list_moderators(inst, list);
    for (int i = 0; moderators[i]; i++) {
        GHashTable *vars = template_vars_new();
        GError *e = NULL;
        template_var(vars, "id", id);
        template_var(vars, "sender", sender);
        template_var(vars, "subject", subject ? subject : "");
        template_var(vars, "reason", reason);
        if (!notify_send(inst, list, "held_notice", vars, moderators[i], NULL, in->msg, &e)) {
            log_warn("%s: cannot notify moderator %s: %s", list, moderators[i], e->message);
            g_error_free(e);
        }
        g_hash_table_unref(vars);
    }
    if (!moderators[0])
        log_warn("%s: post held as %s but the list has no owners or moderators to tell", list, id);
    g_strfreev(moderators);
    g_free(path);
    g_free(tmpdir);
    return id;
fail:
    g_free(id);
    g_free(path);
    g_free(tmpdir);
    return NULL;
}

static gboolean
held_exists(Instance *inst, const char *list, const char *id, char **sender, char **subject)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT sender, subject FROM held WHERE list = ? AND id = ?");
    gboolean found;
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    if (found && sender)
        *sender = g_strdup((const char *) sqlite3_column_text(st, 0));
    if (found && subject)
        *subject = g_strdup((const char *) sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return found;
}

static gboolean
held_delete(Instance *inst, const char *list, const char *id, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db, "DELETE FROM held WHERE list = ? AND id = ?");
    char *path = held_path(inst, list, id);
    gboolean ok;
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    ok = db_step_done(st, error);
    if (ok)
        unlink(path);
    g_free(path);
    return ok;
}

gboolean
held_approve(Instance *inst, const char *list, const char *id, gint64 *num, GError **error)
{
    char *path, *data = NULL, *sender = NULL;
    gsize len = 0;
    GMimeMessage *msg;
    gboolean ok;

    if (!str_is_safe_name(id, FALSE) || !held_exists(inst, list, id, &sender, NULL)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no held post %s in %s", id, list);
        return FALSE;
    }
    path = held_path(inst, list, id);
    if (!g_file_get_contents(path, &data, &len, NULL)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "held post %s: file %s is missing", id, path);
        g_free(path);
        g_free(sender);
        return FALSE;
    }
    msg = parse_message_bytes((guint8 *) data, len);
    if (msg)
        g_free(moderation_approved_take(msg));   /* a wrong (or any) Approved: never goes out */
    ok = msg && distribute_post(inst, list, msg, sender, num, error);
    if (!msg)
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "held post %s cannot be parsed", id);
    if (ok)
        ok = held_delete(inst, list, id, error);
    if (ok)
        log_info("%s: held post %s approved as %" G_GINT64_FORMAT, list, id, *num);
    if (msg)
        g_object_unref(msg);
    g_free(data);
    g_free(path);
    g_free(sender);
    return ok;
}

gboolean
held_reject(Instance *inst, const char *list, const char *id, const char *reason,
            gboolean notify_sender, GError **error)
{
    char *sender = NULL, *subject = NULL;
    gboolean ok;

    if (!str_is_safe_name(id, FALSE) || !held_exists(inst, list, id, &sender, &subject)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no held post %s in %s", id, list);
        return FALSE;
    }
    ok = held_delete(inst, list, id, error);
    if (ok && notify_sender && sender && !address_is_mailer_daemon(sender)) {
        GHashTable *vars = template_vars_new();
        template_var(vars, "subject", subject);
        template_var(vars, "reason", reason && *reason ? reason : "(no reason given)");
        ok = notify_send(inst, list, "held_rejected", vars, sender, NULL, NULL, error);
        g_hash_table_unref(vars);
    }
    if (ok)
        log_info("%s: held post %s rejected%s%s", list, id, reason ? ": " : "", reason ? reason : "");
    g_free(sender);
    g_free(subject);
    return ok;
}

void
held_list_print(Instance *inst, const char *list)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT id, created, sender, subject, reason, size FROM held"
                                            " WHERE list = ? ORDER BY created, id");
    int n = 0;
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char when[32];
        time_t t = (time_t) sqlite3_column_int64(st, 1);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        printf("%s  %s  %-30s %7lld  %s\n      reason: %s\n", sqlite3_column_text(st, 0), when,
               sqlite3_column_text(st, 2), (long long) sqlite3_column_int64(st, 5),
               sqlite3_column_text(st, 3), sqlite3_column_text(st, 4));
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0)
        printf("no held posts in %s\n", list);
}

/* ---- retention (the held_expire and held_reminder tasks of maintain.c) ---- */

typedef struct {
    char *id, *sender, *subject;
    gint64 created;
} HeldRow;

static void
held_row_free(gpointer p)
{
    HeldRow *r = p;
    g_free(r->id);
    g_free(r->sender);
    g_free(r->subject);
    g_free(r);
}

/* held_rows - the held posts of list created before `before`, oldest first. */
static GPtrArray *
held_rows(Instance *inst, const char *list, gint64 before)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT id, created, sender, subject FROM held"
                                            " WHERE list = ? AND created < ? ORDER BY created, id");
    GPtrArray *rows = g_ptr_array_new_with_free_func(held_row_free);
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, before);
    while (sqlite3_step(st) == SQLITE_ROW) {
        HeldRow *r = g_new0(HeldRow, 1);
        r->id = g_strdup((const char *) sqlite3_column_text(st, 0));
        r->created = sqlite3_column_int64(st, 1);
        r->sender = g_strdup((const char *) sqlite3_column_text(st, 2));
        r->subject = g_strdup(sqlite3_column_text(st, 3) ? (const char *) sqlite3_column_text(st, 3) : "");
        g_ptr_array_add(rows, r);
    }
    sqlite3_finalize(st);
    return rows;
}

/* held_sender_told - may the sender of a held post be told it expired?
 * Not when it is a null or MAILER-DAEMON address, nor when the post is
 * automatic mail (Auto-Submitted, Precedence bulk/junk/list, our loop
 * marker: notify_is_automatic), nor when the file cannot be read. */
static gboolean
held_sender_told(Instance *inst, const char *list, const HeldRow *r)
{
    char *path = held_path(inst, list, r->id), *data = NULL;
    gsize len = 0;
    gboolean ok = FALSE;

    if (r->sender && *r->sender && !address_is_mailer_daemon(r->sender) &&
        g_file_get_contents(path, &data, &len, NULL)) {
        GMimeMessage *msg = parse_message_bytes((guint8 *) data, len);
        ok = msg && !notify_is_automatic(msg, r->sender);
        if (msg)
            g_object_unref(msg);
    }
    g_free(data);
    g_free(path);
    return ok;
}

int
held_expire(Instance *inst, const char *list, gint64 now, gint64 max_days, gboolean dry_run,
            GString *report, GError **error)
{
    GPtrArray *rows;
    int n = 0;

    if (max_days <= 0)
        return 0;
    rows = held_rows(inst, list, now - max_days * 86400);
    for (guint i = 0; i < rows->len; i++) {
        HeldRow *r = rows->pdata[i];
        gboolean tell = held_sender_told(inst, list, r);
        gint64 days = (now - r->created) / 86400;

        if (dry_run) {
            g_string_append_printf(report, "%s: would discard held post %s from <%s> (%" G_GINT64_FORMAT
                                   " days old)%s\n", list, r->id, r->sender ? r->sender : "",
                                   days, tell ? ", telling the sender" : "");
            n++;
            continue;
        }
        /* the notice is queued first: if that fails the post stays held
         * (and is tried again next time); nothing is lost */
        if (tell) {
            GHashTable *vars = template_vars_new();
            char *sdays = g_strdup_printf("%" G_GINT64_FORMAT, max_days);
            gboolean ok;
            template_var(vars, "subject", r->subject);
            template_var(vars, "days", sdays);
            ok = notify_send(inst, list, "held_expired", vars, r->sender, NULL, NULL, error);
            g_hash_table_unref(vars);
            g_free(sdays);
            if (!ok) {
                n = -1;
                break;
            }
        }
        if (!held_delete(inst, list, r->id, error)) {
            n = -1;
            break;
        }
        log_info("%s: held post %s from <%s> discarded after %" G_GINT64_FORMAT " days (max_days_to_hold)%s",
                 list, r->id, r->sender ? r->sender : "", days, tell ? ", sender told" : "");
        g_string_append_printf(report, "%s: discarded held post %s from <%s> (%" G_GINT64_FORMAT " days old)%s\n",
                               list, r->id, r->sender ? r->sender : "", days, tell ? ", sender told" : "");
        n++;
    }
    g_ptr_array_unref(rows);
    return n;
}

/* held_age - "3d 04h" or "5h 10m": how long a post has waited. */
static char *
held_age(gint64 seconds)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds >= 86400)
        return g_strdup_printf("%" G_GINT64_FORMAT "d %02" G_GINT64_FORMAT "h", seconds / 86400,
                               seconds % 86400 / 3600);
    return g_strdup_printf("%" G_GINT64_FORMAT "h %02" G_GINT64_FORMAT "m", seconds / 3600, seconds % 3600 / 60);
}

int
held_remind(Instance *inst, const char *list, gint64 now, gint64 max_days, gboolean dry_run, GString *report,
            GError **error)
{
    GPtrArray *rows = held_rows(inst, list, G_MAXINT64);
    char **moderators;
    GString *posts;
    char *web_url, *url, *count;
    int sent = 0;

    /* the posts held_expire discards (now, or in the same dry run) are not waiting any more */
    for (guint i = rows->len; max_days > 0 && i-- > 0;)
        if (((HeldRow *) rows->pdata[i])->created < now - max_days * 86400)
            g_ptr_array_remove_index(rows, i);
    if (rows->len == 0) {
        g_ptr_array_unref(rows);
        return 0;
    }
    moderators = list_moderators(inst, list);
    if (dry_run || !moderators[0]) {
        g_string_append_printf(report, "%s: %s %u moderator(s) of %u held post(s)\n", list,
                               dry_run ? "would remind" : "no moderator to remind", g_strv_length(moderators),
                               rows->len);
        g_strfreev(moderators);
        g_ptr_array_unref(rows);
        return 0;
    }
    posts = g_string_new(NULL);
    for (guint i = 0; i < rows->len; i++) {
        HeldRow *r = rows->pdata[i];
        char *age = held_age(now - r->created);
        g_string_append_printf(posts, "  %s  %-8s  %s\n      %s\n", r->id, age, r->sender ? r->sender : "",
                               r->subject);
        g_free(age);
    }
    web_url = list_web_url(inst, list);
    url = web_url ? g_strdup_printf("%s%sadmin/%s/held", web_url, g_str_has_suffix(web_url, "/") ? "" : "/", list)
                  : g_strdup_printf("(kairan web) /admin/%s/held", list);
    count = g_strdup_printf("%u", rows->len);
    for (int i = 0; moderators[i]; i++) {
        GHashTable *vars = template_vars_new();
        gboolean ok;
        template_var(vars, "count", count);
        template_var(vars, "posts", posts->str);
        template_var(vars, "held_url", url);
        ok = notify_send(inst, list, "held_reminder", vars, moderators[i], NULL, NULL, error);
        g_hash_table_unref(vars);
        if (!ok) {
            sent = -1;
            break;
        }
        sent++;
    }
    if (sent > 0) {
        log_info("%s: %d moderator(s) reminded of %u held post(s)", list, sent, rows->len);
        g_string_append_printf(report, "%s: reminded %d moderator(s) of %u held post(s)\n", list, sent, rows->len);
    }
    g_free(count);
    g_free(url);
    g_free(web_url);
    g_string_free(posts, TRUE);
    g_strfreev(moderators);
    g_ptr_array_unref(rows);
    return sent;
}
