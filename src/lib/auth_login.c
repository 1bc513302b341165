/* auth_login.c - the password check of the archive servers (POP3 and
 * IMAP): see auth_login.h.  Moved here from src/pop3/auth.c so that both
 * servers share one login path (and one place for a guessing guard). */
#include "config.h"
#include "auth_login.h"
#include "domains.h"
#include "address.h"
#include "crypto.h"
#include "db.h"
#include "lists.h"
#include "settings.h"

#include <string.h>

void
auth_login_clear(AuthLogin *login)
{
    g_free(login->list);
    g_free(login->address);
    memset(login, 0, sizeof(*login));
}

char *
auth_login_account(const char *user)
{
    char *address, *list, *account;

    if (!user)
        return NULL;
    if (!auth_login_split_user(user, &address, &list))
        return g_strdup(user);
    account = g_strconcat(address, "/", list, NULL);
    g_free(address);
    g_free(list);
    return account;
}

gboolean
auth_login_split_user(const char *user, char **address, char **list)
{
    const char *slash = strrchr(user, '/');
    const char *why;
    char *addr_text, *addr;

    *address = *list = NULL;
    if (!slash || slash == user || !slash[1])
        return FALSE;
    {                                    /* LIST is NAME or NAME@DOMAIN (domains.h) */
        char *name = list_name(slash + 1);
        gboolean valid = list_name_valid(name, &why);
        g_free(name);
        if (!valid)
            return FALSE;
    }
    addr_text = g_strndup(user, (gsize) (slash - user));
    if (g_ascii_strcasecmp(addr_text, "anonymous") == 0)
        addr = g_strdup("anonymous");
    else
        addr = address_normalize(addr_text, &why);
    g_free(addr_text);
    if (!addr)
        return FALSE;
    *address = addr;
    *list = g_strdup(slash + 1);
    return TRUE;
}

gboolean
auth_login_split_resolve(const Instance *inst, const char *user, char **address, char **list)
{
    char *id;

    if (!auth_login_split_user(user, address, list))
        return FALSE;
    id = list_resolve(inst, *list, NULL);
    g_free(*list);
    *list = id;
    return id != NULL;
}

char *
auth_login_member_hash(Instance *inst, const char *list, const char *address, gboolean *is_member)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT pop_password FROM members WHERE list = ? AND address = ?");
    char *hash = NULL;

    *is_member = FALSE;
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *is_member = TRUE;
        if (sqlite3_column_text(st, 0) && *sqlite3_column_text(st, 0))
            hash = g_strdup((const char *) sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return hash;
}

gboolean
auth_login_may_read(const Instance *inst, const char *list, gboolean is_member, gboolean is_owner)
{
    char *access = list_setting(inst, list, "archive_access");
    gboolean ok;

    if (g_strcmp0(access, "owners") == 0)
        ok = is_owner;
    else
        ok = is_owner || is_member;
    g_free(access);
    return ok;
}

gboolean
auth_login_anonymous(const Instance *inst, const char *list, AuthLogin *login)
{
    if (!list_setting_is(inst, list, "archive_access", "public"))
        return FALSE;
    login->list = g_strdup(list);
    login->address = g_strdup("anonymous");
    login->anonymous = TRUE;
    return TRUE;
}

gboolean
auth_login_password(Instance *inst, const char *user, const char *password, AuthLogin *login)
{
    char *address, *list, *owner_hash, *member_hash;
    gboolean is_member = FALSE, is_owner, ok = FALSE, checked = FALSE;

    memset(login, 0, sizeof(*login));
    if (!auth_login_split_resolve(inst, user, &address, &list)) {
        password_verify_dummy(password);
        g_free(address);
        g_free(list);
        return FALSE;
    }
    if (g_str_equal(address, "anonymous")) {
        ok = auth_login_anonymous(inst, list, login);
        g_free(address);
        g_free(list);
        return ok;
    }
    is_owner = list_is_owner(inst, list, address);
    member_hash = auth_login_member_hash(inst, list, address, &is_member);
    if (member_hash) {
        ok = password_verify(password, member_hash);
        checked = TRUE;
        g_free(member_hash);
    }
    if (!ok && is_owner && (owner_hash = list_password_hash(inst, list))) {
        ok = password_verify(password, owner_hash);
        checked = TRUE;
        g_free(owner_hash);
    }
    if (!checked)
        password_verify_dummy(password);   /* no such member, or no password: the same time */
    if (ok && auth_login_may_read(inst, list, is_member, is_owner)) {
        login->list = list;
        login->address = address;
        return TRUE;
    }
    g_free(address);
    g_free(list);
    return FALSE;
}
