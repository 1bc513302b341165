/* httputil.h - small, transport-free HTTP helpers of the web interface:
 * percent-decoding, query and form parsing (urlencoded and multipart via
 * GMime), cookies, HTML escaping, CSV fields.  Each is a pure function
 * with a unit test in tests/unit/test_web_http.c. */
#ifndef KAIRAN_WEB_HTTPUTIL_H
#define KAIRAN_WEB_HTTPUTIL_H

#include <glib.h>

/* url_decode - percent-decode (g_uri_unescape_string) len bytes of s ('+' is a blank when
 * plus_is_space).  NULL when the result is not valid UTF-8, holds a NUL
 * byte or a '%' is not followed by two hex digits. */
char *url_decode(const char *s, gssize len, gboolean plus_is_space);
/* url_encode - percent-encode everything but unreserved characters. */
char *url_encode(const char *s);
/* params_new - the table form_parse_urlencoded fills:
 * name -> GPtrArray of values (both owned). */
GHashTable *params_new(void);
void params_add(GHashTable *params, const char *name, const char *value);
/* form_parse_urlencoded - parse a=1&b=2 into params; FALSE when a name
 * or value does not decode (the caller answers 400). */
gboolean form_parse_urlencoded(GHashTable *params, const char *data, gsize len);
/* form_parse_multipart - parse a multipart/form-data body (RFC 7578)
 * with GMime; fields go into params by name, an uploaded file's content
 * as the value and its file name as "NAME.filename". */
gboolean form_parse_multipart(GHashTable *params, const char *content_type,
                              const guint8 *data, gsize len);
/* MultipartPartFn - one part of a multipart body: its header block
 * head[0, head_len) (CRLF lines, the blank line not included) and its
 * content at [off, off+len) of the body; FALSE stops the split. */
typedef gboolean (*MultipartPartFn)(const guint8 *head, gsize head_len, gsize off, gsize len, gpointer user);
/* multipart_split - the parts of a multipart body (RFC 2046) with this
 * boundary, without copying them (the body may be a mapped file of any
 * size): the preamble and epilogue are skipped, a part ends at the next
 * CRLF "--" boundary that is followed by "--" or blanks and CRLF (a line
 * that merely starts with it is content).  FALSE when the body has no closing delimiter, a
 * part has no blank line after its header block, more than max_parts
 * parts, or fn said stop. */
gboolean multipart_split(const guint8 *data, gsize len, const char *boundary, guint max_parts,
                         MultipartPartFn fn, gpointer user);
/* multipart_disposition - the form field name and file name (either may
 * be NULL) of a part's header block (Content-Disposition: form-data;
 * name="..."; filename="..."), UTF-8 only; FALSE when it has none. */
gboolean multipart_disposition(const guint8 *head, gsize head_len, char **name, char **filename);
/* params_get - first value of name or NULL; params_all - every value. */
const char *params_get(GHashTable *params, const char *name);
GPtrArray *params_all(GHashTable *params, const char *name);
/* cookie_parse - "a=1; b=2" -> name -> value (first wins). */
GHashTable *cookie_parse(const char *header);
/* html_escape - g_markup_escape_text (& < > " ' as entities), invalid
 * UTF-8 made valid first. */
char *html_escape(const char *s);
/* csv_field - one CSV field, quoted when needed; a leading = + - @ is
 * prefixed with ' so spreadsheets do not run it as a formula. */
void csv_field(GString *out, const char *s);
/* csv_split_line - the fields of one CSV line (quotes honoured). */
char **csv_split_line(const char *line);
/* path_split - "/a/b/c" -> {"a","b","c"} decoded; NULL if a segment
 * does not decode, is "." or "..", or holds '/'. */
char **path_split(const char *path);

#endif
