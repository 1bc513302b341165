/* page_templates.c - /admin/LIST/templates: a list's own texts of the
 * mails kairan writes (lib's template_override.c), for its owners.
 *   GET  /admin/LIST/templates[?tlang=en|ja]   every template, and where
 *        the text in effect comes from (list, domain, instance, shipped)
 *   GET  /admin/LIST/templates/NAME[?tlang=]   the text in effect, in a
 *        textarea
 *   POST /admin/LIST/templates/NAME            action=save (text) or
 *        action=reset, with the CSRF token
 * The template language defaults to the list's language; the page's own
 * language is the viewer's, as everywhere.  core.c has checked that the
 * viewer manages the list. */
#include "config.h"
#include "webint.h"
#include "log.h"
#include "settings.h"
#include "template_override.h"
#include "util.h"

#include <string.h>

static char *
template_lang(WebCtx *c, const char *list)
{
    const char *t = g_str_equal(c->req->method, "POST") ? form(c, "tlang") : param(c, "tlang");
    if (t && (g_str_equal(t, "en") || g_str_equal(t, "ja")))
        return g_strdup(t);
    return list_setting(c->inst, list, "language");
}

static void
templates_index(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    char *tlang = template_lang(c, list);
    char **names = template_names();
    char *title;

    for (int i = 0; names[i]; i++) {
        TemplateSource src;
        char *text = template_load_for(c->inst, list, tlang, names[i], &src);
        TData *it = tdata_add(d, "templates");
        tdata_set(it, "name", names[i]);
        tdata_set(it, "source", T(c, template_source_name(src)));
        tdata_set_bool(it, "overridden", src == TEMPLATE_FROM_LIST);
        g_free(text);
    }
    g_strfreev(names);
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "tlang", tlang);
    tdata_set_bool(d, "index", TRUE);
    tdata_set_bool(d, g_str_equal(tlang, "ja") ? "tlang_ja" : "tlang_en", TRUE);
    title = g_strdup_printf("%s: %s", list, T(c, "Mail templates"));
    page_render(c, 200, "templates", d, title);
    g_free(title);
    g_free(tlang);
}

static void
template_edit(WebCtx *c, const char *list, const char *name)
{
    TData *d;
    char *tlang, *text, *title;
    const char *shown, *kept = NULL;
    TemplateSource src;
    int status = 200;
    gboolean post = g_str_equal(c->req->method, "POST");
    const char *action = post ? form(c, "action") : NULL;

    if (!template_name_known(name)) {
        web_fail(c, 404, T(c, "There is no such template."));
        return;
    }
    if (post && !csrf_check(c)) {
        web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
        return;
    }
    d = tdata_new();
    tlang = template_lang(c, list);
    if (post) {
        GError *e = NULL;
        const char *sent = form(c, "text");
        if (action && g_str_equal(action, "reset")) {
            if (template_override_reset(c->inst, list, tlang, name, NULL, &e)) {
                tdata_set(d, "notice", T(c, "The shipped text is used again."));
                log_info("%s: template %s (%s) reset by <%s> (web)", list, name, tlang, c->sess->address);
            }
        } else if (action && g_str_equal(action, "save") && sent) {
            if (template_override_set(c->inst, list, tlang, name, sent, strlen(sent), &e)) {
                tdata_set(d, "notice", T(c, "Template saved."));
                log_info("%s: template %s (%s) changed by <%s> (web)", list, name, tlang, c->sess->address);
            } else {
                kept = sent;          /* shown again with the error */
            }
        } else {
            g_set_error(&e, KAIRAN_ERROR, EXIT_USAGE, "%s", T(c, "Choose save or reset."));
        }
        if (e) {
            tdata_set(d, "error", e->message);
            status = 400;
            g_error_free(e);
        }
    }
    text = template_load_for(c->inst, list, tlang, name, &src);
    shown = kept ? kept : (text ? text : "");
    tdata_set(d, "text", shown);
    tdata_set(d, "name", name);
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "tlang", tlang);
    tdata_set(d, "source", T(c, template_source_name(src)));
    tdata_set_bool(d, "overridden", src == TEMPLATE_FROM_LIST);
    tdata_set(d, "csrf", csrf_token(c));
    {
        char **known = template_placeholders_known(name);
        for (int i = 0; known[i]; i++)
            tdata_set(tdata_add(d, "placeholders"), "ph", known[i]);
        g_strfreev(known);
    }
    title = g_strdup_printf("%s: %s %s (%s)", list, T(c, "Mail template"), name, tlang);
    page_render(c, status, "templates", d, title);
    g_free(title);
    g_free(text);
    g_free(tlang);
}

void
page_templates(WebCtx *c, const char *list)
{
    if (c->nseg == 3) {
        if (g_str_equal(c->req->method, "POST")) {
            web_fail(c, 405, NULL);
            web_response_header(c->resp, "Allow", "GET, HEAD");
            return;
        }
        templates_index(c, list);
    } else {
        template_edit(c, list, c->seg[3]);
    }
}
