/* imap.h - the internals of `kairan imapd`, shared by the files of
 * src/imap/: the command parser (parse.c), the per-member flags in
 * kairan.db (flags.c), FETCH (fetch.c), SEARCH/SORT/THREAD (search.c),
 * and the session state machine (session.c). */
#ifndef KAIRAN_IMAP_H
#define KAIRAN_IMAP_H

#include <glib.h>
#include <openssl/ssl.h>
#include "auth_login.h"
#include "instance.h"
#include "netconn.h"

/* ---- parse.c: one command (its lines and literals) -> a tree -------- */

/* A command line (without literals) is at most this long; RFC 7162
 * section 4 asks servers to take at least 8192 octets. */
#define IMAP_MAX_LINE 65536
/* A literal is at most this long (no APPEND here: only strings such as
 * passwords and search words come as literals). */
#define IMAP_MAX_LITERAL 65536
/* A whole command, its literals included. */
#define IMAP_MAX_COMMAND (4 * 65536)
/* Nesting of parenthesised lists. */
#define IMAP_MAX_DEPTH 16

typedef enum { IMAP_ARG_ATOM, IMAP_ARG_STRING, IMAP_ARG_LIST } ImapArgType;

typedef struct {
    ImapArgType type;
    char *str;          /* ATOM, STRING: NUL-terminated (a string may hold NULs: len) */
    gsize len;
    GPtrArray *list;    /* LIST: ImapArg* */
} ImapArg;

typedef struct {
    char *tag;          /* NULL when not even a tag could be read */
    char *name;         /* upper case; NULL on a parse error before it */
    GPtrArray *args;    /* ImapArg* */
} ImapCommand;

/* imap_parse_command - parse a whole command: its line(s) joined by CRLF
 * with each literal's bytes right after the CRLF that follows its {n}
 * (as read from the wire).  TRUE and cmd filled, or FALSE with *why (a
 * static text) and cmd->tag set if it was readable.  Free with
 * imap_command_clear() in either case. */
gboolean imap_parse_command(const char *buf, gsize len, ImapCommand *cmd, const char **why);
void imap_command_clear(ImapCommand *cmd);
/* imap_line_literal - if the line ends with {N} or {N+}, N and whether
 * it is non-synchronising (LITERAL+); -1 otherwise, -2 for a number too
 * big to read. */
gint64 imap_line_literal(const char *line, gsize len, gboolean *nonsync);
/* imap_arg_is_atom - the argument is an atom equal (ASCII case-blind) to word. */
gboolean imap_arg_is_atom(const ImapArg *a, const char *word);
/* imap_arg_string - an astring's text (atom or string), NULL for a list. */
const char *imap_arg_string(const ImapArg *a);

/* A sequence set: ranges, with * meaning "the largest". */
typedef struct {
    guint64 lo, hi;     /* lo <= hi; G_MAXUINT64 stands for * */
} ImapRange;
/* imap_parse_set - "1:3,5,7:*" -> ranges (lo <= hi after swapping);
 * NULL if malformed ($ is not supported). */
GArray *imap_parse_set(const char *text);
/* imap_set_contains - n is in the set, * being max. */
gboolean imap_set_contains(const GArray *set, guint64 n, guint64 max);

/* imap_quote - append s as an IMAP string: quoted when it can be, a
 * literal otherwise; NIL for NULL. */
void imap_quote(GString *out, const char *s);
void imap_quote_len(GString *out, const char *s, gsize len);

/* ---- the mailbox of a session (session.c owns it) ------------------- */

typedef struct {
    char *list;
    char *address;       /* the member; "" for anonymous */
    gboolean read_only;  /* EXAMINE, or anonymous */
    GArray *uids;        /* gint64 post numbers, message k = uids[k-1] */
    GHashTable *flags;   /* gint64* num -> char* flags ("\\Seen foo"), only set ones */
    gint64 uidvalidity;
    gint64 uidnext;
    GHashTable *sizes;   /* gint64* num -> gint64* CRLF size */
    GHashTable *gone;    /* gint64* num set: posts of uids that left the archive
                          * (expiry, the member's EXPUNGE or DELE elsewhere) and
                          * are not announced yet; FETCH, STORE, SEARCH skip them */
    gint64 shape[5];     /* the archive's count, min, max and the member's hidden
                          * count, max at the last full look (session.c refresh) */
} ImapMailbox;

/* imap_mailbox_gone - num left the archive but is still numbered in the
 * session (its EXPUNGE is not sent yet). */
gboolean imap_mailbox_gone(const ImapMailbox *mb, gint64 num);
/* imap_mailbox_set_gone - mark num so (FETCH finds it unreadable). */
void imap_mailbox_set_gone(ImapMailbox *mb, gint64 num);

/* ---- flags.c: per-member flags and keywords in kairan.db ------------ */

/* imap_flags_load - every flagged post of (list, address). */
GHashTable *imap_flags_load(Instance *inst, const char *list, const char *address, GError **error);
/* imap_flags_save - the flags of one post ("" removes the row). */
gboolean imap_flags_save(Instance *inst, const char *list, const char *address, gint64 num,
                         const char *flags, GError **error);
/* imap_flags_hide - EXPUNGE: hide the post from this member (pop_hidden,
 * shared with POP3 DELE) and forget its flags. */
gboolean imap_flags_hide(Instance *inst, const char *list, const char *address, gint64 num,
                         GError **error);
/* imap_flags_has - flags (space separated) holds flag (case-blind). */
gboolean imap_flags_has(const char *flags, const char *flag);
/* imap_flags_valid - a flag a client may set: \Seen \Answered \Flagged
 * \Deleted \Draft or a keyword atom. */
gboolean imap_flags_valid(const char *flag);
/* imap_flags_change - FLAGS (mode '='), +FLAGS ('+'), -FLAGS ('-'):
 * the new flag string (newly allocated, canonical order). */
char *imap_flags_change(const char *old, char mode, char **change);

/* ---- fetch.c -------------------------------------------------------- */

/* imap_crlf - the bytes with every bare LF made CRLF. */
GString *imap_crlf(const char *data, gsize len);
/* imap_fetch - answer FETCH/UID FETCH items for the messages of set;
 * FALSE with *why if the item list is malformed (nothing sent then).
 * *seen_changed messages get \Seen (BODY[] without PEEK, read-write).
 * A message that left the archive gets no answer; *expunged is set then
 * (the command is answered NO [EXPUNGEISSUED]). */
gboolean imap_fetch(Instance *inst, ImapMailbox *mb, NetConn *net, const GArray *set,
                    gboolean uid, const GPtrArray *args, guint first_item, const char **why,
                    gboolean *expunged);

/* ---- search.c ------------------------------------------------------- */

/* imap_search - SEARCH/UID SEARCH, SORT, THREAD: write the untagged
 * answer; FALSE with *why on a malformed request, *no set when the
 * request is well formed but refused (BADCHARSET). */
gboolean imap_search(Instance *inst, ImapMailbox *mb, NetConn *net, const char *what,
                     gboolean uid, const GPtrArray *args, const char **why, gboolean *no);

/* imap_search_index - archive_search_update, one caller at a time in
 * this process (the background indexer and the sessions' searches). */
int imap_search_index(Instance *inst, const char *list, int max_posts);

/* ---- imapd.c / session.c -------------------------------------------- */

typedef enum { IMAP_PLAIN_LOOPBACK, IMAP_PLAIN_TLS, IMAP_PLAIN_ANY } ImapPlainPolicy;

typedef struct {
    ImapPlainPolicy plaintext;
    double fail_delay;          /* seconds before a failed login is answered */
    int max_clients;
    int timeout_ms;             /* idle timeout (IDLE included) */
    SSL_CTX *tls;               /* NULL: no STARTTLS */
    char *home;
} ImapConfig;

/* imap_session_run - serve one client on fd until LOGOUT, EOF or
 * timeout; implicit_tls: the IMAPS port (handshake first). */
void imap_session_run(const ImapConfig *cfg, int fd, gboolean implicit_tls);

#endif
