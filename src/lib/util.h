/* util.h - small file and string helpers shared by every kairan module. */
#ifndef KAIRAN_UTIL_H
#define KAIRAN_UTIL_H

#include <glib.h>
#include <stddef.h>
#include <time.h>

#define KAIRAN_ERROR kairan_error_quark()
GQuark kairan_error_quark(void);
/* Error codes carried in GError->code: the sysexits status to exit with. */

/* write_file_atomic - write data to TMPDIR/unique, fsync, rename to path,
 * fsync the directory.  tmpdir must be on the same file system; NULL means
 * the directory of path itself (a dot file there). */
gboolean write_file_atomic(const char *path, const char *tmpdir,
                           const void *data, size_t len, GError **error);
gboolean fsync_dir(const char *dir, GError **error);
gboolean mkdir_p(const char *dir, int mode, GError **error);
/* util_umask_private - umask 077 for the whole process: every file and
 * directory kairan (or SQLite, or a program it runs) creates in the
 * instance is its user's only (0600/0700), whatever the caller's umask. */
void util_umask_private(void);
/* util_make_private - take the group and other bits off an existing
 * file of ours (an instance made before files were private); TRUE if
 * its mode was changed. */
gboolean util_make_private(const char *path);
/* read_fd_all - read a whole descriptor, up to max bytes (0 = no limit);
 * *truncated is set when more was there. */
GByteArray *read_fd_all(int fd, size_t max, gboolean *truncated, GError **error);
char *random_hex(size_t nbytes);
/* now_seconds - the wall clock every time decision reads (expiry, limits,
 * "is it due"), plus KAIRAN_TEST_NOW_OFFSET seconds when the test suite
 * sets it (test-only time travel).  Durations are measured with
 * g_get_monotonic_time, not this.  now_milliseconds - the same in ms. */
gint64 now_seconds(void);
gint64 now_milliseconds(void);
/* format_rfc5322_date - "Tue, 01 Dec 2026 20:50:37 +0900" for t in local
 * time, in English whatever the locale (RFC 5322 section 3.3). */
char *format_rfc5322_date(time_t t);
/* parse_duration - "300", "5m", "2h", "5d", "1w" -> seconds; -1 if bad. */
gint64 parse_duration(const char *s);
/* str_is_safe_name - a list or ID name: [a-z0-9][a-z0-9._-]* (no paths). */
gboolean str_is_safe_name(const char *s, gboolean allow_upper);

#endif
