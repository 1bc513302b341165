/* token.h - single-use confirmation tokens (subscribe, unsubscribe,
 * chaddr, web one-click...): HMAC-SHA256 over (list, action, address,
 * expiry) under the instance secret, recorded in the tokens table. */
#ifndef KAIRAN_TOKEN_H
#define KAIRAN_TOKEN_H

#include "instance.h"

/* token_create - a new token (hex, 32 chars) for action on address,
 * valid for lifetime seconds; extra (may be NULL) is kept with it (e.g. a
 * name, or the new address of chaddr). */
char *token_create(Instance *inst, const char *list, const char *action,
                   const char *address, const char *extra, gint64 lifetime, GError **error);

typedef enum {
    TOKEN_OK,
    TOKEN_UNKNOWN,     /* never issued, or forged */
    TOKEN_EXPIRED,
    TOKEN_USED         /* already consumed */
} TokenStatus;

/* token_consume - check the token and mark it used (atomically).  On
 * TOKEN_OK the out parameters (each may be NULL) get the list, action,
 * address and extra it was made for. */
TokenStatus token_consume(Instance *inst, const char *token, char **list, char **action,
                          char **address, char **extra);
/* token_peek - like token_consume but does not mark it used. */
TokenStatus token_peek(Instance *inst, const char *token, char **list, char **action,
                       char **address, char **extra);
const char *token_status_text(TokenStatus s);

/* token_oneclick_sig - the signature that lets the RFC 8058 one-click
 * unsubscribe link of a personalized copy work without a stored token:
 * hex HMAC-SHA256(secret, "oneclick\nLIST\nADDRESS"), 32 digits.
 * token_oneclick_url - the whole link (NULL without [global] web_url). */
char *token_oneclick_sig(const Instance *inst, const char *list, const char *address);
char *token_oneclick_url(const Instance *inst, const char *list, const char *address);

#endif
