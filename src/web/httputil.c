/* httputil.c - percent-decoding, query/form/cookie parsing, HTML
 * escaping and CSV fields for the web interface.  Multipart bodies are
 * parsed by GMime (never by hand), so boundaries, quoting and transfer
 * encodings follow the RFCs. */
#define _GNU_SOURCE 1        /* memmem */
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

/* find_delim - the next CRLF "--" boundary at or after from that is one
 * (followed by "--", or by blanks and CRLF); NULL if none */
static const guint8 *
find_delim(const guint8 *data, gsize len, gsize from, const char *delim, gsize dlen)
{
    while (from < len) {
        const guint8 *hit = memmem(data + from, len - from, delim, dlen);
        gsize p;
        if (!hit)
            return NULL;
        p = (gsize) (hit - data) + dlen;
        if (len - p >= 2 && data[p] == '-' && data[p + 1] == '-')
            return hit;
        while (p < len && (data[p] == ' ' || data[p] == '\t'))
            p++;
        if (len - p >= 2 && data[p] == '\r' && data[p + 1] == '\n')
            return hit;
        from = (gsize) (hit - data) + 1;
    }
    return NULL;
}

gboolean
multipart_split(const guint8 *data, gsize len, const char *boundary, guint max_parts, MultipartPartFn fn,
                gpointer user)
{
    gsize blen = boundary ? strlen(boundary) : 0;
    char *delim;                 /* CRLF "--" boundary */
    gsize dlen, pos;
    const guint8 *hit;
    guint parts = 0;
    gboolean ok = FALSE;

    if (blen == 0 || blen > 70 || strpbrk(boundary, "\r\n"))
        return FALSE;
    delim = g_strconcat("\r\n--", boundary, NULL);
    dlen = blen + 4;
    /* the first delimiter may open the body (no CRLF before it) */
    if (len >= dlen - 2 && memcmp(data, delim + 2, dlen - 2) == 0)
        pos = dlen - 2;
    else if ((hit = find_delim(data, len, 0, delim, dlen)) != NULL)
        pos = (gsize) (hit - data) + dlen;
    else
        goto out;
    for (;;) {
        gsize head, end;
        const guint8 *blank;
        /* after a delimiter: "--" closes, else transport padding and CRLF */
        if (len - pos >= 2 && data[pos] == '-' && data[pos + 1] == '-') {
            ok = TRUE;
            break;
        }
        while (pos < len && (data[pos] == ' ' || data[pos] == '\t'))
            pos++;
        if (len - pos < 2 || data[pos] != '\r' || data[pos + 1] != '\n')
            break;
        pos += 2;
        if (++parts > max_parts)
            break;
        head = pos;
        if (len - pos >= 2 && data[pos] == '\r' && data[pos + 1] == '\n') {
            blank = data + pos - 2;              /* no header fields at all */
        } else {
            blank = memmem(data + pos, len - pos, "\r\n\r\n", 4);
            if (!blank)
                break;
        }
        pos = (gsize) (blank - data) + 4;
        hit = find_delim(data, len, pos, delim, dlen);
        if (!hit)
            break;
        end = (gsize) (hit - data);
        if (!fn(data + head, (gsize) (blank - data) > head ? (gsize) (blank - data) - head : 0, pos, end - pos, user))
            break;
        pos = end + dlen;
    }
out:
    g_free(delim);
    return ok;
}

gboolean
multipart_disposition(const guint8 *head, gsize head_len, char **name, char **filename)
{
    gsize off = 0;
    GString *value = NULL;

    *name = *filename = NULL;
    while (off < head_len) {
        const guint8 *nl = memmem(head + off, head_len - off, "\r\n", 2);
        gsize l = nl ? (gsize) (nl - (head + off)) : head_len - off;
        const char *line = (const char *) head + off;
        if (value && l > 0 && (line[0] == ' ' || line[0] == '\t'))
            g_string_append_len(value, line, (gssize) l);          /* folded */
        else if (!value && l > 20 && g_ascii_strncasecmp(line, "Content-Disposition:", 20) == 0)
            value = g_string_new_len(line + 20, (gssize) l - 20);
        else if (value)
            break;
        off += l + (nl ? 2 : 0);
    }
    if (!value)
        return FALSE;
    if (memchr(value->str, '\0', value->len) || !g_utf8_validate(value->str, (gssize) value->len, NULL)) {
        g_string_free(value, TRUE);
        return FALSE;
    }
    {
        GMimeContentDisposition *cd = g_mime_content_disposition_parse(NULL, value->str);
        const char *n = cd ? g_mime_content_disposition_get_parameter(cd, "name") : NULL;
        const char *f = cd ? g_mime_content_disposition_get_parameter(cd, "filename") : NULL;
        if (n && *n && g_utf8_validate(n, -1, NULL))
            *name = g_strdup(n);
        if (f && g_utf8_validate(f, -1, NULL))
            *filename = g_strdup(f);
        if (cd)
            g_object_unref(cd);
    }
    g_string_free(value, TRUE);
    if (!*name) {               /* a file without a field name is no field */
        g_free(*filename);
        *filename = NULL;
        return FALSE;
    }
    return TRUE;
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
