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

/* message_subject_is_jis - TRUE when the Subject came in ISO-2022-JP
 * (encoded words or raw escape sequences). */
gboolean message_subject_is_jis(GMimeMessage *msg);
/* message_header_decode - a header value (RFC 2047, raw Japanese text)
 * as one line of valid UTF-8, decoded like the Subject (japanese.c). */
char *message_header_decode(const char *value);
/* message_header_raw - the first header name as it came (folded, RFC
 * 2047 words not decoded: GMime's decoded value has lost what its iconv
 * could not convert); NULL when absent. */
const char *message_header_raw(GMimeMessage *msg, const char *name);
/* message_addresses_text - the addresses of header name ("From", "To",
 * "Cc") as display text, Japanese names decoded without loss; NULL
 * when there are none. */
char *message_addresses_text(GMimeMessage *msg, const char *name);
/* message_text_part_text - a text part's content as UTF-8 (NULL without
 * content): Japanese charsets through japanese.c without loss, others
 * through GMime. */
char *message_text_part_text(GMimeTextPart *part);

#endif
