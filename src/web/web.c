/* web.c - `kairan web [--listen HOST:PORT]`: the web interface served by
 * libmicrohttpd.  A pool of [global] web_threads (default 4) threads, each
 * polling its own connections (epoll or poll, chosen by MHD), runs the
 * requests through web_handle(), so one slow page (a search that indexes,
 * a large post) does not stall the other clients.  Each thread opens the
 * instance itself (its own kairan.conf and SQLite connection, closed when
 * the thread ends): handlers share nothing but the template cache (under
 * a lock in tmpl.c), the log descriptor (one write(2) a line) and GMime,
 * whose parser options are made once before the threads start.  Bounded: at most
 * 128 connections (16 per client address), 30 s idle timeout, request
 * bodies up to [global] web_max_body (4 MiB; api_max_body, 1 MiB, for
 * the REST API under /api/) - larger ones get 413, before the body is
 * read when Content-Length says so.  The body of an upload path (POST
 * /admin/LIST/import, web_is_upload_path) goes to a file under HOME/tmp
 * as it arrives, up to [global] web_max_upload, and a streamed response
 * (the mbox download) is produced by MHD's content reader callback in
 * the connection's own thread.
 *
 * MHD is told not to unescape the URL (an identity unescape callback):
 * web_handle() decodes the path itself, segment by segment, so "%2F" or
 * "%2E%2E" can never turn into a path separator or "..".
 *
 * `kairan web --set-admin-password` reads a password on stdin and stores
 * its hash as the instance admin password (meta web_admin_password_hash)
 * that logs in to every list. */
#include "config.h"
#include "globals.h"
#include "web.h"
#include "cli/cli.h"
#include "crypto.h"
#include "db.h"
#include "message.h"
#include "log.h"
#include "util.h"

#include <microhttpd.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    GByteArray *body;
    gboolean too_big;
    gsize limit;       /* web_body_limit of the URL */
    /* an upload path's body goes to this file instead (web_is_upload_path) */
    char *file;
    int fd;
    gsize spooled;
    gboolean failed;   /* the file could not be made or written */
    gboolean upload;   /* an upload path (its 413 page names web_max_upload) */
} Upload;

/* drop_spool - the spooled body is not wanted: its file goes at once */
static void
drop_spool(Upload *up)
{
    if (up->fd >= 0)
        close(up->fd);
    up->fd = -1;
    if (up->file) {
        unlink(up->file);
        g_free(up->file);
        up->file = NULL;
    }
}

typedef struct {
    Instance *inst;          /* the main thread's (settings, --set-admin-password) */
    gsize max_body;
} Server;

/* the instance of the current MHD thread */
static GPrivate thread_instance = G_PRIVATE_INIT((GDestroyNotify) instance_free);

/* request_instance - the calling thread's own instance, opened on its
 * first request; NULL (logged) if it cannot be opened now. */
static Instance *
request_instance(const Server *srv)
{
    Instance *inst = g_private_get(&thread_instance);
    GError *error = NULL;

    if (inst)
        return inst;
    inst = instance_open(srv->inst->home, &error);
    if (!inst) {
        log_error("web: cannot open the instance: %s", error->message);
        g_error_free(error);
        return NULL;
    }
    g_private_set(&thread_instance, inst);
    return inst;
}

static size_t
no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void) cls;
    (void) c;
    return strlen(s);
}

static enum MHD_Result
add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    web_request_set_header(cls, key, value);
    return MHD_YES;
}

static enum MHD_Result
add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    GString *q = cls;
    (void) kind;
    if (q->len)
        g_string_append_c(q, '&');
    g_string_append(q, key);
    if (value) {
        g_string_append_c(q, '=');
        g_string_append(q, value);
    }
    return MHD_YES;
}

typedef struct {
    WebStreamFn fn;
    gpointer data;
    GDestroyNotify free;
} Stream;

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    Stream *st = cls;
    gsize n = st->fn(st->data, (guint8 *) buf, max);
    (void) pos;
    return n ? (ssize_t) n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void
stream_free(void *cls)
{
    Stream *st = cls;
    if (st->free)
        st->free(st->data);
    g_free(st);
}

static enum MHD_Result
send_response(struct MHD_Connection *conn, WebResponse *wr)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (wr->stream) {
        /* produced as MHD sends it, by this thread (its instance) */
        Stream *st = g_new0(Stream, 1);
        st->fn = wr->stream;
        st->data = wr->stream_data;
        st->free = wr->stream_free;
        wr->stream = NULL;
        wr->stream_data = NULL;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, st, stream_free);
    } else {
        r = MHD_create_response_from_buffer(wr->body->len, wr->body->data, MHD_RESPMEM_MUST_COPY);
    }
    for (guint i = 0; i + 1 < wr->headers->len; i += 2)
        MHD_add_response_header(r, wr->headers->pdata[i], wr->headers->pdata[i + 1]);
    ret = MHD_queue_response(conn, (unsigned) wr->status, r);
    MHD_destroy_response(r);
    return ret;
}

static char *
client_address(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[NI_MAXHOST];
    if (!ci || !ci->client_addr)
        return NULL;
    if (getnameinfo(ci->client_addr, ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                            : sizeof(struct sockaddr_in),
                    host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
        return NULL;
    return g_strdup(host);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    Server *srv = cls;
    Upload *up = *con_cls;
    Instance *inst;
    WebRequest *req;
    WebResponse *resp;
    GString *query;
    enum MHD_Result ret;
    (void) version;

    if (!up) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        gboolean upload = g_ascii_strcasecmp(method, "POST") == 0 && web_is_upload_path(url);
        up = g_new0(Upload, 1);
        up->body = g_byte_array_new();
        up->fd = -1;
        up->upload = upload;
        up->limit = upload ? web_body_limit(srv->inst, url) : MIN(srv->max_body, web_body_limit(srv->inst, url));
        *con_cls = up;
        if (cl && g_ascii_strtoull(cl, NULL, 10) > up->limit) {
            resp = upload ? web_upload_too_large_response(srv->inst, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Language")) : web_too_large_response(url);
            web_response_header(resp, "Connection", "close");
            ret = send_response(conn, resp);
            web_response_free(resp);
            up->too_big = TRUE;
            return ret;
        }
        if (upload) {
            Instance *ti = request_instance(srv);
            if (ti && !web_upload_allowed(ti, url, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Cookie"))) {
                /* not an owner of the list: answered before the body is read */
                resp = web_error_response(403, NULL);
                web_response_header(resp, "Connection", "close");
                ret = send_response(conn, resp);
                web_response_free(resp);
                up->too_big = TRUE;        /* the body, if any, is dropped */
                return ret;
            }
            up->file = ti ? web_upload_file(ti, &up->fd) : NULL;
            up->failed = up->file == NULL;
        }
        return MHD_YES;
    }
    if (*upload_data_size && up->upload && (up->fd >= 0 || up->failed || up->too_big)) {
        /* an upload: straight to its file, never held in memory */
        if (!up->too_big && !up->failed && up->spooled + *upload_data_size <= up->limit) {
            gsize done = 0;
            while (done < *upload_data_size) {
                ssize_t n = write(up->fd, upload_data + done, *upload_data_size - done);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0) {
                    log_error("web: cannot write %s: %s", up->file, n < 0 ? g_strerror(errno) : "short write");
                    up->failed = TRUE;
                    break;
                }
                done += (gsize) n;
            }
            up->spooled += done;
        } else if (!up->failed) {
            up->too_big = TRUE;
        }
        if (up->too_big || up->failed)
            drop_spool(up);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!up->too_big && up->body->len + *upload_data_size <= up->limit)
            g_byte_array_append(up->body, (const guint8 *) upload_data, (guint) *upload_data_size);
        else
            up->too_big = TRUE;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (up->too_big) {
        resp = up->upload ? web_upload_too_large_response(srv->inst, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Language")) : web_too_large_response(url);
        ret = send_response(conn, resp);
        web_response_free(resp);
        return ret;
    }
    if (up->failed) {
        resp = web_error_response(503, NULL);
        ret = send_response(conn, resp);
        web_response_free(resp);
        return ret;
    }
    query = g_string_new(NULL);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, query);
    req = web_request_new(method, url, query->len ? query->str : NULL);
    g_string_free(query, TRUE);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, req);
    g_byte_array_append(req->body, up->body->data, up->body->len);
    if (up->file) {
        close(up->fd);
        up->fd = -1;
        req->body_file = up->file;     /* the request removes it */
        up->file = NULL;
    }
    req->remote_addr = client_address(conn);
    inst = request_instance(srv);
    resp = inst ? web_handle(inst, req) : web_error_response(503, NULL);
    ret = send_response(conn, resp);
    web_response_free(resp);
    web_request_free(req);
    return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    Upload *up = *con_cls;
    (void) cls;
    (void) conn;
    (void) toe;
    if (up) {
        drop_spool(up);
        g_byte_array_unref(up->body);
        g_free(up);
        *con_cls = NULL;
    }
}

/* parse_listen - HOST:PORT or [V6]:PORT into a socket address. */
static struct addrinfo *
parse_listen(const char *spec)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    char *host, *port;
    const char *colon;
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':')
            return NULL;
        host = g_strndup(spec + 1, end - spec - 1);
        port = g_strdup(end + 2);
    } else {
        colon = strrchr(spec, ':');
        if (!colon)
            return NULL;
        host = g_strndup(spec, colon - spec);
        port = g_strdup(colon + 1);
    }
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    if (getaddrinfo(*host ? host : NULL, port, &hints, &res) != 0)
        res = NULL;
    g_free(host);
    g_free(port);
    return res;
}

static int
set_admin_password(void)
{
    GError *error = NULL;
    Instance *inst = cli_open();
    char *pw, *hash;
    if (isatty(0))
        fprintf(stderr, "New admin password: ");
    pw = read_password_fd(0);
    if (!pw || strlen(pw) < 8) {
        fprintf(stderr, "kairan web: the admin password must have at least 8 characters\n");
        g_free(pw);
        instance_free(inst);
        return EXIT_USAGE;
    }
    hash = password_hash(pw);
    memset(pw, 0, strlen(pw));
    g_free(pw);
    if (!db_meta_set(inst->db, "web_admin_password_hash", hash, &error))
        cli_exit_error(error);
    log_info("web: admin password changed");
    printf("admin password set: it logs in to every list of this instance\n");
    g_free(hash);
    instance_free(inst);
    return 0;
}

int
web_main(int argc, char **argv)
{
    char *listen = NULL;
    gboolean set_admin = FALSE;
    GOptionEntry entries[] = {
        { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "address to listen on (default: [global] web_listen, 127.0.0.1:8080)", "HOST:PORT" },
        { "set-admin-password", 0, 0, G_OPTION_ARG_NONE, &set_admin,
          "read the instance admin password (logs in to every list) on stdin, store its hash, exit", NULL },
        G_OPTION_ENTRY_NULL
    };
    struct MHD_Daemon *d;
    struct addrinfo *ai;
    Server srv;
    sigset_t set;
    int sig = 0;
    gint64 threads;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;

    cli_parse(&argc, &argv, "web", NULL,
              "Serve the web management interface (owners, archive, subscribe forms).\n"
              "Log in as a list owner with the list password (kairan passwd LIST),\n"
              "or with the instance admin password (--set-admin-password) for all lists.", entries);
    if (argc != 1)
        cli_usage_error("web", "no arguments expected");
    if (set_admin)
        return set_admin_password();
    srv.inst = cli_open();
    globals_log_problems(srv.inst, "web");
    srv.max_body = web_max_body(srv.inst);
    if (!listen)
        listen = instance_global(srv.inst, "web_listen");
    ai = parse_listen(listen);
    if (!ai)
        cli_usage_error("web", "cannot use listen address '%s' (HOST:PORT)", listen);
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;

    threads = instance_global_int(srv.inst, "web_threads");
    if (threads < 1 || threads > 64)
        threads = 4;
    /* what is made once on first use is made now, before the threads */
    (void) kairan_template_dir();
    (void) message_parser_options();   /* made before the threads start */

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &srv,
                         MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned) threads,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned) 128,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) 16,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
                         MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        log_error("web: cannot listen on %s", listen);
        fprintf(stderr, "kairan web: cannot listen on %s\n", listen);
        instance_free(srv.inst);
        g_free(listen);
        return EXIT_TEMPFAIL;
    }
    log_info("web: listening on %s", listen);
    printf("kairan web: listening on http://%s/\n", listen);
    fflush(stdout);
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
        ;
    log_info("web: stopping (signal %d)", sig);
    MHD_stop_daemon(d);
    instance_free(srv.inst);
    g_free(listen);
    return 0;
}
