/* template.c - load a reply-mail template and expand {{name}} placeholders
 * (the one placeholder syntax of kairan: mail templates, command-reply
 * texts, the list footer and the web pages).
 *
 * A mail template is UTF-8 text: header lines ("Subject: ..."), a blank
 * line, then the body.  Values are inserted as they are: the caller makes
 * sure nothing from mail that could break a header goes into the header
 * part (notify.c re-encodes the Subject and refuses CR/LF). */
#include "config.h"
#include "template.h"
#include "instance.h"
#include "util.h"

#include <string.h>

char *
template_load(const char *lang, const char *name)
{
    const char *langs[] = { lang ? lang : "en", "en" };
    char *text = NULL;

    if (!str_is_safe_name(name, FALSE))
        return NULL;
    for (int i = 0; i < 2 && !text; i++) {
        char *file = g_strconcat(name, ".txt", NULL);
        char *path;
        if (!str_is_safe_name(langs[i], FALSE)) {
            g_free(file);
            continue;
        }
        path = g_build_filename(kairan_template_dir(), "mail", langs[i], file, NULL);
        if (!g_file_get_contents(path, &text, NULL, NULL))
            text = NULL;
        g_free(path);
        g_free(file);
    }
    return text;
}

char *
template_expand(const char *text, GHashTable *vars)
{
    GString *out = g_string_sized_new(strlen(text) + 256);
    const char *p = text;

    while (*p) {
        const char *open = strstr(p, "{{"), *k;
        if (!open) {
            g_string_append(out, p);
            break;
        }
        g_string_append_len(out, p, open - p);
        for (k = open + 2; g_ascii_isalnum(*k) || *k == '_'; k++)
            ;
        if (k == open + 2 || k[0] != '}' || k[1] != '}') {
            g_string_append_c(out, '{');     /* not a placeholder: go on after one { */
            p = open + 1;
            continue;
        }
        {
            char *key = g_strndup(open + 2, (gsize) (k - open - 2));
            const char *v = vars ? g_hash_table_lookup(vars, key) : NULL;
            if (v)
                g_string_append(out, v);
            g_free(key);
        }
        p = k + 2;
    }
    return g_string_free(out, FALSE);
}

GHashTable *
template_vars_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

void
template_var(GHashTable *vars, const char *key, const char *value)
{
    g_hash_table_replace(vars, g_strdup(key), g_strdup(value ? value : ""));
}
