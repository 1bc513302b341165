/* apitoken.c - REST API tokens in the api_tokens table (apitoken.h).
 *
 * A token is "kt_" and 40 hex digits (160 random bits).  Only its
 * SHA-256 is stored: a token has far more entropy than a password, so a
 * fast hash suffices and a lookup is one indexed SELECT.  Revoking keeps
 * the row (the log names token ids, and `api-token list` shows when). */
#include "config.h"
#include "apitoken.h"
#include "crypto.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "util.h"

#include <string.h>

#define TOKEN_PREFIX "kt_"
#define TOKEN_HEX 40

void
apitoken_free(ApiToken *t)
{
    if (!t)
        return;
    g_free(t->list);
    g_free(t->name);
    g_free(t);
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    return v ? g_strdup((const char *) v) : NULL;
}

#define TOKEN_COLUMNS "id, list, name, created, last_used, revoked"

static ApiToken *
token_from_row(sqlite3_stmt *st)
{
    ApiToken *t = g_new0(ApiToken, 1);
    t->id = sqlite3_column_int64(st, 0);
    t->list = col_dup(st, 1);
    t->name = col_dup(st, 2);
    t->created = sqlite3_column_int64(st, 3);
    t->last_used = sqlite3_column_int64(st, 4);
    t->revoked = sqlite3_column_int64(st, 5);
    return t;
}

char *
apitoken_new(Instance *inst, const char *list, const char *name, gint64 *id, GError **error)
{
    char *rnd, *secret, *hash;
    sqlite3_stmt *st;
    gboolean ok;

    if (list && !list_exists(inst, list)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no list %s", list);
        return NULL;
    }
    if (name && (strlen(name) > 200 || strpbrk(name, "\r\n"))) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "a token name is one line of at most 200 bytes");
        return NULL;
    }
    rnd = random_hex(TOKEN_HEX / 2);
    secret = g_strconcat(TOKEN_PREFIX, rnd, NULL);
    g_free(rnd);
    hash = sha256_hex(secret, strlen(secret));
    st = db_prepare(inst->db, "INSERT INTO api_tokens(hash, list, name, created) VALUES(?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name && *name ? name : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_seconds());
    ok = db_step_done(st, error);
    g_free(hash);
    if (!ok) {
        g_free(secret);
        return NULL;
    }
    if (id)
        *id = sqlite3_last_insert_rowid(inst->db);
    return secret;
}

GPtrArray *
apitoken_list(Instance *inst)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT " TOKEN_COLUMNS " FROM api_tokens ORDER BY id");
    GPtrArray *a = g_ptr_array_new_with_free_func((GDestroyNotify) apitoken_free);
    while (sqlite3_step(st) == SQLITE_ROW)
        g_ptr_array_add(a, token_from_row(st));
    sqlite3_finalize(st);
    return a;
}

gboolean
apitoken_revoke(Instance *inst, gint64 id, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db, "UPDATE api_tokens SET revoked = ? WHERE id = ? AND revoked IS NULL");
    sqlite3_bind_int64(st, 1, now_seconds());
    sqlite3_bind_int64(st, 2, id);
    if (!db_step_done(st, error))
        return FALSE;
    if (sqlite3_changes(inst->db) == 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no API token %" G_GINT64_FORMAT " in force", id);
        return FALSE;
    }
    return TRUE;
}

ApiToken *
apitoken_check(Instance *inst, const char *secret, gboolean *revoked)
{
    sqlite3_stmt *st;
    ApiToken *t = NULL;
    char *hash;

    if (revoked)
        *revoked = FALSE;
    if (!secret || strlen(secret) != strlen(TOKEN_PREFIX) + TOKEN_HEX || !g_str_has_prefix(secret, TOKEN_PREFIX) ||
        strspn(secret + strlen(TOKEN_PREFIX), "0123456789abcdef") != TOKEN_HEX)
        return NULL;
    hash = sha256_hex(secret, strlen(secret));
    st = db_prepare(inst->db, "SELECT " TOKEN_COLUMNS " FROM api_tokens WHERE hash = ?");
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        t = token_from_row(st);
    sqlite3_finalize(st);
    g_free(hash);
    if (t && t->revoked) {
        if (revoked)
            *revoked = TRUE;
        apitoken_free(t);
        return NULL;
    }
    if (t && t->last_used < now_seconds() - 60) {
        /* at most one write a minute per token: last_used is for people */
        GError *e = NULL;
        st = db_prepare(inst->db, "UPDATE api_tokens SET last_used = ? WHERE id = ?");
        sqlite3_bind_int64(st, 1, now_seconds());
        sqlite3_bind_int64(st, 2, t->id);
        if (!db_step_done(st, &e))
            g_clear_error(&e);      /* the use is still allowed */
    }
    return t;
}

gboolean
apitoken_remove_list(Instance *inst, const char *list, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db, "DELETE FROM api_tokens WHERE list = ?");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    return db_step_done(st, error);
}
