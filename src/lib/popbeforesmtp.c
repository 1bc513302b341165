/* popbeforesmtp.c - the windows of POP-before-SMTP (popbeforesmtp.h) in
 * the table pop_before_smtp(ip PRIMARY KEY, list, address, until): one
 * row per IP address, the latest login wins; until is seconds since the
 * epoch.  Expired rows are removed when a new window is recorded. */
#include "config.h"
#include "popbeforesmtp.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <sqlite3.h>

static void
record(Instance *inst, const char *ip, const char *list, const char *address)
{
    gint64 window = instance_global_int(inst, "pop_before_smtp");
    gint64 now = now_seconds();
    sqlite3_stmt *st;
    gboolean ok;

    if (window <= 0 || !ip || !*ip)
        return;
    st = db_prepare(inst->db, "DELETE FROM pop_before_smtp WHERE until <= ?");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_step(st);
    sqlite3_finalize(st);
    st = db_prepare(inst->db, "INSERT OR REPLACE INTO pop_before_smtp(ip, list, address, until) VALUES(?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, address, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now + window);
    ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    if (ok)
        log_info("pop-before-smtp: %s may relay for %" G_GINT64_FORMAT "s (login of %s%s%s)", ip, window,
                 address ? address : "a user", list ? " at " : "", list ? list : "");
    else
        log_warn("pop-before-smtp: cannot record %s: %s", ip, sqlite3_errmsg(inst->db));
}

void
popbeforesmtp_record(Instance *inst, const char *ip)
{
    record(inst, ip, NULL, NULL);
}

void
popbeforesmtp_record_login(Instance *inst, const char *ip, const char *list, const char *address)
{
    record(inst, ip, list, address);
}

gboolean
popbeforesmtp_allowed(Instance *inst, const char *ip)
{
    sqlite3_stmt *st;
    gboolean ok;

    if (instance_global_int(inst, "pop_before_smtp") <= 0 || !ip)
        return FALSE;
    st = db_prepare(inst->db, "SELECT 1 FROM pop_before_smtp WHERE ip = ? AND until > ?");
    sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_seconds());
    ok = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return ok;
}

int
popbeforesmtp_end(Instance *inst, const char *list, const char *address)
{
    sqlite3_stmt *st = db_prepare(inst->db,
        "DELETE FROM pop_before_smtp WHERE list IS NULL OR (list = ? AND (? IS NULL OR address = ?))");
    int n;

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, address, -1, SQLITE_STATIC);
    n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(inst->db) : 0;
    sqlite3_finalize(st);
    if (n > 0)
        log_info("pop-before-smtp: %d window%s ended by a password change at %s", n, n == 1 ? "" : "s", list);
    return n;
}
