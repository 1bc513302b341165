/* post.c - parsing the incoming mail and the posting path, in the order
 * of the foundation issue: loop checks, banned, virus scan, then the
 * moderation tools (Approved: pre-approval, header_filters, the
 * accept/hold/reject/discard_nonmembers rules), post policy, size limit,
 * HTML and attachment policies, then hold, refuse (with one explanatory
 * reply, never to automatic mail), drop or distribute; a distributed post
 * gets the list's auto-response when autorespond_posts = yes
 * (lib/autorespond.c). */
#include "config.h"
#include "autorespond.h"
#include "deliver.h"
#include "domains.h"
#include "address.h"
#include "authguard.h"
#include "crypto.h"
#include "message.h"
#include "lists.h"
#include "log.h"
#include "mimeparts.h"
#include "moderation.h"
#include "notify.h"
#include "scan.h"
#include "settings.h"
#include "template.h"
#include "util.h"
#include "ratelimit.h"

#include <string.h>

/* MIME nesting deeper than this is refused (EXIT_DATAERR): no real mail
 * comes close, and deeper trees exhaust the recursion of mail readers
 * (and of our own MIME walks) on the way out. */
#define MAX_MIME_DEPTH 64

/* mime_depth - the deepest nesting of multiparts and message/rfc822
 * parts below obj, counted without recursion; stops past limit. */
static int
mime_depth(GMimeObject *obj, int limit)
{
    GPtrArray *stack = g_ptr_array_new();     /* pairs: object, depth */
    int deepest = 0;

    g_ptr_array_add(stack, obj);
    g_ptr_array_add(stack, GINT_TO_POINTER(1));
    while (stack->len > 0 && deepest <= limit) {
        int depth = GPOINTER_TO_INT(g_ptr_array_index(stack, stack->len - 1));
        GMimeObject *o = g_ptr_array_index(stack, stack->len - 2);
        g_ptr_array_set_size(stack, stack->len - 2);
        if (!o)
            continue;
        if (depth > deepest)
            deepest = depth;
        if (GMIME_IS_MULTIPART(o)) {
            GMimeMultipart *mp = GMIME_MULTIPART(o);
            for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
                g_ptr_array_add(stack, g_mime_multipart_get_part(mp, i));
                g_ptr_array_add(stack, GINT_TO_POINTER(depth + 1));
            }
        } else if (GMIME_IS_MESSAGE_PART(o)) {
            GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
            if (inner) {
                g_ptr_array_add(stack, g_mime_message_get_mime_part(inner));
                g_ptr_array_add(stack, GINT_TO_POINTER(depth + 1));
            }
        }
    }
    g_ptr_array_unref(stack);
    return deepest;
}

Incoming *
incoming_parse(Instance *inst, const char *list, const char *sender, GByteArray *raw, GError **error)
{
    Incoming *in;
    GMimeHeaderList *headers;
    GMimeObject *top;

    /* An MTA pipe may put an mbox "From " line first. */
    if (raw->len >= 5 && memcmp(raw->data, "From ", 5) == 0) {
        guint8 *nl = memchr(raw->data, '\n', raw->len);
        g_byte_array_remove_range(raw, 0, nl ? (guint) (nl - raw->data + 1) : raw->len);
    }
    if (raw->len == 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "empty message on standard input");
        g_byte_array_unref(raw);
        return NULL;
    }
    in = g_new0(Incoming, 1);
    in->inst = inst;
    in->list = g_strdup(list);
    in->raw = raw;
    in->msg = message_parse_owned(raw, (gsize) list_setting_int(inst, list, "max_parts"), &in->parts_over);
    headers = in->msg ? g_mime_object_get_header_list(GMIME_OBJECT(in->msg)) : NULL;
    top = in->msg ? g_mime_message_get_mime_part(in->msg) : NULL;
    /* GMime keeps the Content-* fields in the top part's header list, not
     * the message's: a mail whose header is only Content-Type is a mail. */
    if (!top || (g_mime_header_list_get_count(headers) == 0 &&
                 g_mime_header_list_get_count(g_mime_object_get_header_list(top)) == 0)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "the input is not a mail message (no header found)");
        incoming_free(in);
        return NULL;
    }
    if (mime_depth(g_mime_message_get_mime_part(in->msg), MAX_MIME_DEPTH) > MAX_MIME_DEPTH) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR,
                    "the MIME structure is nested more than %d levels deep", MAX_MIME_DEPTH);
        incoming_free(in);
        return NULL;
    }
    in->from_addr = address_from_header(g_mime_object_get_header(GMIME_OBJECT(in->msg), "From"), &in->from_name);
    if (sender && *sender && !g_str_equal(sender, "<>")) {
        in->envelope_sender = address_normalize(sender, NULL);
        if (!in->envelope_sender)
            in->envelope_sender = g_strdup("");   /* unusable sender: treat as null */
    } else {
        in->envelope_sender = g_strdup("");
    }
    in->message_id = g_strdup(g_mime_message_get_message_id(in->msg));
    return in;
}

/* post_refuse - reply with the reason (unless the mail is automatic, or
 * the sender already had refusal_limit refusals this hour), with the post
 * attached when it is small and attach_post; the return value is the exit
 * status: 0 once the reply is queued. */
int
post_refuse(Incoming *in, const char *reason, gboolean attach_post)
{
    const char *to = in->from_addr ? in->from_addr : in->envelope_sender;
    GHashTable *vars;
    GError *error = NULL;
    /* not a post cut at max_parts: the copy would not be the post */
    GMimeMessage *attach = attach_post && in->raw->len <= 65536 && !in->parts_over ? in->msg : NULL;
    const char *subject = g_mime_message_get_subject(in->msg);
    gboolean ok;

    log_info("%s: post from <%s> refused: %s", in->list, to ? to : "", reason);
    if (notify_is_automatic(in->msg, in->envelope_sender) || !to || !*to) {
        log_info("%s: no reply to automatic mail from <%s>", in->list, in->envelope_sender);
        return 0;
    }
    /* refusal_limit: refused posts beyond it get no reply this hour */
    if (ratelimit_take(in->inst, in->list, RATE_REFUSAL, to) != RATE_OK)
        return 0;
    vars = template_vars_new();
    template_var(vars, "reason", reason);
    template_var(vars, "subject", subject ? subject : "");
    ok = notify_send(in->inst, in->list, "refused", vars, to, in->message_id, attach, &error);
    g_hash_table_unref(vars);
    if (!ok) {
        log_error("%s: cannot queue the refusal: %s", in->list, error->message);
        g_error_free(error);
        return EXIT_TEMPFAIL;
    }
    return 0;
}

static int
refuse(Incoming *in, const char *reason)
{
    return post_refuse(in, reason, TRUE);
}

static int
hold(Incoming *in, const char *reason)
{
    GError *error = NULL;
    char *id = held_store(in->inst, in->list, in, reason, &error);
    if (!id) {
        log_error("%s: cannot hold the post: %s", in->list, error->message);
        g_error_free(error);
        return EXIT_TEMPFAIL;
    }
    g_free(id);
    return 0;
}

/* poster_is_moderated - the posting member (From:, else the envelope
 * sender) has the moderated flag (new_member_moderation, or set by an
 * owner). */
static gboolean
poster_is_moderated(Incoming *in)
{
    Member *m = in->from_addr ? member_get(in->inst, in->list, in->from_addr) : NULL;
    gboolean moderated;

    if (!m && *in->envelope_sender)
        m = member_get(in->inst, in->list, in->envelope_sender);
    moderated = m && m->moderated;
    member_free(m);
    return moderated;
}

/* approved_by_password - the list (owner) password of an Approved: header
 * or line, checked behind the guessing guard like `admin pass` in command
 * mail (the account is the list's name: one count for both). */
static gboolean
approved_by_password(Incoming *in, const char *password)
{
    Instance *inst = in->inst;
    char *hash;
    gboolean ok = FALSE;

    (void) authguard_wait(inst, "mail", NULL, in->list);
    hash = list_password_hash(inst, in->list);
    if (hash && *hash && *password)
        ok = password_verify(password, hash);
    else
        password_verify_dummy(password);
    g_free(hash);
    if (!ok) {
        gint64 n = authguard_failed(inst, "mail", NULL, in->list);
        log_warn("%s: post from <%s> carries a wrong Approved: password (%" G_GINT64_FORMAT
                 " recent failures); it is moderated as without one", in->list,
                 in->from_addr ? in->from_addr : in->envelope_sender, n);
        return FALSE;
    }
    authguard_succeeded(inst, "mail", NULL, in->list);
    log_info("%s: post from <%s> pre-approved by the list password (Approved:)", in->list,
             in->from_addr ? in->from_addr : in->envelope_sender);
    return TRUE;
}

/* nonmember_rule - the first of accept/hold/reject/discard_nonmembers
 * (Mailman 2.1's order) that the From: address or the envelope sender
 * matches, MODERATION_NONE if none. */
static ModerationAction
nonmember_rule(Incoming *in)
{
    static const struct {
        const char *key;
        ModerationAction action;
    } rules[] = {
        { "accept_nonmembers", MODERATION_ACCEPT },
        { "hold_nonmembers", MODERATION_HOLD },
        { "reject_nonmembers", MODERATION_REJECT },
        { "discard_nonmembers", MODERATION_DISCARD },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(rules); i++) {
        if (list_address_matches(in->inst, in->list, rules[i].key, in->from_addr) ||
            list_address_matches(in->inst, in->list, rules[i].key, in->envelope_sender))
            return rules[i].action;
    }
    return MODERATION_NONE;
}

int
post_process(Incoming *in)
{
    Instance *inst = in->inst;
    const char *list = in->list;
    char *list_id_token = list_id_header(inst, list);
    char *list_id = g_strdup_printf("<%s>", list_id_token);
    const char *loop;
    char *post_policy = NULL, *attachments = NULL, *allowed = NULL, *removed = NULL, *reason = NULL;
    char *subject = NULL;
    gboolean is_member, is_moderator, autorespond = FALSE, approved = FALSE, filter_accepted = FALSE;
    char *password = NULL, *filters = NULL;
    gint64 max_size, num = 0;
    GError *error = NULL;
    int status;

    loop = loop_check(in->msg, list, list_id, in->envelope_sender);
    g_free(list_id);
    g_free(list_id_token);
    if (!loop) {
        char *addr = list_address(inst, list, NULL);
        loop = loop_been_there(in->msg, addr);
        g_free(addr);
    }
    if (loop) {
        log_info("%s: dropped mail from <%s> (%s): %s", list, in->envelope_sender,
                 in->message_id ? in->message_id : "no Message-ID", loop);
        return 0;
    }

    /* the Message-ID seen-cache: a post the list already distributed (a
     * loop through another list or site, the same RCPT repeated, a
     * resent copy) is dropped, not posted twice */
    num = post_seen(inst, list, in->message_id, list_setting_int(inst, list, "duplicate_window"));
    if (num > 0) {
        log_info("%s: dropped mail from <%s> (%s): already distributed as post %" G_GINT64_FORMAT, list,
                 in->envelope_sender, in->message_id, num);
        return 0;
    }
    num = 0;

    /* banned: dropped without a reply (a reply would only feed the abuser) */
    if (list_is_banned(inst, list, in->from_addr) || list_is_banned(inst, list, in->envelope_sender)) {
        log_info("%s: dropped mail from banned <%s> (envelope <%s>, %s)", list,
                 in->from_addr ? in->from_addr : "", in->envelope_sender,
                 in->message_id ? in->message_id : "no Message-ID");
        return 0;
    }

    /* max_parts: in->msg holds only the first parts (counted before
     * parsing); refused, never held, since a moderator's view and the
     * approval would have to build them all */
    if (in->parts_over) {
        reason = g_strdup_printf("the post has about %" G_GSIZE_FORMAT " MIME parts, more than the list's limit of %"
                                 G_GINT64_FORMAT, in->parts_over, list_setting_int(inst, list, "max_parts"));
        status = refuse(in, reason);
        goto out;
    }

    /* Approved: (header or first body line) is taken out of the post here,
     * right or wrong, before anything (a held notice, a refusal, the
     * archive) could show it; checked once the scan has passed. */
    password = moderation_approved_take(in->msg);
    if (password) {
        /* a hold stores this copy: the password must not wait in the spool */
        GMimeStream *mem = g_mime_stream_mem_new();
        GByteArray *out;
        g_mime_object_write_to_stream(GMIME_OBJECT(in->msg), NULL, mem);
        out = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
        in->stored = g_byte_array_sized_new(out->len);
        g_byte_array_append(in->stored, out->data, out->len);
        g_object_unref(mem);
    }

    /* Virus/spam check before anything else is done with it (scan.c). */
    switch (scan_post(in, &reason)) {
    case SCAN_REJECT:
        status = post_refuse(in, reason, FALSE);   /* never send a virus back */
        goto out;
    case SCAN_HOLD:
        status = hold(in, reason);
        goto out;
    case SCAN_TEMPFAIL:
        log_error("%s: post from <%s> not accepted now: %s", list, in->envelope_sender, reason);
        status = EXIT_TEMPFAIL;
        goto out;
    case SCAN_ACCEPT:
        break;
    }

    /* Pre-approval: the list password skips every moderation step below
     * (header filters, nonmember rules, post policy, the moderated flag,
     * oversize), as Mailman's Approved: does. */
    g_clear_pointer(&reason, g_free);
    if (password)
        approved = approved_by_password(in, password);

    /* header_filters: the first rule that matches decides */
    filters = approved ? NULL : list_setting(inst, list, "header_filters");
    if (filters && *filters) {
        char *why = NULL;
        GPtrArray *rules = moderation_rules_parse(filters, &why);
        const char *rule = NULL;
        ModerationAction action = rules ? moderation_rules_match(in->msg, rules, &rule) : MODERATION_NONE;

        if (!rules) {
            log_warn("%s: %s (header_filters not applied)", list, why);
            g_free(why);
        }
        if (action != MODERATION_NONE)
            log_info("%s: post from <%s> matches the header filter '%s'", list,
                     in->from_addr ? in->from_addr : in->envelope_sender, rule);
        if (action == MODERATION_HOLD)
            reason = g_strdup_printf("a header filter of the list matched: %s", rule);
        else if (action == MODERATION_REJECT)
            reason = g_strdup_printf("the post matches a header filter of the list (%s)", rule);
        if (rules)
            g_ptr_array_unref(rules);
        switch (action) {
        case MODERATION_HOLD:
            status = hold(in, reason);
            goto out;
        case MODERATION_REJECT:
            status = refuse(in, reason);
            goto out;
        case MODERATION_DISCARD:
            log_info("%s: post from <%s> (%s) discarded by a header filter", list,
                     in->from_addr ? in->from_addr : in->envelope_sender,
                     in->message_id ? in->message_id : "no Message-ID");
            status = 0;
            goto out;
        case MODERATION_ACCEPT:
            filter_accepted = TRUE;
            break;
        case MODERATION_NONE:
            break;
        }
    }

    /* Who is posting: the From: address, or the envelope sender. */
    is_member = (in->from_addr && member_is(inst, list, in->from_addr)) ||
                (*in->envelope_sender && member_is(inst, list, in->envelope_sender));
    is_moderator = (in->from_addr && list_is_moderator(inst, list, in->from_addr));

    /* accept/hold/reject/discard_nonmembers: after banned, before post_policy */
    if (!approved && !filter_accepted && !is_member && !is_moderator) {
        switch (nonmember_rule(in)) {
        case MODERATION_ACCEPT:
            is_member = TRUE;               /* posts as a member would */
            break;
        case MODERATION_HOLD:
            status = hold(in, "the sender is a non-member whose posts are held (hold_nonmembers)");
            goto out;
        case MODERATION_REJECT:
            status = refuse(in, "the list does not accept posts from this address");
            goto out;
        case MODERATION_DISCARD:
            log_info("%s: post from <%s> (envelope <%s>, %s) discarded (discard_nonmembers)", list,
                     in->from_addr ? in->from_addr : "", in->envelope_sender,
                     in->message_id ? in->message_id : "no Message-ID");
            status = 0;
            goto out;
        case MODERATION_NONE:
            break;
        }
    }

    post_policy = list_setting(inst, list, "post_policy");
    switch (approved || filter_accepted ? POLICY_ACCEPT : policy_post(post_policy, is_member, is_moderator)) {
    case POLICY_REFUSE:
        status = refuse(in, "only members of the list may post to it");
        goto out;
    case POLICY_HOLD:
        status = hold(in, g_str_equal(post_policy, "moderated")
                          ? "the list is moderated: every post is approved by a moderator"
                          : "the sender is not a member of the list");
        goto out;
    case POLICY_ACCEPT:
        break;
    }
    if (!approved && !filter_accepted && is_member && !is_moderator && poster_is_moderated(in)) {
        status = hold(in, "the sender's posts are moderated (a moderator approves each one)");
        goto out;
    }

    max_size = list_setting_int(inst, list, "max_size");
    if (max_size > 0 && (gint64) in->raw->len > max_size) {
        reason = g_strdup_printf("the post is %u bytes, larger than the list's limit of %" G_GINT64_FORMAT " bytes",
                                 in->raw->len, max_size);
        if (!approved) {
            status = list_setting_is(inst, list, "oversize", "hold") ? hold(in, reason) : refuse(in, reason);
            goto out;
        }
        g_clear_pointer(&reason, g_free);
    }
    if (list_setting_is(inst, list, "html", "reject") && message_is_html_only(in->msg)) {
        status = refuse(in, "the list does not accept HTML-only mail; please send plain text");
        goto out;
    }
    attachments = list_setting(inst, list, "attachments");
    allowed = list_setting(inst, list, "allowed_types");
    if (filter_attachments(in->msg, attachments, allowed, &removed) == FILTER_REJECT) {
        reason = g_strdup_printf("the list does not accept these attachments (allowed types: %s):\n%s",
                                 allowed, removed);
        status = refuse(in, reason);
        goto out;
    }
    /* autorespond_posts: asked before the rewrite (Precedence: bulk) */
    autorespond = autorespond_wanted(inst, list, "posts", in->msg, in->envelope_sender);
    if (autorespond)
        subject = message_header_raw(in->msg, "Subject") ? message_header_decode(message_header_raw(in->msg, "Subject"))
                                                          : NULL;
    if (!distribute_post(inst, list, in->msg, in->from_addr ? in->from_addr : in->envelope_sender,
                         &num, &error)) {
        log_error("%s: post not stored: %s", list, error->message);
        status = error->code == EXIT_DATAERR ? EXIT_DATAERR : EXIT_TEMPFAIL;
        g_error_free(error);
        goto out;
    }
    if (autorespond)
        autorespond_send(inst, list, "posts", in->envelope_sender, subject, in->message_id);
    status = 0;
out:
    g_free(subject);
    if (password)
        memset(password, 0, strlen(password));
    g_free(password);
    g_free(filters);
    g_free(post_policy);
    g_free(attachments);
    g_free(allowed);
    g_free(removed);
    g_free(reason);
    return status;
}
