/* queue_cmds.c - `kairan queue` (a mailq-style listing; --hold, --release,
 * --delete ID|ALL [--domain D] manage messages through lib/queue.c's
 * queue_control) and `kairan flush` (tell the running relay to retry
 * everything now).
 *
 * `kairan flush` creates queue/flush and pokes queue/wakeup: the running
 * relay sees the file (inotify on queue/), removes it and retries every
 * deferred recipient at once.  Without a running relay the flag stays and
 * the next start retries everything anyway. */
#include "config.h"
#include "cli/cli.h"
#include "log.h"
#include "queue.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int
cmd_flush(int argc, char **argv)
{
    Instance *inst;
    GError *error = NULL;
    char *flag, *tmpdir;

    cli_parse(&argc, &argv, "flush", NULL,
              "Retry every queued message now (the running relay is told through queue/flush).", NULL);
    inst = cli_open();
    flag = instance_path(inst, "queue", "flush", NULL);
    tmpdir = instance_path(inst, "queue", "tmp", NULL);
    if (!mkdir_p(tmpdir, 0750, &error) || !write_file_atomic(flag, tmpdir, "flush\n", 6, &error))
        cli_exit_error(error);
    queue_wakeup(inst);
    log_info("flush requested");
    printf("flush requested\n");
    g_free(flag);
    g_free(tmpdir);
    instance_free(inst);
    return 0;
}

/* queue_show - mailq-style listing: per message its ID, size, arrival
 * and sender, then each pending recipient, preceded by its last error and
 * the time of the next try when it was deferred; a summary line last. */
static int
queue_show(Instance *inst)
{
    GPtrArray *ids = queue_ids(inst);
    gint64 bytes = 0, rcpts = 0;
    int count = 0;

    if (ids->len == 0) {
        printf("Mail queue is empty\n");
        g_ptr_array_unref(ids);
        return 0;
    }
    printf("%-20s %8s %-20s %s\n", "-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------");
    for (guint i = 0; i < ids->len; i++) {
        QueueEntry *e = queue_load(inst, ids->pdata[i]);
        GPtrArray *pending;
        char when[32];
        struct tm tm;
        time_t t;

        if (!e)
            continue;
        t = (time_t) e->arrival;
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
        pending = queue_pending(e);
        {
            /* like mailq: "!" after the ID when every pending recipient is held */
            guint nheld = 0;
            char *idcol;
            for (guint j = 0; j < pending->len; j++)
                nheld += queue_is_held(e, pending->pdata[j]) ? 1 : 0;
            idcol = g_strconcat(e->id, pending->len > 0 && nheld == pending->len ? "!" : "", NULL);
            printf("%-20s %8" G_GINT64_FORMAT " %-20s %s\n", idcol, e->size, when, *e->sender ? e->sender : "<>");
            g_free(idcol);
        }
        for (guint j = 0; j < pending->len; j++) {
            const char *why = g_hash_table_lookup(e->deferred, pending->pdata[j]);
            if (why) {
                char *end = NULL;
                time_t next = (time_t) g_ascii_strtoll(why, &end, 10);
                char nt[16];
                localtime_r(&next, &tm);
                strftime(nt, sizeof(nt), "%H:%M:%S", &tm);
                printf("%*s(%s; next try %s)\n", 30, "", end && *end == ' ' ? end + 1 : why, nt);
            }
            printf("%*s%s%s\n", 51, "", (char *) pending->pdata[j],
                   queue_is_held(e, pending->pdata[j]) ? " (held)" : "");
        }
        printf("%*s(%u of %u recipients pending)\n\n", 51, "", pending->len, e->rcpts->len);
        bytes += e->size;
        rcpts += pending->len;
        g_ptr_array_unref(pending);
        queue_entry_free(e);
        count++;
    }
    printf("-- %" G_GINT64_FORMAT " Kbytes in %d Request%s, %" G_GINT64_FORMAT " recipient%s pending.\n",
           (bytes + 1023) / 1024, count, count == 1 ? "" : "s", rcpts, rcpts == 1 ? "" : "s");
    g_ptr_array_unref(ids);
    return count;
}

/* queue_manage - apply action to one ID or to ALL; exit status. */
static int
queue_manage(Instance *inst, const char *id, QueueAction action, const char *domain)
{
    static const char *verbs[] = { "held", "released", "deleted" };
    GPtrArray *ids;
    GError *error = NULL;
    int total = 0, msgs = 0;

    if (g_strcmp0(id, "ALL") != 0) {
        int n = queue_control(inst, id, action, domain, &error);
        if (n < 0)
            cli_exit_error(error);
        printf("%s: %s %d recipient%s\n", id, verbs[action], n, n == 1 ? "" : "s");
        return 0;
    }
    ids = queue_ids(inst);
    for (guint i = 0; i < ids->len; i++) {
        int n = queue_control(inst, ids->pdata[i], action, domain, &error);
        if (n < 0) {
            if (error->code != EXIT_NOINPUT) {   /* gone meanwhile: fine */
                g_ptr_array_unref(ids);
                cli_exit_error(error);
            }
            g_clear_error(&error);
            continue;
        }
        if (n > 0) {
            printf("%s: %s %d recipient%s\n", (char *) ids->pdata[i], verbs[action], n, n == 1 ? "" : "s");
            total += n;
            msgs++;
        }
    }
    printf("-- %s %d recipient%s in %d message%s%s%s\n", verbs[action], total, total == 1 ? "" : "s",
           msgs, msgs == 1 ? "" : "s", domain ? " at " : "", domain ? domain : "");
    g_ptr_array_unref(ids);
    return 0;
}

int
cmd_queue(int argc, char **argv)
{
    Instance *inst;
    char *hold = NULL, *release = NULL, *del = NULL, *domain = NULL;
    GOptionEntry entries[] = {
        { "hold", 0, 0, G_OPTION_ARG_STRING, &hold, "hold message ID (or ALL): the relay does not send it until released", "ID" },
        { "release", 0, 0, G_OPTION_ARG_STRING, &release, "release held message ID (or ALL)", "ID" },
        { "delete", 0, 0, G_OPTION_ARG_STRING, &del, "delete message ID (or ALL) without a bounce", "ID" },
        { "domain", 0, 0, G_OPTION_ARG_STRING, &domain, "with --hold/--release/--delete: only the recipients at domain D", "D" },
        G_OPTION_ENTRY_NULL
    };
    int actions, status = 0;

    cli_parse(&argc, &argv, "queue", NULL,
              "Show the queued messages like mailq: ID, size, arrival, sender, and each pending\n"
              "recipient with its last error and next try (\"!\" after the ID: held).\n"
              "--hold/--release/--delete take a queue ID or ALL; --domain D limits them to the\n"
              "recipients at D (so one post to many domains keeps going to the others).", entries);
    actions = (hold != NULL) + (release != NULL) + (del != NULL);
    if (actions > 1)
        cli_usage_error("queue", "give only one of --hold, --release, --delete");
    if (domain && actions == 0)
        cli_usage_error("queue", "--domain goes with --hold, --release or --delete");
    if (argc > 1)
        cli_usage_error("queue", "unexpected argument %s", argv[1]);
    inst = cli_open();
    if (hold)
        status = queue_manage(inst, hold, QUEUE_HOLD, domain);
    else if (release)
        status = queue_manage(inst, release, QUEUE_RELEASE, domain);
    else if (del)
        status = queue_manage(inst, del, QUEUE_DELETE, domain);
    else
        queue_show(inst);
    g_free(hold);
    g_free(release);
    g_free(del);
    g_free(domain);
    instance_free(inst);
    return status;
}
