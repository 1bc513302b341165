/* import.c - the subcommands `kairan import FORMAT SOURCE [--as LIST]
 * [--dry-run] [--merge] [--skip-bad]` (a plan from fml.c, mlmmj.c,
 * mailman2.c, mailman3.c or mbox.c, reported, then made real by
 * apply.c) and `kairan export LIST --mbox | --members` (the archive as
 * mboxrd, the members as CSV address,name,delivery,digest). */
#include "config.h"
#include "import/import.h"
#include "cli/cli.h"
#include "archive.h"
#include "lists.h"
#include "domains.h"
#include "log.h"
#include "util.h"

#include <string.h>
#include <unistd.h>

/* search_index - the imported posts into the search index, a thousand
 * per transaction (memory stays flat), with a progress line on a terminal */
static void
search_index(Instance *inst, const char *list, gint64 total)
{
    gboolean tty = isatty(STDERR_FILENO) && total >= 1000;
    gint64 done = 0;
    int n;

    while ((n = archive_search_update(inst, list, 1000)) > 0) {
        done += n;
        if (tty)
            fprintf(stderr, "\rindexing for search: %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, MIN(done, total), total);
        if (n < 1000)
            break;
    }
    if (tty)
        fputc('\n', stderr);
}

static const char *const formats[] = { "fml", "mlmmj", "mailman2", "mailman3", "mbox", NULL };

int
cmd_import(int argc, char **argv)
{
    char *as = NULL;
    gboolean dry_run = FALSE, merge = FALSE, skip_bad = FALSE, no_index = FALSE;
    GOptionEntry entries[] = {
        { "as", 0, 0, G_OPTION_ARG_STRING, &as, "the kairan list to create or add to (default: the source's list address)", "LIST" },
        { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, "print the plan, change nothing", NULL },
        { "merge", 0, 0, G_OPTION_ARG_NONE, &merge, "add to an existing list", NULL },
        { "skip-bad", 0, 0, G_OPTION_ARG_NONE, &skip_bad, "skip (and report) bad members and posts instead of stopping", NULL },
        { "no-index", 0, 0, G_OPTION_ARG_NONE, &no_index, "leave the search index to the first search (faster for a big archive)", NULL },
        G_OPTION_ENTRY_NULL
    };
    const char *format, *source;
    ImportPlan *plan;
    GError *error = NULL;
    Instance *inst;
    gboolean ok;
    gint64 imported = 0;

    cli_parse(&argc, &argv, "import", "FORMAT SOURCE",
              "Bring a list in from another manager: FORMAT is fml DIR, mlmmj DIR, mailman2 DIR "
              "(config, regular, digest, archive.mbox), mailman3 DIR (config.json, members.csv, archive.mbox) "
              "or mbox FILE --as LIST (posts added to an existing list's archive).  Nothing is mailed to anyone.",
              entries);
    if (argc != 3)
        cli_usage_error("import", "give FORMAT and SOURCE (FORMAT: fml, mlmmj, mailman2, mailman3, mbox)");
    format = argv[1];
    source = argv[2];
    if (!g_strv_contains(formats, format))
        cli_usage_error("import", "unknown format '%s' (fml, mlmmj, mailman2, mailman3, mbox)", format);
    if (g_str_equal(format, "mbox") && !as)
        cli_usage_error("import", "mbox needs --as LIST");
    inst = cli_open();
    plan = import_plan_new(format, source, skip_bad);
    if (g_str_equal(format, "fml"))
        ok = import_fml(plan, source, &error);
    else if (g_str_equal(format, "mlmmj"))
        ok = import_mlmmj(plan, source, &error);
    else if (g_str_equal(format, "mailman2"))
        ok = import_mailman2(plan, source, &error);
    else if (g_str_equal(format, "mailman3"))
        ok = import_mailman3(plan, source, &error);
    else
        ok = import_mbox_scan(plan, source, TRUE, &error);
    if (ok) {
        const char *name = as ? as : plan->source_address;
        if (!name) {
            g_set_error(&error, KAIRAN_ERROR, EXIT_USAGE, "%s: no list address found: use --as LIST", source);
            ok = FALSE;
        } else {
            const char *at = strchr(name, '@');
            if (as && at) {                  /* --as NAME@DOMAIN: a domain of this instance */
                plan->list = list_id_for(inst, as, &error);
                ok = plan->list != NULL;
            } else {
                plan->list = import_list_name(name);
                if (at && g_ascii_strcasecmp(at + 1, inst->domain) != 0)
                    import_note(plan, "the list was at %s; kairan's lists are at %s (or use --as NAME@DOMAIN)",
                                at + 1, inst->domain);
            }
        }
    }
    if (ok)
        ok = import_apply(inst, plan, merge, dry_run, &imported, &error);
    if (!ok) {
        import_plan_free(plan);
        instance_free(inst);
        cli_exit_error(error);
    }
    import_report(plan, stdout);
    if (dry_run) {
        printf("dry run: nothing was changed\n");
    } else {
        printf("imported: list %s, %u member(s), %" G_GINT64_FORMAT " post(s); nothing was mailed\n", plan->list,
               plan->members->len, imported);
        if (imported > 0 && !no_index)
            search_index(inst, plan->list, imported);
    }
    import_plan_free(plan);
    g_free(as);
    instance_free(inst);
    return 0;
}

int
cmd_export(int argc, char **argv)
{
    gboolean mbox = FALSE, members = FALSE;
    GOptionEntry entries[] = {
        { "mbox", 0, 0, G_OPTION_ARG_NONE, &mbox, "every post as archived, as mboxrd", NULL },
        { "members", 0, 0, G_OPTION_ARG_NONE, &members, "the members as CSV: address,name,delivery,digest", NULL },
        G_OPTION_ENTRY_NULL
    };
    Instance *inst;
    char *list;

    cli_parse(&argc, &argv, "export", "LIST",
              "Write a list's archive (--mbox) or members (--members) to standard output.", entries);
    if (argc != 2)
        cli_usage_error("export", "give one list name");
    if (mbox == members)
        cli_usage_error("export", "give --mbox or --members");
    list = argv[1];
    inst = cli_open();
    cli_need_list(inst, list);
    if (members) {
        GString *out = member_list_csv(inst, list);
        fwrite(out->str, 1, out->len, stdout);
        g_string_free(out, TRUE);
    } else {
        /* lib's reader, as the web's download: memory stays flat */
        MboxExport *x = mbox_export_new(inst, list);
        guint8 buf[65536];
        gsize n;
        while ((n = mbox_export_read(x, buf, sizeof(buf))) > 0)
            if (fwrite(buf, 1, n, stdout) != n)
                break;
        mbox_export_free(x);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "kairan export: write error\n");
        instance_free(inst);
        return EXIT_IOERR;
    }
    instance_free(inst);
    return 0;
}
