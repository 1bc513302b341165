/* mimeparts.c - how many MIME parts a raw mail has, counted in one pass
 * over its lines before GMime builds the tree (GMime builds every part of
 * a mail before anything can look at the result: a million empty parts
 * cost it 1.4 GB and 10 s), and the parts of a built tree.
 *
 * The scan counts what makes GMime build a part:
 * - a Content-Type header whose parameters (decoded by GMime itself, so
 *   RFC 2231 continuations and encodings count as GMime sees them) have
 *   a boundary: a multipart, and its boundary is remembered;
 * - a Content-Type header of type message/...: a message part, whose inner
 *   message is one more part (the message part itself was counted by
 *   its boundary line);
 * - a line that is "--" and a remembered boundary, followed by nothing
 *   but white space (what GMime takes for a boundary): one more part.
 * Every Content-Type line is looked at, also one in a body, so the count
 * may be a little high, never lower than the parts GMime builds (a child
 * of a multipart/digest, or a message inside a message, is a message part
 * without its own count: at most twice the count).  The remembered boundaries are bounded by the limit.
 * The cost is one pass and a hash lookup a line that starts with "--". */
#include "config.h"
#include "mimeparts.h"

#include <string.h>

static gboolean
is_lwsp(guint8 c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* header_name_is - the line starts with header name (any case), maybe
 * white space, and a colon; *value is what follows the colon. */
static gboolean
header_name_is(const guint8 *line, gsize len, const char *name, gsize *value)
{
    gsize n = strlen(name), i;

    if (len <= n || g_ascii_strncasecmp((const char *) line, name, n) != 0)
        return FALSE;
    for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
        ;
    if (i >= len || line[i] != ':')
        return FALSE;
    *value = i + 1;
    return TRUE;
}

static gboolean
contains_word(const char *s, const char *word)
{
    gsize n = strlen(word);
    for (; *s; s++)
        if (g_ascii_strncasecmp(s, word, n) == 0)
            return TRUE;
    return FALSE;
}

gboolean
mimeparts_scan(const guint8 *data, gsize len, gsize limit, GMimeParserOptions *opts, MimePartsScan *out)
{
    GHashTable *bounds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gsize pos = 0, parts = 0;
    gboolean over = FALSE;

    out->cut = len;
    while (pos < len) {
        const guint8 *line = data + pos;
        const guint8 *nl = memchr(line, '\n', len - pos);
        gsize llen = nl ? (gsize) (nl - line) : len - pos;
        gsize next = nl ? pos + llen + 1 : len, vstart;
        gsize found = 0;

        if (llen >= 2 && line[0] == '-' && line[1] == '-' && g_hash_table_size(bounds) > 0) {
            gsize l = llen;
            char *key;
            while (l > 2 && is_lwsp(line[l - 1]))
                l--;
            key = g_strndup((const char *) line, l);
            if (g_hash_table_contains(bounds, key))
                found = 1;
            g_free(key);
        } else if (header_name_is(line, llen, "content-type", &vstart)) {
            GString *value = g_string_new_len((const char *) line + vstart, (gssize) (llen - vstart));
            char *unfolded;
            /* the folded continuation lines belong to the value, which is
             * unfolded as GMime unfolds it (a boundary may be folded) */
            while (next < len && (data[next] == ' ' || data[next] == '\t')) {
                const guint8 *cl = data + next;
                const guint8 *cnl = memchr(cl, '\n', len - next);
                gsize cllen = cnl ? (gsize) (cnl - cl) : len - next;
                if (value->len && value->str[value->len - 1] == '\r')
                    g_string_truncate(value, value->len - 1);
                g_string_append_c(value, '\n');
                g_string_append_len(value, (const char *) cl, (gssize) cllen);
                next = cnl ? next + cllen + 1 : len;
            }
            if (value->len && value->str[value->len - 1] == '\r')
                g_string_truncate(value, value->len - 1);
            unfolded = g_mime_utils_header_unfold(value->str);   /* a NUL ends the value, as in GMime */
            if (contains_word(unfolded, "boundary") || contains_word(unfolded, "message")) {
                GMimeContentType *ct = g_mime_content_type_parse(opts, unfolded);
                const char *b = ct ? g_mime_content_type_get_parameter(ct, "boundary") : NULL;
                if (ct && g_mime_content_type_is_type(ct, "message", "*"))
                    found = 1;                  /* its inner part (the boundary line counted the part) */
                else if (b && *b) {
                    gsize l = strlen(b);
                    char *key;
                    while (l > 0 && is_lwsp((guint8) b[l - 1]))
                        l--;
                    key = g_strdup_printf("--%.*s", (int) l, b);
                    /* past the limit the count is known to be over: the
                     * set need not grow any more */
                    if (!over && !g_hash_table_contains(bounds, key))
                        g_hash_table_add(bounds, key);
                    else
                        g_free(key);
                    found = 1;
                }
                if (ct)
                    g_object_unref(ct);
            }
            g_free(unfolded);
            g_string_free(value, TRUE);
        }
        if (found) {
            parts += found;
            if (limit > 0 && parts > limit && !over) {
                over = TRUE;
                out->cut = pos;
            }
        }
        pos = next;
    }
    g_hash_table_unref(bounds);
    out->parts = MAX(parts, 1);
    return !over;
}

gsize
mimeparts_count(GMimeObject *top)
{
    GPtrArray *stack = g_ptr_array_new();
    gsize n = 0;

    if (top)
        g_ptr_array_add(stack, top);
    while (stack->len > 0) {
        GMimeObject *o = g_ptr_array_steal_index_fast(stack, stack->len - 1);
        n++;
        if (GMIME_IS_MULTIPART(o)) {
            GMimeMultipart *mp = GMIME_MULTIPART(o);
            for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
                g_ptr_array_add(stack, g_mime_multipart_get_part(mp, i));
        } else if (GMIME_IS_MESSAGE_PART(o)) {
            GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
            if (inner && g_mime_message_get_mime_part(inner))
                g_ptr_array_add(stack, g_mime_message_get_mime_part(inner));
        }
    }
    g_ptr_array_unref(stack);
    return n;
}
