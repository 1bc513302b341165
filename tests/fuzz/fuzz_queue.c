/* fuzz_queue.c - libFuzzer harness for the queue files of src/lib/queue.c:
 * an envelope (queue/env/ID) and a state journal (queue/state/ID) from
 * the input are read with queue_load and queue_pending; then a result
 * line is appended with queue_journal_append, as the relay does after a
 * restart, and must count whatever the journal held before (a torn last
 * line included).  Input: ENVELOPE NUL JOURNAL. */
#include "fuzz_common.h"
#include "queue.h"

static Instance *inst;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init_libs();
    inst = fuzz_instance();
    for (const char **d = (const char *[]) { "env", "state", "msg", NULL }; *d; d++) {
        char *dir = instance_path(inst, "queue", *d, NULL);
        if (g_mkdir_with_parents(dir, 0750) != 0)
            abort();
        g_free(dir);
    }
    return 0;
}

static void
put(const char *sub, const char *text)
{
    char *path = instance_path(inst, "queue", sub, "0000000000000FUZZ00", NULL);
    /* no fsync: this is a scratch instance, and the fuzzer wants speed */
    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_NONE, 0640, NULL))
        abort();
    g_free(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **f;
    QueueEntry *e;
    GPtrArray *pending;
    const char *rcpt = NULL;

    if (size > 64 * 1024)
        return 0;
    f = fuzz_fields(data, size, 2);
    put("env", f[0]);
    put("state", f[1]);
    e = queue_load(inst, "0000000000000FUZZ00");
    if (e) {
        pending = queue_pending(e);
        for (guint i = 0; i < pending->len && !rcpt; i++)
            if (*(char *) pending->pdata[i] && !strchr(pending->pdata[i], ' '))
                rcpt = pending->pdata[i];
        if (rcpt) {
            char *line = g_strdup_printf("D %s\n", rcpt);
            char *want = g_strdup(rcpt);
            QueueEntry *again;
            if (!queue_journal_append(inst, "0000000000000FUZZ00", line, NULL))
                abort();
            again = queue_load(inst, "0000000000000FUZZ00");
            if (!again || g_strcmp0(g_hash_table_lookup(again->done, want), "D") != 0) {
                fprintf(stderr, "fuzz_queue: the appended line for <%s> did not count\n", want);
                abort();
            }
            queue_entry_free(again);
            g_free(line);
            g_free(want);
        }
        g_ptr_array_unref(pending);
        queue_entry_free(e);
    }
    g_strfreev(f);
    return 0;
}
