/* memberopts.h - per-member options: the table of options a member (or an
 * owner for them) sets with `kairan member-set`, the command mail `set`,
 * the web options page and the REST API, their values as text, and
 * storing them in the members row (lists.c reads them into Member). */
#ifndef KAIRAN_MEMBEROPTS_H
#define KAIRAN_MEMBEROPTS_H

#include "instance.h"
#include "lists.h"

typedef enum {
    MEMBEROPT_BOOL,     /* on|off (yes|no, true|false) */
    MEMBEROPT_DATE      /* YYYY-MM-DD (a pause until that day) or off */
} MemberOptType;

typedef struct {
    const char *name;       /* the name of the CLI, command mail and web */
    const char *api_name;   /* the key of the REST API's JSON */
    MemberOptType type;
    gboolean member_may;    /* a member may set it for themselves */
    const char *help;
} MemberOptDef;

const MemberOptDef *memberopts_table(size_t *count);
/* memberopts_find - by name or api_name; NULL if unknown. */
const MemberOptDef *memberopts_find(const char *name);
/* memberopts_names - "a, b, c" (member_only: only those a member may set). */
char *memberopts_names(gboolean member_only);
/* memberopts_normalize - the value in its stored text form ("on",
 * "off", "YYYY-MM-DD"), or NULL and error EXIT_USAGE naming the valid
 * values.  A date value may start with "until ". */
char *memberopts_normalize(const MemberOptDef *def, const char *value, GError **error);
/* memberopts_date_start - the first second (UTC) of YYYY-MM-DD, or -1. */
gint64 memberopts_date_start(const char *date);
/* memberopts_value - the option of member m as text ("on", "off",
 * "until YYYY-MM-DD"; a pause that is over is "off"). */
char *memberopts_value(const Member *m, const MemberOptDef *def);
/* memberopts_vacation_date - YYYY-MM-DD of m's pause, NULL if none now. */
char *memberopts_vacation_date(const Member *m);
/* memberopts_set - validate and store option name = value for addr;
 * EXIT_USAGE for an unknown option or value, EXIT_NOUSER when addr is
 * not a member. */
gboolean memberopts_set(Instance *inst, const char *list, const char *addr, const char *name,
                        const char *value, GError **error);

#endif
