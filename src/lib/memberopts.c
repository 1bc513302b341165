/* memberopts.c - per-member options (Mailman's per-member settings):
 *
 *   receive_own_posts  a copy of one's own posts (default on; the list's
 *                      send_to_author = no leaves every author out)
 *   nodupes            no list copy of a post whose To or Cc names the
 *                      member: they have it directly
 *   acknowledge        a short mail for each own post distributed, when
 *                      the list's acknowledge_posts = yes (notices.c)
 *   hide_address       not shown to other members (members, actives)
 *   vacation           no posts until a date (YYYY-MM-DD, UTC): delivery
 *                      resumes by itself at 00:00 UTC of that day
 *   digest, moderated  the existing flags (lists.c member_set_flag);
 *                      moderated is an owner's decision only
 *
 * The options that drop recipients are columns of the fan-out index
 * (db.c members_fanout), read by the one query of list_fanout_rcpts. */
#include "config.h"
#include "memberopts.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const MemberOptDef table[] = {
    { "receive_own_posts", "receive_own_posts", MEMBEROPT_BOOL, TRUE, "get a copy of your own posts" },
    { "nodupes", "nodupes", MEMBEROPT_BOOL, TRUE, "no list copy of posts that name you in To or Cc" },
    { "acknowledge", "acknowledge", MEMBEROPT_BOOL, TRUE,
      "a short acknowledgement of each of your posts (when the list offers it)" },
    { "hide_address", "hide_address", MEMBEROPT_BOOL, TRUE, "hide your address from other members" },
    { "vacation", "vacation_until", MEMBEROPT_DATE, TRUE, "no posts until YYYY-MM-DD (or off)" },
    { "digest", "digest", MEMBEROPT_BOOL, TRUE, "digests instead of single posts" },
    { "moderated", "moderated", MEMBEROPT_BOOL, FALSE, "posts are held for a moderator (owners only)" },
};

const MemberOptDef *
memberopts_table(size_t *count)
{
    *count = G_N_ELEMENTS(table);
    return table;
}

const MemberOptDef *
memberopts_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
        if (g_ascii_strcasecmp(table[i].name, name) == 0 || g_ascii_strcasecmp(table[i].api_name, name) == 0)
            return &table[i];
    return NULL;
}

char *
memberopts_names(gboolean member_only)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
        if (!member_only || table[i].member_may)
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", table[i].name);
    return g_string_free(s, FALSE);
}

gint64
memberopts_date_start(const char *date)
{
    int y, m, d;
    char tail;
    GDateTime *dt;
    gint64 t;

    if (!date || strlen(date) != 10 || sscanf(date, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
        date[4] != '-' || date[7] != '-' || strspn(date, "0123456789-") != 10)
        return -1;
    if (y < 1970 || y > 9999 || !g_date_valid_dmy((GDateDay) d, (GDateMonth) m, (GDateYear) y))
        return -1;
    dt = g_date_time_new_utc(y, m, d, 0, 0, 0);
    if (!dt)
        return -1;
    t = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
    return t;
}

static int
bool_word(const char *v)
{
    static const char *const on[] = { "on", "yes", "true", "1", NULL };
    static const char *const off[] = { "off", "no", "false", "0", NULL };
    for (int i = 0; on[i]; i++)
        if (g_ascii_strcasecmp(v, on[i]) == 0)
            return 1;
    for (int i = 0; off[i]; i++)
        if (g_ascii_strcasecmp(v, off[i]) == 0)
            return 0;
    return -1;
}

char *
memberopts_normalize(const MemberOptDef *def, const char *value, GError **error)
{
    char *v = g_strstrip(g_strdup(value ? value : ""));
    char *out = NULL;

    if (def->type == MEMBEROPT_BOOL) {
        int b = bool_word(v);
        if (b < 0)
            g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "%s: invalid value '%s'; valid values: on, off", def->name, v);
        else
            out = g_strdup(b ? "on" : "off");
    } else {
        const char *date = v;
        if (g_ascii_strncasecmp(date, "until", 5) == 0 && (date[5] == ' ' || date[5] == '\t')) {
            date += 6;
            while (*date == ' ' || *date == '\t')
                date++;
        }
        if (!*date || bool_word(date) == 0)
            out = g_strdup("off");
        else if (memberopts_date_start(date) >= 0)
            out = g_strdup(date);
        else
            g_set_error(error, KAIRAN_ERROR, EXIT_USAGE,
                        "%s: invalid value '%s'; valid values: until YYYY-MM-DD (a date), off", def->name, v);
    }
    g_free(v);
    return out;
}

char *
memberopts_vacation_date(const Member *m)
{
    GDateTime *dt;
    char *s;

    if (m->vacation_until <= now_seconds())
        return NULL;
    dt = g_date_time_new_from_unix_utc(m->vacation_until);
    s = g_date_time_format(dt, "%Y-%m-%d");
    g_date_time_unref(dt);
    return s;
}

char *
memberopts_value(const Member *m, const MemberOptDef *def)
{
    gboolean on = FALSE;

    if (def->type == MEMBEROPT_DATE) {
        char *d = memberopts_vacation_date(m);
        char *s = d ? g_strdup_printf("until %s", d) : g_strdup("off");
        g_free(d);
        return s;
    }
    if (g_str_equal(def->name, "receive_own_posts"))
        on = m->receive_own;
    else if (g_str_equal(def->name, "nodupes"))
        on = m->nodupes;
    else if (g_str_equal(def->name, "acknowledge"))
        on = m->acknowledge;
    else if (g_str_equal(def->name, "hide_address"))
        on = m->hide_address;
    else if (g_str_equal(def->name, "digest"))
        on = m->digest;
    else if (g_str_equal(def->name, "moderated"))
        on = m->moderated;
    return g_strdup(on ? "on" : "off");
}

/* column - the members column of a new option (NULL: a member_set_flag flag). */
static const char *
column(const MemberOptDef *def)
{
    if (g_str_equal(def->name, "receive_own_posts"))
        return "receive_own";
    if (g_str_equal(def->name, "vacation"))
        return "vacation_until";
    if (g_str_equal(def->name, "digest") || g_str_equal(def->name, "moderated"))
        return NULL;
    return def->name;     /* nodupes, acknowledge, hide_address */
}

gboolean
memberopts_set(Instance *inst, const char *list, const char *addr, const char *name,
               const char *value, GError **error)
{
    const MemberOptDef *def = memberopts_find(name);
    const char *col;
    char *norm, *sql;
    sqlite3_stmt *st;
    gboolean ok;

    if (!def) {
        char *names = memberopts_names(FALSE);
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "unknown member option '%s'; valid options: %s",
                    name ? name : "", names);
        g_free(names);
        return FALSE;
    }
    if (!(norm = memberopts_normalize(def, value, error)))
        return FALSE;
    col = column(def);
    if (!col) {
        ok = member_set_flag(inst, list, addr, def->name, g_str_equal(norm, "on"), error);
        g_free(norm);
        return ok;
    }
    sql = g_strdup_printf("UPDATE members SET %s = ? WHERE list = ? AND address = ?", col);
    st = db_prepare(inst->db, sql);
    g_free(sql);
    if (def->type == MEMBEROPT_DATE)
        sqlite3_bind_int64(st, 1, g_str_equal(norm, "off") ? 0 : memberopts_date_start(norm));
    else
        sqlite3_bind_int(st, 1, g_str_equal(norm, "on"));
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, addr, -1, SQLITE_STATIC);
    ok = db_step_done(st, error);
    if (ok && sqlite3_changes(inst->db) == 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "%s is not a member of %s", addr, list);
        ok = FALSE;
    }
    if (ok)
        log_info("%s: member option %s of <%s> set to %s", list, def->name, addr, norm);
    g_free(norm);
    return ok;
}
