/* cli.h - the subcommands of the kairan binary and their shared option
 * handling (--home, --help on every subcommand). */
#ifndef KAIRAN_CLI_H
#define KAIRAN_CLI_H

#include <glib.h>
#include "instance.h"
#include "incoming.h"

/* cli_parse - parse a subcommand's options (adds --home); prints --help
 * and exits 0, or exits 64 with a message on bad usage.  argv is
 * modified to keep the positional arguments; *argc is updated. */
void cli_parse(int *argc, char ***argv, const char *name, const char *params,
               const char *summary, const GOptionEntry *entries);
/* cli_usage_error - print a usage error for the subcommand and exit 64. */
void cli_usage_error(const char *name, const char *fmt, ...) G_GNUC_PRINTF(2, 3) G_GNUC_NORETURN;
/* cli_open - open the instance chosen by --home/KAIRAN_HOME or exit with
 * the error's status (78 when there is none). */
Instance *cli_open(void);
const char *cli_home(void);
/* cli_home_given - TRUE if --home was given on the command line. */
gboolean cli_home_given(void);
void cli_set_home(const char *home);
/* cli_exit_error - print error, free it, exit with its sysexits code. */
void cli_exit_error(GError *error) G_GNUC_NORETURN;
/* cli_need_list - check that the list NAME or NAME@DOMAIN exists (exit 67
 * otherwise) and turn list, in place, into the list's id (domains.h). */
void cli_need_list(Instance *inst, char *list);

int cmd_init(int argc, char **argv);
int cmd_newlist(int argc, char **argv);
int cmd_rmlist(int argc, char **argv);
int cmd_domains(int argc, char **argv);
int cmd_domain(int argc, char **argv);
int cmd_api_token(int argc, char **argv);
int cmd_aliases(int argc, char **argv);
int cmd_lists(int argc, char **argv);
int cmd_members(int argc, char **argv);
int cmd_subscribe(int argc, char **argv);
int cmd_unsubscribe(int argc, char **argv);
/* member_set.c: kairan member-set LIST ADDR [OPTION VALUE] */
int cmd_member_set(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_held(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_reject(int argc, char **argv);
int cmd_deliver(int argc, char **argv);
int cmd_relay(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_flush(int argc, char **argv);
int cmd_digest(int argc, char **argv);
int cmd_maintain(int argc, char **argv);
int cmd_dkim_keygen(int argc, char **argv);
int cmd_pop3d(int argc, char **argv);
int cmd_imapd(int argc, char **argv);
int cmd_web(int argc, char **argv);
int cmd_template(int argc, char **argv);     /* s12-arch: src/cli/template.c */
/* src/import: kairan import / export */
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* The command-mail job's entry points (src/ctl), which `kairan deliver
 * --ctl` and `--admin` (src/deliver) hand the mail to; the exit status. */
int ctl_process(Incoming *in);
int admin_mail_process(Incoming *in);

#endif
