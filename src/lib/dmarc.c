/* dmarc.c - DMARC-safe posts, per list (setting dmarc = auto|munge|wrap|off).
 *
 * A list changes the Subject and adds headers, which breaks the author's
 * DKIM signature; if the author's domain publishes p=reject or
 * p=quarantine (RFC 7489), receivers then refuse or spam-folder the post.
 *   auto   look the policy up (_dmarc.DOMAIN, then the organisational
 *          domain's sp=/p=; DNS TXT through c-ares, cached in kairan.db)
 *          and munge From for reject and quarantine;
 *   munge  always munge;  wrap  always wrap;  off  never touch From.
 * Munging, as Mailman does: From becomes "Author Name via LIST"
 * <LIST@DOMAIN> (which kairan's own DKIM key signs aligned); Reply-To is
 * the author (or the author's own Reply-To), except with reply_to = list,
 * where Reply-To stays the list and the author is added to Cc; the
 * original From is kept in X-Original-From; the author's DKIM-Signature
 * fields, broken by the rewrite, are removed.
 * Wrapping: the post (as rewritten for the list) becomes a message/rfc822
 * body of a message from the list with the same Subject, To, Cc, Date,
 * Message-ID, threading and list headers, Reply-To as for munging.
 *
 * The archive file holds the post exactly as distributed (munged or
 * wrapped, DESIGN.md); the archive index (archive.from_addr/from_name)
 * keeps the author (distribute.c indexes the From before dmarc_apply).
 *
 * CONFIGURATION: per list `dmarc` (settings.c); [global] dns_resolver
 * (host:port; empty = the system's resolver) and dmarc_cache_ttl (how
 * long a looked-up policy is reused; 1h; 0 = ask every time).  A DNS
 * failure is not cached and leaves From as it is.
 *
 * Without [global] dns_resolver, names reserved for testing and
 * documentation (RFC 2606/6761: .test, .example, .invalid, .localhost,
 * example.com/net/org) are not looked up. */
#include "config.h"
#include "distribute.h"
#include "message.h"
#include "dmarc.h"
#include "address.h"
#include "db.h"
#include "log.h"
#include "settings.h"
#include "util.h"

#include <string.h>

static gboolean
reserved_name(const char *d)
{
    static const char *suffixes[] = { ".test", ".example", ".invalid", ".localhost", ".local" };
    static const char *names[] = { "example.com", "example.net", "example.org", "localhost" };
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        gsize n = strlen(names[i]), dl = strlen(d);
        if (g_str_equal(d, names[i]) || (dl > n && d[dl - n - 1] == '.' && g_str_has_suffix(d, names[i])))
            return TRUE;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++)
        if (g_str_has_suffix(d, suffixes[i]) || g_str_equal(d, suffixes[i] + 1))
            return TRUE;
    return FALSE;
}

/* org_domain - a simple organisational domain without the public suffix
 * list: the last two labels, three under a two-letter country code with
 * a second-level category (co.jp, ac.uk, com.au ...). */
static char *
org_domain(const char *d)
{
    static const char *sld[] = { "co", "ac", "ne", "or", "go", "ed", "gr", "lg", "ad",
                                 "com", "net", "org", "gov", "edu", "mil", NULL };
    char **labels = g_strsplit(d, ".", 0);
    guint n = g_strv_length(labels), keep = 2;
    char *r;

    if (n >= 3 && strlen(labels[n - 1]) == 2 && g_strv_contains(sld, labels[n - 2]))
        keep = 3;
    r = n <= keep ? g_strdup(d) : g_strjoinv(".", labels + (n - keep));
    g_strfreev(labels);
    return r;
}

/* lookup_record - the p= (or, for an organisational domain, sp= then p=)
 * of _dmarc.DOMAIN: "" if there is no valid record, NULL if DNS failed. */
static char *
lookup_record(Instance *inst, const char *domain, gboolean subdomain)
{
    char *name = g_strdup_printf("_dmarc.%s", domain);
    GPtrArray *recs = NULL;
    DnsResult r = dns_txt_lookup(inst, name, &recs);
    char *policy = NULL, *p = NULL, *sp = NULL;
    guint found = 0;

    if (r == DNS_FAIL) {
        log_warn("DMARC: DNS lookup of %s failed", name);
        goto out;
    }
    for (guint i = 0; i < recs->len; i++) {
        char **tags;
        if (!g_str_has_prefix(g_strchug(recs->pdata[i]), "v=DMARC1"))
            continue;
        found++;
        tags = g_strsplit(recs->pdata[i], ";", 0);
        for (int k = 0; tags[k]; k++) {
            char *tag = g_strstrip(tags[k]);
            if (g_ascii_strncasecmp(tag, "p=", 2) == 0 && !p)
                p = g_ascii_strdown(g_strstrip(tag + 2), -1);
            else if (g_ascii_strncasecmp(tag, "sp=", 3) == 0 && !sp)
                sp = g_ascii_strdown(g_strstrip(tag + 3), -1);
        }
        g_strfreev(tags);
    }
    /* RFC 7489 6.6.3: more than one record means no policy. */
    if (found != 1)
        policy = g_strdup("");
    else if (subdomain && sp)
        policy = g_strdup(sp);
    else
        policy = g_strdup(p ? p : "");
    if (*policy && !g_str_equal(policy, "none") && !g_str_equal(policy, "quarantine") &&
        !g_str_equal(policy, "reject")) {
        g_free(policy);
        policy = g_strdup("");
    }
out:
    if (recs)
        g_ptr_array_unref(recs);
    g_free(name);
    g_free(p);
    g_free(sp);
    return policy;
}

char *
dmarc_domain_policy(Instance *inst, const char *domain)
{
    char *resolver = instance_global(inst, "dns_resolver");
    char *policy = NULL, *org;
    sqlite3_stmt *st;
    gboolean reserved = !resolver && reserved_name(domain);

    g_free(resolver);
    if (reserved)
        return g_strdup("");
    st = db_prepare(inst->db, "SELECT policy FROM dmarc_cache WHERE domain = ? AND fetched > ?");
    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_seconds() - instance_global_int(inst, "dmarc_cache_ttl"));
    if (sqlite3_step(st) == SQLITE_ROW)
        policy = g_strdup((const char *) sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (policy)
        return policy;

    policy = lookup_record(inst, domain, FALSE);
    org = org_domain(domain);
    if (policy && !*policy && !g_str_equal(org, domain)) {
        g_free(policy);
        policy = lookup_record(inst, org, TRUE);
    }
    g_free(org);
    if (policy) {
        GError *e = NULL;
        st = db_prepare(inst->db, "INSERT OR REPLACE INTO dmarc_cache(domain, policy, fetched) VALUES(?, ?, ?)");
        sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, policy, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now_seconds());
        if (!db_step_done(st, &e)) {
            log_warn("DMARC: cannot cache the policy of %s: %s", domain, e->message);
            g_error_free(e);
        }
    }
    return policy;
}

DmarcAction
dmarc_decide(Instance *inst, const char *list, GMimeMessage *msg)
{
    char *mode = list_setting(inst, list, "dmarc");
    char *addr = address_from_header(g_mime_object_get_header(GMIME_OBJECT(msg), "From"), NULL);
    char *at = addr ? strrchr(addr, '@') : NULL;
    DmarcAction action = DMARC_KEEP;

    if (g_str_equal(mode, "munge"))
        action = DMARC_MUNGE;
    else if (g_str_equal(mode, "wrap"))
        action = DMARC_WRAP;
    else if (g_str_equal(mode, "auto") && at) {
        char *domain = g_ascii_strdown(at + 1, -1);
        char *policy = dmarc_domain_policy(inst, domain);
        if (policy && (g_str_equal(policy, "reject") || g_str_equal(policy, "quarantine"))) {
            action = DMARC_MUNGE;
            log_info("%s: DMARC policy of %s is p=%s: From is rewritten", list, domain, policy);
        }
        g_free(policy);
        g_free(domain);
    }
    if (action != DMARC_KEEP && !at)
        action = DMARC_KEEP;          /* nothing sensible to rewrite */
    g_free(addr);
    g_free(mode);
    return action;
}

static void
remove_all(GMimeObject *obj, const char *name)
{
    while (g_mime_object_remove_header(obj, name))
        ;
}

/* list_from - "Author Name via LIST" <LIST@DOMAIN>. */
static InternetAddress *
list_from(const Instance *inst, const char *list, InternetAddressMailbox *author)
{
    const char *name = internet_address_get_name(INTERNET_ADDRESS(author));
    char *display = g_strdup_printf("%s via %s", name && *name ? name : internet_address_mailbox_get_addr(author), list);
    char *addr = list_address(inst, list, NULL);
    InternetAddress *ia = internet_address_mailbox_new(display, addr);
    internet_address_set_charset(ia, "utf-8");
    g_free(display);
    g_free(addr);
    return ia;
}

static InternetAddressMailbox *
first_mailbox(InternetAddressList *l)
{
    for (int i = 0; l && i < internet_address_list_length(l); i++) {
        InternetAddress *ia = internet_address_list_get_address(l, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia))
            return INTERNET_ADDRESS_MAILBOX(ia);
    }
    return NULL;
}

/* set_replies - Reply-To / Cc of a munged or wrapped post (out), from the
 * author and the post's own Reply-To and Cc (in). */
static void
set_replies(const Instance *inst, const char *list, GMimeMessage *in, GMimeMessage *out,
            InternetAddressMailbox *author)
{
    InternetAddressList *reply_to = g_mime_message_get_reply_to(out);
    InternetAddressList *cc = g_mime_message_get_cc(out);
    gboolean list_replies = list_setting_is(inst, list, "reply_to", "list");
    const char *addr = internet_address_mailbox_get_addr(author);

    if (list_replies) {
        gboolean present = FALSE;
        for (int i = 0; i < internet_address_list_length(cc); i++) {
            InternetAddress *ia = internet_address_list_get_address(cc, i);
            if (INTERNET_ADDRESS_IS_MAILBOX(ia) &&
                address_equal(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)), addr))
                present = TRUE;
        }
        if (!present)
            internet_address_list_add(cc, INTERNET_ADDRESS(author));
        if (in != out && internet_address_list_length(g_mime_message_get_reply_to(in)) > 0)
            internet_address_list_append(reply_to, g_mime_message_get_reply_to(in));
        return;
    }
    if (internet_address_list_length(g_mime_message_get_reply_to(in)) > 0) {
        if (in != out)
            internet_address_list_append(reply_to, g_mime_message_get_reply_to(in));
        return;       /* the author's own Reply-To is kept */
    }
    internet_address_list_clear(reply_to);
    internet_address_list_add(reply_to, INTERNET_ADDRESS(author));
}

static void
copy_header(GMimeObject *from, GMimeObject *to, const char *name)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(from);
    int n = g_mime_header_list_get_count(hl);
    for (int i = 0; i < n; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) == 0)
            g_mime_object_append_header(to, name, g_mime_header_get_value(h), "utf-8");
    }
}

GMimeMessage *
dmarc_apply(const Instance *inst, const char *list, GMimeMessage *msg, DmarcAction action)
{
    static const char *wrap_copy[] = {
        "To", "Cc", "Date", "Message-ID", "In-Reply-To", "References", "X-BeenThere", "X-ML-Name", "X-Mail-Count",
        "List-Id", "List-Post", "List-Help", "List-Subscribe", "List-Unsubscribe",
        "List-Unsubscribe-Post", "List-Archive", "List-Owner", "Precedence", "Archived-At",
    };
    InternetAddressList *from = g_mime_message_get_from(msg);
    InternetAddressMailbox *author = first_mailbox(from);
    InternetAddress *lf;
    GMimeMessage *out;
    char *orig;

    if (action == DMARC_KEEP || !author)
        return g_object_ref(msg);
    g_object_ref(author);
    orig = internet_address_list_to_string(from, NULL, FALSE);
    lf = list_from(inst, list, author);

    if (action == DMARC_MUNGE) {
        out = g_object_ref(msg);
        internet_address_list_clear(from);
        internet_address_list_add(from, lf);
        remove_all(GMIME_OBJECT(out), "DKIM-Signature");
        remove_all(GMIME_OBJECT(out), "X-Original-From");
        g_mime_object_append_header(GMIME_OBJECT(out), "X-Original-From", orig, "utf-8");
        set_replies(inst, list, msg, out, author);
    } else {
        GMimeMessagePart *part = g_mime_message_part_new_with_message("rfc822", msg);
        const char *subject = g_mime_message_get_subject(msg);
        out = g_mime_message_new(FALSE);
        internet_address_list_add(g_mime_message_get_from(out), lf);
        g_mime_message_set_subject(out, subject ? subject : "", "utf-8");
        for (gsize i = 0; i < G_N_ELEMENTS(wrap_copy); i++)
            copy_header(GMIME_OBJECT(msg), GMIME_OBJECT(out), wrap_copy[i]);
        g_mime_object_append_header(GMIME_OBJECT(out), "X-Original-From", orig, "utf-8");
        g_mime_object_append_header(GMIME_OBJECT(out), "MIME-Version", "1.0", NULL);
        set_replies(inst, list, msg, out, author);
        g_mime_message_set_mime_part(out, GMIME_OBJECT(part));
        g_object_unref(part);
    }
    log_info("%s: %s post from %s (DMARC)", list, action == DMARC_MUNGE ? "From rewritten on" : "wrapped", orig);
    g_object_unref(lf);
    g_object_unref(author);
    g_free(orig);
    return out;
}
