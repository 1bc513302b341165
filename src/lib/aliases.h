/* aliases.h - the Postfix alias map of an instance, HOME/aliases: its
 * lines for one list, writing the whole map, and running postalias on
 * it.  The one writer of the map: `kairan newlist|rmlist|aliases`, the
 * web's site admin pages and the REST API all come here. */
#ifndef KAIRAN_ALIASES_H
#define KAIRAN_ALIASES_H

#include "instance.h"

/* aliases_append_lines - the three lines of list (LIST, LIST-ctl,
 * LIST-admin) piping into `kairan deliver`, with --home DIR unless the
 * instance is the compiled-in default. */
void aliases_append_lines(GString *out, const Instance *inst, const char *list);

/* aliases_append_virtual_lines - HOME/virtual's lines of a list of
 * another domain (nothing for one of the default domain): its three
 * addresses to their aliases NAME[-ctl|-admin]=DOMAIN at the default
 * domain, which mydestination holds. */
void aliases_append_virtual_lines(GString *out, const Instance *inst, const char *list);

/* aliases_write - write HOME/aliases (every list) and HOME/virtual atomically, under a
 * lock (HOME/aliases.lock) so two writers never leave a stale map. */
gboolean aliases_write(const Instance *inst, GError **error);

/* aliases_postalias - run `postalias [-c postfix_conf] HOME/aliases` and
 * `postmap [-c postfix_conf] HOME/virtual` (postfix_conf may be NULL);
 * EXIT_TEMPFAIL when one cannot run or fails. */
gboolean aliases_postalias(const Instance *inst, const char *postfix_conf, GError **error);

/* aliases_update - after a list was created or removed: aliases_write,
 * then, when [global] aliases_postalias = yes, aliases_postalias with
 * [global] aliases_postfix_config. */
gboolean aliases_update(const Instance *inst, GError **error);

#endif
