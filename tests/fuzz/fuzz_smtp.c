/* fuzz_smtp.c - libFuzzer harness for the SMTP server's parsers
 * (src/relay, no sockets).  Every input line is split into command and
 * argument as session_run does; MAIL FROM:/RCPT TO: arguments go through
 * smtp_path_arg, address_normalize, smtp_mail_params and
 * relay_local_target (against a throw-away instance with one list), AUTH
 * arguments through base64 decoding and smtp_auth_plain_split (the user
 * name then through the guessing guard's keys, authguard_account_key and,
 * as a client address, authguard_ip_key); then the
 * whole input is read as DATA text (smtp_data_line over the lines, in
 * pieces of at most a few bytes when the first byte says so, like
 * conn_read_line's rc 2) and the stored text is sent back out through
 * smtp_wire_append.
 * Checks: a path has no blank and no '>'; an accepted recipient of our
 * domain is a list address; a command line with a CR is found
 * (smtp_line_has_bare_cr, refused with 501); the duplicate key of a
 * recipient does not depend on the case of its domain; the DATA text
 * ends only at a "." line with CRLF on both sides; smtp_data_line's
 * bare_cr is set exactly when the text read holds a CR not followed by
 * LF; the wire form never holds a bare CR; the stored text, stuffed
 * again for the wire and read back as DATA, is the same text (round
 * trip).
 * relay2: MAIL/RCPT parameters also go through the DSN parsers
 * (dsn_mail_params, dsn_rcpt_params): an accepted canonical form parses
 * again to itself, holds no CR/LF, its NOTIFY flags are consistent
 * (NEVER alone) and its xtext decodes to printable ASCII; a normalised
 * address with UTF-8 (SMTPUTF8) is valid UTF-8 without CR or LF.
 * The whole input is also read as an MTA-STS policy (mtasts_parse): a
 * parsed policy has a known mode, max_age within a year, mx patterns
 * without blanks, and every pattern matches itself (with "*." replaced
 * by a label).
 * fuzz-corpus: mime */
#include "fuzz_common.h"
#include "address.h"
#include "authguard.h"
#include "relay/relay.h"

static Instance *inst;
static Relay *relay;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    GError *error = NULL;

    fuzz_init_libs();
    inst = fuzz_instance();
    fuzz_newlist(inst, "team", "owner@example.org");
    relay = relay_config_load(inst, &error);
    if (!relay) {
        fprintf(stderr, "fuzz: relay_config_load: %s\n", error->message);
        abort();
    }
    return 0;
}

/* check_dsn - the DSN parameter parsers on params. */
static void
check_dsn(const char *params, gboolean mail)
{
    const char *err = NULL, *err2 = NULL;
    char *c = mail ? dsn_mail_params(params, &err) : dsn_rcpt_params(params, &err);
    char *again, *v;

    if (!c) {
        if (!err || (err[0] != '5'))
            abort();
        return;
    }
    if (err || strpbrk(c, "\r\n"))
        abort();
    again = mail ? dsn_mail_params(c, &err2) : dsn_rcpt_params(c, &err2);
    if (!again || !g_str_equal(again, c)) {
        fprintf(stderr, "DSN canonical form not stable: '%s' -> '%s'\n", c, again ? again : "(null)");
        abort();
    }
    if (!mail) {
        int f = dsn_notify(c);
        if ((f & DSN_NOTIFY_NEVER) && f != DSN_NOTIFY_NEVER)
            abort();
    }
    v = dsn_param(c, mail ? "ENVID" : "ORCPT");
    if (v) {
        char *dec = dsn_xtext_decode(v);
        for (const char *q = dec; *q; q++)
            if ((unsigned char) *q < 0x20 || (unsigned char) *q >= 0x7f)
                abort();
        g_free(dec);
    }
    (void) smtp_params_have(params, "SMTPUTF8");
    g_free(v);
    g_free(again);
    g_free(c);
}

static void
check_path(const char *arg, gboolean mail)
{
    const char *params = NULL, *why = NULL, *mode = NULL;
    char *addr = smtp_path_arg(arg, &params), *norm, *list = NULL;

    if (!addr)
        return;
    if (strchr(addr, ' ') || strchr(addr, '>') || !params)
        abort();
    if (mail)
        (void) smtp_mail_params(params, 20971520);
    check_dsn(params, mail);
    norm = *addr ? address_normalize(addr, &why) : NULL;
    if (norm && (!g_utf8_validate(norm, -1, NULL) || strpbrk(norm, "\r\n")))
        abort();
    if (norm && relay_local_target(relay, norm, &list, &mode)) {
        if (list && (!g_str_equal(list, "team") || !mode))
            abort();
    }
    if (norm && strrchr(norm, '@')) {
        /* the same address with its domain in upper case: the same key */
        char *upper = g_strdup(norm), *k1 = smtp_rcpt_key(norm, list != NULL), *k2;
        char *at = strrchr(upper, '@');
        for (char *q = at; *q; q++)
            *q = g_ascii_toupper(*q);
        k2 = smtp_rcpt_key(upper, list != NULL);
        if (!g_str_equal(k1, k2))
            abort();
        g_free(k1);
        g_free(k2);
        g_free(upper);
    }
    g_free(list);
    g_free(norm);
    g_free(addr);
}

static void
check_auth(const char *arg)
{
    char **w = g_strsplit(arg, " ", 2);
    gsize len = 0;
    char *buf, *user = NULL, *pass = NULL;

    if (w[0] && w[1]) {
        buf = (char *) g_base64_decode(w[1], &len);
        if (buf && smtp_auth_plain_split(buf, len, &user, &pass)) {
            char *ak = authguard_account_key(user), *ik = authguard_ip_key(user);
            if (strlen(user) > len || strlen(pass) > len)
                abort();
            if ((*user && (!ak || !g_str_has_prefix(ak, "acct:"))) || (*user && (!ik || !g_str_has_prefix(ik, "ip:"))))
                abort();
            g_free(ak);
            g_free(ik);
        }
        g_free(user);
        g_free(pass);
        g_free(buf);
    }
    g_strfreev(w);
}

static void
commands(const char *in)
{
    for (const char *p = in; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t) (nl - p) : strlen(p);
        char *line, *arg;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (smtp_line_has_bare_cr(p, len) != (memchr(p, '\r', len) != NULL))
            abort();
        line = g_strndup(p, len);
        arg = strchr(line, ' ');
        if (arg)
            *arg++ = '\0';
        else
            arg = (char *) "";
        if (g_ascii_strcasecmp(line, "MAIL") == 0 && g_ascii_strncasecmp(arg, "FROM:", 5) == 0)
            check_path(arg + 5, TRUE);
        else if (g_ascii_strcasecmp(line, "RCPT") == 0 && g_ascii_strncasecmp(arg, "TO:", 3) == 0)
            check_path(arg + 3, FALSE);
        else if (g_ascii_strcasecmp(line, "AUTH") == 0)
            check_auth(arg);
        else
            (void) smtp_mail_params(arg, 1000);
        g_free(line);
        p = nl ? nl + 1 : p + strlen(p);
    }
}

/* check_bare_cr - is there a CR not followed by LF in d[0, n) (the lines
 * read, each with its LF)?  It must be what smtp_data_line found. */
static void
check_bare_cr(const uint8_t *d, size_t n, gboolean found)
{
    gboolean want = FALSE;
    for (size_t i = 0; i < n && !want; i++)
        if (d[i] == '\r' && (i + 1 >= n || d[i + 1] != '\n'))
            want = TRUE;
    if (want != found) {
        fprintf(stderr, "bare CR %s by smtp_data_line\n", want ? "missed" : "wrongly reported");
        abort();
    }
}

/* data - the input as DATA text: lines as conn_read_line gives them (LF
 * or CRLF ends a line; at most piece bytes per call, rc 2 for a piece
 * of a longer line).  Returns the stored text; *end where the final dot
 * line starts (or size).  Aborts when st.bare_cr disagrees with the
 * text read. */
static GString *
data(const uint8_t *d, size_t size, size_t piece, size_t *end)
{
    GString *out = g_string_new(NULL);
    SmtpData st = { TRUE, TRUE, FALSE, FALSE };
    size_t pos = 0;

    *end = size;
    while (pos < size) {
        const uint8_t *nl = memchr(d + pos, '\n', size - pos);
        size_t linelen = nl ? (size_t) (nl - (d + pos)) : size - pos;
        size_t start = pos;
        gboolean crlf = nl && linelen > 0 && d[pos + linelen - 1] == '\r';
        size_t textlen = crlf ? linelen - 1 : linelen;
        size_t off = 0;
        int rc;

        if (!nl)   /* a last line without LF: the connection closed */
            break;
        do {
            size_t n = MIN(piece, textlen - off);
            const char *p = (const char *) d + pos + off;
            gsize len = n;
            rc = off + n < textlen ? 2 : 1;
            if (smtp_data_line(&st, rc, rc == 1 ? crlf : FALSE, &p, &len)) {
                if (rc != 1 || textlen != 1 || d[start] != '.' || !crlf ||
                    (start > 0 && (start < 2 || d[start - 2] != '\r'))) {
                    fprintf(stderr, "DATA ended at a line that is not CRLF.CRLF\n");
                    abort();
                }
                *end = start;
                check_bare_cr(d, start, st.bare_cr);
                return out;
            }
            g_string_append_len(out, p, len);
            if (rc == 1)
                g_string_append_c(out, '\n');
            off += n;
        } while (rc == 2);
        pos += linelen + 1;
    }
    check_bare_cr(d, pos, st.bare_cr);
    return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
    char *in;
    GString *text, *wire;
    size_t end, piece;

    if (size < 1 || size > 256 * 1024)
        return 0;
    in = fuzz_strndup(d + 1, size - 1);
    commands(in);
    g_free(in);

    {
        MtaStsPolicy *pol = mtasts_parse((const char *) d + 1, size - 1);
        if (pol) {
            if (pol->mode < MTASTS_NONE || pol->mode > MTASTS_ENFORCE || pol->max_age < 0 ||
                pol->max_age > 31557600)
                abort();
            for (guint i = 0; i < pol->mx->len; i++) {
                const char *pat = pol->mx->pdata[i];
                char *host = pat[0] == '*' && pat[1] == '.' ? g_strconcat("x", pat + 1, NULL) : g_strdup(pat);
                if (strpbrk(pat, " \t\r\n"))
                    abort();
                if (*host && host[strlen(host) - 1] != '.' && !mtasts_mx_match(pol, host)) {
                    fprintf(stderr, "mx pattern '%s' does not match '%s'\n", pat, host);
                    abort();
                }
                g_free(host);
            }
            mtasts_policy_free(pol);
        }
    }
    piece = d[0] < 0x80 ? 65536 : 1 + (d[0] & 0x07);
    text = data(d + 1, size - 1, piece, &end);
    wire = g_string_new(NULL);
    smtp_wire_append(wire, text->str, text->len);
    g_string_append(wire, ".\r\n");
    for (gsize i = 0; i < wire->len; i++)
        if (wire->str[i] == '\r' && (i + 1 >= wire->len || wire->str[i + 1] != '\n')) {
            fprintf(stderr, "the wire form holds a bare CR\n");
            abort();
        }
    /* what the relay sends on (stuffed, CRLF) reads back as the same text
     * (bare CRs aside: the wire form drops a CR before LF) */
    if (!memchr(text->str, '\r', text->len)) {
        size_t end2;
        GString *again = data((const uint8_t *) wire->str, wire->len, piece, &end2);
        if (!g_string_equal(again, text) || end2 != wire->len - 3) {
            fprintf(stderr, "DATA round trip differs:\n%s\n---\n%s\n", text->str, again->str);
            abort();
        }
        g_string_free(again, TRUE);
    }
    g_string_free(wire, TRUE);
    g_string_free(text, TRUE);
    return 0;
}
