/* queue.h - kairan's persistent mail queue (HOME/queue), written by
 * deliver and command replies, sent by the relay.  Format: queue.c. */
#ifndef KAIRAN_QUEUE_H
#define KAIRAN_QUEUE_H

#include "instance.h"

typedef struct {
    char *id;
    gint64 arrival;
    char *sender;          /* "" for the null sender */
    GPtrArray *rcpts;      /* char*: every recipient of the envelope */
    GHashTable *done;      /* rcpt -> "D" (delivered), "B ..." (bounced) or
                              "X" (deleted by the administrator) */
    GHashTable *deferred;  /* rcpt -> "next_try code text" (last deferral) */
    GHashTable *held;      /* rcpt set: held by `kairan queue --hold` */
    char *dsn_mail;        /* DSN MAIL parameters (RET, ENVID) or NULL */
    GHashTable *dsn_rcpt;  /* rcpt -> DSN RCPT parameters (NOTIFY, ORCPT) */
    gboolean warned;       /* a delay warning went out (journal W) */
    gint64 size;
    char *personalize;     /* list named by a "P LIST" line, else NULL */
    guint total_rcpts;     /* R lines in the envelope (rcpts may hold a window) */
} QueueEntry;

/* queue_submit - store one message for recipients, crash-safely: the
 * content in queue/msg/ID, then the envelope in queue/env/ID (the commit
 * point), each fsynced.  Returns the queue ID or NULL (error is
 * EXIT_TEMPFAIL; EXIT_DATAERR for a sender with CR or LF, which could
 * forge an envelope line).  sender NULL or "" is the null sender. */
char *queue_submit(const Instance *inst, const char *sender,
                   const char *const *rcpts, guint nrcpts,
                   const void *data, size_t len, GError **error);
/* queue_submit_file - like queue_submit, but the content is an existing
 * fsynced file (an archive file): it is hard-linked into queue/msg/ID
 * (copied if the link fails). */
char *queue_submit_file(const Instance *inst, const char *sender,
                        const char *const *rcpts, guint nrcpts,
                        const char *content_path, GError **error);
/* queue_submit_file_dsn - queue_submit_file with the DSN parameters
 * (RFC 3461, canonical form of relay/dsn.c) of the MAIL command and of
 * each recipient (rcpt_dsn[i] may be NULL; rcpt_dsn NULL = none). */
char *queue_submit_file_dsn(const Instance *inst, const char *sender, const char *const *rcpts,
                            const char *const *rcpt_dsn, guint nrcpts, const char *mail_dsn,
                            const char *content_path, GError **error);
/* QueueRcpts - the recipients of a large envelope (a fan-out), built
 * once in envelope form; only queue.c knows that form. */
typedef struct {
    GString *lines;
    guint count;
} QueueRcpts;
QueueRcpts *queue_rcpts_new(void);
/* queue_rcpts_add - one recipient (len bytes of addr, -1 = up to NUL); an
 * address holding a line end is skipped (it would forge a line). */
void queue_rcpts_add(QueueRcpts *r, const char *addr, gssize len);
/* queue_rcpts_personalize - the relay makes one copy per recipient of
 * this list's post (VERP sender, one-click link: relay/personalize.c). */
void queue_rcpts_personalize(QueueRcpts *r, const char *list);
void queue_rcpts_free(QueueRcpts *r);
/* queue_submit_file_rcpts - queue_submit_file for a QueueRcpts. */
char *queue_submit_file_rcpts(const Instance *inst, const char *sender, const QueueRcpts *rcpts,
                              const char *content_path, GError **error);
/* queue_wakeup - tell a running relay that there is new mail (best effort). */
void queue_wakeup(const Instance *inst);
/* queue_ids - IDs with a committed envelope, oldest first. */
GPtrArray *queue_ids(const Instance *inst);
/* queue_load - read envelope and state journal of one ID (NULL if gone,
 * or if queue/env/ID is not a version 1 envelope: such a file is left
 * alone, never removed as a message without recipients). */
QueueEntry *queue_load(const Instance *inst, const char *id);
/* queue_load_window - queue_load for the recipients first .. first+max-1
 * of the envelope (in envelope order) only: rcpts, done, deferred, held
 * and dsn_rcpt then hold just those, total_rcpts counts them all.  The
 * files are read line by line, so memory follows max, not the envelope.
 * journal_upto >= 0: only the journal's first journal_upto bytes are
 * read (what was there before the relay began a pass over the message). */
QueueEntry *queue_load_window(const Instance *inst, const char *id, guint first, guint max,
                              gint64 journal_upto);
/* queue_journal_size - the size of queue/state/ID (0 if none). */
gint64 queue_journal_size(const Instance *inst, const char *id);
void queue_entry_free(QueueEntry *e);
/* queue_pending - recipients neither delivered nor bounced. */
GPtrArray *queue_pending(const QueueEntry *e);
/* queue_journal_append - append state lines (each ending in \n) to
 * queue/state/ID and fsync; a torn last line left by a crash is cut off
 * first. */
gboolean queue_journal_append(const Instance *inst, const char *id,
                              const char *lines, GError **error);
/* queue_remove - remove a finished message (env first, then the rest). */
void queue_remove(const Instance *inst, const char *id);
/* queue_is_held - TRUE if rcpt is pending and held. */
gboolean queue_is_held(const QueueEntry *e, const char *rcpt);

typedef enum { QUEUE_HOLD, QUEUE_RELEASE, QUEUE_DELETE } QueueAction;
/* queue_control - `kairan queue --hold|--release|--delete`: hold,
 * release or delete the pending recipients of message id, all of them or
 * (domain not NULL) those at domain.  Deleting without a domain removes
 * the whole message; with one, its recipients there are journaled as
 * deleted (no bounce).  A running relay is told.  Returns how many
 * recipients changed, or -1 with error (EXIT_NOINPUT: no such ID). */
int queue_control(const Instance *inst, const char *id, QueueAction action,
                  const char *domain, GError **error);

#endif
