/* relay.c - `kairan relay`, `kairan queue`, `kairan flush`, and the
 * relay's configuration from kairan.conf [global].
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
 *
 * `kairan flush` creates queue/flush and pokes queue/wakeup: the running
 * relay sees the file (inotify on queue/), removes it and retries every
 * deferred recipient at once.  Without a running relay the flag stays and
 * the next start retries everything anyway. */
#include "config.h"
#include "relay.h"
#include "cli/cli.h"
#include "lists.h"
#include "log.h"
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ares.h>

static int
conf_int(Instance *inst, const char *key, gint64 dflt)
{
    return (int) CLAMP(instance_global_int(inst, key, dflt), 0, G_MAXINT);
}

Relay *
relay_config_load(Instance *inst, GError **error)
{
    Relay *r = g_new0(Relay, 1);
    char *nets, *routes, *cert, *key;

    r->inst = inst;
    g_mutex_init(&r->db_lock);
    r->listen = instance_global_default(inst, "relay_listen", "127.0.0.1:2525");
    r->smarthost = instance_global(inst, "smarthost");
    r->dns_resolver = instance_global(inst, "dns_resolver");
    r->mx_port = conf_int(inst, "mx_port", 25);
    r->max_rcpt_per_txn = MAX(1, conf_int(inst, "max_rcpt_per_txn", 100));
    r->max_lifetime = instance_global_int(inst, "max_queue_lifetime", 5 * 86400);
    r->retry_min = MAX(1, instance_global_int(inst, "retry_min", 300));
    r->retry_max = MAX(r->retry_min, instance_global_int(inst, "retry_max", 3600));
    r->max_size = instance_global_int(inst, "message_size_limit", 20971520);
    r->smtpd_timeout = MAX(1, conf_int(inst, "smtpd_timeout", 300));
    r->smtp_timeout = MAX(1, conf_int(inst, "smtp_timeout", 300));
    r->connect_timeout = MAX(1, conf_int(inst, "smtp_connect_timeout", 30));
    r->smtpd_max_conn = MAX(1, conf_int(inst, "smtpd_max_connections", 100));
    r->smtpd_max_per_client = MAX(1, conf_int(inst, "smtpd_max_per_client", 20));
    r->smtpd_max_rcpt = MAX(1, conf_int(inst, "smtpd_max_recipients", 1000));
    r->smtpd_max_errors = MAX(1, conf_int(inst, "smtpd_max_errors", 20));
    r->out_max_total = MAX(1, conf_int(inst, "smtp_max_connections", 20));
    r->out_max_per_dest = MAX(1, conf_int(inst, "smtp_max_per_destination", 10));
    r->conn_cache_time = conf_int(inst, "smtp_connection_cache_time", 2);

    r->mynetworks = g_ptr_array_new_with_free_func(g_object_unref);
    nets = instance_global_default(inst, "mynetworks", "127.0.0.0/8;::1");
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
        r->server_tls = tls_server_ctx(cert, key, error);
        if (!r->server_tls) {
            g_free(cert);
            g_free(key);
            relay_config_free(r);
            return NULL;
        }
    }
    g_free(cert);
    g_free(key);
    r->client_tls = tls_client_ctx();
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
    if (r->server_tls)
        SSL_CTX_free(r->server_tls);
    if (r->client_tls)
        SSL_CTX_free(r->client_tls);
    g_mutex_clear(&r->db_lock);
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

gboolean
relay_local_target(Relay *r, const char *rcpt, char **list, const char **mode)
{
    const char *at = strrchr(rcpt, '@');
    char *local, *name;
    static const struct { const char *suffix, *mode; } kinds[] = {
        { "-ctl", "--ctl" }, { "-admin", "--admin" }, { "", "" },
    };

    *list = NULL;
    *mode = "";
    if (!at || g_ascii_strcasecmp(at + 1, r->inst->domain) != 0)
        return FALSE;
    local = g_ascii_strdown(rcpt, at - rcpt);
    for (size_t k = 0; k < G_N_ELEMENTS(kinds) && !*list; k++) {
        if (!g_str_has_suffix(local, kinds[k].suffix))
            continue;
        name = g_strndup(local, strlen(local) - strlen(kinds[k].suffix));
        g_mutex_lock(&r->db_lock);
        if (*name && str_is_safe_name(name, FALSE) && list_exists(r->inst, name)) {
            *list = name;
            *mode = kinds[k].mode;
            name = NULL;
        }
        g_mutex_unlock(&r->db_lock);
        g_free(name);
    }
    g_free(local);
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

int
cmd_relay(int argc, char **argv)
{
    char *listen = NULL;
    GOptionEntry entries[] = {
        { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "address to listen on (default: relay_listen)", "HOST:PORT" },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    Instance *inst;
    Relay *r;
    int status;

    cli_parse(&argc, &argv, "relay", NULL,
              "SMTP relay and queue runner: accepts mail for the lists and for mynetworks,\n"
              "and delivers the queue (MX, smarthost or routes).", entries);
    inst = cli_open();
    log_set_stderr(TRUE);
    signal(SIGPIPE, SIG_IGN);
    relay_block_signals();
    dns_init();
    r = relay_config_load(inst, &error);
    if (!r)
        cli_exit_error(error);
    runner_prepare(r);
    if (!smtp_server_start(r, listen ? listen : r->listen, &error))
        cli_exit_error(error);
    log_info("relay started on %s", listen ? listen : r->listen);
    status = runner_run(r);
    /* Stopped by a signal: worker and session threads may be in the middle
     * of a transaction.  Nothing needs finishing (the queue is crash-safe),
     * so leave without tearing down what they still use. */
    g_free(listen);
    log_close();
    _exit(status);
}

int
cmd_flush(int argc, char **argv)
{
    Instance *inst;
    GError *error = NULL;
    char *flag, *tmpdir;

    cli_parse(&argc, &argv, "flush", NULL,
              "Retry every queued message now (the running relay is told through queue/flush).", NULL);
    inst = cli_open();
    flag = instance_path(inst, "queue", "flush", NULL);
    tmpdir = instance_path(inst, "queue", "tmp", NULL);
    if (!mkdir_p(tmpdir, 0750, &error) || !write_file_atomic(flag, tmpdir, "flush\n", 6, &error))
        cli_exit_error(error);
    queue_wakeup(inst);
    log_info("flush requested");
    printf("flush requested\n");
    g_free(flag);
    g_free(tmpdir);
    instance_free(inst);
    return 0;
}

/* queue_show - mailq-style listing: per message its ID, size, arrival
 * and sender, then each pending recipient, preceded by its last error and
 * the time of the next try when it was deferred; a summary line last. */
static int
queue_show(Instance *inst)
{
    GPtrArray *ids = queue_ids(inst);
    gint64 bytes = 0, rcpts = 0;
    int count = 0;

    if (ids->len == 0) {
        printf("Mail queue is empty\n");
        g_ptr_array_unref(ids);
        return 0;
    }
    printf("%-20s %8s %-20s %s\n", "-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------");
    for (guint i = 0; i < ids->len; i++) {
        QueueEntry *e = queue_load(inst, ids->pdata[i]);
        GPtrArray *pending;
        char when[32];
        struct tm tm;
        time_t t;

        if (!e)
            continue;
        t = (time_t) e->arrival;
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
        pending = queue_pending(e);
        printf("%-20s %8" G_GINT64_FORMAT " %-20s %s\n", e->id, e->size, when, *e->sender ? e->sender : "<>");
        for (guint j = 0; j < pending->len; j++) {
            const char *why = g_hash_table_lookup(e->deferred, pending->pdata[j]);
            if (why) {
                char *end = NULL;
                time_t next = (time_t) g_ascii_strtoll(why, &end, 10);
                char nt[16];
                localtime_r(&next, &tm);
                strftime(nt, sizeof(nt), "%H:%M:%S", &tm);
                printf("%*s(%s; next try %s)\n", 30, "", end && *end == ' ' ? end + 1 : why, nt);
            }
            printf("%*s%s\n", 51, "", (char *) pending->pdata[j]);
        }
        printf("%*s(%u of %u recipients pending)\n\n", 51, "", pending->len, e->rcpts->len);
        bytes += e->size;
        rcpts += pending->len;
        g_ptr_array_unref(pending);
        queue_entry_free(e);
        count++;
    }
    printf("-- %" G_GINT64_FORMAT " Kbytes in %d Request%s, %" G_GINT64_FORMAT " recipient%s pending.\n",
           (bytes + 1023) / 1024, count, count == 1 ? "" : "s", rcpts, rcpts == 1 ? "" : "s");
    g_ptr_array_unref(ids);
    return count;
}

int
cmd_queue(int argc, char **argv)
{
    Instance *inst;
    cli_parse(&argc, &argv, "queue", NULL,
              "Show the queued messages like mailq: ID, size, arrival, sender, and each pending\n"
              "recipient with its last error and next try.", NULL);
    inst = cli_open();
    queue_show(inst);
    instance_free(inst);
    return 0;
}
