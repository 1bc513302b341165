/* maintain.c - the periodic work of an instance in one place: the table
 * of tasks and the runner shared by `kairan maintain` (cron or the
 * systemd timer), `kairan digest` (the digest task on demand) and
 * `kairan relay` (every maintain_interval seconds, in a thread of its own).
 *
 * State in kairan.db, table maintain_runs(task, list, last_run,
 * lease_until, owner): last_run per (task, list), list '' for an instance
 * task; the row (task, '') also holds the lease.  A run of a task takes
 * the lease in a write transaction (skipped when another process holds
 * an unexpired one), runs the task for each list whose last run is at
 * least its interval ago, then records those runs and gives the lease
 * back.  A process that dies keeps the lease until it expires
 * (MAINTAIN_LEASE).  Every time here is now_seconds(), so the test
 * suite's clock offset (util.c) moves it. */
#include "config.h"
#include "maintain.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "util.h"

#include <string.h>
#include <unistd.h>

#define MAINTAIN_LEASE 3600     /* seconds a run may take before another process may start the task */

/* The tasks.  A new task is one line here (and its function). */
static const MaintainTask tasks[] = {
    { "digest", 0, TRUE, digest_maintain,
      "send the digests that are due (digest_size bytes waiting or digest_interval passed)" },
    { "held_expire", 0, TRUE, maintain_held_expire,
      "discard posts held longer than max_days_to_hold, telling their senders" },
    { "held_reminder", 86400, TRUE, maintain_held_reminder,
      "once a day, mail the moderators the list of held posts (moderator_reminder)" },
    { "archive_expire", 3600, TRUE, maintain_archive_expire,
      "remove archived posts older than archive_expire (spool, index, search)" },
    { "bounce_warnings", 3600, TRUE, maintain_bounce_warnings,
      "warn members whose delivery bounces disabled (bounce_warnings, once per bounce_warn_interval),"
      " remove them an interval after the last warning" },
    { "bounce_stale", 3600, TRUE, maintain_bounce_stale,
      "reset the bounce score of members whose last bounce is older than bounce_stale_after" },
    { "expired_rows", 3600, FALSE, maintain_expired_rows,
      "drop expired confirmation tokens, web sessions, POP-before-SMTP windows and old rate-limit, "
      "guessing-guard and DMARC cache rows" },
    { "tls_reports", 0, FALSE, maintain_tls_reports,
      "with tls_rpt = yes, send the TLS-RPT reports (RFC 8460) of the days before today" },
};

const MaintainTask *
maintain_tasks(size_t *count)
{
    *count = G_N_ELEMENTS(tasks);
    return tasks;
}

/* is_due - an interval has passed since last (a 1/64 slack, so that a
 * daily task run by a 15-minute timer does not slip by a run a day). */
static gboolean
is_due(const MaintainTask *t, gint64 last, gint64 now)
{
    return t->interval <= 0 || last <= 0 || now - last >= t->interval - t->interval / 64 || now < last;
}

static gint64
last_run(Instance *inst, const char *task, const char *list)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT last_run FROM maintain_runs WHERE task = ? AND list = ?");
    gint64 v = 0;
    sqlite3_bind_text(st, 1, task, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* lease_take - TRUE if the task's lease is ours now; FALSE with *error
 * unset when another process holds it. */
static gboolean
lease_take(Instance *inst, const char *task, const char *owner, gint64 now, GError **error)
{
    sqlite3_stmt *st;
    gboolean free_to_take = TRUE;

    if (!db_begin_immediate(inst->db, error))
        return FALSE;
    st = db_prepare(inst->db, "SELECT lease_until, owner FROM maintain_runs WHERE task = ? AND list = ''");
    sqlite3_bind_text(st, 1, task, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > now && sqlite3_column_text(st, 1))
        free_to_take = FALSE;
    sqlite3_finalize(st);
    if (!free_to_take) {
        db_rollback(inst->db);
        return FALSE;
    }
    st = db_prepare(inst->db, "INSERT INTO maintain_runs(task, list, lease_until, owner) VALUES(?1, '', ?2, ?3)"
                              " ON CONFLICT(task, list) DO UPDATE SET lease_until = ?2, owner = ?3");
    sqlite3_bind_text(st, 1, task, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now + MAINTAIN_LEASE);
    sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
    if (!db_step_done(st, error) || !db_commit(inst->db, error)) {
        db_rollback(inst->db);
        return FALSE;
    }
    return TRUE;
}

/* lease_give - record the runs done (lists: char*, "" = the instance)
 * and give the lease back. */
static gboolean
lease_give(Instance *inst, const char *task, const char *owner, gint64 now, GPtrArray *done, GError **error)
{
    sqlite3_stmt *st;

    if (!db_begin_immediate(inst->db, error))
        return FALSE;
    for (guint i = 0; i < done->len; i++) {
        st = db_prepare(inst->db, "INSERT INTO maintain_runs(task, list, last_run) VALUES(?1, ?2, ?3)"
                                  " ON CONFLICT(task, list) DO UPDATE SET last_run = ?3");
        sqlite3_bind_text(st, 1, task, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, done->pdata[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        if (!db_step_done(st, error)) {
            db_rollback(inst->db);
            return FALSE;
        }
    }
    st = db_prepare(inst->db, "UPDATE maintain_runs SET lease_until = 0, owner = NULL"
                              " WHERE task = ? AND list = '' AND owner = ?");
    sqlite3_bind_text(st, 1, task, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    if (!db_step_done(st, error) || !db_commit(inst->db, error)) {
        db_rollback(inst->db);
        return FALSE;
    }
    return TRUE;
}

static void
note_failure(GString *report, GError **first, const char *task, const char *list, GError *e)
{
    log_error("%s%smaintenance task %s failed: %s", list ? list : "", list ? ": " : "", task, e->message);
    if (report)
        g_string_append_printf(report, "%s%s%s failed: %s\n", list ? list : "", list ? ": " : "", task, e->message);
    if (first && !*first)
        *first = g_error_copy(e);
}

gboolean
maintain_run(Instance *inst, const MaintainOptions *opts, GString *report, int *ran, GError **error)
{
    char *rnd = random_hex(4);
    char *owner = g_strdup_printf("%s:%ld:%s", inst->hostname ? inst->hostname : "", (long) getpid(), rnd);
    char **all = opts->list ? NULL : list_names(inst);
    GString *sink = report ? report : g_string_new(NULL);
    GError *first = NULL;
    int count = 0;

    for (size_t k = 0; k < G_N_ELEMENTS(tasks); k++) {
        const MaintainTask *t = &tasks[k];
        gint64 now = now_seconds();
        GPtrArray *done = g_ptr_array_new_with_free_func(g_free);
        GError *e = NULL;
        const char *one[2] = { opts->list, NULL };
        const char *const *lists = opts->list ? one : (const char *const *) all;
        const char *instance_only[2] = { "", NULL };

        if ((opts->task && !g_str_equal(opts->task, t->name)) || (opts->list && !t->per_list)) {
            g_ptr_array_unref(done);
            continue;
        }
        if (!t->per_list)
            lists = instance_only;
        if (!opts->dry_run && !lease_take(inst, t->name, owner, now, &e)) {
            if (e) {
                note_failure(report, &first, t->name, NULL, e);
                g_error_free(e);
            } else {
                log_info("maintenance task %s is running in another process: skipped", t->name);
                if (report)
                    g_string_append_printf(report, "%s: running in another process, skipped\n", t->name);
            }
            g_ptr_array_unref(done);
            continue;
        }
        for (int i = 0; lists[i]; i++) {
            MaintainCtx c = { inst, t->per_list ? lists[i] : NULL, now, opts->dry_run, opts->force, sink };
            if (!opts->ignore_interval && !is_due(t, last_run(inst, t->name, lists[i]), now))
                continue;
            if (t->run(&c, &e)) {
                g_ptr_array_add(done, g_strdup(lists[i]));
                count++;
            } else {
                db_rollback(inst->db);           /* a task that failed inside its transaction */
                note_failure(report, &first, t->name, c.list, e);
                g_clear_error(&e);
            }
        }
        if (!opts->dry_run && !lease_give(inst, t->name, owner, now, done, &e)) {
            note_failure(report, &first, t->name, NULL, e);
            g_clear_error(&e);
        }
        g_ptr_array_unref(done);
    }
    g_strfreev(all);
    if (!report)
        g_string_free(sink, TRUE);
    g_free(owner);
    g_free(rnd);
    if (ran)
        *ran = count;
    if (first) {
        g_propagate_error(error, first);
        return FALSE;
    }
    return TRUE;
}
