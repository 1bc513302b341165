/* command.c - parse one POP3 command line (RFC 1939, RFC 2449, RFC 2595,
 * RFC 5034) into a keyword and its checked arguments.  It knows nothing
 * of sessions or states, so it can be unit-tested on its own
 * (tests/unit/test_pop3_command.c). */
#include "config.h"
#include "pop3.h"

#include <string.h>

typedef struct {
    const char *name;
    Pop3CommandId id;
    int min_args, max_args;
    gboolean numeric;    /* arguments are numbers (message number, lines) */
} CommandDef;

static const CommandDef commands[] = {
    { "USER", POP3_CMD_USER, 1, 1, FALSE },
    { "PASS", POP3_CMD_PASS, 1, 1, FALSE },   /* rest of line, spaces allowed */
    { "APOP", POP3_CMD_APOP, 2, 2, FALSE },
    { "AUTH", POP3_CMD_AUTH, 0, 2, FALSE },
    { "STLS", POP3_CMD_STLS, 0, 0, FALSE },
    { "CAPA", POP3_CMD_CAPA, 0, 0, FALSE },
    { "QUIT", POP3_CMD_QUIT, 0, 0, FALSE },
    { "STAT", POP3_CMD_STAT, 0, 0, FALSE },
    { "LIST", POP3_CMD_LIST, 0, 1, TRUE },
    { "RETR", POP3_CMD_RETR, 1, 1, TRUE },
    { "DELE", POP3_CMD_DELE, 1, 1, TRUE },
    { "NOOP", POP3_CMD_NOOP, 0, 0, FALSE },
    { "RSET", POP3_CMD_RSET, 0, 0, FALSE },
    { "TOP", POP3_CMD_TOP, 2, 2, TRUE },
    { "UIDL", POP3_CMD_UIDL, 0, 1, TRUE },
};

guint64
pop3_parse_msgnum(const char *s)
{
    guint64 v = 0;

    if (!s || !*s || strlen(s) > 18)
        return 0;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isdigit(*p))
            return 0;
        v = v * 10 + (guint64) (*p - '0');
    }
    return v;
}

/* TOP's line count may be 0; a message number may not. */
static gboolean
is_number(const char *s)
{
    if (!s || !*s || strlen(s) > 18)
        return FALSE;
    for (const char *p = s; *p; p++)
        if (!g_ascii_isdigit(*p))
            return FALSE;
    return TRUE;
}

void
pop3_command_clear(Pop3Command *cmd)
{
    g_free(cmd->argv[0]);
    g_free(cmd->argv[1]);
    memset(cmd, 0, sizeof(*cmd));
}

static gboolean
bad(Pop3Command *cmd, const char *why)
{
    g_free(cmd->argv[0]);
    g_free(cmd->argv[1]);
    cmd->argv[0] = cmd->argv[1] = NULL;
    cmd->argc = 0;
    cmd->id = POP3_CMD_BAD;
    cmd->error = why;
    return FALSE;
}

gboolean
pop3_parse_command(const char *line, Pop3Command *cmd)
{
    const CommandDef *def = NULL;
    const char *p = line, *kw;
    size_t kwlen;

    memset(cmd, 0, sizeof(*cmd));
    for (const char *q = line; *q; q++)
        if ((unsigned char) *q < 0x20 && *q != '\t')
            return bad(cmd, "control character in command");
    kw = p;
    while (*p && *p != ' ')
        p++;
    kwlen = (size_t) (p - kw);
    if (kwlen == 0)
        return bad(cmd, "empty command");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (strlen(commands[i].name) == kwlen && g_ascii_strncasecmp(kw, commands[i].name, kwlen) == 0)
            def = &commands[i];
    if (!def)
        return bad(cmd, "unknown command");
    cmd->name = def->name;
    cmd->id = def->id;

    if (def->id == POP3_CMD_PASS) {
        /* RFC 1939 allows spaces in the password: take the rest of the line. */
        if (*p != ' ' || p[1] == '\0')
            return bad(cmd, "PASS needs a password");
        cmd->argv[0] = g_strdup(p + 1);
        cmd->argc = 1;
        return TRUE;
    }

    while (*p == ' ') {
        const char *start;
        p++;
        if (*p == ' ' || *p == '\0')
            return bad(cmd, "extra blank in command");
        start = p;
        while (*p && *p != ' ')
            p++;
        if (cmd->argc >= def->max_args)
            return bad(cmd, "too many arguments");
        if ((size_t) (p - start) > POP3_MAX_ARG && def->id != POP3_CMD_AUTH)
            return bad(cmd, "argument too long");
        cmd->argv[cmd->argc++] = g_strndup(start, (gsize) (p - start));
    }
    if (cmd->argc < def->min_args)
        return bad(cmd, "missing argument");
    if (def->numeric) {
        for (int i = 0; i < cmd->argc; i++) {
            gboolean ok = (def->id == POP3_CMD_TOP && i == 1) ? is_number(cmd->argv[i])
                                                              : pop3_parse_msgnum(cmd->argv[i]) > 0;
            if (!ok)
                return bad(cmd, "invalid message number");
        }
    }
    return TRUE;
}

int
pop3_sasl_plain_parse(const char *b64, guchar **raw, gsize *len, const char **authcid,
                      const char **passwd)
{
    const char *nul1, *nul2 = NULL, *r;

    *raw = NULL;
    *len = 0;
    *authcid = *passwd = NULL;
    for (const char *p = b64; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '+' && *p != '/' && *p != '=')
            return 1;
    *raw = g_base64_decode(b64, len);
    *raw = g_realloc(*raw, *len + 1);
    (*raw)[*len] = '\0';
    r = (const char *) *raw;
    nul1 = memchr(r, '\0', *len);
    if (nul1)
        nul2 = memchr(nul1 + 1, '\0', *len - (gsize) (nul1 + 1 - r));
    if (!nul2)
        return 2;
    *authcid = nul1 + 1;
    *passwd = nul2 + 1;
    if (strlen(*passwd) != *len - (gsize) (*passwd - r) ||
        (nul1 != r && strcmp(r, *authcid) != 0))
        return 2;
    return 0;
}
