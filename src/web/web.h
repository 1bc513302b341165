/* web.h - the web interface of kairan, independent of the transport.
 *
 * A front end (src/web/web.c for libmicrohttpd, cgi/kairan_cgi.c for
 * CGI/1.1) fills a WebRequest, calls web_handle(), and writes out the
 * WebResponse.  Everything else - routing, sessions, CSRF, pages - lives
 * behind web_handle() and never sees a socket or an environment. */
#ifndef KAIRAN_WEB_H
#define KAIRAN_WEB_H

#include <glib.h>
#include "instance.h"

/* The largest request body either front end accepts (413 above it),
 * unless [global] web_max_body says otherwise. */
#define WEB_MAX_BODY_DEFAULT (4 * 1024 * 1024)

typedef struct {
    char *method;          /* "GET", "POST", ... */
    char *path;            /* URL path, still percent-encoded, without query */
    char *query;           /* raw query string (may be NULL) */
    GHashTable *headers;   /* lower-case name -> value */
    GByteArray *body;      /* request body (may be empty, never NULL) */
    char *body_file;       /* an upload path's body, spooled by the front end
                              to this file (removed with the request); body
                              is then empty */
    GPtrArray *temp_files; /* files removed with the request (owned paths) */
    char *remote_addr;     /* client address for rate limits (may be NULL) */
    char *base;            /* URL prefix of every link: "" for kairan web,
                              SCRIPT_NAME for CGI */
    gboolean https;        /* the client came over TLS (Secure cookies) */
    /* filled by web_handle */
    GHashTable *params;    /* query parameters: name -> GPtrArray of char* */
    GHashTable *form;      /* POST form fields: name -> GPtrArray of char* */
    GHashTable *cookies;   /* name -> value */
} WebRequest;

/* WebStreamFn - the next at most max bytes of a streamed body; 0 at the end. */
typedef gsize (*WebStreamFn)(gpointer data, guint8 *buf, gsize max);

typedef struct {
    int status;
    GPtrArray *headers;    /* alternating name, value (owned strings) */
    GByteArray *body;
    /* when stream is set the body is produced by it, piece by piece, in
     * the thread (and with the instance) that handled the request; the
     * front end writes it out as it comes and frees stream_data */
    WebStreamFn stream;
    gpointer stream_data;
    GDestroyNotify stream_free;
} WebResponse;

WebRequest *web_request_new(const char *method, const char *path, const char *query);
void web_request_set_header(WebRequest *req, const char *name, const char *value);
void web_request_free(WebRequest *req);

WebResponse *web_response_new(void);
void web_response_header(WebResponse *resp, const char *name, const char *value);
const char *web_response_get_header(const WebResponse *resp, const char *name);
void web_response_free(WebResponse *resp);
const char *web_status_text(int status);

/* web_max_body - the body limit in force for inst. */
gsize web_max_body(const Instance *inst);

/* web_is_upload_path - a path whose body a front end spools to a file
 * (req->body_file) instead of memory: POST /admin/LIST/import. */
gboolean web_is_upload_path(const char *path);
/* web_upload_allowed - whether the session of this Cookie header may
 * manage the list of the upload path: a front end asks before it takes
 * an upload body, so a stranger cannot fill HOME/tmp (403 otherwise). */
gboolean web_upload_allowed(Instance *inst, const char *path, const char *cookie_header);
/* web_upload_file - a new empty file for a spooled body under
 * HOME/tmp, open for writing (*fd); NULL on error (logged). */
char *web_upload_file(const Instance *inst, int *fd);

/* web_body_limit - the body limit for a request to path: web_max_body,
 * for the REST API (/api/) api_max_body, for an upload path
 * [global] web_max_upload. */
gsize web_body_limit(const Instance *inst, const char *path);
/* web_too_large_response - the 413 answer for path (JSON for the API). */
WebResponse *web_too_large_response(const char *path);

/* web_handle - answer one request.  Never NULL. */
WebResponse *web_handle(Instance *inst, WebRequest *req);
/* web_upload_too_large_response - the 413 page of an upload path,
 * naming the limit and the [global] key that sets it; lang is "ja", an
 * Accept-Language header (Japanese when it starts with ja) or NULL. */
WebResponse *web_upload_too_large_response(const Instance *inst, const char *lang);
/* web_error_response - a friendly error page without a request context
 * (used by the front ends for 413 before the body is read). */
WebResponse *web_error_response(int status, const char *lang);


#endif
