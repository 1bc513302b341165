/* flags.c - the IMAP flags and keywords of each member, kept in
 * kairan.db's imap_flags table (one row per flagged post, the flags as a
 * space separated string in a canonical order), and EXPUNGE, which hides
 * a post for that member only through pop_hidden, the table of POP3's
 * DELE: both servers then agree on what the member still sees. */
#include "config.h"
#include "imap.h"
#include "db.h"

#include <string.h>

GHashTable *
imap_flags_load(Instance *inst, const char *list, const char *address, GError **error)
{
    GHashTable *h = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT num, flags FROM imap_flags WHERE list = ? AND address = ?");
    int rc;

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        gint64 *k = g_new(gint64, 1);
        *k = sqlite3_column_int64(st, 0);
        g_hash_table_replace(h, k, g_strdup((const char *) sqlite3_column_text(st, 1)));
    }
    if (rc != SQLITE_DONE) {
        db_set_error(inst->db, error, "imap_flags");
        g_hash_table_destroy(h);
        h = NULL;
    }
    sqlite3_finalize(st);
    return h;
}

gboolean
imap_flags_save(Instance *inst, const char *list, const char *address, gint64 num,
                const char *flags, GError **error)
{
    sqlite3_stmt *st;

    if (*flags)
        st = db_prepare(inst->db, "INSERT OR REPLACE INTO imap_flags(list, address, num, flags) VALUES(?, ?, ?, ?)");
    else
        st = db_prepare(inst->db, "DELETE FROM imap_flags WHERE list = ? AND address = ? AND num = ?");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, num);
    if (*flags)
        sqlite3_bind_text(st, 4, flags, -1, SQLITE_STATIC);
    return db_step_done(st, error);
}

gboolean
imap_flags_hide(Instance *inst, const char *list, const char *address, gint64 num, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db, "INSERT OR IGNORE INTO pop_hidden(list, address, num) VALUES(?, ?, ?)");

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, num);
    if (!db_step_done(st, error))
        return FALSE;
    return imap_flags_save(inst, list, address, num, "", error);
}

gboolean
imap_flags_has(const char *flags, const char *flag)
{
    gboolean found = FALSE;
    char **v;

    if (!flags || !*flags)
        return FALSE;
    v = g_strsplit(flags, " ", -1);
    for (int i = 0; v[i] && !found; i++)
        found = g_ascii_strcasecmp(v[i], flag) == 0;
    g_strfreev(v);
    return found;
}

static const char *const system_flags[] = { "\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft" };

/* canonical - a system flag in its usual spelling, a keyword as given. */
static const char *
canonical(const char *flag)
{
    for (guint i = 0; i < G_N_ELEMENTS(system_flags); i++)
        if (g_ascii_strcasecmp(flag, system_flags[i]) == 0)
            return system_flags[i];
    return flag;
}

gboolean
imap_flags_valid(const char *flag)
{
    if (flag[0] == '\\') {
        for (guint i = 0; i < G_N_ELEMENTS(system_flags); i++)
            if (g_ascii_strcasecmp(flag, system_flags[i]) == 0)
                return TRUE;
        return FALSE;
    }
    if (!*flag || strlen(flag) > 100)
        return FALSE;
    for (const char *p = flag; *p; p++)
        if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f || strchr("(){%*\"\\]", *p))
            return FALSE;
    return TRUE;
}

char *
imap_flags_change(const char *old, char mode, char **change)
{
    GPtrArray *have = g_ptr_array_new_with_free_func(g_free);
    GString *out = g_string_new(NULL);
    char **v = g_strsplit(old ? old : "", " ", -1);

    if (mode != '=')
        for (int i = 0; v[i]; i++)
            if (*v[i])
                g_ptr_array_add(have, g_strdup(v[i]));
    for (int i = 0; change[i]; i++) {
        gboolean present = FALSE;
        for (guint k = 0; k < have->len; k++) {
            if (g_ascii_strcasecmp(have->pdata[k], change[i]) == 0) {
                present = TRUE;
                if (mode == '-')
                    g_ptr_array_remove_index(have, k);
                break;
            }
        }
        if (!present && mode != '-')
            g_ptr_array_add(have, g_strdup(canonical(change[i])));
    }
    /* system flags first, in a fixed order, then keywords as added */
    for (guint i = 0; i < G_N_ELEMENTS(system_flags); i++)
        for (guint k = 0; k < have->len; k++)
            if (g_str_equal(have->pdata[k], system_flags[i]))
                g_string_append_printf(out, "%s%s", out->len ? " " : "", system_flags[i]);
    for (guint k = 0; k < have->len; k++)
        if (((char *) have->pdata[k])[0] != '\\')
            g_string_append_printf(out, "%s%s", out->len ? " " : "", (char *) have->pdata[k]);
    g_strfreev(v);
    g_ptr_array_free(have, TRUE);
    return g_string_free(out, FALSE);
}
