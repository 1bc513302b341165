/* instance.c - open and create an instance directory (KAIRAN_HOME).
 *
 * Layout: kairan.conf (GLib key file), kairan.db (SQLite), spool/LIST/
 * (archive/N, held/ID), queue/ (see queue.c), log/kairan.log, tmp/. */
#include "config.h"
#include "instance.h"
#include "db.h"
#include "globals.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *binary_path;

void
kairan_set_binary_path(const char *argv0)
{
    char buf[PATH_MAX];
    const char *from_env = g_getenv("KAIRAN_BIN");
    ssize_t n;

    g_free(binary_path);
    /* kairan-daemon is told where the kairan binary is (src/cli/daemons.c) */
    if (from_env && *from_env && g_path_is_absolute(from_env) &&
        g_file_test(from_env, G_FILE_TEST_IS_EXECUTABLE)) {
        binary_path = g_strdup(from_env);
        return;
    }
    n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n > 0) {
        buf[n] = '\0';
        binary_path = g_strdup(buf);
    } else if (argv0 && strchr(argv0, '/')) {
        binary_path = g_canonicalize_filename(argv0, NULL);
    } else {
        binary_path = g_build_filename(KAIRAN_BINDIR, "kairan", NULL);
    }
}

const char *
kairan_binary_path(void)
{
    if (!binary_path)
        kairan_set_binary_path(NULL);
    return binary_path;
}

const char *
kairan_template_dir(void)
{
    static char *dir;
    const char *env = g_getenv("KAIRAN_TEMPLATES");

    if (dir)
        return dir;
    if (env && *env)
        dir = g_strdup(env);
    else if (g_file_test(KAIRAN_TEMPLATE_DIR, G_FILE_TEST_IS_DIR))
        dir = g_strdup(KAIRAN_TEMPLATE_DIR);
    else
        dir = g_strdup(KAIRAN_SRC_TEMPLATE_DIR);
    return dir;
}

char *
instance_home(const char *from_option)
{
    const char *h = from_option;
    if (!h || !*h)
        h = g_getenv("KAIRAN_HOME");
    if (!h || !*h)
        h = KAIRAN_DEFAULT_HOME;
    return g_canonicalize_filename(h, NULL);
}

char *
instance_path(const Instance *inst, const char *first, ...)
{
    va_list ap;
    GPtrArray *parts = g_ptr_array_new();
    char *path;

    g_ptr_array_add(parts, inst->home);
    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *))
        g_ptr_array_add(parts, (gpointer) p);
    va_end(ap);
    g_ptr_array_add(parts, NULL);
    path = g_build_filenamev((char **) parts->pdata);
    g_ptr_array_free(parts, TRUE);
    return path;
}

char *
instance_list_dir(const Instance *inst, const char *list)
{
    return instance_path(inst, "spool", list, NULL);
}

/* global_raw - kairan.conf's value for key when it is valid there, else
 * the table's default; "" when neither gives one. */
static char *
global_raw(const Instance *inst, const char *key)
{
    const GlobalDef *d = global_find(key);
    char *raw = g_key_file_get_string(inst->conf, "global", key, NULL);
    char *why = NULL, *v = NULL;

    if (!d)
        g_critical("instance_global: [global] %s is not in the table of globals.c", key);
    if (raw) {
        v = d ? global_validate(key, raw, &why) : g_strstrip(g_strdup(raw));
        g_free(why);     /* globals_check reports it; the default applies */
        g_free(raw);
    }
    if (v && *v)
        return v;
    g_free(v);
    return g_strdup(d ? d->dflt : "");
}

char *
instance_global(const Instance *inst, const char *key)
{
    char *v = global_raw(inst, key);
    if (!*v) {
        g_free(v);
        return NULL;
    }
    return v;
}

gint64
instance_global_int(const Instance *inst, const char *key)
{
    char *v = global_raw(inst, key);
    gint64 r = parse_duration(v);
    g_free(v);
    return r < 0 ? 0 : r;
}

double
instance_global_double(const Instance *inst, const char *key)
{
    char *v = global_raw(inst, key);
    double r = g_ascii_strtod(v, NULL);
    g_free(v);
    return r;
}

gboolean
instance_global_bool(const Instance *inst, const char *key)
{
    char *v = global_raw(inst, key);
    gboolean r = g_str_equal(v, "yes");
    g_free(v);
    return r;
}

char *
list_address(const Instance *inst, const char *list, const char *suffix)
{
    const char *at = strchr(list, '@');     /* NAME@DOMAIN: a list of another domain (domains.h) */
    if (at)
        return g_strdup_printf("%.*s%s%s", (int) (at - list), list, suffix ? suffix : "", at);
    return g_strdup_printf("%s%s@%s", list, suffix ? suffix : "", inst->domain);
}

static gboolean
load_conf(Instance *inst, GError **error)
{
    char *path = instance_path(inst, "kairan.conf", NULL);
    GError *e = NULL;
    gboolean ok;

    inst->conf = g_key_file_new();
    if (util_make_private(path))
        log_info("made %s private (mode 0600)", path);
    ok = g_key_file_load_from_file(inst->conf, path, G_KEY_FILE_NONE, &e);
    if (!ok) {
        g_set_error(error, KAIRAN_ERROR,
                    g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? EXIT_CONFIG : EXIT_TEMPFAIL,
                    "no kairan instance at %s (%s); create one with: kairan --home %s init",
                    inst->home, e->message, inst->home);
        g_error_free(e);
    }
    g_free(path);
    if (!ok)
        return FALSE;
    inst->domain = instance_global(inst, "domain");
    inst->hostname = instance_global(inst, "hostname");
    if (!inst->hostname)
        inst->hostname = g_strdup(inst->domain);
    return TRUE;
}

Instance *
instance_open(const char *home, GError **error)
{
    Instance *inst = g_new0(Instance, 1);
    char *dbpath;

    inst->home = g_strdup(home);
    if (!load_conf(inst, error)) {
        instance_free(inst);
        return NULL;
    }
    dbpath = instance_path(inst, "kairan.db", NULL);
    inst->db = db_open(dbpath, FALSE, error);
    g_free(dbpath);
    if (!inst->db) {
        instance_free(inst);
        return NULL;
    }
    sqlite3_busy_timeout(inst->db, (int) (instance_global_int(inst, "db_busy_timeout") * 1000));
    inst->secret = db_meta_get(inst->db, "secret");
    return inst;
}

static const char default_conf[] =
    "# kairan.conf - configuration of one kairan instance (GLib key file).\n"
    "# See the README for every key.  Per-list settings made with\n"
    "# `kairan config LIST KEY VALUE` are kept in kairan.db and override\n"
    "# [list-defaults].\n"
    "\n"
    "[global]\n"
    "domain=%s\n"
    "hostname=%s\n"
    "relay_listen=127.0.0.1:2525\n"
    "pop3_listen=127.0.0.1:1110\n"
    "web_listen=127.0.0.1:8080\n"
    "# public base URL of the web interface, for confirm and one-click links\n"
    "web_url=\n"
    "mynetworks=127.0.0.0/8;::1\n"
    "# host:port to send all outgoing mail through; empty = MX lookup\n"
    "smarthost=\n"
    "# static routes for tests: example.test=[127.0.0.1]:2626;other.test=[127.0.0.1]:2727\n"
    "routes=\n"
    "# DNS server to ask (host:port); empty = the system resolver\n"
    "dns_resolver=\n"
    "tls_cert=\n"
    "tls_key=\n"
    "max_rcpt_per_txn=100\n"
    "max_queue_lifetime=5d\n"
    "\n"
    "[list-defaults]\n"
    "post_policy=members\n"
    "subscribe_policy=confirm\n"
    "max_size=10485760\n"
    "attachments=keep\n"
    "subject_tag=[%%s:%%05d]\n"
    "language=en\n";

Instance *
instance_create(const char *home, const char *domain, GError **error)
{
    static const char *dirs[] = { "spool", "queue", "log", "tmp", NULL };
    char *conf_path, *text, *host;
    Instance *inst;

    if (!mkdir_p(home, 0700, error))
        return NULL;
    for (int i = 0; dirs[i]; i++) {
        char *d = g_build_filename(home, dirs[i], NULL);
        gboolean ok = mkdir_p(d, 0700, error);
        g_free(d);
        if (!ok)
            return NULL;
    }
    conf_path = g_build_filename(home, "kairan.conf", NULL);
    if (!g_file_test(conf_path, G_FILE_TEST_EXISTS)) {
        char *tmpdir = g_build_filename(home, "tmp", NULL);
        host = g_strdup(domain);
        text = g_strdup_printf(default_conf, domain, host);
        if (!write_file_atomic(conf_path, tmpdir, text, strlen(text), error)) {
            g_free(text);
            g_free(host);
            g_free(tmpdir);
            g_free(conf_path);
            return NULL;
        }
        g_free(text);
        g_free(host);
        g_free(tmpdir);
    }
    g_free(conf_path);

    inst = g_new0(Instance, 1);
    inst->home = g_strdup(home);
    if (!load_conf(inst, error)) {
        instance_free(inst);
        return NULL;
    }
    conf_path = g_build_filename(home, "kairan.db", NULL);
    inst->db = db_open(conf_path, TRUE, error);
    g_free(conf_path);
    if (!inst->db) {
        instance_free(inst);
        return NULL;
    }
    inst->secret = db_meta_get(inst->db, "secret");
    if (!inst->secret) {
        inst->secret = random_hex(32);
        if (!db_meta_set(inst->db, "secret", inst->secret, error)) {
            instance_free(inst);
            return NULL;
        }
    }
    return inst;
}

void
instance_free(Instance *inst)
{
    if (!inst)
        return;
    db_close(inst->db);
    if (inst->conf)
        g_key_file_free(inst->conf);
    g_free(inst->home);
    g_free(inst->domain);
    g_free(inst->hostname);
    g_free(inst->secret);
    g_free(inst);
}
