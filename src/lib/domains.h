/* domains.h - the mail domains of an instance and the domain part of a
 * list's id.
 *
 * [global] domain is the default domain; `kairan domain add` adds others
 * (table domains).  A list's id - the key every table and spool/ use - is
 * its bare NAME in the default domain and NAME@DOMAIN in any other, so
 * an instance from before several domains needs no row rewritten.
 * Every front end turns what a user typed (NAME or NAME@DOMAIN, any case)
 * into the id with list_resolve(). */
#ifndef KAIRAN_DOMAINS_H
#define KAIRAN_DOMAINS_H

#include "instance.h"

typedef struct {
    char *name;
    char *web_url;       /* NULL: [global] web_url */
    gint64 created;      /* 0 for the default domain */
    gboolean is_default;
    gint64 lists;        /* how many lists it has */
} Domain;

/* domain_name_valid - a DNS name kairan can hold lists for (lower-case
 * letters, digits, '-', dot-separated labels). */
gboolean domain_name_valid(const char *name, const char **why);
/* domain_is_local - the default domain or one added (any case). */
gboolean domain_is_local(const Instance *inst, const char *domain);
/* domain_add - EXIT_USAGE for a bad name or URL, the default domain or
 * one there already. */
gboolean domain_add(Instance *inst, const char *name, const char *web_url, GError **error);
/* domain_set_web_url - web_url NULL or "" falls back to [global] web_url. */
gboolean domain_set_web_url(Instance *inst, const char *name, const char *web_url, GError **error);
/* domain_remove - EXIT_NOUSER if unknown, EXIT_USAGE for the default
 * domain or while the domain has lists (naming them). */
gboolean domain_remove(Instance *inst, const char *name, GError **error);
/* domain_list - the default domain first, then the others by name
 * (GPtrArray of Domain*, free with g_ptr_array_unref). */
GPtrArray *domain_list(const Instance *inst);
void domain_free(Domain *d);
/* domain_names - the added domains (not the default), g_strfreev. */
char **domain_names(const Instance *inst);

/* list_resolve - the id of the list a user named "NAME" or "NAME@DOMAIN"
 * (the domain in any case, NAME lower case as every list name;
 * NAME@<default domain> is NAME), or NULL with EXIT_NOUSER
 * ("no such list: ARG"). */
char *list_resolve(const Instance *inst, const char *arg, GError **error);
/* list_id_for - the id a new list "NAME" or "NAME@DOMAIN" gets, checking
 * the name (EXIT_USAGE) and that the domain is one of ours (EXIT_USAGE,
 * naming `kairan domain add`); the list need not exist. */
char *list_id_for(const Instance *inst, const char *arg, GError **error);
/* list_id_join - the id of NAME in domain (NULL: the default). */
char *list_id_join(const Instance *inst, const char *name, const char *domain);
/* list_name - the NAME part of a list id (newly allocated). */
char *list_name(const char *id);
/* list_domain - the domain of a list id (newly allocated). */
char *list_domain(const Instance *inst, const char *id);
/* list_full_name - NAME@DOMAIN of any list (newly allocated). */
char *list_full_name(const Instance *inst, const char *id);
/* list_id_header - NAME.DOMAIN, the List-Id and digest Message-ID token. */
char *list_id_header(const Instance *inst, const char *id);
/* list_web_url - the list's domain's web_url, else [global] web_url;
 * NULL when neither is set. */
char *list_web_url(const Instance *inst, const char *id);

#endif
