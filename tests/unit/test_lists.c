/* test_lists.c - unit tests of src/lib/lists.c in a temporary instance:
 * list names, list_create (rows, spool directories, owner, refusals),
 * members (add, re-add, flags, removal, who gets posts, bans) and the
 * POP3 password (hash stored, verified; the APOP secret and pop3_apop). */
#include "config.h"
#include "lists.h"
#include "log.h"
#include "settings.h"
#include "db.h"
#include "util.h"
#include "unit_instance.h"

#include <string.h>

static void
test_names(void)
{
    const char *good[] = { "team", "a", "0day", "dev.ops", "big_team-2", NULL };
    const char *bad[] = { "", "Team", "-team", ".team", "_team", "team ctl", "../team", "team/x",
                          "team-ctl", "team-admin", "team-request", "team-owner", "t\xc3" "\xa9" "am", NULL };
    char *longname = g_strnfill(65, 'a');
    const char *why = NULL;

    for (int i = 0; good[i]; i++)
        g_assert_true(list_name_valid(good[i], NULL));
    for (int i = 0; bad[i]; i++) {
        why = NULL;
        if (list_name_valid(bad[i], &why))
            g_error("list name '%s' accepted", bad[i]);
        g_assert_nonnull(why);
    }
    g_assert_false(list_name_valid(longname, NULL));
    longname[64] = '\0';
    g_assert_true(list_name_valid(longname, NULL));
    g_free(longname);
}

static void
test_create(void)
{
    Instance *inst = unit_instance_new();
    GError *error = NULL;
    char **names;
    char *dir, *hash;

    g_assert_false(list_exists(inst, "team"));
    g_assert_true(list_create(inst, "team", "owner@example.org", "pbkdf2-sha256$1000$aa$bb", &error));
    g_assert_no_error(error);
    g_assert_true(list_exists(inst, "team"));
    for (const char **sub = (const char *[]) { "archive", "held", NULL }; *sub; sub++) {
        dir = instance_path(inst, "spool", "team", *sub, NULL);
        g_assert_true(g_file_test(dir, G_FILE_TEST_IS_DIR));
        g_free(dir);
    }
    g_assert_true(list_is_owner(inst, "team", "owner@example.org"));
    g_assert_false(list_is_owner(inst, "team", "other@example.org"));
    g_assert_true(list_is_moderator(inst, "team", "owner@example.org"));  /* moderators default to owners */
    g_assert_cmpint(list_last_number(inst, "team"), ==, 0);
    hash = list_password_hash(inst, "team");
    g_assert_cmpstr(hash, ==, "pbkdf2-sha256$1000$aa$bb");
    g_free(hash);
    g_assert_true(list_set_password_hash(inst, "team", "new", &error));
    hash = list_password_hash(inst, "team");
    g_assert_cmpstr(hash, ==, "new");
    g_free(hash);

    /* a second list without owner or password */
    g_assert_true(list_create(inst, "alpha", NULL, NULL, &error));
    g_assert_no_error(error);
    g_assert_null(list_password_hash(inst, "alpha"));
    names = list_names(inst);
    g_assert_cmpuint(g_strv_length(names), ==, 2);
    g_assert_cmpstr(names[0], ==, "alpha");                 /* sorted */
    g_assert_cmpstr(names[1], ==, "team");
    g_strfreev(names);

    /* refusals: existing list, bad names; nothing is created for them */
    g_assert_false(list_create(inst, "team", NULL, NULL, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    g_assert_false(list_create(inst, "../evil", NULL, NULL, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    g_assert_false(list_create(inst, "news-admin", NULL, NULL, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    dir = instance_path(inst, "spool", "news-admin", NULL);
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
    g_free(dir);
    dir = instance_path(inst, "evil", NULL);
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
    g_free(dir);
    names = list_names(inst);
    g_assert_cmpuint(g_strv_length(names), ==, 2);
    g_strfreev(names);
    /* a bad owner address is refused and no half list is left */
    g_assert_false(list_create(inst, "beta", "not an address", NULL, &error));
    g_assert_nonnull(error);
    g_clear_error(&error);
    g_assert_false(list_exists(inst, "beta"));
    unit_instance_free(inst);
}

static gboolean
recipients_are(const Instance *inst, const char *list, const char *const *want)
{
    GPtrArray *r = list_recipients(inst, list);
    gboolean same = r->len == g_strv_length((char **) want);
    for (guint i = 0; same && want[i]; i++) {
        gboolean found = FALSE;
        for (guint j = 0; j < r->len; j++)
            found = found || g_str_equal(r->pdata[j], want[i]);
        same = found;
    }
    g_ptr_array_unref(r);
    return same;
}

static void
test_members(void)
{
    Instance *inst = unit_instance_new();
    GError *error = NULL;
    gboolean existed = TRUE;
    gint64 before = now_seconds();
    Member *m;
    GPtrArray *all;
    QueueRcpts *fan;

    g_assert_true(list_create(inst, "team", "owner@example.org", NULL, &error));
    g_assert_true(list_create(inst, "other", NULL, NULL, &error));
    g_assert_true(member_add(inst, "team", "joe@example.org", "Joe", FALSE, &existed, &error));
    g_assert_no_error(error);
    g_assert_false(existed);
    m = member_get(inst, "team", "joe@example.org");
    g_assert_nonnull(m);
    g_assert_cmpstr(m->address, ==, "joe@example.org");
    g_assert_cmpstr(m->name, ==, "Joe");
    g_assert_false(m->nomail || m->digest || m->post_only || m->moderated);
    g_assert_cmpint(m->since, >=, before);
    member_free(m);
    g_assert_true(member_is(inst, "team", "joe@example.org"));
    g_assert_false(member_is(inst, "other", "joe@example.org"));        /* per list */
    g_assert_false(member_is(inst, "team", "Joe@example.org"));         /* stored exact */

    /* adding again keeps the member (and the name when none is given) */
    g_assert_true(member_add(inst, "team", "joe@example.org", NULL, FALSE, &existed, &error));
    g_assert_true(existed);
    m = member_get(inst, "team", "joe@example.org");
    g_assert_cmpstr(m->name, ==, "Joe");
    member_free(m);
    g_assert_cmpint(member_count(inst, "team"), ==, 1);

    g_assert_true(member_add(inst, "team", "ann@example.org", NULL, FALSE, NULL, &error));
    g_assert_true(member_add(inst, "team", "poster@example.org", NULL, TRUE, NULL, &error));
    g_assert_no_error(error);
    m = member_get(inst, "team", "poster@example.org");
    g_assert_true(m->post_only);
    g_assert_true(m->nomail);                     /* a posting address is never mailed */
    member_free(m);
    g_assert_cmpint(member_count(inst, "team"), ==, 3);
    g_assert_true(recipients_are(inst, "team", (const char *[]) { "ann@example.org", "joe@example.org", NULL }));

    /* subscribing a post-only address as a member makes it get the posts
     * (`kairan subscribe` says "updated"); a member's own nomail stays */
    g_assert_true(member_add(inst, "team", "poster@example.org", NULL, FALSE, &existed, &error));
    g_assert_true(existed);
    m = member_get(inst, "team", "poster@example.org");
    g_assert_false(m->post_only);
    g_assert_false(m->nomail);
    member_free(m);
    g_assert_true(recipients_are(inst, "team", (const char *[]) { "ann@example.org", "joe@example.org",
                                                                  "poster@example.org", NULL }));
    g_assert_true(member_set_flag(inst, "team", "ann@example.org", "nomail", TRUE, &error));
    g_assert_true(member_add(inst, "team", "ann@example.org", NULL, FALSE, &existed, &error));
    m = member_get(inst, "team", "ann@example.org");
    g_assert_true(m->nomail);
    member_free(m);
    g_assert_true(member_set_flag(inst, "team", "ann@example.org", "nomail", FALSE, &error));
    g_assert_true(member_add(inst, "team", "poster@example.org", NULL, TRUE, &existed, &error));
    g_assert_no_error(error);
    m = member_get(inst, "team", "poster@example.org");
    g_assert_true(m->post_only && m->nomail);       /* and back to post-only */
    member_free(m);
    g_assert_true(recipients_are(inst, "team", (const char *[]) { "ann@example.org", "joe@example.org", NULL }));

    /* flags */
    g_assert_true(member_set_flag(inst, "team", "ann@example.org", "digest", TRUE, &error));
    g_assert_true(recipients_are(inst, "team", (const char *[]) { "joe@example.org", NULL }));
    g_assert_true(member_set_flag(inst, "team", "ann@example.org", "digest", FALSE, &error));
    g_assert_true(member_set_flag(inst, "team", "joe@example.org", "nomail", TRUE, &error));
    g_assert_true(recipients_are(inst, "team", (const char *[]) { "ann@example.org", NULL }));
    g_assert_true(member_set_flag(inst, "team", "joe@example.org", "nomail", FALSE, &error));
    g_assert_true(member_set_flag(inst, "team", "joe@example.org", "moderated", TRUE, &error));
    g_assert_no_error(error);
    m = member_get(inst, "team", "joe@example.org");
    g_assert_true(m->moderated);
    g_assert_false(m->nomail);
    member_free(m);
    g_assert_true(recipients_are(inst, "team", (const char *[]) { "ann@example.org", "joe@example.org", NULL }));
    g_assert_false(member_set_flag(inst, "team", "joe@example.org", "admin", TRUE, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_USAGE);
    g_clear_error(&error);
    g_assert_false(member_set_flag(inst, "team", "nobody@example.org", "digest", TRUE, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_NOUSER);
    g_clear_error(&error);
    g_assert_false(member_set_flag(inst, "other", "joe@example.org", "digest", TRUE, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_NOUSER);
    g_clear_error(&error);

    /* envelope lines for the fan-out, leaving out the poster */
    fan = list_fanout_rcpts(inst, "team", "joe@example.org");
    g_assert_cmpuint(fan->count, ==, 1);
    g_assert_cmpstr(fan->lines->str, ==, "R ann@example.org\n");
    queue_rcpts_free(fan);
    fan = list_fanout_rcpts(inst, "team", NULL);
    g_assert_cmpuint(fan->count, ==, 2);
    queue_rcpts_free(fan);

    all = member_list(inst, "team");
    g_assert_cmpuint(all->len, ==, 3);
    g_assert_cmpstr(((Member *) all->pdata[0])->address, ==, "ann@example.org");    /* by address */
    g_assert_cmpstr(((Member *) all->pdata[2])->address, ==, "poster@example.org");
    g_ptr_array_unref(all);

    /* removal */
    g_assert_true(member_remove(inst, "team", "joe@example.org", &error));
    g_assert_no_error(error);
    g_assert_false(member_is(inst, "team", "joe@example.org"));
    g_assert_null(member_get(inst, "team", "joe@example.org"));
    g_assert_false(member_remove(inst, "team", "joe@example.org", &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_NOUSER);
    g_clear_error(&error);
    g_assert_cmpint(member_count(inst, "team"), ==, 2);
    unit_instance_free(inst);
}

static void
test_banned(void)
{
    Instance *inst = unit_instance_new();
    GError *error = NULL;

    g_assert_true(list_create(inst, "team", NULL, NULL, &error));
    g_assert_true(list_setting_set(inst, "team", "banned", "spam@example.com *@bad.example ^evil[0-9]+@", &error));
    g_assert_no_error(error);
    g_assert_true(list_is_banned(inst, "team", "SPAM@example.com"));
    g_assert_true(list_is_banned(inst, "team", "x@bad.example"));
    g_assert_true(list_is_banned(inst, "team", "Evil42@example.org"));
    g_assert_false(list_is_banned(inst, "team", "good@example.org"));
    g_assert_false(list_is_banned(inst, "team", "x@notbad.example.org"));
    g_assert_false(list_is_banned(inst, "team", ""));
    g_assert_false(member_add(inst, "team", "x@bad.example", NULL, FALSE, NULL, &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_DATAERR);
    g_clear_error(&error);
    g_assert_false(member_is(inst, "team", "x@bad.example"));
    g_assert_true(member_add(inst, "team", "good@example.org", NULL, FALSE, NULL, &error));
    g_assert_no_error(error);
    unit_instance_free(inst);
}

static char *
stored_column(Instance *inst, const char *column, const char *addr)
{
    char *sql = g_strdup_printf("SELECT %s FROM members WHERE list = 'team' AND address = ?", column);
    sqlite3_stmt *st = db_prepare(inst->db, sql);
    char *v = NULL;
    sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = g_strdup((const char *) sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    g_free(sql);
    return v;
}

static void
test_pop_password(void)
{
    Instance *inst = unit_instance_new();
    GError *error = NULL;
    gboolean is_member = FALSE;
    char *v;

    g_assert_true(list_create(inst, "team", NULL, NULL, &error));
    g_assert_true(member_add(inst, "team", "joe@example.org", NULL, FALSE, NULL, &error));
    /* no password yet: nothing verifies, but he is a member */
    g_assert_false(member_pop_password_verify(inst, "team", "joe@example.org", "", &is_member));
    g_assert_true(is_member);
    g_assert_true(member_set_pop_password(inst, "team", "joe@example.org", "pop s3cret", &error));
    g_assert_no_error(error);
    g_assert_true(member_pop_password_verify(inst, "team", "joe@example.org", "pop s3cret", &is_member));
    g_assert_true(is_member);
    g_assert_false(member_pop_password_verify(inst, "team", "joe@example.org", "pop s3creT", NULL));
    g_assert_false(member_pop_password_verify(inst, "team", "joe@example.org", "", NULL));
    g_assert_false(member_pop_password_verify(inst, "team", "nobody@example.org", "pop s3cret", &is_member));
    g_assert_false(is_member);
    /* what is stored is a PBKDF2 hash, not the password */
    v = stored_column(inst, "pop_password", "joe@example.org");
    g_assert_true(g_str_has_prefix(v, "pbkdf2-sha256$"));
    g_assert_null(strstr(v, "s3cret"));
    g_free(v);
    /* APOP (on by default) needs the secret itself */
    g_assert_true(pop3_apop_enabled(inst));
    v = member_apop_secret(inst, "team", "joe@example.org");
    g_assert_cmpstr(v, ==, "pop s3cret");
    g_free(v);
    /* not a member: refused, nothing stored */
    g_assert_false(member_set_pop_password(inst, "team", "nobody@example.org", "x", &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_NOUSER);
    g_clear_error(&error);

    /* pop3_apop = no: only the hash is kept, no APOP secret is given out */
    g_key_file_set_string(inst->conf, "global", "pop3_apop", "no");
    g_assert_false(pop3_apop_enabled(inst));
    g_assert_null(member_apop_secret(inst, "team", "joe@example.org"));
    g_assert_true(member_set_pop_password(inst, "team", "joe@example.org", "second", &error));
    g_assert_no_error(error);
    v = stored_column(inst, "apop_secret", "joe@example.org");
    g_assert_null(v);
    g_assert_true(member_pop_password_verify(inst, "team", "joe@example.org", "second", NULL));
    g_assert_false(member_pop_password_verify(inst, "team", "joe@example.org", "pop s3cret", NULL));
    unit_instance_free(inst);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_set_stderr(FALSE);
    g_test_add_func("/lists/names", test_names);
    g_test_add_func("/lists/create", test_create);
    g_test_add_func("/lists/members", test_members);
    g_test_add_func("/lists/banned", test_banned);
    g_test_add_func("/lists/pop-password", test_pop_password);
    return g_test_run();
}
