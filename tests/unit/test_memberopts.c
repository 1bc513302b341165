/* test_memberopts.c - unit tests of src/lib/memberopts.c and the fan-out
 * query of lists.c with the member options: values (on/off words, dates:
 * real calendar days only, "until " prefix, off), the first second of a
 * date, setting options (unknown ones, non-members), and who the
 * recipients are with vacation (future, past) and nodupes (in the To/Cc
 * set or not). */
#include "config.h"
#include "lists.h"
#include "log.h"
#include "memberopts.h"
#include "queue.h"
#include "util.h"
#include "unit_instance.h"

#include <string.h>

static char *
norm(const char *name, const char *value)
{
    GError *e = NULL;
    char *v = memberopts_normalize(memberopts_find(name), value, &e);
    if (!v) {
        g_assert_error(e, KAIRAN_ERROR, EXIT_USAGE);
        g_assert_nonnull(strstr(e->message, "valid values"));
        g_error_free(e);
    }
    return v;
}

static void
check_norm(const char *name, const char *value, const char *want)
{
    char *v = norm(name, value);
    if (g_strcmp0(v, want) != 0)
        g_error("%s '%s': got '%s', want '%s'", name, value, v ? v : "(refused)", want ? want : "(refused)");
    g_free(v);
}

static void
test_values(void)
{
    check_norm("nodupes", "on", "on");
    check_norm("nodupes", " YES ", "on");
    check_norm("nodupes", "true", "on");
    check_norm("receive_own_posts", "off", "off");
    check_norm("receive_own_posts", "0", "off");
    check_norm("hide_address", "maybe", NULL);
    check_norm("hide_address", "", NULL);
    check_norm("vacation", "2026-12-24", "2026-12-24");
    check_norm("vacation", "until 2026-12-24", "2026-12-24");
    check_norm("vacation", "UNTIL   2026-12-24", "2026-12-24");
    check_norm("vacation", "off", "off");
    check_norm("vacation", "", "off");
    check_norm("vacation_until", "2028-02-29", "2028-02-29");     /* the API's name */
    check_norm("vacation", "2026-02-29", NULL);                   /* no such day */
    check_norm("vacation", "2026-13-01", NULL);
    check_norm("vacation", "2026-1-5", NULL);
    check_norm("vacation", "2026-01-05x", NULL);
    check_norm("vacation", "+026-01-05", NULL);
    check_norm("vacation", "1969-12-31", NULL);
    check_norm("vacation", "until", NULL);
    check_norm("vacation", "tomorrow", NULL);
    g_assert_null(memberopts_find("colour"));
    g_assert_null(memberopts_find(NULL));
    g_assert_cmpint(memberopts_date_start("2026-12-02"), ==, 1796169600);
    g_assert_cmpint(memberopts_date_start("1970-01-01"), ==, 0);
    g_assert_cmpint(memberopts_date_start("2026-12-32"), ==, -1);
    g_assert_cmpint(memberopts_date_start(NULL), ==, -1);
}

static gboolean
has(QueueRcpts *r, const char *addr)
{
    /* the address is one envelope line of r (its form is queue.c's) */
    gboolean found = FALSE;
    for (const char *p = r->lines->str; p && *p && !found; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *sp = strchr(p, ' ');
        size_t n = strlen(addr);
        found = sp && strncmp(sp + 1, addr, n) == 0 && (sp[1 + n] == '\n' || sp[1 + n] == '\0');
    }
    return found;
}

static void
test_fanout(void)
{
    Instance *inst = unit_instance_new();
    GError *e = NULL;
    const char *people[] = { "a@example.org", "b@example.org", "c@example.org", "d@example.org", NULL };
    GHashTable *direct = g_hash_table_new(g_str_hash, g_str_equal);
    QueueRcpts *r;
    Member *m;
    char *v, *future, *past;
    GDateTime *now = g_date_time_new_from_unix_utc(now_seconds());
    GDateTime *f = g_date_time_add_days(now, 10), *p = g_date_time_add_days(now, -10);

    future = g_date_time_format(f, "%Y-%m-%d");
    past = g_date_time_format(p, "%Y-%m-%d");
    g_assert_true(list_create(inst, "team", NULL, NULL, &e));
    for (int i = 0; people[i]; i++)
        g_assert_true(member_add(inst, "team", people[i], NULL, FALSE, NULL, &e));
    m = member_get(inst, "team", "a@example.org");
    g_assert_true(m->receive_own && !m->nodupes && !m->acknowledge && !m->hide_address && m->vacation_until == 0);
    member_free(m);

    g_assert_true(memberopts_set(inst, "team", "a@example.org", "vacation", future, &e));
    g_assert_true(memberopts_set(inst, "team", "b@example.org", "vacation", past, &e));
    g_assert_true(memberopts_set(inst, "team", "c@example.org", "nodupes", "on", &e));
    g_assert_true(memberopts_set(inst, "team", "d@example.org", "receive_own_posts", "off", &e));
    g_assert_no_error(e);
    g_assert_false(memberopts_set(inst, "team", "x@example.org", "nodupes", "on", &e));
    g_assert_error(e, KAIRAN_ERROR, EXIT_NOUSER);
    g_clear_error(&e);
    g_assert_false(memberopts_set(inst, "team", "a@example.org", "colour", "on", &e));
    g_assert_error(e, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&e);

    m = member_get(inst, "team", "a@example.org");
    v = memberopts_value(m, memberopts_find("vacation"));
    g_assert_true(g_str_has_prefix(v, "until ") && g_str_equal(v + 6, future));
    g_free(v);
    member_free(m);
    m = member_get(inst, "team", "b@example.org");
    v = memberopts_value(m, memberopts_find("vacation"));
    g_assert_cmpstr(v, ==, "off");              /* a pause that is over */
    g_free(v);
    member_free(m);

    r = list_fanout_rcpts_direct(inst, "team", NULL, NULL);
    g_assert_cmpuint(r->count, ==, 3);
    g_assert_false(has(r, "a@example.org"));    /* on vacation */
    g_assert_true(has(r, "b@example.org"));     /* the vacation is over */
    queue_rcpts_free(r);
    g_hash_table_add(direct, "c@example.org");
    g_hash_table_add(direct, "b@example.org");  /* named, but without nodupes */
    r = list_fanout_rcpts_direct(inst, "team", "d@example.org", direct);
    g_assert_cmpuint(r->count, ==, 1);
    g_assert_true(has(r, "b@example.org"));
    queue_rcpts_free(r);
    g_assert_true(memberopts_set(inst, "team", "a@example.org", "vacation", "off", &e));
    r = list_fanout_rcpts(inst, "team", NULL);
    g_assert_cmpuint(r->count, ==, 4);
    queue_rcpts_free(r);

    g_hash_table_unref(direct);
    g_date_time_unref(now);
    g_date_time_unref(f);
    g_date_time_unref(p);
    g_free(future);
    g_free(past);
    unit_instance_free(inst);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memberopts/values", test_values);
    g_test_add_func("/memberopts/fanout", test_fanout);
    return g_test_run();
}
