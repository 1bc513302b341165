/* archive_search.c - full-text search of a list's archive.
 *
 * An SQLite FTS5 table, archive_text(list, num, subject, author, body),
 * with the trigram tokenizer: it finds any substring of three characters
 * or more, so Japanese (written without spaces between words) is found
 * as well as English.  The index is filled when it is needed, not when
 * a post is archived: trigram indexing costs about 1.5 ms of CPU for a
 * 10 KB post, and the posting path is the one that must be fast.  Every
 * search first reads in the posts archived since the last one, newest
 * first (archive.text_indexed = 0; archive_search_update): the subject
 * without the list's tag, the author as the archive index keeps it, and
 * the text/plain parts (also of an attached message, as with
 * dmarc = wrap) without the footer the list added (archive.footer), at
 * most SEARCH_TEXT_MAX bytes.
 *
 * A query is split at blanks; every word must occur (in the subject, the
 * author or the text).  Words of three characters or more go through
 * the index (FTS5 MATCH with each word as a quoted phrase); shorter ones
 * are compared by instr() over the rows the longer ones left, because
 * the trigram index cannot answer them (and SQLite 3.40's LIKE on such
 * a table misses two-character Japanese words). */
#include "config.h"
#include "archive.h"
#include "domains.h"
#include "distribute.h"
#include "message.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "settings.h"

#include <string.h>

#define SEARCH_TEXT_MAX (32 * 1024)
#define SEARCH_MAX_WORDS 8
#define SEARCH_MAX_WORD 100

typedef struct {
    GString *text;
    int depth;              /* attached messages entered */
} TextWalk;

static void
collect_text(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    TextWalk *w = data;
    GMimeContentDisposition *d;
    char *text;

    (void) parent;
    if (GMIME_IS_MESSAGE_PART(part) && w->depth < 4) {      /* dmarc = wrap: the post inside */
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
        if (inner) {
            w->depth++;
            g_mime_message_foreach(inner, collect_text, w);
            w->depth--;
        }
        return;
    }
    if (w->text->len >= SEARCH_TEXT_MAX || !GMIME_IS_TEXT_PART(part) ||
        !g_mime_content_type_is_type(g_mime_object_get_content_type(part), "text", "plain"))
        return;
    d = g_mime_object_get_content_disposition(part);
    if (d && g_mime_content_disposition_is_attachment(d))
        return;
    text = message_text_part_text(GMIME_TEXT_PART(part));   /* Japanese without loss */
    if (text && g_utf8_validate(text, -1, NULL)) {
        if (w->text->len)
            g_string_append_c(w->text, '\n');
        g_string_append(w->text, text);
    }
    g_free(text);
}

char *
message_search_text(GMimeMessage *msg)
{
    TextWalk w = { g_string_new(NULL), 0 };
    const char *end;

    g_mime_message_foreach(msg, collect_text, &w);
    if (w.text->len > SEARCH_TEXT_MAX) {
        /* cut on a character boundary */
        g_utf8_validate(w.text->str, SEARCH_TEXT_MAX, &end);
        g_string_truncate(w.text, (gsize) (end - w.text->str));
    }
    return g_string_free(w.text, FALSE);
}

static gboolean
archive_search_add(Instance *inst, const char *list, gint64 num, const char *subject,
                   const char *author, const char *body, GError **error)
{
    /* the row of (list, num) is rowid = the list's rowid * 2^40 + num: found
     * through the rowid index (a WHERE on the UNINDEXED columns scans the
     * whole table, quadratic over an import of a big archive) */
    sqlite3_stmt *st = db_prepare(inst->db, "DELETE FROM archive_text WHERE rowid ="
                                            " (SELECT rowid FROM lists WHERE name = ?1) * 1099511627776 + ?2");

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, num);
    if (!db_step_done(st, error))
        return FALSE;
    st = db_prepare(inst->db, "INSERT INTO archive_text(rowid, list, num, subject, author, body) VALUES("
                              "(SELECT rowid FROM lists WHERE name = ?1) * 1099511627776 + ?2, ?1, ?2, ?3, ?4, ?5)");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, num);
    sqlite3_bind_text(st, 3, subject ? subject : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, author ? author : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, body ? body : "", -1, SQLITE_STATIC);
    if (!db_step_done(st, error))
        return FALSE;
    st = db_prepare(inst->db, "UPDATE archive SET text_indexed = 1 WHERE list = ? AND num = ?");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, num);
    return db_step_done(st, error);
}

/* without_footer - body with the footer that was added to the post
 * (archive.footer) cut off its end, if it is there. */
static void
without_footer(char *body, const char *footer_added)
{
    char *footer = footer_added ? g_strchomp(g_strdup(footer_added)) : NULL;
    size_t blen, flen;

    if (footer && *footer) {
        g_strchomp(body);
        blen = strlen(body);
        flen = strlen(footer);
        if (blen >= flen && strcmp(body + blen - flen, footer) == 0)
            body[blen - flen] = '\0';
    }
    g_free(footer);
}

/* index_one - index a post from its archive file (a file that cannot be
 * read or parsed is indexed with its subject and author). */
static gboolean
index_one(Instance *inst, const char *list, gint64 num, const char *tagged_subject, const char *author,
          const char *footer, GError **error)
{
    char *path = archive_path(inst, list, num);
    char *tag_format = list_setting(inst, list, "subject_tag");
    char *name = list_name(list);
    char *subject = subject_tag_remove(tagged_subject, tag_format, name);
    char *data = NULL, *body = NULL;
    gsize len = 0;
    gboolean ok;

    if (g_file_get_contents(path, &data, &len, NULL)) {
        GMimeMessage *msg = parse_message_bounded((const guint8 *) data, len, ARCHIVE_READ_MAX_PARTS, NULL);
        if (msg) {
            body = message_search_text(msg);
            without_footer(body, footer);
            g_object_unref(msg);
        }
    }
    ok = archive_search_add(inst, list, num, subject, author, body, error);
    g_free(body);
    g_free(data);
    g_free(path);
    g_free(subject);
    g_free(name);
    g_free(tag_format);
    return ok;
}

int
archive_search_update(Instance *inst, const char *list, int max_posts)
{
    sqlite3_stmt *st;
    GPtrArray *todo = g_ptr_array_new_with_free_func(g_free);   /* subject, author, footer per post */
    GArray *nums = g_array_new(FALSE, FALSE, sizeof(gint64));
    GError *error = NULL;
    int done = 0;

    st = db_prepare(inst->db, "SELECT num, subject, COALESCE(from_name || ' ', '') || COALESCE(from_addr, ''),"
                              " footer FROM archive WHERE list = ? AND text_indexed = 0 ORDER BY num DESC LIMIT ?");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max_posts);
    while (sqlite3_step(st) == SQLITE_ROW) {
        gint64 num = sqlite3_column_int64(st, 0);
        g_array_append_val(nums, num);
        g_ptr_array_add(todo, g_strdup((const char *) sqlite3_column_text(st, 1)));
        g_ptr_array_add(todo, g_strdup((const char *) sqlite3_column_text(st, 2)));
        g_ptr_array_add(todo, g_strdup((const char *) sqlite3_column_text(st, 3)));
    }
    sqlite3_finalize(st);
    if (nums->len > 0 && db_begin_immediate(inst->db, &error)) {
        for (guint i = 0; i < nums->len; i++) {
            if (!index_one(inst, list, g_array_index(nums, gint64, i), todo->pdata[3 * i],
                           todo->pdata[3 * i + 1], todo->pdata[3 * i + 2], &error))
                break;
            done++;
        }
        if (error || !db_commit(inst->db, &error)) {
            db_rollback(inst->db);
            done = 0;
        }
    }
    if (error) {
        log_warn("%s: archive search index not brought up to date: %s", list, error->message);
        g_error_free(error);
    }
    g_array_unref(nums);
    g_ptr_array_unref(todo);
    return done;
}

gint64
archive_search_pending(Instance *inst, const char *list)
{
    return db_int64(inst->db, "SELECT COUNT(*) FROM archive WHERE list = ? AND text_indexed = 0", list);
}

/* phrase - word as an FTS5 phrase: in double quotes, quotes doubled. */
static void
append_phrase(GString *match, const char *word)
{
    if (match->len)
        g_string_append_c(match, ' ');
    g_string_append_c(match, '"');
    for (const char *p = word; *p; p++) {
        if (*p == '"')
            g_string_append_c(match, '"');
        g_string_append_c(match, *p);
    }
    g_string_append_c(match, '"');
}

GArray *
archive_search(Instance *inst, const char *list, const char *query, int limit)
{
    GArray *found = g_array_new(FALSE, FALSE, sizeof(gint64));
    GString *q = g_string_new(query ? query : "");
    char **words;
    GPtrArray *shortw = g_ptr_array_new();
    GString *match = g_string_new(NULL), *sql;
    sqlite3_stmt *st;
    int nwords = 0, param = 3;

    g_string_replace(q, "\xe3\x80\x80", " ", 0);      /* the ideographic space separates words too */
    words = g_strsplit_set(q->str, " \t\r\n", -1);
    g_string_free(q, TRUE);
    for (int i = 0; words[i] && nwords < SEARCH_MAX_WORDS; i++) {
        char *w = words[i];
        if (!*w || !g_utf8_validate(w, -1, NULL))
            continue;
        if (strlen(w) > SEARCH_MAX_WORD) {
            const char *end;
            g_utf8_validate(w, SEARCH_MAX_WORD, &end);
            w[end - w] = '\0';
        }
        if (g_utf8_strlen(w, -1) >= 3)
            append_phrase(match, w);
        else
            g_ptr_array_add(shortw, w);
        nwords++;
    }
    if (nwords == 0)
        goto out;
    sql = g_string_new("SELECT num FROM archive_text WHERE list = ?1");
    if (match->len)
        g_string_append(sql, " AND archive_text MATCH ?2");
    for (guint i = 0; i < shortw->len; i++)
        g_string_append_printf(sql, " AND instr(lower(subject || ' ' || author || ' ' || body), lower(?%d)) > 0",
                               param++);
    g_string_append_printf(sql, " ORDER BY num DESC LIMIT %d", limit);
    st = db_prepare(inst->db, sql->str);
    g_string_free(sql, TRUE);
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    if (match->len)
        sqlite3_bind_text(st, 2, match->str, -1, SQLITE_STATIC);
    for (guint i = 0; i < shortw->len; i++)
        sqlite3_bind_text(st, 3 + (int) i, shortw->pdata[i], -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        gint64 num = sqlite3_column_int64(st, 0);
        g_array_append_val(found, num);
    }
    sqlite3_finalize(st);
out:
    g_string_free(match, TRUE);
    g_ptr_array_unref(shortw);
    g_strfreev(words);
    return found;
}
