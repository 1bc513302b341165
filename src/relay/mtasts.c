/* mtasts.c - MTA-STS (RFC 8461) for the relay's MX deliveries under
 * tls_verify = mta-sts: the _mta-sts.DOMAIN TXT record (c-ares, lib's
 * dns_txt_lookup), the policy fetched from
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt with OpenSSL (the
 * certificate verified against tls_ca_file or the system CAs, its name
 * checked), parsed (version STSv1, mode, mx patterns, max_age) and
 * cached in memory for max_age (at most a year), shared by the worker
 * threads.  A domain without the TXT record, or whose policy cannot be
 * fetched and is not cached, has no policy (RFC 8461 5.1: delivery stays
 * opportunistic) - mtasts_get tells the caller why, as the TLS-RPT
 * result type (sts-policy-fetch-error, sts-webpki-invalid,
 * sts-policy-invalid) the runner records; a fetched policy in mode
 * enforce makes the runner deliver only to MX hosts matching its mx
 * patterns, over STARTTLS with a verified certificate, and defer
 * otherwise - never in clear.
 * The parser (mtasts_parse) and the pattern match (mtasts_mx_match) are
 * pure and fuzzed by tests/fuzz/fuzz_smtp.c. */
#include "config.h"
#include "relay.h"
#include "dmarc.h"
#include "log.h"
#include "tlsrpt.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

static GMutex cache_lock;
static GHashTable *cache;          /* domain -> MtaStsPolicy* */

void
mtasts_policy_free(MtaStsPolicy *p)
{
    if (!p)
        return;
    g_ptr_array_unref(p->mx);
    g_free(p->id);
    g_free(p);
}

static MtaStsPolicy *
policy_copy(const MtaStsPolicy *p)
{
    MtaStsPolicy *c = g_new0(MtaStsPolicy, 1);
    c->mode = p->mode;
    c->max_age = p->max_age;
    c->expires = p->expires;
    c->id = g_strdup(p->id);
    c->mx = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < p->mx->len; i++)
        g_ptr_array_add(c->mx, g_strdup(p->mx->pdata[i]));
    return c;
}

MtaStsPolicy *
mtasts_parse(const char *body, gsize len)
{
    MtaStsPolicy *p = g_new0(MtaStsPolicy, 1);
    char *text = g_strndup(body, len);
    char **lines = g_strsplit(text, "\n", -1);
    gboolean version = FALSE, mode = FALSE, age = FALSE;

    p->mx = g_ptr_array_new_with_free_func(g_free);
    for (char **l = lines; *l; l++) {
        char *colon = strchr(*l, ':'), *key, *val;
        if (!colon)
            continue;
        *colon = '\0';
        key = g_strstrip(*l);
        val = g_strstrip(colon + 1);
        if (g_str_equal(key, "version"))
            version = g_str_equal(val, "STSv1");
        else if (g_str_equal(key, "mode")) {
            mode = TRUE;
            if (g_str_equal(val, "enforce"))
                p->mode = MTASTS_ENFORCE;
            else if (g_str_equal(val, "testing"))
                p->mode = MTASTS_TESTING;
            else if (g_str_equal(val, "none"))
                p->mode = MTASTS_NONE;
            else
                mode = FALSE;
        } else if (g_str_equal(key, "max_age")) {
            char *end = NULL;
            gint64 v = g_ascii_strtoll(val, &end, 10);
            age = end && end != val && *end == '\0' && v >= 0;
            p->max_age = CLAMP(v, 0, 31557600);
        } else if (g_str_equal(key, "mx") && *val && strlen(val) < 254 && !strpbrk(val, " \t\r")) {
            if (p->mx->len < 100)
                g_ptr_array_add(p->mx, g_ascii_strdown(val, -1));
        }
    }
    g_strfreev(lines);
    g_free(text);
    if (!version || !mode || !age || (p->mode != MTASTS_NONE && p->mx->len == 0)) {
        mtasts_policy_free(p);
        return NULL;
    }
    return p;
}

gboolean
mtasts_mx_match(const MtaStsPolicy *p, const char *host)
{
    char *h = g_ascii_strdown(host, -1);
    gsize hl = strlen(h);
    gboolean ok = FALSE;

    if (hl && h[hl - 1] == '.')
        h[--hl] = '\0';
    for (guint i = 0; i < p->mx->len && !ok; i++) {
        const char *pat = p->mx->pdata[i];
        if (pat[0] == '*' && pat[1] == '.') {
            /* "*.example.net": exactly one more label on the left */
            const char *dot = strchr(h, '.');
            ok = dot && dot != h && g_str_equal(dot + 1, pat + 2);
        } else {
            ok = g_str_equal(h, pat);
        }
    }
    g_free(h);
    return ok;
}

/* https_get - the body of https://host/.well-known/mta-sts.txt (port
 * mta_sts_port), or NULL with *why and *failure (TLSRPT_STS_WEBPKI_INVALID
 * for a certificate that does not verify, else
 * TLSRPT_STS_POLICY_FETCH_ERROR). */
static char *
https_get(Relay *r, const char *host, gsize *len, char **why, int *failure)
{
    char *dest = g_strdup_printf("[%s]:%d", host, r->mta_sts_port);
    GError *error = NULL;
    GPtrArray *targets = dns_targets(r, dest, TRUE, &error);
    GString *resp = g_string_new(NULL);
    char *body = NULL;
    int fd = -1, err = 0;
    SSL *ssl = NULL;

    g_free(dest);
    *failure = TLSRPT_STS_POLICY_FETCH_ERROR;
    if (!targets) {
        *why = g_strdup(error->message);
        g_clear_error(&error);
        goto out;
    }
    for (guint i = 0; i < targets->len && fd < 0; i++)
        fd = smtp_client_connect(targets->pdata[i], r->connect_timeout, &err);
    g_ptr_array_unref(targets);
    if (fd < 0) {
        *why = g_strdup_printf("connect to %s: %s", host, g_strerror(err));
        goto out;
    }
    {
        struct timeval tv = { r->connect_timeout, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    ssl = SSL_new(r->verify_tls);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set1_host(ssl, host);
    SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    if (SSL_connect(ssl) != 1) {
        long v = SSL_get_verify_result(ssl);
        if (v != X509_V_OK)
            *failure = TLSRPT_STS_WEBPKI_INVALID;
        *why = g_strdup_printf("TLS with %s failed: %s", host,
                               v != X509_V_OK ? X509_verify_cert_error_string(v) : "handshake");
        goto out;
    }
    {
        char *req = g_strdup_printf("GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: %s\r\n"
                                    "User-Agent: kairan\r\nConnection: close\r\n\r\n", host);
        char buf[4096];
        int n;
        SSL_write(ssl, req, (int) strlen(req));
        g_free(req);
        while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0 && resp->len < 70000)
            g_string_append_len(resp, buf, n);
    }
    {
        char *sep = strstr(resp->str, "\r\n\r\n");
        if (!g_str_has_prefix(resp->str, "HTTP/1.") || strlen(resp->str) < 12 ||
            strncmp(resp->str + 9, "200", 3) != 0 || !sep) {
            char *first = g_strndup(resp->str, strcspn(resp->str, "\r\n"));
            *why = g_strdup_printf("https://%s/.well-known/mta-sts.txt answered '%s'", host, first);
            g_free(first);
            goto out;
        }
        *len = resp->len - (gsize) (sep + 4 - resp->str);
        if (*len > 65536) {
            *why = g_strdup_printf("the policy of %s is larger than 64 KiB", host);
            goto out;
        }
        body = g_memdup2(sep + 4, *len + 1);
        *failure = 0;
    }
out:
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    if (fd >= 0)
        close(fd);
    g_string_free(resp, TRUE);
    return body;
}

/* txt_id - the id of a "v=STSv1; id=..." record of name, or NULL. */
static char *
txt_id(Relay *r, const char *domain)
{
    char *name = g_strdup_printf("_mta-sts.%s", domain);
    GPtrArray *recs = NULL;
    char *id = NULL;

    if (dns_txt_lookup(r->inst, name, &recs) == DNS_OK) {
        for (guint i = 0; i < recs->len && !id; i++) {
            const char *v = recs->pdata[i];
            const char *p;
            if (!g_str_has_prefix(v, "v=STSv1"))
                continue;
            p = strstr(v, "id=");
            id = g_strndup(p ? p + 3 : "", p ? strcspn(p + 3, "; \t") : 0);
        }
    }
    if (recs)
        g_ptr_array_unref(recs);
    g_free(name);
    return id;
}

MtaStsPolicy *
mtasts_get(Relay *r, const char *domain, int *failure, char **reason)
{
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    MtaStsPolicy *p = NULL, *fetched;
    char *id, *host, *body, *why = NULL;
    gsize len = 0;
    int fail = 0;

    *failure = 0;
    *reason = NULL;
    g_mutex_lock(&cache_lock);
    if (!cache)
        cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) mtasts_policy_free);
    if ((p = g_hash_table_lookup(cache, domain)) && p->expires > now)
        p = policy_copy(p);
    else
        p = NULL;
    g_mutex_unlock(&cache_lock);
    if (p)
        return p;
    if (!(id = txt_id(r, domain)))
        return NULL;                             /* no policy published */
    host = g_strdup_printf("mta-sts.%s", domain);
    body = https_get(r, host, &len, &why, &fail);
    fetched = body ? mtasts_parse(body, len) : NULL;
    if (!fetched) {
        *failure = body ? TLSRPT_STS_POLICY_INVALID : fail;
        *reason = why ? g_strdup(why)
                      : g_strdup_printf("the policy at https://%s/.well-known/mta-sts.txt is not a valid STSv1 policy", host);
        log_warn("mta-sts: %s publishes a policy (id %s) but it cannot be used: %s; delivery stays opportunistic",
                 domain, id, why ? why : "malformed policy");
    } else {
        fetched->id = g_strdup(id);
        fetched->expires = now + fetched->max_age;
        log_info("mta-sts: %s policy id %s: mode %s, %u mx pattern%s, max_age %" G_GINT64_FORMAT, domain, id,
                 fetched->mode == MTASTS_ENFORCE ? "enforce" : fetched->mode == MTASTS_TESTING ? "testing" : "none",
                 fetched->mx->len, fetched->mx->len == 1 ? "" : "s", fetched->max_age);
        p = policy_copy(fetched);
        g_mutex_lock(&cache_lock);
        g_hash_table_replace(cache, g_strdup(domain), fetched);
        g_mutex_unlock(&cache_lock);
    }
    g_free(why);
    g_free(body);
    g_free(host);
    g_free(id);
    return p;
}
