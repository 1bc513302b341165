/* member_set.c - `kairan member-set LIST ADDR [OPTION VALUE]`: show or set
 * a member's own options (lib/memberopts.c: receive_own_posts, nodupes,
 * acknowledge, hide_address, vacation, digest, moderated).  The
 * administrator acts for the member: no confirmation mail. */
#include "config.h"
#include "cli.h"
#include "address.h"
#include "lists.h"
#include "log.h"
#include "memberopts.h"

#include <stdio.h>

static void
print_options(const Member *m)
{
    size_t n = 0;
    const MemberOptDef *defs = memberopts_table(&n);
    for (size_t i = 0; i < n; i++) {
        char *v = memberopts_value(m, &defs[i]);
        printf("%-18s %s\n", defs[i].name, v);
        g_free(v);
    }
}

int
cmd_member_set(int argc, char **argv)
{
    GError *error = NULL;
    const char *why;
    Instance *inst;
    Member *m;
    char *addr, *names, *summary;

    names = memberopts_names(FALSE);
    summary = g_strdup_printf("Show a member's options, or set one (no confirmation).\n"
                              "Options: %s.\n"
                              "VALUE is on|off, for vacation a date YYYY-MM-DD (posts resume on it, UTC) or off.",
                              names);
    cli_parse(&argc, &argv, "member-set", "LIST ADDR [OPTION VALUE]", summary, NULL);
    g_free(summary);
    g_free(names);
    if (argc != 3 && argc < 5)
        cli_usage_error("member-set", "give a list, an address and optionally an option and its value");
    if (!(addr = address_normalize(argv[2], &why)))
        cli_usage_error("member-set", "%s: %s", argv[2], why);
    inst = cli_open();
    cli_need_list(inst, argv[1]);
    if (argc >= 5) {
        char *value = g_strjoinv(" ", argv + 4);
        gboolean ok = memberopts_set(inst, argv[1], addr, argv[3], value, &error);
        g_free(value);
        if (!ok)
            cli_exit_error(error);
        log_info("%s: option %s of <%s> set by the administrator", argv[1], argv[3], addr);
    }
    m = member_get(inst, argv[1], addr);
    if (!m) {
        fprintf(stderr, "kairan member-set: %s is not a member of %s\n", addr, argv[1]);
        instance_free(inst);
        g_free(addr);
        return EXIT_NOUSER;
    }
    print_options(m);
    member_free(m);
    instance_free(inst);
    g_free(addr);
    return 0;
}
