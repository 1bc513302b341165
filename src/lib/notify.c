/* notify.c - the mails kairan writes itself: refusals, held notices,
 * command replies, welcome and goodbye mails.
 *
 * Every such mail is text/plain in UTF-8 (quoted-printable or base64 as
 * GMime finds best), has Auto-Submitted: auto-replied, Precedence: bulk
 * and X-ML-Name, is sent with the envelope sender LIST-admin@domain, and
 * is never sent in answer to automatic mail (notify_is_automatic). */
#include "config.h"
#include "notify.h"
#include "domains.h"
#include "address.h"
#include "dkim.h"
#include "queue.h"
#include "settings.h"
#include "template.h"
#include "template_override.h"
#include "util.h"
#include "log.h"

#include <string.h>

gboolean
notify_is_automatic(GMimeMessage *msg, const char *envelope_sender)
{
    GMimeObject *obj = GMIME_OBJECT(msg);
    const char *v;

    if (envelope_sender && address_is_mailer_daemon(envelope_sender))
        return TRUE;
    if (!envelope_sender || !*envelope_sender)
        return TRUE;
    if (msg) {
        v = g_mime_object_get_header(obj, "Auto-Submitted");
        if (v) {
            char *s = g_strstrip(g_ascii_strdown(v, -1));
            gboolean automatic = !g_str_has_prefix(s, "no");
            g_free(s);
            if (automatic)
                return TRUE;
        }
        v = g_mime_object_get_header(obj, "Precedence");
        if (v) {
            char *s = g_strstrip(g_ascii_strdown(v, -1));
            gboolean bulk = g_str_equal(s, "bulk") || g_str_equal(s, "junk") || g_str_equal(s, "list");
            g_free(s);
            if (bulk)
                return TRUE;
        }
        if (g_mime_object_get_header(obj, "X-Kairan-Notice"))
            return TRUE;
    }
    return FALSE;
}

GByteArray *
message_to_bytes(GMimeMessage *msg)
{
    GMimeStream *mem = g_mime_stream_mem_new();
    GByteArray *bytes;
    GMimeFormatOptions *opts = g_mime_format_options_clone(NULL);

    g_mime_format_options_set_newline_format(opts, GMIME_NEWLINE_FORMAT_UNIX);
    g_mime_object_write_to_stream(GMIME_OBJECT(msg), opts, mem);
    g_mime_format_options_free(opts);
    bytes = g_byte_array_new();
    g_byte_array_append(bytes, g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem))->data,
                        g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem))->len);
    g_object_unref(mem);
    return bytes;
}

GMimeMessage *
notify_build(const Instance *inst, const char *list, const char *template_name,
             GHashTable *vars, const char *from, const char *to,
             const char *in_reply_to, GMimeMessage *attach)
{
    char *lang = list ? list_setting(inst, list, "language") : g_strdup("en");
    char *tmpl = template_load_for(inst, list, lang, template_name, NULL);   /* owners' own texts first */
    char *text, *body, *subject = NULL, *from_addr;
    GMimeMessage *msg;
    GMimeTextPart *part;
    GDateTime *now;
    char *msgid;

    if (!tmpl)
        tmpl = g_strdup_printf("Subject: %s\n\n(template %s is missing)\n", template_name, template_name);
    if (list)
        template_var(vars, "list", list);
    if (list) {
        char *d = list_domain(inst, list);
        template_var(vars, "domain", d);
        g_free(d);
    } else {
        template_var(vars, "domain", inst->domain);
    }
    if (list) {
        char *a = list_address(inst, list, NULL), *c = list_address(inst, list, "-ctl"),
             *ad = list_address(inst, list, "-admin");
        template_var(vars, "list_address", a);
        template_var(vars, "ctl_address", c);
        template_var(vars, "admin_address", ad);
        g_free(a);
        g_free(c);
        g_free(ad);
    }
    text = template_expand(tmpl, vars);
    /* Split "Subject: ..." header lines from the body. */
    body = text;
    while (*body && *body != '\n') {
        char *nl = strchr(body, '\n');
        if (!nl)
            break;
        *nl = '\0';
        if (g_ascii_strncasecmp(body, "Subject:", 8) == 0) {
            g_free(subject);
            subject = g_strstrip(g_strdup(body + 8));
        }
        body = nl + 1;
    }
    if (*body == '\n')
        body++;
    if (!subject)
        subject = g_strdup("kairan");
    g_strdelimit(subject, "\r\n", ' ');

    msg = g_mime_message_new(TRUE);
    from_addr = from ? g_strdup(from) : (list ? list_address(inst, list, "-admin") : g_strdup_printf("kairan@%s", inst->domain));
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, list ? list : "kairan", from_addr);
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, to);
    g_mime_message_set_subject(msg, subject, "utf-8");
    now = g_date_time_new_now_local();
    g_mime_message_set_date(msg, now);
    g_date_time_unref(now);
    {
        char *rnd = random_hex(8);
        msgid = g_strdup_printf("kairan.%s@%s", rnd, inst->hostname);
        g_free(rnd);
    }
    g_mime_message_set_message_id(msg, msgid);
    g_free(msgid);
    if (in_reply_to && *in_reply_to && !strpbrk(in_reply_to, "\r\n")) {
        char *ref = g_strdup_printf("<%s>", in_reply_to);
        g_mime_object_set_header(GMIME_OBJECT(msg), "In-Reply-To", ref, NULL);
        g_mime_object_set_header(GMIME_OBJECT(msg), "References", ref, NULL);
        g_free(ref);
    }
    g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted", "auto-replied", NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "Precedence", "bulk", NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "X-Kairan-Notice", template_name, NULL);
    if (list)
        g_mime_object_set_header(GMIME_OBJECT(msg), "X-ML-Name", list, NULL);

    part = g_mime_text_part_new_with_subtype("plain");
    g_mime_text_part_set_text(part, body);
    g_mime_text_part_set_charset(part, "utf-8");
    g_mime_part_set_content_encoding(GMIME_PART(part),
        g_mime_part_get_best_content_encoding(GMIME_PART(part), GMIME_ENCODING_CONSTRAINT_7BIT));
    if (attach) {
        GMimeMultipart *mp = g_mime_multipart_new_with_subtype("mixed");
        GMimeMessagePart *mpart = g_mime_message_part_new_with_message("rfc822", attach);
        g_mime_multipart_add(mp, GMIME_OBJECT(part));
        g_mime_multipart_add(mp, GMIME_OBJECT(mpart));
        g_mime_message_set_mime_part(msg, GMIME_OBJECT(mp));
        g_object_unref(mpart);
        g_object_unref(mp);
    } else {
        g_mime_message_set_mime_part(msg, GMIME_OBJECT(part));
    }
    g_object_unref(part);
    g_free(from_addr);
    g_free(subject);
    g_free(text);
    g_free(tmpl);
    g_free(lang);
    return msg;
}

gboolean
notify_queue(const Instance *inst, const char *list, GMimeMessage *msg,
             const char *const *rcpts, guint nrcpts, GError **error)
{
    GByteArray *bytes = message_to_bytes(msg);
    char *sender = list ? list_address(inst, list, "-admin") : g_strdup("");
    char *id = dkim_sign_bytes(inst, bytes, error)        /* dkim.c */
                   ? queue_submit(inst, sender, rcpts, nrcpts, bytes->data, bytes->len, error) : NULL;

    g_byte_array_unref(bytes);
    g_free(sender);
    if (!id)
        return FALSE;
    queue_wakeup(inst);
    g_free(id);
    return TRUE;
}

gboolean
notify_send(const Instance *inst, const char *list, const char *template_name,
            GHashTable *vars, const char *to, const char *in_reply_to,
            GMimeMessage *attach, GError **error)
{
    GMimeMessage *msg = notify_build(inst, list, template_name, vars, NULL, to, in_reply_to, attach);
    const char *rcpts[] = { to };
    gboolean ok = notify_queue(inst, list, msg, rcpts, 1, error);
    g_object_unref(msg);
    if (ok)
        log_info("%s: sent %s notice to <%s>", list ? list : "-", template_name, to);
    return ok;
}
