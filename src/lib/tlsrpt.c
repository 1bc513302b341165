/* tlsrpt.c - SMTP TLS Reporting (RFC 8460) for the relay's outbound
 * sessions (tls_rpt = yes).
 *
 * Recording: each session attempt with an MX host of a recipient domain
 * (the "policy domain") is counted in kairan.db's tlsrpt_sessions, one
 * row per UTC day, domain, policy (type "tlsa" with the TLSA RRset of one
 * MX host, "sts" with the MTA-STS policy, or "no-policy-found"), result
 * ("" = TLS worked, else the RFC 8460 section 4.3 result type) and
 * receiving host/address, with a count: a busy day is a few rows per
 * destination, never a row per message.
 *
 * Sending (tlsrpt_send_due, from the relay's runner once a minute): the
 * days before today are reported, each domain on its own: its
 * _smtp._tls TXT record (RFC 8460 section 3) is looked up; "v=TLSRPTv1"
 * with mailto: rua addresses gets the JSON report of section 4.4,
 * gzip'd as application/tlsrpt+gzip in a multipart/report
 * (report-type="tlsrpt") with the Subject and TLS-Report-Domain /
 * TLS-Report-Submitter headers of section 5.3, queued with the null
 * envelope sender (a report never bounces back into a loop) and From
 * MAILER-DAEMON@hostname, DKIM-signed (section 3) when kairan.conf has a
 * key for the instance's domain.  https: rua addresses are not used (mailto is
 * enough for the RFC).  Rows of a domain are deleted once its report is
 * queued, or when it publishes no (valid) record; a DNS failure keeps
 * them for the next run, for at most a week. */
#include "config.h"
#include "tlsrpt.h"
#include "db.h"
#include "dkim.h"
#include "dmarc.h"
#include "log.h"
#include "notify.h"
#include "queue.h"
#include "template.h"
#include "util.h"

#include <gio/gio.h>
#include <gmime/gmime.h>
#include <json-glib/json-glib.h>
#include <string.h>

static const char *const result_types[TLSRPT_N_FAILURES] = {
    [TLSRPT_STARTTLS_NOT_SUPPORTED] = "starttls-not-supported",
    [TLSRPT_CERTIFICATE_HOST_MISMATCH] = "certificate-host-mismatch",
    [TLSRPT_CERTIFICATE_EXPIRED] = "certificate-expired",
    [TLSRPT_CERTIFICATE_NOT_TRUSTED] = "certificate-not-trusted",
    [TLSRPT_VALIDATION_FAILURE] = "validation-failure",
    [TLSRPT_TLSA_INVALID] = "tlsa-invalid",
    [TLSRPT_DNSSEC_INVALID] = "dnssec-invalid",
    [TLSRPT_DANE_REQUIRED] = "dane-required",
    [TLSRPT_STS_POLICY_FETCH_ERROR] = "sts-policy-fetch-error",
    [TLSRPT_STS_POLICY_INVALID] = "sts-policy-invalid",
    [TLSRPT_STS_WEBPKI_INVALID] = "sts-webpki-invalid",
};

const char *
tlsrpt_result_type(int failure)
{
    return failure > 0 && failure < TLSRPT_N_FAILURES ? result_types[failure] : "validation-failure";
}

static char *
day_of(gint64 t)
{
    GDateTime *d = g_date_time_new_from_unix_utc(t);
    char *s = g_date_time_format(d, "%Y-%m-%d");
    g_date_time_unref(d);
    return s;
}

gboolean
tlsrpt_record(Instance *inst, gint64 now, const TlsRptSession *s, GError **error)
{
    char *day = day_of(now), *domain = g_ascii_strdown(s->policy_domain, -1);
    sqlite3_stmt *st = db_prepare(inst->db,
        "INSERT INTO tlsrpt_sessions(day, domain, policy_type, policy_string, policy_mx, result,"
        " mx_host, receiving_ip, detail, count) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)"
        " ON CONFLICT(day, domain, policy_type, policy_string, policy_mx, result, mx_host, receiving_ip)"
        " DO UPDATE SET count = count + 1, detail = coalesce(excluded.detail, detail)");
    gboolean ok;

    sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, domain, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, s->policy_type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, s->policy_string ? s->policy_string : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, s->policy_mx ? s->policy_mx : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, s->failure ? tlsrpt_result_type(s->failure) : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, s->mx_host ? s->mx_host : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, s->receiving_ip ? s->receiving_ip : "", -1, SQLITE_TRANSIENT);
    if (s->failure && s->detail)
        sqlite3_bind_text(st, 9, s->detail, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 9);
    ok = db_step_done(st, error);
    g_free(day);
    g_free(domain);
    return ok;
}

char **
tlsrpt_parse_record(const char *txt)
{
    char **parts, **out = NULL;
    GPtrArray *addrs;
    gboolean v1 = FALSE;

    if (!txt)
        return NULL;
    parts = g_strsplit(txt, ";", -1);
    addrs = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; parts[i]; i++) {
        char *p = g_strstrip(parts[i]);
        if (i == 0) {
            /* RFC 8460 section 3: the version must come first */
            v1 = g_str_equal(p, "v=TLSRPTv1");
            if (!v1)
                break;
            continue;
        }
        if (g_ascii_strncasecmp(p, "rua", 3) == 0) {
            char *v = p + 3;
            char **uris;
            while (*v == ' ' || *v == '\t')
                v++;
            if (*v != '=')
                continue;
            uris = g_strsplit(v + 1, ",", -1);
            for (char **u = uris; *u; u++) {
                char *x = g_strstrip(*u);
                if (g_ascii_strncasecmp(x, "mailto:", 7) == 0) {
                    char *addr = g_uri_unescape_string(x + 7, NULL);
                    char *q = addr ? strchr(addr, '?') : NULL;
                    if (q)
                        *q = '\0';
                    if (addr && *addr && strchr(addr, '@') && !strpbrk(addr, " \t\r\n<>\"") &&
                        addrs->len < 8)
                        g_ptr_array_add(addrs, addr);
                    else
                        g_free(addr);
                }
            }
            g_strfreev(uris);
        }
    }
    g_strfreev(parts);
    if (v1 && addrs->len > 0) {
        g_ptr_array_add(addrs, NULL);
        out = (char **) g_ptr_array_free(addrs, FALSE);
    } else {
        g_ptr_array_unref(addrs);
    }
    return out;
}

static void
add_lines(JsonBuilder *b, const char *member, const char *text)
{
    char **lines = g_strsplit(text, "\n", -1);
    json_builder_set_member_name(b, member);
    json_builder_begin_array(b);
    for (char **l = lines; *l; l++)
        if (**l)
            json_builder_add_string_value(b, *l);
    json_builder_end_array(b);
    g_strfreev(lines);
}

char *
tlsrpt_report_json(Instance *inst, const char *day, const char *domain, const char *report_id, GError **error)
{
    sqlite3_stmt *pol = db_prepare(inst->db,
        "SELECT policy_type, policy_string, policy_mx,"
        " sum(CASE WHEN result = '' THEN count ELSE 0 END), sum(CASE WHEN result = '' THEN 0 ELSE count END)"
        " FROM tlsrpt_sessions WHERE day = ?1 AND domain = ?2"
        " GROUP BY policy_type, policy_string, policy_mx ORDER BY policy_type, policy_mx, policy_string");
    JsonBuilder *b;
    JsonGenerator *gen;
    JsonNode *root;
    char *start, *end, *out;
    int n = 0, rc;

    (void) error;
    b = json_builder_new();
    start = g_strdup_printf("%sT00:00:00Z", day);
    end = g_strdup_printf("%sT23:59:59Z", day);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "organization-name");
    json_builder_add_string_value(b, inst->hostname);
    json_builder_set_member_name(b, "date-range");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "start-datetime");
    json_builder_add_string_value(b, start);
    json_builder_set_member_name(b, "end-datetime");
    json_builder_add_string_value(b, end);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "contact-info");
    {
        char *c = g_strdup_printf("postmaster@%s", inst->hostname);
        json_builder_add_string_value(b, c);
        g_free(c);
    }
    json_builder_set_member_name(b, "report-id");
    json_builder_add_string_value(b, report_id);
    json_builder_set_member_name(b, "policies");
    json_builder_begin_array(b);
    sqlite3_bind_text(pol, 1, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(pol, 2, domain, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(pol)) == SQLITE_ROW) {
        const char *type = (const char *) sqlite3_column_text(pol, 0);
        const char *pstr = (const char *) sqlite3_column_text(pol, 1);
        const char *pmx = (const char *) sqlite3_column_text(pol, 2);
        sqlite3_stmt *det;

        n++;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "policy");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "policy-type");
        json_builder_add_string_value(b, type);
        if (pstr && *pstr)
            add_lines(b, "policy-string", pstr);
        json_builder_set_member_name(b, "policy-domain");
        json_builder_add_string_value(b, domain);
        if (pmx && *pmx)
            add_lines(b, "mx-host", pmx);
        json_builder_end_object(b);
        json_builder_set_member_name(b, "summary");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "total-successful-session-count");
        json_builder_add_int_value(b, sqlite3_column_int64(pol, 3));
        json_builder_set_member_name(b, "total-failure-session-count");
        json_builder_add_int_value(b, sqlite3_column_int64(pol, 4));
        json_builder_end_object(b);
        if (sqlite3_column_int64(pol, 4) > 0) {
            det = db_prepare(inst->db,
                "SELECT result, mx_host, receiving_ip, count, detail FROM tlsrpt_sessions"
                " WHERE day = ?1 AND domain = ?2 AND policy_type = ?3 AND policy_string = ?4"
                " AND policy_mx = ?5 AND result <> '' ORDER BY result, mx_host, receiving_ip");
            sqlite3_bind_text(det, 1, day, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(det, 2, domain, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(det, 3, type, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(det, 4, pstr ? pstr : "", -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(det, 5, pmx ? pmx : "", -1, SQLITE_TRANSIENT);
            json_builder_set_member_name(b, "failure-details");
            json_builder_begin_array(b);
            while (sqlite3_step(det) == SQLITE_ROW) {
                const char *ip = (const char *) sqlite3_column_text(det, 2);
                const char *info = (const char *) sqlite3_column_text(det, 4);
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "result-type");
                json_builder_add_string_value(b, (const char *) sqlite3_column_text(det, 0));
                json_builder_set_member_name(b, "receiving-mx-hostname");
                json_builder_add_string_value(b, (const char *) sqlite3_column_text(det, 1));
                if (ip && *ip) {
                    json_builder_set_member_name(b, "receiving-ip");
                    json_builder_add_string_value(b, ip);
                }
                json_builder_set_member_name(b, "failed-session-count");
                json_builder_add_int_value(b, sqlite3_column_int64(det, 3));
                if (info && *info) {
                    json_builder_set_member_name(b, "failure-reason-code");
                    json_builder_add_string_value(b, info);
                }
                json_builder_end_object(b);
            }
            sqlite3_finalize(det);
            json_builder_end_array(b);
        }
        json_builder_end_object(b);
    }
    sqlite3_finalize(pol);
    json_builder_end_array(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    gen = json_generator_new();
    json_generator_set_root(gen, root);
    out = n > 0 ? json_generator_to_data(gen, NULL) : NULL;
    json_node_unref(root);
    g_object_unref(gen);
    g_object_unref(b);
    g_free(start);
    g_free(end);
    return out;
}

/* gzip - data gzip'd (GIO's zlib converter). */
static GBytes *
gzip(const char *data, gsize len)
{
    GConverter *z = G_CONVERTER(g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP, 9));
    GByteArray *out = g_byte_array_new();
    guchar buf[16384];
    gsize off = 0;

    for (;;) {
        gsize nread = 0, nwritten = 0;
        GConverterResult r = g_converter_convert(z, data + off, len - off, buf, sizeof(buf),
                                                 G_CONVERTER_INPUT_AT_END, &nread, &nwritten, NULL);
        off += nread;
        g_byte_array_append(out, buf, (guint) nwritten);
        if (r == G_CONVERTER_FINISHED || r == G_CONVERTER_ERROR)
            break;
    }
    g_object_unref(z);
    return g_byte_array_free_to_bytes(out);
}

/* day_bounds - the Unix times of day's first and last second. */
static void
day_bounds(const char *day, gint64 *b, gint64 *e)
{
    int y = 0, m = 0, d = 0;
    GDateTime *t;
    sscanf(day, "%d-%d-%d", &y, &m, &d);
    t = g_date_time_new_utc(y, m, d, 0, 0, 0);
    *b = t ? g_date_time_to_unix(t) : 0;
    *e = *b + 86399;
    if (t)
        g_date_time_unref(t);
}

/* queue_report - the report mail of domain for day to rua. */
static gboolean
queue_report(Instance *inst, const char *day, const char *domain, char **rua, GError **error)
{
    char *rid, *json, *subject, *fname, *from, *text, *tmpl;
    gint64 b, e;
    GBytes *gz;
    GMimeMessage *msg;
    GMimeMultipart *mp;
    GMimeTextPart *tp;
    GMimePart *att;
    GMimeStream *st;
    GMimeDataWrapper *dw;
    GMimeContentType *ct;
    GByteArray *bytes;
    GHashTable *vars;
    char *qid;
    GDateTime *now;

    {
        char *rnd = random_hex(4);
        rid = g_strdup_printf("%s.%s.%s@%s", day, domain, rnd, inst->hostname);
        g_free(rnd);
    }
    json = tlsrpt_report_json(inst, day, domain, rid, error);
    if (!json) {
        g_free(rid);
        return TRUE;
    }
    day_bounds(day, &b, &e);
    gz = gzip(json, strlen(json));
    msg = g_mime_message_new(TRUE);
    from = g_strdup_printf("MAILER-DAEMON@%s", inst->hostname);
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, "TLS reports", from);
    for (char **a = rua; *a; a++)
        g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, *a);
    subject = g_strdup_printf("Report Domain: %s Submitter: %s Report-ID: <%s>", domain, inst->hostname, rid);
    g_mime_message_set_subject(msg, subject, NULL);
    now = g_date_time_new_now_utc();
    g_mime_message_set_date(msg, now);
    g_date_time_unref(now);
    {
        char *mid = g_strdup_printf("%s", rid);
        g_mime_message_set_message_id(msg, mid);
        g_free(mid);
    }
    g_mime_object_set_header(GMIME_OBJECT(msg), "TLS-Report-Domain", domain, NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "TLS-Report-Submitter", inst->hostname, NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted", "auto-generated", NULL);
    mp = g_mime_multipart_new_with_subtype("report");
    ct = g_mime_object_get_content_type(GMIME_OBJECT(mp));
    g_mime_content_type_set_parameter(ct, "report-type", "tlsrpt");
    vars = template_vars_new();
    template_var(vars, "domain", domain);
    template_var(vars, "submitter", inst->hostname);
    template_var(vars, "day", day);
    template_var(vars, "report_id", rid);
    tmpl = template_load("en", "tlsrpt");
    text = template_expand(tmpl ? tmpl : "TLS report for {{domain}}, {{day}} (UTC).\n", vars);
    {
        /* the template's Subject line is for people; RFC 8460's Subject wins */
        char *body = text;
        if (g_str_has_prefix(body, "Subject:")) {
            char *nl = strstr(body, "\n\n");
            body = nl ? nl + 2 : body;
        }
        tp = g_mime_text_part_new_with_subtype("plain");
        g_mime_text_part_set_text(tp, body);
    }
    g_mime_multipart_add(mp, GMIME_OBJECT(tp));
    att = g_mime_part_new_with_type("application", "tlsrpt+gzip");
    fname = g_strdup_printf("%s!%s!%" G_GINT64_FORMAT "!%" G_GINT64_FORMAT "!%s.json.gz", inst->hostname, domain, b,
                            e, day);
    g_mime_part_set_filename(att, fname);
    g_mime_part_set_content_encoding(att, GMIME_CONTENT_ENCODING_BASE64);
    st = g_mime_stream_mem_new_with_buffer(g_bytes_get_data(gz, NULL), g_bytes_get_size(gz));
    dw = g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content(att, dw);
    g_object_unref(dw);
    g_object_unref(st);
    g_mime_multipart_add(mp, GMIME_OBJECT(att));
    g_mime_message_set_mime_part(msg, GMIME_OBJECT(mp));
    bytes = message_to_bytes(msg);
    /* RFC 8460 section 3: reports SHOULD be DKIM-signed; signed as every
     * mail kairan writes (the key of the From: domain, else of [global]
     * domain).  A key that cannot be used does not cost the report. */
    {
        GError *sign_error = NULL;
        if (!dkim_sign_bytes(inst, bytes, &sign_error)) {
            log_warn("tls-rpt: the report %s for %s goes out unsigned: %s", rid, domain, sign_error->message);
            g_error_free(sign_error);
        }
    }
    qid = queue_submit(inst, "", (const char *const *) rua, g_strv_length(rua), bytes->data, bytes->len, error);
    if (qid)
        log_info("tls-rpt: report %s for %s (%s) queued as %s", rid, domain, day, qid);
    g_free(qid);
    g_byte_array_unref(bytes);
    g_object_unref(att);
    g_object_unref(tp);
    g_object_unref(mp);
    g_object_unref(msg);
    g_hash_table_unref(vars);
    g_free(tmpl);
    g_free(text);
    g_free(fname);
    g_free(subject);
    g_free(from);
    g_bytes_unref(gz);
    g_free(json);
    g_free(rid);
    return qid != NULL;
}

static gboolean
forget(Instance *inst, const char *day, const char *domain, GError **error)
{
    sqlite3_stmt *st = db_prepare(inst->db, "DELETE FROM tlsrpt_sessions WHERE day = ?1 AND domain = ?2");
    sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, domain, -1, SQLITE_TRANSIENT);
    return db_step_done(st, error);
}

int
tlsrpt_send_due(Instance *inst, gint64 now, GError **error)
{
    char *today = day_of(now);
    sqlite3_stmt *st = db_prepare(inst->db,
        "SELECT DISTINCT day, domain FROM tlsrpt_sessions WHERE day < ?1 ORDER BY day, domain");
    GPtrArray *due = g_ptr_array_new_with_free_func(g_free);
    int sent = 0;

    sqlite3_bind_text(st, 1, today, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        g_ptr_array_add(due, g_strdup((const char *) sqlite3_column_text(st, 0)));
        g_ptr_array_add(due, g_strdup((const char *) sqlite3_column_text(st, 1)));
    }
    sqlite3_finalize(st);
    g_free(today);
    for (guint i = 0; i + 1 < due->len; i += 2) {
        const char *day = due->pdata[i], *domain = due->pdata[i + 1];
        char *name = g_strdup_printf("_smtp._tls.%s", domain);
        GPtrArray *txt = NULL;
        DnsResult r = dns_txt_lookup(inst, name, &txt);
        char **rua = NULL;

        for (guint k = 0; r == DNS_OK && k < txt->len && !rua; k++)
            rua = tlsrpt_parse_record(txt->pdata[k]);
        g_ptr_array_unref(txt);
        g_free(name);
        if (r == DNS_FAIL) {
            log_warn("tls-rpt: DNS lookup of _smtp._tls.%s failed: its report for %s waits", domain, day);
            continue;
        }
        /* one transaction from the report to the deletion of its rows:
         * a second process running this at the same time (the relay and
         * a periodic `kairan maintain`) finds them gone and sends nothing */
        if (!db_begin_immediate(inst->db, error)) {
            g_strfreev(rua);
            g_ptr_array_unref(due);
            return -1;
        }
        {
            char *key = g_strdup_printf("%s %s", day, domain);
            gint64 left = db_int64(inst->db, "SELECT count(*) FROM tlsrpt_sessions WHERE day || ' ' || domain = ?1",
                                   key);
            g_free(key);
            if (left > 0 && rua) {
                if (!queue_report(inst, day, domain, rua, error)) {
                    db_rollback(inst->db);
                    g_strfreev(rua);
                    g_ptr_array_unref(due);
                    return -1;
                }
                sent++;
            }
        }
        g_strfreev(rua);
        if (!forget(inst, day, domain, error) || !db_commit(inst->db, error)) {
            db_rollback(inst->db);
            g_ptr_array_unref(due);
            return -1;
        }
    }
    g_ptr_array_unref(due);
    {
        /* a domain whose DNS keeps failing: its rows go after a week */
        char *cutoff = day_of(now - 7 * 86400);
        st = db_prepare(inst->db, "DELETE FROM tlsrpt_sessions WHERE day < ?1");
        sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_TRANSIENT);
        g_free(cutoff);
        if (!db_step_done(st, error))
            return -1;
    }
    return sent;
}
