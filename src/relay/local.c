/* local.c - mail for a list address, received by SMTP or found in the
 * queue, goes through the very code path an MTA pipe uses: the kairan
 * binary runs `kairan --home HOME deliver [--ctl|--admin] LIST -f SENDER`
 * with the message on stdin and ORIGINAL_RECIPIENT=the envelope recipient
 * in its environment (as Postfix's pipe sets it).  Its sysexits status becomes the SMTP reply:
 * 0 -> 250, 67 -> 550 5.1.1, 65 -> 554 5.6.0, anything else -> 451 4.3.0. */
#define _GNU_SOURCE 1
#include "config.h"
#include "relay.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int
local_deliver(Relay *r, const char *list, const char *mode, const char *sender, const char *rcpt,
              int fd, char **why)
{
    char **envp = g_get_environ();
    const char *argv[12];
    int n = 0, status = 0, errpipe[2], devnull;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dflt;
    pid_t pid;
    GString *err = g_string_new(NULL);
    char buf[1024];
    ssize_t k;

    argv[n++] = kairan_binary_path();
    argv[n++] = "--home";
    argv[n++] = r->inst->home;
    argv[n++] = "deliver";
    if (mode && *mode)
        argv[n++] = mode;
    argv[n++] = list;
    argv[n++] = "-f";
    argv[n++] = sender ? sender : "";
    argv[n] = NULL;
    if (rcpt)
        envp = g_environ_setenv(envp, "ORIGINAL_RECIPIENT", rcpt, TRUE);
    if (why)
        *why = NULL;
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        g_string_free(err, TRUE);
        g_strfreev(envp);
        return EXIT_TEMPFAIL;
    }
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 0);
    posix_spawn_file_actions_adddup2(&fa, devnull, 1);
    posix_spawn_file_actions_adddup2(&fa, errpipe[1], 2);
    /* The relay blocks SIGTERM/SIGINT/SIGHUP (signalfd) and ignores
     * SIGPIPE: the child gets a clean signal state. */
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (posix_spawn(&pid, argv[0], &fa, &attr, (char *const *) argv, envp) != 0) {
        log_error("cannot run %s: %s", argv[0], g_strerror(errno));
        status = EXIT_TEMPFAIL;
        pid = -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    g_strfreev(envp);
    close(errpipe[1]);
    close(devnull);
    while ((k = read(errpipe[0], buf, sizeof(buf))) > 0 || (k < 0 && errno == EINTR))
        if (k > 0 && err->len < 4096)
            g_string_append_len(err, buf, k);
    close(errpipe[0]);
    if (pid > 0) {
        int ws;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
            ;
        status = WIFEXITED(ws) ? WEXITSTATUS(ws) : EXIT_TEMPFAIL;
    }
    g_strstrip(err->str);
    for (char *p = err->str; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (why && err->str[0])
        *why = g_strdup(err->str);
    g_string_free(err, TRUE);
    return status;
}

int
local_status(int status, const char **text)
{
    switch (status) {
    case 0:
        *text = "2.0.0 Ok: delivered to the list";
        return 250;
    case EXIT_NOUSER:
        *text = "5.1.1 No such list";
        return 550;
    case EXIT_DATAERR:
        *text = "5.6.0 Message refused: malformed";
        return 554;
    default:
        *text = "4.3.0 Temporary failure, try again later";
        return 451;
    }
}
