/* imapd.c - `kairan imapd [--listen HOST:PORT] [--listen-tls HOST:PORT]`:
 * the IMAP server that opens a list's archive as the folder INBOX
 * (DESIGN.md "IMAP"), with STARTTLS on the plain port and, if asked,
 * IMAPS (implicit TLS from the first byte, RFC 8314, port 993 by
 * convention).
 *
 * One thread per client, at most imap_max_clients at once (one more is
 * told "* BYE" and closed); each session opens its own database
 * connection.  A background thread keeps the archives' search index
 * (lib/archive_search.c) up to date.  SIGTERM/SIGINT stop the daemon.  Flags a session changes
 * are in kairan.db at once, so nothing is lost when it ends.
 *
 * [global] keys of kairan.conf read here:
 *   imap_listen          HOST:PORT to listen on (127.0.0.1:1143);
 *                        --listen overrides it.  [::1]:1143 for IPv6.
 *   imaps_listen         HOST:PORT for IMAPS (empty: none); needs
 *                        tls_cert and tls_key.  --listen-tls overrides it.
 *   tls_cert, tls_key    PEM files; when both are set, STARTTLS is offered.
 *   imap_plaintext_auth  where LOGIN and AUTHENTICATE PLAIN are allowed:
 *                        loopback (default: over TLS, or from a loopback
 *                        address), tls (only over TLS), any; elsewhere
 *                        the server announces LOGINDISABLED.
 *   imap_login_delay     seconds to wait before a failed login is
 *                        answered (2; fractions allowed).
 *   imap_max_clients     sessions at once (100).
 *   imap_timeout         idle time after which a session is closed,
 *                        IDLE included (30m, the minimum RFC 3501 allows). */
#define _GNU_SOURCE 1     /* accept4 */
#include "config.h"
#include "globals.h"
#include "tlsctx.h"
#include "imap.h"
#include "cli/cli.h"
#include "archive.h"
#include "lists.h"
#include "log.h"
#include "netlisten.h"
#include "util.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;
static gint active_sessions;

static void
on_signal(int sig)
{
    (void) sig;
    stopping = 1;
}

typedef struct {
    const ImapConfig *cfg;
    int fd;
    gboolean implicit_tls;
} Job;

static gpointer
session_thread(gpointer data)
{
    Job *job = data;

    imap_session_run(job->cfg, job->fd, job->implicit_tls);
    OPENSSL_thread_stop();
    g_free(job);
    g_atomic_int_dec_and_test(&active_sessions);
    return NULL;
}

/* indexer_thread - bring the archives' search index up to date in the
 * background, a few posts at a time (each batch holds the database write
 * lock briefly), so that a client's first SEARCH TEXT does not wait for a
 * whole archive to be indexed. */
static gpointer
indexer_thread(gpointer data)
{
    const ImapConfig *cfg = data;
    GError *error = NULL;
    Instance *inst = instance_open(cfg->home, &error);

    if (!inst) {
        log_warn("imapd: search indexer not started: %s", error->message);
        g_error_free(error);
        return NULL;
    }
    while (!stopping) {
        char **lists = list_names(inst);
        int done = 0;
        for (int i = 0; lists && lists[i] && !stopping; i++)
            if (archive_search_pending(inst, lists[i]) > 0)
                done += imap_search_index(inst, lists[i], 50);
        g_strfreev(lists);
        for (int k = 0; k < (done ? 1 : 40) && !stopping; k++)
            g_usleep(50 * 1000);
    }
    instance_free(inst);
    OPENSSL_thread_stop();
    return NULL;
}

static gboolean
load_config(Instance *inst, ImapConfig *cfg, GError **error)
{
    char *v = instance_global(inst, "imap_plaintext_auth"), *cert, *key;

    if (g_str_equal(v, "tls"))
        cfg->plaintext = IMAP_PLAIN_TLS;
    else if (g_str_equal(v, "any"))
        cfg->plaintext = IMAP_PLAIN_ANY;
    else
        cfg->plaintext = IMAP_PLAIN_LOOPBACK;
    g_free(v);
    cfg->fail_delay = instance_global_double(inst, "imap_login_delay");
    cfg->max_clients = (int) instance_global_int(inst, "imap_max_clients");
    cfg->timeout_ms = (int) instance_global_int(inst, "imap_timeout") * 1000;
    cert = instance_global(inst, "tls_cert");
    key = instance_global(inst, "tls_key");
    if (cert && *cert && key && *key) {
        cfg->tls = tlsctx_server(cert, key, error);
        if (!cfg->tls) {
            g_free(cert);
            g_free(key);
            return FALSE;
        }
    }
    g_free(cert);
    g_free(key);
    cfg->home = g_strdup(inst->home);
    return TRUE;
}

int
imapd_main(int argc, char **argv)
{
    char *listen_opt = NULL, *listen_tls_opt = NULL, *where, *where_tls;
    GOptionEntry entries[] = {
        { "listen", 0, 0, G_OPTION_ARG_STRING, &listen_opt,
          "address to listen on (default: [global] imap_listen, 127.0.0.1:1143)", "HOST:PORT" },
        { "listen-tls", 0, 0, G_OPTION_ARG_STRING, &listen_tls_opt,
          "address for IMAPS, TLS from the first byte (default: [global] imaps_listen, none)",
          "HOST:PORT" },
        G_OPTION_ENTRY_NULL
    };
    ImapConfig cfg = { 0 };
    GError *error = NULL;
    struct sigaction sa;
    Instance *inst;
    struct pollfd listeners[2];
    int nlisteners = 1;

    cli_parse(&argc, &argv, "imapd", NULL,
              "IMAP access to list archives (RFC 3501/9051: the archive is INBOX, read-only,\n"
              "with flags kept per member; STARTTLS, AUTHENTICATE PLAIN, IDLE, SEARCH, SORT, THREAD).\n"
              "User name ADDRESS/LIST, password set with `kairan passwd LIST ADDRESS`.\n"
              "kairan.conf [global] keys: imap_listen, imaps_listen, tls_cert, tls_key,\n"
              "imap_plaintext_auth (loopback|tls|any), imap_login_delay (2),\n"
              "imap_max_clients (100), imap_timeout (30m).", entries);
    if (argc != 1)
        cli_usage_error("imapd", "no arguments expected");
    inst = cli_open();
    globals_log_problems(inst, "imapd");
    log_open_file(inst->home);
    if (!load_config(inst, &cfg, &error))
        cli_exit_error(error);
    where = listen_opt ? g_strdup(listen_opt) : instance_global(inst, "imap_listen");
    where_tls = listen_tls_opt ? g_strdup(listen_tls_opt) : instance_global(inst, "imaps_listen");
    if (where_tls && !*where_tls) {
        g_free(where_tls);
        where_tls = NULL;
    }
    listeners[0] = (struct pollfd) { netlisten_open(where, &error), POLLIN, 0 };
    if (listeners[0].fd < 0)
        cli_exit_error(error);
    if (where_tls) {
        if (!cfg.tls)
            cli_exit_error(g_error_new(KAIRAN_ERROR, EXIT_CONFIG,
                                       "IMAPS on %s needs tls_cert and tls_key in [global] of kairan.conf",
                                       where_tls));
        listeners[1] = (struct pollfd) { netlisten_open(where_tls, &error), POLLIN, 0 };
        if (listeners[1].fd < 0)
            cli_exit_error(error);
        nlisteners = 2;
    }
    instance_free(inst);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    log_info("imapd listening on %s%s%s%s", where, cfg.tls ? " (STARTTLS offered)" : "",
             nlisteners > 1 ? ", IMAPS on " : "", nlisteners > 1 ? where_tls : "");
    {
        GThread *t = g_thread_try_new("imap-index", indexer_thread, &cfg, &error);
        if (t)
            g_thread_unref(t);
        else {
            log_warn("imapd: cannot start the search indexer: %s", error->message);
            g_clear_error(&error);
        }
    }
    printf("kairan imapd: listening on %s\n", where);
    if (nlisteners > 1)
        printf("kairan imapd: IMAPS on %s\n", where_tls);
    fflush(stdout);

    while (!stopping) {
        int fd, which = -1;

        if (poll(listeners, (nfds_t) nlisteners, 500) <= 0)
            continue;
        for (int i = 0; i < nlisteners && which < 0; i++)
            if (listeners[i].revents & POLLIN)
                which = i;
        if (which < 0)
            continue;
        fd = accept4(listeners[which].fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        if (g_atomic_int_get(&active_sessions) >= cfg.max_clients) {
            static const char busy[] = "* BYE [UNAVAILABLE] too many connections, try later\r\n";
            ssize_t n = which == 0 ? write(fd, busy, sizeof(busy) - 1) : 0;
            (void) n;
            close(fd);
            log_warn("imapd: %d sessions already, a connection was turned away", cfg.max_clients);
            continue;
        }
        {
            Job *job = g_new(Job, 1);
            GThread *t;
            job->cfg = &cfg;
            job->fd = fd;
            job->implicit_tls = which == 1;
            g_atomic_int_inc(&active_sessions);
            t = g_thread_try_new("imap", session_thread, job, &error);
            if (!t) {
                log_warn("imapd: cannot start a session thread: %s", error->message);
                g_clear_error(&error);
                g_atomic_int_dec_and_test(&active_sessions);
                close(fd);
                g_free(job);
                continue;
            }
            g_thread_unref(t);
        }
    }
    for (int i = 0; i < nlisteners; i++)
        close(listeners[i].fd);
    log_info("imapd stopping (%d sessions open)", g_atomic_int_get(&active_sessions));
    if (g_atomic_int_get(&active_sessions) > 0) {
        /* sessions still running use cfg and OpenSSL's per-thread state;
         * their flag changes are already in kairan.db */
        log_close();
        _exit(0);
    }
    g_free(where);
    g_free(where_tls);
    g_free(listen_opt);
    g_free(listen_tls_opt);
    g_free(cfg.home);
    if (cfg.tls)
        SSL_CTX_free(cfg.tls);
    return 0;
}
