/* test_queue.c - unit tests of src/lib/queue.c against the on-disk format
 * its header comment documents: submit and read back, recipients' states
 * from the journal (later lines win), a journal torn by a crash, files
 * that are not a version-1 envelope, hard-linked content, removal. */
#include "config.h"
#include "queue.h"
#include "log.h"
#include "util.h"
#include "unit_instance.h"

#include <string.h>
#include <sys/stat.h>

static char *
qpath(const Instance *inst, const char *sub, const char *id)
{
    return instance_path(inst, "queue", sub, id, NULL);
}

static char *
slurp(const char *path)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    return text;
}

static void
spew(const char *path, const char *text)
{
    GError *error = NULL;
    g_file_set_contents(path, text, -1, &error);
    g_assert_no_error(error);
}

static char *
submit(Instance *inst, const char *sender, const char *const *rcpts, guint n, const char *body)
{
    GError *error = NULL;
    char *id = queue_submit(inst, sender, rcpts, n, body, strlen(body), &error);
    g_assert_no_error(error);
    g_assert_nonnull(id);
    return id;
}

static void
test_submit_read_back(void)
{
    Instance *inst = unit_instance_new();
    const char *rcpts[] = { "b@example.net", "a@example.net", "c@example.com" };
    const char *body = "From: x@example.org\nSubject: hi\n\nline\n.\nend\n";
    gint64 before = now_seconds();
    char *id = submit(inst, "sender@example.org", rcpts, 3, body);
    char *msg, *env, *want, *path;
    QueueEntry *e;
    GPtrArray *ids, *pending;

    /* ID: 13 hex digits of microseconds + 6 random ones */
    g_assert_cmpuint(strlen(id), ==, 19);
    g_assert_cmpuint(strspn(id, "0123456789ABCDEF"), ==, 19);
    path = qpath(inst, "msg", id);
    msg = slurp(path);
    g_assert_cmpstr(msg, ==, body);            /* exactly as given, no dot-stuffing */
    g_free(path);
    path = qpath(inst, "env", id);
    env = slurp(path);
    g_assert_true(g_str_has_prefix(env, "V 1\nT "));
    want = g_strdup("\nS sender@example.org\nR b@example.net\nR a@example.net\nR c@example.com\n");
    g_assert_true(g_str_has_suffix(env, want));
    g_free(want);
    g_free(path);

    ids = queue_ids(inst);
    g_assert_cmpuint(ids->len, ==, 1);
    g_assert_cmpstr(ids->pdata[0], ==, id);
    g_ptr_array_unref(ids);

    e = queue_load(inst, id);
    g_assert_nonnull(e);
    g_assert_cmpstr(e->id, ==, id);
    g_assert_cmpstr(e->sender, ==, "sender@example.org");
    g_assert_cmpint(e->arrival, >=, before);
    g_assert_cmpint(e->arrival, <=, now_seconds());
    g_assert_cmpint(e->size, ==, (gint64) strlen(body));
    g_assert_null(e->personalize);
    g_assert_cmpuint(e->rcpts->len, ==, 3);
    for (guint i = 0; i < 3; i++)
        g_assert_cmpstr(e->rcpts->pdata[i], ==, rcpts[i]);      /* envelope order */
    g_assert_cmpuint(g_hash_table_size(e->done), ==, 0);
    pending = queue_pending(e);
    g_assert_cmpuint(pending->len, ==, 3);
    g_ptr_array_unref(pending);
    queue_entry_free(e);
    g_free(msg);
    g_free(env);
    g_free(id);
    unit_instance_free(inst);
}

static void
test_null_sender_and_order(void)
{
    Instance *inst = unit_instance_new();
    const char *rcpt[] = { "r@example.net" };
    char *ids[5];
    GPtrArray *listed;
    QueueEntry *e;

    ids[0] = submit(inst, NULL, rcpt, 1, "a\n");
    for (int i = 1; i < 5; i++)
        ids[i] = submit(inst, "", rcpt, 1, "b\n");
    listed = queue_ids(inst);
    g_assert_cmpuint(listed->len, ==, 5);
    for (int i = 0; i < 5; i++)
        g_assert_cmpstr(listed->pdata[i], ==, ids[i]);          /* oldest first */
    g_ptr_array_unref(listed);
    e = queue_load(inst, ids[0]);
    g_assert_cmpstr(e->sender, ==, "");
    queue_entry_free(e);
    for (int i = 0; i < 5; i++)
        g_free(ids[i]);
    unit_instance_free(inst);
}

/* A recipient with CR or LF cannot forge an envelope line. */
static void
test_recipient_injection(void)
{
    Instance *inst = unit_instance_new();
    const char *rcpts[] = { "ok@example.net", "evil@example.net\nR victim@example.org",
                            "cr@example.net\rP team" };
    char *id = submit(inst, "s@example.org", rcpts, 3, "x\n");
    QueueEntry *e = queue_load(inst, id);
    GError *error = NULL;
    GPtrArray *ids;
    char *msgdir;
    GDir *d;

    g_assert_nonnull(e);
    g_assert_cmpuint(e->rcpts->len, ==, 1);
    g_assert_cmpstr(e->rcpts->pdata[0], ==, "ok@example.net");
    g_assert_null(e->personalize);
    queue_entry_free(e);
    g_free(id);

    /* nor can the sender: such a message is refused, and nothing is left */
    id = queue_submit(inst, "s@example.org\nR sneaky@example.org", rcpts, 1, "x\n", 2, &error);
    g_assert_null(id);
    g_assert_error(error, KAIRAN_ERROR, EXIT_DATAERR);
    g_clear_error(&error);
    id = queue_submit(inst, "s@example.org\rP team", rcpts, 1, "x\n", 2, &error);
    g_assert_null(id);
    g_assert_error(error, KAIRAN_ERROR, EXIT_DATAERR);
    g_clear_error(&error);
    ids = queue_ids(inst);
    g_assert_cmpuint(ids->len, ==, 1);
    g_ptr_array_unref(ids);
    msgdir = qpath(inst, "msg", NULL);
    d = g_dir_open(msgdir, 0, NULL);
    g_assert_nonnull(g_dir_read_name(d));
    g_assert_null(g_dir_read_name(d));          /* only the good message's content */
    g_dir_close(d);
    g_free(msgdir);
    unit_instance_free(inst);
}

static void
journal(Instance *inst, const char *id, const char *lines)
{
    GError *error = NULL;
    g_assert_true(queue_journal_append(inst, id, lines, &error));
    g_assert_no_error(error);
}

static void
test_recipient_states(void)
{
    Instance *inst = unit_instance_new();
    const char *rcpts[] = { "a@example.net", "b@example.net", "c@example.net" };
    char *id = submit(inst, "s@example.org", rcpts, 3, "x\n");
    QueueEntry *e;
    GPtrArray *pending;

    journal(inst, id, "D a@example.net\n");
    journal(inst, id, "F b@example.net 1700000000 451 4.7.1 try again later\n");
    e = queue_load(inst, id);
    g_assert_cmpstr(g_hash_table_lookup(e->done, "a@example.net"), ==, "D");
    g_assert_cmpstr(g_hash_table_lookup(e->deferred, "b@example.net"), ==, "1700000000 451 4.7.1 try again later");
    pending = queue_pending(e);
    g_assert_cmpuint(pending->len, ==, 2);
    g_assert_cmpstr(pending->pdata[0], ==, "b@example.net");
    g_assert_cmpstr(pending->pdata[1], ==, "c@example.net");
    g_ptr_array_unref(pending);
    queue_entry_free(e);

    /* later lines win: a second deferral replaces the first, a bounce ends it */
    journal(inst, id, "F b@example.net 1700000600 452 mailbox full\nF c@example.net 1700000000 421 busy\n");
    journal(inst, id, "B c@example.net 550 5.1.1 no such user\n");
    e = queue_load(inst, id);
    g_assert_cmpstr(g_hash_table_lookup(e->deferred, "b@example.net"), ==, "1700000600 452 mailbox full");
    g_assert_cmpstr(g_hash_table_lookup(e->done, "c@example.net"), ==, "B 550 5.1.1 no such user");
    pending = queue_pending(e);
    g_assert_cmpuint(pending->len, ==, 1);
    g_assert_cmpstr(pending->pdata[0], ==, "b@example.net");
    g_ptr_array_unref(pending);
    queue_entry_free(e);

    /* unknown and short lines are ignored */
    journal(inst, id, "X b@example.net\nD\n\nD \n");
    journal(inst, id, "D b@example.net\n");
    e = queue_load(inst, id);
    pending = queue_pending(e);
    g_assert_cmpuint(pending->len, ==, 0);
    g_assert_cmpuint(g_hash_table_size(e->done), ==, 3);
    g_ptr_array_unref(pending);
    queue_entry_free(e);
    g_free(id);
    unit_instance_free(inst);
}

/* A relay that crashed in the middle of a journal write leaves a torn last
 * line: it does not count, and the results the restarted relay appends
 * afterwards count in full (they must not be glued onto the torn line). */
static void
test_torn_journal(void)
{
    Instance *inst = unit_instance_new();
    const char *rcpts[] = { "a@example.net", "b@example.net" };
    char *id = submit(inst, "s@example.org", rcpts, 2, "x\n");
    char *state = qpath(inst, "state", id);
    QueueEntry *e;
    GPtrArray *pending;

    spew(state, "F a@example.net 1700000000 451 later\nD b@exam");
    e = queue_load(inst, id);
    g_assert_false(g_hash_table_contains(e->done, "b@exam"));
    g_assert_false(g_hash_table_contains(e->done, "b@example.net"));
    g_assert_cmpstr(g_hash_table_lookup(e->deferred, "a@example.net"), ==, "1700000000 451 later");
    pending = queue_pending(e);
    g_assert_cmpuint(pending->len, ==, 2);
    g_ptr_array_unref(pending);
    queue_entry_free(e);

    /* the restarted relay delivers both */
    journal(inst, id, "D a@example.net\n");
    journal(inst, id, "D b@example.net\n");
    e = queue_load(inst, id);
    g_assert_cmpstr(g_hash_table_lookup(e->done, "a@example.net"), ==, "D");
    g_assert_cmpstr(g_hash_table_lookup(e->done, "b@example.net"), ==, "D");
    pending = queue_pending(e);
    g_assert_cmpuint(pending->len, ==, 0);       /* nobody gets a second copy */
    g_ptr_array_unref(pending);
    queue_entry_free(e);
    g_free(state);
    g_free(id);
    unit_instance_free(inst);
}

/* Files that are not a version-1 envelope are not messages to send: a
 * relay would otherwise see no pending recipient and remove them. */
static void
test_bad_envelope_refused(void)
{
    Instance *inst = unit_instance_new();
    const char *rcpt[] = { "r@example.net" };
    char *good = submit(inst, "s@example.org", rcpt, 1, "x\n");
    const char *bad[] = {
        "",
        "garbage\n",
        "\x7f" "ELF\x02\x01\x01",
        "V 2\nT 1700000000\nS s@example.org\nR r@example.net\nZ new-field\n",
        "T 1700000000\nS s@example.org\nR r@example.net\n",      /* no version line */
        "V 1",                                                   /* torn */
    };
    GPtrArray *ids;
    QueueEntry *e;

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *id = g_strdup_printf("00000000000%02uBAD000", i);
        char *path = qpath(inst, "env", id);
        spew(path, bad[i]);
        e = queue_load(inst, id);
        if (e)
            g_error("envelope %u (%s) was loaded as a message with %u recipients", i, bad[i], e->rcpts->len);
        g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));    /* left alone */
        g_free(path);
        g_free(id);
    }
    g_assert_null(queue_load(inst, "0000000000000NOPE00"));     /* gone */
    e = queue_load(inst, good);
    g_assert_nonnull(e);
    g_assert_cmpuint(e->rcpts->len, ==, 1);
    queue_entry_free(e);

    /* files being written and dot files are not queue entries */
    {
        char *tmp = qpath(inst, "tmp", "half-written");
        char *dot = qpath(inst, "env", ".tmp-envelope");
        spew(tmp, "V 1\n");
        spew(dot, "V 1\nT 1\nS \nR r@example.net\n");
        ids = queue_ids(inst);
        for (guint i = 0; i < ids->len; i++) {
            g_assert_cmpstr(ids->pdata[i], !=, "half-written");
            g_assert_cmpstr(ids->pdata[i], !=, ".tmp-envelope");
        }
        g_assert_cmpuint(ids->len, ==, 1 + G_N_ELEMENTS(bad));
        g_ptr_array_unref(ids);
        g_free(tmp);
        g_free(dot);
    }
    g_free(good);
    unit_instance_free(inst);
}

/* Lines a reader does not know are ignored (the format may grow). */
static void
test_unknown_lines_ignored(void)
{
    Instance *inst = unit_instance_new();
    char *path = qpath(inst, "env", "0000000000001ABCDEF");
    QueueEntry *e;
    char *envdir = qpath(inst, "env", NULL);

    g_assert_cmpint(g_mkdir_with_parents(envdir, 0750), ==, 0);
    g_free(envdir);
    spew(path, "V 1\nT 1700000000\nS s@example.org\nQ some future field\nR r@example.net\nP team\n");
    e = queue_load(inst, "0000000000001ABCDEF");
    g_assert_nonnull(e);
    g_assert_cmpint(e->arrival, ==, 1700000000);
    g_assert_cmpuint(e->rcpts->len, ==, 1);
    g_assert_cmpstr(e->personalize, ==, "team");
    queue_entry_free(e);
    g_free(path);
    unit_instance_free(inst);
}

static void
test_submit_file(void)
{
    Instance *inst = unit_instance_new();
    GError *error = NULL;
    char *content = instance_path(inst, "tmp", "archived", NULL);
    const char *rcpts[] = { "a@example.net" };
    QueueRcpts *fan = queue_rcpts_new();
    struct stat s1, s2;
    char *id, *msgpath, *text;
    QueueEntry *e;

    spew(content, "Subject: archived\n\nbody\n");
    id = queue_submit_file(inst, "s@example.org", rcpts, 1, content, &error);
    g_assert_no_error(error);
    g_assert_nonnull(id);
    msgpath = qpath(inst, "msg", id);
    g_assert_cmpint(stat(content, &s1), ==, 0);
    g_assert_cmpint(stat(msgpath, &s2), ==, 0);
    g_assert_true(s1.st_ino == s2.st_ino);             /* hard-linked, not copied */
    text = slurp(msgpath);
    g_assert_cmpstr(text, ==, "Subject: archived\n\nbody\n");
    g_free(text);
    g_free(msgpath);
    g_free(id);

    queue_rcpts_add(fan, "a@example.net", -1);
    queue_rcpts_add(fan, "evil@example.net\nR forged@example.net", -1);   /* skipped: it would forge a line */
    queue_rcpts_add(fan, "b@example.net", -1);
    queue_rcpts_personalize(fan, "team");
    g_assert_cmpuint(fan->count, ==, 2);
    id = queue_submit_file_rcpts(inst, "s@example.org", fan, content, &error);
    g_assert_no_error(error);
    e = queue_load(inst, id);
    g_assert_cmpstr(e->personalize, ==, "team");
    g_assert_cmpuint(e->rcpts->len, ==, 2);
    g_assert_cmpstr(e->rcpts->pdata[1], ==, "b@example.net");
    queue_entry_free(e);
    g_free(id);

    /* content that does not exist: nothing is queued */
    id = queue_submit_file(inst, "s@example.org", rcpts, 1, "/nonexistent/file", &error);
    g_assert_null(id);
    g_assert_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL);
    g_clear_error(&error);
    {
        GPtrArray *ids = queue_ids(inst);
        g_assert_cmpuint(ids->len, ==, 2);
        g_ptr_array_unref(ids);
    }
    queue_rcpts_free(fan);
    g_free(content);
    unit_instance_free(inst);
}

static void
test_submit_fails_cleanly(void)
{
    Instance *inst = unit_instance_new();
    GError *error = NULL;
    const char *rcpt[] = { "r@example.net" };
    char *envdir = qpath(inst, "env", NULL);
    char *id;
    GPtrArray *ids;

    /* queue/env is not a directory: the message cannot be committed */
    unit_instance_rm_rf(envdir);
    spew(envdir, "not a directory\n");
    id = queue_submit(inst, "s@example.org", rcpt, 1, "x\n", 2, &error);
    g_assert_null(id);
    g_assert_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL);
    g_clear_error(&error);
    ids = queue_ids(inst);
    g_assert_cmpuint(ids->len, ==, 0);
    g_ptr_array_unref(ids);
    g_free(envdir);
    unit_instance_free(inst);
}

static void
test_remove(void)
{
    Instance *inst = unit_instance_new();
    const char *rcpt[] = { "r@example.net" };
    char *id = submit(inst, "s@example.org", rcpt, 1, "x\n");
    const char *subs[] = { "env", "msg", "state" };
    GPtrArray *ids;

    journal(inst, id, "D r@example.net\n");
    queue_remove(inst, id);
    for (int i = 0; i < 3; i++) {
        char *p = qpath(inst, subs[i], id);
        g_assert_false(g_file_test(p, G_FILE_TEST_EXISTS));
        g_free(p);
    }
    g_assert_null(queue_load(inst, id));
    ids = queue_ids(inst);
    g_assert_cmpuint(ids->len, ==, 0);
    g_ptr_array_unref(ids);
    queue_remove(inst, id);                            /* twice: harmless */
    queue_wakeup(inst);                                /* no relay: harmless */
    g_free(id);
    unit_instance_free(inst);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_set_stderr(FALSE);
    g_test_add_func("/queue/submit-read-back", test_submit_read_back);
    g_test_add_func("/queue/null-sender-and-order", test_null_sender_and_order);
    g_test_add_func("/queue/recipient-injection", test_recipient_injection);
    g_test_add_func("/queue/recipient-states", test_recipient_states);
    g_test_add_func("/queue/torn-journal", test_torn_journal);
    g_test_add_func("/queue/bad-envelope-refused", test_bad_envelope_refused);
    g_test_add_func("/queue/unknown-lines-ignored", test_unknown_lines_ignored);
    g_test_add_func("/queue/submit-file", test_submit_file);
    g_test_add_func("/queue/submit-fails-cleanly", test_submit_fails_cleanly);
    g_test_add_func("/queue/remove", test_remove);
    return g_test_run();
}
