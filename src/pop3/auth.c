/* auth.c - who may open which mailbox, and the brake on guessing.
 *
 * The user name is ADDRESS/LIST.  A login succeeds when
 *   - the password matches the member's POP3 password (kairan passwd LIST
 *     ADDR, or the `password` command mail), or ADDRESS is one of the
 *     list's owners and the password is the list owner password; and
 *   - archive_access lets that person read: members -> members and
 *     owners, owners -> owners only, public -> the same plus the user
 *     anonymous/LIST with any password.
 * APOP (RFC 1939) compares MD5(banner + secret) with the member's APOP
 * secret (see member_set_pop_password in src/lib/lists.c); accounts
 * without one (owner password, pop3_apop = no) cannot use APOP.
 *
 * A refusal never tells whether the user exists: unknown users and
 * members without a password cost one PBKDF2 run like known ones
 * (password_verify_dummy), and the session answers every refusal the
 * same way.  Guessing is slowed down by the guard every login shares
 * (lib/authguard.c, called from session.c). */
#include "config.h"
#include "pop3.h"
#include "address.h"
#include "crypto.h"
#include "db.h"
#include "lists.h"
#include "settings.h"
#include "util.h"

#include <string.h>
#include <openssl/evp.h>

void
pop3_login_clear(Pop3Login *login)
{
    g_free(login->list);
    g_free(login->address);
    memset(login, 0, sizeof(*login));
}

gboolean
pop3_split_user(const char *user, char **address, char **list)
{
    const char *slash = strrchr(user, '/');
    const char *why;
    char *addr_text, *addr;

    *address = *list = NULL;
    if (!slash || slash == user || !slash[1])
        return FALSE;
    if (!list_name_valid(slash + 1, &why))
        return FALSE;
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

static gboolean
may_read(const Instance *inst, const char *list, const char *address,
         gboolean is_member, gboolean is_owner)
{
    char *access = list_setting(inst, list, "archive_access");
    gboolean ok;

    if (g_strcmp0(access, "owners") == 0)
        ok = is_owner;
    else
        ok = is_owner || is_member;
    g_free(access);
    (void) address;
    return ok;
}

static gboolean
anonymous_login(const Instance *inst, const char *list, Pop3Login *login)
{
    if (!list_setting_is(inst, list, "archive_access", "public"))
        return FALSE;
    login->list = g_strdup(list);
    login->address = g_strdup("anonymous");
    login->anonymous = TRUE;
    return TRUE;
}

/* member_pop_hash - the member's POP3 password hash (NULL if the address
 * is no member or has none; *is_member says which). */
static char *
member_pop_hash(Instance *inst, const char *list, const char *address, gboolean *is_member)
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
pop3_auth_password(Instance *inst, const char *user, const char *password, Pop3Login *login)
{
    char *address, *list, *owner_hash, *member_hash;
    gboolean is_member = FALSE, is_owner, ok = FALSE, checked = FALSE;

    memset(login, 0, sizeof(*login));
    if (!pop3_split_user(user, &address, &list) || !list_exists(inst, list)) {
        password_verify_dummy(password);
        g_free(address);
        g_free(list);
        return FALSE;
    }
    if (g_str_equal(address, "anonymous")) {
        ok = anonymous_login(inst, list, login);
        g_free(address);
        g_free(list);
        return ok;
    }
    is_owner = list_is_owner(inst, list, address);
    member_hash = member_pop_hash(inst, list, address, &is_member);
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
        password_verify_dummy(password);   /* no such member, or no password */
    if (ok && may_read(inst, list, address, is_member, is_owner)) {
        login->list = list;
        login->address = address;
        return TRUE;
    }
    g_free(address);
    g_free(list);
    return FALSE;
}

char *
pop3_apop_digest(const char *banner, const char *secret)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *data = g_strconcat(banner, secret, NULL);
    GString *hex = g_string_sized_new(33);

    if (EVP_Digest(data, strlen(data), md, &mdlen, EVP_md5(), NULL) != 1)
        mdlen = 0;
    for (unsigned int i = 0; i < mdlen; i++)
        g_string_append_printf(hex, "%02x", md[i]);
    memset(data, 0, strlen(data));
    g_free(data);
    return g_string_free(hex, FALSE);
}

gboolean
pop3_auth_apop(Instance *inst, const char *user, const char *banner, const char *digest,
               Pop3Login *login)
{
    char *address, *list, *secret, *want, *got;
    gboolean ok = FALSE;

    memset(login, 0, sizeof(*login));
    if (!pop3_split_user(user, &address, &list) || !list_exists(inst, list)) {
        g_free(address);
        g_free(list);
        return FALSE;
    }
    if (g_str_equal(address, "anonymous")) {
        ok = anonymous_login(inst, list, login);
        g_free(address);
        g_free(list);
        return ok;
    }
    secret = member_apop_secret(inst, list, address);
    want = pop3_apop_digest(banner, secret ? secret : "\x01no secret");
    got = g_ascii_strdown(digest, -1);
    ok = const_time_equal(want, got) && secret != NULL;
    if (ok)
        ok = may_read(inst, list, address, TRUE, list_is_owner(inst, list, address));
    if (secret)
        memset(secret, 0, strlen(secret));
    g_free(secret);
    g_free(want);
    g_free(got);
    if (ok) {
        login->list = list;
        login->address = address;
        return TRUE;
    }
    g_free(address);
    g_free(list);
    return FALSE;
}
