/* token.c - confirmation tokens.
 *
 * A token is the first 32 hex digits of
 *   HMAC-SHA256(instance secret, list "\n" action "\n" address "\n" expiry "\n" nonce)
 * so it cannot be guessed or made for another address without the
 * secret.  The row in the tokens table records what it was made for, its
 * expiry and whether it was used: tokens are single use, and checking
 * recomputes the HMAC from the row (a row altered in the database does
 * not verify). */
#include "config.h"
#include "token.h"
#include "domains.h"
#include "crypto.h"
#include "db.h"
#include "util.h"

#include <string.h>

static char *
token_mac(const Instance *inst, const char *list, const char *action, const char *address,
          gint64 expires, const char *nonce)
{
    char *data = g_strdup_printf("%s\n%s\n%s\n%" G_GINT64_FORMAT "\n%s", list, action, address, expires, nonce);
    char *mac = hmac_sha256_hex(inst->secret ? inst->secret : "", data, strlen(data));
    g_free(data);
    if (mac)
        mac[32] = '\0';
    return mac;
}

char *
token_create(Instance *inst, const char *list, const char *action,
             const char *address, const char *extra, gint64 lifetime, GError **error)
{
    gint64 expires = now_seconds() + lifetime;
    char *nonce = random_hex(8);
    char *token = token_mac(inst, list, action, address, expires, nonce);
    char *stored_extra = g_strdup_printf("%s\n%s", nonce, extra ? extra : "");
    sqlite3_stmt *st = db_prepare(inst->db, "INSERT INTO tokens(token, list, action, address, extra, expires, used)"
                                            " VALUES(?, ?, ?, ?, ?, ?, 0)");
    gboolean ok;

    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, address, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, stored_extra, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, expires);
    ok = db_step_done(st, error);
    g_free(nonce);
    g_free(stored_extra);
    if (!ok) {
        g_free(token);
        return NULL;
    }
    return token;
}

static TokenStatus
token_check(Instance *inst, const char *token, gboolean consume, char **list_out,
            char **action_out, char **address_out, char **extra_out)
{
    sqlite3_stmt *st;
    TokenStatus status = TOKEN_UNKNOWN;
    char *list = NULL, *action = NULL, *address = NULL, *extra = NULL;
    gint64 expires = 0;
    int used = 0;

    if (!token || strlen(token) != 32 || strspn(token, "0123456789abcdef") != 32)
        return TOKEN_UNKNOWN;
    if (consume && !db_begin_immediate(inst->db, NULL))
        return TOKEN_UNKNOWN;
    st = db_prepare(inst->db, "SELECT list, action, address, extra, expires, used FROM tokens WHERE token = ?");
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        list = g_strdup((const char *) sqlite3_column_text(st, 0));
        action = g_strdup((const char *) sqlite3_column_text(st, 1));
        address = g_strdup((const char *) sqlite3_column_text(st, 2));
        extra = g_strdup(sqlite3_column_text(st, 3) ? (const char *) sqlite3_column_text(st, 3) : "\n");
        expires = sqlite3_column_int64(st, 4);
        used = sqlite3_column_int(st, 5);
    }
    sqlite3_finalize(st);
    if (list) {
        char *nl = strchr(extra, '\n');
        char *nonce = nl ? g_strndup(extra, (gsize) (nl - extra)) : g_strdup(extra);
        char *mac = token_mac(inst, list, action, address, expires, nonce);
        if (!mac || !const_time_equal(mac, token))
            status = TOKEN_UNKNOWN;
        else if (used)
            status = TOKEN_USED;
        else if (expires < now_seconds())
            status = TOKEN_EXPIRED;
        else
            status = TOKEN_OK;
        if (nl)
            memmove(extra, nl + 1, strlen(nl + 1) + 1);
        g_free(nonce);
        g_free(mac);
    }
    if (consume && status == TOKEN_OK) {
        st = db_prepare(inst->db, "UPDATE tokens SET used = 1 WHERE token = ? AND used = 0");
        sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
        if (!db_step_done(st, NULL) || sqlite3_changes(inst->db) != 1 || !db_commit(inst->db, NULL))
            status = TOKEN_UNKNOWN;
    }
    if (consume)
        db_rollback(inst->db);
    if (status == TOKEN_OK) {
        if (list_out) { *list_out = list; list = NULL; }
        if (action_out) { *action_out = action; action = NULL; }
        if (address_out) { *address_out = address; address = NULL; }
        if (extra_out) { *extra_out = extra; extra = NULL; }
    }
    g_free(list);
    g_free(action);
    g_free(address);
    g_free(extra);
    return status;
}

TokenStatus
token_consume(Instance *inst, const char *token, char **list, char **action, char **address, char **extra)
{
    return token_check(inst, token, TRUE, list, action, address, extra);
}

TokenStatus
token_peek(Instance *inst, const char *token, char **list, char **action, char **address, char **extra)
{
    return token_check(inst, token, FALSE, list, action, address, extra);
}

const char *
token_status_text(TokenStatus s)
{
    switch (s) {
    case TOKEN_OK: return "valid";
    case TOKEN_UNKNOWN: return "unknown or invalid token";
    case TOKEN_EXPIRED: return "the token has expired";
    case TOKEN_USED: return "the token was already used";
    }
    return "invalid";
}

char *
token_oneclick_sig(const Instance *inst, const char *list, const char *address)
{
    char *data = g_strdup_printf("oneclick\n%s\n%s", list, address);
    char *mac = hmac_sha256_hex(inst->secret ? inst->secret : "", data, strlen(data));
    g_free(data);
    if (mac)
        mac[32] = '\0';
    return mac;
}

char *
token_oneclick_url(const Instance *inst, const char *list, const char *address)
{
    char *web = list_web_url(inst, list);
    char *sig, *enc, *url;
    if (!web)
        return NULL;
    sig = token_oneclick_sig(inst, list, address);
    enc = g_uri_escape_string(address, NULL, TRUE);
    url = g_strdup_printf("%s%slist/%s/unsubscribe?a=%s&s=%s", web, g_str_has_suffix(web, "/") ? "" : "/",
                          list, enc, sig);
    g_free(web);
    g_free(sig);
    g_free(enc);
    return url;
}
