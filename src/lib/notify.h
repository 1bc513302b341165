/* notify.h - mails kairan writes itself (replies, notices to owners and
 * moderators), built with GMime and put in the queue. */
#ifndef KAIRAN_NOTIFY_H
#define KAIRAN_NOTIFY_H

#include <gmime/gmime.h>
#include "instance.h"

/* notify_is_automatic - TRUE if a message must never be answered:
 * Auto-Submitted other than "no", Precedence bulk/junk/list, null or
 * MAILER-DAEMON envelope sender, or our own loop marker. */
gboolean notify_is_automatic(GMimeMessage *msg, const char *envelope_sender);

/* notify_build - a text/plain UTF-8 mail from template NAME in the
 * list's language: vars are expanded in the Subject and body.  from is
 * the From address (NULL = LIST-admin@domain); in_reply_to may be NULL;
 * attach (may be NULL) is added as a message/rfc822 part. */
GMimeMessage *notify_build(const Instance *inst, const char *list, const char *template_name,
                           GHashTable *vars, const char *from, const char *to,
                           const char *in_reply_to, GMimeMessage *attach);
/* notify_queue - serialise msg and queue it for rcpts with envelope
 * sender LIST-admin@domain. */
gboolean notify_queue(const Instance *inst, const char *list, GMimeMessage *msg,
                      const char *const *rcpts, guint nrcpts, GError **error);
/* notify_send - notify_build + notify_queue to one address. */
gboolean notify_send(const Instance *inst, const char *list, const char *template_name,
                     GHashTable *vars, const char *to, const char *in_reply_to,
                     GMimeMessage *attach, GError **error);
/* message_to_bytes - serialise a message (LF line ends). */
GByteArray *message_to_bytes(GMimeMessage *msg);

#endif
