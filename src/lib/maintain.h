/* maintain.h - periodic work in one place (maintain.c): a table of
 * tasks (name, interval, function) that `kairan maintain` (cron, the
 * systemd timer) and `kairan relay` (every maintain_interval) both run.
 * Each task's last run is kept in kairan.db (maintain_runs), per list for
 * the per-list tasks, so cron and the relay together do no task twice too
 * soon; a lease there keeps several processes from running one task at
 * the same time.
 *
 * Adding a task: write a MaintainFunc and add one line to the table in
 * maintain.c.  Tasks whose code lives in a job folder are declared at the
 * end of this header (linked from libkairan.a). */
#ifndef KAIRAN_MAINTAIN_H
#define KAIRAN_MAINTAIN_H

#include "instance.h"

typedef struct {
    Instance *inst;
    const char *list;     /* the list of a per-list task; NULL for an instance task */
    gint64 now;           /* now_seconds() when the run started */
    gboolean dry_run;     /* say what would be done, change nothing, send nothing */
    gboolean force;       /* the task's own "is it due" is skipped too (kairan digest --force) */
    GString *report;      /* lines for the user ("LIST: 2 held posts discarded\n") */
} MaintainCtx;

/* MaintainFunc - do the task once; FALSE with error when it failed (it
 * runs again at the next run, whatever its interval). */
typedef gboolean (*MaintainFunc)(MaintainCtx *c, GError **error);

typedef struct {
    const char *name;
    gint64 interval;      /* seconds between runs (0: every run of the runner) */
    gboolean per_list;    /* run once for each list (c->list set) */
    MaintainFunc run;
    const char *help;
} MaintainTask;

/* maintain_tasks - the table (for `kairan maintain --tasks`). */
const MaintainTask *maintain_tasks(size_t *count);

typedef struct {
    const char *list;     /* only this list's tasks (instance tasks skipped); NULL = all */
    const char *task;     /* only this task; NULL = all */
    gboolean dry_run;
    gboolean ignore_interval;   /* run even if the task ran recently */
    gboolean force;             /* see MaintainCtx.force */
} MaintainOptions;

/* maintain_run - run every task that is due (per opts); the report of
 * what was done goes to report (may be NULL).  A task that fails is
 * logged, reported and retried next time; the others still run.  FALSE
 * (error = the first failure) if any failed; *ran (may be NULL) counts
 * the task runs done. */
gboolean maintain_run(Instance *inst, const MaintainOptions *opts, GString *report, int *ran,
                      GError **error);

/* Tasks of job folders (src/ctl/digest.c). */
gboolean digest_maintain(MaintainCtx *c, GError **error);

/* Tasks of src/lib (maintain_tasks.c). */
gboolean maintain_held_expire(MaintainCtx *c, GError **error);
gboolean maintain_held_reminder(MaintainCtx *c, GError **error);
gboolean maintain_archive_expire(MaintainCtx *c, GError **error);
gboolean maintain_expired_rows(MaintainCtx *c, GError **error);
gboolean maintain_tls_reports(MaintainCtx *c, GError **error);
/* bounce_warn.c: warnings to members disabled by bounces, then removal;
 * stale bounce scores reset */
gboolean maintain_bounce_warnings(MaintainCtx *c, GError **error);
gboolean maintain_bounce_stale(MaintainCtx *c, GError **error);

#endif
