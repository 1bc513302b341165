/* autorespond.h - the auto-responders of a list (Mailman's autorespond_*):
 * a fixed text answering mail to LIST (posts), LIST-admin (admin) or
 * LIST-ctl (ctl), once per sender per autorespond_grace. */
#ifndef KAIRAN_AUTORESPOND_H
#define KAIRAN_AUTORESPOND_H

#include <gmime/gmime.h>
#include "instance.h"

/* autorespond_wanted - TRUE when autorespond_KIND = yes and msg is not
 * automatic mail (notify_is_automatic).  Ask before msg is rewritten
 * (a distributed post carries Precedence: bulk). */
gboolean autorespond_wanted(Instance *inst, const char *list, const char *kind, GMimeMessage *msg,
                            const char *envelope_sender);
/* autorespond_send - the response to `to` (the envelope sender), unless
 * one went to it within autorespond_grace (0 = every time) or it is an
 * address of a list here.  subject and message_id (may be NULL) are those
 * of the mail answered.  Failures are logged. */
void autorespond_send(Instance *inst, const char *list, const char *kind, const char *to, const char *subject,
                      const char *message_id);

#endif
