/* held.h - posts held for the moderators (held.c): stored as received in
 * spool/LIST/held/ID with a row in the held table, approved (distributed
 * as the next number) or rejected. */
#ifndef KAIRAN_HELD_H
#define KAIRAN_HELD_H

#include "incoming.h"

/* Held posts (held.c). */
char *held_store(Instance *inst, const char *list, Incoming *in, const char *reason, GError **error);
gboolean held_approve(Instance *inst, const char *list, const char *id, gint64 *num, GError **error);
gboolean held_reject(Instance *inst, const char *list, const char *id, const char *reason,
                     gboolean notify_sender, GError **error);
/* held_list_print - `kairan held LIST`. */
void held_list_print(Instance *inst, const char *list);
/* held_expire - discard the posts held longer than max_days (0: none);
 * each sender is told (template held_expired) unless the post was
 * automatic mail.  dry_run: only say so in report.  The number
 * discarded, -1 on error (the posts not done yet stay held). */
int held_expire(Instance *inst, const char *list, gint64 now, gint64 max_days, gboolean dry_run,
                GString *report, GError **error);
/* held_remind - one mail to each moderator listing every held post (id,
 * age, sender, subject) and how to approve (template held_reminder);
 * nothing when nothing waits.  Posts older than max_days (> 0), which
 * held_expire discards, are left out.  The mails sent, -1 on error. */
int held_remind(Instance *inst, const char *list, gint64 now, gint64 max_days, gboolean dry_run,
                GString *report, GError **error);

#endif
