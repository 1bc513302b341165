/* addrfix.h - closing comments left open in address fields before GMime
 * parses them (GMime 3.2.13 leaks memory on some of them; see addrfix.c). */
#ifndef KAIRAN_ADDRFIX_H
#define KAIRAN_ADDRFIX_H

#include <glib.h>
#include <stddef.h>

/* addrfix_value - a copy of one field value with its open comments
 * closed, or NULL when the value needs nothing (or is NULL). */
char *addrfix_value(const char *value);

/* addrfix_message - a copy of a raw message (or any MIME text) in which
 * every address field with an open comment has it closed, its length in
 * *fixed_len; NULL when nothing needs closing (the common case: no copy). */
guint8 *addrfix_message(const guint8 *data, size_t len, size_t *fixed_len);

#endif
