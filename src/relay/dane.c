/* dane.c - outbound DANE for SMTP (RFC 7672, RFC 6698/7671) under
 * tls_verify = dane.
 *
 * For an MX host found by a DNSSEC-validated MX lookup (or named by a
 * route) whose address records are secure too, the TLSA RRset of _PORT._tcp.HOST is asked of dns_resolver with
 * the AD bit set (dns.c).  DNSSEC validation is the resolver's job, as
 * in Postfix: its AD bit is trusted, so it must be a local validating
 * resolver.  The outcomes:
 *   - no TLSA (NXDOMAIN/NODATA), or an answer without AD: DANE does not
 *     apply, the host gets the ordinary policy (MTA-STS, else
 *     opportunistic STARTTLS);
 *   - a failed lookup (SERVFAIL, which a validating resolver answers
 *     for bogus data, or a timeout): the host is not used (RFC 7672
 *     section 2.2: a TLSA lookup failure makes the host unusable);
 *   - a secure RRset: TLS is mandatory and the certificate must match
 *     one usable record, else the host fails (4.7.5), the mail is never
 *     sent in clear.  Usable are DANE-TA(2) and DANE-EE(3) with selector
 *     0/1 and matching type 0/1/2; PKIX-TA/EE (0/1) are unusable for SMTP
 *     (RFC 7672 section 3.1.3).  A secure RRset without usable records
 *     still makes TLS mandatory, unauthenticated (as Postfix).
 * A host that is a CNAME (chain) whose every step validated (the AD bit
 * of the address answer covers the chain) has its TLSA records asked
 * first at the expanded name, then, if there are none, at the original
 * name (RFC 7672 section 2.2.3); both names are reference identifiers,
 * the one the records were found at (the TLSA base domain) is also the
 * SNI name.  An insecure step makes the address answer insecure: DANE
 * does not apply then (section 2.2.2), no TLSA is asked.
 * Matching is OpenSSL's (SSL_dane_enable, SSL_dane_tlsa_add): DANE-EE
 * without name checks (RFC 7672 section 3.1.1), DANE-TA with the MX host
 * name (and its CNAME expansion) as reference identifiers. */
#include "config.h"
#include "relay.h"
#include "log.h"
#include "util.h"

#include <string.h>
#include <ares.h>
#include <openssl/x509v3.h>

struct DaneRecords {
    GPtrArray *recs;      /* DaneTlsa* */
    guint usable;         /* how many are DANE-TA/EE with known selector and matching type */
    char *base;           /* the TLSA base domain: the name the records were found at */
    char *other;          /* the other reference identifier (MX name or its expansion), or NULL */
};

static void
tlsa_free(DaneTlsa *t)
{
    if (!t)
        return;
    g_free(t->data);
    g_free(t);
}

void
dane_records_free(DaneRecords *d)
{
    if (!d)
        return;
    g_ptr_array_unref(d->recs);
    g_free(d->base);
    g_free(d->other);
    g_free(d);
}

/* skip_name - past a (possibly compressed) name at off; -1 if malformed. */
static gssize
skip_name(const guchar *buf, gsize len, gsize off)
{
    for (int labels = 0; labels < 128; labels++) {
        if (off >= len)
            return -1;
        if ((buf[off] & 0xc0) == 0xc0)
            return off + 2 <= len ? (gssize) (off + 2) : -1;
        if (buf[off] & 0xc0)
            return -1;
        if (buf[off] == 0)
            return (gssize) (off + 1);
        off += 1 + buf[off];
    }
    return -1;
}

int
dane_parse_answer(const guchar *buf, gsize len, GPtrArray *out)
{
    guint qd, an;
    gsize off = 12;
    int n = 0;

    if (len < 12)
        return -1;
    qd = (guint) buf[4] << 8 | buf[5];
    an = (guint) buf[6] << 8 | buf[7];
    for (guint i = 0; i < qd; i++) {
        gssize e = skip_name(buf, len, off);
        if (e < 0 || (gsize) e + 4 > len)
            return -1;
        off = (gsize) e + 4;
    }
    for (guint i = 0; i < an; i++) {
        gssize e = skip_name(buf, len, off);
        guint type, rdlen;
        if (e < 0 || (gsize) e + 10 > len)
            return -1;
        off = (gsize) e;
        type = (guint) buf[off] << 8 | buf[off + 1];
        rdlen = (guint) buf[off + 8] << 8 | buf[off + 9];
        off += 10;
        if (off + rdlen > len)
            return -1;
        if (type == 52 && rdlen >= 3) {
            DaneTlsa *t = g_new0(DaneTlsa, 1);
            t->usage = buf[off];
            t->selector = buf[off + 1];
            t->mtype = buf[off + 2];
            t->len = rdlen - 3;
            t->data = g_memdup2(buf + off + 3, t->len);
            g_ptr_array_add(out, t);
            n++;
        }
        off += rdlen;
    }
    return n;
}

/* name_eq - DNS names equal, case and a trailing dot aside. */
static gboolean
name_eq(const char *a, const char *b)
{
    gsize la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && g_ascii_strncasecmp(a, b, la) == 0;
}

char *
dane_cname_target(const guchar *buf, gsize len, const char *qname)
{
    GPtrArray *from = g_ptr_array_new_with_free_func(g_free), *to = g_ptr_array_new_with_free_func(g_free);
    char *cur = NULL;
    guint qd, an;
    gsize off = 12;

    if (len < 12 || len > G_MAXINT)
        goto out;
    qd = (guint) buf[4] << 8 | buf[5];
    an = (guint) buf[6] << 8 | buf[7];
    for (guint i = 0; i < qd; i++) {
        gssize e = skip_name(buf, len, off);
        if (e < 0 || (gsize) e + 4 > len)
            goto out;
        off = (gsize) e + 4;
    }
    for (guint i = 0; i < an; i++) {
        gssize e = skip_name(buf, len, off);
        guint type, rdlen;
        if (e < 0 || (gsize) e + 10 > len)
            goto out;
        type = (guint) buf[e] << 8 | buf[e + 1];
        rdlen = (guint) buf[e + 8] << 8 | buf[e + 9];
        if ((gsize) e + 10 + rdlen > len)
            goto out;
        if (type == 5 /* CNAME */) {
            char *owner = NULL, *target = NULL;
            long enc;
            if (ares_expand_name(buf + off, buf, (int) len, &owner, &enc) != ARES_SUCCESS)
                goto out;
            if (ares_expand_name(buf + e + 10, buf, (int) len, &target, &enc) != ARES_SUCCESS ||
                (gsize) enc > rdlen) {
                ares_free_string(owner);
                ares_free_string(target);
                goto out;
            }
            g_ptr_array_add(from, g_strdup(owner));
            g_ptr_array_add(to, g_strdup(target));
            ares_free_string(owner);
            ares_free_string(target);
        }
        off = (gsize) e + 10 + rdlen;
    }
    /* follow the chain from qname (at most as many steps as records:
     * a loop ends there) */
    {
        const char *name = qname;
        gboolean moved = FALSE;
        for (guint step = 0; step < from->len; step++) {
            guint k;
            for (k = 0; k < from->len && !name_eq(from->pdata[k], name); k++)
                ;
            if (k == from->len)
                break;
            name = to->pdata[k];
            moved = TRUE;
        }
        if (moved && *name && !name_eq(name, qname)) {
            gsize l = strlen(name);
            cur = g_strndup(name, l && name[l - 1] == '.' ? l - 1 : l);
        }
    }
out:
    g_ptr_array_unref(from);
    g_ptr_array_unref(to);
    return cur;
}

gboolean
dane_tlsa_usable(const DaneTlsa *t)
{
    gsize want = t->mtype == 1 ? 32 : t->mtype == 2 ? 64 : 0;
    return (t->usage == 2 || t->usage == 3) && t->selector <= 1 && t->mtype <= 2 &&
           (t->mtype == 0 ? t->len > 0 : t->len == want);
}

/* tlsa_at - the TLSA RRset of _PORT._tcp.HOST: DANE_NONE (none, or not
 * validated), DANE_SECURE (*out set) or DANE_FAIL (*why set). */
static int
tlsa_at(Relay *r, int port, const char *host, DaneRecords **out, char **why)
{
    DnsAnswer a;
    char *name = g_strdup_printf("_%d._tcp.%s", port, host);
    DaneRecords *d;

    *out = NULL;
    dns_query(r, name, 52 /* TLSA */, &a);
    if (a.status == ARES_ENOTFOUND || a.status == ARES_ENODATA) {
        dns_answer_clear(&a);
        g_free(name);
        return DANE_NONE;
    }
    if (a.status != ARES_SUCCESS) {
        *why = g_strdup_printf("TLSA lookup of %s failed (a validating resolver answers SERVFAIL for bogus "
                               "DNSSEC data; c-ares: %s)", name, ares_strerror(a.status));
        dns_answer_clear(&a);
        g_free(name);
        return DANE_FAIL;
    }
    if (!a.secure) {
        log_info("dane: %s: TLSA records not DNSSEC-validated (no AD bit): DANE does not apply", name);
        dns_answer_clear(&a);
        g_free(name);
        return DANE_NONE;
    }
    d = g_new0(DaneRecords, 1);
    d->recs = g_ptr_array_new_with_free_func((GDestroyNotify) tlsa_free);
    if (dane_parse_answer(a.buf, a.len, d->recs) <= 0) {
        *why = g_strdup_printf("TLSA answer for %s is malformed or empty", name);
        dane_records_free(d);
        dns_answer_clear(&a);
        g_free(name);
        return DANE_FAIL;
    }
    for (guint i = 0; i < d->recs->len; i++)
        if (dane_tlsa_usable(d->recs->pdata[i]))
            d->usable++;
    log_info("dane: %s: %u TLSA record%s, %u usable: TLS is mandatory", name, d->recs->len,
             d->recs->len == 1 ? "" : "s", d->usable);
    d->base = g_strdup(host);
    *out = d;
    dns_answer_clear(&a);
    g_free(name);
    return DANE_SECURE;
}

int
dane_lookup(Relay *r, Target *t, char **why)
{
    DnsAnswer a;
    DaneRecords *d = NULL;
    char *expanded = NULL;
    int st = DANE_NONE;

    *why = NULL;
    if (!t->name_secure || g_hostname_is_ip_address(t->host))
        return DANE_NONE;
    /* RFC 7672 section 2.2.2: the host's address records must be secure
     * too (a CNAME into an unsigned zone is not); asked with the AD bit
     * (A, or its signed denial for an IPv6-only host) */
    dns_query(r, t->host, 1 /* A */, &a);
    if (!dns_status_temporary(a.status) && !a.secure) {
        log_info("dane: %s: address records not DNSSEC-validated: DANE does not apply", t->host);
        dns_answer_clear(&a);
        return DANE_NONE;
    }
    /* section 2.2.3: a secure CNAME chain - the expanded name first */
    if (a.secure && a.buf)
        expanded = dane_cname_target(a.buf, a.len, t->host);
    dns_answer_clear(&a);
    if (expanded) {
        log_info("dane: %s is a DNSSEC-validated CNAME for %s: TLSA asked there first", t->host, expanded);
        st = tlsa_at(r, t->port, expanded, &d, why);
        if (d) {
            d->other = g_strdup(t->host);
        } else if (st == DANE_NONE) {
            st = tlsa_at(r, t->port, t->host, &d, why);
            if (d)
                d->other = g_strdup(expanded);
        }
    } else {
        st = tlsa_at(r, t->port, t->host, &d, why);
    }
    g_free(expanded);
    if (st == DANE_SECURE) {
        dane_records_free(t->dane);
        t->dane = d;
    }
    return st;
}

gboolean
dane_prepare(SSL *ssl, gpointer data)
{
    const Target *t = data;
    guint added = 0;

    if (!t->dane || t->dane->usable == 0)
        return TRUE;                    /* mandatory TLS, nothing to match */
    if (SSL_dane_enable(ssl, t->dane->base ? t->dane->base : t->host) <= 0)
        return FALSE;
    if (t->dane->other && SSL_add1_host(ssl, t->dane->other) != 1)
        return FALSE;
    SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    for (guint i = 0; i < t->dane->recs->len; i++) {
        const DaneTlsa *x = t->dane->recs->pdata[i];
        if (dane_tlsa_usable(x) && SSL_dane_tlsa_add(ssl, x->usage, x->selector, x->mtype, x->data, x->len) > 0)
            added++;
    }
    return added > 0;
}

gboolean
dane_check(SSL *ssl, const Target *t, char **why)
{
    long v;
    int depth;

    if (!t->dane || t->dane->usable == 0)
        return TRUE;
    v = SSL_get_verify_result(ssl);
    depth = SSL_get0_dane_authority(ssl, NULL, NULL);
    if (v == X509_V_OK && depth >= 0)
        return TRUE;
    *why = g_strdup_printf("the certificate matches none of the %u usable TLSA records (%s)", t->dane->usable,
                           v != X509_V_OK ? X509_verify_cert_error_string(v) : "no DANE match");
    return FALSE;
}

char **
dane_policy_strings(const DaneRecords *d)
{
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; d && i < d->recs->len; i++) {
        const DaneTlsa *x = d->recs->pdata[i];
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "%u %u %u ", x->usage, x->selector, x->mtype);
        for (gsize k = 0; k < x->len; k++)
            g_string_append_printf(s, "%02x", x->data[k]);
        g_ptr_array_add(out, g_string_free(s, FALSE));
    }
    g_ptr_array_add(out, NULL);
    return (char **) g_ptr_array_free(out, FALSE);
}

DaneRecords *
dane_records_copy(const DaneRecords *d)
{
    DaneRecords *c = g_new0(DaneRecords, 1);
    c->recs = g_ptr_array_new_with_free_func((GDestroyNotify) tlsa_free);
    for (guint i = 0; i < d->recs->len; i++) {
        const DaneTlsa *x = d->recs->pdata[i];
        DaneTlsa *y = g_new0(DaneTlsa, 1);
        *y = *x;
        y->data = g_memdup2(x->data, x->len);
        g_ptr_array_add(c->recs, y);
    }
    c->usable = d->usable;
    c->base = g_strdup(d->base);
    c->other = g_strdup(d->other);
    return c;
}

gboolean
dane_usable_any(const DaneRecords *d)
{
    return d && d->usable > 0;
}
