/* fuzz_api.c - libFuzzer harness for the REST API (src/web/api.c): the
 * routing of /api/v1/ paths and query strings, the Bearer header, the
 * content type and the JSON body parsing, through web_handle() as both
 * front ends call it, on an instance with the list "team", an instance
 * token and a list token.  The input is split at NUL bytes into a token
 * choice (first byte: none, instance, list, garbage), a method, a path
 * below /api/v1/, a query string, a Content-Type and the body (the rest).
 * Checks: every answer is a status the API documents; a JSON answer is
 * well-formed and an error answer is exactly {"error": STRING}; no
 * answer ever holds a token; the rate limit is reset between runs and
 * "team" recreated if the input removed it.
 * fuzz-corpus: */
#include "fuzz_common.h"
#include "apitoken.h"
#include "db.h"
#include "web/web.h"

#include <json-glib/json-glib.h>

static Instance *inst;
static char *tok_instance, *tok_list;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    GError *error = NULL;
    fuzz_init_libs();
    inst = fuzz_instance();
    fuzz_newlist(inst, "team", "owner@example.org");
    tok_instance = apitoken_new(inst, NULL, "fuzz", NULL, &error);
    tok_list = apitoken_new(inst, "team", "fuzz list", NULL, &error);
    if (!tok_instance || !tok_list)
        abort();
    return 0;
}

static gboolean
status_known(int s)
{
    static const int ok[] = { 200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 429, 503 };
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++)
        if (s == ok[i])
            return TRUE;
    return FALSE;
}

static void
check_response(WebResponse *resp, gboolean head)
{
    const char *ct = web_response_get_header(resp, "Content-Type");
    if (!status_known(resp->status)) {
        fprintf(stderr, "status %d\n", resp->status);
        abort();
    }
    if (g_strstr_len((const char *) resp->body->data, resp->body->len, tok_instance) ||
        g_strstr_len((const char *) resp->body->data, resp->body->len, tok_list)) {
        fprintf(stderr, "a token in the answer\n");
        abort();
    }
    if (head) {
        /* HEAD: the headers of the answer, never a body (RFC 9110 9.3.2) */
        if (resp->body->len != 0) {
            fprintf(stderr, "a body in the answer to HEAD\n");
            abort();
        }
    } else if (ct && g_str_has_prefix(ct, "application/json")) {
        JsonParser *p = json_parser_new();
        JsonNode *root;
        if (!json_parser_load_from_data(p, (const char *) resp->body->data, resp->body->len, NULL)) {
            fprintf(stderr, "the answer is not JSON\n");
            abort();
        }
        root = json_parser_get_root(p);
        if (!root) {
            fprintf(stderr, "an empty JSON answer\n");
            abort();
        }
        if (resp->status >= 400) {
            JsonObject *o = JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
            if (!o || json_object_get_size(o) != 1 || !json_object_has_member(o, "error") ||
                json_node_get_value_type(json_object_get_member(o, "error")) != G_TYPE_STRING) {
                fprintf(stderr, "an error answer that is not {\"error\": STRING}\n");
                abort();
            }
        }
        g_object_unref(p);
    } else if (resp->status != 204 && !(ct && g_str_equal(ct, "message/rfc822"))) {
        fprintf(stderr, "Content-Type %s for %d\n", ct ? ct : "(none)", resp->status);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **f = fuzz_fields(data, size, 6);
    char *path = g_strconcat("/api/v1/", f[2], NULL);
    WebRequest *req = web_request_new(*f[1] ? f[1] : "GET", path, *f[3] ? f[3] : NULL);
    WebResponse *resp;
    GError *error = NULL;

    switch (f[0][0] % 4) {
    case 1: { char *h = g_strconcat("Bearer ", tok_instance, NULL); web_request_set_header(req, "authorization", h); g_free(h); break; }
    case 2: { char *h = g_strconcat("Bearer ", tok_list, NULL); web_request_set_header(req, "authorization", h); g_free(h); break; }
    case 3: web_request_set_header(req, "authorization", f[0] + 1); break;
    default: break;
    }
    if (*f[4])
        web_request_set_header(req, "content-type", f[4]);
    g_byte_array_append(req->body, (const guint8 *) f[5], (guint) strlen(f[5]));
    resp = web_handle(inst, req);
    check_response(resp, g_ascii_strcasecmp(*f[1] ? f[1] : "GET", "HEAD") == 0);   /* as web.c compares */
    web_response_free(resp);
    web_request_free(req);
    if (!db_exec(inst->db, "DELETE FROM rate_limits", &error))
        abort();
    if (!list_exists(inst, "team"))
        fuzz_newlist(inst, "team", "owner@example.org");
    g_free(path);
    g_strfreev(f);
    return 0;
}
