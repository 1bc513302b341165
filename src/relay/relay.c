/* relay.c - the relay's configuration from kairan.conf [global] and its
 * shared helpers.  `kairan relay` itself is relay_main.c (in the
 * kairan-daemon program); `kairan queue` and `kairan flush` are in
 * queue_cmds.c.
 *
 * Keys (defaults in brackets; durations take 300, 5m, 2h, 5d):
 *   relay_listen [127.0.0.1:2525]      mynetworks [127.0.0.0/8;::1]
 *   smarthost, routes, dns_resolver    mx_port [25] port for MX/A delivery
 *   tls_cert, tls_key                  max_rcpt_per_txn [100]
 *   max_queue_lifetime [5d]            retry_min [5m]  retry_max [1h]
 *   message_size_limit [20971520]      smtpd_timeout [300] smtp_timeout [300]
 *   smtpd_max_connections [100]        smtpd_max_per_client [20]
 *   smtpd_max_recipients [1000]        smtpd_max_errors [20]
 *   smtp_max_connections [20]          smtp_max_per_destination [10]
 *   smtp_connect_timeout [30]          smtp_connection_cache_time [2]
 *                                      (idle outbound connection kept for reuse)
 *   relay_members [no]                 does a member's AUTH (ADDRESS/LIST with
 *                                      the POP3 password) allow relaying?
 */
#include "config.h"
#include "relay.h"
#include "domains.h"
#include "tlsctx.h"
#include "cli/cli.h"
#include "lists.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ares.h>

static int
conf_int(Instance *inst, const char *key)
{
    return (int) CLAMP(instance_global_int(inst, key), 0, G_MAXINT);
}

static void
cred_free(gpointer p)
{
    SmtpCred *c = p;
    if (c->pass)
        memset(c->pass, 0, strlen(c->pass));
    g_free(c->user);
    g_free(c->pass);
    g_free(c);
}

/* load_creds - smarthost_auth_file: one line per host, "HOST USER
 * PASSWORD" (HOST as written in smarthost, e.g. [10.0.0.1]:587; the
 * password is the rest of the line), # comments.  The file must not be
 * readable by others. */
static gboolean
load_creds(Relay *r, const char *path, GError **error)
{
    char *text = NULL;
    gsize len = 0;
    struct stat sb;
    char **lines;
    int lineno = 0;

    if (stat(path, &sb) < 0 || !g_file_get_contents(path, &text, &len, NULL)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG, "smarthost_auth_file %s: %s", path, g_strerror(errno));
        return FALSE;
    }
    if (sb.st_mode & S_IROTH) {
        g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG,
                    "smarthost_auth_file %s is readable by others: chmod o-r it first", path);
        g_free(text);
        return FALSE;
    }
    lines = g_strsplit(text, "\n", -1);
    memset(text, 0, len);
    g_free(text);
    for (char **l = lines; *l; l++) {
        char *line = g_strstrip(*l), **w;
        lineno++;
        if (!*line || *line == '#')
            continue;
        w = g_strsplit_set(line, " \t", 3);
        if (g_strv_length(w) < 3 || !*w[0] || !*w[1] || !*g_strchug(w[2])) {
            g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG,
                        "smarthost_auth_file %s line %d: want HOST USER PASSWORD", path, lineno);
            g_strfreev(w);
            for (char **x = lines; *x; x++)
                memset(*x, 0, strlen(*x));
            g_strfreev(lines);
            return FALSE;
        }
        {
            SmtpCred *c = g_new0(SmtpCred, 1);
            c->user = g_strdup(w[1]);
            c->pass = g_strdup(w[2]);
            g_hash_table_replace(r->creds, g_strdup(w[0]), c);
        }
        memset(w[2], 0, strlen(w[2]));
        g_strfreev(w);
    }
    for (char **x = lines; *x; x++)
        memset(*x, 0, strlen(*x));
    g_strfreev(lines);
    return TRUE;
}

const SmtpCred *
relay_cred(const Relay *r, const char *host)
{
    return r->creds ? g_hash_table_lookup(r->creds, host) : NULL;
}

Relay *
relay_config_load(Instance *inst, GError **error)
{
    Relay *r = g_new0(Relay, 1);
    char *nets, *routes, *cert, *key;

    r->inst = inst;
    g_mutex_init(&r->db_lock);
    g_mutex_init(&r->domains_lock);
    r->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    r->listen = instance_global(inst, "relay_listen");
    r->smarthost = instance_global(inst, "smarthost");
    r->dns_resolver = instance_global(inst, "dns_resolver");
    r->mx_port = conf_int(inst, "mx_port");
    r->max_rcpt_per_txn = MAX(1, conf_int(inst, "max_rcpt_per_txn"));
    r->max_lifetime = instance_global_int(inst, "max_queue_lifetime");
    r->retry_min = MAX(1, instance_global_int(inst, "retry_min"));
    r->retry_max = MAX(r->retry_min, instance_global_int(inst, "retry_max"));
    r->max_size = instance_global_int(inst, "message_size_limit");
    r->smtpd_timeout = CLAMP(conf_int(inst, "smtpd_timeout"), 1, 86400);
    r->smtp_timeout = CLAMP(conf_int(inst, "smtp_timeout"), 1, 86400);
    r->connect_timeout = MAX(1, conf_int(inst, "smtp_connect_timeout"));
    r->smtpd_max_conn = MAX(1, conf_int(inst, "smtpd_max_connections"));
    r->smtpd_max_per_client = MAX(1, conf_int(inst, "smtpd_max_per_client"));
    r->smtpd_max_rcpt = MAX(1, conf_int(inst, "smtpd_max_recipients"));
    r->smtpd_max_errors = MAX(1, conf_int(inst, "smtpd_max_errors"));
    r->out_max_total = MAX(1, conf_int(inst, "smtp_max_connections"));
    r->out_max_per_dest = MAX(1, conf_int(inst, "smtp_max_per_destination"));
    r->conn_cache_time = conf_int(inst, "smtp_connection_cache_time");
    r->smarthost_skip = conf_int(inst, "smarthost_skip_time");
    r->delay_warning = instance_global_int(inst, "delay_warning_time");
    r->pop_before_smtp = instance_global_int(inst, "pop_before_smtp");
    r->relay_members = instance_global_bool(inst, "relay_members");

    r->mynetworks = g_ptr_array_new_with_free_func(g_object_unref);
    nets = instance_global(inst, "mynetworks");
    {
        char **p = g_strsplit_set(nets, ";, ", -1);
        for (char **q = p; *q; q++) {
            GInetAddressMask *m;
            if (!**q)
                continue;
            if ((m = g_inet_address_mask_new_from_string(*q, NULL)))
                g_ptr_array_add(r->mynetworks, m);
            else
                log_warn("mynetworks: ignoring %s", *q);
        }
        g_strfreev(p);
    }
    g_free(nets);

    r->routes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    routes = instance_global(inst, "routes");
    if (routes) {
        char **p = g_strsplit(routes, ";", -1);
        for (char **q = p; *q; q++) {
            char *eq = strchr(*q, '=');
            if (!eq)
                continue;
            *eq = '\0';
            g_hash_table_replace(r->routes, g_ascii_strdown(g_strstrip(*q), -1), g_strdup(g_strstrip(eq + 1)));
        }
        g_strfreev(p);
        g_free(routes);
    }

    cert = instance_global(inst, "tls_cert");
    key = instance_global(inst, "tls_key");
    if (cert && key) {
        r->server_tls = tlsctx_server(cert, key, error);
        if (!r->server_tls) {
            g_free(cert);
            g_free(key);
            relay_config_free(r);
            return NULL;
        }
    }
    g_free(cert);
    g_free(key);
    r->client_tls = tlsctx_client_opportunistic();
    {
        char *mode = instance_global(inst, "tls_verify"), *ca = instance_global(inst, "tls_ca_file");
        r->tls_verify = g_strcmp0(mode, "always") == 0   ? TLS_VERIFY_ALWAYS
                        : g_strcmp0(mode, "mta-sts") == 0 ? TLS_VERIFY_MTASTS
                        : g_strcmp0(mode, "dane") == 0    ? TLS_VERIFY_DANE
                                                          : TLS_VERIFY_NONE;
        r->tls_rpt = instance_global_bool(inst, "tls_rpt");
        if (r->tls_verify == TLS_VERIFY_DANE) {
            /* OpenSSL's DANE (RFC 7671): the TLSA records are set per
             * connection (dane.c); the result is checked afterwards */
            r->dane_tls = SSL_CTX_new(TLS_client_method());
            if (!r->dane_tls || SSL_CTX_dane_enable(r->dane_tls) <= 0) {
                g_set_error(error, KAIRAN_ERROR, EXIT_SOFTWARE, "tls_verify = dane: OpenSSL cannot enable DANE");
                g_free(mode);
                g_free(ca);
                relay_config_free(r);
                return NULL;
            }
            SSL_CTX_set_min_proto_version(r->dane_tls, TLS1_2_VERSION);
            SSL_CTX_set_options(r->dane_tls, SSL_OP_NO_RENEGOTIATION);
            SSL_CTX_set_verify(r->dane_tls, SSL_VERIFY_NONE, NULL);
        }
        r->mta_sts_port = (int) instance_global_int(inst, "mta_sts_port");
        r->verify_tls = SSL_CTX_new(TLS_client_method());
        if (r->verify_tls) {
            SSL_CTX_set_min_proto_version(r->verify_tls, TLS1_2_VERSION);
            SSL_CTX_set_options(r->verify_tls, SSL_OP_NO_RENEGOTIATION);
            /* the handshake completes; the result is checked afterwards
             * (smtp_client.c) so that the log can say why it failed */
            SSL_CTX_set_verify(r->verify_tls, SSL_VERIFY_NONE, NULL);
            if (ca && *ca ? SSL_CTX_load_verify_locations(r->verify_tls, ca, NULL) != 1
                          : SSL_CTX_set_default_verify_paths(r->verify_tls) != 1) {
                g_set_error(error, KAIRAN_ERROR, EXIT_CONFIG, "tls_ca_file %s: cannot load the CA certificates",
                            ca && *ca ? ca : "(system)");
                g_free(mode);
                g_free(ca);
                relay_config_free(r);
                return NULL;
            }
        }
        g_free(mode);
        g_free(ca);
    }
    r->creds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, cred_free);
    {
        char *authfile = instance_global(inst, "smarthost_auth_file");
        gboolean ok = !authfile || !*authfile || load_creds(r, authfile, error);
        g_free(authfile);
        if (!ok) {
            relay_config_free(r);
            return NULL;
        }
    }
    return r;
}

void
relay_config_free(Relay *r)
{
    if (!r)
        return;
    g_free(r->listen);
    g_free(r->smarthost);
    g_free(r->dns_resolver);
    g_ptr_array_unref(r->mynetworks);
    g_hash_table_unref(r->routes);
    if (r->creds)
        g_hash_table_unref(r->creds);
    if (r->server_tls)
        SSL_CTX_free(r->server_tls);
    if (r->client_tls)
        SSL_CTX_free(r->client_tls);
    if (r->verify_tls)
        SSL_CTX_free(r->verify_tls);
    if (r->dane_tls)
        SSL_CTX_free(r->dane_tls);
    g_mutex_clear(&r->db_lock);
    g_mutex_clear(&r->domains_lock);
    if (r->domains)
        g_hash_table_unref(r->domains);
    g_free(r);
}

gboolean
relay_client_allowed(const Relay *r, const char *addr)
{
    GInetAddress *a = g_inet_address_new_from_string(addr);
    gboolean ok = FALSE;

    if (!a)
        return FALSE;
    for (guint i = 0; i < r->mynetworks->len && !ok; i++) {
        GInetAddressMask *m = r->mynetworks->pdata[i];
        if (g_inet_address_get_family(a) == g_inet_address_mask_get_family(m))
            ok = g_inet_address_mask_matches(m, a);
    }
    g_object_unref(a);
    return ok;
}

void
relay_domains_refresh(Relay *r)
{
    gint64 now = g_get_monotonic_time();
    GHashTable *fresh;
    char **names;

    g_mutex_lock(&r->domains_lock);
    if (r->domains_read && now - r->domains_read < G_USEC_PER_SEC) {
        g_mutex_unlock(&r->domains_lock);
        return;
    }
    r->domains_read = now;
    g_mutex_unlock(&r->domains_lock);
    g_mutex_lock(&r->db_lock);
    names = domain_names(r->inst);
    g_mutex_unlock(&r->db_lock);
    fresh = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; names[i]; i++)
        g_hash_table_add(fresh, names[i]);          /* the table owns them */
    g_free(names);
    g_mutex_lock(&r->domains_lock);
    g_hash_table_unref(r->domains);
    r->domains = fresh;
    g_mutex_unlock(&r->domains_lock);
}

gboolean
relay_domain_is_local(Relay *r, const char *domain)
{
    char *d;
    gboolean found;

    if (!domain || !*domain)
        return FALSE;
    if (g_ascii_strcasecmp(domain, r->inst->domain) == 0)
        return TRUE;
    d = g_ascii_strdown(domain, -1);
    g_mutex_lock(&r->domains_lock);
    found = g_hash_table_contains(r->domains, d);
    g_mutex_unlock(&r->domains_lock);
    g_free(d);
    return found;
}

gboolean
relay_local_target(Relay *r, const char *rcpt, char **list, const char **mode)
{
    const char *at = strrchr(rcpt, '@');
    char *local, *name, *plus, *domain, *id;
    static const struct { const char *suffix, *mode; } kinds[] = {
        { "-ctl", "--ctl" }, { "-admin", "--admin" }, { "", "" },
    };

    *list = NULL;
    *mode = "";
    if (!at)
        return FALSE;
    relay_domains_refresh(r);
    if (!relay_domain_is_local(r, at + 1)) {
        /* the copy may be up to a second old: a domain added just now is
         * asked for (a RCPT asks the database anyway) */
        gboolean ours;
        g_mutex_lock(&r->db_lock);
        ours = domain_is_local(r->inst, at + 1);
        g_mutex_unlock(&r->db_lock);
        if (!ours)
            return FALSE;
    }
    domain = g_ascii_strdown(at + 1, -1);
    local = g_ascii_strdown(rcpt, at - rcpt);
    for (size_t k = 0; k < G_N_ELEMENTS(kinds) && !*list; k++) {
        if (!g_str_has_suffix(local, kinds[k].suffix))
            continue;
        name = g_strndup(local, strlen(local) - strlen(kinds[k].suffix));
        g_mutex_lock(&r->db_lock);
        id = *name && str_is_safe_name(name, FALSE) ? list_id_join(r->inst, name, domain) : NULL;
        if (id && list_exists(r->inst, id)) {
            *list = id;
            *mode = kinds[k].mode;
            id = NULL;
        }
        g_free(id);
        g_mutex_unlock(&r->db_lock);
        g_free(name);
    }
    if (!*list && (plus = strchr(local, '+')) != NULL) {
        /* LIST-admin+anything (VERP, personalize.c) is LIST-admin; the
         * full address reaches deliver as ORIGINAL_RECIPIENT (local.c) */
        *plus = '\0';
        if (g_str_has_suffix(local, "-admin")) {
            name = g_strndup(local, strlen(local) - strlen("-admin"));
            g_mutex_lock(&r->db_lock);
            id = *name && str_is_safe_name(name, FALSE) ? list_id_join(r->inst, name, domain) : NULL;
            if (id && list_exists(r->inst, id)) {
                *list = id;
                *mode = "--admin";
                id = NULL;
            }
            g_free(id);
            g_mutex_unlock(&r->db_lock);
            g_free(name);
        }
    }
    g_free(local);
    g_free(domain);
    return TRUE;
}

void
relay_block_signals(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
}
