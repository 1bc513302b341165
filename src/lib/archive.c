/* archive.c - the archive of a list: files under spool/LIST/archive/ and
 * rows of the archive table (archive.h).  The only place that knows the
 * archive's paths and columns for reading; see db.c for the schema. */
#define _GNU_SOURCE 1        /* syncfs */
#include "config.h"
#include "archive.h"
#include "db.h"
#include "message.h"
#include "japanese.h"
#include "address.h"
#include "util.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define POST_COLUMNS "num, message_id, date, subject, from_addr, from_name, in_reply_to, refs, size"

void
archive_post_free(ArchivePost *p)
{
    if (!p)
        return;
    g_free(p->message_id);
    g_free(p->subject);
    g_free(p->from_addr);
    g_free(p->from_name);
    g_free(p->in_reply_to);
    g_free(p->refs);
    g_free(p);
}

static char *
column_dup(sqlite3_stmt *st, int i)
{
    const char *v = (const char *) sqlite3_column_text(st, i);
    return v ? g_strdup(v) : NULL;
}

static ArchivePost *
post_from_row(sqlite3_stmt *st)
{
    ArchivePost *p = g_new0(ArchivePost, 1);
    p->num = sqlite3_column_int64(st, 0);
    p->message_id = column_dup(st, 1);
    p->date = sqlite3_column_int64(st, 2);
    p->subject = column_dup(st, 3);
    if (!p->subject)
        p->subject = g_strdup("");
    p->from_addr = column_dup(st, 4);
    p->from_name = column_dup(st, 5);
    p->in_reply_to = column_dup(st, 6);
    p->refs = column_dup(st, 7);
    p->size = sqlite3_column_int64(st, 8);
    return p;
}

char *
archive_path(const Instance *inst, const char *list, gint64 num)
{
    char numtext[32];
    g_snprintf(numtext, sizeof(numtext), "%" G_GINT64_FORMAT, num);
    return instance_path(inst, "spool", list, "archive", numtext, NULL);
}

char *
archive_dir(const Instance *inst, const char *list)
{
    return instance_path(inst, "spool", list, "archive", NULL);
}

gint64
archive_count(Instance *inst, const char *list, gint64 *last_date)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT COUNT(*), MAX(date) FROM archive WHERE list = ?");
    gint64 n = 0;

    if (last_date)
        *last_date = 0;
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
        if (last_date)
            *last_date = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return n;
}

ArchivePost *
archive_get(Instance *inst, const char *list, gint64 num)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT " POST_COLUMNS " FROM archive WHERE list = ? AND num = ?");
    ArchivePost *p = NULL;

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, num);
    if (sqlite3_step(st) == SQLITE_ROW)
        p = post_from_row(st);
    sqlite3_finalize(st);
    return p;
}

GPtrArray *
archive_list(Instance *inst, const char *list, gint64 offset, gint64 limit, gboolean newest_first)
{
    sqlite3_stmt *st = db_prepare(inst->db, newest_first
        ? "SELECT " POST_COLUMNS " FROM archive WHERE list = ? ORDER BY num DESC LIMIT ? OFFSET ?"
        : "SELECT " POST_COLUMNS " FROM archive WHERE list = ? ORDER BY num LIMIT ? OFFSET ?");
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) archive_post_free);

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit < 0 ? -1 : limit);
    sqlite3_bind_int64(st, 3, MAX(offset, 0));
    while (sqlite3_step(st) == SQLITE_ROW)
        g_ptr_array_add(out, post_from_row(st));
    sqlite3_finalize(st);
    return out;
}

GPtrArray *
archive_list_after(Instance *inst, const char *list, gint64 after, gint64 limit)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT " POST_COLUMNS " FROM archive WHERE list = ? AND num > ?"
                                            " ORDER BY num LIMIT ?");
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) archive_post_free);

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, limit < 0 ? -1 : limit);
    while (sqlite3_step(st) == SQLITE_ROW)
        g_ptr_array_add(out, post_from_row(st));
    sqlite3_finalize(st);
    return out;
}

GArray *
archive_numbers_visible(Instance *inst, const char *list, const char *address, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db,
        "SELECT num FROM archive WHERE list = ?1 AND num NOT IN"
        " (SELECT num FROM pop_hidden WHERE list = ?1 AND address = ?2) ORDER BY num");
    GArray *nums = g_array_new(FALSE, FALSE, sizeof(gint64));
    int rc;

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, address ? address : "", -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        gint64 num = sqlite3_column_int64(st, 0);
        g_array_append_val(nums, num);
    }
    if (rc != SQLITE_DONE) {
        db_set_error(inst->db, error, "archive index");
        g_array_unref(nums);
        nums = NULL;
    }
    sqlite3_finalize(st);
    return nums;
}

GArray *
archive_find_message_id(Instance *inst, const char *list, const char *message_id)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT num FROM archive WHERE list = ? AND message_id = ? ORDER BY num");
    GArray *nums = g_array_new(FALSE, FALSE, sizeof(gint64));

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, message_id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        gint64 num = sqlite3_column_int64(st, 0);
        g_array_append_val(nums, num);
    }
    sqlite3_finalize(st);
    return nums;
}

typedef struct {
    ArchivePost *post;
    gint64 parent;          /* num of the parent in this archive, 0 = root */
    GArray *children;       /* gint64 nums */
} Node;

static void
node_free(gpointer p)
{
    Node *n = p;
    archive_post_free(n->post);
    g_array_unref(n->children);
    g_free(n);
}

/* thread_walk - append num and its replies (depth-first) to out; the
 * node's post moves into out.  Iterative: a long reply chain cannot
 * exhaust the stack. */
static void
thread_walk(GArray *out, GHashTable *by_num, gint64 root)
{
    GArray *stack = g_array_new(FALSE, FALSE, sizeof(gint64) * 2);
    gint64 item[2] = { root, 0 };

    g_array_append_val(stack, item);
    while (stack->len > 0) {
        gint64 *top = &g_array_index(stack, gint64, (stack->len - 1) * 2);
        gint64 num = top[0], depth = top[1];
        Node *n;
        g_array_set_size(stack, stack->len - 1);
        n = g_hash_table_lookup(by_num, &num);
        if (!n || !n->post)
            continue;
        {
            ArchiveThreadEntry e = { n->post, (int) depth };
            g_array_append_val(out, e);
            n->post = NULL;
        }
        for (guint i = n->children->len; i > 0; i--) {
            gint64 child[2] = { g_array_index(n->children, gint64, i - 1), depth + 1 };
            g_array_append_val(stack, child);
        }
    }
    g_array_unref(stack);
}

GArray *
archive_threads(Instance *inst, const char *list)
{
    GPtrArray *rows = archive_list(inst, list, 0, -1, FALSE);
    GHashTable *by_num = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, node_free);
    GHashTable *by_id = g_hash_table_new(g_str_hash, g_str_equal);
    GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(ArchiveThreadEntry), rows->len);
    Node **nodes = g_new0(Node *, rows->len + 1);

    for (guint i = 0; i < rows->len; i++) {
        Node *n = g_new0(Node, 1);
        n->post = rows->pdata[i];
        rows->pdata[i] = NULL;
        n->children = g_array_new(FALSE, FALSE, sizeof(gint64));
        nodes[i] = n;
        g_hash_table_insert(by_num, &n->post->num, n);
        if (n->post->message_id && !g_hash_table_contains(by_id, n->post->message_id))
            g_hash_table_insert(by_id, n->post->message_id, n);
    }
    for (guint i = 0; i < rows->len; i++) {
        Node *n = nodes[i], *parent = NULL;
        ArchivePost *p = n->post;
        if (p->in_reply_to && *p->in_reply_to)
            parent = g_hash_table_lookup(by_id, p->in_reply_to);
        if (!parent && p->refs && *p->refs) {
            char **refs = g_strsplit(p->refs, " ", 0);
            for (int k = (int) g_strv_length(refs) - 1; k >= 0 && !parent; k--)
                parent = g_hash_table_lookup(by_id, refs[k]);
            g_strfreev(refs);
        }
        if (parent && parent->post->num < p->num) {
            n->parent = parent->post->num;
            g_array_append_val(parent->children, p->num);
        }
    }
    /* newest thread first; by_id's keys belong to posts, so drop it before
     * the posts move into out */
    g_hash_table_unref(by_id);
    for (guint i = rows->len; i > 0; i--)
        if (nodes[i - 1]->parent == 0)
            thread_walk(out, by_num, nodes[i - 1]->post->num);
    g_free(nodes);
    g_hash_table_unref(by_num);
    g_ptr_array_unref(rows);
    return out;
}

void
archive_threads_free(GArray *entries)
{
    if (!entries)
        return;
    for (guint i = 0; i < entries->len; i++)
        archive_post_free(g_array_index(entries, ArchiveThreadEntry, i).post);
    g_array_unref(entries);
}

gboolean
archive_read(const Instance *inst, const char *list, gint64 num, char **data, gsize *len)
{
    char *path = archive_path(inst, list, num);
    gboolean ok = g_file_get_contents(path, data, len, NULL);
    g_free(path);
    return ok;
}

GMimeMessage *
archive_parse(const Instance *inst, const char *list, gint64 num, gsize *size)
{
    char *data = NULL;
    gsize len = 0;
    GMimeMessage *msg = NULL;

    if (archive_read(inst, list, num, &data, &len))
        msg = parse_message_bounded((const guint8 *) data, len, ARCHIVE_READ_MAX_PARTS, NULL);
    g_free(data);
    if (size)
        *size = len;
    return msg;
}

/* Writing imported posts (kairan import): the bytes as they were archived
 * elsewhere, under the number they had there.  The caller holds the write
 * transaction; the files are written without a sync each and made durable
 * together by archive_sync before the caller commits. */

static char *
header_msgid(GMimeMessage *msg, const char *name)
{
    const char *v = g_mime_object_get_header(GMIME_OBJECT(msg), name);
    return v ? g_mime_utils_decode_message_id(v) : NULL;
}

static char *
references_text(GMimeMessage *msg)
{
    const char *v = g_mime_object_get_header(GMIME_OBJECT(msg), "References");
    GMimeReferences *refs = v ? g_mime_references_parse(NULL, v) : NULL;
    GString *s = g_string_new(NULL);
    if (refs) {
        for (int i = 0; i < g_mime_references_length(refs); i++)
            g_string_append_printf(s, "%s%s", i ? " " : "", g_mime_references_get_message_id(refs, i));
        g_mime_references_free(refs);
    }
    return g_string_free(s, FALSE);
}

gboolean
archive_index_row(Instance *inst, const char *list, gint64 num, GMimeMessage *msg, const char *from,
                  const char *author, gint64 size, const char *footer_text, gint64 archived, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db,
        "INSERT OR REPLACE INTO archive(list, num, message_id, date, from_addr, from_name, subject,"
        " size, in_reply_to, refs, footer, archived) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    char *from_name = NULL;
    char *recoded = from ? japanese_header_recode(from) : NULL;   /* a Japanese name without loss */
    char *from_addr = recoded ? address_from_header(recoded, &from_name) : NULL;
    char *in_reply_to = header_msgid(msg, "In-Reply-To");
    char *refs = references_text(msg);
    GDateTime *date = g_mime_message_get_date(msg);
    gint64 when = date ? g_date_time_to_unix(date) : now_seconds();
    gboolean ok;

    if ((!from_addr || !*from_addr) && author && *author) {
        /* a post without (a usable) From: the author is its envelope sender */
        g_free(from_addr);
        from_addr = g_strdup(author);
    }

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, num);
    sqlite3_bind_text(st, 3, g_mime_message_get_message_id(msg), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, when);
    sqlite3_bind_text(st, 5, from_addr, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, from_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, g_mime_message_get_subject(msg), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 8, size);
    sqlite3_bind_text(st, 9, in_reply_to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, refs, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, footer_text, -1, SQLITE_STATIC);   /* so the search index can leave it out */
    sqlite3_bind_int64(st, 12, archived < 0 ? when : archived);   /* the Message-ID seen-cache (post_seen) */
    ok = db_step_done(st, error);
    g_free(from_name);
    g_free(from_addr);
    g_free(recoded);
    g_free(in_reply_to);
    g_free(refs);
    return ok;
}

gboolean
archive_append(Instance *inst, const char *list, gint64 num, GMimeMessage *msg,
               const guint8 *data, gsize len, GError **error)
{
    char *path = archive_path(inst, list, num);
    gsize done = 0;
    /* straight to its name: no reader looks at a file without its row,
     * which only the commit makes visible; O_EXCL keeps an existing post */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);

    if (fd < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_CANTCREAT, "%s: %s", path,
                    errno == EEXIST ? "the post exists already" : g_strerror(errno));
        g_free(path);
        return FALSE;
    }
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, KAIRAN_ERROR, EXIT_CANTCREAT, "%s: %s", path, n < 0 ? g_strerror(errno) : "short write");
            close(fd);
            unlink(path);
            g_free(path);
            return FALSE;
        }
        done += n;
    }
    if (close(fd) != 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_CANTCREAT, "%s: %s", path, g_strerror(errno));
        unlink(path);
        g_free(path);
        return FALSE;
    }
    g_free(path);
    /* an old post counts for the seen-cache (post_seen) from its Date */
    return archive_index_row(inst, list, num, msg, g_mime_object_get_header(GMIME_OBJECT(msg), "From"),
                             NULL, (gint64) len, NULL, -1, error);
}

gboolean
archive_sync(const Instance *inst, const char *list, GError **error)
{
    char *dir = archive_dir(inst, list);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    gboolean ok = fd >= 0 && syncfs(fd) == 0 && fsync(fd) == 0;

    if (!ok)
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "%s: cannot sync: %s", dir, g_strerror(errno));
    if (fd >= 0)
        close(fd);
    g_free(dir);
    return ok;
}

void
archive_unlink(const Instance *inst, const char *list, gint64 num)
{
    char *path = archive_path(inst, list, num);
    unlink(path);
    g_free(path);
}
