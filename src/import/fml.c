/* fml.c - an fml 4 list directory as an import plan:
 *   config.ph      Perl assignments; the scalar ones ($NAME = "..." | '...'
 *                  | number;) are read, every other statement is named in
 *                  the report; a "\@" in a double-quoted string is an "@"
 *   actives        who receives: "addr [m=N] [s=1] ..." (m= digest, s=1
 *                  skip: posts but receives nothing), "#addr" delivery
 *                  off, "##BYE addr" left (not imported), "# ..." comment
 *   members        who may post; an address here but not in actives is a
 *                  post-only member
 *   members-admin  owners; moderators: moderators
 *   seq            the last post number; spool/N the posts as received.
 * Numbers are kept; the list's counter continues after seq. */
#include "config.h"
#include "import/import.h"
#include "address.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static gboolean
bad_at(GError **error, const char *file, gint64 line, const char *what)
{
    g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s:%" G_GINT64_FORMAT ": %s", file, line, what);
    return FALSE;
}

GHashTable *
fml_parse_config_ph(const char *data, gsize len, const char *file, GPtrArray *other, GError **error)
{
    GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    const char *p = data, *end = data + len;
    gint64 line = 1;

    while (p < end) {
        const char *name;
        GString *val;
        gint64 start_line;

        if (*p == '\n') {
            line++;
            p++;
            continue;
        }
        if (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
            continue;
        }
        if (*p == '#') {
            while (p < end && *p != '\n')
                p++;
            continue;
        }
        if (*p != '$') {        /* another statement: named, not read */
            const char *s = p;
            while (p < end && *p != '\n')
                p++;
            if (other && !(p - s >= 2 && s[0] == '1' && s[1] == ';'))
                g_ptr_array_add(other, g_strdup_printf("%s:%" G_GINT64_FORMAT ": %.*s", file, line,
                                                       (int) MIN(p - s, 60), s));
            continue;
        }
        start_line = line;
        name = ++p;
        while (p < end && (g_ascii_isalnum(*p) || *p == '_'))
            p++;
        if (p == name) {
            bad_at(error, file, line, "a '$' without a variable name");
            goto fail;
        }
        {
            char *key = g_strndup(name, p - name);
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (p >= end || *p != '=' || (p + 1 < end && (p[1] == '=' || p[1] == '~'))) {
                g_free(key);
                bad_at(error, file, line, "expected '$NAME = value;'");
                goto fail;
            }
            p++;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            val = g_string_new(NULL);
            if (p < end && (*p == '"' || *p == '\'')) {
                char q = *p++;
                while (p < end && *p != q) {
                    if (*p == '\n')
                        line++;
                    if (*p == '\\' && p + 1 < end) {
                        p++;
                        if (q == '\'' && *p != '\'' && *p != '\\')
                            g_string_append_c(val, '\\');
                        else if (q == '"' && *p == 'n') {
                            g_string_append_c(val, '\n');
                            p++;
                            continue;
                        } else if (q == '"' && *p == 't') {
                            g_string_append_c(val, '\t');
                            p++;
                            continue;
                        }
                    }
                    g_string_append_c(val, *p++);
                }
                if (p >= end) {
                    g_string_free(val, TRUE);
                    g_free(key);
                    bad_at(error, file, start_line, "a string that never ends");
                    goto fail;
                }
                p++;
            } else {
                const char *s = p;
                while (p < end && (g_ascii_isalnum(*p) || *p == '.' || *p == '-' || *p == '_'))
                    p++;
                if (p == s) {
                    g_string_free(val, TRUE);
                    g_free(key);
                    bad_at(error, file, line, "expected a string or a number after '='");
                    goto fail;
                }
                g_string_append_len(val, s, p - s);
            }
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
                p++;
            if (p >= end || *p != ';') {
                g_string_free(val, TRUE);
                g_free(key);
                bad_at(error, file, line, "expected ';' after the value");
                goto fail;
            }
            p++;
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
                p++;
            if (p < end && *p != '\n' && *p != '#') {
                g_string_free(val, TRUE);
                g_free(key);
                bad_at(error, file, line, "text after the assignment");
                goto fail;
            }
            g_hash_table_replace(vars, key, g_string_free(val, FALSE));
        }
    }
    return vars;
fail:
    g_hash_table_unref(vars);
    return NULL;
}

/* subject_tag - fml's $SUBJECT_TAG_TYPE with $BRACKET as a kairan tag. */
static char *
subject_tag(const char *type, const char *bracket, int digits)
{
    char *b = import_tag_literal(bracket);
    char *id = g_strdup_printf("%%0%dd", digits);
    char *tag = NULL;

    if (g_str_equal(type, "[:]") || g_str_equal(type, "(:)") || g_str_equal(type, "[,]") ||
        g_str_equal(type, "(,)") || g_str_equal(type, "[ ]") || g_str_equal(type, "( )"))
        tag = g_strdup_printf("%c%s%c%s%c", type[0], b, type[1], id, type[2]);
    else if (g_str_equal(type, "[ID]") || g_str_equal(type, "(ID)"))
        tag = g_strdup_printf("%c%s%c", type[0], id, type[3]);
    else if (g_str_equal(type, "[]") || g_str_equal(type, "()"))
        tag = g_strdup_printf("%c%s%c", type[0], b, type[1]);
    else if (!*type)
        tag = g_strdup("");
    g_free(b);
    g_free(id);
    return tag;
}

static gint
cmp_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
map_config(ImportPlan *plan, GHashTable *vars, const char *file)
{
    GHashTableIter it;
    gpointer k, v;
    GPtrArray *names = g_ptr_array_new();
    const char *type = g_hash_table_lookup(vars, "SUBJECT_TAG_TYPE");
    const char *bracket = g_hash_table_lookup(vars, "BRACKET");

    g_hash_table_iter_init(&it, vars);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(names, k);
    g_ptr_array_sort(names, cmp_name);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        char *from = g_strdup_printf("%s $%s", file, name);
        v = g_hash_table_lookup(vars, name);
        if (g_str_equal(name, "MAIL_LIST")) {
            g_free(plan->source_address);
            plan->source_address = g_strdup(v);
        } else if (g_str_equal(name, "PERMIT_POST_FROM") || g_str_equal(name, "PERMIT_COMMAND_FROM")) {
            gboolean post = name[7] == 'P';
            const char *key = post ? "post_policy" : "commands_access";
            if (g_str_equal(v, "anyone"))
                import_set(plan, key, "anyone", from);
            else if (g_str_equal(v, "members_only"))
                import_set(plan, key, "members", from);
            else if (post && g_str_equal(v, "moderator"))
                import_set(plan, key, "moderated", from);
            else
                import_unmapped(plan, "%s = %s: no kairan equivalent", from, (char *) v);
        } else if (g_str_equal(name, "SUBJECT_TAG_TYPE") || g_str_equal(name, "BRACKET") ||
                   g_str_equal(name, "SUBJECT_FORM_LONG_ID")) {
            if (g_str_equal(name, "SUBJECT_TAG_TYPE")) {
                const char *digits = g_hash_table_lookup(vars, "SUBJECT_FORM_LONG_ID");
                int d = digits ? atoi(digits) : 5;
                char *tag = subject_tag(type, bracket ? bracket : "", d > 0 && d < 10 ? d : 5);
                if (tag)
                    import_set(plan, "subject_tag", tag, from);
                else
                    import_unmapped(plan, "%s = %s: unknown tag type", from, type);
                g_free(tag);
            } else if (!type && g_str_equal(name, "BRACKET")) {
                import_unmapped(plan, "%s: no $SUBJECT_TAG_TYPE, so no tag", from);
            }
        } else if (g_str_equal(name, "INCOMING_MAIL_SIZE_LIMIT")) {
            char *end = NULL;
            gint64 n = g_ascii_strtoll(v, &end, 10);
            if (end && (*end == 'k' || *end == 'K'))
                n *= 1024, end++;
            else if (end && (*end == 'm' || *end == 'M'))
                n *= 1024 * 1024, end++;
            if (end && !*end && n >= 0) {
                char *s = g_strdup_printf("%" G_GINT64_FORMAT, n);
                import_set(plan, "max_size", s, from);
                g_free(s);
            } else {
                import_unmapped(plan, "%s = %s: not a size", from, (char *) v);
            }
        } else if (g_str_equal(name, "REJECT_POST_HANDLER")) {
            if (g_str_equal(v, "reject"))
                import_note(plan, "%s = reject: kairan refuses such posts with a reply, as fml did", from);
            else
                import_unmapped(plan, "%s = %s: kairan refuses posts of non-members with a reply", from, (char *) v);
        } else if (g_str_equal(name, "MAX_MEMBER_LIMIT")) {
            import_unmapped(plan, "%s = %s: kairan has no member limit", from, (char *) v);
        } else {
            import_unmapped(plan, "%s", from);
        }
        g_free(from);
    }
    g_ptr_array_unref(names);
}

/* read_lines - a member file's lines, each with its number (NULL-terminated). */
static char **
read_lines(const char *path, gboolean *exists, GError **error)
{
    char *data;
    gsize len;
    char **lines;

    if (!import_read_file(path, TRUE, &data, &len, exists, error))
        return NULL;
    if (!*exists)
        return g_new0(char *, 1);
    lines = g_strsplit(data, "\n", -1);
    g_free(data);
    return lines;
}

static gboolean
read_actives(ImportPlan *plan, const char *path, gboolean only_posters, GError **error)
{
    gboolean exists;
    char **lines = read_lines(path, &exists, error);
    gboolean ok = TRUE;

    if (!lines)
        return FALSE;
    for (gint64 i = 0; ok && lines[i]; i++) {
        char *l = g_strstrip(lines[i]);
        gboolean off = FALSE;
        char **tok;
        ImportMember *m = NULL;

        if (!*l || g_str_has_prefix(l, "##"))   /* ##BYE addr: left the list */
            continue;
        if (*l == '#') {
            if (!l[1] || l[1] == ' ' || l[1] == '\t' || !strchr(l, '@'))
                continue;               /* a comment */
            off = TRUE;
            l++;
        }
        tok = g_strsplit_set(l, " \t", -1);
        if (only_posters) {
            /* members: who may post; a poster not in actives gets no mail */
            char *key = NULL;
            const char *why;
            key = address_normalize(tok[0], &why);
            if (off) {
                g_free(key);
                g_strfreev(tok);
                continue;
            }
            if (!key || !g_hash_table_contains(plan->member_index, key)) {
                ok = import_member(plan, tok[0], NULL, path, i + 1, &m, error);
                if (m)
                    m->post_only = TRUE;
            }
            g_free(key);
            g_strfreev(tok);
            continue;
        }
        ok = import_member(plan, tok[0], NULL, path, i + 1, &m, error);
        if (m) {
            m->nomail = off;
            for (int k = 1; tok[k]; k++) {
                if (g_str_has_prefix(tok[k], "m="))
                    m->digest = TRUE;
                else if (g_str_equal(tok[k], "s=1"))
                    m->post_only = TRUE;
            }
        }
        g_strfreev(tok);
    }
    g_strfreev(lines);
    return ok;
}

static gboolean
read_roles(ImportPlan *plan, GPtrArray *to, const char *path, GError **error)
{
    gboolean exists;
    char **lines = read_lines(path, &exists, error);
    gboolean ok = TRUE;

    if (!lines)
        return FALSE;
    for (gint64 i = 0; ok && lines[i]; i++) {
        char *l = g_strstrip(lines[i]);
        char **tok;
        if (!*l || *l == '#')
            continue;
        tok = g_strsplit_set(l, " \t", 2);
        ok = import_role(plan, to, tok[0], path, i + 1, error);
        g_strfreev(tok);
    }
    g_strfreev(lines);
    return ok;
}

static gint
cmp_post(gconstpointer a, gconstpointer b)
{
    const ImportPost *x = a, *y = b;
    return x->num < y->num ? -1 : x->num > y->num;
}

gboolean
import_spool_posts(ImportPlan *plan, const char *dir, GError **error)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    guint src;

    if (!d)
        return TRUE;            /* no archive: no posts */
    src = import_add_source(plan, dir, FALSE);
    while ((name = g_dir_read_name(d))) {
        ImportPost p = { .src = src };
        if (!*name || strspn(name, "0123456789") != strlen(name) || strlen(name) > 15 || name[0] == '0')
            continue;
        p.num = g_ascii_strtoll(name, NULL, 10);
        g_array_append_val(plan->posts, p);
    }
    g_dir_close(d);
    g_array_sort(plan->posts, cmp_post);
    plan->keep_numbers = TRUE;
    (void) error;
    return TRUE;
}

gboolean
import_fml(ImportPlan *plan, const char *dir, GError **error)
{
    char *path, *data = NULL, *spool;
    gsize len;
    GHashTable *vars;
    GPtrArray *other;
    gboolean ok, exists;

    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s: no such directory", dir);
        return FALSE;
    }
    path = g_build_filename(dir, "config.ph", NULL);
    if (!import_read_file(path, FALSE, &data, &len, NULL, error)) {
        g_free(path);
        return FALSE;
    }
    other = g_ptr_array_new_with_free_func(g_free);
    vars = fml_parse_config_ph(data, len, path, other, error);
    g_free(data);
    if (!vars) {
        g_ptr_array_unref(other);
        g_free(path);
        return FALSE;
    }
    map_config(plan, vars, "config.ph");
    for (guint i = 0; i < other->len; i++)
        import_unmapped(plan, "%s (not an assignment)", (char *) g_ptr_array_index(other, i));
    g_ptr_array_unref(other);
    g_hash_table_unref(vars);
    g_free(path);

    path = g_build_filename(dir, "actives", NULL);
    ok = read_actives(plan, path, FALSE, error);
    g_free(path);
    if (ok) {
        path = g_build_filename(dir, "members", NULL);
        ok = read_actives(plan, path, TRUE, error);
        g_free(path);
    }
    if (ok) {
        path = g_build_filename(dir, "members-admin", NULL);
        ok = read_roles(plan, plan->owners, path, error);
        g_free(path);
    }
    if (ok) {
        path = g_build_filename(dir, "moderators", NULL);
        ok = read_roles(plan, plan->moderators, path, error);
        g_free(path);
    }
    if (ok) {
        path = g_build_filename(dir, "seq", NULL);
        ok = import_read_file(path, TRUE, &data, &len, &exists, error);
        if (ok && exists) {
            char *end;
            plan->seq = g_ascii_strtoll(g_strstrip(data), &end, 10);
            if (*end || plan->seq < 0)
                ok = import_bad(plan, error, path, 1, "not a number");
        }
        g_free(data);
        g_free(path);
    }
    if (ok) {
        spool = g_build_filename(dir, "spool", NULL);
        ok = import_spool_posts(plan, spool, error);
        g_free(spool);
    }
    if (ok && !plan->source_address)
        import_note(plan, "config.ph has no $MAIL_LIST: use --as");
    return ok;
}
