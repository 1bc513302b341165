/* test_authguard.c - unit tests of the guessing guard (lib/authguard.c):
 * the keys of client addresses (IPv6 by /64, IPv4-mapped as IPv4) and
 * accounts, the penalty curve, and the counts in a real kairan.db
 * (failures per key, the delay from the last failure, forgetting). */
#include "config.h"
#include "authguard.h"
#include "db.h"
#include "instance.h"

#include <glib/gstdio.h>
#include <string.h>

static void
check_key(const char *ip, const char *want)
{
    char *k = authguard_ip_key(ip);
    g_assert_cmpstr(k, ==, want);
    g_free(k);
}

static void
test_ip_key(void)
{
    check_key("192.0.2.7", "ip:192.0.2.7");
    check_key("::ffff:192.0.2.7", "ip:192.0.2.7");
    /* one /64: the same key whatever the host part */
    check_key("2001:db8:1:2::1", "ip:2001:db8:1:2::/64");
    check_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "ip:2001:db8:1:2::/64");
    check_key("2001:0DB8:0001:0002:0:0:0:9", "ip:2001:db8:1:2::/64");
    check_key("2001:db8:1:3::1", "ip:2001:db8:1:3::/64");
    check_key("::1", "ip:0:0:0:0::/64");
    check_key("unknown", "ip:unknown");
    check_key("", NULL);
    check_key(NULL, NULL);
}

static void
test_account_key(void)
{
    char *k = authguard_account_key("Owner@Example.ORG/team");
    g_assert_cmpstr(k, ==, "acct:owner@example.org/team");
    g_free(k);
    g_assert_null(authguard_account_key(""));
    g_assert_null(authguard_account_key(NULL));
}

static void
test_penalty(void)
{
    g_assert_cmpint(authguard_penalty_ms(0, 3, 15000), ==, 0);
    g_assert_cmpint(authguard_penalty_ms(2, 3, 15000), ==, 0);
    g_assert_cmpint(authguard_penalty_ms(3, 3, 15000), ==, 250);
    g_assert_cmpint(authguard_penalty_ms(4, 3, 15000), ==, 500);
    g_assert_cmpint(authguard_penalty_ms(8, 3, 15000), ==, 8000);
    g_assert_cmpint(authguard_penalty_ms(9, 3, 15000), ==, 15000);
    g_assert_cmpint(authguard_penalty_ms(1000000, 3, 15000), ==, 15000);
    g_assert_cmpint(authguard_penalty_ms(1, 0, 15000), ==, 500);
}

static void
test_counts(void)
{
    GError *error = NULL;
    char *dir = g_dir_make_tmp("authguard-XXXXXX", &error);
    char *path = g_build_filename(dir, "kairan.db", NULL);
    Instance inst = { 0 };
    gint64 n = 0;

    g_assert_no_error(error);
    inst.conf = g_key_file_new();
    inst.db = db_open(path, TRUE, &error);
    g_assert_no_error(error);
    g_assert_cmpint(authguard_delay(&inst, "test", "192.0.2.1", "team"), ==, 0);
    for (int i = 0; i < 3; i++)
        n = authguard_failed(&inst, "test", "192.0.2.1", "team");
    g_assert_cmpint(n, ==, 3);
    /* third failure: 250 ms from it, for the address and for the account */
    g_assert_cmpint(authguard_delay(&inst, "test", "192.0.2.1", NULL), >, 150);
    g_assert_cmpint(authguard_delay(&inst, "test", "192.0.2.99", "TEAM"), >, 150);
    g_assert_cmpint(authguard_delay(&inst, "test", "192.0.2.99", "other"), ==, 0);
    /* the delay runs from the last failure */
    g_usleep(300 * 1000);
    g_assert_cmpint(authguard_delay(&inst, "test", "192.0.2.1", "team"), ==, 0);
    /* a right password forgets the address, not the account */
    authguard_succeeded(&inst, "test", "192.0.2.1", "team");
    n = authguard_failed(&inst, "test", "192.0.2.1", "team");
    g_assert_cmpint(n, ==, 4);
    g_assert_cmpint(authguard_delay(&inst, "test", "192.0.2.1", NULL), ==, 0);
    g_assert_cmpint(authguard_delay(&inst, "test", NULL, "team"), >, 300);
    /* forgotten after auth_guard_forget without a failure */
    g_key_file_set_string(inst.conf, "global", "auth_guard_forget", "1");
    g_usleep(1100 * 1000);
    g_assert_cmpint(authguard_delay(&inst, "test", NULL, "team"), ==, 0);
    n = authguard_failed(&inst, "test", NULL, "team");
    g_assert_cmpint(n, ==, 1);

    db_close(inst.db);
    g_key_file_free(inst.conf);
    g_unlink(path);
    {
        char *wal = g_strconcat(path, "-wal", NULL), *shm = g_strconcat(path, "-shm", NULL);
        g_unlink(wal);
        g_unlink(shm);
        g_free(wal);
        g_free(shm);
    }
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/authguard/ip-key", test_ip_key);
    g_test_add_func("/authguard/account-key", test_account_key);
    g_test_add_func("/authguard/penalty", test_penalty);
    g_test_add_func("/authguard/counts", test_counts);
    return g_test_run();
}
