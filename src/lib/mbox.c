/* mbox.c - mbox files in and out (RFC 4155), for kairan import/export
 * and the web (mbox.h): splitting an mbox into its posts, undoing and
 * applying mboxrd ">From " quoting, appending an mbox to an archive in
 * one transaction, and reading a whole archive out as mboxrd.
 *
 * A post starts after a From_ line ("From " SENDER DATE, a time hh:mm in
 * it) that opens the file or follows an empty line; the empty line before
 * the next From_ line is the separator, not part of the post.  Reading
 * undoes mboxrd quoting (one '>' off every ^>+"From " line); for mboxo,
 * whose writers quote only "From ", that gives the same posts except a
 * line that really began ">From " (mboxo cannot tell them apart).
 * Writing is mboxrd, so a post comes back byte for byte.  The scan keeps
 * only offsets (memory stays flat for big archives): posts are read back
 * one at a time (src/import/apply.c, mbox_append_file). */
#include "config.h"
#include "mbox.h"
#include "archive.h"
#include "db.h"
#include "lists.h"
#include "log.h"
#include "message.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>

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

gboolean
mbox_scan_file(const char *path, const char *label, MboxPostFn fn, gpointer user, GError **error)
{
    FILE *f = fopen(path, "rb");
    Scanner s = { .fn = fn, .user = user };
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    gint64 off = 0;

    if (!label)
        label = path;
    if (!f) {
        g_set_error(error, KAIRAN_ERROR, errno == ENOENT ? EXIT_NOINPUT : EXIT_IOERR, "%s: %s", label,
                    g_strerror(errno));
        return FALSE;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        scan_line(&s, line, n, off);
        off += n;
        if (s.bad_line)
            break;
    }
    if (!s.bad_line)
        scan_end(&s, off);
    free(line);
    if (ferror(f)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_IOERR, "%s: %s", label, g_strerror(errno));
        fclose(f);
        return FALSE;
    }
    fclose(f);
    if (s.bad_line) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s:%" G_GINT64_FORMAT ": not an mbox (no \"From \" line"
                    " before the first post)", label, s.bad_line);
        return FALSE;
    }
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

void
mbox_format_post(GByteArray *out, const char *sender, gint64 date, const guint8 *data, gsize len)
{
    /* asctime form in English whatever the locale (g_date_time_format
     * would give local names and pad %e with U+2007) */
    static const char *const wday[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
    static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    GDateTime *dt = g_date_time_new_from_unix_utc(date);
    char *from;
    gsize off = 0;

    if (!dt)
        dt = g_date_time_new_from_unix_utc(0);
    from = g_strdup_printf("From %s %s %s %2d %02d:%02d:%02d %d\n",
                           sender && *sender && !strpbrk(sender, " \t\r\n") ? sender : "MAILER-DAEMON",
                           wday[g_date_time_get_day_of_week(dt) - 1], mon[g_date_time_get_month(dt) - 1],
                           g_date_time_get_day_of_month(dt), g_date_time_get_hour(dt), g_date_time_get_minute(dt),
                           g_date_time_get_second(dt), g_date_time_get_year(dt));
    g_date_time_unref(dt);
    g_byte_array_append(out, (const guint8 *) from, (guint) strlen(from));
    g_free(from);
    while (off < len) {
        const guint8 *nl = memchr(data + off, '\n', len - off);
        gsize l = nl ? (gsize) (nl - (data + off)) + 1 : len - off;
        if (quoted_from(data + off, l))
            g_byte_array_append(out, (const guint8 *) ">", 1);
        g_byte_array_append(out, data + off, (guint) l);
        off += l;
    }
    if (len == 0 || data[len - 1] != '\n')
        g_byte_array_append(out, (const guint8 *) "\n", 1);
    g_byte_array_append(out, (const guint8 *) "\n", 1);
}

gboolean
mbox_write_post(FILE *out, const char *sender, gint64 date, const guint8 *data, gsize len)
{
    GByteArray *b = g_byte_array_sized_new((guint) len + 128);
    gboolean ok;

    mbox_format_post(b, sender, date, data, len);
    ok = fwrite(b->data, 1, b->len, out) == b->len && !ferror(out);
    g_byte_array_unref(b);
    return ok;
}

gboolean
mbox_is_gzip(const char *path)
{
    guint8 magic[2] = { 0, 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    gboolean gz;

    if (fd < 0)
        return FALSE;
    gz = read(fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    close(fd);
    return gz;
}

gboolean
mbox_gunzip(const char *src, int fd, const char *label, guint64 max_out, GError **error)
{
    GFile *f = g_file_new_for_path(src);
    GError *e = NULL;
    GFileInputStream *in = g_file_read(f, NULL, &e);
    GZlibDecompressor *dec;
    GInputStream *cin;
    guint8 buf[65536];
    guint64 total = 0;
    gboolean ok = TRUE;

    if (!label)
        label = src;
    g_object_unref(f);
    if (!in) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s: %s", label, e->message);
        g_error_free(e);
        return FALSE;
    }
    dec = g_zlib_decompressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP);
    cin = g_converter_input_stream_new(G_INPUT_STREAM(in), G_CONVERTER(dec));
    while (ok) {
        gssize n = g_input_stream_read(cin, buf, sizeof(buf), NULL, &e);
        gsize done = 0;
        if (n < 0) {
            g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s: not gzip data, or cut short (%s)", label, e->message);
            g_clear_error(&e);
            ok = FALSE;
            break;
        }
        if (n == 0)
            break;
        total += (guint64) n;
        if (max_out && total > max_out) {
            g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s: more than %" G_GUINT64_FORMAT " bytes uncompressed",
                        label, max_out);
            ok = FALSE;
            break;
        }
        while (done < (gsize) n) {
            ssize_t w = write(fd, buf + done, (gsize) n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                g_set_error(error, KAIRAN_ERROR, EXIT_IOERR, "%s: cannot write the uncompressed copy: %s", label,
                            w < 0 ? g_strerror(errno) : "short write");
                ok = FALSE;
                break;
            }
            done += (gsize) w;
        }
    }
    g_object_unref(cin);
    g_object_unref(dec);
    g_object_unref(in);
    return ok;
}

GMimeMessage *
mbox_parse_post(GByteArray *raw, const char **why)
{
    const guint8 *data = raw->data;
    gsize len = raw->len, i = 0, over = 0;
    GMimeMessage *msg;

    while (i < len && data[i] > 32 && data[i] < 127 && data[i] != ':')
        i++;
    if (i == 0 || i >= len || data[i] != ':') {
        *why = len == 0 ? "an empty post, not mail" : "not mail (it does not start with a header field)";
        return NULL;
    }
    /* an old post of any size: its first parts are enough for its row */
    msg = message_parse_owned(raw, ARCHIVE_READ_MAX_PARTS, &over);
    if (!msg) {
        *why = "not mail (no message found)";
        return NULL;
    }
    if (!g_mime_object_get_header(GMIME_OBJECT(msg), "From") && !g_mime_object_get_header(GMIME_OBJECT(msg), "Date") &&
        !g_mime_object_get_header(GMIME_OBJECT(msg), "Subject") && !g_mime_message_get_message_id(msg)) {
        g_object_unref(msg);
        *why = "not mail (no From, Date, Subject or Message-ID)";
        return NULL;
    }
    return msg;
}

/* ---- appending an mbox to an archive ---- */

typedef struct {
    gint64 off, len, line, date;
} Span;

static void
add_span(gint64 off, gint64 len, gint64 line, gint64 date, gpointer data)
{
    Span sp = { off, len, line, date };
    g_array_append_val((GArray *) data, sp);
}

static gint
span_by_date(gconstpointer a, gconstpointer b)
{
    const Span *x = a, *y = b;
    if (x->date != y->date)
        return x->date < y->date ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;   /* stable: file order */
}

static GByteArray *
read_span(int fd, const Span *sp, const char *label, GError **error)
{
    guint8 *buf = g_malloc(sp->len ? sp->len : 1);
    gint64 got = 0;
    GByteArray *out;

    while (got < sp->len) {
        ssize_t n = pread(fd, buf + got, sp->len - got, sp->off + got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, KAIRAN_ERROR, EXIT_IOERR, "%s: %s", label, n < 0 ? g_strerror(errno) : "short read");
            g_free(buf);
            return NULL;
        }
        got += n;
    }
    out = mbox_unquote(buf, sp->len);
    g_free(buf);
    return out;
}

gboolean
mbox_append_file(Instance *inst, const char *list, const char *path, const char *label, gint64 *count,
                 gint64 *first, gint64 *last, GError **error)
{
    GArray *spans = g_array_new(FALSE, FALSE, sizeof(Span));
    GArray *written = g_array_new(FALSE, FALSE, sizeof(gint64));
    gboolean ok = FALSE, in_tx = FALSE;
    gint64 base;
    int fd = -1;

    *count = 0;
    if (!label)
        label = path;
    if (!list_exists(inst, list)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOUSER, "no list %s", list);
        goto out;
    }
    if (!mbox_scan_file(path, label, add_span, spans, error))
        goto out;
    if (spans->len == 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s: no posts in it (an mbox starts with a \"From \" line)",
                    label);
        goto out;
    }
    g_array_sort(spans, span_by_date);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_NOINPUT, "%s: %s", label, g_strerror(errno));
        goto out;
    }
    if (!db_begin_immediate(inst->db, error))
        goto out;
    in_tx = TRUE;
    /* inside the write lock: a post distributed meanwhile is counted */
    base = list_last_number(inst, list);
    {
        GPtrArray *newest = archive_list(inst, list, 0, 1, TRUE);
        if (newest->len)
            base = MAX(base, ((ArchivePost *) newest->pdata[0])->num);
        g_ptr_array_unref(newest);
    }
    for (guint i = 0; i < spans->len; i++) {
        const Span *sp = &g_array_index(spans, Span, i);
        GByteArray *bytes = read_span(fd, sp, label, error);
        const char *why = NULL;
        GMimeMessage *msg;
        gint64 num = base + 1;
        gboolean good;

        if (!bytes)
            goto fail;
        msg = mbox_parse_post(bytes, &why);
        if (!msg) {
            g_set_error(error, KAIRAN_ERROR, EXIT_DATAERR, "%s:%" G_GINT64_FORMAT ": %s", label, sp->line, why);
            g_byte_array_unref(bytes);
            goto fail;
        }
        good = archive_append(inst, list, num, msg, bytes->data, bytes->len, error);
        g_object_unref(msg);
        g_byte_array_unref(bytes);
        if (!good) {
            g_prefix_error(error, "%s:%" G_GINT64_FORMAT ": ", label, sp->line);
            goto fail;
        }
        base = num;
        g_array_append_val(written, num);
    }
    {
        sqlite3_stmt *st = db_prepare(inst->db, "UPDATE lists SET seq = MAX(seq, ?2) WHERE name = ?1");
        sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, base);
        if (!db_step_done(st, error))
            goto fail;
    }
    if (!archive_sync(inst, list, error) || !db_commit(inst->db, error))
        goto fail;
    in_tx = FALSE;
    *count = written->len;
    if (first)
        *first = g_array_index(written, gint64, 0);
    if (last)
        *last = base;
    log_info("%s: %u post(s) appended from the mbox %s", list, written->len, label);
    /* the search index now, a thousand a transaction */
    while (archive_search_update(inst, list, 1000) >= 1000)
        ;
    ok = TRUE;
    goto out;
fail:
    if (in_tx)
        db_rollback(inst->db);
    for (guint i = 0; i < written->len; i++)
        archive_unlink(inst, list, g_array_index(written, gint64, i));
out:
    if (fd >= 0)
        close(fd);
    g_array_unref(spans);
    g_array_unref(written);
    return ok;
}

/* ---- a whole archive out ---- */

struct MboxExport {
    Instance *inst;
    char *list;
    GPtrArray *rows;        /* the current page of ArchivePost* */
    guint next;             /* the next row of the page */
    gint64 after;           /* the last number read */
    gboolean done;
    GByteArray *pending;    /* formatted bytes not handed out yet */
    gsize pos;
};

MboxExport *
mbox_export_new(Instance *inst, const char *list)
{
    MboxExport *x = g_new0(MboxExport, 1);
    x->inst = inst;
    x->list = g_strdup(list);
    x->pending = g_byte_array_new();
    return x;
}

/* fill - the next readable post formatted into pending; FALSE at the end */
static gboolean
fill(MboxExport *x)
{
    g_byte_array_set_size(x->pending, 0);
    x->pos = 0;
    while (!x->done) {
        ArchivePost *p;
        char *data;
        gsize len;
        if (!x->rows || x->next >= x->rows->len) {
            if (x->rows)
                g_ptr_array_unref(x->rows);
            x->rows = archive_list_after(x->inst, x->list, x->after, 1000);
            x->next = 0;
            if (x->rows->len == 0) {
                x->done = TRUE;
                break;
            }
        }
        p = x->rows->pdata[x->next++];
        x->after = p->num;
        if (!archive_read(x->inst, x->list, p->num, &data, &len)) {
            log_warn("%s: post %" G_GINT64_FORMAT " is unreadable, left out of the mbox", x->list, p->num);
            continue;
        }
        mbox_format_post(x->pending, p->from_addr, p->date, (const guint8 *) data, len);
        g_free(data);
        return TRUE;
    }
    return FALSE;
}

gsize
mbox_export_read(MboxExport *x, guint8 *buf, gsize max)
{
    gsize n = 0;

    while (n < max) {
        gsize k;
        if (x->pos >= x->pending->len && !fill(x))
            break;
        k = MIN(max - n, x->pending->len - x->pos);
        memcpy(buf + n, x->pending->data + x->pos, k);
        x->pos += k;
        n += k;
    }
    return n;
}

void
mbox_export_free(MboxExport *x)
{
    if (!x)
        return;
    if (x->rows)
        g_ptr_array_unref(x->rows);
    g_byte_array_unref(x->pending);
    g_free(x->list);
    g_free(x);
}
