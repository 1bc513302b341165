/* popbeforesmtp.h - POP-before-SMTP (the seeds' relay scheme): after a
 * successful POP3 (or IMAP) login from an IP address, `kairan relay`
 * lets that address relay for pop_before_smtp seconds.  The windows live
 * in SQLite (table pop_before_smtp), shared by the daemons. */
#ifndef KAIRAN_POPBEFORESMTP_H
#define KAIRAN_POPBEFORESMTP_H

#include "instance.h"

/* popbeforesmtp_record - open (or extend) the window of ip after a
 * successful login; nothing when pop_before_smtp is 0 (off).  Best
 * effort: a database error is logged, never fatal to the login. */
void popbeforesmtp_record(Instance *inst, const char *ip);
/* popbeforesmtp_record_login - the same, remembering who logged in
 * (ADDRESS of LIST), so that `kairan passwd LIST [ADDRESS]` ends it. */
void popbeforesmtp_record_login(Instance *inst, const char *ip, const char *list, const char *address);
/* popbeforesmtp_allowed - is ip inside an open window? */
gboolean popbeforesmtp_allowed(Instance *inst, const char *ip);
/* popbeforesmtp_end - end the windows of address at list (address NULL:
 * every window of list) and those recorded without a user; how many. */
int popbeforesmtp_end(Instance *inst, const char *list, const char *address);

#endif
