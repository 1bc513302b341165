/* bounce.c - bounces arriving at LIST-admin.
 *
 * Recognition, in this order:
 *  1. RFC 3464 delivery-status parts (message/delivery-status or
 *     message/global-delivery-status, usually inside multipart/report):
 *     each recipient group with "Action: failed" (or, without Action, a
 *     5.x.x Status) names Original-Recipient and Final-Recipient; the
 *     one that is a member counts.  Delayed/relayed/delivered groups are
 *     no failures, but the mail is still a bounce (it is not forwarded).
 *  2. X-Failed-Recipients (Exim, Gmail).
 *     A multipart/report whose MIME structure is broken is searched
 *     for the same fields in its text.
 *  3. Other reports from a mailer daemon (null or MAILER-DAEMON/postmaster
 *     sender, or a typical Subject): the addresses in the text parts
 *     before the returned message (qmail, Exchange, m-FILTER, Biglobe...)
 *     that are members of the list.
 * With VERP the envelope recipient names the member directly:
 * LIST-admin+LOCAL=DOMAIN@domain (see bounce_verp_decode; Postfix passes
 * it to the pipe as ORIGINAL_RECIPIENT, and so does kairan relay).  The
 * fan-out sends with such VERP senders when the list has personalize = yes
 * (src/relay/personalize.c); on any other list the +address form is not
 * taken (kairan never sent with it there: it would be a forgery).
 *
 * Forged bounces (security issue 12, finding 8): with bounce_match = sent
 * (the default) a bounce only counts for a member when it matches mail
 * kairan sent to that member: it came to the member's VERP address, or a
 * returned header block in it (message/rfc822, text/rfc822-headers, or a
 * returned message quoted as text) carries the Message-ID of a post of
 * this list archived - and so distributed - while the address was a member
 * and at most MATCH_SECONDS ago.  Anything else is logged and ignored.
 *
 * Score: a hard failure adds 1, a soft one 0.5; at most one bounce a day
 * counts for a member (Mailman's rule: a day's worth of failures is one
 * event, so a burst of bounces, real or forged, cannot disable anybody at
 * once); a score whose last bounce is older than bounce_stale_after (a
 * week) starts again from 0 (and the bounce_stale task resets it then,
 * lib/bounce_warn.c, which also warns and at last removes the disabled).  Reaching
 * bounce_threshold disables delivery
 * (nomail, disabled_reason "bounce"), tells the owners, and sends the
 * member a probe (Mailman style) carrying X-Kairan-Probe: TOKEN.  The
 * member may answer it with `confirm TOKEN` to get mail again; if the
 * probe itself bounces (the token is found in the returned message), the
 * member is removed and the owners are told. */
#include "config.h"
#include "ctl.h"
#include "address.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "template.h"
#include "token.h"
#include "util.h"

#include <glib/gstdio.h>
#include <string.h>

#define DAY_SECONDS 86400            /* one counted bounce a member per day */
#define MATCH_SECONDS (30 * 86400)   /* a bounce names a post at most this old */
#define MAX_RETURNED_IDS 50          /* Message-IDs looked up per bounce */

void
bounce_rcpt_free(BounceRcpt *b)
{
    if (!b)
        return;
    g_free(b->address);
    g_free(b->alt);
    g_free(b);
}

/* part_text - the decoded content of a leaf part (or the text of an
 * embedded message) as a NUL-terminated string. */
static char *
part_text(GMimeObject *obj)
{
    GMimeStream *mem = g_mime_stream_mem_new();
    GByteArray *ba;
    char *s;

    if (GMIME_IS_PART(obj)) {
        GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(obj));
        if (w)
            g_mime_data_wrapper_write_to_stream(w, mem);
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (m)
            g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, mem);
    }
    ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    /* an empty part has no data at all: g_strndup(NULL, 0) is NULL */
    s = ba->len ? g_strndup((const char *) ba->data, ba->len) : g_strdup("");
    g_object_unref(mem);
    return s;
}

/* dsn_address - "rfc822; <a@b>" -> normalised a@b or NULL. */
static char *
dsn_address(const char *value)
{
    const char *semi = strchr(value, ';');
    char *a = g_strstrip(g_strdup(semi ? semi + 1 : value)), *n;
    n = address_normalize(a, NULL);
    g_free(a);
    return n;
}

static void
parse_dsn_fields(const char *text, GPtrArray *out)
{
    char **lines = g_strsplit(text, "\n", 0);
    char *final = NULL, *orig = NULL, *action = NULL, *status = NULL;
    int group = 0;

    for (int i = 0;; i++) {
        char *line = lines[i] ? g_strchomp(lines[i]) : NULL;
        if (!line || !*line) {
            /* end of a group: group 0 is the per-message fields */
            if (group > 0 && (final || orig)) {
                gboolean failed = action ? g_ascii_strncasecmp(action, "failed", 6) == 0
                                         : (status && status[0] == '5');
                if (failed) {
                    BounceRcpt *b = g_new0(BounceRcpt, 1);
                    b->address = g_strdup(orig ? orig : final);
                    b->alt = orig && final ? g_strdup(final) : NULL;
                    b->hard = !status || status[0] != '4';
                    g_ptr_array_add(out, b);
                }
            }
            if (final || orig || action || status || group == 0)
                group++;
            g_clear_pointer(&final, g_free);
            g_clear_pointer(&orig, g_free);
            g_clear_pointer(&action, g_free);
            g_clear_pointer(&status, g_free);
            if (!line)
                break;
            continue;
        }
        if (g_ascii_strncasecmp(line, "Final-Recipient:", 16) == 0) {
            g_free(final);
            final = dsn_address(line + 16);
        } else if (g_ascii_strncasecmp(line, "Original-Recipient:", 19) == 0) {
            g_free(orig);
            orig = dsn_address(line + 19);
        } else if (g_ascii_strncasecmp(line, "Action:", 7) == 0) {
            g_free(action);
            action = g_strstrip(g_strdup(line + 7));
        } else if (g_ascii_strncasecmp(line, "Status:", 7) == 0) {
            g_free(status);
            status = g_strstrip(g_strdup(line + 7));
        }
    }
    g_strfreev(lines);
}

/* walk - find delivery-status parts, and collect the text of text/plain
 * parts, without looking into returned messages. */
static void
walk(GMimeObject *obj, gboolean *has_dsn, GPtrArray *out, GString *text)
{
    GMimeContentType *ct = g_mime_object_get_content_type(obj);

    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
            walk(g_mime_multipart_get_part(mp, i), has_dsn, out, text);
        return;
    }
    if (ct && g_mime_content_type_is_type(ct, "message", "*")) {
        const char *sub = g_mime_content_type_get_media_subtype(ct);
        if (sub && (g_ascii_strcasecmp(sub, "delivery-status") == 0 ||
                    g_ascii_strcasecmp(sub, "global-delivery-status") == 0)) {
            char *t = part_text(obj);
            *has_dsn = TRUE;
            parse_dsn_fields(t, out);
            g_free(t);
        }
        return;
    }
    if (ct && g_mime_content_type_is_type(ct, "text", "plain") && GMIME_IS_TEXT_PART(obj)) {
        char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
        if (t) {
            g_string_append(text, t);
            g_string_append_c(text, '\n');
        }
        g_free(t);
    }
}

static gboolean
looks_like_daemon(GMimeMessage *msg, const char *envelope_sender)
{
    static const char *const subjects[] = {
        "undeliver", "returned mail", "delivery status notification", "failure notice",
        "delivery failure", "mail delivery failed", "delivery has failed", "nondeliverable",
        "non-delivery", "mail system error", "could not be delivered", NULL
    };
    const char *from = g_mime_object_get_header(GMIME_OBJECT(msg), "From");
    char *faddr = address_from_header(from, NULL);
    const char *subject = g_mime_message_get_subject(msg);
    gboolean daemon = FALSE;

    if (!envelope_sender || !*envelope_sender || address_is_mailer_daemon(envelope_sender))
        daemon = TRUE;
    if (faddr && (address_is_mailer_daemon(faddr) || g_ascii_strncasecmp(faddr, "postmaster@", 11) == 0))
        daemon = TRUE;
    if (from && g_ascii_strncasecmp(from, "MAILER-DAEMON", 13) == 0)
        daemon = TRUE;
    g_free(faddr);
    if (subject && !daemon) {
        char *low = g_utf8_strdown(subject, -1);
        for (int i = 0; subjects[i] && !daemon; i++)
            if (strstr(low, subjects[i]))
                daemon = TRUE;
        g_free(low);
    }
    return daemon;
}

static gboolean
is_report(GMimeMessage *msg)
{
    GMimeObject *top = g_mime_message_get_mime_part(msg);
    GMimeContentType *ct = top ? g_mime_object_get_content_type(top) : NULL;
    return ct && g_mime_content_type_is_type(ct, "multipart", "report");
}

/* report_text_cut - the text before the returned message starts. */
static void
report_text_cut(GString *text)
{
    static const char *const markers[] = {
        "below this line is a copy", "this is a copy of the message", "original message",
        "returned message", "message follows", "original message headers", "headers of the original", NULL
    };
    char *low = g_ascii_strdown(text->str, text->len);
    gsize cut = text->len;
    const char *p = low;

    for (int i = 0; markers[i]; i++) {
        char *m = strstr(low, markers[i]);
        if (m && (gsize) (m - low) < cut)
            cut = (gsize) (m - low);
    }
    /* a header block of the returned message also ends the report */
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if ((gsize) (p - low) >= cut)
            break;
        if (g_str_has_prefix(p, "received:") || g_str_has_prefix(p, "return-path:") ||
            g_str_has_prefix(p, "message-id:") || g_str_has_prefix(p, "from:")) {
            cut = (gsize) (p - low);
            break;
        }
    }
    g_free(low);
    g_string_truncate(text, cut);
}

static void
text_members(const char *text, GPtrArray *members, GPtrArray *out)
{
    GRegex *re = g_regex_new("[A-Za-z0-9._%+=!#$&'*/?^`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?",
                             G_REGEX_OPTIMIZE, 0, NULL);
    GMatchInfo *mi = NULL;

    g_regex_match(re, text, 0, &mi);
    while (g_match_info_matches(mi)) {
        char *word = g_match_info_fetch(mi, 0);
        char *a = address_normalize(word, NULL);
        gboolean dup = FALSE;
        if (a && members && g_ptr_array_find_with_equal_func(members, a, g_str_equal, NULL)) {
            for (guint i = 0; i < out->len && !dup; i++)
                dup = g_str_equal(((BounceRcpt *) out->pdata[i])->address, a);
            if (!dup) {
                BounceRcpt *b = g_new0(BounceRcpt, 1);
                b->address = a;
                b->hard = TRUE;
                g_ptr_array_add(out, b);
                a = NULL;
            }
        }
        g_free(a);
        g_free(word);
        g_match_info_next(mi, NULL);
    }
    g_match_info_free(mi);
    g_regex_unref(re);
}

GPtrArray *
bounce_failed_recipients(GMimeMessage *msg, const char *envelope_sender, GPtrArray *members)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) bounce_rcpt_free);
    GString *text = g_string_new(NULL);
    gboolean has_dsn = FALSE;
    const char *xfr;

    walk(g_mime_message_get_mime_part(msg), &has_dsn, out, text);
    if (has_dsn)
        goto done;
    if (is_report(msg) || looks_like_daemon(msg, envelope_sender)) {
        /* a report whose MIME structure was lost: DSN fields in the text */
        char *body = g_mime_object_to_string(g_mime_message_get_mime_part(msg), NULL);
        char *low = g_ascii_strdown(body, -1);
        if (strstr(low, "\nfinal-recipient:") && strstr(low, "\naction:"))
            parse_dsn_fields(body, out);
        g_free(low);
        g_free(body);
        if (out->len > 0)
            goto done;
    }
    xfr = g_mime_object_get_header(GMIME_OBJECT(msg), "X-Failed-Recipients");
    if (xfr) {
        char **parts = g_strsplit_set(xfr, ", \t\r\n", 0);
        for (int i = 0; parts[i]; i++) {
            char *a = *parts[i] ? address_normalize(parts[i], NULL) : NULL;
            if (a) {
                BounceRcpt *b = g_new0(BounceRcpt, 1);
                b->address = a;
                b->hard = TRUE;
                g_ptr_array_add(out, b);
            }
        }
        g_strfreev(parts);
        goto done;
    }
    if (looks_like_daemon(msg, envelope_sender)) {
        const char *subject = g_mime_message_get_subject(msg);
        char *low = subject ? g_ascii_strdown(subject, -1) : g_strdup("");
        gboolean delayed = strstr(low, "delay") != NULL || strstr(low, "warning") != NULL;
        g_free(low);
        report_text_cut(text);
        if (!delayed)
            text_members(text->str, members, out);
        if (out->len > 0 || delayed)
            goto done;
    }
    g_ptr_array_unref(out);
    out = NULL;
done:
    g_string_free(text, TRUE);
    return out;
}

char *
bounce_verp_decode(const char *rcpt, const char *list)
{
    char *prefix = g_strdup_printf("%s-admin+", list);
    const char *at, *eq, *local;
    char *out = NULL;

    if (rcpt && g_ascii_strncasecmp(rcpt, prefix, strlen(prefix)) == 0) {
        local = rcpt + strlen(prefix);
        at = strrchr(local, '@');
        eq = at ? g_strrstr_len(local, at - local, "=") : NULL;
        if (eq && eq > local && eq + 1 < at) {
            char *a = g_strdup_printf("%.*s@%.*s", (int) (eq - local), local, (int) (at - eq - 1), eq + 1);
            out = address_normalize(a, NULL);
            g_free(a);
        }
    }
    g_free(prefix);
    return out;
}

/* ---- what kairan sent ------------------------------------------------- */

/* header_end - offset just past the first header block of data (its
 * blank line), or len. */
static gsize
header_end(const char *data, gsize len)
{
    for (gsize i = 0; i < len; i++) {
        if (data[i] != '\n')
            continue;
        if (i + 1 < len && data[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
            return i + 3;
    }
    return len;
}

GPtrArray *
bounce_returned_ids(const char *data, gsize len, guint max)
{
    static const char name[] = "message-id:";
    const gsize n = sizeof(name) - 1;
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);

    for (gsize p = header_end(data, len); p < len && ids->len < max;) {
        const char *nl = memchr(data + p, '\n', len - p);
        gsize end = nl ? (gsize) (nl - data) + 1 : len;
        gsize q = p;
        while (q < end && (data[q] == ' ' || data[q] == '\t' || data[q] == '>'))
            q++;                           /* a returned message quoted as text */
        if (end - q > n && g_ascii_strncasecmp(data + q, name, n) == 0) {
            /* the value, with folded continuation lines, at most 1000 bytes */
            gsize vend = end;
            while (vend < len && vend - q < 1000 && (data[vend] == ' ' || data[vend] == '\t')) {
                const char *nl2 = memchr(data + vend, '\n', len - vend);
                vend = nl2 ? (gsize) (nl2 - data) + 1 : len;
            }
            if (vend - q > 1000)
                vend = q + 1000;
            {
                char *value = g_strndup(data + q + n, vend - q - n);
                char *id = g_utf8_validate(value, -1, NULL) ? g_mime_utils_decode_message_id(value) : NULL;
                if (id && *id && !g_ptr_array_find_with_equal_func(ids, id, g_str_equal, NULL))
                    g_ptr_array_add(ids, id);
                else
                    g_free(id);
                g_free(value);
            }
            end = vend;
        }
        p = end;
    }
    return ids;
}

/* sent_to_member - did kairan send m a post of list whose Message-ID is
 * among ids?  The archive file's time is when the post was distributed. */
static gboolean
sent_to_member(Instance *inst, const char *list, const Member *m, GPtrArray *ids)
{
    gint64 now = now_seconds();
    gboolean found = FALSE;

    if (m->post_only)
        return FALSE;                      /* never mailed */
    for (guint i = 0; i < ids->len && !found; i++) {
        GArray *nums = archive_find_message_id(inst, list, ids->pdata[i]);
        for (guint k = 0; k < nums->len && !found; k++) {
            char *path = archive_path(inst, list, g_array_index(nums, gint64, k));
            GStatBuf sb;
            if (g_stat(path, &sb) == 0 && (gint64) sb.st_mtime >= now - MATCH_SECONDS &&
                (gint64) sb.st_mtime + 60 >= m->since)
                found = TRUE;
            g_free(path);
        }
        g_array_unref(nums);
    }
    return found;
}

/* ---- scoring ---------------------------------------------------------- */

static void
tell_owners(Instance *inst, const char *list, const char *template_name, const char *address,
            const char *score, GMimeMessage *bounce)
{
    char **owners = list_setting_addrs(inst, list, "owners");
    for (int i = 0; owners[i]; i++) {
        GHashTable *vars = template_vars_new();
        GError *e = NULL;
        template_var(vars, "address", address);
        template_var(vars, "score", score);
        if (!notify_send(inst, list, template_name, vars, owners[i], NULL, bounce, &e)) {
            log_warn("%s: cannot notify owner %s: %s", list, owners[i], e->message);
            g_error_free(e);
        }
        g_hash_table_unref(vars);
    }
    g_strfreev(owners);
}

static gboolean
send_probe(Instance *inst, const char *list, const char *address, GError **error)
{
    gint64 lifetime = list_setting_int(inst, list, "confirm_expiry");
    char *token = token_create(inst, list, "reenable", address, NULL, lifetime, error);
    char *ctl;
    GHashTable *vars;
    GMimeMessage *msg;
    gboolean ok;

    if (!token)
        return FALSE;
    ctl = list_address(inst, list, "-ctl");
    vars = template_vars_new();
    template_var(vars, "address", address);
    template_var(vars, "token", token);
    msg = notify_build(inst, list, "probe", vars, ctl, address, NULL, NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "Reply-To", ctl, NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "X-Kairan-Probe", token, NULL);
    {
        const char *rcpts[] = { address };
        ok = notify_queue(inst, list, msg, rcpts, 1, error);
    }
    if (ok)
        log_info("%s: bounce probe sent to <%s>", list, address);
    g_object_unref(msg);
    g_hash_table_unref(vars);
    g_free(token);
    g_free(ctl);
    return ok;
}

/* probe_token - the X-Kairan-Probe token found in a returned probe. */
static char *
probe_token(GByteArray *raw)
{
    static const char marker[] = "X-Kairan-Probe:";
    const char *data = (const char *) raw->data;
    gsize n = raw->len, m = sizeof(marker) - 1;

    for (gsize i = 0; i + m < n; i++) {
        if (g_ascii_strncasecmp(data + i, marker, m) == 0) {
            gsize j = i + m, k;
            while (j < n && (data[j] == ' ' || data[j] == '\t'))
                j++;
            for (k = j; k < n && g_ascii_isxdigit(data[k]); k++)
                ;
            if (k - j == 32)
                return g_ascii_strdown(data + j, 32);
        }
    }
    return NULL;
}

static int
probe_bounced(Incoming *in, const char *token)
{
    Instance *inst = in->inst;
    char *tlist = NULL, *action = NULL, *address = NULL;
    TokenStatus ts = token_peek(inst, token, &tlist, &action, &address, NULL);
    int status = 0;

    if (ts == TOKEN_OK && g_str_equal(tlist, in->list) && g_str_equal(action, "reenable")) {
        Member *m = member_get(inst, in->list, address);
        token_consume(inst, token, NULL, NULL, NULL, NULL);
        if (m && m->nomail && m->disabled_reason && g_str_has_prefix(m->disabled_reason, "bounce")) {
            GError *error = NULL;
            if (!member_remove_reason(inst, in->list, address, "bounce", &error)) {
                log_error("%s: cannot remove <%s>: %s", in->list, address, error->message);
                status = error->code == EXIT_NOUSER ? 0 : EXIT_TEMPFAIL;
                g_error_free(error);
            } else {
                char *score = g_strdup_printf("%.1f", m->bounce_score);
                log_info("%s: the probe to <%s> bounced: member removed", in->list, address);
                tell_owners(inst, in->list, "bounce_removed", address, score, NULL);
                g_free(score);
            }
        }
        member_free(m);
    } else {
        log_info("%s: returned probe with a stale token ignored", in->list);
    }
    g_free(tlist);
    g_free(action);
    g_free(address);
    return status;
}

/* count_bounce - add to a member's score; disable and probe at the threshold. */
static gboolean
count_bounce(Incoming *in, Member *m, gboolean hard, GError **error)
{
    Instance *inst = in->inst;
    const char *list = in->list;
    gint64 now = now_seconds(), last = 0, threshold = list_setting_int(inst, list, "bounce_threshold");
    gint64 stale = list_setting_int(inst, list, "bounce_stale_after");
    double score;
    sqlite3_stmt *st;
    gboolean disable;

    st = db_prepare(inst->db, "SELECT bounce_last FROM members WHERE list = ? AND address = ?");
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->address, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        last = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (last && now - last >= 0 && now - last < DAY_SECONDS) {
        log_info("%s: %s bounce for <%s>: one was counted less than a day ago, not counted again"
                 " (score %.1f)", list, hard ? "hard" : "soft", m->address, m->bounce_score);
        return TRUE;
    }
    score = (last && stale > 0 && now - last > stale) ? 0 : m->bounce_score;
    score += hard ? 1.0 : 0.5;
    disable = !m->nomail && threshold > 0 && score >= (double) threshold;

    st = db_prepare(inst->db, disable
        ? "UPDATE members SET bounce_score = ?, bounce_last = ?, nomail = 1, disabled_reason = 'bounce'"
          " WHERE list = ? AND address = ?"
        : "UPDATE members SET bounce_score = ?, bounce_last = ? WHERE list = ? AND address = ?");
    sqlite3_bind_double(st, 1, score);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_text(st, 3, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m->address, -1, SQLITE_STATIC);
    if (!db_step_done(st, error))
        return FALSE;
    log_info("%s: %s bounce for <%s>, score now %.1f (threshold %" G_GINT64_FORMAT ")", list,
             hard ? "hard" : "soft", m->address, score, threshold);
    if (disable) {
        char *s = g_strdup_printf("%.1f", score);
        log_info("%s: delivery to <%s> disabled after bounces", list, m->address);
        tell_owners(inst, list, "bounce_disabled", m->address, s, in->raw->len <= 65536 ? in->msg : NULL);
        g_free(s);
        if (!send_probe(inst, list, m->address, error))
            return FALSE;
    }
    return TRUE;
}

static GPtrArray *
member_addresses(Instance *inst, const char *list)
{
    GPtrArray *m = member_list(inst, list), *a = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < m->len; i++)
        g_ptr_array_add(a, g_strdup(((Member *) m->pdata[i])->address));
    g_ptr_array_unref(m);
    return a;
}

int
bounce_process(Incoming *in)
{
    Instance *inst = in->inst;
    GPtrArray *members, *failed;
    GHashTable *seen;
    GPtrArray *ids = NULL;
    char *token, *verp;
    gboolean by_verp = FALSE, need_match;
    int status = 0;

    token = probe_token(in->raw);
    members = member_addresses(inst, in->list);
    failed = bounce_failed_recipients(in->msg, in->envelope_sender, members);
    if (token && (failed || looks_like_daemon(in->msg, in->envelope_sender))) {
        status = probe_bounced(in, token);
        g_free(token);
        if (failed)
            g_ptr_array_unref(failed);
        g_ptr_array_unref(members);
        return status;
    }
    g_free(token);
    verp = bounce_verp_decode(g_getenv("ORIGINAL_RECIPIENT"), in->list);
    if (verp && !list_setting_bool(inst, in->list, "personalize")) {
        /* kairan sends with VERP senders only when personalize = yes */
        log_info("%s: mail to the VERP address of <%s>, but the list does not use VERP:"
                 " the address is not taken", in->list, verp);
        g_clear_pointer(&verp, g_free);
    }
    if (verp && (failed || looks_like_daemon(in->msg, in->envelope_sender))) {
        /* VERP names the member; it wins over what the report says */
        BounceRcpt *b = g_new0(BounceRcpt, 1);
        b->address = verp;
        b->hard = TRUE;
        verp = NULL;
        if (failed)
            g_ptr_array_unref(failed);
        failed = g_ptr_array_new_with_free_func((GDestroyNotify) bounce_rcpt_free);
        g_ptr_array_add(failed, b);
        by_verp = TRUE;
    }
    g_free(verp);
    g_ptr_array_unref(members);
    if (!failed)
        return -1;
    if (failed->len == 0)
        log_info("%s: bounce from <%s> without failed recipients (delay or notice): dropped",
                 in->list, in->envelope_sender);
    need_match = !list_setting_is(inst, in->list, "bounce_match", "any");
    seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < failed->len && status == 0; i++) {
        BounceRcpt *b = failed->pdata[i];
        Member *m = member_get(inst, in->list, b->address);
        GError *error = NULL;
        if (!m && b->alt)
            m = member_get(inst, in->list, b->alt);
        if (!m) {
            log_info("%s: bounce for <%s>, not a member: ignored", in->list, b->address);
            continue;
        }
        if (g_hash_table_contains(seen, m->address)) {   /* one count per mail */
            member_free(m);
            continue;
        }
        g_hash_table_add(seen, g_strdup(m->address));
        if (need_match && !by_verp) {
            if (!ids)
                ids = bounce_returned_ids((const char *) in->raw->data, in->raw->len, MAX_RETURNED_IDS);
            if (!sent_to_member(inst, in->list, m, ids)) {
                log_info("%s: bounce for <%s> from <%s> names no post sent to it (%u Message-ID(s)"
                         " returned): not counted", in->list, m->address, in->envelope_sender, ids->len);
                member_free(m);
                continue;
            }
        }
        if (!count_bounce(in, m, b->hard, &error)) {
            log_error("%s: cannot record the bounce of <%s>: %s", in->list, m->address, error->message);
            status = EXIT_TEMPFAIL;
            g_error_free(error);
        }
        member_free(m);
    }
    g_hash_table_unref(seen);
    g_ptr_array_unref(failed);
    if (ids)
        g_ptr_array_unref(ids);
    return status;
}
