/* fuzz_ctl.c - libFuzzer harness for command-mail parsing (src/ctl):
 * parse_message_bytes -> ctl_message_text -> ctl_extract_commands on the
 * Subject and the text, each line masked (ctl_mask_command) and added to
 * a reply (ctl_reply_command, never sent) as ctl_process does; the
 * arguments of every line also go through digest_parse_range (mget) and
 * bounce_verp_decode; bounce_failed_recipients and bounce_returned_ids on
 * the whole message.
 * Checks: at most max lines, each one non-empty UTF-8 without CR/LF and
 * with a first word; a masked line holds no password of "admin pass" /
 * "approve"; ranges are sorted, unique and within 1..last, and written
 * back by digest_format_nums they parse to the same posts; returned
 * Message-IDs are at most the asked number, unique, non-empty UTF-8.
 *
 * The first input byte picks max_commands and `last`; the rest is a mail.
 * fuzz-corpus: dsn malformed mime */
#include "fuzz_common.h"
#include "address.h"
#include "ctl/ctl.h"
#include "deliver/deliver.h"

#include <string.h>

static Instance *inst;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init_libs();
    inst = fuzz_instance();
    fuzz_newlist(inst, "team", "owner@example.org");
    return 0;
}

static void
check_range(const char *arg, gint64 last)
{
    const char *why = NULL;
    GArray *nums = digest_parse_range(arg, last, 20, &why);
    if (!nums) {
        if (!why)
            abort();
        return;
    }
    if (nums->len > 20)
        abort();
    for (guint i = 0; i < nums->len; i++) {
        gint64 n = g_array_index(nums, gint64, i);
        if (n < 1 || n > last || (i > 0 && n <= g_array_index(nums, gint64, i - 1))) {
            fprintf(stderr, "bad range result %" G_GINT64_FORMAT " for \"%s\"\n", n, arg);
            abort();
        }
    }
    if (nums->len > 0) {
        char *text = digest_format_nums((const gint64 *) (const void *) nums->data, nums->len);
        GArray *again = digest_parse_range(text, last, 20, &why);
        if (!again || again->len != nums->len ||
            memcmp(again->data, nums->data, nums->len * sizeof(gint64)) != 0) {
            fprintf(stderr, "digest_format_nums \"%s\" does not give back \"%s\"\n", text, arg);
            abort();
        }
        g_array_unref(again);
        g_free(text);
    }
    g_array_unref(nums);
}

static void
check_line(CtlReply *reply, const char *line, gint64 last)
{
    char **argv = g_strsplit(line, " ", 0);
    char *masked;

    if (!*line || !argv[0] || !*argv[0] || strpbrk(line, "\r\n") ||
        !g_utf8_validate(line, -1, NULL)) {
        fprintf(stderr, "bad command line \"%s\"\n", line);
        abort();
    }
    masked = ctl_mask_command(line);
    {
        char **m = g_strsplit(masked, " ", 0);
        int n = (int) g_strv_length(argv), secret = -1;
        static const char *const pw[] = { "pass", "passwd", "password", NULL };
        char *w0 = g_ascii_strdown(argv[0], -1), *w1 = g_ascii_strdown(argv[1] ? argv[1] : "", -1);
        if (n >= 3 && g_str_equal(w0, "admin") && g_strv_contains(pw, w1))
            secret = 2;
        else if (n >= 2 && (g_str_equal(w0, "approve") ||
                            (g_strv_contains(pw, w0) && !g_str_equal(w0, "pass"))))
            secret = 1;
        g_free(w0);
        g_free(w1);
        if ((int) g_strv_length(m) != n ||
            (secret > 0 && !g_str_equal(m[secret], "********"))) {
            fprintf(stderr, "password not masked: \"%s\" -> \"%s\"\n", line, masked);
            abort();
        }
        g_strfreev(m);
    }
    ctl_reply_command(reply, masked);
    g_free(masked);
    for (int i = 1; argv[i]; i++) {
        char *verp;
        check_range(argv[i], last);
        verp = bounce_verp_decode(argv[i], "team");
        g_free(verp);
    }
    g_strfreev(argv);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GMimeMessage *msg;
    GPtrArray *lines, *failed;
    gboolean cut = FALSE;
    guint max;
    gint64 last;
    char *text;
    CtlReply *reply;

    if (size < 1 || size > 512 * 1024)
        return 0;
    max = 1 + data[0] % 40;
    last = (data[0] & 0x80) ? G_MAXINT64 / 2 : 1 + data[0] * 3;
    msg = parse_message_bytes(data + 1, size - 1);
    if (!msg)
        return 0;
    text = ctl_message_text(msg);
    if (text && !g_utf8_validate(text, -1, NULL)) {
        fprintf(stderr, "ctl_message_text is not UTF-8\n");
        abort();
    }
    lines = ctl_extract_commands(g_mime_message_get_subject(msg), text, max, &cut);
    if (lines->len > max)
        abort();
    reply = ctl_reply_new(inst, "team");
    for (guint i = 0; i < lines->len; i++)
        check_line(reply, lines->pdata[i], last);
    ctl_reply_free(reply);
    g_ptr_array_unref(lines);
    g_free(text);

    failed = bounce_failed_recipients(msg, "MAILER-DAEMON@example.org", NULL);
    if (failed)
        g_ptr_array_unref(failed);
    {
        guint want = 1 + data[0] % 8;
        GPtrArray *ids = bounce_returned_ids((const char *) data + 1, size - 1, want);
        if (ids->len > want)
            abort();
        for (guint i = 0; i < ids->len; i++) {
            const char *id = ids->pdata[i];
            if (!*id || !g_utf8_validate(id, -1, NULL))
                abort();
            for (guint j = 0; j < i; j++)
                if (g_str_equal(id, ids->pdata[j]))
                    abort();
        }
        g_ptr_array_unref(ids);
    }
    g_object_unref(msg);
    return 0;
}
