/* fuzz_import_mbox.c - libFuzzer harness for mbox splitting and mboxrd
 * quoting (src/import/mbox.c): every post found lies inside the input and
 * after the one before; a post written with mbox_write_post and split
 * again comes back byte for byte (mboxrd is lossless), for any post that
 * ends with a line end.
 * fuzz-corpus: japanese mime */
#include "fuzz_common.h"
#include "import/import.h"

typedef struct {
    gsize size;
    gint64 last_end;
    int count;
    gint64 off, len;
} Seen;

static void
on_post(gint64 off, gint64 len, gint64 line, gint64 date, gpointer data)
{
    Seen *s = data;
    (void) date;
    if (off < s->last_end || len < 0 || off + len > (gint64) s->size || line < 1)
        abort();
    s->last_end = off + len;
    s->off = off;
    s->len = len;
    s->count++;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init_libs();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Seen s = { .size = size };
    char *buf = NULL;
    size_t blen = 0;
    FILE *out;

    if (size > 256 * 1024)
        return 0;
    mbox_split_mem((const char *) data, size, on_post, &s);
    g_byte_array_unref(mbox_unquote(data, size));
    if (size == 0 || data[size - 1] != '\n')
        return 0;
    out = open_memstream(&buf, &blen);
    if (!out)
        return 0;
    mbox_write_post(out, "a@example.org", 1700000000, data, size);
    fclose(out);
    s = (Seen) { .size = blen };
    mbox_split_mem(buf, blen, on_post, &s);
    if (s.count != 1)
        abort();
    {
        GByteArray *back = mbox_unquote((const guint8 *) buf + s.off, s.len);
        if (back->len != size || memcmp(back->data, data, size) != 0)
            abort();
        g_byte_array_unref(back);
    }
    free(buf);
    return 0;
}
