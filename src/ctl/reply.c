/* reply.c - the one reply to a command mail: the result of every
 * command in order, in the list's language, as a UTF-8 text/plain mail
 * built by notify.c (template ctl_reply), with any requested archive
 * messages attached as message/rfc822 parts.
 *
 * The short texts of the results come from templates/mail/LANG/
 * ctl_texts.txt: one "key: text" a line ('#' starts a comment, "\n" is a
 * line break, {{name}} is expanded), English filling in missing keys. */
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "template.h"

#include <stdarg.h>
#include <string.h>

static void
catalog_read(GHashTable *cat, const char *lang)
{
    char *text = template_load(lang, "ctl_texts");
    char **lines;

    if (!text)
        return;
    lines = g_strsplit(text, "\n", 0);
    for (int i = 0; lines[i]; i++) {
        char *colon, *key, *value;
        GString *v;
        if (lines[i][0] == '#' || !(colon = strchr(lines[i], ':')))
            continue;
        key = g_strstrip(g_strndup(lines[i], (gsize) (colon - lines[i])));
        value = colon + 1;
        if (*value == ' ')
            value++;
        v = g_string_new(NULL);
        for (const char *p = value; *p; p++) {
            if (p[0] == '\\' && p[1] == 'n') {
                g_string_append_c(v, '\n');
                p++;
            } else {
                g_string_append_c(v, *p);
            }
        }
        g_hash_table_replace(cat, key, g_string_free(v, FALSE));
    }
    g_strfreev(lines);
    g_free(text);
}

GHashTable *
ctl_catalog_load(const char *lang)
{
    GHashTable *cat = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    catalog_read(cat, "en");
    if (lang && !g_str_equal(lang, "en"))
        catalog_read(cat, lang);
    return cat;
}

CtlReply *
ctl_reply_new(Instance *inst, const char *list)
{
    CtlReply *r = g_new0(CtlReply, 1);
    r->inst = inst;
    r->list = list;
    r->lang = list_setting(inst, list, "language");
    r->catalog = ctl_catalog_load(r->lang);
    r->text = g_string_new(NULL);
    r->attachments = g_ptr_array_new_with_free_func(g_object_unref);
    return r;
}

void
ctl_reply_free(CtlReply *r)
{
    if (!r)
        return;
    g_free(r->lang);
    g_hash_table_unref(r->catalog);
    g_string_free(r->text, TRUE);
    g_ptr_array_unref(r->attachments);
    g_free(r);
}

static char *
text_va(CtlReply *r, const char *key, va_list ap)
{
    const char *tmpl = g_hash_table_lookup(r->catalog, key);
    GHashTable *vars = template_vars_new();
    const char *name;
    char *out;

    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        template_var(vars, name, value);
    }
    template_var(vars, "list", r->list);
    out = template_expand(tmpl ? tmpl : key, vars);
    g_hash_table_unref(vars);
    return out;
}

char *
ctl_text(CtlReply *r, const char *key, ...)
{
    va_list ap;
    char *s;
    va_start(ap, key);
    s = text_va(r, key, ap);
    va_end(ap);
    return s;
}

void
ctl_reply_command(CtlReply *r, const char *masked_line)
{
    if (r->text->len)
        g_string_append_c(r->text, '\n');
    g_string_append_printf(r->text, ">>> %s\n", masked_line);
}

void
ctl_reply_say(CtlReply *r, const char *key, ...)
{
    va_list ap;
    char *s;
    va_start(ap, key);
    s = text_va(r, key, ap);
    va_end(ap);
    ctl_reply_raw(r, s);
    g_free(s);
}

void
ctl_reply_raw(CtlReply *r, const char *text)
{
    g_string_append(r->text, text);
    if (r->text->len && r->text->str[r->text->len - 1] != '\n')
        g_string_append_c(r->text, '\n');
}

void
ctl_reply_attach(CtlReply *r, GMimeObject *part)
{
    g_ptr_array_add(r->attachments, g_object_ref(part));
}

gboolean
ctl_reply_send(CtlReply *r, const char *to, const char *in_reply_to, GError **error)
{
    GHashTable *vars = template_vars_new();
    GMimeMessage *msg;
    char *ctl = list_address(r->inst, r->list, "-ctl");
    const char *rcpts[] = { to };
    gboolean ok;

    template_var(vars, "results", r->text->str);
    template_var(vars, "address", to);
    msg = notify_build(r->inst, r->list, "ctl_reply", vars, ctl, to, in_reply_to, NULL);
    if (r->attachments->len) {
        GMimeObject *body = g_object_ref(g_mime_message_get_mime_part(msg));
        GMimeMultipart *mp = g_mime_multipart_new_with_subtype("mixed");
        g_mime_multipart_add(mp, body);
        for (guint i = 0; i < r->attachments->len; i++)
            g_mime_multipart_add(mp, r->attachments->pdata[i]);
        g_mime_message_set_mime_part(msg, GMIME_OBJECT(mp));
        g_object_unref(mp);
        g_object_unref(body);
    }
    ok = notify_queue(r->inst, r->list, msg, rcpts, 1, error);
    if (ok)
        log_info("%s: command reply queued for <%s>", r->list, to);
    g_object_unref(msg);
    g_hash_table_unref(vars);
    g_free(ctl);
    return ok;
}
