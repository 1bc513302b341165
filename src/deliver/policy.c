/* policy.c - the pure decisions of the posting path: who may post (the
 * post_policy of DESIGN.md) and which mail is a loop to drop: our own
 * X-ML-Name or List-Id, our own X-BeenThere (one per list the mail
 * passed, kept when another list rewrites the headers), too many
 * Received: lines. */
#include "config.h"
#include "deliver.h"
#include "address.h"

#include <string.h>

PolicyVerdict
policy_post(const char *post_policy, gboolean is_member, gboolean is_moderator)
{
    if (g_str_equal(post_policy, "anyone"))
        return POLICY_ACCEPT;
    if (g_str_equal(post_policy, "moderated"))
        return POLICY_HOLD;
    if (g_str_equal(post_policy, "members-hold"))
        return (is_member || is_moderator) ? POLICY_ACCEPT : POLICY_HOLD;
    /* "members" and anything unknown: the safe default */
    return (is_member || is_moderator) ? POLICY_ACCEPT : POLICY_REFUSE;
}

#define MAX_RECEIVED 30

const char *
loop_check(GMimeMessage *msg, const char *list, const char *list_id,
           const char *envelope_sender)
{
    GMimeHeaderList *headers = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    int count = g_mime_header_list_get_count(headers);
    int received = 0;

    if (address_is_mailer_daemon(envelope_sender))
        return "null or MAILER-DAEMON sender";
    for (int i = 0; i < count; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
        const char *name = g_mime_header_get_name(h);
        const char *value = g_mime_header_get_raw_value(h);
        if (g_ascii_strcasecmp(name, "Received") == 0)
            received++;
        else if (g_ascii_strcasecmp(name, "X-ML-Name") == 0 && value) {
            char *v = g_strstrip(g_strdup(value));
            gboolean ours = g_ascii_strcasecmp(v, list) == 0;
            g_free(v);
            if (ours)
                return "our own X-ML-Name is already present";
        } else if (g_ascii_strcasecmp(name, "List-Id") == 0 && value && list_id) {
            char *v = g_ascii_strdown(value, -1);
            char *want = g_ascii_strdown(list_id, -1);
            gboolean ours = strstr(v, want) != NULL;
            g_free(v);
            g_free(want);
            if (ours)
                return "our own List-Id is already present";
        }
    }
    if (received > MAX_RECEIVED)
        return "more than 30 Received headers";
    return NULL;
}

const char *
loop_been_there(GMimeMessage *msg, const char *list_addr)
{
    GMimeHeaderList *headers = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    int count = g_mime_header_list_get_count(headers);

    for (int i = 0; i < count; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
        const char *value = g_mime_header_get_raw_value(h);
        char *v;
        gboolean ours;

        if (g_ascii_strcasecmp(g_mime_header_get_name(h), "X-BeenThere") != 0 || !value)
            continue;
        v = g_strstrip(g_strdup(value));
        if (*v == '<' && g_str_has_suffix(v, ">")) {
            memmove(v, v + 1, strlen(v));
            v[strlen(v) - 1] = '\0';
        }
        ours = g_ascii_strcasecmp(v, list_addr) == 0;
        g_free(v);
        if (ours)
            return "the list's own X-BeenThere is already present (the post came back through another list)";
    }
    return NULL;
}
