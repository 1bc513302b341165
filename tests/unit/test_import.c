/* test_import.c - unit tests of kairan import's parsers: fml config.ph
 * assignments, Mailman 2.1 config_list literals (pylit.c), JSON (json.c)
 * and mbox splitting / mboxrd quoting (mbox.c), each with the errors
 * that must name the file and the line. */
#include "config.h"
#include "import/import.h"
#include "log.h"
#include "util.h"

#include <gmime/gmime.h>

#include <string.h>

static void
test_fml(void)
{
    const char *src = "# comment\n$MAIL_LIST = \"elena\\@fml.org\";\n$N = 5; # trailing\n"
                      "$Q = 'it\\'s';\n&DEFINE_MODE('x');\n1;\n";
    GPtrArray *other = g_ptr_array_new_with_free_func(g_free);
    GError *e = NULL;
    GHashTable *v = fml_parse_config_ph(src, strlen(src), "config.ph", other, &e);

    g_assert_no_error(e);
    g_assert_cmpstr(g_hash_table_lookup(v, "MAIL_LIST"), ==, "elena@fml.org");
    g_assert_cmpstr(g_hash_table_lookup(v, "N"), ==, "5");
    g_assert_cmpstr(g_hash_table_lookup(v, "Q"), ==, "it's");
    g_assert_cmpuint(other->len, ==, 1);      /* &DEFINE_MODE; "1;" is not named */
    g_assert_nonnull(strstr(g_ptr_array_index(other, 0), "config.ph:5"));
    g_hash_table_unref(v);
    g_ptr_array_unref(other);

    src = "$A = 1;\n\n$B = \"never ends;\n";
    g_assert_null(fml_parse_config_ph(src, strlen(src), "config.ph", NULL, &e));
    g_assert_error(e, KAIRAN_ERROR, EXIT_DATAERR);
    g_assert_nonnull(strstr(e->message, "config.ph:3"));
    g_clear_error(&e);
    src = "$A = 1\n";
    g_assert_null(fml_parse_config_ph(src, strlen(src), "config.ph", NULL, &e));
    g_assert_nonnull(strstr(e->message, "config.ph:1: expected ';'"));
    g_clear_error(&e);
}

static void
test_pylit(void)
{
    const char *src = "## header\nreal_name = 'Dev'\nowner = ['a@b.example',\n  \"c@d.example\",  # c\n]\n"
                      "info = \"\"\"two\nlines 'q'\"\"\"\nn = 40L\nf = 2.5\nt = True\nnone = None\n"
                      "s = u'\\xe9\\u3042\\101\\n' 'x'\nd = {'k': (1, 2)}\n";
    GError *e = NULL;
    ImportValue *v = pylit_parse_config(src, strlen(src), "config", &e);
    ImportValue *x;
    char *t;

    g_assert_no_error(e);
    g_assert_cmpstr((t = import_value_text(import_value_get(v, "real_name"))), ==, "Dev");
    g_free(t);
    x = import_value_get(v, "owner");
    g_assert_cmpint(x->type, ==, IV_LIST);
    g_assert_cmpuint(x->items->len, ==, 2);
    g_assert_cmpstr((t = import_value_text(import_value_get(v, "info"))), ==, "two\nlines 'q'");
    g_free(t);
    g_assert_cmpfloat(import_value_get(v, "n")->num, ==, 40);
    g_assert_cmpfloat(import_value_get(v, "f")->num, ==, 2.5);
    g_assert_true(import_value_get(v, "t")->b);
    g_assert_cmpint(import_value_get(v, "none")->type, ==, IV_NONE);
    x = import_value_get(v, "s");
    g_assert_cmpmem(x->str->str, x->str->len, "\xe9\xe3\x81\x82" "A\nx", 7);   /* \xe9 a byte, \u3042 UTF-8 */
    g_assert_cmpint(import_value_get(v, "d")->type, ==, IV_DICT);
    import_value_free(v);

    src = "a = 1\nb = ['x'\nc = 2\n";
    g_assert_null(pylit_parse_config(src, strlen(src), "config", &e));
    g_assert_error(e, KAIRAN_ERROR, EXIT_DATAERR);
    g_assert_nonnull(strstr(e->message, "config:3"));
    g_clear_error(&e);
    src = "a = 'x\ny'\n";
    g_assert_null(pylit_parse_config(src, strlen(src), "config", &e));
    g_assert_nonnull(strstr(e->message, "config:1"));
    g_clear_error(&e);
    src = "a = 1 2\n";
    g_assert_null(pylit_parse_config(src, strlen(src), "config", &e));
    g_clear_error(&e);
}

static void
test_json(void)
{
    const char *src = "{\"a\": [1, -2.5e1, true, false, null],\n \"s\": \"caf\\u00e9 \\ud83d\\ude00\\n\\\"\", \"o\": {}}";
    GError *e = NULL;
    ImportValue *v = json_parse(src, strlen(src), "config.json", &e), *x;

    g_assert_no_error(e);
    x = import_value_get(v, "a");
    g_assert_cmpuint(x->items->len, ==, 5);
    g_assert_cmpfloat(((ImportValue *) g_ptr_array_index(x->items, 1))->num, ==, -25);
    x = import_value_get(v, "s");
    g_assert_cmpstr(x->str->str, ==, "caf\xc3\xa9 \xf0\x9f\x98\x80\n\"");
    import_value_free(v);

    for (const char *bad = "{\"a\": 1,\n\"b\": tru}\0[1,]\0\"\\ud800\"\0\"\\u0000\"\0{\"a\" 1}\0[1] x\0"; *bad; bad += strlen(bad) + 1) {
        g_assert_null(json_parse(bad, strlen(bad), "config.json", &e));
        g_assert_error(e, KAIRAN_ERROR, EXIT_DATAERR);
        g_assert_true(g_str_has_prefix(e->message, "config.json:"));
        g_clear_error(&e);
    }
    src = "{\"a\": 1,\n\"b\": tru}";
    g_assert_null(json_parse(src, strlen(src), "config.json", &e));
    g_assert_nonnull(strstr(e->message, "config.json:2"));
    g_clear_error(&e);
}

typedef struct {
    gint64 off[8], len[8], line[8], date[8];
    int n;
} Posts;

static void
on_post(gint64 off, gint64 len, gint64 line, gint64 date, gpointer data)
{
    Posts *p = data;
    g_assert_cmpint(p->n, <, 8);
    p->off[p->n] = off;
    p->len[p->n] = len;
    p->line[p->n] = line;
    p->date[p->n] = date;
    p->n++;
}

static void
test_mbox(void)
{
    const char *mb = "From a@x Mon Nov 23 10:00:00 2026\nSubject: one\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\n"
                     ">From quoted\n>>From twice\nFrom no time here\n\n"
                     "From b@x Mon Nov 23 11:00:00 2026\nSubject: two\n\nbody\n";
    Posts p = { 0 };
    GByteArray *u;
    char *buf = NULL;
    size_t blen = 0;
    FILE *out;
    const char *post = "Subject: q\n\nFrom the start\n>From here\n";
    const char *first = "Subject: one\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\n"
                        "From quoted\n>From twice\nFrom no time here\n";

    mbox_split_mem(mb, strlen(mb), on_post, &p);
    g_assert_cmpint(p.n, ==, 2);        /* "From no time here" after a blank line does not split */
    g_assert_cmpint(p.line[0], ==, 2);
    g_assert_cmpint(p.line[1], ==, 10);
    g_assert_cmpint(p.date[0], ==, 1795428000);
    g_assert_cmpint(p.date[1], ==, p.date[0]);     /* no Date: the one before */
    u = mbox_unquote((const guint8 *) mb + p.off[0], p.len[0]);
    g_assert_cmpmem(u->data, u->len, first, strlen(first));
    g_byte_array_unref(u);
    g_assert_cmpmem(mb + p.off[1], p.len[1], "Subject: two\n\nbody\n", 19);

    out = open_memstream(&buf, &blen);
    g_assert_true(mbox_write_post(out, "a@x", 0, (const guint8 *) post, strlen(post)));
    fclose(out);
    g_assert_cmpstr(buf, ==, "From a@x Thu Jan  1 00:00:00 1970\nSubject: q\n\n>From the start\n>>From here\n\n");
    p.n = 0;
    mbox_split_mem(buf, blen, on_post, &p);
    g_assert_cmpint(p.n, ==, 1);
    u = mbox_unquote((const guint8 *) buf + p.off[0], p.len[0]);
    g_assert_cmpmem(u->data, u->len, post, strlen(post));
    g_byte_array_unref(u);
    free(buf);
}

static void
test_helpers(void)
{
    char *name, *a = import_name_addr("\"Yamada, Taro\" <taro@example.org>", &name);
    char **f;
    g_assert_cmpstr(a, ==, "taro@example.org");
    g_assert_cmpstr(name, ==, "Yamada, Taro");
    g_free(a);
    g_free(name);
    a = import_name_addr("hanako@example.org (Hanako)", &name);
    g_assert_cmpstr(a, ==, "hanako@example.org");
    g_assert_cmpstr(name, ==, "Hanako");
    g_free(a);
    g_free(name);
    a = import_tag_literal("[100%]");
    g_assert_cmpstr(a, ==, "[100%%]");
    g_free(a);
    f = import_csv_split("a@b,\"Name, \"\"Q\"\"\",x;y");
    g_assert_cmpstr(f[1], ==, "Name, \"Q\"");
    g_assert_cmpstr(f[2], ==, "x;y");
    g_strfreev(f);
    a = import_list_name("Team@Example.ORG");
    g_assert_cmpstr(a, ==, "team");
    g_free(a);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add_func("/import/fml-config-ph", test_fml);
    g_test_add_func("/import/pylit", test_pylit);
    g_test_add_func("/import/json", test_json);
    g_test_add_func("/import/mbox", test_mbox);
    g_test_add_func("/import/helpers", test_helpers);
    return g_test_run();
}
