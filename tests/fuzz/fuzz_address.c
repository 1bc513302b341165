/* fuzz_address.c - libFuzzer harness for address parsing:
 * address_normalize on the raw input and address_from_header on it as a
 * header value.  Whatever is accepted must be safe to put back into a
 * header (no control characters), normalised (normalising it again gives
 * the same string) and at most 254 bytes; the helpers on the result
 * (address_domain, address_is_mailer_daemon, address_equal) must not
 * misbehave.  addrfix (closing open comments ahead of GMime) must only
 * append, and its result must need no further fixing, for one value and
 * for the input as a whole message. */
#include "fuzz_common.h"
#include "address.h"
#include "addrfix.h"

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

static void
check_addrfix(const char *in, const uint8_t *data, size_t size)
{
    char *fixed = addrfix_value(in), *again;
    guint8 *whole, *whole_again;
    size_t n = 0, n_again = 0;

    if (fixed) {
        if (strncmp(fixed, in, strlen(in)) != 0) {
            fprintf(stderr, "addrfix_value changed more than the end of \"%s\"\n", in);
            abort();
        }
        if ((again = addrfix_value(fixed))) {
            fprintf(stderr, "addrfix_value left \"%s\" open\n", fixed);
            abort();
        }
    }
    g_free(fixed);
    whole = addrfix_message(data, size, &n);
    if (whole) {
        whole_again = addrfix_message(whole, n, &n_again);
        if (n <= size || whole_again) {
            fprintf(stderr, "addrfix_message is not idempotent\n");
            abort();
        }
        g_free(whole);
    }
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
    check_addrfix(in, data, size);
    g_free(in);
    return 0;
}
