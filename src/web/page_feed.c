/* page_feed.c - GET /list/LIST/feed.atom: the newest posts of a public
 * archive as an Atom feed (RFC 4287), for feed readers and planets.
 *
 * Only an archive with archive_access = public has a feed (a feed reader
 * has no session): 403 for members- or owners-only archives (logged in
 * or not), 404 when there is no such list (core.c) or feed_entries = 0.
 * Each entry is one post, newest first, feed_entries of them:
 *   - id: tag:DOMAIN,CREATED:LIST/N (RFC 4151; CREATED is the day the
 *     list was made, so a list removed and made again under the same
 *     name does not reuse the ids of the old one), never changing;
 *   - link: the post's page, the URL Archived-At names (web_url when it
 *     is set, else the Host of the request and the front end's base);
 *   - title: the decoded Subject (UTF-8, Japanese without loss);
 *   - author: the display name only, or the local part of the address
 *     when the From has no name: a public feed is what address
 *     harvesters read, so no address is given out;
 *   - published/updated: the post's Date (RFC 3339, UTC);
 *   - summary: the start of the post's first text part.
 * Feed readers poll: the answer has an ETag (a digest of what the feed
 * is made of: the archive's size and last number, feed_entries, the
 * base URL, the description; posts never change once archived) and
 * Cache-Control: no-cache, and a GET whose If-None-Match names it is
 * answered 304 without reading a post.
 * Every text goes through feed_text(): invalid UTF-8 is repaired,
 * characters XML 1.0 does not allow are dropped, the rest is escaped by
 * g_markup_escape_text. */
#include "config.h"
#include "webint.h"
#include "archive.h"
#include "db.h"
#include "lists.h"
#include "domains.h"
#include "mailview.h"
#include "settings.h"
#include "util.h"

#include <string.h>
#include <sys/stat.h>

#define FEED_MAX_ENTRIES 200
#define FEED_SUMMARY_CHARS 400

/* xml_char_ok - may c appear in an XML 1.0 document (production Char)? */
static gboolean
xml_char_ok(gunichar c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

/* feed_text - append s (any bytes) to out as XML character data. */
static void
feed_text(GString *out, const char *s)
{
    char *valid = g_utf8_make_valid(s ? s : "", -1);
    GString *clean = g_string_sized_new(strlen(valid));
    char *esc;

    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar ch = g_utf8_get_char(p);
        if (xml_char_ok(ch))
            g_string_append_unichar(clean, ch);
    }
    esc = g_markup_escape_text(clean->str, (gssize) clean->len);
    g_string_append(out, esc);
    g_free(esc);
    g_string_free(clean, TRUE);
    g_free(valid);
}

/* rfc3339 - seconds since the epoch as 2026-12-01T09:30:00Z. */
static char *
rfc3339(gint64 t)
{
    GDateTime *dt = g_date_time_new_from_unix_utc(t > 0 ? t : 0);
    char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
    g_date_time_unref(dt);
    return s;
}

/* feed_base - the absolute URL the web pages are under, without a final
 * slash: the list domain's web_url (else [global] web_url), else http(s)://HOST + the front end's base,
 * else just the base (a relative link). */
static char *
feed_base(WebCtx *c, const char *list)
{
    char *web = list_web_url(c->inst, list);
    const char *host = g_hash_table_lookup(c->req->headers, "host");
    char *out;

    if (web && *web) {
        gsize n = strlen(web);
        while (n > 0 && web[n - 1] == '/')
            n--;
        out = g_strndup(web, n);
    } else if (host && *host && strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")
                                    == strlen(host)) {
        out = g_strdup_printf("%s://%s%s", c->req->https ? "https" : "http", host, c->req->base);
    } else {
        out = g_strdup(c->req->base);
    }
    g_free(web);
    return out;
}

/* list_created_day - the day the list was made, YYYY-MM-DD (UTC). */
static char *
list_created_day(Instance *inst, const char *list)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT created FROM lists WHERE name = ?");
    gint64 created = 0;
    GDateTime *dt;
    char *s;

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        created = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    dt = g_date_time_new_from_unix_utc(created > 0 ? created : 0);
    s = g_date_time_format(dt, "%Y-%m-%d");
    g_date_time_unref(dt);
    return s;
}

/* summary_of - the start of the first text part, whitespace folded. */
static char *
summary_of(const MailView *v)
{
    GString *out = g_string_new(NULL);
    const char *p = v && v->text ? v->text->str : "";
    glong n = 0;
    gboolean blank = FALSE;

    for (; *p && n < FEED_SUMMARY_CHARS; p = g_utf8_next_char(p)) {
        gunichar ch = g_utf8_get_char_validated(p, -1);
        if (ch == (gunichar) -1 || ch == (gunichar) -2)
            break;
        if (g_unichar_isspace(ch)) {
            blank = out->len > 0;
            continue;
        }
        if (blank)
            g_string_append_c(out, ' ');
        blank = FALSE;
        g_string_append_unichar(out, ch);
        n++;
    }
    if (*p && n >= FEED_SUMMARY_CHARS)
        g_string_append(out, "…");
    return g_string_free(out, FALSE);
}

/* author_of - the name shown for a post (never its address). */
static char *
author_of(const ArchivePost *p)
{
    if (p->from_name && *p->from_name)
        return g_strdup(p->from_name);
    if (p->from_addr && *p->from_addr) {
        const char *at = strrchr(p->from_addr, '@');
        return at ? g_strndup(p->from_addr, (gsize) (at - p->from_addr)) : g_strdup(p->from_addr);
    }
    return g_strdup("unknown");
}

/* post_date - the post's Date, else when its file was written. */
static gint64
post_date(WebCtx *c, const char *list, const ArchivePost *p)
{
    char *path;
    struct stat sb;
    gint64 t = 0;

    if (p->date > 0)
        return p->date;
    path = archive_path(c->inst, list, p->num);
    if (stat(path, &sb) == 0)
        t = (gint64) sb.st_mtime;
    g_free(path);
    return t;
}

static void
feed_entry(WebCtx *c, GString *x, const char *list, const char *base, const char *tag,
           const ArchivePost *p)
{
    char *path = archive_path(c->inst, list, p->num);
    MailView *v = g_file_test(path, G_FILE_TEST_IS_REGULAR) ? mailview_load(path) : NULL;
    char *when = rfc3339(post_date(c, list, p));
    char *author = author_of(p);
    char *summary = summary_of(v);
    char *link = g_strdup_printf("%s/list/%s/archive/%" G_GINT64_FORMAT, base, list, p->num);

    g_string_append(x, "<entry>\n<title type=\"text\">");
    feed_text(x, p->subject && *p->subject ? p->subject : "(no subject)");
    g_string_append_printf(x, "</title>\n<id>%s/%" G_GINT64_FORMAT "</id>\n", tag, p->num);
    g_string_append(x, "<link rel=\"alternate\" type=\"text/html\" href=\"");
    feed_text(x, link);
    g_string_append_printf(x, "\"/>\n<published>%s</published>\n<updated>%s</updated>\n", when, when);
    g_string_append(x, "<author><name>");
    feed_text(x, author);
    g_string_append(x, "</name></author>\n<summary type=\"text\">");
    feed_text(x, summary);
    g_string_append(x, "</summary>\n</entry>\n");
    if (v)
        mailview_free(v);
    g_free(link);
    g_free(summary);
    g_free(author);
    g_free(when);
    g_free(path);
}

gboolean
page_feed_available(WebCtx *c, const char *list)
{
    return list_setting_is(c->inst, list, "archive_access", "public") &&
           list_setting_int(c->inst, list, "feed_entries") > 0;
}

/* feed_etag - the strong validator of the feed as it would be made now. */
static char *
feed_etag(WebCtx *c, const char *list, gint64 n, const char *base, const char *desc, const char *day)
{
    gint64 count = archive_count(c->inst, list, NULL);
    char *src = g_strdup_printf("%" G_GINT64_FORMAT "\n%" G_GINT64_FORMAT "\n%" G_GINT64_FORMAT "\n%s\n%s\n%s\n%s",
                                count, list_last_number(c->inst, list), n, base, desc, day, list);
    char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, src, -1);
    char *etag = g_strdup_printf("\"%.32s\"", sum);
    g_free(sum);
    g_free(src);
    return etag;
}

/* etag_matches - does an If-None-Match value name etag (or "*")? */
static gboolean
etag_matches(const char *header, const char *etag)
{
    gboolean found = FALSE;
    char **items;

    if (!header)
        return FALSE;
    items = g_strsplit(header, ",", 0);
    for (int i = 0; items[i] && !found; i++) {
        const char *v = g_strstrip(items[i]);
        if (g_str_has_prefix(v, "W/"))
            v += 2;                /* weak comparison, as RFC 9110 wants for If-None-Match */
        found = g_str_equal(v, "*") || g_str_equal(v, etag);
    }
    g_strfreev(items);
    return found;
}

void
page_feed(WebCtx *c, const char *list)
{
    gint64 n = list_setting_int(c->inst, list, "feed_entries");
    GString *x;
    GPtrArray *posts;
    char *base, *day, *tag, *updated, *desc, *etag;
    gint64 newest = 0;

    if (!list_setting_is(c->inst, list, "archive_access", "public")) {
        web_fail(c, 403, T(c, "The archive of this list is not public, so it has no feed."));
        return;
    }
    if (n <= 0) {
        web_fail(c, 404, T(c, "This list has no feed (feed_entries = 0)."));
        return;
    }
    base = feed_base(c, list);
    day = list_created_day(c->inst, list);
    desc = list_setting(c->inst, list, "description");
    etag = feed_etag(c, list, n, base, desc, day);
    web_response_header(c->resp, "ETag", etag);
    web_response_header(c->resp, "Cache-Control", "no-cache");
    if (etag_matches(g_hash_table_lookup(c->req->headers, "if-none-match"), etag)) {
        c->resp->status = 304;      /* nothing new: no post is read */
        g_free(etag);
        g_free(base);
        g_free(day);
        g_free(desc);
        return;
    }
    g_free(etag);
    posts = archive_list(c->inst, list, 0, MIN(n, FEED_MAX_ENTRIES), TRUE);
    {
        char *dom = list_domain(c->inst, list);
        tag = g_strdup_printf("tag:%s,%s:%s", dom, day, list);
        g_free(dom);
    }
    for (guint i = 0; i < posts->len; i++)
        newest = MAX(newest, post_date(c, list, posts->pdata[i]));
    updated = rfc3339(newest > 0 ? newest : now_seconds());

    x = g_string_new("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                     "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title type=\"text\">");
    feed_text(x, list);
    g_string_append(x, "</title>\n");
    if (*desc) {
        g_string_append(x, "<subtitle type=\"text\">");
        feed_text(x, desc);
        g_string_append(x, "</subtitle>\n");
    }
    g_string_append_printf(x, "<id>%s</id>\n<updated>%s</updated>\n", tag, updated);
    g_string_append(x, "<link rel=\"self\" type=\"application/atom+xml\" href=\"");
    feed_text(x, base);
    g_string_append_printf(x, "/list/%s/feed.atom\"/>\n", list);
    g_string_append(x, "<link rel=\"alternate\" type=\"text/html\" href=\"");
    feed_text(x, base);
    g_string_append_printf(x, "/list/%s/archive\"/>\n", list);
    g_string_append_printf(x, "<author><name>%s</name></author>\n", list);
    g_string_append(x, "<generator>kairan</generator>\n");
    for (guint i = 0; i < posts->len; i++)
        feed_entry(c, x, list, base, tag, posts->pdata[i]);
    g_string_append(x, "</feed>\n");
    web_set_body(c, "application/atom+xml; charset=utf-8", x->str, x->len);

    g_string_free(x, TRUE);
    g_ptr_array_unref(posts);
    g_free(base);
    g_free(day);
    g_free(tag);
    g_free(updated);
    g_free(desc);
}
