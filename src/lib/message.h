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
/* message_parse_owned - the same from raw, which the message's streams
 * share (no copy of a large post is made): raw must outlive the message. */
GMimeMessage *message_parse_owned(GByteArray *raw);
/* message_parse_file - a message from a file (an archived or held post). */
GMimeMessage *message_parse_file(const char *path);
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
