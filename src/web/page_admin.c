/* page_admin.c - the lists overview of a logged-in owner or admin
 * (members, posts, held posts, last post) and the settings page, which
 * shows every key of the per-list settings table with its help, and
 * stores changed values through list_setting_set() so the web checks a
 * value exactly as `kairan config` does; each refusal is shown next to
 * its field. */
#include "config.h"
#include "webint.h"
#include "archive.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "settings.h"
#include "util.h"

#include <string.h>

static gint64
count_held(Instance *inst, const char *list)
{
    return db_int64(inst->db, "SELECT COUNT(*) FROM held WHERE list = ?", list);
}

static void
post_stats(Instance *inst, const char *list, gint64 *posts, gint64 *last)
{
    *posts = archive_count(inst, list, last);
}

void
page_overview(WebCtx *c)
{
    TData *d = tdata_new();
    char **lists = list_names(c->inst);
    int shown = 0;
    for (int i = 0; lists[i]; i++) {
        TData *it;
        gint64 posts, last;
        char *when, *desc;
        if (!may_manage(c, lists[i]))
            continue;
        it = tdata_add(d, "lists");
        post_stats(c->inst, lists[i], &posts, &last);
        when = fmt_time(last);
        desc = list_setting(c->inst, lists[i], "description");
        tdata_set(it, "name", lists[i]);
        tdata_set(it, "description", desc);
        tdata_set_int(it, "members", member_count(c->inst, lists[i]));
        tdata_set_int(it, "posts", posts);
        tdata_set_int(it, "held", count_held(c->inst, lists[i]));
        tdata_set_bool(it, "has_held", count_held(c->inst, lists[i]) > 0);
        tdata_set(it, "last", last ? when : "-");
        g_free(when);
        g_free(desc);
        shown++;
    }
    g_strfreev(lists);
    tdata_set_bool(d, "none", shown == 0);
    tdata_set_bool(d, "site_admin", g_str_equal(c->sess->role, "admin"));   /* the link to /admin/domains */
    page_render(c, 200, "overview", d, T(c, "Your lists"));
}

void
page_settings(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    size_t n;
    const SettingDef *defs = settings_table(&n);
    gboolean post = g_str_equal(c->req->method, "POST");
    int errors = 0, changed = 0;

    if (post && !csrf_check(c)) {
        tdata_free(d);
        web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        TData *it = tdata_add(d, "settings");
        char *cur = list_setting(c->inst, list, defs[i].key);
        const char *sent = post ? form(c, defs[i].key) : NULL;
        const char *shown = cur;
        tdata_set(it, "key", defs[i].key);
        tdata_set(it, "help", T(c, defs[i].help));
        tdata_set(it, "default", defs[i].dflt);
        if (sent && !g_str_equal(sent, cur)) {
            char *why = NULL, *norm = setting_validate(defs[i].key, sent, &why);
            if (!norm) {
                tdata_set(it, "field_error", why);
                shown = sent;
                errors++;
            } else if (!g_str_equal(norm, cur)) {
                GError *e = NULL;
                if (list_setting_set(c->inst, list, defs[i].key, norm, &e)) {
                    log_info("%s: setting %s changed by <%s> (web)", list, defs[i].key, c->sess->address);
                    changed++;
                    g_free(cur);
                    cur = g_strdup(norm);
                    shown = cur;
                    tdata_set_bool(it, "changed", TRUE);
                } else {
                    tdata_set(it, "field_error", e->message);
                    g_error_free(e);
                    shown = sent;
                    errors++;
                }
            }
            g_free(norm);
            g_free(why);
        }
        tdata_set(it, "value", shown);
        tdata_set_bool(it, "textarea", defs[i].type == SETTING_TEXT);
        if (defs[i].type == SETTING_ENUM || defs[i].type == SETTING_BOOL) {
            char **vals;
            tdata_set_bool(it, "select", TRUE);
            vals = g_strsplit(defs[i].type == SETTING_BOOL ? "yes|no" : defs[i].values, "|", 0);
            for (int k = 0; vals[k]; k++) {
                TData *o = tdata_add(it, "options");
                tdata_set(o, "opt", vals[k]);
                tdata_set_bool(o, "selected", g_str_equal(vals[k], shown));
            }
            g_strfreev(vals);
        }
        g_free(cur);
    }
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "csrf", csrf_token(c));
    if (post && errors)
        tdata_setf(d, "error", "%s", T(c, "Some values were not accepted; see the messages below. The other changes were saved."));
    else if (post)
        tdata_setf(d, "notice", "%s", changed ? T(c, "Settings saved.") : T(c, "Nothing was changed."));
    {
        char *title = g_strdup_printf("%s: %s", list, T(c, "Settings"));
        page_render(c, post && errors ? 400 : 200, "settings", d, title);
        g_free(title);
    }
}
