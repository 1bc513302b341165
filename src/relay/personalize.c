/* personalize.c - personalised delivery (list option personalize = yes):
 * the queue keeps ONE copy of a post (hard-linked from the archive) and
 * its envelope a line "P LIST" (queue.c); the relay makes each
 * recipient's copy while sending it:
 *   - envelope sender LIST-admin+LOCAL=DOMAIN@domain (VERP, the form
 *     src/ctl/bounce.c decodes), so a bounce names the member even when
 *     the report cannot be parsed;
 *   - with [global] web_url set, the List-Unsubscribe field is replaced
 *     (in place) by "<mailto:...>, <one-click URL of this recipient>"
 *     (token_oneclick_url) followed by "List-Unsubscribe-Post:
 *     List-Unsubscribe=One-Click" (RFC 8058);
 *   - when DKIM is configured, the signature kairan put in front of the
 *     queued copy is dropped and the personalised header block is signed
 *     anew (dkim.c DkimSigner: the body hash is computed once per
 *     message, each copy costs one header hash and one signature).
 * Only the header block differs between copies: the body is converted to
 * its wire form (CRLF, dot-stuffed, final dot) once and shared; a copy
 * is a small per-recipient head in front of it.  Without web_url the head
 * is the queued one unchanged and only the envelope sender differs. */
#include "config.h"
#include "relay.h"
#include "domains.h"
#include "dkim.h"
#include "log.h"
#include "token.h"

#include <string.h>

struct Personal {
    Relay *r;
    char *list;
    gboolean oneclick;      /* web_url set: rewrite List-Unsubscribe */
    GString *pre, *post;    /* header text around the List-Unsubscribe field(s) */
    char *mailto;           /* the mailto URIs of the queued List-Unsubscribe */
    GBytes *head_plain;     /* the queued header block in wire form (no rewrite) */
    GBytes *body;           /* body in wire form with the final dot */
    DkimSigner *signer;
};

static GMutex conf_lock;

/* field_end - offset just past the header field starting at p (LF form). */
static gsize
field_end(const char *h, gsize len, gsize p)
{
    for (;;) {
        const char *nl = memchr(h + p, '\n', len - p);
        if (!nl)
            return len;
        p = (gsize) (nl - h) + 1;
        if (p >= len || (h[p] != ' ' && h[p] != '\t'))
            return p;
    }
}

static gboolean
is_field(const char *h, gsize len, gsize p, const char *name)
{
    gsize n = strlen(name);
    return p + n < len && g_ascii_strncasecmp(h + p, name, n) == 0 && h[p + n] == ':';
}

/* mailto_of - the <mailto:...> entries of a List-Unsubscribe field. */
static char *
mailto_of(const char *field, gsize len)
{
    GString *out = g_string_new(NULL);
    const char *p = field, *end = field + len;
    while (p < end) {
        const char *lt = memchr(p, '<', end - p), *gt;
        if (!lt || !(gt = memchr(lt, '>', end - lt)))
            break;
        if (g_ascii_strncasecmp(lt + 1, "mailto:", 7) == 0) {
            if (out->len)
                g_string_append(out, ", ");
            g_string_append_len(out, lt, gt - lt + 1);
        }
        p = gt + 1;
    }
    return g_string_free(out, FALSE);
}

Personal *
personal_new(Relay *r, const char *list, const char *data, gsize len, GBytes **body_wire)
{
    Personal *ps = g_new0(Personal, 1);
    const char *sep = NULL;
    gsize hlen, p = 0, skip = 0;
    char *web = list_web_url(r->inst, list);
    GError *error = NULL;
    GString *w;

    ps->r = r;
    ps->list = g_strdup(list);
    ps->oneclick = web != NULL;
    g_free(web);
    if (len > 0 && data[0] == '\n')
        sep = data;
    else if (len > 1)
        sep = g_strstr_len(data, (gssize) len, "\n\n");
    if (sep)
        hlen = (gsize) (sep - data) + (data[0] == '\n' && sep == data ? 0 : 1);
    else
        hlen = len;

    /* the head as queued, for recipients without a rewrite */
    w = g_string_sized_new(hlen + 64);
    smtp_wire_append(w, data, hlen);
    g_string_append(w, "\r\n");
    ps->head_plain = g_string_free_to_bytes(w);
    /* the shared body */
    {
        gsize boff = sep ? (gsize) (sep - data) + (sep == data ? 1 : 2) : len;
        w = g_string_sized_new(len - boff + (len - boff) / 30 + 16);
        smtp_wire_append(w, data + boff, len - boff);
        g_string_append(w, ".\r\n");
        ps->body = g_string_free_to_bytes(w);
    }
    if (body_wire)
        *body_wire = g_bytes_ref(ps->body);
    if (!ps->oneclick)
        return ps;

    ps->signer = dkim_signer_new(r->inst, (const guint8 *) data, len, &error);
    if (error) {
        log_error("personalised delivery of %s: %s (copies go out unsigned)", list, error->message);
        g_clear_error(&error);
    }
    if (ps->signer)
        skip = dkim_own_signature_len((const guint8 *) data, hlen, dkim_signer_domain(ps->signer));
    ps->pre = g_string_new(NULL);
    ps->post = g_string_new(NULL);
    {
        gboolean seen = FALSE;
        GString *mailto = g_string_new(NULL);
        for (p = skip; p < hlen;) {
            gsize e = field_end(data, hlen, p);
            if (is_field(data, hlen, p, "List-Unsubscribe")) {
                char *m = mailto_of(data + p, e - p);
                if (*m && !mailto->len)
                    g_string_append(mailto, m);
                g_free(m);
                seen = TRUE;
            } else if (!is_field(data, hlen, p, "List-Unsubscribe-Post")) {
                g_string_append_len(seen ? ps->post : ps->pre, data + p, e - p);
            }
            p = e;
        }
        if (ps->pre->len && ps->pre->str[ps->pre->len - 1] != '\n')
            g_string_append_c(ps->pre, '\n');
        if (ps->post->len && ps->post->str[ps->post->len - 1] != '\n')
            g_string_append_c(ps->post, '\n');
        ps->mailto = g_string_free(mailto, FALSE);
    }
    return ps;
}

char *
personal_verp(const char *sender, const char *rcpt)
{
    const char *at = strrchr(sender, '@'), *rat = strrchr(rcpt, '@');
    if (!at || !rat || at == sender || rat == rcpt || !rat[1])
        return g_strdup(sender);
    return g_strdup_printf("%.*s+%.*s=%s%s", (int) (at - sender), sender, (int) (rat - rcpt), rcpt,
                           rat + 1, at);
}

GBytes *
personal_head(Personal *ps, const char *rcpt)
{
    GString *h, *w;
    char *url, *sig = NULL;
    GError *error = NULL;

    if (!ps->oneclick)
        return g_bytes_ref(ps->head_plain);
    /* token_oneclick_url reads kairan.conf (a GKeyFile): one thread at a time */
    g_mutex_lock(&conf_lock);
    url = token_oneclick_url(ps->r->inst, ps->list, rcpt);
    g_mutex_unlock(&conf_lock);
    h = g_string_sized_new(ps->pre->len + ps->post->len + 512);
    g_string_append_len(h, ps->pre->str, (gssize) ps->pre->len);
    g_string_append(h, "List-Unsubscribe: ");
    if (*ps->mailto)
        g_string_append_printf(h, "%s,\n ", ps->mailto);
    g_string_append_printf(h, "<%s>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n", url ? url : "");
    g_string_append_len(h, ps->post->str, (gssize) ps->post->len);
    g_string_append_c(h, '\n');
    if (ps->signer && !(sig = dkim_signer_sign(ps->signer, (const guint8 *) h->str, h->len, &error))) {
        log_error("personalised copy for <%s>: %s (sent unsigned)", rcpt, error ? error->message : "?");
        g_clear_error(&error);
    }
    w = g_string_sized_new(h->len + (sig ? strlen(sig) : 0) + 64);
    if (sig)
        smtp_wire_append(w, sig, strlen(sig));
    smtp_wire_append(w, h->str, h->len);
    g_string_free(h, TRUE);
    g_free(sig);
    g_free(url);
    return g_string_free_to_bytes(w);
}

void
personal_free(Personal *ps)
{
    if (!ps)
        return;
    g_free(ps->list);
    g_free(ps->mailto);
    if (ps->pre)
        g_string_free(ps->pre, TRUE);
    if (ps->post)
        g_string_free(ps->post, TRUE);
    g_bytes_unref(ps->head_plain);
    g_bytes_unref(ps->body);
    dkim_signer_free(ps->signer);
    g_free(ps);
}
