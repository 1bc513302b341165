/* daemons.c - `kairan relay`, `kairan pop3d`, `kairan imapd` and `kairan web` hand over to
 * the kairan-daemon program (installed in LIBEXECDIR/kairan/) with execv:
 * same process, same PID, same arguments.  The daemons link OpenSSL's TLS,
 * libmicrohttpd and GnuTLS; keeping them out of the kairan binary keeps
 * the start of every short-lived `kairan deliver` run (one per mail) cheap. */
#include "config.h"
#include "cli.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *
daemon_program(void)
{
    char *dir = g_path_get_dirname(kairan_binary_path());
    char *beside = g_build_filename(dir, "kairan-daemon", NULL);   /* the build tree */
    g_free(dir);
    if (g_file_test(beside, G_FILE_TEST_IS_EXECUTABLE))
        return beside;
    g_free(beside);
    return g_build_filename(KAIRAN_LIBEXECDIR, "kairan-daemon", NULL);
}

static int
exec_daemon(const char *name, int argc, char **argv)
{
    char *prog = daemon_program();
    GPtrArray *args = g_ptr_array_new();
    const char *home_env = g_getenv("KAIRAN_HOME");

    g_ptr_array_add(args, prog);
    g_ptr_array_add(args, (gpointer) name);
    if (cli_home_given())
        g_ptr_array_add(args, g_strconcat("--home=", cli_home(), NULL));
    for (int i = 1; i < argc; i++)
        g_ptr_array_add(args, argv[i]);
    g_ptr_array_add(args, NULL);
    /* the daemon runs `kairan deliver` for mail to the lists: tell it where */
    g_setenv("KAIRAN_BIN", kairan_binary_path(), TRUE);
    (void) home_env;
    fflush(NULL);
    execv(prog, (char **) args->pdata);
    fprintf(stderr, "kairan %s: cannot run %s: %s\n", name, prog, g_strerror(errno));
    return EXIT_SOFTWARE;
}

int cmd_relay(int argc, char **argv) { return exec_daemon("relay", argc, argv); }
int cmd_pop3d(int argc, char **argv) { return exec_daemon("pop3d", argc, argv); }
int cmd_web(int argc, char **argv) { return exec_daemon("web", argc, argv); }
int cmd_imapd(int argc, char **argv) { return exec_daemon("imapd", argc, argv); }
