/* test_imap.c - unit tests of the IMAP command parser (atoms with
 * sections, quoted strings, literals and LITERAL+, lists, the limits),
 * literal announcements, sequence sets, the quoting of answers, the
 * flag strings, and the CRLF conversion of FETCH. */
#include "config.h"
#include "imap/imap.h"

#include <string.h>

static ImapCommand
parse_ok(const char *text, gsize len)
{
    ImapCommand c;
    const char *why = NULL;
    if (!imap_parse_command(text, len ? len : strlen(text), &c, &why))
        g_error("%s: %s", text, why);
    return c;
}

static const char *
parse_bad(const char *text)
{
    ImapCommand c;
    const char *why = NULL;
    gboolean ok = imap_parse_command(text, strlen(text), &c, &why);
    g_assert_false(ok);
    g_assert_nonnull(why);
    imap_command_clear(&c);
    return why;
}

static void
test_parse(void)
{
    ImapCommand c = parse_ok("a1 uid fetch 1:*,3 (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> \\Seen)", 0);
    const ImapArg *list, *a;

    g_assert_cmpstr(c.tag, ==, "a1");
    g_assert_cmpstr(c.name, ==, "UID");
    g_assert_cmpuint(c.args->len, ==, 3);
    g_assert_true(imap_arg_is_atom(c.args->pdata[0], "FETCH"));
    g_assert_cmpstr(imap_arg_string(c.args->pdata[1]), ==, "1:*,3");
    list = c.args->pdata[2];
    g_assert_cmpint(list->type, ==, IMAP_ARG_LIST);
    g_assert_cmpuint(list->list->len, ==, 3);
    a = list->list->pdata[1];
    g_assert_cmpstr(a->str, ==, "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>");
    g_assert_cmpstr(((ImapArg *) list->list->pdata[2])->str, ==, "\\Seen");
    imap_command_clear(&c);

    c = parse_ok("t LOGIN \"a \\\"b\\\\\" {5}\r\nx\0y z", 28);
    g_assert_cmpuint(c.args->len, ==, 2);
    g_assert_cmpstr(imap_arg_string(c.args->pdata[0]), ==, "a \"b\\");
    a = c.args->pdata[1];
    g_assert_cmpint(a->type, ==, IMAP_ARG_STRING);
    g_assert_cmpuint(a->len, ==, 5);
    g_assert_true(memcmp(a->str, "x\0y z", 5) == 0);
    imap_command_clear(&c);

    c = parse_ok("t LOGIN {3+}\r\nabc {0}\r\n", 0);
    g_assert_cmpstr(imap_arg_string(c.args->pdata[0]), ==, "abc");
    g_assert_cmpstr(imap_arg_string(c.args->pdata[1]), ==, "");
    imap_command_clear(&c);

    c = parse_ok("t SEARCH CHARSET UTF-8 TEXT \xe6\x97\xa5\xe6\x9c\xac", 0);
    g_assert_cmpstr(imap_arg_string(c.args->pdata[3]), ==, "\xe6\x97\xa5\xe6\x9c\xac");
    imap_command_clear(&c);

    parse_bad("");
    parse_bad("a1");
    parse_bad("+ NOOP");
    parse_bad("a1 NOOP  x");
    parse_bad("a1 LOGIN \"open");
    parse_bad("a1 LOGIN \"bad\\x\"");
    parse_bad("a1 LOGIN (a b");
    parse_bad("a1 LOGIN {4}\r\nabc");
    parse_bad("a1 LOGIN {70000}\r\n");
    parse_bad("a1 FETCH 1 BODY[");
    {
        GString *deep = g_string_new("a1 X ");
        for (int i = 0; i < 40; i++)
            g_string_append_c(deep, '(');
        for (int i = 0; i < 40; i++)
            g_string_append_c(deep, ')');
        g_assert_cmpstr(parse_bad(deep->str), ==, "lists nested too deep");
        g_string_free(deep, TRUE);
    }
}

static void
test_literal(void)
{
    gboolean nonsync;

    g_assert_cmpint(imap_line_literal("a LOGIN {12}", 12, &nonsync), ==, 12);
    g_assert_false(nonsync);
    g_assert_cmpint(imap_line_literal("a LOGIN {1073741824+}", 21, &nonsync), ==, 1073741824);
    g_assert_true(nonsync);
    g_assert_cmpint(imap_line_literal("a LOGIN x", 9, &nonsync), ==, -1);
    g_assert_cmpint(imap_line_literal("a LOGIN {}", 10, &nonsync), ==, -1);
    g_assert_cmpint(imap_line_literal("{5}", 3, &nonsync), ==, -1);
    g_assert_cmpint(imap_line_literal("a {99999999999999999}", 21, &nonsync), ==, -2);
}

static void
test_sets(void)
{
    GArray *s = imap_parse_set("1:3,7,9:*");

    g_assert_nonnull(s);
    g_assert_true(imap_set_contains(s, 2, 20));
    g_assert_false(imap_set_contains(s, 5, 20));
    g_assert_true(imap_set_contains(s, 20, 20));
    g_array_free(s, TRUE);
    s = imap_parse_set("5:*");          /* * below 5 still means the last one */
    g_assert_true(imap_set_contains(s, 3, 3));
    g_array_free(s, TRUE);
    s = imap_parse_set("4:2");
    g_assert_true(imap_set_contains(s, 3, 10));
    g_array_free(s, TRUE);
    g_assert_null(imap_parse_set("0"));
    g_assert_null(imap_parse_set("1,"));
    g_assert_null(imap_parse_set("1:x"));
    g_assert_null(imap_parse_set("-1"));
    g_assert_null(imap_parse_set("99999999999"));
    g_assert_null(imap_parse_set("$"));
}

static void
test_quote(void)
{
    GString *out = g_string_new(NULL);

    imap_quote(out, "plain \"q\" \\");
    g_assert_cmpstr(out->str, ==, "\"plain \\\"q\\\" \\\\\"");
    g_string_truncate(out, 0);
    imap_quote(out, "\xe6\x97\xa5");
    g_assert_cmpstr(out->str, ==, "{3}\r\n\xe6\x97\xa5");
    g_string_truncate(out, 0);
    imap_quote(out, NULL);
    g_assert_cmpstr(out->str, ==, "NIL");
    g_string_free(out, TRUE);
}

static void
test_flags(void)
{
    char *add[] = { "\\flagged", "todo", "\\Seen", NULL }, *del[] = { "\\SEEN", NULL }, *set[] = { "x", NULL };
    char *f = imap_flags_change("", '+', add), *g, *h;

    g_assert_cmpstr(f, ==, "\\Seen \\Flagged todo");
    g = imap_flags_change(f, '-', del);
    g_assert_cmpstr(g, ==, "\\Flagged todo");
    h = imap_flags_change(g, '=', set);
    g_assert_cmpstr(h, ==, "x");
    g_assert_true(imap_flags_has(f, "\\seen"));
    g_assert_false(imap_flags_has(g, "\\Seen"));
    g_assert_true(imap_flags_valid("\\Answered"));
    g_assert_true(imap_flags_valid("$Label1"));
    g_assert_false(imap_flags_valid("\\Recent"));
    g_assert_false(imap_flags_valid("a]b"));
    g_assert_false(imap_flags_valid(""));
    g_free(f);
    g_free(g);
    g_free(h);
}

static void
test_crlf(void)
{
    GString *s = imap_crlf("a\nb\r\n\nc", 7);
    g_assert_cmpuint(s->len, ==, 9);
    g_assert_true(memcmp(s->str, "a\r\nb\r\n\r\nc", 9) == 0);
    g_string_free(s, TRUE);
    s = imap_crlf("\n\n", 2);
    g_assert_cmpstr(s->str, ==, "\r\n\r\n");
    g_string_free(s, TRUE);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/imap/parse", test_parse);
    g_test_add_func("/imap/literal", test_literal);
    g_test_add_func("/imap/sets", test_sets);
    g_test_add_func("/imap/quote", test_quote);
    g_test_add_func("/imap/flags", test_flags);
    g_test_add_func("/imap/crlf", test_crlf);
    return g_test_run();
}
