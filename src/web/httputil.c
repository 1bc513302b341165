/* httputil.c - percent-decoding, query/form/cookie parsing, HTML
 * escaping and CSV fields for the web interface.  Multipart bodies are
 * parsed by GMime (never by hand), so boundaries, quoting and transfer
 * encodings follow the RFCs. */
#include "config.h"
#include "httputil.h"
#include "message.h"
#include "mimeparts.h"

#include <string.h>
#include <gmime/gmime.h>

char *
url_decode(const char *s, gssize len, gboolean plus_is_space)
{
    char *copy, *out;

    if (len < 0)
        len = (gssize) strlen(s);
    copy = g_strndup(s, (gsize) len);
    if ((gssize) strlen(copy) != len) {     /* a NUL byte in the input */
        g_free(copy);
        return NULL;
    }
    if (plus_is_space)
        g_strdelimit(copy, "+", ' ');
    /* GLib refuses a bad escape and an escaped NUL */
    out = g_uri_unescape_string(copy, NULL);
    g_free(copy);
    if (out && !g_utf8_validate(out, -1, NULL)) {
        g_free(out);
        return NULL;
    }
    return out;
}

char *
url_encode(const char *s)
{
    return g_uri_escape_string(s ? s : "", NULL, TRUE);
}

static void
free_values(gpointer p)
{
    g_ptr_array_unref(p);
}

GHashTable *
params_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, free_values);
}

void
params_add(GHashTable *params, const char *name, const char *value)
{
    GPtrArray *a = g_hash_table_lookup(params, name);
    if (!a) {
        a = g_ptr_array_new_with_free_func(g_free);
        g_hash_table_insert(params, g_strdup(name), a);
    }
    g_ptr_array_add(a, g_strdup(value));
}

gboolean
form_parse_urlencoded(GHashTable *params, const char *data, gsize len)
{
    gsize i = 0;
    while (i < len) {
        gsize end = i, eq;
        char *name, *value;
        while (end < len && data[end] != '&' && data[end] != ';')
            end++;
        eq = i;
        while (eq < end && data[eq] != '=')
            eq++;
        if (end > i) {
            name = url_decode(data + i, (gssize) (eq - i), TRUE);
            value = eq < end ? url_decode(data + eq + 1, (gssize) (end - eq - 1), TRUE) : g_strdup("");
            if (!name || !value) {
                g_free(name);
                g_free(value);
                return FALSE;
            }
            if (*name)
                params_add(params, name, value);
            g_free(name);
            g_free(value);
        }
        i = end + 1;
    }
    return TRUE;
}

/* upload_text - an uploaded text file as UTF-8: UTF-8 (a BOM dropped),
 * else CP932 (Shift_JIS as Japanese spreadsheets save CSV), else
 * Latin-1; "" for binary data with NUL bytes. */
static char *
upload_text(const guint8 *data, gsize len)
{
    char *out;
    if (len == 0 || memchr(data, 0, len))
        return g_strdup("");
    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) {
        data += 3;
        len -= 3;
    }
    if (g_utf8_validate((const char *) data, (gssize) len, NULL))
        return g_strndup((const char *) data, len);
    out = g_convert((const char *) data, (gssize) len, "UTF-8", "CP932", NULL, NULL, NULL);
    if (!out)
        out = g_convert((const char *) data, (gssize) len, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
    return out ? out : g_strdup("");
}

/* parts a multipart/form-data body may have */
#define FORM_MAX_PARTS 1000

gboolean
form_parse_multipart(GHashTable *params, const char *content_type, const guint8 *data, gsize len)
{
    GByteArray *whole;
    GMimeObject *obj;
    gboolean ok = FALSE;
    char *hdr;
    MimePartsScan scan;

    if (strpbrk(content_type, "\r\n"))
        return FALSE;
    whole = g_byte_array_new();
    hdr = g_strdup_printf("MIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n", content_type);
    g_byte_array_append(whole, (guint8 *) hdr, (guint) strlen(hdr));
    g_free(hdr);
    g_byte_array_append(whole, data, (guint) len);
    /* no web form has more than a few fields: a body of many tiny parts
     * would make GMime build them all (1.4 KB each) - refused unparsed */
    if (!mimeparts_scan(whole->data, whole->len, FORM_MAX_PARTS, NULL, &scan)) {
        g_byte_array_unref(whole);
        return FALSE;
    }
    /* the one parser (message.c): it repairs the address fields GMime
     * would leak on in a stranger's message/rfc822 part (addrfix.c) */
    obj = message_parse_part(whole->data, whole->len);
    g_byte_array_unref(whole);
    if (obj && GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        ok = TRUE;
        for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
            GMimeObject *part = g_mime_multipart_get_part(mp, i);
            GMimeContentDisposition *cd = g_mime_object_get_content_disposition(part);
            const char *name = cd ? g_mime_content_disposition_get_parameter(cd, "name") : NULL;
            const char *filename = cd ? g_mime_content_disposition_get_parameter(cd, "filename") : NULL;
            GMimeStream *mem;
            GByteArray *content;
            char *value;
            /* field and file names are text like every other form value:
             * a name that is not UTF-8 is no field we know */
            if (!name || !GMIME_IS_PART(part) || !g_utf8_validate(name, -1, NULL))
                continue;
            if (filename && !g_utf8_validate(filename, -1, NULL))
                filename = NULL;
            mem = g_mime_stream_mem_new();
            if (g_mime_part_get_content(GMIME_PART(part)))
                g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(GMIME_PART(part)), mem);
            content = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
            value = upload_text(content->data, content->len);
            params_add(params, name, value);
            if (filename) {
                char *fn = g_strconcat(name, ".filename", NULL);
                params_add(params, fn, filename);
                g_free(fn);
            }
            g_free(value);
            g_object_unref(mem);
        }
    }
    if (obj)
        g_object_unref(obj);
    return ok;
}

const char *
params_get(GHashTable *params, const char *name)
{
    GPtrArray *a = params ? g_hash_table_lookup(params, name) : NULL;
    return a && a->len ? a->pdata[0] : NULL;
}

GPtrArray *
params_all(GHashTable *params, const char *name)
{
    return params ? g_hash_table_lookup(params, name) : NULL;
}

GHashTable *
cookie_parse(const char *header)
{
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    char **parts;
    if (!header)
        return h;
    parts = g_strsplit(header, ";", 0);
    for (int i = 0; parts[i]; i++) {
        char *eq = strchr(parts[i], '=');
        char *name, *value;
        if (!eq)
            continue;
        *eq = '\0';
        name = g_strstrip(g_strdup(parts[i]));
        value = g_strstrip(g_strdup(eq + 1));
        if (*name && !g_hash_table_contains(h, name))
            g_hash_table_insert(h, name, value);
        else {
            g_free(name);
            g_free(value);
        }
    }
    g_strfreev(parts);
    return h;
}

char *
html_escape(const char *s)
{
    char *valid, *out;
    if (!s)
        return g_strdup("");
    if (g_utf8_validate(s, -1, NULL))
        return g_markup_escape_text(s, -1);
    /* g_markup_escape_text needs UTF-8: bad octets become U+FFFD */
    valid = g_utf8_make_valid(s, -1);
    out = g_markup_escape_text(valid, -1);
    g_free(valid);
    return out;
}

void
csv_field(GString *out, const char *s)
{
    gboolean quote;
    if (!s)
        s = "";
    /* csv_split_line also splits at ; and TAB: quote those too */
    quote = strpbrk(s, ",;\t\"\r\n") != NULL || (*s && strchr("=+-@", *s));
    if (!quote) {
        g_string_append(out, s);
        return;
    }
    g_string_append_c(out, '"');
    if (*s && strchr("=+-@", *s))
        g_string_append_c(out, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            g_string_append_c(out, '"');
        g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
}

char **
csv_split_line(const char *line)
{
    GPtrArray *fields = g_ptr_array_new();
    GString *cur = g_string_new(NULL);
    gboolean inq = FALSE;
    for (const char *p = line; *p; p++) {
        if (inq) {
            if (*p == '"' && p[1] == '"') {
                g_string_append_c(cur, '"');
                p++;
            } else if (*p == '"') {
                inq = FALSE;
            } else {
                g_string_append_c(cur, *p);
            }
        } else if (*p == '"') {
            inq = TRUE;
        } else if (*p == ',' || *p == ';' || *p == '\t') {
            g_ptr_array_add(fields, g_strstrip(g_string_free(cur, FALSE)));
            cur = g_string_new(NULL);
        } else if (*p != '\r' && *p != '\n') {
            g_string_append_c(cur, *p);
        }
    }
    g_ptr_array_add(fields, g_strstrip(g_string_free(cur, FALSE)));
    g_ptr_array_add(fields, NULL);
    return (char **) g_ptr_array_free(fields, FALSE);
}

char **
path_split(const char *path)
{
    char **raw = g_strsplit(path ? path : "", "/", 0);
    GPtrArray *out = g_ptr_array_new();
    gboolean bad = FALSE;
    for (int i = 0; raw[i] && !bad; i++) {
        char *seg;
        if (!*raw[i])
            continue;
        seg = url_decode(raw[i], -1, FALSE);
        if (!seg || g_str_equal(seg, ".") || g_str_equal(seg, "..") || strchr(seg, '/') || strchr(seg, '\\')) {
            g_free(seg);
            bad = TRUE;
            break;
        }
        g_ptr_array_add(out, seg);
    }
    g_strfreev(raw);
    g_ptr_array_add(out, NULL);
    if (bad) {
        g_strfreev((char **) g_ptr_array_free(out, FALSE));
        return NULL;
    }
    return (char **) g_ptr_array_free(out, FALSE);
}
