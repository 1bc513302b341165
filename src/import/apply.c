/* apply.c - an import plan made real in one SQLite transaction: the list
 * row (unless --merge into an existing list), its settings, owners and
 * moderators, the members with their modes, and the posts (each read,
 * checked to be mail, written to spool/LIST/archive/N with its row by
 * lib/archive.c).  The archive files are made durable together before
 * the commit; any failure rolls the transaction back and removes every
 * file written (and the list's directories when the list was new), so a
 * failed import leaves nothing.  Nothing is mailed to anyone.
 *
 * A dry run reads and checks every post the same way and writes nothing.
 * Posts are read one at a time (memory stays flat), with a progress bar
 * on a terminal. */
#include "config.h"
#include "import/import.h"
#include "archive.h"
#include "db.h"
#include "lists.h"
#include "domains.h"
#include "log.h"
#include "message.h"
#include "settings.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* read_post - the bytes of one planned post; *where names it for errors. */
static GByteArray *
read_post(const ImportPlan *plan, const ImportPost *p, int *mbox_fd, char **where, GError **error)
{
    const ImportSource *s = g_ptr_array_index(plan->sources, p->src);
    if (!s->is_mbox) {
        char *path = g_strdup_printf("%s/%" G_GINT64_FORMAT, s->path, p->num);
        char *data;
        gsize len;
        *where = path;
        if (!g_file_get_contents(path, &data, &len, NULL)) {
            g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s: %s", path, g_strerror(errno));
            return NULL;
        }
        return g_byte_array_new_take((guint8 *) data, len);
    }
    *where = g_strdup_printf("%s:%" G_GINT64_FORMAT, s->label ? s->label : s->path, p->line);
    if (*mbox_fd < 0 && (*mbox_fd = open(s->path, O_RDONLY)) < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s: %s", s->path, g_strerror(errno));
        return NULL;
    }
    {
        guint8 *buf = g_malloc(p->len ? p->len : 1);
        gint64 got = 0;
        GByteArray *out;
        while (got < p->len) {
            ssize_t n = pread(*mbox_fd, buf + got, p->len - got, p->off + got);
            if (n <= 0) {
                g_set_error(error, KAIRAN_ERROR, EXIT_IOERR, "%s: %s", s->path, n < 0 ? g_strerror(errno) : "short read");
                g_free(buf);
                return NULL;
            }
            got += n;
        }
        out = mbox_unquote(buf, p->len);
        g_free(buf);
        return out;
    }
}

static void
progress(guint done, guint total, gboolean tty)
{
    int width = 30, fill;
    if (!tty || total < 100)
        return;
    if (done != total && done % 500 != 0)
        return;
    fill = (int) ((gint64) done * width / total);
    fprintf(stderr, "\rposts %u/%u [%.*s%*s] %3d%%", done, total, fill, "##############################",
            width - fill, "", (int) ((gint64) done * 100 / total));
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static char *
join_roles(const Instance *inst, const char *list, const char *key, GPtrArray *add, gboolean merge)
{
    GPtrArray *all = g_ptr_array_new_with_free_func(g_free);
    char **old = merge ? list_setting_addrs(inst, list, key) : NULL;
    GString *s = g_string_new(NULL);

    for (int i = 0; old && old[i]; i++)
        g_ptr_array_add(all, g_strdup(old[i]));
    for (guint i = 0; i < add->len; i++) {
        gboolean dup = FALSE;
        for (guint k = 0; k < all->len; k++)
            dup = dup || g_ascii_strcasecmp(g_ptr_array_index(all, k), g_ptr_array_index(add, i)) == 0;
        if (!dup)
            g_ptr_array_add(all, g_strdup(g_ptr_array_index(add, i)));
    }
    for (guint i = 0; i < all->len; i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "", (char *) g_ptr_array_index(all, i));
    g_strfreev(old);
    g_ptr_array_unref(all);
    return g_string_free(s, FALSE);
}

static gboolean
write_members(Instance *inst, ImportPlan *plan, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db,
        "INSERT INTO members(list, address, name, nomail, digest, post_only, moderated, since)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(list, address) DO UPDATE SET"
        " name = COALESCE(excluded.name, name), nomail = excluded.nomail, digest = excluded.digest,"
        " post_only = excluded.post_only, moderated = excluded.moderated");
    gboolean ok = TRUE;

    for (guint i = 0; ok && i < plan->members->len; i++) {
        ImportMember *m = g_ptr_array_index(plan->members, i);
        GError *e = NULL;
        if (list_address_refused(inst, m->address, &e)) {
            ok = import_bad(plan, error, "members", 0, "%s", e->message);
            g_error_free(e);
            continue;
        }
        if (list_is_banned(inst, plan->list, m->address)) {      /* banned here or by the imported setting */
            ok = import_bad(plan, error, "members", 0, "%s is banned from %s (setting banned)", m->address, plan->list);
            continue;
        }
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, plan->list, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, m->address, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, m->nomail);
        sqlite3_bind_int(st, 5, m->digest);
        sqlite3_bind_int(st, 6, m->post_only);
        sqlite3_bind_int(st, 7, m->moderated);
        sqlite3_bind_int64(st, 8, now_seconds());
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_set_error(inst->db, error, "members");
            ok = FALSE;
        }
    }
    sqlite3_finalize(st);
    return ok;
}

static void
remove_written(Instance *inst, const char *list, GArray *written, gboolean created)
{
    for (guint i = 0; i < written->len; i++)
        archive_unlink(inst, list, g_array_index(written, gint64, i));
    if (created) {
        for (const char **sub = (const char *[]) { "archive", "held", "", NULL }; *sub; sub++) {
            char *dir = instance_path(inst, "spool", list, *sub, NULL);
            rmdir(dir);
            g_free(dir);
        }
    }
}

gboolean
import_apply(Instance *inst, ImportPlan *plan, gboolean merge, gboolean dry_run, gint64 *imported, GError **error)
{
    const char *list = plan->list, *why;
    gboolean exists = list_exists(inst, list), created = FALSE, ok = FALSE, in_tx = FALSE;
    gboolean tty = isatty(STDERR_FILENO);
    gboolean keep;
    gint64 base, maxnum = 0, count = 0;
    GArray *written = g_array_new(FALSE, FALSE, sizeof(gint64));
    int mbox_fd = -1;

    *imported = 0;
    {                                    /* list is an id: NAME or NAME@DOMAIN (domains.h) */
        char *name = list_name(list);
        gboolean valid = list_name_valid(name, &why);
        g_free(name);
        if (!valid) {
            g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "%s: %s", list, why);
            goto out;
        }
    }
    if (g_str_equal(plan->format, "mbox") && !exists) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no list %s (import mbox adds to an existing list)", list);
        goto out;
    }
    if (exists && !merge && !g_str_equal(plan->format, "mbox")) {
        g_set_error(error, KAIRAN_ERROR, EXIT_USAGE, "list %s exists already (use --merge to add to it)", list);
        goto out;
    }
    base = exists ? list_last_number(inst, list) : 0;
    if (exists) {
        GPtrArray *newest = archive_list(inst, list, 0, 1, TRUE);
        if (newest->len)
            base = MAX(base, ((ArchivePost *) newest->pdata[0])->num);
        g_ptr_array_unref(newest);
    }
    keep = plan->keep_numbers && (!exists || archive_count(inst, list, NULL) == 0);
    if (plan->keep_numbers && !keep)
        import_note(plan, "the list has posts already: imported posts are numbered after %" G_GINT64_FORMAT, base);

    if (!dry_run) {
        if (!exists) {
            for (const char **sub = (const char *[]) { "archive", "held", NULL }; *sub; sub++) {
                char *dir = instance_path(inst, "spool", list, *sub, NULL);
                gboolean made = mkdir_p(dir, 0750, error);
                g_free(dir);
                if (!made)
                    goto out;
            }
            created = TRUE;
        }
        if (!db_begin_immediate(inst->db, error))
            goto fail;
        in_tx = TRUE;
        if (!exists) {
            sqlite3_stmt *st = db_prepare(inst->db, "INSERT INTO lists(name, created, seq) VALUES(?, ?, 0)");
            sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, now_seconds());
            if (!db_step_done(st, error))
                goto fail;
        }
        for (guint i = 0; i < plan->settings->len; i++) {
            ImportSetting *s = g_ptr_array_index(plan->settings, i);
            if (!list_setting_set(inst, list, s->key, s->value, error))
                goto fail;
        }
        for (int r = 0; r < 2; r++) {
            GPtrArray *a = r ? plan->moderators : plan->owners;
            char *v;
            gboolean set;
            if (!a->len)
                continue;
            v = join_roles(inst, list, r ? "moderators" : "owners", a, merge);
            set = list_setting_set(inst, list, r ? "moderators" : "owners", v, error);
            g_free(v);
            if (!set)
                goto fail;
        }
        if (!write_members(inst, plan, error))
            goto fail;
    }

    for (guint i = 0; i < plan->posts->len; i++) {
        ImportPost *p = &g_array_index(plan->posts, ImportPost, i);
        char *where = NULL;
        GByteArray *bytes = read_post(plan, p, &mbox_fd, &where, error);
        GMimeMessage *msg;
        gint64 num;
        gboolean good;

        if (!bytes) {
            g_free(where);
            goto fail;
        }
        msg = mbox_parse_post(bytes, &why);
        if (!msg) {
            /* a spool file is named by its path, an mbox post by file:line */
            const ImportSource *s = g_ptr_array_index(plan->sources, p->src);
            good = s->is_mbox ? import_bad(plan, error, s->label ? s->label : s->path, p->line, "%s", why)
                              : import_bad(plan, error, where, 0, "%s", why);
            g_byte_array_unref(bytes);
            g_free(where);
            if (!good)
                goto fail;
            progress(i + 1, plan->posts->len, tty);
            continue;
        }
        num = keep ? p->num : ++base;
        good = dry_run || archive_append(inst, list, num, msg, bytes->data, bytes->len, error);
        g_object_unref(msg);
        g_byte_array_unref(bytes);
        if (!good) {
            g_prefix_error(error, "%s: ", where);
            g_free(where);
            goto fail;
        }
        g_free(where);
        if (!dry_run)
            g_array_append_val(written, num);
        maxnum = MAX(maxnum, num);
        count++;
        progress(i + 1, plan->posts->len, tty);
    }

    if (!dry_run) {
        sqlite3_stmt *st = db_prepare(inst->db, "UPDATE lists SET seq = MAX(seq, ?2, ?3) WHERE name = ?1");
        sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, maxnum);
        sqlite3_bind_int64(st, 3, plan->seq);
        if (!db_step_done(st, error))
            goto fail;
        if (written->len && !archive_sync(inst, list, error))
            goto fail;
        if (!db_commit(inst->db, error))
            goto fail;
        in_tx = FALSE;
        log_info("%s: imported from %s %s: %u member(s), %" G_GINT64_FORMAT " post(s)", list, plan->format,
                 plan->source, plan->members->len, count);
    }
    *imported = count;
    ok = TRUE;
    goto out;
fail:
    if (in_tx)
        db_rollback(inst->db);
    if (!dry_run)
        remove_written(inst, list, written, created);
out:
    if (mbox_fd >= 0)
        close(mbox_fd);
    g_array_unref(written);
    return ok;
}
