/* fuzz_import_json.c - libFuzzer harness for the bounded JSON reader of
 * kairan import mailman3 (src/import/json.c): a value or an error naming
 * the file; every string of a parsed value is valid UTF-8. */
#include "fuzz_common.h"
#include "import/import.h"

static void
check(const ImportValue *v)
{
    if (v->type == IV_STR && !g_utf8_validate(v->str->str, v->str->len, NULL))
        abort();
    if (v->items)
        for (guint i = 0; i < v->items->len; i++)
            check(g_ptr_array_index(v->items, i));
    if (v->keys)
        for (guint i = 0; i < v->keys->len; i++)
            if (!g_utf8_validate(g_ptr_array_index(v->keys, i), -1, NULL))
                abort();
}

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
    v = json_parse((const char *) data, size, "config.json", &error);
    if (!v) {
        if (!error || error->code != EXIT_DATAERR || !g_str_has_prefix(error->message, "config.json"))
            abort();
        g_error_free(error);
        return 0;
    }
    check(v);
    g_free(import_value_text(v));
    import_value_free(v);
    return 0;
}
