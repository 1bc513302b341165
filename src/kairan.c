/* kairan.c - main(): global options (--home, --help, --version) and the
 * dispatch of `kairan SUBCOMMAND ...` to the cmd_* functions. */
#include "config.h"
#include "cli/cli.h"
#include "log.h"
#include "util.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <gmime/gmime.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Subcommand;

static const Subcommand subcommands[] = {
    { "init", cmd_init, "create an instance" },
    { "newlist", cmd_newlist, "create a list, print its alias lines and rewrite HOME/aliases" },
    { "rmlist", cmd_rmlist, "remove a list (its spool is kept in HOME/removed/)" },
    { "aliases", cmd_aliases, "print the aliases of every list and write HOME/aliases and HOME/virtual (--postalias: also their .db)" },
    { "domains", cmd_domains, "show the mail domains" },
    { "domain", cmd_domain, "add or remove a mail domain (domain add D [--web-url U] | domain remove D)" },
    { "lists", cmd_lists, "show the lists" },
    { "members", cmd_members, "show the members of a list" },
    { "subscribe", cmd_subscribe, "add a member" },
    { "unsubscribe", cmd_unsubscribe, "remove a member" },
    { "member-set", cmd_member_set, "show or set a member's options (receive_own_posts, nodupes, vacation...)" },
    { "passwd", cmd_passwd, "set the owner password, or a member's POP3 password" },
    { "config", cmd_config, "show or set list settings" },
    { "template", cmd_template, "show, replace or reset a list's mail templates" },
    { "held", cmd_held, "show held posts" },
    { "approve", cmd_approve, "release a held post" },
    { "reject", cmd_reject, "drop a held post" },
    { "deliver", cmd_deliver, "read one mail on stdin (post, --ctl, --admin)" },
    { "relay", cmd_relay, "SMTP relay and queue runner" },
    { "queue", cmd_queue, "show the queue" },
    { "flush", cmd_flush, "retry every queued message now" },
    { "digest", cmd_digest, "send the digests that are due" },
    { "maintain", cmd_maintain, "run the periodic tasks that are due (for cron; kairan relay runs them too)" },
    { "dkim-keygen", cmd_dkim_keygen, "make a DKIM key, print its DNS TXT record" },
    { "pop3d", cmd_pop3d, "POP3 access to list archives" },
    { "imapd", cmd_imapd, "IMAP access to list archives" },
    { "web", cmd_web, "web management interface" },
    { "api-token", cmd_api_token, "make, show or revoke REST API tokens" },
    { "import", cmd_import, "bring a list in from fml, mlmmj, Mailman 2.1/3 or an mbox" },
    { "export", cmd_export, "write a list's archive as mbox or its members as CSV" },
};

static void
usage(FILE *out)
{
    fprintf(out, "Usage: kairan [--home DIR] SUBCOMMAND [ARGS...]\n\n"
                 "kairan is a mailing-list manager.  Subcommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(subcommands); i++)
        fprintf(out, "  %-12s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\nEvery subcommand takes --help.  The instance is --home DIR, else\n"
                 "$KAIRAN_HOME, else %s.\n", KAIRAN_DEFAULT_HOME);
}

int
main(int argc, char **argv)
{
    int i = 1;
    int status;

    util_umask_private();   /* instance files are 0600, directories 0700 */
    setlocale(LC_ALL, "");
    kairan_set_binary_path(argv[0]);
    while (i < argc && argv[i][0] == '-') {
        if (g_str_equal(argv[i], "--home") && i + 1 < argc) {
            cli_set_home(argv[i + 1]);
            i += 2;
        } else if (g_str_has_prefix(argv[i], "--home=")) {
            cli_set_home(argv[i] + 7);
            i++;
        } else if (g_str_equal(argv[i], "--help") || g_str_equal(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (g_str_equal(argv[i], "--version")) {
            printf("kairan %s\n", PACKAGE_VERSION);
            return 0;
        } else {
            fprintf(stderr, "kairan: unknown option %s\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    for (size_t k = 0; k < G_N_ELEMENTS(subcommands); k++) {
        if (g_str_equal(argv[i], subcommands[k].name)) {
            log_set_program(subcommands[k].name);
            g_mime_init();
            status = subcommands[k].run(argc - i, argv + i);
            g_mime_shutdown();
            log_close();
            return status;
        }
    }
    fprintf(stderr, "kairan: unknown subcommand '%s'\n", argv[i]);
    usage(stderr);
    return EXIT_USAGE;
}
