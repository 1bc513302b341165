/* page_members.c - the members of a list for its owners: a paginated,
 * searchable table; adding one or many (pasted lines or an uploaded CSV
 * file: "address", "Name <address>" or "address,name"); removing;
 * switching digest, nomail and moderation of the member's posts; making
 * a member a moderator or owner
 * (through the moderators and owners settings); CSV export.  The
 * search goes into a prepared LIKE with its wildcards escaped. */
#include "config.h"
#include "webint.h"
#include "address.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "settings.h"
#include "util.h"

#include <string.h>

static char *
like_pattern(const char *q)
{
    GString *s = g_string_new("%");
    for (const char *p = q; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            g_string_append_c(s, '\\');
        g_string_append_c(s, *p);
    }
    g_string_append_c(s, '%');
    return g_string_free(s, FALSE);
}

static gboolean
addr_in(char **list, const char *addr)
{
    for (int i = 0; list && list[i]; i++)
        if (address_equal(list[i], addr))
            return TRUE;
    return FALSE;
}

/* set_role - add or remove addr in the owners/moderators setting. */
static gboolean
set_role(WebCtx *c, const char *list, const char *key, const char *addr, gboolean on, GError **error)
{
    char **cur = list_setting_addrs(c->inst, list, key);
    GString *v = g_string_new(NULL);
    gboolean ok;
    for (int i = 0; cur[i]; i++)
        if (!address_equal(cur[i], addr))
            g_string_append_printf(v, "%s%s", v->len ? "," : "", cur[i]);
    if (on)
        g_string_append_printf(v, "%s%s", v->len ? "," : "", addr);
    ok = list_setting_set(c->inst, list, key, v->str, error);
    g_strfreev(cur);
    g_string_free(v, TRUE);
    return ok;
}

/* parse_entry - one pasted or CSV line -> address (normalised) and name. */
static char *
parse_entry(const char *line, char **name, const char **why)
{
    char **f;
    char *addr = NULL;
    *name = NULL;
    if (strchr(line, '<')) {
        addr = address_from_header(line, name);
        if (!addr)
            *why = "not an address";
        return addr;
    }
    f = csv_split_line(line);
    for (int i = 0; f[i]; i++) {
        if (!addr && strchr(f[i], '@')) {
            addr = address_normalize(f[i], why);
            if (!addr)
                break;
        } else if (!*name && *f[i] && !strchr(f[i], '@')) {
            *name = g_strdup(f[i]);
        }
    }
    if (!addr && !*why)
        *why = "no address";
    g_strfreev(f);
    return addr;
}

static void
add_members(WebCtx *c, const char *list, TData *d)
{
    GString *text = g_string_new(form(c, "addresses") ? form(c, "addresses") : "");
    char **lines;
    int added = 0, already = 0;
    if (form(c, "csv") && *form(c, "csv"))
        g_string_append_printf(text, "\n%s", form(c, "csv"));
    if (form(c, "address") && *form(c, "address")) {
        /* the single-member fields: the name is taken as it is */
        const char *why = NULL, *name = form(c, "name");
        char *addr = address_normalize(form(c, "address"), &why);
        gboolean existed = FALSE;
        GError *e = NULL;
        if (!addr) {
            TData *bad = tdata_add(d, "invalid");
            tdata_set(bad, "line", form(c, "address"));
            tdata_set(bad, "why", why);
        } else if (!member_add(c->inst, list, addr, name && *name ? name : NULL, FALSE, &existed, &e)) {
            TData *bad = tdata_add(d, "invalid");
            tdata_set(bad, "line", addr);
            tdata_set(bad, "why", e->message);
            g_error_free(e);
        } else if (existed) {
            already++;
        } else {
            added++;
            log_info("%s: <%s> added by <%s> (web)", list, addr, c->sess->address);
        }
        g_free(addr);
    }
    lines = g_strsplit(text->str, "\n", 0);
    for (int i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]), *name = NULL, *addr;
        const char *why = NULL;
        gboolean existed = FALSE;
        GError *e = NULL;
        if (!*line || line[0] == '#' || (i == 0 && g_ascii_strncasecmp(line, "address", 7) == 0 && !strchr(line, '@')))
            continue;
        addr = parse_entry(line, &name, &why);
        if (!addr) {
            TData *bad = tdata_add(d, "invalid");
            tdata_set(bad, "line", line);
            tdata_set(bad, "why", why);
        } else if (!member_add(c->inst, list, addr, name, FALSE, &existed, &e)) {
            TData *bad = tdata_add(d, "invalid");
            tdata_set(bad, "line", line);
            tdata_set(bad, "why", e->message);
            g_error_free(e);
        } else if (existed) {
            already++;
        } else {
            added++;
            log_info("%s: <%s> added by <%s> (web)", list, addr, c->sess->address);
        }
        g_free(addr);
        g_free(name);
    }
    g_strfreev(lines);
    g_string_free(text, TRUE);
    tdata_setf(d, "notice", "%s %d, %s %d", T(c, "Added:"), added, T(c, "already members:"), already);
}

static void
update_member(WebCtx *c, const char *list, TData *d)
{
    const char *action = form(c, "action");
    GPtrArray *addrs = params_all(c->req->form, "member");
    int done = 0;
    if (!action || !addrs) {
        tdata_set(d, "error", T(c, "Choose at least one member and an action."));
        return;
    }
    for (guint i = 0; i < addrs->len; i++) {
        char *addr = address_normalize(addrs->pdata[i], NULL);
        GError *e = NULL;
        gboolean ok = TRUE;
        if (!addr || !member_is(c->inst, list, addr)) {
            g_free(addr);
            continue;
        }
        if (g_str_equal(action, "remove"))
            ok = member_remove(c->inst, list, addr, &e);
        else if (g_str_equal(action, "digest_on") || g_str_equal(action, "digest_off"))
            ok = member_set_flag(c->inst, list, addr, "digest", g_str_equal(action, "digest_on"), &e);
        else if (g_str_equal(action, "nomail_on") || g_str_equal(action, "nomail_off"))
            ok = member_set_flag(c->inst, list, addr, "nomail", g_str_equal(action, "nomail_on"), &e);
        else if (g_str_equal(action, "moderate_on") || g_str_equal(action, "moderate_off"))
            ok = member_set_flag(c->inst, list, addr, "moderated", g_str_equal(action, "moderate_on"), &e);
        else if (g_str_equal(action, "moderator_on") || g_str_equal(action, "moderator_off"))
            ok = set_role(c, list, "moderators", addr, g_str_equal(action, "moderator_on"), &e);
        else if (g_str_equal(action, "owner_on") || g_str_equal(action, "owner_off"))
            ok = set_role(c, list, "owners", addr, g_str_equal(action, "owner_on"), &e);
        else {
            g_free(addr);
            tdata_set(d, "error", T(c, "Unknown action."));
            return;
        }
        if (ok) {
            done++;
            log_info("%s: %s for <%s> by <%s> (web)", list, action, addr, c->sess->address);
        } else {
            tdata_set(d, "error", e->message);
            g_error_free(e);
        }
        g_free(addr);
    }
    tdata_setf(d, "notice", "%s %d", T(c, "Members changed:"), done);
}

void
page_members(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    const char *q = param(c, "q") ? param(c, "q") : "";
    gint64 page = param(c, "page") ? g_ascii_strtoll(param(c, "page"), NULL, 10) : 1;
    gint64 total = 0, pages;
    char *pat = like_pattern(q);
    char **owners, **mods;
    sqlite3_stmt *st;

    if (g_str_equal(c->req->method, "POST")) {
        if (!csrf_check(c)) {
            tdata_free(d);
            g_free(pat);
            web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
            return;
        }
        if (form(c, "do") && g_str_equal(form(c, "do"), "add"))
            add_members(c, list, d);
        else
            update_member(c, list, d);
    }
    owners = list_setting_addrs(c->inst, list, "owners");
    mods = list_setting_addrs(c->inst, list, "moderators");
    st = db_prepare(c->inst->db, "SELECT COUNT(*) FROM members WHERE list = ?"
                                 " AND (address LIKE ?2 ESCAPE '\\' OR IFNULL(name, '') LIKE ?2 ESCAPE '\\')");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pat, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    pages = total ? (total + PAGE_SIZE - 1) / PAGE_SIZE : 1;
    if (page < 1)
        page = 1;
    if (page > pages)
        page = pages;
    st = db_prepare(c->inst->db, "SELECT address, name, nomail, digest, post_only, since, moderated,"
                                 " hide_address, vacation_until > ?5 FROM members WHERE list = ?1"
                                 " AND (address LIKE ?2 ESCAPE '\\' OR IFNULL(name, '') LIKE ?2 ESCAPE '\\')"
                                 " ORDER BY address LIMIT ?3 OFFSET ?4");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pat, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, PAGE_SIZE);
    sqlite3_bind_int64(st, 4, (page - 1) * PAGE_SIZE);
    sqlite3_bind_int64(st, 5, now_seconds());
    while (sqlite3_step(st) == SQLITE_ROW) {
        TData *it = tdata_add(d, "members");
        const char *addr = (const char *) sqlite3_column_text(st, 0);
        char *since = fmt_time(sqlite3_column_int64(st, 5));
        tdata_set(it, "address", addr);
        tdata_set(it, "name", (const char *) sqlite3_column_text(st, 1));
        tdata_set_bool(it, "nomail", sqlite3_column_int(st, 2));
        tdata_set_bool(it, "digest", sqlite3_column_int(st, 3));
        tdata_set_bool(it, "post_only", sqlite3_column_int(st, 4));
        tdata_set_bool(it, "moderated", sqlite3_column_int(st, 6));
        tdata_set_bool(it, "hidden", sqlite3_column_int(st, 7));      /* member options (memberopts.c) */
        tdata_set_bool(it, "vacation", sqlite3_column_int(st, 8));
        tdata_set_bool(it, "owner", addr_in(owners, addr));
        tdata_set_bool(it, "moderator", addr_in(mods, addr));
        tdata_set(it, "since", since);
        g_free(since);
    }
    sqlite3_finalize(st);
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "q", q);
    {
        char *qe = url_encode(q);
        tdata_set(d, "q_enc", qe);
        g_free(qe);
    }
    tdata_set(d, "csrf", csrf_token(c));
    tdata_set_int(d, "total", total);
    tdata_set_int(d, "page", page);
    tdata_set_int(d, "pages", pages);
    if (page > 1)
        tdata_set_int(d, "prev", page - 1);
    if (page < pages)
        tdata_set_int(d, "next", page + 1);
    g_strfreev(owners);
    g_strfreev(mods);
    g_free(pat);
    {
        char *title = g_strdup_printf("%s: %s", list, T(c, "Members"));
        page_render(c, 200, "members", d, title);
        g_free(title);
    }
}

void
page_members_csv(WebCtx *c, const char *list)
{
    /* the columns of `kairan export --members` (lists.c), which every
     * members import reads back */
    GString *out = member_list_csv(c->inst, list);
    char *disp;
    web_set_body(c, "text/csv; charset=utf-8", out->str, out->len);
    disp = g_strdup_printf("attachment; filename=\"%s-members.csv\"", list);
    web_response_header(c->resp, "Content-Disposition", disp);
    g_free(disp);
    g_string_free(out, TRUE);
}
