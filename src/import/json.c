/* json.c - a small bounded JSON reader (RFC 8259) for Mailman 3's REST
 * output: objects, arrays, strings (every escape, \u surrogate pairs
 * joined; a lone surrogate and \u0000 refused), numbers, true, false, null; nesting
 * at most 64 deep; the text must be UTF-8.  Errors are EXIT_DATAERR
 * naming FILE:LINE. */
#include "config.h"
#include "import/import.h"
#include "log.h"
#include "util.h"

#include <string.h>

typedef struct {
    const char *p, *end, *file;
    gint64 line;
    GError **error;
} Json;

static ImportValue *
fail(Json *j, const char *what)
{
    if (j->error && !*j->error)
        g_set_error(j->error, KAIRAN_ERROR, EXIT_DATAERR, "%s:%" G_GINT64_FORMAT ": %s", j->file, j->line, what);
    return NULL;
}

static void
ws(Json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n')) {
        if (*j->p == '\n')
            j->line++;
        j->p++;
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
hex4(const char *p, const char *end)
{
    int v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int d = g_ascii_xdigit_value(p[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static GString *
string(Json *j)
{
    GString *s = g_string_new(NULL);
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char) *j->p;
        if (c < 0x20) {
            g_string_free(s, TRUE);
            fail(j, "a control character in a string");
            return NULL;
        }
        if (c != '\\') {
            g_string_append_c(s, (char) c);
            j->p++;
            continue;
        }
        if (j->p + 1 >= j->end)
            break;
        c = (unsigned char) j->p[1];
        j->p += 2;
        switch (c) {
        case '"': case '\\': case '/': g_string_append_c(s, (char) c); break;
        case 'b': g_string_append_c(s, '\b'); break;
        case 'f': g_string_append_c(s, '\f'); break;
        case 'n': g_string_append_c(s, '\n'); break;
        case 'r': g_string_append_c(s, '\r'); break;
        case 't': g_string_append_c(s, '\t'); break;
        case 'u': {
            int u = hex4(j->p, j->end);
            gunichar ch;
            char buf[6];
            if (u <= 0)             /* \u0000 would cut a text short: refused */
                goto bad;
            j->p += 4;
            ch = u;
            if (u >= 0xD800 && u < 0xDC00) {
                int lo = (j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') ? hex4(j->p + 2, j->end) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    goto bad;
                j->p += 6;
                ch = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                goto bad;
            }
            g_string_append_len(s, buf, g_unichar_to_utf8(ch, buf));
            break;
        }
        default:
            goto bad;
        }
    }
    if (j->p >= j->end) {
        g_string_free(s, TRUE);
        fail(j, "a string that never ends");
        return NULL;
    }
    j->p++;
    return s;
bad:
    g_string_free(s, TRUE);
    fail(j, "a bad escape in a string");
    return NULL;
}

static gboolean
word(Json *j, const char *w)
{
    gsize n = strlen(w);
    if ((gsize) (j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return FALSE;
    j->p += n;
    return TRUE;
}

static ImportValue *
value(Json *j, int depth)
{
    ImportValue *v;

    if (depth > 64)
        return fail(j, "nested too deep");
    ws(j);
    if (j->p >= j->end)
        return fail(j, "expected a value");
    switch (*j->p) {
    case '"':
        v = value_new(IV_STR);
        if (!(v->str = string(j))) {
            import_value_free(v);
            return NULL;
        }
        return v;
    case '{':
    case '[': {
        gboolean obj = *j->p == '{';
        char close = obj ? '}' : ']';
        v = value_new(obj ? IV_DICT : IV_LIST);
        j->p++;
        ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return v;
        }
        for (;;) {
            ImportValue *item;
            ws(j);
            if (obj) {
                GString *k;
                if (j->p >= j->end || *j->p != '"') {
                    import_value_free(v);
                    return fail(j, "expected a \"name\" in an object");
                }
                if (!(k = string(j))) {
                    import_value_free(v);
                    return NULL;
                }
                ws(j);
                if (j->p >= j->end || *j->p != ':') {
                    g_string_free(k, TRUE);
                    import_value_free(v);
                    return fail(j, "expected ':' in an object");
                }
                j->p++;
                g_ptr_array_add(v->keys, g_string_free(k, FALSE));
            }
            if (!(item = value(j, depth + 1))) {
                if (obj)
                    g_ptr_array_remove_index(v->keys, v->keys->len - 1);
                import_value_free(v);
                return NULL;
            }
            g_ptr_array_add(v->items, item);
            ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                return v;
            }
            import_value_free(v);
            return fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    default:
        if (word(j, "true") || word(j, "false")) {
            v = value_new(IV_BOOL);
            v->b = j->p[-1] == 'e' && j->p[-2] == 'u';
            return v;
        }
        if (word(j, "null"))
            return value_new(IV_NONE);
        if (*j->p == '-' || g_ascii_isdigit(*j->p)) {
            char buf[64], *endp;
            const char *s = j->p;
            gsize n;
            while (j->p < j->end && (g_ascii_isdigit(*j->p) || strchr("+-.eE", *j->p)))
                j->p++;
            n = j->p - s;
            if (n >= sizeof buf)
                return fail(j, "a number too long");
            memcpy(buf, s, n);
            buf[n] = '\0';
            v = value_new(IV_NUM);
            v->num = g_ascii_strtod(buf, &endp);
            if (*endp || endp == buf) {
                import_value_free(v);
                return fail(j, "not a number");
            }
            return v;
        }
        return fail(j, "expected a value");
    }
}

ImportValue *
json_parse(const char *data, gsize len, const char *file, GError **error)
{
    Json j = { data, data + len, file, 1, error };
    ImportValue *v;

    if (!g_utf8_validate(data, len, NULL)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s: not UTF-8 text", file);
        return NULL;
    }
    v = value(&j, 0);
    if (!v)
        return NULL;
    ws(&j);
    if (j.p < j.end) {
        import_value_free(v);
        return fail(&j, "text after the JSON value");
    }
    return v;
}
