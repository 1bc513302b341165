/* fuzz_web.c - libFuzzer harness for the web interface's request
 * parsing (src/web/httputil.c, no sockets) and its template engine on
 * untrusted values: the input is split at NUL bytes into a query string,
 * a urlencoded body, a multipart Content-Type, a multipart body, a
 * Cookie header, a path and a CSV line; each goes through its parser
 * (url_decode, form_parse_urlencoded, form_parse_multipart, cookie_parse,
 * path_split, csv_split_line) and what comes out is put back through
 * url_encode/url_decode, csv_field/csv_split_line, html_escape and
 * tmpl_render_text.
 * Checks: decoded values are UTF-8 without NUL; a path segment is never
 * "", ".", ".." and holds no '/' or '\\'; url_decode(url_encode(x)) == x;
 * csv_split_line(csv_field(x)) == {x'} for x without line ends; escaped
 * or rendered untrusted values hold no '<', '>', '"' or "{{".
 * fuzz-corpus: */
#include "fuzz_common.h"
#include "web/httputil.h"
#include "web/tmpl.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init_libs();
    return 0;
}

static void
check_value(const char *v)
{
    char *enc, *dec, *esc, *out;
    TData *d;

    if (!g_utf8_validate(v, -1, NULL)) {
        fprintf(stderr, "decoded value is not UTF-8\n");
        abort();
    }
    enc = url_encode(v);
    dec = url_decode(enc, -1, FALSE);
    if (!dec || strcmp(dec, v) != 0) {
        fprintf(stderr, "url_decode(url_encode(\"%s\")) = \"%s\"\n", v, dec ? dec : "NULL");
        abort();
    }
    esc = html_escape(v);
    if (strpbrk(esc, "<>\"'"))
        abort();
    d = tdata_new();
    tdata_set(d, "v", v);
    tdata_add(d, "items");
    tdata_set(tdata_add(d, "items"), "v", v);
    out = tmpl_render_text("<p>{{v}}|{{{v}}}|{{#items}}[{{v}}]{{/items}}{{^v}}none{{/v}}</p>", d, "en");
    if (!out || strncmp(out, "<p>", 3) != 0 || strpbrk(out + 3, "<>\"'") != strstr(out + 3, "</p>")) {
        fprintf(stderr, "untrusted value not escaped: \"%s\" -> \"%s\"\n", v, out ? out : "NULL");
        abort();
    }
    tdata_free(d);
    g_free(out);
    g_free(esc);
    g_free(dec);
    g_free(enc);
}

static void
check_params(GHashTable *params)
{
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, params);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        GPtrArray *values = v;
        check_value(k);
        if (!params_get(params, k))
            abort();
        for (guint i = 0; i < values->len; i++)
            check_value(values->pdata[i]);
    }
}

static void
check_csv(const char *line)
{
    char **f = csv_split_line(line);
    GString *out = g_string_new(NULL);

    for (int i = 0; f && f[i]; i++) {
        char **again;
        g_string_truncate(out, 0);
        if (strpbrk(f[i], "\r\n"))
            continue;
        csv_field(out, f[i]);
        again = csv_split_line(out->str);
        if (!again || !again[0] || again[1] ||
            (strcmp(again[0], f[i]) != 0 && !(again[0][0] == '\'' && strcmp(again[0] + 1, f[i]) == 0))) {
            fprintf(stderr, "CSV field \"%s\" -> %s -> \"%s\"\n", f[i], out->str,
                    again && again[0] ? again[0] : "NULL");
            abort();
        }
        g_strfreev(again);
    }
    g_string_free(out, TRUE);
    g_strfreev(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **f;
    GHashTable *params, *cookies;
    char **seg;
    char *dec;

    if (size > 256 * 1024)
        return 0;
    f = fuzz_fields(data, size, 7);

    dec = url_decode(f[0], -1, TRUE);
    if (dec) {
        if (strlen(dec) > strlen(f[0]))
            abort();
        check_value(dec);
    }
    g_free(dec);

    params = params_new();
    if (form_parse_urlencoded(params, f[0], strlen(f[0])))
        check_params(params);
    g_hash_table_unref(params);
    params = params_new();
    if (form_parse_urlencoded(params, f[1], strlen(f[1])))
        check_params(params);
    g_hash_table_unref(params);

    params = params_new();
    {
        /* the multipart body is the rest of the input, NULs included */
        size_t off = 0;
        for (int i = 0; i < 3; i++)
            off += strlen(f[i]) + 1;
        if (off <= size && form_parse_multipart(params, f[2], data + off, size - off))
            check_params(params);
    }
    g_hash_table_unref(params);

    cookies = cookie_parse(f[4]);
    {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, cookies);
        while (g_hash_table_iter_next(&it, &k, &v))
            if (!*(char *) k || strchr(k, ';') || strchr(v, ';'))
                abort();
    }
    g_hash_table_unref(cookies);

    seg = path_split(f[5]);
    for (int i = 0; seg && seg[i]; i++) {
        if (!*seg[i] || g_str_equal(seg[i], ".") || g_str_equal(seg[i], "..") ||
            strpbrk(seg[i], "/\\")) {
            fprintf(stderr, "bad path segment \"%s\" from \"%s\"\n", seg[i], f[5]);
            abort();
        }
        check_value(seg[i]);
    }
    g_strfreev(seg);

    check_csv(f[6]);
    g_strfreev(f);
    return 0;
}
