/* authguard.h - the one guessing guard of every login (SMTP AUTH, POP3,
 * the web login, admin command mail): failures counted per client address
 * (IPv6 by /64) and per account in kairan.db, across connections and
 * processes, and the growing delay a login must wait before its password
 * is checked.  It never refuses a right password for good: it only makes
 * the answer wait. */
#ifndef KAIRAN_AUTHGUARD_H
#define KAIRAN_AUTHGUARD_H

#include <glib.h>
#include "instance.h"

/* The [global] keys auth_guard_free, auth_guard_max_delay and
 * auth_guard_forget (globals.c) tune it. */
#define AUTHGUARD_BASE_MS 250             /* the first delay; doubles with every failure */

/* authguard_ip_key - the key of a client address: "ip:192.0.2.1",
 * "ip:2001:db8:1:2::/64" (IPv6 by its /64, an IPv4-mapped address as
 * IPv4); anything else as given.  NULL for NULL or "". */
char *authguard_ip_key(const char *ip);
/* authguard_account_key - "acct:" + the account name, lower case; NULL
 * for NULL or "". */
char *authguard_account_key(const char *account);
/* authguard_penalty_ms - the delay after `failures` recent failures:
 * 0 for the first free_failures, then 250 ms doubled with each further
 * failure, at most max_ms. */
gint64 authguard_penalty_ms(gint64 failures, gint64 free_failures, gint64 max_ms);

/* authguard_delay - milliseconds to wait before checking a login of
 * account (may be NULL) from ip (may be NULL, e.g. for mail): the
 * longest of the penalties of both keys, counted from their last failure
 * (so a login long after the last failure does not wait).  service
 * ("smtp", "pop3", "web", "mail") is for the log.  A database error
 * counts as no delay (logged). */
gint64 authguard_delay(Instance *inst, const char *service, const char *ip, const char *account);
/* authguard_wait - authguard_delay, then sleep that long (for the
 * thread-per-client daemons and command mail); returns the ms slept. */
gint64 authguard_wait(Instance *inst, const char *service, const char *ip, const char *account);
/* authguard_failed - count a failed login for both keys; returns the
 * account's recent failures (with this one; 0 without an account). */
gint64 authguard_failed(Instance *inst, const char *service, const char *ip, const char *account);
/* authguard_succeeded - a right password: the client address is
 * forgotten; the account keeps its count until it is forgotten by time,
 * so an attacker gets no fresh free guesses when the user logs in. */
void authguard_succeeded(Instance *inst, const char *service, const char *ip, const char *account);

#endif
