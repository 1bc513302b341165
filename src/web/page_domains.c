/* page_domains.c - the site admin's page of mail domains, /admin/domains
 * (route() in core.c, so kairan web and the CGI both serve it): the
 * domains with their lists and web URLs, a form to add one (optional web
 * URL), and removal in two steps - a Remove button shows a confirmation
 * form, which removes the domain (refused while it has lists, as in
 * `kairan domain remove`).  Every form carries the session's CSRF token;
 * only the instance admin (role admin: `kairan web --set-admin-password`)
 * sees the page.  The work is lib/domains.c's. */
#include "config.h"
#include "webint.h"
#include "domains.h"
#include "log.h"

#include <string.h>

static void
domains_render(WebCtx *c, int status, const char *notice, const char *error, const char *confirm)
{
    TData *d = tdata_new();
    GPtrArray *a = domain_list(c->inst);

    for (guint i = 0; i < a->len; i++) {
        Domain *dm = a->pdata[i];
        TData *it = tdata_add(d, "domains");
        tdata_set(it, "name", dm->name);
        tdata_set(it, "web_url", dm->web_url ? dm->web_url : "");
        tdata_set_int(it, "lists", dm->lists);
        tdata_set_bool(it, "is_default", dm->is_default);
        tdata_set_bool(it, "removable", !dm->is_default && dm->lists == 0);
    }
    g_ptr_array_unref(a);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "csrf", csrf_token(c));
    if (notice)
        tdata_set(d, "notice", notice);
    if (error)
        tdata_set(d, "error", error);
    if (confirm)
        tdata_set(d, "confirm", confirm);
    page_render(c, status, "domains", d, T(c, "Mail domains"));
}

void
page_domains(WebCtx *c)
{
    const char *action, *name;
    char *lower, *msg;
    GError *e = NULL;

    if (!c->sess || !g_str_equal(c->sess->role, "admin")) {
        web_fail(c, 403, T(c, "Only the instance administrator manages the mail domains."));
        return;
    }
    if (!g_str_equal(c->req->method, "POST")) {
        domains_render(c, 200, NULL, NULL, NULL);
        return;
    }
    if (!csrf_check(c)) {
        web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
        return;
    }
    action = form(c, "action") ? form(c, "action") : "";
    name = form(c, "domain") ? form(c, "domain") : "";
    lower = g_ascii_strdown(g_strstrip(g_strdup(name)), -1);
    if (g_str_equal(action, "add")) {
        const char *url = form(c, "web_url");
        if (domain_add(c->inst, lower, url, &e)) {
            log_info("web: domain %s added by <%s>", lower, c->sess->address);
            msg = g_strdup_printf("%s: %s", T(c, "Domain added"), lower);
            domains_render(c, 200, msg, NULL, NULL);
            g_free(msg);
        } else {
            domains_render(c, 400, NULL, e->message, NULL);
        }
    } else if (g_str_equal(action, "remove_ask")) {
        domains_render(c, 200, NULL, NULL, lower);   /* the confirmation step */
    } else if (g_str_equal(action, "remove")) {
        if (!g_str_equal(form(c, "confirm") ? form(c, "confirm") : "", "yes")) {
            domains_render(c, 400, NULL, T(c, "Tick the box to confirm the removal."), lower);
        } else if (domain_remove(c->inst, lower, &e)) {
            log_info("web: domain %s removed by <%s>", lower, c->sess->address);
            msg = g_strdup_printf("%s: %s", T(c, "Domain removed"), lower);
            domains_render(c, 200, msg, NULL, NULL);
            g_free(msg);
        } else {
            domains_render(c, e->code == EXIT_NOUSER ? 404 : 409, NULL, e->message, NULL);
        }
    } else {
        domains_render(c, 400, NULL, T(c, "Unknown action."), NULL);
    }
    g_clear_error(&e);
    g_free(lower);
}
