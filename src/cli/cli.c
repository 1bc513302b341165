/* cli.c - option handling shared by every subcommand: --home and --help
 * on each, usage errors with exit 64, opening the instance. */
#include "config.h"
#include "cli.h"
#include "log.h"
#include "lists.h"
#include "domains.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *home_option;

void
cli_set_home(const char *home)
{
    g_free(home_option);
    home_option = g_strdup(home);
}

gboolean
cli_home_given(void)
{
    return home_option != NULL;
}

const char *
cli_home(void)
{
    static char *resolved;
    g_free(resolved);
    resolved = instance_home(home_option);
    return resolved;
}

void
cli_usage_error(const char *name, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "kairan %s: %s\nTry 'kairan %s --help'.\n", name, msg, name);
    g_free(msg);
    exit(EXIT_USAGE);
}

void
cli_parse(int *argc, char ***argv, const char *name, const char *params,
          const char *summary, const GOptionEntry *entries)
{
    char *home = NULL;
    GOptionEntry common[] = {
        { "home", 0, 0, G_OPTION_ARG_FILENAME, &home, "the instance directory (default: $KAIRAN_HOME)", "DIR" },
        G_OPTION_ENTRY_NULL
    };
    char *title = g_strdup(params ? params : "");
    char *prgname = g_strdup_printf("kairan %s", name);
    GOptionContext *ctx = g_option_context_new(title);
    GError *error = NULL;

    g_set_prgname(prgname);
    g_free(prgname);
    g_option_context_set_summary(ctx, summary);
    g_option_context_add_main_entries(ctx, common, NULL);
    if (entries)
        g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_help_enabled(ctx, TRUE);
    /* config LIST KEY VALUE: a value may start with '-' */
    if (g_str_equal(name, "config"))
        g_option_context_set_strict_posix(ctx, TRUE);
    if (!g_option_context_parse(ctx, argc, argv, &error)) {
        fprintf(stderr, "kairan %s: %s\nTry 'kairan %s --help'.\n", name, error->message, name);
        exit(EXIT_USAGE);
    }
    if (home) {
        cli_set_home(home);
        g_free(home);
    }
    g_option_context_free(ctx);
    g_free(title);
}

void
cli_exit_error(GError *error)
{
    int status = error->domain == KAIRAN_ERROR && error->code ? error->code : EXIT_SOFTWARE;
    fprintf(stderr, "kairan: %s\n", error->message);
    log_info("error: %s", error->message);
    g_error_free(error);
    exit(status);
}

Instance *
cli_open(void)
{
    GError *error = NULL;
    Instance *inst = instance_open(cli_home(), &error);
    if (!inst)
        cli_exit_error(error);
    log_open_file(inst->home);
    return inst;
}

void
cli_need_list(Instance *inst, char *list)
{
    GError *error = NULL;
    char *id = list_resolve(inst, list, &error);

    if (!id) {
        fprintf(stderr, "kairan: %s\n", error->message);
        g_error_free(error);
        instance_free(inst);
        exit(EXIT_NOUSER);
    }
    /* the id is never longer than what was typed (NAME@<default> -> NAME,
     * the domain lower case), so the argument becomes the id in place */
    g_strlcpy(list, id, strlen(list) + 1);
    g_free(id);
}
