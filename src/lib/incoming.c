/* incoming.c - the mail handed to `kairan deliver` (incoming.h). */
#include "config.h"
#include "incoming.h"

void
incoming_free(Incoming *in)
{
    if (!in)
        return;
    if (in->msg)
        g_object_unref(in->msg);
    if (in->raw)
        g_byte_array_unref(in->raw);
    if (in->stored)
        g_byte_array_unref(in->stored);
    g_free(in->list);
    g_free(in->envelope_sender);
    g_free(in->from_addr);
    g_free(in->from_name);
    g_free(in->message_id);
    g_free(in);
}
