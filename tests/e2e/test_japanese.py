#!/usr/bin/env python3
"""test_japanese.py - Japanese mail without loss (issue #19): posts written
the way iPhone, Outlook, Thunderbird and the carriers write them (the
corpus's jpmobile mails, and mails made with Python's cp932,
iso2022_jp_2004 and iso2022_jp_ext codecs) keep every character in the
distributed Subject (decoded by Python's email package), in the body
(byte-exact, or with a footer added without loss), on the web page (and
in a headless Chromium screenshot in test-artifacts/web/), in web search,
the `search` command and an mget digest; a post without From: shows its
envelope sender in the archive index."""
import base64
import email
import email.header
import email.policy
import os
import re
import sqlite3
import subprocess
import urllib.parse

from kt import *

t = Tap()
JP = os.path.join(CORPUS, "japanese")


def sjis_to_jis(b):
    """Shift_JIS (CP932) bytes as ISO-2022-JP the way iPhone and Outlook
    write it: NEC row 13 and IBM extensions in ESC $ B, katakana in ESC ( I."""
    out, i, mode = bytearray(), 0, "a"
    while i < len(b):
        c = b[i]
        if c < 0x80:
            if mode != "a":
                out += b"\x1b(B"
                mode = "a"
            out.append(c)
            i += 1
        elif 0xA1 <= c <= 0xDF:
            if mode != "k":
                out += b"\x1b(I"
                mode = "k"
            out.append(c - 0x80)
            i += 1
        else:
            if mode != "j":
                out += b"\x1b$B"
                mode = "j"
            c1, c2 = c, b[i + 1]
            i += 2
            r = (c1 - 0x81) * 2 if c1 < 0xA0 else (c1 - 0xC1) * 2
            if c2 >= 0x9F:
                r, c2 = r + 2, c2 - 0x9F + 0x21
            else:
                r, c2 = r + 1, c2 - 0x40 + 0x21 - (1 if c2 >= 0x80 else 0)
            out += bytes([r + 0x20, c2])
    if mode != "a":
        out += b"\x1b(B"
    return bytes(out)


def jis_to_text(b):
    """The inverse, for checking bodies: CP50220 ISO-2022-JP to text."""
    out, i, mode = bytearray(), 0, "a"
    while i < len(b):
        if b[i] == 0x1B:
            seq = b[i:i + 3]
            mode = {b"\x1b$B": "j", b"\x1b$@": "j", b"\x1b(I": "k"}.get(seq, "a")
            i += 3
        elif mode == "j" and b[i] > 0x20:
            c1, c2 = b[i], b[i + 1]
            i += 2
            row = c1 - 0x20
            s1 = (row + 1) // 2 + (0x80 if row <= 62 else 0xC0)
            s2 = (c2 + (0x1F if c2 < 0x60 else 0x20)) if row & 1 else c2 + 0x7E
            out += bytes([s1, s2])
        elif mode == "k" and b[i] > 0x20:
            out.append(b[i] + 0x80)
            i += 1
        else:
            out.append(b[i])
            i += 1
    return out.decode("cp932")


def bword(charset, raw):
    return f"=?{charset}?B?{base64.b64encode(raw).decode()}?="


def post(subject_field, body, charset, mailer, frm="Member <member@example.org>", cte="7bit"):
    head = (f"From: {frm}\nTo: team@{DOMAIN}\nSubject: {subject_field}\nX-Mailer: {mailer}\n"
            f"Message-ID: <{os.urandom(6).hex()}@example.org>\nMIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}\n\n")
    return head.encode() + body


def split_body(raw):
    raw = raw.replace(b"\r\n", b"\n")
    return raw.split(b"\n\n", 1)[1]


def raw_subject(raw):
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii", "replace")
    m = re.search(r"^Subject:(.*(?:\n[ \t].*)*)", head, re.M)
    return "Subject:" + m.group(1) if m else None


inst = Instance()
inst.newlist("team", owner="owner@example.org")
inst.subscribe("team", "member@example.org", "reader@example.org")
inst.config("team", "post_policy", "anyone")
inst.config("team", "archive_access", "public")
inst.config("team", "subject_tag", "[team:%05d]")

cases = []       # (name, bytes, subject, body text or None, byte_exact)

# iPhone: corpus, ISO-2022-JP with NEC row 13 in the Subject and the body
iphone = os.path.join(JP, "jpmobile-iphone-circled-numbers-in-jis.eml")
if os.path.exists(iphone):
    cases.append(("iPhone (corpus)", open(iphone, "rb").read(), "テスト①", "丸数字のテストです②ⅱ", True))
# Outlook: ISO-2022-JP (CP50221) with NEC row 13, IBM extension, katakana
s = "テスト①ⅱ㈱ ｶﾀｶﾅ"
b = "本文②ⅱ㈱ ｶﾀｶﾅ (=ﾟωﾟ)ﾉ\n"
cases.append(("Outlook", post(bword("iso-2022-jp", sjis_to_jis(s.encode("cp932"))), sjis_to_jis(b.encode("cp932")),
                              "iso-2022-jp", "Microsoft Outlook 16.0"), s, b.strip(), True))
# Thunderbird: a long ISO-2022-JP Subject in several words, Q-encoded
# (as some readers send it), JIS X 0208 only: goes out as ISO-2022-JP B
s_tb = "来週の定例会議の議題について皆様のご意見をお聞かせください。資料は添付の通りです"
q = email.header.Header(s_tb, "iso-2022-jp").encode().replace("?b?", "?q?")
qwords = []
for w in re.findall(r"=\?iso-2022-jp\?q\?([^?]*)\?=", q):
    raw = base64.b64decode(w)
    qwords.append("=?ISO-2022-JP?Q?" + "".join(f"={c:02X}" if c < 0x21 or c > 0x7E or chr(c) in "=?_ " else chr(c)
                                                   for c in raw) + "?=")
cases.append(("Thunderbird (Q)", post("\n ".join(qwords), s_tb.encode("iso-2022-jp") + b"\n", "ISO-2022-JP",
                                      "Mozilla Thunderbird"), s_tb, s_tb, True))
# Windows / carrier Shift_JIS with CP932 extensions and a docomo emoji
s_sj = "髙橋①№㈱の件"
b_sj = "髙橋です①№㈱\n".encode("cp932") + b"\xf8\x9f\n"
cases.append(("Shift_JIS CP932", post(bword("shift_jis", s_sj.encode("cp932")), b_sj, "Shift_JIS", "Becky!",
                                      cte="8bit"), s_sj, "髙橋です①№㈱\n\ue63e", True))
# JIS X 0213 (iso2022_jp_2004) and JIS X 0212 (iso2022_jp_ext)
s_04 = "𠀋のテスト"
cases.append(("iso2022_jp_2004", post(bword("iso-2022-jp", s_04.encode("iso2022_jp_2004")),
                                      s_04.encode("iso2022_jp_2004") + b"\n", "iso-2022-jp", "test"), s_04, s_04, True))
s_ext = "丂とｶﾀｶﾅ"
cases.append(("iso2022_jp_ext", post(bword("iso-2022-jp", s_ext.encode("iso2022_jp_ext")),
                                     s_ext.encode("iso2022_jp_ext") + b"\n", "iso-2022-jp", "test"), s_ext, s_ext, True))
# the carriers, from the corpus: their Subjects decode without '?' or U+FFFD
for name in ("jpmobile-docomo-emoji.eml", "jpmobile-au-emoji.eml", "jpmobile-softbank-emoji.eml"):
    p = os.path.join(JP, name)
    if os.path.exists(p):
        cases.append((name, open(p, "rb").read(), None, None, True))

# a Japanese display name with NEC row 13 (Outlook) and one with CP932 (Shift_JIS)
name_jis = bword("iso-2022-jp", sjis_to_jis("高橋①".encode("cp932")))
cases.append(("From: name in ISO-2022-JP", post("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", b"hi\n", "us-ascii", "Outlook",
                                              frm=f"{name_jis} <takahashi@example.org>"), "テスト", None, True))
name_sj = bword("shift_jis", "髙橋㈱".encode("cp932"))
cases.append(("From: name in Shift_JIS", post("hi", b"hi\n", "us-ascii", "Becky!",
                                             frm=f"{name_sj} <taka2@example.org>"), "hi", None, True))

nums = {}
for name, raw, subject, body, exact in cases:
    r = inst.deliver("team", raw, sender="member@example.org")
    t.ok(r.returncode == 0, f"{name}: delivered", r.stderr)
    n = inst.archive_numbers("team")[-1]
    nums[name] = n
    stored = open(inst.path("spool", "team", "archive", str(n)), "rb").read()
    m = email.message_from_bytes(stored, policy=email.policy.default)
    got = str(m["Subject"])
    if subject is not None:
        t.eq(got, f"[team:{n:05d}] {subject}", f"{name}: distributed Subject decodes to every character")
    else:
        t.ok(got.startswith(f"[team:{n:05d}] 題名") and "?" not in got and "\ufffd" not in got
             and any(0xE000 <= ord(ch) <= 0xF8FF or ord(ch) >= 0x1F000 for ch in got),
             f"{name}: carrier emoji kept (no '?', no U+FFFD)", ascii(got))
    rs = raw_subject(stored)
    words = re.findall(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=", rs)
    t.ok((words or subject == "hi") and all(len(w) <= 75 for w in words) and all(len(l) <= 78 for l in rs.split("\n"))
         and all("?B?" in w for w in words), f"{name}: Subject in B words of <= 75 characters, lines <= 78", rs)
    if subject is not None and subject != "hi":
        jis = all(ch.isascii() or ch in s_tb or ch in "テスト" for ch in subject)   # fits JIS X 0208
        want = "iso-2022-jp" if name.startswith("Thunderbird") or name.endswith("ISO-2022-JP") else "utf-8"
        t.ok(all(w.lower().startswith(f"=?{want}?") for w in words),
             f"{name}: Subject charset is {want} (ISO-2022-JP only when all of it is JIS X 0208)", rs)
    if exact:
        t.ok(split_body(stored) == split_body(raw), f"{name}: body distributed byte for byte")

# the queued copy is the archived one
inst.clear_queue()

# footer on ISO-2022-JP and Shift_JIS bodies: nothing of the original lost
inst.config("team", "footer", "-- \n配信停止: {{list}} の案内")
inst.config("team", "duplicate_window", "0")     # the same posts again: not dropped as duplicates
r = inst.deliver("team", cases[1][1] if not os.path.exists(iphone) else cases[1][1], sender="member@example.org")
n_fj = inst.archive_numbers("team")[-1]
stored = open(inst.path("spool", "team", "archive", str(n_fj)), "rb").read()
m = email.message_from_bytes(stored, policy=email.policy.default)
part = m.get_body(preferencelist=("plain",))
cs = (part.get_content_charset() or "").lower()
payload = part.get_payload(decode=True)
text = jis_to_text(payload) if cs == "iso-2022-jp" else payload.decode(cs or "utf-8")
t.ok("本文②ⅱ㈱ ｶﾀｶﾅ (=ﾟωﾟ)ﾉ" in text and "配信停止: team の案内" in text,
     "footer on an ISO-2022-JP body: every character of the post and of the footer", (cs, text))
t.ok(cs == "iso-2022-jp" and payload.startswith(sjis_to_jis(b.encode("cp932"))),
     "footer on an ISO-2022-JP body: the post's bytes kept, the body stays ISO-2022-JP", cs)
sj = [c for c in cases if c[0] == "Shift_JIS CP932"][0]
r = inst.deliver("team", sj[1], sender="member@example.org")
n_fs = inst.archive_numbers("team")[-1]
m = email.message_from_bytes(open(inst.path("spool", "team", "archive", str(n_fs)), "rb").read(),
                             policy=email.policy.default)
part = m.get_body(preferencelist=("plain",))
cs = (part.get_content_charset() or "").lower()
payload = part.get_payload(decode=True)
text = payload.decode("cp932" if cs in ("shift_jis", "cp932") else cs)
t.ok("髙橋です①№㈱\n\ue63e" in text and "配信停止: team の案内" in text,
     "footer on a Shift_JIS body: CP932 characters and the emoji kept", (cs, ascii(text)))
inst.config("team", "footer", "")

# a post without From: the archive index names the envelope sender
nofrom = os.path.join(JP, "jpmobile-no-from.eml")
raw_nofrom = open(nofrom, "rb").read() if os.path.exists(nofrom) else \
    b"To: team@" + DOMAIN.encode() + b"\nSubject: no author\n\nhello\n"
inst.deliver("team", raw_nofrom, sender="nofrom-sender@example.net")
n_nf = inst.archive_numbers("team")[-1]
db = sqlite3.connect(inst.path("kairan.db"))
row = db.execute("SELECT from_addr FROM archive WHERE list='team' AND num=?", (n_nf,)).fetchone()
db.close()
t.eq(row and row[0], "nofrom-sender@example.net", "post without From: archived with the envelope sender as author")

# web: the page, the index, search, and a screenshot
port = free_port()
set_global(inst, "web_url", f"http://127.0.0.1:{port}")
server = WebServer(inst, port=port)
try:
    c = WebClient(inst, server)
    n_ol = nums["Outlook"]
    r = c.get(f"/list/team/archive/{n_ol}")
    t.ok(r.status == 200 and "テスト①ⅱ㈱ ｶﾀｶﾅ" in r.text and "本文②ⅱ㈱ ｶﾀｶﾅ (=ﾟωﾟ)ﾉ" in r.text
         and "\x1b" not in r.text and "\ufffd" not in r.text, "web: the Outlook post's Subject and body, every character")
    r = c.get(f"/list/team/archive/{nums['Shift_JIS CP932']}")
    t.ok(r.status == 200 and "髙橋①№㈱の件" in r.text and "髙橋です①№㈱" in r.text and "\ufffd" not in r.text,
         "web: the Shift_JIS post with CP932 characters")
    for name in ("iso2022_jp_2004", "iso2022_jp_ext"):
        r = c.get(f"/list/team/archive/{nums[name]}")
        want = [x for x in cases if x[0] == name][0][2]
        t.ok(r.status == 200 and r.text.count(want) >= 2 and "\x1b" not in r.text, f"web: the {name} post")
    if "iPhone (corpus)" in nums:
        r = c.get(f"/list/team/archive/{nums['iPhone (corpus)']}")
        t.ok("丸数字のテストです②ⅱ" in r.text, "web: the iPhone post's body")
    r = c.get(f"/list/team/archive/{nums['From: name in ISO-2022-JP']}")
    t.ok("高橋①" in r.text and "takahashi@example.org" in r.text, "web: a From: name in ISO-2022-JP with NEC row 13")
    r = c.get(f"/list/team/archive/{nums['From: name in Shift_JIS']}")
    t.ok("髙橋㈱" in r.text, "web: a From: name in Shift_JIS with CP932 characters")
    r = c.get("/list/team/archive")
    t.ok("高橋①" in r.text and "髙橋㈱" in r.text, "web: the archive index shows the Japanese author names")
    t.ok("テスト①ⅱ㈱ ｶﾀｶﾅ" in r.text and "髙橋①№㈱の件" in r.text and "nofrom-sender@example.net" in r.text,
         "web: the archive index shows the Subjects and the envelope sender of a post without From:")

    def hits(q):
        r = c.get("/list/team/archive/search?" + urllib.parse.urlencode({"q": q}))
        return [int(x) for x in re.findall(r'<span class="num">#(\d+)</span>', r.text)]
    t.ok(n_ol in hits("①"), "web search: ① finds the Outlook post", hits("①"))
    t.ok(n_ol in hits("ｶﾀｶﾅ"), "web search: ｶﾀｶﾅ finds the Outlook post", hits("ｶﾀｶﾅ"))
    t.ok(nums["Shift_JIS CP932"] in hits("髙橋"), "web search: 髙橋 finds the Shift_JIS post", hits("髙橋"))
    t.ok(n_ol in hits("②ⅱ㈱"), "web search: words of an ISO-2022-JP body", hits("②ⅱ㈱"))

    chromium = os.environ.get("KAIRAN_CHROMIUM", "/usr/bin/chromium")
    if os.path.exists(chromium):
        artifacts = os.path.join(os.environ.get("KAIRAN_BUILDDIR", SRCDIR), "test-artifacts", "web")
        os.makedirs(artifacts, exist_ok=True)
        shot = os.path.join(artifacts, "japanese-post.png")
        if os.path.exists(shot):
            os.unlink(shot)
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={inst.path('chromium')}", "--window-size=900,700",
                        f"--screenshot={shot}", f"{server.url}/list/team/archive/{n_ol}"],
                       capture_output=True, timeout=120)
        t.ok(os.path.exists(shot) and os.path.getsize(shot) > 5000, f"screenshot of the Outlook post in {shot}")
    else:
        t.skip("screenshot", f"{chromium} is missing")
finally:
    server.stop()


# the search command and an mget digest
def ctl(body, frm="member@example.org"):
    inst.clear_queue()
    inst.deliver("team", ctl_mail(body, "", frm), sender=frm, mode="--ctl")
    return inst.queue()


q = ctl("search ｶﾀｶﾅ")
txt = body_text(q[0]["msg"]) if q else ""
t.ok("テスト①ⅱ㈱ ｶﾀｶﾅ" in txt, "search command: ｶﾀｶﾅ finds the Outlook post, Subject shown whole", txt)
q = ctl("search ①")
txt = body_text(q[0]["msg"]) if q else ""
t.ok("テスト①ⅱ㈱ ｶﾀｶﾅ" in txt and "髙橋①№㈱の件" in txt, "search command: ① finds the posts", txt)
q = ctl(f"mget {nums['Outlook']},{nums['Shift_JIS CP932']} plain")
txt = "\n".join(body_text(x["msg"]) for x in q)
t.ok("テスト①ⅱ㈱ ｶﾀｶﾅ" in txt and "本文②ⅱ㈱ ｶﾀｶﾅ (=ﾟωﾟ)ﾉ" in txt and "髙橋です①№㈱" in txt and "\ufffd" not in txt,
     "mget plain digest: Subjects and bodies with every character", txt)
q = ctl(f"mget {nums['Outlook']}")
subs = [str(p.get_content()["Subject"]) for x in q for p in x["msg"].walk() if p.get_content_type() == "message/rfc822"]
t.ok(any("テスト①ⅱ㈱ ｶﾀｶﾅ" in s for s in subs), "mget MIME digest: the post's Subject", subs)
t.done()
