/* relay.h - internals of `kairan relay`: the ESMTP server, the queue
 * runner with its SMTP client, DNS, TLS, bounces and local delivery.
 * One daemon, threads with blocking sockets:
 *   - the main thread runs the queue runner (runner.c),
 *   - one thread accepts SMTP connections, one thread per client
 *     (smtp_server.c), bounded by smtpd_max_connections,
 *   - smtp_max_connections worker threads deliver batches (smtp_client.c),
 *     at most smtp_max_per_destination at a time to one destination. */
#ifndef KAIRAN_RELAY_H
#define KAIRAN_RELAY_H

#include <glib.h>
#include <gio/gio.h>
#include <openssl/ssl.h>
#include "instance.h"
#include "netconn.h"
#include "queue.h"

/* The configuration of one relay, from kairan.conf [global]. */
typedef struct {
    Instance *inst;
    GMutex db_lock;              /* inst->db is shared by all threads */
    GMutex domains_lock;         /* guards domains, domains_read */
    GHashTable *domains;         /* the added domains (lib/domains.c), cached */
    gint64 domains_read;         /* monotonic time of the last read */
    char *listen;                /* relay_listen */
    GPtrArray *mynetworks;       /* GInetAddressMask* */
    char *smarthost;             /* host:port or [addr]:port; NULL = none */
    GHashTable *routes;          /* domain -> "[addr]:port" / "host:port" */
    char *dns_resolver;          /* host:port or NULL */
    int mx_port;                 /* port used for MX/A delivery (25) */
    int max_rcpt_per_txn;
    gint64 max_lifetime, retry_min, retry_max;   /* seconds */
    gint64 max_size;             /* message_size_limit, bytes */
    int smtpd_timeout, smtp_timeout, connect_timeout;   /* seconds */
    int smtpd_max_conn, smtpd_max_per_client, smtpd_max_rcpt, smtpd_max_errors;
    int out_max_total, out_max_per_dest;
    int conn_cache_time;         /* seconds an idle outbound connection waits */
    gint64 smarthost_skip;       /* seconds a failed fleet host is skipped */
    gint64 delay_warning;        /* delay_warning_time, seconds (0 = none) */
    gint64 pop_before_smtp;      /* seconds; 0 = off (lib/popbeforesmtp.c) */
    int tls_verify;              /* TLS_VERIFY_NONE|MTASTS|ALWAYS (tls_verify) */
    SSL_CTX *verify_tls;         /* client context with the CAs (tls_ca_file) */
    SSL_CTX *dane_tls;           /* client context with OpenSSL's DANE enabled (tls_verify = dane) */
    gboolean tls_rpt;            /* tls_rpt: record sessions for TLS-RPT (lib/tlsrpt.c) */
    int mta_sts_port;            /* port of the policy fetch (443) */
    GHashTable *creds;           /* host value ("*" = any) -> SmtpCred*, smarthost_auth_file */
    gboolean relay_members;      /* sec-ctl: may a member's AUTH (ADDRESS/LIST) relay? [no] */
    SSL_CTX *server_tls;         /* NULL when no tls_cert/tls_key */
    SSL_CTX *client_tls;
} Relay;

enum { TLS_VERIFY_NONE, TLS_VERIFY_MTASTS, TLS_VERIFY_ALWAYS, TLS_VERIFY_DANE };
Relay *relay_config_load(Instance *inst, GError **error);
void relay_config_free(Relay *r);
/* relay_maintenance_start - the thread running maintain.c's periodic
 * tasks every maintain_interval (maintenance.c). */
void relay_maintenance_start(Instance *inst);
/* smtp_server.c - the pure parts of the SMTP command parser (fuzzed by
 * tests/fuzz/fuzz_smtp.c). */
char *smtp_path_arg(const char *arg, const char **params);
const char *smtp_mail_params(const char *params, gint64 max_size);
/* smtp_params_have - is the bare keyword word (e.g. SMTPUTF8) among params? */
gboolean smtp_params_have(const char *params, const char *word);
gboolean smtp_auth_plain_split(const char *buf, gsize len, char **user, char **pass);
typedef struct {
    gboolean at_start;    /* the next piece starts a line */
    gboolean prev_crlf;   /* the previous line ended in CRLF */
    gboolean bare_cr;     /* a CR not followed by LF was seen: refuse the message */
    gboolean pending_cr;  /* the last piece ended in CR (a CRLF split, or bare) */
} SmtpData;               /* start with { TRUE, TRUE, FALSE, FALSE } */
gboolean smtp_data_line(SmtpData *d, int rc, gboolean crlf, const char **p, gsize *len);
/* smtp_rcpt_key - the canonical form of a normalised RCPT address that
 * finds duplicates in one transaction (is_list: a list address of ours,
 * compared without case). */
char *smtp_rcpt_key(const char *norm, gboolean is_list);
/* smtp_line_has_bare_cr - does a command line (CRLF already taken off)
 * hold a CR?  Such a line is refused with 501 5.5.2. */
gboolean smtp_line_has_bare_cr(const char *line, gsize len);
/* relay_client_allowed - is addr (numeric) inside mynetworks? */
gboolean relay_client_allowed(const Relay *r, const char *addr);
/* relay_local_target - for rcpt in one of our domains: TRUE, and *list and *mode
 * ("", "--ctl", "--admin") when it is a list address (*list NULL when
 * not); LIST-admin+anything counts as LIST-admin (VERP).  FALSE for
 * other domains. */
gboolean relay_local_target(Relay *r, const char *rcpt, char **list, const char **mode);
/* relay_domains_refresh - read the added domains again if the copy is
 * older than a second (takes db_lock: call it holding no lock). */
void relay_domains_refresh(Relay *r);
/* relay_domain_is_local - [global] domain or an added one (from the copy
 * relay_domains_refresh made: no query, for the runner's every rcpt). */
gboolean relay_domain_is_local(Relay *r, const char *domain);


/* dns.c - where mail for a domain goes. */
typedef struct DaneRecords DaneRecords;
typedef struct {
    char *host;      /* name for logs and SNI */
    char *addr;      /* numeric address */
    int port;
    gboolean name_secure;   /* host came from a DNSSEC-validated MX answer or a route */
    DaneRecords *dane;      /* its validated TLSA RRset (dane.c), NULL = DANE does not apply */
    /* what smtp_client_open_tls found (for TLS-RPT): 0 = not tried, 1 =
     * TLS worked, 2 = sent without TLS, or -TLSRPT_* failure, with why */
    int tls_result;
    char *tls_detail;
} Target;
void target_free(Target *t);
/* dns_targets - the addresses to try in order, for a route value
 * ("[addr]:port", "host:port") or a domain (MX, else A/AAAA).  Errors:
 * code 5 = permanent (no such domain), 4 = temporary. */
GPtrArray *dns_targets(Relay *r, const char *dest, gboolean is_route, GError **error);
void dns_init(void);
/* DnsAnswer - a raw answer of dns_query: status is an ARES_* code
 * (ARES_ENOTFOUND = NXDOMAIN, ARES_ENODATA = no record of the type),
 * secure the AD bit of a validating resolver. */
typedef struct {
    int status;
    int rcode;
    gboolean secure;
    guchar *buf;
    gsize len;
} DnsAnswer;
/* dns_query - one question (type: 52 = TLSA, ...) with the AD bit set,
 * to dns_resolver; free with dns_answer_clear. */
void dns_query(Relay *r, const char *name, int type, DnsAnswer *a);
void dns_answer_clear(DnsAnswer *a);
/* dns_status_temporary - is an ARES_* status a temporary failure (not
 * success, NXDOMAIN or NODATA)? */
gboolean dns_status_temporary(int status);
/* split_hostport - "host:port" or "[addr]:port" (port default dflt). */
gboolean split_hostport(const char *s, char **host, int *port, int dflt);

/* dane.c - DANE for SMTP (RFC 7672) under tls_verify = dane. */
typedef struct {
    guint8 usage, selector, mtype;
    guchar *data;
    gsize len;
} DaneTlsa;
enum { DANE_NONE, DANE_SECURE, DANE_FAIL };
/* dane_parse_answer - the TLSA records of a raw DNS answer appended to
 * out (DaneTlsa*, owned by out's free function); their number, or -1
 * when the answer is malformed (fuzzed by tests/fuzz/fuzz_tlsa.c). */
int dane_parse_answer(const guchar *buf, gsize len, GPtrArray *out);
/* dane_cname_target - the name the CNAME chain of qname in a raw DNS
 * answer ends at (to be freed), NULL when qname is no CNAME there or the
 * answer is malformed (fuzzed by tests/fuzz/fuzz_tlsa.c). */
char *dane_cname_target(const guchar *buf, gsize len, const char *qname);
/* dane_tlsa_usable - DANE-TA/EE, selector 0/1, matching type 0/1/2 with
 * the right digest length? */
gboolean dane_tlsa_usable(const DaneTlsa *t);
/* dane_lookup - the TLSA RRset of t (t->dane is set when DANE_SECURE);
 * DANE_FAIL (with *why) when the host must not be used. */
int dane_lookup(Relay *r, Target *t, char **why);
/* dane_prepare - a netconn_tls_connect_with prepare function (data: the
 * Target): the TLSA records for OpenSSL's matching. */
gboolean dane_prepare(SSL *ssl, gpointer data);
/* dane_check - after the handshake: did the certificate match? */
gboolean dane_check(SSL *ssl, const Target *t, char **why);
/* dane_policy_strings - the records in presentation form (TLS-RPT's
 * policy-string), NULL-terminated, g_strfreev. */
char **dane_policy_strings(const DaneRecords *d);
gboolean dane_usable_any(const DaneRecords *d);
DaneRecords *dane_records_copy(const DaneRecords *d);
void dane_records_free(DaneRecords *d);

/* smtp_client.c */
typedef struct {
    char *rcpt;
    int code;        /* SMTP reply code, 0 = not tried */
    char *text;      /* the reply, for logs and bounces */
    const char *dsn; /* its DSN parameters (NOTIFY, ORCPT; dsn.c), or NULL */
} RcptResult;
typedef struct SmtpClient SmtpClient;
/* SmtpCred - client AUTH credentials of one smarthost (smarthost_auth_file). */
typedef struct {
    char *user, *pass;
} SmtpCred;
/* relay_cred - the credentials for a smarthost/route host value, or NULL. */
const SmtpCred *relay_cred(const Relay *r, const char *host);
/* smtp_client_open - connect to the first target that answers, EHLO,
 * opportunistic STARTTLS.  Error code is an SMTP code (4xx/5xx). */
SmtpClient *smtp_client_open(Relay *r, GPtrArray *targets, GError **error);
/* smtp_client_open_auth - the same, then AUTH with cred (NULL: none),
 * only over TLS; a connection that cannot authenticate is a failure. */
/* smtp_client_open_tls - smtp_client_open_auth; verify: STARTTLS with a
 * certificate valid (tls_ca_file / system CAs) for the target's host
 * name is required, else the target fails (4.7.5), never in clear. */
SmtpClient *smtp_client_open_tls(Relay *r, GPtrArray *targets, const SmtpCred *cred, gboolean verify,
                                 GError **error);
/* smtp_client_connect - a TCP connection to t (connect timeout), or -1
 * with *err. */
int smtp_client_connect(const Target *t, int timeout, int *err);
/* smtp_client_set_dsn - the DSN MAIL parameters of the next sends (NULL
 * = none); passed on, with each RcptResult's dsn, where DSN is offered. */
void smtp_client_set_dsn(SmtpClient *c, const char *mail_dsn);
/* smtp_client_has_dsn - did the server offer DSN? */
gboolean smtp_client_has_dsn(SmtpClient *c);
SmtpClient *smtp_client_open_auth(Relay *r, GPtrArray *targets, const SmtpCred *cred, GError **error);
const char *smtp_client_relay(SmtpClient *c);
/* smtp_client_send - one transaction; fills res[i].code/.text.  FALSE
 * when the connection must not be reused.  eightbit: the message has
 * 8-bit octets (BODY=8BITMIME where the server offers it). */
gboolean smtp_client_send(SmtpClient *c, const char *sender, RcptResult *res, guint n,
                          GBytes *wire, gint64 size, gboolean eightbit);
void smtp_client_close(SmtpClient *c, gboolean quit);
/* smtp_client_send2 - smtp_client_send of head (may be NULL) followed by
 * wire: a personalised header block in front of a shared body. */
gboolean smtp_client_send2(SmtpClient *c, const char *sender, RcptResult *res, guint n,
                           GBytes *head, GBytes *wire, gint64 size, gboolean eightbit);
/* smtp_client_retryable - the last send found a reused connection already
 * closed by the server (no reply at all): worth one retry on a new one. */
gboolean smtp_client_retryable(SmtpClient *c);
/* smtp_wire_form - queue file (LF) -> CRLF, dot-stuffed, with ".\r\n". */
GBytes *smtp_wire_form(const char *data, gsize len);
/* smtp_wire_append - data (LF) -> CRLF, dot-stuffed, appended to w; a
 * bare CR becomes a line break (CRLF): none is ever sent. */
void smtp_wire_append(GString *w, const char *data, gsize len);

/* personalize.c - personalised delivery (queue envelope line "P LIST"). */
typedef struct Personal Personal;
/* personal_new - prepare the queued message data for list; *body_wire
 * gets the shared body in wire form (with the final dot). */
Personal *personal_new(Relay *r, const char *list, const char *data, gsize len, GBytes **body_wire);
/* personal_head - the header block of rcpt's copy in wire form (with
 * the empty line); thread-safe. */
GBytes *personal_head(Personal *ps, const char *rcpt);
/* personal_verp - sender LOCAL@D + rcpt L@RD -> LOCAL+L=RD@D. */
char *personal_verp(const char *sender, const char *rcpt);
void personal_free(Personal *ps);

/* local.c - hand a message to `kairan deliver` (same path as an MTA pipe).
 * rcpt (may be NULL) is passed as ORIGINAL_RECIPIENT in the environment,
 * as Postfix's pipe does (bounce.c decodes VERP from it).
 * Returns the exit status (75 when it could not run); *why gets its
 * stderr (may be NULL). */
int local_deliver(Relay *r, const char *list, const char *mode, const char *sender,
                  const char *rcpt, int fd, char **why);
/* local_status - map deliver's exit status to an SMTP reply code+text. */
int local_status(int status, const char **text);

/* bounce.c - queue an RFC 3464 report for failed recipients to sender
 * (nothing for the null sender).  FALSE when it could not be queued. */
gboolean bounce_queue(Relay *r, const char *qid, const char *sender, gint64 arrival,
                      RcptResult *failed, guint n, gboolean expired, GError **error);
/* The reports of bounce_queue_dsn (RFC 3464 Action values). */
typedef enum { DSN_FAILED, DSN_EXPIRED, DSN_DELAYED, DSN_DELIVERED, DSN_RELAYED } DsnKind;
/* bounce_queue_dsn - a report of kind for n recipients to sender, with
 * the message's DSN MAIL parameters mail_dsn (ENVID, RET; may be NULL)
 * and each recipient's ORCPT.  RET=FULL returns the whole message with
 * a failure, else (and for the other kinds) its header. */
gboolean bounce_queue_dsn(Relay *r, const char *qid, const char *sender, gint64 arrival,
                          RcptResult *rs, guint n, DsnKind kind, const char *mail_dsn, GError **error);

/* mtasts.c - MTA-STS (RFC 8461) policies. */
enum { MTASTS_NONE, MTASTS_TESTING, MTASTS_ENFORCE };
typedef struct {
    int mode;
    GPtrArray *mx;        /* char*: patterns, lower case ("*.example.net") */
    gint64 max_age, expires;
    char *id;
} MtaStsPolicy;
/* mtasts_parse - a policy body, or NULL when it is not a valid STSv1 policy. */
MtaStsPolicy *mtasts_parse(const char *body, gsize len);
/* mtasts_mx_match - does host match one of the policy's mx patterns? */
gboolean mtasts_mx_match(const MtaStsPolicy *p, const char *host);
/* mtasts_get - the policy of domain (a copy, free it), NULL when none
 * is published or it cannot be fetched (logged).  *failure is 0 unless
 * the domain publishes an _mta-sts TXT record whose policy cannot be
 * used: then the TLS-RPT result type (TLSRPT_STS_POLICY_FETCH_ERROR,
 * TLSRPT_STS_WEBPKI_INVALID, TLSRPT_STS_POLICY_INVALID of tlsrpt.h) and
 * *reason (to be freed) say why. */
MtaStsPolicy *mtasts_get(Relay *r, const char *domain, int *failure, char **reason);
void mtasts_policy_free(MtaStsPolicy *p);

/* dsn.c - DSN parameters (RFC 3461). */
enum { DSN_NOTIFY_NEVER = 1, DSN_NOTIFY_SUCCESS = 2, DSN_NOTIFY_FAILURE = 4, DSN_NOTIFY_DELAY = 8 };
/* dsn_xtext_valid - is s non-empty xtext of at most maxlen characters? */
gboolean dsn_xtext_valid(const char *s, gsize maxlen);
/* dsn_xtext_decode - xtext decoded, octets outside printable ASCII as "?". */
char *dsn_xtext_decode(const char *s);
/* dsn_mail_params - the RET and ENVID words of MAIL's parameters in
 * canonical form ("" when none; other words are left to the caller), or
 * NULL with *err set to the 501 reply. */
char *dsn_mail_params(const char *params, const char **err);
/* dsn_rcpt_params - RCPT's parameters (only NOTIFY and ORCPT are known)
 * in canonical form, or NULL with *err set (501 malformed, 555 unknown). */
char *dsn_rcpt_params(const char *params, const char **err);
/* dsn_param - the value of NAME=value in a canonical string, or NULL. */
char *dsn_param(const char *params, const char *name);
/* dsn_notify - the NOTIFY flags of a canonical RCPT string, 0 = not given. */
int dsn_notify(const char *rcpt_params);

/* smtp_server.c */
gboolean smtp_server_start(Relay *r, const char *listen, GError **error);

/* relay_block_signals - SIGTERM, SIGINT, SIGHUP blocked in every thread;
 * the runner takes them through a signalfd. */
void relay_block_signals(void);

/* runner.c */
void runner_prepare(Relay *r);
int runner_run(Relay *r);

#endif
