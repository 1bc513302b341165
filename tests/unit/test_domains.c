/* test_domains.c - unit tests of src/lib/domains.c in a temporary
 * instance: domain names, domain_add/remove (refusals: the default
 * domain, twice, a bad URL, a domain with lists), list ids (list_resolve
 * in any case and for NAME@<default>, list_id_for naming kairan domain
 * add), the pieces of an id (name, domain, address, List-Id token),
 * list_web_url falling back to [global] web_url, list_of_address and
 * list_create per domain. */
#include "config.h"
#include "domains.h"
#include "lists.h"
#include "log.h"
#include "util.h"
#include "unit_instance.h"

#include <string.h>

static void
test_domain_names(void)
{
    const char *good[] = { "a.example", "b", "x-1.example.org", "0.example", NULL };
    const char *bad[] = { "", ".a", "a.", "a..b", "-a.example", "a-.example", "A.example", "a_b.example",
                          "a b", "a/b", NULL };
    for (int i = 0; good[i]; i++)
        if (!domain_name_valid(good[i], NULL))
            g_error("domain '%s' refused", good[i]);
    for (int i = 0; bad[i]; i++) {
        const char *why = NULL;
        if (domain_name_valid(bad[i], &why))
            g_error("domain '%s' accepted", bad[i]);
        g_assert_nonnull(why);
    }
}

static void
test_add_remove(void)
{
    Instance *inst = unit_instance_new();
    GError *error = NULL;
    GPtrArray *a;

    g_assert_true(domain_is_local(inst, "LISTS.example.test"));
    g_assert_false(domain_is_local(inst, "a.example"));
    g_assert_true(domain_add(inst, "a.example", NULL, &error));
    g_assert_no_error(error);
    g_assert_true(domain_is_local(inst, "A.Example"));
    g_assert_false(domain_add(inst, "a.example", NULL, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    g_assert_false(domain_add(inst, "lists.example.test", NULL, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    g_assert_false(domain_add(inst, "b.example", "mailto:x@y", &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    g_assert_true(domain_add(inst, "b.example", "https://b.example/ml", &error));

    g_assert_true(list_create(inst, "team@a.example", NULL, NULL, &error));
    g_assert_no_error(error);
    g_assert_false(domain_remove(inst, "a.example", &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_assert_nonnull(strstr(error->message, "team@a.example"));
    g_clear_error(&error);
    g_assert_false(domain_remove(inst, "lists.example.test", &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    g_assert_false(domain_remove(inst, "nosuch.example", &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_NOUSER);
    g_clear_error(&error);

    a = domain_list(inst);
    g_assert_cmpuint(a->len, ==, 3);
    g_assert_true(((Domain *) a->pdata[0])->is_default);
    g_assert_cmpstr(((Domain *) a->pdata[1])->name, ==, "a.example");
    g_assert_cmpint(((Domain *) a->pdata[1])->lists, ==, 1);
    g_assert_cmpstr(((Domain *) a->pdata[2])->web_url, ==, "https://b.example/ml");
    g_ptr_array_unref(a);

    g_assert_true(list_remove(inst, "team@a.example", TRUE, NULL, &error));
    g_assert_true(domain_remove(inst, "a.example", &error));
    g_assert_no_error(error);
    g_assert_false(domain_is_local(inst, "a.example"));
    unit_instance_free(inst);
}

static void
test_ids(void)
{
    Instance *inst = unit_instance_new();
    GError *error = NULL;
    char *s;

    g_assert_true(domain_add(inst, "b.example", "https://b.example/ml/", &error));
    g_assert_true(list_create(inst, "team", NULL, NULL, &error));
    g_assert_true(list_create(inst, "team@b.example", NULL, NULL, &error));
    g_assert_no_error(error);
    /* an id of the default domain must be bare; of an unknown domain, refused */
    g_assert_false(list_create(inst, "x@lists.example.test", NULL, NULL, &error));
    g_clear_error(&error);
    g_assert_false(list_create(inst, "x@c.example", NULL, NULL, &error));
    g_assert_nonnull(strstr(error->message, "kairan domain add c.example"));
    g_clear_error(&error);

    s = list_resolve(inst, "team@B.Example", &error);
    g_assert_cmpstr(s, ==, "team@b.example");
    g_free(s);
    s = list_resolve(inst, "TEAM@b.example", &error);      /* names are lower case */
    g_assert_null(s);
    g_clear_error(&error);
    s = list_resolve(inst, "team@lists.example.test", &error);
    g_assert_cmpstr(s, ==, "team");
    g_free(s);
    s = list_resolve(inst, "team@c.example", &error);
    g_assert_null(s);
    g_assert_error(error, KAIRAN_ERROR, EXIT_NOUSER);
    g_clear_error(&error);
    s = list_resolve(inst, "../team", &error);
    g_assert_null(s);
    g_clear_error(&error);

    s = list_id_for(inst, "news@c.example", &error);
    g_assert_null(s);
    g_assert_nonnull(strstr(error->message, "kairan domain add c.example"));
    g_clear_error(&error);
    s = list_id_for(inst, "News@b.example", &error);     /* names are lower case */
    g_assert_null(s);
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    s = list_id_for(inst, "news@B.EXAMPLE", &error);
    g_assert_cmpstr(s, ==, "news@b.example");
    g_free(s);

    s = list_address(inst, "team@b.example", "-admin");
    g_assert_cmpstr(s, ==, "team-admin@b.example");
    g_free(s);
    s = list_address(inst, "team", "-ctl");
    g_assert_cmpstr(s, ==, "team-ctl@lists.example.test");
    g_free(s);
    s = list_id_header(inst, "team@b.example");
    g_assert_cmpstr(s, ==, "team.b.example");
    g_free(s);
    s = list_name("team@b.example");
    g_assert_cmpstr(s, ==, "team");
    g_free(s);
    s = list_domain(inst, "team");
    g_assert_cmpstr(s, ==, "lists.example.test");
    g_free(s);
    s = list_web_url(inst, "team@b.example");
    g_assert_cmpstr(s, ==, "https://b.example/ml/");
    g_free(s);
    g_assert_null(list_web_url(inst, "team"));      /* [global] web_url is empty */

    s = list_of_address(inst, "Team-Admin+x@B.example");
    g_assert_cmpstr(s, ==, "team@b.example");
    g_free(s);
    s = list_of_address(inst, "team@lists.example.test");
    g_assert_cmpstr(s, ==, "team");
    g_free(s);
    g_assert_null(list_of_address(inst, "team@c.example"));
    g_assert_null(list_of_address(inst, "other@b.example"));
    unit_instance_free(inst);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_set_stderr(FALSE);
    g_test_add_func("/domains/names", test_domain_names);
    g_test_add_func("/domains/add_remove", test_add_remove);
    g_test_add_func("/domains/ids", test_ids);
    return g_test_run();
}
