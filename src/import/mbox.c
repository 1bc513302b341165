/* mbox.c - mbox files in and out (RFC 4155): splitting an mbox into its
 * posts, undoing and applying mboxrd ">From " quoting.
 *
 * A post starts after a From_ line ("From " SENDER DATE, a time hh:mm in
 * it) that opens the file or follows an empty line; the empty line before
 * the next From_ line is the separator, not part of the post.  Reading
 * undoes mboxrd quoting (one '>' off every ^>+"From " line); for mboxo,
 * whose writers quote only "From ", that gives the same posts except a
 * line that really began ">From " (mboxo cannot tell them apart).
 * Writing is mboxrd, so a post comes back byte for byte.  The scan keeps
 * only offsets (memory stays flat for big archives): posts are read back
 * one at a time by apply.c. */
#include "config.h"
#include "import/import.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <gmime/gmime.h>

typedef struct {
    MboxPostFn fn;
    gpointer user;
    gboolean in_msg, in_headers, prev_blank, started;
    gint64 msg_start, msg_line, blank_off, lineno, date, last_date;
    gint64 bad_line;            /* first line when the data is no mbox */
} Scanner;

static gboolean
is_from_line(const char *l, gsize len)
{
    if (len < 5 || memcmp(l, "From ", 5) != 0)
        return FALSE;
    for (gsize i = 5; i + 4 < len; i++)       /* a time: hh:mm */
        if (g_ascii_isdigit(l[i]) && g_ascii_isdigit(l[i + 1]) && l[i + 2] == ':' &&
            g_ascii_isdigit(l[i + 3]) && g_ascii_isdigit(l[i + 4]))
            return TRUE;
    return FALSE;
}

static gint64
header_date(const char *l, gsize len)
{
    char *v = g_strndup(l + 5, len - 5);
    GDateTime *dt = g_mime_utils_header_decode_date(g_strstrip(v));
    gint64 t = dt ? g_date_time_to_unix(dt) : 0;
    if (dt)
        g_date_time_unref(dt);
    g_free(v);
    return t;
}

static void
emit(Scanner *s, gint64 end)
{
    gint64 date = s->date ? s->date : s->last_date;
    s->fn(s->msg_start, end - s->msg_start, s->msg_line, date, s->user);
    s->last_date = date;
}

static void
scan_line(Scanner *s, const char *l, gsize len, gint64 off)
{
    gboolean blank = (len == 1 && l[0] == '\n') || (len == 2 && l[0] == '\r' && l[1] == '\n');

    s->lineno++;
    if (is_from_line(l, len) && (!s->started || s->prev_blank)) {
        if (s->in_msg)
            emit(s, s->prev_blank ? s->blank_off : off);
        s->in_msg = s->in_headers = s->started = TRUE;
        s->msg_start = off + len;
        s->msg_line = s->lineno + 1;
        s->date = 0;
        s->prev_blank = FALSE;
        return;
    }
    if (!s->in_msg) {
        if (!blank && !s->bad_line)
            s->bad_line = s->lineno;
        s->started = TRUE;
    } else if (s->in_headers) {
        if (blank)
            s->in_headers = FALSE;
        else if (len > 5 && g_ascii_strncasecmp(l, "Date:", 5) == 0 && !s->date)
            s->date = header_date(l, len);
    }
    if (blank)
        s->blank_off = off;
    s->prev_blank = blank;
}

static void
scan_end(Scanner *s, gint64 eof)
{
    if (s->in_msg)
        emit(s, s->prev_blank ? s->blank_off : eof);
}

void
mbox_split_mem(const char *data, gsize len, MboxPostFn fn, gpointer user)
{
    Scanner s = { .fn = fn, .user = user };
    gsize off = 0;

    while (off < len) {
        const char *nl = memchr(data + off, '\n', len - off);
        gsize l = nl ? (gsize) (nl - (data + off)) + 1 : len - off;
        scan_line(&s, data + off, l, off);
        off += l;
    }
    scan_end(&s, len);
}

typedef struct {
    ImportPlan *plan;
    guint src;
} ScanTarget;

static void
add_post(gint64 off, gint64 len, gint64 line, gint64 date, gpointer data)
{
    ScanTarget *t = data;
    ImportPost p = { .num = 0, .src = t->src, .off = off, .len = len, .line = line, .date = date };
    g_array_append_val(t->plan->posts, p);
}

static gint
by_date(gconstpointer a, gconstpointer b)
{
    const ImportPost *x = a, *y = b;
    if (x->date != y->date)
        return x->date < y->date ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;   /* stable: file order */
}

gboolean
import_mbox_scan(ImportPlan *plan, const char *path, gboolean sort_by_date, GError **error)
{
    FILE *f = fopen(path, "rb");
    ScanTarget t = { plan, 0 };
    Scanner s = { .fn = add_post, .user = &t };
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    gint64 off = 0;
    guint first = plan->posts->len;

    if (!f) {
        g_set_error(error, KAIRAN_ERROR, errno == ENOENT ? EXIT_NOINPUT : EXIT_IOERR, "%s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    t.src = import_add_source(plan, path, TRUE);
    while ((n = getline(&line, &cap, f)) > 0) {
        scan_line(&s, line, n, off);
        off += n;
        if (s.bad_line)
            break;
    }
    scan_end(&s, off);
    free(line);
    if (ferror(f)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_IOERR, "%s: %s", path, g_strerror(errno));
        fclose(f);
        return FALSE;
    }
    fclose(f);
    if (s.bad_line) {
        g_array_set_size(plan->posts, first);
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s:%" G_GINT64_FORMAT ": not an mbox (no \"From \" line"
                    " before the first post)", path, s.bad_line);
        return FALSE;
    }
    if (sort_by_date)
        g_array_sort(plan->posts, by_date);   /* stable in effect: the offset breaks ties */
    return TRUE;
}

static gboolean
quoted_from(const guint8 *l, gsize len)
{
    gsize i = 0;
    while (i < len && l[i] == '>')
        i++;
    return i + 5 <= len && memcmp(l + i, "From ", 5) == 0;
}

GByteArray *
mbox_unquote(const guint8 *data, gsize len)
{
    GByteArray *out = g_byte_array_sized_new(len);
    gsize off = 0;

    while (off < len) {
        const guint8 *nl = memchr(data + off, '\n', len - off);
        gsize l = nl ? (gsize) (nl - (data + off)) + 1 : len - off;
        if (data[off] == '>' && quoted_from(data + off, l))
            g_byte_array_append(out, data + off + 1, l - 1);
        else
            g_byte_array_append(out, data + off, l);
        off += l;
    }
    return out;
}

gboolean
mbox_write_post(FILE *out, const char *sender, gint64 date, const guint8 *data, gsize len)
{
    /* asctime form in English whatever the locale (g_date_time_format
     * would give local names and pad %e with U+2007) */
    static const char *const wday[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
    static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    GDateTime *dt = g_date_time_new_from_unix_utc(date);
    char *when;
    gsize off = 0;

    if (!dt)
        dt = g_date_time_new_from_unix_utc(0);
    when = g_strdup_printf("%s %s %2d %02d:%02d:%02d %d", wday[g_date_time_get_day_of_week(dt) - 1],
                           mon[g_date_time_get_month(dt) - 1], g_date_time_get_day_of_month(dt),
                           g_date_time_get_hour(dt), g_date_time_get_minute(dt), g_date_time_get_second(dt),
                           g_date_time_get_year(dt));
    g_date_time_unref(dt);
    fprintf(out, "From %s %s\n", sender && *sender && !strpbrk(sender, " \t\r\n") ? sender : "MAILER-DAEMON", when);
    g_free(when);
    while (off < len) {
        const guint8 *nl = memchr(data + off, '\n', len - off);
        gsize l = nl ? (gsize) (nl - (data + off)) + 1 : len - off;
        if (quoted_from(data + off, l))
            fputc('>', out);
        fwrite(data + off, 1, l, out);
        off += l;
    }
    if (len == 0 || data[len - 1] != '\n')
        fputc('\n', out);
    fputc('\n', out);
    return !ferror(out);
}
