/* test_template_override.c - unit tests of src/lib/template_override.c:
 * the names that may be overridden, the order list > @domain > instance
 * > shipped with the list's language before English at every level, the
 * placeholder check and list (each unknown one once, in order; known: the shipped
 * texts' in every language and the list addresses), and what
 * template_override_set accepts, normalises and refuses (with which
 * sysexits code), and template_override_reset. */
#include "config.h"
#include "template_override.h"
#include "instance.h"
#include "log.h"
#include "util.h"
#include "unit_instance.h"

#include <string.h>

static char *tpl_dir;

static void
put(const char *dir, const char *sub1, const char *sub2, const char *file, const char *text)
{
    char *d = sub2 ? g_build_filename(dir, sub1, sub2, NULL) : g_build_filename(dir, sub1, NULL);
    char *p = g_build_filename(d, file, NULL);
    g_assert_cmpint(g_mkdir_with_parents(d, 0700), ==, 0);
    g_assert_true(g_file_set_contents(p, text, -1, NULL));
    g_free(p);
    g_free(d);
}

static void
test_names(void)
{
    char **names = template_names();
    g_assert_cmpint(g_strv_length(names), ==, 2);
    g_assert_cmpstr(names[0], ==, "help");          /* sorted; ctl_texts and odd files left out */
    g_assert_cmpstr(names[1], ==, "welcome");
    g_strfreev(names);
    g_assert_true(template_name_known("welcome"));
    g_assert_false(template_name_known("ctl_texts"));
    g_assert_false(template_name_known("../welcome"));
    g_assert_false(template_name_known("Welcome"));
    g_assert_false(template_name_known(NULL));
}

static void
check_load(Instance *inst, const char *list, const char *lang, const char *want, TemplateSource want_src)
{
    TemplateSource src;
    char *text = template_load_for(inst, list, lang, "welcome", &src);
    g_assert_cmpstr(text, ==, want);
    g_assert_cmpint(src, ==, want_src);
    g_free(text);
}

static void
test_levels(void)
{
    Instance *inst = unit_instance_new();
    char *tdir = g_build_filename(inst->home, "templates", NULL);

    check_load(inst, "team", "en", "Subject: shipped en {{list}}\n\nHi {{address}}\n", TEMPLATE_FROM_SHIPPED);
    check_load(inst, "team", "ja", "Subject: shipped ja\n\n{{address}} {{name}}\n", TEMPLATE_FROM_SHIPPED);
    put(tdir, "en", NULL, "welcome.txt", "instance en\n");
    check_load(inst, "team", "en", "instance en\n", TEMPLATE_FROM_INSTANCE);
    check_load(inst, "team", "ja", "Subject: shipped ja\n\n{{address}} {{name}}\n", TEMPLATE_FROM_SHIPPED);
    put(tdir, "@lists.example.test", "en", "welcome.txt", "domain en\n");
    check_load(inst, "team", "en", "domain en\n", TEMPLATE_FROM_DOMAIN);
    put(tdir, "team", "en", "welcome.txt", "list en\n");
    check_load(inst, "team", "en", "list en\n", TEMPLATE_FROM_LIST);
    check_load(inst, "other", "en", "domain en\n", TEMPLATE_FROM_DOMAIN);
    check_load(inst, NULL, "en", "domain en\n", TEMPLATE_FROM_DOMAIN);
    /* the list's language first at every level, English after */
    check_load(inst, "team", "ja", "Subject: shipped ja\n\n{{address}} {{name}}\n", TEMPLATE_FROM_SHIPPED);
    put(tdir, "ja", NULL, "welcome.txt", "instance ja\n");
    check_load(inst, "team", "ja", "instance ja\n", TEMPLATE_FROM_INSTANCE);
    /* a language without shipped texts: English at every level */
    check_load(inst, "team", "fr", "list en\n", TEMPLATE_FROM_LIST);
    check_load(inst, "team", "../x", "list en\n", TEMPLATE_FROM_LIST);
    /* a text that is not UTF-8 is ignored */
    put(tdir, "team", "en", "welcome.txt", "bad \xff\xfe\n");
    check_load(inst, "team", "en", "domain en\n", TEMPLATE_FROM_DOMAIN);
    /* path-like names are never looked up */
    g_assert_null(template_load_for(inst, "../team", "en", "../welcome", NULL));
    g_assert_null(template_load_for(inst, "team", "en", "nosuch", NULL));
    g_free(tdir);
    unit_instance_free(inst);
}

static void
check_unknown(const char *text, const char *const *want)
{
    char **got = template_placeholders_unknown("welcome", text);
    g_assert_cmpint(g_strv_length(got), ==, g_strv_length((char **) want));
    for (int i = 0; want[i]; i++)
        g_assert_cmpstr(got[i], ==, want[i]);
    g_strfreev(got);
}

static void
test_placeholders(void)
{
    check_unknown("", (const char *[]) { NULL });
    /* known: the shipped texts of welcome in en and ja, and the addresses */
    check_unknown("{{list}} {{address}} {{name}} {{list_address}} {{ctl_address}} {{admin_address}}",
                  (const char *[]) { NULL });
    check_unknown("{{b}} {{a}} {{b}} {{list}} {{a}}", (const char *[]) { "b", "a", NULL });
    /* what template_expand does not take for a placeholder is text */
    check_unknown("{{a b}} {{}} {x} {{ x }} {{{list}}} {{z", (const char *[]) { NULL });
    check_unknown("{{{q}}}", (const char *[]) { "q", NULL });
    {
        char **known = template_placeholders_known("welcome");
        char *all = g_strjoinv(" ", known);
        g_assert_cmpstr(all, ==, "address admin_address ctl_address list list_address name");
        g_free(all);
        g_strfreev(known);
    }
}

static void
test_set_reset(void)
{
    Instance *inst = unit_instance_new();
    GError *error = NULL;
    char *path = template_override_path(inst, "team", "en", "welcome");
    char *got = NULL, *big;
    gboolean removed = TRUE;
    const char *ok = "Subject: Hi {{list}}\r\n\r\nDear {{address}}\r\nbye";

    g_assert_true(template_override_set(inst, "team", "en", "welcome", ok, strlen(ok), &error));
    g_assert_no_error(error);
    g_assert_true(g_file_get_contents(path, &got, NULL, NULL));
    g_assert_cmpstr(got, ==, "Subject: Hi {{list}}\n\nDear {{address}}\nbye\n");   /* LF, a final LF */
    g_free(got);
    g_assert_true(template_is_overridden(inst, "team", "en", "welcome"));
    g_assert_false(template_is_overridden(inst, "team", "ja", "welcome"));

    g_assert_false(template_override_set(inst, "team", "en", "welcome", "x {{nope}} {{list}} {{nah}}", 27, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_DATAERR);
    g_assert_nonnull(strstr(error->message, "{{nope}}, {{nah}}"));
    g_assert_null(strstr(error->message, "{{list}}"));
    g_clear_error(&error);
    g_assert_false(template_override_set(inst, "team", "en", "welcome", "a\0b", 3, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_DATAERR);
    g_clear_error(&error);
    g_assert_false(template_override_set(inst, "team", "en", "welcome", "a\x1b[2Jb", 6, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_DATAERR);
    g_clear_error(&error);
    g_assert_false(template_override_set(inst, "team", "en", "welcome", "\xff", 1, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_DATAERR);
    g_clear_error(&error);
    g_assert_false(template_override_set(inst, "team", "en", "welcome", " \n\t\n", 4, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_DATAERR);
    g_clear_error(&error);
    big = g_strnfill(TEMPLATE_OVERRIDE_MAX + 1, 'x');
    g_assert_false(template_override_set(inst, "team", "en", "welcome", big, strlen(big), &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_DATAERR);
    g_clear_error(&error);
    g_free(big);
    g_assert_false(template_override_set(inst, "team", "fr", "welcome", "x", 1, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    g_assert_false(template_override_set(inst, "team", "en", "ctl_texts", "x", 1, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    g_assert_false(template_override_set(inst, "../x", "en", "welcome", "x", 1, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    /* the refusals left the installed text alone */
    g_assert_true(g_file_get_contents(path, &got, NULL, NULL));
    g_assert_cmpstr(got, ==, "Subject: Hi {{list}}\n\nDear {{address}}\nbye\n");
    g_free(got);

    g_assert_true(template_override_reset(inst, "team", "en", "welcome", &removed, &error));
    g_assert_true(removed);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_true(template_override_reset(inst, "team", "en", "welcome", &removed, &error));
    g_assert_false(removed);
    g_assert_false(template_override_reset(inst, "team", "en", "nosuch", NULL, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    g_free(path);
    unit_instance_free(inst);
}

int
main(int argc, char **argv)
{
    GError *error = NULL;
    int status;

    g_test_init(&argc, &argv, NULL);
    tpl_dir = g_dir_make_tmp("kairan-tpl-XXXXXX", &error);
    g_assert_no_error(error);
    g_setenv("KAIRAN_TEMPLATES", tpl_dir, TRUE);    /* before the first kairan_template_dir() */
    put(tpl_dir, "mail", "en", "welcome.txt", "Subject: shipped en {{list}}\n\nHi {{address}}\n");
    put(tpl_dir, "mail", "ja", "welcome.txt", "Subject: shipped ja\n\n{{address}} {{name}}\n");
    put(tpl_dir, "mail", "en", "help.txt", "Help for {{list_address}}\n");
    put(tpl_dir, "mail", "en", "ctl_texts.txt", "ok: ok\n");
    put(tpl_dir, "mail", "en", "README", "not a template\n");
    put(tpl_dir, "mail", "en", "Bad Name.txt", "not a template\n");
    g_test_add_func("/template_override/names", test_names);
    g_test_add_func("/template_override/levels", test_levels);
    g_test_add_func("/template_override/placeholders", test_placeholders);
    g_test_add_func("/template_override/set-reset", test_set_reset);
    status = g_test_run();
    unit_instance_rm_rf(tpl_dir);
    g_free(tpl_dir);
    return status;
}
