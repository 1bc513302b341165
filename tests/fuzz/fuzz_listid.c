/* fuzz_listid - libFuzzer harness for the names of lists in several
 * domains (lib/domains.c): what a user types as LIST ("NAME" or
 * "NAME@DOMAIN", any case) through list_resolve and list_id_for, a login
 * "ADDRESS/NAME@DOMAIN" through auth_login_split_resolve, a recipient
 * through list_of_address, a domain through domain_name_valid.  The
 * instance has team, team@a.example and team@b.example.  Whatever
 * resolves must be one of those three ids, and the id's pieces
 * (list_name, list_domain, list_address, list_id_header) must put it back
 * together; a valid domain name must be lower case, dotted labels. */
#include "fuzz_common.h"
#include "auth_login.h"
#include "domains.h"

static Instance *inst;
static const char *const ids[] = { "team", "team@a.example", "team@b.example", NULL };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    GError *error = NULL;

    fuzz_init_libs();
    inst = fuzz_instance();
    if (!domain_add(inst, "a.example", NULL, &error) || !domain_add(inst, "b.example", "https://b.example/", &error)) {
        fprintf(stderr, "fuzz: domain_add: %s\n", error->message);
        abort();
    }
    for (int i = 0; ids[i]; i++)
        fuzz_newlist(inst, ids[i], NULL);
    return 0;
}

static void
check_id(const char *in, const char *id)
{
    gboolean known = FALSE;
    char *name, *domain, *full, *addr, *header, *expect;

    if (!id)
        return;
    for (int i = 0; ids[i]; i++)
        known = known || strcmp(ids[i], id) == 0;
    if (!known) {
        fprintf(stderr, "\"%s\" resolved to an unknown id \"%s\"\n", in, id);
        abort();
    }
    name = list_name(id);
    domain = list_domain(inst, id);
    full = list_full_name(inst, id);
    addr = list_address(inst, id, "-ctl");
    header = list_id_header(inst, id);
    expect = g_strdup_printf("%s@%s", name, domain);
    if (strcmp(full, expect) != 0 || strchr(name, '@'))
        abort();
    g_free(expect);
    expect = g_strdup_printf("%s-ctl@%s", name, domain);
    if (strcmp(addr, expect) != 0)
        abort();
    g_free(expect);
    expect = g_strdup_printf("%s.%s", name, domain);
    if (strcmp(header, expect) != 0)
        abort();
    g_free(expect);
    g_free(name);
    g_free(domain);
    g_free(full);
    g_free(addr);
    g_free(header);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *error = NULL;
    char *in, *id, *address = NULL, *list = NULL;
    const char *why = NULL;

    if (size > 4096)
        return 0;
    in = fuzz_strndup(data, size);

    id = list_resolve(inst, in, &error);
    if (!id && (!error || error->code != EXIT_NOUSER))
        abort();
    g_clear_error(&error);
    check_id(in, id);
    g_free(id);

    id = list_id_for(inst, in, &error);
    if (id) {
        char *name = list_name(id);
        if (!list_name_valid(name, NULL))
            abort();
        g_free(name);
    } else if (!error) {
        abort();
    }
    g_clear_error(&error);
    g_free(id);

    if (auth_login_split_resolve(inst, in, &address, &list)) {
        if (!address || !list)
            abort();
        check_id(in, list);
    }
    g_free(address);
    g_free(list);

    id = list_of_address(inst, in);
    check_id(in, id);
    g_free(id);

    if (domain_name_valid(in, &why)) {
        for (const char *p = in; *p; p++)
            if (!(g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '-' || *p == '.'))
                abort();
        if (strstr(in, "..") || *in == '.' || strlen(in) > 253)
            abort();
    } else if (!why) {
        abort();
    }
    g_free(in);
    return 0;
}
