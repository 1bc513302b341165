/* api.h - the REST API under /api/v1/ (api.c), reached through
 * web_handle() by both front ends. */
#ifndef KAIRAN_WEB_API_H
#define KAIRAN_WEB_API_H

#include "web.h"

/* The largest request body of the API unless [global] api_max_body says otherwise. */
#define API_MAX_BODY_DEFAULT (1024 * 1024)

/* api_is_path - TRUE for /api and everything below it. */
gboolean api_is_path(const char *path);
/* api_max_body - [global] api_max_body. */
gsize api_max_body(const Instance *inst);
/* api_handle - answer one API request (JSON).  Never NULL. */
WebResponse *api_handle(Instance *inst, WebRequest *req);
/* api_error_response - {"error": message} with status (the front ends'
 * 413 before the body is read). */
WebResponse *api_error_response(int status, const char *message);

#endif
