/* aliases.c - HOME/aliases, the alias map Postfix reads with
 * alias_maps = hash:HOME/aliases (owned by the kairan user, so the pipes
 * run as that user), and postalias on it.  Written again whenever a list
 * is created or removed, by the command line, the web and the REST API.
 *
 * Two writers at once (two web threads, the web and `kairan newlist`)
 * take an flock on HOME/aliases.lock around reading the lists and
 * renaming the new map into place, so the last map written always holds
 * every list that exists. */
#include "config.h"
#include "aliases.h"
#include "globals.h"
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

void
aliases_append_lines(GString *out, const Instance *inst, const char *list)
{
    char *bin = kairan_program();
    char *prog = home_is_default(inst) ? g_strdup(bin) : g_strdup_printf("%s --home %s", bin, inst->home);
    char *ctl = g_strconcat(list, "-ctl:", NULL);
    char *adm = g_strconcat(list, "-admin:", NULL);
    char *lst = g_strconcat(list, ":", NULL);

    g_string_append_printf(out, "%-24s\"|%s deliver %s\"\n", lst, prog, list);
    g_string_append_printf(out, "%-24s\"|%s deliver --ctl %s\"\n", ctl, prog, list);
    g_string_append_printf(out, "%-24s\"|%s deliver --admin %s\"\n", adm, prog, list);
    g_free(bin);
    g_free(prog);
    g_free(ctl);
    g_free(adm);
    g_free(lst);
}

gboolean
aliases_write(const Instance *inst, GError **error)
{
    char *path = instance_path(inst, "aliases", NULL);
    char *tmp = instance_path(inst, "tmp", NULL);
    char *lockpath = instance_path(inst, "aliases.lock", NULL);
    GString *out = NULL;
    char **lists = NULL;
    gboolean ok = FALSE;
    int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (lock < 0 || flock(lock, LOCK_EX) < 0) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "lock %s: %s", lockpath, g_strerror(errno));
        goto out;
    }
    lists = list_names(inst);
    out = g_string_new("# kairan aliases: written by kairan (newlist, rmlist, aliases, the web and the API);"
                       " do not edit.\n"
                       "# Postfix: alias_maps = hash:/etc/aliases, hash:THIS_FILE; then postalias THIS_FILE\n");
    for (int i = 0; lists[i]; i++)
        aliases_append_lines(out, inst, lists[i]);
    ok = write_file_atomic(path, g_file_test(tmp, G_FILE_TEST_IS_DIR) ? tmp : NULL, out->str, out->len, error);
out:
    if (lock >= 0)
        close(lock);      /* releases the lock */
    if (out)
        g_string_free(out, TRUE);
    g_strfreev(lists);
    g_free(path);
    g_free(tmp);
    g_free(lockpath);
    return ok;
}

gboolean
aliases_postalias(const Instance *inst, const char *postfix_conf, GError **error)
{
    char *path = instance_path(inst, "aliases", NULL);
    const char *args[6];
    int n = 0, status = -1;
    char *err_text = NULL, *prog;
    gboolean ok = FALSE;
    GError *e = NULL;

    /* postalias lives in /usr/sbin, which a web server's PATH may lack */
    prog = g_find_program_in_path("postalias");
    args[n++] = prog ? prog : "/usr/sbin/postalias";
    if (postfix_conf && *postfix_conf) {
        args[n++] = "-c";
        args[n++] = postfix_conf;
    }
    args[n++] = path;
    args[n] = NULL;
    if (!g_spawn_sync(NULL, (char **) args, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                      NULL, &err_text, &status, &e)) {
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "postalias: %s", e->message);
        g_error_free(e);
    } else if (!g_spawn_check_wait_status(status, NULL)) {
        g_strstrip(err_text);
        g_set_error(error, KAIRAN_ERROR, EXIT_TEMPFAIL, "postalias %s failed%s%s", path,
                    *err_text ? ": " : "", err_text);
    } else {
        ok = TRUE;
    }
    g_free(err_text);
    g_free(prog);
    g_free(path);
    return ok;
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
