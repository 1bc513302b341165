/* fuzz_import_fml.c - libFuzzer harness for the fml config.ph reader of
 * kairan import (src/import/fml.c): any input is either a table of
 * scalar variables or an error naming config.ph and a line; each value is
 * a string and each name is made of letters, digits and _. */
#include "fuzz_common.h"
#include "import/import.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init_libs();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *error = NULL;
    GPtrArray *other = g_ptr_array_new_with_free_func(g_free);
    GHashTable *vars;

    if (size > 64 * 1024)
        return 0;
    vars = fml_parse_config_ph((const char *) data, size, "config.ph", other, &error);
    if (!vars) {
        if (!error || error->code != EXIT_DATAERR || !g_str_has_prefix(error->message, "config.ph:"))
            abort();
        g_error_free(error);
    } else {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, vars);
        while (g_hash_table_iter_next(&it, &k, &v))
            for (const char *p = k; *p; p++)
                if (!g_ascii_isalnum(*p) && *p != '_')
                    abort();
        g_hash_table_unref(vars);
    }
    g_ptr_array_unref(other);
    return 0;
}
