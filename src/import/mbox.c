/* mbox.c - `kairan import mbox FILE --as LIST` and the archive.mbox of
 * the Mailman readers: lib's mbox scanner (src/lib/mbox.c) filling the
 * import plan with one post a From_ line, offsets only; a gzip-compressed
 * file (HyperKitty's LIST.mbox.gz) through an uncompressed copy. */
#include "config.h"
#include "import/import.h"
#include "log.h"
#include "util.h"

#include <unistd.h>

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
    ScanTarget t = { plan, 0 };
    guint first = plan->posts->len;
    ImportSource *s;

    t.src = import_add_source(plan, path, TRUE);
    s = g_ptr_array_index(plan->sources, t.src);
    if (mbox_is_gzip(path)) {
        /* HyperKitty's LIST.mbox.gz, or any .mbox.gz: an uncompressed copy */
        char *tmp = NULL;
        int fd = g_file_open_tmp("kairan-import-XXXXXX.mbox", &tmp, NULL);
        gboolean ok;
        if (fd < 0) {
            g_set_error(error, KAIRAN_ERROR, EXIT_CANTCREAT, "%s: no temporary file for the uncompressed copy", path);
            return FALSE;
        }
        s->label = g_strdup_printf("%s (uncompressed)", path);
        g_free(s->path);
        s->path = tmp;
        s->temp = TRUE;
        ok = mbox_gunzip(path, fd, path, 0, error);
        close(fd);
        if (!ok)
            return FALSE;
        import_note(plan, "%s: gzip-compressed, read uncompressed", path);
    }
    if (!mbox_scan_file(s->path, s->label, add_post, &t, error)) {
        g_array_set_size(plan->posts, first);
        return FALSE;
    }
    if (sort_by_date)
        g_array_sort(plan->posts, by_date);   /* stable in effect: the offset breaks ties */
    return TRUE;
}
