/* lists.h - lists and their members in kairan.db. */
#ifndef KAIRAN_LISTS_H
#define KAIRAN_LISTS_H

#include "instance.h"
#include "queue.h"

typedef struct {
    char *address;
    char *name;
    gboolean nomail;      /* delivery off (nomail command, bounces) */
    gboolean digest;      /* gets digests instead of each post */
    gboolean post_only;   /* an alternative posting address: never mailed */
    gboolean moderated;   /* posts are held for a moderator */
    double bounce_score;
    char *disabled_reason;
    gint64 since;
    /* per-member options (memberopts.h) */
    gboolean receive_own; /* gets a copy of own posts (default yes) */
    gboolean nodupes;     /* no list copy when named in To/Cc of the post */
    gboolean acknowledge; /* an acknowledgement of each own post (acknowledge_posts) */
    gboolean hide_address;/* not shown to other members (members, actives) */
    gint64 vacation_until;/* no posts before this time (0 = no pause) */
} Member;

gboolean list_name_valid(const char *name, const char **why);
gboolean list_exists(const Instance *inst, const char *list);
/* list_create - row in lists, spool/LIST/{archive,held}; owner may be NULL. */
gboolean list_create(Instance *inst, const char *list, const char *owner,
                     const char *password_hash, GError **error);
/* list_remove - remove a list in one transaction: its row, members,
 * settings, tokens, held and archive rows, sessions, API tokens, IMAP
 * flags; its
 * spool moves to HOME/removed/NAME@DOMAIN-YYYYMMDD-HHMMSS (*moved_to,
 * may be NULL) or, with purge, is deleted.  EXIT_NOUSER if no such list. */
gboolean list_remove(Instance *inst, const char *list, gboolean purge, char **moved_to, GError **error);
/* list_names - every list, sorted (NULL-terminated, g_strfreev). */
char **list_names(const Instance *inst);
gboolean list_set_password_hash(Instance *inst, const char *list, const char *hash, GError **error);
char *list_password_hash(const Instance *inst, const char *list);
/* list_last_number - the last post number given out. */
gint64 list_last_number(const Instance *inst, const char *list);

/* list_of_address - the list whose address addr is (LIST, LIST-ctl,
 * LIST-admin, any LIST-suffix or LIST+tag at its domain, any case), or
 * NULL.  Such an address may never become a member: lists subscribed to
 * lists loop. */
char *list_of_address(const Instance *inst, const char *addr);
/* list_address_refused - when addr is a list address of this instance:
 * TRUE and error (EXIT_DATAERR) saying so. */
gboolean list_address_refused(const Instance *inst, const char *addr, GError **error);

void member_free(Member *m);
/* member_get - NULL if addr is not a member of list. */
Member *member_get(const Instance *inst, const char *list, const char *addr);
gboolean member_is(const Instance *inst, const char *list, const char *addr);
/* member_add - insert (or update name/post_only of) a member; *existed
 * says whether it was already there.  A post-only address added again
 * with post_only FALSE becomes a member who gets the posts; a member who
 * chose nomail keeps it. */
gboolean member_add(Instance *inst, const char *list, const char *addr, const char *name,
                    gboolean post_only, gboolean *existed, GError **error);
/* member_remove - FALSE with error EXIT_NOUSER when not a member.
 * member_add (a new member) and member_remove tell the owners when
 * notify_membership = yes (notices.c). */
gboolean member_remove(Instance *inst, const char *list, const char *addr, GError **error);
/* member_remove_reason - member_remove; reason "bounce" = removed by
 * bounce processing, whose own notice (bounce_removed) tells the owners. */
gboolean member_remove_reason(Instance *inst, const char *list, const char *addr, const char *reason,
                              GError **error);
/* member_set_flag - flag is "nomail", "digest", "post_only" or "moderated". */
gboolean member_set_flag(Instance *inst, const char *list, const char *addr,
                         const char *flag, gboolean on, GError **error);
/* member_list - every member (GPtrArray of Member*, free with g_ptr_array_unref). */
GPtrArray *member_list(const Instance *inst, const char *list);
/* member_list_csv - the members as CSV, the columns every members import
 * reads: address,name,delivery (mail, nomail, post_only),digest (yes,
 * no), a header line first, LF line ends (kairan export --members and
 * the web's members.csv). */
GString *member_list_csv(const Instance *inst, const char *list);
/* member_page - at most limit members from offset in address order,
 * only those whose address or name holds q (case-insensitive for ASCII;
 * NULL or "": all); *total gets how many match. */
GPtrArray *member_page(const Instance *inst, const char *list, const char *q, gint64 offset, gint64 limit,
                       gint64 *total);
/* member_count - number of members (all kinds). */
gint64 member_count(const Instance *inst, const char *list);
/* list_recipients - addresses that get each post: not nomail, not
 * post_only, not digest (GPtrArray of char*, owned). */
GPtrArray *list_recipients(const Instance *inst, const char *list);
/* list_fanout_rcpts - the same recipients as a queue envelope, leaving out
 * except (may be NULL).  The fan-out uses this: no per-member allocation.
 * Members on vacation (vacation_until in the future) are left out. */
QueueRcpts *list_fanout_rcpts(const Instance *inst, const char *list, const char *except);
/* list_fanout_rcpts_direct - list_fanout_rcpts, also leaving out the
 * members with nodupes whose address is in direct (a set of normalised
 * addresses of the post's To/Cc; may be NULL). */
QueueRcpts *list_fanout_rcpts_direct(const Instance *inst, const char *list, const char *except,
                                     GHashTable *direct);
/* is_owner / is_moderator - address in the owners / moderators setting
 * (moderators default to the owners). */
gboolean list_is_owner(const Instance *inst, const char *list, const char *addr);
gboolean list_is_moderator(const Instance *inst, const char *list, const char *addr);
/* list_is_banned - addr matches the list's `banned` setting (an address,
 * a * and ? pattern, or a ^regex; all case-insensitive). */
gboolean list_is_banned(const Instance *inst, const char *list, const char *addr);
/* list_address_matches - addr matches the patterns of the SETTING_PATTERNS
 * setting key (banned, accept_nonmembers, ...): the one matcher of them. */
gboolean list_address_matches(const Instance *inst, const char *list, const char *key, const char *addr);
/* list_moderators - moderators, or the owners if none (g_strfreev). */
char **list_moderators(const Instance *inst, const char *list);

/* member_set_pop_password - store the hash of a member's POP3 password,
 * and, unless [global] pop3_apop = no, the password itself as the APOP
 * secret (APOP needs the shared secret; see lists.c). */
gboolean member_set_pop_password(Instance *inst, const char *list, const char *addr,
                                 const char *password, GError **error);
/* member_pop_password_verify - TRUE if password matches the member's
 * POP3 password hash; *is_member (may be NULL) says whether addr is a
 * member at all. */
gboolean member_pop_password_verify(const Instance *inst, const char *list, const char *addr,
                                    const char *password, gboolean *is_member);
/* member_apop_secret - the member's APOP secret, NULL if none or if
 * APOP is off (pop3_apop = no). */
char *member_apop_secret(const Instance *inst, const char *list, const char *addr);
/* pop3_apop_enabled - [global] pop3_apop (default yes). */
gboolean pop3_apop_enabled(const Instance *inst);

#endif
