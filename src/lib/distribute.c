/* distribute.c - an accepted post becomes post number N: under the
 * database write lock the list's counter is raised, the headers are
 * rewritten for N, the distributed form is written to
 * spool/LIST/archive/N (temporary file, fsync, rename), indexed in the
 * archive table, and queued once for every member recipient (the archive
 * file is hard-linked into the queue).  Only then is the transaction
 * committed (with personalize = yes the envelope also says so: the
 * relay personalises each copy at send time, src/relay/personalize.c).
 * Any failure rolls everything back and removes what was
 * written, so the caller can exit 75 and the MTA retries: no number is
 * used twice, none is skipped, nothing half-done stays visible.
 *
 * A post whose Message-ID the list distributed within duplicate_window
 * (archive.archived) is not numbered: post_seen, checked by post.c and
 * again under the lock here (two copies arriving at once).
 *
 * Per-member options (memberopts.c): members on vacation are left out by
 * the recipients query, the author without receive_own_posts like
 * send_to_author = no, and members with nodupes named in To/Cc through a
 * set of those addresses (no query per member).  After the commit the
 * author may get an acknowledgement (notices.c), never for automatic mail.
 *
 * CRASH WINDOW: a crash after the queue commit but before the database
 * commit leaves the post queued while its number is not counted; the MTA
 * then retries and the post goes out a second time as the next number. */
#include "config.h"
#include "distribute.h"
#include "archive.h"
#include "message.h"
#include "address.h"
#include "db.h"
#include "dkim.h"
#include "dmarc.h"
#include "japanese.h"
#include "lists.h"
#include "log.h"
#include "notices.h"
#include "notify.h"
#include "queue.h"
#include "settings.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* write_message_file - serialise msg, DKIM-sign those exact bytes
 * (dkim.c), write them to path atomically (fsync file and directory). */
static gboolean
write_message_file(const Instance *inst, GMimeMessage *msg, const char *path, gint64 *size, GError **error)
{
    char *dir = g_path_get_dirname(path);
    GByteArray *bytes = message_to_bytes(msg);
    gboolean ok = dkim_sign_bytes(inst, bytes, error) &&
                  write_file_atomic(path, dir, bytes->data, bytes->len, error);

    if (ok)
        *size = bytes->len;
    else
        unlink(path);           /* renamed but the directory not synced: not there */
    g_byte_array_unref(bytes);
    g_free(dir);
    return ok;
}

gint64
post_seen(Instance *inst, const char *list, const char *message_id, gint64 window)
{
    sqlite3_stmt *st;
    gint64 num = 0;

    if (!message_id || !*message_id || window <= 0)
        return 0;
    st = db_prepare(inst->db, "SELECT num FROM archive WHERE list = ? AND message_id = ? AND archived >= ?"
                              " ORDER BY num DESC LIMIT 1");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, message_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_seconds() - window);
    if (sqlite3_step(st) == SQLITE_ROW)
        num = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return num;
}

static void
add_direct(GHashTable *set, InternetAddressList *l)
{
    for (int i = 0; l && i < internet_address_list_length(l); i++) {
        InternetAddress *ia = internet_address_list_get_address(l, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            char *a = address_normalize(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)), NULL);
            if (a)
                g_hash_table_add(set, a);
        } else if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            add_direct(set, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)));
        }
    }
}

/* direct_addresses - the normalised To and Cc addresses of the post
 * (nodupes), NULL when there are none. */
static GHashTable *
direct_addresses(GMimeMessage *msg)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    add_direct(set, g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_TO));
    add_direct(set, g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_CC));
    if (g_hash_table_size(set) == 0) {
        g_hash_table_unref(set);
        return NULL;
    }
    return set;
}

/* author_excluded - the author gets no copy: send_to_author = no, or the
 * author is a member without receive_own_posts. */
static gboolean
author_excluded(Instance *inst, const char *list, const char *author)
{
    Member *m;
    gboolean out;

    if (!author)
        return FALSE;
    if (!list_setting_bool(inst, list, "send_to_author"))
        return TRUE;
    m = member_get(inst, list, author);
    out = m && !m->receive_own;
    member_free(m);
    return out;
}

gboolean
distribute_post(Instance *inst, const char *list, GMimeMessage *msg,
                const char *author, gint64 *num_out, GError **error)
{
    sqlite3_stmt *st;
    gint64 num = 0, size = 0;
    char *path = NULL, *sender = NULL, *qid = NULL;
    QueueRcpts *rcpts = NULL;
    guint nrcpts = 0;
    gboolean ok = FALSE;
    DmarcAction dmarc = dmarc_decide(inst, list, msg);   /* may ask DNS: before the lock */
    GMimeMessage *out = NULL;
    char *author_from = NULL, *footer_text = NULL, *ack_subject = NULL;
    /* before the rewrite adds Precedence: bulk */
    gboolean automatic = notify_is_automatic(msg, author);
    GHashTable *direct = direct_addresses(msg);

    if (!db_begin_immediate(inst->db, error))
        return FALSE;
    /* the same post arriving twice at once: the second waits for the lock
     * and finds the first (post.c drops it when the MTA tries again) */
    num = post_seen(inst, list, g_mime_message_get_message_id(msg), list_setting_int(inst, list, "duplicate_window"));
    if (num > 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "Message-ID <%s> was already distributed as post %"
                    G_GINT64_FORMAT, g_mime_message_get_message_id(msg), num);
        db_rollback(inst->db);
        return FALSE;
    }
    st = db_prepare(inst->db, "UPDATE lists SET seq = seq + 1 WHERE name = ? RETURNING seq");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        num = sqlite3_column_int64(st, 0);
    else
        db_set_error(inst->db, error, "numbering");
    sqlite3_finalize(st);
    if (num <= 0)
        goto fail;

    rewrite_headers(inst, list, msg, num);
    {
        char *footer = list_setting(inst, list, "footer");
        if (*footer) {
            footer_text = footer_expand(inst, list, num, footer);
            footer_apply(msg, footer_text);
        }
        g_free(footer);
    }
    author_from = g_strdup(message_header_raw(msg, "From"));   /* decoded without loss below */
    out = dmarc_apply(inst, list, msg, dmarc);        /* dmarc.c: the index keeps the author */
    path = archive_path(inst, list, num);
    if (!write_message_file(inst, out, path, &size, error)) {
        g_free(path);
        path = NULL;
        goto fail;
    }
    if (!archive_index_row(inst, list, num, msg, author_from, author, size, footer_text, now_seconds(), error))
        goto fail;

    rcpts = list_fanout_rcpts_direct(inst, list, author_excluded(inst, list, author) ? author : NULL, direct);
    nrcpts = rcpts->count;
    if (nrcpts > 0) {
        sender = list_address(inst, list, "-admin");
        if (list_setting_bool(inst, list, "personalize"))
            queue_rcpts_personalize(rcpts, list);   /* one shared copy, personalised by the relay */
        qid = queue_submit_file_rcpts(inst, sender, rcpts, path, error);
        if (!qid)
            goto fail;
    }
    if (!db_commit(inst->db, error)) {
        if (qid)
            queue_remove(inst, qid);
        goto fail;
    }
    if (qid)
        queue_wakeup(inst);
    log_info("%s: post %" G_GINT64_FORMAT " from <%s> archived, size=%" G_GINT64_FORMAT
             ", queued %s for %u recipient(s)", list, num, author ? author : "", size,
             qid ? qid : "(none)", nrcpts);
    *num_out = num;
    ok = TRUE;
    if (!automatic) {
        const char *subj = message_header_raw(msg, "Subject");
        ack_subject = subj ? message_header_decode(subj) : NULL;
        notices_post_ack(inst, list, author, num, ack_subject);
    }
    goto out;
fail:
    db_rollback(inst->db);
    if (path)
        unlink(path);
out:
    if (out)
        g_object_unref(out);
    g_free(author_from);
    g_free(footer_text);
    g_free(ack_subject);
    if (direct)
        g_hash_table_unref(direct);
    g_free(path);
    g_free(sender);
    g_free(qid);
    queue_rcpts_free(rcpts);
    return ok;
}
