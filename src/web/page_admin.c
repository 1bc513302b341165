/* page_admin.c - the lists overview of a logged-in owner or admin
 * (members, posts, held posts, last post) and the settings page, which
 * shows every key of the per-list settings table with its title and help,
 * grouped in the table's sections (one form and Save button each), and
 * stores changed values through list_setting_set() so the web checks a
 * value exactly as `kairan config` does; each refusal is shown next to
 * its field.  Texts, header rules and pattern lists are edited in a
 * textarea, a pattern or rule a line. */
#include "config.h"
#include "webint.h"
#include "archive.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "moderation.h"
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
    tdata_set_bool(d, "site_admin", g_str_equal(c->sess->role, "admin"));
    tdata_set(d, "base", c->req->base);
    page_render(c, 200, "overview", d, T(c, "Your lists"));
}

/* section_id - the HTML id of a section ("Members & subscription" ->
 * "members"): its first word in lower case. */
static char *
section_id(const char *section)
{
    const char *sp = strchr(section, ' ');
    char *w = sp ? g_strndup(section, sp - section) : g_strdup(section);
    char *id = g_ascii_strdown(w, -1);
    g_free(w);
    return id;
}

/* multiline - whether a setting is edited in a textarea: free texts,
 * header rules and pattern lists (one pattern or rule a line). */
static gboolean
multiline(const SettingDef *def)
{
    return def->type == SETTING_TEXT || def->type == SETTING_HEADERRULES || def->type == SETTING_PATTERNS;
}

/* sent_value - what the form sent for def, as setting_validate() takes
 * it: a pattern list's lines (CRLF, CR or LF between) become the blanks
 * the CLI stores between patterns (list_address_matches splits on
 * blanks); other values unchanged.  Newly allocated, NULL when not sent. */
static char *
sent_value(const SettingDef *def, const char *sent)
{
    char *v;
    if (!sent)
        return NULL;
    v = g_strdup(sent);
    if (def->type == SETTING_PATTERNS)
        for (char *p = v; *p; p++)
            if (*p == '\r' || *p == '\n')
                *p = ' ';
    return v;
}

/* edit_text - a stored value as its textarea shows it: a pattern list one
 * pattern a line, header rules one rule a line (their text as stored, a
 * ';' inside a regex still written \;), a text as it is. */
static char *
edit_text(const SettingDef *def, const char *value)
{
    if (def->type == SETTING_PATTERNS) {
        char **parts = g_strsplit_set(value, " \t", 0);
        GString *out = g_string_new(NULL);
        for (int i = 0; parts[i]; i++)
            if (*parts[i])
                g_string_append_printf(out, "%s%s", out->len ? "\n" : "", parts[i]);
        g_strfreev(parts);
        return g_string_free(out, FALSE);
    }
    if (def->type == SETTING_HEADERRULES && *value) {
        char *why = NULL;
        GPtrArray *rules = moderation_rules_parse(value, &why);
        GString *out;
        if (!rules) {
            g_free(why);
            return g_strdup(value);
        }
        out = g_string_new(NULL);
        for (guint i = 0; i < rules->len; i++)
            g_string_append_printf(out, "%s%s", i ? "\n" : "", ((ModerationRule *) rules->pdata[i])->text);
        g_ptr_array_unref(rules);
        return g_string_free(out, FALSE);
    }
    return g_strdup(value);
}

/* text_rows - the rows of a textarea holding text: one a line and one to
 * spare, at least 3, at most 30. */
static int
text_rows(const char *text)
{
    int lines = 1;
    for (const char *p = text; *p; p++)
        if (*p == '\n')
            lines++;
    return CLAMP(lines + 1, 3, 30);
}

/* page_settings - GET: every key grouped in the sections of the settings
 * table (settings_sections()), each section a form of its own with one
 * Save button; POST: the keys a form sent are checked and stored (keys
 * not sent are left alone), refusals shown at their fields. */
void
page_settings(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    size_t n;
    const SettingDef *defs = settings_table(&n);
    const char *const *sections = settings_sections();
    gboolean post = g_str_equal(c->req->method, "POST");
    const char *saved = post ? form(c, "section") : NULL;
    int errors = 0, changed = 0;
    GHashTable *items = g_hash_table_new(g_str_hash, g_str_equal);   /* section -> its TData */

    if (post && !csrf_check(c)) {
        tdata_free(d);
        g_hash_table_unref(items);
        web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
        return;
    }
    for (int k = 0; sections[k]; k++) {
        TData *sec = tdata_add(d, "sections");
        char *id = section_id(sections[k]);
        tdata_set(sec, "section", sections[k]);
        tdata_set(sec, "name", T(c, sections[k]));
        tdata_set(sec, "id", id);
        tdata_set_bool(sec, "just_saved", saved && g_str_equal(saved, sections[k]));
        g_free(id);
        g_hash_table_insert(items, (gpointer) sections[k], sec);
    }
    for (size_t i = 0; i < n; i++) {
        TData *sec = g_hash_table_lookup(items, setting_section(&defs[i]));
        TData *it = tdata_add(sec, "settings");
        char *cur = list_setting(c->inst, list, defs[i].key);
        char *sent = post ? sent_value(&defs[i], form(c, defs[i].key)) : NULL;
        const char *shown = cur;
        gboolean shown_sent = FALSE;
        tdata_set_bool(sec, "any", TRUE);
        tdata_set(it, "key", defs[i].key);
        tdata_set(it, "title", T(c, setting_title(&defs[i])));
        tdata_set(it, "help", T(c, defs[i].help));
        tdata_set(it, "default", defs[i].dflt);
        if (sent && !g_str_equal(sent, cur)) {
            char *why = NULL, *norm = setting_validate(defs[i].key, sent, &why);
            if (!norm) {
                tdata_set(it, "field_error", why);
                shown = form(c, defs[i].key);
                shown_sent = TRUE;
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
                    shown = form(c, defs[i].key);
                    shown_sent = TRUE;
                    errors++;
                }
            }
            g_free(norm);
            g_free(why);
        }
        if (multiline(&defs[i])) {
            /* a refused value comes back as the user typed it */
            char *text = shown_sent ? g_strdup(shown) : edit_text(&defs[i], shown);
            tdata_set(it, "value", text);
            tdata_set_bool(it, "textarea", TRUE);
            tdata_set_int(it, "rows", text_rows(text));
            g_free(text);
        } else {
            tdata_set(it, "value", shown);
        }
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
        g_free(sent);
        g_free(cur);
    }
    g_hash_table_unref(items);
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
