/* mbox.h - mbox files in and out (RFC 4155), shared by kairan import /
 * export (src/import) and the web's archive upload and download
 * (src/web): the scanner that splits an mbox into posts (offsets only),
 * mboxrd quoting both ways, the check that a post is mail, the one
 * transaction that appends an mbox to a list's archive, and a pull-style
 * reader of a whole archive as mboxrd (for a streamed download). */
#ifndef KAIRAN_MBOX_H
#define KAIRAN_MBOX_H

#include "instance.h"
#include <stdio.h>
#include <gmime/gmime.h>

/* MboxPostFn - one post: bytes [off, off+len) of the mbox, its first
 * line (1-based) and its Date (the previous post's when it has none). */
typedef void (*MboxPostFn)(gint64 off, gint64 len, gint64 line, gint64 date, gpointer data);

/* mbox_split_mem - scan bytes in memory (the fuzz target): fn for each
 * post.  A From_ line at the start or after an empty line starts one. */
void mbox_split_mem(const char *data, gsize len, MboxPostFn fn, gpointer user);
/* mbox_scan_file - the same scan over a file, read a line at a time
 * (memory stays flat).  A file whose first non-empty line is no From_
 * line: EXIT_DATAERR "PATH:LINE: not an mbox ..." (label names the file
 * in the message; NULL: path), and fn was not called for any post. */
gboolean mbox_scan_file(const char *path, const char *label, MboxPostFn fn, gpointer user, GError **error);
/* mbox_unquote - one mboxrd post's bytes with ">From " quoting undone
 * (one '>' removed from each ^>+From line), newly allocated. */
GByteArray *mbox_unquote(const guint8 *data, gsize len);
/* mbox_format_post - append one post to out as mboxrd: a From_ line
 * (sender, date in asctime form, UTC), ^>*From lines quoted, an empty
 * line after. */
void mbox_format_post(GByteArray *out, const char *sender, gint64 date, const guint8 *data, gsize len);
/* mbox_write_post - the same to a FILE; FALSE on a write error. */
gboolean mbox_write_post(FILE *out, const char *sender, gint64 date, const guint8 *data, gsize len);

/* mbox_is_gzip - the file starts with the gzip magic (HyperKitty's
 * export is LIST.mbox.gz; people upload .mbox.gz). */
gboolean mbox_is_gzip(const char *path);
/* mbox_gunzip - the gzip file src uncompressed into the open file fd, at
 * most max_out bytes (0: no limit); errors name label (NULL: src):
 * EXIT_DATAERR for data that is not gzip or is cut short, or for more
 * than max_out bytes. */
gboolean mbox_gunzip(const char *src, int fd, const char *label, guint64 max_out, GError **error);

/* mbox_parse_post - raw parsed as one archived post: the first line is a
 * header field and the one parser finds a message with From, Date,
 * Subject or Message-ID; NULL and *why (static text) otherwise. */
GMimeMessage *mbox_parse_post(GByteArray *raw, const char **why);

/* mbox_append_file - every post of the mbox at path added to list's
 * archive (which must exist), in Date order (file order among equal
 * dates), numbered after the list's last post, each with its row
 * (threads, author) and then in the search index; nothing is mailed.
 * One transaction: on any error (EXIT_DATAERR "LABEL:LINE: why" for bad
 * input) nothing is changed.  label names the file in messages;
 * *first and *last (may be NULL) get the first and last new numbers, *count
 * the posts added. */
gboolean mbox_append_file(Instance *inst, const char *list, const char *path, const char *label,
                          gint64 *count, gint64 *first, gint64 *last, GError **error);

/* MboxExport - a list's whole archive as mboxrd, produced a piece at a
 * time (rows read a thousand at a time; one post in memory at once):
 * the bytes are those of `kairan export LIST --mbox`.  inst must stay
 * open and be used by one thread while the reader lives. */
typedef struct MboxExport MboxExport;
MboxExport *mbox_export_new(Instance *inst, const char *list);
/* mbox_export_read - up to max bytes into buf; 0 at the end. */
gsize mbox_export_read(MboxExport *x, guint8 *buf, gsize max);
void mbox_export_free(MboxExport *x);

#endif
