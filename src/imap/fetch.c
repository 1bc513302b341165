/* fetch.c - FETCH and UID FETCH (RFC 3501 section 6.4.5, RFC 9051, and
 * BINARY from RFC 3516): UID, FLAGS, INTERNALDATE (the post's date),
 * RFC822.SIZE (octets with CRLF line ends), ENVELOPE, BODY and
 * BODYSTRUCTURE (without extension data), BODY[section]<partial> and
 * BODY.PEEK (HEADER, TEXT, HEADER.FIELDS[.NOT], MIME, part numbers),
 * BINARY[section] and BINARY.SIZE, RFC822, RFC822.HEADER, RFC822.TEXT,
 * the ALL/FAST/FULL macros.
 *
 * The archive file is sent as stored, with bare LFs made CRLF.  Parts
 * (BODY[1.2], BODYSTRUCTURE) come from the one MIME parser (message.c)
 * and GMime's serialisation of the part, so the sizes BODYSTRUCTURE
 * gives are those BODY[N] sends.  BODY[] without PEEK sets \Seen in a
 * read-write mailbox. */
#include "config.h"
#include "imap.h"
#include "archive.h"
#include "log.h"
#include "message.h"

#include <string.h>
#include <time.h>

typedef enum {
    ITEM_UID, ITEM_FLAGS, ITEM_INTERNALDATE, ITEM_SIZE, ITEM_ENVELOPE, ITEM_BODY,
    ITEM_BODYSTRUCTURE, ITEM_SECTION, ITEM_BINARY, ITEM_BINARY_SIZE
} ItemKind;

typedef enum { SEC_ALL, SEC_HEADER, SEC_FIELDS, SEC_FIELDS_NOT, SEC_TEXT, SEC_MIME } SectionWhat;

typedef struct {
    ItemKind kind;
    char *label;            /* the name in the answer, e.g. BODY[HEADER] or RFC822 */
    gboolean peek;
    GArray *path;           /* guint part numbers */
    SectionWhat what;
    char **fields;          /* HEADER.FIELDS names */
    gint64 offset, count;   /* <offset.count>; offset -1: none */
} Item;

static void
item_free(gpointer data)
{
    Item *it = data;
    g_free(it->label);
    if (it->path)
        g_array_free(it->path, TRUE);
    g_strfreev(it->fields);
    g_free(it);
}

GString *
imap_crlf(const char *data, gsize len)
{
    GString *out = g_string_sized_new(len + len / 30 + 16);
    const char *p = data, *end = data + len;

    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t) (end - p));
        if (!lf) {
            g_string_append_len(out, p, end - p);
            break;
        }
        g_string_append_len(out, p, lf - p);
        if (lf == p ? (out->len == 0 || out->str[out->len - 1] != '\r') : lf[-1] != '\r')
            g_string_append_c(out, '\r');
        g_string_append_c(out, '\n');
        p = lf + 1;
    }
    return out;
}

/* ---- the item list ------------------------------------------------- */

/* parse_section - "1.2.HEADER.FIELDS (A B)" etc. into it. */
static gboolean
parse_section(const char *text, Item *it)
{
    const char *p = text;

    it->path = g_array_new(FALSE, FALSE, sizeof(guint));
    it->what = SEC_ALL;
    while (g_ascii_isdigit(*p)) {
        guint64 n = 0;
        int digits = 0;
        while (g_ascii_isdigit(*p) && digits++ < 6)
            n = n * 10 + (guint64) (*p++ - '0');
        if (n == 0 || g_ascii_isdigit(*p) || it->path->len >= 32)
            return FALSE;
        {
            guint v = (guint) n;
            g_array_append_val(it->path, v);
        }
        if (*p == '.')
            p++;
        else if (*p)
            return FALSE;
    }
    if (!*p)
        return p == text || p[-1] != '.';
    if (g_ascii_strcasecmp(p, "HEADER") == 0)
        it->what = SEC_HEADER;
    else if (g_ascii_strcasecmp(p, "TEXT") == 0)
        it->what = SEC_TEXT;
    else if (g_ascii_strcasecmp(p, "MIME") == 0 && it->path->len > 0)
        it->what = SEC_MIME;
    else if (g_ascii_strncasecmp(p, "HEADER.FIELDS", 13) == 0) {
        const char *q = p + 13, *close;
        char *inner;
        if (g_ascii_strncasecmp(q, ".NOT", 4) == 0) {
            it->what = SEC_FIELDS_NOT;
            q += 4;
        } else
            it->what = SEC_FIELDS;
        if (q[0] != ' ' || q[1] != '(')
            return FALSE;
        close = strchr(q, ')');
        if (!close || close[1] || close == q + 2)
            return FALSE;
        inner = g_strndup(q + 2, (gsize) (close - q - 2));
        it->fields = g_strsplit(inner, " ", -1);
        g_free(inner);
        for (int i = 0; it->fields[i]; i++) {
            if (!*it->fields[i])
                return FALSE;
            for (const char *f = it->fields[i]; *f; f++)
                if ((unsigned char) *f <= 0x20 || (unsigned char) *f >= 0x7f || *f == ':' || *f == '"')
                    return FALSE;
        }
    } else
        return FALSE;
    return TRUE;
}

/* parse_item - one FETCH attribute. */
static Item *
parse_item(const ImapArg *a)
{
    static const struct { const char *name; ItemKind kind; } simple[] = {
        { "UID", ITEM_UID }, { "FLAGS", ITEM_FLAGS }, { "INTERNALDATE", ITEM_INTERNALDATE },
        { "RFC822.SIZE", ITEM_SIZE }, { "ENVELOPE", ITEM_ENVELOPE }, { "BODY", ITEM_BODY },
        { "BODYSTRUCTURE", ITEM_BODYSTRUCTURE },
    };
    Item *it;
    const char *s, *open, *close;
    char *base;

    if (!a || a->type != IMAP_ARG_ATOM)
        return NULL;
    s = a->str;
    it = g_new0(Item, 1);
    it->offset = -1;
    for (guint i = 0; i < G_N_ELEMENTS(simple); i++)
        if (g_ascii_strcasecmp(s, simple[i].name) == 0) {
            it->kind = simple[i].kind;
            it->label = g_strdup(simple[i].name);
            return it;
        }
    if (g_ascii_strcasecmp(s, "RFC822") == 0 || g_ascii_strcasecmp(s, "RFC822.HEADER") == 0 ||
        g_ascii_strcasecmp(s, "RFC822.TEXT") == 0) {
        it->kind = ITEM_SECTION;
        it->label = g_ascii_strup(s, -1);
        it->path = g_array_new(FALSE, FALSE, sizeof(guint));
        it->what = s[6] == '\0' ? SEC_ALL : (s[7] == 'H' || s[7] == 'h') ? SEC_HEADER : SEC_TEXT;
        it->peek = it->what == SEC_HEADER;
        return it;
    }
    open = strchr(s, '[');
    close = open ? strrchr(s, ']') : NULL;
    if (!open || !close || close < open)
        goto bad;
    base = g_ascii_strup(s, open - s);
    if (g_str_equal(base, "BODY") || g_str_equal(base, "BODY.PEEK"))
        it->kind = ITEM_SECTION;
    else if (g_str_equal(base, "BINARY") || g_str_equal(base, "BINARY.PEEK"))
        it->kind = ITEM_BINARY;
    else if (g_str_equal(base, "BINARY.SIZE"))
        it->kind = ITEM_BINARY_SIZE;
    else {
        g_free(base);
        goto bad;
    }
    it->peek = g_str_has_suffix(base, ".PEEK") || it->kind == ITEM_BINARY_SIZE;
    g_free(base);
    {
        char *sec = g_strndup(open + 1, (gsize) (close - open - 1));
        gboolean ok = parse_section(sec, it);
        g_free(sec);
        if (!ok)
            goto bad;
    }
    if (it->kind != ITEM_SECTION && it->what != SEC_ALL)
        goto bad;           /* BINARY takes part numbers only */
    if (close[1] == '<') {
        char *end;
        guint64 o, n = G_MAXINT64;
        if (it->kind == ITEM_BINARY_SIZE || !g_ascii_isdigit(close[2]))
            goto bad;
        o = g_ascii_strtoull(close + 2, &end, 10);
        if (*end == '.') {
            if (!g_ascii_isdigit(end[1]))
                goto bad;
            n = g_ascii_strtoull(end + 1, &end, 10);
            if (n == 0)
                goto bad;
        }
        if (end[0] != '>' || end[1] || o > G_MAXINT32 || n == 0)
            goto bad;
        it->offset = (gint64) o;
        it->count = n > G_MAXINT32 ? G_MAXINT64 : (gint64) n;
    } else if (close[1])
        goto bad;
    {
        /* the answer names the section as asked, without .PEEK and the count */
        const char *kw = it->kind == ITEM_SECTION ? "BODY" : it->kind == ITEM_BINARY ? "BINARY" : "BINARY.SIZE";
        char *sec = g_ascii_strup(open, close - open + 1);
        it->label = it->offset >= 0 ? g_strdup_printf("%s%s<%" G_GINT64_FORMAT ">", kw, sec, it->offset)
                                    : g_strdup_printf("%s%s", kw, sec);
        g_free(sec);
    }
    return it;
bad:
    item_free(it);
    return NULL;
}

static gboolean
add_macro(GPtrArray *items, const char *names)
{
    char **v = g_strsplit(names, " ", -1);
    for (int i = 0; v[i]; i++) {
        ImapArg a = { IMAP_ARG_ATOM, v[i], strlen(v[i]), NULL };
        g_ptr_array_add(items, parse_item(&a));
    }
    g_strfreev(v);
    return TRUE;
}

static GPtrArray *
parse_items(const GPtrArray *args, guint first, const char **why)
{
    GPtrArray *items = g_ptr_array_new_with_free_func(item_free);
    const ImapArg *a;

    *why = "FETCH wants a sequence set and data items";
    if (first >= args->len)
        goto bad;
    a = args->pdata[first];
    if (first + 1 < args->len) {
        /* CHANGEDSINCE and other modifiers are not supported */
        *why = "FETCH modifiers are not supported";
        goto bad;
    }
    if (imap_arg_is_atom(a, "ALL"))
        add_macro(items, "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE");
    else if (imap_arg_is_atom(a, "FAST"))
        add_macro(items, "FLAGS INTERNALDATE RFC822.SIZE");
    else if (imap_arg_is_atom(a, "FULL"))
        add_macro(items, "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY");
    else if (a->type == IMAP_ARG_LIST) {
        if (a->list->len == 0)
            goto bad;
        for (guint i = 0; i < a->list->len; i++) {
            Item *it = parse_item(a->list->pdata[i]);
            if (!it) {
                *why = "unknown or malformed FETCH data item";
                goto bad;
            }
            g_ptr_array_add(items, it);
        }
    } else {
        Item *it = parse_item(a);
        if (!it) {
            *why = "unknown or malformed FETCH data item";
            goto bad;
        }
        g_ptr_array_add(items, it);
    }
    return items;
bad:
    g_ptr_array_free(items, TRUE);
    return NULL;
}

/* ---- one message --------------------------------------------------- */

typedef struct {
    Instance *inst;
    ImapMailbox *mb;
    gint64 num;
    char *raw;              /* the archive file */
    gsize raw_len;
    gboolean raw_tried;
    GString *crlf;          /* raw with CRLF */
    GMimeMessage *msg;
    ArchivePost *post;
} Msg;

static gboolean
msg_raw(Msg *m)
{
    if (!m->raw_tried) {
        m->raw_tried = TRUE;
        if (!archive_read(m->inst, m->mb->list, m->num, &m->raw, &m->raw_len))
            m->raw = NULL;
    }
    return m->raw != NULL;
}

static GString *
msg_crlf(Msg *m)
{
    if (!m->crlf && msg_raw(m))
        m->crlf = imap_crlf(m->raw, m->raw_len);
    return m->crlf;
}

static GMimeMessage *
msg_mime(Msg *m)
{
    if (!m->msg && msg_raw(m))
        m->msg = parse_message_bytes((const guint8 *) m->raw, m->raw_len);
    return m->msg;
}

static void
msg_clear(Msg *m)
{
    g_free(m->raw);
    if (m->crlf)
        g_string_free(m->crlf, TRUE);
    if (m->msg)
        g_object_unref(m->msg);
    if (m->post)
        archive_post_free(m->post);
}

/* header_end - the offset after the blank line ending the header
 * (CRLF form), or len when there is none. */
static gsize
header_end(const char *s, gsize len)
{
    if (len >= 2 && s[0] == '\r' && s[1] == '\n')
        return 2;
    for (gsize i = 0; i + 3 < len; i++)
        if (s[i] == '\r' && s[i + 1] == '\n' && s[i + 2] == '\r' && s[i + 3] == '\n')
            return i + 4;
    return len;
}

/* filter_fields - the header lines (with their continuations) whose
 * names are (or, not_in, are not) in fields, then the blank line. */
static GString *
filter_fields(const char *h, gsize len, char **fields, gboolean not_in)
{
    GString *out = g_string_new(NULL);
    const char *p = h, *end = h + len;
    gboolean keep = FALSE;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t) (end - p));
        const char *next = eol ? eol + 1 : end;
        if (next - p <= 2 && (*p == '\r' || *p == '\n'))
            break;                      /* the blank line */
        if (*p != ' ' && *p != '\t') {
            const char *colon = memchr(p, ':', (size_t) (next - p));
            gboolean listed = FALSE;
            if (colon) {
                gsize n = (gsize) (colon - p);
                while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                    n--;
                for (int i = 0; fields[i] && !listed; i++)
                    listed = strlen(fields[i]) == n && g_ascii_strncasecmp(fields[i], p, n) == 0;
            }
            keep = colon && (listed != not_in);
        }
        if (keep)
            g_string_append_len(out, p, next - p);
        p = next;
    }
    g_string_append(out, "\r\n");
    return out;
}

/* find_part - the node a part path names (see RFC 3501 6.4.5); NULL if none. */
static GMimeObject *
find_part(GMimeMessage *msg, const GArray *path)
{
    GMimeObject *node = g_mime_message_get_mime_part(msg);
    gboolean message_body = TRUE;

    for (guint i = 0; i < path->len && node; i++) {
        guint n = g_array_index(path, guint, i);
        if (GMIME_IS_MULTIPART(node)) {
            if ((int) n > g_mime_multipart_get_count(GMIME_MULTIPART(node)))
                return NULL;
            node = g_mime_multipart_get_part(GMIME_MULTIPART(node), (int) n - 1);
            message_body = FALSE;
        } else if (!(n == 1 && message_body)) {
            return NULL;
        } else
            message_body = FALSE;
        if (node && GMIME_IS_MESSAGE_PART(node) && i + 1 < path->len) {
            GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(node));
            node = inner ? g_mime_message_get_mime_part(inner) : NULL;
            message_body = TRUE;
        }
    }
    return node;
}

/* object_crlf - GMime's serialisation of an object in CRLF form. */
static GString *
object_crlf(GMimeObject *obj)
{
    char *s = g_mime_object_to_string(obj, NULL);
    GString *out = imap_crlf(s, strlen(s));
    g_free(s);
    return out;
}

/* whole_crlf - a message part's whole message, or a part's body. */
static GString *
part_body(GMimeObject *node)
{
    GString *all, *body;
    gsize h;

    if (GMIME_IS_MESSAGE_PART(node)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(node));
        return inner ? object_crlf(GMIME_OBJECT(inner)) : g_string_new(NULL);
    }
    all = object_crlf(node);
    h = header_end(all->str, all->len);
    body = g_string_new_len(all->str + h, (gssize) (all->len - h));
    g_string_free(all, TRUE);
    return body;
}

/* section_data - the octets of a BODY[section]; NULL if there is no such part. */
static GString *
section_data(Msg *m, const Item *it)
{
    GString *src, *out;
    gboolean own_src = FALSE;
    gsize h;

    if (it->path->len == 0) {
        src = msg_crlf(m);
        if (!src)
            return NULL;
    } else {
        GMimeMessage *msg = msg_mime(m);
        GMimeObject *node = msg ? find_part(msg, it->path) : NULL;
        if (!node)
            return NULL;
        if (it->what == SEC_ALL)
            return part_body(node);
        if (it->what == SEC_MIME) {
            GString *all = object_crlf(node);
            g_string_truncate(all, header_end(all->str, all->len));
            return all;
        }
        if (!GMIME_IS_MESSAGE_PART(node))
            return NULL;
        src = part_body(node);          /* the encapsulated message */
        own_src = TRUE;
    }
    h = header_end(src->str, src->len);
    switch (it->what) {
    case SEC_HEADER:
        out = g_string_new_len(src->str, (gssize) h);
        break;
    case SEC_TEXT:
        out = g_string_new_len(src->str + h, (gssize) (src->len - h));
        break;
    case SEC_FIELDS:
    case SEC_FIELDS_NOT:
        out = filter_fields(src->str, h, it->fields, it->what == SEC_FIELDS_NOT);
        break;
    default:
        out = own_src ? src : g_string_new_len(src->str, (gssize) src->len);
        own_src = FALSE;
        break;
    }
    if (own_src)
        g_string_free(src, TRUE);
    return out;
}

/* binary_data - BINARY[section]: a leaf part's decoded content, else
 * what BODY[section] gives. */
static GString *
binary_data(Msg *m, const Item *it)
{
    GMimeMessage *msg;
    GMimeObject *node;
    GMimeDataWrapper *content;
    GMimeStream *mem;
    GByteArray *bytes;
    GString *out;

    if (it->path->len == 0)
        return section_data(m, it);
    msg = msg_mime(m);
    node = msg ? find_part(msg, it->path) : NULL;
    if (!node)
        return NULL;
    if (!GMIME_IS_PART(node) || !(content = g_mime_part_get_content(GMIME_PART(node))))
        return section_data(m, it);
    mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, mem);
    bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    out = g_string_new_len((const char *) bytes->data, (gssize) bytes->len);
    g_object_unref(mem);
    return out;
}

/* ---- ENVELOPE and BODYSTRUCTURE ------------------------------------ */

/* header_raw - a header's value unfolded and trimmed, NULL if absent. */
static char *
header_raw(GMimeObject *obj, const char *name)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
    GMimeHeader *h = hl ? g_mime_header_list_get_header(hl, name) : NULL;
    const char *v = h ? g_mime_header_get_raw_value(h) : NULL;
    GString *out;

    if (!v)
        return NULL;
    out = g_string_new(NULL);
    for (const char *p = v; *p; p++)
        if (*p != '\r' && *p != '\n')
            g_string_append_c(out, *p);
    g_strstrip(out->str);
    out->len = strlen(out->str);
    return g_string_free(out, FALSE);
}

static void
quote_header(GString *out, GMimeObject *obj, const char *name)
{
    char *v = header_raw(obj, name);
    imap_quote(out, v);
    g_free(v);
}

static void
append_name(GString *out, const char *name)
{
    gboolean ascii = TRUE;

    if (!name || !*name) {
        g_string_append(out, "NIL");
        return;
    }
    for (const char *p = name; *p && ascii; p++)
        ascii = (unsigned char) *p < 0x80;
    if (ascii)
        imap_quote(out, name);
    else {
        char *enc = g_mime_utils_header_encode_phrase(NULL, name, "utf-8");
        imap_quote(out, enc);
        g_free(enc);
    }
}

static void
append_addresses(GString *out, InternetAddressList *l)
{
    int n = l ? internet_address_list_length(l) : 0;

    if (n == 0) {
        g_string_append(out, "NIL");
        return;
    }
    g_string_append_c(out, '(');
    for (int i = 0; i < n; i++) {
        InternetAddress *a = internet_address_list_get_address(l, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
            const char *at = addr ? strrchr(addr, '@') : NULL;
            char *local = at ? g_strndup(addr, (gsize) (at - addr)) : g_strdup(addr ? addr : "");
            g_string_append_c(out, '(');
            append_name(out, internet_address_get_name(a));
            g_string_append(out, " NIL ");
            imap_quote(out, local);
            g_string_append_c(out, ' ');
            imap_quote(out, at ? at + 1 : NULL);
            g_string_append_c(out, ')');
            g_free(local);
        } else if (INTERNET_ADDRESS_IS_GROUP(a)) {
            InternetAddressList *members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a));
            g_string_append(out, "(NIL NIL ");
            imap_quote(out, internet_address_get_name(a) ? internet_address_get_name(a) : "");
            g_string_append(out, " NIL)");
            for (int k = 0; members && k < internet_address_list_length(members); k++) {
                /* one level of group members (RFC 5322 groups do not nest) */
                InternetAddress *ma = internet_address_list_get_address(members, k);
                if (INTERNET_ADDRESS_IS_MAILBOX(ma)) {
                    InternetAddressList *one = internet_address_list_new();
                    GString *tmp = g_string_new(NULL);
                    internet_address_list_add(one, ma);
                    append_addresses(tmp, one);
                    /* strip the outer parentheses of the one-address list */
                    g_string_append_len(out, tmp->str + 1, (gssize) tmp->len - 2);
                    g_string_free(tmp, TRUE);
                    g_object_unref(one);
                }
            }
            g_string_append(out, "(NIL NIL NIL NIL)");
        }
    }
    g_string_append_c(out, ')');
}

static void
address_field(GString *out, GMimeObject *obj, const char *name, const char *fallback)
{
    char *v = header_raw(obj, name);
    InternetAddressList *l;

    if (!v && fallback)
        v = header_raw(obj, fallback);
    l = v ? internet_address_list_parse(NULL, v) : NULL;
    append_addresses(out, l);
    if (l)
        g_object_unref(l);
    g_free(v);
}

static void
append_envelope(GString *out, GMimeMessage *msg)
{
    GMimeObject *o = GMIME_OBJECT(msg);

    g_string_append_c(out, '(');
    quote_header(out, o, "Date");
    g_string_append_c(out, ' ');
    quote_header(out, o, "Subject");
    g_string_append_c(out, ' ');
    address_field(out, o, "From", NULL);
    g_string_append_c(out, ' ');
    address_field(out, o, "Sender", "From");
    g_string_append_c(out, ' ');
    address_field(out, o, "Reply-To", "From");
    g_string_append_c(out, ' ');
    address_field(out, o, "To", NULL);
    g_string_append_c(out, ' ');
    address_field(out, o, "Cc", NULL);
    g_string_append_c(out, ' ');
    address_field(out, o, "Bcc", NULL);
    g_string_append_c(out, ' ');
    quote_header(out, o, "In-Reply-To");
    g_string_append_c(out, ' ');
    quote_header(out, o, "Message-ID");
    g_string_append_c(out, ')');
}

static void
append_upper(GString *out, const char *s)
{
    char *up = g_ascii_strup(s, -1);
    imap_quote(out, up);
    g_free(up);
}

static gsize
count_lines(const GString *s)
{
    gsize n = 0;
    for (gsize i = 0; i < s->len; i++)
        n += s->str[i] == '\n';
    return n;
}

static void
append_structure(GString *out, GMimeObject *node, int depth)
{
    GMimeContentType *ct = g_mime_object_get_content_type(node);
    const char *type = ct ? g_mime_content_type_get_media_type(ct) : "text";
    const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : "plain";

    if (GMIME_IS_MULTIPART(node) && depth < 32) {
        int n = g_mime_multipart_get_count(GMIME_MULTIPART(node));
        g_string_append_c(out, '(');
        for (int i = 0; i < n; i++)
            append_structure(out, g_mime_multipart_get_part(GMIME_MULTIPART(node), i), depth + 1);
        if (n == 0)     /* an empty multipart still needs one body */
            g_string_append(out, "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)");
        g_string_append_c(out, ' ');
        append_upper(out, sub ? sub : "mixed");
        g_string_append_c(out, ')');
        return;
    }
    {
        GMimeParamList *params = ct ? g_mime_content_type_get_parameters(ct) : NULL;
        int np = params ? g_mime_param_list_length(params) : 0;
        char *enc = header_raw(node, "Content-Transfer-Encoding");
        GString *body = part_body(node);

        g_string_append_c(out, '(');
        append_upper(out, type ? type : "text");
        g_string_append_c(out, ' ');
        append_upper(out, sub ? sub : "plain");
        g_string_append_c(out, ' ');
        if (np == 0)
            g_string_append(out, "NIL");
        else {
            g_string_append_c(out, '(');
            for (int i = 0; i < np; i++) {
                GMimeParam *p = g_mime_param_list_get_parameter_at(params, i);
                if (i)
                    g_string_append_c(out, ' ');
                append_upper(out, g_mime_param_get_name(p));
                g_string_append_c(out, ' ');
                imap_quote(out, g_mime_param_get_value(p) ? g_mime_param_get_value(p) : "");
            }
            g_string_append_c(out, ')');
        }
        g_string_append_c(out, ' ');
        quote_header(out, node, "Content-ID");
        g_string_append_c(out, ' ');
        quote_header(out, node, "Content-Description");
        g_string_append_c(out, ' ');
        append_upper(out, enc && *enc ? enc : "7BIT");
        g_string_append_printf(out, " %" G_GSIZE_FORMAT, body->len);
        if (GMIME_IS_MESSAGE_PART(node) && depth < 32) {
            GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(node));
            if (inner) {
                g_string_append_c(out, ' ');
                append_envelope(out, inner);
                g_string_append_c(out, ' ');
                append_structure(out, g_mime_message_get_mime_part(inner), depth + 1);
                g_string_append_printf(out, " %" G_GSIZE_FORMAT, count_lines(body));
            }
        } else if (type && g_ascii_strcasecmp(type, "text") == 0) {
            g_string_append_printf(out, " %" G_GSIZE_FORMAT, count_lines(body));
        }
        g_string_append_c(out, ')');
        g_string_free(body, TRUE);
        g_free(enc);
    }
}

/* ---- the answer ---------------------------------------------------- */

static gint64
crlf_size(Msg *m)
{
    gint64 *cached = g_hash_table_lookup(m->mb->sizes, &m->num);
    gint64 n = 0, *k, *v;

    if (cached)
        return *cached;
    if (!msg_raw(m))
        return -1;
    for (gsize i = 0; i < m->raw_len; i++)
        if (m->raw[i] == '\n' && (i == 0 || m->raw[i - 1] != '\r'))
            n++;
    n += (gint64) m->raw_len;
    k = g_new(gint64, 1);
    v = g_new(gint64, 1);
    *k = m->num;
    *v = n;
    g_hash_table_replace(m->mb->sizes, k, v);
    return n;
}

static void
append_literal(GString *out, const GString *data, const Item *it, gboolean binary)
{
    gsize start = 0, len = data->len;

    if (it->offset >= 0) {
        start = (gsize) MIN((gint64) data->len, it->offset);
        len = (gsize) MIN((gint64) (data->len - start), it->count);
    }
    g_string_append_printf(out, "%s{%" G_GSIZE_FORMAT "}\r\n", binary ? "~" : "", len);
    g_string_append_len(out, data->str + start, (gssize) len);
}

static void
append_flags(GString *out, ImapMailbox *mb, gint64 num)
{
    const char *f = g_hash_table_lookup(mb->flags, &num);
    g_string_append_printf(out, "FLAGS (%s)", f ? f : "");
}

/* set_seen - BODY[] without PEEK in a read-write mailbox; TRUE if the
 * flags changed. */
static gboolean
set_seen(Instance *inst, ImapMailbox *mb, gint64 num)
{
    const char *f = g_hash_table_lookup(mb->flags, &num);
    char *seen[] = { (char *) "\\Seen", NULL }, *nf;
    GError *error = NULL;
    gint64 *k;

    if (mb->read_only || imap_flags_has(f, "\\Seen"))
        return FALSE;
    nf = imap_flags_change(f, '+', seen);
    if (!imap_flags_save(inst, mb->list, mb->address, num, nf, &error)) {
        log_warn("imap: cannot save flags of %s/%s: %s", mb->address, mb->list, error->message);
        g_clear_error(&error);
        g_free(nf);
        return FALSE;
    }
    k = g_new(gint64, 1);
    *k = num;
    g_hash_table_replace(mb->flags, k, nf);
    return TRUE;
}

static gboolean
fetch_one(Msg *m, guint seq, gboolean uid, const GPtrArray *items, NetConn *net)
{
    GString *out = g_string_new(NULL);
    gboolean first = TRUE, flags_sent = FALSE, seen_changed = FALSE, ok = TRUE;

    g_string_append_printf(out, "* %u FETCH (", seq);
    if (uid) {
        g_string_append_printf(out, "UID %" G_GINT64_FORMAT, m->num);
        first = FALSE;
    }
    for (guint i = 0; i < items->len && ok; i++) {
        const Item *it = items->pdata[i];
        if (it->kind == ITEM_UID && uid)
            continue;
        if (!first)
            g_string_append_c(out, ' ');
        first = FALSE;
        switch (it->kind) {
        case ITEM_UID:
            g_string_append_printf(out, "UID %" G_GINT64_FORMAT, m->num);
            break;
        case ITEM_FLAGS:
            flags_sent = TRUE;
            append_flags(out, m->mb, m->num);
            break;
        case ITEM_INTERNALDATE: {
            static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                               "Aug", "Sep", "Oct", "Nov", "Dec" };
            time_t t;
            struct tm tm;
            if (!m->post)
                m->post = archive_get(m->inst, m->mb->list, m->num);
            t = m->post ? (time_t) m->post->date : 0;
            gmtime_r(&t, &tm);
            g_string_append_printf(out, "INTERNALDATE \"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
                                   mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
            break;
        }
        case ITEM_SIZE: {
            gint64 n = crlf_size(m);
            ok = n >= 0;
            g_string_append_printf(out, "RFC822.SIZE %" G_GINT64_FORMAT, n);
            break;
        }
        case ITEM_ENVELOPE:
            ok = msg_mime(m) != NULL;
            if (ok) {
                g_string_append(out, "ENVELOPE ");
                append_envelope(out, m->msg);
            }
            break;
        case ITEM_BODY:
        case ITEM_BODYSTRUCTURE:
            ok = msg_mime(m) != NULL;
            if (ok) {
                g_string_append_printf(out, "%s ", it->label);
                append_structure(out, g_mime_message_get_mime_part(m->msg), 0);
            }
            break;
        case ITEM_SECTION:
        case ITEM_BINARY:
        case ITEM_BINARY_SIZE: {
            GString *data = it->kind == ITEM_SECTION ? section_data(m, it) : binary_data(m, it);
            g_string_append_printf(out, "%s ", it->label);
            if (!data) {
                if (!msg_raw(m))
                    ok = FALSE;
                else if (it->kind == ITEM_BINARY_SIZE)
                    g_string_append_c(out, '0');
                else
                    g_string_append(out, "NIL");    /* no such part */
            } else if (it->kind == ITEM_BINARY_SIZE) {
                g_string_append_printf(out, "%" G_GSIZE_FORMAT, data->len);
            } else {
                append_literal(out, data, it, it->kind == ITEM_BINARY && memchr(data->str, '\0', data->len));
            }
            if (data)
                g_string_free(data, TRUE);
            if (!it->peek && set_seen(m->inst, m->mb, m->num))
                seen_changed = TRUE;
            break;
        }
        }
    }
    if (seen_changed && !flags_sent) {
        g_string_append_c(out, ' ');
        append_flags(out, m->mb, m->num);
    }
    g_string_append(out, ")\r\n");
    if (ok)
        netconn_write(net, out->str, out->len);
    g_string_free(out, TRUE);
    return ok;
}

gboolean
imap_fetch(Instance *inst, ImapMailbox *mb, NetConn *net, const GArray *set, gboolean uid,
           const GPtrArray *args, guint first_item, const char **why, gboolean *expunged)
{
    GPtrArray *items = parse_items(args, first_item, why);
    guint n = mb->uids->len;
    guint64 max = uid ? (n ? (guint64) g_array_index(mb->uids, gint64, n - 1) : 0) : n;

    if (!items)
        return FALSE;
    for (guint k = 1; k <= n; k++) {
        gint64 num = g_array_index(mb->uids, gint64, k - 1);
        Msg m = { inst, mb, num, NULL, 0, FALSE, NULL, NULL, NULL };
        if (!imap_set_contains(set, uid ? (guint64) num : k, max))
            continue;
        if (imap_mailbox_gone(mb, num)) {
            *expunged = TRUE;
            continue;
        }
        if (!fetch_one(&m, k, uid, items, net)) {
            ArchivePost *row = archive_get(inst, mb->list, num);
            if (row)
                log_warn("imap: post %" G_GINT64_FORMAT " of %s cannot be read", num, mb->list);
            else {
                /* expired since the session last looked: announced later */
                imap_mailbox_set_gone(mb, num);
                *expunged = TRUE;
            }
            if (row)
                archive_post_free(row);
        }
        msg_clear(&m);
        if (!netconn_flush_if_full(net))
            break;
    }
    g_ptr_array_free(items, TRUE);
    return TRUE;
}
