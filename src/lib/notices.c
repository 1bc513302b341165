/* notices.c - owner notices of membership changes and acknowledgements
 * of posts.
 *
 * notify_membership (Mailman's admin_notify_mchanges): lists.c calls
 * notices_membership for every new member (member_add) and every removal
 * (member_remove), whatever the path - kairan subscribe/unsubscribe,
 * command mail, -ctl admin commands, the web pages, the REST API; ctl's
 * chaddr for an address change.  A removal after bounces is told by
 * bounce.c's own bounce_removed notice, which goes to the owners in any
 * case, so the owners get one mail for it, not two.  kairan import adds
 * members without notices (an import is one owner action).
 *
 * Templates: notice_subscribe, notice_unsubscribe, notice_chaddr,
 * post_ack (templates/mail/LANG). */
#include "config.h"
#include "notices.h"
#include "lists.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "template.h"

void
notices_membership(Instance *inst, const char *list, const char *event, const char *address,
                   const char *detail)
{
    char *tmpl;
    char **owners;

    if (!list_setting_bool(inst, list, "notify_membership"))
        return;
    tmpl = g_strdup_printf("notice_%s", event);
    owners = list_setting_addrs(inst, list, "owners");
    for (int i = 0; owners[i]; i++) {
        GHashTable *vars = template_vars_new();
        GError *e = NULL;
        template_var(vars, "address", address);
        template_var(vars, "new", detail ? detail : "");
        {
            char *n = g_strdup_printf("%" G_GINT64_FORMAT, member_count(inst, list));
            template_var(vars, "count", n);
            g_free(n);
        }
        if (!notify_send(inst, list, tmpl, vars, owners[i], NULL, NULL, &e)) {
            log_warn("%s: membership notice to owner %s not queued: %s", list, owners[i], e->message);
            g_error_free(e);
        }
        g_hash_table_unref(vars);
    }
    g_strfreev(owners);
    g_free(tmpl);
}

void
notices_post_ack(Instance *inst, const char *list, const char *author, gint64 num, const char *subject)
{
    Member *m;
    GHashTable *vars;
    GError *e = NULL;
    char *n;

    if (!author || !*author || !list_setting_bool(inst, list, "acknowledge_posts"))
        return;
    m = member_get(inst, list, author);
    if (!m || !m->acknowledge) {
        member_free(m);
        return;
    }
    member_free(m);
    vars = template_vars_new();
    n = g_strdup_printf("%" G_GINT64_FORMAT, num);
    template_var(vars, "address", author);
    template_var(vars, "number", n);
    template_var(vars, "subject", subject ? subject : "");
    if (!notify_send(inst, list, "post_ack", vars, author, NULL, NULL, &e)) {
        log_warn("%s: acknowledgement of post %s to <%s> not queued: %s", list, n, author, e->message);
        g_error_free(e);
    }
    g_hash_table_unref(vars);
    g_free(n);
}
