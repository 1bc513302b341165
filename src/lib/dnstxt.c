/* dnstxt.c - one DNS TXT lookup with c-ares, for the DMARC policy of an
 * author's domain (dmarc.c).  The server asked is [global] dns_resolver
 * (host:port) when set, else the system's resolver configuration.  The
 * lookup is bounded: 3 s per try, two tries (a busy resolver still answers
 * in time; a DNS failure lets the post go out unchanged).  Each TXT record's strings
 * are joined (RFC 7208 3.3 / RFC 7489 6.6.3). */
#include "config.h"
#include "dmarc.h"
#include "log.h"

#include <ares.h>
#include <string.h>
#include <sys/select.h>

typedef struct {
    gboolean done;
    DnsResult result;
    GPtrArray *records;
} Query;

static void
on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    Query *q = arg;
    struct ares_txt_ext *txt = NULL;

    q->done = TRUE;
    if (status == ARES_ENODATA || status == ARES_ENOTFOUND) {
        q->result = DNS_NONE;
        return;
    }
    if (status != ARES_SUCCESS || ares_parse_txt_reply_ext(abuf, alen, &txt) != ARES_SUCCESS) {
        q->result = status == ARES_SUCCESS ? DNS_NONE : DNS_FAIL;
        return;
    }
    {
        GString *cur = NULL;
        for (struct ares_txt_ext *t = txt; t; t = t->next) {
            if (t->record_start || !cur) {
                if (cur)
                    g_ptr_array_add(q->records, g_string_free(cur, FALSE));
                cur = g_string_new(NULL);
            }
            g_string_append_len(cur, (const char *) t->txt, (gssize) t->length);
        }
        if (cur)
            g_ptr_array_add(q->records, g_string_free(cur, FALSE));
    }
    ares_free_data(txt);
    q->result = q->records->len ? DNS_OK : DNS_NONE;
}

DnsResult
dns_txt_lookup(const Instance *inst, const char *name, GPtrArray **records)
{
    static gboolean initialised;
    struct ares_options opts = { 0 };
    ares_channel channel;
    char *resolver = instance_global(inst, "dns_resolver");
    Query q = { FALSE, DNS_FAIL, g_ptr_array_new_with_free_func(g_free) };

    if (!initialised) {
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
            g_free(resolver);
            *records = q.records;
            return DNS_FAIL;
        }
        initialised = TRUE;
    }
    opts.timeout = 3000;
    opts.tries = 2;
    if (ares_init_options(&channel, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) {
        g_free(resolver);
        *records = q.records;
        return DNS_FAIL;
    }
    if (resolver && ares_set_servers_ports_csv(channel, resolver) != ARES_SUCCESS) {
        log_warn("[global] dns_resolver '%s' is not host:port; using the system resolver", resolver);
    }
    ares_query(channel, name, 1 /* IN */, 16 /* TXT */, on_answer, &q);
    while (!q.done) {
        fd_set r, w;
        struct timeval tv, *tvp;
        int nfds;
        FD_ZERO(&r);
        FD_ZERO(&w);
        nfds = ares_fds(channel, &r, &w);
        if (nfds == 0)
            break;
        tvp = ares_timeout(channel, NULL, &tv);
        select(nfds, &r, &w, NULL, tvp);
        ares_process(channel, &r, &w);
    }
    ares_destroy(channel);
    g_free(resolver);
    *records = q.records;
    return q.done ? q.result : DNS_FAIL;
}
