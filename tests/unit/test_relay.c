/* test_relay.c - unit tests of the relay's small parsers: the SMTP wire
 * form of a queue file (CRLF, dot-stuffing, final dot, no bare CR), bare
 * CR detection in DATA and commands, duplicate RCPT keys, host:port
 * splitting for routes and listen addresses, mynetworks matching, and
 * personalised delivery: the VERP sender (decoded back by the bounce
 * code) and the per-recipient header block in front of the shared body. */
#include "config.h"
#include "relay/relay.h"
#include "ctl/ctl.h"
#include "token.h"
#include <gmime/gmime.h>
#include <string.h>

static void
check_wire(const char *in, const char *want)
{
    GBytes *b = smtp_wire_form(in, strlen(in));
    gsize len;
    const char *got = g_bytes_get_data(b, &len);
    g_assert_cmpuint(len, ==, strlen(want));
    g_assert_cmpint(memcmp(got, want, len), ==, 0);
    g_bytes_unref(b);
}

static void
test_wire(void)
{
    check_wire("Subject: x\n\nbody\n", "Subject: x\r\n\r\nbody\r\n.\r\n");
    check_wire("a\n.\n..b\n.c\n", "a\r\n..\r\n...b\r\n..c\r\n.\r\n");
    check_wire("no final newline", "no final newline\r\n.\r\n");
    check_wire("crlf already\r\n", "crlf already\r\n.\r\n");
    check_wire("", ".\r\n");
    /* a bare CR never goes out: it is a line break of its own */
    check_wire("a\rb\n", "a\r\nb\r\n.\r\n");
    check_wire("a\r\r\n", "a\r\n\r\n.\r\n");
    check_wire("x\r.y\n", "x\r\n..y\r\n.\r\n");
    check_wire("end\r", "end\r\n.\r\n");
}

/* feed - lines to smtp_data_line as conn_read_line returns them (text
 * without the line end, crlf, rc); TRUE when a bare CR was seen. */
static gboolean
feed(const char *const *lines, const gboolean *crlf, const int *rc, int n)
{
    SmtpData d = { TRUE, TRUE, FALSE, FALSE };
    for (int i = 0; i < n; i++) {
        const char *p = lines[i];
        gsize len = strlen(p);
        (void) smtp_data_line(&d, rc[i], crlf[i], &p, &len);
    }
    return d.bare_cr;
}

static void
test_bare_cr(void)
{
    const char *clean[] = { "Subject: x", "", "body" };
    const char *inside[] = { "Subject: x", "", "one\rtwo" };
    const char *split[] = { "long piece\r", "" };        /* CR | LF across two pieces */
    const char *piece_cr[] = { "long piece\r", "more" };  /* a piece ending in a bare CR */
    const gboolean crlf3[] = { TRUE, TRUE, TRUE }, crlf2[] = { FALSE, FALSE }, crlf2b[] = { FALSE, TRUE };
    const int rc3[] = { 1, 1, 1 }, rc2[] = { 2, 1 };

    g_assert_false(feed(clean, crlf3, rc3, 3));
    g_assert_true(feed(inside, crlf3, rc3, 3));
    g_assert_false(feed(split, crlf2, rc2, 2));
    g_assert_true(feed(piece_cr, crlf2b, rc2, 2));
    g_assert_true(smtp_line_has_bare_cr("EHLO a\rb", 9));
    g_assert_false(smtp_line_has_bare_cr("EHLO ab", 7));
}

static void
test_rcpt_key(void)
{
    char *a = smtp_rcpt_key("Team@lists.example.test", TRUE), *b = smtp_rcpt_key("team@lists.example.test", TRUE);
    char *c = smtp_rcpt_key("Bob@Example.ORG", FALSE), *d = smtp_rcpt_key("Bob@example.org", FALSE);
    char *e = smtp_rcpt_key("bob@example.org", FALSE);
    g_assert_cmpstr(a, ==, b);
    g_assert_cmpstr(c, ==, d);            /* the domain has no case */
    g_assert_cmpstr(c, !=, e);            /* a foreign local part keeps its case */
    g_free(a);
    g_free(b);
    g_free(c);
    g_free(d);
    g_free(e);
}

static void
check_hp(const char *in, const char *host, int port)
{
    char *h = NULL;
    int p = 0;
    g_assert_true(split_hostport(in, &h, &p, 25));
    g_assert_cmpstr(h, ==, host);
    g_assert_cmpint(p, ==, port);
    g_free(h);
}

static void
test_hostport(void)
{
    char *h = NULL;
    int p;
    check_hp("[127.0.0.1]:2626", "127.0.0.1", 2626);
    check_hp("mx.example.test:587", "mx.example.test", 587);
    check_hp("mx.example.test", "mx.example.test", 25);
    check_hp("[::1]:2525", "::1", 2525);
    check_hp("::1", "::1", 25);
    g_assert_false(split_hostport("[::1", &h, &p, 25));
    g_assert_false(split_hostport("host:0", &h, &p, 25));
    g_assert_false(split_hostport("host:99999", &h, &p, 25));
}

static void
test_mynetworks(void)
{
    Relay r = { 0 };
    r.mynetworks = g_ptr_array_new_with_free_func(g_object_unref);
    g_ptr_array_add(r.mynetworks, g_inet_address_mask_new_from_string("127.0.0.0/8", NULL));
    g_ptr_array_add(r.mynetworks, g_inet_address_mask_new_from_string("::1", NULL));
    g_ptr_array_add(r.mynetworks, g_inet_address_mask_new_from_string("192.0.2.0/24", NULL));
    g_assert_true(relay_client_allowed(&r, "127.0.0.1"));
    g_assert_true(relay_client_allowed(&r, "127.200.1.2"));
    g_assert_true(relay_client_allowed(&r, "::1"));
    g_assert_true(relay_client_allowed(&r, "192.0.2.77"));
    g_assert_false(relay_client_allowed(&r, "192.0.3.1"));
    g_assert_false(relay_client_allowed(&r, "::2"));
    g_assert_false(relay_client_allowed(&r, "not-an-address"));
    g_ptr_array_unref(r.mynetworks);
}

static void
test_verp(void)
{
    const char *rcpts[] = { "alice@example.org", "a.b+c@Example.ORG", "x=y@sub.example.net", NULL };
    for (int i = 0; rcpts[i]; i++) {
        char *v = personal_verp("team-admin@lists.example.test", rcpts[i]);
        char *back = bounce_verp_decode(v, "team");
        char *want = g_ascii_strdown(rcpts[i], -1);
        g_assert_true(g_str_has_prefix(v, "team-admin+"));
        g_assert_true(g_str_has_suffix(v, "@lists.example.test"));
        g_assert_cmpstr(back, ==, want);
        g_free(v);
        g_free(back);
        g_free(want);
    }
    {
        char *v = personal_verp("", "alice@example.org");     /* null sender stays null */
        g_assert_cmpstr(v, ==, "");
        g_free(v);
    }
}

static char *
copy_for(Personal *ps, GBytes *body, const char *rcpt)
{
    GBytes *head = personal_head(ps, rcpt);
    char *s = g_strdup_printf("%.*s%.*s", (int) g_bytes_get_size(head), (const char *) g_bytes_get_data(head, NULL),
                              (int) g_bytes_get_size(body), (const char *) g_bytes_get_data(body, NULL));
    g_bytes_unref(head);
    return s;
}

static void
test_personal_head(void)
{
    Instance inst = { .conf = g_key_file_new(), .domain = (char *) "lists.example.test",
                      .secret = (char *) "s3cret", .home = (char *) "/nonexistent" };
    Relay r = { .inst = &inst };
    const char *msg = "From: a@example.org\nList-Id: <team.lists.example.test>\n"
                      "List-Unsubscribe: <mailto:team-ctl@lists.example.test?body=unsubscribe>,\n"
                      " <https://web.example/list/team/unsubscribe>\nList-Archive: <x>\n\n.dot\nbody\n";
    GBytes *body = NULL;
    Personal *ps;
    char *got, *sig, *want;

    /* without web_url: the queued bytes, only the envelope differs */
    ps = personal_new(&r, "team", msg, strlen(msg), &body);
    got = copy_for(ps, body, "bob@example.org");
    g_assert_cmpstr(got, ==, "From: a@example.org\r\nList-Id: <team.lists.example.test>\r\n"
                    "List-Unsubscribe: <mailto:team-ctl@lists.example.test?body=unsubscribe>,\r\n"
                    " <https://web.example/list/team/unsubscribe>\r\nList-Archive: <x>\r\n\r\n..dot\r\nbody\r\n.\r\n");
    g_free(got);
    g_bytes_unref(body);
    personal_free(ps);

    /* with web_url: the member's own link in place, List-Unsubscribe-Post after it */
    g_key_file_set_string(inst.conf, "global", "web_url", "https://web.example/");
    ps = personal_new(&r, "team", msg, strlen(msg), &body);
    got = copy_for(ps, body, "bob@example.org");
    sig = token_oneclick_sig(&inst, "team", "bob@example.org");
    want = g_strdup_printf("From: a@example.org\r\nList-Id: <team.lists.example.test>\r\n"
                           "List-Unsubscribe: <mailto:team-ctl@lists.example.test?body=unsubscribe>,\r\n"
                           " <https://web.example/list/team/unsubscribe?a=bob%%40example.org&s=%s>\r\n"
                           "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                           "List-Archive: <x>\r\n\r\n..dot\r\nbody\r\n.\r\n", sig);
    g_assert_cmpstr(got, ==, want);
    g_free(got);
    g_free(want);
    g_free(sig);
    g_bytes_unref(body);
    personal_free(ps);
    g_key_file_free(inst.conf);
}

/* relay2: the DSN parameter parsers (dsn.c): canonical forms and errors */
static void
test_dsn_params(void)
{
    const char *err = NULL;
    char *c, *v;

    c = dsn_mail_params("SIZE=10 ret=hdrs ENVID=a+2Bb BODY=8BITMIME", &err);
    g_assert_cmpstr(c, ==, "RET=HDRS ENVID=a+2Bb");
    g_assert_null(err);
    v = dsn_param(c, "ENVID");
    g_assert_cmpstr(v, ==, "a+2Bb");
    g_free(v);
    v = dsn_xtext_decode("a+2Bb+0Dc");
    g_assert_cmpstr(v, ==, "a+b?c");           /* a CR never comes out of xtext */
    g_free(v);
    g_free(c);
    g_assert_null(dsn_mail_params("RET=FULL RET=FULL", &err));
    g_assert_true(g_str_has_prefix(err, "501 5.5.4"));
    g_assert_null(dsn_mail_params("ENVID=a+2b", &err));          /* lower-case hex */
    c = dsn_rcpt_params("ORCPT=rfc822;x@y notify=delay,failure", &err);
    g_assert_cmpstr(c, ==, "NOTIFY=FAILURE,DELAY ORCPT=rfc822;x@y");
    g_assert_cmpint(dsn_notify(c), ==, DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
    g_free(c);
    g_assert_null(dsn_rcpt_params("NOTIFY=NEVER,DELAY", &err));
    g_assert_true(g_str_has_prefix(err, "501"));
    g_assert_null(dsn_rcpt_params("XFOO=1", &err));
    g_assert_true(g_str_has_prefix(err, "555"));
    c = dsn_rcpt_params("", &err);
    g_assert_cmpstr(c, ==, "");
    g_assert_cmpint(dsn_notify(c), ==, 0);
    g_free(c);
}

/* relay2: MTA-STS policies (mtasts.c) */
static void
test_mtasts(void)
{
    const char *good = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.net\r\nmx: *.Example.ORG\r\n"
                       "max_age: 604800\r\n";
    MtaStsPolicy *p = mtasts_parse(good, strlen(good));

    g_assert_nonnull(p);
    g_assert_cmpint(p->mode, ==, MTASTS_ENFORCE);
    g_assert_cmpint(p->max_age, ==, 604800);
    g_assert_true(mtasts_mx_match(p, "mail.example.net"));
    g_assert_true(mtasts_mx_match(p, "MAIL.example.net."));
    g_assert_true(mtasts_mx_match(p, "mx1.example.org"));
    g_assert_false(mtasts_mx_match(p, "example.org"));          /* "*." needs one label */
    g_assert_false(mtasts_mx_match(p, "a.b.example.org"));      /* ... exactly one */
    g_assert_false(mtasts_mx_match(p, "evil-mail.example.net"));
    mtasts_policy_free(p);
    g_assert_null(mtasts_parse("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n", strlen("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n")));
    g_assert_null(mtasts_parse("version: STSv1\nmode: enforce\nmax_age: 1\n", strlen("version: STSv1\nmode: enforce\nmax_age: 1\n")));  /* no mx */
    g_assert_null(mtasts_parse("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n", strlen("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n")));
    p = mtasts_parse("version: STSv1\nmode: none\nmax_age: 99999999999\n", strlen("version: STSv1\nmode: none\nmax_age: 99999999999\n"));
    g_assert_nonnull(p);
    g_assert_cmpint(p->max_age, ==, 31557600);                 /* at most a year */
    mtasts_policy_free(p);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add_func("/relay/wire-form", test_wire);
    g_test_add_func("/relay/bare-cr", test_bare_cr);
    g_test_add_func("/relay/rcpt-key", test_rcpt_key);
    g_test_add_func("/relay/hostport", test_hostport);
    g_test_add_func("/relay/mynetworks", test_mynetworks);
    g_test_add_func("/relay/verp", test_verp);
    g_test_add_func("/relay/personal-head", test_personal_head);
    g_test_add_func("/relay/dsn-params", test_dsn_params);
    g_test_add_func("/relay/mta-sts", test_mtasts);
    return g_test_run();
}
