/* pylit.c - the Python literals of Mailman 2.1's `bin/config_list -o`
 * output: NAME = VALUE lines and # comments, where VALUE is a string
 * ('...', "...", '''...''', """...""", with u/r/b prefixes and Python's
 * escapes: \n \t \\ \' \" \xHH \ooo \uXXXX \UXXXXXXXX, a backslash-newline
 * continuation; adjacent strings are joined), a number (10, 10L, 1.5,
 * -3), True, False, None, a list [...], a tuple (...) or a dict {k: v},
 * nested at most 64 deep.  Errors are EXIT_DATAERR naming FILE:LINE. */
#include "config.h"
#include "import/import.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p, *end, *file;
    gint64 line;
    GError **error;
} Lexer;

static gboolean
fail(Lexer *lx, const char *what)
{
    if (lx->error && !*lx->error)
        g_set_error(lx->error, KAIRAN_ERROR, EXIT_DATAERR, "%s:%" G_GINT64_FORMAT ": %s", lx->file, lx->line, what);
    return FALSE;
}

/* skip_blank - blanks; with nl also newlines and comments (inside brackets) */
static void
skip_blank(Lexer *lx, gboolean nl)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f')
            lx->p++;
        else if (c == '\\' && lx->p + 1 < lx->end && lx->p[1] == '\n') {
            lx->p += 2;
            lx->line++;
        } else if (nl && c == '\n') {
            lx->p++;
            lx->line++;
        } else if (nl && c == '#') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else
            break;
    }
}

static ImportValue *
value_new(ImportValueType t)
{
    ImportValue *v = g_new0(ImportValue, 1);
    v->type = t;
    if (t == IV_LIST || t == IV_DICT)
        v->items = g_ptr_array_new_with_free_func((GDestroyNotify) import_value_free);
    if (t == IV_DICT)
        v->keys = g_ptr_array_new_with_free_func(g_free);
    return v;
}

static int
hexval(char c)
{
    return g_ascii_xdigit_value(c);
}

static gboolean
append_unichar(GString *s, gunichar u)
{
    char buf[6];
    if (!g_unichar_validate(u))
        return FALSE;
    g_string_append_len(s, buf, g_unichar_to_utf8(u, buf));
    return TRUE;
}

static gboolean
parse_string(Lexer *lx, GString *out)
{
    gboolean raw = FALSE, triple;
    char q;

    while (lx->p < lx->end && strchr("uUrRbB", *lx->p)) {
        if (*lx->p == 'r' || *lx->p == 'R')
            raw = TRUE;
        lx->p++;
    }
    if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"'))
        return fail(lx, "expected a string");
    q = *lx->p;
    triple = lx->p + 2 < lx->end && lx->p[1] == q && lx->p[2] == q;
    lx->p += triple ? 3 : 1;
    for (;;) {
        char c;
        if (lx->p >= lx->end)
            return fail(lx, "a string that never ends");
        c = *lx->p;
        if (c == q && (!triple || (lx->p + 2 < lx->end && lx->p[1] == q && lx->p[2] == q))) {
            lx->p += triple ? 3 : 1;
            return TRUE;
        }
        if (c == '\n') {
            if (!triple)
                return fail(lx, "a line end inside a '...' string");
            lx->line++;
        }
        if (c != '\\' || lx->p + 1 >= lx->end) {
            g_string_append_c(out, c);
            lx->p++;
            continue;
        }
        c = lx->p[1];
        if (raw) {
            g_string_append_c(out, '\\');
            g_string_append_c(out, c);
            if (c == '\n')
                lx->line++;
            lx->p += 2;
            continue;
        }
        lx->p += 2;
        switch (c) {
        case '\n': lx->line++; break;
        case '\\': g_string_append_c(out, '\\'); break;
        case '\'': g_string_append_c(out, '\''); break;
        case '"': g_string_append_c(out, '"'); break;
        case 'n': g_string_append_c(out, '\n'); break;
        case 't': g_string_append_c(out, '\t'); break;
        case 'r': g_string_append_c(out, '\r'); break;
        case 'a': g_string_append_c(out, '\a'); break;
        case 'b': g_string_append_c(out, '\b'); break;
        case 'f': g_string_append_c(out, '\f'); break;
        case 'v': g_string_append_c(out, '\v'); break;
        case 'x':
            if (lx->p + 1 >= lx->end || hexval(lx->p[0]) < 0 || hexval(lx->p[1]) < 0)
                return fail(lx, "a bad \\x escape");
            g_string_append_c(out, (char) (hexval(lx->p[0]) * 16 + hexval(lx->p[1])));
            lx->p += 2;
            break;
        case 'u':
        case 'U': {
            int n = c == 'u' ? 4 : 8;
            gunichar u = 0;
            for (int i = 0; i < n; i++) {
                if (lx->p >= lx->end || hexval(*lx->p) < 0)
                    return fail(lx, "a bad \\u escape");
                u = u * 16 + hexval(*lx->p++);
            }
            if (!append_unichar(out, u))
                return fail(lx, "a \\u escape that is no character");
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0';
                for (int i = 0; i < 2 && lx->p < lx->end && *lx->p >= '0' && *lx->p <= '7'; i++)
                    v = v * 8 + (*lx->p++ - '0');
                g_string_append_c(out, (char) (v & 0xff));
            } else {
                g_string_append_c(out, '\\');      /* Python keeps an unknown escape */
                g_string_append_c(out, c);
            }
        }
    }
}

static ImportValue *parse_value(Lexer *lx, int depth);

static gboolean
parse_items(Lexer *lx, ImportValue *v, char close, int depth)
{
    lx->p++;
    for (;;) {
        ImportValue *item, *key = NULL;
        skip_blank(lx, TRUE);
        if (lx->p < lx->end && *lx->p == close) {
            lx->p++;
            return TRUE;
        }
        item = parse_value(lx, depth + 1);
        if (!item)
            return FALSE;
        if (v->type == IV_DICT) {
            skip_blank(lx, TRUE);
            if (lx->p >= lx->end || *lx->p != ':') {
                import_value_free(item);
                return fail(lx, "expected ':' in a dict");
            }
            lx->p++;
            key = item;
            skip_blank(lx, TRUE);
            item = parse_value(lx, depth + 1);
            if (!item) {
                import_value_free(key);
                return FALSE;
            }
            g_ptr_array_add(v->keys, import_value_text(key));
            import_value_free(key);
        }
        g_ptr_array_add(v->items, item);
        skip_blank(lx, TRUE);
        if (lx->p < lx->end && *lx->p == ',') {
            lx->p++;
            continue;
        }
        skip_blank(lx, TRUE);
        if (lx->p < lx->end && *lx->p == close) {
            lx->p++;
            return TRUE;
        }
        return fail(lx, close == ']' ? "expected ',' or ']'" : close == ')' ? "expected ',' or ')'" : "expected ',' or '}'");
    }
}

static gboolean
word_at(Lexer *lx, const char *w)
{
    gsize n = strlen(w);
    if ((gsize) (lx->end - lx->p) < n || memcmp(lx->p, w, n) != 0)
        return FALSE;
    if (lx->p + n < lx->end && (g_ascii_isalnum(lx->p[n]) || lx->p[n] == '_'))
        return FALSE;
    lx->p += n;
    return TRUE;
}

static ImportValue *
parse_value(Lexer *lx, int depth)
{
    ImportValue *v;
    char c;

    if (depth > 64) {
        fail(lx, "nested too deep");
        return NULL;
    }
    skip_blank(lx, FALSE);
    if (lx->p >= lx->end) {
        fail(lx, "expected a value");
        return NULL;
    }
    c = *lx->p;
    if (c == '\'' || c == '"' ||
        (strchr("uUrRbB", c) && lx->p + 1 < lx->end &&
         (lx->p[1] == '\'' || lx->p[1] == '"' ||
          (strchr("rRbB", lx->p[1]) && lx->p + 2 < lx->end && (lx->p[2] == '\'' || lx->p[2] == '"'))))) {
        v = value_new(IV_STR);
        v->str = g_string_new(NULL);
        for (;;) {                          /* 'a' 'b' is 'ab' */
            if (!parse_string(lx, v->str)) {
                import_value_free(v);
                return NULL;
            }
            skip_blank(lx, FALSE);
            if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"'))
                break;
        }
        return v;
    }
    if (c == '[' || c == '(' || c == '{') {
        v = value_new(c == '{' ? IV_DICT : IV_LIST);
        if (!parse_items(lx, v, c == '[' ? ']' : c == '(' ? ')' : '}', depth)) {
            import_value_free(v);
            return NULL;
        }
        return v;
    }
    if (word_at(lx, "True") || word_at(lx, "False")) {
        v = value_new(IV_BOOL);
        v->b = lx->p[-1] == 'e' && lx->p[-2] == 'u';
        return v;
    }
    if (word_at(lx, "None"))
        return value_new(IV_NONE);
    if (g_ascii_isdigit(c) || c == '-' || c == '+' || c == '.') {
        char buf[64];
        const char *s = lx->p;
        char *endp;
        gsize n;
        lx->p++;
        while (lx->p < lx->end && (g_ascii_isalnum(*lx->p) || *lx->p == '.' ||
                                   ((*lx->p == '-' || *lx->p == '+') && (lx->p[-1] == 'e' || lx->p[-1] == 'E'))))
            lx->p++;
        n = lx->p - s;
        if (n > 1 && (s[n - 1] == 'L' || s[n - 1] == 'l'))
            n--;
        if (n >= sizeof buf) {
            fail(lx, "a number too long");
            return NULL;
        }
        memcpy(buf, s, n);
        buf[n] = '\0';
        v = value_new(IV_NUM);
        v->num = g_ascii_strtod(buf, &endp);
        if (*endp || endp == buf) {
            import_value_free(v);
            fail(lx, "not a number");
            return NULL;
        }
        return v;
    }
    fail(lx, "expected a value (a string, a number, True, False, None, [...], (...) or {...})");
    return NULL;
}

ImportValue *
pylit_parse_config(const char *data, gsize len, const char *file, GError **error)
{
    Lexer lx = { data, data + len, file, 1, error };
    ImportValue *dict = value_new(IV_DICT);

    for (;;) {
        const char *name;
        ImportValue *v;

        skip_blank(&lx, TRUE);
        if (lx.p >= lx.end)
            return dict;
        name = lx.p;
        while (lx.p < lx.end && (g_ascii_isalnum(*lx.p) || *lx.p == '_'))
            lx.p++;
        if (lx.p == name || g_ascii_isdigit(*name)) {
            fail(&lx, "expected NAME = VALUE");
            break;
        }
        {
            char *key = g_strndup(name, lx.p - name);
            skip_blank(&lx, FALSE);
            if (lx.p >= lx.end || *lx.p != '=') {
                g_free(key);
                fail(&lx, "expected '=' after the name");
                break;
            }
            lx.p++;
            v = parse_value(&lx, 0);
            if (!v) {
                g_free(key);
                break;
            }
            skip_blank(&lx, FALSE);
            if (lx.p < lx.end && *lx.p == '#')
                while (lx.p < lx.end && *lx.p != '\n')
                    lx.p++;
            if (lx.p < lx.end && *lx.p != '\n') {
                g_free(key);
                import_value_free(v);
                fail(&lx, "text after the value");
                break;
            }
            g_ptr_array_add(dict->keys, key);
            g_ptr_array_add(dict->items, v);
        }
    }
    import_value_free(dict);
    return NULL;
}
