/* held.c - the subcommands held, approve and reject: the held posts of a
 * list (lib/held.c) from the command line. */
#include "config.h"
#include "cli.h"
#include "held.h"

#include <stdio.h>

int
cmd_held(int argc, char **argv)
{
    Instance *inst;
    cli_parse(&argc, &argv, "held", "LIST", "Show the posts held for moderation (ID, date, sender, size, subject).", NULL);
    if (argc != 2)
        cli_usage_error("held", "give one list name");
    inst = cli_open();
    cli_need_list(inst, argv[1]);
    held_list_print(inst, argv[1]);
    instance_free(inst);
    return 0;
}

int
cmd_approve(int argc, char **argv)
{
    GError *error = NULL;
    Instance *inst;
    gint64 num = 0;

    cli_parse(&argc, &argv, "approve", "LIST ID", "Release a held post to the list.", NULL);
    if (argc != 3)
        cli_usage_error("approve", "give a list name and a held post ID");
    inst = cli_open();
    cli_need_list(inst, argv[1]);
    if (!held_approve(inst, argv[1], argv[2], &num, &error))
        cli_exit_error(error);
    printf("%s: held post %s distributed as number %" G_GINT64_FORMAT "\n", argv[1], argv[2], num);
    instance_free(inst);
    return 0;
}

int
cmd_reject(int argc, char **argv)
{
    char *reason = NULL;
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        { "reason", 0, 0, G_OPTION_ARG_STRING, &reason, "reason told to the sender", "TEXT" },
        { "quiet", 0, 0, G_OPTION_ARG_NONE, &quiet, "discard without telling the sender", NULL },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    Instance *inst;

    cli_parse(&argc, &argv, "reject", "LIST ID", "Drop a held post (the sender is told, unless --quiet).", entries);
    if (argc != 3)
        cli_usage_error("reject", "give a list name and a held post ID");
    inst = cli_open();
    cli_need_list(inst, argv[1]);
    if (!held_reject(inst, argv[1], argv[2], reason, !quiet, &error))
        cli_exit_error(error);
    printf("%s: held post %s rejected\n", argv[1], argv[2]);
    instance_free(inst);
    g_free(reason);
    return 0;
}
