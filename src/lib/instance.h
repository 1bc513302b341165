/* instance.h - one kairan instance (KAIRAN_HOME): its kairan.conf, its
 * database and the paths inside it. */
#ifndef KAIRAN_INSTANCE_H
#define KAIRAN_INSTANCE_H

#include <glib.h>
#include <sqlite3.h>

typedef struct {
    char *home;          /* absolute path of the instance */
    GKeyFile *conf;      /* kairan.conf */
    sqlite3 *db;         /* kairan.db */
    char *domain;        /* [global] domain */
    char *hostname;      /* [global] hostname (default: domain) */
    char *secret;        /* per-instance secret for HMAC tokens (meta) */
} Instance;

/* instance_home - the home chosen by --home, else KAIRAN_HOME, else the
 * compiled-in default; an absolute path (newly allocated). */
char *instance_home(const char *from_option);
/* instance_open - open an existing instance; errors carry sysexits codes
 * (EXIT_CONFIG when there is no instance, EXIT_TEMPFAIL when busy). */
Instance *instance_open(const char *home, GError **error);
/* instance_create - kairan init: directories, kairan.conf, kairan.db. */
Instance *instance_create(const char *home, const char *domain, GError **error);
void instance_free(Instance *inst);

/* Paths inside the instance (newly allocated). */
char *instance_path(const Instance *inst, const char *first, ...) G_GNUC_NULL_TERMINATED;
char *instance_list_dir(const Instance *inst, const char *list);   /* spool/LIST */

/* [global] keys (their table, defaults and bounds: globals.c).  The value
 * in force: kairan.conf's when it is valid, else the table's default. */
char *instance_global(const Instance *inst, const char *key);  /* NULL if empty */
gint64 instance_global_int(const Instance *inst, const char *key);   /* numbers, durations in s */
double instance_global_double(const Instance *inst, const char *key);
gboolean instance_global_bool(const Instance *inst, const char *key);

/* The list's addresses: LIST@domain, LIST-ctl@domain, LIST-admin@domain
 * (the list id NAME@DOMAIN of another domain gives NAME-ctl@DOMAIN...). */
char *list_address(const Instance *inst, const char *list, const char *suffix);

/* Where the kairan binary is, for the alias lines. */
const char *kairan_binary_path(void);
void kairan_set_binary_path(const char *argv0);
/* Template directory (KAIRAN_TEMPLATES, installed, or the source tree). */
const char *kairan_template_dir(void);

#endif
