/* ratelimit.c - counters behind the abuse limits (ratelimit.h).
 *
 * One row per (kind, list, key) in rate_limits: the start of the current
 * one-hour window, how many mails were sent in it and how many were
 * dropped.  A fixed window keeps it to one row and one statement per
 * check; at most twice the limit can go out around a window boundary,
 * which is still a small bound.  Check and count happen in one write
 * transaction, so concurrent deliver runs cannot both take the last slot.
 *
 * The send budget of archive mail (ratelimit_take_send) is kept in two
 * rows, kinds send_mails and send_bytes, whose count is mails and bytes;
 * one check takes from both or from neither. */
#include "config.h"
#include "ratelimit.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "settings.h"

#include <string.h>

const char *
ratelimit_setting(const char *kind)
{
    if (g_str_equal(kind, RATE_CTL_REPLY))
        return "ctl_reply_limit";
    if (g_str_equal(kind, RATE_CONFIRM))
        return "confirm_limit";
    if (g_str_equal(kind, RATE_SEND_MAILS))
        return "send_limit_mails";
    if (g_str_equal(kind, RATE_SEND_BYTES))
        return "send_limit_bytes";
    return "refusal_limit";
}

RateResult
ratelimit_take(Instance *inst, const char *list, const char *kind, const char *key)
{
    gint64 limit = list_setting_int(inst, list, ratelimit_setting(kind));
    gint64 now = now_seconds();
    gint64 count = 0, dropped = 0;
    GError *error = NULL;
    sqlite3_stmt *st;
    RateResult result;
    char *lkey;

    if (limit <= 0)
        return RATE_OK;
    lkey = g_ascii_strdown(key, -1);
    if (!db_begin_immediate(inst->db, &error))
        goto fail;
    st = db_prepare(inst->db, "SELECT count, dropped FROM rate_limits"
                              " WHERE kind = ? AND list = ? AND key = ? AND window_start > ?");
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, lkey, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now - RATE_WINDOW);
    if (sqlite3_step(st) == SQLITE_ROW) {
        count = sqlite3_column_int64(st, 0);
        dropped = sqlite3_column_int64(st, 1);
        sqlite3_finalize(st);
        st = db_prepare(inst->db, count < limit
            ? "UPDATE rate_limits SET count = count + 1 WHERE kind = ? AND list = ? AND key = ?"
            : "UPDATE rate_limits SET dropped = dropped + 1 WHERE kind = ? AND list = ? AND key = ?");
    } else {
        sqlite3_finalize(st);
        /* no row, or one from an older window: a new window starts now */
        st = db_prepare(inst->db, "INSERT OR REPLACE INTO rate_limits(kind, list, key, window_start, count, dropped)"
                                  " VALUES(?, ?, ?, ?, 1, 0)");
        sqlite3_bind_int64(st, 4, now);
    }
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, lkey, -1, SQLITE_STATIC);
    if (!db_step_done(st, &error) || !db_commit(inst->db, &error)) {
        db_rollback(inst->db);
        goto fail;
    }
    if (count < limit)
        result = RATE_OK;
    else
        result = dropped == 0 ? RATE_OVER_FIRST : RATE_OVER;
    if (result == RATE_OVER_FIRST)
        log_warn("%s: %s limit reached for <%s> (%" G_GINT64_FORMAT " an hour, %s):"
                 " further mails of this kind to it are dropped for the rest of the hour",
                 list, kind, lkey, limit, ratelimit_setting(kind));
    g_free(lkey);
    return result;
fail:
    log_error("%s: rate limit %s for <%s> not checked: %s", list, kind, lkey, error->message);
    g_error_free(error);
    g_free(lkey);
    return RATE_OK;
}

void
ratelimit_give_back(Instance *inst, const char *list, const char *kind, const char *key)
{
    char *lkey;
    sqlite3_stmt *st;
    GError *error = NULL;

    if (list_setting_int(inst, list, ratelimit_setting(kind)) <= 0)
        return;
    lkey = g_ascii_strdown(key, -1);
    st = db_prepare(inst->db, "UPDATE rate_limits SET count = count - 1"
                              " WHERE kind = ? AND list = ? AND key = ? AND count > 0");
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, lkey, -1, SQLITE_STATIC);
    if (!db_step_done(st, &error)) {
        log_warn("%s: rate limit %s for <%s>: %s", list, kind, lkey, error->message);
        g_error_free(error);
    }
    g_free(lkey);
}

/* window_read - count and dropped of (kind, list, key) in the current
 * window; FALSE when there is no such window (none, or a stale one). */
static gboolean
window_read(Instance *inst, const char *kind, const char *list, const char *key, gint64 now,
            gint64 *count, gint64 *dropped)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT count, dropped FROM rate_limits"
                                            " WHERE kind = ? AND list = ? AND key = ? AND window_start > ?");
    gboolean found = FALSE;

    *count = *dropped = 0;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now - RATE_WINDOW);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
        *dropped = sqlite3_column_int64(st, 1);
        found = TRUE;
    }
    sqlite3_finalize(st);
    return found;
}

/* window_add - add n to count (or 1 to dropped) of (kind, list, key);
 * a new window starts now when there is no current one. */
static gboolean
window_add(Instance *inst, const char *kind, const char *list, const char *key, gint64 now,
           gboolean current, gint64 n, gboolean drop, GError **error)
{
    sqlite3_stmt *st;

    if (current)
        st = db_prepare(inst->db, drop
            ? "UPDATE rate_limits SET dropped = dropped + 1 WHERE kind = ? AND list = ? AND key = ?"
            : "UPDATE rate_limits SET count = count + ?4 WHERE kind = ?1 AND list = ?2 AND key = ?3");
    else {
        st = db_prepare(inst->db, "INSERT OR REPLACE INTO rate_limits(kind, list, key, window_start, count, dropped)"
                                  " VALUES(?1, ?2, ?3, ?5, ?4, ?6)");
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_int64(st, 6, drop ? 1 : 0);
    }
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    if (!drop || !current)
        sqlite3_bind_int64(st, 4, drop ? 0 : n);
    return db_step_done(st, error);
}

RateResult
ratelimit_take_send(Instance *inst, const char *list, const char *key,
                    gint64 mails, gint64 bytes, const char **which)
{
    gint64 lim_m = list_setting_int(inst, list, "send_limit_mails");
    gint64 lim_b = list_setting_int(inst, list, "send_limit_bytes");
    gint64 now = now_seconds();
    gint64 cm, dm, cb, db;
    gboolean have_m, have_b, over_m, over_b, ok;
    GError *error = NULL;
    RateResult result = RATE_OK;
    char *lkey;

    *which = NULL;
    if (lim_m <= 0 && lim_b <= 0)
        return RATE_OK;
    lkey = g_ascii_strdown(key, -1);
    if (!db_begin_immediate(inst->db, &error))
        goto fail;
    have_m = window_read(inst, RATE_SEND_MAILS, list, lkey, now, &cm, &dm);
    have_b = window_read(inst, RATE_SEND_BYTES, list, lkey, now, &cb, &db);
    over_m = lim_m > 0 && cm + mails > lim_m;
    over_b = lim_b > 0 && cb + bytes > lim_b;
    if (over_m || over_b) {
        /* the first refusal of the window is marked on the mails row */
        result = dm == 0 ? RATE_OVER_FIRST : RATE_OVER;
        *which = over_m ? "send_limit_mails" : "send_limit_bytes";
        ok = window_add(inst, RATE_SEND_MAILS, list, lkey, now, have_m, 0, TRUE, &error);
    } else {
        ok = window_add(inst, RATE_SEND_MAILS, list, lkey, now, have_m, mails, FALSE, &error) &&
             window_add(inst, RATE_SEND_BYTES, list, lkey, now, have_b, bytes, FALSE, &error);
    }
    if (!ok || !db_commit(inst->db, &error)) {
        db_rollback(inst->db);
        *which = NULL;
        goto fail;
    }
    if (result == RATE_OVER_FIRST)
        log_warn("%s: send limit reached for <%s> (%" G_GINT64_FORMAT " mails, %" G_GINT64_FORMAT
                 " bytes an hour; %s): further archive mail to it is refused for the rest of the hour",
                 list, lkey, lim_m, lim_b, *which);
    g_free(lkey);
    return result;
fail:
    log_error("%s: send limit for <%s> not checked: %s", list, lkey, error->message);
    g_error_free(error);
    g_free(lkey);
    return RATE_OK;
}

/* ratelimit_take_window - the same fixed window as ratelimit_take, of
 * any length and with the limit given by the caller (the REST API's
 * requests per token and minute); list "" in rate_limits. */
RateResult
ratelimit_take_window(Instance *inst, const char *kind, const char *key, gint64 limit, gint64 window)
{
    gint64 now = now_seconds();
    gint64 count = 0;
    GError *error = NULL;
    sqlite3_stmt *st;

    if (limit <= 0)
        return RATE_OK;
    if (!db_begin_immediate(inst->db, &error))
        goto fail;
    st = db_prepare(inst->db, "SELECT count FROM rate_limits WHERE kind = ? AND list = '' AND key = ? AND window_start > ?");
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now - window);
    if (sqlite3_step(st) == SQLITE_ROW) {
        count = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        st = db_prepare(inst->db, count < limit
            ? "UPDATE rate_limits SET count = count + 1 WHERE kind = ? AND list = '' AND key = ?"
            : "UPDATE rate_limits SET dropped = dropped + 1 WHERE kind = ? AND list = '' AND key = ?");
    } else {
        sqlite3_finalize(st);
        st = db_prepare(inst->db, "INSERT OR REPLACE INTO rate_limits(kind, list, key, window_start, count, dropped)"
                                  " VALUES(?, '', ?, ?, 1, 0)");
        sqlite3_bind_int64(st, 3, now);
    }
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (!db_step_done(st, &error) || !db_commit(inst->db, &error)) {
        db_rollback(inst->db);
        goto fail;
    }
    return count < limit ? RATE_OK : RATE_OVER;
fail:
    log_error("rate limit %s for %s not checked: %s", kind, key, error->message);
    g_error_free(error);
    return RATE_OK;
}
