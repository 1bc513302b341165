/* search.c - SEARCH and UID SEARCH (RFC 3501 section 6.4.4, with the
 * ESEARCH answer of RFC 4731 when RETURN is given), SORT and THREAD=
 * REFERENCES (RFC 5256) over the archive a member sees.
 *
 * Keys: ALL, sequence and UID sets, SUBJECT (the decoded subject), FROM,
 * TO, CC, BCC, HEADER (decoded header text), TEXT and BODY (the
 * archive's FTS5 trigram index, lib/archive_search.c: every word of the
 * string must occur, Japanese included, case-blind), SINCE/BEFORE/ON and
 * SENTSINCE/SENTBEFORE/SENTON (the post's Date:, UTC days), LARGER,
 * SMALLER, the flags (SEEN, UNSEEN, FLAGGED, ..., KEYWORD), NEW, OLD,
 * RECENT, NOT, OR and parenthesised groups.  CHARSET is UTF-8 or
 * US-ASCII; others answer NO [BADCHARSET].
 *
 * THREAD uses lib/archive.c's threads (In-Reply-To, else the last known
 * References entry), restricted to the posts the search found: a post
 * left out passes its replies up to its own parent. */
#include "config.h"
#include "imap.h"
#include "archive.h"

#include <gmime/gmime.h>
#include <string.h>

typedef enum {
    K_ALL, K_SET, K_UIDSET, K_AND, K_OR, K_NOT, K_FLAG, K_NOFLAG, K_SUBJECT, K_HEADER, K_TEXT,
    K_SINCE, K_BEFORE, K_ON, K_LARGER, K_SMALLER, K_NONE
} KeyKind;

typedef struct Key {
    KeyKind kind;
    GArray *set;
    GPtrArray *kids;            /* K_AND, K_OR, K_NOT */
    char *header;               /* K_HEADER: the field name */
    char *value;                /* casefolded search text, flag name */
    GHashTable *hits;           /* K_TEXT: the numbers FTS found */
    gint64 n;                   /* date (day start) or size */
} Key;

static void
key_free(gpointer data)
{
    Key *k = data;
    if (!k)
        return;
    if (k->set)
        g_array_free(k->set, TRUE);
    if (k->kids)
        g_ptr_array_free(k->kids, TRUE);
    if (k->hits)
        g_hash_table_destroy(k->hits);
    g_free(k->header);
    g_free(k->value);
    g_free(k);
}

static Key *
key_new(KeyKind kind)
{
    Key *k = g_new0(Key, 1);
    k->kind = kind;
    return k;
}

typedef struct {
    Instance *inst;
    ImapMailbox *mb;
    const GPtrArray *args;
    guint pos;
    const char *why;
} Parser;

static const ImapArg *
next(Parser *p)
{
    return p->pos < p->args->len ? p->args->pdata[p->pos++] : NULL;
}

static const char *
next_string(Parser *p)
{
    const char *s = imap_arg_string(next(p));
    if (!s)
        p->why = "a search key wants a string";
    return s;
}

/* parse_date - 1-Feb-1994 -> that day's start (UTC); -1 if malformed. */
static gint64
parse_date(const char *s)
{
    static const char *const mon[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
                                       "aug", "sep", "oct", "nov", "dec" };
    int day, year, m = -1;
    char name[4] = "";
    GDateTime *dt;
    gint64 t;

    if (!s || sscanf(s, "%2d-%3c-%4d", &day, name, &year) != 3)
        return -1;
    for (int i = 0; i < 12; i++)
        if (g_ascii_strncasecmp(name, mon[i], 3) == 0)
            m = i + 1;
    if (m < 0 || day < 1 || day > 31 || year < 1900 || year > 9999)
        return -1;
    dt = g_date_time_new_utc(year, m, day, 0, 0, 0);
    if (!dt)
        return -1;
    t = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
    return t;
}

static Key *parse_key(Parser *p, int depth);

static GMutex index_lock;

int
imap_search_index(Instance *inst, const char *list, int max_posts)
{
    int n;
    g_mutex_lock(&index_lock);
    n = archive_search_update(inst, list, max_posts);
    g_mutex_unlock(&index_lock);
    return n;
}

static Key *
text_key(Parser *p, const char *s)
{
    Key *k = key_new(K_TEXT);
    GArray *nums;

    imap_search_index(p->inst, p->mb->list, G_MAXINT);
    nums = archive_search(p->inst, p->mb->list, s, G_MAXINT);
    k->hits = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    for (guint i = 0; nums && i < nums->len; i++) {
        gint64 *n = g_new(gint64, 1);
        *n = g_array_index(nums, gint64, i);
        g_hash_table_add(k->hits, n);
    }
    if (nums)
        g_array_free(nums, TRUE);
    return k;
}

static Key *
header_key(const char *field, const char *s)
{
    Key *k = key_new(K_HEADER);
    k->header = g_strdup(field);
    k->value = g_utf8_casefold(s, -1);
    return k;
}

static Key *
flag_key(gboolean set, const char *flag)
{
    Key *k = key_new(set ? K_FLAG : K_NOFLAG);
    k->value = g_strdup(flag);
    return k;
}

static Key *
parse_key(Parser *p, int depth)
{
    const ImapArg *a = next(p);
    static const struct { const char *name; gboolean set; const char *flag; } flags[] = {
        { "ANSWERED", TRUE, "\\Answered" }, { "UNANSWERED", FALSE, "\\Answered" },
        { "DELETED", TRUE, "\\Deleted" }, { "UNDELETED", FALSE, "\\Deleted" },
        { "DRAFT", TRUE, "\\Draft" }, { "UNDRAFT", FALSE, "\\Draft" },
        { "FLAGGED", TRUE, "\\Flagged" }, { "UNFLAGGED", FALSE, "\\Flagged" },
        { "SEEN", TRUE, "\\Seen" }, { "UNSEEN", FALSE, "\\Seen" },
        { "NEW", FALSE, "\\Seen" }, { "OLD", TRUE, NULL }, { "RECENT", FALSE, NULL },
    };
    static const struct { const char *name; const char *field; } headers[] = {
        { "FROM", "From" }, { "TO", "To" }, { "CC", "Cc" }, { "BCC", "Bcc" },
    };
    const char *s;
    Key *k;

    if (!a) {
        p->why = "a search key was expected";
        return NULL;
    }
    if (depth > 32) {
        p->why = "search keys nested too deep";
        return NULL;
    }
    if (a->type == IMAP_ARG_LIST) {
        Parser sub = { p->inst, p->mb, a->list, 0, NULL };
        k = key_new(K_AND);
        k->kids = g_ptr_array_new_with_free_func(key_free);
        if (a->list->len == 0) {
            p->why = "empty search key list";
            key_free(k);
            return NULL;
        }
        while (sub.pos < a->list->len) {
            Key *kid = parse_key(&sub, depth + 1);
            if (!kid) {
                p->why = sub.why;
                key_free(k);
                return NULL;
            }
            g_ptr_array_add(k->kids, kid);
        }
        return k;
    }
    if (a->type != IMAP_ARG_ATOM) {
        p->why = "a search key was expected";
        return NULL;
    }
    s = a->str;
    if (g_ascii_isdigit(*s) || *s == '*') {
        k = key_new(K_SET);
        if (!(k->set = imap_parse_set(s))) {
            p->why = "invalid sequence set";
            key_free(k);
            return NULL;
        }
        return k;
    }
    if (g_ascii_strcasecmp(s, "ALL") == 0)
        return key_new(K_ALL);
    for (guint i = 0; i < G_N_ELEMENTS(flags); i++)
        if (g_ascii_strcasecmp(s, flags[i].name) == 0)
            return flags[i].flag ? flag_key(flags[i].set, flags[i].flag) : key_new(flags[i].set ? K_ALL : K_NONE);
    for (guint i = 0; i < G_N_ELEMENTS(headers); i++)
        if (g_ascii_strcasecmp(s, headers[i].name) == 0) {
            const char *v = next_string(p);
            return v ? header_key(headers[i].field, v) : NULL;
        }
    if (g_ascii_strcasecmp(s, "KEYWORD") == 0 || g_ascii_strcasecmp(s, "UNKEYWORD") == 0) {
        const char *v = next_string(p);
        return v ? flag_key(s[0] == 'K' || s[0] == 'k', v) : NULL;
    }
    if (g_ascii_strcasecmp(s, "SUBJECT") == 0) {
        const char *v = next_string(p);
        if (!v)
            return NULL;
        k = key_new(K_SUBJECT);
        k->value = g_utf8_casefold(v, -1);
        return k;
    }
    if (g_ascii_strcasecmp(s, "HEADER") == 0) {
        const char *f = next_string(p), *v = f ? next_string(p) : NULL;
        return v ? header_key(f, v) : NULL;
    }
    if (g_ascii_strcasecmp(s, "TEXT") == 0 || g_ascii_strcasecmp(s, "BODY") == 0) {
        const char *v = next_string(p);
        return v ? text_key(p, v) : NULL;
    }
    if (g_ascii_strcasecmp(s, "LARGER") == 0 || g_ascii_strcasecmp(s, "SMALLER") == 0) {
        const char *v = next_string(p);
        char *end;
        guint64 n;
        if (!v || !g_ascii_isdigit(*v) || (n = g_ascii_strtoull(v, &end, 10), *end) || n > G_MAXINT64) {
            p->why = "LARGER and SMALLER want a number";
            return NULL;
        }
        k = key_new(g_ascii_strcasecmp(s, "LARGER") == 0 ? K_LARGER : K_SMALLER);
        k->n = (gint64) n;
        return k;
    }
    {
        const char *d = s;
        if (g_ascii_strncasecmp(d, "SENT", 4) == 0)
            d += 4;
        if (g_ascii_strcasecmp(d, "SINCE") == 0 || g_ascii_strcasecmp(d, "BEFORE") == 0 ||
            g_ascii_strcasecmp(d, "ON") == 0) {
            gint64 t = parse_date(next_string(p));
            if (t < 0) {
                p->why = "a date such as 1-Feb-2024 was expected";
                return NULL;
            }
            k = key_new(g_ascii_strcasecmp(d, "SINCE") == 0 ? K_SINCE
                        : g_ascii_strcasecmp(d, "BEFORE") == 0 ? K_BEFORE : K_ON);
            k->n = t;
            return k;
        }
    }
    if (g_ascii_strcasecmp(s, "NOT") == 0) {
        Key *kid = parse_key(p, depth + 1);
        if (!kid)
            return NULL;
        k = key_new(K_NOT);
        k->kids = g_ptr_array_new_with_free_func(key_free);
        g_ptr_array_add(k->kids, kid);
        return k;
    }
    if (g_ascii_strcasecmp(s, "OR") == 0) {
        Key *a1 = parse_key(p, depth + 1), *a2 = a1 ? parse_key(p, depth + 1) : NULL;
        if (!a2) {
            key_free(a1);
            return NULL;
        }
        k = key_new(K_OR);
        k->kids = g_ptr_array_new_with_free_func(key_free);
        g_ptr_array_add(k->kids, a1);
        g_ptr_array_add(k->kids, a2);
        return k;
    }
    if (g_ascii_strcasecmp(s, "UID") == 0) {
        const ImapArg *u = next(p);
        k = key_new(K_UIDSET);
        if (!u || u->type != IMAP_ARG_ATOM || !(k->set = imap_parse_set(u->str))) {
            p->why = "UID wants a set";
            key_free(k);
            return NULL;
        }
        return k;
    }
    p->why = "unknown search key";
    return NULL;
}

/* ---- evaluation ------------------------------------------------------ */

typedef struct {
    Instance *inst;
    ImapMailbox *mb;
    guint seq;
    gint64 num;
    ArchivePost *post;
    char *header;               /* the raw header of the file */
} Msg;

static ArchivePost *
msg_post(Msg *m)
{
    if (!m->post)
        m->post = archive_get(m->inst, m->mb->list, m->num);
    return m->post;
}

/* header_text - the decoded, unfolded values of every field named name. */
static char *
header_text(Msg *m, const char *name)
{
    GString *out = g_string_new(NULL);
    gsize nlen = strlen(name);
    const char *p;

    if (!m->header) {
        char *raw = NULL;
        gsize len = 0;
        if (archive_read(m->inst, m->mb->list, m->num, &raw, &len)) {
            char *end = g_strstr_len(raw, (gssize) len, "\n\n");
            char *end2 = g_strstr_len(raw, (gssize) len, "\r\n\r\n");
            gsize h = end ? (gsize) (end - raw) : len;
            if (end2 && (gsize) (end2 - raw) < h)
                h = (gsize) (end2 - raw);
            m->header = g_strndup(raw, h);
        } else
            m->header = g_strdup("");
        g_free(raw);
    }
    for (p = m->header; *p;) {
        const char *eol = strchr(p, '\n');
        const char *lineend = eol ? eol : p + strlen(p);
        if (g_ascii_strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            GString *v = g_string_new(NULL);
            const char *q = p + nlen + 1;
            char *dec;
            for (;;) {
                const char *e = strchr(q, '\n');
                const char *le = e ? e : q + strlen(q);
                g_string_append_len(v, q, le - q);
                if (!e || (e[1] != ' ' && e[1] != '\t'))
                    break;
                q = e + 1;
            }
            g_strdelimit(v->str, "\r", ' ');
            dec = g_mime_utils_header_decode_text(NULL, v->str);
            if (out->len)
                g_string_append_c(out, ' ');
            g_string_append(out, dec);
            g_free(dec);
            g_string_free(v, TRUE);
        }
        p = *lineend ? lineend + 1 : lineend;
    }
    return g_string_free(out, FALSE);
}

static gboolean
contains_folded(const char *text, const char *folded)
{
    char *t = g_utf8_make_valid(text ? text : "", -1), *f = g_utf8_casefold(t, -1);
    gboolean found = strstr(f, folded) != NULL;
    g_free(t);
    g_free(f);
    return found;
}

static gboolean
eval(Msg *m, const Key *k)
{
    guint64 max_seq = m->mb->uids->len;
    guint64 max_uid = max_seq ? (guint64) g_array_index(m->mb->uids, gint64, max_seq - 1) : 0;

    switch (k->kind) {
    case K_ALL:
        return TRUE;
    case K_NONE:
        return FALSE;
    case K_SET:
        return imap_set_contains(k->set, m->seq, max_seq);
    case K_UIDSET:
        return imap_set_contains(k->set, (guint64) m->num, max_uid);
    case K_AND:
        for (guint i = 0; i < k->kids->len; i++)
            if (!eval(m, k->kids->pdata[i]))
                return FALSE;
        return TRUE;
    case K_OR:
        return eval(m, k->kids->pdata[0]) || eval(m, k->kids->pdata[1]);
    case K_NOT:
        return !eval(m, k->kids->pdata[0]);
    case K_FLAG:
    case K_NOFLAG:
        return imap_flags_has(g_hash_table_lookup(m->mb->flags, &m->num), k->value) == (k->kind == K_FLAG);
    case K_SUBJECT:
        return msg_post(m) && contains_folded(m->post->subject, k->value);
    case K_HEADER: {
        char *v = header_text(m, k->header);
        gboolean ok = contains_folded(v, k->value);
        g_free(v);
        return ok;
    }
    case K_TEXT:
        return g_hash_table_contains(k->hits, &m->num);
    case K_SINCE:
        return msg_post(m) && m->post->date >= k->n;
    case K_BEFORE:
        return msg_post(m) && m->post->date < k->n;
    case K_ON:
        return msg_post(m) && m->post->date >= k->n && m->post->date < k->n + 86400;
    case K_LARGER:
        return msg_post(m) && m->post->size > k->n;
    case K_SMALLER:
        return msg_post(m) && m->post->size < k->n;
    }
    return FALSE;
}

static void
msg_clear(Msg *m)
{
    if (m->post)
        archive_post_free(m->post);
    g_free(m->header);
    m->post = NULL;
    m->header = NULL;
}

/* ---- SORT ------------------------------------------------------------ */

typedef struct {
    guint seq;
    gint64 num, date, size;
    char *subject, *from, *to, *cc;
} SortRow;

/* base_subject - RFC 5256 section 2.1, roughly: without leading Re:,
 * Fwd:, [blobs] and trailing (fwd), casefolded. */
static char *
base_subject(const char *s)
{
    char *t = g_strdup(s ? s : ""), *p, *out;
    gboolean changed = TRUE;

    g_strstrip(t);
    p = t;
    while (changed) {
        changed = FALSE;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '[') {
            char *close = strchr(p, ']');
            if (close) {
                p = close + 1;
                changed = TRUE;
                continue;
            }
        }
        if (g_ascii_strncasecmp(p, "re", 2) == 0 || g_ascii_strncasecmp(p, "fw", 2) == 0) {
            char *q = p + 2;
            if (g_ascii_strncasecmp(p, "fwd", 3) == 0)
                q = p + 3;
            if (*q == '[') {
                char *close = strchr(q, ']');
                if (close)
                    q = close + 1;
            }
            if (*q == ':') {
                p = q + 1;
                changed = TRUE;
            }
        }
    }
    out = g_utf8_casefold(p, -1);
    g_free(t);
    g_strstrip(out);
    return out;
}

static int
compare_rows(gconstpointer a, gconstpointer b, gpointer data)
{
    const SortRow *x = *(SortRow *const *) a, *y = *(SortRow *const *) b;
    const GPtrArray *sort_keys = data;

    for (guint i = 0; i < sort_keys->len; i++) {
        const char *key = sort_keys->pdata[i];
        gboolean reverse = g_str_has_prefix(key, "REVERSE ");
        int c = 0;
        if (reverse)
            key += 8;
        if (g_str_equal(key, "ARRIVAL"))
            c = (x->num > y->num) - (x->num < y->num);
        else if (g_str_equal(key, "DATE"))
            c = (x->date > y->date) - (x->date < y->date);
        else if (g_str_equal(key, "SIZE"))
            c = (x->size > y->size) - (x->size < y->size);
        else if (g_str_equal(key, "SUBJECT"))
            c = strcmp(x->subject, y->subject);
        else if (g_str_equal(key, "FROM"))
            c = strcmp(x->from, y->from);
        else if (g_str_equal(key, "TO"))
            c = strcmp(x->to, y->to);
        else if (g_str_equal(key, "CC"))
            c = strcmp(x->cc, y->cc);
        if (c)
            return reverse ? -c : c;
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void
row_free(gpointer data)
{
    SortRow *r = data;
    g_free(r->subject);
    g_free(r->from);
    g_free(r->to);
    g_free(r->cc);
    g_free(r);
}

/* parse_sort - (REVERSE DATE SUBJECT ...) -> "REVERSE DATE", "SUBJECT". */
static GPtrArray *
parse_sort(const ImapArg *a)
{
    static const char *const known[] = { "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO" };
    GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
    gboolean reverse = FALSE;

    if (!a || a->type != IMAP_ARG_LIST || a->list->len == 0)
        goto bad;
    for (guint i = 0; i < a->list->len; i++) {
        const ImapArg *k = a->list->pdata[i];
        gboolean ok = FALSE;
        if (imap_arg_is_atom(k, "REVERSE") && !reverse) {
            reverse = TRUE;
            continue;
        }
        for (guint j = 0; j < G_N_ELEMENTS(known) && !ok; j++)
            if (imap_arg_is_atom(k, known[j])) {
                g_ptr_array_add(keys, g_strconcat(reverse ? "REVERSE " : "", known[j], NULL));
                ok = TRUE;
            }
        if (!ok)
            goto bad;
        reverse = FALSE;
    }
    if (reverse)
        goto bad;
    return keys;
bad:
    g_ptr_array_free(keys, TRUE);
    return NULL;
}

/* ---- THREAD ---------------------------------------------------------- */

typedef struct Node {
    guint64 id;             /* sequence number or UID */
    GPtrArray *kids;        /* struct Node* */
} Node;

static void
node_free(gpointer data)
{
    Node *n = data;
    if (n->kids)
        g_ptr_array_free(n->kids, TRUE);
    g_free(n);
}

static void
node_append(GString *out, const Node *n)
{
    g_string_append_printf(out, "%" G_GUINT64_FORMAT, n->id);
    if (n->kids->len == 1) {
        g_string_append_c(out, ' ');
        node_append(out, n->kids->pdata[0]);
    } else if (n->kids->len > 1) {
        g_string_append_c(out, ' ');
        for (guint i = 0; i < n->kids->len; i++) {
            g_string_append_c(out, '(');
            node_append(out, n->kids->pdata[i]);
            g_string_append_c(out, ')');
        }
    }
}

static void
thread_answer(Instance *inst, ImapMailbox *mb, GHashTable *found, gboolean uid, GString *out)
{
    GArray *entries = archive_threads(inst, mb->list);
    GPtrArray *roots = g_ptr_array_new_with_free_func(node_free);
    /* stack[d] = the kept node that a post of depth d + 1 hangs from */
    GPtrArray *stack = g_ptr_array_new();

    for (guint i = 0; i < entries->len; i++) {
        ArchiveThreadEntry *e = &g_array_index(entries, ArchiveThreadEntry, i);
        guint *seq = g_hash_table_lookup(found, &e->post->num);
        Node *parent;
        if (e->depth == 0 || (guint) e->depth > stack->len)
            g_ptr_array_set_size(stack, e->depth == 0 ? 0 : stack->len);
        else
            g_ptr_array_set_size(stack, (guint) e->depth);
        parent = stack->len ? stack->pdata[stack->len - 1] : NULL;
        if (seq) {
            Node *n = g_new0(Node, 1);
            n->id = uid ? (guint64) e->post->num : *seq;
            n->kids = g_ptr_array_new_with_free_func(node_free);
            g_ptr_array_add(parent ? parent->kids : roots, n);
            parent = n;
        }
        g_ptr_array_add(stack, parent);
    }
    g_string_append(out, "* THREAD");
    if (roots->len)
        g_string_append_c(out, ' ');
    /* archive_threads gives the newest thread first; RFC 5256 wants the oldest */
    for (guint i = roots->len; i > 0; i--) {
        g_string_append_c(out, '(');
        node_append(out, roots->pdata[i - 1]);
        g_string_append_c(out, ')');
    }
    g_ptr_array_free(stack, TRUE);
    g_ptr_array_free(roots, TRUE);
    archive_threads_free(entries);
}

/* ---- the command ----------------------------------------------------- */

static gboolean
charset_ok(const char *cs)
{
    return cs && (g_ascii_strcasecmp(cs, "UTF-8") == 0 || g_ascii_strcasecmp(cs, "US-ASCII") == 0);
}

static void
append_set(GString *out, const GArray *ids)
{
    for (guint i = 0; i < ids->len;) {
        guint64 lo = g_array_index(ids, guint64, i), hi = lo;
        guint j = i + 1;
        while (j < ids->len && g_array_index(ids, guint64, j) == hi + 1)
            hi = g_array_index(ids, guint64, j++);
        if (i)
            g_string_append_c(out, ',');
        if (hi > lo)
            g_string_append_printf(out, "%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, lo, hi);
        else
            g_string_append_printf(out, "%" G_GUINT64_FORMAT, lo);
        i = j;
    }
}

gboolean
imap_search(Instance *inst, ImapMailbox *mb, NetConn *net, const char *what, gboolean uid,
            const GPtrArray *args, const char **why, gboolean *no)
{
    Parser p = { inst, mb, args, 0, NULL };
    GPtrArray *sort = NULL;
    Key *root;
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(guint64));
    GPtrArray *rows = NULL;
    GHashTable *found = NULL;
    GString *out = g_string_new(NULL);
    gboolean esearch = FALSE, r_min = FALSE, r_max = FALSE, r_count = FALSE, r_all = FALSE;
    gboolean ok = FALSE;

    *no = FALSE;
    if (g_str_equal(what, "SEARCH")) {
        const ImapArg *a = args->len ? args->pdata[0] : NULL;
        if (imap_arg_is_atom(a, "RETURN")) {
            const ImapArg *opts = args->len > 1 ? args->pdata[1] : NULL;
            p.pos = 2;
            esearch = TRUE;
            if (!opts || opts->type != IMAP_ARG_LIST) {
                *why = "RETURN wants a list";
                goto out;
            }
            for (guint i = 0; i < opts->list->len; i++) {
                const ImapArg *o = opts->list->pdata[i];
                if (imap_arg_is_atom(o, "MIN"))
                    r_min = TRUE;
                else if (imap_arg_is_atom(o, "MAX"))
                    r_max = TRUE;
                else if (imap_arg_is_atom(o, "COUNT"))
                    r_count = TRUE;
                else if (imap_arg_is_atom(o, "ALL"))
                    r_all = TRUE;
                else {
                    *why = "unknown RETURN option";
                    goto out;
                }
            }
            if (!r_min && !r_max && !r_count && !r_all)
                r_all = TRUE;
        }
        if (imap_arg_is_atom(p.pos < args->len ? args->pdata[p.pos] : NULL, "CHARSET")) {
            const char *cs = p.pos + 1 < args->len ? imap_arg_string(args->pdata[p.pos + 1]) : NULL;
            if (!cs) {
                *why = "CHARSET wants a name";
                goto out;
            }
            if (!charset_ok(cs)) {
                *why = "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset";
                *no = TRUE;
                goto out;
            }
            p.pos += 2;
        }
    } else {
        const ImapArg *a = args->len ? args->pdata[0] : NULL;
        const char *cs = args->len > 1 ? imap_arg_string(args->pdata[1]) : NULL;
        if (g_str_equal(what, "SORT")) {
            if (!(sort = parse_sort(a))) {
                *why = "SORT wants (criteria) charset keys";
                goto out;
            }
        } else if (!imap_arg_is_atom(a, "REFERENCES")) {
            *why = "THREAD supports REFERENCES only";
            goto out;
        }
        if (!cs) {
            *why = "a charset was expected";
            goto out;
        }
        if (!charset_ok(cs)) {
            *why = "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset";
            *no = TRUE;
            goto out;
        }
        p.pos = 2;
    }
    if (p.pos >= args->len) {
        *why = "search keys were expected";
        goto out;
    }
    root = key_new(K_AND);
    root->kids = g_ptr_array_new_with_free_func(key_free);
    while (p.pos < args->len) {
        Key *k = parse_key(&p, 0);
        if (!k) {
            *why = p.why ? p.why : "malformed search";
            key_free(root);
            goto out;
        }
        g_ptr_array_add(root->kids, k);
    }
    if (sort)
        rows = g_ptr_array_new_with_free_func(row_free);
    else if (!g_str_equal(what, "SEARCH"))
        found = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    for (guint k = 1; k <= mb->uids->len; k++) {
        Msg m = { inst, mb, k, g_array_index(mb->uids, gint64, k - 1), NULL, NULL };
        if (imap_mailbox_gone(mb, m.num))
            continue;           /* left the archive, EXPUNGE not sent yet */
        if (eval(&m, root)) {
            guint64 id = uid ? (guint64) m.num : k;
            if (rows) {
                SortRow *r = g_new0(SortRow, 1);
                char *v;
                r->seq = k;
                r->num = m.num;
                if (msg_post(&m)) {
                    r->date = m.post->date;
                    r->size = m.post->size;
                }
                r->subject = base_subject(m.post ? m.post->subject : "");
                r->from = g_utf8_casefold(m.post && m.post->from_addr ? m.post->from_addr : "", -1);
                v = header_text(&m, "To");
                r->to = g_utf8_casefold(v, -1);
                g_free(v);
                v = header_text(&m, "Cc");
                r->cc = g_utf8_casefold(v, -1);
                g_free(v);
                g_ptr_array_add(rows, r);
            } else if (found) {
                guint *seq = g_new(guint, 1);
                *seq = k;
                g_hash_table_insert(found, &g_array_index(mb->uids, gint64, k - 1), seq);
            } else
                g_array_append_val(ids, id);
        }
        msg_clear(&m);
    }
    key_free(root);
    if (rows) {
        g_ptr_array_sort_with_data(rows, compare_rows, sort);
        g_string_append(out, "* SORT");
        for (guint i = 0; i < rows->len; i++) {
            SortRow *r = rows->pdata[i];
            g_string_append_printf(out, " %" G_GUINT64_FORMAT, uid ? (guint64) r->num : r->seq);
        }
    } else if (found) {
        thread_answer(inst, mb, found, uid, out);
    } else if (esearch) {
        g_string_append_printf(out, "* ESEARCH%s", uid ? " UID" : "");
        if (r_min && ids->len)
            g_string_append_printf(out, " MIN %" G_GUINT64_FORMAT, g_array_index(ids, guint64, 0));
        if (r_max && ids->len)
            g_string_append_printf(out, " MAX %" G_GUINT64_FORMAT, g_array_index(ids, guint64, ids->len - 1));
        if (r_count)
            g_string_append_printf(out, " COUNT %u", ids->len);
        if (r_all && ids->len) {
            g_string_append(out, " ALL ");
            append_set(out, ids);
        }
    } else {
        g_string_append(out, "* SEARCH");
        for (guint i = 0; i < ids->len; i++)
            g_string_append_printf(out, " %" G_GUINT64_FORMAT, g_array_index(ids, guint64, i));
    }
    g_string_append(out, "\r\n");
    netconn_write(net, out->str, out->len);
    ok = TRUE;
out:
    g_string_free(out, TRUE);
    g_array_free(ids, TRUE);
    if (rows)
        g_ptr_array_free(rows, TRUE);
    if (found)
        g_hash_table_destroy(found);
    if (sort)
        g_ptr_array_free(sort, TRUE);
    return ok;
}
