/* address.c - mail address checking and normalisation.
 *
 * kairan keeps every address in one canonical form: the local part as
 * given (RFC 5321 2.4: it may be case-sensitive), the domain in lower
 * case.  Anything that could smuggle a header or a command into a reply
 * (CR, LF, NUL, other controls, unbalanced quotes, more than one '@'
 * outside quotes) is refused, so an address taken from mail is always
 * safe to put back into a header.
 *
 * Internationalised addresses (RFC 6531/6532): UTF-8 is allowed in the
 * local part and the domain, as long as the whole address is valid
 * UTF-8 (no overlong forms, no surrogates: g_utf8_validate) without C1
 * controls, the line and paragraph separators U+2028/U+2029 or bidi
 * controls; a UTF-8 domain is lower-cased (g_utf8_strdown) in NFC.  A
 * multi-byte UTF-8 sequence never holds an ASCII octet, so CR, LF and
 * the quote rules are untouched. */
#include "config.h"
#include "address.h"
#include "addrfix.h"

#include <string.h>
#include <gmime/gmime.h>

static gboolean
atext_char(int c)
{
    /* c >= 0x80: a UTF8-non-ascii octet (RFC 6531 3.3), the whole
     * address having been checked by utf8_safe() */
    return g_ascii_isalnum(c) || c >= 0x80 || (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* utf8_safe - valid UTF-8 without C1 controls, U+2028/U+2029, bidi
 * embeddings/overrides/isolates, or BOM. */
static gboolean
utf8_safe(const char *s)
{
    if (!g_utf8_validate(s, -1, NULL))
        return FALSE;
    for (const char *p = s; *p; p = g_utf8_next_char(p)) {
        gunichar u = g_utf8_get_char(p);
        if ((u >= 0x80 && u <= 0x9f) || u == 0x2028 || u == 0x2029 || u == 0xfeff ||
            (u >= 0x202a && u <= 0x202e) || (u >= 0x2066 && u <= 0x2069) || u == 0x200e || u == 0x200f)
            return FALSE;
    }
    return TRUE;
}

static gboolean
valid_dot_atom(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.' || s[len - 1] == '.')
        return FALSE;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (i + 1 < len && s[i + 1] == '.')
                return FALSE;
            continue;
        }
        if (!atext_char((unsigned char) s[i]))
            return FALSE;
    }
    return TRUE;
}

static gboolean
valid_quoted(const char *s, size_t len)
{
    if (len < 2 || s[0] != '"' || s[len - 1] != '"')
        return FALSE;
    for (size_t i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c < 0x20 || c == 0x7f)
            return FALSE;
        if (c == '\\') {
            i++;
            if (i + 1 >= len || (unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                return FALSE;
        } else if (c == '"') {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
valid_domain(const char *d)
{
    size_t len = strlen(d);
    size_t label = 0;

    if (len == 0 || len > 253)
        return FALSE;
    if (d[0] == '[')                    /* address literal */
        return d[len - 1] == ']' && len > 2 &&
               strspn(d + 1, "0123456789abcdefABCDEF.:Iv6") == len - 2;
    if (d[0] == '.' || d[0] == '-' || d[len - 1] == '.')
        return FALSE;
    for (size_t i = 0; i < len; i++) {
        char c = d[i];
        if (c == '.') {
            if (label == 0 || d[i - 1] == '-')
                return FALSE;
            label = 0;
            continue;
        }
        if (!(g_ascii_isalnum(c) || c == '-' || (unsigned char) c >= 0x80))
            return FALSE;
        if (c == '-' && label == 0)
            return FALSE;
        if (++label > 63)
            return FALSE;
    }
    return TRUE;
}

char *
address_normalize(const char *in, const char **why)
{
    const char *start, *end, *at = NULL;
    char *local, *domain, *result;
    gboolean in_quote = FALSE;
    const char *dummy;

    if (!why)
        why = &dummy;
    if (!in) {
        *why = "no address given";
        return NULL;
    }
    for (const char *p = in; *p; p++)
        if (((unsigned char) *p < 0x20 && *p != '\t') || *p == 0x7f) {
            *why = "control characters (CR, LF, NUL, DEL ...) are not allowed in an address";
            return NULL;
        }
    if (!utf8_safe(in)) {
        *why = "the address is not valid UTF-8 or has invisible control characters";
        return NULL;
    }
    start = in;
    while (*start == ' ' || *start == '\t')
        start++;
    end = start + strlen(start);
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end > start && *start == '<' && end[-1] == '>') {
        start++;
        end--;
    }
    if (end - start > 254) {
        *why = "address is longer than 254 characters";
        return NULL;
    }
    for (const char *p = start; p < end; p++) {
        if (*p == '\\' && in_quote) {
            p++;
            continue;
        }
        if (*p == '"')
            in_quote = !in_quote;
        else if (*p == '@' && !in_quote)
            at = p;                      /* the last unquoted '@' */
    }
    if (in_quote) {
        *why = "unbalanced quote in the address";
        return NULL;
    }
    if (!at || at == start || at + 1 >= end) {
        *why = "an address needs the form local-part@domain";
        return NULL;
    }
    if (at - start > 64) {
        *why = "the local part is longer than 64 characters";
        return NULL;
    }
    local = g_strndup(start, (gsize) (at - start));
    domain = g_ascii_strdown(at + 1, end - at - 1);
    if (!g_str_is_ascii(domain)) {
        char *lower = g_utf8_strdown(domain, -1);
        g_free(domain);
        domain = g_utf8_normalize(lower, -1, G_NORMALIZE_NFC);
        g_free(lower);
        if (!domain)
            domain = g_strdup("");
    }
    if (!(valid_dot_atom(local, strlen(local)) || valid_quoted(local, strlen(local)))) {
        *why = "the local part has characters that are not allowed";
        result = NULL;
    } else if (!valid_domain(domain)) {
        *why = "the domain is not a valid host name";
        result = NULL;
    } else {
        result = g_strconcat(local, "@", domain, NULL);
    }
    g_free(local);
    g_free(domain);
    return result;
}

char *
address_from_header(const char *value, char **name)
{
    InternetAddressList *list;
    char *result = NULL;
    char *fixed;

    if (name)
        *name = NULL;
    if (!value)
        return NULL;
    fixed = addrfix_value(value);            /* see addrfix.c: a GMime leak */
    list = internet_address_list_parse(NULL, fixed ? fixed : value);
    g_free(fixed);
    if (!list)
        return NULL;
    for (int i = 0; i < internet_address_list_length(list) && !result; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
            result = address_normalize(addr, NULL);
            if (result && name && internet_address_get_name(ia))
                *name = g_strdup(internet_address_get_name(ia));
        }
    }
    g_object_unref(list);
    return result;
}

gboolean
address_equal(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

const char *
address_domain(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return at ? at + 1 : "";
}

gboolean
address_is_mailer_daemon(const char *addr)
{
    const char *at;
    size_t n;

    if (!addr || !*addr || g_str_equal(addr, "<>"))
        return TRUE;
    at = strrchr(addr, '@');
    n = at ? (size_t) (at - addr) : strlen(addr);
    return n == 13 && g_ascii_strncasecmp(addr, "mailer-daemon", 13) == 0;
}
