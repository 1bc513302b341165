/* fuzz_subject.c - libFuzzer harness for subject tagging: the input is
 * TAG-FORMAT NUL SUBJECT NUL LIST-CHOICE.  The tag format goes through
 * setting_validate("subject_tag") like `kairan config` does; only a valid
 * one is applied to the subject (made valid UTF-8 first, as GMime's
 * decoded Subject is).  The result must be valid UTF-8; tagging the
 * result again with the same number must give the same text (old tags of
 * the list are replaced, never stacked) when the format contains the
 * list name or the number.  The subject also goes through japanese.c: its
 * raw bytes decoded as a header value must give valid UTF-8, and the
 * tagged subject encoded (ISO-2022-JP when it fits, else UTF-8) must
 * have encoded words of at most 75 characters and decode back to itself
 * (when it holds no control character and no "=?"). */
#include "fuzz_common.h"
#include "deliver/deliver.h"
#include "japanese.h"

static void
check_encoding(const char *subject, gboolean jis)
{
    char *raw = japanese_header_encode(subject, jis, 7), *back, *want;
    gboolean clean = !strstr(subject, "=?");

    /* (a subject that holds "=?" itself keeps it in its ASCII words) */
    for (const char *w = clean ? strstr(raw, "=?") : NULL; w; w = strstr(w + 2, "=?")) {
        const char *e = strstr(w + 2, "?=");
        while (e && e[2] && e[2] != ' ' && e[2] != '\n')
            e = strstr(e + 1, "?=");
        if (!e || e + 2 - w > 75) {
            fprintf(stderr, "encoded word longer than 75: %s\n", raw);
            abort();
        }
        w = e;
    }
    for (const char *p = subject; clean && *p; p++)
        clean = (guchar) *p >= 0x20 && *p != 0x7f;
    back = japanese_header_decode(raw);
    want = g_strstrip(g_strdup(subject));
    if (!g_utf8_validate(back, -1, NULL) || (clean && strcmp(back, want) != 0)) {
        fprintf(stderr, "\"%s\" encoded as \"%s\" decodes to \"%s\"\n", want, raw, back);
        abort();
    }
    g_free(want);
    g_free(back);
    g_free(raw);
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
    static const char *lists[] = { "team", "a.b-c_d", "x", "0list" };
    char **f, *why = NULL, *fmt, *subject, *once;
    const char *list;
    gint64 num;

    if (size > 16 * 1024)
        return 0;
    f = fuzz_fields(data, size, 3);
    list = lists[(unsigned char) f[2][0] % G_N_ELEMENTS(lists)];
    num = (gint64) strlen(f[2]) * 12345;
    fmt = setting_validate("subject_tag", f[0], &why);
    if (!fmt) {
        if (!why)
            abort();
        g_free(why);
        g_strfreev(f);
        return 0;
    }
    {
        char *dec = japanese_header_decode(f[1]);
        if (!g_utf8_validate(dec, -1, NULL)) {
            fprintf(stderr, "decoded header is not UTF-8\n");
            abort();
        }
        g_free(dec);
    }
    subject = g_utf8_make_valid(f[1], -1);
    once = subject_tag_apply(subject, fmt, list, num);
    if (!once || !g_utf8_validate(once, -1, NULL)) {
        fprintf(stderr, "tagged subject is not UTF-8\n");
        abort();
    }
    check_encoding(once, TRUE);
    check_encoding(once, FALSE);
    g_free(subject_tag_apply(once, fmt, list, num + 1));
    g_free(subject_tag_apply(NULL, fmt, list, num));
    g_free(once);
    g_free(subject);
    g_free(fmt);
    g_strfreev(f);
    return 0;
}
