/* japanese.h - decoding of Japanese mail without loss: Shift_JIS as
 * CP932, ISO-2022-JP as CP50220 (NEC row 13, IBM extensions, JIS X 0201
 * katakana in ESC ( I and SO/SI), EUC-JP as EUC-JP-MS, carrier emoji kept
 * as private-use code points; RFC 2047 header decoding built on it, and
 * the Subject encoder that writes ISO-2022-JP only when it fits. */
#ifndef KAIRAN_JAPANESE_H
#define KAIRAN_JAPANESE_H

#include <glib.h>

/* japanese_charset_is_japanese - TRUE for a Shift_JIS, ISO-2022-JP or
 * EUC-JP name (any common alias). */
gboolean japanese_charset_is_japanese(const char *charset);
/* japanese_to_utf8 - len bytes in charset as valid UTF-8 (undecodable
 * bytes become U+FFFD, never '?'); NULL when charset is not Japanese. */
char *japanese_to_utf8(const char *charset, const char *bytes, gsize len);
/* japanese_header_decode - an unstructured header value (RFC 2047 words
 * in any charset, raw ISO-2022-JP, Shift_JIS or UTF-8 text) as one line
 * of valid UTF-8, without leading or trailing white space. */
char *japanese_header_decode(const char *raw);
/* japanese_header_recode - a structured header value (an address list)
 * with its Japanese encoded words decoded by japanese.c and written
 * again as UTF-8 words, for GMime to parse without loss. */
char *japanese_header_recode(const char *value);
/* japanese_fits_jis - TRUE when every character of utf8 is ASCII or JIS
 * X 0208, i.e. it can be written in ISO-2022-JP. */
gboolean japanese_fits_jis(const char *utf8);
/* japanese_header_encode - utf8 as a raw header value (" value\n", folded
 * at 78 for a field name of name_len characters): leading ASCII words as
 * they are, the rest in B encoded words of at most 75 characters, in
 * ISO-2022-JP if jis and every character fits JIS X 0208, else UTF-8. */
char *japanese_header_encode(const char *utf8, gboolean jis, gsize name_len);

#endif
