/* mailview.h - a stored mail (archive or held post) as the web pages
 * show it: decoded headers, the text parts converted to UTF-8 from
 * their charset, and the list of attachments (by GMime). */
#ifndef KAIRAN_WEB_MAILVIEW_H
#define KAIRAN_WEB_MAILVIEW_H

#include <gmime/gmime.h>

typedef struct {
    int index;              /* 1-based, in walk order */
    char *mime_type;        /* type/subtype, lower case */
    char *filename;         /* decoded, may be NULL */
    GMimeObject *part;      /* borrowed from the message */
} MailAttachment;

typedef struct {
    GMimeMessage *msg;
    char *subject, *from, *to, *cc, *date, *message_id;
    GString *text;          /* every inline text/plain part, UTF-8 */
    GPtrArray *attachments; /* MailAttachment* */
    gsize parts_total;      /* when the mail has more than MAILVIEW_MAX_PARTS
                             * MIME parts: about how many (else 0) ... */
    gsize parts_shown;      /* ... and how many of them were read */
} MailView;

/* The MIME parts of one mail a page reads: a mail with more is shown
 * with its first parts and says so. */
#define MAILVIEW_MAX_PARTS 200

MailView *mailview_load(const char *path);
void mailview_free(MailView *v);
/* mailview_attachment_bytes - the decoded content of attachment index. */
GByteArray *mailview_attachment_bytes(MailView *v, int index, const MailAttachment **att);

#endif
