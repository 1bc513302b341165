/* runner.c - the queue runner of `kairan relay`.
 *
 * The main thread keeps a table of queued message IDs with the time each
 * is due.  It learns about new messages from inotify on queue/env (the
 * rename that commits an envelope), from the FIFO queue/wakeup that
 * queue_wakeup() pokes, and from a full scan at start and on flush (the
 * file queue/flush, watched on queue/).  A due message is loaded
 * (envelope + journal) a window of RUNNER_WINDOW recipients at a time,
 * so a 100,000-member fan-out needs no more memory than a 10,000-member
 * one; the pending recipients of the window are grouped by
 * destination - the instance's own domain is delivered locally through
 * `kairan deliver`, a domain in `routes` or the `smarthost` goes there,
 * anything else by MX - and cut into batches of max_rcpt_per_txn.
 *
 * smtp_max_connections worker threads take batches; at most
 * smtp_max_per_destination of them serve one destination at a time, and
 * a worker sends batch after batch for its destination over one
 * connection (reuse across messages too).  After each transaction the
 * worker appends the results to queue/state/ID and fsyncs: D for 2xx,
 * B for 5xx (after the bounce has been queued), F with the next try for
 * 4xx or a failed connection.  Only what the remote acknowledged becomes
 * D, so after kill -9 a restart resends exactly the recipients without a
 * D or B line: duplicates are limited to the transactions in flight.
 * When the last batch of a message is back, the main thread reloads it
 * and removes it (queue_remove) once no recipient is pending.
 *
 * A message whose envelope has a "P LIST" line (personalize = yes) is
 * sent by send_personal(): batches of at most PERSONAL_BATCH recipients,
 * each recipient in its own transaction with its VERP sender and its own
 * header block (personalize.c); a hard failure bounces to that VERP
 * address.  Everything else - journal, retries, connection reuse - is
 * the same as for a normal message.
 *
 * Retry back-off: next try = now + clamp(age of the message, retry_min,
 * retry_max), which doubles the interval from retry_min (5m) up to
 * retry_max (1h) for a message retried on time.  A temporary failure
 * after max_queue_lifetime (5d) becomes a bounce (Status 4.4.7). */
#define _GNU_SOURCE 1
#include "config.h"
#include "relay.h"
#include "tlsrpt.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *id;
    gint64 due;
    gboolean busy, force;
    int outstanding;          /* batches out; under R.lock */
    char *sender;
    gint64 arrival, size;
    GBytes *wire;
    gboolean eightbit;        /* the content has octets >= 0x80 */
    Personal *pers;           /* personalised delivery ("P LIST"), else NULL;
                                 wire is then the shared body only */
    GMutex jlock;
    char *dsn_mail;           /* DSN MAIL parameters (RET, ENVID) or NULL */
    GHashTable *dsn_rcpt;     /* rcpt -> NOTIFY/ORCPT, or NULL */
    gboolean warned;          /* a delay warning went out; under jlock */
    guint window;             /* first envelope recipient of the next window */
    guint total;              /* recipients in the envelope */
    gint64 journal_upto;      /* journal bytes before this pass (-1: read all) */
    gboolean pass_unclean;    /* in this pass a recipient was left for later
                                 (not due, held) or deferred (F); atomic */
} Msg;

typedef struct {
    Msg *m;
    GPtrArray *rcpts;         /* char*, owned */
    gboolean passed_on;       /* the next hop took the DSN parameters */
    gboolean local;           /* delivered here (kairan deliver) */
} Batch;

typedef struct {
    char *key;
    char *target;             /* domain or route value; NULL for local */
    gboolean is_route, local;
    GQueue batches;
    int active;
    int idle;                 /* connected workers waiting for more batches */
} Dest;

static struct {
    Relay *r;
    GMutex lock;
    GCond cond;
    GHashTable *msgs;         /* id -> Msg*, main thread only */
    GHashTable *dests;        /* key -> Dest*, under lock */
    GAsyncQueue *finished;    /* Msg* whose batches are all back */
    int wake[2];
    int busy_msgs;            /* main thread: messages out with workers */
    gint64 busy_bytes;        /* ... and the size of their wire forms */
} R;

/* Bounded memory: at most this much is handed to the workers at a time;
 * the rest stays due and goes out as earlier messages come back. */
#define MAX_BUSY_MSGS 1000
#define MAX_BUSY_BYTES (32 * 1024 * 1024)
/* Recipients per batch of a personalised message: each is its own
 * transaction, so the batch is only the unit of work of a worker (and of
 * a journal fsync); smaller batches spread a fan-out over more
 * connections. */
#define PERSONAL_BATCH 50
/* Recipients of one message handed to the workers at a time (dispatch);
 * the test suite makes it small with KAIRAN_TEST_RELAY_WINDOW (test-only,
 * HACKING.md) to cross window edges with a few recipients. */
#define RUNNER_WINDOW_DEFAULT 10000
static guint RUNNER_WINDOW = RUNNER_WINDOW_DEFAULT;

static void
msg_free(gpointer p)
{
    Msg *m = p;
    g_free(m->id);
    g_free(m->sender);
    if (m->wire)
        g_bytes_unref(m->wire);
    personal_free(m->pers);
    g_free(m->dsn_mail);
    if (m->dsn_rcpt)
        g_hash_table_unref(m->dsn_rcpt);
    g_mutex_clear(&m->jlock);
    g_free(m);
}

static void
dest_free(gpointer p)
{
    Dest *d = p;
    g_free(d->key);
    g_free(d->target);
    g_free(d);
}

static void
batch_free(Batch *b)
{
    g_ptr_array_unref(b->rcpts);
    g_free(b);
}

static gint64
now_s(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

static void
wake_main(void)
{
    ssize_t n = write(R.wake[1], "x", 1);
    (void) n;
}

/* ---- completing a batch (worker threads) ---- */

/* arrival_us - the arrival in microseconds: the first 13 hex digits of
 * the queue ID (queue.c), else the envelope's T line. */
static gint64
arrival_us(const Msg *m)
{
    char hex[14];
    char *end;
    gint64 us;

    if (strlen(m->id) < 13)
        return m->arrival * G_USEC_PER_SEC;
    memcpy(hex, m->id, 13);
    hex[13] = '\0';
    us = g_ascii_strtoll(hex, &end, 16);
    return *end == '\0' && us > 0 ? us : m->arrival * G_USEC_PER_SEC;
}

/* reply_of - the remote's reply without the "HOST said: " prefix. */
static const char *
reply_of(const char *text)
{
    const char *said = text ? strstr(text, " said: ") : NULL;
    return said ? said + 7 : (text ? text : "");
}


/* dsn_reports - the success reports (NOTIFY=SUCCESS: "delivered" here,
 * "relayed" to a next hop without DSN) and, once per message, the delay
 * warning for the recipients still deferred after delay_warning_time
 * (its journal line W goes into j).  Never to the null sender. */
static void
dsn_reports(Batch *b, GArray *success, GArray *delayed, GString *j)
{
    Relay *r = R.r;
    Msg *m = b->m;
    GError *error = NULL;
    gboolean warn;

    if (!*m->sender || m->pers)
        return;
    if (success->len > 0 &&
        !bounce_queue_dsn(r, m->id, m->sender, m->arrival, (RcptResult *) success->data, success->len,
                          b->local ? DSN_DELIVERED : DSN_RELAYED, m->dsn_mail, &error)) {
        log_error("%s: cannot queue a success report: %s", m->id, error ? error->message : "?");
        g_clear_error(&error);
    }
    if (delayed->len == 0)
        return;
    g_mutex_lock(&m->jlock);
    warn = !m->warned;
    m->warned = TRUE;
    g_mutex_unlock(&m->jlock);
    if (!warn)
        return;
    if (bounce_queue_dsn(r, m->id, m->sender, m->arrival, (RcptResult *) delayed->data, delayed->len,
                         DSN_DELAYED, m->dsn_mail, &error)) {
        g_string_append_printf(j, "W %" G_GINT64_FORMAT "\n", now_s());
        log_info("%s: sender delay notification for %u recipient%s", m->id, delayed->len,
                 delayed->len == 1 ? "" : "s");
    } else {
        log_error("%s: cannot queue a delay warning: %s", m->id, error ? error->message : "?");
        g_clear_error(&error);
        g_mutex_lock(&m->jlock);
        m->warned = FALSE;
        g_mutex_unlock(&m->jlock);
    }
}

static void
complete_batch(Batch *b, RcptResult *res, const char *relay)
{
    Relay *r = R.r;
    Msg *m = b->m;
    GString *j = g_string_new(NULL);
    GArray *hard = g_array_new(FALSE, FALSE, sizeof(RcptResult));
    GArray *expired = g_array_new(FALSE, FALSE, sizeof(RcptResult));
    GArray *success = g_array_new(FALSE, FALSE, sizeof(RcptResult));
    GArray *delayed = g_array_new(FALSE, FALSE, sizeof(RcptResult));
    gint64 now = now_s();
    double delay = (double) (g_get_real_time() - arrival_us(m)) / G_USEC_PER_SEC;
    gint64 backoff = CLAMP(now - m->arrival, r->retry_min, r->retry_max);
    GError *error = NULL;
    guint n = b->rcpts->len;
    gboolean done;

    for (guint i = 0; i < n; i++) {
        RcptResult *x = &res[i];
        const char *text = x->text ? x->text : "";
        if (x->code / 100 == 2) {
            if (dsn_notify(x->dsn) & DSN_NOTIFY_SUCCESS && (b->local || !b->passed_on))
                g_array_append_val(success, *x);
            g_string_append_printf(j, "D %s\n", x->rcpt);
            log_info("%s: to=<%s>, relay=%s, delay=%.2f, status=sent (%s)", m->id, x->rcpt, relay, delay, reply_of(text));
        } else if (x->code / 100 == 5) {
            g_array_append_val(hard, *x);
        } else if (now - m->arrival >= r->max_lifetime) {
            g_array_append_val(expired, *x);
        } else {
            g_string_append_printf(j, "F %s %" G_GINT64_FORMAT " %d %s\n", x->rcpt, now + backoff,
                                   x->code ? x->code : 421, text);
            g_atomic_int_set(&m->pass_unclean, TRUE);
            log_info("%s: to=<%s>, relay=%s, delay=%.2f, status=deferred (%s)", m->id, x->rcpt, relay, delay, reply_of(text));
            if (r->delay_warning > 0 && now - m->arrival >= r->delay_warning &&
                (dsn_notify(x->dsn) == 0 || dsn_notify(x->dsn) & DSN_NOTIFY_DELAY))
                g_array_append_val(delayed, *x);
        }
    }
    dsn_reports(b, success, delayed, j);
    for (int pass = 0; pass < 2; pass++) {
        GArray *a = pass ? expired : hard;
        gboolean queued;
        if (a->len == 0)
            continue;
        if (m->pers) {
            /* each copy had its own VERP sender: one bounce to each */
            queued = TRUE;
            for (guint i = 0; i < a->len && queued; i++) {
                RcptResult *x = &g_array_index(a, RcptResult, i);
                char *verp = personal_verp(m->sender, x->rcpt);
                queued = bounce_queue(r, m->id, verp, m->arrival, x, 1, pass == 1, &error);
                g_free(verp);
            }
        } else {
            /* NOTIFY without FAILURE (NEVER, or SUCCESS/DELAY only): no report */
            GArray *want = g_array_new(FALSE, FALSE, sizeof(RcptResult));
            for (guint i = 0; i < a->len; i++) {
                RcptResult *x = &g_array_index(a, RcptResult, i);
                int notify = dsn_notify(x->dsn);
                if (notify == 0 || notify & DSN_NOTIFY_FAILURE)
                    g_array_append_val(want, *x);
                else
                    log_info("%s: to=<%s>: no non-delivery notification (%s)", m->id, x->rcpt, x->dsn);
            }
            queued = want->len == 0 ||
                     bounce_queue_dsn(r, m->id, m->sender, m->arrival, (RcptResult *) want->data, want->len,
                                      pass ? DSN_EXPIRED : DSN_FAILED, m->dsn_mail, &error);
            g_array_unref(want);
        }
        if (!queued) {
            log_error("%s: cannot queue a bounce: %s", m->id, error ? error->message : "?");
            g_clear_error(&error);
        }
        for (guint i = 0; i < a->len; i++) {
            RcptResult *x = &g_array_index(a, RcptResult, i);
            const char *text = x->text ? x->text : "";
            if (queued) {
                g_string_append_printf(j, "B %s %d %s\n", x->rcpt, x->code, text);
                log_info("%s: to=<%s>, relay=%s, delay=%.2f, status=%s (%s)", m->id, x->rcpt, relay, delay,
                         pass ? "expired" : "bounced", reply_of(text));
            } else {
                g_string_append_printf(j, "F %s %" G_GINT64_FORMAT " %d %s\n", x->rcpt, now + backoff, x->code, text);
                g_atomic_int_set(&m->pass_unclean, TRUE);
            }
        }
    }
    g_mutex_lock(&m->jlock);
    if (j->len && !queue_journal_append(r->inst, m->id, j->str, &error)) {
        log_error("%s: %s", m->id, error->message);
        g_clear_error(&error);
    }
    g_mutex_unlock(&m->jlock);
    g_string_free(j, TRUE);
    g_array_unref(hard);
    g_array_unref(expired);
    g_array_unref(success);
    g_array_unref(delayed);

    g_mutex_lock(&R.lock);
    done = --m->outstanding == 0;
    g_mutex_unlock(&R.lock);
    if (done) {
        g_async_queue_push(R.finished, m);
        wake_main();
    }
}

static RcptResult *
results_new(Batch *b)
{
    RcptResult *res = g_new0(RcptResult, b->rcpts->len);
    for (guint i = 0; i < b->rcpts->len; i++) {
        res[i].rcpt = b->rcpts->pdata[i];
        res[i].dsn = b->m->dsn_rcpt ? g_hash_table_lookup(b->m->dsn_rcpt, res[i].rcpt) : NULL;
    }
    return res;
}

static void
results_free(RcptResult *res, guint n)
{
    for (guint i = 0; i < n; i++)
        g_free(res[i].text);
    g_free(res);
}

static void
fail_batch(Batch *b, int code, const char *text, const char *relay)
{
    RcptResult *res = results_new(b);
    for (guint i = 0; i < b->rcpts->len; i++) {
        res[i].code = code;
        res[i].text = g_strdup(text);
    }
    complete_batch(b, res, relay);
    results_free(res, b->rcpts->len);
    batch_free(b);
}

static void
deliver_local(Batch *b)
{
    Relay *r = R.r;
    RcptResult *res = results_new(b);
    char *path = instance_path(r->inst, "queue", "msg", b->m->id, NULL);

    for (guint i = 0; i < b->rcpts->len; i++) {
        char *list = NULL, *why = NULL;
        const char *mode, *text;
        int fd, status;

        relay_local_target(r, res[i].rcpt, &list, &mode);
        if (!list) {
            res[i].code = 550;
            res[i].text = g_strdup("5.1.1 No such list here");
            continue;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        status = fd < 0 ? EXIT_TEMPFAIL : local_deliver(r, list, mode, b->m->sender, res[i].rcpt, fd, &why);
        if (fd >= 0)
            close(fd);
        res[i].code = local_status(status, &text);
        res[i].text = g_strdup_printf("%s (deliver exit %d%s%s)", text, status, why ? ": " : "", why ? why : "");
        g_free(why);
        g_free(list);
    }
    b->local = TRUE;
    complete_batch(b, res, "local");
    results_free(res, b->rcpts->len);
    batch_free(b);
    g_free(path);
}

/* ---- workers ---- */

static Batch *
pop_batch(Dest *d)
{
    Batch *b;
    g_mutex_lock(&R.lock);
    b = g_queue_pop_head(&d->batches);
    g_mutex_unlock(&R.lock);
    return b;
}

/* pop_batch_wait - the next batch for d; with an open connection, wait
 * up to smtp_connection_cache_time for one, so that messages arriving one
 * after another share the connection (other workers leave a destination
 * with an idle connection alone). */
static Batch *
pop_batch_wait(Dest *d, gboolean connected)
{
    gint64 end = g_get_monotonic_time() + (gint64) R.r->conn_cache_time * G_TIME_SPAN_SECOND;
    Batch *b;

    g_mutex_lock(&R.lock);
    while (!(b = g_queue_pop_head(&d->batches)) && connected && R.r->conn_cache_time > 0) {
        gboolean signalled;
        d->idle++;
        signalled = g_cond_wait_until(&R.cond, &R.lock, end);
        d->idle--;
        if (!signalled) {
            b = g_queue_pop_head(&d->batches);
            break;
        }
    }
    g_mutex_unlock(&R.lock);
    return b;
}

/* ---- the smarthost fleet ----
 * A route or smarthost value may list several hosts ("a:25,b:25"): they
 * are tried in order; one that cannot be reached (connect, greeting, TLS)
 * or drops a transaction is skipped by every worker for
 * smarthost_skip_time, and the mail goes to the next one.  When every
 * host is being skipped they are tried anyway, in order: a skip mark is
 * a hint, never a reason to defer mail by itself. */
static GMutex down_lock;
static GHashTable *down_until;    /* host value -> gint64 monotonic us */

static gboolean
host_is_down(const char *host)
{
    gpointer v;
    gboolean down;
    g_mutex_lock(&down_lock);
    down = down_until && (v = g_hash_table_lookup(down_until, host)) &&
           *(gint64 *) v > g_get_monotonic_time();
    g_mutex_unlock(&down_lock);
    return down;
}

/* host_mark - host failed (down TRUE: skip it for a while) or worked. */
static void
host_mark(const char *host, gboolean down, const char *why)
{
    gboolean was;
    g_mutex_lock(&down_lock);
    if (!down_until)
        down_until = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    was = g_hash_table_contains(down_until, host);
    if (down) {
        gint64 *until = g_new(gint64, 1);
        *until = g_get_monotonic_time() + R.r->smarthost_skip * G_TIME_SPAN_SECOND;
        g_hash_table_replace(down_until, g_strdup(host), until);
    } else {
        g_hash_table_remove(down_until, host);
    }
    g_mutex_unlock(&down_lock);
    if (down)
        log_warn("smarthost %s failed (%s): skipped for %" G_GINT64_FORMAT "s", host, why ? why : "?",
                 R.r->smarthost_skip);
    else if (was)
        log_info("smarthost %s works again", host);
}

/* apply_dane - tls_verify = dane: the TLSA RRset of every host of
 * targets (dane.c).  A host whose lookup failed is dropped (TLS-RPT
 * dnssec-invalid in *failed); TRUE when some host has validated TLSA
 * records (DANE applies to the destination, MTA-STS is not asked). */
static gboolean
apply_dane(const char *dest, GPtrArray **targets, GPtrArray *failed)
{
    GPtrArray *ok = g_ptr_array_new_with_free_func((GDestroyNotify) target_free);
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gboolean any = FALSE;

    for (guint i = 0; i < (*targets)->len; i++) {
        Target *t = (*targets)->pdata[i];
        gpointer prev = g_hash_table_lookup(seen, t->host);
        char *why = NULL;
        int st;

        if (prev) {
            /* the same MX host on another address: the same records */
            Target *p = prev;
            st = p->dane ? DANE_SECURE : p->tls_result < 0 ? DANE_FAIL : DANE_NONE;
            if (p->dane)
                t->dane = dane_records_copy(p->dane);
        } else {
            st = dane_lookup(R.r, t, &why);
        }
        if (st == DANE_FAIL && prev) {
            target_free(t);              /* another address of a host already counted */
            (*targets)->pdata[i] = NULL;
            continue;
        }
        if (st == DANE_FAIL) {
            if (why)
                log_warn("dane: %s: MX %s not used: %s", dest, t->host, why);
            t->tls_result = -TLSRPT_DNSSEC_INVALID;
            g_free(t->tls_detail);
            t->tls_detail = why ? why : g_strdup("TLSA lookup failed");
            g_hash_table_replace(seen, g_strdup(t->host), t);
            (*targets)->pdata[i] = NULL;
            g_ptr_array_add(failed, t);
            continue;
        }
        g_free(why);
        any = any || st == DANE_SECURE;
        g_hash_table_replace(seen, g_strdup(t->host), t);
        (*targets)->pdata[i] = NULL;
        g_ptr_array_add(ok, t);
    }
    g_hash_table_unref(seen);
    g_ptr_array_unref(*targets);
    *targets = ok;
    return any;
}

/* sts_policy_lines - the policy as TLS-RPT's policy-string lines. */
static char *
sts_policy_lines(const MtaStsPolicy *p, char **mx)
{
    GString *s = g_string_new("version: STSv1\n");
    GString *m = g_string_new(NULL);
    g_string_append_printf(s, "mode: %s\n", p->mode == MTASTS_ENFORCE ? "enforce" : p->mode == MTASTS_TESTING ? "testing" : "none");
    for (guint i = 0; i < p->mx->len; i++) {
        g_string_append_printf(s, "mx: %s\n", (char *) p->mx->pdata[i]);
        g_string_append_printf(m, "%s%s", m->len ? "\n" : "", (char *) p->mx->pdata[i]);
    }
    g_string_append_printf(s, "max_age: %" G_GINT64_FORMAT, p->max_age);
    *mx = g_string_free(m, FALSE);
    return g_string_free(s, FALSE);
}

/* rpt_record - TLS-RPT: the sessions tried with the hosts of targets. */
static void
rpt_record(const char *domain, GPtrArray *targets, const char *sts_string, const char *sts_mx)
{
    for (guint i = 0; targets && i < targets->len; i++) {
        const Target *t = targets->pdata[i];
        TlsRptSession s = { 0 };
        char **lines = NULL, *joined = NULL;
        GError *err = NULL;

        if (!t || t->tls_result == 0)
            continue;
        s.policy_domain = domain;
        if (t->dane) {
            lines = dane_policy_strings(t->dane);
            joined = g_strjoinv("\n", lines);
            s.policy_type = "tlsa";
            s.policy_string = joined;
            s.policy_mx = t->host;
        } else if (sts_string) {
            s.policy_type = "sts";
            s.policy_string = sts_string;
            s.policy_mx = sts_mx;
        } else {
            s.policy_type = "no-policy-found";
        }
        s.mx_host = t->host;
        s.receiving_ip = t->addr;
        s.failure = t->tls_result < 0 ? -t->tls_result : t->tls_result == 2 ? TLSRPT_STARTTLS_NOT_SUPPORTED : 0;
        if (t->tls_result == 2 && (t->dane || sts_string))
            continue;                    /* cannot happen: TLS was required */
        s.detail = t->tls_detail;
        g_mutex_lock(&R.r->db_lock);
        if (!tlsrpt_record(R.r->inst, now_s(), &s, &err)) {
            log_warn("tls-rpt: cannot record a session with %s: %s", t->host, err->message);
            g_clear_error(&err);
        }
        g_mutex_unlock(&R.r->db_lock);
        g_strfreev(lines);
        g_free(joined);
    }
}

/* rpt_sts_failure - TLS-RPT: an MTA-STS policy published (_mta-sts TXT)
 * that could not be used (RFC 8460 section 4.3.2.2), one failed session
 * of policy type "sts" without a policy string; the host named is the
 * policy host mta-sts.DOMAIN.  The delivery itself goes on as without a
 * policy (RFC 8461 section 5.1). */
static void
rpt_sts_failure(const char *domain, int failure, const char *host, const char *why)
{
    TlsRptSession s = { 0 };
    GError *err = NULL;

    s.policy_domain = domain;
    s.policy_type = "sts";
    s.mx_host = host;
    s.failure = failure;
    s.detail = why;
    g_mutex_lock(&R.r->db_lock);
    if (!tlsrpt_record(R.r->inst, now_s(), &s, &err)) {
        log_warn("tls-rpt: cannot record the policy failure of %s: %s", domain, err->message);
        g_clear_error(&err);
    }
    g_mutex_unlock(&R.r->db_lock);
}

/* open_one - a connection to one route value, or NULL with *code and
 * *text set. */
static SmtpClient *
open_one(const char *target, gboolean is_route, int *code, char **text)
{
    GError *error = NULL;
    GPtrArray *targets = dns_targets(R.r, target, is_route, &error);
    GPtrArray *failed = g_ptr_array_new_with_free_func((GDestroyNotify) target_free);
    SmtpClient *sc = NULL;
    gboolean verify = R.r->tls_verify == TLS_VERIFY_ALWAYS, dane = FALSE;
    char *sts_string = NULL, *sts_mx = NULL, *sts_fail_host = NULL, *sts_fail_why = NULL;
    int sts_fail = 0;

    if (targets && R.r->tls_verify == TLS_VERIFY_DANE) {
        /* DANE (dane.c) where validated TLSA records exist; it takes
         * precedence over MTA-STS (RFC 8461 section 2) */
        dane = apply_dane(target, &targets, failed);
        if (targets->len == 0) {
            g_ptr_array_unref(targets);
            targets = NULL;
            g_set_error(&error, KAIRAN_ERROR, 4, "4.7.5 the TLSA lookup failed for every MX host of %s "
                        "(DNSSEC): not sent", target);
        }
    }
    if (targets && !is_route && !dane &&
        (R.r->tls_verify == TLS_VERIFY_MTASTS || R.r->tls_verify == TLS_VERIFY_DANE)) {
        /* MTA-STS (mtasts.c): an enforce policy limits the MX hosts and
         * requires verified TLS; no policy: opportunistic as before */
        char *ascii = g_hostname_to_ascii(target);
        char *sts_why = NULL;
        MtaStsPolicy *pol = ascii ? mtasts_get(R.r, ascii, &sts_fail, &sts_why) : NULL;
        if (sts_fail) {
            /* RFC 8460 section 4.3.2.2: a policy published but not usable */
            g_free(sts_fail_host);
            g_free(sts_fail_why);
            sts_fail_host = g_strdup_printf("mta-sts.%s", ascii);
            sts_fail_why = sts_why;
        } else {
            g_free(sts_why);
        }
        if (pol && pol->mode == MTASTS_ENFORCE) {
            GPtrArray *ok = g_ptr_array_new_with_free_func((GDestroyNotify) target_free);
            verify = TRUE;
            sts_string = sts_policy_lines(pol, &sts_mx);
            for (guint i = 0; i < targets->len; i++) {
                Target *t = targets->pdata[i];
                if (mtasts_mx_match(pol, t->host)) {
                    targets->pdata[i] = NULL;
                    g_ptr_array_add(ok, t);
                } else {
                    log_info("mta-sts: %s: MX %s does not match the policy, skipped", target, t->host);
                }
            }
            g_ptr_array_unref(targets);
            targets = ok;
            if (targets->len == 0) {
                g_ptr_array_unref(targets);
                targets = NULL;
                g_set_error(&error, KAIRAN_ERROR, 4, "4.7.5 no MX host of %s matches its MTA-STS policy", target);
            }
        }
        mtasts_policy_free(pol);
        g_free(ascii);
    }
    if (targets) {
        sc = smtp_client_open_tls(R.r, targets, is_route ? relay_cred(R.r, target) : NULL, verify, &error);
        if (!sc)
            *code = error->code;
    } else {
        *code = error->code == 5 ? 550 : 451;
    }
    if (R.r->tls_rpt && !is_route) {
        char *ascii = g_hostname_to_ascii(target);    /* the policy domain in A-label form */
        if (ascii && sts_fail)
            rpt_sts_failure(ascii, sts_fail, sts_fail_host, sts_fail_why);
        if (ascii) {
            rpt_record(ascii, failed, NULL, NULL);
            rpt_record(ascii, targets, sts_string, sts_mx);
        }
        g_free(ascii);
    }
    if (targets)
        g_ptr_array_unref(targets);
    g_ptr_array_unref(failed);
    g_free(sts_string);
    g_free(sts_mx);
    g_free(sts_fail_host);
    g_free(sts_fail_why);
    if (!sc) {
        *text = g_strdup(error->message);
        g_clear_error(&error);
    }
    return sc;
}

/* open_dest - a connection to d, or NULL with *code and *text set; *via
 * (to be freed) is the fleet host it reached, NULL for a single host. */
static SmtpClient *
open_dest(Dest *d, int *code, char **text, char **via)
{
    char **hosts;
    guint n;
    SmtpClient *sc = NULL;

    *via = NULL;
    if (!d->is_route || !strchr(d->target, ','))
        return open_one(d->target, d->is_route, code, text);
    hosts = g_strsplit(d->target, ",", -1);
    n = g_strv_length(hosts);
    for (guint i = 0; i < n; i++)
        g_strstrip(hosts[i]);
    /* pass 0: the hosts not being skipped; pass 1: the others */
    for (int pass = 0; pass < 2 && !sc; pass++) {
        for (guint i = 0; i < n && !sc; i++) {
            if (!*hosts[i] || host_is_down(hosts[i]) != (pass == 1))
                continue;
            g_free(*text);
            *text = NULL;
            sc = open_one(hosts[i], TRUE, code, text);
            if (sc) {
                host_mark(hosts[i], FALSE, NULL);
                *via = g_strdup(hosts[i]);
            } else {
                host_mark(hosts[i], TRUE, *text);
            }
        }
    }
    g_strfreev(hosts);
    if (sc) {
        g_free(*text);
        *text = NULL;
    }
    return sc;
}

/* send_personal - a batch of a personalised message: one transaction
 * per recipient (MAIL, RCPT, DATA pipelined), each with its VERP sender
 * and its own header block in front of the shared body, over the one
 * connection *scp (reopened if lost; NULL when none is left).  Returns
 * FALSE when the destination could not be reached at all, with *ucode
 * and *utext (to be freed) for the batches still waiting. */
static gboolean
send_personal(Dest *d, Batch *b, SmtpClient **scp, char **via, int *ucode, char **utext)
{
    gboolean reached = TRUE;
    Msg *m = b->m;
    RcptResult *res = results_new(b);
    guint n = b->rcpts->len;
    gsize blen = g_bytes_get_size(m->wire);

    for (guint i = 0; i < n; i++) {
        GBytes *head;
        char *verp;
        gboolean ok;
        int code = 0;
        char *text = NULL;

        if (!*scp)
            g_clear_pointer(via, g_free);
        if (!*scp && !(*scp = open_dest(d, &code, &text, via))) {
            for (guint k = i; k < n; k++) {
                res[k].code = code;
                res[k].text = g_strdup(text);
            }
            if (i == 0) {
                reached = FALSE;
                *ucode = code;
                *utext = text;
            } else {
                g_free(text);
            }
            break;
        }
        head = personal_head(m->pers, res[i].rcpt);
        verp = personal_verp(m->sender, res[i].rcpt);
        ok = smtp_client_send2(*scp, verp, &res[i], 1, head, m->wire,
                               (gint64) (g_bytes_get_size(head) + blen), m->eightbit);
        if (!ok && smtp_client_retryable(*scp)) {
            smtp_client_close(*scp, FALSE);
            g_clear_pointer(via, g_free);
            if ((*scp = open_dest(d, &code, &text, via))) {
                g_free(res[i].text);
                res[i].text = NULL;
                ok = smtp_client_send2(*scp, verp, &res[i], 1, head, m->wire,
                                       (gint64) (g_bytes_get_size(head) + blen), m->eightbit);
            }
            g_free(text);
        }
        g_bytes_unref(head);
        g_free(verp);
        if (!ok && *scp) {
            if (*via)
                host_mark(*via, TRUE, res[i].text);
            smtp_client_close(*scp, FALSE);
            *scp = NULL;
        }
    }
    complete_batch(b, res, *scp ? smtp_client_relay(*scp) : d->target);
    results_free(res, n);
    batch_free(b);
    return reached;
}

/* resend_lost - after host *via dropped a transaction of a fleet
 * destination: the recipients it left without an answer (4xx from
 * set_lost, or a temporary reply) go to the next host at once, over a
 * new connection *scp.  Returns the new connection's send result. */
static gboolean
resend_lost(Dest *d, Batch *b, RcptResult *res, SmtpClient **scp, char **via)
{
    GArray *idx = g_array_new(FALSE, FALSE, sizeof(guint));
    RcptResult *sub;
    int code = 0;
    char *text = NULL;
    gboolean ok = FALSE;

    for (guint i = 0; i < b->rcpts->len; i++)
        if (res[i].code / 100 == 4 || res[i].code == 0) {
            g_array_append_val(idx, i);
            /* the host may have stored the transaction before the
             * connection went (RFC 1047): the one case of a duplicate */
            log_info("%s: to=<%s>, relay=%s, status=unacknowledged (%s); sending to the next host", b->m->id,
                     res[i].rcpt, *via ? *via : "?", res[i].text ? reply_of(res[i].text) : "no reply");
        }
    g_clear_pointer(via, g_free);
    if (idx->len == 0 || !(*scp = open_dest(d, &code, &text, via))) {
        g_free(text);
        g_array_unref(idx);
        return FALSE;
    }
    sub = g_new0(RcptResult, idx->len);
    for (guint k = 0; k < idx->len; k++) {
        sub[k].rcpt = res[g_array_index(idx, guint, k)].rcpt;
        sub[k].dsn = res[g_array_index(idx, guint, k)].dsn;
    }
    smtp_client_set_dsn(*scp, b->m->dsn_mail);
    ok = smtp_client_send(*scp, b->m->sender, sub, idx->len, b->m->wire, b->m->size, b->m->eightbit);
    for (guint k = 0; k < idx->len; k++) {
        RcptResult *x = &res[g_array_index(idx, guint, k)];
        g_free(x->text);
        x->code = sub[k].code;
        x->text = sub[k].text;
    }
    g_free(sub);
    g_array_unref(idx);
    return ok;
}

static void
serve(Dest *d, Batch *b)
{
    SmtpClient *sc = NULL;
    char *via = NULL;          /* the fleet host sc is connected to */

    for (; b; b = pop_batch_wait(d, sc != NULL)) {
        RcptResult *res;
        gboolean ok;
        int code = 0;
        char *text = NULL;

        if (d->local) {
            deliver_local(b);
            continue;
        }
        if (b->m->pers) {
            if (!send_personal(d, b, &sc, &via, &code, &text)) {
                /* unreachable: as below, the waiting batches fail now */
                while ((b = pop_batch(d)))
                    fail_batch(b, code, text, d->target);
                g_free(text);
                g_free(via);
                return;
            }
            continue;
        }
        if (!sc)
            g_clear_pointer(&via, g_free);
        if (!sc && !(sc = open_dest(d, &code, &text, &via))) {
            /* The destination is unreachable: every batch waiting for it
             * gets the same answer now instead of one timeout each. */
            fail_batch(b, code, text, d->target);
            while ((b = pop_batch(d)))
                fail_batch(b, code, text, d->target);
            g_free(text);
            return;
        }
        res = results_new(b);
        smtp_client_set_dsn(sc, b->m->dsn_mail);
        ok = smtp_client_send(sc, b->m->sender, res, b->rcpts->len, b->m->wire, b->m->size, b->m->eightbit);
        if (!ok && smtp_client_retryable(sc)) {
            /* the server had closed the idle connection: once more, fresh */
            smtp_client_close(sc, FALSE);
            g_clear_pointer(&via, g_free);
            if ((sc = open_dest(d, &code, &text, &via))) {
                results_free(res, b->rcpts->len);
                res = results_new(b);
                smtp_client_set_dsn(sc, b->m->dsn_mail);
                ok = smtp_client_send(sc, b->m->sender, res, b->rcpts->len, b->m->wire, b->m->size, b->m->eightbit);
            }
            g_free(text);
        }
        if (!ok && sc && via) {
            /* a fleet host dropped the transaction: skip it, and what it
             * left unanswered goes to the next host now */
            host_mark(via, TRUE, "lost the connection during a transaction");
            smtp_client_close(sc, FALSE);
            sc = NULL;
            ok = resend_lost(d, b, res, &sc, &via);
            if (!ok && sc && via)
                host_mark(via, TRUE, "lost the connection during a transaction");
        }
        b->passed_on = sc && smtp_client_has_dsn(sc);
        complete_batch(b, res, sc ? smtp_client_relay(sc) : d->target);
        results_free(res, b->rcpts->len);
        batch_free(b);
        if (!ok && sc) {
            smtp_client_close(sc, FALSE);
            sc = NULL;
        }
    }
    smtp_client_close(sc, TRUE);
    g_free(via);
}

static gpointer
worker(gpointer data)
{
    (void) data;
    g_mutex_lock(&R.lock);
    for (;;) {
        GHashTableIter it;
        gpointer v;
        Dest *d = NULL;
        Batch *b;

        g_hash_table_iter_init(&it, R.dests);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            Dest *x = v;
            if (!g_queue_is_empty(&x->batches) && x->active < R.r->out_max_per_dest && x->idle == 0) {
                d = x;
                break;
            }
        }
        if (!d) {
            g_cond_wait(&R.cond, &R.lock);
            continue;
        }
        b = g_queue_pop_head(&d->batches);
        d->active++;
        g_mutex_unlock(&R.lock);
        serve(d, b);
        g_mutex_lock(&R.lock);
        if (--d->active == 0 && g_queue_is_empty(&d->batches))
            g_hash_table_remove(R.dests, d->key);
    }
    return NULL;
}

/* ---- the main thread ---- */

static Dest *
dest_for(const char *rcpt)
{
    Relay *r = R.r;
    const char *at = strrchr(rcpt, '@');
    char *domain = g_ascii_strdown(at ? at + 1 : "", -1);
    const char *route = g_hash_table_lookup(r->routes, domain);
    char *key;
    Dest *d;

    if (relay_domain_is_local(r, domain))      /* the copy dispatch() refreshed */
        key = g_strdup("local:");
    else if (route || r->smarthost)
        key = g_strconcat("route:", route ? route : r->smarthost, NULL);
    else
        key = g_strconcat("mx:", domain, NULL);
    d = g_hash_table_lookup(R.dests, key);
    if (!d) {
        d = g_new0(Dest, 1);
        d->key = key;
        d->local = g_str_has_prefix(key, "local:");
        d->is_route = g_str_has_prefix(key, "route:");
        d->target = d->local ? g_strdup("local") : g_strdup(strchr(key, ':') + 1);
        g_queue_init(&d->batches);
        g_hash_table_insert(R.dests, key, d);
    } else {
        g_free(key);
    }
    g_free(domain);
    return d;
}

static gint64
deferred_next(const QueueEntry *e, const char *rcpt)
{
    const char *v = g_hash_table_lookup(e->deferred, rcpt);
    return v ? g_ascii_strtoll(v, NULL, 10) : 0;
}

static void
msg_add(const char *id)
{
    if (!g_hash_table_contains(R.msgs, id)) {
        Msg *m = g_new0(Msg, 1);
        m->id = g_strdup(id);
        g_mutex_init(&m->jlock);
        g_hash_table_insert(R.msgs, m->id, m);
    }
}

static void
msg_forget(Msg *m, gboolean remove_files)
{
    if (remove_files) {
        queue_remove(R.r->inst, m->id);
        log_info("%s: removed", m->id);
    }
    g_hash_table_remove(R.msgs, m->id);
}

typedef enum { WINDOW_GONE, WINDOW_RETRY, WINDOW_NOTHING, WINDOW_SENT } WindowResult;

/* dispatch_window - hand the due recipients of m's current window to the
 * workers and move the window on.  *waiting gets the earliest next try of
 * what is not due yet, *pending whether anything is left to send. */
static WindowResult
dispatch_window(Msg *m, gint64 now, gint64 *waiting, gboolean *pending)
{
    Relay *r = R.r;
    QueueEntry *e;
    GPtrArray *due, *batches;
    GHashTable *open;
    char *path, *data = NULL;
    gsize len = 0;
    GBytes *wire;
    guint per_batch;

    if (m->window == 0) {
        /* A pass begins.  The journal lines written during it are the
         * results of its own earlier windows - other recipients - so each
         * window reads only what the journal held before (a queue
         * --hold/--release/--delete, take_release, makes it read all). */
        m->journal_upto = queue_journal_size(r->inst, m->id);
        g_atomic_int_set(&m->pass_unclean, FALSE);
    }
    e = queue_load_window(r->inst, m->id, m->window, RUNNER_WINDOW, m->journal_upto);
    if (!e)
        return WINDOW_GONE;
    if (g_hash_table_size(e->held) > 0)
        g_atomic_int_set(&m->pass_unclean, TRUE);
    m->total = e->total_rcpts;
    m->window += RUNNER_WINDOW;
    due = queue_pending(e);
    if (due->len > 0)
        *pending = TRUE;
    for (guint i = 0; i < due->len;) {
        const char *rcpt = due->pdata[i];
        gint64 next = deferred_next(e, rcpt);
        if (queue_is_held(e, rcpt)) {
            g_ptr_array_remove_index(due, i);   /* `kairan queue --hold`: until released */
        } else if (next > now && !m->force) {
            *waiting = MIN(*waiting, next);
            g_atomic_int_set(&m->pass_unclean, TRUE);
            g_ptr_array_remove_index(due, i);
        } else {
            i++;
        }
    }
    if (due->len == 0) {
        g_ptr_array_unref(due);
        queue_entry_free(e);
        return WINDOW_NOTHING;
    }
    path = instance_path(r->inst, "queue", "msg", m->id, NULL);
    if (!g_file_get_contents(path, &data, &len, NULL)) {
        log_error("%s: cannot read %s; retrying later", m->id, path);
        m->due = now + r->retry_min;
        m->window = 0;
        g_free(path);
        g_ptr_array_unref(due);
        queue_entry_free(e);
        return WINDOW_RETRY;
    }
    g_free(path);
    if (e->personalize) {
        personal_free(m->pers);
        m->pers = personal_new(r, e->personalize, data, len, &wire);
    } else {
        wire = smtp_wire_form(data, len);
    }
    per_batch = (guint) (m->pers ? MIN(r->max_rcpt_per_txn, PERSONAL_BATCH) : r->max_rcpt_per_txn);
    relay_domains_refresh(r);                  /* dest_for asks the copy, no query a rcpt */
    batches = g_ptr_array_new();
    open = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_mutex_lock(&R.lock);
    for (guint i = 0; i < due->len; i++) {
        const char *rcpt = due->pdata[i];
        Dest *d = dest_for(rcpt);
        Batch *b = g_hash_table_lookup(open, d);

        if (!b) {
            b = g_new0(Batch, 1);
            b->m = m;
            b->rcpts = g_ptr_array_new_with_free_func(g_free);
            g_hash_table_insert(open, d, b);
            g_ptr_array_add(batches, d);
            g_ptr_array_add(batches, b);
        }
        g_ptr_array_add(b->rcpts, g_strdup(rcpt));
        if (b->rcpts->len >= per_batch)
            g_hash_table_remove(open, d);
    }
    m->busy = TRUE;
    m->outstanding = (int) batches->len / 2;
    g_free(m->sender);
    m->sender = g_strdup(e->sender);
    m->arrival = e->arrival;
    m->size = (gint64) len;
    m->wire = g_steal_pointer(&wire);
    g_free(m->dsn_mail);
    m->dsn_mail = g_strdup(e->dsn_mail);
    if (m->dsn_rcpt)
        g_hash_table_unref(m->dsn_rcpt);
    m->dsn_rcpt = g_hash_table_size(e->dsn_rcpt) ? g_hash_table_ref(e->dsn_rcpt) : NULL;
    m->warned = m->warned || e->warned;   /* a W of this pass is not read */
    m->eightbit = FALSE;
    for (gsize i = 0; i < len && !m->eightbit; i++)
        m->eightbit = (unsigned char) data[i] >= 0x80;
    R.busy_msgs++;
    R.busy_bytes += (gint64) g_bytes_get_size(m->wire);
    for (guint i = 0; i < batches->len; i += 2)
        g_queue_push_tail(&((Dest *) batches->pdata[i])->batches, batches->pdata[i + 1]);
    g_cond_broadcast(&R.cond);
    g_mutex_unlock(&R.lock);
    g_hash_table_unref(open);
    g_ptr_array_unref(batches);
    g_free(data);
    g_ptr_array_unref(due);
    queue_entry_free(e);
    return WINDOW_SENT;
}

/* dispatch - hand the due recipients of m to the workers, a window of
 * RUNNER_WINDOW recipients at a time: the next window goes out when the
 * batches of this one are back (finalize), so memory does not grow with
 * the size of a fan-out.  A pass that reaches the end of the envelope
 * without sending looks over the whole message once more from the start;
 * only such a full pass decides that the message is done (removed) or
 * when its next deferred recipient is due. */
static void
dispatch(Msg *m, gint64 now)
{
    gint64 waiting = G_MAXINT64;
    gboolean pending = FALSE, from_start = m->window == 0;

    for (;;) {
        if (m->window == 0 || m->window < m->total) {
            switch (dispatch_window(m, now, &waiting, &pending)) {
            case WINDOW_GONE:
                msg_forget(m, FALSE);
                return;
            case WINDOW_RETRY:
            case WINDOW_SENT:
                return;
            case WINDOW_NOTHING:
                break;
            }
            if (m->window < m->total)
                continue;
        }
        m->window = 0;                 /* the end of the envelope */
        m->force = FALSE;              /* a flush retries each recipient once */
        if (!from_start && !g_atomic_int_get(&m->pass_unclean)) {
            /* a pass over every window sent everything it found, and each
             * result was final (D or B): nothing is left */
            g_clear_pointer(&m->pers, personal_free);
            msg_forget(m, TRUE);
            return;
        }
        if (!from_start) {
            from_start = TRUE;
            waiting = G_MAXINT64;
            pending = FALSE;
            m->journal_upto = -1;      /* set again by the first window */
            continue;
        }
        g_clear_pointer(&m->pers, personal_free);
        if (!pending)
            msg_forget(m, TRUE);
        else
            m->due = waiting;
        return;
    }
}

/* finalize - every batch of m's window is back: the next window, or a
 * look over the whole message, is due now (dispatch). */
static void
finalize(Msg *m, gint64 now)
{
    char *env = instance_path(R.r->inst, "queue", "env", m->id, NULL);
    gboolean gone = !g_file_test(env, G_FILE_TEST_EXISTS);

    (void) now;
    g_free(env);
    m->busy = FALSE;
    R.busy_msgs--;
    R.busy_bytes -= m->wire ? (gint64) g_bytes_get_size(m->wire) : 0;
    g_clear_pointer(&m->wire, g_bytes_unref);
    g_clear_pointer(&m->pers, personal_free);
    if (gone) {
        /* deleted (`kairan queue --delete`) while out: the journal lines
         * of the batches in flight are left over */
        msg_forget(m, TRUE);
        return;
    }
    m->due = 0;
}

static void
full_scan(gboolean force)
{
    GPtrArray *ids = queue_ids(R.r->inst);
    for (guint i = 0; i < ids->len; i++)
        msg_add(ids->pdata[i]);
    g_ptr_array_unref(ids);
    if (force) {
        GHashTableIter it;
        gpointer v;
        g_hash_table_iter_init(&it, R.msgs);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            ((Msg *) v)->force = TRUE;
            ((Msg *) v)->due = 0;
        }
    }
}

static gint
cmp_msg_id(gconstpointer a, gconstpointer b)
{
    return strcmp((*(Msg *const *) a)->id, (*(Msg *const *) b)->id);
}

/* take_flush - TRUE (and the flag removed) if `kairan flush` asked. */
static gboolean
take_flush(void)
{
    char *flag = instance_path(R.r->inst, "queue", "flush", NULL);
    gboolean there = unlink(flag) == 0;
    if (there)
        log_info("flush: retrying every queued message");
    g_free(flag);
    return there;
}

/* take_release - TRUE (and the flag removed) if `kairan queue --hold|
 * --release|--delete` changed a message: every idle message is looked
 * at again (its journal says what is held, deleted or still deferred). */
static gboolean
take_release(void)
{
    char *flag = instance_path(R.r->inst, "queue", "release", NULL);
    gboolean there = unlink(flag) == 0;
    GHashTableIter it;
    gpointer v;

    g_free(flag);
    if (!there)
        return FALSE;
    full_scan(FALSE);
    g_hash_table_iter_init(&it, R.msgs);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        Msg *m = v;
        /* the rest of a pass reads the journal's new H, U and X lines */
        m->journal_upto = -1;
        g_atomic_int_set(&m->pass_unclean, TRUE);
        if (!m->busy)
            m->due = 0;
    }
    return TRUE;
}

/* clean_tmp - the SMTP server's unfinished DATA files (queue/tmp/smtpd.*)
 * of an earlier run: never acknowledged, so garbage. */
static void
clean_tmp(void)
{
    char *dir = instance_path(R.r->inst, "queue", "tmp", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        if (g_str_has_prefix(name, "smtpd.")) {
            char *p = g_build_filename(dir, name, NULL);
            unlink(p);
            g_free(p);
        }
    }
    if (d)
        g_dir_close(d);
    g_free(dir);
}

static void
drain(int fd)
{
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

/* runner_prepare - before the SMTP server starts: the queue directories,
 * the lock that keeps a second relay away, and the removal of DATA files
 * an earlier run left unfinished. */
void
runner_prepare(Relay *r)
{
    static const char *subs[] = { "tmp", "msg", "env", "state", NULL };
    GError *error = NULL;
    char *lockpath;
    int lockfd;

    for (int i = 0; subs[i]; i++) {
        char *d = instance_path(r->inst, "queue", subs[i], NULL);
        if (!mkdir_p(d, 0750, &error))
            log_fatal(EXIT_TEMPFAIL, "%s", error->message);
        g_free(d);
    }
    lockpath = instance_path(r->inst, "queue", "relay.pid", NULL);
    lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0)
        log_fatal(EXIT_TEMPFAIL, "another kairan relay is running for %s (%s is locked)", r->inst->home, lockpath);
    {
        char pid[32];
        int n = g_snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
        if (ftruncate(lockfd, 0) < 0 || write(lockfd, pid, n) != n)
            log_warn("cannot write %s", lockpath);
    }
    g_free(lockpath);                  /* lockfd stays open: the lock lives */
    R.r = r;
    clean_tmp();
}

int
runner_run(Relay *r)
{
    char *qdir = instance_path(r->inst, "queue", NULL);
    char *envdir = instance_path(r->inst, "queue", "env", NULL);
    char *fifo = instance_path(r->inst, "queue", "wakeup", NULL);
    int ino, fifo_fd, sfd, wd_env, wd_q;
    sigset_t mask;

    R.r = r;
    if (g_getenv("KAIRAN_TEST_RELAY_WINDOW")) {
        guint64 w = g_ascii_strtoull(g_getenv("KAIRAN_TEST_RELAY_WINDOW"), NULL, 10);
        RUNNER_WINDOW = w > 0 && w < G_MAXUINT ? (guint) w : RUNNER_WINDOW_DEFAULT;
    }
    g_mutex_init(&R.lock);
    g_cond_init(&R.cond);
    R.msgs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, msg_free);
    R.dests = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, dest_free);
    R.finished = g_async_queue_new();
    if (pipe2(R.wake, O_CLOEXEC | O_NONBLOCK) < 0)
        log_fatal(EXIT_SOFTWARE, "pipe: %s", g_strerror(errno));

    ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    wd_env = inotify_add_watch(ino, envdir, IN_MOVED_TO | IN_CREATE);
    wd_q = inotify_add_watch(ino, qdir, IN_MOVED_TO | IN_CREATE);
    if (ino < 0 || wd_env < 0 || wd_q < 0)
        log_warn("inotify on %s: %s (falling back to a scan every second)", envdir, g_strerror(errno));
    if (mkfifo(fifo, 0660) < 0 && errno != EEXIST)
        log_warn("mkfifo %s: %s", fifo, g_strerror(errno));
    fifo_fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    relay_block_signals();
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    for (int i = 0; i < r->out_max_total; i++)
        g_thread_unref(g_thread_new("smtp", worker, NULL));

    take_flush();
    take_release();
    full_scan(TRUE);
    for (;;) {
        struct pollfd pfd[4];
        gint64 now = now_s(), next = now + 1;

        GHashTableIter it;
        gpointer v;
        Msg *m;
        GPtrArray *due = g_ptr_array_new();
        int np = 0, timeout;
        gboolean scan = ino < 0;

        while ((m = g_async_queue_try_pop(R.finished)))
            finalize(m, now);
        g_hash_table_iter_init(&it, R.msgs);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            m = v;
            if (m->busy)
                continue;
            if (m->due <= now)
                g_ptr_array_add(due, m);
            else
                next = MIN(next, m->due);
        }
        g_ptr_array_sort(due, cmp_msg_id);             /* oldest first */
        for (guint i = 0; i < due->len; i++) {
            if (R.busy_msgs >= MAX_BUSY_MSGS || R.busy_bytes >= MAX_BUSY_BYTES)
                break;              /* the rest when a message comes back (wake pipe) */
            dispatch(due->pdata[i], now);
        }
        g_ptr_array_unref(due);

        timeout = (int) CLAMP((next - now) * 1000, 0, 1000);
        pfd[np++] = (struct pollfd) { .fd = R.wake[0], .events = POLLIN };
        if (ino >= 0)
            pfd[np++] = (struct pollfd) { .fd = ino, .events = POLLIN };
        if (fifo_fd >= 0)
            pfd[np++] = (struct pollfd) { .fd = fifo_fd, .events = POLLIN };
        if (sfd >= 0)
            pfd[np++] = (struct pollfd) { .fd = sfd, .events = POLLIN };
        if (poll(pfd, np, timeout) < 0 && errno != EINTR)
            g_usleep(100000);
        for (int i = 0; i < np; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            if (pfd[i].fd == sfd) {
                log_info("relay stopping");
                return 0;
            }
            if (pfd[i].fd == ino) {
                char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
                ssize_t len;
                while ((len = read(ino, buf, sizeof(buf))) > 0) {
                    for (char *p = buf; p < buf + len;) {
                        struct inotify_event *ev = (struct inotify_event *) p;
                        if (ev->len && ev->wd == wd_env && ev->name[0] != '.')
                            msg_add(ev->name);
                        else if (ev->len && ev->wd == wd_q && g_str_equal(ev->name, "flush") && take_flush())
                            full_scan(TRUE);
                        else if (ev->len && ev->wd == wd_q && g_str_equal(ev->name, "release"))
                            take_release();
                        if (ev->mask & IN_Q_OVERFLOW)
                            scan = TRUE;
                        p += sizeof(struct inotify_event) + ev->len;
                    }
                }
            } else {
                drain(pfd[i].fd);
                if (pfd[i].fd == fifo_fd) {
                    scan = TRUE;
                    if (take_flush())
                        full_scan(TRUE);
                    take_release();
                }
            }
        }
        if (scan)
            full_scan(FALSE);
    }
    return 0;
}
