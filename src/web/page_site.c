/* page_site.c - the site admin's page, /admin/site (instance admin
 * sessions only): every list of the instance with its owners, members
 * and posts; creating a list (name, owner, description, an optional list
 * password); removing one after a confirmation step (GET
 * /admin/site?remove=LIST shows what goes, the POST must repeat the
 * list's name).  The create form picks the new list's domain (the
 * default domain or one of domain_names()).  Creating and removing write the alias map again
 * (lib aliases_update) exactly as `kairan newlist` and `kairan rmlist`
 * do, and a new list's owner is told by mail (list_created).  Domains
 * have their own page, /admin/domains, which this page links to. */
#include "config.h"
#include "webint.h"
#include "address.h"
#include "aliases.h"
#include "archive.h"
#include "crypto.h"
#include "lists.h"
#include "domains.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "util.h"

#include <string.h>

#define SITE_PASSWORD_MIN 8

static const char *EXPIRED =
    "The form has expired or did not come from this site. Please reload the page and try again.";

/* tell_owner - the list_created mail to the new list's owner. */
static void
tell_owner(WebCtx *c, const char *list, const char *owner)
{
    GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    char *url = list_web_url(c->inst, list);
    GError *e = NULL;
    g_hash_table_insert(vars, g_strdup("owner"), g_strdup(owner));
    g_hash_table_insert(vars, g_strdup("login_url"),
                        url ? g_strdup_printf("%s/login", url) : g_strdup("(kairan web)/login"));
    if (!notify_send(c->inst, list, "list_created", vars, owner, NULL, NULL, &e)) {
        log_warn("%s: the list_created mail to <%s> was not queued: %s", list, owner, e->message);
        g_error_free(e);
    }
    g_hash_table_unref(vars);
    g_free(url);
}

/* create - the create form; a notice (with the alias lines) or an
 * error in d, and the HTTP status. */
static int
create(WebCtx *c, TData *d)
{
    const char *name = form(c, "name"), *owner = form(c, "owner"), *domain = form(c, "domain");
    const char *desc = form(c, "description"), *pw = form(c, "password"), *pw2 = form(c, "password2");
    const char *why = NULL;
    char *owner_norm = NULL, *desc_norm = NULL, *dwhy = NULL, *hash = NULL, *id = NULL;
    GError *e = NULL;
    int status = 400;

    tdata_set(d, "f_name", name);
    tdata_set(d, "f_owner", owner);
    tdata_set(d, "f_description", desc);
    tdata_set(d, "f_domain", domain);
    if (!name || !*name || !list_name_valid(name, &why)) {
        tdata_set(d, "error", name && *name ? why : T(c, "Give the list a name."));
        goto out;
    }
    /* s12-webfix: the list's domain (the select; none or the default
     * domain: NAME), checked as `kairan newlist NAME@DOMAIN` does */
    {
        char *arg = domain && *domain ? g_strdup_printf("%s@%s", name, domain) : g_strdup(name);
        id = list_id_for(c->inst, arg, &e);
        g_free(arg);
        if (!id) {
            tdata_set(d, "error", e->message);
            goto out;
        }
        name = id;
    }
    if (list_exists(c->inst, name)) {
        tdata_setf(d, "error", "%s: %s", name, T(c, "a list of this name exists already."));
        status = 409;
        goto out;
    }
    if (!owner || !(owner_norm = address_normalize(owner, &why))) {
        tdata_setf(d, "error", "%s %s", T(c, "The owner address is not valid:"),
                   owner && *owner ? why : T(c, "it is empty."));
        goto out;
    }
    if (list_address_refused(c->inst, owner_norm, &e)) {
        tdata_set(d, "error", e->message);
        goto out;
    }
    if (desc && *desc && !(desc_norm = setting_validate("description", desc, &dwhy))) {
        tdata_set(d, "error", dwhy);
        goto out;
    }
    if (pw && *pw) {
        if (g_utf8_strlen(pw, -1) < SITE_PASSWORD_MIN) {
            tdata_set(d, "error", T(c, "The list password must have at least 8 characters."));
            goto out;
        }
        if (!pw2 || !g_str_equal(pw, pw2)) {
            tdata_set(d, "error", T(c, "The two passwords differ."));
            goto out;
        }
        hash = password_hash(pw);
    }
    if (!list_create(c->inst, name, owner_norm, hash, &e)) {
        tdata_set(d, "error", e->message);
        status = 503;
        goto out;
    }
    if (desc_norm && *desc_norm && !list_setting_set(c->inst, name, "description", desc_norm, &e)) {
        log_warn("web: list %s created without its description: %s", name, e->message);
        g_clear_error(&e);
    }
    log_info("list %s created (owner %s) by <%s> (web)", name, owner_norm, c->sess->address);
    status = 200;
    tdata_setf(d, "notice", "%s %s", T(c, "List created:"), name);
    {
        GString *lines = g_string_new(NULL);
        aliases_append_lines(lines, c->inst, name);
        tdata_set(d, "aliases", lines->str);
        g_string_free(lines, TRUE);
    }
    if (!aliases_update(c->inst, &e)) {
        log_error("web: list %s created, but the alias map was not written: %s", name, e->message);
        tdata_setf(d, "error", "%s %s", T(c, "The alias map was not written (run kairan aliases):"), e->message);
        g_clear_error(&e);
    }
    tell_owner(c, name, owner_norm);
    /* the form starts empty again */
    tdata_set(d, "f_name", "");
    tdata_set(d, "f_owner", "");
    tdata_set(d, "f_description", "");
    tdata_set(d, "f_domain", "");
out:
    g_clear_error(&e);
    g_free(id);
    g_free(owner_norm);
    g_free(desc_norm);
    g_free(dwhy);
    g_free(hash);
    return status;
}

/* confirm_page - what removing list takes away, and the form that does it. */
static void
confirm_page(WebCtx *c, const char *list, int status, const char *error)
{
    TData *d = tdata_new();
    char *title;
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "csrf", csrf_token(c));
    tdata_set(d, "error", error);
    tdata_set_int(d, "members", member_count(c->inst, list));
    tdata_set_int(d, "posts", archive_count(c->inst, list, NULL));
    title = g_strdup_printf("%s: %s", T(c, "Remove a list"), list);
    page_render(c, status, "site_remove", d, title);
    g_free(title);
}

/* remove - the confirmed removal; FALSE when the confirmation page was
 * shown again instead. */
static gboolean
remove_list(WebCtx *c, TData *d, int *status)
{
    const char *list = form(c, "list");
    char *typed = g_strstrip(g_strdup(form(c, "confirm") ? form(c, "confirm") : ""));
    gboolean same = list && g_str_equal(typed, list);
    char *moved = NULL;
    GError *e = NULL;

    g_free(typed);

    if (!list || !str_is_safe_name(list, FALSE) || !list_exists(c->inst, list)) {
        tdata_set(d, "error", T(c, "There is no such list."));
        *status = 404;
        return TRUE;
    }
    if (!same) {
        confirm_page(c, list, 400, T(c, "Type the name of the list to confirm that it is to be removed."));
        return FALSE;
    }
    if (!list_remove(c->inst, list, FALSE, &moved, &e)) {
        tdata_set(d, "error", e->message);
        g_error_free(e);
        *status = 503;
        return TRUE;
    }
    log_info("list %s removed by <%s> (web); its spool is now %s", list, c->sess->address, moved ? moved : "gone");
    tdata_setf(d, "notice", "%s %s", T(c, "List removed:"), list);
    tdata_set(d, "moved", moved);
    if (!aliases_update(c->inst, &e)) {
        log_error("web: list %s removed, but the alias map was not written: %s", list, e->message);
        tdata_setf(d, "error", "%s %s", T(c, "The alias map was not written (run kairan aliases):"), e->message);
        g_clear_error(&e);
    }
    g_free(moved);
    return TRUE;
}

void
page_site(WebCtx *c)
{
    TData *d;
    char **lists;
    int status = 200;
    const char *remove = param(c, "remove");

    if (!c->sess || !g_str_equal(c->sess->role, "admin")) {
        web_fail(c, 403, T(c, "Only the site administrator may create and remove lists."));
        return;
    }
    if (g_str_equal(c->req->method, "POST")) {
        const char *action = form(c, "action");
        if (!csrf_check(c)) {
            web_fail(c, 403, T(c, EXPIRED));
            return;
        }
        d = tdata_new();
        if (action && g_str_equal(action, "create")) {
            status = create(c, d);
        } else if (action && g_str_equal(action, "remove")) {
            if (!remove_list(c, d, &status)) {
                tdata_free(d);
                return;
            }
        } else {
            tdata_set(d, "error", T(c, "Unknown action."));
            status = 400;
        }
    } else {
        if (remove) {
            if (!str_is_safe_name(remove, FALSE) || !list_exists(c->inst, remove))
                web_fail(c, 404, T(c, "There is no such list."));
            else
                confirm_page(c, remove, 200, NULL);
            return;
        }
        d = tdata_new();
    }
    lists = list_names(c->inst);
    for (int i = 0; lists[i]; i++) {
        TData *it = tdata_add(d, "lists");
        char *owners = list_setting(c->inst, lists[i], "owners");
        char *desc = list_setting(c->inst, lists[i], "description");
        tdata_set(it, "name", lists[i]);     /* as `kairan lists` prints it */
        tdata_set(it, "owners", owners);
        tdata_set(it, "description", desc);
        tdata_set_int(it, "members", member_count(c->inst, lists[i]));
        tdata_set_int(it, "posts", archive_count(c->inst, lists[i], NULL));
        g_free(owners);
        g_free(desc);
    }
    tdata_set_bool(d, "none", lists[0] == NULL);
    g_strfreev(lists);
    tdata_set(d, "base", c->req->base);
    tdata_set(d, "csrf", csrf_token(c));
    tdata_set(d, "domain", c->inst->domain);
    {
        /* the domain select of the create form: the default domain first */
        char **doms = domain_names(c->inst);
        const char *picked = g_str_equal(c->req->method, "POST") && status != 200 ? form(c, "domain") : NULL;
        TData *o = tdata_add(d, "domains");
        tdata_set(o, "dname", c->inst->domain);
        tdata_set(o, "dvalue", "");
        for (int i = 0; doms[i]; i++) {
            o = tdata_add(d, "domains");
            tdata_set(o, "dname", doms[i]);
            tdata_set(o, "dvalue", doms[i]);
            tdata_set_bool(o, "dselected", picked && g_ascii_strcasecmp(picked, doms[i]) == 0);
        }
        tdata_set_bool(d, "several_domains", doms[0] != NULL);
        g_strfreev(doms);
    }
    page_render(c, status, "site", d, T(c, "Site administration"));
}
