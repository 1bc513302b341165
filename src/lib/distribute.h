/* distribute.h - a post becomes post number N of a list: the header
 * rewrite for N (Subject tag, List-* headers: rewrite.c), the footer
 * (footer.c), DMARC mitigation (dmarc.c), DKIM signing, the archive file
 * and row, and the fan-out through the queue (distribute.c).  Used for
 * new posts (deliver) and approved held posts (held.c: web, command mail,
 * `kairan approve`). */
#ifndef KAIRAN_DISTRIBUTE_H
#define KAIRAN_DISTRIBUTE_H

#include <gmime/gmime.h>
#include "instance.h"

/* Rewrite (rewrite.c). */
char *subject_tag_apply(const char *subject, const char *tag_format, const char *list, gint64 num);
/* subject_tag_remove - subject without any tag of the list's format. */
char *subject_tag_remove(const char *subject, const char *tag_format, const char *list);
void rewrite_headers(const Instance *inst, const char *list, GMimeMessage *msg, gint64 num);

/* The list footer (footer.c). */
/* footer_expand - text with {{list}}, {{address}}, {{number}}, {{unsubscribe}}
 * and {{archive}} replaced (newly allocated). */
char *footer_expand(const Instance *inst, const char *list, gint64 num, const char *text);
/* footer_apply - add footer (UTF-8) at the end of the post's body. */
void footer_apply(GMimeMessage *msg, const char *footer);

/* Distribution (distribute.c): number, rewrite, archive, queue. */
gboolean distribute_post(Instance *inst, const char *list, GMimeMessage *msg,
                         const char *author, gint64 *num_out, GError **error);

#endif
