/* mailview.c - decode a stored mail for display with GMime: headers as
 * UTF-8 (RFC 2047 words decoded), text/plain parts converted from their
 * charset (ISO-2022-JP, Shift_JIS, ... become UTF-8), every other leaf
 * part (and any part marked as an attachment) listed as an attachment
 * that can be downloaded by its index.  A mail of more than
 * MAILVIEW_MAX_PARTS MIME parts (an archived post older than max_parts)
 * is counted first (mimeparts.c) and only its first parts are parsed, so
 * a view costs what a view of an ordinary post costs. */
#include "config.h"
#include "mailview.h"
#include "message.h"
#include "mimeparts.h"

#include <string.h>

static void
att_free(gpointer p)
{
    MailAttachment *a = p;
    g_free(a->mime_type);
    g_free(a->filename);
    g_free(a);
}

static void
add_attachment(MailView *v, GMimeObject *part)
{
    MailAttachment *a = g_new0(MailAttachment, 1);
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    a->index = (int) v->attachments->len + 1;
    if (ct) {
        char *t = g_mime_content_type_get_mime_type(ct);     /* allocated */
        a->mime_type = g_ascii_strdown(t, -1);
        g_free(t);
    } else {
        a->mime_type = g_strdup("application/octet-stream");
    }
    if (GMIME_IS_PART(part) && g_mime_part_get_filename(GMIME_PART(part)))
        a->filename = g_strdup(g_mime_part_get_filename(GMIME_PART(part)));
    a->part = part;
    g_ptr_array_add(v->attachments, a);
}

static gboolean
is_attachment(GMimeObject *part)
{
    GMimeContentDisposition *cd = g_mime_object_get_content_disposition(part);
    return cd && g_mime_content_disposition_is_attachment(cd);
}

static void
walk(MailView *v, GMimeObject *obj, gboolean in_alternative)
{
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        GMimeContentType *ct = g_mime_object_get_content_type(obj);
        gboolean alt = ct && g_mime_content_type_is_type(ct, "multipart", "alternative");
        gboolean has_plain = FALSE;
        if (alt) {
            for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
                GMimeContentType *pt = g_mime_object_get_content_type(g_mime_multipart_get_part(mp, i));
                if (pt && g_mime_content_type_is_type(pt, "text", "plain"))
                    has_plain = TRUE;
            }
        }
        for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
            GMimeObject *child = g_mime_multipart_get_part(mp, i);
            GMimeContentType *pt = g_mime_object_get_content_type(child);
            /* in an alternative with a plain part, the others are skipped */
            if (alt && has_plain && !(pt && g_mime_content_type_is_type(pt, "text", "plain")))
                continue;
            walk(v, child, alt);
        }
        return;
    }
    if (GMIME_IS_TEXT_PART(obj) && !is_attachment(obj)) {
        GMimeContentType *ct = g_mime_object_get_content_type(obj);
        if (ct && g_mime_content_type_is_type(ct, "text", "plain")) {
            char *text = message_text_part_text(GMIME_TEXT_PART(obj));   /* Japanese without loss */
            if (text) {
                if (!g_utf8_validate(text, -1, NULL)) {
                    char *fixed = g_utf8_make_valid(text, -1);
                    g_free(text);
                    text = fixed;
                }
                if (v->text->len)
                    g_string_append(v->text, "\n");
                g_string_append(v->text, text);
                g_free(text);
            }
            return;
        }
    }
    (void) in_alternative;
    add_attachment(v, obj);
}

MailView *
mailview_load(const char *path)
{
    GMimeMessage *msg;
    MailView *v;
    GDateTime *date;
    gsize parts_total = 0;

    msg = message_parse_file(path, MAILVIEW_MAX_PARTS, &parts_total);   /* the archive's own parser */
    if (!msg)
        return NULL;
    v = g_new0(MailView, 1);
    v->msg = msg;
    v->text = g_string_new(NULL);
    v->attachments = g_ptr_array_new_with_free_func(att_free);
    v->subject = g_strdup(g_mime_message_get_subject(msg) ? g_mime_message_get_subject(msg) : "");
    v->from = message_addresses_text(msg, "From");     /* Japanese names without loss */
    v->to = message_addresses_text(msg, "To");
    v->cc = message_addresses_text(msg, "Cc");
    v->message_id = g_strdup(g_mime_message_get_message_id(msg));
    date = g_mime_message_get_date(msg);
    v->date = date ? g_date_time_format(date, "%Y-%m-%d %H:%M %z") : NULL;
    if (g_mime_message_get_mime_part(msg))
        walk(v, g_mime_message_get_mime_part(msg), FALSE);
    if (parts_total) {
        v->parts_total = parts_total;
        v->parts_shown = g_mime_message_get_mime_part(msg) ? mimeparts_count(g_mime_message_get_mime_part(msg)) : 0;
    }
    return v;
}

void
mailview_free(MailView *v)
{
    if (!v)
        return;
    g_ptr_array_unref(v->attachments);
    g_string_free(v->text, TRUE);
    g_free(v->subject);
    g_free(v->from);
    g_free(v->to);
    g_free(v->cc);
    g_free(v->date);
    g_free(v->message_id);
    g_object_unref(v->msg);
    g_free(v);
}

GByteArray *
mailview_attachment_bytes(MailView *v, int index, const MailAttachment **att)
{
    MailAttachment *a;
    GMimeStream *mem;
    GByteArray *out;

    if (index < 1 || (guint) index > v->attachments->len)
        return NULL;
    a = v->attachments->pdata[index - 1];
    mem = g_mime_stream_mem_new();
    if (GMIME_IS_PART(a->part)) {
        GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(a->part));
        if (w)
            g_mime_data_wrapper_write_to_stream(w, mem);
    } else if (GMIME_IS_MESSAGE_PART(a->part)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(a->part));
        if (inner)
            g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
    }
    out = g_byte_array_new();
    {
        GByteArray *b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
        g_byte_array_append(out, b->data, b->len);
    }
    g_object_unref(mem);
    if (att)
        *att = a;
    return out;
}
