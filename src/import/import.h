/* import.h - the import job (kairan import / export): the common import
 * plan every format reader fills (plan.c), the readers of the peers'
 * files (fml.c, mlmmj.c, mailman2.c, mailman3.c, mbox.c over lib's mbox.h), the literal
 * readers they use (pylit.c: Python literals of Mailman 2.1's
 * config_list; json.c: Mailman 3's REST JSON), and the one transaction
 * that makes a plan real (apply.c). */
#ifndef KAIRAN_IMPORT_H
#define KAIRAN_IMPORT_H

#include "instance.h"
#include "mbox.h"
#include <stdio.h>

/* ImportValue - a parsed Python or JSON literal. */
typedef enum {
    IV_NONE, IV_BOOL, IV_NUM, IV_STR, IV_LIST, IV_DICT
} ImportValueType;

typedef struct ImportValue {
    ImportValueType type;
    gboolean b;
    double num;
    GString *str;          /* IV_STR: bytes (may hold NULs) */
    GPtrArray *items;      /* IV_LIST: ImportValue*; IV_DICT: values */
    GPtrArray *keys;       /* IV_DICT: char* keys */
} ImportValue;

void import_value_free(ImportValue *v);
/* import_value_get - a dict's member, NULL if absent or not a dict. */
ImportValue *import_value_get(ImportValue *dict, const char *key);
/* import_value_text - a value as one text (a number, a word, a string;
 * a list's items joined by blanks), newly allocated. */
char *import_value_text(const ImportValue *v);

/* pylit_parse_config - `bin/config_list -o` output: NAME = LITERAL lines;
 * a dict of the names (keys in file order).  file names the source for
 * errors ("FILE:LINE: ..." EXIT_DATAERR). */
ImportValue *pylit_parse_config(const char *data, gsize len, const char *file, GError **error);
/* json_parse - one JSON value (depth at most 64); errors name FILE:LINE. */
ImportValue *json_parse(const char *data, gsize len, const char *file, GError **error);

/* ImportPost - one post to import: post number num (0 = the next
 * number), from file src (a spool file) or bytes [off, off+len) of the
 * mbox src; line = where it starts, date = its Date. */
typedef struct {
    gint64 num;
    guint src;
    gint64 off, len;
    gint64 line;
    gint64 date;
} ImportPost;

typedef struct {
    char *path;
    gboolean is_mbox;      /* else a directory of files named by number */
    char *label;           /* the name in messages (NULL: path) */
    gboolean temp;         /* path is an uncompressed copy, removed with the plan */
} ImportSource;

typedef struct {
    char *address;
    char *name;
    gboolean digest, nomail, post_only, moderated;
} ImportMember;

typedef struct {
    char *key, *value, *from;
} ImportSetting;

typedef struct {
    char *format, *source;
    char *list;                 /* kairan list name */
    char *source_address;       /* the list address found in the source */
    GPtrArray *members;         /* ImportMember* in file order */
    GHashTable *member_index;   /* address -> ImportMember* */
    GPtrArray *owners, *moderators;   /* char* */
    GPtrArray *settings;        /* ImportSetting* */
    GPtrArray *unmapped;        /* char*: "NAME (file): why" */
    GPtrArray *skipped;         /* char*: bad items skipped (--skip-bad) */
    GPtrArray *notes;           /* char*: remarks for the report */
    GPtrArray *sources;         /* ImportSource* */
    GArray *posts;              /* ImportPost */
    gint64 seq;                 /* the source's last number (fml seq, mlmmj index) */
    gboolean keep_numbers;      /* fml/mlmmj: numbers as in the source */
    gboolean skip_bad;
} ImportPlan;

ImportPlan *import_plan_new(const char *format, const char *source, gboolean skip_bad);
void import_plan_free(ImportPlan *plan);
/* import_bad - a bad item at file:line (line 0: none): with --skip-bad
 * recorded and TRUE (go on), otherwise error set (EXIT_DATAERR) and FALSE. */
gboolean import_bad(ImportPlan *plan, GError **error, const char *file, gint64 line,
                    const char *fmt, ...) G_GNUC_PRINTF(5, 6);
/* import_member - add or find a member (address checked: a bad one goes
 * through import_bad); *out gets the member (NULL when skipped). */
gboolean import_member(ImportPlan *plan, const char *addr, const char *name, const char *file,
                       gint64 line, ImportMember **out, GError **error);
/* import_role - an owner or moderator address (checked). */
gboolean import_role(ImportPlan *plan, GPtrArray *to, const char *addr, const char *file,
                     gint64 line, GError **error);
/* import_set - a mapped setting: value checked against settings.c; an
 * invalid one becomes an unmapped entry saying why. */
void import_set(ImportPlan *plan, const char *key, const char *value, const char *from);
void import_unmapped(ImportPlan *plan, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* import_nonmember_patterns - Mailman's accept/hold/reject/discard_these_
 * nonmembers entries (a list of ImportValue strings: addresses, ^regexes)
 * appended to out, a pattern list for kairan's setting (banned,
 * accept_nonmembers, ...; blank separated); "@otherlist" entries and
 * entries with blanks are named as not mapped. */
void import_nonmember_patterns(ImportPlan *plan, ImportValue *list, GString *out, const char *from);
/* import_header_rule - append "Header: regex -> action" to rules (a
 * header_filters value), a ';' in the regex escaped; FALSE (nothing
 * appended) when header is no field name, the regex is not one, or the
 * action none of Mailman's accept, hold, reject, discard (defer is no rule). */
gboolean import_header_rule(GString *rules, const char *header, const char *regex, const char *action);
void import_note(ImportPlan *plan, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* import_add_source - a post source, its index. */
guint import_add_source(ImportPlan *plan, const char *path, gboolean is_mbox);
/* import_list_name - the kairan name for a list address ("Team@x" -> team). */
char *import_list_name(const char *address);
/* import_read_file - a whole file; missing: EXIT_NOINPUT; *exists (may
 * be NULL) FALSE and no error when optional and absent. */
gboolean import_read_file(const char *path, gboolean optional, char **data, gsize *len,
                          gboolean *exists, GError **error);
/* import_name_addr - "Name <addr>", "addr (Name)" or "addr" -> address
 * (not checked) and name (NULL if none). */
char *import_name_addr(const char *line, char **name);
/* import_tag_literal - a fixed subject tag text with % doubled. */
char *import_tag_literal(const char *text);
/* import_csv_split - one CSV line (RFC 4180 quotes; no ; or TAB splits). */
char **import_csv_split(const char *line);

/* The readers: fill plan from DIR (or FILE for mbox); FALSE and error
 * (EXIT_NOINPUT for a missing source, EXIT_DATAERR for bad input). */
gboolean import_fml(ImportPlan *plan, const char *dir, GError **error);
gboolean import_mlmmj(ImportPlan *plan, const char *dir, GError **error);
gboolean import_mailman2(ImportPlan *plan, const char *dir, GError **error);
gboolean import_mailman3(ImportPlan *plan, const char *dir, GError **error);
/* import_spool_posts - the files of dir named by a number, numbers kept
 * (fml spool/, mlmmj archive/); no dir: no posts. */
gboolean import_spool_posts(ImportPlan *plan, const char *dir, GError **error);
/* import_mbox_scan - the posts of an mbox file (mboxrd or mboxo: a From_
 * line at the start or after an empty line starts a post), appended to
 * plan->posts with num 0; sort_by_date: in Date order (stable).  A
 * gzip-compressed file is read through an uncompressed copy in TMPDIR
 * (removed with the plan); messages still name path. */
gboolean import_mbox_scan(ImportPlan *plan, const char *path, gboolean sort_by_date, GError **error);
/* fml_parse_config_ph - the scalar assignments of an fml config.ph
 * (name -> value, g_hash_table_unref); other Perl lines go to *other. */
GHashTable *fml_parse_config_ph(const char *data, gsize len, const char *file, GPtrArray *other,
                                GError **error);

/* import_apply - one transaction: the list (created unless merge), the
 * members, owners, moderators, settings and posts; nothing stays on
 * failure.  dry_run: every post is still read and checked, nothing is
 * written.  *imported gets the number of posts. */
gboolean import_apply(Instance *inst, ImportPlan *plan, gboolean merge, gboolean dry_run,
                      gint64 *imported, GError **error);
/* import_report - the plan as text: list, members by mode, owners,
 * moderators, posts, settings mapped and not mapped, skipped items. */
void import_report(const ImportPlan *plan, FILE *out);

#endif
