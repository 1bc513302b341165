/* apitoken.h - tokens of the REST API (apitoken.c): made by `kairan
 * api-token new`, shown once, stored as their SHA-256 only.  An instance
 * token (list NULL) may do everything; a list token manages one list. */
#ifndef KAIRAN_APITOKEN_H
#define KAIRAN_APITOKEN_H

#include "instance.h"

typedef struct {
    gint64 id;
    char *list;        /* NULL: an instance token */
    char *name;        /* the label given at creation; may be NULL */
    gint64 created;
    gint64 last_used;  /* 0: never */
    gint64 revoked;    /* 0: in force */
} ApiToken;

void apitoken_free(ApiToken *t);
/* apitoken_new - a new token for list (NULL: instance) with an optional
 * name; returns the secret (shown once) and sets *id.  The list must
 * exist (EXIT_NOUSER otherwise). */
char *apitoken_new(Instance *inst, const char *list, const char *name, gint64 *id, GError **error);
/* apitoken_list - every token, revoked ones too (GPtrArray of ApiToken*). */
GPtrArray *apitoken_list(Instance *inst);
/* apitoken_revoke - FALSE with EXIT_NOUSER when there is no such token
 * in force. */
gboolean apitoken_revoke(Instance *inst, gint64 id, GError **error);
/* apitoken_check - the token in force whose secret this is, or NULL
 * (unknown, malformed or revoked; *revoked says which).  Records the use
 * (last_used, to the minute). */
ApiToken *apitoken_check(Instance *inst, const char *secret, gboolean *revoked);
/* apitoken_remove_list - delete the tokens of list (rmlist; inside the
 * caller's transaction). */
gboolean apitoken_remove_list(Instance *inst, const char *list, GError **error);

#endif
