/* mlmmj.c - an mlmmj list directory as an import plan: control/ (one
 * file a tunable: a file's presence is a yes, its lines its value),
 * subscribers.d/, digesters.d/ (digest), nomailsubs.d/ (no mail), each
 * holding files of one address a line; archive/N the posts as
 * distributed (numbers kept) and index the last number. */
#include "config.h"
#include "import/import.h"
#include "log.h"
#include "settings.h"
#include "util.h"

#include <string.h>

/* control_read - control/NAME's first line (or all lines, LF-joined),
 * NULL if absent. */
static char *
control_read(const char *dir, const char *name, gboolean all)
{
    char *path = g_build_filename(dir, "control", name, NULL);
    char *data = NULL;

    if (!g_file_get_contents(path, &data, NULL, NULL)) {
        g_free(path);
        return NULL;
    }
    g_free(path);
    if (!all) {
        char *nl = strchr(data, '\n');
        if (nl)
            *nl = '\0';
        g_strstrip(data);
    } else {
        gsize l = strlen(data);
        while (l > 0 && (data[l - 1] == '\n' || data[l - 1] == '\r'))
            data[--l] = '\0';
    }
    return data;
}

static gboolean
control_has(const char *dir, const char *name)
{
    char *path = g_build_filename(dir, "control", name, NULL);
    gboolean has = g_file_test(path, G_FILE_TEST_EXISTS);
    g_free(path);
    return has;
}

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* read_addr_dir - every address in the files of DIR/sub. */
static gboolean
read_addr_dir(ImportPlan *plan, const char *dir, const char *sub, int mode, GError **error)
{
    char *d = g_build_filename(dir, sub, NULL);
    GDir *gd = g_dir_open(d, 0, NULL);
    const char *name;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    gboolean ok = TRUE;

    if (!gd) {
        g_free(d);
        g_ptr_array_unref(names);
        return TRUE;
    }
    while ((name = g_dir_read_name(gd)))
        if (name[0] != '.')
            g_ptr_array_add(names, g_strdup(name));
    g_dir_close(gd);
    g_ptr_array_sort(names, cmp_str);
    for (guint i = 0; ok && i < names->len; i++) {
        char *path = g_build_filename(d, g_ptr_array_index(names, i), NULL);
        char *data;
        gsize len;
        char **lines;
        if (!import_read_file(path, FALSE, &data, &len, NULL, error)) {
            g_free(path);
            ok = FALSE;
            break;
        }
        lines = g_strsplit(data, "\n", -1);
        g_free(data);
        for (gint64 k = 0; ok && lines[k]; k++) {
            char *l = g_strstrip(lines[k]);
            ImportMember *m = NULL;
            if (!*l)
                continue;
            ok = import_member(plan, l, NULL, path, k + 1, &m, error);
            if (m && mode == 1)
                m->digest = TRUE;
            else if (m && mode == 2)
                m->nomail = TRUE;
        }
        g_strfreev(lines);
        g_free(path);
    }
    g_ptr_array_unref(names);
    g_free(d);
    return ok;
}

/* the control files read below; every other one is named as not mapped */
static const char *const handled[] = {
    "listaddress", "owner", "moderators", "prefix", "subonlypost", "modonlypost", "moderated",
    "modnonsubposts", "closedlist", "nosubconfirm", "submod", "maxmailsize", "footer",
    "delheaders", "digestinterval", NULL
};

gboolean
import_mlmmj(ImportPlan *plan, const char *dir, GError **error)
{
    char *v, *ctl = g_build_filename(dir, "control", NULL);
    gboolean ok = TRUE;
    GDir *gd;
    const char *name;

    if (!g_file_test(ctl, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s: no such directory (not an mlmmj list)", ctl);
        g_free(ctl);
        return FALSE;
    }
    v = control_read(dir, "listaddress", FALSE);
    if (v && *v)
        plan->source_address = g_strdup(v);
    g_free(v);
    for (int r = 0; r < 2 && ok; r++) {
        char *path = g_build_filename(ctl, r ? "moderators" : "owner", NULL);
        char *text = control_read(dir, r ? "moderators" : "owner", TRUE);
        char **lines = g_strsplit(text ? text : "", "\n", -1);
        for (gint64 k = 0; ok && lines[k]; k++) {
            char *l = g_strstrip(lines[k]);
            if (*l)
                ok = import_role(plan, r ? plan->moderators : plan->owners, l, path, k + 1, error);
        }
        g_strfreev(lines);
        g_free(text);
        g_free(path);
    }
    if ((v = control_read(dir, "prefix", FALSE))) {
        char *tag = import_tag_literal(v);
        import_set(plan, "subject_tag", tag, "control/prefix");
        g_free(tag);
        g_free(v);
    } else {
        import_set(plan, "subject_tag", "", "control/prefix (absent: no tag)");
    }
    if (control_has(dir, "moderated"))
        import_set(plan, "post_policy", "moderated", "control/moderated");
    else if (control_has(dir, "subonlypost") && control_has(dir, "modnonsubposts"))
        import_set(plan, "post_policy", "members-hold", "control/subonlypost + modnonsubposts");
    else if (control_has(dir, "subonlypost"))
        import_set(plan, "post_policy", "members", "control/subonlypost");
    else
        import_set(plan, "post_policy", "anyone", "control/subonlypost (absent)");
    if (control_has(dir, "modonlypost"))
        import_unmapped(plan, "control/modonlypost: kairan has no moderators-only posting (try post_policy moderated)");
    if (control_has(dir, "closedlist"))
        import_set(plan, "subscribe_policy", "closed", "control/closedlist");
    else if (control_has(dir, "submod"))
        import_set(plan, "subscribe_policy", "approve", "control/submod");
    else if (control_has(dir, "nosubconfirm"))
        import_set(plan, "subscribe_policy", "open", "control/nosubconfirm");
    if ((v = control_read(dir, "maxmailsize", FALSE))) {
        import_set(plan, "max_size", v, "control/maxmailsize");
        g_free(v);
    }
    if ((v = control_read(dir, "footer", TRUE))) {
        import_set(plan, "footer", v, "control/footer");
        g_free(v);
    }
    if ((v = control_read(dir, "delheaders", TRUE))) {
        char *dflt = NULL;
        const SettingDef *def = NULL;
        def = setting_find("remove_headers");
        g_strdelimit(v, "\n\r", ' ');
        for (char *c = v; *c; c++)
            if (*c == ':')
                *c = ' ';
        dflt = g_strdup_printf("%s %s", def ? def->dflt : "", v);
        import_set(plan, "remove_headers", dflt, "control/delheaders (added to kairan's)");
        g_free(dflt);
        g_free(v);
    }
    if ((v = control_read(dir, "digestinterval", FALSE))) {
        import_set(plan, "digest_interval", v, "control/digestinterval");
        g_free(v);
    }
    gd = g_dir_open(ctl, 0, NULL);
    if (gd) {
        GPtrArray *rest = g_ptr_array_new_with_free_func(g_free);
        while ((name = g_dir_read_name(gd)))
            if (!g_strv_contains(handled, name))
                g_ptr_array_add(rest, g_strdup(name));
        g_dir_close(gd);
        g_ptr_array_sort(rest, cmp_str);
        for (guint i = 0; i < rest->len; i++)
            import_unmapped(plan, "control/%s", (char *) g_ptr_array_index(rest, i));
        g_ptr_array_unref(rest);
    }
    g_free(ctl);
    if (ok)
        ok = read_addr_dir(plan, dir, "subscribers.d", 0, error) &&
             read_addr_dir(plan, dir, "digesters.d", 1, error) &&
             read_addr_dir(plan, dir, "nomailsubs.d", 2, error);
    if (ok) {
        char *path = g_build_filename(dir, "index", NULL);
        char *data;
        gsize len;
        gboolean exists;
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
        char *arch = g_build_filename(dir, "archive", NULL);
        ok = import_spool_posts(plan, arch, error);
        g_free(arch);
    }
    return ok;
}
