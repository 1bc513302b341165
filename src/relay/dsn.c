/* dsn.c - the DSN extension (RFC 3461): the parsers of the MAIL
 * parameters RET and ENVID and of the RCPT parameters NOTIFY and ORCPT
 * (pure functions, fuzzed by tests/fuzz/fuzz_smtp.c), and helpers that
 * read the canonical parameter strings the queue keeps.
 *
 * Canonical forms (what queue.c stores in the envelope, what the SMTP
 * client passes on to a next hop that offers DSN): MAIL "RET=FULL|HDRS
 * ENVID=xtext", RCPT "NOTIFY=NEVER|SUCCESS,FAILURE,DELAY ORCPT=type;xtext",
 * keywords upper case, each parameter once, xtext as received (RFC 3461
 * section 4: "+" and two upper-case hex digits for octets outside
 * 33..126 and for "+" and "=").  Malformed values get 501 5.5.4. */
#include "config.h"
#include "relay.h"

#include <string.h>

gboolean
dsn_xtext_valid(const char *s, gsize maxlen)
{
    gsize n = 0;
    for (const char *p = s; *p; p++, n++) {
        unsigned char c = (unsigned char) *p;
        if (c == '+') {
            if (!g_ascii_isxdigit(p[1]) || !g_ascii_isxdigit(p[2]) ||
                g_ascii_islower(p[1]) || g_ascii_islower(p[2]))
                return FALSE;
            p += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return FALSE;
        }
    }
    return n > 0 && strlen(s) <= maxlen;
}

char *
dsn_xtext_decode(const char *s)
{
    GString *out = g_string_new(NULL);
    for (const char *p = s; *p; p++) {
        if (*p == '+' && g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2])) {
            int c = g_ascii_xdigit_value(p[1]) * 16 + g_ascii_xdigit_value(p[2]);
            g_string_append_c(out, c >= 32 && c < 127 ? (char) c : '?');
            p += 2;
        } else {
            g_string_append_c(out, *p);
        }
    }
    return g_string_free(out, FALSE);
}

/* notify_flags - NOTIFY's value: NEVER alone, or SUCCESS, FAILURE,
 * DELAY separated by commas; -1 when malformed. */
static int
notify_flags(const char *v)
{
    char **items = g_strsplit(v, ",", -1);
    int flags = 0, n = 0;

    for (char **i = items; *i && flags >= 0; i++, n++) {
        int f = g_ascii_strcasecmp(*i, "NEVER") == 0     ? DSN_NOTIFY_NEVER
                : g_ascii_strcasecmp(*i, "SUCCESS") == 0 ? DSN_NOTIFY_SUCCESS
                : g_ascii_strcasecmp(*i, "FAILURE") == 0 ? DSN_NOTIFY_FAILURE
                : g_ascii_strcasecmp(*i, "DELAY") == 0   ? DSN_NOTIFY_DELAY
                                                         : -1;
        flags = f < 0 || (flags & f) ? -1 : flags | f;
    }
    g_strfreev(items);
    if (n == 0 || flags <= 0 || ((flags & DSN_NOTIFY_NEVER) && flags != DSN_NOTIFY_NEVER))
        return -1;
    return flags;
}

/* orcpt_valid - "addr-type;xtext" with an atom as addr-type. */
static gboolean
orcpt_valid(const char *v)
{
    const char *semi = strchr(v, ';');
    if (!semi || semi == v || semi - v > 64)
        return FALSE;
    for (const char *p = v; p < semi; p++)
        if (!g_ascii_isalnum(*p) && *p != '-')
            return FALSE;
    return dsn_xtext_valid(semi + 1, 500);
}

char *
dsn_mail_params(const char *params, const char **err)
{
    char **words = g_strsplit(params ? params : "", " ", -1);
    char *ret = NULL, *envid = NULL, *out = NULL;

    *err = NULL;
    for (char **w = words; *w && !*err; w++) {
        if (g_ascii_strncasecmp(*w, "RET=", 4) == 0) {
            if (ret)
                *err = "501 5.5.4 Duplicate RET parameter";
            else if (g_ascii_strcasecmp(*w + 4, "FULL") == 0 || g_ascii_strcasecmp(*w + 4, "HDRS") == 0)
                ret = g_ascii_strup(*w + 4, -1);
            else
                *err = "501 5.5.4 Bad RET parameter (FULL or HDRS)";
        } else if (g_ascii_strncasecmp(*w, "ENVID=", 6) == 0) {
            if (envid)
                *err = "501 5.5.4 Duplicate ENVID parameter";
            else if (dsn_xtext_valid(*w + 6, 100))
                envid = g_strdup(*w + 6);
            else
                *err = "501 5.5.4 Bad ENVID parameter (xtext, at most 100 characters)";
        }
    }
    if (!*err)
        out = g_strdup_printf("%s%s%s%s%s", ret ? "RET=" : "", ret ? ret : "", ret && envid ? " " : "",
                              envid ? "ENVID=" : "", envid ? envid : "");
    g_strfreev(words);
    g_free(ret);
    g_free(envid);
    return out;
}

char *
dsn_rcpt_params(const char *params, const char **err)
{
    char **words = g_strsplit(params ? params : "", " ", -1);
    char *notify = NULL, *orcpt = NULL, *out = NULL;

    *err = NULL;
    for (char **w = words; *w && !*err; w++) {
        if (!**w)
            continue;
        if (g_ascii_strncasecmp(*w, "NOTIFY=", 7) == 0) {
            int f = notify_flags(*w + 7);
            if (notify)
                *err = "501 5.5.4 Duplicate NOTIFY parameter";
            else if (f < 0)
                *err = "501 5.5.4 Bad NOTIFY parameter (NEVER, or SUCCESS,FAILURE,DELAY)";
            else
                notify = g_strdup_printf("%s%s%s%s%s%s%s", f & DSN_NOTIFY_NEVER ? "NEVER" : "",
                                         f & DSN_NOTIFY_SUCCESS ? "SUCCESS" : "",
                                         f & DSN_NOTIFY_SUCCESS && f & (DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY) ? "," : "",
                                         f & DSN_NOTIFY_FAILURE ? "FAILURE" : "",
                                         f & DSN_NOTIFY_FAILURE && f & DSN_NOTIFY_DELAY ? "," : "",
                                         f & DSN_NOTIFY_DELAY ? "DELAY" : "", "");
        } else if (g_ascii_strncasecmp(*w, "ORCPT=", 6) == 0) {
            if (orcpt)
                *err = "501 5.5.4 Duplicate ORCPT parameter";
            else if (orcpt_valid(*w + 6))
                orcpt = g_strdup(*w + 6);
            else
                *err = "501 5.5.4 Bad ORCPT parameter (addr-type;xtext)";
        } else {
            *err = "555 5.5.4 Unsupported RCPT parameter";
        }
    }
    if (!*err)
        out = g_strdup_printf("%s%s%s%s%s", notify ? "NOTIFY=" : "", notify ? notify : "",
                              notify && orcpt ? " " : "", orcpt ? "ORCPT=" : "", orcpt ? orcpt : "");
    g_strfreev(words);
    g_free(notify);
    g_free(orcpt);
    return out;
}

char *
dsn_param(const char *params, const char *name)
{
    gsize nl = strlen(name);
    char **words = g_strsplit(params ? params : "", " ", -1);
    char *v = NULL;
    for (char **w = words; *w && !v; w++)
        if (g_ascii_strncasecmp(*w, name, nl) == 0 && (*w)[nl] == '=')
            v = g_strdup(*w + nl + 1);
    g_strfreev(words);
    return v;
}

int
dsn_notify(const char *rcpt_params)
{
    char *v = dsn_param(rcpt_params, "NOTIFY");
    int f = v ? notify_flags(v) : 0;
    g_free(v);
    return f < 0 ? 0 : f;
}
