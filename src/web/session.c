/* session.c - logging in and out of the web interface.
 *
 * Who may log in, with the password of what (the login form asks only
 * for an address and a password: the address decides which lists):
 *   admin  - the site admin: any address with the instance admin password
 *            (every list, creating and removing lists); its hash is the
 *            meta row web_admin_password_hash, set with
 *            `kairan web --set-admin-password` (password on stdin)
 *   owner  - an address in the owners setting of one or more lists with
 *            a list password (`kairan passwd LIST`): the session covers
 *            every list it owns whose password this is
 *   member - failing that, a member with its POP3 password: the session
 *            covers every list whose POP3 password this is; reads an
 *            archive whose archive_access is members, nothing else
 * The lists of a session are its row's list column, blank separated
 * (list names have no blanks).  An owner taken out of a list's owners
 * loses that list at once; with none left the session is gone.
 * A session is a row in the sessions table: a 256-bit id from
 * RAND_bytes (the cookie kairan_sid: HttpOnly, SameSite=Strict, Secure
 * over TLS), a CSRF token of its own, and an expiry (8 hours).  Login
 * always makes a new id, so an id planted before login is worthless
 * (session fixation), and logout deletes the row.
 * Guessing: every failed login is counted by the guard all logins share
 * (lib/authguard.c) for the client address (IPv6 by /64) and for the
 * address named; a login while the guard's delay (at most 15 s after the
 * last failure) is running is answered at once with 429 "try again in N
 * seconds" and its password is not checked (the web server must not
 * sleep: one thread may serve every client).  After the delay a right
 * password always works: there is no lockout.  Unknown addresses cost
 * the same PBKDF2 runs as known ones (password_verify_dummy). */
#include "config.h"
#include "webint.h"
#include "domains.h"
#include "address.h"
#include "auth_login.h"
#include "authguard.h"
#include "crypto.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "settings.h"
#include "util.h"

#include <string.h>
#include <openssl/rand.h>

char *
admin_password_hash(const Instance *inst)
{
    return db_meta_get(inst->db, "web_admin_password_hash");
}

void
session_free(WebSession *s)
{
    if (!s)
        return;
    g_free(s->id);
    g_free(s->list);
    g_strfreev(s->lists);
    g_free(s->address);
    g_free(s->role);
    g_free(s->csrf);
    g_free(s);
}

gboolean
session_has_list(const WebSession *s, const char *list)
{
    return s && s->lists && list && g_strv_contains((const char *const *) s->lists, list);
}

static char *
random_id(void)
{
    unsigned char raw[32];
    GString *s = g_string_sized_new(65);
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        log_fatal(EXIT_SOFTWARE, "RAND_bytes failed");
    for (size_t i = 0; i < sizeof(raw); i++)
        g_string_append_printf(s, "%02x", raw[i]);
    return g_string_free(s, FALSE);
}

void
session_load(WebCtx *c)
{
    const char *id = g_hash_table_lookup(c->req->cookies, SESSION_COOKIE);
    sqlite3_stmt *st;
    if (!id || strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64)
        return;
    st = db_prepare(c->inst->db, "SELECT list, address, role, csrf FROM sessions WHERE id = ? AND expires > ?");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_seconds());
    if (sqlite3_step(st) == SQLITE_ROW) {
        WebSession *s = g_new0(WebSession, 1);
        const char *lists = (const char *) sqlite3_column_text(st, 0);
        s->id = g_strdup(id);
        s->address = g_strdup((const char *) sqlite3_column_text(st, 1));
        s->role = g_strdup((const char *) sqlite3_column_text(st, 2));
        s->csrf = g_strdup((const char *) sqlite3_column_text(st, 3));
        if (lists && *lists) {
            char **all = g_strsplit(lists, " ", 0);
            GPtrArray *kept = g_ptr_array_new();
            for (int i = 0; all[i]; i++) {
                /* an owner removed from the owners setting loses the list */
                if (!*all[i] || (g_str_equal(s->role, "owner") && !list_is_owner(c->inst, all[i], s->address)))
                    continue;
                g_ptr_array_add(kept, g_strdup(all[i]));
            }
            g_ptr_array_add(kept, NULL);
            s->lists = (char **) g_ptr_array_free(kept, FALSE);
            g_strfreev(all);
            if (s->lists[0])
                s->list = g_strdup(s->lists[0]);
        }
        if (!g_str_equal(s->role, "admin") && !s->list)
            session_free(s);
        else
            c->sess = s;
    }
    sqlite3_finalize(st);
}

/* login_form - the form: address and password; list is only a hint of
 * where a member goes after logging in (the login page linked from a
 * list's pages), never a choice the user has to make. */
static void
login_form(WebCtx *c, int status, const char *error, const char *address, const char *list)
{
    TData *d = tdata_new();
    tdata_set(d, "csrf", csrf_token(c));
    tdata_set(d, "error", error);
    tdata_set(d, "address", address);
    if (list && str_is_safe_name(list, FALSE))
        tdata_set(d, "list", list);
    page_render(c, status, "login", d, T(c, "Log in"));
}

/* check_login - the role the address and password give, with the lists
 * it covers added to lists (none for the admin), or NULL.  The admin
 * password is checked first; then the password of each list the address
 * owns; only when none matches, the POP3 password of each list the
 * address is a member of.  With no password to check at all, the time
 * of one check is spent anyway. */
static const char *
check_login(WebCtx *c, const char *addr, const char *password, GPtrArray *lists)
{
    char *hash = admin_password_hash(c->inst);
    char **names;
    gboolean checked = FALSE;

    if (hash && password_verify(password, hash)) {
        g_free(hash);
        return "admin";
    }
    if (!hash)
        password_verify_dummy(password);
    g_free(hash);
    names = list_names(c->inst);
    for (int i = 0; names[i]; i++) {
        if (!list_is_owner(c->inst, names[i], addr))
            continue;
        hash = list_password_hash(c->inst, names[i]);
        if (hash && *hash) {
            checked = TRUE;
            if (password_verify(password, hash))
                g_ptr_array_add(lists, g_strdup(names[i]));
        }
        g_free(hash);
    }
    if (lists->len == 0) {
        for (int i = 0; names[i]; i++) {
            gboolean is_member = FALSE;
            hash = auth_login_member_hash(c->inst, names[i], addr, &is_member);   /* lib: the one reader */
            if (hash) {
                checked = TRUE;
                if (password_verify(password, hash))
                    g_ptr_array_add(lists, g_strdup(names[i]));
            }
            g_free(hash);
        }
        if (lists->len > 0) {
            g_strfreev(names);
            return "member";
        }
    }
    g_strfreev(names);
    if (!checked)
        password_verify_dummy(password);
    return lists->len > 0 ? "owner" : NULL;
}

void
page_login(WebCtx *c)
{
    const char *list, *password, *why = NULL;
    char *addr, *id, *csrf, *list_id = NULL;
    const char *role, *ip;
    gint64 wait;
    sqlite3_stmt *st;
    GPtrArray *lists = g_ptr_array_new_with_free_func(g_free);
    char *joined = NULL;

    if (!g_str_equal(c->req->method, "POST")) {
        login_form(c, 200, NULL, NULL, param(c, "list"));
        return;
    }
    if (!csrf_check(c)) {
        web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
        return;
    }
    list = form(c, "list");
    if (list && *list && (list_id = list_resolve(c->inst, list, NULL)))
        list = list_id;                  /* NAME@DOMAIN -> the list's id */
    password = form(c, "password");
    addr = address_normalize(form(c, "address") ? form(c, "address") : "", &why);
    if (!addr || !password || !*password) {
        login_form(c, 400, T(c, "Enter your address and password."), form(c, "address"), list);
        goto out;
    }
    ip = c->req->remote_addr;
    wait = authguard_delay(c->inst, "web", ip, addr);
    if (wait > 0) {
        char *msg = g_strdup_printf("%s (%" G_GINT64_FORMAT " s)",
                                    T(c, "Too many failed logins. Try again in a few seconds."),
                                    (wait + 999) / 1000);
        log_warn("web: login of <%s> from %s not checked: the guard asks to wait %" G_GINT64_FORMAT " ms",
                 addr, ip ? ip : "-", wait);
        login_form(c, 429, msg, addr, list);
        g_free(msg);
        goto out;
    }
    role = check_login(c, addr, password, lists);
    if (!role) {
        authguard_failed(c->inst, "web", ip, addr);
        log_warn("web: failed login of <%s> from %s", addr, ip ? ip : "-");
        login_form(c, 403, T(c, "The address or password is wrong."), addr, list);
        goto out;
    }
    authguard_succeeded(c->inst, "web", ip, addr);
    /* a new id every time: an id known before login is never promoted */
    {
        const char *old = g_hash_table_lookup(c->req->cookies, SESSION_COOKIE);
        st = db_prepare(c->inst->db, "DELETE FROM sessions WHERE id = ? OR expires <= ?");
        sqlite3_bind_text(st, 1, old ? old : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now_seconds());
        db_step_done(st, NULL);
    }
    id = random_id();
    csrf = random_id();
    st = db_prepare(c->inst->db, "INSERT INTO sessions(id, list, address, csrf, expires, role) VALUES(?, ?, ?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    g_ptr_array_add(lists, NULL);
    joined = g_strjoinv(" ", (char **) lists->pdata);
    g_ptr_array_remove_index(lists, lists->len - 1);
    if (g_str_equal(role, "admin"))
        sqlite3_bind_null(st, 2);
    else
        sqlite3_bind_text(st, 2, joined, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, addr, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_seconds() + SESSION_LIFETIME);
    sqlite3_bind_text(st, 6, role, -1, SQLITE_STATIC);
    if (!db_step_done(st, NULL)) {
        web_fail(c, 503, NULL);
    } else {
        log_info("web: <%s> logged in as %s%s%s", addr, role, g_str_equal(role, "admin") ? "" : " of ",
                 g_str_equal(role, "admin") ? "" : joined);
        set_cookie(c, SESSION_COOKIE, id, SESSION_LIFETIME);
        if (g_str_equal(role, "member")) {
            /* the list the login page was opened for, else the first */
            const char *to_list = lists->pdata[0];
            for (guint i = 0; list && i < lists->len; i++)
                if (g_str_equal(list, lists->pdata[i]))
                    to_list = list;
            char *to = g_strdup_printf("/list/%s/archive", to_list);
            web_redirect(c, to);
            g_free(to);
        } else {
            web_redirect(c, "/admin");
        }
    }
    g_free(id);
    g_free(csrf);
out:
    g_ptr_array_unref(lists);
    g_free(joined);
    g_free(addr);
    g_free(list_id);
}

void
page_logout(WebCtx *c)
{
    if (c->sess) {
        sqlite3_stmt *st;
        if (!csrf_check(c)) {
            web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
            return;
        }
        st = db_prepare(c->inst->db, "DELETE FROM sessions WHERE id = ?");
        sqlite3_bind_text(st, 1, c->sess->id, -1, SQLITE_STATIC);
        db_step_done(st, NULL);
        log_info("web: <%s> logged out", c->sess->address);
    }
    set_cookie(c, SESSION_COOKIE, "", 0);
    web_redirect(c, "/login");
}
