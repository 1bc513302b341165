/* queue_cmds.c - `kairan queue` (a mailq-style listing) and `kairan flush`
 * (tell the running relay to retry everything now).
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
        printf("%-20s %8" G_GINT64_FORMAT " %-20s %s\n", e->id, e->size, when, *e->sender ? e->sender : "<>");
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
            printf("%*s%s\n", 51, "", (char *) pending->pdata[j]);
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

int
cmd_queue(int argc, char **argv)
{
    Instance *inst;
    cli_parse(&argc, &argv, "queue", NULL,
              "Show the queued messages like mailq: ID, size, arrival, sender, and each pending\n"
              "recipient with its last error and next try.", NULL);
    inst = cli_open();
    queue_show(inst);
    instance_free(inst);
    return 0;
}
