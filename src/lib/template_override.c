/* template_override.c - owners' own mail texts over the shipped ones
 * (see template_override.h for the places and their order).
 *
 * Decisions:
 *   - the list's language is tried first at every level, then English
 *     at every level: a Japanese list with only an English override of
 *     welcome keeps sending the shipped Japanese welcome;
 *   - ctl_texts (the catalog of short command-reply lines, not a mail
 *     text) cannot be overridden;
 *   - an override may use only the placeholders the template is filled
 *     with: those the shipped texts of that template use, and the list
 *     addresses every mail knows.  Anything else would come out empty,
 *     so it is refused, naming the unknown ones. */
#include "config.h"
#include "template_override.h"
#include "template.h"
#include "domains.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const common_vars[] = { "list", "list_address", "ctl_address", "admin_address", NULL };
static const char *const shipped_langs[] = { "en", "ja", NULL };

const char *
template_source_name(TemplateSource src)
{
    switch (src) {
    case TEMPLATE_FROM_SHIPPED: return "shipped";
    case TEMPLATE_FROM_INSTANCE: return "instance";
    case TEMPLATE_FROM_DOMAIN: return "domain";
    case TEMPLATE_FROM_LIST: return "list";
    default: return "none";
    }
}

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

char **
template_names(void)
{
    char *dir = g_build_filename(kairan_template_dir(), "mail", "en", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    GPtrArray *names = g_ptr_array_new();
    const char *f;

    while (d && (f = g_dir_read_name(d))) {
        char *name;
        if (!g_str_has_suffix(f, ".txt"))
            continue;
        name = g_strndup(f, strlen(f) - 4);
        if (str_is_safe_name(name, FALSE) && !g_str_equal(name, "ctl_texts"))
            g_ptr_array_add(names, name);
        else
            g_free(name);
    }
    if (d)
        g_dir_close(d);
    g_free(dir);
    g_ptr_array_sort(names, cmp_str);
    g_ptr_array_add(names, NULL);
    return (char **) g_ptr_array_free(names, FALSE);
}

gboolean
template_name_known(const char *name)
{
    char **names;
    gboolean known;

    if (!str_is_safe_name(name, FALSE))
        return FALSE;
    names = template_names();
    known = g_strv_contains((const char *const *) names, name);
    g_strfreev(names);
    return known;
}

/* level_dir - HOME/templates[/SUB] for one level (SUB NULL: instance). */
static char *
level_file(const Instance *inst, const char *sub, const char *lang, const char *name)
{
    char *file = g_strconcat(name, ".txt", NULL);
    char *path = sub ? g_build_filename(inst->home, "templates", sub, lang, file, NULL)
                     : g_build_filename(inst->home, "templates", lang, file, NULL);
    g_free(file);
    return path;
}

static char *
read_text(const char *path)
{
    char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &text, &len, NULL))
        return NULL;
    if (len > TEMPLATE_OVERRIDE_MAX * 2 || !g_utf8_validate(text, (gssize) len, NULL) || strlen(text) != len) {
        log_error("template %s is not UTF-8 text of at most %d bytes: ignored", path, TEMPLATE_OVERRIDE_MAX);
        g_free(text);
        return NULL;
    }
    return text;
}

char *
template_load_for(const Instance *inst, const char *list, const char *lang, const char *name,
                  TemplateSource *src)
{
    const char *langs[] = { lang && str_is_safe_name(lang, FALSE) ? lang : "en", "en" };
    char *dom = !inst ? NULL : list ? list_domain(inst, list) : g_strdup(inst->domain);
    char *domain_sub = dom && str_is_safe_name(dom, FALSE) ? g_strconcat("@", dom, NULL) : NULL;
    g_free(dom);

    if (src)
        *src = TEMPLATE_FROM_NONE;
    if (!str_is_safe_name(name, FALSE) || g_str_equal(name, "ctl_texts")) {
        g_free(domain_sub);        /* the catalog is always the shipped one */
        if (src && str_is_safe_name(name, FALSE))
            *src = TEMPLATE_FROM_SHIPPED;
        return str_is_safe_name(name, FALSE) ? template_load(lang, name) : NULL;
    }
    for (int i = 0; i < 2; i++) {
        const char *subs[] = { list && str_is_safe_name(list, FALSE) ? list : NULL, domain_sub };
        const TemplateSource froms[] = { TEMPLATE_FROM_LIST, TEMPLATE_FROM_DOMAIN };
        if (i == 1 && g_str_equal(langs[0], "en"))
            break;
        for (int k = 0; inst && k < 3; k++) {
            char *path, *text;
            if (k < 2 && !subs[k])
                continue;
            path = level_file(inst, k < 2 ? subs[k] : NULL, langs[i], name);
            text = read_text(path);
            g_free(path);
            if (text) {
                if (src)
                    *src = k < 2 ? froms[k] : TEMPLATE_FROM_INSTANCE;
                g_free(domain_sub);
                return text;
            }
        }
        {
            char *file = g_strconcat(name, ".txt", NULL);
            char *path = g_build_filename(kairan_template_dir(), "mail", langs[i], file, NULL);
            char *text = NULL;
            g_free(file);
            if (!g_file_get_contents(path, &text, NULL, NULL))
                text = NULL;
            g_free(path);
            if (text) {
                if (src)
                    *src = TEMPLATE_FROM_SHIPPED;
                g_free(domain_sub);
                return text;
            }
        }
    }
    g_free(domain_sub);
    return NULL;
}

char *
template_override_path(const Instance *inst, const char *list, const char *lang, const char *name)
{
    if (!str_is_safe_name(list, FALSE) || !str_is_safe_name(lang, FALSE) || !str_is_safe_name(name, FALSE))
        return NULL;
    return level_file(inst, list, lang, name);
}

gboolean
template_is_overridden(const Instance *inst, const char *list, const char *lang, const char *name)
{
    char *path = template_override_path(inst, list, lang, name);
    gboolean yes = path && g_file_test(path, G_FILE_TEST_IS_REGULAR);
    g_free(path);
    return yes;
}

/* placeholders_add - every {{key}} of text (the syntax template_expand
 * fills) into set, and, when order is given, each new one there too. */
static void
placeholders_add(GHashTable *set, const char *text, GPtrArray *order)
{
    for (const char *p = text; (p = strstr(p, "{{")) != NULL;) {
        const char *k = p + 2;
        while (g_ascii_isalnum(*k) || *k == '_')
            k++;
        if (k > p + 2 && k[0] == '}' && k[1] == '}') {
            char *key = g_strndup(p + 2, (gsize) (k - p - 2));
            if (!g_hash_table_contains(set, key)) {
                if (order)
                    g_ptr_array_add(order, g_strdup(key));
                g_hash_table_add(set, key);
            } else {
                g_free(key);
            }
            p = k + 2;
        } else {
            p++;
        }
    }
}

/* known_set - the placeholders template name is filled with. */
static GHashTable *
known_set(const char *name)
{
    GHashTable *known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (int i = 0; common_vars[i]; i++)
        g_hash_table_add(known, g_strdup(common_vars[i]));
    for (int i = 0; name && shipped_langs[i]; i++) {
        char *shipped = template_load_for(NULL, NULL, shipped_langs[i], name, NULL);
        if (shipped)
            placeholders_add(known, shipped, NULL);
        g_free(shipped);
    }
    return known;
}

char **
template_placeholders_known(const char *name)
{
    GHashTable *known = known_set(name);
    guint n = 0;
    char **keys = (char **) g_hash_table_get_keys_as_array(known, &n);
    char **out = g_new0(char *, n + 1);

    for (guint i = 0; i < n; i++)
        out[i] = g_strdup(keys[i]);
    g_free(keys);
    g_hash_table_unref(known);
    qsort(out, n, sizeof *out, cmp_str);
    return out;
}

char **
template_placeholders_unknown(const char *name, const char *text)
{
    GHashTable *known = known_set(name);
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GPtrArray *order = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *unknown = g_ptr_array_new();
    placeholders_add(seen, text ? text : "", order);
    for (guint i = 0; i < order->len; i++)
        if (!g_hash_table_contains(known, order->pdata[i]))
            g_ptr_array_add(unknown, g_strdup(order->pdata[i]));
    g_ptr_array_add(unknown, NULL);
    g_ptr_array_unref(order);
    g_hash_table_unref(seen);
    g_hash_table_unref(known);
    return (char **) g_ptr_array_free(unknown, FALSE);
}

static gboolean
check_names(const char *list, const char *lang, const char *name, GError **error)
{
    if (!str_is_safe_name(list, FALSE)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "'%s' is not a list name", list ? list : "");
        return FALSE;
    }
    if (!lang || !g_strv_contains(shipped_langs, lang)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "language '%s': valid languages are en and ja",
                    lang ? lang : "");
        return FALSE;
    }
    if (!template_name_known(name)) {
        char **names = template_names();
        char *all = g_strjoinv(", ", names);
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "no template '%s'; the templates are: %s",
                    name ? name : "", all);
        g_free(all);
        g_strfreev(names);
        return FALSE;
    }
    return TRUE;
}

gboolean
template_override_set(const Instance *inst, const char *list, const char *lang, const char *name,
                      const char *text, gsize len, GError **error)
{
    GString *clean;
    char **unknown;
    char *path, *dir;
    gboolean ok;

    if (!check_names(list, lang, name, error))
        return FALSE;
    if (len > TEMPLATE_OVERRIDE_MAX) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "template %s: at most %d bytes (this one has %zu)",
                    name, TEMPLATE_OVERRIDE_MAX, (size_t) len);
        return FALSE;
    }
    if (!g_utf8_validate(text, (gssize) len, NULL)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "template %s: the text is not valid UTF-8", name);
        return FALSE;
    }
    clean = g_string_sized_new(len + 1);
    for (gsize i = 0; i < len; i++) {
        unsigned char ch = (unsigned char) text[i];
        if (ch == '\r') {
            g_string_append_c(clean, '\n');
            if (i + 1 < len && text[i + 1] == '\n')
                i++;
        } else if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f) {
            g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR,
                        "template %s: control character 0x%02x at byte %zu is not allowed", name, ch, (size_t) i);
            g_string_free(clean, TRUE);
            return FALSE;
        } else {
            g_string_append_c(clean, (char) ch);
        }
    }
    if (clean->len == 0 || strspn(clean->str, " \t\n") == clean->len) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "template %s: the text is empty (use reset to go back "
                    "to the shipped text)", name);
        g_string_free(clean, TRUE);
        return FALSE;
    }
    if (clean->str[clean->len - 1] != '\n')
        g_string_append_c(clean, '\n');
    unknown = template_placeholders_unknown(name, clean->str);
    if (unknown[0]) {
        GString *names = g_string_new(NULL);
        for (int i = 0; unknown[i]; i++)
            g_string_append_printf(names, "%s{{%s}}", i ? ", " : "", unknown[i]);
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR,
                    "template %s: unknown placeholder%s %s (they would come out empty)", name,
                    unknown[1] ? "s" : "", names->str);
        g_string_free(names, TRUE);
        g_strfreev(unknown);
        g_string_free(clean, TRUE);
        return FALSE;
    }
    g_strfreev(unknown);
    path = template_override_path(inst, list, lang, name);
    dir = g_path_get_dirname(path);
    ok = mkdir_p(dir, 0700, error) && write_file_atomic(path, NULL, clean->str, clean->len, error);
    if (ok)
        log_info("%s: template %s (%s) overridden", list, name, lang);
    g_free(dir);
    g_free(path);
    g_string_free(clean, TRUE);
    return ok;
}

gboolean
template_override_reset(const Instance *inst, const char *list, const char *lang, const char *name,
                        gboolean *removed, GError **error)
{
    char *path, *dir;
    gboolean ok = TRUE;

    if (removed)
        *removed = FALSE;
    if (!check_names(list, lang, name, error))
        return FALSE;
    path = template_override_path(inst, list, lang, name);
    if (unlink(path) == 0) {
        dir = g_path_get_dirname(path);
        ok = fsync_dir(dir, error);
        g_free(dir);
        if (removed)
            *removed = TRUE;
        log_info("%s: template %s (%s) reset to the shipped text", list, name, lang);
    } else if (errno != ENOENT) {
        g_set_error(error, KAIRAN_ERROR, EXIT_IOERR, "%s: %s", path, g_strerror(errno));
        ok = FALSE;
    }
    g_free(path);
    return ok;
}
