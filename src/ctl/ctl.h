/* ctl.h - internal interfaces of the command-mail module (src/ctl):
 * extracting command lines, the one reply per command mail with its
 * localised texts, member and admin commands, archive digests (mget and
 * `kairan digest`), bounces and forwarding of LIST-admin mail. */
#ifndef KAIRAN_CTL_H
#define KAIRAN_CTL_H

#include <gmime/gmime.h>
#include "incoming.h"
#include "archive.h"
#include "held.h"
#include "message.h"

/* ---- parse.c ---------------------------------------------------------- */

/* ctl_extract_commands - command lines from a Subject and a body (both
 * UTF-8, either may be NULL).  The Subject counts only when its first
 * word (after Re:/Fwd: prefixes) is a known command.  Body lines: leading
 * blanks and one '#' are dropped; blank and '>' lines are skipped;
 * `end`, `quit`, `exit` and a signature line "-- " stop; at most max
 * commands are returned (*cut says whether more were there).  Identical
 * lines are kept once.  Returns char* lines (g_ptr_array_unref). */
GPtrArray *ctl_extract_commands(const char *subject, const char *body, guint max, gboolean *cut);
/* ctl_command_known - is word (lower case) a command name? */
gboolean ctl_command_known(const char *word);
/* ctl_message_text - the first text/plain part of msg decoded to UTF-8
 * (the text alternative of HTML mail), or NULL. */
char *ctl_message_text(GMimeMessage *msg);
/* ctl_mask_command - the command line with any password replaced by
 * "********" (admin pass, approve PASSWORD, admin passwd, password). */
char *ctl_mask_command(const char *line);

/* ---- reply.c ---------------------------------------------------------- */

typedef struct {
    Instance *inst;
    const char *list;
    char *lang;
    GHashTable *catalog;      /* key -> text in the list's language */
    GString *text;            /* the results, in order */
    GPtrArray *attachments;   /* GMimeObject* added to the reply */
} CtlReply;

CtlReply *ctl_reply_new(Instance *inst, const char *list);
void ctl_reply_free(CtlReply *r);
/* ctl_text - the catalog text for key with {{vars}} expanded from the
 * NULL-terminated name/value pairs (newly allocated). */
char *ctl_text(CtlReply *r, const char *key, ...) G_GNUC_NULL_TERMINATED;
/* ctl_reply_command - start the section of one command (already masked). */
void ctl_reply_command(CtlReply *r, const char *masked_line);
/* ctl_reply_say - add a localised result line (key + name/value pairs). */
void ctl_reply_say(CtlReply *r, const char *key, ...) G_GNUC_NULL_TERMINATED;
/* ctl_reply_raw - add text as it is (lists, help texts). */
void ctl_reply_raw(CtlReply *r, const char *text);
void ctl_reply_attach(CtlReply *r, GMimeObject *part);
/* ctl_reply_send - one mail to `to` with every result; FALSE on queue error. */
gboolean ctl_reply_send(CtlReply *r, const char *to, const char *in_reply_to, GError **error);
/* ctl_catalog_load - key/value texts of templates/mail/LANG/ctl_texts.txt
 * over the English ones. */
GHashTable *ctl_catalog_load(const char *lang);

/* ---- commands.c / admin.c -------------------------------------------- */

typedef struct {
    Incoming *in;
    CtlReply *reply;
    const char *sender;       /* who the mail is from (From:, else envelope) */
    gboolean is_member;
    gboolean is_owner;
    gboolean admin_ok;        /* `admin pass` succeeded in this mail */
    gboolean admin_failed;    /* a failed attempt: ignore further admin lines */
    gboolean stop;            /* stop processing (e.g. admin locked) */
    GHashTable *archive_sent; /* post numbers (gint64*) get/mget sent for this mail, or NULL */
    const char *send_stopped; /* the send limit setting that stopped get/mget for this mail, or NULL */
} CtlSession;

/* ctl_member_command - run one member command (argv[0] lower case). */
void ctl_member_command(CtlSession *s, char **argv, int argc);
/* ctl_admin_command - `admin ...` and `approve PASSWORD COMMAND`. */
void ctl_admin_command(CtlSession *s, char **argv, int argc);
/* ctl_chaddr_apply - move a member's row from old to new (keeps flags). */
gboolean ctl_chaddr_apply(Instance *inst, const char *list, const char *old_addr,
                          const char *new_addr, GError **error);
/* ctl_archive_allowed - may this session use get/mget/index? */
gboolean ctl_archive_allowed(CtlSession *s);

/* ---- digest.c --------------------------------------------------------- */

/* digest_build_chunks - archive posts nums (gint64 array) as digest
 * mails (MIME multipart/digest or RFC 1153 plain), each at most limit
 * bytes of content (0 = no limit; a single larger post is sent alone).
 * subject gets " (n/N)" when there are several.  Returns GMimeMessage*. */
GPtrArray *digest_build_chunks(Instance *inst, const char *list, GArray *nums,
                               gboolean plain, const char *subject, const char *to,
                               gsize limit);
/* digest_build_chunks_nums - digest_build_chunks that also appends to
 * chunk_nums, for each mail returned, a GArray of the post numbers
 * (gint64) it carries (posts that cannot be read are in none). */
GPtrArray *digest_build_chunks_nums(Instance *inst, const char *list, GArray *nums,
                                    gboolean plain, const char *subject, const char *to,
                                    gsize limit, GPtrArray *chunk_nums);
/* digest_format_nums - sorted post numbers as ranges: "1-5,8,10-11". */
char *digest_format_nums(const gint64 *nums, guint n);
/* digest_parse_range - "5", "1-10", "last:5", "3,5,7-9" -> post numbers
 * that exist (1..last); NULL and *why on a bad range. */
GArray *digest_parse_range(const char *range, gint64 last, guint max, const char **why);

/* ---- bounce.c --------------------------------------------------------- */

typedef struct {
    char *address;            /* Original-Recipient, else Final-Recipient */
    char *alt;                /* Final-Recipient when both are given */
    gboolean hard;            /* 5.x.x or a permanent failure */
} BounceRcpt;

/* bounce_failed_recipients - the failed recipients a bounce names:
 * RFC 3464 delivery-status parts (Action: failed), X-Failed-Recipients,
 * qmail and other plain-text reports.  NULL when msg is not a bounce.
 * members (may be NULL) helps plain-text reports: only addresses that are
 * members count there. */
GPtrArray *bounce_failed_recipients(GMimeMessage *msg, const char *envelope_sender,
                                    GPtrArray *members);
void bounce_rcpt_free(BounceRcpt *b);
/* bounce_verp_decode - LIST-admin+local=domain@DOMAIN -> local@domain. */
char *bounce_verp_decode(const char *rcpt, const char *list);
/* bounce_returned_ids - the Message-IDs (without <>) in the header
 * blocks below the bounce's own header (a returned message/rfc822 or
 * text/rfc822-headers part, or a returned message quoted as text), at
 * most max of them, each once.  Returns char* (g_ptr_array_unref). */
GPtrArray *bounce_returned_ids(const char *data, gsize len, guint max);
/* bounce_process - count the bounce; returns the exit status, or -1
 * when msg is not a bounce. */
int bounce_process(Incoming *in);

/* ---- forward.c -------------------------------------------------------- */
int forward_to_owners(Incoming *in);

#endif
