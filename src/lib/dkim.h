/* dkim.h - DKIM signing (RFC 6376) of the mail kairan sends: posts as
 * distributed and kairan's own notices; rsa-sha256 and ed25519-sha256
 * (RFC 8463), relaxed/relaxed canonicalisation; key generation for
 * `kairan dkim-keygen`. */
#ifndef KAIRAN_DKIM_H
#define KAIRAN_DKIM_H

#include <glib.h>
#include <openssl/evp.h>
#include "instance.h"

/* dkim_sign_bytes - bytes is a whole message exactly as it will be
 * written (LF or CRLF line ends).  If kairan.conf has a key for the
 * domain of its From: address, or else for the instance's domain, a
 * DKIM-Signature header field is put in front of the message.  TRUE if
 * signed or nothing to do; FALSE and error (EXIT_TEMPFAIL) when a key is
 * configured but cannot be used. */
gboolean dkim_sign_bytes(const Instance *inst, GByteArray *bytes, GError **error);

/* dkim_signature - the DKIM-Signature header field (with its trailing
 * newline, folded with LF + TAB) for msg signed with key.  t is the
 * signing time (seconds).  NULL and error if signing fails. */
char *dkim_signature(const guint8 *msg, gsize len, EVP_PKEY *key, const char *domain,
                     const char *selector, gint64 t, GError **error);

/* dkim_body_hash - base64 SHA-256 of the relaxed canonical body. */
char *dkim_body_hash(const guint8 *msg, gsize len);

/* dkim_key_load - a PEM private key (RSA or Ed25519). */
EVP_PKEY *dkim_key_load(const char *path, GError **error);

/* dkim_key_for - the selector and key file configured for domain in the
 * [dkim] group (`domain = selector:keyfile`, keyfile relative to the
 * instance); FALSE if none. */
gboolean dkim_key_for(const Instance *inst, const char *domain, char **selector, char **keyfile);

/* dkim_keygen - a new key of type "rsa" (bits) or "ed25519", written as
 * PEM to path (mode 0600); *txt gets the DNS TXT record value
 * ("v=DKIM1; k=...; p=..."). */
gboolean dkim_keygen(const char *type, int bits, const char *path, char **txt, GError **error);

#endif
