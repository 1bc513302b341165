/* message.c - the one GMime parser (message.h).  All parsing of mail goes
 * through parse_stream() below; addrfix.c repairs the rare address field
 * that GMime would leak memory on before GMime sees it, japanese.c decodes
 * the Subject and Japanese text parts where GMime's iconv charsets (strict
 * ISO-2022-JP and Shift_JIS) would lose characters. */
#include "config.h"
#include "message.h"
#include "addrfix.h"
#include "mimeparts.h"
#include "japanese.h"

#include <string.h>

GMimeParserOptions *
message_parser_options(void)
{
    static gsize once;
    static GMimeParserOptions *opts;
    if (g_once_init_enter(&once)) {
        static const char *charsets[] = { "utf-8", "iso-2022-jp", "euc-jp", "shift_jis", "iso-8859-1", NULL };
        opts = g_mime_parser_options_new();
        g_mime_parser_options_set_fallback_charsets(opts, charsets);
        g_mime_parser_options_set_rfc2047_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
        g_mime_parser_options_set_address_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
        g_mime_parser_options_set_parameter_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
        g_once_init_leave(&once, 1);
    }
    return opts;
}

/* subject_made_valid - GMime hands back raw 8-bit octets that follow an
 * encoded word as they are, so a decoded Subject may be no UTF-8 at all
 * (found by fuzz_message): every user of the Subject (tags, replies, the
 * archive index, the web) gets it with such octets replaced by U+FFFD. */
static GMimeMessage *
subject_made_valid(GMimeMessage *msg)
{
    const char *subject = g_mime_message_get_subject(msg);
    if (subject && !g_utf8_validate(subject, -1, NULL)) {
        char *valid = g_utf8_make_valid(subject, -1);
        g_mime_message_set_subject(msg, valid, "utf-8");
        g_free(valid);
    }
    return msg;
}

/* subject_decoded - the Subject decoded by japanese.c when its raw value
 * is anything but plain ASCII text: GMime decodes ISO-2022-JP and
 * Shift_JIS with glibc's strict tables and loses NEC row 13, IBM
 * extensions, half-width katakana and carrier emoji.  The raw header is
 * left as it came (nothing is re-encoded until kairan changes it). */
/* last_subject - the raw value of the last Subject field: the one GMime
 * takes when a post has several. */
static const char *
last_subject(GMimeMessage *msg)
{
    GMimeHeaderList *list = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    const char *raw = NULL;

    for (int i = 0; i < g_mime_header_list_get_count(list); i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
        if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Subject") == 0)
            raw = g_mime_header_get_raw_value(h);
    }
    return raw;
}

static GMimeMessage *
subject_decoded(GMimeMessage *msg)
{
    const char *raw = last_subject(msg);
    gboolean plain = TRUE;

    if (!raw)
        return msg;
    for (const char *p = raw; *p && plain; p++)
        plain = (guchar) *p < 0x80 && *p != 0x1b && !(p[0] == '=' && p[1] == '?');
    if (!plain) {
        char *text = japanese_header_decode(raw);
        g_strstrip(text);
        g_free(msg->subject);       /* a public field of GMimeMessage */
        msg->subject = text;
    }
    return msg;
}

gboolean
message_subject_is_jis(GMimeMessage *msg)
{
    const char *raw = last_subject(msg);
    gboolean jis = FALSE;

    if (raw) {
        char *lower = g_ascii_strdown(raw, -1);
        jis = strstr(lower, "=?iso-2022-jp?") != NULL || strchr(lower, 0x1b) != NULL;
        g_free(lower);
    }
    return jis;
}

char *
message_header_decode(const char *value)
{
    return japanese_header_decode(value);
}

const char *
message_header_raw(GMimeMessage *msg, const char *name)
{
    GMimeHeader *h = g_mime_header_list_get_header(g_mime_object_get_header_list(GMIME_OBJECT(msg)), name);
    return h ? g_mime_header_get_raw_value(h) : NULL;
}

char *
message_addresses_text(GMimeMessage *msg, const char *name)
{
    const char *value = message_header_raw(msg, name);
    char *recoded, *fixed, *text = NULL;
    InternetAddressList *list;

    if (!value)
        return NULL;
    recoded = japanese_header_recode(value);
    fixed = addrfix_value(recoded);             /* see addrfix.c: a GMime leak */
    list = internet_address_list_parse(message_parser_options(), fixed ? fixed : recoded);
    if (list && internet_address_list_length(list) > 0)
        text = internet_address_list_to_string(list, NULL, FALSE);
    if (list)
        g_object_unref(list);
    g_free(fixed);
    g_free(recoded);
    return text;
}

char *
message_text_part_text(GMimeTextPart *part)
{
    const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    GMimeDataWrapper *content;
    GMimeStream *mem;
    GByteArray *bytes;
    char *text;

    if (!japanese_charset_is_japanese(charset))
        return g_mime_text_part_get_text(part);
    content = g_mime_part_get_content(GMIME_PART(part));
    if (!content)
        return NULL;
    mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, mem);   /* transfer encoding undone */
    bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    text = japanese_to_utf8(charset, (const char *) bytes->data, bytes->len);
    g_object_unref(mem);
    return text;
}

/* parse_stream - the message in stream, with kairan's parser options. */
static GMimeMessage *
parse_stream(GMimeStream *stream)
{
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *msg;

    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    msg = g_mime_parser_construct_message(parser, message_parser_options());
    g_object_unref(parser);
    return msg ? subject_made_valid(subject_decoded(msg)) : NULL;
}

GMimeMessage *
parse_message_bytes(const guint8 *data, gsize len)
{
    size_t fixed_len = 0;
    guint8 *fixed = addrfix_message(data, len, &fixed_len);   /* see addrfix.c */
    GMimeStream *stream = fixed ? g_mime_stream_mem_new_with_buffer((const char *) fixed, fixed_len)
                                : g_mime_stream_mem_new_with_buffer((const char *) data, len);
    GMimeMessage *msg;

    g_free(fixed);             /* the memory stream made its own copy */
    msg = parse_stream(stream);
    g_object_unref(stream);
    return msg;
}

GMimeMessage *
parse_message_bounded(const guint8 *data, gsize len, gsize max_parts, gsize *parts)
{
    MimePartsScan scan;

    mimeparts_scan(data, len, max_parts, message_parser_options(), &scan);
    if (parts)
        *parts = scan.parts;
    return parse_message_bytes(data, scan.cut);
}

GMimeMessage *
message_parse_owned(GByteArray *raw, gsize max_parts, gsize *parts_over)
{
    GMimeStream *stream;
    GMimeMessage *msg;
    MimePartsScan scan = { 0, raw->len };
    size_t fixed_len = 0;
    guint8 *fixed;

    *parts_over = 0;
    /* counted before GMime builds anything: a million empty parts would
     * cost it 1.4 GB */
    if (max_parts > 0 && !mimeparts_scan(raw->data, raw->len, max_parts, message_parser_options(), &scan)) {
        *parts_over = scan.parts;
        return parse_message_bytes(raw->data, scan.cut);      /* the first parts, for the reply */
    }
    fixed = addrfix_message(raw->data, raw->len, &fixed_len);   /* see addrfix.c */
    if (fixed) {               /* rare: an address field with an open comment */
        stream = g_mime_stream_mem_new_with_buffer((const char *) fixed, fixed_len);
        g_free(fixed);
    } else {
        /* The stream shares raw's buffer: no copy of a large post is made. */
        stream = g_mime_stream_mem_new_with_byte_array(raw);
        g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
    }
    msg = parse_stream(stream);
    g_object_unref(stream);
    /* the scan's count is an upper bound: the tree decides */
    if (msg && max_parts > 0 && g_mime_message_get_mime_part(msg)) {
        gsize n = mimeparts_count(g_mime_message_get_mime_part(msg));
        if (n > max_parts)
            *parts_over = n;
    }
    return msg;
}

GMimeMessage *
message_parse_file(const char *path, gsize max_parts, gsize *parts_total)
{
    GMappedFile *map = g_mapped_file_new(path, FALSE, NULL);
    GMimeStream *stream;
    GMimeMessage *msg;
    const guint8 *data;
    guint8 *fixed;
    size_t fixed_len = 0;
    MimePartsScan scan = { 0, 0 };
    gboolean cut = FALSE;

    if (parts_total)
        *parts_total = 0;
    if (!map)
        return NULL;
    data = (const guint8 *) g_mapped_file_get_contents(map);
    scan.cut = g_mapped_file_get_length(map);
    if (max_parts > 0)
        cut = !mimeparts_scan(data, g_mapped_file_get_length(map), max_parts, message_parser_options(), &scan);
    /* a post with an address comment left open is parsed from a repaired
     * copy: GMime would leak memory on it in a long-running process */
    fixed = addrfix_message(data, scan.cut, &fixed_len);
    if (fixed) {
        stream = g_mime_stream_mem_new_with_buffer((const char *) fixed, fixed_len);
        g_free(fixed);
    } else if (cut) {
        stream = g_mime_stream_mem_new_with_buffer((const char *) data, scan.cut);
    } else {
        stream = g_mime_stream_file_open(path, "r", NULL);
    }
    g_mapped_file_unref(map);
    if (!stream)
        return NULL;
    msg = parse_stream(stream);
    g_object_unref(stream);
    if (cut && parts_total)
        *parts_total = scan.parts;
    return msg;
}

GMimeObject *
message_parse_part(const guint8 *data, gsize len)
{
    size_t fixed_len = 0;
    guint8 *fixed = addrfix_message(data, len, &fixed_len);
    GMimeStream *stream = fixed ? g_mime_stream_mem_new_with_buffer((const char *) fixed, fixed_len)
                                : g_mime_stream_mem_new_with_buffer((const char *) data, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeObject *obj = g_mime_parser_construct_part(parser, message_parser_options());

    g_free(fixed);
    g_object_unref(parser);
    g_object_unref(stream);
    return obj;
}
