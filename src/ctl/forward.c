/* forward.c - mail to LIST-admin that is not a bounce goes to the list's
 * owners through the queue, as received, with an X-Kairan-Forwarded
 * header in front.  Envelope sender LIST-admin@domain, so an owner's
 * bounce comes back here; a bounce that quotes our own forwarding header
 * is dropped instead of being forwarded again (no loop between a broken
 * owner address and -admin).  The forward is DKIM-signed like every
 * mail kairan sends (d= the list's domain unless the author's domain has
 * a key of its own here), so the owners' mail servers can tell it from a
 * forgery of the list.  With autorespond_admin = yes the sender also gets
 * the list's auto-response (lib/autorespond.c). */
#include "config.h"
#include "autorespond.h"
#include "ctl.h"
#include "dkim.h"
#include "lists.h"
#include "log.h"
#include "queue.h"
#include "settings.h"

#include <string.h>

static gboolean
contains(GByteArray *raw, const char *needle)
{
    gsize n = strlen(needle);
    if (raw->len < n)
        return FALSE;
    for (gsize i = 0; i + n <= raw->len; i++)
        if (raw->data[i] == (guint8) needle[0] && memcmp(raw->data + i, needle, n) == 0)
            return TRUE;
    return FALSE;
}

int
forward_to_owners(Incoming *in)
{
    Instance *inst = in->inst;
    char **owners = list_setting_addrs(inst, in->list, "owners");
    char *marker = g_strdup_printf("X-Kairan-Forwarded: %s", in->list);
    char *sender = NULL, *id = NULL;
    GByteArray *data = NULL;
    GError *error = NULL;
    int status = 0;

    if (!owners[0]) {
        log_warn("%s: mail to -admin from <%s> dropped: the list has no owners", in->list,
                 in->envelope_sender);
        goto out;
    }
    if (contains(in->raw, marker)) {
        log_info("%s: mail to -admin from <%s> quotes our own forward (a returned forward): dropped",
                 in->list, in->envelope_sender);
        goto out;
    }
    data = g_byte_array_sized_new(in->raw->len + 64);
    g_byte_array_append(data, (const guint8 *) marker, strlen(marker));
    g_byte_array_append(data, (const guint8 *) "\n", 1);
    g_byte_array_append(data, in->raw->data, in->raw->len);
    sender = list_address(inst, in->list, "-admin");
    id = dkim_sign_bytes(inst, data, &error)
             ? queue_submit(inst, sender, (const char *const *) owners, g_strv_length(owners),
                            data->data, data->len, &error)
             : NULL;
    if (!id) {
        log_error("%s: cannot forward -admin mail: %s", in->list, error->message);
        g_error_free(error);
        status = EXIT_TEMPFAIL;
        goto out;
    }
    queue_wakeup(inst);
    log_info("%s: mail to -admin from <%s> forwarded to %u owner(s) as %s", in->list,
             in->envelope_sender, g_strv_length(owners), id);
    if (autorespond_wanted(inst, in->list, "admin", in->msg, in->envelope_sender))
        autorespond_send(inst, in->list, "admin", in->envelope_sender, g_mime_message_get_subject(in->msg),
                         in->message_id);
out:
    g_strfreev(owners);
    g_free(marker);
    g_free(sender);
    g_free(id);
    if (data)
        g_byte_array_unref(data);
    return status;
}
