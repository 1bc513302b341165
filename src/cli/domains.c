/* domains.c - the subcommands domains, domain add and domain remove: the
 * mail domains of the instance (lib/domains.c) from the command line. */
#include "config.h"
#include "cli.h"
#include "domains.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

int
cmd_domains(int argc, char **argv)
{
    Instance *inst;
    GPtrArray *a;

    cli_parse(&argc, &argv, "domains", NULL,
              "Show the mail domains: the default one ([global] domain) first, with each one's\n"
              "number of lists and web URL.", NULL);
    if (argc != 1)
        cli_usage_error("domains", "no arguments expected");
    inst = cli_open();
    a = domain_list(inst);
    for (guint i = 0; i < a->len; i++) {
        Domain *d = a->pdata[i];
        printf("%-32s %4" G_GINT64_FORMAT " list%s  %s%s\n", d->name, d->lists, d->lists == 1 ? " " : "s",
               d->web_url ? d->web_url : "-", d->is_default ? "  (default)" : "");
    }
    g_ptr_array_unref(a);
    instance_free(inst);
    return 0;
}

static int
domain_add_cmd(int argc, char **argv)
{
    char *web_url = NULL, *name;
    GOptionEntry entries[] = {
        { "web-url", 0, 0, G_OPTION_ARG_STRING, &web_url,
          "public base URL of the web interface for this domain's lists (default: [global] web_url)", "U" },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    Instance *inst;

    cli_parse(&argc, &argv, "domain add", "D", "Add a mail domain: kairan newlist NAME@D then makes lists in it.", entries);
    if (argc != 2)
        cli_usage_error("domain add", "give one domain");
    name = g_ascii_strdown(argv[1], -1);
    inst = cli_open();
    if (!domain_add(inst, name, web_url, &error))
        cli_exit_error(error);
    printf("domain %s added%s%s\n", name, web_url ? ", web URL " : "", web_url ? web_url : "");
    instance_free(inst);
    g_free(name);
    g_free(web_url);
    return 0;
}

static int
domain_remove_cmd(int argc, char **argv)
{
    GError *error = NULL;
    Instance *inst;
    char *name;

    cli_parse(&argc, &argv, "domain remove", "D", "Remove a mail domain that has no lists (kairan rmlist them first).", NULL);
    if (argc != 2)
        cli_usage_error("domain remove", "give one domain");
    name = g_ascii_strdown(argv[1], -1);
    inst = cli_open();
    if (!domain_remove(inst, name, &error))
        cli_exit_error(error);
    printf("domain %s removed\n", name);
    instance_free(inst);
    g_free(name);
    return 0;
}

int
cmd_domain(int argc, char **argv)
{
    if (argc >= 2 && g_str_equal(argv[1], "add"))
        return domain_add_cmd(argc - 1, argv + 1);
    if (argc >= 2 && g_str_equal(argv[1], "remove"))
        return domain_remove_cmd(argc - 1, argv + 1);
    if (argc >= 2 && (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h"))) {
        printf("Usage: kairan domain add D [--web-url U] | domain remove D\n"
               "Add or remove a mail domain of the instance (kairan domains shows them).\n");
        return 0;
    }
    fprintf(stderr, "Usage: kairan domain add D [--web-url U] | domain remove D\n");
    return EXIT_USAGE;
}
