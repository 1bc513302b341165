/* settings.c - the per-list settings of DESIGN.md ("Configuration keys").
 *
 * One table names every key, its type, its built-in default and a line of
 * help.  A value in force is looked up in this order: list_settings in
 * kairan.db, [list-defaults] in kairan.conf, the built-in default.  An
 * unknown key or an invalid value is refused with a message naming the
 * valid ones. */
#include "config.h"
#include "settings.h"
#include "address.h"
#include "db.h"
#include "log.h"
#include "moderation.h"
#include "util.h"

#include <string.h>

/* Entries may leave out the trailing section and title (see settings.h):
 * the table is exempt from -Wmissing-field-initializers. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const SettingDef table[] = {
    { "post_policy", SETTING_ENUM, "members", "members|anyone|moderated|members-hold",
      "who may post: members only, anyone, every post held, non-members held",
      "Posting", "Who may post" },
    { "subscribe_policy", SETTING_ENUM, "confirm", "open|confirm|approve|closed",
      "how subscribe requests are handled",
      "Members & subscription", "How people subscribe" },
    { "max_size", SETTING_UINT, "10485760", NULL, "largest post in bytes (0 = no limit)",
      "Limits", "Largest post" },
    { "attachments", SETTING_ENUM, "keep", "keep|strip|reject",
      "what to do with MIME parts whose type is not in allowed_types",
      "Posting", "Attachments" },
    { "allowed_types", SETTING_TYPELIST, "text/plain multipart/*", NULL,
      "MIME types kept when attachments = strip|reject (type/sub or type/*)",
      "Posting", "Allowed attachment types" },
    { "html", SETTING_ENUM, "keep", "keep|reject", "HTML-only posts: keep or refuse",
      "Posting", "HTML-only posts" },
    { "subject_tag", SETTING_TAG, "[%s:%05d]", NULL,
      "Subject tag; %s = list name, %d (or %05d) = post number; empty = none",
      "Posting", "Subject tag" },
    { "reply_to", SETTING_ENUM, "author", "list|author|none",
      "Reply-To of distributed posts: the list, the author (unchanged), or removed",
      "Posting", "Reply-To" },
    { "archive_access", SETTING_ENUM, "members", "members|owners|public",
      "who may read the archive (POP3, web, get/mget/index)",
      "Archive", "Who may read the archive" },
    /* Archived-At and the Atom feed */
    { "archived_at", SETTING_BOOL, "yes", NULL,
      "with [global] web_url set, every post gets an Archived-At header (RFC 5064) naming its archive page",
      "Archive", "Archived-At header" },
    { "feed_entries", SETTING_UINT, "20", NULL,
      "newest posts in the Atom feed /list/LIST/feed.atom of a public archive (0 = no feed; at most 200)",
      "Archive", "Posts in the Atom feed" },
    { "commands_access", SETTING_ENUM, "members", "members|anyone",
      "who may use get, mget, index, members, actives",
      "Archive", "Who may use archive commands" },
    { "digest_size", SETTING_UINT, "102400", NULL, "send a digest when this many bytes are waiting",
      "Digest", "Digest size" },
    { "digest_interval", SETTING_DURATION, "1d", NULL, "send a digest at least this often",
      "Digest", "Digest interval" },
    { "digest_format", SETTING_ENUM, "mime", "mime|plain", "MIME multipart/digest or RFC 1153 plain text",
      "Digest", "Digest format" },
    { "mget_max_size", SETTING_UINT, "1048576", NULL,
      "largest mget or digest mail in bytes; larger bundles are split (0 = no limit)",
      "Archive", "Largest archive mail" },
    { "max_commands", SETTING_UINT, "20", NULL, "commands processed per command mail",
      "Limits", "Commands per mail" },
    { "language", SETTING_ENUM, "en", "en|ja", "language of replies and pages",
      "Posting", "Language" },
    { "owners", SETTING_ADDRLIST, "", NULL, "owner addresses (comma separated)",
      "Moderation", "Owners" },
    { "moderators", SETTING_ADDRLIST, "", NULL, "moderator addresses (default: the owners)",
      "Moderation", "Moderators" },
    { "remove_headers", SETTING_STRING,
      "Return-Receipt-To Disposition-Notification-To X-Confirm-Reading-To Errors-To "
      "DKIM-Signature Domainkey-Signature X-Original-To Delivered-To Approved",
      NULL, "headers removed from posts (blank separated)",
      "Posting", "Headers removed from posts" },
    { "send_to_author", SETTING_BOOL, "yes", NULL, "does the author get a copy of own post",
      "Posting", "Copy to the author" },
    { "personalize", SETTING_BOOL, "no", NULL,
      "personalized delivery: each copy gets its own one-click unsubscribe link and VERP sender",
      "Deliverability", "Personalized delivery" },
    { "confirm_expiry", SETTING_DURATION, "3d", NULL, "how long confirmation tokens stay valid",
      "Members & subscription", "Confirmation links expire after" },
    { "bounce_threshold", SETTING_UINT, "5", NULL, "bounce score that disables delivery",
      "Deliverability", "Bounce score limit" },
    { "bounce_warnings", SETTING_UINT, "3", NULL,
      "warnings mailed to a member whose delivery bounces disabled, one per bounce_warn_interval;"
      " one interval after the last the member is removed (0: removed at the next run)",
      "Deliverability", "Warnings before removal" },
    { "bounce_warn_interval", SETTING_DURATION, "7d", NULL,
      "time between two warnings to a member disabled by bounces, and from the last to the removal",
      "Deliverability", "Time between warnings" },
    { "bounce_stale_after", SETTING_DURATION, "7d", NULL,
      "a bounce score is reset to 0 when the last bounce is older than this (0: never)",
      "Deliverability", "Bounce score forgotten after" },
    { "description", SETTING_STRING, "", NULL, "one line describing the list",
      "Posting", "Description" },
    { "ctl_reply_limit", SETTING_UINT, "20", NULL,
      "command mails from one sender answered per hour; beyond it they are dropped unread (0 = no limit)",
      "Limits", "Command replies per hour" },
    { "confirm_limit", SETTING_UINT, "5", NULL,
      "confirmation requests mailed to one address per hour (0 = no limit)",
      "Limits", "Confirmation mails per hour" },
    { "refusal_limit", SETTING_UINT, "10", NULL,
      "refusal replies to one sender per hour; further refused posts are dropped silently (0 = no limit)",
      "Limits", "Refusal replies per hour" },
    { "send_limit_mails", SETTING_UINT, "30", NULL,
      "archive mails (mget) sent to one address per hour; get and mget stop there (0 = no limit)",
      "Limits", "Archive mails per hour" },
    { "send_limit_bytes", SETTING_UINT, "10485760", NULL,
      "bytes of archive mail (mget mails, get attachments) sent to one address per hour (0 = no limit)",
      "Limits", "Archive bytes per hour" },
    { "bounce_match", SETTING_ENUM, "sent", "sent|any",
      "sent: a bounce counts only when it names a post kairan sent to the member (its Message-ID) or"
      " comes to the member's VERP address; any: every recognised bounce counts (not advised)",
      "Deliverability", "Which bounces count" },
    { "dmarc", SETTING_ENUM, "auto", "auto|munge|wrap|off",
      "DMARC-safe posts: rewrite From when the author's domain has p=reject|quarantine (auto), always (munge), "
      "send the post as a message/rfc822 attachment (wrap), or never (off)",
      "Deliverability", "DMARC protection" },
    { "oversize", SETTING_ENUM, "refuse", "refuse|hold",
      "a post larger than max_size: refused with a reply, or held for a moderator (as Mailman does)",
      "Moderation", "Posts over the size limit" },
    { "max_parts", SETTING_UINT, "1000", NULL,
      "most MIME parts a post may have; a post with more is refused with a reply, counted before it is parsed "
      "(0 = no limit)",
      "Limits", "Most MIME parts" },
    { "new_member_moderation", SETTING_BOOL, "no", NULL,
      "posts of new members are held until an owner clears their moderated flag (web, admin unmoderate)",
      "Moderation", "Moderate new members" },
    { "banned", SETTING_PATTERNS, "", NULL,
      "addresses that may neither subscribe nor post (their posts are dropped without a reply): "
      "an address, a pattern with * and ? such as *@spam.example, or a regular expression starting with ^; "
      "blank separated",
      "Moderation", "Banned addresses" },
    { "duplicate_window", SETTING_DURATION, "5d", NULL,
      "a post whose Message-ID the list already distributed within this time is dropped, not posted twice "
      "(0 = no check)",
      "Posting", "Duplicate check window" },
    /* retention (the held_expire, held_reminder and archive_expire tasks of maintain.c) */
    { "max_days_to_hold", SETTING_UINT, "14", NULL,
      "held posts older than this many days are discarded, their senders told (0 = kept until a moderator acts)",
      "Moderation", "Days a held post waits" },
    { "moderator_reminder", SETTING_BOOL, "yes", NULL,
      "once a day the moderators get one mail listing the held posts and how to approve them",
      "Moderation", "Daily reminder to moderators" },
    { "archive_expire", SETTING_DURATION, "0", NULL,
      "archived posts older than this (e.g. 365d) are removed from the archive, its index and search; "
      "their numbers are not reused (0 = kept for ever)",
      "Archive", "Archive retention" },
    { "footer", SETTING_TEXT, "", NULL,
      "text added at the end of every post; {{list}}, {{address}}, {{number}}, {{unsubscribe}} and {{archive}} "
      "are replaced (empty = none)",
      "Posting", "Footer" },
    /* notices and auto-responders (lib/notices.c, lib/autorespond.c) */
    { "notify_membership", SETTING_BOOL, "no", NULL,
      "the owners get a mail for every subscription, unsubscription and address change (any path: CLI, "
      "command mail, web, API)",
      "Members & subscription", "Tell the owners of membership changes" },
    { "acknowledge_posts", SETTING_BOOL, "no", NULL,
      "members who set their acknowledge option get a short mail for each of their posts distributed",
      "Posting", "Acknowledge posts" },
    { "autorespond_posts", SETTING_BOOL, "no", NULL,
      "answer each distributed post with autorespond_posts_text (never automatic mail)",
      "Posting", "Auto-response to posts" },
    { "autorespond_posts_text", SETTING_TEXT, "", NULL, "the text of the auto-response to posts",
      "Posting", "Auto-response text (posts)" },
    { "autorespond_admin", SETTING_BOOL, "no", NULL,
      "answer mail to LIST-admin (not bounces) with autorespond_admin_text",
      "Moderation", "Auto-response to the owners' address" },
    { "autorespond_admin_text", SETTING_TEXT, "", NULL, "the text of the auto-response to LIST-admin mail",
      "Moderation", "Auto-response text (owners' address)" },
    { "autorespond_ctl", SETTING_BOOL, "no", NULL,
      "answer mail to LIST-ctl with autorespond_ctl_text, besides the reply to its commands",
      "Members & subscription", "Auto-response to command mail" },
    { "autorespond_ctl_text", SETTING_TEXT, "", NULL, "the text of the auto-response to LIST-ctl mail",
      "Members & subscription", "Auto-response text (command mail)" },
    { "autorespond_grace", SETTING_DURATION, "90d", NULL,
      "at most one auto-response of each kind to one sender within this time (0 = one for every mail)",
      "Limits", "Auto-response grace period" },
    /* Mailman's moderation tools (src/lib/moderation.c, src/deliver/post.c) */
    { "accept_nonmembers", SETTING_PATTERNS, "", NULL,
      "non-members whose posts are taken as a member's (Mailman's accept_these_nonmembers); "
      "patterns as in banned, blank separated",
      "Moderation", "Non-members accepted" },
    { "hold_nonmembers", SETTING_PATTERNS, "", NULL,
      "non-members whose posts are held for a moderator (hold_these_nonmembers); patterns as in banned",
      "Moderation", "Non-members held" },
    { "reject_nonmembers", SETTING_PATTERNS, "", NULL,
      "non-members whose posts are refused with a reply (reject_these_nonmembers); patterns as in banned",
      "Moderation", "Non-members refused" },
    { "discard_nonmembers", SETTING_PATTERNS, "", NULL,
      "non-members whose posts are dropped: no reply, no archive (discard_these_nonmembers); "
      "patterns as in banned",
      "Moderation", "Non-members discarded" },
    { "header_filters", SETTING_HEADERRULES, "", NULL,
      "rules 'Header: regex -> hold|reject|discard|accept', separated by ';' or new lines (write a ';' "
      "inside a regex as \\;); case-insensitive, on RFC 2047 decoded values; the first rule that matches decides",
      "Moderation", "Header filters" },
};
#pragma GCC diagnostic pop

const SettingDef *
settings_table(size_t *count)
{
    *count = G_N_ELEMENTS(table);
    return table;
}

static const char *const sections[] = {
    "Posting", "Moderation", "Members & subscription", "Archive", "Digest", "Deliverability", "Limits", NULL
};

const char *const *
settings_sections(void)
{
    return sections;
}

const char *
setting_section(const SettingDef *def)
{
    static const struct { const char *word, *section; } guess[] = {
        { "digest", "Digest" }, { "archive", "Archive" }, { "mget", "Archive" },
        { "limit", "Limits" }, { "max_", "Limits" },
        { "bounce", "Deliverability" }, { "dmarc", "Deliverability" }, { "dkim", "Deliverability" },
        { "verp", "Deliverability" }, { "personal", "Deliverability" },
        { "moderat", "Moderation" }, { "hold", "Moderation" }, { "held", "Moderation" }, { "ban", "Moderation" },
        { "owner", "Moderation" },
        { "subscri", "Members & subscription" }, { "member", "Members & subscription" },
        { "confirm", "Members & subscription" }, { "welcome", "Members & subscription" },
        { "goodbye", "Members & subscription" },
    };
    if (def->section) {
        for (int i = 0; sections[i]; i++)
            if (g_str_equal(sections[i], def->section))
                return sections[i];
    }
    for (size_t i = 0; i < G_N_ELEMENTS(guess); i++)
        if (strstr(def->key, guess[i].word))
            return guess[i].section;
    return "Posting";
}

const char *
setting_title(const SettingDef *def)
{
    static GHashTable *made;   /* key -> title of entries without one */
    static GMutex lock;
    const char *t;
    if (def->title && *def->title)
        return def->title;
    g_mutex_lock(&lock);
    if (!made)
        made = g_hash_table_new(g_str_hash, g_str_equal);
    t = g_hash_table_lookup(made, def->key);
    if (!t) {
        char *title = g_strdup(def->key);
        g_strdelimit(title, "_", ' ');
        title[0] = g_ascii_toupper(title[0]);
        g_hash_table_insert(made, (gpointer) def->key, title);
        t = title;
    }
    g_mutex_unlock(&lock);
    return t;
}

const SettingDef *
setting_find(const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
        if (g_str_equal(table[i].key, key))
            return &table[i];
    return NULL;
}

static char *
valid_keys(void)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "", table[i].key);
    return g_string_free(s, FALSE);
}

static gboolean
valid_tag(const char *v)
{
    int d = 0, s = 0;
    for (const char *p = v; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        if (*p == '%')
            continue;
        if (*p == 's') {
            s++;
            continue;
        }
        while (g_ascii_isdigit(*p))
            p++;
        if (*p != 'd')
            return FALSE;
        d++;
    }
    return d <= 1 && s <= 1;
}

char *
setting_validate(const char *key, const char *value, char **why)
{
    const SettingDef *def = setting_find(key);
    char *v;

    *why = NULL;
    if (!def) {
        char *keys = valid_keys();
        *why = g_strdup_printf("unknown setting '%s'; valid settings: %s", key, keys);
        g_free(keys);
        return NULL;
    }
    if (def->type != SETTING_TEXT && def->type != SETTING_HEADERRULES && strpbrk(value, "\r\n") != NULL) {
        *why = g_strdup_printf("%s: a value must be one line", key);
        return NULL;
    }
    if (!g_utf8_validate(value, -1, NULL)) {
        /* values end up in headers and replies: UTF-8 text only */
        *why = g_strdup_printf("%s: the value is not valid UTF-8 text", key);
        return NULL;
    }
    for (const char *p = value; *p; p++) {
        /* no control characters (found by fuzz_template: one reached
         * List-Id through description); TAB is a blank, and a text
         * setting keeps its line ends */
        unsigned char ch = (unsigned char) *p;
        if ((ch < 0x20 || ch == 0x7f) && ch != '\t' &&
            !((def->type == SETTING_TEXT || def->type == SETTING_HEADERRULES) && (ch == '\n' || ch == '\r'))) {
            *why = g_strdup_printf("%s: control characters are not allowed", key);
            return NULL;
        }
    }
    v = g_strstrip(g_strdup(value));
    switch (def->type) {
    case SETTING_TEXT: {
        /* CRLF (a browser's textarea) and CR become LF */
        GString *text = g_string_new(NULL);
        for (const char *p = v; *p; p++) {
            if (*p == '\r') {
                g_string_append_c(text, '\n');
                if (p[1] == '\n')
                    p++;
            } else {
                g_string_append_c(text, *p);
            }
        }
        if (!*why && text->len > 4096)
            *why = g_strdup_printf("%s: at most 4096 bytes", key);
        g_free(v);
        v = g_string_free(text, FALSE);
        break;
    }
    case SETTING_ENUM: {
        char **words = g_strsplit(def->values, "|", 0);
        gboolean ok = g_strv_contains((const char *const *) words, v);
        g_strfreev(words);
        if (!ok)
            *why = g_strdup_printf("%s: invalid value '%s'; valid values: %s", key, v, def->values);
        break;
    }
    case SETTING_UINT:
        if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 12)
            *why = g_strdup_printf("%s: '%s' is not a number (use a non-negative integer)", key, v);
        break;
    case SETTING_DURATION:
        if (parse_duration(v) < 0)
            *why = g_strdup_printf("%s: '%s' is not a duration (e.g. 3600, 30m, 12h, 1d)", key, v);
        break;
    case SETTING_BOOL:
        if (g_ascii_strcasecmp(v, "yes") == 0 || g_str_equal(v, "1") || g_ascii_strcasecmp(v, "true") == 0) {
            g_free(v);
            v = g_strdup("yes");
        } else if (g_ascii_strcasecmp(v, "no") == 0 || g_str_equal(v, "0") || g_ascii_strcasecmp(v, "false") == 0) {
            g_free(v);
            v = g_strdup("no");
        } else {
            *why = g_strdup_printf("%s: invalid value '%s'; valid values: yes|no", key, v);
        }
        break;
    case SETTING_TAG:
        if (!valid_tag(v))
            *why = g_strdup_printf("%s: '%s' may hold one %%d (or %%05d) for the number and one %%s for the list name", key, v);
        break;
    case SETTING_ADDRLIST: {
        char **parts = g_strsplit_set(v, ", \t", 0);
        GString *out = g_string_new(NULL);
        for (int i = 0; parts[i] && !*why; i++) {
            const char *reason;
            char *a;
            if (!*parts[i])
                continue;
            a = address_normalize(parts[i], &reason);
            if (!a)
                *why = g_strdup_printf("%s: '%s': %s", key, parts[i], reason);
            else
                g_string_append_printf(out, "%s%s", out->len ? "," : "", a);
            g_free(a);
        }
        g_strfreev(parts);
        g_free(v);
        v = g_string_free(out, FALSE);
        break;
    }
    case SETTING_PATTERNS: {
        char **parts = g_strsplit_set(v, " \t", 0);
        GString *out = g_string_new(NULL);
        for (int i = 0; parts[i] && !*why; i++) {
            GError *re_error = NULL;
            if (!*parts[i])
                continue;
            if (parts[i][0] == '^') {
                GRegex *re = g_regex_new(parts[i], G_REGEX_CASELESS, 0, &re_error);
                if (!re) {
                    *why = g_strdup_printf("%s: '%s' is not a regular expression: %s", key, parts[i],
                                           re_error->message);
                    g_error_free(re_error);
                } else {
                    g_regex_unref(re);
                }
            } else if (!strchr(parts[i], '@')) {
                *why = g_strdup_printf("%s: '%s' is neither an address, a pattern like *@domain, "
                                       "nor a regular expression starting with ^", key, parts[i]);
            }
            if (!*why)
                g_string_append_printf(out, "%s%s", out->len ? " " : "", parts[i]);
        }
        g_strfreev(parts);
        g_free(v);
        v = g_string_free(out, FALSE);
        break;
    }
    case SETTING_TYPELIST: {
        char **parts = g_strsplit_set(v, ", \t", 0);
        for (int i = 0; parts[i] && !*why; i++) {
            char *slash;
            if (!*parts[i])
                continue;
            slash = strchr(parts[i], '/');
            if (!slash || slash == parts[i] || !slash[1] || strchr(slash + 1, '/'))
                *why = g_strdup_printf("%s: '%s' is not a MIME type (type/subtype or type/*)", key, parts[i]);
        }
        g_strfreev(parts);
        break;
    }
    case SETTING_HEADERRULES: {
        char *norm = moderation_rules_normalize(v, why);
        g_free(v);
        v = norm;
        break;
    }
    case SETTING_STRING:
        break;
    }
    if (*why) {
        g_free(v);
        return NULL;
    }
    return v;
}

char *
list_setting(const Instance *inst, const char *list, const char *key)
{
    const SettingDef *def = setting_find(key);
    sqlite3_stmt *st;
    char *v = NULL;

    g_return_val_if_fail(def != NULL, g_strdup(""));
    st = db_prepare(inst->db, "SELECT value FROM list_settings WHERE list = ? AND key = ?");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = g_strdup(sqlite3_column_text(st, 0) ? (const char *) sqlite3_column_text(st, 0) : "");
    sqlite3_finalize(st);
    if (!v) {
        char *raw = g_key_file_get_string(inst->conf, "list-defaults", key, NULL);
        if (raw) {
            char *why = NULL;
            v = setting_validate(key, raw, &why);
            if (!v)
                log_warn("kairan.conf [list-defaults]: %s (using the built-in default)", why);
            g_free(why);
            g_free(raw);
        }
    }
    if (!v)
        v = g_strdup(def->dflt);
    return v;
}

gint64
list_setting_int(const Instance *inst, const char *list, const char *key)
{
    const SettingDef *def = setting_find(key);
    char *v = list_setting(inst, list, key);
    gint64 r = (def && def->type == SETTING_DURATION) ? parse_duration(v) : g_ascii_strtoll(v, NULL, 10);
    g_free(v);
    return r < 0 ? 0 : r;
}

gboolean
list_setting_bool(const Instance *inst, const char *list, const char *key)
{
    return list_setting_is(inst, list, key, "yes");
}

gboolean
list_setting_is(const Instance *inst, const char *list, const char *key, const char *word)
{
    char *v = list_setting(inst, list, key);
    gboolean r = g_str_equal(v, word);
    g_free(v);
    return r;
}

char **
list_setting_addrs(const Instance *inst, const char *list, const char *key)
{
    char *v = list_setting(inst, list, key);
    char **parts = g_strsplit_set(v, ", \t", 0);
    GPtrArray *out = g_ptr_array_new();

    for (int i = 0; parts[i]; i++) {
        char *a = *parts[i] ? address_normalize(parts[i], NULL) : NULL;
        if (a)
            g_ptr_array_add(out, a);
    }
    g_ptr_array_add(out, NULL);
    g_strfreev(parts);
    g_free(v);
    return (char **) g_ptr_array_free(out, FALSE);
}

gboolean
list_setting_set(Instance *inst, const char *list, const char *key,
                 const char *value, GError **error)
{
    char *why = NULL;
    char *v = setting_validate(key, value, &why);
    sqlite3_stmt *st;
    gboolean ok;

    if (!v) {
        g_set_error_literal(error, KAIRAN_ERROR, EXIT_USAGE, why);
        g_free(why);
        return FALSE;
    }
    st = db_prepare(inst->db, "INSERT OR REPLACE INTO list_settings(list, key, value) VALUES(?, ?, ?)");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, v, -1, SQLITE_STATIC);
    ok = db_step_done(st, error);
    g_free(v);
    return ok;
}
