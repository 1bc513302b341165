/* plan.c - the common import plan (import.h) every format reader fills:
 * the list, its members with their modes, owners, moderators, settings
 * mapped (checked against settings.c's table) and not mapped, the posts
 * to bring in, and the bad items skipped; the report printed for
 * --dry-run and after a real run; small text helpers the readers share. */
#include "config.h"
#include "import/import.h"
#include "address.h"
#include "log.h"
#include "settings.h"
#include "moderation.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

void
import_value_free(ImportValue *v)
{
    if (!v)
        return;
    if (v->str)
        g_string_free(v->str, TRUE);
    if (v->items)
        g_ptr_array_unref(v->items);
    if (v->keys)
        g_ptr_array_unref(v->keys);
    g_free(v);
}

ImportValue *
import_value_get(ImportValue *dict, const char *key)
{
    if (!dict || dict->type != IV_DICT)
        return NULL;
    for (guint i = dict->keys->len; i-- > 0;)      /* the last one wins, as in Python */
        if (g_str_equal(g_ptr_array_index(dict->keys, i), key))
            return g_ptr_array_index(dict->items, i);
    return NULL;
}

char *
import_value_text(const ImportValue *v)
{
    GString *s;
    if (!v)
        return g_strdup("");
    switch (v->type) {
    case IV_NONE:
        return g_strdup("");
    case IV_BOOL:
        return g_strdup(v->b ? "1" : "0");
    case IV_NUM:
        if (v->num > -1e15 && v->num < 1e15 && v->num == (double) (gint64) v->num)   /* no overflow */
            return g_strdup_printf("%" G_GINT64_FORMAT, (gint64) v->num);
        return g_strdup_printf("%g", v->num);
    case IV_STR:
        return g_strndup(v->str->str, v->str->len);
    case IV_LIST:
    case IV_DICT:
        s = g_string_new(NULL);
        for (guint i = 0; i < v->items->len; i++) {
            char *t = import_value_text(g_ptr_array_index(v->items, i));
            g_string_append_printf(s, "%s%s", s->len ? " " : "", t);
            g_free(t);
        }
        return g_string_free(s, FALSE);
    }
    return g_strdup("");
}

static void
member_free(gpointer p)
{
    ImportMember *m = p;
    g_free(m->address);
    g_free(m->name);
    g_free(m);
}

static void
setting_free(gpointer p)
{
    ImportSetting *s = p;
    g_free(s->key);
    g_free(s->value);
    g_free(s->from);
    g_free(s);
}

static void
source_free(gpointer p)
{
    ImportSource *s = p;
    if (s->temp)
        unlink(s->path);
    g_free(s->label);
    g_free(s->path);
    g_free(s);
}

ImportPlan *
import_plan_new(const char *format, const char *source, gboolean skip_bad)
{
    ImportPlan *p = g_new0(ImportPlan, 1);
    p->format = g_strdup(format);
    p->source = g_strdup(source);
    p->members = g_ptr_array_new_with_free_func(member_free);
    p->member_index = g_hash_table_new(g_str_hash, g_str_equal);
    p->owners = g_ptr_array_new_with_free_func(g_free);
    p->moderators = g_ptr_array_new_with_free_func(g_free);
    p->settings = g_ptr_array_new_with_free_func(setting_free);
    p->unmapped = g_ptr_array_new_with_free_func(g_free);
    p->skipped = g_ptr_array_new_with_free_func(g_free);
    p->notes = g_ptr_array_new_with_free_func(g_free);
    p->sources = g_ptr_array_new_with_free_func(source_free);
    p->posts = g_array_new(FALSE, FALSE, sizeof(ImportPost));
    p->skip_bad = skip_bad;
    return p;
}

void
import_plan_free(ImportPlan *p)
{
    if (!p)
        return;
    g_hash_table_unref(p->member_index);
    g_ptr_array_unref(p->members);
    g_ptr_array_unref(p->owners);
    g_ptr_array_unref(p->moderators);
    g_ptr_array_unref(p->settings);
    g_ptr_array_unref(p->unmapped);
    g_ptr_array_unref(p->skipped);
    g_ptr_array_unref(p->notes);
    g_ptr_array_unref(p->sources);
    g_array_unref(p->posts);
    g_free(p->format);
    g_free(p->source);
    g_free(p->list);
    g_free(p->source_address);
    g_free(p);
}

gboolean
import_bad(ImportPlan *plan, GError **error, const char *file, gint64 line, const char *fmt, ...)
{
    va_list ap;
    char *what, *where;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    where = line > 0 ? g_strdup_printf("%s:%" G_GINT64_FORMAT, file, line) : g_strdup(file);
    if (plan->skip_bad) {
        g_ptr_array_add(plan->skipped, g_strdup_printf("%s: %s", where, what));
        g_free(where);
        g_free(what);
        return TRUE;
    }
    g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s: %s", where, what);
    g_free(where);
    g_free(what);
    return FALSE;
}

gboolean
import_member(ImportPlan *plan, const char *addr, const char *name, const char *file,
              gint64 line, ImportMember **out, GError **error)
{
    const char *why = NULL;
    char *norm = address_normalize(addr, &why);
    ImportMember *m;

    *out = NULL;
    if (!norm)
        return import_bad(plan, error, file, line, "'%s' is not an address (%s)", addr, why ? why : "invalid");
    m = g_hash_table_lookup(plan->member_index, norm);
    if (!m) {
        m = g_new0(ImportMember, 1);
        m->address = norm;
        g_ptr_array_add(plan->members, m);
        g_hash_table_insert(plan->member_index, m->address, m);
    } else {
        g_free(norm);
    }
    if (name && *name && !m->name)
        m->name = g_strdup(name);
    *out = m;
    return TRUE;
}

gboolean
import_role(ImportPlan *plan, GPtrArray *to, const char *addr, const char *file, gint64 line, GError **error)
{
    const char *why = NULL;
    char *norm = address_normalize(addr, &why);

    if (!norm)
        return import_bad(plan, error, file, line, "'%s' is not an address (%s)", addr, why ? why : "invalid");
    for (guint i = 0; i < to->len; i++)
        if (address_equal(g_ptr_array_index(to, i), norm)) {
            g_free(norm);
            return TRUE;
        }
    g_ptr_array_add(to, norm);
    return TRUE;
}

void
import_set(ImportPlan *plan, const char *key, const char *value, const char *from)
{
    char *why = NULL;
    char *v = setting_validate(key, value, &why);
    ImportSetting *s;

    if (!v) {
        import_unmapped(plan, "%s: %s", from, why);
        g_free(why);
        return;
    }
    for (guint i = 0; i < plan->settings->len; i++) {
        s = g_ptr_array_index(plan->settings, i);
        if (g_str_equal(s->key, key)) {     /* a later source line refines an earlier one */
            g_free(s->value);
            g_free(s->from);
            s->value = v;
            s->from = g_strdup(from);
            return;
        }
    }
    s = g_new0(ImportSetting, 1);
    s->key = g_strdup(key);
    s->value = v;
    s->from = g_strdup(from);
    g_ptr_array_add(plan->settings, s);
}

void
import_nonmember_patterns(ImportPlan *plan, ImportValue *list, GString *out, const char *from)
{
    for (guint i = 0; list && list->type == IV_LIST && i < list->items->len; i++) {
        char *e = g_strstrip(import_value_text(g_ptr_array_index(list->items, i)));
        GRegex *re = NULL;
        if (!*e)
            ;
        else if (!g_utf8_validate(e, -1, NULL))
            import_unmapped(plan, "%s: an entry that is not UTF-8 text", from);
        else if (e[0] == '@')
            import_unmapped(plan, "%s: '%s' (the members of another list): kairan has no such pattern", from, e);
        else if (strpbrk(e, " \t"))
            import_unmapped(plan, "%s: '%s': kairan's patterns have no blanks", from, e);
        else if (e[0] != '^' && !strchr(e, '@'))
            import_unmapped(plan, "%s: '%s' is neither an address nor a ^regex", from, e);
        else if (e[0] == '^' && !(re = g_regex_new(e, G_REGEX_CASELESS, 0, NULL)))
            import_unmapped(plan, "%s: '%s' is not a regular expression kairan reads", from, e);
        else
            g_string_append_printf(out, "%s%s", out->len ? " " : "", e);
        if (re)
            g_regex_unref(re);
        g_free(e);
    }
}

gboolean
import_header_rule(GString *rules, const char *header, const char *regex, const char *action)
{
    GString *re;

    if (!header || !*header || strpbrk(header, " \t:()[]|*+?^$\\.") ||
        !(g_str_equal(action, "accept") || g_str_equal(action, "hold") || g_str_equal(action, "reject") ||
          g_str_equal(action, "discard")))
        return FALSE;
    re = g_string_new(NULL);
    for (const char *p = regex; *p; p++) {
        if (*p == '\\' && p[1]) {
            g_string_append_c(re, *p++);
            g_string_append_c(re, *p);
        } else if (*p == ';') {
            g_string_append(re, "\\;");
        } else if (*p != '\n' && *p != '\r') {
            g_string_append_c(re, *p);
        }
    }
    {
        /* each rule checked alone: one bad regex does not cost the others */
        char *rule = g_strdup_printf("%s: %s -> %s", header, re->str, action), *why = NULL;
        GPtrArray *ok = moderation_rules_parse(rule, &why);
        if (ok)
            g_string_append_printf(rules, "%s%s", rules->len ? "; " : "", rule);
        g_free(rule);
        g_free(why);
        g_string_free(re, TRUE);
        if (!ok)
            return FALSE;
        g_ptr_array_unref(ok);
    }
    return TRUE;
}

void
import_unmapped(ImportPlan *plan, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(plan->unmapped, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

void
import_note(ImportPlan *plan, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(plan->notes, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

guint
import_add_source(ImportPlan *plan, const char *path, gboolean is_mbox)
{
    ImportSource *s = g_new0(ImportSource, 1);
    s->path = g_strdup(path);
    s->is_mbox = is_mbox;
    g_ptr_array_add(plan->sources, s);
    return plan->sources->len - 1;
}

char *
import_list_name(const char *address)
{
    const char *at = strchr(address, '@');
    char *name = g_ascii_strdown(address, at ? at - address : -1);
    return g_strstrip(name);
}

gboolean
import_read_file(const char *path, gboolean optional, char **data, gsize *len, gboolean *exists, GError **error)
{
    GError *e = NULL;

    if (exists)
        *exists = TRUE;
    *data = NULL;
    *len = 0;
    if (g_file_get_contents(path, data, len, &e))
        return TRUE;
    if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        g_error_free(e);
        if (optional) {
            if (exists)
                *exists = FALSE;
            return TRUE;
        }
        g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s: no such file", path);
        return FALSE;
    }
    g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s", e->message);
    g_error_free(e);
    return FALSE;
}

char *
import_name_addr(const char *line, char **name)
{
    const char *lt = strrchr(line, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    char *addr;

    *name = NULL;
    if (lt && gt) {
        char *n = g_strstrip(g_strndup(line, lt - line));
        gsize l = strlen(n);
        if (l >= 2 && n[0] == '"' && n[l - 1] == '"') {
            memmove(n, n + 1, l - 2);
            n[l - 2] = '\0';
        }
        if (*n)
            *name = n;
        else
            g_free(n);
        return g_strstrip(g_strndup(lt + 1, gt - lt - 1));
    }
    addr = g_strstrip(g_strdup(line));
    {
        char *paren = strchr(addr, '(');            /* addr (Name) */
        if (paren) {
            char *close = strrchr(paren, ')');
            if (close && close > paren + 1)
                *name = g_strstrip(g_strndup(paren + 1, close - paren - 1));
            *paren = '\0';
            g_strstrip(addr);
        }
    }
    return addr;
}

char *
import_tag_literal(const char *text)
{
    GString *s = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (*p == '%')
            g_string_append_c(s, '%');
        g_string_append_c(s, *p);
    }
    return g_string_free(s, FALSE);
}

char **
import_csv_split(const char *line)
{
    GPtrArray *fields = g_ptr_array_new();
    GString *cur = g_string_new(NULL);
    gboolean inq = FALSE;

    for (const char *p = line; *p; p++) {
        if (inq) {
            if (*p == '"' && p[1] == '"') {
                g_string_append_c(cur, '"');
                p++;
            } else if (*p == '"') {
                inq = FALSE;
            } else {
                g_string_append_c(cur, *p);
            }
        } else if (*p == '"') {
            inq = TRUE;
        } else if (*p == ',') {
            g_ptr_array_add(fields, g_strstrip(g_string_free(cur, FALSE)));
            cur = g_string_new(NULL);
        } else if (*p != '\r' && *p != '\n') {
            g_string_append_c(cur, *p);
        }
    }
    g_ptr_array_add(fields, g_strstrip(g_string_free(cur, FALSE)));
    g_ptr_array_add(fields, NULL);
    return (char **) g_ptr_array_free(fields, FALSE);
}

static void
print_addrs(FILE *out, const char *title, GPtrArray *a)
{
    fprintf(out, "%s: %u", title, a->len);
    for (guint i = 0; i < a->len; i++)
        fprintf(out, "%s%s", i ? ", " : " (", (char *) g_ptr_array_index(a, i));
    fprintf(out, "%s\n", a->len ? ")" : "");
}

void
import_report(const ImportPlan *plan, FILE *out)
{
    guint regular = 0, digest = 0, nomail = 0, post_only = 0, moderated = 0;
    gint64 first = 0, last = 0;

    fprintf(out, "import %s %s\n", plan->format, plan->source);
    fprintf(out, "list: %s", plan->list ? plan->list : "(none)");
    if (plan->source_address)
        fprintf(out, " (was %s)", plan->source_address);
    fprintf(out, "\n");
    for (guint i = 0; i < plan->members->len; i++) {
        ImportMember *m = g_ptr_array_index(plan->members, i);
        if (m->post_only)
            post_only++;
        else if (m->nomail)
            nomail++;
        else if (m->digest)
            digest++;
        else
            regular++;
        if (m->moderated)
            moderated++;
    }
    fprintf(out, "members: %u (regular %u, digest %u, no mail %u, post only %u; moderated %u)\n",
            plan->members->len, regular, digest, nomail, post_only, moderated);
    print_addrs(out, "owners", plan->owners);
    print_addrs(out, "moderators", plan->moderators);
    for (guint i = 0; i < plan->posts->len; i++) {
        gint64 n = g_array_index(plan->posts, ImportPost, i).num;
        if (n > 0 && (first == 0 || n < first))
            first = n;
        if (n > last)
            last = n;
    }
    fprintf(out, "posts: %u", plan->posts->len);
    if (plan->keep_numbers && plan->posts->len)
        fprintf(out, " (numbers %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT " kept)", first, last);
    else if (plan->posts->len)
        fprintf(out, " (numbered after the list's last post, in %s order)",
                g_str_equal(plan->format, "mbox") ? "date" : "file");
    fprintf(out, "\n");
    if (plan->seq > 0)
        fprintf(out, "source sequence: %" G_GINT64_FORMAT " (numbering continues after it)\n", plan->seq);
    fprintf(out, "settings mapped: %u\n", plan->settings->len);
    for (guint i = 0; i < plan->settings->len; i++) {
        ImportSetting *s = g_ptr_array_index(plan->settings, i);
        GString *v = g_string_new(NULL);
        for (const char *c = s->value; *c; c++) {
            if (*c == '\n')
                g_string_append(v, "\\n");     /* one line per setting */
            else
                g_string_append_c(v, *c);
        }
        fprintf(out, "  %s = %s  (from %s)\n", s->key, v->str, s->from);
        g_string_free(v, TRUE);
    }
    fprintf(out, "settings not mapped: %u\n", plan->unmapped->len);
    for (guint i = 0; i < plan->unmapped->len; i++)
        fprintf(out, "  %s\n", (char *) g_ptr_array_index(plan->unmapped, i));
    for (guint i = 0; i < plan->notes->len; i++)
        fprintf(out, "note: %s\n", (char *) g_ptr_array_index(plan->notes, i));
    if (plan->skipped->len)
        fprintf(out, "skipped (bad input): %u\n", plan->skipped->len);
    for (guint i = 0; i < plan->skipped->len; i++)
        fprintf(out, "  %s\n", (char *) g_ptr_array_index(plan->skipped, i));
}
