/* test_dane.c - unit tests of DANE and TLS-RPT's pure parts: TLSA
 * records out of raw DNS answers (dane_parse_answer: compressed names,
 * other record types skipped, truncation refused), which records are
 * usable for SMTP (dane_tlsa_usable: DANE-TA/EE only, digest lengths),
 * the end of a CNAME chain (dane_cname_target: compressed names, case,
 * a loop, no CNAME, truncation),
 * their presentation form, the _smtp._tls TXT record (mailto: rua only,
 * version first), and a day's JSON report built from recorded sessions
 * (tlsrpt_record + tlsrpt_report_json, against a throw-away instance). */
#include "config.h"
#include "relay/relay.h"
#include "tlsrpt.h"
#include "unit_instance.h"
#include <json-glib/json-glib.h>
#include <string.h>

/* answer - a DNS answer for _25._tcp.mx.example.net with n TLSA records
 * (rdata given as usage, selector, mtype, data length, data) and one
 * CNAME in front when cname. */
static GByteArray *
answer(gboolean cname, int n, const guint8 (*rd)[3], const guint8 *const *data, const gsize *len)
{
    static const guint8 q[] = "\x03_25\x04_tcp\x02mx\x07" "example\x03net";
    GByteArray *b = g_byte_array_new();
    guint8 hdr[12] = { 0x12, 0x34, 0x81, 0xa0, 0, 1, 0, (guint8) (n + (cname ? 1 : 0)), 0, 0, 0, 0 };
    guint8 qtail[5] = { 0, 0, 52, 0, 1 };

    g_byte_array_append(b, hdr, 12);
    g_byte_array_append(b, q, sizeof(q) - 1);
    g_byte_array_append(b, qtail, 5);
    if (cname) {
        guint8 rr[12] = { 0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 1, 0x2c, 0, 2 };
        guint8 target[2] = { 0xc0, 0x0c };
        g_byte_array_append(b, rr, 12);
        g_byte_array_append(b, target, 2);
    }
    for (int i = 0; i < n; i++) {
        guint8 rr[12] = { 0xc0, 0x0c, 0, 52, 0, 1, 0, 0, 1, 0x2c, 0, (guint8) (len[i] + 3) };
        g_byte_array_append(b, rr, 12);
        g_byte_array_append(b, rd[i], 3);
        g_byte_array_append(b, data[i], (guint) len[i]);
    }
    return b;
}

static void
test_parse(void)
{
    guint8 h32[32], h64[64];
    const guint8 rd[3][3] = { { 3, 1, 1 }, { 2, 0, 2 }, { 1, 1, 1 } };
    const guint8 *data[3] = { h32, h64, h32 };
    const gsize len[3] = { 32, 64, 32 };
    GPtrArray *recs = g_ptr_array_new();
    GByteArray *b;
    char **strs;
    DaneTlsa *t;

    for (int i = 0; i < 64; i++)
        h64[i] = (guint8) i;
    memcpy(h32, h64, 32);
    b = answer(TRUE, 3, rd, data, len);
    g_assert_cmpint(dane_parse_answer(b->data, b->len, recs), ==, 3);    /* the CNAME is skipped */
    t = recs->pdata[0];
    g_assert_cmpuint(t->usage, ==, 3);
    g_assert_cmpuint(t->selector, ==, 1);
    g_assert_cmpuint(t->mtype, ==, 1);
    g_assert_cmpuint(t->len, ==, 32);
    g_assert_cmpmem(t->data, t->len, h32, 32);
    g_assert_true(dane_tlsa_usable(recs->pdata[0]));
    g_assert_true(dane_tlsa_usable(recs->pdata[1]));     /* DANE-TA, full cert, SHA-512 */
    g_assert_false(dane_tlsa_usable(recs->pdata[2]));    /* PKIX-EE: unusable for SMTP */
    /* truncated anywhere: refused, never read past the end */
    for (guint cut = 1; cut < b->len; cut += 7) {
        GPtrArray *r2 = g_ptr_array_new();
        int n = dane_parse_answer(b->data, b->len - cut, r2);
        g_assert_cmpint(n, ==, -1);
        for (guint i = 0; i < r2->len; i++) {
            g_free(((DaneTlsa *) r2->pdata[i])->data);
            g_free(r2->pdata[i]);
        }
        g_ptr_array_unref(r2);
    }
    g_byte_array_unref(b);
    {
        /* a record with the wrong digest length, an unknown matching type */
        const guint8 rd2[2][3] = { { 3, 1, 1 }, { 3, 1, 3 } };
        const guint8 *d2[2] = { h64, h32 };
        const gsize l2[2] = { 31, 32 };
        GPtrArray *r2 = g_ptr_array_new();
        b = answer(FALSE, 2, rd2, d2, l2);
        g_assert_cmpint(dane_parse_answer(b->data, b->len, r2), ==, 2);
        g_assert_false(dane_tlsa_usable(r2->pdata[0]));
        g_assert_false(dane_tlsa_usable(r2->pdata[1]));
        for (guint i = 0; i < r2->len; i++) {
            g_free(((DaneTlsa *) r2->pdata[i])->data);
            g_free(r2->pdata[i]);
        }
        g_ptr_array_unref(r2);
        g_byte_array_unref(b);
    }
    g_assert_cmpint(dane_parse_answer((const guchar *) "short", 5, recs), ==, -1);
    strs = dane_policy_strings(NULL);
    g_assert_null(strs[0]);
    g_strfreev(strs);
    for (guint i = 0; i < recs->len; i++) {
        g_free(((DaneTlsa *) recs->pdata[i])->data);
        g_free(recs->pdata[i]);
    }
    g_ptr_array_unref(recs);
}

static void
check_rpt(const char *txt, const char *want)
{
    char **got = tlsrpt_parse_record(txt);
    char *joined = got ? g_strjoinv(",", got) : NULL;
    g_assert_cmpstr(joined, ==, want);
    g_free(joined);
    g_strfreev(got);
}

/* rr - a resource record appended: owner (DNS wire form), type, rdata. */
static void
rr(GByteArray *b, const guint8 *owner, gsize olen, guint type, const guint8 *rd, gsize rdlen)
{
    guint8 fix[10] = { (guint8) (type >> 8), (guint8) type, 0, 1, 0, 0, 1, 0x2c, (guint8) (rdlen >> 8),
                       (guint8) rdlen };
    g_byte_array_append(b, owner, (guint) olen);
    g_byte_array_append(b, fix, 10);
    g_byte_array_append(b, rd, (guint) rdlen);
}

static void
test_cname(void)
{
    /* question mx.example.net A; CNAME mx -> Alias.Example.NET. (owner
     * compressed to the question), alias -> real.example.net (owner a
     * pointer into the first rdata), real A 127.0.0.1 */
    static const guint8 q[] = "\x02mx\x07" "example\x03net";
    static const guint8 alias[] = "\x05" "Alias\x07" "Example\x03NET";
    static const guint8 real[] = "\x04real\xc0\x0f";  /* real + pointer to "example.net" of the question */
    static const guint8 ptr_q[] = { 0xc0, 0x0c };
    guint8 hdr[12] = { 0, 0, 0x81, 0xa0, 0, 1, 0, 3, 0, 0, 0, 0 };
    guint8 qt[4] = { 0, 1, 0, 1 }, addr[4] = { 127, 0, 0, 1 }, ptr_alias[2];
    GByteArray *b = g_byte_array_new();
    char *t;

    g_byte_array_append(b, hdr, 12);
    g_byte_array_append(b, q, sizeof(q));
    g_byte_array_append(b, qt, 4);
    rr(b, ptr_q, 2, 5, alias, sizeof(alias));
    ptr_alias[0] = 0xc0;
    ptr_alias[1] = (guint8) (b->len - sizeof(alias));
    rr(b, ptr_alias, 2, 5, real, sizeof(real) - 1);
    {
        static const guint8 realq[] = "\x04real\x07" "example\x03net";
        rr(b, realq, sizeof(realq), 1, addr, 4);
    }
    t = dane_cname_target(b->data, b->len, "mx.example.net");
    g_assert_cmpstr(t, ==, "real.example.net");
    g_free(t);
    t = dane_cname_target(b->data, b->len, "MX.Example.Net.");
    g_assert_cmpstr(t, ==, "real.example.net");
    g_free(t);
    t = dane_cname_target(b->data, b->len, "alias.example.net");
    g_assert_cmpstr(t, ==, "real.example.net");
    g_free(t);
    g_assert_null(dane_cname_target(b->data, b->len, "real.example.net"));   /* not a CNAME */
    g_assert_null(dane_cname_target(b->data, b->len, "other.example.net"));
    g_assert_null(dane_cname_target(b->data, b->len - 5, "mx.example.net"));  /* truncated */
    g_byte_array_unref(b);

    /* a loop: a -> b -> a ends, at neither name asked */
    {
        static const guint8 na[] = "\x01" "a\x07" "example", nb[] = "\x01" "b\x07" "example";
        guint8 h2[12] = { 0, 0, 0x81, 0xa0, 0, 0, 0, 2, 0, 0, 0, 0 };
        b = g_byte_array_new();
        g_byte_array_append(b, h2, 12);
        rr(b, na, sizeof(na), 5, nb, sizeof(nb));
        rr(b, nb, sizeof(nb), 5, na, sizeof(na));
        t = dane_cname_target(b->data, b->len, "a.example");
        g_assert_true(t == NULL || g_str_equal(t, "b.example"));
        g_free(t);
        g_byte_array_unref(b);
    }
}

static void
test_rpt_record(void)
{
    check_rpt("v=TLSRPTv1; rua=mailto:reports@example.net", "reports@example.net");
    check_rpt("v=TLSRPTv1;rua=mailto:a@example.net,https://r.example.net/x, mailto:b@example.org?subject=x",
              "a@example.net,b@example.org");
    check_rpt("v=TLSRPTv1; rua=mailto:tls%2Brpt@example.net", "tls+rpt@example.net");
    check_rpt("v=TLSRPTv1; rua=https://r.example.net/x", NULL);      /* no mailto: nothing to send */
    check_rpt("rua=mailto:a@example.net; v=TLSRPTv1", NULL);         /* the version comes first */
    check_rpt("v=TLSRPTv2; rua=mailto:a@example.net", NULL);
    check_rpt("v=TLSRPTv1; rua=mailto:no-at-sign", NULL);
    check_rpt("v=TLSRPTv1; rua=mailto:a%0D%0Ab@example.net", NULL);  /* no header injection */
    check_rpt("", NULL);
    check_rpt(NULL, NULL);
    g_assert_cmpstr(tlsrpt_result_type(TLSRPT_VALIDATION_FAILURE), ==, "validation-failure");
    g_assert_cmpstr(tlsrpt_result_type(TLSRPT_STARTTLS_NOT_SUPPORTED), ==, "starttls-not-supported");
    g_assert_cmpstr(tlsrpt_result_type(TLSRPT_DNSSEC_INVALID), ==, "dnssec-invalid");
}

static void
test_report(void)
{
    Instance *inst = unit_instance_new();
    GError *error = NULL;
    gint64 t0 = 1796083200;   /* 2026-12-01T00:00:00Z */
    TlsRptSession ok = { "Example.NET", "tlsa", "3 1 1 aabb", "mx1.example.net", "mx1.example.net", "192.0.2.1",
                         0, NULL };
    TlsRptSession bad = { "example.net", "tlsa", "3 1 1 aabb", "mx1.example.net", "mx1.example.net", "192.0.2.1",
                          TLSRPT_VALIDATION_FAILURE, "no match" };
    TlsRptSession none = { "example.net", "no-policy-found", NULL, NULL, "mx2.example.net", "192.0.2.2",
                           TLSRPT_STARTTLS_NOT_SUPPORTED, NULL };
    JsonParser *p = json_parser_new();
    JsonObject *root, *pol, *sum, *fd;
    JsonArray *pols;
    char *json;

    for (int i = 0; i < 3; i++)
        g_assert_true(tlsrpt_record(inst, t0 + 3600 * i, &ok, &error));
    g_assert_true(tlsrpt_record(inst, t0 + 100, &bad, &error));
    g_assert_true(tlsrpt_record(inst, t0 + 200, &none, &error));
    g_assert_true(tlsrpt_record(inst, t0 + 86400, &ok, &error));            /* the next day */
    g_assert_no_error(error);
    g_assert_null(tlsrpt_report_json(inst, "2026-11-30", "example.net", "id1", &error));
    json = tlsrpt_report_json(inst, "2026-12-01", "example.net", "id1", &error);
    g_assert_nonnull(json);
    g_assert_true(json_parser_load_from_data(p, json, -1, NULL));
    root = json_node_get_object(json_parser_get_root(p));
    g_assert_cmpstr(json_object_get_string_member(root, "report-id"), ==, "id1");
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(root, "date-range"),
                                                  "start-datetime"), ==, "2026-12-01T00:00:00Z");
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(root, "date-range"),
                                                  "end-datetime"), ==, "2026-12-01T23:59:59Z");
    pols = json_object_get_array_member(root, "policies");
    g_assert_cmpuint(json_array_get_length(pols), ==, 2);
    /* ordered by type: no-policy-found, then tlsa */
    pol = json_array_get_object_element(pols, 1);
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(pol, "policy"), "policy-type"), ==,
                    "tlsa");
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(pol, "policy"), "policy-domain"),
                    ==, "example.net");
    sum = json_object_get_object_member(pol, "summary");
    g_assert_cmpint(json_object_get_int_member(sum, "total-successful-session-count"), ==, 3);
    g_assert_cmpint(json_object_get_int_member(sum, "total-failure-session-count"), ==, 1);
    fd = json_array_get_object_element(json_object_get_array_member(pol, "failure-details"), 0);
    g_assert_cmpstr(json_object_get_string_member(fd, "result-type"), ==, "validation-failure");
    g_assert_cmpstr(json_object_get_string_member(fd, "receiving-ip"), ==, "192.0.2.1");
    pol = json_array_get_object_element(pols, 0);
    g_assert_false(json_object_has_member(json_object_get_object_member(pol, "policy"), "policy-string"));
    sum = json_object_get_object_member(pol, "summary");
    g_assert_cmpint(json_object_get_int_member(sum, "total-successful-session-count"), ==, 0);
    g_assert_cmpint(json_object_get_int_member(sum, "total-failure-session-count"), ==, 1);
    g_free(json);
    g_object_unref(p);
    unit_instance_free(inst);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dane/parse-answer", test_parse);
    g_test_add_func("/dane/cname-target", test_cname);
    g_test_add_func("/tlsrpt/record", test_rpt_record);
    g_test_add_func("/tlsrpt/report", test_report);
    return g_test_run();
}
