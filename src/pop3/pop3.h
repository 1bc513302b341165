/* pop3.h - the internals of `kairan pop3d`, shared by the files of
 * src/pop3/: the command parser, the CRLF/dot-stuffing encoder, the
 * connection (plain or TLS) with its buffered line reader, TLS setup,
 * authentication (its guessing guard is lib/authguard.c), the mailbox of one
 * session, and the session state machine. */
#ifndef KAIRAN_POP3_H
#define KAIRAN_POP3_H

#include <glib.h>
#include <openssl/ssl.h>
#include "instance.h"
#include "netconn.h"
#include "auth_login.h"

/* ---- command.c: one command line -> a command ---------------------- */

/* RFC 2449: a command line is at most 255 octets including CRLF. */
#define POP3_MAX_COMMAND 255
/* RFC 2449: an argument is at most 40 octets.  SASL responses are longer. */
#define POP3_MAX_ARG 40
#define POP3_MAX_SASL_LINE 2048

typedef enum {
    POP3_CMD_BAD = 0,    /* empty, malformed, unknown */
    POP3_CMD_USER, POP3_CMD_PASS, POP3_CMD_APOP, POP3_CMD_AUTH,
    POP3_CMD_STLS, POP3_CMD_CAPA, POP3_CMD_QUIT,
    POP3_CMD_STAT, POP3_CMD_LIST, POP3_CMD_RETR, POP3_CMD_DELE,
    POP3_CMD_NOOP, POP3_CMD_RSET, POP3_CMD_TOP, POP3_CMD_UIDL
} Pop3CommandId;

typedef struct {
    Pop3CommandId id;
    const char *name;   /* the keyword as known (static), NULL if unknown */
    int argc;
    char *argv[2];      /* owned; PASS keeps its whole rest of line in argv[0] */
    const char *error;  /* why it is POP3_CMD_BAD (static text) */
} Pop3Command;

/* pop3_parse_command - parse one line (without CRLF).  Keywords are
 * case-insensitive; the number and form of the arguments are checked
 * (message numbers must be decimal numbers > 0).  Always fills cmd;
 * returns FALSE when cmd->id is POP3_CMD_BAD.  Free with
 * pop3_command_clear(). */
gboolean pop3_parse_command(const char *line, Pop3Command *cmd);
void pop3_command_clear(Pop3Command *cmd);
/* pop3_sasl_plain_parse - decode an AUTH PLAIN response (RFC 4616,
 * "authzid NUL authcid NUL passwd"; authzid empty or equal to authcid).
 * 0: well formed, *authcid and *passwd point into *raw; 1: not base64
 * (*raw NULL); 2: malformed.  *raw (*len bytes + NUL) is the caller's to
 * wipe and g_free. */
int pop3_sasl_plain_parse(const char *b64, guchar **raw, gsize *len, const char **authcid,
                          const char **passwd);
/* pop3_parse_msgnum - a message number argument, or 0 if not valid. */
guint64 pop3_parse_msgnum(const char *s);

/* ---- encode.c: archive bytes (LF) -> POP3 wire form (CRLF, dots) --- */

typedef struct {
    gboolean line_start;   /* at the start of a line */
    gboolean pending_cr;   /* a CR seen, not yet known whether LF follows */
    gboolean empty_line;   /* the current line has no content so far */
    gboolean in_body;      /* past the empty line after the header */
    gint64 body_lines;     /* body lines started (for TOP) */
    gint64 max_body_lines; /* -1 = all */
    gboolean stuff_dots;   /* dot-stuff lines starting with '.' */
    gboolean done;         /* TOP limit reached */
} Pop3Encoder;

void pop3_encoder_init(Pop3Encoder *e, gint64 max_body_lines, gboolean stuff_dots);
/* pop3_encode - append the wire form of in[0..len) to out; LF and CRLF
 * become CRLF.  Returns FALSE once the TOP limit is reached (the rest
 * is then ignored). */
gboolean pop3_encode(Pop3Encoder *e, const char *in, size_t len, GString *out);
/* pop3_encode_finish - end the message: a CRLF if the last line had no
 * line end (and the pending CR), then, if terminate, ".\r\n". */
void pop3_encode_finish(Pop3Encoder *e, GString *out, gboolean terminate);
/* pop3_crlf_size_fd - the size of the CRLF form of a file (without dot
 * stuffing, without the terminator): the octet count LIST and STAT
 * give.  -1 on a read error.  Reads in blocks; memory does not grow. */
gint64 pop3_crlf_size_fd(int fd);

/* ---- conn.c: one client connection ------------------------------- */

typedef struct {
    NetConn *net;           /* the socket; net->ssl is set after STLS */
    char *peer;             /* client address as text (no port) */
    gboolean loopback;
} Pop3Conn;

typedef enum { POP3_READ_OK, POP3_READ_TOOLONG, POP3_READ_EOF, POP3_READ_TIMEOUT } Pop3ReadStatus;

Pop3Conn *pop3_conn_new(int fd, int timeout_ms);
void pop3_conn_free(Pop3Conn *c);
/* pop3_conn_read_line - the next line without CR/LF into line (cleared
 * first).  A line longer than max is consumed up to its LF and reported
 * as POP3_READ_TOOLONG.  Flushes buffered output before it blocks.
 * EOF on close or error, TIMEOUT after the idle timeout. */
Pop3ReadStatus pop3_conn_read_line(Pop3Conn *c, GString *line, size_t max);
/* pop3_conn_printf - append a line (CRLF added) to the output buffer. */
void pop3_conn_printf(Pop3Conn *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* pop3_conn_flush - write out the buffer; FALSE if the client is gone. */
gboolean pop3_conn_flush(Pop3Conn *c);
/* pop3_conn_maybe_flush - flush when the buffer is large. */
gboolean pop3_conn_maybe_flush(Pop3Conn *c);
/* pop3_conn_pending_input - bytes already read but not yet used. */
gboolean pop3_conn_pending_input(const Pop3Conn *c);
/* pop3_conn_start_tls - TLS handshake as server; drops any plaintext
 * input received before it (RFC 2595 section 3.1 / CVE-2011-0411). */
gboolean pop3_conn_start_tls(Pop3Conn *c, SSL_CTX *ctx);

/* ---- tls.c ------------------------------------------------------- */


/* ---- auth.c ------------------------------------------------------ */

typedef enum { POP3_PLAIN_LOOPBACK, POP3_PLAIN_TLS, POP3_PLAIN_ANY } Pop3PlainPolicy;

typedef struct {
    Pop3PlainPolicy plaintext;
    double fail_delay;          /* seconds to wait before answering a failure */
    int max_clients;
    int timeout_ms;
    SSL_CTX *tls;               /* NULL: no STLS */
    char *home;
    char *hostname;
} Pop3Config;

/* What a successful login gives the session. */
/* What a successful login gives the session (lib/auth_login.h; anonymous:
 * DELE only for this session). */
typedef AuthLogin Pop3Login;

void pop3_login_clear(Pop3Login *login);
/* pop3_split_user - "ADDRESS/LIST" -> normalised address and list name;
 * FALSE if malformed. */
gboolean pop3_split_user(const char *user, char **address, char **list);
/* pop3_auth_password / pop3_auth_apop - check a login; on success fill
 * login and return TRUE.  A refusal never says why.  *tempfail is set
 * when the database could not be read. */
gboolean pop3_auth_password(Instance *inst, const char *user, const char *password,
                            Pop3Login *login);
gboolean pop3_auth_apop(Instance *inst, const char *user, const char *banner,
                        const char *digest, Pop3Login *login);
/* pop3_apop_digest - hex MD5 of banner + secret (RFC 1939 APOP). */
char *pop3_apop_digest(const char *banner, const char *secret);

/* ---- mailbox.c --------------------------------------------------- */

typedef struct {
    char *list;
    char *address;
    gboolean anonymous;
    char *dir;             /* spool/LIST/archive */
    GArray *nums;          /* gint64 archive numbers, message k = nums[k-1] */
    GArray *sizes;         /* gint64 CRLF sizes */
    guint8 *deleted;       /* marks of this session */
    gint64 total;          /* CRLF octets of the undeleted messages */
    guint count;           /* undeleted messages */
} Pop3Mailbox;

/* pop3_mailbox_open - the archive as this member sees it now (minus the
 * messages hidden by earlier DELE).  NULL and error on a database error. */
Pop3Mailbox *pop3_mailbox_open(Instance *inst, const Pop3Login *login, GError **error);
void pop3_mailbox_free(Pop3Mailbox *mb);
/* pop3_mailbox_valid - message k (1-based) exists and is not deleted. */
gboolean pop3_mailbox_valid(const Pop3Mailbox *mb, guint64 k);
void pop3_mailbox_delete(Pop3Mailbox *mb, guint64 k);
void pop3_mailbox_reset(Pop3Mailbox *mb);
/* pop3_mailbox_send - RETR (max_body_lines < 0) or TOP: "+OK", the
 * message, ".".  FALSE if the file cannot be read (nothing sent yet:
 * the caller answers -ERR) - *gone is set when the client went away. */
gboolean pop3_mailbox_send(Pop3Mailbox *mb, guint64 k, gint64 max_body_lines,
                           Pop3Conn *c, gboolean *gone);
/* pop3_mailbox_commit - UPDATE state: record the deletions. */
gboolean pop3_mailbox_commit(Instance *inst, Pop3Mailbox *mb, GError **error);
/* The size cache shared by all sessions (the archive never changes). */
void pop3_size_cache_init(void);

/* ---- session.c --------------------------------------------------- */

/* pop3_session_run - serve one client until QUIT, EOF or timeout. */
void pop3_session_run(const Pop3Config *cfg, Pop3Conn *c);

#endif
