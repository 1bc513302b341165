/* ratelimit.h - per-hour limits on the mail kairan writes in answer to
 * mail from strangers (command replies, confirmation requests, refusals,
 * archive mail for get/mget), so that nobody can use a list to mail-bomb
 * an address.  The counters live in kairan.db (table rate_limits) and so
 * hold across processes. */
#ifndef KAIRAN_RATELIMIT_H
#define KAIRAN_RATELIMIT_H

#include "instance.h"

/* Kinds of counters, with the per-list setting that limits each. */
#define RATE_CTL_REPLY "ctl_reply"      /* ctl_reply_limit: replies to one sender */
#define RATE_CONFIRM   "confirm"        /* confirm_limit: confirmation mails to one address */
#define RATE_REFUSAL   "refusal"        /* refusal_limit: refusal replies to one sender */
/* Archive mail (mget, get) sent to one address: two counters of one
 * budget, mails (send_limit_mails) and bytes (send_limit_bytes). */
#define RATE_SEND_MAILS "send_mails"
#define RATE_SEND_BYTES "send_bytes"

#define RATE_WINDOW 3600                /* seconds: the limits are per hour */

typedef enum {
    RATE_OK,          /* under the limit: counted, go ahead */
    RATE_OVER,        /* over the limit: send nothing */
    RATE_OVER_FIRST,  /* over the limit, for the first time in this window: log it */
} RateResult;

/* ratelimit_take - count one mail of kind for (list, key) if the list's
 * limit for kind allows it.  A limit of 0 means no limit.  A database
 * error counts as allowed (better one mail too many than a lost reply)
 * and is logged. */
RateResult ratelimit_take(Instance *inst, const char *list, const char *kind, const char *key);
/* ratelimit_give_back - undo one ratelimit_take that sent nothing. */
void ratelimit_give_back(Instance *inst, const char *list, const char *kind, const char *key);
/* ratelimit_take_send - may mails more mails of bytes bytes in all go to
 * key this hour (send_limit_mails and send_limit_bytes of list, 0 = no
 * limit)?  Counts them and returns RATE_OK if both limits allow it;
 * otherwise counts nothing, returns RATE_OVER (RATE_OVER_FIRST the first
 * time in the window, which is logged) and sets *which to the setting
 * that would be passed.  A database error counts as allowed (logged). */
RateResult ratelimit_take_send(Instance *inst, const char *list, const char *key,
                               gint64 mails, gint64 bytes, const char **which);
/* ratelimit_take_window - count one event of kind for key in a fixed
 * window of window seconds if fewer than limit were counted in it
 * (RATE_OK), else RATE_OVER; limit 0 = no limit.  Not tied to a list. */
RateResult ratelimit_take_window(Instance *inst, const char *kind, const char *key, gint64 limit, gint64 window);
/* ratelimit_setting - the per-list setting that limits kind. */
const char *ratelimit_setting(const char *kind);

#endif
