/* test_pop3.c - unit tests of the POP3 command parser, the CRLF and
 * dot-stuffing encoder (RETR/TOP wire form and the LIST sizes), the
 * ADDRESS/LIST user split, the APOP digest (the failure counts are lib/authguard.c now:
 * test_authguard.c). */
#include "config.h"
#include "pop3/pop3.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static Pop3CommandId
parse(const char *line, Pop3Command *cmd)
{
    pop3_parse_command(line, cmd);
    return cmd->id;
}

static void
test_parse_ok(void)
{
    Pop3Command c;

    g_assert_cmpint(parse("USER a@b.example/team", &c), ==, POP3_CMD_USER);
    g_assert_cmpstr(c.argv[0], ==, "a@b.example/team");
    pop3_command_clear(&c);
    g_assert_cmpint(parse("pass secret with spaces ", &c), ==, POP3_CMD_PASS);
    g_assert_cmpstr(c.argv[0], ==, "secret with spaces ");
    pop3_command_clear(&c);
    g_assert_cmpint(parse("list", &c), ==, POP3_CMD_LIST);
    g_assert_cmpint(c.argc, ==, 0);
    pop3_command_clear(&c);
    g_assert_cmpint(parse("LIST 3", &c), ==, POP3_CMD_LIST);
    g_assert_cmpstr(c.argv[0], ==, "3");
    pop3_command_clear(&c);
    g_assert_cmpint(parse("TOP 1 0", &c), ==, POP3_CMD_TOP);
    g_assert_cmpstr(c.argv[1], ==, "0");
    pop3_command_clear(&c);
    g_assert_cmpint(parse("APOP u/l c4c9334bac560ecc979e58001b3e22fb", &c), ==, POP3_CMD_APOP);
    pop3_command_clear(&c);
    g_assert_cmpint(parse("AUTH PLAIN AGFAYg==", &c), ==, POP3_CMD_AUTH);
    g_assert_cmpint(c.argc, ==, 2);
    pop3_command_clear(&c);
    g_assert_cmpint(parse("Capa", &c), ==, POP3_CMD_CAPA);
    pop3_command_clear(&c);
    g_assert_cmpint(parse("STLS", &c), ==, POP3_CMD_STLS);
    pop3_command_clear(&c);
    g_assert_cmpint(parse("UIDL 12", &c), ==, POP3_CMD_UIDL);
    pop3_command_clear(&c);
}

static void
test_parse_bad(void)
{
    static const char *bad[] = {
        "", " ", "XYZZY", "RETR", "RETR 0", "RETR -1", "RETR x", "RETR 1 2", "DELE 1a",
        "LIST  1", "TOP 1", "TOP 1 x", "TOP 0 1", "STAT now", "QUIT please", "PASS",
        "PASS ", "USER", "NOOP\x01", "RETR 12345678901234567890",
        "USER aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL
    };
    for (int i = 0; bad[i]; i++) {
        Pop3Command c;
        if (parse(bad[i], &c) != POP3_CMD_BAD)
            g_error("accepted bad command '%s'", bad[i]);
        g_assert_nonnull(c.error);
        pop3_command_clear(&c);
    }
}

static char *
encode(const char *in, gint64 lines, gboolean terminate, size_t block)
{
    Pop3Encoder e;
    GString *out = g_string_new(NULL);
    size_t len = strlen(in);

    pop3_encoder_init(&e, lines, TRUE);
    for (size_t i = 0; i < len; i += block)
        if (!pop3_encode(&e, in + i, MIN(block, len - i), out))
            break;
    pop3_encode_finish(&e, out, terminate);
    return g_string_free(out, FALSE);
}

static gint64
crlf_size(const char *in)
{
    char path[] = "/tmp/kairan-pop3-test-XXXXXX";
    int fd = mkstemp(path);
    gint64 n;
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, in, strlen(in)), ==, (ssize_t) strlen(in));
    lseek(fd, 0, SEEK_SET);
    n = pop3_crlf_size_fd(fd);
    close(fd);
    unlink(path);
    return n;
}

static void
check_encode(const char *in, gint64 lines, const char *want)
{
    /* any block size gives the same bytes */
    for (size_t block = 1; block <= strlen(in) + 1; block++) {
        char *got = encode(in, lines, TRUE, block);
        if (strcmp(got, want) != 0)
            g_error("encode(%s, %" G_GINT64_FORMAT ", block %zu) = '%s', want '%s'",
                    g_strescape(in, NULL), lines, block, g_strescape(got, NULL), g_strescape(want, NULL));
        g_free(got);
    }
}

static void
test_encode(void)
{
    check_encode("A: b\n\nbody\n", -1, "A: b\r\n\r\nbody\r\n.\r\n");
    check_encode(".hidden\n..two\n.\n", -1, "..hidden\r\n...two\r\n..\r\n.\r\n");
    check_encode("no newline at end", -1, "no newline at end\r\n.\r\n");
    check_encode("crlf\r\nalready\r\n", -1, "crlf\r\nalready\r\n.\r\n");
    check_encode("bare\rcr\n", -1, "bare\rcr\r\n.\r\n");
    check_encode("ends in cr\r", -1, "ends in cr\r\r\n.\r\n");
    check_encode("", -1, ".\r\n");
    /* TOP */
    check_encode("H: 1\nI: 2\n\nl1\nl2\n.l3\n", 0, "H: 1\r\nI: 2\r\n\r\n.\r\n");
    check_encode("H: 1\nI: 2\n\nl1\nl2\n.l3\n", 2, "H: 1\r\nI: 2\r\n\r\nl1\r\nl2\r\n.\r\n");
    check_encode("H: 1\n\nl1\n\n.l3\nl4\n", 3, "H: 1\r\n\r\nl1\r\n\r\n..l3\r\n.\r\n");
    check_encode("H: 1\n\nl1\n", 10, "H: 1\r\n\r\nl1\r\n.\r\n");
    check_encode("H: 1\r\n\r\nl1\r\nl2\r\n", 1, "H: 1\r\n\r\nl1\r\n.\r\n");
}

static void
test_sizes(void)
{
    static const char *msgs[] = {
        "A: b\n\nbody\n", ".dot\n..\n", "no newline", "crlf\r\nx\r\n", "bare\rcr\n",
        "ends in cr\r", "", "\n\n\n", NULL
    };
    for (int i = 0; msgs[i]; i++) {
        char *wire = encode(msgs[i], -1, FALSE, 4096);
        Pop3Encoder e;
        GString *plain = g_string_new(NULL);
        /* the size is of the CRLF form before dot stuffing */
        pop3_encoder_init(&e, -1, FALSE);
        pop3_encode(&e, msgs[i], strlen(msgs[i]), plain);
        pop3_encode_finish(&e, plain, FALSE);
        g_assert_cmpint(crlf_size(msgs[i]), ==, (gint64) plain->len);
        g_string_free(plain, TRUE);
        g_free(wire);
    }
    g_assert_cmpint(crlf_size("a\nb\n"), ==, 6);
}

static void
test_split_user(void)
{
    char *addr, *list;
    g_assert_true(pop3_split_user("Ann@Example.ORG/team", &addr, &list));
    g_assert_cmpstr(addr, ==, "Ann@example.org");
    g_assert_cmpstr(list, ==, "team");
    g_free(addr);
    g_free(list);
    g_assert_true(pop3_split_user("ANONYMOUS/team", &addr, &list));
    g_assert_cmpstr(addr, ==, "anonymous");
    g_free(addr);
    g_free(list);
    g_assert_false(pop3_split_user("ann@example.org", &addr, &list));
    g_assert_false(pop3_split_user("ann@example.org/", &addr, &list));
    g_assert_false(pop3_split_user("/team", &addr, &list));
    g_assert_false(pop3_split_user("ann@example.org/../etc", &addr, &list));
    g_assert_false(pop3_split_user("not an address/team", &addr, &list));
}

static void
test_apop_digest(void)
{
    /* the example of RFC 1939 section 7 */
    char *d = pop3_apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf");
    g_assert_cmpstr(d, ==, "c4c9334bac560ecc979e58001b3e22fb");
    g_free(d);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pop3/parse/ok", test_parse_ok);
    g_test_add_func("/pop3/parse/bad", test_parse_bad);
    g_test_add_func("/pop3/encode", test_encode);
    g_test_add_func("/pop3/sizes", test_sizes);
    g_test_add_func("/pop3/split-user", test_split_user);
    g_test_add_func("/pop3/apop-digest", test_apop_digest);
    return g_test_run();
}
