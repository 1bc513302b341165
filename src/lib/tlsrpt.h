/* tlsrpt.h - SMTP TLS Reporting (RFC 8460): the outbound TLS sessions of
 * a day per policy domain, and the daily JSON report to the domains that
 * publish a _smtp._tls TXT record with a mailto: rua. */
#ifndef KAIRAN_TLSRPT_H
#define KAIRAN_TLSRPT_H

#include <glib.h>
#include "instance.h"

/* failure types of RFC 8460 section 4.3 (0 = a successful session) */
enum {
    TLSRPT_STARTTLS_NOT_SUPPORTED = 1,
    TLSRPT_CERTIFICATE_HOST_MISMATCH,
    TLSRPT_CERTIFICATE_EXPIRED,
    TLSRPT_CERTIFICATE_NOT_TRUSTED,
    TLSRPT_VALIDATION_FAILURE,
    TLSRPT_TLSA_INVALID,
    TLSRPT_DNSSEC_INVALID,
    TLSRPT_DANE_REQUIRED,
    TLSRPT_STS_POLICY_FETCH_ERROR,
    TLSRPT_STS_POLICY_INVALID,
    TLSRPT_STS_WEBPKI_INVALID,
    TLSRPT_N_FAILURES
};

/* tlsrpt_result_type - "starttls-not-supported" ... for a failure type. */
const char *tlsrpt_result_type(int failure);

/* TlsRptSession - one outbound session attempt, as the relay saw it. */
typedef struct {
    const char *policy_domain;   /* the recipient domain */
    const char *policy_type;     /* "tlsa", "sts" or "no-policy-found" */
    const char *policy_string;   /* its records/lines joined by '\n' (may be NULL) */
    const char *policy_mx;       /* the MX host a "tlsa" policy is of; the sts mx patterns ('\n'); NULL */
    const char *mx_host;         /* receiving-mx-hostname */
    const char *receiving_ip;    /* may be NULL */
    int failure;                 /* 0 = TLS worked, else TLSRPT_* */
    const char *detail;          /* additional-information for a failure (may be NULL) */
} TlsRptSession;

/* tlsrpt_record - count s in the day of now (UTC) in kairan.db. */
gboolean tlsrpt_record(Instance *inst, gint64 now, const TlsRptSession *s, GError **error);

/* tlsrpt_report_json - the RFC 8460 section 4.4 report of domain for the
 * UTC day `day` ("YYYY-MM-DD"), NULL when nothing was recorded. */
char *tlsrpt_report_json(Instance *inst, const char *day, const char *domain, const char *report_id,
                         GError **error);

/* tlsrpt_parse_record - the mailto: addresses of a _smtp._tls TXT value
 * ("v=TLSRPTv1; rua=mailto:a@b,https://..."), NULL when it is not a
 * TLSRPTv1 record or names no mailto: address (fuzzed by
 * tests/fuzz/fuzz_tlsrpt.c). */
char **tlsrpt_parse_record(const char *txt);

/* tlsrpt_send_due - for every UTC day before the day of now: each
 * domain's report queued (gzip'd JSON, application/tlsrpt+gzip) to the
 * mailto: rua of its _smtp._tls TXT record, then that day's rows of the
 * domain forgotten (also when it asks for no report).  The number of
 * reports queued, or -1 with *error (rows kept, retried next time).
 * Run by the tls_reports task of maintain.c (kairan maintain, and the
 * relay every maintain_interval) when tls_rpt = yes. */
int tlsrpt_send_due(Instance *inst, gint64 now, GError **error);

#endif
