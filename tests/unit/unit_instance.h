/* unit_instance.h - a throw-away kairan instance for the unit tests of
 * src/lib (test_queue.c, test_lists.c, test_token.c): made with
 * instance_create() in a new temporary directory, removed with all its
 * files by unit_instance_free(). */
#ifndef KAIRAN_UNIT_INSTANCE_H
#define KAIRAN_UNIT_INSTANCE_H

#include "instance.h"
#include <glib/gstdio.h>

/* unit_instance_rm_rf - remove path and everything below it. */
static inline void
unit_instance_rm_rf(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        char *child = g_build_filename(path, name, NULL);
        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            unit_instance_rm_rf(child);
        else
            g_unlink(child);
        g_free(child);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(path);
}

/* unit_instance_new - a new instance for domain lists.example.test. */
static inline Instance *
unit_instance_new(void)
{
    GError *error = NULL;
    char *home = g_dir_make_tmp("kairan-unit-XXXXXX", &error);
    Instance *inst;

    g_assert_no_error(error);
    inst = instance_create(home, "lists.example.test", &error);
    g_assert_no_error(error);
    g_assert_nonnull(inst);
    g_assert_nonnull(inst->db);
    g_free(home);
    return inst;
}

/* unit_instance_free - close the instance and remove its directory. */
static inline void
unit_instance_free(Instance *inst)
{
    char *home = g_strdup(inst->home);
    instance_free(inst);
    unit_instance_rm_rf(home);
    g_free(home);
}

#endif
