/* fuzz_message.c - libFuzzer harness for message intake and post policy
 * without disk side effects: parse_message_bounded (the part count of
 * mimeparts.c checked against the tree GMime built) -> loop_check ->
 * message_is_html_only -> filter_attachments (reject, then strip) ->
 * subject_tag_apply on the decoded Subject -> rewrite_headers and the footer (against a
 * throw-away instance with a few lists of different settings) ->
 * serialise and parse again (a Subject without control characters or
 * "=?", in a post without NUL and with a whole header block, must come back as kairan wrote it: japanese.c's encoder and
 * decoder agree), the search text (Japanese bodies through japanese.c);
 * plus the refusal reply (notify_build with
 * the post attached), whose header block must hold only the headers
 * kairan writes (no header injection from the post).
 *
 * The first input byte picks the list (its settings) and the post number;
 * the rest is the mail.
 * fuzz-corpus: attachments dsn japanese malformed mime */
#include "fuzz_common.h"
#include "address.h"
#include "deliver/deliver.h"
#include "mimeparts.h"
#include "notify.h"
#include "template.h"

static Instance *inst;
static const char *lists[] = { "team", "strip.list", "reject-l" };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init_libs();
    inst = fuzz_instance();
    fuzz_newlist(inst, "team", "owner@example.org");
    fuzz_newlist(inst, "strip.list", "owner@example.org");
    fuzz_newlist(inst, "reject-l", NULL);
    fuzz_set(inst, "strip.list", "subject_tag", "(%s %d)");
    fuzz_set(inst, "strip.list", "reply_to", "list");
    fuzz_set(inst, "strip.list", "description", "A \"quoted\" <list> \xe6\x97\xa5\xe6\x9c\xac");
    fuzz_set(inst, "strip.list", "remove_headers", "Received X-Spam-Status Reply-To");
    fuzz_set(inst, "strip.list", "footer", "-- \n\xe3\x83\x95\xe3\x83\x83\xe3\x82\xbf\xe3\x83\xbc {{list}} {{number}}\n{{unsubscribe}}");
    fuzz_set(inst, "team", "footer", "-- \nteam <{{address}}>");
    fuzz_set(inst, "reject-l", "subject_tag", "");
    fuzz_set(inst, "reject-l", "reply_to", "none");
    g_key_file_set_string(inst->conf, "global", "web_url", "https://lists.example.test/kairan");
    return 0;
}

/* check_reply_headers - every line of the reply's header block is a
 * continuation or one of the headers notify_build writes. */
static void
check_reply_headers(const GByteArray *bytes)
{
    static const char *allowed[] = { "From:", "To:", "Subject:", "Date:", "Message-Id:",
        "In-Reply-To:", "References:", "Auto-Submitted:", "Precedence:", "X-Kairan-Notice:",
        "X-ML-Name:", "MIME-Version:", "Content-Type:", "Content-Transfer-Encoding:", NULL };
    const char *p = (const char *) bytes->data, *end = p + bytes->len;

    while (p < end && *p != '\n') {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        gboolean ok = (*p == ' ' || *p == '\t');
        for (int i = 0; !ok && allowed[i]; i++)
            ok = g_ascii_strncasecmp(p, allowed[i], strlen(allowed[i])) == 0;
        if (!ok) {
            fprintf(stderr, "header injection in the refusal reply: %.*s\n",
                    (int) ((nl ? nl : end) - p), p);
            abort();
        }
        if (memchr(p, '\0', (size_t) ((nl ? nl : end) - p))) {
            fprintf(stderr, "NUL in the refusal reply's header block\n");
            abort();
        }
        p = nl ? nl + 1 : end;
    }
}

static void
refusal(GMimeMessage *msg, const char *list)
{
    GHashTable *vars = template_vars_new();
    const char *subject = g_mime_message_get_subject(msg);
    char *from = address_from_header(g_mime_object_get_header(GMIME_OBJECT(msg), "From"), NULL);
    GMimeMessage *reply;
    GByteArray *bytes;

    template_var(vars, "reason", "only members of the list may post to it");
    template_var(vars, "subject", subject ? subject : "");
    reply = notify_build(inst, list, "refused", vars, NULL, from ? from : "nobody@example.org",
                         g_mime_message_get_message_id(msg), msg);
    bytes = message_to_bytes(reply);
    check_reply_headers(bytes);
    g_byte_array_unref(bytes);
    g_object_unref(reply);
    g_hash_table_unref(vars);
    g_free(from);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GMimeMessage *msg;
    const char *list;
    gint64 num;
    char *removed = NULL, *tag, *subject_tag, *written;
    GByteArray *bytes;
    gsize parts = 0;

    if (size < 1 || size > 1024 * 1024)
        return 0;
    list = lists[data[0] % G_N_ELEMENTS(lists)];
    num = 1 + (data[0] >> 2) * 997;
    msg = parse_message_bounded(data + 1, size - 1, 0, &parts);     /* 0: all of it */
    if (!msg)
        return 0;
    /* mimeparts_scan counts before GMime parses: never fewer than half
     * the parts GMime builds, and a parse cut at a limit builds no more
     * than about twice the limit */
    if (g_mime_message_get_mime_part(msg) && mimeparts_count(g_mime_message_get_mime_part(msg)) > 2 * parts + 1) {
        fprintf(stderr, "mimeparts_scan counted %zu parts, GMime built %zu\n", parts,
                mimeparts_count(g_mime_message_get_mime_part(msg)));
        abort();
    }
    {
        GMimeMessage *cut = parse_message_bounded(data + 1, size - 1, 8, NULL);
        if (cut && g_mime_message_get_mime_part(cut) && mimeparts_count(g_mime_message_get_mime_part(cut)) > 2 * 8 + 2) {
            fprintf(stderr, "a parse cut at 8 parts built %zu\n", mimeparts_count(g_mime_message_get_mime_part(cut)));
            abort();
        }
        if (cut)
            g_object_unref(cut);
    }

    (void) loop_check(msg, list, "<team.lists.example.test>", "sender@example.org");
    (void) loop_check(msg, list, NULL, "");
    (void) message_is_html_only(msg);
    (void) notify_is_automatic(msg, "sender@example.org");
    refusal(msg, list);

    (void) filter_attachments(msg, "reject", "text/plain multipart/*", &removed);
    g_free(removed);
    (void) filter_attachments(msg, "strip", "text/* image/png multipart/alternative", &removed);
    g_free(removed);

    subject_tag = list_setting(inst, list, "subject_tag");
    tag = subject_tag_apply(g_mime_message_get_subject(msg), subject_tag, list, num);
    if (!g_utf8_validate(tag, -1, NULL)) {
        fprintf(stderr, "tagged subject is not UTF-8\n");
        abort();
    }
    g_free(tag);
    g_free(subject_tag);

    rewrite_headers(inst, list, msg, num);
    {
        /* the footer of strip.list is Japanese: it cannot always stay in
         * the body's charset, so both paths (convert, re-encode) run */
        char *footer = list_setting(inst, list, "footer");
        char *text = footer_expand(inst, list, num, footer);
        footer_apply(msg, text);
        g_free(text);
        g_free(footer);
    }
    {
        char *text = message_search_text(msg);
        if (!g_utf8_validate(text, -1, NULL)) {
            fprintf(stderr, "search text is not UTF-8\n");
            abort();
        }
        g_free(text);
    }
    written = g_strdup(g_mime_message_get_subject(msg));
    bytes = message_to_bytes(msg);
    {
        GMimeMessage *again = parse_message_bytes(bytes->data, bytes->len);
        /* a NUL in a header field cuts GMime's raw value before its line
         * end, so the next field is glued to it when written (GMime
         * 3.2.13, not the encoder's doing), and so is a header block cut
         * off without a line end: such posts are left out */
        gboolean clean = written && !strstr(written, "=?") && !memchr(data + 1, 0, size - 1) &&
                         (g_strstr_len((const char *) data + 1, (gssize) size - 1, "\n\n") ||
                          g_strstr_len((const char *) data + 1, (gssize) size - 1, "\n\r\n"));
        for (const char *p = written; clean && *p; p++)
            clean = (guchar) *p >= 0x20 && *p != 0x7f;
        if (again && clean) {
            char *want = g_strstrip(g_strdup(written));
            const char *got = g_mime_message_get_subject(again);
            if (g_strcmp0(got, want) != 0) {
                fprintf(stderr, "Subject written as \"%s\" read back as \"%s\"\n", want, got ? got : "(none)");
                abort();
            }
            g_free(want);
        }
        if (again)
            g_object_unref(again);
    }
    g_free(written);
    g_byte_array_unref(bytes);
    g_object_unref(msg);
    return 0;
}
