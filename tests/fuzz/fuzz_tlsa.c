/* fuzz_tlsa.c - libFuzzer harness for the parsers of DANE and TLS-RPT:
 * the input as a raw DNS answer through dane_parse_answer and
 * dane_cname_target (src/relay/dane.c) and as a _smtp._tls TXT value through
 * tlsrpt_parse_record (src/lib/tlsrpt.c).
 * Checks: a malformed answer yields -1, else the number of records
 * appended; every record's data lies within the input (the bytes after
 * its usage/selector/matching type are found in it) and a usable record
 * has the digest length of its matching type; the answer re-encoded from
 * the records parses again to the same records (round trip); a CNAME
 * target is NULL or a non-empty name of at most 1024 characters other
 * than the name asked, without a trailing dot; a TLS-RPT
 * record gives NULL or 1..8 addresses, each with '@' and no blank, CR,
 * LF, '<', '>' or '"', and only when the text starts with v=TLSRPTv1. */
#include "fuzz_common.h"
#include "relay/relay.h"
#include "tlsrpt.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_init_libs();
    return 0;
}

/* encode - a DNS answer (no question) holding recs as TLSA records. */
static GByteArray *
encode(GPtrArray *recs)
{
    GByteArray *b = g_byte_array_new();
    guint8 hdr[12] = { 0, 0, 0x81, 0x80, 0, 0, (guint8) (recs->len >> 8), (guint8) recs->len, 0, 0, 0, 0 };
    g_byte_array_append(b, hdr, 12);
    for (guint i = 0; i < recs->len; i++) {
        const DaneTlsa *t = recs->pdata[i];
        gsize rdlen = t->len + 3;
        guint8 rr[13] = { 0, 0, 52, 0, 1, 0, 0, 1, 0x2c, (guint8) (rdlen >> 8), (guint8) rdlen, t->usage, t->selector };
        g_byte_array_append(b, rr, 13);
        g_byte_array_append(b, &t->mtype, 1);
        g_byte_array_append(b, t->data, (guint) t->len);
    }
    return b;
}

static void
check_tlsa(const uint8_t *data, size_t size)
{
    GPtrArray *recs = g_ptr_array_new();     /* DaneTlsa*, freed below */
    GPtrArray *again;
    GByteArray *enc;
    int n;

    n = dane_parse_answer(data, size, recs);
    if (n < -1 || (n >= 0 && (guint) n != recs->len) || (n < 0 && recs->len > 6000))
        abort();
    for (guint i = 0; i < recs->len; i++) {
        const DaneTlsa *t = recs->pdata[i];
        if (t->len + 3 > size || (t->len > 0 && !memmem(data, size, t->data, t->len)))
            abort();
        if (dane_tlsa_usable(t) && ((t->mtype == 1 && t->len != 32) || (t->mtype == 2 && t->len != 64) ||
                                    (t->usage != 2 && t->usage != 3)))
            abort();
    }
    if (n > 0 && recs->len < 1000) {
        enc = encode(recs);
        again = g_ptr_array_new();
        if (dane_parse_answer(enc->data, enc->len, again) != n)
            abort();
        for (guint i = 0; i < again->len; i++) {
            const DaneTlsa *a = recs->pdata[i], *b = again->pdata[i];
            if (a->usage != b->usage || a->selector != b->selector || a->mtype != b->mtype || a->len != b->len ||
                (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
                abort();
            g_free(b->data);
            g_free(again->pdata[i]);
        }
        g_ptr_array_unref(again);
        g_byte_array_unref(enc);
    }
    for (guint i = 0; i < recs->len; i++) {
        DaneTlsa *t = recs->pdata[i];
        g_free(t->data);
        g_free(t);
    }
    g_ptr_array_unref(recs);
}

static void
check_cname(const uint8_t *data, size_t size)
{
    char *t = dane_cname_target(data, size, "mx.example");
    if (t) {
        gsize l = strlen(t);
        if (l == 0 || l > 1024 || t[l - 1] == '.' || g_ascii_strcasecmp(t, "mx.example") == 0)
            abort();
    }
    g_free(t);
}

static void
check_rpt(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    char **rua = tlsrpt_parse_record(s);
    if (rua) {
        guint n = g_strv_length(rua);
        char **fields = g_strsplit(s, ";", 2);
        if (n == 0 || n > 8 || !fields[0] || !g_str_equal(g_strstrip(fields[0]), "v=TLSRPTv1"))
            abort();
        g_strfreev(fields);
        for (char **a = rua; *a; a++)
            if (!strchr(*a, '@') || strpbrk(*a, " \t\r\n<>\""))
                abort();
    }
    g_strfreev(rua);
    g_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_tlsa(data, size);
    check_cname(data, size);
    check_rpt(data, size);
    return 0;
}
