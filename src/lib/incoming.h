/* incoming.h - one mail handed to `kairan deliver` (a post, a command
 * mail or mail to LIST-admin): the bytes as received, GMime's parse of
 * them and what every job reads first (envelope sender, From:,
 * Message-ID).  deliver makes it (incoming_parse); deliver and ctl use it. */
#ifndef KAIRAN_INCOMING_H
#define KAIRAN_INCOMING_H

#include <gmime/gmime.h>
#include "instance.h"

typedef struct {
    Instance *inst;
    char *list;
    char *envelope_sender;   /* "" for the null sender */
    GByteArray *raw;         /* the mail as received, without a From_ line */
    GMimeMessage *msg;
    char *from_addr;         /* From: address, normalised (may be NULL) */
    char *from_name;
    char *message_id;
    gsize parts_over;        /* max_parts: the parts counted when over it (msg is then
                              * only the first parts), else 0 */
    GByteArray *stored;      /* s12-mod: what a hold stores instead of raw (msg written
                              * out once an Approved: password was taken out), or NULL */
} Incoming;

void incoming_free(Incoming *in);

#endif
