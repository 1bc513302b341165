/* queue.c - the persistent queue of HOME/queue.
 *
 * ON-DISK FORMAT (version 1)
 *   queue/tmp/          files being written; anything here after a crash
 *                       is garbage and may be removed.
 *   queue/msg/ID        the message, once, exactly as it is to be sent
 *                       (lines end in LF; the relay sends CRLF and does
 *                       the dot-stuffing).
 *   queue/env/ID        the envelope, written once and never changed:
 *                         V 1
 *                         T <arrival, seconds since the epoch>
 *                         S <envelope sender, empty for the null sender>
 *                         R <recipient>            (one line per recipient)
 *                         P <list>                 (optional) personalise
 *                         M <DSN MAIL parameters>  (optional) RET=, ENVID=
 *                         N <DSN RCPT parameters>  (optional, after its R
 *                                                  line) NOTIFY=, ORCPT=
 *                       P asks the relay to personalise every copy for
 *                       <list> at send time (src/relay/personalize.c):
 *                       one transaction per recipient with the VERP
 *                       sender LIST-admin+LOCAL=DOMAIN@domain, the
 *                       recipient's own RFC 8058 one-click List-Unsubscribe
 *                       and a new DKIM signature.  The message file stays
 *                       one shared copy.  Readers ignore lines they do not
 *                       know, so an older relay sends the generic copy.
 *                       Its rename into env/ is the commit point: a message
 *                       without an env file does not exist.  A file whose
 *                       first line is not "V 1" is not loaded (logged and
 *                       left alone: never taken for a message without
 *                       recipients and removed).  The sender and the
 *                       recipients never contain CR or LF: a sender with
 *                       one is refused (EXIT_DATAERR), such a recipient
 *                       left out.
 *   queue/state/ID      append-only journal of per-recipient results,
 *                       written by the relay, fsynced after each append:
 *                         D <rcpt>                          delivered
 *                         B <rcpt> <code> <text>            bounced (final)
 *                         F <rcpt> <next-try> <code> <text> deferred
 *                         H <rcpt>                          held (queue --hold)
 *                         U <rcpt>                          released
 *                         W <time>                          delay warning sent
 *                         X <rcpt>                          deleted (queue
 *                                                           --delete ALL
 *                                                           --domain D): final,
 *                                                           no bounce
 *                       A line counts only if it ends in LF (a torn last
 *                       line after a crash is ignored, and cut off by the
 *                       next append, so the new line is not glued onto
 *                       it).  Later lines win.
 *   ID is 13 hex digits of the arrival time in microseconds plus 6 random
 *   hex digits, so `ls` sorts by arrival.
 *   queue/wakeup        a FIFO the running relay creates and holds open;
 *                       queue_wakeup() writes a byte into it (best effort).
 *   queue/flush         a flag file written by `kairan flush`: the relay
 *                       (inotify on queue/) removes it and retries every
 *                       deferred recipient at once.
 *   queue/release       a flag file written by `kairan queue --hold|
 *                       --release|--delete`: the relay removes it and
 *                       looks at every idle message again (journal).
 *   queue/relay.pid     the running relay's PID, flock()ed while it runs
 *                       (a second relay for the same instance refuses).
 *   The relay also keeps its unfinished SMTP DATA in queue/tmp/smtpd.*
 *   and removes leftovers of those at start.  F lines carry the next try
 *   as seconds since the epoch; the retry interval is
 *   clamp(age of the message, retry_min, retry_max) (src/relay/runner.c).
 *
 * Writing order: msg (tmp, fsync, rename), env (tmp, fsync, rename),
 * fsync of the directories; only then is the mail acknowledged.  Removal:
 * env first, then state and msg, so a crash never leaves an envelope
 * without its content. */
#include "config.h"
#include "queue.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static gboolean
queue_dirs(const Instance *inst, GError **error)
{
    static const char *subs[] = { "tmp", "msg", "env", "state", NULL };
    for (int i = 0; subs[i]; i++) {
        char *d = instance_path(inst, "queue", subs[i], NULL);
        gboolean ok = g_file_test(d, G_FILE_TEST_IS_DIR) || mkdir_p(d, 0750, error);
        g_free(d);
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

/* sender_ok - an envelope sender that cannot forge an envelope line. */
static gboolean
sender_ok(const char *sender, GError **error)
{
    if (sender && strpbrk(sender, "\r\n")) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "queue: the envelope sender contains a line break");
        return FALSE;
    }
    return TRUE;
}

static char *
new_queue_id(void)
{
    char *rnd = random_hex(3);
    char *id = g_strdup_printf("%013" G_GINT64_MODIFIER "X%s", g_get_real_time(), rnd);
    g_free(rnd);
    for (char *p = id; *p; p++)
        *p = g_ascii_toupper(*p);
    return id;
}

/* commit_envelope - write queue/env/ID: the commit point of a message. */
static gboolean
commit_envelope(const Instance *inst, const char *id, const char *sender,
                const char *const *rcpts, guint nrcpts, const GString *lines, GError **error)
{
    char *tmpdir = instance_path(inst, "queue", "tmp", NULL);
    char *envpath = instance_path(inst, "queue", "env", id, NULL);
    GString *env = g_string_sized_new(64 + (lines ? lines->len : nrcpts * 32));
    gboolean ok;

    g_string_append_printf(env, "V 1\nT %" G_GINT64_FORMAT "\nS %s\n", now_seconds(),
                           sender ? sender : "");
    if (lines)
        g_string_append_len(env, lines->str, (gssize) lines->len);
    for (guint i = 0; rcpts && i < nrcpts; i++) {
        if (strpbrk(rcpts[i], "\r\n") != NULL)
            continue;                       /* never let a recipient forge a line */
        g_string_append_len(env, "R ", 2);
        g_string_append(env, rcpts[i]);
        g_string_append_c(env, '\n');
    }
    ok = write_file_atomic(envpath, NULL, env->str, env->len, error);
    g_string_free(env, TRUE);
    g_free(tmpdir);
    g_free(envpath);
    return ok;
}

/* reserve_id - a new queue ID whose queue/msg file did not exist: the
 * file is created empty (O_EXCL), so two writers in one microsecond with
 * the same random digits never share an ID; the content then replaces it
 * by rename.  NULL with error when the directory cannot be written. */
static char *
reserve_id(const Instance *inst, char **msgpath, GError **error)
{
    for (int tries = 0; tries < 16; tries++) {
        char *id = new_queue_id();
        char *path = instance_path(inst, "queue", "msg", id, NULL);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            *msgpath = path;
            return id;
        }
        g_free(id);
        g_free(path);
        if (errno != EEXIST) {
            g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "queue/msg: %s", g_strerror(errno));
            return NULL;
        }
    }
    g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "queue/msg: no free queue ID");
    return NULL;
}

char *
queue_submit(const Instance *inst, const char *sender,
             const char *const *rcpts, guint nrcpts,
             const void *data, size_t len, GError **error)
{
    char *id = NULL;
    char *tmpdir = instance_path(inst, "queue", "tmp", NULL);
    char *msgpath = NULL;
    gboolean ok = FALSE;

    if (!sender_ok(sender, error) || !queue_dirs(inst, error))
        goto out;
    if (!(id = reserve_id(inst, &msgpath, error)))
        goto out;
    if (!write_file_atomic(msgpath, NULL, data, len, error)) {
        unlink(msgpath);
        goto out;
    }
    if (!commit_envelope(inst, id, sender, rcpts, nrcpts, NULL, error)) {
        unlink(msgpath);
        goto out;
    }
    ok = TRUE;
    log_info("%s: queued from=<%s>, nrcpt=%u, size=%zu", id, sender ? sender : "", nrcpts, len);
out:
    g_free(tmpdir);
    g_free(msgpath);
    if (!ok) {
        g_free(id);
        return NULL;
    }
    return id;
}

static char *
submit_file(const Instance *inst, const char *sender, const char *const *rcpts, guint nrcpts,
            const GString *lines, const char *content_path, GError **error)
{
    char *id = new_queue_id();
    char *msgpath = instance_path(inst, "queue", "msg", id, NULL);
    char *msgdir = instance_path(inst, "queue", "msg", NULL);
    gboolean ok = FALSE, linked;
    struct stat sb;

    if (!sender_ok(sender, error) || !queue_dirs(inst, error))
        goto out;
    /* link() never replaces a file: an ID taken meanwhile gets another */
    for (int tries = 0; !(linked = link(content_path, msgpath) == 0) && errno == EEXIST && tries < 16; tries++) {
        g_free(id);
        g_free(msgpath);
        id = new_queue_id();
        msgpath = instance_path(inst, "queue", "msg", id, NULL);
    }
    if (!linked) {
        g_free(id);
        g_free(msgpath);
        msgpath = NULL;
        if (!(id = reserve_id(inst, &msgpath, error)))
            goto out;
    }
    if (linked) {
        if (!fsync_dir(msgdir, error)) {
            unlink(msgpath);
            goto out;
        }
    } else {
        char *data = NULL;
        gsize len = 0;
        char *tmpdir = instance_path(inst, "queue", "tmp", NULL);
        gboolean copied = g_file_get_contents(content_path, &data, &len, error) &&
                          write_file_atomic(msgpath, NULL, data, len, error);
        g_free(data);
        g_free(tmpdir);
        if (!copied) {
            unlink(msgpath);                /* the reserved, empty file */
            if (error && *error) {          /* a GFileError: give it kairan's domain */
                (*error)->domain = KAIRAN_ERROR;
                (*error)->code = EXIT_TEMPFAIL;
            }
            goto out;
        }
    }
    if (!commit_envelope(inst, id, sender, rcpts, nrcpts, lines, error)) {
        unlink(msgpath);
        goto out;
    }
    ok = TRUE;
    log_info("%s: queued from=<%s>, nrcpt=%u, size=%lld", id, sender ? sender : "", nrcpts,
             stat(msgpath, &sb) == 0 ? (long long) sb.st_size : -1LL);
out:
    g_free(msgpath);
    g_free(msgdir);
    if (!ok) {
        g_free(id);
        return NULL;
    }
    return id;
}

char *
queue_submit_file_dsn(const Instance *inst, const char *sender, const char *const *rcpts,
                      const char *const *rcpt_dsn, guint nrcpts, const char *mail_dsn,
                      const char *content_path, GError **error)
{
    GString *lines = g_string_new(NULL);
    guint n = 0;
    char *id;

    if (mail_dsn && *mail_dsn && !strpbrk(mail_dsn, "\r\n"))
        g_string_append_printf(lines, "M %s\n", mail_dsn);
    for (guint i = 0; i < nrcpts; i++) {
        if (strpbrk(rcpts[i], "\r\n") != NULL || !*rcpts[i])
            continue;                       /* never let a recipient forge a line */
        g_string_append_printf(lines, "R %s\n", rcpts[i]);
        if (rcpt_dsn && rcpt_dsn[i] && *rcpt_dsn[i] && !strpbrk(rcpt_dsn[i], "\r\n"))
            g_string_append_printf(lines, "N %s\n", rcpt_dsn[i]);
        n++;
    }
    id = submit_file(inst, sender, NULL, n, lines, content_path, error);
    g_string_free(lines, TRUE);
    return id;
}

char *
queue_submit_file(const Instance *inst, const char *sender,
                  const char *const *rcpts, guint nrcpts,
                  const char *content_path, GError **error)
{
    return submit_file(inst, sender, rcpts, nrcpts, NULL, content_path, error);
}

QueueRcpts *
queue_rcpts_new(void)
{
    QueueRcpts *r = g_new0(QueueRcpts, 1);
    r->lines = g_string_sized_new(4096);
    return r;
}

void
queue_rcpts_add(QueueRcpts *r, const char *addr, gssize len)
{
    if (len < 0)
        len = (gssize) strlen(addr);
    if (len == 0 || memchr(addr, '\n', (size_t) len) || memchr(addr, '\r', (size_t) len))
        return;
    g_string_append_len(r->lines, "R ", 2);
    g_string_append_len(r->lines, addr, len);
    g_string_append_c(r->lines, '\n');
    r->count++;
}

void
queue_rcpts_personalize(QueueRcpts *r, const char *list)
{
    char *p;
    if (strpbrk(list, "\r\n"))
        return;
    p = g_strdup_printf("P %s\n", list);
    g_string_prepend(r->lines, p);   /* before the R lines, as queue_load expects */
    g_free(p);
}

void
queue_rcpts_free(QueueRcpts *r)
{
    if (!r)
        return;
    g_string_free(r->lines, TRUE);
    g_free(r);
}

char *
queue_submit_file_rcpts(const Instance *inst, const char *sender, const QueueRcpts *rcpts,
                        const char *content_path, GError **error)
{
    return submit_file(inst, sender, NULL, rcpts->count, rcpts->lines, content_path, error);
}

void
queue_wakeup(const Instance *inst)
{
    /* The relay watches queue/env with inotify; a FIFO queue/wakeup, if a
     * relay created one, is poked too so that older set-ups still work. */
    char *fifo = instance_path(inst, "queue", "wakeup", NULL);
    int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = write(fd, "w", 1);
        (void) n;
        close(fd);
    }
    g_free(fifo);
}

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

GPtrArray *
queue_ids(const Instance *inst)
{
    char *dir = instance_path(inst, "queue", "env", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    while (d && (name = g_dir_read_name(d)))
        if (name[0] != '.')
            g_ptr_array_add(ids, g_strdup(name));
    if (d)
        g_dir_close(d);
    g_free(dir);
    g_ptr_array_sort(ids, cmp_str);
    return ids;
}

void
queue_entry_free(QueueEntry *e)
{
    if (!e)
        return;
    g_free(e->id);
    g_free(e->sender);
    g_free(e->personalize);
    g_ptr_array_unref(e->rcpts);
    g_hash_table_unref(e->done);
    g_hash_table_unref(e->deferred);
    g_hash_table_unref(e->held);
    g_hash_table_unref(e->dsn_rcpt);
    g_free(e->dsn_mail);
    g_free(e);
}

/* wanted - whether a journal or N line about rcpt belongs to e: every
 * recipient for a whole load, else those of the window (in_window). */
static gboolean
wanted(GHashTable *in_window, const char *rcpt)
{
    return !in_window || g_hash_table_contains(in_window, rcpt);
}

QueueEntry *
queue_load_window(const Instance *inst, const char *id, guint first, guint max, gint64 journal_upto)
{
    char *envpath = instance_path(inst, "queue", "env", id, NULL);
    char *statepath = instance_path(inst, "queue", "state", id, NULL);
    char *msgpath = instance_path(inst, "queue", "msg", id, NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    QueueEntry *e = NULL;
    GHashTable *in_window = NULL;
    gboolean last_in = FALSE;        /* the last R line was taken */
    FILE *f;
    struct stat sb;

    /* Streamed line by line: a fan-out's envelope holds every member, and
     * the relay keeps only the window it is sending (runner.c). */
    if (!(f = fopen(envpath, "re")))
        goto out;
    n = getline(&line, &cap, f);
    if (n != 4 || memcmp(line, "V 1\n", 4) != 0) {
        log_warn("%s: queue/env/%s is not a version 1 envelope; left alone", id, id);
        fclose(f);
        goto out;
    }
    e = g_new0(QueueEntry, 1);
    e->id = g_strdup(id);
    e->sender = g_strdup("");
    e->rcpts = g_ptr_array_new_with_free_func(g_free);
    e->done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    e->deferred = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    e->held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    e->dsn_rcpt = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    e->size = stat(msgpath, &sb) == 0 ? (gint64) sb.st_size : 0;
    if (first > 0 || max != G_MAXUINT)
        in_window = g_hash_table_new(g_str_hash, g_str_equal);
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break;                         /* cannot happen: env is written whole */
        line[n - 1] = '\0';
        if (line[0] == 'T' && line[1] == ' ')
            e->arrival = g_ascii_strtoll(line + 2, NULL, 10);
        else if (line[0] == 'S' && line[1] == ' ') {
            g_free(e->sender);
            e->sender = g_strdup(line + 2);
        } else if (line[0] == 'R' && line[1] == ' ') {
            guint k = e->total_rcpts++;
            last_in = k >= first && k - first < max;
            if (last_in) {
                char *r = g_strdup(line + 2);
                g_ptr_array_add(e->rcpts, r);
                if (in_window)
                    g_hash_table_add(in_window, r);
            }
        } else if (line[0] == 'M' && line[1] == ' ' && line[2]) {
            g_free(e->dsn_mail);
            e->dsn_mail = g_strdup(line + 2);
        } else if (line[0] == 'N' && line[1] == ' ' && line[2] && last_in && e->rcpts->len > 0)
            g_hash_table_replace(e->dsn_rcpt, g_strdup(e->rcpts->pdata[e->rcpts->len - 1]), g_strdup(line + 2));
        else if (line[0] == 'P' && line[1] == ' ' && line[2]) {
            g_free(e->personalize);
            e->personalize = g_strdup(line + 2);
        }
    }
    fclose(f);
    if ((f = fopen(statepath, "re"))) {
        gint64 at = 0;
        while ((journal_upto < 0 || at < journal_upto) && (n = getline(&line, &cap, f)) > 0) {
            char *sp, *rcpt, *rest;
            at += n;
            if (line[n - 1] != '\n')
                break;                     /* torn last line: ignore */
            line[n - 1] = '\0';
            if (strlen(line) < 3 || line[1] != ' ')
                continue;
            if (line[0] == 'W') {
                e->warned = TRUE;
                continue;
            }
            rcpt = line + 2;
            sp = strchr(rcpt, ' ');
            rest = sp ? sp + 1 : (char *) "";
            if (sp)
                *sp = '\0';
            if (!wanted(in_window, rcpt))
                continue;
            if (line[0] == 'D')
                g_hash_table_replace(e->done, g_strdup(rcpt), g_strdup("D"));
            else if (line[0] == 'B')
                g_hash_table_replace(e->done, g_strdup(rcpt), g_strconcat("B ", rest, NULL));
            else if (line[0] == 'F')
                g_hash_table_replace(e->deferred, g_strdup(rcpt), g_strdup(rest));
            else if (line[0] == 'X')
                g_hash_table_replace(e->done, g_strdup(rcpt), g_strdup("X"));
            else if (line[0] == 'H')
                g_hash_table_add(e->held, g_strdup(rcpt));
            else if (line[0] == 'U')
                g_hash_table_remove(e->held, rcpt);
        }
        fclose(f);
    }
out:
    if (in_window)
        g_hash_table_unref(in_window);
    free(line);
    g_free(envpath);
    g_free(statepath);
    g_free(msgpath);
    return e;
}

QueueEntry *
queue_load(const Instance *inst, const char *id)
{
    return queue_load_window(inst, id, 0, G_MAXUINT, -1);
}

gint64
queue_journal_size(const Instance *inst, const char *id)
{
    char *path = instance_path(inst, "queue", "state", id, NULL);
    struct stat sb;
    gint64 size = stat(path, &sb) == 0 ? (gint64) sb.st_size : 0;
    g_free(path);
    return size;
}

GPtrArray *
queue_pending(const QueueEntry *e)
{
    GPtrArray *a = g_ptr_array_new();
    for (guint i = 0; i < e->rcpts->len; i++)
        if (!g_hash_table_contains(e->done, e->rcpts->pdata[i]))
            g_ptr_array_add(a, e->rcpts->pdata[i]);
    return a;
}

/* cut_torn_line - cut off a last line without its LF (a write torn by a
 * crash) so that the next append starts a line of its own. */
static gboolean
cut_torn_line(int fd)
{
    struct stat sb;
    off_t end;
    char c;

    if (fstat(fd, &sb) < 0)
        return FALSE;
    for (end = sb.st_size; end > 0; end--) {
        if (pread(fd, &c, 1, end - 1) != 1)
            return FALSE;
        if (c == '\n')
            break;
    }
    return end == sb.st_size || ftruncate(fd, end) == 0;
}

gboolean
queue_journal_append(const Instance *inst, const char *id, const char *lines, GError **error)
{
    char *path = instance_path(inst, "queue", "state", id, NULL);
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    size_t len = strlen(lines);
    gboolean ok = fd >= 0 && cut_torn_line(fd);

    if (ok) {
        const char *p = lines;
        while (len > 0) {
            ssize_t n = write(fd, p, len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                ok = FALSE;
                break;
            }
            p += n;
            len -= (size_t) n;
        }
        if (ok && fsync(fd) < 0)
            ok = FALSE;
    }
    if (!ok)
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "queue journal %s: %s", path, g_strerror(errno));
    if (fd >= 0)
        close(fd);
    g_free(path);
    return ok;
}

void
queue_remove(const Instance *inst, const char *id)
{
    static const char *subs[] = { "env", "state", "msg", NULL };
    for (int i = 0; subs[i]; i++) {
        char *p = instance_path(inst, "queue", subs[i], id, NULL);
        unlink(p);
        g_free(p);
    }
}

gboolean
queue_is_held(const QueueEntry *e, const char *rcpt)
{
    return g_hash_table_contains(e->held, rcpt) && !g_hash_table_contains(e->done, rcpt);
}

/* queue_id_valid - an ID is hex digits only (new_queue_id), so a
 * name from the command line never leaves queue/env. */
static gboolean
queue_id_valid(const char *id)
{
    if (!*id)
        return FALSE;
    for (const char *p = id; *p; p++)
        if (!g_ascii_isxdigit(*p))
            return FALSE;
    return TRUE;
}

/* rcpt_in_domain - TRUE if rcpt's domain is domain (ASCII case-insensitive). */
static gboolean
rcpt_in_domain(const char *rcpt, const char *domain)
{
    const char *at = strrchr(rcpt, '@');
    return domain == NULL || (at && g_ascii_strcasecmp(at + 1, domain) == 0);
}

int
queue_control(const Instance *inst, const char *id, QueueAction action,
              const char *domain, GError **error)
{
    QueueEntry *e = queue_id_valid(id) ? queue_load(inst, id) : NULL;
    GString *j;
    int n = 0;
    char *flag, *tmpdir;

    if (!e) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s: no such message in the queue", id);
        return -1;
    }
    if (action == QUEUE_DELETE && domain == NULL) {
        GPtrArray *pending = queue_pending(e);
        n = (int) pending->len;
        g_ptr_array_unref(pending);
        queue_remove(inst, id);
        log_info("%s: deleted by the administrator (%d recipient%s pending)", id, n, n == 1 ? "" : "s");
        queue_entry_free(e);
        return n;
    }
    j = g_string_new(NULL);
    for (guint i = 0; i < e->rcpts->len; i++) {
        const char *rcpt = e->rcpts->pdata[i];
        gboolean held = g_hash_table_contains(e->held, rcpt);
        if (g_hash_table_contains(e->done, rcpt) || !rcpt_in_domain(rcpt, domain))
            continue;
        if (action == QUEUE_HOLD && held)
            continue;
        if (action == QUEUE_RELEASE && !held)
            continue;
        g_string_append_printf(j, "%c %s\n", action == QUEUE_HOLD ? 'H' : action == QUEUE_RELEASE ? 'U' : 'X', rcpt);
        n++;
    }
    if (n > 0 && !queue_journal_append(inst, id, j->str, error)) {
        g_string_free(j, TRUE);
        queue_entry_free(e);
        return -1;
    }
    g_string_free(j, TRUE);
    queue_entry_free(e);
    if (n == 0)
        return 0;
    log_info("%s: %s by the administrator: %d recipient%s%s%s", id,
             action == QUEUE_HOLD ? "held" : action == QUEUE_RELEASE ? "released" : "deleted",
             n, n == 1 ? "" : "s", domain ? " at " : "", domain ? domain : "");
    /* Tell a running relay to look at its messages again: the flag file
     * queue/release (inotify on queue/, like queue/flush), which it
     * removes; without a relay the next start reads the journal anyway. */
    flag = instance_path(inst, "queue", "release", NULL);
    tmpdir = instance_path(inst, "queue", "tmp", NULL);
    if (!write_file_atomic(flag, tmpdir, "release\n", 8, NULL))
        log_warn("%s: cannot write %s", id, flag);
    g_free(flag);
    g_free(tmpdir);
    queue_wakeup(inst);
    return n;
}
