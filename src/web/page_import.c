/* page_import.c - an owner's archive in and out on the web:
 * GET|POST /admin/LIST/import uploads an mbox whose posts are appended
 * to the archive exactly as `kairan import mbox FILE --as LIST` does
 * (lib's mbox_append_file: Date order, numbered after the last post,
 * indexed and threaded, nothing mailed, one transaction; bad input is
 * an error naming the line and changes nothing; a gzip-compressed mbox
 * is uncompressed first).  The front ends spool
 * the body of this path to a file ([global] web_max_upload), core.c
 * copies the file part out to a file of its own, so an upload of any
 * size never sits in memory.
 * GET /admin/LIST/archive.mbox is the whole archive as mboxrd, the
 * bytes of `kairan export LIST --mbox`, produced as it is sent
 * (WebResponse.stream over lib's MboxExport). */
#include "config.h"
#include "webint.h"
#include "archive.h"
#include "globals.h"
#include "log.h"
#include "mbox.h"

#include <string.h>
#include <unistd.h>

static char *
size_text(gint64 bytes)
{
    if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0)
        return g_strdup_printf("%" G_GINT64_FORMAT " MiB", bytes / (1024 * 1024));
    return g_format_size_full((guint64) bytes, G_FORMAT_SIZE_IEC_UNITS);
}

static void
render(WebCtx *c, const char *list, int status, const char *notice, const char *error)
{
    TData *d = tdata_new();
    char *limit = size_text((gint64) web_body_limit(c->inst, "/admin/x/import"));
    char *title = g_strdup_printf("%s: %s", list, T(c, "Archive import and export"));
    gint64 last = 0, posts = archive_count(c->inst, list, &last);

    tdata_set(d, "list", list);
    tdata_set(d, "csrf", csrf_token(c));
    tdata_set(d, "limit", limit);
    tdata_set_int(d, "posts", posts);
    if (notice)
        tdata_set(d, "notice", notice);
    if (error)
        tdata_set(d, "error", error);
    page_render(c, status, "import", d, title);
    g_free(title);
    g_free(limit);
}

/* file_label - the uploaded file's name for messages: its last path
 * part, printable, at most 100 bytes; "upload" when it has none */
static char *
file_label(const char *name)
{
    const char *base = name ? MAX(strrchr(name, '/'), strrchr(name, '\\')) : NULL;
    char *l = g_strdup(base ? base + 1 : name && *name ? name : "upload");
    for (char *p = l; *p; p++)
        if ((guchar) *p < 32 || *p == 127)
            *p = '_';
    if (!*l || strlen(l) > 100) {
        g_free(l);
        l = g_strdup("upload");
    }
    return l;
}

void
page_import(WebCtx *c, const char *list)
{
    const char *path;
    char *label, *notice;
    gint64 count = 0, first = 0, last = 0;
    GError *e = NULL;
    gboolean ok = TRUE;

    if (!g_str_equal(c->req->method, "POST")) {
        render(c, list, 200, NULL, NULL);
        return;
    }
    if (!csrf_check(c)) {
        web_fail(c, 403, T(c, "The form has expired or did not come from this site. Please reload the page and try again."));
        return;
    }
    path = form(c, "mbox.file");
    if (!path) {
        render(c, list, 400, NULL, T(c, "Choose an mbox file to upload."));
        return;
    }
    label = file_label(form(c, "mbox.filename"));
    if (mbox_is_gzip(path)) {
        /* a .mbox.gz (HyperKitty's export): uncompressed to a file of its
         * own first, at most ten times the upload limit */
        int fd;
        char *plain = web_upload_file(c->inst, &fd);
        if (!plain) {
            g_free(label);
            web_fail(c, 503, NULL);
            return;
        }
        if (!c->req->temp_files)
            c->req->temp_files = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(c->req->temp_files, plain);
        ok = mbox_gunzip(path, fd, label, (guint64) web_body_limit(c->inst, "/admin/x/import") * 10, &e);
        close(fd);
        path = plain;
    }
    if (ok)
        ok = mbox_append_file(c->inst, list, path, label, &count, &first, &last, &e);
    if (!ok) {
        char *msg = g_strdup_printf("%s %s", T(c, "Nothing was imported:"), e->message);
        log_info("%s: mbox upload %s by <%s> refused: %s", list, label, c->sess->address, e->message);
        render(c, list, e->code == EXIT_DATAERR ? 422 : 500, NULL, msg);
        g_free(msg);
        g_error_free(e);
        g_free(label);
        return;
    }
    log_info("%s: %" G_GINT64_FORMAT " post(s) uploaded from %s by <%s> (web), numbers %" G_GINT64_FORMAT "-%"
             G_GINT64_FORMAT, list, count, label, c->sess->address, first, last);
    {
        char *n = g_strdup_printf("%" G_GINT64_FORMAT, count), *a = g_strdup_printf("%" G_GINT64_FORMAT, first),
             *b = g_strdup_printf("%" G_GINT64_FORMAT, last);
        notice = g_strdup_printf(T(c, "%s: %s post(s) added to the archive as numbers %s to %s. Nothing was mailed."),
                                 label, n, a, b);
        g_free(n);
        g_free(a);
        g_free(b);
    }
    render(c, list, 200, notice, NULL);
    g_free(notice);
    g_free(label);
}

static gsize
stream_mbox(gpointer data, guint8 *buf, gsize max)
{
    return mbox_export_read(data, buf, max);
}

void
page_archive_mbox(WebCtx *c, const char *list)
{
    char *disp = g_strdup_printf("attachment; filename=\"%s.mbox\"", list);

    g_byte_array_set_size(c->resp->body, 0);
    web_response_header(c->resp, "Content-Type", "application/mbox");
    web_response_header(c->resp, "Content-Disposition", disp);
    c->resp->stream = stream_mbox;
    c->resp->stream_data = mbox_export_new(c->inst, list);
    c->resp->stream_free = (GDestroyNotify) mbox_export_free;
    log_info("%s: archive downloaded as mbox by <%s> (web)", list, c->sess->address);
    g_free(disp);
}
