/* page_held.c - posts held for moderation: the list of held posts with
 * bulk actions, one held post (headers, decoded text, attachments
 * listed), and approve / reject with a reason (the sender is told) /
 * discard (nobody is told), through held_approve() and held_reject(). */
#include "config.h"
#include "webint.h"
#include "held.h"
#include "db.h"
#include "log.h"
#include "mailview.h"
#include "util.h"

#include <string.h>

static void
held_action(WebCtx *c, const char *list, TData *d)
{
    const char *action = form(c, "action");
    const char *reason = form(c, "reason");
    GPtrArray *ids = params_all(c->req->form, "id");
    int done = 0;

    if (!action || !ids || !ids->len) {
        tdata_set(d, "error", T(c, "Choose at least one held post and an action."));
        return;
    }
    for (guint i = 0; i < ids->len; i++) {
        const char *id = ids->pdata[i];
        GError *e = NULL;
        gboolean ok;
        gint64 num = 0;
        if (g_str_equal(action, "approve"))
            ok = held_approve(c->inst, list, id, &num, &e);
        else if (g_str_equal(action, "reject"))
            ok = held_reject(c->inst, list, id, reason && *reason ? reason : NULL, TRUE, &e);
        else if (g_str_equal(action, "discard"))
            ok = held_reject(c->inst, list, id, NULL, FALSE, &e);
        else {
            tdata_set(d, "error", T(c, "Unknown action."));
            return;
        }
        if (ok) {
            done++;
            log_info("%s: held post %s: %s by <%s> (web)", list, id, action, c->sess->address);
        } else {
            tdata_set(d, "error", e->message);
            g_error_free(e);
        }
    }
    tdata_setf(d, "notice", "%s %d", g_str_equal(action, "approve") ? T(c, "Posts approved:")
                                     : g_str_equal(action, "reject") ? T(c, "Posts rejected:")
                                     : T(c, "Posts discarded:"), done);
}

static void
held_one(WebCtx *c, const char *list, const char *id)
{
    sqlite3_stmt *st;
    TData *d;
    char *path, *title;
    MailView *v;

    if (!str_is_safe_name(id, FALSE)) {
        web_fail(c, 404, T(c, "There is no such held post."));
        return;
    }
    st = db_prepare(c->inst->db, "SELECT created, sender, reason, size FROM held WHERE list = ? AND id = ?");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        web_fail(c, 404, T(c, "There is no such held post."));
        return;
    }
    d = tdata_new();
    {
        char *when = fmt_time(sqlite3_column_int64(st, 0));
        tdata_set(d, "when", when);
        g_free(when);
    }
    tdata_set(d, "sender", (const char *) sqlite3_column_text(st, 1));
    tdata_set(d, "reason", (const char *) sqlite3_column_text(st, 2));
    tdata_set_int(d, "size", sqlite3_column_int64(st, 3));
    sqlite3_finalize(st);
    path = instance_path(c->inst, "spool", list, "held", id, NULL);
    v = mailview_load(path);
    g_free(path);
    if (v) {
        tdata_set(d, "subject", v->subject);
        tdata_set(d, "from", v->from);
        tdata_set(d, "to", v->to);
        tdata_set(d, "date", v->date);
        tdata_set(d, "text", v->text->str);
        if (v->parts_total) {
            tdata_set_int(d, "parts_total", (gint64) v->parts_total);
            tdata_set_int(d, "parts_shown", (gint64) v->parts_shown);
        }
        for (guint i = 0; i < v->attachments->len; i++) {
            MailAttachment *a = v->attachments->pdata[i];
            TData *it = tdata_add(d, "attachments");
            tdata_set(it, "type", a->mime_type);
            tdata_set(it, "filename", a->filename ? a->filename : "");
        }
        mailview_free(v);
    }
    tdata_set(d, "list", list);
    tdata_set(d, "id", id);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "csrf", csrf_token(c));
    title = g_strdup_printf("%s: %s %s", list, T(c, "Held post"), id);
    page_render(c, 200, "held_view", d, title);
    g_free(title);
}

void
page_held(WebCtx *c, const char *list, const char *id)
{
    TData *d;
    sqlite3_stmt *st;
    char *title;

    if (id) {
        if (g_str_equal(c->req->method, "POST")) {
            web_response_header(c->resp, "Allow", "GET, HEAD");
            web_fail(c, 405, NULL);
            return;
        }
        held_one(c, list, id);
        return;
    }
    d = tdata_new();
    if (g_str_equal(c->req->method, "POST")) {
        if (!csrf_check(c)) {
            tdata_free(d);
            web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
            return;
        }
        held_action(c, list, d);
    }
    st = db_prepare(c->inst->db, "SELECT id, created, sender, subject, reason, size FROM held WHERE list = ?"
                                 " ORDER BY created, id");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        TData *it = tdata_add(d, "held");
        tdata_set_bool(d, "any_held", TRUE);   /* the form and its buttons only then */
        char *when = fmt_time(sqlite3_column_int64(st, 1));
        tdata_set(it, "id", (const char *) sqlite3_column_text(st, 0));
        tdata_set(it, "when", when);
        tdata_set(it, "sender", (const char *) sqlite3_column_text(st, 2));
        tdata_set(it, "subject", (const char *) sqlite3_column_text(st, 3));
        tdata_set(it, "reason", (const char *) sqlite3_column_text(st, 4));
        tdata_set_int(it, "size", sqlite3_column_int64(st, 5));
        g_free(when);
    }
    sqlite3_finalize(st);
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "csrf", csrf_token(c));
    title = g_strdup_printf("%s: %s", list, T(c, "Held posts"));
    page_render(c, 200, "held", d, title);
    g_free(title);
}
