/* mailman2.c - what Mailman 2.1's own tools export, as an import plan:
 *   DIR/config        `bin/config_list -o LIST` (Python literals, pylit.c)
 *   DIR/regular       `bin/list_members -f -r LIST` ("Name <addr>" or addr)
 *   DIR/digest        `bin/list_members -f -d LIST` (digest members)
 *   DIR/nomail        `bin/list_members -f -n enabled... ` lines, optional:
 *                     members whose delivery is off
 *   DIR/archive.mbox  archives/private/LIST.mbox/LIST.mbox (file order)
 * config is required, the others optional.  Strings are in the list's
 * charset (ja: EUC-JP) unless they are UTF-8 already. */
#include "config.h"
#include "import/import.h"
#include "log.h"
#include "settings.h"
#include "util.h"

#include <math.h>
#include <string.h>

static char *
to_utf8(const ImportValue *v, const char *lang)
{
    char *t = import_value_text(v);
    char *u;
    if (g_utf8_validate(t, -1, NULL))
        return t;
    u = g_convert(t, -1, "UTF-8", g_strcmp0(lang, "ja") == 0 ? "EUC-JP" : "ISO-8859-1", NULL, NULL, NULL);
    if (!u)
        u = g_utf8_make_valid(t, -1);
    g_free(t);
    return u;
}

static gint64
num_of(const ImportValue *v, gboolean *ok)
{
    *ok = v && (v->type == IV_BOOL || (v->type == IV_NUM && v->num > -1e12 && v->num < 1e12));
    if (!*ok)
        return 0;
    return v->type == IV_BOOL ? v->b : (gint64) llround(v->num);
}

/* mm_subst - Mailman's %(real_name)s etc. in a footer or prefix */
static char *
mm_subst(const char *text, const char *with_list, gboolean *rest)
{
    GString *s = g_string_new(NULL);
    *rest = FALSE;
    for (const char *p = text; *p; p++) {
        if (g_str_has_prefix(p, "%(real_name)s") || g_str_has_prefix(p, "%(_internal_name)s") ||
            g_str_has_prefix(p, "%(list_name)s")) {
            g_string_append(s, with_list);
            p = strchr(p, ')') + 1;
        } else {
            if (g_str_has_prefix(p, "%("))
                *rest = TRUE;
            g_string_append_c(s, *p);
        }
    }
    return g_string_free(s, FALSE);
}

static const char *const handled[] = {
    "real_name", "host_name", "owner", "moderator", "description", "subject_prefix", "max_message_size",
    "generic_nonmember_action", "default_member_moderation", "subscribe_policy", "archive_private",
    "reply_goes_to_list", "preferred_language", "bounce_score_threshold", "msg_footer", "ban_list",
    "discard_these_nonmembers", "digestable", "accept_these_nonmembers", "hold_these_nonmembers",
    "reject_these_nonmembers", "header_filter_rules",
    "bounce_you_are_disabled_warnings", "bounce_you_are_disabled_warnings_interval", "bounce_info_stale_after", NULL
};

/* map_header_filters - header_filter_rules, a list of (patterns, action,
 * empty): each line of patterns a regex on "Name: value" lines, written
 * "^Name: regex" or "Name: regex"; the action mm_cfg's DEFER 0, APPROVE 1,
 * REJECT 2, DISCARD 3, ACCEPT 6, HOLD 7. */
static void
map_header_filters(ImportPlan *plan, ImportValue *v)
{
    GString *rules = g_string_new(NULL);

    for (guint i = 0; v && v->type == IV_LIST && i < v->items->len; i++) {
        ImportValue *r = g_ptr_array_index(v->items, i);
        ImportValue *pv = r->type == IV_LIST && r->items->len >= 2 ? g_ptr_array_index(r->items, 0) : NULL;
        ImportValue *av = pv ? g_ptr_array_index(r->items, 1) : NULL;
        const char *action = NULL;
        char *patterns, **lines;
        int code;

        if (!pv || pv->type != IV_STR || av->type != IV_NUM) {
            import_unmapped(plan, "config header_filter_rules: rule %u is not (patterns, action, ...)", i + 1);
            continue;
        }
        /* (a double from the literal: only small codes are Mailman's; found by fuzz_import_mailman2) */
        code = av->num >= 0 && av->num <= 100 ? (int) av->num : -1;
        switch (code) {
        case 1:
        case 6:
            action = "accept";
            break;
        case 2:
            action = "reject";
            break;
        case 3:
            action = "discard";
            break;
        case 7:
            action = "hold";
            break;
        default:
            break;
        }
        if (!action) {
            import_unmapped(plan, "config header_filter_rules: rule %u has action %d (defer or unknown): no rule",
                            i + 1, code);
            continue;
        }
        patterns = import_value_text(pv);
        lines = g_strsplit(patterns, "\n", 0);
        for (int k = 0; lines[k]; k++) {
            char *line = g_strstrip(lines[k]);
            gboolean anchored = line[0] == '^';
            char *name, *colon, *re, *rest;
            if (!*line)
                continue;
            if (anchored)
                line++;
            colon = strchr(line, ':');
            name = colon ? g_strndup(line, (gsize) (colon - line)) : NULL;
            /* Mailman writes the name as a regex: X\-Spam is X-Spam */
            if (name) {
                char *q = name;
                for (const char *p = name; *p; p++) {
                    if (*p == '\\' && p[1] == '-')
                        p++;
                    *q++ = *p;
                }
                *q = '\0';
            }
            rest = colon ? colon + 1 : NULL;
            while (rest && (*rest == ' ' || *rest == '\t'))
                rest++;
            while (rest && (g_str_has_prefix(rest, "\\s*") || g_str_has_prefix(rest, "\\s+") ||
                            g_str_has_prefix(rest, " ")))
                rest += rest[0] == ' ' ? 1 : 3;
            re = rest ? g_strdup_printf("%s%s", anchored ? "^" : "", *rest ? rest : "") : NULL;
            if (!re || !*rest || !import_header_rule(rules, name, re, action))
                import_unmapped(plan, "config header_filter_rules: '%s' is not 'Name: regex' on one header",
                                lines[k]);
            g_free(name);
            g_free(re);
        }
        g_strfreev(lines);
        g_free(patterns);
    }
    if (rules->len)
        import_set(plan, "header_filters", rules->str, "config header_filter_rules");
    g_string_free(rules, TRUE);
}

static gboolean
map_config(ImportPlan *plan, ImportValue *cfg, const char *file, GError **error)
{
    ImportValue *v;
    gboolean ok = TRUE, isnum;
    gint64 n;
    char *lang = NULL, *t, *from;

    if ((v = import_value_get(cfg, "preferred_language"))) {
        lang = import_value_text(v);
        if (g_str_equal(lang, "en") || g_str_equal(lang, "ja"))
            import_set(plan, "language", lang, "config preferred_language");
        else
            import_unmapped(plan, "config preferred_language = %s: kairan speaks en and ja", lang);
    }
    if ((v = import_value_get(cfg, "real_name"))) {
        char *host = NULL;
        ImportValue *h = import_value_get(cfg, "host_name");
        t = import_value_text(v);
        host = h ? import_value_text(h) : NULL;
        plan->source_address = host && *host ? g_strdup_printf("%s@%s", t, host) : g_strdup(t);
        g_free(t);
        g_free(host);
    }
    for (int r = 0; ok && r < 2; r++) {
        v = import_value_get(cfg, r ? "moderator" : "owner");
        if (!v)
            continue;
        if (v->type != IV_LIST) {
            ok = import_bad(plan, error, file, 0, "%s is not a list", r ? "moderator" : "owner");
            continue;
        }
        for (guint i = 0; ok && i < v->items->len; i++) {
            t = import_value_text(g_ptr_array_index(v->items, i));
            ok = import_role(plan, r ? plan->moderators : plan->owners, t, file, 0, error);
            g_free(t);
        }
    }
    if ((v = import_value_get(cfg, "description"))) {
        t = to_utf8(v, lang);
        g_strdelimit(t, "\r\n", ' ');
        import_set(plan, "description", t, "config description");
        g_free(t);
    }
    if ((v = import_value_get(cfg, "subject_prefix"))) {
        gboolean rest;
        char *raw = to_utf8(v, lang), *lit = NULL;
        /* %d (the post number) stays, %(real_name)s becomes %s, other % are doubled */
        GString *s = g_string_new(NULL);
        for (const char *p = raw; *p; p++) {
            if (g_str_has_prefix(p, "%(real_name)s") || g_str_has_prefix(p, "%(list_name)s")) {
                g_string_append(s, "%s");
                p = strchr(p, ')') + 1;
            } else if (*p == '%' && p[1] == '%') {
                g_string_append(s, "%%");           /* Python's escaped percent */
                p++;
            } else if (*p == '%' && (p[1] == 'd' || (g_ascii_isdigit(p[1]) && strchr(p, 'd')))) {
                const char *q = p + 1;
                while (g_ascii_isdigit(*q))
                    q++;
                if (*q == 'd') {
                    g_string_append_len(s, p, q - p + 1);
                    p = q;
                } else {
                    g_string_append(s, "%%");
                }
            } else if (*p == '%') {
                g_string_append(s, "%%");
            } else {
                g_string_append_c(s, *p);
            }
        }
        lit = g_strstrip(g_string_free(s, FALSE));
        (void) rest;
        import_set(plan, "subject_tag", lit, "config subject_prefix");
        g_free(lit);
        g_free(raw);
    }
    if ((v = import_value_get(cfg, "max_message_size"))) {
        n = num_of(v, &isnum);
        t = g_strdup_printf("%" G_GINT64_FORMAT, n * 1024);
        if (isnum && n >= 0)
            import_set(plan, "max_size", t, "config max_message_size (KB)");
        else
            import_unmapped(plan, "config max_message_size: not a number");
        g_free(t);
    }
    if ((v = import_value_get(cfg, "generic_nonmember_action"))) {
        static const char *const map[] = { "anyone", "members-hold", "members", "members" };
        n = num_of(v, &isnum);
        if (isnum && n >= 0 && n <= 3) {
            import_set(plan, "post_policy", map[n], "config generic_nonmember_action");
            if (n == 3)
                import_note(plan, "generic_nonmember_action = 3 (discard): kairan refuses non-members with a reply");
        } else {
            import_unmapped(plan, "config generic_nonmember_action: unknown value");
        }
    }
    if ((v = import_value_get(cfg, "default_member_moderation"))) {
        n = num_of(v, &isnum);
        import_set(plan, "new_member_moderation", n ? "yes" : "no", "config default_member_moderation");
    }
    if ((v = import_value_get(cfg, "subscribe_policy"))) {
        static const char *const map[] = { "open", "confirm", "approve", "approve" };
        n = num_of(v, &isnum);
        if (isnum && n >= 0 && n <= 3)
            import_set(plan, "subscribe_policy", map[n], "config subscribe_policy");
        else
            import_unmapped(plan, "config subscribe_policy: unknown value");
    }
    if ((v = import_value_get(cfg, "archive_private"))) {
        n = num_of(v, &isnum);
        import_set(plan, "archive_access", n ? "members" : "public", "config archive_private");
    }
    if ((v = import_value_get(cfg, "reply_goes_to_list"))) {
        n = num_of(v, &isnum);
        if (isnum && (n == 0 || n == 1))
            import_set(plan, "reply_to", n ? "list" : "author", "config reply_goes_to_list");
        else
            import_unmapped(plan, "config reply_goes_to_list = 2 (an explicit Reply-To): kairan has list, author, none");
    }
    if ((v = import_value_get(cfg, "bounce_score_threshold"))) {
        n = num_of(v, &isnum);
        t = g_strdup_printf("%" G_GINT64_FORMAT, n);
        if (isnum && n >= 0)
            import_set(plan, "bounce_threshold", t, "config bounce_score_threshold");
        g_free(t);
    }
    /* s12-bounce: the warnings to members disabled by bounces; config_list
     * shows the two intervals in days */
    if ((v = import_value_get(cfg, "bounce_you_are_disabled_warnings"))) {
        n = num_of(v, &isnum);
        t = g_strdup_printf("%" G_GINT64_FORMAT, n);
        if (isnum && n >= 0)
            import_set(plan, "bounce_warnings", t, "config bounce_you_are_disabled_warnings");
        g_free(t);
    }
    {
        static const char *const days[][2] = {
            { "bounce_you_are_disabled_warnings_interval", "bounce_warn_interval" },
            { "bounce_info_stale_after", "bounce_stale_after" },
        };
        for (guint i = 0; i < G_N_ELEMENTS(days); i++) {
            if (!(v = import_value_get(cfg, days[i][0])))
                continue;
            n = num_of(v, &isnum);
            if (isnum && n >= 0 && n < 100000) {
                char *src = g_strdup_printf("config %s", days[i][0]);
                t = g_strdup_printf("%" G_GINT64_FORMAT "d", n);
                import_set(plan, days[i][1], t, src);
                g_free(t);
                g_free(src);
            } else {
                import_unmapped(plan, "config %s: not a number of days", days[i][0]);
            }
        }
    }
    if ((v = import_value_get(cfg, "digestable"))) {
        n = num_of(v, &isnum);
        if (!n)
            import_unmapped(plan, "config digestable = 0: kairan always offers digests");
    }
    if ((v = import_value_get(cfg, "msg_footer"))) {
        gboolean rest;
        char *raw = to_utf8(v, lang);
        char *f = mm_subst(raw, "{list}", &rest);
        import_set(plan, "footer", f, "config msg_footer");
        if (rest)
            import_note(plan, "msg_footer: Mailman's %%(...)s names other than real_name are kept as text");
        g_free(f);
        g_free(raw);
    }
    if ((v = import_value_get(cfg, "ban_list")) && v->type == IV_LIST) {
        GString *pat = g_string_new(NULL);
        import_nonmember_patterns(plan, v, pat, "config ban_list");
        if (pat->len)
            import_set(plan, "banned", pat->str, "config ban_list");
        g_string_free(pat, TRUE);
    }
    {
        static const char *const rules[] = {
            "accept_these_nonmembers", "accept_nonmembers", "hold_these_nonmembers", "hold_nonmembers",
            "reject_these_nonmembers", "reject_nonmembers", "discard_these_nonmembers", "discard_nonmembers", NULL
        };
        for (int r = 0; rules[r]; r += 2)
            if ((v = import_value_get(cfg, rules[r])) && v->type == IV_LIST) {
                GString *pat = g_string_new(NULL);
                from = g_strdup_printf("config %s", rules[r]);
                import_nonmember_patterns(plan, v, pat, from);
                if (pat->len)
                    import_set(plan, rules[r + 1], pat->str, from);
                g_string_free(pat, TRUE);
                g_free(from);
            }
    }
    map_header_filters(plan, import_value_get(cfg, "header_filter_rules"));
    for (guint i = 0; i < cfg->keys->len; i++) {
        const char *k = g_ptr_array_index(cfg->keys, i);
        if (g_strv_contains(handled, k))
            continue;
        from = g_strdup_printf("config %s", k);
        if (g_str_equal(k, "info"))
            import_unmapped(plan, "%s: kairan has the one-line description only", from);
        else
            import_unmapped(plan, "%s", from);
        g_free(from);
    }
    g_free(lang);
    return ok;
}

static gboolean
read_members(ImportPlan *plan, const char *path, int mode, GError **error)
{
    char *data;
    gsize len;
    gboolean exists, ok = TRUE;
    char **lines;

    if (!import_read_file(path, TRUE, &data, &len, &exists, error))
        return FALSE;
    if (!exists)
        return TRUE;
    lines = g_strsplit(data, "\n", -1);
    g_free(data);
    for (gint64 i = 0; ok && lines[i]; i++) {
        char *l = g_strstrip(lines[i]), *name = NULL, *addr;
        ImportMember *m = NULL;
        if (!*l)
            continue;
        addr = import_name_addr(l, &name);
        if (name && !g_utf8_validate(name, -1, NULL)) {
            char *u = g_utf8_make_valid(name, -1);
            g_free(name);
            name = u;
        }
        ok = import_member(plan, addr, name, path, i + 1, &m, error);
        if (m && mode == 1)
            m->digest = TRUE;
        else if (m && mode == 2)
            m->nomail = TRUE;
        g_free(addr);
        g_free(name);
    }
    g_strfreev(lines);
    return ok;
}

gboolean
import_mailman2(ImportPlan *plan, const char *dir, GError **error)
{
    char *path, *data;
    gsize len;
    ImportValue *cfg;
    gboolean ok;

    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s: no such directory", dir);
        return FALSE;
    }
    path = g_build_filename(dir, "config", NULL);
    if (!import_read_file(path, FALSE, &data, &len, NULL, error)) {
        g_free(path);
        return FALSE;
    }
    cfg = pylit_parse_config(data, len, path, error);
    g_free(data);
    if (!cfg) {
        g_free(path);
        return FALSE;
    }
    ok = map_config(plan, cfg, path, error);
    import_value_free(cfg);
    g_free(path);
    for (int mode = 0; ok && mode < 3; mode++) {
        path = g_build_filename(dir, mode == 0 ? "regular" : mode == 1 ? "digest" : "nomail", NULL);
        ok = read_members(plan, path, mode, error);
        g_free(path);
    }
    if (ok) {
        path = g_build_filename(dir, "archive.mbox", NULL);
        if (g_file_test(path, G_FILE_TEST_EXISTS))
            ok = import_mbox_scan(plan, path, FALSE, error);
        g_free(path);
    }
    return ok;
}
