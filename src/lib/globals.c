/* globals.c - the table of kairan.conf's [global] keys (type, default,
 * bounds, help), their validation, the check of a whole kairan.conf and
 * `kairan config --global KEY VALUE`.  Every reader of a [global] key goes
 * through instance_global*() (instance.c), which take defaults from here:
 * a default is written once, in this table. */
#include "config.h"
#include "globals.h"
#include "log.h"
#include "util.h"

#include <gio/gio.h>
#include <string.h>

#define DAY (86400)
#define BIG G_MAXINT32

static const GlobalDef table[] = {
    /* the instance */
    { "domain", GLOBAL_DOMAIN, "localhost", NULL, 0, 0, "the mail domain of the lists (LIST@domain)" },
    { "hostname", GLOBAL_DOMAIN, "", NULL, 0, 0, "this host's name in SMTP greetings and Received: (default: domain)" },
    { "web_url", GLOBAL_URL, "", NULL, 0, 0, "public base URL of the web interface, for confirm and one-click links" },
    { "db_busy_timeout", GLOBAL_DURATION, "60", NULL, 1, DAY,
      "how long a process waits for the database write lock before a temporary failure" },
    { "tls_cert", GLOBAL_PATH, "", NULL, 0, 0, "PEM certificate (chain) of the relay's STARTTLS and POP3's STLS/POP3S" },
    { "tls_key", GLOBAL_PATH, "", NULL, 0, 0, "PEM private key of tls_cert" },
    { "dns_resolver", GLOBAL_HOSTPORT, "", NULL, 0, 0, "DNS server to ask (host:port); empty = the system resolver" },
    { "auth_guard_free", GLOBAL_UINT, "3", NULL, 0, BIG,
      "failed logins (per client address and per account) answered without delay" },
    { "auth_guard_max_delay", GLOBAL_SECONDS, "15", NULL, 0, 120,
      "longest delay of the guessing guard, seconds (it doubles from 0.25 s with each failure)" },
    { "auth_guard_forget", GLOBAL_DURATION, "15m", NULL, 1, DAY,
      "quiet time after which the guessing guard forgets failures" },
    /* s12-site: the alias map, written again when the web or the API creates or removes a list */
    { "aliases_postalias", GLOBAL_BOOL, "no", NULL, 0, 0,
      "after a list is created or removed (newlist, rmlist, the web, the REST API) also run postalias on HOME/aliases" },
    { "aliases_postfix_config", GLOBAL_PATH, "", NULL, 0, 0,
      "Postfix configuration directory postalias is run with (-c DIR); empty = Postfix's default" },
    /* the relay */
    { "relay_listen", GLOBAL_HOSTPORT, "127.0.0.1:2525", NULL, 0, 0, "address of kairan relay's SMTP server" },
    { "relay_members", GLOBAL_BOOL, "no", NULL, 0, 0,
      "may a list member's SMTP AUTH login (ADDRESS/LIST) relay to other domains (see \"The relay\")" },
    { "mynetworks", GLOBAL_NETWORKS, "127.0.0.0/8;::1", NULL, 0, 0, "clients allowed to relay (CIDR, ';' separated)" },
    { "smarthost", GLOBAL_HOSTPORTS, "", NULL, 0, 0, "host:port to send all outgoing mail through, or several (a:25,b:25) tried in order; empty = MX lookup" },
    { "pop_before_smtp", GLOBAL_DURATION, "0", NULL, 0, 7 * DAY, "after a POP3/IMAP login from an IP, that IP may relay for this long (0 = off; SMTP AUTH is better)" },
    { "tls_verify", GLOBAL_ENUM, "none", "none|mta-sts|dane|always", 0, 0, "outbound TLS: none = opportunistic, mta-sts = verified where the domain publishes an enforce policy (RFC 8461), dane = DANE where DNSSEC-validated TLSA records exist (RFC 7672; dns_resolver must be a local validating resolver), else as mta-sts, always = verified everywhere" },
    { "tls_rpt", GLOBAL_BOOL, "no", NULL, 0, 0, "record outbound TLS sessions and send daily TLS reports to domains that ask for them (RFC 8460 _smtp._tls TXT)" },
    { "tls_ca_file", GLOBAL_PATH, "", NULL, 0, 0, "PEM CA certificates outbound TLS is verified with (empty = the system's)" },
    { "mta_sts_port", GLOBAL_UINT, "443", NULL, 1, 65535, "port of the HTTPS MTA-STS policy fetch (443; another value only for tests)" },
    { "smarthost_auth_file", GLOBAL_PATH, "", NULL, 0, 0, "file of client AUTH credentials, a line \"HOST USER PASSWORD\" per smarthost (sent only over TLS)" },
    { "smarthost_skip_time", GLOBAL_DURATION, "60", NULL, 1, DAY, "how long a smarthost (or route host) that failed is skipped in favour of the next" },
    { "routes", GLOBAL_ROUTES, "", NULL, 0, 0, "static routes: example.test=[127.0.0.1]:2626;other.test=[127.0.0.1]:2727" },
    { "mx_port", GLOBAL_UINT, "25", NULL, 1, 65535, "port of MX and A deliveries" },
    { "max_rcpt_per_txn", GLOBAL_UINT, "100", NULL, 1, 100000, "recipients per outgoing SMTP transaction" },
    { "max_queue_lifetime", GLOBAL_DURATION, "5d", NULL, 60, 365 * DAY, "how long undeliverable mail is retried before it bounces" },
    { "delay_warning_time", GLOBAL_DURATION, "4h", NULL, 0, 30 * DAY, "after this long in the queue the sender is told once that the mail is delayed (0 = never)" },
    { "retry_min", GLOBAL_DURATION, "300", NULL, 1, 30 * DAY, "first retry delay after a temporary failure" },
    { "retry_max", GLOBAL_DURATION, "3600", NULL, 1, 30 * DAY, "longest retry delay (the delay doubles up to it)" },
    { "message_size_limit", GLOBAL_UINT, "20971520", NULL, 0, BIG, "largest message the relay accepts, bytes (0 = no limit)" },
    { "smtpd_timeout", GLOBAL_DURATION, "300", NULL, 1, DAY, "idle time before the SMTP server drops a client" },
    { "smtp_timeout", GLOBAL_DURATION, "300", NULL, 1, DAY, "how long the SMTP client waits for a reply" },
    { "smtp_connect_timeout", GLOBAL_DURATION, "30", NULL, 1, DAY, "how long the SMTP client waits to connect" },
    { "smtpd_max_connections", GLOBAL_UINT, "100", NULL, 1, 100000, "simultaneous SMTP clients" },
    { "smtpd_max_per_client", GLOBAL_UINT, "20", NULL, 1, 100000, "simultaneous SMTP connections from one IP address" },
    { "smtpd_max_recipients", GLOBAL_UINT, "1000", NULL, 1, 1000000, "RCPT TO accepted in one incoming transaction" },
    { "smtpd_max_errors", GLOBAL_UINT, "20", NULL, 1, 100000, "errors before the SMTP server drops a client" },
    { "smtp_max_connections", GLOBAL_UINT, "20", NULL, 1, 100000, "simultaneous outgoing connections" },
    { "smtp_max_per_destination", GLOBAL_UINT, "10", NULL, 1, 100000, "simultaneous outgoing connections to one destination" },
    { "smtp_connection_cache_time", GLOBAL_DURATION, "2", NULL, 0, 3600, "how long an idle outgoing connection is kept for reuse" },
    { "maintain_interval", GLOBAL_DURATION, "60", NULL, 1, 3600, "how often kairan relay runs the periodic tasks that are due (kairan maintain)" },
    /* POP3 */
    { "pop3_listen", GLOBAL_HOSTPORT, "127.0.0.1:1110", NULL, 0, 0, "address of kairan pop3d (STLS on it)" },
    { "pop3s_listen", GLOBAL_HOSTPORT, "", NULL, 0, 0, "address of POP3 over implicit TLS (RFC 8314); empty = off" },
    { "pop3_plaintext_auth", GLOBAL_ENUM, "loopback", "loopback|tls|any", 0, 0,
      "where USER/PASS and AUTH PLAIN are allowed: loopback clients or TLS, only TLS, anywhere" },
    { "pop3_apop", GLOBAL_BOOL, "yes", NULL, 0, 0, "offer APOP (keeps the member's POP3 password in clear for it)" },
    { "pop3_login_delay", GLOBAL_SECONDS, "2", NULL, 0, 60, "seconds a failed POP3 login waits before its answer" },
    { "pop3_login_failures", GLOBAL_UINT, "10", NULL, 0, 100000, "no longer used: the guessing guard (auth_guard_*) replaces this lockout" },
    { "pop3_login_window", GLOBAL_DURATION, "15m", NULL, 1, DAY, "no longer used: the guessing guard (auth_guard_*) replaces this lockout" },
    { "pop3_max_clients", GLOBAL_UINT, "100", NULL, 1, 100000, "simultaneous POP3 clients" },
    { "pop3_timeout", GLOBAL_DURATION, "10m", NULL, 1, DAY - 1, "idle time before pop3d drops a client" },
    /* IMAP */
    { "imap_listen", GLOBAL_HOSTPORT, "127.0.0.1:1143", NULL, 0, 0, "address of kairan imapd (STARTTLS on it)" },
    { "imaps_listen", GLOBAL_HOSTPORT, "", NULL, 0, 0, "address of IMAP over implicit TLS (RFC 8314); empty = off" },
    { "imap_plaintext_auth", GLOBAL_ENUM, "loopback", "loopback|tls|any", 0, 0,
      "where IMAP LOGIN and AUTHENTICATE PLAIN are allowed: loopback clients or TLS, only TLS, anywhere" },
    { "imap_login_delay", GLOBAL_SECONDS, "2", NULL, 0, 60, "seconds a failed IMAP login waits before its answer" },
    { "imap_max_clients", GLOBAL_UINT, "100", NULL, 1, 100000, "simultaneous IMAP clients" },
    { "imap_timeout", GLOBAL_DURATION, "30m", NULL, 1, DAY - 1, "idle time before imapd drops a client (RFC 3501: at least 30 minutes)" },
    /* the web */
    { "web_listen", GLOBAL_HOSTPORT, "127.0.0.1:8080", NULL, 0, 0, "address of kairan web" },
    { "web_threads", GLOBAL_UINT, "4", NULL, 1, 64, "threads of kairan web: one slow page does not stall the others" },
    { "web_max_body", GLOBAL_UINT, "4194304", NULL, 1, BIG, "largest request body the web interface reads, bytes" },
    /* s12-webimp: the mbox upload of the archive page, spooled to HOME/tmp */
    { "web_max_upload", GLOBAL_UINT, "268435456", NULL, 1, BIG, "largest mbox an owner may upload on the web, bytes (413 above)" },
    { "api_max_body", GLOBAL_UINT, "1048576", NULL, 1, BIG, "largest request body of the REST API, bytes (413 above)" },
    { "api_rate_limit", GLOBAL_UINT, "600", NULL, 0, BIG, "REST API requests per token and minute (429 above; 0 = no limit)" },
    /* posting */
    { "dmarc_cache_ttl", GLOBAL_DURATION, "3600", NULL, 0, 30 * DAY, "how long a DMARC policy looked up in DNS is kept" },
    { "filter_command", GLOBAL_STRING, "", NULL, 0, 0, "program every post is piped through (exit 0 pass, 1 refuse, 2 hold)" },
    { "filter_timeout", GLOBAL_DURATION, "60", NULL, 1, 3600, "how long filter_command may run" },
    { "clamd_socket", GLOBAL_SOCKET, "", NULL, 0, 0, "clamd's UNIX socket or HOST:PORT: posts with a virus are refused" },
};

const GlobalDef *
globals_table(size_t *count)
{
    *count = G_N_ELEMENTS(table);
    return table;
}

const GlobalDef *
global_find(const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
        if (g_str_equal(table[i].key, key))
            return &table[i];
    return NULL;
}

/* edit_distance - Levenshtein distance of two short keys. */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), *row = g_new(size_t, lb + 1), r;

    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = MIN(row[j] + 1, row[j - 1] + 1);
            row[j] = MIN(best, diag + (a[i - 1] != b[j - 1]));
            diag = up;
        }
    }
    r = row[lb];
    g_free(row);
    return r;
}

/* nearest_keys - the known keys closest to a misspelt one ("" if none is
 * close: at most a quarter of the letters differ). */
static char *
nearest_keys(const char *key)
{
    GString *s = g_string_new(NULL);
    size_t best = G_MAXSIZE, limit = MAX(2, strlen(key) / 4);

    for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
        best = MIN(best, edit_distance(key, table[i].key));
    if (best <= limit)
        for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
            if (edit_distance(key, table[i].key) == best)
                g_string_append_printf(s, "%s%s", s->len ? " or " : "", table[i].key);
    return g_string_free(s, FALSE);
}

static gboolean
valid_port(const char *p)
{
    gint64 v;
    char *end;
    if (!*p)
        return FALSE;
    v = g_ascii_strtoll(p, &end, 10);
    return *end == '\0' && v >= 1 && v <= 65535;
}

static gboolean
valid_hostname(const char *h)
{
    if (!*h || strlen(h) > 253)
        return FALSE;
    for (const char *c = h; *c; c++)
        if (!g_ascii_isalnum(*c) && *c != '-' && *c != '.' && *c != '_')
            return FALSE;
    return *h != '.' && *h != '-';
}

/* valid_hostport - host, host:port, [host] or [host]:port (host may be an
 * IPv6 address in brackets). */
static gboolean
valid_hostport(const char *v, gboolean need_port)
{
    const char *colon;
    gboolean ok;
    char *host;

    if (*v == '[') {
        const char *close = strchr(v, ']');
        if (!close || close == v + 1)
            return FALSE;
        host = g_strndup(v + 1, close - v - 1);
        ok = g_hostname_is_ip_address(host) || valid_hostname(host);
        g_free(host);
        if (close[1] == '\0')
            return ok && !need_port;
        return ok && close[1] == ':' && valid_port(close + 2);
    }
    colon = strrchr(v, ':');
    if (!colon)
        return !need_port && valid_hostname(v);
    host = g_strndup(v, colon - v);
    ok = (g_hostname_is_ip_address(host) && !strchr(host, ':')) || valid_hostname(host);
    g_free(host);
    return ok && valid_port(colon + 1);
}

static gboolean
valid_networks(const char *v)
{
    char **p = g_strsplit_set(v, ";, ", -1);
    gboolean ok = TRUE, any = FALSE;
    for (char **q = p; *q && ok; q++) {
        GInetAddressMask *m;
        if (!**q)
            continue;
        m = g_inet_address_mask_new_from_string(*q, NULL);
        ok = m != NULL;
        any = TRUE;
        if (m)
            g_object_unref(m);
    }
    g_strfreev(p);
    return ok && any;
}

static gboolean
valid_routes(const char *v)
{
    char **p = g_strsplit(v, ";", -1);
    gboolean ok = TRUE;
    for (char **q = p; *q && ok; q++) {
        char *entry = g_strstrip(*q), *eq;
        if (!*entry)
            continue;
        eq = strchr(entry, '=');
        if (!eq) {
            ok = FALSE;
            break;
        }
        *eq = '\0';
        ok = valid_hostname(g_strstrip(entry)) && valid_hostport(g_strstrip(eq + 1), FALSE);
    }
    g_strfreev(p);
    return ok;
}

static char *
normalise_bool(const char *v)
{
    if (!g_ascii_strcasecmp(v, "yes") || !g_ascii_strcasecmp(v, "true") || g_str_equal(v, "1") ||
        !g_ascii_strcasecmp(v, "on"))
        return g_strdup("yes");
    if (!g_ascii_strcasecmp(v, "no") || !g_ascii_strcasecmp(v, "false") || g_str_equal(v, "0") ||
        !g_ascii_strcasecmp(v, "off"))
        return g_strdup("no");
    return NULL;
}

/* check_number - value within the key's bounds; *out = the number. */
static gboolean
check_number(const GlobalDef *d, const char *v, char **why)
{
    gint64 n;
    if (d->type == GLOBAL_SECONDS) {
        char *end;
        double f = g_ascii_strtod(v, &end);
        if (!*v || *end || !(f >= (double) d->min && f <= (double) d->max)) {
            *why = g_strdup_printf("%s = %s: give a number of seconds from %" G_GINT64_FORMAT
                                   " to %" G_GINT64_FORMAT, d->key, v, d->min, d->max);
            return FALSE;
        }
        return TRUE;
    }
    if (d->type == GLOBAL_UINT) {
        for (const char *c = v; *c; c++)
            if (!g_ascii_isdigit(*c))
                goto bad;
    }
    n = parse_duration(v);
    if (n < d->min || n > d->max)
        goto bad;
    return TRUE;
bad:
    if (d->type == GLOBAL_UINT)
        *why = g_strdup_printf("%s = %s: give a whole number from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                               d->key, v, d->min, d->max);
    else
        *why = g_strdup_printf("%s = %s: give a duration (300, 5m, 2h, 1d) from %" G_GINT64_FORMAT
                               " to %" G_GINT64_FORMAT " seconds", d->key, v, d->min, d->max);
    return FALSE;
}

char *
global_validate(const char *key, const char *value, char **why)
{
    const GlobalDef *d = global_find(key);
    char *v;
    gboolean ok = TRUE;
    const char *what = NULL;

    *why = NULL;
    if (!d) {
        char *near = nearest_keys(key);
        *why = *near ? g_strdup_printf("unknown [global] key '%s' (did you mean %s?); `kairan config --global` lists them", key, near)
                     : g_strdup_printf("unknown [global] key '%s'; `kairan config --global` lists them", key);
        g_free(near);
        return NULL;
    }
    for (const char *c = value; *c; c++)
        if ((guchar) *c < 0x20 || *c == 0x7f) {
            *why = g_strdup_printf("%s: control characters are not allowed", key);
            return NULL;
        }
    v = g_strstrip(g_strdup(value));
    if (!*v)
        return v;   /* unset: the default applies */
    switch (d->type) {
    case GLOBAL_STRING:
        break;
    case GLOBAL_UINT:
    case GLOBAL_DURATION:
    case GLOBAL_SECONDS:
        if (!check_number(d, v, why)) {
            g_free(v);
            return NULL;
        }
        break;
    case GLOBAL_BOOL: {
        char *b = normalise_bool(v);
        ok = b != NULL;
        what = "yes or no";
        if (b) {
            g_free(v);
            v = b;
        }
        break;
    }
    case GLOBAL_ENUM: {
        char **words = g_strsplit(d->values, "|", -1);
        ok = g_strv_contains((const char * const *) words, v);
        g_strfreev(words);
        what = d->values;
        break;
    }
    case GLOBAL_HOSTPORT:
        ok = valid_hostport(v, FALSE);
        what = "HOST:PORT";
        break;
    case GLOBAL_HOSTPORTS: {
        char **p = g_strsplit(v, ",", -1);
        for (char **q = p; *q && ok; q++)
            ok = valid_hostport(g_strstrip(*q), FALSE);
        g_strfreev(p);
        what = "HOST:PORT, several separated by commas";
        break;
    }
    case GLOBAL_DOMAIN: {
        char *lower = g_ascii_strdown(v, -1);
        ok = valid_hostname(lower) && strchr(lower, '_') == NULL;
        g_free(v);
        v = lower;
        what = "a domain name";
        break;
    }
    case GLOBAL_URL:
        ok = (g_str_has_prefix(v, "http://") || g_str_has_prefix(v, "https://")) &&
             g_uri_is_valid(v, G_URI_FLAGS_NONE, NULL);
        what = "an http:// or https:// URL";
        break;
    case GLOBAL_PATH:
        ok = g_path_is_absolute(v);
        what = "an absolute file name";
        break;
    case GLOBAL_SOCKET:
        ok = g_path_is_absolute(v) || valid_hostport(v, TRUE);
        what = "an absolute socket name or HOST:PORT";
        break;
    case GLOBAL_NETWORKS:
        ok = valid_networks(v);
        what = "networks such as 127.0.0.0/8;::1";
        break;
    case GLOBAL_ROUTES:
        ok = valid_routes(v);
        what = "DOMAIN=[HOST]:PORT, separated by ';'";
        break;
    }
    if (!ok) {
        *why = g_strdup_printf("%s = %s: give %s", key, v, what);
        g_free(v);
        return NULL;
    }
    return v;
}

static GPtrArray *
problems(const Instance *inst)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    char **keys = g_key_file_get_keys(inst->conf, "global", NULL, NULL);

    for (char **k = keys; k && *k; k++) {
        char *raw = g_key_file_get_string(inst->conf, "global", *k, NULL);
        char *why = NULL, *v = global_validate(*k, raw ? raw : "", &why);
        if (!v)
            g_ptr_array_add(out, why);
        g_free(v);
        g_free(raw);
    }
    g_strfreev(keys);
    return out;
}

gboolean
globals_check(const Instance *inst, GError **error)
{
    GPtrArray *p = problems(inst);
    gboolean ok = p->len == 0;
    if (!ok) {
        GString *s = g_string_new("kairan.conf [global]: ");
        for (guint i = 0; i < p->len; i++)
            g_string_append_printf(s, "%s%s", i ? "; " : "", (char *) p->pdata[i]);
        g_set_error_literal(error, KAIRAN_ERROR, EXIT_CONFIG, s->str);
        g_string_free(s, TRUE);
    }
    g_ptr_array_free(p, TRUE);
    return ok;
}

void
globals_log_problems(const Instance *inst, const char *who)
{
    GPtrArray *p = problems(inst);
    for (guint i = 0; i < p->len; i++) {
        log_warn("%s: kairan.conf [global]: %s (the default is used)", who, (char *) p->pdata[i]);
        g_printerr("kairan %s: kairan.conf [global]: %s (the default is used)\n", who, (char *) p->pdata[i]);
    }
    g_ptr_array_free(p, TRUE);
}

gboolean
global_is_set(const Instance *inst, const char *key)
{
    char *raw = g_key_file_get_string(inst->conf, "global", key, NULL);
    gboolean set = raw && *g_strstrip(raw);
    g_free(raw);
    return set;
}

gboolean
global_is_valid_there(const Instance *inst, const char *key)
{
    char *raw = g_key_file_get_string(inst->conf, "global", key, NULL);
    char *why = NULL, *v = raw ? global_validate(key, raw, &why) : NULL;
    gboolean ok = !raw || v != NULL;
    g_free(v);
    g_free(why);
    g_free(raw);
    return ok;
}

gboolean
globals_set(Instance *inst, const char *key, const char *value, GError **error)
{
    char *why = NULL, *v = global_validate(key, value, &why);
    char *path, *tmpdir, *text;
    GKeyFile *kf;
    GError *e = NULL;
    gsize len;
    gboolean ok;

    if (!v) {
        g_set_error_literal(error, KAIRAN_ERROR, EXIT_USAGE, why);
        g_free(why);
        return FALSE;
    }
    path = instance_path(inst, "kairan.conf", NULL);
    tmpdir = instance_path(inst, "tmp", NULL);
    /* reload with comments so that the owner's notes survive */
    kf = g_key_file_new();
    ok = g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, &e);
    if (!ok) {
        g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG, "cannot read %s: %s", path, e->message);
        g_error_free(e);
    } else {
        if (*v)
            g_key_file_set_string(kf, "global", key, v);
        else
            g_key_file_remove_key(kf, "global", key, NULL);
        text = g_key_file_to_data(kf, &len, NULL);
        ok = write_file_atomic(path, tmpdir, text, len, error);
        g_free(text);
        if (ok) {
            if (*v)
                g_key_file_set_string(inst->conf, "global", key, v);
            else
                g_key_file_remove_key(inst->conf, "global", key, NULL);
        }
    }
    g_key_file_free(kf);
    g_free(path);
    g_free(tmpdir);
    g_free(v);
    return ok;
}
