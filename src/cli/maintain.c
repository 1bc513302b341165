/* maintain.c - `kairan maintain [--list LIST] [--task NAME] [--dry-run]
 * [--now] [--tasks]`: the periodic work of lib/maintain.c for cron or
 * the systemd timer (kairan relay runs the same tasks by itself). */
#include "config.h"
#include "cli.h"
#include "log.h"
#include "maintain.h"

#include <stdio.h>

int
cmd_maintain(int argc, char **argv)
{
    char *list = NULL, *task = NULL;
    gboolean dry_run = FALSE, now = FALSE, show = FALSE;
    GOptionEntry entries[] = {
        { "list", 0, 0, G_OPTION_ARG_STRING, &list, "only this list's tasks (no instance-wide task)", "LIST" },
        { "task", 0, 0, G_OPTION_ARG_STRING, &task, "only this task (see --tasks)", "NAME" },
        { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, "say what would be done; change and send nothing", NULL },
        { "now", 0, 0, G_OPTION_ARG_NONE, &now, "run the tasks even if they ran less than their interval ago", NULL },
        { "tasks", 0, 0, G_OPTION_ARG_NONE, &show, "list the tasks and their intervals", NULL },
        G_OPTION_ENTRY_NULL
    };
    MaintainOptions opts = { 0 };
    GString *report = g_string_new(NULL);
    GError *error = NULL;
    Instance *inst;
    size_t n;
    const MaintainTask *t = maintain_tasks(&n);
    int status = 0, ran = 0;

    cli_parse(&argc, &argv, "maintain", NULL,
              "Run the periodic tasks that are due: digests, held-post expiry and the\n"
              "moderators' daily reminder, archive expiry, warnings to and removal of\n"
              "members disabled by bounces, stale bounce scores, expired tokens and sessions.\n"
              "Each task remembers when it last ran (in kairan.db), so running this from\n"
              "cron while kairan relay also runs it does no task twice too soon.", entries);
    if (argc > 1)
        cli_usage_error("maintain", "no arguments expected (use --list LIST)");
    if (show) {
        for (size_t i = 0; i < n; i++)
            printf("%-16s %-9s %6" G_GINT64_FORMAT "s  %s\n", t[i].name, t[i].per_list ? "per list" : "instance",
                   t[i].interval, t[i].help);
        g_string_free(report, TRUE);
        return 0;
    }
    if (task) {
        gboolean known = FALSE;
        for (size_t i = 0; i < n; i++)
            known = known || g_str_equal(t[i].name, task);
        if (!known)
            cli_usage_error("maintain", "no task %s (see kairan maintain --tasks)", task);
    }
    inst = cli_open();
    if (list)
        cli_need_list(inst, list);
    opts.list = list;
    opts.task = task;
    opts.dry_run = dry_run;
    opts.ignore_interval = now;
    if (!maintain_run(inst, &opts, report, &ran, &error)) {
        fprintf(stderr, "kairan maintain: %s\n", error->message);
        status = error->code ? error->code : EXIT_TEMPFAIL;
        g_error_free(error);
    }
    fputs(report->str, stdout);
    g_string_free(report, TRUE);
    instance_free(inst);
    g_free(list);
    g_free(task);
    return status;
}
