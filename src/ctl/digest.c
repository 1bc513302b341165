/* digest.c - archive posts bundled into one mail: the digests members in
 * digest mode get (`kairan digest [LIST]`) and the replies to `mget`.
 *
 * Two formats: "mime" (multipart/mixed: a text/plain table of contents,
 * then a multipart/digest with one message/rfc822 part per post, as
 * distributed) and "plain" (RFC 1153: one text/plain body, each post's
 * Date/From/Subject and text between separator lines).  A bundle larger
 * than mget_max_size bytes is split into several mails.
 *
 * A digest is due when the undigested posts reach digest_size bytes or
 * when digest_interval has passed since the last digest (the clock
 * starts at the first run that finds undigested posts).  The digest is
 * queued for every member with digest on (and mail on), then the posts
 * are marked digested; a crash between the two sends the digest twice
 * rather than never.  meta keys: digest_last:LIST, digest_volume:LIST. */
#include "config.h"
#include "ctl.h"
#include "domains.h"
#include "cli/cli.h"
#include "db.h"
#include "lists.h"
#include "maintain.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "template.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_num(const void *a, const void *b)
{
    gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
    return x < y ? -1 : x > y;
}

static gboolean
parse_num(const char *s, gint64 *out)
{
    char *end;
    if (!*s || !g_ascii_isdigit(*s))
        return FALSE;
    *out = g_ascii_strtoll(s, &end, 10);
    return *end == '\0' && *out > 0;
}

GArray *
digest_parse_range(const char *range, gint64 last, guint max, const char **why)
{
    GArray *nums = g_array_new(FALSE, FALSE, sizeof(gint64));
    char **parts = g_strsplit(range, ",", 0);

    *why = NULL;
    for (int i = 0; parts[i] && !*why; i++) {
        char *p = g_strstrip(parts[i]);
        gint64 a, b;
        char *dash = strchr(p, '-');
        if (g_ascii_strncasecmp(p, "last:", 5) == 0) {
            if (!parse_num(p + 5, &a))
                *why = "bad number after last:";
            else {
                b = last;
                a = last - a + 1;
                if (a < 1)
                    a = 1;
            }
        } else if (dash) {
            *dash = '\0';
            if (!parse_num(p, &a) || !parse_num(dash + 1, &b) || b < a)
                *why = "a range is FIRST-LAST with FIRST <= LAST";
        } else if (!parse_num(p, &a)) {
            *why = "not a number or range";
        } else {
            b = a;
        }
        if (*why)
            break;
        if (b > last)
            b = last;
        for (gint64 n = a; n <= b; n++) {
            if (nums->len >= max) {
                *why = "too many posts requested at once";
                break;
            }
            g_array_append_val(nums, n);
        }
    }
    g_strfreev(parts);
    if (*why) {
        g_array_unref(nums);
        return NULL;
    }
    if (nums->len > 1)   /* an empty GArray has no data: qsort(NULL) is UB */
        qsort(nums->data, nums->len, sizeof(gint64), cmp_num);
    for (guint i = 1; i < nums->len;) {       /* unique */
        if (g_array_index(nums, gint64, i) == g_array_index(nums, gint64, i - 1))
            g_array_remove_index(nums, i);
        else
            i++;
    }
    return nums;
}

typedef struct {
    gint64 num;
    GMimeMessage *msg;
    gsize size;
} Post;

static void
post_free(Post *p)
{
    if (p->msg)
        g_object_unref(p->msg);
    g_free(p);
}

static Post *
post_load(Instance *inst, const char *list, gint64 num)
{
    gsize len = 0;
    GMimeMessage *msg = archive_parse(inst, list, num, &len);
    Post *p = NULL;

    if (msg) {
        p = g_new0(Post, 1);
        p->num = num;
        p->msg = msg;
        p->size = len;
    }
    return p;
}

static const char *
header_or(GMimeMessage *msg, const char *name, const char *dflt)
{
    const char *v = g_mime_object_get_header(GMIME_OBJECT(msg), name);
    return v ? v : dflt;
}

/* decoded - a header value decoded from RFC 2047 to UTF-8 (one line). */
static char *
decoded(GMimeMessage *msg, const char *name)
{
    const char *v = message_header_raw(msg, name);
    char *s = v ? message_header_decode(v) : g_strdup("");   /* Japanese without loss */
    g_strdelimit(s, "\r\n\t", ' ');
    return s;
}

static GMimeMessage *
build_one(Instance *inst, const char *list, GPtrArray *posts, gboolean plain,
          const char *subject, const char *to)
{
    GString *toc = g_string_new(NULL), *content = g_string_new(NULL);
    GHashTable *vars = template_vars_new();
    GMimeMessage *msg;
    char *from = list_address(inst, list, "-ctl");

    for (guint i = 0; i < posts->len; i++) {
        Post *p = posts->pdata[i];
        char *subj = decoded(p->msg, "Subject"), *frm = decoded(p->msg, "From");
        g_string_append_printf(toc, "  %5" G_GINT64_FORMAT ". %s (%s)\n", p->num, subj, frm);
        if (plain) {
            char *text = ctl_message_text(p->msg);
            g_string_append_printf(content, "%s\nDate: %s\nFrom: %s\nSubject: %s\n\n%s",
                                   i == 0 ? "----------------------------------------------------------------------\n"
                                          : "------------------------------\n",
                                   header_or(p->msg, "Date", ""), frm, subj,
                                   text ? text : "[no text part]\n");
            if (content->len && content->str[content->len - 1] != '\n')
                g_string_append_c(content, '\n');
            g_free(text);
        }
        g_free(subj);
        g_free(frm);
    }
    if (plain) {
        char *end = g_strdup_printf("------------------------------\n\nEnd of %s\n", subject);
        g_string_append(content, end);
        g_string_append(content, "************************************************************\n");
        g_free(end);
    }
    template_var(vars, "subject", subject);
    template_var(vars, "toc", toc->str);
    template_var(vars, "content", content->str);
    template_var(vars, "count", NULL);
    {
        char *n = g_strdup_printf("%u", posts->len);
        template_var(vars, "count", n);
        g_free(n);
    }
    msg = notify_build(inst, list, "digest", vars, from, to, NULL, NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted", "auto-generated", NULL);
    if (!plain) {
        GMimeObject *text = g_object_ref(g_mime_message_get_mime_part(msg));
        GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
        GMimeMultipart *dig = g_mime_multipart_new_with_subtype("digest");
        g_mime_multipart_add(mixed, text);
        for (guint i = 0; i < posts->len; i++) {
            Post *p = posts->pdata[i];
            GMimeMessagePart *mp = g_mime_message_part_new_with_message("rfc822", p->msg);
            g_mime_multipart_add(dig, GMIME_OBJECT(mp));
            g_object_unref(mp);
        }
        g_mime_multipart_add(mixed, GMIME_OBJECT(dig));
        g_mime_message_set_mime_part(msg, GMIME_OBJECT(mixed));
        g_object_unref(dig);
        g_object_unref(mixed);
        g_object_unref(text);
    }
    g_hash_table_unref(vars);
    g_string_free(toc, TRUE);
    g_string_free(content, TRUE);
    g_free(from);
    return msg;
}

char *
digest_format_nums(const gint64 *nums, guint n)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < n;) {
        guint j = i;
        while (j + 1 < n && nums[j + 1] == nums[j] + 1)
            j++;
        if (s->len)
            g_string_append_c(s, ',');
        if (j == i)
            g_string_append_printf(s, "%" G_GINT64_FORMAT, nums[i]);
        else
            g_string_append_printf(s, "%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT, nums[i], nums[j]);
        i = j + 1;
    }
    return g_string_free(s, FALSE);
}

GPtrArray *
digest_build_chunks(Instance *inst, const char *list, GArray *nums, gboolean plain,
                    const char *subject, const char *to, gsize limit)
{
    return digest_build_chunks_nums(inst, list, nums, plain, subject, to, limit, NULL);
}

GPtrArray *
digest_build_chunks_nums(Instance *inst, const char *list, GArray *nums, gboolean plain,
                         const char *subject, const char *to, gsize limit, GPtrArray *chunk_nums)
{
    GPtrArray *chunks = g_ptr_array_new_with_free_func((GDestroyNotify) g_ptr_array_unref);
    GPtrArray *cur = NULL, *out;
    gsize cur_size = 0;

    for (guint i = 0; i < nums->len; i++) {
        Post *p = post_load(inst, list, g_array_index(nums, gint64, i));
        if (!p)
            continue;
        if (!cur || (limit && cur->len && cur_size + p->size > limit)) {
            cur = g_ptr_array_new_with_free_func((GDestroyNotify) post_free);
            g_ptr_array_add(chunks, cur);
            cur_size = 0;
        }
        g_ptr_array_add(cur, p);
        cur_size += p->size;
    }
    out = g_ptr_array_new_with_free_func(g_object_unref);
    for (guint i = 0; i < chunks->len; i++) {
        char *subj = chunks->len > 1 ? g_strdup_printf("%s (%u/%u)", subject, i + 1, chunks->len)
                                     : g_strdup(subject);
        GPtrArray *posts = chunks->pdata[i];
        g_ptr_array_add(out, build_one(inst, list, posts, plain, subj, to));
        g_free(subj);
        if (chunk_nums) {
            GArray *a = g_array_sized_new(FALSE, FALSE, sizeof(gint64), posts->len);
            for (guint k = 0; k < posts->len; k++)
                g_array_append_val(a, ((Post *) posts->pdata[k])->num);
            g_ptr_array_add(chunk_nums, a);
        }
    }
    g_ptr_array_unref(chunks);
    return out;
}

/* ---- kairan digest ---------------------------------------------------- */

static GPtrArray *
digest_recipients(Instance *inst, const char *list)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT address FROM members WHERE list = ?"
                                            " AND digest = 1 AND nomail = 0 AND post_only = 0"
                                            " AND vacation_until <= ?");   /* vacation: memberopts.c */
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_seconds());
    while (sqlite3_step(st) == SQLITE_ROW)
        g_ptr_array_add(a, g_strdup((const char *) sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    return a;
}

static gint64
meta_int(Instance *inst, const char *key, const char *list)
{
    char *k = g_strdup_printf("%s:%s", key, list);
    char *v = db_meta_get(inst->db, k);
    gint64 n = v ? g_ascii_strtoll(v, NULL, 10) : -1;
    g_free(v);
    g_free(k);
    return n;
}

static gboolean
meta_int_set(Instance *inst, const char *key, const char *list, gint64 value, GError **error)
{
    char *k = g_strdup_printf("%s:%s", key, list);
    char *v = g_strdup_printf("%" G_GINT64_FORMAT, value);
    gboolean ok = db_meta_set(inst->db, k, v, error);
    g_free(k);
    g_free(v);
    return ok;
}

/* digest_list_headers - List-Id, X-BeenThere, List-Post, List-Help, List-Unsubscribe
 * of a digest mail (RFC 2369/2919), as members see on single posts. */
static void
digest_list_headers(Instance *inst, const char *list, GMimeMessage *msg)
{
    GMimeObject *o = GMIME_OBJECT(msg);
    char *addr = list_address(inst, list, NULL), *ctl = list_address(inst, list, "-ctl");
    char *id_token = list_id_header(inst, list);
    char *id = g_strdup_printf("<%s>", id_token);
    char *post = g_strdup_printf("<mailto:%s>", addr);
    char *help = g_strdup_printf("<mailto:%s?subject=help>", ctl);
    char *unsub = g_strdup_printf("<mailto:%s?subject=unsubscribe>", ctl);

    g_mime_object_set_header(o, "List-Id", id, NULL);
    g_mime_object_set_header(o, "X-BeenThere", addr, NULL);   /* a digest to a list comes back dropped */
    g_mime_object_set_header(o, "List-Post", post, NULL);
    g_mime_object_set_header(o, "List-Help", help, NULL);
    g_mime_object_set_header(o, "List-Unsubscribe", unsub, NULL);
    g_free(addr);
    g_free(ctl);
    g_free(id);
    g_free(id_token);
    g_free(post);
    g_free(help);
    g_free(unsub);
}

/* digest_list - send the digest of one list if due; -1 error, else the
 * number of digest mails queued. */
static int
digest_list(Instance *inst, const char *list, gboolean force, gboolean dry_run, GString *report, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db, "SELECT num, size FROM archive WHERE list = ?"
                                            " AND digested = 0 ORDER BY num");
    GArray *nums = g_array_new(FALSE, FALSE, sizeof(gint64));
    gint64 total = 0, now = now_seconds(), last, size_limit, interval, volume;
    GPtrArray *rcpts = NULL, *mails = NULL;
    int sent = 0;

    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        gint64 n = sqlite3_column_int64(st, 0);
        g_array_append_val(nums, n);
        total += sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (nums->len == 0)
        goto out;
    last = meta_int(inst, "digest_last", list);
    if (last < 0) {
        last = now;
        if (!dry_run && !meta_int_set(inst, "digest_last", list, now, error)) {
            sent = -1;
            goto out;
        }
    }
    size_limit = list_setting_int(inst, list, "digest_size");
    interval = list_setting_int(inst, list, "digest_interval");
    if (!force && !(size_limit > 0 && total >= size_limit) && !(interval > 0 && now - last >= interval))
        goto out;

    rcpts = digest_recipients(inst, list);
    if (dry_run) {
        g_string_append_printf(report, "%s: would send a digest of %u post(s) to %u member(s)\n", list,
                               nums->len, rcpts->len);
        goto out;
    }
    volume = meta_int(inst, "digest_volume", list);
    volume = volume < 0 ? 1 : volume + 1;
    if (rcpts->len == 0)
        volume--;                   /* nobody reads digests: no issue number used */
    if (rcpts->len > 0) {
        char *subject = g_strdup_printf("%s digest, issue %" G_GINT64_FORMAT, list, volume);
        char *to = list_address(inst, list, NULL);
        gboolean plain = list_setting_is(inst, list, "digest_format", "plain");
        mails = digest_build_chunks(inst, list, nums, plain, subject, to,
                                    (gsize) list_setting_int(inst, list, "mget_max_size"));
        for (guint i = 0; i < mails->len; i++)
            digest_list_headers(inst, list, mails->pdata[i]);
        for (guint i = 0; i < mails->len; i++) {
            if (!notify_queue(inst, list, mails->pdata[i], (const char *const *) rcpts->pdata,
                              rcpts->len, error)) {
                sent = -1;
                break;
            }
            sent++;
        }
        g_free(subject);
        g_free(to);
        if (sent < 0)
            goto out;
    }
    if (!db_begin_immediate(inst->db, error)) {
        sent = -1;
        goto out;
    }
    for (guint i = 0; i < nums->len; i++) {
        st = db_prepare(inst->db, "UPDATE archive SET digested = 1 WHERE list = ? AND num = ?");
        sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, g_array_index(nums, gint64, i));
        if (!db_step_done(st, error)) {
            db_rollback(inst->db);
            sent = -1;
            goto out;
        }
    }
    if (!meta_int_set(inst, "digest_last", list, now, error) ||
        (volume > 0 && !meta_int_set(inst, "digest_volume", list, volume, error)) ||
        !db_commit(inst->db, error)) {
        db_rollback(inst->db);
        sent = -1;
        goto out;
    }
    log_info("%s: digest issue %" G_GINT64_FORMAT " of %u post(s) queued for %u member(s) in %d mail(s)",
             list, volume, nums->len, rcpts->len, sent);
    if (sent > 0)
        g_string_append_printf(report, "%s: %d digest mail(s) queued\n", list, sent);
out:
    g_array_unref(nums);
    if (rcpts)
        g_ptr_array_unref(rcpts);
    if (mails)
        g_ptr_array_unref(mails);
    return sent;
}

/* digest_maintain - the digest task of maintain.c's table: one list's
 * digest if it is due (or at once with c->force). */
gboolean
digest_maintain(MaintainCtx *c, GError **error)
{
    return digest_list(c->inst, c->list, c->force, c->dry_run, c->report, error) >= 0;
}

/* cmd_digest - `kairan digest [--force] [LIST]`: the digest task on
 * demand (whenever it last ran), through the runner of maintain.c. */
int
cmd_digest(int argc, char **argv)
{
    gboolean force = FALSE;
    GOptionEntry entries[] = {
        { "force", 0, 0, G_OPTION_ARG_NONE, &force, "send the waiting posts now, due or not", NULL },
        G_OPTION_ENTRY_NULL
    };
    MaintainOptions opts = { .task = "digest", .ignore_interval = TRUE };
    GString *report = g_string_new(NULL);
    GError *error = NULL;
    Instance *inst;
    int status = 0;

    cli_parse(&argc, &argv, "digest", "[LIST]",
              "Send the digests that are due (digest_size bytes waiting or digest_interval\n"
              "passed) to the members in digest mode; every list, or only LIST.", entries);
    if (argc > 2)
        cli_usage_error("digest", "give at most one list name");
    inst = cli_open();
    if (argc == 2) {
        cli_need_list(inst, argv[1]);
        opts.list = argv[1];
    }
    opts.force = force;
    if (!maintain_run(inst, &opts, report, NULL, &error)) {
        fprintf(stderr, "kairan digest: %s\n", error->message);
        status = error->code ? error->code : EXIT_TEMPFAIL;
        g_error_free(error);
    }
    fputs(report->str, stdout);
    g_string_free(report, TRUE);
    instance_free(inst);
    return status;
}
