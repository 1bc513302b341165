/* bounce_warn.c - what follows in time when bounces disabled a member
 * (Mailman's bounce_you_are_disabled_warnings and bounce_info_stale_after),
 * two tasks of maintain.c's table:
 *
 *  bounce_warnings: each member whose delivery bounces turned off
 *    (nomail, disabled_reason "bounce...", not post-only; never one who
 *    chose nomail) gets the bounce_disabled_warning mail at most once per
 *    bounce_warn_interval, bounce_warnings of them in all; each carries a
 *    fresh "reenable" token (confirm TOKEN turns delivery on, as the
 *    probe's does).  One interval after the last warning the member is
 *    removed (member_remove_reason "bounce") and the owners get
 *    bounce_removed_warned, once: the row is gone after it.  With
 *    bounce_warnings = 0 the member is removed at the next run.  The
 *    count and the time of the last warning are members.bounce_warnings
 *    and members.bounce_warned; a trigger of the schema (db.c) clears
 *    them whenever delivery is turned on again or the reason is no longer
 *    a bounce, whatever the path (mail/confirm, web).  A list
 *    address (an imported row) is never mailed; it is still counted.
 *
 *  bounce_stale: the bounce score of a member whose delivery is on is
 *    reset to 0 once the last counted bounce is older than
 *    bounce_stale_after (0 = never); a disabled member keeps the score
 *    the owners were told.
 *
 * Both obey --dry-run: the report says what would be sent, removed or
 * reset, and nothing changes. */
#include "config.h"
#include "maintain.h"
#include "db.h"
#include "domains.h"
#include "lists.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "template.h"
#include "token.h"
#include "util.h"

typedef struct {
    char *address;
    gint64 warnings;     /* warnings sent so far */
    gint64 warned;       /* when the last one went (0 = none) */
    double score;
} Disabled;

static void
disabled_free(Disabled *d)
{
    g_free(d->address);
    g_free(d);
}

/* disabled_members - the list's members whose delivery bounces disabled. */
static GPtrArray *
disabled_members(Instance *inst, const char *list)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) disabled_free);
    sqlite3_stmt *st = db_prepare(inst->db,
        "SELECT address, bounce_warnings, bounce_warned, bounce_score FROM members"
        " WHERE list = ? AND nomail = 1 AND post_only = 0 AND disabled_reason LIKE 'bounce%'"
        " ORDER BY address");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        Disabled *d = g_new0(Disabled, 1);
        d->address = g_strdup((const char *) sqlite3_column_text(st, 0));
        d->warnings = sqlite3_column_int64(st, 1);
        d->warned = sqlite3_column_int64(st, 2);
        d->score = sqlite3_column_double(st, 3);
        g_ptr_array_add(out, d);
    }
    sqlite3_finalize(st);
    return out;
}

/* options_url - the member's options page, or where it is under kairan web. */
static char *
options_url(const Instance *inst, const char *list)
{
    char *web = list_web_url(inst, list);
    char *url = web ? g_strdup_printf("%s%slist/%s/options", web, g_str_has_suffix(web, "/") ? "" : "/", list)
                    : g_strdup_printf("(kairan web) /list/%s/options", list);
    g_free(web);
    return url;
}

static char *
utc_date(gint64 t)
{
    GDateTime *dt = g_date_time_new_from_unix_utc(t);
    char *s = dt ? g_date_time_format(dt, "%Y-%m-%d") : g_strdup("?");
    if (dt)
        g_date_time_unref(dt);
    return s;
}

/* send_warning - warning number n (1-based) of total to address. */
static gboolean
send_warning(MaintainCtx *c, const char *address, gint64 n, gint64 total, gint64 interval, GError **error)
{
    gint64 life = MAX(interval, list_setting_int(c->inst, c->list, "confirm_expiry"));
    char *token = token_create(c->inst, c->list, "reenable", address, NULL, life, error);
    char *ctl, *url, *nstr, *tstr, *left, *date;
    GHashTable *vars;
    GMimeMessage *msg;
    gboolean ok;

    if (!token)
        return FALSE;
    ctl = list_address(c->inst, c->list, "-ctl");
    url = options_url(c->inst, c->list);
    nstr = g_strdup_printf("%" G_GINT64_FORMAT, n);
    tstr = g_strdup_printf("%" G_GINT64_FORMAT, total);
    left = g_strdup_printf("%" G_GINT64_FORMAT, total - n);
    date = utc_date(c->now + (total - n + 1) * interval);
    vars = template_vars_new();
    template_var(vars, "address", address);
    template_var(vars, "token", token);
    template_var(vars, "warning", nstr);
    template_var(vars, "warnings", tstr);
    template_var(vars, "left", left);
    template_var(vars, "remove_date", date);
    template_var(vars, "options_url", url);
    msg = notify_build(c->inst, c->list, "bounce_disabled_warning", vars, ctl, address, NULL, NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "Reply-To", ctl, NULL);
    {
        const char *rcpts[] = { address };
        ok = notify_queue(c->inst, c->list, msg, rcpts, 1, error);
    }
    g_object_unref(msg);
    g_hash_table_unref(vars);
    g_free(token);
    g_free(ctl);
    g_free(url);
    g_free(nstr);
    g_free(tstr);
    g_free(left);
    g_free(date);
    return ok;
}

static gboolean
record_warning(Instance *inst, const char *list, const char *address, gint64 n, gint64 now, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db, "UPDATE members SET bounce_warnings = ?, bounce_warned = ?"
                                            " WHERE list = ? AND address = ?");
    sqlite3_bind_int64(st, 1, n);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_text(st, 3, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, address, -1, SQLITE_STATIC);
    return db_step_done(st, error);
}

static void
tell_owners_removed(Instance *inst, const char *list, const Disabled *d)
{
    char **owners = list_setting_addrs(inst, list, "owners");
    char *score = g_strdup_printf("%.1f", d->score);
    char *count = g_strdup_printf("%" G_GINT64_FORMAT, d->warnings);

    for (int i = 0; owners[i]; i++) {
        GHashTable *vars = template_vars_new();
        GError *e = NULL;
        template_var(vars, "address", d->address);
        template_var(vars, "score", score);
        template_var(vars, "warnings", count);
        if (!notify_send(inst, list, "bounce_removed_warned", vars, owners[i], NULL, NULL, &e)) {
            log_warn("%s: cannot notify owner %s: %s", list, owners[i], e->message);
            g_error_free(e);
        }
        g_hash_table_unref(vars);
    }
    g_free(score);
    g_free(count);
    g_strfreev(owners);
}

gboolean
maintain_bounce_warnings(MaintainCtx *c, GError **error)
{
    gint64 total = list_setting_int(c->inst, c->list, "bounce_warnings");
    gint64 interval = list_setting_int(c->inst, c->list, "bounce_warn_interval");
    GPtrArray *rows = disabled_members(c->inst, c->list);
    gboolean ok = TRUE;

    for (guint i = 0; i < rows->len && ok; i++) {
        Disabled *d = rows->pdata[i];
        gboolean due = d->warnings == 0 || d->warned <= 0 || c->now - d->warned >= interval || c->now < d->warned;

        if (!due)
            continue;
        if (d->warnings < total) {
            gint64 n = d->warnings + 1;
            char *list_of = list_of_address(c->inst, d->address);
            if (c->dry_run) {
                g_string_append_printf(c->report, "%s: would warn <%s> (delivery disabled by bounces, warning %"
                                       G_GINT64_FORMAT " of %" G_GINT64_FORMAT ")\n", c->list, d->address, n, total);
            } else if (list_of) {
                log_warn("%s: <%s> is a list address: no bounce warning sent (counted)", c->list, d->address);
                ok = record_warning(c->inst, c->list, d->address, n, c->now, error);
            } else if ((ok = db_begin_immediate(c->inst->db, error)) &&
                       (ok = record_warning(c->inst, c->list, d->address, n, c->now, error)) &&
                       (ok = send_warning(c, d->address, n, total, interval, error)) &&
                       (ok = db_commit(c->inst->db, error))) {
                /* the token and the count commit once the mail is queued:
                 * a crash in between sends this warning again, never none */
                log_info("%s: bounce warning %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " sent to <%s>", c->list, n,
                         total, d->address);
                g_string_append_printf(c->report, "%s: warned <%s> (warning %" G_GINT64_FORMAT " of %"
                                       G_GINT64_FORMAT ")\n", c->list, d->address, n, total);
            }
            if (!ok)
                db_rollback(c->inst->db);
            g_free(list_of);
            continue;
        }
        /* the last warning went an interval ago (or none are sent at all) */
        if (c->dry_run) {
            g_string_append_printf(c->report, "%s: would remove <%s> (delivery disabled by bounces, %" G_GINT64_FORMAT
                                   " warning(s) unanswered)\n", c->list, d->address, d->warnings);
            continue;
        }
        {
            GError *e = NULL;
            if (!member_remove_reason(c->inst, c->list, d->address, "bounce", &e)) {
                ok = e->code == EXIT_NOUSER;              /* gone meanwhile: nothing to do */
                if (ok)
                    g_error_free(e);
                else
                    g_propagate_error(error, e);
                continue;
            }
        }
        log_info("%s: <%s> removed: delivery disabled by bounces, %" G_GINT64_FORMAT " warning(s) unanswered",
                 c->list, d->address, d->warnings);
        g_string_append_printf(c->report, "%s: removed <%s> (bounces, %" G_GINT64_FORMAT " warning(s) unanswered)\n",
                               c->list, d->address, d->warnings);
        tell_owners_removed(c->inst, c->list, d);
    }
    g_ptr_array_unref(rows);
    return ok;
}

gboolean
maintain_bounce_stale(MaintainCtx *c, GError **error)
{
    gint64 stale = list_setting_int(c->inst, c->list, "bounce_stale_after"), n;
    sqlite3_stmt *st;

    if (stale <= 0)
        return TRUE;
    st = db_prepare(c->inst->db, c->dry_run
        ? "SELECT count(*) FROM members WHERE list = ?1 AND nomail = 0 AND bounce_score > 0"
          " AND bounce_last IS NOT NULL AND bounce_last < ?2"
        : "UPDATE members SET bounce_score = 0 WHERE list = ?1 AND nomail = 0 AND bounce_score > 0"
          " AND bounce_last IS NOT NULL AND bounce_last < ?2");
    sqlite3_bind_text(st, 1, c->list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, c->now - stale);
    if (c->dry_run) {
        n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
    } else {
        if (!db_step_done(st, error))
            return FALSE;
        n = sqlite3_changes(c->inst->db);
    }
    if (n > 0) {
        if (!c->dry_run)
            log_info("%s: bounce score of %" G_GINT64_FORMAT " member(s) reset: no bounce for bounce_stale_after",
                     c->list, n);
        g_string_append_printf(c->report, "%s: %s the bounce score of %" G_GINT64_FORMAT " member(s) (last bounce"
                               " older than bounce_stale_after)\n", c->list, c->dry_run ? "would reset" : "reset", n);
    }
    return TRUE;
}
