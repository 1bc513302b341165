/* authguard.c - the guessing guard shared by every login.
 *
 * Every failed login is counted twice in the table auth_guard(key,
 * failures, last_fail): once for the client address (IPv4 as is, IPv6 by
 * its /64, since one host usually has a whole /64) and once for the
 * account named (a member "ADDRESS/LIST", a list password "LIST", a web
 * login by its address), so that a guesser is slowed down whether it
 * changes accounts or addresses.  The table lives in kairan.db: the
 * counts hold across connections, sessions and processes (relay, pop3d,
 * web, CGI, deliver).
 *
 * Penalty, as Dovecot's auth penalty: the first auth_guard_free (3)
 * failures cost nothing, then each one doubles the delay from 250 ms up to
 * auth_guard_max_delay (15 s).  The delay runs from the key's last
 * failure: a login arriving after it has passed is checked at once.
 * Failures are forgotten after auth_guard_forget (15m) without a new one.
 * A right password forgets the client address; the account's count stays
 * until forgotten, so a guesser gains nothing from the user's logins.
 * The guard delays, it never refuses: once the delay has passed, a right
 * password is accepted, whoever else is guessing. */
#include "config.h"
#include "authguard.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <string.h>
#include <gio/gio.h>

char *
authguard_ip_key(const char *ip)
{
    GInetAddress *a;
    char *key;

    if (!ip || !*ip)
        return NULL;
    a = g_inet_address_new_from_string(ip);
    if (!a)
        return g_strconcat("ip:", ip, NULL);
    if (g_inet_address_get_family(a) == G_SOCKET_FAMILY_IPV6) {
        const guint8 *b = g_inet_address_to_bytes(a);
        static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(b, mapped, sizeof(mapped)) == 0)
            key = g_strdup_printf("ip:%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
        else
            key = g_strdup_printf("ip:%x:%x:%x:%x::/64", (b[0] << 8) | b[1], (b[2] << 8) | b[3],
                                  (b[4] << 8) | b[5], (b[6] << 8) | b[7]);
    } else {
        char *text = g_inet_address_to_string(a);
        key = g_strconcat("ip:", text, NULL);
        g_free(text);
    }
    g_object_unref(a);
    return key;
}

char *
authguard_account_key(const char *account)
{
    char *low, *key;

    if (!account || !*account)
        return NULL;
    low = g_ascii_strdown(account, -1);      /* any bytes (an AUTH user name is) */
    key = g_strconcat("acct:", low, NULL);
    g_free(low);
    return key;
}

gint64
authguard_penalty_ms(gint64 failures, gint64 free_failures, gint64 max_ms)
{
    gint64 ms = AUTHGUARD_BASE_MS;

    if (failures < free_failures || failures <= 0)
        return 0;
    for (gint64 i = free_failures; i < failures && ms < max_ms; i++)
        ms *= 2;
    return MIN(ms, max_ms);
}

typedef struct {
    gint64 free_failures, max_ms, forget_ms;
} Params;

static void
params(const Instance *inst, Params *p)
{
    /* defaults and bounds: the [global] table (globals.c) */
    p->free_failures = instance_global_int(inst, "auth_guard_free");
    p->max_ms = (gint64) (instance_global_double(inst, "auth_guard_max_delay") * 1000);
    p->forget_ms = instance_global_int(inst, "auth_guard_forget") * 1000;
}

static gint64
now_ms(void)
{
    return now_milliseconds();
}

/* key_wait - ms left of the penalty of one key (0 without a row). */
static gint64
key_wait(Instance *inst, const Params *p, const char *key, gint64 now, gint64 *failures)
{
    sqlite3_stmt *st;
    gint64 wait = 0;

    *failures = 0;
    if (!key)
        return 0;
    st = db_prepare(inst->db, "SELECT failures, last_fail FROM auth_guard WHERE key = ?");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        gint64 n = sqlite3_column_int64(st, 0), last = sqlite3_column_int64(st, 1);
        if (now - last < p->forget_ms) {
            *failures = n;
            wait = last + authguard_penalty_ms(n, p->free_failures, p->max_ms) - now;
            wait = CLAMP(wait, 0, p->max_ms);
        }
    }
    sqlite3_finalize(st);
    return wait;
}

gint64
authguard_delay(Instance *inst, const char *service, const char *ip, const char *account)
{
    Params p;
    char *ipk = authguard_ip_key(ip), *ak = authguard_account_key(account);
    gint64 now = now_ms(), nip, nacct;
    gint64 wait;

    params(inst, &p);
    wait = MAX(key_wait(inst, &p, ipk, now, &nip), key_wait(inst, &p, ak, now, &nacct));
    if (wait > 0)
        log_info("auth guard: %s login of %s from %s waits %" G_GINT64_FORMAT " ms (%" G_GINT64_FORMAT
                 " recent failures from the client, %" G_GINT64_FORMAT " for the account)",
                 service, account ? account : "-", ip ? ip : "-", wait, nip, nacct);
    g_free(ipk);
    g_free(ak);
    return wait;
}

gint64
authguard_wait(Instance *inst, const char *service, const char *ip, const char *account)
{
    gint64 ms = authguard_delay(inst, service, ip, account);
    if (ms > 0)
        g_usleep((gulong) ms * 1000);
    return ms;
}

static gint64
count_failure(Instance *inst, const Params *p, const char *key, gint64 now)
{
    sqlite3_stmt *st;
    gint64 n = 0;

    if (!key)
        return 0;
    st = db_prepare(inst->db,
        "INSERT INTO auth_guard(key, failures, last_fail) VALUES(?1, 1, ?2)"
        " ON CONFLICT(key) DO UPDATE SET"
        "  failures = CASE WHEN ?2 - last_fail >= ?3 THEN 1 ELSE failures + 1 END,"
        "  last_fail = MAX(last_fail, ?2)"
        " RETURNING failures");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, p->forget_ms);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        log_warn("auth guard: cannot count a failure: %s", sqlite3_errmsg(inst->db));
    sqlite3_finalize(st);
    return n;
}

gint64
authguard_failed(Instance *inst, const char *service, const char *ip, const char *account)
{
    Params p;
    char *ipk = authguard_ip_key(ip), *ak = authguard_account_key(account);
    gint64 now = now_ms(), n;
    sqlite3_stmt *st;
    gboolean own;

    (void) service;
    params(inst, &p);
    /* one transaction (one fsync) unless the caller has one open */
    own = sqlite3_get_autocommit(inst->db) && db_begin_immediate(inst->db, NULL);
    /* rows nobody failed on for a while are of no use: keep the table small */
    st = db_prepare(inst->db, "DELETE FROM auth_guard WHERE last_fail < ?");
    sqlite3_bind_int64(st, 1, now - p.forget_ms);
    (void) db_step_done(st, NULL);
    count_failure(inst, &p, ipk, now);
    n = count_failure(inst, &p, ak, now);
    if (own && !db_commit(inst->db, NULL)) {
        log_warn("auth guard: cannot record a failure: %s", sqlite3_errmsg(inst->db));
        db_rollback(inst->db);
    }
    g_free(ipk);
    g_free(ak);
    return n;
}

void
authguard_succeeded(Instance *inst, const char *service, const char *ip, const char *account)
{
    char *ipk = authguard_ip_key(ip);
    sqlite3_stmt *st;

    (void) service;
    (void) account;
    if (!ipk)
        return;
    st = db_prepare(inst->db, "DELETE FROM auth_guard WHERE key = ?");
    sqlite3_bind_text(st, 1, ipk, -1, SQLITE_STATIC);
    (void) db_step_done(st, NULL);
    g_free(ipk);
}
