/* template.c - `kairan template LIST [NAME] [--lang LANG] [--edit FILE |
 * --reset]`: a list's own texts of the mails kairan writes (lib's
 * template_override.c).  Without NAME: every template name, and where
 * the text in effect comes from (list, domain, instance, shipped); with
 * NAME: that text; --edit FILE installs FILE (- = stdin) as the list's
 * override after checking it; --reset removes the override. */
#include "config.h"
#include "cli.h"
#include "log.h"
#include "settings.h"
#include "template_override.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static gboolean
read_input(const char *file, char **data, gsize *len, GError **error)
{
    if (g_str_equal(file, "-")) {
        GString *s = g_string_new(NULL);
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0 && s->len <= TEMPLATE_OVERRIDE_MAX)
            g_string_append_len(s, buf, (gssize) n);
        *len = s->len;
        *data = g_string_free(s, FALSE);
        return TRUE;
    }
    if (!g_file_get_contents(file, data, len, error)) {
        if (*error)
            (*error)->code = EXIT_NOINPUT;
        return FALSE;
    }
    return TRUE;
}

int
cmd_template(int argc, char **argv)
{
    char *edit = NULL, *lang = NULL;
    gboolean reset = FALSE;
    GOptionEntry entries[] = {
        { "edit", 0, 0, G_OPTION_ARG_FILENAME, &edit, "install FILE (- = stdin) as the list's own text", "FILE" },
        { "reset", 0, 0, G_OPTION_ARG_NONE, &reset, "remove the list's own text: the shipped one is used again", NULL },
        { "lang", 0, 0, G_OPTION_ARG_STRING, &lang, "the language (en or ja; default: the list's language)", "LANG" },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    Instance *inst;
    char *list;
    const char *name;
    char *use_lang;
    int status = 0;

    cli_parse(&argc, &argv, "template", "LIST [NAME]",
              "Show the mail templates of a list and where each comes from, show one, or replace "
              "(--edit FILE) or reset (--reset) the list's own text of one.  Own texts live in "
              "HOME/templates/LIST/LANG/NAME.txt; HOME/templates/@DOMAIN/LANG/ and HOME/templates/LANG/ "
              "override the shipped texts for every list.", entries);
    if (argc < 2 || argc > 3)
        cli_usage_error("template", "give a list name, optionally a template name");
    if ((edit || reset) && argc != 3)
        cli_usage_error("template", "--edit and --reset need a template name");
    if (edit && reset)
        cli_usage_error("template", "give either --edit or --reset");
    if (lang && !g_str_equal(lang, "en") && !g_str_equal(lang, "ja"))
        cli_usage_error("template", "--lang: valid languages are en and ja");
    list = argv[1];
    name = argc == 3 ? argv[2] : NULL;
    inst = cli_open();
    cli_need_list(inst, list);
    use_lang = lang ? g_strdup(lang) : list_setting(inst, list, "language");

    if (!name) {
        char **names = template_names();
        printf("%-22s %-9s %s\n", "TEMPLATE", "LANGUAGE", "IN EFFECT");
        for (int i = 0; names[i]; i++) {
            TemplateSource src;
            char *text = template_load_for(inst, list, use_lang, names[i], &src);
            printf("%-22s %-9s %s%s\n", names[i], use_lang, template_source_name(src),
                   src == TEMPLATE_FROM_LIST ? " (overridden)" : "");
            g_free(text);
        }
        g_strfreev(names);
    } else if (!template_name_known(name)) {
        char **names = template_names();
        char *all = g_strjoinv(", ", names);
        fprintf(stderr, "kairan template: no template '%s'; the templates are: %s\n", name, all);
        g_free(all);
        g_strfreev(names);
        status = EXIT_USAGE;
    } else if (edit) {
        char *data = NULL;
        gsize len = 0;
        if (!read_input(edit, &data, &len, &error) ||
            !template_override_set(inst, list, use_lang, name, data, len, &error)) {
            fprintf(stderr, "kairan template: %s\n", error->message);
            status = error->code;
            g_error_free(error);
        } else {
            printf("%s: template %s (%s) is now the list's own text\n", list, name, use_lang);
        }
        g_free(data);
    } else if (reset) {
        gboolean removed = FALSE;
        if (!template_override_reset(inst, list, use_lang, name, &removed, &error)) {
            fprintf(stderr, "kairan template: %s\n", error->message);
            status = error->code;
            g_error_free(error);
        } else {
            printf(removed ? "%s: template %s (%s) reset to the shipped text\n"
                           : "%s: template %s (%s) had no own text\n", list, name, use_lang);
        }
    } else {
        TemplateSource src;
        char *text = template_load_for(inst, list, use_lang, name, &src);
        fputs(text ? text : "", stdout);
        g_free(text);
    }
    g_free(use_lang);
    g_free(edit);
    g_free(lang);
    instance_free(inst);
    return status;
}
