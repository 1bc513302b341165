/* aliases.c - HOME/aliases, the alias map Postfix reads with
 * alias_maps = hash:HOME/aliases (owned by the kairan user, so the pipes
 * run as that user), HOME/virtual (virtual_alias_maps) for the lists of
 * the other domains, and postalias/postmap on them.  Written again whenever a list
 * is created or removed, by the command line, the web and the REST API.
 *
 * Two writers at once (two web threads, the web and `kairan newlist`)
 * take an flock on HOME/aliases.lock around reading the lists and
 * renaming the new map into place, so the last map written always holds
 * every list that exists. */
#include "config.h"
#include "aliases.h"
#include "globals.h"
#include "domains.h"
#include "lists.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

static gboolean
home_is_default(const Instance *inst)
{
    char *dflt = instance_home(KAIRAN_DEFAULT_HOME);
    gboolean same = g_str_equal(dflt, inst->home);
    g_free(dflt);
    return same;
}

static gboolean
is_program(const char *path)
{
    return g_file_test(path, G_FILE_TEST_IS_REGULAR) && g_file_test(path, G_FILE_TEST_IS_EXECUTABLE);
}

/* kairan_program - the `kairan` binary the pipes run.  In kairan and
 * kairan-daemon (told KAIRAN_BIN) that is kairan_binary_path(); the CGI
 * (or a kairan-daemon started by hand) is another program, so there the
 * kairan next to it or one directory up (the build tree's cgi/../kairan),
 * else the installed BINDIR/kairan. */
static char *
kairan_program(void)
{
    const char *self = kairan_binary_path();
    char *base = g_path_get_basename(self);
    char *dir, *cand;

    if (g_str_equal(base, "kairan")) {
        g_free(base);
        return g_strdup(self);
    }
    g_free(base);
    dir = g_path_get_dirname(self);
    for (int up = 0; up < 2; up++) {
        cand = up ? g_build_filename(dir, "..", "kairan", NULL) : g_build_filename(dir, "kairan", NULL);
        if (is_program(cand)) {
            char *canon = g_canonicalize_filename(cand, NULL);
            g_free(cand);
            g_free(dir);
            return canon;
        }
        g_free(cand);
    }
    g_free(dir);
    return g_build_filename(KAIRAN_BINDIR, "kairan", NULL);
}

/* alias_key - the alias of a list's address: NAME[-ctl|-admin] in the
 * default domain, NAME[-ctl|-admin]=DOMAIN for a list of another domain
 * ('=' is in no list name, so the two never meet; HOME/virtual maps
 * NAME@DOMAIN there). */
static char *
alias_key(const char *list, const char *suffix)
{
    const char *at = strchr(list, '@');
    if (at)
        return g_strdup_printf("%.*s%s=%s", (int) (at - list), list, suffix, at + 1);
    return g_strconcat(list, suffix, NULL);
}

void
aliases_append_lines(GString *out, const Instance *inst, const char *list)
{
    char *bin = kairan_program();
    char *prog = home_is_default(inst) ? g_strdup(bin) : g_strdup_printf("%s --home %s", bin, inst->home);
    static const char *const kinds[][2] = { { "", "" }, { "-ctl", "--ctl " }, { "-admin", "--admin " } };

    for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++) {
        char *key = alias_key(list, kinds[k][0]);
        char *lhs = g_strconcat(key, ":", NULL);
        g_string_append_printf(out, "%-24s\"|%s deliver %s%s\"\n", lhs, prog, kinds[k][1], list);
        g_free(lhs);
        g_free(key);
    }
    g_free(bin);
    g_free(prog);
}

void
aliases_append_virtual_lines(GString *out, const Instance *inst, const char *list)
{
    static const char *const suffixes[] = { "", "-ctl", "-admin" };

    if (!strchr(list, '@'))
        return;
    for (size_t k = 0; k < G_N_ELEMENTS(suffixes); k++) {
        char *addr = list_address(inst, list, suffixes[k]);
        char *key = alias_key(list, suffixes[k]);
        g_string_append_printf(out, "%-32s %s@%s\n", addr, key, inst->domain);
        g_free(key);
        g_free(addr);
    }
}

gboolean
aliases_write(const Instance *inst, GError **error)
{
    char *path = instance_path(inst, "aliases", NULL);
    char *vpath = instance_path(inst, "virtual", NULL);
    char *tmp = instance_path(inst, "tmp", NULL);
    char *lockpath = instance_path(inst, "aliases.lock", NULL);
    GString *out = NULL, *virt = NULL;
    char **lists = NULL, **domains = NULL;
    gboolean ok = FALSE;
    int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (lock < 0 || flock(lock, LOCK_EX) < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "lock %s: %s", lockpath, g_strerror(errno));
        goto out;
    }
    lists = list_names(inst);
    domains = domain_names(inst);
    out = g_string_new("# kairan aliases: written by kairan (newlist, rmlist, aliases, the web and the API);"
                       " do not edit.\n"
                       "# Postfix: alias_maps = hash:THIS_FILE; then kairan aliases --postalias\n");
    virt = g_string_new("# kairan virtual aliases: the lists of the domains besides the default one;\n"
                        "# written by kairan; do not edit.\n"
                        "# Postfix: virtual_alias_maps = hash:THIS_FILE; then kairan aliases --postalias\n");
    for (int i = 0; lists[i]; i++)
        aliases_append_lines(out, inst, lists[i]);
    /* a domain's own line makes it a virtual alias domain
     * (virtual_alias_domains defaults to $virtual_alias_maps); a domain
     * without lists has none, so domain add/remove leave the maps alone */
    for (int i = 0; domains[i]; i++) {
        char *tail = g_strconcat("@", domains[i], NULL);
        gboolean used = FALSE;
        for (int k = 0; lists[k] && !used; k++)
            used = g_str_has_suffix(lists[k], tail);
        if (used)
            g_string_append_printf(virt, "%-32s %s\n", domains[i], "kairan-domain");
        g_free(tail);
    }
    for (int i = 0; lists[i]; i++)
        aliases_append_virtual_lines(virt, inst, lists[i]);
    {
        const char *t = g_file_test(tmp, G_FILE_TEST_IS_DIR) ? tmp : NULL;
        ok = write_file_atomic(path, t, out->str, out->len, error) &&
             write_file_atomic(vpath, t, virt->str, virt->len, error);
    }
out:
    if (lock >= 0)
        close(lock);      /* releases the lock */
    if (out)
        g_string_free(out, TRUE);
    if (virt)
        g_string_free(virt, TRUE);
    g_strfreev(lists);
    g_strfreev(domains);
    g_free(path);
    g_free(vpath);
    g_free(tmp);
    g_free(lockpath);
    return ok;
}

/* run_map_tool - `TOOL [-c postfix_conf] HOME/FILE`: postalias on the
 * alias map, postmap on the virtual map. */
static gboolean
run_map_tool(const Instance *inst, const char *tool, const char *file, const char *postfix_conf,
             GError **error)
{
    char *path = instance_path(inst, file, NULL);
    const char *args[6];
    int n = 0, status = -1;
    char *err_text = NULL, *prog, *sbin;
    gboolean ok = FALSE;
    GError *e = NULL;

    /* postalias and postmap live in /usr/sbin, which a web server's PATH may lack */
    prog = g_find_program_in_path(tool);
    sbin = g_build_filename("/usr/sbin", tool, NULL);
    args[n++] = prog ? prog : sbin;
    if (postfix_conf && *postfix_conf) {
        args[n++] = "-c";
        args[n++] = postfix_conf;
    }
    args[n++] = path;
    args[n] = NULL;
    if (!g_spawn_sync(NULL, (char **) args, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                      NULL, &err_text, &status, &e)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "%s: %s", tool, e->message);
        g_error_free(e);
    } else if (!g_spawn_check_wait_status(status, NULL)) {
        g_strstrip(err_text);
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "%s %s failed%s%s", tool, path,
                    *err_text ? ": " : "", err_text);
    } else {
        ok = TRUE;
    }
    g_free(err_text);
    g_free(prog);
    g_free(sbin);
    g_free(path);
    return ok;
}

gboolean
aliases_postalias(const Instance *inst, const char *postfix_conf, GError **error)
{
    return run_map_tool(inst, "postalias", "aliases", postfix_conf, error) &&
           run_map_tool(inst, "postmap", "virtual", postfix_conf, error);
}

gboolean
aliases_update(const Instance *inst, GError **error)
{
    char *conf;
    gboolean ok;
    if (!aliases_write(inst, error))
        return FALSE;
    if (!instance_global_bool(inst, "aliases_postalias"))
        return TRUE;
    conf = instance_global(inst, "aliases_postfix_config");
    ok = aliases_postalias(inst, conf, error);
    g_free(conf);
    return ok;
}
