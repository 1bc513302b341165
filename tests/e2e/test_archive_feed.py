#!/usr/bin/env python3
"""test_archive_feed.py - Archived-At (RFC 5064) and the Atom feed
(RFC 4287) of a public archive.

A post to a list with web_url set goes through the real relay to
smtp-sink: the copy a member gets and the archive file both carry
Archived-At: <web_url/list/LIST/archive/N>, and that URL, fetched over
HTTP from `kairan web`, is the page of that very post.  archived_at = no
leaves it out, so does an instance without web_url.  The feed
/list/LIST/feed.atom is parsed by Python's XML parser and by feedparser
(python3-feedparser): entries newest first, RFC 3339 dates, a Japanese
ISO-2022-JP Subject as proper UTF-8, authors by name without their
address, ids that stay the same, links that serve the post, a summary
from the text, control characters dropped; 403 for members/owners-only
archives, 404 for no such list; the archive page names the feed in its
<head>; the CGI front end serves the same feed."""
import email
import email.header
import email.policy
import re
import subprocess
import urllib.request
import xml.etree.ElementTree as ET

from kt import *

t = Tap()
ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

inst = Instance()
inst.newlist("team")
inst.subscribe("team", "member@example.org", "reader@example.org")
inst.config("team", "archive_access", "public")
inst.config("team", "description", "Team & friends <news>")
wport = free_port()
set_global(inst, "web_url", f"http://127.0.0.1:{wport}/")


def jis_subject(text):
    return email.header.Header(text, "iso-2022-jp").encode()


def jis_msg(subject, body, frm, msgid):
    raw = (f"From: {frm}\nTo: team@{DOMAIN}\nSubject: {jis_subject(subject)}\nMessage-ID: {msgid}\n"
           "Date: Tue, 24 Nov 2026 09:30:00 +0900\nMIME-Version: 1.0\n"
           "Content-Type: text/plain; charset=iso-2022-jp\nContent-Transfer-Encoding: 7bit\n\n").encode()
    return raw + body.encode("iso-2022-jp")


sink = Sink()
relay = web = None
try:
    relay = Relay(inst, conf={"routes": f"example.org=[127.0.0.1]:{sink.port}", "retry_min": "1", "retry_max": "2"})
    # post 1: plain ASCII, with a control character in the Subject's text
    r = inst.deliver("team", make_msg(subject="Kickoff meeting", frm="Alice Example <alice@example.org>",
                                      body="Agenda: budget, rooms\x01 and <dates> & times.\n", msgid="<p1@example.org>"),
                     sender="member@example.org")
    t.eq(r.returncode, 0, "post 1 accepted")
    # post 2: a Japanese ISO-2022-JP Subject and body
    r = inst.deliver("team", jis_msg("会議のお知らせ", "来週の会議は水曜日です。\n", f"{jis_subject('山田')} <yamada@example.org>",
                                     "<p2@example.org>"), sender="member@example.org")
    t.eq(r.returncode, 0, "post 2 (ISO-2022-JP) accepted")
    # post 3: no display name; the feed must not give the address out
    r = inst.deliver("team", make_msg(subject="Minutes", frm="carol@example.org", body="Minutes attached.\n",
                                      msgid="<p3@example.org>"), sender="member@example.org")
    t.eq(r.returncode, 0, "post 3 accepted")

    # --- Archived-At in the member's copy and in the archive file
    t.ok(sink.wait_recipients(6), "the relay delivered 3 posts to 2 members", sink.recipients())
    copies = {}
    for _, rcpts, raw in sink.transactions():
        m = email.message_from_bytes(raw, policy=email.policy.default)
        copies.setdefault(str(m.get("X-Mail-Count")).strip(), m)
    for n in (1, 2, 3):
        want = f"<http://127.0.0.1:{wport}/list/team/archive/{n}>"
        got = copies.get(str(n))
        t.eq(got and got.get_all("Archived-At"), [want], f"post {n}: the member's copy has Archived-At {want}")
        a = inst.archive("team", n)
        t.eq(a and a.get_all("Archived-At"), [want], f"post {n}: the archive file has the same Archived-At")

    # a forged Archived-At from the author is replaced, not kept
    r = inst.deliver("team", make_msg(subject="forged", extra="Archived-At: <http://evil.example/x>\n",
                                      msgid="<p4@example.org>"), sender="member@example.org")
    a = inst.archive("team", 4)
    t.eq(a and a.get_all("Archived-At"), [f"<http://127.0.0.1:{wport}/list/team/archive/4>"],
         "an Archived-At the author wrote is replaced by the list's own")

    web = WebServer(inst, port=wport)
    url = copies.get("2") and copies["2"]["Archived-At"].strip("<>")
    if url:
        with urllib.request.urlopen(url, timeout=30) as resp:
            page = resp.read().decode()
            t.ok(resp.status == 200 and "会議のお知らせ" in page and "来週の会議は水曜日です" in page,
                 "the Archived-At URL of post 2 serves post 2's page over HTTP", page[:2000])
    else:
        t.ok(False, "the Archived-At URL of post 2 serves post 2's page over HTTP")

    # --- the feed
    client = WebClient(inst, server=web)
    r = client.get("/list/team/feed.atom")
    t.eq(r.status, 200, "GET /list/team/feed.atom: 200")
    t.ok((r.header("Content-Type") or "").startswith("application/atom+xml"),
         "served as application/atom+xml", r.header("Content-Type"))
    root = None
    try:
        root = ET.fromstring(r.body)
    except ET.ParseError as e:
        t.ok(False, "the feed is well-formed XML (xml.etree)", f"{e}\n{r.text[:3000]}")
    if root is not None:
        t.ok(root.tag == ATOM + "feed", "well-formed XML with an Atom <feed> root", root.tag)
        entries = root.findall(ATOM + "entry")
        t.eq([e.find(ATOM + "link").get("href") for e in entries],
             [f"http://127.0.0.1:{wport}/list/team/archive/{n}" for n in (4, 3, 2, 1)],
             "one entry a post, newest first, each linking the post's page (the Archived-At URL)")
        titles = [e.findtext(ATOM + "title") for e in entries]
        t.eq(titles[2] if len(titles) > 2 else None, "[team:00002] 会議のお知らせ",
             "the ISO-2022-JP Subject is a proper UTF-8 title")
        t.eq(root.findtext(ATOM + "subtitle"), "Team & friends <news>", "the description, escaped, is the subtitle")
        dates = [e.findtext(ATOM + "updated") for e in entries] + [root.findtext(ATOM + "updated")]
        t.ok(all(d and RFC3339.match(d) for d in dates), "every date is RFC 3339", dates)
        t.eq(entries[2].findtext(ATOM + "updated") if len(entries) > 2 else None, "2026-11-24T00:30:00Z",
             "the date of post 2 (09:30 +0900) in UTC")
        authors = [e.findtext(f"{ATOM}author/{ATOM}name") for e in entries]
        t.eq(authors[1:], ["carol", "山田", "Alice Example"], "authors by name (the local part when the From has none)")
        t.ok("@example.org" not in r.text, "no address is given out in the public feed",
             [l for l in r.text.splitlines() if "@example.org" in l])
        summary = entries[3].findtext(ATOM + "summary") if len(entries) > 3 else ""
        t.ok("Agenda: budget, rooms and <dates> & times." in summary and "\x01" not in r.text,
             "the summary is the text (escaped; a control character dropped)", summary)
        ids = [e.findtext(ATOM + "id") for e in entries]
        t.ok(all(i and i.startswith(f"tag:{DOMAIN},") and i.endswith(f":team/{n}") for i, n in zip(ids, (4, 3, 2, 1))),
             "entry ids are tag: URIs naming the list and the post", ids)
        # feed readers poll: ETag and 304
        etag = r.header("ETag")
        t.ok(etag and etag.startswith('"') and r.header("Cache-Control") == "no-cache",
             "the feed has an ETag and Cache-Control: no-cache", (etag, r.header_all("Cache-Control")))
        r304 = client.get("/list/team/feed.atom", headers={"If-None-Match": etag or '"x"'})
        t.ok(r304.status == 304 and r304.body == b"", "If-None-Match with that ETag: 304, no body", r304.status)
        t.eq(client.get("/list/team/feed.atom", headers={"If-None-Match": '"other"'}).status, 200,
             "If-None-Match with another ETag: 200")
        # a new post: the old entries keep their ids, the feed size is feed_entries
        inst.config("team", "feed_entries", "3")
        inst.deliver("team", make_msg(subject="Fifth", msgid="<p5@example.org>"), sender="member@example.org")
        r2 = client.get("/list/team/feed.atom")
        root2 = ET.fromstring(r2.body)
        ids2 = [e.findtext(ATOM + "id") for e in root2.findall(ATOM + "entry")]
        t.eq(ids2[1:], ids[:2], "after a new post the entries keep their ids")
        t.eq(len(ids2), 3, "feed_entries = 3: three entries")
        t.ok(r2.header("ETag") != etag and client.get("/list/team/feed.atom", headers={"If-None-Match": etag}).status == 200,
             "after a new post the ETag changes and the old one gets the whole feed")
        inst.config("team", "feed_entries", "20")

    # feedparser is Debian's python3-feedparser: run by /usr/bin/python3
    FP = ("import feedparser, json, sys\n"
          "fp = feedparser.parse(sys.stdin.buffer.read())\n"
          "print(json.dumps({'bozo': bool(fp.bozo), 'exc': str(fp.get('bozo_exception')), 'version': fp.version,"
          " 'entries': [{'title': e.title, 'author': e.get('author'), 'link': e.link,"
          " 'updated': list(e.updated_parsed[:6])} for e in fp.entries]}))\n")
    if not os.path.exists("/usr/bin/python3") or subprocess.run(["/usr/bin/python3", "-c", "import feedparser"],
                                                                 capture_output=True).returncode != 0:
        t.skip("feedparser reads the feed", "python3-feedparser is not installed")
    else:
        import json
        out = subprocess.run(["/usr/bin/python3", "-c", FP], input=client.get("/list/team/feed.atom").body,
                             capture_output=True, timeout=60)
        fp = json.loads(out.stdout or b"{}")
        t.ok(fp.get("bozo") is False and fp.get("version") == "atom10", "feedparser reads a valid Atom 1.0 feed",
             (fp.get("bozo"), fp.get("exc"), fp.get("version"), out.stderr))
        e2 = [e for e in fp.get("entries", []) if e["link"].endswith("/archive/2")]
        t.ok(e2 and e2[0]["title"] == "[team:00002] 会議のお知らせ" and e2[0]["author"] == "山田"
             and e2[0]["updated"][:5] == [2026, 11, 24, 0, 30],
             "feedparser: the Japanese entry's title, author and date", e2)

    # the archive page names the feed in its head
    page = client.get("/list/team/archive").text
    head = page.split("</head>")[0]
    m = re.search(r'<link rel="alternate" type="application/atom\+xml"[^>]*href="([^"]+)"', head)
    t.ok(m and m.group(1) == "/list/team/feed.atom", "the archive page's <head> links the feed", head)
    t.ok('<a href="/list/team/feed.atom" type="application/atom+xml" class="feed">Atom feed</a>' in page,
         "the archive page shows a link to the feed")
    if m:
        t.eq(client.get(m.group(1)).status, 200, "the linked feed is served")

    # who may read it
    t.eq(client.get("/list/nosuch/feed.atom").status, 404, "no such list: 404")
    inst.newlist("inner")
    t.eq(client.get("/list/inner/feed.atom").status, 403, "a members-only archive: 403")
    inst.config("inner", "archive_access", "owners")
    t.eq(client.get("/list/inner/feed.atom").status, 403, "an owners-only archive: 403")
    inst.config("team", "feed_entries", "0")
    t.eq(client.get("/list/team/feed.atom").status, 404, "feed_entries = 0: no feed (404)")
    t.ok('type="application/atom+xml"' not in client.get("/list/team/archive").text,
         "feed_entries = 0: the archive page links no feed")
    inst.config("team", "feed_entries", "20")
    t.eq(client.post("/list/team/feed.atom", {"x": "1"}).status, 405, "POST to the feed: 405")
    t.eq(client.request("HEAD", "/list/team/feed.atom").status, 200, "HEAD of the feed: 200")

    # the CGI front end serves the same feed
    cgi = WebClient(inst, cgi=True)
    rc = cgi.get("/list/team/feed.atom", headers={"Host": "lists.example.test"})
    t.ok(rc.status == 200 and (rc.header("Content-Type") or "").startswith("application/atom+xml"),
         "the CGI serves the feed as application/atom+xml", (rc.status, rc.header("Content-Type")))
    try:
        croot = ET.fromstring(rc.body)
        t.eq(len(croot.findall(ATOM + "entry")), 5, "the CGI's feed is valid XML with every post")
    except ET.ParseError as e:
        t.ok(False, "the CGI's feed is valid XML with every post", e)
    t.eq(cgi.get("/list/inner/feed.atom").status, 403, "the CGI: 403 for an owners-only archive")

    # dmarc = wrap: the post goes out as an attachment; the outer mail has the header
    inst.config("team", "dmarc", "wrap")
    inst.deliver("team", make_msg(subject="wrapped", msgid="<p5w@example.org>"), sender="member@example.org")
    n = inst.archive_numbers("team")[-1]
    a = inst.archive("team", n)
    t.ok(a is not None and a.get_content_type() == "message/rfc822"
         and a.get_all("Archived-At") == [f"<http://127.0.0.1:{wport}/list/team/archive/{n}>"],
         "dmarc = wrap: the wrapping mail carries Archived-At", a and dict(a.items()))
    inst.config("team", "dmarc", "auto")
    # archived_at = no, and no web_url: no Archived-At
    inst.config("team", "archived_at", "no")
    inst.deliver("team", make_msg(subject="no header", msgid="<p6@example.org>"), sender="member@example.org")
    a = inst.archive("team", inst.archive_numbers("team")[-1])
    t.ok(a is not None and a.get("Archived-At") is None, "archived_at = no: no Archived-At")
    inst.config("team", "archived_at", "yes")
    set_global(inst, "web_url", "")
    inst.deliver("team", make_msg(subject="no web", msgid="<p7@example.org>"), sender="member@example.org")
    n = inst.archive_numbers("team")[-1]
    a = inst.archive("team", n)
    t.ok(a is not None and a.get("Archived-At") is None, "without web_url: no Archived-At")
    # without web_url the feed's links come from the Host of the request
    root3 = ET.fromstring(WebClient(inst, server=web).get("/list/team/feed.atom").body)
    t.eq(root3.find(ATOM + "entry").find(ATOM + "link").get("href"), f"http://127.0.0.1:{wport}/list/team/archive/{n}",
         "without web_url the links are built from the request's Host")

    # the corpus: a real ISO-2022-JP mail from a Japanese phone
    jp = os.path.join(CORPUS, "japanese", "jpmobile-docomo-jis.eml")
    if os.path.exists(jp):
        inst.deliver("team", open(jp, "rb").read(), sender="member@example.org")
        root4 = ET.fromstring(WebClient(inst, server=web).get("/list/team/feed.atom").body)
        t.eq(root4.find(ATOM + "entry").findtext(ATOM + "title"), f"[team:{n + 1:05d}] テスト",
             "corpus jpmobile-docomo-jis.eml: its ISO-2022-JP Subject is the UTF-8 title")
    else:
        t.skip("corpus ISO-2022-JP title", f"{jp} is absent")
finally:
    if web:
        web.stop()
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
