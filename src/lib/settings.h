/* settings.h - per-list settings: the table of keys, their defaults and
 * validation, and reading/writing them (kairan.db over [list-defaults]
 * in kairan.conf over built-in defaults). */
#ifndef KAIRAN_SETTINGS_H
#define KAIRAN_SETTINGS_H

#include "instance.h"

typedef enum {
    SETTING_ENUM,       /* one of a fixed set of words */
    SETTING_UINT,       /* a non-negative integer */
    SETTING_DURATION,   /* 300, 5m, 2h, 1d */
    SETTING_STRING,     /* free text on one line */
    SETTING_TEXT,       /* free text, several lines (LF; at most 4 KB) */
    SETTING_PATTERNS,   /* addresses, *@domain globs, ^regexes; blank separated */
    SETTING_TAG,        /* subject tag: text with at most one %d and %s */
    SETTING_ADDRLIST,   /* addresses separated by ',' or blanks */
    SETTING_TYPELIST,   /* MIME types (type/sub or type/ *) */
    SETTING_BOOL,       /* yes|no */
    SETTING_HEADERRULES /* "Header: regex -> action" rules, ';' or new line between (moderation.c) */
} SettingType;

typedef struct {
    const char *key;
    SettingType type;
    const char *dflt;
    const char *values;   /* for SETTING_ENUM: "a|b|c" */
    const char *help;
    /* s12-site: where the web's settings page, `kairan config LIST
     * --verbose` and the API's /api/v1/settings show the key, and its
     * human name.  An entry may leave them out (NULL): then
     * setting_section() guesses the section from the key and
     * setting_title() makes a title of the key. */
    const char *section;  /* one of settings_sections() */
    const char *title;    /* "Who may post" */
} SettingDef;

const SettingDef *settings_table(size_t *count);
/* settings_sections - the sections of the settings page in their order
 * (NULL-terminated, static): Posting, Moderation, Members & subscription,
 * Archive, Digest, Deliverability, Limits. */
const char *const *settings_sections(void);
/* setting_section - def's section (its own, or one guessed from the key). */
const char *setting_section(const SettingDef *def);
/* setting_title - def's human title; without one, the key made readable
 * ("max_size" -> "Max size"), kept until the process ends. */
const char *setting_title(const SettingDef *def);
const SettingDef *setting_find(const char *key);
/* setting_validate - normalised value, or NULL and *why (allocated). */
char *setting_validate(const char *key, const char *value, char **why);

/* list_setting - the value in force for a list (newly allocated). */
char *list_setting(const Instance *inst, const char *list, const char *key);
gint64 list_setting_int(const Instance *inst, const char *list, const char *key);
gboolean list_setting_bool(const Instance *inst, const char *list, const char *key);
/* list_setting_is - TRUE if the setting equals word. */
gboolean list_setting_is(const Instance *inst, const char *list, const char *key, const char *word);
/* list_setting_addrs - the addresses of an ADDRLIST setting (NULL-terminated). */
char **list_setting_addrs(const Instance *inst, const char *list, const char *key);
/* list_setting_set - validate and store; errors are EXIT_USAGE with a
 * message naming the valid values. */
gboolean list_setting_set(Instance *inst, const char *list, const char *key,
                          const char *value, GError **error);

#endif
