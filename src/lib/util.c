/* util.c - file and string helpers: atomic writes (tmp + fsync + rename +
 * fsync of the directory), whole-descriptor reads, random hex strings,
 * durations and name checks, the clock every expiry or limit decision
 * reads (now_seconds: the one place KAIRAN_TEST_NOW_OFFSET is applied).
 * Everything that acknowledges mail stores it
 * through write_file_atomic first. */
#include "config.h"
#include "util.h"
#include "log.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

GQuark
kairan_error_quark(void)
{
    return g_quark_from_static_string("kairan-error");
}

gboolean
fsync_dir(const char *dir, GError **error)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "fsync %s: %s", dir, g_strerror(e));
        return FALSE;
    }
    close(fd);
    return TRUE;
}

gboolean
mkdir_p(const char *dir, int mode, GError **error)
{
    if (g_mkdir_with_parents(dir, mode) < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "mkdir %s: %s", dir, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static gboolean
write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FALSE;
        }
        p += n;
        len -= (size_t) n;
    }
    return TRUE;
}

void
util_umask_private(void)
{
    umask(077);
}

gboolean
util_make_private(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || !(st.st_mode & 077))
        return FALSE;
    return chmod(path, st.st_mode & 0700) == 0;
}

gboolean
write_file_atomic(const char *path, const char *tmpdir, const void *data,
                  size_t len, GError **error)
{
    char *rnd = random_hex(8);
    char *dir = g_path_get_dirname(path);
    char *tmp = g_strdup_printf("%s/.tmp.%ld.%s", tmpdir ? tmpdir : dir, (long) getpid(), rnd);
    gboolean ok = FALSE;
    int fd;

    g_free(rnd);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "create %s: %s", tmp, g_strerror(errno));
        goto out;
    }
    if (!write_all(fd, data, len) || fsync(fd) < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "write %s: %s", tmp, g_strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "close %s: %s", tmp, g_strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "rename %s: %s", path, g_strerror(errno));
        unlink(tmp);
        goto out;
    }
    ok = fsync_dir(dir, error);
out:
    g_free(tmp);
    g_free(dir);
    return ok;
}

GByteArray *
read_fd_all(int fd, size_t max, gboolean *truncated, GError **error)
{
    GByteArray *buf = g_byte_array_sized_new(65536);
    char chunk[65536];

    if (truncated)
        *truncated = FALSE;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "read: %s", g_strerror(errno));
            g_byte_array_free(buf, TRUE);
            return NULL;
        }
        if (n == 0)
            break;
        if (max && buf->len + (size_t) n > max) {
            if (truncated)
                *truncated = TRUE;
            /* keep draining so the writer is not killed by SIGPIPE */
            continue;
        }
        g_byte_array_append(buf, (guint8 *) chunk, (guint) n);
    }
    return buf;
}

char *
random_hex(size_t nbytes)
{
    unsigned char raw[64];
    GString *s = g_string_sized_new(nbytes * 2 + 1);
    size_t got = 0;

    /* The kernel's CSPRNG: as strong as OpenSSL's RAND_bytes, without the
     * cost of seeding OpenSSL's DRBG in every short-lived deliver run. */
    g_assert(nbytes <= sizeof(raw));
    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (RAND_bytes(raw + got, (int) (nbytes - got)) != 1)
                log_fatal(EXIT_SOFTWARE, "no random numbers: getrandom and RAND_bytes failed");
            break;
        }
        got += (size_t) n;
    }
    for (size_t i = 0; i < nbytes; i++)
        g_string_append_printf(s, "%02x", raw[i]);
    return g_string_free(s, FALSE);
}

/* clock_offset - KAIRAN_TEST_NOW_OFFSET (seconds, may be negative), read
 * once: the test suite's time travel (tests run `kairan maintain` "days
 * later" without sleeping).  Test-only; 0 when unset or not a number. */
static gint64
clock_offset(void)
{
    static gsize done;
    static gint64 offset;

    if (g_once_init_enter(&done)) {
        const char *v = g_getenv("KAIRAN_TEST_NOW_OFFSET");
        char *end = NULL;
        gint64 o = v && *v ? g_ascii_strtoll(v, &end, 10) : 0;
        offset = end && *end == '\0' && o > -G_MAXINT32 && o < G_MAXINT32 ? o : 0;
        g_once_init_leave(&done, 1);
    }
    return offset;
}

gint64
now_seconds(void)
{
    return g_get_real_time() / G_USEC_PER_SEC + clock_offset();
}

gint64
now_milliseconds(void)
{
    return g_get_real_time() / 1000 + clock_offset() * 1000;
}

gint64
parse_duration(const char *s)
{
    char *end;
    gint64 v;

    if (!s || !*s || !g_ascii_isdigit(*s))
        return -1;
    v = g_ascii_strtoll(s, &end, 10);
    if (v < 0 || v > G_MAXINT32)
        return -1;
    if (*end == '\0' || g_str_equal(end, "s"))
        return v;
    if (g_str_equal(end, "m"))
        return v * 60;
    if (g_str_equal(end, "h"))
        return v * 3600;
    if (g_str_equal(end, "d"))
        return v * 86400;
    if (g_str_equal(end, "w"))
        return v * 7 * 86400;
    return -1;
}

gboolean
str_is_safe_name(const char *s, gboolean allow_upper)
{
    if (!s || !*s || strlen(s) > 64)
        return FALSE;
    if (!g_ascii_isalnum(s[0]))
        return FALSE;
    for (const char *p = s; *p; p++) {
        if (g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '-' || *p == '_' || *p == '.')
            continue;
        if (allow_upper && g_ascii_isupper(*p))
            continue;
        return FALSE;
    }
    return strstr(s, "..") == NULL;
}

char *
format_rfc5322_date(time_t t)
{
    static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    long off;

    localtime_r(&t, &tm);
    off = tm.tm_gmtoff / 60;
    return g_strdup_printf("%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7], tm.tm_mday,
                           months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
                           off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}
