/* message.h - the one GMime parser of kairan: every job parses mail (a
 * post, an archived post, a held post, a command mail, an uploaded form)
 * through these, so that a header is decoded the same way everywhere:
 * Japanese fallback charsets, loose RFC 2047/address/parameter parsing,
 * addrfix.c's repair of address comments GMime would leak on, and a
 * Subject that is always valid UTF-8. */
#ifndef KAIRAN_MESSAGE_H
#define KAIRAN_MESSAGE_H

#include <glib.h>
#include <gmime/gmime.h>

/* message_parser_options - kairan's GMime parser options (shared, not to
 * be freed). */
GMimeParserOptions *message_parser_options(void);
/* parse_message_bytes - a message from len bytes (copied); NULL when
 * GMime finds none. */
GMimeMessage *parse_message_bytes(const guint8 *data, gsize len);
/* parse_message_bounded - parse_message_bytes of at most about max_parts
 * MIME parts (counted before parsing, mimeparts.c): a mail with more is
 * parsed up to where its parts go over; *parts (may be NULL) gets how
 * many parts the whole mail has, at most.  For archived mail that may
 * predate max_parts (search index, digests, get). */
GMimeMessage *parse_message_bounded(const guint8 *data, gsize len, gsize max_parts, gsize *parts);
/* message_parse_owned - raw parsed, the message's streams sharing raw's
 * bytes (no copy of a large post is made; raw must outlive the message):
 * all of it, or with max_parts > 0 and more parts than that only up to
 * where its parts go over, *parts_over then getting the count (else 0). */
GMimeMessage *message_parse_owned(GByteArray *raw, gsize max_parts, gsize *parts_over);
/* message_parse_file - a message from a file (an archived or held post),
 * at most about max_parts parts (0 = all); *parts_total (may be NULL) gets
 * the parts the file has when it has more (else 0). */
GMimeMessage *message_parse_file(const char *path, gsize max_parts, gsize *parts_total);
/* message_parse_part - a MIME part (headers, blank line, body) from len
 * bytes, e.g. a multipart/form-data body behind its own Content-Type. */
GMimeObject *message_parse_part(const guint8 *data, gsize len);

#endif
