/* page_password.c - a member sets the POP3 password (DESIGN.md, POP3:
 * "password set with the password command or the web interface") in the
 * browser, proven by the mailbox: LIST/password mails a single-use link
 * WEB_URL/password/TOKEN (token action "pop-password"); that page asks
 * for the new password twice and stores its hash.  The request page
 * answers the same whether or not the address is a member, so it tells
 * strangers nothing. */
#include "config.h"
#include "webint.h"
#include "domains.h"
#include "address.h"
#include "lists.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "template.h"
#include "token.h"
#include "util.h"

#include <string.h>

#define TOKEN_ACTION "pop-password"
#define MIN_PASSWORD 8

static char *
password_url(const Instance *inst, const char *list, const char *token)
{
    char *web = list_web_url(inst, list);
    char *url;
    if (!web)
        return NULL;
    url = g_strdup_printf("%s%spassword/%s", web, g_str_has_suffix(web, "/") ? "" : "/", token);
    g_free(web);
    return url;
}

void
page_password_request(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    char *title = g_strdup_printf("%s: %s", list, T(c, "Set a POP3 password"));
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    if (g_str_equal(c->req->method, "POST")) {
        char *addr, *web = list_web_url(c->inst, list);
        if (!csrf_check(c)) {
            tdata_free(d);
            g_free(title);
            g_free(web);
            web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
            return;
        }
        addr = address_normalize(form(c, "address") ? form(c, "address") : "", NULL);
        if (!web) {
            tdata_set(d, "error", T(c, "Setting passwords by mail needs web_url in kairan.conf."));
        } else if (!addr) {
            tdata_set(d, "error", T(c, "Please enter a valid mail address."));
        } else {
            if (member_is(c->inst, list, addr)) {
                gint64 life = list_setting_int(c->inst, list, "confirm_expiry");
                GError *e = NULL;
                char *token = token_create(c->inst, list, TOKEN_ACTION, addr, NULL, life, &e);
                char *url = token ? password_url(c->inst, list, token) : NULL;
                GHashTable *vars = template_vars_new();
                char *hours = g_strdup_printf("%" G_GINT64_FORMAT, life / 3600);
                template_var(vars, "address", addr);
                template_var(vars, "url", url);
                template_var(vars, "hours", hours);
                if (!token || !notify_send(c->inst, list, "web_password", vars, addr, NULL, NULL, &e)) {
                    log_warn("%s: POP3 password link for <%s> not sent: %s", list, addr, e ? e->message : "?");
                    g_clear_error(&e);
                } else {
                    log_info("%s: POP3 password link sent to <%s>", list, addr);
                }
                g_hash_table_unref(vars);
                g_free(hours);
                g_free(token);
                g_free(url);
            }
            tdata_setf(d, "message", "%s", T(c, "If this address is a member, a mail with a link is on its way."));
            page_render(c, 200, "done", d, title);
            g_free(addr);
            g_free(web);
            g_free(title);
            return;
        }
        tdata_set(d, "address", form(c, "address"));
        g_free(addr);
        g_free(web);
    }
    tdata_set(d, "csrf", csrf_token(c));
    page_render(c, g_hash_table_contains(d, "error") ? 400 : 200, "password", d, title);
    g_free(title);
}

void
page_password_set(WebCtx *c, const char *token)
{
    char *list = NULL, *action = NULL, *address = NULL;
    TokenStatus ts;
    TData *d;

    if (strlen(token) != 32 || strspn(token, "0123456789abcdef") != 32) {
        web_fail(c, 404, T(c, "This link is not valid."));
        return;
    }
    ts = token_peek(c->inst, token, &list, &action, &address, NULL);
    if (ts != TOKEN_OK || !g_str_equal(action, TOKEN_ACTION) || !member_is(c->inst, list, address)) {
        web_fail(c, ts == TOKEN_OK || ts == TOKEN_UNKNOWN ? 404 : 400,
                 ts == TOKEN_USED ? T(c, "This link was already used.")
                 : ts == TOKEN_EXPIRED ? T(c, "This link has expired.") : T(c, "This link is not valid."));
        goto out;
    }
    d = tdata_new();
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "address", address);
    tdata_set(d, "token", token);
    if (g_str_equal(c->req->method, "POST")) {
        const char *p1 = form(c, "password"), *p2 = form(c, "password2");
        if (!csrf_check(c)) {
            tdata_free(d);
            web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
            goto out;
        }
        if (!p1 || !p2 || !g_str_equal(p1, p2))
            tdata_set(d, "error", T(c, "The two passwords differ."));
        else if (g_utf8_strlen(p1, -1) < MIN_PASSWORD)
            tdata_set(d, "error", T(c, "The password needs at least 8 characters."));
        else if (token_consume(c->inst, token, NULL, NULL, NULL, NULL) != TOKEN_OK) {
            tdata_free(d);
            web_fail(c, 400, T(c, "This link was already used."));
            goto out;
        } else {
            GError *e = NULL;
            if (!member_set_pop_password(c->inst, list, address, p1, &e)) {
                tdata_free(d);
                log_warn("%s: POP3 password of <%s> not stored: %s", list, address, e->message);
                g_error_free(e);
                web_fail(c, 503, T(c, "The request could not be stored. Please try again later."));
                goto out;
            }
            log_info("%s: POP3 password of <%s> set (web)", list, address);
            tdata_setf(d, "message", "%s", T(c, "The password is set."));
            page_render(c, 200, "done", d, T(c, "POP3 password"));
            goto out;
        }
    }
    tdata_set(d, "csrf", csrf_token(c));
    page_render(c, g_hash_table_contains(d, "error") ? 400 : 200, "password_set", d, T(c, "POP3 password"));
out:
    g_free(list);
    g_free(action);
    g_free(address);
}
