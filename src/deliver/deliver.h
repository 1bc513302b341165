/* deliver.h - the posting path of `kairan deliver LIST`: parsing the
 * incoming mail, loop checks, post policy, MIME filtering, numbering,
 * header rewrite, archive and fan-out through the queue; held posts. */
#ifndef KAIRAN_DELIVER_H
#define KAIRAN_DELIVER_H

#include <gmime/gmime.h>
#include "instance.h"

typedef struct {
    Instance *inst;
    char *list;
    char *envelope_sender;   /* "" for the null sender */
    GByteArray *raw;         /* the mail as received, without a From_ line */
    GMimeMessage *msg;
    char *from_addr;         /* From: address, normalised (may be NULL) */
    char *from_name;
    char *message_id;
    gsize parts_over;        /* max_parts: the parts counted when over it (msg is then
                              * only the first parts), else 0 */
} Incoming;

/* incoming_parse - parse raw with GMime (takes raw).  NULL and error
 * EXIT_DATAERR for empty or unparseable input. */
Incoming *incoming_parse(Instance *inst, const char *list, const char *sender,
                         GByteArray *raw, GError **error);
void incoming_free(Incoming *in);
/* deliver_init_parser - make kairan's GMime parser options now (before
 * threads start; they are made on first use otherwise). */
void deliver_init_parser(void);
/* parse_message_bytes - GMime parse with kairan's parser options. */
GMimeMessage *parse_message_bytes(const guint8 *data, gsize len);
/* parse_message_bounded - parse_message_bytes of at most about max_parts
 * MIME parts (counted before parsing, mimeparts.c): a mail with more is
 * parsed up to where its parts go over; *parts (may be NULL) gets how
 * many parts the whole mail has, at most.  For archived mail that may
 * predate max_parts (search index, digests, get). */
GMimeMessage *parse_message_bounded(const guint8 *data, gsize len, gsize max_parts, gsize *parts);
/* Parts read from one archived mail by the search index, digests, get. */
#define ARCHIVE_READ_MAX_PARTS 10000

/* post_process - the whole posting path; returns the exit status. */
int post_process(Incoming *in);

/* Policy (policy.c). */
typedef enum { POLICY_ACCEPT, POLICY_HOLD, POLICY_REFUSE } PolicyVerdict;
PolicyVerdict policy_post(const char *post_policy, gboolean is_member, gboolean is_moderator);
/* loop_check - a reason to drop the mail silently, or NULL. */
const char *loop_check(GMimeMessage *msg, const char *list, const char *list_id,
                       const char *envelope_sender);

/* MIME filtering (mimefilter.c). */
typedef enum { FILTER_OK, FILTER_REJECT } FilterResult;
gboolean mime_type_allowed(const char *type, const char *subtype, const char *allowed);
gboolean message_is_html_only(GMimeMessage *msg);
/* filter_attachments - apply attachments = strip|reject: *removed gets a
 * description of what was (or would be) removed, NULL if nothing. */
FilterResult filter_attachments(GMimeMessage *msg, const char *mode, const char *allowed,
                                char **removed);

/* Rewrite (rewrite.c). */
char *subject_tag_apply(const char *subject, const char *tag_format, const char *list, gint64 num);
/* subject_tag_remove - subject without any tag of the list's format. */
char *subject_tag_remove(const char *subject, const char *tag_format, const char *list);
void rewrite_headers(const Instance *inst, const char *list, GMimeMessage *msg, gint64 num);

/* Archive search (archive_search.c). */
/* message_search_text - the text/plain parts of msg, UTF-8, at most 32 KB. */
char *message_search_text(GMimeMessage *msg);
/* archive_search_update - index up to max_posts posts archived since
 * the last search, newest first; how many were done. */
int archive_search_update(Instance *inst, const char *list, int max_posts);
/* archive_search_pending - posts not in the search index yet. */
gint64 archive_search_pending(Instance *inst, const char *list);
/* archive_search - the numbers of the posts holding every word of query,
 * newest first, at most limit. */
GArray *archive_search(Instance *inst, const char *list, const char *query, int limit);

/* The list footer (footer.c). */
/* footer_expand - text with {list}, {address}, {number}, {unsubscribe}
 * and {archive} replaced (newly allocated). */
char *footer_expand(const Instance *inst, const char *list, gint64 num, const char *text);
/* footer_apply - add footer (UTF-8) at the end of the post's body. */
void footer_apply(GMimeMessage *msg, const char *footer);

/* Distribution (distribute.c): number, rewrite, archive, queue. */
gboolean distribute_post(Instance *inst, const char *list, GMimeMessage *msg,
                         const char *author, gint64 *num_out, GError **error);
char *archive_path(const Instance *inst, const char *list, gint64 num);

/* Held posts (held.c). */
char *held_store(Instance *inst, const char *list, Incoming *in, const char *reason, GError **error);
gboolean held_approve(Instance *inst, const char *list, const char *id, gint64 *num, GError **error);
gboolean held_reject(Instance *inst, const char *list, const char *id, const char *reason,
                     gboolean notify_sender, GError **error);
/* held_list_print - `kairan held LIST`. */
void held_list_print(Instance *inst, const char *list);

/* Command mail and -admin mail (src/ctl). */
int ctl_process(Incoming *in);
int admin_mail_process(Incoming *in);

#endif
