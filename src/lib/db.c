/* db.c - open kairan.db, create or migrate its schema, statement helpers.
 *
 * The schema version lives in PRAGMA user_version; db_open() applies every
 * migration step above it inside one transaction.  Add a step by appending
 * to migrations[] - never edit an existing one.
 *
 * Tables (version 1; version 2 adds the covering index members_delivery):
 *   meta(key, value)                 instance secret and other key/values
 *   lists(name, created, seq, password_hash)   seq = last post number
 *   list_settings(list, key, value)  per-list overrides of kairan.conf
 *   members(list, address, name, nomail, digest, post_only, pop_password,
 *           apop_secret, bounce_score, bounce_last, disabled_reason, since)
 *   archive(list, num, message_id, date, from_addr, from_name, subject,
 *           size, in_reply_to, refs, digested)   one row per post
 *   held(list, id, created, sender, subject, reason, size)
 *   tokens(token, list, action, address, extra, expires, used)
 *   auth_failures(list, at)          admin password failures
 *   pop_hidden(list, address, num)   DELE'd messages per member
 *   sessions(id, list, address, csrf, expires)   web sessions
 *     (+ role: admin|owner|member, migration 3)
 *   dmarc_cache(domain, policy, fetched)   DMARC p= of author domains (dmarc.c, migration 4)
 *   rate_limits(kind, list, key, window_start, count, dropped)   abuse limits
 *                                    (src/lib/ratelimit.c, migration 5)
 *   archive_text(list, num, subject, author, body)   FTS5 (trigram) search
 *     index of the archive, + archive.text_indexed, archive.footer (the
 *     footer added to the post) (migration 6)
 *   members.moderated: the member's posts are held (migration 7)
 *   archive.archived: when the post was archived, for the Message-ID
 *     seen-cache of the posting path (duplicate_window; migration 8)
 *   auth_guard(key, failures, last_fail)   failed logins per client
 *     address / account (lib/authguard.c; replaces auth_failures; migration 9)
 *   footers' placeholders {x} -> {{x}} (migration 10)
 *   api_tokens(id, hash, list, name, created, last_used, revoked)   REST
 *     API tokens, SHA-256 of the token only (src/lib/apitoken.c; migration 12)
 *   imap_flags(list, address, num, flags)   IMAP flags and keywords per
 *     member (src/imap/flags.c; migration 13)
 *   members.receive_own, nodupes, acknowledge, hide_address,
 *     vacation_until: per-member options (lib/memberopts.c);
 *     autoresponses(list, kind, address, sent) (lib/autorespond.c) (migration 14)
 *   maintain_runs(task, list, last_run, lease_until, owner)   periodic
 *     work: last run and lease of each task (src/lib/maintain.c; migration 15)
 *   domains(name, web_url, created)   the domains besides [global] domain;
 *     their lists' ids are NAME@DOMAIN (src/lib/domains.c; migration 17)
 *   members.bounce_warnings, bounce_warned: warnings to a member disabled
 *     by bounces (src/lib/bounce_warn.c; migration 18)
 */
#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <string.h>

static const char *migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE lists(name TEXT PRIMARY KEY, created INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL DEFAULT 0, password_hash TEXT);"
    "CREATE TABLE list_settings(list TEXT NOT NULL, key TEXT NOT NULL, value TEXT,"
    "  PRIMARY KEY(list, key));"
    "CREATE TABLE members(list TEXT NOT NULL, address TEXT NOT NULL, name TEXT,"
    "  nomail INTEGER NOT NULL DEFAULT 0, digest INTEGER NOT NULL DEFAULT 0,"
    "  post_only INTEGER NOT NULL DEFAULT 0, pop_password TEXT, apop_secret TEXT,"
    "  bounce_score REAL NOT NULL DEFAULT 0, bounce_last INTEGER,"
    "  disabled_reason TEXT, since INTEGER NOT NULL,"
    "  PRIMARY KEY(list, address));"
    "CREATE TABLE archive(list TEXT NOT NULL, num INTEGER NOT NULL, message_id TEXT,"
    "  date INTEGER, from_addr TEXT, from_name TEXT, subject TEXT, size INTEGER,"
    "  in_reply_to TEXT, refs TEXT, digested INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(list, num));"
    "CREATE INDEX archive_msgid ON archive(list, message_id);"
    "CREATE TABLE held(list TEXT NOT NULL, id TEXT NOT NULL, created INTEGER NOT NULL,"
    "  sender TEXT, subject TEXT, reason TEXT, size INTEGER, PRIMARY KEY(list, id));"
    "CREATE TABLE tokens(token TEXT PRIMARY KEY, list TEXT NOT NULL, action TEXT NOT NULL,"
    "  address TEXT NOT NULL, extra TEXT, expires INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE auth_failures(list TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE TABLE pop_hidden(list TEXT NOT NULL, address TEXT NOT NULL, num INTEGER NOT NULL,"
    "  PRIMARY KEY(list, address, num));"
    "CREATE TABLE sessions(id TEXT PRIMARY KEY, list TEXT, address TEXT, csrf TEXT NOT NULL,"
    "  expires INTEGER NOT NULL);",
    /* 2: the fan-out reads only this index (no table lookups per member) */
    "CREATE INDEX members_delivery ON members(list, nomail, post_only, digest, address);",
    /* 3 (web): the role of a session (admin, owner, member) */
    "ALTER TABLE sessions ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';",
    /* 4 (issue 8): DMARC policies of author domains and when they were looked up */
    "CREATE TABLE dmarc_cache(domain TEXT PRIMARY KEY, policy TEXT NOT NULL, fetched INTEGER NOT NULL);",
    /* 5 (issue 7): abuse limits - mails kairan wrote per (kind, list, address) in the current hour */
    "CREATE TABLE rate_limits(kind TEXT NOT NULL, list TEXT NOT NULL, key TEXT NOT NULL,"
    "  window_start INTEGER NOT NULL, count INTEGER NOT NULL DEFAULT 0,"
    "  dropped INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(kind, list, key));",
    /* 6: archive search (deliver/archive_search.c): FTS5 with trigrams, so
     * Japanese is found without word boundaries; posts are indexed when a
     * search needs them (text_indexed = 0 until then) */
    "CREATE VIRTUAL TABLE archive_text USING fts5(list UNINDEXED, num UNINDEXED, subject, author, body,"
    "  tokenize = 'trigram');"
    "ALTER TABLE archive ADD COLUMN text_indexed INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE archive ADD COLUMN footer TEXT;",
    /* 7: per-member moderation (Mailman's moderate flag): the member's
     * posts are held */
    "ALTER TABLE members ADD COLUMN moderated INTEGER NOT NULL DEFAULT 0;",
    /* 8: when each post was archived; a post whose Message-ID the
     * list distributed within duplicate_window is dropped (archive_msgid
     * index); older posts count from their Date */
    "ALTER TABLE archive ADD COLUMN archived INTEGER;"
    "UPDATE archive SET archived = date;",
    /* 9: the guessing guard of every login (lib/authguard.c):
     * failures per client address or account and the time of the last
     * one (ms); auth_failures is no longer used */
    "CREATE TABLE auth_guard(key TEXT PRIMARY KEY, failures INTEGER NOT NULL,"
    "  last_fail INTEGER NOT NULL);"
    "CREATE INDEX auth_guard_last ON auth_guard(last_fail);",
    /* 10: one placeholder syntax: a footer's {list} and friends become
     * {{list}} (the syntax of every other template) */
    "UPDATE list_settings SET value = replace(replace(replace(replace(replace(value,"
    " '{list}', '{{list}}'), '{address}', '{{address}}'), '{number}', '{{number}}'),"
    " '{unsubscribe}', '{{unsubscribe}}'), '{archive}', '{{archive}}')"
    " WHERE key = 'footer' AND value NOT LIKE '%{{%';",
    /* 11: POP-before-SMTP windows (lib/popbeforesmtp.c): after a
     * POP3/IMAP login from ip, the relay lets ip relay until `until` */
    "CREATE TABLE pop_before_smtp(ip TEXT PRIMARY KEY, list TEXT, address TEXT, until INTEGER NOT NULL);",
    /* 12: REST API tokens (apitoken.c): the SHA-256 of the token, never
     * the token; list NULL = an instance token */
    "CREATE TABLE api_tokens(id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE,"
    "  list TEXT, name TEXT, created INTEGER NOT NULL, last_used INTEGER, revoked INTEGER);",
    /* 13: per-member IMAP flags and keywords of archived posts
     * (src/imap/flags.c); \\Deleted + EXPUNGE goes to pop_hidden */
    "CREATE TABLE imap_flags(list TEXT NOT NULL, address TEXT NOT NULL, num INTEGER NOT NULL,"
    "  flags TEXT NOT NULL, PRIMARY KEY(list, address, num));",
    /* 14: per-member options (lib/memberopts.c): receive_own_posts,
     * nodupes, acknowledge, hide_address, vacation_until (the first second
     * delivery resumes, 0 = no pause); the fan-out index covers them; one
     * auto-response per (list, kind, sender) per autorespond_grace
     * (lib/autorespond.c) */
    "ALTER TABLE members ADD COLUMN receive_own INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE members ADD COLUMN nodupes INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE members ADD COLUMN acknowledge INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE members ADD COLUMN hide_address INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE members ADD COLUMN vacation_until INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX members_fanout ON members(list, nomail, post_only, digest, vacation_until, nodupes, address);"
    "CREATE TABLE autoresponses(list TEXT NOT NULL, kind TEXT NOT NULL, address TEXT NOT NULL,"
    "  sent INTEGER NOT NULL, PRIMARY KEY(list, kind, address));",
    /* 15: periodic work (src/lib/maintain.c): when each task last
     * ran for each list ('' = the instance), and who runs it now until
     * lease_until (several processes never run one task at once) */
    "CREATE TABLE maintain_runs(task TEXT NOT NULL, list TEXT NOT NULL, last_run INTEGER NOT NULL DEFAULT 0,"
    "  lease_until INTEGER NOT NULL DEFAULT 0, owner TEXT, PRIMARY KEY(task, list));",
    /* 16: TLS-RPT (lib/tlsrpt.c, RFC 8460): outbound TLS sessions
     * counted per UTC day, policy domain, policy, result ('' = success)
     * and receiving host; deleted once the day's report is queued */
    "CREATE TABLE tlsrpt_sessions(day TEXT NOT NULL, domain TEXT NOT NULL, policy_type TEXT NOT NULL,"
    "  policy_string TEXT NOT NULL, policy_mx TEXT NOT NULL, result TEXT NOT NULL, mx_host TEXT NOT NULL,"
    "  receiving_ip TEXT NOT NULL, detail TEXT, count INTEGER NOT NULL,"
    "  PRIMARY KEY(day, domain, policy_type, policy_string, policy_mx, result, mx_host, receiving_ip));",
    /* 17: the mail domains besides [global] domain (lib/domains.c);
     * a list of one of them has the id NAME@DOMAIN, a list of the default
     * domain keeps its bare NAME, so no existing row changes */
    "CREATE TABLE domains(name TEXT PRIMARY KEY, web_url TEXT, created INTEGER NOT NULL);",
    /* 18: the warnings sent to a member whose delivery bounces
     * disabled, and when the last went (lib/bounce_warn.c); turning
     * delivery on again, or a reason that is no longer a bounce, clears
     * them whatever the path (mail, web) */
    "ALTER TABLE members ADD COLUMN bounce_warnings INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE members ADD COLUMN bounce_warned INTEGER NOT NULL DEFAULT 0;"
    "CREATE TRIGGER members_bounce_warn_clear AFTER UPDATE OF nomail, disabled_reason ON members"
    "  WHEN (NEW.bounce_warnings <> 0 OR NEW.bounce_warned <> 0) AND (NEW.nomail = 0"
    "    OR NEW.disabled_reason IS NULL OR NEW.disabled_reason NOT LIKE 'bounce%')"
    "  BEGIN UPDATE members SET bounce_warnings = 0, bounce_warned = 0"
    "    WHERE list = NEW.list AND address = NEW.address; END;",
};

void
db_set_error(sqlite3 *db, GError **error, const char *what)
{
    int code = sqlite3_errcode(db);
    int status = (code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR ||
                  code == SQLITE_FULL || code == SQLITE_READONLY || code == SQLITE_CANTOPEN ||
                  code == SQLITE_PROTOCOL) ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
    g_set_error(error, KAIRAN_ERROR, status, "%s: %s", what, sqlite3_errmsg(db));
}

gboolean
db_exec(sqlite3 *db, const char *sql, GError **error)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int code = sqlite3_errcode(db);
        int status = (code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR ||
                      code == SQLITE_FULL || code == SQLITE_READONLY) ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
        g_set_error(error, KAIRAN_ERROR, status, "database: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return FALSE;
    }
    return TRUE;
}

gboolean
db_begin_immediate(sqlite3 *db, GError **error)
{
    return db_exec(db, "BEGIN IMMEDIATE", error);
}

gboolean
db_commit(sqlite3 *db, GError **error)
{
    return db_exec(db, "COMMIT", error);
}

void
db_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Preparing reads the schema, which needs a read lock; the busy handler
 * usually covers that, but a few cases (WAL recovery by another process,
 * a schema change racing with us) return SQLITE_BUSY or SQLITE_LOCKED at
 * once.  Retry those with a growing pause for up to DB_PREPARE_PATIENCE
 * before giving up: in a daemon, log_fatal would end every session. */
#define DB_PREPARE_PATIENCE_US (60 * G_USEC_PER_SEC)

sqlite3_stmt *
db_prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    gint64 deadline = g_get_monotonic_time() + DB_PREPARE_PATIENCE_US;
    gulong pause = 1000;
    int rc;

    while ((rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL)) != SQLITE_OK) {
        int primary = rc & 0xff;
        if (primary != SQLITE_BUSY && primary != SQLITE_LOCKED && primary != SQLITE_SCHEMA)
            log_fatal(EXIT_SOFTWARE, "SQL error: %s in: %s", sqlite3_errmsg(db), sql);
        if (g_get_monotonic_time() >= deadline)
            log_fatal(EXIT_TEMPFAIL, "database busy: %s", sqlite3_errmsg(db));
        g_usleep(pause);
        if (pause < 100000)
            pause *= 2;
    }
    return stmt;
}

gint64
db_int64(sqlite3 *db, const char *sql, const char *text)
{
    sqlite3_stmt *st = db_prepare(db, sql);
    gint64 n = 0;

    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

char **
db_strv(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = db_prepare(db, sql);
    GPtrArray *a = g_ptr_array_new();

    while (sqlite3_step(st) == SQLITE_ROW)
        if (sqlite3_column_text(st, 0))
            g_ptr_array_add(a, g_strdup((const char *) sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    g_ptr_array_add(a, NULL);
    return (char **) g_ptr_array_free(a, FALSE);
}

gboolean
db_step_done(sqlite3_stmt *stmt, GError **error)
{
    int rc = sqlite3_step(stmt);
    gboolean ok = (rc == SQLITE_DONE || rc == SQLITE_ROW);
    if (!ok)
        db_set_error(sqlite3_db_handle(stmt), error, "database");
    sqlite3_finalize(stmt);
    return ok;
}

char *
db_meta_get(sqlite3 *db, const char *key)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT value FROM meta WHERE key = ?");
    char *v = NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = g_strdup((const char *) sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

gboolean
db_meta_set(sqlite3 *db, const char *key, const char *value, GError **error)
{
    sqlite3_stmt *st = db_prepare(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return db_step_done(st, error);
}

static int
db_version(sqlite3 *db)
{
    sqlite3_stmt *st = db_prepare(db, "PRAGMA user_version");
    int v = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static gboolean
db_migrate(sqlite3 *db, GError **error)
{
    int target = (int) G_N_ELEMENTS(migrations);
    int version;

    if (db_version(db) >= target)
        return TRUE;
    if (!db_begin_immediate(db, error))
        return FALSE;
    version = db_version(db);            /* again, under the lock */
    for (int v = version; v < target; v++) {
        char *pragma = g_strdup_printf("PRAGMA user_version = %d", v + 1);
        gboolean ok = db_exec(db, migrations[v], error) && db_exec(db, pragma, error);
        g_free(pragma);
        if (!ok) {
            db_rollback(db);
            return FALSE;
        }
    }
    return db_commit(db, error);
}

sqlite3 *
db_open(const char *path, gboolean create, GError **error)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);

    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "cannot open %s: %s", path,
                    db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 60000);
    /* the database holds the token key and APOP secrets: 0600, also when
     * an older kairan made it 0644 (SQLite gives -wal and -shm the mode of
     * the database when it creates them) */
    for (int i = 0; i < 3; i++) {
        char *p = g_strconcat(path, i == 0 ? "" : i == 1 ? "-wal" : "-shm", NULL);
        if (util_make_private(p))
            log_info("made %s private (mode 0600)", p);
        g_free(p);
    }
    if (!db_exec(db, "PRAGMA journal_mode = WAL", error) ||
        !db_exec(db, "PRAGMA synchronous = FULL", error) ||
        !db_exec(db, "PRAGMA foreign_keys = ON", error) ||
        !db_migrate(db, error)) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

void
db_close(sqlite3 *db)
{
    if (db)
        sqlite3_close(db);
}
