/* dkim_keygen.c - `kairan dkim-keygen DOMAIN [--selector S] [--type
 * rsa|ed25519] [--bits N] [--enable]`: make a DKIM private key under
 * HOME/dkim/DOMAIN.SELECTOR.key (mode 0600) and print the DNS TXT record
 * to publish, in zone file form (also kept in DOMAIN.SELECTOR.txt), with
 * the kairan.conf line that turns signing on.  With
 * --enable that line is written into kairan.conf's [dkim] group. */
#include "config.h"
#include "cli/cli.h"
#include "address.h"
#include "dkim.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* enable_key - set [dkim] domain = value in kairan.conf, keeping comments. */
static gboolean
enable_key(Instance *inst, const char *domain, const char *value, GError **error)
{
    char *path = instance_path(inst, "kairan.conf", NULL);
    GKeyFile *kf = g_key_file_new();
    char *data = NULL;
    gsize len = 0;
    gboolean ok = g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, error);

    if (ok) {
        g_key_file_set_string(kf, "dkim", domain, value);
        data = g_key_file_to_data(kf, &len, NULL);
        ok = write_file_atomic(path, inst->home, data, len, error);
    }
    g_free(data);
    g_key_file_free(kf);
    g_free(path);
    return ok;
}

int
cmd_dkim_keygen(int argc, char **argv)
{
    char *selector = NULL, *type = NULL;
    int bits = 2048;
    gboolean enable = FALSE;
    GOptionEntry entries[] = {
        { "selector", 's', 0, G_OPTION_ARG_STRING, &selector, "selector (default: kairan)", "S" },
        { "type", 't', 0, G_OPTION_ARG_STRING, &type, "rsa (default) or ed25519", "TYPE" },
        { "bits", 'b', 0, G_OPTION_ARG_INT, &bits, "RSA key size (default 2048)", "N" },
        { "enable", 0, 0, G_OPTION_ARG_NONE, &enable, "sign with the new key now ([dkim] in kairan.conf)", NULL },
        G_OPTION_ENTRY_NULL
    };
    GError *error = NULL;
    Instance *inst;
    char *domain, *dir, *file, *path, *txt = NULL, *conf_value, *probe, *ok_addr, *txt_path;
    GString *record;

    cli_parse(&argc, &argv, "dkim-keygen", "DOMAIN",
              "Make a DKIM signing key for DOMAIN and print the DNS TXT record to publish.", entries);
    if (argc != 2)
        cli_usage_error("dkim-keygen", "give one DOMAIN");
    if (!selector)
        selector = g_strdup("kairan");
    if (!type)
        type = g_strdup("rsa");
    if (!g_str_equal(type, "rsa") && !g_str_equal(type, "ed25519"))
        cli_usage_error("dkim-keygen", "--type must be rsa or ed25519");
    if (g_str_equal(type, "rsa") && (bits < 1024 || bits > 8192))
        cli_usage_error("dkim-keygen", "--bits must be between 1024 and 8192");
    if (!str_is_safe_name(selector, TRUE))
        cli_usage_error("dkim-keygen", "'%s' is not a valid selector", selector);
    domain = g_ascii_strdown(argv[1], -1);
    probe = g_strconcat("x@", domain, NULL);
    ok_addr = address_normalize(probe, NULL);
    if (!ok_addr || strchr(domain, '/'))
        cli_usage_error("dkim-keygen", "'%s' is not a valid domain", argv[1]);
    g_free(ok_addr);
    g_free(probe);

    inst = cli_open();
    log_open_file(inst->home);
    dir = instance_path(inst, "dkim", NULL);
    file = g_strdup_printf("%s.%s.key", domain, selector);
    path = g_build_filename(dir, file, NULL);
    if (!mkdir_p(dir, 0700, &error) || !dkim_keygen(type, bits, path, &txt, &error))
        cli_exit_error(error);
    conf_value = g_strdup_printf("%s:dkim/%s", selector, file);
    if (enable && !enable_key(inst, domain, conf_value, &error))
        cli_exit_error(error);
    log_info("DKIM %s key for %s (selector %s) written to %s%s", type, domain, selector, path,
             enable ? ", enabled" : "");

    /* The zone file line; TXT strings are at most 255 octets: split. */
    record = g_string_new(NULL);
    g_string_append_printf(record, "%s._domainkey.%s. IN TXT (", selector, domain);
    for (size_t off = 0, n = strlen(txt); off < n; off += 250)
        g_string_append_printf(record, " \"%.*s\"", (int) MIN((size_t) 250, n - off), txt + off);
    g_string_append(record, " )\n");
    txt_path = g_strdup_printf("%.*s.txt", (int) (strlen(path) - 4), path);
    if (!write_file_atomic(txt_path, dir, record->str, record->len, &error))
        cli_exit_error(error);

    printf("; DKIM %s key for %s, selector %s: private key in %s\n", type, domain, selector, path);
    if (enable)
        printf("; signing is on: kairan.conf [dkim] %s=%s\n", domain, conf_value);
    else
        printf("; to sign with it, add to kairan.conf:\n;   [dkim]\n;   %s=%s\n", domain, conf_value);
    printf("; publish this record in DNS first (also in %s):\n%s", txt_path, record->str);
    g_string_free(record, TRUE);
    g_free(txt_path);

    g_free(conf_value);
    g_free(txt);
    g_free(path);
    g_free(file);
    g_free(dir);
    g_free(domain);
    g_free(selector);
    g_free(type);
    instance_free(inst);
    return 0;
}
