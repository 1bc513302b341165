/* ctl.c - `kairan deliver --ctl LIST`: one command mail.
 *
 * Automatic mail (Auto-Submitted, Precedence bulk/junk/list, null sender,
 * MAILER-DAEMON, kairan's own notices) is dropped unprocessed: besides
 * avoiding loops this keeps a vacation responder from confirming a
 * subscription.  Otherwise each command line runs in order and the
 * sender (From:, else the envelope sender) gets exactly one reply that
 * quotes every command, passwords masked, with its result.
 *
 * Abuse limits (ratelimit.c): at most ctl_reply_limit command mails from
 * one sender are processed and answered per hour; later ones are dropped
 * unprocessed until the hour is over. */
#include "config.h"
#include "autorespond.h"
#include "ctl.h"
#include "ratelimit.h"
#include "lists.h"
#include "log.h"
#include "notify.h"
#include "settings.h"

#include <string.h>

static void
run_line(CtlSession *s, const char *line)
{
    char **argv = g_strsplit(line, " ", 0);
    int argc = (int) g_strv_length(argv);
    char *masked = ctl_mask_command(line);
    char *cmd;

    ctl_reply_command(s->reply, masked);
    g_free(masked);
    cmd = g_ascii_strdown(argv[0], -1);
    g_free(argv[0]);
    argv[0] = cmd;
    if (g_str_equal(cmd, "admin") || g_str_equal(cmd, "approve"))
        ctl_admin_command(s, argv, argc);
    else
        ctl_member_command(s, argv, argc);
    g_strfreev(argv);
}

int
ctl_process(Incoming *in)
{
    Instance *inst = in->inst;
    CtlSession s = { 0 };
    char *text, *max_text;
    const char *subject;
    GPtrArray *lines;
    gboolean cut = FALSE;
    GError *error = NULL;
    guint max;
    int status = 0;

    if (notify_is_automatic(in->msg, in->envelope_sender)) {
        log_info("%s: command mail from <%s> is automatic: ignored, no reply", in->list,
                 in->envelope_sender);
        return 0;
    }
    s.sender = in->from_addr ? in->from_addr : in->envelope_sender;
    if (!s.sender || !*s.sender) {
        log_info("%s: command mail without a usable sender ignored", in->list);
        return 0;
    }
    /* ctl_reply_limit: a sender past it gets nothing for the rest of the
     * hour, and nothing runs on its behalf (so it cannot make kairan mail
     * anybody else either).  The first drop of the hour is logged. */
    if (ratelimit_take(inst, in->list, RATE_CTL_REPLY, s.sender) != RATE_OK)
        return 0;
    s.in = in;
    s.is_member = member_is(inst, in->list, s.sender);
    s.is_owner = list_is_owner(inst, in->list, s.sender);
    s.reply = ctl_reply_new(inst, in->list);

    max = (guint) list_setting_int(inst, in->list, "max_commands");
    subject = g_mime_message_get_subject(in->msg);
    text = ctl_message_text(in->msg);
    lines = ctl_extract_commands(subject, text, max, &cut);
    g_free(text);
    log_info("%s: command mail from <%s>: %u command(s)%s", in->list, s.sender, lines->len,
             cut ? " (cut at max_commands)" : "");

    for (guint i = 0; i < lines->len && !s.stop; i++)
        run_line(&s, lines->pdata[i]);
    if (cut) {
        max_text = g_strdup_printf("%u", max);
        ctl_reply_raw(s.reply, "");
        ctl_reply_say(s.reply, "max_commands", "max", max_text, NULL);
        g_free(max_text);
    }
    if (lines->len == 0)
        ctl_reply_say(s.reply, "no_commands", NULL);

    if (!ctl_reply_send(s.reply, s.sender, in->message_id, &error)) {
        log_error("%s: cannot queue the command reply: %s", in->list, error->message);
        g_error_free(error);
        status = EXIT_TEMPFAIL;
    } else if (autorespond_wanted(inst, in->list, "ctl", in->msg, in->envelope_sender)) {
        autorespond_send(inst, in->list, "ctl", in->envelope_sender, subject, in->message_id);
    }
    g_ptr_array_unref(lines);
    ctl_reply_free(s.reply);
    if (s.archive_sent)
        g_hash_table_unref(s.archive_sent);
    return status;
}

int
admin_mail_process(Incoming *in)
{
    int status = bounce_process(in);
    if (status >= 0)
        return status;
    return forward_to_owners(in);
}
