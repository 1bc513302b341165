/* deliver.h - the posting path of `kairan deliver LIST`: parsing the
 * incoming mail, loop checks, post policy, MIME filtering; then hold
 * (lib/held.c), refuse, or distribute (lib/distribute.c). */
#ifndef KAIRAN_DELIVER_H
#define KAIRAN_DELIVER_H

#include <gmime/gmime.h>
#include "instance.h"
#include "message.h"
#include "incoming.h"
#include "archive.h"
#include "distribute.h"
#include "held.h"

/* incoming_parse - parse raw with GMime (takes raw).  NULL and error
 * EXIT_DATAERR for empty or unparseable input. */
Incoming *incoming_parse(Instance *inst, const char *list, const char *sender,
                         GByteArray *raw, GError **error);

/* post_process - the whole posting path; returns the exit status. */
int post_process(Incoming *in);
/* post_refuse - refuse a post with a reply naming reason (refusal_limit
 * applies; no reply to automatic mail); attach_post FALSE for a virus. */
int post_refuse(Incoming *in, const char *reason, gboolean attach_post);

/* Policy (policy.c). */
typedef enum { POLICY_ACCEPT, POLICY_HOLD, POLICY_REFUSE } PolicyVerdict;
PolicyVerdict policy_post(const char *post_policy, gboolean is_member, gboolean is_moderator);
/* loop_check - a reason to drop the mail silently, or NULL. */
const char *loop_check(GMimeMessage *msg, const char *list, const char *list_id,
                       const char *envelope_sender);
/* loop_been_there - a reason to drop the mail when it carries an
 * X-BeenThere: list_addr (LIST@domain, any case), else NULL. */
const char *loop_been_there(GMimeMessage *msg, const char *list_addr);
/* post_seen - the number of the post that distributed message_id in list
 * within the last `window` seconds, or 0 (distribute.c). */
gint64 post_seen(Instance *inst, const char *list, const char *message_id, gint64 window);

/* MIME filtering (mimefilter.c). */
typedef enum { FILTER_OK, FILTER_REJECT } FilterResult;
gboolean mime_type_allowed(const char *type, const char *subtype, const char *allowed);
gboolean message_is_html_only(GMimeMessage *msg);
/* filter_attachments - apply attachments = strip|reject: *removed gets a
 * description of what was (or would be) removed, NULL if nothing. */
FilterResult filter_attachments(GMimeMessage *msg, const char *mode, const char *allowed,
                                char **removed);

#endif
