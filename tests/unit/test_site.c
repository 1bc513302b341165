/* test_site.c - unit tests of what the site admin's pages stand on in
 * src/lib: the sections and titles of the per-list settings table
 * (settings.h: every key of the table in one of the seven sections with a
 * title; an entry without them gets a guessed section and a title made of
 * its key) and the alias map writer (aliases.h: HOME/aliases follows the
 * lists, with --home for an instance that is not the default). */
#include "config.h"
#include "aliases.h"
#include "lists.h"
#include "settings.h"
#include "unit_instance.h"
#include "log.h"
#include "util.h"

#include <string.h>

static void
test_every_key_has_a_section(void)
{
    size_t n = 0;
    const SettingDef *defs = settings_table(&n);
    const char *const *sections = settings_sections();
    guint count[16] = { 0 };
    int nsec = 0;

    while (sections[nsec])
        nsec++;
    g_assert_cmpint(nsec, ==, 7);
    g_assert_cmpstr(sections[0], ==, "Posting");
    g_assert_cmpstr(sections[6], ==, "Limits");
    for (size_t i = 0; i < n; i++) {
        const char *s = setting_section(&defs[i]);
        int k;
        for (k = 0; sections[k] && !g_str_equal(sections[k], s); k++)
            ;
        g_assert_nonnull(sections[k]);
        count[k]++;
        g_assert_nonnull(setting_title(&defs[i]));
        g_assert_cmpuint(strlen(setting_title(&defs[i])), >, 2);
    }
    for (int k = 0; k < nsec; k++)
        g_assert_cmpuint(count[k], >, 0);     /* no empty section on the page */
    g_assert_cmpstr(setting_section(setting_find("max_size")), ==, "Limits");
    g_assert_cmpstr(setting_title(setting_find("post_policy")), ==, "Who may post");
    g_assert_cmpstr(setting_section(setting_find("digest_format")), ==, "Digest");
}

static void
test_entries_without_section_or_title(void)
{
    /* an entry another engineer adds with the five old fields only */
    const SettingDef bare_digest = { .key = "digest_header", .type = SETTING_TEXT, .dflt = "", .help = "h" };
    const SettingDef bare_bounce = { .key = "bounce_probe_interval", .type = SETTING_DURATION, .dflt = "1d", .help = "h" };
    const SettingDef bare_other = { .key = "welcome_text", .type = SETTING_TEXT, .dflt = "", .help = "h" };
    const SettingDef bare_none = { .key = "x_zzz", .type = SETTING_STRING, .dflt = "", .help = "h" };
    const SettingDef bad_section = { .key = "max_x", .type = SETTING_UINT, .dflt = "1", .help = "h", .section = "Bogus" };
    const SettingDef own = { .key = "zz", .type = SETTING_UINT, .dflt = "1", .help = "h", .section = "Archive",
                             .title = "Zed" };

    g_assert_cmpstr(setting_section(&bare_digest), ==, "Digest");
    g_assert_cmpstr(setting_section(&bare_bounce), ==, "Deliverability");
    g_assert_cmpstr(setting_section(&bare_other), ==, "Members & subscription");
    g_assert_cmpstr(setting_section(&bare_none), ==, "Posting");
    g_assert_cmpstr(setting_section(&bad_section), ==, "Limits");    /* an unknown section: guessed */
    g_assert_cmpstr(setting_section(&own), ==, "Archive");
    g_assert_cmpstr(setting_title(&own), ==, "Zed");
    g_assert_cmpstr(setting_title(&bare_digest), ==, "Digest header");
    g_assert_cmpstr(setting_title(&bare_bounce), ==, "Bounce probe interval");
    g_assert_true(setting_title(&bare_digest) == setting_title(&bare_digest));   /* made once */
}

static char *
read_aliases(Instance *inst)
{
    char *p = g_build_filename(inst->home, "aliases", NULL), *text = NULL;
    if (!g_file_get_contents(p, &text, NULL, NULL))
        text = NULL;
    g_free(p);
    return text;
}

static void
test_alias_map_follows_the_lists(void)
{
    Instance *inst = unit_instance_new();
    GError *e = NULL;
    char *text, *home_arg;

    g_assert_true(list_create(inst, "alpha", "o@example.org", NULL, &e));
    g_assert_true(list_create(inst, "beta", "o@example.org", NULL, &e));
    g_assert_true(aliases_update(inst, &e));       /* aliases_postalias is off by default */
    g_assert_no_error(e);
    text = read_aliases(inst);
    home_arg = g_strdup_printf("--home %s deliver --ctl alpha\"", inst->home);
    g_assert_nonnull(strstr(text, home_arg));
    g_assert_nonnull(strstr(text, "beta-admin:"));
    g_assert_nonnull(strstr(text, "deliver --admin beta\""));
    g_free(text);
    g_assert_true(list_remove(inst, "alpha", TRUE, NULL, &e));
    g_assert_true(aliases_write(inst, &e));
    text = read_aliases(inst);
    g_assert_null(strstr(text, "alpha"));
    g_assert_nonnull(strstr(text, "beta:"));
    g_free(text);
    /* postalias on a map it cannot use fails with a temporary error, not silently */
    if (g_file_test("/usr/sbin/postalias", G_FILE_TEST_IS_EXECUTABLE)) {
        char *nodir = g_build_filename(inst->home, "no-such-postfix-dir", NULL);
        g_assert_false(aliases_postalias(inst, nodir, &e));
        g_assert_error(e, KAIRAN_ERROR, EXIT_TEMPFAIL);
        g_clear_error(&e);
        g_free(nodir);
    }
    g_free(home_arg);
    unit_instance_free(inst);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/settings/sections", test_every_key_has_a_section);
    g_test_add_func("/settings/defaults", test_entries_without_section_or_title);
    g_test_add_func("/aliases/follow", test_alias_map_follows_the_lists);
    return g_test_run();
}
