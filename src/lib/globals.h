/* globals.h - the [global] keys of kairan.conf: one table with each key's
 * type, default, bounds and help; reading a key (the configured value, or
 * the table's default when it is unset or invalid), checking a whole
 * kairan.conf, and setting one key in it.  Per-list keys are settings.h. */
#ifndef KAIRAN_GLOBALS_H
#define KAIRAN_GLOBALS_H

#include "instance.h"

typedef enum {
    GLOBAL_STRING,      /* free text on one line */
    GLOBAL_UINT,        /* a non-negative integer within [min, max] */
    GLOBAL_DURATION,    /* 300, 5m, 2h, 1d, 1w: seconds within [min, max] */
    GLOBAL_SECONDS,     /* a decimal number of seconds within [min, max] (0.5) */
    GLOBAL_BOOL,        /* yes|no (also true|false, 1|0) */
    GLOBAL_ENUM,        /* one of values ("a|b|c") */
    GLOBAL_HOSTPORT,    /* HOST:PORT or [IPv6]:PORT */
    GLOBAL_HOSTPORTS,   /* HOST:PORT, several separated by ',' */
    GLOBAL_DOMAIN,      /* a DNS name */
    GLOBAL_URL,         /* http:// or https:// URL */
    GLOBAL_PATH,        /* an absolute file name */
    GLOBAL_SOCKET,      /* an absolute UNIX socket name or HOST:PORT */
    GLOBAL_NETWORKS,    /* CIDR networks separated by ';', ',' or blanks */
    GLOBAL_ROUTES       /* domain=[host]:port;domain=[host]:port */
} GlobalType;

typedef struct {
    const char *key;
    GlobalType type;
    const char *dflt;     /* "" = unset */
    const char *values;   /* GLOBAL_ENUM: "a|b|c" */
    gint64 min, max;      /* GLOBAL_UINT, GLOBAL_DURATION, GLOBAL_SECONDS */
    const char *help;
} GlobalDef;

const GlobalDef *globals_table(size_t *count);
const GlobalDef *global_find(const char *key);

/* global_validate - the value normalised (newly allocated; "" allowed for
 * keys whose default is empty), or NULL and *why (allocated, naming the
 * key and what it takes; for an unknown key, the nearest known ones). */
char *global_validate(const char *key, const char *value, char **why);

/* globals_check - every key of kairan.conf's [global] group is known and
 * valid; otherwise FALSE with one EXIT_CONFIG error naming each problem. */
gboolean globals_check(const Instance *inst, GError **error);

/* globals_log_problems - log what globals_check finds (daemons at start). */
void globals_log_problems(const Instance *inst, const char *who);

/* globals_set - validate VALUE and write KEY into kairan.conf (atomically,
 * comments kept); "" removes the key, so the default applies. */
gboolean globals_set(Instance *inst, const char *key, const char *value, GError **error);

/* global_is_set - TRUE when kairan.conf gives the key a value. */
gboolean global_is_set(const Instance *inst, const char *key);
/* global_is_valid_there - TRUE unless kairan.conf gives the key a value
 * that global_validate refuses (then the default is in force). */
gboolean global_is_valid_there(const Instance *inst, const char *key);

#endif
