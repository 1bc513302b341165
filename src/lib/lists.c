/* lists.c - lists and members: rows in kairan.db, directories in spool/.
 *
 * A list name is a lower-case word ([a-z0-9][a-z0-9._-]*) that must not end
 * in -ctl or -admin (those are its command and admin addresses).  Member
 * addresses are stored normalised (address.c), so comparison is exact.
 * No address of a list of this instance (list_of_address) is ever added
 * as a member (member_add): two lists subscribed to each other loop.
 * list_remove (kairan rmlist, DELETE of the REST API) removes every row
 * of a list in one transaction and moves its spool to HOME/removed/. */
#include "config.h"
#include "lists.h"
#include "address.h"
#include "db.h"
#include "log.h"
#include "settings.h"
#include "util.h"
#include "crypto.h"
#include "notices.h"
#include "domains.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

gboolean
list_name_valid(const char *name, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!str_is_safe_name(name, FALSE)) {
        *why = "a list name is lower-case letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64)";
        return FALSE;
    }
    if (g_str_has_suffix(name, "-ctl") || g_str_has_suffix(name, "-admin") ||
        g_str_has_suffix(name, "-request") || g_str_has_suffix(name, "-owner")) {
        *why = "a list name must not end in -ctl, -admin, -request or -owner";
        return FALSE;
    }
    return TRUE;
}

gboolean
list_exists(const Instance *inst, const char *list)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT 1 FROM lists WHERE name = ?");
    gboolean found;
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

gboolean
list_create(Instance *inst, const char *list, const char *owner,
            const char *password_hash, GError **error)
{
    const char *why;
    const char *at = strchr(list, '@');
    sqlite3_stmt *st;
    char *dir, *name = list_name(list);
    gboolean ok;

    /* list is an id (domains.h): NAME, or NAME@DOMAIN of an added domain */
    ok = list_name_valid(name, &why);
    g_free(name);
    if (!ok) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "%s: %s", list, why);
        return FALSE;
    }
    if (at && (g_str_equal(at + 1, inst->domain) || !domain_is_local(inst, at + 1))) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE,
                    "%s is not a domain of this instance: add it first with kairan domain add %s", at + 1, at + 1);
        return FALSE;
    }
    if (list_exists(inst, list)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "list %s exists already", list);
        return FALSE;
    }
    for (const char **sub = (const char *[]) { "archive", "held", NULL }; *sub; sub++) {
        dir = instance_path(inst, "spool", list, *sub, NULL);
        ok = mkdir_p(dir, 0750, error);
        g_free(dir);
        if (!ok)
            return FALSE;
    }
    if (!db_begin_immediate(inst->db, error))
        return FALSE;
    st = db_prepare(inst->db, "INSERT INTO lists(name, created, seq, password_hash) VALUES(?, ?, 0, ?)");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_seconds());
    sqlite3_bind_text(st, 3, password_hash, -1, SQLITE_STATIC);
    ok = db_step_done(st, error);
    if (ok && owner)
        ok = list_setting_set(inst, list, "owners", owner, error);
    if (ok)
        return db_commit(inst->db, error);
    db_rollback(inst->db);
    return FALSE;
}

char **
list_names(const Instance *inst)
{
    return db_strv(inst->db, "SELECT name FROM lists ORDER BY name");
}

gboolean
list_set_password_hash(Instance *inst, const char *list, const char *hash, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db, "UPDATE lists SET password_hash = ? WHERE name = ?");
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    return db_step_done(st, error);
}

char *
list_password_hash(const Instance *inst, const char *list)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT password_hash FROM lists WHERE name = ?");
    char *h = NULL;
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        h = g_strdup((const char *) sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return h;
}

gint64
list_last_number(const Instance *inst, const char *list)
{
    return db_int64(inst->db, "SELECT seq FROM lists WHERE name = ?", list);
}

void
member_free(Member *m)
{
    if (!m)
        return;
    g_free(m->address);
    g_free(m->name);
    g_free(m->disabled_reason);
    g_free(m);
}

#define MEMBER_COLUMNS "address, name, nomail, digest, post_only, bounce_score, disabled_reason, since, moderated," \
                       " receive_own, nodupes, acknowledge, hide_address, vacation_until"

static Member *
member_from_row(sqlite3_stmt *st)
{
    Member *m = g_new0(Member, 1);
    m->address = g_strdup((const char *) sqlite3_column_text(st, 0));
    m->name = sqlite3_column_text(st, 1) ? g_strdup((const char *) sqlite3_column_text(st, 1)) : NULL;
    m->nomail = sqlite3_column_int(st, 2) != 0;
    m->digest = sqlite3_column_int(st, 3) != 0;
    m->post_only = sqlite3_column_int(st, 4) != 0;
    m->bounce_score = sqlite3_column_double(st, 5);
    m->disabled_reason = sqlite3_column_text(st, 6) ? g_strdup((const char *) sqlite3_column_text(st, 6)) : NULL;
    m->since = sqlite3_column_int64(st, 7);
    m->moderated = sqlite3_column_int(st, 8) != 0;
    m->receive_own = sqlite3_column_int(st, 9) != 0;
    m->nodupes = sqlite3_column_int(st, 10) != 0;
    m->acknowledge = sqlite3_column_int(st, 11) != 0;
    m->hide_address = sqlite3_column_int(st, 12) != 0;
    m->vacation_until = sqlite3_column_int64(st, 13);
    return m;
}

Member *
member_get(const Instance *inst, const char *list, const char *addr)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT " MEMBER_COLUMNS " FROM members WHERE list = ? AND address = ?");
    Member *m = NULL;
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        m = member_from_row(st);
    sqlite3_finalize(st);
    return m;
}

gboolean
member_is(const Instance *inst, const char *list, const char *addr)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT 1 FROM members WHERE list = ? AND address = ?");
    gboolean r;
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
    r = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return r;
}

char *
list_of_address(const Instance *inst, const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    char *local, *domain, *found = NULL;
    gboolean is_default;
    char **names;

    if (!at)
        return NULL;
    is_default = g_ascii_strcasecmp(at + 1, inst->domain) == 0;
    if (!is_default && !domain_is_local(inst, at + 1))
        return NULL;
    domain = g_ascii_strdown(at + 1, -1);
    local = g_ascii_strdown(addr, at - addr);
    if (*local == '"') {                 /* "team"@domain is team@domain */
        size_t n = strlen(local);
        if (n >= 2 && local[n - 1] == '"') {
            memmove(local, local + 1, n - 2);
            local[n - 2] = '\0';
        }
    }
    names = list_names(inst);
    for (int i = 0; names[i] && !found; i++) {
        const char *id_at = strchr(names[i], '@');
        size_t n = id_at ? (size_t) (id_at - names[i]) : strlen(names[i]);
        if (is_default ? id_at != NULL : (!id_at || !g_str_equal(id_at + 1, domain)))
            continue;                    /* a list of another domain */
        if (strncmp(local, names[i], n) == 0 && (local[n] == '\0' || local[n] == '-' || local[n] == '+'))
            found = g_strdup(names[i]);
    }
    g_strfreev(names);
    g_free(local);
    g_free(domain);
    return found;
}

gboolean
list_address_refused(const Instance *inst, const char *addr, GError **error)
{
    char *list = list_of_address(inst, addr);

    if (!list)
        return FALSE;
    g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR,
                "%s is an address of the list %s here: a list cannot be a member of a list (mail loop)", addr, list);
    g_free(list);
    return TRUE;
}

gboolean
member_add(Instance *inst, const char *list, const char *addr, const char *name,
           gboolean post_only, gboolean *existed, GError **error)
{
    sqlite3_stmt *st;
    gboolean was = member_is(inst, list, addr);

    if (existed)
        *existed = was;
    if (!was && list_address_refused(inst, addr, error)) {
        log_info("%s: <%s> not added: a list address of this instance", list, addr);
        return FALSE;
    }
    if (!was && list_is_banned(inst, list, addr)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s is banned from %s (setting banned)", addr, list);
        return FALSE;
    }
    if (was) {
        /* a post-only address added again as a member gets the posts:
         * its nomail came with post_only (the right side sees the old row) */
        st = db_prepare(inst->db, "UPDATE members SET name = COALESCE(?, name), post_only = ?,"
                                  " nomail = CASE WHEN ? THEN 1 WHEN post_only THEN 0 ELSE nomail END"
                                  " WHERE list = ? AND address = ?");
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, post_only);
        sqlite3_bind_int(st, 3, post_only);
        sqlite3_bind_text(st, 4, list, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, addr, -1, SQLITE_STATIC);
    } else {
        st = db_prepare(inst->db, "INSERT INTO members(list, address, name, post_only, nomail, since, moderated)"
                                  " VALUES(?, ?, ?, ?, ?, ?, ?)");
        sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, post_only);
        sqlite3_bind_int(st, 5, post_only);
        sqlite3_bind_int64(st, 6, now_seconds());
        /* new_member_moderation: a newcomer's posts are held until an owner clears the flag */
        sqlite3_bind_int(st, 7, list_setting_bool(inst, list, "new_member_moderation"));
    }
    if (!db_step_done(st, error))
        return FALSE;
    if (!was)
        notices_membership(inst, list, "subscribe", addr, NULL);
    return TRUE;
}

gboolean
member_remove(Instance *inst, const char *list, const char *addr, GError **error)
{
    return member_remove_reason(inst, list, addr, NULL, error);
}

gboolean
member_remove_reason(Instance *inst, const char *list, const char *addr, const char *reason, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db, "DELETE FROM members WHERE list = ? AND address = ?");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
    if (!db_step_done(st, error))
        return FALSE;
    if (sqlite3_changes(inst->db) == 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "%s is not a member of %s", addr, list);
        return FALSE;
    }
    if (!reason || !g_str_equal(reason, "bounce"))   /* bounce.c sends bounce_removed itself */
        notices_membership(inst, list, "unsubscribe", addr, NULL);
    return TRUE;
}

gboolean
member_set_flag(Instance *inst, const char *list, const char *addr,
                const char *flag, gboolean on, GError **error)
{
    const char *sql;
    sqlite3_stmt *st;

    if (g_str_equal(flag, "nomail"))
        sql = "UPDATE members SET nomail = ?, disabled_reason = NULL WHERE list = ? AND address = ?";
    else if (g_str_equal(flag, "digest"))
        sql = "UPDATE members SET digest = ? WHERE list = ? AND address = ?";
    else if (g_str_equal(flag, "post_only"))
        sql = "UPDATE members SET post_only = ? WHERE list = ? AND address = ?";
    else if (g_str_equal(flag, "moderated"))
        sql = "UPDATE members SET moderated = ? WHERE list = ? AND address = ?";
    else {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "unknown member flag %s", flag);
        return FALSE;
    }
    st = db_prepare(inst->db, sql);
    sqlite3_bind_int(st, 1, on);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, addr, -1, SQLITE_STATIC);
    if (!db_step_done(st, error))
        return FALSE;
    if (sqlite3_changes(inst->db) == 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "%s is not a member of %s", addr, list);
        return FALSE;
    }
    return TRUE;
}

GPtrArray *
member_list(const Instance *inst, const char *list)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT " MEMBER_COLUMNS " FROM members WHERE list = ? ORDER BY address");
    GPtrArray *a = g_ptr_array_new_with_free_func((GDestroyNotify) member_free);
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        g_ptr_array_add(a, member_from_row(st));
    sqlite3_finalize(st);
    return a;
}

gint64
member_count(const Instance *inst, const char *list)
{
    return db_int64(inst->db, "SELECT count(*) FROM members WHERE list = ?", list);
}

GPtrArray *
list_recipients(const Instance *inst, const char *list)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT address FROM members WHERE list = ?"
                                            " AND nomail = 0 AND post_only = 0 AND digest = 0"
                                            " AND vacation_until <= ?");
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_seconds());
    while (sqlite3_step(st) == SQLITE_ROW)
        g_ptr_array_add(a, g_strdup((const char *) sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    return a;
}

QueueRcpts *
list_fanout_rcpts(const Instance *inst, const char *list, const char *except)
{
    return list_fanout_rcpts_direct(inst, list, except, NULL);
}

/* The index members_fanout covers this query (no table lookups): the
 * members on vacation are a range of the index, nodupes a column of it;
 * only a nodupes member costs a hash lookup in direct. */
QueueRcpts *
list_fanout_rcpts_direct(const Instance *inst, const char *list, const char *except, GHashTable *direct)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT address, nodupes FROM members WHERE list = ?"
                                            " AND nomail = 0 AND post_only = 0 AND digest = 0"
                                            " AND vacation_until <= ?");
    QueueRcpts *r = queue_rcpts_new();
    gboolean any_direct = direct && g_hash_table_size(direct) > 0;

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_seconds());
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *addr = (const char *) sqlite3_column_text(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        if (!addr || (except && strcmp(addr, except) == 0))
            continue;
        if (any_direct && sqlite3_column_int(st, 1) && g_hash_table_contains(direct, addr))
            continue;
        queue_rcpts_add(r, addr, len);
    }
    sqlite3_finalize(st);
    return r;
}

static gboolean
in_setting(const Instance *inst, const char *list, const char *key, const char *addr)
{
    char **addrs = list_setting_addrs(inst, list, key);
    gboolean found = addr && g_strv_contains((const char *const *) addrs, addr);
    g_strfreev(addrs);
    return found;
}

gboolean
list_is_owner(const Instance *inst, const char *list, const char *addr)
{
    return in_setting(inst, list, "owners", addr);
}

char **
list_moderators(const Instance *inst, const char *list)
{
    char **m = list_setting_addrs(inst, list, "moderators");
    if (!m[0]) {
        g_strfreev(m);
        m = list_setting_addrs(inst, list, "owners");
    }
    return m;
}

gboolean
list_is_moderator(const Instance *inst, const char *list, const char *addr)
{
    char **m = list_moderators(inst, list);
    gboolean found = addr && g_strv_contains((const char *const *) m, addr);
    g_strfreev(m);
    return found;
}

gboolean
list_address_matches(const Instance *inst, const char *list, const char *key, const char *addr)
{
    char *value, *lower;
    char **patterns;
    gboolean banned = FALSE;

    if (!addr || !*addr)
        return FALSE;
    value = list_setting(inst, list, key);
    if (!*value) {
        g_free(value);
        return FALSE;
    }
    lower = g_utf8_strdown(addr, -1);
    patterns = g_strsplit_set(value, " \t", 0);
    for (int i = 0; patterns[i] && !banned; i++) {
        const char *p = patterns[i];
        if (!*p)
            continue;
        if (p[0] == '^') {
            banned = g_regex_match_simple(p, addr, G_REGEX_CASELESS, 0);
        } else {
            char *pl = g_utf8_strdown(p, -1);
            banned = strpbrk(pl, "*?") ? g_pattern_match_simple(pl, lower) : g_str_equal(pl, lower);
            g_free(pl);
        }
    }
    g_strfreev(patterns);
    g_free(lower);
    g_free(value);
    return banned;
}

gboolean
list_is_banned(const Instance *inst, const char *list, const char *addr)
{
    return list_address_matches(inst, list, "banned", addr);
}

/* The APOP secret (RFC 1939 APOP needs the shared secret itself, not a
 * hash of it) is kept in members.apop_secret, readable in kairan.db,
 * unless [global] pop3_apop = no: then only the PBKDF2 hash is kept,
 * any old secret is cleared, and pop3d offers no APOP. */
static gboolean
apop_enabled(const Instance *inst)
{
    return instance_global_bool(inst, "pop3_apop");
}

gboolean
member_set_pop_password(Instance *inst, const char *list, const char *addr,
                        const char *password, GError **error)
{
    char *hash = password_hash(password);
    sqlite3_stmt *st = db_prepare(inst->db,
        "UPDATE members SET pop_password = ?, apop_secret = ? WHERE list = ? AND address = ?");
    gboolean ok;

    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    if (apop_enabled(inst))
        sqlite3_bind_text(st, 2, password, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, addr, -1, SQLITE_STATIC);
    ok = db_step_done(st, error);
    g_free(hash);
    if (ok && sqlite3_changes(inst->db) == 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "%s is not a member of %s", addr, list);
        ok = FALSE;
    }
    return ok;
}

/* member_pop_column - one text column of a member row (NULL if none). */
static char *
member_pop_column(const Instance *inst, const char *list, const char *addr,
                  const char *sql, gboolean *is_member)
{
    sqlite3_stmt *st = db_prepare(inst->db, sql);
    char *v = NULL;

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
    if (is_member)
        *is_member = FALSE;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (is_member)
            *is_member = TRUE;
        if (sqlite3_column_text(st, 0))
            v = g_strdup((const char *) sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return v;
}

gboolean
member_pop_password_verify(const Instance *inst, const char *list, const char *addr,
                           const char *password, gboolean *is_member)
{
    char *hash = member_pop_column(inst, list, addr,
        "SELECT pop_password FROM members WHERE list = ? AND address = ?", is_member);
    gboolean ok = hash && password_verify(password, hash);
    g_free(hash);
    return ok;
}

char *
member_apop_secret(const Instance *inst, const char *list, const char *addr)
{
    if (!apop_enabled(inst))
        return NULL;
    return member_pop_column(inst, list, addr,
        "SELECT apop_secret FROM members WHERE list = ? AND address = ?", NULL);
}

gboolean
pop3_apop_enabled(const Instance *inst)
{
    return apop_enabled(inst);
}

/* ---- paging members (the REST API) ---- */

/* like_pattern - %q% with LIKE's wildcards in q escaped by '\'. */
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

GPtrArray *
member_page(const Instance *inst, const char *list, const char *q, gint64 offset, gint64 limit,
            gint64 *total)
{
    const char *where = q && *q ? " WHERE list = ?1 AND (address LIKE ?2 ESCAPE '\\' OR name LIKE ?2 ESCAPE '\\')"
                                : " WHERE list = ?1";
    char *pat = q && *q ? like_pattern(q) : NULL;
    char *sql = g_strconcat("SELECT count(*) FROM members", where, NULL);
    sqlite3_stmt *st = db_prepare(inst->db, sql);
    GPtrArray *a = g_ptr_array_new_with_free_func((GDestroyNotify) member_free);

    g_free(sql);
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    if (pat)
        sqlite3_bind_text(st, 2, pat, -1, SQLITE_STATIC);
    *total = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    sql = g_strconcat("SELECT " MEMBER_COLUMNS " FROM members", where, " ORDER BY address LIMIT ?3 OFFSET ?4", NULL);
    st = db_prepare(inst->db, sql);
    g_free(sql);
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    if (pat)
        sqlite3_bind_text(st, 2, pat, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit);
    sqlite3_bind_int64(st, 4, MAX(offset, 0));
    while (sqlite3_step(st) == SQLITE_ROW)
        g_ptr_array_add(a, member_from_row(st));
    sqlite3_finalize(st);
    g_free(pat);
    return a;
}

/* ---- removing a list ---- */

/* remove_tree - delete dir and everything below it (symbolic links are
 * removed, never followed). */
static gboolean
remove_tree(const char *dir, GError **error)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    gboolean ok = TRUE;

    if (d) {
        while (ok && (name = g_dir_read_name(d))) {
            char *p = g_build_filename(dir, name, NULL);
            if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                ok = remove_tree(p, error);
            else if (g_unlink(p) != 0) {
                g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "remove %s: %s", p, g_strerror(errno));
                ok = FALSE;
            }
            g_free(p);
        }
        g_dir_close(d);
    }
    if (ok && g_rmdir(dir) != 0 && errno != ENOENT) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "remove %s: %s", dir, g_strerror(errno));
        ok = FALSE;
    }
    return ok;
}

gboolean
list_remove(Instance *inst, const char *list, gboolean purge, char **moved_to, GError **error)
{
    static const char *const tables[] = {
        "members", "list_settings", "archive", "archive_text", "held", "tokens", "pop_hidden",
        "sessions", "rate_limits", "auth_failures", "api_tokens", "autoresponses", "maintain_runs", "imap_flags", NULL
    };
    char *spool = instance_path(inst, "spool", list, NULL);
    char *dest = NULL;
    gboolean ok = TRUE, moved = FALSE;

    if (moved_to)
        *moved_to = NULL;
    if (!list_exists(inst, list)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no list %s", list);
        g_free(spool);
        return FALSE;
    }
    if (!db_begin_immediate(inst->db, error)) {
        g_free(spool);
        return FALSE;
    }
    for (int i = 0; ok && tables[i]; i++) {
        char *sql = g_strdup_printf("DELETE FROM %s WHERE list = ?", tables[i]);
        sqlite3_stmt *st = db_prepare(inst->db, sql);
        sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
        ok = db_step_done(st, error);
        g_free(sql);
    }
    if (ok) {
        sqlite3_stmt *st = db_prepare(inst->db, "DELETE FROM lists WHERE name = ?");
        sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
        ok = db_step_done(st, error);
    }
    /* the spool leaves its place before the commit: a crash in between
     * leaves the list in the database with its spool in removed/, which
     * a second rmlist finishes */
    if (ok && !purge && g_file_test(spool, G_FILE_TEST_IS_DIR)) {
        GDateTime *now = g_date_time_new_now_utc();
        char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
        char *full = list_full_name(inst, list);
        char *base = g_strdup_printf("%s-%s", full, stamp);
        g_free(full);
        char *removed = instance_path(inst, "removed", NULL);
        g_date_time_unref(now);
        dest = g_build_filename(removed, base, NULL);
        for (int n = 2; g_file_test(dest, G_FILE_TEST_EXISTS); n++) {
            g_free(dest);
            dest = g_strdup_printf("%s/%s-%d", removed, base, n);
        }
        ok = mkdir_p(removed, 0750, error);
        if (ok && g_rename(spool, dest) != 0) {
            g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "move %s to %s: %s", spool, dest, g_strerror(errno));
            ok = FALSE;
        }
        moved = ok;
        g_free(stamp);
        g_free(base);
        g_free(removed);
    }
    if (ok)
        ok = db_commit(inst->db, error);
    if (!ok) {
        db_rollback(inst->db);
        if (moved && g_rename(dest, spool) != 0)
            log_error("%s: spool left in %s: %s", list, dest, g_strerror(errno));
        g_free(dest);
        g_free(spool);
        return FALSE;
    }
    if (purge && g_file_test(spool, G_FILE_TEST_IS_DIR)) {
        GError *e = NULL;
        if (!remove_tree(spool, &e)) {
            log_warn("%s: removed, but its spool is not all gone: %s", list, e->message);
            g_error_free(e);
        }
    }
    log_info("list %s removed%s%s", list, dest ? ", spool moved to " : (purge ? ", spool purged" : ""),
             dest ? dest : "");
    if (moved_to)
        *moved_to = dest;
    else
        g_free(dest);
    g_free(spool);
    return TRUE;
}

/* csv_out - one field: quoted when it holds , " or a line end, or starts
 * like a spreadsheet formula (= + - @), so a reader sees it as text */
static void
csv_out(GString *out, const char *s)
{
    if (!s)
        s = "";
    if (!strpbrk(s, ",\"\r\n") && !(*s && strchr("=+-@", *s))) {
        g_string_append(out, s);
        return;
    }
    g_string_append_c(out, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            g_string_append_c(out, '"');
        g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
}

GString *
member_list_csv(const Instance *inst, const char *list)
{
    GPtrArray *a = member_list(inst, list);
    GString *out = g_string_new("address,name,delivery,digest\n");

    for (guint i = 0; i < a->len; i++) {
        Member *m = a->pdata[i];
        csv_out(out, m->address);
        g_string_append_c(out, ',');
        csv_out(out, m->name);
        g_string_append_printf(out, ",%s,%s\n", m->post_only ? "post_only" : m->nomail ? "nomail" : "mail",
                               m->digest ? "yes" : "no");
    }
    g_ptr_array_unref(a);
    return out;
}
