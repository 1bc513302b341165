/* auth_login.h - who may open which list archive with a password: the
 * login check shared by `kairan pop3d` and `kairan imapd` (DESIGN.md
 * "POP3", "IMAP").  The user name is ADDRESS/LIST (or anonymous/LIST on a
 * public archive). */
#ifndef KAIRAN_AUTH_LOGIN_H
#define KAIRAN_AUTH_LOGIN_H

#include <glib.h>
#include "instance.h"

/* What a successful login gives a session. */
typedef struct {
    char *list;
    char *address;       /* the member/owner, or "anonymous" */
    gboolean anonymous;  /* public archive, no member behind it */
} AuthLogin;

void auth_login_clear(AuthLogin *login);
/* auth_login_account - the account a user name names for the guessing
 * guard (lib/authguard.c): "address/list" normalised, else the name as
 * given; NULL for NULL. */
char *auth_login_account(const char *user);
/* auth_login_member_hash - the member's POP3/IMAP (and SMTP AUTH, web)
 * password hash: NULL if the address is no member of list or has none;
 * *is_member says which.  The one reader of members.pop_password. */
char *auth_login_member_hash(Instance *inst, const char *list, const char *address, gboolean *is_member);
/* auth_login_split_user - "ADDRESS/LIST" -> normalised address (or
 * "anonymous") and list name; FALSE if malformed. */
gboolean auth_login_split_user(const char *user, char **address, char **list);
/* auth_login_split_resolve - the same, LIST (NAME or NAME@DOMAIN, split at
 * the last '/') turned into the list's id; FALSE if there is no such list. */
gboolean auth_login_split_resolve(const Instance *inst, const char *user, char **address, char **list);
/* auth_login_may_read - archive_access lets this person read the list. */
gboolean auth_login_may_read(const Instance *inst, const char *list, gboolean is_member,
                             gboolean is_owner);
/* auth_login_anonymous - fill login for anonymous/LIST if the archive is public. */
gboolean auth_login_anonymous(const Instance *inst, const char *list, AuthLogin *login);
/* auth_login_password - check USER + password: the member's POP3
 * password, or the list owner password for an owner, or anonymous on a
 * public archive (any password); and archive_access must let that person
 * read.  On success fill login and return TRUE.  Unknown users cost one
 * PBKDF2 run like known ones; a refusal never says why.  This is the one
 * place every password login to an archive passes. */
gboolean auth_login_password(Instance *inst, const char *user, const char *password,
                             AuthLogin *login);

#endif
