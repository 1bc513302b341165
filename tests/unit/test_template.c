/* test_template.c - unit tests of src/lib/template.c: {{name}}
 * substitution (unknown keys, $$, unterminated and hostile input, values
 * never re-expanded), loading with the English fallback and refusal of
 * path-like names, and that every shipped mail template exists in both
 * languages with a Subject header. */
#include "config.h"
#include "template.h"
#include "instance.h"
#include "unit_instance.h"

#include <string.h>

static char *tpl_dir;

static void
check_expand(const char *text, GHashTable *vars, const char *want)
{
    char *got = template_expand(text, vars);
    g_assert_cmpstr(got, ==, want);
    g_free(got);
}

static void
test_expand_basic(void)
{
    GHashTable *v = template_vars_new();
    template_var(v, "list", "team");
    template_var(v, "address", "joe@example.org");
    template_var(v, "empty", NULL);
    check_expand("", v, "");
    check_expand("plain text", v, "plain text");
    check_expand("Welcome to {{list}}, {{address}}!", v, "Welcome to team, joe@example.org!");
    check_expand("{{list}}{{list}}", v, "teamteam");
    check_expand("[{{empty}}]", v, "[]");
    check_expand("[{{unknown}}]", v, "[]");
    check_expand("[{{LIST}}]", v, "[]");              /* keys are case-sensitive */
    check_expand("[{{}}]", v, "[{{}}]");              /* no name: not a placeholder */
    check_expand("[{{a b}}]", v, "[{{a b}}]");        /* a blank: not a placeholder */
    check_expand("cost: $5, {{list}}", v, "cost: $5, team");
    check_expand("${list} {list} $ {x}", v, "${list} {list} $ {x}");   /* other syntaxes are text */
    check_expand("{{{list}}}", v, "{team}");
    check_expand("\xe3\x83\xaa\xe3\x82\xb9\xe3\x83\x88 {{list}} \xe3\x81\xb8", v,
                 "\xe3\x83\xaa\xe3\x82\xb9\xe3\x83\x88 team \xe3\x81\xb8");
    check_expand("{{list}}", NULL, "");               /* no variables at all */
    g_hash_table_unref(v);
}

static void
test_expand_hostile(void)
{
    GHashTable *v = template_vars_new();
    GString *big = g_string_new(NULL);
    char *got;

    /* a value is inserted as it is, never expanded again */
    template_var(v, "name", "{{secret}} {{name}}");
    template_var(v, "secret", "S3CRET");
    check_expand("Hi {{name}}.", v, "Hi {{secret}} {{name}}.");
    /* unterminated placeholders are kept as text */
    check_expand("tail {{name", v, "tail {{name");
    check_expand("{{", v, "{{");
    check_expand("{", v, "{");
    check_expand("}}", v, "}}");
    /* the first }} closes the placeholder; what is no name stays */
    check_expand("{{na{{secret}}}}", v, "{{naS3CRET}}");
    check_expand("{{name}}}}", v, "{{secret}} {{name}}}}");
    /* a later value replaces the earlier one */
    template_var(v, "secret", "other");
    check_expand("{{secret}}", v, "other");

    /* 200,000 open placeholders without a }}: linear, all kept */
    for (int i = 0; i < 200000; i++)
        g_string_append(big, "{{");
    got = template_expand(big->str, v);
    g_assert_cmpstr(got, ==, big->str);
    g_free(got);
    /* 200,000 { then one placeholder: still linear, every { but two kept */
    g_string_truncate(big, 0);
    for (int i = 0; i < 200000; i++)
        g_string_append_c(big, '{');
    g_string_append(big, "secret}}");
    got = template_expand(big->str, v);
    g_assert_cmpuint(strlen(got), ==, 199998 + 5);
    g_assert_true(g_str_has_suffix(got, "{other"));
    g_free(got);
    g_string_truncate(big, 0);
    for (int i = 0; i < 100000; i++)
        g_string_append(big, "{{secret}}");
    got = template_expand(big->str, v);
    g_assert_cmpuint(strlen(got), ==, 100000 * 5);
    g_assert_true(g_str_has_prefix(got, "otherother"));
    g_free(got);
    g_string_free(big, TRUE);
    g_hash_table_unref(v);
}

static void
write_tpl(const char *lang, const char *name, const char *text)
{
    char *dir = g_build_filename(tpl_dir, "mail", lang, NULL);
    char *file = g_strconcat(name, ".txt", NULL);
    char *path = g_build_filename(dir, file, NULL);
    GError *error = NULL;
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_file_set_contents(path, text, -1, &error);
    g_assert_no_error(error);
    g_free(dir);
    g_free(file);
    g_free(path);
}

static void
check_load(const char *lang, const char *name, const char *want)
{
    char *got = template_load(lang, name);
    g_assert_cmpstr(got, ==, want);
    g_free(got);
}

static void
test_load(void)
{
    char *outside = g_build_filename(tpl_dir, "secret.txt", NULL);
    g_file_set_contents(outside, "outside the mail directory\n", -1, NULL);
    write_tpl("en", "hello", "Subject: Hello\n\nEnglish\n");
    write_tpl("ja", "hello", "Subject: \xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf\n\nJapanese\n");
    write_tpl("en", "only_en", "Subject: en only\n\nEnglish\n");

    check_load("en", "hello", "Subject: Hello\n\nEnglish\n");
    check_load("ja", "hello", "Subject: \xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf\n\nJapanese\n");
    check_load("ja", "only_en", "Subject: en only\n\nEnglish\n");     /* English fallback */
    check_load("fr", "hello", "Subject: Hello\n\nEnglish\n");
    check_load(NULL, "hello", "Subject: Hello\n\nEnglish\n");
    check_load("en", "missing", NULL);
    check_load("ja", "missing", NULL);
    /* path-like names never leave templates/mail/LANG */
    check_load("en", "../../secret", NULL);
    check_load("en", "../en/hello", NULL);
    check_load("en", "/etc/passwd", NULL);
    check_load("en", "", NULL);
    check_load("en", "Hello", NULL);
    check_load("../..", "secret", NULL);
    check_load("../ja", "hello", "Subject: Hello\n\nEnglish\n");      /* bad language: English */
    g_free(outside);
}

/* placeholders - the set of {{key}} names used in text. */
static GHashTable *
placeholders(const char *text)
{
    GHashTable *keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (const char *p = strstr(text, "{{"); p; p = strstr(p + 2, "{{")) {
        const char *end = strstr(p + 2, "}}");
        if (!end)
            break;
        g_hash_table_add(keys, g_strndup(p + 2, (gsize) (end - p - 2)));
    }
    return keys;
}

/* The shipped templates: each English one has a Japanese twin with the
 * same placeholders, valid UTF-8, and a Subject header when the English
 * one starts with one. */
static void
test_shipped_in_step(void)
{
    char *dir = g_build_filename(KAIRAN_SRC_TEMPLATE_DIR, "mail", "en", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    int n = 0;

    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        char *en_path, *ja_path, *en = NULL, *ja = NULL;
        GHashTable *en_keys, *ja_keys;
        GHashTableIter it;
        gpointer key;

        if (!g_str_has_suffix(name, ".txt"))
            continue;
        en_path = g_build_filename(dir, name, NULL);
        ja_path = g_build_filename(KAIRAN_SRC_TEMPLATE_DIR, "mail", "ja", name, NULL);
        g_assert_true(g_file_get_contents(en_path, &en, NULL, NULL));
        if (!g_file_get_contents(ja_path, &ja, NULL, NULL))
            g_error("%s has no Japanese twin %s", en_path, ja_path);
        g_assert_true(g_utf8_validate(en, -1, NULL));
        g_assert_true(g_utf8_validate(ja, -1, NULL));
        g_assert_cmpint(g_str_has_prefix(en, "Subject:"), ==, g_str_has_prefix(ja, "Subject:"));
        en_keys = placeholders(en);
        ja_keys = placeholders(ja);
        g_assert_cmpuint(g_hash_table_size(en_keys), ==, g_hash_table_size(ja_keys));
        g_hash_table_iter_init(&it, en_keys);
        while (g_hash_table_iter_next(&it, &key, NULL))
            if (!g_hash_table_contains(ja_keys, key))
                g_error("%s: {{%s}} is not in the Japanese template", name, (char *) key);
        g_hash_table_unref(en_keys);
        g_hash_table_unref(ja_keys);
        g_free(en_path);
        g_free(ja_path);
        g_free(en);
        g_free(ja);
        n++;
    }
    g_assert_cmpint(n, >=, 8);
    g_dir_close(d);
    g_free(dir);
    /* and no Japanese template without an English one */
    dir = g_build_filename(KAIRAN_SRC_TEMPLATE_DIR, "mail", "ja", NULL);
    d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d)))
        if (g_str_has_suffix(name, ".txt"))
            n--;
    g_assert_cmpint(n, ==, 0);
    g_dir_close(d);
    g_free(dir);
}

int
main(int argc, char **argv)
{
    GError *error = NULL;
    int rc;

    g_test_init(&argc, &argv, NULL);
    tpl_dir = g_dir_make_tmp("kairan-tpl-XXXXXX", &error);
    g_assert_no_error(error);
    g_setenv("KAIRAN_TEMPLATES", tpl_dir, TRUE);    /* before the first kairan_template_dir() */
    g_test_add_func("/template/expand", test_expand_basic);
    g_test_add_func("/template/expand-hostile", test_expand_hostile);
    g_test_add_func("/template/load", test_load);
    g_test_add_func("/template/shipped-en-ja-in-step", test_shipped_in_step);
    rc = g_test_run();
    unit_instance_rm_rf(tpl_dir);
    g_free(tpl_dir);
    return rc;
}
