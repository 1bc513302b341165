/* mailman3.c - a Mailman 3 list as an import plan:
 *   DIR/config.json   REST `GET /3.1/lists/LIST_ID/config` (json.c)
 *   DIR/members.csv   members: the Postorius export (email,name) or a CSV
 *                     with a header naming email|address, name|display_name
 *                     and optionally delivery_mode (regular, *_digests),
 *                     delivery_status (enabled, by_user, by_bounces, ...),
 *                     role (member, owner, moderator, nonmember) and
 *                     moderation_action (hold = moderated; for a
 *                     nonmember: accept|hold|reject|discard, kairan's
 *                     accept/hold/reject/discard_nonmembers)
 *   DIR/header-matches.json  optional: REST `GET /3.1/lists/LIST_ID/
 *                     header-matches` ({"entries": [{"header", "pattern",
 *                     "action"}]}), kairan's header_filters
 *   DIR/archive.mbox  the HyperKitty export (file order), or as downloaded,
 *                     DIR/archive.mbox.gz
 * config.json is required, the others optional. */
#include "config.h"
#include "import/import.h"
#include "log.h"
#include "util.h"

#include <math.h>
#include <string.h>

/* fields with an obvious meaning but nothing to set, not worth a line
 * each in the report */
static const char *const informational[] = {
    "http_etag", "self_link", "list_id", "fqdn_listname", "mail_host", "list_name", "created_at",
    "last_post_at", "volume", "next_digest_number", "digest_last_sent_at", "member_count",
    "posting_address", "request_address", "owner_address", "join_address", "leave_address",
    "bounces_address", "no_reply_address", "dmarc_mitigate_unconditionally", NULL
};

static const char *const handled[] = {
    "display_name", "description", "subject_prefix", "max_message_size", "default_nonmember_action",
    "default_member_action", "subscription_policy", "archive_policy", "reply_goes_to_list",
    "preferred_language", "bounce_score_threshold", "accept_these_nonmembers", "hold_these_nonmembers",
    "reject_these_nonmembers", "discard_these_nonmembers", "post_id", "personalize", "dmarc_mitigate_action",
    "emergency", "digest_size_threshold", NULL
};

/* The four nonmember rules: Mailman's moderation action, the legacy
 * config.json list, kairan's setting. */
static const char *const nonmember_rules[4][3] = {
    { "accept", "accept_these_nonmembers", "accept_nonmembers" },
    { "hold", "hold_these_nonmembers", "hold_nonmembers" },
    { "reject", "reject_these_nonmembers", "reject_nonmembers" },
    { "discard", "discard_these_nonmembers", "discard_nonmembers" },
};

/* empty - null, "" or []: a setting with nothing to carry over */
static gboolean
empty(const ImportValue *v)
{
    return v->type == IV_NONE || (v->type == IV_STR && v->str->len == 0) ||
           (v->type == IV_LIST && v->items->len == 0);
}

static void
map_word(ImportPlan *plan, ImportValue *cfg, const char *name, const char *key,
         const char *const *pairs)
{
    ImportValue *v = import_value_get(cfg, name);
    char *t, *from;
    if (!v)
        return;
    t = import_value_text(v);
    from = g_strdup_printf("config.json %s", name);
    for (int i = 0; pairs[i]; i += 2)
        if (g_str_equal(pairs[i], t)) {
            if (pairs[i + 1])
                import_set(plan, key, pairs[i + 1], from);
            else
                import_unmapped(plan, "%s = %s: no kairan equivalent", from, t);
            g_free(t);
            g_free(from);
            return;
        }
    import_unmapped(plan, "%s = %s: unknown value", from, t);
    g_free(t);
    g_free(from);
}

static void
map_config(ImportPlan *plan, ImportValue *cfg, GString **nonmembers)
{
    ImportValue *v;
    char *t;

    if ((v = import_value_get(cfg, "fqdn_listname")) && v->type == IV_STR)
        plan->source_address = import_value_text(v);
    else if ((v = import_value_get(cfg, "list_name")) && v->type == IV_STR)
        plan->source_address = import_value_text(v);
    if ((v = import_value_get(cfg, "description"))) {
        t = import_value_text(v);
        g_strdelimit(t, "\r\n", ' ');
        import_set(plan, "description", t, "config.json description");
        g_free(t);
    }
    if ((v = import_value_get(cfg, "subject_prefix"))) {
        char *raw = import_value_text(v);
        GString *s = g_string_new(NULL);
        for (const char *p = raw; *p; p++) {
            if (g_str_has_prefix(p, "$display_name") || g_str_has_prefix(p, "$list_name")) {
                g_string_append(s, "%s");
                p += p[1] == 'd' ? strlen("$display_name") - 1 : strlen("$list_name") - 1;
            } else if (g_str_has_prefix(p, "${display_name}") || g_str_has_prefix(p, "${list_name}")) {
                g_string_append(s, "%s");
                p = strchr(p, '}');
            } else if (*p == '%' && p[1] == 'd') {
                g_string_append(s, "%d");
                p++;
            } else if (*p == '%') {
                g_string_append(s, "%%");
            } else {
                g_string_append_c(s, *p);
            }
        }
        t = g_strstrip(g_string_free(s, FALSE));
        import_set(plan, "subject_tag", t, "config.json subject_prefix");
        g_free(t);
        g_free(raw);
    }
    if ((v = import_value_get(cfg, "max_message_size")) && v->type == IV_NUM && v->num >= 0 && v->num < 1e12) {
        t = g_strdup_printf("%" G_GINT64_FORMAT, (gint64) llround(v->num) * 1024);
        import_set(plan, "max_size", t, "config.json max_message_size (KB)");
        g_free(t);
    }
    map_word(plan, cfg, "default_nonmember_action", "post_policy", (const char *const[]) {
        "accept", "anyone", "hold", "members-hold", "defer", "members-hold", "reject", "members",
        "discard", "members", NULL });
    map_word(plan, cfg, "default_member_action", "new_member_moderation", (const char *const[]) {
        "accept", "no", "defer", "no", "hold", "yes", "reject", NULL, "discard", NULL, NULL });
    map_word(plan, cfg, "subscription_policy", "subscribe_policy", (const char *const[]) {
        "open", "open", "confirm", "confirm", "moderate", "approve", "confirm_then_moderate", "approve", NULL });
    map_word(plan, cfg, "archive_policy", "archive_access", (const char *const[]) {
        "public", "public", "private", "members", "never", NULL, NULL });
    map_word(plan, cfg, "reply_goes_to_list", "reply_to", (const char *const[]) {
        "no_munging", "author", "point_to_list", "list", "explicit_header", NULL,
        "explicit_header_only", NULL, NULL });
    map_word(plan, cfg, "preferred_language", "language", (const char *const[]) {
        "en", "en", "ja", "ja", NULL });
    if ((v = import_value_get(cfg, "bounce_score_threshold")) && v->type == IV_NUM && v->num >= 0 && v->num < 1e12) {
        t = g_strdup_printf("%" G_GINT64_FORMAT, (gint64) llround(v->num));
        import_set(plan, "bounce_threshold", t, "config.json bounce_score_threshold");
        g_free(t);
    }
    /* found on a real Mailman 3.3 (tests/e2e/test_import_mailman3.py) */
    if ((v = import_value_get(cfg, "post_id")) && v->type == IV_NUM && v->num >= 1 && v->num < 1e15) {
        /* the number Mailman gives the next post (its %d): kairan goes on from there */
        plan->seq = (gint64) llround(v->num) - 1;
        import_note(plan, "post_id %" G_GINT64_FORMAT ": the next post is number %" G_GINT64_FORMAT " (as in Mailman)",
                    plan->seq + 1, plan->seq + 1);
    }
    map_word(plan, cfg, "personalize", "personalize", (const char *const[]) {
        "none", "no", "individual", "yes", "full", "yes", NULL });
    if ((v = import_value_get(cfg, "dmarc_mitigate_action"))) {
        ImportValue *u = import_value_get(cfg, "dmarc_mitigate_unconditionally");
        gboolean always = u && u->type == IV_BOOL && u->b;
        map_word(plan, cfg, "dmarc_mitigate_action", "dmarc", always ? (const char *const[]) {
            "no_mitigation", "off", "munge_from", "munge", "wrap_message", "wrap", "reject", NULL, "discard", NULL, NULL }
                                                                    : (const char *const[]) {
            "no_mitigation", "off", "munge_from", "auto", "wrap_message", "wrap", "reject", NULL, "discard", NULL, NULL });
    }
    if ((v = import_value_get(cfg, "digest_size_threshold")) && v->type == IV_NUM && v->num > 0 && v->num < 1e9) {
        t = g_strdup_printf("%" G_GINT64_FORMAT, (gint64) llround(v->num * 1024));
        import_set(plan, "digest_size", t, "config.json digest_size_threshold (KB)");
        g_free(t);
    }
    /* emergency holds every post for the moderators: it wins over the
     * nonmember action mapped above */
    if ((v = import_value_get(cfg, "emergency")) && v->type == IV_BOOL && v->b)
        import_set(plan, "post_policy", "moderated", "config.json emergency");
    if ((v = import_value_get(cfg, "display_name")))
        import_note(plan, "display_name: kairan names a list by its address");
    for (int r = 0; r < 4; r++)
        if ((v = import_value_get(cfg, nonmember_rules[r][1])) && v->type == IV_LIST) {
            char *from = g_strdup_printf("config.json %s", nonmember_rules[r][1]);
            import_nonmember_patterns(plan, v, nonmembers[r], from);
            g_free(from);
        }
    {
        guint blank = 0;
        for (guint i = 0; cfg->type == IV_DICT && i < cfg->keys->len; i++) {
            const char *k = g_ptr_array_index(cfg->keys, i);
            if (g_strv_contains(handled, k) || g_strv_contains(informational, k))
                continue;
            if (empty(g_ptr_array_index(cfg->items, i)))
                blank++;
            else
                import_unmapped(plan, "config.json %s", k);
        }
        if (blank)
            import_note(plan, "config.json: %u other setting(s) without a value (null, \"\" or []) left out", blank);
    }
}

static int
column(char **head, const char *a, const char *b)
{
    for (int i = 0; head[i]; i++)
        if (g_ascii_strcasecmp(head[i], a) == 0 || (b && g_ascii_strcasecmp(head[i], b) == 0))
            return i;
    return -1;
}

static const char *
field(char **f, int i)
{
    if (i < 0)
        return NULL;
    for (int k = 0; k < i; k++)
        if (!f[k])
            return NULL;
    return f[i];
}

static gboolean
read_members(ImportPlan *plan, const char *path, GString **nonmembers, GError **error)
{
    char *data;
    gsize len;
    gboolean exists, ok = TRUE;
    char **lines;
    int c_email = 0, c_name = 1, c_mode = -1, c_status = -1, c_role = -1, c_mod = -1;
    gint64 first = 0;

    if (!import_read_file(path, TRUE, &data, &len, &exists, error))
        return FALSE;
    if (!exists)
        return TRUE;
    if (!g_utf8_validate(data, len, NULL)) {
        g_free(data);
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s: not UTF-8 text", path);
        return FALSE;
    }
    lines = g_strsplit(data, "\n", -1);
    g_free(data);
    if (lines[0]) {
        char **head = import_csv_split(lines[0]);
        if (head[0] && !strchr(head[0], '@')) {      /* a header line */
            c_email = column(head, "email", "address");
            c_name = column(head, "name", "display_name");
            c_mode = column(head, "delivery_mode", NULL);
            c_status = column(head, "delivery_status", NULL);
            c_role = column(head, "role", NULL);
            c_mod = column(head, "moderation_action", NULL);
            first = 1;
            if (c_email < 0)
                ok = import_bad(plan, error, path, 1, "no email column in the header");
        }
        g_strfreev(head);
    }
    for (gint64 i = first; ok && lines[i]; i++) {
        char **f;
        const char *email, *name, *mode, *status, *role, *mod;
        ImportMember *m = NULL;
        if (!*g_strstrip(lines[i]))
            continue;
        f = import_csv_split(lines[i]);
        email = field(f, c_email);
        name = field(f, c_name);
        mode = field(f, c_mode);
        status = field(f, c_status);
        role = field(f, c_role);
        mod = field(f, c_mod);
        if (!email || !*email) {
            ok = import_bad(plan, error, path, i + 1, "no address");
        } else if (role && (g_str_equal(role, "owner") || g_str_equal(role, "moderator"))) {
            ok = import_role(plan, role[0] == 'o' ? plan->owners : plan->moderators, email, path, i + 1, error);
        } else if (role && g_str_equal(role, "nonmember")) {
            /* nonmembers are Mailman's per-address posting rules: not members */
            int r = 0;
            while (r < 4 && !(mod && g_str_equal(mod, nonmember_rules[r][0])))
                r++;
            if (r < 4 && strchr(email, '@') && !strpbrk(email, " \t"))
                g_string_append_printf(nonmembers[r], "%s%s", nonmembers[r]->len ? " " : "", email);
            else if (mod && *mod && !g_str_equal(mod, "defer"))
                import_unmapped(plan, "%s:%" G_GINT64_FORMAT ": nonmember %s with moderation_action %s", path, i + 1,
                                email, mod);
        } else {
            ok = import_member(plan, email, name && *name ? name : NULL, path, i + 1, &m, error);
            if (m) {
                m->digest = mode && g_str_has_suffix(mode, "digests");
                m->nomail = status && *status && !g_str_equal(status, "enabled");
                m->moderated = mod && g_str_equal(mod, "hold");
            }
        }
        g_strfreev(f);
    }
    g_strfreev(lines);
    return ok;
}

/* read_header_matches - DIR/header-matches.json (optional) as header_filters. */
static gboolean
read_header_matches(ImportPlan *plan, const char *path, GError **error)
{
    char *data;
    gsize len;
    gboolean exists;
    ImportValue *doc, *entries;
    GString *rules;

    if (!import_read_file(path, TRUE, &data, &len, &exists, error))
        return FALSE;
    if (!exists)
        return TRUE;
    doc = json_parse(data, len, path, error);
    g_free(data);
    if (!doc)
        return FALSE;
    entries = doc->type == IV_DICT ? import_value_get(doc, "entries") : doc;
    rules = g_string_new(NULL);
    for (guint i = 0; entries && entries->type == IV_LIST && i < entries->items->len; i++) {
        ImportValue *e = g_ptr_array_index(entries->items, i);
        ImportValue *h = e->type == IV_DICT ? import_value_get(e, "header") : NULL;
        ImportValue *p = e->type == IV_DICT ? import_value_get(e, "pattern") : NULL;
        ImportValue *a = e->type == IV_DICT ? import_value_get(e, "action") : NULL;
        char *header = h && h->type == IV_STR ? import_value_text(h) : NULL;
        char *pattern = p && p->type == IV_STR ? import_value_text(p) : NULL;
        /* no action: the site's header-match chain, hold by default */
        char *action = a && a->type == IV_STR ? import_value_text(a) : g_strdup("hold");

        if (!header || !pattern || !import_header_rule(rules, header, pattern, action))
            import_unmapped(plan, "header-matches.json entry %u (%s: %s -> %s): no kairan rule", i + 1,
                            header ? header : "?", pattern ? pattern : "?", action);
        g_free(header);
        g_free(pattern);
        g_free(action);
    }
    if (rules->len)
        import_set(plan, "header_filters", rules->str, "header-matches.json");
    g_string_free(rules, TRUE);
    import_value_free(doc);
    return TRUE;
}

gboolean
import_mailman3(ImportPlan *plan, const char *dir, GError **error)
{
    GString *nonmembers[4];
    char *path, *data;
    gsize len;
    ImportValue *cfg;
    gboolean ok = TRUE;

    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s: no such directory", dir);
        return FALSE;
    }
    path = g_build_filename(dir, "config.json", NULL);
    if (!import_read_file(path, FALSE, &data, &len, NULL, error)) {
        g_free(path);
        return FALSE;
    }
    cfg = json_parse(data, len, path, error);
    g_free(data);
    if (!cfg) {
        g_free(path);
        return FALSE;
    }
    for (int r = 0; r < 4; r++)
        nonmembers[r] = g_string_new(NULL);
    if (cfg->type != IV_DICT) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s:1: not a JSON object", path);
        ok = FALSE;
    } else {
        map_config(plan, cfg, nonmembers);
    }
    import_value_free(cfg);
    g_free(path);
    if (ok) {
        path = g_build_filename(dir, "members.csv", NULL);
        ok = read_members(plan, path, nonmembers, error);
        g_free(path);
    }
    for (int r = 0; r < 4; r++) {
        if (ok && nonmembers[r]->len)
            import_set(plan, nonmember_rules[r][2], nonmembers[r]->str, "nonmember rules (config.json, members.csv)");
        g_string_free(nonmembers[r], TRUE);
    }
    if (ok) {
        path = g_build_filename(dir, "header-matches.json", NULL);
        ok = read_header_matches(plan, path, error);
        g_free(path);
    }
    if (ok) {
        path = g_build_filename(dir, "archive.mbox", NULL);
        if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
            g_free(path);           /* HyperKitty's export as downloaded */
            path = g_build_filename(dir, "archive.mbox.gz", NULL);
        }
        if (g_file_test(path, G_FILE_TEST_EXISTS))
            ok = import_mbox_scan(plan, path, FALSE, error);
        g_free(path);
    }
    return ok;
}
