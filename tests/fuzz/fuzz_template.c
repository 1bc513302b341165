/* fuzz_template.c - libFuzzer harness for the text helpers of src/lib:
 * template_expand ({{name}}) with variables from the input,
 * setting_validate for every key of the settings table, parse_duration,
 * and token_peek on forged tokens against a throw-away instance.
 * Input: TEMPLATE NUL VALUE1 NUL VALUE2 NUL SETTING-VALUE NUL TOKEN; the
 * first byte of SETTING-VALUE's field picks the key. */
#include "fuzz_common.h"
#include "template.h"
#include "token.h"

static Instance *inst;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    GError *error = NULL;
    char *tok;

    fuzz_init_libs();
    inst = fuzz_instance();
    fuzz_newlist(inst, "team", "owner@example.org");
    tok = token_create(inst, "team", "subscribe", "a@example.org", NULL, 3600, &error);
    if (!tok)
        abort();
    g_free(tok);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **f, *out, *v, *why = NULL;
    GHashTable *vars;
    size_t count;
    const SettingDef *table = settings_table(&count);
    const SettingDef *def;
    char *l = NULL, *a = NULL, *ad = NULL, *x = NULL;

    if (size > 64 * 1024)
        return 0;
    f = fuzz_fields(data, size, 5);
    vars = template_vars_new();
    template_var(vars, "subject", f[1]);
    template_var(vars, "reason", f[2]);
    template_var(vars, "", f[2]);
    out = template_expand(f[0], vars);
    g_free(out);
    out = template_expand(f[0], NULL);
    g_free(out);
    g_hash_table_unref(vars);

    def = &table[(unsigned char) f[3][0] % count];
    v = setting_validate(def->key, f[3][0] ? f[3] + 1 : f[3], &why);
    if (!v == !why)
        abort();
    /* one line, except a text setting: lines, but never CR or other controls */
    if (v && (strchr(v, '\r') || (def->type != SETTING_TEXT && strchr(v, '\n'))))
        abort();
    for (const char *p = v; p && *p; p++)
        if ((unsigned char) *p < 0x20 && *p != '\n' && *p != '\t')
            abort();
    g_free(v);
    g_free(why);
    (void) parse_duration(f[3]);

    (void) token_peek(inst, f[4], &l, &a, &ad, &x);
    g_free(l);
    g_free(a);
    g_free(ad);
    g_free(x);
    g_strfreev(f);
    return 0;
}
