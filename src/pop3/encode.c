/* encode.c - the wire form of an archived message for RETR and TOP.
 *
 * The archive keeps posts exactly as distributed with LF line ends.  On
 * the wire (RFC 1939 section 3) every line ends in CRLF, a line that
 * starts with "." gets a second ".", and the message ends with ".\r\n".
 * A CRLF already in the file stays one CRLF; a bare CR stays a bare CR.
 * A last line without a line end gets one.
 *
 * The same state machine, without dot stuffing, gives the octet counts
 * that LIST and STAT report, so the sizes always agree with what RETR
 * sends (before stuffing, as RFC 1939 counts them).  It works on blocks
 * of any size, so files are streamed and never loaded whole. */
#include "config.h"
#include "pop3.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void
pop3_encoder_init(Pop3Encoder *e, gint64 max_body_lines, gboolean stuff_dots)
{
    memset(e, 0, sizeof(*e));
    e->line_start = TRUE;
    e->max_body_lines = max_body_lines;
    e->stuff_dots = stuff_dots;
}

static inline void
emit(GString *out, gint64 *count, const char *p, size_t n)
{
    if (out)
        g_string_append_len(out, p, (gssize) n);
    if (count)
        *count += (gint64) n;
}

/* encode_block - the state machine; either out or count (or both). */
static gboolean
encode_block(Pop3Encoder *e, const char *in, size_t len, GString *out, gint64 *count)
{
    size_t i = 0;

    while (i < len && !e->done) {
        char b = in[i];

        if (e->pending_cr) {
            e->pending_cr = FALSE;
            if (b == '\n') {
                i++;
                goto end_line;
            }
            emit(out, count, "\r", 1);       /* a bare CR is content */
            e->empty_line = FALSE;
        }
        if (e->line_start) {
            if (e->in_body) {
                e->body_lines++;
                if (e->max_body_lines >= 0 && e->body_lines > e->max_body_lines) {
                    e->done = TRUE;
                    break;
                }
            }
            if (b == '.' && e->stuff_dots)
                emit(out, count, ".", 1);
            e->line_start = FALSE;
            e->empty_line = TRUE;
        }
        if (b == '\r') {
            e->pending_cr = TRUE;
            i++;
            continue;
        }
        if (b == '\n') {
            i++;
            goto end_line;
        }
        {
            /* copy the run of ordinary bytes up to the next CR or LF */
            size_t j = i + 1;
            while (j < len && in[j] != '\n' && in[j] != '\r')
                j++;
            emit(out, count, in + i, j - i);
            e->empty_line = FALSE;
            i = j;
            continue;
        }
end_line:
        emit(out, count, "\r\n", 2);
        if (!e->in_body && e->empty_line)
            e->in_body = TRUE;
        e->line_start = TRUE;
        e->empty_line = FALSE;
    }
    return !e->done;
}

gboolean
pop3_encode(Pop3Encoder *e, const char *in, size_t len, GString *out)
{
    return encode_block(e, in, len, out, NULL);
}

void
pop3_encode_finish(Pop3Encoder *e, GString *out, gboolean terminate)
{
    if (!e->done) {
        if (e->pending_cr) {
            g_string_append_c(out, '\r');
            e->pending_cr = FALSE;
            e->line_start = FALSE;
        }
        if (!e->line_start)
            g_string_append(out, "\r\n");
    }
    if (terminate)
        g_string_append(out, ".\r\n");
}

gint64
pop3_crlf_size_fd(int fd)
{
    Pop3Encoder e;
    char buf[65536];
    gint64 count = 0;
    ssize_t n;

    pop3_encoder_init(&e, -1, FALSE);
    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        encode_block(&e, buf, (size_t) n, NULL, &count);
    }
    if (e.pending_cr) {
        count += 1;
        e.line_start = FALSE;
    }
    if (!e.line_start)
        count += 2;
    return count;
}
