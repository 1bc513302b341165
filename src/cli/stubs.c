/* stubs.c - subcommands whose module has not landed yet: each answers
 * --help and says that it is not available in this build. */
#include "config.h"
#include "cli.h"
#include "log.h"

#include <stdio.h>

static int
not_yet(int argc, char **argv, const char *name, const char *params, const char *summary)
{
    cli_parse(&argc, &argv, name, params, summary, NULL);
    fprintf(stderr, "kairan %s: not available in this build yet\n", name);
    return EXIT_SOFTWARE;
}

int cmd_dkim_keygen(int argc, char **argv) { return not_yet(argc, argv, "dkim-keygen", "DOMAIN", "Make a DKIM key and print its DNS TXT record."); }
