/* archive_expire.c - archive retention (archive_expire, the task of the
 * same name in maintain.c): posts archived before a cutoff are removed
 * from the spool (spool/LIST/archive/N), the archive table, the search
 * index and the per-member POP3/IMAP state.  Their numbers are never
 * reused (lists.seq keeps counting) and UIDVALIDITY stays: every reader
 * (POP3, IMAP, the web, digests, get/mget) lists the rows there are, so
 * a gap in the numbers is just a post that is not there.
 *
 * Rows and files go under one write lock (rows deleted, files unlinked,
 * then the commit): a crash in between leaves rows of expired posts
 * without files, which the next run removes; files below the oldest post
 * left that no row names (an older interrupted run) are swept. */
#include "config.h"
#include "archive.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* expired_nums - numbers of the posts archived before cutoff (the time
 * of archiving; imported posts count from their Date), in order. */
static GArray *
expired_nums(Instance *inst, const char *list, gint64 cutoff)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT num FROM archive WHERE list = ?1"
                                            " AND COALESCE(archived, date, 0) < ?2 ORDER BY num");
    GArray *nums = g_array_new(FALSE, FALSE, sizeof(gint64));
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cutoff);
    while (sqlite3_step(st) == SQLITE_ROW) {
        gint64 n = sqlite3_column_int64(st, 0);
        g_array_append_val(nums, n);
    }
    sqlite3_finalize(st);
    return nums;
}

/* delete_rows - every row of the expired posts, one statement a table
 * (the per-member rows and the search index first: they are found
 * through the archive rows). */
static gboolean
delete_rows(Instance *inst, const char *list, gint64 cutoff, GError **error)
{
#define EXPIRED "SELECT num FROM archive WHERE list = ?1 AND COALESCE(archived, date, 0) < ?2"
    static const char *const sql[] = {
        "DELETE FROM pop_hidden WHERE list = ?1 AND num IN (" EXPIRED ")",
        "DELETE FROM imap_flags WHERE list = ?1 AND num IN (" EXPIRED ")",
        /* the search index row: rowid = the list's rowid * 2^40 + num (archive_search.c) */
        "DELETE FROM archive_text WHERE rowid IN (SELECT (SELECT rowid FROM lists WHERE name = ?1)"
        " * 1099511627776 + num FROM archive WHERE list = ?1 AND COALESCE(archived, date, 0) < ?2)",
        "DELETE FROM archive WHERE list = ?1 AND COALESCE(archived, date, 0) < ?2",
    };
#undef EXPIRED
    for (guint i = 0; i < G_N_ELEMENTS(sql); i++) {
        sqlite3_stmt *st = db_prepare(inst->db, sql[i]);
        sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, cutoff);
        if (!db_step_done(st, error))
            return FALSE;
    }
    return TRUE;
}

/* sweep_files - archive files numbered below `below` (the oldest row
 * left, or seq + 1 when the archive is empty) that have no row.  Called
 * under the write lock. */
static void
sweep_files(Instance *inst, const char *list, gint64 below)
{
    char *dir = archive_dir(inst, list);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        char *end;
        gint64 n = g_ascii_strtoll(name, &end, 10);
        if (*end || n <= 0 || n >= below || !g_ascii_isdigit(name[0]))
            continue;
        char *path = g_build_filename(dir, name, NULL);
        sqlite3_stmt *st = db_prepare(inst->db, "SELECT 1 FROM archive WHERE list = ? AND num = ?");
        gboolean has_row;
        sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, n);
        has_row = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (!has_row && unlink(path) == 0)
            log_info("%s: removed %s (an expired post left by an interrupted run)", list, path);
        g_free(path);
    }
    if (d)
        g_dir_close(d);
    g_free(dir);
}

gint64
archive_expire(Instance *inst, const char *list, gint64 cutoff, gboolean dry_run, GError **error)
{
    GArray *nums = expired_nums(inst, list, cutoff);
    gint64 done = nums->len, oldest;

    if (dry_run || nums->len == 0)
        goto out;
    /* all under the write lock: no post is being archived meanwhile, so
     * the sweep cannot take a file whose row is not committed yet */
    if (!db_begin_immediate(inst->db, error)) {
        done = -1;
        goto out;
    }
    /* the numbers again under the lock: what is removed is what was counted */
    g_array_unref(nums);
    nums = expired_nums(inst, list, cutoff);
    done = nums->len;
    if (!delete_rows(inst, list, cutoff, error)) {
        db_rollback(inst->db);
        done = -1;
        goto out;
    }
    for (guint i = 0; i < nums->len; i++) {
        char *path = archive_path(inst, list, g_array_index(nums, gint64, i));
        if (unlink(path) < 0 && errno != ENOENT)
            log_warn("%s: cannot remove expired post %s: %s", list, path, g_strerror(errno));
        g_free(path);
    }
    oldest = db_int64(inst->db, "SELECT COALESCE(MIN(num), (SELECT seq + 1 FROM lists WHERE name = ?1))"
                                " FROM archive WHERE list = ?1", list);
    sweep_files(inst, list, oldest);
    /* a failed commit leaves rows whose files are gone: they are still
     * expired, and the next run removes them */
    if (!db_commit(inst->db, error)) {
        db_rollback(inst->db);
        done = -1;
        goto out;
    }
    if (nums->len > 0)
        log_info("%s: %u archived post(s) expired (%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT ")", list, nums->len,
                 g_array_index(nums, gint64, 0), g_array_index(nums, gint64, nums->len - 1));
out:
    g_array_unref(nums);
    return done;
}
