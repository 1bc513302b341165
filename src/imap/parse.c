/* parse.c - the IMAP command parser (RFC 3501 section 9, RFC 9051):
 * tag SP command *(SP argument), where an argument is an atom (with any
 * [section] and <partial> kept inside it, as in BODY.PEEK[HEADER.FIELDS
 * (FROM)]<0.100>), a quoted string, a literal {N} / {N+} (RFC 7888,
 * whose bytes the reader put right after the CRLF), or a parenthesised
 * list of arguments.  The parser only reads the buffer it is given:
 * sizes, nesting and counts are bounded, and every malformed input
 * ends in FALSE with a reason for the BAD answer.  Also: sequence sets
 * and the quoting of strings in answers. */
#include "config.h"
#include "imap.h"

#include <string.h>

typedef struct {
    const char *p, *end;
    const char *why;
} Cursor;

static void
arg_free(gpointer data)
{
    ImapArg *a = data;
    if (!a)
        return;
    g_free(a->str);
    if (a->list)
        g_ptr_array_free(a->list, TRUE);
    g_free(a);
}

void
imap_command_clear(ImapCommand *cmd)
{
    g_free(cmd->tag);
    g_free(cmd->name);
    if (cmd->args)
        g_ptr_array_free(cmd->args, TRUE);
    memset(cmd, 0, sizeof(*cmd));
}

/* 8-bit octets are taken in atoms: clients such as Python's imaplib
 * send UTF-8 search words unquoted after CHARSET UTF-8. */
static gboolean
is_atom_char(unsigned char ch)
{
    if (ch <= 0x20 || ch == 0x7f)
        return FALSE;
    if (ch > 0x7f)
        return TRUE;
    return !strchr("(){\"\\", ch);
}

static gboolean
is_tag_char(unsigned char ch)
{
    return is_atom_char(ch) && ch < 0x80 && ch != '+' && ch != '*' && ch != '%';
}

static ImapArg *parse_arg(Cursor *c, int depth);

static ImapArg *
new_arg(ImapArgType type)
{
    ImapArg *a = g_new0(ImapArg, 1);
    a->type = type;
    return a;
}

static ImapArg *
parse_atom(Cursor *c)
{
    const char *start = c->p;
    ImapArg *a;

    if (c->p < c->end && *c->p == '\\')
        c->p++;                 /* a flag: \Seen */
    while (c->p < c->end) {
        unsigned char ch = (unsigned char) *c->p;
        if (ch == '[') {
            int depth = 0;
            /* a section: anything but CR/LF up to the matching ] */
            for (; c->p < c->end; c->p++) {
                if (*c->p == '\r' || *c->p == '\n' || *c->p == '\0') {
                    c->why = "unterminated [section]";
                    return NULL;
                }
                if (*c->p == '[')
                    depth++;
                else if (*c->p == ']' && --depth == 0)
                    break;
            }
            if (c->p >= c->end) {
                c->why = "unterminated [section]";
                return NULL;
            }
            c->p++;
            continue;
        }
        if (!is_atom_char(ch))
            break;
        c->p++;
    }
    if (c->p == start) {
        c->why = "an argument was expected";
        return NULL;
    }
    a = new_arg(IMAP_ARG_ATOM);
    a->str = g_strndup(start, (gsize) (c->p - start));
    a->len = (gsize) (c->p - start);
    return a;
}

static ImapArg *
parse_quoted(Cursor *c)
{
    GString *s = g_string_new(NULL);
    ImapArg *a;

    c->p++;                     /* the opening quote */
    for (;;) {
        char ch;
        if (c->p >= c->end) {
            c->why = "unterminated quoted string";
            g_string_free(s, TRUE);
            return NULL;
        }
        ch = *c->p++;
        if (ch == '"')
            break;
        if (ch == '\r' || ch == '\n' || ch == '\0') {
            c->why = "CR, LF or NUL in a quoted string";
            g_string_free(s, TRUE);
            return NULL;
        }
        if (ch == '\\') {
            if (c->p >= c->end || (*c->p != '"' && *c->p != '\\')) {
                c->why = "bad escape in a quoted string";
                g_string_free(s, TRUE);
                return NULL;
            }
            ch = *c->p++;
        }
        g_string_append_c(s, ch);
    }
    a = new_arg(IMAP_ARG_STRING);
    a->len = s->len;
    a->str = g_string_free(s, FALSE);
    return a;
}

static ImapArg *
parse_literal(Cursor *c)
{
    guint64 n = 0;
    int digits = 0;
    ImapArg *a;

    c->p++;                     /* { */
    while (c->p < c->end && g_ascii_isdigit(*c->p) && digits < 12) {
        n = n * 10 + (guint64) (*c->p - '0');
        c->p++;
        digits++;
    }
    if (digits == 0 || digits >= 12 || n > IMAP_MAX_LITERAL) {
        c->why = "bad or too large literal size";
        return NULL;
    }
    if (c->p < c->end && *c->p == '+')
        c->p++;
    if (c->end - c->p < 3 || memcmp(c->p, "}\r\n", 3) != 0) {
        c->why = "a literal size must end the line";
        return NULL;
    }
    c->p += 3;
    if ((guint64) (c->end - c->p) < n) {
        c->why = "literal shorter than announced";
        return NULL;
    }
    a = new_arg(IMAP_ARG_STRING);
    a->str = g_malloc((gsize) n + 1);      /* not g_strndup: a literal may hold NULs */
    memcpy(a->str, c->p, (size_t) n);
    a->str[n] = '\0';
    a->len = (gsize) n;
    c->p += n;
    return a;
}

static ImapArg *
parse_list(Cursor *c, int depth)
{
    ImapArg *a;

    if (depth >= IMAP_MAX_DEPTH) {
        c->why = "lists nested too deep";
        return NULL;
    }
    c->p++;                     /* ( */
    a = new_arg(IMAP_ARG_LIST);
    a->list = g_ptr_array_new_with_free_func(arg_free);
    for (;;) {
        ImapArg *item;
        if (c->p >= c->end) {
            c->why = "unterminated list";
            arg_free(a);
            return NULL;
        }
        if (*c->p == ')') {
            c->p++;
            return a;
        }
        if (a->list->len > 0) {
            if (*c->p != ' ') {
                c->why = "a space was expected between list items";
                arg_free(a);
                return NULL;
            }
            c->p++;
        }
        item = parse_arg(c, depth + 1);
        if (!item || a->list->len >= 10000) {
            if (item) {
                c->why = "too many list items";
                arg_free(item);
            }
            arg_free(a);
            return NULL;
        }
        g_ptr_array_add(a->list, item);
    }
}

static ImapArg *
parse_arg(Cursor *c, int depth)
{
    if (c->p >= c->end) {
        c->why = "an argument was expected";
        return NULL;
    }
    switch (*c->p) {
    case '(':
        return parse_list(c, depth);
    case '"':
        return parse_quoted(c);
    case '{':
        return parse_literal(c);
    default:
        return parse_atom(c);
    }
}

gboolean
imap_parse_command(const char *buf, gsize len, ImapCommand *cmd, const char **why)
{
    Cursor c = { buf, buf + len, NULL };
    const char *start;

    memset(cmd, 0, sizeof(*cmd));
    *why = NULL;
    start = c.p;
    while (c.p < c.end && is_tag_char((unsigned char) *c.p))
        c.p++;
    if (c.p == start || c.p - start > 64) {
        *why = "a tag was expected";
        return FALSE;
    }
    cmd->tag = g_strndup(start, (gsize) (c.p - start));
    if (c.p >= c.end || *c.p != ' ') {
        *why = "a command was expected after the tag";
        return FALSE;
    }
    c.p++;
    start = c.p;
    while (c.p < c.end && (g_ascii_isalnum(*c.p) || *c.p == '-' || *c.p == '.'))
        c.p++;
    if (c.p == start || c.p - start > 32) {
        *why = "a command was expected after the tag";
        return FALSE;
    }
    cmd->name = g_ascii_strup(start, c.p - start);
    cmd->args = g_ptr_array_new_with_free_func(arg_free);
    while (c.p < c.end) {
        ImapArg *a;
        if (*c.p != ' ') {
            *why = "a space was expected between arguments";
            return FALSE;
        }
        c.p++;
        a = parse_arg(&c, 0);
        if (!a) {
            *why = c.why ? c.why : "malformed argument";
            return FALSE;
        }
        if (cmd->args->len >= 10000) {
            arg_free(a);
            *why = "too many arguments";
            return FALSE;
        }
        g_ptr_array_add(cmd->args, a);
    }
    return TRUE;
}

gint64
imap_line_literal(const char *line, gsize len, gboolean *nonsync)
{
    gsize i;
    gint64 n = 0;

    *nonsync = FALSE;
    if (len < 3 || line[len - 1] != '}')
        return -1;
    i = len - 1;
    if (line[i - 1] == '+') {
        *nonsync = TRUE;
        i--;
    }
    {
        gsize end = i, digits;
        while (i > 0 && g_ascii_isdigit(line[i - 1]))
            i--;
        digits = end - i;
        /* a literal follows a space or an opening parenthesis */
        if (digits == 0 || i < 2 || line[i - 1] != '{' || (line[i - 2] != ' ' && line[i - 2] != '('))
            return -1;
        if (digits > 12)
            return -2;
        for (gsize k = i; k < end; k++)
            n = n * 10 + (line[k] - '0');
    }
    return n;
}

gboolean
imap_arg_is_atom(const ImapArg *a, const char *word)
{
    return a && a->type == IMAP_ARG_ATOM && g_ascii_strcasecmp(a->str, word) == 0;
}

const char *
imap_arg_string(const ImapArg *a)
{
    return a && a->type != IMAP_ARG_LIST ? a->str : NULL;
}

static gboolean
parse_seq_number(const char **p, guint64 *n)
{
    guint64 v = 0;
    int digits = 0;

    if (**p == '*') {
        (*p)++;
        *n = G_MAXUINT64;
        return TRUE;
    }
    if (**p < '1' || **p > '9')
        return FALSE;
    while (g_ascii_isdigit(**p)) {
        v = v * 10 + (guint64) (**p - '0');
        if (++digits > 10 || v > G_MAXUINT32)
            return FALSE;
        (*p)++;
    }
    *n = v;
    return TRUE;
}

GArray *
imap_parse_set(const char *text)
{
    GArray *set = g_array_new(FALSE, FALSE, sizeof(ImapRange));
    const char *p = text;

    for (;;) {
        ImapRange r;
        if (!parse_seq_number(&p, &r.lo))
            goto bad;
        r.hi = r.lo;
        if (*p == ':') {
            p++;
            if (!parse_seq_number(&p, &r.hi))
                goto bad;
        }
        if (r.lo > r.hi) {
            guint64 t = r.lo;
            r.lo = r.hi;
            r.hi = t;
        }
        if (set->len >= 10000)
            goto bad;
        g_array_append_val(set, r);
        if (*p == '\0')
            return set;
        if (*p != ',')
            goto bad;
        p++;
    }
bad:
    g_array_free(set, TRUE);
    return NULL;
}

gboolean
imap_set_contains(const GArray *set, guint64 n, guint64 max)
{
    for (guint i = 0; i < set->len; i++) {
        const ImapRange *r = &g_array_index(set, ImapRange, i);
        guint64 lo = r->lo == G_MAXUINT64 ? max : r->lo;
        guint64 hi = r->hi == G_MAXUINT64 ? max : r->hi;
        if (lo > hi) {
            guint64 t = lo;
            lo = hi;
            hi = t;
        }
        if (n >= lo && n <= hi)
            return TRUE;
    }
    return FALSE;
}

void
imap_quote_len(GString *out, const char *s, gsize len)
{
    gboolean literal = FALSE;

    if (!s) {
        g_string_append(out, "NIL");
        return;
    }
    for (gsize i = 0; i < len && !literal; i++) {
        unsigned char ch = (unsigned char) s[i];
        literal = ch == '\r' || ch == '\n' || ch == '\0' || ch >= 0x80;
    }
    if (literal || len > 1024) {
        g_string_append_printf(out, "{%" G_GSIZE_FORMAT "}\r\n", len);
        g_string_append_len(out, s, (gssize) len);
        return;
    }
    g_string_append_c(out, '"');
    for (gsize i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            g_string_append_c(out, '\\');
        g_string_append_c(out, s[i]);
    }
    g_string_append_c(out, '"');
}

void
imap_quote(GString *out, const char *s)
{
    imap_quote_len(out, s, s ? strlen(s) : 0);
}
