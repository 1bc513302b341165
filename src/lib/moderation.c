/* moderation.c - pre-approval and header filters (moderation.h), the
 * moderation tools of Mailman that src/deliver/post.c applies.
 *
 * Pre-approval: as Mailman 2.1 and 3, the password comes from an
 * Approved: (Approve:, X-Approved:, X-Approve:) header, or from a line
 * "Approved: password" that is the first non-blank line of the first
 * text/plain part.  It is taken out of the post in every case, right or
 * wrong, so that no password reaches the archive or the members: the
 * headers are removed, the body line is cut from the decoded bytes of its
 * part, and the same "Approved: password" (with blanks, &nbsp; or HTML
 * tags between the two, as an HTML editor writes it) is cut from every
 * other text part, e.g. the text/html half of a multipart/alternative.
 * The work is done on the decoded bytes, not on converted text: the line
 * is ASCII, and in ISO-2022-JP, Shift_JIS, EUC-JP, UTF-8 and ISO-8859 an
 * ASCII line is the same bytes, so the rest of the part stays byte for
 * byte as it came, in its charset and its transfer encoding.
 *
 * Header filters: rules "Header: regex -> action", separated by new
 * lines or ';' (a ';' in a regex is written \;, which PCRE reads as ';'),
 * compiled case-insensitive and matched (unanchored, like Python's
 * re.search in Mailman) against every occurrence of the header, decoded
 * from RFC 2047.  The first rule that matches decides. */
#include "config.h"
#include "moderation.h"
#include "message.h"

#include <string.h>

const char *
moderation_action_name(ModerationAction action)
{
    switch (action) {
    case MODERATION_ACCEPT:
        return "accept";
    case MODERATION_HOLD:
        return "hold";
    case MODERATION_REJECT:
        return "reject";
    case MODERATION_DISCARD:
        return "discard";
    case MODERATION_NONE:
        break;
    }
    return "";
}

static void
rule_free(gpointer p)
{
    ModerationRule *r = p;
    g_free(r->header);
    g_free(r->pattern);
    g_free(r->text);
    if (r->re)
        g_regex_unref(r->re);
    g_free(r);
}

/* split_rules - the rules of value: split at new lines and at ';' not
 * escaped by a backslash (a backslash pair "\\" escapes nothing after it). */
static GPtrArray *
split_rules(const char *value)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);

    for (const char *p = value;; p++) {
        if (*p == '\\' && p[1]) {
            g_string_append_c(cur, p[0]);
            g_string_append_c(cur, p[1]);
            p++;
            continue;
        }
        if (*p == '\0' || *p == ';' || *p == '\n' || *p == '\r') {
            g_strstrip(cur->str);
            if (cur->str[0])
                g_ptr_array_add(out, g_strdup(cur->str));
            g_string_truncate(cur, 0);
            if (*p == '\0')
                break;
            continue;
        }
        g_string_append_c(cur, *p);
    }
    g_string_free(cur, TRUE);
    return out;
}

static gboolean
field_name_ok(const char *name)
{
    if (!*name)
        return FALSE;
    for (const char *p = name; *p; p++)
        if ((unsigned char) *p <= 32 || (unsigned char) *p >= 127 || *p == ':')
            return FALSE;
    return TRUE;
}

static ModerationRule *
parse_rule(const char *text, int n, char **why)
{
    const char *colon = strchr(text, ':');
    const char *arrow = g_strrstr(text, "->");
    char *header, *pattern, *action;
    ModerationRule *r;
    GError *e = NULL;

    if (!colon || !arrow || arrow < colon) {
        *why = g_strdup_printf("header_filters: rule %d '%s' is not 'Header: regex -> action' "
                               "(action: hold, reject, discard or accept)", n, text);
        return NULL;
    }
    header = g_strstrip(g_strndup(text, (gsize) (colon - text)));
    pattern = g_strstrip(g_strndup(colon + 1, (gsize) (arrow - colon - 1)));
    action = g_strstrip(g_ascii_strdown(arrow + 2, -1));
    r = g_new0(ModerationRule, 1);
    r->header = header;
    r->pattern = pattern;
    if (g_str_equal(action, "accept"))
        r->action = MODERATION_ACCEPT;
    else if (g_str_equal(action, "hold"))
        r->action = MODERATION_HOLD;
    else if (g_str_equal(action, "reject"))
        r->action = MODERATION_REJECT;
    else if (g_str_equal(action, "discard"))
        r->action = MODERATION_DISCARD;
    if (!field_name_ok(header))
        *why = g_strdup_printf("header_filters: rule %d '%s': '%s' is not a header field name", n, text, header);
    else if (!*pattern)
        *why = g_strdup_printf("header_filters: rule %d '%s': the regular expression is empty", n, text);
    else if (r->action == MODERATION_NONE)
        *why = g_strdup_printf("header_filters: rule %d '%s': unknown action '%s' (hold, reject, discard or accept)",
                               n, text, action);
    else if (!(r->re = g_regex_new(pattern, G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, &e))) {
        *why = g_strdup_printf("header_filters: rule %d '%s': '%s' is not a regular expression: %s", n, text,
                               pattern, e->message);
        g_error_free(e);
    }
    if (*why) {
        g_free(action);
        rule_free(r);
        return NULL;
    }
    r->text = g_strdup_printf("%s: %s -> %s", header, pattern, action);
    g_free(action);
    return r;
}

GPtrArray *
moderation_rules_parse(const char *value, char **why)
{
    GPtrArray *parts = split_rules(value ? value : "");
    GPtrArray *rules = g_ptr_array_new_with_free_func(rule_free);

    *why = NULL;
    /* PCRE must never see bytes that are not UTF-8 (found by
     * fuzz_import_mailman2: GLib compiles without a UTF-8 check) */
    if (value && !g_utf8_validate(value, -1, NULL))
        *why = g_strdup("header_filters: the rules are not UTF-8 text");
    for (guint i = 0; i < parts->len && !*why; i++) {
        ModerationRule *r = parse_rule(parts->pdata[i], (int) i + 1, why);
        if (r)
            g_ptr_array_add(rules, r);
    }
    g_ptr_array_unref(parts);
    if (*why) {
        g_ptr_array_unref(rules);
        return NULL;
    }
    return rules;
}

char *
moderation_rules_normalize(const char *value, char **why)
{
    GPtrArray *rules = moderation_rules_parse(value, why);
    GString *out;

    if (!rules)
        return NULL;
    out = g_string_new(NULL);
    for (guint i = 0; i < rules->len; i++)
        g_string_append_printf(out, "%s%s", i ? "; " : "", ((ModerationRule *) rules->pdata[i])->text);
    g_ptr_array_unref(rules);
    return g_string_free(out, FALSE);
}

static gboolean
headers_match(GMimeHeaderList *headers, const ModerationRule *r)
{
    int count = headers ? g_mime_header_list_get_count(headers) : 0;

    for (int i = 0; i < count; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
        const char *raw = g_mime_header_get_raw_value(h);
        char *value;
        gboolean hit;

        if (g_ascii_strcasecmp(g_mime_header_get_name(h), r->header) != 0)
            continue;
        value = message_header_decode(raw ? raw : "");
        hit = g_regex_match(r->re, value, 0, NULL);
        g_free(value);
        if (hit)
            return TRUE;
    }
    return FALSE;
}

ModerationAction
moderation_rules_match(GMimeMessage *msg, GPtrArray *rules, const char **rule)
{
    GMimeObject *top = g_mime_message_get_mime_part(msg);
    GMimeHeaderList *mine = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    GMimeHeaderList *part = top ? g_mime_object_get_header_list(top) : NULL;

    for (guint i = 0; rules && i < rules->len; i++) {
        const ModerationRule *r = rules->pdata[i];
        if (headers_match(mine, r) || (part && part != mine && headers_match(part, r))) {
            if (rule)
                *rule = r->text;
            return r->action;
        }
    }
    return MODERATION_NONE;
}

/* ---- pre-approval ---- */

static const char *const approved_headers[] = { "Approved", "Approve", "X-Approved", "X-Approve", NULL };

/* text_leaves - the text/ * leaves of the message in document order,
 * not looking into attached messages (their lines are not the poster's);
 * without recursion. */
static GPtrArray *
text_leaves(GMimeMessage *msg)
{
    GPtrArray *out = g_ptr_array_new();
    GPtrArray *stack = g_ptr_array_new();
    GMimeObject *top = g_mime_message_get_mime_part(msg);

    if (top)
        g_ptr_array_add(stack, top);
    while (stack->len > 0) {
        GMimeObject *o = g_ptr_array_steal_index(stack, stack->len - 1);
        if (GMIME_IS_MULTIPART(o)) {
            GMimeMultipart *mp = GMIME_MULTIPART(o);
            for (int i = g_mime_multipart_get_count(mp) - 1; i >= 0; i--)
                g_ptr_array_add(stack, g_mime_multipart_get_part(mp, i));
        } else if (GMIME_IS_TEXT_PART(o)) {
            g_ptr_array_add(out, o);
        }
    }
    g_ptr_array_unref(stack);
    return out;
}

/* part_bytes - the content of part with its transfer encoding undone. */
static GByteArray *
part_bytes(GMimePart *part)
{
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    GMimeStream *mem;
    GByteArray *bytes;

    if (!content)
        return NULL;
    mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, mem);
    {
        GByteArray *in = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
        bytes = g_byte_array_sized_new(in->len);       /* a copy: the stream frees its own */
        g_byte_array_append(bytes, in->data, in->len);
    }
    g_object_unref(mem);
    return bytes;
}

/* set_part_bytes - new decoded content for part, in the same transfer
 * encoding (base64 stays base64, quoted-printable stays so). */
static void
set_part_bytes(GMimePart *part, const guint8 *data, gsize len)
{
    GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
    GMimeStream *mem = g_mime_stream_mem_new_with_buffer(len ? (const char *) data : "", len);
    GMimeDataWrapper *content = g_mime_data_wrapper_new_with_stream(mem, GMIME_CONTENT_ENCODING_DEFAULT);

    g_mime_part_set_content(part, content);
    g_object_unref(content);
    g_object_unref(mem);
    if (enc != GMIME_CONTENT_ENCODING_DEFAULT)
        g_mime_part_set_content_encoding(part, enc);
}

/* skip_ascii_escape - past ESC ( B or ESC ( J at p (an ISO-2022-JP
 * encoder may open a line with them). */
static gsize
skip_ascii_escape(const guint8 *p, gsize len)
{
    gsize i = 0;
    while (i + 2 < len && p[i] == 0x1b && p[i + 1] == '(' && (p[i + 2] == 'B' || p[i + 2] == 'J'))
        i += 3;
    return i;
}

static gboolean
line_is_blank(const guint8 *p, gsize len)
{
    gsize i = skip_ascii_escape(p, len);
    for (; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return FALSE;
    return TRUE;
}

/* approved_line - the password of an "Approved: password" line (p, len
 * without its LF), else NULL. */
static char *
approved_line(const guint8 *p, gsize len)
{
    gsize i = skip_ascii_escape(p, len);
    gsize end = len;
    char *name, *pw;
    gboolean ok = FALSE;
    const guint8 *colon = memchr(p + i, ':', len - i);

    if (!colon)
        return NULL;
    name = g_strndup((const char *) p + i, (gsize) (colon - p - i));
    for (int k = 0; approved_headers[k] && !ok; k++)
        ok = g_ascii_strcasecmp(name, approved_headers[k]) == 0;
    g_free(name);
    if (!ok)
        return NULL;
    while (end > 0 && (p[end - 1] == '\r' || p[end - 1] == ' ' || p[end - 1] == '\t'))
        end--;
    /* an ISO-2022-JP line may end by returning to ASCII */
    while (end >= 3 && p[end - 3] == 0x1b && p[end - 2] == '(' && (p[end - 1] == 'B' || p[end - 1] == 'J'))
        end -= 3;
    i = (gsize) (colon - p) + 1;
    while (i < end && (p[i] == ' ' || p[i] == '\t'))
        i++;
    pw = g_strndup((const char *) p + i, end > i ? end - i : 0);
    for (char *c = pw; *c; c++)
        if ((unsigned char) *c < 0x20 || *c == 0x7f) {
            *c = '\0';                          /* a password is one line of text */
            break;
        }
    return pw;
}

/* take_first_line - the password of the first non-blank line of bytes if
 * it is an Approved: line: the leading blank lines, the line and one blank
 * line after it are cut from bytes. */
static char *
take_first_line(GByteArray *bytes)
{
    gsize pos = 0, len = bytes->len;
    const guint8 *d = bytes->data;

    while (pos < len) {
        const guint8 *nl = memchr(d + pos, '\n', len - pos);
        gsize eol = nl ? (gsize) (nl - d) : len;
        gsize next = nl ? eol + 1 : len;
        char *pw;

        if (line_is_blank(d + pos, eol - pos)) {
            pos = next;
            continue;
        }
        pw = approved_line(d + pos, eol - pos);
        if (pw && next < len) {
            /* one blank line after it goes too */
            const guint8 *nl2 = memchr(d + next, '\n', len - next);
            gsize eol2 = nl2 ? (gsize) (nl2 - d) : len;
            if (line_is_blank(d + next, eol2 - next))
                next = nl2 ? eol2 + 1 : len;
        }
        if (pw)
            g_byte_array_remove_range(bytes, 0, (guint) next);
        return pw;
    }
    return NULL;
}

/* cut_everywhere - remove "Approved: password" (blanks, &nbsp; or tags
 * between) from every text leaf; the leaf already cut is written anew too. */
static void
cut_everywhere(GPtrArray *leaves, GMimePart *first, GByteArray *first_bytes, const char *password)
{
    /* the password as it is, or as HTML writes it (& as &amp;, < as &lt;, ...) */
    char *html = g_utf8_validate(password, -1, NULL) ? g_markup_escape_text(password, -1) : g_strdup(password);
    char *escaped = g_regex_escape_string(password, -1);
    char *escaped_html = g_regex_escape_string(html, -1);
    char *pattern = g_strdup_printf("(?:x-)?approved?:(?:\\s|&nbsp;|&#160;|&#xa0;|\\xc2\\xa0|\\xa0|<[^>]*>)*(?:%s|%s)",
                                    escaped, escaped_html);
    GRegex *re = g_regex_new(pattern, G_REGEX_CASELESS | G_REGEX_RAW, 0, NULL);

    for (guint i = 0; i < leaves->len; i++) {
        GMimePart *part = leaves->pdata[i];
        GByteArray *bytes = part == first ? g_byte_array_ref(first_bytes) : part_bytes(part);
        GByteArray *out = NULL;
        GMatchInfo *mi = NULL;
        gsize done = 0;

        if (!bytes)
            continue;
        if (re && bytes->len > 0 &&
            g_regex_match_full(re, (const char *) bytes->data, (gssize) bytes->len, 0, 0, &mi, NULL)) {
            out = g_byte_array_new();
            while (g_match_info_matches(mi)) {
                int start, end;
                g_match_info_fetch_pos(mi, 0, &start, &end);
                g_byte_array_append(out, bytes->data + done, (guint) ((gsize) start - done));
                done = (gsize) end;
                g_match_info_next(mi, NULL);
            }
            g_byte_array_append(out, bytes->data + done, (guint) (bytes->len - done));
        }
        g_match_info_free(mi);
        if (out)
            set_part_bytes(part, out->data, out->len);
        else if (part == first)
            set_part_bytes(part, bytes->data, bytes->len);
        if (out)
            g_byte_array_unref(out);
        g_byte_array_unref(bytes);
    }
    if (re)
        g_regex_unref(re);
    g_free(pattern);
    g_free(escaped);
    g_free(escaped_html);
    g_free(html);
}

char *
moderation_approved_take(GMimeMessage *msg)
{
    GMimeObject *obj = GMIME_OBJECT(msg);
    char *password = NULL;
    GPtrArray *leaves;
    GMimePart *first = NULL;
    GByteArray *bytes = NULL;

    for (int k = 0; approved_headers[k]; k++) {
        GMimeHeader *h = g_mime_header_list_get_header(g_mime_object_get_header_list(obj), approved_headers[k]);
        if (h && !password) {
            const char *raw = g_mime_header_get_raw_value(h);
            password = message_header_decode(raw ? raw : "");
            g_strstrip(password);
        }
        while (g_mime_object_remove_header(obj, approved_headers[k]))
            ;
    }
    if (password)
        return password;

    leaves = text_leaves(msg);
    for (guint i = 0; i < leaves->len && !first; i++) {
        GMimeObject *o = leaves->pdata[i];
        GMimeContentDisposition *d = g_mime_object_get_content_disposition(o);
        if (g_mime_content_type_is_type(g_mime_object_get_content_type(o), "text", "plain") &&
            !(d && g_mime_content_disposition_is_attachment(d)))
            first = GMIME_PART(o);
    }
    if (first && (bytes = part_bytes(first)))
        password = take_first_line(bytes);
    if (password && *password)
        cut_everywhere(leaves, first, bytes, password);
    else if (password)
        set_part_bytes(first, bytes->data, bytes->len);
    if (bytes)
        g_byte_array_unref(bytes);
    g_ptr_array_unref(leaves);
    return password;
}
