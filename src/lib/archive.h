/* archive.h - the one owner of a list's archive: where post N is
 * (spool/LIST/archive/N, exactly as distributed), its row in the archive
 * table (number, Message-ID, date, author, subject, size, thread links),
 * reading and parsing it, and the lookups every reader needs (POP3, the
 * web, command mail, digests, bounces, and the coming IMAP server).
 * Writing a post (numbering, indexing) is the posting path's
 * (distribute.c, through archive_index_row); an import writes old
 * posts with archive_append. */
#ifndef KAIRAN_ARCHIVE_H
#define KAIRAN_ARCHIVE_H

#include "instance.h"
#include <gmime/gmime.h>

typedef struct {
    gint64 num;
    char *message_id;     /* without <>; may be NULL */
    gint64 date;          /* the post's Date:, seconds since the epoch */
    char *subject;        /* decoded, UTF-8; never NULL */
    char *from_addr;      /* may be NULL */
    char *from_name;      /* may be NULL */
    char *in_reply_to;    /* may be NULL */
    char *refs;           /* Message-IDs, blank separated; may be NULL */
    gint64 size;          /* bytes of the archive file */
} ArchivePost;

void archive_post_free(ArchivePost *p);

/* archive_path - spool/LIST/archive/N (newly allocated). */
char *archive_path(const Instance *inst, const char *list, gint64 num);
/* archive_dir - spool/LIST/archive. */
char *archive_dir(const Instance *inst, const char *list);

/* archive_count - posts in the archive; *last_date (may be NULL) gets the
 * newest post's date (0 when empty). */
gint64 archive_count(Instance *inst, const char *list, gint64 *last_date);
/* archive_get - one post's row, NULL if the archive has no such post. */
ArchivePost *archive_get(Instance *inst, const char *list, gint64 num);
/* archive_list - rows in number order (newest_first: descending), from
 * offset, at most limit (< 0: all); a GPtrArray of ArchivePost*. */
GPtrArray *archive_list(Instance *inst, const char *list, gint64 offset, gint64 limit,
                        gboolean newest_first);
/* archive_list_after - rows numbered above after, in number order, at
 * most limit (< 0: all). */
GPtrArray *archive_list_after(Instance *inst, const char *list, gint64 after, gint64 limit);
/* archive_numbers_visible - the post numbers a member sees, in order:
 * all but those the member hid (POP3 DELE; address "" = anonymous). */
GArray *archive_numbers_visible(Instance *inst, const char *list, const char *address, GError **error);
/* archive_find_message_id - the numbers of the posts with this Message-ID
 * (without <>), oldest first. */
GArray *archive_find_message_id(Instance *inst, const char *list, const char *message_id);

/* ArchiveThreadEntry - one post in thread order: depth 0 starts a thread. */
typedef struct {
    ArchivePost *post;
    int depth;
} ArchiveThreadEntry;
/* archive_threads - every post, newest thread first, each thread's posts
 * depth-first below their parent; the parent is the post named by
 * In-Reply-To, else the last References entry found in this archive, and
 * only an earlier post can be a parent (no cycles).  Free with
 * archive_threads_free. */
GArray *archive_threads(Instance *inst, const char *list);
void archive_threads_free(GArray *entries);

/* Parts read from one archived mail by the search index, digests, get:
 * a post older than max_parts may have any number. */
#define ARCHIVE_READ_MAX_PARTS 10000

/* archive_read - the bytes of post N as archived (FALSE if unreadable). */
gboolean archive_read(const Instance *inst, const char *list, gint64 num, char **data, gsize *len);
/* archive_parse - post N parsed by the one parser (message.c); NULL if
 * there is no such readable post.  *size (may be NULL) gets its bytes. */
GMimeMessage *archive_parse(const Instance *inst, const char *list, gint64 num, gsize *size);

/* archive_index_row - post num's row (INSERT OR REPLACE) from msg: its
 * Message-ID, Date, author (from, a From: value, Japanese names without
 * loss; the envelope sender author when there is no usable From:),
 * Subject, thread links; size = bytes of the archive file, footer_text
 * (may be NULL) what the search index leaves out, archived = when (< 0:
 * the post's Date).  The posting path (distribute.c) and archive_append
 * share it. */
gboolean archive_index_row(Instance *inst, const char *list, gint64 num, GMimeMessage *msg, const char *from,
                           const char *author, gint64 size, const char *footer_text, gint64 archived,
                           GError **error);
/* archive_append - an imported post (kairan import): data (len bytes,
 * msg its parse) becomes post num as it is, with its row; refused if num
 * exists.  Call inside the write transaction; the file is not synced:
 * archive_sync before the commit, archive_unlink to undo. */
gboolean archive_append(Instance *inst, const char *list, gint64 num, GMimeMessage *msg,
                        const guint8 *data, gsize len, GError **error);
/* archive_sync - make every written archive file durable (syncfs + the
 * directory); errors are EXIT_TEMPFAIL. */
gboolean archive_sync(const Instance *inst, const char *list, GError **error);
/* archive_unlink - remove post num's file (undoing archive_append). */
void archive_unlink(const Instance *inst, const char *list, gint64 num);

/* archive_expire - remove the posts archived before cutoff (seconds
 * since the epoch; imported posts count from their Date): files, rows,
 * search index, POP3/IMAP per-member rows (archive_expire.c).  Numbers
 * are not reused.  dry_run: only count.  How many, -1 on error. */
gint64 archive_expire(Instance *inst, const char *list, gint64 cutoff, gboolean dry_run, GError **error);

/* The search index (archive_search.c): FTS5 with trigrams. */
/* message_search_text - the text/plain parts of msg, UTF-8, at most 32 KB. */
char *message_search_text(GMimeMessage *msg);
/* archive_search_update - index up to max_posts posts archived since
 * the last search, newest first; how many were done. */
int archive_search_update(Instance *inst, const char *list, int max_posts);
/* archive_search_pending - posts not in the search index yet. */
gint64 archive_search_pending(Instance *inst, const char *list);
/* archive_search - the numbers of the posts holding every word of query,
 * newest first, at most limit. */
GArray *archive_search(Instance *inst, const char *list, const char *query, int limit);

#endif
