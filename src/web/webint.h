/* webint.h - what the page handlers of the web interface share: the
 * per-request context, sessions, CSRF, rendering and errors.  Private to
 * src/web. */
#ifndef KAIRAN_WEB_INT_H
#define KAIRAN_WEB_INT_H

#include "web.h"
#include "tmpl.h"
#include "httputil.h"

#define SESSION_COOKIE "kairan_sid"
#define ANON_COOKIE "kairan_anon"
#define SESSION_LIFETIME (8 * 3600)
#define PAGE_SIZE 50

typedef struct {
    char *id;
    char *list;        /* the first list of an owner or member session; NULL for admin */
    char **lists;      /* every list of an owner or member session (the
                          sessions row keeps them blank separated) */
    char *address;
    char *role;        /* "admin", "owner" or "member" */
    char *csrf;
} WebSession;

typedef struct {
    Instance *inst;
    WebRequest *req;
    WebResponse *resp;
    const char *lang;      /* "en" or "ja" */
    WebSession *sess;      /* NULL when not logged in */
    char *anon_id;         /* the anonymous CSRF cookie value */
    char *anon_csrf;       /* the token derived from it */
    char **seg;            /* decoded path segments */
    int nseg;
    char *feed_href;       /* s12-arch: the archive's Atom feed, for the layout's <head> */
} WebCtx;

/* hostdomain.c - the mail domains a request's Host header is for:
 * matched when the Host is the host of a domain's own web_url (then only
 * those domains), else the default site (the default domain and the
 * domains without a web_url of their own). */
typedef struct {
    char **domains;        /* NULL-terminated domain names */
    gboolean matched;      /* the Host named a domain's own web_url */
} WebHostDomains;
WebHostDomains *web_host_domains(WebCtx *c);
gboolean web_host_domains_has(const WebCtx *c, const WebHostDomains *hd, const char *list);
void web_host_domains_free(WebHostDomains *hd);

/* core.c */
void page_render(WebCtx *c, int status, const char *tmpl, TData *d, const char *title);
void web_fail(WebCtx *c, int status, const char *message);
void web_redirect(WebCtx *c, const char *path);   /* path under base */
void web_set_body(WebCtx *c, const char *content_type, const void *data, gsize len);
const char *csrf_token(WebCtx *c);
gboolean csrf_check(WebCtx *c);
const char *form(WebCtx *c, const char *name);
const char *param(WebCtx *c, const char *name);
void set_cookie(WebCtx *c, const char *name, const char *value, gint64 max_age);
gboolean may_manage(WebCtx *c, const char *list);
gboolean may_read_archive(WebCtx *c, const char *list);
/* T - translate for this request. */
const char *T(WebCtx *c, const char *msgid);
char *fmt_time(gint64 t);

/* session.c */
void session_load(WebCtx *c);
void session_free(WebSession *s);
/* session_has_list - the owner or member session s covers list. */
gboolean session_has_list(const WebSession *s, const char *list);
void page_login(WebCtx *c);
void page_logout(WebCtx *c);
char *admin_password_hash(const Instance *inst);

/* page_site.c: the site admin's pages (every list, create, remove) */
void page_site(WebCtx *c);

/* page_admin.c, page_members.c, page_held.c, page_settings.c */
void page_overview(WebCtx *c);
/* page_domains.c: /admin/domains, the instance admin's mail domains */
void page_domains(WebCtx *c);
void page_members(WebCtx *c, const char *list);
void page_members_csv(WebCtx *c, const char *list);
void page_held(WebCtx *c, const char *list, const char *id);
void page_settings(WebCtx *c, const char *list);

/* page_import.c: the mbox upload and the archive download */
void page_import(WebCtx *c, const char *list);
void page_archive_mbox(WebCtx *c, const char *list);

/* page_archive.c */
void page_archive(WebCtx *c, const char *list);

/* page_public.c */
void page_home(WebCtx *c);
void page_list_info(WebCtx *c, const char *list);
void page_subscribe(WebCtx *c, const char *list, const char *action);
void page_confirm(WebCtx *c, const char *token);

/* page_feed.c: the Atom feed of a public archive */
void page_feed(WebCtx *c, const char *list);
gboolean page_feed_available(WebCtx *c, const char *list);

/* page_templates.c: the list's mail templates */
void page_templates(WebCtx *c, const char *list);

/* page_options.c */
void page_options(WebCtx *c, const char *list);

/* page_password.c */
void page_password_request(WebCtx *c, const char *list);
void page_password_set(WebCtx *c, const char *token);

#endif
