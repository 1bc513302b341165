/* addrfix.c - closes comments left open in address header fields before
 * GMime parses them.
 *
 * GMime 3.2.13 (Debian 12) loses the addr-spec it has just built when an
 * address ending in a domain literal is followed by a comment that never
 * closes ("u@[192.0.2.1] (x"): 128 bytes per such field, each time a
 * message holding it is parsed, because GMime parses the address fields
 * of every message and every message/rfc822 part as it reads them.  That
 * does not matter to the short-lived deliver, but kairan web is a daemon
 * that parses archived posts and uploaded forms from strangers.
 *
 * The repair is the reading any mail reader would make: a comment runs to
 * the end of its field, so closing it there changes no address.  Only a
 * field with that shape of comment left open is touched.  The message-level pass
 * looks at every line that starts like an address field, wherever it is
 * (GMime finds header blocks inside multiparts and attached messages, so
 * must we); a body line that merely looks like such a field and has an
 * open parenthesis gets its ')' too, which is the price of not writing a
 * second MIME parser here. */
#include "config.h"
#include "addrfix.h"

#include <string.h>

/* The fields GMime parses as address lists (gmime-message.c). */
static const char *const address_fields[] = {
    "from", "sender", "reply-to", "to", "cc", "bcc",
    "resent-from", "resent-sender", "resent-reply-to", "resent-to", "resent-cc", "resent-bcc",
    NULL
};

/* Scanner state for one field value, carried across its folded lines.
 *
 * GMime's leak needs an addr-spec that ends in a domain literal, then
 * blanks, then a comment that never closes.  The scanner looks for
 * exactly that: a '(' after ']' and blanks, and whether the parentheses
 * after it ever come back below it.  Quotes are not tracked (GMime's
 * loose mode re-reads an unbalanced quote as an atom, so a quote proves
 * nothing); a backslash escapes the next character, as in comments.
 * Only the earliest such comment still open at the end matters: every
 * later one lies inside it and is closed with it. */
typedef struct {
    long depth;             /* '(' minus ')' so far, escaped ones aside */
    gboolean escaped;       /* the previous character was a lone backslash */
    gboolean after_literal; /* ']' and then only blanks */
    gboolean open;          /* a comment after a literal is still open */
    long open_depth;        /* depth just inside that comment */
} FieldScan;

static void
scan_value(FieldScan *s, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (s->escaped) {
            s->escaped = FALSE;
            s->after_literal = (c == ']');
            continue;
        }
        switch (c) {
        case '\\':
            s->escaped = TRUE;
            s->after_literal = FALSE;
            break;
        case '(':
            s->depth++;
            if (s->after_literal && !s->open) {
                s->open = TRUE;
                s->open_depth = s->depth;
            }
            s->after_literal = FALSE;
            break;
        case ')':
            s->depth--;
            if (s->open && s->depth < s->open_depth)
                s->open = FALSE;
            s->after_literal = FALSE;
            break;
        case ']':
            s->after_literal = TRUE;
            break;
        case ' ': case '\t': case '\r': case '\n':
            break;
        default:
            s->after_literal = FALSE;
        }
    }
}

/* needs_closing - how many ')' close the comment left open (0: none). */
static long
needs_closing(const FieldScan *s)
{
    return s->open ? s->depth - s->open_depth + 1 : 0;
}

/* append_closing - the text that closes it: a space first when a
 * backslash at the very end would otherwise escape the ')'. */
static void
append_closing(GString *out, const FieldScan *s)
{
    if (s->escaped)
        g_string_append_c(out, ' ');
    for (long i = needs_closing(s); i > 0; i--)
        g_string_append_c(out, ')');
}

char *
addrfix_value(const char *value)
{
    FieldScan s = { 0 };
    GString *out;

    if (!value)
        return NULL;
    scan_value(&s, value, strlen(value));
    if (needs_closing(&s) == 0)
        return NULL;
    out = g_string_new(value);
    append_closing(out, &s);
    return g_string_free(out, FALSE);
}

/* is_address_field - line (not NUL-terminated) starts with one of the
 * address field names, then optional blanks, then ':'; *value_at gets
 * the offset of the value. */
static gboolean
is_address_field(const char *line, size_t len, size_t *value_at)
{
    for (int i = 0; address_fields[i]; i++) {
        size_t n = strlen(address_fields[i]);
        size_t j = n;
        if (len <= n || g_ascii_strncasecmp(line, address_fields[i], n) != 0)
            continue;
        while (j < len && (line[j] == ' ' || line[j] == '\t'))
            j++;
        if (j < len && line[j] == ':') {
            *value_at = j + 1;
            return TRUE;
        }
    }
    return FALSE;
}

/* line_content_end - end of a line's text, before its "\n" or "\r\n". */
static size_t
line_content_end(const char *data, size_t start, size_t next)
{
    size_t end = next;
    if (end > start && data[end - 1] == '\n')
        end--;
    if (end > start && data[end - 1] == '\r')
        end--;
    return end;
}

guint8 *
addrfix_message(const guint8 *bytes, size_t len, size_t *fixed_len)
{
    const char *data = (const char *) bytes;
    GString *out = NULL;
    size_t copied = 0;          /* data[0..copied) is already in out */
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t next = nl ? (size_t) (nl - data) + 1 : len;
        size_t value_at;
        FieldScan s = { 0 };
        size_t last_end;

        if (!is_address_field(data + pos, next - pos, &value_at)) {
            pos = next;
            continue;
        }
        /* the field and its continuation lines */
        last_end = line_content_end(data, pos, next);
        scan_value(&s, data + pos + value_at, last_end - pos - value_at);
        while (next < len && (data[next] == ' ' || data[next] == '\t')) {
            size_t start = next;
            nl = memchr(data + start, '\n', len - start);
            next = nl ? (size_t) (nl - data) + 1 : len;
            last_end = line_content_end(data, start, next);
            scan_value(&s, data + start, last_end - start);
        }
        if (needs_closing(&s) > 0) {
            if (!out)
                out = g_string_sized_new(len + 16);
            g_string_append_len(out, data + copied, (gssize) (last_end - copied));
            append_closing(out, &s);
            copied = last_end;
        }
        pos = next;
    }
    if (!out)
        return NULL;
    g_string_append_len(out, data + copied, (gssize) (len - copied));
    *fixed_len = out->len;
    return (guint8 *) g_string_free(out, FALSE);
}
