/* scan.h - the virus/spam check of a post before it is accepted
 * (scan.c): clamd INSTREAM and an external filter command. */
#ifndef KAIRAN_SCAN_H
#define KAIRAN_SCAN_H

#include "deliver.h"

typedef enum { SCAN_ACCEPT, SCAN_REJECT, SCAN_HOLD, SCAN_TEMPFAIL } ScanVerdict;

/* scan_post - clamd ([global] clamd_socket), then [global]
 * filter_command, on the mail as received; *reason (allocated) says why
 * for anything but SCAN_ACCEPT. */
ScanVerdict scan_post(Incoming *in, char **reason);
/* scan_clamd - INSTREAM to clamd at a unix path or host:port. */
ScanVerdict scan_clamd(const char *where, const guint8 *data, gsize len, int timeout_s, char **reason);
/* scan_command - run command with data on stdin; env_extra holds
 * name, value pairs (NULL-terminated). */
ScanVerdict scan_command(const char *command, const guint8 *data, gsize len, char **env_extra,
                         int timeout_s, char **reason);

#endif
