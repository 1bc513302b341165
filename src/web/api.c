/* api.c - the REST API: JSON under /api/v1/ of `kairan web` and the CGI
 * (DESIGN.md "The REST API"; described for machines by
 * templates/web/openapi.json, served at /api/v1/openapi.json).
 *
 * web_handle() hands every path below /api/ to api_handle(), before any
 * session, cookie or CSRF handling: the API is authorised by
 * `Authorization: Bearer TOKEN` alone (lib/apitoken.c).  An instance
 * token may do everything; a list token manages its list only (403
 * elsewhere, and for POST/DELETE /lists).  Each token may make
 * [global] api_rate_limit calls a minute (429 above).  Bodies are JSON
 * objects (415 for another Content-Type, 400 when malformed, 413 above
 * [global] api_max_body).  Every change goes through the code the CLI
 * and the web use: list_setting_set (validation, 422 naming the key),
 * member_add / subscription_invite (list and banned addresses refused),
 * memberopts_set (PATCH of a member's options: receive_own_posts, nodupes,
 * acknowledge, hide_address, vacation_until, digest, moderated; all or
 * nothing), held_approve / held_reject, list_create / list_remove; the archive
 * is read through lib/archive.h.  Every call is logged with the id of
 * its token, never the token.  Errors are {"error": "..."}. */
#include "config.h"
#include "api.h"
#include "domains.h"
#include "webint.h"
#include "address.h"
#include "aliases.h"
#include "apitoken.h"
#include "archive.h"
#include "crypto.h"
#include "db.h"
#include "globals.h"
#include "held.h"
#include "lists.h"
#include "log.h"
#include "memberopts.h"
#include "ratelimit.h"
#include "settings.h"
#include "subscription.h"
#include "util.h"

#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <string.h>

#define API_PAGE_DEFAULT 50
#define API_PAGE_MAX 1000
#define API_RATE_WINDOW 60

typedef struct {
    Instance *inst;
    WebRequest *req;
    WebResponse *resp;
    ApiToken *tok;
    char **seg;          /* the segments after api/v1 */
    int nseg;
    JsonObject *body;    /* the request body of POST/PATCH */
    JsonParser *parser;
} ApiCtx;

gboolean
api_is_path(const char *path)
{
    return path && (g_str_equal(path, "/api") || g_str_has_prefix(path, "/api/"));
}

gsize
api_max_body(const Instance *inst)
{
    gint64 v = inst ? instance_global_int(inst, "api_max_body") : API_MAX_BODY_DEFAULT;
    return v > 0 ? (gsize) v : API_MAX_BODY_DEFAULT;
}

/* ---- responses ---- */

static void
reply_node(WebResponse *resp, int status, JsonNode *node)
{
    JsonGenerator *gen = json_generator_new();
    gsize len = 0;
    char *text;

    json_generator_set_root(gen, node);
    text = json_generator_to_data(gen, &len);
    resp->status = status;
    g_byte_array_set_size(resp->body, 0);
    g_byte_array_append(resp->body, (const guint8 *) text, (guint) len);
    g_byte_array_append(resp->body, (const guint8 *) "\n", 1);
    web_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    g_free(text);
    g_object_unref(gen);
    json_node_unref(node);
}

static void
reply(ApiCtx *c, int status, JsonBuilder *b)
{
    reply_node(c->resp, status, json_builder_get_root(b));
    g_object_unref(b);
}

static void
fail_resp(WebResponse *resp, int status, const char *message)
{
    JsonBuilder *b = json_builder_new();
    char *valid = g_utf8_make_valid(message, -1);     /* JSON is UTF-8, whatever the request held */
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    json_builder_add_string_value(b, valid);
    g_free(valid);
    json_builder_end_object(b);
    reply_node(resp, status, json_builder_get_root(b));
    g_object_unref(b);
}

static void fail(ApiCtx *c, int status, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
fail(ApiCtx *c, int status, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fail_resp(c->resp, status, msg);
    g_free(msg);
}

/* fail_error - a lib error as an answer: temporary ones 503, a missing
 * thing 404, anything else the caller's status. */
static void
fail_error(ApiCtx *c, int status, GError *e)
{
    int st = e->code == EXIT_TEMPFAIL ? 503 : e->code == EXIT_NOUSER ? 404 : e->code == EXIT_SOFTWARE ? 500 : status;
    fail(c, st, "%s", e->message);
    g_error_free(e);
}

WebResponse *
api_error_response(int status, const char *message)
{
    WebResponse *resp = web_response_new();
    fail_resp(resp, status, message);
    web_response_header(resp, "Cache-Control", "no-store");
    web_response_header(resp, "X-Content-Type-Options", "nosniff");
    return resp;
}

static void
not_allowed(ApiCtx *c, const char *allow)
{
    fail(c, 405, "this method is not allowed here (allowed: %s)", allow);
    web_response_header(c->resp, "Allow", allow);
}

/* ---- values ---- */

static char *
iso_time(gint64 t)
{
    GDateTime *dt = g_date_time_new_from_unix_utc(t > 0 ? t : 0);
    char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
    g_date_time_unref(dt);
    return s;
}

static void
add_time(JsonBuilder *b, const char *name, gint64 t)
{
    char *s = iso_time(t);
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, s);
    g_free(s);
}

static void
add_str(JsonBuilder *b, const char *name, const char *v)
{
    json_builder_set_member_name(b, name);
    if (v)
        json_builder_add_string_value(b, v);
    else
        json_builder_add_null_value(b);
}

static void
add_int(JsonBuilder *b, const char *name, gint64 v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

static void
add_bool(JsonBuilder *b, const char *name, gboolean v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, v);
}

/* query_int - the query parameter name as an integer in [min, max], dflt
 * when absent; FALSE (answered 400) when it is not one. */
static gboolean
query_int(ApiCtx *c, const char *name, gint64 dflt, gint64 min, gint64 max, gint64 *out)
{
    const char *v = params_get(c->req->params, name);
    char *end = NULL;
    gint64 n;

    *out = dflt;
    if (!v)
        return TRUE;
    n = g_ascii_strtoll(v, &end, 10);
    if (!*v || *end || n < min || n > max || !g_ascii_isdigit(*v)) {
        fail(c, 400, "%s must be an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, name, min, max);
        return FALSE;
    }
    *out = n;
    return TRUE;
}

/* body_check - every member of the body is one of the allowed names
 * (NULL-terminated); else 422 naming the first unknown one. */
static gboolean
body_check(ApiCtx *c, const char *const *allowed)
{
    GList *names = json_object_get_members(c->body);
    gboolean ok = TRUE;
    for (GList *l = names; l && ok; l = l->next) {
        gboolean known = FALSE;
        for (int i = 0; allowed[i] && !known; i++)
            known = g_str_equal(l->data, allowed[i]);
        if (!known) {
            fail(c, 422, "unknown key \"%s\"", (const char *) l->data);
            ok = FALSE;
        }
    }
    g_list_free(names);
    return ok;
}

/* body_string - the string member name; NULL when absent.  *bad is set
 * (and 422 answered) when it is there but no string. */
static const char *
body_string(ApiCtx *c, const char *name, gboolean *bad)
{
    JsonNode *n = json_object_get_member(c->body, name);
    if (!n || JSON_NODE_HOLDS_NULL(n))
        return NULL;
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
        fail(c, 422, "\"%s\" must be a string", name);
        *bad = TRUE;
        return NULL;
    }
    return json_node_get_string(n);
}

/* setting_text - a JSON value as the text a setting is written with:
 * strings as they are, integers in decimal, booleans yes/no, arrays of
 * strings joined by blanks; NULL for anything else. */
static char *
setting_text(JsonNode *n)
{
    if (JSON_NODE_HOLDS_VALUE(n)) {
        GType t = json_node_get_value_type(n);
        if (t == G_TYPE_STRING)
            return g_strdup(json_node_get_string(n));
        if (t == G_TYPE_INT64)
            return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
        if (t == G_TYPE_BOOLEAN)
            return g_strdup(json_node_get_boolean(n) ? "yes" : "no");
        return NULL;
    }
    if (JSON_NODE_HOLDS_ARRAY(n)) {
        JsonArray *a = json_node_get_array(n);
        GString *s = g_string_new(NULL);
        for (guint i = 0; i < json_array_get_length(a); i++) {
            JsonNode *e = json_array_get_element(a, i);
            if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING) {
                g_string_free(s, TRUE);
                return NULL;
            }
            if (s->len)
                g_string_append_c(s, ' ');
            g_string_append(s, json_node_get_string(e));
        }
        return g_string_free(s, FALSE);
    }
    return NULL;
}

/* ---- objects ---- */

static void
build_list(ApiCtx *c, JsonBuilder *b, const char *list, gboolean with_settings)
{
    char *desc = list_setting(c->inst, list, "description");
    char *addr = list_address(c->inst, list, "");
    char *name = list_name(list), *domain = list_domain(c->inst, list);

    json_builder_begin_object(b);
    add_str(b, "name", name);
    add_str(b, "domain", domain);
    g_free(name);
    g_free(domain);
    add_str(b, "address", addr);
    add_str(b, "description", desc);
    add_int(b, "members", member_count(c->inst, list));
    add_int(b, "posts", archive_count(c->inst, list, NULL));
    if (with_settings) {
        size_t n = 0;
        const SettingDef *defs = settings_table(&n);
        json_builder_set_member_name(b, "settings");
        json_builder_begin_object(b);
        for (size_t i = 0; i < n; i++) {
            char *v = list_setting(c->inst, list, defs[i].key);
            add_str(b, defs[i].key, v);
            g_free(v);
        }
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
    g_free(desc);
    g_free(addr);
}

static void
build_member(JsonBuilder *b, const Member *m)
{
    json_builder_begin_object(b);
    add_str(b, "address", m->address);
    add_str(b, "name", m->name);
    add_str(b, "delivery", m->post_only ? "post-only" : m->nomail ? "disabled" : "enabled");
    add_bool(b, "digest", m->digest);
    add_bool(b, "moderated", m->moderated);
    add_time(b, "since", m->since);
    /* the per-member options (memberopts.c) */
    add_bool(b, "receive_own_posts", m->receive_own);
    add_bool(b, "nodupes", m->nodupes);
    add_bool(b, "acknowledge", m->acknowledge);
    add_bool(b, "hide_address", m->hide_address);
    {
        char *d = memberopts_vacation_date(m);
        add_str(b, "vacation_until", d);
        g_free(d);
    }
    json_builder_end_object(b);
}

/* settings_etag - a strong validator of the list's settings in force. */
static char *
settings_etag(ApiCtx *c, const char *list)
{
    size_t n = 0;
    const SettingDef *defs = settings_table(&n);
    GString *s = g_string_new(NULL);
    char *h, *tag;
    for (size_t i = 0; i < n; i++) {
        char *v = list_setting(c->inst, list, defs[i].key);
        g_string_append_printf(s, "%s=%s\n", defs[i].key, v);
        g_free(v);
    }
    h = sha256_hex(s->str, s->len);
    tag = g_strdup_printf("\"%.32s\"", h);
    g_free(h);
    g_string_free(s, TRUE);
    return tag;
}

static void
reply_list(ApiCtx *c, int status, const char *list)
{
    JsonBuilder *b = json_builder_new();
    char *etag = settings_etag(c, list);
    build_list(c, b, list, TRUE);
    web_response_header(c->resp, "ETag", etag);
    g_free(etag);
    reply(c, status, b);
}

/* ---- endpoints ---- */

static void
lists_get(ApiCtx *c)
{
    char **names = list_names(c->inst);
    JsonBuilder *b = json_builder_new();
    json_builder_begin_array(b);
    for (int i = 0; names[i]; i++)
        if (!c->tok->list || g_str_equal(c->tok->list, names[i]))
            build_list(c, b, names[i], FALSE);
    json_builder_end_array(b);
    g_strfreev(names);
    reply(c, 200, b);
}

static void
lists_post(ApiCtx *c)
{
    static const char *const keys[] = { "name", "domain", "owner", "description", NULL };
    gboolean bad = FALSE;
    const char *name, *domain, *owner, *desc, *why = NULL;
    char *owner_norm = NULL, *desc_norm = NULL, *dwhy = NULL, *loc, *id = NULL;
    GError *e = NULL;

    if (c->tok->list) {
        fail(c, 403, "creating lists needs an instance token");
        return;
    }
    if (!body_check(c, keys))
        return;
    name = body_string(c, "name", &bad);
    domain = bad ? NULL : body_string(c, "domain", &bad);
    owner = bad ? NULL : body_string(c, "owner", &bad);
    desc = bad ? NULL : body_string(c, "description", &bad);
    if (bad)
        return;
    if (!name) {
        fail(c, 422, "\"name\" is required");
        return;
    }
    if (!list_name_valid(name, &why)) {
        fail(c, 422, "name: %s", why);
        return;
    }
    if (domain && !domain_is_local(c->inst, domain)) {
        fail(c, 422, "domain: %s is not a domain of this instance (kairan domain add %s adds it)", domain, domain);
        return;
    }
    if (!owner) {
        fail(c, 422, "\"owner\" is required");
        return;
    }
    if (!(owner_norm = address_normalize(owner, &why))) {
        fail(c, 422, "owner: %s", why);
        return;
    }
    if (desc && !(desc_norm = setting_validate("description", desc, &dwhy))) {
        fail(c, 422, "description: %s", dwhy);
        g_free(dwhy);
        g_free(owner_norm);
        return;
    }
    id = list_id_join(c->inst, name, domain);     /* NAME, or NAME@DOMAIN of an added domain */
    name = id;
    if (list_exists(c->inst, name)) {
        fail(c, 409, "the list %s exists already", name);
        goto out;
    }
    if (!list_create(c->inst, name, owner_norm, NULL, &e)) {
        fail_error(c, 422, e);
        goto out;
    }
    if (desc_norm && !list_setting_set(c->inst, name, "description", desc_norm, &e)) {
        log_warn("api: list %s created without its description: %s", name, e->message);
        g_clear_error(&e);
    }
    log_info("list %s created (owner %s) by API token %" G_GINT64_FORMAT, name, owner_norm, c->tok->id);
    if (!aliases_update(c->inst, &e)) {
        /* the list exists: `kairan aliases` writes the map again */
        log_error("api: list %s created, but the alias map was not written: %s", name, e->message);
        g_clear_error(&e);
    }
    loc = g_strdup_printf("%s/api/v1/lists/%s", c->req->base, name);
    web_response_header(c->resp, "Location", loc);
    g_free(loc);
    reply_list(c, 201, name);
out:
    g_free(id);
    g_free(owner_norm);
    g_free(desc_norm);
}

static void
list_delete(ApiCtx *c, const char *list)
{
    GError *e = NULL;
    if (c->tok->list) {
        fail(c, 403, "removing a list needs an instance token");
        return;
    }
    if (!list_remove(c->inst, list, FALSE, NULL, &e)) {
        fail_error(c, 500, e);
        return;
    }
    if (!aliases_update(c->inst, &e)) {
        log_error("api: list %s removed, but the alias map was not written: %s", list, e->message);
        g_clear_error(&e);
    }
    c->resp->status = 204;
}

static void
settings_patch(ApiCtx *c, const char *list)
{
    const char *if_match = g_hash_table_lookup(c->req->headers, "if-match");
    GList *names, *l;
    GPtrArray *values = g_ptr_array_new_with_free_func(g_free);
    GError *e = NULL;
    gboolean ok = TRUE;

    if (if_match) {
        char *etag = settings_etag(c, list);
        char *want = g_strstrip(g_strdup(if_match));
        gboolean same = g_str_equal(want, "*") || g_str_equal(want, etag);
        g_free(etag);
        g_free(want);
        if (!same) {
            fail(c, 412, "the settings changed since they were read (If-Match)");
            g_ptr_array_unref(values);
            return;
        }
    }
    names = json_object_get_members(c->body);
    names = g_list_sort(names, (GCompareFunc) g_strcmp0);
    /* every key and value first: one bad one changes nothing */
    for (l = names; l && ok; l = l->next) {
        const char *key = l->data;
        char *text, *why = NULL, *norm;
        if (!setting_find(key)) {
            fail(c, 422, "unknown setting \"%s\"", key);
            ok = FALSE;
            break;
        }
        text = setting_text(json_object_get_member(c->body, key));
        if (!text) {
            fail(c, 422, "%s: the value must be a string, an integer, true/false or a list of strings", key);
            ok = FALSE;
            break;
        }
        norm = setting_validate(key, text, &why);
        if (!norm) {
            if (why && g_str_has_prefix(why, key))
                fail(c, 422, "%s", why);
            else
                fail(c, 422, "%s: %s", key, why ? why : "invalid value");
            ok = FALSE;
        }
        g_free(why);
        g_free(norm);
        g_ptr_array_add(values, text);
    }
    if (ok && db_begin_immediate(c->inst->db, &e)) {
        guint i = 0;
        for (l = names; l && ok; l = l->next, i++)
            ok = list_setting_set(c->inst, list, l->data, values->pdata[i], &e);
        if (ok)
            ok = db_commit(c->inst->db, &e);
        if (!ok) {
            db_rollback(c->inst->db);
            fail_error(c, 422, e);
        } else {
            for (l = names; l; l = l->next)
                log_info("%s: setting %s changed by API token %" G_GINT64_FORMAT, list, (const char *) l->data,
                         c->tok->id);
            reply_list(c, 200, list);
        }
    } else if (ok) {
        fail_error(c, 503, e);
    }
    g_list_free(names);
    g_ptr_array_unref(values);
}

static void
members_get(ApiCtx *c, const char *list)
{
    gint64 offset, limit, total = 0;
    const char *q = params_get(c->req->params, "q");
    GPtrArray *page;
    JsonBuilder *b;

    if (!query_int(c, "offset", 0, 0, G_MAXINT32, &offset) ||
        !query_int(c, "limit", API_PAGE_DEFAULT, 1, API_PAGE_MAX, &limit))
        return;
    page = member_page(c->inst, list, q, offset, limit, &total);
    b = json_builder_new();
    json_builder_begin_object(b);
    add_int(b, "total", total);
    add_int(b, "offset", offset);
    add_int(b, "limit", limit);
    json_builder_set_member_name(b, "members");
    json_builder_begin_array(b);
    for (guint i = 0; i < page->len; i++)
        build_member(b, page->pdata[i]);
    json_builder_end_array(b);
    json_builder_end_object(b);
    g_ptr_array_unref(page);
    reply(c, 200, b);
}

static void
members_post(ApiCtx *c, const char *list)
{
    static const char *const keys[] = { "address", "name", "confirm", NULL };
    gboolean bad = FALSE, confirm = FALSE;
    const char *address, *name, *why = NULL;
    JsonNode *cn;
    char *addr = NULL, *msg = NULL;
    GError *e = NULL;

    if (!body_check(c, keys))
        return;
    address = body_string(c, "address", &bad);
    name = bad ? NULL : body_string(c, "name", &bad);
    if (bad)
        return;
    cn = json_object_get_member(c->body, "confirm");
    if (cn && !JSON_NODE_HOLDS_NULL(cn)) {
        if (!JSON_NODE_HOLDS_VALUE(cn) || json_node_get_value_type(cn) != G_TYPE_BOOLEAN) {
            fail(c, 422, "\"confirm\" must be true or false");
            return;
        }
        confirm = json_node_get_boolean(cn);
    }
    if (!address) {
        fail(c, 422, "\"address\" is required");
        return;
    }
    if (!(addr = address_normalize(address, &why))) {
        fail(c, 422, "address: %s", why);
        return;
    }
    if (name && (strlen(name) > 200 || strpbrk(name, "\r\n") || !g_utf8_validate(name, -1, NULL))) {
        fail(c, 422, "name: one line of at most 200 bytes");
        goto out;
    }
    if (member_is(c->inst, list, addr)) {
        fail(c, 409, "%s is already a member of %s", addr, list);
        goto out;
    }
    if (confirm) {
        SubResult r = subscription_invite(c->inst, list, addr, name && *name ? name : NULL, &msg, &e);
        if (r == SUB_CONFIRM_SENT) {
            JsonBuilder *b = json_builder_new();
            log_info("%s: <%s> invited by API token %" G_GINT64_FORMAT, list, addr, c->tok->id);
            json_builder_begin_object(b);
            add_str(b, "address", addr);
            add_str(b, "status", "confirmation mailed");
            json_builder_end_object(b);
            reply(c, 202, b);
        } else if (r == SUB_ALREADY) {
            fail(c, 409, "%s is already a member of %s", addr, list);
        } else if (e) {
            fail_error(c, 422, e);
        } else {
            fail(c, 422, "%s", msg ? msg : "refused");
        }
        goto out;
    }
    if (!member_add(c->inst, list, addr, name && *name ? name : NULL, FALSE, NULL, &e)) {
        fail_error(c, 422, e);
        goto out;
    }
    log_info("%s: <%s> added by API token %" G_GINT64_FORMAT, list, addr, c->tok->id);
    {
        Member *m = member_get(c->inst, list, addr);
        JsonBuilder *b = json_builder_new();
        char *esc = url_encode(addr);
        char *loc = g_strdup_printf("%s/api/v1/lists/%s/members/%s", c->req->base, list, esc);
        web_response_header(c->resp, "Location", loc);
        build_member(b, m);
        reply(c, 201, b);
        member_free(m);
        g_free(esc);
        g_free(loc);
    }
out:
    g_free(addr);
    g_free(msg);
}

static void member_patch(ApiCtx *c, const char *list, const char *addr);

static void
member_one(ApiCtx *c, const char *list, const char *address)
{
    const char *why = NULL;
    char *addr = address_normalize(address, &why);
    GError *e = NULL;

    if (!addr) {
        fail(c, 404, "%s is not a member of %s", address, list);
        return;
    }
    if (g_str_equal(c->req->method, "PATCH")) {
        member_patch(c, list, addr);
    } else if (g_str_equal(c->req->method, "GET")) {
        Member *m = member_get(c->inst, list, addr);
        if (!m) {
            fail(c, 404, "%s is not a member of %s", addr, list);
        } else {
            JsonBuilder *b = json_builder_new();
            build_member(b, m);
            reply(c, 200, b);
            member_free(m);
        }
    } else if (!member_remove(c->inst, list, addr, &e)) {
        fail_error(c, 500, e);
    } else {
        log_info("%s: <%s> removed by API token %" G_GINT64_FORMAT, list, addr, c->tok->id);
        c->resp->status = 204;
    }
    g_free(addr);
}

/* member_patch - PATCH /lists/LIST/members/ADDRESS {"OPTION": value}:
 * booleans for the on|off options, "YYYY-MM-DD" or null for
 * vacation_until; every key and value is checked before one changes. */
static void
member_patch(ApiCtx *c, const char *list, const char *addr)
{
    GList *names = json_object_get_members(c->body), *l;
    GPtrArray *values = g_ptr_array_new_with_free_func(g_free);
    GError *e = NULL;
    gboolean ok = TRUE;

    names = g_list_sort(names, (GCompareFunc) g_strcmp0);
    if (!member_is(c->inst, list, addr)) {
        fail(c, 404, "%s is not a member of %s", addr, list);
        ok = FALSE;
    } else if (!names) {
        fail(c, 422, "give at least one option");
        ok = FALSE;
    }
    for (l = names; l && ok; l = l->next) {
        const char *key = l->data;
        const MemberOptDef *def = memberopts_find(key);
        JsonNode *n = json_object_get_member(c->body, key);
        char *text = NULL, *norm;
        if (!def || !g_str_equal(def->api_name, key)) {
            size_t count = 0;
            const MemberOptDef *t = memberopts_table(&count);
            GString *valid = g_string_new(NULL);
            for (size_t i = 0; i < count; i++)
                g_string_append_printf(valid, "%s%s", i ? ", " : "", t[i].api_name);
            fail(c, 422, "unknown member option \"%s\"; valid options: %s", key, valid->str);
            g_string_free(valid, TRUE);
            ok = FALSE;
            break;
        }
        if (def->type == MEMBEROPT_BOOL && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN)
            text = g_strdup(json_node_get_boolean(n) ? "on" : "off");
        else if (def->type == MEMBEROPT_DATE && JSON_NODE_HOLDS_NULL(n))
            text = g_strdup("off");
        else if (def->type == MEMBEROPT_DATE && JSON_NODE_HOLDS_VALUE(n) &&
                 json_node_get_value_type(n) == G_TYPE_STRING)
            text = g_strdup(json_node_get_string(n));
        if (!text) {
            fail(c, 422, "%s: the value must be %s", key,
                 def->type == MEMBEROPT_BOOL ? "true or false" : "a date \"YYYY-MM-DD\" or null");
            ok = FALSE;
            break;
        }
        norm = memberopts_normalize(def, text, &e);
        g_free(text);
        if (!norm) {
            fail(c, 422, "%s", e->message);
            g_clear_error(&e);
            ok = FALSE;
            break;
        }
        g_ptr_array_add(values, norm);
    }
    if (ok && db_begin_immediate(c->inst->db, &e)) {
        guint i = 0;
        for (l = names; l && ok; l = l->next, i++)
            ok = memberopts_set(c->inst, list, addr, l->data, values->pdata[i], &e);
        if (ok)
            ok = db_commit(c->inst->db, &e);
        if (!ok) {
            db_rollback(c->inst->db);
            fail_error(c, 422, e);
        } else {
            Member *m = member_get(c->inst, list, addr);
            JsonBuilder *b = json_builder_new();
            for (l = names; l; l = l->next)
                log_info("%s: option %s of <%s> changed by API token %" G_GINT64_FORMAT, list,
                         (const char *) l->data, addr, c->tok->id);
            build_member(b, m);
            reply(c, 200, b);
            member_free(m);
        }
    } else if (ok) {
        fail_error(c, 503, e);
    }
    g_list_free(names);
    g_ptr_array_unref(values);
}

static void
held_get(ApiCtx *c, const char *list)
{
    sqlite3_stmt *st = db_prepare(c->inst->db, "SELECT id, created, sender, subject, reason FROM held"
                                               " WHERE list = ? ORDER BY created, id");
    JsonBuilder *b = json_builder_new();
    sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
    json_builder_begin_array(b);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_builder_begin_object(b);
        add_str(b, "id", (const char *) sqlite3_column_text(st, 0));
        add_str(b, "from", (const char *) sqlite3_column_text(st, 2));
        add_str(b, "subject", (const char *) sqlite3_column_text(st, 3));
        add_str(b, "reason", (const char *) sqlite3_column_text(st, 4));
        add_time(b, "received", sqlite3_column_int64(st, 1));
        json_builder_end_object(b);
    }
    sqlite3_finalize(st);
    json_builder_end_array(b);
    reply(c, 200, b);
}

static void
held_post(ApiCtx *c, const char *list, const char *id)
{
    static const char *const keys[] = { "action", "reason", NULL };
    gboolean bad = FALSE, ok;
    const char *action, *reason;
    gint64 num = 0;
    GError *e = NULL;

    if (!body_check(c, keys))
        return;
    action = body_string(c, "action", &bad);
    reason = bad ? NULL : body_string(c, "reason", &bad);
    if (bad)
        return;
    if (!action || !(g_str_equal(action, "approve") || g_str_equal(action, "reject") || g_str_equal(action, "discard"))) {
        fail(c, 422, "\"action\" must be \"approve\", \"reject\" or \"discard\"");
        return;
    }
    if (!str_is_safe_name(id, FALSE)) {
        fail(c, 404, "no held post %s in %s", id, list);
        return;
    }
    if (g_str_equal(action, "approve"))
        ok = held_approve(c->inst, list, id, &num, &e);
    else
        ok = held_reject(c->inst, list, id, reason && *reason ? reason : NULL, g_str_equal(action, "reject"), &e);
    if (!ok) {
        fail_error(c, 422, e);
        return;
    }
    log_info("%s: held post %s: %s by API token %" G_GINT64_FORMAT, list, id, action, c->tok->id);
    {
        JsonBuilder *b = json_builder_new();
        json_builder_begin_object(b);
        add_str(b, "id", id);
        add_str(b, "action", action);
        if (num > 0)
            add_int(b, "number", num);
        json_builder_end_object(b);
        reply(c, 200, b);
    }
}

static void
api_archive_get(ApiCtx *c, const char *list)
{
    gint64 since, limit;
    GPtrArray *rows;
    JsonBuilder *b;

    if (!query_int(c, "since", 0, 0, G_MAXINT64, &since) ||
        !query_int(c, "limit", 100, 1, API_PAGE_MAX, &limit))
        return;
    rows = archive_list_after(c->inst, list, since, limit);
    b = json_builder_new();
    json_builder_begin_array(b);
    for (guint i = 0; i < rows->len; i++) {
        ArchivePost *p = rows->pdata[i];
        json_builder_begin_object(b);
        add_int(b, "number", p->num);
        add_str(b, "subject", p->subject);
        add_str(b, "from", p->from_addr);
        add_time(b, "date", p->date);
        add_str(b, "message_id", p->message_id);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    g_ptr_array_unref(rows);
    reply(c, 200, b);
}

static void
archive_one(ApiCtx *c, const char *list, const char *n)
{
    char *end = NULL, *data = NULL;
    gint64 num = g_ascii_strtoll(n, &end, 10);
    gsize len = 0;
    if (!g_ascii_isdigit(*n) || *end || num <= 0 || !archive_read(c->inst, list, num, &data, &len)) {
        fail(c, 404, "no post %s in the archive of %s", n, list);
        return;
    }
    g_byte_array_set_size(c->resp->body, 0);
    g_byte_array_append(c->resp->body, (const guint8 *) data, (guint) len);
    web_response_header(c->resp, "Content-Type", "message/rfc822");
    g_free(data);
}

static void
openapi(ApiCtx *c)
{
    char *path = g_build_filename(kairan_template_dir(), "web", "openapi.json", NULL);
    char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, NULL)) {
        fail(c, 500, "openapi.json is missing from the templates");
    } else {
        g_byte_array_append(c->resp->body, (const guint8 *) data, (guint) len);
        web_response_header(c->resp, "Content-Type", "application/json; charset=utf-8");
    }
    g_free(data);
    g_free(path);
}

/* settings_describe - GET /api/v1/settings: every per-list key with its
 * section, title, help, type, valid values and default, in the order of
 * the settings page (section by section). */
static void
settings_describe(ApiCtx *c)
{
    static const char *const types[] = {
        [SETTING_ENUM] = "enum", [SETTING_UINT] = "integer", [SETTING_DURATION] = "duration",
        [SETTING_STRING] = "string", [SETTING_TEXT] = "text", [SETTING_PATTERNS] = "patterns",
        [SETTING_TAG] = "tag", [SETTING_ADDRLIST] = "addresses", [SETTING_TYPELIST] = "mime-types",
        [SETTING_BOOL] = "boolean", [SETTING_HEADERRULES] = "header-rules",
    };
    const char *const *sections = settings_sections();
    size_t n = 0;
    const SettingDef *defs = settings_table(&n);
    JsonBuilder *b = json_builder_new();
    json_builder_begin_array(b);
    for (int k = 0; sections[k]; k++) {
        for (size_t i = 0; i < n; i++) {
            const SettingDef *d = &defs[i];
            if (!g_str_equal(setting_section(d), sections[k]))
                continue;
            json_builder_begin_object(b);
            add_str(b, "key", d->key);
            add_str(b, "section", sections[k]);
            add_str(b, "title", setting_title(d));
            add_str(b, "help", d->help);
            add_str(b, "type", (size_t) d->type < G_N_ELEMENTS(types) && types[d->type] ? types[d->type] : "string");
            if (d->type == SETTING_ENUM || d->type == SETTING_BOOL)
                add_str(b, "values", d->type == SETTING_BOOL ? "yes|no" : d->values);
            add_str(b, "default", d->dflt);
            json_builder_end_object(b);
        }
    }
    json_builder_end_array(b);
    reply(c, 200, b);
}

/* ---- routing ---- */

static gboolean
method_is(ApiCtx *c, const char *m)
{
    return g_str_equal(c->req->method, m);
}

/* resolve_list - NAME or NAME@DOMAIN -> the list's id (domains.h),
 * checked against the token's scope (403) and existence (404). */
static char *
resolve_list(ApiCtx *c, const char *arg)
{
    char *name = list_resolve(c->inst, arg, NULL);

    if (c->tok->list && (!name || !g_str_equal(c->tok->list, name))) {
        fail(c, 403, "this token manages the list %s only", c->tok->list);
        g_free(name);
        return NULL;
    }
    if (!name) {
        fail(c, 404, "there is no list %s", arg);
        return NULL;
    }
    return name;
}

static gboolean
needs_body(ApiCtx *c)
{
    return method_is(c, "POST") || method_is(c, "PATCH");
}

/* read_body - the JSON object of a POST or PATCH; FALSE when answered. */
static gboolean
read_body(ApiCtx *c)
{
    const char *ct = g_hash_table_lookup(c->req->headers, "content-type");
    GError *e = NULL;
    JsonNode *root;
    char *type = NULL;

    if (ct) {
        const char *semi = strchr(ct, ';');
        type = g_strstrip(g_ascii_strdown(ct, semi ? semi - ct : -1));
    }
    if (!type || !g_str_equal(type, "application/json")) {
        fail(c, 415, "the body must be application/json");
        g_free(type);
        return FALSE;
    }
    g_free(type);
    if (c->req->body->len > api_max_body(c->inst)) {
        fail(c, 413, "the body is larger than %" G_GSIZE_FORMAT " bytes", api_max_body(c->inst));
        return FALSE;
    }
    if (c->req->body->len == 0) {
        fail(c, 400, "a JSON object is required");
        return FALSE;
    }
    if (memchr(c->req->body->data, '\0', c->req->body->len) ||
        !g_utf8_validate((const char *) c->req->body->data, c->req->body->len, NULL)) {
        fail(c, 400, "malformed JSON: the body is not UTF-8 text");
        return FALSE;
    }
    c->parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(c->parser, (const char *) c->req->body->data, c->req->body->len, &e)) {
        fail(c, 400, "malformed JSON: %s", e->message);
        g_error_free(e);
        return FALSE;
    }
    root = json_parser_get_root(c->parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        fail(c, 400, "the body must be a JSON object");
        return FALSE;
    }
    c->body = json_node_get_object(root);
    return TRUE;
}

static void
route_list(ApiCtx *c, const char *list)
{
    char **s = c->seg;
    int n = c->nseg;

    if (n == 2) {
        if (method_is(c, "GET"))
            reply_list(c, 200, list);
        else if (method_is(c, "DELETE"))
            list_delete(c, list);
        else
            not_allowed(c, "GET, DELETE");
        return;
    }
    if (n == 3 && g_str_equal(s[2], "settings")) {
        if (method_is(c, "GET"))
            reply_list(c, 200, list);
        else if (method_is(c, "PATCH"))
            settings_patch(c, list);
        else
            not_allowed(c, "GET, PATCH");
        return;
    }
    if (n == 3 && g_str_equal(s[2], "members")) {
        if (method_is(c, "GET"))
            members_get(c, list);
        else if (method_is(c, "POST"))
            members_post(c, list);
        else
            not_allowed(c, "GET, POST");
        return;
    }
    if (n == 4 && g_str_equal(s[2], "members")) {
        if (method_is(c, "GET") || method_is(c, "DELETE") || method_is(c, "PATCH"))
            member_one(c, list, s[3]);
        else
            not_allowed(c, "GET, PATCH, DELETE");
        return;
    }
    if (n == 3 && g_str_equal(s[2], "held")) {
        if (method_is(c, "GET"))
            held_get(c, list);
        else
            not_allowed(c, "GET");
        return;
    }
    if (n == 4 && g_str_equal(s[2], "held")) {
        if (method_is(c, "POST"))
            held_post(c, list, s[3]);
        else
            not_allowed(c, "POST");
        return;
    }
    if (n == 3 && g_str_equal(s[2], "archive")) {
        if (method_is(c, "GET"))
            api_archive_get(c, list);
        else
            not_allowed(c, "GET");
        return;
    }
    if (n == 4 && g_str_equal(s[2], "archive")) {
        if (method_is(c, "GET"))
            archive_one(c, list, s[3]);
        else
            not_allowed(c, "GET");
        return;
    }
    fail(c, 404, "no such endpoint");
}

/* authorise - the token of the Authorization header, rate-limited. */
static gboolean
authorise(ApiCtx *c)
{
    const char *h = g_hash_table_lookup(c->req->headers, "authorization");
    gboolean revoked = FALSE;
    char *key;

    if (!h || g_ascii_strncasecmp(h, "Bearer ", 7) != 0) {
        fail(c, 401, "send Authorization: Bearer TOKEN (kairan api-token new)");
        web_response_header(c->resp, "WWW-Authenticate", "Bearer realm=\"kairan\"");
        return FALSE;
    }
    h += 7;
    while (*h == ' ')
        h++;
    c->tok = apitoken_check(c->inst, h, &revoked);
    if (!c->tok) {
        fail(c, 401, revoked ? "this token was revoked" : "unknown token");
        web_response_header(c->resp, "WWW-Authenticate", "Bearer realm=\"kairan\", error=\"invalid_token\"");
        return FALSE;
    }
    key = g_strdup_printf("%" G_GINT64_FORMAT, c->tok->id);
    if (ratelimit_take_window(c->inst, "api", key, instance_global_int(c->inst, "api_rate_limit"),
                              API_RATE_WINDOW) != RATE_OK) {
        fail(c, 429, "too many requests with this token: at most %" G_GINT64_FORMAT " a minute",
             instance_global_int(c->inst, "api_rate_limit"));
        web_response_header(c->resp, "Retry-After", "60");
        g_free(key);
        return FALSE;
    }
    g_free(key);
    return TRUE;
}

static void
route(ApiCtx *c, char **all, int nall)
{
    char *list;

    if (nall < 2 || !g_str_equal(all[0], "api") || !g_str_equal(all[1], "v1")) {
        fail(c, 404, "no such endpoint (the API is under /api/v1/)");
        return;
    }
    c->seg = all + 2;
    c->nseg = nall - 2;
    if (c->nseg == 1 && g_str_equal(c->seg[0], "openapi.json")) {
        if (method_is(c, "GET"))
            openapi(c);
        else
            not_allowed(c, "GET");
        return;
    }
    if (!authorise(c))
        return;
    if (c->nseg == 1 && g_str_equal(c->seg[0], "settings")) {
        if (method_is(c, "GET"))
            settings_describe(c);
        else
            not_allowed(c, "GET");
        return;
    }
    if (c->nseg == 0 || !g_str_equal(c->seg[0], "lists")) {
        fail(c, 404, "no such endpoint");
        return;
    }
    if (c->nseg == 1) {
        if (method_is(c, "GET")) {
            lists_get(c);
        } else if (method_is(c, "POST")) {
            if (read_body(c))
                lists_post(c);
        } else {
            not_allowed(c, "GET, POST");
        }
        return;
    }
    if (c->nseg > 4) {
        fail(c, 404, "no such endpoint");
        return;
    }
    list = resolve_list(c, c->seg[1]);
    if (!list)
        return;
    if (needs_body(c) && !read_body(c)) {
        g_free(list);
        return;
    }
    route_list(c, list);
    g_free(list);
}

WebResponse *
api_handle(Instance *inst, WebRequest *req)
{
    ApiCtx c = { 0 };
    gboolean head = g_str_equal(req->method, "HEAD");
    const char *m = req->method;
    char **seg = NULL;

    c.inst = inst;
    c.req = req;
    c.resp = web_response_new();
    if (!req->params)
        req->params = params_new();
    if (head) {
        g_free(req->method);
        req->method = g_strdup("GET");
        m = req->method;
    }
    if (!inst) {
        fail(&c, 503, "the instance cannot be opened");
    } else if (!(g_str_equal(m, "GET") || g_str_equal(m, "POST") || g_str_equal(m, "PATCH") ||
                 g_str_equal(m, "DELETE"))) {
        not_allowed(&c, "GET, HEAD, POST, PATCH, DELETE");
    } else if (req->query && !form_parse_urlencoded(req->params, req->query, strlen(req->query))) {
        fail(&c, 400, "the query string is malformed");
    } else if (!(seg = path_split(req->path))) {
        fail(&c, 404, "no such endpoint");
    } else {
        route(&c, seg, (int) g_strv_length(seg));
    }
    web_response_header(c.resp, "Cache-Control", "no-store");
    web_response_header(c.resp, "X-Content-Type-Options", "nosniff");
    if (c.resp->status == 204)
        g_byte_array_set_size(c.resp->body, 0);
    if (inst) {
        if (c.tok)
            log_info("api: token %" G_GINT64_FORMAT " %s %s -> %d", c.tok->id, req->method, req->path, c.resp->status);
        else
            log_info("api: (no valid token) %s %s from %s -> %d", req->method, req->path,
                     req->remote_addr ? req->remote_addr : "?", c.resp->status);
    }
    if (head)
        g_byte_array_set_size(c.resp->body, 0);
    g_strfreev(seg);
    apitoken_free(c.tok);
    if (c.parser)
        g_object_unref(c.parser);
    return c.resp;
}
