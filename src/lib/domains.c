/* domains.c - the mail domains of an instance (table domains, added by
 * `kairan domain add`, the web's /admin/domains and nothing else) and the
 * domain part of list ids.
 *
 * The default domain is [global] domain and is not a row: renaming it in
 * kairan.conf moves its lists with it.  A list of another domain has the
 * id NAME@DOMAIN (see domains.h); ids are lower case, so resolving what a
 * user typed is one lookup in lists. */
#include "config.h"
#include "domains.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "util.h"

#include <string.h>

gboolean
domain_name_valid(const char *name, const char **why)
{
    const char *dummy;
    char **labels;
    gboolean ok = TRUE;

    if (!why)
        why = &dummy;
    *why = "a domain is dot-separated labels of lower-case letters, digits and '-' (at most 253 characters)";
    if (!name || !*name || strlen(name) > 253 || name[strlen(name) - 1] == '.' || *name == '.')
        return FALSE;
    labels = g_strsplit(name, ".", -1);
    for (int i = 0; ok && labels[i]; i++) {
        size_t n = strlen(labels[i]);
        ok = n >= 1 && n <= 63 && labels[i][0] != '-' && labels[i][n - 1] != '-';
        for (const char *p = labels[i]; ok && *p; p++)
            ok = g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '-';
    }
    g_strfreev(labels);
    return ok;
}

static gboolean
domain_row_exists(const Instance *inst, const char *name)
{
    return db_int64(inst->db, "SELECT COUNT(*) FROM domains WHERE name = ?", name) > 0;
}

gboolean
domain_is_local(const Instance *inst, const char *domain)
{
    char *d;
    gboolean r;

    if (!domain || !*domain)
        return FALSE;
    if (g_ascii_strcasecmp(domain, inst->domain) == 0)
        return TRUE;
    d = g_ascii_strdown(domain, -1);
    r = domain_row_exists(inst, d);
    g_free(d);
    return r;
}

static gboolean
web_url_valid(const char *u)
{
    return (g_str_has_prefix(u, "http://") || g_str_has_prefix(u, "https://")) &&
           g_uri_is_valid(u, G_URI_FLAGS_NONE, NULL);
}

gboolean
domain_add(Instance *inst, const char *name, const char *web_url, GError **error)
{
    const char *why;
    sqlite3_stmt *st;

    if (!domain_name_valid(name, &why)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "%s: %s", name, why);
        return FALSE;
    }
    if (web_url && *web_url && !web_url_valid(web_url)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "web URL %s: not an http:// or https:// URL", web_url);
        return FALSE;
    }
    if (g_str_equal(name, inst->domain)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE,
                    "%s is the default domain ([global] domain); its web URL is [global] web_url", name);
        return FALSE;
    }
    if (domain_row_exists(inst, name)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "domain %s exists already", name);
        return FALSE;
    }
    st = db_prepare(inst->db, "INSERT INTO domains(name, web_url, created) VALUES(?, ?, ?)");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, web_url && *web_url ? web_url : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_seconds());
    if (!db_step_done(st, error))
        return FALSE;
    log_info("domain %s added%s%s", name, web_url && *web_url ? ", web URL " : "", web_url && *web_url ? web_url : "");
    return TRUE;
}

gboolean
domain_set_web_url(Instance *inst, const char *name, const char *web_url, GError **error)
{
    sqlite3_stmt *st;

    if (!domain_row_exists(inst, name)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no such domain: %s", name);
        return FALSE;
    }
    if (web_url && *web_url && !web_url_valid(web_url)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "web URL %s: not an http:// or https:// URL", web_url);
        return FALSE;
    }
    st = db_prepare(inst->db, "UPDATE domains SET web_url = ? WHERE name = ?");
    sqlite3_bind_text(st, 1, web_url && *web_url ? web_url : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    return db_step_done(st, error);
}

/* lists_of_domain - the ids of domain's lists (a non-default domain). */
static GPtrArray *
lists_of_domain(const Instance *inst, const char *domain)
{
    char **names = list_names(inst);
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    char *tail = g_strconcat("@", domain, NULL);

    for (int i = 0; names[i]; i++)
        if (g_str_has_suffix(names[i], tail))
            g_ptr_array_add(a, g_strdup(names[i]));
    g_free(tail);
    g_strfreev(names);
    return a;
}

gboolean
domain_remove(Instance *inst, const char *name, GError **error)
{
    GPtrArray *lists;
    sqlite3_stmt *st;

    if (g_ascii_strcasecmp(name, inst->domain) == 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE,
                    "%s is the default domain ([global] domain): it cannot be removed", name);
        return FALSE;
    }
    if (!domain_row_exists(inst, name)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no such domain: %s", name);
        return FALSE;
    }
    lists = lists_of_domain(inst, name);
    if (lists->len > 0) {
        GString *s = g_string_new(NULL);
        for (guint i = 0; i < lists->len; i++)
            g_string_append_printf(s, "%s%s", i ? ", " : "", (char *) lists->pdata[i]);
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE,
                    "domain %s still has %u list%s (%s): remove them first with kairan rmlist",
                    name, lists->len, lists->len == 1 ? "" : "s", s->str);
        g_string_free(s, TRUE);
        g_ptr_array_unref(lists);
        return FALSE;
    }
    g_ptr_array_unref(lists);
    st = db_prepare(inst->db, "DELETE FROM domains WHERE name = ?");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (!db_step_done(st, error))
        return FALSE;
    log_info("domain %s removed", name);
    return TRUE;
}

void
domain_free(Domain *d)
{
    if (!d)
        return;
    g_free(d->name);
    g_free(d->web_url);
    g_free(d);
}

GPtrArray *
domain_list(const Instance *inst)
{
    GPtrArray *a = g_ptr_array_new_with_free_func((GDestroyNotify) domain_free);
    char **names = list_names(inst);
    sqlite3_stmt *st;
    Domain *d = g_new0(Domain, 1);

    d->name = g_strdup(inst->domain);
    d->web_url = instance_global(inst, "web_url");
    d->is_default = TRUE;
    g_ptr_array_add(a, d);
    st = db_prepare(inst->db, "SELECT name, web_url, created FROM domains ORDER BY name");
    while (sqlite3_step(st) == SQLITE_ROW) {
        d = g_new0(Domain, 1);
        d->name = g_strdup((const char *) sqlite3_column_text(st, 0));
        if (sqlite3_column_text(st, 1))
            d->web_url = g_strdup((const char *) sqlite3_column_text(st, 1));
        d->created = sqlite3_column_int64(st, 2);
        g_ptr_array_add(a, d);
    }
    sqlite3_finalize(st);
    for (int i = 0; names[i]; i++) {
        const char *at = strchr(names[i], '@');
        for (guint k = 0; k < a->len; k++) {
            Domain *x = a->pdata[k];
            if (at ? g_str_equal(at + 1, x->name) : x->is_default) {
                x->lists++;
                break;
            }
        }
    }
    g_strfreev(names);
    return a;
}

char **
domain_names(const Instance *inst)
{
    return db_strv(inst->db, "SELECT name FROM domains ORDER BY name");
}

char *
list_id_join(const Instance *inst, const char *name, const char *domain)
{
    char *lower, *id;

    if (!domain || !*domain || g_ascii_strcasecmp(domain, inst->domain) == 0)
        return g_strdup(name);
    lower = g_ascii_strdown(domain, -1);      /* a domain in any case; names are lower case */
    id = g_strconcat(name, "@", lower, NULL);
    g_free(lower);
    return id;
}

char *
list_resolve(const Instance *inst, const char *arg, GError **error)
{
    const char *at = arg ? strrchr(arg, '@') : NULL;
    char *name, *id = NULL;

    if (!arg || !*arg) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no such list: (empty name)");
        return NULL;
    }
    name = at ? g_strndup(arg, at - arg) : g_strdup(arg);
    if (*name && str_is_safe_name(name, FALSE)) {
        id = list_id_join(inst, name, at ? at + 1 : NULL);
        if (!list_exists(inst, id)) {
            g_free(id);
            id = NULL;
        }
    }
    g_free(name);
    if (!id)
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no such list: %s", arg);
    return id;
}

char *
list_id_for(const Instance *inst, const char *arg, GError **error)
{
    const char *at = strrchr(arg, '@');
    char *name = at ? g_strndup(arg, at - arg) : g_strdup(arg);
    char *domain = at ? g_ascii_strdown(at + 1, -1) : NULL;
    const char *why;
    char *id = NULL;

    if (!list_name_valid(name, &why))
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "%s: %s", arg, why);
    else if (domain && !domain_is_local(inst, domain))
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE,
                    "%s is not a domain of this instance: add it first with kairan domain add %s", domain, domain);
    else
        id = list_id_join(inst, name, domain);
    g_free(name);
    g_free(domain);
    return id;
}

char *
list_name(const char *id)
{
    const char *at = strchr(id, '@');
    return at ? g_strndup(id, at - id) : g_strdup(id);
}

char *
list_domain(const Instance *inst, const char *id)
{
    const char *at = strchr(id, '@');
    return g_strdup(at ? at + 1 : inst->domain);
}

char *
list_full_name(const Instance *inst, const char *id)
{
    return strchr(id, '@') ? g_strdup(id) : g_strconcat(id, "@", inst->domain, NULL);
}

char *
list_id_header(const Instance *inst, const char *id)
{
    const char *at = strchr(id, '@');
    return at ? g_strdup_printf("%.*s.%s", (int) (at - id), id, at + 1)
              : g_strdup_printf("%s.%s", id, inst->domain);
}

char *
list_web_url(const Instance *inst, const char *id)
{
    const char *at = strchr(id, '@');
    char *url = NULL;

    if (at) {
        sqlite3_stmt *st = db_prepare(inst->db, "SELECT web_url FROM domains WHERE name = ?");
        sqlite3_bind_text(st, 1, at + 1, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) && *sqlite3_column_text(st, 0))
            url = g_strdup((const char *) sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    return url ? url : instance_global(inst, "web_url");
}
