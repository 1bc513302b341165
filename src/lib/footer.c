/* footer.c - the list footer (setting `footer`): a few lines added at the
 * end of every post, as Mailman's msg_footer, mlmmj's footer and fml's
 * trailer, typically saying how to unsubscribe.
 *
 * Where it goes depends on the post's shape, so that no reader loses it
 * and no signature breaks:
 *   - a single text/plain body (not an attachment): appended to the text,
 *     in the body's own charset when the footer fits in it (a Japanese
 *     list keeps ISO-2022-JP), else the whole body is re-encoded as UTF-8;
 *   - multipart/mixed: a text/plain part appended at the end;
 *   - anything else (multipart/alternative, multipart/signed, HTML only,
 *     a lone attachment): the body is wrapped in a multipart/mixed with
 *     the footer part after it, leaving the original part byte for byte
 *     as it was (a PGP/MIME or S/MIME signature stays valid).
 * The footer is in the archived copy too: one stored message is both the
 * archive and what the queue sends (see queue.c). */
#include "config.h"
#include "distribute.h"
#include "domains.h"
#include "japanese.h"
#include "message.h"
#include "lists.h"
#include "settings.h"
#include "template.h"

#include <string.h>

char *
footer_expand(const Instance *inst, const char *list, gint64 num, const char *text)
{
    char *post = list_address(inst, list, NULL);
    char *ctl = list_address(inst, list, "-ctl");
    char *web_url = list_web_url(inst, list);
    const char *slash = web_url && !g_str_has_suffix(web_url, "/") ? "/" : "";
    char *unsubscribe = web_url && *web_url
        ? g_strdup_printf("%s%slist/%s/unsubscribe", web_url, slash, list)
        : g_strdup_printf("mailto:%s?body=unsubscribe", ctl);
    char *archive = web_url && *web_url
        ? g_strdup_printf("%s%slist/%s/archive", web_url, slash, list)
        : g_strdup_printf("mailto:%s?body=index", ctl);
    char *number = g_strdup_printf("%" G_GINT64_FORMAT, num);
    GHashTable *vars = template_vars_new();
    char *out;

    template_var(vars, "list", list);
    template_var(vars, "address", post);
    template_var(vars, "number", number);
    template_var(vars, "unsubscribe", unsubscribe);
    template_var(vars, "archive", archive);
    out = template_expand(text, vars);     /* {{name}}, as every template */
    g_hash_table_unref(vars);
    g_free(post);
    g_free(ctl);
    g_free(web_url);
    g_free(unsubscribe);
    g_free(archive);
    g_free(number);
    return out;
}

/* set_text_content - text (in charset, already converted) as the part's
 * content, with the charset parameter and the best encoding for mail
 * that must stay 7-bit clean. */
static void
set_text_content(GMimePart *part, const char *bytes, size_t len, const char *charset)
{
    GMimeStream *mem = g_mime_stream_mem_new_with_buffer(bytes, len);
    GMimeDataWrapper *content = g_mime_data_wrapper_new_with_stream(mem, GMIME_CONTENT_ENCODING_DEFAULT);

    g_mime_part_set_content(part, content);
    g_object_unref(content);
    g_object_unref(mem);
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", charset);
    g_mime_part_set_content_encoding(part, g_mime_part_get_best_content_encoding(part, GMIME_ENCODING_CONSTRAINT_7BIT));
}

static GMimeObject *
footer_part(const char *footer)
{
    GMimeTextPart *part = g_mime_text_part_new_with_subtype("plain");
    gboolean ascii = TRUE;
    GMimeContentDisposition *disposition;

    for (const char *p = footer; *p && ascii; p++)
        ascii = (unsigned char) *p < 0x80;
    set_text_content(GMIME_PART(part), footer, strlen(footer), ascii ? "us-ascii" : "utf-8");
    disposition = g_mime_content_disposition_new();
    g_mime_content_disposition_set_disposition(disposition, GMIME_DISPOSITION_INLINE);
    g_mime_object_set_content_disposition(GMIME_OBJECT(part), disposition);
    g_object_unref(disposition);
    return GMIME_OBJECT(part);
}

/* append_japanese - a footer added to a Japanese body without touching
 * its bytes: the body as it came (transfer encoding undone), then the
 * footer in the body's charset (CP932 for Shift_JIS, ISO-2022-JP after a
 * return to ASCII).  FALSE when the footer does not fit that charset: the
 * caller then writes all of it in UTF-8, decoded by japanese.c. */
static gboolean
append_japanese(GMimeTextPart *part, const char *footer, const char *charset)
{
    GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(part));
    const char *jp_iconv;                  /* the iconv charset the footer is written in */
    char *converted;
    gsize converted_len = 0;
    GMimeStream *mem;
    GByteArray *bytes;
    GString *all;

    if (g_ascii_strcasecmp(charset, "iso-2022-jp") == 0 || g_ascii_strcasecmp(charset, "csiso2022jp") == 0)
        jp_iconv = "ISO-2022-JP";
    else if (g_ascii_strncasecmp(charset, "iso-2022-jp", 11) == 0 || g_ascii_strncasecmp(charset, "cp5022", 6) == 0)
        jp_iconv = NULL;                   /* other ISO-2022-JP variants: UTF-8 */
    else if (g_ascii_strncasecmp(charset, "euc", 3) == 0 || g_ascii_strncasecmp(charset, "x-euc", 5) == 0 ||
             g_ascii_strcasecmp(charset, "cp51932") == 0)
        jp_iconv = "EUC-JP-MS";
    else
        jp_iconv = "CP932";                /* Shift_JIS and its aliases */
    if (!content || !jp_iconv)
        return FALSE;
    converted = g_convert(footer, -1, jp_iconv, "UTF-8", NULL, &converted_len, NULL);
    if (!converted)
        return FALSE;
    mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, mem);
    bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    all = g_string_new_len((const char *) bytes->data, (gssize) bytes->len);
    g_object_unref(mem);
    if (g_str_equal(jp_iconv, "ISO-2022-JP")) {
        /* the body may end in a two-byte or katakana set: back to ASCII */
        const char *last = g_strrstr_len(all->str, (gssize) all->len, "\x1b");
        if (last && !(last + 2 < all->str + all->len && last[1] == '(' && last[2] == 'B'))
            g_string_append(all, "\x1b(B");
        if (memchr(all->str, 0x0e, all->len))
            g_string_append_c(all, 0x0f);       /* SI after a SO */
    }
    if (all->len > 0 && all->str[all->len - 1] != '\n')
        g_string_append_c(all, '\n');
    g_string_append_len(all, converted, (gssize) converted_len);
    set_text_content(GMIME_PART(part), all->str, all->len, charset);
    g_string_free(all, TRUE);
    g_free(converted);
    return TRUE;
}

/* append_to_text - FALSE if the text could not be decoded. */
static gboolean
append_to_text(GMimeTextPart *part, const char *footer)
{
    char *text;
    /* a copy: setting the parameter again frees the one GMime holds */
    char *charset = g_strdup(g_mime_text_part_get_charset(part));
    GString *all;
    char *converted = NULL;
    gsize converted_len = 0;

    if (charset && japanese_charset_is_japanese(charset)) {
        if (append_japanese(part, footer, charset)) {
            g_free(charset);
            return TRUE;
        }
        g_free(charset);
        charset = g_strdup("utf-8");            /* the footer does not fit: all in UTF-8 */
    }
    text = message_text_part_text(part);       /* UTF-8, Japanese without loss */
    if (!text || !g_utf8_validate(text, -1, NULL)) {
        g_free(text);
        g_free(charset);
        return FALSE;
    }
    all = g_string_new(text);
    g_free(text);
    if (all->len > 0 && all->str[all->len - 1] != '\n')
        g_string_append_c(all, '\n');
    g_string_append(all, footer);
    if (charset && g_ascii_strcasecmp(charset, "utf-8") != 0 && g_ascii_strcasecmp(charset, "us-ascii") != 0)
        converted = g_convert(all->str, (gssize) all->len, charset, "UTF-8", NULL, &converted_len, NULL);
    if (converted) {
        set_text_content(GMIME_PART(part), converted, converted_len, charset);
    } else {
        gboolean ascii = TRUE;
        for (gsize i = 0; i < all->len && ascii; i++)
            ascii = (unsigned char) all->str[i] < 0x80;
        set_text_content(GMIME_PART(part), all->str, all->len, ascii ? "us-ascii" : "utf-8");
    }
    g_free(converted);
    g_free(charset);
    g_string_free(all, TRUE);
    return TRUE;
}

static gboolean
is_attachment(GMimeObject *obj)
{
    GMimeContentDisposition *d = g_mime_object_get_content_disposition(obj);
    return d && g_mime_content_disposition_is_attachment(d);
}

void
footer_apply(GMimeMessage *msg, const char *footer_text)
{
    GMimeObject *top = g_mime_message_get_mime_part(msg);
    GString *footer;
    GMimeContentType *ct;

    if (!top || !footer_text || !*footer_text)
        return;
    footer = g_string_new(footer_text);
    if (footer->str[footer->len - 1] != '\n')
        g_string_append_c(footer, '\n');
    ct = g_mime_object_get_content_type(top);
    if (GMIME_IS_TEXT_PART(top) && g_mime_content_type_is_type(ct, "text", "plain") && !is_attachment(top) &&
        append_to_text(GMIME_TEXT_PART(top), footer->str)) {
        /* appended in place */
    } else if (GMIME_IS_MULTIPART(top) && !GMIME_IS_MULTIPART_SIGNED(top) && !GMIME_IS_MULTIPART_ENCRYPTED(top) &&
               g_mime_content_type_is_type(ct, "multipart", "mixed")) {
        GMimeObject *part = footer_part(footer->str);
        g_mime_multipart_add(GMIME_MULTIPART(top), part);
        g_object_unref(part);
    } else {
        GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
        GMimeObject *part = footer_part(footer->str);
        g_mime_multipart_add(mixed, top);             /* takes its own reference */
        g_mime_multipart_add(mixed, part);
        g_mime_message_set_mime_part(msg, GMIME_OBJECT(mixed));
        g_object_unref(part);
        g_object_unref(mixed);
    }
    g_string_free(footer, TRUE);
}
