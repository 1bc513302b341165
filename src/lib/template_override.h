/* template_override.h - owners' own texts for the mails kairan writes:
 * KAIRAN_HOME/templates/LIST/LANG/NAME.txt (one list),
 * KAIRAN_HOME/templates/@DOMAIN/LANG/NAME.txt (the domain) and
 * KAIRAN_HOME/templates/LANG/NAME.txt (the instance) override the
 * shipped templates/mail/LANG/NAME.txt, in that order.  Used by
 * notify.c (every notice) and the help/guide replies of src/ctl; edited
 * by `kairan template` (src/cli/template.c) and the web page
 * /admin/LIST/templates (src/web/page_templates.c). */
#ifndef KAIRAN_TEMPLATE_OVERRIDE_H
#define KAIRAN_TEMPLATE_OVERRIDE_H

#include <glib.h>
#include "instance.h"

/* Largest override text in bytes. */
#define TEMPLATE_OVERRIDE_MAX 65536

typedef enum {
    TEMPLATE_FROM_NONE,       /* no such template */
    TEMPLATE_FROM_SHIPPED,    /* templates/mail/LANG/NAME.txt */
    TEMPLATE_FROM_INSTANCE,   /* HOME/templates/LANG/NAME.txt */
    TEMPLATE_FROM_DOMAIN,     /* HOME/templates/@DOMAIN/LANG/NAME.txt */
    TEMPLATE_FROM_LIST        /* HOME/templates/LIST/LANG/NAME.txt */
} TemplateSource;

/* template_source_name - "shipped", "instance", "domain", "list" or "none". */
const char *template_source_name(TemplateSource src);

/* template_names - the names of the shipped mail templates that may be
 * overridden (sorted, NULL-terminated; g_strfreev). */
char **template_names(void);
/* template_name_known - TRUE if name is one of template_names(). */
gboolean template_name_known(const char *name);

/* template_load_for - the text in effect for list (NULL: no list) in
 * lang: for lang, then English, the list's override, the domain's, the
 * instance's, the shipped file.  *src (may be NULL) says where it came
 * from.  NULL when there is no such template. */
char *template_load_for(const Instance *inst, const char *list, const char *lang, const char *name,
                        TemplateSource *src);

/* template_override_path - HOME/templates/LIST/LANG/NAME.txt (allocated);
 * NULL if list, lang or name is not a safe name. */
char *template_override_path(const Instance *inst, const char *list, const char *lang, const char *name);
/* template_is_overridden - TRUE if list has its own NAME.txt in lang. */
gboolean template_is_overridden(const Instance *inst, const char *list, const char *lang, const char *name);

/* template_placeholders_unknown - the {{placeholders}} of text that
 * template name never fills (NULL-terminated, each once, in order of
 * appearance; empty when all are known).  Known are those the shipped
 * texts of name use (in every language) and list, list_address,
 * ctl_address, admin_address. */
char **template_placeholders_unknown(const char *name, const char *text);
/* template_placeholders_known - the placeholders template name is filled
 * with, sorted (NULL-terminated; g_strfreev). */
char **template_placeholders_known(const char *name);

/* template_override_set - check text (UTF-8, no control characters but
 * TAB and line ends, at most TEMPLATE_OVERRIDE_MAX bytes, only known
 * placeholders; CRLF becomes LF) and install it as list's NAME.txt in
 * lang (atomically).  Errors are EXIT_USAGE (bad list, language or
 * template name), EXIT_DATAERR (bad text, naming the unknown
 * placeholders) or EXIT_IOERR/EXIT_CANTCREAT. */
gboolean template_override_set(const Instance *inst, const char *list, const char *lang, const char *name,
                               const char *text, gsize len, GError **error);
/* template_override_reset - remove list's NAME.txt in lang; TRUE also
 * when there was none (*removed, may be NULL, says which). */
gboolean template_override_reset(const Instance *inst, const char *list, const char *lang, const char *name,
                                 gboolean *removed, GError **error);

#endif
