/* pop3d.c - `kairan pop3d [--listen HOST:PORT] [--listen-tls HOST:PORT]`:
 * the POP3 server that gives members their list's archive (DESIGN.md
 * "POP3"), with STLS on the plain port and, if asked, POP3S (implicit
 * TLS from the first byte, RFC 8314, port 995 by convention).
 *
 * One thread per client, at most pop3_max_clients at once (one more is
 * told "-ERR [SYS/TEMP]" and closed); each session opens its own
 * database connection.  SIGTERM/SIGINT stop the daemon; sessions that
 * have not reached QUIT then apply no deletions (RFC 1939).
 *
 * [global] keys of kairan.conf read here:
 *   pop3_listen          HOST:PORT to listen on (127.0.0.1:1110);
 *                        --listen overrides it.  [::1]:1110 for IPv6.
 *   pop3s_listen         HOST:PORT for POP3S (empty: none); needs
 *                        tls_cert and tls_key.  --listen-tls overrides it.
 *   tls_cert, tls_key    PEM files; when both are set, STLS is offered.
 *   pop3_plaintext_auth  where USER/PASS and AUTH PLAIN are allowed:
 *                        loopback (default: over TLS, or from a loopback
 *                        address), tls (only over TLS), any.
 *   pop3_apop            yes (default) | no.  yes keeps each member's
 *                        POP3 password also as the APOP secret in
 *                        kairan.db (APOP needs the secret itself); no
 *                        keeps only the PBKDF2 hash and offers no APOP.
 *   pop3_login_delay     seconds to wait before a failed login is
 *                        answered (2; fractions allowed).
 *   auth_guard_free, auth_guard_max_delay, auth_guard_forget: the
 *                        guessing guard of every login (lib/authguard.c);
 *                        it replaces pop3_login_failures/pop3_login_window,
 *                        which are no longer read.
 *   pop3_max_clients     sessions at once (100).
 *   pop3_timeout         idle time after which a session is closed
 *                        (10m, the minimum RFC 1939 allows). */
#define _GNU_SOURCE 1     /* accept4 */
#include "config.h"
#include "globals.h"
#include "tlsctx.h"
#include "pop3.h"
#include "cli/cli.h"
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
    const Pop3Config *cfg;
    int fd;
    gboolean implicit_tls;      /* accepted on the POP3S port */
} Job;

static gpointer
session_thread(gpointer data)
{
    Job *job = data;
    Pop3Conn *c = pop3_conn_new(job->fd, job->cfg->timeout_ms);

    if (!job->implicit_tls || pop3_conn_start_tls(c, job->cfg->tls))
        pop3_session_run(job->cfg, c);
    else
        log_info("pop3: TLS handshake with %s failed on the POP3S port", c->peer);
    pop3_conn_free(c);
    OPENSSL_thread_stop();      /* this thread's DRBGs and error queue */
    g_free(job);
    g_atomic_int_dec_and_test(&active_sessions);
    return NULL;
}

static gboolean
load_config(Instance *inst, Pop3Config *cfg, GError **error)
{
    char *v, *cert, *key;

    v = instance_global(inst, "pop3_plaintext_auth");
    if (g_str_equal(v, "loopback"))
        cfg->plaintext = POP3_PLAIN_LOOPBACK;
    else if (g_str_equal(v, "tls"))
        cfg->plaintext = POP3_PLAIN_TLS;
    else if (g_str_equal(v, "any"))
        cfg->plaintext = POP3_PLAIN_ANY;
    else {
        g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG,
                    "pop3_plaintext_auth = %s: use loopback, tls or any", v);
        g_free(v);
        return FALSE;
    }
    g_free(v);

    cfg->fail_delay = instance_global_double(inst, "pop3_login_delay");
    cfg->max_clients = (int) instance_global_int(inst, "pop3_max_clients");
    cfg->timeout_ms = (int) instance_global_int(inst, "pop3_timeout") * 1000;

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
    cfg->hostname = g_strdup(inst->hostname ? inst->hostname : inst->domain);
    return TRUE;
}

int
pop3d_main(int argc, char **argv)
{
    char *listen_opt = NULL, *listen_tls_opt = NULL, *where, *where_tls;
    GOptionEntry entries[] = {
        { "listen", 0, 0, G_OPTION_ARG_STRING, &listen_opt,
          "address to listen on (default: [global] pop3_listen, 127.0.0.1:1110)", "HOST:PORT" },
        { "listen-tls", 0, 0, G_OPTION_ARG_STRING, &listen_tls_opt,
          "address for POP3S, TLS from the first byte (default: [global] pop3s_listen, none)",
          "HOST:PORT" },
        G_OPTION_ENTRY_NULL
    };
    Pop3Config cfg = { 0 };
    GError *error = NULL;
    struct sigaction sa;
    Instance *inst;
    struct pollfd listeners[2];
    int nlisteners = 1;

    cli_parse(&argc, &argv, "pop3d", NULL,
              "POP3 access to list archives (RFC 1939, CAPA, UIDL, TOP, APOP, STLS, AUTH PLAIN).\n"
              "User name ADDRESS/LIST, password set with `kairan passwd LIST ADDRESS`.\n"
              "kairan.conf [global] keys: pop3_listen, pop3s_listen, tls_cert, tls_key,\n"
              "pop3_plaintext_auth (loopback|tls|any), pop3_apop (yes|no),\n"
              "pop3_login_delay (2), auth_guard_free (3), auth_guard_max_delay (15),\n"
              "auth_guard_forget (15m),\n"
              "pop3_max_clients (100), pop3_timeout (10m).", entries);
    if (argc != 1)
        cli_usage_error("pop3d", "no arguments expected");
    inst = cli_open();
    globals_log_problems(inst, "pop3d");
    log_open_file(inst->home);
    if (!load_config(inst, &cfg, &error))
        cli_exit_error(error);
    where = listen_opt ? g_strdup(listen_opt) : instance_global(inst, "pop3_listen");
    where_tls = listen_tls_opt ? g_strdup(listen_tls_opt) : instance_global(inst, "pop3s_listen");
    listeners[0] = (struct pollfd) { netlisten_open(where, &error), POLLIN, 0 };
    if (listeners[0].fd < 0)
        cli_exit_error(error);
    if (where_tls) {
        if (!cfg.tls)
            cli_exit_error(g_error_new(KAIRAN_ERROR, EXIT_CONFIG,
                                       "POP3S on %s needs tls_cert and tls_key in [global] of kairan.conf",
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
    pop3_size_cache_init();
    log_info("pop3d listening on %s%s%s%s", where, cfg.tls ? " (STLS offered)" : "",
             nlisteners > 1 ? ", POP3S on " : "", nlisteners > 1 ? where_tls : "");
    printf("kairan pop3d: listening on %s\n", where);
    if (nlisteners > 1)
        printf("kairan pop3d: POP3S on %s\n", where_tls);
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
            static const char busy[] = "-ERR [SYS/TEMP] too many connections, try later\r\n";
            ssize_t n = write(fd, busy, sizeof(busy) - 1);
            (void) n;
            close(fd);
            log_warn("pop3d: %d sessions already, a connection was turned away", cfg.max_clients);
            continue;
        }
        {
            Job *job = g_new(Job, 1);
            GThread *t;
            job->cfg = &cfg;
            job->fd = fd;
            job->implicit_tls = which == 1;
            g_atomic_int_inc(&active_sessions);
            t = g_thread_try_new("pop3", session_thread, job, &error);
            if (!t) {
                log_warn("pop3d: cannot start a session thread: %s", error->message);
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
    log_info("pop3d stopping (%d sessions open)", g_atomic_int_get(&active_sessions));
    if (g_atomic_int_get(&active_sessions) > 0) {
        /* Sessions still running use cfg, the TLS context and OpenSSL's
         * per-thread state: end the process without freeing or running
         * exit handlers under their feet.  Nothing is lost: a session's
         * DELE marks are applied only at its QUIT. */
        log_close();
        _exit(0);
    }
    g_free(where);
    g_free(where_tls);
    g_free(listen_opt);
    g_free(listen_tls_opt);
    g_free(cfg.home);
    g_free(cfg.hostname);
    if (cfg.tls)
        SSL_CTX_free(cfg.tls);
    /* session threads still running end with the process */
    return 0;
}
