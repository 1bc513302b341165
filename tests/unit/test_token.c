/* test_token.c - unit tests of src/lib/token.c in a temporary instance:
 * tokens are made and checked, single use, expire, refuse tampering (of
 * the token or of its row: another list, action, address or expiry) and
 * the secret of another instance, and report what they were made for. */
#include "config.h"
#include "token.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "unit_instance.h"

#include <string.h>

static char *
make(Instance *inst, const char *list, const char *action, const char *addr, const char *extra, gint64 life)
{
    GError *error = NULL;
    char *t = token_create(inst, list, action, addr, extra, life, &error);
    g_assert_no_error(error);
    g_assert_nonnull(t);
    return t;
}

static void
test_make_and_use(void)
{
    Instance *inst = unit_instance_new();
    char *t = make(inst, "team", "subscribe", "joe@example.org", "Joe Bloggs", 3600);
    char *t2 = make(inst, "team", "subscribe", "joe@example.org", "Joe Bloggs", 3600);
    char *list = NULL, *action = NULL, *addr = NULL, *extra = NULL;

    g_assert_cmpuint(strlen(t), ==, 32);
    g_assert_cmpuint(strspn(t, "0123456789abcdef"), ==, 32);
    g_assert_cmpstr(t, !=, t2);                        /* a nonce in every token */

    /* peek does not use it up */
    g_assert_cmpint(token_peek(inst, t, NULL, NULL, NULL, NULL), ==, TOKEN_OK);
    g_assert_cmpint(token_peek(inst, t, &list, &action, &addr, &extra), ==, TOKEN_OK);
    g_assert_cmpstr(list, ==, "team");
    g_assert_cmpstr(action, ==, "subscribe");
    g_assert_cmpstr(addr, ==, "joe@example.org");
    g_assert_cmpstr(extra, ==, "Joe Bloggs");
    g_free(list);
    g_free(action);
    g_free(addr);
    g_free(extra);
    list = action = addr = extra = NULL;

    /* single use */
    g_assert_cmpint(token_consume(inst, t, &list, &action, &addr, &extra), ==, TOKEN_OK);
    g_assert_cmpstr(list, ==, "team");
    g_assert_cmpstr(action, ==, "subscribe");
    g_assert_cmpstr(addr, ==, "joe@example.org");
    g_assert_cmpstr(extra, ==, "Joe Bloggs");
    g_free(list);
    g_free(action);
    g_free(addr);
    g_free(extra);
    list = action = addr = extra = NULL;
    g_assert_cmpint(token_consume(inst, t, &list, &action, &addr, &extra), ==, TOKEN_USED);
    g_assert_null(list);                               /* nothing handed out */
    g_assert_null(addr);
    g_assert_cmpint(token_peek(inst, t, NULL, NULL, NULL, NULL), ==, TOKEN_USED);
    /* the other token of the same request is still good */
    g_assert_cmpint(token_consume(inst, t2, NULL, NULL, NULL, NULL), ==, TOKEN_OK);
    g_free(t);
    g_free(t2);

    /* extra NULL comes back empty; extra may hold new lines */
    t = make(inst, "team", "unsubscribe", "joe@example.org", NULL, 60);
    g_assert_cmpint(token_consume(inst, t, NULL, NULL, NULL, &extra), ==, TOKEN_OK);
    g_assert_cmpstr(extra, ==, "");
    g_free(extra);
    g_free(t);
    t = make(inst, "team", "chaddr", "old@example.org", "new@example.org\nsecond line", 60);
    g_assert_cmpint(token_consume(inst, t, NULL, NULL, NULL, &extra), ==, TOKEN_OK);
    g_assert_cmpstr(extra, ==, "new@example.org\nsecond line");
    g_free(extra);
    g_free(t);
    unit_instance_free(inst);
}

static void
test_expiry(void)
{
    Instance *inst = unit_instance_new();
    char *t = make(inst, "team", "subscribe", "joe@example.org", NULL, -1);
    char *list = NULL;

    g_assert_cmpint(token_peek(inst, t, NULL, NULL, NULL, NULL), ==, TOKEN_EXPIRED);
    g_assert_cmpint(token_consume(inst, t, &list, NULL, NULL, NULL), ==, TOKEN_EXPIRED);
    g_assert_null(list);
    g_free(t);
    t = make(inst, "team", "subscribe", "joe@example.org", NULL, 2);
    g_assert_cmpint(token_peek(inst, t, NULL, NULL, NULL, NULL), ==, TOKEN_OK);
    g_free(t);
    g_assert_cmpstr(token_status_text(TOKEN_EXPIRED), !=, token_status_text(TOKEN_USED));
    g_assert_cmpstr(token_status_text(TOKEN_UNKNOWN), !=, token_status_text(TOKEN_OK));
    g_assert_nonnull(strstr(token_status_text(TOKEN_EXPIRED), "expired"));
    unit_instance_free(inst);
}

static void
test_tampered_token(void)
{
    Instance *inst = unit_instance_new();
    char *t = make(inst, "team", "subscribe", "joe@example.org", NULL, 3600);
    char *bad = g_strdup(t);
    char *upper = g_ascii_strup(t, -1);
    char *longer = g_strconcat(t, "0", NULL);
    char *shorter = g_strndup(t, 31);

    bad[31] = bad[31] == '0' ? '1' : '0';
    g_assert_cmpint(token_consume(inst, bad, NULL, NULL, NULL, NULL), ==, TOKEN_UNKNOWN);
    g_assert_cmpint(token_consume(inst, upper, NULL, NULL, NULL, NULL), ==, TOKEN_UNKNOWN);
    g_assert_cmpint(token_consume(inst, longer, NULL, NULL, NULL, NULL), ==, TOKEN_UNKNOWN);
    g_assert_cmpint(token_consume(inst, shorter, NULL, NULL, NULL, NULL), ==, TOKEN_UNKNOWN);
    g_assert_cmpint(token_consume(inst, "", NULL, NULL, NULL, NULL), ==, TOKEN_UNKNOWN);
    g_assert_cmpint(token_consume(inst, NULL, NULL, NULL, NULL, NULL), ==, TOKEN_UNKNOWN);
    g_assert_cmpint(token_consume(inst, "' OR 1=1 --                     ", NULL, NULL, NULL, NULL), ==, TOKEN_UNKNOWN);
    /* none of that used up the real one */
    g_assert_cmpint(token_consume(inst, t, NULL, NULL, NULL, NULL), ==, TOKEN_OK);
    g_free(t);
    g_free(bad);
    g_free(upper);
    g_free(longer);
    g_free(shorter);
    unit_instance_free(inst);
}

static void
alter_row(Instance *inst, const char *token, const char *set)
{
    char *sql = g_strdup_printf("UPDATE tokens SET %s WHERE token = ?", set);
    sqlite3_stmt *st = db_prepare(inst->db, sql);
    GError *error = NULL;
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    g_assert_true(db_step_done(st, &error));
    g_assert_no_error(error);
    g_assert_cmpint(sqlite3_changes(inst->db), ==, 1);
    g_free(sql);
}

/* A row altered in the database does not verify: a token cannot be moved
 * to another list, action or address, nor have its life extended. */
static void
test_tampered_row(void)
{
    Instance *inst = unit_instance_new();
    const char *sets[] = { "list = 'other'", "action = 'unsubscribe'", "address = 'eve@example.org'",
                           "expires = expires + 86400", "extra = 'forged-nonce' || char(10) || 'x'" };

    for (guint i = 0; i < G_N_ELEMENTS(sets); i++) {
        char *t = make(inst, "team", "subscribe", "joe@example.org", NULL, 3600);
        alter_row(inst, t, sets[i]);
        if (token_consume(inst, t, NULL, NULL, NULL, NULL) != TOKEN_UNKNOWN)
            g_error("a token whose row was altered (%s) was accepted", sets[i]);
        g_free(t);
    }
    /* the extra text (not the nonce) is data, not part of the MAC input */
    {
        char *t = make(inst, "team", "subscribe", "joe@example.org", "Joe", 3600);
        char *extra = NULL;
        g_assert_cmpint(token_peek(inst, t, NULL, NULL, NULL, &extra), ==, TOKEN_OK);
        g_assert_cmpstr(extra, ==, "Joe");
        g_free(extra);
        g_free(t);
    }
    unit_instance_free(inst);
}

/* Another instance (another secret) does not accept the token, even with
 * the same row. */
static void
test_other_instance(void)
{
    Instance *a = unit_instance_new();
    Instance *b = unit_instance_new();
    char *t = make(a, "team", "subscribe", "joe@example.org", NULL, 3600);
    char *path = g_build_filename(a->home, "kairan.db", NULL);
    char *sql = g_strdup_printf("ATTACH '%s' AS other;"
                                "INSERT INTO tokens SELECT * FROM other.tokens; DETACH other;", path);
    GError *error = NULL;

    g_assert_cmpstr(a->secret, !=, b->secret);
    g_assert_true(db_exec(b->db, sql, &error));
    g_assert_no_error(error);
    g_assert_cmpint(token_consume(b, t, NULL, NULL, NULL, NULL), ==, TOKEN_UNKNOWN);
    g_assert_cmpint(token_consume(a, t, NULL, NULL, NULL, NULL), ==, TOKEN_OK);
    g_free(sql);
    g_free(path);
    g_free(t);
    unit_instance_free(a);
    unit_instance_free(b);
}

/* Two connections (two processes in real life) race for one token: one
 * wins. */
static void
test_single_use_across_connections(void)
{
    Instance *a = unit_instance_new();
    GError *error = NULL;
    Instance *b = instance_open(a->home, &error);
    char *t = make(a, "team", "subscribe", "joe@example.org", NULL, 3600);

    g_assert_no_error(error);
    g_assert_cmpint(token_peek(b, t, NULL, NULL, NULL, NULL), ==, TOKEN_OK);
    g_assert_cmpint(token_consume(a, t, NULL, NULL, NULL, NULL), ==, TOKEN_OK);
    g_assert_cmpint(token_consume(b, t, NULL, NULL, NULL, NULL), ==, TOKEN_USED);
    /* the connection is not left inside a transaction */
    g_assert_true(sqlite3_get_autocommit(a->db));
    g_assert_true(sqlite3_get_autocommit(b->db));
    g_free(t);
    instance_free(b);
    unit_instance_free(a);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_set_stderr(FALSE);
    g_test_add_func("/token/make-and-use", test_make_and_use);
    g_test_add_func("/token/expiry", test_expiry);
    g_test_add_func("/token/tampered-token", test_tampered_token);
    g_test_add_func("/token/tampered-row", test_tampered_row);
    g_test_add_func("/token/other-instance", test_other_instance);
    g_test_add_func("/token/single-use-across-connections", test_single_use_across_connections);
    return g_test_run();
}
