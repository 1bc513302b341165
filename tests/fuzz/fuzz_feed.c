/* fuzz_feed.c - libFuzzer harness for the archive's Atom feed
 * (src/web/page_feed.c) and the owners' mail templates
 * (src/lib/template_override.c).
 * Input: MAIL NUL TEMPLATE-TEXT; the first byte of TEMPLATE-TEXT's field
 * picks the template.
 *   - MAIL, parsed by the one parser, becomes the newest post of a public
 *     archive (archive_append); GET /list/team/feed.atom through
 *     web_handle() must answer 200 with a document GLib's strict markup
 *     parser accepts (well-formed, valid UTF-8), with no character XML
 *     1.0 forbids, raw or as a &#...; reference; the post is removed again.
 *   - TEMPLATE-TEXT goes through template_override_set: refused with a
 *     message, or stored; a stored text loads back as the text in effect
 *     with only known placeholders, LF line ends and no control
 *     characters.
 * fuzz-corpus: japanese mime malformed */
#include "fuzz_common.h"
#include "archive.h"
#include "db.h"
#include "message.h"
#include "template.h"
#include "template_override.h"
#include "web/web.h"

static Instance *inst;
static char **names;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_init_libs();
    inst = fuzz_instance();
    fuzz_newlist(inst, "team", "owner@example.org");
    fuzz_set(inst, "team", "archive_access", "public");
    fuzz_set(inst, "team", "feed_entries", "1");
    /* durability is not what this harness checks: no fsync a commit */
    if (sqlite3_exec(inst->db, "PRAGMA synchronous = OFF", NULL, NULL, NULL) != SQLITE_OK)
        abort();
    names = template_names();
    if (!names[0])
        abort();
    return 0;
}

static void
element_start(GMarkupParseContext *ctx, const gchar *name, const gchar **an, const gchar **av,
              gpointer data, GError **error)
{
    (void) ctx; (void) name; (void) an; (void) av; (void) data; (void) error;
}

/* char_ref_ok - the character a &#...; reference names is one XML 1.0
 * allows (g_markup_escape_text writes &#x1; for U+0001, which GMarkup
 * reads but no XML parser takes). */
static gboolean
char_ref_ok(const char *p)
{
    gboolean hex = p[2] == 'x';
    gint64 c = g_ascii_strtoll(p + (hex ? 3 : 2), NULL, hex ? 16 : 10);
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

static void
check_feed(void)
{
    WebRequest *req = web_request_new("GET", "/list/team/feed.atom", NULL);
    WebResponse *resp;
    GMarkupParser parser = { element_start, NULL, NULL, NULL, NULL };
    GMarkupParseContext *ctx;
    GError *error = NULL;
    const char *body;
    gsize len;

    web_request_set_header(req, "host", "lists.example.test");
    resp = web_handle(inst, req);
    if (resp->status != 200)
        abort();
    body = (const char *) resp->body->data;
    len = resp->body->len;
    if (len < 40 || !g_utf8_validate(body, (gssize) len, NULL))
        abort();
    /* GMarkup takes no <?xml?> declaration: skip it */
    if (strncmp(body, "<?xml", 5) != 0 || !strstr(body, "?>"))
        abort();
    len -= (gsize) (strstr(body, "?>") + 2 - body);
    body = strstr(body, "?>") + 2;
    for (gsize i = 0; i < len; i++) {
        unsigned char ch = (unsigned char) body[i];
        if (ch < 0x20 && ch != '\n' && ch != '\t' && ch != '\r')
            abort();
    }
    for (const char *p = body; (p = g_strstr_len(p, (gssize) (len - (gsize) (p - body)), "&#")) != NULL; p += 2)
        if (!char_ref_ok(p)) {
            fprintf(stderr, "feed refers to a character XML 1.0 forbids: %.12s\n", p);
            abort();
        }
    ctx = g_markup_parse_context_new(&parser, 0, NULL, NULL);
    if (!g_markup_parse_context_parse(ctx, body, (gssize) len, &error) ||
        !g_markup_parse_context_end_parse(ctx, &error)) {
        fprintf(stderr, "feed not well-formed: %s\n%.*s\n", error->message, (int) MIN(len, 4000), body);
        abort();
    }
    g_markup_parse_context_free(ctx);
    web_response_free(resp);
    web_request_free(req);
}

static void
fuzz_post(const uint8_t *data, size_t size)
{
    GMimeMessage *msg = parse_message_bounded(data, size, 64, NULL);
    GError *error = NULL;
    sqlite3_stmt *st;

    if (!msg)
        return;
    if (!db_begin_immediate(inst->db, &error))
        abort();
    if (!archive_append(inst, "team", 1, msg, data, size, &error) ||      /* no archive_sync: speed */
        !db_commit(inst->db, &error)) {
        fprintf(stderr, "fuzz_feed: not archived: %s\n", error ? error->message : "?");
        g_clear_error(&error);
        db_rollback(inst->db);
        archive_unlink(inst, "team", 1);
        g_object_unref(msg);
        return;
    }
    check_feed();
    st = db_prepare(inst->db, "DELETE FROM archive WHERE list = 'team' AND num = 1");
    if (sqlite3_step(st) != SQLITE_DONE)
        abort();
    sqlite3_finalize(st);
    archive_unlink(inst, "team", 1);
    g_object_unref(msg);
}

static void
fuzz_template_text(const char *field, size_t len)
{
    const char *name;
    GError *error = NULL;
    char **unknown;

    if (len == 0)
        return;
    name = names[(unsigned char) field[0] % g_strv_length(names)];
    unknown = template_placeholders_unknown(name, field + 1);
    if (template_override_set(inst, "team", "en", name, field + 1, len - 1, &error)) {
        TemplateSource src;
        char *text = template_load_for(inst, "team", "en", name, &src);
        char **again;
        if (!text || src != TEMPLATE_FROM_LIST || unknown[0])
            abort();
        again = template_placeholders_unknown(name, text);
        if (again[0] || strchr(text, '\r'))
            abort();
        for (const char *p = text; *p; p++)
            if (((unsigned char) *p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
                abort();
        g_strfreev(again);
        g_free(text);
        if (!template_override_reset(inst, "team", "en", name, NULL, &error))
            abort();
    } else {
        if (!error || !error->message[0])
            abort();
        g_error_free(error);
    }
    g_strfreev(unknown);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul;
    size_t mail_len;

    if (size > 256 * 1024)
        return 0;
    nul = memchr(data, 0, size);
    mail_len = nul ? (size_t) (nul - data) : size;
    fuzz_post(data, mail_len);
    if (nul) {
        char *rest = g_strndup((const char *) nul + 1, size - mail_len - 1);
        fuzz_template_text(rest, size - mail_len - 1);   /* a NUL inside: a control character */
        g_free(rest);
    }
    return 0;
}
