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
 * (lib/authguard.c, called from session.c).  The password check itself
 * is lib/auth_login.c, shared with imapd. */
#include "config.h"
#include "pop3.h"
#include "auth_login.h"
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
    auth_login_clear(login);
}

gboolean
pop3_split_user(const char *user, char **address, char **list)
{
    return auth_login_split_user(user, address, list);
}

gboolean
pop3_auth_password(Instance *inst, const char *user, const char *password, Pop3Login *login)
{
    return auth_login_password(inst, user, password, login);
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
    if (!auth_login_split_resolve(inst, user, &address, &list)) {
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
    secret = member_apop_secret(inst, list, address);
    want = pop3_apop_digest(banner, secret ? secret : "\x01no secret");
    got = g_ascii_strdown(digest, -1);
    ok = const_time_equal(want, got) && secret != NULL;
    if (ok)
        ok = auth_login_may_read(inst, list, TRUE, list_is_owner(inst, list, address));
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
