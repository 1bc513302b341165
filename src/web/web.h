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
    char *remote_addr;     /* client address for rate limits (may be NULL) */
    char *base;            /* URL prefix of every link: "" for kairan web,
                              SCRIPT_NAME for CGI */
    gboolean https;        /* the client came over TLS (Secure cookies) */
    /* filled by web_handle */
    GHashTable *params;    /* query parameters: name -> GPtrArray of char* */
    GHashTable *form;      /* POST form fields: name -> GPtrArray of char* */
    GHashTable *cookies;   /* name -> value */
} WebRequest;

typedef struct {
    int status;
    GPtrArray *headers;    /* alternating name, value (owned strings) */
    GByteArray *body;
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

/* web_body_limit - the body limit for a request to path: web_max_body,
 * or for the REST API (/api/) api_max_body. */
gsize web_body_limit(const Instance *inst, const char *path);
/* web_too_large_response - the 413 answer for path (JSON for the API). */
WebResponse *web_too_large_response(const char *path);

/* web_handle - answer one request.  Never NULL. */
WebResponse *web_handle(Instance *inst, WebRequest *req);
/* web_error_response - a friendly error page without a request context
 * (used by the front ends for 413 before the body is read). */
WebResponse *web_error_response(int status, const char *lang);


#endif
