/* fuzz_import_pylit.c - libFuzzer harness for the Python literal reader
 * of Mailman 2.1's config_list output (src/import/pylit.c): a dict of
 * NAME = VALUE or an error naming the file and a line; every value turns
 * into text (import_value_text) without a crash. */
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
    ImportValue *v;

    if (size > 64 * 1024)
        return 0;
    v = pylit_parse_config((const char *) data, size, "config", &error);
    if (!v) {
        if (!error || error->code != EXIT_DATAERR || !g_str_has_prefix(error->message, "config:"))
            abort();
        g_error_free(error);
        return 0;
    }
    if (v->type != IV_DICT || v->keys->len != v->items->len)
        abort();
    for (guint i = 0; i < v->items->len; i++)
        g_free(import_value_text(g_ptr_array_index(v->items, i)));
    import_value_free(v);
    return 0;
}
