/* test_relay.c - unit tests of the relay's small parsers: the SMTP wire
 * form of a queue file (CRLF, dot-stuffing, final dot), host:port
 * splitting for routes and listen addresses, and mynetworks matching. */
#include "config.h"
#include "relay/relay.h"
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

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/relay/wire-form", test_wire);
    g_test_add_func("/relay/hostport", test_hostport);
    g_test_add_func("/relay/mynetworks", test_mynetworks);
    return g_test_run();
}
