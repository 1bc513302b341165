/* rewrite.c - the headers of a post as distributed (DESIGN.md "Posts as
 * distributed"): one Subject tag after Re: folding, X-ML-Name,
 * X-Mail-Count, the RFC 2369/2919 List-* headers, Precedence: bulk,
 * Reply-To per the list's setting, and removal of configured headers.
 * With [global] web_url set (and archived_at = yes) Archived-At (RFC
 * 5064) names the web page of the post, web_url/list/LIST/archive/N.
 * X-BeenThere: LIST@domain is added once per list the post passes and is
 * never removed (not by remove_headers either): every list on the way
 * finds its own and drops the post instead of looping (policy.c).
 *
 * The Subject is decoded to UTF-8 (message.c, Japanese without loss),
 * tagged, and encoded again by japanese.c in the charset it came in when
 * that was ISO-2022-JP and every character still fits JIS X 0208 (what
 * Japanese mail readers expect), otherwise in UTF-8: B encoded words of
 * at most 75 characters, folded at 78. */
#include "config.h"
#include "distribute.h"
#include "domains.h"
#include "japanese.h"
#include "message.h"
#include "log.h"
#include "settings.h"

#include <string.h>

/* tag_regex - a pattern matching any tag the format could have produced. */
static char *
tag_regex(const char *fmt, const char *list)
{
    GString *re = g_string_new(NULL);
    for (const char *p = fmt; *p; p++) {
        if (*p == '%') {
            p++;
            if (*p == '%') {
                g_string_append(re, "%");
                continue;
            }
            if (*p == 's') {
                char *e = g_regex_escape_string(list, -1);
                g_string_append(re, e);
                g_free(e);
                continue;
            }
            while (g_ascii_isdigit(*p))
                p++;
            if (*p == 'd')
                g_string_append(re, "[0-9]+");
            else if (!*p)
                break;
            continue;
        }
        char c[2] = { *p, 0 };
        char *e = g_regex_escape_string(c, 1);
        g_string_append(re, e);
        g_free(e);
    }
    return g_string_free(re, FALSE);
}

/* format_tag - the tag for one post number. */
static char *
format_tag(const char *fmt, const char *list, gint64 num)
{
    GString *out = g_string_new(NULL);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            g_string_append_c(out, *p);
            continue;
        }
        p++;
        if (*p == '%')
            g_string_append_c(out, '%');
        else if (*p == 's')
            g_string_append(out, list);
        else {
            int width = 0;
            gboolean zero = *p == '0';
            while (g_ascii_isdigit(*p)) {
                if (width <= 20)       /* no overflow on %99999999999d */
                    width = width * 10 + (*p - '0');
                p++;
            }
            if (*p != 'd')
                break;
            if (width > 20)
                width = 20;
            g_string_append_printf(out, zero ? "%0*" G_GINT64_FORMAT : "%*" G_GINT64_FORMAT, width, num);
        }
    }
    return g_string_free(out, FALSE);
}

char *
subject_tag_remove(const char *subject, const char *tag_format, const char *list)
{
    char *pattern, *stripped = NULL;
    GRegex *tag_re;

    if (!subject)
        return g_strdup("");
    if (!tag_format || !*tag_format)
        return g_strdup(subject);
    pattern = tag_regex(tag_format, list);
    tag_re = g_regex_new(pattern, G_REGEX_CASELESS, 0, NULL);
    g_free(pattern);
    if (tag_re) {
        stripped = g_regex_replace_literal(tag_re, subject, -1, 0, "", 0, NULL);
        g_regex_unref(tag_re);
    }
    return g_strstrip(stripped ? stripped : g_strdup(subject));
}

char *
subject_tag_apply(const char *subject, const char *tag_format, const char *list, gint64 num)
{
    static const char *re_prefix =
        "^[ \\t]*((re|aw|sv|antw|fw|fwd)(\\[[0-9]+\\]|\\^[0-9]+)?[ \\t]*(:|\xef\xbc\x9a)[ \\t]*)";
    char *rest, *tag, *result, *pattern, *stripped, *valid = NULL;
    gboolean had_re = FALSE;
    GRegex *tag_re, *prefix_re;

    if (!subject)
        subject = "";
    if (!g_utf8_validate(subject, -1, NULL))        /* raw 8-bit text after an encoded word */
        subject = valid = g_utf8_make_valid(subject, -1);
    if (!tag_format || !*tag_format) {
        result = g_strdup(subject);
        g_free(valid);
        return result;
    }
    pattern = tag_regex(tag_format, list);
    tag_re = g_regex_new(pattern, G_REGEX_CASELESS, 0, NULL);
    prefix_re = g_regex_new(re_prefix, G_REGEX_CASELESS, 0, NULL);
    g_free(pattern);

    /* Remove every old tag of this list, then fold Re:/Fwd: prefixes. */
    stripped = tag_re ? g_regex_replace_literal(tag_re, subject, -1, 0, "", 0, NULL) : g_strdup(subject);
    if (!stripped)
        stripped = g_strdup(subject);
    rest = stripped;
    for (;;) {
        GMatchInfo *mi = NULL;
        gboolean m;
        while (*rest == ' ' || *rest == '\t')
            rest++;
        m = g_regex_match(prefix_re, rest, 0, &mi);
        if (m) {
            int start, end;
            char *word = g_match_info_fetch(mi, 2);
            if (g_ascii_strncasecmp(word, "f", 1) != 0)
                had_re = TRUE;
            else {
                g_free(word);
                g_match_info_free(mi);
                break;          /* keep Fwd: as it is */
            }
            g_free(word);
            g_match_info_fetch_pos(mi, 0, &start, &end);
            rest += end;
        }
        g_match_info_free(mi);
        if (!m)
            break;
    }
    tag = format_tag(tag_format, list, num);
    result = g_strdup_printf("%s%s%s%s", had_re ? "Re: " : "", tag, *rest ? " " : "", rest);
    g_strstrip(result);
    g_free(tag);
    g_free(stripped);
    g_free(valid);
    if (tag_re)
        g_regex_unref(tag_re);
    g_regex_unref(prefix_re);
    return result;
}

static void
remove_all(GMimeObject *obj, const char *name)
{
    while (g_mime_object_remove_header(obj, name))
        ;
}

/* drop_invalid_fields - remove header fields whose name is not printable
 * US-ASCII without ':' (RFC 5322 section 3.6.8).  Malformed mail has such
 * lines (8-bit octets in a name); left in place they would come before the
 * headers added below, and strict readers take them, and all after them,
 * for the body. */
static void
drop_invalid_fields(const char *list, GMimeObject *obj)
{
    GMimeHeaderList *headers = g_mime_object_get_header_list(obj);

    for (int i = g_mime_header_list_get_count(headers) - 1; i >= 0; i--) {
        GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
        const char *name = g_mime_header_get_name(h);
        gboolean ok = name && *name;
        for (const char *c = name; ok && *c; c++)
            ok = (guchar) *c >= 33 && (guchar) *c <= 126 && *c != ':';
        if (!ok) {
            char *shown = g_strescape(name ? name : "", NULL);
            log_warn("%s: dropped a header field with an invalid name \"%s\"", list, shown);
            g_free(shown);
            g_mime_header_list_remove_at(headers, i);
        }
    }
}

void
rewrite_headers(const Instance *inst, const char *list, GMimeMessage *msg, gint64 num)
{
    GMimeObject *obj = GMIME_OBJECT(msg);
    char *tag_format = list_setting(inst, list, "subject_tag");
    char *reply_to = list_setting(inst, list, "reply_to");
    char *remove = list_setting(inst, list, "remove_headers");
    char *description = list_setting(inst, list, "description");
    char *web_url = list_web_url(inst, list);
    GMimeHeader *subject_header = g_mime_header_list_get_header(g_mime_object_get_header_list(obj), "Subject");
    const char *raw_subject = subject_header ? g_mime_header_get_raw_value(subject_header) : NULL;
    const char *subject = g_mime_message_get_subject(msg);
    char *post = list_address(inst, list, NULL);
    char *ctl = list_address(inst, list, "-ctl");
    char *numtext = g_strdup_printf("%" G_GINT64_FORMAT, num);
    char *name = list_name(list), *id_token = list_id_header(inst, list);   /* NAME, NAME.DOMAIN */
    char *value, *new_subject;
    gboolean jis;
    char **names;

    /* Subject: ISO-2022-JP when it came so and every character still fits
     * JIS X 0208, else UTF-8; B encoded words of at most 75 characters
     * (japanese.c), the decoded Subject kept as it is */
    new_subject = subject_tag_apply(subject, tag_format, name, num);
    jis = raw_subject && message_subject_is_jis(msg);
    g_mime_message_set_subject(msg, new_subject, "utf-8");
    subject_header = g_mime_header_list_get_header(g_mime_object_get_header_list(obj), "Subject");
    if (subject_header) {
        char *raw = japanese_header_encode(new_subject, jis, strlen("Subject"));
        g_mime_header_set_raw_value(subject_header, raw);
        g_free(raw);
        g_free(msg->subject);                   /* GMime decoded the raw value again */
        msg->subject = g_strdup(new_subject);
    }

    /* Fields no reader can take, configured removals, and every header we
     * are about to set. */
    drop_invalid_fields(list, obj);
    names = g_strsplit_set(remove, ", \t", 0);
    for (int i = 0; names[i]; i++)
        if (*names[i] && g_ascii_strcasecmp(names[i], "X-BeenThere") != 0)   /* the loop marker stays */
            remove_all(obj, names[i]);
    g_strfreev(names);
    for (const char **h = (const char *[]) { "X-ML-Name", "X-Mail-Count", "List-Id", "List-Post",
             "List-Help", "List-Subscribe", "List-Unsubscribe", "List-Unsubscribe-Post",
             "List-Archive", "List-Owner", "Precedence", "Return-Path", "Archived-At", NULL }; *h; h++)
        remove_all(obj, *h);

    g_mime_object_append_header(obj, "X-BeenThere", post, NULL);
    g_mime_object_append_header(obj, "X-ML-Name", name, NULL);
    g_mime_object_append_header(obj, "X-Mail-Count", numtext, NULL);
    g_strdelimit(description, "\"\\<>", '\'');
    value = *description
        ? g_strdup_printf("\"%s\" <%s>", description, id_token)
        : g_strdup_printf("<%s>", id_token);
    g_mime_object_append_header(obj, "List-Id", value, "utf-8");
    g_free(value);
    value = g_strdup_printf("<mailto:%s>", post);
    g_mime_object_append_header(obj, "List-Post", value, NULL);
    g_free(value);
    value = g_strdup_printf("<mailto:%s?body=help>", ctl);
    g_mime_object_append_header(obj, "List-Help", value, NULL);
    g_free(value);
    value = g_strdup_printf("<mailto:%s?body=subscribe>", ctl);
    g_mime_object_append_header(obj, "List-Subscribe", value, NULL);
    g_free(value);
    if (web_url) {
        const char *slash = g_str_has_suffix(web_url, "/") ? "" : "/";
        value = g_strdup_printf("<mailto:%s?body=unsubscribe>, <%s%slist/%s/unsubscribe>", ctl, web_url, slash, list);
        g_mime_object_append_header(obj, "List-Unsubscribe", value, NULL);
        g_free(value);
        value = g_strdup_printf("<%s%slist/%s/archive>", web_url, slash, list);
        g_mime_object_append_header(obj, "List-Archive", value, NULL);
        g_free(value);
        if (list_setting_bool(inst, list, "archived_at")) {
            /* RFC 5064: the page of this very post (page_archive.c's route) */
            value = g_strdup_printf("<%s%slist/%s/archive/%s>", web_url, slash, list, numtext);
            g_mime_object_append_header(obj, "Archived-At", value, NULL);
            g_free(value);
        }
    } else {
        value = g_strdup_printf("<mailto:%s?body=unsubscribe>", ctl);
        g_mime_object_append_header(obj, "List-Unsubscribe", value, NULL);
        g_free(value);
        value = g_strdup_printf("<mailto:%s?body=index>", ctl);
        g_mime_object_append_header(obj, "List-Archive", value, NULL);
        g_free(value);
    }
    {
        char *admin = list_address(inst, list, "-admin");
        value = g_strdup_printf("<mailto:%s>", admin);
        g_mime_object_append_header(obj, "List-Owner", value, NULL);
        g_free(value);
        g_free(admin);
    }
    g_mime_object_append_header(obj, "Precedence", "bulk", NULL);

    if (g_str_equal(reply_to, "list")) {
        remove_all(obj, "Reply-To");
        g_mime_object_append_header(obj, "Reply-To", post, NULL);
    } else if (g_str_equal(reply_to, "none")) {
        remove_all(obj, "Reply-To");
    }

    g_free(new_subject);
    g_free(tag_format);
    g_free(reply_to);
    g_free(remove);
    g_free(description);
    g_free(web_url);
    g_free(post);
    g_free(ctl);
    g_free(numtext);
    g_free(name);
    g_free(id_token);
}
