/* fuzz_imap.c - libFuzzer harness for the IMAP server's command parser
 * (src/imap/parse.c, no sockets): the input is cut into commands the way
 * the session reads them (lines; a line ending in {N} or {N+} takes the
 * next N octets as its literal, N bounded as in the session), and each
 * command goes through imap_parse_command; every atom of a parsed
 * command goes through imap_parse_set and the flag checks.
 * Checks: a parsed command has a tag without blanks and an upper-case
 * name; strings are at most IMAP_MAX_LITERAL long when they came as
 * literals; a set's ranges are ordered; imap_quote of any string parses
 * back to the same string; a flag change result holds only valid flags.
 * fuzz-corpus: */
#include "fuzz_common.h"
#include "imap/imap.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_init_libs();
    return 0;
}

static void
round_trip(const char *s, gsize len)
{
    GString *cmd = g_string_new("t1 X ");
    ImapCommand c;
    const char *why;
    const ImapArg *a;

    imap_quote_len(cmd, s, len);
    if (len > IMAP_MAX_LITERAL) {
        g_string_free(cmd, TRUE);
        return;
    }
    if (!imap_parse_command(cmd->str, cmd->len, &c, &why))
        abort();
    if (c.args->len != 1)
        abort();
    a = c.args->pdata[0];
    if (a->type != IMAP_ARG_STRING || a->len != len || memcmp(a->str, s, len) != 0)
        abort();
    imap_command_clear(&c);
    g_string_free(cmd, TRUE);
}

static void
check_arg(const ImapArg *a, int depth)
{
    if (depth > IMAP_MAX_DEPTH + 1)
        abort();
    if (a->type == IMAP_ARG_LIST) {
        for (guint i = 0; i < a->list->len; i++)
            check_arg(a->list->pdata[i], depth + 1);
        return;
    }
    if (a->len > IMAP_MAX_COMMAND)
        abort();
    if (a->type == IMAP_ARG_ATOM) {
        GArray *set = imap_parse_set(a->str);
        if (set) {
            for (guint i = 0; i < set->len; i++) {
                ImapRange *r = &g_array_index(set, ImapRange, i);
                if (r->lo > r->hi || r->lo == 0)
                    abort();
            }
            (void) imap_set_contains(set, 5, 10);
            g_array_free(set, TRUE);
        }
        if (imap_flags_valid(a->str)) {
            char *change[] = { a->str, NULL };
            char *f = imap_flags_change("\\Seen kw", '+', change), *g;
            char **v = g_strsplit(f, " ", -1);
            for (int i = 0; v[i]; i++)
                if (!imap_flags_valid(v[i]))
                    abort();
            g_strfreev(v);
            g = imap_flags_change(f, '-', change);
            if (imap_flags_has(g, a->str))
                abort();
            g_free(f);
            g_free(g);
        }
    }
    round_trip(a->str, a->len);
}

static void
parse_one(const char *buf, gsize len)
{
    ImapCommand c;
    const char *why;

    if (imap_parse_command(buf, len, &c, &why)) {
        if (!c.tag || !*c.tag || strchr(c.tag, ' ') || !c.name)
            abort();
        for (const char *p = c.name; *p; p++)
            if (g_ascii_islower(*p))
                abort();
        for (guint i = 0; i < c.args->len; i++)
            check_arg(c.args->pdata[i], 0);
    } else if (!why) {
        abort();
    }
    imap_command_clear(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *) data, *end = p + size;
    GString *cmd = g_string_new(NULL);

    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t) (end - p));
        const char *stop = lf ? lf : end;
        gsize n = (gsize) (stop - p);
        gboolean nonsync;
        gint64 lit;

        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > IMAP_MAX_LINE) {
            g_string_truncate(cmd, 0);
            p = lf ? lf + 1 : end;
            continue;
        }
        g_string_append_len(cmd, p, (gssize) n);
        p = lf ? lf + 1 : end;
        lit = imap_line_literal(cmd->str + cmd->len - n, n, &nonsync);
        if (lit >= 0 && lit <= IMAP_MAX_LITERAL && (gsize) lit <= (gsize) (end - p)) {
            g_string_append(cmd, "\r\n");
            g_string_append_len(cmd, p, (gssize) lit);
            p += lit;
            continue;
        }
        parse_one(cmd->str, cmd->len);
        g_string_truncate(cmd, 0);
    }
    if (cmd->len)
        parse_one(cmd->str, cmd->len);
    g_string_free(cmd, TRUE);
    return 0;
}
