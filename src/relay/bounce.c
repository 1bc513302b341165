/* bounce.c - delivery status notifications (RFC 3464) for recipients
 * the relay gave up on: a 5xx reply, or max_queue_lifetime reached; and
 * the other DSN reports of RFC 3461: delayed (once, after
 * delay_warning_time), delivered and relayed (NOTIFY=SUCCESS), with the
 * ENVID as Original-Envelope-Id, each ORCPT as Original-Recipient and,
 * for a failure with RET=FULL, the whole message (message/rfc822).
 *
 * The bounce is a multipart/report; report-type=delivery-status built
 * with GMime: a readable text/plain part, the message/delivery-status
 * part (Reporting-MTA, Arrival-Date, then per recipient Final-Recipient,
 * Action: failed, Status, Diagnostic-Code) and the original headers as
 * text/rfc822-headers.  It is queued with the null sender (so it can
 * never bounce itself) to the original envelope sender; the null sender
 * gets no bounce at all.  It is DKIM-signed like every mail kairan
 * writes (unsigned, with a warning, if the key cannot be used). */
#include "config.h"
#include "relay.h"
#include "dkim.h"
#include "log.h"
#include "util.h"

#include <gmime/gmime.h>
#include <string.h>

/* enhanced_status - "X.Y.Z" out of a reply text, or a default. */
static char *
enhanced_status(const char *text, int code, gboolean expired)
{
    if (expired)
        return g_strdup("4.4.7");
    for (const char *p = text; p && *p; p++) {
        if ((p == text || p[-1] == ' ') && (*p == '4' || *p == '5') && p[1] == '.' && g_ascii_isdigit(p[2])) {
            const char *q = p + 2;
            while (g_ascii_isdigit(*q))
                q++;
            if (*q == '.' && g_ascii_isdigit(q[1])) {
                q++;
                while (g_ascii_isdigit(*q))
                    q++;
                if (*q == '\0' || *q == ' ')
                    return g_strndup(p, q - p);
            }
        }
    }
    return g_strdup(code / 100 == 4 ? "4.0.0" : "5.0.0");
}

static GMimePart *
plain_part(const char *type, const char *subtype, const char *text)
{
    GMimePart *p = g_mime_part_new_with_type(type, subtype);
    GMimeStream *st = g_mime_stream_mem_new_with_buffer(text, strlen(text));
    GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content(p, w);
    g_mime_part_set_content_encoding(p, GMIME_CONTENT_ENCODING_7BIT);
    g_object_unref(w);
    g_object_unref(st);
    return p;
}

/* original_headers - the header block of queue/msg/QID (at most 64 KiB). */
static char *
original_headers(Relay *r, const char *qid)
{
    char *path = instance_path(r->inst, "queue", "msg", qid, NULL);
    char *data = NULL, *end;
    gsize len = 0;
    GString *out;

    if (!g_file_get_contents(path, &data, &len, NULL)) {
        g_free(path);
        return g_strdup("");
    }
    g_free(path);
    end = strstr(data, "\n\n");
    out = g_string_new_len(data, end ? (gssize) (end - data + 1) : (gssize) MIN(len, 65536));
    if (out->len > 65536)
        g_string_truncate(out, 65536);
    g_free(data);
    /* The part is declared 7bit: replace 8-bit octets. */
    for (gsize i = 0; i < out->len; i++)
        if ((unsigned char) out->str[i] >= 0x80 || (out->str[i] == '\0'))
            out->str[i] = '?';
    return g_string_free(out, FALSE);
}

static char *
ascii_only(const char *s)
{
    char *d = g_strdup(s);
    for (char *p = d; *p; p++)
        if ((unsigned char) *p >= 0x80 || (unsigned char) *p < 0x20)
            *p = '?';
    return d;
}

/* original_message - queue/msg/QID whole, or NULL if unreadable. */
static char *
original_message(Relay *r, const char *qid)
{
    char *path = instance_path(r->inst, "queue", "msg", qid, NULL);
    char *data = NULL;
    if (!g_file_get_contents(path, &data, NULL, NULL))
        data = NULL;
    g_free(path);
    return data;
}

gboolean
bounce_queue(Relay *r, const char *qid, const char *sender, gint64 arrival,
             RcptResult *failed, guint n, gboolean expired, GError **error)
{
    return bounce_queue_dsn(r, qid, sender, arrival, failed, n, expired ? DSN_EXPIRED : DSN_FAILED, NULL, error);
}

gboolean
bounce_queue_dsn(Relay *r, const char *qid, const char *sender, gint64 arrival,
                 RcptResult *failed, guint n, DsnKind kind, const char *mail_dsn, GError **error)
{
    static const char *actions[] = { "failed", "failed", "delayed", "delivered", "relayed" };
    gboolean expired = kind == DSN_EXPIRED, fail = kind == DSN_FAILED || kind == DSN_EXPIRED;
    char *envid = dsn_param(mail_dsn, "ENVID"), *ret = dsn_param(mail_dsn, "RET");
    char *full = NULL;
    GMimeMessage *m;
    GMimeMultipart *mp;
    GMimePart *tp, *dp, *hp;
    GString *text, *ds;
    GMimeFormatOptions *opts;
    GDateTime *now, *arr;
    char *from, *msgid, *hdrs, *arrtext, *data, *bid;
    const char *rcpts[1];
    GByteArray *bytes;
    GError *sign_error = NULL;

    if (!sender || !*sender) {
        log_info("%s: no bounce for the null sender (%u recipient%s)", qid, n, n == 1 ? "" : "s");
        g_free(envid);
        g_free(ret);
        return TRUE;
    }
    now = g_date_time_new_now_local();
    arr = g_date_time_new_from_unix_local(arrival);
    arrtext = g_mime_utils_header_format_date(arr);
    from = g_strdup_printf("MAILER-DAEMON@%s", r->inst->hostname);
    text = g_string_new(NULL);
    if (fail)
        g_string_append_printf(text,
            "This is the mail system at host %s.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients.  %s\n\n",
            r->inst->hostname,
            expired ? "It stayed in the queue longer than max_queue_lifetime."
                    : "The remote server refused it.");
    else if (kind == DSN_DELAYED)
        g_string_append_printf(text,
            "This is the mail system at host %s.\n\n"
            "Your message could not be delivered yet to the recipients below;\n"
            "it is still being retried (for up to max_queue_lifetime).  You do\n"
            "not need to send it again.  This warning is sent only once.\n\n",
            r->inst->hostname);
    else
        g_string_append_printf(text,
            "This is the mail system at host %s.\n\n"
            "Your message was %s to the recipients below, as you asked\n"
            "(NOTIFY=SUCCESS).\n\n",
            r->inst->hostname, kind == DSN_DELIVERED ? "delivered" : "relayed to a server that does not\n"
                                                                     "report delivery itself");
    ds = g_string_new(NULL);
    g_string_append_printf(ds, "Reporting-MTA: dns; %s\nX-Kairan-Queue-ID: %s\n", r->inst->hostname, qid);
    if (envid) {
        char *dec = dsn_xtext_decode(envid);
        g_string_append_printf(ds, "Original-Envelope-Id: %s\n", dec);
        g_free(dec);
    }
    g_string_append_printf(ds, "Arrival-Date: %s\n", arrtext);
    for (guint i = 0; i < n; i++) {
        char *st = kind == DSN_DELIVERED || kind == DSN_RELAYED
                       ? g_strdup("2.0.0")
                       : enhanced_status(failed[i].text, failed[i].code, expired);
        char *t = ascii_only(failed[i].text ? failed[i].text : "");
        char *orcpt = dsn_param(failed[i].dsn, "ORCPT");
        const char *said = strstr(t, " said: ");
        g_string_append_printf(text, "<%s>: %s\n", failed[i].rcpt, t);
        g_string_append_c(ds, '\n');
        if (orcpt) {
            char *semi = strchr(orcpt, ';');
            char *dec = dsn_xtext_decode(semi ? semi + 1 : orcpt);
            if (semi)
                *semi = '\0';
            g_string_append_printf(ds, "Original-Recipient: %s; %s\n", semi ? orcpt : "rfc822", dec);
            g_free(dec);
        }
        g_string_append_printf(ds, "Final-Recipient: rfc822; %s\nAction: %s\nStatus: %s\n", failed[i].rcpt,
                               actions[kind], st);
        if (kind == DSN_RELAYED || kind == DSN_DELIVERED || *t)
            g_string_append_printf(ds, "%s: smtp; %s\n", kind == DSN_RELAYED ? "Remote-MTA" : "Diagnostic-Code",
                                   kind == DSN_RELAYED ? (*t ? t : "unknown") : (said ? said + 7 : t));
        if (kind == DSN_DELAYED) {
            GDateTime *until = g_date_time_new_from_unix_local(arrival + r->max_lifetime);
            char *u = g_mime_utils_header_format_date(until);
            g_string_append_printf(ds, "Will-Retry-Until: %s\n", u);
            g_free(u);
            g_date_time_unref(until);
        }
        g_free(orcpt);
        g_free(st);
        g_free(t);
    }

    m = g_mime_message_new(TRUE);
    g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, "Mail Delivery System", from);
    g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, NULL, sender);
    g_mime_message_set_subject(m, fail ? "Undelivered Mail Returned to Sender"
                                  : kind == DSN_DELAYED ? "Delayed Mail (still being retried)"
                                                        : "Successful Mail Delivery Report", NULL);
    g_mime_message_set_date(m, now);
    bid = random_hex(8);
    msgid = g_strdup_printf("%s.%s@%s", qid, bid, r->inst->hostname);
    g_mime_message_set_message_id(m, msgid);
    g_mime_object_set_header(GMIME_OBJECT(m), "Auto-Submitted", "auto-replied", NULL);

    mp = g_mime_multipart_new_with_subtype("report");
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(mp), "report-type", "delivery-status");
    tp = plain_part("text", "plain", text->str);
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(tp), "charset", "us-ascii");
    dp = plain_part("message", "delivery-status", ds->str);
    hdrs = original_headers(r, qid);
    if (fail && ret && g_ascii_strcasecmp(ret, "FULL") == 0 && (full = original_message(r, qid))) {
        /* RET=FULL: the whole message, 8bit where it has 8-bit octets */
        gboolean eight = FALSE;
        for (const char *p = full; *p && !eight; p++)
            eight = (unsigned char) *p >= 0x80;
        hp = plain_part("message", "rfc822", full);
        g_mime_part_set_content_encoding(hp, eight ? GMIME_CONTENT_ENCODING_8BIT : GMIME_CONTENT_ENCODING_7BIT);
    } else {
        hp = plain_part("text", "rfc822-headers", hdrs);
    }
    g_mime_multipart_add(mp, GMIME_OBJECT(tp));
    g_mime_multipart_add(mp, GMIME_OBJECT(dp));
    g_mime_multipart_add(mp, GMIME_OBJECT(hp));
    g_mime_message_set_mime_part(m, GMIME_OBJECT(mp));

    opts = g_mime_format_options_clone(NULL);
    g_mime_format_options_set_newline_format(opts, GMIME_NEWLINE_FORMAT_UNIX);
    data = g_mime_object_to_string(GMIME_OBJECT(m), opts);
    bytes = g_byte_array_new_take((guint8 *) data, strlen(data));
    data = NULL;
    /* signed like every mail kairan writes; a key that cannot be used
     * must not cost the sender the news that the mail failed */
    if (!dkim_sign_bytes(r->inst, bytes, &sign_error)) {
        log_warn("%s: the non-delivery notification goes out unsigned: %s", qid, sign_error->message);
        g_error_free(sign_error);
    }
    rcpts[0] = sender;
    char *id = queue_submit(r->inst, "", rcpts, 1, bytes->data, bytes->len, error);
    gboolean ok = id != NULL;
    if (id)
        log_info("%s: sender %s notification: %s", qid,
                 fail ? "non-delivery" : kind == DSN_DELAYED ? "delay" : "delivery", id);

    g_free(id);
    g_byte_array_unref(bytes);
    g_mime_format_options_free(opts);
    g_object_unref(tp);
    g_object_unref(dp);
    g_object_unref(hp);
    g_object_unref(mp);
    g_object_unref(m);
    g_free(hdrs);
    g_free(full);
    g_free(envid);
    g_free(ret);
    g_free(msgid);
    g_free(bid);
    g_free(from);
    g_free(arrtext);
    g_string_free(text, TRUE);
    g_string_free(ds, TRUE);
    g_date_time_unref(now);
    g_date_time_unref(arr);
    return ok;
}
