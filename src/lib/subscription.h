/* subscription.h - subscribe and unsubscribe requests under a list's
 * subscribe_policy, confirmed by a single-use token sent to the mailbox
 * (by mail reply or the web confirm link).  Used by command mail and by
 * the web interface alike. */
#ifndef KAIRAN_SUBSCRIPTION_H
#define KAIRAN_SUBSCRIPTION_H

#include "instance.h"

typedef enum {
    SUB_DONE,               /* subscribed / unsubscribed now */
    SUB_CONFIRM_SENT,       /* a confirmation mail went to the address */
    SUB_PENDING_APPROVAL,   /* confirmed; the owners were asked to approve */
    SUB_ALREADY,            /* already a member / not a member: nothing to do */
    SUB_REFUSED,            /* the list's policy does not allow it */
    SUB_BANNED,             /* the address matches the list's `banned` */
    SUB_BAD_TOKEN           /* confirm: unknown, expired or used token */
} SubResult;

/* subscription_request - action is "subscribe" or "unsubscribe" for
 * address (normalised), name may be NULL.  Under subscribe_policy open a
 * subscribe is done at once; otherwise (and for every unsubscribe) a
 * token is mailed to the address first.  *message (may be NULL) gets a
 * sentence for the user, in English. */
SubResult subscription_request(Instance *inst, const char *list, const char *action,
                               const char *address, const char *name,
                               char **message, GError **error);
/* subscription_invite - an owner (or the REST API) asks address to
 * join: a confirmation mail goes out whatever subscribe_policy says, and
 * the address becomes a member when it is answered.  List addresses and
 * banned addresses are refused (error set) as member_add refuses them. */
SubResult subscription_invite(Instance *inst, const char *list, const char *address, const char *name,
                              char **message, GError **error);
/* subscription_confirm - apply a confirmation token (from the reply mail
 * or the web link).  *list_out (may be NULL) gets the list. */
SubResult subscription_confirm(Instance *inst, const char *token, char **list_out,
                               char **message, GError **error);
/* subscription_confirm_url - WEB_URL/confirm/TOKEN, or NULL when no
 * web_url is configured. */
char *subscription_confirm_url(const Instance *inst, const char *token);
/* subscription_list_confirm_url - the same at the web_url of the list's
 * domain (domains.h: list_web_url). */
char *subscription_list_confirm_url(const Instance *inst, const char *list, const char *token);
/* subscription_welcome / goodbye - send the welcome or goodbye mail. */
gboolean subscription_welcome(Instance *inst, const char *list, const char *address, GError **error);
gboolean subscription_goodbye(Instance *inst, const char *list, const char *address, GError **error);

#endif
