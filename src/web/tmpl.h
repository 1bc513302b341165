/* tmpl.h - the HTML template engine of the web interface.
 *
 * Templates are files templates/web/NAME.html with a Mustache-like
 * syntax:
 *   {{name}}            the value, HTML-escaped (always)
 *   {{{name}}}          the value unescaped - but only a value the code
 *                       marked as trusted HTML with tdata_set_html();
 *                       any other value is escaped here too
 *   {{#name}}..{{/name}} a list: once per item; a value: once if set
 *                       and not empty
 *   {{^name}}..{{/name}} once if name is unset, empty or an empty list
 *   {{_ Some text}}     Some text translated (templates/web/i18n/LANG.txt)
 * Names are looked up in the current item, then outwards. */
#ifndef KAIRAN_WEB_TMPL_H
#define KAIRAN_WEB_TMPL_H

#include <glib.h>

typedef GHashTable TData;

TData *tdata_new(void);
void tdata_free(TData *d);
void tdata_set(TData *d, const char *key, const char *value);
void tdata_setf(TData *d, const char *key, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
void tdata_set_int(TData *d, const char *key, gint64 v);
/* tdata_set_html - a trusted HTML fragment (built by our own code from
 * escaped parts, or rendered from another template). */
void tdata_set_html(TData *d, const char *key, const char *html);
void tdata_set_bool(TData *d, const char *key, gboolean on);
/* tdata_add - append a new item to the list key and return it. */
TData *tdata_add(TData *d, const char *key);

/* tmpl_render_text - render template text (for tests); lang for {{_ }}. */
char *tmpl_render_text(const char *text, TData *d, const char *lang);
/* tmpl_render - render templates/web/NAME.html; NULL if it is missing. */
char *tmpl_render(const char *name, TData *d, const char *lang);
/* tr - translate an English message into lang (the catalog entry, or
 * msgid itself).  The result lives as long as the process. */
const char *tr(const char *lang, const char *msgid);
/* tmpl_set_dir - override the template directory (tests). */
void tmpl_set_dir(const char *dir);

#endif
