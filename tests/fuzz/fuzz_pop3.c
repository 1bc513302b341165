/* fuzz_pop3.c - libFuzzer harness for the POP3 server's parsers
 * (src/pop3, no sockets): pop3_parse_command on every input line (as
 * the session does, lines of at most POP3_MAX_COMMAND octets),
 * pop3_parse_msgnum, pop3_split_user (the ADDRESS/LIST user name),
 * pop3_sasl_plain_parse (AUTH PLAIN) on the arguments, and the wire
 * encoder (pop3_encode with a TOP limit from the first byte, fed in
 * pieces) on the whole input.
 * Checks: a good command has a known keyword and argc <= 2 arguments
 * without CR/LF/NUL; the encoder's output has CRLF line ends (a bare CR
 * is content), no
 * line "." before the end, ends in ".\r\n", and with TOP n holds at most
 * n body lines.
 * fuzz-corpus: mime japanese */
#include "fuzz_common.h"
#include "pop3/pop3.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init_libs();
    return 0;
}

static void
check_args(const char *arg)
{
    char *address = NULL, *list = NULL;
    guchar *raw = NULL;
    gsize len = 0;
    const char *authcid, *passwd;
    int rc;

    (void) pop3_parse_msgnum(arg);
    if (pop3_split_user(arg, &address, &list)) {
        if (!address || !list || !*list || strchr(list, '/'))
            abort();
    }
    g_free(address);
    g_free(list);
    rc = pop3_sasl_plain_parse(arg, &raw, &len, &authcid, &passwd);
    if (rc == 0 && (!authcid || !passwd || strlen(passwd) > len))
        abort();
    if (rc == 1 && raw)
        abort();
    g_free(raw);
}

static void
check_command(const char *line)
{
    Pop3Command cmd;
    gboolean ok = pop3_parse_command(line, &cmd);

    if (ok != (cmd.id != POP3_CMD_BAD))
        abort();
    if (ok && (!cmd.name || cmd.argc < 0 || cmd.argc > 2))
        abort();
    if (!ok && !cmd.error)
        abort();
    for (int i = 0; ok && i < cmd.argc; i++) {
        if (!cmd.argv[i] || strpbrk(cmd.argv[i], "\r\n"))
            abort();
        check_args(cmd.argv[i]);
    }
    pop3_command_clear(&cmd);
}

/* check_wire - CRLF only, dot-stuffed, terminated, body lines <= top. */
static void
check_wire(const GString *w, gint64 top)
{
    const char *p = w->str, *end = w->str + w->len;
    gboolean in_body = FALSE;
    gint64 body = 0;

    if (w->len < 3 || memcmp(end - 3, ".\r\n", 3) != 0 || (w->len > 3 && end[-4] != '\n'))
        goto bad;
    end -= 3;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        if (!nl || nl == p || nl[-1] != '\r')
            goto bad;
        if (*p == '.' && (nl - p == 2 || p[1] != '.'))
            goto bad;
        if (in_body)
            body++;
        else if (nl - p == 1)
            in_body = TRUE;
        p = nl + 1;
    }
    if (top >= 0 && body > top)
        goto bad;
    return;
bad:
    fprintf(stderr, "bad POP3 wire form (TOP %" G_GINT64_FORMAT "): %.*s\n", top,
            (int) MIN(w->len, 2000), w->str);
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in;
    const char *p;
    Pop3Encoder e;
    GString *w;
    gint64 top;
    size_t pos, step;

    if (size < 1 || size > 256 * 1024)
        return 0;
    in = fuzz_strndup(data + 1, size - 1);
    for (p = in; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t) (nl - p) : strlen(p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len <= POP3_MAX_SASL_LINE) {
            char *line = g_strndup(p, len);
            if (len <= POP3_MAX_COMMAND)
                check_command(line);
            check_args(line);
            g_free(line);
        }
        p = nl ? nl + 1 : p + strlen(p);
    }
    g_free(in);

    top = data[0] < 0x80 ? -1 : (gint64) (data[0] & 0x0f);
    step = 1 + (data[0] >> 4 & 0x07) * 7;
    pop3_encoder_init(&e, top, TRUE);
    w = g_string_new(NULL);
    for (pos = 1; pos < size; pos += step)
        if (!pop3_encode(&e, (const char *) data + pos, MIN(step, size - pos), w))
            break;
    pop3_encode_finish(&e, w, TRUE);
    check_wire(w, top);
    g_string_free(w, TRUE);
    return 0;
}
