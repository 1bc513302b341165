/* daemon_main.c - main() of kairan-daemon, the long-running services:
 * `kairan-daemon relay|pop3d|imapd|web [--home DIR] [OPTIONS]`.  Users start them
 * as `kairan relay`, `kairan pop3d`, `kairan web`, which exec this program
 * (src/cli/daemons.c). */
#include "config.h"
#include "cli/cli.h"
#include "log.h"
#include "util.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <gmime/gmime.h>

int relay_main(int argc, char **argv);
int pop3d_main(int argc, char **argv);
int web_main(int argc, char **argv);
int imapd_main(int argc, char **argv);

int
main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } daemons[] = { { "relay", relay_main }, { "pop3d", pop3d_main }, { "web", web_main },
                    { "imapd", imapd_main } };
    int status;

    util_umask_private();   /* instance files are 0600, directories 0700 */
    setlocale(LC_ALL, "");
    kairan_set_binary_path(NULL);
    if (argc < 2) {
        fprintf(stderr, "usage: kairan-daemon relay|pop3d|imapd|web [OPTIONS]  (normally run as `kairan relay` etc.)\n");
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(daemons); i++) {
        if (g_str_equal(argv[1], daemons[i].name)) {
            log_set_program(daemons[i].name);
            g_mime_init();
            status = daemons[i].run(argc - 1, argv + 1);
            g_mime_shutdown();
            log_close();
            return status;
        }
    }
    fprintf(stderr, "kairan-daemon: unknown service '%s'\n", argv[1]);
    return EXIT_USAGE;
}
