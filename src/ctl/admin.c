/* admin.c - password-checked admin commands in command mail.
 *
 * `admin pass PASSWORD` (or fml's one-line `approve PASSWORD COMMAND`)
 * authenticates the rest of the mail when the sender is a list owner and
 * the password matches the list's stored hash (password_verify compares
 * in constant time).  Only the first password of a mail is checked.
 * Guessing: a wrong password (from an owner address) is counted by the
 * guessing guard of every login (lib/authguard.c) for the account LIST,
 * the list password, which SMTP AUTH as LIST shares; before a password is
 * checked this run waits the guard's delay (at most 15 s after the last
 * failure; mail has no connection to hold, so the deliver run itself
 * waits).  Nothing is ever locked: a From: forged with wrong passwords
 * only slows down the next checks, the owner's right password still
 * works.  At the FAIL_NOTICE-th recent failure (none of them
 * auth_guard_forget apart) the owners are told.
 * The reply says only "authentication failed"; the password never
 * reaches the log or the reply (ctl_mask_command).
 *
 * Then: admin add ADDR [NAME], bye ADDR, chaddr OLD NEW, members, held,
 * approve ID, reject ID [REASON], config [KEY [VALUE]], passwd NEW. */
#include "config.h"
#include "ctl.h"
#include "address.h"
#include "authguard.h"
#include "crypto.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "subscription.h"
#include "template.h"
#include "util.h"

#include <string.h>
#include <time.h>

#define FAIL_NOTICE 5

/* notify_owners_guessing - somebody keeps sending wrong passwords. */
static void
notify_owners_guessing(Instance *inst, const char *list, const char *sender, gint64 failures)
{
    char **owners = list_setting_addrs(inst, list, "owners");
    char *n = g_strdup_printf("%" G_GINT64_FORMAT, failures);

    for (int i = 0; owners[i]; i++) {
        GHashTable *vars = template_vars_new();
        GError *e = NULL;
        template_var(vars, "sender", sender);
        template_var(vars, "failures", n);
        if (!notify_send(inst, list, "admin_guessing", vars, owners[i], NULL, NULL, &e)) {
            log_warn("%s: cannot tell owner %s about the failed passwords: %s", list, owners[i], e->message);
            g_error_free(e);
        }
        g_hash_table_unref(vars);
    }
    g_free(n);
    g_strfreev(owners);
}

static gboolean
authenticate(CtlSession *s, const char *password)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    char *hash;
    gboolean ok;

    if (s->admin_failed) {
        /* one guess per mail: later `admin pass` lines are not checked */
        ctl_reply_say(s->reply, "auth_failed", NULL);
        return FALSE;
    }
    if (!s->is_owner) {
        log_warn("%s: admin authentication refused for <%s>: not an owner", list, s->sender);
        ctl_reply_say(s->reply, "auth_failed", NULL);
        s->admin_failed = TRUE;
        return FALSE;
    }
    (void) authguard_wait(inst, "mail", NULL, list);
    hash = list_password_hash(inst, list);
    ok = FALSE;
    if (hash && *hash && password)
        ok = password_verify(password, hash);
    else
        password_verify_dummy(password);
    g_free(hash);
    if (!ok) {
        gint64 n = authguard_failed(inst, "mail", NULL, list);
        log_warn("%s: admin authentication failed for <%s> (%" G_GINT64_FORMAT " recent failures)",
                 list, s->sender, n);
        if (n == FAIL_NOTICE)
            notify_owners_guessing(inst, list, s->sender, n);
        ctl_reply_say(s->reply, "auth_failed", NULL);
        s->admin_failed = TRUE;
        return FALSE;
    }
    authguard_succeeded(inst, "mail", NULL, list);
    log_info("%s: <%s> authenticated for mail administration", list, s->sender);
    s->admin_ok = TRUE;
    s->admin_failed = FALSE;
    return TRUE;
}

static void
say_error(CtlSession *s, GError *error)
{
    ctl_reply_say(s->reply, "error", "reason", error ? error->message : "", NULL);
}

static void
admin_members(CtlSession *s)
{
    GPtrArray *m = member_list(s->in->inst, s->in->list);
    GString *out = g_string_new(NULL);
    char *count = g_strdup_printf("%u", m->len);

    for (guint i = 0; i < m->len; i++) {
        Member *x = m->pdata[i];
        g_string_append_printf(out, "  %s%s%s%s%s", x->address, x->digest ? " digest" : "",
                               x->nomail ? " nomail" : "", x->post_only ? " post-only" : "",
                               x->disabled_reason ? " disabled:" : "");
        if (x->disabled_reason)
            g_string_append(out, x->disabled_reason);
        if (x->bounce_score > 0)
            g_string_append_printf(out, " bounces=%.1f", x->bounce_score);
        g_string_append_c(out, '\n');
    }
    ctl_reply_say(s->reply, "members_count", "count", count, NULL);
    ctl_reply_raw(s->reply, out->str);
    g_free(count);
    g_string_free(out, TRUE);
    g_ptr_array_unref(m);
}

static void
admin_held(CtlSession *s)
{
    sqlite3_stmt *st = db_prepare(s->in->inst->db, "SELECT id, created, sender, subject, reason, size FROM held"
                                                   " WHERE list = ? ORDER BY created, id");
    GString *out = g_string_new(NULL);
    int n = 0;

    sqlite3_bind_text(st, 1, s->in->list, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char when[32];
        time_t t = (time_t) sqlite3_column_int64(st, 1);
        struct tm tm;
        const char *subj = (const char *) sqlite3_column_text(st, 3);
        char *dec = subj ? g_mime_utils_header_decode_text(NULL, subj) : g_strdup("");
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        g_strdelimit(dec, "\r\n\t", ' ');
        g_string_append_printf(out, "  %s  %s  %s  %lld  %s\n      %s\n", sqlite3_column_text(st, 0), when,
                               sqlite3_column_text(st, 2), (long long) sqlite3_column_int64(st, 5), dec,
                               sqlite3_column_text(st, 4));
        g_free(dec);
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0)
        ctl_reply_say(s->reply, "held_none", NULL);
    else
        ctl_reply_raw(s->reply, out->str);
    g_string_free(out, TRUE);
}

static void
admin_config(CtlSession *s, char **argv, int argc)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    GError *error = NULL;

    if (argc == 1) {
        size_t n;
        const SettingDef *t = settings_table(&n);
        GString *out = g_string_new(NULL);
        for (size_t i = 0; i < n; i++) {
            char *v = list_setting(inst, list, t[i].key);
            g_string_append_printf(out, "  %s = %s\n", t[i].key, v);
            g_free(v);
        }
        ctl_reply_raw(s->reply, out->str);
        g_string_free(out, TRUE);
    } else if (!setting_find(argv[1])) {
        char *why = NULL, *v = setting_validate(argv[1], "", &why);
        ctl_reply_say(s->reply, "error", "reason", why, NULL);
        g_free(why);
        g_free(v);
    } else if (argc == 2) {
        char *v = list_setting(inst, list, argv[1]);
        ctl_reply_say(s->reply, "config_value", "key", argv[1], "value", v, NULL);
        g_free(v);
    } else {
        char *value = g_strjoinv(" ", argv + 2);
        if (!list_setting_set(inst, list, argv[1], value, &error)) {
            say_error(s, error);
            g_clear_error(&error);
        } else {
            char *v = list_setting(inst, list, argv[1]);
            log_info("%s: setting %s changed by <%s> (command mail)", list, argv[1], s->sender);
            ctl_reply_say(s->reply, "config_set", "key", argv[1], "value", v, NULL);
            g_free(v);
        }
        g_free(value);
    }
}

/* admin_run - one admin subcommand (argv[0] is its name) after auth. */
static void
admin_run(CtlSession *s, char **argv, int argc)
{
    Instance *inst = s->in->inst;
    const char *list = s->in->list;
    char *c = g_ascii_strdown(argv[0], -1);
    GError *error = NULL;

    if (g_str_equal(c, "add") && argc >= 2) {
        char *addr = address_normalize(argv[1], NULL);
        char *name = argc > 2 ? g_strjoinv(" ", argv + 2) : NULL;
        gboolean existed = FALSE;
        if (!addr)
            ctl_reply_say(s->reply, "bad_address", "address", argv[1], NULL);
        else if (list_address_refused(inst, addr, NULL))
            ctl_reply_say(s->reply, "list_address", "address", addr, NULL);
        else if (!member_add(inst, list, addr, name, FALSE, &existed, &error))
            say_error(s, error);
        else if (existed)
            ctl_reply_say(s->reply, "already_member", "address", addr, NULL);
        else {
            log_info("%s: <%s> added by <%s> (command mail)", list, addr, s->sender);
            if (!subscription_welcome(inst, list, addr, NULL))
                log_warn("%s: welcome mail to <%s> not queued", list, addr);
            ctl_reply_say(s->reply, "subscribed", "address", addr, NULL);
        }
        g_free(addr);
        g_free(name);
    } else if ((g_str_equal(c, "bye") || g_str_equal(c, "unsubscribe") || g_str_equal(c, "remove")) && argc == 2) {
        char *addr = address_normalize(argv[1], NULL);
        if (!addr)
            ctl_reply_say(s->reply, "bad_address", "address", argv[1], NULL);
        else if (!member_remove(inst, list, addr, &error)) {
            if (error->code == EXIT_NOUSER)
                ctl_reply_say(s->reply, "not_member_addr", "address", addr, NULL);
            else
                say_error(s, error);
        } else {
            log_info("%s: <%s> removed by <%s> (command mail)", list, addr, s->sender);
            if (!subscription_goodbye(inst, list, addr, NULL))
                log_warn("%s: goodbye mail to <%s> not queued", list, addr);
            ctl_reply_say(s->reply, "unsubscribed", "address", addr, NULL);
        }
        g_free(addr);
    } else if (g_str_equal(c, "chaddr") && argc == 3) {
        char *o = address_normalize(argv[1], NULL), *n = address_normalize(argv[2], NULL);
        if (!o || !n)
            ctl_reply_say(s->reply, "bad_address", "address", !o ? argv[1] : argv[2], NULL);
        else if (!ctl_chaddr_apply(inst, list, o, n, &error))
            say_error(s, error);
        else
            ctl_reply_say(s->reply, "chaddr_done", "old", o, "new", n, NULL);
        g_free(o);
        g_free(n);
    } else if ((g_str_equal(c, "moderate") || g_str_equal(c, "unmoderate")) && argc == 2) {
        gboolean on = g_str_equal(c, "moderate");
        char *addr = address_normalize(argv[1], NULL);
        if (!addr)
            ctl_reply_say(s->reply, "bad_address", "address", argv[1], NULL);
        else if (!member_set_flag(inst, list, addr, "moderated", on, &error)) {
            if (error->code == EXIT_NOUSER)
                ctl_reply_say(s->reply, "not_member_addr", "address", addr, NULL);
            else
                say_error(s, error);
        } else {
            log_info("%s: <%s> %s by <%s> (command mail)", list, addr, on ? "moderated" : "unmoderated", s->sender);
            ctl_reply_say(s->reply, on ? "moderated_on" : "moderated_off", "address", addr, NULL);
        }
        g_free(addr);
    } else if (g_str_equal(c, "members") && argc == 1) {
        admin_members(s);
    } else if (g_str_equal(c, "held") && argc == 1) {
        admin_held(s);
    } else if (g_str_equal(c, "approve") && argc == 2) {
        gint64 num = 0;
        if (!held_approve(inst, list, argv[1], &num, &error))
            say_error(s, error);
        else {
            char *n = g_strdup_printf("%" G_GINT64_FORMAT, num);
            ctl_reply_say(s->reply, "held_approved", "id", argv[1], "num", n, NULL);
            g_free(n);
        }
    } else if (g_str_equal(c, "reject") && argc >= 2) {
        char *reason = argc > 2 ? g_strjoinv(" ", argv + 2) : NULL;
        if (!held_reject(inst, list, argv[1], reason, TRUE, &error))
            say_error(s, error);
        else
            ctl_reply_say(s->reply, "held_rejected", "id", argv[1], NULL);
        g_free(reason);
    } else if (g_str_equal(c, "config")) {
        admin_config(s, argv, argc);
    } else if ((g_str_equal(c, "passwd") || g_str_equal(c, "password")) && argc == 2) {
        char *hash;
        if (g_utf8_strlen(argv[1], -1) < 8) {
            ctl_reply_say(s->reply, "admin_password_short", NULL);
        } else {
            hash = password_hash(argv[1]);
            if (!list_set_password_hash(inst, list, hash, &error))
                say_error(s, error);
            else {
                log_info("%s: owner password changed by <%s> (command mail)", list, s->sender);
                ctl_reply_say(s->reply, "admin_password_set", NULL);
            }
            g_free(hash);
        }
    } else {
        ctl_reply_say(s->reply, "admin_usage", NULL);
    }
    g_clear_error(&error);
    g_free(c);
}

void
ctl_admin_command(CtlSession *s, char **argv, int argc)
{
    if (g_str_equal(argv[0], "approve")) {
        /* fml: approve PASSWORD COMMAND [ARGS] (COMMAND may start with "admin") */
        int skip = 2;
        if (argc < 3) {
            ctl_reply_say(s->reply, "usage", "usage", "approve PASSWORD COMMAND", NULL);
            return;
        }
        if (!s->admin_ok && !authenticate(s, argv[1]))
            return;
        if (argc > 3 && g_ascii_strcasecmp(argv[2], "admin") == 0)
            skip = 3;
        admin_run(s, argv + skip, argc - skip);
        return;
    }
    if (argc < 2) {
        ctl_reply_say(s->reply, "admin_usage", NULL);
        return;
    }
    if (g_ascii_strcasecmp(argv[1], "pass") == 0 || g_ascii_strcasecmp(argv[1], "password") == 0) {
        if (argc != 3) {
            ctl_reply_say(s->reply, "usage", "usage", "admin pass PASSWORD", NULL);
            return;
        }
        if (authenticate(s, argv[2]))
            ctl_reply_say(s->reply, "auth_ok", NULL);
        return;
    }
    if (!s->admin_ok) {
        ctl_reply_say(s->reply, s->admin_failed ? "auth_failed" : "admin_need_pass", NULL);
        return;
    }
    admin_run(s, argv + 1, argc - 1);
}
