/* scan.c - the check a post passes before it is accepted (issue 8: a
 * virus or spam checker "between the MTA and the list").  post.c calls
 * scan_post() right after the loop check, before the post policy, so that
 * nothing a scanner refuses is ever held, archived or sent to moderators.
 *
 * CONFIGURATION ([global] in kairan.conf; instance-wide on purpose: a
 * per-list setting could be changed by list owners through command mail,
 * and this one runs a program):
 *   clamd_socket    clamd's socket: a path (unix) or host:port (TCP).  The
 *                   mail is sent with INSTREAM; "... FOUND" refuses it.
 *   filter_command  a program with its arguments (shell-style quoting, no
 *                   shell); the mail as received is on its standard input,
 *                   KAIRAN_LIST, KAIRAN_SENDER, KAIRAN_FROM, KAIRAN_HOME in
 *                   its environment.  Exit 0 accept; 1 refuse, with its
 *                   standard output as the reason told to the sender; 2
 *                   hold for the moderators, stdout as the reason; any
 *                   other status, a signal or the timeout: temporary
 *                   failure (deliver exits 75 and the MTA retries).
 *   filter_timeout  seconds (or 30s, 2m) for clamd and the command (60).
 * clamd runs first, then the command.  A refused sender is told why
 * (template "refused") without the post attached: a virus is not mailed
 * back. */
#include "config.h"
#include "deliver.h"
#include "scan.h"
#include "log.h"
#include "notify.h"
#include "template.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REASON 2000

static gint64
now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static int
clamd_connect(const char *where, int timeout_s, char **why)
{
    int fd = -1;
    struct timeval tv = { timeout_s, 0 };

    if (where[0] == '/') {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        if (strlen(where) >= sizeof(sun.sun_path)) {
            *why = g_strdup_printf("clamd socket path too long: %s", where);
            return -1;
        }
        strcpy(sun.sun_path, where);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
            close(fd);
            fd = -1;
        }
    } else {
        const char *colon = strrchr(where, ':');
        char *host = colon ? g_strndup(where, (gsize) (colon - where)) : g_strdup(where);
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = '\0';
        }
        if (colon && getaddrinfo(host, colon + 1, &hints, &res) == 0) {
            for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
                fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd >= 0) {
                    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                        close(fd);
                        fd = -1;
                    }
                }
            }
            freeaddrinfo(res);
        }
        g_free(host);
    }
    if (fd < 0) {
        *why = g_strdup_printf("cannot connect to clamd at %s: %s", where, g_strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static gboolean
send_all(int fd, const void *data, gsize len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        p += n;
        len -= (gsize) n;
    }
    return TRUE;
}

ScanVerdict
scan_clamd(const char *where, const guint8 *data, gsize len, int timeout_s, char **reason)
{
    char *why = NULL;
    int fd = clamd_connect(where, timeout_s, &why);
    GString *reply;
    ScanVerdict v;
    char buf[512];

    if (fd < 0) {
        *reason = why;
        return SCAN_TEMPFAIL;
    }
    if (!send_all(fd, "zINSTREAM", 10))
        goto ioerr;
    for (gsize off = 0; off < len; off += 65536) {
        guint32 n = (guint32) MIN((gsize) 65536, len - off), be = GUINT32_TO_BE(n);
        if (!send_all(fd, &be, 4) || !send_all(fd, data + off, n))
            goto ioerr;
    }
    {
        guint32 zero = 0;
        if (!send_all(fd, &zero, 4))
            goto ioerr;
    }
    reply = g_string_new(NULL);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || memchr(buf, '\0', (size_t) n)) {
            if (n > 0)
                g_string_append_len(reply, buf, n);
            break;
        }
        g_string_append_len(reply, buf, n);
    }
    close(fd);
    g_strstrip(reply->str);
    if (g_str_has_suffix(reply->str, " OK")) {
        v = SCAN_ACCEPT;
    } else if (g_str_has_suffix(reply->str, " FOUND")) {
        const char *name = strstr(reply->str, ": ");
        char *virus = g_strndup(name ? name + 2 : reply->str,
                                strlen(name ? name + 2 : reply->str) - strlen(" FOUND"));
        *reason = g_strdup_printf("the virus scanner found %s in the post", virus);
        g_free(virus);
        v = SCAN_REJECT;
    } else {
        *reason = g_strdup_printf("clamd at %s answered: %s", where, *reply->str ? reply->str : "(nothing)");
        v = SCAN_TEMPFAIL;
    }
    g_string_free(reply, TRUE);
    return v;
ioerr:
    *reason = g_strdup_printf("clamd at %s: %s", where, g_strerror(errno));
    close(fd);
    return SCAN_TEMPFAIL;
}

static void
child_setup(gpointer data)
{
    setpgid(0, 0);           /* so that a timeout kills the whole group */
}

ScanVerdict
scan_command(const char *command, const guint8 *data, gsize len, char **env_extra,
             int timeout_s, char **reason)
{
    char **argv = NULL, **envp;
    GError *e = NULL;
    GPid pid;
    int in_fd, out_fd, err_fd, status = 0;
    GString *out = g_string_new(NULL), *err = g_string_new(NULL);
    gsize written = 0;
    gint64 deadline = now_ms() + (gint64) timeout_s * 1000;
    gboolean timed_out = FALSE, reaped = FALSE;
    ScanVerdict v;
    void (*old_pipe)(int);

    if (!g_shell_parse_argv(command, NULL, &argv, &e)) {
        *reason = g_strdup_printf("[global] filter_command: %s", e->message);
        g_error_free(e);
        g_string_free(out, TRUE);
        g_string_free(err, TRUE);
        return SCAN_TEMPFAIL;
    }
    envp = g_get_environ();
    for (int i = 0; env_extra && env_extra[i] && env_extra[i + 1]; i += 2)
        envp = g_environ_setenv(envp, env_extra[i], env_extra[i + 1], TRUE);
    if (!g_spawn_async_with_pipes(NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                  child_setup, NULL, &pid, &in_fd, &out_fd, &err_fd, &e)) {
        *reason = g_strdup_printf("filter_command %s: %s", argv[0], e->message);
        g_error_free(e);
        g_strfreev(argv);
        g_strfreev(envp);
        g_string_free(out, TRUE);
        g_string_free(err, TRUE);
        return SCAN_TEMPFAIL;
    }
    old_pipe = signal(SIGPIPE, SIG_IGN);
    fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
    if (len == 0) {
        close(in_fd);
        in_fd = -1;
    }
    while (out_fd >= 0 || err_fd >= 0 || in_fd >= 0) {
        struct pollfd p[3];
        int n = 0, left = (int) (deadline - now_ms());
        if (left <= 0) {
            timed_out = TRUE;
            break;
        }
        if (in_fd >= 0)
            p[n++] = (struct pollfd) { in_fd, POLLOUT, 0 };
        if (out_fd >= 0)
            p[n++] = (struct pollfd) { out_fd, POLLIN, 0 };
        if (err_fd >= 0)
            p[n++] = (struct pollfd) { err_fd, POLLIN, 0 };
        if (poll(p, (nfds_t) n, left) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            if (!p[i].revents)
                continue;
            if (p[i].fd == in_fd) {
                ssize_t w = write(in_fd, data + written, MIN(len - written, (gsize) 65536));
                if (w > 0)
                    written += (gsize) w;
                if (w < 0 && errno != EINTR && errno != EAGAIN)
                    written = len;          /* the filter stopped reading: fine */
                if (written >= len) {
                    close(in_fd);
                    in_fd = -1;
                }
            } else {
                char buf[4096];
                ssize_t r = read(p[i].fd, buf, sizeof(buf));
                GString *s = p[i].fd == out_fd ? out : err;
                if (r > 0) {
                    if (s->len < 65536)
                        g_string_append_len(s, buf, r);
                } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                    close(p[i].fd);
                    if (p[i].fd == out_fd)
                        out_fd = -1;
                    else
                        err_fd = -1;
                }
            }
        }
    }
    for (gulong pause = 100; !timed_out && !reaped; pause = MIN(pause * 2, 20000)) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            reaped = TRUE;
        else if (r < 0 && errno != EINTR)
            break;
        else if (now_ms() >= deadline)
            timed_out = TRUE;
        else
            g_usleep(pause);
    }
    if (timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    signal(SIGPIPE, old_pipe);
    for (int *fd = (int[]) { in_fd, out_fd, err_fd, -2 }; *fd != -2; fd++)
        if (*fd >= 0)
            close(*fd);
    g_spawn_close_pid(pid);

    g_strstrip(out->str);
    g_strstrip(err->str);
    if (err->len)
        log_info("filter_command %s said on stderr: %.500s", argv[0], err->str);
    if (out->len > MAX_REASON)
        g_string_truncate(out, MAX_REASON);
    if (timed_out) {
        *reason = g_strdup_printf("filter_command %s did not finish within %d s", argv[0], timeout_s);
        v = SCAN_TEMPFAIL;
    } else if (!reaped || !WIFEXITED(status)) {
        *reason = g_strdup_printf("filter_command %s was killed (signal %d)", argv[0],
                                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        v = SCAN_TEMPFAIL;
    } else if (WEXITSTATUS(status) == 0) {
        v = SCAN_ACCEPT;
    } else if (WEXITSTATUS(status) == 1) {
        *reason = out->len ? g_strdup(out->str) : g_strdup("the list's filter refused the post");
        v = SCAN_REJECT;
    } else if (WEXITSTATUS(status) == 2) {
        *reason = out->len ? g_strdup(out->str) : g_strdup("the list's filter held the post for the moderators");
        v = SCAN_HOLD;
    } else {
        *reason = g_strdup_printf("filter_command %s exited with status %d%s%s", argv[0], WEXITSTATUS(status),
                                  out->len ? ": " : "", out->str);
        v = SCAN_TEMPFAIL;
    }
    g_string_free(out, TRUE);
    g_string_free(err, TRUE);
    g_strfreev(argv);
    g_strfreev(envp);
    return v;
}

ScanVerdict
scan_post(Incoming *in, char **reason)
{
    char *clamd = instance_global(in->inst, "clamd_socket");
    char *command = instance_global(in->inst, "filter_command");
    int timeout_s = (int) instance_global_int(in->inst, "filter_timeout");
    ScanVerdict v = SCAN_ACCEPT;
    /* s12-mod: without the Approved: password when one was taken out */
    const GByteArray *raw = in->stored ? in->stored : in->raw;

    *reason = NULL;
    if (timeout_s <= 0)
        timeout_s = 60;
    if (clamd)
        v = scan_clamd(clamd, raw->data, raw->len, timeout_s, reason);
    if (v == SCAN_ACCEPT && command) {
        char *env[] = {
            "KAIRAN_LIST", in->list, "KAIRAN_SENDER", in->envelope_sender,
            "KAIRAN_FROM", in->from_addr ? in->from_addr : "", "KAIRAN_HOME", in->inst->home, NULL, NULL,
        };
        v = scan_command(command, raw->data, raw->len, env, timeout_s, reason);
    }
    if (v != SCAN_ACCEPT)
        log_info("%s: scan of the post from <%s>: %s: %s", in->list, in->envelope_sender,
                 v == SCAN_REJECT ? "refuse" : v == SCAN_HOLD ? "hold" : "temporary failure",
                 *reason ? *reason : "");
    g_free(clamd);
    g_free(command);
    return v;
}
