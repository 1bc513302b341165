/* fuzz_import_mailman2.c - libFuzzer harness for the mapping of Mailman
 * 2.1's config_list output (src/import/mailman2.c): the input is written
 * as DIR/config and read by import_mailman2 as `kairan import mailman2
 * DIR` does, so the nonmember lists and the header_filter_rules patterns
 * (pattern lines turned into "Name: regex -> action" rules) are parsed
 * from anything.  The import either fails with an error naming config or
 * gives a plan whose every setting is valid for settings.c (header_filters
 * parsed again by moderation.c). */
#include "fuzz_common.h"
#include "import/import.h"
#include "moderation.h"

static char *dir;
static Instance *inst;            /* kept: only its home is used */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_init_libs();
    inst = fuzz_instance();          /* a temporary home, removed at exit */
    dir = g_build_filename(fuzz_home, "mm2", NULL);
    if (g_mkdir(dir, 0700) != 0)
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path;
    GError *error = NULL;
    ImportPlan *plan;

    if (size > 32 * 1024)
        return 0;
    path = g_build_filename(dir, "config", NULL);
    {
        FILE *f = fopen(path, "wb");          /* no fsync: g_file_set_contents would */
        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
            abort();
    }
    plan = import_plan_new("mailman2", dir, FALSE);
    if (!import_mailman2(plan, dir, &error)) {
        if (!error || !strstr(error->message, "config"))
            abort();
        g_error_free(error);
    } else {
        for (guint i = 0; i < plan->settings->len; i++) {
            ImportSetting *s = g_ptr_array_index(plan->settings, i);
            char *why = NULL, *v = setting_validate(s->key, s->value, &why);
            if (!v) {
                fprintf(stderr, "planned %s = '%s' is not valid: %s\n", s->key, s->value, why);
                abort();
            }
            if (g_str_equal(s->key, "header_filters")) {
                GPtrArray *rules = moderation_rules_parse(v, &why);
                if (!rules)
                    abort();
                g_ptr_array_unref(rules);
            }
            g_free(v);
        }
    }
    import_plan_free(plan);
    g_free(path);
    return 0;
}
