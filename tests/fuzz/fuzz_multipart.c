/* fuzz_multipart.c - libFuzzer harness for the splitter of a spooled
 * upload body (src/web/httputil.c: multipart_split over a mapped file,
 * multipart_disposition on each part's header block).  The input is a
 * boundary line, then the body.
 * Checks: every part lies inside the body, after the one before, its
 * header block inside the body too; no more parts than the limit; a
 * field name found is non-empty UTF-8; a body made of the parts again
 * (with CRLF--boundary delimiters) splits into the same parts.
 * fuzz-corpus: */
#define _GNU_SOURCE 1        /* memmem */
#include "fuzz_common.h"
#include "web/httputil.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_init_libs();
    return 0;
}

typedef struct {
    const guint8 *body;
    gsize len;
    gsize last_end;
    guint count;
    GArray *spans;          /* pairs of gsize: off, len */
} Seen;

static gboolean
on_part(const guint8 *head, gsize head_len, gsize off, gsize len, gpointer user)
{
    Seen *s = user;
    char *name = NULL, *filename = NULL;

    if (off < s->last_end || off + len > s->len || head < s->body || head + head_len > s->body + s->len)
        abort();
    s->last_end = off + len;
    s->count++;
    g_array_append_val(s->spans, off);
    g_array_append_val(s->spans, len);
    if (multipart_disposition(head, head_len, &name, &filename)) {
        if (!name || !*name || !g_utf8_validate(name, -1, NULL))
            abort();
    } else if (name || filename) {
        abort();
    }
    if (filename && !g_utf8_validate(filename, -1, NULL))
        abort();
    g_free(name);
    g_free(filename);
    return TRUE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const guint8 *nl = memchr(data, '\n', size);
    char *boundary;
    const guint8 *body;
    gsize blen;
    Seen s = { 0 };
    gboolean ok;

    if (!nl)
        return 0;
    boundary = g_strndup((const char *) data, (gsize) (nl - data));
    body = nl + 1;
    blen = size - (gsize) (nl + 1 - data);
    s.body = body;
    s.len = blen;
    s.spans = g_array_new(FALSE, FALSE, sizeof(gsize));
    ok = multipart_split(body, blen, boundary, 50, on_part, &s);
    if (s.count > 50)
        abort();
    if (ok && s.count > 0) {
        /* put the parts together again, each with an empty header block:
         * the same contents come back unless one holds the delimiter */
        GByteArray *again = g_byte_array_new();
        char *delim = g_strdup_printf("--%s", boundary);
        gboolean clean = TRUE;
        for (guint i = 0; i < s.spans->len; i += 2) {
            gsize off = g_array_index(s.spans, gsize, i), len = g_array_index(s.spans, gsize, i + 1);
            if (len >= strlen(delim) && memmem(body + off, len, delim, strlen(delim)))
                clean = FALSE;
            g_byte_array_append(again, (const guint8 *) delim, (guint) strlen(delim));
            g_byte_array_append(again, (const guint8 *) "\r\n\r\n", 4);
            g_byte_array_append(again, body + off, (guint) len);
            g_byte_array_append(again, (const guint8 *) "\r\n", 2);
        }
        g_byte_array_append(again, (const guint8 *) delim, (guint) strlen(delim));
        g_byte_array_append(again, (const guint8 *) "--\r\n", 4);
        if (clean) {
            Seen t = { 0 };
            t.body = again->data;
            t.len = again->len;
            t.spans = g_array_new(FALSE, FALSE, sizeof(gsize));
            if (!multipart_split(again->data, again->len, boundary, 50, on_part, &t) || t.count != s.count)
                abort();
            for (guint i = 0; i < t.spans->len; i += 2)
                if (g_array_index(t.spans, gsize, i + 1) != g_array_index(s.spans, gsize, i + 1) ||
                    memcmp(again->data + g_array_index(t.spans, gsize, i), body + g_array_index(s.spans, gsize, i),
                           g_array_index(t.spans, gsize, i + 1)) != 0)
                    abort();
            g_array_unref(t.spans);
        }
        g_free(delim);
        g_byte_array_unref(again);
    }
    g_array_unref(s.spans);
    g_free(boundary);
    return 0;
}
