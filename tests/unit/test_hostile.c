/* test_hostile.c - regression tests for what fuzzing and the hostile
 * input tests found in the posting path and src/lib: each case is an
 * input that once crashed, leaked or produced unsafe output. */
#include "config.h"
#include "deliver/deliver.h"
#include "address.h"
#include "settings.h"
#include "template.h"

#include <string.h>

/* fuzz_subject: a tag format with broken UTF-8 was accepted, and the
 * tagged Subject was not UTF-8 any more. */
static void
test_setting_utf8(void)
{
    char *why = NULL;
    char *v = setting_validate("subject_tag", "\xe5\x9b\x9e\xe7%d", &why);
    g_assert_null(v);
    g_assert_nonnull(why);
    g_free(why);
    v = setting_validate("description", "caf\xc3\xa9 \xff", &why);
    g_assert_null(v);
    g_free(why);
    v = setting_validate("subject_tag", "[\xe6\x97\xa5 %s:%d]", &why);
    g_assert_cmpstr(v, ==, "[\xe6\x97\xa5 %s:%d]");
    g_free(v);
}

/* fuzz_template: control characters were accepted in settings (one
 * reached List-Id through description); only a text setting keeps its
 * line ends, and CR becomes LF there. */
static void
test_setting_controls(void)
{
    char *why = NULL;
    char *v = setting_validate("description", "team\x04talk", &why);
    g_assert_null(v);
    g_assert_nonnull(strstr(why, "control characters"));
    g_free(why);
    why = NULL;
    v = setting_validate("allowed_types", "text/pl\x04", &why);
    g_assert_null(v);
    g_free(why);
    why = NULL;
    v = setting_validate("description", "a\tb\x7f", &why);
    g_assert_null(v);
    g_free(why);
    why = NULL;
    v = setting_validate("footer", "-- \r\nline\rtwo\tx", &why);
    g_assert_cmpstr(v, ==, "-- \nline\ntwo\tx");
    g_free(v);
    v = setting_validate("footer", "bell\x07", &why);
    g_assert_null(v);
    g_free(why);
}

/* fuzz_subject: "%7777777777705d" overflowed the width (UBSan). */
static void
test_tag_width_overflow(void)
{
    char *got = subject_tag_apply("x", "[%s %7777777777705d]", "team", 5);
    g_assert_nonnull(strstr(got, "5] x"));
    g_assert_cmpuint(strlen(got), <, 40);
    g_free(got);
    got = subject_tag_apply("Re: y", "%11111110555d", "team", 42);
    g_assert_cmpuint(strlen(got), <, 40);
    g_free(got);
}

/* fuzz_address: an escaped DEL in a quoted local part was accepted, and
 * a bare DEL passed the control character check. */
static void
test_address_del(void)
{
    char *a = address_from_header("\"%\x7f" "0=\"@e\"~q*\x7f= \"@e\"\\\\\\\x7f \"@ex", NULL);
    g_assert_null(a);
    g_assert_null(address_normalize("\"\\\x7f\"@example.org", NULL));
    g_assert_null(address_normalize("a\x7f@example.org", NULL));
    g_assert_null(address_normalize("a@exam\x7fple.org", NULL));
    a = address_normalize("\"a b\"@Example.ORG", NULL);
    g_assert_cmpstr(a, ==, "\"a b\"@example.org");
    g_free(a);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add_func("/hostile/setting-controls", test_setting_controls);
    g_test_add_func("/hostile/setting-utf8", test_setting_utf8);
    g_test_add_func("/hostile/tag-width-overflow", test_tag_width_overflow);
    g_test_add_func("/hostile/address-del", test_address_del);
    return g_test_run();
}
