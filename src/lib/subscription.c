/* subscription.c - subscribe/unsubscribe with confirmation.
 *
 * Policies (subscribe_policy): open - a subscribe takes effect at once;
 * confirm (default) - a token goes to the mailbox and only its return
 * (mail reply "confirm TOKEN" or the web link) subscribes, so a forged
 * From: can never subscribe anybody; approve - as confirm, then the
 * owners are asked to add the member (fml's manual acceptance);
 * closed - only the administrator subscribes.  An unsubscribe is always
 * confirmed by the mailbox (a forged From: cannot remove a member),
 * except by an authenticated owner, which does not come through here. */
#include "config.h"
#include "subscription.h"
#include "domains.h"
#include "address.h"
#include "lists.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "template.h"
#include "token.h"
#include "util.h"

#include <stdarg.h>
#include <string.h>

char *
subscription_confirm_url(const Instance *inst, const char *token)
{
    char *web = instance_global(inst, "web_url");
    char *url;
    if (!web)
        return NULL;
    url = g_strdup_printf("%s%sconfirm/%s", web, g_str_has_suffix(web, "/") ? "" : "/", token);
    g_free(web);
    return url;
}

char *
subscription_list_confirm_url(const Instance *inst, const char *list, const char *token)
{
    char *web = list_web_url(inst, list);
    char *url;
    if (!web)
        return NULL;
    url = g_strdup_printf("%s%sconfirm/%s", web, g_str_has_suffix(web, "/") ? "" : "/", token);
    g_free(web);
    return url;
}

static void
set_message(char **message, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
set_message(char **message, const char *fmt, ...)
{
    va_list ap;
    if (!message)
        return;
    va_start(ap, fmt);
    g_free(*message);
    *message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

gboolean
subscription_welcome(Instance *inst, const char *list, const char *address, GError **error)
{
    GHashTable *vars = template_vars_new();
    gboolean ok;
    template_var(vars, "address", address);
    ok = notify_send(inst, list, "welcome", vars, address, NULL, NULL, error);
    g_hash_table_unref(vars);
    return ok;
}

gboolean
subscription_goodbye(Instance *inst, const char *list, const char *address, GError **error)
{
    GHashTable *vars = template_vars_new();
    gboolean ok;
    template_var(vars, "address", address);
    ok = notify_send(inst, list, "goodbye", vars, address, NULL, NULL, error);
    g_hash_table_unref(vars);
    return ok;
}

static SubResult
send_confirmation(Instance *inst, const char *list, const char *action, const char *address,
                  const char *name, char **message, GError **error)
{
    gint64 lifetime = list_setting_int(inst, list, "confirm_expiry");
    char *token = token_create(inst, list, action, address, name, lifetime, error);
    char *url, *ctl, *hours;
    GHashTable *vars;
    GMimeMessage *msg;
    gboolean ok;

    if (!token)
        return SUB_REFUSED;
    url = subscription_list_confirm_url(inst, list, token);
    ctl = list_address(inst, list, "-ctl");
    hours = g_strdup_printf("%" G_GINT64_FORMAT, lifetime / 3600);
    vars = template_vars_new();
    template_var(vars, "address", address);
    template_var(vars, "token", token);
    template_var(vars, "action", action);
    template_var(vars, "hours", hours);
    template_var(vars, "confirm_url", url ? url : "");
    template_var(vars, "web_hint", url ? "or open this link in a browser:\n  " : "");
    msg = notify_build(inst, list, g_str_equal(action, "subscribe") ? "confirm_subscribe" : "confirm_unsubscribe",
                       vars, ctl, address, NULL, NULL);
    /* A plain reply goes back to -ctl with "confirm TOKEN" in the Subject. */
    g_mime_object_set_header(GMIME_OBJECT(msg), "Reply-To", ctl, NULL);
    {
        const char *rcpts[] = { address };
        ok = notify_queue(inst, list, msg, rcpts, 1, error);
    }
    g_object_unref(msg);
    g_hash_table_unref(vars);
    if (ok) {
        log_info("%s: %s confirmation sent to <%s>", list, action, address);
        set_message(message, "A confirmation request was sent to %s. The %s takes effect when it is answered.",
                    address, action);
    }
    g_free(token);
    g_free(url);
    g_free(ctl);
    g_free(hours);
    return ok ? SUB_CONFIRM_SENT : SUB_REFUSED;
}

static SubResult
ask_owners(Instance *inst, const char *list, const char *address, const char *name,
           char **message, GError **error)
{
    char **owners = list_setting_addrs(inst, list, "owners");
    gboolean ok = TRUE;
    for (int i = 0; owners[i] && ok; i++) {
        GHashTable *vars = template_vars_new();
        template_var(vars, "address", address);
        template_var(vars, "name", name ? name : "");
        ok = notify_send(inst, list, "approval_request", vars, owners[i], NULL, NULL, error);
        g_hash_table_unref(vars);
    }
    g_strfreev(owners);
    if (!ok)
        return SUB_REFUSED;
    log_info("%s: subscription of <%s> waits for the owners' approval", list, address);
    set_message(message, "Your subscription to %s was confirmed and now waits for the list owners' approval.", list);
    return SUB_PENDING_APPROVAL;
}

static SubResult
do_subscribe(Instance *inst, const char *list, const char *address, const char *name,
             char **message, GError **error)
{
    gboolean existed = FALSE;
    if (!member_add(inst, list, address, name, FALSE, &existed, error))
        return SUB_REFUSED;
    if (existed) {
        set_message(message, "%s is already a member of %s.", address, list);
        return SUB_ALREADY;
    }
    log_info("%s: <%s> subscribed", list, address);
    if (!subscription_welcome(inst, list, address, error))
        log_warn("%s: welcome mail to <%s> not queued", list, address);
    set_message(message, "%s is now a member of %s.", address, list);
    return SUB_DONE;
}

static SubResult
do_unsubscribe(Instance *inst, const char *list, const char *address, char **message, GError **error)
{
    GError *e = NULL;
    if (!member_remove(inst, list, address, &e)) {
        if (e->code == 67) {
            g_error_free(e);
            set_message(message, "%s is not a member of %s.", address, list);
            return SUB_ALREADY;
        }
        g_propagate_error(error, e);
        return SUB_REFUSED;
    }
    log_info("%s: <%s> unsubscribed", list, address);
    if (!subscription_goodbye(inst, list, address, error))
        log_warn("%s: goodbye mail to <%s> not queued", list, address);
    set_message(message, "%s was removed from %s.", address, list);
    return SUB_DONE;
}

SubResult
subscription_request(Instance *inst, const char *list, const char *action,
                     const char *address, const char *name,
                     char **message, GError **error)
{
    char *policy = list_setting(inst, list, "subscribe_policy");
    SubResult r;

    if (g_str_equal(action, "subscribe")) {
        if (member_is(inst, list, address)) {
            set_message(message, "%s is already a member of %s.", address, list);
            r = SUB_ALREADY;
        } else if (list_address_refused(inst, address, error)) {
            /* no confirmation mail to a list: it would be a post (or a loop) */
            set_message(message, "%s is the address of a mailing list: it cannot subscribe to %s.", address, list);
            log_info("%s: subscription of the list address <%s> refused", list, address);
            r = SUB_REFUSED;
        } else if (list_is_banned(inst, list, address)) {
            /* no confirmation mail: a banned address gets nothing from us */
            set_message(message, "%s may not subscribe to %s.", address, list);
            log_info("%s: subscription of banned <%s> refused", list, address);
            r = SUB_BANNED;
        } else if (g_str_equal(policy, "closed")) {
            set_message(message, "%s is closed: only its owners can add members.", list);
            r = SUB_REFUSED;
        } else if (g_str_equal(policy, "open")) {
            r = do_subscribe(inst, list, address, name, message, error);
        } else {
            r = send_confirmation(inst, list, "subscribe", address, name, message, error);
        }
    } else if (g_str_equal(action, "unsubscribe")) {
        if (!member_is(inst, list, address)) {
            set_message(message, "%s is not a member of %s.", address, list);
            r = SUB_ALREADY;
        } else {
            r = send_confirmation(inst, list, "unsubscribe", address, NULL, message, error);
        }
    } else {
        set_message(message, "unknown request %s", action);
        r = SUB_REFUSED;
    }
    g_free(policy);
    return r;
}

SubResult
subscription_confirm(Instance *inst, const char *token, char **list_out,
                     char **message, GError **error)
{
    char *list = NULL, *action = NULL, *address = NULL, *extra = NULL;
    TokenStatus ts = token_peek(inst, token, &list, &action, &address, &extra);
    SubResult r;

    if (ts != TOKEN_OK || !(g_str_equal(action, "subscribe") || g_str_equal(action, "unsubscribe")) ||
        !list_exists(inst, list)) {
        set_message(message, "The confirmation failed: %s.",
                    ts == TOKEN_OK ? "the request is no longer valid" : token_status_text(ts));
        r = SUB_BAD_TOKEN;
        goto out;
    }
    /* consume now: single use even if the rest fails */
    ts = token_consume(inst, token, NULL, NULL, NULL, NULL);
    if (ts != TOKEN_OK) {
        set_message(message, "The confirmation failed: %s.", token_status_text(ts));
        r = SUB_BAD_TOKEN;
        goto out;
    }
    if (g_str_equal(action, "subscribe")) {
        char *policy = list_setting(inst, list, "subscribe_policy");
        if (list_is_banned(inst, list, address)) {     /* banned after the request */
            set_message(message, "%s may not subscribe to %s.", address, list);
            log_info("%s: subscription of banned <%s> refused", list, address);
            r = SUB_BANNED;
        } else if (g_str_equal(policy, "closed")) {
            set_message(message, "%s is closed: only its owners can add members.", list);
            r = SUB_REFUSED;
        } else if (g_str_equal(policy, "approve")) {
            r = ask_owners(inst, list, address, extra && *extra ? extra : NULL, message, error);
        } else {
            r = do_subscribe(inst, list, address, extra && *extra ? extra : NULL, message, error);
        }
        g_free(policy);
    } else {
        r = do_unsubscribe(inst, list, address, message, error);
    }
    if (list_out) {
        *list_out = list;
        list = NULL;
    }
out:
    g_free(list);
    g_free(action);
    g_free(address);
    g_free(extra);
    return r;
}

SubResult
subscription_invite(Instance *inst, const char *list, const char *address, const char *name,
                    char **message, GError **error)
{
    if (member_is(inst, list, address)) {
        set_message(message, "%s is already a member of %s.", address, list);
        return SUB_ALREADY;
    }
    if (list_address_refused(inst, address, error))
        return SUB_REFUSED;
    if (list_is_banned(inst, list, address)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s is banned from %s (setting banned)", address, list);
        return SUB_BANNED;
    }
    return send_confirmation(inst, list, "subscribe", address, name, message, error);
}
