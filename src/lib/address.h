/* address.h - mail address checking and normalisation (RFC 5321 rules:
 * the domain is case-insensitive, the local part is compared exactly). */
#ifndef KAIRAN_ADDRESS_H
#define KAIRAN_ADDRESS_H

#include <glib.h>

/* address_normalize - check a bare address (optionally in <>, surrounding
 * blanks allowed), return it with the domain in lower case, or NULL and a
 * message in *why (static string). */
char *address_normalize(const char *in, const char **why);
/* address_from_header - the first mailbox address of a header value
 * (From:, Reply-To:, "Name <a@b>"), normalised; NULL if none is valid.
 * If name is not NULL it gets the decoded display name (or NULL). */
char *address_from_header(const char *value, char **name);
/* address_equal - compare two normalised addresses. */
gboolean address_equal(const char *a, const char *b);
/* address_domain - pointer to the part after the last '@'. */
const char *address_domain(const char *addr);
/* address_is_mailer_daemon - null sender, MAILER-DAEMON, postmaster-ish
 * automatic senders that must never get a reply. */
gboolean address_is_mailer_daemon(const char *addr);

#endif
