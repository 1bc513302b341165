/* fuzz_import_mailman3.c - libFuzzer harness for what `kairan import
 * mailman3 DIR` reads besides config.json (src/import/mailman3.c): the
 * input is HEADER-MATCHES NUL MEMBERS-CSV NUL CONFIG-JSON, written as
 * DIR/header-matches.json, DIR/members.csv and DIR/config.json (an empty
 * object when the field is empty), so the header-matches entries and the
 * nonmember rows with their moderation actions are read from anything.
 * The import either fails with an error naming a file or gives a plan
 * whose every setting is valid for settings.c (header_filters parsed
 * again by moderation.c). */
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
    dir = g_build_filename(fuzz_home, "mm3", NULL);
    if (g_mkdir(dir, 0700) != 0)
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const files[] = { "header-matches.json", "members.csv", "config.json" };
    char **f;
    GError *error = NULL;
    ImportPlan *plan;

    if (size > 32 * 1024)
        return 0;
    f = fuzz_fields(data, size, 3);
    for (int i = 0; i < 3; i++) {
        char *path = g_build_filename(dir, files[i], NULL);
        FILE *out = fopen(path, "wb");          /* no fsync: g_file_set_contents would */
        const char *text = i == 2 && !*f[i] ? "{}" : f[i];
        if (!out || fwrite(text, 1, strlen(text), out) != strlen(text) || fclose(out) != 0)
            abort();
        g_free(path);
    }
    plan = import_plan_new("mailman3", dir, FALSE);
    if (!import_mailman3(plan, dir, &error)) {
        if (!error || !(strstr(error->message, ".json") || strstr(error->message, ".csv")))
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
    g_strfreev(f);
    import_plan_free(plan);
    return 0;
}
