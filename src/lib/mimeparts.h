/* mimeparts.h - counting the MIME parts of a raw mail before GMime builds
 * its tree (one empty part costs GMime about 1.4 KB, so a 7 MB mail of a
 * million parts would cost 1.4 GB), and counting a built tree. */
#ifndef KAIRAN_MIMEPARTS_H
#define KAIRAN_MIMEPARTS_H

#include <gmime/gmime.h>

typedef struct {
    gsize parts;   /* parts the whole mail has, at most (see mimeparts.c) */
    gsize cut;     /* offset of the line where the count first went over
                    * the limit; the length of the mail when it did not */
} MimePartsScan;

/* mimeparts_scan - an upper bound of the MIME parts GMime would build
 * from data (the top part, every multipart and every part after a
 * boundary line), in one pass without building anything; opts are the
 * parser options the mail will be parsed with (NULL: GMime's default).
 * FALSE when the count is over limit (0 = no limit): then out->cut is
 * where a prefix holding about limit parts ends. */
gboolean mimeparts_scan(const guint8 *data, gsize len, gsize limit, GMimeParserOptions *opts,
                        MimePartsScan *out);
/* mimeparts_count - the parts of a built tree (multiparts, leaves,
 * message/rfc822 parts and the parts inside them), without recursion. */
gsize mimeparts_count(GMimeObject *top);

#endif
