/* admin.c - the administration subcommands: init, newlist, aliases,
 * lists, members, subscribe, unsubscribe, passwd, config. */
#include "config.h"
#include "cli.h"
#include "address.h"
#include "aliases.h"
#include "crypto.h"
#include "db.h"
#include "lists.h"
#include "domains.h"
#include "log.h"
#include "queue.h"
#include "settings.h"
#include "globals.h"
#include "util.h"
#include "popbeforesmtp.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <glib/gstdio.h>

int
cmd_init(int argc, char **argv)
{
    char *domain = NULL;
    GOptionEntry entries[] = {
        { "domain", 0, 0, G_OPTION_ARG_STRING, &domain, "the mail domain of the lists", "D" },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    Instance *inst;
    char *d;
    GStatBuf st;
    unsigned open_home = 0;

    cli_parse(&argc, &argv, "init", NULL, "Create an instance (kairan.conf, kairan.db, spool/, queue/).", entries);
    if (argc > 1)
        cli_usage_error("init", "unexpected argument %s", argv[1]);
    if (!domain) {
        char host[256] = "localhost";
        gethostname(host, sizeof(host) - 1);
        domain = g_strdup(host);
    }
    d = g_ascii_strdown(domain, -1);
    {
        char *probe = g_strconcat("x@", d, NULL);
        char *ok = address_normalize(probe, NULL);
        g_free(probe);
        if (!ok)
            cli_usage_error("init", "'%s' is not a valid domain", domain);
        g_free(ok);
    }
    /* an existing HOME is left as it is, but its files are private only
     * if the directory is (kairan.conf, the database with the token key) */
    if (g_stat(cli_home(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        open_home = st.st_mode & 07777;
    inst = instance_create(cli_home(), d, &error);
    if (!inst)
        cli_exit_error(error);
    log_open_file(inst->home);
    log_info("instance created at %s for %s", inst->home, inst->domain);
    if (open_home) {
        log_warn("%s is open to other users (mode %04o): make it private with chmod 700 %s",
                 inst->home, open_home, inst->home);
    }
    printf("kairan instance at %s (domain %s)\n", inst->home, inst->domain);
    instance_free(inst);
    g_free(d);
    g_free(domain);
    return 0;
}

/* the alias maps are lib's (aliases.c): the web and the API write them too */
static void
append_alias_lines(GString *out, const Instance *inst, const char *list)
{
    aliases_append_lines(out, inst, list);
}

static void
append_virtual_lines(GString *out, const Instance *inst, const char *list)
{
    aliases_append_virtual_lines(out, inst, list);
}

/* write_alias_map - HOME/aliases and HOME/virtual, and postalias/postmap
 * when [global] aliases_postalias says so. */
static gboolean
write_alias_map(const Instance *inst, GError **error)
{
    return aliases_update(inst, error);
}

/* run_postalias - postalias HOME/aliases and postmap HOME/virtual. */
static int
run_postalias(const Instance *inst, const char *postfix_conf)
{
    GError *error = NULL;
    if (!aliases_postalias(inst, postfix_conf, &error)) {
        fprintf(stderr, "kairan aliases: %s\n", error->message);
        g_error_free(error);
        return EXIT_TEMPFAIL;
    }
    return 0;
}

int
cmd_newlist(int argc, char **argv)
{
    char *owner = NULL, *password_file = NULL;
    GOptionEntry entries[] = {
        { "owner", 0, 0, G_OPTION_ARG_STRING, &owner, "owner address", "ADDR" },
        { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_file, "file holding the owner password (first line)", "F" },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    char *owner_norm = NULL, *hash = NULL, *id;
    const char *why;
    Instance *inst;
    GString *out;

    cli_parse(&argc, &argv, "newlist", "LIST",
              "Create a list (NAME, or NAME@DOMAIN of a domain added with kairan domain add),\n"
              "write HOME/aliases and HOME/virtual and print the list's lines of them.\n"
              "Postfix reads the maps only after kairan aliases --postalias.", entries);
    if (argc != 2)
        cli_usage_error("newlist", "give exactly one list name");
    {
        char *name = list_name(argv[1]);
        if (!list_name_valid(name, &why))
            cli_usage_error("newlist", "%s: %s", argv[1], why);
        g_free(name);
    }
    if (owner && !(owner_norm = address_normalize(owner, &why)))
        cli_usage_error("newlist", "owner %s: %s", owner, why);
    if (password_file) {
        char *text = NULL;
        if (!g_file_get_contents(password_file, &text, NULL, &error))
            cli_usage_error("newlist", "%s", error->message);
        g_strdelimit(text, "\r\n", '\0');
        if (!*text)
            cli_usage_error("newlist", "the password file is empty");
        hash = password_hash(text);
        memset(text, 0, strlen(text));
        g_free(text);
    }
    inst = cli_open();
    if (!(id = list_id_for(inst, argv[1], &error)) || !list_create(inst, id, owner_norm, hash, &error))
        cli_exit_error(error);
    if (!write_alias_map(inst, &error))
        cli_exit_error(error);
    log_info("list %s created (owner %s)", id, owner_norm ? owner_norm : "none");
    out = g_string_new(NULL);
    append_alias_lines(out, inst, id);
    if (strchr(id, '@')) {
        g_string_append(out, "# HOME/virtual:\n");
        append_virtual_lines(out, inst, id);
    }
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
    g_free(id);
    instance_free(inst);
    g_free(owner_norm);
    g_free(hash);
    g_free(owner);
    g_free(password_file);
    return 0;
}

/* cmd_rmlist - `kairan rmlist LIST [--purge]` (lib list_remove): the
 * list's rows go in one transaction, its spool moves to HOME/removed/
 * (or is deleted with --purge), and the alias map is written again;
 * mail to the list afterwards gets 67 (unknown user). */
int
cmd_rmlist(int argc, char **argv)
{
    gboolean purge = FALSE;
    GOptionEntry entries[] = {
        { "purge", 0, 0, G_OPTION_ARG_NONE, &purge, "delete the spool (archive, held posts) instead of keeping it in HOME/removed/", NULL },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    Instance *inst;
    char *moved = NULL, *list;

    cli_parse(&argc, &argv, "rmlist", "LIST",
              "Remove a list: its members, settings, tokens, held posts and aliases.\n"
              "Its spool (archive, held posts) moves to HOME/removed/NAME@DOMAIN-DATE/ unless --purge.", entries);
    if (argc != 2)
        cli_usage_error("rmlist", "give exactly one list name");
    inst = cli_open();
    list = g_strdup(argv[1]);
    cli_need_list(inst, list);
    if (!list_remove(inst, list, purge, &moved, &error))
        cli_exit_error(error);
    if (!write_alias_map(inst, &error)) {
        fprintf(stderr, "kairan rmlist: list removed, but the alias map was not written: %s\n", error->message);
        g_clear_error(&error);
    }
    if (moved)
        printf("list %s removed; its spool is now %s\n", list, moved);
    else
        printf("list %s removed%s\n", list, purge ? " and its spool deleted" : "");
    g_free(moved);
    g_free(list);
    instance_free(inst);
    return 0;
}

int
cmd_aliases(int argc, char **argv)
{
    gboolean postalias = FALSE, write_map = TRUE;
    char *postfix_conf = NULL;
    GOptionEntry entries[] = {
        { "postalias", 0, 0, G_OPTION_ARG_NONE, &postalias, "also run postalias on HOME/aliases and postmap on HOME/virtual (as the kairan user)", NULL },
        { "write", 0, 0, G_OPTION_ARG_NONE, &write_map, "write HOME/aliases and HOME/virtual (always done; accepted for scripts)", NULL },
        { "postfix-config", 0, 0, G_OPTION_ARG_FILENAME, &postfix_conf, "Postfix configuration directory for postalias -c", "DIR" },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    Instance *inst;
    char **lists;
    GString *out = g_string_new(NULL);
    int status = 0;

    (void) write_map;
    cli_parse(&argc, &argv, "aliases", NULL,
              "Print the aliases of every list and write them to HOME/aliases,\n"
              "the alias map for Postfix's alias_maps (hash:HOME/aliases), and the lists of\n"
              "the other domains to HOME/virtual, for virtual_alias_maps (hash:HOME/virtual).", entries);
    inst = cli_open();
    lists = list_names(inst);
    for (int i = 0; lists[i]; i++)
        append_alias_lines(out, inst, lists[i]);
    for (int i = 0, first = 1; lists[i]; i++) {
        if (strchr(lists[i], '@') && first) {
            g_string_append(out, "# HOME/virtual:\n");
            first = 0;
        }
        append_virtual_lines(out, inst, lists[i]);
    }
    fputs(out->str, stdout);
    if (!write_alias_map(inst, &error))
        cli_exit_error(error);
    if (postalias)
        status = run_postalias(inst, postfix_conf);
    g_string_free(out, TRUE);
    g_strfreev(lists);
    instance_free(inst);
    g_free(postfix_conf);
    return status;
}

int
cmd_lists(int argc, char **argv)
{
    gboolean verbose = FALSE;
    GOptionEntry entries[] = {
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "show members and posts", NULL },
        G_OPTION_ENTRY_NULL
    };
    Instance *inst;
    char **lists;

    cli_parse(&argc, &argv, "lists", NULL, "Show the lists of the instance.", entries);
    inst = cli_open();
    lists = list_names(inst);
    for (int i = 0; lists[i]; i++) {
        if (verbose)
            printf("%-24s %6" G_GINT64_FORMAT " members %6" G_GINT64_FORMAT " posts\n", lists[i],
                   member_count(inst, lists[i]), list_last_number(inst, lists[i]));
        else
            printf("%s\n", lists[i]);
    }
    g_strfreev(lists);
    instance_free(inst);
    return 0;
}

/* vacation_date - YYYY-MM-DD (UTC) of t, in a static buffer (one printf). */
static const char *
vacation_date(gint64 t)
{
    static char buf[32];
    GDateTime *dt = g_date_time_new_from_unix_utc(t);
    char *s = g_date_time_format(dt, "%Y-%m-%d");
    g_strlcpy(buf, s, sizeof(buf));
    g_free(s);
    g_date_time_unref(dt);
    return buf;
}

int
cmd_members(int argc, char **argv)
{
    gboolean verbose = FALSE;
    GOptionEntry entries[] = {
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "show each member's settings", NULL },
        G_OPTION_ENTRY_NULL
    };
    Instance *inst;
    GPtrArray *members;

    cli_parse(&argc, &argv, "members", "LIST", "Show the members of a list.", entries);
    if (argc != 2)
        cli_usage_error("members", "give one list name");
    inst = cli_open();
    cli_need_list(inst, argv[1]);
    members = member_list(inst, argv[1]);
    for (guint i = 0; i < members->len; i++) {
        Member *m = members->pdata[i];
        if (!verbose) {
            printf("%s\n", m->address);
            continue;
        }
        printf("%s%s%s%s%s%s%s%s%s%s%s%s%s\n", m->address,
               m->post_only ? " post-only" : "",
               m->nomail && !m->post_only ? " nomail" : "",
               m->digest ? " digest" : "",
               m->moderated ? " moderated" : "",
               m->disabled_reason ? " disabled:" : "",
               m->disabled_reason ? m->disabled_reason : "",
               !m->receive_own ? " no-own-posts" : "",       /* member options: kairan member-set */
               m->nodupes ? " nodupes" : "",
               m->acknowledge ? " acknowledge" : "",
               m->hide_address ? " hidden" : "",
               m->vacation_until > now_seconds() ? " vacation-until:" : "",
               m->vacation_until > now_seconds() ? vacation_date(m->vacation_until) : "");
    }
    g_ptr_array_unref(members);
    instance_free(inst);
    return 0;
}

int
cmd_subscribe(int argc, char **argv)
{
    char *name = NULL;
    gboolean nomail = FALSE, digest = FALSE;
    GOptionEntry entries[] = {
        { "name", 0, 0, G_OPTION_ARG_STRING, &name, "the member's name", "NAME" },
        { "nomail", 0, 0, G_OPTION_ARG_NONE, &nomail, "a post-only address: may post, gets no mail", NULL },
        { "digest", 0, 0, G_OPTION_ARG_NONE, &digest, "deliver digests instead of each post", NULL },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    const char *why;
    gboolean existed;
    Instance *inst;
    char *addr;

    cli_parse(&argc, &argv, "subscribe", "LIST ADDR", "Add a member to a list (no confirmation).", entries);
    if (argc != 3)
        cli_usage_error("subscribe", "give a list name and an address");
    if (!(addr = address_normalize(argv[2], &why)))
        cli_usage_error("subscribe", "%s: %s", argv[2], why);
    inst = cli_open();
    cli_need_list(inst, argv[1]);
    if (!member_add(inst, argv[1], addr, name, nomail, &existed, &error))
        cli_exit_error(error);
    if (digest && !member_set_flag(inst, argv[1], addr, "digest", TRUE, &error))
        cli_exit_error(error);
    log_info("%s: %s %s by the administrator", argv[1], addr, existed ? "updated" : "subscribed");
    printf("%s: %s %s\n", argv[1], addr, existed ? "was already a member (updated)" : "subscribed");
    instance_free(inst);
    g_free(addr);
    g_free(name);
    return 0;
}

int
cmd_unsubscribe(int argc, char **argv)
{
    GError *error = NULL;
    const char *why;
    Instance *inst;
    char *addr;

    cli_parse(&argc, &argv, "unsubscribe", "LIST ADDR", "Remove a member from a list.", NULL);
    if (argc != 3)
        cli_usage_error("unsubscribe", "give a list name and an address");
    if (!(addr = address_normalize(argv[2], &why)))
        cli_usage_error("unsubscribe", "%s: %s", argv[2], why);
    inst = cli_open();
    cli_need_list(inst, argv[1]);
    if (!member_remove(inst, argv[1], addr, &error))
        cli_exit_error(error);
    log_info("%s: %s unsubscribed by the administrator", argv[1], addr);
    printf("%s: %s unsubscribed\n", argv[1], addr);
    instance_free(inst);
    g_free(addr);
    return 0;
}

int
cmd_passwd(int argc, char **argv)
{
    GError *error = NULL;
    Instance *inst;
    g_autofree char *password = NULL, *hash = NULL, *addr = NULL;
    const char *why;
    gboolean ok;

    cli_parse(&argc, &argv, "passwd", "LIST [ADDR]",
              "Set the list owner password, or with ADDR a member's POP3 password.\n"
              "The password is read from the first line of standard input.", NULL);
    if (argc != 2 && argc != 3)
        cli_usage_error("passwd", "give a list name and optionally a member address");
    if (argc == 3 && !(addr = address_normalize(argv[2], &why)))
        cli_usage_error("passwd", "%s: %s", argv[2], why);
    inst = cli_open();
    cli_need_list(inst, argv[1]);
    if (isatty(0))
        fprintf(stderr, "New password: ");
    password = read_password_fd(0);
    if (strlen(password) < 4) {
        fprintf(stderr, "kairan passwd: the password must have at least 4 characters\n");
        instance_free(inst);
        return EXIT_USAGE;
    }
    hash = password_hash(password);
    if (addr) {
        if (!member_is(inst, argv[1], addr)) {
            fprintf(stderr, "kairan passwd: %s is not a member of %s\n", addr, argv[1]);
            instance_free(inst);
            return EXIT_NOUSER;
        }
        ok = member_set_pop_password(inst, argv[1], addr, password, &error);
    } else {
        ok = list_set_password_hash(inst, argv[1], hash, &error);
    }
    memset(password, 0, strlen(password));
    if (!ok)
        cli_exit_error(error);
    log_info("%s: password changed for %s", argv[1], addr ? addr : "the owners");
    popbeforesmtp_end(inst, argv[1], addr);
    printf("%s: password set for %s\n", argv[1], addr ? addr : "the list owners");
    instance_free(inst);
    return 0;
}

/* escape_line_ends - text on one line: backslash, LF and tab written as
 * \\, \n and \t, the way GLib key files (kairan.conf) take them. */
static char *
escape_line_ends(const char *text)
{
    GString *out = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            g_string_append(out, "\\\\");
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else if (*p == '\t')
            g_string_append(out, "\\t");
        else
            g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

/* config_global - kairan config --global [KEY [VALUE]]: every [global] key
 * with its value ("(default)" when kairan.conf does not set it), one key,
 * or set one.  Exits 78 naming each unknown key or invalid value that
 * kairan.conf holds (after printing), 64 for a bad KEY or VALUE given. */
static int
config_global(int argc, char **argv)
{
    GError *error = NULL;
    Instance *inst = cli_open();
    int status = 0;

    if (argc == 1) {
        size_t n;
        const GlobalDef *defs = globals_table(&n);
        for (size_t i = 0; i < n; i++) {
            char *v = instance_global(inst, defs[i].key);
            printf("%s = %s%s\n", defs[i].key, v ? v : "",
                   !global_is_set(inst, defs[i].key) ? " (default)"
                   : !global_is_valid_there(inst, defs[i].key) ? " (default: the value in kairan.conf is invalid)" : "");
            g_free(v);
        }
    } else if (argc == 2) {
        char *why = NULL, *v;
        if (!global_find(argv[1])) {
            (void) global_validate(argv[1], "", &why);
            fprintf(stderr, "kairan config: %s\n", why);
            g_free(why);
            instance_free(inst);
            return EXIT_USAGE;
        }
        v = instance_global(inst, argv[1]);
        printf("%s\n", v ? v : "");
        g_free(v);
    } else {
        if (!globals_set(inst, argv[1], argv[2], &error)) {
            fprintf(stderr, "kairan config: %s\n", error->message);
            status = error->code;
            g_error_free(error);
            instance_free(inst);
            return status;
        }
        log_info("[global] %s changed", argv[1]);
    }
    if (!globals_check(inst, &error)) {
        fprintf(stderr, "kairan config: %s\n", error->message);
        status = error->code;
        g_error_free(error);
    }
    instance_free(inst);
    return status;
}

/* config_show_sections - `kairan config LIST --verbose`: "[Section]"
 * headings in the order of the web's settings page, and under each key
 * "key = value" with "# Title: help" above it. */
static void
config_show_sections(const Instance *inst, const char *list)
{
    const char *const *sections = settings_sections();
    size_t n;
    const SettingDef *defs = settings_table(&n);
    for (int k = 0; sections[k]; k++) {
        printf("%s[%s]\n", k ? "\n" : "", sections[k]);
        for (size_t i = 0; i < n; i++) {
            char *v, *shown;
            if (!g_str_equal(setting_section(&defs[i]), sections[k]))
                continue;
            v = list_setting(inst, list, defs[i].key);
            shown = defs[i].type == SETTING_TEXT ? escape_line_ends(v) : NULL;
            printf("# %s: %s\n%s = %s\n", setting_title(&defs[i]), defs[i].help, defs[i].key, shown ? shown : v);
            g_free(shown);
            g_free(v);
        }
    }
}

int
cmd_config(int argc, char **argv)
{
    GError *error = NULL;
    Instance *inst;
    gboolean global = FALSE, verbose = FALSE;
    GOptionEntry entries[] = {
        { "global", 0, 0, G_OPTION_ARG_NONE, &global,
          "the [global] keys of kairan.conf instead of a list's settings", NULL },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
          "show a list's settings in the sections of the web's settings page, each with its title and help", NULL },
        G_OPTION_ENTRY_NULL
    };

    cli_parse(&argc, &argv, "config", "LIST [KEY [VALUE]] | --global [KEY [VALUE]]",
              "Show every setting of a list, one setting, or set one; with --global, the same for "
              "the instance's [global] keys.", entries);
    if (global) {
        if (argc > 3)
            cli_usage_error("config", "--global takes at most a key and a value");
        return config_global(argc, argv);
    }
    if (argc < 2 || argc > 4)
        cli_usage_error("config", "give a list name, optionally a key and a value");
    inst = cli_open();
    cli_need_list(inst, argv[1]);
    if (argc == 2 && verbose) {
        config_show_sections(inst, argv[1]);
    } else if (argc == 2) {
        size_t n;
        const SettingDef *defs = settings_table(&n);
        for (size_t i = 0; i < n; i++) {
            char *v = list_setting(inst, argv[1], defs[i].key);
            /* one line a key: a text's line ends are shown as \n (as in kairan.conf) */
            char *shown = defs[i].type == SETTING_TEXT ? escape_line_ends(v) : NULL;
            printf("%s = %s\n", defs[i].key, shown ? shown : v);
            g_free(shown);
            g_free(v);
        }
    } else if (argc == 3) {
        char *why = NULL, *v;
        if (!setting_find(argv[2])) {
            (void) setting_validate(argv[2], "", &why);
            fprintf(stderr, "kairan config: %s\n", why);
            g_free(why);
            instance_free(inst);
            return EXIT_USAGE;
        }
        v = list_setting(inst, argv[1], argv[2]);
        printf("%s\n", v);
        g_free(v);
    } else {
        if (!list_setting_set(inst, argv[1], argv[2], argv[3], &error)) {
            fprintf(stderr, "kairan config: %s\n", error->message);
            g_error_free(error);
            instance_free(inst);
            return EXIT_USAGE;
        }
        log_info("%s: setting %s changed", argv[1], argv[2]);
    }
    instance_free(inst);
    return 0;
}
