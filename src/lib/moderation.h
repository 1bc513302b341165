/* moderation.h - the moderation tools Mailman owners know (moderation.c):
 * pre-approval by an Approved: header or first body line carrying the
 * list password, and the header_filters rules ("Header: regex -> action").
 * The nonmember rules use lists.c's list_address_matches. */
#ifndef KAIRAN_MODERATION_H
#define KAIRAN_MODERATION_H

#include <glib.h>
#include <gmime/gmime.h>

typedef enum {
    MODERATION_NONE,      /* no rule matched */
    MODERATION_ACCEPT,
    MODERATION_HOLD,
    MODERATION_REJECT,
    MODERATION_DISCARD
} ModerationAction;

/* One rule of header_filters. */
typedef struct {
    char *header;         /* the field name as written */
    char *pattern;        /* the regular expression as written */
    GRegex *re;           /* compiled, case-insensitive */
    ModerationAction action;
    char *text;           /* "Header: regex -> action", normalised */
} ModerationRule;

/* moderation_action_name - "accept", "hold", "reject", "discard" ("" for NONE). */
const char *moderation_action_name(ModerationAction action);

/* moderation_rules_parse - the rules of a header_filters value: rules
 * separated by new lines or by ';' (a ';' inside a regex is written \;,
 * which the regex reads as a plain ';'); each "Header: regex -> action".
 * An array of ModerationRule (freed with g_ptr_array_unref), or NULL and
 * *why (allocated) naming the rule that is wrong. */
GPtrArray *moderation_rules_parse(const char *value, char **why);
/* moderation_rules_normalize - the value as stored: the rules joined by
 * "; "; NULL and *why as moderation_rules_parse. */
char *moderation_rules_normalize(const char *value, char **why);
/* moderation_rules_match - the action of the first rule one of whose
 * headers (any occurrence, RFC 2047 decoded, in the message's or its top
 * part's header) the regex finds; *rule (may be NULL) gets the rule's text
 * (not to be freed; lives as long as rules).  MODERATION_NONE if none. */
ModerationAction moderation_rules_match(GMimeMessage *msg, GPtrArray *rules, const char **rule);

/* moderation_approved_take - the password of an Approved:, Approve:,
 * X-Approved: or X-Approve: header, or else of such a line as the first
 * non-blank line of the first text/plain part; the headers are removed,
 * or the line (with the blank lines before it and one after it) and the
 * same "Approved: password" in every text part (HTML included) are cut
 * out, whether the password is right or not.  Transfer encodings and
 * charsets are kept (the line is ASCII in every charset mail uses).
 * NULL (msg unchanged) when the post has none. */
char *moderation_approved_take(GMimeMessage *msg);

#endif
