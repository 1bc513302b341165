/* page_public.c - the pages anybody may use: the index of lists, a
 * list's public page, the subscribe and unsubscribe forms (a
 * confirmation mail goes to the address: subscription_request), the
 * confirmation link WEB_URL/confirm/TOKEN (GET shows a button, only the
 * POST acts, so mail scanners that follow links change nothing), and
 * the RFC 8058 one-click unsubscribe.
 *
 * One-click: a POST to LIST/unsubscribe?a=ADDRESS&s=SIG whose body is
 * List-Unsubscribe=One-Click removes ADDRESS at once when SIG is
 * token_oneclick_sig(LIST, ADDRESS) - an HMAC under the instance secret,
 * so nobody can make a link for another address, and the link works
 * without cookies or CSRF tokens, as RFC 8058 requires.  A one-click
 * POST without a valid signature (the generic link of a post queued
 * once for all members) changes nothing and answers 400/403. */
#include "config.h"
#include "ratelimit.h"
#include "webint.h"
#include "address.h"
#include "crypto.h"
#include "lists.h"
#include "log.h"
#include "settings.h"
#include "subscription.h"
#include "token.h"
#include "util.h"

#include <string.h>

void
page_home(WebCtx *c)
{
    TData *d;
    char **lists;
    WebHostDomains *hd;
    if (c->sess && !g_str_equal(c->sess->role, "member")) {
        web_redirect(c, "/admin");
        return;
    }
    d = tdata_new();
    /* only the lists of the domains the Host header is for
     * (hostdomain.c); owners and the site admin go to /admin, which
     * shows every list they manage whatever the Host */
    hd = web_host_domains(c);
    lists = list_names(c->inst);
    for (int i = 0; lists[i]; i++) {
        TData *it;
        char *desc, *addr;
        if (!web_host_domains_has(c, hd, lists[i]))
            continue;
        it = tdata_add(d, "lists");
        desc = list_setting(c->inst, lists[i], "description");
        addr = list_address(c->inst, lists[i], NULL);
        tdata_set(it, "name", lists[i]);
        tdata_set(it, "description", desc);
        tdata_set(it, "address", addr);
        g_free(desc);
        g_free(addr);
    }
    g_strfreev(lists);
    web_host_domains_free(hd);
    tdata_set(d, "base", c->req->base);
    page_render(c, 200, "home", d, T(c, "Mailing lists"));
}

void
page_list_info(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    char *desc = list_setting(c->inst, list, "description");
    char *addr = list_address(c->inst, list, NULL);
    char *access = list_setting(c->inst, list, "archive_access");
    tdata_set(d, "list", list);
    tdata_set(d, "description", desc);
    tdata_set(d, "address", addr);
    tdata_set(d, "base", c->req->base);
    tdata_set_bool(d, "public_archive", g_str_equal(access, "public"));
    page_render(c, 200, "list", d, list);
    g_free(desc);
    g_free(addr);
    g_free(access);
}

static void
sub_form(WebCtx *c, int status, const char *list, const char *action, const char *error,
         const char *notice, const char *address)
{
    TData *d = tdata_new();
    gboolean sub = g_str_equal(action, "subscribe");
    char *policy = list_setting(c->inst, list, "subscribe_policy");
    tdata_set(d, "list", list);
    tdata_set(d, "action", action);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "csrf", csrf_token(c));
    tdata_set(d, "error", error);
    tdata_set(d, "notice", notice);
    tdata_set(d, "address", address);
    tdata_set_bool(d, "subscribe", sub);
    tdata_set_bool(d, "closed", sub && g_str_equal(policy, "closed"));
    g_free(policy);
    {
        char *title = g_strdup_printf("%s: %s", list, sub ? T(c, "Subscribe") : T(c, "Unsubscribe"));
        page_render(c, status, "subscribe", d, title);
        g_free(title);
    }
}

static void
one_click(WebCtx *c, const char *list)
{
    const char *a = param(c, "a"), *s = param(c, "s");
    char *addr = a ? address_normalize(a, NULL) : NULL;
    char *want = addr ? token_oneclick_sig(c->inst, list, addr) : NULL;
    GError *e = NULL;
    TData *d;

    if (!addr || !s) {
        g_free(addr);
        web_fail(c, 400, T(c, "This unsubscribe link does not name a member. Use the unsubscribe form instead."));
        return;
    }
    if (!const_time_equal(s, want)) {
        g_free(addr);
        g_free(want);
        web_fail(c, 403, T(c, "This unsubscribe link is not valid."));
        return;
    }
    d = tdata_new();
    if (member_remove(c->inst, list, addr, &e)) {
        log_info("%s: <%s> unsubscribed by one-click (RFC 8058)", list, addr);
        if (!subscription_goodbye(c->inst, list, addr, NULL))
            log_warn("%s: goodbye mail to <%s> not queued", list, addr);
        tdata_setf(d, "message", "%s", T(c, "You have been unsubscribed."));
    } else {
        tdata_setf(d, "message", "%s", T(c, "This address is not subscribed."));
        g_error_free(e);
    }
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    page_render(c, 200, "done", d, T(c, "Unsubscribe"));
    g_free(addr);
    g_free(want);
}

void
page_subscribe(WebCtx *c, const char *list, const char *action)
{
    const char *oc = form(c, "List-Unsubscribe");
    char *addr, *message = NULL;
    const char *why = NULL;
    GError *e = NULL;
    SubResult r;
    TData *d;

    if (!g_str_equal(c->req->method, "POST")) {
        const char *a = param(c, "a"), *s = param(c, "s");
        char *oa = a && s && g_str_equal(action, "unsubscribe") ? address_normalize(a, NULL) : NULL;
        char *want = oa ? token_oneclick_sig(c->inst, list, oa) : NULL;
        if (want && const_time_equal(s, want) && member_is(c->inst, list, oa)) {
            /* a signed link opened in a browser: one button, no mail round trip */
            TData *od = tdata_new();
            char *ea = url_encode(oa);
            tdata_set(od, "list", list);
            tdata_set(od, "base", c->req->base);
            tdata_set(od, "address", oa);
            tdata_setf(od, "query", "a=%s&s=%s", ea, s);
            page_render(c, 200, "oneclick", od, T(c, "Unsubscribe"));
            g_free(ea);
        } else {
            sub_form(c, 200, list, action, NULL, NULL, a);
        }
        g_free(oa);
        g_free(want);
        return;
    }
    if (g_str_equal(action, "unsubscribe") && oc && g_str_equal(oc, "One-Click")) {
        one_click(c, list);
        return;
    }
    if (!csrf_check(c)) {
        web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
        return;
    }
    addr = address_normalize(form(c, "address") ? form(c, "address") : "", &why);
    if (!addr) {
        sub_form(c, 400, list, action, T(c, "Please enter a valid mail address."), NULL, form(c, "address"));
        return;
    }
    if (g_str_equal(action, "subscribe") && list_address_refused(c->inst, addr, NULL)) {
        /* lists subscribed to lists loop: no confirmation mail to a list */
        log_info("%s: web subscribe of the list address <%s> refused", list, addr);
        sub_form(c, 400, list, action, T(c, "This is the address of a mailing list: a list cannot subscribe to a list."),
                 NULL, form(c, "address"));
        g_free(addr);
        return;
    }
        /* the same confirm_limit as command mail: no mail-bombing through the form */
    if (ratelimit_take(c->inst, list, RATE_CONFIRM, addr) != RATE_OK) {
        log_info("%s: web %s for <%s> refused: confirm_limit reached", list, action, addr);
        g_free(addr);
        web_fail(c, 429, T(c, "Too many requests for this address. Please try again in an hour."));
        return;
    }
    r = subscription_request(c->inst, list, action, addr,
                             form(c, "name") && *form(c, "name") ? form(c, "name") : NULL, &message, &e);
    if (r != SUB_CONFIRM_SENT)
        ratelimit_give_back(c->inst, list, RATE_CONFIRM, addr);
    if (e) {
        log_warn("%s: web %s of <%s>: %s", list, action, addr, e->message);
        g_error_free(e);
        g_free(message);
        g_free(addr);
        web_fail(c, 503, T(c, "The request could not be stored. Please try again later."));
        return;
    }
    d = tdata_new();
    switch (r) {
    case SUB_CONFIRM_SENT:
        tdata_setf(d, "message", "%s", T(c, "A confirmation mail is on its way. Follow the link in it to finish."));
        break;
    case SUB_DONE:
        tdata_setf(d, "message", "%s", g_str_equal(action, "subscribe") ? T(c, "You are now subscribed.")
                                                                       : T(c, "You have been unsubscribed."));
        break;
    case SUB_ALREADY:
    case SUB_PENDING_APPROVAL:
    case SUB_REFUSED:
    case SUB_BANNED:            /* said like the rest: no hint to the banned */
    case SUB_BAD_TOKEN:
    default:
        /* Do not tell a stranger whether an address is a member: the
         * same words as for a mailed confirmation, unless refused. */
        if (r == SUB_REFUSED)
            tdata_setf(d, "message", "%s", T(c, "This list does not accept subscriptions from the web."));
        else
            tdata_setf(d, "message", "%s", T(c, "A confirmation mail is on its way. Follow the link in it to finish."));
        break;
    }
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    page_render(c, 200, "done", d, g_str_equal(action, "subscribe") ? T(c, "Subscribe") : T(c, "Unsubscribe"));
    g_free(message);
    g_free(addr);
}

void
page_confirm(WebCtx *c, const char *token)
{
    char *list = NULL, *action = NULL, *address = NULL, *message = NULL;
    TokenStatus ts;
    TData *d;
    GError *e = NULL;
    SubResult r;

    if (strlen(token) != 32 || strspn(token, "0123456789abcdef") != 32) {
        web_fail(c, 404, T(c, "This confirmation link is not valid."));
        return;
    }
    ts = token_peek(c->inst, token, &list, &action, &address, NULL);
    if (ts != TOKEN_OK || !(g_str_equal(action, "subscribe") || g_str_equal(action, "unsubscribe"))) {
        web_fail(c, ts == TOKEN_UNKNOWN ? 404 : 400,
                 ts == TOKEN_USED ? T(c, "This confirmation link was already used.")
                 : ts == TOKEN_EXPIRED ? T(c, "This confirmation link has expired. Please send the request again.")
                 : T(c, "This confirmation link is not valid."));
        goto out;
    }
    d = tdata_new();
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    if (!g_str_equal(c->req->method, "POST")) {
        tdata_set(d, "token", token);
        tdata_set(d, "address", address);
        tdata_set(d, "csrf", csrf_token(c));
        tdata_set_bool(d, "subscribe", g_str_equal(action, "subscribe"));
        page_render(c, 200, "confirm", d, T(c, "Confirm"));
        goto out;
    }
    if (!csrf_check(c)) {
        tdata_free(d);
        web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
        goto out;
    }
    r = subscription_confirm(c->inst, token, NULL, &message, &e);
    if (e) {
        log_warn("web confirm: %s", e->message);
        g_error_free(e);
    }
    switch (r) {
    case SUB_DONE:
        tdata_setf(d, "message", "%s", g_str_equal(action, "subscribe") ? T(c, "You are now subscribed.")
                                                                       : T(c, "You have been unsubscribed."));
        break;
    case SUB_PENDING_APPROVAL:
        tdata_setf(d, "message", "%s", T(c, "Thank you. The list owners will now review your subscription."));
        break;
    case SUB_ALREADY:
        tdata_setf(d, "message", "%s", g_str_equal(action, "subscribe") ? T(c, "You were already subscribed.")
                                                                       : T(c, "This address is not subscribed."));
        break;
    default:
        tdata_setf(d, "message", "%s", T(c, "The confirmation failed."));
        break;
    }
    page_render(c, 200, "done", d, T(c, "Confirm"));
out:
    g_free(list);
    g_free(action);
    g_free(address);
    g_free(message);
}
