/* japanese.c - Japanese mail as it is written, not as the RFCs hope
 * (japanese.h).  Shift_JIS and its aliases are decoded as CP932 (NEC row
 * 13, IBM extensions, the user-defined area that carries the carriers'
 * emoji as private-use code points); ISO-2022-JP as its common superset
 * (CP50220/ISO-2022-JP-MS): its JIS X 0208 bytes are turned into CP932
 * bytes by the JIS to Shift_JIS arithmetic and decoded by iconv's CP932,
 * JIS X 0201 katakana comes in ESC ( I or between SO and SI, and the rarer
 * designations (JIS X 0213, JIS X 0212) go to iconv's ISO-2022-JP-3 and
 * ISO-2022-JP-2.  All tables are iconv's; no byte is ever replaced by '?':
 * what cannot be decoded becomes U+FFFD.  The header encoder writes
 * ISO-2022-JP only when every character fits JIS X 0208, else UTF-8, in B
 * encoded words of at most 75 characters, folded at 78. */
#include "config.h"
#include "japanese.h"

#include <errno.h>
#include <gmime/gmime.h>
#include <iconv.h>
#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd"          /* U+FFFD in UTF-8 */

typedef enum { JP_NONE, JP_SJIS, JP_JIS, JP_EUC } JpFamily;

static JpFamily
family(const char *charset)
{
    static const char *sjis[] = { "shift_jis", "shift-jis", "x-sjis", "sjis", "windows-31j", "cp932",
                                  "ms932", "x-ms-cp932", "ms_kanji", "csshiftjis", "x-shift_jis",
                                  "sjis-win", "sjis-open", "ibm-943", "ibm943", NULL };
    static const char *jis[] = { "iso-2022-jp", "csiso2022jp", "iso-2022-jp-ms", "cp50220", "cp50221",
                                 "cp50222", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-3",
                                 "iso-2022-jp-2004", "x-windows-iso2022jp", "jis", NULL };
    static const char *euc[] = { "euc-jp", "x-euc-jp", "eucjp", "eucjp-ms", "euc-jp-ms", "cp51932",
                                 "eucjp-win", "eucjp-open", NULL };
    if (!charset)
        return JP_NONE;
    for (int i = 0; sjis[i]; i++)
        if (g_ascii_strcasecmp(charset, sjis[i]) == 0)
            return JP_SJIS;
    for (int i = 0; jis[i]; i++)
        if (g_ascii_strcasecmp(charset, jis[i]) == 0)
            return JP_JIS;
    for (int i = 0; euc[i]; i++)
        if (g_ascii_strcasecmp(charset, euc[i]) == 0)
            return JP_EUC;
    return JP_NONE;
}

gboolean
japanese_charset_is_japanese(const char *charset)
{
    return family(charset) != JP_NONE;
}

/* convert_lossy - len bytes in from_charset appended to out as UTF-8; an
 * undecodable byte becomes U+FFFD.  FALSE only when iconv lacks the
 * charset.  If strict, FALSE (and out unchanged) at the first error. */
static gboolean
convert_lossy(const char *from_charset, const char *in, gsize len, GString *out, gboolean strict)
{
    iconv_t cd = iconv_open("UTF-8", from_charset);
    gsize start_len = out->len;
    char buf[1024];

    if (cd == (iconv_t) -1)
        return FALSE;
    while (len > 0) {
        char *ip = (char *) in, *op = buf;
        size_t il = len, ol = sizeof buf;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        int err = errno;
        g_string_append_len(out, buf, op - buf);
        in = ip;
        len = il;
        if (r == (size_t) -1 && err != E2BIG) {
            if (strict) {
                g_string_truncate(out, start_len);
                iconv_close(cd);
                return FALSE;
            }
            g_string_append(out, REPLACEMENT);      /* EILSEQ or EINVAL: skip one byte */
            in++;
            len--;
            iconv(cd, NULL, NULL, NULL, NULL);
        }
    }
    {
        char *op = buf;
        size_t ol = sizeof buf;
        iconv(cd, NULL, NULL, &op, &ol);            /* a stateful charset's reset */
        g_string_append_len(out, buf, op - buf);
    }
    iconv_close(cd);
    return TRUE;
}

/* cp932_one - one CP932 character (n bytes) appended as UTF-8 through the
 * open converter cd; FALSE (out unchanged) when CP932 has none there. */
static gboolean
cp932_one(iconv_t cd, const char *bytes, gsize n, GString *out)
{
    char buf[16], *ip = (char *) bytes, *op = buf;
    size_t il = n, ol = sizeof buf;

    if (iconv(cd, &ip, &il, &op, &ol) == (size_t) -1 || op == buf) {
        iconv(cd, NULL, NULL, NULL, NULL);
        return FALSE;
    }
    g_string_append_len(out, buf, op - buf);
    return TRUE;
}

/* jis_char - one JIS X 0208 (or CP50220 extended) character c1 c2
 * (0x21..0x7e each) appended as UTF-8: the Shift_JIS bytes that the
 * arithmetic gives are decoded as CP932.  au phones write their emoji in
 * rows 0x75..0x7e, which CP932 leaves empty up to row 0x78: shifted by
 * eight Shift_JIS lead bytes they are au's Shift_JIS emoji, kept as the
 * private-use code points CP932 gives them. */
static void
jis_char(iconv_t cd, guint8 c1, guint8 c2, GString *out)
{
    guint row = c1 - 0x20;                  /* 1..94 */
    char sj[2];

    sj[0] = (char) (row <= 62 ? (row + 1) / 2 + 0x80 : (row + 1) / 2 + 0xc0);
    if (row & 1)
        sj[1] = (char) (c2 + (c2 < 0x60 ? 0x1f : 0x20));
    else
        sj[1] = (char) (c2 + 0x7e);
    if (cp932_one(cd, sj, 2, out))
        return;
    if (c1 >= 0x75) {
        sj[0] = (char) ((guint8) sj[0] + 8);
        if (cp932_one(cd, sj, 2, out))
            return;
    }
    g_string_append(out, REPLACEMENT);
}

/* other_set - bytes of a designation this file does not decode itself
 * (esc is the escape sequence, e.g. ESC $ ( Q) through iconv. */
static void
other_set(const char *esc, gsize esc_len, const char *bytes, gsize len, GString *out)
{
    GString *seg = g_string_new_len(esc, (gssize) esc_len);

    /* JIS X 0213 (ESC $ ( O, P, Q) is ISO-2022-JP-3's; JIS X 0212
     * (ESC $ ( D), GB 2312 and KS C 5601 are ISO-2022-JP-2's */
    const char *first = esc[esc_len - 1] == 'O' || esc[esc_len - 1] == 'P' || esc[esc_len - 1] == 'Q'
                      ? "ISO-2022-JP-3" : "ISO-2022-JP-2";
    const char *second = g_str_equal(first, "ISO-2022-JP-3") ? "ISO-2022-JP-2" : "ISO-2022-JP-3";
    gsize before = out->len;

    g_string_append_len(seg, bytes, (gssize) len);
    g_string_append(seg, "\x1b(B");
    if (!(convert_lossy(first, seg->str, seg->len, out, TRUE) && !memchr(out->str + before, 0x1b, out->len - before))) {
        g_string_truncate(out, before);
        if (!(convert_lossy(second, seg->str, seg->len, out, TRUE) && !memchr(out->str + before, 0x1b, out->len - before))) {
            g_string_truncate(out, before);
            for (gsize i = 0; i < len; i += 2)
                g_string_append(out, REPLACEMENT);
        }
    }
    g_string_free(seg, TRUE);
}

typedef enum { SET_ASCII, SET_KANJI, SET_KANA, SET_OTHER } JisSet;

/* jis_decode - ISO-2022-JP (in its CP50220 superset) appended as UTF-8. */
static void
jis_decode(const guint8 *in, gsize len, GString *out)
{
    JisSet set = SET_ASCII;
    gboolean shifted = FALSE;               /* between SO and SI */
    gsize i = 0, other_esc = 0, other_esc_len = 0;
    iconv_t cd = iconv_open("UTF-8", "CP932");   /* one converter for the whole text */

    if (cd == (iconv_t) -1) {               /* no CP932 in this iconv: plain ISO-2022-JP */
        convert_lossy("ISO-2022-JP", (const char *) in, len, out, FALSE);
        return;
    }

    while (i < len) {
        guint8 c = in[i];
        if (c == 0x1b) {
            gsize n = 0;                    /* length of the sequence */
            JisSet next = SET_OTHER;
            if (i + 2 < len && in[i + 1] == '$' && (in[i + 2] == 'B' || in[i + 2] == '@'))
                n = 3, next = SET_KANJI;
            else if (i + 2 < len && in[i + 1] == '(' && (in[i + 2] == 'B' || in[i + 2] == 'J' || in[i + 2] == 'H'))
                n = 3, next = SET_ASCII;
            else if (i + 2 < len && in[i + 1] == '(' && in[i + 2] == 'I')
                n = 3, next = SET_KANA;
            else if (i + 3 < len && in[i + 1] == '$' && in[i + 2] == '(' && in[i + 3] >= 0x40 && in[i + 3] < 0x7f)
                n = 4;                      /* JIS X 0208 again, 0212, 0213 */
            else if (i + 2 < len && in[i + 1] == '$' && in[i + 2] >= 0x40 && in[i + 2] < 0x7f)
                n = 3;                      /* ESC $ A (GB 2312) and the like */
            else if (i + 2 < len && in[i + 1] == '&' && in[i + 2] == '@')
                n = 3, next = set;          /* JIS X 0208-1990 announcer: ESC $ B follows */
            if (n == 0) {                   /* a lone ESC: kept, as Python does */
                g_string_append_c(out, 0x1b);
                i++;
                continue;
            }
            if (n == 4 && in[i + 3] == 'B')
                next = SET_KANJI;
            if (next == SET_OTHER) {
                other_esc = i;
                other_esc_len = n;
                i += n;
                gsize start = i;
                while (i < len && in[i] != 0x1b && in[i] != '\n' && in[i] != '\r')
                    i++;
                other_set((const char *) in + other_esc, other_esc_len, (const char *) in + start, i - start, out);
                set = SET_ASCII;
                continue;
            }
            set = next;
            i += n;
            continue;
        }
        if (c == 0x0e) {
            shifted = TRUE;
            i++;
            continue;
        }
        if (c == 0x0f) {
            shifted = FALSE;
            i++;
            continue;
        }
        if (c == '\n' || c == '\r') {       /* a line break ends every designation */
            g_string_append_c(out, (char) c);
            set = SET_ASCII;
            shifted = FALSE;
            i++;
            continue;
        }
        if (c >= 0xa1 && c <= 0xdf) {       /* 8-bit katakana, as some phones send */
            char k = (char) c;
            if (!cp932_one(cd, &k, 1, out))
                g_string_append(out, REPLACEMENT);
            i++;
            continue;
        }
        if (c >= 0x80) {
            g_string_append(out, REPLACEMENT);
            i++;
            continue;
        }
        if ((shifted || set == SET_KANA) && c >= 0x21 && c <= 0x5f) {
            char k = (char) (c + 0x80);
            if (!cp932_one(cd, &k, 1, out))
                g_string_append(out, REPLACEMENT);
            i++;
            continue;
        }
        if (set == SET_KANJI && !shifted && c >= 0x21 && c <= 0x7e) {
            if (i + 1 < len && in[i + 1] >= 0x21 && in[i + 1] <= 0x7e) {
                jis_char(cd, c, in[i + 1], out);
                i += 2;
            } else {
                g_string_append(out, REPLACEMENT);
                i++;
            }
            continue;
        }
        g_string_append_c(out, (char) c);
        i++;
    }
    iconv_close(cd);
}

char *
japanese_to_utf8(const char *charset, const char *bytes, gsize len)
{
    GString *out;

    switch (family(charset)) {
    case JP_SJIS:
        out = g_string_sized_new(len + len / 2);
        convert_lossy("CP932", bytes, len, out, FALSE);
        break;
    case JP_EUC:
        out = g_string_sized_new(len + len / 2);
        convert_lossy("EUC-JP-MS", bytes, len, out, FALSE);
        break;
    case JP_JIS:
        out = g_string_sized_new(len + len / 2);
        jis_decode((const guint8 *) bytes, len, out);
        break;
    default:
        return NULL;
    }
    if (!g_utf8_validate(out->str, (gssize) out->len, NULL)) {   /* a NUL, or a lone ESC mixed in */
        char *valid = g_utf8_make_valid(out->str, (gssize) out->len);
        g_string_free(out, TRUE);
        return valid;
    }
    return g_string_free(out, FALSE);
}

/* raw_text - unencoded header text as UTF-8: UTF-8 as it is, 7-bit
 * ISO-2022-JP (raw ESC sequences), else EUC-JP or Shift_JIS (CP932) when
 * the bytes are valid in it, else Latin-1. */
static void
raw_text(const char *s, gsize len, GString *out)
{
    if (memchr(s, 0x1b, len)) {
        jis_decode((const guint8 *) s, len, out);
        return;
    }
    if (g_utf8_validate(s, (gssize) len, NULL)) {
        g_string_append_len(out, s, (gssize) len);
        return;
    }
    /* EUC-JP first, as GMime's fallback list: its bytes are stricter, and
     * EUC-JP text would often pass as Shift_JIS mojibake */
    if (convert_lossy("EUC-JP-MS", s, len, out, TRUE) || convert_lossy("CP932", s, len, out, TRUE))
        return;
    convert_lossy("ISO-8859-1", s, len, out, FALSE);
}

/* encoded_word - the decoded octets of =?charset?X?text?= at s (NULL when
 * s starts no encoded word); *end after it, *charset allocated. */
static GByteArray *
encoded_word(const char *s, const char **end, char **charset)
{
    const char *q1, *q2, *q3;
    GByteArray *bytes;

    if (s[0] != '=' || s[1] != '?')
        return NULL;
    q1 = strchr(s + 2, '?');
    if (!q1 || q1 == s + 2 || !q1[1] || q1[2] != '?')
        return NULL;
    q2 = q1 + 2;
    q3 = strstr(q2 + 1, "?=");
    if (!q3)
        return NULL;
    for (const char *p = s + 2; p < q3; p++)
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            return NULL;
    *charset = g_strndup(s + 2, (gsize) (q1 - (s + 2)));
    {
        char *star = strchr(*charset, '*');         /* RFC 2231 language */
        if (star)
            *star = '\0';
    }
    bytes = g_byte_array_new();
    if (q1[1] == 'B' || q1[1] == 'b') {
        gint state = 0;
        guint save = 0;
        gsize n = (gsize) (q3 - (q2 + 1));
        guint8 *buf = g_malloc(n + 3);
        char *text = g_malloc(n + 4);           /* padded: "VEVTVA=" is "TEST" too */
        gsize got;
        memcpy(text, q2 + 1, n);
        while (n % 4 != 0 && n % 4 != 1)
            text[n++] = '=';
        got = g_base64_decode_step(text, n, buf, &state, &save);
        g_byte_array_append(bytes, buf, (guint) got);
        g_free(text);
        g_free(buf);
    } else if (q1[1] == 'Q' || q1[1] == 'q') {
        for (const char *p = q2 + 1; p < q3; p++) {
            guint8 c = (guint8) *p;
            if (c == '_') {
                c = ' ';
            } else if (c == '=' && p + 2 < q3 + 1 && g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2])) {
                c = (guint8) (g_ascii_xdigit_value(p[1]) * 16 + g_ascii_xdigit_value(p[2]));
                p += 2;
            }
            g_byte_array_append(bytes, &c, 1);
        }
    } else {
        g_byte_array_unref(bytes);
        g_free(*charset);
        *charset = NULL;
        return NULL;
    }
    *end = q3 + 2;
    return bytes;
}

/* word_text - octets of encoded words in charset as UTF-8. */
static void
word_text(const char *charset, const GByteArray *bytes, GString *out)
{
    char *u = japanese_to_utf8(charset, (const char *) bytes->data, bytes->len);

    if (u) {
        g_string_append(out, u);
        g_free(u);
        return;
    }
    /* other charsets by GMime's names for iconv (ks_c_5601-1987, latin1, ...) */
    charset = g_mime_charset_iconv_name(charset);
    if (g_ascii_strcasecmp(charset, "utf-8") == 0 || g_ascii_strcasecmp(charset, "us-ascii") == 0 ||
        !convert_lossy(charset, (const char *) bytes->data, bytes->len, out, TRUE)) {
        if (!g_ascii_strcasecmp(charset, "utf-8") || !g_ascii_strcasecmp(charset, "us-ascii") ||
            g_utf8_validate((const char *) bytes->data, (gssize) bytes->len, NULL)) {
            char *valid = g_utf8_make_valid((const char *) bytes->data, (gssize) bytes->len);
            g_string_append(out, valid);
            g_free(valid);
        } else if (!convert_lossy(charset, (const char *) bytes->data, bytes->len, out, FALSE)) {
            raw_text((const char *) bytes->data, bytes->len, out);
        }
    }
}

char *
japanese_header_decode(const char *raw)
{
    GString *out = g_string_new(NULL);
    GString *pending = NULL;               /* octets of adjacent words in one charset */
    char *pending_charset = NULL;
    const char *p = raw ? raw : "";

    while (*p) {
        const char *end = NULL;
        char *charset = NULL;
        GByteArray *bytes = encoded_word(p, &end, &charset);
        if (bytes) {
            /* adjacent words of one charset are joined before decoding: a
             * character may be split across two words */
            if (pending && g_ascii_strcasecmp(pending_charset, charset) != 0) {
                GByteArray view = { (guint8 *) pending->str, (guint) pending->len };
                word_text(pending_charset, &view, out);
                g_string_free(pending, TRUE);
                g_free(pending_charset);
                pending = NULL;
                pending_charset = NULL;
            }
            if (!pending) {
                pending = g_string_new(NULL);
                pending_charset = charset;
            } else {
                g_free(charset);
            }
            g_string_append_len(pending, (const char *) bytes->data, (gssize) bytes->len);
            g_byte_array_unref(bytes);
            p = end;
            /* white space between two encoded words is dropped */
            {
                const char *w = p;
                while (*w == ' ' || *w == '\t' || *w == '\r' || *w == '\n')
                    w++;
                if (w != p && w[0] == '=' && w[1] == '?') {
                    const char *e2 = NULL;
                    char *c2 = NULL;
                    GByteArray *b2 = encoded_word(w, &e2, &c2);
                    if (b2) {
                        p = w;
                        g_byte_array_unref(b2);
                        g_free(c2);
                    }
                }
            }
            continue;
        }
        if (pending) {
            GByteArray view = { (guint8 *) pending->str, (guint) pending->len };
            word_text(pending_charset, &view, out);
            g_string_free(pending, TRUE);
            g_free(pending_charset);
            pending = NULL;
            pending_charset = NULL;
        }
        {
            const char *q = p + 1;                  /* up to the next encoded word */
            while (*q && !(q[0] == '=' && q[1] == '?'))
                q++;
            raw_text(p, (gsize) (q - p), out);
            p = q;
        }
    }
    if (pending) {
        GByteArray view = { (guint8 *) pending->str, (guint) pending->len };
        word_text(pending_charset, &view, out);
        g_string_free(pending, TRUE);
        g_free(pending_charset);
    }
    /* an unfolded header: line breaks of the folding are gone */
    {
        GString *flat = g_string_sized_new(out->len);
        for (gsize i = 0; i < out->len; i++) {
            char c = out->str[i];
            if (c == '\r')
                continue;
            if (c == '\n') {
                if (i + 1 < out->len && (out->str[i + 1] == ' ' || out->str[i + 1] == '\t'))
                    continue;
                c = ' ';
            }
            g_string_append_c(flat, c);
        }
        g_string_free(out, TRUE);
        out = flat;
    }
    if (!g_utf8_validate(out->str, (gssize) out->len, NULL)) {
        char *valid = g_utf8_make_valid(out->str, (gssize) out->len);
        g_string_free(out, TRUE);
        return g_strstrip(valid);
    }
    return g_strstrip(g_string_free(out, FALSE));
}

/* to_jis - text in ISO-2022-JP (JIS X 0208 and ASCII only, ending in
 * ASCII); NULL when a character does not fit. */
static char *
to_jis(const char *text, gsize len, gsize *out_len)
{
    GError *err = NULL;
    char *r = g_convert(text, (gssize) len, "ISO-2022-JP", "UTF-8", NULL, out_len, &err);

    if (err) {
        g_error_free(err);
        return NULL;
    }
    for (gsize i = 0; i + 2 < *out_len; i++)    /* JIS X 0201 Roman is no JIS X 0208 */
        if (r[i] == 0x1b && r[i + 1] == '(' && r[i + 2] == 'J') {
            g_free(r);
            return NULL;
        }
    {
        /* what reads back differently (U+301C WAVE DASH comes back as
         * CP932's U+FF5E) is not written in ISO-2022-JP either */
        GString *back = g_string_new(NULL);
        gboolean same;
        jis_decode((const guint8 *) r, *out_len, back);
        same = back->len == len && memcmp(back->str, text, len) == 0;
        g_string_free(back, TRUE);
        if (!same) {
            g_free(r);
            return NULL;
        }
    }
    return r;
}

gboolean
japanese_fits_jis(const char *utf8)
{
    gsize n = 0;
    char *r = to_jis(utf8, strlen(utf8), &n);

    g_free(r);
    return r != NULL;
}

char *
japanese_header_encode(const char *utf8, gboolean jis, gsize name_len)
{
    const char *prefix = jis ? "=?ISO-2022-JP?B?" : "=?UTF-8?B?";
    gsize max_bytes = jis ? 42 : 45;         /* (75 - prefix - "?=") / 4 * 3 */
    GString *out = g_string_new(NULL);
    gsize col = name_len + 2;                /* "Subject: " */
    const char *p = utf8, *ascii_end = utf8, *rest = utf8, *s;
    gboolean all_ascii = TRUE, written = FALSE;

    if (jis && !japanese_fits_jis(utf8))
        jis = FALSE, prefix = "=?UTF-8?B?", max_bytes = 45;
    for (s = utf8; *s; s++)
        if ((guchar) *s >= 0x80 || *s == '\n' || *s == '\r')
            all_ascii = FALSE;
    /* a leading run of ASCII words stays readable as it is (the subject
     * tag, "Re:"), up to the space before the first word to encode: that
     * space separates it from the first encoded word */
    if (all_ascii) {
        ascii_end = rest = utf8 + strlen(utf8);
    } else {
        for (s = utf8; *s && (guchar) *s < 0x80 && *s != '\n' && *s != '\r'; s++)
            if (*s == ' ')
                ascii_end = s, rest = s + 1;
    }
    g_string_append_c(out, ' ');
    /* ASCII words, folded at white space */
    while (p < ascii_end) {
        const char *w = p;
        while (w < ascii_end && *w == ' ')
            w++;
        while (w < ascii_end && *w != ' ')
            w++;
        if (written && *p == ' ' && col + (gsize) (w - p) > 78) {
            g_string_append_c(out, '\n');   /* the word's space starts the next line */
            col = 0;
        }
        g_string_append_len(out, p, (gssize) (w - p));
        col += (gsize) (w - p);
        written = TRUE;
        p = w;
    }
    p = rest;
    /* the rest: encoded words, each of whole characters */
    while (*p) {
        const char *start = p, *end = p;
        char *enc = NULL, *b64;
        gsize enc_len = 0;
        while (*end) {
            const char *next = g_utf8_next_char(end);
            gsize n = 0;
            char *try = jis ? to_jis(start, (gsize) (next - start), &n) : g_strndup(start, (gsize) (next - start));
            if (!jis)
                n = (gsize) (next - start);
            if (!try || (n > max_bytes && end > start)) {
                g_free(try);
                break;
            }
            g_free(enc);
            enc = try;
            enc_len = n;
            end = next;
            if (n > max_bytes)          /* one character alone: cannot be split */
                break;
        }
        if (!enc) {                     /* cannot happen after japanese_fits_jis */
            end = g_utf8_next_char(start);
            enc = g_strndup(start, (gsize) (end - start));
            enc_len = (gsize) (end - start);
        }
        b64 = g_base64_encode((const guchar *) enc, enc_len);
        if (written) {
            if (col + 1 + strlen(prefix) + strlen(b64) + 2 > 78) {
                g_string_append_c(out, '\n');
                col = 0;
            }
            g_string_append_c(out, ' ');
            col++;
        }
        g_string_append_printf(out, "%s%s?=", prefix, b64);
        col += strlen(prefix) + strlen(b64) + 2;
        written = TRUE;
        g_free(b64);
        g_free(enc);
        p = end;
    }
    g_string_append_c(out, '\n');
    return g_string_free(out, FALSE);
}

char *
japanese_header_recode(const char *value)
{
    GString *out = g_string_new(NULL);
    const char *p = value ? value : "";

    while (*p) {
        const char *end = NULL;
        char *charset = NULL;
        GByteArray *bytes = (p[0] == '=' && p[1] == '?') ? encoded_word(p, &end, &charset) : NULL;

        if (!bytes) {
            g_string_append_c(out, *p++);
            continue;
        }
        if (family(charset) == JP_NONE) {
            g_string_append_len(out, p, (gssize) (end - p));
        } else {
            char *utf8, *b64;
            p = end;
            for (;;) {                  /* adjacent words: one character may span two */
                const char *w = p, *e2 = NULL;
                char *c2 = NULL;
                GByteArray *b2;
                while (*w == ' ' || *w == '\t' || *w == '\r' || *w == '\n')
                    w++;
                b2 = (w[0] == '=' && w[1] == '?') ? encoded_word(w, &e2, &c2) : NULL;
                if (!b2 || g_ascii_strcasecmp(c2, charset) != 0) {
                    if (b2)
                        g_byte_array_unref(b2);
                    g_free(c2);
                    break;
                }
                g_byte_array_append(bytes, b2->data, b2->len);
                g_byte_array_unref(b2);
                g_free(c2);
                p = e2;
            }
            utf8 = japanese_to_utf8(charset, (const char *) bytes->data, bytes->len);
            b64 = g_base64_encode((const guchar *) utf8, strlen(utf8));
            g_string_append_printf(out, "=?UTF-8?B?%s?=", b64);
            g_free(b64);
            g_free(utf8);
        }
        p = end > p ? end : p;
        g_byte_array_unref(bytes);
        g_free(charset);
    }
    return g_string_free(out, FALSE);
}
