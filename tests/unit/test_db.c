/* test_db.c - unit tests of src/lib/db.c: a new database gets the whole
 * schema, reopening changes nothing, a failing migration leaves the file
 * as it was, the meta table, db_int64, error codes, and a writer that
 * waits for another connection's lock instead of failing. */
#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "unit_instance.h"

#include <string.h>

static char *dir;

static char *
db_path(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static int
user_version(sqlite3 *db)
{
    return (int) db_int64(db, "PRAGMA user_version", NULL);
}

static gboolean
has_column(sqlite3 *db, const char *table, const char *column)
{
    char *sql = g_strdup_printf("SELECT count(*) FROM pragma_table_info('%s') WHERE name = ?1", table);
    gboolean found = db_int64(db, sql, column) == 1;
    g_free(sql);
    return found;
}

static gint64
objects(sqlite3 *db)
{
    return db_int64(db, "SELECT count(*) FROM sqlite_master WHERE name <> ?1", "");
}

static void
test_new_database(void)
{
    GError *error = NULL;
    char *path = db_path("new.db");
    sqlite3 *db = db_open(path, TRUE, &error);
    const char *tables[] = { "meta", "lists", "list_settings", "members", "archive", "held", "tokens",
                             "auth_failures", "pop_hidden", "sessions", "dmarc_cache", "rate_limits",
                             "archive_text" };
    char *mode;
    sqlite3_stmt *st;

    g_assert_no_error(error);
    g_assert_nonnull(db);
    /* every migration ran: version 7 or later (more steps may be added) */
    g_assert_cmpint(user_version(db), >=, 7);
    for (guint i = 0; i < G_N_ELEMENTS(tables); i++)
        g_assert_cmpint(db_int64(db, "SELECT count(*) FROM sqlite_master WHERE name = ?1", tables[i]), ==, 1);
    g_assert_true(has_column(db, "sessions", "role"));
    g_assert_true(has_column(db, "archive", "text_indexed"));
    g_assert_true(has_column(db, "archive", "footer"));
    g_assert_true(has_column(db, "members", "moderated"));
    g_assert_cmpint(db_int64(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
                             "members_delivery"), ==, 1);
    st = db_prepare(db, "PRAGMA journal_mode");
    g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
    mode = g_ascii_strdown((const char *) sqlite3_column_text(st, 0), -1);
    g_assert_cmpstr(mode, ==, "wal");                /* readers never block the writer */
    g_free(mode);
    sqlite3_finalize(st);
    db_close(db);
    g_free(path);
}

static void
test_reopen_idempotent(void)
{
    GError *error = NULL;
    char *path = db_path("reopen.db");
    sqlite3 *db = db_open(path, TRUE, &error);
    int version;
    gint64 n;
    char *v;

    g_assert_no_error(error);
    version = user_version(db);
    n = objects(db);
    g_assert_true(db_meta_set(db, "k", "kept", &error));
    g_assert_no_error(error);
    db_close(db);
    for (int i = 0; i < 3; i++) {
        db = db_open(path, FALSE, &error);
        g_assert_no_error(error);
        g_assert_nonnull(db);
        g_assert_cmpint(user_version(db), ==, version);
        g_assert_cmpint(objects(db), ==, n);
        v = db_meta_get(db, "k");
        g_assert_cmpstr(v, ==, "kept");
        g_free(v);
        db_close(db);
    }
    g_free(path);
}

static void
test_open_missing(void)
{
    GError *error = NULL;
    char *path = db_path("absent.db");
    sqlite3 *db = db_open(path, FALSE, &error);
    g_assert_null(db);
    g_assert_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL);
    g_assert_nonnull(strstr(error->message, "absent.db"));
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));   /* not created */
    g_clear_error(&error);
    g_free(path);
}

/* A migration that fails rolls back every step: the file keeps its old
 * version and gets no half schema. */
static void
test_failed_migration_rolls_back(void)
{
    GError *error = NULL;
    char *path = db_path("clash.db");
    sqlite3 *raw = NULL, *db;

    g_assert_cmpint(sqlite3_open(path, &raw), ==, SQLITE_OK);
    /* a table of the first step already there: step 1 fails */
    g_assert_cmpint(sqlite3_exec(raw, "CREATE TABLE tokens(x)", NULL, NULL, NULL), ==, SQLITE_OK);
    sqlite3_close(raw);
    db = db_open(path, FALSE, &error);
    g_assert_null(db);
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "tokens"));
    g_clear_error(&error);
    g_assert_cmpint(sqlite3_open(path, &raw), ==, SQLITE_OK);
    g_assert_cmpint(user_version(raw), ==, 0);
    g_assert_cmpint(db_int64(raw, "SELECT count(*) FROM sqlite_master WHERE name <> ?1", "tokens"), ==, 0);
    sqlite3_close(raw);
    g_free(path);
}

static void
test_meta_and_int64(void)
{
    GError *error = NULL;
    char *path = db_path("meta.db");
    sqlite3 *db = db_open(path, TRUE, &error);
    char *v;

    g_assert_no_error(error);
    g_assert_null(db_meta_get(db, "missing"));
    g_assert_true(db_meta_set(db, "a", "one", &error));
    g_assert_true(db_meta_set(db, "a", "two", &error));
    g_assert_true(db_meta_set(db, "quote", "it's; DROP TABLE meta; --", &error));
    g_assert_no_error(error);
    v = db_meta_get(db, "a");
    g_assert_cmpstr(v, ==, "two");
    g_free(v);
    v = db_meta_get(db, "quote");
    g_assert_cmpstr(v, ==, "it's; DROP TABLE meta; --");
    g_free(v);
    g_assert_cmpint(db_int64(db, "SELECT count(*) FROM meta WHERE key <> ?1", ""), ==, 2);
    g_assert_cmpint(db_int64(db, "SELECT count(*) FROM meta WHERE key = ?1", "a"), ==, 1);
    g_assert_cmpint(db_int64(db, "SELECT 1 FROM meta WHERE key = ?1", "nothing"), ==, 0);   /* no row */
    g_assert_cmpint(db_int64(db, "SELECT 9007199254740993 WHERE ?1 IS NULL", NULL), ==, G_GINT64_CONSTANT(9007199254740993));
    db_close(db);
    g_free(path);
}

static void
test_errors(void)
{
    GError *error = NULL;
    char *path = db_path("errors.db");
    sqlite3 *db = db_open(path, TRUE, &error);
    sqlite3_stmt *st;

    g_assert_no_error(error);
    g_assert_false(db_exec(db, "THIS IS NOT SQL", &error));
    g_assert_error(error, KAIRAN_ERROR, EXIT_SOFTWARE);
    g_clear_error(&error);
    /* a constraint violation is a failed step, not a crash */
    st = db_prepare(db, "INSERT INTO lists(name, created) VALUES(?1, NULL)");
    sqlite3_bind_text(st, 1, "team", -1, SQLITE_STATIC);
    g_assert_false(db_step_done(st, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "NOT NULL"));
    g_clear_error(&error);
    /* commit without a transaction fails; rollback without one is harmless */
    g_assert_false(db_commit(db, &error));
    g_clear_error(&error);
    db_rollback(db);
    g_assert_true(db_begin_immediate(db, &error));
    g_assert_true(db_exec(db, "INSERT INTO meta VALUES('t', 'x')", &error));
    db_rollback(db);
    g_assert_null(db_meta_get(db, "t"));
    g_assert_no_error(error);
    db_close(db);
    g_free(path);
}

typedef struct {
    char *path;
    GMutex lock;
    GCond cond;
    gboolean holding;
} Holder;

/* hold_lock - take the write lock in another connection, keep it 400 ms. */
static gpointer
hold_lock(gpointer data)
{
    Holder *h = data;
    GError *error = NULL;
    sqlite3 *db = db_open(h->path, FALSE, &error);

    g_assert_no_error(error);
    g_assert_true(db_begin_immediate(db, &error));
    g_assert_true(db_meta_set(db, "holder", "was here", &error));
    g_mutex_lock(&h->lock);
    h->holding = TRUE;
    g_cond_signal(&h->cond);
    g_mutex_unlock(&h->lock);
    g_usleep(400 * 1000);
    g_assert_true(db_commit(db, &error));
    g_assert_no_error(error);
    db_close(db);
    return NULL;
}

/* A second writer waits for the lock (busy timeout) instead of failing. */
static void
test_busy_waits(void)
{
    GError *error = NULL;
    Holder h = { .path = db_path("busy.db") };
    sqlite3 *db = db_open(h.path, TRUE, &error);
    GThread *t;
    gint64 start;
    char *v;

    g_assert_no_error(error);
    g_mutex_init(&h.lock);
    g_cond_init(&h.cond);
    t = g_thread_new("holder", hold_lock, &h);
    g_mutex_lock(&h.lock);
    while (!h.holding)
        g_cond_wait(&h.cond, &h.lock);
    g_mutex_unlock(&h.lock);
    start = g_get_monotonic_time();
    g_assert_true(db_begin_immediate(db, &error));
    g_assert_no_error(error);
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 200 * 1000);
    v = db_meta_get(db, "holder");          /* the other writer's commit is seen */
    g_assert_cmpstr(v, ==, "was here");
    g_free(v);
    g_assert_true(db_meta_set(db, "second", "also", &error));
    g_assert_true(db_commit(db, &error));
    g_assert_no_error(error);
    g_thread_join(t);
    g_mutex_clear(&h.lock);
    g_cond_clear(&h.cond);
    db_close(db);
    g_free(h.path);
}

int
main(int argc, char **argv)
{
    GError *error = NULL;
    int rc;

    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("kairan-db-XXXXXX", &error);
    g_assert_no_error(error);
    g_test_add_func("/db/new-database-latest-schema", test_new_database);
    g_test_add_func("/db/reopen-idempotent", test_reopen_idempotent);
    g_test_add_func("/db/open-missing", test_open_missing);
    g_test_add_func("/db/failed-migration-rolls-back", test_failed_migration_rolls_back);
    g_test_add_func("/db/meta-and-int64", test_meta_and_int64);
    g_test_add_func("/db/errors", test_errors);
    g_test_add_func("/db/busy-waits", test_busy_waits);
    rc = g_test_run();
    unit_instance_rm_rf(dir);
    g_free(dir);
    return rc;
}
