/* notices.h - notices kairan mails about what happened on a list: to the
 * owners on membership changes (notify_membership), to an author when a
 * post was distributed (acknowledge_posts + the member's acknowledge). */
#ifndef KAIRAN_NOTICES_H
#define KAIRAN_NOTICES_H

#include "instance.h"

/* notices_membership - when the list's notify_membership = yes, each
 * owner gets one mail: event "subscribe", "unsubscribe" (address) or
 * "chaddr" (address = the old one, detail = the new one).  A failure to
 * queue is logged: the change itself is done. */
void notices_membership(Instance *inst, const char *list, const char *event, const char *address,
                        const char *detail);
/* notices_post_ack - when acknowledge_posts = yes and author is a member
 * with acknowledge on: "your post NUMBER to LIST was distributed".  The
 * caller checks that the post was not automatic mail. */
void notices_post_ack(Instance *inst, const char *list, const char *author, gint64 num, const char *subject);

#endif
