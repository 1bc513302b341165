/* page_options.c - a member's own settings in the browser (Mailman's
 * options page): GET|POST /list/LIST/options for a member logged in to
 * that list (member address + POP3 password).  Digest or single posts,
 * delivery on or off, and leaving the list at once: the login already
 * proved the mailbox, so no confirmation mail is needed (the goodbye
 * mail still goes out).  The member's options (lib/memberopts.c):
 * receive_own_posts, nodupes, acknowledge (shown when the list's
 * acknowledge_posts = yes), hide_address, a vacation date.  Anybody else
 * is sent to the login page. */
#include "config.h"
#include "webint.h"
#include "lists.h"
#include "log.h"
#include "memberopts.h"
#include "settings.h"
#include "subscription.h"

#include <string.h>

static gboolean
is_member_session(WebCtx *c, const char *list)
{
    return c->sess && g_str_equal(c->sess->role, "member") && session_has_list(c->sess, list) &&
           member_is(c->inst, list, c->sess->address);
}

/* apply - the POSTed form: "save" (digest, delivery) or "unsubscribe".
 * A notice or error for the page; TRUE if the member left the list. */
static gboolean
apply(WebCtx *c, const char *list, TData *d)
{
    const char *action = form(c, "action");
    const char *addr = c->sess->address;
    GError *e = NULL;
    gboolean ok = TRUE;

    if (action && g_str_equal(action, "unsubscribe")) {
        if (!member_remove(c->inst, list, addr, &e)) {
            tdata_set(d, "error", e->message);
            g_error_free(e);
            return FALSE;
        }
        log_info("%s: <%s> left the list (web options)", list, addr);
        if (!subscription_goodbye(c->inst, list, addr, NULL))
            log_warn("%s: goodbye mail to <%s> not queued", list, addr);
        return TRUE;
    }
    if (form(c, "digest"))
        ok = member_set_flag(c->inst, list, addr, "digest", g_str_equal(form(c, "digest"), "on"), &e);
    if (ok && form(c, "delivery"))
        ok = member_set_flag(c->inst, list, addr, "nomail", g_str_equal(form(c, "delivery"), "off"), &e);
    if (ok && form(c, "options")) {
        /* checkboxes: an unchecked one is not sent; the date is checked
         * before anything changes */
        static const char *const boxes[] = { "receive_own_posts", "nodupes", "hide_address", "acknowledge", NULL };
        const char *vac = form(c, "vacation") ? form(c, "vacation") : "";
        char *norm = memberopts_normalize(memberopts_find("vacation"), vac, &e);
        ok = norm != NULL;
        for (int i = 0; ok && boxes[i]; i++) {
            if (g_str_equal(boxes[i], "acknowledge") && !list_setting_bool(c->inst, list, "acknowledge_posts"))
                continue;       /* not on the page */
            ok = memberopts_set(c->inst, list, addr, boxes[i], form(c, boxes[i]) ? "on" : "off", &e);
        }
        if (ok)
            ok = memberopts_set(c->inst, list, addr, "vacation", norm, &e);
        g_free(norm);
    }
    if (ok) {
        log_info("%s: <%s> changed their options (web): digest %s, delivery %s", list, addr,
                 form(c, "digest") ? form(c, "digest") : "-", form(c, "delivery") ? form(c, "delivery") : "-");
        tdata_setf(d, "notice", "%s", T(c, "Your options were saved."));
    } else {
        tdata_set(d, "error", e->message);
        g_error_free(e);
    }
    return FALSE;
}

void
page_options(WebCtx *c, const char *list)
{
    TData *d;
    Member *m;
    char *title;

    if (!is_member_session(c, list)) {
        char *to = g_strdup_printf("/login?list=%s", list);
        if (g_str_equal(c->req->method, "POST"))
            web_fail(c, 403, T(c, "Please log in first."));
        else
            web_redirect(c, to);
        g_free(to);
        return;
    }
    d = tdata_new();
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    title = g_strdup_printf("%s: %s", list, T(c, "Your options"));
    if (g_str_equal(c->req->method, "POST")) {
        if (!csrf_check(c)) {
            tdata_free(d);
            g_free(title);
            web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
            return;
        }
        if (apply(c, list, d)) {
            tdata_setf(d, "message", "%s", T(c, "You have been unsubscribed."));
            page_render(c, 200, "done", d, title);
            g_free(title);
            return;
        }
    }
    m = member_get(c->inst, list, c->sess->address);
    tdata_set(d, "address", c->sess->address);
    tdata_set(d, "csrf", csrf_token(c));
    if (m) {
        tdata_set_bool(d, "digest", m->digest);
        tdata_set_bool(d, "delivery", !m->nomail);
        tdata_set_bool(d, "disabled", m->disabled_reason != NULL);
        tdata_set(d, "disabled_reason", m->disabled_reason);
        tdata_set_bool(d, "receive_own_posts", m->receive_own);
        tdata_set_bool(d, "nodupes", m->nodupes);
        tdata_set_bool(d, "acknowledge", m->acknowledge);
        tdata_set_bool(d, "hide_address", m->hide_address);
        tdata_set_bool(d, "ack_offered", list_setting_bool(c->inst, list, "acknowledge_posts"));
        {
            char *vac = memberopts_vacation_date(m);
            tdata_set(d, "vacation", vac ? vac : "");
            g_free(vac);
        }
    }
    member_free(m);
    page_render(c, 200, "options", d, title);
    g_free(title);
}
