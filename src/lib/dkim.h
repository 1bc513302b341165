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

/* DkimSigner - one key and body hash for signing many copies of one
 * message that differ only in header fields (personalised delivery,
 * src/relay/personalize.c): the body is hashed once, each copy costs one
 * header hash and one signature.  Safe to use from several threads. */
typedef struct DkimSigner DkimSigner;
/* dkim_signer_new - for the message msg (whole, as queued; the key is
 * chosen as in dkim_sign_bytes).  NULL without error when signing is not
 * configured; NULL with error when the key cannot be loaded. */
DkimSigner *dkim_signer_new(const Instance *inst, const guint8 *msg, gsize len, GError **error);
const char *dkim_signer_domain(const DkimSigner *s);
/* dkim_signer_sign - the DKIM-Signature field (LF-folded, with its
 * newline) for head: the copy's header block (its body must be the
 * body the signer was made for). */
char *dkim_signer_sign(const DkimSigner *s, const guint8 *head, gsize len, GError **error);
void dkim_signer_free(DkimSigner *s);
/* dkim_own_signature_len - the length (with its LF) of msg's first header
 * field if it is a DKIM-Signature with d=domain (the one dkim_sign_bytes
 * put in front), else 0. */
gsize dkim_own_signature_len(const guint8 *msg, gsize len, const char *domain);

#endif
