/* template.h - text templates of reply mails (templates/mail/LANG/NAME.txt)
 * with {{name}} substitution (the syntax of the web templates too). */
#ifndef KAIRAN_TEMPLATE_H
#define KAIRAN_TEMPLATE_H

#include <glib.h>

/* template_load - the text of templates/mail/LANG/NAME.txt, falling back
 * to English; NULL if neither exists. */
char *template_load(const char *lang, const char *name);
/* template_expand - replace {{key}} (letters, digits, _) by the value in
 * vars (char* -> char*); unknown keys become empty; any other {{ stays as
 * it is. */
char *template_expand(const char *text, GHashTable *vars);
/* template_vars_new - a hash table (owned keys and values). */
GHashTable *template_vars_new(void);
void template_var(GHashTable *vars, const char *key, const char *value);

#endif
