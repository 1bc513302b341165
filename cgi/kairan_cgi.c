/* kairan_cgi.c - main() of cgi/kairan.cgi: the web interface as a
 * CGI/1.1 program (RFC 3875) for a classic web server.  It builds a
 * WebRequest from REQUEST_METHOD, PATH_INFO, QUERY_STRING, SCRIPT_NAME
 * (the base of every link), CONTENT_TYPE, CONTENT_LENGTH, HTTP_COOKIE,
 * HTTP_* headers and REMOTE_ADDR, reads at most CONTENT_LENGTH bytes of
 * body (413 above [global] web_max_body, or api_max_body for /api/; the
 * body of an upload path goes to a file under HOME/tmp instead, up to
 * web_max_upload), runs web_handle() - the same code as `kairan web` -
 * and prints the response with a Status: line (a streamed response, the
 * mbox download, is written out as it is produced, without a
 * Content-Length).
 * The instance is $KAIRAN_HOME, else the compiled-in default. */
#include "config.h"
#include "web/web.h"
#include "instance.h"
#include "log.h"
#include "util.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gmime/gmime.h>

extern char **environ;

static void
write_response(const WebResponse *resp)
{
    GString *head = g_string_new(NULL);
    g_string_append_printf(head, "Status: %d %s\r\n", resp->status, web_status_text(resp->status));
    for (guint i = 0; i + 1 < resp->headers->len; i += 2)
        g_string_append_printf(head, "%s: %s\r\n", (char *) resp->headers->pdata[i], (char *) resp->headers->pdata[i + 1]);
    if (resp->stream)
        g_string_append(head, "\r\n");
    else
        g_string_append_printf(head, "Content-Length: %u\r\n\r\n", resp->body->len);
    fwrite(head->str, 1, head->len, stdout);
    if (resp->stream) {
        guint8 buf[65536];
        gsize n;
        while ((n = resp->stream(resp->stream_data, buf, sizeof(buf))) > 0)
            if (fwrite(buf, 1, n, stdout) != n)
                break;                  /* the client went away */
    } else if (resp->body->len) {       /* an empty body (204) may have no buffer at all */
        fwrite(resp->body->data, 1, resp->body->len, stdout);
    }
    fflush(stdout);
    g_string_free(head, TRUE);
}

/* spool_body - exactly len bytes of stdin into a new file under HOME/tmp;
 * its path, NULL on an error (logged). */
static char *
spool_body(const Instance *inst, guint64 len)
{
    int fd;
    char *path = web_upload_file(inst, &fd);
    char buf[65536];

    if (!path)
        return NULL;
    for (guint64 got = 0; got < len;) {
        ssize_t n = read(0, buf, (size_t) MIN(sizeof(buf), len - got));
        if (n <= 0)
            break;
        if (write(fd, buf, (size_t) n) != n) {
            log_error("web.cgi: cannot write %s", path);
            close(fd);
            unlink(path);
            g_free(path);
            return NULL;
        }
        got += (guint64) n;
    }
    close(fd);
    return path;
}

/* header_name - HTTP_ACCEPT_LANGUAGE -> accept-language */
static char *
header_name(const char *env_name)
{
    char *h = g_ascii_strdown(env_name + 5, -1);
    g_strdelimit(h, "_", '-');
    return h;
}

int
main(int argc, char **argv)
{
    const char *method = g_getenv("REQUEST_METHOD");
    const char *cl = g_getenv("CONTENT_LENGTH");
    GError *error = NULL;
    Instance *inst;
    WebRequest *req;
    WebResponse *resp;
    char *home;
    guint64 len = cl && *cl ? g_ascii_strtoull(cl, NULL, 10) : 0;
    (void) argc;

    util_umask_private();   /* instance files are 0600, directories 0700 */
    setlocale(LC_ALL, "");
    kairan_set_binary_path(argv[0]);
    log_set_program("web.cgi");
    log_set_stderr(FALSE);
    if (!method) {
        fprintf(stderr, "kairan.cgi: run me from a web server (REQUEST_METHOD is not set)\n");
        return EXIT_USAGE;
    }
    g_mime_init();
    home = instance_home(NULL);
    inst = instance_open(home, &error);
    g_free(home);
    if (!inst) {
        fprintf(stderr, "kairan.cgi: %s\n", error->message);
        g_error_free(error);
        resp = web_error_response(503, NULL);
        write_response(resp);
        web_response_free(resp);
        g_mime_shutdown();
        return 0;
    }
    log_open_file(inst->home);
    if (len > web_body_limit(inst, g_getenv("PATH_INFO"))) {
        resp = web_is_upload_path(g_getenv("PATH_INFO")) ? web_upload_too_large_response(inst, g_getenv("HTTP_ACCEPT_LANGUAGE"))
                                                         : web_too_large_response(g_getenv("PATH_INFO"));
        write_response(resp);
        web_response_free(resp);
        instance_free(inst);
        g_mime_shutdown();
        return 0;
    }
    req = web_request_new(method, g_getenv("PATH_INFO"), g_getenv("QUERY_STRING"));
    g_free(req->base);
    req->base = g_strdup(g_getenv("SCRIPT_NAME") ? g_getenv("SCRIPT_NAME") : "");
    if (g_str_has_suffix(req->base, "/"))
        req->base[strlen(req->base) - 1] = '\0';
    req->remote_addr = g_strdup(g_getenv("REMOTE_ADDR"));
    req->https = g_getenv("HTTPS") && g_ascii_strcasecmp(g_getenv("HTTPS"), "on") == 0;
    for (char **e = environ; *e; e++) {
        char *eq = strchr(*e, '=');
        if (g_str_has_prefix(*e, "HTTP_") && eq) {
            char *n = g_strndup(*e, eq - *e);
            char *h = header_name(n);
            web_request_set_header(req, h, eq + 1);
            g_free(h);
            g_free(n);
        }
    }
    if (g_getenv("CONTENT_TYPE"))
        web_request_set_header(req, "content-type", g_getenv("CONTENT_TYPE"));
    /* exactly CONTENT_LENGTH bytes: the server need not close stdin */
    if (g_ascii_strcasecmp(method, "POST") == 0 && web_is_upload_path(req->path)) {
        if (!web_upload_allowed(inst, req->path, g_getenv("HTTP_COOKIE"))) {
            /* not an owner of the list: answered without reading the body */
            web_request_free(req);
            resp = web_error_response(403, NULL);
            write_response(resp);
            web_response_free(resp);
            instance_free(inst);
            g_mime_shutdown();
            return 0;
        }
        req->body_file = spool_body(inst, len);
        if (!req->body_file) {
            web_request_free(req);
            resp = web_error_response(503, NULL);
            write_response(resp);
            web_response_free(resp);
            instance_free(inst);
            g_mime_shutdown();
            return 0;
        }
        len = 0;
    }
    g_byte_array_set_size(req->body, (guint) len);
    for (guint64 got = 0; got < len;) {
        ssize_t n = read(0, req->body->data + got, (size_t) (len - got));
        if (n <= 0) {
            g_byte_array_set_size(req->body, (guint) got);
            break;
        }
        got += (guint64) n;
    }
    resp = web_handle(inst, req);
    write_response(resp);
    web_response_free(resp);
    web_request_free(req);
    instance_free(inst);
    log_close();
    g_mime_shutdown();
    return 0;
}
