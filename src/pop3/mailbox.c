/* mailbox.c - one session's mailbox: a list's archive as one member sees
 * it.
 *
 * At login the message numbers come from the archive table (number
 * order) minus the member's rows in pop_hidden; message k of the session
 * is archive post nums[k-1], and its UIDL is "LIST.NUM", which never
 * changes.  DELE only marks; QUIT (RFC 1939 UPDATE state) records the
 * marks in pop_hidden in one transaction.  The archive files are only
 * ever opened for reading.
 *
 * The octet counts of LIST/STAT are those of the CRLF form (encode.c).
 * Computing one means reading the file, so the daemon keeps the counts
 * of every post it has measured in a cache shared by all sessions: the
 * archive never changes, so an entry never goes stale.  The cache holds
 * 8 bytes per post; messages themselves are streamed in blocks, so the
 * memory of pop3d does not grow with the size of the archive. */
#include "config.h"
#include "pop3.h"
#include "archive.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* ---- the size cache: list -> GArray of gint64 indexed by number --- */

static GMutex cache_lock;
static GHashTable *cache;

void
pop3_size_cache_init(void)
{
    g_mutex_lock(&cache_lock);
    if (!cache)
        cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) g_array_unref);
    g_mutex_unlock(&cache_lock);
}

static gint64
cache_get(const char *list, gint64 num)
{
    gint64 v = -1;
    GArray *a;

    g_mutex_lock(&cache_lock);
    a = cache ? g_hash_table_lookup(cache, list) : NULL;
    if (a && num >= 0 && (guint64) num < a->len)
        v = g_array_index(a, gint64, num);
    g_mutex_unlock(&cache_lock);
    return v;
}

static void
cache_put(const char *list, gint64 num, gint64 size)
{
    GArray *a;
    gint64 unknown = -1;

    if (num < 0 || num > G_MAXINT32)
        return;
    g_mutex_lock(&cache_lock);
    if (!cache)
        cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) g_array_unref);
    a = g_hash_table_lookup(cache, list);
    if (!a) {
        a = g_array_new(FALSE, FALSE, sizeof(gint64));
        g_hash_table_insert(cache, g_strdup(list), a);
    }
    while ((guint64) a->len <= (guint64) num)
        g_array_append_val(a, unknown);
    g_array_index(a, gint64, num) = size;
    g_mutex_unlock(&cache_lock);
}

static char *
message_path(const Pop3Mailbox *mb, gint64 num)
{
    char name[32];
    g_snprintf(name, sizeof(name), "%" G_GINT64_FORMAT, num);
    return g_build_filename(mb->dir, name, NULL);
}

static int
open_message(const Pop3Mailbox *mb, gint64 num)
{
    char *path = message_path(mb, num);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    g_free(path);
    return fd;
}

/* crlf_size - from the cache, else measured; -1 if the file is missing. */
static gint64
crlf_size(const Pop3Mailbox *mb, gint64 num)
{
    gint64 size = cache_get(mb->list, num);
    int fd;

    if (size >= 0)
        return size;
    fd = open_message(mb, num);
    if (fd < 0)
        return -1;
    size = pop3_crlf_size_fd(fd);
    close(fd);
    if (size >= 0)
        cache_put(mb->list, num, size);
    return size;
}

Pop3Mailbox *
pop3_mailbox_open(Instance *inst, const Pop3Login *login, GError **error)
{
    Pop3Mailbox *mb = g_new0(Pop3Mailbox, 1);

    mb->list = g_strdup(login->list);
    mb->address = g_strdup(login->address);
    mb->anonymous = login->anonymous;
    mb->dir = archive_dir(inst, login->list);
    mb->sizes = g_array_new(FALSE, FALSE, sizeof(gint64));
    mb->nums = archive_numbers_visible(inst, login->list, login->anonymous ? "" : login->address, error);
    if (!mb->nums) {
        pop3_mailbox_free(mb);
        return NULL;
    }

    /* Measure outside the statement; posts whose file is gone are left out. */
    {
        GArray *nums = mb->nums;
        mb->nums = g_array_sized_new(FALSE, FALSE, sizeof(gint64), nums->len);
        for (guint i = 0; i < nums->len; i++) {
            gint64 num = g_array_index(nums, gint64, i);
            gint64 size = crlf_size(mb, num);
            if (size < 0) {
                log_warn("%s: archive post %" G_GINT64_FORMAT " is indexed but unreadable; not offered",
                         mb->list, num);
                continue;
            }
            g_array_append_val(mb->nums, num);
            g_array_append_val(mb->sizes, size);
            mb->total += size;
        }
        g_array_unref(nums);
    }
    mb->count = mb->nums->len;
    mb->deleted = g_malloc0(mb->count + 1);
    return mb;
}

void
pop3_mailbox_free(Pop3Mailbox *mb)
{
    if (!mb)
        return;
    g_free(mb->list);
    g_free(mb->address);
    g_free(mb->dir);
    if (mb->nums)
        g_array_unref(mb->nums);
    if (mb->sizes)
        g_array_unref(mb->sizes);
    g_free(mb->deleted);
    g_free(mb);
}

gboolean
pop3_mailbox_valid(const Pop3Mailbox *mb, guint64 k)
{
    return k >= 1 && k <= mb->nums->len && !mb->deleted[k - 1];
}

void
pop3_mailbox_delete(Pop3Mailbox *mb, guint64 k)
{
    if (!pop3_mailbox_valid(mb, k))
        return;
    mb->deleted[k - 1] = 1;
    mb->count--;
    mb->total -= g_array_index(mb->sizes, gint64, k - 1);
}

void
pop3_mailbox_reset(Pop3Mailbox *mb)
{
    memset(mb->deleted, 0, mb->nums->len);
    mb->count = mb->nums->len;
    mb->total = 0;
    for (guint i = 0; i < mb->sizes->len; i++)
        mb->total += g_array_index(mb->sizes, gint64, i);
}

gboolean
pop3_mailbox_send(Pop3Mailbox *mb, guint64 k, gint64 max_body_lines, Pop3Conn *c, gboolean *gone)
{
    gint64 num = g_array_index(mb->nums, gint64, k - 1);
    int fd = open_message(mb, num);
    Pop3Encoder e;
    char buf[65536];

    *gone = FALSE;
    if (fd < 0) {
        log_warn("%s: cannot open archive post %" G_GINT64_FORMAT ": %s", mb->list, num,
                 g_strerror(errno));
        return FALSE;
    }
    if (max_body_lines < 0)
        pop3_conn_printf(c, "+OK %" G_GINT64_FORMAT " octets", g_array_index(mb->sizes, gint64, k - 1));
    else
        pop3_conn_printf(c, "+OK top of message follows");
    pop3_encoder_init(&e, max_body_lines, TRUE);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* +OK is out: the only honest end is to drop the connection */
            log_warn("%s: read error in archive post %" G_GINT64_FORMAT ": %s", mb->list, num,
                     g_strerror(errno));
            close(fd);
            c->net->failed = TRUE;
            *gone = TRUE;
            return TRUE;
        }
        if (n == 0 || !pop3_encode(&e, buf, (size_t) n, c->net->wbuf))
            break;
        if (!pop3_conn_maybe_flush(c)) {
            close(fd);
            *gone = TRUE;
            return TRUE;
        }
    }
    close(fd);
    pop3_encode_finish(&e, c->net->wbuf, TRUE);
    if (!pop3_conn_maybe_flush(c))
        *gone = TRUE;
    return TRUE;
}

gboolean
pop3_mailbox_commit(Instance *inst, Pop3Mailbox *mb, GError **error)
{
    sqlite3_stmt *st;
    gboolean any = FALSE;

    if (mb->anonymous)
        return TRUE;                 /* a shared public view: nothing to keep */
    for (guint i = 0; i < mb->nums->len; i++)
        any = any || mb->deleted[i];
    if (!any)
        return TRUE;
    if (!db_begin_immediate(inst->db, error))
        return FALSE;
    st = db_prepare(inst->db, "INSERT OR IGNORE INTO pop_hidden(list, address, num) VALUES(?, ?, ?)");
    for (guint i = 0; i < mb->nums->len; i++) {
        if (!mb->deleted[i])
            continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, mb->list, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, mb->address, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, g_array_index(mb->nums, gint64, i));
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_set_error(inst->db, error, "pop_hidden");
            sqlite3_finalize(st);
            db_rollback(inst->db);
            return FALSE;
        }
    }
    sqlite3_finalize(st);
    return db_commit(inst->db, error);
}
