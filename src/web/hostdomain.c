/* hostdomain.c - which mail domain a web request is for, from its Host
 * header: a domain whose own web_url (kairan domain add --web-url) has
 * that host name is the request's domain; a Host that names no such
 * domain, or the host of [global] web_url, is the default site, which
 * shows the default domain and the domains without a web_url of their
 * own (their pages are served there).  The home page lists only the
 * lists of the request's domains, and the footer names the domain. */
#include "config.h"
#include "webint.h"
#include "domains.h"
#include "instance.h"

#include <string.h>

/* url_host - the host name of an http(s) URL, lower case, or NULL. */
static char *
url_host(const char *url)
{
    GUri *uri;
    char *host = NULL;

    if (!url || !*url)
        return NULL;
    uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
    if (uri && g_uri_get_host(uri) && *g_uri_get_host(uri))
        host = g_ascii_strdown(g_uri_get_host(uri), -1);
    if (uri)
        g_uri_unref(uri);
    return host;
}

/* request_host - the Host header without its port, lower case, or NULL
 * ("[::1]:8080" -> "::1", as GUri gives an IPv6 host). */
static char *
request_host(WebCtx *c)
{
    const char *h = c->req->headers ? g_hash_table_lookup(c->req->headers, "host") : NULL;
    const char *end;
    char *host;

    while (h && g_ascii_isspace(*h))
        h++;
    if (!h || !*h)
        return NULL;
    if (h[0] == '[') {
        end = strchr(h, ']');
        if (!end)
            return NULL;
        host = g_ascii_strdown(h + 1, end - h - 1);
    } else {
        end = strchr(h, ':');
        host = g_ascii_strdown(h, end ? end - h : -1);
    }
    g_strstrip(host);
    if (!*host) {
        g_free(host);
        return NULL;
    }
    return host;
}

WebHostDomains *
web_host_domains(WebCtx *c)
{
    WebHostDomains *hd = g_new0(WebHostDomains, 1);
    char *host = request_host(c);
    char *global = instance_global(c->inst, "web_url");
    char *global_host = url_host(global);
    GPtrArray *doms = domain_list(c->inst);
    GPtrArray *own = g_ptr_array_new_with_free_func(g_free);     /* domains whose web_url host is Host */
    GPtrArray *shared = g_ptr_array_new_with_free_func(g_free);  /* the default site's domains */

    for (guint i = 0; i < doms->len; i++) {
        const Domain *d = doms->pdata[i];
        char *dh = d->is_default ? NULL : url_host(d->web_url);
        if (!dh || (global_host && g_str_equal(dh, global_host)))
            g_ptr_array_add(shared, g_strdup(d->name));
        else if (host && g_str_equal(dh, host))
            g_ptr_array_add(own, g_strdup(d->name));
        g_free(dh);
    }
    if (own->len > 0 && !(global_host && host && g_str_equal(host, global_host))) {
        g_ptr_array_add(own, NULL);
        hd->domains = (char **) g_ptr_array_free(own, FALSE);
        g_ptr_array_free(shared, TRUE);
        hd->matched = TRUE;
    } else {
        g_ptr_array_free(own, TRUE);
        g_ptr_array_add(shared, NULL);
        hd->domains = (char **) g_ptr_array_free(shared, FALSE);
    }
    g_ptr_array_unref(doms);
    g_free(host);
    g_free(global);
    g_free(global_host);
    return hd;
}

gboolean
web_host_domains_has(const WebCtx *c, const WebHostDomains *hd, const char *list)
{
    char *dom = list_domain(c->inst, list);
    gboolean yes = g_strv_contains((const char *const *) hd->domains, dom);
    g_free(dom);
    return yes;
}

void
web_host_domains_free(WebHostDomains *hd)
{
    if (!hd)
        return;
    g_strfreev(hd->domains);
    g_free(hd);
}
