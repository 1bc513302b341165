/* db.h - the SQLite database of an instance (kairan.db): schema,
 * migrations and small statement helpers.  WAL mode and a busy timeout
 * so that concurrent deliver runs wait instead of failing. */
#ifndef KAIRAN_DB_H
#define KAIRAN_DB_H

#include <glib.h>
#include <sqlite3.h>

#define DB_SCHEMA_VERSION 1

sqlite3 *db_open(const char *path, gboolean create, GError **error);
void db_close(sqlite3 *db);
/* db_exec - run SQL without results; FALSE and error on failure. */
gboolean db_exec(sqlite3 *db, const char *sql, GError **error);
/* db_begin_immediate - take the write lock now (waits up to the busy
 * timeout); errors are EXIT_TEMPFAIL. */
gboolean db_begin_immediate(sqlite3 *db, GError **error);
gboolean db_commit(sqlite3 *db, GError **error);
void db_rollback(sqlite3 *db);
/* db_prepare - prepare or die with EXIT_SOFTWARE (a bug in our SQL); a
 * busy or locked database is retried for up to 60 s first (EXIT_TEMPFAIL
 * after that), so contention never ends a daemon. */
sqlite3_stmt *db_prepare(sqlite3 *db, const char *sql);
/* db_step_done - step a statement that returns no row; FALSE + error
 * (EXIT_TEMPFAIL for busy/IO errors) otherwise.  Finalizes stmt. */
gboolean db_step_done(sqlite3_stmt *stmt, GError **error);
/* db_int64 - the first column of the first row of sql, whose one
 * parameter (?1) is text: a count, a sequence number; 0 without a row. */
gint64 db_int64(sqlite3 *db, const char *sql, const char *text);
/* db_strv - the first column of every row of sql (no parameters), as a
 * NULL-terminated vector (g_strfreev); NULL values are left out. */
char **db_strv(sqlite3 *db, const char *sql);
/* db_set_error - fill error from the connection's last error. */
void db_set_error(sqlite3 *db, GError **error, const char *what);
/* db_meta_get / db_meta_set - the meta key/value table. */
char *db_meta_get(sqlite3 *db, const char *key);
gboolean db_meta_set(sqlite3 *db, const char *key, const char *value, GError **error);

#endif
