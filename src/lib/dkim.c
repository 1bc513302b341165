/* dkim.c - DKIM signatures (RFC 6376) on the mail kairan sends.
 *
 * The signature is computed over the exact bytes that are written to the
 * archive and the queue: callers serialise the message first (GMime
 * refolds headers on output, so signing a GMime object and writing it
 * again would not verify), then dkim_sign_bytes() canonicalises those
 * bytes and puts the DKIM-Signature field in front of them.
 *
 * Canonicalisation is relaxed/relaxed (RFC 6376 3.4.2 and 3.4.4).
 * Algorithms: rsa-sha256, and ed25519-sha256 (RFC 8463: pure Ed25519
 * over the SHA-256 hash of the canonical data).  Signed header fields:
 * every instance of the From, To, Cc, Subject, Date, Message-ID,
 * Reply-To, MIME, List-*, X-ML-Name and X-Mail-Count fields present, and
 * the important ones once more ("oversigning") so that a copy with one
 * added later does not verify.
 *
 * CONFIGURATION: kairan.conf group [dkim], one key per signing domain:
 *     [dkim]
 *     lists.example.org = kairan:dkim/lists.example.org.kairan.key
 * The key of the From: domain of the outgoing message is used when there
 * is one (lists that munge From sign aligned with it), else the key of
 * the instance's [global] domain; no key, no signature. */
#include "config.h"
#include "dkim.h"
#include "address.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* Header fields signed when present, in this order; the starred ones are
 * signed once more than they occur. */
static const struct {
    const char *name;
    gboolean oversign;
} signed_fields[] = {
    { "from", TRUE }, { "sender", TRUE }, { "reply-to", TRUE }, { "subject", TRUE },
    { "date", TRUE }, { "message-id", TRUE }, { "to", TRUE }, { "cc", TRUE },
    { "in-reply-to", FALSE }, { "references", FALSE },
    { "mime-version", TRUE }, { "content-type", TRUE }, { "content-transfer-encoding", TRUE },
    { "content-disposition", FALSE }, { "content-id", FALSE }, { "content-description", FALSE },
    { "list-id", TRUE }, { "list-post", TRUE }, { "list-help", TRUE }, { "list-subscribe", TRUE },
    { "list-unsubscribe", TRUE }, { "list-unsubscribe-post", TRUE }, { "list-archive", TRUE },
    { "list-owner", TRUE }, { "x-ml-name", TRUE }, { "x-mail-count", TRUE },
    { "x-original-from", TRUE }, { "precedence", FALSE }, { "auto-submitted", FALSE },
};

typedef struct {
    char *name;          /* as written */
    const guint8 *start; /* the whole field, name to last continuation line */
    gsize len;           /* without the final line end */
    gboolean used;
} Field;

/* split_message - the header fields and the offset of the body. */
static GArray *
split_message(const guint8 *msg, gsize len, gsize *body_off)
{
    GArray *fields = g_array_new(FALSE, TRUE, sizeof(Field));
    gsize p = 0;

    *body_off = len;
    while (p < len) {
        gsize line_end = p;
        while (line_end < len && msg[line_end] != '\n')
            line_end++;
        /* empty line: end of header */
        if (line_end == p || (line_end == p + 1 && msg[p] == '\r')) {
            *body_off = line_end < len ? line_end + 1 : len;
            return fields;
        }
        if ((msg[p] == ' ' || msg[p] == '\t') && fields->len > 0) {
            Field *f = &g_array_index(fields, Field, fields->len - 1);
            f->len = line_end - (gsize) (f->start - msg);
        } else {
            Field f = { 0 };
            const guint8 *colon = memchr(msg + p, ':', line_end - p);
            gsize nlen = colon ? (gsize) (colon - (msg + p)) : line_end - p;
            while (nlen > 0 && (msg[p + nlen - 1] == ' ' || msg[p + nlen - 1] == '\t'))
                nlen--;
            f.name = g_strndup((const char *) msg + p, nlen);
            f.start = msg + p;
            f.len = line_end - p;
            g_array_append_val(fields, f);
        }
        p = line_end + 1;
    }
    return fields;
}

static void
fields_free(GArray *fields)
{
    for (guint i = 0; i < fields->len; i++)
        g_free(g_array_index(fields, Field, i).name);
    g_array_free(fields, TRUE);
}

/* canon_header - relaxed form of one field ("name:value", no CRLF). */
static void
canon_header(GString *out, const guint8 *field, gsize len)
{
    const guint8 *colon = memchr(field, ':', len);
    gsize nlen = colon ? (gsize) (colon - field) : len;
    gsize i, start;
    gboolean space = FALSE;

    while (nlen > 0 && (field[nlen - 1] == ' ' || field[nlen - 1] == '\t'))
        nlen--;
    for (i = 0; i < nlen; i++)
        g_string_append_c(out, g_ascii_tolower(field[i]));
    g_string_append_c(out, ':');
    if (!colon)
        return;
    start = out->len;
    for (i = (gsize) (colon - field) + 1; i < len; i++) {
        guint8 c = field[i];
        if (c == '\r' || c == '\n')
            continue;
        if (c == ' ' || c == '\t') {
            space = TRUE;
            continue;
        }
        if (space && out->len > start)
            g_string_append_c(out, ' ');
        space = FALSE;
        g_string_append_c(out, c);
    }
}

/* hash_body - relaxed body canonicalisation (RFC 6376 3.4.4) into a
 * digest context: white space runs become one SP, trailing white space
 * and trailing empty lines go, every line ends in CRLF. */
static void
hash_body(EVP_MD_CTX *ctx, const guint8 *body, gsize len)
{
    GString *line = g_string_new(NULL);
    guint pending_empty = 0;
    gsize p = 0;

    while (p < len) {
        gsize e = p;
        gboolean space = FALSE;
        while (e < len && body[e] != '\n')
            e++;
        g_string_truncate(line, 0);
        for (gsize i = p; i < e; i++) {
            guint8 c = body[i];
            if (c == '\r' && i + 1 == e)
                break;
            if (c == ' ' || c == '\t') {
                space = TRUE;
                continue;
            }
            if (space)
                g_string_append_c(line, ' ');
            space = FALSE;
            g_string_append_c(line, c);
        }
        /* trailing white space is dropped (space stays unflushed) */
        if (line->len == 0) {
            pending_empty++;
        } else {
            for (; pending_empty > 0; pending_empty--)
                EVP_DigestUpdate(ctx, "\r\n", 2);
            EVP_DigestUpdate(ctx, line->str, line->len);
            EVP_DigestUpdate(ctx, "\r\n", 2);
        }
        p = e + 1;
    }
    g_string_free(line, TRUE);
}

static char *
b64(const guint8 *data, gsize len)
{
    return g_base64_encode(data, len);
}

char *
dkim_body_hash(const guint8 *msg, gsize len)
{
    gsize body_off;
    GArray *fields = split_message(msg, len, &body_off);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    guint8 md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *r;

    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    hash_body(ctx, msg + body_off, len - body_off);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    fields_free(fields);
    r = b64(md, mdlen);
    return r;
}

/* last_unused - the bottom-most not yet signed instance of name. */
static Field *
last_unused(GArray *fields, const char *name)
{
    for (guint i = fields->len; i > 0; i--) {
        Field *f = &g_array_index(fields, Field, i - 1);
        if (!f->used && g_ascii_strcasecmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

static void
fold_append(GString *out, guint *col, const char *text)
{
    gsize n = strlen(text);
    if (*col + n > 76) {
        g_string_append(out, "\n\t");
        *col = 1;
    }
    g_string_append(out, text);
    *col += n;
}

static char *signature_bh(const guint8 *msg, gsize len, const char *bh, EVP_PKEY *key,
                          const char *domain, const char *selector, gint64 t, GError **error);

static void
ossl_error(GError **error, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "DKIM: %s: %s", what, e ? buf : "failed");
}

char *
dkim_signature(const guint8 *msg, gsize len, EVP_PKEY *key, const char *domain,
               const char *selector, gint64 t, GError **error)
{
    char *bh = dkim_body_hash(msg, len);
    char *r = signature_bh(msg, len, bh, key, domain, selector, t, error);
    g_free(bh);
    return r;
}

/* signature_bh - dkim_signature with the body hash given: only the
 * header fields of msg are read (msg may be the header block alone). */
static char *
signature_bh(const guint8 *msg, gsize len, const char *bh, EVP_PKEY *key, const char *domain,
             const char *selector, gint64 t, GError **error)
{
    gsize body_off;
    GArray *fields = split_message(msg, len, &body_off);
    GString *hdr = g_string_new(NULL), *data = g_string_new(NULL);
    GPtrArray *names = g_ptr_array_new();
    gboolean ed = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519;
    char *b = NULL, *result = NULL, *tmp;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    guint8 *sig = NULL;
    size_t siglen = 0;
    guint col;

    if (!ed && EVP_PKEY_get_id(key) != EVP_PKEY_RSA) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "DKIM: the key is neither RSA nor Ed25519");
        goto out;
    }
    /* The signed fields, bottom-up per name (RFC 6376 5.4.2). */
    for (gsize i = 0; i < G_N_ELEMENTS(signed_fields); i++) {
        const char *name = signed_fields[i].name;
        gboolean any = FALSE;
        Field *f;
        while ((f = last_unused(fields, name)) != NULL) {
            f->used = TRUE;
            canon_header(data, f->start, f->len);
            g_string_append(data, "\r\n");
            g_ptr_array_add(names, (gpointer) name);
            any = TRUE;
        }
        if (any && signed_fields[i].oversign)
            g_ptr_array_add(names, (gpointer) name);
    }

    g_string_append_printf(hdr, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed; d=%s;\n\ts=%s; t=%" G_GINT64_FORMAT ";\n\th=",
                           ed ? "ed25519-sha256" : "rsa-sha256", domain, selector, t);
    col = 3;
    for (guint i = 0; i < names->len; i++) {
        tmp = g_strdup_printf("%s%s", (const char *) names->pdata[i], i + 1 < names->len ? ":" : ";");
        fold_append(hdr, &col, tmp);
        g_free(tmp);
    }
    g_string_append_printf(hdr, "\n\tbh=%s;\n\tb=", bh);
    canon_header(data, (const guint8 *) hdr->str, hdr->len);

    if (ed) {
        guint8 md[32];
        unsigned int mdlen = 0;
        EVP_Digest(data->str, data->len, md, &mdlen, EVP_sha256(), NULL);
        if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
            EVP_DigestSign(ctx, NULL, &siglen, md, mdlen) != 1) {
            ossl_error(error, "Ed25519 signing");
            goto out;
        }
        sig = g_malloc(siglen);
        if (EVP_DigestSign(ctx, sig, &siglen, md, mdlen) != 1) {
            ossl_error(error, "Ed25519 signing");
            goto out;
        }
    } else {
        if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
            EVP_DigestSignUpdate(ctx, data->str, data->len) != 1 ||
            EVP_DigestSignFinal(ctx, NULL, &siglen) != 1) {
            ossl_error(error, "RSA signing");
            goto out;
        }
        sig = g_malloc(siglen);
        if (EVP_DigestSignFinal(ctx, sig, &siglen) != 1) {
            ossl_error(error, "RSA signing");
            goto out;
        }
    }
    b = b64(sig, siglen);
    col = 4;
    for (const char *p = b; *p;) {
        gsize n = MIN(strlen(p), (gsize) (76 - col));
        if (col >= 76) {
            g_string_append(hdr, "\n\t");
            col = 1;
            continue;
        }
        g_string_append_len(hdr, p, n);
        p += n;
        col += n;
    }
    g_string_append_c(hdr, '\n');
    result = g_string_free(hdr, FALSE);
    hdr = NULL;
out:
    EVP_MD_CTX_free(ctx);
    g_free(sig);
    g_free(b);
    g_ptr_array_free(names, TRUE);
    if (hdr)
        g_string_free(hdr, TRUE);
    g_string_free(data, TRUE);
    fields_free(fields);
    return result;
}

EVP_PKEY *
dkim_key_load(const char *path, GError **error)
{
    BIO *bio = BIO_new_file(path, "r");
    EVP_PKEY *key;

    if (!bio) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "DKIM key %s: %s", path, g_strerror(errno));
        return NULL;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!key)
        ossl_error(error, path);
    return key;
}

gboolean
dkim_key_for(const Instance *inst, const char *domain, char **selector, char **keyfile)
{
    char *v, *colon;

    if (!domain)
        return FALSE;
    v = g_key_file_get_string(inst->conf, "dkim", domain, NULL);
    if (!v) {
        /* GLib key names are case sensitive; domains are not. */
        char *lower = g_ascii_strdown(domain, -1);
        v = g_key_file_get_string(inst->conf, "dkim", lower, NULL);
        g_free(lower);
    }
    if (!v)
        return FALSE;
    g_strstrip(v);
    colon = strchr(v, ':');
    if (!colon || colon == v || !colon[1]) {
        log_warn("kairan.conf [dkim] %s: '%s' is not selector:keyfile", domain, v);
        g_free(v);
        return FALSE;
    }
    *colon = '\0';
    *selector = g_strdup(g_strstrip(v));
    *keyfile = g_path_is_absolute(g_strstrip(colon + 1))
                   ? g_strdup(g_strstrip(colon + 1))
                   : g_build_filename(inst->home, g_strstrip(colon + 1), NULL);
    g_free(v);
    return TRUE;
}

/* from_domain - the domain of the message's From: field, or NULL. */
static char *
from_domain(const guint8 *msg, gsize len)
{
    gsize body_off;
    GArray *fields = split_message(msg, len, &body_off);
    char *domain = NULL;

    for (guint i = 0; i < fields->len && !domain; i++) {
        Field *f = &g_array_index(fields, Field, i);
        if (g_ascii_strcasecmp(f->name, "From") == 0) {
            const guint8 *colon = memchr(f->start, ':', f->len);
            char *value = colon ? g_strndup((const char *) colon + 1, f->len - (gsize) (colon + 1 - f->start)) : NULL;
            char *addr = value ? address_from_header(value, NULL) : NULL;
            char *at = addr ? strrchr(addr, '@') : NULL;
            if (at)
                domain = g_ascii_strdown(at + 1, -1);
            g_free(addr);
            g_free(value);
        }
    }
    fields_free(fields);
    return domain;
}

gboolean
dkim_sign_bytes(const Instance *inst, GByteArray *bytes, GError **error)
{
    char *domain = from_domain(bytes->data, bytes->len);
    char *selector = NULL, *keyfile = NULL, *header;
    EVP_PKEY *key;

    if (!dkim_key_for(inst, domain, &selector, &keyfile)) {
        g_free(domain);
        domain = g_strdup(inst->domain);
        if (!dkim_key_for(inst, domain, &selector, &keyfile)) {
            g_free(domain);
            return TRUE;            /* signing not configured */
        }
    }
    key = dkim_key_load(keyfile, error);
    header = key ? dkim_signature(bytes->data, bytes->len, key, domain, selector, now_seconds(), error) : NULL;
    if (header)
        g_byte_array_prepend(bytes, (const guint8 *) header, (guint) strlen(header));
    if (key)
        EVP_PKEY_free(key);
    g_free(header);
    g_free(selector);
    g_free(keyfile);
    g_free(domain);
    return header != NULL;
}

/* ---- re-signing personalised copies (src/relay/personalize.c) ---- */

struct DkimSigner {
    EVP_PKEY *key;
    char *domain, *selector, *bh;
    gint64 t;
};

DkimSigner *
dkim_signer_new(const Instance *inst, const guint8 *msg, gsize len, GError **error)
{
    char *domain = from_domain(msg, len);
    char *selector = NULL, *keyfile = NULL;
    DkimSigner *s;
    EVP_PKEY *key;

    if (!dkim_key_for(inst, domain, &selector, &keyfile)) {
        g_free(domain);
        domain = g_strdup(inst->domain);
        if (!dkim_key_for(inst, domain, &selector, &keyfile)) {
            g_free(domain);
            return NULL;            /* signing not configured */
        }
    }
    key = dkim_key_load(keyfile, error);
    g_free(keyfile);
    if (!key) {
        g_free(domain);
        g_free(selector);
        return NULL;
    }
    s = g_new0(DkimSigner, 1);
    s->key = key;
    s->domain = domain;
    s->selector = selector;
    s->bh = dkim_body_hash(msg, len);
    s->t = now_seconds();
    return s;
}

const char *
dkim_signer_domain(const DkimSigner *s)
{
    return s->domain;
}

char *
dkim_signer_sign(const DkimSigner *s, const guint8 *head, gsize len, GError **error)
{
    return signature_bh(head, len, s->bh, s->key, s->domain, s->selector, s->t, error);
}

void
dkim_signer_free(DkimSigner *s)
{
    if (!s)
        return;
    EVP_PKEY_free(s->key);
    g_free(s->domain);
    g_free(s->selector);
    g_free(s->bh);
    g_free(s);
}

gsize
dkim_own_signature_len(const guint8 *msg, gsize len, const char *domain)
{
    gsize body_off, n = 0;
    GArray *fields = split_message(msg, len, &body_off);

    if (fields->len > 0) {
        Field *f = &g_array_index(fields, Field, 0);
        char *text = g_ascii_strdown((const char *) f->start, (gssize) f->len);
        char *d = g_ascii_strdown(domain, -1);
        char *want = g_strdup_printf("d=%s;", d);
        char *flat = g_strdelimit(text, " \t\r\n", ' ');
        GString *nows = g_string_new(NULL);
        for (const char *p = flat; *p; p++)
            if (*p != ' ')
                g_string_append_c(nows, *p);
        if (g_ascii_strcasecmp(f->name, "DKIM-Signature") == 0 && strstr(nows->str, want) &&
            f->len < len && msg[f->len] == '\n')
            n = f->len + 1;
        g_string_free(nows, TRUE);
        g_free(d);
        g_free(want);
        g_free(text);
    }
    fields_free(fields);
    return n;
}

gboolean
dkim_keygen(const char *type, int bits, const char *path, char **txt, GError **error)
{
    EVP_PKEY *key = NULL;
    gboolean ed = g_str_equal(type, "ed25519");
    guint8 *pub = NULL;
    size_t publen = 0;
    char *p64 = NULL;
    BIO *bio = NULL;
    FILE *f = NULL;
    gboolean ok = FALSE;
    int fd;

    key = ed ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") : EVP_RSA_gen((unsigned int) bits);
    if (!key) {
        ossl_error(error, "key generation");
        return FALSE;
    }
    if (ed) {
        if (EVP_PKEY_get_raw_public_key(key, NULL, &publen) != 1)
            goto ossl;
        pub = g_malloc(publen);
        if (EVP_PKEY_get_raw_public_key(key, pub, &publen) != 1)
            goto ossl;
    } else {
        int n = i2d_PUBKEY(key, NULL);
        guint8 *q;
        if (n <= 0)
            goto ossl;
        pub = q = g_malloc((gsize) n);
        i2d_PUBKEY(key, &q);
        publen = (size_t) n;
    }
    p64 = b64(pub, publen);

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_CANTCREAT, "%s: %s", path, g_strerror(errno));
        goto out;
    }
    f = fdopen(fd, "w");
    bio = BIO_new_fp(f, BIO_NOCLOSE);
    if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) || BIO_flush(bio) != 1 ||
        fflush(f) != 0 || fsync(fd) != 0) {
        ossl_error(error, path);
        unlink(path);
        goto out;
    }
    *txt = g_strdup_printf("v=DKIM1; k=%s; p=%s", ed ? "ed25519" : "rsa", p64);
    ok = TRUE;
    goto out;
ossl:
    ossl_error(error, "public key");
out:
    if (bio)
        BIO_free(bio);
    if (f)
        fclose(f);
    EVP_PKEY_free(key);
    g_free(pub);
    g_free(p64);
    return ok;
}
