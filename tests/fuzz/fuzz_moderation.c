/* fuzz_moderation.c - libFuzzer harness for the moderation tools
 * (src/lib/moderation.c): the input is MAIL NUL RULES.
 *   - RULES go through setting_validate("header_filters") as `kairan
 *     config` and the API do: a refused value must say why; an accepted
 *     one is normalised, and normalising it again must give it back (the
 *     ';' escapes survive), and moderation_rules_parse must take it.
 *   - MAIL is parsed (max 200 parts); the rules are matched against it;
 *     then moderation_approved_take: afterwards no Approved:, Approve:,
 *     X-Approved: or X-Approve: header is left, the message still
 *     serialises, a second take finds no header password, and the
 *     serialised message parses again.
 * fuzz-corpus: japanese mime malformed */
#include "fuzz_common.h"
#include "message.h"
#include "moderation.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_init_libs();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "Approved", "Approve", "X-Approved", "X-Approve" };
    const uint8_t *nul;
    size_t mail_len;
    char *rules_text, *why = NULL, *norm;
    GPtrArray *rules = NULL;
    GMimeMessage *msg;

    if (size > 64 * 1024)
        return 0;
    nul = memchr(data, 0, size);
    mail_len = nul ? (size_t) (nul - data) : size;
    rules_text = nul ? fuzz_strndup(nul + 1, size - mail_len - 1) : g_strdup("");

    norm = setting_validate("header_filters", rules_text, &why);
    if (!norm) {
        if (!why)
            abort();
        g_free(why);
    } else {
        char *why2 = NULL, *again = setting_validate("header_filters", norm, &why2);
        if (!again || strcmp(again, norm) != 0) {
            fprintf(stderr, "header_filters '%s' normalised again gives '%s' (%s)\n", norm,
                    again ? again : "(refused)", why2 ? why2 : "");
            abort();
        }
        g_free(again);
        rules = moderation_rules_parse(norm, &why2);
        if (!rules)
            abort();
        g_free(norm);
    }

    msg = parse_message_bounded(data, mail_len, 200, NULL);
    if (msg) {
        const char *rule = NULL;
        char *password, *second, *text;
        ModerationAction a = moderation_rules_match(msg, rules, &rule);
        if (a != MODERATION_NONE && !rule)
            abort();
        password = moderation_approved_take(msg);
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
            if (g_mime_object_get_header(GMIME_OBJECT(msg), names[i])) {
                fprintf(stderr, "%s: still there after the take\n", names[i]);
                abort();
            }
        text = g_mime_object_to_string(GMIME_OBJECT(msg), NULL);
        if (!text)
            abort();
        second = moderation_approved_take(msg);
        g_free(second);
        {
            GMimeMessage *back = parse_message_bytes((const guint8 *) text, strlen(text));
            if (back)
                g_object_unref(back);
        }
        g_free(text);
        g_free(password);
        g_object_unref(msg);
    }
    if (rules)
        g_ptr_array_unref(rules);
    g_free(rules_text);
    return 0;
}
