/* core.c - web_handle(): the one entry point of the web interface for
 * both front ends.  It parses the query, cookies and form body, picks
 * the language, loads the session, routes the path to a page handler,
 * and turns failures into friendly error pages with the right status.
 * Also the page layout, CSRF tokens and the response helpers.
 *
 * URL map (every path below the front end's base):
 *   GET  /                          public index of lists (or -> /admin)
 *   GET  /static/style.css          the stylesheet
 *   GET|POST /login, POST /logout   owner / admin / member login
 *   GET  /admin                     overview of the lists one may manage
 *   GET|POST /admin/site            site admin: every list, create, remove
 *   GET|POST /admin/LIST/members    members; GET /admin/LIST/members.csv
 *   GET|POST /admin/LIST/held[/ID]  held posts
 *   GET|POST /admin/LIST/settings   every per-list setting
 *   GET|POST /admin/LIST/import     upload an mbox into the archive
 *   GET  /admin/LIST/archive.mbox   the whole archive, mboxrd, streamed
 *   GET  /list/LIST                 public page of a list
 *   GET  /list/LIST/archive[/thread|/N|/N/attachment/K]
 *   GET  /list/LIST/feed.atom       Atom feed of a public archive (page_feed.c)
 *   GET|POST /admin/LIST/templates  the list's mail templates (page_templates.c)
 *   GET|POST /list/LIST/subscribe | /list/LIST/unsubscribe (and RFC 8058)
 *   GET|POST /confirm/TOKEN         the link of a confirmation mail
 *   GET|POST /list/LIST/password, /password/TOKEN   a member's POP3 password
 *   GET|POST /list/LIST/options     a logged-in member's own settings
 *   /api/...                        the REST API (api.c: JSON, Bearer tokens)
 * State changes only by POST, each checked against a CSRF token. */
#include "config.h"
#include "webint.h"
#include "domains.h"
#include "api.h"
#include "crypto.h"
#include "globals.h"
#include "lists.h"
#include "log.h"
#include "settings.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <gmime/gmime.h>

/* ---- requests and responses ---- */

WebRequest *
web_request_new(const char *method, const char *path, const char *query)
{
    WebRequest *r = g_new0(WebRequest, 1);
    r->method = g_ascii_strup(method ? method : "GET", -1);
    r->path = g_strdup(path && *path ? path : "/");
    r->query = g_strdup(query);
    r->headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    r->body = g_byte_array_new();
    r->base = g_strdup("");
    return r;
}

void
web_request_set_header(WebRequest *req, const char *name, const char *value)
{
    g_hash_table_replace(req->headers, g_ascii_strdown(name, -1), g_strdup(value ? value : ""));
}

void
web_request_free(WebRequest *req)
{
    if (!req)
        return;
    g_free(req->method);
    g_free(req->path);
    g_free(req->query);
    g_free(req->remote_addr);
    g_free(req->base);
    g_hash_table_unref(req->headers);
    g_byte_array_unref(req->body);
    if (req->body_file) {
        unlink(req->body_file);
        g_free(req->body_file);
    }
    if (req->temp_files) {
        for (guint i = 0; i < req->temp_files->len; i++)
            unlink(req->temp_files->pdata[i]);
        g_ptr_array_unref(req->temp_files);
    }
    if (req->params)
        g_hash_table_unref(req->params);
    if (req->form)
        g_hash_table_unref(req->form);
    if (req->cookies)
        g_hash_table_unref(req->cookies);
    g_free(req);
}

WebResponse *
web_response_new(void)
{
    WebResponse *r = g_new0(WebResponse, 1);
    r->status = 200;
    r->headers = g_ptr_array_new_with_free_func(g_free);
    r->body = g_byte_array_new();
    return r;
}

void
web_response_header(WebResponse *resp, const char *name, const char *value)
{
    g_ptr_array_add(resp->headers, g_strdup(name));
    g_ptr_array_add(resp->headers, g_strdup(value));
}

const char *
web_response_get_header(const WebResponse *resp, const char *name)
{
    for (guint i = 0; i + 1 < resp->headers->len; i += 2)
        if (g_ascii_strcasecmp(resp->headers->pdata[i], name) == 0)
            return resp->headers->pdata[i + 1];
    return NULL;
}

void
web_response_free(WebResponse *resp)
{
    if (!resp)
        return;
    g_ptr_array_unref(resp->headers);
    g_byte_array_unref(resp->body);
    if (resp->stream_data && resp->stream_free)
        resp->stream_free(resp->stream_data);
    g_free(resp);
}

const char *
web_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

gsize
web_max_body(const Instance *inst)
{
    gint64 v = inst ? instance_global_int(inst, "web_max_body") : WEB_MAX_BODY_DEFAULT;
    return v > 0 ? (gsize) v : WEB_MAX_BODY_DEFAULT;
}

gboolean
web_is_upload_path(const char *path)
{
    char **seg = path ? path_split(path) : NULL;
    gboolean up = seg && g_strv_length(seg) == 3 && g_str_equal(seg[0], "admin") && g_str_equal(seg[2], "import");
    g_strfreev(seg);
    return up;
}

gboolean
web_upload_allowed(Instance *inst, const char *path, const char *cookie_header)
{
    WebCtx c = { 0 };
    WebRequest *req = web_request_new("POST", path, NULL);
    char **seg = path_split(path);
    gboolean ok = FALSE;

    c.inst = inst;
    c.req = req;
    req->cookies = cookie_parse(cookie_header);
    if (inst && seg && g_strv_length(seg) == 3 && str_is_safe_name(seg[1], FALSE) && list_exists(inst, seg[1])) {
        session_load(&c);
        ok = may_manage(&c, seg[1]);
    }
    session_free(c.sess);
    g_strfreev(seg);
    web_request_free(req);
    return ok;
}

char *
web_upload_file(const Instance *inst, int *fd)
{
    char *dir = instance_path(inst, "tmp", NULL);
    char *path = g_build_filename(dir, "upload.XXXXXX", NULL);
    GError *e = NULL;

    *fd = -1;
    if (!mkdir_p(dir, 0700, &e)) {
        log_error("web: %s", e->message);
        g_error_free(e);
        g_free(dir);
        g_free(path);
        return NULL;
    }
    g_free(dir);
    *fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0600);
    if (*fd < 0) {
        log_error("web: cannot make an upload file %s: %s", path, g_strerror(errno));
        g_free(path);
        return NULL;
    }
    return path;
}

gsize
web_body_limit(const Instance *inst, const char *path)
{
    if (web_is_upload_path(path)) {
        gint64 v = inst ? instance_global_int(inst, "web_max_upload") : 0;
        return v > 0 ? (gsize) v : 64 * 1024 * 1024;
    }
    return api_is_path(path) ? MIN(api_max_body(inst), web_max_body(inst)) : web_max_body(inst);
}

WebResponse *
web_too_large_response(const char *path)
{
    return api_is_path(path) ? api_error_response(413, "the request body is too large")
                             : web_error_response(413, NULL);
}

/* ---- helpers for the page handlers ---- */

const char *
T(WebCtx *c, const char *msgid)
{
    return tr(c->lang, msgid);
}

const char *
form(WebCtx *c, const char *name)
{
    return params_get(c->req->form, name);
}

const char *
param(WebCtx *c, const char *name)
{
    return params_get(c->req->params, name);
}

char *
fmt_time(gint64 t)
{
    GDateTime *dt = t > 0 ? g_date_time_new_from_unix_utc(t) : NULL;
    char *s = dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M UTC") : g_strdup("-");
    if (dt)
        g_date_time_unref(dt);
    return s;
}

void
web_set_body(WebCtx *c, const char *content_type, const void *data, gsize len)
{
    g_byte_array_set_size(c->resp->body, 0);
    g_byte_array_append(c->resp->body, data, (guint) len);
    web_response_header(c->resp, "Content-Type", content_type);
}

void
set_cookie(WebCtx *c, const char *name, const char *value, gint64 max_age)
{
    char *v = g_strdup_printf("%s=%s; Path=%s/; Max-Age=%" G_GINT64_FORMAT "; HttpOnly; SameSite=Strict%s",
                              name, value, c->req->base, max_age, c->req->https ? "; Secure" : "");
    web_response_header(c->resp, "Set-Cookie", v);
    g_free(v);
}

void
web_redirect(WebCtx *c, const char *path)
{
    char *loc = g_strconcat(c->req->base, path, NULL);
    c->resp->status = 303;
    web_response_header(c->resp, "Location", loc);
    web_set_body(c, "text/plain; charset=utf-8", loc, strlen(loc));
    g_free(loc);
}

/* anon_token - the CSRF token of a visitor without a session: an HMAC
 * of a random SameSite=Strict cookie, so another site can neither read
 * nor send it. */
static char *
anon_token(const Instance *inst, const char *anon_id)
{
    char *data = g_strconcat("csrf\n", anon_id, NULL);
    char *mac = hmac_sha256_hex(inst->secret ? inst->secret : "", data, strlen(data));
    g_free(data);
    return mac;
}

const char *
csrf_token(WebCtx *c)
{
    if (c->sess)
        return c->sess->csrf;
    if (!c->anon_id) {
        c->anon_id = g_malloc0(33);
        char *rnd = random_hex(16);
        g_strlcpy(c->anon_id, rnd, 33);
        g_free(rnd);
        set_cookie(c, ANON_COOKIE, c->anon_id, 86400);
    }
    if (!c->anon_csrf)
        c->anon_csrf = anon_token(c->inst, c->anon_id);
    return c->anon_csrf;
}

gboolean
csrf_check(WebCtx *c)
{
    const char *got = form(c, "csrf");
    gboolean ok = FALSE;
    if (!got)
        return FALSE;
    if (c->sess)
        ok = const_time_equal(got, c->sess->csrf);
    if (!ok && c->anon_id) {
        char *want = anon_token(c->inst, c->anon_id);
        ok = const_time_equal(got, want);
        g_free(want);
    }
    return ok;
}

gboolean
may_manage(WebCtx *c, const char *list)
{
    if (!c->sess)
        return FALSE;
    if (g_str_equal(c->sess->role, "admin"))
        return TRUE;
    return g_str_equal(c->sess->role, "owner") && session_has_list(c->sess, list);
}

gboolean
may_read_archive(WebCtx *c, const char *list)
{
    char *access = list_setting(c->inst, list, "archive_access");
    gboolean ok;
    if (g_str_equal(access, "public"))
        ok = TRUE;
    else if (may_manage(c, list))
        ok = TRUE;
    else
        ok = g_str_equal(access, "members") && c->sess && g_str_equal(c->sess->role, "member") &&
             session_has_list(c->sess, list) &&
             member_is(c->inst, list, c->sess->address);
    g_free(access);
    return ok;
}

/* ---- pages ---- */

static void
security_headers(WebResponse *resp)
{
    web_response_header(resp, "Content-Security-Policy",
                        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                        "frame-ancestors 'none'; base-uri 'none'");
    web_response_header(resp, "X-Content-Type-Options", "nosniff");
    web_response_header(resp, "X-Frame-Options", "DENY");
    web_response_header(resp, "Referrer-Policy", "no-referrer");
    if (!web_response_get_header(resp, "Cache-Control"))     /* the feed says no-cache (page_feed.c) */
        web_response_header(resp, "Cache-Control", "no-store");
}

void
page_render(WebCtx *c, int status, const char *tmpl, TData *d, const char *title)
{
    char *content;
    TData *l = tdata_new();
    char *html;

    /* every page's links start with the front end's base (SCRIPT_NAME
     * under CGI): a handler need not say so (the login form did not) */
    if (!g_hash_table_contains(d, "base"))
        tdata_set(d, "base", c->req->base);
    content = tmpl_render(tmpl, d, c->lang);

    if (!content) {
        log_error("web: template %s missing", tmpl);
        content = g_strdup("<p>template missing</p>");
    }
    tdata_set(l, "title", title);
    tdata_set(l, "lang", c->lang);
    tdata_set(l, "base", c->req->base);
    tdata_set_html(l, "content", content);
    if (c->inst) {
        /* the footer names the domain the Host header is for (hostdomain.c) */
        WebHostDomains *hd = web_host_domains(c);
        tdata_set(l, "domain", hd->matched && hd->domains[0] ? hd->domains[0] : c->inst->domain);
        web_host_domains_free(hd);
    } else {
        tdata_set(l, "domain", "");
    }
    if (c->sess) {
        tdata_set(l, "user", c->sess->address);
        tdata_set(l, "role", c->sess->role);
        tdata_set(l, "csrf", c->sess->csrf);
        tdata_set_bool(l, "manager", !g_str_equal(c->sess->role, "member"));
        tdata_set_bool(l, "site_admin", g_str_equal(c->sess->role, "admin"));
        if (g_str_equal(c->sess->role, "member"))
            tdata_set(l, "member_list", c->sess->list);
    }
    tdata_set(l, "path", c->req->path);
    if (c->feed_href)
        tdata_set(l, "feed", c->feed_href);
    html = tmpl_render("layout", l, c->lang);
    if (!html)
        html = g_strdup(content);
    c->resp->status = status;
    g_byte_array_set_size(c->resp->body, 0);
    web_set_body(c, "text/html; charset=utf-8", html, strlen(html));
    g_free(html);
    g_free(content);
    tdata_free(l);
    tdata_free(d);
}

static const char *
error_title(int status)
{
    switch (status) {
    case 400: return "The request was not understood";
    case 403: return "Not allowed";
    case 404: return "Page not found";
    case 405: return "Method not allowed";
    case 413: return "The request is too large";
    case 429: return "Too many attempts";
    default: return "Something went wrong";
    }
}

void
web_fail(WebCtx *c, int status, const char *message)
{
    TData *d = tdata_new();
    tdata_set_int(d, "status", status);
    tdata_set(d, "heading", T(c, error_title(status)));
    tdata_set(d, "message", message ? message : "");
    /* a previous partial response must not leak into the error page */
    g_ptr_array_set_size(c->resp->headers, 0);
    page_render(c, status, "error", d, T(c, error_title(status)));
}

WebResponse *
web_upload_too_large_response(const Instance *inst, const char *lang)
{
    WebCtx c = { 0 };
    WebRequest *req = web_request_new("GET", "/", NULL);
    gsize limit = web_body_limit(inst, "/admin/x/import");
    char *size = limit % (1024 * 1024) == 0 ? g_strdup_printf("%" G_GSIZE_FORMAT " MiB", limit / (1024 * 1024))
                                            : g_format_size_full(limit, G_FORMAT_SIZE_IEC_UNITS);
    char *msg;

    c.req = req;
    c.resp = web_response_new();
    c.lang = lang && g_ascii_strncasecmp(lang, "ja", 2) == 0 ? "ja" : "en";    /* "ja" or an Accept-Language */
    msg = g_strdup_printf("%s %s %s", T(&c, "The file is larger than the upload limit of"), size,
                          T(&c, "(web_max_upload in the [global] section of kairan.conf). Split the mbox or ask the administrator to raise the limit."));
    web_fail(&c, 413, msg);
    security_headers(c.resp);
    web_request_free(req);
    g_free(msg);
    g_free(size);
    return c.resp;
}

WebResponse *
web_error_response(int status, const char *lang)
{
    WebCtx c = { 0 };
    WebRequest *req = web_request_new("GET", "/", NULL);
    c.req = req;
    c.resp = web_response_new();
    c.lang = lang && g_str_equal(lang, "ja") ? "ja" : "en";
    web_fail(&c, status, NULL);
    security_headers(c.resp);
    web_request_free(req);
    return c.resp;
}

static void
serve_static(WebCtx *c, const char *name)
{
    char *path, *data = NULL;
    gsize len = 0;
    if (!g_str_equal(name, "style.css")) {
        web_fail(c, 404, NULL);
        return;
    }
    path = g_build_filename(kairan_template_dir(), "web", name, NULL);
    if (!g_file_get_contents(path, &data, &len, NULL)) {
        g_free(path);
        web_fail(c, 404, NULL);
        return;
    }
    web_set_body(c, "text/css; charset=utf-8", data, len);
    g_free(data);
    g_free(path);
}

static const char *
pick_lang(WebRequest *req)
{
    const char *q = params_get(req->params, "lang");
    const char *al = g_hash_table_lookup(req->headers, "accept-language");
    if (q && (g_str_equal(q, "ja") || g_str_equal(q, "en")))
        return g_str_equal(q, "ja") ? "ja" : "en";
    if (al) {
        char **tags = g_strsplit(al, ",", 0);
        const char *r = NULL;
        for (int i = 0; tags[i] && !r; i++) {
            char *t = g_strstrip(tags[i]);
            if (g_ascii_strncasecmp(t, "ja", 2) == 0)
                r = "ja";
            else if (g_ascii_strncasecmp(t, "en", 2) == 0)
                r = "en";
        }
        g_strfreev(tags);
        if (r)
            return r;
    }
    return NULL;
}

/* ---- a spooled upload body ---- */

#define SPOOLED_FIELD_MAX (64 * 1024)    /* a field that is not a file */

typedef struct {
    const Instance *inst;
    WebRequest *req;
    const guint8 *base;
} Spooled;

static gboolean
spooled_part(const guint8 *head, gsize head_len, gsize off, gsize len, gpointer user)
{
    Spooled *sp = user;
    char *name, *filename;
    gboolean ok = TRUE;

    if (!multipart_disposition(head, head_len, &name, &filename))
        return TRUE;                    /* no field we know */
    if (filename) {
        /* a file: copied out to a file of its own, never into memory */
        int fd;
        char *path = web_upload_file(sp->inst, &fd);
        gsize done = 0;
        ok = path != NULL;
        while (ok && done < len) {
            ssize_t n = write(fd, sp->base + off + done, len - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                log_error("web: cannot write %s: %s", path, n < 0 ? g_strerror(errno) : "short write");
                ok = FALSE;
            } else {
                done += (gsize) n;
            }
        }
        if (path) {
            char *k = g_strconcat(name, ".file", NULL);
            close(fd);
            g_ptr_array_add(sp->req->temp_files, g_strdup(path));
            params_add(sp->req->form, k, path);
            g_free(k);
            k = g_strconcat(name, ".filename", NULL);
            params_add(sp->req->form, k, filename);
            g_free(k);
            g_free(path);
        }
    } else if (len <= SPOOLED_FIELD_MAX && !memchr(sp->base + off, 0, len) &&
               g_utf8_validate((const char *) sp->base + off, (gssize) len, NULL)) {
        char *v = g_strndup((const char *) sp->base + off, len);
        params_add(sp->req->form, name, v);
        g_free(v);
    } else {
        ok = FALSE;
    }
    g_free(name);
    g_free(filename);
    return ok;
}

/* parse_spooled - a multipart/form-data body in req->body_file: mapped
 * (not read into memory), split, small fields into req->form, each file
 * to a file of its own ("NAME.file" its path, "NAME.filename"). */
static gboolean
parse_spooled(const Instance *inst, WebRequest *req)
{
    const char *ct = g_hash_table_lookup(req->headers, "content-type");
    GMimeContentType *type;
    const char *boundary;
    Spooled sp = { inst, req, NULL };
    struct stat st;
    void *map;
    int fd;
    gboolean ok;

    if (!ct || g_ascii_strncasecmp(ct, "multipart/form-data", 19) != 0 || strpbrk(ct, "\r\n"))
        return FALSE;
    fd = open(req->body_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        if (fd >= 0)
            close(fd);
        return FALSE;
    }
    map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return FALSE;
    if (!req->temp_files)
        req->temp_files = g_ptr_array_new_with_free_func(g_free);
    type = g_mime_content_type_parse(NULL, ct);
    boundary = type ? g_mime_content_type_get_parameter(type, "boundary") : NULL;
    sp.base = map;
    ok = boundary && multipart_split(map, (gsize) st.st_size, boundary, 100, spooled_part, &sp);
    if (type)
        g_object_unref(type);
    munmap(map, (size_t) st.st_size);
    return ok;
}

static gboolean
parse_body(const Instance *inst, WebRequest *req)
{
    const char *ct = g_hash_table_lookup(req->headers, "content-type");
    req->form = params_new();
    if (req->body_file)
        return parse_spooled(inst, req);
    if (req->body->len == 0)
        return TRUE;
    if (!ct || g_ascii_strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
        return form_parse_urlencoded(req->form, (const char *) req->body->data, req->body->len);
    if (g_ascii_strncasecmp(ct, "multipart/form-data", 19) == 0)
        return form_parse_multipart(req->form, ct, req->body->data, req->body->len);
    return TRUE;      /* other bodies are ignored */
}

static gboolean
is_post(WebCtx *c)
{
    return g_str_equal(c->req->method, "POST");
}

static void
route(WebCtx *c)
{
    char **s = c->seg;
    int n = c->nseg;
    gboolean post = is_post(c);
    const char *allow = "GET, HEAD";

    if (n == 0) {
        if (post) goto not_allowed;
        page_home(c);
        return;
    }
    if (n == 2 && g_str_equal(s[0], "static")) {
        if (post) goto not_allowed;
        serve_static(c, s[1]);
        return;
    }
    if (n == 1 && g_str_equal(s[0], "login")) {
        page_login(c);
        return;
    }
    if (n == 1 && g_str_equal(s[0], "logout")) {
        allow = "POST";
        if (!post) goto not_allowed;
        page_logout(c);
        return;
    }
    if (n == 2 && g_str_equal(s[0], "confirm")) {
        page_confirm(c, s[1]);
        return;
    }
    if (n == 2 && g_str_equal(s[0], "password")) {
        page_password_set(c, s[1]);
        return;
    }
    if (g_str_equal(s[0], "admin")) {
        if (!c->sess || g_str_equal(c->sess->role, "member")) {
            if (post) {
                web_fail(c, 403, T(c, "Please log in first."));
                return;
            }
            web_redirect(c, "/login");
            return;
        }
        if (n == 1) {
            if (post) goto not_allowed;
            page_overview(c);
            return;
        }
        if (n == 2 && g_str_equal(s[1], "site")) {
            page_site(c);       /* the site admin's page: not a list's */
            return;
        }
        if (n == 2 && g_str_equal(s[1], "domains")) {
            page_domains(c);             /* page_domains.c: the site admin's */
            return;
        }
        if (!list_exists(c->inst, s[1])) {   /* web_handle made s[1] a list id */
            web_fail(c, 404, T(c, "There is no such list."));
            return;
        }
        if (!may_manage(c, s[1])) {
            web_fail(c, 403, T(c, "You do not manage this list."));
            return;
        }
        if (n == 3 && g_str_equal(s[2], "members")) {
            page_members(c, s[1]);
            return;
        }
        if (n == 3 && g_str_equal(s[2], "members.csv")) {
            if (post) goto not_allowed;
            page_members_csv(c, s[1]);
            return;
        }
        if ((n == 3 || n == 4) && g_str_equal(s[2], "held")) {
            page_held(c, s[1], n == 4 ? s[3] : NULL);
            return;
        }
        if (n == 3 && g_str_equal(s[2], "settings")) {
            page_settings(c, s[1]);
            return;
        }
        if (n == 3 && g_str_equal(s[2], "import")) {
            page_import(c, s[1]);
            return;
        }
        if (n == 3 && g_str_equal(s[2], "archive.mbox")) {
            if (post) goto not_allowed;
            page_archive_mbox(c, s[1]);
            return;
        }
        if ((n == 3 || n == 4) && g_str_equal(s[2], "templates")) {
            page_templates(c, s[1]);
            return;
        }
        web_fail(c, 404, NULL);
        return;
    }
    if (g_str_equal(s[0], "list") && n >= 2) {
        if (!list_exists(c->inst, s[1])) {   /* web_handle made s[1] a list id */
            web_fail(c, 404, T(c, "There is no such list."));
            return;
        }
        if (n == 2) {
            if (post) goto not_allowed;
            page_list_info(c, s[1]);
            return;
        }
        if (n == 3 && (g_str_equal(s[2], "subscribe") || g_str_equal(s[2], "unsubscribe"))) {
            page_subscribe(c, s[1], s[2]);
            return;
        }
        if (n == 3 && g_str_equal(s[2], "password")) {
            page_password_request(c, s[1]);
            return;
        }
        if (n == 3 && g_str_equal(s[2], "options")) {
            page_options(c, s[1]);
            return;
        }
        if (n == 3 && g_str_equal(s[2], "feed.atom")) {
            if (post) goto not_allowed;
            page_feed(c, s[1]);
            return;
        }
        if (g_str_equal(s[2], "archive")) {
            if (post) goto not_allowed;
            page_archive(c, s[1]);
            return;
        }
    }
    web_fail(c, 404, NULL);
    return;
not_allowed:
    web_fail(c, 405, NULL);
    web_response_header(c->resp, "Allow", allow);
}

WebResponse *
web_handle(Instance *inst, WebRequest *req)
{
    WebCtx c = { 0 };
    const char *m = req->method;
    gboolean head = g_str_equal(m, "HEAD");
    const char *pref;

    if (api_is_path(req->path))
        return api_handle(inst, req);
    c.inst = inst;
    c.req = req;
    c.resp = web_response_new();
    req->params = params_new();
    req->cookies = cookie_parse(g_hash_table_lookup(req->headers, "cookie"));
    c.lang = "en";
    if (req->query && !form_parse_urlencoded(req->params, req->query, strlen(req->query))) {
        web_fail(&c, 400, T(&c, "The address of this page is malformed."));
        goto out;
    }
    pref = pick_lang(req);     /* NULL: no stated preference */
    c.lang = pref ? pref : "en";
    {
        const char *anon = g_hash_table_lookup(req->cookies, ANON_COOKIE);
        if (anon && strlen(anon) == 32 && strspn(anon, "0123456789abcdef") == 32)
            c.anon_id = g_strdup(anon);
    }
    if (!(g_str_equal(m, "GET") || head || g_str_equal(m, "POST"))) {
        web_fail(&c, 405, NULL);
        web_response_header(c.resp, "Allow", "GET, HEAD, POST");
        goto out;
    }
    if (head) {
        g_free(req->method);
        req->method = g_strdup("GET");
    }
    c.seg = path_split(req->path);
    if (!c.seg) {
        web_fail(&c, 404, NULL);
        goto out;
    }
    c.nseg = (int) g_strv_length(c.seg);
    if (inst && c.nseg >= 2 && (g_str_equal(c.seg[0], "list") || g_str_equal(c.seg[0], "admin"))) {
        /* /list/NAME@DOMAIN/... : the segment becomes the list's id
         * (domains.h), or "" when there is no such list */
        char *id = list_resolve(inst, c.seg[1], NULL);
        gboolean site_page = c.nseg == 2 && g_str_equal(c.seg[0], "admin") &&
                             (g_str_equal(c.seg[1], "domains") || g_str_equal(c.seg[1], "site"));
        if (id || !site_page) {
            g_free(c.seg[1]);
            c.seg[1] = id ? id : g_strdup("");
        }
    }
    if (!pref) {
        /* no stated preference: a list's pages speak the list's language */
        char *ll = NULL;
        if (inst && c.nseg >= 2 && (g_str_equal(c.seg[0], "list") || g_str_equal(c.seg[0], "admin")) &&
            list_exists(inst, c.seg[1]))
            ll = list_setting(inst, c.seg[1], "language");
        c.lang = ll && g_str_equal(ll, "ja") ? "ja" : "en";
        g_free(ll);
    }
    if (g_str_equal(req->method, "POST") && !parse_body(inst, req)) {
        web_fail(&c, 400, T(&c, "The form data could not be read."));
        goto out;
    }
    if (!req->form)
        req->form = params_new();
    if (!inst) {
        web_fail(&c, 503, NULL);
        goto out;
    }
    session_load(&c);
    route(&c);
out:
    security_headers(c.resp);
    if (head) {
        g_byte_array_set_size(c.resp->body, 0);
        if (c.resp->stream_data && c.resp->stream_free)
            c.resp->stream_free(c.resp->stream_data);
        c.resp->stream = NULL;
        c.resp->stream_data = NULL;
    }
    session_free(c.sess);
    g_strfreev(c.seg);
    g_free(c.anon_id);
    g_free(c.anon_csrf);
    g_free(c.feed_href);
    return c.resp;
}
