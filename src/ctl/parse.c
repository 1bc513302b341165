/* parse.c - extracting the command lines of a command mail.
 *
 * Commands come from the Subject (when it starts with a command word,
 * so that a plain reply "Re: confirm TOKEN" to a confirmation request
 * works) and from the first text/plain part, which GMime decodes to
 * UTF-8 from whatever charset and transfer encoding it arrived in.  One
 * command a line; fml's '#' prefix is allowed; blank and quoted ('>')
 * lines are skipped; `end`, `quit`, `exit` or a signature line stop the
 * reading, and so does the list's max_commands. */
#include "config.h"
#include "ctl.h"

#include <string.h>

static const char *const known_commands[] = {
    "help", "guide", "subscribe", "confirm", "unsubscribe", "bye", "signoff", "chaddr",
    "get", "mget", "index", "search", "members", "actives", "status", "summary", "digest",
    "nomail", "mail", "password", "admin", "approve", NULL
};

gboolean
ctl_command_known(const char *word)
{
    return word && g_strv_contains(known_commands, word);
}

/* first_word - lower-cased first word of line (newly allocated). */
static char *
first_word(const char *line)
{
    const char *e = line;
    while (*e && !g_ascii_isspace(*e))
        e++;
    return g_ascii_strdown(line, e - line);
}

/* strip_reply_prefixes - skip "Re:", "Fwd:", "AW:", "Re[2]:" ... */
static const char *
strip_reply_prefixes(const char *s)
{
    static const char *const prefixes[] = { "re", "fwd", "fw", "aw", "sv", "antw", NULL };
    for (;;) {
        const char *p = s, *q;
        gboolean found = FALSE;
        while (g_ascii_isspace(*p))
            p++;
        for (int i = 0; prefixes[i] && !found; i++) {
            size_t n = strlen(prefixes[i]);
            if (g_ascii_strncasecmp(p, prefixes[i], n) != 0)
                continue;
            q = p + n;
            if (*q == '[') {            /* Re[2]: */
                while (g_ascii_isdigit(*++q))
                    ;
                if (*q != ']')
                    continue;
                q++;
            }
            while (*q == ' ')
                q++;
            if (*q == ':') {
                s = q + 1;
                found = TRUE;
            }
        }
        if (!found)
            return p;
    }
}

/* clean_line - a candidate command line: blanks trimmed, '#' dropped,
 * blanks (and CR, LF, FF, VT) inside collapsed to one blank.  NULL for lines that are skipped. */
static char *
clean_line(const char *raw)
{
    char *s = g_strstrip(g_strdup(raw));
    char **words;
    char *joined;

    if (*s == '#') {
        memmove(s, s + 1, strlen(s));
        g_strstrip(s);
    }
    if (!*s || *s == '>') {
        g_free(s);
        return NULL;
    }
    /* a CR or LF inside a line (a bare CR in the body, a decoded
     * Subject) is a blank too: a command line never holds a line end */
    words = g_strsplit_set(s, " \t\r\n\f\v", 0);
    g_free(s);
    {
        GPtrArray *keep = g_ptr_array_new();
        for (int i = 0; words[i]; i++)
            if (*words[i])
                g_ptr_array_add(keep, words[i]);
        g_ptr_array_add(keep, NULL);
        joined = g_strjoinv(" ", (char **) keep->pdata);
        g_ptr_array_free(keep, TRUE);
    }
    g_strfreev(words);
    if (!*joined) {      /* only blanks (a lone VT or FF) */
        g_free(joined);
        return NULL;
    }
    return joined;
}

static gboolean
is_stop_word(const char *line)
{
    char *w = first_word(line);
    gboolean stop = (g_str_equal(w, "end") || g_str_equal(w, "quit") || g_str_equal(w, "exit")) &&
                    strlen(w) == strlen(line);
    g_free(w);
    return stop;
}

static gboolean
seen_before(GPtrArray *out, const char *line)
{
    for (guint i = 0; i < out->len; i++)
        if (g_ascii_strcasecmp(out->pdata[i], line) == 0)
            return TRUE;
    return FALSE;
}

GPtrArray *
ctl_extract_commands(const char *subject, const char *body, guint max, gboolean *cut)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    gboolean stopped = FALSE;

    *cut = FALSE;
    if (max == 0)
        max = 1;
    if (subject) {
        char *line = clean_line(strip_reply_prefixes(subject));
        if (line) {
            char *w = first_word(line);
            if (ctl_command_known(w))
                g_ptr_array_add(out, line);
            else
                g_free(line);
            g_free(w);
        }
    }
    if (body) {
        const char *p = body;
        while (*p && !stopped) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t) (nl - p) : strlen(p);
            char *raw = g_strndup(p, n), *line;
            p = nl ? nl + 1 : p + n;
            if (n > 0 && raw[n - 1] == '\r')
                raw[n - 1] = '\0';
            if (g_str_equal(raw, "-- ") || g_str_equal(raw, "--")) {
                g_free(raw);
                break;
            }
            line = clean_line(raw);
            g_free(raw);
            if (!line)
                continue;
            if (is_stop_word(line)) {
                g_free(line);
                break;
            }
            if (seen_before(out, line)) {
                g_free(line);
                continue;
            }
            if (out->len >= max) {
                *cut = TRUE;
                g_free(line);
                stopped = TRUE;
                break;
            }
            g_ptr_array_add(out, line);
        }
    }
    return out;
}

/* find_text_part - depth first: the first text/plain part that is not an
 * attachment (multipart/alternative gives its text alternative). */
static GMimeTextPart *
find_text_part(GMimeObject *obj)
{
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
            GMimeTextPart *t = find_text_part(g_mime_multipart_get_part(mp, i));
            if (t)
                return t;
        }
        return NULL;
    }
    if (GMIME_IS_TEXT_PART(obj)) {
        GMimeContentType *ct = g_mime_object_get_content_type(obj);
        const char *disp = g_mime_object_get_disposition(obj);
        if (g_mime_content_type_is_type(ct, "text", "plain") &&
            !(disp && g_ascii_strcasecmp(disp, "attachment") == 0))
            return GMIME_TEXT_PART(obj);
    }
    return NULL;
}

char *
ctl_message_text(GMimeMessage *msg)
{
    GMimeObject *top = g_mime_message_get_mime_part(msg);
    GMimeTextPart *t = top ? find_text_part(top) : NULL;
    char *text;

    if (!t)
        return NULL;
    text = message_text_part_text(t);   /* Japanese without loss */
    if (text && !g_utf8_validate(text, -1, NULL)) {
        char *fixed = g_utf8_make_valid(text, -1);
        g_free(text);
        text = fixed;
    }
    return text;
}

char *
ctl_mask_command(const char *line)
{
    char **w = g_strsplit(line, " ", 0);
    int n = (int) g_strv_length(w), secret = -1;
    char *out;

    if (n >= 3 && g_ascii_strcasecmp(w[0], "admin") == 0 &&
        (g_ascii_strcasecmp(w[1], "pass") == 0 || g_ascii_strcasecmp(w[1], "passwd") == 0 ||
         g_ascii_strcasecmp(w[1], "password") == 0))
        secret = 2;
    else if (n >= 2 && (g_ascii_strcasecmp(w[0], "approve") == 0 ||
                        g_ascii_strcasecmp(w[0], "password") == 0 ||
                        g_ascii_strcasecmp(w[0], "passwd") == 0))
        secret = 1;
    if (secret >= 0) {
        /* everything from the password on is masked for password changes,
         * only the password for `approve PASSWORD COMMAND` */
        gboolean rest = g_ascii_strcasecmp(w[0], "approve") != 0;
        for (int i = secret; i < n; i++) {
            if (i == secret || rest) {
                g_free(w[i]);
                w[i] = g_strdup("********");
            }
        }
        /* `approve PW admin passwd NEW` hides NEW too */
        if (!rest && n >= secret + 3 && g_ascii_strcasecmp(w[secret + 1], "admin") == 0 &&
            g_ascii_strncasecmp(w[secret + 2], "pass", 4) == 0)
            for (int i = secret + 3; i < n; i++) {
                g_free(w[i]);
                w[i] = g_strdup("********");
            }
        if (!rest && n >= secret + 2 && g_ascii_strncasecmp(w[secret + 1], "pass", 4) == 0)
            for (int i = secret + 2; i < n; i++) {
                g_free(w[i]);
                w[i] = g_strdup("********");
            }
    }
    out = g_strjoinv(" ", w);
    g_strfreev(w);
    return out;
}
