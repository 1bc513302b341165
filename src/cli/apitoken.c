/* apitoken.c - `kairan api-token new [--list LIST] [--name TEXT]`,
 * `api-token list`, `api-token revoke ID`: the tokens of the REST API
 * (lib/apitoken.c).  `new` prints the token alone on stdout, once (only
 * its hash is kept), and its id on stderr, so a script can write
 * TOKEN=$(kairan api-token new). */
#include "config.h"
#include "cli.h"
#include "apitoken.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

static char *
fmt_date(gint64 t)
{
    GDateTime *dt;
    char *s;
    if (t <= 0)
        return g_strdup("-");
    dt = g_date_time_new_from_unix_utc(t);
    s = g_date_time_format(dt, "%Y-%m-%d %H:%M");
    g_date_time_unref(dt);
    return s;
}

static int
token_new(int argc, char **argv)
{
    char *list = NULL, *name = NULL, *secret, *bare = NULL;
    GOptionEntry entries[] = {
        { "list", 0, 0, G_OPTION_ARG_STRING, &list, "a token that manages this list only", "LIST" },
        { "name", 0, 0, G_OPTION_ARG_STRING, &name, "a label to tell tokens apart", "TEXT" },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    Instance *inst;
    gint64 id = 0;

    cli_parse(&argc, &argv, "api-token new", NULL,
              "Make a REST API token and print it (once: only its hash is stored).\n"
              "Without --list it is an instance token (every list, list creation and removal).", entries);
    if (argc != 1)
        cli_usage_error("api-token new", "no arguments expected");
    inst = cli_open();
    if (list) {
        bare = g_strdup(list);
        cli_need_list(inst, bare);
    }
    secret = apitoken_new(inst, bare, name, &id, &error);
    if (!secret)
        cli_exit_error(error);
    log_info("api: token %" G_GINT64_FORMAT " made for %s%s%s", id, bare ? bare : "the instance",
             name ? ", " : "", name ? name : "");
    printf("%s\n", secret);
    fprintf(stderr, "API token %" G_GINT64_FORMAT " (%s): shown only now; send it as Authorization: Bearer TOKEN\n",
            id, bare ? bare : "instance");
    memset(secret, 0, strlen(secret));
    g_free(secret);
    g_free(bare);
    g_free(list);
    g_free(name);
    instance_free(inst);
    return 0;
}

static int
token_list(int argc, char **argv)
{
    Instance *inst;
    GPtrArray *a;

    cli_parse(&argc, &argv, "api-token list", NULL, "Show the REST API tokens (never the tokens themselves).", NULL);
    if (argc != 1)
        cli_usage_error("api-token list", "no arguments expected");
    inst = cli_open();
    a = apitoken_list(inst);
    printf("%-4s %-16s %-16s %-16s %-16s %s\n", "ID", "SCOPE", "CREATED", "LAST USED", "REVOKED", "NAME");
    for (guint i = 0; i < a->len; i++) {
        ApiToken *t = a->pdata[i];
        char *c = fmt_date(t->created), *u = fmt_date(t->last_used), *r = fmt_date(t->revoked);
        printf("%-4" G_GINT64_FORMAT " %-16s %-16s %-16s %-16s %s\n", t->id, t->list ? t->list : "(instance)",
               c, u, r, t->name ? t->name : "");
        g_free(c);
        g_free(u);
        g_free(r);
    }
    g_ptr_array_unref(a);
    instance_free(inst);
    return 0;
}

static int
token_revoke(int argc, char **argv)
{
    GError *error = NULL;
    Instance *inst;
    char *end = NULL;
    gint64 id;

    cli_parse(&argc, &argv, "api-token revoke", "ID", "Revoke a REST API token: it is refused (401) from now on.", NULL);
    if (argc != 2)
        cli_usage_error("api-token revoke", "give the token's ID (see api-token list)");
    id = g_ascii_strtoll(argv[1], &end, 10);
    if (!*argv[1] || *end || id <= 0)
        cli_usage_error("api-token revoke", "%s is not a token ID", argv[1]);
    inst = cli_open();
    if (!apitoken_revoke(inst, id, &error))
        cli_exit_error(error);
    log_info("api: token %" G_GINT64_FORMAT " revoked", id);
    printf("API token %" G_GINT64_FORMAT " revoked\n", id);
    instance_free(inst);
    return 0;
}

int
cmd_api_token(int argc, char **argv)
{
    if (argc >= 2 && g_str_equal(argv[1], "new"))
        return token_new(argc - 1, argv + 1);
    if (argc >= 2 && g_str_equal(argv[1], "list"))
        return token_list(argc - 1, argv + 1);
    if (argc >= 2 && g_str_equal(argv[1], "revoke"))
        return token_revoke(argc - 1, argv + 1);
    if (argc >= 2 && (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h"))) {
        printf("Usage: kairan api-token new [--list LIST] [--name TEXT] | list | revoke ID\n\n"
               "Tokens of the REST API (/api/v1/ of kairan web and the CGI).\n"
               "  new      make a token and print it once (--list: it manages that list only)\n"
               "  list     show the tokens: id, scope, dates, name\n"
               "  revoke   refuse a token from now on\n");
        return 0;
    }
    fprintf(stderr, "kairan api-token: give new, list or revoke (see kairan api-token --help)\n");
    return EXIT_USAGE;
}
