/* dmarc.h - DMARC-safe posts (dmarc.c): the author domain's published
 * policy (DNS TXT via c-ares, dnstxt.c, cached in kairan.db) and the
 * From munging or message wrapping that keeps list mail deliverable. */
#ifndef KAIRAN_DMARC_H
#define KAIRAN_DMARC_H

#include <gmime/gmime.h>
#include "instance.h"

typedef enum { DNS_OK, DNS_NONE, DNS_FAIL } DnsResult;
/* dns_txt_lookup - the TXT records of name (*records always set; free
 * with g_ptr_array_unref).  DNS_NONE: no such name or no TXT record. */
DnsResult dns_txt_lookup(const Instance *inst, const char *name, GPtrArray **records);

typedef enum { DMARC_KEEP, DMARC_MUNGE, DMARC_WRAP } DmarcAction;

/* dmarc_domain_policy - the policy in force for mail From: domain:
 * "reject", "quarantine", "none", or "" when none is published; NULL
 * when DNS failed.  Answers are cached in kairan.db (dmarc_cache)
 * and reused for [global] dmarc_cache_ttl (default 1h, 0 = never). */
char *dmarc_domain_policy(Instance *inst, const char *domain);

/* dmarc_decide - the list's dmarc setting applied to msg (no lock held:
 * may ask DNS). */
DmarcAction dmarc_decide(Instance *inst, const char *list, GMimeMessage *msg);

/* dmarc_apply - after rewrite_headers: the message to distribute (a new
 * reference: msg itself with From munged, or a new wrapper). */
GMimeMessage *dmarc_apply(const Instance *inst, const char *list, GMimeMessage *msg, DmarcAction action);

#endif
