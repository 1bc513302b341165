/* page_archive.c - the archive of a list in the browser: the index by
 * number (newest first, paginated), full-text search, the thread view (parents found by
 * In-Reply-To, else the last known References entry), one post with
 * its text decoded from its charset, and its attachments downloaded
 * with their Content-Type and Content-Disposition: attachment.  Who may
 * read follows archive_access.  Post numbers and attachment indexes
 * must be plain decimal numbers; anything else is 404, so no path ever
 * reaches the file system unchecked. */
#include "config.h"
#include "webint.h"
#include "db.h"
#include "lists.h"
#include "archive.h"
#include "mailview.h"
#include "util.h"

#include <string.h>

static gboolean
parse_num(const char *s, gint64 *out)
{
    if (!s || !*s || strlen(s) > 15 || strspn(s, "0123456789") != strlen(s) || s[0] == '0')
        return FALSE;
    *out = g_ascii_strtoll(s, NULL, 10);
    return *out > 0;
}

/* post_item - one post of a listing: number, subject, author, date. */
static void
post_item(TData *it, const ArchivePost *p, int depth)
{
    const char *from = p->from_name && *p->from_name ? p->from_name : p->from_addr ? p->from_addr : "";
    char *when = fmt_time(p->date);
    tdata_set_int(it, "num", p->num);
    tdata_set(it, "subject", p->subject);
    tdata_set(it, "from", from);
    tdata_set(it, "when", when);
    tdata_set_int(it, "depth", depth > 12 ? 12 : depth);
    g_free(when);
}

/* set_feed_link - the <link rel="alternate"> of a public archive's pages
 * (layout.html) and the visible link (archive.html). */
static void
set_feed_link(WebCtx *c, TData *d, const char *list)
{
    if (page_feed_available(c, list)) {
        g_free(c->feed_href);
        c->feed_href = g_strdup_printf("%s/list/%s/feed.atom", c->req->base, list);
        tdata_set(d, "feed", c->feed_href);
    }
}

static void
archive_index(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    gint64 total = archive_count(c->inst, list, NULL);
    gint64 page = param(c, "page") ? g_ascii_strtoll(param(c, "page"), NULL, 10) : 1, pages;
    GPtrArray *posts;
    char *title;
    pages = total ? (total + PAGE_SIZE - 1) / PAGE_SIZE : 1;
    page = CLAMP(page, 1, pages);
    posts = archive_list(c->inst, list, (page - 1) * PAGE_SIZE, PAGE_SIZE, TRUE);
    for (guint i = 0; i < posts->len; i++)
        post_item(tdata_add(d, "posts"), posts->pdata[i], 0);
    g_ptr_array_unref(posts);
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set_int(d, "total", total);
    tdata_set_int(d, "page", page);
    tdata_set_int(d, "pages", pages);
    if (page > 1)
        tdata_set_int(d, "prev", page - 1);
    if (page < pages)
        tdata_set_int(d, "next", page + 1);
    title = g_strdup_printf("%s: %s", list, T(c, "Archive"));
    set_feed_link(c, d, list);
    page_render(c, 200, "archive", d, title);
    g_free(title);
}

static void
archive_threads_page(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    GArray *entries = archive_threads(c->inst, list);   /* archive.c */
    char *title;

    for (guint i = 0; i < entries->len; i++) {
        ArchiveThreadEntry *e = &g_array_index(entries, ArchiveThreadEntry, i);
        post_item(tdata_add(d, "posts"), e->post, e->depth);
    }
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set_bool(d, "threads", TRUE);
    tdata_set_int(d, "total", entries->len);
    title = g_strdup_printf("%s: %s", list, T(c, "Threads"));
    set_feed_link(c, d, list);
    page_render(c, 200, "archive", d, title);
    g_free(title);
    archive_threads_free(entries);
}

static gboolean
safe_mime_type(const char *t)
{
    const char *slash = strchr(t, '/');
    if (!slash || slash == t || !slash[1] || strchr(slash + 1, '/'))
        return FALSE;
    for (const char *p = t; *p; p++)
        if (!(g_ascii_isalnum(*p) || strchr("/!#$&^_.+-", *p)))
            return FALSE;
    return TRUE;
}

static void
send_attachment(WebCtx *c, MailView *v, gint64 k)
{
    const MailAttachment *a = NULL;
    GByteArray *data = mailview_attachment_bytes(v, (int) k, &a);
    GString *disp;
    char *ascii;
    if (!data) {
        web_fail(c, 404, T(c, "There is no such attachment."));
        return;
    }
    web_set_body(c, safe_mime_type(a->mime_type) ? a->mime_type : "application/octet-stream", data->data, data->len);
    /* filename="ASCII fallback"; filename*=UTF-8''percent-encoded (RFC 6266) */
    ascii = g_strdup(a->filename && *a->filename ? a->filename : "attachment");
    for (char *p = ascii; *p; p++)
        if ((guchar) *p < 0x20 || (guchar) *p > 0x7e || *p == '"' || *p == '\\' || *p == '/' || *p == ';')
            *p = '_';
    disp = g_string_new(NULL);
    g_string_append_printf(disp, "attachment; filename=\"%s\"", ascii);
    if (a->filename && *a->filename && g_utf8_validate(a->filename, -1, NULL)) {
        char *enc = g_uri_escape_string(a->filename, NULL, FALSE);
        g_string_append_printf(disp, "; filename*=UTF-8''%s", enc);
        g_free(enc);
    }
    web_response_header(c->resp, "Content-Disposition", disp->str);
    g_string_free(disp, TRUE);
    g_free(ascii);
    g_byte_array_unref(data);
}

static void
archive_post(WebCtx *c, const char *list, gint64 num, const char *att)
{
    char *path = archive_path(c->inst, list, num);
    MailView *v = g_file_test(path, G_FILE_TEST_IS_REGULAR) ? mailview_load(path) : NULL;
    TData *d;
    char *title;
    gint64 k;

    g_free(path);
    if (!v) {
        web_fail(c, 404, T(c, "There is no such post."));
        return;
    }
    if (att) {
        if (!parse_num(att, &k))
            web_fail(c, 404, T(c, "There is no such attachment."));
        else
            send_attachment(c, v, k);
        mailview_free(v);
        return;
    }
    d = tdata_new();
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set_int(d, "num", num);
    if (num > 1)
        tdata_set_int(d, "prev", num - 1);
    if (num < list_last_number(c->inst, list))
        tdata_set_int(d, "next", num + 1);
    tdata_set(d, "subject", v->subject);
    tdata_set(d, "from", v->from);
    tdata_set(d, "to", v->to);
    tdata_set(d, "cc", v->cc);
    tdata_set(d, "date", v->date);
    tdata_set(d, "text", v->text->str);
    if (v->parts_total) {
        tdata_set_int(d, "parts_total", (gint64) v->parts_total);
        tdata_set_int(d, "parts_shown", (gint64) v->parts_shown);
    }
    for (guint i = 0; i < v->attachments->len; i++) {
        MailAttachment *a = v->attachments->pdata[i];
        TData *it = tdata_add(d, "attachments");
        tdata_set_int(it, "index", a->index);
        tdata_set(it, "type", a->mime_type);
        tdata_set(it, "filename", a->filename ? a->filename : a->mime_type);
    }
    title = g_strdup_printf("%s #%" G_GINT64_FORMAT ": %s", list, num, v->subject);
    page_render(c, 200, "post", d, title);
    g_free(title);
    mailview_free(v);
}

#define SEARCH_LIMIT 200
#define INDEX_PER_REQUEST 5000

/* archive_search_page - GET .../archive/search?q=WORDS: the posts that
 * hold every word, newest first (archive_search.c). */
static void
archive_search_page(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    const char *q = param(c, "q");
    char *title;

    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set_bool(d, "search_form", TRUE);
    if (q && *q) {
        GArray *nums;
        archive_search_update(c->inst, list, INDEX_PER_REQUEST);      /* posts since the last search */
        if (archive_search_pending(c->inst, list) > 0)
            tdata_set_bool(d, "partial", TRUE);
        nums = archive_search(c->inst, list, q, SEARCH_LIMIT + 1);
        tdata_set(d, "q", q);
        tdata_set_bool(d, "searched", TRUE);
        tdata_set_int(d, "found", MIN(nums->len, SEARCH_LIMIT));
        if (nums->len > SEARCH_LIMIT) {
            tdata_set_bool(d, "more", TRUE);
            tdata_set_int(d, "limit", SEARCH_LIMIT);
        }
        for (guint i = 0; i < nums->len && i < SEARCH_LIMIT; i++) {
            ArchivePost *p = archive_get(c->inst, list, g_array_index(nums, gint64, i));
            if (p)
                post_item(tdata_add(d, "posts"), p, 0);
            archive_post_free(p);
        }
        g_array_unref(nums);
    }
    title = g_strdup_printf("%s: %s", list, T(c, "Search the archive"));
    page_render(c, 200, "archive", d, title);
    g_free(title);
}

void
page_archive(WebCtx *c, const char *list)
{
    gint64 num;
    if (!may_read_archive(c, list)) {
        if (!c->sess) {
            char *to = g_strdup_printf("/login?list=%s", list);
            web_redirect(c, to);
            g_free(to);
        } else {
            web_fail(c, 403, T(c, "The archive of this list is not open to you."));
        }
        return;
    }
    if (c->nseg == 3)
        archive_index(c, list);
    else if (c->nseg == 4 && g_str_equal(c->seg[3], "thread"))
        archive_threads_page(c, list);
    else if (c->nseg == 4 && g_str_equal(c->seg[3], "search"))
        archive_search_page(c, list);
    else if (c->nseg == 4 && parse_num(c->seg[3], &num))
        archive_post(c, list, num, NULL);
    else if (c->nseg == 6 && parse_num(c->seg[3], &num) && g_str_equal(c->seg[4], "attachment"))
        archive_post(c, list, num, c->seg[5]);
    else
        web_fail(c, 404, T(c, "There is no such post."));
}
