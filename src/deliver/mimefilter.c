/* mimefilter.c - the attachment and HTML policies of a list.
 *
 * attachments = keep: nothing happens.  strip: every leaf MIME part whose
 * type is not in allowed_types is removed and a short text/plain note
 * says what was removed.  reject: a post with such a part is refused.
 * Multipart containers are always walked into; message/rfc822 parts are
 * leaves of type message/rfc822.  HTML-only mail (html = reject) is a
 * text/html body, or a multipart/alternative or /related without any
 * text/plain part. */
#include "config.h"
#include "deliver.h"

#include <string.h>

gboolean
mime_type_allowed(const char *type, const char *subtype, const char *allowed)
{
    char **items = g_strsplit_set(allowed ? allowed : "", ", \t", 0);
    gboolean ok = FALSE;

    for (int i = 0; items[i] && !ok; i++) {
        char *slash = strchr(items[i], '/');
        if (!slash)
            continue;
        *slash = '\0';
        if (g_ascii_strcasecmp(items[i], type) != 0)
            continue;
        ok = g_str_equal(slash + 1, "*") || g_ascii_strcasecmp(slash + 1, subtype) == 0;
    }
    g_strfreev(items);
    return ok;
}

static gboolean
has_text_plain(GMimeObject *obj)
{
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
            if (has_text_plain(g_mime_multipart_get_part(mp, i)))
                return TRUE;
        return FALSE;
    }
    return ct && g_mime_content_type_is_type(ct, "text", "plain");
}

gboolean
message_is_html_only(GMimeMessage *msg)
{
    GMimeObject *body = g_mime_message_get_mime_part(msg);
    GMimeContentType *ct;

    if (!body)
        return FALSE;
    ct = g_mime_object_get_content_type(body);
    if (g_mime_content_type_is_type(ct, "text", "html"))
        return TRUE;
    if (g_mime_content_type_is_type(ct, "multipart", "alternative") ||
        g_mime_content_type_is_type(ct, "multipart", "related"))
        return !has_text_plain(body);
    return FALSE;
}

static void
describe(GString *removed, GMimeObject *part)
{
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    const char *filename = GMIME_IS_PART(part) ? g_mime_part_get_filename(GMIME_PART(part)) : NULL;
    char *type = ct ? g_mime_content_type_get_mime_type(ct) : g_strdup("application/octet-stream");

    g_string_append_printf(removed, "  - %s%s%s%s\n", type,
                           filename ? " \"" : "", filename ? filename : "", filename ? "\"" : "");
    g_free(type);
}

static gboolean
leaf_allowed(GMimeObject *part, const char *allowed)
{
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    if (!ct)
        return mime_type_allowed("text", "plain", allowed);
    return mime_type_allowed(g_mime_content_type_get_media_type(ct),
                             g_mime_content_type_get_media_subtype(ct), allowed);
}

/* walk - remove (strip) or just record (reject) disallowed leaves below mp. */
static void
walk(GMimeMultipart *mp, const char *allowed, gboolean remove, GString *removed)
{
    for (int i = 0; i < g_mime_multipart_get_count(mp);) {
        GMimeObject *child = g_mime_multipart_get_part(mp, i);
        if (GMIME_IS_MULTIPART(child)) {
            walk(GMIME_MULTIPART(child), allowed, remove, removed);
            i++;
        } else if (!leaf_allowed(child, allowed)) {
            describe(removed, child);
            if (remove)
                g_object_unref(g_mime_multipart_remove_at(mp, i));   /* transfer full */
            else
                i++;
        } else {
            i++;
        }
    }
}

static GMimeObject *
note_part(const char *text)
{
    GMimeTextPart *note = g_mime_text_part_new_with_subtype("plain");
    g_mime_text_part_set_text(note, text);
    g_mime_text_part_set_charset(note, "utf-8");
    g_mime_part_set_content_encoding(GMIME_PART(note),
        g_mime_part_get_best_content_encoding(GMIME_PART(note), GMIME_ENCODING_CONSTRAINT_7BIT));
    return GMIME_OBJECT(note);
}

FilterResult
filter_attachments(GMimeMessage *msg, const char *mode, const char *allowed, char **removed_out)
{
    GMimeObject *body = g_mime_message_get_mime_part(msg);
    GString *removed = g_string_new(NULL);
    gboolean strip = g_str_equal(mode, "strip");

    *removed_out = NULL;
    if (g_str_equal(mode, "keep") || !body) {
        g_string_free(removed, TRUE);
        return FILTER_OK;
    }
    if (GMIME_IS_MULTIPART(body))
        walk(GMIME_MULTIPART(body), allowed, strip, removed);
    else if (!leaf_allowed(body, allowed))
        describe(removed, body);

    if (removed->len == 0) {
        g_string_free(removed, TRUE);
        return FILTER_OK;
    }
    *removed_out = g_strdup(removed->str);
    if (!strip) {
        g_string_free(removed, TRUE);
        return FILTER_REJECT;
    }
    {
        char *text = g_strdup_printf("[This list removed %s part(s) of this message that its\n"
                                     " attachment policy does not allow:\n%s]\n",
                                     "the following", removed->str);
        GMimeObject *note = note_part(text);
        if (!GMIME_IS_MULTIPART(body)) {
            /* the whole body was disallowed: the note replaces it */
            g_mime_message_set_mime_part(msg, note);
        } else if (g_mime_content_type_is_type(g_mime_object_get_content_type(body), "multipart", "mixed")) {
            g_mime_multipart_add(GMIME_MULTIPART(body), note);
        } else {
            GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
            g_mime_multipart_add(mixed, body);
            g_mime_multipart_add(mixed, note);
            g_mime_message_set_mime_part(msg, GMIME_OBJECT(mixed));
            g_object_unref(mixed);
        }
        g_object_unref(note);
        g_free(text);
    }
    g_string_free(removed, TRUE);
    return FILTER_OK;
}
