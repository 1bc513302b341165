/* fuzz_address.c - libFuzzer harness for address parsing:
 * address_normalize on the raw input and address_from_header on it as a
 * header value.  Whatever is accepted must be safe to put back into a
 * header (no control characters), normalised (normalising it again gives
 * the same string) and at most 254 bytes; the helpers on the result
 * (address_domain, address_is_mailer_daemon, address_equal) must not
 * misbehave. */
#define FUZZ_FULL_LEAK_STACKS 1   /* reaches the GMime leak in lsan.supp */
#include "fuzz_common.h"
#include "address.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init_libs();
    return 0;
}

static void
check_normalised(const char *in, const char *addr)
{
    const char *why = NULL;
    char *again;

    if (!addr)
        return;
    for (const char *p = addr; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            fprintf(stderr, "control character 0x%02x accepted in <%s> from \"%s\"\n",
                    (unsigned char) *p, addr, in);
            abort();
        }
    if (strlen(addr) > 254 || !strchr(addr, '@')) {
        fprintf(stderr, "bad address <%s> accepted\n", addr);
        abort();
    }
    again = address_normalize(addr, &why);
    if (!again || strcmp(again, addr) != 0) {
        fprintf(stderr, "not idempotent: <%s> -> <%s> (%s)\n", addr, again ? again : "NULL",
                why ? why : "");
        abort();
    }
    (void) address_domain(again);
    (void) address_is_mailer_daemon(again);
    if (!address_equal(again, addr))
        abort();
    g_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in, *addr, *name = NULL;
    const char *why = NULL;

    if (size > 64 * 1024)
        return 0;
    in = fuzz_strndup(data, size);
    addr = address_normalize(in, &why);
    if (!addr && !why)
        abort();
    check_normalised(in, addr);
    g_free(addr);

    addr = address_from_header(in, &name);
    check_normalised(in, addr);
    if (name && !g_utf8_validate(name, -1, NULL)) {
        fprintf(stderr, "display name is not UTF-8\n");
        abort();
    }
    g_free(addr);
    g_free(name);
    g_free(in);
    return 0;
}
