/* maintain_tasks.c - the tasks of maintain.c's table that live in
 * src/lib: held-post retention and reminders (held.c does the work),
 * archive expiry (archive_expire.c) and the clean-up of rows that have
 * expired (tokens, web sessions, POP-before-SMTP windows, rate-limit and
 * guessing-guard counters, the DMARC cache). */
#include "config.h"
#include "maintain.h"
#include "archive.h"
#include "db.h"
#include "held.h"
#include "log.h"
#include "settings.h"
#include "tlsrpt.h"
#include "util.h"

gboolean
maintain_held_expire(MaintainCtx *c, GError **error)
{
    gint64 days = list_setting_int(c->inst, c->list, "max_days_to_hold");
    return held_expire(c->inst, c->list, c->now, days, c->dry_run, c->report, error) >= 0;
}

gboolean
maintain_held_reminder(MaintainCtx *c, GError **error)
{
    if (!list_setting_bool(c->inst, c->list, "moderator_reminder"))
        return TRUE;
    return held_remind(c->inst, c->list, c->now, list_setting_int(c->inst, c->list, "max_days_to_hold"),
                       c->dry_run, c->report, error) >= 0;
}

gboolean
maintain_archive_expire(MaintainCtx *c, GError **error)
{
    gint64 keep = list_setting_int(c->inst, c->list, "archive_expire"), n;

    if (keep <= 0)
        return TRUE;
    n = archive_expire(c->inst, c->list, c->now - keep, c->dry_run, error);
    if (n > 0)
        g_string_append_printf(c->report, "%s: %s %" G_GINT64_FORMAT " archived post(s) older than archive_expire\n",
                               c->list, c->dry_run ? "would remove" : "removed", n);
    return n >= 0;
}

/* The rows that are of no use any more: table, condition on ?1, and what
 * ?1 is. */
enum { BOUND_NOW, BOUND_TOKENS, BOUND_HOUR, BOUND_GUARD_MS, BOUND_DMARC };
static const struct {
    const char *what, *table, *where;
    int bound;
} expired[] = {
    /* a week after expiry, so a late click is still told "expired" */
    { "expired confirmation tokens", "tokens", "expires < ?1", BOUND_TOKENS },
    { "expired web sessions", "sessions", "expires <= ?1", BOUND_NOW },
    { "ended POP-before-SMTP windows", "pop_before_smtp", "until <= ?1", BOUND_NOW },
    /* the longest window is an hour (ratelimit.c's RATE_WINDOW) */
    { "old rate-limit counters", "rate_limits", "window_start <= ?1", BOUND_HOUR },
    { "forgotten guessing-guard rows", "auth_guard", "last_fail < ?1", BOUND_GUARD_MS },
    { "stale DMARC cache rows", "dmarc_cache", "fetched < ?1", BOUND_DMARC },
};

gboolean
maintain_expired_rows(MaintainCtx *c, GError **error)
{
    gint64 now = c->now;

    if (!c->dry_run && !db_begin_immediate(c->inst->db, error))
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(expired); i++) {
        gint64 bound = now;
        char *sql;
        sqlite3_stmt *st;
        gint64 n = 0;

        switch (expired[i].bound) {
        case BOUND_TOKENS: bound = now - 7 * 86400; break;
        case BOUND_HOUR: bound = now - 3600; break;
        case BOUND_GUARD_MS: bound = (now - instance_global_int(c->inst, "auth_guard_forget")) * 1000; break;
        case BOUND_DMARC: bound = now - instance_global_int(c->inst, "dmarc_cache_ttl"); break;
        default: break;
        }
        sql = g_strdup_printf(c->dry_run ? "SELECT COUNT(*) FROM %s WHERE %s" : "DELETE FROM %s WHERE %s",
                              expired[i].table, expired[i].where);
        st = db_prepare(c->inst->db, sql);
        g_free(sql);
        sqlite3_bind_int64(st, 1, bound);
        if (c->dry_run) {
            if (sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        } else {
            if (!db_step_done(st, error)) {
                db_rollback(c->inst->db);
                return FALSE;
            }
            n = sqlite3_changes(c->inst->db);
        }
        if (n > 0)
            g_string_append_printf(c->report, "%s %" G_GINT64_FORMAT " %s\n", c->dry_run ? "would drop" : "dropped",
                                   n, expired[i].what);
    }
    if (!c->dry_run && !db_commit(c->inst->db, error)) {
        db_rollback(c->inst->db);
        return FALSE;
    }
    return TRUE;
}

/* maintain_tls_reports - the TLS-RPT reports that are due (tlsrpt.c):
 * cheap when no day is over, so it runs at every run of the runner. */
gboolean
maintain_tls_reports(MaintainCtx *c, GError **error)
{
    int n;

    if (!instance_global_bool(c->inst, "tls_rpt"))
        return TRUE;
    if (c->dry_run) {
        g_string_append(c->report, "TLS reports of the days before today would be sent\n");
        return TRUE;
    }
    n = tlsrpt_send_due(c->inst, c->now, error);
    if (n < 0)
        return FALSE;
    if (n > 0)
        g_string_append_printf(c->report, "%d TLS report%s queued\n", n, n == 1 ? "" : "s");
    return TRUE;
}
