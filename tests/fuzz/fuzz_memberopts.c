/* fuzz_memberopts.c - libFuzzer harness for the member option values of
 * lib/memberopts.c (kairan member-set, command mail `set`, the web form,
 * the REST API): the first line of the input names the option, the rest
 * is its value.  An accepted value must be in stored form ("on", "off" or
 * a real YYYY-MM-DD whose first second memberopts_date_start gives),
 * normalising it again must give it back, and a refused one must come
 * with an EXIT_USAGE error naming the valid values. */
#include "fuzz_common.h"
#include "memberopts.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init_libs();
    return 0;
}

static void
check(const MemberOptDef *def, const char *value)
{
    GError *e = NULL;
    char *v = memberopts_normalize(def, value, &e), *again;

    if (!v) {
        if (!e || e->code != EXIT_USAGE || !strstr(e->message, "valid values"))
            abort();
        g_error_free(e);
        return;
    }
    if (e)
        abort();
    if (def->type == MEMBEROPT_BOOL && strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
        abort();
    if (def->type == MEMBEROPT_DATE && strcmp(v, "off") != 0) {
        gint64 t = memberopts_date_start(v);
        GDateTime *dt;
        char *back;
        if (t < 0 || strlen(v) != 10)
            abort();
        dt = g_date_time_new_from_unix_utc(t);
        back = g_date_time_format(dt, "%Y-%m-%d");
        if (strcmp(back, v) != 0) {
            fprintf(stderr, "date %s starts at %" G_GINT64_FORMAT " = %s\n", v, t, back);
            abort();
        }
        g_free(back);
        g_date_time_unref(dt);
    }
    again = memberopts_normalize(def, v, NULL);
    if (!again || strcmp(again, v) != 0)
        abort();
    g_free(again);
    g_free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in, *nl;
    const MemberOptDef *def;
    size_t n = 0;
    const MemberOptDef *table = memberopts_table(&n);

    if (size > 4096)
        return 0;
    in = fuzz_strndup(data, size);
    nl = strchr(in, '\n');
    if (nl) {
        *nl = '\0';
        def = memberopts_find(in);
        if (def)
            check(def, nl + 1);
    }
    for (size_t i = 0; i < n; i++)      /* the whole input as every option's value */
        check(&table[i], in);
    (void) memberopts_date_start(in);
    g_free(in);
    return 0;
}
