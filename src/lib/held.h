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

#endif
