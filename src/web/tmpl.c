/* tmpl.c - a small Mustache-like template engine that escapes by
 * default, and the message catalogs of the web pages (see tmpl.h).
 *
 * Values are TVal records in GHashTables: a string, a trusted HTML
 * string, or a list of further tables.  Template files and catalogs are
 * read once and kept (the web server renders the same pages again and
 * again). */
#include "config.h"
#include "tmpl.h"
#include "httputil.h"
#include "instance.h"
#include "util.h"

#include <stdarg.h>
#include <string.h>

typedef enum { TV_STR, TV_HTML, TV_LIST } TKind;

typedef struct {
    TKind kind;
    char *s;
    GPtrArray *list;    /* of TData* */
} TVal;

static void
tval_free(gpointer p)
{
    TVal *v = p;
    g_free(v->s);
    if (v->list)
        g_ptr_array_unref(v->list);
    g_free(v);
}

TData *
tdata_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, tval_free);
}

void
tdata_free(TData *d)
{
    if (d)
        g_hash_table_unref(d);
}

static void
put(TData *d, const char *key, TKind kind, const char *s)
{
    TVal *v = g_new0(TVal, 1);
    v->kind = kind;
    v->s = g_strdup(s ? s : "");
    g_hash_table_replace(d, g_strdup(key), v);
}

void
tdata_set(TData *d, const char *key, const char *value)
{
    put(d, key, TV_STR, value);
}

void
tdata_setf(TData *d, const char *key, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    put(d, key, TV_STR, s);
    g_free(s);
}

void
tdata_set_int(TData *d, const char *key, gint64 v)
{
    tdata_setf(d, key, "%" G_GINT64_FORMAT, v);
}

void
tdata_set_html(TData *d, const char *key, const char *html)
{
    put(d, key, TV_HTML, html);
}

void
tdata_set_bool(TData *d, const char *key, gboolean on)
{
    if (on)
        put(d, key, TV_STR, "1");
    else
        g_hash_table_remove(d, key);
}

TData *
tdata_add(TData *d, const char *key)
{
    TVal *v = g_hash_table_lookup(d, key);
    TData *item = tdata_new();
    if (!v || v->kind != TV_LIST) {
        v = g_new0(TVal, 1);
        v->kind = TV_LIST;
        v->list = g_ptr_array_new_with_free_func((GDestroyNotify) g_hash_table_unref);
        g_hash_table_replace(d, g_strdup(key), v);
    }
    g_ptr_array_add(v->list, item);
    return item;
}

/* ---- message catalogs ---- */

static char *tmpl_dir;
static GHashTable *catalogs;    /* lang -> (msgid -> msgstr) */
static GHashTable *files;       /* name -> text */
G_LOCK_DEFINE_STATIC(tmpl_cache);

void
tmpl_set_dir(const char *dir)
{
    g_free(tmpl_dir);
    tmpl_dir = g_strdup(dir);
}

static const char *
web_dir(void)
{
    if (!tmpl_dir)
        tmpl_dir = g_build_filename(kairan_template_dir(), "web", NULL);
    return tmpl_dir;
}

static GHashTable *
catalog_load(const char *lang)
{
    GHashTable *c = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    char *file = g_strconcat(lang, ".txt", NULL);
    char *path = g_build_filename(web_dir(), "i18n", file, NULL);
    char *text = NULL;
    if (g_file_get_contents(path, &text, NULL, NULL)) {
        char **lines = g_strsplit(text, "\n", 0);
        for (int i = 0; lines[i]; i++) {
            char *tab = strchr(lines[i], '\t');
            if (lines[i][0] == '#' || !tab)
                continue;
            *tab = '\0';
            g_hash_table_replace(c, g_strdup(lines[i]), g_strdup(g_strstrip(tab + 1)));
        }
        g_strfreev(lines);
    }
    g_free(text);
    g_free(path);
    g_free(file);
    return c;
}

const char *
tr(const char *lang, const char *msgid)
{
    GHashTable *c;
    const char *s;
    if (!lang || g_str_equal(lang, "en") || !str_is_safe_name(lang, FALSE))
        return msgid;
    G_LOCK(tmpl_cache);
    if (!catalogs)
        catalogs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
    c = g_hash_table_lookup(catalogs, lang);
    if (!c) {
        c = catalog_load(lang);
        g_hash_table_insert(catalogs, g_strdup(lang), c);
    }
    s = g_hash_table_lookup(c, msgid);
    G_UNLOCK(tmpl_cache);
    return s && *s ? s : msgid;
}

/* ---- rendering ---- */

static TVal *
lookup(GPtrArray *stack, const char *name)
{
    for (guint i = stack->len; i > 0; i--) {
        TVal *v = g_hash_table_lookup(stack->pdata[i - 1], name);
        if (v)
            return v;
    }
    return NULL;
}

static gboolean
truthy(TVal *v)
{
    if (!v)
        return FALSE;
    if (v->kind == TV_LIST)
        return v->list->len > 0;
    return v->s && *v->s;
}

/* find_close - the {{/name}} that closes a section opened before p,
 * honouring nested sections of the same name; NULL if none. */
static const char *
find_close(const char *p, const char *end, const char *name, const char **after)
{
    int depth = 1;
    char *open1 = g_strdup_printf("{{#%s}}", name);
    char *open2 = g_strdup_printf("{{^%s}}", name);
    char *close = g_strdup_printf("{{/%s}}", name);
    const char *result = NULL;
    while (p < end) {
        const char *q = g_strstr_len(p, end - p, "{{");
        if (!q)
            break;
        if (g_str_has_prefix(q, open1) || g_str_has_prefix(q, open2)) {
            depth++;
            p = q + 2;
        } else if (g_str_has_prefix(q, close)) {
            if (--depth == 0) {
                result = q;
                *after = q + strlen(close);
                break;
            }
            p = q + 2;
        } else {
            p = q + 2;
        }
    }
    g_free(open1);
    g_free(open2);
    g_free(close);
    return result;
}

static void
render(GString *out, const char *p, const char *end, GPtrArray *stack, const char *lang)
{
    while (p < end) {
        const char *q = g_strstr_len(p, end - p, "{{");
        const char *tag_end;
        char *name;
        if (!q) {
            g_string_append_len(out, p, end - p);
            return;
        }
        g_string_append_len(out, p, q - p);
        if (q[2] == '{') {                              /* {{{name}}} */
            tag_end = g_strstr_len(q, end - q, "}}}");
            if (!tag_end)
                break;
            name = g_strstrip(g_strndup(q + 3, tag_end - q - 3));
            TVal *v = lookup(stack, name);
            if (v && v->kind == TV_HTML)
                g_string_append(out, v->s);
            else if (v && v->kind == TV_STR) {
                char *e = html_escape(v->s);
                g_string_append(out, e);
                g_free(e);
            }
            g_free(name);
            p = tag_end + 3;
            continue;
        }
        tag_end = g_strstr_len(q, end - q, "}}");
        if (!tag_end)
            break;
        name = g_strndup(q + 2, tag_end - q - 2);
        p = tag_end + 2;
        if (name[0] == '_' && name[1] == ' ') {         /* {{_ text}} */
            char *e = html_escape(tr(lang, g_strstrip(name + 2)));
            g_string_append(out, e);
            g_free(e);
        } else if (name[0] == '#' || name[0] == '^') {
            const char *after = NULL;
            char *sec = g_strstrip(g_strdup(name + 1));
            const char *close = find_close(p, end, sec, &after);
            TVal *v = lookup(stack, sec);
            if (!close) {
                g_free(sec);
                g_free(name);
                break;
            }
            if (name[0] == '^') {
                if (!truthy(v))
                    render(out, p, close, stack, lang);
            } else if (v && v->kind == TV_LIST) {
                for (guint i = 0; i < v->list->len; i++) {
                    g_ptr_array_add(stack, v->list->pdata[i]);
                    render(out, p, close, stack, lang);
                    g_ptr_array_remove_index(stack, stack->len - 1);
                }
            } else if (truthy(v)) {
                render(out, p, close, stack, lang);
            }
            p = after;
            g_free(sec);
        } else if (name[0] == '!' || name[0] == '/') {
            /* comment, or a stray close: nothing */
        } else {
            TVal *v = lookup(stack, g_strstrip(name));
            if (v && v->kind != TV_LIST) {
                char *e = html_escape(v->s);
                g_string_append(out, e);
                g_free(e);
            }
        }
        g_free(name);
    }
}

char *
tmpl_render_text(const char *text, TData *d, const char *lang)
{
    GString *out = g_string_sized_new(strlen(text) + 1024);
    GPtrArray *stack = g_ptr_array_new();
    g_ptr_array_add(stack, d);
    render(out, text, text + strlen(text), stack, lang);
    g_ptr_array_free(stack, TRUE);
    return g_string_free(out, FALSE);
}

char *
tmpl_render(const char *name, TData *d, const char *lang)
{
    const char *text;
    if (!str_is_safe_name(name, FALSE))
        return NULL;
    G_LOCK(tmpl_cache);
    if (!files)
        files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    text = g_hash_table_lookup(files, name);
    if (!text) {
        char *file = g_strconcat(name, ".html", NULL);
        char *path = g_build_filename(web_dir(), file, NULL);
        char *contents = NULL;
        if (g_file_get_contents(path, &contents, NULL, NULL)) {
            g_hash_table_insert(files, g_strdup(name), contents);
            text = contents;
        }
        g_free(path);
        g_free(file);
    }
    G_UNLOCK(tmpl_cache);
    return text ? tmpl_render_text(text, d, lang) : NULL;
}
