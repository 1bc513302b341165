/* ratelimit.c - counters behind the abuse limits (ratelimit.h).
 *
 * One row per (kind, list, key) in rate_limits: the start of the current
 * one-hour window, how many mails were sent in it and how many were
 * dropped.  A fixed window keeps it to one row and one statement per
 * check; at most twice the limit can go out around a window boundary,
 * which is still a small bound.  Check and count happen in one write
 * transaction, so concurrent deliver runs cannot both take the last slot. */
#include "config.h"
#include "ratelimit.h"
#include "db.h"
#include "log.h"
#include "settings.h"

#include <string.h>

const char *
ratelimit_setting(const char *kind)
{
    if (g_str_equal(kind, RATE_CTL_REPLY))
        return "ctl_reply_limit";
    if (g_str_equal(kind, RATE_CONFIRM))
        return "confirm_limit";
    return "refusal_limit";
}

RateResult
ratelimit_take(Instance *inst, const char *list, const char *kind, const char *key)
{
    gint64 limit = list_setting_int(inst, list, ratelimit_setting(kind));
    gint64 now = (gint64) (g_get_real_time() / G_USEC_PER_SEC);
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
