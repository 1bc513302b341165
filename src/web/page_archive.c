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
#include "deliver/deliver.h"
#include "mailview.h"
#include "util.h"

#include <string.h>

typedef struct {
    gint64 num;
    char *message_id, *in_reply_to, *refs, *subject, *from, *when;
    gint64 parent;          /* num of the parent in this archive, 0 = root */
    GArray *children;       /* gint64 nums */
} Post;

static void
post_free(gpointer p)
{
    Post *x = p;
    g_free(x->message_id);
    g_free(x->in_reply_to);
    g_free(x->refs);
    g_free(x->subject);
    g_free(x->from);
    g_free(x->when);
    g_array_unref(x->children);
    g_free(x);
}

static gboolean
parse_num(const char *s, gint64 *out)
{
    if (!s || !*s || strlen(s) > 15 || strspn(s, "0123456789") != strlen(s) || s[0] == '0')
        return FALSE;
    *out = g_ascii_strtoll(s, NULL, 10);
    return *out > 0;
}

static Post *
post_from_row(sqlite3_stmt *st)
{
    Post *p = g_new0(Post, 1);
    const char *name = (const char *) sqlite3_column_text(st, 5);
    const char *addr = (const char *) sqlite3_column_text(st, 4);
    p->num = sqlite3_column_int64(st, 0);
    p->message_id = g_strdup((const char *) sqlite3_column_text(st, 1));
    p->when = fmt_time(sqlite3_column_int64(st, 2));
    p->subject = g_strdup(sqlite3_column_text(st, 3) ? (const char *) sqlite3_column_text(st, 3) : "");
    p->from = g_strdup(name && *name ? name : addr ? addr : "");
    p->in_reply_to = g_strdup((const char *) sqlite3_column_text(st, 6));
    p->refs = g_strdup((const char *) sqlite3_column_text(st, 7));
    p->children = g_array_new(FALSE, FALSE, sizeof(gint64));
    return p;
}

#define POST_COLUMNS "num, message_id, date, subject, from_addr, from_name, in_reply_to, refs"

static void
post_item(TData *it, Post *p, int depth)
{
    tdata_set_int(it, "num", p->num);
    tdata_set(it, "subject", p->subject);
    tdata_set(it, "from", p->from);
    tdata_set(it, "when", p->when);
    tdata_set_int(it, "depth", depth > 12 ? 12 : depth);
}

static void
archive_index(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    gint64 total = db_int64(c->inst->db, "SELECT COUNT(*) FROM archive WHERE list = ?", list);
    gint64 page = param(c, "page") ? g_ascii_strtoll(param(c, "page"), NULL, 10) : 1, pages;
    sqlite3_stmt *st;
    char *title;
    pages = total ? (total + PAGE_SIZE - 1) / PAGE_SIZE : 1;
    page = CLAMP(page, 1, pages);
    st = db_prepare(c->inst->db, "SELECT " POST_COLUMNS " FROM archive WHERE list = ? ORDER BY num DESC LIMIT ? OFFSET ?");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, PAGE_SIZE);
    sqlite3_bind_int64(st, 3, (page - 1) * PAGE_SIZE);
    while (sqlite3_step(st) == SQLITE_ROW) {
        Post *p = post_from_row(st);
        post_item(tdata_add(d, "posts"), p, 0);
        post_free(p);
    }
    sqlite3_finalize(st);
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
    page_render(c, 200, "archive", d, title);
    g_free(title);
}

static void
thread_walk(TData *d, GHashTable *by_num, gint64 num, int depth)
{
    Post *p = g_hash_table_lookup(by_num, &num);
    if (!p)
        return;
    post_item(tdata_add(d, "posts"), p, depth);
    for (guint i = 0; i < p->children->len; i++)
        thread_walk(d, by_num, g_array_index(p->children, gint64, i), depth + 1);
}

static void
archive_threads(WebCtx *c, const char *list)
{
    TData *d = tdata_new();
    GHashTable *by_num = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, post_free);
    GHashTable *by_id = g_hash_table_new(g_str_hash, g_str_equal);
    GArray *order = g_array_new(FALSE, FALSE, sizeof(gint64));
    sqlite3_stmt *st = db_prepare(c->inst->db, "SELECT " POST_COLUMNS " FROM archive WHERE list = ? ORDER BY num");
    char *title;

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        Post *p = post_from_row(st);
        g_hash_table_insert(by_num, &p->num, p);
        if (p->message_id && !g_hash_table_contains(by_id, p->message_id))
            g_hash_table_insert(by_id, p->message_id, p);
        g_array_append_val(order, p->num);
    }
    sqlite3_finalize(st);
    for (guint i = 0; i < order->len; i++) {
        Post *p = g_hash_table_lookup(by_num, &g_array_index(order, gint64, i));
        Post *parent = p->in_reply_to && *p->in_reply_to ? g_hash_table_lookup(by_id, p->in_reply_to) : NULL;
        if (!parent && p->refs && *p->refs) {
            char **refs = g_strsplit(p->refs, " ", 0);
            for (int k = (int) g_strv_length(refs) - 1; k >= 0 && !parent; k--)
                parent = g_hash_table_lookup(by_id, refs[k]);
            g_strfreev(refs);
        }
        /* only earlier posts can be parents: no cycles */
        if (parent && parent->num < p->num) {
            p->parent = parent->num;
            g_array_append_val(parent->children, p->num);
        }
    }
    /* newest thread first */
    for (guint i = order->len; i > 0; i--) {
        Post *p = g_hash_table_lookup(by_num, &g_array_index(order, gint64, i - 1));
        if (p->parent == 0)
            thread_walk(d, by_num, p->num, 0);
    }
    tdata_set(d, "list", list);
    tdata_set(d, "base", c->req->base);
    tdata_set_bool(d, "threads", TRUE);
    tdata_set_int(d, "total", order->len);
    title = g_strdup_printf("%s: %s", list, T(c, "Threads"));
    page_render(c, 200, "archive", d, title);
    g_free(title);
    g_array_unref(order);
    g_hash_table_unref(by_id);
    g_hash_table_unref(by_num);
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
            sqlite3_stmt *st = db_prepare(c->inst->db, "SELECT " POST_COLUMNS " FROM archive WHERE list = ? AND num = ?");
            sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, g_array_index(nums, gint64, i));
            if (sqlite3_step(st) == SQLITE_ROW) {
                Post *p = post_from_row(st);
                post_item(tdata_add(d, "posts"), p, 0);
                post_free(p);
            }
            sqlite3_finalize(st);
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
        archive_threads(c, list);
    else if (c->nseg == 4 && g_str_equal(c->seg[3], "search"))
        archive_search_page(c, list);
    else if (c->nseg == 4 && parse_num(c->seg[3], &num))
        archive_post(c, list, num, NULL);
    else if (c->nseg == 6 && parse_num(c->seg[3], &num) && g_str_equal(c->seg[4], "attachment"))
        archive_post(c, list, num, c->seg[5]);
    else
        web_fail(c, 404, T(c, "There is no such post."));
}
